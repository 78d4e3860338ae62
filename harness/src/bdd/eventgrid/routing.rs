//! Steps about Event Grid **routing**: the scenario's own reference broker serves the walkthrough
//! namespace with `routing:` writing every published message (telemetry and wills alike) as an
//! `MQTT.EventPublished` CloudEvent, with the feature's enrichments, to `routed-messages.jsonl`
//! in the scenario's folder, and these steps read that file. A real namespace routes to an Event
//! Grid custom topic the harness cannot read, so these scenarios are `@reference-only`.

use super::http_publish::ScenarioTokens;
use super::{own_target, ScenarioPki};
use crate::bdd::expectations::simple;
use crate::bdd::LwtWorld;
use crate::sensor::REPLY_TIMEOUT;
use crate::target::TargetSpec;
use cucumber::gherkin::Step;
use cucumber::{given, then};
use lwt_broker::eventgrid::routing::{routed_payload, EVENT_TYPE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The file a scenario's broker routes messages to, in the scenario's folder.
pub const ROUTED_FILE: &str = "routed-messages.jsonl";

/// `routing:` YAML writing to `file` with `enrichments` (key, value): a value holding `${` is
/// dynamic, any other static. Values are written as JSON strings, which YAML reads as they are.
pub fn routing_yaml(file: &Path, enrichments: &[(String, String)]) -> String {
    let q = |s: &str| Value::String(s.to_owned()).to_string();
    let list = |dynamic: bool| -> String {
        enrichments
            .iter()
            .filter(|(_, v)| v.contains("${") == dynamic)
            .map(|(k, v)| format!("      - key: {}\n        value: {}\n", q(k), q(v)))
            .collect()
    };
    let (statics, dynamics) = (list(false), list(true));
    let mut y = format!("routing:\n  file: {}\n", q(&file.display().to_string()));
    if !enrichments.is_empty() {
        y += "  enrichments:\n";
        if !statics.is_empty() {
            y += &format!("    static:\n{statics}");
        }
        if !dynamics.is_empty() {
            y += &format!("    dynamic:\n{dynamics}");
        }
    }
    y
}

/// The walkthrough (`lwt-harness init eventgrid-lwt`) in a fresh folder, its namespace extended by
/// the YAML `extra` gives for that folder, as the embedded TLS broker with life-cycle events, HTTP
/// Publish and its bearer tokens ([`ScenarioTokens`]).
pub fn walkthrough_with(extra: impl FnOnce(&Path) -> String) -> anyhow::Result<(ScenarioPki, TargetSpec, Arc<ScenarioTokens>)> {
    let pki = ScenarioPki::walkthrough()?;
    let file = pki.path().join("namespace.yaml");
    let mut yaml = std::fs::read_to_string(&file)?;
    if !yaml.ends_with('\n') {
        yaml.push('\n');
    }
    std::fs::write(&file, yaml + &extra(pki.path()))?;
    let spec = crate::init::embedded_target(pki.path(), false)?;
    let spec = super::lifecycle::with_lifecycle_events(spec, pki.path());
    let (spec, tokens) = super::http_publish::with_scenario_tokens(spec)?;
    Ok((pki, spec, tokens))
}

/// Starts the scenario's own broker from [`walkthrough_with`]'s result.
pub async fn own_walkthrough(w: &mut LwtWorld, built: anyhow::Result<(ScenarioPki, TargetSpec, Arc<ScenarioTokens>)>) {
    let (pki, spec, tokens) = built.unwrap_or_else(|e| w.setup_error("the walkthrough namespace", format!("{e:#}")));
    w.pki = Some(pki);
    w.http_publish.tokens = Some(tokens);
    own_target(w, spec).await;
}

/// The walkthrough namespace routing every message to [`ROUTED_FILE`] with the table's
/// enrichments (columns `key`, `value`), served by this scenario's own reference broker.
#[given("the Event Grid walkthrough namespace routing messages with the enrichments:")]
async fn walkthrough_routing(w: &mut LwtWorld, step: &Step) {
    let enrichments = table_pairs(step);
    let built = walkthrough_with(|dir| routing_yaml(&dir.join(ROUTED_FILE), &enrichments));
    own_walkthrough(w, built).await;
}

/// The `key | value` rows of a step's table after its header (none without a table).
fn table_pairs(step: &Step) -> Vec<(String, String)> {
    let rows = step.table.as_ref().map(|t| t.rows.as_slice()).unwrap_or_default();
    rows.iter().skip(1).map(|r| (r[0].trim().to_owned(), r.get(1).map_or("", |v| v.trim()).to_owned())).collect()
}

/// The routed-messages file of the scenario's own broker, if it routes to one.
fn routed_file(w: &LwtWorld) -> Option<PathBuf> {
    w.own_broker.as_ref()?.routed_events_file()
}

/// Every routed event in `file` whose subject is `topic`, in file order.
fn events_for(file: &Path, topic: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|e| e["subject"] == topic).collect()
}

/// How a verdict shows a routed event: its payload form and enrichments, without id and time.
fn describe(e: &Value) -> String {
    let mut e = e.clone();
    if let Some(o) = e.as_object_mut() {
        for k in ["id", "time", "specversion"] {
            o.remove(k);
        }
    }
    e.to_string()
}

/// Whether `e` is a routed event carrying `payload` in `form` (`data` or `data_base64`) with every
/// `(key, value)` attribute.
fn fits(e: &Value, payload: &str, form: &str, attrs: &[(String, String)]) -> bool {
    e["type"] == EVENT_TYPE
        && e.get(form).is_some()
        && routed_payload(e).as_deref() == Some(payload.as_bytes())
        && attrs.iter().all(|(k, v)| e[k.as_str()] == v.as_str())
}

/// A routed event for `topic` carries `payload` in `form` (`data` when the message said it is text
/// or JSON, `data_base64` otherwise), and, with a table of `key | value` rows, those attributes
/// (enrichments; the table has a `key | value` header row); waits up to the reply timeout.
#[then(expr = "a routed event for {string} carries {string} in {word}")]
#[then(expr = "a routed event for {string} carries {string} in {word} with:")]
async fn routed_event_carries(w: &mut LwtWorld, topic: String, payload: String, form: String, step: &Step) {
    assert!(form == "data" || form == "data_base64", "{form:?}: say data or data_base64");
    let attrs = table_pairs(step);
    let shown: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    let expected = format!("an MQTT.EventPublished for {topic} carrying {payload:?} in {form} with [{}]", shown.join(", "));
    let Some(file) = routed_file(w) else {
        w.setup_error("a broker that routes messages to a file (the walkthrough namespace with routing)", "no routing file");
    };
    let topic = w.topic(&topic);
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let events = loop {
        let events = events_for(&file, &topic);
        if events.iter().any(|e| fits(e, &payload, &form, &attrs)) || Instant::now() >= deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ok = events.iter().any(|e| fits(e, &payload, &form, &attrs));
    let observed = if events.is_empty() {
        format!("no routed event for {topic}")
    } else {
        events.iter().map(describe).collect::<Vec<_>>().join("; ")
    };
    let v = simple(w, expected, ok, observed);
    w.judge(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_yaml_splits_static_and_dynamic() {
        let y = routing_yaml(Path::new("/tmp/r.jsonl"), &[("site".into(), "lab".into()), ("who".into(), "${client.authenticationName}".into())]);
        assert!(y.contains("  file: \"/tmp/r.jsonl\"\n"), "{y}");
        assert!(y.contains("    static:\n      - key: \"site\"\n        value: \"lab\"\n"), "{y}");
        assert!(y.contains("    dynamic:\n      - key: \"who\"\n        value: \"${client.authenticationName}\"\n"), "{y}");
        assert_eq!(routing_yaml(Path::new("f"), &[]), "routing:\n  file: \"f\"\n");
    }

    #[test]
    fn events_fit_by_payload_form_and_attributes() {
        let e = serde_json::json!({"type": EVENT_TYPE, "subject": "t", "data_base64": "b2ZmbGluZQ==", "site": "lab"});
        assert!(fits(&e, "offline", "data_base64", &[("site".into(), "lab".into())]));
        assert!(!fits(&e, "offline", "data", &[]));
        assert!(!fits(&e, "online", "data_base64", &[]));
        assert!(!fits(&e, "offline", "data_base64", &[("site".into(), "home".into())]));
        assert!(!describe(&e).contains("id"));
    }
}
