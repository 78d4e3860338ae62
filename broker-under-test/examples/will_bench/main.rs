//! Last-Will benchmark: lwt-broker against mosquitto, side by side, in one run.
//!
//! ```text
//! cargo run --release -p lwt-broker --example will_bench -- \
//!     [--wills N] [--ka-clients N] [--idle N] [--connects N] [--storm N] [--repeat N] \
//!     [--phases will,ka,rss,connect,storm] [--mosquitto PATH|auto|off]
//! ```
//!
//! Both brokers run as separate processes on loopback so their RSS can be read from
//! `/proc/<pid>/status`. lwt-broker is `target/release/lwt-broker` next to this example's binary
//! (`target/release/examples/`); unless `--no-build` is given the bench first runs
//! `cargo build --release -p lwt-broker --bin lwt-broker` so the binary matches the sources.
//! mosquitto gets a generated minimal config in a temporary directory and a free loopback port.
//! Each phase gets a fresh broker process, so one phase's allocations cannot hide another's.
//!
//! Phases, per broker:
//! 1. **Will latency after an abrupt close.** One raw observer (blocking socket, TCP_NODELAY,
//!    the shared codec) subscribes to `clients/+/status`. N victims CONNECT with a will on
//!    `clients/<id>/status`, then are closed one at a time on an open-loop schedule (one every
//!    `--interval-us`, default 1 ms), alternately with FIN (`shutdown(Write)` + close) and RST
//!    (`SO_LINGER 0` + close). Latency = observer receipt − **planned** close instant (wrk2 style, so
//!    a late injector shows up as latency instead of being omitted); the lag between planned and
//!    actual close is reported separately, and so is receipt − actual close call. A warm-up of
//!    `--warmup` closes precedes the recorded ones.
//! 2. **Keep-alive will error.** Clients with keep-alive 1, 2, 3 s (round robin) CONNECT with a
//!    will, read CONNACK and go silent with the socket open. Connects are spread over 1 s so
//!    deadlines don't all fall on the same instant. Error = will receipt − (instant the CONNECT
//!    write returned + 1.5 × keep-alive). Negative = the will came before the deadline: a violation.
//! 3. **RSS per idle connection with a will.** N clients CONNECT with a will (keep-alive 600 s) and
//!    stay idle; broker VmRSS before and after (once it has settled) gives KB per connection.
//! 4. **Connect rate.** `--connects` clients CONNECT with a will from 4 threads, at most
//!    `--connect-inflight` handshakes under way; rate = CONNACKs / wall time.
//! 5. **Will storm.** `--storm` clients with QoS 1 wills and one QoS 1 observer; every client is
//!    closed with FIN at one planned instant (as `scenarios/will-storm.yaml`); the first, median
//!    and last will's arrival after that instant.
//!
//! Phases alternate between the brokers, the latency phase runs in `--rounds` parts in ABBA
//! order and the connect and storm phases `--repeat` times each in ABBA order (the table shows
//! the median round), so background-load drift hits both alike. Prints one side-by-side table and PASS/FAIL per
//! target (computed from the measured values); exits 1 if lwt-broker misses a target.

mod brokers;
mod client;
mod os;
mod phases;
mod report;
mod storm;

use bytes::{Bytes, BytesMut};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use lwt_broker::codec::{
    decode_frame, read_frame, Connect, Packet, Properties, ProtocolVersion, PubResp, QoS, SubOptions, Subscribe, Will,
};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use brokers::*;
use client::*;
use os::*;
use phases::*;
use report::*;
use storm::*;

const V: ProtocolVersion = ProtocolVersion::V311;
/// Keep-alive of the observer, the will victims and the idle clients: long enough never to fire.
const LONG_KA: u16 = 600;
const WILL_FILTER: &str = "clients/+/status";

#[derive(Parser, Debug)]
#[command(name = "will_bench", about = "Last-Will latency, keep-alive precision and memory: lwt-broker vs mosquitto")]
struct Args {
    /// Wills measured in the abrupt-close latency phase (after the warm-up).
    #[arg(long, default_value_t = 2000)]
    wills: usize,
    /// Silent clients in the keep-alive phase (keep-alive 1, 2, 3 s round robin).
    #[arg(long = "ka-clients", default_value_t = 60)]
    ka_clients: usize,
    /// Idle connections with a will in the RSS phase.
    #[arg(long, default_value_t = 5000)]
    idle: usize,
    /// mosquitto binary: a path, `auto` (/usr/sbin/mosquitto or `mosquitto` on PATH) or `off`.
    #[arg(long, default_value = "auto")]
    mosquitto: String,
    /// lwt-broker binary (default: `lwt-broker` in the same target profile directory as this example).
    #[arg(long = "lwt-broker")]
    lwt_broker: Option<PathBuf>,
    /// Don't run `cargo build --release -p lwt-broker --bin lwt-broker` first.
    #[arg(long)]
    no_build: bool,
    /// Planned interval between two closes in the latency phase, in microseconds (open loop).
    #[arg(long = "interval-us", default_value_t = 1000)]
    interval_us: u64,
    /// Warm-up closes before the recorded ones (not recorded).
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// How victims close: fin, rst, or both (alternating).
    #[arg(long, value_enum, default_value_t = CloseMode::Both)]
    close: CloseMode,
    /// QoS of the wills and of the observer's subscription (0 or 1).
    #[arg(long, default_value_t = 1)]
    qos: u8,
    /// The will-latency phase is split into this many rounds, each on a fresh broker, alternating
    /// which broker goes first (ABBA...), so background load drifts affect both alike.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Clients in each connect-rate round.
    #[arg(long, default_value_t = 10_000)]
    connects: usize,
    /// Most CONNECT handshakes under way at once in the connect phase.
    #[arg(long = "connect-inflight", default_value_t = 64)]
    connect_inflight: usize,
    /// Clients with a will killed at once in each storm round.
    #[arg(long, default_value_t = 10_000)]
    storm: usize,
    /// Rounds of the connect and storm phases per broker (ABBA order); the table shows medians.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Phases to run (comma-separated): will, ka, rss, connect, storm.
    #[arg(long, default_value = "will,ka,rss,connect,storm", value_delimiter = ',')]
    phases: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CloseMode {
    Fin,
    Rst,
    Both,
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn err<T>(msg: impl Into<String>) -> Res<T> {
    Err(msg.into().into())
}

// ------------------------------------------------------------------------------------------ main

fn find_mosquitto(arg: &str) -> Option<PathBuf> {
    match arg {
        "off" => None,
        "auto" => {
            let p = PathBuf::from("/usr/sbin/mosquitto");
            if p.exists() {
                return Some(p);
            }
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|d| Path::new(d).join("mosquitto"))
                .find(|p| p.exists())
        }
        path => Some(PathBuf::from(path)),
    }
}

fn lwt_binary(a: &Args) -> Res<PathBuf> {
    if let Some(p) = &a.lwt_broker {
        return Ok(p.clone());
    }
    // target/<profile>/examples/will_bench -> target/<profile>/lwt-broker
    let exe = std::env::current_exe()?;
    let profile_dir = exe.parent().and_then(|d| d.parent()).ok_or("cannot locate the target directory")?;
    if !a.no_build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "lwt-broker", "--bin", "lwt-broker"]);
        if release {
            cmd.arg("--release");
        }
        eprintln!("building lwt-broker: {cmd:?}");
        let status = cmd.status()?;
        if !status.success() {
            return err(format!("building lwt-broker failed ({status})"));
        }
    }
    let p = profile_dir.join("lwt-broker");
    if !p.exists() {
        return err(format!("{} not found: run `cargo build --release -p lwt-broker` or pass --lwt-broker", p.display()));
    }
    Ok(p)
}

fn main() -> std::process::ExitCode {
    let a = Args::parse();
    tight_timer_slack();
    let (soft, hard) = raise_nofile();
    let need = a.idle.max(a.wills + a.warmup).max(a.connects).max(a.storm) + a.ka_clients + 64;
    if (soft as usize) < need {
        eprintln!("warning: open-files limit {soft} (hard {hard}) is below the ~{need} sockets this run holds");
    }
    for (what, n, min) in [("--wills", a.wills, 1000), ("--ka-clients", a.ka_clients, 50), ("--idle", a.idle, 5000)] {
        if n < min {
            eprintln!("note: {what} {n} is below the benchmark's nominal minimum of {min}");
        }
    }
    if cfg!(debug_assertions) {
        eprintln!("note: this bench is a debug build; run it with --release for representative numbers");
    }
    let bins = match lwt_binary(&a) {
        Ok(lwt) => Binaries { lwt, mosquitto: find_mosquitto(&a.mosquitto) },
        Err(e) => {
            eprintln!("will_bench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let mosq_version = bins.mosquitto.as_ref().and_then(|p| {
        let out = Command::new(p).arg("-h").output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        text.lines().find_map(|l| l.strip_prefix("mosquitto version ").map(|v| v.trim().to_string()))
    });
    let t0 = Instant::now();
    let load_before = loadavg();
    let kinds: Vec<Kind> =
        if bins.mosquitto.is_some() { vec![Kind::Lwt, Kind::Mosquitto] } else { vec![Kind::Lwt] };
    let mut results = run_all(&kinds, &bins, &a).into_iter();
    let lwt = results.next().expect("lwt results");
    let mosq = results.next();
    let elapsed = t0.elapsed();
    let load_after = loadavg();

    println!();
    println!("will_bench: {} wills (+{} warm-up) closed 1 per {} µs ({:?} close, QoS {} will + subscription), {} keep-alive clients (KA 1/2/3 s), {} idle connections",
        a.wills, a.warmup, a.interval_us, a.close, a.qos, a.ka_clients, a.idle);
    println!(
        "lwt-broker: {} | mosquitto: {} | cores: {} | load avg before {load_before}, after {load_after} | run took {:.1} s",
        bins.lwt.display(),
        match (&bins.mosquitto, &mosq_version) {
            (Some(p), Some(v)) => format!("{} ({v})", p.display()),
            (Some(p), None) => p.display().to_string(),
            (None, _) => "off".into(),
        },
        thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        elapsed.as_secs_f64()
    );
    println!("Latency origin: the PLANNED close instant (open-loop schedule, coordinated-omission safe); receipt = observer read() return.");
    println!("Keep-alive error = will receipt - (CONNECT write returned + 1.5 x KA); negative = will before the deadline.");
    println!();
    let empty = BrokerResults::default();
    let label = match &mosq_version {
        Some(v) if mosq.is_some() => format!("mosquitto {v}"),
        _ => "mosquitto".into(),
    };
    print_table(&rows(&lwt, mosq.as_ref().unwrap_or(&empty)), &label);
    print_rounds("lwt-broker", &lwt);
    if let Some(m) = &mosq {
        print_rounds("mosquitto", m);
    }
    println!();
    println!("Targets (lwt-broker):");
    let ran = |phase: &str| a.phases.iter().any(|x| x.trim() == phase);
    let mut all = true;
    for (phase, label, pass) in targets(&lwt, mosq.as_ref()) {
        let verdict = match pass {
            Some(true) => "PASS",
            Some(false) => {
                all = false;
                "FAIL"
            }
            None if !ran(phase) => "SKIP",
            None => {
                all = false;
                "FAIL (not measured)"
            }
        };
        println!("  {verdict:<4}  {label}");
    }
    if let Some(m) = &mosq {
        println!();
        println!("For reference, mosquitto against the same absolute targets:");
        for (phase, label, pass) in targets(m, None).into_iter().skip(2) {
            let verdict = match pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None if !ran(phase) => "SKIP",
                None => "n/a",
            };
            println!("  {verdict:<4}  {label}");
        }
    }
    if all { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::from(1) }
}
