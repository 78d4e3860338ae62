//! Broker throughput (QoS 0 / QoS 1, fan-in and fan-out, messages per second) and background traffic
//! for load scenarios. Publishers coalesce many PUBLISH frames per write (syscalls dominate on
//! loopback), QoS 1 publishers keep a window of unacknowledged messages, and subscribers only count,
//! so the figure is the broker's, not the client's.

use super::fleet::REPLY_TIMEOUT;
use super::scenario::BackgroundSpec;
use crate::transport::{ClientStream, Endpoint};
use anyhow::bail;
use bytes::{Bytes, BytesMut};
use lwt_codec::{
    decode_frame, read_frame, Connect, Packet, Properties, ProtocolVersion, PubResp, Publish, QoS, SubOptions, Subscribe,
};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

async fn read_one(stream: &mut ClientStream, buf: &mut BytesMut, version: ProtocolVersion) -> anyhow::Result<Packet> {
    loop {
        if let Some(frame) = read_frame(buf, 1 << 24)? {
            return Ok(decode_frame(&frame, version)?);
        }
        if stream.read_buf(buf).await? == 0 {
            bail!("connection closed by the broker");
        }
    }
}

/// Connects a plain client (keep-alive 0, clean start).
async fn client(endpoint: &Endpoint, id: &str, version: ProtocolVersion) -> anyhow::Result<(ClientStream, BytesMut)> {
    let mut s = endpoint.dial(None).await?;
    let mut c = Connect::new(version, id.to_string());
    c.keep_alive = 0;
    super::fleet::send(&mut s, &Packet::Connect(c).to_bytes(version)).await?;
    let mut buf = BytesMut::new();
    match tokio::time::timeout(REPLY_TIMEOUT, read_one(&mut s, &mut buf, version)).await {
        Ok(Ok(Packet::ConnAck(a))) if a.code == 0 => Ok((s, buf)),
        Ok(Ok(p)) => bail!("{id}: expected CONNACK 0, got {p:?}"),
        Ok(Err(e)) => bail!("{id}: {e}"),
        Err(_) => bail!("{id}: no CONNACK"),
    }
}

/// A subscriber that counts PUBLISH packets (and acknowledges QoS 1/2).
struct Counter {
    count: Arc<AtomicU64>,
    last: Arc<std::sync::Mutex<Option<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn counter(endpoint: &Endpoint, id: &str, filter: &str, qos: QoS, version: ProtocolVersion) -> anyhow::Result<Counter> {
    let (mut s, mut buf) = client(endpoint, id, version).await?;
    let sub = Subscribe { packet_id: 1, properties: Properties::new(), filters: vec![(filter.to_string(), SubOptions::qos(qos))] };
    super::fleet::send(&mut s, &Packet::Subscribe(sub).to_bytes(version)).await?;
    match tokio::time::timeout(REPLY_TIMEOUT, read_one(&mut s, &mut buf, version)).await {
        Ok(Ok(Packet::SubAck(_))) => {}
        other => bail!("{id}: no SUBACK ({other:?})"),
    }
    let count = Arc::new(AtomicU64::new(0));
    let last = Arc::new(std::sync::Mutex::new(None));
    let (c2, l2) = (count.clone(), last.clone());
    let task = tokio::spawn(async move {
        let mut acks = BytesMut::new();
        loop {
            let mut n = 0;
            while let Ok(Some(frame)) = read_frame(&mut buf, 1 << 24) {
                if frame.header >> 4 == 3 {
                    n += 1;
                    if let Ok(Packet::Publish(p)) = decode_frame(&frame, version) {
                        if let (QoS::AtLeastOnce, Some(id)) = (p.qos, p.packet_id) {
                            Packet::PubAck(PubResp::new(id)).encode(version, &mut acks);
                        }
                    }
                }
            }
            if n > 0 {
                c2.fetch_add(n, Ordering::Relaxed);
                *l2.lock().unwrap() = Some(Instant::now());
            }
            if !acks.is_empty() {
                if super::fleet::send(&mut s, &acks).await.is_err() {
                    return;
                }
                acks.clear();
            }
            match s.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    Ok(Counter { count, last, task })
}

/// Publishes `n` messages on `topic` as fast as the broker takes them; QoS 1 keeps `window` in flight.
async fn publish_burst(
    mut s: ClientStream,
    mut buf: BytesMut,
    topic: String,
    n: u64,
    qos: QoS,
    payload: Bytes,
    version: ProtocolVersion,
) -> anyhow::Result<u64> {
    const BATCH: u64 = 64;
    let mut sent = 0u64;
    let mut pid: u16 = 0;
    let mut out = BytesMut::new();
    while sent < n {
        let k = BATCH.min(n - sent);
        out.clear();
        for _ in 0..k {
            let mut p = Publish::new(topic.clone(), payload.clone());
            p.qos = qos;
            if qos != QoS::AtMostOnce {
                pid = pid.wrapping_add(1).max(1);
                p.packet_id = Some(pid);
            }
            Packet::Publish(p).encode(version, &mut out);
        }
        super::fleet::send(&mut s, &out).await?;
        sent += k;
        if qos == QoS::AtLeastOnce {
            let mut acked = 0;
            while acked < k {
                match tokio::time::timeout(REPLY_TIMEOUT, read_one(&mut s, &mut buf, version)).await {
                    Ok(Ok(Packet::PubAck(_))) => acked += 1,
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => bail!("publisher: {e}"),
                    Err(_) => bail!("publisher: no PUBACK within {REPLY_TIMEOUT:?}"),
                }
            }
        }
    }
    let _ = super::fleet::send(&mut s, &Packet::Disconnect(lwt_codec::Disconnect::new(0)).to_bytes(version)).await;
    Ok(sent)
}

/// One throughput measurement.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Throughput {
    /// "fan-in" or "fan-out".
    pub pattern: String,
    /// QoS of publishing and subscribing.
    pub qos: u8,
    /// Publishers.
    pub publishers: u32,
    /// Subscribers.
    pub subscribers: u32,
    /// Messages published.
    pub sent: u64,
    /// Deliveries expected (sent × subscribers).
    pub expected: u64,
    /// Deliveries counted.
    pub delivered: u64,
    /// Deliveries per second (first publish → last delivery).
    pub msgs_per_s: f64,
    /// First publish → last delivery, ms.
    pub elapsed_ms: f64,
}

impl Throughput {
    /// This run's rate over `other`'s, for a table cell; refused when either lost QoS 1 messages:
    /// a broker that drops (a queue cap) is not faster for it.
    pub fn ratio_to(&self, other: &Throughput) -> String {
        let incomplete = |t: &Throughput| t.qos > 0 && t.delivered < t.expected;
        if incomplete(self) || incomplete(other) {
            "not comparable (QoS 1 messages lost)".into()
        } else if other.msgs_per_s > 0.0 {
            format!("{:.2}", self.msgs_per_s / other.msgs_per_s)
        } else {
            "-".into()
        }
    }
}

/// Fan-in: `publishers` clients each send `per_publisher` messages to one topic tree that one
/// subscriber reads through a wildcard. Fan-out: one publisher sends `per_publisher` messages to a
/// topic `subscribers` clients read.
pub async fn measure(
    endpoint: &Endpoint,
    fan_in: bool,
    qos: u8,
    clients: u32,
    per_publisher: u64,
    payload_size: usize,
) -> anyhow::Result<Throughput> {
    let version = ProtocolVersion::V311;
    let q = QoS::from_u8(qos).unwrap_or(QoS::AtMostOnce);
    // Unique per run (process, sequence, clock): two runs against one broker never share topics or ids.
    let tag = crate::verdict::probe_nonce().trim_start_matches("probe-").to_string();
    let base = format!("lwt-bench/{tag}/{}", if fan_in { "in" } else { "out" });
    let (pubs, subs) = if fan_in { (clients, 1) } else { (1, clients) };
    let mut counters = Vec::new();
    for k in 0..subs {
        counters.push(counter(endpoint, &format!("lwt-bench-sub-{tag}-{k}"), &format!("{base}/#"), q, version).await?);
    }
    let mut publishers = Vec::new();
    for k in 0..pubs {
        publishers.push(client(endpoint, &format!("lwt-bench-pub-{tag}-{k}"), version).await?);
    }
    let payload = Bytes::from(vec![b'x'; payload_size]);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (k, (s, buf)) in publishers.into_iter().enumerate() {
        set.spawn(publish_burst(s, buf, format!("{base}/{k}"), per_publisher, q, payload.clone(), version));
    }
    let mut sent = 0;
    while let Some(r) = set.join_next().await {
        sent += r??;
    }
    let expected = sent * subs as u64;
    // Wait until every delivery is counted, or nothing moved for 2 s.
    let mut last_total = 0;
    let mut still_since = Instant::now();
    loop {
        let total: u64 = counters.iter().map(|c| c.count.load(Ordering::Relaxed)).sum();
        if total >= expected {
            break;
        }
        if total != last_total {
            last_total = total;
            still_since = Instant::now();
        } else if still_since.elapsed() > Duration::from_secs(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered: u64 = counters.iter().map(|c| c.count.load(Ordering::Relaxed)).sum();
    let last = counters.iter().filter_map(|c| *c.last.lock().unwrap()).max().unwrap_or(start);
    let secs = last.saturating_duration_since(start).as_secs_f64();
    Ok(Throughput {
        pattern: if fan_in { "fan-in" } else { "fan-out" }.into(),
        qos,
        publishers: pubs,
        subscribers: subs,
        sent,
        expected,
        delivered,
        msgs_per_s: if secs > 0.0 { delivered as f64 / secs } else { 0.0 },
        elapsed_ms: secs * 1000.0,
    })
}

/// Running background publishers: stop them with [`Background::stop`] to get what they achieved.
pub struct Background {
    tasks: tokio::task::JoinSet<()>,
    sent: Arc<AtomicU64>,
    acked: Arc<AtomicU64>,
    started: Instant,
    publishers: u64,
    planned_rate: f64,
}

impl Background {
    /// Stops every publisher and reports messages sent, acknowledged, and the achieved rate.
    pub fn stop(mut self) -> super::summary::BackgroundStats {
        self.tasks.abort_all();
        let secs = self.started.elapsed().as_secs_f64();
        let sent = self.sent.load(Ordering::Relaxed);
        super::summary::BackgroundStats {
            publishers: self.publishers,
            planned_rate_per_s: self.planned_rate,
            sent,
            acknowledged: self.acked.load(Ordering::Relaxed),
            achieved_rate_per_s: if secs > 0.0 { sent as f64 / secs } else { 0.0 },
            duration_ms: secs * 1000.0,
        }
    }
}

/// Starts the background publishers of a scenario. Each publisher writes on a fixed schedule and
/// a reader beside it counts the PUBACKs (QoS 1), so the broker's flow back is measured too.
pub async fn background(endpoint: &Endpoint, b: BackgroundSpec, version: ProtocolVersion) -> anyhow::Result<Background> {
    let mut conns = Vec::new();
    for i in 0..b.publishers {
        conns.push(client(endpoint, &format!("lwt-load-bg-{}-{i}", std::process::id()), version).await?);
    }
    let sent = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let q = QoS::from_u8(b.qos).unwrap_or(QoS::AtMostOnce);
    let started = Instant::now();
    for (i, (s, mut buf)) in conns.into_iter().enumerate() {
        let topic = super::scenario::expand(&b.topic, "", i as u32, 0, 0);
        let payload = Bytes::from(vec![b'b'; b.payload_size]);
        let period = Duration::from_secs_f64(1.0 / b.rate as f64);
        let (mut rd, mut wr) = tokio::io::split(s);
        let acked = acked.clone();
        tasks.spawn(async move {
            loop {
                while let Ok(Some(frame)) = read_frame(&mut buf, 1 << 20) {
                    if frame.header >> 4 == 4 {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
                match rd.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        });
        let sent = sent.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut pid: u16 = 0;
            loop {
                tick.tick().await;
                let mut p = Publish::new(topic.clone(), payload.clone());
                p.qos = q;
                if q != QoS::AtMostOnce {
                    pid = pid.wrapping_add(1).max(1);
                    p.packet_id = Some(pid);
                }
                if super::fleet::send(&mut wr, &Packet::Publish(p).to_bytes(version)).await.is_err() {
                    return;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    Ok(Background { tasks, sent, acked, started, publishers: b.publishers as u64, planned_rate: b.publishers as f64 * b.rate as f64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(qos: u8, delivered: u64, rate: f64) -> Throughput {
        Throughput { qos, expected: 100, delivered, msgs_per_s: rate, ..Throughput::default() }
    }

    #[test]
    fn ratios_are_refused_when_qos1_messages_were_lost() {
        assert_eq!(run(1, 100, 300.0).ratio_to(&run(1, 100, 100.0)), "3.00");
        assert_eq!(run(1, 40, 300.0).ratio_to(&run(1, 100, 100.0)), "not comparable (QoS 1 messages lost)");
        assert_eq!(run(1, 100, 300.0).ratio_to(&run(1, 99, 100.0)), "not comparable (QoS 1 messages lost)");
        // QoS 0 may drop: the rate of what arrived still compares.
        assert_eq!(run(0, 40, 300.0).ratio_to(&run(0, 100, 150.0)), "2.00");
    }
}
