//! MQTT 5.0 Will rules (reference sections 1.2 and 1.4), what publishes a Will: FIN, RST,
//! keep-alive expiry, a second CONNECT, bad packets, takeover and server DISCONNECTs; one small
//! test per behaviour, each through a real socket against its own embedded broker. W is the client
//! with the Will, S a watcher subscribed before the fault, N a subscriber that arrives afterwards.
//! Absence is always proved with `assert_nothing_for` (a ping barrier on a live observer), never by
//! a bare timeout.
//!
//! Timing of Will Delay / Session Expiry interplay lives in `v5_will_delay_table.rs`.
mod common;
mod v5_will_common;
use common::*;
use lwt_broker::codec::raw::RawPacket;
use lwt_broker::codec::*;
use lwt_broker::Config;
use std::time::Duration;
use tokio::time::Instant;
use v5_will_common::*;

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
