//! The `embedded-eventgrid` load target: the reference broker in-process emulating an Event Grid
//! namespace made for the scenario's fleet, so a load run measures Event Grid's two signals of an
//! abrupt disconnect (the will and the client life-cycle event) side by side.
//!
//! The namespace is written to a temporary folder with a fresh test PKI ([`crate::target::test_pki`]):
//! its root is the namespace's one CA certificate; every fleet id is a registered client with the
//! default `SubjectMatchesAuthenticationName` scheme, and presents a per-device certificate (common
//! name = its id) the intermediate issues before the ramp; observers present the harness identity
//! `lwt-client`, also registered. Members send no username, so the namespace names clients from the
//! certificate subject (`alternativeAuthenticationNameSources: [ClientCertificateSubject]`).
//! Permission bindings on `$all`: publish the will topic with `${client.authenticationName}` in place
//! of `{id}`, subscribe the observers' filters, publish and subscribe the observers' probe topics.
//! The broker runs with the `eventgrid` limits and writes life-cycle events to
//! `lifecycle-events.jsonl` in that folder.

use super::scenario::{expand, Scenario};
use crate::target::TargetSpec;
use anyhow::{bail, Context};
use serde_json::json;
use std::path::Path;

/// The target's name on the command line and in `target.launch`.
pub const NAME: &str = "embedded-eventgrid";

/// The life-cycle events file, in the target's folder.
pub const EVENTS_FILE: &str = "lifecycle-events.jsonl";

/// The namespace for `count` clients of `s`, as JSON (a YAML subset the namespace loader reads).
pub fn namespace(s: &Scenario, count: u32) -> anyhow::Result<serde_json::Value> {
    let topic = &s.fleet.will.topic;
    if !topic.contains("{id}") || topic.contains("{i}") || topic.contains("{i:") || topic.contains("{gen}") {
        bail!("{NAME}: the will topic {topic:?} must name its client with {{id}} only (it becomes ${{client.authenticationName}})");
    }
    let mut clients: Vec<serde_json::Value> = (0..count).map(|g| json!({ "name": expand(&s.fleet.id, "", g, 0, 0) })).collect();
    clients.push(json!({ "name": "lwt-client" }));
    let own = topic.replace("{id}", "${client.authenticationName}");
    Ok(json!({
        "name": "lwt-load",
        "description": format!("written by lwt-harness load for scenario {}", s.name),
        "settings": { "alternativeAuthenticationNameSources": ["ClientCertificateSubject"] },
        "caCertificates": [{ "name": "test-root", "file": "root-ca.pem" }],
        "clients": clients,
        "topicSpaces": [
            { "name": "own-will", "topicTemplates": [own] },
            { "name": "observed", "topicTemplates": s.observer_filters() },
            { "name": "probes", "topicTemplates": ["lwt-load/probe/#"] },
        ],
        "permissionBindings": [
            { "name": "fleet-wills", "clientGroupName": "$all", "topicSpaceName": "own-will", "permission": "Publisher" },
            { "name": "observers", "clientGroupName": "$all", "topicSpaceName": "observed", "permission": "Subscriber" },
            { "name": "probes-pub", "clientGroupName": "$all", "topicSpaceName": "probes", "permission": "Publisher" },
            { "name": "probes-sub", "clientGroupName": "$all", "topicSpaceName": "probes", "permission": "Subscriber" },
        ],
    }))
}

/// Writes the PKI and namespace for `count` clients of `s` into `dir` and returns the target.
pub fn target_in(dir: &Path, s: &Scenario, count: u32) -> anyhow::Result<TargetSpec> {
    let client = crate::target::test_pki(dir)?;
    let file = dir.join("namespace.yaml");
    std::fs::write(&file, serde_json::to_string_pretty(&namespace(s, count)?)?).with_context(|| format!("cannot write {}", file.display()))?;
    let ns = lwt_broker::eventgrid::Namespace::load(&file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut config = lwt_broker::Config::eventgrid();
    config.apply_namespace(ns);
    config.lifecycle_events = Some(dir.join(EVENTS_FILE));
    let tls = lwt_broker::TlsOptions { cert_chain: dir.join("server-chain.pem"), key: dir.join("server-key.pem"), client_ca: None };
    Ok(TargetSpec::EmbeddedTls { config, tls, client, ws: false })
}

/// The target for `count` clients of `s`, in a temporary folder kept for the run (its events file
/// and namespace stay for inspection; the path is printed).
pub fn target(s: &Scenario, count: u32) -> anyhow::Result<TargetSpec> {
    let dir = tempfile::Builder::new().prefix("lwt-load-eventgrid-").tempdir()?.keep();
    eprintln!("{NAME}: namespace, PKI and {EVENTS_FILE} in {}", dir.display());
    target_in(&dir, s, count)
}
