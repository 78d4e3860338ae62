//! One task per network connection: it decodes packets, enforces keep-alive and forwards everything
//! to the core in order, and meanwhile drains the connection's outbox to the socket. It holds no
//! broker state, and writing never blocks reading, so a stalled peer never blocks anyone else.

use crate::codec::{reason, ConnAck, Connect, DecodeError, Packet, Properties, Property, ProtocolVersion};
use crate::eventgrid::{webhook_authn, AuthRequest, Namespace, Principal, WillAuthorization};
use rustls::pki_types::CertificateDer;
use crate::config::Config;
use crate::connection::{Connection, ReadError};
use crate::core::{ConnId, ConnectReply, Event};
use crate::outbox::{Drive, Out, Outbox, WRITE_TIMEOUT};
use crate::timers::Stamp;
use crate::will::{keep_alive_grace, CloseReason};
use bytes::Bytes;
use std::future::Future;
use std::num::NonZeroU64;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, info, Instrument};

/// A byte stream a listener hands over (TCP or TLS).
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Serves one plain TCP connection until it closes. The reader, the writer and the core share the
/// socket: the core writes through to it while the writer is idle (see [`Outbox::send`]).
pub fn serve_tcp(
    stream: TcpStream,
    peer: SocketAddr,
    conn: ConnId,
    cfg: Arc<Config>,
    core: mpsc::Sender<Event>,
) -> impl std::future::Future<Output = ()> {
    let s = Arc::new(stream);
    serve(SharedTcp(s.clone()), SharedTcp(s.clone()), Some(&s), peer, conn, cfg, core, Vec::new())
}

/// Serves one connection of any other transport (TLS) until it closes; `certs` is the client's
/// certificate chain, if it presented one.
pub fn serve_stream<S: Stream>(
    stream: S,
    peer: SocketAddr,
    conn: ConnId,
    cfg: Arc<Config>,
    core: mpsc::Sender<Event>,
    certs: Vec<CertificateDer<'static>>,
) -> impl std::future::Future<Output = ()> {
    let (r, w) = tokio::io::split(stream);
    serve(r, w, None, peer, conn, cfg, core, certs)
}

/// Builds the connection task: the handshake first, then [`Live`], then closing.
#[allow(clippy::too_many_arguments)]
fn serve<R, W>(
    read_half: R,
    write_half: W,
    direct: Option<&Arc<TcpStream>>,
    peer: SocketAddr,
    conn: ConnId,
    cfg: Arc<Config>,
    core: mpsc::Sender<Event>,
    certs: Vec<CertificateDer<'static>>,
) -> ConnTask<R, W>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    // The span lives in the boxed handshake only: a span in every idle connection's state costs
    // 40 bytes, and nothing logs from a live connection's task (the core logs with the conn id).
    let span = tracing::debug_span!("conn", id = conn, %peer);
    let (outbox, rx) = Outbox::new(direct);
    let out = Out::new(write_half, rx);
    let mut c = Connection::new(read_half);
    c.set_max_packet_size(cfg.max_packet_size as usize);
    // The handshake is boxed: its state is freed once the client is in.
    let hs = Box::pin(
        async move {
            match handshake(&mut c, peer, conn, &cfg, &core, outbox, certs).await {
                Some(keep_alive) => Ok(Live::new(c, out, core, conn, keep_alive_grace(&cfg.will_hook, keep_alive))),
                None => Err(out),
            }
        }
        .instrument(span),
    );
    ConnTask { state: State::Handshake(hs) }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One connection's task. Written by hand rather than as an `async fn`, so that an idle
/// connection's state is only what [`Live`] needs, not the union of every await point's futures:
/// memory per idle connection is a target of this broker. tokio allocates a task as one block of
/// a multiple of 128 bytes with about 104 bytes of its own, so this state is kept at or under 152
/// bytes, for a 256-byte task (`tests/memory.rs` pins it).
pub struct ConnTask<R, W> {
    state: State<R, W>,
}

enum State<R, W> {
    /// Reading and judging the CONNECT; gives the live connection, or the writer to flush a refusal.
    Handshake(BoxFuture<Result<Live<R, W>, Out<W>>>),
    /// Connected.
    Live(Live<R, W>),
    /// Telling the core the connection ended, flushing what it queued, closing.
    Closing(BoxFuture<()>),
    Done,
}

impl<R, W> Future for ConnTask<R, W>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Handshake(hs) => {
                    this.state = match ready!(hs.as_mut().poll(cx)) {
                        Ok(live) => State::Live(live),
                        Err(out) => State::Closing(closing(out, None)),
                    };
                }
                State::Live(live) => {
                    let ending = ready!(live.poll_live(cx));
                    let State::Live(live) = std::mem::replace(&mut this.state, State::Done) else { unreachable!() };
                    let tell = ending.map(|reason| (live.core, Event::Closed { conn: live.conn, reason }));
                    this.state = State::Closing(closing(live.out, tell));
                }
                State::Closing(f) => {
                    ready!(f.as_mut().poll(cx));
                    this.state = State::Done;
                }
                State::Done => return Poll::Ready(()),
            }
        }
    }
}

/// Tells the core (when `tell` is set), then writes whatever it still queued (the CONNACK of a
/// refusal, a final DISCONNECT) before the socket closes.
fn closing<W: AsyncWrite + Send + Unpin + 'static>(
    mut out: Out<W>,
    tell: Option<(mpsc::Sender<Event>, Event)>,
) -> BoxFuture<()> {
    Box::pin(async move {
        if let Some((core, ev)) = tell {
            to_core(&core, ev).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), out.finish()).await;
    })
}

/// A connected client: reads and forwards packets in order, drains the outbox, and keeps one
/// timer for the keep-alive deadline and the write-stall limit. Every idle connection holds one,
/// so its fields are compact: clocks as 8-byte [`Stamp`]s, the grace in whole milliseconds.
struct Live<R, W> {
    c: Connection<R>,
    out: Out<W>,
    core: mpsc::Sender<Event>,
    conn: ConnId,
    /// 1.5 × Keep Alive (or the will hook's grace), in milliseconds rounded up; `None`: no limit.
    grace_ms: Option<NonZeroU64>,
    last_rx: Stamp,
    /// Fires at its deadline (`timer.deadline()`). A packet only moves the keep-alive deadline
    /// later, so the timer is not reset per packet: when it fires early it is re-armed. Boxed so
    /// that `Live` can move (from the handshake into the task) after it is built.
    timer: Pin<Box<tokio::time::Sleep>>,
    /// A packet waiting for room in the core's queue, and whether it is a DISCONNECT. Reading
    /// pauses meanwhile, so packets stay in order. Boxed again: rare, and a thin pointer is 8
    /// bytes of every connection's state instead of 24.
    waiting: Option<Box<(BoxFuture<bool>, bool)>>,
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 86400)
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Live<R, W> {
    fn new(c: Connection<R>, out: Out<W>, core: mpsc::Sender<Event>, conn: ConnId, grace: Option<Duration>) -> Self {
        let grace_ms = grace.and_then(|g| NonZeroU64::new(g.as_nanos().div_ceil(1_000_000).clamp(1, u64::MAX as u128) as u64));
        let timer = Box::pin(tokio::time::sleep_until(far_future()));
        let mut live = Live { c, out, core, conn, grace_ms, last_rx: Stamp::now(), timer, waiting: None };
        if let Some(due) = live.keep_alive_deadline() {
            live.timer.as_mut().reset(due);
        }
        live
    }

    /// When the keep-alive grace after the last packet runs out.
    fn keep_alive_deadline(&self) -> Option<Instant> {
        // A grace too long for the clock is no limit in practice (and must not panic).
        self.grace_ms.and_then(|g| self.last_rx.instant().checked_add(Duration::from_millis(g.get())))
    }

    /// The next instant the timer must check: the keep-alive deadline, the write-stall limit or
    /// the authentication's expiry.
    fn due(&self) -> Option<Instant> {
        match (self.keep_alive_deadline(), self.out.stall_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs until the connection ends: `Some(reason)` when the core must hear why, `None` after a
    /// DISCONNECT was handed over or when the core is gone.
    fn poll_live(&mut self, cx: &mut Context<'_>) -> Poll<Option<CloseReason>> {
        // A bounded number of rounds per poll, so one busy connection cannot hold a worker.
        for _ in 0..32 {
            let mut progress = false;
            if let Some(waiting) = &mut self.waiting {
                let (send, disconnect) = &mut **waiting;
                match send.as_mut().poll(cx) {
                    Poll::Ready(true) if *disconnect => return Poll::Ready(None),
                    Poll::Ready(true) => {
                        self.waiting = None;
                        progress = true;
                    }
                    Poll::Ready(false) => return Poll::Ready(None),
                    Poll::Pending => {}
                }
            }
            match self.out.poll_drive(cx) {
                Poll::Ready(Drive::Progress) => progress = true,
                // The broker closed the connection (takeover, DISCONNECT, ...), or a write failed.
                Poll::Ready(Drive::Closed) => {
                    return Poll::Ready(Some(CloseReason::Io("connection closed by the broker".into())))
                }
                Poll::Ready(Drive::Failed(e)) => return Poll::Ready(Some(CloseReason::Io(format!("write failed: {e}")))),
                Poll::Pending => {}
            }
            if self.waiting.is_none() {
                if let Poll::Ready(read) = self.c.poll_read_frame(cx) {
                    progress = true;
                    match forward(&self.core, self.conn, read, self.c.version()) {
                        Err(reason) => return Poll::Ready(Some(reason)),
                        Ok(Forwarded::Taken { disconnect: true }) | Ok(Forwarded::CoreGone) => return Poll::Ready(None),
                        Ok(Forwarded::Taken { disconnect: false }) => {}
                        Ok(Forwarded::Waiting(send, disconnect)) => self.waiting = Some(Box::new((send, disconnect))),
                    }
                    self.last_rx = Stamp::now();
                }
            }
            if let Some(want) = self.due().filter(|w| *w < self.timer.deadline()) {
                self.timer.as_mut().reset(want);
            }
            if self.timer.as_mut().poll(cx).is_ready() {
                let now = Instant::now();
                if self.out.stall_deadline().is_some_and(|t| t <= now) {
                    let why = format!("write stalled for {} s: peer stopped reading", WRITE_TIMEOUT.as_secs());
                    return Poll::Ready(Some(CloseReason::Io(why)));
                }
                if self.keep_alive_deadline().is_some_and(|t| t <= now) {
                    return Poll::Ready(Some(CloseReason::KeepAliveTimeout));
                }
                let next = self.due().unwrap_or_else(far_future);
                self.timer.as_mut().reset(next);
                progress = true;
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Reads and judges the CONNECT, hands it to the core and waits for its verdict. Gives the
/// negotiated keep-alive once the client is in; `None`
/// when it is refused or gone.
async fn handshake<R: AsyncRead + Unpin>(
    c: &mut Connection<R>,
    peer: SocketAddr,
    conn: ConnId,
    cfg: &Config,
    core: &mpsc::Sender<Event>,
    outbox: Outbox,
    certs: Vec<CertificateDer<'static>>,
) -> Option<u16> {
    // CONNECT must come first, within the connect timeout.
    let first = tokio::time::timeout(Duration::from_secs(cfg.connect_timeout_secs), c.read_frame()).await;
    let frame = match first {
        Err(_) => {
            debug!("no CONNECT within {} s: closed", cfg.connect_timeout_secs);
            return None;
        }
        Ok(Ok(Some(f))) => f,
        Ok(Ok(None)) => {
            debug!("closed before CONNECT");
            return None;
        }
        Ok(Err(e)) => {
            debug!("bad first packet: {e}");
            // Nothing is answered: the protocol level is not known yet, and a 3.1.1 client has no
            // return code for a packet that is too large (5.0 allows a plain close too).
            outbox.close();
            return None;
        }
    };
    if frame.header >> 4 != 1 {
        debug!("first packet is not CONNECT (MQTT-3.1.0-1): closed");
        outbox.close();
        return None;
    }
    // The level byte tells which CONNACK encoding the client understands, even if the rest is bad.
    let level = if frame.body.len() >= 7 && frame.body[..6] == *b"\x00\x04MQTT" { frame.body[6] } else { 0 };
    let connect = match crate::codec::decode_frame(&frame, ProtocolVersion::V5) {
        Ok(Packet::Connect(connect)) => Box::new(own_will_bytes(connect)),
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
            outbox.close();
            return None;
        }
    };
    let version = connect.protocol;
    c.set_version(version);
    tracing::Span::current().record("client", connect.client_id.as_str());
    let principal = match cfg.namespace.get() {
        None => None,
        Some(ns) => match authenticate(ns, &connect, &certs).await {
            Ok(p) => Some(Arc::new(p)),
            Err((code5, code311, why)) => {
                info!(conn, %peer, client = %connect.client_id, "CONNECT refused by the namespace: {why}");
                if let Some(w) = &connect.will {
                    debug!(target: "lwt_broker::will", topic = %w.topic, "will dropped: CONNECT refused (MQTT-3.1.4-5/-6)");
                }
                match (version.is_v5(), code311) {
                    (true, _) => refuse_connect(&outbox, version, code5, &crate::eventgrid::client_reason(ns.settings(), code5, &why)),
                    (false, Some(code)) => refuse_connect(&outbox, version, code, ""),
                    // 3.1.1 has no return code for this refusal: close without CONNACK.
                    (false, None) => {}
                }
                outbox.close();
                return None;
            }
        },
    };
    drop(certs);
    let (reply_tx, reply_rx) = oneshot::channel();
    let event = Event::Connect { conn, peer, connect, principal, outbox: outbox.clone(), reply: reply_tx };
    if !to_core(core, event).await {
        outbox.close();
        return None;
    }
    drop(outbox);
    match reply_rx.await {
        Ok(ConnectReply { accepted: true, keep_alive }) => Some(keep_alive),
        _ => None,
    }
}

/// Gives the will's binary parts (payload, Correlation Data) storage of their own. Decoded, they
/// are slices of the buffer the CONNECT was read into, which they would keep alive (and with it
/// the whole packet) for as long as the will is armed: for an idle client, its whole life.
fn own_will_bytes(mut connect: Connect) -> Connect {
    if let Some(w) = connect.will.as_mut() {
        w.payload = Bytes::copy_from_slice(&w.payload);
        for p in w.properties.0.iter_mut() {
            if let Property::CorrelationData(d) = p {
                *d = Bytes::copy_from_slice(d);
            }
        }
    }
    connect
}

/// What became of a packet handed to the core.
enum Forwarded {
    /// The core's queue took it; `disconnect` if it was a DISCONNECT.
    Taken { disconnect: bool },
    /// The queue is full: the send waits for room (and whether it is a DISCONNECT).
    Waiting(BoxFuture<bool>, bool),
    /// The core is gone (shutting down).
    CoreGone,
}

/// Decodes what was read and hands the packet to the core, or says why the connection ends.
fn forward(
    core: &mpsc::Sender<Event>,
    conn: ConnId,
    read: Result<Option<crate::codec::Frame>, ReadError>,
    version: ProtocolVersion,
) -> Result<Forwarded, CloseReason> {
    let decoded = match read {
        Ok(Some(frame)) => crate::codec::decode_frame(&frame, version).map_err(ReadError::Decode),
        Ok(None) => return Err(CloseReason::PeerClosed),
        Err(e) => Err(e),
    };
    match decoded {
        Ok(packet) => {
            let disconnect = matches!(packet, Packet::Disconnect(_));
            Ok(match try_to_core(core, Event::Packet { conn, packet }) {
                Ok(None) => Forwarded::Taken { disconnect },
                Ok(Some(send)) => Forwarded::Waiting(send, disconnect),
                Err(()) => Forwarded::CoreGone,
            })
        }
        Err(ReadError::Io(e)) => Err(CloseReason::Io(e.to_string())),
        Err(ReadError::EofInPacket(n)) => Err(CloseReason::Io(format!("connection closed inside a packet ({n} bytes buffered)"))),
        Err(ReadError::Decode(e)) => Err(CloseReason::BadPacket { code: e.reason_code(), detail: e.to_string() }),
    }
}

/// Hands `ev` to the core at once when its queue has room (`Ok(None)`); otherwise gives a boxed
/// send that waits for room, so no connection carries a send future in its state for its whole
/// life. `Err` when the core is gone.
fn try_to_core(core: &mpsc::Sender<Event>, ev: Event) -> Result<Option<BoxFuture<bool>>, ()> {
    match core.try_send(ev) {
        Ok(()) => Ok(None),
        Err(mpsc::error::TrySendError::Full(ev)) => {
            let core = core.clone();
            Ok(Some(Box::pin(async move { core.send(ev).await.is_ok() })))
        }
        Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
    }
}

/// Sends `ev` to the core; says whether the core took it.
async fn to_core(core: &mpsc::Sender<Event>, ev: Event) -> bool {
    match try_to_core(core, ev) {
        Ok(None) => true,
        Ok(Some(send)) => send.await,
        Err(()) => false,
    }
}

/// The namespace's verdict on a CONNECT: who the client is (and until when, if a webhook said),
/// or the refusal as (5.0 code, 3.1.1 code or `None` = close without CONNACK, reason for the log).
async fn authenticate(
    ns: &Namespace,
    connect: &Connect,
    certs: &[CertificateDer<'static>],
) -> Result<Principal, (u8, Option<u8>, String)> {
    let auth_method = connect.properties.authentication_method();
    let auth_data = connect.properties.authentication_data();
    let req = AuthRequest {
        username: connect.username.as_deref(),
        client_id: &connect.client_id,
        peer_certs: certs,
        now: std::time::SystemTime::now(),
        auth_method: auth_method.as_deref(),
        auth_data: auth_data.as_deref(),
    };
    // A webhook's `expiration` is the principal's `valid_until`: it ends the connection as a
    // token's `exp` would (the core's token timer).
    let principal = match webhook_authn::routes_to_webhook(ns, connect, certs) {
        Some(hook) => webhook_authn::authenticate(ns, hook, connect, certs)
            .await
            .map(|a| a.principal)
            .map_err(|f| (f.v5_code(), Some(f.v311_code()), f.to_string()))?,
        None => ns.authenticate(&req).map_err(|f| (f.v5_code(), Some(f.v311_code()), f.to_string()))?,
    };
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

/// A TCP stream shared by a connection's reader, its writer and the core's write-through
/// ([`Outbox::send`]). Reads and writes go through readiness and non-blocking calls on `&TcpStream`.
///
/// Teardown is off the hot path: shutting down does nothing here, and the last half to go hands
/// the socket to [`crate::closer`], whose low-priority thread deregisters and closes it (the FIN
/// goes out then). In a storm of 10,000 closes, FIN/close work was half the broker's CPU; the
/// wills now go out first.
struct SharedTcp(Arc<TcpStream>);

impl Drop for SharedTcp {
    fn drop(&mut self) {
        if Arc::strong_count(&self.0) == 1 {
            crate::closer::bury(self.0.clone());
        }
    }
}

impl AsyncRead for SharedTcp {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            // `recv` into the unfilled (uninitialised) part directly: `try_read` would need it
            // zeroed first, 8 KiB of memset on every read. `try_io` keeps tokio's readiness right.
            // SAFETY: only `recv` writes into it, and no byte of it is de-initialised.
            let unfilled = unsafe { buf.unfilled_mut() };
            match self.0.try_io(tokio::io::Interest::READABLE, || socket2::SockRef::from(&*self.0).recv(unfilled)) {
                Ok(n) => {
                    // SAFETY: `recv` wrote the first `n` bytes of the unfilled part.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write_vectored(bufs) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // The FIN goes out when the closer closes the socket (see above).
        Poll::Ready(Ok(()))
    }
}
