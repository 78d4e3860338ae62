//! Our packets as theirs (ours → theirs), with the small conversions of QoS, reason codes and levels.
use super::*;

// ---------------------------------------------------------------- small conversions

/// Our QoS as theirs.
pub(crate) fn their_qos(q: QoS) -> theirs::QoS {
    match q {
        QoS::AtMostOnce => theirs::QoS::AtMostOnce,
        QoS::AtLeastOnce => theirs::QoS::AtLeastOnce,
        QoS::ExactlyOnce => theirs::QoS::ExactlyOnce,
    }
}

/// Their QoS as ours.
pub(crate) fn our_qos(q: theirs::QoS) -> QoS {
    QoS::from_u8(q as u8).unwrap()
}

/// A reason code byte as theirs.
pub(crate) fn rc(code: u8) -> ReasonCode {
    ReasonCode::from_u8(code).unwrap_or_else(|| panic!("they do not know reason code {code:#04x}"))
}

/// 3.1.1 CONNACK return codes as their reason codes (their decoder maps them this way).
pub(crate) const V311_CONNACK: [ReasonCode; 6] = [
    ReasonCode::Success,
    ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid,
    ReasonCode::ServerUnavailable,
    ReasonCode::BadUsernameOrPassword,
    ReasonCode::NotAuthorized,
];

/// The protocol level byte of `v` (4 or 5), which their decoder takes.
pub(crate) fn level(v: ProtocolVersion) -> u8 {
    v.level()
}

// ---------------------------------------------------------------- ours → theirs

/// Our packet as theirs, field by field.
pub(crate) fn to_theirs(p: &Packet, v: ProtocolVersion) -> theirs::Packet {
    let pv = level(v);
    match p {
        Packet::Connect(c) => {
            let will = c.will.as_ref().map(|w| theirs::WillMessage {
                topic: w.topic.clone(),
                payload: w.payload.to_vec(),
                qos: their_qos(w.qos),
                retain: w.retain,
                properties: theirs::WillProperties::default(),
            });
            theirs::Packet::Connect(Box::new(ConnectPacket {
                protocol_version: c.protocol.level(),
                clean_start: c.clean_start,
                keep_alive: c.keep_alive,
                client_id: c.client_id.clone(),
                username: c.username.clone(),
                password: c.password.as_ref().map(|b| b.to_vec()),
                will,
                properties: their_props(&c.properties),
                will_properties: c.will.as_ref().map(|w| their_props(&w.properties)).unwrap_or_default(),
            }))
        }
        Packet::ConnAck(a) => theirs::Packet::ConnAck(ConnAckPacket {
            session_present: a.session_present,
            reason_code: if v == V311 { V311_CONNACK[a.code as usize] } else { rc(a.code) },
            properties: their_props(&a.properties),
            protocol_version: pv,
        }),
        Packet::Publish(m) => theirs::Packet::Publish(PublishPacket {
            topic_name: m.topic.clone(),
            packet_id: m.packet_id,
            payload: m.payload.clone(),
            qos: their_qos(m.qos),
            retain: m.retain,
            dup: m.dup,
            properties: their_props(&m.properties),
            protocol_version: pv,
            stream_id: None,
        }),
        Packet::PubAck(r) => theirs::Packet::PubAck(PubAckPacket {
            packet_id: r.packet_id,
            reason_code: rc(r.reason),
            properties: their_props(&r.properties),
        }),
        Packet::PubRec(r) => theirs::Packet::PubRec(PubRecPacket {
            packet_id: r.packet_id,
            reason_code: rc(r.reason),
            properties: their_props(&r.properties),
        }),
        Packet::PubRel(r) => theirs::Packet::PubRel(PubRelPacket {
            packet_id: r.packet_id,
            reason_code: rc(r.reason),
            properties: their_props(&r.properties),
        }),
        Packet::PubComp(r) => theirs::Packet::PubComp(PubCompPacket {
            packet_id: r.packet_id,
            reason_code: rc(r.reason),
            properties: their_props(&r.properties),
        }),
        Packet::Subscribe(s) => theirs::Packet::Subscribe(SubscribePacket {
            packet_id: s.packet_id,
            filters: s
                .filters
                .iter()
                .map(|(f, o)| TopicFilter {
                    filter: f.clone(),
                    options: SubscriptionOptions {
                        qos: their_qos(o.qos),
                        no_local: o.no_local,
                        retain_as_published: o.retain_as_published,
                        retain_handling: match o.retain_handling {
                            0 => RetainHandling::SendAtSubscribe,
                            1 => RetainHandling::SendAtSubscribeIfNew,
                            _ => RetainHandling::DoNotSend,
                        },
                    },
                })
                .collect(),
            properties: their_props(&s.properties),
            protocol_version: pv,
        }),
        Packet::SubAck(s) => theirs::Packet::SubAck(SubAckPacket {
            packet_id: s.packet_id,
            reason_codes: s.codes.iter().map(|c| SubAckReasonCode::from_u8(*c).unwrap()).collect(),
            properties: their_props(&s.properties),
            protocol_version: pv,
        }),
        Packet::Unsubscribe(u) => theirs::Packet::Unsubscribe(UnsubscribePacket {
            packet_id: u.packet_id,
            filters: u.filters.clone(),
            properties: their_props(&u.properties),
            protocol_version: pv,
        }),
        Packet::UnsubAck(u) => theirs::Packet::UnsubAck(UnsubAckPacket {
            packet_id: u.packet_id,
            reason_codes: u.codes.iter().map(|c| UnsubAckReasonCode::from_u8(*c).unwrap()).collect(),
            properties: their_props(&u.properties),
            protocol_version: pv,
        }),
        Packet::PingReq => theirs::Packet::PingReq,
        Packet::PingResp => theirs::Packet::PingResp,
        Packet::Disconnect(d) => theirs::Packet::Disconnect(DisconnectPacket {
            reason_code: rc(d.reason),
            properties: their_props(&d.properties),
        }),
        Packet::Auth(a) => {
            theirs::Packet::Auth(AuthPacket { reason_code: rc(a.reason), properties: their_props(&a.properties) })
        }
    }
}

/// Encodes their packet with their encoder.
pub(crate) fn their_encode(p: &theirs::Packet) -> Vec<u8> {
    let mut out = Vec::new();
    let r = match p {
        theirs::Packet::Connect(x) => x.encode(&mut out),
        theirs::Packet::ConnAck(x) => x.encode(&mut out),
        theirs::Packet::Publish(x) => x.encode(&mut out),
        theirs::Packet::PubAck(x) => x.encode(&mut out),
        theirs::Packet::PubRec(x) => x.encode(&mut out),
        theirs::Packet::PubRel(x) => x.encode(&mut out),
        theirs::Packet::PubComp(x) => x.encode(&mut out),
        theirs::Packet::Subscribe(x) => x.encode(&mut out),
        theirs::Packet::SubAck(x) => x.encode(&mut out),
        theirs::Packet::Unsubscribe(x) => x.encode(&mut out),
        theirs::Packet::UnsubAck(x) => x.encode(&mut out),
        theirs::Packet::PingReq => PingReqPacket::default().encode(&mut out),
        theirs::Packet::PingResp => PingRespPacket::default().encode(&mut out),
        theirs::Packet::Disconnect(x) => x.encode(&mut out),
        theirs::Packet::Auth(x) => x.encode(&mut out),
    };
    r.unwrap_or_else(|e| panic!("their encoder failed on {p:?}: {e:?}"));
    out
}
