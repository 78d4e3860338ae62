//! The packets of MQTT 3.1.1 and 5.0 as plain data. Fields that carry reason codes are raw `u8` so any
//! value can be encoded; the decoder is what enforces the tables.

use super::property::Properties;
use bytes::Bytes;

/// The protocol a connection speaks, fixed by its CONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte.
    pub fn level(self) -> u8 {
        match self {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }
    /// Whether this is MQTT 5.0.
    pub fn is_v5(self) -> bool {
        self == ProtocolVersion::V5
    }
}

/// Quality of service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum QoS {
    /// At most once.
    #[default]
    AtMostOnce = 0,
    /// At least once.
    AtLeastOnce = 1,
    /// Exactly once.
    ExactlyOnce = 2,
}

impl QoS {
    /// From the two wire bits; 3 is not a QoS.
    pub fn from_u8(v: u8) -> Option<QoS> {
        match v {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// A Will carried in CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Will {
    /// Will Topic (a Topic Name).
    pub topic: String,
    /// Will Payload (binary).
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will properties (5.0 only).
    pub properties: Properties,
}

/// CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    /// Protocol version (also selects the protocol name "MQTT").
    pub protocol: ProtocolVersion,
    /// Clean Session (3.1.1) / Clean Start (5.0).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// CONNECT properties (5.0).
    pub properties: Properties,
    /// Client Identifier (may be empty).
    pub client_id: String,
    /// The Will, if the Will Flag is set.
    pub will: Option<Will>,
    /// User Name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Bytes>,
}

impl Connect {
    /// A minimal CONNECT: clean start, keep-alive 60 s, no Will.
    pub fn new(protocol: ProtocolVersion, client_id: impl Into<String>) -> Self {
        Connect {
            protocol,
            clean_start: true,
            keep_alive: 60,
            properties: Properties::new(),
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
        }
    }
}

/// CONNACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// 5.0 reason code or 3.1.1 return code.
    pub code: u8,
    /// Properties (5.0).
    pub properties: Properties,
}

/// PUBLISH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    /// DUP flag.
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// RETAIN flag.
    pub retain: bool,
    /// Topic Name (may be empty in 5.0 when a Topic Alias is used).
    pub topic: String,
    /// Packet Identifier (present for QoS 1 and 2).
    pub packet_id: Option<u16>,
    /// Properties (5.0).
    pub properties: Properties,
    /// Payload.
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 PUBLISH without properties.
    pub fn new(topic: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic.into(),
            packet_id: None,
            properties: Properties::new(),
            payload: payload.into(),
        }
    }
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP (which one is the [`Packet`] variant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PubResp {
    /// Packet Identifier.
    pub packet_id: u16,
    /// Reason code (5.0; always 0 in 3.1.1).
    pub reason: u8,
    /// Properties (5.0).
    pub properties: Properties,
}

impl PubResp {
    /// A success response.
    pub fn new(packet_id: u16) -> Self {
        PubResp { packet_id, reason: 0, properties: Properties::new() }
    }
}

/// Subscription options (5.0 section 3.8.3.1; only `qos` in 3.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SubOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// No Local.
    pub no_local: bool,
    /// Retain As Published.
    pub retain_as_published: bool,
    /// Retain Handling (0, 1, 2).
    pub retain_handling: u8,
}

impl SubOptions {
    /// Options with just a QoS.
    pub fn qos(qos: QoS) -> Self {
        SubOptions { qos, ..Default::default() }
    }
}

/// SUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet Identifier.
    pub packet_id: u16,
    /// Properties (5.0).
    pub properties: Properties,
    /// (topic filter, options) pairs.
    pub filters: Vec<(String, SubOptions)>,
}

/// SUBACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck {
    /// Packet Identifier.
    pub packet_id: u16,
    /// Properties (5.0).
    pub properties: Properties,
    /// One code per filter.
    pub codes: Vec<u8>,
}

/// UNSUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet Identifier.
    pub packet_id: u16,
    /// Properties (5.0).
    pub properties: Properties,
    /// Topic filters.
    pub filters: Vec<String>,
}

/// UNSUBACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet Identifier.
    pub packet_id: u16,
    /// Properties (5.0).
    pub properties: Properties,
    /// One code per filter (5.0; empty in 3.1.1).
    pub codes: Vec<u8>,
}

/// DISCONNECT (in 3.1.1 it has no fields: reason 0 and no properties).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// Reason code.
    pub reason: u8,
    /// Properties.
    pub properties: Properties,
}

impl Disconnect {
    /// A DISCONNECT with the given reason and no properties.
    pub fn new(reason: u8) -> Self {
        Disconnect { reason, properties: Properties::new() }
    }
}

/// AUTH (5.0 only).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Auth {
    /// Reason code.
    pub reason: u8,
    /// Properties.
    pub properties: Properties,
}

/// Any MQTT control packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// 1 CONNECT.
    Connect(Connect),
    /// 2 CONNACK.
    ConnAck(ConnAck),
    /// 3 PUBLISH.
    Publish(Publish),
    /// 4 PUBACK.
    PubAck(PubResp),
    /// 5 PUBREC.
    PubRec(PubResp),
    /// 6 PUBREL.
    PubRel(PubResp),
    /// 7 PUBCOMP.
    PubComp(PubResp),
    /// 8 SUBSCRIBE.
    Subscribe(Subscribe),
    /// 9 SUBACK.
    SubAck(SubAck),
    /// 10 UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// 11 UNSUBACK.
    UnsubAck(UnsubAck),
    /// 12 PINGREQ.
    PingReq,
    /// 13 PINGRESP.
    PingResp,
    /// 14 DISCONNECT.
    Disconnect(Disconnect),
    /// 15 AUTH (5.0).
    Auth(Auth),
}

impl Packet {
    /// The packet type number (upper nibble of the first byte).
    pub fn packet_type(&self) -> u8 {
        match self {
            Packet::Connect(_) => 1,
            Packet::ConnAck(_) => 2,
            Packet::Publish(_) => 3,
            Packet::PubAck(_) => 4,
            Packet::PubRec(_) => 5,
            Packet::PubRel(_) => 6,
            Packet::PubComp(_) => 7,
            Packet::Subscribe(_) => 8,
            Packet::SubAck(_) => 9,
            Packet::Unsubscribe(_) => 10,
            Packet::UnsubAck(_) => 11,
            Packet::PingReq => 12,
            Packet::PingResp => 13,
            Packet::Disconnect(_) => 14,
            Packet::Auth(_) => 15,
        }
    }
    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        packet_name(self.packet_type())
    }
}

/// The name of packet type `t`.
pub fn packet_name(t: u8) -> &'static str {
    match t {
        1 => "CONNECT",
        2 => "CONNACK",
        3 => "PUBLISH",
        4 => "PUBACK",
        5 => "PUBREC",
        6 => "PUBREL",
        7 => "PUBCOMP",
        8 => "SUBSCRIBE",
        9 => "SUBACK",
        10 => "UNSUBSCRIBE",
        11 => "UNSUBACK",
        12 => "PINGREQ",
        13 => "PINGRESP",
        14 => "DISCONNECT",
        15 => "AUTH",
        _ => "RESERVED",
    }
}
