//! Steps about Event Grid **client life-cycle events** (`MQTTClientSessionConnected` /
//! `MQTTClientSessionDisconnected`): the embedded reference broker of an `@eventgrid` scenario
//! appends them, as CloudEvents JSON lines, to `lifecycle-events.jsonl` in the scenario's folder,
//! and these steps read that file. A real namespace delivers them to an Event Grid subscription the
//! harness cannot read, so scenarios using them are `@reference-only`.

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
    }
}
