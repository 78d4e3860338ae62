//! Cross-check against an independent implementation, the `mqtt5-protocol` crate (which also speaks
//! 3.1.1): packets encoded by our codec decode with theirs to the same fields, and packets encoded by
//! theirs decode with ours to the same fields. Where both sides must produce the same bytes, that is
//! checked too.
//!
//! Their property lists are hash maps, so property order across different identifiers is not kept;
//! comparisons sort properties by identifier (stable, so repeated user properties keep their order).

use bytes::{Buf, Bytes};
use lwt_codec::{self as ours, Packet, Property, ProtocolVersion, QoS};
use mqtt5_protocol as theirs;
use theirs::packet::{
    auth::AuthPacket, connack::ConnAckPacket, connect::ConnectPacket, disconnect::DisconnectPacket,
    pingreq::PingReqPacket, pingresp::PingRespPacket, puback::PubAckPacket, pubcomp::PubCompPacket,
    publish::PublishPacket, pubrec::PubRecPacket, pubrel::PubRelPacket, suback::SubAckPacket, suback::SubAckReasonCode,
    subscribe::SubscribePacket, subscribe::TopicFilter, subscribe_options::SubscriptionOptions,
    unsuback::UnsubAckPacket, unsuback::UnsubAckReasonCode, unsubscribe::UnsubscribePacket, FixedHeader, MqttPacket,
};
use theirs::packet::subscribe_options::RetainHandling;
use theirs::{PropertyId, PropertyValue, ReasonCode};

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

// One module per step of the cross-check; the packets are grouped by family in `packets`.
mod from_theirs;
mod packets;
mod properties;
mod to_theirs;

use from_theirs::*;
use packets::*;
use properties::*;
use to_theirs::*;

/// Whether both encoders must write the same bytes: property order can differ once a list holds two
/// different identifiers, and for a non-zero reason without properties they write a property length
/// of 0 in PUBACK/PUBREC/PUBREL/PUBCOMP and AUTH where we use the shorter form.
fn same_bytes_expected(p: &Packet) -> bool {
    let single_ids = prop_lists(p).iter().all(|l| l.0.iter().all(|q| q.id() == l.0[0].id()));
    let reason_only = match p {
        Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
            r.reason != 0 && r.properties.is_empty()
        }
        Packet::Auth(a) => a.reason != 0 && a.properties.is_empty(),
        _ => false,
    };
    single_ids && !reason_only
}

fn crosscheck(packets: Vec<Packet>, v: ProtocolVersion) -> (usize, usize) {
    let mut same = 0;
    for p in &packets {
        // Our packets are valid to begin with.
        let ours_bytes = p.to_bytes(v);
        assert_eq!(&ours::decode(&ours_bytes, v).unwrap(), p, "{} {v:?}: our own round trip", p.name());

        // ours → theirs
        let got = from_theirs(their_decode(&ours_bytes, v), v);
        assert_eq!(norm(got), norm(p.clone()), "{} {v:?}: their decoding of our bytes {:02x?}", p.name(), &ours_bytes[..]);

        // theirs → ours
        let their_bytes = their_encode(&to_theirs(p, v));
        let back = ours::decode(&their_bytes, v)
            .unwrap_or_else(|e| panic!("{} {v:?}: we refuse their bytes {their_bytes:02x?}: {e}", p.name()));
        assert_eq!(norm(back), norm(p.clone()), "{} {v:?}: our decoding of their bytes {their_bytes:02x?}", p.name());

        if same_bytes_expected(p) {
            assert_eq!(their_bytes, ours_bytes.to_vec(), "{} {v:?}: encodings differ", p.name());
            same += 1;
        }
    }
    println!("{v:?}: {} packets cross-checked both ways, {same} with byte-identical encodings", packets.len());
    (packets.len(), same)
}

#[test]
fn crosscheck_v311() {
    let (n, same) = crosscheck(v311_packets(), V311);
    assert!(n >= 20, "{n} packets");
    assert_eq!(same, n, "every 3.1.1 packet encodes identically");
}

#[test]
fn crosscheck_v5() {
    let packets = v5_packets();
    // Every packet type is in the list.
    let mut kinds: Vec<u8> = packets.iter().map(|p| p.packet_type()).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, (1..=15).collect::<Vec<u8>>());
    let (n, same) = crosscheck(packets, V5);
    assert!(same >= 25, "only {same} of {n} packets had byte-identical encodings");
}

#[test]
fn both_refuse_the_same_broken_packets() {
    // A few faults that both decoders must refuse (the full table is in tests/malformed/).
    let cases: Vec<(&str, ProtocolVersion, Vec<u8>)> = vec![
        ("PUBLISH QoS 3", V5, vec![0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01]),
        ("DUP on QoS 0", V311, vec![0x38, 0x03, 0x00, 0x01, b't']),
        ("PUBREL flags 0", V5, vec![0x60, 0x02, 0x00, 0x01]),
        ("SUBSCRIBE flags 0", V311, vec![0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00]),
        ("CONNECT reserved flag", V311, vec![0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x03, 0x00, 0x3C, 0x00, 0x01, b'c']),
        ("Will QoS without Will Flag", V311, vec![0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x0A, 0x00, 0x3C, 0x00, 0x01, b'c']),
        ("DISCONNECT reason 0xFF", V5, vec![0xE0, 0x01, 0xFF]),
        ("PUBACK reason 0x92", V5, vec![0x40, 0x03, 0x00, 0x01, 0x92]),
        ("CONNACK reserved flags", V5, vec![0x20, 0x03, 0x02, 0x00, 0x00]),
        ("SUBSCRIBE Retain Handling 3", V5, vec![0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x30]),
        ("SUBSCRIBE reserved option bits", V5, vec![0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x40]),
        ("duplicate Topic Alias", V5, vec![0x30, 0x0A, 0x00, 0x01, b't', 0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x01]),
        ("unknown property 0x04", V5, vec![0x30, 0x06, 0x00, 0x01, b't', 0x02, 0x04, 0x00]),
        ("property length beyond the packet", V5, vec![0x30, 0x06, 0x00, 0x01, b't', 0x09, 0x01, 0x00]),
        ("string not UTF-8", V5, vec![0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 0x00]),
    ];
    for (name, v, bytes) in cases {
        assert!(ours::decode(&bytes, v).is_err(), "{name}: we accept it");
        let mut buf = &bytes[..];
        let theirs_ok = FixedHeader::decode(&mut buf)
            .and_then(|fh| theirs::Packet::decode_from_body_with_version(fh.packet_type, &fh, &mut buf, level(v)))
            .is_ok();
        assert!(!theirs_ok, "{name}: they accept it");
    }
}
