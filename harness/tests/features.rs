//! Runs every feature file in `features/` against the embedded reference broker (the default
//! target), then the WebSocket scenarios and the seed walkthrough against the same broker over
//! MQTT over WebSockets. All scenarios must pass; the output counts scenarios and steps.

use lwt_harness::bdd::{self, RunOptions};
use lwt_harness::profile::Profile;
use lwt_harness::target::{Target, TargetSpec};
use std::path::PathBuf;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let profile = Profile::load(&root.join("fixtures/profiles/lwt-broker.yaml")).expect("reference profile");
    let target = Target::start(&TargetSpec::Embedded(Default::default())).await.expect("embedded broker");
    let report_dir = std::env::var_os("LWT_FEATURE_REPORT_DIR").map(PathBuf::from);
    let opts = RunOptions {
        paths: vec![root.join("features")],
        tags: std::env::var("LWT_FEATURE_TAGS").ok(),
        report_dir,
        concurrency: 32,
        rerun_failures: 0,
        observer: Default::default(),
    };
    let (summary, records) = bdd::run(target, profile.clone(), opts).await.expect("feature run");
    // The same broker over MQTT over WebSockets: the WebSocket scenarios and the seed walkthrough.
    let ws = Target::start(&TargetSpec::EmbeddedWs(Default::default())).await.expect("embedded broker over WebSockets");
    let ws_opts = RunOptions {
        paths: vec![root.join("features/websocket"), root.join("features/seed/sensors-and-actuators.feature")],
        tags: None,
        report_dir: None,
        concurrency: 16,
        rerun_failures: 0,
        observer: Default::default(),
    };
    let (ws_summary, ws_records) = bdd::run(ws, profile, ws_opts).await.expect("feature run over WebSockets");
    println!("features over WebSockets: {ws_summary}");
    let ws_ok = ws_summary.passed >= 10
        && ws_records.iter().all(|r| matches!(r.outcome, bdd::report::ScenarioOutcome::Passed))
        && ws_summary.parse_errors == 0;
    for r in ws_records.iter().filter(|r| !matches!(r.outcome, bdd::report::ScenarioOutcome::Passed)) {
        println!("not passed over WebSockets: {} / {} (line {}): {:?}", r.feature, r.scenario, r.line, r.outcome);
    }
    for r in records.iter().filter(|r| !matches!(r.outcome, bdd::report::ScenarioOutcome::Passed)) {
        println!("not passed: {} / {} (line {}): {:?}", r.feature, r.scenario, r.line, r.outcome);
    }
    println!("features: {summary}");
    // The plain closing line CI readers understand.
    // (.ci/run sums this line: keep its shape; errors are counted with the failures here.)
    println!("{} passed, {} failed, {} skipped", summary.passed, summary.failed + summary.errored, summary.skipped);
    // The reference broker makes every reference choice the way its scenarios expect, and does
    // every MAY it is asked about: nothing but passes and capability skips.
    let all_pass = records
        .iter()
        .all(|r| matches!(r.outcome, bdd::report::ScenarioOutcome::Passed | bdd::report::ScenarioOutcome::Skipped(_)));
    let ok = all_pass && ws_ok && summary.parse_errors == 0 && summary.steps.2 == 0 && summary.passed > 0;
    std::process::exit(if ok { 0 } else { 1 });
}
