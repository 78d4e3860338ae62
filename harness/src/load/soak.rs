//! The soak (`fault: { kind: churn }`, `scenarios/soak.yaml`): a fleet with wills stays connected
//! while clients churn — closed with FIN or RST (a will must come once), ended with DISCONNECT 0x00
//! (no will), or taken over by a new connection with the same id (the old connection's will may
//! come, at most once) — and each comes back as a new generation with a new will payload. Live
//! clients publish now and then. The broker's RSS is sampled every `sample_s`; after the warm-up it
//! must stay within ± `rss_tolerance` of its mean, and no will may be lost, duplicated or sent for
//! a normal DISCONNECT. The count ends with the observer's probe.

use super::fleet::{connect_member, will, Member, MemberConnect};
use super::run::SplitMix;
use super::scenario::{expand, Scenario};
use crate::actuator::{Actuator, ActuatorSpec};
use crate::target::Target;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

/// How the fleet churns (`fault.soak`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SoakSpec {
    /// How long the churn runs, in seconds.
    pub duration_s: u64,
    /// Churn actions per second (each a close, a DISCONNECT or a takeover, then a reconnect).
    pub churn_per_s: u32,
    /// QoS 0 publishes per second from live clients.
    pub publish_per_s: u32,
    /// RSS sampling interval, in seconds.
    pub sample_s: u64,
    /// Share of the run before RSS is judged.
    pub warmup_share: f64,
    /// Allowed deviation of an RSS sample from the mean after the warm-up (0.05 = ± 5 %).
    pub rss_tolerance: f64,
}

impl Default for SoakSpec {
    fn default() -> Self {
        SoakSpec { duration_s: 1800, churn_per_s: 100, publish_per_s: 200, sample_s: 10, warmup_share: 0.2, rss_tolerance: 0.05 }
    }
}

/// What the soak measured.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SoakTally {
    /// Target name.
    pub target: String,
    /// Connections held.
    pub fleet: u32,
    /// Seconds of churn.
    pub duration_s: u64,
    /// Churn actions by kind: FIN, RST, DISCONNECT 0x00, takeover.
    pub actions: [u64; 4],
    /// Publishes sent.
    pub published: u64,
    /// Wills that had to come once (FIN, RST) / that came.
    pub expected: u64,
    /// See `expected`.
    pub received: u64,
    /// Expected wills that never came.
    pub lost: u64,
    /// Wills that came more than once (DUP 0).
    pub duplicated: u64,
    /// Wills of a DISCONNECT 0x00 that came anyway.
    pub unexpected: u64,
    /// Takeovers whose old will came (allowed once).
    pub takeover_wills: u64,
    /// RSS samples (seconds since start, KiB).
    pub rss: Vec<(f64, u64)>,
    /// Mean RSS after the warm-up, KiB, and the largest deviation from it, as a fraction.
    pub rss_mean_kib: f64,
    /// See `rss_mean_kib`.
    pub rss_max_deviation: f64,
    /// RSS change across the judged window (last sample against the first), as a fraction: a
    /// trend the ± band alone would not show (a slow leak stays inside it for a long time).
    pub rss_window_growth: f64,
    /// Why the run could not be judged (an error, not a failure).
    pub error: Option<String>,
}

impl SoakTally {
    /// A will lost, duplicated or sent after DISCONNECT 0x00, or RSS not flat.
    pub fn failed(&self, spec: &SoakSpec) -> bool {
        self.error.is_none() && (self.lost + self.duplicated + self.unexpected > 0 || self.rss_max_deviation > spec.rss_tolerance)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Once,
    Never,
    AtMostOnce,
}

struct Client {
    id: String,
    gen: u32,
    /// The live generation; past half its Keep Alive it pings, so the broker never ends it for
    /// silence (a will the soak would then count as sent after DISCONNECT 0x00).
    member: Option<Member>,
}

fn payload(s: &Scenario, c: &Client, i: u32) -> String {
    format!("{} gen {}", expand(&s.fleet.will.payload, &c.id, i, c.gen, 0), c.gen)
}

async fn connect(target: &Target, s: &Scenario, c: &Client, i: u32) -> anyhow::Result<Member> {
    let version = s.fleet.protocol.version();
    let mut spec = MemberConnect::new(c.id.clone(), version);
    spec.keep_alive = s.fleet.keep_alive;
    let topic = expand(&s.fleet.will.topic, &c.id, i, c.gen, 0);
    spec.will = Some(will(topic, payload(s, c, i), s.fleet.will.qos, false, 0, version));
    connect_member(&target.endpoint(), None, i, &spec, None).await
}

/// Runs the soak against `target` (its process's RSS is sampled; an embedded target has none).
pub async fn run(target: &Target, s: &Scenario) -> anyhow::Result<SoakTally> {
    let spec = &s.fault.soak;
    let version = s.fleet.protocol.version();
    let mut tally = SoakTally { target: target.name().to_owned(), fleet: s.fleet.count, duration_s: spec.duration_s, ..SoakTally::default() };
    let pid = target.pid().ok_or_else(|| anyhow::anyhow!("a soak samples the broker's RSS: launch it as its own process (--launch)"))?;
    let mut o = ActuatorSpec::new(format!("{}-soak-observer", s.name), version);
    o.clean_start = true;
    let obs = Actuator::connect_over(target.endpoint().dial(None).await?, o).await?;
    obs.subscribe(&expand(&s.fleet.will.topic, "+", 0, 0, 0), lwt_codec::QoS::AtLeastOnce).await?;
    crate::verdict::arm_probe(&obs).await?;
    let mut clients: Vec<Client> =
        (0..s.fleet.count).map(|i| Client { id: expand(&s.fleet.id, "", i, 0, 0), gen: 0, member: None }).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.member = Some(connect(target, s, c, i as u32).await?);
    }
    let mut next_ping_pass = Instant::now() + Duration::from_secs(1);
    let mut expect: HashMap<String, Expect> = HashMap::new();
    let mut rng = SplitMix(s.fault.seed);
    let start = Instant::now();
    let end = start + Duration::from_secs(spec.duration_s);
    let tick = Duration::from_millis(10);
    let (mut churn_due, mut pub_due, mut next_sample) = (0.0f64, 0.0f64, start);
    while Instant::now() < end {
        if Instant::now() >= next_sample {
            if let Some(kib) = super::resources::rss_kib(pid) {
                tally.rss.push((start.elapsed().as_secs_f64(), kib));
            }
            next_sample += Duration::from_secs(spec.sample_s);
        }
        if s.fleet.keep_alive > 0 && Instant::now() >= next_ping_pass {
            for m in clients.iter_mut().filter_map(|c| c.member.as_mut()) {
                let _ = m.keep_alive_if_idle(version).await;
            }
            next_ping_pass += Duration::from_secs(1);
        }
        churn_due += spec.churn_per_s as f64 / 100.0;
        pub_due += spec.publish_per_s as f64 / 100.0;
        while churn_due >= 1.0 {
            churn_due -= 1.0;
            let i = (rng.next_u64() % clients.len() as u64) as usize;
            let kind = (rng.next_u64() % 10) as usize;
            churn(target, s, &mut clients[i], i as u32, kind, &mut expect, &mut tally).await?;
        }
        while pub_due >= 1.0 {
            pub_due -= 1.0;
            let i = (rng.next_u64() % clients.len() as u64) as usize;
            let c = &mut clients[i];
            if let Some(m) = c.member.as_mut() {
                let p = lwt_codec::Publish::new(format!("soak-data/{}", c.id), "x");
                if m.send(&lwt_codec::Packet::Publish(p).to_bytes(version)).await.is_ok() {
                    tally.published += 1;
                }
            }
        }
        tokio::time::sleep(tick).await;
    }
    tokio::time::sleep(Duration::from_millis(s.limits.settle_ms.max(500))).await;
    if let Err(why) = crate::verdict::prove_live(&obs).await {
        tally.error = Some(format!("the will count cannot be closed: the observer's probe did not come back ({why})"));
    }
    judge(&mut tally, &obs, &expect, spec);
    for c in clients.iter_mut() {
        if let Some(m) = c.member.take() {
            super::fleet::disconnect_normally(m, version).await;
        }
    }
    obs.disconnect().await;
    Ok(tally)
}

/// One churn action on client `i`, then its next generation connects.
async fn churn(target: &Target, s: &Scenario, c: &mut Client, i: u32, kind: usize, expect: &mut HashMap<String, Expect>, t: &mut SoakTally) -> anyhow::Result<()> {
    let version = s.fleet.protocol.version();
    let old = payload(s, c, i);
    let Some(m) = c.member.take() else { return Ok(()) };
    let (slot, e, held) = match kind {
        0..=3 => {
            let mut m = m;
            m.stream.shutdown().await.ok();
            (0, Expect::Once, None)
        }
        4..=5 => {
            let _ = m.stream.tcp().set_zero_linger();
            (1, Expect::Once, None) // dropped below: RST
        }
        6..=8 => {
            super::fleet::disconnect_and_wait(m, version, Duration::from_secs(5)).await;
            (2, Expect::Never, None)
        }
        // A takeover keeps the old socket open until the broker closes it.
        _ => (3, Expect::AtMostOnce, Some(m)),
    };
    t.actions[slot] += 1;
    expect.insert(old, e);
    c.gen += 1;
    let next = connect(target, s, c, i).await?;
    drop(held);
    c.member = Some(next);
    Ok(())
}

fn judge(t: &mut SoakTally, obs: &Actuator, expect: &HashMap<String, Expect>, spec: &SoakSpec) {
    let mut seen: HashMap<Vec<u8>, u64> = HashMap::new();
    for o in obs.observations() {
        if !o.dup {
            *seen.entry(o.payload.to_vec()).or_default() += 1;
        }
    }
    for (p, e) in expect {
        let n = seen.get(p.as_bytes()).copied().unwrap_or(0);
        match e {
            Expect::Once => {
                t.expected += 1;
                if n == 0 { t.lost += 1 } else { t.received += 1 }
                t.duplicated += n.saturating_sub(1);
            }
            Expect::Never => t.unexpected += n,
            Expect::AtMostOnce => {
                t.takeover_wills += n.min(1);
                t.duplicated += n.saturating_sub(1);
            }
        }
    }
    let after: Vec<f64> = t.rss.iter().filter(|(at, _)| *at >= spec.duration_s as f64 * spec.warmup_share).map(|(_, k)| *k as f64).collect();
    if !after.is_empty() {
        let mean = after.iter().sum::<f64>() / after.len() as f64;
        t.rss_mean_kib = mean;
        t.rss_max_deviation = after.iter().map(|k| (k - mean).abs() / mean).fold(0.0, f64::max);
        t.rss_window_growth = (after[after.len() - 1] - after[0]) / after[0];
    }
}

/// The tally as Markdown.
pub fn table(t: &SoakTally) -> String {
    let first = t.rss.first().map(|r| r.1).unwrap_or(0);
    let last = t.rss.last().map(|r| r.1).unwrap_or(0);
    let mut out = format!(
        "| target | fleet | s | FIN / RST / DISCONNECT / takeover | publishes | wills expected / received | lost | duplicated | unexpected | takeover wills | RSS first → last (KiB) | RSS mean after warm-up | max deviation | growth after warm-up |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n| {} | {} | {} | {} / {} / {} / {} | {} | {} / {} | {} | {} | {} | {} | {} → {} | {:.0} | {:.1} % | {:+.1} % |\n",
        t.target, t.fleet, t.duration_s, t.actions[0], t.actions[1], t.actions[2], t.actions[3], t.published, t.expected, t.received,
        t.lost, t.duplicated, t.unexpected, t.takeover_wills, first, last, t.rss_mean_kib, t.rss_max_deviation * 100.0,
        t.rss_window_growth * 100.0
    );
    if let Some(e) = &t.error {
        out.push_str(&format!("\nERROR (not a verdict): {e}\n"));
    }
    out
}

/// `lwt-harness load` for a churn scenario: each target in turn (`--compare`, else `--launch`; the
/// default is the reference broker as its own process), one table, the RSS samples in the JSON.
/// Exit 1 when a will was lost, duplicated or unexpected or RSS was not flat; 3 when unjudged.
pub async fn cli(req: &super::cli::LoadRequest, s: &Scenario) -> anyhow::Result<u8> {
    let specs = if req.compare.is_empty() {
        match (&req.broker, &req.launch) {
            (None, None) => vec![super::cli::named_target("lwt-broker")?],
            _ => vec![super::cli::target_spec(req, s)?],
        }
    } else {
        req.compare.iter().map(|n| super::cli::named_target(n)).collect::<anyhow::Result<_>>()?
    };
    let mut tallies = Vec::new();
    for spec in specs {
        let t = Target::start(&spec).await?;
        eprintln!("== soak against {} ({}) for {} s", t.name(), t.addr(), s.fault.soak.duration_s);
        let r = run(&t, s).await;
        t.stop().await;
        let r = r?;
        print!("{}", table(&r));
        tallies.push(r);
    }
    let failed = tallies.iter().any(|t| t.failed(&s.fault.soak));
    super::crash::finish(req, &tallies, failed, tallies.iter().any(|t| t.error.is_some()))
}
