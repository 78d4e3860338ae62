//! Accept loops. Each accepted stream gets `TCP_NODELAY` and its own connection task; the transport
//! is a [`crate::client::Stream`], so TLS can plug in here without touching the rest.

use crate::client;
use crate::config::Config;
use crate::core::Event;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

/// Accepts TCP connections on `listener` until `stop` changes.
pub async fn run_tcp(
    listener: TcpListener,
    cfg: Arc<Config>,
    core: mpsc::Sender<Event>,
    ids: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
) {
    accept_loop(listener, "tcp", ids, stop, move |stream, peer, id| {
        tokio::spawn(client::serve_tcp(stream, peer, id, cfg.clone(), core.clone()));
    })
    .await
}

/// Accepts TLS connections on `listener` until `stop` changes. Each handshake runs in the
/// connection's own task (bounded by the connect timeout), so a slow client never blocks accepting.
pub async fn run_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    cfg: Arc<Config>,
    core: mpsc::Sender<Event>,
    ids: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
) {
    accept_loop(listener, "tls", ids, stop, move |stream, peer, id| {
        let (acceptor, cfg, core) = (acceptor.clone(), cfg.clone(), core.clone());
        tokio::spawn(async move {
            let limit = Duration::from_secs(cfg.connect_timeout_secs);
            let tls = match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return info!(conn = id, %peer, "TLS handshake failed: {e}"),
                Err(_) => return debug!(conn = id, %peer, "TLS handshake timed out"),
            };
            let certs = peer_certificates(&tls);
            client::serve_stream(tls, peer, id, cfg, core, certs).await
        });
    })
    .await
}

/// Accepts MQTT-over-WebSocket connections on `listener` (over TLS when `tls` is given) until `stop`
/// changes. The TLS and WebSocket handshakes run in the connection's own task, bounded together by
/// the connect timeout; then the connection is served like any other stream.
pub async fn run_ws(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    path: Arc<str>,
    cfg: Arc<Config>,
    core: mpsc::Sender<Event>,
    ids: Arc<AtomicU64>,
    stop: watch::Receiver<bool>,
) {
    let kind = if tls.is_some() { "wss" } else { "ws" };
    accept_loop(listener, kind, ids, stop, move |stream, peer, id| {
        let (tls, path, cfg, core) = (tls.clone(), path.clone(), cfg.clone(), core.clone());
        tokio::spawn(async move {
            let limit = Duration::from_secs(cfg.connect_timeout_secs);
            let max = cfg.max_packet_size as usize;
            let upgrade = async {
                match tls {
                    None => crate::ws::accept(stream, &path, max).await.map(|ws| (Box::new(ws) as Box<dyn client::Stream>, Vec::new())),
                    Some(acceptor) => {
                        let tls = acceptor.accept(stream).await.map_err(|e| format!("TLS handshake failed: {e}"))?;
                        let certs = peer_certificates(&tls);
                        let ws = crate::ws::accept(tls, &path, max).await?;
                        Ok((Box::new(ws) as Box<dyn client::Stream>, certs))
                    }
                }
            };
            match tokio::time::timeout(limit, upgrade).await {
                Ok(Ok((ws, certs))) => client::serve_stream(ws, peer, id, cfg, core, certs).await,
                Ok(Err(e)) => info!(conn = id, %peer, "{kind}: {e}"),
                Err(_) => debug!(conn = id, %peer, "{kind} handshake timed out"),
            }
        });
    })
    .await
}

/// The client certificates a TLS client presented (empty when none).
fn peer_certificates(tls: &tokio_rustls::server::TlsStream<TcpStream>) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    tls.get_ref().1.peer_certificates().map(|c| c.iter().map(|c| c.clone().into_owned()).collect()).unwrap_or_default()
}

/// The accept loop every listener shares: `TCP_NODELAY`, a connection id, then `serve` takes over.
async fn accept_loop(
    listener: TcpListener,
    kind: &'static str,
    ids: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
    serve: impl Fn(TcpStream, SocketAddr, u64),
) {
    let addr = listener.local_addr().ok();
    info!(?addr, "accepting ({kind})");
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                if let Err(e) = stream.set_nodelay(true) {
                    warn!(%peer, "TCP_NODELAY failed: {e}");
                }
                serve(stream, peer, ids.fetch_add(1, Ordering::Relaxed));
            }
            Err(e) => {
                // Typically EMFILE under load: back off briefly instead of spinning.
                warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}
