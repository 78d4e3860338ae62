//! Target profiles (`fixtures/profiles/*.yaml`): what a broker declares it supports. A profile holds
//! capabilities and limits only, never expected failures: a scenario needing a missing capability is
//! skipped and reported as skipped; a broker breaking a rule is reported as breaking it.

use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// Declared capabilities and limits of a target.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// A name for reports.
    pub name: String,
    /// Protocol versions spoken: "3.1.1", "5.0".
    pub protocols: Vec<String>,
    /// Highest QoS supported.
    pub max_qos: u8,
    /// Retained messages supported.
    pub retain_available: bool,
    /// Largest Will Delay Interval honoured (seconds); `None` = no limit.
    pub max_will_delay: Option<u32>,
    /// Smallest keep-alive (seconds) the broker accepts as is.
    pub keep_alive_min: u16,
    /// Largest keep-alive (seconds) the broker accepts as is (0 = no limit).
    pub keep_alive_max: u16,
    /// Timer granularity in milliseconds: widens only the late edge of timing windows.
    pub timer_granularity_ms: u64,
    /// TLS listener available.
    pub tls: bool,
    /// Emulates (or is) an Azure Event Grid namespace: certificate authentication, topic-space
    /// authorization and Event Grid's limits. `@eventgrid` scenarios need it.
    pub eventgrid: bool,
    /// Scenarios `check` runs at once against this target (`--concurrency` overrides it); `None` =
    /// the harness default. Lower it for brokers that race under many parallel connections.
    pub concurrency: Option<usize>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            name: "default".into(),
            protocols: vec!["3.1.1".into(), "5.0".into()],
            max_qos: 2,
            retain_available: true,
            max_will_delay: None,
            keep_alive_min: 0,
            keep_alive_max: 0,
            timer_granularity_ms: 0,
            tls: false,
            eventgrid: false,
            concurrency: None,
        }
    }
}

impl Profile {
    /// Parses YAML; errors name the field.
    pub fn from_yaml(text: &str) -> anyhow::Result<Profile> {
        let p: Profile = serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("invalid profile: {e}"))?;
        anyhow::ensure!(p.concurrency != Some(0), "invalid profile: concurrency must be at least 1");
        anyhow::ensure!(p.max_qos <= 2, "invalid profile: max_qos must be 0, 1 or 2 (got {})", p.max_qos);
        for v in &p.protocols {
            anyhow::ensure!(v == "3.1.1" || v == "5.0", "invalid profile: unknown protocol {v:?} (use \"3.1.1\" or \"5.0\")");
        }
        Ok(p)
    }

    /// Reads a profile file.
    pub fn load(path: &Path) -> anyhow::Result<Profile> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read profile {}: {e}", path.display()))?;
        Self::from_yaml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Extra tolerance for the late edge of a timing window.
    pub fn late_tolerance(&self) -> Duration {
        Duration::from_millis(self.timer_granularity_ms)
    }

    /// Whether the target speaks `protocol` ("3.1.1" / "5.0").
    pub fn speaks(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p == protocol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_and_errors_name_the_field() {
        let p = Profile::from_yaml("name: m\nmax_qos: 1\ntimer_granularity_ms: 1000\n").unwrap();
        assert_eq!((p.max_qos, p.late_tolerance()), (1, Duration::from_secs(1)));
        assert!(p.speaks("5.0"));
        let e = Profile::from_yaml("expected_failures: [x]\n").unwrap_err().to_string();
        assert!(e.contains("expected_failures"), "{e}");
        let e = Profile::from_yaml("protocols: [\"4\"]\n").unwrap_err().to_string();
        assert!(e.contains("unknown protocol"), "{e}");
    }
}
