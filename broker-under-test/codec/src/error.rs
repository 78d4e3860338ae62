//! Why a packet could not be decoded, and which reason code the spec gives for it.

use super::reason;

/// A decoding failure. Each kind maps to the reason code a 5.0 server answers with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes break the packet grammar (0x81).
    #[error("malformed packet: {0}")]
    Malformed(String),
    /// The bytes parse but break a protocol rule (0x82).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The packet exceeds the maximum packet size (0x95).
    #[error("packet too large: {size} bytes, maximum {max}")]
    TooLarge {
        /// Size of the whole packet in bytes.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// CONNECT names a protocol or level this codec does not speak (0x84 / 3.1.1 return code 1).
    #[error("unsupported protocol {name:?} level {level}")]
    UnsupportedProtocol {
        /// Protocol name as sent.
        name: String,
        /// Protocol level as sent.
        level: u8,
    },
    /// A Topic Name is well-formed UTF-8 but not a valid topic name, e.g. it holds a wildcard (0x90).
    #[error("topic name invalid: {0}")]
    TopicName(String),
}

impl DecodeError {
    /// The 5.0 reason code a server sends (in CONNACK or DISCONNECT) for this error.
    pub fn reason_code(&self) -> u8 {
        match self {
            DecodeError::Malformed(_) => reason::MALFORMED_PACKET,
            DecodeError::Protocol(_) => reason::PROTOCOL_ERROR,
            DecodeError::TooLarge { .. } => reason::PACKET_TOO_LARGE,
            DecodeError::UnsupportedProtocol { .. } => reason::UNSUPPORTED_PROTOCOL_VERSION,
            DecodeError::TopicName(_) => reason::TOPIC_NAME_INVALID,
        }
    }
}

/// Shorthand for a malformed-packet error.
pub(crate) fn malformed<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError::Malformed(msg.into()))
}

/// Shorthand for a protocol error.
pub(crate) fn protocol<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError::Protocol(msg.into()))
}
