//! MQTT 5.0 Will rules (reference sections 1.2 and 1.4), Will properties: forwarding, Message
//! Expiry online, offline and retained, payload, Maximum Packet Size and Subscription Identifiers;
//! one small test per behaviour, each through a real socket against its own embedded broker. W is
//! the client with the Will, S a watcher subscribed before the fault, N a subscriber that arrives
//! afterwards. Absence is always proved with `assert_nothing_for` (a ping barrier on a live
//! observer), never by a bare timeout.
//!
//! Timing of Will Delay / Session Expiry interplay lives in `v5_will_delay_table.rs`.
mod common;
mod v5_will_common;
use bytes::Bytes;
use common::*;
use lwt_broker::codec::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;
use v5_will_common::*;

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
