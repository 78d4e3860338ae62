//! Scenario records of a feature run (outcome, rule ids, level, verdicts, family, close type) and
//! the report folder they are written to: `report.md` / `report.html` ([`crate::report`]),
//! `latency.hlog`, `junit.xml`, `verdicts.json`. Built from verdicts, never from log lines.
//! (`cucumber.json` is written by cucumber's own writer next to these.)

use crate::verdict::{Level, Status, Verdict};
use cucumber::gherkin;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// How a scenario ended, judged from its verdicts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ScenarioOutcome {
    /// Every verdict passed.
    Passed,
    /// The broker broke a rule: a failed verdict (MUST, or SHOULD when nothing worse happened).
    Failed(String),
    /// The harness could not establish what it needed (set-up refused, timeout before the behaviour
    /// under test, a panic in a step): neither pass nor fail.
    Errored(String),
    /// Only a MAY the broker chose not to do.
    NotDone(String),
    /// A step had no definition (a harness problem, counted as an error).
    Undefined,
    /// Not run: the target lacks a capability.
    Skipped(String),
    /// Reruns disagreed with the first run (history in [`ScenarioRecord::history`]).
    Flaky(String),
}

impl ScenarioOutcome {
    /// The outcome the verdicts of one run give: a MUST failure first, then an error (the behaviour
    /// the scenario is named for was not judged), then a SHOULD failure, then a MAY not done.
    pub fn of(verdicts: &[Verdict], undefined: bool) -> ScenarioOutcome {
        let text = |v: &Verdict| v.to_string();
        if undefined {
            return ScenarioOutcome::Undefined;
        }
        if let Some(v) = verdicts.iter().find(|v| v.failed() && v.level == Level::Must) {
            return ScenarioOutcome::Failed(text(v));
        }
        if let Some(v) = verdicts.iter().find(|v| v.errored()) {
            return ScenarioOutcome::Errored(text(v));
        }
        if let Some(v) = verdicts.iter().find(|v| v.failed()) {
            return ScenarioOutcome::Failed(text(v));
        }
        if let Some(v) = verdicts.iter().find(|v| v.status == Status::NotDone) {
            return ScenarioOutcome::NotDone(text(v));
        }
        if verdicts.is_empty() {
            return ScenarioOutcome::Errored("no verdict: the scenario judged nothing".into());
        }
        ScenarioOutcome::Passed
    }
    /// One word for histories and tables.
    pub fn word(&self) -> &'static str {
        match self {
            ScenarioOutcome::Passed => "pass",
            ScenarioOutcome::Failed(_) => "FAIL",
            ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined => "ERROR",
            ScenarioOutcome::NotDone(_) => "not done",
            ScenarioOutcome::Skipped(_) => "skip",
            ScenarioOutcome::Flaky(_) => "FLAKY",
        }
    }
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
    /// Tagged `@reference-choice`: the spec leaves room and the scenario checks the reference
    /// broker's reading; reported apart from conformance.
    pub reference_choice: bool,
    /// Outcome.
    pub outcome: ScenarioOutcome,
    /// Verdicts its steps produced (of the first run).
    pub verdicts: Vec<Verdict>,
    /// Outcome words of the first run and every rerun (`--rerun-failures`), oldest first.
    pub history: Vec<String>,
    /// Feature file and line: which scenario a rerun runs.
    #[serde(skip)]
    pub key: String,
    /// Feature family (the folder under `features/`: `v5`, `v3.1.1`, `seed`, `eventgrid`, ...), for
    /// the console's and the report's summaries.
    pub family: String,
    /// How the scenario closes the connection whose will it times (`FIN`, `RST`, `keep-alive`, ...;
    /// see [`crate::report::closes`]), for the latency histograms by close type.
    pub close: Option<String>,
}

/// The family of a feature file: the folder right under `features/`, else the file's own folder.
pub fn family_of(path: Option<&Path>) -> String {
    let Some(path) = path else { return "(unknown)".into() };
    let parts: Vec<String> = path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if let Some(i) = parts.iter().rposition(|p| p == "features") {
        if i + 2 < parts.len() {
            return parts[i + 1].clone();
        }
    }
    match parts.len() {
        n if n >= 2 => parts[n - 2].clone(),
        _ => "(top)".into(),
    }
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

/// The key a rerun finds a scenario by: its feature file and line.
pub fn scenario_key(f: &gherkin::Feature, s: &gherkin::Scenario) -> String {
    format!("{}:{}:{}", f.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(), f.name, s.position.line)
}

impl ScenarioRecord {
    /// An empty record (for tests and skips).
    pub fn blank(feature: &str, scenario: &str, line: usize) -> Self {
        ScenarioRecord {
            feature: feature.into(),
            scenario: scenario.into(),
            line,
            rules: Vec::new(),
            level: Level::Must,
            tags: Vec::new(),
            reference_choice: false,
            outcome: ScenarioOutcome::Passed,
            verdicts: Vec::new(),
            history: Vec::new(),
            key: String::new(),
            family: String::new(),
            close: None,
        }
    }
    /// A scenario that ran.
    pub fn ran(f: &gherkin::Feature, s: &gherkin::Scenario, tags: &[String], outcome: ScenarioOutcome, verdicts: Vec<Verdict>) -> Self {
        ScenarioRecord {
            rules: tags.iter().filter(|t| t.starts_with("MQTT-") || t.starts_with("EG-")).cloned().collect(),
            level: level_of(tags),
            tags: tags.to_vec(),
            reference_choice: tags.iter().any(|t| t == "reference-choice"),
            history: vec![outcome.word().to_string()],
            outcome,
            verdicts,
            key: scenario_key(f, s),
            family: family_of(f.path.as_deref()),
            close: crate::report::closes::close_type(f, s).map(str::to_owned),
            ..Self::blank(&f.name, &s.name, s.position.line)
        }
    }
    /// A scenario skipped for a missing capability.
    pub fn skipped(f: &gherkin::Feature, s: &gherkin::Scenario, tags: &[String], why: &str) -> Self {
        Self { history: Vec::new(), ..Self::ran(f, s, tags, ScenarioOutcome::Skipped(why.into()), Vec::new()) }
    }
    /// Whether a MUST verdict failed (the exit code's concern).
    pub fn must_failed(&self) -> bool {
        matches!(self.outcome, ScenarioOutcome::Failed(_)) && self.verdicts.iter().any(|v| v.failed() && v.level == Level::Must)
    }
    /// Whether this outcome is worth a rerun: it failed or errored.
    pub fn rerun_worthy(&self) -> bool {
        matches!(self.outcome, ScenarioOutcome::Failed(_) | ScenarioOutcome::Errored(_))
    }
    /// Adds a rerun's outcome to the history; when it differs from the first run the scenario is
    /// FLAKY (its first run's verdicts are kept as evidence).
    pub fn add_rerun(&mut self, rerun: &ScenarioOutcome) {
        self.history.push(rerun.word().to_string());
        let first = self.history.first().cloned().unwrap_or_default();
        if self.history.iter().any(|h| *h != first) {
            self.outcome = ScenarioOutcome::Flaky(format!("outcomes differ between runs: {}", self.history.join(", ")));
        }
    }
    /// The result as the reports show it: `FAIL (MUST)`, `skip (TLS)`, `FLAKY (FAIL → pass)`.
    pub fn status_word(&self) -> String {
        let must = if self.must_failed() { " (MUST)" } else { "" };
        match &self.outcome {
            ScenarioOutcome::Failed(_) if self.must_failed() => format!("FAIL{must}"),
            ScenarioOutcome::Failed(_) => "FAIL (SHOULD)".into(),
            ScenarioOutcome::Undefined => "ERROR (undefined step)".into(),
            ScenarioOutcome::Skipped(why) => format!("skip ({why})"),
            ScenarioOutcome::Flaky(_) => format!("FLAKY ({})", self.history.join(" → ")),
            o => o.word().into(),
        }
    }
    /// Every measured time of its verdicts (`12.3 ms, 4.5 ms`).
    pub fn timing(&self) -> String {
        self.verdicts
            .iter()
            .flat_map(|v| v.timings.iter())
            .map(|t| format!("{:.1} ms", t.ms))
            .collect::<Vec<_>>()
            .join(", ")
    }
    /// What went wrong: every failed or errored verdict (with its own rule and level), or the
    /// outcome's message.
    pub fn detail(&self) -> String {
        let bad: Vec<String> = self
            .verdicts
            .iter()
            .filter(|v| v.failed() || v.errored() || v.status == Status::NotDone)
            .map(|v| match &v.status {
                Status::Error(why) => format!("{} [{}] ERROR: could not establish {}: {why}", v.rule, v.level, v.expected),
                _ => format!("{} [{}] expected {}; observed {}", v.rule, v.level, v.expected, v.observed),
            })
            .collect();
        if !bad.is_empty() {
            return bad.join(" | ");
        }
        match &self.outcome {
            ScenarioOutcome::Failed(m) | ScenarioOutcome::Errored(m) | ScenarioOutcome::Flaky(m) | ScenarioOutcome::NotDone(m) => {
                m.lines().next().unwrap_or("").to_string()
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

/// Escapes text for HTML and XML.
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Writes `report.md`, `report.html`, `latency.hlog` (and `latency.svg` when a will was timed),
/// `junit.xml` and `verdicts.json` into `dir`.
pub fn write(dir: &Path, records: &[ScenarioRecord], summary: &super::Summary, target: &str) -> anyhow::Result<()> {
    use crate::report::{closes, conformance};
    let latency = closes::histograms(records);
    let head = conformance::Header { profile: target, summary };
    std::fs::write(dir.join("report.md"), conformance::markdown(records, &head, &latency))?;
    std::fs::write(dir.join("report.html"), conformance::html(records, &head, &latency))?;
    let mut hlog = Vec::new();
    closes::write_hlog(&latency, &mut hlog)?;
    std::fs::write(dir.join("latency.hlog"), hlog)?;
    if let Some(svg) = closes::spectrum_svg(&latency) {
        std::fs::write(dir.join("latency.svg"), svg)?;
    }
    std::fs::write(dir.join("junit.xml"), super::junit::xml(records, target))?;
    let json = serde_json::json!({
        "target": target,
        "summary": {
            "passed": summary.passed, "failed": summary.failed, "must_failed": summary.must_failed,
            "errored": summary.errored, "flaky": summary.flaky, "not_done": summary.not_done,
            "skipped": summary.skipped, "reference": summary.reference, "reference_differs": summary.reference_differs,
            "exit_code": summary.exit_code(),
        },
        "failures": records.iter().filter(|r| !r.reference_choice && matches!(r.outcome, ScenarioOutcome::Failed(_))).collect::<Vec<_>>(),
        "errors": records.iter().filter(|r| !r.reference_choice && matches!(r.outcome, ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined)).collect::<Vec<_>>(),
        "flaky": records.iter().filter(|r| !r.reference_choice && matches!(r.outcome, ScenarioOutcome::Flaky(_))).collect::<Vec<_>>(),
        "reference_choices": records.iter().filter(|r| r.reference_choice).collect::<Vec<_>>(),
        "scenarios": records,
    });
    std::fs::write(dir.join("verdicts.json"), serde_json::to_string_pretty(&json)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;

    #[test]
    fn outcomes_put_must_failures_before_errors_and_errors_before_should_failures() {
        let pass = Verdict { status: Status::Pass, ..Verdict::error("r", Level::Must, "x", "y") };
        let should_fail = Verdict { status: Status::Fail, ..Verdict::error("r", Level::Should, "x", "y") };
        let must_fail = Verdict { status: Status::Fail, ..Verdict::error("r", Level::Must, "x", "y") };
        let error = Verdict::error("r", Level::Must, "x", "no CONNACK within 5 s");
        let may = Verdict { status: Status::Fail, ..Verdict::error("r", Level::May, "x", "y") }.at_level();
        assert_eq!(ScenarioOutcome::of(&[pass.clone()], false), ScenarioOutcome::Passed);
        assert!(matches!(ScenarioOutcome::of(&[should_fail.clone(), pass.clone()], false), ScenarioOutcome::Failed(_)));
        assert!(matches!(ScenarioOutcome::of(&[should_fail.clone(), error.clone()], false), ScenarioOutcome::Errored(_)));
        assert!(matches!(ScenarioOutcome::of(&[error.clone(), must_fail.clone()], false), ScenarioOutcome::Failed(_)));
        assert!(matches!(ScenarioOutcome::of(&[may], false), ScenarioOutcome::NotDone(_)));
        assert!(matches!(ScenarioOutcome::of(&[], false), ScenarioOutcome::Errored(_)), "a scenario that judged nothing is not a pass");
        assert_eq!(ScenarioOutcome::of(&[pass], true), ScenarioOutcome::Undefined);
    }

    #[test]
    fn a_rerun_that_changes_the_outcome_makes_the_scenario_flaky_with_its_history() {
        let mut r = ScenarioRecord { outcome: ScenarioOutcome::Failed("x".into()), history: vec!["FAIL".into()], ..ScenarioRecord::blank("f", "s", 1) };
        r.add_rerun(&ScenarioOutcome::Failed("again".into()));
        assert!(matches!(r.outcome, ScenarioOutcome::Failed(_)), "the same outcome twice is not flaky");
        r.add_rerun(&ScenarioOutcome::Passed);
        assert_eq!(r.history, ["FAIL", "FAIL", "pass"]);
        assert!(matches!(&r.outcome, ScenarioOutcome::Flaky(m) if m.contains("FAIL, FAIL, pass")), "{:?}", r.outcome);
        assert!(r.status_word().contains("FAIL → FAIL → pass"));
    }
}
