//! Who is who in a run ([`Plan`]: ids, will topics and payloads per connection generation) and the
//! incremental [`Matcher`] of observer receipts to clients.

use super::fleet::{self, MemberConnect, Observer};
use super::scenario::{expand, Scenario};
use super::summary::Tally;
use std::collections::HashMap;
use tokio::time::Instant;
use tracing::debug;

/// Per-client facts of one run (local index = global − lo).
pub(super) struct Plan {
    pub(super) lo: u32,
    pub(super) ids: Vec<String>,
    gen0: Vec<String>,
    gen1: Vec<String>,
    /// Every will topic of the whole fleet → global index (shards ignore the others' wills).
    topics: HashMap<String, u32>,
}

impl Plan {
    /// Ids, will topics and payloads of local clients `[lo, hi)` (topics of the whole fleet).
    pub(super) fn new(s: &Scenario, count: u32, lo: u32, hi: u32, shard: u32) -> Plan {
        let f = &s.fleet;
        let mut topics = HashMap::with_capacity(count as usize);
        for g in 0..count {
            let id = expand(&f.id, "", g, 0, shard);
            topics.insert(expand(&f.will.topic, &id, g, 0, shard), g);
        }
        let mut ids = Vec::new();
        let mut gen0 = Vec::new();
        let mut gen1 = Vec::new();
        for g in lo..hi {
            let id = expand(&f.id, "", g, 0, shard);
            gen0.push(expand(&f.will.payload, &id, g, 0, shard));
            gen1.push(expand(&f.will.payload, &id, g, 1, shard));
            ids.push(id);
        }
        Plan { lo, ids, gen0, gen1, topics }
    }

    /// The CONNECT of local client `local` for connection generation `gen`.
    pub(super) fn connect(&self, s: &Scenario, local: usize, gen: u32, clean_start: bool) -> MemberConnect {
        let f = &s.fleet;
        let g = self.lo + local as u32;
        let id = &self.ids[local];
        let version = f.protocol.version();
        MemberConnect {
            client_id: id.clone(),
            version,
            clean_start,
            keep_alive: s.keep_alive_of(g),
            session_expiry: f.session_expiry,
            username: None,
            password: None,
            will: Some(fleet::will(
                expand(&f.will.topic, id, g, gen, 0),
                expand(&f.will.payload, id, g, gen, 0),
                f.will.qos,
                f.will.retain,
                f.will.delay,
                version,
            )),
        }
    }
}

/// Matches observer receipts to clients, incrementally.
pub(super) struct Matcher {
    expected: Vec<bool>,
    seen: Vec<Vec<u32>>,
    /// When observer k first received client c's will.
    pub(super) first: Vec<Vec<Option<Instant>>>,
    stray: Vec<u64>,
    cursors: Vec<usize>,
    /// (observer, client) pairs that must receive a will, and those that did.
    pub(super) pairs_expected: u64,
    pub(super) pairs_received: u64,
    probe_topics: Vec<String>,
}

impl Matcher {
    /// Nothing seen yet; `expected[c]`: client c's will must arrive.
    pub(super) fn new(expected: Vec<bool>, observers: &[Observer]) -> Matcher {
        let n = expected.len();
        let k = observers.len();
        let pairs_expected = expected.iter().filter(|e| **e).count() as u64 * k as u64;
        Matcher {
            expected,
            seen: vec![vec![0; n]; k],
            first: vec![vec![None; n]; k],
            stray: vec![0; k],
            cursors: vec![0; k],
            pairs_expected,
            pairs_received: 0,
            probe_topics: observers.iter().map(|o| o.probe_topic.clone()).collect(),
        }
    }

    /// Which clients' wills are due (a failed takeover or reconnect changes it).
    pub(super) fn set_expected(&mut self, expected: &[bool]) {
        self.expected = expected.to_vec();
        self.pairs_expected = expected.iter().filter(|e| **e).count() as u64 * self.seen.len() as u64;
    }

    /// Takes what the observers received since the last poll.
    pub(super) fn poll(&mut self, observers: &[Observer], plan: &Plan) {
        let n = plan.ids.len() as u32;
        for (k, o) in observers.iter().enumerate() {
            let (new, next) = o.since(self.cursors[k]);
            self.cursors[k] = next;
            for r in new {
                if self.probe_topics.contains(&r.topic) {
                    continue;
                }
                let Some(&g) = plan.topics.get(&r.topic) else {
                    self.stray[k] += 1;
                    continue;
                };
                if g < plan.lo || g >= plan.lo + n {
                    continue; // another shard's client
                }
                let c = (g - plan.lo) as usize;
                if r.payload == plan.gen0[c].as_bytes() {
                    self.seen[k][c] += 1;
                    if self.first[k][c].is_none() {
                        self.first[k][c] = Some(r.at);
                        if self.expected[c] {
                            self.pairs_received += 1;
                            super::metrics::wills_received(1);
                        }
                    }
                } else {
                    // A will of a later connection generation (takeover, reconnect) or a stranger.
                    debug!(topic = %r.topic, gen1 = r.payload == plan.gen1[c].as_bytes(), "unexpected will");
                    self.stray[k] += 1;
                }
            }
        }
    }

    /// Received / lost / duplicated / unexpected so far.
    pub(super) fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for k in 0..self.seen.len() {
            t.observe(&self.expected, &self.seen[k], self.stray[k]);
        }
        t
    }
}

