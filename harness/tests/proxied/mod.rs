//! `lwt-harness check` against the reference broker seen through a test's proxy (which plays a
//! broker that behaves differently), and the verdicts it wrote.
#![allow(dead_code)] // each test binary uses its own subset

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_lwt-harness");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A run's exit and its `verdicts.json`.
pub struct Run {
    pub out: Output,
    pub report: serde_json::Value,
}

impl Run {
    /// Every verdict of every scenario.
    pub fn verdicts(&self) -> Vec<serde_json::Value> {
        self.scenarios().iter().flat_map(|s| s["verdicts"].as_array().unwrap().clone()).collect()
    }
    /// The scenario records.
    pub fn scenarios(&self) -> &Vec<serde_json::Value> {
        self.report["scenarios"].as_array().unwrap()
    }
    /// Standard output, for assertion messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
}

/// Starts the reference broker, puts the proxy `proxy(upstream)` returns in front of it and runs
/// `check ARGS --broker mqtt://PROXY` (off the async runtime, which serves the proxy meanwhile).
pub async fn check_through<F, Fut>(proxy: F, args: &[&str]) -> Run
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = SocketAddr>,
{
    let broker = lwt_broker::start_embedded().await.unwrap();
    let addr = proxy(broker.url().trim_start_matches("mqtt://").parse().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let report: PathBuf = dir.path().to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .current_dir(ROOT)
            .arg("check")
            .args(&args)
            .arg("--broker")
            .arg(format!("mqtt://{addr}"))
            .arg("--report-dir")
            .arg(&report)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = read_report(dir.path());
    broker.shutdown().await;
    Run { out, report }
}

fn read_report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("verdicts.json")).unwrap()).unwrap()
}

/// Whether `v` is a failed verdict at `level` ("Must", "Should").
pub fn failed(v: &serde_json::Value, level: &str) -> bool {
    v["status"] == "Fail" && v["level"] == level
}
