//! Steps about clients: sensors (with wills), actuators (subscribed observers), connecting,
//! reconnecting and publishing.

use super::LwtWorld;
use crate::actuator::ActuatorSpec;
use crate::proxy::Proxy;
use crate::sensor::{ConnectDefect, ConnectOutcome, Sensor, SensorSpec};
use crate::transport::ClientStream;
use crate::verdict;
use bytes::Bytes;
use cucumber::{given, when};
use lwt_codec::{Packet, Properties, ProtocolVersion, Publish, QoS, SubOptions, Will};
use std::time::Duration;

/// Parses "3.1.1" / "5.0" / "5".
pub fn parse_version(v: &str) -> ProtocolVersion {
    match v {
        "3.1.1" | "311" | "v311" => ProtocolVersion::V311,
        "5.0" | "5" | "v5" => ProtocolVersion::V5,
        other => panic!("unknown MQTT version {other:?} (use 3.1.1 or 5.0)"),
    }
}

/// Parses a QoS number.
pub fn parse_qos(q: i32) -> QoS {
    QoS::from_u8(q as u8).unwrap_or_else(|| panic!("QoS {q} is not 0, 1 or 2"))
}

/// Parses a reason code written as `0x04` or `4`.
pub fn parse_code(s: &str) -> u8 {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u8::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.unwrap_or_else(|_| panic!("bad reason code {s:?}"))
}

fn declare_sensor(w: &mut LwtWorld, name: &str, payload: &str, topic: &str, qos: i32, retain: bool) {
    let topic = w.topic(topic);
    let spec = w.spec_mut(name);
    spec.will = Some(Will {
        topic,
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos: parse_qos(qos),
        retain,
        properties: Properties::new(),
    });
}

/// Starts a reference broker for this scenario alone with the given YAML configuration (e.g.
/// `max_qos: 1`). Scenarios using it are tagged `@reference-only`: against another target they are
/// skipped, since they would judge the reference broker, not the target.
#[given(expr = "a reference broker configured with {string}")]
async fn own_broker(w: &mut LwtWorld, yaml: String) {
    let cfg = lwt_broker::Config::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e:#}"));
    let t = crate::target::Target::start(&crate::target::TargetSpec::Embedded(cfg)).await.expect("reference broker starts");
    assert!(w.actuators.is_empty() && w.proxy.is_none(), "configure the broker before any client connects");
    w.own_broker = Some(t);
}

#[given(expr = "sensor {string} with will {string} on {string} at QoS {int}")]
fn sensor_with_will(w: &mut LwtWorld, name: String, payload: String, topic: String, qos: i32) {
    declare_sensor(w, &name, &payload, &topic, qos, false);
}

#[given(expr = "sensor {string} with retained will {string} on {string} at QoS {int}")]
fn sensor_with_retained_will(w: &mut LwtWorld, name: String, payload: String, topic: String, qos: i32) {
    declare_sensor(w, &name, &payload, &topic, qos, true);
}

/// Sensors `{stem}1` to `{stem}{n}`, each with the will on `topic` with `<n>` replaced by its number,
/// all connected.
#[given(expr = "{int} connected sensors {string} with will {string} on {string} at QoS {int}")]
async fn many_sensors(w: &mut LwtWorld, n: usize, stem: String, payload: String, topic: String, qos: i32) {
    for i in 1..=n {
        let name = format!("{stem}{i}");
        declare_sensor(w, &name, &payload, &topic.replace("<n>", &i.to_string()), qos, false);
        ensure_connected(w, &name).await;
    }
}

#[given(expr = "sensor {string} without a will")]
fn sensor_without_will(w: &mut LwtWorld, name: String) {
    w.spec_mut(&name).will = None;
}

#[given(expr = "{string} speaks MQTT {word}")]
fn speaks(w: &mut LwtWorld, name: String, version: String) {
    w.spec_mut(&name).version = parse_version(&version);
}

#[given(expr = "{string} has keep-alive {int} second(s)")]
fn keep_alive(w: &mut LwtWorld, name: String, secs: u16) {
    w.spec_mut(&name).keep_alive = secs;
}

#[given(expr = "{string} has session expiry {int} second(s)")]
fn session_expiry(w: &mut LwtWorld, name: String, secs: u32) {
    w.spec_mut(&name).session_expiry = Some(secs);
}

#[given(expr = "{string} has a session that never expires")]
fn session_never_expires(w: &mut LwtWorld, name: String) {
    w.spec_mut(&name).session_expiry = Some(u32::MAX);
}

#[given(expr = "{string} keeps its session")]
fn keeps_session(w: &mut LwtWorld, name: String) {
    w.spec_mut(&name).clean_start = false;
}

#[given(expr = "{string} uses client id {string}")]
fn uses_client_id(w: &mut LwtWorld, name: String, id: String) {
    let id = w.client_id(&id);
    w.spec_mut(&name).client_id = id;
}

#[given(expr = "{string} has an empty client id")]
fn empty_client_id(w: &mut LwtWorld, name: String) {
    w.spec_mut(&name).client_id = String::new();
}

/// Opens sensor `name`'s stream through the scenario's fault proxy: TCP, or TLS with the
/// sensor's certificate when the target speaks TLS. A failed TLS handshake is the broker's answer,
/// so it comes back as `Err(why)`.
pub async fn dial_sensor(w: &mut LwtWorld, name: &str) -> Result<ClientStream, String> {
    if w.proxy.is_none() {
        w.proxy = Some(Proxy::start(w.addr()).await.expect("fault proxy starts"));
    }
    let addr = w.proxy.as_ref().expect("proxy").addr();
    let ep = w.endpoint().via(addr);
    if ep.tls.is_none() && ep.ws.is_none() {
        return Ok(ClientStream::connect_tcp(addr).await.expect("connect to the fault proxy"));
    }
    ep.dial(w.identity(name).as_ref()).await.map_err(|e| format!("TLS handshake or WebSocket upgrade failed: {e:#}"))
}

/// Connects sensor `name` through the scenario's fault proxy.
pub async fn connect_sensor(w: &mut LwtWorld, name: &str) -> ConnectOutcome {
    let spec = w.spec_mut(name).clone();
    let extra = w.sensor_connect_properties(name, spec.version);
    let stream = match dial_sensor(w, name).await {
        Ok(s) => s,
        Err(why) => return ConnectOutcome::Closed(why),
    };
    let outcome = if extra.is_empty() {
        Sensor::connect_over(stream, spec).await
    } else {
        let mut c = spec.to_connect();
        c.properties.0.extend(extra);
        let bytes = Packet::Connect(c).to_bytes(spec.version);
        Sensor::connect_raw_over(stream, spec, &bytes).await
    };
    outcome.unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

/// Makes sure sensor `name` is connected (connecting it now if needed).
pub async fn ensure_connected(w: &mut LwtWorld, name: &str) {
    if w.sensor(name).live.is_some() {
        return;
    }
    match connect_sensor(w, name).await {
        ConnectOutcome::Accepted(s) => {
            let slot = w.sensor(name);
            slot.keep_alive = s.session().keep_alive;
            slot.live = Some(s);
        }
        ConnectOutcome::Refused(a) => panic!("{name} was refused with reason code {:#04x}", a.code),
        ConnectOutcome::Closed(why) => panic!("{name}: connection closed without CONNACK ({why})"),
        ConnectOutcome::Silent(t) => panic!("{name}: no CONNACK within {t:?}"),
    }
}

#[given(expr = "{string} is connected")]
#[when(expr = "{string} connects")]
async fn is_connected(w: &mut LwtWorld, name: String) {
    ensure_connected(w, &name).await;
}

#[when(expr = "{string} tries to connect")]
async fn tries_to_connect(w: &mut LwtWorld, name: String) {
    let v = w.spec_mut(&name).version;
    let extra = w.sensor_connect_properties(&name, v);
    let bytes = {
        let spec = w.spec_mut(&name);
        let mut c = spec.to_connect();
        for p in extra {
            c.properties.push(p);
        }
        Packet::Connect(c).to_bytes(spec.version)
    };
    try_connect_bytes(w, &name, |_| Ok(bytes)).await;
}

/// Sends sensor `name`'s CONNECT bytes (made by `make` from its spec) through the fault proxy and
/// records the outcome, and after a refusal how the broker ended the connection.
async fn try_connect_bytes(w: &mut LwtWorld, name: &str, make: impl FnOnce(&SensorSpec) -> anyhow::Result<Bytes>) {
    let spec = w.spec_mut(name).clone();
    let bytes = make(&spec).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let within = Duration::from_secs(2) + w.profile().late_tolerance();
    let stream = match dial_sensor(w, name).await {
        Ok(s) => s,
        Err(why) => {
            let slot = w.sensor(name);
            slot.after_refusal = None;
            slot.refused = Some(ConnectOutcome::Closed(why));
            return;
        }
    };
    let (outcome, after) =
        Sensor::connect_raw_watching(stream, spec, &bytes, within).await.unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let slot = w.sensor(name);
    slot.after_refusal = after;
    match outcome {
        ConnectOutcome::Accepted(s) => slot.live = Some(s),
        other => slot.refused = Some(other),
    }
}

async fn tries_to_connect_with(w: &mut LwtWorld, name: &str, defect: ConnectDefect) {
    try_connect_bytes(w, name, |spec| defect.apply(spec)).await;
}

#[when(expr = "{string} tries to connect with the will payload cut off")]
async fn tries_without_will_payload(w: &mut LwtWorld, name: String) {
    tries_to_connect_with(w, &name, ConnectDefect::WillPayloadMissing).await;
}

#[when(expr = "{string} tries to connect with will flag 0 and will QoS {int}")]
async fn tries_will_qos_without_flag(w: &mut LwtWorld, name: String, qos: u8) {
    tries_to_connect_with(w, &name, ConnectDefect::WillBitsWithoutFlag { qos, retain: false }).await;
}

#[when(expr = "{string} tries to connect with will flag 0 and will retain 1")]
async fn tries_will_retain_without_flag(w: &mut LwtWorld, name: String) {
    tries_to_connect_with(w, &name, ConnectDefect::WillBitsWithoutFlag { qos: 0, retain: true }).await;
}

#[when(expr = "{string} tries to connect with will QoS 3")]
async fn tries_will_qos3(w: &mut LwtWorld, name: String) {
    tries_to_connect_with(w, &name, ConnectDefect::WillQos3).await;
}

#[when(expr = "{string} tries to connect with byte {word} at the end of its will topic")]
async fn tries_will_topic_byte(w: &mut LwtWorld, name: String, byte: String) {
    tries_to_connect_with(w, &name, ConnectDefect::WillTopicByte(parse_code(&byte))).await;
}

#[when(expr = "{string} reconnects after {float} second(s)")]
async fn reconnects(w: &mut LwtWorld, name: String, secs: f64) {
    reconnect(w, &name, secs, false).await;
}

#[when(expr = "{string} reconnects with a clean start after {float} second(s)")]
async fn reconnects_clean(w: &mut LwtWorld, name: String, secs: f64) {
    reconnect(w, &name, secs, true).await;
}

#[when(expr = "{string} reconnects without a will after {float} second(s)")]
async fn reconnects_without_will(w: &mut LwtWorld, name: String, secs: f64) {
    w.spec_mut(&name).will = None;
    reconnect(w, &name, secs, false).await;
}

async fn reconnect(w: &mut LwtWorld, name: &str, secs: f64, clean: bool) {
    let since = w.fault_at();
    tokio::time::sleep_until(since + Duration::from_secs_f64(secs)).await;
    let old = w.sensor(name).live.take();
    drop(old);
    w.spec_mut(name).clean_start = clean;
    ensure_connected(w, name).await;
}

#[when(expr = "{float} second(s) pass")]
async fn seconds_pass(_w: &mut LwtWorld, secs: f64) {
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
}

async fn add_actuator(w: &mut LwtWorld, name: &str, version: ProtocolVersion, filter: &str, options: SubOptions) {
    let spec = ActuatorSpec::new(w.client_id(name), version);
    let a = w.connect_actuator(name, spec).await.unwrap_or_else(|e| panic!("actuator {name}: {e:#}"));
    let codes = a.subscribe_with(&w.topic(filter), options).await.unwrap_or_else(|e| panic!("actuator {name}: {e:#}"));
    assert!(codes.first().is_some_and(|c| *c < 0x80), "actuator {name}: subscription to {filter} refused: {codes:?}");
    verdict::arm_probe(&a).await.unwrap_or_else(|e| panic!("actuator {name}: {e:#}"));
    w.actuators.insert(name.to_owned(), a);
}

#[given(expr = "actuator {string} subscribed to {string} at QoS {int}")]
async fn actuator_subscribed(w: &mut LwtWorld, name: String, filter: String, qos: i32) {
    let v = w.default_version;
    add_actuator(w, &name, v, &filter, SubOptions::qos(parse_qos(qos))).await;
}

#[when(expr = "actuator {string} subscribes to {string} at QoS {int}")]
async fn actuator_subscribes(w: &mut LwtWorld, name: String, filter: String, qos: i32) {
    actuator_subscribed(w, name, filter, qos).await;
}

#[given(expr = "actuator {string} subscribed to {string} at QoS {int} with retain as published")]
async fn actuator_subscribed_rap(w: &mut LwtWorld, name: String, filter: String, qos: i32) {
    let mut o = SubOptions::qos(parse_qos(qos));
    o.retain_as_published = true;
    add_actuator(w, &name, ProtocolVersion::V5, &filter, o).await;
}

#[given(expr = "actuator {string} speaking MQTT {word} subscribed to {string} at QoS {int}")]
async fn actuator_version_subscribed(w: &mut LwtWorld, name: String, version: String, filter: String, qos: i32) {
    add_actuator(w, &name, parse_version(&version), &filter, SubOptions::qos(parse_qos(qos))).await;
}

#[given(expr = "actuator {string} also subscribed to {string} at QoS {int}")]
async fn actuator_also(w: &mut LwtWorld, name: String, filter: String, qos: i32) {
    let f = w.topic(&filter);
    w.actuator(&name).subscribe(&f, parse_qos(qos)).await.unwrap_or_else(|e| panic!("{name}: {e:#}"));
}

/// The spec of a persistent actuator (Clean Start 0, Session Expiry 60 s on 5.0), the same every time
/// it connects, so it resumes its session.
pub(super) fn persistent_actuator_spec(w: &LwtWorld, name: &str) -> ActuatorSpec {
    let mut spec = ActuatorSpec::new(w.client_id(name), w.default_version);
    spec.clean_start = false;
    spec.session_expiry = Some(60);
    spec
}

#[given(expr = "actuator {string} with a persistent session subscribed to {string} at QoS {int}")]
async fn actuator_persistent(w: &mut LwtWorld, name: String, filter: String, qos: i32) {
    let spec = persistent_actuator_spec(w, &name);
    let a = w.connect_actuator(&name, spec).await.unwrap_or_else(|e| panic!("actuator {name}: {e:#}"));
    let granted = a.subscribe(&w.topic(&filter), parse_qos(qos)).await.unwrap_or_else(|e| panic!("actuator {name}: {e:#}"));
    assert_eq!(granted, parse_qos(qos), "actuator {name}: subscription to {filter} granted at a lower QoS");
    verdict::arm_probe(&a).await.unwrap_or_else(|e| panic!("actuator {name}: {e:#}"));
    w.actuators.insert(name, a);
}

#[when(expr = "actuator {string} goes offline")]
async fn actuator_offline(w: &mut LwtWorld, name: String) {
    let a = w.actuators.remove(&name).unwrap_or_else(|| panic!("no actuator {name:?} in this scenario"));
    a.disconnect().await;
}

#[when(expr = "actuator {string} comes back")]
async fn actuator_back(w: &mut LwtWorld, name: String) {
    assert!(!w.actuators.contains_key(&name), "actuator {name} is still online");
    let spec = persistent_actuator_spec(w, &name);
    let a = w.connect_actuator(&name, spec).await.unwrap_or_else(|e| panic!("actuator {name}: {e:#}"));
    assert!(a.session_present, "actuator {name}: its session was not resumed (Session Present 0)");
    verdict::arm_probe(&a).await.unwrap_or_else(|e| panic!("actuator {name}: {e:#}"));
    w.actuators.insert(name, a);
}

async fn publish(w: &mut LwtWorld, name: &str, payload: &str, topic: &str, qos: i32, retain: bool) {
    ensure_connected(w, name).await;
    let mut p = Publish::new(w.topic(topic), Bytes::copy_from_slice(payload.as_bytes()));
    p.qos = parse_qos(qos);
    p.retain = retain;
    let s = w.sensor(name).live.as_mut().expect("connected");
    s.publish(p).await.unwrap_or_else(|e| panic!("{name} publish: {e:#}"));
}

#[given(expr = "{string} publishes {string} on {string} at QoS {int}")]
#[when(expr = "{string} publishes {string} on {string} at QoS {int}")]
async fn publishes(w: &mut LwtWorld, name: String, payload: String, topic: String, qos: i32) {
    publish(w, &name, &payload, &topic, qos, false).await;
}

#[given(expr = "{string} publishes retained {string} on {string} at QoS {int}")]
#[when(expr = "{string} publishes retained {string} on {string} at QoS {int}")]
async fn publishes_retained(w: &mut LwtWorld, name: String, payload: String, topic: String, qos: i32) {
    publish(w, &name, &payload, &topic, qos, true).await;
}

#[when(expr = "{string} publishes {string} on {string} at QoS {int} without waiting for the acknowledgement")]
async fn publishes_no_wait(w: &mut LwtWorld, name: String, payload: String, topic: String, qos: i32) {
    ensure_connected(w, &name).await;
    let mut p = Publish::new(w.topic(&topic), Bytes::copy_from_slice(payload.as_bytes()));
    p.qos = parse_qos(qos);
    let s = w.sensor(&name).live.as_mut().expect("connected");
    s.publish_no_wait(p).await.unwrap_or_else(|e| panic!("{name} publish: {e:#}"));
}

#[when(expr = "{string} pings every {float} second(s) for {float} second(s)")]
async fn pings(w: &mut LwtWorld, name: String, every: f64, total: f64) {
    ensure_connected(w, &name).await;
    let start = tokio::time::Instant::now();
    // Expectations that follow count from the start of the pinging.
    w.last_fault = Some((name.clone(), start, start));
    let until = start + Duration::from_secs_f64(total);
    let s = w.sensor(&name).live.as_mut().expect("connected");
    while tokio::time::Instant::now() + Duration::from_secs_f64(every) <= until {
        tokio::time::sleep(Duration::from_secs_f64(every)).await;
        s.send(&lwt_codec::Packet::PingReq).await.unwrap_or_else(|e| panic!("{name} ping: {e:#}"));
    }
}
