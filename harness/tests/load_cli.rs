//! `lwt-harness load` end to end: a 200-client storm against the embedded broker writes the JSON
//! summary with the documented keys and a report folder; a bad scenario exits 2 naming the key.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lwt-harness"));
    c.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    c
}

#[test]
fn load_small_storm_writes_json_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("s.json");
    let report = dir.path().join("report");
    let out = bin()
        .args(["load", "scenarios/small-storm.yaml", "--clients", "200", "--no-progress", "--json"])
        .arg(&json)
        .arg("--report-dir")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("wills lost / duplicated / unexpected"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for k in [
        "scenario", "target", "clients", "wills_expected", "wills_received", "wills_lost", "wills_duplicated",
        "wills_unexpected", "time_to_last_will_ms", "latency_ms", "keepalive_error_ms", "connect_rate_per_s",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {v}");
    }
    for k in ["p50", "p90", "p99", "p999", "max", "count"] {
        assert!(v["latency_ms"].get(k).is_some(), "latency_ms.{k}");
    }
    for k in ["p50", "p99", "max", "violations"] {
        assert!(v["keepalive_error_ms"].get(k).is_some(), "keepalive_error_ms.{k}");
    }
    assert_eq!(v["scenario"], "small-storm");
    assert_eq!(v["clients"], 200);
    // Two observers, each must see all 200 wills.
    assert_eq!(v["wills_expected"], 400);
    assert_eq!(v["wills_received"], 400);
    assert_eq!(v["wills_lost"], 0);
    assert_eq!(v["latency_ms"]["count"], 400);
    assert!(v["connect_rate_per_s"].as_f64().unwrap() > 0.0);
    for f in ["report.md", "report.html", "latency.svg", "arrivals.svg", "latency.hlog", "summary.json"] {
        assert!(report.join(f).is_file(), "{f}");
    }
    // A FIN storm has no keep-alive error: its plot is left out, not drawn empty.
    assert!(!report.join("keepalive.svg").exists(), "no keep-alive plot without keep-alive data");
    // Merge of one shard gives the same counts.
    let merged = dir.path().join("m.json");
    let out = bin().args(["merge"]).arg(&json).arg("--json").arg(&merged).arg("--report-dir").arg(dir.path().join("mr")).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(m["wills_received"], 400);
    assert_eq!(m["latency_ms"], v["latency_ms"]);
}

/// A fleet too large to share this process's file descriptors with the embedded broker: the run
/// moves the same broker into its own process (`lwt-harness broker`) instead of failing. The limit
/// is lowered to 1,024 so 600 clients (about 1,200 descriptors with the broker's side) do not fit.
#[test]
fn too_big_for_one_process_runs_the_broker_as_its_own_process() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("s.json");
    let out = Command::new("sh")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .arg("-c")
        .arg(format!(
            "ulimit -n 1024 && exec '{}' load scenarios/small-storm.yaml --clients 600 --no-progress --json '{}' --report-dir '{}'",
            env!("CARGO_BIN_EXE_lwt-harness"),
            json.display(),
            dir.path().join("r").display()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stderr.contains("runs as its own process"), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(v["target"].as_str().unwrap().contains("broker --bind"), "{}", v["target"]);
    assert_eq!((v["wills_expected"].as_u64(), v["wills_received"].as_u64(), v["wills_lost"].as_u64()), (Some(1200), Some(1200), Some(0)));
    // The broker's process was visible, so its RSS was measured.
    assert!(v["broker"]["rss_peak_kib"].as_u64().is_some_and(|k| k > 0), "{}", v["broker"]);
    assert_eq!(v["broker"]["shared_with_harness"], false);
}

/// The seeds' TLS fleet against the in-process broker behind TLS with client certificates
/// (`--launch embedded-tls`): every sensor's will reaches all four actuators.
#[test]
fn seed_fleet_runs_over_tls_against_the_embedded_broker() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("s.json");
    let out = bin()
        .args(["load", "scenarios/seed-fleet.yaml", "--launch", "embedded-tls", "--clients", "50", "--no-progress", "--json"])
        .arg(&json)
        .arg("--report-dir")
        .arg(dir.path().join("r"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["target"], "lwt-broker (embedded, TLS)");
    assert_eq!((v["wills_expected"].as_u64(), v["wills_received"].as_u64(), v["wills_lost"].as_u64()), (Some(200), Some(200), Some(0)));
}

#[test]
fn bad_scenario_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(&f, "fleet:\n  count: 10\n  will: { topic: \"x/{id}\" }\nfault: { kind: fin, when: later }\n").unwrap();
    let out = bin().arg("load").arg(&f).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("when"), "{err}");
}

#[test]
fn remote_targets_are_refused() {
    let out = bin().args(["load", "scenarios/small-storm.yaml", "--broker", "mqtt://192.0.2.1:1883"]).output().unwrap();
    // The address is not reachable either way; the refusal must come first and say why.
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("loopback") && err.contains("--allow-remote"), "{err}");
}
