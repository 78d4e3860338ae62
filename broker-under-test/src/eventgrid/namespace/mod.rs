//! The namespace file: YAML mirroring the ARM resources of an Event Grid namespace, its
//! validation (errors name file, line and field) and the resolved in-memory model.
//!
//! Data flow of [`Namespace::parse`]: `file` reads the YAML into its raw shape, then each
//! section is checked and resolved in file order — `settings`, `ca_certificates` (trust
//! anchors), `clients` (registry and certificate schemes), `groups` (queries),
//! `topic_spaces` (templates) and last `bindings`, which refer to groups and spaces by name;
//! `jwt` then loads the JWT issuers' keys and turns Entra role assignments into bindings.
//! Every check reports through `error`'s located errors; `rules` holds the naming and count
//! rules the sections share.

mod bindings;
mod ca_certificates;
mod clients;
mod error;
mod file;
mod groups;
mod routing;
mod jwt;
mod rules;
mod settings;
mod topic_spaces;
mod webhook_authentication;

pub use bindings::{Permission, PermissionBinding, MAX_PERMISSION_BINDINGS};
pub use ca_certificates::MAX_CA_CERTIFICATES;
pub use clients::{Client, Scheme, MAX_ATTRIBUTES_BYTES};
pub use error::NamespaceError;
pub use routing::{attribute_name_ok, Enrichment, EnrichmentValue, RoutingSettings, MAX_ENRICHMENTS};
pub use groups::{ClientGroup, ALL_GROUP, MAX_CLIENT_GROUPS};
pub use jwt::{
    audience_matches, rbac_group, IssuerKey, JwtAuthentication, JwtIssuer, JwtMethod, DEFAULT_LEEWAY_SECS, ENTRA_AUDIENCE,
    MAX_ISSUER_CERTIFICATES, ROLE_PUBLISHER, ROLE_SUBSCRIBER,
};
pub use settings::{
    NameSource, Qos0Denied, RetainMode, Settings, SubscribeCoverage, V311PublishDenied, WillAuthorization,
    WillDelayOverMax, MAX_WILL_DELAY_SECS, RETAIN_PREVIEW_MAX_BYTES,
};
pub use topic_spaces::{TopicSpace, MAX_TEMPLATES_PER_SPACE, MAX_TOPIC_SPACES};
pub use webhook_authentication::{WebhookAuthentication, DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS};

use super::AttrValue;
use error::Ctx;
use rustls_pki_types::TrustAnchor;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A loaded, validated namespace.
#[derive(Clone, Debug)]
pub struct Namespace {
    pub(crate) name: String,
    pub(crate) settings: Settings,
    pub(crate) ca_names: Vec<String>,
    pub(crate) anchors: Vec<TrustAnchor<'static>>,
    pub(crate) clients: Vec<Client>,
    /// Lower-cased authentication name → index into `clients`.
    pub(crate) by_auth: HashMap<String, usize>,
    pub(crate) groups: Vec<ClientGroup>,
    pub(crate) spaces: Vec<TopicSpace>,
    pub(crate) bindings: Vec<PermissionBinding>,
    /// `lifecycleEvents:` (its file resolved against the namespace file's directory).
    pub(crate) lifecycle: super::lifecycle::LifecycleSettings,
    /// `routing:`: where published messages are routed as CloudEvents, if anywhere.
    pub(crate) routing: Option<RoutingSettings>,
    /// `customJwtAuthentication:` / `entraJwtAuthentication:` (keys loaded).
    pub(crate) jwt: JwtAuthentication,
    /// `webHookAuthentication:`, if the namespace authenticates clients through a webhook.
    pub(crate) webhook_authentication: Option<WebhookAuthentication>,
}

impl Namespace {
    /// Reads and validates a namespace file; relative paths inside resolve against its directory.
    pub fn load(path: &Path) -> Result<Namespace, NamespaceError> {
        let text = std::fs::read_to_string(path).map_err(|source| NamespaceError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates namespace YAML. `origin` names the file in messages, and its
    /// directory (`base_dir`) is the base for relative `file:` paths of CA certificates.
    pub fn parse(text: &str, origin: &str) -> Result<Namespace, NamespaceError> {
        let cx = Ctx { origin, text };
        let raw = file::read(text, origin)?;
        let base_dir = Path::new(origin).parent().unwrap_or(Path::new(""));
        check_namespace_name(&cx, &raw.name)?;
        let settings = settings::check_ranges(&cx, raw.settings)?;
        let (ca_names, anchors) = ca_certificates::load_anchors(&cx, &raw.ca_certificates, base_dir)?;
        let (clients, by_auth) = clients::register(&cx, raw.clients)?;
        let groups = groups::parse_groups(&cx, &raw.client_groups)?;
        let spaces = topic_spaces::parse_spaces(&cx, &raw.topic_spaces)?;
        let mut bindings = bindings::resolve_bindings(&cx, &raw.permission_bindings, &groups, &spaces)?;
        let load = |m, r: &Option<jwt::RawJwtAuth>| r.as_ref().map(|r| jwt::load_issuer(&cx, m, r, base_dir)).transpose();
        let jwt = JwtAuthentication {
            custom: load(JwtMethod::Custom, &raw.custom_jwt_authentication)?,
            entra: load(JwtMethod::Entra, &raw.entra_jwt_authentication)?,
        };
        if let Some(r) = &raw.entra_jwt_authentication {
            bindings.extend(jwt::role_bindings(&cx, r, &spaces)?);
        }
        let webhook_authentication = webhook_authentication::check(&cx, raw.web_hook_authentication, base_dir)?;
        let mut lifecycle = raw.lifecycle_events.unwrap_or_default();
        lifecycle.file = lifecycle.file.map(|f| base_dir.join(f));
        let routing = routing::check(&cx, raw.routing, base_dir)?;
        Ok(Namespace {
            lifecycle,
            routing,
            webhook_authentication,
            name: raw.name.value,
            settings,
            ca_names,
            anchors,
            clients,
            by_auth,
            groups,
            spaces,
            bindings,
            jwt,
        })
    }

    /// The JWT issuers (`customJwtAuthentication:` / `entraJwtAuthentication:`).
    pub fn jwt_authentication(&self) -> &JwtAuthentication {
        &self.jwt
    }

    /// The namespace's settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `lifecycleEvents:`: where client life-cycle events go (file relative paths already resolved).
    pub fn lifecycle_events(&self) -> &super::lifecycle::LifecycleSettings {
        &self.lifecycle
    }

    /// `routing:`: where published messages are routed as CloudEvents (`None` = not routed).
    pub fn routing(&self) -> Option<&RoutingSettings> {
        self.routing.as_ref()
    }

    /// `webHookAuthentication:`: the webhook that authenticates the CONNECTs the registry does not
    /// (routing: [`crate::eventgrid::webhook_authn::routes_to_webhook`]).
    pub fn webhook_authentication(&self) -> Option<&WebhookAuthentication> {
        self.webhook_authentication.as_ref()
    }

    /// The registered clients, in file order.
    pub fn clients(&self) -> &[Client] {
        &self.clients
    }

    /// The client whose authentication name equals `name` ignoring case.
    pub fn client_by_authentication_name(&self, name: &str) -> Option<&Client> {
        self.by_auth
            .get(&name.to_lowercase())
            .and_then(|&i| self.clients.get(i))
    }

    /// The client groups, in file order (without the built-in `$all`).
    pub fn client_groups(&self) -> &[ClientGroup] {
        &self.groups
    }

    /// The topic spaces, in file order.
    pub fn topic_spaces(&self) -> &[TopicSpace] {
        &self.spaces
    }

    /// The permission bindings, in file order.
    pub fn permission_bindings(&self) -> &[PermissionBinding] {
        &self.bindings
    }

    /// Names of the CA certificates, in file order.
    pub fn ca_certificate_names(&self) -> &[String] {
        &self.ca_names
    }

    /// Groups of a client with this authentication name and these attributes: every matching
    /// group in file order, then `$all`.
    pub fn groups_for(&self, authentication_name: &str, attributes: &BTreeMap<String, AttrValue>) -> Vec<String> {
        self.groups
            .iter()
            .filter(|g| g.query.matches(authentication_name, attributes))
            .map(|g| g.name.clone())
            .chain([ALL_GROUP.to_string()])
            .collect()
    }
}

/// The namespace's own name follows the resource-name rule, with a message that says whose name it is.
fn check_namespace_name(cx: &Ctx<'_>, name: &Spanned<String>) -> Result<(), NamespaceError> {
    if !rules::is_resource_name(&name.value) {
        return Err(cx.at(
            name,
            "name",
            format!(
                "namespace name {:?} must be 3-50 characters of A-Z, a-z, 0-9 and '-'",
                name.value
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clients::{attrs_json_len, normalize_thumbprint};
    use error::{key_on_line, strip_location};

    #[test]
    fn helpers() {
        assert_eq!(key_on_line("a: 1\n  - name: x\n", 2).as_deref(), Some("name"));
        assert_eq!(key_on_line("a: 1\n", 5), None);
        assert_eq!(key_on_line("a: 1\n", 0), None);
        assert_eq!(strip_location("bad thing at line 3, column 4"), "bad thing");
        assert_eq!(strip_location("at line"), "at line");
        let t = "AB:".repeat(31) + "AB";
        assert_eq!(normalize_thumbprint(&t), Some("ab".repeat(32)));
        assert_eq!(normalize_thumbprint("abc"), None);
        assert_eq!(normalize_thumbprint(&"zz".repeat(32)), None);
        let mut a = BTreeMap::new();
        a.insert("k".to_string(), AttrValue::List(vec!["x".into(), "y".into()]));
        assert_eq!(attrs_json_len(&a), r#"{"k":["x","y"]}"#.len());
    }

    #[test]
    fn empty_and_hostile_documents_are_errors_not_panics() {
        for text in [
            "",
            "~",
            "[]",
            "name: 5",
            "name: abc\nclients: 3",
            "{{{{",
            "name: abc\nclients:\n  - name: a\n    attributes: { k: [[1]] }",
        ] {
            assert!(Namespace::parse(text, "x.yaml").is_err(), "{text:?}");
        }
        let deep = format!("name: abc\ndescription: {}1{}\n", "[".repeat(5000), "]".repeat(5000));
        assert!(Namespace::parse(&deep, "x.yaml").is_err());
    }
}
