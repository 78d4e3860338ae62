//! The background reader of a watching client (actuators, the load run's fleet observers, the
//! pre-flight observer): one task reads, timestamps every PUBLISH as it is decoded, acknowledges per
//! QoS (PUBACK, PUBREC, then PUBCOMP for PUBREL), hands SUBACK/UNSUBACK/PINGRESP to whoever awaits
//! them, and a pinger keeps the keep-alive the CONNACK settled (half of it between PINGREQs). Probes
//! are awaitable: [`Reader::probe`] publishes a nonce unique to the process and returns when it
//! came back through the broker, which is how every absence and duplicate check ends.
//!
//! Nothing a broker sends can make the reader invent or lose an observation: an undecodable packet,
//! a DISCONNECT or the close marks the reader broken (with why), and a broken reader never
//! answers a wait with "nothing came", only with its reason, so the caller reports an error.

use super::{PacketIds, Session};
use crate::client_settings::{ping_interval, REPLY_TIMEOUT};
use crate::transport::ClientStream;
use anyhow::bail;
use bytes::Bytes;
use lwt_codec::connection::Connection;
use lwt_codec::{Disconnect, Packet, Properties, PubResp, Publish, QoS, SubOptions, Subscribe, Unsubscribe};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// One PUBLISH a watching client received.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// When it was decoded (monotonic).
    pub at: Instant,
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Bytes,
    /// QoS it arrived with.
    pub qos: QoS,
    /// RETAIN flag.
    pub retain: bool,
    /// DUP flag.
    pub dup: bool,
    /// Properties (5.0), in order.
    pub properties: Properties,
}

#[derive(Default)]
struct Shared {
    log: Vec<Observation>,
    waiting: HashMap<u16, oneshot::Sender<Packet>>,
    pings: Vec<oneshot::Sender<Instant>>,
    /// Set when the connection ended or the broker sent something undecodable.
    broken: Option<String>,
    /// When the broker ended the connection cleanly (DISCONNECT or end of stream): everything it
    /// sent before was read, so the log is the connection's whole story.
    closed_by_broker: Option<Instant>,
}

type Writer = Arc<tokio::sync::Mutex<Connection<WriteHalf<ClientStream>>>>;

/// A connected client whose reading runs in the background.
pub struct Reader {
    /// What the CONNACK settled.
    pub session: Session,
    writer: Writer,
    shared: Arc<Mutex<Shared>>,
    changed: watch::Receiver<u64>,
    pids: Mutex<PacketIds>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pinger: Option<tokio::task::JoinHandle<()>>,
}

impl Reader {
    /// Starts reading on this runtime. The halves were split before the CONNECT, so whatever
    /// followed the CONNACK in its segment (a resumed session's queued messages) is still buffered.
    pub fn start(read: Connection<ReadHalf<ClientStream>>, write: Connection<WriteHalf<ClientStream>>, session: Session) -> Reader {
        let (mut r, stop_rx, tx) = Reader::new(write, session);
        r.task = Some(tokio::spawn(read_loop(read, r.writer.clone(), r.shared.clone(), tx, stop_rx)));
        r
    }

    /// Starts reading on a thread of its own with its own runtime (plain TCP only; other streams
    /// read on this runtime), so its timestamps are not held up by a load run's thousands of tasks.
    /// `conn` is a clean-start client between CONNACK and its first SUBSCRIBE: nothing is buffered.
    pub async fn start_on_own_thread(conn: Connection<ClientStream>, session: Session) -> anyhow::Result<Reader> {
        let version = conn.version();
        let tcp = match conn.into_inner() {
            ClientStream::Tcp(tcp) => tcp.into_std()?,
            other => {
                let (r, w) = tokio::io::split(other);
                return Ok(Reader::start(versioned(r, version), versioned(w, version), session));
            }
        };
        let (halves_tx, halves_rx) = oneshot::channel();
        let name = format!("observer-{}", session.client_id);
        std::thread::Builder::new().name(name).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return drop(halves_tx.send(Err(format!("observer runtime: {e}")))),
            };
            rt.block_on(async move {
                // Registered with this thread's reactor: its readiness is seen here first.
                let stream = match tokio::net::TcpStream::from_std(tcp) {
                    Ok(t) => ClientStream::Tcp(t),
                    Err(e) => return drop(halves_tx.send(Err(format!("observer socket: {e}")))),
                };
                let (r, w) = tokio::io::split(stream);
                let (done_tx, done_rx) = oneshot::channel();
                if halves_tx.send(Ok((versioned(w, version), done_tx))).is_ok() {
                    if let Ok((shared, tx, writer, stop)) = done_rx.await {
                        read_loop(versioned(r, version), writer, shared, tx, stop).await;
                    }
                }
            });
        })?;
        let (write, done) = halves_rx.await.map_err(|_| anyhow::anyhow!("observer thread ended"))?.map_err(anyhow::Error::msg)?;
        let (r, stop_rx, tx) = Reader::new(write, session);
        let _ = done.send((r.shared.clone(), tx, r.writer.clone(), stop_rx));
        Ok(r)
    }

    fn new(write: Connection<WriteHalf<ClientStream>>, session: Session) -> (Reader, oneshot::Receiver<()>, watch::Sender<u64>) {
        let writer = Arc::new(tokio::sync::Mutex::new(write));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, changed) = watch::channel(0u64);
        let (stop, stop_rx) = oneshot::channel();
        let pinger = ping_interval(session.keep_alive).map(|every| tokio::spawn(ping_loop(writer.clone(), shared.clone(), every)));
        let r = Reader { session, writer, shared, changed, pids: Mutex::default(), stop: Some(stop), task: None, pinger };
        (r, stop_rx, tx)
    }

    fn who(&self) -> &str {
        &self.session.client_id
    }

    async fn request(&self, make: impl FnOnce(u16) -> Packet, what: &str) -> anyhow::Result<Packet> {
        let packet_id = self.pids.lock().unwrap().next_id();
        let (tx, rx) = oneshot::channel();
        self.shared.lock().unwrap().waiting.insert(packet_id, tx);
        self.writer.lock().await.write_packet(&make(packet_id)).await?;
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(p)) => Ok(p),
            _ => bail!("{}: no {what} within {REPLY_TIMEOUT:?}{}", self.who(), self.why()),
        }
    }

    fn why(&self) -> String {
        self.broken().map(|b| format!(" ({b})")).unwrap_or_default()
    }

    /// One SUBSCRIBE; the SUBACK's codes.
    pub async fn subscribe(&self, filters: Vec<(String, SubOptions)>, properties: Properties) -> anyhow::Result<Vec<u8>> {
        match self.request(|packet_id| Packet::Subscribe(Subscribe { packet_id, properties, filters }), "SUBACK").await? {
            Packet::SubAck(a) => Ok(a.codes),
            other => bail!("expected SUBACK, got {}", other.name()),
        }
    }

    /// One UNSUBSCRIBE; the UNSUBACK's codes (empty for 3.1.1).
    pub async fn unsubscribe(&self, filters: Vec<String>, properties: Properties) -> anyhow::Result<Vec<u8>> {
        match self.request(|packet_id| Packet::Unsubscribe(Unsubscribe { packet_id, properties, filters }), "UNSUBACK").await? {
            Packet::UnsubAck(a) => Ok(a.codes),
            other => bail!("expected UNSUBACK, got {}", other.name()),
        }
    }

    /// Publishes on this connection (probes, test traffic) within the session's limits; the
    /// acknowledgement of QoS 1/2 is not awaited.
    pub async fn publish(&self, mut p: Publish) -> anyhow::Result<()> {
        self.session.check_publish(&p)?;
        if p.qos != QoS::AtMostOnce && p.packet_id.is_none() {
            p.packet_id = Some(self.pids.lock().unwrap().next_id());
        }
        Ok(self.writer.lock().await.write_packet(&Packet::Publish(p)).await?)
    }

    /// Sends PINGREQ and returns when PINGRESP arrives: proof the connection is live.
    pub async fn ping(&self) -> anyhow::Result<Instant> {
        let (tx, rx) = oneshot::channel();
        self.shared.lock().unwrap().pings.push(tx);
        self.writer.lock().await.write_packet(&Packet::PingReq).await?;
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(at)) => Ok(at),
            _ => bail!("{}: no PINGRESP{}", self.who(), self.why()),
        }
    }

    /// Every observation so far.
    pub fn observations(&self) -> Vec<Observation> {
        self.shared.lock().unwrap().log.clone()
    }

    /// Observations from index `from` on, and the index to read from next time.
    pub fn since(&self, from: usize) -> (Vec<Observation>, usize) {
        let s = self.shared.lock().unwrap();
        let from = from.min(s.log.len());
        (s.log[from..].to_vec(), s.log.len())
    }

    /// PUBLISH packets received so far.
    pub fn received(&self) -> usize {
        self.shared.lock().unwrap().log.len()
    }

    /// Why the reader stopped working, if it did.
    pub fn broken(&self) -> Option<String> {
        self.shared.lock().unwrap().broken.clone()
    }

    /// When the broker ended the connection cleanly (a DISCONNECT or the end of the stream, not a
    /// reset or an undecodable packet), if it did: every packet it sent before is in the log.
    pub fn closed_by_broker(&self) -> Option<Instant> {
        self.shared.lock().unwrap().closed_by_broker
    }

    /// Waits until an observation satisfies `pred` or `deadline` passes (or the reader breaks).
    pub async fn wait_for(&self, pred: impl Fn(&Observation) -> bool + Send, deadline: Instant) -> Option<Observation> {
        let mut changed = self.changed.clone();
        let mut seen = 0;
        loop {
            {
                let s = self.shared.lock().unwrap();
                if let Some(o) = s.log[seen..].iter().find(|o| pred(o)) {
                    return Some(o.clone());
                }
                seen = s.log.len();
                if s.broken.is_some() {
                    return None;
                }
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => continue,
                _ => return None,
            }
        }
    }

    /// Sends DISCONNECT (reason 0x00, or `d`) and closes; the reader stops.
    pub async fn disconnect(mut self, d: Option<Disconnect>) {
        {
            let mut w = self.writer.lock().await;
            let _ = w.write_packet(&Packet::Disconnect(d.unwrap_or_else(|| Disconnect::new(0)))).await;
            let _ = w.shutdown().await;
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
        }
    }
}

/// A client that watches deliveries (our reader, or an observer on another stack): what a probe
/// needs, and the probe itself, written once.
pub trait Watching {
    /// Publishes on the watching client's own connection.
    fn send_probe(&self, p: Publish) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
    /// The first observation satisfying `pred` before `deadline` (`None`: not seen, or broken).
    fn await_observation(&self, pred: impl Fn(&Observation) -> bool + Send, deadline: Instant) -> impl std::future::Future<Output = Option<Observation>> + Send;
    /// Why the client stopped working, if it did.
    fn broken_why(&self) -> Option<String>;

    /// Publishes a nonce no other probe shares on `topic` (which this client must be subscribed
    /// to) and returns when it came back through the broker: proof the client was connected and
    /// subscribed up to now, and that what the broker sent before has arrived. Otherwise why not.
    fn probe(&self, topic: &str, within: Duration) -> impl std::future::Future<Output = Result<Instant, String>> + Send
    where
        Self: Sync,
    {
        async move {
            let nonce = crate::verdict::probe_nonce();
            if let Err(e) = self.send_probe(Publish::new(topic.to_owned(), nonce.clone())).await {
                return Err(self.broken_why().unwrap_or_else(|| format!("probe not sent: {e}")));
            }
            let back = self.await_observation(|o| o.topic == topic && o.payload == nonce.as_bytes(), Instant::now() + within).await;
            match back {
                Some(o) => Ok(o.at),
                None => Err(self.broken_why().unwrap_or_else(|| format!("liveness probe not received within {within:?}"))),
            }
        }
    }
}

/// Implements [`Watching`] for a type with inherent `publish`, `wait_for` and `broken` methods.
macro_rules! watching_by_inherent {
    ($t:ty) => {
        impl $crate::client::reader::Watching for $t {
            fn send_probe(&self, p: lwt_codec::Publish) -> impl std::future::Future<Output = anyhow::Result<()>> + Send {
                self.publish(p)
            }
            fn await_observation(
                &self,
                pred: impl Fn(&$crate::client::Observation) -> bool + Send,
                deadline: tokio::time::Instant,
            ) -> impl std::future::Future<Output = Option<$crate::client::Observation>> + Send {
                self.wait_for(pred, deadline)
            }
            fn broken_why(&self) -> Option<String> {
                self.broken()
            }
        }
    };
}
pub(crate) use watching_by_inherent;

watching_by_inherent!(Reader);

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = &self.task {
            t.abort();
        }
        if let Some(p) = &self.pinger {
            p.abort();
        }
    }
}

fn versioned<S>(s: S, version: lwt_codec::ProtocolVersion) -> Connection<S> {
    let mut c = Connection::new(s);
    c.set_version(version);
    c
}

/// Sends PINGREQ every `every` so the broker keeps the client past its keep-alive. A failed write
/// marks the reader broken (unless it already knows why).
async fn ping_loop(writer: Writer, shared: Arc<Mutex<Shared>>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if shared.lock().unwrap().broken.is_some() {
            return;
        }
        if let Err(e) = writer.lock().await.write_packet(&Packet::PingReq).await {
            shared.lock().unwrap().broken.get_or_insert_with(|| format!("keep-alive ping failed: {e}"));
            return;
        }
    }
}

/// What the reader does with one packet: the reply it owes (acknowledgements), or why it stops.
fn handle(packet: Packet, at: Instant, shared: &Mutex<Shared>) -> Result<Option<Packet>, String> {
    let mut s = shared.lock().unwrap();
    Ok(match packet {
        Packet::Publish(p) => {
            let reply = match (p.qos, p.packet_id) {
                (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(PubResp::new(id))),
                (QoS::ExactlyOnce, Some(id)) => Some(Packet::PubRec(PubResp::new(id))),
                _ => None,
            };
            let Publish { topic, payload, qos, retain, dup, properties, .. } = p;
            s.log.push(Observation { at, topic, payload, qos, retain, dup, properties });
            reply
        }
        Packet::PubRel(r) => Some(Packet::PubComp(PubResp::new(r.packet_id))),
        Packet::SubAck(ref a) => {
            if let Some(w) = s.waiting.remove(&a.packet_id) {
                let _ = w.send(packet);
            }
            None
        }
        Packet::UnsubAck(ref a) => {
            if let Some(w) = s.waiting.remove(&a.packet_id) {
                let _ = w.send(packet);
            }
            None
        }
        Packet::PingResp => {
            for p in std::mem::take(&mut s.pings) {
                let _ = p.send(at);
            }
            None
        }
        Packet::Disconnect(d) => {
            s.closed_by_broker.get_or_insert(at);
            return Err(format!("the broker sent DISCONNECT {:#04x}", d.reason));
        }
        _ => None,
    })
}

async fn read_loop(
    mut reader: Connection<ReadHalf<ClientStream>>,
    writer: Writer,
    shared: Arc<Mutex<Shared>>,
    tx: watch::Sender<u64>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut n = 0u64;
    let why = loop {
        let packet = tokio::select! {
            r = reader.read_packet() => match r {
                Ok(Some(p)) => p,
                Ok(None) => {
                    shared.lock().unwrap().closed_by_broker.get_or_insert_with(Instant::now);
                    break "the broker closed the connection".to_owned();
                }
                Err(e) => break format!("read failed: {e}"),
            },
            _ = &mut stop => break "stopped".to_owned(),
        };
        let reply = match handle(packet, Instant::now(), &shared) {
            Ok(r) => r,
            Err(why) => break why,
        };
        if let Some(r) = reply {
            if let Err(e) = writer.lock().await.write_packet(&r).await {
                break format!("acknowledgement write failed: {e}");
            }
        }
        n += 1;
        let _ = tx.send(n);
    };
    shared.lock().unwrap().broken.get_or_insert(why);
    let _ = tx.send(n + 1);
}
