//! Gherkin: one [`LwtWorld`], steps grouped by noun ([`clients`], [`wills`], [`faults`],
//! [`expectations`], [`eventgrid`]), each a thin call into the engine, and [`run`], which runs
//! feature files against a target and collects verdicts for the reports.
//!
//! Every scenario gets its own namespace: client ids and topics written in the feature
//! (`sensor1`, `clients/+/status`) are prefixed with a per-scenario token on the wire, so scenarios
//! run concurrently against one broker without seeing each other. `@eventgrid` scenarios are the
//! exception: an Event Grid namespace authorizes exact topics and names, so they go on the wire as
//! written, each client uses its name as username and presents its own certificate, and on the
//! embedded target each scenario gets its own broker.

pub mod clients;
pub mod eventgrid;
pub mod expectations;
pub mod faults;
pub mod report;
pub mod wills;

use crate::actuator::{Actuator, Observation};
use crate::fault::FaultRecord;
use crate::profile::Profile;
use crate::proxy::Proxy;
use crate::sensor::{ConnectOutcome, Sensor, SensorSpec};
use crate::target::Target;
use crate::transport::{Endpoint, Identity};
use crate::verdict::{Level, Verdict};
use cucumber::gherkin;
use lwt_codec::ProtocolVersion;
use report::{ScenarioOutcome, ScenarioRecord};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::time::Instant;

/// What every scenario of a run shares: the target and its profile.
pub struct RunEnv {
    /// Broker address.
    pub addr: SocketAddr,
    /// Broker address with its TLS settings (clients dial this).
    pub endpoint: Endpoint,
    /// Where clients take their certificates from (an Event Grid identities folder), if anywhere.
    pub identities: Option<crate::init::Identities>,
    /// Declared capabilities.
    pub profile: Profile,
    /// The target, for restart faults (scenarios that use it are tagged `@serial`).
    pub target: tokio::sync::Mutex<Option<Target>>,
    /// Scenario records for the reports.
    pub records: Mutex<Vec<ScenarioRecord>>,
}

static ENV: RwLock<Option<Arc<RunEnv>>> = RwLock::new(None);
static SCENARIO_SEQ: AtomicU64 = AtomicU64::new(0);

fn env() -> Arc<RunEnv> {
    ENV.read().unwrap().clone().expect("lwt_harness::bdd::run sets the run environment before any scenario")
}

/// A sensor as the feature names it: its spec, its live connection, and what happened to it.
#[derive(Default)]
pub struct SensorSlot {
    /// What it connects with.
    pub spec: Option<SensorSpec>,
    /// The live connection.
    pub live: Option<Sensor>,
    /// Connections kept open on purpose (silence, protocol errors, taken-over ones).
    pub held: Vec<FaultRecord>,
    /// Older connections replaced by a takeover, kept open until the broker closes them.
    pub replaced: Vec<Sensor>,
    /// How the last connection attempt was answered, if it was refused or closed.
    pub refused: Option<ConnectOutcome>,
    /// How the broker ended the connection after a refusing CONNACK (it must close it).
    pub after_refusal: Option<crate::sensor::ServerClose>,
    /// Keep-alive in force for the last connection (Server Keep Alive if the broker set one).
    pub keep_alive: u16,
}

/// The state of one scenario.
#[derive(cucumber::World)]
#[world(init = Self::new)]
pub struct LwtWorld {
    env: Arc<RunEnv>,
    /// Namespace of this scenario.
    pub prefix: String,
    /// Protocol used when a step does not say (`@v311` → 3.1.1, else 5.0).
    pub default_version: ProtocolVersion,
    /// Rule ids from the scenario's tags (`@MQTT-3.1.2-8`, Event Grid: `@EG-AUTH-thumbprint`).
    pub rules: Vec<String>,
    /// Level from the tags (`@must`, `@should`, `@may`).
    pub level: Level,
    /// Sensors by name.
    pub sensors: BTreeMap<String, SensorSlot>,
    /// Actuators by name.
    pub actuators: BTreeMap<String, Actuator>,
    /// The fault proxy sensors connect through.
    pub proxy: Option<Proxy>,
    /// The last fault: (victim name, planned, actual).
    pub last_fault: Option<(String, Instant, Instant)>,
    /// The observation the last expectation matched (for follow-up steps).
    pub last_observation: Option<(String, Observation)>,
    /// Verdicts of this scenario.
    pub verdicts: Vec<Verdict>,
    /// A reference broker started for this scenario alone (capability scenarios, `@reference-only`).
    pub own_broker: Option<Target>,
    /// `@eventgrid`: names and topics unprefixed, username = name, per-client certificates.
    pub eventgrid: bool,
    /// Certificates chosen explicitly per client (`None` = present none).
    pub certs: BTreeMap<String, Option<Identity>>,
    /// This scenario's certificates and namespace (an identities folder in a temporary directory).
    pub pki: Option<eventgrid::ScenarioPki>,
    /// Extra CONNECT properties per client (e.g. a user property the Event Grid profile refuses).
    pub connect_properties: BTreeMap<String, Vec<lwt_codec::Property>>,
    /// Codec-level clients for authorization checks, by name.
    pub raw: BTreeMap<String, eventgrid::RawClient>,
    /// The last PUBLISH attempt of each raw client.
    pub publish_outcomes: BTreeMap<String, eventgrid::PublishOutcome>,
    /// The SUBACK codes (or the close) of each raw client's last SUBSCRIBE attempts, in order.
    pub subscribe_outcomes: BTreeMap<String, eventgrid::SubscribeOutcome>,
}

impl fmt::Debug for LwtWorld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LwtWorld")
            .field("prefix", &self.prefix)
            .field("sensors", &self.sensors.keys().collect::<Vec<_>>())
            .field("actuators", &self.actuators.keys().collect::<Vec<_>>())
            .field("verdicts", &self.verdicts)
            .finish()
    }
}

impl Default for LwtWorld {
    fn default() -> Self {
        Self::new()
    }
}

impl LwtWorld {
    /// A fresh scenario in its own namespace.
    pub fn new() -> Self {
        let n = SCENARIO_SEQ.fetch_add(1, Ordering::Relaxed);
        LwtWorld {
            env: env(),
            prefix: format!("lwt{}s{n}", std::process::id()),
            default_version: ProtocolVersion::V5,
            rules: Vec::new(),
            level: Level::Must,
            sensors: BTreeMap::new(),
            actuators: BTreeMap::new(),
            proxy: None,
            last_fault: None,
            last_observation: None,
            verdicts: Vec::new(),
            own_broker: None,
            eventgrid: false,
            certs: BTreeMap::new(),
            pki: None,
            connect_properties: BTreeMap::new(),
            raw: BTreeMap::new(),
            publish_outcomes: BTreeMap::new(),
            subscribe_outcomes: BTreeMap::new(),
        }
    }

    /// The broker address (the scenario's own reference broker if it started one).
    pub fn addr(&self) -> SocketAddr {
        self.own_broker.as_ref().map(|t| t.addr()).unwrap_or(self.env.addr)
    }
    /// Where clients dial: the scenario's own broker if it started one, else the run's target (with
    /// TLS settings when it speaks TLS).
    pub fn endpoint(&self) -> Endpoint {
        match &self.own_broker {
            Some(t) => t.endpoint(),
            None => self.env.endpoint.clone(),
        }
    }
    /// The certificate client `name` presents: one chosen by a step, else the scenario's
    /// certificate of that name, else the run's identities folder's, else the target's default.
    pub fn identity(&self, name: &str) -> Option<Identity> {
        if let Some(chosen) = self.certs.get(name) {
            return chosen.clone();
        }
        let from_scenario = self.pki.as_ref().and_then(|p| p.identities().identity(name));
        from_scenario.or_else(|| if self.own_broker.is_none() { self.env.identities.as_ref()?.identity(name) } else { None })
    }
    /// Connects an observer: over the scenario's endpoint with its certificate, username = name in
    /// `@eventgrid` scenarios.
    pub async fn connect_actuator(&self, name: &str, mut spec: crate::actuator::ActuatorSpec) -> anyhow::Result<Actuator> {
        self.settings().fill_observer(name, &mut spec);
        let stream = self.endpoint().dial(self.identity(name).as_ref()).await?;
        Actuator::connect_over(stream, spec).await
    }
    /// Keep-alive, logins and client-id rules of this scenario's clients (from the profile).
    pub fn settings(&self) -> crate::client_settings::ClientSettings {
        crate::client_settings::ClientSettings::from_profile(&self.env.profile).names_on_wire(self.eventgrid)
    }
    /// The target's profile.
    pub fn profile(&self) -> &Profile {
        &self.env.profile
    }
    /// The run environment.
    pub fn run_env(&self) -> &Arc<RunEnv> {
        &self.env
    }
    /// A feature's topic or filter, in this scenario's namespace.
    pub fn topic(&self, t: &str) -> String {
        if self.eventgrid {
            return t.to_owned();
        }
        format!("{}/{}", self.prefix, t)
    }
    /// A feature's client name, as the client id on the wire.
    pub fn client_id(&self, name: &str) -> String {
        self.settings().client_id(&self.prefix, name)
    }
    /// The rule this scenario judges (first rule tag), for verdicts.
    pub fn rule(&self) -> String {
        self.rules.first().cloned().unwrap_or_else(|| "unlabelled".into())
    }
    /// The slot of sensor `name`, created on first use.
    pub fn sensor(&mut self, name: &str) -> &mut SensorSlot {
        self.sensors.entry(name.to_owned()).or_default()
    }
    /// The spec of sensor `name` (a 5.0 / tagged-protocol sensor without a will if not declared yet).
    pub fn spec_mut(&mut self, name: &str) -> &mut SensorSpec {
        let id = self.client_id(name);
        let v = self.default_version;
        let settings = self.settings();
        self.sensor(name).spec.get_or_insert_with(|| settings.sensor(name, id, v))
    }
    /// The actuator `name`.
    pub fn actuator(&self, name: &str) -> &Actuator {
        self.actuators.get(name).unwrap_or_else(|| panic!("no actuator {name:?} in this scenario"))
    }
    /// Records a verdict and fails the step if it did not pass.
    pub fn judge(&mut self, v: Verdict) {
        let ok = v.passed();
        let text = v.to_string();
        self.verdicts.push(v);
        assert!(ok, "{text}");
    }
    /// The instant of the last fault, or now if none.
    pub fn fault_at(&self) -> Instant {
        self.last_fault.as_ref().map(|f| f.2).unwrap_or_else(Instant::now)
    }
    /// Applies scenario tags: protocol, level and rule ids.
    fn apply_tags(&mut self, tags: &[String]) {
        for t in tags {
            match t.as_str() {
                "v311" => self.default_version = ProtocolVersion::V311,
                "v5" => self.default_version = ProtocolVersion::V5,
                "must" => self.level = Level::Must,
                "should" => self.level = Level::Should,
                "may" => self.level = Level::May,
                "eventgrid" => self.eventgrid = true,
                r if r.starts_with("MQTT-") || r.starts_with("EG-") => self.rules.push(r.to_owned()),
                _ => {}
            }
        }
    }
}

/// Why a scenario cannot run on this target, from its capability tags, or `None` if it can.
///
/// On the embedded target, `@eventgrid` scenarios start their own reference broker with TLS and an
/// Event Grid namespace, so they need neither `tls` nor `eventgrid` in the profile there.
pub fn missing_capability(tags: &[String], profile: &Profile, can_restart: bool, embedded: bool) -> Option<String> {
    let own_eventgrid = embedded && tags.iter().any(|t| t == "eventgrid");
    for t in tags {
        let missing = match t.as_str() {
            "v311" if !profile.speaks("3.1.1") => Some("MQTT 3.1.1"),
            "v5" if !profile.speaks("5.0") => Some("MQTT 5.0"),
            "qos1" if profile.max_qos < 1 => Some("QoS 1"),
            "qos2" if profile.max_qos < 2 => Some("QoS 2"),
            "retain" if !profile.retain_available => Some("retained messages"),
            "will-delay" if !profile.speaks("5.0") => Some("Will Delay (MQTT 5.0)"),
            "tls" if !profile.tls && !own_eventgrid => Some("TLS"),
            "eventgrid" if !profile.eventgrid && !embedded => Some("an Event Grid namespace (real, or the reference broker's emulation)"),
            "restart" if !can_restart => Some("a target the harness can restart"),
            "reference-only" if !embedded => Some("the embedded reference broker (the scenario configures its own)"),
            _ => None,
        };
        if let Some(m) = missing {
            return Some(m.to_owned());
        }
    }
    None
}

/// How to run features.
pub struct RunOptions {
    /// Feature files or folders.
    pub paths: Vec<PathBuf>,
    /// Tag expression (`@v5 and not @slow`).
    pub tags: Option<String>,
    /// Folder for `junit.xml`, `cucumber.json`, `report.md`, `report.html`.
    pub report_dir: Option<PathBuf>,
    /// Scenarios run at once.
    pub concurrency: usize,
}

/// Totals of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// Scenarios not run for a missing capability.
    pub skipped: usize,
    /// Failed scenarios whose level is MUST.
    pub must_failed: usize,
    /// Steps that passed / failed / were skipped (not matched).
    pub steps: (usize, usize, usize),
    /// Gherkin parse errors.
    pub parse_errors: usize,
}

impl fmt::Display for Summary {
    /// `N scenarios: P passed, F failed (M MUST), S skipped; steps: P passed, F failed, U undefined`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} scenarios: {} passed, {} failed ({} MUST), {} skipped; steps: {} passed, {} failed, {} undefined",
            self.passed + self.failed + self.skipped,
            self.passed,
            self.failed,
            self.must_failed,
            self.skipped,
            self.steps.0,
            self.steps.1,
            self.steps.2
        )
    }
}

/// Runs features against `target` (kept for restarts) with `profile`.
pub async fn run(target: Target, profile: Profile, opts: RunOptions) -> anyhow::Result<(Summary, Vec<ScenarioRecord>)> {
    use cucumber::writer::{self, Stats as _};
    use cucumber::tag::Ext as _;
    use cucumber::{World as _, WriterExt as _};

    let can_restart = target.can_restart();
    let embedded = target.is_embedded();
    let run_env = Arc::new(RunEnv {
        addr: target.addr(),
        endpoint: target.endpoint(),
        identities: target.identities().cloned(),
        profile: profile.clone(),
        target: tokio::sync::Mutex::new(Some(target)),
        records: Mutex::new(Vec::new()),
    });
    *ENV.write().unwrap() = Some(run_env.clone());

    let tag_expr: Option<gherkin::tagexpr::TagOperation> = match &opts.tags {
        Some(t) => Some(t.parse().map_err(|e| anyhow::anyhow!("invalid --tags expression {t:?}: {e}"))?),
        None => None,
    };
    for p in &opts.paths {
        anyhow::ensure!(p.exists(), "feature path {} does not exist", p.display());
    }

    // One cucumber run over one folder: several paths are copied into a temporary folder first.
    let staging;
    let input: PathBuf = match opts.paths.as_slice() {
        [] => anyhow::bail!("no feature files given"),
        [one] => one.clone(),
        many => {
            staging = tempfile::tempdir()?;
            for (i, p) in many.iter().enumerate() {
                copy_features(p, &staging.path().join(format!("{i:02}")))?;
            }
            staging.path().to_path_buf()
        }
    };

    let skipped: Arc<Mutex<Vec<ScenarioRecord>>> = Arc::default();
    let mut totals = Summary::default();
    let (junit, json): (Box<dyn std::io::Write>, Box<dyn std::io::Write>) = match &opts.report_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| anyhow::anyhow!("cannot create report folder {}: {e}", d.display()))?;
            (Box::new(std::fs::File::create(d.join("junit.xml"))?), Box::new(std::fs::File::create(d.join("cucumber.json"))?))
        }
        None => (Box::new(std::io::sink()), Box::new(std::io::sink())),
    };

    let filter = {
        let skipped = skipped.clone();
        let profile = profile.clone();
        move |feat: &gherkin::Feature, rule: Option<&gherkin::Rule>, sc: &gherkin::Scenario| {
            let tags = all_tags(feat, rule, sc);
            if let Some(expr) = &tag_expr {
                if !expr.eval(tags.iter()) {
                    return false;
                }
            }
            if let Some(why) = missing_capability(&tags, &profile, can_restart, embedded) {
                skipped.lock().unwrap().push(ScenarioRecord::skipped(feat, sc, &tags, &why));
                return false;
            }
            true
        }
    };
    // Scenarios on one shared Event Grid namespace use the same client names (sessions), so they
    // take turns; everything else runs concurrently unless tagged @serial.
    let shared_namespace = run_env.identities.is_some();
    let writer = LwtWorld::cucumber()
        .max_concurrent_scenarios(profile.concurrency(opts.concurrency))
        .which_scenario(move |feat, rule, sc| {
            let tags = all_tags(feat, rule, sc);
            let has = |t: &str| tags.iter().any(|x| x == t);
            if has("serial") || (shared_namespace && has("eventgrid") && !has("reference-only")) {
                cucumber::runner::ScenarioType::Serial
            } else {
                cucumber::runner::ScenarioType::Concurrent
            }
        })
        .before(|feat, rule, sc, world| {
            Box::pin(async move {
                world.apply_tags(&all_tags(feat, rule, sc));
            })
        })
        .after(|feat, rule, sc, finished, world| {
            Box::pin(async move {
                let outcome = match finished {
                    cucumber::event::ScenarioFinished::StepPassed => ScenarioOutcome::Passed,
                    cucumber::event::ScenarioFinished::StepSkipped => ScenarioOutcome::Undefined,
                    cucumber::event::ScenarioFinished::StepFailed(_, _, e) => ScenarioOutcome::Failed(e.to_string()),
                    cucumber::event::ScenarioFinished::BeforeHookFailed(_) => {
                        ScenarioOutcome::Failed("before hook failed".into())
                    }
                };
                let verdicts = world.map(|w| std::mem::take(&mut w.verdicts)).unwrap_or_default();
                env().records.lock().unwrap().push(ScenarioRecord::ran(feat, sc, &all_tags(feat, rule, sc), outcome, verdicts));
            })
        })
        .with_writer(
            writer::Basic::raw(std::io::stdout(), writer::Coloring::Never, 0)
                .summarized()
                .tee::<LwtWorld, _>(writer::JUnit::for_tee(junit, 0))
                .tee::<LwtWorld, _>(writer::Json::for_tee(json))
                .normalized(),
        )
        // After `with_writer`, which resets it: never parse the process's arguments.
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .filter_run(input, filter)
        .await;
    totals.steps = (writer.passed_steps(), writer.failed_steps(), writer.skipped_steps());
    totals.parse_errors = writer.parsing_errors();

    let mut records = std::mem::take(&mut *run_env.records.lock().unwrap());
    records.extend(std::mem::take(&mut *skipped.lock().unwrap()));
    records.sort_by_key(|r| (r.feature.clone(), r.line));
    for r in &records {
        match &r.outcome {
            ScenarioOutcome::Passed => totals.passed += 1,
            ScenarioOutcome::Skipped(_) => totals.skipped += 1,
            ScenarioOutcome::Failed(_) | ScenarioOutcome::Undefined => {
                totals.failed += 1;
                if r.level == Level::Must {
                    totals.must_failed += 1;
                }
            }
        }
    }
    if let Some(dir) = &opts.report_dir {
        report::write(dir, &records, &totals, run_env.profile.name.as_str())?;
    }
    if let Some(t) = run_env.target.lock().await.take() {
        t.stop().await;
    }
    *ENV.write().unwrap() = None;
    Ok((totals, records))
}


/// Tags of a scenario with those of its feature and rule, without the `@`.
pub fn all_tags(feat: &gherkin::Feature, rule: Option<&gherkin::Rule>, sc: &gherkin::Scenario) -> Vec<String> {
    feat.tags.iter().chain(rule.iter().flat_map(|r| &r.tags)).chain(&sc.tags).cloned().collect()
}

fn copy_features(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    if from.is_file() {
        std::fs::create_dir_all(to)?;
        let name = from.file_name().ok_or_else(|| anyhow::anyhow!("bad feature path {}", from.display()))?;
        std::fs::copy(from, to.join(name))?;
        return Ok(());
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        match path.file_name() {
            Some(name) if path.is_dir() => copy_features(&path, &to.join(name))?,
            _ => copy_features(&path, to)?,
        }
    }
    Ok(())
}
