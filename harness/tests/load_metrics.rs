//! `load --metrics-port`: a Prometheus scraper sees the run's counters and histograms, and they agree
//! with the run's own summary.

use lwt_harness::load::{metrics, run::RunOptions, run_scenario, scenario::Scenario};
use lwt_harness::target::{Target, TargetSpec};
use std::path::Path;

/// The value of the first sample of `name` (any labels) in a Prometheus exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.split(['{', ' ']).next() == Some(name))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scraper_sees_the_will_counters_and_latency() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = Scenario::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/small-storm.yaml"))).unwrap();
    metrics::serve(port, &s.name, (0, 1)).unwrap();
    let t = Target::start(&TargetSpec::Embedded(Default::default())).await.unwrap();
    let summary = run_scenario(&t, &s, &RunOptions { progress: false, ..RunOptions::default() }).await.unwrap();
    t.stop().await;
    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = tokio::task::spawn_blocking(move || ureq::get(&url).call().unwrap().into_body().read_to_string().unwrap()).await.unwrap();
    assert!(text.contains("scenario=\"small-storm\"") && text.contains("shard=\"0/1\""), "{text}");
    assert_eq!(sample(&text, "lwt_wills_expected_total"), Some(summary.wills_expected as f64), "{text}");
    assert_eq!(sample(&text, "lwt_wills_received_total"), Some(summary.wills_received as f64), "{text}");
    assert_eq!(sample(&text, "lwt_wills_lost_total"), Some(summary.wills_lost as f64), "{text}");
    assert_eq!(sample(&text, "lwt_clients_connected"), Some(200.0), "{text}");
    assert_eq!(sample(&text, "lwt_will_latency_seconds_count"), Some(summary.wills_received as f64), "{text}");
    assert!(summary.wills_received == 400, "every will reached both observers: {summary:?}");
}
