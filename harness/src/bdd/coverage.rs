//! Steps for the coverage scenarios of issue 11: wills sized against the broker's Maximum Packet
//! Size and against a subscriber's, one will fanned out to overlapping filters, and observers with a
//! session that outlives them (clean start with a Session Expiry) that get wills queued while they
//! were offline. Each step is one harness call; each `Then` is one verdict.

use super::expectations::simple;
use super::LwtWorld;
use crate::actuator::{Actuator, ActuatorSpec, Observation};
use crate::verdict::{self, expect_will, Status, Verdict, WillExpectation};
use bytes::Bytes;
use cucumber::{given, then};
use lwt_codec::{Packet, QoS};
use std::time::Duration;
use tokio::time::Instant;

/// Length of sensor `name`'s CONNECT as it would go on the wire, fixed header included.
fn connect_len(w: &mut LwtWorld, name: &str) -> usize {
    let spec = w.spec_mut(name);
    Packet::Connect(spec.to_connect()).to_bytes(spec.version).len()
}

/// Grows or shrinks sensor `name`'s will payload until its whole CONNECT is `want` bytes. The
/// payload length moves the Remaining Length, whose own size can change by a byte at a varint
/// boundary, so this converges in a few rounds or reports that `want` cannot be hit exactly.
fn fill_connect_to(w: &mut LwtWorld, name: &str, want: usize) {
    for _ in 0..4 {
        let len = connect_len(w, name);
        if len == want {
            return;
        }
        let Some(will) = w.spec_mut(name).will.as_mut() else { w.setup_error("a will to size", format!("{name} has no will")) };
        let payload = will.payload.len() as i64 + want as i64 - len as i64;
        if payload < 0 {
            w.setup_error("a CONNECT of the wanted size", format!("{want} bytes is smaller than {name}'s CONNECT without a will payload"));
        }
        will.payload = Bytes::from(vec![b'w'; payload as usize]);
    }
    let len = connect_len(w, name);
    if len != want {
        w.setup_error("a CONNECT of the wanted size", format!("{name}'s CONNECT is {len} bytes, not {want}"));
    }
}

/// Sizes the will payload so that the whole CONNECT is exactly `bytes` long: scenarios put it at,
/// under or over a Maximum Packet Size they configured. (A will payload is Binary Data, at most
/// 65,535 bytes, so a CONNECT cannot reach a limit much above 64 KiB through its will payload.)
#[given(expr = "the will of {string} makes its CONNECT {int} bytes long")]
fn connect_of_size(w: &mut LwtWorld, name: String, bytes: usize) {
    fill_connect_to(w, &name, bytes);
}

/// Connects observer `name` with `spec`, subscribes it to `filter` at `qos` (granted at that QoS,
/// else the scenario cannot establish what it needs) and arms its liveness probe.
async fn subscribed_observer(w: &mut LwtWorld, name: &str, spec: ActuatorSpec, filter: &str, qos: QoS) {
    let a = match w.connect_actuator(name, spec).await {
        Ok(a) => a,
        Err(e) => w.setup_error(&format!("observer {name} connected"), format!("{e:#}")),
    };
    match a.subscribe(&w.topic(filter), qos).await {
        Ok(granted) if granted == qos => {}
        Ok(granted) => w.setup_error(&format!("{name} subscribed at QoS {}", qos as u8), format!("granted QoS {}", granted as u8)),
        Err(e) => w.setup_error(&format!("{name} subscribed to {filter}"), format!("{e:#}")),
    }
    if let Err(e) = verdict::arm_probe(&a).await {
        w.setup_error(&format!("{name}'s liveness probe subscribed"), format!("{e:#}"));
    }
    w.actuators.insert(name.to_owned(), a);
}

/// An observer that announces a small Maximum Packet Size (5.0 CONNECT property): the broker must
/// not send it a will larger than that (MQTT-3.1.2-24) and discards it for this subscriber only
/// (MQTT-3.1.2-25). Its own probe is small, so its liveness can still be proven.
#[given(expr = "actuator {string} with maximum packet size {int} subscribed to {string} at QoS {int}")]
async fn small_observer(w: &mut LwtWorld, name: String, max: u32, filter: String, qos: i32) {
    let mut spec = ActuatorSpec::new(w.client_id(&name), w.default_version);
    spec.max_packet_size = Some(max);
    subscribed_observer(w, &name, spec, &filter, super::clients::parse_qos(qos)).await;
}

/// An observer that starts a new session (Clean Start 1) which outlives its connection (Session
/// Expiry `secs` > 0): when it goes offline and comes back, its subscriptions and the QoS 1/2
/// messages queued for it are still there (5.0 MQTT-3.1.2-23, 4.1).
#[given(expr = "actuator {string} with a clean start and session expiry {int} second(s) subscribed to {string} at QoS {int}")]
async fn clean_start_expiring_observer(w: &mut LwtWorld, name: String, secs: u32, filter: String, qos: i32) {
    let mut spec = ActuatorSpec::new(w.client_id(&name), w.default_version);
    spec.clean_start = true;
    spec.session_expiry = Some(secs);
    subscribed_observer(w, &name, spec, &filter, super::clients::parse_qos(qos)).await;
}

/// Evidence lines as long as a report can show: a large will's payload is cut, not printed whole.
fn shorten(mut v: Verdict) -> Verdict {
    for line in &mut v.evidence {
        if line.len() > 200 {
            let cut = (0..=200).rev().find(|i| line.is_char_boundary(*i)).unwrap_or(0);
            line.truncate(cut);
            line.push_str("… (cut)");
        }
    }
    v
}

/// The will of sensor `sensor`, byte for byte, at `who` within `secs` of the fault (a large payload
/// is compared whole, not by a string written in the feature).
#[then(expr = "{string} receives the will of {string} intact on {string} within {float} second(s)")]
async fn receives_intact(w: &mut LwtWorld, who: String, sensor: String, topic: String, secs: f64) {
    let payload = match w.sensors.get(&sensor).and_then(|s| s.spec.as_ref()).and_then(|s| s.will.as_ref()) {
        Some(will) => will.payload.clone(),
        None => w.setup_error(&format!("{sensor}'s will"), format!("{sensor} has no will")),
    };
    let topic = w.topic(&topic);
    let latest = Duration::from_secs_f64(secs) + w.profile().late_tolerance();
    let exp = WillExpectation::new(&topic, payload.clone(), Duration::ZERO, latest);
    let (fault_at, rule, level) = (w.fault_at(), w.rule(), w.level);
    let v = expect_will(w.actuator(&who), fault_at, &exp, &rule, level).await;
    let obs = w.actuator(&who).on_topic(&topic).into_iter().find(|o| o.payload == payload && o.at >= fault_at);
    w.last_observation = obs.map(|o| (who.clone(), o));
    let mut v = shorten(v);
    if v.status == Status::Fail {
        // Say how close a wrong delivery came: a truncated or altered payload shows as a length.
        let lens: Vec<usize> = w.actuator(&who).on_topic(&topic).iter().filter(|o| o.at >= fault_at).map(|o| o.payload.len()).collect();
        v.observed = format!("{}; payload lengths seen on the topic: {lens:?} (expected {})", v.observed, payload.len());
    }
    w.judge(v);
}

/// Copies of `payload` on `topic` at `observer` since `since`.
fn copies(observer: &Actuator, topic: &str, payload: &[u8], since: Instant) -> Vec<Observation> {
    observer.on_topic(topic).into_iter().filter(|o| o.payload == payload && o.at >= since).collect()
}

/// One client subscribed with overlapping filters: the broker delivers the message once, or once
/// per matching subscription (5.0 3.3.4 / 3.1.1 3.3.5: "MAY deliver further copies … one for each
/// additional matching subscription"). Passes for 1..=`max` copies; the count is taken after the
/// observer proved it was live, so "no more than `max`" is proven.
#[then(expr = "{string} receives {string} on {string} at least once and at most {int} times")]
async fn once_or_per_subscription(w: &mut LwtWorld, who: String, payload: String, topic: String, max: usize) {
    let t = w.topic(&topic);
    let since = w.fault_at();
    let deadline = Instant::now() + Duration::from_secs(5) + w.profile().late_tolerance();
    let a = w.actuator(&who);
    a.wait_for(|o| o.topic == t && o.payload == payload.as_bytes() && o.at >= since, deadline).await;
    tokio::time::sleep(verdict::DUPLICATE_GRACE).await;
    let live = verdict::prove_live(a).await;
    let seen = copies(a, &t, payload.as_bytes(), since);
    let n = seen.len();
    let status = match (&live, n) {
        (_, n) if n > max => Status::Fail,
        (Err(e), _) => Status::Error(e.clone()),
        (Ok(_), 0) => Status::Fail,
        (Ok(_), _) => Status::Pass,
    };
    let qos: Vec<u8> = seen.iter().map(|o| o.qos as u8).collect();
    let proof = match &live {
        Ok(_) => "observer proved live by its probe".to_owned(),
        Err(e) => format!("observer not proved live ({e})"),
    };
    let mut v = simple(w, format!("1 to {max} copies of {payload:?} on {topic}"), false, format!("{n} copies at QoS {qos:?}; {proof}"));
    v.status = status;
    w.judge(v);
}

/// Among the copies `who` received, one arrived at QoS `qos` (the highest QoS of the matching
/// subscriptions, 5.0 MQTT-3.3.4-2 / 3.1.1 MQTT-3.3.5-1): waits up to 5 s for it.
#[then(expr = "{string} receives a copy of {string} on {string} at QoS {int}")]
async fn copy_at_qos(w: &mut LwtWorld, who: String, payload: String, topic: String, qos: i32) {
    let want = super::clients::parse_qos(qos);
    let t = w.topic(&topic);
    let since = w.fault_at();
    let deadline = Instant::now() + Duration::from_secs(5) + w.profile().late_tolerance();
    let a = w.actuator(&who);
    let got = a.wait_for(|o| o.topic == t && o.payload == payload.as_bytes() && o.at >= since && o.qos == want, deadline).await;
    let seen: Vec<u8> = copies(a, &t, payload.as_bytes(), since).iter().map(|o| o.qos as u8).collect();
    let v = simple(w, format!("a copy of {payload:?} at QoS {}", want as u8), got.is_some(), format!("copies at QoS {seen:?}"));
    w.judge(v);
}

/// The broker sends `who` nothing on `topic` (a packet it must not send: a will over `who`'s
/// Maximum Packet Size, MQTT-3.1.2-24) within the window. Proven by `who`'s probe coming back, or,
/// if the broker ended `who`'s connection cleanly (DISCONNECT or end of stream), by having read
/// everything it sent before the close: a closed connection carries nothing more. Whether closing
/// it was right is the next step's verdict (MQTT-3.1.2-25), not this one's.
#[then(expr = "{string} is sent nothing on {string} within {float} second(s)")]
async fn sent_nothing_within(w: &mut LwtWorld, who: String, topic: String, secs: f64) {
    let t = w.topic(&topic);
    let from = w.fault_at();
    let window = Duration::from_secs_f64(secs) + w.profile().late_tolerance();
    let (rule, level) = (w.rule(), w.level);
    tokio::time::sleep_until(from + window).await;
    let a = w.actuator(&who);
    let Some(closed) = a.closed_by_broker() else {
        let v = verdict::expect_no_will(a, &t, from, window, &rule, level).await;
        return w.judge(v);
    };
    let sent: Vec<Observation> = a.observations().into_iter().filter(|o| o.at >= from && lwt_codec::topic::matches(&t, &o.topic)).collect();
    let after = closed.saturating_duration_since(from).as_secs_f64() * 1e3;
    let observed = match sent.first() {
        Some(o) => format!("{} message(s) on {t} ({} bytes of payload first), then the broker closed the connection", sent.len(), o.payload.len()),
        None => format!("nothing; the broker closed the connection {after:.1} ms after the fault, and all it sent before was read"),
    };
    let v = simple(w, format!("nothing sent on {t} within {} ms", window.as_millis()), sent.is_empty(), observed);
    w.judge(v);
}

/// A packet too large for `who` is discarded "and then [the Server behaves] as if it had completed
/// sending that Application Message" (MQTT-3.1.2-25): `who`'s connection and session go on. Its
/// probe must come back; a broker that ended the connection instead breaks the rule.
#[then(expr = "the broker keeps the connection of {string} open")]
async fn keeps_connection_open(w: &mut LwtWorld, who: String) {
    let from = w.fault_at();
    let a = w.actuator(&who);
    let live = verdict::prove_live(a).await;
    let closed = a.closed_by_broker();
    let why = a.broken().unwrap_or_default();
    let mut v = simple(w, format!("{who}'s connection stays open and its probe comes back"), live.is_ok(), String::new());
    v.observed = match (&live, closed) {
        (Ok(_), _) => "the probe came back".into(),
        (Err(_), Some(at)) => format!("{why}, {:.1} ms after the fault", at.saturating_duration_since(from).as_secs_f64() * 1e3),
        (Err(e), None) => {
            v.status = Status::Error(e.clone());
            format!("not established: the probe did not come back and the broker did not close the connection cleanly ({e})")
        }
    };
    w.judge(v);
}
