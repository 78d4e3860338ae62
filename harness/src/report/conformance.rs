//! `report.md` and `report.html` of a `check` run: summary tables by feature family and by rule,
//! then what did not pass (failures, errors, flaky, MAY not done) with expected vs observed and the
//! evidence, the will latency by close type, reference choices, and the passes and skips last
//! (collapsed in HTML).

use super::{by_family, by_rule, closes, Counts, COLUMNS};
use crate::bdd::report::{escape_html as esc, ScenarioOutcome, ScenarioRecord};
use crate::bdd::Summary;
use crate::latency::DurationHistogram;
use std::fmt::Write as _;

/// What the report is about: the target, the profile judged against, and the run's totals.
pub struct Header<'a> {
    /// Profile name.
    pub profile: &'a str,
    /// Totals.
    pub summary: &'a Summary,
}

/// A section of scenarios: title, the records in it, and whether it is collapsed in HTML.
struct Section {
    title: &'static str,
    rows: Vec<ScenarioRecord>,
    detailed: bool,
    collapsed: bool,
}

fn sections(records: &[ScenarioRecord]) -> Vec<Section> {
    let pick = |f: &dyn Fn(&ScenarioRecord) -> bool| records.iter().filter(|r| f(r)).cloned().collect::<Vec<_>>();
    let conf = |r: &ScenarioRecord| !r.reference_choice;
    let sec = |title, rows, detailed, collapsed| Section { title, rows, detailed, collapsed };
    // MUST failures first: they decide the exit code; SHOULD failures follow in feature order.
    let mut failures = pick(&|r| conf(r) && matches!(r.outcome, ScenarioOutcome::Failed(_)));
    failures.sort_by_key(|r| !r.must_failed());
    vec![
        sec("Failures (the broker broke the rule; MUST first)", failures, true, false),
        sec(
            "Errors (the harness could not establish what it needed; not failures)",
            pick(&|r| conf(r) && matches!(r.outcome, ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined)),
            true,
            false,
        ),
        sec("Flaky (outcome changed between reruns)", pick(&|r| conf(r) && matches!(r.outcome, ScenarioOutcome::Flaky(_))), true, false),
        sec("Not done (MAY)", pick(&|r| conf(r) && matches!(r.outcome, ScenarioOutcome::NotDone(_))), true, false),
        sec(
            "Reference choices (the spec leaves room; not conformance, not counted for the exit code)",
            pick(&|r| r.reference_choice && !matches!(r.outcome, ScenarioOutcome::Skipped(_))),
            true,
            true,
        ),
        sec("Passed", pick(&|r| conf(r) && r.outcome == ScenarioOutcome::Passed), false, true),
        sec("Skipped (the target lacks a capability)", pick(&|r| matches!(r.outcome, ScenarioOutcome::Skipped(_))), false, true),
    ]
}

fn count_row(name: &str, c: &Counts) -> Vec<String> {
    std::iter::once(name.to_string()).chain(c.cells().iter().map(|n| n.to_string())).collect()
}

/// The Markdown report.
pub fn markdown(records: &[ScenarioRecord], head: &Header, latency: &[(&'static str, DurationHistogram)]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Last Will conformance report\n\nTarget profile: `{}`\n\n{}.\n", head.profile, head.summary);
    let table = |md: &mut String, headers: &[&str], rows: Vec<Vec<String>>| {
        let _ = writeln!(md, "| {} |\n|{}", headers.join(" | "), "---|".repeat(headers.len()));
        for r in rows {
            let _ = writeln!(md, "| {} |", r.iter().map(|c| escape_md(c)).collect::<Vec<_>>().join(" | "));
        }
        md.push('\n');
    };
    md.push_str("## By feature family\n\n");
    let fam_rows = by_family(records).iter().map(|(f, c)| count_row(f, c)).collect();
    table(&mut md, &[&["family"][..], &COLUMNS].concat(), fam_rows);
    md.push_str("## By rule\n\n");
    let rule_rows = by_rule(records).iter().map(|(r, l, c)| [vec![r.clone(), l.to_string()], count_row("", c)[1..].to_vec()].concat()).collect();
    table(&mut md, &[&["rule", "level"][..], &COLUMNS].concat(), rule_rows);
    let mut latency_done = false;
    for s in sections(records) {
        if s.collapsed && !latency_done {
            latency_markdown(&mut md, latency);
            latency_done = true;
        }
        if s.rows.is_empty() {
            continue;
        }
        let _ = writeln!(md, "## {} ({})\n", s.title, s.rows.len());
        if s.detailed {
            for r in &s.rows {
                scenario_markdown(&mut md, r);
            }
        } else {
            let rows = s.rows.iter().map(|r| vec![r.rules.join(", "), r.level.to_string(), r.status_word(), r.family.clone(), r.scenario.clone(), r.timing()]).collect();
            table(&mut md, &["rule", "level", "result", "family", "scenario", "measured"], rows);
        }
    }
    md
}

fn latency_markdown(md: &mut String, latency: &[(&'static str, DurationHistogram)]) {
    md.push_str("## Will latency by close type (fault → will)\n\n");
    if latency.is_empty() {
        md.push_str("No will was timed in this run.\n\n");
        return;
    }
    let _ = writeln!(md, "| close type | wills | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) |\n|---|---|---|---|---|---|");
    for r in closes::rows(latency) {
        let _ = writeln!(md, "| {} |", r.join(" | "));
    }
    md.push_str("\n![latency by close type](latency.svg)\n\nHistogram log: `latency.hlog` (µs, one tag per close type).\n\n");
}

fn scenario_markdown(md: &mut String, r: &ScenarioRecord) {
    let _ = writeln!(md, "### {} — {}\n", r.status_word(), r.scenario);
    let _ = writeln!(md, "- feature: {} ({}, line {}); rules: {}; level: {}", r.feature, r.family, r.line, r.rules.join(", "), r.level);
    for v in r.verdicts.iter().filter(|v| !v.passed()) {
        let _ = writeln!(md, "- **{} [{}]** expected: {}", v.rule, v.level, v.expected);
        let _ = writeln!(md, "  observed: {}", v.observed);
        for e in &v.evidence {
            let _ = writeln!(md, "  - evidence: `{}`", e.replace('`', "'"));
        }
    }
    if r.verdicts.iter().all(|v| v.passed()) {
        let _ = writeln!(md, "- {}", r.detail());
    }
    if r.history.len() > 1 {
        let _ = writeln!(md, "- history: {}", r.history.join(" → "));
    }
    md.push('\n');
}

fn escape_md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}td.z{color:#bbb}\
.pass{background:#e6ffe6}.fail{background:#ffe0e0}.error{background:#fff3cd}.flaky{background:#e6e6ff}.skip{background:#f2f2f2}\
.card{border-left:6px solid #ccc;padding:0.3em 1em;margin:0.8em 0;background:#fafafa}.card.fail{border-color:#d62728}\
.card.error{border-color:#e0a800}.card.flaky{border-color:#6f42c1}.card.skip{border-color:#999}\
.card h3{margin:0.3em 0;font-size:1em}.meta{color:#555;font-size:0.9em}code,pre{font-size:0.85em}\
pre{background:#fff;border:1px solid #eee;padding:4px;white-space:pre-wrap;margin:2px 0}\
dt{font-weight:bold;margin-top:4px}summary{cursor:pointer;font-size:1.2em;font-weight:bold;margin:1em 0}";

fn css_class(o: &ScenarioOutcome) -> &'static str {
    match o {
        ScenarioOutcome::Passed => "pass",
        ScenarioOutcome::Skipped(_) | ScenarioOutcome::NotDone(_) => "skip",
        ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined => "error",
        ScenarioOutcome::Flaky(_) => "flaky",
        ScenarioOutcome::Failed(_) => "fail",
    }
}

fn html_counts(h: &mut String, first: &[&str], rows: Vec<(Vec<String>, Counts)>) {
    h.push_str("<table><tr>");
    for c in first.iter().chain(COLUMNS.iter()) {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>");
    for (names, c) in rows {
        let class = if c.failed > 0 { "fail" } else if c.errored > 0 { "error" } else if c.flaky > 0 { "flaky" } else { "" };
        let _ = write!(h, "<tr class=\"{class}\">");
        for n in names {
            let _ = write!(h, "<td>{}</td>", esc(&n));
        }
        for n in c.cells() {
            let _ = write!(h, "<td class=\"n{}\">{n}</td>", if n == 0 { " z" } else { "" });
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

/// The HTML report (the same content as the Markdown one; passes, skips and reference choices
/// collapsed; the latency plot inline).
pub fn html(records: &[ScenarioRecord], head: &Header, latency: &[(&'static str, DurationHistogram)]) -> String {
    let mut h = format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>Last Will conformance report</title><style>{STYLE}</style></head><body>");
    let _ = write!(h, "<h1>Last Will conformance report</h1><p>Target profile: <b>{}</b></p><p>{}.</p>", esc(head.profile), esc(&head.summary.to_string()));
    h.push_str("<h2>By feature family</h2>");
    html_counts(&mut h, &["family"], by_family(records).into_iter().map(|(f, c)| (vec![f], c)).collect());
    h.push_str("<details><summary>By rule</summary>");
    html_counts(&mut h, &["rule", "level"], by_rule(records).into_iter().map(|(r, l, c)| (vec![r, l.to_string()], c)).collect());
    h.push_str("</details>");
    let mut latency_done = false;
    for s in sections(records) {
        if s.collapsed && !latency_done {
            latency_html(&mut h, latency);
            latency_done = true;
        }
        if s.rows.is_empty() {
            continue;
        }
        let title = format!("{} ({})", s.title, s.rows.len());
        if s.collapsed {
            let _ = write!(h, "<details><summary>{}</summary>", esc(&title));
        } else {
            let _ = write!(h, "<h2>{}</h2>", esc(&title));
        }
        if s.detailed {
            s.rows.iter().for_each(|r| scenario_html(&mut h, r));
        } else {
            h.push_str("<table><tr><th>rule</th><th>level</th><th>result</th><th>family</th><th>scenario</th><th>measured</th></tr>");
            for r in &s.rows {
                let _ = write!(
                    h,
                    "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    css_class(&r.outcome),
                    esc(&r.rules.join(", ")),
                    r.level,
                    esc(&r.status_word()),
                    esc(&r.family),
                    esc(&r.scenario),
                    esc(&r.timing())
                );
            }
            h.push_str("</table>");
        }
        if s.collapsed {
            h.push_str("</details>");
        }
    }
    h.push_str("</body></html>\n");
    h
}

fn latency_html(h: &mut String, latency: &[(&'static str, DurationHistogram)]) {
    h.push_str("<h2>Will latency by close type (fault → will)</h2>");
    let Some(svg) = closes::spectrum_svg(latency) else {
        h.push_str("<p>No will was timed in this run.</p>");
        return;
    };
    h.push_str("<table><tr><th>close type</th><th>wills</th><th>p50 (ms)</th><th>p90 (ms)</th><th>p99 (ms)</th><th>max (ms)</th></tr>");
    for r in closes::rows(latency) {
        let _ = write!(h, "<tr><td>{}</td>", esc(&r[0]));
        for c in &r[1..] {
            let _ = write!(h, "<td class=\"n\">{}</td>", esc(c));
        }
        h.push_str("</tr>");
    }
    let _ = write!(h, "</table>{svg}<p>Histogram log: <a href=\"latency.hlog\">latency.hlog</a> (µs, one tag per close type).</p>");
}

fn scenario_html(h: &mut String, r: &ScenarioRecord) {
    let _ = write!(
        h,
        "<div class=\"card {}\"><h3>{} — {}</h3><div class=\"meta\">{} ({}, line {}) · rules {} · {}</div><dl>",
        css_class(&r.outcome),
        esc(&r.status_word()),
        esc(&r.scenario),
        esc(&r.feature),
        esc(&r.family),
        r.line,
        esc(&r.rules.join(", ")),
        r.level
    );
    for v in r.verdicts.iter().filter(|v| !v.passed()) {
        let _ = write!(h, "<dt>{} [{}]</dt><dd>expected: {}<br>observed: {}", esc(&v.rule), v.level, esc(&v.expected), esc(&v.observed));
        for e in &v.evidence {
            let _ = write!(h, "<pre>{}</pre>", esc(e));
        }
        h.push_str("</dd>");
    }
    if r.verdicts.iter().all(|v| v.passed()) {
        let _ = write!(h, "<dd>{}</dd>", esc(&r.detail()));
    }
    if r.history.len() > 1 {
        let _ = write!(h, "<dt>history</dt><dd>{}</dd>", esc(&r.history.join(" → ")));
    }
    h.push_str("</dl></div>");
}
