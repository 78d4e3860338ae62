//! One load run against a started target: observers subscribe, the fleet connects on a paced ramp,
//! the fault plan is applied at planned instants (the actual instant of every client is taken just
//! before its system call), wills are matched to clients by topic and generation, absence is proven by
//! each observer's probe, and everything lands in a [`Summary`].

use super::fleet::{self, Member, MemberConnect, Observer};
use super::scenario::{expand, FaultKind, Scenario, Selection};
use super::summary::{record, Hists, Resources, Summary, Tally};
use crate::proxy::{LinkState, Proxy};
use crate::target::Target;
use crate::transport::ClientStream;
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use lwt_codec::{Disconnect, Packet, ProtocolVersion};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{debug, info, warn};

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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { clients: None, shard: (0, 1), source_addrs: None, allow_remote: false, progress: true }
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

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time of `pid`, ms.
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf is always safe to call.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some((ut + st) * 1000.0 / hz)
}

struct Sampler {
    pid: u32,
    start: Instant,
    cpu0: f64,
    peak: Arc<std::sync::atomic::AtomicU64>,
    rss0: u64,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let rss0 = rss_kib(pid).unwrap_or(0);
        let peak = Arc::new(std::sync::atomic::AtomicU64::new(rss0));
        let p2 = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(r) = rss_kib(pid) {
                    p2.fetch_max(r, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Sampler { pid, start: Instant::now(), cpu0: cpu_ms(pid).unwrap_or(0.0), peak, rss0, task }
    }
    fn finish(self, shared: bool, cpu_storm_ms: f64) -> Resources {
        self.task.abort();
        let end = rss_kib(self.pid).unwrap_or(0);
        let wall = self.start.elapsed().as_secs_f64() * 1000.0;
        let cpu = cpu_ms(self.pid).unwrap_or(self.cpu0) - self.cpu0;
        Resources {
            pid: self.pid,
            shared_with_harness: shared,
            rss_start_kib: self.rss0,
            rss_peak_kib: self.peak.load(std::sync::atomic::Ordering::Relaxed).max(end),
            rss_end_kib: end,
            cpu_percent: if wall > 0.0 { cpu / wall * 100.0 } else { 0.0 },
            cpu_storm_ms,
        }
    }
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

/// Per-client facts of one run (local index = global − lo).
struct Plan {
    lo: u32,
    ids: Vec<String>,
    gen0: Vec<String>,
    gen1: Vec<String>,
    /// Every will topic of the whole fleet → global index (shards ignore the others' wills).
    topics: HashMap<String, u32>,
}

impl Plan {
    fn new(s: &Scenario, count: u32, lo: u32, hi: u32, shard: u32) -> Plan {
        let f = &s.fleet;
        let mut topics = HashMap::with_capacity(count as usize);
        for g in 0..count {
            let id = expand(&f.id, "", g, 0, shard);
            topics.insert(expand(&f.will.topic, &id, g, 0, shard), g);
        }
        let mut ids = Vec::new();
        let mut gen0 = Vec::new();
        let mut gen1 = Vec::new();
        for g in lo..hi {
            let id = expand(&f.id, "", g, 0, shard);
            gen0.push(expand(&f.will.payload, &id, g, 0, shard));
            gen1.push(expand(&f.will.payload, &id, g, 1, shard));
            ids.push(id);
        }
        Plan { lo, ids, gen0, gen1, topics }
    }

    fn connect(&self, s: &Scenario, local: usize, gen: u32, clean_start: bool) -> MemberConnect {
        let f = &s.fleet;
        let g = self.lo + local as u32;
        let id = &self.ids[local];
        let version = f.protocol.version();
        MemberConnect {
            client_id: id.clone(),
            version,
            clean_start,
            keep_alive: s.keep_alive_of(g),
            session_expiry: f.session_expiry,
            username: None,
            password: None,
            will: Some(fleet::will(
                expand(&f.will.topic, id, g, gen, 0),
                expand(&f.will.payload, id, g, gen, 0),
                f.will.qos,
                f.will.retain,
                f.will.delay,
                version,
            )),
        }
    }
}

/// When and how each client was hit.
#[derive(Clone, Copy, Debug)]
struct Hit {
    planned: Instant,
    actual: Instant,
    /// When the will is due, from the plan and from the actual instant.
    due_planned: Instant,
    due_actual: Instant,
    /// Deadline-type will (keep-alive or will delay): its error is measured.
    deadline: bool,
}

/// Matches observer receipts to clients, incrementally.
struct Matcher {
    expected: Vec<bool>,
    seen: Vec<Vec<u32>>,
    first: Vec<Vec<Option<Instant>>>,
    stray: Vec<u64>,
    cursors: Vec<usize>,
    pairs_expected: u64,
    pairs_received: u64,
    probe_topics: Vec<String>,
}

impl Matcher {
    fn new(expected: Vec<bool>, observers: &[Observer]) -> Matcher {
        let n = expected.len();
        let k = observers.len();
        let pairs_expected = expected.iter().filter(|e| **e).count() as u64 * k as u64;
        Matcher {
            expected,
            seen: vec![vec![0; n]; k],
            first: vec![vec![None; n]; k],
            stray: vec![0; k],
            cursors: vec![0; k],
            pairs_expected,
            pairs_received: 0,
            probe_topics: observers.iter().map(|o| o.probe_topic.clone()).collect(),
        }
    }

    fn poll(&mut self, observers: &[Observer], plan: &Plan) {
        let n = plan.ids.len() as u32;
        for (k, o) in observers.iter().enumerate() {
            let (new, next) = o.since(self.cursors[k]);
            self.cursors[k] = next;
            for r in new {
                if self.probe_topics.contains(&r.topic) {
                    continue;
                }
                let Some(&g) = plan.topics.get(&r.topic) else {
                    self.stray[k] += 1;
                    continue;
                };
                if g < plan.lo || g >= plan.lo + n {
                    continue; // another shard's client
                }
                let c = (g - plan.lo) as usize;
                if r.payload == plan.gen0[c].as_bytes() {
                    self.seen[k][c] += 1;
                    if self.first[k][c].is_none() {
                        self.first[k][c] = Some(r.at);
                        if self.expected[c] {
                            self.pairs_received += 1;
                        }
                    }
                } else {
                    // A will of a later connection generation (takeover, reconnect) or a stranger.
                    debug!(topic = %r.topic, gen1 = r.payload == plan.gen1[c].as_bytes(), "unexpected will");
                    self.stray[k] += 1;
                }
            }
        }
    }

    fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for k in 0..self.seen.len() {
            t.observe(&self.expected, &self.seen[k], self.stray[k]);
        }
        t
    }
}

/// Closes or breaks one member as the fault says; returns the actual instant (taken just before the
/// system call that does it).
async fn strike(m: Member, kind: FaultKind, version: ProtocolVersion) -> (Instant, Option<Member>) {
    match kind {
        FaultKind::Fin => {
            let mut m = m;
            let at = Instant::now();
            if let ClientStream::Tls(_) = m.stream {
                let _ = m.stream.shutdown().await;
            }
            drop(m);
            (at, None)
        }
        FaultKind::Rst => {
            let _ = m.stream.tcp().set_zero_linger();
            let at = Instant::now();
            drop(m);
            (at, None)
        }
        FaultKind::Disconnect04 => {
            let mut m = m;
            let bytes = Packet::Disconnect(Disconnect::new(0x04)).to_bytes(version);
            let at = Instant::now();
            let _ = m.stream.write_all(&bytes).await;
            drop(m);
            (at, None)
        }
        // Silence, blackhole and takeover keep the socket; they are handled by the caller.
        _ => (Instant::now(), Some(m)),
    }
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

/// Runs `scenario` once against `target`.
pub async fn run_once(target: &Target, s: &Scenario, opts: &RunOptions, rep: u32) -> anyhow::Result<(Summary, Hists, Tally)> {
    let count = opts.clients.unwrap_or(s.fleet.count);
    anyhow::ensure!(count > 0, "--clients must be at least 1");
    let (lo, hi) = shard_range(count, opts.shard);
    let n = (hi - lo) as usize;
    anyhow::ensure!(n > 0, "shard {}/{} of {count} clients is empty", opts.shard.0, opts.shard.1);
    let version = s.fleet.protocol.version();
    let endpoint = target.endpoint();
    check_loopback(endpoint.addr.ip(), opts.allow_remote)?;
    let per_device = s.fleet.certificates == super::scenario::Certificates::PerDevice;
    if s.fleet.certificates != super::scenario::Certificates::None && endpoint.tls.is_none() {
        bail!(
            "scenario {}: fleet.certificates is `{}` but the target {} is not TLS (try --launch mosquitto-tls or embedded-tls)",
            s.name,
            if per_device { "per-device" } else { "shared" },
            target.name()
        );
    }
    let kind = s.fault.kind;

    // File descriptors: fail early rather than half-way through the ramp.
    let need = fds_needed(s, n as u64, target.is_embedded());
    let limit = fd_limit();
    let have = open_fds();
    if need + have + 64 > limit {
        bail!(
            "this run needs about {need} file descriptors on top of {have} open, over the limit of {limit} per process{}; \
             run a slice per process with --shard i/n (and `lwt-harness merge`), lower --clients, or launch the broker as \
             its own process (--launch)",
            if target.is_embedded() { " (the embedded broker's sockets count too)" } else { "" }
        );
    }

    let plan = Plan::new(s, count, lo, hi, 0);
    // Per-device certificates are issued before the ramp, so issuing them is not measured.
    let devices: Option<Arc<Vec<Arc<rustls::ClientConfig>>>> = match (&endpoint.tls, per_device) {
        (Some(tls), true) => Some(Arc::new(fleet::device_configs(tls, &plan.ids)?)),
        _ => None,
    };
    let device = |c: usize| devices.as_ref().map(|d| d[c].clone());
    let src_n = opts.source_addrs.unwrap_or(s.target.source_addrs).max(1);
    let sources: Vec<Option<IpAddr>> = if src_n > 1 && endpoint.addr.ip().is_loopback() && endpoint.addr.is_ipv4() && endpoint.tls.is_none() {
        (0..src_n).map(|k| Some(IpAddr::from([127, 0, 0, 1 + k as u8]))).collect()
    } else {
        vec![None]
    };

    // The fault proxy, for blackholes.
    let proxy = if kind == FaultKind::Blackhole { Some(Proxy::start(endpoint.addr).await?) } else { None };
    let fleet_endpoint = match &proxy {
        Some(p) => endpoint.via(p.addr()),
        None => endpoint.clone(),
    };

    let pid = target.pid();
    let sampler = pid.map(Sampler::start);

    // Observers first: they must be listening before any will can exist.
    let filters = s.observer_filters();
    let mut observers = Vec::new();
    for k in 0..s.observers.count {
        let id = format!("lwt-load-obs-{}-{}-{}-{k}", std::process::id(), opts.shard.0, rep);
        observers.push(Observer::start(&endpoint, id, version, &filters, s.observers.qos).await?);
    }

    let bg_task = match &s.background {
        Some(b) => Some(super::throughput::background(&endpoint, b.clone(), version).await?),
        None => None,
    };

    // Connect the fleet on the planned ramp.
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
        let c = plan.connect(s, local, 0, true);
        let tls = device(local);
        let ep = fleet_endpoint.clone();
        let src = sources[local % sources.len()];
        let g = lo + local as u32;
        set.spawn(async move {
            let r = fleet::connect_member(&ep, src, g, &c, tls).await;
            drop(permit);
            (local, planned, Instant::now(), r)
        });
        if Instant::now() > connect_deadline {
            bail!("the fleet did not connect within limits.connect_timeout_s = {} s", s.limits.connect_timeout_s);
        }
    }
    let mut members: Vec<Option<Member>> = (0..n).map(|_| None).collect();
    let mut hists = Hists::default();
    let mut failures = 0u64;
    let mut first_error = None;
    let mut last_ack = start;
    while let Some(j) = set.join_next().await {
        let (local, planned, done, r) = j?;
        match r {
            Ok(m) => {
                record(&mut hists.connect, done.saturating_duration_since(planned));
                last_ack = last_ack.max(done);
                members[local] = Some(m);
            }
            Err(e) => {
                failures += 1;
                if first_error.is_none() {
                    first_error = Some(format!("{e:#}"));
                }
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let connected = n as u64 - failures;
    let connect_secs = last_ack.saturating_duration_since(start).as_secs_f64();
    let connect_rate = if connect_secs > 0.0 { connected as f64 / connect_secs } else { 0.0 };
    let mut notes = Vec::new();
    if let Some(e) = &first_error {
        notes.push(format!("{failures} of {n} clients did not connect; first error: {e}"));
        warn!("{failures} clients did not connect: {e}");
    }
    info!(connected, rate = connect_rate, "fleet connected");

    // Who is hit, when.
    let fleet_up = Instant::now();
    let t0 = fleet_up + Duration::from_millis(s.fault.at_ms);
    let share = if s.fault.select == Selection::Share { Some(share_selected(count, s.fault.share, s.fault.seed)) } else { None };
    let mut targets: Vec<usize> = (0..n).filter(|&c| members[c].is_some() && share.as_ref().map(|v| v[lo as usize + c]).unwrap_or(true)).collect();
    targets.sort_unstable();
    let waves = if s.fault.select == Selection::Waves { s.fault.waves.max(1) as usize } else { 1 };
    let wave_of = |pos: usize| pos * waves / targets.len().max(1);
    let planned_of = |pos: usize| t0 + Duration::from_millis(s.fault.wave_interval_ms * wave_of(pos) as u64);
    let delay = if s.fleet.protocol.version().is_v5() { s.fleet.will.delay } else { 0 };
    let delay_eff = Duration::from_secs(match s.fleet.session_expiry {
        Some(se) if version.is_v5() => u64::from(delay.min(se)),
        _ if version.is_v5() => 0, // no session expiry: the session ends at once, so does the delay
        _ => 0,
    });
    let reconnecting: Vec<bool> = {
        let mut v = vec![false; n];
        if let Some(r) = &s.fault.reconnect {
            let picked = share_selected(count, r.share, s.fault.seed.wrapping_add(1));
            for &c in &targets {
                v[c] = picked[lo as usize + c];
            }
        }
        v
    };
    // A reconnect cancels the will only if it comes before the will is due.
    let reconnect_cancels = s.fault.reconnect.as_ref().map(|r| Duration::from_millis(r.after_ms) < delay_eff).unwrap_or(false);
    let takeover_publishes = delay_eff.is_zero() || s.fault.takeover_clean_start;
    let mut expected = vec![false; n];
    for &c in &targets {
        expected[c] = match kind {
            FaultKind::Takeover => takeover_publishes,
            _ => !(reconnecting[c] && reconnect_cancels),
        };
    }

    // Keep-alive must outlast the wait for the fault (members send no PINGREQ).
    if !kind.keepalive_detected() {
        let last_fault = targets.len().checked_sub(1).map(&planned_of).unwrap_or(t0);
        for &c in &targets {
            let m = members[c].as_ref().expect("connected");
            if m.keep_alive > 0 && m.last_sent + Duration::from_millis(m.keep_alive as u64 * 1500) < last_fault + Duration::from_millis(100) {
                bail!(
                    "client {} has keep-alive {} s, which expires before its fault is planned (members send no PINGREQ); \
                     raise fleet.keep_alive or the ramp rate",
                    plan.ids[c], m.keep_alive
                );
            }
        }
    }

    let mut matcher = Matcher::new(expected.clone(), &observers);
    let cpu_at_fault = pid.and_then(cpu_ms);
    let mut hits: Vec<Option<Hit>> = vec![None; n];
    let mut held: Vec<Member> = Vec::new();
    let mut later: Vec<Member> = Vec::new(); // takeover and reconnected members, ended normally at the end

    match kind {
        FaultKind::Silence | FaultKind::Blackhole => {
            for (pos, &c) in targets.iter().enumerate() {
                let m = members[c].take().expect("connected");
                let planned = if kind == FaultKind::Silence { m.last_sent } else { planned_of(pos) };
                let due = m.last_sent + Duration::from_millis(m.keep_alive as u64 * 1500) + delay_eff;
                hits[c] = Some(Hit { planned, actual: planned, due_planned: due, due_actual: due, deadline: true });
                held.push(m);
            }
            if let Some(p) = &proxy {
                let mut by_time: Vec<(usize, usize)> = targets.iter().copied().enumerate().collect();
                by_time.sort_by_key(|(pos, _)| *pos);
                for (k, (pos, c)) in by_time.into_iter().enumerate() {
                    let planned = planned_of(pos);
                    tokio::time::sleep_until(planned).await;
                    let addr = held[k].stream.local_addr()?;
                    let at = Instant::now();
                    p.set(addr, LinkState::Blackhole)?;
                    if let Some(h) = &mut hits[c] {
                        h.planned = planned;
                        h.actual = at;
                    }
                }
            }
        }
        FaultKind::Fin | FaultKind::Rst | FaultKind::Disconnect04 => {
            // Spread the closes over parallel tasks: one thread alone needs ~0.17 s for 10k closes.
            let lanes = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(2).max(1);
            let mut lanes_set = tokio::task::JoinSet::new();
            for w in 0..waves {
                let in_wave: Vec<(usize, usize)> = targets.iter().copied().enumerate().filter(|(pos, _)| wave_of(*pos) == w).collect();
                if in_wave.is_empty() {
                    continue;
                }
                let planned = planned_of(in_wave[0].0);
                for lane in 0..lanes {
                    let chunk: Vec<(usize, Member)> = in_wave
                        .iter()
                        .skip(lane)
                        .step_by(lanes)
                        .map(|&(_, c)| (c, members[c].take().expect("connected")))
                        .collect();
                    if chunk.is_empty() {
                        continue;
                    }
                    lanes_set.spawn(async move {
                        tokio::time::sleep_until(planned).await;
                        let mut out = Vec::with_capacity(chunk.len());
                        for (c, m) in chunk {
                            let (at, _) = strike(m, kind, version).await;
                            out.push((c, planned, at));
                        }
                        out
                    });
                }
            }
            while let Some(r) = lanes_set.join_next().await {
                for (c, planned, actual) in r? {
                    hits[c] = Some(Hit { planned, actual, due_planned: planned + delay_eff, due_actual: actual + delay_eff, deadline: delay_eff > Duration::ZERO });
                }
            }
        }
        FaultKind::Takeover => {
            let sem = Arc::new(Semaphore::new(s.ramp.concurrency as usize));
            let mut tset = tokio::task::JoinSet::new();
            for (pos, &c) in targets.iter().enumerate() {
                let planned = planned_of(pos);
                let c2 = plan.connect(s, c, 1, s.fault.takeover_clean_start);
                let tls = device(c);
                let ep = fleet_endpoint.clone();
                let src = sources[c % sources.len()];
                let sem = sem.clone();
                let g = lo + c as u32;
                tset.spawn(async move {
                    tokio::time::sleep_until(planned).await;
                    let _permit = sem.acquire_owned().await;
                    let r = fleet::connect_member(&ep, src, g, &c2, tls).await;
                    (c, planned, r)
                });
            }
            while let Some(r) = tset.join_next().await {
                let (c, planned, r) = r?;
                match r {
                    Ok(m) => {
                        // The takeover happens when the broker reads the new CONNECT.
                        let actual = m.last_sent;
                        hits[c] = Some(Hit { planned, actual, due_planned: planned + delay_eff, due_actual: actual + delay_eff, deadline: delay_eff > Duration::ZERO });
                        later.push(m);
                    }
                    Err(e) => {
                        notes.push(format!("takeover of {} failed: {e:#}", plan.ids[c]));
                        expected[c] = false;
                    }
                }
            }
            matcher.expected = expected.clone();
            matcher.pairs_expected = expected.iter().filter(|e| **e).count() as u64 * observers.len() as u64;
            // The old connections stay open on our side; the broker closes them.
            held.extend(members.iter_mut().filter_map(Option::take));
        }
    }

    // Reconnects after the fault (same id, clean start 0).
    let mut last_reconnect = Instant::now();
    if let Some(r) = &s.fault.reconnect {
        let after = Duration::from_millis(r.after_ms);
        let mut rset = tokio::task::JoinSet::new();
        for c in 0..n {
            if !reconnecting[c] {
                continue;
            }
            let Some(h) = hits[c] else { continue };
            let c2 = plan.connect(s, c, 1, false);
            let tls = device(c);
            let ep = fleet_endpoint.clone();
            let g = lo + c as u32;
            let at = h.actual + after;
            rset.spawn(async move {
                tokio::time::sleep_until(at).await;
                (c, fleet::connect_member(&ep, None, g, &c2, tls).await)
            });
        }
        while let Some(j) = rset.join_next().await {
            let (c, r) = j?;
            match r {
                Ok(m) => {
                    last_reconnect = last_reconnect.max(Instant::now());
                    later.push(m);
                }
                Err(e) => {
                    notes.push(format!("reconnect of {} failed: {e:#}", plan.ids[c]));
                    // Not back in time: its will is due after all.
                    expected[c] = true;
                }
            }
        }
        matcher.expected = expected.clone();
        matcher.pairs_expected = expected.iter().filter(|e| **e).count() as u64 * observers.len() as u64;
    }

    // Wait for the wills.
    let wb = bar(opts.progress, matcher.pairs_expected, "wills");
    let last_due = hits.iter().flatten().map(|h| h.due_actual.max(h.due_planned)).max().unwrap_or_else(Instant::now);
    let will_deadline = last_due + Duration::from_secs(s.limits.will_timeout_s);
    loop {
        matcher.poll(&observers, &plan);
        wb.set_position(matcher.pairs_received);
        if matcher.pairs_received >= matcher.pairs_expected || Instant::now() > will_deadline {
            break;
        }
        if let Some((k, why)) = observers.iter().enumerate().find_map(|(k, o)| o.broken().map(|w| (k, w))) {
            notes.push(format!("observer {k} stopped while waiting for wills: {why}"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wb.finish_and_clear();
    let cpu_storm_ms = match (cpu_at_fault, pid.and_then(cpu_ms)) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    // Settle: listen for duplicates and for wills that must not come (past every cancelled will's due
    // time, plus the margin).
    let settle = Duration::from_millis(s.limits.settle_ms);
    let mut settle_until = Instant::now() + settle;
    for c in 0..n {
        if let (Some(h), false) = (hits[c], expected[c]) {
            settle_until = settle_until.max(h.due_actual.max(h.due_planned) + settle);
        }
    }
    settle_until = settle_until.max(last_reconnect + settle);
    while Instant::now() < settle_until {
        matcher.poll(&observers, &plan);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Absence is proven, not assumed: each observer's own probe must come back.
    let mut live = true;
    for o in &observers {
        if let Err(e) = o.probe(Duration::from_secs(5)).await {
            live = false;
            notes.push(format!("{e:#}"));
        }
    }
    matcher.poll(&observers, &plan);
    let tally = matcher.tally();

    // Latencies.
    let first_planned = hits.iter().flatten().map(|h| h.planned).min().unwrap_or(t0);
    let first_actual = hits.iter().flatten().map(|h| h.actual).min();
    let last_actual = hits.iter().flatten().map(|h| h.actual).max();
    let mut last_will: Option<Instant> = None;
    for (c, h) in hits.iter().enumerate() {
        let Some(h) = h else { continue };
        record(&mut hists.injection_lag, h.actual.saturating_duration_since(h.planned));
        if !expected[c] {
            continue;
        }
        for k in 0..observers.len() {
            let Some(at) = matcher.first[k][c] else { continue };
            last_will = Some(last_will.map_or(at, |l: Instant| l.max(at)));
            record(&mut hists.arrivals, at.saturating_duration_since(first_planned));
            record(&mut hists.latency_planned, at.saturating_duration_since(h.due_planned));
            record(&mut hists.latency_actual, at.saturating_duration_since(h.due_actual));
            if h.deadline {
                hists.record_keepalive(if at >= h.due_actual { Ok(at - h.due_actual) } else { Err(h.due_actual - at) });
            }
        }
    }

    // End what is left normally, so no will outlives the run.
    let background = bg_task.map(|t| t.stop());
    for o in observers {
        o.stop().await;
    }
    let rest: Vec<Member> = later.into_iter().chain(held).chain(members.into_iter().flatten()).collect();
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
    drop(proxy);

    let resources = sampler.map(|sm| sm.finish(target.is_embedded(), cpu_storm_ms));
    if target.is_embedded() {
        notes.push("the embedded broker shares this process with the load generator: its RSS and CPU include the harness".into());
    }
    let mut summary = Summary {
        scenario: s.name.clone(),
        target: target.name().to_string(),
        fault: kind.label().into(),
        protocol: s.fleet.protocol.label().into(),
        shard: format!("{}/{}", opts.shard.0, opts.shard.1),
        clients: n as u64,
        observers: s.observers.count as u64,
        repetitions: 1,
        latency_origin: latency_origin(kind, delay_eff),
        injection_span_ms: match (first_actual, last_actual) {
            (Some(a), Some(b)) => (b - a).as_secs_f64() * 1000.0,
            _ => 0.0,
        },
        broker_lag_ms: match (last_will, last_actual) {
            (Some(w), Some(a)) => w.saturating_duration_since(a).as_secs_f64() * 1000.0,
            _ => 0.0,
        },
        connect_rate_per_s: connect_rate,
        connect_failures: failures,
        observers_live: live,
        broker: resources,
        background,
        notes,
        ..Summary::default()
    };
    summary.fill(&tally, &hists);
    Ok((summary, hists, tally))
}

fn latency_origin(kind: FaultKind, delay: Duration) -> String {
    let base = if kind.keepalive_detected() {
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
