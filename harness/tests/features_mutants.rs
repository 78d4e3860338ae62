//! The mutation tests again, as features: every scenario tagged `@mutant-<name>` must fail when the
//! reference broker runs with that mutant installed as its will hook (and passes without it: tests/features.rs).
//! Only a FAIL counts as caught, and only with a failed verdict of one of the scenario's own rule
//! tags: a skipped, errored, flaky or not-done scenario has not caught anything.

mod mutant;

use mutant::{Mutant, ALL};
use lwt_harness::bdd::{self, RunOptions};
use lwt_harness::profile::Profile;
use lwt_harness::target::{Target, TargetSpec};
use std::path::PathBuf;

fn tag(m: Mutant) -> String {
    // The kebab-case name of the mutant.
    let debug = format!("{m:?}");
    let mut kebab = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                kebab.push('-');
            }
            kebab.push(c.to_ascii_lowercase());
        } else {
            kebab.push(c);
        }
    }
    format!("@mutant-{}", kebab.replace("multiplier-", "multiplier"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutant_fails_its_tagged_scenarios() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let profile = Profile::load(&root.join("fixtures/profiles/lwt-broker.yaml")).unwrap();
    let mut report = Vec::new();
    for m in ALL {
        let cfg = m.config();
        let target = Target::start(&TargetSpec::Embedded(cfg)).await.unwrap();
        let opts = RunOptions {
            paths: vec![root.join("features")],
            tags: Some(tag(m)),
            report_dir: None,
            concurrency: 16,
            rerun_failures: 0,
            observer: Default::default(),
        };
        let (summary, records) = bdd::run(target, profile.clone(), opts).await.unwrap();
        report.push(format!("{m:?} ({}): {} scenario(s), {} failed", tag(m), records.len(), summary.failed));
        assert!(!records.is_empty(), "no scenario is tagged {} to catch {m:?}", tag(m));
        for r in &records {
            assert!(caught(r), "scenario {:?} (line {}) tagged {} did not catch mutant {m:?}: {:?}\n{:#?}", r.scenario, r.line, tag(m), r.outcome, r.verdicts);
        }
    }
    println!("{}", report.join("\n"));
}

/// Caught: the scenario FAILED with a failed verdict of one of its own rule tags. Skips, errors,
/// flaky outcomes and MAYs not done are not catches.
fn caught(r: &bdd::report::ScenarioRecord) -> bool {
    matches!(r.outcome, bdd::report::ScenarioOutcome::Failed(_))
        && r.verdicts.iter().any(|v| v.status == lwt_harness::verdict::Status::Fail && r.rules.contains(&v.rule))
}

#[test]
fn only_a_failure_of_the_scenarios_rule_counts_as_caught() {
    use bdd::report::{ScenarioOutcome, ScenarioRecord};
    use lwt_harness::verdict::{Level, Status, Verdict};
    let fail = |rule: &str| Verdict { status: Status::Fail, ..Verdict::error(rule, Level::Must, "x", "y") };
    let rec = |outcome, verdicts| ScenarioRecord {
        outcome,
        verdicts,
        rules: vec!["MQTT-3.1.2-8".into()],
        ..ScenarioRecord::blank("f", "s", 1)
    };
    assert!(caught(&rec(ScenarioOutcome::Failed("x".into()), vec![fail("MQTT-3.1.2-8")])));
    assert!(!caught(&rec(ScenarioOutcome::Failed("x".into()), vec![fail("MQTT-3.1.2-24")])), "wrong rule");
    assert!(!caught(&rec(ScenarioOutcome::Errored("x".into()), vec![Verdict::error("MQTT-3.1.2-8", Level::Must, "x", "y")])));
    assert!(!caught(&rec(ScenarioOutcome::Skipped("x".into()), vec![])));
    assert!(!caught(&rec(ScenarioOutcome::Flaky("x".into()), vec![fail("MQTT-3.1.2-8")])));
}

#[test]
fn tags_are_the_kebab_case_names() {
    assert_eq!(tag(Mutant::WillAfterNormalDisconnect), "@mutant-will-after-normal-disconnect");
    assert_eq!(tag(Mutant::KeepAliveMultiplier25), "@mutant-keep-alive-multiplier25");
    assert_eq!(tag(Mutant::KeepAliveMultiplier1), "@mutant-keep-alive-multiplier1");
}
