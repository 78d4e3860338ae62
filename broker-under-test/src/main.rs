//! `lwt-broker`: run the reference broker as a process.

use clap::Parser;
use lwt_broker::Config;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// A strict MQTT 3.1.1 + 5.0 broker that is right on every Last-Will rule.
#[derive(Parser, Debug)]
#[command(name = "lwt-broker", version)]
struct Args {
    /// TCP address to listen on (repeatable; port 0 picks a free port).
    #[arg(long = "bind", default_value = "127.0.0.1:1883")]
    bind: Vec<SocketAddr>,
    /// Capabilities and limits (YAML; see fixtures/broker/).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "lwt_broker=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("lwt-broker: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async move {
        // Install the handlers before announcing readiness, so a SIGTERM right after the
        // "listening on" line still shuts down cleanly.
        let stop = shutdown_signal();
        let broker = match lwt_broker::start(cfg, &args.bind).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("lwt-broker: {e}");
                return ExitCode::from(2);
            }
        };
        for addr in broker.local_addrs() {
            println!("listening on {addr}");
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        stop.await;
        broker.shutdown().await;
        ExitCode::SUCCESS
    })
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
