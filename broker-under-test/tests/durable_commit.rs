//! Group commit over a slow disk: the durable store wrapped so that each commit takes 300 ms. A
//! CONNACK, a PUBACK and a delivered will must wait for the commit of their batch (they promise
//! that the state is on disk), and many clients at once share commits instead of queueing behind
//! one fsync each.

mod common;

use common::*;
use lwt_broker::codec::*;
use lwt_broker::durable::{DurableStore, Recovery};
use lwt_broker::store::{Message, PendingWill, Session, Store};
use lwt_broker::{Config, Listeners};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const DISK: Duration = Duration::from_millis(300);

/// The durable store on a disk whose every commit takes [`DISK`].
struct SlowDisk {
    inner: DurableStore,
    commits: Arc<AtomicUsize>,
}

impl Store for SlowDisk {
    fn session(&mut self, id: &str) -> Option<&mut Session> {
        self.inner.session(id)
    }
    fn insert_session(&mut self, s: Session) {
        self.inner.insert_session(s)
    }
    fn remove_session(&mut self, id: &str) -> Option<Session> {
        self.inner.remove_session(id)
    }
    fn session_count(&self) -> usize {
        self.inner.session_count()
    }
    fn session_ids(&self) -> Vec<String> {
        self.inner.session_ids()
    }
    fn set_retained(&mut self, topic: &str, m: Option<Arc<Message>>) {
        self.inner.set_retained(topic, m)
    }
    fn retained_matching(&mut self, filter: &str, now: Instant) -> Vec<Arc<Message>> {
        self.inner.retained_matching(filter, now)
    }
    fn retained_count(&self) -> usize {
        self.inner.retained_count()
    }
    fn has_retained(&self, topic: &str) -> bool {
        self.inner.has_retained(topic)
    }
    fn put_pending_will(&mut self, w: PendingWill) -> Option<PendingWill> {
        self.inner.put_pending_will(w)
    }
    fn take_pending_will(&mut self, id: &str) -> Option<PendingWill> {
        self.inner.take_pending_will(id)
    }
    fn take_all_pending_wills(&mut self) -> Vec<PendingWill> {
        self.inner.take_all_pending_wills()
    }
    fn pending_will_count(&self) -> usize {
        self.inner.pending_will_count()
    }
    fn commit(&mut self) -> anyhow::Result<()> {
        std::thread::sleep(DISK);
        self.inner.commit()?;
        self.commits.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn durable(&self) -> bool {
        true
    }
    fn take_recovery(&mut self) -> Option<Recovery> {
        self.inner.take_recovery()
    }
}

async fn slow_broker(dir: &std::path::Path) -> (lwt_broker::BrokerHandle, SocketAddr, Arc<AtomicUsize>) {
    let commits = Arc::new(AtomicUsize::new(0));
    let store = SlowDisk { inner: DurableStore::open(dir).unwrap(), commits: commits.clone() };
    let listeners = Listeners { tcp: vec!["127.0.0.1:0".parse().unwrap()], ..Listeners::default() };
    let b = lwt_broker::start_over(Config::default(), listeners, Box::new(store)).await.unwrap();
    let addr = b.local_addrs()[0];
    (b, addr, commits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connack_puback_and_will_wait_for_their_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (_b, addr, commits) = slow_broker(dir.path()).await;
    // The restart's own commit is done before the listener accepts.
    let before = commits.load(Ordering::SeqCst);

    let t = Instant::now();
    let mut o = TestClient::connected(addr, connect(ProtocolVersion::V5, "obs")).await;
    assert!(t.elapsed() >= DISK, "CONNACK after {:?}: before its commit", t.elapsed());
    assert!(commits.load(Ordering::SeqCst) > before, "CONNACK came with no commit done");
    o.subscribe("data", QoS::AtLeastOnce).await;

    let mut p = TestClient::connected(addr, connect(ProtocolVersion::V5, "pub")).await;
    let t = Instant::now();
    let c0 = commits.load(Ordering::SeqCst);
    // The observer reads on its own task, so its receipt time is when the delivery arrived. (The
    // publisher's PUBACK alone would not show an early send: tokio runs the task the core woke
    // last only after the core yields, so it cannot overtake the commit; the observer's can.)
    let reader = tokio::spawn(async move {
        let m = o.expect_publish_within(Duration::from_secs(3)).await;
        (m, Instant::now(), o)
    });
    p.publish(publish("data", "x", QoS::AtLeastOnce, false)).await;
    assert!(t.elapsed() >= DISK && commits.load(Ordering::SeqCst) > c0, "PUBACK after {:?}: before its commit", t.elapsed());
    let (m, at, mut o) = reader.await.unwrap();
    assert_eq!(m.topic, "data");
    assert!(at - t >= DISK, "delivery after {:?}: before its commit", at - t);
    o.subscribe("clients/+/status", QoS::AtLeastOnce).await;

    let s = TestClient::connected(addr, connect_with_will(ProtocolVersion::V5, "s", will("clients/s/status", "gone", QoS::AtLeastOnce, false))).await;
    let c0 = commits.load(Ordering::SeqCst);
    let t = Instant::now();
    s.reset();
    let w = o.expect_publish_within(Duration::from_secs(3)).await;
    assert_eq!(w.topic, "clients/s/status");
    assert!(t.elapsed() >= DISK && commits.load(Ordering::SeqCst) > c0, "will delivered after {:?}: before its commit", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_connects_share_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (_b, addr, commits) = slow_broker(dir.path()).await;
    let before = commits.load(Ordering::SeqCst);
    let t = Instant::now();
    let clients = futures_join((0..50).map(|i| TestClient::connected(addr, connect(ProtocolVersion::V5, &format!("c{i}"))))).await;
    let used = commits.load(Ordering::SeqCst) - before;
    // One commit per connect would take 50 × 300 ms; batching needs a handful.
    assert!(used <= 10, "{used} commits for 50 connects in {:?}", t.elapsed());
    assert_eq!(clients.len(), 50);
}

async fn futures_join<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
