//! Steps about Event Grid **client life-cycle events** (`MQTTClientSessionConnected` /
//! `MQTTClientSessionDisconnected`): the embedded reference broker of an `@eventgrid` scenario
//! appends them, as CloudEvents JSON lines, to `lifecycle-events.jsonl` in the scenario's folder
//! (with `check --eventgrid DIR`, in the report folder), and these steps read that file. A real
//! namespace delivers them to an Event Grid subscription the harness cannot read: there these
//! steps give a skip verdict and the rest of the scenario is still judged.

use crate::bdd::expectations::simple;
use crate::bdd::LwtWorld;
use crate::sensor::REPLY_TIMEOUT;
use crate::target::TargetSpec;
use crate::verdict::Status;
use cucumber::then;
use lwt_broker::eventgrid::lifecycle::{DisconnectionReason, CONNECTED, DISCONNECTED};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// The file a scenario's embedded broker writes life-cycle events to, in the scenario's folder.
pub const LIFECYCLE_FILE: &str = "lifecycle-events.jsonl";

/// Has the embedded broker of `spec` write life-cycle events to [`LIFECYCLE_FILE`] in `dir`,
/// unless its namespace names a file of its own.
pub fn with_lifecycle_events(mut spec: TargetSpec, dir: &Path) -> TargetSpec {
    if let TargetSpec::EmbeddedTls { config, .. } = &mut spec {
        if config.namespace.get().is_some_and(|ns| ns.lifecycle_events().file.is_none()) {
            config.lifecycle_events = Some(dir.join(LIFECYCLE_FILE));
        }
    }
    spec
}

/// The life-cycle events file of the scenario's broker (or the run's embedded target), if any.
async fn events_file(w: &LwtWorld) -> Option<PathBuf> {
    match &w.own_broker {
        Some(t) => t.lifecycle_events_file(),
        None => w.run_env().target.lock().await.as_ref().and_then(|t| t.lifecycle_events_file()),
    }
}

/// The last event of client session `session` in `file`, as read now.
fn last_event(file: &Path, session: &str) -> Option<Value> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["data"]["clientSessionName"] == session)
}

/// How a verdict shows an event: `MQTTClientSessionDisconnected #2 ConnectionLost`.
fn describe(e: &Value) -> String {
    let ty = e["type"].as_str().unwrap_or("?");
    let short = ty.rsplit('.').next().unwrap_or(ty);
    let seq = e["data"]["sequenceNumber"].as_u64().map_or("?".into(), |n| n.to_string());
    match e["data"]["disconnectionReason"].as_str() {
        Some(r) => format!("{short} #{seq} {r}"),
        None => format!("{short} #{seq}"),
    }
}

/// `what` is `Connected` or a documented `disconnectionReason`: the newest life-cycle event of
/// `name`'s session is that one (waiting up to the reply timeout for it to be written).
#[then(expr = "the life-cycle event for {string} says {string}")]
async fn lifecycle_event_says(w: &mut LwtWorld, name: String, what: String) {
    let want_reason = if what == "Connected" {
        None
    } else {
        let r: DisconnectionReason = serde_json::from_value(Value::String(what.clone())).unwrap_or_else(|_| {
            panic!("{what:?} is neither Connected nor a documented disconnectionReason (ClientAuthenticationError, ClientAuthorizationError, ClientError, ClientInitiatedDisconnect, ConnectionLost, IpForbidden, QuotaExceeded, ServerError, ServerInitiatedDisconnect, SessionOverflow, SessionTakenOver)")
        });
        Some(r)
    };
    let expected = match want_reason {
        Some(r) => format!("the newest life-cycle event of {name} is MQTTClientSessionDisconnected with disconnectionReason {r}"),
        None => format!("the newest life-cycle event of {name} is MQTTClientSessionConnected"),
    };
    let Some(file) = events_file(w).await else {
        let mut v = simple(w, expected, false, "no life-cycle events file".into());
        v.status = Status::Skip("a target that writes Event Grid life-cycle events to a file (the embedded broker with a namespace)".into());
        return w.judge(v);
    };
    let session = w.client_id(&name);
    let matches = |e: &Value| match want_reason {
        None => e["type"] == CONNECTED,
        Some(r) => e["type"] == DISCONNECTED && e["data"]["disconnectionReason"] == r.as_str(),
    };
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let last = loop {
        let last = last_event(&file, &session);
        if last.as_ref().is_some_and(matches) || Instant::now() >= deadline {
            break last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let observed = match &last {
        Some(e) => describe(e),
        None => format!("no event for session {session:?} in {}", file.display()),
    };
    let ok = last.as_ref().is_some_and(matches);
    let v = simple(w, expected, ok, observed);
    w.judge(v);
}

/// Every event of client session `session` in `file`, in file order.
fn session_events(file: &Path, session: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["data"]["clientSessionName"] == session)
        .collect()
}

/// An event as a list entry: `Connected` or its `disconnectionReason`.
fn word(e: &Value) -> String {
    match e["data"]["disconnectionReason"].as_str() {
        Some(r) => r.to_owned(),
        None if e["type"] == CONNECTED => "Connected".to_owned(),
        None => e["type"].as_str().unwrap_or("?").to_owned(),
    }
}

/// Whether the sequence numbers are Event Grid's: each connected event above the ones before it,
/// each disconnected event equal to the connected event before it.
fn sequence_ok(events: &[Value]) -> bool {
    let mut last_connected: Option<u64> = None;
    events.iter().all(|e| {
        let n = e["data"]["sequenceNumber"].as_u64();
        if e["type"] == CONNECTED {
            let ok = n.is_some_and(|n| last_connected.is_none_or(|l| n > l));
            last_connected = n;
            ok
        } else {
            n.is_some() && n == last_connected
        }
    })
}

/// The newest life-cycle events of `name`'s session, oldest first (`Connected, SessionTakenOver,
/// Connected`: as many as listed, so earlier scenarios on a shared broker do not count), with
/// Event Grid's sequence numbers (waiting up to the reply timeout for them to be written).
#[then(expr = "the latest life-cycle events for {string} are {string}")]
async fn latest_lifecycle_events_are(w: &mut LwtWorld, name: String, list: String) {
    let want: Vec<String> = list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    let expected = format!("latest life-cycle events of {name}: {}, each disconnect numbered as its connect", want.join(", "));
    let Some(file) = events_file(w).await else {
        let mut v = simple(w, expected, false, "no life-cycle events file".into());
        v.status = Status::Skip("a target that writes Event Grid life-cycle events to a file (the embedded broker with a namespace)".into());
        return w.judge(v);
    };
    let session = w.client_id(&name);
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let latest = |all: Vec<Value>| all[all.len().saturating_sub(want.len())..].to_vec();
    let fits = |events: &[Value]| events.iter().map(word).collect::<Vec<_>>() == want && sequence_ok(events);
    let events = loop {
        let events = latest(session_events(&file, &session));
        if fits(&events) || Instant::now() >= deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let observed = events.iter().map(describe).collect::<Vec<_>>().join(", ");
    let ok = fits(&events);
    let v = simple(w, expected, ok, if observed.is_empty() { "no events".into() } else { observed });
    w.judge(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_described_briefly() {
        let e: Value = serde_json::from_str(&format!(
            r#"{{"type":"{DISCONNECTED}","data":{{"sequenceNumber":2,"disconnectionReason":"ConnectionLost"}}}}"#
        ))
        .unwrap();
        assert_eq!(describe(&e), "MQTTClientSessionDisconnected #2 ConnectionLost");
        assert_eq!(word(&e), "ConnectionLost");
    }

    #[test]
    fn sequence_numbers_pair_and_increase() {
        let ev = |ty: &str, n: u64| -> Value { serde_json::json!({"type": ty, "data": {"sequenceNumber": n}}) };
        assert!(sequence_ok(&[ev(CONNECTED, 1), ev(DISCONNECTED, 1), ev(CONNECTED, 2)]));
        assert!(!sequence_ok(&[ev(CONNECTED, 1), ev(DISCONNECTED, 2)]));
        assert!(!sequence_ok(&[ev(CONNECTED, 2), ev(DISCONNECTED, 2), ev(CONNECTED, 2)]));
        assert!(!sequence_ok(&[ev(DISCONNECTED, 1)]));
    }
}
