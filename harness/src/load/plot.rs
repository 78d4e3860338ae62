//! Hand-written SVG plots for the load report: the latency percentile spectrum (HdrHistogram style,
//! x = 1/(1−p) on a log axis), wills arriving over time after the fault (cumulative), and the
//! keep-alive error distribution (violations left of zero). No plotting crate: a few hundred bytes of
//! SVG per series read in any browser and diff well.

use hdrhistogram::Histogram;
use std::fmt::Write as _;

const W: f64 = 840.0;
const H: f64 = 360.0;
const L: f64 = 70.0;
/// The right margin holds the legend, clear of the lines.
const R: f64 = 150.0;
const T: f64 = 40.0;
const B: f64 = 50.0;
const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Which axes are on a log10 scale. A log y axis shows latencies that span decades (0.1 ms FIN
/// wills next to 2 s delayed ones) without flattening the small ones onto zero.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scale {
    /// x on log10 (values must be > 0).
    pub xlog: bool,
    /// y on log10 (values ≤ 0 are drawn at the axis floor).
    pub ylog: bool,
}

/// The y axis: its range (in axis units) and where the grid lines and labels go.
fn y_axis(series: &[(String, Vec<(f64, f64)>)], ylog: bool) -> (f64, f64, Vec<f64>) {
    let ys = || series.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y));
    if ylog {
        let lo = ys().filter(|y| *y > 0.0).fold(f64::MAX, f64::min);
        let hi = ys().fold(0.0f64, f64::max);
        let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo.log10().floor(), hi.log10().ceil().max(lo.log10().floor() + 1.0)) };
        let ticks = (lo as i32..=hi as i32).map(|d| 10f64.powi(d)).collect();
        (lo, hi, ticks)
    } else {
        let hi = ys().fold(0.0f64, f64::max);
        let hi = if hi <= 0.0 { 1.0 } else { hi * 1.05 };
        (0.0, hi, (0..=4).map(|k| hi * k as f64 / 4.0).collect())
    }
}

/// A line chart; `xticks` overrides the x tick labels.
pub fn line_chart(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[(String, Vec<(f64, f64)>)],
    scale: Scale,
    xticks: Option<&[(f64, &str)]>,
) -> String {
    let xlog = scale.xlog;
    let tx = |x: f64| if xlog { x.max(1e-9).log10() } else { x };
    let (mut x0, mut x1) = (f64::MAX, f64::MIN);
    for &(x, _) in series.iter().flat_map(|(_, p)| p.iter()) {
        x0 = x0.min(tx(x));
        x1 = x1.max(tx(x));
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if (x1 - x0).abs() < 1e-12 {
        x1 = x0 + 1.0;
    }
    let (y0, y1, yticks) = y_axis(series, scale.ylog);
    let ty = |y: f64| if scale.ylog { if y > 0.0 { y.log10().max(y0) } else { y0 } } else { y };
    let px = |x: f64| L + (tx(x) - x0) / (x1 - x0) * (W - L - R);
    let py = |y: f64| H - B - (ty(y) - y0) / (y1 - y0) * (H - T - B);
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
    for y in yticks {
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
                // The last label ends at its tick, inside the plot's width.
                let anchor = if tx(*x) > x1 - 1e-9 { "end" } else { "middle" };
                let _ = writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="{anchor}">{}</text>"#, px(*x), H - B + 16.0, esc(label));
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
            W - R + 12.0,
            T + 4.0 + 16.0 * i as f64,
            W - R + 30.0,
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
    line_chart("Will latency by percentile", "percentile", "latency (ms, log scale)", &s, Scale { xlog: true, ylog: true }, Some(&ticks))
}

/// Cumulative wills received over time after the first planned fault (from the arrivals histogram).
pub fn arrivals(h: &Histogram<u64>) -> String {
    let mut pts = vec![(0.0, 0.0)];
    let mut total = 0u64;
    for v in h.iter_recorded() {
        total += v.count_at_value();
        pts.push((h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0, total as f64));
    }
    line_chart("Wills received after the fault", "time since the planned fault (ms)", "wills received (cumulative)", &[("wills".into(), pts)], Scale::default(), None)
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
    line_chart("Keep-alive error (will − 1.5 × keep-alive deadline)", "error (ms; negative = violation)", "wills", &[("wills".into(), pts)], Scale::default(), None)
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

    #[test]
    fn a_log_y_axis_has_a_line_per_decade_and_keeps_small_values_apart() {
        let series = vec![("fast".to_string(), vec![(1.0, 0.1), (10.0, 0.2)]), ("slow".to_string(), vec![(1.0, 2000.0), (10.0, 3000.0)])];
        let (lo, hi, ticks) = y_axis(&series, true);
        assert_eq!((lo, hi), (-1.0, 4.0));
        assert_eq!(ticks.len(), 6, "{ticks:?}");
        let svg = line_chart("t", "x", "y", &series, Scale { xlog: true, ylog: true }, None);
        // 0.1 and 0.2 ms sit a log step apart, not both on the zero line.
        let fast = svg.lines().find(|l| l.contains("<polyline") && l.contains("#1f77b4")).unwrap();
        let ys: Vec<f64> = fast.split("points=\"").nth(1).unwrap().split('"').next().unwrap().split(' ').map(|p| p.split(',').nth(1).unwrap().parse().unwrap()).collect();
        assert!(ys[0] - ys[1] > 10.0, "{ys:?}");
    }
}
