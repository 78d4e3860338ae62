//! MQTT 5.0 Will rules (reference sections 1.2 and 1.4), DISCONNECT: which reason codes and packets
//! publish or discard the Will, and its order after the client's last PUBLISH; one small test per
//! behaviour, each through a real socket against its own embedded broker. W is the client with the
//! Will, S a watcher subscribed before the fault, N a subscriber that arrives afterwards. Absence
//! is always proved with `assert_nothing_for` (a ping barrier on a live observer), never by a bare
//! timeout.
//!
//! Timing of Will Delay / Session Expiry interplay lives in `v5_will_delay_table.rs`.
mod common;
mod v5_will_common;
use common::*;
use lwt_broker::codec::*;
use v5_will_common::*;

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
