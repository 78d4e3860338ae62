//! Broker capabilities and limits, loadable from YAML (`--config FILE.yaml`).

use crate::codec::QoS;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// What the broker supports and enforces. Every field has a default, so an empty file is valid.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Highest QoS accepted (0, 1, 2). A Will above it is refused with 0x9B.
    pub max_qos: u8,
    /// Whether retained messages are supported. A retained Will is refused with 0x9A when not.
    pub retain_available: bool,
    /// Cap on the Will Delay Interval in seconds (a larger delay is lowered to it); `None` = no cap.
    pub max_will_delay: Option<u32>,
    /// Largest packet accepted from a client, in bytes.
    pub max_packet_size: u32,
    /// Smallest keep-alive (s) accepted from a 5.0 client; a smaller non-zero value is raised via
    /// Server Keep Alive.
    pub keep_alive_min: u16,
    /// Largest keep-alive (s) (0 = no limit). A larger or zero value from a 5.0 client is lowered
    /// via Server Keep Alive; a 3.1.1 client cannot be told, so the broker enforces this value
    /// instead of the requested one (the connection ends 1.5 × it after the last packet).
    pub keep_alive_max: u16,
    /// Cap on Session Expiry Interval (s); 0xFFFFFFFF = no cap. Also the lifetime of 3.1.1
    /// persistent sessions.
    pub session_expiry_max: u32,
    /// Receive Maximum the broker announces (concurrent inbound QoS 1/2 per client).
    pub receive_maximum: u16,
    /// Topic Alias Maximum the broker announces.
    pub topic_alias_maximum: u16,
    /// Messages kept per session while it is offline or over its inflight window; beyond it new
    /// messages for that session are dropped (and logged).
    pub max_queued_messages: usize,
    /// Outbound QoS 1/2 messages in flight per client (further limited by the client's Receive Maximum).
    pub max_inflight: u16,
    /// Seconds to wait for CONNECT after a connection opens.
    pub connect_timeout_secs: u64,
    /// Longest topic name or filter in bytes (Event Grid: 256); 0 = only the protocol's limit.
    pub max_topic_bytes: usize,
    /// Most levels in a topic name or filter (Event Grid: 8); 0 = no limit.
    pub max_topic_levels: usize,
    /// Most subscriptions one session may hold (Event Grid: 50); 0 = no limit.
    pub max_subscriptions_per_session: usize,
    /// Whether 5.0 Subscription Identifiers are supported (Event Grid: no). When not, CONNACK says
    /// so and a SUBSCRIBE carrying one ends the connection with 0xA1 (MQTT-3.2.2.3.12).
    pub subscription_identifiers: bool,
    /// Whether User Properties are accepted on CONNECT and SUBSCRIBE (Event Grid: no — "such a
    /// request fails": CONNACK 0x83 / SUBACK 0x83). PUBLISH and will user properties are always fine.
    pub user_properties_on_connect_and_subscribe: bool,
    /// Largest retained message payload in bytes (Event Grid retain preview: 64 KiB); 0 = no limit.
    /// A larger retained PUBLISH is still delivered but not stored (and logged).
    pub max_retained_bytes: usize,
    /// Most retained messages stored at once (Event Grid: 10,000 per throughput unit); 0 = no
    /// limit. A retained PUBLISH on a new topic beyond it is delivered but not stored (and logged).
    pub max_retained_messages: usize,
    /// Most topic filters in one SUBSCRIBE (Event Grid: 10); 0 = no limit. Beyond it the whole
    /// SUBSCRIBE fails: every filter gets 0x97 Quota exceeded (3.1.1: 0x80).
    pub max_filters_per_subscribe: usize,
    /// Event Grid's failing requests after CONNECT: a client PUBACK with a failure reason code or a
    /// User Property, and a DISCONNECT or AUTH with a User Property, end the connection with
    /// DISCONNECT 0x83 (so a DISCONNECT that fails is not a normal one and the will fires).
    pub strict_acks_and_disconnect: bool,
    /// Payload bytes kept per offline session (Event Grid: 1 MB); 0 = no limit.
    pub max_queued_bytes: usize,
    /// Whether an offline session whose queue would pass `max_queued_messages` or
    /// `max_queued_bytes` is ended (Event Grid's `SessionOverflow`) instead of dropping the message.
    pub queue_overflow_ends_session: bool,
    /// Whether shared subscriptions (`$share/{group}/{filter}`, 5.0 and 3.1.1) are supported. When
    /// not, CONNACK says so and each such filter gets SUBACK 0x9E (3.1.1: 0x80).
    pub shared_subscriptions: bool,
    /// Refuse client ids outside what MQTT-3.1.3-5 obliges a server to accept (1 to 23 characters
    /// of `0-9a-zA-Z`): CONNACK 0x85 (3.1.1: 0x02). Off by default (the spec allows more). An empty
    /// client id still gets an assigned one.
    pub strict_client_ids: bool,
    /// Let clients PUBLISH to topics starting with `$` (`$SYS/…`). Off by default: such a PUBLISH
    /// is refused with PUBACK/PUBREC 0x90 (5.0, QoS 1/2), or acknowledged as usual and dropped (QoS
    /// 0, and 3.1.1, MQTT-3.3.5-2); it reaches no subscriber and is not retained (4.7.2: the
    /// server SHOULD keep clients from exchanging messages on `$` topics).
    pub allow_dollar_topic_publish: bool,
    /// Keep sessions, armed and pending wills and retained messages in a crash-safe database in
    /// this directory (`--data-dir`), so that they survive a crash or restart; `None` = in memory
    /// only (the default, and what tests and the embedded broker use).
    pub data_dir: Option<std::path::PathBuf>,
    /// JSON Lines file for Event Grid client life-cycle events (`--lifecycle-events`); it takes
    /// the place of the namespace's `lifecycleEvents.file`. Needs a namespace.
    pub lifecycle_events: Option<std::path::PathBuf>,
    /// The Event Grid namespace (clients, groups, topic spaces, bindings) that authenticates and
    /// authorizes clients; `None` = open broker (anonymous, everything allowed). Set with
    /// `--namespace`, never from the YAML config.
    #[serde(skip)]
    pub namespace: NamespaceRef,
    /// A test's hook into the will decisions ([`crate::will::WillHook`]), through which the
    /// harness's tests switch on one known will bug at a time. Set only from Rust, never from the
    /// YAML config or a flag: the broker's binaries always run without one.
    #[serde(skip)]
    pub will_hook: crate::will::HookRef,
    /// Who an Event Grid HTTP Publish caller is, from its bearer token
    /// ([`crate::eventgrid::http_publish::BearerAuth`]); `None` = every HTTP Publish request is
    /// refused with 401. Set only from Rust, never from the YAML config.
    #[serde(skip)]
    pub bearer_auth: crate::eventgrid::http_publish::BearerAuthRef,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_qos: 2,
            retain_available: true,
            max_will_delay: None,
            max_packet_size: 1 << 20,
            keep_alive_min: 0,
            keep_alive_max: 0,
            session_expiry_max: u32::MAX,
            receive_maximum: 1024,
            topic_alias_maximum: 32,
            max_queued_messages: 100_000,
            max_inflight: 256,
            connect_timeout_secs: 10,
            max_topic_bytes: 0,
            max_topic_levels: 0,
            max_subscriptions_per_session: 0,
            subscription_identifiers: true,
            user_properties_on_connect_and_subscribe: true,
            max_retained_bytes: 0,
            max_retained_messages: 0,
            max_filters_per_subscribe: 0,
            strict_acks_and_disconnect: false,
            max_queued_bytes: 0,
            queue_overflow_ends_session: false,
            shared_subscriptions: true,
            strict_client_ids: false,
            allow_dollar_topic_publish: false,
            data_dir: None,
            lifecycle_events: None,
            namespace: NamespaceRef::default(),
            will_hook: crate::will::HookRef::default(),
            bearer_auth: Default::default(),
        }
    }
}

/// A shared, read-only Event Grid namespace (compared by identity, so `Config` stays `PartialEq`).
#[derive(Clone, Debug, Default)]
pub struct NamespaceRef(pub Option<Arc<crate::eventgrid::Namespace>>);

impl PartialEq for NamespaceRef {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl NamespaceRef {
    /// The namespace, if the broker emulates one.
    pub fn get(&self) -> Option<&crate::eventgrid::Namespace> {
        self.0.as_deref()
    }
}

impl Config {
    /// Event Grid's documented MQTT limits (the `eventgrid` profile; see
    /// `shared/reference/eventgrid-model.md` section 5): QoS ≤ 1, will delay ≤ 300 s, keep-alive
    /// ≤ 1,160 s, 512 KiB packets, topics ≤ 256 bytes and 8 levels, 50 subscriptions per session,
    /// 10 topic aliases, no subscription identifiers, no user properties on CONNECT/SUBSCRIBE,
    /// session expiry ≤ 1 h (the namespace default), retain as in the 2025 preview (64 KiB, 10,000
    /// messages), 10 filters per SUBSCRIBE, failing PUBACK/DISCONNECT/AUTH requests end the
    /// connection, an offline queue over 100 messages or 1 MB ends the session. Shared subscriptions
    /// are on: Event Grid now documents `$share/{group}/{filter}` (eventgrid-model.md section 9).
    pub fn eventgrid() -> Config {
        Config {
            max_qos: 1,
            retain_available: true,
            max_will_delay: Some(300),
            max_packet_size: 512 * 1024,
            keep_alive_max: 1160,
            session_expiry_max: 3600,
            topic_alias_maximum: 10,
            max_topic_bytes: 256,
            max_topic_levels: 8,
            max_subscriptions_per_session: 50,
            subscription_identifiers: false,
            user_properties_on_connect_and_subscribe: false,
            max_retained_bytes: 64 * 1024,
            max_retained_messages: 10_000,
            max_filters_per_subscribe: 10,
            strict_acks_and_disconnect: true,
            max_queued_messages: 100,
            max_queued_bytes: 1_000_000,
            queue_overflow_ends_session: true,
            ..Config::default()
        }
    }

    /// Makes the broker emulate `ns`: its clients authenticate and its bindings authorize, and its
    /// settings set the limits (session expiry cap = its `maximumSessionExpiryInHours`; retain per
    /// its mode).
    pub fn apply_namespace(&mut self, ns: crate::eventgrid::Namespace) {
        use crate::eventgrid::RetainMode;
        let settings = ns.settings();
        // The namespace property (1 h by default, up to 8 h) is the cap, replacing the profile's 1 h.
        self.session_expiry_max = settings.max_session_expiry_hours.saturating_mul(3600);
        let cap = settings.max_will_delay_secs;
        self.max_will_delay = Some(self.max_will_delay.map_or(cap, |c| c.min(cap)));
        match settings.retain {
            RetainMode::Unsupported => self.retain_available = false,
            RetainMode::Preview => {
                if self.max_retained_bytes == 0 {
                    self.max_retained_bytes = 64 * 1024;
                }
            }
        }
        self.namespace = NamespaceRef(Some(Arc::new(ns)));
    }

    /// A built-in profile by name: `default` or `eventgrid`.
    pub fn profile(name: &str) -> anyhow::Result<Config> {
        match name {
            "default" => Ok(Config::default()),
            "eventgrid" => Ok(Config::eventgrid()),
            other => anyhow::bail!("unknown profile {other:?} (known: default, eventgrid)"),
        }
    }

    /// Whether a topic name or filter is within the configured length and level limits.
    pub fn topic_within_limits(&self, topic: &str) -> bool {
        (self.max_topic_bytes == 0 || topic.len() <= self.max_topic_bytes)
            && (self.max_topic_levels == 0 || topic.split('/').count() <= self.max_topic_levels)
    }

    /// Parses YAML text; errors name the offending field.
    pub fn from_yaml(text: &str) -> anyhow::Result<Config> {
        let cfg: Config = serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("invalid broker config: {e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a YAML file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read broker config {}: {e}", path.display()))?;
        Self::from_yaml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Checks value ranges.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.max_qos <= 2, "max_qos must be 0, 1 or 2 (got {})", self.max_qos);
        anyhow::ensure!(self.max_packet_size >= 64, "max_packet_size must be at least 64 bytes");
        anyhow::ensure!(self.receive_maximum > 0, "receive_maximum must be at least 1");
        anyhow::ensure!(self.max_inflight > 0, "max_inflight must be at least 1");
        anyhow::ensure!(
            self.keep_alive_max == 0 || self.keep_alive_min <= self.keep_alive_max,
            "keep_alive_min ({}) is above keep_alive_max ({})",
            self.keep_alive_min,
            self.keep_alive_max
        );
        Ok(())
    }

    /// `max_qos` as a [`QoS`].
    pub fn max_qos(&self) -> QoS {
        QoS::from_u8(self.max_qos).unwrap_or(QoS::ExactlyOnce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_yaml_gives_defaults() {
        assert_eq!(Config::from_yaml("{}").unwrap(), Config::default());
    }

    #[test]
    fn fields_parse_and_unknown_fields_are_named() {
        let c = Config::from_yaml("max_qos: 1\nretain_available: false\nmax_will_delay: 30\n").unwrap();
        assert_eq!((c.max_qos, c.retain_available, c.max_will_delay), (1, false, Some(30)));
        let err = Config::from_yaml("max_qso: 1\n").unwrap_err().to_string();
        assert!(err.contains("max_qso"), "{err}");
        let err = Config::from_yaml("max_qos: 3\n").unwrap_err().to_string();
        assert!(err.contains("max_qos"), "{err}");
    }

    /// No YAML key reaches the test hook: the old `mutant:` key and the field's own name are both
    /// unknown fields.
    #[test]
    fn no_yaml_key_reaches_the_will_hook() {
        for yaml in ["mutant: will-twice\n", "will_hook: will-twice\n", "will_hook: {}\n"] {
            let err = Config::from_yaml(yaml).unwrap_err().to_string();
            assert!(err.contains("unknown field"), "{yaml}: {err}");
        }
    }
}
