//! Crash-safe wills (`--data-dir`): the broker binary is killed with SIGKILL (or stopped with
//! SIGTERM) and started again with the same command; observers with persistent sessions then see
//! what survived. Exactly-once and never-resurrected checks end with a probe that came back.

mod common;

use common::*;
use lwt_broker::codec::*;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_lwt-broker");
const STATUS: &str = "clients/+/status";

/// The broker as its own process over a data directory.
struct Broker {
    child: Child,
    addr: SocketAddr,
}

impl Broker {
    fn start(data: &Path) -> Broker {
        let mut child = Command::new(BIN)
            .args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn lwt-broker");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().expect("a listening line").unwrap();
        let addr = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}")).parse().unwrap();
        Broker { child, addr }
    }
    /// SIGKILL: no shutdown code runs.
    fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
    /// SIGTERM and wait for the exit.
    fn stop(mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn persistent(id: &str, clean_start: bool) -> Connect {
    let mut c = connect(ProtocolVersion::V5, id);
    c.clean_start = clean_start;
    c.properties.push(Property::SessionExpiryInterval(3600));
    c
}

/// An observer with a persistent session subscribed to `filter` at QoS 1, disconnected normally.
async fn observer_session(addr: SocketAddr, id: &str, filter: &str) {
    let mut o = TestClient::connected(addr, persistent(id, true)).await;
    o.subscribe(filter, QoS::AtLeastOnce).await;
    o.disconnect(0, Properties::new()).await;
}

/// The observer back on its session: Session Present must be 1 (else the state did not survive).
async fn resume(addr: SocketAddr, id: &str) -> TestClient {
    let (o, ack) = TestClient::connect(addr, persistent(id, false)).await;
    assert_eq!((ack.code, ack.session_present), (0, true), "{id}'s session survived the restart");
    o
}

fn v5_will(id: &str, delay: u32, expiry: u32) -> Connect {
    let mut c = connect_with_will(ProtocolVersion::V5, id, will(&format!("clients/{id}/status"), "offline", QoS::AtLeastOnce, false));
    c.properties.push(Property::SessionExpiryInterval(expiry));
    if delay > 0 {
        c.will.as_mut().unwrap().properties.push(Property::WillDelayInterval(delay));
    }
    c
}

/// Receives PUBLISHes until `probe` comes back; gives the payloads of the others (the probe proves
/// the observer was live until then, so nothing missing is still on its way).
async fn until_probe(o: &mut TestClient, probe: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let p = o.expect_publish_within(Duration::from_secs(5)).await;
        let payload = String::from_utf8_lossy(&p.payload).into_owned();
        if payload == probe {
            return got;
        }
        got.push(format!("{}={payload}", p.topic));
    }
}

async fn probe(addr: SocketAddr, name: &str) -> String {
    let nonce = format!("probe-{name}-{}", std::process::id());
    let mut p = TestClient::connected(addr, connect(ProtocolVersion::V5, &format!("prober-{name}"))).await;
    p.publish(publish("clients/probe/status", &nonce, QoS::AtLeastOnce, false)).await;
    p.disconnect(0, Properties::new()).await;
    nonce
}

#[tokio::test]
async fn wills_of_connections_live_at_a_crash_come_after_restart_exactly_once_and_deleted_ones_never() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(dir.path());
    observer_session(b.addr, "obs", STATUS).await;
    let _a = TestClient::connected(b.addr, v5_will("a", 0, 0)).await;
    let _b = TestClient::connected(b.addr, connect_with_will(ProtocolVersion::V311, "b", will("clients/b/status", "offline", QoS::AtLeastOnce, false))).await;
    let gone = TestClient::connected(b.addr, v5_will("gone", 0, 0)).await;
    gone.disconnect(0, Properties::new()).await; // DISCONNECT 0x00 deletes the will
    b.crash();

    let b = Broker::start(dir.path());
    let mut o = resume(b.addr, "obs").await;
    let nonce = probe(b.addr, "1").await;
    let mut got = until_probe(&mut o, &nonce).await;
    got.sort();
    assert_eq!(got, ["clients/a/status=offline", "clients/b/status=offline"], "each live connection's will, once");
    o.disconnect(0, Properties::new()).await;
    b.crash();

    // Delivered and acknowledged before the second crash: never again.
    let b = Broker::start(dir.path());
    let mut o = resume(b.addr, "obs").await;
    let nonce = probe(b.addr, "2").await;
    assert_eq!(until_probe(&mut o, &nonce).await, Vec::<String>::new(), "no will resurrected");
}

#[tokio::test]
async fn a_delayed_will_pending_at_a_crash_fires_at_its_original_instant() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(dir.path());
    observer_session(b.addr, "obs", STATUS).await;
    let s = TestClient::connected(b.addr, v5_will("late", 3, 60)).await;
    s.close().await; // FIN: will due in 3 s
    let closed = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.crash();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let b = Broker::start(dir.path());
    let mut o = resume(b.addr, "obs").await;
    let p = o.expect_publish_within(Duration::from_secs(6)).await;
    let at = closed.elapsed();
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("clients/late/status", &b"offline"[..]));
    // Due 3 s after the close, not 3 s after the restart (which would be ~4.5 s).
    assert!(at >= Duration::from_millis(2900) && at < Duration::from_millis(4000), "will came {at:?} after the close");
    let nonce = probe(b.addr, "3").await;
    assert_eq!(until_probe(&mut o, &nonce).await, Vec::<String>::new(), "the will came once");
}

#[tokio::test]
async fn a_clean_stop_keeps_a_delayed_will_for_its_due_time_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(dir.path());
    observer_session(b.addr, "obs", STATUS).await;
    let _s = TestClient::connected(b.addr, v5_will("slow", 4, 60)).await;
    let stopped = Instant::now();
    b.stop(); // server shutdown ends the connection: the will is scheduled, not hurried
    let b = Broker::start(dir.path());
    let mut o = resume(b.addr, "obs").await;
    let p = o.expect_publish_within(Duration::from_secs(7)).await;
    assert_eq!(p.topic, "clients/slow/status");
    assert!(stopped.elapsed() >= Duration::from_millis(3900), "will came {:?} after the stop", stopped.elapsed());
}

#[tokio::test]
async fn a_connack_and_a_puback_mean_the_state_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(dir.path());
    observer_session(b.addr, "obs", "#").await;
    let mut live = Vec::new();
    for i in 0..20 {
        live.push(TestClient::connected(b.addr, v5_will(&format!("c{i}"), 0, 0)).await);
    }
    let mut p = TestClient::connected(b.addr, connect(ProtocolVersion::V5, "pub")).await;
    p.publish(publish("data/1", "acked", QoS::AtLeastOnce, false)).await;
    b.crash(); // at once after the last CONNACK and the PUBACK

    let b = Broker::start(dir.path());
    let mut o = resume(b.addr, "obs").await;
    let nonce = probe(b.addr, "4").await;
    let mut got = until_probe(&mut o, &nonce).await;
    got.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("clients/c{i}/status=offline")).collect();
    want.push("data/1=acked".into());
    want.sort();
    assert_eq!(got, want, "every acknowledged message and every CONNACKed connection's will");
    drop(live);
}

#[tokio::test]
async fn a_shared_subscription_survives_and_its_group_gets_the_will_once() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(dir.path());
    observer_session(b.addr, "m1", "$share/g/clients/+/status").await;
    observer_session(b.addr, "m2", "$share/g/clients/+/status").await;
    let _s = TestClient::connected(b.addr, v5_will("sh", 0, 0)).await;
    b.crash();
    let b = Broker::start(dir.path());
    let mut m1 = resume(b.addr, "m1").await;
    let mut m2 = resume(b.addr, "m2").await;
    let mut wills = drain(&mut m1, Duration::from_millis(1500)).await;
    wills.extend(drain(&mut m2, Duration::from_millis(500)).await);
    assert_eq!(wills, ["clients/sh/status=offline"], "one copy for the group");
}

/// Everything that arrives within `window` (acknowledged), then a PINGREQ whose PINGRESP proves the
/// connection was live throughout.
async fn drain(o: &mut TestClient, window: Duration) -> Vec<String> {
    let deadline = Instant::now() + window;
    let mut got = Vec::new();
    loop {
        match o.recv(deadline.saturating_duration_since(Instant::now())).await {
            Recv::Packet(Packet::Publish(p)) => {
                o.ack(&p).await;
                got.push(format!("{}={}", p.topic, String::from_utf8_lossy(&p.payload)));
            }
            Recv::Timeout => break,
            other => panic!("expected PUBLISH or nothing, got {other:?}"),
        }
    }
    o.assert_nothing_for(Duration::ZERO).await;
    got
}
