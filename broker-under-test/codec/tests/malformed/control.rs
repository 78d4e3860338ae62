//! Rows about DISCONNECT, AUTH, and the Maximum Packet Size enforced through `read_frame`.
use super::*;

/// DISCONNECT and AUTH reason codes and properties.
pub(super) fn disconnect_and_auth_rows(t: &mut Table) {
    use Property::*;
    // --- DISCONNECT
    for code in [0x01u8, 0x02, 0x10, 0x11, 0x18, 0x84, 0x85, 0x86, 0x88, 0x8A, 0x8C, 0x91, 0x92, 0xA3, 0xFF] {
        t.add(format!("DISCONNECT reason code {code:#04x}"), V5, enc(disconnect(code, vec![]), V5), Malformed);
    }
    t.add("DISCONNECT reason code 0xFF with properties", V5, enc(disconnect(0xFF, vec![user()]), V5), Malformed);
    t.add("DISCONNECT Session Expiry Interval twice", V5, enc(disconnect(0, vec![SessionExpiryInterval(1), SessionExpiryInterval(1)]), V5), Protocol);
    t.add("DISCONNECT Server Reference twice", V5, enc(disconnect(0x9C, vec![ServerReference("a".into()), ServerReference("b".into())]), V5), Protocol);
    t.add("DISCONNECT Reason String twice", V5, enc(disconnect(0x04, vec![ReasonString("a".into()), ReasonString("b".into())]), V5), Protocol);
    t.add("DISCONNECT Will Delay Interval (not allowed)", V5, enc(disconnect(0x04, vec![WillDelayInterval(1)]), V5), Malformed);
    t.add("DISCONNECT Authentication Method (not allowed)", V5, enc(disconnect(0, vec![method()]), V5), Malformed);
    t.add("DISCONNECT Maximum Packet Size (not allowed)", V5, enc(disconnect(0, vec![MaximumPacketSize(5)]), V5), Malformed);
    t.add("DISCONNECT property length beyond the packet", V5, vec![0xE0, 0x03, 0x04, 0x7F, 0x1F], Malformed);
    t.add("DISCONNECT unknown property 0x30", V5, vec![0xE0, 0x04, 0x00, 0x02, 0x30, 0x00], Malformed);
    t.add("DISCONNECT Reason String not UTF-8", V5, vec![0xE0, 0x07, 0x00, 0x05, 0x1F, 0x00, 0x02, 0xC3, 0x28], Malformed);

    // --- AUTH
    for code in [0x01u8, 0x04, 0x17, 0x1A, 0x80, 0x87, 0xFF] {
        t.add(format!("AUTH reason code {code:#04x}"), V5, enc(auth(code, vec![method()]), V5), Malformed);
    }
    t.add("AUTH Authentication Method twice", V5, enc(auth(0x18, vec![method(), method()]), V5), Protocol);
    t.add("AUTH Authentication Data twice", V5, enc(auth(0x18, vec![method(), AuthenticationData(Bytes::new()), AuthenticationData(Bytes::new())]), V5), Protocol);
    t.add("AUTH Session Expiry Interval (not allowed)", V5, enc(auth(0x18, vec![method(), SessionExpiryInterval(1)]), V5), Malformed);
    t.add("AUTH Server Reference (not allowed)", V5, enc(auth(0x18, vec![method(), ServerReference("s".into())]), V5), Malformed);
    t.add("AUTH reason only, no Authentication Method", V5, vec![0xF0, 0x01, 0x18], Protocol);
    t.add("AUTH empty property list, no Authentication Method", V5, vec![0xF0, 0x02, 0x00, 0x00], Protocol);
    t.add("AUTH Authentication Data without Authentication Method", V5, enc(auth(0x19, vec![AuthenticationData(Bytes::from_static(b"d"))]), V5), Protocol);
}

/// Packets above the maximum `read_frame` is given.
pub(super) fn maximum_packet_size_rows(t: &mut Table) {
    // --- Maximum Packet Size through read_frame
    let big = Packet::Publish(Publish::new("t", vec![0u8; 100]));
    for v in [V311, V5] {
        let bytes = big.to_bytes(v);
        t.too_large("PUBLISH one byte over the maximum", v, &bytes, bytes.len() - 1);
        t.too_large("PUBLISH far over the maximum", v, &bytes, 10);
        t.too_large("header alone announces 2 MB, maximum 1 kB", v, [0x30, 0xFF, 0xFF, 0x7F], 1024);
        t.too_large("header alone announces 256 MB", v, [0x30, 0xFF, 0xFF, 0xFF, 0x7F], 1 << 20);
        t.too_large("PINGREQ with maximum 1", v, [0xC0, 0x00], 1);
        t.too_large("CONNECT over the maximum", v, full_connect(v).to_bytes(v), 20);
    }
}
