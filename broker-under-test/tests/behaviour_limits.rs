//! General broker behaviour of `lwt-broker`: keep-alive and the 5.0 limits (Receive Maximum, Maximum
//! Packet Size, Topic Alias, CONNACK capabilities) and the configured capabilities (`max_qos`,
//! `retain_available`). Each test starts its own embedded broker and talks to it over real TCP
//! sockets with exact packets; absence is proven with the ping barrier.
mod behaviour_common;
mod common;
use behaviour_common::*;
use bytes::BytesMut;
use common::*;
use lwt_broker::codec::*;
use lwt_broker::Config;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

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
