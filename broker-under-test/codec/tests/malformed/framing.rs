//! Rows about the frame: packet types, fixed-header flags, Remaining Length and truncated bodies.
use super::*;

/// Reserved packet types, fixed-header flags and Remaining Length encodings.
pub(super) fn header_rows(t: &mut Table) {
    // --- packet types and fixed-header flags
    t.both("reserved packet type 0", |_| b(RawPacket::new(0, 0, [])), Malformed);
    t.both("reserved packet type 0 with a body", |_| b(RawPacket::new(0, 0, [0, 1])), Malformed);
    t.add("packet type 15 (AUTH does not exist in 3.1.1)", V311, b(RawPacket::new(15, 0, [])), Malformed);
    t.add("packet type 15 with AUTH body", V311, b(valid(&auth(0x18, vec![method()]), V5)), Malformed);
    for v in [V311, V5] {
        for (p, flags) in one_of_each(v) {
            for wrong in [0b0001, 0b0010, 0b0100, 0b1000, 0b1111] {
                if wrong != flags {
                    t.add(format!("{} with flags {wrong:04b}", p.name()), v, b(valid(&p, v).flags(wrong)), Malformed);
                }
            }
        }
    }
    t.both("PUBLISH QoS 3", |v| b(valid(&Packet::Publish(pub_qos1("a")), v).flags(0b0110)), Malformed);
    t.both("PUBLISH QoS 3 retain", |v| b(valid(&Packet::Publish(pub_qos1("a")), v).flags(0b0111)), Malformed);
    t.both("PUBLISH QoS 3 DUP", |v| b(valid(&Packet::Publish(pub_qos1("a")), v).flags(0b1110)), Malformed);
    t.both("PUBLISH DUP on QoS 0", |v| b(valid(&Packet::Publish(Publish::new("a", &b"x"[..])), v).flags(0b1000)), Malformed);
    t.both("PUBLISH DUP on QoS 0 retain", |v| b(valid(&Packet::Publish(Publish::new("a", &b"x"[..])), v).flags(0b1001)), Malformed);

    // --- Remaining Length and framing
    t.both("remaining length of 5 bytes", |_| vec![0xC0, 0x80, 0x80, 0x80, 0x80, 0x01], Malformed);
    t.both("remaining length of 5 bytes, all 0xFF", |_| vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], Malformed);
    t.both("remaining length 0 in 2 bytes", |_| vec![0xC0, 0x80, 0x00], Malformed);
    t.both("remaining length 0 in 4 bytes", |_| vec![0xE0, 0x80, 0x80, 0x80, 0x00], Malformed);
    // A PUBLISH with a 7-byte body whose Remaining Length is written as 0x87 0x00.
    t.add("remaining length 7 in 2 bytes", V311, [0x30, 0x87, 0x00, 0x00, 0x02, b'a', b'b', b'x', b'y', b'z'], Malformed);
    t.add("remaining length 7 in 2 bytes", V5, [0x30, 0x87, 0x00, 0x00, 0x02, b'a', b'b', 0x00, b'x', b'y'], Malformed);
    t.both("only a header byte", |_| vec![0xC0], Malformed);
    t.both("remaining length cut off", |_| vec![0x30, 0x80], Malformed);
    t.both("empty input", |_| vec![], Malformed);
    t.both("body shorter than remaining length", |v| b(valid(&Packet::Publish(pub_qos1("a")), v).remaining_length(20)), Malformed);
    t.both("remaining length shorter than body (bytes after the packet)", |v| b(valid(&Packet::Publish(pub_qos1("a")), v).remaining_length(4)), Malformed);
    t.both("second packet glued behind (decode wants exactly one)", |v| {
        let mut bytes = b(valid(&Packet::PingReq, v));
        bytes.extend_from_slice(&[0xC0, 0x00]);
        bytes
    }, Malformed);
    t.both("PINGREQ with remaining length 1", |_| vec![0xC0, 0x01, 0x00], Malformed);
    t.both("PINGRESP with remaining length 2", |_| vec![0xD0, 0x02, 0x00, 0x00], Malformed);
    t.add("DISCONNECT with a body", V311, vec![0xE0, 0x01, 0x00], Malformed);
    t.add("UNSUBACK with a reason code", V311, b(valid(&unsuback(vec![], vec![]), V311).append(&[0x00])), Malformed);
    t.add("CONNACK with a third byte", V311, b(valid(&connack(0), V311).append(&[0x00])), Malformed);
    t.add("PUBACK with a reason code", V311, b(valid(&resp(4, 1, 0, vec![]), V311).append(&[0x10])), Malformed);
    t.both("CONNECT with a trailing byte", |v| b(valid(&full_connect(v), v).append(&[0x00])), Malformed);
    t.both("SUBACK without packet identifier", |_| vec![0x90, 0x01, 0x00], Malformed);
    for kind in 4..=7u8 {
        let flags = if kind == 6 { 2 } else { 0 };
        t.both(&format!("{} with a 1-byte body", packet_name(kind)), |_| vec![kind << 4 | flags, 0x01, 0x00], Malformed);
        t.both(&format!("{} with an empty body", packet_name(kind)), |_| vec![kind << 4 | flags, 0x00], Malformed);
    }
}

/// Every cut of a full CONNECT, and other bodies that end too early.
pub(super) fn truncated_body_rows(t: &mut Table) {
    // --- truncated bodies: every cut of a full CONNECT is malformed
    for v in [V311, V5] {
        let full = valid(&full_connect(v), v);
        for n in 0..full.body.len() {
            t.add(format!("CONNECT cut to {n} bytes"), v, b(full.clone().truncate(n)), Malformed);
        }
    }
    t.both("PUBLISH cut inside the topic", |v| b(valid(&Packet::Publish(pub_qos1("abc")), v).truncate(3)), Malformed);
    t.both("PUBLISH cut inside the packet identifier", |v| b(valid(&Packet::Publish(pub_qos1("abc")), v).truncate(6)), Malformed);
    t.add("PUBLISH without property length", V5, b(valid(&Packet::Publish(pub_qos1("abc")), V5).truncate(7)), Malformed);
    t.add("PUBLISH QoS 0 without property length", V5, vec![0x30, 0x03, 0x00, 0x01, b't'], Malformed);
    t.add("CONNACK without property length", V5, b(valid(&connack(0), V5).truncate(2)), Malformed);
    t.add("SUBACK without property length", V5, vec![0x90, 0x02, 0x00, 0x01], Malformed);
    t.add("UNSUBACK without property length", V5, vec![0xB0, 0x02, 0x00, 0x01], Malformed);
    t.both("SUBSCRIBE filter without options byte", |v| {
        let r = valid(&sub1(), v);
        let n = r.body.len() - 1;
        b(r.truncate(n))
    }, Malformed);
    t.both("SUBSCRIBE cut inside the filter", |v| {
        let r = valid(&sub1(), v);
        let n = r.body.len() - 2;
        b(r.truncate(n))
    }, Malformed);
    t.both("UNSUBSCRIBE cut inside the filter", |v| {
        let r = valid(&unsubscribe(vec!["abc"], vec![]), v);
        let n = r.body.len() - 1;
        b(r.truncate(n))
    }, Malformed);
    t.add("DISCONNECT property cut inside its value", V5, vec![0xE0, 0x05, 0x00, 0x03, 0x11, 0x00, 0x00], Malformed);
    t.add("DISCONNECT user property without value", V5, vec![0xE0, 0x06, 0x00, 0x04, 0x26, 0x00, 0x01, b'k'], Malformed);
    t.add("AUTH property cut inside its value", V5, vec![0xF0, 0x05, 0x18, 0x03, 0x15, 0x00, 0x05], Malformed);
}
