//! The `lwt-broker` command line: flags, set-up errors (exit 2), the "listening on" lines, and a
//! clean stop on Ctrl-C / SIGTERM. `lwt-broker` is this; `lwt-harness broker` runs it too, so the
//! harness can put the reference broker in its own process without a second binary.

use clap::Parser;
use crate::{Config, Listeners, TlsOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// A strict MQTT 3.1.1 + 5.0 broker that is right on every Last-Will rule.
#[derive(Parser, Debug)]
#[command(name = "lwt-broker", version)]
struct Args {
    /// TCP address to listen on (repeatable; port 0 picks a free port). Default 127.0.0.1:1883
    /// when no other listener is given.
    #[arg(long = "bind")]
    bind: Vec<SocketAddr>,
    /// TLS address to listen on (repeatable); needs --cert and --key.
    #[arg(long = "bind-tls", requires_all = ["cert", "key"])]
    bind_tls: Vec<SocketAddr>,
    /// MQTT over WebSocket address to listen on (repeatable).
    #[arg(long = "bind-ws")]
    bind_ws: Vec<SocketAddr>,
    /// MQTT over WebSocket over TLS address (repeatable); needs --cert and --key.
    #[arg(long = "bind-wss", requires_all = ["cert", "key"])]
    bind_wss: Vec<SocketAddr>,
    /// Event Grid HTTP Publish (`POST http://ADDR/mqtt/messages?topic=…`) on this loopback address
    /// (repeatable); needs --namespace. Requests are refused (401) until a bearer-token validator is
    /// wired in.
    #[arg(long = "bind-http-publish", requires = "namespace")]
    bind_http_publish: Vec<SocketAddr>,
    /// The path WebSocket clients upgrade on.
    #[arg(long = "ws-path", default_value = crate::ws::DEFAULT_PATH)]
    ws_path: String,
    /// Server certificate chain (PEM) for --bind-tls and --bind-wss.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// Server private key (PEM) for --bind-tls and --bind-wss.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Require client certificates that chain to these CAs (PEM). Not with --namespace (put CAs in
    /// the namespace file).
    #[arg(long, value_name = "FILE", requires = "bind_tls")]
    client_ca: Option<PathBuf>,
    /// Capabilities and limits (YAML; see fixtures/broker/).
    #[arg(long, conflicts_with = "profile")]
    config: Option<PathBuf>,
    /// A built-in set of limits: `default` or `eventgrid` (Event Grid's documented MQTT limits).
    #[arg(long)]
    profile: Option<String>,
    /// Emulate an Event Grid namespace (clients, groups, topic spaces, permission bindings; see
    /// fixtures/namespaces/). Clients then authenticate by certificate over TLS.
    #[arg(long, value_name = "FILE")]
    namespace: Option<PathBuf>,
    /// Append Event Grid client life-cycle events (CloudEvents JSON, one per line) to FILE; takes
    /// the place of the namespace's `lifecycleEvents.file`.
    #[arg(long, value_name = "FILE", requires = "namespace")]
    lifecycle_events: Option<PathBuf>,
    /// Refuse client ids that are not 1 to 23 characters of 0-9a-zA-Z (MQTT-3.1.3-5's minimum):
    /// CONNACK 0x85 (3.1.1: 0x02). Same as `strict_client_ids: true` in --config.
    #[arg(long)]
    strict_client_ids: bool,
    /// Keep sessions, wills and retained messages in a crash-safe database in DIR (created if
    /// missing): they survive a crash or restart. Same as `data_dir: DIR` in --config.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Runs the broker as a process with command-line `args` (the first is the program name).
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "lwt_broker=info".into()),
        )
        .with_writer(std::io::stderr)
        .try_init()
        .ok();
    let (cfg, listeners) = match setup(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("lwt-broker: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async move {
        // Install the handlers before announcing readiness, so a SIGTERM right after the
        // "listening on" line still shuts down cleanly.
        let stop = shutdown_signal();
        let broker = match crate::start_with(cfg, listeners).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("lwt-broker: {e}");
                return ExitCode::from(2);
            }
        };
        for addr in broker.local_addrs() {
            println!("listening on {addr}");
        }
        for addr in broker.tls_addrs() {
            println!("listening on {addr} (tls)");
        }
        for addr in broker.ws_addrs() {
            println!("listening on {addr} (ws)");
        }
        for addr in broker.wss_addrs() {
            println!("listening on {addr} (wss)");
        }
        for addr in broker.http_publish_addrs() {
            println!("listening on {addr} (http publish)");
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        stop.await;
        broker.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// The configuration and listeners the flags describe.
fn setup(args: &Args) -> anyhow::Result<(Config, Listeners)> {
    let namespace = match &args.namespace {
        Some(path) => Some(crate::eventgrid::Namespace::load(path)?),
        None => None,
    };
    let profile = args.profile.clone().or_else(|| namespace.as_ref().and_then(|n| n.settings().profile.clone()));
    let mut cfg = match (&args.config, &profile) {
        (Some(path), _) => Config::load(path)?,
        (None, Some(name)) => Config::profile(name)?,
        (None, None) => Config::default(),
    };
    if let Some(ns) = namespace {
        cfg.apply_namespace(ns);
    }
    cfg.strict_client_ids |= args.strict_client_ids;
    if let Some(file) = &args.lifecycle_events {
        cfg.lifecycle_events = Some(file.clone());
    }
    if let Some(dir) = &args.data_dir {
        cfg.data_dir = Some(dir.clone());
    }
    let mut tcp = args.bind.clone();
    if tcp.is_empty() && args.bind_tls.is_empty() && args.bind_ws.is_empty() && args.bind_wss.is_empty() {
        tcp.push("127.0.0.1:1883".parse().expect("valid address"));
    }
    let tls_options = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            Some(TlsOptions { cert_chain: cert.clone(), key: key.clone(), client_ca: args.client_ca.clone() })
        }
        _ => None,
    };
    let listeners = Listeners {
        tcp,
        tls: args.bind_tls.clone(),
        ws: args.bind_ws.clone(),
        wss: args.bind_wss.clone(),
        ws_path: Some(args.ws_path.clone()),
        tls_options,
        http_publish: args.bind_http_publish.clone(),
    };
    Ok((cfg, listeners))
}

/// A future that resolves on Ctrl-C or SIGTERM; the handlers are installed when it is created.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).expect("SIGINT handler");
    async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--strict-client-ids` sets the config key; without it the config file's value stands.
    #[test]
    fn strict_client_ids_flag_sets_the_config_key() {
        let args = Args::try_parse_from(["lwt-broker", "--strict-client-ids"]).unwrap();
        assert!(setup(&args).unwrap().0.strict_client_ids);
        let args = Args::try_parse_from(["lwt-broker"]).unwrap();
        assert!(!setup(&args).unwrap().0.strict_client_ids);
    }

    /// `--bind-http-publish` needs `--namespace` and reaches the listeners.
    #[test]
    fn http_publish_flag_needs_a_namespace() {
        assert!(Args::try_parse_from(["lwt-broker", "--bind-http-publish", "127.0.0.1:0"]).is_err());
        let ns = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/namespaces/example.yaml");
        let args = Args::try_parse_from(["lwt-broker", "--namespace", ns, "--bind-http-publish", "127.0.0.1:0"]).unwrap();
        let (cfg, listeners) = setup(&args).unwrap();
        assert_eq!(listeners.http_publish, ["127.0.0.1:0".parse::<SocketAddr>().unwrap()]);
        assert!(cfg.bearer_auth.0.is_none(), "no validator from the command line: the namespace's JWT issuers (none in the example: 401)");
    }
}
