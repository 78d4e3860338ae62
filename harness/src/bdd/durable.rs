//! Steps about brokers that keep state across a crash (`@durable`, profile `survives_crash`): an
//! observer going back to its session after the broker restarted, and new publications told apart
//! from DUP redeliveries of an earlier one.

use super::LwtWorld;
use crate::verdict::expect_none_of;
use cucumber::{then, when};
use std::time::Duration;

/// The observer's connection died with the broker; it connects again with the same persistent
/// session (Clean Start 0). Session Present 0 means the target did not keep the session, so what
/// follows cannot be judged: the scenario ends as an error, not as a failure of its rule.
#[when(expr = "actuator {string} reconnects to its session")]
async fn actuator_reconnects(w: &mut LwtWorld, name: String) {
    w.actuators.remove(&name);
    let spec = super::clients::persistent_actuator_spec(w, &name);
    let a = w.connect_actuator(&name, spec).await.unwrap_or_else(|e| panic!("actuator {name}: {e:#}"));
    assert!(
        a.session_present,
        "actuator {name}: Session Present 0 after the restart: the target did not keep its session (is survives_crash right?)"
    );
    crate::verdict::arm_probe(&a).await.unwrap_or_else(|e| panic!("actuator {name}: {e:#}"));
    w.actuators.insert(name, a);
}

/// No new publication of `payload` on `topic` since the last fault (a copy with DUP 1 is a
/// redelivery of an unacknowledged one, which QoS 1/2 allows, not a new publication), proven with
/// the observer's probe at the end.
#[then(expr = "{string} receives no new {string} on {string} for {float} second(s)")]
async fn no_new(w: &mut LwtWorld, who: String, payload: String, topic: String, secs: f64) {
    let t = w.topic(&topic);
    let from = w.fault_at();
    let window = Duration::from_secs_f64(secs) + w.profile().late_tolerance();
    let (rule, level) = (w.rule(), w.level);
    let v = expect_none_of(w.actuator(&who), &t, from, window, &rule, level, |o| !o.dup && o.payload == payload.as_bytes()).await;
    w.judge(v);
}
