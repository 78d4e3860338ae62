//! The conformance report of a `check` run (`report.md`, `report.html`, `latency.hlog`,
//! `latency.svg`) and the counts the console shares with it: outcomes per feature family and per
//! rule, built from scenario records (verdicts), never from log lines.

pub mod closes;
pub mod conformance;

use crate::bdd::report::{ScenarioOutcome, ScenarioRecord};
use std::collections::BTreeMap;

/// Outcome counts of a group of scenarios (a feature family, a rule).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Passed.
    pub passed: usize,
    /// The broker broke the rule (MUST or SHOULD).
    pub failed: usize,
    /// The harness could not judge.
    pub errored: usize,
    /// The outcome changed between reruns.
    pub flaky: usize,
    /// A MAY the broker chose not to do.
    pub not_done: usize,
    /// Not run for a missing capability.
    pub skipped: usize,
    /// `@reference-choice` scenarios that ran (never conformance).
    pub reference: usize,
}

impl Counts {
    /// Adds one scenario.
    pub fn add(&mut self, r: &ScenarioRecord) {
        if r.reference_choice && !matches!(r.outcome, ScenarioOutcome::Skipped(_)) {
            self.reference += 1;
            return;
        }
        match r.outcome {
            ScenarioOutcome::Passed => self.passed += 1,
            ScenarioOutcome::Failed(_) => self.failed += 1,
            ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined => self.errored += 1,
            ScenarioOutcome::Flaky(_) => self.flaky += 1,
            ScenarioOutcome::NotDone(_) => self.not_done += 1,
            ScenarioOutcome::Skipped(_) => self.skipped += 1,
        }
    }
    /// The columns of the summary tables, in [`COLUMNS`] order.
    pub fn cells(&self) -> [usize; 7] {
        [self.passed, self.failed, self.errored, self.flaky, self.not_done, self.skipped, self.reference]
    }
}

/// Headers of the count columns.
pub const COLUMNS: [&str; 7] = ["passed", "failed", "error", "flaky", "not done (MAY)", "skipped", "reference choice"];

/// Counts per feature family (`v5`, `v3.1.1`, `seed`, `eventgrid`, `websocket`, ...), plus a total.
pub fn by_family(records: &[ScenarioRecord]) -> Vec<(String, Counts)> {
    let mut m: BTreeMap<String, Counts> = BTreeMap::new();
    let mut total = Counts::default();
    for r in records {
        m.entry(r.family.clone()).or_default().add(r);
        total.add(r);
    }
    m.into_iter().chain(std::iter::once(("total".to_string(), total))).collect()
}

/// Counts and level per rule id (a scenario with several rule ids counts for each; one without is
/// counted under `(no rule id)`).
pub fn by_rule(records: &[ScenarioRecord]) -> Vec<(String, crate::verdict::Level, Counts)> {
    crate::bdd::report::by_rule(records)
        .into_iter()
        .map(|(rule, rows)| {
            let mut c = Counts::default();
            rows.iter().for_each(|r| c.add(r));
            let level = rows.iter().map(|r| r.level).min().unwrap_or(crate::verdict::Level::Must);
            (rule, level, c)
        })
        .collect()
}

/// A report folder name for a run starting now: `check-2026-12-05T02-31-07Z` (UTC, sortable, no
/// characters a file system refuses).
pub fn timestamped(prefix: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{prefix}-{:04}-{:02}-{:02}T{:02}-{:02}-{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_folders_are_named_by_a_readable_utc_time() {
        let name = timestamped("check");
        assert!(name.starts_with("check-20") && name.ends_with('Z'), "{name}");
        assert_eq!(name.len(), "check-2026-12-05T02-31-07Z".len(), "{name}");
        assert!(!name.contains(':'), "{name}");
    }

    #[test]
    fn families_are_counted_with_a_total() {
        let rec = |family: &str, outcome: ScenarioOutcome| ScenarioRecord { family: family.into(), outcome, ..ScenarioRecord::blank("f", "s", 1) };
        let rows = by_family(&[
            rec("v5", ScenarioOutcome::Passed),
            rec("v5", ScenarioOutcome::Failed("x".into())),
            rec("seed", ScenarioOutcome::Errored("y".into())),
            rec("seed", ScenarioOutcome::Skipped("TLS".into())),
        ]);
        let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["seed", "v5", "total"]);
        assert_eq!(rows[2].1.cells(), [1, 1, 1, 0, 0, 1, 0]);
    }
}
