//! Shared subscriptions (MQTT 5.0 section 4.8.2, and `$share` for 3.1.1 clients) on real sockets:
//! one delivery per group to one member, QoS and retained rules, share-name checks, No Local,
//! Subscription Identifiers, UNSUBSCRIBE, CONNACK, and what happens to a member's unacknowledged
//! messages when its session ends.

mod common;
mod tls_common;

use common::*;
use lwt_broker::codec::*;
use lwt_broker::Config;
use std::net::SocketAddr;
use std::time::Duration;

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V311;
const QUIET: Duration = Duration::from_millis(300);

async fn member(addr: SocketAddr, v: ProtocolVersion, id: &str, filter: &str, qos: QoS) -> TestClient {
    let mut m = TestClient::connected(addr, connect(v, id)).await;
    m.subscribe(filter, qos).await;
    m
}

fn text(p: &Publish) -> String {
    String::from_utf8_lossy(&p.payload).into_owned()
}

/// Reads every PUBLISH that arrives until `quiet` passes without one.
async fn drain(c: &mut TestClient, quiet: Duration) -> Vec<Publish> {
    let mut got = Vec::new();
    loop {
        match c.recv(quiet).await {
            Recv::Packet(Packet::Publish(p)) => {
                c.ack(&p).await;
                got.push(p);
            }
            Recv::Timeout => return got,
            other => panic!("expected PUBLISH or nothing, got {other:?}"),
        }
    }
}

/// 5.0 CONNACK announces Shared Subscription Available 1; with the option off it says 0 and each
/// `$share` filter gets SUBACK 0x9E (3.1.1: 0x80).
#[tokio::test]
async fn connack_announces_shared_subscriptions_and_the_option_turns_them_off() {
    let b = broker().await;
    let (_c, ack) = TestClient::connect(b.local_addr(), connect(V5, "ann")).await;
    assert!(ack.properties.0.contains(&Property::SharedSubscriptionAvailable(1)), "{:?}", ack.properties);

    let off = broker_with(Config { shared_subscriptions: false, ..Config::default() }).await;
    let (mut c, ack) = TestClient::connect(off.local_addr(), connect(V5, "off")).await;
    assert!(ack.properties.0.contains(&Property::SharedSubscriptionAvailable(0)), "{:?}", ack.properties);
    let codes = c.subscribe_with("$share/g/t", SubOptions::qos(QoS::AtLeastOnce), Properties::new()).await;
    assert_eq!(codes, vec![reason::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED]);
    let mut c3 = TestClient::connected(off.local_addr(), connect(V311, "off3")).await;
    let codes = c3.subscribe_with("$share/g/t", SubOptions::qos(QoS::AtLeastOnce), Properties::new()).await;
    assert_eq!(codes, vec![reason::v311::SUBACK_FAILURE]);
}

/// One copy per group, to one member (round-robin over connected members), and one to every
/// non-shared subscriber; 3.1.1 and 5.0 members share alike.
#[tokio::test]
async fn each_group_gets_one_copy_and_plain_subscribers_get_all() {
    let b = broker().await;
    let addr = b.local_addr();
    let mut a = member(addr, V5, "a", "$share/g1/rr/+", QoS::AtLeastOnce).await;
    let mut bb = member(addr, V311, "b", "$share/g1/rr/+", QoS::AtLeastOnce).await;
    let mut c = member(addr, V5, "c", "$share/g2/rr/+", QoS::AtLeastOnce).await;
    let mut plain = member(addr, V311, "plain", "rr/#", QoS::AtLeastOnce).await;
    let mut p = TestClient::connected(addr, connect(V5, "pub")).await;
    for i in 0..4 {
        p.publish(publish("rr/x", &format!("m{i}"), QoS::AtLeastOnce, false)).await;
    }
    let got_a: Vec<String> = drain(&mut a, QUIET).await.iter().map(text).collect();
    let got_b: Vec<String> = drain(&mut bb, QUIET).await.iter().map(text).collect();
    let got_c: Vec<String> = drain(&mut c, QUIET).await.iter().map(text).collect();
    let got_plain: Vec<String> = drain(&mut plain, QUIET).await.iter().map(text).collect();
    assert_eq!(got_a, ["m0", "m2"], "round-robin over g1");
    assert_eq!(got_b, ["m1", "m3"], "round-robin over g1");
    assert_eq!(got_c, ["m0", "m1", "m2", "m3"], "g2 has one member: it gets every message");
    assert_eq!(got_plain, ["m0", "m1", "m2", "m3"]);
}

/// MQTT-4.8.2-3: each member gets the lower of the published QoS and its own granted QoS.
#[tokio::test]
async fn each_member_gets_its_granted_qos() {
    let b = broker().await;
    let addr = b.local_addr();
    let mut q0 = member(addr, V5, "q0", "$share/g/qos", QoS::AtMostOnce).await;
    let mut q2 = member(addr, V5, "q2", "$share/g/qos", QoS::ExactlyOnce).await;
    let mut p = TestClient::connected(addr, connect(V5, "pub")).await;
    p.publish(publish("qos", "first", QoS::AtLeastOnce, false)).await;
    p.publish(publish("qos", "second", QoS::AtLeastOnce, false)).await;
    let first = q0.expect_publish().await;
    assert_eq!((text(&first).as_str(), first.qos), ("first", QoS::AtMostOnce));
    let second = q2.expect_publish().await;
    assert_eq!((text(&second).as_str(), second.qos), ("second", QoS::AtLeastOnce));
}

/// 4.8.2: no retained message on a shared subscribe; the plain subscribe on the same filter gets it.
#[tokio::test]
async fn retained_messages_are_not_sent_on_a_shared_subscribe() {
    let b = broker().await;
    let addr = b.local_addr();
    let mut p = TestClient::connected(addr, connect(V5, "pub")).await;
    p.publish(publish("ret/x", "kept", QoS::AtLeastOnce, true)).await;
    let mut s = TestClient::connected(addr, connect(V5, "s")).await;
    s.subscribe("$share/g/ret/x", QoS::AtLeastOnce).await;
    s.assert_nothing_for(QUIET).await;
    s.subscribe("ret/x", QoS::AtLeastOnce).await;
    let got = s.expect_publish().await;
    assert!(got.retain && text(&got) == "kept", "{got:?}");
    // A later message reaches the member through both subscriptions: one copy each (4.8.2).
    p.publish(publish("ret/x", "live", QoS::AtLeastOnce, false)).await;
    let both: Vec<String> = drain(&mut s, QUIET).await.iter().map(text).collect();
    assert_eq!(both, ["live", "live"]);
}

/// MQTT-4.8.2-1/-2: an empty ShareName, one with `+` or `#`, or no filter after it, is refused per
/// filter with 0x8F (3.1.1: 0x80); the connection stays, and the good filter next to them is granted.
#[tokio::test]
async fn malformed_share_names_are_refused_per_filter() {
    let b = broker().await;
    for v in [V5, V311] {
        let mut c = TestClient::connected(b.local_addr(), connect(v, "bad")).await;
        let filters = ["$share//t", "$share/g+/t", "$share/g#/t", "$share/g", "$share/g/", "$share/g/a/#/b", "$share/g/t"];
        let packet_id = c.pid();
        let s = Subscribe {
            packet_id,
            properties: Properties::new(),
            filters: filters.iter().map(|f| (f.to_string(), SubOptions::qos(QoS::AtLeastOnce))).collect(),
        };
        c.send(Packet::Subscribe(s)).await;
        let bad = if v.is_v5() { reason::TOPIC_FILTER_INVALID } else { reason::v311::SUBACK_FAILURE };
        match c.next().await {
            Packet::SubAck(a) => assert_eq!(a.codes, vec![bad, bad, bad, bad, bad, bad, 1], "{v:?}"),
            other => panic!("expected SUBACK, got {other:?}"),
        }
        c.assert_nothing_for(QUIET).await;
    }
}

/// MQTT-3.8.3-4: No Local on a shared subscription is a Protocol Error: DISCONNECT 0x82, then close.
#[tokio::test]
async fn no_local_on_a_shared_subscription_is_a_protocol_error() {
    let b = broker().await;
    let mut c = TestClient::connected(b.local_addr(), connect(V5, "nl")).await;
    let mut o = SubOptions::qos(QoS::AtLeastOnce);
    o.no_local = true;
    let packet_id = c.pid();
    c.send(Packet::Subscribe(Subscribe { packet_id, properties: Properties::new(), filters: vec![("$share/g/t".into(), o)] })).await;
    let d = c.expect_closed().await;
    assert_eq!(d.map(|d| d.reason), Some(reason::PROTOCOL_ERROR));
}

/// The Subscription Identifier of a shared subscription comes with its deliveries.
#[tokio::test]
async fn subscription_identifier_of_a_shared_subscription_is_delivered() {
    let b = broker().await;
    let mut m = TestClient::connected(b.local_addr(), connect(V5, "sid")).await;
    let codes = m
        .subscribe_with("$share/g/sid/t", SubOptions::qos(QoS::AtLeastOnce), Properties(vec![Property::SubscriptionIdentifier(42)]))
        .await;
    assert_eq!(codes, vec![1]);
    let mut p = TestClient::connected(b.local_addr(), connect(V5, "pub")).await;
    p.publish(publish("sid/t", "x", QoS::AtLeastOnce, false)).await;
    let got = m.expect_publish().await;
    assert_eq!(got.properties.subscription_identifiers(), vec![42]);
}

/// UNSUBSCRIBE `$share/g1/f` leaves only that group: the member's other group and its plain
/// subscription still deliver, and g1's other member now gets every g1 copy.
#[tokio::test]
async fn unsubscribe_leaves_only_that_group() {
    let b = broker().await;
    let addr = b.local_addr();
    let mut m = member(addr, V5, "m", "$share/g1/un", QoS::AtLeastOnce).await;
    m.subscribe("$share/g2/un", QoS::AtLeastOnce).await;
    m.subscribe("un", QoS::AtLeastOnce).await;
    let mut other = member(addr, V5, "other", "$share/g1/un", QoS::AtLeastOnce).await;
    let packet_id = m.pid();
    m.send(Packet::Unsubscribe(Unsubscribe { packet_id, properties: Properties::new(), filters: vec!["$share/g1/un".into()] })).await;
    match m.next().await {
        Packet::UnsubAck(a) => assert_eq!(a.codes, vec![reason::SUCCESS]),
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
    let mut p = TestClient::connected(addr, connect(V5, "pub")).await;
    for i in 0..2 {
        p.publish(publish("un", &format!("u{i}"), QoS::AtLeastOnce, false)).await;
    }
    assert_eq!(drain(&mut m, QUIET).await.len(), 4, "g2 copy and plain copy of each");
    let got: Vec<String> = drain(&mut other, QUIET).await.iter().map(text).collect();
    assert_eq!(got, ["u0", "u1"]);
}

/// 4.8.2: a QoS 1 message a member never acknowledged goes to another member when the member's
/// session ends (here at once: Session Expiry 0 and the connection drops).
#[tokio::test]
async fn an_ended_members_unacknowledged_qos1_goes_to_another_member() {
    let b = broker().await;
    let addr = b.local_addr();
    let mut first = member(addr, V5, "first", "$share/g/rd", QoS::AtLeastOnce).await;
    let mut second = member(addr, V5, "second", "$share/g/rd", QoS::AtLeastOnce).await;
    let mut p = TestClient::connected(addr, connect(V5, "pub")).await;
    p.publish(publish("rd", "owed", QoS::AtLeastOnce, false)).await;
    match first.recv(WAIT).await {
        Recv::Packet(Packet::Publish(got)) => assert_eq!(text(&got), "owed"),
        other => panic!("expected the first member to get it, got {other:?}"),
    }
    second.assert_nothing_for(QUIET).await;
    first.close().await;
    let got = second.expect_publish().await;
    assert_eq!((text(&got).as_str(), got.qos), ("owed", QoS::AtLeastOnce));
}

/// MQTT-4.8.2-5: a QoS 2 message sent to a member whose session ends before it completes is not
/// sent to any other member.
#[tokio::test]
async fn an_ended_members_qos2_in_flight_goes_to_nobody_else() {
    let b = broker().await;
    let addr = b.local_addr();
    let mut first = member(addr, V5, "first", "$share/g/q2", QoS::ExactlyOnce).await;
    let mut second = member(addr, V5, "second", "$share/g/q2", QoS::ExactlyOnce).await;
    let mut p = TestClient::connected(addr, connect(V5, "pub")).await;
    p.publish(publish("q2", "once", QoS::ExactlyOnce, false)).await;
    match first.recv(WAIT).await {
        Recv::Packet(Packet::Publish(got)) => assert_eq!((text(&got).as_str(), got.qos), ("once", QoS::ExactlyOnce)),
        other => panic!("expected the first member to get it, got {other:?}"),
    }
    first.close().await;
    second.assert_nothing_for(Duration::from_millis(600)).await;
}

/// MQTT-4.8.2-6: a member that refuses a message (PUBACK 0x80) has it discarded: when its session
/// then ends, the message goes to no other member.
#[tokio::test]
async fn a_refused_message_goes_to_nobody_else() {
    let b = broker().await;
    let addr = b.local_addr();
    let mut first = member(addr, V5, "first", "$share/g/nack", QoS::AtLeastOnce).await;
    let mut second = member(addr, V5, "second", "$share/g/nack", QoS::AtLeastOnce).await;
    let mut p = TestClient::connected(addr, connect(V5, "pub")).await;
    p.publish(publish("nack", "refused", QoS::AtLeastOnce, false)).await;
    let got = match first.recv(WAIT).await {
        Recv::Packet(Packet::Publish(got)) => got,
        other => panic!("expected the first member to get it, got {other:?}"),
    };
    let mut nack = PubResp::new(got.packet_id.expect("QoS 1"));
    nack.reason = reason::UNSPECIFIED_ERROR;
    first.send(Packet::PubAck(nack)).await;
    first.assert_nothing_for(QUIET).await;
    first.close().await;
    second.assert_nothing_for(Duration::from_millis(600)).await;
}

/// A member that is offline (its session kept) is passed over while another is connected.
#[tokio::test]
async fn an_offline_member_is_passed_over() {
    let b = broker().await;
    let addr = b.local_addr();
    let mut c = connect(V5, "sleepy");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(60));
    let mut sleepy = TestClient::connected(addr, c).await;
    sleepy.subscribe("$share/g/off", QoS::AtLeastOnce).await;
    let mut awake = member(addr, V5, "awake", "$share/g/off", QoS::AtLeastOnce).await;
    sleepy.disconnect(0, Properties::new()).await;
    let mut p = TestClient::connected(addr, connect(V5, "pub")).await;
    for i in 0..3 {
        p.publish(publish("off", &format!("o{i}"), QoS::AtLeastOnce, false)).await;
    }
    let got: Vec<String> = drain(&mut awake, QUIET).await.iter().map(text).collect();
    assert_eq!(got, ["o0", "o1", "o2"]);
    let mut c = connect(V5, "sleepy");
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(60));
    let mut back = TestClient::connected(addr, c).await;
    back.assert_nothing_for(QUIET).await;
}

/// A will reaches one member of each group and every plain subscriber; a member that is itself
/// the will's owner is gone, so its group's other member gets it.
#[tokio::test]
async fn a_will_reaches_one_member_of_each_group() {
    let b = broker().await;
    let addr = b.local_addr();
    let w = will("wl/s1/status", "offline", QoS::AtLeastOnce, false);
    let mut owner = TestClient::connected(addr, connect_with_will(V5, "s1", w)).await;
    owner.subscribe("$share/g1/wl/+/status", QoS::AtLeastOnce).await;
    let mut g1 = member(addr, V5, "g1b", "$share/g1/wl/+/status", QoS::AtLeastOnce).await;
    let mut g2a = member(addr, V311, "g2a", "$share/g2/wl/#", QoS::AtLeastOnce).await;
    let mut g2b = member(addr, V5, "g2b", "$share/g2/wl/#", QoS::AtLeastOnce).await;
    let mut plain = member(addr, V5, "plain", "wl/+/status", QoS::AtLeastOnce).await;
    owner.reset();
    assert_eq!(text(&g1.expect_publish().await), "offline");
    assert_eq!(text(&plain.expect_publish().await), "offline");
    let n2 = drain(&mut g2a, QUIET).await.len() + drain(&mut g2b, QUIET).await.len();
    assert_eq!(n2, 1, "exactly one g2 member gets the will");
    g1.assert_nothing_for(QUIET).await;
}

/// With an Event Grid namespace, `$share/{group}/{filter}` is authorized as a SUBSCRIBE to
/// `{filter}`: an actuator may share `clients/+/status` (its Subscriber binding) but not a wider
/// filter, a sensor may share nothing; the shared member then gets a sensor's status.
#[tokio::test]
async fn event_grid_authorizes_the_filter_inside_a_share() {
    let w = tls_common::Walkthrough::new();
    let b = w.broker("").await;
    let mut a1 = w.connected(&b, "actuator1", V5).await;
    assert_eq!(a1.subscribe("$share/g/clients/+/status").await, 1);
    assert_eq!(a1.subscribe("$share/g/clients/#").await, reason::NOT_AUTHORIZED);
    let mut s1 = w.connected(&b, "sensor1", V5).await;
    assert_eq!(s1.subscribe("$share/g/clients/+/status").await, reason::NOT_AUTHORIZED);
    assert_eq!(s1.publish("clients/sensor1/status", "online", QoS::AtLeastOnce).await, Some(0));
    let got = a1.next_publish(tls_common::WAIT).await.expect("the shared member gets it");
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("clients/sensor1/status", &b"online"[..]));
}
