//! The one MQTT client every harness role speaks through: sensors, observers (actuators and the load
//! run's fleet observers), the step library's raw client, fleet members, soak and throughput clients.
//!
//! Why one: seven hand-written loops used to decide keep-alive, logins, timeouts, packet ids and
//! acknowledgements each on their own, so a fix in one (observers pinging inside the profile's
//! keep-alive bounds, a password for brokers that refuse anonymous clients) never reached the
//! others. Every client now goes the same way, on the shared strict codec (`lwt_codec`):
//!
//! 1. [`handshake`]: CONNECT (built from one [`handshake::Hello`]) → CONNACK within a timeout; a
//!    timeout or an undecodable answer is an *error* (we could not establish the client), a refusing
//!    CONNACK or a close is an outcome the caller may judge. What the CONNACK negotiates (Server Keep
//!    Alive, Assigned Client Identifier, Maximum Packet Size, Topic Alias Maximum) is read once into
//!    a [`Session`].
//! 2. [`requests`]: a [`Client`] that owns its connection (sensors, raw clients) publishes at QoS
//!    0/1/2, subscribes, unsubscribes and pings with awaited acknowledgements and bounded waits.
//! 3. [`reader`]: a client that must watch (observers) hands its connection to a background reader
//!    that records every PUBLISH with a monotonic timestamp, acknowledges per QoS, pings inside the
//!    keep-alive, and answers awaitable probes (unique nonces through the broker).
//!
//! The lean form for load runs (10,000+ members per process) is the same handshake on a bare
//! `Connection`, after which only the socket is kept (see [`handshake::connect_lean`]): no task and
//! no buffer per member. Raw bytes (malformed packets, fault injection) stay possible through
//! [`Client::send_raw`] and [`Client::into_connection`].
//!
//! Choices where the specification leaves room (documented here because they are ours):
//! - Keep-alive: a Server Keep Alive in the CONNACK replaces ours (MQTT-3.2.2-21, 5.0 only); the
//!   observer's reader pings at half of the effective value ([`crate::client_settings::ping_interval`]).
//! - Maximum Packet Size / Topic Alias Maximum from the CONNACK are recorded, and enforced on the
//!   observer's own publishes (probes); sensors and raw clients may break them on purpose.
//! - Packet ids start at 1 and wrap past 65535 to 1, never 0 (MQTT-2.2.1-3 / 2.2.1).

pub mod handshake;
pub mod reader;
pub mod requests;

use crate::transport::ClientStream;
use lwt_codec::connection::Connection;
use lwt_codec::{ConnAck, ProtocolVersion, Publish};
use tokio::time::Instant;

pub use handshake::{Hello, Reply};
pub use reader::{Observation, Reader};
pub use requests::Ended;

/// What the CONNECT/CONNACK exchange settled, read once for every role.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Protocol version spoken.
    pub version: ProtocolVersion,
    /// The client id in force: the broker's Assigned Client Identifier when it sent one (an empty
    /// id in CONNECT), else the one we sent.
    pub client_id: String,
    /// Keep-alive in force (seconds): the broker's Server Keep Alive when it sent one, else ours.
    pub keep_alive: u16,
    /// Largest packet the broker accepts (its Maximum Packet Size), if it said.
    pub max_packet_size: Option<u32>,
    /// Topic aliases the broker accepts from us (0: none).
    pub topic_alias_max: u16,
    /// Session Present.
    pub session_present: bool,
}

impl Session {
    /// The session `ack` (a CONNACK with code 0) settles for a client that asked for `keep_alive`
    /// as `client_id`.
    pub fn negotiate(version: ProtocolVersion, client_id: &str, keep_alive: u16, ack: &ConnAck) -> Session {
        let p = &ack.properties;
        Session {
            version,
            client_id: p.assigned_client_identifier().unwrap_or_else(|| client_id.to_owned()),
            keep_alive: p.server_keep_alive().unwrap_or(keep_alive),
            max_packet_size: p.maximum_packet_size(),
            topic_alias_max: p.topic_alias_maximum().unwrap_or(0),
            session_present: ack.session_present,
        }
    }

    /// Whether a well-behaved client may send `p` in this session: within the broker's Maximum
    /// Packet Size (MQTT-3.1.2-24's mirror, 3.2.2.3.6) and Topic Alias Maximum (MQTT-3.3.2-9).
    pub fn check_publish(&self, p: &Publish) -> anyhow::Result<()> {
        if let Some(alias) = p.properties.topic_alias() {
            anyhow::ensure!(
                alias >= 1 && alias <= self.topic_alias_max,
                "topic alias {alias} is outside the broker's Topic Alias Maximum {}",
                self.topic_alias_max
            );
        }
        if let Some(max) = self.max_packet_size {
            let size = lwt_codec::Packet::Publish(p.clone()).to_bytes(self.version).len();
            anyhow::ensure!(size as u64 <= u64::from(max), "a {size}-byte PUBLISH exceeds the broker's Maximum Packet Size {max}");
        }
        Ok(())
    }
}

/// Packet identifiers for one connection: 1, 2, …, 65535, 1, … (never 0).
#[derive(Clone, Copy, Debug, Default)]
pub struct PacketIds(u16);

impl PacketIds {
    /// The next identifier.
    pub fn next_id(&mut self) -> u16 {
        self.0 = self.0.wrapping_add(1).max(1);
        self.0
    }
}

/// A connected client that owns its connection and reads only when it waits for something: the
/// base of sensors and the step library's raw client. Observers hand theirs to a [`Reader`].
#[derive(Debug)]
pub struct Client {
    /// What the CONNACK settled.
    pub session: Session,
    /// The CONNACK itself.
    pub connack: ConnAck,
    conn: Connection<ClientStream>,
    pids: PacketIds,
    last_sent: Instant,
    /// Acknowledge QoS 1/2 deliveries met while waiting (raw clients); sensors leave them unanswered.
    ack_deliveries: bool,
    /// Why the connection ended, once it did.
    closed: Option<String>,
}

impl Client {
    /// A client over `conn` whose CONNECT was sent at `last_sent` and accepted with `connack`.
    pub fn new(conn: Connection<ClientStream>, session: Session, connack: ConnAck, last_sent: Instant) -> Client {
        Client { session, connack, conn, pids: PacketIds::default(), last_sent, ack_deliveries: false, closed: None }
    }

    /// The same client acknowledging QoS 1/2 deliveries it meets while waiting for something else.
    pub fn acknowledging(mut self) -> Client {
        self.ack_deliveries = true;
        self
    }

    /// When this client last sent a packet (the base of the broker's keep-alive deadline).
    pub fn last_sent(&self) -> Instant {
        self.last_sent
    }

    /// The stream underneath (its TCP socket for faults, its local address for the proxy).
    pub fn stream(&self) -> &ClientStream {
        self.conn.get_ref()
    }

    /// The codec connection, to read it by hand (watching how the broker ends it).
    pub fn connection_mut(&mut self) -> &mut Connection<ClientStream> {
        &mut self.conn
    }

    /// Gives back the codec connection (a fault keeps it open, or it is shut down by hand).
    pub fn into_connection(self) -> Connection<ClientStream> {
        self.conn
    }

    /// Why the connection ended, if the client saw it end.
    pub fn closed(&self) -> Option<&str> {
        self.closed.as_deref()
    }
}

#[cfg(test)]
mod tests;
