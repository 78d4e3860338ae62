//! CONNECT (3.1.1 and 5.0 with every CONNECT and Will property, known bytes) and CONNACK.
use super::*;

// ---------------------------------------------------------------- CONNECT

#[test]
fn connect_v311() {
    roundtrip(&Packet::Connect(Connect::new(V311, "c1")), V311);
    let mut c = Connect::new(V311, "");
    c.clean_start = false;
    c.keep_alive = 0;
    roundtrip(&Packet::Connect(c), V311);

    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for retain in [false, true] {
            let mut c = Connect::new(V311, "c-will");
            c.keep_alive = u16::MAX;
            let mut w = full_will(Properties::new());
            w.qos = qos;
            w.retain = retain;
            c.will = Some(w);
            roundtrip(&Packet::Connect(c), V311);
        }
    }

    let mut c = Connect::new(V311, "c-auth");
    c.username = Some("user".into());
    c.password = Some(Bytes::from_static(&[0, 1, 2, 0xFF]));
    c.will = Some(full_will(Properties::new()));
    roundtrip(&Packet::Connect(c.clone()), V311);
    c.username = Some(String::new());
    c.password = Some(Bytes::new());
    c.will.as_mut().unwrap().payload = Bytes::new();
    roundtrip(&Packet::Connect(c), V311);

    let mut c = Connect::new(V311, "only-user");
    c.username = Some("u".into());
    roundtrip(&Packet::Connect(c), V311);
}

#[test]
fn connect_v5_with_every_connect_and_will_property() {
    use Property::*;
    let mut connect_props = vec![
        SessionExpiryInterval(3600),
        ReceiveMaximum(20),
        MaximumPacketSize(65_536),
        TopicAliasMaximum(5),
        RequestResponseInformation(1),
        RequestProblemInformation(0),
        AuthenticationMethod("PLAIN".into()),
        AuthenticationData(Bytes::from_static(b"secret")),
    ];
    connect_props.extend(users());
    let mut will_props = vec![
        WillDelayInterval(10),
        PayloadFormatIndicator(1),
        MessageExpiryInterval(120),
        ContentType("text/plain".into()),
        ResponseTopic("replies/c1".into()),
        CorrelationData(Bytes::from_static(&[9, 8, 7])),
    ];
    will_props.extend(users());
    will_props.push(user("last", "one"));

    let mut c = Connect::new(V5, "c1");
    c.properties = props(connect_props);
    c.will = Some(full_will(props(will_props.clone())));
    c.username = Some("user".into());
    c.password = Some(Bytes::from_static(b"pw"));
    let bytes = roundtrip(&Packet::Connect(c.clone()), V5);
    // A CONNECT carries its own protocol level: the connection's version does not matter.
    assert_eq!(decode(&bytes, V311).unwrap(), Packet::Connect(c.clone()));

    // The user properties come back in order, repeated keys included.
    let Packet::Connect(back) = decode(&bytes, V5).unwrap() else { panic!("not a CONNECT") };
    let expected: Vec<(String, String)> = will_props
        .iter()
        .filter_map(|p| match p {
            UserProperty(k, v) => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(back.will.as_ref().unwrap().properties.user_properties(), expected);
    assert_eq!(back.will.unwrap().properties.will_delay_interval(), Some(10));

    // 5.0 allows a password without a user name; empty client id; no will; will without properties.
    let mut c = Connect::new(V5, "");
    c.password = Some(Bytes::from_static(b"pw"));
    c.clean_start = false;
    roundtrip(&Packet::Connect(c), V5);
    let mut c = Connect::new(V5, "w");
    c.will = Some(full_will(Properties::new()));
    let bytes = roundtrip(&Packet::Connect(c.clone()), V5);
    assert_eq!(decode(&bytes, V311).unwrap(), Packet::Connect(c));
}

#[test]
fn connect_known_bytes() {
    // 3.1.1: the flags byte of the spec's example in section 3.1.2.10 (0xCE: user name, password, will
    // QoS 1, will flag, clean session) with keep alive 10, plus a payload.
    let mut c = Connect::new(V311, "c");
    c.keep_alive = 10;
    c.will = Some(Will {
        topic: "w".into(),
        payload: Bytes::from_static(b"x"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties::new(),
    });
    c.username = Some("u".into());
    c.password = Some(Bytes::from_static(b"p"));
    #[rustfmt::skip]
    let expected = [
        0x10, 0x19,
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xCE, 0x00, 0x0A,
        0x00, 0x01, b'c', 0x00, 0x01, b'w', 0x00, 0x01, b'x', 0x00, 0x01, b'u', 0x00, 0x01, b'p',
    ];
    exact(&Packet::Connect(c), V311, &expected);

    // 5.0, minimal: clean start, keep alive 60, empty property list, empty client id.
    let c = Connect::new(V5, "");
    exact(
        &Packet::Connect(c),
        V5,
        &[0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x00],
    );

    // 5.0 with a Will with a Will Delay Interval and a Session Expiry Interval.
    let mut c = Connect::new(V5, "a");
    c.properties = props(vec![Property::SessionExpiryInterval(30)]);
    c.will = Some(Will {
        topic: "t".into(),
        payload: Bytes::new(),
        qos: QoS::AtMostOnce,
        retain: true,
        properties: props(vec![Property::WillDelayInterval(5)]),
    });
    #[rustfmt::skip]
    let expected = [
        0x10, 0x1E,
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x26, 0x00, 0x3C,
        0x05, 0x11, 0x00, 0x00, 0x00, 0x1E,
        0x00, 0x01, b'a',
        0x05, 0x18, 0x00, 0x00, 0x00, 0x05,
        0x00, 0x01, b't', 0x00, 0x00,
    ];
    exact(&Packet::Connect(c), V5, &expected);
}

// ---------------------------------------------------------------- CONNACK

#[test]
fn connack() {
    for code in 0..=5u8 {
        for session_present in [false, true] {
            roundtrip(&Packet::ConnAck(ConnAck { session_present, code, properties: Properties::new() }), V311);
        }
    }
    let v5_codes = [
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A,
        0x9B, 0x9C, 0x9D, 0x9F,
    ];
    for code in v5_codes {
        roundtrip(&Packet::ConnAck(ConnAck { session_present: false, code, properties: Properties::new() }), V5);
    }
    use Property::*;
    let mut all = vec![
        SessionExpiryInterval(0),
        ReceiveMaximum(1),
        MaximumQos(0),
        RetainAvailable(1),
        MaximumPacketSize(268_435_460),
        AssignedClientIdentifier("auto-xyz".into()),
        TopicAliasMaximum(0),
        ReasonString("ok".into()),
        WildcardSubscriptionAvailable(0),
        SubscriptionIdentifierAvailable(1),
        SharedSubscriptionAvailable(0),
        ServerKeepAlive(0),
        ResponseInformation("resp/".into()),
        ServerReference("srv2".into()),
        AuthenticationMethod("m".into()),
        AuthenticationData(Bytes::from_static(b"d")),
    ];
    all.extend(users());
    roundtrip(&Packet::ConnAck(ConnAck { session_present: true, code: 0, properties: props(all) }), V5);

    exact(&Packet::ConnAck(ConnAck { session_present: true, code: 0, properties: Properties::new() }), V311, &[
        0x20, 0x02, 0x01, 0x00,
    ]);
    exact(&Packet::ConnAck(ConnAck { session_present: false, code: 0x86, properties: Properties::new() }), V5, &[
        0x20, 0x03, 0x00, 0x86, 0x00,
    ]);
}
