//! Latency histograms: fault → will per (fault kind, QoS, protocol), from the planned and from the
//! actual fault instant, and the keep-alive error (will time − 1.5 × keep-alive deadline).
//! Values are recorded in microseconds; percentiles are reported in milliseconds.

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Percentiles of one histogram, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
    /// Number of values.
    pub count: u64,
}

/// A histogram of durations in microseconds (1 µs .. 1 hour, 3 significant digits).
#[derive(Clone, Debug)]
pub struct DurationHistogram(pub Histogram<u64>);

impl Default for DurationHistogram {
    fn default() -> Self {
        DurationHistogram(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"))
    }
}

impl DurationHistogram {
    /// Records one duration (clamped to the histogram's range).
    pub fn record(&mut self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, 3_600_000_000);
        self.0.record(us).expect("clamped into range");
    }
    /// Percentiles in milliseconds.
    pub fn percentiles(&self) -> Percentiles {
        Percentiles::of(&self.0)
    }
}

impl Percentiles {
    /// Percentiles of a µs histogram, in ms (all zero when empty).
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let q = |x: f64| h.value_at_quantile(x) as f64 / 1000.0;
        Percentiles { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: h.max() as f64 / 1000.0, count: h.len() }
    }
}

/// Key of a latency series.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SeriesKey {
    /// Fault kind label (see [`crate::fault::Fault::kind`]).
    pub fault: String,
    /// Will QoS.
    pub qos: u8,
    /// Protocol ("3.1.1" or "5.0").
    pub protocol: String,
}

/// Two histograms per series: from the planned and from the actual fault instant.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// Fault planned → will received.
    pub from_planned: DurationHistogram,
    /// Fault took effect → will received.
    pub from_actual: DurationHistogram,
}

/// Keep-alive precision: signed error of each keep-alive will against its deadline.
#[derive(Clone, Debug, Default)]
pub struct KeepAliveErrors {
    /// Errors ≥ 0 (late or on time).
    pub late: DurationHistogram,
    /// Wills that came before the deadline (violations), with how early.
    pub early: Vec<Duration>,
}

impl KeepAliveErrors {
    /// Records `arrival − deadline`, given as (arrival, deadline) offsets.
    pub fn record(&mut self, arrival: Duration, deadline: Duration) {
        if arrival >= deadline {
            self.late.record(arrival - deadline);
        } else {
            self.early.push(deadline - arrival);
        }
    }
}

/// All latency series of a run.
#[derive(Clone, Debug, Default)]
pub struct LatencyBook {
    /// Series by key.
    pub series: BTreeMap<SeriesKey, Series>,
    /// Keep-alive errors.
    pub keepalive: KeepAliveErrors,
}

impl LatencyBook {
    /// Records one will: how long after the planned and the actual fault instant it arrived.
    pub fn record(&mut self, key: SeriesKey, from_planned: Duration, from_actual: Duration) {
        let s = self.series.entry(key).or_default();
        s.from_planned.record(from_planned);
        s.from_actual.record(from_actual);
    }

    /// Merges another book into this one (shards, parallel tasks).
    pub fn merge(&mut self, other: &LatencyBook) {
        for (k, s) in &other.series {
            let mine = self.series.entry(k.clone()).or_default();
            mine.from_planned.0.add(&s.from_planned.0).expect("same bounds");
            mine.from_actual.0.add(&s.from_actual.0).expect("same bounds");
        }
        self.keepalive.late.0.add(&other.keepalive.late.0).expect("same bounds");
        self.keepalive.early.extend_from_slice(&other.keepalive.early);
    }

    /// Writes every series as a standard HdrHistogram interval log (`.hlog`), one tagged interval
    /// per series, for HistogramLogAnalyzer and hdr-plot.
    pub fn write_hlog(&self, out: &mut impl std::io::Write) -> anyhow::Result<()> {
        let names: Vec<(String, &Histogram<u64>)> = self
            .series
            .iter()
            .flat_map(|(k, s)| {
                [("planned", &s.from_planned), ("actual", &s.from_actual)].map(|(which, h)| {
                    (format!("{}-qos{}-v{}-from-{}", k.fault, k.qos, k.protocol, which), &h.0)
                })
            })
            .chain((!self.keepalive.late.0.is_empty()).then(|| ("keepalive-error".to_owned(), &self.keepalive.late.0)))
            .collect();
        let series: Vec<(&str, &Histogram<u64>)> = names.iter().map(|(n, h)| (n.as_str(), *h)).collect();
        write_tagged_hlog(&series, "lwt-harness will latency, microseconds (max values shown in ms)", out)
    }
}

/// Writes histograms (µs) as one HdrHistogram interval log, one tagged interval per series: the
/// format HistogramLogAnalyzer and hdr-plot read. Used by checks and load runs alike.
pub fn write_tagged_hlog(series: &[(&str, &Histogram<u64>)], comment: &str, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let err = |e: &dyn std::fmt::Debug| anyhow::anyhow!("hlog: {e:?}");
    let mut ser = V2DeflateSerializer::new();
    let mut w = IntervalLogWriterBuilder::new()
        .with_base_time(SystemTime::now())
        .with_max_value_divisor(1000.0)
        .begin_log_with(out, &mut ser)
        .map_err(|e| err(&e))?;
    w.write_comment(comment).map_err(|e| err(&e))?;
    for (name, h) in series {
        let tag = Tag::new(name).ok_or_else(|| anyhow::anyhow!("bad hlog tag {name}"))?;
        w.write_histogram(h, Duration::ZERO, Duration::from_secs(1), Some(tag)).map_err(|e| err(&e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_merge_and_hlog() {
        let key = SeriesKey { fault: "fin".into(), qos: 1, protocol: "5.0".into() };
        let mut a = LatencyBook::default();
        for i in 1..=100u64 {
            a.record(key.clone(), Duration::from_micros(i * 100 + 50), Duration::from_micros(i * 100));
        }
        let mut b = LatencyBook::default();
        b.record(key.clone(), Duration::from_millis(50), Duration::from_millis(50));
        b.keepalive.record(Duration::from_millis(1510), Duration::from_millis(1500));
        b.keepalive.record(Duration::from_millis(1400), Duration::from_millis(1500));
        a.merge(&b);
        let p = a.series[&key].from_actual.percentiles();
        assert_eq!(p.count, 101);
        assert!((p.p50 - 5.1).abs() < 0.1, "{p:?}");
        assert!((p.max - 50.0).abs() < 0.1, "{p:?}");
        assert_eq!(a.keepalive.early, vec![Duration::from_millis(100)]);
        assert_eq!(a.keepalive.late.percentiles().count, 1);
        let mut buf = Vec::new();
        a.write_hlog(&mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("Tag=fin-qos1-v5.0-from-actual"), "{text}");
        assert!(text.contains("#[BaseTime:"), "{text}");
    }
}
