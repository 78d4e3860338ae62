//! The one owner of broker state, as a thin dispatcher. Connection tasks send it [`Event`]s in
//! order; it hands each to the part that owns it: sessions ([`crate::session`]), wills
//! ([`crate::will`]), inbound PUBLISH and SUBSCRIBE ([`crate::publish`], [`crate::subscribe`]) and
//! routing ([`crate::router`]), which answer through each connection's [`Outbox`]. One
//! [`Timers`] set, driven by the one sleep in [`Core::run`], fires delayed wills and session
//! expiries. A will's way: [`Core::on_connect`] arms it, [`Core::end_connection`] has it decided,
//! and what the will module publishes goes to the router (`Core::route_will`).

use crate::codec::{reason, Connect, Packet, ProtocolVersion};
use crate::config::Config;
use crate::eventgrid::Principal;
use crate::outbox::Outbox;
use crate::router::SubscriptionTree;
use crate::store::Store;
use crate::timers::{Timer, Timers};
use crate::will::{CloseReason, Ending, WillCounts, Wills};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, error, info};

/// Identifies one network connection for the lifetime of the broker.
pub type ConnId = u64;

/// Most events handled before one commit over a durable store: one fsync covers them all.
pub const MAX_BATCH: usize = 4096;


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
    /// An Event Grid HTTP Publish request, authenticated and authorized: route it like an accepted
    /// PUBLISH of `publisher` ([`crate::eventgrid::http_publish`]).
    HttpPublish {
        /// The message.
        message: crate::store::Message,
        /// The caller, as its bearer token says.
        publisher: Arc<Principal>,
        /// Told how many sessions it matched, once it is routed.
        done: oneshot::Sender<usize>,
    },
    /// Report counters.
    Stats(oneshot::Sender<Stats>),
    /// Publish every due will, close every connection and stop.
    Shutdown(oneshot::Sender<()>),
}

/// Per-connection state the core keeps while a connection is attached.
pub(crate) struct Conn {
    pub(crate) client_id: String,
    pub(crate) outbox: Outbox,
    pub(crate) version: ProtocolVersion,
    /// Client's Receive Maximum.
    pub(crate) receive_maximum: u16,
    /// Client's Maximum Packet Size.
    pub(crate) max_packet_size: Option<u32>,
    /// Inbound topic aliases.
    pub(crate) aliases: std::collections::BTreeMap<u16, String>,
    /// Session Expiry Interval the CONNECT asked for (0 forbids a non-zero value on DISCONNECT).
    pub(crate) connect_expiry: u32,
    /// Who the client is (with a namespace): every PUBLISH and SUBSCRIBE is authorized for it.
    pub(crate) principal: Option<Arc<Principal>>,
    /// A JWT connection's method and token deadline ([`crate::reauth`]).
    pub(crate) token: Option<crate::reauth::TokenAuth>,
}

/// The broker core: run it with [`Core::run`]. Its state is split by owner: sessions and retained
/// messages in `store`, subscriptions in `tree`, live connections in `conns`, every timer in
/// `timers`; the files named after each part hold the methods that change it.
pub struct Core {
    pub(crate) cfg: Arc<Config>,
    pub(crate) store: Box<dyn Store>,
    pub(crate) tree: SubscriptionTree,
    /// Shared subscriptions and their members (kept out of `tree`: one member per message).
    pub(crate) shared: crate::shared::SharedGroups,
    /// Boxed: a map holds about twice as many slots as entries, and an idle connection then costs
    /// 16 bytes per slot instead of 88 (issue 13: memory per idle connection).
    pub(crate) conns: HashMap<ConnId, Box<Conn>>,
    /// Delayed wills and session expiries.
    pub(crate) timers: Timers,
    pub(crate) will_counts: WillCounts,
    pub(crate) publishes_denied: u64,
    /// Sessions (online and offline) held per authentication name, lowercased (namespace only):
    /// Event Grid's `maximumClientSessionsPerAuthenticationName`.
    pub(crate) owned: HashMap<String, std::collections::HashSet<String>>,
    /// No other event is waiting: deliveries are written through to idle subscribers at once
    /// rather than left for their writers to batch (see [`Outbox::send`]).
    pub(crate) write_through: bool,
    /// Event Grid client life-cycle events, when the namespace or `--lifecycle-events` asks.
    pub(crate) lifecycle: Option<crate::eventgrid::lifecycle::Lifecycle>,
    /// Event Grid routing of published messages, when the namespace has `routing:`.
    pub(crate) routing: Option<crate::eventgrid::routing::Routing>,
    /// HTTP Publish answers held back until the batch that routed their message is committed
    /// (durable store only), as a PUBACK is.
    pub(crate) held_replies: Vec<(oneshot::Sender<usize>, usize)>,
}

impl Core {
    /// A core over `store`.
    pub fn new(cfg: Arc<Config>, store: Box<dyn Store>) -> Self {
        Core {
            cfg,
            store,
            tree: SubscriptionTree::default(),
            shared: crate::shared::SharedGroups::default(),
            conns: HashMap::new(),
            timers: Timers::default(),
            will_counts: WillCounts::default(),
            publishes_denied: 0,
            owned: HashMap::new(),
            write_through: false,
            lifecycle: None,
            routing: None,
            held_replies: Vec::new(),
        }
    }

    /// Processes events until [`Event::Shutdown`] or until every sender is gone; fires timers.
    /// Over a durable store, events are handled in batches, each committed before its packets
    /// leave ([`Core::durably`]).
    pub async fn run(mut self, mut rx: mpsc::Receiver<Event>) {
        let durable = self.store.durable();
        loop {
            let deadline = self.timers.next_due();
            let event = tokio::select! {
                ev = rx.recv() => ev,
                _ = sleep_until_opt(deadline) => {
                    if durable {
                        self.durably(|core| core.on_timers(Instant::now()));
                    } else {
                        self.on_timers(Instant::now());
                    }
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
                Some(ev) if durable => {
                    if let Some(done) = self.handle_batch(ev, &mut rx) {
                        self.shutdown();
                        let _ = done.send(());
                        break;
                    }
                }
                Some(ev) => {
                    self.write_through = rx.is_empty();
                    self.handle(ev);
                }
            }
        }
    }

    /// Handles `first` and whatever else is already waiting (up to [`MAX_BATCH`] events) as one
    /// batch: one commit, then the batch's packets. Gives back a shutdown request met on the way.
    fn handle_batch(&mut self, first: Event, rx: &mut mpsc::Receiver<Event>) -> Option<oneshot::Sender<()>> {
        let mut shutdown = None;
        self.durably(|core| {
            let mut next = Some(first);
            let mut n = 0;
            while let Some(ev) = next.take() {
                if let Event::Shutdown(done) = ev {
                    shutdown = Some(done);
                    break;
                }
                core.handle(ev);
                n += 1;
                if n < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
        });
        shutdown
    }

    /// Runs `work` with every packet it sends held back, commits the store, then sends them. A
    /// failed commit stops the broker: what was promised (CONNACK, PUBACK) cannot be kept.
    pub(crate) fn durably(&mut self, work: impl FnOnce(&mut Core)) {
        crate::outbox::staging::begin();
        self.write_through = false;
        work(self);
        if let Err(e) = self.store.commit() {
            crate::outbox::staging::release(false);
            error!("cannot commit to the data directory, stopping: {e:#}");
            std::process::exit(74);
        }
        crate::outbox::staging::release(true);
        for (done, matched) in self.held_replies.drain(..) {
            let _ = done.send(matched);
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Connect { conn, peer, connect, principal, outbox, reply } => {
                self.on_connect(conn, peer, *connect, principal, outbox, reply)
            }
            Event::Packet { conn, packet } => self.on_packet(conn, packet),
            Event::Closed { conn, reason } => self.end_connection(conn, Ending::Network(reason)),
            Event::HttpPublish { message, publisher, done } => {
                self.route_cloud_event(&message, Some(&publisher));
                let matched = self.route(message);
                if self.store.durable() {
                    self.held_replies.push((done, matched));
                } else {
                    let _ = done.send(matched);
                }
            }
            Event::Stats(tx) => {
                let _ = tx.send(Stats {
                    connections: self.conns.len(),
                    sessions: self.store.session_count(),
                    pending_wills: self.store.pending_will_count(),
                    wills_published: self.will_counts.published,
                    wills_denied: self.will_counts.denied,
                    publishes_denied: self.publishes_denied,
                });
            }
            Event::Shutdown(_) => unreachable!("handled in run"),
        }
    }

    /// The will module's view of the broker state, lent for one event.
    pub(crate) fn wills(&mut self) -> Wills<'_> {
        Wills {
            hook: &self.cfg.will_hook,
            max_will_delay: self.cfg.max_will_delay,
            namespace: self.cfg.namespace.get(),
            store: &mut *self.store,
            timers: &mut self.timers,
            counts: &mut self.will_counts,
        }
    }

    // ---------------------------------------------------------------- a connection's life

    /// A CONNECT: admit it (or refuse it) and assign a client id, take over or resume the session,
    /// arm the will, answer CONNACK.
    fn on_connect(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        mut c: Connect,
        principal: Option<Arc<Principal>>,
        outbox: Outbox,
        reply: oneshot::Sender<ConnectReply>,
    ) {
        let (client_id, assigned) = match self.admit(&c, principal.as_deref()) {
            Ok(ids) => ids,
            Err(refusal) => return self.refuse(conn, peer, &c, refusal, outbox, reply),
        };
        let requested_expiry = crate::session::requested_expiry(&c);
        let expiry = requested_expiry.min(self.cfg.session_expiry_max);
        let keep_alive = crate::session::negotiate_keep_alive(&self.cfg, c.keep_alive, c.protocol.is_v5());
        let session_present = self.attach_session(conn, &c, &client_id, expiry, principal.as_deref());
        self.wills().arm(&client_id, c.will.take(), principal.clone(), expiry);

        let props = self.connack_properties(&c, assigned, keep_alive, requested_expiry, expiry);
        let ack = crate::codec::ConnAck { session_present, code: 0, properties: props };
        outbox.packet(&Packet::ConnAck(ack), c.protocol);
        debug!(conn, %peer, client = %client_id, version = ?c.protocol, clean_start = c.clean_start, keep_alive,
            session_expiry = expiry, session_present, "connected");
        if let Some(l) = &mut self.lifecycle {
            l.connected(conn, &client_id, principal.as_deref());
        }
        let token = self.arm_token(&client_id, c.properties.authentication_method(), principal.as_ref().and_then(|p| p.valid_until));
        self.conns.insert(
            conn,
            Box::new(Conn {
                client_id,
                outbox,
                version: c.protocol,
                receive_maximum: c.properties.receive_maximum().unwrap_or(u16::MAX),
                max_packet_size: c.properties.maximum_packet_size(),
                aliases: std::collections::BTreeMap::new(),
                connect_expiry: requested_expiry,
                principal,
                token,
            }),
        );
        let _ = reply.send(ConnectReply { accepted: true, keep_alive });
        self.resend_inflight(conn);
        self.pump(conn);
    }

    /// Every way a connection ends comes here once: the will follows [`crate::will::on_connection_end`],
    /// then the session ends or starts to expire. Later calls for the same connection do nothing.
    pub(crate) fn end_connection(&mut self, conn: ConnId, ending: Ending) {
        let Some(c) = self.conns.remove(&conn) else { return };
        if let Some(l) = &mut self.lifecycle {
            l.disconnected(conn, &ending);
        }
        crate::session::say_goodbye(&c, &ending);
        let now = Instant::now();
        let Some((armed, expiry)) = self.detach_session(conn, &c.client_id) else { return };
        debug!(conn, client = %c.client_id, ending = %ending, "connection ended");
        if let Some(armed) = armed {
            let will = self.wills().on_end(&c.client_id, armed, &ending, expiry, now);
            self.route_will(will);
        }
        self.session_after_end(&c.client_id, expiry, now);
    }

    // ---------------------------------------------------------------- packets after CONNACK

    /// A packet after CONNACK, to the part that handles it.
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
            Packet::Auth(a) => self.on_auth(conn, a),
            other => {
                let what = format!("{} from a client after CONNACK", other.name());
                self.protocol_error(conn, reason::PROTOCOL_ERROR, what);
            }
        }
    }

    /// Ends the connection for a protocol error (5.0: DISCONNECT with `code` and `detail`).
    pub(crate) fn protocol_error(&mut self, conn: ConnId, code: u8, detail: String) {
        self.end_connection(conn, Ending::Network(CloseReason::BadPacket { code, detail }));
    }


    // ---------------------------------------------------------------- timers and shutdown

    /// Fires every timer due at `now`, earliest first.
    fn on_timers(&mut self, now: Instant) {
        while let Some((at, kind, client_id)) = self.timers.pop_due(now) {
            match kind {
                Timer::WillDelay => {
                    let will = self.wills().fire(&client_id, at);
                    self.route_will(will);
                }
                Timer::SessionExpiry => self.expire_session(&client_id, at),
                Timer::TokenExpiry => self.token_expired(&client_id, at),
            }
        }
    }

    /// Publishes every will still due (see [`Wills::on_shutdown`]), then ends every connection
    /// with DISCONNECT 0x8B. Over a durable store nothing is hastened: each connection ends as at a
    /// server shutdown (the table decides its will), and delayed wills stay pending on disk, due
    /// at their time after the restart.
    fn shutdown(&mut self) {
        info!(connections = self.conns.len(), "shutting down");
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        if self.store.durable() {
            self.durably(|core| {
                for conn in conns {
                    core.end_connection(conn, Ending::Shutdown);
                }
            });
            return;
        }
        let live: Vec<String> = self.conns.values().map(|c| c.client_id.clone()).collect();
        for will in self.wills().on_shutdown(&live) {
            self.route_will(Some(will));
        }
        for conn in conns {
            self.end_connection(conn, Ending::Shutdown);
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
