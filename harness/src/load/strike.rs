//! The fault plan of one run: which clients are hit, in which wave, whose will is due
//! ([`FaultPlan`]); applying it at the planned instants ([`apply`]), taking the actual instant of
//! every client just before its system call; and the reconnects after it ([`reconnect`]).

use super::fleet::{self, Member};
use super::run::{share_selected, Setup};
use super::scenario::{FaultKind, Selection};
use crate::proxy::LinkState;
use crate::transport::ClientStream;
use anyhow::bail;
use lwt_codec::{Disconnect, Packet, ProtocolVersion};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// When and how each client was hit.
#[derive(Clone, Copy, Debug)]
pub(super) struct Hit {
    pub(super) planned: Instant,
    pub(super) actual: Instant,
    /// When the will is due, from the plan and from the actual instant.
    pub(super) due_planned: Instant,
    pub(super) due_actual: Instant,
    /// Deadline-type will (keep-alive or will delay): its error is measured.
    pub(super) deadline: bool,
    /// The fault this client got (one of the mix in a `mixed` run).
    pub(super) kind: FaultKind,
}

impl Hit {
    /// A hit whose will is due `delay` after the fault.
    fn after(planned: Instant, actual: Instant, delay: Duration, kind: FaultKind) -> Hit {
        Hit { planned, actual, due_planned: planned + delay, due_actual: actual + delay, deadline: delay > Duration::ZERO, kind }
    }
    /// The later of the two due instants.
    pub(super) fn due(&self) -> Instant {
        self.due_actual.max(self.due_planned)
    }
}

/// Which clients are hit, when, and whose will must arrive.
pub(super) struct FaultPlan {
    /// How they are hit.
    pub(super) kind: FaultKind,
    /// Local indexes of the clients hit, in order.
    pub(super) targets: Vec<usize>,
    waves: usize,
    t0: Instant,
    wave_interval: Duration,
    /// The will delay in force (min of Will Delay and Session Expiry on 5.0; 0 on 3.1.1).
    pub(super) delay_eff: Duration,
    /// Clients that reconnect after their fault.
    pub(super) reconnecting: Vec<bool>,
    /// Clients whose will must arrive.
    pub(super) expected: Vec<bool>,
    /// Per local client, the fault it gets (`kind` itself unless the run is `mixed`).
    pub(super) kinds: Vec<FaultKind>,
}

impl FaultPlan {
    /// The plan for the connected `members`, striking `fault.at_ms` after `start` (now, or the
    /// barrier's fleet-wide go).
    pub(super) fn new(setup: &Setup<'_>, members: &[Option<Member>], start: Instant) -> FaultPlan {
        let s = setup.s;
        let (count, lo, n) = (setup.count, setup.lo as usize, setup.n);
        let t0 = start + Duration::from_millis(s.fault.at_ms);
        let share = (s.fault.select == Selection::Share).then(|| share_selected(count, s.fault.share, s.fault.seed));
        let targets: Vec<usize> =
            (0..n).filter(|&c| members[c].is_some() && share.as_ref().map(|v| v[lo + c]).unwrap_or(true)).collect();
        let waves = if s.fault.select == Selection::Waves { s.fault.waves.max(1) as usize } else { 1 };
        let version = setup.version;
        // With no session expiry the session ends at once, and so does the delay.
        let delay_eff = Duration::from_secs(match s.fleet.session_expiry {
            Some(se) if version.is_v5() => u64::from(s.fleet.will.delay.min(se)),
            _ => 0,
        });
        let mut reconnecting = vec![false; n];
        if let Some(r) = &s.fault.reconnect {
            let picked = share_selected(count, r.share, s.fault.seed.wrapping_add(1));
            for &c in &targets {
                reconnecting[c] = picked[lo + c];
            }
        }
        // A reconnect cancels the will only if it comes before the will is due.
        let reconnect_cancels = s.fault.reconnect.as_ref().map(|r| Duration::from_millis(r.after_ms) < delay_eff).unwrap_or(false);
        let takeover_publishes = delay_eff.is_zero() || s.fault.takeover_clean_start;
        let kind = s.fault.kind;
        let kinds: Vec<FaultKind> = match kind {
            FaultKind::Mixed => (0..n).map(|c| s.fault.mix[(lo + c) % s.fault.mix.len()]).collect(),
            _ => vec![kind; n],
        };
        let mut expected = vec![false; n];
        for &c in &targets {
            expected[c] = match kind {
                FaultKind::Takeover => takeover_publishes,
                _ => !(reconnecting[c] && reconnect_cancels),
            };
        }
        let wave_interval = Duration::from_millis(s.fault.wave_interval_ms);
        FaultPlan { kind, targets, waves, t0, wave_interval, delay_eff, reconnecting, expected, kinds }
    }

    /// The first planned instant.
    pub(super) fn t0(&self) -> Instant {
        self.t0
    }

    fn wave_of(&self, pos: usize) -> usize {
        pos * self.waves / self.targets.len().max(1)
    }

    fn planned_of(&self, pos: usize) -> Instant {
        self.t0 + self.wave_interval * self.wave_of(pos) as u32
    }

    /// Refuses a plan whose members' keep-alive would expire before their fault (members send no
    /// PINGREQ), which would turn a FIN/RST/takeover run into a keep-alive run.
    pub(super) fn check_keep_alive(&self, members: &[Option<Member>], ids: &[String]) -> anyhow::Result<()> {
        let last_fault = self.targets.len().checked_sub(1).map(|p| self.planned_of(p)).unwrap_or(self.t0);
        for &c in self.targets.iter().filter(|&&c| !self.kinds[c].keepalive_detected()) {
            let Some(m) = members[c].as_ref() else { continue };
            if m.keep_alive > 0 && m.last_sent + Duration::from_millis(m.keep_alive as u64 * 1500) < last_fault + Duration::from_millis(100) {
                bail!(
                    "client {} has keep-alive {} s, which expires before its fault is planned (members send no PINGREQ); \
                     raise fleet.keep_alive or the ramp rate",
                    ids[c],
                    m.keep_alive
                );
            }
        }
        Ok(())
    }
}

/// What applying the faults left behind.
#[derive(Default)]
pub(super) struct Struck {
    /// Per local client: when and how it was hit.
    pub(super) hits: Vec<Option<Hit>>,
    /// Connections kept open on our side (silence, blackhole, taken over): the broker ends them.
    pub(super) held: Vec<Member>,
    /// Takeover and reconnected members, ended normally at the end of the run.
    pub(super) later: Vec<Member>,
}

/// Applies `fp` to `members` at the planned instants.
pub(super) async fn apply(
    fp: &mut FaultPlan,
    setup: &Setup<'_>,
    members: &mut [Option<Member>],
    notes: &mut Vec<String>,
) -> anyhow::Result<Struck> {
    let mut st = Struck { hits: vec![None; setup.n], ..Struck::default() };
    match fp.kind {
        FaultKind::Silence | FaultKind::Blackhole => hold(fp, setup, members, &mut st).await?,
        FaultKind::Fin | FaultKind::Rst | FaultKind::Disconnect04 => close(fp, setup.version, members, &mut st).await?,
        FaultKind::Mixed => {
            hold(fp, setup, members, &mut st).await?;
            close(fp, setup.version, members, &mut st).await?;
        }
        FaultKind::Takeover => {
            takeover(fp, setup, &mut st, notes).await?;
            // The old connections stay open on our side; the broker closes them.
            st.held.extend(members.iter_mut().filter_map(Option::take));
        }
        FaultKind::Crash | FaultKind::Churn => anyhow::bail!("{:?} runs on its own (load::crash, load::soak), not inside a fleet run", fp.kind),
    }
    Ok(st)
}

/// Silence and blackhole: the socket stays open and quiet (or the proxy swallows it); the will is due
/// at the keep-alive deadline. In a `mixed` run, only the members dealt silence.
async fn hold(fp: &FaultPlan, setup: &Setup<'_>, members: &mut [Option<Member>], st: &mut Struck) -> anyhow::Result<()> {
    for (pos, &c) in fp.targets.iter().enumerate().filter(|(_, &c)| fp.kinds[c].keepalive_detected()) {
        let m = members[c].take().expect("targets are connected members");
        let kind = fp.kinds[c];
        let planned = if kind == FaultKind::Silence { m.last_sent } else { fp.planned_of(pos) };
        let due = m.last_sent + Duration::from_millis(m.keep_alive as u64 * 1500) + fp.delay_eff;
        st.hits[c] = Some(Hit { planned, actual: planned, due_planned: due, due_actual: due, deadline: true, kind });
        st.held.push(m);
    }
    let Some(p) = &setup.proxy else { return Ok(()) };
    for (k, (pos, &c)) in fp.targets.iter().enumerate().enumerate() {
        let planned = fp.planned_of(pos);
        tokio::time::sleep_until(planned).await;
        let addr = st.held[k].stream.local_addr()?;
        let at = Instant::now();
        p.set(addr, LinkState::Blackhole)?;
        if let Some(h) = &mut st.hits[c] {
            h.planned = planned;
            h.actual = at;
        }
    }
    Ok(())
}

/// FIN, RST, DISCONNECT 0x04: wave by wave, spread over parallel lanes (one thread alone needs
/// ~0.17 s for 10k closes). In a `mixed` run, each member its own kind of the three.
async fn close(fp: &FaultPlan, version: ProtocolVersion, members: &mut [Option<Member>], st: &mut Struck) -> anyhow::Result<()> {
    let lanes = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(2).max(1);
    let mut lanes_set = tokio::task::JoinSet::new();
    for w in 0..fp.waves {
        let in_wave: Vec<(usize, usize)> = fp
            .targets
            .iter()
            .copied()
            .enumerate()
            .filter(|&(pos, c)| fp.wave_of(pos) == w && !fp.kinds[c].keepalive_detected())
            .collect();
        let Some(&(first, _)) = in_wave.first() else { continue };
        let planned = fp.planned_of(first);
        for lane in 0..lanes {
            let chunk: Vec<(usize, FaultKind, Member)> = in_wave
                .iter()
                .skip(lane)
                .step_by(lanes)
                .map(|&(_, c)| (c, fp.kinds[c], members[c].take().expect("targets are connected members")))
                .collect();
            if chunk.is_empty() {
                continue;
            }
            lanes_set.spawn(async move {
                tokio::time::sleep_until(planned).await;
                let mut out = Vec::with_capacity(chunk.len());
                for (c, kind, m) in chunk {
                    out.push((c, planned, kind, strike(m, kind, version).await));
                }
                out
            });
        }
    }
    while let Some(r) = lanes_set.join_next().await {
        for (c, planned, kind, actual) in r? {
            st.hits[c] = Some(Hit::after(planned, actual, fp.delay_eff, kind));
        }
    }
    Ok(())
}

/// Closes or breaks one member as the fault says; returns the actual instant (taken just before the
/// system call that does it).
async fn strike(mut m: Member, kind: FaultKind, version: ProtocolVersion) -> Instant {
    let at;
    match kind {
        FaultKind::Fin => {
            at = Instant::now();
            if let ClientStream::Tls(_) = m.stream {
                let _ = m.stream.shutdown().await;
            }
        }
        FaultKind::Rst => {
            let _ = m.stream.tcp().set_zero_linger();
            at = Instant::now();
        }
        FaultKind::Disconnect04 => {
            let bytes = Packet::Disconnect(Disconnect::new(0x04)).to_bytes(version);
            at = Instant::now();
            let _ = super::fleet::send(&mut m.stream, &bytes).await;
        }
        // Silence, blackhole and takeover keep the socket: `apply` never strikes them.
        FaultKind::Silence | FaultKind::Blackhole | FaultKind::Takeover | FaultKind::Crash | FaultKind::Churn | FaultKind::Mixed => unreachable!("{kind:?} does not close members one by one"),
    }
    drop(m);
    at
}

/// Takeover: a second connection with the same client id at each planned instant; the takeover
/// happens when the broker reads the new CONNECT.
async fn takeover(fp: &mut FaultPlan, setup: &Setup<'_>, st: &mut Struck, notes: &mut Vec<String>) -> anyhow::Result<()> {
    let s = setup.s;
    let sem = Arc::new(Semaphore::new(s.ramp.concurrency as usize));
    let mut tset = tokio::task::JoinSet::new();
    for (pos, &c) in fp.targets.iter().enumerate() {
        let planned = fp.planned_of(pos);
        let c2 = setup.plan.connect(s, c, 1, s.fault.takeover_clean_start);
        let (tls, ep, src, sem) = (setup.device(c), setup.fleet_endpoint.clone(), setup.source(c), sem.clone());
        let g = setup.lo + c as u32;
        tset.spawn(async move {
            tokio::time::sleep_until(planned).await;
            let _permit = sem.acquire_owned().await;
            (c, planned, fleet::connect_member(&ep, src, g, &c2, tls).await)
        });
    }
    while let Some(r) = tset.join_next().await {
        let (c, planned, r) = r?;
        match r {
            Ok(m) => {
                st.hits[c] = Some(Hit::after(planned, m.last_sent, fp.delay_eff, FaultKind::Takeover));
                st.later.push(m);
            }
            Err(e) => {
                notes.push(format!("takeover of {} failed: {e:#}", setup.plan.ids[c]));
                fp.expected[c] = false;
            }
        }
    }
    Ok(())
}

/// Reconnects the chosen clients (same id, clean start 0) `after_ms` after their fault; returns when
/// the last one was back. A client not back in time has its will due after all.
pub(super) async fn reconnect(fp: &mut FaultPlan, setup: &Setup<'_>, st: &mut Struck, notes: &mut Vec<String>) -> anyhow::Result<Instant> {
    let mut last = Instant::now();
    let Some(r) = &setup.s.fault.reconnect else { return Ok(last) };
    let after = Duration::from_millis(r.after_ms);
    let mut rset = tokio::task::JoinSet::new();
    for c in 0..setup.n {
        let (true, Some(h)) = (fp.reconnecting[c], st.hits[c]) else { continue };
        let c2 = setup.plan.connect(setup.s, c, 1, false);
        let (tls, ep, g, at) = (setup.device(c), setup.fleet_endpoint.clone(), setup.lo + c as u32, h.actual + after);
        rset.spawn(async move {
            tokio::time::sleep_until(at).await;
            (c, fleet::connect_member(&ep, None, g, &c2, tls).await)
        });
    }
    while let Some(j) = rset.join_next().await {
        let (c, r) = j?;
        match r {
            Ok(m) => {
                last = last.max(Instant::now());
                st.later.push(m);
            }
            Err(e) => {
                notes.push(format!("reconnect of {} failed: {e:#}", setup.plan.ids[c]));
                fp.expected[c] = true;
            }
        }
    }
    Ok(last)
}
