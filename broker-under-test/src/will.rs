//! The will life-cycle, in one place ([`Wills`]). A CONNECT **arms** a will ([`Wills::arm`]); a
//! resumed session **cancels** its delayed will ([`Wills::cancel`]); the end of a connection
//! **discards**, **publishes** or **schedules** it by the decision table below ([`Wills::on_end`]);
//! a session that ends first **hastens** it ([`Wills::hasten`]); its timer fires it
//! ([`Wills::fire`]); shutdown publishes whatever is left ([`Wills::on_shutdown`]). Each event is logged
//! at debug level on target `lwt_broker::will`, with its reason.
//!
//! The decision table (MQTT 3.1.1 section 3.1.2.5, 5.0 sections 3.1.2.5, 3.1.3.2.2, 3.1.4, 3.14.4):
//!
//! | ending | will delay | session expiry | decision |
//! |---|---|---|---|
//! | client DISCONNECT 0x00 (any 3.1.1 DISCONNECT) | any | any | discard |
//! | anything else (FIN, RST, keep-alive, bad packet, 0x04 or other code, takeover, shutdown, crash before a restart) | 0 | any | publish now |
//! | anything else | any | 0 | publish now: the session ends with the connection |
//! | anything else | w > 0 | s > 0 | publish after min(w, s), unless the session is resumed first |
//!
//! Every decision point calls the test hook ([`WillHook`]) when one is set: tests install known will
//! bugs through it from Rust ([`crate::Config::will_hook`]); no config file or flag can set it, and the
//! broker's binaries never do.

use crate::codec::{property_id, reason, Will};
use crate::eventgrid::{Namespace, Principal};
use crate::store::{ArmedWill, Message, PendingWill, Store};
use crate::timers::{Timer, Timers};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::{debug, warn};

/// Why the network side of a connection ended, as seen by its reader.
#[derive(Clone, Debug)]
pub enum CloseReason {
    /// The peer closed the stream (FIN) without DISCONNECT.
    PeerClosed,
    /// A socket error (e.g. RST).
    Io(String),
    /// Nothing arrived for 1.5 × keep-alive.
    KeepAliveTimeout,
    /// A malformed packet, a protocol error or another end the server decides (e.g. 0xA0 when an
    /// Event Grid webhook's authentication expires); the code goes in the server's DISCONNECT.
    BadPacket {
        /// 5.0 reason code for the DISCONNECT.
        code: u8,
        /// What was wrong.
        detail: String,
    },
}

/// How a connection ended, from the will's point of view.
#[derive(Clone, Debug)]
pub enum Ending {
    /// The client sent DISCONNECT with this reason code (3.1.1: always 0).
    ClientDisconnect {
        /// Reason code.
        reason: u8,
    },
    /// The network side ended or the broker closed it for a bad packet.
    Network(CloseReason),
    /// Another connection took over the client id (MQTT-3.1.4-2 / -3).
    TakenOver,
    /// The broker is shutting down.
    Shutdown,
    /// The broker stopped without a clean shutdown (crash, SIGKILL, power loss) while the connection
    /// was live; decided when the durable store is reopened ([`crate::restart`]). An abrupt end:
    /// 3.1.2.5 lets the server defer the will until it restarts.
    Crashed,
}

impl Ending {
    /// The reason code of the DISCONNECT the server sends (5.0), if it sends one.
    pub fn server_disconnect_code(&self) -> Option<u8> {
        match self {
            Ending::Network(CloseReason::KeepAliveTimeout) => Some(reason::KEEP_ALIVE_TIMEOUT),
            Ending::Network(CloseReason::BadPacket { code, .. }) => Some(*code),
            Ending::TakenOver => Some(reason::SESSION_TAKEN_OVER),
            Ending::Shutdown => Some(reason::SERVER_SHUTTING_DOWN),
            _ => None,
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::ClientDisconnect { reason } => write!(f, "client DISCONNECT {reason:#04x}"),
            Ending::Network(CloseReason::PeerClosed) => write!(f, "peer closed the connection without DISCONNECT"),
            Ending::Network(CloseReason::Io(e)) => write!(f, "network error: {e}"),
            Ending::Network(CloseReason::KeepAliveTimeout) => write!(f, "keep-alive expired (1.5 x keep-alive)"),
            Ending::Network(CloseReason::BadPacket { code, detail }) => write!(f, "closed by the broker ({code:#04x}): {detail}"),
            Ending::TakenOver => write!(f, "session taken over by a new connection"),
            Ending::Shutdown => write!(f, "broker shutting down"),
            Ending::Crashed => write!(f, "broker restarted after a crash that ended the connection"),
        }
    }
}

/// What happens to the will of an ended connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Never published.
    Discard,
    /// Published at once.
    PublishNow,
    /// Published after this many seconds unless the session is resumed first.
    Delay(u32),
}

/// Applies the table above. `delay` is the Will Delay Interval, `session_expiry` the Session Expiry
/// Interval in force when the connection ended (a DISCONNECT may have changed it).
pub fn on_connection_end(ending: &Ending, delay: u32, session_expiry: u32) -> Decision {
    if let Ending::ClientDisconnect { reason: reason::SUCCESS } = ending {
        return Decision::Discard;
    }
    if delay == 0 || session_expiry == 0 {
        return Decision::PublishNow;
    }
    Decision::Delay(delay.min(session_expiry))
}

// ---------------------------------------------------------------- the test hook

/// A test's one hook into the will decisions: called at each decision point with what the broker is
/// about to do, which it may change. It exists so that the harness can prove it catches known will
/// bugs; the bugs themselves live only in the harness's tests. `Debug` names the installed bug in
/// logs and test output.
pub trait WillHook: Send + Sync + fmt::Debug {
    /// Sees (and may change) the decision at `point`.
    fn at(&self, point: Point<'_>);
}

/// A decision point of the will life-cycle, with the decision the broker is about to apply.
#[derive(Debug)]
pub enum Point<'a> {
    /// How long a silent connection lives before its will fires (`grace`: 1.5 × `keep_alive`).
    KeepAlive {
        /// The negotiated keep-alive in seconds (non-zero).
        keep_alive: u16,
        /// Time from the last packet received to the keep-alive close.
        grace: &'a mut Duration,
    },
    /// The will of an ended connection, by the decision table.
    ConnectionEnd {
        /// How the connection ended.
        ending: &'a Ending,
        /// What happens to the will.
        decision: &'a mut Decision,
    },
    /// A session is resumed: whether its pending will is cancelled (MQTT-3.1.3-9).
    Resume {
        /// True unless the hook keeps the will.
        cancel: &'a mut bool,
    },
    /// A will about to be routed: its message and how it is routed.
    Publish {
        /// The application message the will becomes.
        message: &'a mut Message,
        /// How it is routed.
        routing: &'a mut Routing,
    },
}

/// How a will's message is routed; only a [`WillHook`] changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routing {
    /// How many times it is routed (at least once).
    pub copies: u8,
    /// Deliver at the will's own QoS rather than the subscription's.
    pub keep_qos: bool,
}

impl Default for Routing {
    fn default() -> Self {
        Routing { copies: 1, keep_qos: false }
    }
}

/// The installed [`WillHook`], if any (compared by identity, so [`crate::Config`] stays `PartialEq`).
#[derive(Clone, Default)]
pub struct HookRef(pub Option<Arc<dyn WillHook>>);

impl HookRef {
    /// Installs `hook`.
    pub fn new(hook: impl WillHook + 'static) -> Self {
        HookRef(Some(Arc::new(hook)))
    }
}

impl fmt::Debug for HookRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(h) => write!(f, "HookRef({h:?})"),
            None => f.write_str("HookRef(None)"),
        }
    }
}

impl PartialEq for HookRef {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl HookRef {
    /// Lets the installed hook, if any, see and change the decision at `point`.
    #[inline]
    fn at(&self, point: Point<'_>) {
        if let Some(h) = &self.0 {
            h.at(point);
        }
    }
}

/// How long a silent connection lives: 1.5 × keep-alive after its last packet (MQTT-3.1.2-24 /
/// -22); then it ends with [`CloseReason::KeepAliveTimeout`] and its will fires. `None`: no limit.
/// `hook` is [`crate::Config::will_hook`].
pub fn keep_alive_grace(hook: &HookRef, keep_alive: u16) -> Option<Duration> {
    if keep_alive == 0 {
        return None;
    }
    let mut grace = Duration::from_millis(keep_alive as u64 * 1500);
    hook.at(Point::KeepAlive { keep_alive, grace: &mut grace });
    Some(grace)
}

// ---------------------------------------------------------------- the life-cycle

/// Wills published and denied since start (for [`crate::core::Stats`]).
#[derive(Debug, Default)]
pub struct WillCounts {
    /// Wills published.
    pub published: u64,
    /// Wills dropped because the namespace did not authorize their owner to publish them.
    pub denied: u64,
}

/// A will on its way to the router: the message it became and how to route it.
#[derive(Debug)]
pub struct Publication {
    /// The application message.
    pub message: Message,
    /// How it is routed (only a [`WillHook`] changes the default).
    pub routing: Routing,
    /// Its owner, as the namespace knows it (for Event Grid routing's client enrichments).
    pub owner: Option<Arc<Principal>>,
}

/// The will life-cycle over the parts of broker state it touches, lent by the core for one event
/// (`Core::wills`). It never routes: a will to publish is handed back as a [`Publication`] for
/// the core to give to the router, so this module depends on no other part of the core.
pub struct Wills<'a> {
    /// The test hook ([`crate::Config::will_hook`]).
    pub hook: &'a HookRef,
    /// Cap on the Will Delay Interval ([`crate::Config::max_will_delay`]).
    pub max_will_delay: Option<u32>,
    /// The namespace that authorizes a will as its owner's PUBLISH, if any.
    pub namespace: Option<&'a Namespace>,
    /// Sessions (armed wills) and pending wills.
    pub store: &'a mut dyn Store,
    /// Will-delay timers (shared with session expiry).
    pub timers: &'a mut Timers,
    /// Counters.
    pub counts: &'a mut WillCounts,
}

impl Wills<'_> {
    /// Arms the will of a new connection (an earlier connection's will is gone by now): it stays
    /// with the session until the connection ends. A Will Delay above `max_will_delay` is lowered.
    pub fn arm(&mut self, client_id: &str, will: Option<Will>, owner: Option<Arc<Principal>>, session_expiry: u32) {
        let requested = will.as_ref().and_then(|w| w.properties.will_delay_interval()).unwrap_or(0);
        let delay = match self.max_will_delay {
            Some(cap) if requested > cap => {
                debug!(client = %client_id, requested, cap, "will delay capped");
                cap
            }
            _ => requested,
        };
        let Some(session) = self.store.session(client_id) else { return };
        session.will = will.map(|will| ArmedWill { will, delay, owner });
        if let Some(w) = &session.will {
            debug!(client = %client_id, topic = %w.will.topic, qos = w.will.qos as u8, retain = w.will.retain,
                delay = w.delay, session_expiry, "will armed");
        }
    }

    /// A connection resumed the session: its pending will is cancelled (MQTT-3.1.3-9).
    pub fn cancel(&mut self, client_id: &str) {
        let mut cancel = true;
        self.hook.at(Point::Resume { cancel: &mut cancel });
        if !cancel {
            return;
        }
        if let Some(pw) = self.take_pending(client_id) {
            debug!(client = %client_id, topic = %pw.will.topic,
                "will cancelled: reconnected to the session within the will delay (MQTT-3.1.3-9)");
        }
    }

    /// The connection carrying `armed` ended: discard, publish or schedule the will by the table.
    pub fn on_end(&mut self, client_id: &str, armed: ArmedWill, ending: &Ending, session_expiry: u32, now: Instant) -> Option<Publication> {
        let mut decision = on_connection_end(ending, armed.delay, session_expiry);
        self.hook.at(Point::ConnectionEnd { ending, decision: &mut decision });
        match decision {
            Decision::Discard => {
                debug!(client = %client_id, topic = %armed.will.topic, "will discarded: {ending} (MQTT-3.1.2-10 / MQTT-3.14.4-3)");
                None
            }
            Decision::PublishNow => self.publish(client_id, armed.will, armed.owner, &ending.to_string()),
            Decision::Delay(secs) => {
                let due = now + Duration::from_secs(secs as u64);
                debug!(client = %client_id, topic = %armed.will.topic, delay_secs = secs, "will scheduled: {ending}");
                let pw = PendingWill { client_id: client_id.to_owned(), will: armed.will, due, cause: ending.to_string(), owner: armed.owner };
                if let Some(old) = self.store.put_pending_will(pw) {
                    self.timers.cancel(old.due, Timer::WillDelay, client_id);
                    debug!(client = %client_id, topic = %old.will.topic, "will discarded: replaced by a newer pending will");
                }
                self.timers.insert(due, Timer::WillDelay, client_id);
                None
            }
        }
    }

    /// The session of `client_id` ended: session end is the latest moment a delayed will may wait
    /// for (MQTT-3.1.3.2.2), so a pending will is published now.
    pub fn hasten(&mut self, client_id: &str, why: &str) -> Option<Publication> {
        let pw = self.take_pending(client_id)?;
        let cause = format!("session ended ({why}) before the will delay");
        debug!(client = %client_id, topic = %pw.will.topic, "will hastened: {cause}");
        self.publish(client_id, pw.will, pw.owner, &cause)
    }

    /// The will timer of `client_id`, due at `at`, fired.
    pub fn fire(&mut self, client_id: &str, at: Instant) -> Option<Publication> {
        let pw = self.store.take_pending_will(client_id)?;
        if pw.due > at {
            // Not this timer's will (timers are cancelled with their will, so this does not happen).
            self.store.put_pending_will(pw);
            return None;
        }
        let cause = format!("will delay elapsed after {}", pw.cause);
        self.publish(client_id, pw.will, pw.owner, &cause)
    }

    /// On shutdown the wills of live connections (`live`: their client ids) and delayed wills go
    /// out now, while subscribers are still connected (MQTT 3.1.2.5 allows deferring to a restart,
    /// but the memory store would lose them).
    pub fn on_shutdown(&mut self, live: &[String]) -> Vec<Publication> {
        let mut out = Vec::new();
        for id in live {
            if let Some(armed) = self.store.session(id).and_then(|s| s.will.take()) {
                out.extend(self.publish(id, armed.will, armed.owner, "broker shutting down"));
            }
        }
        for pw in self.store.take_all_pending_wills() {
            self.timers.cancel(pw.due, Timer::WillDelay, &pw.client_id);
            out.extend(self.publish(&pw.client_id, pw.will, pw.owner, "broker shutting down before the will delay elapsed"));
        }
        out
    }

    /// Removes the pending will of `client_id` with its timer.
    fn take_pending(&mut self, client_id: &str) -> Option<PendingWill> {
        let pw = self.store.take_pending_will(client_id)?;
        self.timers.cancel(pw.due, Timer::WillDelay, client_id);
        Some(pw)
    }

    /// Turns a will into the message its owner would have published: with a namespace it is
    /// authorized first, and a denied will is dropped (never delivered) and logged with the reason.
    fn publish(&mut self, client_id: &str, will: Will, owner: Option<Arc<Principal>>, cause: &str) -> Option<Publication> {
        if let (Some(ns), Some(who)) = (self.namespace, owner.as_deref()) {
            if let Err(denied) = ns.may_publish(who, &will.topic) {
                warn!(client = %client_id, topic = %will.topic, authentication_name = %who.authentication_name,
                    "will dropped, not authorized ({cause}): {denied}");
                self.counts.denied += 1;
                return None;
            }
        }
        let now = Instant::now();
        let mut props = will.properties;
        props.remove(property_id::WILL_DELAY_INTERVAL);
        let expires_at = props.message_expiry_interval().map(|s| now + Duration::from_secs(s as u64));
        props.remove(property_id::MESSAGE_EXPIRY_INTERVAL);
        let mut message = Message {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            properties: props,
            expires_at,
            publisher: Some(client_id.to_owned()),
        };
        let mut routing = Routing::default();
        self.hook.at(Point::Publish { message: &mut message, routing: &mut routing });
        debug!(client = %client_id, topic = %message.topic, qos = message.qos as u8, retain = message.retain,
            "will published: {cause}");
        self.counts.published += 1;
        Some(Publication { message, routing, owner })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NEVER;

    #[test]
    fn decision_table() {
        let fin = Ending::Network(CloseReason::PeerClosed);
        let normal = Ending::ClientDisconnect { reason: 0 };
        let with_will = Ending::ClientDisconnect { reason: 4 };
        let bad_code = Ending::ClientDisconnect { reason: 0x80 };
        // Row 1: no delay.
        assert_eq!(on_connection_end(&fin, 0, 100), Decision::PublishNow);
        // Row 2: delay, session ends at close.
        assert_eq!(on_connection_end(&fin, 30, 0), Decision::PublishNow);
        // Rows 3 and 4: the earlier of delay end and session end.
        assert_eq!(on_connection_end(&fin, 5, 60), Decision::Delay(5));
        assert_eq!(on_connection_end(&fin, 60, 5), Decision::Delay(5));
        assert_eq!(on_connection_end(&fin, 60, NEVER), Decision::Delay(60));
        // Row 8: normal disconnect discards.
        assert_eq!(on_connection_end(&normal, 0, 0), Decision::Discard);
        assert_eq!(on_connection_end(&normal, 10, 100), Decision::Discard);
        // Row 9: 0x04 and any other code publish, with the delay.
        assert_eq!(on_connection_end(&with_will, 10, 100), Decision::Delay(10));
        assert_eq!(on_connection_end(&with_will, 10, 0), Decision::PublishNow);
        assert_eq!(on_connection_end(&bad_code, 0, 0), Decision::PublishNow);
        // Rows 10-13: takeover ends the old connection like a close.
        assert_eq!(on_connection_end(&Ending::TakenOver, 0, 100), Decision::PublishNow);
        assert_eq!(on_connection_end(&Ending::TakenOver, 10, 100), Decision::Delay(10));
        assert_eq!(on_connection_end(&Ending::TakenOver, 10, 0), Decision::PublishNow);
    }

    #[test]
    fn keep_alive_grace_is_one_and_a_half_times_keep_alive() {
        let none = HookRef::default();
        assert_eq!(keep_alive_grace(&none, 0), None);
        assert_eq!(keep_alive_grace(&none, 2), Some(Duration::from_secs(3)));
    }

    /// A hook sees every decision point and its changes are applied (here: a 1 s keep-alive grace).
    #[test]
    fn the_hook_changes_the_decision() {
        #[derive(Debug)]
        struct OneSecond;
        impl WillHook for OneSecond {
            fn at(&self, point: Point<'_>) {
                if let Point::KeepAlive { grace, .. } = point {
                    *grace = Duration::from_secs(1);
                }
            }
        }
        assert_eq!(keep_alive_grace(&HookRef::new(OneSecond), 10), Some(Duration::from_secs(1)));
    }
}
