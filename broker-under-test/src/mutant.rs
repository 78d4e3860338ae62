//! Known will bugs that a test can switch on one at a time, to prove that the harness catches each
//! of them. Compiled only with the `mutants` feature (tests enable it; release builds never do).

use serde::Deserialize;

/// One deliberate will bug, each taken from a real broker's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mutant {
    /// The will is published after DISCONNECT 0x00 (vernemq #138, amqtt #199).
    WillAfterNormalDisconnect,
    /// No will when the connection is reset (RST / I/O error).
    NoWillOnReset,
    /// Keep-alive fires after 1.0 × keep-alive instead of 1.5 × (vernemq PR #275).
    KeepAliveMultiplier1,
    /// Keep-alive fires after 2.5 × keep-alive (emqx #1334-style lateness).
    KeepAliveMultiplier25,
    /// Will Delay Interval ignored: the will goes out at once (vernemq #1298).
    WillDelayIgnored,
    /// A reconnect to the session does not cancel the delayed will (LabOverWire/mqtt-lib #154).
    ReconnectKeepsDelayedWill,
    /// Will Retain ignored (nanomq #2012, rabbitmq-mqtt #74).
    WillRetainIgnored,
    /// The Content Type will property is dropped (mosquitto #1244 family).
    WillPropertyDropped,
    /// User properties are delivered in reverse order (MQTT-3.1.3-10).
    UserPropertyOrderChanged,
    /// The will is delivered twice (aedes #109, mosquitto 2.0.6).
    WillTwice,
    /// The will goes out at its own QoS, not the subscription's (MQTT-3.8.4-6/-8).
    WillQosNotDowngraded,
}

/// Every mutant, for tests that iterate over them.
pub const ALL: [Mutant; 11] = [
    Mutant::WillAfterNormalDisconnect,
    Mutant::NoWillOnReset,
    Mutant::KeepAliveMultiplier1,
    Mutant::KeepAliveMultiplier25,
    Mutant::WillDelayIgnored,
    Mutant::ReconnectKeepsDelayedWill,
    Mutant::WillRetainIgnored,
    Mutant::WillPropertyDropped,
    Mutant::UserPropertyOrderChanged,
    Mutant::WillTwice,
    Mutant::WillQosNotDowngraded,
];
