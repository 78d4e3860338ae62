//! Shared subscriptions (MQTT 5.0 section 4.8.2, and `$share/{group}/{filter}` for 3.1.1 clients
//! too, as mosquitto and Event Grid offer it): parsing a share name, the groups and their members,
//! and which member gets the next message.
//!
//! A shared subscription is identified by its whole filter, `$share/{ShareName}/{filter}`: the same
//! ShareName with another filter is another shared subscription (4.8.2). Member choice is
//! round-robin over the members whose sessions have a live connection, in the order they joined;
//! when none is connected, round-robin over every member (a QoS 1/2 message then waits in that
//! member's session, a QoS 0 one is dropped, as for any offline session).

use crate::router::SubscriptionTree;
use std::collections::HashMap;

/// What a SUBSCRIBE filter is, as far as sharing goes.
#[derive(Debug, PartialEq, Eq)]
pub enum ShareKind<'a> {
    /// A non-shared filter.
    Plain,
    /// `$share/{group}/{filter}`, well formed: the group name and the filter messages match.
    Shared {
        /// The ShareName.
        group: &'a str,
        /// The Topic Filter after the ShareName.
        filter: &'a str,
    },
    /// Starts with `$share/` but is not a valid shared subscription (MQTT-4.8.2-1/-2), with why.
    Malformed(&'static str),
}

/// Classifies a SUBSCRIBE or UNSUBSCRIBE filter. Only filters starting with `$share/` are shared
/// (a filter `$share` alone, or `$sharex/…`, is an ordinary filter on a `$` topic).
pub fn classify(filter: &str) -> ShareKind<'_> {
    let Some(rest) = filter.strip_prefix("$share/") else { return ShareKind::Plain };
    let Some((group, inner)) = rest.split_once('/') else {
        return ShareKind::Malformed("no '/' and Topic Filter after the ShareName (MQTT-4.8.2-2)");
    };
    if group.is_empty() {
        return ShareKind::Malformed("empty ShareName (MQTT-4.8.2-1)");
    }
    if group.contains(['+', '#']) {
        return ShareKind::Malformed("ShareName contains '+' or '#' (MQTT-4.8.2-2)");
    }
    if inner.is_empty() {
        return ShareKind::Malformed("no Topic Filter after the ShareName (MQTT-4.8.2-2)");
    }
    ShareKind::Shared { group, filter: inner }
}

/// Members of one shared subscription and where the round-robin stands.
#[derive(Debug, Default)]
struct Group {
    /// Client ids, in the order they joined.
    members: Vec<String>,
    /// Index the next choice starts from.
    next: usize,
}

/// Every shared subscription of the broker: a trie from the inner filter to the shared
/// subscription's full filter (its key), and each one's members.
#[derive(Debug, Default)]
pub struct SharedGroups {
    tree: SubscriptionTree,
    groups: HashMap<String, Group>,
}

impl SharedGroups {
    /// `client` joins the shared subscription `key` (`$share/{group}/{filter}`), whose messages
    /// match `filter`. Joining twice changes nothing (a repeated SUBSCRIBE replaces the options).
    pub fn join(&mut self, key: &str, filter: &str, client: &str) {
        let g = self.groups.entry(key.to_owned()).or_default();
        if !g.members.iter().any(|m| m == client) {
            g.members.push(client.to_owned());
        }
        self.tree.insert(filter, key);
    }

    /// `client` leaves `key`; the shared subscription goes when its last member does.
    pub fn leave(&mut self, key: &str, client: &str) {
        let ShareKind::Shared { filter, .. } = classify(key) else { return };
        let Some(g) = self.groups.get_mut(key) else { return };
        if let Some(i) = g.members.iter().position(|m| m == client) {
            g.members.remove(i);
            if i < g.next {
                g.next -= 1;
            }
        }
        if g.members.is_empty() {
            self.groups.remove(key);
            self.tree.remove(filter, key);
        }
    }

    /// The shared subscriptions whose filter matches `topic`, in a stable order.
    pub fn matching(&self, topic: &str) -> Vec<String> {
        let mut keys: Vec<String> = self.tree.matching_clients(topic).into_iter().collect();
        keys.sort();
        keys
    }

    /// The members of `key`, in the order they joined.
    pub fn members(&self, key: &str) -> &[String] {
        self.groups.get(key).map(|g| g.members.as_slice()).unwrap_or(&[])
    }

    /// Chooses the member of `key` that gets the next message: round-robin over the members
    /// `eligible` accepts and `live` says are connected; if none is connected, round-robin over
    /// every eligible member. `None` if no member is eligible.
    pub fn choose(&mut self, key: &str, mut eligible: impl FnMut(&str) -> bool, mut live: impl FnMut(&str) -> bool) -> Option<String> {
        let g = self.groups.get_mut(key)?;
        let n = g.members.len();
        let order: Vec<usize> = (0..n).map(|k| (g.next + k) % n).filter(|&i| eligible(&g.members[i])).collect();
        let pick = order.iter().copied().find(|&i| live(&g.members[i])).or_else(|| order.first().copied())?;
        g.next = (pick + 1) % n;
        Some(g.members[pick].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_names_are_classified_as_4_8_2_says() {
        assert_eq!(classify("a/b"), ShareKind::Plain);
        assert_eq!(classify("$share"), ShareKind::Plain);
        assert_eq!(classify("$sharex/g/a"), ShareKind::Plain);
        assert_eq!(classify("$share/g/a/+"), ShareKind::Shared { group: "g", filter: "a/+" });
        assert_eq!(classify("$share/g//"), ShareKind::Shared { group: "g", filter: "/" });
        for bad in ["$share/", "$share/g", "$share//a", "$share/g/", "$share/g+/a", "$share/#/a", "$share/a#b/x"] {
            assert!(matches!(classify(bad), ShareKind::Malformed(_)), "{bad}");
        }
    }

    #[test]
    fn round_robin_over_live_members_then_over_all() {
        let mut s = SharedGroups::default();
        for c in ["a", "b", "c"] {
            s.join("$share/g/t/+", "t/+", c);
        }
        s.join("$share/g/t/+", "t/+", "a");
        assert_eq!(s.members("$share/g/t/+"), ["a", "b", "c"]);
        let all = |_: &str| true;
        let picks: Vec<String> = (0..4).map(|_| s.choose("$share/g/t/+", all, all).unwrap()).collect();
        assert_eq!(picks, ["a", "b", "c", "a"]);
        // Only c is live: c every time.
        let only_c = |m: &str| m == "c";
        assert_eq!(s.choose("$share/g/t/+", all, only_c).as_deref(), Some("c"));
        assert_eq!(s.choose("$share/g/t/+", all, only_c).as_deref(), Some("c"));
        // Nobody live: still round-robin over everyone.
        let none = |_: &str| false;
        assert_eq!(s.choose("$share/g/t/+", all, none).as_deref(), Some("a"));
        assert_eq!(s.choose("$share/g/t/+", all, none).as_deref(), Some("b"));
        // Excluded members are never chosen.
        let not_c = |m: &str| m != "c";
        assert_eq!(s.choose("$share/g/t/+", not_c, all).as_deref(), Some("a"));
    }

    #[test]
    fn groups_match_their_inner_filter_and_go_with_their_last_member() {
        let mut s = SharedGroups::default();
        s.join("$share/g1/t/+", "t/+", "a");
        s.join("$share/g2/t/x", "t/x", "b");
        s.join("$share/g1/u", "u", "a");
        assert_eq!(s.matching("t/x"), ["$share/g1/t/+", "$share/g2/t/x"]);
        assert_eq!(s.matching("u"), ["$share/g1/u"]);
        assert!(s.matching("$SYS/x").is_empty());
        s.leave("$share/g1/t/+", "a");
        assert_eq!(s.matching("t/x"), ["$share/g2/t/x"]);
        assert_eq!(s.choose("$share/g1/t/+", |_| true, |_| true), None);
        s.leave("$share/g2/t/x", "nobody");
        assert_eq!(s.members("$share/g2/t/x"), ["b"]);
    }

    #[test]
    fn leaving_keeps_the_round_robin_fair() {
        let mut s = SharedGroups::default();
        for c in ["a", "b", "c"] {
            s.join("$share/g/t", "t", c);
        }
        assert_eq!(s.choose("$share/g/t", |_| true, |_| true).as_deref(), Some("a"));
        assert_eq!(s.choose("$share/g/t", |_| true, |_| true).as_deref(), Some("b"));
        s.leave("$share/g/t", "a");
        assert_eq!(s.choose("$share/g/t", |_| true, |_| true).as_deref(), Some("c"));
        assert_eq!(s.choose("$share/g/t", |_| true, |_| true).as_deref(), Some("b"));
    }
}
