//! The namespace file: YAML mirroring the ARM resources of an Event Grid namespace, its
//! validation (errors name file, line and field) and the resolved in-memory model.

use super::query::Query;
use super::template::Template;
use super::AttrValue;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

/// When a client's Will is authorized (§8 #1, undocumented by Event Grid).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WillAuthorization {
    /// Check it as a PUBLISH by its owner when it fires; drop it silently if denied (default).
    #[default]
    AtFire,
    /// Check it at CONNECT; refuse with v5 CONNACK 0x87 / v3.1.1 0x05 if denied.
    AtConnect,
}

/// What happens to an unauthorized v5 QoS 0 PUBLISH (§8 #3, undocumented).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Qos0Denied {
    /// Drop it silently (default).
    #[default]
    Drop,
    /// Send DISCONNECT 0x87 and close.
    Disconnect,
}

/// What happens to an unauthorized v3.1.1 PUBLISH (§8 #2, undocumented).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum V311PublishDenied {
    /// Close the network connection (default; Event Grid's precedent for rejected 3.1.1 PUBLISHes).
    #[default]
    Close,
    /// Acknowledge normally and drop the message (the other choice [MQTT-3.3.5-2] allows).
    AckAndDrop,
}

/// Retained-message support (§8 #7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RetainMode {
    /// Pre-2025 service: a Will/PUBLISH with Retain=1 gets v5 CONNACK/DISCONNECT 0x9A, v3.1.1 close.
    Unsupported,
    /// 2025 preview (default, the current service): retain accepted, at most
    /// [`RETAIN_PREVIEW_MAX_BYTES`] per retained message.
    #[default]
    Preview,
}

/// Largest retained payload in [`RetainMode::Preview`] (the docs' "64 KB", read as KiB).
pub const RETAIN_PREVIEW_MAX_BYTES: usize = 64 * 1024;

/// Event Grid's documented Will Delay Interval maximum, in seconds.
pub const MAX_WILL_DELAY_SECS: u32 = 300;

/// What happens to a v5 Will Delay Interval above [`Settings::max_will_delay_secs`] (§8 #5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WillDelayOverMax {
    /// Lower it to the maximum, like the service adjusts session expiry (default).
    #[default]
    Clamp,
    /// Refuse the CONNECT (suggested: v5 CONNACK 0x83 Implementation specific error).
    Reject,
}

/// How a SUBSCRIBE filter is compared with a topic template (§8 #11, undocumented).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SubscribeCoverage {
    /// Allowed iff every topic the filter can match is matched by the template (default, safe).
    #[default]
    Subset,
    /// Allowed iff some topic is matched by both (permissive reading).
    Overlap,
}

/// A certificate field the authentication name may be taken from when CONNECT has no username
/// (`alternativeAuthenticationNameSources`, tried in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum NameSource {
    /// The subject's Common Name.
    ClientCertificateSubject,
    /// The first SAN dNSName.
    ClientCertificateDns,
    /// The first SAN URI.
    ClientCertificateUri,
    /// The first SAN iPAddress (textual form).
    ClientCertificateIp,
    /// The first SAN rfc822Name.
    ClientCertificateEmail,
}

impl fmt::Display for NameSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Namespace-wide settings: the documented namespace properties plus one switch per
/// undocumented behaviour (reference §8), each defaulting to the reference's proposal.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// `maximumSessionExpiryInHours` (1..=8, default 1): cap on v5 session expiry and the
    /// lifetime of v3.1.1 persistent sessions.
    #[serde(rename = "maximumSessionExpiryInHours")]
    pub max_session_expiry_hours: u32,
    /// `maximumClientSessionsPerAuthenticationName` (1..=100, default 1), online and offline.
    #[serde(rename = "maximumClientSessionsPerAuthenticationName")]
    pub max_client_sessions_per_authentication_name: u32,
    /// Ordered certificate fields that supply the authentication name when there is no username;
    /// empty (default) = a username is required.
    pub alternative_authentication_name_sources: Vec<NameSource>,
    /// §8 #1: when the Will is authorized.
    pub will_authorization: WillAuthorization,
    /// §8 #2: unauthorized v3.1.1 PUBLISH.
    pub v311_publish_denied: V311PublishDenied,
    /// §8 #3: unauthorized v5 QoS 0 PUBLISH.
    pub qos0_denied: Qos0Denied,
    /// §8 #7: retain support.
    pub retain: RetainMode,
    /// §8 #5: Will Delay Interval above the maximum.
    pub will_delay_over_max: WillDelayOverMax,
    /// The Will Delay maximum in seconds (default 300, the documented limit).
    pub max_will_delay_secs: u32,
    /// §8 #11: subscribe-filter coverage rule.
    pub subscribe_coverage: SubscribeCoverage,
    /// §8 #8: whether a WebSocket close frame counts as a graceful disconnect (no Will); default true.
    pub websocket_close_is_graceful: bool,
    /// §8 #13: SUP23 "no LWT" mode: a CONNECT with a Will gets v5 CONNACK 0x83 / v3.1.1 refusal.
    pub legacy_no_will: bool,
    /// Whether refusals tell the client the full reason (which registry facts made it fail:
    /// unknown name, disabled client, expected subject, thumbprint, groups, topic spaces). Default
    /// false: clients get a terse reason string per code and the details go to the broker log only,
    /// so unauthenticated callers learn nothing about the registry (issue 12).
    pub diagnostics: bool,
    /// Broker limit profile the lead maps to broker limits (e.g. `eventgrid`); `None` = broker defaults.
    pub profile: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_session_expiry_hours: 1,
            max_client_sessions_per_authentication_name: 1,
            alternative_authentication_name_sources: Vec::new(),
            will_authorization: WillAuthorization::AtFire,
            v311_publish_denied: V311PublishDenied::Close,
            qos0_denied: Qos0Denied::Drop,
            retain: RetainMode::Preview,
            will_delay_over_max: WillDelayOverMax::Clamp,
            max_will_delay_secs: MAX_WILL_DELAY_SECS,
            subscribe_coverage: SubscribeCoverage::Subset,
            websocket_close_is_graceful: true,
            legacy_no_will: false,
            diagnostics: false,
            profile: None,
        }
    }
}

/// A namespace file that could not be loaded; Display names file, line and field.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// The file could not be read.
    #[error("{path}: cannot read namespace file: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not fit the schema (unknown key, bad enum value, wrong type).
    #[error("{origin}:{line}:{column}: {field}: {message}")]
    Yaml {
        /// The file (or origin label).
        origin: String,
        /// 1-based line (0 if unknown).
        line: u32,
        /// 1-based column (0 if unknown).
        column: u32,
        /// The YAML key the problem is at, as best known (`?` if unknown).
        field: String,
        /// The parser's message.
        message: String,
    },
    /// The YAML fits the schema but breaks a rule (names, limits, references, query/template syntax).
    #[error("{origin}:{line}: {field}: {message}")]
    Invalid {
        /// The file (or origin label).
        origin: String,
        /// 1-based line of the offending field (0 if unknown).
        line: u32,
        /// Dotted path of the field, e.g. `clientGroups[1].query`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Most client groups per namespace, not counting `$all` (reference tag LIM).
pub const MAX_CLIENT_GROUPS: usize = 10;
/// Most topic spaces per namespace (reference tag LIM).
pub const MAX_TOPIC_SPACES: usize = 10;
/// Most templates per topic space (reference tag LIM).
pub const MAX_TEMPLATES_PER_SPACE: usize = 10;
/// Most permission bindings per namespace (reference tag LIM).
pub const MAX_PERMISSION_BINDINGS: usize = 100;
/// Most CA certificates per namespace (reference tag LIM).
pub const MAX_CA_CERTIFICATES: usize = 10;
/// Attributes must be smaller than this, measured as compact JSON (reference tag CLI).
pub const MAX_ATTRIBUTES_BYTES: usize = 4096;
/// The built-in group every client is in.
pub const ALL_GROUP: &str = "$all";

/// What a permission binding grants; Publisher does not imply Subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Permission {
    /// PUBLISH (and the Will, checked as a PUBLISH by its owner).
    Publisher,
    /// SUBSCRIBE.
    Subscriber,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A client's certificate validation scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Subject CN must equal the authentication name; leaf must chain to a namespace CA.
    Subject,
    /// Some SAN dNSName must equal it; chain required.
    Dns,
    /// Some SAN URI must equal it; chain required.
    Uri,
    /// Some SAN iPAddress must equal it (compared as addresses); chain required.
    Ip,
    /// Some SAN rfc822Name must equal it; chain required.
    Email,
    /// SHA-256 of the leaf DER must be one of these (lower-case hex); self-signed is fine.
    Thumbprint(Vec<String>),
}

impl Scheme {
    /// The ARM name of the scheme.
    pub fn arm_name(&self) -> &'static str {
        match self {
            Scheme::Subject => "SubjectMatchesAuthenticationName",
            Scheme::Dns => "DnsMatchesAuthenticationName",
            Scheme::Uri => "UriMatchesAuthenticationName",
            Scheme::Ip => "IpMatchesAuthenticationName",
            Scheme::Email => "EmailMatchesAuthenticationName",
            Scheme::Thumbprint(_) => "ThumbprintMatch",
        }
    }
}

/// A registered client resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Client {
    /// Resource name.
    pub name: String,
    /// Authentication name, registered case.
    pub authentication_name: String,
    /// `state: Enabled` (a disabled client cannot authenticate).
    pub enabled: bool,
    /// Attributes.
    pub attributes: BTreeMap<String, AttrValue>,
    /// Certificate validation scheme.
    pub scheme: Scheme,
}

/// A client group.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientGroup {
    /// Group name.
    pub name: String,
    /// Membership query.
    pub query: Query,
}

/// A topic space.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicSpace {
    /// Topic space name.
    pub name: String,
    /// Its templates.
    pub templates: Vec<Template>,
}

/// A permission binding: group × topic space × permission.
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionBinding {
    /// Binding name.
    pub name: String,
    /// Client group (`$all` allowed).
    pub client_group_name: String,
    /// Topic space.
    pub topic_space_name: String,
    /// What it grants.
    pub permission: Permission,
}

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
}

// ---- raw YAML shape (serde) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawNamespace {
    name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    settings: Option<Spanned<Settings>>,
    #[serde(default)]
    ca_certificates: Vec<RawCa>,
    #[serde(default)]
    clients: Vec<RawClient>,
    #[serde(default)]
    client_groups: Vec<RawGroup>,
    #[serde(default)]
    topic_spaces: Vec<RawSpace>,
    #[serde(default)]
    permission_bindings: Vec<RawBinding>,
    #[serde(default)]
    lifecycle_events: Option<super::lifecycle::LifecycleSettings>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCa {
    name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    encoded_certificate: Option<Spanned<String>>,
    #[serde(default)]
    file: Option<Spanned<String>>,
}

#[derive(Clone, Copy, Deserialize, PartialEq)]
enum RawState {
    Enabled,
    Disabled,
}

enum RawAttr {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<String>),
}

/// Hand-written so a bad value gets a clear message (an untagged enum only says "no variant").
impl<'de> Deserialize<'de> for RawAttr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawAttr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute value: a string, an integer, a boolean or an array of strings")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawAttr, E> {
                Ok(RawAttr::Bool(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawAttr, E> {
                Ok(RawAttr::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawAttr, E> {
                i64::try_from(v)
                    .map(RawAttr::Int)
                    .map_err(|_| E::custom(format!("integer {v} does not fit a long")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawAttr, E> {
                Ok(RawAttr::Str(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawAttr, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(RawAttr::List(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Copy, Deserialize, PartialEq)]
enum RawScheme {
    SubjectMatchesAuthenticationName,
    DnsMatchesAuthenticationName,
    UriMatchesAuthenticationName,
    IpMatchesAuthenticationName,
    EmailMatchesAuthenticationName,
    ThumbprintMatch,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCertAuth {
    validation_scheme: RawScheme,
    #[serde(default)]
    allowed_thumbprints: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawClient {
    name: Spanned<String>,
    #[serde(default)]
    authentication_name: Option<Spanned<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    state: Option<RawState>,
    #[serde(default)]
    attributes: Option<Spanned<BTreeMap<String, RawAttr>>>,
    #[serde(default)]
    client_certificate_authentication: Option<Spanned<RawCertAuth>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawGroup {
    name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    query: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSpace {
    name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    topic_templates: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawBinding {
    name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    client_group_name: Spanned<String>,
    topic_space_name: Spanned<String>,
    permission: Permission,
}

/// Collects the origin and text so every check can build a located error.
struct Ctx<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn invalid(&self, line: u64, field: impl Into<String>, message: impl Into<String>) -> NamespaceError {
        NamespaceError::Invalid {
            origin: self.origin.to_string(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            field: field.into(),
            message: message.into(),
        }
    }

    fn at<T>(&self, s: &Spanned<T>, field: impl Into<String>, message: impl Into<String>) -> NamespaceError {
        self.invalid(s.referenced.line(), field, message)
    }

    /// Line of `key:` at or after `from_line` (1-based), for fields without a span of their own
    /// (settings values are plain serde fields): a textual scan, 0 if not found.
    fn key_line(&self, key: &str, from_line: u64) -> u64 {
        let from = usize::try_from(from_line.max(1)).unwrap_or(1);
        let needle = format!("{key}:");
        self.text
            .lines()
            .enumerate()
            .skip(from - 1)
            .find(|(_, l)| l.contains(&needle))
            .map(|(i, _)| i as u64 + 1)
            .unwrap_or(from_line)
    }
}

/// Drops serde-saphyr's trailing " at line L, column C" (the error already starts with it).
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(", column ") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

/// The YAML key written on `line` (1-based) of `text`, if that line looks like `key: …` / `- key: …`.
fn key_on_line(text: &str, line: u64) -> Option<String> {
    let idx = usize::try_from(line).ok()?.checked_sub(1)?;
    let l = text.lines().nth(idx)?.trim_start();
    let l = l.strip_prefix("- ").unwrap_or(l).trim_start();
    let (key, _) = l.split_once(':')?;
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$'))
    .then(|| key.to_string())
}

fn is_resource_name(s: &str) -> bool {
    (3..=50).contains(&s.chars().count()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_client_name(s: &str) -> bool {
    (1..=128).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '_'))
}

fn json_len(s: &str) -> usize {
    // Quotes plus the string; escapes are rare in attribute values and only make it longer.
    s.len() + 2 + s.chars().filter(|c| matches!(c, '"' | '\\') || c.is_control()).count()
}

fn attrs_json_len(attrs: &BTreeMap<String, AttrValue>) -> usize {
    let mut n = 2 + attrs.len().saturating_sub(1);
    for (k, v) in attrs {
        n += json_len(k) + 1;
        n += match v {
            AttrValue::Str(s) => json_len(s),
            AttrValue::Int(i) => i.to_string().len(),
            AttrValue::Bool(b) => b.to_string().len(),
            AttrValue::List(l) => 2 + l.len().saturating_sub(1) + l.iter().map(|s| json_len(s)).sum::<usize>(),
        };
    }
    n
}

/// Normalizes a thumbprint to lower-case hex without `:` separators; `None` if not SHA-256 hex.
pub(crate) fn normalize_thumbprint(t: &str) -> Option<String> {
    let hex: String = t.chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
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
        let raw: RawNamespace = serde_saphyr::from_str(text).map_err(|e| {
            let inner = e.without_snippet();
            let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
            NamespaceError::Yaml {
                origin: origin.to_string(),
                line: u32::try_from(line).unwrap_or(u32::MAX),
                column: u32::try_from(column).unwrap_or(u32::MAX),
                field: key_on_line(text, line).unwrap_or_else(|| "?".into()),
                message: strip_location(&inner.to_string()),
            }
        })?;
        let base_dir = Path::new(origin).parent().unwrap_or(Path::new(""));

        if !is_resource_name(&raw.name.value) {
            return Err(cx.at(
                &raw.name,
                "name",
                format!(
                    "namespace name {:?} must be 3-50 characters of A-Z, a-z, 0-9 and '-'",
                    raw.name.value
                ),
            ));
        }

        // Settings: serde already rejected unknown keys and bad enum values (with location);
        // ranges are checked here, the line found by scanning for the key below `settings:`.
        let (settings, settings_line) = match raw.settings {
            Some(s) => {
                let line = s.referenced.line();
                (s.value, line)
            }
            None => (Settings::default(), 0),
        };
        if !(1..=8).contains(&settings.max_session_expiry_hours) {
            let key = "maximumSessionExpiryInHours";
            return Err(cx.invalid(
                cx.key_line(key, settings_line),
                format!("settings.{key}"),
                format!("must be 1..=8 (got {})", settings.max_session_expiry_hours),
            ));
        }
        if !(1..=100).contains(&settings.max_client_sessions_per_authentication_name) {
            let key = "maximumClientSessionsPerAuthenticationName";
            return Err(cx.invalid(
                cx.key_line(key, settings_line),
                format!("settings.{key}"),
                format!(
                    "must be 1..=100 (got {})",
                    settings.max_client_sessions_per_authentication_name
                ),
            ));
        }
        let srcs = &settings.alternative_authentication_name_sources;
        for (i, s) in srcs.iter().enumerate() {
            if srcs[..i].contains(s) {
                let key = "alternativeAuthenticationNameSources";
                return Err(cx.invalid(
                    cx.key_line(key, settings_line),
                    format!("settings.{key}"),
                    format!("{s} is listed twice"),
                ));
            }
        }

        // CA certificates.
        if raw.ca_certificates.len() > MAX_CA_CERTIFICATES {
            return Err(cx.at(
                &raw.ca_certificates[MAX_CA_CERTIFICATES].name,
                "caCertificates",
                format!("at most {MAX_CA_CERTIFICATES} CA certificates per namespace"),
            ));
        }
        let mut ca_names: Vec<String> = Vec::new();
        let mut anchors = Vec::new();
        for (i, ca) in raw.ca_certificates.iter().enumerate() {
            let f = format!("caCertificates[{i}]");
            if !is_resource_name(&ca.name.value) {
                return Err(cx.at(
                    &ca.name,
                    format!("{f}.name"),
                    format!("{:?} must be 3-50 characters of A-Z, a-z, 0-9 and '-'", ca.name.value),
                ));
            }
            if ca_names.iter().any(|n| n.eq_ignore_ascii_case(&ca.name.value)) {
                return Err(cx.at(
                    &ca.name,
                    format!("{f}.name"),
                    format!("duplicate CA certificate name {:?}", ca.name.value),
                ));
            }
            let (pem, line, field) = match (&ca.encoded_certificate, &ca.file) {
                (Some(p), None) => (p.value.clone(), p.referenced.line(), format!("{f}.encodedCertificate")),
                (None, Some(file)) => {
                    let path = base_dir.join(&file.value);
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        cx.at(
                            file,
                            format!("{f}.file"),
                            format!("cannot read {}: {e}", path.display()),
                        )
                    })?;
                    (text, file.referenced.line(), format!("{f}.file"))
                }
                _ => return Err(cx.at(&ca.name, f, "exactly one of encodedCertificate or file is required")),
            };
            let der = CertificateDer::pem_slice_iter(pem.as_bytes())
                .next()
                .ok_or_else(|| cx.invalid(line, &field, "no PEM CERTIFICATE block found"))?
                .map_err(|e| cx.invalid(line, &field, format!("bad PEM: {e}")))?;
            let anchor = webpki::anchor_from_trusted_cert(&der)
                .map_err(|e| cx.invalid(line, &field, format!("not a usable X.509 CA certificate: {e}")))?
                .to_owned();
            anchors.push(anchor);
            ca_names.push(ca.name.value.clone());
        }

        // Clients.
        let mut clients: Vec<Client> = Vec::new();
        let mut by_auth: HashMap<String, usize> = HashMap::new();
        for (i, c) in raw.clients.into_iter().enumerate() {
            let f = format!("clients[{i}]");
            if !is_client_name(&c.name.value) {
                return Err(cx.at(
                    &c.name,
                    format!("{f}.name"),
                    format!(
                        "client name {:?} must be 1-128 characters of A-Z, a-z, 0-9, '-', ':', '.' and '_'",
                        c.name.value
                    ),
                ));
            }
            if clients.iter().any(|o| o.name == c.name.value) {
                return Err(cx.at(
                    &c.name,
                    format!("{f}.name"),
                    format!("duplicate client name {:?}", c.name.value),
                ));
            }
            let auth = c.authentication_name.as_ref().unwrap_or(&c.name);
            if !(1..=128).contains(&auth.value.chars().count()) {
                return Err(cx.at(auth, format!("{f}.authenticationName"), "must be 1-128 characters"));
            }
            let key = auth.value.to_lowercase();
            if let Some(&other) = by_auth.get(&key) {
                return Err(cx.at(
                    auth,
                    format!("{f}.authenticationName"),
                    format!(
                        "authentication name {:?} is already used by client {:?} (names are unique ignoring case)",
                        auth.value, clients[other].name
                    ),
                ));
            }
            let mut attributes = BTreeMap::new();
            if let Some(a) = &c.attributes {
                for (k, v) in &a.value {
                    if k.is_empty() || !k.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                        return Err(cx.at(
                            a,
                            format!("{f}.attributes.{k}"),
                            format!("attribute key {k:?} must use only A-Z, a-z, 0-9 and '_'"),
                        ));
                    }
                    let v = match v {
                        RawAttr::Bool(b) => AttrValue::Bool(*b),
                        RawAttr::Int(n) => AttrValue::Int(*n),
                        RawAttr::Str(s) => AttrValue::Str(s.clone()),
                        RawAttr::List(l) => AttrValue::List(l.clone()),
                    };
                    attributes.insert(k.clone(), v);
                }
                let n = attrs_json_len(&attributes);
                if n >= MAX_ATTRIBUTES_BYTES {
                    return Err(cx.at(
                        a,
                        format!("{f}.attributes"),
                        format!("attributes are {n} bytes as JSON; they must be under {MAX_ATTRIBUTES_BYTES}"),
                    ));
                }
            }
            let scheme = match &c.client_certificate_authentication {
                None => Scheme::Subject,
                Some(cca) => {
                    let thumbs = &cca.value.allowed_thumbprints;
                    let tf = format!("{f}.clientCertificateAuthentication.allowedThumbprints");
                    match (cca.value.validation_scheme, thumbs) {
                        (RawScheme::ThumbprintMatch, None) => {
                            return Err(cx.at(cca, tf, "ThumbprintMatch requires 1 or 2 allowedThumbprints"))
                        }
                        (RawScheme::ThumbprintMatch, Some(t)) => {
                            if t.value.is_empty() || t.value.len() > 2 {
                                return Err(cx.at(
                                    t,
                                    tf,
                                    format!("ThumbprintMatch takes 1 or 2 thumbprints (got {})", t.value.len()),
                                ));
                            }
                            let mut v = Vec::new();
                            for raw in &t.value {
                                let n = normalize_thumbprint(raw).ok_or_else(|| {
                                    cx.at(t, &tf, format!("{raw:?} is not a SHA-256 thumbprint (64 hex digits)"))
                                })?;
                                v.push(n);
                            }
                            Scheme::Thumbprint(v)
                        }
                        (other, Some(t)) => {
                            let name = match other {
                                RawScheme::SubjectMatchesAuthenticationName => "SubjectMatchesAuthenticationName",
                                RawScheme::DnsMatchesAuthenticationName => "DnsMatchesAuthenticationName",
                                RawScheme::UriMatchesAuthenticationName => "UriMatchesAuthenticationName",
                                RawScheme::IpMatchesAuthenticationName => "IpMatchesAuthenticationName",
                                _ => "EmailMatchesAuthenticationName",
                            };
                            return Err(cx.at(
                                t,
                                tf,
                                format!("allowedThumbprints is only allowed with ThumbprintMatch, not {name}"),
                            ));
                        }
                        (RawScheme::SubjectMatchesAuthenticationName, None) => Scheme::Subject,
                        (RawScheme::DnsMatchesAuthenticationName, None) => Scheme::Dns,
                        (RawScheme::UriMatchesAuthenticationName, None) => Scheme::Uri,
                        (RawScheme::IpMatchesAuthenticationName, None) => {
                            if auth.value.parse::<std::net::IpAddr>().is_err() {
                                return Err(cx.at(auth, format!("{f}.authenticationName"), format!("IpMatchesAuthenticationName needs an IP address as authentication name, not {:?}", auth.value)));
                            }
                            Scheme::Ip
                        }
                        (RawScheme::EmailMatchesAuthenticationName, None) => Scheme::Email,
                    }
                }
            };
            by_auth.insert(key, clients.len());
            clients.push(Client {
                name: c.name.value.clone(),
                authentication_name: auth.value.clone(),
                enabled: c.state != Some(RawState::Disabled),
                attributes,
                scheme,
            });
        }

        // Client groups.
        if raw.client_groups.len() > MAX_CLIENT_GROUPS {
            return Err(cx.at(
                &raw.client_groups[MAX_CLIENT_GROUPS].name,
                "clientGroups",
                format!("at most {MAX_CLIENT_GROUPS} client groups per namespace (plus the built-in $all)"),
            ));
        }
        let mut groups: Vec<ClientGroup> = Vec::new();
        for (i, g) in raw.client_groups.iter().enumerate() {
            let f = format!("clientGroups[{i}]");
            if g.name.value.eq_ignore_ascii_case(ALL_GROUP) {
                return Err(cx.at(&g.name, format!("{f}.name"), "$all is built in and cannot be defined"));
            }
            if !is_resource_name(&g.name.value) {
                return Err(cx.at(
                    &g.name,
                    format!("{f}.name"),
                    format!("{:?} must be 3-50 characters of A-Z, a-z, 0-9 and '-'", g.name.value),
                ));
            }
            if groups.iter().any(|o| o.name.eq_ignore_ascii_case(&g.name.value)) {
                return Err(cx.at(
                    &g.name,
                    format!("{f}.name"),
                    format!("duplicate client group name {:?}", g.name.value),
                ));
            }
            let query =
                Query::parse(&g.query.value).map_err(|e| cx.at(&g.query, format!("{f}.query"), e.to_string()))?;
            groups.push(ClientGroup {
                name: g.name.value.clone(),
                query,
            });
        }

        // Topic spaces.
        if raw.topic_spaces.len() > MAX_TOPIC_SPACES {
            return Err(cx.at(
                &raw.topic_spaces[MAX_TOPIC_SPACES].name,
                "topicSpaces",
                format!("at most {MAX_TOPIC_SPACES} topic spaces per namespace"),
            ));
        }
        let mut spaces: Vec<TopicSpace> = Vec::new();
        for (i, s) in raw.topic_spaces.iter().enumerate() {
            let f = format!("topicSpaces[{i}]");
            if !is_resource_name(&s.name.value) {
                return Err(cx.at(
                    &s.name,
                    format!("{f}.name"),
                    format!("{:?} must be 3-50 characters of A-Z, a-z, 0-9 and '-'", s.name.value),
                ));
            }
            if spaces.iter().any(|o| o.name.eq_ignore_ascii_case(&s.name.value)) {
                return Err(cx.at(
                    &s.name,
                    format!("{f}.name"),
                    format!("duplicate topic space name {:?}", s.name.value),
                ));
            }
            let tt = &s.topic_templates;
            if tt.value.is_empty() || tt.value.len() > MAX_TEMPLATES_PER_SPACE {
                return Err(cx.at(
                    tt,
                    format!("{f}.topicTemplates"),
                    format!(
                        "a topic space has 1..={MAX_TEMPLATES_PER_SPACE} templates (got {})",
                        tt.value.len()
                    ),
                ));
            }
            let mut templates = Vec::new();
            for (j, t) in tt.value.iter().enumerate() {
                let tpl = Template::parse(&t.value)
                    .map_err(|e| cx.at(t, format!("{f}.topicTemplates[{j}]"), format!("{:?}: {e}", t.value)))?;
                templates.push(tpl);
            }
            spaces.push(TopicSpace {
                name: s.name.value.clone(),
                templates,
            });
        }

        // Permission bindings.
        if raw.permission_bindings.len() > MAX_PERMISSION_BINDINGS {
            return Err(cx.at(
                &raw.permission_bindings[MAX_PERMISSION_BINDINGS].name,
                "permissionBindings",
                format!("at most {MAX_PERMISSION_BINDINGS} permission bindings per namespace"),
            ));
        }
        let mut bindings: Vec<PermissionBinding> = Vec::new();
        for (i, b) in raw.permission_bindings.iter().enumerate() {
            let f = format!("permissionBindings[{i}]");
            if !is_resource_name(&b.name.value) {
                return Err(cx.at(
                    &b.name,
                    format!("{f}.name"),
                    format!("{:?} must be 3-50 characters of A-Z, a-z, 0-9 and '-'", b.name.value),
                ));
            }
            if bindings.iter().any(|o| o.name.eq_ignore_ascii_case(&b.name.value)) {
                return Err(cx.at(
                    &b.name,
                    format!("{f}.name"),
                    format!("duplicate permission binding name {:?}", b.name.value),
                ));
            }
            let g = &b.client_group_name.value;
            if g != ALL_GROUP && !groups.iter().any(|x| &x.name == g) {
                let known: Vec<&str> = groups.iter().map(|x| x.name.as_str()).chain([ALL_GROUP]).collect();
                return Err(cx.at(
                    &b.client_group_name,
                    format!("{f}.clientGroupName"),
                    format!("unknown client group {g:?} (known: {})", known.join(", ")),
                ));
            }
            let s = &b.topic_space_name.value;
            if !spaces.iter().any(|x| &x.name == s) {
                let known: Vec<&str> = spaces.iter().map(|x| x.name.as_str()).collect();
                return Err(cx.at(
                    &b.topic_space_name,
                    format!("{f}.topicSpaceName"),
                    format!("unknown topic space {s:?} (known: {})", known.join(", ")),
                ));
            }
            bindings.push(PermissionBinding {
                name: b.name.value.clone(),
                client_group_name: g.clone(),
                topic_space_name: s.clone(),
                permission: b.permission,
            });
        }

        let mut lifecycle = raw.lifecycle_events.unwrap_or_default();
        lifecycle.file = lifecycle.file.map(|f| base_dir.join(f));
        Ok(Namespace {
            lifecycle,
            name: raw.name.value,
            settings,
            ca_names,
            anchors,
            clients,
            by_auth,
            groups,
            spaces,
            bindings,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

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
