//! The crash storm (`fault: { kind: crash }`): a fleet with wills, some delayed, on a broker the
//! harness launched; before the crash a share of the fleet ends normally (DISCONNECT 0x00: those
//! wills are deleted) and a share closes with FIN (those wills are published before the crash);
//! then the broker is killed with SIGKILL and started again with the same command. The observer has
//! a persistent session and goes back to it after the restart. Every will of a connection that
//! was live at the crash must arrive exactly once; a deleted or already published will must never
//! come back (a copy with DUP 1 is a QoS redelivery, counted apart). The count ends with the
//! observer's probe.

use super::fleet::{connect_member, will, Member, MemberConnect};
use super::scenario::{expand, Scenario};
use crate::actuator::{Actuator, ActuatorSpec};
use crate::target::{StopKind, Target};
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

/// What happened to each group of wills.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CrashTally {
    /// Target name.
    pub target: String,
    /// Clients connected with a will.
    pub fleet: u32,
    /// Wills of connections live at the crash: expected once after the restart.
    pub expected: u32,
    /// Of those, how many arrived (first copy).
    pub delivered: u32,
    /// Extra copies with DUP 0 of a will already received (each is a second publication).
    pub duplicated: u32,
    /// Copies with DUP 1 (QoS 1 redeliveries; allowed).
    pub redelivered: u32,
    /// Wills deleted (DISCONNECT 0x00) or published before the crash that came again with DUP 0.
    pub resurrected: u32,
    /// Wills published before the crash (by FIN) that the observer saw before the crash.
    pub fired_before: u32,
    /// Expected wills that never came.
    pub lost: u32,
    /// SIGKILL to the broker accepting connections again, in ms.
    pub restart_ms: f64,
    /// Restart to the observer's first expected will / to the last, in ms.
    pub first_ms: Option<f64>,
    /// See `first_ms`.
    pub last_ms: Option<f64>,
    /// Why the run could not be judged, if it could not (an error, not a failure).
    pub error: Option<String>,
}

impl CrashTally {
    /// Whether the broker broke a rule: a deleted or published will came back (MQTT-3.14.4-3,
    /// MQTT-3.1.2-10) or a will came twice. A lost will is not a failure: deferring the wills of
    /// connections a crash cut until the restart is a MAY (5.0 3.1.2.5); `lost` reports it.
    pub fn failed(&self) -> bool {
        self.error.is_none() && (self.resurrected > 0 || self.duplicated > 0)
    }
}

/// What each fleet member does before the crash.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Live,
    Deleted,
    Fired,
}

fn role(i: u32, s: &Scenario) -> Role {
    let c = &s.fault.crash;
    let x = (i as f64 + 0.5) / s.fleet.count as f64;
    if x < c.deleted_share {
        Role::Deleted
    } else if x < c.deleted_share + c.fired_share {
        Role::Fired
    } else {
        Role::Live
    }
}

fn observer_spec(s: &Scenario, version: lwt_codec::ProtocolVersion) -> ActuatorSpec {
    let mut spec = ActuatorSpec::new(format!("{}-crash-observer", s.name), version);
    spec.clean_start = false;
    spec.session_expiry = Some(3600);
    spec
}

async fn observer(target: &Target, s: &Scenario, resume: bool) -> anyhow::Result<Actuator> {
    let version = s.fleet.protocol.version();
    let stream = target.endpoint().dial(None).await?;
    let mut spec = observer_spec(s, version);
    spec.clean_start = false; // a fresh id: nothing to resume on the first connect
    let a = Actuator::connect_over(stream, spec).await?;
    if resume && !a.session_present {
        anyhow::bail!("the observer's session did not survive the restart (Session Present 0): the target does not keep sessions across a crash");
    }
    if !resume {
        let filter = expand(&s.fleet.will.topic, "+", 0, 0, 0);
        a.subscribe(&filter, lwt_codec::QoS::AtLeastOnce).await?;
        crate::verdict::arm_probe(&a).await?;
    }
    Ok(a)
}

/// Runs the crash storm against a launched `target` (it is restarted).
pub async fn run(target: &mut Target, s: &Scenario) -> anyhow::Result<CrashTally> {
    anyhow::ensure!(target.can_restart(), "a crash storm needs a target the harness launched (--launch), so it can kill and restart it");
    let mut tally = CrashTally { target: target.name().to_owned(), fleet: s.fleet.count, ..CrashTally::default() };
    let version = s.fleet.protocol.version();
    let obs = observer(target, s, false).await?;
    let mut members: Vec<(u32, String, Role, Member)> = Vec::new();
    for i in 0..s.fleet.count {
        let id = expand(&s.fleet.id, "", i, 0, 0);
        let mut spec = MemberConnect::new(id.clone(), version);
        spec.keep_alive = s.fleet.keep_alive;
        let late = (i as f64 + 0.5) / s.fleet.count as f64 >= 1.0 - s.fault.crash.delayed_share;
        let delay = if late && version.is_v5() { s.fault.crash.delay_s } else { 0 };
        spec.session_expiry = Some(if delay > 0 { 3600 } else { 0 });
        let topic = expand(&s.fleet.will.topic, &id, i, 0, 0);
        let payload = expand(&s.fleet.will.payload, &id, i, 0, 0);
        spec.will = Some(will(topic, payload.clone(), s.fleet.will.qos, false, delay, version));
        let m = connect_member(&target.endpoint(), None, i, &spec, None).await?;
        members.push((i, payload, role(i, s), m));
    }
    // Before the crash: deletions and fired wills; the fired ones must be seen now.
    let mut fired = Vec::new();
    for (_, payload, role, m) in members.iter_mut() {
        match role {
            Role::Deleted => {
                let mut d = lwt_codec::Disconnect::new(0);
                if version.is_v5() {
                    d.properties.push(lwt_codec::Property::SessionExpiryInterval(0));
                }
                super::fleet::send(&mut m.stream, &lwt_codec::Packet::Disconnect(d).to_bytes(version)).await?;
                m.stream.shutdown().await?;
            }
            Role::Fired => {
                m.stream.shutdown().await?;
                fired.push(payload.clone());
            }
            Role::Live => {}
        }
    }
    let deadline = Instant::now() + Duration::from_secs(s.limits.will_timeout_s.max(5));
    while count_seen(&obs, &fired) < fired.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tally.fired_before = count_seen(&obs, &fired) as u32;
    // Saved-on-a-timer brokers get their save interval; ours commits before it acknowledges.
    tokio::time::sleep(Duration::from_millis(s.fault.at_ms)).await;
    let down = Instant::now();
    target.restart(StopKind::Kill).await?;
    let up = Instant::now();
    tally.restart_ms = ms(up - down);
    drop(obs);
    drop(members);
    let obs = match observer(target, s, true).await {
        Ok(o) => o,
        Err(e) => {
            tally.error = Some(format!("{e:#}"));
            return Ok(tally);
        }
    };
    let expected: Vec<String> = (0..s.fleet.count)
        .filter(|i| role(*i, s) == Role::Live)
        .map(|i| expand(&s.fleet.will.payload, &expand(&s.fleet.id, "", i, 0, 0), i, 0, 0))
        .collect();
    tally.expected = expected.len() as u32;
    let deadline = Instant::now() + Duration::from_secs(s.limits.will_timeout_s + s.fault.crash.delay_s as u64);
    while count_seen(&obs, &expected) < expected.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(s.limits.settle_ms)).await;
    if let Err(why) = crate::verdict::prove_live(&obs).await {
        tally.error = Some(format!("the count cannot be closed: the observer's probe did not come back ({why})"));
    }
    judge(&mut tally, &obs, &expected, &fired, s, up);
    Ok(tally)
}

fn count_seen(obs: &Actuator, payloads: &[String]) -> usize {
    let seen: std::collections::HashSet<Vec<u8>> = obs.observations().into_iter().map(|o| o.payload.to_vec()).collect();
    payloads.iter().filter(|p| seen.contains(p.as_bytes())).count()
}

fn judge(tally: &mut CrashTally, obs: &Actuator, expected: &[String], fired: &[String], s: &Scenario, up: Instant) {
    let deleted: Vec<String> = (0..s.fleet.count)
        .filter(|i| role(*i, s) == Role::Deleted)
        .map(|i| expand(&s.fleet.will.payload, &expand(&s.fleet.id, "", i, 0, 0), i, 0, 0))
        .collect();
    let mut copies: HashMap<&[u8], (u32, u32)> = HashMap::new(); // (DUP 0, DUP 1)
    let mut times = Vec::new();
    let after: Vec<_> = obs.observations();
    for o in &after {
        let e = copies.entry(o.payload.as_ref()).or_default();
        if o.dup { e.1 += 1 } else { e.0 += 1 }
    }
    for p in expected {
        match copies.get(p.as_bytes()) {
            Some((new, dup)) if new + dup > 0 => {
                tally.delivered += 1;
                tally.duplicated += new.saturating_sub(1);
                tally.redelivered += dup;
                if let Some(o) = after.iter().find(|o| o.payload == p.as_bytes()) {
                    times.push(ms(o.at.saturating_duration_since(up)));
                }
            }
            _ => tally.lost += 1,
        }
    }
    for p in deleted.iter().chain(fired) {
        if let Some((new, dup)) = copies.get(p.as_bytes()) {
            tally.resurrected += *new;
            tally.redelivered += dup;
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    tally.first_ms = times.first().copied();
    tally.last_ms = times.last().copied();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The tally as a small Markdown table.
pub fn table(t: &CrashTally) -> String {
    let f = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "-".into());
    let mut out = String::from("| target | fleet | fired before | expected | delivered | duplicated | redelivered (DUP) | resurrected | lost (MAY: not deferred) | restart ms | first / last will ms after restart |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    out.push_str(&format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} / {} |\n",
        t.target, t.fleet, t.fired_before, t.expected, t.delivered, t.duplicated, t.redelivered, t.resurrected, t.lost, t.restart_ms, f(t.first_ms), f(t.last_ms)
    ));
    if let Some(e) = &t.error {
        out.push_str(&format!("\nERROR (not a verdict): {e}\n"));
    }
    out
}

/// `lwt-harness load` for a crash scenario: each target in turn (`--compare`, else `--launch`),
/// started, crashed and restarted; one table. Exit 1 when a broker duplicated or resurrected a will;
/// 3 when a run could not be judged (and none failed).
pub async fn cli(req: &super::cli::LoadRequest, s: &Scenario) -> anyhow::Result<u8> {
    let specs = if req.compare.is_empty() {
        vec![super::cli::target_spec(req, s)?]
    } else {
        req.compare.iter().map(|n| super::cli::named_target(n)).collect::<anyhow::Result<_>>()?
    };
    let mut tallies = Vec::new();
    for spec in specs {
        let mut t = Target::start(&spec).await?;
        eprintln!("== crash storm against {} ({})", t.name(), t.addr());
        let r = run(&mut t, s).await;
        t.stop().await;
        let r = r?;
        print!("{}", table(&r));
        tallies.push(r);
    }
    let failed = tallies.iter().any(CrashTally::failed);
    let errored = tallies.iter().any(|t| t.error.is_some());
    finish(req, &tallies, failed, errored)
}

/// Writes `--json` and gives the exit status of a run of its own (crash storm, soak): 1 when a
/// broker broke a rule, 3 when a run could not be judged and none failed, else 0.
pub(super) fn finish<T: Serialize>(req: &super::cli::LoadRequest, tallies: &[T], failed: bool, errored: bool) -> anyhow::Result<u8> {
    if let Some(j) = &req.json {
        std::fs::write(j, serde_json::to_string_pretty(tallies)?)?;
    }
    Ok(if failed { 1 } else if errored { 3 } else { 0 })
}
