//! The eleven known will bugs the harness must catch, each taken from a real broker's history, as
//! [`WillHook`]s the reference broker calls at its will decision points. They exist only here, in
//! the harness's test binaries: no broker binary, config key or flag can switch one on. Installed
//! from Rust with [`Mutant::config`].
#![allow(dead_code)] // each test binary uses its own subset

use lwt_broker::codec::{property_id, Property};
use lwt_broker::will::{CloseReason, Decision, Ending, HookRef, Point, WillHook};
use lwt_broker::Config;
use std::time::Duration;

/// One deliberate will bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

impl Mutant {
    /// The default broker config with this bug installed as its will hook.
    pub fn config(self) -> Config {
        Config { will_hook: HookRef::new(self), ..Config::default() }
    }
}

impl WillHook for Mutant {
    fn at(&self, point: Point<'_>) {
        use Mutant::*;
        match (self, point) {
            (KeepAliveMultiplier1, Point::KeepAlive { keep_alive, grace }) => *grace = Duration::from_secs(keep_alive.into()),
            (KeepAliveMultiplier25, Point::KeepAlive { keep_alive, grace }) => {
                *grace = Duration::from_millis(u64::from(keep_alive) * 2500)
            }
            (WillAfterNormalDisconnect, Point::ConnectionEnd { decision, .. }) if *decision == Decision::Discard => {
                *decision = Decision::PublishNow
            }
            (NoWillOnReset, Point::ConnectionEnd { ending: Ending::Network(CloseReason::Io(_)), decision }) => {
                *decision = Decision::Discard
            }
            (WillDelayIgnored, Point::ConnectionEnd { decision, .. }) if matches!(*decision, Decision::Delay(_)) => {
                *decision = Decision::PublishNow
            }
            (ReconnectKeepsDelayedWill, Point::Resume { cancel }) => *cancel = false,
            (WillRetainIgnored, Point::Publish { message, .. }) => message.retain = false,
            (WillPropertyDropped, Point::Publish { message, .. }) => message.properties.remove(property_id::CONTENT_TYPE),
            (UserPropertyOrderChanged, Point::Publish { message, .. }) => {
                let props = &mut message.properties;
                let users: Vec<Property> =
                    props.0.iter().filter(|p| matches!(p, Property::UserProperty(..))).cloned().rev().collect();
                props.remove(property_id::USER_PROPERTY);
                props.0.extend(users);
            }
            (WillTwice, Point::Publish { routing, .. }) => routing.copies = 2,
            (WillQosNotDowngraded, Point::Publish { routing, .. }) => routing.keep_qos = true,
            _ => {}
        }
    }
}
