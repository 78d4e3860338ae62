//! Target profiles (`fixtures/profiles/*.yaml`): what a broker declares it supports. A profile holds
//! capabilities and limits only, never expected failures: a scenario needing a missing capability is
//! skipped and reported as skipped; a broker breaking a rule is reported as breaking it.

use serde::Deserialize;
use std::collections::BTreeMap;
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
    /// Shared subscriptions (`$share/{group}/{filter}`, MQTT 5.0 4.8.2) supported.
    /// `@shared-subscriptions` scenarios need it.
    pub shared_subscriptions: bool,
    /// Sessions, armed and pending wills and acknowledged messages survive a crash of the broker
    /// (SIGKILL) and its restart with the same command (the reference broker with `--data-dir`,
    /// brokers with persistence on). `@durable` scenarios need it; off unless a profile says so.
    pub survives_crash: bool,
    /// How often a broker that saves its state on a timer writes it (mosquitto's
    /// `autosave_interval`, rounded up to what its whole-second clock needs), in ms: the crash fault
    /// waits this long before SIGKILL. 0 = the broker saves before it acknowledges.
    pub save_interval_ms: u64,
    /// User names and passwords the harness's clients send (brokers that refuse anonymous clients,
    /// e.g. ejabberd's mod_mqtt). Set up access, not a capability: `--username/--password` override
    /// the default.
    pub credentials: Credentials,
    /// Scenarios `check` runs at once against this target (`--concurrency` overrides it); `None` =
    /// the harness default. Lower it for brokers that race under many parallel connections.
    pub concurrency: Option<usize>,
}

/// One login: what a client puts in CONNECT's User Name and Password fields.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Login {
    /// User Name (`None` = field absent).
    pub username: Option<String>,
    /// Password (`None` = field absent).
    pub password: Option<String>,
}

/// Logins for the harness's clients: a default, and per-client ones by the name a feature gives the
/// client (`sensor1`, `actuator1`; the checks' clients go by their role, `sensor` / `actuator`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Credentials {
    /// Default User Name.
    pub username: Option<String>,
    /// Default Password.
    pub password: Option<String>,
    /// Per-client logins; a client missing here uses the default.
    pub clients: BTreeMap<String, Login>,
}

impl Credentials {
    /// The login of client `name`: its own entry, else the default.
    pub fn login(&self, name: &str) -> Login {
        match self.clients.get(name) {
            Some(l) => l.clone(),
            None => Login { username: self.username.clone(), password: self.password.clone() },
        }
    }
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
            shared_subscriptions: true,
            survives_crash: false,
            save_interval_ms: 0,
            credentials: Credentials::default(),
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

    /// Sets the default login (the `--username/--password` flags); `None` keeps the profile's.
    pub fn with_login(mut self, username: Option<String>, password: Option<String>) -> Profile {
        if username.is_some() {
            self.credentials.username = username;
        }
        if password.is_some() {
            self.credentials.password = password;
        }
        self
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
        assert!(p.shared_subscriptions, "on unless a profile says otherwise");
        assert!(!Profile::from_yaml("shared_subscriptions: false\n").unwrap().shared_subscriptions);
        let e = Profile::from_yaml("expected_failures: [x]\n").unwrap_err().to_string();
        assert!(e.contains("expected_failures"), "{e}");
        let e = Profile::from_yaml("protocols: [\"4\"]\n").unwrap_err().to_string();
        assert!(e.contains("unknown protocol"), "{e}");
    }

    #[test]
    fn every_shipped_profile_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/profiles");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                Profile::load(&path).unwrap_or_else(|e| panic!("{e:#}"));
            }
        }
    }

    #[test]
    fn credentials_default_and_per_client() {
        let p = Profile::from_yaml(
            "credentials:\n  username: lwt\n  password: pw\n  clients:\n    actuator1: {username: a1, password: p1}\n",
        )
        .unwrap();
        assert_eq!(p.credentials.login("sensor1"), Login { username: Some("lwt".into()), password: Some("pw".into()) });
        assert_eq!(p.credentials.login("actuator1").username.as_deref(), Some("a1"));
        let p = p.with_login(Some("cli".into()), None);
        assert_eq!(p.credentials.login("sensor1"), Login { username: Some("cli".into()), password: Some("pw".into()) });
        assert!(Profile::from_yaml("credentials: {user: x}\n").is_err());
        assert_eq!(Profile::from_yaml("concurrency: 4\n").unwrap().concurrency, Some(4));
    }
}
