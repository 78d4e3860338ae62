//! The soak, two minutes long: 1,000 connections with wills churning (FIN, RST, DISCONNECT 0x00,
//! takeover, reconnect) against the reference broker as its own process; no will lost, duplicated or
//! sent after DISCONNECT 0x00, and the broker's RSS flat within ± 5 % after the warm-up. The
//! 30-minute, 10,000-connection version is `lwt-harness load scenarios/soak.yaml`.

use lwt_harness::load::scenario::Scenario;
use lwt_harness::load::soak;
use lwt_harness::target::{Target, TargetSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_minutes_of_churn_lose_no_will_and_keep_rss_flat() {
    let root = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mut s = Scenario::load(&root.join("scenarios/soak.yaml")).unwrap();
    s.fleet.count = 1000;
    s.fault.soak.duration_s = 120;
    s.fault.soak.sample_s = 5;
    let cmd = format!("{} broker --bind 127.0.0.1:{{port}}", env!("CARGO_BIN_EXE_lwt-harness"));
    let t = Target::start(&TargetSpec::Launch(cmd)).await.unwrap();
    let tally = soak::run(&t, &s).await.unwrap();
    t.stop().await;
    println!("{}", soak::table(&tally));
    assert_eq!(tally.error, None);
    assert!(tally.expected > 1000 && tally.actions.iter().all(|n| *n > 100), "{tally:?}");
    assert_eq!((tally.lost, tally.duplicated, tally.unexpected), (0, 0, 0), "{tally:?}");
    assert!(tally.rss.len() >= 20, "RSS sampled every 5 s");
    assert!(tally.rss_max_deviation <= s.fault.soak.rss_tolerance, "RSS not flat: {:?}", tally.rss);
}
