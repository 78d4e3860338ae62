//! The fleet part of a load scenario: the victims, their wills and certificates, the observers and
//! the connect ramp.

use super::{one, Protocol};
use serde::{Deserialize, Serialize};

/// The fleet of victims.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    /// Number of clients.
    pub count: u32,
    /// Client id pattern: `{i}` is the index (zero-padded with `{i:05}`), `{shard}` the shard.
    #[serde(default = "default_id")]
    pub id: String,
    /// Protocol version.
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// Keep-alive in seconds (0 = none).
    #[serde(default = "default_ka")]
    pub keep_alive: u16,
    /// Keep-alives assigned round-robin instead of `keep_alive` (keep-alive precision runs).
    #[serde(default)]
    pub keep_alives: Vec<u16>,
    /// Session Expiry Interval (5.0), seconds.
    #[serde(default)]
    pub session_expiry: Option<u32>,
    /// The will every client carries.
    pub will: WillSpec,
    /// Client certificates over TLS: `none` (plain TCP unless the target is TLS) or `shared` (the
    /// target's client identity, e.g. `--launch mosquitto-tls`).
    #[serde(default)]
    pub certificates: Certificates,
}

fn default_id() -> String {
    "load-{i}".into()
}
fn default_protocol() -> Protocol {
    Protocol::V311
}
fn default_ka() -> u16 {
    60
}

/// Which certificates the fleet presents.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Certificates {
    /// None of its own (a TLS target's default identity is still used).
    #[default]
    None,
    /// The target's shared client identity; the target must be TLS.
    Shared,
    /// One certificate per client (common name = its client id), issued before the ramp by the
    /// target's issuing CA (`mosquitto-tls` and `embedded-tls` have one); the target must be TLS.
    PerDevice,
}

/// The will of each client.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WillSpec {
    /// Topic pattern: `{id}` client id, `{i}` index. Must be unique per client (it identifies the
    /// will's sender).
    pub topic: String,
    /// Payload pattern: `{id}`, `{i}`, `{gen}` (connection generation: 0 first, 1 after a
    /// takeover or reconnect).
    #[serde(default = "default_payload")]
    pub payload: String,
    /// Will QoS.
    #[serde(default)]
    pub qos: u8,
    /// Will retain.
    #[serde(default)]
    pub retain: bool,
    /// Will Delay Interval (5.0), seconds.
    #[serde(default)]
    pub delay: u32,
}

fn default_payload() -> String {
    "{id} gen {gen}".into()
}

/// The observers.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ObserverSpec {
    /// How many; each one must receive every will its filters match.
    #[serde(default = "one")]
    pub count: u32,
    /// Topic filters each observer subscribes to.
    #[serde(default)]
    pub filters: Vec<String>,
    /// Subscription QoS.
    #[serde(default)]
    pub qos: u8,
}

impl Default for ObserverSpec {
    fn default() -> Self {
        ObserverSpec { count: 1, filters: Vec::new(), qos: 0 }
    }
}

/// The connect ramp.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RampSpec {
    /// Planned connects per second (0 = as fast as `concurrency` allows).
    #[serde(default = "default_rate")]
    pub rate: u32,
    /// Connects in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
}

fn default_rate() -> u32 {
    10_000
}
fn default_concurrency() -> u32 {
    512
}

impl Default for RampSpec {
    fn default() -> Self {
        RampSpec { rate: default_rate(), concurrency: default_concurrency() }
    }
}
