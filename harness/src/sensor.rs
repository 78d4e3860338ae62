//! Sensors (victims): clients that carry a will and suffer faults. Driven through the shared codec on
//! a raw socket, so every fault is exact: no client library decides what goes on the wire.

use crate::fault::{Fault, FaultRecord, ProtocolViolation};
use crate::transport::ClientStream;
use anyhow::{bail, Context};
use bytes::Bytes;
use lwt_codec::raw::RawPacket;
use lwt_codec::{
    ConnAck, Connect, Disconnect, Packet, Properties, Property, ProtocolVersion, PubResp, Publish, QoS, SubOptions, Subscribe,
    Will,
};
use lwt_codec::connection::{Connection, ReadError};
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

    /// The CONNECT packet.
    pub fn to_connect(&self) -> Connect {
        let mut c = Connect::new(self.version, self.client_id.clone());
        c.clean_start = self.clean_start;
        c.keep_alive = self.keep_alive;
        if let (ProtocolVersion::V5, Some(s)) = (self.version, self.session_expiry) {
            c.properties.push(Property::SessionExpiryInterval(s));
        }
        c.will = self.will.clone();
        c.username = self.username.clone();
        c.password = self.password.clone();
        c
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
}

impl ConnectOutcome {
    /// The sensor, or an error describing the refusal.
    pub fn accepted(self) -> anyhow::Result<Sensor> {
        match self {
            ConnectOutcome::Accepted(s) => Ok(s),
            ConnectOutcome::Refused(a) => bail!("CONNECT refused with code {:#04x}", a.code),
            ConnectOutcome::Closed(why) => bail!("connection closed without CONNACK: {why}"),
        }
    }
}

/// A connected sensor.
#[derive(Debug)]
pub struct Sensor {
    /// What it connected with.
    pub spec: SensorSpec,
    /// The CONNACK it got.
    pub connack: ConnAck,
    conn: Connection<ClientStream>,
    last_sent: Instant,
    next_pid: u16,
}

impl Sensor {
    /// Connects to `addr` with `spec` and reads the CONNACK.
    pub async fn connect(addr: SocketAddr, spec: SensorSpec) -> anyhow::Result<ConnectOutcome> {
        let stream = ClientStream::connect_tcp(addr).await.with_context(|| format!("cannot connect to {addr}"))?;
        Self::connect_over(stream, spec).await
    }

    /// Sends CONNECT over an open stream and reads the CONNACK.
    pub async fn connect_over(stream: ClientStream, spec: SensorSpec) -> anyhow::Result<ConnectOutcome> {
        let bytes = Packet::Connect(spec.to_connect()).to_bytes(spec.version);
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
        let mut conn = Connection::new(stream);
        conn.set_version(spec.version);
        // Taken before the write: the broker's keep-alive clock cannot start earlier than this.
        let last_sent = Instant::now();
        // A write error is not final: the broker may refuse (CONNACK, then close) before the write
        // ends, so the reply is read either way.
        let written = conn.write_raw(bytes).await;
        match tokio::time::timeout(REPLY_TIMEOUT, conn.read_packet()).await {
            Err(_) => bail!("no CONNACK within {REPLY_TIMEOUT:?} for {}", spec.client_id),
            Ok(Ok(Some(Packet::ConnAck(ack)))) if ack.code == 0 => {
                Ok((ConnectOutcome::Accepted(Sensor { spec, connack: ack, conn, last_sent, next_pid: 0 }), None))
            }
            Ok(Ok(Some(Packet::ConnAck(ack)))) => Ok((ConnectOutcome::Refused(ack), Some(conn))),
            Ok(Ok(Some(other))) => bail!("expected CONNACK, got {}", other.name()),
            Ok(Ok(None)) => Ok((
                ConnectOutcome::Closed(match written {
                    Ok(()) => "end of stream".into(),
                    Err(e) => format!("end of stream (the CONNECT write failed: {e})"),
                }),
                None,
            )),
            Ok(Err(ReadError::Io(e))) => Ok((ConnectOutcome::Closed(e.to_string()), None)),
            Ok(Err(e)) => bail!("undecodable reply to CONNECT: {e}"),
        }
    }

    /// When the sensor last sent a packet (the base of the keep-alive deadline).
    pub fn last_sent(&self) -> Instant {
        self.last_sent
    }

    /// The local socket address (how the fault proxy identifies this client).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.conn.get_ref().local_addr()
    }

    /// Sends a packet.
    pub async fn send(&mut self, p: &Packet) -> anyhow::Result<()> {
        self.last_sent = Instant::now();
        self.conn.write_packet(p).await?;
        Ok(())
    }

    /// Publishes and completes the QoS flow (the broker's acknowledgements are checked).
    pub async fn publish(&mut self, mut p: Publish) -> anyhow::Result<()> {
        if p.qos != QoS::AtMostOnce && p.packet_id.is_none() {
            self.next_pid = self.next_pid.wrapping_add(1).max(1);
            p.packet_id = Some(self.next_pid);
        }
        let (qos, id) = (p.qos, p.packet_id.unwrap_or(0));
        self.send(&Packet::Publish(p)).await?;
        match qos {
            QoS::AtMostOnce => Ok(()),
            QoS::AtLeastOnce => self.expect(|p| matches!(p, Packet::PubAck(r) if r.packet_id == id), "PUBACK").await,
            QoS::ExactlyOnce => {
                self.expect(|p| matches!(p, Packet::PubRec(r) if r.packet_id == id), "PUBREC").await?;
                self.send(&Packet::PubRel(PubResp::new(id))).await?;
                self.expect(|p| matches!(p, Packet::PubComp(r) if r.packet_id == id), "PUBCOMP").await
            }
        }
    }

    /// Subscribes (a sensor that is also a subscriber, e.g. a shared-subscription member) and
    /// returns the SUBACK codes.
    pub async fn subscribe(&mut self, filter: &str, options: SubOptions) -> anyhow::Result<Vec<u8>> {
        self.next_pid = self.next_pid.wrapping_add(1).max(1);
        let packet_id = self.next_pid;
        let s = Subscribe { packet_id, properties: Properties::new(), filters: vec![(filter.to_owned(), options)] };
        self.send(&Packet::Subscribe(s)).await?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.conn.read_packet()).await {
                Err(_) => bail!("no SUBACK within {REPLY_TIMEOUT:?}"),
                Ok(Ok(Some(Packet::SubAck(a)))) if a.packet_id == packet_id => return Ok(a.codes),
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) => bail!("connection closed while waiting for SUBACK"),
                Ok(Err(e)) => bail!("error while waiting for SUBACK: {e}"),
            }
        }
    }

    /// Sends PINGREQ and waits for PINGRESP.
    pub async fn ping(&mut self) -> anyhow::Result<()> {
        self.send(&Packet::PingReq).await?;
        self.expect(|p| matches!(p, Packet::PingResp), "PINGRESP").await
    }

    async fn expect(&mut self, want: impl Fn(&Packet) -> bool, what: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.conn.read_packet()).await {
                Err(_) => bail!("no {what} within {REPLY_TIMEOUT:?}"),
                Ok(Ok(Some(p))) if want(&p) => return Ok(()),
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) => bail!("connection closed while waiting for {what}"),
                Ok(Err(e)) => bail!("error while waiting for {what}: {e}"),
            }
        }
    }

    /// Whether this sensor speaks MQTT over a WebSocket.
    pub fn is_ws(&self) -> bool {
        self.conn.get_ref().is_ws()
    }

    /// Applies a client-side fault. The sensor is consumed: after a fault it is gone, except for
    /// [`Fault::Silence`], whose open socket is returned inside the record so it stays half-alive.
    pub async fn inject(mut self, fault: &Fault) -> anyhow::Result<FaultRecord> {
        let planned = Instant::now();
        let mut held = None;
        let actual = match fault {
            // Over a WebSocket, FIN goes to the TCP socket under it: no close frame.
            Fault::Fin if self.conn.get_ref().is_ws() => {
                let at = Instant::now();
                let _ = self.conn.get_ref().fin_tcp();
                drop(self.conn);
                at
            }
            Fault::Fin => {
                let at = Instant::now();
                let _ = self.conn.shutdown().await;
                drop(self.conn);
                at
            }
            Fault::WsClose => {
                anyhow::ensure!(self.conn.get_ref().is_ws(), "a WebSocket close frame needs a ws:// or wss:// target");
                let at = Instant::now();
                let _ = self.conn.shutdown().await;
                drain_until_closed(&mut self.conn).await;
                at
            }
            Fault::Rst => {
                self.conn.get_ref().tcp().set_zero_linger()?;
                let at = Instant::now();
                drop(self.conn);
                at
            }
            Fault::Silence => {
                // Nothing more is sent; the keep-alive deadline runs from the last packet.
                let at = self.last_sent;
                held = Some(self.conn);
                at
            }
            Fault::Disconnect { reason, session_expiry } => {
                let mut d = Disconnect::new(*reason);
                if let Some(s) = session_expiry {
                    d.properties.push(Property::SessionExpiryInterval(*s));
                }
                let at = Instant::now();
                self.conn.write_packet(&Packet::Disconnect(d)).await?;
                let _ = self.conn.shutdown().await;
                drain_until_closed(&mut self.conn).await;
                at
            }
            Fault::DisconnectRaw(bytes) => {
                let at = Instant::now();
                self.conn.write_raw(bytes).await?;
                let _ = self.conn.shutdown().await;
                drain_until_closed(&mut self.conn).await;
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
                self.conn.write_raw(&bytes).await?;
                // Keep the socket open: the broker must be the one to close it.
                held = Some(self.conn);
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
    pub async fn publish_no_wait(&mut self, mut p: Publish) -> anyhow::Result<()> {
        if p.qos != QoS::AtMostOnce && p.packet_id.is_none() {
            self.next_pid = self.next_pid.wrapping_add(1).max(1);
            p.packet_id = Some(self.next_pid);
        }
        self.send(&Packet::Publish(p)).await
    }

    /// The next packet the broker sends within `within` (`None` when nothing came), e.g. the AUTH
    /// answering a re-authentication; an error when the connection ended.
    pub async fn next_packet(&mut self, within: Duration) -> anyhow::Result<Option<Packet>> {
        match tokio::time::timeout(within, self.conn.read_packet()).await {
            Err(_) => Ok(None),
            Ok(Ok(Some(p))) => Ok(Some(p)),
            Ok(Ok(None)) => bail!("end of stream"),
            Ok(Err(e)) => bail!("{e}"),
        }
    }

    /// Waits until the broker sends DISCONNECT or closes this connection (a taken-over sensor).
    pub async fn await_server_close(&mut self, within: Duration) -> ServerClose {
        await_server_close(&mut self.conn, within).await
    }
}

async fn drain_until_closed(conn: &mut Connection<ClientStream>) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Ok(Ok(Some(_))) = tokio::time::timeout_at(deadline, conn.read_packet()).await {}
}
