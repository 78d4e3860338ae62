//! Verdicts about a shared-subscription group (MQTT 5.0 section 4.8.2): a message published on a
//! topic the group's filter matches reaches one of its members, and only one.
//!
//! "Only one" is proven, never assumed: after the wait, a unique probe published on the same topic
//! must come back through the group (to any member), and then every member must get its own
//! liveness probe back ([`crate::verdict::prove_live`]), so whatever the broker sent any member
//! before has arrived when the copies are counted.

use crate::actuator::{Actuator, Observation};
use crate::verdict::{ms, probe_nonce, prove_live, Level, Status, Timing, Verdict, DUPLICATE_GRACE, PROBE_WITHIN};
use bytes::Bytes;
use std::time::Duration;
use tokio::time::Instant;

/// One group as the scenario knows it: its name and its connected members, by name.
pub struct Group<'a> {
    /// The ShareName as the feature writes it.
    pub name: &'a str,
    /// Members with a live observer (a member that was itself the disconnecting client is not here).
    pub members: Vec<(&'a str, &'a Actuator)>,
}

/// The rule "only one copy per group" is judged under: 4.8.2 defines a shared subscription as
/// sending each message to one of its sessions, in prose with no MUST keyword and no statement id,
/// so a second copy is reported at SHOULD level, never as a broken MUST.
pub const ONE_PER_GROUP_RULE: &str = "MQTT-4.8.2";

impl Group<'_> {
    /// Every delivery of `payload` on `topic` at any member from `since`, with the member's name.
    pub fn copies(&self, topic: &str, payload: &[u8], since: Instant) -> Vec<(String, Observation)> {
        let mut all: Vec<(String, Observation)> = self
            .members
            .iter()
            .flat_map(|(n, a)| {
                a.on_topic(topic).into_iter().filter(|o| o.payload == payload && o.at >= since).map(|o| (n.to_string(), o))
            })
            .collect();
        all.sort_by_key(|(_, o)| o.at);
        all
    }

    /// Waits until some member has received `payload` on `topic` (from `since`), at most until
    /// `deadline`; gives the first such delivery.
    pub async fn first_copy(&self, topic: &str, payload: &[u8], since: Instant, deadline: Instant) -> Option<(String, Observation)> {
        loop {
            if let Some(c) = self.copies(topic, payload, since).into_iter().next() {
                return Some(c);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10).min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    /// Publishes a unique probe on `topic` from the first member and waits for it to reach the
    /// group, then proves every member live. `Err` says what could not be proven.
    pub async fn prove_flushed(&self, topic: &str) -> Result<(), String> {
        let Some((_, first)) = self.members.first() else { return Err("the group has no connected member".into()) };
        let nonce = probe_nonce();
        let sent = Instant::now();
        first
            .publish(lwt_codec::Publish::new(topic.to_owned(), Bytes::from(nonce.clone())))
            .await
            .map_err(|e| format!("group probe not sent: {e}"))?;
        if self.first_copy(topic, nonce.as_bytes(), sent, Instant::now() + PROBE_WITHIN).await.is_none() {
            return Err(format!("the group's probe on {topic} did not come back to any member"));
        }
        for (name, a) in &self.members {
            prove_live(a).await.map_err(|e| format!("member {name} not proved live: {e}"))?;
        }
        Ok(())
    }
}

/// Two verdicts for a message that must reach `group` once: that it reached a member within
/// `within` of `since` (under `rule` at `level`: the will was published to this subscription),
/// and that no second member got it ([`ONE_PER_GROUP_RULE`], at most SHOULD), proven by
/// [`Group::prove_flushed`]. Also gives the first delivery, for follow-up steps.
pub async fn expect_once_in_group(
    group: &Group<'_>,
    topic: &str,
    payload: &[u8],
    since: Instant,
    within: Duration,
    rule: &str,
    level: Level,
) -> (Verdict, Verdict, Option<(String, Observation)>) {
    let first = group.first_copy(topic, payload, since, since + within).await;
    let shown = String::from_utf8_lossy(payload);
    let reached = Verdict {
        rule: rule.into(),
        level,
        status: if first.is_some() { Status::Pass } else { Status::Fail },
        expected: format!("{shown:?} on {topic} at one member of group {} within {:.0} ms", group.name, ms(within)),
        observed: match &first {
            Some((m, o)) => format!("delivered to {m} after {:.1} ms", ms(o.at.saturating_duration_since(since))),
            None => format!("no member of {} ({}) received it", group.name, names(group)),
        },
        timings: first.iter().map(|(_, o)| Timing { label: "fault → delivery".into(), ms: ms(o.at.saturating_duration_since(since)) }).collect(),
        evidence: Vec::new(),
    };
    tokio::time::sleep(DUPLICATE_GRACE).await;
    let flushed = group.prove_flushed(topic).await;
    let copies = group.copies(topic, payload, since);
    let status = match (&flushed, copies.len()) {
        (_, n) if n > 1 => Status::Fail,
        (Err(e), _) => Status::Error(e.clone()),
        (Ok(()), _) => Status::Pass,
    };
    let once = Verdict {
        rule: ONE_PER_GROUP_RULE.into(),
        level: level.max(Level::Should),
        status,
        expected: format!("at most one member of group {} gets {shown:?} (4.8.2)", group.name),
        observed: format!(
            "{} copies: [{}]; {}",
            copies.len(),
            copies.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>().join(", "),
            match &flushed {
                Ok(()) => "a later probe on the topic reached the group and every member proved live".to_owned(),
                Err(e) => format!("not proven: {e}"),
            }
        ),
        timings: copies.iter().map(|(m, o)| Timing { label: format!("fault → {m}"), ms: ms(o.at.saturating_duration_since(since)) }).collect(),
        evidence: Vec::new(),
    };
    (reached, once, first)
}

fn names(group: &Group<'_>) -> String {
    group.members.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actuator::ActuatorSpec;
    use lwt_codec::{ProtocolVersion, QoS};

    async fn member(addr: std::net::SocketAddr, id: &str, filter: &str) -> Actuator {
        let a = Actuator::connect(addr, ActuatorSpec::new(id, ProtocolVersion::V5)).await.unwrap();
        a.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        crate::verdict::arm_probe(&a).await.unwrap();
        a
    }

    /// Against the reference broker a message reaches one member of a group: both verdicts pass.
    /// The same members subscribed without `$share` (each gets a copy) make the second one fail:
    /// the check can fail.
    #[tokio::test]
    async fn one_copy_passes_and_two_copies_fail() {
        let broker = lwt_broker::start_embedded().await.unwrap();
        let addr = broker.local_addr();
        for (filter, want) in [("$share/g/gt/x", Status::Pass), ("gt/x", Status::Fail)] {
            let a = member(addr, &format!("a{want:?}"), filter).await;
            let b = member(addr, &format!("b{want:?}"), filter).await;
            let group = Group { name: "g", members: vec![("a", &a), ("b", &b)] };
            let since = Instant::now();
            a.publish(lwt_codec::Publish::new("gt/x", Bytes::from_static(b"m"))).await.unwrap();
            let (reached, once, first) = expect_once_in_group(&group, "gt/x", b"m", since, Duration::from_secs(2), "MQTT-3.1.2-8", Level::Must).await;
            assert_eq!(reached.status, Status::Pass, "{reached}");
            assert!(first.is_some());
            assert_eq!(once.status, want, "{filter}: {once}");
            assert_eq!(once.level, Level::Should);
            a.disconnect().await;
            b.disconnect().await;
        }
        broker.shutdown().await;
    }
}
