//! The TLS listener and the Event Grid emulation, through real TLS sockets with generated
//! certificates: the seeds' sensors-and-actuators namespace (thumbprint authentication, topic
//! spaces, bindings), will authorization, the three client-certificate modes and the `eventgrid`
//! profile's limits. Every packet goes through the shared codec.


mod tls_common;

use bytes::Bytes;
use lwt_broker::codec::*;
use lwt_broker::connection::Connection;
use lwt_broker::Config;
use std::time::Duration;
use tls_common::*;
use tokio::net::TcpStream;
use tokio::time::timeout;

#[tokio::test]
async fn walkthrough_abrupt_loss_sends_both_wills_to_both_actuators_graceful_sends_none() {
    let w = Walkthrough::new();
    let b = w.broker("").await;
    let mut a1 = w.actuator(&b, "actuator1").await;
    let mut a2 = w.actuator(&b, "actuator2").await;
    let mut prober = w.connected(&b, "prober", ProtocolVersion::V5).await;

    // Graceful DISCONNECT: no will.
    for s in ["sensor1", "sensor2"] {
        let (mut c, ack) = w.client(&b, s, with_will(connect(ProtocolVersion::V5, s, Some(s)), &format!("clients/{s}/status"), "offline")).await;
        assert_eq!(ack.code, 0);
        c.send(Packet::Disconnect(Disconnect::new(0))).await;
        c.expect_closed().await;
    }
    a1.expect_only_probe(&mut prober, "probe/1").await;
    a2.next_publish(WAIT).await.expect("probe at actuator2");

    // Reconnect and cut abruptly (TCP close under TLS, no close_notify, no DISCONNECT).
    for s in ["sensor1", "sensor2"] {
        let (c, ack) = w.client(&b, s, with_will(connect(ProtocolVersion::V5, s, Some(s)), &format!("clients/{s}/status"), "offline")).await;
        assert_eq!(ack.code, 0);
        let tcp = c.conn.into_inner().into_inner().0;
        drop(tcp);
    }
    for a in [&mut a1, &mut a2] {
        let mut got = Vec::new();
        for _ in 0..2 {
            let p = a.next_publish(WAIT).await.expect("a will");
            assert_eq!(&p.payload[..], b"offline");
            got.push(p.topic);
        }
        got.sort();
        assert_eq!(got, ["clients/sensor1/status", "clients/sensor2/status"]);
    }
    a1.expect_only_probe(&mut prober, "probe/2").await;
    assert_eq!(b.stats().await.wills_published, 2);
}

#[tokio::test]
async fn will_outside_the_topic_space_is_dropped_and_counted() {
    let w = Walkthrough::new();
    let b = w.broker("").await;
    let mut a1 = w.actuator(&b, "actuator1").await;
    let mut prober = w.connected(&b, "prober", ProtocolVersion::V5).await;
    // sensor1 may only publish clients/sensor1/status: a will on sensor2's topic is not its to send.
    let c = with_will(connect(ProtocolVersion::V5, "sensor1", Some("sensor1")), "clients/sensor2/status", "forged");
    let (s1, ack) = w.client(&b, "sensor1", c).await;
    assert_eq!(ack.code, 0, "at_fire (default): the CONNECT is accepted");
    drop(s1.conn.into_inner().into_inner().0);
    // The probe is published after the close was seen by the broker (stats show the drop).
    let deadline = tokio::time::Instant::now() + WAIT;
    while b.stats().await.wills_denied == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the will was neither dropped nor counted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a1.expect_only_probe(&mut prober, "probe/x").await;
    assert_eq!(b.stats().await.wills_published, 0);
}

#[tokio::test]
async fn check_at_connect_refuses_an_unauthorized_will() {
    let w = Walkthrough::new();
    let b = w.broker("settings:\n  willAuthorization: atConnect\n").await;
    let bad = with_will(connect(ProtocolVersion::V5, "sensor1", Some("sensor1")), "clients/sensor2/status", "x");
    assert_eq!(w.client(&b, "sensor1", bad).await.1.code, reason::NOT_AUTHORIZED);
    let bad311 = with_will(connect(ProtocolVersion::V311, "sensor1", Some("sensor1")), "clients/sensor2/status", "x");
    assert_eq!(w.client(&b, "sensor1", bad311).await.1.code, reason::v311::NOT_AUTHORIZED);
    let good = with_will(connect(ProtocolVersion::V5, "sensor1", Some("sensor1")), "clients/sensor1/status", "x");
    assert_eq!(w.client(&b, "sensor1", good).await.1.code, 0);
}

#[tokio::test]
async fn publish_and_subscribe_authorization() {
    let w = Walkthrough::new();
    let b = w.broker("").await;
    let mut a1 = w.actuator(&b, "actuator1").await;
    let mut prober = w.connected(&b, "prober", ProtocolVersion::V5).await;
    let mut s1 = w.connected(&b, "sensor1", ProtocolVersion::V5).await;
    // Own topic: allowed (and delivered); another sensor's topic: PUBACK 0x87; QoS 0 outside: dropped.
    assert_eq!(s1.publish("clients/sensor1/status", "online", QoS::AtLeastOnce).await, Some(0));
    assert_eq!(a1.next_publish(WAIT).await.expect("own topic delivered").topic, "clients/sensor1/status");
    assert_eq!(s1.publish("clients/sensor2/status", "forged", QoS::AtLeastOnce).await, Some(reason::NOT_AUTHORIZED));
    s1.publish("clients/sensor2/status", "forged0", QoS::AtMostOnce).await;
    a1.expect_only_probe(&mut prober, "probe/p").await;
    // Publisher does not imply Subscriber; Subscriber does not imply Publisher; other filters still granted.
    assert_eq!(s1.subscribe("clients/+/status").await, reason::NOT_AUTHORIZED);
    assert_eq!(a1.publish("clients/actuator1/status", "x", QoS::AtLeastOnce).await, Some(reason::NOT_AUTHORIZED));
    let pid = a1.pid();
    a1.send(Packet::Subscribe(Subscribe {
        packet_id: pid,
        properties: Properties::new(),
        filters: vec![
            ("clients/#".into(), SubOptions { qos: QoS::AtLeastOnce, ..Default::default() }),
            ("clients/sensor1/status".into(), SubOptions { qos: QoS::AtLeastOnce, ..Default::default() }),
        ],
    }))
    .await;
    match a1.recv(WAIT).await {
        Recv::Packet(Packet::SubAck(a)) => assert_eq!(a.codes, vec![reason::NOT_AUTHORIZED, 1], "clients/# is wider than clients/+/status"),
        other => panic!("expected SUBACK, got {other:?}"),
    }
    // 3.1.1: an unauthorized PUBLISH closes the connection; a refused filter gets 0x80.
    let mut s2 = w.connected(&b, "sensor2", ProtocolVersion::V311).await;
    assert_eq!(s2.subscribe("clients/+/status").await, reason::v311::SUBACK_FAILURE);
    s2.send(Packet::Publish({
        let mut p = Publish::new("clients/sensor1/status", Bytes::from_static(b"forged"));
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(9);
        p
    }))
    .await;
    assert_eq!(s2.expect_closed().await, None);
}

#[tokio::test]
async fn authentication_refusals_carry_the_right_codes() {
    let w = Walkthrough::new();
    let b = w.broker("").await;
    let addr = b.tls_addrs()[0];
    // A certificate whose thumbprint is not registered for the username.
    let stranger = Pki::self_signed("sensor1");
    for (v, code) in [(ProtocolVersion::V5, reason::BAD_USERNAME_OR_PASSWORD), (ProtocolVersion::V311, reason::v311::BAD_USERNAME_OR_PASSWORD)] {
        let (_, ack) = Client::connect(&w.pki, addr, Some(&stranger), connect(v, "sensor1", Some("sensor1"))).await;
        assert_eq!(ack.code, code, "{v:?}: wrong thumbprint");
        // The right certificate presented under another client's name.
        let (_, ack) = Client::connect(&w.pki, addr, Some(&w.sensor1), connect(v, "sensor2", Some("sensor2"))).await;
        assert_eq!(ack.code, code, "{v:?}: certificate of sensor1 with username sensor2");
    }
    // No certificate at all, and plain TCP: refused.
    let (_, ack) = Client::connect(&w.pki, addr, None, connect(ProtocolVersion::V5, "sensor1", Some("sensor1"))).await;
    assert!(ack.code >= 0x80, "no certificate accepted: {ack:?}");
    let mut tcp = Connection::new(TcpStream::connect(b.local_addr()).await.unwrap());
    tcp.set_version(ProtocolVersion::V5);
    tcp.write_packet(&Packet::Connect(connect(ProtocolVersion::V5, "sensor1", Some("sensor1")))).await.unwrap();
    match timeout(WAIT, tcp.read_packet()).await.expect("an answer") {
        Ok(Some(Packet::ConnAck(a))) => assert!(a.code >= 0x80, "plain TCP accepted: {a:?}"),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    // The username matches case-insensitively, as Event Grid's authentication does.
    let ok = Client::connected(&w.pki, addr, Some(&w.sensor1), connect(ProtocolVersion::V5, "s1", Some("SENSOR1"))).await;
    drop(ok);
}

#[tokio::test]
async fn a_session_name_owned_by_another_authentication_name_is_refused() {
    let w = Walkthrough::new();
    let b = w.broker("").await;
    let mut c = connect(ProtocolVersion::V5, "shared-session", Some("sensor1"));
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(600));
    let (s1, ack) = w.client(&b, "sensor1", c).await;
    assert_eq!(ack.code, 0);
    drop(s1);
    let (_, ack) = w.client(&b, "sensor2", connect(ProtocolVersion::V5, "shared-session", Some("sensor2"))).await;
    assert_eq!(ack.code, reason::NOT_AUTHORIZED);
}

// ------------------------------------------------------------------ the eventgrid profile

#[tokio::test]
async fn eventgrid_profile_limits() {
    let pki = Pki::new();
    let b = pki.broker(Config::eventgrid(), false).await;
    let addr = b.tls_addrs()[0];
    // QoS 2 will → 0x9B (MQTT-3.2.2-12).
    let mut c = connect(ProtocolVersion::V5, "q2", None);
    c.will = Some(Will { topic: "a".into(), payload: Bytes::new(), qos: QoS::ExactlyOnce, retain: false, properties: Properties::new() });
    assert_eq!(Client::connect(&pki, addr, None, c).await.1.code, reason::QOS_NOT_SUPPORTED);
    // Keep-alive above 1,160 s → Server Keep Alive 1160; CONNACK announces the limits.
    let mut c = connect(ProtocolVersion::V5, "ka", None);
    c.keep_alive = 2000;
    let (mut cl, ack) = Client::connect(&pki, addr, None, c).await;
    assert_eq!(ack.code, 0);
    assert_eq!(ack.properties.server_keep_alive(), Some(1160));
    assert_eq!(ack.properties.maximum_qos(), Some(1));
    assert_eq!(ack.properties.maximum_packet_size(), Some(512 * 1024));
    assert_eq!(ack.properties.topic_alias_maximum(), Some(10));
    // 9 levels: refused; 8 levels: granted.
    assert_eq!(cl.subscribe("1/2/3/4/5/6/7/8/9").await, reason::TOPIC_FILTER_INVALID);
    assert_eq!(cl.subscribe("1/2/3/4/5/6/7/8").await, 1);
    // 50 subscriptions per session: the 51st is refused with 0x97.
    for i in 1..50 {
        assert_eq!(cl.subscribe(&format!("s/{i}")).await, 1, "subscription {i}");
    }
    assert_eq!(cl.subscribe("s/50").await, reason::QUOTA_EXCEEDED);
    // A Will Delay of 600 s is lowered to 300 s: checked on the will's arming, not by waiting.
    // User Property on CONNECT → the request fails.
    let mut c = connect(ProtocolVersion::V5, "up", None);
    c.properties.push(Property::UserProperty("k".into(), "v".into()));
    assert_eq!(Client::connect(&pki, addr, None, c).await.1.code, reason::IMPLEMENTATION_SPECIFIC_ERROR);
    // A Subscription Identifier is not supported: DISCONNECT 0xA1.
    let mut cl2 = Client::connected(&pki, addr, None, connect(ProtocolVersion::V5, "sid", None)).await;
    let mut props = Properties::new();
    props.push(Property::SubscriptionIdentifier(7));
    cl2.send(Packet::Subscribe(Subscribe {
        packet_id: 1,
        properties: props,
        filters: vec![("a".into(), SubOptions::default())],
    }))
    .await;
    assert_eq!(cl2.expect_closed().await, Some(reason::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED));
}

// ------------------------------------------------------------------ client-certificate modes

#[tokio::test]
async fn tls_without_namespace_carries_wills_and_client_ca_mode_requires_a_certificate() {
    let pki = Pki::new();
    // Server authentication only: pub/sub and a will over TLS.
    let b = pki.broker(Config::default(), false).await;
    let addr = b.tls_addrs()[0];
    let mut sub = Client::connected(&pki, addr, None, connect(ProtocolVersion::V311, "sub", None)).await;
    assert_eq!(sub.subscribe("clients/+/status").await, 1);
    let (victim, _) = Client::connect(&pki, addr, None, with_will(connect(ProtocolVersion::V5, "dev", None), "clients/dev/status", "offline")).await;
    drop(victim.conn.into_inner().into_inner().0);
    let p = sub.next_publish(WAIT).await.expect("will over TLS");
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("clients/dev/status", &b"offline"[..]));
    b.shutdown().await;

    // --client-ca: no certificate or an untrusted one fails the handshake (or the first read);
    // a certificate from the CA is accepted.
    let b = pki.broker(Config::default(), true).await;
    let addr = b.tls_addrs()[0];
    let good = pki.client("device-1");
    Client::connected(&pki, addr, Some(&good), connect(ProtocolVersion::V5, "device-1", None)).await;
    for identity in [None, Some(Pki::self_signed("intruder"))] {
        let refused = match Client::open(&pki, addr, identity.as_ref(), ProtocolVersion::V5).await {
            Err(_) => true,
            Ok(mut c) => {
                // TLS 1.3: the client learns of the refusal on its first read.
                c.conn.write_packet(&Packet::Connect(connect(ProtocolVersion::V5, "x", None))).await.ok();
                matches!(c.recv(WAIT).await, Recv::Closed)
            }
        };
        assert!(refused, "a client without a trusted certificate got through");
    }
}

#[test]
fn client_ca_with_namespace_is_a_clear_error() {
    let pki = Pki::new();
    let err = lwt_broker::tls::server_config(&pki.tls_options(true), true).unwrap_err().to_string();
    assert!(err.contains("--client-ca") && err.contains("caCertificates"), "{err}");
    let mut bad = pki.tls_options(false);
    bad.key = pki.write("wrong.key", &Pki::self_signed("x").key);
    let err = format!("{:#}", lwt_broker::tls::server_config(&bad, false).unwrap_err());
    assert!(err.contains("does not match"), "{err}");
}

#[tokio::test]
async fn sessions_per_authentication_name_are_limited_online_and_offline() {
    let w = Walkthrough::new();
    let b = w.broker("").await; // default maximumClientSessionsPerAuthenticationName: 1
    let mut c = connect(ProtocolVersion::V5, "session-a", Some("sensor1"));
    c.clean_start = false;
    c.properties.push(Property::SessionExpiryInterval(600));
    let (a, ack) = w.client(&b, "sensor1", c).await;
    assert_eq!(ack.code, 0);
    let (_, ack) = w.client(&b, "sensor1", connect(ProtocolVersion::V5, "session-b", Some("sensor1"))).await;
    assert_eq!(ack.code, reason::QUOTA_EXCEEDED, "a second session while the first is online");
    drop(a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, ack) = w.client(&b, "sensor1", connect(ProtocolVersion::V5, "session-b", Some("sensor1"))).await;
    assert_eq!(ack.code, reason::QUOTA_EXCEEDED, "the offline session still counts");
    // Resuming the session it holds is fine; ending it frees the slot.
    let (a, ack) = w.client(&b, "sensor1", connect(ProtocolVersion::V5, "session-a", Some("sensor1"))).await;
    assert_eq!(ack.code, 0, "clean start on its own session");
    let mut a = a;
    a.send(Packet::Disconnect(Disconnect::new(0))).await;
    a.expect_closed().await;
    let (_, ack) = w.client(&b, "sensor1", connect(ProtocolVersion::V5, "session-b", Some("sensor1"))).await;
    assert_eq!(ack.code, 0, "the slot is free once the session ended");
}

/// The will-delay cap (Event Grid: 300 s) through a 1 s namespace maximum so it can be watched:
/// a will asking for 600 s arrives after about 1 s; in `reject` mode the CONNECT is refused.
#[tokio::test]
async fn will_delay_above_the_namespace_maximum_is_clamped_or_rejected() {
    let w = Walkthrough::new();
    let b = w.broker("settings:\n  maxWillDelaySecs: 1\n").await;
    let mut a1 = w.actuator(&b, "actuator1").await;
    let mut c = with_will(connect(ProtocolVersion::V5, "sensor1", Some("sensor1")), "clients/sensor1/status", "offline");
    c.properties.push(Property::SessionExpiryInterval(600));
    c.will.as_mut().unwrap().properties.push(Property::WillDelayInterval(600));
    let (s1, ack) = w.client(&b, "sensor1", c.clone()).await;
    assert_eq!(ack.code, 0);
    let cut = tokio::time::Instant::now();
    drop(s1.conn.into_inner().into_inner().0);
    assert!(a1.next_publish(Duration::from_millis(700)).await.is_none(), "the will came before the 1 s delay");
    let p = a1.next_publish(WAIT).await.expect("the will after the clamped delay");
    let after = cut.elapsed();
    assert_eq!(p.topic, "clients/sensor1/status");
    assert!(after >= Duration::from_secs(1) && after < Duration::from_secs(3), "will after {after:?}");
    b.shutdown().await;

    let b = w.broker("settings:\n  maxWillDelaySecs: 1\n  willDelayOverMax: reject\n").await;
    assert_eq!(w.client(&b, "sensor1", c).await.1.code, reason::IMPLEMENTATION_SPECIFIC_ERROR);
}
