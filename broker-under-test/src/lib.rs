//! `lwt-broker`: a strict MQTT 3.1.1 + 5.0 reference broker that is right on every Last-Will rule.
#![warn(missing_docs)]

pub mod codec;
