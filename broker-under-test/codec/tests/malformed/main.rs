//! One table of inputs that the decoder must refuse, each with the `DecodeError` kind (and so the 5.0
//! reason code) the specs give for it. Rows are built from valid encodings with `raw::RawPacket`, or
//! from packet values the encoder writes unchanged (duplicate properties, wildcards, ...).

use bytes::{Bytes, BytesMut};
use lwt_codec::raw::{RawPacket, CONNECT_FLAGS_OFFSET};
use lwt_codec::*;
use std::collections::HashSet;

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

// The table's rows, one module per packet family; the builders below are shared by them.
mod connect;
mod control;
mod framing;
mod publish;
mod subscribe;

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

/// The whole table: every family's rows, in the order they were always listed.
fn table() -> Table {
    let mut t = Table(Vec::new());
    framing::header_rows(&mut t);
    framing::truncated_body_rows(&mut t);
    connect::connect_rows(&mut t);
    connect::connack_rows(&mut t);
    publish::publish_rows(&mut t);
    publish::pub_response_rows(&mut t);
    subscribe::subscribe_rows(&mut t);
    subscribe::unsubscribe_rows(&mut t);
    control::disconnect_and_auth_rows(&mut t);
    control::maximum_packet_size_rows(&mut t);
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
