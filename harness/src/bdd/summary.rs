//! Totals of a feature run and the exit code they give. Counted from scenario outcomes, which are
//! judged from verdicts: a failure is the broker breaking a rule, an error is the harness not
//! establishing what it needed, and `@reference-choice` scenarios are counted apart from conformance.

use super::report::{ScenarioOutcome, ScenarioRecord};
use std::fmt;

/// Totals of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios with a failed verdict (any level but MAY).
    pub failed: usize,
    /// Scenarios the harness could not judge (set-up refused, timeout before the behaviour, panic,
    /// undefined step).
    pub errored: usize,
    /// Scenarios whose outcome changed between reruns.
    pub flaky: usize,
    /// Scenarios whose MAY behaviour the broker chose not to do.
    pub not_done: usize,
    /// Scenarios not run for a missing capability.
    pub skipped: usize,
    /// Scenarios with a failed MUST verdict (what makes the exit code 1).
    pub must_failed: usize,
    /// `@reference-choice` scenarios that ran (reported apart, never counted for the exit code).
    pub reference: usize,
    /// Of those, the ones where the target made another choice than the reference broker (or errored).
    pub reference_differs: usize,
    /// Steps that passed / failed / were skipped (not matched).
    pub steps: (usize, usize, usize),
    /// Gherkin parse errors.
    pub parse_errors: usize,
}

impl Summary {
    /// Counts `records` (steps and parse errors are left for the runner to fill in).
    pub fn of(records: &[ScenarioRecord]) -> Summary {
        let mut s = Summary::default();
        for r in records {
            if r.reference_choice && !matches!(r.outcome, ScenarioOutcome::Skipped(_)) {
                s.reference += 1;
                if r.outcome != ScenarioOutcome::Passed {
                    s.reference_differs += 1;
                }
                continue;
            }
            match &r.outcome {
                ScenarioOutcome::Passed => s.passed += 1,
                ScenarioOutcome::Skipped(_) => s.skipped += 1,
                ScenarioOutcome::NotDone(_) => s.not_done += 1,
                ScenarioOutcome::Flaky(_) => s.flaky += 1,
                ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined => s.errored += 1,
                ScenarioOutcome::Failed(_) => {
                    s.failed += 1;
                    if r.must_failed() {
                        s.must_failed += 1;
                    }
                }
            }
        }
        s
    }

    /// The exit status of `check`: 2 when feature files could not be parsed, 1 when a MUST failed,
    /// 3 when verdicts errored or were flaky and no MUST failed, 0 when every MUST that ran passed.
    pub fn exit_code(&self) -> u8 {
        if self.parse_errors > 0 {
            2
        } else if self.must_failed > 0 {
            1
        } else if self.errored > 0 || self.flaky > 0 {
            3
        } else {
            0
        }
    }
}

impl fmt::Display for Summary {
    /// `N scenarios: P passed, F failed (M MUST), S skipped, E errors, K flaky, D not done (MAY), R
    /// reference choices (X differ); steps: …` (the first four as they always were, for readers
    /// that parse them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} scenarios: {} passed, {} failed ({} MUST), {} skipped, {} errors, {} flaky, {} not done (MAY), \
             {} reference choices ({} differ); steps: {} passed, {} failed, {} undefined",
            self.passed + self.failed + self.errored + self.flaky + self.not_done + self.skipped + self.reference,
            self.passed,
            self.failed,
            self.must_failed,
            self.skipped,
            self.errored,
            self.flaky,
            self.not_done,
            self.reference,
            self.reference_differs,
            self.steps.0,
            self.steps.1,
            self.steps.2
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Level, Status, Verdict};

    fn record(outcome: ScenarioOutcome, level: Level, status: Status, reference: bool) -> ScenarioRecord {
        let v = Verdict { status, ..Verdict::error("MQTT-3.1.2-8", level, "x", "y") };
        ScenarioRecord { outcome, reference_choice: reference, verdicts: vec![v], ..ScenarioRecord::blank("f", "s", 1) }
    }

    #[test]
    fn exit_codes_separate_must_failures_from_errors_and_flakiness() {
        let pass = record(ScenarioOutcome::Passed, Level::Must, Status::Pass, false);
        let must = record(ScenarioOutcome::Failed("x".into()), Level::Must, Status::Fail, false);
        let should = record(ScenarioOutcome::Failed("x".into()), Level::Should, Status::Fail, false);
        let error = record(ScenarioOutcome::Errored("x".into()), Level::Must, Status::Error("e".into()), false);
        let flaky = record(ScenarioOutcome::Flaky("x".into()), Level::Must, Status::Fail, false);
        let reference = record(ScenarioOutcome::Failed("x".into()), Level::Must, Status::Fail, true);
        assert_eq!(Summary::of(&[pass.clone()]).exit_code(), 0);
        assert_eq!(Summary::of(&[pass.clone(), should.clone()]).exit_code(), 0);
        assert_eq!(Summary::of(&[pass.clone(), reference.clone()]).exit_code(), 0, "reference choices are not conformance");
        assert_eq!(Summary::of(&[pass.clone(), error.clone()]).exit_code(), 3);
        assert_eq!(Summary::of(&[flaky.clone()]).exit_code(), 3);
        assert_eq!(Summary::of(&[error.clone(), must.clone()]).exit_code(), 1);
        let s = Summary::of(&[pass, must, should, error, flaky, reference]);
        assert_eq!((s.passed, s.failed, s.must_failed, s.errored, s.flaky, s.reference, s.reference_differs), (1, 2, 1, 1, 1, 1, 1));
        assert_eq!(Summary { parse_errors: 1, ..s }.exit_code(), 2);
    }
}
