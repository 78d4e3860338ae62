//! Issue 12 through real sockets: what an attacker with its own certificate tried and the Event
//! Grid emulation must refuse. Assigned client ids never reach another identity's session (Event
//! Grid and the plain broker), 10 filters per SUBSCRIBE, failing PUBACK / DISCONNECT / AUTH
//! requests end the connection (and a failed DISCONNECT fires the will), the 3.1.1 keep-alive cap,
//! terse reason strings unless the namespace asks for diagnostics, the offline-queue and
//! retained-message limits.

mod common;
mod tls_common;

use lwt_broker::codec::*;
use lwt_broker::Config;
use std::time::{Duration, Instant};
use tls_common::*;

fn persistent(mut c: Connect, expiry: u32) -> Connect {
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(expiry));
    c
}

fn assigned_id(ack: &ConnAck) -> String {
    ack.properties.assigned_client_identifier().expect("CONNACK carries an Assigned Client Identifier")
}

/// One SUBSCRIBE carrying every filter; the SUBACK codes.
async fn subscribe_all(c: &mut Client, filters: &[String]) -> Vec<u8> {
    let packet_id = c.pid();
    let filters = filters.iter().map(|f| (f.clone(), SubOptions::qos(QoS::AtLeastOnce))).collect();
    c.send(Packet::Subscribe(Subscribe { packet_id, properties: Properties::new(), filters })).await;
    match c.recv(WAIT).await {
        Recv::Packet(Packet::SubAck(a)) => a.codes,
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

#[tokio::test]
async fn an_assigned_client_id_never_resumes_another_identitys_session() {
    let w = Walkthrough::new();
    let b = w.broker("").await;
    let v5 = ProtocolVersion::V5;
    // actuator1 parks an offline session under an assigned id, subscribed to every status topic.
    let (mut a, ack) = w.client(&b, "actuator1", persistent(connect(v5, "", Some("actuator1")), 3600)).await;
    assert_eq!(ack.code, 0);
    let parked = assigned_id(&ack);
    assert!(parked.starts_with("lwt-") && parked.len() == 36, "unguessable: 128 random bits, got {parked}");
    assert_eq!(a.subscribe("clients/+/status").await, 1);
    a.send(Packet::Disconnect(Disconnect::new(0))).await;
    a.expect_closed().await;

    // sensor1 connects with an empty id and clean start 0: a fresh id, no session present.
    let (_s, ack) = w.client(&b, "sensor1", persistent(connect(v5, "", Some("sensor1")), 3600)).await;
    assert_eq!(ack.code, 0);
    assert!(!ack.session_present, "an assigned id never resumes a session");
    assert_ne!(assigned_id(&ack), parked);

    // Naming the parked session explicitly is refused: it belongs to actuator1.
    let (_x, ack) = w.client(&b, "sensor2", persistent(connect(v5, &parked, Some("sensor2")), 3600)).await;
    assert_eq!(ack.code, reason::NOT_AUTHORIZED);

    // The parked session is still actuator1's: it gets what was published meanwhile.
    let mut s2 = w.connected(&b, "sensor2", v5).await;
    assert_eq!(s2.publish("clients/sensor2/status", "up", QoS::AtLeastOnce).await, Some(0));
    let (mut a, ack) = w.client(&b, "actuator1", persistent(connect(v5, &parked, Some("actuator1")), 3600)).await;
    assert_eq!((ack.code, ack.session_present), (0, true));
    let p = a.next_publish(WAIT).await.expect("the queued message");
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("clients/sensor2/status", &b"up"[..]));
}

#[tokio::test]
async fn the_plain_broker_assigns_fresh_random_ids_even_with_clean_start_0() {
    let b = common::broker().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_c, ack) = common::TestClient::connect(b.local_addr(), persistent(Connect::new(ProtocolVersion::V5, ""), 600)).await;
        assert_eq!(ack.code, 0);
        assert!(!ack.session_present, "an assigned id never resumes a session");
        ids.push(assigned_id(&ack));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "assigned ids are unique: {ids:?}");
    assert!(ids.iter().all(|i| i.starts_with("lwt-") && i.len() == 36), "{ids:?}");
}

#[tokio::test]
async fn more_than_ten_filters_in_one_subscribe_fail_every_filter() {
    let w = Walkthrough::new();
    let b = w.broker("").await;
    let filters: Vec<String> = (1..=11).map(|i| format!("clients/s{i}/status")).collect();
    for (v, refused) in [(ProtocolVersion::V5, reason::QUOTA_EXCEEDED), (ProtocolVersion::V311, reason::v311::SUBACK_FAILURE)] {
        let mut a = w.connected(&b, "actuator1", v).await;
        assert_eq!(subscribe_all(&mut a, &filters[..10]).await, vec![1; 10], "{v:?}: 10 filters are fine");
        assert_eq!(subscribe_all(&mut a, &filters).await, vec![refused; 11], "{v:?}: 11 filters fail");
    }
}

#[tokio::test]
async fn a_failing_puback_ends_the_connection() {
    let w = Walkthrough::new();
    let b = w.broker("").await;
    let mut s1 = w.connected(&b, "sensor1", ProtocolVersion::V5).await;
    let nack = PubResp { packet_id: 0, reason: 0x80, properties: Properties::new() };
    let with_user = PubResp { packet_id: 0, reason: 0, properties: Properties::new().with(Property::UserProperty("k".into(), "v".into())) };
    for answer in [nack, with_user] {
        let mut a = w.connected(&b, "actuator1", ProtocolVersion::V5).await;
        assert_eq!(a.subscribe("clients/+/status").await, 1);
        s1.publish("clients/sensor1/status", "up", QoS::AtLeastOnce).await;
        let p = match a.recv(WAIT).await {
            Recv::Packet(Packet::Publish(p)) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        };
        let ack = PubResp { packet_id: p.packet_id.expect("QoS 1"), ..answer.clone() };
        a.send(Packet::PubAck(ack)).await;
        assert_eq!(a.expect_closed().await, Some(reason::IMPLEMENTATION_SPECIFIC_ERROR), "{answer:?}");
    }
}

#[tokio::test]
async fn a_disconnect_with_a_user_property_fails_and_the_will_fires() {
    let w = Walkthrough::new();
    let b = w.broker("").await;
    let mut a = w.actuator(&b, "actuator1").await;
    let (mut s, ack) = w.client(&b, "sensor1", with_will(connect(ProtocolVersion::V5, "sensor1", Some("sensor1")), "clients/sensor1/status", "offline")).await;
    assert_eq!(ack.code, 0);
    let mut d = Disconnect::new(0);
    d.properties.push(Property::UserProperty("why".into(), "bye".into()));
    s.send(Packet::Disconnect(d)).await;
    assert_eq!(s.expect_closed().await, Some(reason::IMPLEMENTATION_SPECIFIC_ERROR), "the DISCONNECT failed");
    let p = a.next_publish(WAIT).await.expect("the will: the DISCONNECT failed");
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("clients/sensor1/status", &b"offline"[..]));

    // AUTH with a user property fails the same way.
    let mut s = w.connected(&b, "sensor2", ProtocolVersion::V5).await;
    let props = Properties::new()
        .with(Property::AuthenticationMethod("CUSTOM-JWT".into()))
        .with(Property::UserProperty("k".into(), "v".into()));
    s.send(Packet::Auth(Auth { reason: 0x19, properties: props })).await;
    assert_eq!(s.expect_closed().await, Some(reason::IMPLEMENTATION_SPECIFIC_ERROR), "AUTH with a user property fails");
}

/// The next PUBLISH within `within`, pinging every 300 ms so the observer's own (capped)
/// keep-alive does not expire meanwhile.
async fn next_publish_pinging(a: &mut Client, within: Duration) -> Option<Publish> {
    let end = Instant::now() + within;
    while Instant::now() < end {
        a.send(Packet::PingReq).await;
        loop {
            match a.recv(Duration::from_millis(300)).await {
                Recv::Packet(Packet::PingResp) => {}
                Recv::Packet(Packet::Publish(p)) => {
                    if let Some(id) = p.packet_id {
                        a.send(Packet::PubAck(PubResp::new(id))).await;
                    }
                    return Some(p);
                }
                Recv::Timeout => break,
                other => panic!("observer: unexpected {other:?}"),
            }
        }
    }
    None
}

#[tokio::test]
async fn a_v311_keep_alive_of_0_or_above_the_maximum_is_capped() {
    let w = Walkthrough::new();
    // The profile with a 1 s maximum stands in for 1,160 s, so the test can wait for it.
    let b = w.broker_with("", Config { keep_alive_max: 1, ..Config::eventgrid() }).await;
    let mut a = w.actuator(&b, "actuator1").await;
    for (name, ka) in [("sensor1", 0u16), ("sensor2", 1161)] {
        let mut c = with_will(connect(ProtocolVersion::V311, name, Some(name)), &format!("clients/{name}/status"), "offline");
        c.keep_alive = ka;
        let (_silent, ack) = w.client(&b, name, c).await;
        assert_eq!(ack.code, 0);
        let t0 = Instant::now();
        let p = next_publish_pinging(&mut a, Duration::from_secs(4)).await.unwrap_or_else(|| panic!("keep-alive {ka}: no will within 4 s"));
        let took = t0.elapsed();
        assert_eq!(p.topic, format!("clients/{name}/status"));
        assert!(took >= Duration::from_millis(1400), "keep-alive {ka}: will after {took:?}, before 1.5 × the cap");
    }
}

#[tokio::test]
async fn reason_strings_are_terse_unless_the_namespace_asks_for_diagnostics() {
    let w = Walkthrough::new();
    for (settings, full) in [("", false), ("settings:\n  diagnostics: true\n  qos0Denied: disconnect\n", true)] {
        let settings = if settings.is_empty() { "settings:\n  qos0Denied: disconnect\n" } else { settings };
        let b = w.broker(settings).await;
        // Unknown authentication name.
        let (_c, ack) = w.client(&b, "sensor1", connect(ProtocolVersion::V5, "x", Some("ghost-name"))).await;
        assert_eq!(ack.code, reason::BAD_USERNAME_OR_PASSWORD);
        let why = ack.properties.reason_string().unwrap_or_default();
        assert_eq!(why.contains("ghost-name"), full, "{why:?}");
        // Another client's name with one's own certificate: the thumbprint stays in the log.
        let (_c, ack) = w.client(&b, "sensor2", connect(ProtocolVersion::V5, "sensor1", Some("sensor1"))).await;
        assert_eq!(ack.code, reason::BAD_USERNAME_OR_PASSWORD);
        let why = ack.properties.reason_string().unwrap_or_default();
        assert_eq!(why.to_uppercase().contains(&w.sensor2.thumbprint()[..16]), full, "{why:?}");
        // qos0Denied: disconnect: the groups and topic spaces stay in the log.
        let mut s = w.connected(&b, "sensor1", ProtocolVersion::V5).await;
        s.publish("clients/sensor2/status", "forged", QoS::AtMostOnce).await;
        let d = match s.recv(WAIT).await {
            Recv::Packet(Packet::Disconnect(d)) => d,
            other => panic!("expected DISCONNECT 0x87, got {other:?}"),
        };
        assert_eq!(d.reason, reason::NOT_AUTHORIZED);
        let why = d.properties.reason_string().unwrap_or_default();
        assert_eq!(why.contains("lwtPub") || why.contains("sensors"), full, "{why:?}");
        if !full {
            assert_eq!(why, "not authorized");
        }
    }
}

#[tokio::test]
async fn an_offline_queue_over_100_messages_or_1_mb_ends_the_session() {
    let w = Walkthrough::new();
    let b = w.broker("").await;
    let v5 = ProtocolVersion::V5;
    let mut s1 = w.connected(&b, "sensor1", v5).await;
    // (messages, payload bytes): 100 × 10 B fits, 101 × 10 B does not, 3 × 400 kB (1.2 MB) does not.
    for (n, size, kept) in [(100usize, 10usize, true), (101, 10, false), (3, 400_000, false)] {
        let (mut a, ack) = w.client(&b, "actuator1", persistent(connect(v5, "actuator1", Some("actuator1")), 3600)).await;
        assert_eq!(ack.code, 0);
        assert_eq!(a.subscribe("clients/+/status").await, 1);
        a.send(Packet::Disconnect(Disconnect::new(0))).await;
        a.expect_closed().await;
        let payload = "x".repeat(size);
        for _ in 0..n {
            assert_eq!(s1.publish("clients/sensor1/status", &payload, QoS::AtLeastOnce).await.map(|c| c < 0x80), Some(true));
        }
        let (mut a, ack) = w.client(&b, "actuator1", persistent(connect(v5, "actuator1", Some("actuator1")), 0)).await;
        assert_eq!((ack.code, ack.session_present), (0, kept), "{n} × {size} B");
        if kept {
            for _ in 0..n {
                a.next_publish(WAIT).await.expect("every queued message");
            }
        }
        a.send(Packet::Disconnect(Disconnect::new(0))).await;
        a.expect_closed().await;
    }
}

#[tokio::test]
async fn retained_messages_beyond_the_limit_are_delivered_not_stored() {
    let b = common::broker_with(Config { max_retained_messages: 2, ..Config::default() }).await;
    let mut p = common::TestClient::connected(b.local_addr(), common::connect(ProtocolVersion::V5, "pub")).await;
    for (topic, payload) in [("r/1", "a"), ("r/2", "b"), ("r/3", "c"), ("r/1", "a2")] {
        p.publish(common::publish(topic, payload, QoS::AtLeastOnce, true)).await;
    }
    let mut s = common::TestClient::connected(b.local_addr(), common::connect(ProtocolVersion::V5, "sub")).await;
    s.subscribe("r/#", QoS::AtLeastOnce).await;
    // A live probe after the retained ones proves nothing else was stored.
    p.publish(common::publish("r/probe", "p", QoS::AtLeastOnce, false)).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let m = s.expect_publish().await;
        s.ack(&m).await;
        got.push(format!("{}={}", m.topic, String::from_utf8_lossy(&m.payload)));
    }
    assert_eq!(got[2], "r/probe=p", "only two retained messages came before the probe: {got:?}");
    got.sort();
    assert_eq!(got, ["r/1=a2", "r/2=b", "r/probe=p"], "the third topic is not stored; replacing a stored one is");
}

#[tokio::test]
async fn session_expiry_is_capped_at_the_namespace_maximum_up_to_8_hours() {
    let w = Walkthrough::new();
    for (settings, cap) in [("", 3600u32), ("settings:\n  maximumSessionExpiryInHours: 8\n", 8 * 3600)] {
        let b = w.broker(settings).await;
        let (_c, ack) = w.client(&b, "sensor1", persistent(connect(ProtocolVersion::V5, "sensor1", Some("sensor1")), 40_000)).await;
        assert_eq!(ack.code, 0);
        assert_eq!(ack.properties.session_expiry_interval(), Some(cap));
    }
}

#[tokio::test]
async fn the_plain_broker_still_takes_a_disconnect_with_a_user_property_as_normal() {
    // MQTT 5.0 allows User Properties on DISCONNECT: only the Event Grid profile fails it.
    let b = common::broker().await;
    let mut sub = common::TestClient::connected(b.local_addr(), common::connect(ProtocolVersion::V5, "sub")).await;
    sub.subscribe("t/#", QoS::AtLeastOnce).await;
    let w = common::will("t/will", "offline", QoS::AtLeastOnce, false);
    let s = common::TestClient::connected(b.local_addr(), common::connect_with_will(ProtocolVersion::V5, "s", w)).await;
    s.disconnect(0, Properties::new().with(Property::UserProperty("k".into(), "v".into()))).await;
    let mut p = common::TestClient::connected(b.local_addr(), common::connect(ProtocolVersion::V5, "prober")).await;
    p.publish(common::publish("t/probe", "p", QoS::AtLeastOnce, false)).await;
    let m = sub.expect_publish().await;
    assert_eq!(m.topic, "t/probe", "the live probe is the first thing the subscriber gets: no will");
}
