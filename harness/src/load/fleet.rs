//! Lean fleet members and observers for load runs. A [`crate::sensor::Sensor`] is right for one
//! exact fault but costs a `Connection` with its buffers per client; a load run holds 15,000 victims
//! in one process, so a member here is just its socket, its id and when it last sent. Observers are
//! one task each that decodes with the shared codec, timestamps every PUBLISH with `Instant` as it is
//! decoded, and acknowledges QoS 1/2 in one write per read.

use crate::transport::{ClientStream, Endpoint, TlsClient};
use rustls::pki_types::pem::PemObject;
use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use lwt_codec::{
    decode_frame, read_frame, Connect, Packet, Properties, Property, ProtocolVersion, PubResp, Publish, QoS, SubOptions,
    Subscribe, Will,
};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
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

/// Reads one packet from a stream into `buf` (keeping what follows it).
async fn read_one(stream: &mut ClientStream, buf: &mut BytesMut, version: ProtocolVersion) -> anyhow::Result<Packet> {
    loop {
        if let Some(frame) = read_frame(buf, 1 << 20)? {
            return Ok(decode_frame(&frame, version)?);
        }
        let n = stream.read_buf(buf).await?;
        if n == 0 {
            bail!("connection closed by the broker");
        }
    }
}

/// Connects a member: CONNECT, then CONNACK code 0 within [`REPLY_TIMEOUT`].
pub async fn connect_member(
    endpoint: &Endpoint,
    source: Option<IpAddr>,
    index: u32,
    c: &MemberConnect,
    device: Option<Arc<rustls::ClientConfig>>,
) -> anyhow::Result<Member> {
    let mut stream = match (&endpoint.tls, device) {
        (Some(tls), Some(cfg)) => tls.connect_with(endpoint.addr, cfg).await?,
        _ => dial(endpoint, source).await?,
    };
    let bytes = Packet::Connect(c.to_connect()).to_bytes(c.version);
    let last_sent = Instant::now();
    send(&mut stream, &bytes).await?;
    let mut buf = BytesMut::with_capacity(64);
    let ack = tokio::time::timeout(REPLY_TIMEOUT, read_one(&mut stream, &mut buf, c.version))
        .await
        .map_err(|_| anyhow::anyhow!("{}: no CONNACK within {REPLY_TIMEOUT:?}", c.client_id))??;
    let mut keep_alive = c.keep_alive;
    match ack {
        Packet::ConnAck(a) if a.code == 0 => {
            for p in a.properties.0.iter() {
                if let Property::ServerKeepAlive(k) = p {
                    keep_alive = *k;
                }
            }
        }
        Packet::ConnAck(a) => bail!("{}: CONNECT refused with code {:#04x}", c.client_id, a.code),
        other => bail!("{}: expected CONNACK, got {}", c.client_id, other.name()),
    }
    Ok(Member { index, keep_alive, stream, last_sent })
}

/// Ends a member normally: DISCONNECT 0x00 (5.0: with Session Expiry 0 so nothing lingers) and close.
pub async fn disconnect_normally(mut m: Member, version: ProtocolVersion) {
    let mut d = lwt_codec::Disconnect::new(0);
    if version.is_v5() {
        d.properties.push(Property::SessionExpiryInterval(0));
    }
    let _ = send(&mut m.stream, &Packet::Disconnect(d).to_bytes(version)).await;
    let _ = m.stream.shutdown().await;
}

/// One PUBLISH an observer decoded.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// When it was decoded.
    pub at: Instant,
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Bytes,
}

/// A running observer.
pub struct Observer {
    /// Client id.
    pub client_id: String,
    /// Topic its probe goes to.
    pub probe_topic: String,
    log: Arc<Mutex<Vec<Receipt>>>,
    received: Arc<AtomicU64>,
    broken: Arc<Mutex<Option<String>>>,
    out: mpsc::Sender<Packet>,
    /// The reader task for TLS observers; plain TCP observers run on their own thread, which ends when
    /// `out` is dropped or DISCONNECT is sent.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Observer {
    /// Connects (keep-alive 0, clean start), subscribes to `filters` at `qos` and to its probe topic,
    /// and starts recording.
    pub async fn start(
        endpoint: &Endpoint,
        client_id: String,
        version: ProtocolVersion,
        filters: &[String],
        qos: u8,
    ) -> anyhow::Result<Observer> {
        let mut stream = endpoint.dial(None).await.with_context(|| format!("observer {client_id} cannot connect"))?;
        let mut c = Connect::new(version, client_id.clone());
        c.keep_alive = 0;
        send(&mut stream, &Packet::Connect(c).to_bytes(version)).await?;
        let mut buf = BytesMut::with_capacity(4096);
        match tokio::time::timeout(REPLY_TIMEOUT, read_one(&mut stream, &mut buf, version)).await {
            Ok(Ok(Packet::ConnAck(a))) if a.code == 0 => {}
            Ok(Ok(other)) => bail!("observer {client_id}: expected CONNACK 0, got {other:?}"),
            Ok(Err(e)) => bail!("observer {client_id}: {e}"),
            Err(_) => bail!("observer {client_id}: no CONNACK"),
        }
        let probe_topic = format!("lwt-load/probe/{client_id}");
        let q = QoS::from_u8(qos).unwrap_or(QoS::AtMostOnce);
        let mut all: Vec<(String, SubOptions)> = filters.iter().map(|f| (f.clone(), SubOptions::qos(q))).collect();
        all.push((probe_topic.clone(), SubOptions::qos(QoS::AtMostOnce)));
        let sub = Subscribe { packet_id: 1, properties: Properties::new(), filters: all };
        send(&mut stream, &Packet::Subscribe(sub).to_bytes(version)).await?;
        match tokio::time::timeout(REPLY_TIMEOUT, read_one(&mut stream, &mut buf, version)).await {
            Ok(Ok(Packet::SubAck(a))) => {
                if let Some(bad) = a.codes.iter().find(|c| **c >= 0x80) {
                    bail!("observer {client_id}: subscription refused with code {bad:#04x}");
                }
            }
            Ok(Ok(other)) => bail!("observer {client_id}: expected SUBACK, got {}", other.name()),
            Ok(Err(e)) => bail!("observer {client_id}: {e}"),
            Err(_) => bail!("observer {client_id}: no SUBACK"),
        }
        let log: Arc<Mutex<Vec<Receipt>>> = Arc::default();
        let received = Arc::new(AtomicU64::new(0));
        let broken: Arc<Mutex<Option<String>>> = Arc::default();
        let (out, rx) = mpsc::channel(16);
        let (l2, r2, b2) = (log.clone(), received.clone(), broken.clone());
        let task = match stream {
            // Plain TCP: the observer gets its own thread and runtime, so its timestamps are not held
            // up by the fleet's tasks (tens of thousands of closes compete for the shared workers).
            ClientStream::Tcp(tcp) => {
                let std_stream = tcp.into_std()?;
                std::thread::Builder::new().name(format!("observer-{client_id}")).spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                        Ok(rt) => rt,
                        Err(e) => {
                            *b2.lock().unwrap() = Some(format!("observer runtime: {e}"));
                            return;
                        }
                    };
                    rt.block_on(async move {
                        match tokio::net::TcpStream::from_std(std_stream) {
                            Ok(t) => observe(ClientStream::Tcp(t), buf, version, rx, l2, r2, b2).await,
                            Err(e) => *b2.lock().unwrap() = Some(format!("observer socket: {e}")),
                        }
                    });
                })?;
                None
            }
            tls => Some(tokio::spawn(observe(tls, buf, version, rx, l2, r2, b2))),
        };
        Ok(Observer { client_id, probe_topic, log, received, broken, out, task })
    }

    /// PUBLISH packets received so far (wills and probes).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Receipts from `from` on (returns them and the new cursor).
    pub fn since(&self, from: usize) -> (Vec<Receipt>, usize) {
        let log = self.log.lock().unwrap();
        let from = from.min(log.len());
        (log[from..].to_vec(), log.len())
    }

    /// Why the observer stopped, if it did.
    pub fn broken(&self) -> Option<String> {
        self.broken.lock().unwrap().clone()
    }

    /// Publishes a probe to itself through the broker and waits until it comes back: proof that the
    /// observer was connected and subscribed up to now.
    pub async fn probe(&self, within: Duration) -> anyhow::Result<Instant> {
        let nonce = crate::verdict::probe_nonce();
        let p = Publish::new(self.probe_topic.clone(), nonce.clone());
        self.out.send(Packet::Publish(p)).await.map_err(|_| anyhow::anyhow!("observer {} has stopped", self.client_id))?;
        let deadline = Instant::now() + within;
        let mut cursor = 0;
        loop {
            let (new, next) = self.since(cursor);
            cursor = next;
            if let Some(r) = new.iter().find(|r| r.topic == self.probe_topic && r.payload == nonce.as_bytes()) {
                return Ok(r.at);
            }
            if let Some(why) = self.broken() {
                bail!("observer {} broke: {why}", self.client_id);
            }
            if Instant::now() > deadline {
                bail!("observer {}: its probe did not come back within {within:?}", self.client_id);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sends DISCONNECT 0x00 and stops.
    pub async fn stop(mut self) {
        let _ = self.out.send(Packet::Disconnect(lwt_codec::Disconnect::new(0))).await;
        if let Some(t) = &mut self.task {
            let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

async fn observe(
    mut stream: ClientStream,
    mut buf: BytesMut,
    version: ProtocolVersion,
    mut rx: mpsc::Receiver<Packet>,
    log: Arc<Mutex<Vec<Receipt>>>,
    received: Arc<AtomicU64>,
    broken: Arc<Mutex<Option<String>>>,
) {
    let mut acks = BytesMut::new();
    let mut batch = Vec::new();
    loop {
        // Decode everything buffered, timestamping each PUBLISH as it is decoded.
        loop {
            match read_frame(&mut buf, 1 << 20) {
                Ok(Some(frame)) => match decode_frame(&frame, version) {
                    Ok(Packet::Publish(p)) => {
                        let at = Instant::now();
                        match (p.qos, p.packet_id) {
                            (QoS::AtLeastOnce, Some(id)) => Packet::PubAck(PubResp::new(id)).encode(version, &mut acks),
                            (QoS::ExactlyOnce, Some(id)) => Packet::PubRec(PubResp::new(id)).encode(version, &mut acks),
                            _ => {}
                        }
                        batch.push(Receipt { at, topic: p.topic, payload: p.payload });
                    }
                    Ok(Packet::PubRel(r)) => Packet::PubComp(PubResp::new(r.packet_id)).encode(version, &mut acks),
                    Ok(Packet::Disconnect(d)) => {
                        *broken.lock().unwrap() = Some(format!("broker sent DISCONNECT {:#04x}", d.reason));
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        *broken.lock().unwrap() = Some(format!("undecodable packet: {e}"));
                        return;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    *broken.lock().unwrap() = Some(format!("bad frame: {e}"));
                    return;
                }
            }
        }
        if !batch.is_empty() {
            received.fetch_add(batch.len() as u64, Ordering::Relaxed);
            log.lock().unwrap().append(&mut batch);
        }
        if !acks.is_empty() {
            if let Err(e) = send(&mut stream, &acks).await {
                *broken.lock().unwrap() = Some(format!("ack write failed: {e}"));
                return;
            }
            acks.clear();
        }
        tokio::select! {
            r = stream.read_buf(&mut buf) => match r {
                Ok(0) => {
                    *broken.lock().unwrap() = Some("broker closed the observer's connection".into());
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    *broken.lock().unwrap() = Some(format!("read failed: {e}"));
                    return;
                }
            },
            cmd = rx.recv() => match cmd {
                Some(p) => {
                    let last = matches!(p, Packet::Disconnect(_));
                    if send(&mut stream, &p.to_bytes(version)).await.is_err() && !last {
                        *broken.lock().unwrap() = Some("observer write failed".into());
                        return;
                    }
                    if last {
                        let _ = stream.shutdown().await;
                        return;
                    }
                }
                None => return,
            }
        }
    }
}
