//! The crash storm against the reference broker as its own process with a data directory: SIGKILL
//! mid-flight and the same command again; every will of a connection live at the crash arrives
//! once, none deleted or published before the crash comes back.

use lwt_harness::load::crash::{self, CrashTally};
use lwt_harness::load::scenario::Scenario;
use lwt_harness::target::{Target, TargetSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_storm_on_the_durable_reference_broker_loses_nothing_and_resurrects_nothing() {
    let root = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mut s = Scenario::load(&root.join("scenarios/crash-storm.yaml")).unwrap();
    s.fleet.count = 300;
    s.fault.at_ms = 100;
    let cmd = format!("{} broker --bind 127.0.0.1:{{port}} --data-dir {{dir}}/data", env!("CARGO_BIN_EXE_lwt-harness"));
    let mut t = Target::start(&TargetSpec::Launch(cmd)).await.unwrap();
    let tally = crash::run(&mut t, &s).await.unwrap();
    t.stop().await;
    println!("{}", crash::table(&tally));
    assert_eq!(tally.error, None);
    assert_eq!((tally.fired_before, tally.expected), (30, 240));
    assert_eq!((tally.delivered, tally.duplicated, tally.resurrected, tally.lost), (240, 0, 0, 0), "{tally:?}");
    assert!(!tally.failed());
}

#[test]
fn resurrected_or_duplicated_wills_fail_and_lost_ones_do_not() {
    let ok = CrashTally { expected: 10, delivered: 10, ..CrashTally::default() };
    assert!(!ok.failed());
    assert!(CrashTally { resurrected: 1, ..ok.clone() }.failed());
    assert!(CrashTally { duplicated: 1, ..ok.clone() }.failed());
    assert!(!CrashTally { delivered: 0, lost: 10, ..ok.clone() }.failed(), "deferring wills to the restart is a MAY");
    assert!(!CrashTally { resurrected: 1, error: Some("probe lost".into()), ..ok }.failed(), "an unjudged run is an error, not a failure");
}
