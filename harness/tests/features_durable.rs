//! The `@durable` features (wills across a broker crash) against the reference broker as its own
//! process with a data directory: `lwt-harness broker --data-dir`, killed with SIGKILL and started
//! again with the same command by the crash-and-restart fault. Every scenario must pass; none may be
//! skipped (the profile declares `survives_crash`).

use lwt_harness::bdd::{self, RunOptions};
use lwt_harness::profile::Profile;
use lwt_harness::target::{Target, TargetSpec};
use std::path::PathBuf;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let profile = Profile::load(&root.join("fixtures/profiles/lwt-broker-durable.yaml")).expect("durable profile");
    assert!(profile.survives_crash);
    let cmd = format!("{} broker --bind 127.0.0.1:{{port}} --data-dir {{dir}}/data", env!("CARGO_BIN_EXE_lwt-harness"));
    let target = Target::start(&TargetSpec::Launch(cmd)).await.expect("launched durable broker");
    let opts = RunOptions {
        paths: vec![root.join("features/durable")],
        tags: None,
        report_dir: std::env::var_os("LWT_FEATURE_REPORT_DIR").map(PathBuf::from),
        concurrency: 1,
        rerun_failures: 0,
        observer: Default::default(),
    };
    let (summary, records) = bdd::run(target, profile, opts).await.expect("feature run");
    for r in records.iter().filter(|r| !matches!(r.outcome, bdd::report::ScenarioOutcome::Passed)) {
        println!("not passed: {} / {} (line {}): {:?}", r.feature, r.scenario, r.line, r.outcome);
    }
    println!("durable features: {summary}");
    println!("{} passed, {} failed, {} skipped", summary.passed, summary.failed + summary.errored, summary.skipped);
    let ok = records.len() >= 4 && records.iter().all(|r| matches!(r.outcome, bdd::report::ScenarioOutcome::Passed)) && summary.parse_errors == 0;
    std::process::exit(if ok { 0 } else { 1 });
}
