//! Load scenarios (`scenarios/*.yaml`): a fleet of victims with wills, observers, a connect ramp, a
//! fault plan, background traffic and limits. Parsed with serde-saphyr and `deny_unknown_fields`, so a
//! misspelt key is an error; every error names the key and the line, because a load run that silently
//! ignored a key would measure something else than the user asked for.

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name used in reports and JSON (defaults to the file stem).
    #[serde(default)]
    pub name: String,
    /// What the scenario shows, for the report.
    #[serde(default)]
    pub description: String,
    /// Target defaults (the CLI's `--broker` / `--launch` override them).
    #[serde(default)]
    pub target: TargetDefaults,
    /// The victims.
    pub fleet: FleetSpec,
    /// The subscribers that must see the wills.
    #[serde(default)]
    pub observers: ObserverSpec,
    /// How fast the fleet connects.
    #[serde(default)]
    pub ramp: RampSpec,
    /// What goes wrong, to whom, and when.
    pub fault: FaultSpec,
    /// Messages published while the fleet is up (optional).
    #[serde(default)]
    pub background: Option<BackgroundSpec>,
    /// How many times the whole run is repeated (histograms and counts add up).
    #[serde(default = "one")]
    pub repetitions: u32,
    /// Time limits.
    #[serde(default)]
    pub limits: Limits,
}

fn one() -> u32 {
    1
}

/// Target defaults a scenario may carry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetDefaults {
    /// `mqtt://host:port` of a running broker.
    #[serde(default)]
    pub broker: Option<String>,
    /// A launch command (`mosquitto`, `mosquitto-tls`, or a command with `{port}`).
    #[serde(default)]
    pub launch: Option<String>,
    /// How many loopback source addresses (127.0.0.1, .2, ...) the fleet spreads over: lifts the
    /// ~28k ephemeral ports per (source, destination) limit. Only used for 127.0.0.0/8 targets.
    #[serde(default = "one")]
    pub source_addrs: u32,
}

impl Default for TargetDefaults {
    fn default() -> Self {
        TargetDefaults { broker: None, launch: None, source_addrs: 1 }
    }
}

/// MQTT protocol version of the fleet.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum Protocol {
    /// MQTT 3.1.1.
    #[serde(rename = "3.1.1")]
    V311,
    /// MQTT 5.0.
    #[serde(rename = "5.0")]
    V5,
}

impl Protocol {
    /// The codec's version.
    pub fn version(self) -> lwt_codec::ProtocolVersion {
        match self {
            Protocol::V311 => lwt_codec::ProtocolVersion::V311,
            Protocol::V5 => lwt_codec::ProtocolVersion::V5,
        }
    }
    /// "3.1.1" or "5.0".
    pub fn label(self) -> &'static str {
        match self {
            Protocol::V311 => "3.1.1",
            Protocol::V5 => "5.0",
        }
    }
}

/// The fleet of victims.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    /// Number of clients.
    pub count: u32,
    /// Client id pattern: `{i}` is the index (zero-padded with `{i:05}`), `{shard}` the shard.
    #[serde(default = "default_id")]
    pub id: String,
    /// Protocol version.
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    /// Keep-alive in seconds (0 = none).
    #[serde(default = "default_ka")]
    pub keep_alive: u16,
    /// Keep-alives assigned round-robin instead of `keep_alive` (keep-alive precision runs).
    #[serde(default)]
    pub keep_alives: Vec<u16>,
    /// Session Expiry Interval (5.0), seconds.
    #[serde(default)]
    pub session_expiry: Option<u32>,
    /// The will every client carries.
    pub will: WillSpec,
    /// Client certificates over TLS: `none` (plain TCP unless the target is TLS) or `shared` (the
    /// target's client identity, e.g. `--launch mosquitto-tls`).
    #[serde(default)]
    pub certificates: Certificates,
}

fn default_id() -> String {
    "load-{i}".into()
}
fn default_protocol() -> Protocol {
    Protocol::V311
}
fn default_ka() -> u16 {
    60
}

/// Which certificates the fleet presents.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Certificates {
    /// None of its own (a TLS target's default identity is still used).
    #[default]
    None,
    /// The target's shared client identity; the target must be TLS.
    Shared,
    /// One certificate per client (common name = its client id), issued before the ramp by the
    /// target's issuing CA (`mosquitto-tls` and `embedded-tls` have one); the target must be TLS.
    PerDevice,
}

/// The will of each client.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WillSpec {
    /// Topic pattern: `{id}` client id, `{i}` index. Must be unique per client (it identifies the
    /// will's sender).
    pub topic: String,
    /// Payload pattern: `{id}`, `{i}`, `{gen}` (connection generation: 0 first, 1 after a
    /// takeover or reconnect).
    #[serde(default = "default_payload")]
    pub payload: String,
    /// Will QoS.
    #[serde(default)]
    pub qos: u8,
    /// Will retain.
    #[serde(default)]
    pub retain: bool,
    /// Will Delay Interval (5.0), seconds.
    #[serde(default)]
    pub delay: u32,
}

fn default_payload() -> String {
    "{id} gen {gen}".into()
}

/// The observers.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ObserverSpec {
    /// How many; each one must receive every will its filters match.
    #[serde(default = "one")]
    pub count: u32,
    /// Topic filters each observer subscribes to.
    #[serde(default)]
    pub filters: Vec<String>,
    /// Subscription QoS.
    #[serde(default)]
    pub qos: u8,
}

impl Default for ObserverSpec {
    fn default() -> Self {
        ObserverSpec { count: 1, filters: Vec::new(), qos: 0 }
    }
}

/// The connect ramp.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RampSpec {
    /// Planned connects per second (0 = as fast as `concurrency` allows).
    #[serde(default = "default_rate")]
    pub rate: u32,
    /// Connects in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
}

fn default_rate() -> u32 {
    10_000
}
fn default_concurrency() -> u32 {
    512
}

impl Default for RampSpec {
    fn default() -> Self {
        RampSpec { rate: default_rate(), concurrency: default_concurrency() }
    }
}

/// Fault kinds a load run injects.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Close with FIN.
    Fin,
    /// Reset (SO_LINGER 0).
    Rst,
    /// Stop sending, keep the socket open: keep-alive expiry.
    Silence,
    /// DISCONNECT with reason 0x04 (5.0): disconnect with will.
    #[serde(rename = "disconnect-0x04")]
    Disconnect04,
    /// A second connection with the same client id.
    Takeover,
    /// The harness proxy stops forwarding (half-open link).
    Blackhole,
    /// SIGKILL to the launched broker, then the same command again ([`super::crash`]).
    Crash,
    /// Clients close, disconnect, are taken over and come back, for a long time ([`super::soak`]).
    Churn,
}

impl FaultKind {
    /// A stable label.
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::Fin => "fin",
            FaultKind::Rst => "rst",
            FaultKind::Silence => "silence",
            FaultKind::Disconnect04 => "disconnect-0x04",
            FaultKind::Takeover => "takeover",
            FaultKind::Blackhole => "blackhole",
            FaultKind::Crash => "crash",
            FaultKind::Churn => "churn",
        }
    }
    /// Whether the broker only finds out by keep-alive expiry.
    pub fn keepalive_detected(self) -> bool {
        matches!(self, FaultKind::Silence | FaultKind::Blackhole)
    }
}

/// Which clients the fault hits.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// Every client at one planned instant.
    #[default]
    All,
    /// Every client, in `waves` equal waves `wave_interval_ms` apart.
    Waves,
    /// A random `share` of the clients at one instant; the others must send no will.
    Share,
}

/// The fault plan.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What happens.
    pub kind: FaultKind,
    /// To whom.
    #[serde(default)]
    pub select: Selection,
    /// Number of waves (`select: waves`).
    #[serde(default = "default_waves")]
    pub waves: u32,
    /// Time between waves in ms.
    #[serde(default = "default_wave_interval")]
    pub wave_interval_ms: u64,
    /// Share of clients hit (`select: share`), 0..=1.
    #[serde(default = "default_share")]
    pub share: f64,
    /// Seed of the random choice (the same seed picks the same clients).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Planned fault instant, ms after the whole fleet is connected and the observers subscribed.
    #[serde(default = "default_at")]
    pub at_ms: u64,
    /// Clean Start of the taking-over connection (`kind: takeover`).
    #[serde(default = "default_true")]
    pub takeover_clean_start: bool,
    /// Clients that come back after the fault (same id, clean start 0): their delayed will must be
    /// cancelled, so none may appear (5.0 with `will.delay`).
    #[serde(default)]
    pub reconnect: Option<ReconnectSpec>,
    /// Who does what before a broker crash (`kind: crash`).
    #[serde(default)]
    pub crash: CrashSpec,
    /// How the fleet churns in a soak (`kind: churn`).
    #[serde(default)]
    pub soak: super::soak::SoakSpec,
}

/// Before a `kind: crash` fault: shares of the fleet (in id order) whose wills are deleted by
/// DISCONNECT 0x00 and published by FIN before the crash; the last `delayed_share` connect with a
/// Will Delay of `delay_s` (5.0). `at_ms` is then the pause between those and the SIGKILL.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CrashSpec {
    /// Share ended with DISCONNECT 0x00 (wills deleted).
    pub deleted_share: f64,
    /// Share closed with FIN (wills published before the crash).
    pub fired_share: f64,
    /// Share with a delayed will (live at the crash).
    pub delayed_share: f64,
    /// Their Will Delay Interval in seconds.
    pub delay_s: u32,
}

impl Default for CrashSpec {
    fn default() -> Self {
        CrashSpec { deleted_share: 0.1, fired_share: 0.1, delayed_share: 0.2, delay_s: 2 }
    }
}

fn default_waves() -> u32 {
    1
}
fn default_wave_interval() -> u64 {
    100
}
fn default_share() -> f64 {
    1.0
}
fn default_seed() -> u64 {
    1
}
fn default_at() -> u64 {
    200
}
fn default_true() -> bool {
    true
}

/// Clients that reconnect after the fault.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReconnectSpec {
    /// Share of the faulted clients that reconnect (every other one for 0.5), 0..=1.
    pub share: f64,
    /// When, ms after their fault.
    pub after_ms: u64,
}

/// Background traffic during the run.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackgroundSpec {
    /// Publishing clients.
    pub publishers: u32,
    /// Messages per second per publisher.
    pub rate: u32,
    /// Payload bytes.
    #[serde(default = "default_payload_size")]
    pub payload_size: usize,
    /// QoS of the messages (0 or 1).
    #[serde(default)]
    pub qos: u8,
    /// Topic pattern (`{i}` publisher index).
    #[serde(default = "default_bg_topic")]
    pub topic: String,
}

fn default_payload_size() -> usize {
    64
}
fn default_bg_topic() -> String {
    "load/background/{i}".into()
}

/// Time limits.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Longest time the fleet may take to connect, s.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_s: u64,
    /// Longest wait for the expected wills after the last planned fault (beyond any keep-alive
    /// deadline or will delay), s.
    #[serde(default = "default_will_timeout")]
    pub will_timeout_s: u64,
    /// After the last expected will (or the last reconnect, whichever is later), how long to keep
    /// listening for duplicates and unexpected wills, ms.
    #[serde(default = "default_settle")]
    pub settle_ms: u64,
}

fn default_connect_timeout() -> u64 {
    60
}
fn default_will_timeout() -> u64 {
    30
}
fn default_settle() -> u64 {
    500
}

impl Default for Limits {
    fn default() -> Self {
        Limits { connect_timeout_s: default_connect_timeout(), will_timeout_s: default_will_timeout(), settle_ms: default_settle() }
    }
}

/// The 1-based line in `text` where `path` (keys, outermost first) is written, if found.
pub fn line_of(text: &str, path: &[&str]) -> Option<usize> {
    let mut from = 0usize;
    let mut found = None;
    let lines: Vec<&str> = text.lines().collect();
    for key in path {
        let needle = format!("{key}:");
        let idx = lines.iter().enumerate().skip(from).find(|(_, l)| {
            let t = l.trim_start().trim_start_matches("- ");
            t.starts_with(&needle) || t.starts_with(&format!("\"{key}\":"))
        })?;
        found = Some(idx.0 + 1);
        from = idx.0 + 1;
    }
    found
}

impl Scenario {
    /// Parses YAML text. `origin` names the source in errors (a file path).
    pub fn from_yaml(text: &str, origin: &str) -> anyhow::Result<Scenario> {
        let s: Scenario = serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: invalid scenario: {e}"))?;
        s.validate(text, origin)?;
        Ok(s)
    }

    /// Reads and parses a scenario file; the name defaults to the file stem.
    pub fn load(path: &Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read scenario {}", path.display()))?;
        let mut s = Self::from_yaml(&text, &path.display().to_string())?;
        if s.name.is_empty() {
            s.name = path.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        }
        Ok(s)
    }

    /// Checks values serde cannot (ranges, combinations); errors name the key and its line.
    pub fn validate(&self, text: &str, origin: &str) -> anyhow::Result<()> {
        if self.target.broker.is_some() && self.target.launch.is_some() {
            bail!("{origin}: invalid scenario: target.broker and target.launch cannot both be set");
        }
        let Some((path, msg)) = self.fleet_problem().or_else(|| self.fault_problem()).or_else(|| self.other_problem()) else {
            return Ok(());
        };
        let key = path.join(".");
        match line_of(text, path) {
            Some(l) => bail!("{origin}: invalid scenario: {key} at line {l}: {msg}"),
            None => bail!("{origin}: invalid scenario: {key}: {msg}"),
        }
    }

    /// The first problem with the fleet: its key path and what is wrong.
    fn fleet_problem(&self) -> Option<Problem> {
        let f = &self.fleet;
        if f.count == 0 {
            return Some((&["fleet", "count"], "must be at least 1".into()));
        }
        if !f.will.topic.contains("{id}") && !f.will.topic.contains("{i}") {
            return Some((&["fleet", "will", "topic"], format!("{:?} must contain {{id}} or {{i}}: the topic identifies the will's sender", f.will.topic)));
        }
        if f.will.topic.contains('+') || f.will.topic.contains('#') {
            return Some((&["fleet", "will", "topic"], "a will topic cannot contain wildcards".into()));
        }
        if f.will.qos > 2 {
            return Some((&["fleet", "will", "qos"], format!("must be 0, 1 or 2 (got {})", f.will.qos)));
        }
        if !f.id.contains("{i") {
            return Some((&["fleet", "id"], format!("{:?} must contain {{i}} so every client id is unique", f.id)));
        }
        if f.will.delay > 0 && f.protocol != Protocol::V5 {
            return Some((&["fleet", "will", "delay"], "a Will Delay Interval needs protocol \"5.0\"".into()));
        }
        if f.session_expiry.is_some() && f.protocol != Protocol::V5 {
            return Some((&["fleet", "session_expiry"], "Session Expiry needs protocol \"5.0\"".into()));
        }
        if f.keep_alives.contains(&0) {
            return Some((&["fleet", "keep_alives"], "keep-alives must be at least 1 s".into()));
        }
        None
    }

    /// The first problem with the fault plan.
    fn fault_problem(&self) -> Option<Problem> {
        let f = &self.fleet;
        let fs = &self.fault;
        if !(0.0..=1.0).contains(&fs.share) || fs.share.is_nan() {
            return Some((&["fault", "share"], format!("must be between 0 and 1 (got {})", fs.share)));
        }
        if fs.select == Selection::Waves && fs.waves == 0 {
            return Some((&["fault", "waves"], "must be at least 1".into()));
        }
        if fs.kind == FaultKind::Disconnect04 && f.protocol != Protocol::V5 {
            return Some((&["fault", "kind"], "disconnect-0x04 needs protocol \"5.0\"".into()));
        }
        if fs.kind.keepalive_detected() && f.keep_alive == 0 && f.keep_alives.is_empty() {
            return Some((&["fleet", "keep_alive"], format!("fault {} is only detected by keep-alive: it must be non-zero", fs.kind.label())));
        }
        if let Some(r) = &fs.reconnect {
            if !(0.0..=1.0).contains(&r.share) || r.share.is_nan() {
                return Some((&["fault", "reconnect", "share"], format!("must be between 0 and 1 (got {})", r.share)));
            }
            if fs.kind == FaultKind::Takeover {
                return Some((&["fault", "reconnect"], "a takeover already reconnects".into()));
            }
        }
        None
    }

    /// The first problem with observers, ramp, background traffic, repetitions and target.
    fn other_problem(&self) -> Option<Problem> {
        if self.observers.qos > 2 {
            return Some((&["observers", "qos"], format!("must be 0, 1 or 2 (got {})", self.observers.qos)));
        }
        if self.observers.count == 0 {
            return Some((&["observers", "count"], "at least one observer is needed to see wills".into()));
        }
        if self.ramp.concurrency == 0 {
            return Some((&["ramp", "concurrency"], "must be at least 1".into()));
        }
        if let Some(b) = &self.background {
            if b.qos > 1 {
                return Some((&["background", "qos"], format!("must be 0 or 1 (got {})", b.qos)));
            }
            if b.rate == 0 {
                return Some((&["background", "rate"], "must be at least 1".into()));
            }
        }
        if self.repetitions == 0 {
            return Some((&["repetitions"], "must be at least 1".into()));
        }
        if self.target.source_addrs == 0 || self.target.source_addrs > 254 {
            return Some((&["target", "source_addrs"], "must be between 1 and 254".into()));
        }
        None
    }

    /// Observer filters, defaulting to the will topic with its identifying parts as `+`.
    pub fn observer_filters(&self) -> Vec<String> {
        if !self.observers.filters.is_empty() {
            return self.observers.filters.clone();
        }
        let t = &self.fleet.will.topic;
        let f: Vec<String> =
            t.split('/').map(|seg| if seg.contains('{') { "+".to_string() } else { seg.to_string() }).collect();
        vec![f.join("/")]
    }

    /// The keep-alive of client `i`.
    pub fn keep_alive_of(&self, i: u32) -> u16 {
        if self.fleet.keep_alives.is_empty() {
            self.fleet.keep_alive
        } else {
            self.fleet.keep_alives[i as usize % self.fleet.keep_alives.len()]
        }
    }
}

/// A problem in a scenario: the key path and what is wrong with it.
type Problem = (&'static [&'static str], String);

/// Expands a pattern: `{id}`, `{i}`, `{i:05}` (zero-padded), `{gen}`, `{shard}`.
pub fn expand(pattern: &str, id: &str, i: u32, gen: u32, shard: u32) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = &rest[open + 1..open + close];
        let (name, fmt) = inner.split_once(':').unwrap_or((inner, ""));
        let width: usize = fmt.trim_start_matches('0').parse().unwrap_or(0);
        match name {
            "id" => out.push_str(id),
            "i" => out.push_str(&format!("{i:0width$}")),
            "gen" => out.push_str(&gen.to_string()),
            "shard" => out.push_str(&shard.to_string()),
            _ => out.push_str(&rest[open..=open + close]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_expand() {
        assert_eq!(expand("dev-{i:05}", "", 42, 0, 0), "dev-00042");
        assert_eq!(expand("clients/{id}/status", "s1", 1, 0, 0), "clients/s1/status");
        assert_eq!(expand("{id} gen {gen}", "a", 0, 1, 0), "a gen 1");
        assert_eq!(expand("x{unknown}y", "a", 0, 1, 0), "x{unknown}y");
    }

    #[test]
    fn line_of_finds_nested_keys() {
        let t = "name: x\nfleet:\n  count: 3\n  will:\n    qos: 7\nobservers:\n  qos: 1\n";
        assert_eq!(line_of(t, &["fleet", "will", "qos"]), Some(5));
        assert_eq!(line_of(t, &["observers", "qos"]), Some(7));
    }
}
