//! General MQTT 3.1.1 + 5.0 broker behaviour of `lwt-broker`, beyond the Will: client ids, sessions,
//! keep-alive and the 5.0 limits, the QoS flows, offline queueing, expiry, property forwarding,
//! subscriptions and their options, retained messages, configured capabilities, a stalled
//! subscriber, and bad input. Each test starts its own embedded broker and talks to it over real TCP
//! sockets with exact packets; absence is proven with the ping barrier.
mod common;
use bytes::{Bytes, BytesMut};
use common::*;
use lwt_broker::codec::*;
use lwt_broker::connection::Connection;
use lwt_broker::Config;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;
const QUIET: Duration = Duration::from_millis(300);

// ------------------------------------------------------------------ helpers

/// A CONNECT with `props` (5.0).
fn connect_props(v: ProtocolVersion, id: &str, props: Vec<Property>) -> Connect {
    let mut c = connect(v, id);
    c.properties = Properties(props);
    c
}

/// A CONNECT that keeps its session: clean session 0 (3.1.1) or Clean Start 0 with a 300 s Session
/// Expiry Interval (5.0).
fn persistent(v: ProtocolVersion, id: &str) -> Connect {
    let mut c = connect(v, id);
    c.clean_start = false;
    if v.is_v5() {
        c.properties.push(Property::SessionExpiryInterval(300));
    }
    c
}

/// A connected client subscribed to `filter` at `qos`.
async fn subscriber(addr: SocketAddr, v: ProtocolVersion, id: &str, filter: &str, qos: QoS) -> TestClient {
    let mut s = TestClient::connected(addr, connect(v, id)).await;
    s.subscribe(filter, qos).await;
    s
}

/// A PUBLISH with properties.
fn publish_props(topic: &str, payload: &str, qos: QoS, props: Vec<Property>) -> Publish {
    let mut p = publish(topic, payload, qos, false);
    p.properties = Properties(props);
    p
}

/// The next packet, which must be a PUBLISH; it is not acknowledged.
async fn next_publish(t: &mut TestClient) -> Publish {
    match t.next().await {
        Packet::Publish(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

/// Asserts that the broker closes `t` after sending DISCONNECT with `code` (5.0).
async fn expect_disconnect(t: &mut TestClient, code: u8) {
    match t.expect_closed().await {
        Some(d) => assert_eq!(d.reason, code, "server DISCONNECT reason: {d:?}"),
        None => panic!("expected DISCONNECT {code:#04x} before the close, got a bare close"),
    }
}

/// Sends UNSUBSCRIBE for `filters` and returns the UNSUBACK.
async fn unsubscribe(t: &mut TestClient, filters: &[&str]) -> UnsubAck {
    let packet_id = t.pid();
    let filters = filters.iter().map(|f| f.to_string()).collect();
    t.send(Packet::Unsubscribe(Unsubscribe { packet_id, properties: Properties::new(), filters })).await;
    match t.next().await {
        Packet::UnsubAck(a) => {
            assert_eq!(a.packet_id, packet_id);
            a
        }
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
}

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

// ------------------------------------------------------------------ keep-alive and 5.0 limits

/// 5.0 MQTT-3.2.2-21 / -22 and MQTT-3.1.2-22: with `keep_alive_max: 1` the CONNACK carries Server
/// Keep Alive 1 (for a client asking 60 s, and for one asking 0), and the broker enforces it: a silent
/// client gets DISCONNECT 0x8D after 1.5 s.
#[tokio::test]
async fn v5_server_keep_alive_is_announced_and_enforced() {
    let b = broker_with(Config { keep_alive_max: 1, ..Config::default() }).await;
    let (_z, ack) = TestClient::connect(b.local_addr(), Connect { keep_alive: 0, ..connect(V5, "zero") }).await;
    assert_eq!(ack.properties.server_keep_alive(), Some(1), "keep-alive 0 lowered to the maximum");
    let mut t = TestClient::open(b.local_addr(), V5).await;
    let sent = Instant::now();
    t.send(Packet::Connect(connect(V5, "c"))).await;
    match t.next().await {
        Packet::ConnAck(a) => assert_eq!((a.code, a.properties.server_keep_alive()), (0, Some(1))),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    expect_disconnect(&mut t, reason::KEEP_ALIVE_TIMEOUT).await;
    let took = sent.elapsed();
    assert!(took >= Duration::from_millis(1500) && took <= Duration::from_millis(2200), "closed after {took:?}, want 1.5 s");
}

/// 5.0 MQTT-3.3.4-9 (Receive Maximum, 3.1.2.11.3): the broker never has more unacknowledged QoS 1
/// PUBLISHes in flight to a client than its Receive Maximum; each PUBACK releases the next one.
#[tokio::test]
async fn v5_broker_respects_client_receive_maximum() {
    let b = broker().await;
    let mut s = TestClient::connected(b.local_addr(), connect_props(V5, "s", vec![Property::ReceiveMaximum(2)])).await;
    s.subscribe("rm/t", QoS::AtLeastOnce).await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    for i in 0..5 {
        p.publish(publish("rm/t", &format!("m{i}"), QoS::AtLeastOnce, false)).await;
    }
    let mut inflight = std::collections::VecDeque::new();
    for _ in 0..2 {
        inflight.push_back(next_publish(&mut s).await);
    }
    s.assert_nothing_for(QUIET).await;
    let mut got: Vec<String> = inflight.iter().map(|p| String::from_utf8_lossy(&p.payload).into()).collect();
    while let Some(first) = inflight.pop_front() {
        s.send(Packet::PubAck(PubResp::new(first.packet_id.unwrap()))).await;
        if got.len() < 5 {
            let next = next_publish(&mut s).await;
            got.push(String::from_utf8_lossy(&next.payload).into());
            inflight.push_back(next);
            // Still exactly 2 in flight: nothing more until the next PUBACK.
            s.assert_nothing_for(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(got, ["m0", "m1", "m2", "m3", "m4"]);
}

/// 5.0 MQTT-3.1.2-24 / -25: a message larger than a client's Maximum Packet Size is dropped for that
/// client only (at QoS 1 too); other clients and later small messages are unaffected.
#[tokio::test]
async fn v5_message_above_client_maximum_packet_size_dropped_for_that_client_only() {
    let b = broker().await;
    let mut small =
        TestClient::connected(b.local_addr(), connect_props(V5, "small", vec![Property::MaximumPacketSize(128)])).await;
    small.subscribe("mps/t", QoS::AtLeastOnce).await;
    let mut big = subscriber(b.local_addr(), V5, "big", "mps/t", QoS::AtLeastOnce).await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    let large = "L".repeat(500);
    p.publish(publish("mps/t", &large, QoS::AtLeastOnce, false)).await;
    p.publish(publish("mps/t", "tiny", QoS::AtLeastOnce, false)).await;
    assert_eq!(big.expect_publish().await.payload.len(), 500);
    assert_eq!(&big.expect_publish().await.payload[..], b"tiny");
    assert_eq!(&small.expect_publish().await.payload[..], b"tiny", "only the large message is skipped");
    small.assert_nothing_for(QUIET).await;
}

/// 5.0 3.2.2.3.6 (Maximum Packet Size) / MQTT-4.13: a client packet above the broker's limit gets
/// DISCONNECT 0x95 (a 3.1.1 client is just closed); the limit is announced in CONNACK.
#[tokio::test]
async fn packet_above_broker_maximum_packet_size_is_refused() {
    let b = broker_with(Config { max_packet_size: 1024, ..Config::default() }).await;
    let payload = "P".repeat(2000);
    for v in VERSIONS {
        let (mut t, ack) = TestClient::connect(b.local_addr(), connect(v, "c")).await;
        if v.is_v5() {
            assert_eq!(ack.properties.maximum_packet_size(), Some(1024));
        }
        t.send(Packet::Publish(publish("mps/t", &payload, QoS::AtMostOnce, false))).await;
        let d = t.expect_closed().await;
        if v.is_v5() {
            assert_eq!(d.map(|d| d.reason), Some(reason::PACKET_TOO_LARGE));
        } else {
            assert_eq!(d, None);
        }
    }
}

/// MQTT-4.13: the DISCONNECT 0x95 reaches the client even when it has already sent far more than the
/// broker reads before refusing (512 KiB of a PUBLISH announcing 1 MiB): the broker closes with
/// unread input, which ends in a reset, but only after the DISCONNECT, which the client reads first.
#[tokio::test]
async fn disconnect_0x95_survives_unread_input() {
    let b = broker_with(Config { max_packet_size: 1024, ..Config::default() }).await;
    for round in 0..5 {
        let (t, _) = TestClient::connect(b.local_addr(), connect(V5, "big")).await;
        let mut s = t.conn.into_inner();
        let mut bytes = vec![0x30u8, 0x80, 0x80, 0x40, 0x00, 0x03, b'a', b'/', b'b'];
        bytes.resize(512 * 1024, b'x');
        // The write may fail once the broker has closed; what matters is what comes back.
        let _ = tokio::time::timeout(Duration::from_secs(2), s.write_all(&bytes)).await;
        let mut back = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut back)).await;
        let mut buf = BytesMut::from(&back[..]);
        let frame = read_frame(&mut buf, 1 << 20).unwrap().unwrap_or_else(|| panic!("round {round}: no packet back ({back:?})"));
        match decode_frame(&frame, V5).unwrap() {
            Packet::Disconnect(d) => assert_eq!(d.reason, reason::PACKET_TOO_LARGE, "round {round}"),
            other => panic!("round {round}: expected DISCONNECT 0x95, got {other:?}"),
        }
    }
}

/// 5.0 MQTT-3.14.2-3 / MQTT-3.2.2-19 (with MQTT-3.1.2-24): the broker leaves out a Reason String that
/// would push its DISCONNECT or refusing CONNACK above the client's Maximum Packet Size.
#[tokio::test]
async fn v5_reason_string_left_out_above_client_maximum_packet_size() {
    const MAX: u32 = 24;
    let b = broker_with(Config { max_qos: 1, ..Config::default() }).await;
    let mut t = TestClient::connected(b.local_addr(), connect_props(V5, "c", vec![Property::MaximumPacketSize(MAX)])).await;
    t.send_raw(&[0x36, 0x00]).await;
    let d = t.expect_closed().await.expect("DISCONNECT 0x81");
    assert_eq!(d.reason, reason::MALFORMED_PACKET);
    let size = Packet::Disconnect(d).to_bytes(V5).len();
    assert!(size <= MAX as usize, "DISCONNECT of {size} bytes sent to a client with Maximum Packet Size {MAX}");

    let mut c = connect_with_will(V5, "w", will("rs/w", "x", QoS::ExactlyOnce, false));
    c.properties.push(Property::MaximumPacketSize(MAX));
    let (_t, ack) = TestClient::connect(b.local_addr(), c).await;
    assert_eq!(ack.code, reason::QOS_NOT_SUPPORTED);
    let size = Packet::ConnAck(ack).to_bytes(V5).len();
    assert!(size <= MAX as usize, "CONNACK of {size} bytes sent to a client with Maximum Packet Size {MAX}");
}

/// 5.0 3.3.4 (MQTT-3.3.4-9 from the server side, 3.2.2.3.3): a client that has more unacknowledged
/// QoS 2 PUBLISHes in flight than the broker's Receive Maximum gets DISCONNECT 0x93.
#[tokio::test]
async fn v5_client_exceeding_broker_receive_maximum_gets_0x93() {
    let b = broker_with(Config { receive_maximum: 2, ..Config::default() }).await;
    let (mut t, ack) = TestClient::connect(b.local_addr(), connect(V5, "c")).await;
    assert_eq!(ack.properties.receive_maximum(), Some(2));
    for id in 1..=2u16 {
        let mut m = publish("rmx/t", "x", QoS::ExactlyOnce, false);
        m.packet_id = Some(id);
        t.send(Packet::Publish(m)).await;
        assert!(matches!(t.next().await, Packet::PubRec(r) if r.packet_id == id));
    }
    let mut m = publish("rmx/t", "x", QoS::ExactlyOnce, false);
    m.packet_id = Some(3);
    t.send(Packet::Publish(m)).await;
    expect_disconnect(&mut t, reason::RECEIVE_MAXIMUM_EXCEEDED).await;
}

/// 5.0 3.3.2.3.4 (Topic Alias): an inbound alias set with a topic is resolved for later PUBLISHes
/// with an empty topic and can be remapped; subscribers get the full topic and no Topic Alias
/// (they announced no Topic Alias Maximum, MQTT-3.1.2-26).
#[tokio::test]
async fn v5_inbound_topic_alias_is_resolved() {
    let b = broker().await;
    let (mut p, ack) = TestClient::connect(b.local_addr(), connect(V5, "p")).await;
    assert_eq!(ack.properties.topic_alias_maximum(), Some(32));
    let mut s = subscriber(b.local_addr(), V5, "s", "ta/#", QoS::AtMostOnce).await;
    for (topic, payload) in [("ta/x", "1"), ("", "2"), ("ta/y", "3"), ("", "4")] {
        p.publish(publish_props(topic, payload, QoS::AtLeastOnce, vec![Property::TopicAlias(3)])).await;
    }
    for (topic, payload) in [("ta/x", "1"), ("ta/x", "2"), ("ta/y", "3"), ("ta/y", "4")] {
        let m = s.expect_publish().await;
        assert_eq!((m.topic.as_str(), &m.payload[..]), (topic, payload.as_bytes()));
        assert_eq!(m.properties.topic_alias(), None);
    }
}

/// 5.0 MQTT-3.3.2-8: Topic Alias 0 → the broker sends DISCONNECT 0x94 (Topic Alias invalid).
#[tokio::test]
async fn v5_topic_alias_zero_gets_disconnect_0x94() {
    let b = broker().await;
    let mut t = TestClient::connected(b.local_addr(), connect(V5, "c")).await;
    t.send(Packet::Publish(publish_props("ta/x", "x", QoS::AtMostOnce, vec![Property::TopicAlias(0)]))).await;
    expect_disconnect(&mut t, reason::TOPIC_ALIAS_INVALID).await;
}

/// 5.0 MQTT-3.2.2-17 / 3.3.2.3.4: a Topic Alias above the announced Topic Alias Maximum → DISCONNECT
/// 0x94.
#[tokio::test]
async fn v5_topic_alias_above_maximum_gets_disconnect_0x94() {
    let b = broker_with(Config { topic_alias_maximum: 4, ..Config::default() }).await;
    let (mut t, ack) = TestClient::connect(b.local_addr(), connect(V5, "c")).await;
    assert_eq!(ack.properties.topic_alias_maximum(), Some(4));
    t.publish(publish_props("ta/x", "x", QoS::AtLeastOnce, vec![Property::TopicAlias(4)])).await;
    t.send(Packet::Publish(publish_props("ta/x", "x", QoS::AtMostOnce, vec![Property::TopicAlias(5)]))).await;
    expect_disconnect(&mut t, reason::TOPIC_ALIAS_INVALID).await;
}

/// 5.0 3.3.2.3.4: an empty topic with an alias that has no mapping is a Protocol Error (0x82).
#[tokio::test]
async fn v5_unknown_topic_alias_gets_protocol_error() {
    let b = broker().await;
    let mut t = TestClient::connected(b.local_addr(), connect(V5, "c")).await;
    t.send(Packet::Publish(publish_props("", "x", QoS::AtMostOnce, vec![Property::TopicAlias(2)]))).await;
    expect_disconnect(&mut t, reason::PROTOCOL_ERROR).await;
}

/// 5.0 3.2.2.3: CONNACK properties state the configured capabilities (Receive Maximum, Maximum QoS,
/// Retain Available, Maximum Packet Size, Topic Alias Maximum, Shared Subscription Available) and
/// do not announce values the client did not need (no Assigned Client Identifier for a given id; Server
/// Keep Alive and Session Expiry only equal to what was asked, if at all); Maximum QoS 2 must be absent.
#[tokio::test]
async fn v5_connack_properties_reflect_config() {
    let b = broker().await;
    let (_t, ack) = TestClient::connect(b.local_addr(), connect(V5, "c")).await;
    let p = &ack.properties;
    assert_eq!(p.receive_maximum(), Some(1024));
    assert_eq!(p.maximum_packet_size(), Some(1 << 20));
    assert_eq!(p.topic_alias_maximum(), Some(32));
    assert_eq!(p.maximum_qos(), None, "absent means QoS 2 is supported");
    assert_ne!(p.retain_available(), Some(0), "retain is available");
    assert_eq!(p.assigned_client_identifier(), None, "the client gave an id");
    assert!(matches!(p.server_keep_alive(), None | Some(60)), "keep-alive accepted as asked");
    assert!(matches!(p.session_expiry_interval(), None | Some(0)), "session expiry accepted as asked");
    assert!(p.0.contains(&Property::SharedSubscriptionAvailable(1)), "shared subscriptions are supported");

    let cfg = Config {
        max_qos: 1,
        retain_available: false,
        receive_maximum: 7,
        topic_alias_maximum: 3,
        max_packet_size: 4096,
        ..Config::default()
    };
    let b = broker_with(cfg).await;
    let (_t, ack) = TestClient::connect(b.local_addr(), connect(V5, "c")).await;
    let p = &ack.properties;
    assert_eq!(
        (p.receive_maximum(), p.maximum_qos(), p.retain_available(), p.maximum_packet_size(), p.topic_alias_maximum()),
        (Some(7), Some(1), Some(0), Some(4096), Some(3))
    );
}

// ------------------------------------------------------------------ QoS flows

/// MQTT-4.3.1 / 4.3.2 / 4.3.3 (MQTT-4.3.2-1..-5, MQTT-4.3.3-1..-13): QoS 0, 1 and 2 flows complete in
/// both directions (client → broker: PUBACK / PUBREC+PUBCOMP; broker → client: PUBLISH at the
/// published QoS with PUBREL after PUBREC, DUP 0 even if the incoming copy had DUP 1, MQTT-3.3.1-3),
/// in both versions, and nothing is redelivered.
#[tokio::test]
async fn publish_qos_0_1_2_flows_both_ways() {
    let b = broker().await;
    for v in VERSIONS {
        let mut s = subscriber(b.local_addr(), v, &format!("s-{v:?}"), "flow/#", QoS::ExactlyOnce).await;
        let mut p = TestClient::connected(b.local_addr(), connect(v, &format!("p-{v:?}"))).await;
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let topic = format!("flow/{}", qos as u8);
            // An incoming DUP is not propagated (MQTT-3.3.1-3): send the first copy with DUP 1.
            let mut m = publish(&topic, "payload", qos, false);
            m.dup = qos != QoS::AtMostOnce;
            p.publish(m).await;
            let m = s.expect_publish().await;
            assert_eq!((m.topic.as_str(), m.qos, m.dup, m.retain), (topic.as_str(), qos, false, false), "{v:?}");
            assert_eq!(m.packet_id.is_some(), qos != QoS::AtMostOnce);
        }
        s.assert_nothing_for(QUIET).await;
        p.assert_nothing_for(Duration::from_millis(50)).await;
    }
}

/// 5.0 3.4.2.1 / 3.5.2.1: PUBACK and PUBREC say 0x10 (No matching subscribers) when nobody is
/// subscribed (a MAY that this broker implements) and 0x00 otherwise; PUBCOMP completes with 0x00.
#[tokio::test]
async fn v5_puback_reports_no_matching_subscribers() {
    let b = broker().await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    for (qos, matched) in [(QoS::AtLeastOnce, false), (QoS::ExactlyOnce, false), (QoS::AtLeastOnce, true)] {
        if matched {
            let _s = subscriber(b.local_addr(), V5, "s", "nm/t", QoS::AtLeastOnce).await;
            let mut m = publish("nm/t", "x", qos, false);
            m.packet_id = Some(p.pid());
            p.send(Packet::Publish(m)).await;
            match p.next().await {
                Packet::PubAck(r) => assert_eq!(r.reason, 0),
                other => panic!("expected PUBACK, got {other:?}"),
            }
            continue;
        }
        let mut m = publish("nm/t", "x", qos, false);
        let id = p.pid();
        m.packet_id = Some(id);
        p.send(Packet::Publish(m)).await;
        match p.next().await {
            Packet::PubAck(r) | Packet::PubRec(r) => assert_eq!(r.reason, reason::NO_MATCHING_SUBSCRIBERS),
            other => panic!("expected PUBACK/PUBREC, got {other:?}"),
        }
        if qos == QoS::ExactlyOnce {
            p.send(Packet::PubRel(PubResp::new(id))).await;
            assert!(matches!(p.next().await, Packet::PubComp(r) if r.packet_id == id && r.reason == 0));
        }
    }
}

/// MQTT-4.3.3 (Method B, MQTT-4.3.3-9/-10): a QoS 2 PUBLISH retransmitted with DUP before PUBREL is
/// acknowledged again but delivered once; after PUBCOMP the packet id is free for a new message.
#[tokio::test]
async fn qos2_retransmitted_publish_is_delivered_once() {
    let b = broker().await;
    for v in VERSIONS {
        let mut s = subscriber(b.local_addr(), v, "s", "q2/t", QoS::ExactlyOnce).await;
        let mut p = TestClient::connected(b.local_addr(), connect(v, "p")).await;
        let mut m = publish("q2/t", "once", QoS::ExactlyOnce, false);
        m.packet_id = Some(9);
        p.send(Packet::Publish(m.clone())).await;
        assert!(matches!(p.next().await, Packet::PubRec(r) if r.packet_id == 9));
        m.dup = true;
        p.send(Packet::Publish(m.clone())).await;
        assert!(matches!(p.next().await, Packet::PubRec(r) if r.packet_id == 9));
        p.send(Packet::PubRel(PubResp::new(9))).await;
        assert!(matches!(p.next().await, Packet::PubComp(r) if r.packet_id == 9));
        assert_eq!(&s.expect_publish().await.payload[..], b"once");
        s.assert_nothing_for(QUIET).await;
        // The id is free again: the same id now carries a new message.
        p.publish(Publish { dup: false, payload: Bytes::from_static(b"again"), ..m }).await;
        assert_eq!(&s.expect_publish().await.payload[..], b"again", "{v:?}");
        s.disconnect(0, Properties::new()).await;
        p.disconnect(0, Properties::new()).await;
    }
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

// ------------------------------------------------------------------ message expiry and properties

/// 5.0 MQTT-3.3.2-6: the forwarded Message Expiry Interval is what is left: about 10 s to a live
/// subscriber, about 8 s to a session that waited 2 s offline.
#[tokio::test]
async fn v5_message_expiry_forwarded_with_remaining_time() {
    let b = broker().await;
    let mut live = subscriber(b.local_addr(), V5, "live", "mei/t", QoS::AtLeastOnce).await;
    let mut s = TestClient::connected(b.local_addr(), persistent(V5, "s")).await;
    s.subscribe("mei/t", QoS::AtLeastOnce).await;
    s.disconnect(0, Properties::new()).await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    p.publish(publish_props("mei/t", "x", QoS::AtLeastOnce, vec![Property::MessageExpiryInterval(10)])).await;
    let now = live.expect_publish().await.properties.message_expiry_interval();
    assert!(matches!(now, Some(9..=10)), "live subscriber: {now:?}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (mut s, _) = TestClient::connect(b.local_addr(), persistent(V5, "s")).await;
    let later = s.expect_publish().await.properties.message_expiry_interval();
    assert!(matches!(later, Some(7..=8)), "after 2.1 s offline: {later:?}");
}

/// 5.0 MQTT-3.3.2-5: a message that expired while queued for an offline session is not delivered.
#[tokio::test]
async fn v5_expired_message_not_delivered() {
    let b = broker().await;
    let mut s = TestClient::connected(b.local_addr(), persistent(V5, "s")).await;
    s.subscribe("exp/#", QoS::AtLeastOnce).await;
    s.disconnect(0, Properties::new()).await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    p.publish(publish_props("exp/old", "old", QoS::AtLeastOnce, vec![Property::MessageExpiryInterval(1)])).await;
    p.publish(publish("exp/fresh", "fresh", QoS::AtLeastOnce, false)).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (mut s, ack) = TestClient::connect(b.local_addr(), persistent(V5, "s")).await;
    assert!(ack.session_present);
    let m = s.expect_publish().await;
    assert_eq!(&m.payload[..], b"fresh");
    assert_eq!(m.properties.message_expiry_interval(), None);
    s.assert_nothing_for(QUIET).await;
}

/// 5.0 MQTT-3.3.2-4 (Payload Format Indicator), 3.3.2.3.9 (Content Type), MQTT-3.3.2-15/-16
/// (Response Topic, Correlation Data) and MQTT-3.3.2-17/-18 (User Properties, order kept): forwarded
/// unchanged, in order, at QoS 0 and 1.
#[tokio::test]
async fn v5_publish_properties_forwarded_unchanged_and_in_order() {
    let b = broker().await;
    let mut s = subscriber(b.local_addr(), V5, "s", "props/#", QoS::AtLeastOnce).await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    let props = vec![
        Property::UserProperty("k1".into(), "v1".into()),
        Property::PayloadFormatIndicator(1),
        Property::ContentType("application/json".into()),
        Property::ResponseTopic("reply/to".into()),
        Property::CorrelationData(Bytes::from_static(&[0, 1, 0xFF])),
        Property::UserProperty("k2".into(), "v2".into()),
        Property::UserProperty("k1".into(), "v3".into()),
    ];
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        p.publish(publish_props("props/t", "{}", qos, props.clone())).await;
        let m = s.expect_publish().await;
        assert_eq!(m.properties.0, props, "QoS {qos:?}");
    }
}

// ------------------------------------------------------------------ subscriptions

/// MQTT-4.7.1-2 / -3 (section 4.7.1): `+` matches one level, `#` matches the parent and any depth.
#[tokio::test]
async fn wildcard_subscriptions_match() {
    let b = broker().await;
    for v in VERSIONS {
        let mut s = TestClient::connected(b.local_addr(), connect(v, "s")).await;
        s.subscribe("a/+/c", QoS::AtMostOnce).await;
        s.subscribe("x/#", QoS::AtMostOnce).await;
        let mut p = TestClient::connected(b.local_addr(), connect(v, "p")).await;
        for t in ["a/b/c", "a/b/d", "x", "a/c", "x/y/z", "a//c", "xx/y", "a/b/c/d"] {
            p.publish(publish(t, t, QoS::AtLeastOnce, false)).await;
        }
        for want in ["a/b/c", "x", "x/y/z", "a//c"] {
            assert_eq!(s.expect_publish().await.topic, want, "{v:?}");
        }
        s.assert_nothing_for(QUIET).await;
        s.disconnect(0, Properties::new()).await;
        p.disconnect(0, Properties::new()).await;
    }
}

/// MQTT-4.7.2-1: topics starting with `$` are not matched by filters starting with `#` or `+`, but are
/// by a filter naming the `$` level.
#[tokio::test]
async fn dollar_topics_not_matched_by_leading_wildcards() {
    // The publisher here plays the server's part on `$SYS`: clients may only with the option on.
    let b = broker_with(Config { allow_dollar_topic_publish: true, ..Config::default() }).await;
    let mut wild = TestClient::connected(b.local_addr(), connect(V311, "wild")).await;
    wild.subscribe("#", QoS::AtMostOnce).await;
    wild.subscribe("+/info", QoS::AtMostOnce).await;
    let mut sys = subscriber(b.local_addr(), V5, "sys", "$SYS/#", QoS::AtMostOnce).await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    p.publish(publish("$SYS/info", "d", QoS::AtLeastOnce, false)).await;
    assert_eq!(sys.expect_publish().await.topic, "$SYS/info");
    wild.assert_nothing_for(QUIET).await;
}

/// MQTT-3.10.4-1..-5 / 5.0 3.11.3: UNSUBSCRIBE removes the subscription (no more deliveries) and gets
/// UNSUBACK; in 5.0 with one code per filter (0x00, or 0x11 No subscription existed).
#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let b = broker().await;
    for v in VERSIONS {
        let mut s = subscriber(b.local_addr(), v, "s", "un/#", QoS::AtLeastOnce).await;
        let ack = unsubscribe(&mut s, &["un/#", "never/subscribed"]).await;
        let want: Vec<u8> = if v.is_v5() { vec![0x00, reason::NO_SUBSCRIPTION_EXISTED] } else { vec![] };
        assert_eq!(ack.codes, want, "{v:?}");
        let mut p = TestClient::connected(b.local_addr(), connect(v, "p")).await;
        p.publish(publish("un/t", "x", QoS::AtLeastOnce, false)).await;
        s.assert_nothing_for(QUIET).await;
        s.disconnect(0, Properties::new()).await;
        p.disconnect(0, Properties::new()).await;
    }
}

/// MQTT-4.7.1-1 / -2 and 3.9.3: an invalid topic filter is refused in SUBACK (3.1.1 0x80, 5.0 0x8F)
/// while valid filters in the same SUBSCRIBE are granted.
#[tokio::test]
async fn invalid_topic_filter_refused_in_suback() {
    let b = broker().await;
    for v in VERSIONS {
        let mut s = TestClient::connected(b.local_addr(), connect(v, "s")).await;
        let id = s.pid();
        let filters = ["a/#/b", "ok/+", "a+", "##"].iter().map(|f| (f.to_string(), SubOptions::qos(QoS::AtLeastOnce))).collect();
        s.send(Packet::Subscribe(Subscribe { packet_id: id, properties: Properties::new(), filters })).await;
        let bad = if v.is_v5() { reason::TOPIC_FILTER_INVALID } else { reason::v311::SUBACK_FAILURE };
        match s.next().await {
            Packet::SubAck(a) => assert_eq!(a.codes, vec![bad, 1, bad, bad], "{v:?}"),
            other => panic!("expected SUBACK, got {other:?}"),
        }
        s.disconnect(0, Properties::new()).await;
    }
}

/// MQTT-3.8.4-3: a SUBSCRIBE for an existing filter replaces the subscription (new QoS, one delivery).
#[tokio::test]
async fn resubscribe_replaces_subscription() {
    let b = broker().await;
    for v in VERSIONS {
        let mut s = subscriber(b.local_addr(), v, "s", "re/t", QoS::AtMostOnce).await;
        s.subscribe("re/t", QoS::AtLeastOnce).await;
        let mut p = TestClient::connected(b.local_addr(), connect(v, "p")).await;
        p.publish(publish("re/t", "x", QoS::ExactlyOnce, false)).await;
        assert_eq!(s.expect_publish().await.qos, QoS::AtLeastOnce, "{v:?}");
        s.assert_nothing_for(QUIET).await;
        s.disconnect(0, Properties::new()).await;
        p.disconnect(0, Properties::new()).await;
    }
}

/// 5.0 MQTT-3.8.3-3: with No Local a client does not get its own publications, but gets other
/// clients' on the same filter.
#[tokio::test]
async fn v5_no_local() {
    let b = broker().await;
    let mut c = TestClient::connected(b.local_addr(), connect(V5, "c")).await;
    let opts = SubOptions { no_local: true, ..SubOptions::qos(QoS::AtLeastOnce) };
    assert_eq!(c.subscribe_with("nl/t", opts, Properties::new()).await, vec![1]);
    c.publish(publish("nl/t", "mine", QoS::AtLeastOnce, false)).await;
    c.assert_nothing_for(QUIET).await;
    let mut other = TestClient::connected(b.local_addr(), connect(V5, "other")).await;
    other.publish(publish("nl/t", "theirs", QoS::AtLeastOnce, false)).await;
    assert_eq!(&c.expect_publish().await.payload[..], b"theirs");
}

/// 5.0 MQTT-3.3.1-12 / -13: Retain As Published 1 keeps the RETAIN flag of a live retained message;
/// with 0 it is cleared.
#[tokio::test]
async fn v5_retain_as_published() {
    let b = broker().await;
    let mut rap = TestClient::connected(b.local_addr(), connect(V5, "rap")).await;
    let opts = SubOptions { retain_as_published: true, ..SubOptions::qos(QoS::AtLeastOnce) };
    rap.subscribe_with("rap/t", opts, Properties::new()).await;
    let mut plain = subscriber(b.local_addr(), V5, "plain", "rap/t", QoS::AtLeastOnce).await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    p.publish(publish("rap/t", "r", QoS::AtLeastOnce, true)).await;
    p.publish(publish("rap/t", "n", QoS::AtLeastOnce, false)).await;
    assert!(rap.expect_publish().await.retain, "RAP 1 keeps RETAIN");
    assert!(!rap.expect_publish().await.retain);
    assert!(!plain.expect_publish().await.retain, "RAP 0 clears RETAIN");
    assert!(!plain.expect_publish().await.retain);
}

/// 5.0 MQTT-3.3.1-9 / -10 / -11 (Retain Handling): 0 sends retained messages on every SUBSCRIBE, 1
/// only when the subscription is new, 2 never.
#[tokio::test]
async fn v5_retain_handling_0_1_2() {
    let b = broker().await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    p.publish(publish("rh/t", "kept", QoS::AtLeastOnce, true)).await;
    let mut s = TestClient::connected(b.local_addr(), connect(V5, "s")).await;
    for (rh, filter, first, again) in [(0u8, "rh/t", true, true), (1, "rh/+", true, false), (2, "rh/#", false, false)] {
        let opts = SubOptions { retain_handling: rh, ..SubOptions::qos(QoS::AtLeastOnce) };
        for (round, want) in [(0, first), (1, again)] {
            s.subscribe_with(filter, opts, Properties::new()).await;
            if want {
                let m = s.expect_publish().await;
                assert!(m.retain && &m.payload[..] == b"kept", "RH {rh} round {round}");
            }
            s.assert_nothing_for(Duration::from_millis(100)).await;
        }
        unsubscribe(&mut s, &[filter]).await;
    }
}

/// 5.0 MQTT-3.3.4-2 / -3 / -4 (MQTT-3.8.2-? Subscription Identifier): overlapping subscriptions give
/// one delivery at the highest granted QoS carrying every matching Subscription Identifier.
#[tokio::test]
async fn v5_overlapping_subscriptions_one_delivery_with_all_identifiers() {
    let b = broker().await;
    let mut s = TestClient::connected(b.local_addr(), connect(V5, "s")).await;
    s.subscribe_with("ov/#", SubOptions::qos(QoS::AtMostOnce), Properties(vec![Property::SubscriptionIdentifier(1)])).await;
    s.subscribe_with("ov/+", SubOptions::qos(QoS::AtLeastOnce), Properties(vec![Property::SubscriptionIdentifier(200)]))
        .await;
    s.subscribe("ov/x", QoS::AtMostOnce).await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    p.publish(publish("ov/x", "x", QoS::ExactlyOnce, false)).await;
    let m = s.expect_publish().await;
    assert_eq!(m.qos, QoS::AtLeastOnce, "highest granted QoS");
    let ids: BTreeSet<u32> = m.properties.subscription_identifiers().into_iter().collect();
    assert_eq!(ids, BTreeSet::from([1, 200]));
    s.assert_nothing_for(QUIET).await;
    // A topic matched by one subscription only carries that one identifier.
    p.publish(publish("ov/x/y", "y", QoS::AtLeastOnce, false)).await;
    assert_eq!(s.expect_publish().await.properties.subscription_identifiers(), vec![1]);
}

// ------------------------------------------------------------------ retained messages

/// MQTT-3.3.1-5 / -6 / -8 / -10 / -11 (3.1.1; 5.0 MQTT-3.3.1-5..-7): a retained message is stored and
/// given with RETAIN 1 to new subscriptions, a newer one replaces it, and an empty retained message
/// deletes it (and is not stored itself).
#[tokio::test]
async fn retained_message_store_replace_delete() {
    let b = broker().await;
    for v in VERSIONS {
        let topic = format!("ret/{v:?}");
        let mut p = TestClient::connected(b.local_addr(), connect(v, "p")).await;
        p.publish(publish(&topic, "one", QoS::AtLeastOnce, true)).await;
        let mut n = subscriber(b.local_addr(), v, "n1", &topic, QoS::AtLeastOnce).await;
        let m = n.expect_publish().await;
        assert!(m.retain && &m.payload[..] == b"one", "{v:?}");
        p.publish(publish(&topic, "two", QoS::AtLeastOnce, true)).await;
        assert!(!n.expect_publish().await.retain, "a live copy has RETAIN 0");
        let mut n2 = subscriber(b.local_addr(), v, "n2", &topic, QoS::AtLeastOnce).await;
        let m = n2.expect_publish().await;
        assert!(m.retain && &m.payload[..] == b"two", "{v:?}: replaced");
        n2.assert_nothing_for(Duration::from_millis(100)).await;
        p.publish(publish(&topic, "", QoS::AtLeastOnce, true)).await;
        let mut n3 = subscriber(b.local_addr(), v, "n3", &topic, QoS::AtLeastOnce).await;
        n3.assert_nothing_for(QUIET).await;
    }
}

/// 5.0 MQTT-3.3.2-5 / -6 for retained messages: a retained message carries its remaining expiry and
/// is no longer given to new subscribers once it expired.
#[tokio::test]
async fn v5_retained_message_expires() {
    let b = broker().await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    let mut m = publish_props("rexp/t", "short", QoS::AtLeastOnce, vec![Property::MessageExpiryInterval(1)]);
    m.retain = true;
    p.publish(m).await;
    let mut n = subscriber(b.local_addr(), V5, "n", "rexp/t", QoS::AtLeastOnce).await;
    assert_eq!(n.expect_publish().await.properties.message_expiry_interval(), Some(1));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut late = subscriber(b.local_addr(), V5, "late", "rexp/t", QoS::AtLeastOnce).await;
    late.assert_nothing_for(QUIET).await;
}

// ------------------------------------------------------------------ configured capabilities

/// 5.0 MQTT-3.2.2-9..-12 and 3.9.3 (3.1.1 MQTT-3.8.4-6): with `max_qos: 1` SUBACK grants at most
/// QoS 1, a Will at QoS 2 is refused with CONNACK 0x9B, and a QoS 2 PUBLISH gets DISCONNECT 0x9B.
#[tokio::test]
async fn max_qos_caps_granted_qos() {
    let b = broker_with(Config { max_qos: 1, ..Config::default() }).await;
    for v in VERSIONS {
        let mut s = TestClient::connected(b.local_addr(), connect(v, "s")).await;
        assert_eq!(s.subscribe_with("mq/t", SubOptions::qos(QoS::ExactlyOnce), Properties::new()).await, vec![1], "{v:?}");
        s.disconnect(0, Properties::new()).await;
    }
    let (_w, ack) =
        TestClient::connect(b.local_addr(), connect_with_will(V5, "w", will("mq/w", "x", QoS::ExactlyOnce, false))).await;
    assert_eq!(ack.code, reason::QOS_NOT_SUPPORTED);
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    let mut m = publish("mq/t", "x", QoS::ExactlyOnce, false);
    m.packet_id = Some(1);
    p.send(Packet::Publish(m)).await;
    expect_disconnect(&mut p, reason::QOS_NOT_SUPPORTED).await;
}

/// 5.0 MQTT-3.2.2-13 / -14: with `retain_available: false` CONNACK says Retain Available 0, a Will
/// Retain CONNECT is refused with 0x9A, and a retained PUBLISH gets DISCONNECT 0x9A.
#[tokio::test]
async fn retain_unavailable_retained_publish_gets_disconnect_0x9a() {
    let b = broker_with(Config { retain_available: false, ..Config::default() }).await;
    let (_w, ack) = TestClient::connect(b.local_addr(), connect_with_will(V5, "w", will("ra/w", "x", QoS::AtMostOnce, true))).await;
    assert_eq!(ack.code, reason::RETAIN_NOT_SUPPORTED);
    let (mut p, ack) = TestClient::connect(b.local_addr(), connect(V5, "p")).await;
    assert_eq!(ack.properties.retain_available(), Some(0));
    p.publish(publish("ra/t", "plain is fine", QoS::AtLeastOnce, false)).await;
    p.send(Packet::Publish(publish("ra/t", "x", QoS::AtMostOnce, true))).await;
    expect_disconnect(&mut p, reason::RETAIN_NOT_SUPPORTED).await;
}

// ------------------------------------------------------------------ robustness

/// A stalled subscriber (connects, subscribes, then never reads, with a 4 KiB receive buffer) does not
/// slow down another subscriber of the same topic, which gets all 5,000 QoS 0 messages in order.
#[tokio::test]
async fn stalled_subscriber_does_not_block_other_subscribers() {
    const N: usize = 5000;
    let b = broker().await;
    let addr = b.local_addr();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut stalled = Connection::new(sock.connect(addr).await.unwrap());
    stalled.set_version(V311);
    stalled.write_packet(&Packet::Connect(connect(V311, "stalled"))).await.unwrap();
    assert!(matches!(stalled.read_packet().await, Ok(Some(Packet::ConnAck(a))) if a.code == 0));
    let sub = Subscribe { packet_id: 1, properties: Properties::new(), filters: vec![("load/#".into(), SubOptions::qos(QoS::AtMostOnce))] };
    stalled.write_packet(&Packet::Subscribe(sub)).await.unwrap();
    assert!(matches!(stalled.read_packet().await, Ok(Some(Packet::SubAck(_)))));
    // From here on `stalled` is never read.

    let mut good = subscriber(addr, V311, "good", "load/#", QoS::AtMostOnce).await;
    let mut p = TestClient::connected(addr, connect(V311, "p")).await;
    let filler = "x".repeat(1000);
    let mut bytes = BytesMut::new();
    for i in 0..N {
        Packet::Publish(publish("load/t", &format!("{i:05}{filler}"), QoS::AtMostOnce, false)).encode(V311, &mut bytes);
    }
    let start = Instant::now();
    let sender = tokio::spawn(async move {
        p.send_raw(&bytes).await;
        p
    });
    for i in 0..N {
        let m = match good.recv(Duration::from_secs(5)).await {
            Recv::Packet(Packet::Publish(m)) => m,
            other => panic!("message {i} of {N}: {other:?}"),
        };
        assert_eq!(&m.payload[..5], format!("{i:05}").as_bytes(), "in order, none lost");
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "{N} messages took {took:?}");
    let _p = sender.await.unwrap();
    good.assert_nothing_for(Duration::from_millis(50)).await;
    drop(stalled);
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Deterministic xorshift64* for the fuzz cases (no extra dependency; fixed seed → reproducible).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Malformed or forbidden packets to send after a valid CONNECT (bytes on the wire).
fn malformed_packets() -> Vec<Vec<u8>> {
    vec![
        vec![0x36, 0x00],                                     // PUBLISH QoS 3
        vec![0x30, 0x02, 0x00, 0x05],                         // topic length beyond the packet
        vec![0x00, 0x00],                                     // reserved type 0
        vec![0x82, 0x00],                                     // SUBSCRIBE without packet id
        vec![0x80, 0x06, 0, 1, 0, 1, b'a', 0],                // SUBSCRIBE with flags 0
        vec![0x82, 0x06, 0, 1, 0, 1, b'a', 3],                // subscription QoS 3
        vec![0x82, 0x06, 0, 1, 0, 1, b'a', 0xC0],             // reserved subscription option bits
        vec![0x82, 0x02, 0, 1],                               // SUBSCRIBE without a filter
        vec![0xA2, 0x02, 0, 1],                               // UNSUBSCRIBE without a filter
        vec![0x60, 0x02, 0, 1],                               // PUBREL with flags 0
        vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],             // 5-byte Remaining Length
        vec![0x30, 0x80, 0x00],                               // non-minimal Remaining Length
        vec![0xC0, 0x01, 0x00],                               // PINGREQ with a body
        vec![0xE0, 0x01, 0xFF],                               // DISCONNECT reserved reason (v5)
        vec![0x20, 0x02, 0, 0],                               // CONNACK from a client
        vec![0x90, 0x03, 0, 1, 0],                            // SUBACK from a client
        vec![0x32, 0x05, 0, 1, b'a', 0, 0],                   // PUBLISH QoS 1 with packet id 0
        vec![0x30, 0x05, 0, 3, 0xFF, 0xFE, 0xFD],             // topic not UTF-8
        vec![0x30, 0x04, 0, 2, b'a', 0],                      // topic with U+0000
        vec![0x30, 0x05, 0, 3, b'a', b'/', b'#'],             // wildcard in a topic name
        vec![0x38, 0x03, 0, 1, b'a'],                         // DUP on QoS 0
        vec![0x30, 0x05, 0, 1, b'a', 0x10, 0x01],             // property length beyond the packet
        vec![0x30, 0x06, 0, 1, b'a', 0x02, 0x7F, 0x00],       // unknown property
        vec![0x30, 0x08, 0, 1, b'a', 0x04, 0x01, 0, 0x01, 0], // duplicate Payload Format Indicator
        vec![0x30, 0x06, 0, 1, b'a', 0x02, 0x0B, 0x01],       // Subscription Identifier from a client
        vec![0x30, 0x07, 0, 1, b'a', 0x03, 0x23, 0, 0],       // Topic Alias 0
        vec![0x30, 0x09, 0, 1, b'a', 0xFF, 0xFF, 0xFF, 0x7F, 0, 0], // huge property length
        vec![0x30, 0x06, 0, 1, b'a', 0x02, 0x01, 0x05],       // Payload Format Indicator 5
        vec![0xF0, 0x02, 0x18, 0x00],                         // AUTH without method (v3: reserved)
        vec![0x62, 0x02, 0, 1, 0x62, 0x02, 0, 1],             // PUBREL for unknown ids, twice
        vec![0x34, 0x05, 0, 1, b'a', 0, 1, 0x34, 0x05, 0, 1, b'a', 0, 1], // QoS 2 twice, no PUBREL
    ]
}

/// Bad input never panics the broker: ~200 connections each send random bytes, a garbage CONNECT,
/// a mutated valid CONNECT, or a valid CONNECT followed by a malformed packet or random frame; then
/// fresh 3.1.1 and 5.0 clients still connect, subscribe and get messages, and no broker task panicked
/// (panics on this test's runtime thread are counted by a panic hook).
#[tokio::test]
async fn garbage_input_never_panics_the_broker() {
    let me = std::thread::current().name().map(str::to_owned);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if me.is_some() && std::thread::current().name().map(str::to_owned) == me {
            PANICS.fetch_add(1, Ordering::SeqCst);
        }
        prev(info)
    }));
    let b = broker().await;
    let addr = b.local_addr();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let malformed = malformed_packets();
    let mut will_connect = connect_with_will(V5, "fz", will("fz/w", "bye", QoS::AtLeastOnce, true));
    will_connect.properties = Properties(vec![Property::SessionExpiryInterval(10), Property::ReceiveMaximum(5)]);
    will_connect.will.as_mut().unwrap().properties =
        Properties(vec![Property::WillDelayInterval(1), Property::UserProperty("a".into(), "b".into())]);
    will_connect.username = Some("u".into());
    will_connect.password = Some(Bytes::from_static(b"p"));
    let valid_v5 = Packet::Connect(will_connect).to_bytes(V5);
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for i in 0..200 {
        let v = if i % 2 == 0 { V311 } else { V5 };
        let mut bytes = match i % 5 {
            0 => {
                let n = 1 + rng.below(200);
                rng.bytes(n)
            }
            1 => {
                let n = rng.below(120);
                let mut b = vec![0x10, n as u8];
                b.extend(rng.bytes(n));
                b
            }
            2 => {
                let mut b = valid_v5.to_vec();
                for _ in 0..1 + rng.below(3) {
                    let at = rng.below(b.len());
                    b[at] = rng.next() as u8;
                }
                b
            }
            3 => {
                let mut b = Packet::Connect(connect(v, &format!("fz{i}"))).to_bytes(v).to_vec();
                b.extend(&malformed[rng.below(malformed.len())]);
                b
            }
            _ => {
                let mut b = Packet::Connect(connect(v, &format!("fz{i}"))).to_bytes(v).to_vec();
                let n = rng.below(60);
                b.push(rng.next() as u8);
                b.push(n as u8);
                b.extend(rng.bytes(n));
                b
            }
        };
        if i % 7 == 0 {
            // Sometimes cut the case short, to end inside a packet.
            let keep = 1 + rng.below(bytes.len());
            bytes.truncate(keep);
        }
        cases.push(bytes);
    }
    let mut tasks = Vec::new();
    for (i, bytes) in cases.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else { return };
            let _ = s.write_all(&bytes).await;
            let mut buf = [0u8; 1024];
            // Drain whatever the broker answers until it closes or goes quiet.
            let _ = tokio::time::timeout(Duration::from_millis(300), async {
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
            if i % 2 == 0 {
                let _ = s.set_zero_linger();
            }
        }));
    }
    for t in tasks {
        t.await.expect("fuzz connection task");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = b.stats().await;
    for v in VERSIONS {
        let mut s = subscriber(addr, v, "after-s", "after/t", QoS::AtLeastOnce).await;
        let mut p = TestClient::connected(addr, connect(v, "after-p")).await;
        p.publish(publish("after/t", "alive", QoS::AtLeastOnce, false)).await;
        assert_eq!(&s.expect_publish().await.payload[..], b"alive", "{v:?}: broker still works");
        s.disconnect(0, Properties::new()).await;
        p.disconnect(0, Properties::new()).await;
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a broker task panicked on bad input (see stderr)");
}

/// 5.0 MQTT-4.13.1-1 / MQTT-4.13.2-1: a malformed packet after CONNACK gets DISCONNECT 0x81 before
/// the close (a protocol error gets 0x82).
#[tokio::test]
async fn v5_malformed_packet_after_connack_gets_disconnect_0x81() {
    let b = broker().await;
    let cases: [(&[u8], u8); 5] = [
        (&[0x36, 0x00], reason::MALFORMED_PACKET),
        (&[0xC0, 0x01, 0x00], reason::MALFORMED_PACKET),
        (&[0x30, 0x06, 0, 1, b'a', 0x02, 0x7F, 0x00], reason::MALFORMED_PACKET),
        (&[0x30, 0x02, 0x00, 0x05], reason::MALFORMED_PACKET),
        (&[0x30, 0x08, 0, 1, b'a', 0x04, 0x01, 0, 0x01, 0], reason::PROTOCOL_ERROR),
    ];
    for (bytes, code) in cases {
        let mut t = TestClient::connected(b.local_addr(), connect(V5, "c")).await;
        t.send_raw(bytes).await;
        expect_disconnect(&mut t, code).await;
    }
}
