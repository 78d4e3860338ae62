//! A second, independent observer stack on `rumqttc` (its own codec, its own state machine), for
//! cross-checking: a codec bug shared by the reference broker and the harness (they share
//! `lwt_codec`) cannot hide when a will is also seen through a client neither of them wrote.
//!
//! It only observes: it subscribes, records every PUBLISH as an [`Observation`] with a monotonic
//! timestamp, publishes probes and pings on its own keep-alive. Edge behaviour (odd DISCONNECT
//! codes, malformed packets) stays with [`crate::actuator::Actuator`] on our codec. rumqttc
//! reconnects by itself when polled after an error; this observer never does: the first error marks
//! it broken, so a verdict never rests on a silently re-established session.

use crate::actuator::{ActuatorSpec, Observation};
use crate::client_settings::{OBSERVER_CONNECT_TIMEOUT, REPLY_TIMEOUT};
use anyhow::{bail, Context};
use bytes::Bytes;
use lwt_codec::{Properties, Property, ProtocolVersion, Publish, QoS, SubOptions};
use rumqttc::v5::mqttbytes::v5 as v5b;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// How a rumqttc observer connects.
#[derive(Clone, Debug)]
pub struct RumqttcSpec {
    /// Client id.
    pub client_id: String,
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Keep-alive in seconds; rumqttc pings on it. Its 5.0 client refuses less than 5 s (and 0), so
    /// a 5.0 observer with less is refused before it connects, naming that limit.
    pub keep_alive: u16,
    /// User Name and Password, for brokers that require them.
    pub credentials: Option<(String, String)>,
    /// Largest packet it accepts (rumqttc's 3.1.1 default is 10 KiB: too small for large wills).
    pub max_packet_size: u32,
    /// Clean Start (Clean Session on 3.1.1); 0 resumes a persistent session.
    pub clean_start: bool,
    /// Session Expiry Interval (5.0).
    pub session_expiry: Option<u32>,
}

impl RumqttcSpec {
    /// A clean-start observer with a 30 s keep-alive and 1 MiB packets.
    pub fn new(client_id: impl Into<String>, version: ProtocolVersion) -> Self {
        RumqttcSpec {
            client_id: client_id.into(),
            version,
            keep_alive: 30,
            credentials: None,
            max_packet_size: 1 << 20,
            clean_start: true,
            session_expiry: None,
        }
    }

    /// The rumqttc twin of one of our observers (`--observer rumqttc`): same id, version, session,
    /// keep-alive and login. What rumqttc cannot do is an error naming the limit ([`limit`]).
    pub fn for_observer(spec: &ActuatorSpec) -> anyhow::Result<RumqttcSpec> {
        if let Some(m) = spec.max_packet_size {
            // rumqttc drops the connection on an oversized delivery, so it cannot observe one.
            return Err(limit(&format!("announce a Maximum Packet Size ({m}) and still observe a larger delivery")));
        }
        if spec.version == ProtocolVersion::V5 && spec.keep_alive < 5 {
            return Err(limit(&format!("use a 5.0 keep-alive of {} s (its 5.0 client needs at least 5 s)", spec.keep_alive)));
        }
        let credentials = match (&spec.username, &spec.password) {
            (None, None) => None,
            (u, p) => {
                let p = match p {
                    Some(p) => String::from_utf8(p.to_vec()).map_err(|_| limit("send a password that is not UTF-8"))?,
                    None => String::new(),
                };
                Some((u.clone().unwrap_or_default(), p))
            }
        };
        Ok(RumqttcSpec {
            client_id: spec.client_id.clone(),
            version: spec.version,
            keep_alive: spec.keep_alive,
            credentials,
            max_packet_size: 1 << 20,
            clean_start: spec.clean_start,
            session_expiry: spec.session_expiry,
        })
    }
}

/// The error for something a scenario needs that the rumqttc observer stack cannot do: the
/// scenario's verdict becomes an error naming the limit, never a failure of the broker.
pub fn limit(what: &str) -> anyhow::Error {
    anyhow::anyhow!("observer limit: the rumqttc observer stack (--observer rumqttc) cannot {what}")
}

/// Where a rumqttc observer connects: the broker's address and, as the target speaks them, TLS
/// (the client configuration with this observer's certificate, and the name the server certificate
/// carries) and MQTT over WebSockets (the path).
///
/// rumqttc dials by host name and takes the TLS server name from it, so over TLS it dials the
/// certificate's name; that name must resolve to the target's address on this machine (e.g.
/// `localhost` for 127.0.0.1), else the observer is refused before it connects, naming the limit.
#[derive(Clone)]
pub struct RumqttcTarget {
    /// The broker's address.
    pub addr: SocketAddr,
    /// TLS: the client configuration and the server name to verify.
    pub tls: Option<(Arc<rustls::ClientConfig>, String)>,
    /// MQTT over WebSockets on this path.
    pub ws_path: Option<String>,
}

impl From<SocketAddr> for RumqttcTarget {
    fn from(addr: SocketAddr) -> Self {
        RumqttcTarget { addr, tls: None, ws_path: None }
    }
}

impl RumqttcTarget {
    /// The host rumqttc dials: the address, or over TLS the server name, once checked to resolve
    /// to the target's address and to loopback only.
    async fn host(&self) -> anyhow::Result<String> {
        let Some((_, name)) = &self.tls else { return Ok(self.addr.ip().to_string()) };
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), self.addr.port()))
            .await
            .map_err(|e| limit(&format!("dial the TLS server name {name:?} ({e}): it dials by the certificate's name")))?
            .collect();
        let reaches = resolved.iter().any(|a| a.ip() == self.addr.ip());
        let stays_here = resolved.iter().all(|a| a.ip().is_loopback() == self.addr.ip().is_loopback());
        if !reaches || !stays_here {
            return Err(limit(&format!(
                "reach {} by the TLS server name {name:?}, which resolves to {resolved:?} (it dials by the certificate's name)",
                self.addr
            )));
        }
        Ok(name.clone())
    }

    /// rumqttc's broker address (a URL over WebSockets), port and transport.
    async fn options(&self) -> anyhow::Result<(String, u16, rumqttc::Transport)> {
        use rumqttc::{TlsConfiguration, Transport};
        let host = self.host().await?;
        let port = self.addr.port();
        let tls = self.tls.as_ref().map(|(cfg, _)| TlsConfiguration::Rustls(cfg.clone()));
        let host_in_url = if host.contains(':') { format!("[{host}]") } else { host.clone() };
        Ok(match (&self.ws_path, tls) {
            (None, None) => (host, port, Transport::Tcp),
            (None, Some(t)) => (host, port, Transport::Tls(t)),
            (Some(path), None) => (format!("ws://{host_in_url}:{port}{path}"), port, Transport::Ws),
            (Some(path), Some(t)) => (format!("wss://{host_in_url}:{port}{path}"), port, Transport::Wss(t)),
        })
    }
}

/// The two rumqttc clients (3.1.1 and 5.0 are separate APIs in rumqttc).
enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// What the event-loop task shares with the observer.
#[derive(Default)]
struct Shared {
    log: Vec<Observation>,
    broken: Option<String>,
}

/// A connected rumqttc observer.
pub struct RumqttcObserver {
    /// Its spec.
    pub spec: RumqttcSpec,
    client: Client,
    shared: Arc<Mutex<Shared>>,
    changed: watch::Receiver<u64>,
    subacks: tokio::sync::Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
    /// Session Present of its CONNACK.
    pub session_present: bool,
}

/// What the event loop reports besides publishes.
enum Ack {
    /// CONNACK code and Session Present.
    Conn(u8, bool),
    Sub(Vec<u8>),
}

impl RumqttcObserver {
    /// Connects to `target` (plain TCP, TLS, WebSockets) and waits for a successful CONNACK.
    pub async fn connect(target: impl Into<RumqttcTarget>, spec: RumqttcSpec) -> anyhow::Result<RumqttcObserver> {
        let (host, port, transport) = target.into().options().await?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, changed) = watch::channel(0u64);
        let (ack_tx, mut ack_rx) = mpsc::unbounded_channel();
        let (client, task) = match spec.version {
            ProtocolVersion::V5 => {
                let mut o = rumqttc::v5::MqttOptions::new(&spec.client_id, host, port);
                o.set_transport(transport);
                if spec.keep_alive < 5 {
                    return Err(limit(&format!("use a 5.0 keep-alive of {} s (its 5.0 client needs at least 5 s)", spec.keep_alive)));
                }
                o.set_keep_alive(Duration::from_secs(u64::from(spec.keep_alive)));
                o.set_clean_start(spec.clean_start);
                o.set_session_expiry_interval(spec.session_expiry);
                o.set_max_packet_size(Some(spec.max_packet_size));
                if let Some((u, p)) = &spec.credentials {
                    o.set_credentials(u, p);
                }
                let (c, el) = rumqttc::v5::AsyncClient::new(o, 64);
                (Client::V5(c), tokio::spawn(run_v5(el, shared.clone(), tx, ack_tx)))
            }
            _ => {
                let mut o = rumqttc::MqttOptions::new(&spec.client_id, host, port);
                o.set_transport(transport);
                o.set_keep_alive(Duration::from_secs(u64::from(spec.keep_alive)));
                if spec.client_id.is_empty() && !spec.clean_start {
                    return Err(limit("keep a session under an empty client id"));
                }
                o.set_clean_session(spec.clean_start);
                o.set_max_packet_size(spec.max_packet_size as usize, spec.max_packet_size as usize);
                if let Some((u, p)) = &spec.credentials {
                    o.set_credentials(u, p);
                }
                let (c, el) = rumqttc::AsyncClient::new(o, 64);
                (Client::V4(c), tokio::spawn(run_v4(el, shared.clone(), tx, ack_tx)))
            }
        };
        let (sub_tx, sub_rx) = mpsc::unbounded_channel();
        let first = tokio::time::timeout(OBSERVER_CONNECT_TIMEOUT, ack_rx.recv()).await;
        let id = &spec.client_id;
        let session_present = match first {
            Ok(Some(Ack::Conn(0, present))) => present,
            Ok(Some(Ack::Conn(code, _))) => bail!("rumqttc observer {id} refused with code {code:#04x}"),
            Ok(Some(Ack::Sub(_))) => bail!("rumqttc observer {id}: SUBACK before CONNACK"),
            Ok(None) => bail!("rumqttc observer {id}: {}", shared.lock().unwrap().broken.clone().unwrap_or_default()),
            Err(_) => bail!("rumqttc observer {id}: no CONNACK within {OBSERVER_CONNECT_TIMEOUT:?}"),
        };
        // From now on SUBACKs go to `subscribe`.
        tokio::spawn(async move {
            while let Some(a) = ack_rx.recv().await {
                if let Ack::Sub(codes) = a {
                    if sub_tx.send(codes).is_err() {
                        break;
                    }
                }
            }
        });
        Ok(RumqttcObserver { spec, client, shared, changed, subacks: tokio::sync::Mutex::new(sub_rx), task, session_present })
    }

    /// Subscribes to `filter` and returns the SUBACK codes (one at a time, so codes match filters).
    pub async fn subscribe(&self, filter: &str, qos: QoS) -> anyhow::Result<Vec<u8>> {
        self.subscribe_with(filter, SubOptions::qos(qos), &Properties::new()).await
    }

    /// Subscribes with subscription options and SUBSCRIBE properties (5.0: No Local, Retain As
    /// Published, Retain Handling, a Subscription Identifier, user properties), as our observers can;
    /// anything else is a [`limit`] error.
    pub async fn subscribe_with(&self, filter: &str, options: SubOptions, properties: &Properties) -> anyhow::Result<Vec<u8>> {
        let mut acks = self.subacks.lock().await;
        match &self.client {
            // 3.1.1 has only the QoS, and our codec drops the rest there too.
            Client::V4(c) => c.subscribe(filter, v4_qos(options.qos)).await?,
            Client::V5(c) => {
                let mut f = v5b::Filter::new(filter, v5_qos(options.qos));
                f.nolocal = options.no_local;
                f.preserve_retain = options.retain_as_published;
                f.retain_forward_rule = match options.retain_handling {
                    0 => v5b::RetainForwardRule::OnEverySubscribe,
                    1 => v5b::RetainForwardRule::OnNewSubscribe,
                    2 => v5b::RetainForwardRule::Never,
                    n => return Err(limit(&format!("send Retain Handling {n}"))),
                };
                match subscribe_properties(properties)? {
                    Some(p) => c.subscribe_many_with_properties([f], p).await?,
                    None => c.subscribe_many([f]).await?,
                }
            }
        }
        let codes = tokio::time::timeout(REPLY_TIMEOUT, acks.recv())
            .await
            .with_context(|| format!("rumqttc observer {}: no SUBACK for {filter} within {REPLY_TIMEOUT:?}", self.spec.client_id))?
            .with_context(|| format!("rumqttc observer {}: {}", self.spec.client_id, self.broken().unwrap_or_default()))?;
        Ok(codes)
    }

    /// Publishes (probes: a message the observer must see come back).
    pub async fn publish(&self, topic: &str, payload: Bytes, qos: QoS) -> anyhow::Result<()> {
        match &self.client {
            Client::V4(c) => c.publish_bytes(topic, v4_qos(qos), false, payload).await?,
            Client::V5(c) => c.publish_bytes(topic, v5_qos(qos), false, payload).await?,
        }
        Ok(())
    }

    /// Publishes one of our PUBLISH packets (topic, payload, QoS, RETAIN); PUBLISH properties are a
    /// [`limit`] error (observers only publish probes, which carry none).
    pub async fn publish_packet(&self, p: &Publish) -> anyhow::Result<()> {
        if !p.properties.0.is_empty() {
            return Err(limit("publish with PUBLISH properties"));
        }
        match &self.client {
            Client::V4(c) => c.publish_bytes(p.topic.as_str(), v4_qos(p.qos), p.retain, p.payload.clone()).await?,
            Client::V5(c) => c.publish_bytes(p.topic.as_str(), v5_qos(p.qos), p.retain, p.payload.clone()).await?,
        }
        Ok(())
    }

    /// Everything received so far.
    pub fn observations(&self) -> Vec<Observation> {
        self.shared.lock().unwrap().log.clone()
    }

    /// Why it stopped, if it did.
    pub fn broken(&self) -> Option<String> {
        self.shared.lock().unwrap().broken.clone()
    }

    /// The first observation matching `pred`, waiting until `deadline`.
    pub async fn wait_for(&self, pred: impl Fn(&Observation) -> bool, deadline: Instant) -> Option<Observation> {
        let mut changed = self.changed.clone();
        loop {
            if let Some(o) = self.shared.lock().unwrap().log.iter().find(|o| pred(o)) {
                return Some(o.clone());
            }
            if tokio::time::timeout_at(deadline, changed.changed()).await.map(|r| r.is_err()).unwrap_or(true) {
                return self.shared.lock().unwrap().log.iter().find(|o| pred(o)).cloned();
            }
        }
    }

    /// Sends DISCONNECT and stops.
    pub async fn disconnect(self) {
        let _ = match &self.client {
            Client::V4(c) => c.disconnect().await.map_err(|e| e.to_string()),
            Client::V5(c) => c.disconnect().await.map_err(|e| e.to_string()),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), self.changed.clone().changed()).await;
        self.task.abort();
    }
}

impl Drop for RumqttcObserver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn v4_qos(q: QoS) -> rumqttc::QoS {
    match q {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

fn v5_qos(q: QoS) -> rumqttc::v5::mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

fn from_v4_qos(q: rumqttc::QoS) -> QoS {
    match q {
        rumqttc::QoS::AtMostOnce => QoS::AtMostOnce,
        rumqttc::QoS::AtLeastOnce => QoS::AtLeastOnce,
        rumqttc::QoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

fn from_v5_qos(q: rumqttc::v5::mqttbytes::QoS) -> QoS {
    match q {
        rumqttc::v5::mqttbytes::QoS::AtMostOnce => QoS::AtMostOnce,
        rumqttc::v5::mqttbytes::QoS::AtLeastOnce => QoS::AtLeastOnce,
        rumqttc::v5::mqttbytes::QoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

/// rumqttc's publish properties as ours, in the order the spec lists them (rumqttc does not keep the
/// wire order, so comparisons with it must not depend on order across kinds).
fn properties_of(p: Option<v5b::PublishProperties>) -> Properties {
    let Some(p) = p else { return Properties::default() };
    let mut out = Vec::new();
    out.extend(p.payload_format_indicator.map(Property::PayloadFormatIndicator));
    out.extend(p.message_expiry_interval.map(Property::MessageExpiryInterval));
    out.extend(p.topic_alias.map(Property::TopicAlias));
    out.extend(p.response_topic.map(Property::ResponseTopic));
    out.extend(p.correlation_data.map(Property::CorrelationData));
    out.extend(p.user_properties.into_iter().map(|(k, v)| Property::UserProperty(k, v)));
    out.extend(p.subscription_identifiers.into_iter().map(|i| Property::SubscriptionIdentifier(i as u32)));
    out.extend(p.content_type.map(Property::ContentType));
    out.into()
}

fn record(shared: &Mutex<Shared>, tx: &watch::Sender<u64>, o: Observation) {
    shared.lock().unwrap().log.push(o);
    tx.send_modify(|n| *n += 1);
}

fn stop(shared: &Mutex<Shared>, tx: &watch::Sender<u64>, why: String) {
    shared.lock().unwrap().broken.get_or_insert(why);
    tx.send_modify(|n| *n += 1);
}

async fn run_v4(mut el: rumqttc::EventLoop, shared: Arc<Mutex<Shared>>, tx: watch::Sender<u64>, acks: mpsc::UnboundedSender<Ack>) {
    loop {
        match el.poll().await {
            Ok(event) => on_v4_event(event, &shared, &tx, &acks),
            Err(e) => {
                // rumqttc reads a batch, then meets the end of the stream and reports only the
                // error: packets read before it (a will sent just before the broker closed) are
                // still buffered, and were delivered on the wire before the close.
                for event in el.state.events.drain(..) {
                    on_v4_event(event, &shared, &tx, &acks);
                }
                return stop(&shared, &tx, format!("rumqttc (3.1.1): {e}"));
            }
        }
    }
}

fn on_v4_event(event: rumqttc::Event, shared: &Mutex<Shared>, tx: &watch::Sender<u64>, acks: &mpsc::UnboundedSender<Ack>) {
    use rumqttc::{Event, Packet};
    match event {
        Event::Incoming(Packet::Publish(p)) => {
            let o = Observation {
                at: Instant::now(),
                topic: p.topic,
                payload: p.payload,
                qos: from_v4_qos(p.qos),
                retain: p.retain,
                dup: p.dup,
                properties: Properties::default(),
            };
            record(shared, tx, o);
        }
        Event::Incoming(Packet::ConnAck(a)) => {
            let _ = acks.send(Ack::Conn(a.code as u8, a.session_present));
        }
        Event::Incoming(Packet::SubAck(a)) => {
            let codes = a
                .return_codes
                .iter()
                .map(|c| match c {
                    rumqttc::SubscribeReasonCode::Success(q) => *q as u8,
                    rumqttc::SubscribeReasonCode::Failure => 0x80,
                })
                .collect();
            let _ = acks.send(Ack::Sub(codes));
        }
        _ => {}
    }
}

async fn run_v5(mut el: rumqttc::v5::EventLoop, shared: Arc<Mutex<Shared>>, tx: watch::Sender<u64>, acks: mpsc::UnboundedSender<Ack>) {
    loop {
        let stopped = match el.poll().await {
            Ok(event) => on_v5_event(event, &shared, &tx, &acks),
            Err(e) => {
                // As in `run_v4`: what was read before the error is still buffered.
                let mut why = None;
                for event in el.state.events.drain(..) {
                    why = why.or(on_v5_event(event, &shared, &tx, &acks));
                }
                Some(why.unwrap_or_else(|| format!("rumqttc (5.0): {e}")))
            }
        };
        if let Some(why) = stopped {
            return stop(&shared, &tx, why);
        }
    }
}

/// Records one rumqttc 5.0 event; gives why the connection ended when it was a DISCONNECT.
fn on_v5_event(event: rumqttc::v5::Event, shared: &Mutex<Shared>, tx: &watch::Sender<u64>, acks: &mpsc::UnboundedSender<Ack>) -> Option<String> {
    use rumqttc::v5::{Event, Incoming};
    match event {
        Event::Incoming(Incoming::Publish(p)) => {
            let o = Observation {
                at: Instant::now(),
                topic: String::from_utf8_lossy(&p.topic).into_owned(),
                payload: p.payload,
                qos: from_v5_qos(p.qos),
                retain: p.retain,
                dup: p.dup,
                properties: properties_of(p.properties),
            };
            record(shared, tx, o);
        }
        Event::Incoming(Incoming::ConnAck(a)) => {
            let _ = acks.send(Ack::Conn(a.code as u8, a.session_present));
        }
        Event::Incoming(Incoming::SubAck(a)) => {
            let codes = a.return_codes.iter().map(|c| suback_code_v5(*c)).collect();
            let _ = acks.send(Ack::Sub(codes));
        }
        Event::Incoming(Incoming::Disconnect(d)) => {
            return Some(format!("rumqttc (5.0): the broker sent DISCONNECT {:?}", d.reason_code));
        }
        _ => {}
    }
    None
}

/// Our SUBSCRIBE properties as rumqttc's: a Subscription Identifier and user properties.
fn subscribe_properties(properties: &Properties) -> anyhow::Result<Option<v5b::SubscribeProperties>> {
    if properties.0.is_empty() {
        return Ok(None);
    }
    let mut out = v5b::SubscribeProperties { id: None, user_properties: Vec::new() };
    for p in &properties.0 {
        match p {
            Property::SubscriptionIdentifier(id) => out.id = Some(*id as usize),
            Property::UserProperty(k, v) => out.user_properties.push((k.clone(), v.clone())),
            other => return Err(limit(&format!("send SUBSCRIBE property {other:?}"))),
        }
    }
    Ok(Some(out))
}

fn suback_code_v5(c: v5b::SubscribeReasonCode) -> u8 {
    use v5b::SubscribeReasonCode::*;
    match c {
        Success(q) => q as u8,
        Failure => 0x80,
        Unspecified => 0x80,
        ImplementationSpecific => 0x83,
        NotAuthorized => 0x87,
        TopicFilterInvalid => 0x8F,
        PkidInUse => 0x91,
        QuotaExceeded => 0x97,
        SharedSubscriptionsNotSupported => 0x9E,
        SubscriptionIdNotSupported => 0xA1,
        WildcardSubscriptionsNotSupported => 0xA2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actuator::Actuator;

    /// What rumqttc cannot do is refused up front, naming the limit; logins carry over.
    #[test]
    fn an_observer_spec_maps_or_names_the_limit() {
        let mut spec = ActuatorSpec::new("o", ProtocolVersion::V5);
        spec.username = Some("u".into());
        let r = RumqttcSpec::for_observer(&spec).unwrap();
        assert_eq!((r.credentials, r.keep_alive, r.clean_start), (Some(("u".into(), String::new())), spec.keep_alive, true));
        spec.password = Some(Bytes::from_static(b"\xff"));
        assert!(RumqttcSpec::for_observer(&spec).unwrap_err().to_string().contains("observer limit"));
        let mut spec = ActuatorSpec::new("o", ProtocolVersion::V5);
        spec.max_packet_size = Some(1024);
        assert!(RumqttcSpec::for_observer(&spec).unwrap_err().to_string().contains("Maximum Packet Size"));
        spec.max_packet_size = None;
        spec.keep_alive = 2;
        assert!(RumqttcSpec::for_observer(&spec).unwrap_err().to_string().contains("keep-alive"));
        spec.version = ProtocolVersion::V311;
        assert!(RumqttcSpec::for_observer(&spec).is_ok());
    }

    /// A persistent rumqttc observer resumes its session (Session Present 1) and gets what was
    /// queued while it was away, as our observers do in the `comes back` steps.
    #[tokio::test]
    async fn a_persistent_rumqttc_observer_resumes_its_session() {
        let broker = lwt_broker::start_embedded().await.unwrap();
        let addr = broker.local_addr();
        for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let mut spec = ActuatorSpec::new(format!("rq-persistent-{v:?}"), v);
            spec.clean_start = false;
            spec.session_expiry = Some(60);
            let topic = format!("rq/{v:?}/queued");
            let a = Actuator::connect_rumqttc(addr, spec.clone()).await.unwrap();
            a.subscribe(&topic, QoS::AtLeastOnce).await.unwrap();
            a.disconnect().await;
            let publisher = Actuator::connect(addr, ActuatorSpec::new(format!("rq-pub-{v:?}"), v)).await.unwrap();
            let mut p = Publish::new(topic.clone(), Bytes::from_static(b"queued"));
            p.qos = QoS::AtLeastOnce;
            p.packet_id = Some(1);
            publisher.publish(p).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            let back = Actuator::connect_rumqttc(addr, spec).await.unwrap();
            assert!(back.session_present, "{v:?}: session resumed");
            let got = back.wait_for(|o| o.topic == topic, Instant::now() + Duration::from_secs(5)).await;
            assert_eq!(got.map(|o| o.payload), Some(Bytes::from_static(b"queued")), "{v:?}");
            back.disconnect().await;
            publisher.disconnect().await;
        }
        broker.shutdown().await;
    }
}
