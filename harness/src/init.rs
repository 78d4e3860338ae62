//! `lwt-harness init eventgrid-lwt`: writes the Event Grid LWT walkthrough (Azure Messaging blog,
//! 2024-04-10: sensors publish wills on `clients/<name>/status`, actuators subscribe to
//! `clients/+/status`) as files: a CA, a localhost server certificate, one client certificate per
//! sensor and actuator, the namespace file with their real thumbprints, and a README saying how to
//! run it against the reference broker and against a real Event Grid namespace.
//!
//! The same folder is an *identities folder*: a client named X presents `clients/X.pem` with key
//! `clients/X.key`, uses username X, and trusts `ca.pem` ([`Identities`]).

use crate::pki::{Authority, Issued, LeafSpec};
use crate::transport::{Identity, TlsClient};
use anyhow::Context;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The walkthrough's clients and their `type` attribute, in the blog's order.
pub const WALKTHROUGH_CLIENTS: [(&str, &str); 4] =
    [("sensor1", "sensor"), ("sensor2", "sensor"), ("actuator1", "actuator"), ("actuator2", "actuator")];

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
    let namespace_yaml = walkthrough_namespace(&rows);
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
    Ok(Walkthrough { dir: out.to_path_buf(), ca: ca.cert, server, clients, namespace_yaml })
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
         | `thumbprints.csv` | SHA-256 thumbprints (what `step certificate fingerprint` prints) |\n\n\
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
    r
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
        let ids = w.identities();
        assert!(ids.identity("sensor1").is_some() && ids.identity("sensor9").is_none());
    }

    use rustls::pki_types::pem::PemObject as _;
}
