//! Where the spec lets a server be stricter, on real sockets: a wildcard Response Topic (PUBLISH
//! and will), client ids outside the 3.1.1 charset (`strict_client_ids`), and client PUBLISHes to
//! `$` topics (`allow_dollar_topic_publish`).

mod common;

use common::*;
use lwt_broker::codec::*;
use lwt_broker::Config;
use std::time::Duration;

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V311;
const QUIET: Duration = Duration::from_millis(300);

/// MQTT-3.3.2-14: a Response Topic with a wildcard ends the connection with DISCONNECT 0x82 and
/// the message reaches nobody; one without is forwarded.
#[tokio::test]
async fn a_wildcard_response_topic_is_a_protocol_error() {
    let b = broker().await;
    let mut s = TestClient::connected(b.local_addr(), connect(V5, "s")).await;
    s.subscribe("rt", QoS::AtLeastOnce).await;
    for bad in ["replies/+", "replies/#"] {
        let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
        let mut m = publish("rt", "x", QoS::AtLeastOnce, false);
        m.packet_id = Some(1);
        m.properties.push(Property::ResponseTopic(bad.into()));
        p.send(Packet::Publish(m)).await;
        let d = p.expect_closed().await;
        assert_eq!(d.map(|d| d.reason), Some(reason::PROTOCOL_ERROR), "{bad}");
    }
    s.assert_nothing_for(QUIET).await;
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "p")).await;
    let mut m = publish("rt", "ok", QoS::AtLeastOnce, false);
    m.properties.push(Property::ResponseTopic("replies/p".into()));
    p.publish(m).await;
    assert_eq!(s.expect_publish().await.properties.response_topic().as_deref(), Some("replies/p"));
}

/// The will would be forwarded with its Response Topic, so a wildcard there is refused at CONNECT
/// (CONNACK 0x82): the server never sends a PUBLISH breaking MQTT-3.3.2-14.
#[tokio::test]
async fn a_will_with_a_wildcard_response_topic_is_refused() {
    let b = broker().await;
    let mut w = will("w/t", "gone", QoS::AtLeastOnce, false);
    w.properties.push(Property::ResponseTopic("replies/#".into()));
    let (mut c, ack) = TestClient::connect(b.local_addr(), connect_with_will(V5, "w", w)).await;
    assert_eq!(ack.code, reason::PROTOCOL_ERROR);
    c.expect_closed().await;
}

/// MQTT-3.1.3-5: with `strict_client_ids` a client id outside 1–23 characters of 0-9a-zA-Z is
/// refused (5.0 0x85, 3.1.1 0x02); inside it, and an empty id (assigned), are accepted. Without
/// the option the longer charset is accepted.
#[tokio::test]
async fn strict_client_ids_refuse_ids_outside_the_3_1_1_charset() {
    let strict = broker_with(Config { strict_client_ids: true, ..Config::default() }).await;
    for (v, code) in [(V5, reason::CLIENT_IDENTIFIER_NOT_VALID), (V311, reason::v311::IDENTIFIER_REJECTED)] {
        for bad in ["sensor-1", "ABCDEFGHIJKLMNOPQRSTUVWX", "s/1"] {
            let (mut c, ack) = TestClient::connect(strict.local_addr(), connect(v, bad)).await;
            assert_eq!(ack.code, code, "{v:?} {bad}");
            c.expect_closed().await;
        }
        TestClient::connected(strict.local_addr(), connect(v, "Sensor1")).await;
    }
    TestClient::connected(strict.local_addr(), connect(V5, "")).await;
    let lax = broker().await;
    TestClient::connected(lax.local_addr(), connect(V311, "sensor-1-with-a-long-name")).await;
}

/// 4.7.2: a client PUBLISH to a `$` topic reaches no subscriber and is not retained: 5.0 QoS 1/2
/// get PUBACK/PUBREC 0x90, QoS 0 and 3.1.1 are acknowledged as usual (MQTT-3.3.5-2) and dropped;
/// the connection stays.
#[tokio::test]
async fn publishes_to_dollar_topics_are_refused_or_dropped() {
    let b = broker().await;
    let mut sys = TestClient::connected(b.local_addr(), connect(V5, "sys")).await;
    sys.subscribe("$SYS/#", QoS::AtLeastOnce).await;
    let mut p5 = TestClient::connected(b.local_addr(), connect(V5, "p5")).await;
    let mut p3 = TestClient::connected(b.local_addr(), connect(V311, "p3")).await;
    for (qos, pid) in [(QoS::AtLeastOnce, 1), (QoS::ExactlyOnce, 2)] {
        let mut m = publish("$SYS/fake", "x", qos, true);
        m.packet_id = Some(pid);
        p5.send(Packet::Publish(m.clone())).await;
        let r = match p5.next().await {
            Packet::PubAck(r) | Packet::PubRec(r) => r,
            other => panic!("expected PUBACK/PUBREC, got {other:?}"),
        };
        assert_eq!((r.packet_id, r.reason), (pid, reason::TOPIC_NAME_INVALID));
        p3.publish(m).await;
    }
    p5.send(Packet::Publish(publish("$SYS/fake", "x", QoS::AtMostOnce, false))).await;
    p5.assert_nothing_for(QUIET).await;
    sys.assert_nothing_for(QUIET).await;
    // Nothing was retained either.
    let mut late = TestClient::connected(b.local_addr(), connect(V5, "late")).await;
    late.subscribe("$SYS/#", QoS::AtLeastOnce).await;
    late.assert_nothing_for(QUIET).await;
}
