//! Interoperability with Debian's `mosquitto_pub` / `mosquitto_sub` (package `mosquitto-clients`):
//! messages, retained messages and Wills exchanged between the real Eclipse Mosquitto client library
//! and the embedded `lwt-broker`, over both `-V mqttv311` and `-V mqttv5`. The broker runs in-process;
//! the tools run as child processes against its port; the other side is the raw test client.
//!
//! The tools are required: when they are missing every test FAILS and says how to install them
//! (CI installs `mosquitto-clients`); nothing is skipped silently.
//!
//! `mosquitto_sub` fully buffers its debug output on a pipe, so readiness is observed on the broker
//! side instead: [`wait_connections`] polls the broker's counters (a Will is armed before the
//! connection is counted), and a subscriber's readiness is shown by the first probe it receives.
mod common;
use common::*;
use lwt_broker::codec::*;
use lwt_broker::BrokerHandle;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

const QUIET: Duration = Duration::from_millis(300);

/// The path of a mosquitto client tool; panics (fails the test) when it is not installed.
fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|f| f.is_file()))
        .unwrap_or(None)
        .or_else(|| Some(PathBuf::from("/usr/bin").join(name)).filter(|f| f.is_file()));
    match found {
        Some(p) => p,
        None => panic!(
            "`{name}` not found: these interop tests need the mosquitto command-line clients. \
             Install them with `sudo apt-get install mosquitto-clients` (Debian/Ubuntu; CI installs them) \
             and run the tests again."
        ),
    }
}

/// `-V` value for a protocol version.
fn v_arg(v: ProtocolVersion) -> &'static str {
    if v.is_v5() {
        "mqttv5"
    } else {
        "mqttv311"
    }
}

/// A mosquitto tool command aimed at the broker, with the protocol version and a client id.
fn mosq(name: &str, b: &BrokerHandle, v: ProtocolVersion, id: &str) -> Command {
    let mut c = Command::new(tool(name));
    let addr = b.local_addr();
    c.args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string(), "-V", v_arg(v), "-i", id]);
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    c
}

/// Runs a command to completion (at most 10 s) and asserts it succeeded.
async fn run_ok(mut c: Command) -> Output {
    let out = tokio::time::timeout(Duration::from_secs(10), c.output())
        .await
        .expect("mosquitto tool did not finish within 10 s")
        .expect("spawn mosquitto tool");
    assert!(
        out.status.success(),
        "{c:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Waits until the broker counts `n` connected clients. A tool that has exited may still be counted
/// for a moment (its DISCONNECT is processed asynchronously), so callers first wait for the count
/// they expect before starting a tool, then for the count that includes it.
async fn wait_connections(b: &BrokerHandle, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = b.stats().await.connections;
        if now == n {
            return;
        }
        assert!(Instant::now() < deadline, "expected {n} connected clients, broker has {now}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for a child to exit (at most 10 s) and returns its output.
async fn finish(child: Child) -> Output {
    tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("mosquitto_sub did not exit within 10 s")
        .expect("wait for mosquitto_sub")
}

/// Lines `mosquitto_sub -F 'MSG|%t|%p|%r|%q'` printed, as (topic, payload, retain, qos).
fn messages(out: &Output) -> Vec<(String, String, String, String)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("MSG|"))
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            assert_eq!(f.len(), 4, "unexpected output line {l:?}");
            (f[0].to_owned(), f[1].to_owned(), f[2].to_owned(), f[3].to_owned())
        })
        .collect()
}

const FORMAT: &str = "MSG|%t|%p|%r|%q";

/// Messages from `mosquitto_pub` at QoS 0, 1 and 2 reach a raw subscriber with their payload and QoS;
/// under 5.0 a User Property set with `-D publish user-property` is forwarded too.
#[tokio::test]
async fn mosquitto_pub_messages_reach_raw_subscriber() {
    let b = broker().await;
    for v in VERSIONS {
        let topic = format!("interop/pub/{}", v_arg(v));
        let mut s = TestClient::connected(b.local_addr(), connect(v, "raw-sub")).await;
        s.subscribe(&topic, QoS::ExactlyOnce).await;
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let payload = format!("hello-q{}", qos as u8);
            let mut c = mosq("mosquitto_pub", &b, v, "mosq-pub");
            c.args(["-t", &topic, "-m", &payload, "-q", &(qos as u8).to_string()]);
            if v.is_v5() {
                c.args(["-D", "publish", "user-property", "origin", "mosquitto_pub"]);
            }
            run_ok(c).await;
            let m = s.expect_publish().await;
            assert_eq!((m.topic.as_str(), &m.payload[..], m.qos, m.retain), (topic.as_str(), payload.as_bytes(), qos, false));
            if v.is_v5() {
                assert_eq!(m.properties.user_properties(), vec![("origin".to_owned(), "mosquitto_pub".to_owned())]);
            }
        }
        s.assert_nothing_for(QUIET).await;
        s.disconnect(0, Properties::new()).await;
    }
}

/// `mosquitto_sub` receives a raw client's QoS 1 messages: probes are published every 50 ms until the
/// tool has received one (`-C 1`) and exited; it prints the topic, payload, RETAIN 0 and QoS 1.
#[tokio::test]
async fn mosquitto_sub_receives_from_raw_publisher() {
    let b = broker().await;
    for v in VERSIONS {
        let topic = format!("interop/sub/{}", v_arg(v));
        let mut c = mosq("mosquitto_sub", &b, v, "mosq-sub");
        c.args(["-t", &topic, "-q", "1", "-C", "1", "-W", "10", "-F", FORMAT]);
        wait_connections(&b, 0).await;
        let mut child = c.spawn().expect("spawn mosquitto_sub");
        wait_connections(&b, 1).await;
        let mut p = TestClient::connected(b.local_addr(), connect(v, "raw-pub")).await;
        let mut k = 0;
        while child.try_wait().expect("try_wait").is_none() {
            assert!(k < 100, "mosquitto_sub got nothing after {k} probes");
            p.publish(publish(&topic, &format!("probe-{k}"), QoS::AtLeastOnce, false)).await;
            k += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let out = finish(child).await;
        assert!(out.status.success(), "mosquitto_sub: {} {}", out.status, String::from_utf8_lossy(&out.stderr));
        let got = messages(&out);
        assert_eq!(got.len(), 1, "{got:?}");
        let (t, payload, retain, qos) = &got[0];
        assert_eq!((t.as_str(), retain.as_str(), qos.as_str()), (topic.as_str(), "0", "1"));
        assert!(payload.starts_with("probe-"), "{payload}");
        p.disconnect(0, Properties::new()).await;
        wait_connections(&b, 0).await;
    }
}

/// Retained messages: `mosquitto_pub -r` stores one, a later `mosquitto_sub` and a raw subscriber
/// get it with RETAIN 1, and `mosquitto_pub -r -n` (empty retained message) deletes it.
#[tokio::test]
async fn retained_messages_interop() {
    let b = broker().await;
    for v in VERSIONS {
        let topic = format!("interop/ret/{}", v_arg(v));
        let mut c = mosq("mosquitto_pub", &b, v, "mosq-pub");
        c.args(["-t", &topic, "-m", "kept", "-q", "1", "-r"]);
        run_ok(c).await;

        let mut c = mosq("mosquitto_sub", &b, v, "mosq-sub");
        c.args(["-t", &topic, "-q", "1", "-C", "1", "-W", "5", "-F", FORMAT]);
        let out = run_ok(c).await;
        assert_eq!(messages(&out), vec![(topic.clone(), "kept".into(), "1".into(), "1".into())]);

        let mut n = TestClient::connected(b.local_addr(), connect(v, "raw-n")).await;
        n.subscribe(&topic, QoS::AtLeastOnce).await;
        let m = n.expect_publish().await;
        assert!(m.retain && &m.payload[..] == b"kept");
        n.disconnect(0, Properties::new()).await;

        let mut c = mosq("mosquitto_pub", &b, v, "mosq-pub");
        c.args(["-t", &topic, "-r", "-n"]);
        run_ok(c).await;
        let mut n = TestClient::connected(b.local_addr(), connect(v, "raw-n")).await;
        n.subscribe(&topic, QoS::AtLeastOnce).await;
        n.assert_nothing_for(QUIET).await;
        n.disconnect(0, Properties::new()).await;
    }
}

/// MQTT-3.1.2-8 with a real client: `mosquitto_sub --will-topic ... --will-payload ... --will-qos 1`
/// is killed with SIGKILL (so it cannot send DISCONNECT) → a raw watcher gets exactly one Will; under
/// 5.0, Will properties set with `-D will ...` arrive unchanged.
#[tokio::test]
async fn mosquitto_sub_will_published_on_sigkill() {
    let b = broker().await;
    for v in VERSIONS {
        let will_topic = format!("interop/will/{}", v_arg(v));
        let mut s = TestClient::connected(b.local_addr(), connect(v, "raw-watcher")).await;
        s.subscribe("interop/will/#", QoS::AtLeastOnce).await;
        let mut c = mosq("mosquitto_sub", &b, v, "mosq-will");
        c.args(["-t", "interop/other", "--will-topic", &will_topic, "--will-payload", "died", "--will-qos", "1"]);
        if v.is_v5() {
            c.args(["-D", "will", "content-type", "text/plain", "-D", "will", "user-property", "k", "v"]);
        }
        wait_connections(&b, 1).await; // only the watcher
        let mut child = c.spawn().expect("spawn mosquitto_sub");
        wait_connections(&b, 2).await;
        s.assert_nothing_for(Duration::from_millis(100)).await;
        child.start_kill().expect("SIGKILL mosquitto_sub"); // std/tokio kill() is SIGKILL on Unix
        let status = child.wait().await.expect("wait");
        assert!(!status.success(), "mosquitto_sub must have been killed: {status}");
        let m = s.expect_publish().await;
        assert_eq!((m.topic.as_str(), &m.payload[..], m.qos, m.retain), (will_topic.as_str(), &b"died"[..], QoS::AtLeastOnce, false));
        if v.is_v5() {
            assert_eq!(m.properties.content_type().as_deref(), Some("text/plain"));
            assert_eq!(m.properties.user_properties(), vec![("k".to_owned(), "v".to_owned())]);
        }
        s.assert_nothing_for(QUIET).await;
        s.disconnect(0, Properties::new()).await;
        wait_connections(&b, 0).await;
    }
}

/// MQTT-3.1.2-17 with real clients: a `--will-retain` Will of a SIGKILLed `mosquitto_sub` is stored,
/// and another `mosquitto_sub` started afterwards prints it with RETAIN 1.
#[tokio::test]
async fn retained_will_of_killed_client_reaches_later_mosquitto_sub() {
    let b = broker().await;
    for v in VERSIONS {
        let will_topic = format!("interop/rwill/{}", v_arg(v));
        let mut c = mosq("mosquitto_sub", &b, v, "mosq-will");
        c.args(["-t", "interop/other", "--will-topic", &will_topic, "--will-payload", "offline", "--will-qos", "1", "--will-retain"]);
        wait_connections(&b, 0).await; // the previous round's clients are gone
        let mut child = c.spawn().expect("spawn mosquitto_sub");
        wait_connections(&b, 1).await;
        child.start_kill().expect("SIGKILL mosquitto_sub");
        child.wait().await.expect("wait");
        wait_connections(&b, 0).await;

        let mut c = mosq("mosquitto_sub", &b, v, "mosq-late");
        c.args(["-t", &will_topic, "-q", "1", "-C", "1", "-W", "5", "-F", FORMAT]);
        let out = run_ok(c).await;
        assert_eq!(messages(&out), vec![(will_topic.clone(), "offline".into(), "1".into(), "1".into())]);
        wait_connections(&b, 0).await;
    }
}

/// MQTT-3.14.4-3 with a real client (control): `mosquitto_sub` with a Will that exits normally after
/// one message (`-C 1`, so it sends DISCONNECT) → the Will is never published.
#[tokio::test]
async fn mosquitto_sub_normal_exit_publishes_no_will() {
    let b = broker().await;
    for v in VERSIONS {
        let mut s = TestClient::connected(b.local_addr(), connect(v, "raw-watcher")).await;
        s.subscribe("interop/nowill/#", QoS::AtLeastOnce).await;
        let mut p = TestClient::connected(b.local_addr(), connect(v, "raw-pub")).await;
        p.publish(publish("interop/go", "go", QoS::AtLeastOnce, true)).await;
        let mut c = mosq("mosquitto_sub", &b, v, "mosq-clean");
        c.args(["-t", "interop/go", "-C", "1", "-W", "5", "--will-topic", "interop/nowill/x", "--will-payload", "never"]);
        let out = run_ok(c).await;
        assert!(String::from_utf8_lossy(&out.stdout).contains("go"));
        s.assert_nothing_for(QUIET).await;
        p.publish(publish("interop/go", "", QoS::AtLeastOnce, true)).await;
        s.disconnect(0, Properties::new()).await;
        p.disconnect(0, Properties::new()).await;
        wait_connections(&b, 0).await;
    }
    assert_eq!(b.stats().await.wills_published, 0);
}
