//! SUBSCRIBE with every subscription option, SUBACK, UNSUBSCRIBE and UNSUBACK.
use super::*;

// ---------------------------------------------------------------- SUBSCRIBE, SUBACK

#[test]
fn subscribe_and_every_subscription_option() {
    let qoses = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    let mut all = Vec::new();
    for qos in qoses {
        for no_local in [false, true] {
            for retain_as_published in [false, true] {
                for retain_handling in 0..=2u8 {
                    let o = SubOptions { qos, no_local, retain_as_published, retain_handling };
                    let s = Subscribe { packet_id: 10, properties: Properties::new(), filters: vec![("a/+".into(), o)] };
                    let bytes = roundtrip(&Packet::Subscribe(s), V5);
                    let byte = *bytes.last().unwrap();
                    let want = qos as u8 | (no_local as u8) << 2 | (retain_as_published as u8) << 3 | retain_handling << 4;
                    assert_eq!(byte, want, "{o:?}");
                    // 3.1.1 carries the QoS only.
                    let s311 = Subscribe { packet_id: 10, properties: Properties::new(), filters: vec![("a/+".into(), o)] };
                    let b311 = Packet::Subscribe(s311).to_bytes(V311);
                    assert_eq!(*b311.last().unwrap(), qos as u8);
                    let Packet::Subscribe(back) = decode(&b311, V311).unwrap() else { panic!() };
                    assert_eq!(back.filters[0].1, SubOptions::qos(qos));
                    all.push((format!("f/{}", all.len()), o));
                }
            }
        }
    }
    assert_eq!(all.len(), 36);
    let mut list = vec![Property::SubscriptionIdentifier(268_435_455)];
    list.extend(users());
    roundtrip(&Packet::Subscribe(Subscribe { packet_id: 1, properties: props(list), filters: all }), V5);

    let filters: Vec<(String, SubOptions)> = ["#", "+", "a/#", "$SYS/#", "$share/g/a/+", "ü/+/x", "/"]
        .iter()
        .zip(qoses.iter().cycle())
        .map(|(f, q)| (f.to_string(), SubOptions::qos(*q)))
        .collect();
    both(&Packet::Subscribe(Subscribe { packet_id: u16::MAX, properties: Properties::new(), filters }));
}

#[test]
fn subscribe_known_bytes() {
    let s = Subscribe { packet_id: 10, properties: Properties::new(), filters: vec![("a/b".into(), SubOptions::qos(QoS::AtLeastOnce))] };
    exact(&Packet::Subscribe(s), V311, &[0x82, 0x08, 0x00, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x01]);
    let o = SubOptions { qos: QoS::ExactlyOnce, no_local: true, retain_as_published: true, retain_handling: 2 };
    let s = Subscribe { packet_id: 10, properties: Properties::new(), filters: vec![("a/b".into(), o)] };
    exact(&Packet::Subscribe(s), V5, &[0x82, 0x09, 0x00, 0x0A, 0x00, 0x00, 0x03, b'a', b'/', b'b', 0x2E]);
}

#[test]
fn suback() {
    both(&Packet::SubAck(SubAck { packet_id: 1, properties: Properties::new(), codes: vec![0, 1, 2, 0x80] }));
    let v5_codes = vec![0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2];
    let mut list = vec![Property::ReasonString("partly".into())];
    list.extend(users());
    roundtrip(&Packet::SubAck(SubAck { packet_id: 2, properties: props(list), codes: v5_codes }), V5);
    exact(&Packet::SubAck(SubAck { packet_id: 10, properties: Properties::new(), codes: vec![1] }), V311, &[
        0x90, 0x03, 0x00, 0x0A, 0x01,
    ]);
    exact(&Packet::SubAck(SubAck { packet_id: 10, properties: Properties::new(), codes: vec![0xA2] }), V5, &[
        0x90, 0x04, 0x00, 0x0A, 0x00, 0xA2,
    ]);
}

// ---------------------------------------------------------------- UNSUBSCRIBE, UNSUBACK

#[test]
fn unsubscribe_and_unsuback() {
    both(&Packet::Unsubscribe(Unsubscribe {
        packet_id: 11,
        properties: Properties::new(),
        filters: vec!["a/b".into(), "#".into(), "$share/g/x".into()],
    }));
    roundtrip(&Packet::Unsubscribe(Unsubscribe { packet_id: 12, properties: props(users()), filters: vec!["x".into()] }), V5);
    exact(
        &Packet::Unsubscribe(Unsubscribe { packet_id: 11, properties: Properties::new(), filters: vec!["a/b".into()] }),
        V311,
        &[0xA2, 0x07, 0x00, 0x0B, 0x00, 0x03, b'a', b'/', b'b'],
    );

    // 3.1.1 UNSUBACK is the packet identifier alone.
    let u = UnsubAck { packet_id: 11, properties: Properties::new(), codes: Vec::new() };
    exact(&Packet::UnsubAck(u.clone()), V311, &[0xB0, 0x02, 0x00, 0x0B]);
    roundtrip(&Packet::UnsubAck(u), V311);
    let u = UnsubAck { packet_id: 11, properties: Properties::new(), codes: vec![0x11] };
    exact(&Packet::UnsubAck(u), V5, &[0xB0, 0x04, 0x00, 0x0B, 0x00, 0x11]);
    let mut list = vec![Property::ReasonString("r".into())];
    list.extend(users());
    let u = UnsubAck { packet_id: 1, properties: props(list), codes: vec![0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91] };
    roundtrip(&Packet::UnsubAck(u), V5);
    // An empty code list is expressible in 5.0 (and decodes back the same).
    roundtrip(&Packet::UnsubAck(UnsubAck { packet_id: 1, properties: Properties::new(), codes: vec![] }), V5);
}
