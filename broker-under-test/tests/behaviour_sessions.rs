//! General broker behaviour of `lwt-broker`: client identifiers, session presence and expiry, and
//! persistent sessions (offline queueing, resending on reconnect). Each test starts its own embedded
//! broker and talks to it over real TCP sockets with exact packets; absence is proven with the ping
//! barrier.
mod behaviour_common;
mod common;
use behaviour_common::*;
use common::*;
use lwt_broker::codec::*;
use lwt_broker::Config;
use std::time::Duration;

// ------------------------------------------------------------------ client identifiers

/// 5.0 MQTT-3.1.3-6 / MQTT-3.1.3-7 (MQTT-3.2.2-16): an empty Client Identifier is accepted, a unique
/// one is assigned and returned as Assigned Client Identifier, and the session uses it.
#[tokio::test]
async fn v5_empty_client_id_gets_assigned_client_identifier() {
    let b = broker().await;
    let (mut a, ack) = TestClient::connect(b.local_addr(), connect(V5, "")).await;
    assert_eq!(ack.code, 0);
    let id1 = ack.properties.assigned_client_identifier().expect("Assigned Client Identifier in CONNACK");
    assert!(!id1.is_empty());
    let (_b2, ack2) = TestClient::connect(b.local_addr(), connect(V5, "")).await;
    let id2 = ack2.properties.assigned_client_identifier().expect("Assigned Client Identifier in CONNACK");
    assert_ne!(id1, id2, "assigned identifiers must be unique");
    // The assigned id is the session's id: connecting with it takes the first connection over.
    let _c = TestClient::connected(b.local_addr(), connect(V5, &id1)).await;
    expect_disconnect(&mut a, reason::SESSION_TAKEN_OVER).await;
}

/// 3.1.1 MQTT-3.1.3-6 / MQTT-3.1.3-7: an empty client id with clean session 1 is accepted (CONNACK 0,
/// no session present), and two such clients are distinct (neither takes the other over).
#[tokio::test]
async fn v311_empty_client_id_with_clean_session_accepted() {
    let b = broker().await;
    let (mut a, ack) = TestClient::connect(b.local_addr(), connect(V311, "")).await;
    assert_eq!((ack.code, ack.session_present), (0, false));
    assert!(ack.properties.is_empty());
    let mut c = TestClient::connected(b.local_addr(), connect(V311, "")).await;
    a.subscribe("anon/t", QoS::AtLeastOnce).await;
    c.publish(publish("anon/t", "hi", QoS::AtLeastOnce, false)).await;
    assert_eq!(&a.expect_publish().await.payload[..], b"hi");
    c.assert_nothing_for(Duration::from_millis(50)).await;
    a.assert_nothing_for(Duration::from_millis(50)).await;
}

// ------------------------------------------------------------------ sessions

/// MQTT-3.2.2-1 / -2 / -3 (3.1.1) and 5.0 MQTT-3.2.2-2 / -3: Session Present is 0 for a new or clean
/// session and 1 when a stored session is resumed; a clean start discards the stored session.
#[tokio::test]
async fn session_present_flag() {
    let b = broker().await;
    for v in VERSIONS {
        let id = format!("sp-{v:?}");
        let (t, ack) = TestClient::connect(b.local_addr(), persistent(v, &id)).await;
        assert_eq!((ack.code, ack.session_present), (0, false), "{v:?}: first connect");
        t.disconnect(0, Properties::new()).await;
        let (t, ack) = TestClient::connect(b.local_addr(), persistent(v, &id)).await;
        assert_eq!((ack.code, ack.session_present), (0, true), "{v:?}: resumed");
        t.disconnect(0, Properties::new()).await;
        let (t, ack) = TestClient::connect(b.local_addr(), connect(v, &id)).await;
        assert_eq!((ack.code, ack.session_present), (0, false), "{v:?}: clean start");
        t.disconnect(0, Properties::new()).await;
        let (t, ack) = TestClient::connect(b.local_addr(), persistent(v, &id)).await;
        assert_eq!((ack.code, ack.session_present), (0, false), "{v:?}: after the clean start");
        t.disconnect(0, Properties::new()).await;
    }
}

/// 5.0 MQTT-3.1.2-23 / 3.1.2.11.2: without a Session Expiry Interval the session ends with the
/// connection, even with Clean Start 0.
#[tokio::test]
async fn v5_session_expiry_absent_ends_session_at_close() {
    let b = broker().await;
    let mut c = connect(V5, "c");
    c.clean_start = false;
    let t = TestClient::connected(b.local_addr(), c.clone()).await;
    t.close().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (_t, ack) = TestClient::connect(b.local_addr(), c).await;
    assert_eq!((ack.code, ack.session_present), (0, false));
}

/// 5.0 MQTT-3.1.2-23: a session with Session Expiry Interval 1 survives a reconnect inside 1 s and
/// is gone once 1 s has passed after the close.
#[tokio::test]
async fn v5_session_expiry_interval_elapses() {
    let b = broker().await;
    let mut c = connect_props(V5, "c", vec![Property::SessionExpiryInterval(1)]);
    c.clean_start = false;
    let (t, ack) = TestClient::connect(b.local_addr(), c.clone()).await;
    assert!(ack.properties.session_expiry_interval().is_none(), "SEI accepted as asked: not echoed");
    t.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (t, ack) = TestClient::connect(b.local_addr(), c.clone()).await;
    assert!(ack.session_present, "resumed within the expiry interval");
    t.close().await;
    tokio::time::sleep(Duration::from_millis(1400)).await;
    let (_t, ack) = TestClient::connect(b.local_addr(), c).await;
    assert!(!ack.session_present, "session must have expired after 1 s");
}

/// 5.0 3.1.2.11.2: Session Expiry Interval 0xFFFFFFFF never expires: the session and its
/// subscription survive, QoS 1 messages are queued meanwhile; a configured cap is announced in
/// CONNACK (MQTT-3.2.2 Session Expiry Interval).
#[tokio::test]
async fn v5_session_expiry_never_0xffffffff() {
    let b = broker().await;
    let mut c = connect_props(V5, "c", vec![Property::SessionExpiryInterval(u32::MAX)]);
    c.clean_start = false;
    let (mut t, ack) = TestClient::connect(b.local_addr(), c.clone()).await;
    assert!(ack.properties.session_expiry_interval().is_none());
    t.subscribe("never/t", QoS::AtLeastOnce).await;
    t.close().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    p.publish(publish("never/t", "kept", QoS::AtLeastOnce, false)).await;
    let (mut t, ack) = TestClient::connect(b.local_addr(), c.clone()).await;
    assert!(ack.session_present);
    assert_eq!(&t.expect_publish().await.payload[..], b"kept");

    let capped = broker_with(Config { session_expiry_max: 5, ..Config::default() }).await;
    let (_t, ack) = TestClient::connect(capped.local_addr(), c).await;
    assert_eq!(ack.properties.session_expiry_interval(), Some(5), "the cap is announced in CONNACK");
}

/// 5.0 3.14.2.2.2 / MQTT-3.14.2-2: DISCONNECT may lower the Session Expiry Interval (to 0: the
/// session ends), but setting one when CONNECT had 0 is a Protocol Error (server DISCONNECT 0x82).
#[tokio::test]
async fn v5_disconnect_session_expiry_change() {
    let b = broker().await;
    let c = persistent(V5, "c");
    let t = TestClient::connected(b.local_addr(), c.clone()).await;
    t.disconnect(0, Properties(vec![Property::SessionExpiryInterval(0)])).await;
    let (t, ack) = TestClient::connect(b.local_addr(), c).await;
    assert!(!ack.session_present, "DISCONNECT with SEI 0 ended the session");
    t.disconnect(0, Properties::new()).await;

    let mut t = TestClient::connected(b.local_addr(), connect(V5, "zero")).await;
    t.send(Packet::Disconnect(Disconnect { reason: 0, properties: Properties(vec![Property::SessionExpiryInterval(30)]) }))
        .await;
    expect_disconnect(&mut t, reason::PROTOCOL_ERROR).await;
}

// ------------------------------------------------------------------ persistent sessions

/// MQTT-3.1.2-5 (3.1.1) / 5.0 section 4.1: QoS 1 and QoS 2 messages for a persistent session that is
/// offline are kept and delivered in order on reconnect, with Session Present 1.
#[tokio::test]
async fn offline_messages_queued_for_persistent_session() {
    let b = broker().await;
    for v in VERSIONS {
        let mut s = TestClient::connected(b.local_addr(), persistent(v, "s")).await;
        s.subscribe("off/#", QoS::ExactlyOnce).await;
        s.disconnect(0, Properties::new()).await;
        let mut p = TestClient::connected(b.local_addr(), connect(v, "p")).await;
        p.publish(publish("off/1", "a", QoS::AtLeastOnce, false)).await;
        p.publish(publish("off/2", "b", QoS::ExactlyOnce, false)).await;
        let (mut s, ack) = TestClient::connect(b.local_addr(), persistent(v, "s")).await;
        assert!(ack.session_present, "{v:?}");
        let m1 = s.expect_publish().await;
        assert_eq!((m1.topic.as_str(), &m1.payload[..], m1.qos), ("off/1", &b"a"[..], QoS::AtLeastOnce));
        let m2 = s.expect_publish().await;
        assert_eq!((m2.topic.as_str(), &m2.payload[..], m2.qos), ("off/2", &b"b"[..], QoS::ExactlyOnce));
        s.assert_nothing_for(QUIET).await;
        s.disconnect(0, Properties::new()).await;
        p.disconnect(0, Properties::new()).await;
    }
}

/// MQTT-4.4.0-1 (both versions) / MQTT-3.3.1-1: an unacknowledged QoS 1 PUBLISH is sent again on
/// reconnect to the session, with DUP 1 and the original packet id.
#[tokio::test]
async fn unacknowledged_qos1_resent_with_dup_after_reconnect() {
    let b = broker().await;
    for v in VERSIONS {
        let mut s = TestClient::connected(b.local_addr(), persistent(v, "s")).await;
        s.subscribe("dup/t", QoS::AtLeastOnce).await;
        let mut p = TestClient::connected(b.local_addr(), connect(v, "p")).await;
        p.publish(publish("dup/t", "unacked", QoS::AtLeastOnce, false)).await;
        let first = next_publish(&mut s).await;
        assert!(!first.dup);
        s.close().await;
        let (mut s, ack) = TestClient::connect(b.local_addr(), persistent(v, "s")).await;
        assert!(ack.session_present);
        let again = next_publish(&mut s).await;
        assert!(again.dup, "{v:?}: the resent PUBLISH has DUP 1");
        assert_eq!((again.packet_id, &again.payload[..], again.qos), (first.packet_id, &b"unacked"[..], QoS::AtLeastOnce));
        s.send(Packet::PubAck(PubResp::new(again.packet_id.unwrap()))).await;
        s.assert_nothing_for(QUIET).await;
        s.disconnect(0, Properties::new()).await;
        p.disconnect(0, Properties::new()).await;
    }
}

/// MQTT-4.4.0-1: a PUBREL not yet completed (PUBCOMP missing) is sent again on reconnect.
#[tokio::test]
async fn unacknowledged_pubrel_resent_after_reconnect() {
    let b = broker().await;
    for v in VERSIONS {
        let mut s = TestClient::connected(b.local_addr(), persistent(v, "s")).await;
        s.subscribe("rel/t", QoS::ExactlyOnce).await;
        let mut p = TestClient::connected(b.local_addr(), connect(v, "p")).await;
        p.publish(publish("rel/t", "x", QoS::ExactlyOnce, false)).await;
        let m = next_publish(&mut s).await;
        let id = m.packet_id.unwrap();
        s.send(Packet::PubRec(PubResp::new(id))).await;
        assert!(matches!(s.next().await, Packet::PubRel(r) if r.packet_id == id));
        s.close().await;
        let (mut s, ack) = TestClient::connect(b.local_addr(), persistent(v, "s")).await;
        assert!(ack.session_present);
        assert!(matches!(s.next().await, Packet::PubRel(r) if r.packet_id == id), "{v:?}: PUBREL resent");
        s.send(Packet::PubComp(PubResp::new(id))).await;
        s.assert_nothing_for(QUIET).await;
        s.disconnect(0, Properties::new()).await;
        p.disconnect(0, Properties::new()).await;
    }
}
