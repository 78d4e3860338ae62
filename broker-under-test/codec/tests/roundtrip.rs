//! Round trips (encode → decode → equal, and re-encode → same bytes) for every packet type in MQTT 3.1.1
//! and 5.0, every property type, the 5.0 short forms, Remaining Lengths of 1 to 4 bytes, and exact bytes
//! for a set of known encodings.

use bytes::{Bytes, BytesMut};
use lwt_codec::*;

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// Encodes `p`, decodes it back and checks equality, canonical re-encoding, framing through `read_frame`
/// (exact maximum, one byte under the maximum, and every short prefix). Returns the encoding.
fn roundtrip(p: &Packet, v: ProtocolVersion) -> Bytes {
    let bytes = p.to_bytes(v);
    let ctx = format!("{} {:?}", p.name(), v);

    // `encode` appends to whatever is already in the buffer.
    let mut appended = BytesMut::from(&b"xy"[..]);
    p.encode(v, &mut appended);
    assert_eq!(&appended[..2], b"xy", "{ctx}: encode overwrote existing bytes");
    assert_eq!(&appended[2..], &bytes[..], "{ctx}: encode and to_bytes differ");

    assert_eq!(bytes[0] >> 4, p.packet_type(), "{ctx}: packet type nibble");
    let decoded = decode(&bytes, v).unwrap_or_else(|e| panic!("{ctx}: decode failed: {e}"));
    assert_eq!(&decoded, p, "{ctx}: decoded packet differs");
    assert_eq!(decoded.to_bytes(v), bytes, "{ctx}: re-encoding differs");

    // Framing: the whole packet fits exactly in `max_size = len`.
    let len = bytes.len();
    let mut buf = BytesMut::from(&bytes[..]);
    buf.extend_from_slice(&[0xC0, 0x00]); // a PINGREQ behind it must stay in the buffer
    let frame = read_frame(&mut buf, len).unwrap_or_else(|e| panic!("{ctx}: read_frame: {e}"));
    let frame = frame.unwrap_or_else(|| panic!("{ctx}: read_frame wants more bytes"));
    assert_eq!(frame.header, bytes[0], "{ctx}: frame header");
    assert_eq!(&buf[..], &[0xC0, 0x00], "{ctx}: read_frame took more than one packet");
    assert_eq!(&decode_frame(&frame, v).unwrap(), p, "{ctx}: decode_frame");
    assert_eq!(
        read_frame(&mut BytesMut::from(&bytes[..]), len - 1),
        Err(DecodeError::TooLarge { size: len, max: len - 1 }),
        "{ctx}: one byte over the maximum"
    );
    // Every proper prefix is "need more bytes", never an error and never a packet.
    let mut prefixes: Vec<usize> = (0..len.min(48)).collect();
    prefixes.push(len - 1);
    for n in prefixes {
        let mut partial = BytesMut::from(&bytes[..n]);
        assert_eq!(read_frame(&mut partial, usize::MAX), Ok(None), "{ctx}: prefix of {n} bytes");
        assert_eq!(partial.len(), n, "{ctx}: read_frame consumed a partial packet");
    }
    // A trailing byte after a whole packet is an error for `decode`.
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert!(matches!(decode(&longer, v), Err(DecodeError::Malformed(_))), "{ctx}: trailing byte accepted");
    bytes
}

fn both(p: &Packet) {
    roundtrip(p, V311);
    roundtrip(p, V5);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

/// Checks that `p` encodes to exactly `expected` and that `expected` decodes to `p`.
fn exact(p: &Packet, v: ProtocolVersion, expected: &[u8]) {
    let got = p.to_bytes(v);
    assert_eq!(hex(&got), hex(expected), "{} {:?}: encoding", p.name(), v);
    assert_eq!(&decode(expected, v).unwrap(), p, "{} {:?}: decoding known bytes", p.name(), v);
}

fn props(list: Vec<Property>) -> Properties {
    Properties(list)
}

fn user(k: &str, v: &str) -> Property {
    Property::UserProperty(k.into(), v.into())
}

/// Three user properties, one key repeated, in a deliberate non-sorted order.
fn users() -> Vec<Property> {
    vec![user("z", "1"), user("a", "2"), user("z", "0"), user("", "")]
}

// ---------------------------------------------------------------- every property type

/// Index of each `Property` variant. The match has no wildcard so that a new variant breaks the build
/// until the table below covers it.
fn variant_index(p: &Property) -> usize {
    use Property::*;
    match p {
        PayloadFormatIndicator(_) => 0,
        MessageExpiryInterval(_) => 1,
        ContentType(_) => 2,
        ResponseTopic(_) => 3,
        CorrelationData(_) => 4,
        SubscriptionIdentifier(_) => 5,
        SessionExpiryInterval(_) => 6,
        AssignedClientIdentifier(_) => 7,
        ServerKeepAlive(_) => 8,
        AuthenticationMethod(_) => 9,
        AuthenticationData(_) => 10,
        RequestProblemInformation(_) => 11,
        WillDelayInterval(_) => 12,
        RequestResponseInformation(_) => 13,
        ResponseInformation(_) => 14,
        ServerReference(_) => 15,
        ReasonString(_) => 16,
        ReceiveMaximum(_) => 17,
        TopicAliasMaximum(_) => 18,
        TopicAlias(_) => 19,
        MaximumQos(_) => 20,
        RetainAvailable(_) => 21,
        UserProperty(_, _) => 22,
        MaximumPacketSize(_) => 23,
        WildcardSubscriptionAvailable(_) => 24,
        SubscriptionIdentifierAvailable(_) => 25,
        SharedSubscriptionAvailable(_) => 26,
    }
}
const PROPERTY_VARIANTS: usize = 27;

fn sbytes(id: u8, s: &str) -> Vec<u8> {
    let mut v = vec![id, 0, s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

/// Every property with a value and its exact wire bytes (identifier + value).
fn property_table() -> Vec<(Property, Vec<u8>)> {
    use Property::*;
    vec![
        (PayloadFormatIndicator(1), vec![0x01, 0x01]),
        (MessageExpiryInterval(0x0102_0304), vec![0x02, 1, 2, 3, 4]),
        (ContentType("text/plain".into()), sbytes(0x03, "text/plain")),
        (ResponseTopic("resp/t".into()), sbytes(0x08, "resp/t")),
        (CorrelationData(Bytes::from_static(&[0x00, 0xFF])), vec![0x09, 0, 2, 0x00, 0xFF]),
        (SubscriptionIdentifier(268_435_455), vec![0x0B, 0xFF, 0xFF, 0xFF, 0x7F]),
        (SessionExpiryInterval(u32::MAX), vec![0x11, 0xFF, 0xFF, 0xFF, 0xFF]),
        (AssignedClientIdentifier("auto-1".into()), sbytes(0x12, "auto-1")),
        (ServerKeepAlive(300), vec![0x13, 0x01, 0x2C]),
        (AuthenticationMethod("SCRAM-SHA-1".into()), sbytes(0x15, "SCRAM-SHA-1")),
        (AuthenticationData(Bytes::from_static(&[1, 2, 3])), vec![0x16, 0, 3, 1, 2, 3]),
        (RequestProblemInformation(0), vec![0x17, 0]),
        (WillDelayInterval(30), vec![0x18, 0, 0, 0, 30]),
        (RequestResponseInformation(1), vec![0x19, 1]),
        (ResponseInformation("rinfo".into()), sbytes(0x1A, "rinfo")),
        (ServerReference("other:1883".into()), sbytes(0x1C, "other:1883")),
        (ReasonString("why".into()), sbytes(0x1F, "why")),
        (ReceiveMaximum(65535), vec![0x21, 0xFF, 0xFF]),
        (TopicAliasMaximum(10), vec![0x22, 0, 10]),
        (TopicAlias(7), vec![0x23, 0, 7]),
        (MaximumQos(1), vec![0x24, 1]),
        (RetainAvailable(0), vec![0x25, 0]),
        (user("k", "v"), vec![0x26, 0, 1, b'k', 0, 1, b'v']),
        (MaximumPacketSize(1024), vec![0x27, 0, 0, 4, 0]),
        (WildcardSubscriptionAvailable(1), vec![0x28, 1]),
        (SubscriptionIdentifierAvailable(0), vec![0x29, 0]),
        (SharedSubscriptionAvailable(1), vec![0x2A, 1]),
    ]
}

const CONTEXTS: [PropertyContext; 10] = [
    PropertyContext::Connect,
    PropertyContext::Will,
    PropertyContext::ConnAck,
    PropertyContext::Publish,
    PropertyContext::PubResp,
    PropertyContext::Subscribe,
    PropertyContext::SubUnsubAck,
    PropertyContext::Unsubscribe,
    PropertyContext::Disconnect,
    PropertyContext::Auth,
];

fn with_auth_method(mut p: Properties) -> Properties {
    if p.authentication_method().is_none() {
        p.0.insert(0, Property::AuthenticationMethod("m".into()));
    }
    p
}

/// Valid 5.0 packets that carry `p` in a property list of kind `ctx`.
fn packets_with(ctx: PropertyContext, p: Properties) -> Vec<Packet> {
    use PropertyContext as C;
    match ctx {
        C::Connect => {
            let mut c = Connect::new(V5, "cid");
            // Authentication Data needs an Authentication Method (5.0 section 3.1.2.11.10).
            c.properties = if p.0.iter().any(|x| matches!(x, Property::AuthenticationData(_))) {
                with_auth_method(p)
            } else {
                p
            };
            vec![Packet::Connect(c)]
        }
        C::Will => {
            let mut c = Connect::new(V5, "cid");
            c.will = Some(Will {
                topic: "will/t".into(),
                payload: Bytes::from_static(b"gone"),
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: p,
            });
            vec![Packet::Connect(c)]
        }
        C::ConnAck => vec![Packet::ConnAck(ConnAck { session_present: false, code: 0, properties: p })],
        C::Publish => {
            let mut m = Publish::new("a/b", &b"x"[..]);
            m.qos = QoS::AtLeastOnce;
            m.packet_id = Some(9);
            m.properties = p;
            vec![Packet::Publish(m)]
        }
        C::PubResp => {
            let r = PubResp { packet_id: 3, reason: 0, properties: p };
            vec![
                Packet::PubAck(r.clone()),
                Packet::PubRec(r.clone()),
                Packet::PubRel(r.clone()),
                Packet::PubComp(r),
            ]
        }
        C::Subscribe => vec![Packet::Subscribe(Subscribe {
            packet_id: 4,
            properties: p,
            filters: vec![("a/#".into(), SubOptions::qos(QoS::AtLeastOnce))],
        })],
        C::SubUnsubAck => vec![
            Packet::SubAck(SubAck { packet_id: 4, properties: p.clone(), codes: vec![1] }),
            Packet::UnsubAck(UnsubAck { packet_id: 5, properties: p, codes: vec![0] }),
        ],
        C::Unsubscribe => {
            vec![Packet::Unsubscribe(Unsubscribe { packet_id: 5, properties: p, filters: vec!["a/#".into()] })]
        }
        C::Disconnect => vec![Packet::Disconnect(Disconnect { reason: 0, properties: p })],
        C::Auth => vec![Packet::Auth(Auth { reason: reason::CONTINUE_AUTHENTICATION, properties: with_auth_method(p) })],
    }
}

#[test]
fn every_property_type_encodes_to_known_bytes() {
    let table = property_table();
    let mut seen = [false; PROPERTY_VARIANTS];
    for (p, expected) in &table {
        seen[variant_index(p)] = true;
        assert_eq!(p.id(), expected[0], "{p:?}: identifier");
        let mut out = BytesMut::new();
        encode_properties(&Properties(vec![p.clone()]), &mut out);
        assert_eq!(out[0] as usize, expected.len(), "{p:?}: property length");
        assert_eq!(hex(&out[1..]), hex(expected), "{p:?}: bytes");
    }
    assert!(seen.iter().all(|s| *s), "property table misses a variant: {seen:?}");
}

#[test]
fn every_property_type_roundtrips_in_every_packet_that_allows_it() {
    let mut placements = 0;
    for (p, _) in property_table() {
        let allowed: Vec<PropertyContext> = CONTEXTS.into_iter().filter(|c| c.allows(p.id())).collect();
        assert!(!allowed.is_empty(), "{p:?} is allowed nowhere");
        for ctx in allowed {
            for packet in packets_with(ctx, props(vec![p.clone()])) {
                roundtrip(&packet, V5);
                placements += 1;
            }
        }
    }
    // Table 2-4 of the 5.0 spec puts the 27 properties in 50 places (counting the packets of a
    // shared context separately here: PUBACK/PUBREC/PUBREL/PUBCOMP and SUBACK/UNSUBACK).
    assert!(placements >= 50, "only {placements} placements");
}

#[test]
fn properties_are_kept_in_wire_order_with_repeats() {
    use Property::*;
    // Many properties at once in each context, user properties interleaved and repeated.
    for ctx in CONTEXTS {
        let mut list: Vec<Property> = Vec::new();
        for (p, _) in property_table() {
            if ctx.allows(p.id()) && !matches!(p, UserProperty(..)) {
                list.push(p);
                list.push(user("after", &list.len().to_string()));
            }
        }
        list.extend(users());
        if ctx == PropertyContext::Publish {
            list.push(SubscriptionIdentifier(1));
            list.push(SubscriptionIdentifier(128));
        }
        for packet in packets_with(ctx, props(list.clone())) {
            roundtrip(&packet, V5);
        }
    }
}

// ---------------------------------------------------------------- CONNECT

fn full_will(properties: Properties) -> Will {
    Will {
        topic: "clients/c1/status".into(),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::ExactlyOnce,
        retain: true,
        properties,
    }
}

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

// ---------------------------------------------------------------- PUBLISH

fn publish(topic: &str, payload: Vec<u8>, qos: QoS, dup: bool, retain: bool) -> Publish {
    Publish {
        dup,
        qos,
        retain,
        topic: topic.into(),
        packet_id: if qos == QoS::AtMostOnce { None } else { Some(0xBEEF) },
        properties: Properties::new(),
        payload: Bytes::from(payload),
    }
}

#[test]
fn publish_flags_and_payloads() {
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for dup in [false, true] {
            if dup && qos == QoS::AtMostOnce {
                continue; // DUP on QoS 0 is malformed (tested in codec_malformed)
            }
            for retain in [false, true] {
                for payload in [vec![], b"hello".to_vec(), vec![0u8; 300]] {
                    let p = publish("sport/tennis/player1", payload, qos, dup, retain);
                    let bytes = roundtrip(&Packet::Publish(p.clone()), V311);
                    let flags = bytes[0] & 0x0F;
                    assert_eq!(flags, (dup as u8) << 3 | (qos as u8) << 1 | retain as u8, "flags {:?}", p);
                    roundtrip(&Packet::Publish(p), V5);
                }
            }
        }
    }
    // Topic names that are valid but unusual: '$', spaces, multi-byte UTF-8, a lone '/'.
    for topic in ["$SYS/x", "a b", "/", "a//b", "ünï/c😀de", "x"] {
        both(&Packet::Publish(Publish::new(topic, &b"p"[..])));
    }
}

#[test]
fn publish_v5_properties_and_topic_alias() {
    use Property::*;
    let mut p = publish("a/b", b"{}".to_vec(), QoS::AtLeastOnce, false, true);
    let mut list = vec![
        PayloadFormatIndicator(1),
        MessageExpiryInterval(60),
        TopicAlias(3),
        ResponseTopic("reply/to".into()),
        CorrelationData(Bytes::from_static(b"corr")),
        ContentType("application/json".into()),
        SubscriptionIdentifier(1),
        SubscriptionIdentifier(127),
        SubscriptionIdentifier(128),
        SubscriptionIdentifier(16_384),
    ];
    list.extend(users());
    p.properties = props(list);
    let bytes = roundtrip(&Packet::Publish(p.clone()), V5);
    let Packet::Publish(back) = decode(&bytes, V5).unwrap() else { panic!() };
    assert_eq!(back.properties.subscription_identifiers(), vec![1, 127, 128, 16_384]);

    // Empty topic name with a Topic Alias (5.0 only).
    let mut p = Publish::new("", Bytes::new());
    p.properties = props(vec![TopicAlias(1)]);
    roundtrip(&Packet::Publish(p), V5);

    // 3.1.1 leaves out the properties entirely.
    let mut with = publish("a/b", b"x".to_vec(), QoS::AtLeastOnce, false, false);
    let without = with.clone();
    with.properties = props(vec![MessageExpiryInterval(5), user("k", "v")]);
    assert_eq!(Packet::Publish(with).to_bytes(V311), Packet::Publish(without).to_bytes(V311));
}

#[test]
fn publish_known_bytes() {
    let p = publish("a/b", b"hi".to_vec(), QoS::AtLeastOnce, false, true);
    let mut p = p;
    p.packet_id = Some(10);
    exact(&Packet::Publish(p.clone()), V311, &[0x33, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, b'h', b'i']);
    exact(&Packet::Publish(p), V5, &[0x33, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, 0x00, b'h', b'i']);
    let p = publish("t", vec![], QoS::ExactlyOnce, true, false);
    exact(&Packet::Publish(p), V311, &[0x3C, 0x05, 0x00, 0x01, b't', 0xBE, 0xEF]);
    let mut p = Publish::new("", Bytes::new());
    p.properties = props(vec![Property::TopicAlias(0x0102)]);
    exact(&Packet::Publish(p), V5, &[0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x01, 0x02]);
}

/// Number of Remaining Length bytes in an encoding.
fn rl_len(bytes: &[u8]) -> usize {
    bytes[1..].iter().position(|b| b & 0x80 == 0).unwrap() + 1
}

#[test]
fn remaining_length_of_one_to_four_bytes() {
    // QoS 0, topic "t": the body is 3 bytes + payload in 3.1.1, 4 bytes + payload in 5.0.
    let cases: [(usize, usize); 7] = [
        (4, 1),
        (127, 1),
        (128, 2),
        (16_383, 2),
        (16_384, 3),
        (2_097_151, 3),
        (2_097_152, 4),
    ];
    for (remaining, want) in cases {
        for (v, overhead) in [(V311, 3), (V5, 4)] {
            let p = Packet::Publish(Publish::new("t", vec![0xA5; remaining - overhead]));
            let bytes = roundtrip(&p, v);
            assert_eq!(rl_len(&bytes), want, "remaining length {remaining} {v:?}");
            assert_eq!(bytes.len(), 1 + want + remaining, "remaining length {remaining} {v:?}");
        }
    }
    // The sizes named in the brief: 200 B, 20 kB and 2.1 MB payloads need 2, 3 and 4 length bytes.
    for (payload, want) in [(0, 1), (200, 2), (20_000, 3), (2_100_000, 4)] {
        for v in [V311, V5] {
            let mut p = publish("big/payload", (0..payload).map(|i| i as u8).collect(), QoS::AtLeastOnce, false, false);
            if v == V5 {
                p.properties = props(vec![user("size", &payload.to_string())]);
            }
            let bytes = roundtrip(&Packet::Publish(p), v);
            assert_eq!(rl_len(&bytes), want, "payload {payload} {v:?}");
        }
    }
}

#[test]
fn variable_byte_integer_known_bytes() {
    let cases: [(u32, &[u8]); 9] = [
        (0, &[0x00]),
        (1, &[0x01]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
    ];
    for (value, expected) in cases {
        let mut out = BytesMut::new();
        varint(value, &mut out);
        assert_eq!(hex(&out), hex(expected), "varint {value}");
        // The same bytes as a Subscription Identifier value survive a round trip.
        if value > 0 {
            let mut p = Publish::new("t", Bytes::new());
            p.properties = props(vec![Property::SubscriptionIdentifier(value)]);
            let bytes = roundtrip(&Packet::Publish(p), V5);
            assert!(bytes.windows(expected.len() + 1).any(|w| w[0] == 0x0B && &w[1..] == expected));
        }
    }
    // Remaining Length through read_frame: a header with the largest 3-byte length is accepted as a
    // header (and waits for the body); with a smaller maximum it is rejected from the header alone.
    let mut buf = BytesMut::from(&[0x30, 0xFF, 0xFF, 0x7F][..]);
    assert_eq!(read_frame(&mut buf, usize::MAX), Ok(None));
    assert_eq!(
        read_frame(&mut BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F][..]), 1 << 20),
        Err(DecodeError::TooLarge { size: 5 + 268_435_455, max: 1 << 20 })
    );
}

// ---------------------------------------------------------------- PUBACK, PUBREC, PUBREL, PUBCOMP

fn resp_variants(r: PubResp) -> [Packet; 4] {
    [Packet::PubAck(r.clone()), Packet::PubRec(r.clone()), Packet::PubRel(r.clone()), Packet::PubComp(r)]
}

#[test]
fn pub_responses() {
    for packet in resp_variants(PubResp::new(1)).into_iter().chain(resp_variants(PubResp::new(u16::MAX))) {
        // Short form: reason omitted when 0 without properties: 2-byte body in both versions.
        let b311 = roundtrip(&packet, V311);
        let b5 = roundtrip(&packet, V5);
        assert_eq!(b311, b5);
        assert_eq!(b5[1], 2, "{}: short form", packet.name());
        let flags = if matches!(packet, Packet::PubRel(_)) { 0x02 } else { 0x00 };
        assert_eq!(b5[0], packet.packet_type() << 4 | flags);
    }
    let ack_codes = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
    let rel_codes = [0x00, 0x92];
    for (codes, is_ack) in [(&ack_codes[..], true), (&rel_codes[..], false)] {
        for &code in codes {
            for properties in [Properties::new(), props(vec![Property::ReasonString("r".into()), user("a", "b"), user("a", "c")])] {
                let r = PubResp { packet_id: 77, reason: code, properties: properties.clone() };
                let [ack, rec, rel, comp] = resp_variants(r);
                let list = if is_ack { vec![ack, rec] } else { vec![rel, comp] };
                for p in list {
                    let bytes = roundtrip(&p, V5);
                    let want_len = match (code, properties.is_empty()) {
                        (0, true) => 2,
                        (_, true) => 3, // reason alone, no property length
                        _ => 2 + 1 + 1 + 4 + 2 * 7, // id, reason, property length, properties
                    };
                    assert_eq!(bytes[1] as usize, want_len, "{} reason {code:#04x}", p.name());
                }
            }
        }
    }
    // 3.1.1 drops reason and properties.
    let r = PubResp { packet_id: 5, reason: 0x80, properties: props(vec![user("k", "v")]) };
    for p in resp_variants(r) {
        assert_eq!(p.to_bytes(V311)[1], 2);
    }
}

#[test]
fn pub_responses_known_bytes_and_short_forms() {
    exact(&Packet::PubAck(PubResp::new(1)), V5, &[0x40, 0x02, 0x00, 0x01]);
    exact(&Packet::PubRec(PubResp::new(2)), V311, &[0x50, 0x02, 0x00, 0x02]);
    exact(&Packet::PubRel(PubResp::new(3)), V311, &[0x62, 0x02, 0x00, 0x03]);
    exact(&Packet::PubComp(PubResp::new(4)), V5, &[0x70, 0x02, 0x00, 0x04]);
    let r = PubResp { packet_id: 1, reason: reason::NO_MATCHING_SUBSCRIBERS, properties: Properties::new() };
    exact(&Packet::PubAck(r.clone()), V5, &[0x40, 0x03, 0x00, 0x01, 0x10]);
    // The longer, equally valid forms decode to the same packets.
    assert_eq!(decode(&[0x40, 0x04, 0x00, 0x01, 0x10, 0x00], V5).unwrap(), Packet::PubAck(r));
    assert_eq!(decode(&[0x40, 0x04, 0x00, 0x01, 0x00, 0x00], V5).unwrap(), Packet::PubAck(PubResp::new(1)));
    assert_eq!(decode(&[0x62, 0x03, 0x00, 0x01, 0x00], V5).unwrap(), Packet::PubRel(PubResp::new(1)));
}

// ---------------------------------------------------------------- SUBSCRIBE, SUBACK

#[test]
fn subscribe_and_every_subscription_option() {
    let qoses = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    let mut all = Vec::new();
    for qos in qoses {
        for no_local in [false, true] {
            for retain_as_published in [false, true] {
                for retain_handling in 0..=2u8 {
                    let o = SubOptions { qos, no_local, retain_as_published, retain_handling };
                    let s = Subscribe { packet_id: 10, properties: Properties::new(), filters: vec![("a/+".into(), o)] };
                    let bytes = roundtrip(&Packet::Subscribe(s), V5);
                    let byte = *bytes.last().unwrap();
                    let want = qos as u8 | (no_local as u8) << 2 | (retain_as_published as u8) << 3 | retain_handling << 4;
                    assert_eq!(byte, want, "{o:?}");
                    // 3.1.1 carries the QoS only.
                    let s311 = Subscribe { packet_id: 10, properties: Properties::new(), filters: vec![("a/+".into(), o)] };
                    let b311 = Packet::Subscribe(s311).to_bytes(V311);
                    assert_eq!(*b311.last().unwrap(), qos as u8);
                    let Packet::Subscribe(back) = decode(&b311, V311).unwrap() else { panic!() };
                    assert_eq!(back.filters[0].1, SubOptions::qos(qos));
                    all.push((format!("f/{}", all.len()), o));
                }
            }
        }
    }
    assert_eq!(all.len(), 36);
    let mut list = vec![Property::SubscriptionIdentifier(268_435_455)];
    list.extend(users());
    roundtrip(&Packet::Subscribe(Subscribe { packet_id: 1, properties: props(list), filters: all }), V5);

    let filters: Vec<(String, SubOptions)> = ["#", "+", "a/#", "$SYS/#", "$share/g/a/+", "ü/+/x", "/"]
        .iter()
        .zip(qoses.iter().cycle())
        .map(|(f, q)| (f.to_string(), SubOptions::qos(*q)))
        .collect();
    both(&Packet::Subscribe(Subscribe { packet_id: u16::MAX, properties: Properties::new(), filters }));
}

#[test]
fn subscribe_known_bytes() {
    let s = Subscribe { packet_id: 10, properties: Properties::new(), filters: vec![("a/b".into(), SubOptions::qos(QoS::AtLeastOnce))] };
    exact(&Packet::Subscribe(s), V311, &[0x82, 0x08, 0x00, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x01]);
    let o = SubOptions { qos: QoS::ExactlyOnce, no_local: true, retain_as_published: true, retain_handling: 2 };
    let s = Subscribe { packet_id: 10, properties: Properties::new(), filters: vec![("a/b".into(), o)] };
    exact(&Packet::Subscribe(s), V5, &[0x82, 0x09, 0x00, 0x0A, 0x00, 0x00, 0x03, b'a', b'/', b'b', 0x2E]);
}

#[test]
fn suback() {
    both(&Packet::SubAck(SubAck { packet_id: 1, properties: Properties::new(), codes: vec![0, 1, 2, 0x80] }));
    let v5_codes = vec![0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2];
    let mut list = vec![Property::ReasonString("partly".into())];
    list.extend(users());
    roundtrip(&Packet::SubAck(SubAck { packet_id: 2, properties: props(list), codes: v5_codes }), V5);
    exact(&Packet::SubAck(SubAck { packet_id: 10, properties: Properties::new(), codes: vec![1] }), V311, &[
        0x90, 0x03, 0x00, 0x0A, 0x01,
    ]);
    exact(&Packet::SubAck(SubAck { packet_id: 10, properties: Properties::new(), codes: vec![0xA2] }), V5, &[
        0x90, 0x04, 0x00, 0x0A, 0x00, 0xA2,
    ]);
}

// ---------------------------------------------------------------- UNSUBSCRIBE, UNSUBACK

#[test]
fn unsubscribe_and_unsuback() {
    both(&Packet::Unsubscribe(Unsubscribe {
        packet_id: 11,
        properties: Properties::new(),
        filters: vec!["a/b".into(), "#".into(), "$share/g/x".into()],
    }));
    roundtrip(&Packet::Unsubscribe(Unsubscribe { packet_id: 12, properties: props(users()), filters: vec!["x".into()] }), V5);
    exact(
        &Packet::Unsubscribe(Unsubscribe { packet_id: 11, properties: Properties::new(), filters: vec!["a/b".into()] }),
        V311,
        &[0xA2, 0x07, 0x00, 0x0B, 0x00, 0x03, b'a', b'/', b'b'],
    );

    // 3.1.1 UNSUBACK is the packet identifier alone.
    let u = UnsubAck { packet_id: 11, properties: Properties::new(), codes: Vec::new() };
    exact(&Packet::UnsubAck(u.clone()), V311, &[0xB0, 0x02, 0x00, 0x0B]);
    roundtrip(&Packet::UnsubAck(u), V311);
    let u = UnsubAck { packet_id: 11, properties: Properties::new(), codes: vec![0x11] };
    exact(&Packet::UnsubAck(u), V5, &[0xB0, 0x04, 0x00, 0x0B, 0x00, 0x11]);
    let mut list = vec![Property::ReasonString("r".into())];
    list.extend(users());
    let u = UnsubAck { packet_id: 1, properties: props(list), codes: vec![0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91] };
    roundtrip(&Packet::UnsubAck(u), V5);
    // An empty code list is expressible in 5.0 (and decodes back the same).
    roundtrip(&Packet::UnsubAck(UnsubAck { packet_id: 1, properties: Properties::new(), codes: vec![] }), V5);
}

// ---------------------------------------------------------------- PINGREQ, PINGRESP

#[test]
fn ping() {
    for v in [V311, V5] {
        exact(&Packet::PingReq, v, &[0xC0, 0x00]);
        exact(&Packet::PingResp, v, &[0xD0, 0x00]);
        roundtrip(&Packet::PingReq, v);
        roundtrip(&Packet::PingResp, v);
    }
}

// ---------------------------------------------------------------- DISCONNECT

#[test]
fn disconnect() {
    exact(&Packet::Disconnect(Disconnect::default()), V311, &[0xE0, 0x00]);
    exact(&Packet::Disconnect(Disconnect::new(reason::SUCCESS)), V5, &[0xE0, 0x00]);
    exact(&Packet::Disconnect(Disconnect::new(reason::DISCONNECT_WITH_WILL)), V5, &[0xE0, 0x01, 0x04]);
    roundtrip(&Packet::Disconnect(Disconnect::default()), V311);
    // Valid longer forms of the same packets.
    assert_eq!(decode(&[0xE0, 0x02, 0x04, 0x00], V5).unwrap(), Packet::Disconnect(Disconnect::new(4)));
    assert_eq!(decode(&[0xE0, 0x01, 0x00], V5).unwrap(), Packet::Disconnect(Disconnect::new(0)));

    let codes = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ];
    for code in codes {
        let bytes = roundtrip(&Packet::Disconnect(Disconnect::new(code)), V5);
        assert_eq!(bytes.len(), if code == 0 { 2 } else { 3 }, "reason {code:#04x}");
    }
    use Property::*;
    let mut list = vec![
        SessionExpiryInterval(0),
        ReasonString("bye".into()),
        ServerReference("elsewhere".into()),
    ];
    list.extend(users());
    for code in [0x00, 0x04, 0x8B] {
        roundtrip(&Packet::Disconnect(Disconnect { reason: code, properties: props(list.clone()) }), V5);
    }
    exact(
        &Packet::Disconnect(Disconnect { reason: 0x04, properties: props(vec![SessionExpiryInterval(10)]) }),
        V5,
        &[0xE0, 0x07, 0x04, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A],
    );
}

// ---------------------------------------------------------------- AUTH

#[test]
fn auth() {
    exact(&Packet::Auth(Auth::default()), V5, &[0xF0, 0x00]);
    use Property::*;
    for code in [0x00, 0x18, 0x19] {
        let mut list = vec![
            AuthenticationMethod("SCRAM-SHA-256".into()),
            AuthenticationData(Bytes::from_static(b"client-first")),
            ReasonString("step".into()),
        ];
        list.extend(users());
        roundtrip(&Packet::Auth(Auth { reason: code, properties: props(list) }), V5);
        roundtrip(&Packet::Auth(Auth { reason: code, properties: props(vec![AuthenticationMethod("m".into())]) }), V5);
    }
    exact(
        &Packet::Auth(Auth { reason: 0x18, properties: props(vec![AuthenticationMethod("m".into())]) }),
        V5,
        &[0xF0, 0x06, 0x18, 0x04, 0x15, 0x00, 0x01, b'm'],
    );
}

// ---------------------------------------------------------------- streams of packets

#[test]
fn read_frame_splits_a_stream_fed_in_small_chunks() {
    let mut will_props = vec![Property::WillDelayInterval(1)];
    will_props.extend(users());
    let mut c = Connect::new(V5, "s");
    c.will = Some(full_will(props(will_props)));
    let packets = vec![
        Packet::Connect(c),
        Packet::Publish(publish("a", vec![7; 300], QoS::AtLeastOnce, false, false)),
        Packet::PingReq,
        Packet::Subscribe(Subscribe { packet_id: 1, properties: Properties::new(), filters: vec![("#".into(), SubOptions::default())] }),
        Packet::Disconnect(Disconnect::new(4)),
    ];
    let mut wire = BytesMut::new();
    for p in &packets {
        p.encode(V5, &mut wire);
    }
    for chunk in [1usize, 2, 3, 7, 64, 1000] {
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(frame) = read_frame(&mut buf, 1024).unwrap() {
                got.push(decode_frame(&frame, V5).unwrap());
            }
        }
        assert!(buf.is_empty(), "chunk {chunk}: bytes left over");
        assert_eq!(got, packets, "chunk {chunk}");
    }
}
