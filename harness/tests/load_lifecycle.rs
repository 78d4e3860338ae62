//! Will latency vs Event Grid life-cycle event latency (issue 16 part 3): `scenarios/lifecycle-vs-will.yaml`
//! against the embedded broker emulating a namespace for the fleet (`embedded-eventgrid`), 40 X.509
//! clients dealt FIN, RST, silence and DISCONNECT 0x04 in turn; and the `fault.mix` checks.

use lwt_harness::load::scenario::{FaultKind, Scenario};
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lwt-harness"));
    c.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    c
}

/// The documented `disconnectionReason` of each fault kind (fixtures/namespaces/README.md).
fn documented_reason(fault: &str) -> &'static str {
    match fault {
        "fin" | "rst" | "silence" => "ConnectionLost",
        "disconnect-0x04" => "ClientInitiatedDisconnect",
        other => panic!("unexpected fault kind {other}"),
    }
}

#[test]
fn every_will_and_every_disconnected_event_comes_with_the_documented_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (json, report) = (dir.path().join("s.json"), dir.path().join("report"));
    let out = bin()
        .args(["load", "scenarios/lifecycle-vs-will.yaml", "--clients", "40", "--no-progress", "--json"])
        .arg(&json)
        .arg("--report-dir")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("will vs life-cycle event, per fault kind"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!((v["fault"].as_str(), v["wills_expected"].as_u64(), v["wills_received"].as_u64()), (Some("mixed"), Some(40), Some(40)));
    let l = &v["lifecycle"];
    assert!(l["file"].as_str().unwrap().ends_with("lifecycle-events.jsonl"), "{l}");
    let kinds = l["kinds"].as_array().unwrap();
    let mut faults: Vec<&str> = kinds.iter().map(|k| k["fault"].as_str().unwrap()).collect();
    faults.sort();
    assert_eq!(faults, ["disconnect-0x04", "fin", "rst", "silence"]);
    for k in kinds {
        let fault = k["fault"].as_str().unwrap();
        assert_eq!(k["clients"], 10, "{fault}: {k}");
        assert_eq!(k["events_missing"], 0, "{fault}: every Disconnected event came: {k}");
        let reasons = k["reasons"].as_object().unwrap();
        assert_eq!(reasons.len(), 1, "{fault}: {reasons:?}");
        assert_eq!(reasons[documented_reason(fault)], 10, "{fault}: {reasons:?}");
        for h in ["wills_ms", "wills_from_actual_ms", "events_ms", "events_from_actual_ms"] {
            assert_eq!(k[h]["count"], 10, "{fault}: {h} recorded: {k}");
            assert!(k[h]["p50"].as_f64().unwrap() > 0.0, "{fault}: {h}");
        }
        // Silence is only found by keep-alive: both signals come 1.5 × 2 s after CONNECT, and the
        // latency from that deadline is small, never seconds.
        assert!(k["events_ms"]["max"].as_f64().unwrap() < 2000.0, "{fault}: {k}");
    }
    for f in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(report.join(f)).unwrap();
        assert!(text.contains("life-cycle events p50 / p99 (ms)") && text.contains("ClientInitiatedDisconnect 10"), "{f}:\n{text}");
    }
}

#[test]
fn a_run_without_life_cycle_events_shows_no_such_columns() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("s.json");
    let out = bin()
        .args(["load", "scenarios/small-storm.yaml", "--clients", "20", "--no-progress", "--json"])
        .arg(&json)
        .arg("--report-dir")
        .arg(dir.path().join("r"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains("life-cycle"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(v.get("lifecycle").is_none(), "{v}");
    let md = std::fs::read_to_string(dir.path().join("r/report.md")).unwrap();
    assert!(!md.contains("life-cycle"), "{md}");
}

const MIXED: &str = "name: t\nfleet:\n  count: 8\n  protocol: \"5.0\"\n  keep_alive: 2\n  will:\n    topic: \"x/{id}/will\"\nfault:\n  kind: mixed\n  mix: [fin, silence]\n";

#[test]
fn a_mixed_fault_names_its_kinds_and_refuses_the_others() {
    let s = Scenario::from_yaml(MIXED, "t.yaml").unwrap();
    assert_eq!((s.fault.kind, s.fault.mix.clone()), (FaultKind::Mixed, vec![FaultKind::Fin, FaultKind::Silence]));
    let e = Scenario::from_yaml(&MIXED.replace("[fin, silence]", "[fin, takeover]"), "t.yaml").unwrap_err().to_string();
    assert!(e.contains("fault.mix") && e.contains("takeover") && e.contains("line 10"), "{e}");
    let e = Scenario::from_yaml(&MIXED.replace("  mix: [fin, silence]\n", ""), "t.yaml").unwrap_err().to_string();
    assert!(e.contains("fault.mix"), "{e}");
    let e = Scenario::from_yaml(&MIXED.replace("kind: mixed", "kind: fin"), "t.yaml").unwrap_err().to_string();
    assert!(e.contains("fault.mix") && e.contains("kind: mixed"), "{e}");
    let e = Scenario::from_yaml(&MIXED.replace("[fin, silence]", "[fin, disconnect-0x04]").replace("\"5.0\"", "\"3.1.1\""), "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("disconnect-0x04") && e.contains("5.0"), "{e}");
    let shipped = Scenario::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/lifecycle-vs-will.yaml")).unwrap();
    assert_eq!(shipped.target.launch.as_deref(), Some("embedded-eventgrid"));
    assert_eq!(shipped.fault.mix.len(), 4);
}
