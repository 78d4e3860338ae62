//! The durable store (`--data-dir`): the in-memory store, plus a record of what changed since the
//! last commit, written to a redb database in one transaction per batch ([`Store::commit`]). The core
//! commits after each batch of events and holds back every packet the batch produced until the
//! commit returns ([`crate::outbox::staging`]), so a CONNACK, PUBACK or delivered will is never seen
//! by a client before the state it reflects is on disk. On open, the last commit is loaded and a
//! [`Recovery`] says what the restart must decide ([`crate::restart`]).

mod db;
pub mod records;
#[cfg(test)]
mod tests;

use crate::store::{MemoryStore, Message, PendingWill, Session, Store};
use db::{Batch, Db};
use records::{encode, Clock, MessageRecord, PendingWillRecord, SessionRecord};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use tokio::time::Instant;
use tracing::info;

pub use db::FILE;

/// What the last run left for the restart to decide.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recovery {
    /// Client ids whose connection was live when the broker stopped without a clean shutdown: their
    /// armed wills are decided as at an abrupt end.
    pub live_at_crash: Vec<String>,
    /// Pending wills and when each is due.
    pub pending_wills: Vec<(String, Instant)>,
    /// Wall-clock milliseconds of the last commit (0 = a new data directory).
    pub last_commit_ms: u64,
}

/// The durable [`Store`].
pub struct DurableStore {
    mem: MemoryStore,
    db: Db,
    clock: Clock,
    dirty_sessions: HashSet<String>,
    dirty_retained: HashSet<String>,
    dirty_wills: HashSet<String>,
    recovery: Option<Recovery>,
}

impl DurableStore {
    /// Opens the store in `dir` and loads what the last commit left. Expired retained messages are
    /// dropped; sessions come back detached, live ones named in the [`Recovery`].
    pub fn open(dir: &Path) -> anyhow::Result<DurableStore> {
        let db = Db::open(dir)?;
        let contents = db.load()?;
        let clock = Clock::now();
        let now = Instant::now();
        let mut mem = MemoryStore::new();
        let mut recovery = Recovery { last_commit_ms: contents.last_commit_ms, ..Recovery::default() };
        for rec in contents.sessions {
            let live = rec.live;
            let s = rec.session(&clock);
            if live {
                recovery.live_at_crash.push(s.client_id.clone());
            }
            mem.insert_session(s);
        }
        let mut dirty_retained = HashSet::new();
        for (topic, bytes) in contents.retained {
            let m: MessageRecord = records::decode(&bytes, "retained", &topic)?;
            let m = m.message(&clock);
            if m.expired(now) {
                dirty_retained.insert(topic);
            } else {
                mem.set_retained(&topic, Some(Arc::new(m)));
            }
        }
        for rec in contents.wills {
            let w = rec.pending(&clock);
            recovery.pending_wills.push((w.client_id.clone(), w.due));
            mem.put_pending_will(w);
        }
        recovery.live_at_crash.sort();
        recovery.pending_wills.sort_by_key(|(_, due)| *due);
        info!(
            dir = %dir.display(),
            sessions = mem.session_count(),
            live_at_crash = recovery.live_at_crash.len(),
            pending_wills = recovery.pending_wills.len(),
            retained = mem.retained_count(),
            "durable store opened"
        );
        Ok(DurableStore {
            mem,
            db,
            clock,
            dirty_sessions: HashSet::new(),
            dirty_retained,
            dirty_wills: HashSet::new(),
            recovery: Some(recovery),
        })
    }

    fn batch(&mut self) -> Batch {
        let clock = self.clock;
        let mut b = Batch::default();
        for id in self.dirty_sessions.drain() {
            let rec = self.mem.session_ref(&id).map(|s| encode(&SessionRecord::of(s, &clock)));
            b.sessions.push((id, rec));
        }
        for topic in self.dirty_retained.drain() {
            let rec = self.mem.retained(&topic).map(|m| encode(&MessageRecord::of(m, &clock)));
            b.retained.push((topic, rec));
        }
        for id in self.dirty_wills.drain() {
            let rec = self.mem.pending_will(&id).map(|w| encode(&PendingWillRecord::of(w, &clock)));
            b.wills.push((id, rec));
        }
        b
    }
}

impl Store for DurableStore {
    fn session(&mut self, client_id: &str) -> Option<&mut Session> {
        let s = self.mem.session(client_id)?;
        // Any caller may change it: it is written at the next commit.
        if !self.dirty_sessions.contains(client_id) {
            self.dirty_sessions.insert(client_id.to_owned());
        }
        Some(s)
    }
    fn insert_session(&mut self, session: Session) {
        self.dirty_sessions.insert(session.client_id.clone());
        self.mem.insert_session(session);
    }
    fn remove_session(&mut self, client_id: &str) -> Option<Session> {
        self.dirty_sessions.insert(client_id.to_owned());
        self.mem.remove_session(client_id)
    }
    fn session_count(&self) -> usize {
        self.mem.session_count()
    }
    fn session_ids(&self) -> Vec<String> {
        self.mem.session_ids()
    }

    fn set_retained(&mut self, topic: &str, message: Option<Arc<Message>>) {
        self.dirty_retained.insert(topic.to_owned());
        self.mem.set_retained(topic, message);
    }
    fn retained_matching(&mut self, filter: &str, now: Instant) -> Vec<Arc<Message>> {
        // Expired ones the memory store forgets stay in the database until overwritten, and are
        // dropped when it is next opened.
        self.mem.retained_matching(filter, now)
    }
    fn retained_count(&self) -> usize {
        self.mem.retained_count()
    }
    fn has_retained(&self, topic: &str) -> bool {
        self.mem.has_retained(topic)
    }

    fn put_pending_will(&mut self, will: PendingWill) -> Option<PendingWill> {
        self.dirty_wills.insert(will.client_id.clone());
        self.mem.put_pending_will(will)
    }
    fn take_pending_will(&mut self, client_id: &str) -> Option<PendingWill> {
        let w = self.mem.take_pending_will(client_id);
        if w.is_some() {
            self.dirty_wills.insert(client_id.to_owned());
        }
        w
    }
    fn take_all_pending_wills(&mut self) -> Vec<PendingWill> {
        let all = self.mem.take_all_pending_wills();
        self.dirty_wills.extend(all.iter().map(|w| w.client_id.clone()));
        all
    }
    fn pending_will_count(&self) -> usize {
        self.mem.pending_will_count()
    }

    fn commit(&mut self) -> anyhow::Result<()> {
        let batch = self.batch();
        if batch.is_empty() {
            return Ok(());
        }
        self.db.commit(batch, self.clock.now_ms())
    }
    fn durable(&self) -> bool {
        true
    }
    fn take_recovery(&mut self) -> Option<Recovery> {
        self.recovery.take()
    }
}
