//! Steps about expectations: wills received (by whom, when, how), exactly once, absent (proven by
//! the observer's own probe), retained for late subscribers, connections refused. Each step turns
//! into a verdict judged on its own ([`LwtWorld::judge`]): a MUST failure or an error stops the
//! scenario, a SHOULD failure is recorded and the steps after it still run.

use super::clients::{parse_code, parse_qos};
use super::LwtWorld;
use crate::actuator::{Actuator, ActuatorSpec};
use crate::sensor::{ConnectOutcome, ServerClose};
use crate::verdict::{self, expect_no_will, expect_will, Status, Verdict, WillExpectation};
use bytes::Bytes;
use cucumber::then;
use lwt_codec::{Property, ProtocolVersion, QoS};
use std::time::Duration;
use tokio::time::Instant;

async fn receives(w: &mut LwtWorld, who: &str, payload: &str, topic: &str, earliest: Duration, latest: Duration) {
    let topic = w.topic(topic);
    let latest = latest + w.profile().late_tolerance();
    let exp = WillExpectation::new(&topic, Bytes::copy_from_slice(payload.as_bytes()), earliest, latest);
    let fault_at = w.fault_at();
    let rule = w.rule();
    let level = w.level;
    let v = expect_will(w.actuator(who), fault_at, &exp, &rule, level).await;
    let obs = w.actuator(who).on_topic(&topic).into_iter().find(|o| o.payload == payload.as_bytes() && o.at >= fault_at);
    w.last_observation = obs.map(|o| (who.to_owned(), o));
    w.judge(v);
}

#[then(expr = "{string} receives {string} on {string} within {float} second(s)")]
async fn receives_within(w: &mut LwtWorld, who: String, payload: String, topic: String, secs: f64) {
    receives(w, &who, &payload, &topic, Duration::ZERO, Duration::from_secs_f64(secs)).await;
}

#[then(expr = "{string} receives {string} on {string} between {float} and {float} seconds after the fault")]
async fn receives_between(w: &mut LwtWorld, who: String, payload: String, topic: String, a: f64, b: f64) {
    receives(w, &who, &payload, &topic, Duration::from_secs_f64(a), Duration::from_secs_f64(b)).await;
}

#[then(expr = "{string} receives {string} on {string} after the keep-alive deadline")]
async fn receives_after_keepalive(w: &mut LwtWorld, who: String, payload: String, topic: String) {
    let Some((victim, _, _)) = w.last_fault.clone() else { w.setup_error("a fault before the keep-alive deadline", "no fault happened") };
    let ka = w.sensors.get(&victim).map(|s| s.keep_alive).unwrap_or(0);
    if ka == 0 {
        w.setup_error("a keep-alive deadline", format!("{victim} has no keep-alive"));
    }
    let deadline = Duration::from_millis(ka as u64 * 1500);
    receives(w, &who, &payload, &topic, deadline, deadline + Duration::from_millis(500)).await;
}

#[then(expr = "{string} receives it at QoS {int}")]
fn receives_at_qos(w: &mut LwtWorld, who: String, qos: i32) {
    let (by, o) = w.last_observation.clone().expect("a previous step matched a delivery");
    assert_eq!(by, who, "the last delivery was matched at {by}, not {who}");
    let want = parse_qos(qos);
    let v = simple(w, format!("delivered at QoS {}", want as u8), o.qos == want, format!("QoS {}", o.qos as u8));
    w.judge(v);
}

#[then(expr = "{string} receives it with retain flag {int}")]
fn receives_retain(w: &mut LwtWorld, who: String, flag: u8) {
    let (by, o) = w.last_observation.clone().expect("a previous step matched a delivery");
    assert_eq!(by, who, "the last delivery was matched at {by}, not {who}");
    let v = simple(w, format!("RETAIN {flag}"), o.retain == (flag != 0), format!("RETAIN {}", o.retain as u8));
    w.judge(v);
}

#[then(expr = "the delivered will carries user properties {string}")]
fn carries_user_properties(w: &mut LwtWorld, list: String) {
    let (_, o) = w.last_observation.clone().expect("a previous step matched a delivery");
    let want: Vec<(String, String)> = list
        .split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or_else(|| panic!("user property {kv:?} is not k=v"));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let got = o.properties.user_properties();
    let v = simple(w, format!("user properties {want:?} in order"), got == want, format!("{got:?}"));
    w.judge(v);
}

#[then(expr = "the delivered will carries {word} {string}")]
fn carries_property(w: &mut LwtWorld, which: String, value: String) {
    let (_, o) = w.last_observation.clone().expect("a previous step matched a delivery");
    let p = &o.properties;
    let got: Option<String> = match which.as_str() {
        "content-type" => p.content_type(),
        "response-topic" => p.response_topic().map(|t| t.strip_prefix(&format!("{}/", w.prefix)).unwrap_or(&t).to_owned()),
        "correlation-data" => p.correlation_data().map(|b| String::from_utf8_lossy(&b).into_owned()),
        "payload-format-indicator" => p.payload_format_indicator().map(|v| v.to_string()),
        other => panic!("unknown property {other:?} (content-type, response-topic, correlation-data, payload-format-indicator)"),
    };
    let v = simple(w, format!("{which} {value:?}"), got.as_deref() == Some(value.as_str()), format!("{which} {got:?}"));
    w.judge(v);
}

#[then(expr = "the delivered will carries a message expiry of at most {int} second(s)")]
fn carries_expiry(w: &mut LwtWorld, max: u32) {
    let (_, o) = w.last_observation.clone().expect("a previous step matched a delivery");
    let got = o.properties.message_expiry_interval();
    let ok = got.is_some_and(|g| g >= 1 && g <= max);
    let v = simple(w, format!("Message Expiry Interval 1..={max}"), ok, format!("{got:?}"));
    w.judge(v);
}

#[then("the delivered will carries no will delay interval")]
fn carries_no_delay(w: &mut LwtWorld) {
    let (_, o) = w.last_observation.clone().expect("a previous step matched a delivery");
    let present = o.properties.0.iter().any(|p| matches!(p, Property::WillDelayInterval(_)));
    let v = simple(w, "no Will Delay Interval on the delivered will".into(), !present, format!("{:?}", o.properties.0));
    w.judge(v);
}

#[then(expr = "{string} receives {string} on {string} exactly once")]
async fn exactly_once(w: &mut LwtWorld, who: String, payload: String, topic: String) {
    receives(w, &who, &payload, &topic, Duration::ZERO, Duration::from_secs(5)).await;
    let t = w.topic(&topic);
    let since = w.fault_at();
    let v = verdict::expect_at_most_once(w.actuator(&who), &t, payload.as_bytes(), since, "MQTT-3.1.2-10").await;
    w.judge(v);
}

#[then(expr = "{string} receives nothing on {string} for {float} second(s)")]
async fn nothing_for(w: &mut LwtWorld, who: String, topic: String, secs: f64) {
    let t = w.topic(&topic);
    let from = w.fault_at();
    let window = Duration::from_secs_f64(secs) + w.profile().late_tolerance();
    let rule = w.rule();
    let level = w.level;
    let v = expect_no_will(w.actuator(&who), &t, from, window, &rule, level).await;
    w.judge(v);
}

#[then(expr = "{string} receives {string} on {string} only once in {float} second(s)")]
async fn only_once_in(w: &mut LwtWorld, who: String, payload: String, topic: String, secs: f64) {
    let t = w.topic(&topic);
    let since = w.fault_at();
    let window = Duration::from_secs_f64(secs) + w.profile().late_tolerance();
    let rule = w.rule();
    let level = w.level;
    let v = verdict::expect_exactly_once(w.actuator(&who), &t, payload.as_bytes(), since, window, &rule, level).await;
    w.judge(v);
}

#[then(expr = "{string} receives {string} once from each of the {int} sensors {string} within {float} second(s)")]
async fn one_from_each(w: &mut LwtWorld, who: String, payload: String, n: usize, stem: String, secs: f64) {
    let topics: Vec<String> = (1..=n)
        .map(|i| {
            let name = format!("{stem}{i}");
            let will = w.sensors.get(&name).and_then(|s| s.spec.as_ref()).and_then(|s| s.will.as_ref());
            will.unwrap_or_else(|| panic!("sensor {name} has no will")).topic.clone()
        })
        .collect();
    let since = w.fault_at();
    let within = Duration::from_secs_f64(secs) + w.profile().late_tolerance();
    let rule = w.rule();
    let level = w.level;
    let v = verdict::expect_one_each(w.actuator(&who), &topics, payload.as_bytes(), since, within, &rule, level).await;
    w.judge(v);
}

/// A message that may have arrived before the last fault (for example one published just before it):
/// delivered at any time in the scenario, waiting at most 1 s more for it.
#[then(expr = "{string} has received {string} on {string}")]
async fn has_received(w: &mut LwtWorld, who: String, payload: String, topic: String) {
    let t = w.topic(&topic);
    let deadline = Instant::now() + Duration::from_secs(1) + w.profile().late_tolerance();
    let got = w.actuator(&who).wait_for(|o| o.topic == t && o.payload == payload.as_bytes(), deadline).await;
    w.last_observation = got.clone().map(|o| (who.clone(), o));
    let observed = match &got {
        Some(o) => format!("delivered at QoS {}", o.qos as u8),
        None => format!("not delivered; seen: {:?}", w.actuator(&who).on_topic(&t).len()),
    };
    let v = simple(w, format!("{payload:?} delivered on {topic}"), got.is_some(), observed);
    w.judge(v);
}

#[then(expr = "{string} has received nothing on {string}")]
async fn has_received_nothing(w: &mut LwtWorld, who: String, topic: String) {
    let t = w.topic(&topic);
    let from = w.fault_at();
    let rule = w.rule();
    let level = w.level;
    let window = Instant::now().saturating_duration_since(from);
    let v = expect_no_will(w.actuator(&who), &t, from, window, &rule, level).await;
    w.judge(v);
}

#[then(expr = "{string} receives {string} before {string} on {string}")]
async fn receives_in_order(w: &mut LwtWorld, who: String, first: String, second: String, topic: String) {
    let t = w.topic(&topic);
    let a = w.actuator(&who);
    let deadline = Instant::now() + Duration::from_secs(5) + w.profile().late_tolerance();
    a.wait_for(|o| o.topic == t && o.payload == second.as_bytes(), deadline).await;
    let seen: Vec<String> =
        a.on_topic(&t).iter().map(|o| String::from_utf8_lossy(&o.payload).into_owned()).collect();
    let i = seen.iter().position(|p| *p == first);
    let j = seen.iter().position(|p| *p == second);
    let ok = matches!((i, j), (Some(i), Some(j)) if i < j);
    let v = simple(w, format!("{first:?} before {second:?} on {topic}"), ok, format!("order seen: {seen:?}"));
    w.judge(v);
}

async fn late_subscriber(w: &mut LwtWorld, name: &str, filter: &str) -> (Actuator, Instant) {
    let v = w.default_version;
    let a = w.connect_actuator(name, ActuatorSpec::new(w.client_id(name), v)).await.unwrap_or_else(|e| panic!("{name}: {e:#}"));
    verdict::arm_probe(&a).await.unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let at = Instant::now();
    a.subscribe(&w.topic(filter), QoS::AtLeastOnce).await.unwrap_or_else(|e| panic!("{name}: {e:#}"));
    (a, at)
}

#[then(expr = "a new actuator {string} subscribing to {string} receives {string} retained")]
async fn late_gets_retained(w: &mut LwtWorld, name: String, filter: String, payload: String) {
    let (a, at) = late_subscriber(w, &name, &filter).await;
    let topic = w.topic(&filter);
    let mut exp = WillExpectation::new(&topic, Bytes::copy_from_slice(payload.as_bytes()), Duration::ZERO, Duration::from_secs(2));
    exp.retain = Some(true);
    let rule = w.rule();
    let level = w.level;
    let v = expect_will(&a, at, &exp, &rule, level).await;
    let obs = a.on_topic(&topic).into_iter().find(|o| o.payload == payload.as_bytes() && o.at >= at);
    w.last_observation = obs.map(|o| (name.clone(), o));
    w.actuators.insert(name, a);
    w.judge(v);
}

#[then(expr = "a new actuator {string} subscribing to {string} receives no retained message")]
async fn late_gets_nothing(w: &mut LwtWorld, name: String, filter: String) {
    let (a, at) = late_subscriber(w, &name, &filter).await;
    let topic = w.topic(&filter);
    let rule = w.rule();
    let level = w.level;
    let v = expect_no_will(&a, &topic, at, Duration::from_millis(500), &rule, level).await;
    w.actuators.insert(name, a);
    w.judge(v);
}

/// How a CONNECT was answered, for the refusal steps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A CONNACK with this code.
    Connack(u8),
    /// A close without CONNACK.
    Closed,
    /// Neither, within the reply time: the broker kept the connection open and said nothing (a
    /// broker that waits for more bytes after a complete but malformed CONNECT, e.g. amqtt).
    Silent,
}

fn refusal(w: &mut LwtWorld, name: &str) -> (Answer, String) {
    let slot = w.sensor(name);
    match &slot.refused {
        Some(ConnectOutcome::Refused(a)) => (Answer::Connack(a.code), format!("CONNACK {:#04x}", a.code)),
        Some(ConnectOutcome::Closed(why)) => (Answer::Closed, format!("closed without CONNACK ({why})")),
        Some(ConnectOutcome::Silent(t)) => (Answer::Silent, format!("no CONNACK and no close within {t:?}: the connection stayed open")),
        Some(ConnectOutcome::Accepted(_)) | None => {
            if slot.live.is_some() {
                (Answer::Connack(0), "accepted (CONNACK 0x00)".into())
            } else {
                panic!("{name} has not tried to connect")
            }
        }
    }
}

/// Whether the exact CONNACK code of a refusal is the scenario's rule (3.1.1, where each refusal
/// has its return code, and Event Grid, whose documented codes are the behaviour under test), or
/// only a SHOULD (5.0: a refusal is a CONNACK >= 0x80 then the close, or a close without CONNACK;
/// which code is a SHOULD, MQTT-3.2.2-12/-13, or what 4.13.1 describes for a CONNECT in error).
fn exact_code_is_rule(w: &mut LwtWorld, name: &str) -> bool {
    let default = w.default_version;
    let version = w.sensor(name).spec.as_ref().map_or(default, |s| s.version);
    w.eventgrid || version == ProtocolVersion::V311
}

/// What the broker did after the CONNECT, and whether it closed the connection (a refusing
/// CONNACK must be followed by the close: 3.1.1 MQTT-3.2.2-5, 5.0 MQTT-3.2.2-7).
fn refusal_and_close(w: &mut LwtWorld, name: &str) -> (Answer, bool, String) {
    let (got, mut text) = refusal(w, name);
    let after = w.sensor(name).after_refusal.clone();
    let closed = !matches!(after, Some(ServerClose::StillOpen));
    if let Some(a) = &after {
        text = format!("{text}, then {a:?}");
    }
    (got, closed, text)
}

/// Judges a refusal: with `close_alone_ok`, a close without CONNACK is the wanted answer too.
/// Where the exact code is not the rule (5.0), the rule's verdict is "refused and closed" and the
/// code is judged on its own at most at SHOULD, so a broker that refuses with another code is not
/// reported as breaking the MUST.
fn judge_refusal(w: &mut LwtWorld, name: &str, want: u8, close_alone_ok: bool) {
    let (got, closed, text) = refusal_and_close(w, name);
    let exact = match got {
        Answer::Connack(c) => c == want && closed,
        Answer::Closed => close_alone_ok,
        Answer::Silent => false,
    };
    let wanted = if close_alone_ok {
        format!("CONNACK {want:#04x} and close, or a close without CONNACK")
    } else {
        format!("CONNACK {want:#04x} and close")
    };
    if exact_code_is_rule(w, name) {
        let v = simple(w, wanted, exact, text);
        return w.judge(v);
    }
    let refused = match got {
        Answer::Connack(c) => c >= 0x80 && closed,
        Answer::Closed => true,
        Answer::Silent => false,
    };
    let v = simple(w, "refused: a CONNACK >= 0x80 then the close, or a close without CONNACK".into(), refused, text.clone());
    w.judge(v);
    let v = simple(w, wanted, exact, text);
    w.judge_at_most(v, crate::verdict::Level::Should);
}

#[then(expr = "{string} is refused with reason code {word}")]
fn refused_with(w: &mut LwtWorld, name: String, code: String) {
    judge_refusal(w, &name, parse_code(&code), false);
}

#[then(expr = "{string} is refused with reason code {word} or disconnected without CONNACK")]
fn refused_or_closed(w: &mut LwtWorld, name: String, code: String) {
    judge_refusal(w, &name, parse_code(&code), true);
}

#[then(expr = "{string} is disconnected without CONNACK")]
fn closed_without_connack(w: &mut LwtWorld, name: String) {
    let (got, text) = refusal(w, &name);
    let v = simple(w, "a close without CONNACK".into(), got == Answer::Closed, text);
    w.judge(v);
}

#[then(expr = "the refusal of {string} has session present 0")]
fn refusal_session_present(w: &mut LwtWorld, name: String) {
    let got = match &w.sensor(&name).refused {
        Some(ConnectOutcome::Refused(a)) => Some(a.session_present),
        _ => None,
    };
    let v = simple(w, "a refusing CONNACK with Session Present 0".into(), got == Some(false), format!("Session Present {got:?}"));
    w.judge(v);
}

/// How the broker closed the connection `name` kept open: a taken-over connection if there is one,
/// else the one held after the last protocol error or silence, else the live one.
async fn server_close(w: &mut LwtWorld, name: &str) -> ServerClose {
    let within = Duration::from_secs(5) + w.profile().late_tolerance();
    let slot = w.sensor(name);
    if let Some(old) = slot.replaced.last_mut() {
        return old.await_server_close(within).await;
    }
    if let Some(conn) = slot.held.iter_mut().rev().find_map(|r| r.held.as_mut()) {
        return crate::sensor::await_server_close(conn, within).await;
    }
    let live = slot
        .live
        .as_mut()
        .unwrap_or_else(|| panic!("{name} has no connection kept open (live, taken over, silent or after a protocol error)"));
    live.await_server_close(within).await
}

/// Judged at most at SHOULD: a server sends DISCONNECT with a reason code before it closes when it
/// can (5.0 4.13.1: "SHOULD send a DISCONNECT"; MQTT-3.1.4-3 sends 0x8E "as described in 4.13"); only
/// the close itself is a MUST (`the broker closes the connection of …`).
#[then(expr = "the broker closes the connection of {string} with DISCONNECT {word}")]
async fn closed_with_disconnect(w: &mut LwtWorld, name: String, code: String) {
    let want = parse_code(&code);
    let got = server_close(w, &name).await;
    let closed = simple(w, "the broker closes the connection".into(), got != ServerClose::StillOpen, format!("{got:?}"));
    w.judge(closed);
    let v = simple(w, format!("DISCONNECT {want:#04x}, then the close"), got == ServerClose::Disconnect(want), format!("{got:?}"));
    w.judge_at_most(v, crate::verdict::Level::Should);
}

#[then(expr = "the broker closes the connection of {string}")]
async fn closed_by_broker(w: &mut LwtWorld, name: String) {
    let got = server_close(w, &name).await;
    let v = simple(w, "the broker closes the connection".into(), got != ServerClose::StillOpen, format!("{got:?}"));
    w.judge(v);
}

/// A verdict from a plain comparison, with the scenario's rule and level.
pub(crate) fn simple(w: &LwtWorld, expected: String, ok: bool, observed: String) -> Verdict {
    Verdict {
        rule: w.rule(),
        level: w.level,
        status: if ok { Status::Pass } else { Status::Fail },
        expected,
        observed,
        timings: Vec::new(),
        evidence: Vec::new(),
    }
}
