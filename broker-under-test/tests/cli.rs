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

fn write_server_cert(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
    let (c, k) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

#[test]
fn tls_listener_prints_its_ready_line_and_bad_tls_flags_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_server_cert(dir.path());
    let mut child = Command::new(BIN)
        .args(["--bind-tls", "127.0.0.1:0", "--profile", "eventgrid", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let addr = line.strip_prefix("listening on ").and_then(|l| l.strip_suffix(" (tls)"));
    assert!(addr.is_some_and(|a| a.parse::<std::net::SocketAddr>().is_ok()), "unexpected line {line:?}");

    // --bind-tls without a certificate, an unknown profile, a key that is not PEM, a bad namespace.
    let out = Command::new(BIN).args(["--bind-tls", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cert"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(BIN).args(["--bind", "127.0.0.1:0", "--profile", "azure"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown profile \"azure\""));
    let out = Command::new(BIN).args(["--bind-tls", "127.0.0.1:0", "--cert"]).arg(&cert).arg("--key").arg(&cert).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.pem"), "{}", String::from_utf8_lossy(&out.stderr));
    let ns = dir.path().join("ns.yaml");
    std::fs::write(&ns, "name: x\nclients:\n  - name: a\n    colour: red\n").unwrap();
    let out = Command::new(BIN).args(["--bind", "127.0.0.1:0", "--namespace"]).arg(&ns).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ns.yaml") && err.contains("colour") && err.contains('4'), "{err}");
}

#[test]
fn websocket_listener_prints_its_line_and_a_bad_path_is_refused() {
    let mut child = Command::new(BIN)
        .args(["--bind-ws", "127.0.0.1:0", "--ws-path", "/mqtt"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    let addr = line.strip_prefix("listening on ").and_then(|l| l.strip_suffix(" (ws)")).unwrap_or_else(|| panic!("{line:?}"));
    std::net::TcpStream::connect(addr.parse::<std::net::SocketAddr>().unwrap()).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let out = Command::new(BIN).args(["--bind-ws", "127.0.0.1:0", "--ws-path", "mqtt"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must start with '/'"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(BIN).args(["--bind-wss", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--bind-wss needs --cert and --key");
}

#[test]
fn an_unwritable_lifecycle_events_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_server_cert(dir.path());
    let ns = dir.path().join("ns.yaml");
    std::fs::write(&ns, "name: lwt-demo\n").unwrap();
    let bad = dir.path().join("no-such-dir").join("events.jsonl");
    let out = Command::new(BIN)
        .args(["--bind-tls", "127.0.0.1:0", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .arg("--namespace")
        .arg(&ns)
        .arg("--lifecycle-events")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("life-cycle events file") && err.contains("no-such-dir"), "{err}");
    // The flag needs a namespace.
    let out = Command::new(BIN).args(["--bind", "127.0.0.1:0", "--lifecycle-events"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--namespace"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The binary wires no bearer-token validator: its HTTP Publish listener prints its line and
/// refuses every request with 401 saying so (never lets one through); a non-loopback address
/// stops the start.
#[test]
fn http_publish_listener_prints_its_line_and_refuses_without_a_validator() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_server_cert(dir.path());
    let ns = dir.path().join("ns.yaml");
    std::fs::write(&ns, "name: lwt-demo\n").unwrap();
    let mut child = Command::new(BIN)
        .args(["--bind-tls", "127.0.0.1:0", "--bind-http-publish", "127.0.0.1:0", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .arg("--namespace")
        .arg(&ns)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap()).lines().take(2).map(|l| l.unwrap()).collect();
    let http = lines.iter().find_map(|l| l.strip_prefix("listening on ")?.strip_suffix(" (http publish)")).unwrap_or_else(|| panic!("{lines:?}"));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(3))).build().into();
    let url = format!("http://{http}/mqtt/messages?topic=a%2Fb&api-version=2025-02-15-preview");
    let mut resp = agent.post(&url).header("Authorization", "Bearer anything").send("x").unwrap();
    let (status, body) = (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap());
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("no bearer-token validator"), "{body}");
    let out = Command::new(BIN)
        .args(["--bind-tls", "127.0.0.1:0", "--bind-http-publish", "0.0.0.0:0", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .arg("--namespace")
        .arg(&ns)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"), "{}", String::from_utf8_lossy(&out.stderr));
}
