//! Reports of a feature run: one row per rule id with level, pass / fail / skip, measured timing and,
//! for failures, what was expected and what was seen. Built from verdicts, never from log lines.
//! (`junit.xml` and `cucumber.json` are written by cucumber's own writers next to these.)

use crate::verdict::{Level, Status, Verdict};
use cucumber::gherkin;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// How a scenario ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ScenarioOutcome {
    /// Every step passed.
    Passed,
    /// A step failed (message).
    Failed(String),
    /// A step had no definition.
    Undefined,
    /// Not run: the target lacks a capability.
    Skipped(String),
}

/// One scenario's result.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioRecord {
    /// Feature name.
    pub feature: String,
    /// Scenario name.
    pub scenario: String,
    /// Line in the feature file.
    pub line: usize,
    /// Rule ids from its tags.
    pub rules: Vec<String>,
    /// Level from its tags.
    pub level: Level,
    /// All tags.
    pub tags: Vec<String>,
    /// Outcome.
    pub outcome: ScenarioOutcome,
    /// Verdicts its steps produced.
    pub verdicts: Vec<Verdict>,
}

fn level_of(tags: &[String]) -> Level {
    if tags.iter().any(|t| t == "may") {
        Level::May
    } else if tags.iter().any(|t| t == "should") {
        Level::Should
    } else {
        Level::Must
    }
}

impl ScenarioRecord {
    /// A scenario that ran.
    pub fn ran(f: &gherkin::Feature, s: &gherkin::Scenario, tags: &[String], outcome: ScenarioOutcome, verdicts: Vec<Verdict>) -> Self {
        ScenarioRecord {
            feature: f.name.clone(),
            scenario: s.name.clone(),
            line: s.position.line,
            rules: tags.iter().filter(|t| t.starts_with("MQTT-") || t.starts_with("EG-")).cloned().collect(),
            level: level_of(tags),
            tags: tags.to_vec(),
            outcome,
            verdicts,
        }
    }
    /// A scenario skipped for a missing capability.
    pub fn skipped(f: &gherkin::Feature, s: &gherkin::Scenario, tags: &[String], why: &str) -> Self {
        Self::ran(f, s, tags, ScenarioOutcome::Skipped(why.into()), Vec::new())
    }
    fn status_word(&self) -> String {
        match &self.outcome {
            ScenarioOutcome::Passed => "pass".into(),
            ScenarioOutcome::Failed(_) => "FAIL".into(),
            ScenarioOutcome::Undefined => "FAIL (undefined step)".into(),
            ScenarioOutcome::Skipped(why) => format!("skip ({why})"),
        }
    }
    fn timing(&self) -> String {
        self.verdicts
            .iter()
            .flat_map(|v| v.timings.iter())
            .map(|t| format!("{:.1} ms", t.ms))
            .collect::<Vec<_>>()
            .join(", ")
    }
    fn detail(&self) -> String {
        match &self.outcome {
            ScenarioOutcome::Failed(msg) => {
                let failed: Vec<String> = self
                    .verdicts
                    .iter()
                    .filter(|v| v.status == Status::Fail)
                    .map(|v| format!("expected {}; observed {}", v.expected, v.observed))
                    .collect();
                if failed.is_empty() {
                    msg.lines().next().unwrap_or("").to_string()
                } else {
                    failed.join(" | ")
                }
            }
            _ => String::new(),
        }
    }
}

/// Rows grouped by rule id: (rule, level, records).
pub fn by_rule(records: &[ScenarioRecord]) -> BTreeMap<String, Vec<&ScenarioRecord>> {
    let mut m: BTreeMap<String, Vec<&ScenarioRecord>> = BTreeMap::new();
    for r in records {
        if r.rules.is_empty() {
            m.entry("(no rule id)".into()).or_default().push(r);
        }
        for rule in &r.rules {
            m.entry(rule.clone()).or_default().push(r);
        }
    }
    m
}

/// The Markdown report.
pub fn markdown(records: &[ScenarioRecord], summary: &super::Summary, target: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Last Will conformance report\n");
    let _ = writeln!(md, "Target profile: `{target}`\n");
    let _ = writeln!(md, "{summary}.\n");
    let _ = writeln!(md, "| rule | level | result | scenario | measured | expected vs seen |");
    let _ = writeln!(md, "|---|---|---|---|---|---|");
    for (rule, rows) in by_rule(records) {
        for r in rows {
            let _ = writeln!(
                md,
                "| {rule} | {} | {} | {} | {} | {} |",
                r.level,
                r.status_word(),
                escape_md(&r.scenario),
                r.timing(),
                escape_md(&r.detail())
            );
        }
    }
    md
}

fn escape_md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The HTML report (same rows as the Markdown one).
pub fn html(records: &[ScenarioRecord], summary: &super::Summary, target: &str) -> String {
    let mut h = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Last Will conformance report</title>\
         <style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}\
         .pass{background:#e6ffe6}.fail{background:#ffe6e6}.skip{background:#f2f2f2}</style></head><body>",
    );
    let _ = write!(
        h,
        "<h1>Last Will conformance report</h1><p>Target profile: <code>{}</code></p><p>{} passed, {} failed ({} MUST), {} skipped.</p>",
        escape_html(target),
        summary.passed,
        summary.failed,
        summary.must_failed,
        summary.skipped
    );
    h.push_str("<table><tr><th>rule</th><th>level</th><th>result</th><th>scenario</th><th>measured</th><th>expected vs seen</th></tr>");
    for (rule, rows) in by_rule(records) {
        for r in rows {
            let class = match r.outcome {
                ScenarioOutcome::Passed => "pass",
                ScenarioOutcome::Skipped(_) => "skip",
                _ => "fail",
            };
            let _ = write!(
                h,
                "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&rule),
                r.level,
                escape_html(&r.status_word()),
                escape_html(&r.scenario),
                escape_html(&r.timing()),
                escape_html(&r.detail())
            );
        }
    }
    h.push_str("</table></body></html>\n");
    h
}

/// Writes `report.md`, `report.html` and `verdicts.json` into `dir`.
pub fn write(dir: &Path, records: &[ScenarioRecord], summary: &super::Summary, target: &str) -> anyhow::Result<()> {
    std::fs::write(dir.join("report.md"), markdown(records, summary, target))?;
    std::fs::write(dir.join("report.html"), html(records, summary, target))?;
    std::fs::write(dir.join("verdicts.json"), serde_json::to_string_pretty(records)?)?;
    Ok(())
}
