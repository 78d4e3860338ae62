//! MQTT 5.0 Will rules (reference sections 1.2 and 1.4), refused CONNECTs: a CONNECT whose Will
//! breaks a rule is refused with the right code and that Will is never published; one small test
//! per behaviour, each through a real socket against its own embedded broker. W is the client with
//! the Will, S a watcher subscribed before the fault, N a subscriber that arrives afterwards.
//! Absence is always proved with `assert_nothing_for` (a ping barrier on a live observer), never by
//! a bare timeout.
//!
//! Timing of Will Delay / Session Expiry interplay lives in `v5_will_delay_table.rs`.
mod common;
mod v5_will_common;
use bytes::Bytes;
use common::*;
use lwt_broker::codec::raw::CONNECT_FLAGS_OFFSET;
use lwt_broker::codec::*;
use lwt_broker::Config;
use std::time::Duration;
use v5_will_common::*;

// ------------------------------------------------------------------------------------------ refused CONNECT

/// MQTT-3.2.2-12 + MQTT-3.1.4-6: Will QoS 2 on a broker with Maximum QoS 1 → CONNACK 0x9B, close, and
/// that Will is never published.
#[tokio::test]
async fn will_qos_above_maximum_qos_refused_0x9b_and_never_published() {
    let b = broker_with(Config { max_qos: 1, ..Config::default() }).await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let (w, ack) =
        TestClient::connect(b.local_addr(), with_will("w", will5("nope", QoS::ExactlyOnce, false, vec![]))).await;
    expect_refused(w, Some(ack), reason::QOS_NOT_SUPPORTED).await;
    assert_no_will(&mut s).await;
}

/// MQTT-3.2.2-13 + MQTT-3.1.4-6: Will Retain 1 on a broker without retain → CONNACK 0x9A, close, and
/// that Will is never published.
#[tokio::test]
async fn will_retain_without_retain_available_refused_0x9a_and_never_published() {
    let b = broker_with(Config { retain_available: false, ..Config::default() }).await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let (w, ack) =
        TestClient::connect(b.local_addr(), with_will("w", will5("nope", QoS::AtLeastOnce, true, vec![]))).await;
    expect_refused(w, Some(ack), reason::RETAIN_NOT_SUPPORTED).await;
    assert_no_will(&mut s).await;
}

/// MQTT-4.12.0-1 + MQTT-3.1.4-6: an enhanced-authentication CONNECT (Authentication Method) on a
/// broker without it → CONNACK 0x8C, and its Will is never published.
#[tokio::test]
async fn enhanced_auth_connect_refused_0x8c_and_will_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut c = with_will("w", will5("nope", QoS::AtLeastOnce, false, vec![]));
    c.properties.push(Property::AuthenticationMethod("SCRAM-SHA-1".into()));
    let (w, ack) = TestClient::connect(b.local_addr(), c).await;
    expect_refused(w, Some(ack), reason::BAD_AUTHENTICATION_METHOD).await;
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.4-6 + MQTT-3.1.4-3: a refused CONNECT with the ClientId of a connected W processes nothing:
/// W is not taken over (it still answers PINGREQ) and neither W's Will nor the refused one is published.
#[tokio::test]
async fn refused_connect_does_not_take_over_or_publish_wills() {
    let b = broker_with(Config { max_qos: 1, ..Config::default() }).await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut w = will_client(b.local_addr(), "w", will5("w-will", QoS::AtLeastOnce, false, vec![])).await;
    let (w2, ack) =
        TestClient::connect(b.local_addr(), with_will("w", will5("refused-will", QoS::ExactlyOnce, false, vec![]))).await;
    expect_refused(w2, Some(ack), reason::QOS_NOT_SUPPORTED).await;
    assert_no_will(&mut s).await;
    w.assert_nothing_for(Duration::from_millis(10)).await; // still connected, no DISCONNECT 0x8E
}

/// MQTT-3.1.2-12 (5.0 numbering): Will QoS 3 is a Malformed Packet → CONNACK 0x81 (or a plain
/// close), and no Will is ever published.
#[tokio::test]
async fn will_qos_3_refused_0x81_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let c = with_will("w", will5("nope", QoS::ExactlyOnce, false, vec![]));
    let flags = raw_connect(&c).body[CONNECT_FLAGS_OFFSET];
    assert_eq!(flags & 0x18, 0x10, "QoS 2 bits before patching");
    let bytes = raw_connect(&c).patch(CONNECT_FLAGS_OFFSET, flags | 0x18).to_bytes();
    let (w, ack) = connect_raw(b.local_addr(), &bytes).await;
    if ack.is_some() {
        expect_refused(w, ack, reason::MALFORMED_PACKET).await;
    }
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.2-11: Will Flag 0 with a Will QoS bit set → CONNACK 0x81 and close.
#[tokio::test]
async fn will_flag_0_with_qos_bits_refused_0x81() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    let c = connect(V5, "w");
    let flags = raw_connect(&c).body[CONNECT_FLAGS_OFFSET];
    let bytes = raw_connect(&c).patch(CONNECT_FLAGS_OFFSET, flags | 0x08).to_bytes();
    let (w, ack) = connect_raw(b.local_addr(), &bytes).await;
    expect_refused(w, ack, reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.2-13: Will Flag 0 with Will Retain set → CONNACK 0x81 and close.
#[tokio::test]
async fn will_flag_0_with_retain_bit_refused_0x81() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    let c = connect(V5, "w");
    let flags = raw_connect(&c).body[CONNECT_FLAGS_OFFSET];
    let bytes = raw_connect(&c).patch(CONNECT_FLAGS_OFFSET, flags | 0x20).to_bytes();
    let (w, ack) = connect_raw(b.local_addr(), &bytes).await;
    expect_refused(w, ack, reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.2-9 (Will Topic and Payload MUST be present): Will Flag 1 with the Will Payload cut off →
/// malformed, CONNACK 0x81, no Will (mosquitto #704).
#[tokio::test]
async fn will_flag_1_without_payload_refused_0x81_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let c = with_will("w", will5("PAYLOAD", QoS::AtLeastOnce, false, vec![]));
    let raw = raw_connect(&c);
    let cut = find(&raw.body, b"PAYLOAD") - 2; // drop the length prefix and the payload
    let (w, ack) = connect_raw(b.local_addr(), &raw.truncate(cut).to_bytes()).await;
    expect_refused(w, ack, reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}

/// 3.1.3.2.2-7 (each Will property except User Property: "Protocol Error to include it more than
/// once"): a duplicated Will property → CONNACK 0x82, no Will. Checked for PFI, MEI, Content Type,
/// Response Topic, Correlation Data and Will Delay Interval.
#[tokio::test]
async fn duplicate_will_property_refused_0x82_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let dups = [
        Property::PayloadFormatIndicator(0),
        Property::MessageExpiryInterval(10),
        Property::ContentType("a".into()),
        Property::ResponseTopic("r".into()),
        Property::CorrelationData(Bytes::from_static(b"c")),
        Property::WillDelayInterval(0),
    ];
    for p in dups {
        let c = with_will("w", will5("nope", QoS::AtLeastOnce, false, vec![p.clone(), p.clone()]));
        let (w, ack) = TestClient::connect(b.local_addr(), c).await;
        expect_refused(w, Some(ack), reason::PROTOCOL_ERROR).await;
    }
    assert_no_will(&mut s).await;
}

/// MQTT-4.7.3-1 (a Topic Name has at least one character; reference 1.4: 0x82 as mosquitto): an empty
/// Will Topic → CONNACK 0x82, no Will.
#[tokio::test]
async fn empty_will_topic_refused_0x82_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    let mut wl = will5("nope", QoS::AtLeastOnce, false, vec![]);
    wl.topic = String::new();
    let (w, ack) = TestClient::connect(b.local_addr(), with_will("w", wl)).await;
    expect_refused(w, Some(ack), reason::PROTOCOL_ERROR).await;
    assert_no_will(&mut s).await;
}

/// MQTT-4.7.1-1 / 3.2.2.2 (0x90 "Topic Name invalid": the Will Topic is not malformed but not
/// accepted): a Will Topic with a wildcard (`#`, `+`, `a/+/b`) → CONNACK 0x90, no Will.
#[tokio::test]
async fn wildcard_will_topic_refused_0x90_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    for t in ["clients/#", "+", "a/+/b"] {
        let mut wl = will5("nope", QoS::AtLeastOnce, false, vec![]);
        wl.topic = t.into();
        let (w, ack) = TestClient::connect(b.local_addr(), with_will("w", wl)).await;
        expect_refused(w, Some(ack), reason::TOPIC_NAME_INVALID).await;
    }
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.3-11 + MQTT-1.5.4-1: a Will Topic that is not well-formed UTF-8 (0xC3 0x28) → CONNACK 0x81,
/// no Will.
#[tokio::test]
async fn invalid_utf8_will_topic_refused_0x81_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    let mut wl = will5("nope", QoS::AtLeastOnce, false, vec![]);
    wl.topic = "will/ZZ".into();
    let raw = raw_connect(&with_will("w", wl));
    let at = find(&raw.body, b"will/ZZ") + 5;
    let (w, ack) = connect_raw(b.local_addr(), &raw.patch(at, 0xC3).patch(at + 1, 0x28).to_bytes()).await;
    expect_refused(w, ack, reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}

/// MQTT-3.1.3-11 + MQTT-1.5.4-2: a Will Topic containing U+0000 → CONNACK 0x81, no Will.
#[tokio::test]
async fn nul_in_will_topic_refused_0x81_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#", QoS::AtLeastOnce).await;
    let mut wl = will5("nope", QoS::AtLeastOnce, false, vec![]);
    wl.topic = "will/\0".into();
    let (w, ack) = TestClient::connect(b.local_addr(), with_will("w", wl)).await;
    expect_refused(w, Some(ack), reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}

/// 3.1.3.2.3 (Server MAY validate; reference 1.4: 0x99): PFI=1 with a Will Payload that is not UTF-8 →
/// this broker refuses with CONNACK 0x99 and the Will is never published.
#[tokio::test]
async fn will_pfi_1_with_invalid_utf8_payload_refused_0x99_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let mut wl = will5("", QoS::AtLeastOnce, false, vec![Property::PayloadFormatIndicator(1)]);
    wl.payload = Bytes::from_static(&[0xC3, 0x28, 0xFF]);
    let (w, ack) = TestClient::connect(b.local_addr(), with_will("w", wl)).await;
    expect_refused(w, Some(ack), reason::PAYLOAD_FORMAT_INVALID).await;
    assert_no_will(&mut s).await;
}

/// 2.2.2.2 ("an Identifier which is not valid for its packet type … is a Malformed Packet"): a Will
/// property list carrying a CONNECT-only property (Session Expiry Interval) → CONNACK 0x81, no Will.
#[tokio::test]
async fn non_will_property_in_will_properties_refused_0x81_and_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", TOPIC, QoS::AtLeastOnce).await;
    let c = with_will("w", will5("nope", QoS::AtLeastOnce, false, vec![Property::SessionExpiryInterval(10)]));
    let (w, ack) = TestClient::connect(b.local_addr(), c).await;
    expect_refused(w, Some(ack), reason::MALFORMED_PACKET).await;
    assert_no_will(&mut s).await;
}
