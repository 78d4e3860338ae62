//! The MQTT 5.0 Will Delay Interval (w) x Session Expiry Interval (s) x takeover decision table
//! (reference section 1.3, rows 1-14), one test per row, plus DISCONNECT changing the Session Expiry
//! Interval (3.14.2.2.2, MQTT-3.14.2-2). Every test has its own embedded broker and real sockets.
//!
//! Timing: arrival is measured with `tokio::time::Instant` from the fault instant (taken just before
//! the close / DISCONNECT / takeover CONNECT is sent). A Will must not arrive before the expected time
//! minus [`EARLY`] nor after the expected time plus [`LATE`]. Absence is proved with a ping barrier on
//! a live watcher after a window that covers max(w, s) plus slack, so each "no Will" could fail.
mod common;

use common::*;
use lwt_broker::codec::*;
use lwt_broker::Config;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

const V5: ProtocolVersion = ProtocolVersion::V5;
const TOPIC: &str = "clients/w/status";
/// Tolerance before the expected time (timers never fire early; this only absorbs measuring skew).
const EARLY: Duration = Duration::from_millis(50);
/// Tolerance after the expected time.
const LATE: Duration = Duration::from_millis(700);
/// Slack added to absence windows past the last moment a wrong Will could be due.
const SLACK: Duration = Duration::from_millis(300);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A 5.0 CONNECT for `id` with a QoS 1 Will on [`TOPIC`], Will Delay `w` and Session Expiry `s`
/// (`None` = property absent).
fn will_connect(id: &str, payload: &str, w: Option<u32>, s: Option<u32>) -> Connect {
    let mut wl = will(TOPIC, payload, QoS::AtLeastOnce, false);
    if let Some(w) = w {
        wl.properties.push(Property::WillDelayInterval(w));
    }
    let mut c = connect_with_will(V5, id, wl);
    if let Some(s) = s {
        c.properties.push(Property::SessionExpiryInterval(s));
    }
    c
}

/// A 5.0 CONNECT without a Will.
fn plain_connect(id: &str, clean_start: bool, s: Option<u32>) -> Connect {
    let mut c = connect(V5, id);
    c.clean_start = clean_start;
    if let Some(s) = s {
        c.properties.push(Property::SessionExpiryInterval(s));
    }
    c
}

/// S: subscribed to [`TOPIC`] at QoS 1.
async fn watcher(addr: SocketAddr) -> TestClient {
    let mut s = TestClient::connected(addr, connect(V5, "s")).await;
    s.subscribe(TOPIC, QoS::AtLeastOnce).await;
    s
}

/// Waits for the Will `payload` and checks it arrived `expected` after `t0`, within [-EARLY, +LATE].
async fn expect_will_at(s: &mut TestClient, t0: Instant, expected: Duration, payload: &str) -> Publish {
    let deadline = t0 + expected + LATE;
    let p = match s.recv(deadline.saturating_duration_since(Instant::now())).await {
        Recv::Packet(Packet::Publish(p)) => p,
        Recv::Timeout => panic!("no will within {:?} of the fault (expected at {expected:?})", expected + LATE),
        other => panic!("waiting for the will: got {other:?}"),
    };
    let at = t0.elapsed();
    s.ack(&p).await;
    assert_eq!((p.topic.as_str(), &p.payload[..]), (TOPIC, payload.as_bytes()), "unexpected message {p:?}");
    assert!(at + EARLY >= expected, "will arrived {at:?} after the fault: too early (expected {expected:?})");
    assert!(at <= expected + LATE, "will arrived {at:?} after the fault: too late (expected {expected:?})");
    p
}

/// Proves S receives nothing from now until `until` (+ ping barrier).
async fn assert_nothing_until(s: &mut TestClient, until: Instant) {
    let window = until.saturating_duration_since(Instant::now()).max(Duration::from_millis(50));
    s.assert_nothing_for(window).await;
}

// ------------------------------------------------------------------------------------------ rows

/// Row 1 (MQTT-3.1.2-8, 3.1.3.2.2 default 0): w=0, abrupt close (FIN) → Will at ≈Tc, even with a
/// persistent session (s=10), and only once.
#[tokio::test]
async fn row_01_no_will_delay_abrupt_close_will_at_once() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "r1", None, Some(10))).await;
    let t0 = Instant::now();
    w.close().await;
    expect_will_at(&mut s, t0, Duration::ZERO, "r1").await;
    s.assert_nothing_for(SLACK).await;
}

/// Row 2 (3.1.3.2.2 "or the Session ends, whichever happens first" + MQTT-3.1.2-23: s absent = 0, the
/// session ends at close): w=2, s absent, abrupt close → Will at ≈Tc, not after w (mosquitto #3505),
/// and no second Will when w elapses.
#[tokio::test]
async fn row_02_will_delay_without_session_expiry_will_at_once() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "r2", Some(2), None)).await;
    let t0 = Instant::now();
    w.close().await;
    expect_will_at(&mut s, t0, Duration::ZERO, "r2").await;
    assert_nothing_until(&mut s, t0 + secs(2) + SLACK).await;
}

/// Row 3 (MQTT-3.1.2-8, 3.1.3.2.2): 0<w<s (w=1, s=2), abrupt close (RST), no reconnect → Will at Tc+w,
/// and no second Will when the session ends at Tc+s.
#[tokio::test]
async fn row_03_will_delay_shorter_than_session_will_after_delay() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "r3", Some(1), Some(2))).await;
    let t0 = Instant::now();
    w.reset();
    expect_will_at(&mut s, t0, secs(1), "r3").await;
    assert_nothing_until(&mut s, t0 + secs(2) + SLACK).await;
}

/// Row 4 (3.1.3.2.2 "whichever happens first"; mosquitto #1401, EMQX t_session_expire_with_delayed_willmsg):
/// w≥s>0 (w=2, s=1), abrupt close → Will at Tc+s when the session ends; nothing more at Tc+w; the session
/// is gone (a Clean Start 0 reconnect gets Session Present 0).
#[tokio::test]
async fn row_04_will_delay_longer_than_session_will_at_session_end() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "r4", Some(2), Some(1))).await;
    let t0 = Instant::now();
    w.close().await;
    expect_will_at(&mut s, t0, secs(1), "r4").await;
    assert_nothing_until(&mut s, t0 + secs(2) + SLACK).await;
    let (_w, ack) = TestClient::connect(b.local_addr(), plain_connect("w", false, Some(10))).await;
    assert!(!ack.session_present, "the session must have expired at Tc+s");
}

/// Row 5 (MQTT-3.1.3-9; mosquitto 07-will-delay-recover, LabOverWire #154): w=2, s=10, abrupt close,
/// reconnect with Clean Start 0 at ~0.5 s (before w) → the old Will is never sent.
#[tokio::test]
async fn row_05_reconnect_clean_start_0_before_delay_cancels_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "r5", Some(2), Some(10))).await;
    let t0 = Instant::now();
    w.close().await;
    s.assert_nothing_for(Duration::from_millis(500)).await;
    let (_w, ack) = TestClient::connect(b.local_addr(), plain_connect("w", false, Some(10))).await;
    assert_eq!(ack.code, 0);
    assert!(ack.session_present, "the session must be resumed");
    assert_nothing_until(&mut s, t0 + secs(2) + SLACK).await;
}

/// Row 6 (3.1.3.2.2 + MQTT-3.1.2-8 "or the Session ends"; Clean Start 1 ends the old session, HiveMQ):
/// w=2, s=10, abrupt close, reconnect with Clean Start 1 at ~0.5 s → the old Will is sent at once on
/// that reconnect (not before it), and not again when w elapses.
#[tokio::test]
async fn row_06_reconnect_clean_start_1_before_delay_sends_will_at_once() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "r6", Some(2), Some(10))).await;
    let t0 = Instant::now();
    w.close().await;
    s.assert_nothing_for(Duration::from_millis(500)).await;
    let t1 = Instant::now();
    let (_w, ack) = TestClient::connect(b.local_addr(), plain_connect("w", true, Some(10))).await;
    assert_eq!(ack.code, 0);
    assert!(!ack.session_present);
    expect_will_at(&mut s, t1, Duration::ZERO, "r6").await;
    assert_nothing_until(&mut s, t0 + secs(2) + SLACK).await;
}

/// Row 7 (MQTT-3.1.2-10; mosquitto 2.0.6 duplicate fix): w=1, s=10, abrupt close → Will at Tc+w;
/// reconnect with Clean Start 0 after w, then drop again → no duplicate, ever.
#[tokio::test]
async fn row_07_reconnect_after_delay_no_duplicate_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "r7", Some(1), Some(10))).await;
    let t0 = Instant::now();
    w.close().await;
    expect_will_at(&mut s, t0, secs(1), "r7").await;
    let (w, ack) = TestClient::connect(b.local_addr(), plain_connect("w", false, Some(10))).await;
    assert!(ack.session_present, "the session outlives the will (s=10)");
    let t1 = Instant::now();
    w.close().await;
    assert_nothing_until(&mut s, t1 + secs(1) + SLACK).await;
}

/// Row 8 (MQTT-3.14.4-3, MQTT-3.1.2-10): w=1, s=2, DISCONNECT 0x00 → no Will, not at w, not at session end.
#[tokio::test]
async fn row_08_disconnect_0x00_no_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "r8", Some(1), Some(2))).await;
    let t0 = Instant::now();
    w.disconnect(reason::SUCCESS, Properties::new()).await;
    assert_nothing_until(&mut s, t0 + secs(2) + SLACK).await;
}

/// Row 9 (3.14.2.1 0x04 + 3.1.3.2.2; vernemq #1291, rmqtt #514): w=1, s=3, DISCONNECT 0x04 → the Will is
/// published, and the Will Delay still applies: at Tc+w.
#[tokio::test]
async fn row_09_disconnect_0x04_will_after_delay() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "r9", Some(1), Some(3))).await;
    let t0 = Instant::now();
    w.disconnect(reason::DISCONNECT_WITH_WILL, Properties::new()).await;
    expect_will_at(&mut s, t0, secs(1), "r9").await;
    s.assert_nothing_for(SLACK).await;
}

/// Row 10 (MQTT-3.1.3-9 + MQTT-3.1.4-3; EMQX t_takeover_before_session_expire): w=2, s=10, W still
/// connected, takeover with Clean Start 0 → W gets DISCONNECT 0x8E, and no Will (a new connection to
/// the session exists before w elapses).
#[tokio::test]
async fn row_10_takeover_clean_start_0_with_delay_no_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let mut w = TestClient::connected(b.local_addr(), will_connect("w", "r10", Some(2), Some(10))).await;
    let t0 = Instant::now();
    let (_w2, ack) = TestClient::connect(b.local_addr(), plain_connect("w", false, Some(10))).await;
    assert_eq!(ack.code, 0);
    assert!(ack.session_present);
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::SESSION_TAKEN_OVER));
    assert_nothing_until(&mut s, t0 + secs(2) + SLACK).await;
}

/// Row 11 (MQTT-3.1.4-3 "published as described in 3.1.2.5"; non-normative: w=0 → sent because the
/// connection closed; reference 2.8: mosquitto diverges): w=0, s=10, W connected, takeover with Clean
/// Start 0 → W gets 0x8E and the Will is sent at once.
#[tokio::test]
async fn row_11_takeover_clean_start_0_without_delay_will_at_once() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let mut w = TestClient::connected(b.local_addr(), will_connect("w", "r11", None, Some(10))).await;
    let t0 = Instant::now();
    let (_w2, ack) = TestClient::connect(b.local_addr(), plain_connect("w", false, Some(10))).await;
    assert!(ack.session_present);
    expect_will_at(&mut s, t0, Duration::ZERO, "r11").await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::SESSION_TAKEN_OVER));
    s.assert_nothing_for(SLACK).await;
}

/// Row 12 (MQTT-3.1.4-3 non-normative "new Clean Start 1 → sent because the Session ended"; EMQX
/// t_takeover_clean_session_with_delayed_willmsg): w=2, s=10, W connected, takeover with Clean Start 1
/// → the Will is sent at once, and not again when w elapses.
#[tokio::test]
async fn row_12_takeover_clean_start_1_will_at_once() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let mut w = TestClient::connected(b.local_addr(), will_connect("w", "r12", Some(2), Some(10))).await;
    let t0 = Instant::now();
    let (_w2, ack) = TestClient::connect(b.local_addr(), plain_connect("w", true, Some(10))).await;
    assert!(!ack.session_present);
    expect_will_at(&mut s, t0, Duration::ZERO, "r12").await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::SESSION_TAKEN_OVER));
    assert_nothing_until(&mut s, t0 + secs(2) + SLACK).await;
}

/// Row 13 (MQTT-3.1.4-3 non-normative "old SEI=0 → sent because the Session ended"; emqx #18565):
/// old s=0 (absent), w=2, takeover with Clean Start 0 → the Will is sent at once, no session resumed.
#[tokio::test]
async fn row_13_takeover_of_session_without_expiry_will_at_once() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let mut w = TestClient::connected(b.local_addr(), will_connect("w", "r13", Some(2), None)).await;
    let t0 = Instant::now();
    let (_w2, ack) = TestClient::connect(b.local_addr(), plain_connect("w", false, Some(10))).await;
    assert!(!ack.session_present, "the old session ended with its connection (s=0)");
    expect_will_at(&mut s, t0, Duration::ZERO, "r13").await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::SESSION_TAKEN_OVER));
    assert_nothing_until(&mut s, t0 + secs(2) + SLACK).await;
}

/// Row 14 (3.1.2.5 "MAY defer until a subsequent restart"; mosquitto will_delay__send_all): this
/// broker's store is in memory, so it takes the other permitted option and publishes every due and
/// pending Will at shutdown, before closing S with DISCONNECT 0x8B: the delayed Will of a closed W1
/// (w=30, s=60), the Will of a connected W2 (w=0) and of a connected W3 (w=30, s=60). W4's Will was
/// discarded by DISCONNECT 0x00 and must not appear.
#[tokio::test]
async fn row_14_broker_shutdown_publishes_pending_wills() {
    let b = broker().await;
    let addr = b.local_addr();
    let mut s = watcher(addr).await;
    let w1 = TestClient::connected(addr, will_connect("w1", "pending", Some(30), Some(60))).await;
    let _w2 = TestClient::connected(addr, will_connect("w2", "live-no-delay", None, Some(60))).await;
    let _w3 = TestClient::connected(addr, will_connect("w3", "live-delayed", Some(30), Some(60))).await;
    let w4 = TestClient::connected(addr, will_connect("w4", "discarded", Some(30), Some(60))).await;
    w1.close().await;
    w4.disconnect(reason::SUCCESS, Properties::new()).await;
    s.assert_nothing_for(SLACK).await; // W1's Will is pending, not sent
    let t0 = Instant::now();
    b.shutdown().await;
    let mut got = Vec::new();
    let disconnect = loop {
        match s.recv(LATE).await {
            Recv::Packet(Packet::Publish(p)) => {
                assert_eq!(p.topic, TOPIC);
                got.push(String::from_utf8_lossy(&p.payload).into_owned());
            }
            Recv::Packet(Packet::Disconnect(d)) => break d,
            other => panic!("at shutdown S expects wills then DISCONNECT 0x8B, got {other:?}"),
        }
    };
    assert!(t0.elapsed() <= LATE, "wills at shutdown took {:?}", t0.elapsed());
    assert_eq!(disconnect.reason, reason::SERVER_SHUTTING_DOWN);
    got.sort();
    assert_eq!(got, vec!["live-delayed", "live-no-delay", "pending"], "every will exactly once, not W4's");
}

// ------------------------------------------------------------------------------------------ DISCONNECT changes SEI

/// Row 9 with a new SEI (3.14.2.2.2 + 3.1.3.2.2; reference 1.2 "DISCONNECT 0x04 with SEI=0 → Will
/// immediately even if WDI is large"): CONNECT w=30, s=60; DISCONNECT 0x04 with SEI 0 ends the session at
/// close → Will at once.
#[tokio::test]
async fn disconnect_0x04_with_sei_0_will_at_once_despite_large_delay() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "sei0", Some(30), Some(60))).await;
    let t0 = Instant::now();
    w.disconnect(reason::DISCONNECT_WITH_WILL, Properties(vec![Property::SessionExpiryInterval(0)])).await;
    expect_will_at(&mut s, t0, Duration::ZERO, "sei0").await;
    s.assert_nothing_for(SLACK).await;
}

/// Row 9 with a lowered SEI (3.14.2.2.2: the DISCONNECT's SEI replaces the CONNECT's): CONNECT w=30,
/// s=60; DISCONNECT 0x04 with SEI 1 → the session now ends at Tc+1, so the Will comes at Tc+1.
#[tokio::test]
async fn disconnect_0x04_lowering_sei_will_at_new_session_end() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "sei1", Some(30), Some(60))).await;
    let t0 = Instant::now();
    w.disconnect(reason::DISCONNECT_WITH_WILL, Properties(vec![Property::SessionExpiryInterval(1)])).await;
    expect_will_at(&mut s, t0, secs(1), "sei1").await;
    s.assert_nothing_for(SLACK).await;
}

/// Rows 9 + 5 (MQTT-3.1.3-9 applies whatever ended the connection): w=2, s=10, DISCONNECT 0x04, then a
/// Clean Start 0 reconnect at ~0.5 s (before w) → the Will requested by 0x04 is cancelled, never sent.
#[tokio::test]
async fn disconnect_0x04_then_reconnect_within_delay_cancels_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "r9-cancelled", Some(2), Some(10))).await;
    let t0 = Instant::now();
    w.disconnect(reason::DISCONNECT_WITH_WILL, Properties::new()).await;
    s.assert_nothing_for(Duration::from_millis(500)).await;
    let (_w, ack) = TestClient::connect(b.local_addr(), plain_connect("w", false, Some(10))).await;
    assert!(ack.session_present);
    assert_nothing_until(&mut s, t0 + secs(2) + SLACK).await;
}

/// MQTT-3.14.2-2 (reference 1.2: "the DISCONNECT is not treated as valid", so the Will is not deleted):
/// CONNECT without SEI (0), then DISCONNECT 0x00 raising SEI to 60 → the broker sends DISCONNECT 0x82,
/// closes, and the Will fires (at once: w=30 but the session ends at close).
#[tokio::test]
async fn disconnect_raising_sei_from_0_is_protocol_error_and_will_fires() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let mut w = TestClient::connected(b.local_addr(), will_connect("w", "raised", Some(30), None)).await;
    let t0 = Instant::now();
    w.send(Packet::Disconnect(Disconnect { reason: 0, properties: Properties(vec![Property::SessionExpiryInterval(60)]) }))
        .await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::PROTOCOL_ERROR));
    expect_will_at(&mut s, t0, Duration::ZERO, "raised").await;
    s.assert_nothing_for(SLACK).await;
}

// ------------------------------------------------------------------------------------------ caps and limits

/// 3.1.3.2.2 with the broker's `max_will_delay` cap (reference section 4 item 7: WDI capping): w=30
/// capped to 1, s=60 → Will at Tc+1.
#[tokio::test]
async fn will_delay_capped_by_broker_limit() {
    let b = broker_with(Config { max_will_delay: Some(1), ..Config::default() }).await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "capped", Some(30), Some(60))).await;
    let t0 = Instant::now();
    w.close().await;
    expect_will_at(&mut s, t0, secs(1), "capped").await;
}

/// Row 3 with s = 0xFFFFFFFF (MQTT-3.1.2-23 text: "the Session does not expire"): w=1 → Will at Tc+1.
#[tokio::test]
async fn session_never_expiring_will_after_delay() {
    let b = broker().await;
    let mut s = watcher(b.local_addr()).await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "forever", Some(1), Some(u32::MAX))).await;
    let t0 = Instant::now();
    w.close().await;
    expect_will_at(&mut s, t0, secs(1), "forever").await;
    s.assert_nothing_for(SLACK).await;
}

/// Row 4 via the broker's Session Expiry cap (MQTT-3.2.2: the CONNACK Session Expiry Interval is the one
/// in force): s=60 capped to 1 (announced in CONNACK), w=30 → Will at Tc+1 when the session ends.
#[tokio::test]
async fn session_expiry_capped_by_broker_will_at_capped_session_end() {
    let b = broker_with(Config { session_expiry_max: 1, ..Config::default() }).await;
    let mut s = watcher(b.local_addr()).await;
    let (w, ack) = TestClient::connect(b.local_addr(), will_connect("w", "sei-capped", Some(30), Some(60))).await;
    assert_eq!(ack.code, 0);
    assert_eq!(ack.properties.session_expiry_interval(), Some(1), "CONNACK must announce the capped SEI");
    let t0 = Instant::now();
    w.close().await;
    expect_will_at(&mut s, t0, secs(1), "sei-capped").await;
}
