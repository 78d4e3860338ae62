//! Which sessions a topic reaches and how a message gets to each: a trie of topic filters, the
//! per-receiver delivery rules for overlapping subscriptions, No Local and Retain As Published,
//! and delivery itself (inflight window, offline queue, encoding into the receiver's outbox).
//! Wills and client PUBLISHes both come through [`Core::route`]; each shared subscription that
//! matches gets one copy, for the member [`crate::shared::SharedGroups::choose`] picks.

use crate::codec::{topic, Packet, Property, PubResp, Publish, QoS};
use crate::core::{Conn, ConnId, Core};
use crate::store::{Delivery, FlowState, Inflight, Message, Subscription};
use crate::will::Publication;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// A trie of topic filters to the client ids subscribed with them.
#[derive(Default, Debug)]
pub struct SubscriptionTree {
    root: Node,
}

#[derive(Default, Debug)]
struct Node {
    children: HashMap<String, Node>,
    clients: HashSet<String>,
}

impl SubscriptionTree {
    /// Records that `client` subscribed with `filter`.
    pub fn insert(&mut self, filter: &str, client: &str) {
        let mut node = &mut self.root;
        for level in filter.split('/') {
            node = node.children.entry(level.to_owned()).or_default();
        }
        node.clients.insert(client.to_owned());
    }

    /// Forgets `client`'s subscription with `filter`, pruning empty branches.
    pub fn remove(&mut self, filter: &str, client: &str) {
        fn go<'a>(node: &mut Node, mut levels: impl Iterator<Item = &'a str>, client: &str) -> bool {
            match levels.next() {
                None => {
                    node.clients.remove(client);
                }
                Some(level) => {
                    if let Some(child) = node.children.get_mut(level) {
                        if go(child, levels, client) {
                            node.children.remove(level);
                        }
                    }
                }
            }
            node.clients.is_empty() && node.children.is_empty()
        }
        go(&mut self.root, filter.split('/'), client);
    }

    /// Client ids with at least one filter matching `topic`.
    pub fn matching_clients(&self, topic_name: &str) -> HashSet<String> {
        let levels: Vec<&str> = topic_name.split('/').collect();
        let mut out = HashSet::new();
        Self::walk(&self.root, &levels, 0, topic_name.starts_with('$'), &mut out);
        out
    }

    fn walk(node: &Node, levels: &[&str], i: usize, dollar: bool, out: &mut HashSet<String>) {
        let wild_ok = !(dollar && i == 0);
        if wild_ok {
            if let Some(hash) = node.children.get("#") {
                out.extend(hash.clients.iter().cloned());
            }
        }
        if i == levels.len() {
            out.extend(node.clients.iter().cloned());
            return;
        }
        if wild_ok {
            if let Some(plus) = node.children.get("+") {
                Self::walk(plus, levels, i + 1, dollar, out);
            }
        }
        if let Some(exact) = node.children.get(levels[i]) {
            Self::walk(exact, levels, i + 1, dollar, out);
        }
    }
}

/// How `message` reaches a session with `subscriptions`, or `None` if no subscription applies.
/// Overlapping subscriptions give one delivery at the highest QoS granted, carrying every matching
/// Subscription Identifier (MQTT-3.3.4-2..-5). No Local skips the publisher's own subscriptions
/// (MQTT-3.8.3-3); Retain As Published keeps the RETAIN flag (MQTT-3.3.1-12/-13). Shared
/// subscriptions are not counted here: they get their own copy ([`shared_delivery`], 4.8.2).
pub fn delivery_for(
    message: &Arc<Message>,
    client_id: &str,
    subscriptions: &HashMap<String, Subscription>,
) -> Option<Delivery> {
    let own = message.publisher.as_deref() == Some(client_id);
    let mut best: Option<QoS> = None;
    let mut retain = false;
    let mut ids = Vec::new();
    let mut filters: Vec<(&String, &Subscription)> =
        subscriptions.iter().filter(|(f, _)| !is_shared(f) && topic::matches(f, &message.topic)).collect();
    filters.sort_by(|a, b| a.0.cmp(b.0));
    for (_, sub) in filters {
        if own && sub.options.no_local {
            continue;
        }
        let q = message.qos.min(sub.options.qos);
        best = Some(best.map_or(q, |b| b.max(q)));
        retain |= sub.options.retain_as_published && message.retain;
        if let Some(id) = sub.id {
            ids.push(id);
        }
    }
    best.map(|qos| Delivery { message: message.clone(), qos, retain, subscription_ids: ids, shared: None })
}

fn is_shared(filter: &str) -> bool {
    !matches!(crate::shared::classify(filter), crate::shared::ShareKind::Plain)
}

/// How `message` reaches the member holding shared subscription `key` with `sub`: at the lower of
/// the message's QoS and the member's granted QoS (MQTT-4.8.2-3, MQTT-3.8.4-8), with its
/// Subscription Identifier, and RETAIN as published only with Retain As Published.
pub fn shared_delivery(message: &Arc<Message>, key: &str, sub: &Subscription) -> Delivery {
    Delivery {
        message: message.clone(),
        qos: message.qos.min(sub.options.qos),
        retain: sub.options.retain_as_published && message.retain,
        subscription_ids: sub.id.into_iter().collect(),
        shared: Some(Arc::from(key)),
    }
}

impl Core {

    /// Stores a retained message and hands `msg` to every matching session. Returns how many matched.
    pub(crate) fn route(&mut self, msg: Message) -> usize {
        self.route_as(msg, false)
    }

    /// Hands an accepted message (a client PUBLISH that passed every check, a will being
    /// published, an HTTP Publish) to the namespace's routing, which makes it a CloudEvent off the
    /// core ([`crate::eventgrid::routing`]); nothing without `routing:`.
    pub(crate) fn route_cloud_event(&self, msg: &Message, publisher: Option<&Arc<crate::eventgrid::Principal>>) {
        if let Some(r) = &self.routing {
            r.route(msg, publisher);
        }
    }

    /// Routes what the will module published: as many copies, at the QoS, as its routing says
    /// (one, at each subscription's QoS, unless a test's hook changed it).
    pub(crate) fn route_will(&mut self, will: Option<Publication>) {
        let Some(Publication { message, routing, owner }) = will else { return };
        self.route_cloud_event(&message, owner.as_ref());
        for _ in 1..routing.copies {
            self.route_as(message.clone(), routing.keep_qos);
        }
        self.route_as(message, routing.keep_qos);
    }

    /// [`Core::route`], delivering at the message's own QoS when `keep_qos` (only a test's
    /// [`crate::will::WillHook`] asks for that) rather than at each subscription's.
    pub(crate) fn route_as(&mut self, msg: Message, keep_qos: bool) -> usize {
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
        for key in self.shared.matching(&msg.topic) {
            n += usize::from(self.deliver_to_group(&key, &msg, keep_qos, None));
        }
        n
    }

    /// Gives `msg` to one member of shared subscription `key` (not `except`), chosen by
    /// [`crate::shared::SharedGroups::choose`]. Returns whether a member got it.
    pub(crate) fn deliver_to_group(&mut self, key: &str, msg: &Arc<Message>, keep_qos: bool, except: Option<&str>) -> bool {
        let (store, conns) = (&mut self.store, &self.conns);
        let member = self.shared.choose(
            key,
            |m| Some(m) != except,
            |m| store.session(m).and_then(|s| s.connection).is_some_and(|c| conns.contains_key(&c)),
        );
        let Some(member) = member else { return false };
        let Some(sub) = self.store.session(&member).and_then(|s| s.subscriptions.get(key).cloned()) else { return false };
        let mut d = shared_delivery(msg, key, &sub);
        if keep_qos {
            d.qos = msg.qos;
        }
        debug!(client = %member, group = key, topic = %msg.topic, "shared subscription: member chosen");
        self.deliver(&member, d);
        true
    }

    /// A session that ended still owed these messages through shared subscriptions: each goes to
    /// another member (4.8.2: for QoS 1 the server SHOULD; a queued message was never sent). A
    /// QoS 2 message already sent is not (MQTT-4.8.2-5: MUST NOT send it to another client).
    pub(crate) fn redistribute(&mut self, client_id: &str, queued: Vec<Delivery>, inflight: Vec<Inflight>) {
        let now = Instant::now();
        // In flight first: those were sent before anything still queued.
        let sent: Vec<Delivery> = inflight.into_iter().filter_map(|i| {
            let resend = i.delivery.qos == QoS::AtLeastOnce && i.state == FlowState::AwaitAck;
            if !resend && i.delivery.shared.is_some() {
                debug!(client = %client_id, topic = %i.delivery.message.topic, "shared QoS 2 message in flight not given to another member (MQTT-4.8.2-5)");
            }
            resend.then_some(i.delivery)
        }).collect();
        for d in sent.into_iter().chain(queued) {
            let Some(key) = d.shared.clone() else { continue };
            if d.message.expired(now) {
                continue;
            }
            if !self.deliver_to_group(&key, &d.message, false, Some(client_id)) {
                info!(client = %client_id, group = %key, topic = %d.message.topic, "shared message dropped: no other member to take it");
            }
        }
    }

    /// Sends `d` to a live subscriber (QoS 1/2 through its inflight window) or queues it offline.
    pub(crate) fn deliver(&mut self, client_id: &str, d: Delivery) {
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
    pub(crate) fn pump(&mut self, conn: ConnId) {
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
    pub(crate) fn resend_inflight(&mut self, conn: ConnId) {
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

/// Encodes and sends a PUBLISH to one receiver (`through`: see [`crate::outbox::Outbox::send`]). Returns false if
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_matches_like_topic_matches() {
        let mut t = SubscriptionTree::default();
        let filters = ["clients/+/status", "clients/#", "#", "+/x", "$SYS/#", "a/b", "sport/#", "/+"];
        for (i, f) in filters.iter().enumerate() {
            t.insert(f, &format!("c{i}"));
        }
        for topic_name in ["clients/s1/status", "clients", "$SYS/x", "a/x", "a/b", "sport", "/y", "sport/t/p"] {
            let got = t.matching_clients(topic_name);
            let want: HashSet<String> = filters
                .iter()
                .enumerate()
                .filter(|(_, f)| topic::matches(f, topic_name))
                .map(|(i, _)| format!("c{i}"))
                .collect();
            assert_eq!(got, want, "topic {topic_name}");
        }
        for (i, f) in filters.iter().enumerate() {
            t.remove(f, &format!("c{i}"));
        }
        assert!(t.root.children.is_empty());
    }
}
