//! Built-in checks: one small scenario per behaviour, each ending in verdicts with rule ids. They use
//! only the engine's public pieces (sensors, actuators, faults, proxy, verdicts), so they run against
//! any target, and they are what the engine's own truth tests run against the reference broker,
//! mosquitto and the mutants.

use crate::client_settings::ClientSettings;
use crate::actuator::{Actuator, ActuatorSpec};
use crate::fault::{self, Fault, NetFault};
use crate::latency::{LatencyBook, SeriesKey};
use crate::profile::Profile;
use crate::proxy::Proxy;
use crate::sensor::{Sensor, SensorSpec};
use crate::transport::Endpoint;
use crate::verdict::{self, expect_no_will, expect_will, Level, Verdict, WillExpectation};
use lwt_codec::{reason, Property, ProtocolVersion, Publish, QoS};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Where and how checks run.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Broker address.
    pub addr: SocketAddr,
    /// How clients reach it (TLS settings included).
    pub endpoint: Endpoint,
    /// What the target declares.
    pub profile: Profile,
    /// Prefix that keeps client ids and topics of concurrent runs apart.
    pub prefix: String,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Ctx {
    /// A context for `addr` with `profile`.
    pub fn new(addr: SocketAddr, profile: Profile) -> Ctx {
        Ctx { addr, endpoint: Endpoint::tcp(addr), profile, prefix: format!("lwt{}", std::process::id()) }
    }
    /// A context for `target` (its endpoint carries TLS settings when it has them).
    pub fn for_target(target: &crate::target::Target, profile: Profile) -> Ctx {
        Ctx { endpoint: target.endpoint(), ..Ctx::new(target.addr(), profile) }
    }
    /// A sensor connection to the broker, or through the fault proxy at `via`.
    async fn sensor(&self, via: Option<SocketAddr>, mut spec: SensorSpec) -> anyhow::Result<crate::sensor::ConnectOutcome> {
        ClientSettings::from_profile(&self.profile).fill_sensor("sensor", &mut spec);
        let ep = via.map(|a| self.endpoint.via(a)).unwrap_or_else(|| self.endpoint.clone());
        Sensor::connect_over(ep.dial(None).await?, spec).await
    }
    /// An observer connection.
    async fn actuator(&self, mut spec: ActuatorSpec) -> anyhow::Result<Actuator> {
        ClientSettings::from_profile(&self.profile).fill_observer("actuator", &mut spec);
        Actuator::connect_over(self.endpoint.dial(None).await?, spec).await
    }
    /// A unique name for this run.
    pub fn unique(&self, what: &str) -> String {
        format!("{}-{}-{}", self.prefix, what, SEQ.fetch_add(1, Ordering::Relaxed))
    }
    fn slack(&self) -> Duration {
        Duration::from_millis(500) + self.profile.late_tolerance()
    }
}

/// Protocol label for reports.
pub fn protocol_label(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V311 => "3.1.1",
        ProtocolVersion::V5 => "5.0",
    }
}

/// A check's name, the protocol it runs with, and its verdicts.
#[derive(Debug)]
pub struct CheckResult {
    /// Check name.
    pub name: String,
    /// Protocol.
    pub protocol: ProtocolVersion,
    /// Verdicts.
    pub verdicts: Vec<Verdict>,
}

/// Every built-in check name.
pub const ALL: &[&str] = &[
    "fin",
    "rst",
    "keepalive",
    "disconnect-normal",
    "disconnect-with-will",
    "disconnect-invalid-code",
    "takeover",
    "takeover-persistent",
    "will-delay",
    "will-delay-reconnect",
    "retained-will",
    "blackhole",
    "protocol-error",
    "will-qos",
    "will-properties",
    "cut-fin",
    "cut-rst",
    "latency-keepalive",
];

/// Runs the named check with `version`; skips (with a verdict saying why) what the profile lacks.
pub async fn run(ctx: &Ctx, name: &str, version: ProtocolVersion, book: &mut LatencyBook) -> anyhow::Result<CheckResult> {
    let v5_only = matches!(name, "disconnect-with-will" | "disconnect-invalid-code" | "will-delay" | "will-delay-reconnect" | "will-properties");
    let verdicts = if !ctx.profile.speaks(protocol_label(version)) {
        vec![Verdict::skip(name, Level::Must, &format!("MQTT {}", protocol_label(version)))]
    } else if v5_only && version != ProtocolVersion::V5 {
        vec![Verdict::skip(name, Level::Must, "MQTT 5.0 (the rule does not exist in 3.1.1)")]
    } else {
        match name {
            "fin" => abrupt(ctx, version, Fault::Fin, book).await?,
            "rst" => abrupt(ctx, version, Fault::Rst, book).await?,
            "keepalive" => keepalive(ctx, version, false, book).await?,
            "blackhole" => keepalive(ctx, version, true, book).await?,
            "disconnect-normal" => disconnect_normal(ctx, version).await?,
            "disconnect-with-will" => abrupt(ctx, version, Fault::Disconnect { reason: reason::DISCONNECT_WITH_WILL, session_expiry: None }, book).await?,
            "protocol-error" => abrupt(ctx, version, Fault::Protocol(fault::ProtocolViolation::SecondConnect), book).await?,
            "disconnect-invalid-code" => abrupt(ctx, version, Fault::Disconnect { reason: 0xFF, session_expiry: None }, book).await?,
            "takeover" => takeover(ctx, version, true).await?,
            "takeover-persistent" => takeover(ctx, version, false).await?,
            "will-delay" => will_delay(ctx, false).await?,
            "will-delay-reconnect" => will_delay(ctx, true).await?,
            "retained-will" => retained_will(ctx, version).await?,
            "will-qos" => will_qos(ctx, version).await?,
            "will-properties" => will_properties(ctx).await?,
            "cut-fin" => cut(ctx, version, NetFault::CutFin, book).await?,
            "cut-rst" => cut(ctx, version, NetFault::CutRst, book).await?,
            "latency-keepalive" => latency_keepalive(ctx, version).await?,
            other => anyhow::bail!("unknown check {other:?}; known: {}", ALL.join(", ")),
        }
    };
    Ok(CheckResult { name: name.into(), protocol: version, verdicts })
}

async fn observer(ctx: &Ctx, version: ProtocolVersion, filter: &str, qos: QoS) -> anyhow::Result<Actuator> {
    let a = ctx.actuator(ActuatorSpec::new(ctx.unique("actuator"), version)).await?;
    a.subscribe(filter, qos).await?;
    verdict::arm_probe(&a).await?;
    Ok(a)
}

fn rule_for_abrupt(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::V311 => "MQTT-3.1.2-8",
        ProtocolVersion::V5 => "MQTT-3.1.2-8",
    }
}

/// FIN, RST, DISCONNECT 0x04 or a protocol error: the will arrives promptly, exactly once.
async fn abrupt(ctx: &Ctx, version: ProtocolVersion, f: Fault, book: &mut LatencyBook) -> anyhow::Result<Vec<Verdict>> {
    let id = ctx.unique("sensor");
    let group = ctx.unique("site");
    let topic = format!("{group}/clients/{id}/status");
    let obs = observer(ctx, version, &format!("{group}/clients/+/status"), QoS::AtLeastOnce).await?;
    let spec = SensorSpec::new(&id, version).with_will(&topic, "offline", QoS::AtLeastOnce, false);
    let sensor = ctx.sensor(None, spec).await?.accepted()?;
    let rec = sensor.inject(&f).await?;
    let mut exp = WillExpectation::new(&topic, "offline", Duration::ZERO, ctx.slack());
    exp.qos = Some(QoS::AtLeastOnce);
    exp.retain = Some(false);
    let rule = match &f {
        // 0xFF is not in the DISCONNECT table: a malformed packet, so the will is due (MQTT-4.13.1-1).
        Fault::Disconnect { reason: 0xFF, .. } => "MQTT-4.13.1-1",
        Fault::Disconnect { .. } => "MQTT-3.14.2-1",
        Fault::Protocol(_) => "MQTT-4.13.1-1",
        _ => rule_for_abrupt(version),
    };
    let v = expect_will(&obs, rec.actual, &exp, rule, Level::Must).await;
    let once = verdict::expect_at_most_once(&obs, &topic, b"offline", rec.actual, "MQTT-3.1.2-10").await;
    if let Some(t) = obs.on_topic(&topic).first() {
        book.record(
            SeriesKey { fault: f.kind().into(), qos: 1, protocol: protocol_label(version).into() },
            t.at.saturating_duration_since(rec.planned),
            t.at.saturating_duration_since(rec.actual),
        );
    }
    drop(rec);
    Ok(vec![v, once])
}

/// Silence (or a proxy blackhole): the will comes no earlier than 1.5 × keep-alive after the last
/// packet and not much later.
async fn keepalive(ctx: &Ctx, version: ProtocolVersion, via_proxy: bool, book: &mut LatencyBook) -> anyhow::Result<Vec<Verdict>> {
    let ka: u16 = 1.max(ctx.profile.keep_alive_min);
    let id = ctx.unique("sensor");
    let topic = format!("{}/clients/{id}/status", ctx.prefix);
    let obs = observer(ctx, version, &topic, QoS::AtLeastOnce).await?;
    let mut spec = SensorSpec::new(&id, version).with_will(&topic, "offline", QoS::AtLeastOnce, false);
    spec.keep_alive = ka;
    let proxy = if via_proxy { Some(Proxy::start(ctx.addr).await?) } else { None };
    let addr = proxy.as_ref().map(|p| p.addr()).unwrap_or(ctx.addr);
    let sensor = ctx.sensor(Some(addr), spec).await?.accepted()?;
    let ka = sensor.connack.properties.server_keep_alive().unwrap_or(ka);
    let deadline = Duration::from_millis(ka as u64 * 1500);
    let (base, _held_fault, _held_sensor) = match &proxy {
        Some(p) => {
            let last = sensor.last_sent();
            let rec = p.inject(sensor.local_addr()?, &id, NetFault::Blackhole)?;
            (last, Some(rec), Some(sensor))
        }
        None => {
            let rec = sensor.inject(&Fault::Silence).await?;
            (rec.actual, Some(rec), None)
        }
    };
    let exp = WillExpectation::new(&topic, "offline", deadline, deadline + ctx.slack());
    let rule = match version {
        ProtocolVersion::V311 => "MQTT-3.1.2-24",
        ProtocolVersion::V5 => "MQTT-3.1.2-22",
    };
    let v = expect_will(&obs, base, &exp, rule, Level::Must).await;
    if let Some(t) = obs.on_topic(&topic).first() {
        book.keepalive.record(t.at.saturating_duration_since(base), deadline);
    }
    Ok(vec![v])
}

/// DISCONNECT (0x00) discards the will: proven absent over the keep-alive window and beyond.
async fn disconnect_normal(ctx: &Ctx, version: ProtocolVersion) -> anyhow::Result<Vec<Verdict>> {
    let id = ctx.unique("sensor");
    let topic = format!("{}/clients/{id}/status", ctx.prefix);
    let obs = observer(ctx, version, &topic, QoS::AtLeastOnce).await?;
    let mut spec = SensorSpec::new(&id, version).with_will(&topic, "offline", QoS::AtLeastOnce, false);
    spec.keep_alive = 1;
    let sensor = ctx.sensor(None, spec).await?.accepted()?;
    let rec = sensor.inject(&Fault::Disconnect { reason: 0, session_expiry: None }).await?;
    let window = Duration::from_millis(2000) + ctx.profile.late_tolerance();
    Ok(vec![expect_no_will(&obs, &topic, rec.actual, window, "MQTT-3.14.4-3", Level::Must).await])
}

/// Takeover: the old connection is closed and its will is published (3.1.1 MQTT-3.1.4-2 with
/// -3.1.2-8; 5.0 MQTT-3.1.4-3). With `clean` false both connections keep a persistent session
/// (5.0: session expiry 60 s, no will delay: decision-table row 11), where mosquitto diverges.
async fn takeover(ctx: &Ctx, version: ProtocolVersion, clean: bool) -> anyhow::Result<Vec<Verdict>> {
    let id = ctx.unique("sensor");
    let topic = format!("{}/clients/{id}/status", ctx.prefix);
    let obs = observer(ctx, version, &topic, QoS::AtLeastOnce).await?;
    let mut spec = SensorSpec::new(&id, version).with_will(&topic, "offline", QoS::AtLeastOnce, false);
    if !clean {
        spec.clean_start = false;
        spec.session_expiry = Some(60);
    }
    let old = ctx.sensor(None, spec.clone()).await?.accepted()?;
    let mut new_spec = spec;
    new_spec.will = None;
    let (rec, outcome) = fault::takeover_via(&ctx.endpoint, new_spec, clean).await?;
    let exp = WillExpectation::new(&topic, "offline", Duration::ZERO, ctx.slack());
    let rule = match version {
        ProtocolVersion::V311 => "MQTT-3.1.4-2",
        ProtocolVersion::V5 => "MQTT-3.1.4-3",
    };
    // 5.0 with a resumed persistent session and no will delay (decision-table row 11): MQTT-3.1.3-9
    // can be read to suppress the will, so publishing it is the reference broker's choice, reported
    // at MAY (pass or not done), never a failure.
    let level = if !clean && version == ProtocolVersion::V5 { Level::May } else { Level::Must };
    let v = expect_will(&obs, rec.actual, &exp, rule, level).await.at_level();
    drop((old, outcome));
    Ok(vec![v])
}

/// Will Delay 2 s with Session Expiry 30 s: the will waits for the delay (3.1.3.2.2), and a reconnect
/// with clean start 0 inside the delay cancels it (MQTT-3.1.3-9).
async fn will_delay(ctx: &Ctx, reconnect: bool) -> anyhow::Result<Vec<Verdict>> {
    let version = ProtocolVersion::V5;
    let delay = 2u32;
    let id = ctx.unique("sensor");
    let topic = format!("{}/clients/{id}/status", ctx.prefix);
    let obs = observer(ctx, version, &topic, QoS::AtLeastOnce).await?;
    let mut spec = SensorSpec::new(&id, version)
        .with_will(&topic, "offline", QoS::AtLeastOnce, false)
        .will_property(Property::WillDelayInterval(delay));
    spec.session_expiry = Some(30);
    let sensor = ctx.sensor(None, spec.clone()).await?.accepted()?;
    let rec = sensor.inject(&Fault::Fin).await?;
    let d = Duration::from_secs(delay as u64);
    if !reconnect {
        let exp = WillExpectation::new(&topic, "offline", d, d + ctx.slack());
        // 5.0 MQTT-3.1.2-8: published once the connection closed and the Will Delay Interval elapsed.
        return Ok(vec![expect_will(&obs, rec.actual, &exp, "MQTT-3.1.2-8", Level::Must).await]);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut again = spec;
    again.clean_start = false;
    again.will = None;
    let back = ctx.sensor(None, again).await?.accepted()?;
    let window = d + Duration::from_millis(1000) + ctx.profile.late_tolerance();
    let v = expect_no_will(&obs, &topic, rec.actual, window, "MQTT-3.1.3-9", Level::Must).await;
    drop(back);
    Ok(vec![v])
}

/// Will Retain 1: a subscriber that arrives after the will gets it with RETAIN 1 (MQTT-3.1.2-17).
async fn retained_will(ctx: &Ctx, version: ProtocolVersion) -> anyhow::Result<Vec<Verdict>> {
    if !ctx.profile.retain_available {
        return Ok(vec![Verdict::skip("MQTT-3.1.2-17", Level::Must, "retained messages")]);
    }
    let id = ctx.unique("sensor");
    let topic = format!("{}/clients/{id}/status", ctx.prefix);
    let watcher = observer(ctx, version, &topic, QoS::AtLeastOnce).await?;
    let spec = SensorSpec::new(&id, version).with_will(&topic, "offline", QoS::AtLeastOnce, true);
    let sensor = ctx.sensor(None, spec).await?.accepted()?;
    let rec = sensor.inject(&Fault::Fin).await?;
    // Wait until the will has been published (the watcher sees it), then subscribe late.
    let seen = watcher.wait_for(|o| o.topic == topic, rec.actual + Duration::from_secs(5) + ctx.profile.late_tolerance()).await;
    let late = ctx.actuator(ActuatorSpec::new(ctx.unique("late"), version)).await?;
    let sub_at = Instant::now();
    late.subscribe(&topic, QoS::AtLeastOnce).await?;
    let mut exp = WillExpectation::new(&topic, "offline", Duration::ZERO, Duration::from_secs(2));
    exp.retain = Some(true);
    let mut v = expect_will(&late, sub_at, &exp, "MQTT-3.1.2-17", Level::Must).await;
    if seen.is_none() {
        v.observed = format!("{} (the watcher never saw the will either)", v.observed);
    }
    // Clean up the retained message so reruns start empty.
    let mut cleaner = ctx.sensor(None, SensorSpec::new(ctx.unique("cleaner"), version)).await?.accepted()?;
    let mut clear = Publish::new(topic.clone(), Vec::<u8>::new());
    clear.retain = true;
    cleaner.publish(clear).await?;
    Ok(vec![v])
}

/// A QoS 2 will reaches a QoS 0 subscriber at QoS 0 and a QoS 1 subscriber at QoS 1
/// (3.1.1 MQTT-3.8.4-6, 5.0 MQTT-3.8.4-8).
async fn will_qos(ctx: &Ctx, version: ProtocolVersion) -> anyhow::Result<Vec<Verdict>> {
    if ctx.profile.max_qos < 2 {
        return Ok(vec![Verdict::skip("MQTT-3.8.4-6", Level::Must, "QoS 2")]);
    }
    let rule = match version {
        ProtocolVersion::V311 => "MQTT-3.8.4-6",
        ProtocolVersion::V5 => "MQTT-3.8.4-8",
    };
    let id = ctx.unique("sensor");
    let topic = format!("{}/clients/{id}/status", ctx.prefix);
    let q0 = observer(ctx, version, &topic, QoS::AtMostOnce).await?;
    let q1 = observer(ctx, version, &topic, QoS::AtLeastOnce).await?;
    let spec = SensorSpec::new(&id, version).with_will(&topic, "offline", QoS::ExactlyOnce, false);
    let sensor = ctx.sensor(None, spec).await?.accepted()?;
    let rec = sensor.inject(&Fault::Fin).await?;
    let mut out = Vec::new();
    for (obs, qos) in [(&q0, QoS::AtMostOnce), (&q1, QoS::AtLeastOnce)] {
        let mut exp = WillExpectation::new(&topic, "offline", Duration::ZERO, ctx.slack());
        exp.qos = Some(qos);
        out.push(expect_will(obs, rec.actual, &exp, rule, Level::Must).await);
    }
    Ok(out)
}

/// Every will property arrives unchanged, user properties in order, and Will Delay Interval does not
/// appear on the delivered will (5.0 3.1.3.2, MQTT-3.1.3-10).
async fn will_properties(ctx: &Ctx) -> anyhow::Result<Vec<Verdict>> {
    let version = ProtocolVersion::V5;
    let id = ctx.unique("sensor");
    let topic = format!("{}/clients/{id}/status", ctx.prefix);
    let obs = observer(ctx, version, &topic, QoS::AtLeastOnce).await?;
    let others = vec![
        Property::PayloadFormatIndicator(1),
        Property::MessageExpiryInterval(60),
        Property::ContentType("text/plain".into()),
        Property::ResponseTopic(format!("{topic}/response")),
        Property::CorrelationData(bytes::Bytes::from_static(b"\x00\x01corr")),
    ];
    let users = vec![
        Property::UserProperty("k1".into(), "v1".into()),
        Property::UserProperty("k2".into(), "v2".into()),
        Property::UserProperty("k1".into(), "v3".into()),
    ];
    let mut spec = SensorSpec::new(&id, version).with_will(&topic, "offline", QoS::AtLeastOnce, false);
    for p in others.iter().chain(&users) {
        spec = spec.will_property(p.clone());
    }
    spec = spec.will_property(Property::WillDelayInterval(0));
    let sensor = ctx.sensor(None, spec).await?.accepted()?;
    let rec = sensor.inject(&Fault::Fin).await?;
    let exp = WillExpectation::new(&topic, "offline", Duration::ZERO, ctx.slack());
    let arrived = expect_will(&obs, rec.actual, &exp, "MQTT-3.1.2-8", Level::Must).await;
    let first = obs.on_topic(&topic).into_iter().next();
    let judge = |rule: &str, what: &str, problem: Option<String>| Verdict {
        rule: rule.into(),
        level: Level::Must,
        status: match (&first, &problem) {
            (None, _) => crate::verdict::Status::Fail,
            (Some(_), None) => crate::verdict::Status::Pass,
            (Some(_), Some(_)) => crate::verdict::Status::Fail,
        },
        expected: what.into(),
        observed: match (&first, problem) {
            (None, _) => "no will delivered".into(),
            (Some(_), None) => "as expected".into(),
            (Some(_), Some(p)) => p,
        },
        timings: Vec::new(),
        evidence: Vec::new(),
    };
    let got = first.as_ref().map(|o| o.properties.0.clone()).unwrap_or_default();
    let got_others: Vec<Property> = got.iter().filter(|p| !matches!(p, Property::UserProperty(..))).cloned().collect();
    let got_users: Vec<Property> = got.iter().filter(|p| matches!(p, Property::UserProperty(..))).cloned().collect();
    // Content Type, Response Topic, Correlation Data and Payload Format unaltered (5.0 MQTT-3.3.2-20
    // and 3.1.3.2.3-7), Message Expiry present and not larger, Will Delay Interval absent.
    let unaltered = judge(
        "MQTT-3.3.2-20",
        "will properties forwarded unaltered, Will Delay Interval absent",
        verdict::property_problem(&others, &got_others),
    );
    let order = judge(
        "MQTT-3.1.3-10",
        "user properties k1=v1, k2=v2, k1=v3 in that order",
        (got_users != users).then(|| format!("user properties {got_users:?}")),
    );
    Ok(vec![arrived, unaltered, order])
}

/// Broker restart with a connected sensor: the specs let the broker publish the will before it stops
/// or defer it to the restart (3.1.1 and 5.0 section 3.1.2.5, MAY), or lose it on a crash without
/// persistence. What it may not do is publish it twice (MQTT-3.1.2-10: removed once published).
/// One observer is connected through the stop, a second connects after the restart.
pub async fn run_restart(ctx: &Ctx, target: &mut crate::target::Target, kill: bool) -> anyhow::Result<Verdict> {
    use crate::target::StopKind;
    let version = ProtocolVersion::V311;
    let id = ctx.unique("sensor");
    let topic = format!("{}/clients/{id}/status", ctx.prefix);
    let before = observer(ctx, version, &topic, QoS::AtLeastOnce).await?;
    let spec = SensorSpec::new(&id, version).with_will(&topic, "offline", QoS::AtLeastOnce, false);
    let sensor = ctx.sensor(None, spec).await?.accepted()?;
    let how = if kill { StopKind::Kill } else { StopKind::Graceful };
    let stopped_at = target.restart(how).await?;
    drop(sensor);
    let after = observer(ctx, version, &topic, QoS::AtLeastOnce).await?;
    tokio::time::sleep(Duration::from_secs(2) + ctx.profile.late_tolerance()).await;
    let seen: Vec<(&str, Instant)> = before
        .on_topic(&topic)
        .iter()
        .map(|o| ("before the stop", o.at))
        .chain(after.on_topic(&topic).iter().map(|o| ("after the restart", o.at)))
        .collect();
    let what = if kill { "crash" } else { "orderly stop" };
    let observed = if seen.is_empty() {
        format!("no will within 2 s of the restart ({what}): deferred or lost")
    } else {
        seen.iter()
            .map(|(w, at)| format!("will seen by the observer connected {w}, {:.1} ms after the {what}", verdict::ms(at.saturating_duration_since(stopped_at))))
            .collect::<Vec<_>>()
            .join("; ")
    };
    Ok(Verdict {
        rule: "MQTT-3.1.2-10".into(),
        level: if seen.len() > 1 { Level::Must } else { Level::May },
        status: if seen.len() > 1 { crate::verdict::Status::Fail } else { crate::verdict::Status::Pass },
        expected: "the will at most once: before the stop, after the restart, or not at all without persistence (MAY defer)".into(),
        observed,
        timings: Vec::new(),
        evidence: Vec::new(),
    })
}

/// The proxy cuts the link with FIN or RST: to the broker it is an abrupt close (MQTT-3.1.2-8).
async fn cut(ctx: &Ctx, version: ProtocolVersion, f: NetFault, book: &mut LatencyBook) -> anyhow::Result<Vec<Verdict>> {
    let id = ctx.unique("sensor");
    let topic = format!("{}/clients/{id}/status", ctx.prefix);
    let obs = observer(ctx, version, &topic, QoS::AtLeastOnce).await?;
    let proxy = Proxy::start(ctx.addr).await?;
    let spec = SensorSpec::new(&id, version).with_will(&topic, "offline", QoS::AtLeastOnce, false);
    let sensor = ctx.sensor(Some(proxy.addr()), spec).await?.accepted()?;
    let rec = proxy.inject(sensor.local_addr()?, &id, f)?;
    let exp = WillExpectation::new(&topic, "offline", Duration::ZERO, ctx.slack());
    let v = expect_will(&obs, rec.actual, &exp, "MQTT-3.1.2-8", Level::Must).await;
    if let Some(t) = obs.on_topic(&topic).first() {
        book.record(
            SeriesKey { fault: rec.fault.kind().into(), qos: 1, protocol: protocol_label(version).into() },
            t.at.saturating_duration_since(rec.planned),
            t.at.saturating_duration_since(rec.actual),
        );
    }
    drop(sensor);
    Ok(vec![v])
}

/// A slow but live client: 300 ms of added latency each way while it pings every 0.9 × keep-alive.
/// The broker must not fire the will early (MQTT-3.1.2-24 / -22: only after 1.5 × keep-alive of
/// silence); then the link is cut and the will must come.
async fn latency_keepalive(ctx: &Ctx, version: ProtocolVersion) -> anyhow::Result<Vec<Verdict>> {
    let ka: u16 = 1.max(ctx.profile.keep_alive_min);
    let id = ctx.unique("sensor");
    let topic = format!("{}/clients/{id}/status", ctx.prefix);
    let obs = observer(ctx, version, &topic, QoS::AtLeastOnce).await?;
    let proxy = Proxy::start(ctx.addr).await?;
    let mut spec = SensorSpec::new(&id, version).with_will(&topic, "offline", QoS::AtLeastOnce, false);
    spec.keep_alive = ka;
    let mut sensor = ctx.sensor(Some(proxy.addr()), spec).await?.accepted()?;
    let ka = sensor.connack.properties.server_keep_alive().unwrap_or(ka);
    let rec = proxy.inject(sensor.local_addr()?, &id, NetFault::Latency(Duration::from_millis(300)))?;
    let interval = Duration::from_millis(ka as u64 * 900);
    let pinging_for = Duration::from_millis(ka as u64 * 4000);
    let until = Instant::now() + pinging_for;
    let pinger = tokio::spawn(async move {
        while Instant::now() < until {
            tokio::time::sleep(interval).await;
            if sensor.send(&lwt_codec::Packet::PingReq).await.is_err() {
                break;
            }
        }
        sensor
    });
    let rule = match version {
        ProtocolVersion::V311 => "MQTT-3.1.2-24",
        ProtocolVersion::V5 => "MQTT-3.1.2-22",
    };
    let quiet = expect_no_will(&obs, &topic, rec.actual, pinging_for, rule, Level::Must).await;
    let sensor = pinger.await?;
    let cut = proxy.inject(sensor.local_addr()?, &id, NetFault::CutFin)?;
    let exp = WillExpectation::new(&topic, "offline", Duration::ZERO, ctx.slack());
    let fired = expect_will(&obs, cut.actual, &exp, "MQTT-3.1.2-8", Level::Must).await;
    Ok(vec![quiet, fired])
}
