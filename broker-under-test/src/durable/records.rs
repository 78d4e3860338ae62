//! What the durable store writes: one serde record per session, retained message and pending will.
//! Instants become wall-clock milliseconds ([`Clock`]) so that due times and expiries keep their
//! meaning across a restart; live connection ids become a `live` flag (the connection is gone after
//! a crash, and its will is then handled as an abrupt end).

use crate::codec::{Properties, ProtocolVersion, QoS, SubOptions, Will};
use crate::eventgrid::Principal;
use crate::store::{ArmedWill, Delivery, FlowState, Inflight, Message, PendingWill, Session, Subscription};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Converts between the broker's monotonic instants and wall-clock milliseconds since the Unix
/// epoch, anchored once per process.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    wall: u64,
    at: Instant,
}

impl Clock {
    /// A clock anchored now.
    pub fn now() -> Clock {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        Clock { wall, at: Instant::now() }
    }
    /// Wall-clock milliseconds of `t`.
    pub fn wall_ms(&self, t: Instant) -> u64 {
        if t >= self.at {
            self.wall.saturating_add((t - self.at).as_millis() as u64)
        } else {
            self.wall.saturating_sub((self.at - t).as_millis() as u64)
        }
    }
    /// The instant of wall-clock `ms` (an instant in the past is kept as far back as the monotonic
    /// clock allows, and is then simply overdue).
    pub fn instant(&self, ms: u64) -> Instant {
        if ms >= self.wall {
            self.at + Duration::from_millis(ms - self.wall)
        } else {
            self.at.checked_sub(Duration::from_millis(self.wall - ms)).unwrap_or(self.at)
        }
    }
    /// Wall-clock milliseconds now.
    pub fn now_ms(&self) -> u64 {
        self.wall_ms(Instant::now())
    }
}

/// An application message.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MessageRecord {
    topic: String,
    payload: Vec<u8>,
    qos: QoS,
    retain: bool,
    properties: Properties,
    expires_at_ms: Option<u64>,
    publisher: Option<String>,
}

impl MessageRecord {
    /// The record of `m`.
    pub fn of(m: &Message, clock: &Clock) -> Self {
        MessageRecord {
            topic: m.topic.clone(),
            payload: m.payload.to_vec(),
            qos: m.qos,
            retain: m.retain,
            properties: m.properties.clone(),
            expires_at_ms: m.expires_at.map(|t| clock.wall_ms(t)),
            publisher: m.publisher.clone(),
        }
    }
    /// The message back.
    pub fn message(self, clock: &Clock) -> Message {
        Message {
            topic: self.topic,
            payload: self.payload.into(),
            qos: self.qos,
            retain: self.retain,
            properties: self.properties,
            expires_at: self.expires_at_ms.map(|ms| clock.instant(ms)),
            publisher: self.publisher,
        }
    }
}

/// One message on its way to one session.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    message: MessageRecord,
    qos: QoS,
    retain: bool,
    subscription_ids: Vec<u32>,
    shared: Option<String>,
}

impl DeliveryRecord {
    fn of(d: &Delivery, clock: &Clock) -> Self {
        DeliveryRecord {
            message: MessageRecord::of(&d.message, clock),
            qos: d.qos,
            retain: d.retain,
            subscription_ids: d.subscription_ids.clone(),
            shared: d.shared.as_deref().map(str::to_owned),
        }
    }
    fn delivery(self, clock: &Clock) -> Delivery {
        Delivery {
            message: Arc::new(self.message.message(clock)),
            qos: self.qos,
            retain: self.retain,
            subscription_ids: self.subscription_ids,
            shared: self.shared.map(Into::into),
        }
    }
}

/// A will armed by a live connection.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct ArmedRecord {
    will: Will,
    delay: u32,
    owner: Option<Principal>,
}

/// A session: its subscriptions, queued and in-flight messages, packet ids, the will of its live
/// connection, and when it expires.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SessionRecord {
    client_id: String,
    version: ProtocolVersion,
    expiry_interval: u32,
    subscriptions: Vec<(String, SubOptions, Option<u32>)>,
    will: Option<ArmedRecord>,
    /// (packet id, delivery, PUBREL sent).
    inflight: Vec<(u16, DeliveryRecord, bool)>,
    queue: Vec<DeliveryRecord>,
    awaiting_rel: Vec<u16>,
    last_packet_id: u16,
    /// A connection was attached when this was written.
    pub live: bool,
    owner: Option<String>,
    expires_at_ms: Option<u64>,
}

impl SessionRecord {
    /// The record of `s`.
    pub fn of(s: &Session, clock: &Clock) -> Self {
        let mut subscriptions: Vec<_> = s.subscriptions.iter().map(|(f, sub)| (f.clone(), sub.options, sub.id)).collect();
        subscriptions.sort_by(|a, b| a.0.cmp(&b.0));
        SessionRecord {
            client_id: s.client_id.clone(),
            version: s.version,
            expiry_interval: s.expiry_interval,
            subscriptions,
            will: s.will.as_ref().map(|a| ArmedRecord {
                will: a.will.clone(),
                delay: a.delay,
                owner: a.owner.as_deref().cloned(),
            }),
            inflight: s
                .inflight
                .iter()
                .map(|(id, f)| (*id, DeliveryRecord::of(&f.delivery, clock), f.state == FlowState::AwaitComp))
                .collect(),
            queue: s.queue.iter().map(|d| DeliveryRecord::of(d, clock)).collect(),
            awaiting_rel: s.awaiting_rel.iter().copied().collect(),
            last_packet_id: s.last_packet_id,
            live: s.connection.is_some(),
            owner: s.owner.clone(),
            expires_at_ms: s.expires_at.map(|t| clock.wall_ms(t)),
        }
    }

    /// The session back, with no connection attached (a live one's will stays armed: the restart
    /// decides it).
    pub fn session(self, clock: &Clock) -> Session {
        let mut s = Session::new(self.client_id, self.version, self.expiry_interval);
        s.subscriptions = self
            .subscriptions
            .into_iter()
            .map(|(f, options, id)| (f, Subscription { options, id }))
            .collect::<HashMap<_, _>>();
        s.will = self.will.map(|a| ArmedWill { will: a.will, delay: a.delay, owner: a.owner.map(Arc::new) });
        s.inflight = self
            .inflight
            .into_iter()
            .map(|(id, d, comp)| {
                let state = if comp { FlowState::AwaitComp } else { FlowState::AwaitAck };
                (id, Inflight { delivery: d.delivery(clock), state })
            })
            .collect::<BTreeMap<_, _>>();
        s.queue = self.queue.into_iter().map(|d| d.delivery(clock)).collect::<VecDeque<_>>();
        s.awaiting_rel = self.awaiting_rel.into_iter().collect::<BTreeSet<_>>();
        s.last_packet_id = self.last_packet_id;
        s.owner = self.owner;
        s.expires_at = self.expires_at_ms.map(|ms| clock.instant(ms));
        s
    }
}

/// A will waiting for its delay, with its due time on the wall clock.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PendingWillRecord {
    client_id: String,
    will: Will,
    due_ms: u64,
    cause: String,
    owner: Option<Principal>,
}

impl PendingWillRecord {
    /// The record of `w`.
    pub fn of(w: &PendingWill, clock: &Clock) -> Self {
        PendingWillRecord {
            client_id: w.client_id.clone(),
            will: w.will.clone(),
            due_ms: clock.wall_ms(w.due),
            cause: w.cause.clone(),
            owner: w.owner.as_deref().cloned(),
        }
    }
    /// The pending will back.
    pub fn pending(self, clock: &Clock) -> PendingWill {
        PendingWill {
            client_id: self.client_id,
            will: self.will,
            due: clock.instant(self.due_ms),
            cause: self.cause,
            owner: self.owner.map(Arc::new),
        }
    }
}

/// Encodes a record (postcard: compact, schema in the types).
pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("records serialize into memory")
}

/// Decodes a record; a record that does not decode names its table and key.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], table: &str, key: &str) -> anyhow::Result<T> {
    postcard::from_bytes(bytes).map_err(|e| anyhow::anyhow!("corrupt {table} record {key:?} in the data directory: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Property;

    #[test]
    fn the_clock_round_trips_past_and_future_instants_to_the_millisecond() {
        let c = Clock::now();
        for off in [0i64, 1, 1500, -1500, 86_400_000] {
            let t = if off >= 0 { c.at + Duration::from_millis(off as u64) } else { c.at - Duration::from_millis((-off) as u64) };
            assert_eq!(c.instant(c.wall_ms(t)), t, "offset {off}");
        }
    }

    #[test]
    fn a_session_with_a_will_queue_and_inflight_round_trips() {
        let c = Clock::now();
        let mut s = Session::new("s1".into(), ProtocolVersion::V5, 300);
        s.subscriptions.insert("a/+".into(), Subscription { options: SubOptions { qos: QoS::AtLeastOnce, ..Default::default() }, id: Some(7) });
        let mut props = Properties::new();
        props.push(Property::ContentType("text/plain".into()));
        let will = Will { topic: "clients/s1/status".into(), payload: "gone".into(), qos: QoS::AtLeastOnce, retain: true, properties: props.clone() };
        s.will = Some(ArmedWill { will, delay: 5, owner: None });
        let m = Arc::new(Message {
            topic: "a/b".into(),
            payload: "x".into(),
            qos: QoS::ExactlyOnce,
            retain: false,
            properties: props,
            expires_at: Some(c.at + Duration::from_secs(9)),
            publisher: Some("p".into()),
        });
        let d = Delivery { message: m, qos: QoS::AtLeastOnce, retain: false, subscription_ids: vec![7], shared: Some("$share/g/a/+".into()) };
        s.queue.push_back(d.clone());
        s.inflight.insert(3, Inflight { delivery: d, state: FlowState::AwaitComp });
        s.awaiting_rel.insert(9);
        s.last_packet_id = 3;
        s.connection = Some(42);
        let rec = SessionRecord::of(&s, &c);
        let back: SessionRecord = decode(&encode(&rec), "sessions", "s1").unwrap();
        assert_eq!(back, rec);
        assert!(back.live);
        let again = back.session(&c);
        assert_eq!(SessionRecord::of(&again, &c), SessionRecord { live: false, ..rec });
        assert_eq!(again.connection, None);
    }

    #[test]
    fn a_corrupt_record_is_a_clear_error_naming_table_and_key() {
        let e = decode::<SessionRecord>(&[0xff, 0xff, 0xff], "sessions", "s1").unwrap_err().to_string();
        assert!(e.contains("corrupt sessions record \"s1\""), "{e}");
    }
}
