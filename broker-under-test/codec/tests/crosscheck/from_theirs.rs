//! Their packets as ours (theirs → ours), decoded with their decoder.
use super::*;

// ---------------------------------------------------------------- theirs → ours

/// Decodes `bytes` with their decoder (fixed header, then body at the protocol level of `v`).
pub(crate) fn their_decode(bytes: &[u8], v: ProtocolVersion) -> theirs::Packet {
    let mut buf = bytes;
    let fh = FixedHeader::decode(&mut buf).unwrap_or_else(|e| panic!("their fixed header decode: {e:?}"));
    assert_eq!(fh.remaining_length as usize, buf.remaining(), "their Remaining Length");
    let p = theirs::Packet::decode_from_body_with_version(fh.packet_type, &fh, &mut buf, level(v))
        .unwrap_or_else(|e| panic!("their decoder refuses {:02x?}: {e:?}", bytes));
    assert_eq!(buf.remaining(), 0, "their decoder left bytes of {:02x?}", bytes);
    p
}

/// Their packet as ours, field by field.
pub(crate) fn from_theirs(p: theirs::Packet, v: ProtocolVersion) -> Packet {
    use ours::*;
    let resp = |packet_id: u16, reason: ReasonCode, props: &theirs::Properties| PubResp {
        packet_id,
        reason: u8::from(reason),
        properties: our_props(props),
    };
    match p {
        theirs::Packet::Connect(c) => {
            let protocol = match c.protocol_version {
                4 => V311,
                5 => V5,
                other => panic!("protocol level {other}"),
            };
            let will_properties = our_props(&c.will_properties);
            Packet::Connect(Connect {
                protocol,
                clean_start: c.clean_start,
                keep_alive: c.keep_alive,
                properties: our_props(&c.properties),
                client_id: c.client_id.clone(),
                will: c.will.as_ref().map(|w| Will {
                    topic: w.topic.clone(),
                    payload: Bytes::from(w.payload.clone()),
                    qos: our_qos(w.qos),
                    retain: w.retain,
                    properties: will_properties.clone(),
                }),
                username: c.username.clone(),
                password: c.password.clone().map(Bytes::from),
            })
        }
        theirs::Packet::ConnAck(a) => {
            let code = if v == V311 {
                assert_eq!(a.protocol_version, 4, "they read a 3.1.1 CONNACK as 5.0");
                V311_CONNACK.iter().position(|c| *c == a.reason_code).unwrap() as u8
            } else {
                assert_eq!(a.protocol_version, 5, "they read a 5.0 CONNACK as 3.1.1");
                u8::from(a.reason_code)
            };
            Packet::ConnAck(ConnAck { session_present: a.session_present, code, properties: our_props(&a.properties) })
        }
        theirs::Packet::Publish(m) => Packet::Publish(Publish {
            dup: m.dup,
            qos: our_qos(m.qos),
            retain: m.retain,
            topic: m.topic_name.clone(),
            packet_id: m.packet_id,
            properties: our_props(&m.properties),
            payload: m.payload.clone(),
        }),
        theirs::Packet::PubAck(r) => Packet::PubAck(resp(r.packet_id, r.reason_code, &r.properties)),
        theirs::Packet::PubRec(r) => Packet::PubRec(resp(r.packet_id, r.reason_code, &r.properties)),
        theirs::Packet::PubRel(r) => Packet::PubRel(resp(r.packet_id, r.reason_code, &r.properties)),
        theirs::Packet::PubComp(r) => Packet::PubComp(resp(r.packet_id, r.reason_code, &r.properties)),
        theirs::Packet::Subscribe(s) => Packet::Subscribe(Subscribe {
            packet_id: s.packet_id,
            properties: our_props(&s.properties),
            filters: s
                .filters
                .iter()
                .map(|f| {
                    let o = SubOptions {
                        qos: our_qos(f.options.qos),
                        no_local: f.options.no_local,
                        retain_as_published: f.options.retain_as_published,
                        retain_handling: f.options.retain_handling as u8,
                    };
                    (f.filter.clone(), o)
                })
                .collect(),
        }),
        theirs::Packet::SubAck(s) => Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            properties: our_props(&s.properties),
            codes: s.reason_codes.iter().map(|c| *c as u8).collect(),
        }),
        theirs::Packet::Unsubscribe(u) => Packet::Unsubscribe(Unsubscribe {
            packet_id: u.packet_id,
            properties: our_props(&u.properties),
            filters: u.filters.clone(),
        }),
        theirs::Packet::UnsubAck(u) => Packet::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            properties: our_props(&u.properties),
            codes: u.reason_codes.iter().map(|c| *c as u8).collect(),
        }),
        theirs::Packet::PingReq => Packet::PingReq,
        theirs::Packet::PingResp => Packet::PingResp,
        theirs::Packet::Disconnect(d) => {
            Packet::Disconnect(Disconnect { reason: u8::from(d.reason_code), properties: our_props(&d.properties) })
        }
        theirs::Packet::Auth(a) => Packet::Auth(Auth { reason: u8::from(a.reason_code), properties: our_props(&a.properties) }),
    }
}
