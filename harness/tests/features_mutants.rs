//! The mutation tests again, as features: every scenario tagged `@mutant-<name>` must fail when the
//! reference broker runs with that mutant installed as its will hook (and passes without it: tests/features.rs).

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
        let opts = RunOptions { paths: vec![root.join("features")], tags: Some(tag(m)), report_dir: None, concurrency: 16 };
        let (summary, records) = bdd::run(target, profile.clone(), opts).await.unwrap();
        let ran = summary.passed + summary.failed;
        report.push(format!("{m:?} ({}): {ran} scenario(s), {} failed", tag(m), summary.failed));
        assert!(ran > 0, "no scenario is tagged {} to catch {m:?}", tag(m));
        for r in &records {
            assert!(
                !matches!(r.outcome, bdd::report::ScenarioOutcome::Passed | bdd::report::ScenarioOutcome::Undefined),
                "scenario {:?} tagged {} passed (or has undefined steps) against mutant {m:?}: {:?}",
                r.scenario,
                tag(m),
                r.outcome
            );
        }
    }
    println!("{}", report.join("\n"));
}

#[test]
fn tags_are_the_kebab_case_names() {
    assert_eq!(tag(Mutant::WillAfterNormalDisconnect), "@mutant-will-after-normal-disconnect");
    assert_eq!(tag(Mutant::KeepAliveMultiplier25), "@mutant-keep-alive-multiplier25");
    assert_eq!(tag(Mutant::KeepAliveMultiplier1), "@mutant-keep-alive-multiplier1");
}
