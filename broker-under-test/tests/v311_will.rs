//! MQTT 3.1.1 Last Will and Testament, rule by rule (reference section 1.1), mosquitto `test/broker`
//! style: every test starts its own embedded broker and drives it over real TCP sockets with exact
//! packets. Vocabulary: **W** has the Will, **S** is a watcher subscribed to the Will topic before the
//! test, **N** is a subscriber that connects afterwards. Absence is always proven with the ping
//! barrier ([`TestClient::assert_nothing_for`]), so a missing-will assertion can fail.
mod common;
use common::*;
use lwt_broker::codec::raw::{RawPacket, CONNECT_FLAGS_OFFSET};
use lwt_broker::codec::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

const V: ProtocolVersion = ProtocolVersion::V311;
/// Window for "nothing more arrives" after the event under test.
const QUIET: Duration = Duration::from_millis(300);

/// S: a watcher subscribed to `filter` at QoS 1.
async fn watcher(addr: SocketAddr, id: &str, filter: &str) -> TestClient {
    let mut s = TestClient::connected(addr, connect(V, id)).await;
    s.subscribe(filter, QoS::AtLeastOnce).await;
    s
}

/// A clean-session CONNECT with a QoS 0, non-retained Will.
fn will_connect(id: &str, topic: &str, payload: &str) -> Connect {
    connect_with_will(V, id, will(topic, payload, QoS::AtMostOnce, false))
}

/// The next PUBLISH at S must be the Will `topic`/`payload`.
async fn expect_will(s: &mut TestClient, topic: &str, payload: &str) -> Publish {
    let p = s.expect_publish().await;
    assert_eq!(p.topic, topic, "will topic");
    assert_eq!(&p.payload[..], payload.as_bytes(), "will payload");
    p
}

/// Sends `bytes` as the first packet of a new connection and asserts the broker closes it without
/// any CONNACK (a CONNACK would make `expect_closed` panic).
async fn refused_without_connack(addr: SocketAddr, bytes: &[u8]) {
    let mut t = TestClient::open(addr, V).await;
    t.send_raw(bytes).await;
    assert_eq!(t.expect_closed().await, None, "3.1.1 has no DISCONNECT from the server");
}

/// The encoded CONNECT of `c` as a [`RawPacket`] to corrupt.
fn raw_connect(c: &Connect) -> RawPacket {
    RawPacket::from_packet(&Packet::Connect(c.clone()), c.protocol)
}

// ------------------------------------------------------------------ MQTT-3.1.2-8: every abrupt end

/// MQTT-3.1.2-8: W closes with FIN and no DISCONNECT → S gets exactly one Will.
#[tokio::test]
async fn mqtt_3_1_2_8_will_published_on_fin() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "status/w", "gone-fin")).await;
    w.close().await;
    let p = expect_will(&mut s, "status/w", "gone-fin").await;
    assert!(!p.retain && !p.dup);
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.2-8: W's connection is reset (RST, SO_LINGER 0) → S gets exactly one Will.
#[tokio::test]
async fn mqtt_3_1_2_8_will_published_on_rst() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "status/w", "gone-rst")).await;
    w.reset();
    expect_will(&mut s, "status/w", "gone-rst").await;
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.2-8 with MQTT-3.1.2-24: W connects with keep-alive 1 s and then stays silent with the
/// socket open → the Will arrives no earlier than 1.5 s after W's last packet (the CONNECT) and no
/// later than about 2.0 s; the broker closes W's connection.
#[tokio::test]
async fn mqtt_3_1_2_8_will_published_on_keep_alive_expiry_after_1_5x() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let mut c = will_connect("w", "status/w", "gone-silent");
    c.keep_alive = 1;
    let mut w = TestClient::open(b.local_addr(), V).await;
    let last_packet = Instant::now();
    w.send(Packet::Connect(c)).await;
    match w.next().await {
        Packet::ConnAck(a) => assert_eq!(a.code, 0),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    let connacked = Instant::now();
    expect_will(&mut s, "status/w", "gone-silent").await;
    let since_last = last_packet.elapsed();
    let since_connack = connacked.elapsed();
    assert!(since_last >= Duration::from_millis(1500), "will fired early: {since_last:?} after the last packet (< 1.5 x 1 s)");
    assert!(since_connack <= Duration::from_millis(2000), "will fired late: {since_connack:?} after CONNACK (> ~2.0 s)");
    assert_eq!(w.expect_closed().await, None, "broker must close the silent connection");
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.2-24 control run: W with keep-alive 1 s sends PINGREQ every 0.9 s for 3.6 s → the
/// connection stays up and no Will is published; then DISCONNECT discards it.
#[tokio::test]
async fn mqtt_3_1_2_24_control_pinging_client_keeps_its_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let mut c = will_connect("w", "status/w", "must-not-fire");
    c.keep_alive = 1;
    let mut w = TestClient::connected(b.local_addr(), c).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        w.send(Packet::PingReq).await;
        match w.recv(Duration::from_millis(500)).await {
            Recv::Packet(Packet::PingResp) => {}
            other => panic!("pinging client lost its connection: {other:?}"),
        }
    }
    s.assert_nothing_for(Duration::from_millis(100)).await;
    w.disconnect(0, Properties::new()).await;
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.2-8 (server closes for a protocol error; mosquitto #2554): W sends a second CONNECT
/// (MQTT-3.1.0-2) → the broker closes W and publishes its Will.
#[tokio::test]
async fn mqtt_3_1_2_8_will_published_on_protocol_violation_second_connect() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let c = will_connect("w", "status/w", "gone-violation");
    let mut w = TestClient::connected(b.local_addr(), c.clone()).await;
    w.send(Packet::Connect(c)).await;
    assert_eq!(w.expect_closed().await, None);
    expect_will(&mut s, "status/w", "gone-violation").await;
    s.assert_nothing_for(QUIET).await;
}

// ------------------------------------------------------------------ MQTT-3.1.2-9: fields present

/// MQTT-3.1.2-9 / MQTT-3.1.4-1 (mosquitto #704): Will Flag 1 but the Will Message is truncated away
/// → closed without CONNACK 0, and no Will is ever published for it.
#[tokio::test]
async fn mqtt_3_1_2_9_will_flag_with_truncated_will_payload_is_refused() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/#").await;
    let raw = raw_connect(&will_connect("w", "status/w", "payload"));
    // The Will Message is last: drop its two-byte length and bytes, the Remaining Length follows.
    let n = raw.body.len();
    refused_without_connack(b.local_addr(), &raw.clone().truncate(n - 2 - 7).to_bytes()).await;
    // Half a Will Message (length says 7, 3 bytes present).
    refused_without_connack(b.local_addr(), &raw.clone().truncate(n - 4).to_bytes()).await;
    // Neither Will Topic nor Will Message.
    refused_without_connack(b.local_addr(), &raw.truncate(n - 2 - 7 - 2 - "status/w".len()).to_bytes()).await;
    s.assert_nothing_for(QUIET).await;
}

// ------------------------------------------------------------------ MQTT-3.1.2-10: removed once used

/// MQTT-3.1.2-10: after the Will fired once, the same client id reconnects (persistent session)
/// without a Will and drops → no second Will.
#[tokio::test]
async fn mqtt_3_1_2_10_will_removed_once_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let mut c = will_connect("w", "status/w", "once");
    c.clean_start = false;
    let w = TestClient::connected(b.local_addr(), c).await;
    w.close().await;
    expect_will(&mut s, "status/w", "once").await;
    let mut again = connect(V, "w");
    again.clean_start = false;
    let (w2, ack) = TestClient::connect(b.local_addr(), again).await;
    assert_eq!((ack.code, ack.session_present), (0, true));
    w2.close().await;
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.2-10 / MQTT-3.14.4-3 (clean session 1): DISCONNECT then FIN → the Will never fires.
#[tokio::test]
async fn mqtt_3_1_2_10_disconnect_removes_will_clean_session() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "status/w", "never")).await;
    w.disconnect(0, Properties::new()).await;
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.2-10 (persistent session, mosquitto #1273): clean session 0, DISCONNECT, then the
/// session is resumed without a Will and dropped → the first Will was deleted and never fires.
#[tokio::test]
async fn mqtt_3_1_2_10_disconnect_removes_will_persistent_session() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let mut c = will_connect("w", "status/w", "never");
    c.clean_start = false;
    let w = TestClient::connected(b.local_addr(), c).await;
    w.disconnect(0, Properties::new()).await;
    s.assert_nothing_for(QUIET).await;
    let mut again = connect(V, "w");
    again.clean_start = false;
    let (w2, ack) = TestClient::connect(b.local_addr(), again).await;
    assert_eq!((ack.code, ack.session_present), (0, true));
    w2.close().await;
    s.assert_nothing_for(QUIET).await;
}

// ------------------------------------------------------------------ MQTT-3.1.2-11..-15: flag bits

/// CONNECT flags of a valid clean-session CONNECT without a Will, with `bits` added.
async fn connect_flags_refused(bits: u8) {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#").await;
    let raw = raw_connect(&connect(V, "w"));
    assert_eq!(raw.body[CONNECT_FLAGS_OFFSET], 0x02);
    refused_without_connack(b.local_addr(), &raw.patch(CONNECT_FLAGS_OFFSET, 0x02 | bits).to_bytes()).await;
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.2-11 / MQTT-3.1.2-13: Will Flag 0 with Will QoS 1 → closed without CONNACK.
#[tokio::test]
async fn mqtt_3_1_2_13_will_flag_0_with_will_qos_1_is_refused() {
    connect_flags_refused(0x08).await;
}

/// MQTT-3.1.2-11 / MQTT-3.1.2-13: Will Flag 0 with Will QoS 2 → closed without CONNACK.
#[tokio::test]
async fn mqtt_3_1_2_13_will_flag_0_with_will_qos_2_is_refused() {
    connect_flags_refused(0x10).await;
}

/// MQTT-3.1.2-11 / MQTT-3.1.2-15: Will Flag 0 with Will Retain 1 → closed without CONNACK.
#[tokio::test]
async fn mqtt_3_1_2_15_will_flag_0_with_will_retain_is_refused() {
    connect_flags_refused(0x20).await;
}

/// MQTT-3.1.2-12: W without a Will drops → S gets nothing.
#[tokio::test]
async fn mqtt_3_1_2_12_no_will_flag_no_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#").await;
    let w = TestClient::connected(b.local_addr(), connect(V, "w")).await;
    w.close().await;
    let w = TestClient::connected(b.local_addr(), connect(V, "w2")).await;
    w.reset();
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.2-14: Will QoS 3 → closed without CONNACK.
#[tokio::test]
async fn mqtt_3_1_2_14_will_qos_3_is_refused() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#").await;
    let raw = raw_connect(&will_connect("w", "status/w", "x"));
    assert_eq!(raw.body[CONNECT_FLAGS_OFFSET], 0x06);
    refused_without_connack(b.local_addr(), &raw.patch(CONNECT_FLAGS_OFFSET, 0x06 | 0x18).to_bytes()).await;
    s.assert_nothing_for(QUIET).await;
}

// ------------------------------------------------------------------ MQTT-3.1.2-16/-17: Will Retain

/// MQTT-3.1.2-16: Will Retain 0 → published non-retained: S gets it with RETAIN 0, and N, subscribing
/// afterwards, gets nothing.
#[tokio::test]
async fn mqtt_3_1_2_16_will_retain_0_not_retained() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let w = TestClient::connected(b.local_addr(), will_connect("w", "status/w", "plain")).await;
    w.close().await;
    assert!(!expect_will(&mut s, "status/w", "plain").await.retain);
    let mut n = watcher(b.local_addr(), "n", "status/w").await;
    n.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.2-17 (MQTT-3.3.1-8/-9; nanomq #2012): Will Retain 1 → published retained: S (subscribed
/// before) sees RETAIN 0, N (subscribing after) gets the stored copy with RETAIN 1.
#[tokio::test]
async fn mqtt_3_1_2_17_will_retain_1_retained_for_late_subscriber() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let c = connect_with_will(V, "w", will("status/w", "offline", QoS::AtLeastOnce, true));
    let w = TestClient::connected(b.local_addr(), c).await;
    w.close().await;
    let live = expect_will(&mut s, "status/w", "offline").await;
    assert!(!live.retain, "a live subscriber gets RETAIN 0 (MQTT-3.3.1-9)");
    let mut n = watcher(b.local_addr(), "n", "status/w").await;
    let stored = expect_will(&mut n, "status/w", "offline").await;
    assert!(stored.retain, "the retained copy has RETAIN 1 (MQTT-3.3.1-8)");
    assert_eq!(stored.qos, QoS::AtLeastOnce);
    n.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.2-17 with MQTT-3.3.1-10/-11: a retained Will with an empty payload is delivered as an
/// empty PUBLISH and clears the retained message of its topic.
#[tokio::test]
async fn mqtt_3_1_2_17_empty_retained_will_clears_retained_topic() {
    let b = broker().await;
    let mut p = TestClient::connected(b.local_addr(), connect(V, "p")).await;
    p.publish(publish("status/w", "online", QoS::AtLeastOnce, true)).await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    assert!(expect_will(&mut s, "status/w", "online").await.retain);
    let c = connect_with_will(V, "w", will("status/w", "", QoS::AtMostOnce, true));
    let w = TestClient::connected(b.local_addr(), c).await;
    w.close().await;
    expect_will(&mut s, "status/w", "").await;
    let mut n = watcher(b.local_addr(), "n", "status/w").await;
    n.assert_nothing_for(QUIET).await;
}

// ------------------------------------------------------------------ MQTT-3.1.3-10, 4.7: Will Topic

/// MQTT-3.1.3-10 (MQTT-1.5.3-2): a Will Topic containing U+0000 → closed without CONNACK.
#[tokio::test]
async fn mqtt_3_1_3_10_will_topic_with_nul_is_refused() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#").await;
    let raw = raw_connect(&will_connect("w", "status/\0w", "x"));
    refused_without_connack(b.local_addr(), &raw.to_bytes()).await;
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.3-10 (MQTT-1.5.3-1): a Will Topic that is not well-formed UTF-8 → closed without CONNACK.
#[tokio::test]
async fn mqtt_3_1_3_10_will_topic_with_invalid_utf8_is_refused() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#").await;
    let raw = raw_connect(&will_connect("w", "status/XwX", "x"));
    let at = raw.body.windows(3).position(|w| w == b"XwX").expect("topic bytes");
    for bad in [[0xFF_u8, b'w', 0xFE], [0xC0, 0xAF, b'w'], [0xED, 0xA0, 0x80]] {
        let r = raw.clone().patch(at, bad[0]).patch(at + 1, bad[1]).patch(at + 2, bad[2]);
        refused_without_connack(b.local_addr(), &r.to_bytes()).await;
    }
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-4.7.1-1 (section 4.7, MQTT-3.3.2-2): a Will Topic is a Topic Name, so wildcards are refused
/// → closed without CONNACK.
#[tokio::test]
async fn mqtt_4_7_1_1_will_topic_with_wildcards_is_refused() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#").await;
    for topic in ["a/#", "#", "+", "a/+/b", "a/b+"] {
        refused_without_connack(b.local_addr(), &raw_connect(&will_connect("w", topic, "x")).to_bytes()).await;
    }
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-4.7.3-1: an empty Will Topic → closed without CONNACK.
#[tokio::test]
async fn mqtt_4_7_3_1_empty_will_topic_is_refused() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "#").await;
    refused_without_connack(b.local_addr(), &raw_connect(&will_connect("w", "", "x")).to_bytes()).await;
    s.assert_nothing_for(QUIET).await;
}

// ------------------------------------------------------------------ MQTT-3.1.4-2: takeover

/// MQTT-3.1.4-2 (emqx #10551): W1 with a Will is connected; W2 connects with the same client id →
/// the broker closes W1, and as that close is not a DISCONNECT its Will is published (-8), once.
#[tokio::test]
async fn mqtt_3_1_4_2_takeover_closes_old_connection_and_publishes_its_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let mut w1 = TestClient::connected(b.local_addr(), will_connect("w", "status/w", "taken-over")).await;
    let w2 = TestClient::connected(b.local_addr(), connect(V, "w")).await;
    assert_eq!(w1.expect_closed().await, None, "old connection must be closed");
    expect_will(&mut s, "status/w", "taken-over").await;
    w2.close().await;
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.4-2 with a persistent session on both sides (reference 2.8: the spec favours publishing;
/// mosquitto diverges): the old connection's Will is still published, and the session is resumed.
#[tokio::test]
async fn mqtt_3_1_4_2_takeover_of_persistent_session_publishes_old_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let mut c1 = will_connect("w", "status/w", "taken-over");
    c1.clean_start = false;
    let mut w1 = TestClient::connected(b.local_addr(), c1).await;
    let mut c2 = connect(V, "w");
    c2.clean_start = false;
    let (w2, ack) = TestClient::connect(b.local_addr(), c2).await;
    assert_eq!((ack.code, ack.session_present), (0, true));
    assert_eq!(w1.expect_closed().await, None);
    expect_will(&mut s, "status/w", "taken-over").await;
    w2.disconnect(0, Properties::new()).await;
    s.assert_nothing_for(QUIET).await;
}

// ------------------------------------------------------------------ MQTT-3.1.4-5: refused CONNECT

/// MQTT-3.1.4-5 (with MQTT-3.1.3-8): an empty client id with clean session 0 is refused with CONNACK
/// 0x02 and the connection closed; the refused CONNECT's Will is never published.
#[tokio::test]
async fn mqtt_3_1_4_5_refused_connect_identifier_rejected_will_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/#").await;
    let mut c = will_connect("", "status/anon", "never");
    c.clean_start = false;
    let (mut w, ack) = TestClient::connect(b.local_addr(), c).await;
    assert_eq!((ack.code, ack.session_present), (reason::v311::IDENTIFIER_REJECTED, false));
    assert_eq!(w.expect_closed().await, None);
    s.assert_nothing_for(QUIET).await;
}

/// MQTT-3.1.4-5 (with MQTT-3.1.2-2): an unsupported protocol level is refused with CONNACK 0x01 and
/// the connection closed; the refused CONNECT's Will is never published.
#[tokio::test]
async fn mqtt_3_1_4_5_refused_connect_unsupported_level_will_never_published() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/#").await;
    let raw = raw_connect(&will_connect("w", "status/w", "never"));
    assert_eq!(raw.body[6], 4, "protocol level byte");
    for level in [3u8, 6, 0xFF] {
        let mut t = TestClient::open(b.local_addr(), V).await;
        t.send_raw(&raw.clone().patch(6, level).to_bytes()).await;
        match t.next().await {
            Packet::ConnAck(a) => {
                assert_eq!((a.code, a.session_present), (reason::v311::UNACCEPTABLE_PROTOCOL_VERSION, false), "level {level}")
            }
            other => panic!("level {level}: expected CONNACK 0x01, got {other:?}"),
        }
        assert_eq!(t.expect_closed().await, None);
    }
    s.assert_nothing_for(QUIET).await;
}

// ------------------------------------------------------------------ MQTT-3.14.4-3: DISCONNECT

/// MQTT-3.14.4-3: W (keep-alive 1 s) sends DISCONNECT and closes → S gets nothing, even after the
/// 1.5 x keep-alive window has long passed.
#[tokio::test]
async fn mqtt_3_14_4_3_disconnect_discards_will_even_after_keep_alive_window() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    let mut c = will_connect("w", "status/w", "never");
    c.keep_alive = 1;
    let w = TestClient::connected(b.local_addr(), c).await;
    w.disconnect(0, Properties::new()).await;
    s.assert_nothing_for(Duration::from_millis(2500)).await;
    assert_eq!(b.stats().await.wills_published, 0);
}

// ------------------------------------------------------------------ MQTT-4.6.0-6: ordering

/// MQTT-4.6.0-6 ("status" pattern): W publishes `online` at QoS 1 on its status topic and drops at
/// once without waiting for PUBACK → S sees `online` before the Will `offline`, never the reverse.
#[tokio::test]
async fn mqtt_4_6_0_6_last_publish_delivered_before_will() {
    let b = broker().await;
    let mut s = watcher(b.local_addr(), "s", "status/w").await;
    for round in 0..20 {
        let c = connect_with_will(V, "w", will("status/w", "offline", QoS::AtLeastOnce, false));
        let mut w = TestClient::connected(b.local_addr(), c).await;
        let mut p = publish("status/w", "online", QoS::AtLeastOnce, false);
        p.packet_id = Some(1);
        w.send(Packet::Publish(p)).await;
        w.close().await;
        let first = s.expect_publish().await;
        assert_eq!(&first.payload[..], b"online", "round {round}: the Will overtook the last PUBLISH");
        expect_will(&mut s, "status/w", "offline").await;
    }
    s.assert_nothing_for(QUIET).await;
}

// ------------------------------------------------------------------ QoS of the published Will

/// MQTT-3.3.5-1 / MQTT-3.8.4-6 applied to the Will: a QoS 2 Will reaches a QoS 0 subscriber at QoS 0
/// and a QoS 1 subscriber at QoS 1.
#[tokio::test]
async fn will_qos_downgraded_to_subscription_qos() {
    let b = broker().await;
    let mut s0 = TestClient::connected(b.local_addr(), connect(V, "s0")).await;
    s0.subscribe("status/w", QoS::AtMostOnce).await;
    let mut s1 = TestClient::connected(b.local_addr(), connect(V, "s1")).await;
    s1.subscribe("status/w", QoS::AtLeastOnce).await;
    let c = connect_with_will(V, "w", will("status/w", "gone", QoS::ExactlyOnce, false));
    TestClient::connected(b.local_addr(), c).await.close().await;
    let p0 = expect_will(&mut s0, "status/w", "gone").await;
    assert_eq!((p0.qos, p0.packet_id), (QoS::AtMostOnce, None));
    let p1 = expect_will(&mut s1, "status/w", "gone").await;
    assert_eq!(p1.qos, QoS::AtLeastOnce);
    s0.assert_nothing_for(QUIET).await;
    s1.assert_nothing_for(QUIET).await;
}

/// aedes #109 (MQTT-4.3.3): a QoS 2 Will reaches a QoS 2 subscriber exactly once, through a complete
/// PUBLISH / PUBREC / PUBREL / PUBCOMP flow, and nothing follows it.
#[tokio::test]
async fn qos2_will_delivered_exactly_once_to_qos2_subscriber() {
    let b = broker().await;
    let mut s = TestClient::connected(b.local_addr(), connect(V, "s")).await;
    s.subscribe("status/w", QoS::ExactlyOnce).await;
    let c = connect_with_will(V, "w", will("status/w", "gone", QoS::ExactlyOnce, false));
    TestClient::connected(b.local_addr(), c).await.close().await;
    let p = match s.next().await {
        Packet::Publish(p) => p,
        other => panic!("expected the Will, got {other:?}"),
    };
    assert_eq!((p.topic.as_str(), &p.payload[..], p.qos, p.dup), ("status/w", &b"gone"[..], QoS::ExactlyOnce, false));
    let id = p.packet_id.expect("QoS 2 has a packet id");
    s.send(Packet::PubRec(PubResp::new(id))).await;
    match s.next().await {
        Packet::PubRel(r) => assert_eq!(r.packet_id, id),
        other => panic!("expected PUBREL, got {other:?}"),
    }
    s.send(Packet::PubComp(PubResp::new(id))).await;
    s.assert_nothing_for(Duration::from_millis(500)).await;
    assert_eq!(b.stats().await.wills_published, 1);
}
