//! One load run against a started target: observers subscribe, the fleet connects on a paced ramp,
//! the fault plan is applied at planned instants (the actual instant of every client is taken just
//! before its system call), wills are matched to clients by topic and generation, absence is proven by
//! each observer's probe, and everything lands in a [`Summary`].

use super::barrier;
use super::fleet::{self, Member, Observer};
use super::matcher::{Matcher, Plan};
use super::metrics;
use super::resources::{cpu_ms, Sampler};
use super::scenario::{Certificates, FaultKind, Scenario};
use super::strike::{self, FaultPlan, Hit};
use super::summary::{record, Hists, Summary, Tally};
use crate::proxy::Proxy;
use crate::target::Target;
use crate::transport::Endpoint;
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use lwt_codec::ProtocolVersion;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{info, warn};

/// How a load run is shaped beyond its scenario (CLI flags).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Overrides `fleet.count`.
    pub clients: Option<u32>,
    /// This process runs slice `.0` of `.1`.
    pub shard: (u32, u32),
    /// Overrides `target.source_addrs`.
    pub source_addrs: Option<u32>,
    /// Allow a target outside 127.0.0.0/8 and ::1.
    pub allow_remote: bool,
    /// Draw progress bars (only on a terminal).
    pub progress: bool,
    /// Meet the other shards at this barrier and strike at one fleet-wide instant.
    pub barrier: Option<String>,
    /// The broker's Event Grid life-cycle events file: read after the run to measure will vs
    /// life-cycle event latency per fault kind ([`super::lifecycle`]).
    pub lifecycle_events: Option<std::path::PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { clients: None, shard: (0, 1), source_addrs: None, allow_remote: false, progress: true, barrier: None, lifecycle_events: None }
    }
}

/// Parses `i/n` for `--shard`.
pub fn parse_shard(s: &str) -> anyhow::Result<(u32, u32)> {
    let (i, n) = s.split_once('/').with_context(|| format!("--shard {s:?}: expected i/n, e.g. 0/4"))?;
    let i: u32 = i.trim().parse().with_context(|| format!("--shard {s:?}: bad index"))?;
    let n: u32 = n.trim().parse().with_context(|| format!("--shard {s:?}: bad count"))?;
    anyhow::ensure!(n >= 1 && i < n, "--shard {s:?}: need 0 <= i < n");
    Ok((i, n))
}

/// The global index range `[lo, hi)` of shard `i` of `n` in a fleet of `count`.
pub fn shard_range(count: u32, (i, n): (u32, u32)) -> (u32, u32) {
    let lo = (count as u64 * i as u64 / n as u64) as u32;
    let hi = (count as u64 * (i as u64 + 1) / n as u64) as u32;
    (lo, hi)
}

/// A small deterministic PRNG (splitmix64): the same seed picks the same clients on every shard.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Whether global client `g` of `count` is hit by a `share` selection with `seed`: a seeded shuffle
/// of the whole fleet, so shards agree.
pub fn share_selected(count: u32, share: f64, seed: u64) -> Vec<bool> {
    let mut order: Vec<u32> = (0..count).collect();
    let mut rng = SplitMix(seed);
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let take = (count as f64 * share).round() as usize;
    let mut out = vec![false; count as usize];
    for &g in &order[..take.min(order.len())] {
        out[g as usize] = true;
    }
    out
}

/// The per-process open-file limit (soft), after raising the soft limit to the hard one.
pub fn fd_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        if r.rlim_cur < r.rlim_max {
            let raised = libc::rlimit { rlim_cur: r.rlim_max, rlim_max: r.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                r.rlim_cur = r.rlim_max;
            }
        }
        r.rlim_cur
    }
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0)
}

fn bar(show: bool, len: u64, what: &str) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} {per_sec} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb
}

/// Refuses targets outside loopback unless allowed.
pub fn check_loopback(ip: IpAddr, allow_remote: bool) -> anyhow::Result<()> {
    if ip.is_loopback() || allow_remote {
        return Ok(());
    }
    bail!("load runs only target 127.0.0.0/8 or [::1]; {ip} is not loopback (pass --allow-remote if this broker is yours to load)")
}

/// File descriptors a run of `n` clients of `s` needs in this process (with `embedded`, the
/// broker's side of every socket too).
pub fn fds_needed(s: &Scenario, n: u64, embedded: bool) -> u64 {
    let bg = s.background.as_ref().map(|b| b.publishers as u64).unwrap_or(0);
    let extra = match s.fault.kind {
        FaultKind::Takeover => n,
        _ => s.fault.reconnect.as_ref().map(|r| (n as f64 * r.share).ceil() as u64).unwrap_or(0),
    };
    let per_client_sockets = if s.fault.kind == FaultKind::Blackhole { 3 } else { 1 };
    let mut need = (n + extra) * per_client_sockets + s.observers.count as u64 + bg;
    if embedded {
        need += n + extra + s.observers.count as u64 + bg;
    }
    need
}

/// Whether `n` clients of `s` and an embedded broker fit in this process's file-descriptor limit.
pub fn fits_with_embedded_broker(s: &Scenario, n: u64) -> bool {
    fds_needed(s, n, true) + open_fds() + 64 <= fd_limit()
}

/// What the phases of one run share once it is set up: the scenario, this shard's slice of the
/// fleet, who is who, and how members reach the broker.
pub(super) struct Setup<'a> {
    /// The scenario.
    pub(super) s: &'a Scenario,
    /// Its protocol version.
    pub(super) version: ProtocolVersion,
    /// Clients in the whole fleet, and this shard's `[lo, lo + n)`.
    pub(super) count: u32,
    pub(super) lo: u32,
    pub(super) n: usize,
    /// Ids, will topics and payloads.
    pub(super) plan: Plan,
    /// Per-device TLS configurations, issued before the ramp so issuing them is not measured.
    devices: Option<Vec<Arc<rustls::ClientConfig>>>,
    /// Local source addresses members spread over (127.0.0.x).
    sources: Vec<Option<IpAddr>>,
    /// The fault proxy, for blackholes.
    pub(super) proxy: Option<Proxy>,
    /// Where members dial: the broker, or the proxy in front of it.
    pub(super) fleet_endpoint: Endpoint,
}

impl<'a> Setup<'a> {
    /// Checks the run can be done here (loopback, TLS for certificates, file descriptors) and
    /// prepares it.
    async fn new(target: &Target, s: &'a Scenario, opts: &RunOptions) -> anyhow::Result<Setup<'a>> {
        let count = opts.clients.unwrap_or(s.fleet.count);
        anyhow::ensure!(count > 0, "--clients must be at least 1");
        let (lo, hi) = shard_range(count, opts.shard);
        let n = (hi - lo) as usize;
        anyhow::ensure!(n > 0, "shard {}/{} of {count} clients is empty", opts.shard.0, opts.shard.1);
        let endpoint = target.endpoint();
        check_loopback(endpoint.addr.ip(), opts.allow_remote)?;
        let per_device = s.fleet.certificates == Certificates::PerDevice;
        if s.fleet.certificates != Certificates::None && endpoint.tls.is_none() {
            bail!(
                "scenario {}: fleet.certificates is `{}` but the target {} is not TLS (try --launch mosquitto-tls or embedded-tls)",
                s.name,
                if per_device { "per-device" } else { "shared" },
                target.name()
            );
        }
        // File descriptors: fail early rather than half-way through the ramp.
        let need = fds_needed(s, n as u64, target.is_embedded());
        let (limit, have) = (fd_limit(), open_fds());
        if need + have + 64 > limit {
            bail!(
                "this run needs about {need} file descriptors on top of {have} open, over the limit of {limit} per process{}; \
                 run a slice per process with --shard i/n (and `lwt-harness merge`), lower --clients, or launch the broker as \
                 its own process (--launch)",
                if target.is_embedded() { " (the embedded broker's sockets count too)" } else { "" }
            );
        }
        let plan = Plan::new(s, count, lo, hi, 0);
        let devices = match (&endpoint.tls, per_device) {
            (Some(tls), true) => Some(fleet::device_configs(tls, &plan.ids)?),
            _ => None,
        };
        let src_n = opts.source_addrs.unwrap_or(s.target.source_addrs).max(1);
        let sources = if src_n > 1 && endpoint.addr.ip().is_loopback() && endpoint.addr.is_ipv4() && endpoint.tls.is_none() {
            (0..src_n).map(|k| Some(IpAddr::from([127, 0, 0, 1 + k as u8]))).collect()
        } else {
            vec![None]
        };
        let proxy = if s.fault.kind == FaultKind::Blackhole { Some(Proxy::start(endpoint.addr).await?) } else { None };
        let fleet_endpoint = match &proxy {
            Some(p) => endpoint.via(p.addr()),
            None => endpoint.clone(),
        };
        let version = s.fleet.protocol.version();
        Ok(Setup { s, version, count, lo, n, plan, devices, sources, proxy, fleet_endpoint })
    }

    /// Local client `c`'s own certificate, if the fleet has per-device certificates.
    pub(super) fn device(&self, c: usize) -> Option<Arc<rustls::ClientConfig>> {
        self.devices.as_ref().map(|d| d[c].clone())
    }

    /// The source address local client `c` connects from.
    pub(super) fn source(&self, c: usize) -> Option<IpAddr> {
        self.sources[c % self.sources.len()]
    }
}

/// The fleet after its ramp.
struct Connected {
    members: Vec<Option<Member>>,
    hists: Hists,
    failures: u64,
    rate: f64,
}

/// Connects the fleet on the planned ramp (rate, concurrency), measuring connect latency from each
/// client's planned instant.
async fn connect_fleet(setup: &Setup<'_>, opts: &RunOptions, notes: &mut Vec<String>) -> anyhow::Result<Connected> {
    let (s, n) = (setup.s, setup.n);
    let pb = bar(opts.progress, n as u64, "connecting");
    let sem = Arc::new(Semaphore::new(s.ramp.concurrency as usize));
    let start = Instant::now() + Duration::from_millis(10);
    let rate = s.ramp.rate;
    let mut set = tokio::task::JoinSet::new();
    let connect_deadline = Instant::now() + Duration::from_secs(s.limits.connect_timeout_s);
    for local in 0..n {
        let planned = if rate == 0 { start } else { start + Duration::from_secs_f64(local as f64 / rate as f64) };
        tokio::time::sleep_until(planned).await;
        let permit = sem.clone().acquire_owned().await?;
        let c = setup.plan.connect(s, local, 0, true);
        let (tls, ep, src, g) = (setup.device(local), setup.fleet_endpoint.clone(), setup.source(local), setup.lo + local as u32);
        set.spawn(async move {
            let r = fleet::connect_member(&ep, src, g, &c, tls).await;
            drop(permit);
            (local, planned, Instant::now(), r)
        });
        if Instant::now() > connect_deadline {
            bail!("the fleet did not connect within limits.connect_timeout_s = {} s", s.limits.connect_timeout_s);
        }
    }
    let mut out = Connected { members: (0..n).map(|_| None).collect(), hists: Hists::default(), failures: 0, rate: 0.0 };
    let mut first_error = None;
    let mut last_ack = start;
    while let Some(j) = set.join_next().await {
        let (local, planned, done, r) = j?;
        match r {
            Ok(m) => {
                record(&mut out.hists.connect, done.saturating_duration_since(planned));
                metrics::connected(done.saturating_duration_since(planned));
                last_ack = last_ack.max(done);
                out.members[local] = Some(m);
            }
            Err(e) => {
                out.failures += 1;
                first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let connected = n as u64 - out.failures;
    metrics::ramp_done(connected, out.failures);
    let connect_secs = last_ack.saturating_duration_since(start).as_secs_f64();
    out.rate = if connect_secs > 0.0 { connected as f64 / connect_secs } else { 0.0 };
    if let Some(e) = &first_error {
        notes.push(format!("{} of {n} clients did not connect; first error: {e}", out.failures));
        warn!("{} clients did not connect: {e}", out.failures);
    }
    info!(connected, rate = out.rate, "fleet connected");
    Ok(out)
}

/// Waits until every expected will arrived at every observer, the deadline passed, or an observer
/// broke.
async fn wait_for_wills(matcher: &mut Matcher, observers: &[Observer], plan: &Plan, deadline: Instant, progress: bool, notes: &mut Vec<String>) {
    let wb = bar(progress, matcher.pairs_expected, "wills");
    loop {
        matcher.poll(observers, plan);
        wb.set_position(matcher.pairs_received);
        if matcher.pairs_received >= matcher.pairs_expected || Instant::now() > deadline {
            break;
        }
        if let Some((k, why)) = observers.iter().enumerate().find_map(|(k, o)| o.broken().map(|w| (k, w))) {
            notes.push(format!("observer {k} stopped while waiting for wills: {why}"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wb.finish_and_clear();
}

/// Listens for duplicates and wills that must not come until `until`, then proves every observer
/// live with its own probe (absence is proven, not assumed). Returns whether all came back.
async fn settle_and_prove(matcher: &mut Matcher, observers: &[Observer], plan: &Plan, until: Instant, notes: &mut Vec<String>) -> bool {
    while Instant::now() < until {
        matcher.poll(observers, plan);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut live = true;
    for o in observers {
        if let Err(e) = o.probe(Duration::from_secs(5)).await {
            live = false;
            notes.push(format!("{e:#}"));
        }
    }
    matcher.poll(observers, plan);
    live
}

/// Instants the summary derives its spans from.
struct Span {
    first_actual: Option<Instant>,
    last_actual: Option<Instant>,
    last_will: Option<Instant>,
}

/// Records injection lag, arrivals and will latency (from the planned and the actual fault) into
/// `hists`.
fn record_latencies(hists: &mut Hists, hits: &[Option<Hit>], expected: &[bool], matcher: &Matcher, t0: Instant) -> Span {
    // In a mixed run the spans are the strikes' (a silent client's "fault" is its CONNECT).
    let struck = |h: &&Hit| hits.iter().flatten().all(|h| h.kind.keepalive_detected()) || !h.kind.keepalive_detected();
    let first_planned = hits.iter().flatten().filter(struck).map(|h| h.planned).min().unwrap_or(t0);
    let mut span = Span {
        first_actual: hits.iter().flatten().filter(struck).map(|h| h.actual).min(),
        last_actual: hits.iter().flatten().filter(struck).map(|h| h.actual).max(),
        last_will: None,
    };
    for (c, h) in hits.iter().enumerate() {
        let Some(h) = h else { continue };
        record(&mut hists.injection_lag, h.actual.saturating_duration_since(h.planned));
        if !expected[c] {
            continue;
        }
        for first in &matcher.first {
            let Some(at) = first[c] else { continue };
            span.last_will = Some(span.last_will.map_or(at, |l| l.max(at)));
            record(&mut hists.arrivals, at.saturating_duration_since(first_planned));
            record(&mut hists.latency_planned, at.saturating_duration_since(h.due_planned));
            metrics::will_latency(at.saturating_duration_since(h.due_planned));
            record(&mut hists.latency_actual, at.saturating_duration_since(h.due_actual));
            if h.deadline {
                hists.record_keepalive(if at >= h.due_actual { Ok(at - h.due_actual) } else { Err(h.due_actual - at) });
            }
        }
    }
    span
}

/// Ends every member still open with a normal DISCONNECT, so no will outlives the run.
async fn end_normally(rest: Vec<Member>, version: ProtocolVersion) -> anyhow::Result<()> {
    let sem = Arc::new(Semaphore::new(256));
    let mut ends = tokio::task::JoinSet::new();
    for m in rest {
        let permit = sem.clone().acquire_owned().await?;
        ends.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(1), fleet::disconnect_normally(m, version)).await;
            drop(permit);
        });
    }
    while ends.join_next().await.is_some() {}
    Ok(())
}

/// Runs `scenario` once against `target`: observers first, the fleet on its ramp, the fault plan,
/// reconnects, the wait for wills, the settle with its liveness proof, and the summary.
pub async fn run_once(target: &Target, s: &Scenario, opts: &RunOptions, rep: u32) -> anyhow::Result<(Summary, Hists, Tally)> {
    let setup = Setup::new(target, s, opts).await?;
    let run_began = std::time::SystemTime::now();
    let (version, pid) = (setup.version, target.pid());
    let sampler = pid.map(Sampler::start);
    // Observers first: they must be listening before any will can exist.
    let filters = s.observer_filters();
    let mut observers = Vec::new();
    for k in 0..s.observers.count {
        let id = format!("lwt-load-obs-{}-{}-{}-{k}", std::process::id(), opts.shard.0, rep);
        observers.push(Observer::start(&target.endpoint(), id, version, &filters, s.observers.qos).await?);
    }
    let bg_task = match &s.background {
        Some(b) => Some(super::throughput::background(&target.endpoint(), b.clone(), version).await?),
        None => None,
    };
    let mut notes = Vec::new();
    let Connected { mut members, mut hists, failures, rate } = connect_fleet(&setup, opts, &mut notes).await?;

    // With shards, one fleet-wide instant: every shard plans its fault from the barrier's go.
    let mut go = match &opts.barrier {
        Some(id) => {
            let limit = Duration::from_secs(s.limits.connect_timeout_s.max(60));
            Some(barrier::meet(&target.endpoint(), &format!("{id}-r{rep}"), opts.shard, version, limit).await?)
        }
        None => None,
    };
    let mut fp = FaultPlan::new(&setup, &members, go.as_ref().map(|g| g.at).unwrap_or_else(Instant::now));
    fp.check_keep_alive(&members, &setup.plan.ids)?;
    let mut matcher = Matcher::new(fp.expected.clone(), &observers);
    let cpu_at_fault = pid.and_then(cpu_ms);
    let mut st = strike::apply(&mut fp, &setup, &mut members, &mut notes).await?;
    let clock = super::lifecycle::WallClock::now();
    let last_reconnect = strike::reconnect(&mut fp, &setup, &mut st, &mut notes).await?;
    matcher.set_expected(&fp.expected);
    metrics::wills_expected(matcher.pairs_expected);

    let last_due = st.hits.iter().flatten().map(Hit::due).max().unwrap_or_else(Instant::now);
    let will_deadline = last_due + Duration::from_secs(s.limits.will_timeout_s);
    wait_for_wills(&mut matcher, &observers, &setup.plan, will_deadline, opts.progress, &mut notes).await;
    let cpu_storm_ms = match (cpu_at_fault, pid.and_then(cpu_ms)) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    // Settle past every cancelled will's due time, and the last reconnect, plus the margin.
    let settle = Duration::from_millis(s.limits.settle_ms);
    let cancelled_due = st.hits.iter().zip(&fp.expected).filter(|(_, e)| !**e).filter_map(|(h, _)| h.map(|h| h.due())).max();
    let settle_until = [Some(Instant::now()), cancelled_due, Some(last_reconnect)].into_iter().flatten().max().unwrap_or_else(Instant::now) + settle;
    let live = settle_and_prove(&mut matcher, &observers, &setup.plan, settle_until, &mut notes).await;
    let tally = matcher.tally();
    metrics::run_done(&tally);
    let span = record_latencies(&mut hists, &st.hits, &fp.expected, &matcher, fp.t0());
    if let Some(g) = &mut go {
        g.struck(span.first_actual, span.last_actual);
    }
    let lifecycle = match &opts.lifecycle_events {
        Some(path) => {
            let (ids, first) = (&setup.plan.ids, &matcher.first);
            let facts = super::lifecycle::RunFacts { ids, hits: &st.hits, expected: &fp.expected, first, delay: fp.delay_eff, since: run_began, clock };
            Some(super::lifecycle::collect(path, &facts).await?)
        }
        None => None,
    };

    let background = bg_task.map(|t| t.stop());
    for o in observers {
        o.stop().await;
    }
    end_normally(st.later.into_iter().chain(st.held).chain(members.into_iter().flatten()).collect(), version).await?;
    drop(setup);

    let resources = sampler.map(|sm| sm.finish(target.is_embedded(), cpu_storm_ms));
    if target.is_embedded() {
        notes.push("the embedded broker shares this process with the load generator: its RSS and CPU include the harness".into());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut summary = Summary {
        scenario: s.name.clone(),
        target: target.name().to_string(),
        fault: fp.kind.label().into(),
        protocol: s.fleet.protocol.label().into(),
        shard: format!("{}/{}", opts.shard.0, opts.shard.1),
        clients: fp.expected.len() as u64,
        observers: s.observers.count as u64,
        repetitions: 1,
        latency_origin: latency_origin(fp.kind, fp.delay_eff),
        injection_span_ms: match (span.first_actual, span.last_actual) {
            (Some(a), Some(b)) => ms(b - a),
            _ => 0.0,
        },
        broker_lag_ms: match (span.last_will, span.last_actual) {
            (Some(w), Some(a)) => ms(w.saturating_duration_since(a)),
            _ => 0.0,
        },
        connect_rate_per_s: rate,
        connect_failures: failures,
        observers_live: live,
        broker: resources,
        background,
        sync: go.map(|g| g.sync),
        lifecycle,
        notes,
        ..Summary::default()
    };
    summary.fill(&tally, &hists);
    Ok((summary, hists, tally))
}

fn latency_origin(kind: FaultKind, delay: Duration) -> String {
    let base = if kind == FaultKind::Mixed {
        "each client's fault: the keep-alive deadline (last packet sent + 1.5 × keep-alive) for silence, else the fault \
         (planned: the planned instant; actual: just before the close/write system call)"
            .to_string()
    } else if kind.keepalive_detected() {
        "the keep-alive deadline (last packet sent + 1.5 × keep-alive)".to_string()
    } else if kind == FaultKind::Takeover {
        "the takeover CONNECT (planned: its planned instant; actual: just before the CONNECT write)".to_string()
    } else {
        "the fault (planned: the planned instant; actual: just before the close/write system call)".to_string()
    };
    if delay > Duration::ZERO {
        format!("{base} + the effective will delay of {} s", delay.as_secs())
    } else {
        base
    }
}
