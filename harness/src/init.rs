//! `lwt-harness init eventgrid-lwt`: writes the Event Grid LWT walkthrough (Azure Messaging blog,
//! 2024-04-10: sensors publish wills on `clients/<name>/status`, actuators subscribe to
//! `clients/+/status`) as files: a CA, a localhost server certificate, one client certificate per
//! sensor and actuator, the namespace file with their real thumbprints, and a README saying how to
//! run it against the reference broker and against a real Event Grid namespace.
//!
//! The same folder is an *identities folder*: a client named X presents `clients/X.pem` with key
//! `clients/X.key`, uses username X, and trusts `ca.pem` ([`Identities`]); a client with a token
//! `jwt/X.jwt` connects with it (`CUSTOM-JWT`) instead. The JWT variant of the walkthrough: an
//! RS256 issuer (`jwt/issuer.key`, `.jwks.json`, `.pem`) in the namespace's
//! `customJwtAuthentication`, and tokens for [`JWT_CLIENTS`], whose `type` claim puts them in the
//! same groups as the certificate clients.

use crate::jwt::{TestIssuer, TokenSpec, JWT_DIR};
use crate::pki::{Authority, Issued, LeafSpec};
use crate::transport::{Identity, TlsClient};
use anyhow::Context;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The walkthrough's clients and their `type` attribute, in the blog's order.
pub const WALKTHROUGH_CLIENTS: [(&str, &str); 4] =
    [("sensor1", "sensor"), ("sensor2", "sensor"), ("actuator1", "actuator"), ("actuator2", "actuator")];

/// The walkthrough's token clients (`jwt/<name>.jwt`) and their `type` claim.
pub const JWT_CLIENTS: [(&str, &str); 2] = [("jwt-sensor1", "sensor"), ("jwt-actuator1", "actuator")];

/// The `iss` of the walkthrough's tokens (Event Grid's `tokenIssuer`).
pub const JWT_TOKEN_ISSUER: &str = "https://lwt-harness.test/issuer";

/// The `aud` of the walkthrough's tokens: the host name of namespace `ns1` in westus2, as in the
/// README's `az` commands (change both for another namespace).
pub const JWT_AUDIENCE: &str = "ns1.westus2-1.ts.eventgrid.azure.net";

/// The walkthrough's issuer: one RS256 key per process (2048-bit RSA takes about a second to
/// generate in a debug build, and every `@eventgrid` scenario writes a walkthrough).
fn walkthrough_issuer() -> anyhow::Result<TestIssuer> {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let pem = match KEY.get() {
        Some(k) => k.clone(),
        None => KEY.get_or_init(|| TestIssuer::generate("issuer", jsonwebtoken::Algorithm::RS256).map(|i| i.key_pem).unwrap_or_default()).clone(),
    };
    anyhow::ensure!(!pem.is_empty(), "cannot generate the walkthrough's RS256 issuer key");
    TestIssuer::from_key("issuer", jsonwebtoken::Algorithm::RS256, pem)
}

/// The topic space that lets every client publish and subscribe to its own liveness-probe topic
/// (`lwt-harness/probe/<authentication name>`). Not part of the blog's set-up: without it the
/// harness could not prove that an observer which saw no will was alive and reachable.
pub const PROBE_TOPIC_SPACE: &str = "harnessProbe";

/// What `init eventgrid-lwt` wrote.
#[derive(Debug)]
pub struct Walkthrough {
    /// The output folder.
    pub dir: PathBuf,
    /// The CA (`ca.pem`; its key `ca.key`).
    pub ca: Issued,
    /// The server certificate (`server.pem`, `server.key`) for localhost / 127.0.0.1 / ::1.
    pub server: Issued,
    /// Client certificates (`clients/<name>.pem`, `.key`) with their `type` attribute.
    pub clients: Vec<(Issued, &'static str)>,
    /// The namespace file's text (`namespace.yaml`).
    pub namespace_yaml: String,
    /// The JWT issuer (`jwt/issuer.*`) that signed the tokens of [`JWT_CLIENTS`].
    pub jwt_issuer: TestIssuer,
}

impl Walkthrough {
    /// The TLS settings and per-client certificates of this folder.
    pub fn identities(&self) -> Identities {
        Identities::new(&self.dir)
    }
    /// How the reference broker serves this folder: server certificate and key, no `--client-ca`
    /// (the namespace judges client certificates at CONNECT).
    pub fn server_tls(&self) -> lwt_broker::TlsOptions {
        lwt_broker::TlsOptions { cert_chain: self.dir.join("server.pem"), key: self.dir.join("server.key"), client_ca: None }
    }
}

/// Generates the walkthrough into `out` (created if needed; existing files are replaced).
/// Certificates are valid for `days`.
pub fn eventgrid_lwt(out: &Path, days: i64) -> anyhow::Result<Walkthrough> {
    std::fs::create_dir_all(out.join("clients")).with_context(|| format!("cannot create {}", out.display()))?;
    let ca = Authority::root("ca", "MqttAppSamplesCA (lwt-harness)", days)?;
    ca.cert.write_pair(out)?;
    let server = ca.issue_server("server", days)?;
    server.write_pair(out)?;
    let mut clients = Vec::new();
    for (name, kind) in WALKTHROUGH_CLIENTS {
        let mut leaf = LeafSpec::new(name);
        leaf.days = days;
        let c = ca.issue(&leaf)?;
        c.write_pair(&out.join("clients"))?;
        clients.push((c, kind));
    }
    let rows: Vec<(&str, &str, &str)> = clients.iter().map(|(c, k)| (c.name.as_str(), *k, c.thumbprint.as_str())).collect();
    let jwt_issuer = walkthrough_issuer()?;
    let jwt_dir = out.join(JWT_DIR);
    jwt_issuer.write(&jwt_dir)?;
    for (name, kind) in JWT_CLIENTS {
        let token = jwt_issuer.token(&TokenSpec::new(JWT_TOKEN_ISSUER, name, JWT_AUDIENCE, days * 86_400).claim("type", kind))?;
        std::fs::write(jwt_dir.join(format!("{name}.jwt")), token).with_context(|| format!("cannot write {name}.jwt"))?;
    }
    let namespace_yaml = walkthrough_namespace(&rows) + &jwt_section();
    let write = |file: &str, text: &str| {
        std::fs::write(out.join(file), text).with_context(|| format!("cannot write {}", out.join(file).display()))
    };
    write("namespace.yaml", &namespace_yaml)?;
    write("README.md", &readme(out, &rows))?;
    let mut csv = String::from("name,thumbprint\n");
    for (n, _, t) in &rows {
        let _ = writeln!(csv, "{n},{t}");
    }
    write("thumbprints.csv", &csv)?;
    Ok(Walkthrough { dir: out.to_path_buf(), ca: ca.cert, server, clients, namespace_yaml, jwt_issuer })
}

/// The walkthrough's namespace file for `(name, type, thumbprint)` clients: groups `sensors` /
/// `actuators` by the `type` attribute, topic spaces `lwtPub` / `lwtSub`, bindings `sensorsPub`
/// (Publisher) / `actuatorsSub` (Subscriber), plus the harness's probe topic space.
pub fn walkthrough_namespace(clients: &[(&str, &str, &str)]) -> String {
    let mut y = String::from(
        "# Event Grid namespace: the MQTT Last Will walkthrough (Azure Messaging blog, 2024-04-10).\n\
         # Written by `lwt-harness init eventgrid-lwt`; thumbprints are SHA-256 of clients/<name>.pem.\n\
         # Format: fixtures/namespaces/README.md. The az commands in README.md create the same resources.\n\
         name: ns1\n\
         clients:\n",
    );
    for (name, kind, thumb) in clients {
        let _ = write!(
            y,
            "  - name: {name}\n    authenticationName: {name}\n    state: Enabled\n    attributes:\n      type: {kind}\n    \
             clientCertificateAuthentication:\n      validationScheme: ThumbprintMatch\n      allowedThumbprints:\n        - \"{thumb}\"\n"
        );
    }
    y.push_str(
        "clientGroups:\n\
         \x20 - name: sensors\n    query: \"attributes.type = 'sensor'\"\n\
         \x20 - name: actuators\n    query: \"attributes.type = 'actuator'\"\n\
         topicSpaces:\n\
         \x20 - name: lwtPub\n    topicTemplates:\n      - \"clients/${client.authenticationName}/status\"\n\
         \x20 - name: lwtSub\n    topicTemplates:\n      - \"clients/+/status\"\n\
         \x20 # Not in the blog: each client's own liveness-probe topic, so the harness can prove that an\n\
         \x20 # observer which saw no will was alive (see lwt_harness::init::PROBE_TOPIC_SPACE).\n\
         \x20 - name: harnessProbe\n    topicTemplates:\n      - \"lwt-harness/probe/${client.authenticationName}\"\n\
         permissionBindings:\n\
         \x20 - name: sensorsPub\n    clientGroupName: sensors\n    topicSpaceName: lwtPub\n    permission: Publisher\n\
         \x20 - name: actuatorsSub\n    clientGroupName: actuators\n    topicSpaceName: lwtSub\n    permission: Subscriber\n\
         \x20 - name: probePub\n    clientGroupName: \"$all\"\n    topicSpaceName: harnessProbe\n    permission: Publisher\n\
         \x20 - name: probeSub\n    clientGroupName: \"$all\"\n    topicSpaceName: harnessProbe\n    permission: Subscriber\n",
    );
    y
}

/// The namespace's custom JWT issuer: the walkthrough's JWKS, its audience and a one-second leeway.
fn jwt_section() -> String {
    format!(
        "# JWT variant (not in the blog): clients with jwt/<name>.jwt connect with CUSTOM-JWT; their `type`\n\
         # claim becomes the attribute the groups above select on.\n\
         customJwtAuthentication:\n  tokenIssuer: \"{JWT_TOKEN_ISSUER}\"\n  audiences: [\"{JWT_AUDIENCE}\"]\n  leewaySeconds: 1\n  \
         issuerCertificates:\n    - file: {JWT_DIR}/issuer.jwks.json\n"
    )
}

fn readme(out: &Path, clients: &[(&str, &str, &str)]) -> String {
    let dir = out.display();
    let mut r = format!(
        "# Event Grid MQTT Last Will walkthrough\n\n\
         Written by `lwt-harness init eventgrid-lwt --out {dir}`: the set-up of the Azure Messaging blog post\n\
         \"Announcing MQTT Last Will and Testament Public Preview in Azure Event Grid\" (2024-04-10).\n\n\
         | file | what |\n|---|---|\n\
         | `ca.pem`, `ca.key` | test CA that signed every certificate here (keys are secrets: never commit them) |\n\
         | `server.pem`, `server.key` | server certificate for localhost, 127.0.0.1 and ::1 (reference broker only) |\n\
         | `clients/<name>.pem`, `.key` | client certificates of sensor1, sensor2, actuator1, actuator2 |\n\
         | `namespace.yaml` | the namespace: clients (ThumbprintMatch), groups, topic spaces, permission bindings |\n\
         | `thumbprints.csv` | SHA-256 thumbprints (what `step certificate fingerprint` prints) |\n\
         | `jwt/issuer.key`, `.jwks.json`, `.pem` | the JWT issuer: RS256 private key (secret), its JWKS (reference broker), a certificate over its public key (Azure) |\n\
         | `jwt/<name>.jwt` | `CUSTOM-JWT` tokens of jwt-sensor1 and jwt-actuator1 (`sub` = name, `type` claim) |\n\n\
         ## Against the reference broker\n\n\
         ```sh\n\
         cargo run -p lwt-harness -- check features/seed/eventgrid-lwt.feature --eventgrid {dir}\n\
         ```\n\n\
         or with the broker as its own process:\n\n\
         ```sh\n\
         lwt-broker --bind-tls 127.0.0.1:8883 --cert {dir}/server.pem --key {dir}/server.key \\\n\
         \x20   --namespace {dir}/namespace.yaml --profile eventgrid\n\
         lwt-harness check features/seed/eventgrid-lwt.feature --broker mqtts://127.0.0.1:8883 \\\n\
         \x20   --identities {dir} --profile fixtures/profiles/eventgrid.yaml\n\
         ```\n\n\
         ## Against a real Event Grid namespace\n\n\
         The commands mirror `namespace.yaml` (replace `rg1`, `ns1` and the region). Thumbprints are this\n\
         folder's; the `harnessProbe` topic space and its two bindings are not in the blog: they let the\n\
         harness prove that an actuator which saw no will was alive.\n\n\
         ```sh\n\
         az eventgrid namespace create -g rg1 -n ns1 --location westus2 --topic-spaces-configuration \"{{state:Enabled}}\"\n"
    );
    for (name, kind, thumb) in clients {
        let _ = writeln!(
            r,
            "az eventgrid namespace client create -g rg1 --namespace-name ns1 -n {name} --authentication-name {name} \
             --attributes \"{{'type':'{kind}'}}\" --client-certificate-authentication \"{{validationScheme:ThumbprintMatch,allowed-thumbprints:[{thumb}]}}\""
        );
    }
    r.push_str(
        "az eventgrid namespace client-group create -g rg1 --namespace-name ns1 -n sensors --group-query \"attributes.type='sensor'\"\n\
         az eventgrid namespace client-group create -g rg1 --namespace-name ns1 -n actuators --group-query \"attributes.type='actuator'\"\n\
         az eventgrid namespace topic-space create -g rg1 --namespace-name ns1 -n lwtPub --topic-templates 'clients/${client.authenticationName}/status'\n\
         az eventgrid namespace topic-space create -g rg1 --namespace-name ns1 -n lwtSub --topic-templates 'clients/+/status'\n\
         az eventgrid namespace topic-space create -g rg1 --namespace-name ns1 -n harnessProbe --topic-templates 'lwt-harness/probe/${client.authenticationName}'\n\
         az eventgrid namespace permission-binding create -g rg1 --namespace-name ns1 -n sensorsPub --client-group-name sensors --permission publisher --topic-space-name lwtPub\n\
         az eventgrid namespace permission-binding create -g rg1 --namespace-name ns1 -n actuatorsSub --client-group-name actuators --permission subscriber --topic-space-name lwtSub\n\
         az eventgrid namespace permission-binding create -g rg1 --namespace-name ns1 -n probePub --client-group-name '$all' --permission publisher --topic-space-name harnessProbe\n\
         az eventgrid namespace permission-binding create -g rg1 --namespace-name ns1 -n probeSub --client-group-name '$all' --permission subscriber --topic-space-name harnessProbe\n\
         ```\n\n\
         Then run the walkthrough against it (the namespace's server certificate chains to a public root):\n\n\
         ```sh\n",
    );
    let _ = write!(
        r,
        "lwt-harness check features/seed/eventgrid-lwt.feature \\\n\
         \x20   --broker mqtts://ns1.westus2-1.ts.eventgrid.azure.net:8883 --ca /etc/ssl/certs/ca-certificates.crt \\\n\
         \x20   --identities {dir} --profile fixtures/profiles/eventgrid.yaml\n\
         ```\n"
    );
    r.push_str(&readme_jwt(out));
    r
}

/// The README's part on the JWT clients and life-cycle events: how to run them here, and the `az`
/// commands for custom JWT authentication and a life-cycle event subscription.
fn readme_jwt(out: &Path) -> String {
    let dir = out.display();
    format!(
        "\n## The same with JWT clients and life-cycle events\n\n\
         `jwt-sensor1` and `jwt-actuator1` present the tokens in `jwt/` (MQTT 5 Authentication Method `CUSTOM-JWT`,\n\
         the token as Authentication Data) and no certificate; `features/eventgrid/jwt-authentication.feature` runs\n\
         the walkthrough with them (will on a reset, expired and foreign tokens refused, re-authentication with AUTH\n\
         0x19, the connection ended when its token expires) and checks the client life-cycle events, which the\n\
         reference broker writes to `lifecycle-events.jsonl` in the report folder:\n\n\
         ```sh\n\
         cargo run -p lwt-harness -- check features/eventgrid/jwt-authentication.feature features/eventgrid/lifecycle-events.feature --eventgrid {dir}\n\
         # new tokens (e.g. for another namespace's host name), signed by the same issuer:\n\
         lwt-harness pki --out {dir} --jwt-issuer issuer --jwt-tokens jwt-sensor1,jwt-actuator1 --jwt-audience ns1.westus2-1.ts.eventgrid.azure.net\n\
         ```\n\n\
         On Azure, the namespace reads the issuer's certificate from Key Vault with its managed identity (the\n\
         certificate must be imported with its key, as Key Vault requires), and life-cycle events reach you\n\
         through a system topic of the namespace:\n\n\
         ```sh\n\
         az eventgrid namespace update -g rg1 -n ns1 --identity \"{{type:systemassigned}}\"\n\
         cat {dir}/jwt/issuer.pem {dir}/jwt/issuer.key > issuer-kv.pem\n\
         az keyvault certificate import --vault-name kv1 -n lwt-jwt-issuer -f issuer-kv.pem\n\
         principal=$(az eventgrid namespace show -g rg1 -n ns1 --query identity.principalId -o tsv)\n\
         az role assignment create --role \"Key Vault Certificate User\" --assignee $principal --scope $(az keyvault show -g rg1 -n kv1 --query id -o tsv)\n\
         az resource update --resource-type Microsoft.EventGrid/namespaces --api-version 2024-06-01-preview -g rg1 -n ns1 \\\n\
         \x20   --set properties.topicSpacesConfiguration.clientAuthentication='{{\"customJwtAuthentication\":{{\"tokenIssuer\":\"{JWT_TOKEN_ISSUER}\",\"issuerCertificates\":[{{\"certificateUrl\":\"https://kv1.vault.azure.net/certificates/lwt-jwt-issuer\",\"identity\":{{\"type\":\"SystemAssigned\"}}}}]}}}}'\n\
         az eventgrid system-topic create -g rg1 -n ns1-lifecycle --location westus2 --topic-type Microsoft.EventGrid.Namespaces \\\n\
         \x20   --source $(az eventgrid namespace show -g rg1 -n ns1 --query id -o tsv)\n\
         az eventgrid system-topic event-subscription create -g rg1 --system-topic-name ns1-lifecycle -n lifecycle \\\n\
         \x20   --included-event-types Microsoft.EventGrid.MQTTClientSessionConnected Microsoft.EventGrid.MQTTClientSessionDisconnected \\\n\
         \x20   --endpoint-type webhook --endpoint https://<your endpoint>\n\
         lwt-harness check features/eventgrid/jwt-authentication.feature \\\n\
         \x20   --broker mqtts://ns1.westus2-1.ts.eventgrid.azure.net:8883 --ca /etc/ssl/certs/ca-certificates.crt \\\n\
         \x20   --identities {dir} --profile fixtures/profiles/eventgrid.yaml\n\
         ```\n\n\
         Against Azure the life-cycle steps are skipped (the events go to your subscription, not to a file the\n\
         harness reads) and everything else is judged. Event Grid documents only RS256 tokens: the issuer here is\n\
         RS256 (the reference broker also accepts ES256).\n"
    )
}

/// An identities folder (as `init` writes it): client X presents `clients/X.pem` / `clients/X.key`
/// and uses username X; clients trust `ca.pem` unless told otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identities {
    /// The folder.
    pub dir: PathBuf,
}

impl Identities {
    /// The identities in `dir`.
    pub fn new(dir: &Path) -> Self {
        Identities { dir: dir.to_path_buf() }
    }
    /// The certificate and key client `name` presents, if the folder has them.
    pub fn identity(&self, name: &str) -> Option<Identity> {
        let cert = self.dir.join("clients").join(format!("{name}.pem"));
        let key = self.dir.join("clients").join(format!("{name}.key"));
        (cert.is_file() && key.is_file()).then_some(Identity { cert_chain: cert, key })
    }
    /// TLS settings trusting `ca.pem` and expecting `server_name`, with no default identity.
    pub fn tls_client(&self, server_name: &str) -> TlsClient {
        TlsClient { ca: self.dir.join("ca.pem"), server_name: server_name.into(), identity: None, issuer: None }
    }
    /// The namespace file in the folder.
    pub fn namespace_file(&self) -> PathBuf {
        self.dir.join("namespace.yaml")
    }
}

/// The embedded reference broker serving an identities folder: TLS on 127.0.0.1 with
/// `server.pem` / `server.key`, Event Grid limits ([`lwt_broker::Config::eventgrid`]) and
/// `namespace.yaml`; clients trust `ca.pem`.
/// `ws`: over MQTT over WebSockets over TLS (`wss://`) instead of MQTT over TLS.
pub fn embedded_target(dir: &Path, ws: bool) -> anyhow::Result<crate::target::TargetSpec> {
    let ids = Identities::new(dir);
    let file = ids.namespace_file();
    anyhow::ensure!(file.is_file(), "{} has no namespace.yaml (write one with `lwt-harness init eventgrid-lwt --out {}`)", dir.display(), dir.display());
    let ns = lwt_broker::eventgrid::Namespace::load(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut config = lwt_broker::Config::eventgrid();
    config.apply_namespace(ns);
    let tls = lwt_broker::TlsOptions { cert_chain: dir.join("server.pem"), key: dir.join("server.key"), client_ca: None };
    Ok(crate::target::TargetSpec::EmbeddedTls { config, tls, client: ids.tls_client("localhost"), ws })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walkthrough_files_carry_the_real_thumbprints() {
        let dir = tempfile::tempdir().unwrap();
        let w = eventgrid_lwt(dir.path(), 2).unwrap();
        for f in ["ca.pem", "ca.key", "server.pem", "server.key", "namespace.yaml", "README.md", "clients/sensor1.pem", "clients/actuator2.key"] {
            assert!(dir.path().join(f).is_file(), "{f}");
        }
        let ns = std::fs::read_to_string(dir.path().join("namespace.yaml")).unwrap();
        for (c, _) in &w.clients {
            let pem = std::fs::read_to_string(dir.path().join("clients").join(format!("{}.pem", c.name))).unwrap();
            let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            let tp = crate::pki::thumbprint(&der);
            assert!(ns.contains(&tp), "{} thumbprint {tp} missing", c.name);
        }
        assert!(ns.contains("clients/${client.authenticationName}/status") && ns.contains("clients/+/status"));
        let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
        assert!(readme.contains("az eventgrid namespace permission-binding create") && readme.contains(&w.clients[0].0.thumbprint));
        assert!(readme.contains("customJwtAuthentication") && readme.contains("system-topic event-subscription create"));
        // The JWT variant: the namespace trusts the issuer, and the tokens authenticate against it.
        let parsed = lwt_broker::eventgrid::Namespace::load(&dir.path().join("namespace.yaml")).unwrap();
        for (name, kind) in JWT_CLIENTS {
            let token = crate::jwt::stored_token(dir.path(), name).unwrap();
            let p = lwt_broker::eventgrid::bearer_principal(&parsed, &token, std::time::SystemTime::now()).unwrap();
            assert_eq!((p.authentication_name.as_str(), p.attributes["type"].to_string()), (name, format!("{kind:?}")));
            assert!(p.groups.contains(&format!("{kind}s")), "{name}: {:?}", p.groups);
        }
        assert!(w.jwt_issuer.cert_pem.contains("BEGIN CERTIFICATE"));
        let ids = w.identities();
        assert!(ids.identity("sensor1").is_some() && ids.identity("sensor9").is_none());
    }

    use rustls::pki_types::pem::PemObject as _;
}
