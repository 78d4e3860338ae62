//! The byte stream a virtual client speaks over: plain TCP or TLS (rustls with the ring provider),
//! with faults that need the raw socket (RST) still reaching the TCP layer underneath.

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A client's connection to a broker (or to the fault proxy in front of it).
#[derive(Debug)]
pub enum ClientStream {
    /// Plain TCP with `TCP_NODELAY`.
    Tcp(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
    /// MQTT over a WebSocket (subprotocol `mqtt`), itself over TCP or TLS.
    Ws(Box<lwt_codec::ws::WsStream<ClientStream>>),
}

/// A client certificate chain and its key.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Leaf first, then intermediates (PEM file).
    pub cert_chain: PathBuf,
    /// Private key (PEM file).
    pub key: PathBuf,
}

/// How clients reach a TLS listener: trusted CA, server name, and an optional default identity.
#[derive(Clone, Debug)]
pub struct TlsClient {
    /// CA certificates to trust (PEM file; may hold several).
    pub ca: PathBuf,
    /// Name the server certificate must carry (e.g. `localhost`).
    pub server_name: String,
    /// Certificate presented by clients that have none of their own.
    pub identity: Option<Identity>,
    /// A CA (certificate and key) whose client certificates the target accepts: a load fleet with
    /// `certificates: per-device` gets one certificate per client from it.
    pub issuer: Option<Identity>,
}

fn load_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read certificates from {}", path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad PEM certificate in {}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "no certificate found in {}", path.display());
    Ok(certs)
}

impl TlsClient {
    /// The trusted CA certificates, loaded once for many client configurations.
    pub fn roots(&self) -> anyhow::Result<Arc<rustls::RootCertStore>> {
        let mut roots = rustls::RootCertStore::empty();
        for c in load_certs(&self.ca)? {
            roots.add(c).with_context(|| format!("CA certificate in {} is not usable", self.ca.display()))?;
        }
        Ok(Arc::new(roots))
    }

    /// A client configuration trusting `roots` and presenting `chain` (leaf first) with `key`.
    pub fn config_with(
        roots: Arc<rustls::RootCertStore>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .context("client certificate and key do not match")?;
        Ok(Arc::new(cfg))
    }

    /// A rustls client configuration for `identity` (or the default one).
    pub fn config(&self, identity: Option<&Identity>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots()?);
        let cfg = match identity.or(self.identity.as_ref()) {
            Some(id) => {
                let chain = load_certs(&id.cert_chain)?;
                let key = PrivateKeyDer::from_pem_file(&id.key)
                    .with_context(|| format!("cannot read private key {}", id.key.display()))?;
                builder.with_client_auth_cert(chain, key).context("client certificate and key do not match")?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(cfg))
    }

    /// Opens TCP to `addr` and completes the TLS handshake.
    pub async fn connect(&self, addr: SocketAddr, identity: Option<&Identity>) -> anyhow::Result<ClientStream> {
        self.connect_with(addr, self.config(identity)?).await
    }

    /// Opens TCP to `addr` and completes the TLS handshake with a prepared configuration.
    pub async fn connect_with(&self, addr: SocketAddr, cfg: Arc<rustls::ClientConfig>) -> anyhow::Result<ClientStream> {
        let tcp = TcpStream::connect(addr).await.with_context(|| format!("cannot connect to {addr}"))?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(self.server_name.clone()).with_context(|| format!("bad server name {:?}", self.server_name))?;
        let tls = tokio_rustls::TlsConnector::from(cfg)
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS handshake with {addr} ({}) failed", self.server_name))?;
        Ok(ClientStream::Tls(Box::new(tls)))
    }
}

/// Where clients connect: an address, and TLS settings when the target speaks TLS.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Address (the broker's, or the fault proxy's).
    pub addr: SocketAddr,
    /// TLS settings.
    pub tls: Option<Arc<TlsClient>>,
    /// MQTT over WebSockets on this path (`ws://` / `wss://` targets).
    pub ws: Option<Arc<str>>,
}

impl Endpoint {
    /// Plain TCP to `addr`.
    pub fn tcp(addr: SocketAddr) -> Self {
        Endpoint { addr, tls: None, ws: None }
    }
    /// The same endpoint reached through another address (the fault proxy).
    pub fn via(&self, addr: SocketAddr) -> Self {
        Endpoint { addr, tls: self.tls.clone(), ws: self.ws.clone() }
    }
    /// Opens a stream, with TLS if configured, upgraded to a WebSocket if the target speaks MQTT over
    /// WebSockets.
    pub async fn dial(&self, identity: Option<&Identity>) -> anyhow::Result<ClientStream> {
        let base = match &self.tls {
            Some(t) => t.connect(self.addr, identity).await?,
            None => ClientStream::connect_tcp(self.addr).await.with_context(|| format!("cannot connect to {}", self.addr))?,
        };
        match &self.ws {
            Some(path) => ClientStream::upgrade_ws(base, self.addr, path).await,
            None => Ok(base),
        }
    }
}

impl ClientStream {
    /// Opens a TCP connection with `TCP_NODELAY` on.
    pub async fn connect_tcp(addr: SocketAddr) -> io::Result<ClientStream> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(ClientStream::Tcp(s))
    }
    /// Upgrades `base` to a WebSocket on `path` offering subprotocol `mqtt` (MQTT-6.0.0-3), and
    /// checks the server selected it (MQTT-6.0.0-4).
    pub async fn upgrade_ws(base: ClientStream, addr: SocketAddr, path: &str) -> anyhow::Result<ClientStream> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://{addr}{path}").into_client_request().context("WebSocket request")?;
        req.headers_mut().insert("Sec-WebSocket-Protocol", tokio_tungstenite::tungstenite::http::HeaderValue::from_static("mqtt"));
        let (ws, resp) = tokio_tungstenite::client_async(req, base)
            .await
            .with_context(|| format!("WebSocket upgrade on {addr}{path} failed"))?;
        let chosen = resp.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok()).unwrap_or("");
        anyhow::ensure!(chosen == "mqtt", "the server at {addr}{path} selected subprotocol {chosen:?}, not \"mqtt\" (MQTT-6.0.0-4)");
        Ok(ClientStream::Ws(Box::new(lwt_codec::ws::WsStream::new(ws))))
    }
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ClientStream::Tcp(s) => s,
            ClientStream::Tls(s) => s.get_ref().0,
            ClientStream::Ws(s) => s.get_ref().tcp(),
        }
    }
    /// Whether MQTT runs over a WebSocket here.
    pub fn is_ws(&self) -> bool {
        matches!(self, ClientStream::Ws(_))
    }
    /// Sends FIN on the TCP socket itself, under any TLS or WebSocket layer (no close_notify, no
    /// close frame): the abrupt end a crashed client's kernel produces.
    pub fn fin_tcp(&self) -> io::Result<()> {
        socket2::SockRef::from(self.tcp()).shutdown(std::net::Shutdown::Write)
    }
    /// Local address (how the fault proxy recognises this client).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().local_addr()
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            ClientStream::Ws(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            ClientStream::Ws(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            ClientStream::Ws(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            ClientStream::Ws(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
