//! The packets cross-checked, for 3.1.1 and for 5.0 by packet family.
use super::*;

// ---------------------------------------------------------------- the packets

/// Three user properties, one key repeated, in a deliberate non-sorted order.
pub(crate) fn users() -> Vec<Property> {
    vec![
        Property::UserProperty("z".into(), "1".into()),
        Property::UserProperty("a".into(), "2".into()),
        Property::UserProperty("z".into(), "0".into()),
    ]
}

/// `list` as our property list, followed by [`users`] when `with_users`.
pub(crate) fn props(mut list: Vec<Property>, with_users: bool) -> ours::Properties {
    if with_users {
        list.extend(users());
    }
    ours::Properties(list)
}

/// A PUBLISH with packet id 0x1234 when QoS > 0 and no properties.
pub(crate) fn publish(topic: &str, payload: &[u8], qos: QoS, dup: bool, retain: bool) -> ours::Publish {
    ours::Publish {
        dup,
        qos,
        retain,
        topic: topic.into(),
        packet_id: if qos == QoS::AtMostOnce { None } else { Some(0x1234) },
        properties: ours::Properties::new(),
        payload: Bytes::copy_from_slice(payload),
    }
}

/// PUBACK and PUBREC with the same fields.
pub(crate) fn resp4(packet_id: u16, reason: u8, p: ours::Properties) -> [Packet; 2] {
    let r = ours::PubResp { packet_id, reason, properties: p };
    [Packet::PubAck(r.clone()), Packet::PubRec(r)]
}

/// PUBREL and PUBCOMP with the same fields.
pub(crate) fn resp67(packet_id: u16, reason: u8, p: ours::Properties) -> [Packet; 2] {
    let r = ours::PubResp { packet_id, reason, properties: p };
    [Packet::PubRel(r.clone()), Packet::PubComp(r)]
}

/// Subscription options from their four fields.
pub(crate) fn sub_opts(qos: QoS, no_local: bool, rap: bool, rh: u8) -> ours::SubOptions {
    ours::SubOptions { qos, no_local, retain_as_published: rap, retain_handling: rh }
}

/// Every 3.1.1 packet type with its edge cases (the list `crosscheck_v311` runs).
pub(crate) fn v311_packets() -> Vec<Packet> {
    use ours::*;
    let mut list = vec![Packet::Connect(Connect::new(V311, "client-1"))];
    let mut c = Connect::new(V311, "");
    c.keep_alive = 0;
    list.push(Packet::Connect(c));
    for (qos, retain) in [(QoS::AtMostOnce, false), (QoS::AtLeastOnce, true), (QoS::ExactlyOnce, false)] {
        let mut c = Connect::new(V311, "with-will");
        c.clean_start = false;
        c.will = Some(Will {
            topic: "clients/with-will/status".into(),
            payload: Bytes::from_static(b"offline"),
            qos,
            retain,
            properties: Properties::new(),
        });
        c.username = Some("user".into());
        c.password = Some(Bytes::from_static(&[0, 1, 0xFF]));
        list.push(Packet::Connect(c));
    }
    for code in 0..=5 {
        list.push(Packet::ConnAck(ConnAck { session_present: code == 0, code, properties: Properties::new() }));
    }
    list.push(Packet::Publish(publish("a/b", b"hello", QoS::AtMostOnce, false, false)));
    list.push(Packet::Publish(publish("a/b", b"", QoS::AtLeastOnce, false, true)));
    list.push(Packet::Publish(publish("ünï/cødé", &[0u8; 300], QoS::ExactlyOnce, true, false)));
    list.extend(resp4(1, 0, Properties::new()));
    list.extend(resp67(u16::MAX, 0, Properties::new()));
    list.push(Packet::Subscribe(Subscribe {
        packet_id: 7,
        properties: Properties::new(),
        filters: vec![
            ("a/+".into(), SubOptions::qos(QoS::AtMostOnce)),
            ("#".into(), SubOptions::qos(QoS::AtLeastOnce)),
            ("$SYS/x".into(), SubOptions::qos(QoS::ExactlyOnce)),
        ],
    }));
    list.push(Packet::SubAck(SubAck { packet_id: 7, properties: Properties::new(), codes: vec![0, 1, 2, 0x80] }));
    list.push(Packet::Unsubscribe(Unsubscribe { packet_id: 8, properties: Properties::new(), filters: vec!["a/+".into(), "#".into()] }));
    list.push(Packet::UnsubAck(UnsubAck { packet_id: 8, properties: Properties::new(), codes: vec![] }));
    list.push(Packet::PingReq);
    list.push(Packet::PingResp);
    list.push(Packet::Disconnect(Disconnect::default()));
    list
}

/// Every 5.0 packet type with its edge cases, family by family (the list `crosscheck_v5` runs).
pub(crate) fn v5_packets() -> Vec<Packet> {
    let mut list = v5_connect_packets();
    list.extend(v5_publish_packets());
    list.extend(v5_subscribe_packets());
    list.extend(v5_control_packets());
    list
}

/// 5.0 CONNECT (bare, with every CONNECT and Will property, with a one-property Will) and CONNACK.
pub(crate) fn v5_connect_packets() -> Vec<Packet> {
    use ours::*;
    use Property::*;
    let mut list = vec![Packet::Connect(Connect::new(V5, ""))];
    let mut c = Connect::new(V5, "client-5");
    c.properties = props(
        vec![
            SessionExpiryInterval(3600),
            ReceiveMaximum(20),
            MaximumPacketSize(65_536),
            TopicAliasMaximum(5),
            RequestResponseInformation(1),
            RequestProblemInformation(0),
            AuthenticationMethod("PLAIN".into()),
            AuthenticationData(Bytes::from_static(b"secret")),
        ],
        true,
    );
    c.will = Some(Will {
        topic: "clients/client-5/status".into(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: props(
            vec![
                WillDelayInterval(10),
                PayloadFormatIndicator(1),
                MessageExpiryInterval(120),
                ContentType("text/plain".into()),
                ResponseTopic("replies/client-5".into()),
                CorrelationData(Bytes::from_static(&[9, 8, 7])),
            ],
            true,
        ),
    });
    c.username = Some("user".into());
    c.password = Some(Bytes::from_static(b"pw"));
    list.push(Packet::Connect(c));

    // A Will with exactly one property (byte-identical encodings expected).
    let mut c = Connect::new(V5, "one");
    c.clean_start = false;
    c.will = Some(Will {
        topic: "w".into(),
        payload: Bytes::new(),
        qos: QoS::ExactlyOnce,
        retain: false,
        properties: props(vec![WillDelayInterval(30)], false),
    });
    c.properties = props(vec![SessionExpiryInterval(30)], false);
    list.push(Packet::Connect(c));
    // Not here: a 5.0 CONNECT with a password but no user name. 5.0 allows it (section 3.1.2.9, "This
    // version of the protocol allows the sending of a Password with no User Name"), but mqtt5-protocol
    // 0.16 refuses it; tests/roundtrip/ and tests/malformed/ cover it on our side.

    list.push(Packet::ConnAck(ConnAck { session_present: false, code: 0, properties: Properties::new() }));
    list.push(Packet::ConnAck(ConnAck { session_present: false, code: 0x87, properties: Properties::new() }));
    list.push(Packet::ConnAck(ConnAck {
        session_present: true,
        code: 0,
        properties: props(
            vec![
                SessionExpiryInterval(0),
                ReceiveMaximum(1),
                MaximumQos(1),
                RetainAvailable(0),
                MaximumPacketSize(1_000_000),
                AssignedClientIdentifier("auto-xyz".into()),
                TopicAliasMaximum(10),
                ReasonString("welcome".into()),
                WildcardSubscriptionAvailable(1),
                SubscriptionIdentifierAvailable(0),
                SharedSubscriptionAvailable(1),
                ServerKeepAlive(30),
                ResponseInformation("resp/".into()),
                ServerReference("srv2".into()),
                AuthenticationMethod("m".into()),
                AuthenticationData(Bytes::from_static(b"d")),
            ],
            true,
        ),
    }));
    list
}

/// 5.0 PUBLISH (flags, every PUBLISH property, Topic Alias) and PUBACK, PUBREC, PUBREL, PUBCOMP.
pub(crate) fn v5_publish_packets() -> Vec<Packet> {
    use ours::*;
    use Property::*;
    let mut list = Vec::new();
    list.push(Packet::Publish(publish("a/b", b"hello", QoS::AtMostOnce, false, false)));
    list.push(Packet::Publish(publish("a/b", b"", QoS::ExactlyOnce, true, true)));
    list.push(Packet::Publish(publish("big", &vec![0x5A; 20_000], QoS::AtLeastOnce, false, false)));
    let mut m = publish("a/b", b"{}", QoS::AtLeastOnce, false, true);
    m.properties = props(
        vec![
            PayloadFormatIndicator(1),
            MessageExpiryInterval(60),
            TopicAlias(3),
            ResponseTopic("reply/to".into()),
            CorrelationData(Bytes::from_static(b"corr")),
            ContentType("application/json".into()),
            SubscriptionIdentifier(1),
            SubscriptionIdentifier(268_435_455),
            SubscriptionIdentifier(128),
        ],
        true,
    );
    list.push(Packet::Publish(m));
    let mut m = publish("", b"aliased", QoS::AtMostOnce, false, false);
    m.properties = props(vec![TopicAlias(1)], false);
    list.push(Packet::Publish(m));

    list.extend(resp4(1, 0, Properties::new()));
    list.extend(resp4(2, 0x10, Properties::new()));
    list.extend(resp4(3, 0x99, props(vec![ReasonString("bad payload".into())], true)));
    list.extend(resp4(4, 0, props(vec![], true)));
    list.extend(resp67(5, 0, Properties::new()));
    list.extend(resp67(6, 0x92, props(vec![ReasonString("unknown id".into())], false)));
    list
}

/// 5.0 SUBSCRIBE with every subscription option, SUBACK, UNSUBSCRIBE and UNSUBACK.
pub(crate) fn v5_subscribe_packets() -> Vec<Packet> {
    use ours::*;
    use Property::*;
    let mut list = Vec::new();
    list.push(Packet::Subscribe(Subscribe {
        packet_id: 9,
        properties: props(vec![SubscriptionIdentifier(42)], true),
        filters: vec![
            ("a/+".into(), sub_opts(QoS::AtMostOnce, false, false, 0)),
            ("b/#".into(), sub_opts(QoS::AtLeastOnce, true, false, 1)),
            ("c".into(), sub_opts(QoS::ExactlyOnce, false, true, 2)),
            ("$share/g/d".into(), sub_opts(QoS::ExactlyOnce, false, true, 1)),
            ("e".into(), sub_opts(QoS::AtLeastOnce, true, true, 2)),
        ],
    }));
    list.push(Packet::Subscribe(Subscribe {
        packet_id: 10,
        properties: Properties::new(),
        filters: vec![("x/y".into(), sub_opts(QoS::ExactlyOnce, true, true, 2))],
    }));
    list.push(Packet::SubAck(SubAck {
        packet_id: 9,
        properties: props(vec![ReasonString("partly".into())], true),
        codes: vec![0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2],
    }));
    list.push(Packet::SubAck(SubAck { packet_id: 10, properties: Properties::new(), codes: vec![2] }));
    list.push(Packet::Unsubscribe(Unsubscribe { packet_id: 11, properties: props(vec![], true), filters: vec!["a/+".into(), "#".into()] }));
    list.push(Packet::UnsubAck(UnsubAck {
        packet_id: 11,
        properties: props(vec![ReasonString("r".into())], true),
        codes: vec![0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
    }));
    list.push(Packet::UnsubAck(UnsubAck { packet_id: 12, properties: Properties::new(), codes: vec![0] }));
    list
}

/// 5.0 PINGREQ, PINGRESP, DISCONNECT and AUTH.
pub(crate) fn v5_control_packets() -> Vec<Packet> {
    use ours::*;
    use Property::*;
    let mut list = Vec::new();
    list.push(Packet::PingReq);
    list.push(Packet::PingResp);
    list.push(Packet::Disconnect(Disconnect::new(0)));
    list.push(Packet::Disconnect(Disconnect::new(0x04)));
    list.push(Packet::Disconnect(Disconnect::new(0x8E)));
    list.push(Packet::Disconnect(Disconnect {
        reason: 0x8B,
        properties: props(vec![SessionExpiryInterval(0), ReasonString("bye".into()), ServerReference("other".into())], true),
    }));
    list.push(Packet::Disconnect(Disconnect { reason: 0x04, properties: props(vec![SessionExpiryInterval(10)], false) }));
    list.push(Packet::Auth(Auth::default()));
    list.push(Packet::Auth(Auth {
        reason: 0x18,
        properties: props(
            vec![AuthenticationMethod("SCRAM-SHA-256".into()), AuthenticationData(Bytes::from_static(b"client-first"))],
            false,
        ),
    }));
    list.push(Packet::Auth(Auth {
        reason: 0x19,
        properties: props(vec![AuthenticationMethod("m".into()), ReasonString("again".into())], true),
    }));
    list
}
