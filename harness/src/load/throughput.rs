//! Broker throughput (QoS 0 / QoS 1, fan-in and fan-out, messages per second) and background traffic
//! for load scenarios. Publishers coalesce many PUBLISH frames per write (syscalls dominate on
//! loopback), QoS 1 publishers keep a window of unacknowledged messages, and subscribers only count,
//! so the figure is the broker's, not the client's.

use super::fleet::{send, REPLY_TIMEOUT};
use super::scenario::BackgroundSpec;
use crate::client::handshake::Hello;
use crate::client::{Client, PacketIds};
use crate::transport::Endpoint;
use anyhow::bail;
use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use lwt_codec::connection::Connection;
use lwt_codec::{decode_frame, Frame, Packet, Properties, ProtocolVersion, PubResp, Publish, QoS, SubOptions};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Connects a plain client (keep-alive 0: it never idles, clean start) with the shared handshake.
async fn client(endpoint: &Endpoint, id: &str, version: ProtocolVersion) -> anyhow::Result<Client> {
    let s = endpoint.dial(None).await?;
    Client::connect(s, &Hello::new(id, version), REPLY_TIMEOUT).await?.accepted().map_err(|e| anyhow::anyhow!("{id}: {e}"))
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

/// Counts one frame; a QoS 1 PUBLISH gets its PUBACK encoded into `acks` (sent once per read).
fn count_frame(frame: &Frame, version: ProtocolVersion, acks: &mut BytesMut) -> u64 {
    if frame.header >> 4 != 3 {
        return 0;
    }
    if let Ok(Packet::Publish(Publish { qos: QoS::AtLeastOnce, packet_id: Some(id), .. })) = decode_frame(frame, version) {
        Packet::PubAck(PubResp::new(id)).encode(version, acks);
    }
    1
}

async fn counter(endpoint: &Endpoint, id: &str, filter: &str, qos: QoS, version: ProtocolVersion) -> anyhow::Result<Counter> {
    let mut c = client(endpoint, id, version).await?;
    if let Err(e) = c.subscribe(vec![(filter.to_string(), SubOptions::qos(qos))], Properties::new()).await {
        bail!("{id}: no SUBACK ({e})");
    }
    let mut conn = c.into_connection();
    let count = Arc::new(AtomicU64::new(0));
    let last = Arc::new(std::sync::Mutex::new(None));
    let (c2, l2) = (count.clone(), last.clone());
    let task = tokio::spawn(async move {
        let mut acks = BytesMut::new();
        // One awaited frame, then every frame already buffered, then one write of their PUBACKs.
        while let Ok(Some(frame)) = conn.read_frame().await {
            let mut n = count_frame(&frame, version, &mut acks);
            while let Some(Ok(Some(frame))) = conn.read_frame().now_or_never() {
                n += count_frame(&frame, version, &mut acks);
            }
            if n > 0 {
                c2.fetch_add(n, Ordering::Relaxed);
                *l2.lock().unwrap() = Some(Instant::now());
            }
            if !acks.is_empty() {
                if conn.write_raw(&acks).await.is_err() {
                    return;
                }
                acks.clear();
            }
        }
    });
    Ok(Counter { count, last, task })
}

/// Publishes `n` messages on `topic` as fast as the broker takes them; QoS 1 keeps `window` in flight.
async fn publish_burst(c: Client, topic: String, n: u64, qos: QoS, payload: Bytes, version: ProtocolVersion) -> anyhow::Result<u64> {
    const BATCH: u64 = 64;
    let mut conn = c.into_connection();
    let mut sent = 0u64;
    let mut pids = PacketIds::default();
    let mut out = BytesMut::new();
    while sent < n {
        let k = BATCH.min(n - sent);
        out.clear();
        for _ in 0..k {
            let mut p = Publish::new(topic.clone(), payload.clone());
            p.qos = qos;
            if qos != QoS::AtMostOnce {
                p.packet_id = Some(pids.next_id());
            }
            Packet::Publish(p).encode(version, &mut out);
        }
        conn.write_raw(&out).await?;
        sent += k;
        if qos == QoS::AtLeastOnce {
            let mut acked = 0;
            while acked < k {
                match tokio::time::timeout(REPLY_TIMEOUT, conn.read_packet()).await {
                    Ok(Ok(Some(Packet::PubAck(_)))) => acked += 1,
                    Ok(Ok(Some(_))) => {}
                    Ok(Ok(None)) => bail!("publisher: connection closed by the broker"),
                    Ok(Err(e)) => bail!("publisher: {e}"),
                    Err(_) => bail!("publisher: no PUBACK within {REPLY_TIMEOUT:?}"),
                }
            }
        }
    }
    let _ = conn.write_packet(&Packet::Disconnect(lwt_codec::Disconnect::new(0))).await;
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
    for (k, c) in publishers.into_iter().enumerate() {
        set.spawn(publish_burst(c, format!("{base}/{k}"), per_publisher, q, payload.clone(), version));
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
    for (i, c) in conns.into_iter().enumerate() {
        let topic = super::scenario::expand(&b.topic, "", i as u32, 0, 0);
        let payload = Bytes::from(vec![b'b'; b.payload_size]);
        let period = Duration::from_secs_f64(1.0 / b.rate as f64);
        // A publisher: nothing is delivered to it, so nothing is buffered past its CONNACK.
        let (rd, mut wr) = tokio::io::split(c.into_connection().into_inner());
        let mut rd = Connection::new(rd);
        let acked = acked.clone();
        tasks.spawn(async move {
            while let Ok(Some(frame)) = rd.read_frame().await {
                if frame.header >> 4 == 4 {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let sent = sent.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut pids = PacketIds::default();
            loop {
                tick.tick().await;
                let mut p = Publish::new(topic.clone(), payload.clone());
                p.qos = q;
                if q != QoS::AtMostOnce {
                    p.packet_id = Some(pids.next_id());
                }
                if send(&mut wr, &Packet::Publish(p).to_bytes(version)).await.is_err() {
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
