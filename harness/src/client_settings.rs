//! Client settings from one place: keep-alive, logins, reply timeouts and client-id rules for the
//! clients the harness opens (sensors, observers, the step library's clients, the built-in checks'),
//! derived from the target's profile and the scenario.
//!
//! Why: each client loop used to choose on its own, so observers connected with Keep Alive 0 (which
//! rumqttd refuses by design, failing every scenario for a set-up reason) and no client could send
//! the password a broker such as ejabberd's mod_mqtt requires. A verdict must never come from our
//! own set-up, so these choices follow the profile.

use crate::actuator::ActuatorSpec;
use crate::profile::{Credentials, Profile};
use crate::sensor::SensorSpec;
use bytes::Bytes;
use lwt_codec::ProtocolVersion;
use std::time::Duration;

/// Keep-alive (seconds) observers ask for before the profile's bounds apply: long enough that a
/// scenario never waits on it, short enough that any broker accepts it.
pub const OBSERVER_KEEP_ALIVE: u16 = 60;

/// Keep-alive (seconds) of a sensor whose scenario does not set one.
pub const SENSOR_KEEP_ALIVE: u16 = 60;

/// How long a client waits for a CONNACK, SUBACK, PINGRESP or acknowledgement.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an observer waits for its CONNACK. Longer than [`REPLY_TIMEOUT`]: an observer is set-up,
/// not the subject of a verdict, and a broker that was just (re)started (an Erlang node such as
/// ejabberd, on a busy machine) can take seconds to answer its first CONNECTs.
pub const OBSERVER_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// What every client of one scenario (or one checks run) connects with.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Keep-alive observers use (inside the profile's bounds; they ping to honour it).
    pub observer_keep_alive: u16,
    /// Keep-alive of sensors whose scenario does not set one (inside the profile's bounds).
    pub sensor_keep_alive: u16,
    /// Logins by client name.
    pub credentials: Credentials,
    /// `@eventgrid`: names go on the wire as written (client id = name, username = name).
    pub names_on_wire: bool,
    keep_alive_bounds: (u16, u16),
}

impl ClientSettings {
    /// Settings for clients of a target with `profile`.
    pub fn from_profile(profile: &Profile) -> ClientSettings {
        let mut s = ClientSettings {
            observer_keep_alive: 0,
            sensor_keep_alive: 0,
            credentials: profile.credentials.clone(),
            names_on_wire: false,
            keep_alive_bounds: (profile.keep_alive_min, profile.keep_alive_max),
        };
        s.observer_keep_alive = s.keep_alive_within(OBSERVER_KEEP_ALIVE);
        s.sensor_keep_alive = s.keep_alive_within(SENSOR_KEEP_ALIVE);
        s
    }

    /// The same with names on the wire as written (`@eventgrid` scenarios), or prefixed.
    pub fn names_on_wire(mut self, on: bool) -> ClientSettings {
        self.names_on_wire = on;
        self
    }

    /// `ka` moved inside the profile's keep-alive bounds (a maximum of 0 means none). Never 0 when
    /// the profile's minimum is 1 or more.
    pub fn keep_alive_within(&self, ka: u16) -> u16 {
        let (min, max) = self.keep_alive_bounds;
        let ka = ka.max(min);
        if max > 0 {
            ka.min(max)
        } else {
            ka
        }
    }

    /// The client id of the feature's client `name` in the scenario namespace `prefix`.
    pub fn client_id(&self, prefix: &str, name: &str) -> String {
        if self.names_on_wire {
            name.to_owned()
        } else {
            format!("{prefix}-{name}")
        }
    }

    /// User Name and Password for client `name`: with names on the wire the username is the name
    /// (an Event Grid authentication name) unless a per-client login says otherwise.
    pub fn login(&self, name: &str) -> (Option<String>, Option<Bytes>) {
        let l = self.credentials.login(name);
        let own = self.credentials.clients.contains_key(name);
        let username = if self.names_on_wire && !own { Some(name.to_owned()) } else { l.username };
        (username, l.password.map(Bytes::from))
    }

    /// A sensor's spec before its scenario adds a will or changes anything.
    pub fn sensor(&self, name: &str, client_id: String, version: ProtocolVersion) -> SensorSpec {
        let mut spec = SensorSpec::new(client_id, version);
        spec.keep_alive = self.sensor_keep_alive;
        self.fill_sensor(name, &mut spec);
        spec
    }

    /// Adds client `name`'s login to a sensor spec made elsewhere, unless it already has one.
    pub fn fill_sensor(&self, name: &str, spec: &mut SensorSpec) {
        if spec.username.is_none() && spec.password.is_none() {
            (spec.username, spec.password) = self.login(name);
        }
    }

    /// Brings an observer spec into line: keep-alive inside the bounds, login added unless it has one.
    pub fn fill_observer(&self, name: &str, spec: &mut ActuatorSpec) {
        spec.keep_alive = self.keep_alive_within(spec.keep_alive);
        if spec.username.is_none() && spec.password.is_none() {
            (spec.username, spec.password) = self.login(name);
        }
    }
}

/// Before any scenario: proves the harness's own clients can work with `target` as the profile says
/// (an observer connects with the profile's keep-alive and default login, subscribes, and gets its
/// own probe back). A refusal here is a set-up problem (wrong credentials, a keep-alive the broker
/// refuses, a wrong port), reported as an error (exit 2), never as hundreds of rule failures.
/// Skipped for Event Grid targets, whose namespace authorizes only the scenarios' own topics.
pub async fn preflight(target: &crate::target::Target, profile: &Profile) -> anyhow::Result<()> {
    use anyhow::Context;
    if profile.eventgrid || target.identities().is_some() {
        return Ok(());
    }
    let version = if profile.speaks("5.0") { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
    let id = format!("lwt-preflight-{}", std::process::id());
    let mut spec = ActuatorSpec::new(id.clone(), version);
    ClientSettings::from_profile(profile).fill_observer("actuator", &mut spec);
    let hint = "check the profile's `credentials` (or --username/--password) and keep-alive bounds";
    let stream = target.endpoint().dial(None).await.with_context(|| format!("pre-flight: cannot reach {}", target.name()))?;
    let a = crate::actuator::Actuator::connect_over(stream, spec)
        .await
        .with_context(|| format!("pre-flight: {} refused the harness's observer ({hint})", target.name()))?;
    let topic = format!("lwt-harness/preflight/{id}");
    a.subscribe(&topic, lwt_codec::QoS::AtMostOnce).await.with_context(|| format!("pre-flight: subscribing failed ({hint})"))?;
    let back = crate::client::reader::Watching::probe(&a, &topic, REPLY_TIMEOUT).await;
    a.disconnect().await;
    if let Err(why) = back {
        anyhow::bail!("pre-flight: the observer's own probe did not come back through {} ({why})", target.name());
    }
    Ok(())
}

/// How often a client with keep-alive `ka` (seconds) pings when it has nothing else to say: half the
/// keep-alive, so a broker that rounds or measures loosely never drops it. `None` for 0.
pub fn ping_interval(ka: u16) -> Option<Duration> {
    (ka > 0).then(|| Duration::from_millis(u64::from(ka) * 500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_follows_the_profile() {
        let s = ClientSettings::from_profile(&Profile::default());
        assert_eq!((s.observer_keep_alive, s.keep_alive_within(0)), (60, 0));
        let p = Profile { keep_alive_min: 1, keep_alive_max: 30, ..Profile::default() };
        let s = ClientSettings::from_profile(&p);
        assert_eq!((s.observer_keep_alive, s.sensor_keep_alive, s.keep_alive_within(0)), (30, 30, 1));
        assert_eq!(ping_interval(30), Some(Duration::from_secs(15)));
        assert_eq!(ping_interval(0), None);
    }

    #[test]
    fn logins_and_names() {
        let mut p = Profile::default().with_login(Some("u".into()), Some("p".into()));
        p.credentials.clients.insert("a1".into(), crate::profile::Login { username: Some("x".into()), password: None });
        let s = ClientSettings::from_profile(&p);
        let spec = s.sensor("sensor1", s.client_id("pre", "sensor1"), ProtocolVersion::V5);
        assert_eq!((spec.client_id.as_str(), spec.username.as_deref()), ("pre-sensor1", Some("u")));
        assert_eq!(spec.password.as_deref(), Some(&b"p"[..]));
        let mut a = ActuatorSpec::new("id", ProtocolVersion::V311);
        s.fill_observer("a1", &mut a);
        assert_eq!((a.username.as_deref(), a.password.is_none()), (Some("x"), true));
        let eg = ClientSettings::from_profile(&Profile::default()).names_on_wire(true);
        assert_eq!((eg.client_id("pre", "s"), eg.login("s").0.as_deref()), ("s".to_owned(), Some("s")));
    }
}
