//! MQTT 5.0 Will rules (reference sections 1.2 and 1.4), one small test per behaviour, each through a
//! real socket against its own embedded broker. W is the client with the Will, S a watcher subscribed
//! before the fault, N a subscriber that arrives afterwards. Absence is always proved with
//! `assert_nothing_for` (a ping barrier on a live observer), never by a bare timeout.
//!
//! Timing of Will Delay / Session Expiry interplay lives in `v5_will_delay_table.rs`.
mod common;

use bytes::Bytes;
use common::*;
use lwt_broker::codec::raw::{RawPacket, CONNECT_FLAGS_OFFSET};
use lwt_broker::codec::*;
use lwt_broker::Config;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

const V5: ProtocolVersion = ProtocolVersion::V5;
/// Will topic used everywhere (each test has its own broker).
const TOPIC: &str = "clients/w/status";
/// Absence window for Wills that, if they were wrongly sent, would be sent at once (no delay in play).
const SLACK: Duration = Duration::from_millis(400);

// ------------------------------------------------------------------------------------------ helpers

/// S: a 5.0 client subscribed to `filter` at `qos`.
async fn watcher(addr: SocketAddr, id: &str, filter: &str, qos: QoS) -> TestClient {
    let mut s = TestClient::connected(addr, connect(V5, id)).await;
    s.subscribe(filter, qos).await;
    s
}

/// A 5.0 Will on [`TOPIC`] with `props`.
fn will5(payload: &str, qos: QoS, retain: bool, props: Vec<Property>) -> Will {
    let mut w = will(TOPIC, payload, qos, retain);
    w.properties = Properties(props);
    w
}

/// A 5.0 CONNECT for `id` carrying `w`.
fn with_will(id: &str, w: Will) -> Connect {
    connect_with_will(V5, id, w)
}

/// W: connected (CONNACK 0) with `w`.
async fn will_client(addr: SocketAddr, id: &str, w: Will) -> TestClient {
    TestClient::connected(addr, with_will(id, w)).await
}

/// Asserts `p` is the Will `payload` on [`TOPIC`].
fn assert_will(p: &Publish, payload: &[u8]) {
    assert_eq!(p.topic, TOPIC, "will topic: {p:?}");
    assert_eq!(&p.payload[..], payload, "will payload: {p:?}");
}

/// Sends raw CONNECT bytes and returns the client and the CONNACK code (`None`: closed without one).
async fn connect_raw(addr: SocketAddr, bytes: &[u8]) -> (TestClient, Option<ConnAck>) {
    let mut t = TestClient::open(addr, V5).await;
    t.send_raw(bytes).await;
    match t.recv(WAIT).await {
        Recv::Packet(Packet::ConnAck(a)) => (t, Some(a)),
        Recv::Closed(_) => (t, None),
        other => panic!("expected CONNACK or close, got {other:?}"),
    }
}

/// A refused CONNECT: CONNACK with `code` and Session Present 0 (MQTT-3.2.2-6), then the broker closes
/// without sending anything else (MQTT-3.2.2-7, MQTT-3.1.4-6).
async fn expect_refused(mut t: TestClient, ack: Option<ConnAck>, code: u8) {
    let ack = ack.unwrap_or_else(|| panic!("expected CONNACK {code:#04x}, the broker closed without one"));
    assert_eq!(ack.code, code, "CONNACK code: {ack:?}");
    assert!(!ack.session_present, "a refusing CONNACK has Session Present 0 (MQTT-3.2.2-6)");
    match t.recv(WAIT).await {
        Recv::Closed(_) => {}
        other => panic!("after CONNACK {code:#04x} the broker must close, got {other:?}"),
    }
}

/// CONNECT bytes for `c`, as a raw packet to patch.
fn raw_connect(c: &Connect) -> RawPacket {
    RawPacket::from_packet(&Packet::Connect(c.clone()), V5)
}

/// Offset of `needle` in `body` (it must occur exactly once).
fn find(body: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = body.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect();
    assert_eq!(hits.len(), 1, "marker {needle:?} must occur once in the packet");
    hits[0]
}

/// A rejected CONNECT's Will must never reach S: S stays silent past the window, proved by a ping barrier.
async fn assert_no_will(s: &mut TestClient) {
    s.assert_nothing_for(SLACK).await;
}

// ------------------------------------------------------------------------------------------ triggers

/// MQTT-3.1.2-8: the client closes the network connection (FIN) without DISCONNECT → the Will is published.
#[tokio::test]
async fn will_published_on_fin() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let w = will_client(b.local_addr(), "w", will5("gone", QoS::AtLeastOnce, false, vec![])).await;
    w.close().await;
    let p = s.expect_publish().await;
    assert_will(&p, b"gone");
    assert_eq!(p.qos, QoS::AtLeastOnce);
    s.assert_nothing_for(SLACK).await; // exactly once
}

/// MQTT-3.1.2-8 (I/O error): the connection is reset (RST, SO_LINGER 0) → the Will is published.
#[tokio::test]
async fn will_published_on_rst() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let w = will_client(b.local_addr(), "w", will5("reset", QoS::AtLeastOnce, false, vec![])).await;
    w.reset();
    assert_will(&s.expect_publish().await, b"reset");
    s.assert_nothing_for(SLACK).await;
}

/// MQTT-3.1.2-22 (1.5 x Keep Alive) + 4.13 / 3.14 (server DISCONNECT 0x8D): W keeps the socket open
/// but silent after its last packet; the Will arrives no earlier than 1.5 x KA after that packet and
/// not much later (upper bound 1.5 s + 500 ms); W itself gets DISCONNECT 0x8D.
#[tokio::test]
async fn will_published_on_keep_alive_expiry_at_one_and_a_half_keep_alive() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut c = with_will("w", will5("silent", QoS::AtLeastOnce, false, vec![]));
    c.keep_alive = 1;
    let mut w = TestClient::connected(b.local_addr(), c).await;
    // Last packet from W: a PINGREQ. The broker reads it after `last`, so its deadline is later.
    let last = Instant::now();
    w.send(Packet::PingReq).await;
    assert!(matches!(w.next().await, Packet::PingResp));
    let answered = Instant::now();
    let p = s.expect_publish_within(Duration::from_secs(4)).await;
    let arrived = Instant::now();
    assert_will(&p, b"silent");
    assert!(
        arrived - last >= Duration::from_millis(1500),
        "will after {:?}: earlier than 1.5 x keep-alive after W's last packet",
        arrived - last
    );
    assert!(
        arrived - answered <= Duration::from_millis(2000),
        "will {:?} after the last PINGRESP: later than 1.5 x keep-alive + 500 ms",
        arrived - answered
    );
    let d = w.expect_closed().await.expect("server sends DISCONNECT before closing a 5.0 client");
    assert_eq!(d.reason, reason::KEEP_ALIVE_TIMEOUT);
    s.assert_nothing_for(SLACK).await;
}

/// MQTT-3.1.2-22 control run: W pinging every 0.9 x KA is never timed out (no Will while it pings),
/// then it goes silent and the Will follows, so the quiet phase above could have failed.
#[tokio::test]
async fn no_will_while_pinging_within_keep_alive() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut c = with_will("w", will5("silent", QoS::AtLeastOnce, false, vec![]));
    c.keep_alive = 1;
    let mut w = TestClient::connected(b.local_addr(), c).await;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        w.send(Packet::PingReq).await;
        assert!(matches!(w.next().await, Packet::PingResp), "W must still be connected");
    }
    // 1.8 s have passed, more than 1.5 x KA: any premature timeout would have published by now.
    s.assert_nothing_for(Duration::from_millis(100)).await;
    let p = s.expect_publish_within(Duration::from_secs(3)).await;
    assert_will(&p, b"silent");
}

/// MQTT-3.1.2-22 + MQTT-3.2.2-21/-22: with a Server Keep Alive in CONNACK, that value (not the
/// client's) is the base of the 1.5 x rule.
#[tokio::test]
async fn keep_alive_timeout_uses_server_keep_alive() {
    let b = broker_with(Config { keep_alive_max: 1, ..Config::default() }).await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let c = with_will("w", will5("silent", QoS::AtLeastOnce, false, vec![])); // asks for KA 60
    let sent = Instant::now();
    let (mut w, ack) = TestClient::connect(b.local_addr(), c).await;
    assert_eq!(ack.code, 0);
    assert_eq!(ack.properties.server_keep_alive(), Some(1), "CONNACK must announce Server Keep Alive 1");
    // S is held to Server Keep Alive 1 as well, so it keeps pinging while it waits.
    let deadline = sent + Duration::from_secs(4);
    let p = loop {
        match s.recv(Duration::from_millis(300)).await {
            Recv::Packet(Packet::Publish(p)) => break p,
            Recv::Packet(Packet::PingResp) => {}
            Recv::Timeout if Instant::now() < deadline => s.send(Packet::PingReq).await,
            other => panic!("S waiting for the will: got {other:?}"),
        }
    };
    let at = sent.elapsed();
    assert_will(&p, b"silent");
    assert!(at >= Duration::from_millis(1500) && at <= Duration::from_millis(2000), "will after {at:?}, want 1.5 s..2.0 s");
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::KEEP_ALIVE_TIMEOUT));
}

/// MQTT-3.1.2-8 ("Server closes the Network Connection because of a protocol error") + MQTT-4.13.1-1:
/// a second CONNECT after CONNACK is a Protocol Error; the broker sends DISCONNECT 0x82, closes, and
/// the Will is published (mosquitto #2554).
#[tokio::test]
async fn will_published_on_second_connect() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("proto", QoS::AtLeastOnce, false, vec![])).await;
    w.send(Packet::Connect(connect(V5, "w"))).await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::PROTOCOL_ERROR));
    assert_will(&s.expect_publish().await, b"proto");
    s.assert_nothing_for(SLACK).await;
}

/// MQTT-3.1.2-8 + MQTT-4.13.1-1 (malformed → close): a reserved packet type (0) after CONNACK, sent as
/// raw bytes; the broker answers DISCONNECT 0x81, closes, and the Will is published.
#[tokio::test]
async fn will_published_on_reserved_packet_type() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("reserved", QoS::AtLeastOnce, false, vec![])).await;
    w.send_raw(&RawPacket::new(0, 0, Vec::new()).to_bytes()).await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::MALFORMED_PACKET));
    assert_will(&s.expect_publish().await, b"reserved");
}

/// MQTT-3.1.2-8 + MQTT-4.13.1-1: a malformed packet after CONNACK (PUBLISH with QoS 3, MQTT-3.3.1-4)
/// → DISCONNECT 0x81, close, Will published.
#[tokio::test]
async fn will_published_on_malformed_packet() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("malformed", QoS::AtLeastOnce, false, vec![])).await;
    let mut p = publish("a/b", "x", QoS::AtLeastOnce, false);
    p.packet_id = Some(1);
    w.send_raw(&RawPacket::from_packet(&Packet::Publish(p), V5).flags(0b0110).to_bytes()).await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::MALFORMED_PACKET));
    assert_will(&s.expect_publish().await, b"malformed");
}

/// MQTT-3.1.2-8 + MQTT-3.1.4-3 + 1.4 ("every server-sent DISCONNECT means the Will is due"): a
/// takeover sends DISCONNECT 0x8E to the old connection, closes it, and (WDI 0) publishes its Will.
#[tokio::test]
async fn will_published_on_takeover_with_disconnect_0x8e() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w1 = will_client(b.local_addr(), "w", will5("taken", QoS::AtLeastOnce, false, vec![])).await;
    let _w2 = TestClient::connected(b.local_addr(), connect(V5, "w")).await;
    assert_eq!(w1.expect_closed().await.map(|d| d.reason), Some(reason::SESSION_TAKEN_OVER));
    assert_will(&s.expect_publish().await, b"taken");
    s.assert_nothing_for(SLACK).await;
}

/// 1.4 (server DISCONNECT) : a PUBLISH above the announced Maximum QoS makes the broker send DISCONNECT
/// 0x9B (MQTT-3.2.2-11 family); the connection ended without a client DISCONNECT 0x00, so the Will fires.
#[tokio::test]
async fn will_published_when_server_disconnects_for_qos_not_supported() {
    let b = broker_with(Config { max_qos: 1, ..Config::default() }).await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("kicked", QoS::AtLeastOnce, false, vec![])).await;
    let mut p = publish("a/b", "x", QoS::ExactlyOnce, false);
    p.packet_id = Some(1);
    w.send(Packet::Publish(p)).await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::QOS_NOT_SUPPORTED));
    assert_will(&s.expect_publish().await, b"kicked");
}

/// MQTT-3.1.2-12 (5.0 numbering of "no Will Flag → no Will"): a client without a Will that drops
/// publishes nothing.
#[tokio::test]
async fn no_will_flag_nothing_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    let w = TestClient::connected(b.local_addr(), connect(V5, "w")).await;
    w.close().await;
    s.assert_nothing_for(SLACK).await;
}

/// 1.4 (server DISCONNECT 0x95) + MQTT-4.13.1-1: a packet above the broker's Maximum Packet Size makes
/// the broker send DISCONNECT 0x95 and close; that is not a client DISCONNECT 0x00, so the Will fires.
#[tokio::test]
async fn will_published_when_server_disconnects_for_packet_too_large() {
    let b = broker_with(Config { max_packet_size: 128, ..Config::default() }).await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("too-large", QoS::AtLeastOnce, false, vec![])).await;
    w.send(Packet::Publish(publish("a/b", &"x".repeat(500), QoS::AtMostOnce, false))).await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::PACKET_TOO_LARGE));
    assert_will(&s.expect_publish().await, b"too-large");
}

// ------------------------------------------------------------------------------------------ DISCONNECT

/// 3.14.2.1 (0x04 "Disconnect with Will Message") + MQTT-3.1.2-8: the Will is published.
#[tokio::test]
async fn disconnect_0x04_publishes_the_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let w = will_client(b.local_addr(), "w", will5("bye-with-will", QoS::AtLeastOnce, false, vec![])).await;
    w.disconnect(reason::DISCONNECT_WITH_WILL, Properties::new()).await;
    assert_will(&s.expect_publish().await, b"bye-with-will");
    s.assert_nothing_for(SLACK).await;
}

/// MQTT-3.1.2-8 / MQTT-3.1.2-10 (only 0x00 deletes the Will; HiveMQ PR #118): DISCONNECT with another
/// valid non-zero code (0x80 Unspecified error) publishes the Will.
#[tokio::test]
async fn disconnect_0x80_publishes_the_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let w = will_client(b.local_addr(), "w", will5("error", QoS::AtLeastOnce, false, vec![])).await;
    w.disconnect(reason::UNSPECIFIED_ERROR, Properties::new()).await;
    assert_will(&s.expect_publish().await, b"error");
}

/// MQTT-3.14.2-1 + MQTT-4.13.1-1 (mosquitto #3743, vernemq #2553, nanomq #2442): a DISCONNECT with a
/// reason code outside the table (0xFF) is malformed, so it is not a DISCONNECT 0x00: the broker
/// closes (with DISCONNECT 0x81) and the Will is published.
#[tokio::test]
async fn disconnect_with_invalid_reason_0xff_publishes_the_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("invalid-code", QoS::AtLeastOnce, false, vec![])).await;
    w.send(Packet::Disconnect(Disconnect::new(0xFF))).await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::MALFORMED_PACKET));
    assert_will(&s.expect_publish().await, b"invalid-code");
}

/// MQTT-2.1.3-1 + MQTT-4.13.1-1: a DISCONNECT 0x00 with reserved fixed-header flags set (0xE1) is
/// malformed, hence not a normal disconnection: the Will is published.
#[tokio::test]
async fn disconnect_with_reserved_header_flags_publishes_the_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("bad-flags", QoS::AtLeastOnce, false, vec![])).await;
    w.send_raw(&[0xE1, 0x00]).await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::MALFORMED_PACKET));
    assert_will(&s.expect_publish().await, b"bad-flags");
}

/// 3.14.2.2 + MQTT-4.13.1-1: DISCONNECT 0x00 carrying a property DISCONNECT may not carry (Will Delay
/// Interval 0x18) is malformed, so the Will is NOT discarded: it is published.
#[tokio::test]
async fn disconnect_0x00_with_forbidden_property_publishes_the_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("bad-prop", QoS::AtLeastOnce, false, vec![])).await;
    // E0, len 7, reason 0, property length 5, 0x18 + u32.
    w.send_raw(&[0xE0, 0x07, 0x00, 0x05, 0x18, 0, 0, 0, 1]).await;
    assert_eq!(w.expect_closed().await.map(|d| d.reason), Some(reason::MALFORMED_PACKET));
    assert_will(&s.expect_publish().await, b"bad-prop");
}

/// Sends `bytes` (a DISCONNECT 0x00 in some encoding), FIN, and checks the broker closes without a
/// DISCONNECT of its own and that no Will reaches S.
async fn normal_disconnect_discards_will(bytes: &[u8]) {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("must-not-appear", QoS::AtLeastOnce, false, vec![])).await;
    w.send_raw(bytes).await;
    let _ = w.conn.shutdown().await;
    assert_eq!(w.expect_closed().await, None, "no server DISCONNECT after a client DISCONNECT 0x00");
    s.assert_nothing_for(SLACK).await;
}

/// MQTT-3.14.4-3 / MQTT-3.1.2-10: DISCONNECT 0x00 in its shortest form (Remaining Length 0) discards the Will.
#[tokio::test]
async fn disconnect_0x00_remaining_length_0_discards_will() {
    normal_disconnect_discards_will(&[0xE0, 0x00]).await;
}

/// MQTT-3.14.4-3: DISCONNECT 0x00 with Remaining Length 1 (reason byte, no property length) discards the Will.
#[tokio::test]
async fn disconnect_0x00_remaining_length_1_discards_will() {
    normal_disconnect_discards_will(&[0xE0, 0x01, 0x00]).await;
}

/// MQTT-3.14.4-3: DISCONNECT 0x00 with Remaining Length 2 (reason byte + empty property length) discards the Will.
#[tokio::test]
async fn disconnect_0x00_remaining_length_2_discards_will() {
    normal_disconnect_discards_will(&[0xE0, 0x02, 0x00, 0x00]).await;
}

/// MQTT-3.14.4-3: DISCONNECT 0x00 with a User Property (Remaining Length > 2) discards the Will.
#[tokio::test]
async fn disconnect_0x00_with_user_property_discards_will() {
    let d = Disconnect { reason: 0, properties: Properties(vec![Property::UserProperty("why".into(), "done".into())]) };
    let bytes = Packet::Disconnect(d).to_bytes(V5);
    assert!(bytes.len() > 4);
    normal_disconnect_discards_will(&bytes).await;
}

/// MQTT-3.14.4-3 for a persistent session (mosquitto #1273): DISCONNECT 0x00 from a session with SEI > 0
/// discards the Will, and resuming the session later does not bring it back.
#[tokio::test]
async fn disconnect_0x00_persistent_session_will_never_sent() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut c = with_will("w", will5("must-not-appear", QoS::AtLeastOnce, false, vec![]));
    c.properties.push(Property::SessionExpiryInterval(60));
    let w = TestClient::connected(b.local_addr(), c).await;
    w.disconnect(0, Properties::new()).await;
    let mut c = connect(V5, "w");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(60));
    let (w, ack) = TestClient::connect(b.local_addr(), c).await;
    assert!(ack.session_present);
    w.close().await;
    s.assert_nothing_for(SLACK).await;
}

/// MQTT-3.14.4-3 with the mosquitto #7 / tbmq PR #314 race: PUBLISH and DISCONNECT 0x00 written
/// back-to-back in one segment, then FIN → the PUBLISH is delivered and the DISCONNECT still discards
/// the Will (no spurious Will).
#[tokio::test]
async fn publish_and_disconnect_back_to_back_no_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("spurious", QoS::AtLeastOnce, false, vec![])).await;
    let mut bytes = Packet::Publish(publish(TOPIC, "last-words", QoS::AtMostOnce, false)).to_bytes(V5).to_vec();
    bytes.extend_from_slice(&[0xE0, 0x00]);
    w.send_raw(&bytes).await;
    let _ = w.conn.shutdown().await;
    assert_eq!(w.expect_closed().await, None);
    assert_eq!(&s.expect_publish().await.payload[..], b"last-words");
    s.assert_nothing_for(SLACK).await;
}

/// MQTT-4.6.0-5/-6 (ordering; reference 1.1 "status" interpretation): W publishes "online" on the Will
/// topic and drops; S sees "online" before the Will, never the other way round.
#[tokio::test]
async fn will_follows_the_clients_last_publish_in_order() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("offline", QoS::AtLeastOnce, false, vec![])).await;
    let mut p = publish(TOPIC, "online", QoS::AtLeastOnce, false);
    p.packet_id = Some(1);
    w.send(Packet::Publish(p)).await; // no wait for PUBACK: the close races the PUBLISH
    w.close().await;
    assert_eq!(&s.expect_publish().await.payload[..], b"online");
    assert_will(&s.expect_publish().await, b"offline");
}

// ------------------------------------------------------------------------------------------ QoS, retain

/// MQTT-3.1.2-8 with MQTT-3.8.4-8 (delivered QoS = min(published, granted)): a QoS 1 Will reaches a QoS
/// 0 subscriber at QoS 0 and a QoS 2 subscriber at QoS 1.
#[tokio::test]
async fn will_qos1_delivered_at_min_of_subscription_qos() {
    let b = broker().await;
    let mut s0 = watcher(b.local_addr(), "s0", TOPIC, QoS::AtMostOnce).await;
    let mut s2 = watcher(b.local_addr(), "s2", TOPIC, QoS::ExactlyOnce).await;
    let w = will_client(b.local_addr(), "w", will5("q1", QoS::AtLeastOnce, false, vec![])).await;
    w.close().await;
    let p0 = s0.expect_publish().await;
    let p2 = s2.expect_publish().await;
    assert_will(&p0, b"q1");
    assert_will(&p2, b"q1");
    assert_eq!(p0.qos, QoS::AtMostOnce);
    assert_eq!(p2.qos, QoS::AtLeastOnce);
    s0.assert_nothing_for(SLACK).await;
    s2.assert_nothing_for(Duration::from_millis(50)).await;
}

/// MQTT-3.1.2-8 + MQTT-3.8.4-8, and exactly once at QoS 2 (aedes #109): a QoS 2 Will reaches a QoS 1
/// subscriber at QoS 1 and a QoS 2 subscriber at QoS 2, once each.
#[tokio::test]
async fn will_qos2_delivered_at_min_of_subscription_qos_once() {
    let b = broker().await;
    let mut s1 = watcher(b.local_addr(), "s1", TOPIC, QoS::AtLeastOnce).await;
    let mut s2 = watcher(b.local_addr(), "s2", TOPIC, QoS::ExactlyOnce).await;
    let w = will_client(b.local_addr(), "w", will5("q2", QoS::ExactlyOnce, false, vec![])).await;
    w.close().await;
    let p1 = s1.expect_publish().await;
    let p2 = s2.expect_publish().await; // completes PUBREC/PUBREL/PUBCOMP
    assert_eq!((p1.qos, p2.qos), (QoS::AtLeastOnce, QoS::ExactlyOnce));
    assert_will(&p1, b"q2");
    assert_will(&p2, b"q2");
    s2.assert_nothing_for(SLACK).await;
    s1.assert_nothing_for(Duration::from_millis(50)).await;
}

/// MQTT-3.1.2-15 + MQTT-3.3.1-5 (stored) / MQTT-3.3.1-9 (sent on a new subscription): a Will with Retain 1 is stored
/// as retained, so N subscribing afterwards gets it with RETAIN=1.
#[tokio::test]
async fn will_retain_late_subscriber_gets_retained_copy() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let w = will_client(b.local_addr(), "w", will5("offline", QoS::AtLeastOnce, true, vec![])).await;
    w.close().await;
    s.expect_publish().await; // it fired
    let mut n = watcher(b.local_addr(), "n", TOPIC, QoS::AtLeastOnce).await;
    let p = n.expect_publish().await;
    assert_will(&p, b"offline");
    assert!(p.retain, "retained copy for a new subscription carries RETAIN=1");
}

/// MQTT-3.1.2-15 + MQTT-3.3.1-12: S subscribed beforehand without Retain As Published sees RETAIN=0
/// on the live Will.
#[tokio::test]
async fn will_retain_watcher_without_rap_sees_retain_0() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let w = will_client(b.local_addr(), "w", will5("offline", QoS::AtLeastOnce, true, vec![])).await;
    w.close().await;
    let p = s.expect_publish().await;
    assert_will(&p, b"offline");
    assert!(!p.retain, "RAP=0: RETAIN must be 0 on a live delivery");
}

/// MQTT-3.1.2-15 + MQTT-3.3.1-13 (EMQX t_connect_will_retain): S subscribed with Retain As Published=1
/// sees RETAIN=1 on the live Will.
#[tokio::test]
async fn will_retain_watcher_with_rap_sees_retain_1() {
    let b = broker().await;
    let mut s = TestClient::connected(b.local_addr(), connect(V5, "s")).await;
    let opts = SubOptions { qos: QoS::AtLeastOnce, retain_as_published: true, ..Default::default() };
    assert_eq!(s.subscribe_with(TOPIC, opts, Properties::new()).await, vec![1]);
    let w = will_client(b.local_addr(), "w", will5("offline", QoS::AtLeastOnce, true, vec![])).await;
    w.close().await;
    let p = s.expect_publish().await;
    assert_will(&p, b"offline");
    assert!(p.retain, "RAP=1: RETAIN must be kept as published");
}

/// MQTT-3.1.2-14: a Will with Retain 0 is not retained: N subscribing afterwards gets nothing.
#[tokio::test]
async fn will_without_retain_is_not_retained() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let w = will_client(b.local_addr(), "w", will5("offline", QoS::AtLeastOnce, false, vec![])).await;
    w.close().await;
    s.expect_publish().await;
    let mut n = watcher(b.local_addr(), "n", TOPIC, QoS::AtLeastOnce).await;
    n.assert_nothing_for(SLACK).await;
}

/// MQTT-3.1.2-15 + MQTT-3.3.1-6/-7: a retained Will with an empty payload clears the retained
/// message of its topic (it is still delivered to S, with an empty payload).
#[tokio::test]
async fn empty_retained_will_clears_retained_message() {
    let b = broker().await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    p.publish(publish(TOPIC, "online", QoS::AtLeastOnce, true)).await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let r = s.expect_publish().await;
    assert!(r.retain && &r.payload[..] == b"online", "control: 'online' is retained first: {r:?}");
    let w = will_client(b.local_addr(), "w", will5("", QoS::AtLeastOnce, true, vec![])).await;
    w.close().await;
    assert_will(&s.expect_publish().await, b"");
    let mut n = watcher(b.local_addr(), "n", TOPIC, QoS::AtLeastOnce).await;
    n.assert_nothing_for(SLACK).await;
}

// ------------------------------------------------------------------------------------------ properties

/// 3.1.3.2.3-7 + MQTT-3.1.3-10 + (inferred) WDI is not a PUBLISH property: PFI, Content Type, Response
/// Topic, Correlation Data and User Properties (k1, k2, k1 repeated, k3, in order) are forwarded
/// unchanged; Will Delay Interval does not appear on the delivered Will, nor does Message Expiry (none
/// was set).
#[tokio::test]
async fn will_properties_forwarded_and_will_delay_stripped() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let users = vec![
        ("k1".to_string(), "v1".to_string()),
        ("k2".to_string(), "v2".to_string()),
        ("k1".to_string(), "v1-again".to_string()),
        ("k3".to_string(), "v3".to_string()),
    ];
    let mut props = vec![
        Property::WillDelayInterval(1), // SEI absent: the session ends at close, so no wait
        Property::PayloadFormatIndicator(1),
        Property::ContentType("text/plain".into()),
        Property::ResponseTopic("replies/w".into()),
        Property::CorrelationData(Bytes::from_static(&[0x00, 0xFF, 0x10])),
    ];
    props.extend(users.iter().map(|(k, v)| Property::UserProperty(k.clone(), v.clone())));
    let w = will_client(b.local_addr(), "w", will5("gone", QoS::AtLeastOnce, false, props)).await;
    w.close().await;
    let p = s.expect_publish().await;
    assert_will(&p, b"gone");
    let got = &p.properties;
    assert_eq!(got.payload_format_indicator(), Some(1));
    assert_eq!(got.content_type().as_deref(), Some("text/plain"));
    assert_eq!(got.response_topic().as_deref(), Some("replies/w"));
    assert_eq!(got.correlation_data().as_deref(), Some(&[0x00, 0xFF, 0x10][..]));
    assert_eq!(got.user_properties(), users, "user properties in order, repeated name kept (MQTT-3.1.3-10)");
    assert_eq!(got.will_delay_interval(), None, "Will Delay Interval must not be forwarded: {got:?}");
    assert_eq!(got.message_expiry_interval(), None, "no Message Expiry was set: {got:?}");
    assert_eq!(got.0.len(), 4 + users.len(), "nothing else added: {got:?}");
}

/// 3.1.3.2.4: a Will with Message Expiry Interval is published with it (to an online subscriber
/// almost all of it remains: the broker rounds the remainder up, so exactly the value sent).
#[tokio::test]
async fn will_message_expiry_forwarded_to_online_subscriber() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let w = will_client(
        b.local_addr(),
        "w",
        will5("gone", QoS::AtLeastOnce, false, vec![Property::MessageExpiryInterval(30)]),
    )
    .await;
    w.close().await;
    let p = s.expect_publish().await;
    assert_eq!(p.properties.message_expiry_interval(), Some(30));
}

/// Connects S persistently (SEI 60), subscribes at QoS 1 and goes offline with DISCONNECT 0x00.
async fn offline_persistent_subscriber(addr: SocketAddr) {
    let mut c = connect(V5, "s");
    c.properties.push(Property::SessionExpiryInterval(60));
    let mut s = TestClient::connected(addr, c).await;
    s.subscribe(TOPIC, QoS::AtLeastOnce).await;
    s.disconnect(0, Properties::new()).await;
}

/// Resumes S's persistent session.
async fn resume_subscriber(addr: SocketAddr) -> TestClient {
    let mut c = connect(V5, "s");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(60));
    let (s, ack) = TestClient::connect(addr, c).await;
    assert_eq!(ack.code, 0);
    assert!(ack.session_present, "S's session must have been kept");
    s
}

/// 3.1.3.2.4 + MQTT-3.3.2-6: a Will (MEI 10) queued for an offline QoS 1 persistent subscriber arrives
/// ~2 s later with the remaining lifetime. The broker rounds the remainder UP to whole seconds, so
/// after 2.1 s..2.x s the value is ceil(10 - elapsed) = 8 (bounds computed from measured times).
#[tokio::test]
async fn will_message_expiry_reduced_for_offline_subscriber() {
    let b = broker().await;
    offline_persistent_subscriber(b.local_addr()).await;
    let w = will_client(
        b.local_addr(),
        "w",
        will5("gone", QoS::AtLeastOnce, false, vec![Property::MessageExpiryInterval(10)]),
    )
    .await;
    let fired = Instant::now();
    w.close().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut s = resume_subscriber(b.local_addr()).await;
    let p = s.expect_publish().await;
    let elapsed = fired.elapsed().as_secs_f64();
    assert_will(&p, b"gone");
    let mei = p.properties.message_expiry_interval().expect("Message Expiry Interval must be sent");
    // Waited at least 2.1 s → at most ceil(7.9) = 8 left; at most `elapsed` → at least ceil(10 - elapsed).
    let lo = (10.0 - elapsed).ceil() as u32;
    assert!(mei <= 8 && mei >= lo, "MEI {mei}: want {lo}..=8 after {elapsed:.3} s (10 minus time waited, rounded up)");
}

/// 3.1.3.2.4 + MQTT-3.3.2-5: once the Will's Message Expiry has passed, the queued copy is not sent to
/// the resuming subscriber. A later sentinel message (no expiry) proves the queue was delivered.
#[tokio::test]
async fn will_expired_in_offline_queue_is_not_delivered() {
    let b = broker().await;
    offline_persistent_subscriber(b.local_addr()).await;
    let w = will_client(
        b.local_addr(),
        "w",
        will5("gone", QoS::AtLeastOnce, false, vec![Property::MessageExpiryInterval(1)]),
    )
    .await;
    w.close().await;
    // Queue a sentinel after the Will.
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    p.publish(publish(TOPIC, "sentinel", QoS::AtLeastOnce, false)).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let mut s = resume_subscriber(b.local_addr()).await;
    let first = s.expect_publish().await;
    assert_eq!(&first.payload[..], b"sentinel", "the expired Will must not be delivered: {first:?}");
    s.assert_nothing_for(SLACK).await;
}

/// 3.1.3.4 (Will Payload is Binary Data): a non-UTF-8 payload without PFI is forwarded byte for byte;
/// a zero-length payload is accepted too (amqtt #154).
#[tokio::test]
async fn will_binary_payload_forwarded_unchanged() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut wl = will5("", QoS::AtLeastOnce, false, vec![]);
    wl.payload = Bytes::from_static(&[0x00, 0xFF, 0xFE, 0x80]);
    let w = will_client(b.local_addr(), "w", wl).await;
    w.close().await;
    assert_will(&s.expect_publish().await, &[0x00, 0xFF, 0xFE, 0x80]);
}

/// 3.1.3.2.4 + 3.3.2.3.3 (a retained message's lifetime is its Message Expiry): a retained Will with
/// MEI 1 is given to a new subscriber right after it fired (with MEI ≤ 1), but not once it has expired.
#[tokio::test]
async fn retained_will_expires_with_its_message_expiry() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let w = will_client(
        b.local_addr(),
        "w",
        will5("gone", QoS::AtLeastOnce, true, vec![Property::MessageExpiryInterval(1)]),
    )
    .await;
    w.close().await;
    s.expect_publish().await;
    let mut n1 = watcher(b.local_addr(), "n1", TOPIC, QoS::AtLeastOnce).await;
    let p = n1.expect_publish().await;
    assert!(p.retain);
    assert_eq!(p.properties.message_expiry_interval(), Some(1));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut n2 = watcher(b.local_addr(), "n2", TOPIC, QoS::AtLeastOnce).await;
    n2.assert_nothing_for(SLACK).await;
}

/// MQTT-3.1.2-25 (reference section 4 item 7: a Will larger than a subscriber's Maximum Packet Size):
/// the Will is dropped for that subscriber only; another subscriber gets it.
#[tokio::test]
async fn will_larger_than_subscriber_maximum_packet_size_dropped_for_it_only() {
    let b = broker().await;
    let mut c = connect(V5, "small");
    c.properties.push(Property::MaximumPacketSize(64));
    let mut small = TestClient::connected(b.local_addr(), c).await;
    small.subscribe(TOPIC, QoS::AtLeastOnce).await;
    let mut big = watcher(b.local_addr(), "big", TOPIC, QoS::AtLeastOnce).await;
    let payload = "y".repeat(200);
    let w = will_client(b.local_addr(), "w", will5(&payload, QoS::AtLeastOnce, false, vec![])).await;
    w.close().await;
    assert_will(&big.expect_publish().await, payload.as_bytes());
    small.assert_nothing_for(SLACK).await;
}

/// MQTT-3.3.4-3 (Subscription Identifiers on forwarded messages): the Will reaches a subscription made
/// with Subscription Identifier 7 carrying that identifier.
#[tokio::test]
async fn will_carries_subscription_identifier() {
    let b = broker().await;
    let mut s = TestClient::connected(b.local_addr(), connect(V5, "s")).await;
    let codes = s
        .subscribe_with(TOPIC, SubOptions::qos(QoS::AtLeastOnce), Properties(vec![Property::SubscriptionIdentifier(7)]))
        .await;
    assert_eq!(codes, vec![1]);
    let w = will_client(b.local_addr(), "w", will5("gone", QoS::AtLeastOnce, false, vec![])).await;
    w.close().await;
    let p = s.expect_publish().await;
    assert_will(&p, b"gone");
    assert_eq!(p.properties.subscription_identifiers(), vec![7]);
}

// ------------------------------------------------------------------------------------------ exactly once

/// MQTT-3.1.2-10: once published the Will is removed: W reconnects with the same ClientId and no Will,
/// then drops, and no second Will appears.
#[tokio::test]
async fn will_never_published_twice() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let w = will_client(b.local_addr(), "w", will5("once", QoS::AtLeastOnce, false, vec![])).await;
    w.close().await;
    assert_will(&s.expect_publish().await, b"once");
    let w = TestClient::connected(b.local_addr(), connect(V5, "w")).await;
    w.close().await;
    s.assert_nothing_for(SLACK).await;
}

/// MQTT-3.1.2-10 with a persistent session: the Will fires, W resumes the session (Clean Start 0)
/// without a Will and drops again: no second Will.
#[tokio::test]
async fn will_never_published_twice_after_session_resume() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut c = with_will("w", will5("once", QoS::AtLeastOnce, false, vec![]));
    c.properties.push(Property::SessionExpiryInterval(60));
    let w = TestClient::connected(b.local_addr(), c).await;
    w.reset();
    assert_will(&s.expect_publish().await, b"once");
    let mut c = connect(V5, "w");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(60));
    let (w, ack) = TestClient::connect(b.local_addr(), c).await;
    assert!(ack.session_present);
    w.close().await;
    s.assert_nothing_for(SLACK).await;
}

// ------------------------------------------------------------------------------------------ refused CONNECT

/// MQTT-3.2.2-12 + MQTT-3.1.4-6: Will QoS 2 on a broker with Maximum QoS 1 → CONNACK 0x9B, close, and
/// that Will is never published.
#[tokio::test]
async fn will_qos_above_maximum_qos_refused_0x9b_and_never_published() {
    let b = broker_with(Config { max_qos: 1, ..Config::default() }).await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let (w, ack) =
        TestClient::connect(b.local_addr(), with_will("w", will5("nope", QoS::ExactlyOnce, false, vec![]))).await;
    expect_refused(w, Some(ack), reason::QOS_NOT_SUPPORTED).await;
    assert_no_will(&mut s).await;
}

/// MQTT-3.2.2-13 + MQTT-3.1.4-6: Will Retain 1 on a broker without retain → CONNACK 0x9A, close, and
/// that Will is never published.
#[tokio::test]
async fn will_retain_without_retain_available_refused_0x9a_and_never_published() {
    let b = broker_with(Config { retain_available: false, ..Config::default() }).await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let (w, ack) =
        TestClient::connect(b.local_addr(), with_will("w", will5("nope", QoS::AtLeastOnce, true, vec![]))).await;
    expect_refused(w, Some(ack), reason::RETAIN_NOT_SUPPORTED).await;
    assert_no_will(&mut s).await;
}

/// MQTT-4.12.0-1 + MQTT-3.1.4-6: an enhanced-authentication CONNECT (Authentication Method) on a
/// broker without it → CONNACK 0x8C, and its Will is never published.
#[tokio::test]
async fn enhanced_auth_connect_refused_0x8c_and_will_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut c = with_will("w", will5("nope", QoS::AtLeastOnce, false, vec![]));
    c.properties.push(Property::AuthenticationMethod("SCRAM-SHA-1".into()));
    let (w, ack) = TestClient::connect(b.local_addr(), c).await;
    expect_refused(w, Some(ack), reason::BAD_AUTHENTICATION_METHOD).await;
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.4-6 + MQTT-3.1.4-3: a refused CONNECT with the ClientId of a connected W processes nothing:
/// W is not taken over (it still answers PINGREQ) and neither W's Will nor the refused one is published.
#[tokio::test]
async fn refused_connect_does_not_take_over_or_publish_wills() {
    let b = broker_with(Config { max_qos: 1, ..Config::default() }).await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("w-will", QoS::AtLeastOnce, false, vec![])).await;
    let (w2, ack) =
        TestClient::connect(b.local_addr(), with_will("w", will5("refused-will", QoS::ExactlyOnce, false, vec![]))).await;
    expect_refused(w2, Some(ack), reason::QOS_NOT_SUPPORTED).await;
    assert_no_will(&mut s).await;
    w.assert_nothing_for(Duration::from_millis(10)).await; // still connected, no DISCONNECT 0x8E
}

/// MQTT-3.1.2-12 (5.0 numbering): Will QoS 3 is a Malformed Packet → CONNACK 0x81 (or a plain
/// close), and no Will is ever published.
#[tokio::test]
async fn will_qos_3_refused_0x81_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let c = with_will("w", will5("nope", QoS::ExactlyOnce, false, vec![]));
    let flags = raw_connect(&c).body[CONNECT_FLAGS_OFFSET];
    assert_eq!(flags & 0x18, 0x10, "QoS 2 bits before patching");
    let bytes = raw_connect(&c).patch(CONNECT_FLAGS_OFFSET, flags | 0x18).to_bytes();
    let (w, ack) = connect_raw(b.local_addr(), &bytes).await;
    if ack.is_some() {
        expect_refused(w, ack, reason::MALFORMED_PACKET).await;
    }
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.2-11: Will Flag 0 with a Will QoS bit set → CONNACK 0x81 and close.
#[tokio::test]
async fn will_flag_0_with_qos_bits_refused_0x81() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    let c = connect(V5, "w");
    let flags = raw_connect(&c).body[CONNECT_FLAGS_OFFSET];
    let bytes = raw_connect(&c).patch(CONNECT_FLAGS_OFFSET, flags | 0x08).to_bytes();
    let (w, ack) = connect_raw(b.local_addr(), &bytes).await;
    expect_refused(w, ack, reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.2-13: Will Flag 0 with Will Retain set → CONNACK 0x81 and close.
#[tokio::test]
async fn will_flag_0_with_retain_bit_refused_0x81() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    let c = connect(V5, "w");
    let flags = raw_connect(&c).body[CONNECT_FLAGS_OFFSET];
    let bytes = raw_connect(&c).patch(CONNECT_FLAGS_OFFSET, flags | 0x20).to_bytes();
    let (w, ack) = connect_raw(b.local_addr(), &bytes).await;
    expect_refused(w, ack, reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.2-9 (Will Topic and Payload MUST be present): Will Flag 1 with the Will Payload cut off →
/// malformed, CONNACK 0x81, no Will (mosquitto #704).
#[tokio::test]
async fn will_flag_1_without_payload_refused_0x81_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let c = with_will("w", will5("PAYLOAD", QoS::AtLeastOnce, false, vec![]));
    let raw = raw_connect(&c);
    let cut = find(&raw.body, b"PAYLOAD") - 2; // drop the length prefix and the payload
    let (w, ack) = connect_raw(b.local_addr(), &raw.truncate(cut).to_bytes()).await;
    expect_refused(w, ack, reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}

/// 3.1.3.2.2-7 (each Will property except User Property: "Protocol Error to include it more than
/// once"): a duplicated Will property → CONNACK 0x82, no Will. Checked for PFI, MEI, Content Type,
/// Response Topic, Correlation Data and Will Delay Interval.
#[tokio::test]
async fn duplicate_will_property_refused_0x82_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let dups = [
        Property::PayloadFormatIndicator(0),
        Property::MessageExpiryInterval(10),
        Property::ContentType("a".into()),
        Property::ResponseTopic("r".into()),
        Property::CorrelationData(Bytes::from_static(b"c")),
        Property::WillDelayInterval(0),
    ];
    for p in dups {
        let c = with_will("w", will5("nope", QoS::AtLeastOnce, false, vec![p.clone(), p.clone()]));
        let (w, ack) = TestClient::connect(b.local_addr(), c).await;
        expect_refused(w, Some(ack), reason::PROTOCOL_ERROR).await;
    }
    assert_no_will(&mut s).await;
}

/// MQTT-4.7.3-1 (a Topic Name has at least one character; reference 1.4: 0x82 as mosquitto): an empty
/// Will Topic → CONNACK 0x82, no Will.
#[tokio::test]
async fn empty_will_topic_refused_0x82_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    let mut wl = will5("nope", QoS::AtLeastOnce, false, vec![]);
    wl.topic = String::new();
    let (w, ack) = TestClient::connect(b.local_addr(), with_will("w", wl)).await;
    expect_refused(w, Some(ack), reason::PROTOCOL_ERROR).await;
    assert_no_will(&mut s).await;
}

/// MQTT-4.7.1-1 / 3.2.2.2 (0x90 "Topic Name invalid": the Will Topic is not malformed but not
/// accepted): a Will Topic with a wildcard (`#`, `+`, `a/+/b`) → CONNACK 0x90, no Will.
#[tokio::test]
async fn wildcard_will_topic_refused_0x90_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    for t in ["clients/#", "+", "a/+/b"] {
        let mut wl = will5("nope", QoS::AtLeastOnce, false, vec![]);
        wl.topic = t.into();
        let (w, ack) = TestClient::connect(b.local_addr(), with_will("w", wl)).await;
        expect_refused(w, Some(ack), reason::TOPIC_NAME_INVALID).await;
    }
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.3-11 + MQTT-1.5.4-1: a Will Topic that is not well-formed UTF-8 (0xC3 0x28) → CONNACK 0x81,
/// no Will.
#[tokio::test]
async fn invalid_utf8_will_topic_refused_0x81_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    let mut wl = will5("nope", QoS::AtLeastOnce, false, vec![]);
    wl.topic = "will/ZZ".into();
    let raw = raw_connect(&with_will("w", wl));
    let at = find(&raw.body, b"will/ZZ") + 5;
    let (w, ack) = connect_raw(b.local_addr(), &raw.patch(at, 0xC3).patch(at + 1, 0x28).to_bytes()).await;
    expect_refused(w, ack, reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.3-11 + MQTT-1.5.4-2: a Will Topic containing U+0000 → CONNACK 0x81, no Will.
#[tokio::test]
async fn nul_in_will_topic_refused_0x81_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    let mut wl = will5("nope", QoS::AtLeastOnce, false, vec![]);
    wl.topic = "will/\0".into();
    let (w, ack) = TestClient::connect(b.local_addr(), with_will("w", wl)).await;
    expect_refused(w, Some(ack), reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}

/// 3.1.3.2.3 (Server MAY validate; reference 1.4: 0x99): PFI=1 with a Will Payload that is not UTF-8 →
/// this broker refuses with CONNACK 0x99 and the Will is never published.
#[tokio::test]
async fn will_pfi_1_with_invalid_utf8_payload_refused_0x99_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut wl = will5("", QoS::AtLeastOnce, false, vec![Property::PayloadFormatIndicator(1)]);
    wl.payload = Bytes::from_static(&[0xC3, 0x28, 0xFF]);
    let (w, ack) = TestClient::connect(b.local_addr(), with_will("w", wl)).await;
    expect_refused(w, Some(ack), reason::PAYLOAD_FORMAT_INVALID).await;
    assert_no_will(&mut s).await;
}

/// 2.2.2.2 ("an Identifier which is not valid for its packet type … is a Malformed Packet"): a Will
/// property list carrying a CONNECT-only property (Session Expiry Interval) → CONNACK 0x81, no Will.
#[tokio::test]
async fn non_will_property_in_will_properties_refused_0x81_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let c = with_will("w", will5("nope", QoS::AtLeastOnce, false, vec![Property::SessionExpiryInterval(10)]));
    let (w, ack) = TestClient::connect(b.local_addr(), c).await;
    expect_refused(w, Some(ack), reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}
