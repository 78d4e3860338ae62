//! General broker behaviour of `lwt-broker`: the QoS 0/1/2 flows, message expiry and the forwarding
//! of PUBLISH properties. Each test starts its own embedded broker and talks to it over real TCP
//! sockets with exact packets; absence is proven with the ping barrier.
mod behaviour_common;
mod common;
use behaviour_common::*;
use bytes::Bytes;
use common::*;
use lwt_broker::codec::*;
use std::time::Duration;

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
