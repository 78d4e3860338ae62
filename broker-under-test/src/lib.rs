//! `lwt-broker`: a strict MQTT 3.1.1 + 5.0 reference broker that is right on every Last-Will rule.
//!
//! Data flow: [`listener`] accepts → [`client`] reads and decodes with [`codec`] over a
//! [`connection::Connection`] → the single-owner [`core::Core`] dispatches each event to
//! [`session`], [`will`], [`publish`] / [`subscribe`] and [`router`], over a [`store::Store`] and
//! one set of [`timers`] → each connection's [`outbox`] writes the result to its socket. A will's
//! whole life-cycle is in [`will`].
//!
//! Embed it with [`start`] (or [`start_embedded`]) and stop it with [`BrokerHandle::shutdown`].
#![warn(missing_docs)]

pub mod cli;
pub mod client;
pub mod closer;
/// The shared codec crate, re-exported so broker code and embedders keep one path to it.
pub use lwt_codec as codec;
pub mod config;
/// Packets over a byte stream (from the codec crate).
pub use lwt_codec::connection;
pub mod core;
pub mod durable;
pub mod eventgrid;
pub mod listener;
pub mod outbox;
pub mod policy;
pub mod publish;
mod reauth;
mod restart;
pub mod router;
pub mod session;
pub mod shared;
pub mod store;
pub mod subscribe;
pub mod timers;
pub mod tls;
pub mod will;
pub mod ws;

pub use config::Config;
pub use tls::TlsOptions;


use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// A running broker: its addresses and the means to stop it.
pub struct BrokerHandle {
    addrs: Vec<SocketAddr>,
    tls_addrs: Vec<SocketAddr>,
    ws_addrs: Vec<SocketAddr>,
    wss_addrs: Vec<SocketAddr>,
    http_publish_addrs: Vec<SocketAddr>,
    core_tx: mpsc::Sender<Event>,
    stop: watch::Sender<bool>,
    core_task: JoinHandle<()>,
}

use crate::core::{Event, Stats};

impl BrokerHandle {
    /// The first TCP listener's address (the one an embedded broker has); the first TLS one when
    /// there is no TCP listener.
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs.first().copied().unwrap_or_else(|| self.tls_addrs[0])
    }
    /// Every TCP listener's address.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }
    /// Every TLS listener's address.
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }
    /// Every WebSocket listener's address.
    pub fn ws_addrs(&self) -> &[SocketAddr] {
        &self.ws_addrs
    }
    /// Every WebSocket-over-TLS listener's address.
    pub fn wss_addrs(&self) -> &[SocketAddr] {
        &self.wss_addrs
    }
    /// Every Event Grid HTTP Publish listener's address (`http://ADDR/mqtt/messages`).
    pub fn http_publish_addrs(&self) -> &[SocketAddr] {
        &self.http_publish_addrs
    }
    /// `mqtt://host:port` of the first TCP listener (`mqtts://` when there is only TLS).
    pub fn url(&self) -> String {
        match self.addrs.first() {
            Some(a) => format!("mqtt://{a}"),
            None => format!("mqtts://{}", self.tls_addrs[0]),
        }
    }
    /// Current counters.
    pub async fn stats(&self) -> Stats {
        let (tx, rx) = oneshot::channel();
        if self.core_tx.send(Event::Stats(tx)).await.is_err() {
            return Stats::default();
        }
        rx.await.unwrap_or_default()
    }
    /// Simulates a crash: stops at once, without publishing any will or sending any DISCONNECT.
    /// Every connection then closes as its writer loses the core.
    pub fn abort(self) {
        let _ = self.stop.send(true);
        self.core_task.abort();
    }

    /// Stops accepting, publishes the wills that are due on shutdown, sends DISCONNECT 0x8B to 5.0
    /// clients and closes every connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let (tx, rx) = oneshot::channel();
        if self.core_tx.send(Event::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let _ = self.core_task.await;
        // Give writers a moment to flush the final DISCONNECTs.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Where to listen: plain TCP addresses, and TLS addresses with their certificates.
#[derive(Clone, Debug, Default)]
pub struct Listeners {
    /// Plain TCP addresses (port 0 = any free port).
    pub tcp: Vec<SocketAddr>,
    /// TLS addresses; they need `tls_options`.
    pub tls: Vec<SocketAddr>,
    /// MQTT over WebSocket addresses.
    pub ws: Vec<SocketAddr>,
    /// MQTT over WebSocket over TLS addresses; they need `tls_options`.
    pub wss: Vec<SocketAddr>,
    /// The path WebSocket clients upgrade on ([`ws::DEFAULT_PATH`] when `None`).
    pub ws_path: Option<String>,
    /// Server certificate, key and client CA for every TLS and WSS address.
    pub tls_options: Option<TlsOptions>,
    /// Event Grid HTTP Publish addresses (loopback only; they need a namespace): see
    /// [`eventgrid::http_publish`].
    pub http_publish: Vec<SocketAddr>,
}

/// Starts a broker with `cfg`, listening on each TCP address in `binds` (port 0 = any free port).
pub async fn start(cfg: Config, binds: &[SocketAddr]) -> anyhow::Result<BrokerHandle> {
    start_with(cfg, Listeners { tcp: binds.to_vec(), ..Listeners::default() }).await
}

/// Starts a broker with `cfg` on TCP and TLS listeners. With a namespace in `cfg`, TLS listeners
/// ask every client for a certificate and the namespace judges it at CONNECT.
pub async fn start_with(cfg: Config, listeners: Listeners) -> anyhow::Result<BrokerHandle> {
    let store: Box<dyn store::Store> = match &cfg.data_dir {
        Some(dir) => Box::new(durable::DurableStore::open(dir)?),
        None => Box::new(store::MemoryStore::new()),
    };
    start_over(cfg, listeners, store).await
}

/// Starts a broker like [`start_with`] over a given store (`cfg.data_dir` is then not used):
/// for embedding with a store of one's own, and for tests that wrap the durable store.
pub async fn start_over(cfg: Config, listeners: Listeners, store: Box<dyn store::Store>) -> anyhow::Result<BrokerHandle> {
    cfg.validate()?;
    let binds = &listeners.tcp;
    for addr in &listeners.http_publish {
        eventgrid::http_publish::check_bind(*addr, &cfg)?;
    }
    let any_tls = !listeners.tls.is_empty() || !listeners.wss.is_empty();
    anyhow::ensure!(!binds.is_empty() || any_tls || !listeners.ws.is_empty(), "no listener address given");
    let acceptor = match (&listeners.tls_options, any_tls) {
        (Some(opts), true) => {
            let sc = tls::server_config(opts, cfg.namespace.get().is_some())?;
            Some(tokio_rustls::TlsAcceptor::from(sc))
        }
        (None, true) => anyhow::bail!("a TLS or WSS listener needs a server certificate and key (--cert, --key)"),
        (_, false) => None,
    };
    let ws_path: Arc<str> = listeners.ws_path.as_deref().unwrap_or(ws::DEFAULT_PATH).into();
    anyhow::ensure!(ws_path.starts_with('/'), "the WebSocket path must start with '/' (got {ws_path:?})");
    let cfg = Arc::new(cfg);
    let (core_tx, core_rx) = mpsc::channel(16 * 1024);
    let mut core = core::Core::new(cfg.clone(), store);
    core.lifecycle = eventgrid::lifecycle::Lifecycle::from_config(&cfg)?;
    core.routing = eventgrid::routing::Routing::from_config(&cfg)?;
    core.recover()?;
    let core_task = tokio::spawn(core.run(core_rx));
    let (stop, stop_rx) = watch::channel(false);
    let ids = Arc::new(AtomicU64::new(1));
    let mut addrs = Vec::new();
    for bind in binds {
        let l = bind_listener(*bind).map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
        addrs.push(l.local_addr()?);
        tokio::spawn(listener::run_tcp(l, cfg.clone(), core_tx.clone(), ids.clone(), stop_rx.clone()));
    }
    let mut tls_addrs = Vec::new();
    let mut wss_addrs = Vec::new();
    if let Some(acceptor) = &acceptor {
        for bind in &listeners.tls {
            let l = bind_listener(*bind).map_err(|e| anyhow::anyhow!("cannot listen on {bind} (tls): {e}"))?;
            tls_addrs.push(l.local_addr()?);
            let (cfg, tx, ids, stop) = (cfg.clone(), core_tx.clone(), ids.clone(), stop_rx.clone());
            tokio::spawn(listener::run_tls(l, acceptor.clone(), cfg, tx, ids, stop));
        }
    }
    let mut ws_addrs = Vec::new();
    let plain_ws = listeners.ws.iter().map(|b| (b, None));
    let tls_ws = listeners.wss.iter().map(|b| (b, acceptor.clone()));
    for (bind, tls) in plain_ws.chain(tls_ws) {
        let kind = if tls.is_some() { "wss" } else { "ws" };
        let l = bind_listener(*bind).map_err(|e| anyhow::anyhow!("cannot listen on {bind} ({kind}): {e}"))?;
        if tls.is_some() { &mut wss_addrs } else { &mut ws_addrs }.push(l.local_addr()?);
        let (cfg, tx, ids, stop, path) = (cfg.clone(), core_tx.clone(), ids.clone(), stop_rx.clone(), ws_path.clone());
        tokio::spawn(listener::run_ws(l, tls, path, cfg, tx, ids, stop));
    }
    let mut http_publish_addrs = Vec::new();
    for bind in &listeners.http_publish {
        let l = bind_listener(*bind).map_err(|e| anyhow::anyhow!("cannot listen on {bind} (HTTP Publish): {e}"))?;
        http_publish_addrs.push(l.local_addr()?);
        tokio::spawn(eventgrid::http_publish::run(l, cfg.clone(), core_tx.clone(), stop_rx.clone()));
    }
    Ok(BrokerHandle { addrs, tls_addrs, ws_addrs, wss_addrs, http_publish_addrs, core_tx, stop, core_task })
}

/// Pending connections the kernel may hold per listener. tokio's default (1024) overflows when
/// thousands of devices connect at once, and every dropped SYN costs the client a 1 s retransmit;
/// the kernel still caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 16 * 1024;

fn bind_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Starts a broker with the default configuration on `127.0.0.1:0`: the harness's default target.
pub async fn start_embedded() -> anyhow::Result<BrokerHandle> {
    start(Config::default(), &["127.0.0.1:0".parse().expect("valid address")]).await
}
