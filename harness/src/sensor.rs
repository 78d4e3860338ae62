//! Sensors (victims): clients that carry a will and suffer faults. A sensor is the shared client
//! ([`crate::client::Client`]: handshake, requests, packet ids, timeouts) plus its will and the
//! fault injection that is specific to it, on the shared codec over a raw socket, so every fault is
//! exact: no client library decides what goes on the wire, and raw bytes (a broken CONNECT, a
//! malformed PUBLISH) stay possible.

use crate::client::handshake::{Attempt, Hello};
use crate::client::{Client, Ended};
use crate::fault::{Fault, FaultRecord, ProtocolViolation};
use crate::transport::ClientStream;
use anyhow::{bail, Context};
use bytes::Bytes;
use lwt_codec::connection::Connection;
use lwt_codec::raw::RawPacket;
use lwt_codec::{ConnAck, Connect, Disconnect, Packet, Properties, Property, ProtocolVersion, Publish, QoS, SubOptions, Will};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// How long to wait for a CONNACK or an acknowledgement (one value for every client).
pub use crate::client_settings::REPLY_TIMEOUT;

/// Everything a sensor's CONNECT says.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorSpec {
    /// Client identifier.
    pub client_id: String,
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Clean Session / Clean Start.
    pub clean_start: bool,
    /// Session Expiry Interval (5.0; `None` = property absent).
    pub session_expiry: Option<u32>,
    /// Keep Alive in seconds.
    pub keep_alive: u16,
    /// The will.
    pub will: Option<Will>,
    /// User Name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Bytes>,
}

impl SensorSpec {
    /// A sensor with clean start, keep-alive 60 s and no will.
    pub fn new(client_id: impl Into<String>, version: ProtocolVersion) -> Self {
        SensorSpec {
            client_id: client_id.into(),
            version,
            clean_start: true,
            session_expiry: None,
            keep_alive: 60,
            will: None,
            username: None,
            password: None,
        }
    }

    /// Sets a will without properties.
    pub fn with_will(mut self, topic: &str, payload: impl Into<Bytes>, qos: QoS, retain: bool) -> Self {
        self.will = Some(Will { topic: topic.into(), payload: payload.into(), qos, retain, properties: Properties::new() });
        self
    }

    /// Adds a will property (5.0). Requires a will.
    pub fn will_property(mut self, p: Property) -> Self {
        if let Some(w) = &mut self.will {
            w.properties.push(p);
        }
        self
    }

    /// Its CONNECT, built the one way every client's is.
    pub fn hello(&self) -> Hello<'_> {
        Hello {
            clean_start: self.clean_start,
            keep_alive: self.keep_alive,
            session_expiry: self.session_expiry,
            will: self.will.as_ref(),
            username: self.username.as_deref(),
            password: self.password.as_ref(),
            ..Hello::new(&self.client_id, self.version)
        }
    }

    /// The CONNECT packet.
    pub fn to_connect(&self) -> Connect {
        self.hello().to_connect()
    }
}

/// How a CONNECT was answered.
#[derive(Debug)]
pub enum ConnectOutcome {
    /// CONNACK with code 0.
    Accepted(Sensor),
    /// CONNACK with a non-zero code.
    Refused(ConnAck),
    /// The broker closed the connection without CONNACK.
    Closed(String),
    /// Neither a CONNACK nor a close within this time (the connection stays open).
    Silent(Duration),
}

impl ConnectOutcome {
    /// The sensor, or an error describing the refusal.
    pub fn accepted(self) -> anyhow::Result<Sensor> {
        match self {
            ConnectOutcome::Accepted(s) => Ok(s),
            ConnectOutcome::Refused(a) => bail!("CONNECT refused with code {:#04x}", a.code),
            ConnectOutcome::Closed(why) => bail!("connection closed without CONNACK: {why}"),
            ConnectOutcome::Silent(t) => bail!("no CONNACK within {t:?}"),
        }
    }
}

/// A connected sensor: the shared client plus its spec (with the will) and fault injection.
#[derive(Debug)]
pub struct Sensor {
    /// What it connected with.
    pub spec: SensorSpec,
    /// The CONNACK it got.
    pub connack: ConnAck,
    client: Client,
}

impl Sensor {
    /// Connects to `addr` with `spec` and reads the CONNACK.
    pub async fn connect(addr: SocketAddr, spec: SensorSpec) -> anyhow::Result<ConnectOutcome> {
        let stream = ClientStream::connect_tcp(addr).await.with_context(|| format!("cannot connect to {addr}"))?;
        Self::connect_over(stream, spec).await
    }

    /// Sends CONNECT over an open stream and reads the CONNACK.
    pub async fn connect_over(stream: ClientStream, spec: SensorSpec) -> anyhow::Result<ConnectOutcome> {
        let bytes = spec.hello().to_bytes();
        Self::connect_raw_over(stream, spec, &bytes).await
    }

    /// Sends `bytes` as the CONNECT (for example a [`ConnectDefect`] applied to `spec`) over an open
    /// stream and reads the reply: a CONNACK, or the broker closing the connection without one.
    pub async fn connect_raw_over(stream: ClientStream, spec: SensorSpec, bytes: &[u8]) -> anyhow::Result<ConnectOutcome> {
        Ok(Self::connect_raw_inner(stream, spec, bytes).await?.0)
    }

    /// [`Sensor::connect_raw_over`], and after a refusing CONNACK, how the broker ended the connection
    /// within `within` (it MUST close it: 3.1.1 MQTT-3.2.2-5, 5.0 MQTT-3.2.2-7).
    pub async fn connect_raw_watching(
        stream: ClientStream,
        spec: SensorSpec,
        bytes: &[u8],
        within: Duration,
    ) -> anyhow::Result<(ConnectOutcome, Option<ServerClose>)> {
        let (outcome, refused_conn) = Self::connect_raw_inner(stream, spec, bytes).await?;
        let after = match refused_conn {
            Some(mut conn) => Some(await_server_close(&mut conn, within).await),
            None => None,
        };
        Ok((outcome, after))
    }

    /// The CONNECT exchange; a refused connection is handed back to watch what the broker does next.
    async fn connect_raw_inner(
        stream: ClientStream,
        spec: SensorSpec,
        bytes: &[u8],
    ) -> anyhow::Result<(ConnectOutcome, Option<Connection<ClientStream>>)> {
        let attempt = Client::connect_raw(stream, &spec.hello(), bytes, REPLY_TIMEOUT).await?;
        Ok(match attempt {
            Attempt::Accepted(client) => (ConnectOutcome::Accepted(Sensor { spec, connack: client.connack.clone(), client }), None),
            Attempt::Refused(ack, conn) => (ConnectOutcome::Refused(ack), Some(conn)),
            Attempt::Closed(why) => (ConnectOutcome::Closed(why), None),
            Attempt::Silent(t) => (ConnectOutcome::Silent(t), None),
        })
    }

    /// What its CONNACK settled (the keep-alive in force, an assigned client id, the broker's limits).
    pub fn session(&self) -> &crate::client::Session {
        &self.client.session
    }

    /// When the sensor last sent a packet (the base of the keep-alive deadline).
    pub fn last_sent(&self) -> Instant {
        self.client.last_sent()
    }

    /// The local socket address (how the fault proxy identifies this client).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.client.stream().local_addr()
    }

    /// Sends a packet.
    pub async fn send(&mut self, p: &Packet) -> anyhow::Result<()> {
        Ok(self.client.send(p).await?)
    }

    /// Publishes and completes the QoS flow (the broker's acknowledgements are awaited).
    pub async fn publish(&mut self, p: Publish) -> anyhow::Result<()> {
        let what = match p.qos {
            QoS::AtMostOnce => "PUBLISH",
            QoS::AtLeastOnce => "PUBACK",
            QoS::ExactlyOnce => "PUBREC/PUBCOMP",
        };
        self.client.publish(p).await.map(drop).map_err(|e| waiting_for(what, e))
    }

    /// Subscribes (a sensor that is also a subscriber, e.g. a shared-subscription member) and
    /// returns the SUBACK codes.
    pub async fn subscribe(&mut self, filter: &str, options: SubOptions) -> anyhow::Result<Vec<u8>> {
        let filters = vec![(filter.to_owned(), options)];
        self.client.subscribe(filters, Properties::new()).await.map_err(|e| waiting_for("SUBACK", e))
    }

    /// Sends PINGREQ and waits for PINGRESP.
    pub async fn ping(&mut self) -> anyhow::Result<()> {
        self.client.ping().await.map(drop).map_err(|e| waiting_for("PINGRESP", e))
    }

    /// Whether this sensor speaks MQTT over a WebSocket.
    pub fn is_ws(&self) -> bool {
        self.client.stream().is_ws()
    }

    /// Applies a client-side fault. The sensor is consumed: after a fault it is gone, except for
    /// [`Fault::Silence`], whose open socket is returned inside the record so it stays half-alive.
    pub async fn inject(self, fault: &Fault) -> anyhow::Result<FaultRecord> {
        let planned = Instant::now();
        let last_sent = self.client.last_sent();
        let mut conn = self.client.into_connection();
        let mut held = None;
        let actual = match fault {
            // Over a WebSocket, FIN goes to the TCP socket under it: no close frame.
            Fault::Fin if conn.get_ref().is_ws() => {
                let at = Instant::now();
                let _ = conn.get_ref().fin_tcp();
                drop(conn);
                at
            }
            Fault::Fin => {
                let at = Instant::now();
                let _ = conn.shutdown().await;
                drop(conn);
                at
            }
            Fault::WsClose => {
                anyhow::ensure!(conn.get_ref().is_ws(), "a WebSocket close frame needs a ws:// or wss:// target");
                let at = Instant::now();
                let _ = conn.shutdown().await;
                drain_until_closed(&mut conn).await;
                at
            }
            Fault::Rst => {
                conn.get_ref().tcp().set_zero_linger()?;
                let at = Instant::now();
                drop(conn);
                at
            }
            Fault::Silence => {
                // Nothing more is sent; the keep-alive deadline runs from the last packet.
                let at = last_sent;
                held = Some(conn);
                at
            }
            Fault::Disconnect { reason, session_expiry } => {
                let mut d = Disconnect::new(*reason);
                if let Some(s) = session_expiry {
                    d.properties.push(Property::SessionExpiryInterval(*s));
                }
                let at = Instant::now();
                conn.write_packet(&Packet::Disconnect(d)).await?;
                let _ = conn.shutdown().await;
                drain_until_closed(&mut conn).await;
                at
            }
            Fault::DisconnectRaw(bytes) => {
                let at = Instant::now();
                conn.write_raw(bytes).await?;
                let _ = conn.shutdown().await;
                drain_until_closed(&mut conn).await;
                at
            }
            Fault::Protocol(v) => {
                let bytes = match v {
                    ProtocolViolation::SecondConnect => Packet::Connect(self.spec.to_connect()).to_bytes(self.spec.version),
                    ProtocolViolation::ReservedPacketType => RawPacket::new(0, 0, Vec::new()).to_bytes(),
                    ProtocolViolation::MalformedPublish => {
                        // PUBLISH with QoS 3 (both QoS bits set): malformed (MQTT-3.3.1-4).
                        RawPacket::from_packet(&Packet::Publish(Publish::new("lwt/malformed", "x")), self.spec.version)
                            .flags(0b0110)
                            .to_bytes()
                    }
                };
                let at = Instant::now();
                conn.write_raw(&bytes).await?;
                // Keep the socket open: the broker must be the one to close it.
                held = Some(conn);
                at
            }
            other => bail!("{other} is not a client-side fault; apply it through the target or the proxy"),
        };
        Ok(FaultRecord { fault: fault.clone(), client_id: self.spec.client_id.clone(), planned, actual, held })
    }
}

/// A deliberately invalid CONNECT for the will-field validation rules (3.1.1 MQTT-3.1.2-9/-11/-13/-14/-15,
/// MQTT-3.1.3-10; 5.0 MQTT-3.1.2-9/-11/-12/-13, MQTT-3.1.3-11): the sensor's valid CONNECT with one
/// field broken on the wire, built with [`RawPacket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectDefect {
    /// Will Flag 1 but the Will Payload is cut off the end of the packet (mosquitto #704).
    WillPayloadMissing,
    /// Will Flag 0 with these Will QoS bits and Will Retain bit set (the sensor must have no will).
    WillBitsWithoutFlag {
        /// Will QoS bits (0-3).
        qos: u8,
        /// Will Retain bit.
        retain: bool,
    },
    /// Will QoS 3 (both Will QoS bits set).
    WillQos3,
    /// The last byte of the Will Topic replaced by this byte (0x00: U+0000; 0xFF: not UTF-8).
    WillTopicByte(u8),
}

impl ConnectDefect {
    /// The bytes of `spec`'s CONNECT with this defect.
    pub fn apply(&self, spec: &SensorSpec) -> anyhow::Result<Bytes> {
        use lwt_codec::raw::CONNECT_FLAGS_OFFSET;
        let raw = RawPacket::from_packet(&Packet::Connect(spec.to_connect()), spec.version);
        let flags = raw.body[CONNECT_FLAGS_OFFSET];
        let raw = match *self {
            ConnectDefect::WillBitsWithoutFlag { qos, retain } => {
                anyhow::ensure!(spec.will.is_none(), "{self:?} needs a sensor without a will");
                let bits = (qos & 0x03) << 3 | (retain as u8) << 5;
                raw.patch(CONNECT_FLAGS_OFFSET, flags | bits)
            }
            ConnectDefect::WillQos3 => {
                anyhow::ensure!(spec.will.is_some(), "{self:?} needs a sensor with a will");
                raw.patch(CONNECT_FLAGS_OFFSET, flags | 0x18)
            }
            ConnectDefect::WillPayloadMissing => {
                let will = spec.will.as_ref().ok_or_else(|| anyhow::anyhow!("{self:?} needs a sensor with a will"))?;
                // The packet ends where the Will Payload should start; a login the profile adds
                // (User Name, Password, each a 2-byte length and its bytes) goes with it, so the
                // broker meets the missing payload first either way.
                let login = spec.username.as_ref().map_or(0, |u| 2 + u.len()) + spec.password.as_ref().map_or(0, |p| 2 + p.len());
                let keep = raw.body.len() - 2 - will.payload.len() - login;
                raw.truncate(keep)
            }
            ConnectDefect::WillTopicByte(b) => {
                let will = spec.will.as_ref().ok_or_else(|| anyhow::anyhow!("{self:?} needs a sensor with a will"))?;
                let mut needle = (will.topic.len() as u16).to_be_bytes().to_vec();
                needle.extend_from_slice(will.topic.as_bytes());
                let at = raw
                    .body
                    .windows(needle.len())
                    .position(|w| w == needle.as_slice())
                    .ok_or_else(|| anyhow::anyhow!("Will Topic not found in the CONNECT"))?;
                raw.patch(at + needle.len() - 1, b)
            }
        };
        Ok(raw.to_bytes())
    }
}

/// How the broker ended a connection the client kept open (after a protocol error, a takeover,
/// silence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerClose {
    /// A DISCONNECT with this reason code (5.0), then the close.
    Disconnect(u8),
    /// Closed (end of stream or reset) without a DISCONNECT.
    Closed(String),
    /// Still open when the wait ended.
    StillOpen,
}

/// Reads (and ignores everything else) until the broker sends DISCONNECT or closes `conn`, for at
/// most `within`.
pub async fn await_server_close(conn: &mut Connection<ClientStream>, within: Duration) -> ServerClose {
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, conn.read_packet()).await {
            Err(_) => return ServerClose::StillOpen,
            Ok(Ok(Some(Packet::Disconnect(d)))) => return ServerClose::Disconnect(d.reason),
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) => return ServerClose::Closed("end of stream".into()),
            Ok(Err(e)) => return ServerClose::Closed(e.to_string()),
        }
    }
}

impl Sensor {
    /// Publishes without waiting for the acknowledgement (the flow is left unfinished), so a fault
    /// can follow the PUBLISH on the wire at once (mosquitto #7, tbmq PR #314).
    pub async fn publish_no_wait(&mut self, p: Publish) -> anyhow::Result<()> {
        self.client.publish_no_wait(p).await.map(drop).map_err(|e| waiting_for("PUBLISH", e))
    }

    /// The next packet the broker sends within `within` (`None` when nothing came), e.g. the AUTH
    /// answering a re-authentication; an error when the connection ended.
    pub async fn next_packet(&mut self, within: Duration) -> anyhow::Result<Option<Packet>> {
        match self.client.read_until(within, |p| Some(p.clone())).await {
            Ok(p) => Ok(Some(p)),
            Err(Ended::Silent) => Ok(None),
            Err(e) => bail!("{e}"),
        }
    }

    /// Waits until the broker sends DISCONNECT or closes this connection (a taken-over sensor).
    pub async fn await_server_close(&mut self, within: Duration) -> ServerClose {
        await_server_close(self.client.connection_mut(), within).await
    }
}

/// An error for a request whose answer did not come (a set-up failure, never a verdict).
fn waiting_for(what: &str, e: Ended) -> anyhow::Error {
    match e {
        Ended::Silent => anyhow::anyhow!("no {what} within {REPLY_TIMEOUT:?}"),
        other => anyhow::anyhow!("{other} while waiting for {what}"),
    }
}

async fn drain_until_closed(conn: &mut Connection<ClientStream>) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Ok(Ok(Some(_))) = tokio::time::timeout_at(deadline, conn.read_packet()).await {}
}
