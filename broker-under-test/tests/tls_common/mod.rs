//! TLS test fixtures shared by the Event Grid socket tests (`tls_eventgrid`, `security`,
//! `tls_stress`): a generated PKI, a raw MQTT client over TLS on the shared codec, and the seeds'
//! sensors-and-actuators namespace with a prober.
#![allow(dead_code)]

use bytes::Bytes;
use lwt_broker::codec::*;
use lwt_broker::connection::{Connection, ReadError};
use lwt_broker::eventgrid::Namespace;
use lwt_broker::{BrokerHandle, Config, Listeners, TlsOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::client::TlsStream;

pub const WAIT: Duration = Duration::from_secs(3);

// ------------------------------------------------------------------ certificates

/// A certificate and its key, PEM.
pub struct Cert {
    pub pem: String,
    pub key: String,
    pub der: Vec<u8>,
}

impl Cert {
    pub fn thumbprint(&self) -> String {
        ring::digest::digest(&ring::digest::SHA256, &self.der).as_ref().iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02X}");
            s
        })
    }
}

pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: CertifiedIssuer<'static, KeyPair>,
    pub ca_pem: String,
    pub server: Cert,
}

pub fn leaf_params(cn: &str, sans: Vec<SanType>, client: bool) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.subject_alt_names = sans;
    p.extended_key_usages =
        vec![if client { ExtendedKeyUsagePurpose::ClientAuth } else { ExtendedKeyUsagePurpose::ServerAuth }];
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(2);
    p
}

impl Pki {
    pub fn new() -> Pki {
        let mut cp = CertificateParams::new(Vec::<String>::new()).unwrap();
        cp.distinguished_name.push(DnType::CommonName, "test root");
        cp.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(cp, KeyPair::generate().unwrap()).unwrap();
        let ca_pem = ca.pem();
        let key = KeyPair::generate().unwrap();
        let sp = leaf_params("localhost", vec![SanType::IpAddress([127, 0, 0, 1].into())], false);
        let c = sp.signed_by(&key, &*ca).unwrap();
        let server = Cert { pem: c.pem(), key: key.serialize_pem(), der: c.der().to_vec() };
        Pki { dir: tempfile::tempdir().unwrap(), ca, ca_pem, server }
    }

    pub fn client(&self, cn: &str) -> Cert {
        let key = KeyPair::generate().unwrap();
        let c = leaf_params(cn, vec![], true).signed_by(&key, &*self.ca).unwrap();
        Cert { pem: c.pem(), key: key.serialize_pem(), der: c.der().to_vec() }
    }

    pub fn self_signed(cn: &str) -> Cert {
        let key = KeyPair::generate().unwrap();
        let c = leaf_params(cn, vec![], true).self_signed(&key).unwrap();
        Cert { pem: c.pem(), key: key.serialize_pem(), der: c.der().to_vec() }
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn tls_options(&self, client_ca: bool) -> TlsOptions {
        TlsOptions {
            cert_chain: self.write("server.pem", &self.server.pem),
            key: self.write("server.key", &self.server.key),
            client_ca: client_ca.then(|| self.write("ca.pem", &self.ca_pem)),
        }
    }

    pub async fn broker(&self, cfg: Config, client_ca: bool) -> BrokerHandle {
        let listeners = Listeners {
            tcp: vec!["127.0.0.1:0".parse().unwrap()],
            tls: vec!["127.0.0.1:0".parse().unwrap()],
            tls_options: Some(self.tls_options(client_ca)),
            ..Listeners::default()
        };
        lwt_broker::start_with(cfg, listeners).await.expect("broker starts")
    }

    pub fn client_config(&self, identity: Option<&Cert>) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap()).unwrap();
        let b = rustls::ClientConfig::builder_with_provider(lwt_broker::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        Arc::new(match identity {
            Some(c) => b
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(c.pem.as_bytes()).unwrap()],
                    PrivateKeyDer::from_pem_slice(c.key.as_bytes()).unwrap(),
                )
                .unwrap(),
            None => b.with_no_client_auth(),
        })
    }
}

// ------------------------------------------------------------------ a raw MQTT client over TLS

pub struct Client {
    pub conn: Connection<TlsStream<TcpStream>>,
    pub next_pid: u16,
}

#[derive(Debug)]
pub enum Recv {
    Packet(Packet),
    Closed,
    Timeout,
}

impl Client {
    /// TLS handshake only; `Err` when the server refuses it.
    pub async fn open(pki: &Pki, addr: SocketAddr, identity: Option<&Cert>, v: ProtocolVersion) -> std::io::Result<Client> {
        let tcp = TcpStream::connect(addr).await?;
        let connector = tokio_rustls::TlsConnector::from(pki.client_config(identity));
        let tls = connector.connect(ServerName::try_from("127.0.0.1").unwrap(), tcp).await?;
        let mut conn = Connection::new(tls);
        conn.set_version(v);
        Ok(Client { conn, next_pid: 0 })
    }

    pub async fn connect(pki: &Pki, addr: SocketAddr, identity: Option<&Cert>, c: Connect) -> (Client, ConnAck) {
        let mut t = Client::open(pki, addr, identity, c.protocol).await.expect("TLS handshake");
        t.send(Packet::Connect(c)).await;
        match t.recv(WAIT).await {
            Recv::Packet(Packet::ConnAck(a)) => (t, a),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    pub async fn connected(pki: &Pki, addr: SocketAddr, identity: Option<&Cert>, c: Connect) -> Client {
        let (t, ack) = Client::connect(pki, addr, identity, c).await;
        assert_eq!(ack.code, 0, "CONNACK refused: {ack:?}");
        t
    }

    pub async fn send(&mut self, p: Packet) {
        self.conn.write_packet(&p).await.expect("write");
    }

    pub async fn recv(&mut self, within: Duration) -> Recv {
        match timeout(within, self.conn.read_packet()).await {
            Err(_) => Recv::Timeout,
            Ok(Ok(Some(p))) => Recv::Packet(p),
            Ok(Ok(None)) | Ok(Err(ReadError::Io(_))) | Ok(Err(ReadError::EofInPacket(_))) => Recv::Closed,
            Ok(Err(e)) => panic!("undecodable packet from the broker: {e}"),
        }
    }

    pub fn pid(&mut self) -> u16 {
        self.next_pid += 1;
        self.next_pid
    }

    pub async fn subscribe(&mut self, filter: &str) -> u8 {
        let pid = self.pid();
        let s = Subscribe {
            packet_id: pid,
            properties: Properties::new(),
            filters: vec![(filter.into(), SubOptions { qos: QoS::AtLeastOnce, ..Default::default() })],
        };
        self.send(Packet::Subscribe(s)).await;
        match self.recv(WAIT).await {
            Recv::Packet(Packet::SubAck(a)) => a.codes[0],
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    pub async fn publish(&mut self, topic: &str, payload: &str, qos: QoS) -> Option<u8> {
        let mut p = Publish::new(topic, Bytes::from(payload.to_owned()));
        p.qos = qos;
        if qos != QoS::AtMostOnce {
            p.packet_id = Some(self.pid());
        }
        self.send(Packet::Publish(p)).await;
        if qos == QoS::AtMostOnce {
            return None;
        }
        match self.recv(WAIT).await {
            Recv::Packet(Packet::PubAck(a)) => Some(a.reason),
            other => panic!("expected PUBACK, got {other:?}"),
        }
    }

    /// The next PUBLISH (acknowledged), or `None` when nothing arrives within `within`.
    pub async fn next_publish(&mut self, within: Duration) -> Option<Publish> {
        match self.recv(within).await {
            Recv::Packet(Packet::Publish(p)) => {
                if let Some(pid) = p.packet_id {
                    self.send(Packet::PubAck(PubResp::new(pid))).await;
                }
                Some(p)
            }
            Recv::Timeout => None,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Proves this subscriber is live and that nothing else reached it before: `probe_topic` is
    /// published by `prober`, and the very next packet here must be that probe.
    pub async fn expect_only_probe(&mut self, prober: &mut Client, probe_topic: &str) {
        prober.publish(probe_topic, "probe", QoS::AtLeastOnce).await;
        let p = self.next_publish(WAIT).await.expect("the probe reaches a live subscriber");
        assert_eq!((p.topic.as_str(), &p.payload[..]), (probe_topic, &b"probe"[..]), "something arrived before the probe");
    }

    pub async fn expect_closed(&mut self) -> Option<u8> {
        let mut code = None;
        loop {
            match self.recv(WAIT).await {
                Recv::Packet(Packet::Disconnect(d)) => code = Some(d.reason),
                Recv::Closed => return code,
                other => panic!("expected the connection to close, got {other:?}"),
            }
        }
    }
}

pub fn connect(v: ProtocolVersion, id: &str, user: Option<&str>) -> Connect {
    let mut c = Connect::new(v, id);
    c.username = user.map(str::to_owned);
    c
}

pub fn with_will(mut c: Connect, topic: &str, payload: &str) -> Connect {
    c.will = Some(Will {
        topic: topic.into(),
        payload: Bytes::from(payload.to_owned()),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties::new(),
    });
    c
}

// ------------------------------------------------------------------ the seeds' namespace

pub struct Walkthrough {
    pub pki: Pki,
    pub sensor1: Cert,
    pub sensor2: Cert,
    pub actuator1: Cert,
    pub actuator2: Cert,
    pub prober: Cert,
}

impl Walkthrough {
    pub fn new() -> Walkthrough {
        Walkthrough {
            pki: Pki::new(),
            sensor1: Pki::self_signed("sensor1"),
            sensor2: Pki::self_signed("sensor2"),
            actuator1: Pki::self_signed("actuator1"),
            actuator2: Pki::self_signed("actuator2"),
            prober: Pki::self_signed("prober"),
        }
    }

    /// The seeds' set-up, plus a `prober` client allowed to publish anywhere under `probe/`.
    pub fn namespace_yaml(&self, settings: &str) -> String {
        let client = |name: &str, ty: &str, c: &Cert| {
            format!(
                "  - name: {name}\n    authenticationName: {name}\n    attributes:\n      type: {ty}\n    \
                 clientCertificateAuthentication:\n      validationScheme: ThumbprintMatch\n      allowedThumbprints: [\"{}\"]\n",
                c.thumbprint()
            )
        };
        let mut y = format!("name: seeds\n{settings}clients:\n");
        y += &client("sensor1", "sensor", &self.sensor1);
        y += &client("sensor2", "sensor", &self.sensor2);
        y += &client("actuator1", "actuator", &self.actuator1);
        y += &client("actuator2", "actuator", &self.actuator2);
        y += &client("prober", "prober", &self.prober);
        y += r#"clientGroups:
  - name: sensors
    query: attributes.type = "sensor"
  - name: actuators
    query: attributes.type = "actuator"
  - name: probers
    query: attributes.type IN ["prober"]
topicSpaces:
  - name: lwtPub
    topicTemplates: ["clients/${client.authenticationName}/status"]
  - name: lwtSub
    topicTemplates: ["clients/+/status"]
  - name: probes
    topicTemplates: ["probe/#"]
permissionBindings:
  - name: sensorsPub
    clientGroupName: sensors
    topicSpaceName: lwtPub
    permission: Publisher
  - name: actuatorsSub
    clientGroupName: actuators
    topicSpaceName: lwtSub
    permission: Subscriber
  - name: actuatorsProbe
    clientGroupName: actuators
    topicSpaceName: probes
    permission: Subscriber
  - name: probersPub
    clientGroupName: probers
    topicSpaceName: probes
    permission: Publisher
"#;
        y
    }

    pub async fn broker(&self, settings: &str) -> BrokerHandle {
        self.broker_with(settings, Config::eventgrid()).await
    }

    /// The namespace with `settings` on a broker with `cfg` (e.g. the profile with a shorter
    /// keep-alive maximum, so a test can wait for it).
    pub async fn broker_with(&self, settings: &str, mut cfg: Config) -> BrokerHandle {
        let ns = Namespace::parse(&self.namespace_yaml(settings), "seeds.yaml").expect("namespace parses");
        cfg.apply_namespace(ns);
        self.pki.broker(cfg, false).await
    }

    pub async fn client(&self, b: &BrokerHandle, name: &str, c: Connect) -> (Client, ConnAck) {
        let cert = self.cert(name);
        Client::connect(&self.pki, b.tls_addrs()[0], Some(cert), c).await
    }

    pub async fn connected(&self, b: &BrokerHandle, name: &str, v: ProtocolVersion) -> Client {
        let cert = self.cert(name);
        Client::connected(&self.pki, b.tls_addrs()[0], Some(cert), connect(v, name, Some(name))).await
    }

    pub fn cert(&self, name: &str) -> &Cert {
        match name {
            "sensor1" => &self.sensor1,
            "sensor2" => &self.sensor2,
            "actuator1" => &self.actuator1,
            "actuator2" => &self.actuator2,
            "prober" => &self.prober,
            other => panic!("no certificate for {other}"),
        }
    }

    pub async fn actuator(&self, b: &BrokerHandle, name: &str) -> Client {
        let mut a = self.connected(b, name, ProtocolVersion::V5).await;
        assert_eq!(a.subscribe("clients/+/status").await, 1, "{name} may subscribe to clients/+/status");
        assert_eq!(a.subscribe("probe/#").await, 1);
        a
    }
}

// ------------------------------------------------------------------ events files and webhooks

/// Every JSON line of an events file (life-cycle events, routed messages).
pub fn read_events(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}"))).collect()
}

/// The events once at least `n` are in the file (or what is there after 3 s).
pub async fn wait_for_events(path: &std::path::Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = read_events(path);
        if ev.len() >= n || tokio::time::Instant::now() > deadline {
            return ev;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}


/// (Content-Type, body) of every request a [`webhook_sink`] got.
pub type Requests = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// An HTTP endpoint (hyper, HTTP/1.1) that answers 204 and keeps every request's body and its
/// Content-Type, for the webhook tests (life-cycle events, routing).
pub async fn webhook_sink() -> (std::net::SocketAddr, Requests) {
    use http_body_util::BodyExt;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let got: Requests = Default::default();
    let keep = got.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = l.accept().await {
            let keep = keep.clone();
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let keep = keep.clone();
                async move {
                    let ty = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let body = req.into_body().collect().await?.to_bytes();
                    keep.lock().unwrap().push((ty, String::from_utf8_lossy(&body).into_owned()));
                    let mut answer = hyper::Response::new(http_body_util::Empty::<bytes::Bytes>::new());
                    *answer.status_mut() = hyper::StatusCode::NO_CONTENT;
                    Ok::<_, hyper::Error>(answer)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
        }
    });
    (addr, got)
}
