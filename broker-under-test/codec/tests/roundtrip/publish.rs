//! PUBLISH (flags, payloads, 5.0 properties, Topic Alias, known bytes), Remaining Lengths of 1 to 4
//! bytes, and the PUBLISH responses PUBACK, PUBREC, PUBREL and PUBCOMP.
use super::*;

// ---------------------------------------------------------------- PUBLISH

#[test]
fn publish_flags_and_payloads() {
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for dup in [false, true] {
            if dup && qos == QoS::AtMostOnce {
                continue; // DUP on QoS 0 is malformed (tested in codec_malformed)
            }
            for retain in [false, true] {
                for payload in [vec![], b"hello".to_vec(), vec![0u8; 300]] {
                    let p = publish("sport/tennis/player1", payload, qos, dup, retain);
                    let bytes = roundtrip(&Packet::Publish(p.clone()), V311);
                    let flags = bytes[0] & 0x0F;
                    assert_eq!(flags, (dup as u8) << 3 | (qos as u8) << 1 | retain as u8, "flags {:?}", p);
                    roundtrip(&Packet::Publish(p), V5);
                }
            }
        }
    }
    // Topic names that are valid but unusual: '$', spaces, multi-byte UTF-8, a lone '/'.
    for topic in ["$SYS/x", "a b", "/", "a//b", "ünï/c😀de", "x"] {
        both(&Packet::Publish(Publish::new(topic, &b"p"[..])));
    }
}

#[test]
fn publish_v5_properties_and_topic_alias() {
    use Property::*;
    let mut p = publish("a/b", b"{}".to_vec(), QoS::AtLeastOnce, false, true);
    let mut list = vec![
        PayloadFormatIndicator(1),
        MessageExpiryInterval(60),
        TopicAlias(3),
        ResponseTopic("reply/to".into()),
        CorrelationData(Bytes::from_static(b"corr")),
        ContentType("application/json".into()),
        SubscriptionIdentifier(1),
        SubscriptionIdentifier(127),
        SubscriptionIdentifier(128),
        SubscriptionIdentifier(16_384),
    ];
    list.extend(users());
    p.properties = props(list);
    let bytes = roundtrip(&Packet::Publish(p.clone()), V5);
    let Packet::Publish(back) = decode(&bytes, V5).unwrap() else { panic!() };
    assert_eq!(back.properties.subscription_identifiers(), vec![1, 127, 128, 16_384]);

    // Empty topic name with a Topic Alias (5.0 only).
    let mut p = Publish::new("", Bytes::new());
    p.properties = props(vec![TopicAlias(1)]);
    roundtrip(&Packet::Publish(p), V5);

    // 3.1.1 leaves out the properties entirely.
    let mut with = publish("a/b", b"x".to_vec(), QoS::AtLeastOnce, false, false);
    let without = with.clone();
    with.properties = props(vec![MessageExpiryInterval(5), user("k", "v")]);
    assert_eq!(Packet::Publish(with).to_bytes(V311), Packet::Publish(without).to_bytes(V311));
}

#[test]
fn publish_known_bytes() {
    let p = publish("a/b", b"hi".to_vec(), QoS::AtLeastOnce, false, true);
    let mut p = p;
    p.packet_id = Some(10);
    exact(&Packet::Publish(p.clone()), V311, &[0x33, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, b'h', b'i']);
    exact(&Packet::Publish(p), V5, &[0x33, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, 0x00, b'h', b'i']);
    let p = publish("t", vec![], QoS::ExactlyOnce, true, false);
    exact(&Packet::Publish(p), V311, &[0x3C, 0x05, 0x00, 0x01, b't', 0xBE, 0xEF]);
    let mut p = Publish::new("", Bytes::new());
    p.properties = props(vec![Property::TopicAlias(0x0102)]);
    exact(&Packet::Publish(p), V5, &[0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x01, 0x02]);
}

/// Number of Remaining Length bytes in an encoding.
fn rl_len(bytes: &[u8]) -> usize {
    bytes[1..].iter().position(|b| b & 0x80 == 0).unwrap() + 1
}

#[test]
fn remaining_length_of_one_to_four_bytes() {
    // QoS 0, topic "t": the body is 3 bytes + payload in 3.1.1, 4 bytes + payload in 5.0.
    let cases: [(usize, usize); 7] = [
        (4, 1),
        (127, 1),
        (128, 2),
        (16_383, 2),
        (16_384, 3),
        (2_097_151, 3),
        (2_097_152, 4),
    ];
    for (remaining, want) in cases {
        for (v, overhead) in [(V311, 3), (V5, 4)] {
            let p = Packet::Publish(Publish::new("t", vec![0xA5; remaining - overhead]));
            let bytes = roundtrip(&p, v);
            assert_eq!(rl_len(&bytes), want, "remaining length {remaining} {v:?}");
            assert_eq!(bytes.len(), 1 + want + remaining, "remaining length {remaining} {v:?}");
        }
    }
    // The sizes named in the brief: 200 B, 20 kB and 2.1 MB payloads need 2, 3 and 4 length bytes.
    for (payload, want) in [(0, 1), (200, 2), (20_000, 3), (2_100_000, 4)] {
        for v in [V311, V5] {
            let mut p = publish("big/payload", (0..payload).map(|i| i as u8).collect(), QoS::AtLeastOnce, false, false);
            if v == V5 {
                p.properties = props(vec![user("size", &payload.to_string())]);
            }
            let bytes = roundtrip(&Packet::Publish(p), v);
            assert_eq!(rl_len(&bytes), want, "payload {payload} {v:?}");
        }
    }
}

#[test]
fn variable_byte_integer_known_bytes() {
    let cases: [(u32, &[u8]); 9] = [
        (0, &[0x00]),
        (1, &[0x01]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
    ];
    for (value, expected) in cases {
        let mut out = BytesMut::new();
        varint(value, &mut out);
        assert_eq!(hex(&out), hex(expected), "varint {value}");
        // The same bytes as a Subscription Identifier value survive a round trip.
        if value > 0 {
            let mut p = Publish::new("t", Bytes::new());
            p.properties = props(vec![Property::SubscriptionIdentifier(value)]);
            let bytes = roundtrip(&Packet::Publish(p), V5);
            assert!(bytes.windows(expected.len() + 1).any(|w| w[0] == 0x0B && &w[1..] == expected));
        }
    }
    // Remaining Length through read_frame: a header with the largest 3-byte length is accepted as a
    // header (and waits for the body); with a smaller maximum it is rejected from the header alone.
    let mut buf = BytesMut::from(&[0x30, 0xFF, 0xFF, 0x7F][..]);
    assert_eq!(read_frame(&mut buf, usize::MAX), Ok(None));
    assert_eq!(
        read_frame(&mut BytesMut::from(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F][..]), 1 << 20),
        Err(DecodeError::TooLarge { size: 5 + 268_435_455, max: 1 << 20 })
    );
}

// ---------------------------------------------------------------- PUBACK, PUBREC, PUBREL, PUBCOMP

fn resp_variants(r: PubResp) -> [Packet; 4] {
    [Packet::PubAck(r.clone()), Packet::PubRec(r.clone()), Packet::PubRel(r.clone()), Packet::PubComp(r)]
}

#[test]
fn pub_responses() {
    for packet in resp_variants(PubResp::new(1)).into_iter().chain(resp_variants(PubResp::new(u16::MAX))) {
        // Short form: reason omitted when 0 without properties: 2-byte body in both versions.
        let b311 = roundtrip(&packet, V311);
        let b5 = roundtrip(&packet, V5);
        assert_eq!(b311, b5);
        assert_eq!(b5[1], 2, "{}: short form", packet.name());
        let flags = if matches!(packet, Packet::PubRel(_)) { 0x02 } else { 0x00 };
        assert_eq!(b5[0], packet.packet_type() << 4 | flags);
    }
    let ack_codes = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
    let rel_codes = [0x00, 0x92];
    for (codes, is_ack) in [(&ack_codes[..], true), (&rel_codes[..], false)] {
        for &code in codes {
            for properties in [Properties::new(), props(vec![Property::ReasonString("r".into()), user("a", "b"), user("a", "c")])] {
                let r = PubResp { packet_id: 77, reason: code, properties: properties.clone() };
                let [ack, rec, rel, comp] = resp_variants(r);
                let list = if is_ack { vec![ack, rec] } else { vec![rel, comp] };
                for p in list {
                    let bytes = roundtrip(&p, V5);
                    let want_len = match (code, properties.is_empty()) {
                        (0, true) => 2,
                        (_, true) => 3, // reason alone, no property length
                        _ => 2 + 1 + 1 + 4 + 2 * 7, // id, reason, property length, properties
                    };
                    assert_eq!(bytes[1] as usize, want_len, "{} reason {code:#04x}", p.name());
                }
            }
        }
    }
    // 3.1.1 drops reason and properties.
    let r = PubResp { packet_id: 5, reason: 0x80, properties: props(vec![user("k", "v")]) };
    for p in resp_variants(r) {
        assert_eq!(p.to_bytes(V311)[1], 2);
    }
}

#[test]
fn pub_responses_known_bytes_and_short_forms() {
    exact(&Packet::PubAck(PubResp::new(1)), V5, &[0x40, 0x02, 0x00, 0x01]);
    exact(&Packet::PubRec(PubResp::new(2)), V311, &[0x50, 0x02, 0x00, 0x02]);
    exact(&Packet::PubRel(PubResp::new(3)), V311, &[0x62, 0x02, 0x00, 0x03]);
    exact(&Packet::PubComp(PubResp::new(4)), V5, &[0x70, 0x02, 0x00, 0x04]);
    let r = PubResp { packet_id: 1, reason: reason::NO_MATCHING_SUBSCRIBERS, properties: Properties::new() };
    exact(&Packet::PubAck(r.clone()), V5, &[0x40, 0x03, 0x00, 0x01, 0x10]);
    // The longer, equally valid forms decode to the same packets.
    assert_eq!(decode(&[0x40, 0x04, 0x00, 0x01, 0x10, 0x00], V5).unwrap(), Packet::PubAck(r));
    assert_eq!(decode(&[0x40, 0x04, 0x00, 0x01, 0x00, 0x00], V5).unwrap(), Packet::PubAck(PubResp::new(1)));
    assert_eq!(decode(&[0x62, 0x03, 0x00, 0x01, 0x00], V5).unwrap(), Packet::PubRel(PubResp::new(1)));
}
