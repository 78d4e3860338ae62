//! Actuators (observers): clients that subscribe and record every delivery with a monotonic
//! timestamp. A background task reads, acknowledges and records; nothing a broker sends can make it
//! invent or lose an observation, and a broken observer is reported as such, never as a verdict.

use crate::client_settings::{ping_interval, OBSERVER_CONNECT_TIMEOUT, REPLY_TIMEOUT};
use crate::rumqttc_observer::{RumqttcObserver, RumqttcSpec};
use crate::transport::ClientStream;
use anyhow::{bail, Context};
use bytes::Bytes;
use lwt_codec::{
    Connect, Disconnect, Packet, Properties, Property, ProtocolVersion, PubResp, Publish, QoS, SubOptions, Subscribe,
};
use lwt_codec::connection::Connection;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// One PUBLISH an observer received.
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

/// How an observer connects.
#[derive(Clone, Debug)]
pub struct ActuatorSpec {
    /// Client id.
    pub client_id: String,
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Clean start.
    pub clean_start: bool,
    /// Session Expiry Interval (5.0).
    pub session_expiry: Option<u32>,
    /// User Name (Event Grid: the authentication name).
    pub username: Option<String>,
    /// Password (brokers that refuse anonymous clients).
    pub password: Option<Bytes>,
    /// 5.0 Authentication Method and Data (Event Grid: `CUSTOM-JWT` and the token).
    pub authentication: Option<(String, Bytes)>,
    /// Keep Alive in seconds; the observer pings to honour it (see [`crate::client_settings`]).
    pub keep_alive: u16,
    /// Maximum Packet Size it announces in CONNECT (5.0): the broker must not send it anything
    /// larger (MQTT-3.1.2-24/-25). Not enforced on receipt, so an oversized delivery is observed.
    pub max_packet_size: Option<u32>,
}

impl ActuatorSpec {
    /// A clean-start observer.
    pub fn new(client_id: impl Into<String>, version: ProtocolVersion) -> Self {
        ActuatorSpec {
            client_id: client_id.into(),
            version,
            clean_start: true,
            session_expiry: None,
            username: None,
            password: None,
            authentication: None,
            keep_alive: crate::client_settings::OBSERVER_KEEP_ALIVE,
            max_packet_size: None,
        }
    }
}

#[derive(Default)]
struct Shared {
    log: Vec<Observation>,
    waiting: HashMap<u16, oneshot::Sender<Packet>>,
    pings: Vec<oneshot::Sender<Instant>>,
    /// Set when the connection ended or the broker sent something undecodable.
    broken: Option<String>,
}

/// Which observer stack `check` watches wills with (`--observer`): our codec, or rumqttc's client,
/// so a codec bug shared by the reference broker and the harness cannot hide.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ObserverStack {
    /// Our codec (`lwt_codec`), the default.
    #[default]
    Lwt,
    /// The `rumqttc` crate's client: its own codec and state machine ([`RumqttcObserver`]).
    Rumqttc,
}

/// A connected observer.
pub struct Actuator {
    /// Its spec.
    pub spec: ActuatorSpec,
    /// Session Present of its CONNACK.
    pub session_present: bool,
    link: Link,
}

/// The client an observer speaks through.
enum Link {
    Codec(CodecLink),
    Rumqttc(RumqttcObserver),
}

/// Our codec's connection: a reader task that records and acknowledges, and a pinger.
struct CodecLink {
    writer: Arc<tokio::sync::Mutex<Connection<WriteHalf<ClientStream>>>>,
    shared: Arc<Mutex<Shared>>,
    changed: watch::Receiver<u64>,
    next_pid: Mutex<u16>,
    reader: tokio::task::JoinHandle<()>,
    pinger: Option<tokio::task::JoinHandle<()>>,
}

impl Actuator {
    /// Connects and starts recording.
    pub async fn connect(addr: SocketAddr, spec: ActuatorSpec) -> anyhow::Result<Actuator> {
        let stream = ClientStream::connect_tcp(addr).await.with_context(|| format!("observer cannot connect to {addr}"))?;
        Self::connect_over(stream, spec).await
    }

    /// Connects over an open stream (TCP or TLS, see [`crate::transport::Endpoint::dial`]) and
    /// starts recording.
    pub async fn connect_over(stream: ClientStream, spec: ActuatorSpec) -> anyhow::Result<Actuator> {
        // Split first: the reader that reads the CONNACK keeps whatever follows it in its buffer (a
        // resumed session's queued messages can arrive in the same segment).
        let version = spec.version;
        let (r, w) = tokio::io::split(stream);
        let mut reader = Connection::new(r);
        reader.set_version(version);
        let mut writer = Connection::new(w);
        writer.set_version(version);
        let mut c = Connect::new(spec.version, spec.client_id.clone());
        c.clean_start = spec.clean_start;
        c.keep_alive = spec.keep_alive;
        c.username = spec.username.clone();
        c.password = spec.password.clone();
        if let (ProtocolVersion::V5, Some(s)) = (spec.version, spec.session_expiry) {
            c.properties.push(Property::SessionExpiryInterval(s));
        }
        if let (ProtocolVersion::V5, Some(m)) = (spec.version, spec.max_packet_size) {
            c.properties.push(Property::MaximumPacketSize(m));
        }
        if let (ProtocolVersion::V5, Some((method, data))) = (spec.version, &spec.authentication) {
            c.properties.push(Property::AuthenticationMethod(method.clone()));
            c.properties.push(Property::AuthenticationData(data.clone()));
        }
        writer.write_packet(&Packet::Connect(c)).await?;
        let ack = match tokio::time::timeout(OBSERVER_CONNECT_TIMEOUT, reader.read_packet()).await {
            Ok(Ok(Some(Packet::ConnAck(a)))) => a,
            Ok(Ok(other)) => bail!("observer {} expected CONNACK, got {other:?}", spec.client_id),
            Ok(Err(e)) => bail!("observer {} CONNECT failed: {e}", spec.client_id),
            Err(_) => bail!("observer {}: no CONNACK within {OBSERVER_CONNECT_TIMEOUT:?}", spec.client_id),
        };
        if ack.code != 0 {
            bail!("observer {} refused with code {:#04x}", spec.client_id, ack.code);
        }
        let writer = Arc::new(tokio::sync::Mutex::new(writer));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, changed) = watch::channel(0u64);
        let reader = tokio::spawn(read_loop(reader, writer.clone(), shared.clone(), tx));
        let keep_alive = ack.properties.server_keep_alive().unwrap_or(spec.keep_alive);
        let pinger = ping_interval(keep_alive).map(|every| tokio::spawn(ping_loop(writer.clone(), shared.clone(), every)));
        let link = CodecLink { writer, shared, changed, next_pid: Mutex::new(0), reader, pinger };
        Ok(Actuator { spec, session_present: ack.session_present, link: Link::Codec(link) })
    }

    /// Connects the same observer on rumqttc's client instead of our codec (`--observer rumqttc`),
    /// over plain TCP, TLS or WebSockets; what rumqttc cannot do is an error naming the limit.
    pub async fn connect_rumqttc(target: impl Into<crate::rumqttc_observer::RumqttcTarget>, spec: ActuatorSpec) -> anyhow::Result<Actuator> {
        let observer = RumqttcObserver::connect(target, RumqttcSpec::for_observer(&spec)?).await?;
        Ok(Actuator { spec, session_present: observer.session_present, link: Link::Rumqttc(observer) })
    }

    /// Which stack this observer speaks through.
    pub fn stack(&self) -> ObserverStack {
        match self.link {
            Link::Codec(_) => ObserverStack::Lwt,
            Link::Rumqttc(_) => ObserverStack::Rumqttc,
        }
    }

    /// Subscribes and returns the SUBACK codes.
    pub async fn subscribe_with(&self, filter: &str, options: SubOptions) -> anyhow::Result<Vec<u8>> {
        self.subscribe_with_properties(filter, options, Properties::new()).await
    }

    /// Subscribes with SUBSCRIBE properties (a Subscription Identifier) and returns the SUBACK codes.
    pub async fn subscribe_with_properties(&self, filter: &str, options: SubOptions, properties: Properties) -> anyhow::Result<Vec<u8>> {
        let l = match &self.link {
            Link::Codec(l) => l,
            Link::Rumqttc(r) => return r.subscribe_with(filter, options, &properties).await,
        };
        let packet_id = l.pid();
        let (tx, rx) = oneshot::channel();
        l.shared.lock().unwrap().waiting.insert(packet_id, tx);
        let s = Subscribe { packet_id, properties, filters: vec![(filter.to_owned(), options)] };
        l.writer.lock().await.write_packet(&Packet::Subscribe(s)).await?;
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(Packet::SubAck(a))) => Ok(a.codes),
            Ok(Ok(other)) => bail!("expected SUBACK, got {}", other.name()),
            _ => bail!("observer {}: no SUBACK for {filter}", self.spec.client_id),
        }
    }

    /// Subscribes at `qos` and checks the grant is not a failure.
    pub async fn subscribe(&self, filter: &str, qos: QoS) -> anyhow::Result<QoS> {
        let codes = self.subscribe_with(filter, SubOptions::qos(qos)).await?;
        match codes.first().copied().and_then(QoS::from_u8) {
            Some(q) => Ok(q),
            None => bail!("subscription to {filter} refused with code {:#04x}", codes.first().copied().unwrap_or(0)),
        }
    }

    /// Publishes on the observer's own connection (used for probes).
    pub async fn publish(&self, p: Publish) -> anyhow::Result<()> {
        match &self.link {
            Link::Codec(l) => l.writer.lock().await.write_packet(&Packet::Publish(p)).await?,
            Link::Rumqttc(r) => r.publish_packet(&p).await?,
        }
        Ok(())
    }

    /// Sends PINGREQ and returns when PINGRESP arrives: proof the connection is live.
    pub async fn ping(&self) -> anyhow::Result<Instant> {
        let l = match &self.link {
            Link::Codec(l) => l,
            Link::Rumqttc(_) => return Err(crate::rumqttc_observer::limit("send a PINGREQ on demand (prove liveness with a probe)")),
        };
        let (tx, rx) = oneshot::channel();
        l.shared.lock().unwrap().pings.push(tx);
        l.writer.lock().await.write_packet(&Packet::PingReq).await?;
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(at)) => Ok(at),
            _ => bail!("observer {}: no PINGRESP", self.spec.client_id),
        }
    }

    /// Every observation so far.
    pub fn observations(&self) -> Vec<Observation> {
        match &self.link {
            Link::Codec(l) => l.shared.lock().unwrap().log.clone(),
            Link::Rumqttc(r) => r.observations(),
        }
    }

    /// Observations on `topic`.
    pub fn on_topic(&self, topic: &str) -> Vec<Observation> {
        self.observations().into_iter().filter(|o| o.topic == topic).collect()
    }

    /// Why the observer stopped working, if it did.
    pub fn broken(&self) -> Option<String> {
        match &self.link {
            Link::Codec(l) => l.shared.lock().unwrap().broken.clone(),
            Link::Rumqttc(r) => r.broken(),
        }
    }

    /// Waits until an observation satisfies `pred` or `deadline` passes.
    pub async fn wait_for(&self, pred: impl Fn(&Observation) -> bool, deadline: Instant) -> Option<Observation> {
        let l = match &self.link {
            Link::Codec(l) => l,
            Link::Rumqttc(r) => return r.wait_for(pred, deadline).await,
        };
        let mut changed = l.changed.clone();
        loop {
            if let Some(o) = l.shared.lock().unwrap().log.iter().find(|o| pred(o)).cloned() {
                return Some(o);
            }
            if self.broken().is_some() {
                return None;
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => continue,
                _ => return None,
            }
        }
    }

    /// Sends DISCONNECT 0x00 and stops.
    pub async fn disconnect(self) {
        match self.link {
            Link::Codec(mut l) => {
                let _ = l.writer.lock().await.write_packet(&Packet::Disconnect(Disconnect::new(0))).await;
                let _ = l.writer.lock().await.shutdown().await;
                l.stop_tasks();
            }
            Link::Rumqttc(r) => r.disconnect().await,
        }
    }
}

impl CodecLink {
    fn pid(&self) -> u16 {
        let mut p = self.next_pid.lock().unwrap();
        *p = p.wrapping_add(1).max(1);
        *p
    }

    fn stop_tasks(&mut self) {
        self.reader.abort();
        if let Some(p) = self.pinger.take() {
            p.abort();
        }
    }
}

impl Drop for CodecLink {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

/// Sends PINGREQ every `every` so the broker keeps the observer past its keep-alive. A failed write
/// marks the observer broken (unless the reader already said why).
async fn ping_loop(writer: Arc<tokio::sync::Mutex<Connection<WriteHalf<ClientStream>>>>, shared: Arc<Mutex<Shared>>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if shared.lock().unwrap().broken.is_some() {
            return;
        }
        if let Err(e) = writer.lock().await.write_packet(&Packet::PingReq).await {
            shared.lock().unwrap().broken.get_or_insert_with(|| format!("observer keep-alive ping failed: {e}"));
            return;
        }
    }
}

async fn read_loop(
    mut reader: Connection<ReadHalf<ClientStream>>,
    writer: Arc<tokio::sync::Mutex<Connection<WriteHalf<ClientStream>>>>,
    shared: Arc<Mutex<Shared>>,
    tx: watch::Sender<u64>,
) {
    let mut n = 0u64;
    loop {
        let packet = match reader.read_packet().await {
            Ok(Some(p)) => p,
            Ok(None) => {
                shared.lock().unwrap().broken = Some("broker closed the observer's connection".into());
                break;
            }
            Err(e) => {
                shared.lock().unwrap().broken = Some(format!("observer read failed: {e}"));
                break;
            }
        };
        let at = Instant::now();
        let reply = match packet {
            Packet::Publish(p) => {
                let reply = match (p.qos, p.packet_id) {
                    (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(PubResp::new(id))),
                    (QoS::ExactlyOnce, Some(id)) => Some(Packet::PubRec(PubResp::new(id))),
                    _ => None,
                };
                shared.lock().unwrap().log.push(Observation {
                    at,
                    topic: p.topic,
                    payload: p.payload,
                    qos: p.qos,
                    retain: p.retain,
                    dup: p.dup,
                    properties: p.properties,
                });
                reply
            }
            Packet::PubRel(r) => Some(Packet::PubComp(PubResp::new(r.packet_id))),
            Packet::SubAck(ref a) => {
                if let Some(w) = shared.lock().unwrap().waiting.remove(&a.packet_id) {
                    let _ = w.send(packet.clone());
                }
                None
            }
            Packet::UnsubAck(ref a) => {
                if let Some(w) = shared.lock().unwrap().waiting.remove(&a.packet_id) {
                    let _ = w.send(packet.clone());
                }
                None
            }
            Packet::PingResp => {
                let pings = std::mem::take(&mut shared.lock().unwrap().pings);
                for p in pings {
                    let _ = p.send(at);
                }
                None
            }
            Packet::Disconnect(d) => {
                shared.lock().unwrap().broken = Some(format!("broker sent DISCONNECT {:#04x} to the observer", d.reason));
                break;
            }
            _ => None,
        };
        if let Some(r) = reply {
            if writer.lock().await.write_packet(&r).await.is_err() {
                shared.lock().unwrap().broken = Some("observer write failed".into());
                break;
            }
        }
        n += 1;
        let _ = tx.send(n);
    }
    n += 1;
    let _ = tx.send(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An observer with a keep-alive pings on its own, so a strict broker (the reference broker
    /// enforces 1.5 x keep-alive to the millisecond) keeps it well past its keep-alive.
    #[tokio::test]
    async fn an_observer_with_a_keep_alive_pings_and_stays_connected() {
        let broker = lwt_broker::start_embedded().await.unwrap();
        let mut spec = ActuatorSpec::new("pinging-observer", ProtocolVersion::V311);
        spec.keep_alive = 1;
        let a = Actuator::connect(broker.local_addr(), spec).await.unwrap();
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(a.broken(), None);
        a.ping().await.unwrap();
        a.disconnect().await;
        broker.shutdown().await;
    }
}
