//! Shards as separate processes, on different loopback source addresses, started a second apart:
//! with `--barrier` they strike at one fleet-wide instant, and `merge` reports the fleet-wide close
//! span (which would be over a second without the barrier) and every will delivered once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_lwt-harness");

const SCENARIO: &str = r#"
name: barrier-storm
fleet:
  count: 300
  id: "bar-{i:04}"
  protocol: "5.0"
  keep_alive: 60
  will: { topic: "bar/{id}/will", payload: "{id} gen {gen}", qos: 1 }
observers: { count: 1, qos: 1 }
ramp: { rate: 2000, concurrency: 64 }
fault: { kind: fin, at_ms: 300 }
limits: { will_timeout_s: 10, settle_ms: 300 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_meet_at_the_barrier_and_merge_exactly() {
    let broker = lwt_broker::start_embedded().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("barrier.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let id = format!("t{}", std::process::id());
    let started = Instant::now();
    let mut shards = Vec::new();
    for i in 0..3 {
        if i > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        let json = dir.path().join(format!("shard-{i}.json"));
        let child = Command::new(BIN)
            .args(["load", scenario.to_str().unwrap(), "--broker", &broker.url(), "--no-progress", "--source-addrs", "2"])
            .args(["--shard", &format!("{i}/3"), "--barrier", &id, "--json", json.to_str().unwrap()])
            .args(["--report-dir", dir.path().join(format!("report-{i}")).to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        shards.push((child, json));
    }
    let mut files = Vec::new();
    for (child, json) in shards {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
        assert!(out.status.success(), "shard failed: {}", String::from_utf8_lossy(&out.stderr));
        files.push(json);
    }
    assert!(started.elapsed() >= Duration::from_secs(2), "the shards started at least 2 s apart");
    let merged = dir.path().join("merged.json");
    let out = Command::new(BIN).arg("merge").args(&files).args(["--json", merged.to_str().unwrap()])
        .args(["--report-dir", dir.path().join("merged").to_str().unwrap()])
        .output().unwrap();
    assert!(out.status.success(), "merge: {}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(m["wills_expected"], 300);
    assert_eq!(m["wills_received"], 300);
    assert_eq!((m["wills_lost"].as_u64(), m["wills_duplicated"].as_u64(), m["wills_unexpected"].as_u64()), (Some(0), Some(0), Some(0)));
    let f = &m["fleet_sync"];
    assert_eq!(f["shards"], 3, "{m}");
    let span = f["injection_span_ms"].as_f64().unwrap();
    // Without the barrier the shards would strike ~1 s apart; with it, within the close span of one
    // shard plus the go's delivery skew.
    eprintln!("fleet-wide close span {span:.3} ms, offset spread {} ms", f["offset_spread_ms"]);
    assert!(span < 500.0, "fleet-wide close span {span} ms: the shards did not strike together");
    assert!(f["offset_spread_ms"].as_f64().unwrap() < 100.0, "{f}");
    broker.shutdown().await;
}
