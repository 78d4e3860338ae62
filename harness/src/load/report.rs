//! The load report: a summary table for the terminal, and a folder with report.md, report.html,
//! summary.json, SVG plots and `.hlog` histogram logs (HistogramLogAnalyzer, hdr-plot), built from the
//! summary and its histograms, never from log lines.

use super::plot;
use super::summary::{Hists, Summary};
use super::throughput::Throughput;
use anyhow::Context;
use std::fmt::Write as _;
use std::path::Path;

fn ms(v: f64) -> String {
    format!("{v:.3}")
}

/// The rows of the summary table: (metric, value).
pub fn rows(s: &Summary) -> Vec<(String, String)> {
    let mut r: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, v: String| r.push((k.to_string(), v));
    add("scenario", s.scenario.clone());
    add("target", s.target.clone());
    add("fault / protocol", format!("{} / {}", s.fault, s.protocol));
    add("clients × repetitions (shard)", format!("{} × {} ({})", s.clients, s.repetitions, s.shard));
    add("wills expected / received", format!("{} / {}", s.wills_expected, s.wills_received));
    add("wills lost / duplicated / unexpected", format!("{} / {} / {}", s.wills_lost, s.wills_duplicated, s.wills_unexpected));
    add("observers proved live (probe)", if s.observers_live { "yes".into() } else { "NO".into() });
    add(
        "fault → first / median / last will (ms)",
        format!("{} / {} / {}", ms(s.time_to_first_will_ms), ms(s.time_to_median_will_ms), ms(s.time_to_last_will_ms)),
    );
    let l = &s.latency_ms;
    add("latency from planned p50 / p90 / p99 / p99.9 / max (ms)", format!("{} / {} / {} / {} / {} (n={})", ms(l.p50), ms(l.p90), ms(l.p99), ms(l.p999), ms(l.max), l.count));
    let a = &s.latency_from_actual_ms;
    add("latency from actual p50 / p99 / max (ms)", format!("{} / {} / {}", ms(a.p50), ms(a.p99), ms(a.max)));
    add("injector lag (actual − planned) p50 / max (ms)", format!("{} / {}", ms(s.injection_lag_ms.p50), ms(s.injection_lag_ms.max)));
    add("kernel/injector close span, first → last fault (ms)", ms(s.injection_span_ms));
    add("broker lag, last fault → last will (ms)", ms(s.broker_lag_ms));
    if let Some(f) = &s.fleet_sync {
        add(&format!("fleet-wide close span, {} shards at one barrier (ms)", f.shards), ms(f.injection_span_ms));
        add("shards' clock offset spread at the barrier (ms)", ms(f.offset_spread_ms));
    } else if let Some(b) = &s.sync {
        add(&format!("barrier {}: clock offset from shard 0 (ms)", b.barrier), ms(b.clock_offset_ms));
    }
    let k = &s.keepalive_error_ms;
    if k.count > 0 {
        add(
            "deadline error p50 / p99 / max (ms), violations",
            format!("{} / {} / {}, {} (earliest −{} ms, n={})", ms(k.p50), ms(k.p99), ms(k.max), k.violations, ms(k.earliest_ms), k.count),
        );
    }
    add("connect rate (/s)", format!("{:.0}", s.connect_rate_per_s));
    if let Some(b) = &s.background {
        add(
            "background: sent / acknowledged, rate achieved / planned (/s)",
            format!("{} / {}, {:.0} / {:.0} ({} publishers, {:.1} s)", b.sent, b.acknowledged, b.achieved_rate_per_s, b.planned_rate_per_s, b.publishers, b.duration_ms / 1000.0),
        );
    }
    add("connect latency p50 / p99 / max (ms)", format!("{} / {} / {}", ms(s.connect_latency_ms.p50), ms(s.connect_latency_ms.p99), ms(s.connect_latency_ms.max)));
    if s.connect_failures > 0 {
        add("connect failures", s.connect_failures.to_string());
    }
    if let Some(b) = &s.broker {
        add(
            "broker RSS start / peak / end (MiB)",
            format!("{:.1} / {:.1} / {:.1}{}", b.rss_start_kib as f64 / 1024.0, b.rss_peak_kib as f64 / 1024.0, b.rss_end_kib as f64 / 1024.0, if b.shared_with_harness { " (shared with the harness)" } else { "" }),
        );
        add("broker CPU over the run (% of a core), CPU fault → last will (ms)", format!("{:.1}, {:.1}", b.cpu_percent, b.cpu_storm_ms));
    }
    r
}

/// The summary as an aligned text table.
pub fn table(s: &Summary) -> String {
    let rows = rows(s);
    let w = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<w$}  {v}");
    }
    if let Some(l) = &s.lifecycle {
        out.push_str(&super::lifecycle::text(l));
    }
    for n in &s.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(out, "latency is counted from {}", s.latency_origin);
    out
}

/// The summary as a markdown table, with links to the plots that were drawn (`(file, alt text)`;
/// a plot with no data is not drawn, so not linked).
pub fn markdown(s: &Summary, plots: &[(&str, &str)]) -> String {
    let mut md = format!("# Load run: {}\n\n| metric | value |\n|---|---|\n", s.scenario);
    for (k, v) in rows(s) {
        let _ = writeln!(md, "| {k} | {} |", v.replace('|', "\\|"));
    }
    let _ = writeln!(md, "\nLatency is counted from {}. The planned instant is the headline (wrk2-style: a late injector counts as latency); the actual instant is taken just before each system call.\n", s.latency_origin);
    for n in &s.notes {
        let _ = writeln!(md, "- note: {n}");
    }
    md.push('\n');
    if let Some(l) = &s.lifecycle {
        md.push_str(&super::lifecycle::markdown(l));
        md.push('\n');
    }
    for (file, alt) in plots {
        let _ = writeln!(md, "![{alt}]({file})\n");
    }
    md.push_str("Histogram logs: `latency.hlog` (µs).\n");
    md
}

/// Writes all histograms as one tagged interval log.
pub fn write_hlog(h: &Hists, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let series = [
        ("latency-from-planned", &h.latency_planned),
        ("latency-from-actual", &h.latency_actual),
        ("arrivals", &h.arrivals),
        ("keepalive-error", &h.keepalive_late),
        ("keepalive-early", &h.keepalive_early),
        ("connect", &h.connect),
        ("injection-lag", &h.injection_lag),
    ];
    crate::latency::write_tagged_hlog(&series, "lwt-harness load: values in microseconds (max shown in ms)", out)
}

/// Writes the report folder for one summary.
pub fn write(dir: &Path, s: &Summary) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let h = Hists::decode(&s.histograms)?;
    let put = |f: &str, text: &str| std::fs::write(dir.join(f), text).with_context(|| format!("cannot write {}", dir.join(f).display()));
    put("summary.json", &serde_json::to_string_pretty(s)?)?;
    // Plots with no data are left out (a FIN storm has no keep-alive error; a run with no will has
    // no latency).
    let mut plots = String::new();
    let mut drawn: Vec<(&str, &str)> = Vec::new();
    let has = |hs: &[&hdrhistogram::Histogram<u64>]| hs.iter().any(|h| !h.is_empty());
    if has(&[&h.latency_planned, &h.latency_actual]) {
        let lat = plot::latency_spectrum(&[("from planned", &h.latency_planned), ("from actual", &h.latency_actual)]);
        put("latency.svg", &lat)?;
        drawn.push(("latency.svg", "latency"));
        plots += &lat;
    }
    if has(&[&h.arrivals]) {
        let arr = plot::arrivals(&h.arrivals);
        put("arrivals.svg", &arr)?;
        drawn.push(("arrivals.svg", "arrivals"));
        plots += &arr;
    }
    if has(&[&h.keepalive_late, &h.keepalive_early]) {
        let ka = plot::keepalive_error(&h.keepalive_late, &h.keepalive_early);
        put("keepalive.svg", &ka)?;
        drawn.push(("keepalive.svg", "keep-alive error"));
        plots += &ka;
    }
    put("report.md", &markdown(s, &drawn))?;
    let mut hlog = Vec::new();
    write_hlog(&h, &mut hlog)?;
    std::fs::write(dir.join("latency.hlog"), hlog)?;
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>lwt-harness load: {0}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}</style></head><body><h1>Load run: {0}</h1><table>",
        html_esc(&s.scenario)
    );
    for (k, v) in rows(s) {
        let _ = write!(html, "<tr><th align=left>{}</th><td>{}</td></tr>", html_esc(&k), html_esc(&v));
    }
    let _ = write!(html, "</table><p>Latency is counted from {}.</p>", html_esc(&s.latency_origin));
    if let Some(l) = &s.lifecycle {
        html.push_str(&super::lifecycle::html(l, html_esc));
    }
    html.push_str("<ul>");
    for n in &s.notes {
        let _ = write!(html, "<li>{}</li>", html_esc(n));
    }
    let _ = writeln!(html, "</ul>{plots}<p>Histogram logs: <a href=\"latency.hlog\">latency.hlog</a></p></body></html>");
    put("report.html", &html)?;
    Ok(())
}

fn html_esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A side-by-side table of several targets' summaries with ratios to the first.
pub fn compare_table(runs: &[Summary], tput: &[Vec<Throughput>]) -> String {
    let mut md = String::from("| metric |");
    for r in runs {
        let _ = write!(md, " {} |", r.target);
    }
    for r in runs.iter().skip(1) {
        let _ = write!(md, " ratio {} / {} |", short(&runs[0].target), short(&r.target));
    }
    md.push('\n');
    md.push_str(&"|---".repeat(1 + runs.len() + runs.len().saturating_sub(1)));
    md.push_str("|\n");
    type Get = fn(&Summary) -> f64;
    let metrics: Vec<(&str, Get, bool)> = vec![
        ("wills expected", |s| s.wills_expected as f64, false),
        ("wills received", |s| s.wills_received as f64, false),
        ("wills lost", |s| s.wills_lost as f64, false),
        ("wills duplicated", |s| s.wills_duplicated as f64, false),
        ("wills unexpected", |s| s.wills_unexpected as f64, false),
        ("latency from planned p50 (ms)", |s| s.latency_ms.p50, true),
        ("latency from planned p99 (ms)", |s| s.latency_ms.p99, true),
        ("latency from planned max (ms)", |s| s.latency_ms.max, true),
        ("latency from actual p50 (ms)", |s| s.latency_from_actual_ms.p50, true),
        ("latency from actual p99 (ms)", |s| s.latency_from_actual_ms.p99, true),
        ("fault → last will (ms)", |s| s.time_to_last_will_ms, true),
        ("close span, first → last fault (ms)", |s| s.injection_span_ms, false),
        ("broker lag, last fault → last will (ms)", |s| s.broker_lag_ms, true),
        ("deadline error p50 (ms)", |s| s.keepalive_error_ms.p50, true),
        ("deadline error p99 (ms)", |s| s.keepalive_error_ms.p99, true),
        ("deadline error max (ms)", |s| s.keepalive_error_ms.max, true),
        ("deadline violations", |s| s.keepalive_error_ms.violations as f64, false),
        ("connect rate (/s)", |s| s.connect_rate_per_s, true),
        ("broker peak RSS (MiB)", |s| s.broker.as_ref().map(|b| b.rss_peak_kib as f64 / 1024.0).unwrap_or(0.0), true),
        ("broker CPU fault → last will (ms)", |s| s.broker.as_ref().map(|b| b.cpu_storm_ms).unwrap_or(0.0), true),
    ];
    for (name, get, ratio) in metrics {
        let _ = write!(md, "| {name} |");
        for r in runs {
            let _ = write!(md, " {} |", num(get(r)));
        }
        for r in runs.iter().skip(1) {
            let (a, b) = (get(&runs[0]), get(r));
            let cell = if ratio && b > 0.0 { format!("{:.2}", a / b) } else { "-".into() };
            let _ = write!(md, " {cell} |");
        }
        md.push('\n');
    }
    if tput.len() == runs.len() && !tput.is_empty() {
        for i in 0..tput[0].len() {
            let t0 = &tput[0][i];
            let _ = write!(md, "| throughput {} QoS {} ({}→{}) msg/s (delivered/expected) |", t0.pattern, t0.qos, t0.publishers, t0.subscribers);
            for t in tput {
                match t.get(i) {
                    Some(x) => {
                        let _ = write!(md, " {:.0} ({}/{}) |", x.msgs_per_s, x.delivered, x.expected);
                    }
                    None => md.push_str(" - |"),
                }
            }
            for t in tput.iter().skip(1) {
                let cell = match t.get(i) {
                    Some(x) => t0.ratio_to(x),
                    None => "-".into(),
                };
                let _ = write!(md, " {cell} |");
            }
            md.push('\n');
        }
    }
    md
}

fn short(s: &str) -> String {
    s.split(" (").next().unwrap_or(s).to_string()
}

fn num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e12 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_links_only_the_plots_that_were_drawn() {
        let md = markdown(&Summary::default(), &[("latency.svg", "latency")]);
        assert!(md.contains("![latency](latency.svg)"), "{md}");
        assert!(!md.contains("keepalive.svg") && !md.contains("arrivals.svg"), "{md}");
    }
}
