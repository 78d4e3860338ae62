//! MQTT 5.0 properties (section 2.2.2). Kept as an ordered list so that user-property order survives a
//! round trip and so that fault injection can encode duplicates; typed getters serve the broker.

use bytes::Bytes;

/// One property with its value. The identifier byte is [`Property::id`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Property {
    /// 0x01 Payload Format Indicator (0 = bytes, 1 = UTF-8).
    PayloadFormatIndicator(u8),
    /// 0x02 Message Expiry Interval, seconds.
    MessageExpiryInterval(u32),
    /// 0x03 Content Type.
    ContentType(String),
    /// 0x08 Response Topic.
    ResponseTopic(String),
    /// 0x09 Correlation Data.
    CorrelationData(Bytes),
    /// 0x0B Subscription Identifier (variable byte integer).
    SubscriptionIdentifier(u32),
    /// 0x11 Session Expiry Interval, seconds.
    SessionExpiryInterval(u32),
    /// 0x12 Assigned Client Identifier.
    AssignedClientIdentifier(String),
    /// 0x13 Server Keep Alive, seconds.
    ServerKeepAlive(u16),
    /// 0x15 Authentication Method.
    AuthenticationMethod(String),
    /// 0x16 Authentication Data.
    AuthenticationData(Bytes),
    /// 0x17 Request Problem Information.
    RequestProblemInformation(u8),
    /// 0x18 Will Delay Interval, seconds.
    WillDelayInterval(u32),
    /// 0x19 Request Response Information.
    RequestResponseInformation(u8),
    /// 0x1A Response Information.
    ResponseInformation(String),
    /// 0x1C Server Reference.
    ServerReference(String),
    /// 0x1F Reason String.
    ReasonString(String),
    /// 0x21 Receive Maximum.
    ReceiveMaximum(u16),
    /// 0x22 Topic Alias Maximum.
    TopicAliasMaximum(u16),
    /// 0x23 Topic Alias.
    TopicAlias(u16),
    /// 0x24 Maximum QoS.
    MaximumQos(u8),
    /// 0x25 Retain Available.
    RetainAvailable(u8),
    /// 0x26 User Property (name, value); may repeat, order matters.
    UserProperty(String, String),
    /// 0x27 Maximum Packet Size.
    MaximumPacketSize(u32),
    /// 0x28 Wildcard Subscription Available.
    WildcardSubscriptionAvailable(u8),
    /// 0x29 Subscription Identifier Available.
    SubscriptionIdentifierAvailable(u8),
    /// 0x2A Shared Subscription Available.
    SharedSubscriptionAvailable(u8),
}

/// Property identifiers.
pub mod id {
    #![allow(missing_docs)]
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

impl Property {
    /// The identifier byte written on the wire.
    pub fn id(&self) -> u8 {
        use Property::*;
        match self {
            PayloadFormatIndicator(_) => id::PAYLOAD_FORMAT_INDICATOR,
            MessageExpiryInterval(_) => id::MESSAGE_EXPIRY_INTERVAL,
            ContentType(_) => id::CONTENT_TYPE,
            ResponseTopic(_) => id::RESPONSE_TOPIC,
            CorrelationData(_) => id::CORRELATION_DATA,
            SubscriptionIdentifier(_) => id::SUBSCRIPTION_IDENTIFIER,
            SessionExpiryInterval(_) => id::SESSION_EXPIRY_INTERVAL,
            AssignedClientIdentifier(_) => id::ASSIGNED_CLIENT_IDENTIFIER,
            ServerKeepAlive(_) => id::SERVER_KEEP_ALIVE,
            AuthenticationMethod(_) => id::AUTHENTICATION_METHOD,
            AuthenticationData(_) => id::AUTHENTICATION_DATA,
            RequestProblemInformation(_) => id::REQUEST_PROBLEM_INFORMATION,
            WillDelayInterval(_) => id::WILL_DELAY_INTERVAL,
            RequestResponseInformation(_) => id::REQUEST_RESPONSE_INFORMATION,
            ResponseInformation(_) => id::RESPONSE_INFORMATION,
            ServerReference(_) => id::SERVER_REFERENCE,
            ReasonString(_) => id::REASON_STRING,
            ReceiveMaximum(_) => id::RECEIVE_MAXIMUM,
            TopicAliasMaximum(_) => id::TOPIC_ALIAS_MAXIMUM,
            TopicAlias(_) => id::TOPIC_ALIAS,
            MaximumQos(_) => id::MAXIMUM_QOS,
            RetainAvailable(_) => id::RETAIN_AVAILABLE,
            UserProperty(_, _) => id::USER_PROPERTY,
            MaximumPacketSize(_) => id::MAXIMUM_PACKET_SIZE,
            WildcardSubscriptionAvailable(_) => id::WILDCARD_SUBSCRIPTION_AVAILABLE,
            SubscriptionIdentifierAvailable(_) => id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            SharedSubscriptionAvailable(_) => id::SHARED_SUBSCRIPTION_AVAILABLE,
        }
    }
}

/// Where a property list appears; each place allows its own identifiers (table 2-4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyContext {
    /// CONNECT variable header.
    Connect,
    /// CONNECT payload: the Will properties.
    Will,
    /// CONNACK.
    ConnAck,
    /// PUBLISH.
    Publish,
    /// PUBACK, PUBREC, PUBREL, PUBCOMP.
    PubResp,
    /// SUBSCRIBE.
    Subscribe,
    /// SUBACK and UNSUBACK.
    SubUnsubAck,
    /// UNSUBSCRIBE.
    Unsubscribe,
    /// DISCONNECT.
    Disconnect,
    /// AUTH.
    Auth,
}

impl PropertyContext {
    /// Whether property `pid` may appear here.
    pub fn allows(self, pid: u8) -> bool {
        use id::*;
        use PropertyContext::*;
        match self {
            Connect => matches!(
                pid,
                SESSION_EXPIRY_INTERVAL
                    | AUTHENTICATION_METHOD
                    | AUTHENTICATION_DATA
                    | REQUEST_PROBLEM_INFORMATION
                    | REQUEST_RESPONSE_INFORMATION
                    | RECEIVE_MAXIMUM
                    | TOPIC_ALIAS_MAXIMUM
                    | USER_PROPERTY
                    | MAXIMUM_PACKET_SIZE
            ),
            Will => matches!(
                pid,
                PAYLOAD_FORMAT_INDICATOR
                    | MESSAGE_EXPIRY_INTERVAL
                    | CONTENT_TYPE
                    | RESPONSE_TOPIC
                    | CORRELATION_DATA
                    | WILL_DELAY_INTERVAL
                    | USER_PROPERTY
            ),
            ConnAck => matches!(
                pid,
                SESSION_EXPIRY_INTERVAL
                    | ASSIGNED_CLIENT_IDENTIFIER
                    | SERVER_KEEP_ALIVE
                    | AUTHENTICATION_METHOD
                    | AUTHENTICATION_DATA
                    | RESPONSE_INFORMATION
                    | SERVER_REFERENCE
                    | REASON_STRING
                    | RECEIVE_MAXIMUM
                    | TOPIC_ALIAS_MAXIMUM
                    | MAXIMUM_QOS
                    | RETAIN_AVAILABLE
                    | USER_PROPERTY
                    | MAXIMUM_PACKET_SIZE
                    | WILDCARD_SUBSCRIPTION_AVAILABLE
                    | SUBSCRIPTION_IDENTIFIER_AVAILABLE
                    | SHARED_SUBSCRIPTION_AVAILABLE
            ),
            Publish => matches!(
                pid,
                PAYLOAD_FORMAT_INDICATOR
                    | MESSAGE_EXPIRY_INTERVAL
                    | CONTENT_TYPE
                    | RESPONSE_TOPIC
                    | CORRELATION_DATA
                    | SUBSCRIPTION_IDENTIFIER
                    | TOPIC_ALIAS
                    | USER_PROPERTY
            ),
            PubResp | SubUnsubAck => matches!(pid, REASON_STRING | USER_PROPERTY),
            Subscribe => matches!(pid, SUBSCRIPTION_IDENTIFIER | USER_PROPERTY),
            Unsubscribe => pid == USER_PROPERTY,
            Disconnect => matches!(pid, SESSION_EXPIRY_INTERVAL | REASON_STRING | USER_PROPERTY | SERVER_REFERENCE),
            Auth => matches!(pid, AUTHENTICATION_METHOD | AUTHENTICATION_DATA | REASON_STRING | USER_PROPERTY),
        }
    }

    /// Whether `pid` may appear more than once here.
    pub fn repeatable(self, pid: u8) -> bool {
        pid == id::USER_PROPERTY || (self == PropertyContext::Publish && pid == id::SUBSCRIPTION_IDENTIFIER)
    }
}

/// An ordered property list, exactly as on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Properties(pub Vec<Property>);

macro_rules! getter {
    ($(#[$doc:meta])* $name:ident, $variant:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $name(&self) -> Option<$ty> {
            self.0.iter().find_map(|p| match p {
                Property::$variant(v) => Some(v.clone()),
                _ => None,
            })
        }
    };
}

impl Properties {
    /// An empty list.
    pub fn new() -> Self {
        Properties(Vec::new())
    }
    /// Whether the list has no property.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Appends a property (no check: duplicates are kept, for fault injection).
    pub fn push(&mut self, p: Property) -> &mut Self {
        self.0.push(p);
        self
    }
    /// Builder form of [`Properties::push`].
    pub fn with(mut self, p: Property) -> Self {
        self.0.push(p);
        self
    }
    /// Whether a property with identifier `pid` is present.
    pub fn has(&self, pid: u8) -> bool {
        self.0.iter().any(|p| p.id() == pid)
    }
    /// Removes every property with identifier `pid`.
    pub fn remove(&mut self, pid: u8) {
        self.0.retain(|p| p.id() != pid);
    }
    /// Replaces (or adds) the property with the same identifier, keeping its position.
    pub fn set(&mut self, p: Property) {
        if let Some(slot) = self.0.iter_mut().find(|q| q.id() == p.id()) {
            *slot = p;
        } else {
            self.0.push(p);
        }
    }
    /// User properties in order.
    pub fn user_properties(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|p| match p {
                Property::UserProperty(k, v) => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect()
    }
    /// Every Subscription Identifier in order.
    pub fn subscription_identifiers(&self) -> Vec<u32> {
        self.0
            .iter()
            .filter_map(|p| match p {
                Property::SubscriptionIdentifier(v) => Some(*v),
                _ => None,
            })
            .collect()
    }
    getter!(/// Payload Format Indicator.
        payload_format_indicator, PayloadFormatIndicator, u8);
    getter!(/// Message Expiry Interval.
        message_expiry_interval, MessageExpiryInterval, u32);
    getter!(/// Content Type.
        content_type, ContentType, String);
    getter!(/// Response Topic.
        response_topic, ResponseTopic, String);
    getter!(/// Correlation Data.
        correlation_data, CorrelationData, Bytes);
    getter!(/// Session Expiry Interval.
        session_expiry_interval, SessionExpiryInterval, u32);
    getter!(/// Assigned Client Identifier.
        assigned_client_identifier, AssignedClientIdentifier, String);
    getter!(/// Server Keep Alive.
        server_keep_alive, ServerKeepAlive, u16);
    getter!(/// Authentication Method.
        authentication_method, AuthenticationMethod, String);
    getter!(/// Authentication Data (the token of Event Grid's JWT methods).
        authentication_data, AuthenticationData, Bytes);
    getter!(/// Request Problem Information.
        request_problem_information, RequestProblemInformation, u8);
    getter!(/// Will Delay Interval.
        will_delay_interval, WillDelayInterval, u32);
    getter!(/// Request Response Information.
        request_response_information, RequestResponseInformation, u8);
    getter!(/// Reason String.
        reason_string, ReasonString, String);
    getter!(/// Receive Maximum.
        receive_maximum, ReceiveMaximum, u16);
    getter!(/// Topic Alias Maximum.
        topic_alias_maximum, TopicAliasMaximum, u16);
    getter!(/// Topic Alias.
        topic_alias, TopicAlias, u16);
    getter!(/// Maximum QoS.
        maximum_qos, MaximumQos, u8);
    getter!(/// Retain Available.
        retain_available, RetainAvailable, u8);
    getter!(/// Maximum Packet Size.
        maximum_packet_size, MaximumPacketSize, u32);
    getter!(/// Server Reference.
        server_reference, ServerReference, String);
}

impl From<Vec<Property>> for Properties {
    fn from(v: Vec<Property>) -> Self {
        Properties(v)
    }
}
