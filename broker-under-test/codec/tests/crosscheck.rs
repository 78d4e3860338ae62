//! Cross-check against an independent implementation, the `mqtt5-protocol` crate (which also speaks
//! 3.1.1): packets encoded by our codec decode with theirs to the same fields, and packets encoded by
//! theirs decode with ours to the same fields. Where both sides must produce the same bytes, that is
//! checked too.
//!
//! Their property lists are hash maps, so property order across different identifiers is not kept;
//! comparisons sort properties by identifier (stable, so repeated user properties keep their order).

use bytes::{Buf, Bytes};
use lwt_codec::{self as ours, Packet, Property, ProtocolVersion, QoS};
use mqtt5_protocol as theirs;
use theirs::packet::{
    auth::AuthPacket, connack::ConnAckPacket, connect::ConnectPacket, disconnect::DisconnectPacket,
    pingreq::PingReqPacket, pingresp::PingRespPacket, puback::PubAckPacket, pubcomp::PubCompPacket,
    publish::PublishPacket, pubrec::PubRecPacket, pubrel::PubRelPacket, suback::SubAckPacket, suback::SubAckReasonCode,
    subscribe::SubscribePacket, subscribe::TopicFilter, subscribe_options::SubscriptionOptions,
    unsuback::UnsubAckPacket, unsuback::UnsubAckReasonCode, unsubscribe::UnsubscribePacket, FixedHeader, MqttPacket,
};
use theirs::packet::subscribe_options::RetainHandling;
use theirs::{PropertyId, PropertyValue, ReasonCode};

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

// ---------------------------------------------------------------- properties

fn their_props(list: &ours::Properties) -> theirs::Properties {
    use Property::*;
    let mut out = theirs::Properties::default();
    for p in &list.0 {
        let value = match p {
            PayloadFormatIndicator(v) | RequestProblemInformation(v) | RequestResponseInformation(v) | MaximumQos(v)
            | RetainAvailable(v) | WildcardSubscriptionAvailable(v) | SubscriptionIdentifierAvailable(v)
            | SharedSubscriptionAvailable(v) => PropertyValue::Byte(*v),
            ServerKeepAlive(v) | ReceiveMaximum(v) | TopicAliasMaximum(v) | TopicAlias(v) => PropertyValue::TwoByteInteger(*v),
            MessageExpiryInterval(v) | SessionExpiryInterval(v) | WillDelayInterval(v) | MaximumPacketSize(v) => {
                PropertyValue::FourByteInteger(*v)
            }
            SubscriptionIdentifier(v) => PropertyValue::VariableByteInteger(*v),
            ContentType(s) | ResponseTopic(s) | AssignedClientIdentifier(s) | AuthenticationMethod(s)
            | ResponseInformation(s) | ServerReference(s) | ReasonString(s) => PropertyValue::Utf8String(s.clone()),
            CorrelationData(b) | AuthenticationData(b) => PropertyValue::BinaryData(b.clone()),
            UserProperty(k, v) => PropertyValue::Utf8StringPair(k.clone(), v.clone()),
        };
        let id = PropertyId::from_u8(p.id()).unwrap_or_else(|| panic!("they do not know property {:#04x}", p.id()));
        out.add(id, value).unwrap_or_else(|e| panic!("they refuse {p:?}: {e:?}"));
    }
    out
}

fn our_props(list: &theirs::Properties) -> ours::Properties {
    use PropertyValue as V;
    let mut out: Vec<Property> = list
        .iter()
        .map(|(id, v)| {
            let pid = id as u8;
            let p = match (v, pid) {
                (V::Byte(b), 0x01) => Property::PayloadFormatIndicator(*b),
                (V::Byte(b), 0x17) => Property::RequestProblemInformation(*b),
                (V::Byte(b), 0x19) => Property::RequestResponseInformation(*b),
                (V::Byte(b), 0x24) => Property::MaximumQos(*b),
                (V::Byte(b), 0x25) => Property::RetainAvailable(*b),
                (V::Byte(b), 0x28) => Property::WildcardSubscriptionAvailable(*b),
                (V::Byte(b), 0x29) => Property::SubscriptionIdentifierAvailable(*b),
                (V::Byte(b), 0x2A) => Property::SharedSubscriptionAvailable(*b),
                (V::TwoByteInteger(n), 0x13) => Property::ServerKeepAlive(*n),
                (V::TwoByteInteger(n), 0x21) => Property::ReceiveMaximum(*n),
                (V::TwoByteInteger(n), 0x22) => Property::TopicAliasMaximum(*n),
                (V::TwoByteInteger(n), 0x23) => Property::TopicAlias(*n),
                (V::FourByteInteger(n), 0x02) => Property::MessageExpiryInterval(*n),
                (V::FourByteInteger(n), 0x11) => Property::SessionExpiryInterval(*n),
                (V::FourByteInteger(n), 0x18) => Property::WillDelayInterval(*n),
                (V::FourByteInteger(n), 0x27) => Property::MaximumPacketSize(*n),
                (V::VariableByteInteger(n), 0x0B) => Property::SubscriptionIdentifier(*n),
                (V::Utf8String(s), 0x03) => Property::ContentType(s.clone()),
                (V::Utf8String(s), 0x08) => Property::ResponseTopic(s.clone()),
                (V::Utf8String(s), 0x12) => Property::AssignedClientIdentifier(s.clone()),
                (V::Utf8String(s), 0x15) => Property::AuthenticationMethod(s.clone()),
                (V::Utf8String(s), 0x1A) => Property::ResponseInformation(s.clone()),
                (V::Utf8String(s), 0x1C) => Property::ServerReference(s.clone()),
                (V::Utf8String(s), 0x1F) => Property::ReasonString(s.clone()),
                (V::BinaryData(b), 0x09) => Property::CorrelationData(b.clone()),
                (V::BinaryData(b), 0x16) => Property::AuthenticationData(b.clone()),
                (V::Utf8StringPair(k, v), 0x26) => Property::UserProperty(k.clone(), v.clone()),
                other => panic!("unexpected property from their decoder: {other:?}"),
            };
            assert_eq!(p.id(), pid);
            p
        })
        .collect();
    out.sort_by_key(|p| p.id());
    ours::Properties(out)
}

/// Our packet with every property list sorted by identifier (stable).
fn norm(mut p: Packet) -> Packet {
    fn s(props: &mut ours::Properties) {
        props.0.sort_by_key(|p| p.id());
    }
    match &mut p {
        Packet::Connect(c) => {
            s(&mut c.properties);
            if let Some(w) = &mut c.will {
                s(&mut w.properties);
            }
        }
        Packet::ConnAck(a) => s(&mut a.properties),
        Packet::Publish(m) => s(&mut m.properties),
        Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => s(&mut r.properties),
        Packet::Subscribe(x) => s(&mut x.properties),
        Packet::SubAck(x) => s(&mut x.properties),
        Packet::Unsubscribe(x) => s(&mut x.properties),
        Packet::UnsubAck(x) => s(&mut x.properties),
        Packet::Disconnect(x) => s(&mut x.properties),
        Packet::Auth(x) => s(&mut x.properties),
        Packet::PingReq | Packet::PingResp => {}
    }
    p
}

/// All property lists of a packet.
fn prop_lists(p: &Packet) -> Vec<&ours::Properties> {
    match p {
        Packet::Connect(c) => {
            let mut v = vec![&c.properties];
            if let Some(w) = &c.will {
                v.push(&w.properties);
            }
            v
        }
        Packet::ConnAck(a) => vec![&a.properties],
        Packet::Publish(m) => vec![&m.properties],
        Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => vec![&r.properties],
        Packet::Subscribe(x) => vec![&x.properties],
        Packet::SubAck(x) => vec![&x.properties],
        Packet::Unsubscribe(x) => vec![&x.properties],
        Packet::UnsubAck(x) => vec![&x.properties],
        Packet::Disconnect(x) => vec![&x.properties],
        Packet::Auth(x) => vec![&x.properties],
        Packet::PingReq | Packet::PingResp => vec![],
    }
}

// ---------------------------------------------------------------- small conversions

fn their_qos(q: QoS) -> theirs::QoS {
    match q {
        QoS::AtMostOnce => theirs::QoS::AtMostOnce,
        QoS::AtLeastOnce => theirs::QoS::AtLeastOnce,
        QoS::ExactlyOnce => theirs::QoS::ExactlyOnce,
    }
}

fn our_qos(q: theirs::QoS) -> QoS {
    QoS::from_u8(q as u8).unwrap()
}

fn rc(code: u8) -> ReasonCode {
    ReasonCode::from_u8(code).unwrap_or_else(|| panic!("they do not know reason code {code:#04x}"))
}

/// 3.1.1 CONNACK return codes as their reason codes (their decoder maps them this way).
const V311_CONNACK: [ReasonCode; 6] = [
    ReasonCode::Success,
    ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid,
    ReasonCode::ServerUnavailable,
    ReasonCode::BadUsernameOrPassword,
    ReasonCode::NotAuthorized,
];

fn level(v: ProtocolVersion) -> u8 {
    v.level()
}

// ---------------------------------------------------------------- ours → theirs

fn to_theirs(p: &Packet, v: ProtocolVersion) -> theirs::Packet {
    let pv = level(v);
    match p {
        Packet::Connect(c) => {
            let will = c.will.as_ref().map(|w| theirs::WillMessage {
                topic: w.topic.clone(),
                payload: w.payload.to_vec(),
                qos: their_qos(w.qos),
                retain: w.retain,
                properties: theirs::WillProperties::default(),
            });
            theirs::Packet::Connect(Box::new(ConnectPacket {
                protocol_version: c.protocol.level(),
                clean_start: c.clean_start,
                keep_alive: c.keep_alive,
                client_id: c.client_id.clone(),
                username: c.username.clone(),
                password: c.password.as_ref().map(|b| b.to_vec()),
                will,
                properties: their_props(&c.properties),
                will_properties: c.will.as_ref().map(|w| their_props(&w.properties)).unwrap_or_default(),
            }))
        }
        Packet::ConnAck(a) => theirs::Packet::ConnAck(ConnAckPacket {
            session_present: a.session_present,
            reason_code: if v == V311 { V311_CONNACK[a.code as usize] } else { rc(a.code) },
            properties: their_props(&a.properties),
            protocol_version: pv,
        }),
        Packet::Publish(m) => theirs::Packet::Publish(PublishPacket {
            topic_name: m.topic.clone(),
            packet_id: m.packet_id,
            payload: m.payload.clone(),
            qos: their_qos(m.qos),
            retain: m.retain,
            dup: m.dup,
            properties: their_props(&m.properties),
            protocol_version: pv,
            stream_id: None,
        }),
        Packet::PubAck(r) => theirs::Packet::PubAck(PubAckPacket {
            packet_id: r.packet_id,
            reason_code: rc(r.reason),
            properties: their_props(&r.properties),
        }),
        Packet::PubRec(r) => theirs::Packet::PubRec(PubRecPacket {
            packet_id: r.packet_id,
            reason_code: rc(r.reason),
            properties: their_props(&r.properties),
        }),
        Packet::PubRel(r) => theirs::Packet::PubRel(PubRelPacket {
            packet_id: r.packet_id,
            reason_code: rc(r.reason),
            properties: their_props(&r.properties),
        }),
        Packet::PubComp(r) => theirs::Packet::PubComp(PubCompPacket {
            packet_id: r.packet_id,
            reason_code: rc(r.reason),
            properties: their_props(&r.properties),
        }),
        Packet::Subscribe(s) => theirs::Packet::Subscribe(SubscribePacket {
            packet_id: s.packet_id,
            filters: s
                .filters
                .iter()
                .map(|(f, o)| TopicFilter {
                    filter: f.clone(),
                    options: SubscriptionOptions {
                        qos: their_qos(o.qos),
                        no_local: o.no_local,
                        retain_as_published: o.retain_as_published,
                        retain_handling: match o.retain_handling {
                            0 => RetainHandling::SendAtSubscribe,
                            1 => RetainHandling::SendAtSubscribeIfNew,
                            _ => RetainHandling::DoNotSend,
                        },
                    },
                })
                .collect(),
            properties: their_props(&s.properties),
            protocol_version: pv,
        }),
        Packet::SubAck(s) => theirs::Packet::SubAck(SubAckPacket {
            packet_id: s.packet_id,
            reason_codes: s.codes.iter().map(|c| SubAckReasonCode::from_u8(*c).unwrap()).collect(),
            properties: their_props(&s.properties),
            protocol_version: pv,
        }),
        Packet::Unsubscribe(u) => theirs::Packet::Unsubscribe(UnsubscribePacket {
            packet_id: u.packet_id,
            filters: u.filters.clone(),
            properties: their_props(&u.properties),
            protocol_version: pv,
        }),
        Packet::UnsubAck(u) => theirs::Packet::UnsubAck(UnsubAckPacket {
            packet_id: u.packet_id,
            reason_codes: u.codes.iter().map(|c| UnsubAckReasonCode::from_u8(*c).unwrap()).collect(),
            properties: their_props(&u.properties),
            protocol_version: pv,
        }),
        Packet::PingReq => theirs::Packet::PingReq,
        Packet::PingResp => theirs::Packet::PingResp,
        Packet::Disconnect(d) => theirs::Packet::Disconnect(DisconnectPacket {
            reason_code: rc(d.reason),
            properties: their_props(&d.properties),
        }),
        Packet::Auth(a) => {
            theirs::Packet::Auth(AuthPacket { reason_code: rc(a.reason), properties: their_props(&a.properties) })
        }
    }
}

fn their_encode(p: &theirs::Packet) -> Vec<u8> {
    let mut out = Vec::new();
    let r = match p {
        theirs::Packet::Connect(x) => x.encode(&mut out),
        theirs::Packet::ConnAck(x) => x.encode(&mut out),
        theirs::Packet::Publish(x) => x.encode(&mut out),
        theirs::Packet::PubAck(x) => x.encode(&mut out),
        theirs::Packet::PubRec(x) => x.encode(&mut out),
        theirs::Packet::PubRel(x) => x.encode(&mut out),
        theirs::Packet::PubComp(x) => x.encode(&mut out),
        theirs::Packet::Subscribe(x) => x.encode(&mut out),
        theirs::Packet::SubAck(x) => x.encode(&mut out),
        theirs::Packet::Unsubscribe(x) => x.encode(&mut out),
        theirs::Packet::UnsubAck(x) => x.encode(&mut out),
        theirs::Packet::PingReq => PingReqPacket::default().encode(&mut out),
        theirs::Packet::PingResp => PingRespPacket::default().encode(&mut out),
        theirs::Packet::Disconnect(x) => x.encode(&mut out),
        theirs::Packet::Auth(x) => x.encode(&mut out),
    };
    r.unwrap_or_else(|e| panic!("their encoder failed on {p:?}: {e:?}"));
    out
}

// ---------------------------------------------------------------- theirs → ours

fn their_decode(bytes: &[u8], v: ProtocolVersion) -> theirs::Packet {
    let mut buf = bytes;
    let fh = FixedHeader::decode(&mut buf).unwrap_or_else(|e| panic!("their fixed header decode: {e:?}"));
    assert_eq!(fh.remaining_length as usize, buf.remaining(), "their Remaining Length");
    let p = theirs::Packet::decode_from_body_with_version(fh.packet_type, &fh, &mut buf, level(v))
        .unwrap_or_else(|e| panic!("their decoder refuses {:02x?}: {e:?}", bytes));
    assert_eq!(buf.remaining(), 0, "their decoder left bytes of {:02x?}", bytes);
    p
}

fn from_theirs(p: theirs::Packet, v: ProtocolVersion) -> Packet {
    use ours::*;
    let resp = |packet_id: u16, reason: ReasonCode, props: &theirs::Properties| PubResp {
        packet_id,
        reason: u8::from(reason),
        properties: our_props(props),
    };
    match p {
        theirs::Packet::Connect(c) => {
            let protocol = match c.protocol_version {
                4 => V311,
                5 => V5,
                other => panic!("protocol level {other}"),
            };
            let will_properties = our_props(&c.will_properties);
            Packet::Connect(Connect {
                protocol,
                clean_start: c.clean_start,
                keep_alive: c.keep_alive,
                properties: our_props(&c.properties),
                client_id: c.client_id.clone(),
                will: c.will.as_ref().map(|w| Will {
                    topic: w.topic.clone(),
                    payload: Bytes::from(w.payload.clone()),
                    qos: our_qos(w.qos),
                    retain: w.retain,
                    properties: will_properties.clone(),
                }),
                username: c.username.clone(),
                password: c.password.clone().map(Bytes::from),
            })
        }
        theirs::Packet::ConnAck(a) => {
            let code = if v == V311 {
                assert_eq!(a.protocol_version, 4, "they read a 3.1.1 CONNACK as 5.0");
                V311_CONNACK.iter().position(|c| *c == a.reason_code).unwrap() as u8
            } else {
                assert_eq!(a.protocol_version, 5, "they read a 5.0 CONNACK as 3.1.1");
                u8::from(a.reason_code)
            };
            Packet::ConnAck(ConnAck { session_present: a.session_present, code, properties: our_props(&a.properties) })
        }
        theirs::Packet::Publish(m) => Packet::Publish(Publish {
            dup: m.dup,
            qos: our_qos(m.qos),
            retain: m.retain,
            topic: m.topic_name.clone(),
            packet_id: m.packet_id,
            properties: our_props(&m.properties),
            payload: m.payload.clone(),
        }),
        theirs::Packet::PubAck(r) => Packet::PubAck(resp(r.packet_id, r.reason_code, &r.properties)),
        theirs::Packet::PubRec(r) => Packet::PubRec(resp(r.packet_id, r.reason_code, &r.properties)),
        theirs::Packet::PubRel(r) => Packet::PubRel(resp(r.packet_id, r.reason_code, &r.properties)),
        theirs::Packet::PubComp(r) => Packet::PubComp(resp(r.packet_id, r.reason_code, &r.properties)),
        theirs::Packet::Subscribe(s) => Packet::Subscribe(Subscribe {
            packet_id: s.packet_id,
            properties: our_props(&s.properties),
            filters: s
                .filters
                .iter()
                .map(|f| {
                    let o = SubOptions {
                        qos: our_qos(f.options.qos),
                        no_local: f.options.no_local,
                        retain_as_published: f.options.retain_as_published,
                        retain_handling: f.options.retain_handling as u8,
                    };
                    (f.filter.clone(), o)
                })
                .collect(),
        }),
        theirs::Packet::SubAck(s) => Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            properties: our_props(&s.properties),
            codes: s.reason_codes.iter().map(|c| *c as u8).collect(),
        }),
        theirs::Packet::Unsubscribe(u) => Packet::Unsubscribe(Unsubscribe {
            packet_id: u.packet_id,
            properties: our_props(&u.properties),
            filters: u.filters.clone(),
        }),
        theirs::Packet::UnsubAck(u) => Packet::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            properties: our_props(&u.properties),
            codes: u.reason_codes.iter().map(|c| *c as u8).collect(),
        }),
        theirs::Packet::PingReq => Packet::PingReq,
        theirs::Packet::PingResp => Packet::PingResp,
        theirs::Packet::Disconnect(d) => {
            Packet::Disconnect(Disconnect { reason: u8::from(d.reason_code), properties: our_props(&d.properties) })
        }
        theirs::Packet::Auth(a) => Packet::Auth(Auth { reason: u8::from(a.reason_code), properties: our_props(&a.properties) }),
    }
}

// ---------------------------------------------------------------- the packets

fn users() -> Vec<Property> {
    vec![
        Property::UserProperty("z".into(), "1".into()),
        Property::UserProperty("a".into(), "2".into()),
        Property::UserProperty("z".into(), "0".into()),
    ]
}

fn props(mut list: Vec<Property>, with_users: bool) -> ours::Properties {
    if with_users {
        list.extend(users());
    }
    ours::Properties(list)
}

fn publish(topic: &str, payload: &[u8], qos: QoS, dup: bool, retain: bool) -> ours::Publish {
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

fn resp4(packet_id: u16, reason: u8, p: ours::Properties) -> [Packet; 2] {
    let r = ours::PubResp { packet_id, reason, properties: p };
    [Packet::PubAck(r.clone()), Packet::PubRec(r)]
}

fn resp67(packet_id: u16, reason: u8, p: ours::Properties) -> [Packet; 2] {
    let r = ours::PubResp { packet_id, reason, properties: p };
    [Packet::PubRel(r.clone()), Packet::PubComp(r)]
}

fn sub_opts(qos: QoS, no_local: bool, rap: bool, rh: u8) -> ours::SubOptions {
    ours::SubOptions { qos, no_local, retain_as_published: rap, retain_handling: rh }
}

fn v311_packets() -> Vec<Packet> {
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

fn v5_packets() -> Vec<Packet> {
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
    // 0.16 refuses it; codec_roundtrip.rs and codec_malformed.rs cover it on our side.

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

/// Whether both encoders must write the same bytes: property order can differ once a list holds two
/// different identifiers, and for a non-zero reason without properties they write a property length
/// of 0 in PUBACK/PUBREC/PUBREL/PUBCOMP and AUTH where we use the shorter form.
fn same_bytes_expected(p: &Packet) -> bool {
    let single_ids = prop_lists(p).iter().all(|l| l.0.iter().all(|q| q.id() == l.0[0].id()));
    let reason_only = match p {
        Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
            r.reason != 0 && r.properties.is_empty()
        }
        Packet::Auth(a) => a.reason != 0 && a.properties.is_empty(),
        _ => false,
    };
    single_ids && !reason_only
}

fn crosscheck(packets: Vec<Packet>, v: ProtocolVersion) -> (usize, usize) {
    let mut same = 0;
    for p in &packets {
        // Our packets are valid to begin with.
        let ours_bytes = p.to_bytes(v);
        assert_eq!(&ours::decode(&ours_bytes, v).unwrap(), p, "{} {v:?}: our own round trip", p.name());

        // ours → theirs
        let got = from_theirs(their_decode(&ours_bytes, v), v);
        assert_eq!(norm(got), norm(p.clone()), "{} {v:?}: their decoding of our bytes {:02x?}", p.name(), &ours_bytes[..]);

        // theirs → ours
        let their_bytes = their_encode(&to_theirs(p, v));
        let back = ours::decode(&their_bytes, v)
            .unwrap_or_else(|e| panic!("{} {v:?}: we refuse their bytes {their_bytes:02x?}: {e}", p.name()));
        assert_eq!(norm(back), norm(p.clone()), "{} {v:?}: our decoding of their bytes {their_bytes:02x?}", p.name());

        if same_bytes_expected(p) {
            assert_eq!(their_bytes, ours_bytes.to_vec(), "{} {v:?}: encodings differ", p.name());
            same += 1;
        }
    }
    println!("{v:?}: {} packets cross-checked both ways, {same} with byte-identical encodings", packets.len());
    (packets.len(), same)
}

#[test]
fn crosscheck_v311() {
    let (n, same) = crosscheck(v311_packets(), V311);
    assert!(n >= 20, "{n} packets");
    assert_eq!(same, n, "every 3.1.1 packet encodes identically");
}

#[test]
fn crosscheck_v5() {
    let packets = v5_packets();
    // Every packet type is in the list.
    let mut kinds: Vec<u8> = packets.iter().map(|p| p.packet_type()).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, (1..=15).collect::<Vec<u8>>());
    let (n, same) = crosscheck(packets, V5);
    assert!(same >= 25, "only {same} of {n} packets had byte-identical encodings");
}

#[test]
fn both_refuse_the_same_broken_packets() {
    // A few faults that both decoders must refuse (the full table is in codec_malformed.rs).
    let cases: Vec<(&str, ProtocolVersion, Vec<u8>)> = vec![
        ("PUBLISH QoS 3", V5, vec![0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01]),
        ("DUP on QoS 0", V311, vec![0x38, 0x03, 0x00, 0x01, b't']),
        ("PUBREL flags 0", V5, vec![0x60, 0x02, 0x00, 0x01]),
        ("SUBSCRIBE flags 0", V311, vec![0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00]),
        ("CONNECT reserved flag", V311, vec![0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x03, 0x00, 0x3C, 0x00, 0x01, b'c']),
        ("Will QoS without Will Flag", V311, vec![0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x0A, 0x00, 0x3C, 0x00, 0x01, b'c']),
        ("DISCONNECT reason 0xFF", V5, vec![0xE0, 0x01, 0xFF]),
        ("PUBACK reason 0x92", V5, vec![0x40, 0x03, 0x00, 0x01, 0x92]),
        ("CONNACK reserved flags", V5, vec![0x20, 0x03, 0x02, 0x00, 0x00]),
        ("SUBSCRIBE Retain Handling 3", V5, vec![0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x30]),
        ("SUBSCRIBE reserved option bits", V5, vec![0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x40]),
        ("duplicate Topic Alias", V5, vec![0x30, 0x0A, 0x00, 0x01, b't', 0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x01]),
        ("unknown property 0x04", V5, vec![0x30, 0x06, 0x00, 0x01, b't', 0x02, 0x04, 0x00]),
        ("property length beyond the packet", V5, vec![0x30, 0x06, 0x00, 0x01, b't', 0x09, 0x01, 0x00]),
        ("string not UTF-8", V5, vec![0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 0x00]),
    ];
    for (name, v, bytes) in cases {
        assert!(ours::decode(&bytes, v).is_err(), "{name}: we accept it");
        let mut buf = &bytes[..];
        let theirs_ok = FixedHeader::decode(&mut buf)
            .and_then(|fh| theirs::Packet::decode_from_body_with_version(fh.packet_type, &fh, &mut buf, level(v)))
            .is_ok();
        assert!(!theirs_ok, "{name}: they accept it");
    }
}
