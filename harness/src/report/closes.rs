//! Will latency of a `check` run by close type (FIN, RST, keep-alive, DISCONNECT 0x04, takeover, will
//! delay): each scenario's close type is read from its steps, its fault → will times from its
//! verdicts, and the times go into one HdrHistogram per close type, saved as `latency.hlog` and
//! plotted like the load report's latency spectrum.

use crate::bdd::report::ScenarioRecord;
use crate::latency::DurationHistogram;
use cucumber::gherkin;
use std::collections::BTreeMap;
use std::time::Duration;

/// The close types the report plots, in the order it lists them.
pub const CLOSE_TYPES: [&str; 6] = ["FIN", "RST", "keep-alive", "DISCONNECT 0x04", "takeover", "will delay"];

/// How a scenario's connection ends, from its steps (feature background included): the close type
/// its latency is filed under, or `None` for scenarios that close no connection with a will (or close
/// it some other way: protocol errors, broker restarts, WebSocket close frames).
pub fn close_type(feature: &gherkin::Feature, scenario: &gherkin::Scenario) -> Option<&'static str> {
    let background = feature.background.iter().flat_map(|b| b.steps.iter());
    let steps: Vec<&str> = background.chain(scenario.steps.iter()).map(|s| s.value.as_str()).collect();
    close_type_of_steps(&steps)
}

/// [`close_type`] on step texts: a will delay above zero wins (the will waits for it whatever closed
/// the connection); otherwise the first step that closes the connection decides.
pub fn close_type_of_steps(steps: &[&str]) -> Option<&'static str> {
    if steps.iter().any(|s| delay_above_zero(s)) {
        return Some("will delay");
    }
    steps.iter().find_map(|s| {
        let s = s.to_ascii_lowercase();
        let has = |p: &str| s.contains(p);
        if has("resets its connection") || has("cut with rst") {
            Some("RST")
        } else if has("goes silent") || has("goes dark") {
            Some("keep-alive")
        } else if has("reason code 0x04") {
            Some("DISCONNECT 0x04")
        } else if has("is taken over") {
            Some("takeover")
        } else if has("loses its connection without disconnect") || has("closes its connection") || has("close their connections") || has("cut with fin") {
            Some("FIN")
        } else {
            None
        }
    })
}

/// `the will of "x" has delay N second(s)` with N > 0.
fn delay_above_zero(step: &str) -> bool {
    step.split_once("has delay ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n > 0)
}

/// Whether a verdict timing is a will's arrival after the fault (not an unexpected will, not some
/// other delivery).
fn is_will_latency(label: &str) -> bool {
    label == "fault → will" || label == "fault → last will"
}

/// One histogram (µs) per close type that has data, in [`CLOSE_TYPES`] order.
pub fn histograms(records: &[ScenarioRecord]) -> Vec<(&'static str, DurationHistogram)> {
    let mut by_type: BTreeMap<&str, DurationHistogram> = BTreeMap::new();
    for r in records {
        let Some(key) = CLOSE_TYPES.iter().find(|c| Some(**c) == r.close.as_deref()) else { continue };
        for t in r.verdicts.iter().flat_map(|v| v.timings.iter()).filter(|t| is_will_latency(&t.label)) {
            by_type.entry(key).or_default().record(Duration::from_secs_f64(t.ms.max(0.0) / 1000.0));
        }
    }
    CLOSE_TYPES.iter().filter_map(|c| by_type.remove(c).map(|h| (*c, h))).collect()
}

/// Writes the histograms as one tagged HdrHistogram interval log (`latency.hlog`).
pub fn write_hlog(hists: &[(&'static str, DurationHistogram)], out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let tags: Vec<String> = hists.iter().map(|(c, _)| c.replace(' ', "-")).collect();
    let series: Vec<(&str, &hdrhistogram::Histogram<u64>)> = tags.iter().map(String::as_str).zip(hists.iter().map(|(_, h)| &h.0)).collect();
    crate::latency::write_tagged_hlog(&series, "lwt-harness check: fault → will by close type, microseconds (max shown in ms)", out)
}

/// The latency spectrum of every close type with data (an SVG), or `None` when no will was timed.
pub fn spectrum_svg(hists: &[(&'static str, DurationHistogram)]) -> Option<String> {
    if hists.is_empty() {
        return None;
    }
    let series: Vec<(&str, &hdrhistogram::Histogram<u64>)> = hists.iter().map(|(c, h)| (*c, &h.0)).collect();
    Some(crate::load::plot::latency_spectrum(&series))
}

/// Rows of the latency table: close type, count, p50, p90, p99, max (ms).
pub fn rows(hists: &[(&'static str, DurationHistogram)]) -> Vec<[String; 6]> {
    hists
        .iter()
        .map(|(c, h)| {
            let p = h.percentiles();
            [c.to_string(), p.count.to_string(), format!("{:.1}", p.p50), format!("{:.1}", p.p90), format!("{:.1}", p.p99), format!("{:.1}", p.max)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Level, Status, Timing, Verdict};

    #[test]
    fn close_types_come_from_the_steps() {
        assert_eq!(close_type_of_steps(&[r#""sensor1" is connected"#, r#""sensor1" resets its connection"#]), Some("RST"));
        assert_eq!(close_type_of_steps(&[r#""sensor1" closes its connection"#]), Some("FIN"));
        assert_eq!(close_type_of_steps(&[r#""sensor1" goes silent"#]), Some("keep-alive"));
        assert_eq!(close_type_of_steps(&[r#""sensor1" disconnects with reason code 0x04"#]), Some("DISCONNECT 0x04"));
        assert_eq!(close_type_of_steps(&[r#""sensor1" is taken over by a new connection with clean start 0"#]), Some("takeover"));
        assert_eq!(close_type_of_steps(&[r#"the will of "sensor1" has delay 2 seconds"#, r#""sensor1" closes its connection"#]), Some("will delay"));
        assert_eq!(close_type_of_steps(&[r#"the will of "sensor1" has delay 0 seconds"#, r#""sensor1" resets its connection"#]), Some("RST"));
        assert_eq!(close_type_of_steps(&[r#""sensor1" disconnects normally"#]), None);
    }

    #[test]
    fn only_will_arrivals_are_counted_per_close_type() {
        let timing = |label: &str, ms: f64| Timing { label: label.into(), ms };
        let v = Verdict {
            status: Status::Pass,
            timings: vec![timing("fault → will", 12.0), timing("fault → unexpected will", 5.0), timing("fault → delivery", 1.0)],
            ..Verdict::error("MQTT-3.1.2-8", Level::Must, "x", "y")
        };
        let rst = ScenarioRecord { close: Some("RST".into()), verdicts: vec![v.clone()], ..ScenarioRecord::blank("f", "s", 1) };
        let none = ScenarioRecord { close: None, verdicts: vec![v], ..ScenarioRecord::blank("f", "t", 2) };
        let h = histograms(&[rst, none]);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].0, "RST");
        let p = h[0].1.percentiles();
        assert_eq!(p.count, 1);
        assert!((p.p50 - 12.0).abs() < 0.05, "{p:?}");
        let mut log = Vec::new();
        write_hlog(&h, &mut log).unwrap();
        assert!(String::from_utf8(log).unwrap().contains("Tag=RST"));
        assert!(spectrum_svg(&h).unwrap().contains("<polyline"));
        assert!(spectrum_svg(&[]).is_none(), "no plot without data");
    }
}
