//! What the `load`, `merge` and `bench` subcommands do, kept out of `main.rs` so the CLI file only
//! parses flags. Each returns the process exit status: 0 all good, 1 wills lost / duplicated /
//! unexpected (or an observer that could not prove it listened); set-up errors are `Err` (status 2).

use super::run::{parse_shard, RunOptions};
use super::scenario::Scenario;
use super::summary::Summary;
use super::throughput::{self, Throughput};
use super::{merge, report, run_scenario};
use crate::target::{Target, TargetSpec};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Flags of `lwt-harness load`.
#[derive(Clone, Debug, Default)]
pub struct LoadRequest {
    /// Scenario file.
    pub scenario: PathBuf,
    /// `--broker URL`.
    pub broker: Option<String>,
    /// `--launch CMD`.
    pub launch: Option<String>,
    /// `--clients N`.
    pub clients: Option<u32>,
    /// `--json FILE`.
    pub json: Option<PathBuf>,
    /// `--report-dir DIR`.
    pub report_dir: Option<PathBuf>,
    /// `--shard i/n`.
    pub shard: Option<String>,
    /// `--source-addrs N`.
    pub source_addrs: Option<u32>,
    /// `--allow-remote`.
    pub allow_remote: bool,
    /// `--compare T1 T2 ...`.
    pub compare: Vec<String>,
    /// `--throughput`: with `--compare`, also measure fan-in / fan-out messages per second.
    pub throughput: bool,
    /// `--no-progress`.
    pub no_progress: bool,
    /// `--barrier ID`: shards meet and strike at one fleet-wide instant.
    pub barrier: Option<String>,
    /// `--metrics-port PORT`: serve Prometheus metrics on 0.0.0.0:PORT during the run.
    pub metrics_port: Option<u16>,
    /// `--lifecycle-events FILE`: the broker's Event Grid life-cycle events file, read after the run
    /// (the embedded reference broker's own file is found without it).
    pub lifecycle_events: Option<PathBuf>,
}

/// The reference broker binary next to this executable (target/<profile>/lwt-broker), if built.
pub fn lwt_broker_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?.to_path_buf();
    for _ in 0..2 {
        let p = dir.join("lwt-broker");
        if p.is_file() {
            return Some(p);
        }
        dir = dir.parent()?.to_path_buf();
    }
    None
}

fn built_lwt_broker() -> anyhow::Result<PathBuf> {
    lwt_broker_bin().context(
        "the lwt-broker binary is not built next to lwt-harness: run `cargo build --release -p lwt-broker` (same profile)",
    )
}

/// A target by name: `embedded`, `embedded-tls` (in-process, TLS with client certificates),
/// `lwt-broker` (the reference broker as its own process),
/// `lwt-broker-unlimited` (the same, with no practical per-session queue cap), `mosquitto`,
/// `mosquitto-unlimited` (no queue caps), `mosquitto-tls`, `embedded-ws` (in-process, MQTT over
/// WebSockets), `mqtt://host:port`, `ws://host:port/path` (a running broker's websockets listener,
/// e.g. `fixtures/brokers/mosquitto-ws.sh` or `lwt-broker --bind-ws`), or a launch command with
/// `{port}`.
pub fn named_target(name: &str) -> anyhow::Result<TargetSpec> {
    match name {
        "embedded" => Ok(TargetSpec::Embedded(lwt_broker::Config::default())),
        "embedded-ws" => Ok(TargetSpec::EmbeddedWs(lwt_broker::Config::default())),
        "lwt-broker" => Ok(TargetSpec::Launch(format!("{} --bind 127.0.0.1:{{port}}", built_lwt_broker()?.display()))),
        "embedded-tls" => {
            // The reference broker in-process behind TLS, requiring client certificates (like
            // `mosquitto-tls`): a fresh test PKI, kept for the run in a temporary folder.
            let dir = tempfile::Builder::new().prefix("lwt-embedded-tls-").tempdir()?.keep();
            let client = crate::target::test_pki(&dir)?;
            Ok(TargetSpec::EmbeddedTls {
                config: lwt_broker::Config::default(),
                tls: lwt_broker::TlsOptions {
                    cert_chain: dir.join("server-chain.pem"),
                    key: dir.join("server-key.pem"),
                    client_ca: Some(dir.join("ca-chain.pem")),
                },
                client,
                ws: false,
            })
        }
        "lwt-broker-unlimited" => {
            // The reference broker's per-session queue holds 100,000 messages by default; a QoS 1
            // fan-in burst beyond that (the bench sends 200,000) is dropped, which makes no
            // throughput comparison with mosquitto-unlimited. This target lifts the cap.
            Ok(TargetSpec::Launch(format!(
                "sh -c 'printf \"max_queued_messages: 1000000000\\n\" > {{dir}}/unlimited.yaml && exec {} --bind 127.0.0.1:{{port}} --config {{dir}}/unlimited.yaml'",
                built_lwt_broker()?.display()
            )))
        }
        "mosquitto-unlimited" => {
            // mosquitto with no per-client queue or in-flight cap (Debian's defaults, max_queued_messages
            // 1000 and max_inflight_messages 20, drop QoS 1 wills beyond ~1,020 to one observer).
            let bin = crate::target::find_mosquitto().context("mosquitto is not installed")?;
            Ok(TargetSpec::Launch(format!(
                "sh -c 'printf \"listener {{port}} 127.0.0.1\\nallow_anonymous true\\npersistence false\\nmax_keepalive 65535\\n\
                 set_tcp_nodelay true\\nmax_queued_messages 0\\nmax_inflight_messages 0\\n\" > {{dir}}/unlimited.conf && exec {} -c {{dir}}/unlimited.conf'",
                bin.display()
            )))
        }
        url if ["mqtt://", "mqtts://", "ws://", "wss://"].iter().any(|p| url.starts_with(p)) => TargetSpec::from_flags(Some(url), None),
        cmd => Ok(TargetSpec::Launch(cmd.to_string())),
    }
}

/// [`named_target`], plus `embedded-eventgrid` ([`super::eventgrid`]), whose namespace registers
/// the scenario's fleet of `count` clients.
pub fn scenario_target(name: &str, s: &Scenario, count: u32) -> anyhow::Result<TargetSpec> {
    match name {
        super::eventgrid::NAME => super::eventgrid::target(s, count),
        _ => named_target(name),
    }
}

pub(super) fn target_spec(req: &LoadRequest, s: &Scenario) -> anyhow::Result<TargetSpec> {
    let count = req.clients.unwrap_or(s.fleet.count);
    if req.broker.is_some() || req.launch.is_some() {
        return match (&req.broker, &req.launch) {
            (None, Some(l)) => scenario_target(l, s, count),
            _ => TargetSpec::from_flags(req.broker.as_deref(), req.launch.as_deref()),
        };
    }
    match (&s.target.broker, &s.target.launch) {
        (Some(b), _) => TargetSpec::from_flags(Some(b), None),
        (None, Some(l)) => scenario_target(l, s, count),
        _ => Ok(TargetSpec::Embedded(lwt_broker::Config::default())),
    }
}

/// The embedded broker shares this process's file descriptors with the fleet. When the fleet is
/// too large for both (a 10,000-client storm under a 20,000 limit), the same reference broker runs
/// as its own process instead (`lwt-harness broker`), and the run says so.
fn own_process_if_too_big(spec: TargetSpec, s: &Scenario, opts: &RunOptions) -> anyhow::Result<TargetSpec> {
    let TargetSpec::Embedded(_) = &spec else { return Ok(spec) };
    let count = opts.clients.unwrap_or(s.fleet.count);
    let (lo, hi) = super::run::shard_range(count, opts.shard);
    if super::run::fits_with_embedded_broker(s, (hi - lo) as u64) {
        return Ok(spec);
    }
    let exe = std::env::current_exe().context("cannot find this executable to run the broker as its own process")?;
    eprintln!(
        "note: {} clients and the embedded broker do not fit in this process's {} file descriptors: \
         the reference broker runs as its own process (`lwt-harness broker`)",
        hi - lo,
        super::run::fd_limit()
    );
    Ok(TargetSpec::Launch(format!("{} broker --bind 127.0.0.1:{{port}}", exe.display())))
}

/// Refuses an external target outside loopback before any connection is tried.
fn refuse_remote(spec: &TargetSpec, allow_remote: bool) -> anyhow::Result<()> {
    if let TargetSpec::External(url, _) = spec {
        use std::net::ToSocketAddrs;
        let addrs: Vec<_> = (url.host.as_str(), url.port).to_socket_addrs().with_context(|| format!("cannot resolve {url}"))?.collect();
        for a in addrs {
            super::run::check_loopback(a.ip(), allow_remote)?;
        }
    }
    Ok(())
}

fn options(req: &LoadRequest) -> anyhow::Result<RunOptions> {
    Ok(RunOptions {
        clients: req.clients,
        shard: match &req.shard {
            Some(s) => parse_shard(s)?,
            None => (0, 1),
        },
        source_addrs: req.source_addrs,
        allow_remote: req.allow_remote,
        progress: !req.no_progress,
        barrier: req.barrier.clone(),
        lifecycle_events: req.lifecycle_events.clone(),
    })
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(value)?).with_context(|| format!("cannot write {}", path.display()))
}

/// `lwt-harness load`.
pub async fn load(req: LoadRequest) -> anyhow::Result<u8> {
    let s = Scenario::load(&req.scenario)?;
    match s.fault.kind {
        super::scenario::FaultKind::Crash => return super::crash::cli(&req, &s).await,
        super::scenario::FaultKind::Churn => return super::soak::cli(&req, &s).await,
        _ => {}
    }
    let mut opts = options(&req)?;
    if let Some(port) = req.metrics_port {
        super::metrics::serve(port, &s.name, opts.shard)?;
    }
    if !req.compare.is_empty() {
        return compare(&req, &s, &opts).await;
    }
    let spec = own_process_if_too_big(target_spec(&req, &s)?, &s, &opts)?;
    refuse_remote(&spec, req.allow_remote)?;
    let t = Target::start(&spec).await?;
    eprintln!("target: {} ({}), scenario: {}", t.name(), t.addr(), s.name);
    opts.lifecycle_events = super::lifecycle::file_for(req.lifecycle_events.as_ref(), &t);
    let result = run_scenario(&t, &s, &opts).await;
    t.stop().await;
    let summary = result?;
    print!("{}", report::table(&summary));
    finish(&req, &summary)?;
    Ok(if summary.failed() || summary.connect_failures > 0 { 1 } else { 0 })
}

fn finish(req: &LoadRequest, summary: &Summary) -> anyhow::Result<()> {
    if let Some(j) = &req.json {
        write_json(j, summary)?;
    }
    let dir = req.report_dir.clone().unwrap_or_else(|| PathBuf::from("reports").join(format!("load-{}-{}", summary.scenario, now_secs())));
    report::write(&dir, summary)?;
    println!("report: {}", dir.display());
    Ok(())
}

/// The throughput set measured by `--throughput` and `bench`: QoS 0 and 1, fan-in and fan-out.
pub async fn throughput_set(t: &Target, clients: u32, messages: u64, payload: usize) -> anyhow::Result<Vec<Throughput>> {
    let mut out = Vec::new();
    for qos in [0u8, 1] {
        for fan_in in [true, false] {
            let per = messages / clients.max(1) as u64;
            // Fan-in: each publisher sends its share; fan-out: the one publisher sends messages/clients,
            // so both deliver `messages` in all.
            let r = throughput::measure(&t.endpoint(), fan_in, qos, clients, per.max(1), payload).await?;
            out.push(r);
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    Ok(out)
}

async fn compare(req: &LoadRequest, s: &Scenario, opts: &RunOptions) -> anyhow::Result<u8> {
    let dir = req.report_dir.clone().unwrap_or_else(|| PathBuf::from("reports").join(format!("load-compare-{}-{}", s.name, now_secs())));
    let mut runs = Vec::new();
    let mut tputs = Vec::new();
    let mut failed = false;
    for (i, name) in req.compare.iter().enumerate() {
        let spec = own_process_if_too_big(scenario_target(name, s, opts.clients.unwrap_or(s.fleet.count))?, s, opts)?;
        refuse_remote(&spec, req.allow_remote)?;
        let t = Target::start(&spec).await?;
        eprintln!("== {} ({})", t.name(), t.addr());
        let opts = &RunOptions { lifecycle_events: super::lifecycle::file_for(req.lifecycle_events.as_ref(), &t), ..opts.clone() };
        let r = run_scenario(&t, s, opts).await;
        let tp = if req.throughput && r.is_ok() { Some(throughput_set(&t, 10, 200_000, 64).await) } else { None };
        t.stop().await;
        let mut r = r?;
        // The short name the user gave, so the table's columns stay readable.
        r.notes.push(format!("target: {}", r.target));
        r.target = name.clone();
        print!("{}", report::table(&r));
        failed |= r.failed() || r.connect_failures > 0;
        report::write(&dir.join(format!("{i}-{name}").replace(['/', ' ', ':'], "_")), &r)?;
        runs.push(r);
        if let Some(tp) = tp {
            tputs.push(tp?);
        }
    }
    let md = report::compare_table(&runs, &tputs);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("compare.md"), &md)?;
    if let Some(j) = &req.json {
        write_json(j, &runs)?;
    }
    println!("\n{md}");
    println!("reports: {}", dir.display());
    Ok(if failed { 1 } else { 0 })
}

/// `lwt-harness merge`.
pub fn merge_cmd(inputs: &[PathBuf], json: Option<&Path>, report_dir: Option<&Path>) -> anyhow::Result<u8> {
    let parts = merge::read_all(inputs)?;
    let m = merge::merge(&parts)?;
    print!("{}", report::table(&m));
    if let Some(j) = json {
        write_json(j, &m)?;
    }
    let dir = report_dir.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("reports").join(format!("merge-{}-{}", m.scenario, now_secs())));
    report::write(&dir, &m)?;
    println!("report: {}", dir.display());
    Ok(if m.failed() { 1 } else { 0 })
}

/// `lwt-harness bench`: broker throughput (QoS 0 / 1, fan-in / fan-out) for each target, one table.
pub async fn bench(targets: &[String], clients: u32, messages: u64, payload: usize, json: Option<&Path>) -> anyhow::Result<u8> {
    let mut all: Vec<(String, Vec<Throughput>)> = Vec::new();
    for name in targets {
        let t = Target::start(&named_target(name)?).await?;
        eprintln!("== {} ({})", t.name(), t.addr());
        let r = throughput_set(&t, clients, messages, payload).await;
        // The short name the user gave, so the table's columns stay readable (the "==" line above
        // says what it launched).
        let label = name.clone();
        t.stop().await;
        all.push((label, r?));
    }
    let mut md = String::from("| measurement |");
    for (n, _) in &all {
        md.push_str(&format!(" {n} msg/s (delivered/expected) |"));
    }
    for (n, _) in all.iter().skip(1) {
        md.push_str(&format!(" ratio {} / {} |", all[0].0.split(" (").next().unwrap_or(""), n.split(" (").next().unwrap_or("")));
    }
    md.push('\n');
    md.push_str(&"|---".repeat(1 + 2 * all.len() - 1));
    md.push_str("|\n");
    for i in 0..all[0].1.len() {
        let r0 = &all[0].1[i];
        md.push_str(&format!("| {} QoS {} ({} → {}) |", r0.pattern, r0.qos, r0.publishers, r0.subscribers));
        for (_, rs) in &all {
            md.push_str(&format!(" {:.0} ({}/{}) |", rs[i].msgs_per_s, rs[i].delivered, rs[i].expected));
        }
        for (_, rs) in all.iter().skip(1) {
            md.push_str(&format!(" {} |", r0.ratio_to(&rs[i])));
        }
        md.push('\n');
    }
    println!("{md}");
    if let Some(j) = json {
        write_json(j, &all)?;
    }
    Ok(0)
}
