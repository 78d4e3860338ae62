//! Load scenarios (`scenarios/*.yaml`): a fleet of victims with wills, observers, a connect ramp, a
//! fault plan, background traffic and limits. Parsed with serde-saphyr and `deny_unknown_fields`, so a
//! misspelt key is an error; every error names the key and the line, because a load run that silently
//! ignored a key would measure something else than the user asked for.

mod faults;
mod fleet;
mod limits;

pub use faults::{CrashSpec, FaultKind, FaultSpec, ReconnectSpec, Selection};
pub use fleet::{Certificates, FleetSpec, ObserverSpec, RampSpec, WillSpec};
pub use limits::{BackgroundSpec, Limits};

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
        if let Some(p) = self.mix_problem() {
            return Some(p);
        }
        let kinds = if fs.kind == FaultKind::Mixed { fs.mix.clone() } else { vec![fs.kind] };
        if kinds.contains(&FaultKind::Disconnect04) && f.protocol != Protocol::V5 {
            return Some((&["fault", "kind"], "disconnect-0x04 needs protocol \"5.0\"".into()));
        }
        if let Some(k) = kinds.iter().find(|k| k.keepalive_detected()).filter(|_| f.keep_alive == 0 && f.keep_alives.is_empty()) {
            return Some((&["fleet", "keep_alive"], format!("fault {} is only detected by keep-alive: it must be non-zero", k.label())));
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

    /// The first problem with `fault.mix`: only with `kind: mixed`, never empty, only kinds that end
    /// one member at a time.
    fn mix_problem(&self) -> Option<Problem> {
        let fs = &self.fault;
        if fs.kind != FaultKind::Mixed {
            return (!fs.mix.is_empty()).then(|| (&["fault", "mix"][..], "only goes with kind: mixed".to_string()));
        }
        if fs.mix.is_empty() {
            return Some((&["fault", "mix"], "kind: mixed needs a list of kinds, e.g. [fin, rst, silence, disconnect-0x04]".into()));
        }
        if let Some(k) = fs.mix.iter().find(|k| !k.mixable()) {
            return Some((&["fault", "mix"], format!("{} cannot be mixed: only fin, rst, silence and disconnect-0x04", k.label())));
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
