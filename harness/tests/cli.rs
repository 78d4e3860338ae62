//! `lwt-harness check`: exit codes, reports, and `--compare`.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lwt-harness");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let out = Command::new(BIN).current_dir(ROOT).args(["check", "no/such/features"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/features"));
    let out = Command::new(BIN).current_dir(ROOT).args(["check", "--tags", "@v5 and"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tags"));
    let out = Command::new(BIN).current_dir(ROOT).args(["check", "--broker", "http://x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mqtt://"));
    let out = Command::new(BIN).current_dir(ROOT).args(["check", "--frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_writes_reports_and_compare_prints_rules_by_targets() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(ROOT)
        .args(["check", "features/seed", "--report-dir"])
        .arg(dir.path().join("one"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    for f in ["junit.xml", "cucumber.json", "report.md", "report.html", "verdicts.json"] {
        assert!(dir.path().join("one").join(f).is_file(), "{f}");
    }
    let out = Command::new(BIN)
        .current_dir(ROOT)
        .args(["check", "features/seed", "--compare", "embedded", "mosquitto", "--report-dir"])
        .arg(dir.path().join("cmp"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("| rule | lwt-broker (embedded) | mosquitto"), "{text}");
    assert!(text.contains("| MQTT-3.14.4-3 | 1 pass / 0 fail / 0 skip | 1 pass / 0 fail / 0 skip |"), "{text}");
}
