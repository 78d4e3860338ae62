//! One task per network connection: it decodes packets, enforces keep-alive and forwards everything
//! to the core in order, and meanwhile drains the connection's outbox to the socket. It holds no
//! broker state, and writing never blocks reading, so a stalled peer never blocks anyone else.

use crate::codec::{reason, ConnAck, Connect, DecodeError, Packet, Properties, Property, ProtocolVersion};
use crate::eventgrid::{AuthRequest, Namespace, Principal, WillAuthorization};
use rustls::pki_types::CertificateDer;
use crate::config::Config;
use crate::connection::{Connection, ReadError};
use crate::core::{CloseReason, ConnId, ConnectReply, Event, Outbound, Outbox, OutboxReceiver};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, info, Instrument};

/// A byte stream a listener hands over (TCP now, TLS later).
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Serves one connection until it closes. (Not an `async fn`: that would store every argument a
/// second time in each connection's task.)
pub fn serve<S: Stream>(
    stream: S,
    peer: SocketAddr,
    conn: ConnId,
    cfg: Arc<Config>,
    core: mpsc::Sender<Event>,
    certs: Vec<CertificateDer<'static>>,
) -> impl std::future::Future<Output = ()> {
    let span = tracing::debug_span!("conn", id = conn, %peer);
    async move {
        let (read_half, write_half) = tokio::io::split(stream);
        let (outbox, rx) = Outbox::new();
        let mut out = Out::new(write_half, rx);
        reader(read_half, peer, conn, cfg, core, outbox, &mut out, certs).await;
        // Whatever the core still queued (CONNACK of a refusal, a final DISCONNECT) goes out before
        // the socket closes.
        let _ = tokio::time::timeout(Duration::from_secs(5), out.finish()).await;
    }
    .instrument(span)
}

async fn reader<S: Stream>(
    read_half: ReadHalf<S>,
    peer: SocketAddr,
    conn: ConnId,
    cfg: Arc<Config>,
    core: mpsc::Sender<Event>,
    outbox: Outbox,
    out: &mut Out<S>,
    certs: Vec<CertificateDer<'static>>,
) {
    let mut c = Connection::new(read_half);
    c.set_max_packet_size(cfg.max_packet_size as usize);

    // CONNECT must come first, within the connect timeout.
    let first = tokio::time::timeout(Duration::from_secs(cfg.connect_timeout_secs), c.read_frame()).await;
    let frame = match first {
        Err(_) => return debug!("no CONNECT within {} s: closed", cfg.connect_timeout_secs),
        Ok(Ok(Some(f))) => f,
        Ok(Ok(None)) => return debug!("closed before CONNECT"),
        Ok(Err(e)) => {
            debug!("bad first packet: {e}");
            // Nothing is answered: the protocol level is not known yet, and a 3.1.1 client has no
            // return code for a packet that is too large (5.0 allows a plain close too).
            return outbox.close();
        }
    };
    if frame.header >> 4 != 1 {
        debug!("first packet is not CONNECT (MQTT-3.1.0-1): closed");
        return outbox.close();
    }
    // The level byte tells which CONNACK encoding the client understands, even if the rest is bad.
    let level = if frame.body.len() >= 7 && frame.body[..6] == *b"\x00\x04MQTT" { frame.body[6] } else { 0 };
    let connect = match crate::codec::decode_frame(&frame, ProtocolVersion::V5) {
        Ok(Packet::Connect(connect)) => Box::new(connect),
        Ok(_) => unreachable!("type checked above"),
        Err(err) => {
            debug!("CONNECT rejected: {err}");
            match (&err, level) {
                (DecodeError::UnsupportedProtocol { .. }, l) if l != 5 => {
                    refuse_connect(&outbox, ProtocolVersion::V311, reason::v311::UNACCEPTABLE_PROTOCOL_VERSION, "")
                }
                (_, 5) | (DecodeError::UnsupportedProtocol { .. }, _) => {
                    refuse_connect(&outbox, ProtocolVersion::V5, err.reason_code(), &err.to_string())
                }
                _ => {}
            }
            return outbox.close();
        }
    };
    let version = connect.protocol;
    c.set_version(version);
    tracing::Span::current().record("client", connect.client_id.as_str());
    let principal = match cfg.namespace.get() {
        None => None,
        Some(ns) => match authenticate(ns, &connect, &certs) {
            Ok(p) => Some(Arc::new(p)),
            Err((code5, code311, why)) => {
                info!(conn, %peer, client = %connect.client_id, "CONNECT refused by the namespace: {why}");
                if let Some(w) = &connect.will {
                    debug!(target: "lwt_broker::will", topic = %w.topic, "will dropped: CONNECT refused (MQTT-3.1.4-5/-6)");
                }
                match (version.is_v5(), code311) {
                    (true, _) => refuse_connect(&outbox, version, code5, &why),
                    (false, Some(code)) => refuse_connect(&outbox, version, code, ""),
                    // 3.1.1 has no return code for this refusal: close without CONNACK.
                    (false, None) => {}
                }
                return outbox.close();
            }
        },
    };
    drop(certs);
    let (reply_tx, reply_rx) = oneshot::channel();
    let event = Event::Connect { conn, peer, connect, principal, outbox: outbox.clone(), reply: reply_tx };
    if !to_core(&core, event).await {
        return outbox.close();
    }
    drop(outbox);
    let Ok(ConnectReply { accepted: true, keep_alive }) = reply_rx.await else { return };

    // Keep-alive: the deadline is 1.5 x keep-alive after the last packet received (MQTT-3.1.2-24 / -22).
    let per_mille: u64 = if crate::mutant_on!(cfg, KeepAliveMultiplier1) {
        1000
    } else if crate::mutant_on!(cfg, KeepAliveMultiplier25) {
        2500
    } else {
        1500
    };
    let grace = (keep_alive > 0).then(|| Duration::from_millis(keep_alive as u64 * per_mille));
    let mut deadline = grace.map(|g| Instant::now() + g);
    let reason = loop {
        let read = tokio::select! {
            r = c.read_packet() => r,
            _ = sleep_until_opt(deadline) => break CloseReason::KeepAliveTimeout,
            w = out.drive() => match w {
                Drive::Progress => continue,
                // The broker closed the connection (takeover, DISCONNECT, ...), or a write failed.
                Drive::Closed => break CloseReason::Io("connection closed by the broker".into()),
                Drive::Failed(e) => break CloseReason::Io(format!("write failed: {e}")),
            },
        };
        match read {
            Ok(Some(packet)) => {
                if let Some(g) = grace {
                    deadline = Some(Instant::now() + g);
                }
                let is_disconnect = matches!(packet, Packet::Disconnect(_));
                if !to_core(&core, Event::Packet { conn, packet }).await {
                    return;
                }
                if is_disconnect {
                    return;
                }
            }
            Ok(None) => break CloseReason::PeerClosed,
            Err(ReadError::Io(e)) => break CloseReason::Io(e.to_string()),
            Err(ReadError::EofInPacket(n)) => {
                break CloseReason::Io(format!("connection closed inside a packet ({n} bytes buffered)"))
            }
            Err(ReadError::Decode(e)) => break CloseReason::BadPacket { code: e.reason_code(), detail: e.to_string() },
        }
    };
    to_core(&core, Event::Closed { conn, reason }).await;
}

/// Sends `ev` to the core; the future says whether the core took it. The common case (room in the
/// queue) is done at the call; only a full queue waits, in a boxed future, so each connection task
/// does not carry a large send future (and a copy of the event) in its state for its whole life.
fn to_core(core: &mpsc::Sender<Event>, ev: Event) -> impl std::future::Future<Output = bool> + '_ {
    let pending = match core.try_send(ev) {
        Ok(()) => Ok(None),
        Err(mpsc::error::TrySendError::Full(ev)) => Ok(Some(Box::pin(core.send(ev)))),
        Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
    };
    async move {
        match pending {
            Ok(None) => true,
            Ok(Some(send)) => send.await.is_ok(),
            Err(()) => false,
        }
    }
}

/// The namespace's verdict on a CONNECT: who the client is, or the refusal as (5.0 code, 3.1.1
/// code or `None` = close without CONNACK, reason for the log).
fn authenticate(
    ns: &Namespace,
    connect: &Connect,
    certs: &[CertificateDer<'static>],
) -> Result<Principal, (u8, Option<u8>, String)> {
    let auth_method = connect.properties.authentication_method();
    let req = AuthRequest {
        username: connect.username.as_deref(),
        client_id: &connect.client_id,
        peer_certs: certs,
        now: std::time::SystemTime::now(),
        auth_method: auth_method.as_deref(),
    };
    let principal = ns.authenticate(&req).map_err(|f| (f.v5_code(), Some(f.v311_code()), f.to_string()))?;
    let settings = ns.settings();
    if let Some(w) = &connect.will {
        if settings.legacy_no_will {
            return Err((
                reason::IMPLEMENTATION_SPECIFIC_ERROR,
                None,
                "this namespace emulates Event Grid before Last Will support (legacy_no_will)".into(),
            ));
        }
        if settings.will_authorization == WillAuthorization::AtConnect {
            if let Err(denied) = ns.may_publish(&principal, &w.topic) {
                return Err((
                    reason::NOT_AUTHORIZED,
                    Some(reason::v311::NOT_AUTHORIZED),
                    format!("will topic {:?} not authorized (check_at_connect): {denied}", w.topic),
                ));
            }
        }
    }
    Ok(principal)
}

fn refuse_connect(outbox: &Outbox, version: ProtocolVersion, code: u8, why: &str) {
    let mut properties = Properties::new();
    if version.is_v5() && !why.is_empty() {
        properties.push(Property::ReasonString(why.to_owned()));
    }
    outbox.packet(&Packet::ConnAck(ConnAck { session_present: false, code, properties }), version);
}

/// How long one write may block before the peer is considered gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What one step of the writing side did.
enum Drive {
    /// Bytes were taken from the outbox or written.
    Progress,
    /// The core asked to close (or dropped every outbox); everything was flushed and shut down.
    Closed,
    /// The socket failed or stalled.
    Failed(std::io::Error),
}

/// The writing side of a connection: the outbox, a batch buffer, and the socket's write half.
pub struct Out<S> {
    w: WriteHalf<S>,
    rx: OutboxReceiver,
    /// Allocated on demand and released after large bursts, so an idle connection holds no buffer.
    buf: BytesMut,
    pos: usize,
    /// Outbox items in `buf`, counted as written once `buf` is flushed.
    items: usize,
    closing: bool,
    /// When the current write started waiting, for the stall limit.
    stalled_since: Option<Instant>,
}

impl<S: Stream> Out<S> {
    fn new(w: WriteHalf<S>, rx: OutboxReceiver) -> Self {
        Out { w, rx, buf: BytesMut::new(), pos: 0, items: 0, closing: false, stalled_since: None }
    }

    fn take(&mut self, item: Outbound) {
        match item {
            Outbound::Bytes(b) => {
                self.buf.extend_from_slice(&b);
                self.items += 1;
            }
            Outbound::Close => self.closing = true,
        }
    }

    /// One step: fill the buffer from the outbox, or write some of it. Cancel-safe: used inside
    /// `select!` next to reading.
    async fn drive(&mut self) -> Drive {
        if self.pos >= self.buf.len() {
            if self.closing {
                let _ = self.w.shutdown().await;
                return Drive::Closed;
            }
            match self.rx.recv().await {
                None => {
                    let _ = self.w.shutdown().await;
                    return Drive::Closed;
                }
                Some(item) => self.take(item),
            }
            while self.buf.len() < 64 * 1024 && !self.closing {
                match self.rx.try_recv() {
                    Some(item) => self.take(item),
                    None => break,
                }
            }
            return Drive::Progress;
        }
        let since = *self.stalled_since.get_or_insert_with(Instant::now);
        let written = tokio::select! {
            r = self.w.write(&self.buf[self.pos..]) => r,
            _ = tokio::time::sleep_until(since + WRITE_TIMEOUT) => {
                Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "peer stopped reading"))
            }
        };
        match written {
            Ok(0) => Drive::Failed(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                self.stalled_since = None;
                self.pos += n;
                if self.pos >= self.buf.len() {
                    self.pos = 0;
                    if self.buf.capacity() > 4096 {
                        self.buf = BytesMut::new();
                    } else {
                        self.buf.clear();
                    }
                    self.rx.written(std::mem::take(&mut self.items));
                }
                Drive::Progress
            }
            Err(e) => Drive::Failed(e),
        }
    }

    /// Writes everything still queued until the core closes the connection or drops its outbox.
    async fn finish(&mut self) {
        loop {
            match self.drive().await {
                Drive::Progress => {}
                Drive::Closed | Drive::Failed(_) => return,
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
