//! `settings:`: the namespace-wide switches (documented properties and one per undocumented
//! behaviour), and the range checks serde cannot express.

use super::error::{Ctx, NamespaceError};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;

/// When a client's Will is authorized (§8 #1, undocumented by Event Grid).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WillAuthorization {
    /// Check it as a PUBLISH by its owner when it fires; drop it silently if denied (default).
    #[default]
    AtFire,
    /// Check it at CONNECT; refuse with v5 CONNACK 0x87 / v3.1.1 0x05 if denied.
    AtConnect,
}

/// What happens to an unauthorized v5 QoS 0 PUBLISH (§8 #3, undocumented).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Qos0Denied {
    /// Drop it silently (default).
    #[default]
    Drop,
    /// Send DISCONNECT 0x87 and close.
    Disconnect,
}

/// What happens to an unauthorized v3.1.1 PUBLISH (§8 #2, undocumented).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum V311PublishDenied {
    /// Close the network connection (default; Event Grid's precedent for rejected 3.1.1 PUBLISHes).
    #[default]
    Close,
    /// Acknowledge normally and drop the message (the other choice [MQTT-3.3.5-2] allows).
    AckAndDrop,
}

/// Retained-message support (§8 #7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RetainMode {
    /// Pre-2025 service: a Will/PUBLISH with Retain=1 gets v5 CONNACK/DISCONNECT 0x9A, v3.1.1 close.
    Unsupported,
    /// 2025 preview (default, the current service): retain accepted, at most
    /// [`RETAIN_PREVIEW_MAX_BYTES`] per retained message.
    #[default]
    Preview,
}

/// Largest retained payload in [`RetainMode::Preview`] (the docs' "64 KB", read as KiB).
pub const RETAIN_PREVIEW_MAX_BYTES: usize = 64 * 1024;

/// Event Grid's documented Will Delay Interval maximum, in seconds.
pub const MAX_WILL_DELAY_SECS: u32 = 300;

/// What happens to a v5 Will Delay Interval above [`Settings::max_will_delay_secs`] (§8 #5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WillDelayOverMax {
    /// Lower it to the maximum, like the service adjusts session expiry (default).
    #[default]
    Clamp,
    /// Refuse the CONNECT (suggested: v5 CONNACK 0x83 Implementation specific error).
    Reject,
}

/// How a SUBSCRIBE filter is compared with a topic template (§8 #11, undocumented).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SubscribeCoverage {
    /// Allowed iff every topic the filter can match is matched by the template (default, safe).
    #[default]
    Subset,
    /// Allowed iff some topic is matched by both (permissive reading).
    Overlap,
}

/// A certificate field the authentication name may be taken from when CONNECT has no username
/// (`alternativeAuthenticationNameSources`, tried in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum NameSource {
    /// The subject's Common Name.
    ClientCertificateSubject,
    /// The first SAN dNSName.
    ClientCertificateDns,
    /// The first SAN URI.
    ClientCertificateUri,
    /// The first SAN iPAddress (textual form).
    ClientCertificateIp,
    /// The first SAN rfc822Name.
    ClientCertificateEmail,
}

impl fmt::Display for NameSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Namespace-wide settings: the documented namespace properties plus one switch per
/// undocumented behaviour (reference §8), each defaulting to the reference's proposal.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// `maximumSessionExpiryInHours` (1..=8, default 1): cap on v5 session expiry and the
    /// lifetime of v3.1.1 persistent sessions.
    #[serde(rename = "maximumSessionExpiryInHours")]
    pub max_session_expiry_hours: u32,
    /// `maximumClientSessionsPerAuthenticationName` (1..=100, default 1), online and offline.
    #[serde(rename = "maximumClientSessionsPerAuthenticationName")]
    pub max_client_sessions_per_authentication_name: u32,
    /// Ordered certificate fields that supply the authentication name when there is no username;
    /// empty (default) = a username is required.
    pub alternative_authentication_name_sources: Vec<NameSource>,
    /// §8 #1: when the Will is authorized.
    pub will_authorization: WillAuthorization,
    /// §8 #2: unauthorized v3.1.1 PUBLISH.
    pub v311_publish_denied: V311PublishDenied,
    /// §8 #3: unauthorized v5 QoS 0 PUBLISH.
    pub qos0_denied: Qos0Denied,
    /// §8 #7: retain support.
    pub retain: RetainMode,
    /// §8 #5: Will Delay Interval above the maximum.
    pub will_delay_over_max: WillDelayOverMax,
    /// The Will Delay maximum in seconds (default 300, the documented limit).
    pub max_will_delay_secs: u32,
    /// §8 #11: subscribe-filter coverage rule.
    pub subscribe_coverage: SubscribeCoverage,
    /// §8 #8: whether a WebSocket close frame counts as a graceful disconnect (no Will); default true.
    pub websocket_close_is_graceful: bool,
    /// §8 #13: SUP23 "no LWT" mode: a CONNECT with a Will gets v5 CONNACK 0x83 / v3.1.1 refusal.
    pub legacy_no_will: bool,
    /// Whether refusals tell the client the full reason (which registry facts made it fail:
    /// unknown name, disabled client, expected subject, thumbprint, groups, topic spaces). Default
    /// false: clients get a terse reason string per code and the details go to the broker log only,
    /// so unauthenticated callers learn nothing about the registry (issue 12).
    pub diagnostics: bool,
    /// Broker limit profile the lead maps to broker limits (e.g. `eventgrid`); `None` = broker defaults.
    pub profile: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_session_expiry_hours: 1,
            max_client_sessions_per_authentication_name: 1,
            alternative_authentication_name_sources: Vec::new(),
            will_authorization: WillAuthorization::AtFire,
            v311_publish_denied: V311PublishDenied::Close,
            qos0_denied: Qos0Denied::Drop,
            retain: RetainMode::Preview,
            will_delay_over_max: WillDelayOverMax::Clamp,
            max_will_delay_secs: MAX_WILL_DELAY_SECS,
            subscribe_coverage: SubscribeCoverage::Subset,
            websocket_close_is_graceful: true,
            legacy_no_will: false,
            diagnostics: false,
            profile: None,
        }
    }
}

/// Checks the ranges of `settings:` (or yields the defaults). Serde already rejected unknown keys
/// and bad enum values (with location); the line of a bad value is found by scanning for its key
/// below `settings:`, since plain serde fields carry no span.
pub(super) fn check_ranges(cx: &Ctx<'_>, raw: Option<Spanned<Settings>>) -> Result<Settings, NamespaceError> {
    let (settings, settings_line) = match raw {
        Some(s) => {
            let line = s.referenced.line();
            (s.value, line)
        }
        None => (Settings::default(), 0),
    };
    if !(1..=8).contains(&settings.max_session_expiry_hours) {
        let key = "maximumSessionExpiryInHours";
        return Err(cx.invalid(
            cx.key_line(key, settings_line),
            format!("settings.{key}"),
            format!("must be 1..=8 (got {})", settings.max_session_expiry_hours),
        ));
    }
    if !(1..=100).contains(&settings.max_client_sessions_per_authentication_name) {
        let key = "maximumClientSessionsPerAuthenticationName";
        return Err(cx.invalid(
            cx.key_line(key, settings_line),
            format!("settings.{key}"),
            format!(
                "must be 1..=100 (got {})",
                settings.max_client_sessions_per_authentication_name
            ),
        ));
    }
    let srcs = &settings.alternative_authentication_name_sources;
    for (i, s) in srcs.iter().enumerate() {
        if srcs[..i].contains(s) {
            let key = "alternativeAuthenticationNameSources";
            return Err(cx.invalid(
                cx.key_line(key, settings_line),
                format!("settings.{key}"),
                format!("{s} is listed twice"),
            ));
        }
    }
    Ok(settings)
}
