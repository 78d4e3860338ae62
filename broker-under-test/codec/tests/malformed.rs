//! One table of inputs that the decoder must refuse, each with the `DecodeError` kind (and so the 5.0
//! reason code) the specs give for it. Rows are built from valid encodings with `raw::RawPacket`, or
//! from packet values the encoder writes unchanged (duplicate properties, wildcards, ...).

use bytes::{Bytes, BytesMut};
use lwt_codec::raw::{RawPacket, CONNECT_FLAGS_OFFSET};
use lwt_codec::*;
use std::collections::HashSet;

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Malformed,
    Protocol,
    TooLarge,
    Unsupported,
    TopicName,
}

impl Want {
    /// The 5.0 reason code, written out here rather than taken from the codec.
    fn code(self) -> u8 {
        match self {
            Want::Malformed => 0x81,
            Want::Protocol => 0x82,
            Want::TooLarge => 0x95,
            Want::Unsupported => 0x84,
            Want::TopicName => 0x90,
        }
    }
    fn of(e: &DecodeError) -> Want {
        match e {
            DecodeError::Malformed(_) => Want::Malformed,
            DecodeError::Protocol(_) => Want::Protocol,
            DecodeError::TooLarge { .. } => Want::TooLarge,
            DecodeError::UnsupportedProtocol { .. } => Want::Unsupported,
            DecodeError::TopicName(_) => Want::TopicName,
        }
    }
}

use Want::*;

struct Case {
    name: String,
    version: ProtocolVersion,
    bytes: Vec<u8>,
    /// `Some(max)`: go through `read_frame(max)` + `decode_frame` instead of `decode`.
    max: Option<usize>,
    want: Want,
}

struct Table(Vec<Case>);

impl Table {
    fn add(&mut self, name: impl Into<String>, version: ProtocolVersion, bytes: impl AsRef<[u8]>, want: Want) {
        let tag = if version == V5 { "v5" } else { "v3.1.1" };
        self.0.push(Case { name: format!("{} [{tag}]", name.into()), version, bytes: bytes.as_ref().to_vec(), max: None, want });
    }
    fn both(&mut self, name: &str, f: impl Fn(ProtocolVersion) -> Vec<u8>, want: Want) {
        for v in [V311, V5] {
            self.add(name, v, f(v), want);
        }
    }
    fn too_large(&mut self, name: &str, version: ProtocolVersion, bytes: impl AsRef<[u8]>, max: usize) {
        self.add(name, version, bytes, TooLarge);
        self.0.last_mut().unwrap().max = Some(max);
    }
}

fn run(c: &Case) -> Result<(), String> {
    let result = match c.max {
        None => decode(&c.bytes, c.version),
        Some(max) => {
            let mut buf = BytesMut::from(&c.bytes[..]);
            match read_frame(&mut buf, max) {
                Err(e) => Err(e),
                Ok(None) => return Err("read_frame wants more bytes".into()),
                Ok(Some(frame)) => decode_frame(&frame, c.version),
            }
        }
    };
    match result {
        Ok(p) => Err(format!("decoded without error as {p:?}")),
        Err(e) if Want::of(&e) != c.want => Err(format!("got {e:?}, want {:?}", c.want)),
        Err(e) if e.reason_code() != c.want.code() => {
            Err(format!("{e:?}: reason code {:#04x}, want {:#04x}", e.reason_code(), c.want.code()))
        }
        Err(_) => Ok(()),
    }
}

// ---------------------------------------------------------------- builders

/// The valid encoding of `p` as a `RawPacket`, after checking that it does decode.
fn valid(p: &Packet, v: ProtocolVersion) -> RawPacket {
    let bytes = p.to_bytes(v);
    if let Err(e) = decode(&bytes, v) {
        panic!("base packet {} {v:?} does not decode: {e}", p.name());
    }
    RawPacket::from_packet(p, v)
}

/// The encoding of a packet value that is itself invalid (the encoder writes it unchanged).
fn enc(p: Packet, v: ProtocolVersion) -> Vec<u8> {
    p.to_bytes(v).to_vec()
}

fn b(r: RawPacket) -> Vec<u8> {
    r.to_bytes().to_vec()
}

/// Replaces the unique occurrence of `from` in the body with `to` (same length).
fn replace(mut r: RawPacket, from: &[u8], to: &[u8]) -> RawPacket {
    assert_eq!(from.len(), to.len());
    let hits: Vec<usize> = (0..=r.body.len().saturating_sub(from.len())).filter(|&i| r.body[i..].starts_with(from)).collect();
    assert_eq!(hits.len(), 1, "{from:?} occurs {} times", hits.len());
    r.body[hits[0]..hits[0] + from.len()].copy_from_slice(to);
    r
}

fn props(list: Vec<Property>) -> Properties {
    Properties(list)
}

fn connect(v: ProtocolVersion) -> Connect {
    Connect::new(v, "cid")
}

fn connect_with_will(v: ProtocolVersion, topic: &str) -> Connect {
    let mut c = connect(v);
    c.will = Some(Will {
        topic: topic.into(),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties::new(),
    });
    c
}

fn full_connect(v: ProtocolVersion) -> Packet {
    let mut c = connect_with_will(v, "will/t");
    c.username = Some("user".into());
    c.password = Some(Bytes::from_static(b"pw"));
    if v == V5 {
        c.properties = props(vec![Property::SessionExpiryInterval(5), Property::ReceiveMaximum(9)]);
        c.will.as_mut().unwrap().properties = props(vec![Property::WillDelayInterval(3)]);
    }
    Packet::Connect(c)
}

fn connect_props(list: Vec<Property>) -> Packet {
    let mut c = connect(V5);
    c.properties = props(list);
    Packet::Connect(c)
}

fn will_props(list: Vec<Property>) -> Packet {
    let mut c = connect_with_will(V5, "w");
    c.will.as_mut().unwrap().properties = props(list);
    Packet::Connect(c)
}

fn connack_props(list: Vec<Property>) -> Packet {
    Packet::ConnAck(ConnAck { session_present: false, code: 0, properties: props(list) })
}

fn connack(code: u8) -> Packet {
    Packet::ConnAck(ConnAck { session_present: false, code, properties: Properties::new() })
}

fn pub_qos1(topic: &str) -> Publish {
    let mut p = Publish::new(topic, &b"payload"[..]);
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(7);
    p
}

fn publish_props(list: Vec<Property>) -> Packet {
    let mut p = pub_qos1("a/b");
    p.properties = props(list);
    Packet::Publish(p)
}

fn resp(kind: u8, packet_id: u16, reason: u8, list: Vec<Property>) -> Packet {
    let r = PubResp { packet_id, reason, properties: props(list) };
    match kind {
        4 => Packet::PubAck(r),
        5 => Packet::PubRec(r),
        6 => Packet::PubRel(r),
        _ => Packet::PubComp(r),
    }
}

fn subscribe(filters: Vec<(&str, SubOptions)>, list: Vec<Property>) -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id: 10,
        properties: props(list),
        filters: filters.into_iter().map(|(f, o)| (f.to_string(), o)).collect(),
    })
}

fn sub1() -> Packet {
    subscribe(vec![("a/+", SubOptions::qos(QoS::AtLeastOnce))], vec![])
}

fn suback(codes: Vec<u8>, list: Vec<Property>) -> Packet {
    Packet::SubAck(SubAck { packet_id: 10, properties: props(list), codes })
}

fn unsubscribe(filters: Vec<&str>, list: Vec<Property>) -> Packet {
    Packet::Unsubscribe(Unsubscribe {
        packet_id: 11,
        properties: props(list),
        filters: filters.into_iter().map(String::from).collect(),
    })
}

fn unsuback(codes: Vec<u8>, list: Vec<Property>) -> Packet {
    Packet::UnsubAck(UnsubAck { packet_id: 11, properties: props(list), codes })
}

fn disconnect(reason: u8, list: Vec<Property>) -> Packet {
    Packet::Disconnect(Disconnect { reason, properties: props(list) })
}

fn auth(reason: u8, list: Vec<Property>) -> Packet {
    Packet::Auth(Auth { reason, properties: props(list) })
}

fn method() -> Property {
    Property::AuthenticationMethod("m".into())
}

fn user() -> Property {
    Property::UserProperty("k".into(), "v".into())
}

/// One valid packet of each type (AUTH only in 5.0) with the flags it must carry.
fn one_of_each(v: ProtocolVersion) -> Vec<(Packet, u8)> {
    let mut list = vec![
        (Packet::Connect(connect(v)), 0),
        (connack(0), 0),
        (resp(4, 1, 0, vec![]), 0),
        (resp(5, 1, 0, vec![]), 0),
        (resp(6, 1, 0, vec![]), 2),
        (resp(7, 1, 0, vec![]), 0),
        (sub1(), 2),
        (suback(vec![0], vec![]), 0),
        (unsubscribe(vec!["a"], vec![]), 2),
        (unsuback(if v == V5 { vec![0] } else { vec![] }, vec![]), 0),
        (Packet::PingReq, 0),
        (Packet::PingResp, 0),
        (disconnect(0, vec![]), 0),
    ];
    if v == V5 {
        list.push((auth(0x18, vec![method()]), 0));
    }
    list
}

// ---------------------------------------------------------------- the table

fn table() -> Table {
    use Property::*;
    let mut t = Table(Vec::new());

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
    t
}

#[test]
fn malformed_and_protocol_error_table() {
    let table = table();
    let mut names = HashSet::new();
    for c in &table.0 {
        assert!(names.insert(c.name.clone()), "duplicate row name {:?}", c.name);
    }
    let failures: Vec<String> = table
        .0
        .iter()
        .filter_map(|c| run(c).err().map(|why| format!("  {}: {why}\n      bytes: {:02x?}", c.name, c.bytes)))
        .collect();
    let count = |w: Want| table.0.iter().filter(|c| c.want == w).count();
    println!(
        "{} rows: {} Malformed, {} Protocol, {} TopicName, {} Unsupported, {} TooLarge",
        table.0.len(),
        count(Malformed),
        count(Protocol),
        count(TopicName),
        count(Unsupported),
        count(TooLarge)
    );
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), table.0.len(), failures.join("\n"));
    // Every kind of error is exercised.
    for w in [Malformed, Protocol, TooLarge, Unsupported, TopicName] {
        assert!(count(w) > 0, "no row expects {w:?}");
    }
}

/// The table's bases are valid: the same builders without the fault decode fine, so each row fails
/// because of its fault. (The `valid` builder checks this for every row built from it; this test covers
/// the hand-written neighbours of a few rows.)
#[test]
fn near_misses_decode() {
    let ok: Vec<(&str, ProtocolVersion, Vec<u8>)> = vec![
        ("PINGREQ", V5, vec![0xC0, 0x00]),
        ("remaining length 127 in 1 byte", V311, {
            let mut v = vec![0x30, 0x7F, 0x00, 0x01, b't'];
            v.extend(vec![0; 124]);
            v
        }),
        ("remaining length 128 in 2 bytes", V311, {
            let mut v = vec![0x30, 0x80, 0x01, 0x00, 0x01, b't'];
            v.extend(vec![0; 125]);
            v
        }),
        ("PUBLISH known property with value", V5, vec![0x30, 0x06, 0x00, 0x01, b't', 0x02, 0x01, 0x00]),
        ("PUBLISH Subscription Identifier 1", V5, vec![0x30, 0x06, 0x00, 0x01, b't', 0x02, 0x0B, 0x01]),
        ("PUBLISH Subscription Identifier 128", V5, vec![0x30, 0x07, 0x00, 0x01, b't', 0x03, 0x0B, 0x80, 0x01]),
        ("DISCONNECT Session Expiry Interval", V5, vec![0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x01]),
        ("DISCONNECT Reason String", V5, vec![0xE0, 0x07, 0x00, 0x05, 0x1F, 0x00, 0x02, 0xC3, 0xA9]),
        ("DISCONNECT 0x04 with empty property list", V5, vec![0xE0, 0x02, 0x04, 0x00]),
        ("AUTH Remaining Length 0", V5, vec![0xF0, 0x00]),
        ("AUTH with method", V5, vec![0xF0, 0x06, 0x18, 0x04, 0x15, 0x00, 0x01, b'm']),
        ("SUBSCRIBE v5 options 0x2E", V5, vec![0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x2E]),
        ("SUBSCRIBE v3.1.1 QoS 2", V311, vec![0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x02]),
        ("SUBACK v3.1.1 failure", V311, vec![0x90, 0x03, 0x00, 0x01, 0x80]),
        ("CONNACK v3.1.1 code 5", V311, vec![0x20, 0x02, 0x00, 0x05]),
        ("PUBACK v5 reason 0x99", V5, vec![0x40, 0x03, 0x00, 0x01, 0x99]),
        ("PUBREL v5 reason 0x92", V5, vec![0x62, 0x03, 0x00, 0x01, 0x92]),
        ("PUBLISH empty topic with Topic Alias", V5, vec![0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01]),
        ("SUBSCRIBE No Local on a normal filter", V5, vec![0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x04]),
    ];
    for (name, v, bytes) in ok {
        if let Err(e) = decode(&bytes, v) {
            panic!("{name}: {e}");
        }
    }
    // CONNECT with password without user name is fine in 5.0.
    let mut c = Connect::new(V5, "c");
    c.password = Some(Bytes::from_static(b"p"));
    decode(&Packet::Connect(c).to_bytes(V5), V5).unwrap();
    // Authentication Data together with an Authentication Method is fine.
    decode(&connect_props(vec![Property::AuthenticationData(Bytes::from_static(b"d")), method()]).to_bytes(V5), V5).unwrap();
    // Exactly at the maximum is not too large.
    let bytes = Packet::Publish(Publish::new("t", vec![0u8; 100])).to_bytes(V5);
    assert!(read_frame(&mut BytesMut::from(&bytes[..]), bytes.len()).unwrap().is_some());
}
