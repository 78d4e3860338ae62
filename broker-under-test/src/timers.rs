//! The one timer structure of the core: every delayed will and every offline session's expiry, in
//! one ordered set driven by a single sleep in [`crate::core::Core::run`]. A will's timer is
//! removed when the will is cancelled or published early; a session-expiry timer is left to fire
//! and is then ignored if the session was resumed or ended meanwhile (cheaper than removing it on
//! every reconnect).

use std::collections::BTreeSet;
use std::num::NonZeroU64;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::time::Instant;

/// An instant in 8 bytes instead of 16: whole milliseconds since the first stamp the process took,
/// rounded *up*, so a deadline computed from a stamp is at most 1 ms late and never early (a
/// keep-alive will must not fire before 1.5 × Keep Alive). Used for the per-connection clocks
/// ([`crate::client`]'s last receipt, [`crate::outbox::Out`]'s stall clock): every idle
/// connection carries them, and with them its task's state stays within tokio's 256-byte task
/// size class. Under a paused tokio clock (tests) an instant before the epoch maps to the epoch,
/// i.e. later, never earlier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(NonZeroU64);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Stamp {
    /// Now, rounded up to the next millisecond.
    pub fn now() -> Stamp {
        let since = Instant::now().saturating_duration_since(epoch());
        Stamp(NonZeroU64::MIN.saturating_add(since.as_nanos().div_ceil(1_000_000) as u64))
    }
    /// The instant this stamp stands for.
    pub fn instant(self) -> Instant {
        epoch() + Duration::from_millis(self.0.get() - 1)
    }
}

/// What a timer is for. At the same instant a will fires before its session expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// A pending will is due: the earlier of its Will Delay Interval and its session's end.
    WillDelay,
    /// An offline session's Session Expiry Interval elapses.
    SessionExpiry,
    /// A JWT connection's token expires (left to fire and ignored if re-authenticated or ended).
    TokenExpiry,
}

/// Due times of pending wills and offline sessions, earliest first, keyed by client id.
/// A `BTreeSet` rather than a wheel: scheduling and cancelling are O(log n) with no per-tick work,
/// and the earliest deadline is always at hand for the core's one sleep. Client ids are kept as
/// `Box<str>` (16 bytes, one exact allocation), so an entry is no larger than the two sets it
/// replaces had.
#[derive(Debug, Default)]
pub struct Timers {
    due: BTreeSet<(Instant, Timer, Box<str>)>,
}

impl Timers {
    /// Starts a timer for `client_id` at `at`.
    pub fn insert(&mut self, at: Instant, kind: Timer, client_id: &str) {
        self.due.insert((at, kind, client_id.into()));
    }

    /// Stops the timer started with the same arguments; false if there was none.
    pub fn cancel(&mut self, at: Instant, kind: Timer, client_id: &str) -> bool {
        self.due.remove(&(at, kind, client_id.into()))
    }

    /// When the earliest timer is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.due.first().map(|(at, _, _)| *at)
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, Timer, Box<str>)> {
        if self.next_due()? > now {
            return None;
        }
        self.due.pop_first()
    }

    /// Live timers of `kind`.
    pub fn count(&self, kind: Timer) -> usize {
        self.due.iter().filter(|(_, k, _)| *k == kind).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_time_order_and_cancelled_timers_never_fire() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut t = Timers::default();
        t.insert(t0 + 3 * s, Timer::SessionExpiry, "a");
        t.insert(t0 + s, Timer::WillDelay, "a");
        t.insert(t0 + 2 * s, Timer::WillDelay, "b");
        t.insert(t0 + 3 * s, Timer::WillDelay, "c");
        assert!(t.cancel(t0 + 2 * s, Timer::WillDelay, "b"));
        assert!(!t.cancel(t0 + 2 * s, Timer::WillDelay, "b"));
        assert_eq!((t.count(Timer::WillDelay), t.count(Timer::SessionExpiry)), (2, 1));
        assert_eq!(t.next_due(), Some(t0 + s));
        assert_eq!(t.pop_due(t0), None);
        let mut fired = Vec::new();
        while let Some((_, kind, id)) = t.pop_due(t0 + 3 * s) {
            fired.push((kind, id.into_string()));
        }
        let want = [(Timer::WillDelay, "a"), (Timer::WillDelay, "c"), (Timer::SessionExpiry, "a")];
        assert_eq!(fired, want.map(|(k, id)| (k, id.to_owned())));
        assert_eq!(t.next_due(), None);
    }
}
