//! MQTT 5.0 Will rules (reference sections 1.2 and 1.4), how the Will is delivered: its QoS and
//! RETAIN against each subscription, and exactly once; one small test per behaviour, each through a
//! real socket against its own embedded broker. W is the client with the Will, S a watcher
//! subscribed before the fault, N a subscriber that arrives afterwards. Absence is always proved
//! with `assert_nothing_for` (a ping barrier on a live observer), never by a bare timeout.
//!
//! Timing of Will Delay / Session Expiry interplay lives in `v5_will_delay_table.rs`.
mod common;
mod v5_will_common;
use common::*;
use lwt_broker::codec::*;
use std::time::Duration;
use v5_will_common::*;

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
