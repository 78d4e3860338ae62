//! The numbers a load run produces and the maths behind them: will tallies (expected, received, lost,
//! duplicated, unexpected), HdrHistograms of will latency, keep-alive error and connect latency, and
//! their merge across repetitions and shards. Histograms travel inside the JSON summary (hex of the
//! V2-deflate encoding) so that `lwt-harness merge` is exact rather than an average of percentiles.

use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Highest value recorded, µs (1 hour).
pub const MAX_US: u64 = 3_600_000_000;

/// A new µs histogram (1 µs .. 1 h, 3 significant digits).
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid bounds")
}

/// Records a duration in µs, clamped into range.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, MAX_US);
    h.record(us).expect("clamped into range");
}

/// Percentiles in milliseconds, with the sample count (the engine's, so load and checks agree).
pub use crate::latency::Percentiles as Pcts;

/// Keep-alive precision: will time − (last packet sent + 1.5 × keep-alive), in ms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeepAliveError {
    /// Median of the non-negative errors.
    pub p50: f64,
    /// 99th percentile of the non-negative errors.
    pub p99: f64,
    /// Largest error.
    pub max: f64,
    /// Wills that came before their deadline (a violation of MQTT-3.1.2-24 / -22 read backwards:
    /// the broker may not drop a client that still had time).
    pub violations: u64,
    /// How early the earliest violation was, ms (0 when none).
    pub earliest_ms: f64,
    /// Number of keep-alive wills measured.
    pub count: u64,
}

/// The will tally of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// (observer, client) pairs that must see a will.
    pub expected: u64,
    /// Expected pairs that saw at least one.
    pub received: u64,
    /// Expected pairs that saw none.
    pub lost: u64,
    /// Extra copies beyond the first for expected pairs.
    pub duplicated: u64,
    /// Wills nobody should have sent: for clients that were not faulted or reconnected in time, from
    /// a wrong connection generation, or on a topic that names no client.
    pub unexpected: u64,
}

impl Tally {
    /// Tallies one observer: `expected[c]` says whether client `c` must produce a will, `seen[c]` how
    /// many matching wills arrived, `stray` wills that matched no expectation at all.
    pub fn observe(&mut self, expected: &[bool], seen: &[u32], stray: u64) {
        for (c, &n) in seen.iter().enumerate() {
            if expected.get(c).copied().unwrap_or(false) {
                self.expected += 1;
                if n == 0 {
                    self.lost += 1;
                } else {
                    self.received += 1;
                    self.duplicated += u64::from(n - 1);
                }
            } else {
                self.unexpected += u64::from(n);
            }
        }
        self.unexpected += stray;
    }

    /// Adds another tally (repetitions, shards).
    pub fn add(&mut self, o: &Tally) {
        self.expected += o.expected;
        self.received += o.received;
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.unexpected += o.unexpected;
    }

    /// Whether anything went wrong.
    pub fn failed(&self) -> bool {
        self.lost > 0 || self.duplicated > 0 || self.unexpected > 0
    }
}

/// Broker resource use over the run, from /proc.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// The process sampled.
    pub pid: u32,
    /// The embedded broker shares this process with the load generator: its figures include both.
    pub shared_with_harness: bool,
    /// VmRSS before the fleet connected, KiB.
    pub rss_start_kib: u64,
    /// Highest VmRSS sampled, KiB.
    pub rss_peak_kib: u64,
    /// VmRSS at the end, KiB.
    pub rss_end_kib: u64,
    /// CPU time (user + system) over the run divided by wall time, percent of one core.
    pub cpu_percent: f64,
    /// CPU time during the fault → last will window, ms.
    pub cpu_storm_ms: f64,
}

/// The histograms of a run, hex-encoded V2-deflate (µs values).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    /// Will due → arrival (due = planned fault instant, plus the will delay; for keep-alive faults
    /// the keep-alive deadline).
    pub latency_planned: String,
    /// Will due, counted from the actual fault instant.
    pub latency_actual: String,
    /// Arrival offset from the first planned fault instant (wills over time).
    pub arrivals: String,
    /// Non-negative keep-alive errors.
    pub keepalive_late: String,
    /// How early each keep-alive violation was.
    pub keepalive_early: String,
    /// CONNECT planned → CONNACK.
    pub connect: String,
    /// Injector lag: actual − planned fault instant.
    pub injection_lag: String,
}

/// The decoded histograms.
#[derive(Clone, Debug)]
pub struct Hists {
    /// See [`Histograms::latency_planned`].
    pub latency_planned: Histogram<u64>,
    /// See [`Histograms::latency_actual`].
    pub latency_actual: Histogram<u64>,
    /// See [`Histograms::arrivals`].
    pub arrivals: Histogram<u64>,
    /// See [`Histograms::keepalive_late`].
    pub keepalive_late: Histogram<u64>,
    /// See [`Histograms::keepalive_early`].
    pub keepalive_early: Histogram<u64>,
    /// See [`Histograms::connect`].
    pub connect: Histogram<u64>,
    /// See [`Histograms::injection_lag`].
    pub injection_lag: Histogram<u64>,
}

impl Default for Hists {
    fn default() -> Self {
        Hists {
            latency_planned: new_hist(),
            latency_actual: new_hist(),
            arrivals: new_hist(),
            keepalive_late: new_hist(),
            keepalive_early: new_hist(),
            connect: new_hist(),
            injection_lag: new_hist(),
        }
    }
}

/// Hex of a histogram's V2-deflate encoding.
pub fn encode_hist(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut buf).expect("in-memory serialization");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes [`encode_hist`] output (an empty string is an empty histogram).
pub fn decode_hist(hex: &str) -> anyhow::Result<Histogram<u64>> {
    if hex.is_empty() {
        return Ok(new_hist());
    }
    anyhow::ensure!(hex.len().is_multiple_of(2), "histogram hex has odd length");
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|e| anyhow::anyhow!("bad histogram hex: {e}"))?;
    let h: Histogram<u64> =
        Deserializer::new().deserialize(&mut &bytes[..]).map_err(|e| anyhow::anyhow!("bad histogram: {e:?}"))?;
    let mut out = new_hist();
    out.add(&h).map_err(|e| anyhow::anyhow!("histogram out of range: {e:?}"))?;
    Ok(out)
}

impl Hists {
    /// Encodes all.
    pub fn encode(&self) -> Histograms {
        Histograms {
            latency_planned: encode_hist(&self.latency_planned),
            latency_actual: encode_hist(&self.latency_actual),
            arrivals: encode_hist(&self.arrivals),
            keepalive_late: encode_hist(&self.keepalive_late),
            keepalive_early: encode_hist(&self.keepalive_early),
            connect: encode_hist(&self.connect),
            injection_lag: encode_hist(&self.injection_lag),
        }
    }
    /// Decodes all.
    pub fn decode(h: &Histograms) -> anyhow::Result<Hists> {
        Ok(Hists {
            latency_planned: decode_hist(&h.latency_planned)?,
            latency_actual: decode_hist(&h.latency_actual)?,
            arrivals: decode_hist(&h.arrivals)?,
            keepalive_late: decode_hist(&h.keepalive_late)?,
            keepalive_early: decode_hist(&h.keepalive_early)?,
            connect: decode_hist(&h.connect)?,
            injection_lag: decode_hist(&h.injection_lag)?,
        })
    }
    /// Adds another set.
    pub fn add(&mut self, o: &Hists) {
        let add = |a: &mut Histogram<u64>, b: &Histogram<u64>| a.add(b).expect("same bounds");
        add(&mut self.latency_planned, &o.latency_planned);
        add(&mut self.latency_actual, &o.latency_actual);
        add(&mut self.arrivals, &o.arrivals);
        add(&mut self.keepalive_late, &o.keepalive_late);
        add(&mut self.keepalive_early, &o.keepalive_early);
        add(&mut self.connect, &o.connect);
        add(&mut self.injection_lag, &o.injection_lag);
    }
    /// Records a keep-alive error: `arrival − deadline`, signed.
    pub fn record_keepalive(&mut self, arrival_after_deadline: Result<Duration, Duration>) {
        match arrival_after_deadline {
            Ok(late) => record(&mut self.keepalive_late, late),
            Err(early) => record(&mut self.keepalive_early, early),
        }
    }
    /// The keep-alive summary.
    pub fn keepalive(&self) -> KeepAliveError {
        let late = &self.keepalive_late;
        let early = &self.keepalive_early;
        let ms = |v: u64| v as f64 / 1000.0;
        KeepAliveError {
            p50: if late.is_empty() { 0.0 } else { ms(late.value_at_quantile(0.5)) },
            p99: if late.is_empty() { 0.0 } else { ms(late.value_at_quantile(0.99)) },
            max: if late.is_empty() { 0.0 } else { ms(late.max()) },
            violations: early.len(),
            earliest_ms: if early.is_empty() { 0.0 } else { ms(early.max()) },
            count: late.len() + early.len(),
        }
    }
}

/// Background traffic as measured: messages written, QoS 1 acknowledgements read back, and the
/// rate achieved against the plan (a broker that stalls publishers shows up here).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackgroundStats {
    /// Publishing clients.
    pub publishers: u64,
    /// Planned messages per second, all publishers together.
    pub planned_rate_per_s: f64,
    /// PUBLISH packets written.
    pub sent: u64,
    /// PUBACKs received (QoS 1; 0 for QoS 0).
    pub acknowledged: u64,
    /// `sent` over the time the publishers ran.
    pub achieved_rate_per_s: f64,
    /// How long the publishers ran, ms.
    pub duration_ms: f64,
}

impl BackgroundStats {
    /// Adds another shard's figures (rates add: the shards ran side by side).
    pub fn add(&mut self, o: &BackgroundStats) {
        self.publishers += o.publishers;
        self.planned_rate_per_s += o.planned_rate_per_s;
        self.sent += o.sent;
        self.acknowledged += o.acknowledged;
        self.achieved_rate_per_s += o.achieved_rate_per_s;
        self.duration_ms = self.duration_ms.max(o.duration_ms);
    }
}

/// The machine-readable summary of a load run (`--json FILE`), also the input of `merge`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Target name.
    pub target: String,
    /// Fault kind.
    pub fault: String,
    /// Protocol of the fleet.
    pub protocol: String,
    /// Shards this summary covers, e.g. "0/1" (whole), "2/8", or "merged 8".
    pub shard: String,
    /// Clients in the fleet (this shard's slice), per repetition.
    pub clients: u64,
    /// Observers.
    pub observers: u64,
    /// Repetitions run.
    pub repetitions: u32,
    /// See [`Tally::expected`].
    pub wills_expected: u64,
    /// See [`Tally::received`].
    pub wills_received: u64,
    /// See [`Tally::lost`].
    pub wills_lost: u64,
    /// See [`Tally::duplicated`].
    pub wills_duplicated: u64,
    /// See [`Tally::unexpected`].
    pub wills_unexpected: u64,
    /// First planned fault → first will, ms.
    pub time_to_first_will_ms: f64,
    /// First planned fault → median will, ms.
    pub time_to_median_will_ms: f64,
    /// First planned fault → last will, ms.
    pub time_to_last_will_ms: f64,
    /// What the latency is counted from.
    pub latency_origin: String,
    /// Will latency from the planned instant (the headline, coordinated-omission safe), ms.
    pub latency_ms: Pcts,
    /// Will latency from the actual instant (the syscall), ms.
    pub latency_from_actual_ms: Pcts,
    /// Injector lag (actual − planned), ms.
    pub injection_lag_ms: Pcts,
    /// First → last actual fault instant of the storm: how long the kernel (and the injector) took to
    /// close every socket, ms (largest over repetitions).
    pub injection_span_ms: f64,
    /// Last actual fault → last will: the broker's lag behind the kernel, ms (largest over
    /// repetitions; 0 when no will arrived).
    pub broker_lag_ms: f64,
    /// Keep-alive error (will time − 1.5 × keep-alive deadline).
    pub keepalive_error_ms: KeepAliveError,
    /// CONNACKs per second while the fleet connected.
    pub connect_rate_per_s: f64,
    /// Planned CONNECT → CONNACK, ms.
    pub connect_latency_ms: Pcts,
    /// Clients that did not connect.
    pub connect_failures: u64,
    /// Every observer proved it was live at the end (a probe it published came back).
    pub observers_live: bool,
    /// Broker resource use, when the harness can see the process.
    pub broker: Option<Resources>,
    /// What the background publishers achieved, when the scenario has them.
    #[serde(default)]
    pub background: Option<BackgroundStats>,
    /// This shard's barrier record, when shards met at a fleet-wide fault instant (`--barrier`).
    #[serde(default)]
    pub sync: Option<super::barrier::ShardSync>,
    /// The fleet-wide injection span and offset spread of synchronised shards (merged summaries).
    #[serde(default)]
    pub fleet_sync: Option<super::barrier::FleetSync>,
    /// Will vs life-cycle event latency per fault kind, when the run read life-cycle events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<super::lifecycle::LifecycleReport>,
    /// Remarks (limits hit, why a target was out of reach, ...).
    pub notes: Vec<String>,
    /// The raw histograms.
    pub histograms: Histograms,
}

impl Summary {
    /// The tally part.
    pub fn tally(&self) -> Tally {
        Tally {
            expected: self.wills_expected,
            received: self.wills_received,
            lost: self.wills_lost,
            duplicated: self.wills_duplicated,
            unexpected: self.wills_unexpected,
        }
    }

    /// Fills counts and every histogram-derived figure from a tally and histograms.
    pub fn fill(&mut self, t: &Tally, h: &Hists) {
        self.wills_expected = t.expected;
        self.wills_received = t.received;
        self.wills_lost = t.lost;
        self.wills_duplicated = t.duplicated;
        self.wills_unexpected = t.unexpected;
        self.latency_ms = Pcts::of(&h.latency_planned);
        self.latency_from_actual_ms = Pcts::of(&h.latency_actual);
        self.injection_lag_ms = Pcts::of(&h.injection_lag);
        self.keepalive_error_ms = h.keepalive();
        self.connect_latency_ms = Pcts::of(&h.connect);
        let a = &h.arrivals;
        if !a.is_empty() {
            self.time_to_first_will_ms = a.min() as f64 / 1000.0;
            self.time_to_median_will_ms = a.value_at_quantile(0.5) as f64 / 1000.0;
            self.time_to_last_will_ms = a.max() as f64 / 1000.0;
        }
        self.histograms = h.encode();
    }

    /// Whether the run failed (exit status 1): wills lost, duplicated or unexpected, or an observer
    /// that could not prove it was listening (then absence is unproven).
    pub fn failed(&self) -> bool {
        self.tally().failed() || !self.observers_live
    }

    /// Merges shard summaries into one: counts add, histograms merge, times take the largest.
    pub fn merge(parts: &[Summary]) -> anyhow::Result<Summary> {
        anyhow::ensure!(!parts.is_empty(), "nothing to merge");
        let mut t = Tally::default();
        let mut h = Hists::default();
        let first = &parts[0];
        let mut out = Summary {
            scenario: first.scenario.clone(),
            target: first.target.clone(),
            fault: first.fault.clone(),
            protocol: first.protocol.clone(),
            shard: format!("merged {}", parts.len()),
            latency_origin: first.latency_origin.clone(),
            observers_live: true,
            repetitions: first.repetitions,
            ..Summary::default()
        };
        for p in parts {
            t.add(&p.tally());
            h.add(&Hists::decode(&p.histograms)?);
            out.clients += p.clients;
            out.observers += p.observers;
            out.connect_failures += p.connect_failures;
            out.connect_rate_per_s += p.connect_rate_per_s;
            out.observers_live &= p.observers_live;
            out.injection_span_ms = out.injection_span_ms.max(p.injection_span_ms);
            out.broker_lag_ms = out.broker_lag_ms.max(p.broker_lag_ms);
            if p.scenario != first.scenario {
                out.notes.push(format!("shard {} ran scenario {} (not {})", p.shard, p.scenario, first.scenario));
            }
            out.notes.extend(p.notes.iter().map(|n| format!("[{}] {n}", p.shard)));
            if out.broker.is_none() {
                out.broker = p.broker.clone();
            }
            if let Some(b) = &p.background {
                out.background.get_or_insert_with(BackgroundStats::default).add(b);
            }
        }
        out.lifecycle = super::lifecycle::LifecycleReport::merge(parts.iter().filter_map(|p| p.lifecycle.as_ref()))?;
        out.fleet_sync = super::barrier::fleet_sync(parts.iter().filter_map(|p| p.sync.as_ref()));
        if out.fleet_sync.as_ref().is_some_and(|f| (f.shards as usize) < parts.len()) {
            out.notes.push("some shards did not meet at the barrier: their faults are not synchronised".into());
        }
        out.fill(&t, &h);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_lost_duplicates_and_strays() {
        let mut t = Tally::default();
        t.observe(&[true, true, true, false], &[1, 0, 3, 2], 1);
        assert_eq!(t, Tally { expected: 3, received: 2, lost: 1, duplicated: 2, unexpected: 3 });
        assert!(t.failed());
        let mut ok = Tally::default();
        ok.observe(&[true, false], &[1, 0], 0);
        assert!(!ok.failed());
    }

    #[test]
    fn histograms_round_trip() {
        let mut h = new_hist();
        for i in 1..=1000 {
            record(&mut h, Duration::from_micros(i * 10));
        }
        let back = decode_hist(&encode_hist(&h)).unwrap();
        assert_eq!(back.len(), 1000);
        assert_eq!(back.max(), h.max());
        assert_eq!(decode_hist("").unwrap().len(), 0);
    }
}
