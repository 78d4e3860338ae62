//! Rows about SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK.
use super::*;

/// SUBSCRIBE filters and options, and SUBACK codes.
pub(super) fn subscribe_rows(t: &mut Table) {
    use Property::*;
    // --- SUBSCRIBE
    t.both("SUBSCRIBE without topic filters", |v| enc(subscribe(vec![], vec![]), v), Protocol);
    t.add("SUBSCRIBE with properties but no topic filter", V5, enc(subscribe(vec![], vec![user()]), V5), Protocol);
    t.both("SUBSCRIBE packet identifier 0", |v| {
        let Packet::Subscribe(mut s) = sub1() else { unreachable!() };
        s.packet_id = 0;
        enc(Packet::Subscribe(s), v)
    }, Protocol);
    // The options byte is the last byte of `sub1()`.
    let opts = |v: ProtocolVersion, o: u8| {
        let r = valid(&sub1(), v);
        let last = r.body.len() - 1;
        assert_eq!(r.body[last], 0x01, "options byte of sub1()");
        b(r.patch(last, o))
    };
    for opt in [0x40u8, 0x80, 0xC0, 0x41, 0x6E] {
        t.add(format!("SUBSCRIBE options {opt:#04x} (reserved bits)"), V5, opts(V5, opt), Malformed);
    }
    for opt in [0x04u8, 0x08, 0x10, 0x20, 0x40, 0x80, 0x2E] {
        t.add(format!("SUBSCRIBE options {opt:#04x} (reserved bits)"), V311, opts(V311, opt), Malformed);
    }
    t.add("SUBSCRIBE Maximum QoS 3", V5, opts(V5, 0x03), Protocol);
    t.add("SUBSCRIBE Maximum QoS 3 with No Local", V5, opts(V5, 0x07), Protocol);
    t.add("SUBSCRIBE requested QoS 3", V311, opts(V311, 0x03), Malformed);
    t.add("SUBSCRIBE Retain Handling 3", V5, opts(V5, 0x31), Protocol);
    t.add("SUBSCRIBE Retain Handling 3, second filter", V5, {
        let o = SubOptions { retain_handling: 3, ..SubOptions::default() };
        enc(subscribe(vec![("a", SubOptions::default()), ("b", o)], vec![]), V5)
    }, Protocol);
    t.add("SUBSCRIBE No Local on a shared subscription", V5, {
        let o = SubOptions { no_local: true, ..SubOptions::default() };
        enc(subscribe(vec![("$share/g/a/#", o)], vec![]), V5)
    }, Protocol);
    t.both("SUBSCRIBE filter not UTF-8", |v| b(replace(valid(&subscribe(vec![("a/?", SubOptions::default())], vec![]), v), b"a/?", b"a/\xC3")), Malformed);
    t.both("SUBSCRIBE filter with U+0000", |v| enc(subscribe(vec![("a\0", SubOptions::default())], vec![]), v), Malformed);
    t.add("SUBSCRIBE Subscription Identifier 0", V5, enc(subscribe(vec![("a", SubOptions::default())], vec![SubscriptionIdentifier(0)]), V5), Protocol);
    t.add("SUBSCRIBE Subscription Identifier twice", V5, enc(subscribe(vec![("a", SubOptions::default())], vec![SubscriptionIdentifier(1), SubscriptionIdentifier(2)]), V5), Protocol);
    t.add("SUBSCRIBE Topic Alias (not allowed)", V5, enc(subscribe(vec![("a", SubOptions::default())], vec![TopicAlias(1)]), V5), Malformed);
    t.add("SUBSCRIBE Reason String (not allowed)", V5, enc(subscribe(vec![("a", SubOptions::default())], vec![ReasonString("r".into())]), V5), Malformed);

    // --- SUBACK
    for code in [0x03u8, 0x04, 0x81, 0x83, 0x87, 0xFF] {
        t.add(format!("SUBACK return code {code:#04x}"), V311, enc(suback(vec![0, code], vec![]), V311), Malformed);
    }
    for code in [0x03u8, 0x04, 0x10, 0x11, 0x81, 0x82, 0x90, 0xFF] {
        t.add(format!("SUBACK reason code {code:#04x}"), V5, enc(suback(vec![code], vec![]), V5), Malformed);
    }
    t.both("SUBACK packet identifier 0", |v| {
        let Packet::SubAck(mut s) = suback(vec![0], vec![]) else { unreachable!() };
        s.packet_id = 0;
        enc(Packet::SubAck(s), v)
    }, Protocol);
    t.add("SUBACK Reason String twice", V5, enc(suback(vec![0], vec![ReasonString("a".into()), ReasonString("a".into())]), V5), Protocol);
    t.add("SUBACK Subscription Identifier (not allowed)", V5, enc(suback(vec![0], vec![SubscriptionIdentifier(1)]), V5), Malformed);
}

/// UNSUBSCRIBE filters and UNSUBACK codes.
pub(super) fn unsubscribe_rows(t: &mut Table) {
    use Property::*;
    // --- UNSUBSCRIBE, UNSUBACK
    t.both("UNSUBSCRIBE without topic filters", |v| enc(unsubscribe(vec![], vec![]), v), Protocol);
    t.add("UNSUBSCRIBE with properties but no topic filter", V5, enc(unsubscribe(vec![], vec![user()]), V5), Protocol);
    t.both("UNSUBSCRIBE packet identifier 0", |v| {
        let Packet::Unsubscribe(mut u) = unsubscribe(vec!["a"], vec![]) else { unreachable!() };
        u.packet_id = 0;
        enc(Packet::Unsubscribe(u), v)
    }, Protocol);
    t.both("UNSUBSCRIBE filter with U+0000", |v| enc(unsubscribe(vec!["\0"], vec![]), v), Malformed);
    t.add("UNSUBSCRIBE Reason String (not allowed)", V5, enc(unsubscribe(vec!["a"], vec![ReasonString("r".into())]), V5), Malformed);
    t.add("UNSUBSCRIBE Subscription Identifier (not allowed)", V5, enc(unsubscribe(vec!["a"], vec![SubscriptionIdentifier(1)]), V5), Malformed);
    for code in [0x01u8, 0x02, 0x10, 0x81, 0x8E, 0x92, 0xFF] {
        t.add(format!("UNSUBACK reason code {code:#04x}"), V5, enc(unsuback(vec![0, code], vec![]), V5), Malformed);
    }
    t.both("UNSUBACK packet identifier 0", |v| {
        let Packet::UnsubAck(mut u) = unsuback(if v == V5 { vec![0] } else { vec![] }, vec![]) else { unreachable!() };
        u.packet_id = 0;
        enc(Packet::UnsubAck(u), v)
    }, Protocol);
    t.add("UNSUBACK Reason String twice", V5, enc(unsuback(vec![0], vec![ReasonString("a".into()), ReasonString("a".into())]), V5), Protocol);
    t.add("UNSUBACK Topic Alias (not allowed)", V5, enc(unsuback(vec![0], vec![TopicAlias(1)]), V5), Malformed);
}
