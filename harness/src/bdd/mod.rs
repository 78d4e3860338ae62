//! Gherkin: one [`LwtWorld`], steps grouped by noun ([`clients`], [`wills`], [`faults`],
//! [`expectations`], [`eventgrid`], [`shared`], [`coverage`]), each a thin call into the engine, and [`run`], which runs
//! feature files against a target and collects verdicts for the reports.
//!
//! Every scenario gets its own namespace: client ids and topics written in the feature
//! (`sensor1`, `clients/+/status`) are prefixed with a per-scenario token on the wire, so scenarios
//! run concurrently against one broker without seeing each other. `@eventgrid` scenarios are the
//! exception: an Event Grid namespace authorizes exact topics and names, so they go on the wire as
//! written, each client uses its name as username and presents its own certificate, and on the
//! embedded target each scenario gets its own broker.

pub mod clients;
pub mod coverage;
pub mod durable;
pub mod eventgrid;
pub mod expectations;
pub mod faults;
pub mod junit;
pub mod report;
mod runner;
pub mod shared;
pub mod summary;
pub mod wills;

pub use runner::run;
pub use summary::Summary;

use crate::actuator::{Actuator, Observation};
use crate::fault::FaultRecord;
use crate::profile::Profile;
use crate::proxy::Proxy;
use crate::sensor::{ConnectOutcome, Sensor, SensorSpec};
use crate::target::Target;
use crate::transport::{Endpoint, Identity};
use crate::verdict::{Level, Status, Verdict};
use cucumber::gherkin;
use lwt_codec::ProtocolVersion;
use report::ScenarioRecord;
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
    /// The stack observers watch wills with (`--observer`); sensors always use our codec.
    pub observer: crate::actuator::ObserverStack,
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
    /// How each client's last re-authentication (AUTH 0x19) was answered.
    pub reauth_outcomes: BTreeMap<String, String>,
    /// Extra CONNECT properties per client (e.g. a user property the Event Grid profile refuses).
    pub connect_properties: BTreeMap<String, Vec<lwt_codec::Property>>,
    /// Codec-level clients for authorization checks, by name.
    pub raw: BTreeMap<String, eventgrid::RawClient>,
    /// The last PUBLISH attempt of each raw client.
    pub publish_outcomes: BTreeMap<String, eventgrid::PublishOutcome>,
    /// The SUBACK codes (or the close) of each raw client's last SUBSCRIBE attempts, in order.
    pub subscribe_outcomes: BTreeMap<String, eventgrid::SubscribeOutcome>,
    /// Shared-subscription groups as the feature names them: group → member names.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Event Grid HTTP Publish: the scenario broker's bearer tokens and each caller's last answer.
    pub http_publish: eventgrid::HttpPublishState,
    /// The scenario's Event Grid authentication webhook, if a step started one.
    pub webhook: Option<crate::webhook_server::WebhookServer>,
    /// Set when a verdict (a MUST failure or an error) stopped the scenario, so the after hook knows
    /// the step failure is already judged; any other step failure is a panic, judged as an error.
    pub stopped_by_verdict: bool,
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
            reauth_outcomes: BTreeMap::new(),
            raw: BTreeMap::new(),
            publish_outcomes: BTreeMap::new(),
            subscribe_outcomes: BTreeMap::new(),
            groups: BTreeMap::new(),
            http_publish: Default::default(),
            webhook: None,
            stopped_by_verdict: false,
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
    /// `@eventgrid` scenarios; on rumqttc's client with `--observer rumqttc`.
    pub async fn connect_actuator(&self, name: &str, mut spec: crate::actuator::ActuatorSpec) -> anyhow::Result<Actuator> {
        self.settings().fill_observer(name, &mut spec);
        if spec.authentication.is_none() {
            spec.authentication = self.stored_token(name);
        }
        if self.env.observer == crate::actuator::ObserverStack::Rumqttc {
            let ep = self.endpoint();
            let tls = match &ep.tls {
                Some(t) => Some((t.config(self.identity(name).as_ref())?, t.server_name.clone())),
                None => None,
            };
            let target = crate::rumqttc_observer::RumqttcTarget { addr: ep.addr, tls, ws_path: ep.ws.as_deref().map(str::to_owned) };
            return Actuator::connect_rumqttc(target, spec).await;
        }
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
    /// The extra CONNECT properties of sensor `name`: the scenario's, plus (5.0) its stored token
    /// as Authentication Method and Data unless a step chose another.
    pub fn sensor_connect_properties(&self, name: &str, version: lwt_codec::ProtocolVersion) -> Vec<lwt_codec::Property> {
        use lwt_codec::Property;
        let mut extra = self.connect_properties.get(name).cloned().unwrap_or_default();
        let chosen = extra.iter().any(|p| matches!(p, Property::AuthenticationMethod(_)));
        if let (false, lwt_codec::ProtocolVersion::V5, Some((m, d))) = (chosen, version, self.stored_token(name)) {
            extra.push(Property::AuthenticationMethod(m));
            extra.push(Property::AuthenticationData(d));
        }
        extra
    }
    /// The JWT client `name` presents (`CUSTOM-JWT`), if the scenario's or the run's identities
    /// folder has one (`jwt/NAME.jwt`, see [`crate::jwt`]).
    pub fn stored_token(&self, name: &str) -> Option<(String, bytes::Bytes)> {
        let dir = match (&self.pki, &self.own_broker) {
            (Some(p), _) => p.path().to_path_buf(),
            (None, None) => self.env.identities.as_ref()?.dir.clone(),
            (None, Some(_)) => return None,
        };
        crate::jwt::stored_token(&dir, name).map(|t| (crate::jwt::CUSTOM_JWT.to_owned(), bytes::Bytes::from(t)))
    }
    /// The actuator `name`.
    pub fn actuator(&self, name: &str) -> &Actuator {
        self.actuators.get(name).unwrap_or_else(|| panic!("no actuator {name:?} in this scenario"))
    }
    /// Records a verdict, judged on its own level: a MUST failure or an error stops the scenario (the
    /// step fails); a SHOULD failure is recorded and the scenario goes on, so the verdicts after it
    /// are still given; a MAY the broker did not do is "not done", never a failure.
    pub fn judge(&mut self, v: Verdict) {
        let v = v.at_level();
        let stop = match &v.status {
            Status::Fail => v.level == Level::Must,
            Status::Error(_) => true,
            _ => false,
        };
        let text = v.to_string();
        self.verdicts.push(v);
        if stop {
            self.stopped_by_verdict = true;
            panic!("{text}");
        }
    }
    /// Like [`LwtWorld::judge`], with the verdict's level lowered to at most `cap`: for a step whose
    /// behaviour the spec states at a weaker level than the scenario's rule (a server DISCONNECT
    /// before the close is a SHOULD, 4.13).
    pub fn judge_at_most(&mut self, mut v: Verdict, cap: Level) {
        v.level = v.level.max(cap);
        self.judge(v);
    }
    /// A Given/When step could not establish its precondition (`what`): records an error verdict
    /// for the scenario's rule and stops the scenario as an error, never as a failure of the rule.
    pub fn setup_error(&mut self, what: &str, why: impl fmt::Display) -> ! {
        let v = Verdict::error(&self.rule(), self.level, what, &why.to_string());
        let text = v.to_string();
        self.verdicts.push(v);
        self.stopped_by_verdict = true;
        panic!("{text}");
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
            "shared-subscriptions" if !profile.shared_subscriptions => Some("shared subscriptions"),
            "will-delay" if !profile.speaks("5.0") => Some("Will Delay (MQTT 5.0)"),
            "tls" if !profile.tls && !own_eventgrid => Some("TLS"),
            "eventgrid" if !profile.eventgrid && !embedded => Some("an Event Grid namespace (real, or the reference broker's emulation)"),
            "restart" if !can_restart => Some("a target the harness can restart"),
            "durable" if !profile.survives_crash => Some("sessions and wills that survive a crash (profile: survives_crash)"),
            "reference-only" if !embedded => Some("the embedded reference broker (the scenario configures its own)"),
            _ => None,
        };
        if let Some(m) = missing {
            return Some(m.to_owned());
        }
    }
    None
}

/// Why a scenario cannot run over this transport: `@websocket` scenarios (faults only a WebSocket
/// has, such as a close frame) need a `ws://` or `wss://` target.
pub fn missing_transport(tags: &[String], over_ws: bool) -> Option<String> {
    (!over_ws && tags.iter().any(|t| t == "websocket")).then(|| "MQTT over WebSockets (a ws:// or wss:// target)".to_owned())
}

/// How to run features.
pub struct RunOptions {
    /// Feature files or folders.
    pub paths: Vec<PathBuf>,
    /// Tag expression (`@v5 and not @slow`).
    pub tags: Option<String>,
    /// Folder for `junit.xml`, `cucumber.json`, `report.md`, `report.html`, `verdicts.json`.
    pub report_dir: Option<PathBuf>,
    /// Scenarios run at once.
    pub concurrency: usize,
    /// A scenario that fails or errors runs again this many times, alone; a verdict that changes
    /// makes it FLAKY, with its history.
    pub rerun_failures: usize,
    /// The stack observers watch wills with (`--observer lwt|rumqttc`).
    pub observer: crate::actuator::ObserverStack,
}

/// Tags of a scenario with those of its feature and rule, without the `@`.
pub fn all_tags(feat: &gherkin::Feature, rule: Option<&gherkin::Rule>, sc: &gherkin::Scenario) -> Vec<String> {
    feat.tags.iter().chain(rule.iter().flat_map(|r| &r.tags)).chain(&sc.tags).cloned().collect()
}
