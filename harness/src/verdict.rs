//! Expectations and verdicts. A verdict names the rule it judges, its level, what was expected and
//! what was measured. Absence is proven, not assumed: after the window the observer must receive a
//! probe it published itself, or the verdict is an error, never a pass.

use crate::actuator::{Actuator, Observation};
use bytes::Bytes;
use lwt_codec::{Property, QoS};
use serde::Serialize;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// Normative level of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Level {
    /// MUST / MUST NOT.
    Must,
    /// SHOULD.
    Should,
    /// MAY, or behaviour the spec leaves open (reported, never failed).
    May,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        })
    }
}

/// Outcome of a check. Pass and Fail judge the broker; Error says the harness could not establish
/// what it needed (set-up refused, a timeout before the behaviour under test, a panic), so it is
/// never counted as a failure of the rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Status {
    /// The broker did what the rule says.
    Pass,
    /// The broker broke the rule.
    Fail,
    /// Not run: the target lacks this capability.
    Skip(String),
    /// The harness could not judge (e.g. the observer died); never counted as pass or fail.
    Error(String),
    /// A MAY the broker chose not to do: reported, never a failure.
    NotDone,
}

/// One measured time, relative to the fault.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timing {
    /// What was timed.
    pub label: String,
    /// Milliseconds.
    pub ms: f64,
}

/// The judgement of one rule in one scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// Rule id from the reference (e.g. `MQTT-3.1.2-8`).
    pub rule: String,
    /// Level.
    pub level: Level,
    /// Outcome.
    pub status: Status,
    /// What was expected.
    pub expected: String,
    /// What was observed.
    pub observed: String,
    /// Measured times.
    pub timings: Vec<Timing>,
    /// Raw evidence (deliveries with times).
    pub evidence: Vec<String>,
}

impl Verdict {
    /// Whether this verdict passed.
    pub fn passed(&self) -> bool {
        self.status == Status::Pass
    }
    /// Whether the broker broke the rule (a MAY can never fail: see [`Verdict::at_level`]).
    pub fn failed(&self) -> bool {
        self.status == Status::Fail
    }
    /// Whether the harness could not judge.
    pub fn errored(&self) -> bool {
        matches!(self.status, Status::Error(_))
    }
    /// The verdict with a MAY failure turned into "not done": a MAY can only pass or not be done.
    pub fn at_level(mut self) -> Verdict {
        if self.level == Level::May && self.status == Status::Fail {
            self.status = Status::NotDone;
        }
        self
    }
    /// An error verdict: the harness could not establish `what` (set-up, a precondition, a panic).
    pub fn error(rule: &str, level: Level, what: &str, why: &str) -> Verdict {
        Verdict {
            rule: rule.into(),
            level,
            status: Status::Error(why.into()),
            expected: what.into(),
            observed: format!("could not establish it: {why}"),
            timings: Vec::new(),
            evidence: Vec::new(),
        }
    }
    /// A skip for a missing capability.
    pub fn skip(rule: &str, level: Level, capability: &str) -> Verdict {
        Verdict {
            rule: rule.into(),
            level,
            status: Status::Skip(capability.into()),
            expected: String::new(),
            observed: format!("skipped: target lacks {capability}"),
            timings: Vec::new(),
            evidence: Vec::new(),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match &self.status {
            Status::Pass => "PASS".to_string(),
            Status::Fail => "FAIL".to_string(),
            Status::Skip(c) => format!("SKIP ({c})"),
            Status::Error(e) => format!("ERROR ({e})"),
            Status::NotDone => "NOT DONE (MAY)".to_string(),
        };
        if let Status::Skip(_) = self.status {
            return write!(f, "{} [{}] {}", self.rule, self.level, status);
        }
        write!(f, "{} [{}] {}: expected {}; observed {}", self.rule, self.level, status, self.expected, self.observed)
    }
}

/// What a will delivery must look like.
#[derive(Clone, Debug, PartialEq)]
pub struct WillExpectation {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Bytes,
    /// QoS it must arrive with.
    pub qos: Option<QoS>,
    /// RETAIN flag it must carry.
    pub retain: Option<bool>,
    /// Properties it must carry, in order (Subscription Identifiers are ignored; a Message Expiry
    /// Interval must be present and not larger than expected). Will Delay Interval must be absent
    /// whenever this is set.
    pub properties: Option<Vec<Property>>,
    /// Not before this long after the fault.
    pub earliest: Duration,
    /// Not after this long after the fault.
    pub latest: Duration,
}

impl WillExpectation {
    /// A will on `topic` with `payload`, due between `earliest` and `latest` after the fault.
    pub fn new(topic: &str, payload: impl Into<Bytes>, earliest: Duration, latest: Duration) -> Self {
        WillExpectation { topic: topic.into(), payload: payload.into(), qos: None, retain: None, properties: None, earliest, latest }
    }
}

/// Extra wait after a delivery to catch a duplicate.
pub const DUPLICATE_GRACE: Duration = Duration::from_millis(500);

/// Waits for the will at `observer` and judges arrival time, exactly-once, QoS, retain and properties.
pub async fn expect_will(observer: &Actuator, fault_at: Instant, exp: &WillExpectation, rule: &str, level: Level) -> Verdict {
    let matches = |o: &Observation| o.topic == exp.topic && o.payload == exp.payload && o.at >= fault_at;
    let got = observer.wait_for(matches, fault_at + exp.latest).await;
    let mut v = Verdict {
        rule: rule.into(),
        level,
        status: Status::Pass,
        expected: format!(
            "will {:?} on {} within [{} ms, {} ms] after the fault",
            String::from_utf8_lossy(&exp.payload),
            exp.topic,
            exp.earliest.as_millis(),
            exp.latest.as_millis()
        ),
        observed: String::new(),
        timings: Vec::new(),
        evidence: Vec::new(),
    };
    let Some(first) = got else {
        v.evidence = evidence(observer, fault_at);
        match observer.broken() {
            // A MAY (a will published while the broker shuts down, 3.1.2.5) whose observer the
            // broker closed first was not done; the broker may defer the will instead.
            Some(why) if level == Level::May => {
                v.status = Status::NotDone;
                v.observed = format!("the broker closed the observer before any will arrived: {why}");
            }
            Some(why) => {
                v.status = Status::Error(why.clone());
                v.observed = format!("observer failed before the will arrived: {why}");
            }
            None => {
                v.status = Status::Fail;
                v.observed = format!("no will within {} ms", exp.latest.as_millis());
            }
        }
        return v;
    };
    // Catch duplicates that follow shortly after.
    tokio::time::sleep(DUPLICATE_GRACE).await;
    let all: Vec<Observation> = observer.observations().into_iter().filter(|o| matches(o)).collect();
    let t = first.at.duration_since(fault_at);
    v.timings.push(Timing { label: "fault → will".into(), ms: ms(t) });
    v.evidence = evidence(observer, fault_at);
    let mut problems = Vec::new();
    if t < exp.earliest {
        problems.push(format!("arrived {:.1} ms after the fault, earlier than {} ms", ms(t), exp.earliest.as_millis()));
    }
    if t > exp.latest {
        problems.push(format!("arrived {:.1} ms after the fault, later than {} ms", ms(t), exp.latest.as_millis()));
    }
    if let Some(q) = exp.qos {
        if first.qos != q {
            problems.push(format!("QoS {} instead of {}", first.qos as u8, q as u8));
        }
    }
    if let Some(r) = exp.retain {
        if first.retain != r {
            problems.push(format!("RETAIN {} instead of {}", first.retain as u8, r as u8));
        }
    }
    if let Some(want) = &exp.properties {
        if let Some(p) = property_problem(want, &first.properties.0) {
            problems.push(p);
        }
    }
    if problems.is_empty() {
        v.observed =
            format!("will after {:.1} ms, {} time(s), QoS {}, RETAIN {}", ms(t), all.len(), first.qos as u8, first.retain as u8);
    } else {
        v.status = Status::Fail;
        v.observed = problems.join("; ");
    }
    v
}

/// The will is published at most once (MQTT-3.1.2-10: removed once published). Counts deliveries of
/// `topic`/`payload` at `observer` since `since`, after waiting [`DUPLICATE_GRACE`] for stragglers;
/// then the observer must prove it was live (a unique probe came back), or a count of one or less is
/// an error: a dead observer sees no duplicate either.
pub async fn expect_at_most_once(observer: &Actuator, topic: &str, payload: &[u8], since: Instant, rule: &str) -> Verdict {
    tokio::time::sleep(DUPLICATE_GRACE).await;
    let live = prove_live(observer).await;
    let seen: Vec<Observation> =
        observer.on_topic(topic).into_iter().filter(|o| o.payload == payload && o.at >= since).collect();
    let status = match (&live, seen.len()) {
        (_, n) if n > 1 => Status::Fail,
        (Err(e), _) => Status::Error(e.clone()),
        (Ok(_), _) => Status::Pass,
    };
    Verdict {
        rule: rule.into(),
        level: Level::Must,
        status,
        expected: format!("at most one will on {topic}"),
        observed: format!("{} deliveries; {}", seen.len(), live_text(&live)),
        timings: seen.iter().map(|o| Timing { label: "fault → delivery".into(), ms: ms(o.at.saturating_duration_since(since)) }).collect(),
        evidence: evidence(observer, since),
    }
}

/// Exactly one will on `topic` with `payload` at `observer` from `since` to `since + window` (the
/// window should reach past every moment a duplicate could be due: the will delay, the session end).
/// After the window the observer must prove it was live with a unique probe through the broker, or
/// the verdict is an error (unless a duplicate already proves the failure).
pub async fn expect_exactly_once(
    observer: &Actuator,
    topic: &str,
    payload: &[u8],
    since: Instant,
    window: Duration,
    rule: &str,
    level: Level,
) -> Verdict {
    tokio::time::sleep_until(since + window).await;
    let live = prove_live(observer).await;
    let seen: Vec<Observation> =
        observer.on_topic(topic).into_iter().filter(|o| o.payload == payload && o.at >= since).collect();
    let status = match (&live, seen.len()) {
        (_, n) if n > 1 => Status::Fail,
        (Err(e), _) => Status::Error(e.clone()),
        (Ok(_), 1) => Status::Pass,
        (Ok(_), _) => Status::Fail,
    };
    Verdict {
        rule: rule.into(),
        level,
        status,
        expected: format!("exactly one will {:?} on {topic} within {} ms", String::from_utf8_lossy(payload), window.as_millis()),
        observed: format!("{} deliveries; {}", seen.len(), live_text(&live)),
        timings: seen.iter().map(|o| Timing { label: "fault → delivery".into(), ms: ms(o.at.saturating_duration_since(since)) }).collect(),
        evidence: evidence(observer, since),
    }
}

/// One will with `payload` on each of `topics` at `observer`, each exactly once, all within `within`
/// of `since` (many sensors dropping together: mosquitto #26). Waits for every topic, then
/// [`DUPLICATE_GRACE`] for duplicates.
pub async fn expect_one_each(
    observer: &Actuator,
    topics: &[String],
    payload: &[u8],
    since: Instant,
    within: Duration,
    rule: &str,
    level: Level,
) -> Verdict {
    let deadline = since + within;
    for t in topics {
        observer.wait_for(|o| o.topic == *t && o.payload == payload && o.at >= since, deadline).await;
    }
    tokio::time::sleep(DUPLICATE_GRACE).await;
    let live = prove_live(observer).await;
    let counts: Vec<usize> = topics
        .iter()
        .map(|t| observer.on_topic(t).iter().filter(|o| o.payload == payload && o.at >= since && o.at <= deadline).count())
        .collect();
    let missing = counts.iter().filter(|c| **c == 0).count();
    let duplicated = counts.iter().filter(|c| **c > 1).count();
    let status = match (&live, duplicated) {
        (_, d) if d > 0 => Status::Fail,
        (Err(e), _) => Status::Error(e.clone()),
        (Ok(_), _) if missing > 0 => Status::Fail,
        (Ok(_), _) => Status::Pass,
    };
    let last = topics
        .iter()
        .filter_map(|t| observer.on_topic(t).into_iter().find(|o| o.payload == payload && o.at >= since))
        .map(|o| o.at.saturating_duration_since(since))
        .max();
    Verdict {
        rule: rule.into(),
        level,
        status,
        expected: format!("one will on each of {} topics within {} ms", topics.len(), within.as_millis()),
        observed: format!("{missing} missing, {duplicated} duplicated; {}", live_text(&live)),
        timings: last.map(|d| Timing { label: "fault → last will".into(), ms: ms(d) }).into_iter().collect(),
        evidence: Vec::new(),
    }
}

/// Compares delivered properties with the expected list; `None` when they agree.
pub fn property_problem(want: &[Property], got: &[Property]) -> Option<String> {
    let got_clean: Vec<&Property> = got
        .iter()
        .filter(|p| !matches!(p, Property::SubscriptionIdentifier(_) | Property::MessageExpiryInterval(_)))
        .collect();
    if got.iter().any(|p| matches!(p, Property::WillDelayInterval(_))) {
        return Some("Will Delay Interval present on the delivered will".into());
    }
    let want_mei = want.iter().find_map(|p| if let Property::MessageExpiryInterval(v) = p { Some(*v) } else { None });
    let got_mei = got.iter().find_map(|p| if let Property::MessageExpiryInterval(v) = p { Some(*v) } else { None });
    match (want_mei, got_mei) {
        (Some(w), None) => return Some(format!("Message Expiry Interval missing (expected ≤ {w})")),
        (Some(w), Some(g)) if g > w || g == 0 => return Some(format!("Message Expiry Interval {g}, expected 1..={w}")),
        (None, Some(g)) => return Some(format!("unexpected Message Expiry Interval {g}")),
        _ => {}
    }
    let want_clean: Vec<&Property> = want
        .iter()
        .filter(|p| !matches!(p, Property::MessageExpiryInterval(_) | Property::WillDelayInterval(_)))
        .collect();
    // Order matters for user properties; other properties are compared as a set.
    let users = |v: &[&Property]| v.iter().filter(|p| matches!(p, Property::UserProperty(..))).map(|p| (*p).clone()).collect::<Vec<_>>();
    let others = |v: &[&Property]| {
        let mut o: Vec<String> = v.iter().filter(|p| !matches!(p, Property::UserProperty(..))).map(|p| format!("{p:?}")).collect();
        o.sort();
        o
    };
    if users(&want_clean) != users(&got_clean) {
        return Some(format!("user properties {:?}, expected {:?} in that order", users(&got_clean), users(&want_clean)));
    }
    if others(&want_clean) != others(&got_clean) {
        return Some(format!("properties {:?}, expected {:?}", others(&got_clean), others(&want_clean)));
    }
    None
}

/// The topic an observer's liveness probe uses.
pub fn probe_topic(observer: &Actuator) -> String {
    format!("lwt-harness/probe/{}", observer.spec.client_id)
}

/// Subscribes the observer to its probe topic. Call before the fault.
pub async fn arm_probe(observer: &Actuator) -> anyhow::Result<()> {
    observer.subscribe(&probe_topic(observer), QoS::AtMostOnce).await?;
    Ok(())
}

static PROBE_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A probe payload no other probe in this process or another one shares: process id, a process-wide
/// counter and the wall clock's nanoseconds, so a second probe never matches the first one's echo.
pub fn probe_nonce() -> String {
    let n = PROBE_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("probe-{}-{n}-{nanos:09}", std::process::id())
}

/// How long a probe may take to come back.
pub const PROBE_WITHIN: Duration = Duration::from_secs(5);

/// Publishes a unique probe on the observer's probe topic and waits for it to come back through the
/// broker: proof the observer was live and everything the broker sent it before has arrived. `Ok`
/// with the probe's return time, or why not.
pub async fn prove_live(observer: &Actuator) -> Result<Instant, String> {
    crate::client::reader::Watching::probe(observer, &probe_topic(observer), PROBE_WITHIN).await
}

fn live_text(live: &Result<Instant, String>) -> String {
    match live {
        Ok(_) => "observer proved live by its probe".into(),
        Err(e) => format!("observer not proved live ({e})"),
    }
}

/// Proves that no will on `topic` (a topic name or filter) reached `observer` between `from` and `from + window`: waits out
/// the window, then publishes a probe through the broker and requires it to come back. A will seen
/// before the probe fails the check; a probe that never comes back makes it an error.
pub async fn expect_no_will(observer: &Actuator, topic: &str, from: Instant, window: Duration, rule: &str, level: Level) -> Verdict {
    expect_none_of(observer, topic, from, window, rule, level, |_| true).await
}

/// [`expect_no_will`] counting only the observations `counts` accepts (e.g. new publications of
/// one payload, not DUP redeliveries of an earlier one).
pub async fn expect_none_of(
    observer: &Actuator,
    topic: &str,
    from: Instant,
    window: Duration,
    rule: &str,
    level: Level,
    counts: impl Fn(&Observation) -> bool,
) -> Verdict {
    tokio::time::sleep_until(from + window).await;
    let mut v = Verdict {
        rule: rule.into(),
        level,
        status: Status::Pass,
        expected: format!("no will on {topic} for {} ms after the fault", window.as_millis()),
        observed: String::new(),
        timings: Vec::new(),
        evidence: Vec::new(),
    };
    let probe = prove_live(observer).await;
    v.evidence = evidence(observer, from);
    // `topic` may be a filter (`clients/+/status`): anything it matches counts.
    let wills: Vec<Observation> = observer
        .observations()
        .into_iter()
        .filter(|o| o.at >= from && lwt_codec::topic::matches(topic, &o.topic) && counts(o))
        .collect();
    if !wills.is_empty() {
        let t = wills[0].at.duration_since(from);
        v.status = Status::Fail;
        v.timings.push(Timing { label: "fault → unexpected will".into(), ms: ms(t) });
        v.observed = format!("{} message(s) on {topic}, first after {:.1} ms", wills.len(), ms(t));
        return v;
    }
    match probe {
        Ok(at) => {
            v.observed = format!("nothing; liveness probe returned {:.1} ms after the window", ms(at.saturating_duration_since(from + window)));
        }
        Err(why) => {
            v.status = Status::Error(why);
            v.observed = "absence not proven: the observer's probe did not come back".into();
        }
    }
    v
}

fn evidence(observer: &Actuator, since: Instant) -> Vec<String> {
    observer
        .observations()
        .iter()
        .map(|o| {
            let t = if o.at >= since { format!("+{:.1} ms", ms(o.at - since)) } else { format!("-{:.1} ms", ms(since - o.at)) };
            format!("{t} {} {:?} qos={} retain={} dup={}", o.topic, String::from_utf8_lossy(&o.payload), o.qos as u8, o.retain as u8, o.dup as u8)
        })
        .collect()
}

/// Milliseconds as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_comparison_keeps_user_property_order_and_rejects_will_delay() {
        let want = vec![
            Property::ContentType("text/plain".into()),
            Property::UserProperty("k1".into(), "a".into()),
            Property::UserProperty("k2".into(), "b".into()),
        ];
        let same = vec![
            Property::UserProperty("k1".into(), "a".into()),
            Property::ContentType("text/plain".into()),
            Property::UserProperty("k2".into(), "b".into()),
        ];
        assert_eq!(property_problem(&want, &same), None);
        let swapped = vec![
            Property::ContentType("text/plain".into()),
            Property::UserProperty("k2".into(), "b".into()),
            Property::UserProperty("k1".into(), "a".into()),
        ];
        assert!(property_problem(&want, &swapped).unwrap().contains("order"));
        let mut with_delay = same.clone();
        with_delay.push(Property::WillDelayInterval(5));
        assert!(property_problem(&want, &with_delay).unwrap().contains("Will Delay"));
        let missing = vec![Property::UserProperty("k1".into(), "a".into()), Property::UserProperty("k2".into(), "b".into())];
        assert!(property_problem(&want, &missing).is_some());
        let mei = vec![Property::MessageExpiryInterval(10)];
        assert_eq!(property_problem(&mei, &[Property::MessageExpiryInterval(9)]), None);
        assert!(property_problem(&mei, &[Property::MessageExpiryInterval(11)]).is_some());
        assert!(property_problem(&mei, &[]).is_some());
    }

    #[test]
    fn probe_nonces_are_unique_within_a_process() {
        let n: std::collections::HashSet<String> = (0..10_000).map(|_| probe_nonce()).collect();
        assert_eq!(n.len(), 10_000);
        assert!(probe_nonce().contains(&format!("-{}-", std::process::id())));
    }

    async fn observer(addr: std::net::SocketAddr, id: &str) -> Actuator {
        let a = Actuator::connect(addr, crate::actuator::ActuatorSpec::new(id, lwt_codec::ProtocolVersion::V5)).await.unwrap();
        a.subscribe("t/#", QoS::AtLeastOnce).await.unwrap();
        arm_probe(&a).await.unwrap();
        a
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn duplicate_checks_count_and_end_with_a_proven_live_observer() {
        let broker = lwt_broker::start_embedded().await.unwrap();
        let obs = observer(broker.local_addr(), "verdict-obs").await;
        let publisher = observer(broker.local_addr(), "verdict-pub").await;
        let since = Instant::now();
        publisher.publish(lwt_codec::Publish::new("t/a", "offline")).await.unwrap();
        let w = Duration::from_millis(300);
        let once = expect_exactly_once(&obs, "t/a", b"offline", since, w, "r", Level::Must).await;
        assert_eq!(once.status, Status::Pass, "{once}");
        assert!(once.observed.contains("proved live"), "{once}");
        assert_eq!(expect_at_most_once(&obs, "t/a", b"offline", since, "r").await.status, Status::Pass);
        let none = expect_exactly_once(&obs, "t/none", b"offline", since, w, "r", Level::Must).await;
        assert_eq!(none.status, Status::Fail, "nothing delivered to a live observer is a failure: {none}");
        publisher.publish(lwt_codec::Publish::new("t/a", "offline")).await.unwrap();
        assert!(prove_live(&obs).await.is_ok());
        assert_eq!(expect_at_most_once(&obs, "t/a", b"offline", since, "r").await.status, Status::Fail);
        assert_eq!(expect_exactly_once(&obs, "t/a", b"offline", since, w, "r", Level::Must).await.status, Status::Fail);
        let each = expect_one_each(&obs, &["t/a".to_string()], b"offline", since, Duration::from_secs(30), "r", Level::Must).await;
        assert_eq!(each.status, Status::Fail, "{each}");
        broker.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dead_observer_errors_instead_of_passing_and_an_old_probe_echo_proves_nothing() {
        let broker = lwt_broker::start_embedded().await.unwrap();
        let obs = observer(broker.local_addr(), "verdict-dead").await;
        // A first probe comes back while the broker is up ...
        assert!(prove_live(&obs).await.is_ok());
        broker.shutdown().await;
        // ... and its echo, still in the log, must not prove the second one.
        let since = Instant::now();
        assert!(prove_live(&obs).await.is_err());
        let w = Duration::from_millis(100);
        assert!(matches!(expect_at_most_once(&obs, "t/a", b"x", since, "r").await.status, Status::Error(_)));
        assert!(matches!(expect_exactly_once(&obs, "t/a", b"x", since, w, "r", Level::Must).await.status, Status::Error(_)));
        assert!(matches!(expect_no_will(&obs, "t/#", since, w, "r", Level::Must).await.status, Status::Error(_)));
        let each = expect_one_each(&obs, &["t/a".to_string()], b"x", since, w, "r", Level::Must).await;
        assert!(matches!(each.status, Status::Error(_)), "{each}");
    }

    #[test]
    fn a_may_never_fails() {
        let v = Verdict { status: Status::Fail, ..Verdict::error("r", Level::May, "x", "y") }.at_level();
        assert_eq!(v.status, Status::NotDone);
        let v = Verdict { status: Status::Fail, ..Verdict::error("r", Level::Should, "x", "y") }.at_level();
        assert_eq!(v.status, Status::Fail);
    }
}
