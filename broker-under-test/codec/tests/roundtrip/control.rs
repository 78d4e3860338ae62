//! PINGREQ, PINGRESP, DISCONNECT and AUTH.
use super::*;

// ---------------------------------------------------------------- PINGREQ, PINGRESP

#[test]
fn ping() {
    for v in [V311, V5] {
        exact(&Packet::PingReq, v, &[0xC0, 0x00]);
        exact(&Packet::PingResp, v, &[0xD0, 0x00]);
        roundtrip(&Packet::PingReq, v);
        roundtrip(&Packet::PingResp, v);
    }
}

// ---------------------------------------------------------------- DISCONNECT

#[test]
fn disconnect() {
    exact(&Packet::Disconnect(Disconnect::default()), V311, &[0xE0, 0x00]);
    exact(&Packet::Disconnect(Disconnect::new(reason::SUCCESS)), V5, &[0xE0, 0x00]);
    exact(&Packet::Disconnect(Disconnect::new(reason::DISCONNECT_WITH_WILL)), V5, &[0xE0, 0x01, 0x04]);
    roundtrip(&Packet::Disconnect(Disconnect::default()), V311);
    // Valid longer forms of the same packets.
    assert_eq!(decode(&[0xE0, 0x02, 0x04, 0x00], V5).unwrap(), Packet::Disconnect(Disconnect::new(4)));
    assert_eq!(decode(&[0xE0, 0x01, 0x00], V5).unwrap(), Packet::Disconnect(Disconnect::new(0)));

    let codes = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ];
    for code in codes {
        let bytes = roundtrip(&Packet::Disconnect(Disconnect::new(code)), V5);
        assert_eq!(bytes.len(), if code == 0 { 2 } else { 3 }, "reason {code:#04x}");
    }
    use Property::*;
    let mut list = vec![
        SessionExpiryInterval(0),
        ReasonString("bye".into()),
        ServerReference("elsewhere".into()),
    ];
    list.extend(users());
    for code in [0x00, 0x04, 0x8B] {
        roundtrip(&Packet::Disconnect(Disconnect { reason: code, properties: props(list.clone()) }), V5);
    }
    exact(
        &Packet::Disconnect(Disconnect { reason: 0x04, properties: props(vec![SessionExpiryInterval(10)]) }),
        V5,
        &[0xE0, 0x07, 0x04, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A],
    );
}

// ---------------------------------------------------------------- AUTH

#[test]
fn auth() {
    exact(&Packet::Auth(Auth::default()), V5, &[0xF0, 0x00]);
    use Property::*;
    for code in [0x00, 0x18, 0x19] {
        let mut list = vec![
            AuthenticationMethod("SCRAM-SHA-256".into()),
            AuthenticationData(Bytes::from_static(b"client-first")),
            ReasonString("step".into()),
        ];
        list.extend(users());
        roundtrip(&Packet::Auth(Auth { reason: code, properties: props(list) }), V5);
        roundtrip(&Packet::Auth(Auth { reason: code, properties: props(vec![AuthenticationMethod("m".into())]) }), V5);
    }
    exact(
        &Packet::Auth(Auth { reason: 0x18, properties: props(vec![AuthenticationMethod("m".into())]) }),
        V5,
        &[0xF0, 0x06, 0x18, 0x04, 0x15, 0x00, 0x01, b'm'],
    );
}
