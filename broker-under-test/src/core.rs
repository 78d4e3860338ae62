//! The one owner of broker state. Connection tasks send it [`Event`]s; it decides everything that
//! touches sessions, subscriptions, retained messages and wills, and answers through each
//! connection's [`Outbox`]. Every will decision is made here (see [`crate::will`]).

use crate::codec::{
    reason, topic, ConnAck, Connect, Disconnect, Packet, Properties, Property, ProtocolVersion, PubResp, Publish,
    QoS, SubAck, Subscribe, UnsubAck, Unsubscribe, Will,
};
use crate::config::Config;
use crate::eventgrid::{Denied, Principal, Qos0Denied, Settings, V311PublishDenied};
use crate::router::{delivery_for, SubscriptionTree};
use crate::store::{
    ArmedWill, Delivery, FlowState, Inflight, Message, PendingWill, Session, Store, Subscription, NEVER,
};
use crate::will::{self, Ending};
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use std::task::{Context, Poll, Waker};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Identifies one network connection for the lifetime of the broker.
pub type ConnId = u64;

/// What the core sends to a connection's writer.
#[derive(Debug)]
pub enum Outbound {
    /// Encoded packet bytes to write.
    Bytes(Bytes),
    /// Flush, close the socket and stop the connection.
    Close,
}

/// The sending side of a connection's writer queue, with a count of queued items so a stalled
/// subscriber can be detected without blocking the core.
///
/// A plain locked queue plus the writer's waker rather than a tokio mpsc channel: an idle
/// connection then costs one small allocation instead of a channel with a preallocated 32-slot
/// block (about 1.5 KB per connection), and the writer needs no wait future in its state. On plain TCP it also holds the socket, so the core can write a
/// packet straight through while the writer is idle ([`Outbox::send`]): a will then reaches its
/// subscriber without waking the subscriber's task.
#[derive(Debug)]
pub struct Outbox {
    shared: Arc<OutboxShared>,
}

#[derive(Debug, Default)]
struct OutboxShared {
    queue: std::sync::Mutex<Queue>,
    /// Items queued and not yet written.
    queued: AtomicUsize,
    /// Live [`Outbox`] handles; the writer stops when it reaches 0 and the queue is drained.
    senders: AtomicUsize,
    /// The writer is gone: further items are dropped.
    rx_gone: AtomicBool,
    /// The socket, for writing through (plain TCP only; TLS state belongs to the writer).
    /// Weak: the connection task alone owns the socket, so its teardown never lands on the core.
    direct: Option<std::sync::Weak<tokio::net::TcpStream>>,
}

/// The queue and whether the writer holds bytes it has not finished writing. Writing through is
/// allowed only when both are empty, so bytes never overtake each other.
#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Outbound>,
    writer_busy: bool,
    /// The writer waiting for an item (or for the last [`Outbox`] to go).
    waker: Option<Waker>,
}

impl OutboxShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn push(&self, item: Outbound) {
        if self.rx_gone.load(Ordering::Acquire) {
            return;
        }
        let mut q = self.lock();
        q.items.push_back(item);
        let waker = q.waker.take();
        drop(q);
        wake(waker);
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Outbox { shared: self.shared.clone() }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            let waker = self.shared.lock().waker.take();
            wake(waker);
        }
    }
}

impl Outbox {
    /// A new outbox and the receiving end for the writer. With `direct`, [`Outbox::send`] may
    /// write to that socket itself.
    pub fn new(direct: Option<&Arc<tokio::net::TcpStream>>) -> (Outbox, OutboxReceiver) {
        let direct = direct.map(Arc::downgrade);
        let shared = Arc::new(OutboxShared { senders: AtomicUsize::new(1), direct, ..Default::default() });
        (Outbox { shared: shared.clone() }, OutboxReceiver { shared })
    }
    /// Encodes and queues `packet`.
    pub fn packet(&self, packet: &Packet, version: ProtocolVersion) {
        self.bytes(packet.to_bytes(version));
    }
    /// Queues encoded bytes.
    pub fn bytes(&self, bytes: Bytes) {
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        self.shared.push(Outbound::Bytes(bytes));
    }
    /// Sends encoded bytes: with `through` set, nothing queued and the writer idle, they go to the
    /// socket at once (a non-blocking write; whatever the socket does not take is queued);
    /// otherwise they are queued for the writer, which batches them.
    pub fn send(&self, bytes: Bytes, through: bool) {
        let Some(sock) = self.shared.direct.as_ref().filter(|_| through).and_then(|w| w.upgrade()) else {
            return self.bytes(bytes);
        };
        if self.shared.rx_gone.load(Ordering::Acquire) {
            return;
        }
        let mut q = self.shared.lock();
        let rest = if q.items.is_empty() && !q.writer_busy {
            match sock.try_write(&bytes) {
                Ok(n) if n == bytes.len() => return,
                Ok(n) => bytes.slice(n..),
                // Would block, or failed: the writer retries, and reports a failure as its own.
                Err(_) => bytes,
            }
        } else {
            bytes
        };
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        q.items.push_back(Outbound::Bytes(rest));
        let waker = q.waker.take();
        drop(q);
        wake(waker);
    }
    /// Asks the writer to close the connection.
    pub fn close(&self) {
        self.shared.push(Outbound::Close);
    }
    /// Items queued and not yet written.
    pub fn backlog(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}

/// The writer's end of an [`Outbox`].
#[derive(Debug)]
pub struct OutboxReceiver {
    shared: Arc<OutboxShared>,
}

impl OutboxReceiver {
    /// Moves every queued item into `into` (which must be empty) at once: `Ready(true)` when
    /// there were some, `Ready(false)` once every [`Outbox`] is dropped and the queue is drained.
    /// Taking marks the writer busy until [`OutboxReceiver::written`]; when pending, the task is
    /// woken by the next push.
    pub fn poll_take_all(&mut self, cx: &mut Context<'_>, into: &mut VecDeque<Outbound>) -> Poll<bool> {
        let mut q = self.shared.lock();
        if !q.items.is_empty() {
            std::mem::swap(&mut q.items, into);
            q.writer_busy = true;
            return Poll::Ready(true);
        }
        if self.shared.senders.load(Ordering::Acquire) == 0 {
            return Poll::Ready(false);
        }
        if !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            q.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
    /// Records that `n` queued items were written and the writer holds nothing more: the core
    /// may write through again.
    pub fn written(&self, n: usize) {
        self.shared.lock().writer_busy = false;
        self.shared.queued.fetch_sub(n, Ordering::Relaxed);
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        self.shared.rx_gone.store(true, Ordering::Release);
        self.shared.lock().items.clear();
    }
}

/// Why the network side of a connection ended, as seen by its reader.
#[derive(Clone, Debug)]
pub enum CloseReason {
    /// The peer closed the stream (FIN) without DISCONNECT.
    PeerClosed,
    /// A socket error (e.g. RST).
    Io(String),
    /// Nothing arrived for 1.5 × keep-alive.
    KeepAliveTimeout,
    /// A malformed packet or protocol error; the code goes in the server's DISCONNECT.
    BadPacket {
        /// 5.0 reason code for the DISCONNECT.
        code: u8,
        /// What was wrong.
        detail: String,
    },
}

/// Negotiated parameters the connection task needs after CONNECT.
#[derive(Debug)]
pub struct ConnectReply {
    /// Whether the CONNACK accepted the connection.
    pub accepted: bool,
    /// Keep-alive in force (seconds, 0 = none).
    pub keep_alive: u16,
}

/// Snapshot counters, for tests and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live connections that completed CONNECT.
    pub connections: usize,
    /// Sessions (live and offline).
    pub sessions: usize,
    /// Wills waiting for their delay or session end.
    pub pending_wills: usize,
    /// Wills published since start.
    pub wills_published: u64,
    /// Wills dropped because the namespace did not authorize their owner to publish them.
    pub wills_denied: u64,
    /// PUBLISH packets the namespace did not authorize.
    pub publishes_denied: u64,
}

/// Messages to the core.
#[derive(Debug)]
pub enum Event {
    /// A CONNECT arrived on a new connection.
    Connect {
        /// Connection id.
        conn: ConnId,
        /// Peer address.
        peer: SocketAddr,
        /// The decoded CONNECT.
        connect: Box<Connect>,
        /// Who the client is, when a namespace authenticated it.
        principal: Option<Arc<Principal>>,
        /// Where to send packets for this connection.
        outbox: Outbox,
        /// Negotiated parameters.
        reply: oneshot::Sender<ConnectReply>,
    },
    /// A packet arrived after CONNACK.
    Packet {
        /// Connection id.
        conn: ConnId,
        /// The packet.
        packet: Packet,
    },
    /// The connection's network side ended.
    Closed {
        /// Connection id.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
    /// Report counters.
    Stats(oneshot::Sender<Stats>),
    /// Publish every due will, close every connection and stop.
    Shutdown(oneshot::Sender<()>),
}

/// Per-connection state the core keeps while a connection is attached.
struct Conn {
    client_id: String,
    outbox: Outbox,
    version: ProtocolVersion,
    /// Client's Receive Maximum.
    receive_maximum: u16,
    /// Client's Maximum Packet Size.
    max_packet_size: Option<u32>,
    /// Inbound topic aliases.
    aliases: std::collections::BTreeMap<u16, String>,
    /// Session Expiry Interval the CONNECT asked for (0 forbids a non-zero value on DISCONNECT).
    connect_expiry: u32,
    /// Who the client is (with a namespace): every PUBLISH and SUBSCRIBE is authorized for it.
    principal: Option<Arc<Principal>>,
}

/// The broker core: run it with [`Core::run`].
pub struct Core {
    cfg: Arc<Config>,
    store: Box<dyn Store>,
    tree: SubscriptionTree,
    conns: HashMap<ConnId, Conn>,
    expiries: BTreeSet<(Instant, String)>,
    wills_published: u64,
    wills_denied: u64,
    publishes_denied: u64,
    /// Sessions (online and offline) held per authentication name, lowercased (namespace only):
    /// Event Grid's `maximumClientSessionsPerAuthenticationName`.
    owned: HashMap<String, std::collections::HashSet<String>>,
    /// No other event is waiting: deliveries are written through to idle subscribers at once
    /// rather than left for their writers to batch (see [`Outbox::send`]).
    write_through: bool,
}

impl Core {
    /// A core over `store`.
    pub fn new(cfg: Arc<Config>, store: Box<dyn Store>) -> Self {
        Core {
            cfg,
            store,
            tree: SubscriptionTree::default(),
            conns: HashMap::new(),
            expiries: BTreeSet::new(),
            wills_published: 0,
            wills_denied: 0,
            publishes_denied: 0,
            owned: HashMap::new(),
            write_through: false,
        }
    }

    /// Processes events until [`Event::Shutdown`] or until every sender is gone; fires timers.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Event>) {
        loop {
            let deadline = self.next_deadline();
            let event = tokio::select! {
                ev = rx.recv() => ev,
                _ = sleep_until_opt(deadline) => {
                    self.on_timers(Instant::now());
                    continue;
                }
            };
            match event {
                None => break,
                Some(Event::Shutdown(done)) => {
                    self.shutdown();
                    let _ = done.send(());
                    break;
                }
                Some(ev) => {
                    self.write_through = rx.is_empty();
                    self.handle(ev);
                }
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let w = self.store.next_will_due();
        let s = self.expiries.first().map(|(t, _)| *t);
        match (w, s) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Connect { conn, peer, connect, principal, outbox, reply } => {
                self.on_connect(conn, peer, *connect, principal, outbox, reply)
            }
            Event::Packet { conn, packet } => self.on_packet(conn, packet),
            Event::Closed { conn, reason } => self.end_connection(conn, Ending::Network(reason)),
            Event::Stats(tx) => {
                let _ = tx.send(Stats {
                    connections: self.conns.len(),
                    sessions: self.store.session_count(),
                    pending_wills: self.store.pending_will_count(),
                    wills_published: self.wills_published,
                    wills_denied: self.wills_denied,
                    publishes_denied: self.publishes_denied,
                });
            }
            Event::Shutdown(_) => unreachable!("handled in run"),
        }
    }

    // ---------------------------------------------------------------- CONNECT

    fn on_connect(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        c: Connect,
        principal: Option<Arc<Principal>>,
        outbox: Outbox,
        reply: oneshot::Sender<ConnectReply>,
    ) {
        let v5 = c.protocol.is_v5();
        let (client_id, assigned) = match self.admit(&c, principal.as_deref()) {
            Ok(ids) => ids,
            Err((code5, code311, why)) => {
                let code = if v5 { code5 } else { code311 };
                info!(conn, %peer, client = %c.client_id, code = format!("{code:#04x}"), "CONNECT refused: {why}");
                if let Some(w) = &c.will {
                    debug!(target: "lwt_broker::will", client = %c.client_id, topic = %w.topic,
                        "will dropped: CONNECT refused (MQTT-3.1.4-5/-6)");
                }
                let mut properties = Properties::new();
                if v5 && c.properties.request_problem_information() != Some(0) {
                    properties.push(Property::ReasonString(why.to_owned()));
                }
                let mut ack = ConnAck { session_present: false, code, properties };
                // MQTT-3.2.2-19: no Reason String if it would exceed the client's Maximum Packet Size.
                let size = Packet::ConnAck(ack.clone()).to_bytes(c.protocol).len();
                if c.properties.maximum_packet_size().is_some_and(|max| size > max as usize) {
                    ack.properties.remove(crate::codec::property_id::REASON_STRING);
                }
                outbox.packet(&Packet::ConnAck(ack), c.protocol);
                outbox.close();
                let _ = reply.send(ConnectReply { accepted: false, keep_alive: 0 });
                return;
            }
        };

        // Session Expiry and keep-alive negotiation.
        let requested_expiry = if v5 {
            c.properties.session_expiry_interval().unwrap_or(0)
        } else if c.clean_start {
            0
        } else {
            NEVER
        };
        let expiry = requested_expiry.min(self.cfg.session_expiry_max);
        let keep_alive = negotiate_keep_alive(&self.cfg, c.keep_alive, v5);

        // Takeover: the old connection ends first, exactly as a network close would (its will follows
        // the same rules), then the new connection resumes or ends the session.
        let old_conn = self.store.session(&client_id).and_then(|s| s.connection);
        if let Some(old) = old_conn {
            debug!(conn, old_conn = old, client = %client_id, "session taken over");
            self.end_connection(old, Ending::TakenOver);
        }

        let session_present = if c.clean_start {
            self.end_session(&client_id, "clean start on reconnect");
            false
        } else {
            let resumed = self.store.session(&client_id).is_some();
            if resumed {
                let keep = crate::mutant_on!(self.cfg, ReconnectKeepsDelayedWill);
                if let Some(pw) = if keep { None } else { self.store.take_pending_will(&client_id) } {
                    debug!(target: "lwt_broker::will", client = %client_id, topic = %pw.will.topic,
                        "will cancelled: reconnected to the session within the will delay (MQTT-3.1.3-9)");
                }
            }
            resumed
        };
        if self.store.session(&client_id).is_none() {
            self.store.insert_session(Session::new(client_id.clone(), c.protocol, expiry));
        }

        let will_delay_requested = c.will.as_ref().and_then(|w| w.properties.will_delay_interval()).unwrap_or(0);
        let will_delay = match self.cfg.max_will_delay {
            Some(cap) if will_delay_requested > cap => {
                debug!(target: "lwt_broker::will", client = %client_id, requested = will_delay_requested, cap, "will delay capped");
                cap
            }
            _ => will_delay_requested,
        };
        let session = self.store.session(&client_id).expect("session exists");
        session.connection = Some(conn);
        session.expires_at = None;
        session.expiry_interval = expiry;
        session.version = c.protocol;
        session.owner = principal.as_ref().map(|p| p.authentication_name.clone());
        if let Some(p) = &principal {
            self.owned.entry(p.authentication_name.to_lowercase()).or_default().insert(client_id.clone());
        }
        session.will = c.will.clone().map(|will| ArmedWill { will, delay: will_delay, owner: principal.clone() });
        if let Some(w) = &session.will {
            debug!(target: "lwt_broker::will", client = %client_id, topic = %w.will.topic, qos = w.will.qos as u8,
                retain = w.will.retain, delay = w.delay, session_expiry = expiry, "will armed");
        }

        let mut props = Properties::new();
        if v5 {
            if let Some(id) = &assigned {
                props.push(Property::AssignedClientIdentifier(id.clone()));
            }
            if keep_alive != c.keep_alive {
                props.push(Property::ServerKeepAlive(keep_alive));
            }
            if expiry != requested_expiry {
                props.push(Property::SessionExpiryInterval(expiry));
            }
            props.push(Property::ReceiveMaximum(self.cfg.receive_maximum));
            if self.cfg.max_qos < 2 {
                props.push(Property::MaximumQos(self.cfg.max_qos));
            }
            if !self.cfg.retain_available {
                props.push(Property::RetainAvailable(0));
            }
            props.push(Property::MaximumPacketSize(self.cfg.max_packet_size));
            props.push(Property::TopicAliasMaximum(self.cfg.topic_alias_maximum));
            props.push(Property::SharedSubscriptionAvailable(0));
            if !self.cfg.subscription_identifiers {
                props.push(Property::SubscriptionIdentifierAvailable(0));
            }
        }
        outbox.packet(&Packet::ConnAck(ConnAck { session_present, code: 0, properties: props }), c.protocol);
        debug!(conn, %peer, client = %client_id, version = ?c.protocol, clean_start = c.clean_start, keep_alive,
            session_expiry = expiry, session_present, "connected");
        self.conns.insert(
            conn,
            Conn {
                client_id: client_id.clone(),
                outbox,
                version: c.protocol,
                receive_maximum: c.properties.receive_maximum().unwrap_or(u16::MAX),
                max_packet_size: c.properties.maximum_packet_size(),
                aliases: std::collections::BTreeMap::new(),
                connect_expiry: requested_expiry,
                principal,
            },
        );
        let _ = reply.send(ConnectReply { accepted: true, keep_alive });
        self.resend_inflight(conn);
        self.pump(conn);
    }

    /// Checks a CONNECT against the broker's rules and capabilities. Gives the client id to use (and
    /// the assigned one for 5.0), or the refusal as (5.0 code, 3.1.1 code, reason).
    fn admit(&mut self, c: &Connect, principal: Option<&Principal>) -> Result<(String, Option<String>), (u8, u8, &'static str)> {
        let v5 = c.protocol.is_v5();
        // The id actually used: ownership and the per-name quota are checked on it (issue 12).
        let (id, assigned) = self.session_name(c)?;
        if v5 && c.properties.authentication_method().is_some() {
            return Err((reason::BAD_AUTHENTICATION_METHOD, 0, "enhanced authentication is not supported"));
        }
        if v5 && !self.cfg.user_properties_on_connect_and_subscribe && c.properties.has(crate::codec::property_id::USER_PROPERTY) {
            return Err((
                reason::IMPLEMENTATION_SPECIFIC_ERROR,
                0,
                "User Properties on CONNECT are not supported (Event Grid profile)",
            ));
        }
        if let (Some(ns), Some(w)) = (self.cfg.namespace.get(), &c.will) {
            let s = ns.settings();
            let delay = w.properties.will_delay_interval().unwrap_or(0);
            if s.will_delay_over_max == crate::eventgrid::WillDelayOverMax::Reject && delay > s.max_will_delay_secs {
                return Err((
                    reason::IMPLEMENTATION_SPECIFIC_ERROR,
                    reason::v311::NOT_AUTHORIZED,
                    "Will Delay Interval above the namespace maximum (will_delay_over_max: reject)",
                ));
            }
        }
        if let (Some(p), Some(ns)) = (principal, self.cfg.namespace.get()) {
            let limit = ns.settings().max_client_sessions_per_authentication_name as usize;
            let held = self.owned.get(&p.authentication_name.to_lowercase());
            if held.is_some_and(|h| !h.contains(&id) && h.len() >= limit) {
                return Err((
                    reason::QUOTA_EXCEEDED,
                    reason::v311::NOT_AUTHORIZED,
                    "maximumClientSessionsPerAuthenticationName reached (online and offline sessions count)",
                ));
            }
        }
        if let Some(p) = principal {
            // Event Grid: a session name held by another authentication name is not yours to take.
            let owner = self.store.session(&id).and_then(|s| s.owner.clone());
            if owner.is_some_and(|o| !o.eq_ignore_ascii_case(&p.authentication_name)) {
                return Err((
                    reason::NOT_AUTHORIZED,
                    reason::v311::NOT_AUTHORIZED,
                    "the session name is owned by another authentication name",
                ));
            }
        }
        if let Some(w) = &c.will {
            if !self.cfg.topic_within_limits(&w.topic) {
                return Err((reason::TOPIC_NAME_INVALID, reason::v311::NOT_AUTHORIZED, "Will Topic longer or deeper than allowed"));
            }
            if w.qos > self.cfg.max_qos() {
                return Err((reason::QOS_NOT_SUPPORTED, reason::v311::NOT_AUTHORIZED, "Will QoS above Maximum QoS (MQTT-3.2.2-12)"));
            }
            if w.retain && !self.cfg.retain_available {
                return Err((
                    reason::RETAIN_NOT_SUPPORTED,
                    reason::v311::NOT_AUTHORIZED,
                    "Will Retain but retain is not available (MQTT-3.2.2-13)",
                ));
            }
            if w.properties.payload_format_indicator() == Some(1) && std::str::from_utf8(&w.payload).is_err() {
                return Err((
                    reason::PAYLOAD_FORMAT_INVALID,
                    reason::v311::NOT_AUTHORIZED,
                    "Will Payload Format Indicator is 1 but the payload is not UTF-8",
                ));
            }
        }
        Ok((id, assigned))
    }

    /// The CONNECT's client id, or for an empty one a fresh unguessable id that names no existing
    /// session (so an assigned id never resumes one; 5.0 also gets it back to announce).
    fn session_name(&mut self, c: &Connect) -> Result<(String, Option<String>), (u8, u8, &'static str)> {
        if !c.client_id.is_empty() {
            return Ok((c.client_id.clone(), None));
        }
        if !c.protocol.is_v5() && !c.clean_start {
            return Err((0, reason::v311::IDENTIFIER_REJECTED, "empty client id with clean session 0 (MQTT-3.1.3-8)"));
        }
        let store = &mut self.store;
        let id = crate::policy::assign_client_id(|id| store.session(id).is_some());
        Ok((id.clone(), c.protocol.is_v5().then_some(id)))
    }

    // ---------------------------------------------------------------- packets after CONNACK

    fn on_packet(&mut self, conn: ConnId, packet: Packet) {
        let Some(version) = self.conns.get(&conn).map(|c| c.version) else { return };
        if let Some(why) = crate::policy::failing_request(&self.cfg, &packet, version) {
            return self.protocol_error(conn, reason::IMPLEMENTATION_SPECIFIC_ERROR, why);
        }
        match packet {
            Packet::Publish(p) => self.on_publish(conn, p),
            Packet::PubAck(r) => self.on_ack(conn, r, 1),
            Packet::PubRec(r) => self.on_ack(conn, r, 2),
            Packet::PubComp(r) => self.on_ack(conn, r, 3),
            Packet::PubRel(r) => self.on_pubrel(conn, r),
            Packet::Subscribe(s) => self.on_subscribe(conn, s),
            Packet::Unsubscribe(u) => self.on_unsubscribe(conn, u),
            Packet::PingReq => {
                let c = &self.conns[&conn];
                c.outbox.send(Packet::PingResp.to_bytes(c.version), self.write_through);
            }
            Packet::Disconnect(d) => self.on_disconnect(conn, d),
            other => {
                let what = format!("{} from a client after CONNACK", other.name());
                self.protocol_error(conn, reason::PROTOCOL_ERROR, what);
            }
        }
    }

    fn protocol_error(&mut self, conn: ConnId, code: u8, detail: String) {
        self.end_connection(conn, Ending::Network(CloseReason::BadPacket { code, detail }));
    }

    fn on_publish(&mut self, conn: ConnId, mut p: Publish) {
        let cfg = self.cfg.clone();
        let c = self.conns.get_mut(&conn).expect("checked");
        let v5 = c.version.is_v5();
        if p.qos > cfg.max_qos() {
            return self.protocol_error(conn, reason::QOS_NOT_SUPPORTED, format!("PUBLISH QoS {} above Maximum QoS", p.qos as u8));
        }
        if p.retain && !cfg.retain_available {
            return self.protocol_error(conn, reason::RETAIN_NOT_SUPPORTED, "retained PUBLISH but retain is not available".into());
        }
        if !p.properties.subscription_identifiers().is_empty() {
            return self.protocol_error(conn, reason::PROTOCOL_ERROR, "Subscription Identifier in a client PUBLISH (MQTT-3.3.4-6)".into());
        }
        if let Some(alias) = p.properties.topic_alias() {
            if alias == 0 || alias > cfg.topic_alias_maximum {
                return self.protocol_error(conn, reason::TOPIC_ALIAS_INVALID, format!("Topic Alias {alias} out of range"));
            }
            if p.topic.is_empty() {
                match c.aliases.get(&alias) {
                    Some(t) => p.topic = t.clone(),
                    None => return self.protocol_error(conn, reason::PROTOCOL_ERROR, format!("unknown Topic Alias {alias}")),
                }
            } else {
                c.aliases.insert(alias, p.topic.clone());
            }
        }
        let client_id = c.client_id.clone();
        let version = c.version;
        let outbox = c.outbox.clone();
        if !cfg.topic_within_limits(&p.topic) {
            return self.protocol_error(conn, reason::TOPIC_NAME_INVALID, "topic longer or deeper than allowed".into());
        }
        if let (Some(ns), Some(who)) = (cfg.namespace.get(), c.principal.clone()) {
            if let Err(denied) = ns.may_publish(&who, &p.topic) {
                return self.publish_denied(conn, &p, denied, ns.settings());
            }
        }
        let bad_format = v5 && p.properties.payload_format_indicator() == Some(1) && std::str::from_utf8(&p.payload).is_err();
        if p.qos == QoS::ExactlyOnce {
            let pid = p.packet_id.unwrap_or(0);
            let session = self.store.session(&client_id).expect("connected session");
            if session.awaiting_rel.contains(&pid) {
                // A retransmission: acknowledge again, do not route twice.
                outbox.packet(&Packet::PubRec(PubResp::new(pid)), version);
                return;
            }
            if session.awaiting_rel.len() >= cfg.receive_maximum as usize {
                return self.protocol_error(conn, reason::RECEIVE_MAXIMUM_EXCEEDED, "Receive Maximum exceeded".into());
            }
        }
        if bad_format {
            if p.qos == QoS::AtMostOnce {
                return self.protocol_error(conn, reason::PAYLOAD_FORMAT_INVALID, "payload is not UTF-8 but Payload Format Indicator is 1".into());
            }
            let mut r = PubResp::new(p.packet_id.unwrap_or(0));
            r.reason = reason::PAYLOAD_FORMAT_INVALID;
            let pkt = if p.qos == QoS::AtLeastOnce { Packet::PubAck(r) } else { Packet::PubRec(r) };
            outbox.packet(&pkt, version);
            return;
        }
        let now = Instant::now();
        let mut props = p.properties;
        props.remove(crate::codec::property_id::TOPIC_ALIAS);
        let expires_at = props.message_expiry_interval().map(|s| now + Duration::from_secs(s as u64));
        props.remove(crate::codec::property_id::MESSAGE_EXPIRY_INTERVAL);
        let msg = Message {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            properties: props,
            expires_at,
            publisher: Some(client_id.clone()),
        };
        let matched = self.route(msg);
        let code = if matched == 0 && v5 { reason::NO_MATCHING_SUBSCRIBERS } else { 0 };
        if let Some(pid) = p.packet_id {
            let mut r = PubResp::new(pid);
            r.reason = code;
            match p.qos {
                QoS::AtLeastOnce => outbox.packet(&Packet::PubAck(r), version),
                QoS::ExactlyOnce => {
                    if let Some(s) = self.store.session(&client_id) {
                        s.awaiting_rel.insert(pid);
                    }
                    outbox.packet(&Packet::PubRec(r), version)
                }
                QoS::AtMostOnce => {}
            }
        }
    }

    /// A PUBLISH the namespace does not allow: v5 QoS 1/2 → PUBACK/PUBREC 0x87, QoS 0 → dropped
    /// (or DISCONNECT 0x87); 3.1.1 → the connection is closed (or acknowledged and dropped).
    fn publish_denied(&mut self, conn: ConnId, p: &Publish, denied: Denied, settings: &Settings) {
        let c = &self.conns[&conn];
        let (client_id, version, outbox) = (c.client_id.clone(), c.version, c.outbox.clone());
        info!(client = %client_id, topic = %p.topic, "PUBLISH not authorized: {denied}");
        self.publishes_denied += 1;
        let ack_and_drop = |code: u8| {
            if let Some(pid) = p.packet_id {
                let mut r = PubResp::new(pid);
                r.reason = code;
                match p.qos {
                    QoS::AtLeastOnce => outbox.packet(&Packet::PubAck(r), version),
                    QoS::ExactlyOnce => outbox.packet(&Packet::PubRec(r), version),
                    QoS::AtMostOnce => {}
                }
            }
        };
        if version.is_v5() {
            if p.qos == QoS::AtMostOnce && settings.qos0_denied == Qos0Denied::Disconnect {
                let told = crate::eventgrid::client_reason(settings, reason::NOT_AUTHORIZED, &format!("PUBLISH not authorized: {denied}"));
                return self.protocol_error(conn, reason::NOT_AUTHORIZED, told);
            }
            ack_and_drop(reason::NOT_AUTHORIZED);
        } else if settings.v311_publish_denied == V311PublishDenied::AckAndDrop {
            ack_and_drop(0);
        } else {
            self.protocol_error(conn, reason::NOT_AUTHORIZED, format!("PUBLISH not authorized: {denied}"));
        }
    }

    fn on_pubrel(&mut self, conn: ConnId, r: PubResp) {
        let c = &self.conns[&conn];
        let (client_id, version, outbox) = (c.client_id.clone(), c.version, c.outbox.clone());
        let found = self.store.session(&client_id).map(|s| s.awaiting_rel.remove(&r.packet_id)).unwrap_or(false);
        let mut resp = PubResp::new(r.packet_id);
        if !found && version.is_v5() {
            resp.reason = reason::PACKET_IDENTIFIER_NOT_FOUND;
        }
        outbox.packet(&Packet::PubComp(resp), version);
    }

    /// PUBACK (kind 1), PUBREC (2) or PUBCOMP (3) for an outbound message.
    fn on_ack(&mut self, conn: ConnId, r: PubResp, kind: u8) {
        let c = &self.conns[&conn];
        let (client_id, version, outbox) = (c.client_id.clone(), c.version, c.outbox.clone());
        let Some(session) = self.store.session(&client_id) else { return };
        let entry = session.inflight.get(&r.packet_id).map(|i| (i.delivery.qos, i.state));
        match (kind, entry) {
            (1, Some((QoS::AtLeastOnce, FlowState::AwaitAck))) | (3, Some((QoS::ExactlyOnce, FlowState::AwaitComp))) => {
                session.inflight.remove(&r.packet_id);
            }
            (2, Some((QoS::ExactlyOnce, FlowState::AwaitAck))) => {
                if r.reason >= 0x80 {
                    session.inflight.remove(&r.packet_id);
                } else {
                    session.inflight.get_mut(&r.packet_id).expect("present").state = FlowState::AwaitComp;
                    outbox.packet(&Packet::PubRel(PubResp::new(r.packet_id)), version);
                }
            }
            (2, _) => {
                // PUBREC for an unknown id: answer PUBREL 0x92 so the client can finish its state.
                let mut rel = PubResp::new(r.packet_id);
                if version.is_v5() {
                    rel.reason = reason::PACKET_IDENTIFIER_NOT_FOUND;
                }
                outbox.packet(&Packet::PubRel(rel), version);
            }
            _ => debug!(client = %client_id, packet_id = r.packet_id, kind, "acknowledgement for no matching message ignored"),
        }
        self.pump(conn);
    }

    fn on_subscribe(&mut self, conn: ConnId, s: Subscribe) {
        let c = &self.conns[&conn];
        let (client_id, version, outbox) = (c.client_id.clone(), c.version, c.outbox.clone());
        let v5 = version.is_v5();
        let sub_id = s.properties.subscription_identifiers().first().copied();
        let now = Instant::now();
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained: Vec<Delivery> = Vec::new();
        if v5 && sub_id.is_some() && !self.cfg.subscription_identifiers {
            return self.protocol_error(
                conn,
                reason::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
                "Subscription Identifier sent but not supported (MQTT-3.2.2.3.12)".into(),
            );
        }
        let refuse_all = v5 && !self.cfg.user_properties_on_connect_and_subscribe && s.properties.has(crate::codec::property_id::USER_PROPERTY);
        let refuse_code = if crate::policy::too_many_filters(&self.cfg, s.filters.len()) {
            info!(client = %client_id, filters = s.filters.len(), "SUBSCRIBE refused: more topic filters than one SUBSCRIBE may carry");
            Some(if v5 { reason::QUOTA_EXCEEDED } else { reason::v311::SUBACK_FAILURE })
        } else {
            refuse_all.then_some(reason::IMPLEMENTATION_SPECIFIC_ERROR)
        };
        let principal = self.conns[&conn].principal.clone();
        let ns = self.cfg.namespace.clone();
        for (filter, options) in s.filters {
            if let Some(code) = refuse_code {
                codes.push(code);
                continue;
            }
            if !topic::valid_filter(&filter) || !self.cfg.topic_within_limits(&filter) {
                codes.push(if v5 { reason::TOPIC_FILTER_INVALID } else { reason::v311::SUBACK_FAILURE });
                continue;
            }
            if let (Some(ns), Some(who)) = (ns.get(), principal.as_deref()) {
                if let Err(denied) = ns.may_subscribe(who, &filter) {
                    info!(client = %client_id, %filter, "SUBSCRIBE not authorized: {denied}");
                    codes.push(if v5 { reason::NOT_AUTHORIZED } else { reason::v311::SUBACK_FAILURE });
                    continue;
                }
            }
            let max_subs = self.cfg.max_subscriptions_per_session;
            if max_subs > 0 {
                let session = self.store.session(&client_id).expect("connected session");
                if !session.subscriptions.contains_key(&filter) && session.subscriptions.len() >= max_subs {
                    info!(client = %client_id, %filter, max_subs, "SUBSCRIBE refused: subscription limit reached");
                    codes.push(if v5 { reason::QUOTA_EXCEEDED } else { reason::v311::SUBACK_FAILURE });
                    continue;
                }
            }
            if topic::shared_subscription(&filter).is_some() || filter.starts_with("$share/") {
                codes.push(if v5 { reason::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED } else { reason::v311::SUBACK_FAILURE });
                continue;
            }
            let granted = options.qos.min(self.cfg.max_qos());
            let mut opts = options;
            opts.qos = granted;
            let session = self.store.session(&client_id).expect("connected session");
            let existed = session.subscriptions.insert(filter.clone(), Subscription { options: opts, id: sub_id }).is_some();
            self.tree.insert(&filter, &client_id);
            let send_retained = match opts.retain_handling {
                0 => true,
                1 => !existed,
                _ => false,
            };
            if send_retained && self.cfg.retain_available {
                for m in self.store.retained_matching(&filter, now) {
                    retained.push(Delivery {
                        qos: m.qos.min(granted),
                        message: m,
                        retain: true,
                        subscription_ids: sub_id.into_iter().collect(),
                    });
                }
            }
            codes.push(granted as u8);
        }
        outbox.packet(&Packet::SubAck(SubAck { packet_id: s.packet_id, properties: Properties::new(), codes }), version);
        for d in retained {
            self.deliver(&client_id, d);
        }
    }

    fn on_unsubscribe(&mut self, conn: ConnId, u: Unsubscribe) {
        let c = &self.conns[&conn];
        let (client_id, version, outbox) = (c.client_id.clone(), c.version, c.outbox.clone());
        let session = self.store.session(&client_id).expect("connected session");
        let mut codes = Vec::new();
        for f in &u.filters {
            if session.subscriptions.remove(f).is_some() {
                self.tree.remove(f, &client_id);
                codes.push(reason::SUCCESS);
            } else {
                codes.push(reason::NO_SUBSCRIPTION_EXISTED);
            }
        }
        let codes = if version.is_v5() { codes } else { Vec::new() };
        outbox.packet(&Packet::UnsubAck(UnsubAck { packet_id: u.packet_id, properties: Properties::new(), codes }), version);
    }

    fn on_disconnect(&mut self, conn: ConnId, d: Disconnect) {
        let c = &self.conns[&conn];
        let (client_id, v5, connect_expiry) = (c.client_id.clone(), c.version.is_v5(), c.connect_expiry);
        if v5 {
            if let Some(new_expiry) = d.properties.session_expiry_interval() {
                if connect_expiry == 0 && new_expiry != 0 {
                    // MQTT-3.14.2-2: the DISCONNECT is not valid, so the will is not deleted.
                    return self.protocol_error(
                        conn,
                        reason::PROTOCOL_ERROR,
                        "DISCONNECT sets a Session Expiry Interval but CONNECT had 0 (MQTT-3.14.2-2)".into(),
                    );
                }
                let capped = new_expiry.min(self.cfg.session_expiry_max);
                if let Some(s) = self.store.session(&client_id) {
                    s.expiry_interval = capped;
                }
            }
        }
        self.end_connection(conn, Ending::ClientDisconnect { reason: if v5 { d.reason } else { 0 } });
    }

    // ---------------------------------------------------------------- connection end and wills

    /// Every way a connection ends comes here once: the will and session consequences follow
    /// [`will::on_connection_end`]; later calls for the same connection do nothing.
    fn end_connection(&mut self, conn: ConnId, ending: Ending) {
        let Some(c) = self.conns.remove(&conn) else { return };
        if let Some(code) = ending.server_disconnect_code() {
            if c.version.is_v5() {
                let mut d = Disconnect::new(code);
                if let Ending::Network(CloseReason::BadPacket { detail, .. }) = &ending {
                    d.properties.push(Property::ReasonString(detail.clone()));
                    // MQTT-3.14.2-3: no Reason String if it would exceed the client's Maximum Packet Size.
                    let size = Packet::Disconnect(d.clone()).to_bytes(c.version).len();
                    if c.max_packet_size.is_some_and(|max| size > max as usize) {
                        d.properties.remove(crate::codec::property_id::REASON_STRING);
                    }
                }
                c.outbox.packet(&Packet::Disconnect(d), c.version);
            }
        }
        c.outbox.close();
        let now = Instant::now();
        let Some(session) = self.store.session(&c.client_id) else { return };
        if session.connection != Some(conn) {
            return;
        }
        session.connection = None;
        let expiry = session.expiry_interval;
        let armed = session.will.take();
        debug!(conn, client = %c.client_id, ending = %ending, "connection ended");
        let mut publish_now = None;
        if let Some(armed) = armed {
            let mut decision = will::on_connection_end(&ending, armed.delay, expiry);
            if crate::mutant_on!(self.cfg, WillAfterNormalDisconnect) && decision == will::Decision::Discard {
                decision = will::Decision::PublishNow;
            }
            if crate::mutant_on!(self.cfg, NoWillOnReset) && matches!(ending, Ending::Network(CloseReason::Io(_))) {
                decision = will::Decision::Discard;
            }
            if crate::mutant_on!(self.cfg, WillDelayIgnored) && matches!(decision, will::Decision::Delay(_)) {
                decision = will::Decision::PublishNow;
            }
            match decision {
                will::Decision::Discard => {
                    debug!(target: "lwt_broker::will", client = %c.client_id, topic = %armed.will.topic,
                        "will discarded: {ending} (MQTT-3.1.2-10 / MQTT-3.14.4-3)");
                }
                will::Decision::PublishNow => publish_now = Some((armed.will, armed.owner)),
                will::Decision::Delay(secs) => {
                    let due = now + Duration::from_secs(secs as u64);
                    debug!(target: "lwt_broker::will", client = %c.client_id, topic = %armed.will.topic,
                        delay_secs = secs, "will scheduled: {ending}");
                    self.store.put_pending_will(PendingWill {
                        client_id: c.client_id.clone(),
                        will: armed.will,
                        due,
                        cause: ending.to_string(),
                        owner: armed.owner,
                    });
                }
            }
        }
        if let Some((w, owner)) = publish_now {
            self.publish_will(&c.client_id, w, owner, &ending.to_string());
        }
        if expiry == 0 {
            self.end_session(&c.client_id, "session expiry interval 0 at disconnect");
        } else if expiry != NEVER {
            let at = now + Duration::from_secs(expiry as u64);
            if let Some(s) = self.store.session(&c.client_id) {
                s.expires_at = Some(at);
            }
            self.expiries.insert((at, c.client_id.clone()));
        }
    }

    /// Ends a session: its subscriptions go, and a pending will is published now (session end is
    /// the latest moment a delayed will may wait for, MQTT-3.1.3.2.2).
    fn end_session(&mut self, client_id: &str, why: &str) {
        if let Some(s) = self.store.remove_session(client_id) {
            for f in s.subscriptions.keys() {
                self.tree.remove(f, client_id);
            }
            if let Some(owner) = &s.owner {
                let key = owner.to_lowercase();
                if let Some(held) = self.owned.get_mut(&key) {
                    held.remove(client_id);
                    if held.is_empty() {
                        self.owned.remove(&key);
                    }
                }
            }
            debug!(client = %client_id, "session ended: {why}");
        }
        if let Some(pw) = self.store.take_pending_will(client_id) {
            self.publish_will(client_id, pw.will, pw.owner, &format!("session ended ({why}) before the will delay"));
        }
    }

    /// Publishes a will now, as a PUBLISH by its owner: with a namespace it is authorized first, and
    /// a denied will is dropped (never delivered) and logged with the reason.
    fn publish_will(&mut self, client_id: &str, will: Will, owner: Option<Arc<Principal>>, cause: &str) {
        if let (Some(ns), Some(who)) = (self.cfg.namespace.get(), owner.as_deref()) {
            if let Err(denied) = ns.may_publish(who, &will.topic) {
                warn!(target: "lwt_broker::will", client = %client_id, topic = %will.topic,
                    authentication_name = %who.authentication_name, "will dropped, not authorized ({cause}): {denied}");
                self.wills_denied += 1;
                return;
            }
        }
        let now = Instant::now();
        let mut props = will.properties;
        props.remove(crate::codec::property_id::WILL_DELAY_INTERVAL);
        let expires_at = props.message_expiry_interval().map(|s| now + Duration::from_secs(s as u64));
        props.remove(crate::codec::property_id::MESSAGE_EXPIRY_INTERVAL);
        if crate::mutant_on!(self.cfg, WillPropertyDropped) {
            props.remove(crate::codec::property_id::CONTENT_TYPE);
        }
        if crate::mutant_on!(self.cfg, UserPropertyOrderChanged) {
            let users: Vec<Property> = props.0.iter().filter(|p| matches!(p, Property::UserProperty(..))).cloned().rev().collect();
            props.remove(crate::codec::property_id::USER_PROPERTY);
            props.0.extend(users);
        }
        let msg = Message {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain && !crate::mutant_on!(self.cfg, WillRetainIgnored),
            properties: props,
            expires_at,
            publisher: Some(client_id.to_owned()),
        };
        debug!(target: "lwt_broker::will", client = %client_id, topic = %msg.topic, qos = msg.qos as u8, retain = msg.retain,
            "will published: {cause}");
        self.wills_published += 1;
        if crate::mutant_on!(self.cfg, WillTwice) {
            self.route(msg.clone());
        }
        if crate::mutant_on!(self.cfg, WillQosNotDowngraded) {
            self.route_at_published_qos(msg);
            return;
        }
        self.route(msg);
    }

    fn on_timers(&mut self, now: Instant) {
        for pw in self.store.take_due_wills(now) {
            let cause = format!("will delay elapsed after {}", pw.cause);
            self.publish_will(&pw.client_id, pw.will, pw.owner, &cause);
        }
        while let Some((at, id)) = self.expiries.first().cloned() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            let still = self.store.session(&id).is_some_and(|s| s.connection.is_none() && s.expires_at == Some(at));
            if still {
                self.end_session(&id, "session expired");
            }
        }
    }

    fn shutdown(&mut self) {
        info!(connections = self.conns.len(), "shutting down");
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        // Wills of live connections and delayed wills go out now, while subscribers are still connected
        // (MQTT 3.1.2.5 allows deferring to a restart, but the memory store would lose them).
        for conn in &conns {
            if let Some(c) = self.conns.get(conn) {
                let id = c.client_id.clone();
                if let Some(armed) = self.store.session(&id).and_then(|s| s.will.take()) {
                    self.publish_will(&id, armed.will, armed.owner, "broker shutting down");
                }
            }
        }
        for pw in self.store.take_all_pending_wills() {
            self.publish_will(&pw.client_id, pw.will, pw.owner, "broker shutting down before the will delay elapsed");
        }
        for conn in conns {
            self.end_connection(conn, Ending::Shutdown);
        }
    }

    // ---------------------------------------------------------------- routing and delivery

    /// Stores a retained message and hands `msg` to every matching session. Returns how many matched.
    fn route(&mut self, msg: Message) -> usize {
        self.route_inner(msg, false)
    }

    /// Test-only (mutant `WillQosNotDowngraded`): route without lowering QoS to the subscription's.
    fn route_at_published_qos(&mut self, msg: Message) -> usize {
        self.route_inner(msg, true)
    }

    fn route_inner(&mut self, msg: Message, keep_qos: bool) -> usize {
        let msg = Arc::new(msg);
        if msg.retain && self.cfg.retain_available {
            let max = self.cfg.max_retained_bytes;
            if msg.payload.is_empty() {
                self.store.set_retained(&msg.topic, None);
            } else if max > 0 && msg.payload.len() > max {
                info!(topic = %msg.topic, size = msg.payload.len(), max, "retained message too large: delivered, not stored");
            } else if !crate::policy::retained_fits(&self.cfg, self.store.retained_count(), self.store.has_retained(&msg.topic)) {
                info!(topic = %msg.topic, "retained message limit reached: delivered, not stored");
            } else {
                self.store.set_retained(&msg.topic.clone(), Some(msg.clone()));
            }
        }
        let clients = self.tree.matching_clients(&msg.topic);
        let mut n = 0;
        for client in clients {
            let Some(session) = self.store.session(&client) else { continue };
            if let Some(mut d) = delivery_for(&msg, &client, &session.subscriptions) {
                if keep_qos {
                    d.qos = msg.qos;
                }
                n += 1;
                self.deliver(&client, d);
            }
        }
        n
    }

    fn deliver(&mut self, client_id: &str, d: Delivery) {
        let max_queued = self.cfg.max_queued_messages;
        let Some(session) = self.store.session(client_id) else { return };
        let online = session.connection.and_then(|id| self.conns.get(&id).map(|c| (id, c)));
        match online {
            None => {
                if d.qos == QoS::AtMostOnce {
                    return;
                }
                match crate::policy::offline_queue_room(&self.cfg, &session.queue, &d) {
                    crate::policy::QueueRoom::Fits => session.queue.push_back(d),
                    crate::policy::QueueRoom::Drop => warn!(client = %client_id, topic = %d.message.topic, "offline queue full: message dropped"),
                    crate::policy::QueueRoom::EndSession => self.end_session(client_id, "offline queue over its limit (SessionOverflow)"),
                }
            }
            Some((conn, c)) => {
                if d.qos == QoS::AtMostOnce {
                    if c.outbox.backlog() >= max_queued {
                        warn!(client = %client_id, topic = %d.message.topic, "subscriber is not reading: QoS 0 message dropped");
                        return;
                    }
                    send_publish(c, &d, None, false, self.write_through);
                    return;
                }
                if session.queue.len() >= max_queued {
                    warn!(client = %client_id, topic = %d.message.topic, "queue full: message dropped");
                    return;
                }
                session.queue.push_back(d);
                self.pump(conn);
            }
        }
    }

    /// Sends queued messages while the inflight window has room.
    fn pump(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get(&conn) else { return };
        let window = (c.receive_maximum.min(self.cfg.max_inflight)) as usize;
        let now = Instant::now();
        let Some(session) = self.store.session(&c.client_id) else { return };
        while session.inflight.len() < window {
            let Some(d) = session.queue.pop_front() else { break };
            if d.message.expired(now) {
                continue;
            }
            if d.qos == QoS::AtMostOnce {
                send_publish(c, &d, None, false, self.write_through);
                continue;
            }
            let Some(pid) = session.next_packet_id() else {
                session.queue.push_front(d);
                break;
            };
            if send_publish(c, &d, Some(pid), false, self.write_through) {
                session.inflight.insert(pid, Inflight { delivery: d, state: FlowState::AwaitAck });
            }
        }
    }

    /// On resuming a session: PUBLISH again (DUP) what was unacknowledged, PUBREL what awaited PUBCOMP.
    fn resend_inflight(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get(&conn) else { return };
        let Some(session) = self.store.session(&c.client_id) else { return };
        let now = Instant::now();
        let mut expired = Vec::new();
        for (pid, inf) in &session.inflight {
            match inf.state {
                FlowState::AwaitAck => {
                    if inf.delivery.message.expired(now) || !send_publish(c, &inf.delivery, Some(*pid), true, false) {
                        expired.push(*pid);
                    }
                }
                FlowState::AwaitComp => c.outbox.packet(&Packet::PubRel(PubResp::new(*pid)), c.version),
            }
        }
        for pid in expired {
            session.inflight.remove(&pid);
        }
    }
}

/// Encodes and sends a PUBLISH to one receiver (`through`: see [`Outbox::send`]). Returns false if
/// it was not sent (expired or larger than the client's Maximum Packet Size, MQTT-3.1.2-25).
fn send_publish(c: &Conn, d: &Delivery, packet_id: Option<u16>, dup: bool, through: bool) -> bool {
    let now = Instant::now();
    let m = &d.message;
    let mut properties = m.properties.clone();
    if let Some(at) = m.expires_at {
        if at <= now {
            return false;
        }
        let left = at - now;
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        properties.0.insert(0, Property::MessageExpiryInterval(secs.min(u32::MAX as u64) as u32));
    }
    for id in &d.subscription_ids {
        properties.push(Property::SubscriptionIdentifier(*id));
    }
    let p = Packet::Publish(Publish {
        dup,
        qos: d.qos,
        retain: d.retain,
        topic: m.topic.clone(),
        packet_id,
        properties,
        payload: m.payload.clone(),
    });
    let bytes = p.to_bytes(c.version);
    if let Some(max) = c.max_packet_size {
        if bytes.len() > max as usize {
            debug!(client = %c.client_id, topic = %m.topic, size = bytes.len(), max, "message larger than the client's Maximum Packet Size: dropped");
            return false;
        }
    }
    c.outbox.send(bytes, through);
    true
}

fn negotiate_keep_alive(cfg: &Config, requested: u16, v5: bool) -> u16 {
    if !v5 {
        return crate::policy::v311_keep_alive(cfg, requested);
    }
    let mut ka = requested;
    if cfg.keep_alive_max > 0 && (ka == 0 || ka > cfg.keep_alive_max) {
        ka = cfg.keep_alive_max;
    }
    if ka != 0 && ka < cfg.keep_alive_min {
        ka = cfg.keep_alive_min;
    }
    ka
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn pair() -> (Arc<tokio::net::TcpStream>, tokio::net::TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        (Arc::new(server), client)
    }

    /// What the writer would take now (the bytes of every queued item, in order).
    fn take_all(rx: &mut OutboxReceiver) -> Vec<u8> {
        let mut batch = VecDeque::new();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let _ = rx.poll_take_all(&mut cx, &mut batch);
        batch.iter().flat_map(|i| match i {
            Outbound::Bytes(b) => b.to_vec(),
            Outbound::Close => Vec::new(),
        }).collect()
    }

    async fn read_exactly(s: &mut tokio::net::TcpStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf)).await.unwrap().unwrap();
        buf
    }

    /// Write-through goes straight to the socket only while nothing is queued or held by the writer;
    /// otherwise it queues behind, so bytes never overtake each other.
    #[tokio::test]
    async fn write_through_never_overtakes_queued_bytes() {
        let (server, mut peer) = pair().await;
        let (outbox, mut rx) = Outbox::new(Some(&server));

        outbox.send(Bytes::from_static(b"a"), true);
        assert_eq!(outbox.backlog(), 0, "idle writer: written through");
        assert_eq!(read_exactly(&mut peer, 1).await, b"a");

        outbox.send(Bytes::from_static(b"b"), false);
        outbox.send(Bytes::from_static(b"c"), true);
        assert_eq!(outbox.backlog(), 2, "something queued: write-through queues behind it");

        // The writer takes "b" and "c": while it holds them, write-through still queues.
        let mut rest = take_all(&mut rx);
        assert_eq!(rest, b"bc");
        outbox.send(Bytes::from_static(b"d"), true);
        assert_eq!(outbox.backlog(), 3);
        rest.extend(take_all(&mut rx));
        assert_eq!(rest, b"bcd");
        rx.written(3);
        assert_eq!(outbox.backlog(), 0);

        // Writer idle again: write-through resumes.
        outbox.send(Bytes::from_static(b"e"), true);
        assert_eq!(outbox.backlog(), 0);
        assert_eq!(read_exactly(&mut peer, 1).await, b"e");
    }

    /// Without a socket (TLS) or without `through`, `send` always queues for the writer.
    #[tokio::test]
    async fn send_queues_without_a_direct_socket() {
        let (outbox, mut rx) = Outbox::new(None);
        outbox.send(Bytes::from_static(b"x"), true);
        assert_eq!(outbox.backlog(), 1);
        assert_eq!(take_all(&mut rx), b"x");
    }
}
