//! Targets: the broker under test. Embedded (the reference broker in-process, the default),
//! external (`mqtt://host:port`), or launched (a broker process the harness starts, watches and can
//! restart, e.g. mosquitto on a free loopback port).

mod launch;
mod url;

pub use launch::{find_mosquitto, free_port, mosquitto_version, test_pki, LAUNCH_READY_TIMEOUT};
pub use url::BrokerUrl;
use launch::{launch_argv, spawn, stop_child, wait_until_accepting};

use anyhow::{bail, Context};
use lwt_broker::BrokerHandle;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;
use crate::transport::{Endpoint, TlsClient};
use std::sync::Arc;
use tokio::process::Child;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// What to test against.
#[derive(Clone, Debug)]
pub enum TargetSpec {
    /// The reference broker in-process on 127.0.0.1 with this configuration.
    Embedded(lwt_broker::Config),
    /// The reference broker in-process, clients speaking MQTT over WebSockets (`ws://…/mqtt`).
    EmbeddedWs(lwt_broker::Config),
    /// A broker that is already running (TLS settings required for `mqtts://`).
    External(BrokerUrl, Option<TlsClient>),
    /// A command the harness runs. `{port}` in it is replaced by a free loopback port; the shorthand
    /// `mosquitto` (optionally `mosquitto:/path/to/mosquitto`) writes a config and runs mosquitto;
    /// `mosquitto-tls` also generates a test PKI and makes mosquitto require client certificates.
    /// (No `mosquitto-ws`: Debian's mosquitto 2.0.11 binds a websockets listener on every interface
    /// whatever address its config gives, and launched targets stay on loopback.)
    Launch(String),
    /// The reference broker in-process with a TLS listener on 127.0.0.1 only (e.g. with an Event Grid
    /// namespace in `config`, which refuses plain TCP anyway); clients connect with `client`.
    EmbeddedTls {
        /// Broker configuration (limits, namespace).
        config: lwt_broker::Config,
        /// Server certificate and key (and client CA, without a namespace).
        tls: lwt_broker::TlsOptions,
        /// How clients reach it: trusted CA and server name (per-client certificates are chosen by
        /// the scenario).
        client: TlsClient,
        /// Serve MQTT over WebSockets over TLS (`wss://…/mqtt`) instead of MQTT over TLS.
        ws: bool,
    },
}

impl TargetSpec {
    /// From the CLI flags `--broker URL` / `--launch CMD` (at most one); neither means embedded.
    pub fn from_flags(broker: Option<&str>, launch: Option<&str>) -> anyhow::Result<TargetSpec> {
        match (broker, launch) {
            (Some(_), Some(_)) => bail!("--broker and --launch cannot be used together"),
            (Some(url), None) => {
                let url: BrokerUrl = url.parse()?;
                if url.tls {
                    bail!("{url}: a TLS broker needs --ca (and usually --cert and --key)");
                }
                Ok(TargetSpec::External(url, None))
            }
            (None, Some(cmd)) if cmd.trim().is_empty() => bail!("--launch needs a command"),
            (None, Some(cmd)) => Ok(TargetSpec::Launch(cmd.to_owned())),
            (None, None) => Ok(TargetSpec::Embedded(lwt_broker::Config::default())),
        }
    }
}

/// How a restart fault stops the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    /// Orderly (SIGTERM / shutdown): the broker may publish wills first.
    Graceful,
    /// Crash (SIGKILL; for the embedded broker, its tasks are dropped without the shutdown sequence).
    Kill,
}

enum State {
    Embedded { handle: Option<BrokerHandle>, config: lwt_broker::Config, tls: Option<lwt_broker::TlsOptions> },
    External,
    Launched { child: Option<Child>, argv: Vec<String>, _dir: tempfile::TempDir, label: String },
}

/// A running target.
pub struct Target {
    addr: SocketAddr,
    name: String,
    state: State,
    tls: Option<Arc<TlsClient>>,
    /// The WebSocket path, when clients speak MQTT over WebSockets.
    ws: Option<Arc<str>>,
    identities: Option<crate::init::Identities>,
    /// Where a launched broker's output (`broker.log` of its launch folder) is copied when it stops.
    log_copy: Option<PathBuf>,
}

impl Target {
    /// Keeps a launched broker's stdout/stderr: copied to `path` (a report folder's `broker.log`)
    /// when the target stops, since the launch folder is temporary. No effect on other targets.
    pub fn keep_log_at(mut self, path: PathBuf) -> Self {
        self.log_copy = Some(path);
        self
    }

    /// Starts (or resolves) the target and waits until it accepts TCP connections.
    pub async fn start(spec: &TargetSpec) -> anyhow::Result<Target> {
        match spec {
            TargetSpec::Embedded(config) => {
                let handle = lwt_broker::start(config.clone(), &["127.0.0.1:0".parse()?]).await?;
                let addr = handle.local_addr();
                Ok(Target {
                    addr,
                    name: "lwt-broker (embedded)".into(),
                    state: State::Embedded { handle: Some(handle), config: config.clone(), tls: None },
                    tls: None,
                    ws: None,
                    identities: None,
                    log_copy: None,
                })
            }
            TargetSpec::EmbeddedWs(config) => {
                let any: SocketAddr = "127.0.0.1:0".parse()?;
                let handle = lwt_broker::start_with(config.clone(), lwt_broker::Listeners { ws: vec![any], ..Default::default() }).await?;
                Ok(Target {
                    addr: handle.ws_addrs()[0],
                    name: "lwt-broker (embedded, WebSocket)".into(),
                    state: State::Embedded { handle: Some(handle), config: config.clone(), tls: None },
                    tls: None,
                    ws: Some(lwt_broker::ws::DEFAULT_PATH.into()),
                    identities: None,
                    log_copy: None,
                })
            }
            TargetSpec::EmbeddedTls { config, tls, client, ws } => {
                let any = "127.0.0.1:0".parse()?;
                let handle = if *ws { start_embedded_wss(config, tls, any).await? } else { start_embedded_tls(config, tls, any).await? };
                let addr = if *ws { handle.wss_addrs()[0] } else { handle.tls_addrs()[0] };
                let name = match (config.namespace.get().is_some(), *ws) {
                    (true, false) => "lwt-broker (embedded, TLS, Event Grid namespace)",
                    (true, true) => "lwt-broker (embedded, WebSocket over TLS, Event Grid namespace)",
                    (false, false) => "lwt-broker (embedded, TLS)",
                    (false, true) => "lwt-broker (embedded, WebSocket over TLS)",
                };
                Ok(Target {
                    addr,
                    name: name.into(),
                    state: State::Embedded { handle: Some(handle), config: config.clone(), tls: Some(tls.clone()) },
                    tls: Some(Arc::new(client.clone())),
                    ws: ws.then(|| lwt_broker::ws::DEFAULT_PATH.into()),
                    identities: None,
                    log_copy: None,
                })
            }
            TargetSpec::External(url, tls) => {
                if url.tls && tls.is_none() {
                    bail!("{url}: a TLS broker needs --ca (and usually --cert and --key)");
                }
                let addr = (url.host.as_str(), url.port)
                    .to_socket_addrs()
                    .with_context(|| format!("cannot resolve {url}"))?
                    .next()
                    .with_context(|| format!("{url} resolves to no address"))?;
                wait_until_accepting(addr, Duration::from_secs(5))
                    .await
                    .with_context(|| format!("broker {url} does not accept connections"))?;
                let tls = if url.tls { tls.clone().map(Arc::new) } else { None };
                let ws = url.ws.as_deref().map(Arc::from);
                Ok(Target { addr, name: url.to_string(), state: State::External, tls, ws, identities: None, log_copy: None })
            }
            TargetSpec::Launch(cmd) => {
                let port = free_port()?;
                let dir = tempfile::tempdir()?;
                let (argv, label, tls) = launch_argv(cmd, port, dir.path())?;
                let addr: SocketAddr = ([127, 0, 0, 1], port).into();
                let child = spawn(&argv, dir.path())?;
                let mut t = Target {
                    addr,
                    name: label.clone(),
                    state: State::Launched { child: Some(child), argv, _dir: dir, label },
                    tls: tls.map(Arc::new),
                    ws: None,
                    identities: None,
                    log_copy: None,
                };
                t.wait_ready().await?;
                Ok(t)
            }
        }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where and how clients connect (address and TLS settings).
    pub fn endpoint(&self) -> Endpoint {
        Endpoint { addr: self.addr, tls: self.tls.clone(), ws: self.ws.clone() }
    }

    /// Clients named X present the certificate `X` of this identities folder and use username X
    /// (an Event Grid namespace, real or emulated, made by `lwt-harness init`).
    pub fn with_identities(mut self, ids: crate::init::Identities) -> Self {
        self.identities = Some(ids);
        self
    }

    /// The identities folder clients take their certificates from, if any.
    pub fn identities(&self) -> Option<&crate::init::Identities> {
        self.identities.as_ref()
    }

    /// A human name for reports.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The JSON Lines file the embedded broker appends Event Grid client life-cycle events to
    /// (its `lifecycle_events`, else its namespace's `lifecycleEvents.file`), if it writes any.
    pub fn lifecycle_events_file(&self) -> Option<PathBuf> {
        let State::Embedded { config, .. } = &self.state else { return None };
        config.lifecycle_events.clone().or_else(|| config.namespace.get()?.lifecycle_events().file.clone())
    }

    /// The JSON Lines file the embedded broker routes published messages to as Event Grid
    /// CloudEvents (its namespace's `routing.file`), if it routes any to a file.
    pub fn routed_events_file(&self) -> Option<PathBuf> {
        let State::Embedded { config, .. } = &self.state else { return None };
        config.namespace.get()?.routing()?.file.clone()
    }

    /// The embedded broker's Event Grid HTTP Publish address (an embedded TLS broker with a
    /// namespace serves one), if any.
    pub fn http_publish_addr(&self) -> Option<SocketAddr> {
        let State::Embedded { handle: Some(h), .. } = &self.state else { return None };
        h.http_publish_addrs().first().copied()
    }

    /// Whether this is the embedded reference broker.
    pub fn is_embedded(&self) -> bool {
        matches!(self.state, State::Embedded { .. })
    }

    /// Whether this target can be restarted by the harness (embedded and launched ones can).
    pub fn can_restart(&self) -> bool {
        !matches!(self.state, State::External)
    }

    /// Stops the broker (gracefully or by crash), starts it again on the same address, and waits until
    /// it accepts connections. Returns the instant the stop was issued.
    pub async fn restart(&mut self, how: StopKind) -> anyhow::Result<Instant> {
        let addr = self.addr;
        match &mut self.state {
            State::External => bail!("{}: an external broker cannot be restarted by the harness", self.name),
            State::Embedded { handle, config, tls } => {
                let at = Instant::now();
                if let Some(h) = handle.take() {
                    match how {
                        StopKind::Graceful => h.shutdown().await,
                        StopKind::Kill => h.abort(),
                    }
                }
                let deadline = Instant::now() + Duration::from_secs(5);
                let over_ws = self.ws.is_some();
                let h = loop {
                    let started = match (tls.as_ref(), over_ws) {
                        (Some(tls), true) => start_embedded_wss(config, tls, addr).await,
                        (Some(tls), false) => start_embedded_tls(config, tls, addr).await,
                        (None, true) => lwt_broker::start_with(config.clone(), lwt_broker::Listeners { ws: vec![addr], ..Default::default() }).await,
                        (None, false) => lwt_broker::start(config.clone(), &[addr]).await,
                    };
                    match started {
                        Ok(h) => break h,
                        Err(e) if Instant::now() < deadline => {
                            debug!("restart bind retry: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => return Err(e),
                    }
                };
                *handle = Some(h);
                Ok(at)
            }
            State::Launched { child, argv, _dir, .. } => {
                let at = Instant::now();
                if let Some(c) = child.take() {
                    stop_child(c, how).await;
                }
                *child = Some(spawn(argv, _dir.path())?);
                self.wait_ready().await?;
                Ok(at)
            }
        }
    }

    /// Stops a launched or embedded broker; does nothing to an external one.
    pub async fn stop(mut self) {
        match &mut self.state {
            State::Embedded { handle, .. } => {
                if let Some(h) = handle.take() {
                    h.shutdown().await;
                }
            }
            State::External => {}
            State::Launched { child, _dir, label, .. } => {
                if let Some(c) = child.take() {
                    stop_child(c, StopKind::Graceful).await;
                }
                if let Some(to) = &self.log_copy {
                    if let Err(e) = std::fs::copy(_dir.path().join("broker.log"), to) {
                        warn!("could not keep the output of `{label}` in {}: {e}", to.display());
                    }
                }
            }
        }
    }

    /// The process id of a launched broker (for RSS / CPU sampling).
    pub fn pid(&self) -> Option<u32> {
        match &self.state {
            State::Launched { child: Some(c), .. } => c.id(),
            State::Embedded { .. } => Some(std::process::id()),
            _ => None,
        }
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        // Generous: a launcher may install its broker on first use (npm, pip) before it listens; a
        // process that exits ends the wait at once.
        let deadline = Instant::now() + LAUNCH_READY_TIMEOUT;
        loop {
            if let State::Launched { child: Some(c), label, _dir, .. } = &mut self.state {
                if let Some(status) = c.try_wait()? {
                    let log = std::fs::read_to_string(_dir.path().join("broker.log")).unwrap_or_default();
                    bail!("launched broker `{label}` exited before accepting connections ({status}); its output:\n{log}");
                }
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                info!(target = %self.name, addr = %self.addr, "target ready");
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} did not accept connections on {} within {LAUNCH_READY_TIMEOUT:?}", self.name, self.addr);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Starts the reference broker with one TLS listener on `addr` and no plain TCP listener.
/// The TLS listener on `addr`, and with a namespace an Event Grid HTTP Publish listener on a free
/// loopback port ([`Target::http_publish_addr`]).
async fn start_embedded_tls(config: &lwt_broker::Config, tls: &lwt_broker::TlsOptions, addr: SocketAddr) -> anyhow::Result<BrokerHandle> {
    let http_publish = if config.namespace.get().is_some() { vec![SocketAddr::from(([127, 0, 0, 1], 0))] } else { Vec::new() };
    let listeners = lwt_broker::Listeners { tls: vec![addr], tls_options: Some(tls.clone()), http_publish, ..Default::default() };
    lwt_broker::start_with(config.clone(), listeners).await
}

async fn start_embedded_wss(config: &lwt_broker::Config, tls: &lwt_broker::TlsOptions, addr: SocketAddr) -> anyhow::Result<BrokerHandle> {
    let listeners = lwt_broker::Listeners { wss: vec![addr], tls_options: Some(tls.clone()), ..Default::default() };
    lwt_broker::start_with(config.clone(), listeners).await
}
