//! The `lwt-broker` binary: the ready line, clean shutdown on SIGTERM, and clear errors for bad
//! flags and bad configuration files.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_lwt-broker");

#[test]
fn prints_listening_line_per_listener_and_stops_cleanly_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addrs = Vec::new();
    for _ in 0..2 {
        let line = lines.next().unwrap().unwrap();
        let addr = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}"));
        addrs.push(addr.parse::<std::net::SocketAddr>().unwrap());
    }
    assert_ne!(addrs[0], addrs[1]);
    // It accepts connections on both.
    for a in &addrs {
        std::net::TcpStream::connect(a).unwrap();
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "broker did not stop within 5 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bad_config_file_is_named_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("lwt-broker-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "max_qos: 7\n").unwrap();
    let out = Command::new(BIN).args(["--bind", "127.0.0.1:0", "--config"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml") && err.contains("max_qos"), "{err}");
    std::fs::write(&bad, "max_qso: 1\n").unwrap();
    let out = Command::new(BIN).args(["--bind", "127.0.0.1:0", "--config"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_qso"));
    let out = Command::new(BIN).args(["--config", "/nonexistent/x.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.yaml"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unknown_flag_and_bad_address_are_refused() {
    let out = Command::new(BIN).arg("--frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--frobnicate"));
    let out = Command::new(BIN).args(["--bind", "not-an-address"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-address"));
}
