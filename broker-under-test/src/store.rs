//! Broker state that outlives a connection: sessions, retained messages and pending (delayed) wills,
//! behind one small [`Store`] interface. [`MemoryStore`] keeps it in memory; a durable store can
//! implement the same trait so that wills survive a broker crash.

use crate::codec::{Properties, ProtocolVersion, QoS, SubOptions, Will};
use crate::codec::topic;
use crate::eventgrid::Principal;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use tokio::time::Instant;

/// Session Expiry Interval meaning "never expires".
pub const NEVER: u32 = u32::MAX;

/// An application message as the router sees it: what was published, independent of any receiver.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Bytes,
    /// QoS it was published with.
    pub qos: QoS,
    /// RETAIN flag it was published with.
    pub retain: bool,
    /// Properties forwarded unchanged (Payload Format, Content Type, Response Topic, Correlation
    /// Data, User Properties, in order). Message Expiry lives in `expires_at`.
    pub properties: Properties,
    /// When the message expires (from Message Expiry Interval).
    pub expires_at: Option<Instant>,
    /// Client id of the publisher, for No Local.
    pub publisher: Option<String>,
}

impl Message {
    /// Whether the message has expired at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// One message on its way to one session: the QoS, retain flag and subscription ids for that receiver.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The message, shared between receivers.
    pub message: Arc<Message>,
    /// QoS for this receiver (min of published and subscribed).
    pub qos: QoS,
    /// RETAIN flag for this receiver.
    pub retain: bool,
    /// Subscription Identifiers of the matching subscriptions.
    pub subscription_ids: Vec<u32>,
    /// The shared subscription (`$share/{group}/{filter}`) it came through, if any: when the
    /// receiver's session ends unacknowledged, it goes to another member ([`crate::shared`]).
    pub shared: Option<Arc<str>>,
}

/// Where an outbound QoS 1/2 message is in its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowState {
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    AwaitAck,
    /// PUBREL sent, waiting for PUBCOMP.
    AwaitComp,
}

/// An outbound QoS 1/2 message that has a packet id.
#[derive(Clone, Debug)]
pub struct Inflight {
    /// What was sent.
    pub delivery: Delivery,
    /// Flow state.
    pub state: FlowState,
}

/// One subscription of a session.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    /// Options from SUBSCRIBE.
    pub options: SubOptions,
    /// Subscription Identifier, if any.
    pub id: Option<u32>,
}

/// A Will carried by a live connection (MQTT-3.1.2-7: stored with the session in 5.0).
#[derive(Clone, Debug, PartialEq)]
pub struct ArmedWill {
    /// The Will as sent in CONNECT.
    pub will: Will,
    /// Will Delay Interval in seconds after the broker's cap (0 in 3.1.1).
    pub delay: u32,
    /// Who set it (with a namespace): the will is authorized as this client's PUBLISH when it fires.
    pub owner: Option<Arc<Principal>>,
}

/// A Will whose connection has ended, waiting for its due time (kept by the [`Store`], timed by
/// [`crate::timers::Timers`]).
#[derive(Clone, Debug, PartialEq)]
pub struct PendingWill {
    /// Owner's client id.
    pub client_id: String,
    /// The Will.
    pub will: Will,
    /// When it is published: the earlier of delay end and session end.
    pub due: Instant,
    /// Why it was triggered (for logs and reports).
    pub cause: String,
    /// Who set it (with a namespace), for authorization when it fires.
    pub owner: Option<Arc<Principal>>,
}

/// Session state (section 4.1).
#[derive(Debug)]
pub struct Session {
    /// Client identifier.
    pub client_id: String,
    /// Protocol of the connection that created or last resumed it.
    pub version: ProtocolVersion,
    /// Session Expiry Interval in seconds ([`NEVER`] = never).
    pub expiry_interval: u32,
    /// Subscriptions by filter.
    pub subscriptions: HashMap<String, Subscription>,
    /// The Will of the current connection, if any.
    pub will: Option<ArmedWill>,
    /// Outbound QoS 1/2 messages awaiting acknowledgement, by packet id.
    pub inflight: BTreeMap<u16, Inflight>,
    /// Messages not yet sent (offline, or over the inflight window).
    pub queue: VecDeque<Delivery>,
    /// Inbound QoS 2 packet ids awaiting PUBREL.
    pub awaiting_rel: BTreeSet<u16>,
    /// Last packet id used for outbound messages.
    pub last_packet_id: u16,
    /// The connection currently attached, if any.
    pub connection: Option<u64>,
    /// The authentication name that owns the session (with a namespace): another may not take it.
    pub owner: Option<String>,
    /// When the session expires, while no connection is attached.
    pub expires_at: Option<Instant>,
}

impl Session {
    /// A fresh session.
    pub fn new(client_id: String, version: ProtocolVersion, expiry_interval: u32) -> Self {
        Session {
            client_id,
            version,
            expiry_interval,
            subscriptions: HashMap::new(),
            will: None,
            inflight: BTreeMap::new(),
            queue: VecDeque::new(),
            awaiting_rel: BTreeSet::new(),
            last_packet_id: 0,
            connection: None,
            owner: None,
            expires_at: None,
        }
    }

    /// The next free outbound packet id, or `None` when all 65,535 are in flight.
    pub fn next_packet_id(&mut self) -> Option<u16> {
        for _ in 0..u16::MAX {
            self.last_packet_id = self.last_packet_id.wrapping_add(1).max(1);
            if !self.inflight.contains_key(&self.last_packet_id) {
                return Some(self.last_packet_id);
            }
        }
        None
    }
}

/// Storage for sessions, retained messages and pending wills.
pub trait Store: Send {
    /// The session of `client_id`.
    fn session(&mut self, client_id: &str) -> Option<&mut Session>;
    /// Adds or replaces a session.
    fn insert_session(&mut self, session: Session);
    /// Removes a session.
    fn remove_session(&mut self, client_id: &str) -> Option<Session>;
    /// Number of sessions.
    fn session_count(&self) -> usize;
    /// Client ids of every session.
    fn session_ids(&self) -> Vec<String>;

    /// Stores (`Some`) or deletes (`None`) the retained message of `topic`.
    fn set_retained(&mut self, topic: &str, message: Option<Arc<Message>>);
    /// Unexpired retained messages whose topic matches `filter`.
    fn retained_matching(&mut self, filter: &str, now: Instant) -> Vec<Arc<Message>>;
    /// Number of stored retained messages (for the retained-message limit).
    fn retained_count(&self) -> usize;
    /// Whether `topic` has a stored retained message (replacing one is always allowed).
    fn has_retained(&self, topic: &str) -> bool;

    /// Adds a pending will; gives back any earlier one of the same client it replaces. (The will's
    /// timer is the core's: see [`crate::timers::Timers`].)
    fn put_pending_will(&mut self, will: PendingWill) -> Option<PendingWill>;
    /// Removes and returns the pending will of `client_id`.
    fn take_pending_will(&mut self, client_id: &str) -> Option<PendingWill>;
    /// Removes and returns every pending will.
    fn take_all_pending_wills(&mut self) -> Vec<PendingWill>;
    /// Number of pending wills.
    fn pending_will_count(&self) -> usize;

    /// Makes every change since the last commit durable; returns once it is on disk (the
    /// in-memory store has nothing to do).
    fn commit(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
    /// Whether committed changes survive a crash (then the core commits each batch of events
    /// before any packet it produced leaves).
    fn durable(&self) -> bool {
        false
    }
    /// What the previous run left for the restart to decide; given once, after opening.
    fn take_recovery(&mut self) -> Option<crate::durable::Recovery> {
        None
    }
}

/// The in-memory [`Store`].
#[derive(Default)]
pub struct MemoryStore {
    /// Boxed: the map's spare capacity then costs a pointer per slot, not a whole session; keys
    /// as `Box<str>` (16 bytes, not 24): a slot is 24 bytes, and a map has up to twice as many
    /// slots as sessions.
    sessions: HashMap<Box<str>, Box<Session>>,
    retained: HashMap<String, Arc<Message>>,
    wills: HashMap<String, PendingWill>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
    /// The session of `client_id`, read-only.
    pub fn session_ref(&self, client_id: &str) -> Option<&Session> {
        self.sessions.get(client_id).map(|s| &**s)
    }
    /// The retained message of `topic`, expired or not.
    pub fn retained(&self, topic: &str) -> Option<&Arc<Message>> {
        self.retained.get(topic)
    }
    /// The pending will of `client_id`.
    pub fn pending_will(&self, client_id: &str) -> Option<&PendingWill> {
        self.wills.get(client_id)
    }
}

impl Store for MemoryStore {
    fn session(&mut self, client_id: &str) -> Option<&mut Session> {
        self.sessions.get_mut(client_id).map(|s| &mut **s)
    }
    fn insert_session(&mut self, session: Session) {
        self.sessions.insert(session.client_id.as_str().into(), Box::new(session));
    }
    fn remove_session(&mut self, client_id: &str) -> Option<Session> {
        self.sessions.remove(client_id).map(|s| *s)
    }
    fn session_count(&self) -> usize {
        self.sessions.len()
    }
    fn session_ids(&self) -> Vec<String> {
        self.sessions.keys().map(|k| k.to_string()).collect()
    }

    fn set_retained(&mut self, topic: &str, message: Option<Arc<Message>>) {
        match message {
            Some(m) => {
                self.retained.insert(topic.to_owned(), m);
            }
            None => {
                self.retained.remove(topic);
            }
        }
    }
    fn retained_count(&self) -> usize {
        self.retained.len()
    }
    fn has_retained(&self, topic: &str) -> bool {
        self.retained.contains_key(topic)
    }
    fn retained_matching(&mut self, filter: &str, now: Instant) -> Vec<Arc<Message>> {
        self.retained.retain(|_, m| !m.expired(now));
        let mut out: Vec<Arc<Message>> =
            self.retained.values().filter(|m| topic::matches(filter, &m.topic)).cloned().collect();
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }

    fn put_pending_will(&mut self, will: PendingWill) -> Option<PendingWill> {
        self.wills.insert(will.client_id.clone(), will)
    }
    fn take_pending_will(&mut self, client_id: &str) -> Option<PendingWill> {
        self.wills.remove(client_id)
    }
    fn take_all_pending_wills(&mut self) -> Vec<PendingWill> {
        let mut all: Vec<PendingWill> = self.wills.drain().map(|(_, w)| w).collect();
        all.sort_by_key(|w| w.due);
        all
    }
    fn pending_will_count(&self) -> usize {
        self.wills.len()
    }
}
