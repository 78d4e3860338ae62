//! Every property type: known bytes, a round trip in every packet that allows it, and wire order.
use super::*;

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
