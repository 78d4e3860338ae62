//! Admission and request rules the core applies with one call each, kept out of `core.rs` so the
//! core stays about sessions and routing: assigned client ids (unique and unguessable, so no one can
//! park a session under the id the next client will get), Event Grid's failing requests after
//! CONNECT (PUBACK / DISCONNECT / AUTH), the per-SUBSCRIBE filter limit, the offline-queue limits and the retained-message count.

use crate::codec::{property_id, Packet, ProtocolVersion};
use crate::config::Config;
use crate::store::Delivery;
use ring::rand::{SecureRandom, SystemRandom};
use std::collections::VecDeque;

/// Prefix of every assigned client id (`lwt-` + 32 hex digits = 128 random bits).
pub const ASSIGNED_PREFIX: &str = "lwt-";

/// A client id for a CONNECT with an empty one: 128 bits from the system's secure random source,
/// hex-encoded, drawn again while `taken` says a session of that name exists. Unique as
/// MQTT-3.1.3-6 requires, and unguessable, so an assigned id never names (and never resumes)
/// a session someone else created.
pub fn assign_client_id(mut taken: impl FnMut(&str) -> bool) -> String {
    let rng = SystemRandom::new();
    loop {
        let mut bits = [0u8; 16];
        if rng.fill(&mut bits).is_err() {
            // The OS random source failed (practically never): fall back to the std hasher's
            // per-process random keys mixed with the time, still unpredictable from outside.
            bits = fallback_bits();
        }
        let mut id = String::with_capacity(ASSIGNED_PREFIX.len() + 32);
        id.push_str(ASSIGNED_PREFIX);
        for b in bits {
            id.push_str(&format!("{b:02x}"));
        }
        if !taken(&id) {
            return id;
        }
    }
}

fn fallback_bits() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 16];
    for half in out.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// Why the broker fails this client packet as Event Grid documents (the caller ends the
/// connection with DISCONNECT 0x83), or `None`. Only with [`Config::strict_acks_and_disconnect`]
/// and MQTT 5.0 (3.1.1 acknowledgements and DISCONNECT carry neither reason codes nor
/// properties): a PUBACK with a failure reason code "terminates the connection"; User Properties
/// on PUBACK, DISCONNECT and AUTH make "such a request fail". A failed DISCONNECT is not a
/// normal disconnect, so the will is published.
pub fn failing_request(cfg: &Config, packet: &Packet, version: ProtocolVersion) -> Option<String> {
    if !cfg.strict_acks_and_disconnect || !version.is_v5() {
        return None;
    }
    let user = |p: &crate::codec::Properties| p.has(property_id::USER_PROPERTY);
    match packet {
        Packet::PubAck(r) if r.reason >= 0x80 => {
            Some(format!("PUBACK with failure reason code {:#04x} ends the connection (Event Grid)", r.reason))
        }
        Packet::PubAck(r) if user(&r.properties) => Some("User Property on PUBACK: the request fails (Event Grid)".into()),
        Packet::Disconnect(d) if user(&d.properties) => {
            Some("User Property on DISCONNECT: the request fails, the will is not discarded (Event Grid)".into())
        }
        Packet::Auth(a) if user(&a.properties) => Some("User Property on AUTH: the request fails (Event Grid)".into()),
        _ => None,
    }
}

/// Whether a SUBSCRIBE with `filters` topic filters is over [`Config::max_filters_per_subscribe`]
/// (then every filter of it is refused).
pub fn too_many_filters(cfg: &Config, filters: usize) -> bool {
    cfg.max_filters_per_subscribe > 0 && filters > cfg.max_filters_per_subscribe
}

/// What to do with one more message for an offline session whose queue is `queue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueRoom {
    /// Queue it.
    Fits,
    /// Over a limit: drop this message (the plain broker).
    Drop,
    /// Over a limit: end the session (Event Grid's `SessionOverflow`).
    EndSession,
}

/// Whether `d` fits the offline queue limits ([`Config::max_queued_messages`],
/// [`Config::max_queued_bytes`]) and what happens if not.
pub fn offline_queue_room(cfg: &Config, queue: &VecDeque<Delivery>, d: &Delivery) -> QueueRoom {
    let over_count = queue.len() >= cfg.max_queued_messages;
    let over_bytes = cfg.max_queued_bytes > 0
        && queue.iter().map(|q| q.message.payload.len()).sum::<usize>() + d.message.payload.len() > cfg.max_queued_bytes;
    match (over_count || over_bytes, cfg.queue_overflow_ends_session) {
        (false, _) => QueueRoom::Fits,
        (true, false) => QueueRoom::Drop,
        (true, true) => QueueRoom::EndSession,
    }
}

/// Whether one more retained message on `topic` may be stored: replacing one always may, a new
/// topic only below [`Config::max_retained_messages`].
pub fn retained_fits(cfg: &Config, stored: usize, replaces: bool) -> bool {
    cfg.max_retained_messages == 0 || replaces || stored < cfg.max_retained_messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigned_ids_are_random_and_skip_taken_names() {
        let a = assign_client_id(|_| false);
        let b = assign_client_id(|_| false);
        assert_ne!(a, b);
        assert_eq!(a.len(), ASSIGNED_PREFIX.len() + 32);
        assert!(a[ASSIGNED_PREFIX.len()..].chars().all(|c| c.is_ascii_hexdigit()));
        let first = std::cell::Cell::new(true);
        let c = assign_client_id(|_| first.replace(false));
        assert!(c.starts_with(ASSIGNED_PREFIX) && !first.get());
    }
}
