//! What `lwt-harness check` prints: a progress bar while scenarios run, then one line per scenario
//! that did not pass (feature, scenario, rule, level, expected vs observed) and a table of outcomes
//! by feature family. Cucumber's step-by-step output is shown only with `--verbose`.
//!
//! The feature runner reports to the console through process-wide hooks ([`scenario_planned`],
//! [`scenario_finished`], [`step_output`]) because one feature run owns the process's cucumber
//! world anyway; when no console is active (tests, `--compare`), the runner prints steps as before.

use crate::bdd::report::{ScenarioOutcome, ScenarioRecord};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::Write as _;
use std::sync::Mutex;

struct Active {
    bar: ProgressBar,
    verbose: bool,
    failed: u64,
    errored: u64,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

/// The console of one `check` run; dropping it (or [`Console::finish`]) clears the progress bar.
pub struct Console(());

impl Console {
    /// Starts the console: a progress bar on stderr (hidden when stderr is not a terminal or with
    /// `verbose`, which shows cucumber's steps instead).
    pub fn start(verbose: bool) -> Console {
        let bar = if verbose { ProgressBar::hidden() } else { ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr()) };
        bar.set_style(
            ProgressStyle::with_template("{prefix:>9} [{bar:40}] {pos}/{len} scenarios {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix("check");
        *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(Active { bar, verbose, failed: 0, errored: 0 });
        Console(())
    }
    /// Clears the progress bar; what follows is the results.
    pub fn finish(self) {}
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Some(a) = ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).take() {
            a.bar.finish_and_clear();
        }
    }
}

/// Where cucumber's step-by-step output goes: stdout with `--verbose` or when no console is active,
/// else nowhere (the results are printed from the verdicts instead).
pub fn step_output() -> Box<dyn std::io::Write + Send> {
    match ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(a) if !a.verbose => Box::new(std::io::sink()),
        _ => Box::new(std::io::stdout()),
    }
}

/// A scenario passed the filter and will run: the bar grows by one.
pub fn scenario_planned() {
    if let Some(a) = ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        a.bar.inc_length(1);
    }
}

/// A scenario ended: the bar moves on and counts failures and errors so far.
pub fn scenario_finished(r: &ScenarioRecord) {
    if let Some(a) = ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        match r.outcome {
            ScenarioOutcome::Failed(_) => a.failed += 1,
            ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined => a.errored += 1,
            _ => {}
        }
        a.bar.set_message(format!("{} failed, {} errors", a.failed, a.errored));
        a.bar.inc(1);
    }
}

/// A line for the console while the bar is shown (above it), else on stdout.
pub fn println(line: &str) {
    match ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(a) if !a.bar.is_hidden() => a.bar.println(line),
        _ => println!("{line}"),
    }
}

/// One line per scenario that did not pass or skip: what it is, its family, feature, scenario and
/// line, and every failed or errored verdict with its rule, level, expected and observed.
pub fn outcome_lines(records: &[ScenarioRecord]) -> Vec<String> {
    let mut out = Vec::new();
    for r in records {
        let word = match (&r.outcome, r.reference_choice) {
            (ScenarioOutcome::Passed | ScenarioOutcome::Skipped(_), _) => continue,
            (_, true) => "REFERENCE CHOICE DIFFERS",
            (ScenarioOutcome::Failed(_), _) if r.must_failed() => "FAIL (MUST)",
            (ScenarioOutcome::Failed(_), _) => "FAIL (SHOULD)",
            (ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined, _) => "ERROR",
            (ScenarioOutcome::Flaky(_), _) => "FLAKY",
            (ScenarioOutcome::NotDone(_), _) => "NOT DONE (MAY)",
        };
        let mut line = format!("{word}: [{}] {} / {} (line {}): {}", r.family, r.feature, r.scenario, r.line, r.detail());
        if r.history.len() > 1 {
            let _ = write!(line, " (history: {})", r.history.join(" → "));
        }
        out.push(line);
    }
    out
}

/// The outcome table by feature family, aligned for a terminal.
pub fn family_table(records: &[ScenarioRecord]) -> String {
    let header: Vec<String> = std::iter::once("family".to_string()).chain(crate::report::COLUMNS.iter().map(|c| c.to_string())).collect();
    let rows: Vec<Vec<String>> = crate::report::by_family(records)
        .into_iter()
        .map(|(f, c)| std::iter::once(f).chain(c.cells().iter().map(|n| n.to_string())).collect())
        .collect();
    let widths: Vec<usize> = (0..header.len()).map(|i| rows.iter().chain([&header]).map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| if i == 0 { format!("{c:<w$}", w = widths[i]) } else { format!("{c:>w$}", w = widths[i]) })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// The results of `check`: one line per scenario that did not pass, the table by feature family,
/// the totals and where the reports and logs are.
pub fn print_results(summary: &crate::bdd::Summary, records: &[ScenarioRecord], dir: &std::path::Path) {
    for line in outcome_lines(records) {
        println!("{line}");
    }
    println!();
    print!("{}", family_table(records));
    println!("\n{summary}");
    println!("reports: {} (report.html, report.md, junit.xml, latency.hlog; logs: *.log)", dir.display());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Level, Status, Verdict};

    fn record(family: &str, scenario: &str, outcome: ScenarioOutcome, status: Status) -> ScenarioRecord {
        let v = Verdict {
            status,
            expected: "the will within 1.5 × keep-alive".into(),
            observed: "no will in 3 s".into(),
            ..Verdict::error("MQTT-3.1.2-24", Level::Must, "x", "y")
        };
        ScenarioRecord { family: family.into(), outcome, verdicts: vec![v], rules: vec!["MQTT-3.1.2-24".into()], ..ScenarioRecord::blank("Keep alive", scenario, 7) }
    }

    #[test]
    fn failures_and_errors_get_one_line_each_and_families_a_table() {
        let records = [
            record("v5", "silence", ScenarioOutcome::Failed("x".into()), Status::Fail),
            record("v3.1.1", "refused", ScenarioOutcome::Errored("x".into()), Status::Error("no CONNACK within 5 s".into())),
            record("v5", "fin", ScenarioOutcome::Passed, Status::Pass),
            record("seed", "tls", ScenarioOutcome::Skipped("TLS".into()), Status::Skip("TLS".into())),
        ];
        let lines = outcome_lines(&records);
        assert_eq!(
            lines,
            [
                "FAIL (MUST): [v5] Keep alive / silence (line 7): MQTT-3.1.2-24 [MUST] expected the will within 1.5 × keep-alive; observed no will in 3 s",
                "ERROR: [v3.1.1] Keep alive / refused (line 7): MQTT-3.1.2-24 [MUST] ERROR: could not establish the will within 1.5 × keep-alive: no CONNACK within 5 s",
            ]
        );
        insta::assert_snapshot!(family_table(&records), @r"
        family  passed  failed  error  flaky  not done (MAY)  skipped  reference choice
        seed         0       0      0      0               0        1                 0
        v3.1.1       0       0      1      0               0        0                 0
        v5           1       1      0      0               0        0                 0
        total        1       1      1      0               0        1                 0
        ");
    }
}
