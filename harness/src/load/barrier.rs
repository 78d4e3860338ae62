//! One fault instant for the whole fleet when it runs as shards (`load --shard i/n --barrier ID`).
//!
//! Without it each shard plans `fault.at_ms` after *its own* fleet is up, so an 8-shard storm is eight
//! smaller storms at eight moments. With it the shards meet at a barrier through the broker under
//! test itself (no extra service, no clock synchronisation):
//! 1. every shard subscribes to `lwt-barrier/ID/#` and publishes a retained `lwt-barrier/ID/ready/i`
//!    once its fleet is connected;
//! 2. shard 0 (the coordinator), having seen all `n` ready messages, publishes `lwt-barrier/ID/go`
//!    carrying its wall clock, and clears the retained ready messages;
//! 3. every shard, shard 0 included, plans its fault `fault.at_ms` after the moment *go* arrived.
//!
//! One message fanned out by the broker reaches every shard within its delivery skew (well under a
//! millisecond on loopback), so the shards' planned instants coincide to that skew. Each shard
//! reports the difference between its wall clock at *go* and the coordinator's wall clock in *go*:
//! on one machine that is the delivery skew; across machines it also holds their clock offset, and
//! [`merge`](super::merge) uses it to put every shard's fault instants on the coordinator's clock.

use crate::actuator::{Actuator, ActuatorSpec};
use crate::transport::Endpoint;
use anyhow::{bail, Context};
use bytes::Bytes;
use lwt_codec::{ProtocolVersion, Publish, QoS};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// What one shard learnt at the barrier, and when it struck, on the coordinator's clock.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardSync {
    /// The barrier's id (all shards of one run share it).
    pub barrier: String,
    /// This shard's wall clock when *go* arrived, ms since the Unix epoch.
    pub go_wall_ms: f64,
    /// This shard's wall clock at *go* minus the coordinator's wall clock when it sent *go*: the
    /// clock offset plus the one-way delivery (on one machine, only the delivery).
    pub clock_offset_ms: f64,
    /// First and last actual fault instants of this shard, ms since the epoch on the coordinator's
    /// clock (own wall clock − offset); 0 when nothing was struck.
    pub first_fault_ms: f64,
    /// See `first_fault_ms`.
    pub last_fault_ms: f64,
}

/// The fleet-wide view of synchronised shards, from [`fleet_sync`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetSync {
    /// Shards that went through the barrier.
    pub shards: u32,
    /// First fault of any shard → last fault of any shard, on the coordinator's clock, ms.
    pub injection_span_ms: f64,
    /// Largest − smallest clock offset estimate among the shards, ms (on one machine: the spread of
    /// *go*'s delivery, i.e. how far apart the shards' planned instants are).
    pub offset_spread_ms: f64,
}

/// The fleet-wide injection span and offset spread of `shards` (None when no shard was synchronised).
pub fn fleet_sync<'a>(shards: impl IntoIterator<Item = &'a ShardSync>) -> Option<FleetSync> {
    let all: Vec<&ShardSync> = shards.into_iter().collect();
    if all.is_empty() {
        return None;
    }
    let struck: Vec<&&ShardSync> = all.iter().filter(|s| s.first_fault_ms > 0.0).collect();
    let first = struck.iter().map(|s| s.first_fault_ms).fold(f64::INFINITY, f64::min);
    let last = struck.iter().map(|s| s.last_fault_ms).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = all.iter().map(|s| s.clock_offset_ms).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), o| (l.min(o), h.max(o)));
    Some(FleetSync {
        shards: all.len() as u32,
        injection_span_ms: if struck.is_empty() { 0.0 } else { last - first },
        offset_spread_ms: hi - lo,
    })
}

fn wall_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// Where a shard stands after the barrier: the monotonic instant *go* arrived and its record.
pub struct Go {
    /// When *go* was decoded here.
    pub at: Instant,
    /// What this shard reports.
    pub sync: ShardSync,
}

impl Go {
    /// Records the first and last actual fault instants on the coordinator's clock.
    pub fn struck(&mut self, first: Option<Instant>, last: Option<Instant>) {
        let on_coordinator = |i: Instant| {
            let since_go = if i >= self.at { (i - self.at).as_secs_f64() } else { -(self.at - i).as_secs_f64() };
            self.sync.go_wall_ms + since_go * 1000.0 - self.sync.clock_offset_ms
        };
        if let (Some(f), Some(l)) = (first, last) {
            self.sync.first_fault_ms = on_coordinator(f);
            self.sync.last_fault_ms = on_coordinator(l);
        }
    }
}

/// Meets the other shards of barrier `id` through the broker at `endpoint`; returns when *go*
/// arrives, or fails after `limit` naming the shards that never became ready.
pub async fn meet(endpoint: &Endpoint, id: &str, (i, n): (u32, u32), version: ProtocolVersion, limit: Duration) -> anyhow::Result<Go> {
    anyhow::ensure!(!id.is_empty() && !id.contains(['+', '#', '/']), "--barrier {id:?}: use a plain name (no '/', '+' or '#')");
    let base = format!("lwt-barrier/{id}");
    let spec = ActuatorSpec::new(format!("lwt-barrier-{id}-{i}-{}", std::process::id()), version);
    let me = Actuator::connect_over(endpoint.dial(None).await?, spec).await.context("barrier client")?;
    me.subscribe(&format!("{base}/#"), QoS::AtMostOnce).await.context("barrier subscription")?;
    let mut ready = Publish::new(format!("{base}/ready/{i}"), Bytes::from(format!("{}", wall_ms())));
    ready.retain = true;
    me.publish(ready).await?;
    let deadline = Instant::now() + limit;
    let go_topic = format!("{base}/go");
    if i == 0 {
        let seen = |me: &Actuator| -> BTreeSet<u32> {
            me.observations().iter().filter_map(|o| o.topic.strip_prefix(&format!("{base}/ready/"))?.parse().ok()).filter(|k| *k < n).collect()
        };
        while seen(&me).len() < n as usize {
            if me.wait_for(|o| o.topic.starts_with(&format!("{base}/ready/")) && !o.payload.is_empty(), deadline).await.is_none()
                || Instant::now() > deadline
            {
                let missing: Vec<u32> = (0..n).filter(|k| !seen(&me).contains(k)).collect();
                bail!("barrier {id}: shards {missing:?} of {n} were not ready within {} s", limit.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        me.publish(Publish::new(go_topic.clone(), Bytes::from(format!("{}", wall_ms())))).await?;
        // The ready messages are retained: clear them so the id can be seen fresh next time.
        for k in 0..n {
            let mut clear = Publish::new(format!("{base}/ready/{k}"), Bytes::new());
            clear.retain = true;
            me.publish(clear).await?;
        }
    }
    let Some(go) = me.wait_for(|o| o.topic == go_topic, deadline).await else {
        bail!("barrier {id}: shard {i} of {n} got no go within {} s (is shard 0 running with the same --barrier?)", limit.as_secs());
    };
    let go_wall_ms = wall_ms() - go.at.elapsed().as_secs_f64() * 1000.0;
    let sent: f64 = std::str::from_utf8(&go.payload).ok().and_then(|s| s.parse().ok()).context("barrier go without a wall clock")?;
    me.disconnect().await;
    Ok(Go { at: go.at, sync: ShardSync { barrier: id.into(), go_wall_ms, clock_offset_ms: go_wall_ms - sent, ..ShardSync::default() } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_span_uses_the_coordinator_clock() {
        let a = ShardSync { clock_offset_ms: 0.2, first_fault_ms: 1000.0, last_fault_ms: 1010.0, ..ShardSync::default() };
        let b = ShardSync { clock_offset_ms: 0.5, first_fault_ms: 1003.0, last_fault_ms: 1025.0, ..ShardSync::default() };
        let f = fleet_sync([&a, &b]).unwrap();
        assert_eq!(f.shards, 2);
        assert!((f.injection_span_ms - 25.0).abs() < 1e-9);
        assert!((f.offset_spread_ms - 0.3).abs() < 1e-9);
        assert_eq!(fleet_sync([]), None);
    }
}
