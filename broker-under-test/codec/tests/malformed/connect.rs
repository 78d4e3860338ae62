//! Rows about CONNECT (flags, protocol name and level, Will Topic, 5.0 properties) and CONNACK.
use super::*;

/// CONNECT flags, protocol name and level, Will Topic and strings, 5.0 CONNECT and Will properties.
pub(super) fn connect_rows(t: &mut Table) {
    use Property::*;
    // --- CONNECT flags
    let flags_of = |p: &Packet, v| valid(p, v).body[CONNECT_FLAGS_OFFSET];
    t.both("CONNECT reserved flag", |v| {
        let p = full_connect(v);
        let f = flags_of(&p, v);
        b(valid(&p, v).patch(CONNECT_FLAGS_OFFSET, f | 0x01))
    }, Malformed);
    t.both("CONNECT reserved flag alone", |v| b(valid(&Packet::Connect(connect(v)), v).patch(CONNECT_FLAGS_OFFSET, 0x03)), Malformed);
    t.both("Will Flag 0 with Will QoS 1", |v| b(valid(&Packet::Connect(connect(v)), v).patch(CONNECT_FLAGS_OFFSET, 0x02 | 0x08)), Malformed);
    t.both("Will Flag 0 with Will QoS 2", |v| b(valid(&Packet::Connect(connect(v)), v).patch(CONNECT_FLAGS_OFFSET, 0x02 | 0x10)), Malformed);
    t.both("Will Flag 0 with Will Retain", |v| b(valid(&Packet::Connect(connect(v)), v).patch(CONNECT_FLAGS_OFFSET, 0x02 | 0x20)), Malformed);
    t.both("Will QoS 3", |v| {
        let p = Packet::Connect(connect_with_will(v, "w"));
        let f = flags_of(&p, v);
        b(valid(&p, v).patch(CONNECT_FLAGS_OFFSET, f | 0x18))
    }, Malformed);
    t.both("Will QoS 3 with Will Retain", |v| {
        let p = Packet::Connect(connect_with_will(v, "w"));
        let f = flags_of(&p, v);
        b(valid(&p, v).patch(CONNECT_FLAGS_OFFSET, f | 0x38))
    }, Malformed);
    t.add("password without user name", V311, {
        let mut c = connect(V311);
        c.password = Some(Bytes::from_static(b"pw"));
        enc(Packet::Connect(c), V311)
    }, Malformed);
    t.both("User Name Flag without user name", |v| {
        let p = Packet::Connect(connect(v));
        let f = flags_of(&p, v);
        b(valid(&p, v).patch(CONNECT_FLAGS_OFFSET, f | 0x80))
    }, Malformed);
    t.both("Will Flag without will fields", |v| {
        let p = Packet::Connect(connect(v));
        let f = flags_of(&p, v);
        b(valid(&p, v).patch(CONNECT_FLAGS_OFFSET, f | 0x04))
    }, Malformed);

    // --- protocol name and level
    t.both("protocol name MQTX", |v| b(replace(valid(&Packet::Connect(connect(v)), v), b"MQTT", b"MQTX")), Unsupported);
    t.both("protocol name mqtt", |v| b(replace(valid(&Packet::Connect(connect(v)), v), b"MQTT", b"mqtt")), Unsupported);
    for level in [0u8, 3, 6, 255] {
        t.both(&format!("protocol level {level}"), |v| b(valid(&Packet::Connect(connect(v)), v).patch(6, level)), Unsupported);
    }
    t.both("3.1.1 CONNECT body relabelled as level 5", |_| {
        // No property length: the client id length 0x00 0x00 becomes an empty property list followed
        // by one byte, too short for a client id.
        b(valid(&Packet::Connect(Connect::new(V311, "")), V311).patch(6, 5))
    }, Malformed);
    t.both("MQIsdp level 3 (MQTT 3.1)", |_| {
        let mut body = vec![0x00, 0x06];
        body.extend_from_slice(b"MQIsdp");
        body.extend_from_slice(&[0x03, 0x02, 0x00, 0x3C, 0x00, 0x01, b'c']);
        b(RawPacket::new(1, 0, body))
    }, Unsupported);
    t.both("protocol name not UTF-8", |v| b(replace(valid(&Packet::Connect(connect(v)), v), b"MQTT", b"MQ\xFFT")), Malformed);

    // --- Will Topic and other CONNECT strings
    t.both("Will Topic empty", |v| enc(Packet::Connect(connect_with_will(v, "")), v), Protocol);
    for topic in ["a/+", "#", "+", "a/#", "sport/+/x"] {
        t.both(&format!("Will Topic {topic:?} with a wildcard"), |v| enc(Packet::Connect(connect_with_will(v, topic)), v), TopicName);
    }
    t.both("Will Topic not UTF-8 (0xFF)", |v| b(replace(valid(&Packet::Connect(connect_with_will(v, "w/?/t")), v), b"?", b"\xFF")), Malformed);
    t.both("Will Topic UTF-16 surrogate", |v| b(replace(valid(&Packet::Connect(connect_with_will(v, "w/???")), v), b"???", b"\xED\xA0\x80")), Malformed);
    t.both("Will Topic overlong '/'", |v| b(replace(valid(&Packet::Connect(connect_with_will(v, "w??")), v), b"??", b"\xC0\xAF")), Malformed);
    t.both("Will Topic with U+0000", |v| enc(Packet::Connect(connect_with_will(v, "w/\0")), v), Malformed);
    t.both("Client Identifier not UTF-8", |v| b(replace(valid(&Packet::Connect(connect(v)), v), b"cid", b"c\xFEd")), Malformed);
    t.both("Client Identifier with U+0000", |v| enc(Packet::Connect(Connect::new(v, "c\0")), v), Malformed);
    t.both("User Name with U+0000", |v| {
        let mut c = connect(v);
        c.username = Some("u\0".into());
        enc(Packet::Connect(c), v)
    }, Malformed);

    // --- 5.0 CONNECT properties
    t.add("CONNECT Session Expiry Interval twice", V5, enc(connect_props(vec![SessionExpiryInterval(1), SessionExpiryInterval(1)]), V5), Protocol);
    t.add("CONNECT Receive Maximum twice", V5, enc(connect_props(vec![ReceiveMaximum(1), user(), ReceiveMaximum(2)]), V5), Protocol);
    t.add("CONNECT Maximum Packet Size twice", V5, enc(connect_props(vec![MaximumPacketSize(9), MaximumPacketSize(9)]), V5), Protocol);
    t.add("CONNECT Authentication Method twice", V5, enc(connect_props(vec![method(), method()]), V5), Protocol);
    t.add("CONNECT Request Problem Information twice", V5, enc(connect_props(vec![RequestProblemInformation(1), RequestProblemInformation(1)]), V5), Protocol);
    t.add("CONNECT Topic Alias (not allowed)", V5, enc(connect_props(vec![TopicAlias(1)]), V5), Malformed);
    t.add("CONNECT Will Delay Interval (not allowed)", V5, enc(connect_props(vec![WillDelayInterval(1)]), V5), Malformed);
    t.add("CONNECT Reason String (not allowed)", V5, enc(connect_props(vec![ReasonString("r".into())]), V5), Malformed);
    t.add("CONNECT Payload Format Indicator (not allowed)", V5, enc(connect_props(vec![PayloadFormatIndicator(0)]), V5), Malformed);
    t.add("CONNECT Receive Maximum 0", V5, enc(connect_props(vec![ReceiveMaximum(0)]), V5), Protocol);
    t.add("CONNECT Maximum Packet Size 0", V5, enc(connect_props(vec![MaximumPacketSize(0)]), V5), Protocol);
    t.add("CONNECT Request Problem Information 2", V5, enc(connect_props(vec![RequestProblemInformation(2)]), V5), Protocol);
    t.add("CONNECT Request Response Information 2", V5, enc(connect_props(vec![RequestResponseInformation(2)]), V5), Protocol);
    t.add("CONNECT Authentication Data without Authentication Method", V5, enc(connect_props(vec![AuthenticationData(Bytes::from_static(b"d"))]), V5), Protocol);
    t.add("CONNECT property length beyond the packet", V5, b(valid(&Packet::Connect(Connect::new(V5, "")), V5).patch(10, 0x05)), Malformed);
    t.add("CONNECT property length of 5 bytes", V5, {
        let mut body = valid(&Packet::Connect(Connect::new(V5, "")), V5).body;
        body.splice(10..11, [0x80, 0x80, 0x80, 0x80, 0x00]);
        b(RawPacket::new(1, 0, body))
    }, Malformed);
    t.add("Will Delay Interval twice", V5, enc(will_props(vec![WillDelayInterval(1), WillDelayInterval(2)]), V5), Protocol);
    t.add("Will Payload Format Indicator twice", V5, enc(will_props(vec![PayloadFormatIndicator(1), PayloadFormatIndicator(1)]), V5), Protocol);
    t.add("Will Content Type twice", V5, enc(will_props(vec![ContentType("a".into()), ContentType("b".into())]), V5), Protocol);
    t.add("Will Correlation Data twice", V5, enc(will_props(vec![CorrelationData(Bytes::new()), CorrelationData(Bytes::new())]), V5), Protocol);
    t.add("Will Session Expiry Interval (not allowed)", V5, enc(will_props(vec![SessionExpiryInterval(1)]), V5), Malformed);
    t.add("Will Subscription Identifier (not allowed)", V5, enc(will_props(vec![SubscriptionIdentifier(1)]), V5), Malformed);
    t.add("Will Topic Alias (not allowed)", V5, enc(will_props(vec![TopicAlias(1)]), V5), Malformed);
    t.add("Will Payload Format Indicator 2", V5, enc(will_props(vec![PayloadFormatIndicator(2)]), V5), Protocol);
    t.add("Will Payload Format Indicator 255", V5, enc(will_props(vec![PayloadFormatIndicator(255)]), V5), Protocol);
}

/// CONNACK return codes, reason codes, acknowledge flags and properties.
pub(super) fn connack_rows(t: &mut Table) {
    use Property::*;
    // --- CONNACK
    for code in [6u8, 0x80, 0xFF] {
        t.add(format!("CONNACK return code {code:#04x}"), V311, enc(connack(code), V311), Malformed);
    }
    for code in [0x01u8, 0x04, 0x10, 0x8B, 0x8E, 0x91, 0xA2, 0xFF] {
        t.add(format!("CONNACK reason code {code:#04x}"), V5, enc(connack(code), V5), Malformed);
    }
    for ack_flags in [0x02u8, 0x80, 0xFF] {
        t.both(&format!("CONNACK acknowledge flags {ack_flags:#04x}"), |v| b(valid(&connack(0), v).patch(0, ack_flags)), Malformed);
    }
    t.add("CONNACK Maximum QoS twice", V5, enc(connack_props(vec![MaximumQos(0), MaximumQos(0)]), V5), Protocol);
    t.add("CONNACK Assigned Client Identifier twice", V5, enc(connack_props(vec![AssignedClientIdentifier("a".into()), AssignedClientIdentifier("a".into())]), V5), Protocol);
    t.add("CONNACK Server Keep Alive twice", V5, enc(connack_props(vec![ServerKeepAlive(1), ServerKeepAlive(1)]), V5), Protocol);
    t.add("CONNACK Maximum QoS 2", V5, enc(connack_props(vec![MaximumQos(2)]), V5), Protocol);
    t.add("CONNACK Retain Available 2", V5, enc(connack_props(vec![RetainAvailable(2)]), V5), Protocol);
    t.add("CONNACK Wildcard Subscription Available 2", V5, enc(connack_props(vec![WildcardSubscriptionAvailable(2)]), V5), Protocol);
    t.add("CONNACK Subscription Identifier Available 2", V5, enc(connack_props(vec![SubscriptionIdentifierAvailable(2)]), V5), Protocol);
    t.add("CONNACK Shared Subscription Available 2", V5, enc(connack_props(vec![SharedSubscriptionAvailable(2)]), V5), Protocol);
    t.add("CONNACK Receive Maximum 0", V5, enc(connack_props(vec![ReceiveMaximum(0)]), V5), Protocol);
    t.add("CONNACK Maximum Packet Size 0", V5, enc(connack_props(vec![MaximumPacketSize(0)]), V5), Protocol);
    t.add("CONNACK Will Delay Interval (not allowed)", V5, enc(connack_props(vec![WillDelayInterval(1)]), V5), Malformed);
    t.add("CONNACK Topic Alias (not allowed)", V5, enc(connack_props(vec![TopicAlias(1)]), V5), Malformed);
    t.add("CONNACK Request Problem Information (not allowed)", V5, enc(connack_props(vec![RequestProblemInformation(1)]), V5), Malformed);
}
