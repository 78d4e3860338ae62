//! Rows about PUBLISH and its responses PUBACK, PUBREC, PUBREL and PUBCOMP.
use super::*;

/// PUBLISH topics, QoS and flags, packet ids and properties.
pub(super) fn publish_rows(t: &mut Table) {
    use Property::*;
    // --- PUBLISH
    for topic in ["a/+", "#", "+", "sport/#", "a+b", "x#"] {
        t.both(&format!("PUBLISH topic {topic:?} with a wildcard"), |v| enc(Packet::Publish(pub_qos1(topic)), v), TopicName);
    }
    t.both("PUBLISH topic not UTF-8", |v| b(replace(valid(&Packet::Publish(pub_qos1("a/?")), v), b"?", b"\x80")), Malformed);
    t.both("PUBLISH topic with U+0000", |v| enc(Packet::Publish(pub_qos1("a\0b")), v), Malformed);
    t.both("PUBLISH empty topic without Topic Alias", |v| enc(Packet::Publish(pub_qos1("")), v), Protocol);
    t.both("PUBLISH QoS 0 empty topic", |v| enc(Packet::Publish(Publish::new("", &b"x"[..])), v), Protocol);
    t.add("PUBLISH empty topic with other properties but no alias", V5, {
        let mut p = pub_qos1("");
        p.properties = props(vec![MessageExpiryInterval(1), user()]);
        enc(Packet::Publish(p), V5)
    }, Protocol);
    t.both("PUBLISH QoS 1 packet identifier 0", |v| {
        let mut p = pub_qos1("a");
        p.packet_id = Some(0);
        enc(Packet::Publish(p), v)
    }, Protocol);
    t.both("PUBLISH QoS 2 packet identifier 0", |v| {
        let mut p = pub_qos1("a");
        p.qos = QoS::ExactlyOnce;
        p.packet_id = Some(0);
        enc(Packet::Publish(p), v)
    }, Protocol);
    t.add("PUBLISH Payload Format Indicator 2", V5, enc(publish_props(vec![PayloadFormatIndicator(2)]), V5), Protocol);
    t.add("PUBLISH Subscription Identifier 0", V5, enc(publish_props(vec![SubscriptionIdentifier(0)]), V5), Protocol);
    t.add("PUBLISH Topic Alias twice", V5, enc(publish_props(vec![TopicAlias(1), TopicAlias(1)]), V5), Protocol);
    t.add("PUBLISH Message Expiry Interval twice", V5, enc(publish_props(vec![MessageExpiryInterval(1), MessageExpiryInterval(2)]), V5), Protocol);
    t.add("PUBLISH Content Type twice", V5, enc(publish_props(vec![ContentType("a".into()), ContentType("a".into())]), V5), Protocol);
    t.add("PUBLISH Response Topic twice", V5, enc(publish_props(vec![ResponseTopic("r".into()), ResponseTopic("s".into())]), V5), Protocol);
    t.add("PUBLISH Payload Format Indicator twice", V5, enc(publish_props(vec![PayloadFormatIndicator(0), PayloadFormatIndicator(0)]), V5), Protocol);
    t.add("PUBLISH Session Expiry Interval (not allowed)", V5, enc(publish_props(vec![SessionExpiryInterval(1)]), V5), Malformed);
    t.add("PUBLISH Reason String (not allowed)", V5, enc(publish_props(vec![ReasonString("r".into())]), V5), Malformed);
    t.add("PUBLISH Will Delay Interval (not allowed)", V5, enc(publish_props(vec![WillDelayInterval(1)]), V5), Malformed);
    t.add("PUBLISH Maximum QoS (not allowed)", V5, enc(publish_props(vec![MaximumQos(1)]), V5), Malformed);
    for id in [0x00u8, 0x04, 0x05, 0x0A, 0x14, 0x1B, 0x20, 0x2B, 0x7F] {
        // property length 2: the unknown identifier and one byte that would be its value
        t.add(format!("PUBLISH unknown property {id:#04x}"), V5, vec![0x30, 0x06, 0x00, 0x01, b't', 0x02, id, 0x00], Malformed);
    }
    t.add("PUBLISH property identifier 128 (2-byte varint)", V5, vec![0x30, 0x07, 0x00, 0x01, b't', 0x03, 0x80, 0x01, 0x00], Malformed);
    t.add("PUBLISH property identifier 3 as non-minimal varint", V5, vec![0x30, 0x09, 0x00, 0x01, b't', 0x05, 0x83, 0x00, 0x00, 0x00, 0x00], Malformed);
    t.add("PUBLISH property length beyond the packet", V5, vec![0x30, 0x06, 0x00, 0x01, b't', 0x09, 0x01, 0x00], Malformed);
    t.add("PUBLISH Subscription Identifier of 5 bytes", V5, vec![0x30, 0x0A, 0x00, 0x01, b't', 0x06, 0x0B, 0x80, 0x80, 0x80, 0x80, 0x01], Malformed);
    t.add("PUBLISH Subscription Identifier 1 non-minimal", V5, vec![0x30, 0x07, 0x00, 0x01, b't', 0x03, 0x0B, 0x81, 0x00], Malformed);
    t.add("PUBLISH Content Type not UTF-8", V5, b(replace(valid(&publish_props(vec![ContentType("t/?".into())]), V5), b"t/?", b"t/\xFF")), Malformed);
    t.add("PUBLISH User Property with U+0000", V5, enc(publish_props(vec![UserProperty("k\0".into(), "v".into())]), V5), Malformed);
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP flags, reason codes and properties.
pub(super) fn pub_response_rows(t: &mut Table) {
    use Property::*;
    // --- PUBACK, PUBREC, PUBREL, PUBCOMP
    for kind in 4..=7u8 {
        let name = packet_name(kind);
        t.both(&format!("{name} packet identifier 0"), |v| enc(resp(kind, 0, 0, vec![]), v), Protocol);
        t.add(format!("{name} packet identifier 0 with reason"), V5, enc(resp(kind, 0, if kind <= 5 { 0x10 } else { 0x92 }, vec![]), V5), Protocol);
        let bad: &[u8] = if kind <= 5 { &[0x01, 0x04, 0x11, 0x81, 0x92, 0xFF] } else { &[0x01, 0x10, 0x80, 0x87, 0x91, 0xFF] };
        for &code in bad {
            t.add(format!("{name} reason code {code:#04x}"), V5, enc(resp(kind, 1, code, vec![]), V5), Malformed);
        }
        t.add(format!("{name} Reason String twice"), V5, enc(resp(kind, 1, 0, vec![ReasonString("a".into()), ReasonString("b".into())]), V5), Protocol);
        t.add(format!("{name} Content Type (not allowed)"), V5, enc(resp(kind, 1, 0, vec![ContentType("a".into())]), V5), Malformed);
        t.add(format!("{name} Session Expiry Interval (not allowed)"), V5, enc(resp(kind, 1, 0, vec![SessionExpiryInterval(1)]), V5), Malformed);
        let h = kind << 4 | if kind == 6 { 2 } else { 0 };
        t.add(format!("{name} property length beyond the packet"), V5, vec![h, 0x05, 0x00, 0x01, 0x00, 0x05, 0x1F], Malformed);
        t.add(format!("{name} unknown property 0x04"), V5, vec![h, 0x06, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00], Malformed);
    }
}
