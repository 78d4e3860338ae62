//! Faults: what goes wrong, and when it actually happened. Client-side faults are applied by
//! [`crate::sensor::Sensor::inject`], network faults by [`crate::proxy`], broker restarts by
//! [`crate::target::Target::restart`]; every one yields a [`FaultRecord`].

use crate::sensor::{ConnectOutcome, Sensor, SensorSpec};
use crate::transport::ClientStream;
use bytes::Bytes;
use lwt_codec::connection::Connection;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// A protocol violation a sensor commits after CONNACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolViolation {
    /// A second CONNECT on the same connection (MQTT-3.1.0-2).
    SecondConnect,
    /// A packet of reserved type 0.
    ReservedPacketType,
    /// A PUBLISH with QoS 3 (malformed).
    MalformedPublish,
}

/// How the fault proxy breaks a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NetFault {
    /// Stop forwarding in both directions; both sockets stay open (half-open connection).
    Blackhole,
    /// Delay every chunk by this much in both directions.
    Latency(Duration),
    /// Close both sides with FIN.
    CutFin,
    /// Close both sides with RST.
    CutRst,
}

/// Every fault the engine can inject.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Close the socket with FIN, no DISCONNECT.
    Fin,
    /// Reset the socket (SO_LINGER 0), no DISCONNECT.
    Rst,
    /// Keep the socket open and send nothing; only keep-alive can detect it.
    Silence,
    /// MQTT over WebSockets only: a WebSocket close frame with no MQTT DISCONNECT before it (an
    /// abrupt end at the MQTT level: the will must fire).
    WsClose,
    /// DISCONNECT with a reason code (5.0; 3.1.1 always sends the empty DISCONNECT) and optionally a
    /// new Session Expiry Interval.
    Disconnect {
        /// Reason code.
        reason: u8,
        /// New Session Expiry Interval.
        session_expiry: Option<u32>,
    },
    /// DISCONNECT bytes given exactly (e.g. every encoding of reason 0x00).
    DisconnectRaw(Bytes),
    /// A protocol violation.
    Protocol(ProtocolViolation),
    /// A second connection with the same client id.
    Takeover {
        /// Clean Start of the new connection.
        clean_start: bool,
    },
    /// The broker is stopped and started again.
    BrokerRestart {
        /// Crash (true) or orderly stop (false).
        kill: bool,
    },
    /// A network fault in the proxy.
    Net(NetFault),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Fin => write!(f, "close (FIN)"),
            Fault::Rst => write!(f, "reset (RST)"),
            Fault::Silence => write!(f, "silence"),
            Fault::WsClose => write!(f, "WebSocket close frame without DISCONNECT"),
            Fault::Disconnect { reason, session_expiry: None } => write!(f, "DISCONNECT {reason:#04x}"),
            Fault::Disconnect { reason, session_expiry: Some(s) } => write!(f, "DISCONNECT {reason:#04x} with session expiry {s}"),
            Fault::DisconnectRaw(b) => write!(f, "DISCONNECT bytes {}", hex(b)),
            Fault::Protocol(v) => write!(f, "protocol error ({v:?})"),
            Fault::Takeover { clean_start } => write!(f, "takeover (clean start {})", *clean_start as u8),
            Fault::BrokerRestart { kill: true } => write!(f, "broker crash and restart"),
            Fault::BrokerRestart { kill: false } => write!(f, "broker restart"),
            Fault::Net(NetFault::Blackhole) => write!(f, "network blackhole"),
            Fault::Net(NetFault::Latency(d)) => write!(f, "network latency {} ms", d.as_millis()),
            Fault::Net(NetFault::CutFin) => write!(f, "network cut (FIN)"),
            Fault::Net(NetFault::CutRst) => write!(f, "network cut (RST)"),
        }
    }
}

impl Fault {
    /// A short stable label for histograms and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Fin => "fin",
            Fault::Rst => "rst",
            Fault::Silence => "silence",
            Fault::WsClose => "ws-close",
            Fault::Disconnect { .. } | Fault::DisconnectRaw(_) => "disconnect",
            Fault::Protocol(_) => "protocol-error",
            Fault::Takeover { .. } => "takeover",
            Fault::BrokerRestart { .. } => "broker-restart",
            Fault::Net(NetFault::Blackhole) => "blackhole",
            Fault::Net(NetFault::Latency(_)) => "latency",
            Fault::Net(NetFault::CutFin) => "cut-fin",
            Fault::Net(NetFault::CutRst) => "cut-rst",
        }
    }
}

/// When a fault was meant to happen and when it did.
#[derive(Debug)]
pub struct FaultRecord {
    /// The fault.
    pub fault: Fault,
    /// The victim's client id.
    pub client_id: String,
    /// When the engine decided to inject it.
    pub planned: Instant,
    /// When it took effect: taken just before the system call that causes it (so no reaction can
    /// precede it); for silence, the last packet sent (the base of the keep-alive deadline).
    pub actual: Instant,
    /// A socket kept open on purpose (silence, protocol errors): dropping it would add a FIN.
    pub held: Option<Connection<ClientStream>>,
}

impl FaultRecord {
    /// Gap between plan and effect.
    pub fn lag(&self) -> Duration {
        self.actual.saturating_duration_since(self.planned)
    }
}

/// Takes over `spec.client_id` with a new connection (the old sensor must still be held by the
/// caller). Returns the record (actual = CONNECT sent) and how the new CONNECT was answered.
pub async fn takeover(addr: SocketAddr, spec: SensorSpec, clean_start: bool) -> anyhow::Result<(FaultRecord, ConnectOutcome)> {
    takeover_via(&crate::transport::Endpoint::tcp(addr), spec, clean_start).await
}

/// [`takeover`] over any endpoint (TCP or TLS).
pub async fn takeover_via(
    endpoint: &crate::transport::Endpoint,
    mut spec: SensorSpec,
    clean_start: bool,
) -> anyhow::Result<(FaultRecord, ConnectOutcome)> {
    spec.clean_start = clean_start;
    let planned = Instant::now();
    let stream = endpoint.dial(None).await?;
    // The takeover happens when the broker reads the new CONNECT, which is sent next.
    let actual = Instant::now();
    let client_id = spec.client_id.clone();
    let outcome = Sensor::connect_over(stream, spec).await?;
    Ok((FaultRecord { fault: Fault::Takeover { clean_start }, client_id, planned, actual, held: None }, outcome))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}
