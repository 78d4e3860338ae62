//! The fault plan of a load scenario: which fault, on which victims, when; crash waves and
//! reconnects.

use serde::{Deserialize, Serialize};

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
    /// SIGKILL to the launched broker, then the same command again ([`crate::load::crash`]).
    Crash,
    /// Clients close, disconnect, are taken over and come back, for a long time ([`crate::load::soak`]).
    Churn,
    /// Each client gets one kind of `fault.mix` in turn (global index modulo its length), so one
    /// fleet compares kinds side by side under the same load.
    Mixed,
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
            FaultKind::Mixed => "mixed",
        }
    }
    /// Whether a `mixed` fault may use this kind (the kinds that end one member at a time).
    pub fn mixable(self) -> bool {
        matches!(self, FaultKind::Fin | FaultKind::Rst | FaultKind::Silence | FaultKind::Disconnect04)
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
    /// The kinds a `kind: mixed` fault deals out in turn (fin, rst, silence, disconnect-0x04).
    #[serde(default)]
    pub mix: Vec<FaultKind>,
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
    pub soak: crate::load::soak::SoakSpec,
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
