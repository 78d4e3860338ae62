//! A restart over a durable store ([`crate::durable`]): what the previous run committed comes back,
//! and the core decides what the stop left open.
//!
//! - Subscriptions, shared-group memberships and session owners are re-indexed from the sessions.
//! - A pending delayed will fires at its original due instant (wall clock), or at once if overdue.
//! - An offline session expires at its original deadline; one that passed during the downtime ends
//!   at once and hastens its will, as at any session end.
//! - The connections that were live at the stop are gone without DISCONNECT: each armed will is
//!   decided by the table as an abrupt end ([`Ending::Crashed`]) and, when it has a Will Delay,
//!   counts its delay and its session's expiry from the restart.
//!
//! Everything this produces (wills routed to queues) is committed before the listeners accept.

use crate::core::Core;
use crate::shared::{classify, ShareKind};
use crate::timers::Timer;
use crate::will::Ending;
use tokio::time::Instant;
use tracing::info;

impl Core {
    /// Re-indexes what the store loaded and decides what the previous run left open; commits.
    pub(crate) fn recover(&mut self) -> anyhow::Result<()> {
        let Some(rec) = self.store.take_recovery() else { return Ok(()) };
        let now = Instant::now();
        for id in self.store.session_ids() {
            let Some(s) = self.store.session(&id) else { continue };
            let filters: Vec<String> = s.subscriptions.keys().cloned().collect();
            let expires_at = s.expires_at;
            let owner = s.owner.clone();
            for f in &filters {
                match classify(f) {
                    ShareKind::Plain => self.tree.insert(f, &id),
                    ShareKind::Shared { filter, .. } => self.shared.join(f, filter, &id),
                    ShareKind::Malformed(_) => {}
                }
            }
            if let Some(owner) = owner {
                self.owned.entry(owner.to_lowercase()).or_default().insert(id.clone());
            }
            if let Some(at) = expires_at {
                self.timers.insert(at, Timer::SessionExpiry, &id);
            }
        }
        for (id, due) in &rec.pending_wills {
            self.timers.insert(*due, Timer::WillDelay, id);
        }
        info!(
            live_at_crash = rec.live_at_crash.len(),
            pending_wills = rec.pending_wills.len(),
            down_ms = if rec.last_commit_ms > 0 { crate::durable::records::Clock::now().now_ms().saturating_sub(rec.last_commit_ms) } else { 0 },
            "restart: deciding what the previous run left"
        );
        for id in &rec.live_at_crash {
            let Some(s) = self.store.session(id) else { continue };
            let (armed, expiry) = (s.will.take(), s.expiry_interval);
            if let Some(armed) = armed {
                let will = self.wills().on_end(id, armed, &Ending::Crashed, expiry, now);
                self.route_will(will);
            }
            self.session_after_end(id, expiry, now);
        }
        self.store.commit()
    }
}
