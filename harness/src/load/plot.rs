//! Hand-written SVG plots for the load report: the latency percentile spectrum (HdrHistogram style,
//! x = 1/(1−p) on a log axis), wills arriving over time after the fault (cumulative), and the
//! keep-alive error distribution (violations left of zero). No plotting crate: a few hundred bytes of
//! SVG per series read in any browser and diff well.

use hdrhistogram::Histogram;
use std::fmt::Write as _;

const W: f64 = 720.0;
const H: f64 = 360.0;
const L: f64 = 70.0;
const R: f64 = 20.0;
const T: f64 = 40.0;
const B: f64 = 50.0;
const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A line chart. `xlog` puts x on a log10 axis (values must be > 0); `xticks` overrides tick labels.
pub fn line_chart(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[(String, Vec<(f64, f64)>)],
    xlog: bool,
    xticks: Option<&[(f64, &str)]>,
) -> String {
    let tx = |x: f64| if xlog { x.max(1e-9).log10() } else { x };
    let pts = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for &(x, y) in pts {
        x0 = x0.min(tx(x));
        x1 = x1.max(tx(x));
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if (x1 - x0).abs() < 1e-12 {
        x1 = x0 + 1.0;
    }
    if y1 <= 0.0 {
        y1 = 1.0;
    }
    y1 *= 1.05;
    let px = |x: f64| L + (tx(x) - x0) / (x1 - x0) * (W - L - R);
    let py = |y: f64| H - B - y / y1 * (H - T - B);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="20" text-anchor="middle" font-size="14">{}</text>
<line x1="{L}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{L}" y1="{T}" x2="{L}" y2="{}" stroke="black"/>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="15" y="{}" text-anchor="middle" transform="rotate(-90 15 {})">{}</text>
"#,
        W / 2.0,
        esc(title),
        H - B,
        W - R,
        H - B,
        H - B,
        (L + W - R) / 2.0,
        H - 10.0,
        esc(xlabel),
        (T + H - B) / 2.0,
        (T + H - B) / 2.0,
        esc(ylabel)
    );
    for k in 0..=4 {
        let y = y1 * k as f64 / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{L}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - R,
            L - 5.0,
            py(y) + 4.0,
            fmt_num(y),
            py = py(y)
        );
    }
    match xticks {
        Some(ticks) => {
            for (x, label) in ticks {
                if tx(*x) < x0 - 1e-9 || tx(*x) > x1 + 1e-9 {
                    continue;
                }
                let _ = writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#, px(*x), H - B + 16.0, esc(label));
            }
        }
        None => {
            for k in 0..=4 {
                let v = x0 + (x1 - x0) * k as f64 / 4.0;
                let x = if xlog { 10f64.powf(v) } else { v };
                let _ = writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#, px(x), H - B + 16.0, fmt_num(x));
            }
        }
    }
    for (i, (name, p)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let path: Vec<String> = p.iter().map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y))).collect();
        if !path.is_empty() {
            let _ = writeln!(s, r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#, path.join(" "));
        }
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{}" width="12" height="4" fill="{color}"/><text x="{}" y="{}">{}</text>"#,
            L + 10.0,
            T + 4.0 + 16.0 * i as f64,
            L + 28.0,
            T + 10.0 + 16.0 * i as f64,
            esc(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Percentile spectrum points of a µs histogram: (1/(1−p), ms).
pub fn spectrum(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut q = 0.0f64;
    while q < 0.99999 {
        out.push((1.0 / (1.0 - q), h.value_at_quantile(q) as f64 / 1000.0));
        q += (1.0 - q) / 8.0;
    }
    out.push((1.0 / (1.0 - 0.99999), h.max() as f64 / 1000.0));
    out
}

/// The latency percentile spectrum of several series.
pub fn latency_spectrum(series: &[(&str, &Histogram<u64>)]) -> String {
    let s: Vec<(String, Vec<(f64, f64)>)> = series.iter().map(|(n, h)| (n.to_string(), spectrum(h))).collect();
    let ticks = [(1.0, "0%"), (10.0, "90%"), (100.0, "99%"), (1000.0, "99.9%"), (10000.0, "99.99%"), (100000.0, "99.999%")];
    line_chart("Will latency by percentile", "percentile", "latency (ms)", &s, true, Some(&ticks))
}

/// Cumulative wills received over time after the first planned fault (from the arrivals histogram).
pub fn arrivals(h: &Histogram<u64>) -> String {
    let mut pts = vec![(0.0, 0.0)];
    let mut total = 0u64;
    for v in h.iter_recorded() {
        total += v.count_at_value();
        pts.push((h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0, total as f64));
    }
    line_chart("Wills received after the fault", "time since the planned fault (ms)", "wills received (cumulative)", &[("wills".into(), pts)], false, None)
}

/// Keep-alive error distribution: counts per bucket, negative (violations) left of zero.
pub fn keepalive_error(late: &Histogram<u64>, early: &Histogram<u64>) -> String {
    let mut pts = Vec::new();
    for v in early.iter_recorded().collect::<Vec<_>>().into_iter().rev() {
        pts.push((-(v.value_iterated_to() as f64) / 1000.0, v.count_at_value() as f64));
    }
    for v in late.iter_log(1000, 1.5) {
        pts.push((v.value_iterated_to() as f64 / 1000.0, v.count_since_last_iteration() as f64));
    }
    line_chart("Keep-alive error (will − 1.5 × keep-alive deadline)", "error (ms; negative = violation)", "wills", &[("wills".into(), pts)], false, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svgs_are_well_formed_enough() {
        let mut h = super::super::summary::new_hist();
        for i in 1..1000 {
            h.record(i * 37).unwrap();
        }
        for svg in [latency_spectrum(&[("planned", &h)]), arrivals(&h), keepalive_error(&h, &h)] {
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
            assert!(svg.contains("<polyline"));
        }
        let empty = super::super::summary::new_hist();
        assert!(latency_spectrum(&[("x", &empty)]).contains("</svg>"));
    }
}
