//! Targets: the broker under test. Embedded (the reference broker in-process, the default),
//! external (`mqtt://host:port`), or launched (a broker process the harness starts, watches and can
//! restart, e.g. mosquitto on a free loopback port).

use anyhow::{bail, Context};
use lwt_broker::BrokerHandle;
use std::fmt;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use crate::transport::{Endpoint, Identity, TlsClient};
use std::sync::Arc;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// A broker address given as a URL: `mqtt://`, `mqtts://`, or MQTT over WebSockets `ws://` /
/// `wss://` with a path (default `/mqtt`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerUrl {
    /// `mqtts` or `wss`.
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The WebSocket path, for `ws://` and `wss://`.
    pub ws: Option<String>,
}

impl FromStr for BrokerUrl {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let (tls, ws, rest) = if let Some(r) = s.strip_prefix("mqtt://") {
            (false, false, r)
        } else if let Some(r) = s.strip_prefix("mqtts://") {
            (true, false, r)
        } else if let Some(r) = s.strip_prefix("tcp://") {
            (false, false, r)
        } else if let Some(r) = s.strip_prefix("ws://") {
            (false, true, r)
        } else if let Some(r) = s.strip_prefix("wss://") {
            (true, true, r)
        } else {
            bail!("broker URL {s:?} must start with mqtt://, mqtts://, ws:// or wss://");
        };
        let (rest, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if !ws && !path.trim_matches('/').is_empty() {
            bail!("broker URL {s:?}: a path only makes sense for ws:// and wss://");
        }
        let ws = ws.then(|| if path.is_empty() || path == "/" { "/mqtt".to_owned() } else { path.to_owned() });
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = p.parse::<u16>().with_context(|| format!("bad port {p:?} in broker URL {s:?}"))?;
                (h.trim_start_matches('[').trim_end_matches(']').to_owned(), port)
            }
            _ => (rest.to_owned(), match (tls, ws.is_some()) {
                (false, false) => 1883,
                (true, false) => 8883,
                (false, true) => 80,
                (true, true) => 443,
            }),
        };
        if host.is_empty() {
            bail!("broker URL {s:?} has no host");
        }
        Ok(BrokerUrl { tls, host, port, ws })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.tls, self.ws.is_some()) {
            (false, false) => "mqtt",
            (true, false) => "mqtts",
            (false, true) => "ws",
            (true, true) => "wss",
        };
        let path = self.ws.as_deref().unwrap_or("");
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}{path}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}{path}", self.host, self.port)
        }
    }
}

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
async fn start_embedded_tls(config: &lwt_broker::Config, tls: &lwt_broker::TlsOptions, addr: SocketAddr) -> anyhow::Result<BrokerHandle> {
    let listeners = lwt_broker::Listeners { tls: vec![addr], tls_options: Some(tls.clone()), ..Default::default() };
    lwt_broker::start_with(config.clone(), listeners).await
}

async fn start_embedded_wss(config: &lwt_broker::Config, tls: &lwt_broker::TlsOptions, addr: SocketAddr) -> anyhow::Result<BrokerHandle> {
    let listeners = lwt_broker::Listeners { wss: vec![addr], tls_options: Some(tls.clone()), ..Default::default() };
    lwt_broker::start_with(config.clone(), listeners).await
}

/// How long a launched broker may take to accept connections (first use may include installing it).
pub const LAUNCH_READY_TIMEOUT: Duration = Duration::from_secs(180);

/// A free TCP port on 127.0.0.1 (bound and released; good enough on loopback).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Finds the mosquitto binary: `$LWT_MOSQUITTO`, then PATH, then /usr/sbin/mosquitto.
pub fn find_mosquitto() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("LWT_MOSQUITTO") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")]) {
        let p = dir.join("mosquitto");
        if p.is_file() {
            return Some(p);
        }
    }
    None
}

/// Writes a fresh test PKI into `dir` (see [`crate::pki::Pki::write`]; a server uses
/// `server-chain.pem`, `server-key.pem` and `ca-chain.pem`) and says how clients reach that server:
/// trust the root, present `lwt-client`, and issue per-device certificates from the intermediate.
pub fn test_pki(dir: &std::path::Path) -> anyhow::Result<TlsClient> {
    crate::pki::generate(&["lwt-client".to_string()], 2)?.write(dir)?;
    Ok(TlsClient {
        ca: dir.join("root-ca.pem"),
        server_name: "localhost".into(),
        identity: Some(Identity { cert_chain: dir.join("lwt-client-chain.pem"), key: dir.join("lwt-client-key.pem") }),
        issuer: Some(Identity { cert_chain: dir.join("intermediate-ca.pem"), key: dir.join("intermediate-ca-key.pem") }),
    })
}

fn launch_argv(cmd: &str, port: u16, dir: &std::path::Path) -> anyhow::Result<(Vec<String>, String, Option<TlsClient>)> {
    let trimmed = cmd.trim();
    if trimmed == "mosquitto-tls" {
        let bin = find_mosquitto().context("mosquitto is not installed (apt-get install mosquitto) and LWT_MOSQUITTO is not set")?;
        let tls = test_pki(dir)?;
        // mosquitto verifies client chains against root + intermediate.
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_keepalive 65535\nset_tcp_nodelay true\n\
                 cafile {ca}\ncertfile {cert}\nkeyfile {key}\nrequire_certificate true\nuse_identity_as_username true\n\
                 log_dest stderr\nlog_type error\nlog_type warning\n",
                ca = dir.join("ca-chain.pem").display(),
                cert = dir.join("server-chain.pem").display(),
                key = dir.join("server-key.pem").display(),
            ),
        )?;
        let argv = vec![bin.display().to_string(), "-c".into(), conf.display().to_string()];
        let version = mosquitto_version(&bin).unwrap_or_else(|| "mosquitto".into());
        return Ok((argv, format!("{version} with TLS (launched on 127.0.0.1:{port})"), Some(tls)));
    }
    if trimmed == "mosquitto" || trimmed.starts_with("mosquitto:") {
        let bin = match trimmed.strip_prefix("mosquitto:") {
            Some(p) => PathBuf::from(p),
            None => find_mosquitto().context("mosquitto is not installed (apt-get install mosquitto) and LWT_MOSQUITTO is not set")?,
        };
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_keepalive 65535\nset_tcp_nodelay true\n\
                 log_dest stderr\nlog_type error\nlog_type warning\n"
            ),
        )?;
        let argv = vec![bin.display().to_string(), "-c".into(), conf.display().to_string()];
        let version = mosquitto_version(&bin).unwrap_or_else(|| "mosquitto".into());
        return Ok((argv, format!("{version} (launched on 127.0.0.1:{port})"), None));
    }
    if !trimmed.contains("{port}") {
        bail!("--launch command must contain {{port}} (replaced by a free loopback port), or be `mosquitto`");
    }
    let replaced = trimmed.replace("{port}", &port.to_string()).replace("{dir}", &dir.display().to_string());
    let argv = split_words(&replaced)?;
    // A launcher from fixtures/brokers/ is named after its broker, like `mosquitto`.
    let launcher = std::path::Path::new(&argv[0]);
    let label = match launcher.file_stem().and_then(|s| s.to_str()) {
        Some(name) if launcher.parent().is_some_and(|d| d.ends_with("fixtures/brokers")) => {
            format!("{name} (launched on 127.0.0.1:{port})")
        }
        _ => format!("`{replaced}`"),
    };
    Ok((argv, label, None))
}

/// `mosquitto 2.0.11` as the binary reports it, if it does.
pub fn mosquitto_version(bin: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new(bin).arg("-h").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let line = text.lines().find(|l| l.contains("mosquitto version"))?;
    let v = line.split("version").nth(1)?.split_whitespace().next()?;
    Some(format!("mosquitto {v}"))
}

/// Splits a command line on whitespace, honouring single and double quotes.
fn split_words(s: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for ch in s.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(ch);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        bail!("unbalanced quote in launch command {s:?}");
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    if out.is_empty() {
        bail!("empty launch command");
    }
    Ok(out)
}

/// Starts the broker process; its output goes to `broker.log` in the launch folder.
fn spawn(argv: &[String], dir: &std::path::Path) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("broker.log"))?;
    Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start `{}`", argv.join(" ")))
}

async fn stop_child(mut c: Child, how: StopKind) {
    if let Some(pid) = c.id() {
        let sig = match how {
            StopKind::Graceful => libc::SIGTERM,
            StopKind::Kill => libc::SIGKILL,
        };
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(pid as i32, sig);
        }
    }
    if tokio::time::timeout(Duration::from_secs(5), c.wait()).await.is_err() {
        let _ = c.kill().await;
    }
}

async fn wait_until_accepting(addr: SocketAddr, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_bad_ones_are_named() {
        assert_eq!(
            "mqtt://127.0.0.1:1884".parse::<BrokerUrl>().unwrap(),
            BrokerUrl { tls: false, host: "127.0.0.1".into(), port: 1884, ws: None }
        );
        let ws = "ws://127.0.0.1:8080".parse::<BrokerUrl>().unwrap();
        assert_eq!((ws.tls, ws.port, ws.ws.as_deref()), (false, 8080, Some("/mqtt")));
        let wss = "wss://broker.example/custom/path".parse::<BrokerUrl>().unwrap();
        assert_eq!((wss.tls, wss.port, wss.ws.as_deref()), (true, 443, Some("/custom/path")));
        assert_eq!(wss.to_string(), "wss://broker.example:443/custom/path");
        assert!("mqtt://h:1883/path".parse::<BrokerUrl>().unwrap_err().to_string().contains("ws://"));
        assert_eq!("mqtts://localhost".parse::<BrokerUrl>().unwrap().port, 8883);
        assert_eq!("mqtt://[::1]:1883".parse::<BrokerUrl>().unwrap().host, "::1");
        let e = "http://x".parse::<BrokerUrl>().unwrap_err().to_string();
        assert!(e.contains("mqtt://"), "{e}");
        let e = "mqtt://h:99999".parse::<BrokerUrl>().unwrap_err().to_string();
        assert!(e.contains("bad port"), "{e}");
    }

    #[test]
    fn launch_commands_need_a_port_placeholder() {
        let d = std::path::Path::new("/tmp");
        let (argv, _, _) = launch_argv("lwt-broker --bind '127.0.0.1:{port}'", 5, d).unwrap();
        assert_eq!(argv, vec!["lwt-broker", "--bind", "127.0.0.1:5"]);
        assert!(launch_argv("lwt-broker", 5, d).unwrap_err().to_string().contains("{port}"));
        let (_, label, _) = launch_argv("fixtures/brokers/aedes.sh {port} {dir}", 5, d).unwrap();
        assert_eq!(label, "aedes (launched on 127.0.0.1:5)");
        assert!(split_words("a 'b").is_err());
    }
}
