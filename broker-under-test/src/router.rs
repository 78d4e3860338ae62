//! Which sessions a topic reaches: a trie of topic filters, and the per-receiver delivery rules for
//! overlapping subscriptions, No Local and Retain As Published.

use crate::codec::{topic, QoS};
use crate::store::{Delivery, Message, Subscription};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

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
/// (MQTT-3.8.3-3); Retain As Published keeps the RETAIN flag (MQTT-3.3.1-12/-13).
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
        subscriptions.iter().filter(|(f, _)| topic::matches(f, &message.topic)).collect();
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
    best.map(|qos| Delivery { message: message.clone(), qos, retain, subscription_ids: ids })
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
