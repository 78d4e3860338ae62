//! Round trips (encode → decode → equal, and re-encode → same bytes) for every packet type in MQTT 3.1.1
//! and 5.0, every property type, the 5.0 short forms, Remaining Lengths of 1 to 4 bytes, and exact bytes
//! for a set of known encodings.

use bytes::{Bytes, BytesMut};
use lwt_codec::*;

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

// One module per packet family; the helpers below are shared by them.
mod connect;
mod control;
mod properties;
mod publish;
mod subscribe;

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

/// A QoS 2 retained Will with `properties` (CONNECT tests and the stream test).
fn full_will(properties: Properties) -> Will {
    Will {
        topic: "clients/c1/status".into(),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::ExactlyOnce,
        retain: true,
        properties,
    }
}

/// A PUBLISH with packet id 0xBEEF when QoS > 0 and no properties.
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
