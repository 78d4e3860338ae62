//! General broker behaviour of `lwt-broker`: subscriptions (wildcards, `$` topics, UNSUBSCRIBE,
//! invalid filters, the 5.0 subscription options and identifiers) and retained messages. Each test
//! starts its own embedded broker and talks to it over real TCP sockets with exact packets; absence is
//! proven with the ping barrier.
mod behaviour_common;
mod common;
use behaviour_common::*;
use common::*;
use lwt_broker::codec::*;
use lwt_broker::Config;
use std::collections::BTreeSet;
use std::time::Duration;

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
