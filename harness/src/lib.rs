//! `lwt-harness`: drives MQTT brokers and judges their Last Will behaviour.
//!
//! The engine, used alike by tests, Gherkin steps and load runs:
//! - [`target`]: the broker under test (embedded by default, external, or launched).
//! - [`profile`]: what a target declares it supports.
//! - [`client`]: the one MQTT client every role speaks through (handshake, requests, background
//!   reader, probes), set up by [`client_settings`] (keep-alive, logins, timeouts from the profile).
//! - [`sensor`] (victims: client + will + faults) and [`actuator`] (observers: client + reader).
//! - [`fault`] and [`proxy`]: exact faults with planned and actual instants.
//! - [`verdict`]: expectations judged into verdicts with rule ids; absence proven by a probe.
//! - [`group`]: the same for shared-subscription groups (one copy per group, proven by a probe).
//! - [`latency`]: HdrHistogram series and interval logs.
//! - [`pki`] and [`jwt`]: test certificates, JWT issuers and tokens (Event Grid authentication).
#![warn(missing_docs)]

pub mod actuator;
pub mod bdd;
pub mod client;
pub mod client_settings;
pub mod console;
pub mod fault;
pub mod group;
pub mod init;
pub mod jwt;
pub mod pki;
pub mod latency;
pub mod load;
pub mod profile;
pub mod proxy;
pub mod report;
pub mod rumqttc_observer;
pub mod sensor;
pub mod target;
pub mod transport;
pub mod verdict;
pub mod webhook_server;
