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

/// A fake broker on a free loopback port. Connections that send nothing (the harness's reachability
/// check) count for nothing; of the others, the first `pass_first` (the pre-flight observer's) are
/// forwarded byte for byte to `forward_to`, the next `refuse` get a refusing CONNACK (3.1.1: 0x05,
/// 5.0: 0x87) and a close, and later ones are forwarded again (refused without `forward_to`).
async fn fake_broker(pass_first: usize, refuse: usize, forward_to: Option<std::net::SocketAddr>) -> std::net::SocketAddr {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let k = match s.read(&mut buf).await {
                    Ok(k) if k > 0 => k,
                    _ => return,
                };
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let refusing = n >= pass_first && n - pass_first < refuse;
                if let Some(up) = forward_to.filter(|_| !refusing) {
                    if let Ok(mut u) = tokio::net::TcpStream::connect(up).await {
                        if u.write_all(&buf[..k]).await.is_ok() {
                            let _ = tokio::io::copy_bidirectional(&mut s, &mut u).await;
                        }
                    }
                    return;
                }
                // Fixed header, remaining length (1-4 bytes), "MQTT" with its length, then the level.
                let mut i = 1;
                while i < k && buf[i] & 0x80 != 0 {
                    i += 1;
                }
                let level = buf.get(i + 7).copied().unwrap_or(4);
                let connack: &[u8] = if level == 5 { &[0x20, 0x03, 0x00, 0x87, 0x00] } else { &[0x20, 0x02, 0x00, 0x05] };
                let _ = s.write_all(connack).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

/// Runs `check` on the seed walkthrough against `addr` (off the async runtime, which serves the fake
/// broker meanwhile).
async fn check_against(addr: std::net::SocketAddr, extra: &[&str], report: &std::path::Path) -> std::process::Output {
    let extra: Vec<String> = extra.iter().map(|e| e.to_string()).collect();
    let report = report.to_path_buf();
    tokio::task::spawn_blocking(move || check_blocking(addr, &extra, &report)).await.unwrap()
}

fn check_blocking(addr: std::net::SocketAddr, extra: &[String], report: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .current_dir(ROOT)
        .args(["check", "features/seed/sensors-and-actuators.feature", "--broker"])
        .arg(format!("mqtt://{addr}"))
        .args(extra)
        .arg("--report-dir")
        .arg(report)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_refuses_the_preflight_observer_is_a_set_up_error_exit_2() {
    let addr = fake_broker(0, usize::MAX, None).await;
    let dir = tempfile::tempdir().unwrap();
    let out = check_against(addr, &[], dir.path()).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("refused") && err.contains("observer"), "the set-up problem is named: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_refuses_every_connect_gives_errors_not_failures_and_exit_3() {
    // The pre-flight observer gets through to a real broker; every scenario's CONNECT is refused.
    let broker = lwt_broker::start_embedded().await.unwrap();
    let upstream: std::net::SocketAddr = broker.url().trim_start_matches("mqtt://").parse().unwrap();
    let addr = fake_broker(1, usize::MAX, Some(upstream)).await;
    let dir = tempfile::tempdir().unwrap();
    let out = check_against(addr, &[], dir.path()).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("0 passed, 0 failed (0 MUST), 0 skipped, 3 errors"), "{text}");
    assert!(text.contains("ERROR: ") && text.contains("refused"), "{text}");
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<error ") && !junit.contains("<failure"), "{junit}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("## Errors") && !md.contains("## Failures"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("verdicts.json")).unwrap()).unwrap();
    assert_eq!(json["summary"]["errored"], 3);
    assert_eq!(json["summary"]["exit_code"], 3);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_that_flips_is_reported_flaky_with_its_history() {
    let broker = lwt_broker::start_embedded().await.unwrap();
    let url = broker.url();
    let upstream: std::net::SocketAddr = url.trim_start_matches("mqtt://").parse().unwrap();
    // The first connection (the scenario's first observer) is refused; every later one reaches the
    // reference broker, so the rerun passes.
    let addr = fake_broker(1, 1, Some(upstream)).await;
    let dir = tempfile::tempdir().unwrap();
    let out = check_against(addr, &["--tags", "@v311", "--concurrency", "1", "--rerun-failures", "2"], dir.path()).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("FLAKY: ") && text.contains("ERROR → pass → pass"), "{text}");
    assert!(text.contains("1 flaky"), "{text}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("## Flaky") && md.contains("ERROR → pass → pass"), "{md}");
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<flakyFailure message=\"ERROR\""), "{junit}");
    broker.shutdown().await;
}

/// `checks` is `check --tags @quick` on the one feature engine: against a broker that refuses every
/// connection its pre-flight stops the run as a set-up error (exit 2) naming the cause, and no
/// verdict (let alone a rule failure) is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_checks_against_a_refusing_broker_are_a_set_up_error() {
    let addr = fake_broker(0, usize::MAX, None).await;
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .current_dir(ROOT)
            .args(["checks", "--protocol", "3.1.1", "--broker"])
            .arg(format!("mqtt://{addr}"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}\n{err}");
    assert!(err.contains("pre-flight") && err.contains("refused the harness's observer"), "{err}");
    assert!(!text.contains("FAIL"), "{text}");
}

/// `checks` runs exactly the `@quick` scenarios, narrowed by `--protocol`, with `check`'s report.
#[test]
fn quick_checks_pass_on_the_reference_broker_with_checks_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(ROOT)
        .args(["checks", "--protocol", "5.0", "--tags", "@will-delay", "--report-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    // The two @quick will-delay scenarios of features/v5/will-delay.feature, nothing else.
    assert!(text.contains("2 scenarios: 2 passed"), "{text}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("MQTT-3.1.3-9") && md.contains("MQTT-3.1.2-8"), "{md}");
}

/// `--observer rumqttc`: both walkthroughs pass with rumqttc observers (exit 0), the TLS one over
/// rustls with each actuator's client certificate; what rumqttc cannot do (announce a Maximum
/// Packet Size and still read a larger delivery) ends as an error naming the observer limit, no
/// failure (exit 3); an unknown stack is a usage error.
#[test]
fn check_with_rumqttc_observers_passes_or_names_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let check = |features: &str, stack: &str, report: &str| {
        let mut c = Command::new(BIN);
        c.current_dir(ROOT).args(["check", features, "--observer", stack, "--report-dir"]).arg(dir.path().join(report));
        c.output().unwrap()
    };
    let out = check("features/seed/sensors-and-actuators.feature", "rumqttc", "plain");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = check("features/seed/eventgrid-lwt.feature", "rumqttc", "tls");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = check("features/v5/will-size-and-fan-out.feature", "rumqttc", "limit");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    let report = std::fs::read_to_string(dir.path().join("limit/report.md")).unwrap();
    assert!(report.contains("observer limit"), "{report}");
    assert_eq!(check("features/seed", "bogus", "bad").status.code(), Some(2));
}
