//! Actuators (observers): clients that subscribe and record every delivery with a monotonic
//! timestamp. An actuator is the shared client's handshake plus its background reader
//! ([`crate::client::Reader`]: records, acknowledges, pings inside the keep-alive, awaitable
//! probes), or the same observer on rumqttc's stack; nothing a broker sends can make it invent or
//! lose an observation, and a broken observer is reported as such, never as a verdict.

use crate::client::handshake::{await_connack, Hello, Reply};
use crate::client::{Reader, Session};
use crate::client_settings::OBSERVER_CONNECT_TIMEOUT;
use crate::rumqttc_observer::{RumqttcObserver, RumqttcSpec};
use crate::transport::ClientStream;
use anyhow::{bail, Context};
use bytes::Bytes;
use lwt_codec::connection::Connection;
use lwt_codec::{Properties, ProtocolVersion, Publish, QoS, SubOptions};
use std::net::SocketAddr;
use tokio::time::Instant;

/// One PUBLISH an observer received (recorded by the client's reader).
pub use crate::client::Observation;

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

    /// Its CONNECT, built the one way every client's is.
    pub fn hello(&self) -> Hello<'_> {
        Hello {
            clean_start: self.clean_start,
            keep_alive: self.keep_alive,
            session_expiry: self.session_expiry,
            max_packet_size: self.max_packet_size,
            username: self.username.as_deref(),
            password: self.password.as_ref(),
            authentication: self.authentication.as_ref().map(|(method, data)| (method.as_str(), data)),
            ..Hello::new(&self.client_id, self.version)
        }
    }
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
    /// Our codec: the shared client's background reader.
    Codec(Reader),
    Rumqttc(RumqttcObserver),
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
        let (r, w) = tokio::io::split(stream);
        let (mut reader, mut writer) = (Connection::new(r), Connection::new(w));
        reader.set_version(spec.version);
        writer.set_version(spec.version);
        let hello = spec.hello();
        let written = writer.write_raw(&hello.to_bytes()).await;
        let who = format!("observer {}", spec.client_id);
        let ack = match await_connack(&mut reader, written, &who, OBSERVER_CONNECT_TIMEOUT).await? {
            Reply::Accepted(ack) => ack,
            Reply::Refused(ack) => bail!("{who} refused with code {:#04x}", ack.code),
            Reply::Closed(why) => bail!("{who}: connection closed without CONNACK: {why}"),
            Reply::Silent(t) => bail!("{who}: no CONNACK within {t:?}"),
        };
        let session = Session::negotiate(spec.version, &spec.client_id, spec.keep_alive, &ack);
        let session_present = session.session_present;
        Ok(Actuator { spec, session_present, link: Link::Codec(Reader::start(reader, writer, session)) })
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
        l.subscribe(vec![(filter.to_owned(), options)], properties)
            .await
            .with_context(|| format!("observer {}: subscribing to {filter}", self.spec.client_id))
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
            Link::Codec(l) => l.publish(p).await?,
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
        l.ping().await
    }

    /// Every observation so far.
    pub fn observations(&self) -> Vec<Observation> {
        match &self.link {
            Link::Codec(l) => l.observations(),
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
            Link::Codec(l) => l.broken(),
            Link::Rumqttc(r) => r.broken(),
        }
    }

    /// When the broker ended the connection cleanly (DISCONNECT or end of stream), so that every
    /// packet it sent before was observed. Only the harness's own stack can tell; rumqttc: `None`.
    pub fn closed_by_broker(&self) -> Option<Instant> {
        match &self.link {
            Link::Codec(l) => l.closed_by_broker(),
            Link::Rumqttc(_) => None,
        }
    }

    /// Waits until an observation satisfies `pred` or `deadline` passes.
    pub async fn wait_for(&self, pred: impl Fn(&Observation) -> bool + Send, deadline: Instant) -> Option<Observation> {
        let l = match &self.link {
            Link::Codec(l) => l,
            Link::Rumqttc(r) => return r.wait_for(pred, deadline).await,
        };
        l.wait_for(pred, deadline).await
    }

    /// Sends DISCONNECT 0x00 and stops.
    pub async fn disconnect(self) {
        match self.link {
            Link::Codec(l) => l.disconnect(None).await,
            Link::Rumqttc(r) => r.disconnect().await,
        }
    }
}

// Probes (absence and "only once" end with one) work alike on both stacks.
crate::client::reader::watching_by_inherent!(Actuator);

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
