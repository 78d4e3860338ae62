//! `lwt-harness`: judge a broker's Last Will behaviour.

/// jemalloc, as in `lwt-broker`: `lwt-harness broker` runs the same broker, and load runs keep
/// tens of thousands of short-lived connections.
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{Parser, Subcommand};
use lwt_harness::profile::Profile;
use lwt_harness::target::{Target, TargetSpec};
use std::path::PathBuf;
use std::process::ExitCode;

mod checks_cli;
mod webhook_cli;

/// Know that MQTT Last Will and Testament works.
#[derive(Parser, Debug)]
#[command(name = "lwt-harness", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// Where to run.
#[derive(clap::Args, Debug, Clone, Default)]
struct TargetArgs {
    /// An external broker: mqtt://host:port.
    #[arg(long, value_name = "URL")]
    broker: Option<String>,
    /// Start a broker: a command with {port}, or `mosquitto`.
    #[arg(long, value_name = "CMD")]
    launch: Option<String>,
    /// What the target supports (fixtures/profiles/*.yaml).
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// mqtts:// only: CA certificates to trust (PEM).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// mqtts:// only: client certificate chain (PEM), presented by every client.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// mqtts:// only: the client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// mqtts:// only: the name the server certificate must carry (default: the URL's host).
    #[arg(long)]
    server_name: Option<String>,
    /// User Name every client sends (overrides the profile's `credentials.username`).
    #[arg(long)]
    username: Option<String>,
    /// Password every client sends (overrides the profile's `credentials.password`).
    #[arg(long)]
    password: Option<String>,
}

impl TargetArgs {
    /// The profile with the `--username/--password` login applied.
    fn with_login(&self, profile: Profile) -> Profile {
        profile.with_login(self.username.clone(), self.password.clone())
    }
}

impl TargetArgs {
    /// The target these flags describe.
    fn spec(&self) -> anyhow::Result<TargetSpec> {
        use lwt_harness::target::BrokerUrl;
        use lwt_harness::transport::{Identity, TlsClient};
        match (&self.broker, &self.ca) {
            (Some(url), Some(ca)) => {
                let url: BrokerUrl = url.parse()?;
                anyhow::ensure!(url.tls, "--ca is for mqtts:// brokers, not {url}");
                let identity = match (&self.cert, &self.key) {
                    (Some(c), Some(k)) => Some(Identity { cert_chain: c.clone(), key: k.clone() }),
                    _ => None,
                };
                let server_name = self.server_name.clone().unwrap_or_else(|| url.host.clone());
                Ok(TargetSpec::External(url, Some(TlsClient { ca: ca.clone(), server_name, identity, issuer: None })))
            }
            (None, Some(_)) => anyhow::bail!("--ca needs --broker mqtts://host:port"),
            _ => TargetSpec::from_flags(self.broker.as_deref(), self.launch.as_deref()),
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the reference broker as a process, exactly as `lwt-broker` does (same flags; try
    /// `lwt-harness broker --help`). Load runs use it to give the broker its own process when a
    /// fleet is too large to share one with it.
    #[command(disable_help_flag = true)]
    Broker {
        /// lwt-broker's flags, e.g. `--bind 127.0.0.1:1883`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Run Gherkin feature files against a target (embedded reference broker by default). Exit 0 when
    /// every MUST scenario that ran passed, 1 when one failed, 2 on usage or set-up errors, 3 when
    /// verdicts errored (the harness could not judge) or were flaky and no MUST failed.
    Check {
        /// Feature files or folders (default: features/).
        features: Vec<PathBuf>,
        #[command(flatten)]
        target: TargetArgs,
        /// Tag expression, e.g. "@v5 and not @slow".
        #[arg(long)]
        tags: Option<String>,
        /// Report folder (default: reports/check-<UTC time>/, e.g. reports/check-2026-12-05T02-31-07Z).
        #[arg(long)]
        report_dir: Option<PathBuf>,
        /// Print cucumber's step-by-step output instead of a progress bar.
        #[arg(long, short)]
        verbose: bool,
        /// Scenarios run at once (default: the profile's `concurrency`, else 16).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Run each failing or erroring scenario again N times, alone; a verdict that changes is
        /// reported FLAKY with its history.
        #[arg(long, value_name = "N", default_value_t = 0)]
        rerun_failures: usize,
        /// Run against several targets in turn and print one table of rules × targets. Each is
        /// `embedded`, `mosquitto`, a launcher name in fixtures/brokers/ (`aedes`, `amqtt`,
        /// `ejabberd`: launched with its profile), `mqtt://host:port`, or a launch command with {port}.
        #[arg(long, num_args = 2.., value_name = "TARGET", conflicts_with_all = ["broker", "launch"])]
        compare: Vec<String>,
        /// An identities folder (`lwt-harness init`): a client named X presents `DIR/clients/X.pem`
        /// and `.key`, uses username X, and trusts `DIR/ca.pem` unless --ca says otherwise.
        #[arg(long, value_name = "DIR")]
        identities: Option<PathBuf>,
        /// Start the embedded reference broker with TLS, Event Grid limits and `DIR/namespace.yaml`
        /// from a folder `lwt-harness init eventgrid-lwt` wrote; clients use its identities.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["broker", "launch", "compare", "identities"])]
        eventgrid: Option<PathBuf>,
        /// With --eventgrid: serve MQTT over WebSockets over TLS (wss://127.0.0.1:PORT/mqtt, client
        /// certificates as over mqtts) instead of MQTT over TLS.
        #[arg(long, requires = "eventgrid")]
        wss: bool,
        /// The client stack observers watch wills with: `lwt` (our codec) or `rumqttc` (an
        /// independent client; sensors, faults and odd packets stay on our codec). What rumqttc
        /// cannot do (TLS, a Maximum Packet Size it must exceed) makes the scenario an error.
        #[arg(long, value_enum, default_value_t = lwt_harness::actuator::ObserverStack::Lwt)]
        observer: lwt_harness::actuator::ObserverStack,
    },
    /// Write a ready-to-run set-up: `eventgrid-lwt` = the Event Grid Last Will walkthrough (CA,
    /// server and client certificates, namespace file with their thumbprints, README with the
    /// matching az commands).
    Init {
        /// What to write: eventgrid-lwt.
        #[arg(value_enum)]
        what: InitWhat,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Certificate validity in days.
        #[arg(long, default_value_t = 100)]
        days: i64,
    },
    /// Generate a test PKI: root → intermediate → localhost server and one certificate per client,
    /// with a SHA-256 thumbprint table. Private keys are written too (git-ignored; never commit them).
    Pki {
        /// Output folder.
        #[arg(long, default_value = "fixtures/certs")]
        out: PathBuf,
        /// Client names (comma-separated), e.g. sensor1,sensor2,actuator1,actuator2.
        #[arg(long, value_delimiter = ',', required_unless_present = "jwt_issuer")]
        clients: Vec<String>,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// A JWT issuer NAME instead (RS256; reused if OUT/jwt/NAME.key exists): OUT/jwt/NAME.{key,jwks.json,pem}.
        #[arg(long)]
        jwt_issuer: Option<String>,
        /// Tokens from --jwt-issuer for these clients (sub = name; type claim actuator/sensor): OUT/jwt/NAME.jwt.
        #[arg(long, value_delimiter = ',')]
        jwt_tokens: Vec<String>,
        /// The tokens' aud (the namespace host name).
        #[arg(long, default_value = lwt_harness::init::JWT_AUDIENCE)]
        jwt_audience: String,
        /// The tokens' iss (the namespace's tokenIssuer).
        #[arg(long, default_value = lwt_harness::init::JWT_TOKEN_ISSUER)]
        jwt_iss: String,
        /// Token lifetime in minutes.
        #[arg(long, default_value_t = 60)]
        jwt_minutes: i64,
    },
    /// A quick conformance pass: the `@quick` feature scenarios (FIN, RST, network cuts, half-open
    /// and slow links, keep-alive, DISCONNECT reason codes, takeovers, will delay, retained will,
    /// will QoS and properties, protocol errors, restart), i.e. `check --tags @quick`; embedded
    /// reference broker by default. Exit codes as for `check`.
    Checks {
        #[command(flatten)]
        target: TargetArgs,
        /// Protocol versions to run (3.1.1, 5.0).
        #[arg(long, value_delimiter = ',', default_values_t = vec!["3.1.1".to_string(), "5.0".to_string()])]
        protocol: Vec<String>,
        /// A further tag expression, e.g. "@will-delay".
        #[arg(long)]
        tags: Option<String>,
        /// Report folder (default: reports/check-<UTC time>/).
        #[arg(long)]
        report_dir: Option<PathBuf>,
        /// Scenarios run at once (default: the profile's `concurrency`, else 16).
        #[arg(long)]
        concurrency: Option<usize>,
        /// Run each failing or erroring scenario again N times, alone (FLAKY when a verdict changes).
        #[arg(long, value_name = "N", default_value_t = 0)]
        rerun_failures: usize,
    },
    /// Run a YAML load scenario (scenarios/*.yaml): a fleet with wills is faulted at once and every will
    /// is counted and timed. Exit 0 when every will arrived once, 1 when wills were lost, duplicated or
    /// unexpected, 2 on usage or set-up errors.
    Load(LoadArgs),
    /// Combine shard summaries (`load --shard i/n --json F`) into one summary and report.
    Merge {
        /// JSON summaries, or folders of them.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Write the merged summary here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Report folder (default: reports/merge-<scenario>-<time>/).
        #[arg(long)]
        report_dir: Option<PathBuf>,
    },
    /// Broker throughput side by side: QoS 0 / 1 fan-in and fan-out messages per second.
    Bench {
        /// Targets: `embedded`, `lwt-broker`, `mosquitto`, `mqtt://host:port`, or a command with {port}.
        #[arg(default_values_t = vec!["embedded".to_string(), "mosquitto".to_string()])]
        targets: Vec<String>,
        /// Publishers (fan-in) or subscribers (fan-out).
        #[arg(long, default_value_t = 10)]
        clients: u32,
        /// Messages published per measurement.
        #[arg(long, default_value_t = 200_000)]
        messages: u64,
        /// Payload bytes.
        #[arg(long, default_value_t = 64)]
        payload: usize,
        /// Write the results as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// A configurable Event Grid authentication webhook (allow / deny lists, delay, failures) on
    /// loopback, for a namespace's `webHookAuthentication.endpointUrl`; prints each request.
    Webhook(webhook_cli::WebhookArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Broker { args }) = cli.command {
        return lwt_broker::cli::main_from(std::iter::once(std::ffi::OsString::from("lwt-broker")).chain(args));
    }
    let mut command = cli.command;
    if let Err(e) = init_logging(&mut command) {
        eprintln!("lwt-harness: {e:#}");
        return ExitCode::from(2);
    }
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let command = command.unwrap_or(Command::Checks {
        target: TargetArgs::default(),
        protocol: vec!["3.1.1".into(), "5.0".into()],
        tags: None,
        report_dir: None,
        concurrency: None,
        rerun_failures: 0,
    });
    match rt.block_on(run(command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lwt-harness: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Broker { .. } => unreachable!("handled in main, before the harness's runtime starts"),
        Command::Load(args) => Ok(ExitCode::from(lwt_harness::load::cli::load(args.request()).await?)),
        Command::Merge { inputs, json, report_dir } => {
            Ok(ExitCode::from(lwt_harness::load::cli::merge_cmd(&inputs, json.as_deref(), report_dir.as_deref())?))
        }
        Command::Bench { targets, clients, messages, payload, json } => {
            Ok(ExitCode::from(lwt_harness::load::cli::bench(&targets, clients, messages, payload, json.as_deref()).await?))
        }
        Command::Check { features, target, tags, report_dir, concurrency, rerun_failures, compare, observer, .. } if !compare.is_empty() => {
            let features = if features.is_empty() { vec![PathBuf::from("features")] } else { features };
            let report_dir = report_dir.unwrap_or_else(|| PathBuf::from("reports").join(lwt_harness::report::timestamped("compare")));
            let mut columns = Vec::new();
            let mut table: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
            let mut worst = 0u8;
            for (i, name) in compare.iter().enumerate() {
                let (spec, profile) = compare_target(name, target.profile.as_deref())?;
                let profile = target.with_login(profile);
                std::fs::create_dir_all(report_dir.join(format!("{i}")))?;
                let t = Target::start(&spec).await?.keep_log_at(report_dir.join(format!("{i}")).join("broker.log"));
                lwt_harness::client_settings::preflight(&t, &profile).await?;
                println!("== {} ({})", t.name(), t.addr());
                columns.push(t.name().to_string());
                let opts = lwt_harness::bdd::RunOptions {
                    paths: features.clone(),
                    tags: tags.clone(),
                    report_dir: Some(report_dir.join(format!("{i}"))),
                    concurrency: concurrency.or(profile.concurrency).unwrap_or(16),
                    rerun_failures,
                    observer,
                };
                let (summary, records) = lwt_harness::bdd::run(t, profile, opts).await?;
                worst = worse_exit(worst, summary.exit_code());
                for (rule, rows) in lwt_harness::bdd::report::by_rule(&records) {
                    let cell = table.entry(rule).or_insert_with(|| vec![String::from("-"); compare.len()]);
                    cell[i] = compare_cell(&rows);
                }
            }
            let mut md = format!("| rule | {} |\n|---|{}\n", columns.join(" | "), "---|".repeat(columns.len()));
            for (rule, cells) in &table {
                md.push_str(&format!("| {rule} | {} |\n", cells.join(" | ")));
            }
            std::fs::create_dir_all(&report_dir)?;
            std::fs::write(report_dir.join("compare.md"), &md)?;
            print!("{md}");
            println!("reports: {}", report_dir.display());
            Ok(ExitCode::from(worst))
        }
        Command::Check { features, target, tags, report_dir, verbose, concurrency, rerun_failures, identities, eventgrid, wss, observer, .. } => {
            let spec = check_spec(&target, identities.as_deref(), eventgrid.as_deref(), wss)?;
            let profile = match &target.profile {
                Some(p) => Profile::load(p)?,
                None if eventgrid.is_some() => eventgrid_profile()?,
                None if matches!(spec, TargetSpec::Embedded(_)) => Profile { name: "lwt-broker".into(), ..Profile::default() },
                None => Profile::default(),
            };
            let profile = target.with_login(profile);
            let features = if features.is_empty() { vec![PathBuf::from("features")] } else { features };
            for f in &features {
                anyhow::ensure!(f.exists(), "feature path {} does not exist", f.display());
            }
            let report_dir = report_dir.unwrap_or_else(|| PathBuf::from("reports").join(lwt_harness::report::timestamped("check")));
            // --eventgrid: the broker's client life-cycle events go to the report folder.
            let spec = match eventgrid {
                Some(_) => {
                    std::fs::create_dir_all(&report_dir)?;
                    lwt_harness::bdd::eventgrid::with_lifecycle_events(spec, &report_dir)
                }
                None => spec,
            };
            let t = Target::start(&spec).await?.keep_log_at(report_dir.join("broker.log"));
            let t = match identities.as_ref().or(eventgrid.as_ref()) {
                Some(dir) => t.with_identities(lwt_harness::init::Identities::new(dir)),
                None => t,
            };
            lwt_harness::client_settings::preflight(&t, &profile).await?;
            println!("target: {} ({}), profile: {}, observers: {observer:?}", t.name(), t.addr(), profile.name);
            let concurrency = concurrency.or(profile.concurrency).unwrap_or(16);
            anyhow::ensure!(concurrency > 0, "--concurrency must be at least 1");
            let opts = lwt_harness::bdd::RunOptions { paths: features, tags, report_dir: Some(report_dir.clone()), concurrency, rerun_failures, observer };
            let console = lwt_harness::console::Console::start(verbose);
            let (summary, records) = lwt_harness::bdd::run(t, profile, opts).await?;
            console.finish();
            lwt_harness::console::print_results(&summary, &records, &report_dir);
            anyhow::ensure!(summary.parse_errors == 0, "{} feature file(s) could not be parsed", summary.parse_errors);
            Ok(ExitCode::from(summary.exit_code()))
        }
        Command::Init { what: InitWhat::EventgridLwt, out, days } => init_eventgrid_lwt(&out, days),
        Command::Pki { out, jwt_issuer: Some(issuer), jwt_tokens, jwt_audience, jwt_iss, jwt_minutes, .. } => {
            for line in lwt_harness::jwt::pki_command(&out, &issuer, &jwt_iss, &jwt_audience, &jwt_tokens, jwt_minutes)? {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Pki { out, clients, days, .. } => {
            let pki = lwt_harness::pki::generate(&clients, days)?;
            pki.write(&out)?;
            println!("wrote {} (keys are secrets: *-key.pem is git-ignored)", out.display());
            print!("{}", std::fs::read_to_string(out.join("thumbprints.md"))?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Checks { target, protocol, tags, report_dir, concurrency, rerun_failures } => {
            let check = checks_cli::as_check(target, &protocol, tags)?;
            Box::pin(run(checks_cli::with_run_options(check, report_dir, concurrency, rerun_failures))).await
        }
        Command::Webhook(args) => webhook_cli::run_webhook(args).await,
    }
}


/// The worse of two exit codes: 1 (a MUST failed) over 3 (errors or flaky) over 0.
fn worse_exit(a: u8, b: u8) -> u8 {
    let rank = |c: u8| match c {
        0 => 0,
        3 => 1,
        1 => 2,
        _ => 3,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// One cell of the `--compare` table: scenarios per outcome for one rule on one target.
fn compare_cell(rows: &[&lwt_harness::bdd::report::ScenarioRecord]) -> String {
    use lwt_harness::bdd::report::ScenarioOutcome as O;
    let (mut p, mut f, mut e, mut sk, mut other) = (0, 0, 0, 0, 0);
    for r in rows {
        match r.outcome {
            O::Passed => p += 1,
            O::Failed(_) => f += 1,
            O::Errored(_) | O::Undefined => e += 1,
            O::Skipped(_) => sk += 1,
            O::Flaky(_) | O::NotDone(_) => other += 1,
        }
    }
    let mut cell = format!("{p} pass / {f} fail / {sk} skip");
    if e > 0 {
        cell.push_str(&format!(" / {e} error"));
    }
    if other > 0 {
        cell.push_str(&format!(" / {other} flaky or not done"));
    }
    cell
}

/// Sends tracing output to a file in `check`'s report folder (`broker.log`: the embedded broker's
/// and the harness's logs, kept apart from the results; with `--broker`/`--launch`/`--compare`,
/// `harness.log`, since a launched broker's own output is `broker.log`), choosing the report folder
/// now if none was given. Other commands log warnings to stderr. `RUST_LOG` sets the filter.
fn init_logging(command: &mut Option<Command>) -> anyhow::Result<()> {
    let filter = |default: &str| tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    if let Some(Command::Check { report_dir, compare, target, .. }) = command {
        let prefix = if compare.is_empty() { "check" } else { "compare" };
        let dir = report_dir.get_or_insert_with(|| PathBuf::from("reports").join(lwt_harness::report::timestamped(prefix)));
        std::fs::create_dir_all(&*dir).map_err(|e| anyhow::anyhow!("cannot create report folder {}: {e}", dir.display()))?;
        let embedded = compare.is_empty() && target.broker.is_none() && target.launch.is_none();
        let file = std::fs::File::create(dir.join(if embedded { "broker.log" } else { "harness.log" }))?;
        tracing_subscriber::fmt().with_env_filter(filter("info")).with_ansi(false).with_writer(std::sync::Mutex::new(file)).init();
        return Ok(());
    }
    tracing_subscriber::fmt().with_env_filter(filter("warn")).with_writer(std::io::stderr).init();
    Ok(())
}

/// A `--compare` entry as a target and the profile to judge it with.
fn compare_target(name: &str, profile: Option<&std::path::Path>) -> anyhow::Result<(TargetSpec, Profile)> {
    let load = |default: &str| -> anyhow::Result<Profile> {
        match profile {
            Some(p) => Profile::load(p),
            None if std::path::Path::new(default).is_file() => Profile::load(std::path::Path::new(default)),
            None => Ok(Profile::default()),
        }
    };
    match name {
        "embedded" => Ok((TargetSpec::Embedded(Default::default()), Profile { name: "lwt-broker".into(), ..load("fixtures/profiles/lwt-broker.yaml")? })),
        "mosquitto" => Ok((TargetSpec::Launch("mosquitto".into()), load("fixtures/profiles/mosquitto.yaml")?)),
        // A broker with a launcher in fixtures/brokers/ (aedes, amqtt, ejabberd) and its profile.
        name if std::path::Path::new(&format!("fixtures/brokers/{name}.sh")).is_file() => Ok((
            TargetSpec::Launch(format!("fixtures/brokers/{name}.sh {{port}} {{dir}}")),
            load(&format!("fixtures/profiles/{name}.yaml"))?,
        )),
        url if url.starts_with("mqtt://") || url.starts_with("mqtts://") => Ok((TargetSpec::from_flags(Some(url), None)?, load("")?)),
        cmd => Ok((TargetSpec::Launch(cmd.into()), load("")?)),
    }
}

/// What `init` can write.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum InitWhat {
    /// The Event Grid MQTT Last Will walkthrough (sensors and actuators).
    EventgridLwt,
}

/// `init eventgrid-lwt`: writes the folder and says what is in it and how to run it.
fn init_eventgrid_lwt(out: &std::path::Path, days: i64) -> anyhow::Result<ExitCode> {
    let w = lwt_harness::init::eventgrid_lwt(out, days)?;
    println!("wrote {} (keys are secrets: never commit *.key)", out.display());
    println!("  ca.pem, server.pem, namespace.yaml, README.md");
    for (c, kind) in &w.clients {
        println!("  clients/{}.pem  {kind:<8}  {}", c.name, c.thumbprint);
    }
    println!("run: cargo run -p lwt-harness -- check features/seed/eventgrid-lwt.feature --eventgrid {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// The target of `check`: `--eventgrid DIR` (embedded, TLS, namespace), an mqtts:// broker with
/// `--identities DIR` (trusting `DIR/ca.pem` unless `--ca`), or the usual target flags.
fn check_spec(target: &TargetArgs, identities: Option<&std::path::Path>, eventgrid: Option<&std::path::Path>, wss: bool) -> anyhow::Result<TargetSpec> {
    use lwt_harness::init::Identities;
    if let Some(dir) = eventgrid {
        return lwt_harness::init::embedded_target(dir, wss);
    }
    match (identities, &target.broker) {
        (Some(dir), Some(url)) if target.ca.is_none() => {
            let url: lwt_harness::target::BrokerUrl = url.parse()?;
            anyhow::ensure!(url.tls, "--identities needs an mqtts:// broker, not {url}");
            let server_name = target.server_name.clone().unwrap_or_else(|| url.host.clone());
            Ok(TargetSpec::External(url, Some(Identities::new(dir).tls_client(&server_name))))
        }
        _ => target.spec(),
    }
}

/// `fixtures/profiles/eventgrid.yaml` when run from the repository, else the same limits built in.
fn eventgrid_profile() -> anyhow::Result<Profile> {
    let file = std::path::Path::new("fixtures/profiles/eventgrid.yaml");
    if file.is_file() {
        return Profile::load(file);
    }
    Ok(Profile {
        name: "eventgrid".into(),
        max_qos: 1,
        max_will_delay: Some(300),
        keep_alive_max: 1160,
        tls: true,
        eventgrid: true,
        ..Profile::default()
    })
}

/// Flags of `lwt-harness load`.
#[derive(clap::Args, Debug, Clone)]
struct LoadArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// An external broker: mqtt://host:port (loopback only unless --allow-remote).
    #[arg(long, value_name = "URL")]
    broker: Option<String>,
    /// Start a broker: `mosquitto`, `mosquitto-tls`, `lwt-broker` (the reference broker as its own
    /// process), or a command with {port}. Neither flag: the scenario's target, else embedded.
    #[arg(long, value_name = "CMD")]
    launch: Option<String>,
    /// Clients in the fleet (overrides fleet.count).
    #[arg(long)]
    clients: Option<u32>,
    /// Write the machine-readable summary here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Report folder (default: reports/load-<scenario>-<time>/).
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// Run slice i of n of the fleet (combine the shards' --json files with `lwt-harness merge`).
    #[arg(long, value_name = "i/n")]
    shard: Option<String>,
    /// Spread the fleet over this many loopback source addresses (127.0.0.1, .2, ...).
    #[arg(long)]
    source_addrs: Option<u32>,
    /// Allow a target outside 127.0.0.0/8 and ::1 (only load brokers that are yours).
    #[arg(long)]
    allow_remote: bool,
    /// Run the scenario against several targets in turn and print one table with ratios.
    #[arg(long, num_args = 2.., value_name = "TARGET", conflicts_with_all = ["broker", "launch"])]
    compare: Vec<String>,
    /// With --compare: also measure QoS 0 / 1 fan-in and fan-out throughput on each target.
    #[arg(long, requires = "compare")]
    throughput: bool,
    /// No progress bars.
    #[arg(long)]
    no_progress: bool,
    /// With --shard: meet the other shards through the broker and strike at one fleet-wide instant
    /// (every shard of the run passes the same ID; see deploy/k8s/README.md).
    #[arg(long, value_name = "ID")]
    barrier: Option<String>,
    /// Serve live Prometheus metrics (wills expected/received/lost, latency histograms) on
    /// 0.0.0.0:PORT/metrics while the run lasts.
    #[arg(long, value_name = "PORT")]
    metrics_port: Option<u16>,
    /// The broker's Event Grid client life-cycle events file (JSON Lines, e.g. the one given to
    /// `lwt-broker --lifecycle-events FILE` in --launch): after the run, report will vs life-cycle
    /// event latency per fault kind. The embedded reference broker's own file is found without it.
    #[arg(long, value_name = "FILE")]
    lifecycle_events: Option<PathBuf>,
}

impl LoadArgs {
    fn request(self) -> lwt_harness::load::cli::LoadRequest {
        lwt_harness::load::cli::LoadRequest {
            scenario: self.scenario,
            broker: self.broker,
            launch: self.launch,
            clients: self.clients,
            json: self.json,
            report_dir: self.report_dir,
            shard: self.shard,
            source_addrs: self.source_addrs,
            allow_remote: self.allow_remote,
            compare: self.compare,
            throughput: self.throughput,
            no_progress: self.no_progress,
            barrier: self.barrier,
            metrics_port: self.metrics_port,
            lifecycle_events: self.lifecycle_events,
        }
    }
}
