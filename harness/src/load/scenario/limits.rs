//! Background traffic and the time limits of a load scenario.

use serde::{Deserialize, Serialize};

/// Background traffic during the run.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackgroundSpec {
    /// Publishing clients.
    pub publishers: u32,
    /// Messages per second per publisher.
    pub rate: u32,
    /// Payload bytes.
    #[serde(default = "default_payload_size")]
    pub payload_size: usize,
    /// QoS of the messages (0 or 1).
    #[serde(default)]
    pub qos: u8,
    /// Topic pattern (`{i}` publisher index).
    #[serde(default = "default_bg_topic")]
    pub topic: String,
}

fn default_payload_size() -> usize {
    64
}
fn default_bg_topic() -> String {
    "load/background/{i}".into()
}

/// Time limits.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Longest time the fleet may take to connect, s.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_s: u64,
    /// Longest wait for the expected wills after the last planned fault (beyond any keep-alive
    /// deadline or will delay), s.
    #[serde(default = "default_will_timeout")]
    pub will_timeout_s: u64,
    /// After the last expected will (or the last reconnect, whichever is later), how long to keep
    /// listening for duplicates and unexpected wills, ms.
    #[serde(default = "default_settle")]
    pub settle_ms: u64,
}

fn default_connect_timeout() -> u64 {
    60
}
fn default_will_timeout() -> u64 {
    30
}
fn default_settle() -> u64 {
    500
}

impl Default for Limits {
    fn default() -> Self {
        Limits { connect_timeout_s: default_connect_timeout(), will_timeout_s: default_will_timeout(), settle_ms: default_settle() }
    }
}
