//! Fleet members and observers for load runs, on the shared client ([`crate::client`]). A member is
//! its lean form: the handshake every client does, after which only the socket, its index, its
//! keep-alive and when it last sent are kept (a load run holds 15,000 victims in one process: no
//! task, no buffer per member). An observer is the shared client with its background reader, on a
//! thread of its own for plain TCP so its timestamps are not held up by the fleet's tasks; it keeps
//! the observers' keep-alive (load runs have no profile: 60 s, or the broker's Server Keep Alive) and
//! pings at half of it, and ends every count with an awaitable probe.

use crate::client::handshake::{connect_lean, Hello};
use crate::client::reader::Watching;
use crate::client::{Client, Observation, Reader};
use crate::transport::{ClientStream, Endpoint, TlsClient};
use anyhow::{bail, Context};
use bytes::Bytes;
use lwt_codec::{Packet, Properties, Property, ProtocolVersion, QoS, SubOptions, Will};
use rustls::pki_types::pem::PemObject;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;
use tokio::time::Instant;

/// How long a CONNACK or SUBACK may take.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected victim: its socket and the little the run needs to know.
#[derive(Debug)]
pub struct Member {
    /// Index in the whole fleet (shards share one numbering).
    pub index: u32,
    /// Keep-alive it connected with (the broker's Server Keep Alive when it sent one).
    pub keep_alive: u16,
    /// The socket.
    pub stream: ClientStream,
    /// When CONNECT was sent (the broker's keep-alive clock cannot start earlier).
    pub last_sent: Instant,
}

/// What a member's CONNECT carries: the engine's sensor spec (fleet members send no credentials).
pub use crate::sensor::SensorSpec as MemberConnect;

/// A will with an optional delay (5.0).
pub fn will(topic: String, payload: String, qos: u8, retain: bool, delay: u32, version: ProtocolVersion) -> Will {
    let mut properties = Properties::new();
    if delay > 0 && version.is_v5() {
        properties.push(Property::WillDelayInterval(delay));
    }
    Will { topic, payload: Bytes::from(payload), qos: QoS::from_u8(qos).unwrap_or(QoS::AtMostOnce), retain, properties }
}

/// Writes `bytes` and flushes: over WebSockets a write only queues a frame, which leaves on flush
/// (over TCP and TLS the flush costs nothing), so every load client sends through here.
pub(crate) async fn send<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

/// Opens a stream to `endpoint`, from `source` when given (plain TCP only).
pub async fn dial(endpoint: &Endpoint, source: Option<IpAddr>) -> anyhow::Result<ClientStream> {
    if endpoint.tls.is_some() || source.is_none() {
        return endpoint.dial(None).await;
    }
    let addr = endpoint.addr;
    let sock = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(ip) = source {
        sock.bind(SocketAddr::new(ip, 0)).with_context(|| format!("cannot bind source address {ip}"))?;
    }
    let s = sock.connect(addr).await.with_context(|| format!("cannot connect to {addr}"))?;
    s.set_nodelay(true)?;
    Ok(ClientStream::Tcp(s))
}

/// One certificate per client id (common name = the id), issued by the target's issuing CA.
pub fn device_certificates(tls: &TlsClient, ids: &[String]) -> anyhow::Result<(crate::pki::Authority, Vec<crate::pki::Issued>)> {
    let issuer = tls.issuer.as_ref().context(
        "fleet.certificates is `per-device` but the target has no issuing CA (use --launch mosquitto-tls or embedded-tls)",
    )?;
    let ca = crate::pki::Authority::load(&issuer.cert_chain, &issuer.key)?;
    let certs = ids
        .iter()
        .map(|id| ca.issue(&crate::pki::LeafSpec::new("device").cn(id.as_str())).with_context(|| format!("cannot issue a certificate for {id}")))
        .collect::<anyhow::Result<_>>()?;
    Ok((ca, certs))
}

/// One TLS client configuration per client id, each presenting its own certificate
/// ([`device_certificates`]) with the issuing CA's certificate as the chain.
pub fn device_configs(tls: &TlsClient, ids: &[String]) -> anyhow::Result<Vec<Arc<rustls::ClientConfig>>> {
    let (ca, certs) = device_certificates(tls, ids)?;
    let ca_der = rustls::pki_types::CertificateDer::from(ca.cert.der.clone());
    let roots = tls.roots()?;
    ids.iter()
        .zip(certs)
        .map(|(id, cert)| {
            let chain = vec![rustls::pki_types::CertificateDer::from(cert.der), ca_der.clone()];
            let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes())
                .with_context(|| format!("key of {id}'s certificate"))?;
            TlsClient::config_with(roots.clone(), chain, key)
        })
        .collect()
}

/// Connects a member: CONNECT, then CONNACK code 0 within [`REPLY_TIMEOUT`] (the shared handshake's
/// lean form; a Server Keep Alive replaces the member's own).
pub async fn connect_member(
    endpoint: &Endpoint,
    source: Option<IpAddr>,
    index: u32,
    c: &MemberConnect,
    device: Option<Arc<rustls::ClientConfig>>,
) -> anyhow::Result<Member> {
    let stream = match (&endpoint.tls, device) {
        (Some(tls), Some(cfg)) => tls.connect_with(endpoint.addr, cfg).await?,
        _ => dial(endpoint, source).await?,
    };
    let (stream, session, last_sent) = connect_lean(stream, &c.hello(), REPLY_TIMEOUT).await?;
    Ok(Member { index, keep_alive: session.keep_alive, stream, last_sent })
}

impl Member {
    /// Writes `bytes` (one or more encoded packets) and notes when: the base of its keep-alive.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        send(&mut self.stream, bytes).await?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// PINGREQ when the member has been silent for half its keep-alive, so the broker never ends it
    /// for silence. The PINGRESP is left unread (two bytes; reading would cost a buffer per member).
    pub async fn keep_alive_if_idle(&mut self, version: ProtocolVersion) -> std::io::Result<()> {
        match crate::client_settings::ping_interval(self.keep_alive) {
            Some(every) if self.last_sent.elapsed() >= every => self.send(&Packet::PingReq.to_bytes(version)).await,
            _ => Ok(()),
        }
    }

    /// DISCONNECT 0x00 (5.0: with Session Expiry 0 so nothing lingers), then FIN.
    async fn goodbye(&mut self, version: ProtocolVersion) {
        let mut d = lwt_codec::Disconnect::new(0);
        if version.is_v5() {
            d.properties.push(Property::SessionExpiryInterval(0));
        }
        let _ = self.send(&Packet::Disconnect(d).to_bytes(version)).await;
        let _ = self.stream.shutdown().await;
    }
}

/// Ends a member normally: DISCONNECT 0x00 (5.0: with Session Expiry 0 so nothing lingers) and close.
pub async fn disconnect_normally(mut m: Member, version: ProtocolVersion) {
    m.goodbye(version).await;
}

/// [`disconnect_normally`], then waits (at most `within`) until the broker closes its side: only then
/// has it handled the DISCONNECT, so a next connection with the same id (which the broker may see
/// first) cannot take over the old one and fire its will.
pub async fn disconnect_and_wait(mut m: Member, version: ProtocolVersion, within: Duration) {
    use tokio::io::AsyncReadExt;
    m.goodbye(version).await;
    let mut buf = [0u8; 256];
    let _ = tokio::time::timeout(within, async {
        while let Ok(n) = m.stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// One PUBLISH an observer decoded (the shared reader's record).
pub type Receipt = Observation;

/// A running observer: the shared client and its background reader.
pub struct Observer {
    /// Client id.
    pub client_id: String,
    /// Topic its probe goes to.
    pub probe_topic: String,
    reader: Reader,
}

impl Observer {
    /// Connects (clean start, the observers' keep-alive, which its reader pings to keep), starts
    /// recording, and subscribes to `filters` at `qos` and to its probe topic in one SUBSCRIBE.
    pub async fn start(
        endpoint: &Endpoint,
        client_id: String,
        version: ProtocolVersion,
        filters: &[String],
        qos: u8,
    ) -> anyhow::Result<Observer> {
        let stream = endpoint.dial(None).await.with_context(|| format!("observer {client_id} cannot connect"))?;
        let hello = Hello { keep_alive: crate::client_settings::OBSERVER_KEEP_ALIVE, ..Hello::new(&client_id, version) };
        let client = Client::connect(stream, &hello, REPLY_TIMEOUT)
            .await?
            .accepted()
            .map_err(|e| anyhow::anyhow!("observer {client_id}: {e}"))?;
        let session = client.session.clone();
        // Clean start and nothing subscribed yet: nothing can be buffered after the CONNACK.
        let reader = Reader::start_on_own_thread(client.into_connection(), session).await?;
        let probe_topic = format!("lwt-load/probe/{client_id}");
        let q = QoS::from_u8(qos).unwrap_or(QoS::AtMostOnce);
        let mut all: Vec<(String, SubOptions)> = filters.iter().map(|f| (f.clone(), SubOptions::qos(q))).collect();
        all.push((probe_topic.clone(), SubOptions::qos(QoS::AtMostOnce)));
        let codes = reader.subscribe(all, Properties::new()).await?;
        if let Some(bad) = codes.iter().find(|c| **c >= 0x80) {
            bail!("observer {client_id}: subscription refused with code {bad:#04x}");
        }
        Ok(Observer { client_id, probe_topic, reader })
    }

    /// PUBLISH packets received so far (wills and probes).
    pub fn received(&self) -> u64 {
        self.reader.received() as u64
    }

    /// Receipts from `from` on (returns them and the new cursor).
    pub fn since(&self, from: usize) -> (Vec<Receipt>, usize) {
        self.reader.since(from)
    }

    /// Why the observer stopped, if it did.
    pub fn broken(&self) -> Option<String> {
        self.reader.broken()
    }

    /// Publishes a unique probe to itself through the broker and waits until it comes back: proof
    /// that the observer was connected and subscribed up to now.
    pub async fn probe(&self, within: Duration) -> anyhow::Result<Instant> {
        self.reader.probe(&self.probe_topic, within).await.map_err(|why| anyhow::anyhow!("observer {}: {why}", self.client_id))
    }

    /// Sends DISCONNECT 0x00 and stops.
    pub async fn stop(self) {
        self.reader.disconnect(None).await;
    }
}
