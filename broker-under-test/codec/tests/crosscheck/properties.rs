//! Property lists both ways (theirs are hash maps) and the normal form both sides are compared in.
use super::*;

// ---------------------------------------------------------------- properties

/// Our property list as theirs.
pub(crate) fn their_props(list: &ours::Properties) -> theirs::Properties {
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

/// Their property list as ours (sorted by identifier, see the crate doc).
pub(crate) fn our_props(list: &theirs::Properties) -> ours::Properties {
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
pub(crate) fn norm(mut p: Packet) -> Packet {
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
pub(crate) fn prop_lists(p: &Packet) -> Vec<&ours::Properties> {
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
