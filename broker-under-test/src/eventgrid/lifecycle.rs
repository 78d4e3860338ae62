//! Event Grid **client life-cycle events**: `Microsoft.EventGrid.MQTTClientSessionConnected` and
//! `Microsoft.EventGrid.MQTTClientSessionDisconnected`, as CloudEvents 1.0 in structured JSON mode,
//! one per line appended to a JSON Lines file (the namespace's `lifecycleEvents.file`, or
//! `--lifecycle-events FILE`).
//!
//! The core owns the sequence numbers ([`Lifecycle`] lives in it and is only called from it); the
//! file is written by a thread of its own behind a channel, so a slow disk never holds the core up.
//! Event shapes, data fields and the eleven `disconnectionReason` values follow Event Grid's page
//! on MQTT client life-cycle events; the choices it leaves open are listed in
//! `fixtures/namespaces/README.md` ("Client life-cycle events").

use super::Principal;
use crate::core::ConnId;
use crate::codec::reason;
use crate::will::{CloseReason, Ending};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};
use tracing::warn;

/// CloudEvents `type` of a session that connected.
pub const CONNECTED: &str = "Microsoft.EventGrid.MQTTClientSessionConnected";
/// CloudEvents `type` of a session that disconnected.
pub const DISCONNECTED: &str = "Microsoft.EventGrid.MQTTClientSessionDisconnected";

/// How long dropping a [`Lifecycle`] waits for its writer to flush what it was sent.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// `lifecycleEvents:` in the namespace file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LifecycleSettings {
    /// JSON Lines file every event is appended to (relative to the namespace file); `None` = no
    /// events unless the broker is given `--lifecycle-events FILE`.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// CloudEvents `source`; default [`default_source`] of the namespace's name.
    #[serde(default)]
    pub source: Option<String>,
    /// `http://HOST[:PORT][/PATH]` each event is also POSTed to ([`super::webhook`]).
    #[serde(default)]
    pub webhook: Option<String>,
}

/// The `source` of events from namespace `name` when the file sets none: the namespace's ARM
/// resource path, under an all-zero subscription and the resource group `lwt-emulator`.
pub fn default_source(name: &str) -> String {
    format!("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/lwt-emulator/providers/Microsoft.EventGrid/namespaces/{name}")
}

/// Event Grid's documented `disconnectionReason` values (all eleven; the emulator produces the
/// ones [`DisconnectionReason::for_ending`] maps to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DisconnectionReason {
    /// Disconnected for an authentication reason (certificate expired, client disabled, …).
    ClientAuthenticationError,
    /// Disconnected for an authorization reason (the broker refused a request as not authorized).
    ClientAuthorizationError,
    /// A bad request or an unsupported feature made the service end the connection.
    ClientError,
    /// A DISCONNECT packet (or a WebSocket close frame) from the client.
    ClientInitiatedDisconnect,
    /// The connection was lost (FIN or RST without DISCONNECT, I/O error, keep-alive expiry).
    ConnectionLost,
    /// The client's IP address is blocked (never produced: the emulator has no IP filter).
    IpForbidden,
    /// A throttling limit was exceeded.
    QuotaExceeded,
    /// An unexpected server error (a crash: see `fixtures/namespaces/README.md`).
    ServerError,
    /// The server ended the connection for an operational reason (shutdown).
    ServerInitiatedDisconnect,
    /// The queue of unacknowledged QoS 1 messages reached its limit (never produced for a live
    /// connection: the emulator drops over its window, see the README).
    SessionOverflow,
    /// A new connection with the same authentication name took the session over.
    SessionTakenOver,
}

impl DisconnectionReason {
    /// The documented string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientAuthenticationError => "ClientAuthenticationError",
            Self::ClientAuthorizationError => "ClientAuthorizationError",
            Self::ClientError => "ClientError",
            Self::ClientInitiatedDisconnect => "ClientInitiatedDisconnect",
            Self::ConnectionLost => "ConnectionLost",
            Self::IpForbidden => "IpForbidden",
            Self::QuotaExceeded => "QuotaExceeded",
            Self::ServerError => "ServerError",
            Self::ServerInitiatedDisconnect => "ServerInitiatedDisconnect",
            Self::SessionOverflow => "SessionOverflow",
            Self::SessionTakenOver => "SessionTakenOver",
        }
    }

    /// The reason Event Grid would give for a connection that ended this way.
    pub fn for_ending(ending: &Ending) -> Self {
        match ending {
            Ending::ClientDisconnect { .. } => Self::ClientInitiatedDisconnect,
            Ending::Network(CloseReason::PeerClosed | CloseReason::Io(_) | CloseReason::KeepAliveTimeout) => {
                Self::ConnectionLost
            }
            Ending::Network(CloseReason::BadPacket { code, .. }) => match *code {
                reason::NOT_AUTHORIZED => Self::ClientAuthorizationError,
                reason::BAD_AUTHENTICATION_METHOD | reason::MAXIMUM_CONNECT_TIME => Self::ClientAuthenticationError,
                reason::QUOTA_EXCEEDED | reason::MESSAGE_RATE_TOO_HIGH => Self::QuotaExceeded,
                _ => Self::ClientError,
            },
            Ending::TakenOver => Self::SessionTakenOver,
            Ending::Shutdown => Self::ServerInitiatedDisconnect,
            Ending::Crashed => Self::ServerError,
        }
    }
}

impl std::fmt::Display for DisconnectionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event as the core hands it to the writer (the writer adds `id` and serializes).
#[derive(Debug)]
struct Record {
    authentication_name: String,
    session_name: String,
    sequence_number: u64,
    /// `None` = connected.
    disconnection_reason: Option<DisconnectionReason>,
    at: SystemTime,
}

/// The CloudEvents 1.0 envelope in structured JSON mode.
///
/// A plain serde struct rather than the `cloudevents-sdk` crate: that crate brings `chrono`, `url`,
/// `uuid` and its own `Event` builder with validation the broker does not need, for seven fixed
/// attributes. The attribute names here are the CloudEvents spec's (`specversion`, `id`, `source`,
/// `type`, `subject`, `time`, `datacontenttype`), serialized in the order Event Grid's samples use.
#[derive(Serialize)]
struct CloudEvent<'a> {
    specversion: &'static str,
    id: String,
    time: String,
    #[serde(rename = "type")]
    ty: &'static str,
    source: &'a str,
    subject: String,
    datacontenttype: &'static str,
    data: SessionData<'a>,
}

/// `data` of both session events, with Event Grid's field names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionData<'a> {
    namespace_name: &'a str,
    client_authentication_name: &'a str,
    client_session_name: &'a str,
    sequence_number: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    disconnection_reason: Option<DisconnectionReason>,
}

/// A live connection's session, as its events name it.
#[derive(Debug)]
struct Live {
    authentication_name: String,
    session_name: String,
    sequence_number: u64,
}

/// The core's side of the life-cycle events: sequence numbers per client session and the
/// channel to the writer thread. Dropping it lets the writer finish (waiting up to 2 s).
#[derive(Debug)]
pub struct Lifecycle {
    tx: Option<mpsc::Sender<Record>>,
    done: mpsc::Receiver<()>,
    /// Last sequence number per (authentication name, session name), for the broker's lifetime.
    counters: HashMap<(String, String), u64>,
    live: HashMap<ConnId, Live>,
}

impl Lifecycle {
    /// Opens (creates, appends to) `path` and starts the writer for namespace `namespace` with
    /// CloudEvents `source`. A file that cannot be opened for writing is an error naming it.
    pub fn open(path: &Path, namespace: &str, source: &str) -> anyhow::Result<Lifecycle> {
        Self::start(Some(path), None, namespace, source)
    }

    /// Starts the writer for the file at `path` and/or the webhook at `hook`.
    fn start(path: Option<&Path>, hook: Option<&str>, namespace: &str, source: &str) -> anyhow::Result<Lifecycle> {
        let out = match path {
            Some(path) => {
                let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
                    anyhow::anyhow!("cannot open the life-cycle events file {} for appending: {e}", path.display())
                })?;
                Some(std::io::BufWriter::new(file))
            }
            None => None,
        };
        let hook = match hook {
            Some(url) => {
                let endpoint = super::webhook::Endpoint::parse(url).map_err(|e| anyhow::anyhow!("lifecycleEvents.webhook: {e}"))?;
                Some(super::webhook::start(endpoint).map_err(|e| anyhow::anyhow!("cannot start the life-cycle webhook: {e}"))?)
            }
            None => None,
        };
        let (tx, rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let path = path.map(Path::to_path_buf).unwrap_or_default();
        let writer = Writer { out, hook, namespace: namespace.to_owned(), source: source.to_owned(), path, failed: false };
        std::thread::Builder::new()
            .name("lwt-lifecycle".into())
            .spawn(move || {
                writer.run(rx);
                let _ = done_tx.send(());
            })
            .map_err(|e| anyhow::anyhow!("cannot start the life-cycle events writer: {e}"))?;
        Ok(Lifecycle { tx: Some(tx), done, counters: HashMap::new(), live: HashMap::new() })
    }

    /// The life-cycle events `cfg` asks for: its `lifecycle_events` file, else its namespace's
    /// `lifecycleEvents.file`; `None` when neither names one. A file without a namespace, or one
    /// that cannot be opened, is an error.
    pub fn from_config(cfg: &crate::Config) -> anyhow::Result<Option<Lifecycle>> {
        let Some(ns) = cfg.namespace.get() else {
            anyhow::ensure!(
                cfg.lifecycle_events.is_none(),
                "life-cycle events (--lifecycle-events) need an Event Grid namespace (--namespace)"
            );
            return Ok(None);
        };
        let settings = ns.lifecycle_events();
        let path = cfg.lifecycle_events.as_ref().or(settings.file.as_ref());
        if path.is_none() && settings.webhook.is_none() {
            return Ok(None);
        }
        let source = settings.source.clone().unwrap_or_else(|| default_source(ns.name()));
        Lifecycle::start(path.map(PathBuf::as_path), settings.webhook.as_deref(), ns.name(), &source).map(Some)
    }

    /// Connection `conn` of session `client_id` was accepted: the next sequence number of its
    /// session, and a connected event. The authentication name is the principal's (the client id
    /// without one).
    pub fn connected(&mut self, conn: ConnId, client_id: &str, principal: Option<&Principal>) {
        let auth = principal.map_or(client_id, |p| p.authentication_name.as_str()).to_owned();
        let n = self.counters.entry((auth.clone(), client_id.to_owned())).or_insert(0);
        *n = n.saturating_add(1);
        let live = Live { authentication_name: auth, session_name: client_id.to_owned(), sequence_number: *n };
        self.send(&live, None);
        self.live.insert(conn, live);
    }

    /// Connection `conn` ended this way: a disconnected event with its connected event's sequence
    /// number (as Event Grid documents). Nothing for a connection that never connected.
    pub fn disconnected(&mut self, conn: ConnId, ending: &Ending) {
        if let Some(live) = self.live.remove(&conn) {
            self.send(&live, Some(DisconnectionReason::for_ending(ending)));
        }
    }

    fn send(&self, live: &Live, disconnection_reason: Option<DisconnectionReason>) {
        let Some(tx) = &self.tx else { return };
        let record = Record {
            authentication_name: live.authentication_name.clone(),
            session_name: live.session_name.clone(),
            sequence_number: live.sequence_number,
            disconnection_reason,
            at: SystemTime::now(),
        };
        // A send fails only when the writer has gone (it logged why).
        let _ = tx.send(record);
    }
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        self.tx.take();
        let _ = self.done.recv_timeout(DRAIN_WAIT);
    }
}

/// The writer thread's state.
struct Writer {
    out: Option<std::io::BufWriter<File>>,
    /// The webhook thread's channel, if the namespace names one.
    hook: Option<mpsc::Sender<String>>,
    namespace: String,
    source: String,
    path: PathBuf,
    /// A write failed (logged once; later events are still tried).
    failed: bool,
}

impl Writer {
    /// Writes what arrives, one line per event; flushes whenever the channel is empty, so every
    /// event is on disk before the writer waits again.
    fn run(mut self, rx: mpsc::Receiver<Record>) {
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(r) = next.take() {
                if let Some(line) = self.line(&r) {
                    if let Some(out) = &mut self.out {
                        let res = out.write_all(line.as_bytes());
                        self.note(res);
                    }
                    if let Some(hook) = &self.hook {
                        let _ = hook.send(line.trim_end().to_owned());
                    }
                }
                next = rx.try_recv().ok();
            }
            if let Some(out) = &mut self.out {
                let res = out.flush();
                self.note(res);
            }
        }
    }

    fn note(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            if !self.failed {
                warn!(file = %self.path.display(), "cannot write life-cycle events: {e}");
            }
            self.failed = true;
        }
    }

    /// One event as a JSON line.
    fn line(&self, r: &Record) -> Option<String> {
        let ev = CloudEvent {
            specversion: "1.0",
            id: event_id(),
            time: rfc3339(r.at),
            ty: if r.disconnection_reason.is_some() { DISCONNECTED } else { CONNECTED },
            source: &self.source,
            subject: format!("clients/{}/sessions/{}", r.authentication_name, r.session_name),
            datacontenttype: "application/json",
            data: SessionData {
                namespace_name: &self.namespace,
                client_authentication_name: &r.authentication_name,
                client_session_name: &r.session_name,
                sequence_number: r.sequence_number,
                disconnection_reason: r.disconnection_reason,
            },
        };
        match serde_json::to_string(&ev) {
            Ok(mut s) => {
                s.push('\n');
                Some(s)
            }
            Err(e) => {
                warn!("cannot serialize a life-cycle event: {e}");
                None
            }
        }
    }
}

/// A random (version 4) UUID, the form Event Grid's event ids have; unique per event.
fn event_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `t` in RFC 3339, UTC, with microseconds: `2023-07-29T01:23:49.645404Z`.
pub fn rfc3339(t: SystemTime) -> String {
    use time::format_description::{well_known::iso8601, well_known::Iso8601};
    const MICROS: iso8601::EncodedConfig = iso8601::Config::DEFAULT
        .set_time_precision(iso8601::TimePrecision::Second { decimal_digits: std::num::NonZeroU8::new(6) })
        .encode();
    let t = time::OffsetDateTime::from(t);
    t.format(&Iso8601::<MICROS>).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let t = UNIX_EPOCH + Duration::from_micros(1_690_593_829_645_404);
        assert_eq!(rfc3339(t), "2023-07-29T01:23:49.645404Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&rfc3339(leap)[..10], "2000-02-29");
        assert_eq!(&rfc3339(UNIX_EPOCH + Duration::from_secs(4_107_542_400))[..10], "2100-03-01");
    }

    #[test]
    fn ids_are_distinct_v4_uuids() {
        let (a, b) = (event_id(), event_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn endings_map_to_documented_reasons() {
        use DisconnectionReason as R;
        let bad = |code| Ending::Network(CloseReason::BadPacket { code, detail: String::new() });
        for (e, want) in [
            (Ending::ClientDisconnect { reason: 0 }, R::ClientInitiatedDisconnect),
            (Ending::ClientDisconnect { reason: 4 }, R::ClientInitiatedDisconnect),
            (Ending::Network(CloseReason::PeerClosed), R::ConnectionLost),
            (Ending::Network(CloseReason::Io("reset".into())), R::ConnectionLost),
            (Ending::Network(CloseReason::KeepAliveTimeout), R::ConnectionLost),
            (bad(reason::PROTOCOL_ERROR), R::ClientError),
            (bad(reason::NOT_AUTHORIZED), R::ClientAuthorizationError),
            (bad(reason::QUOTA_EXCEEDED), R::QuotaExceeded),
            (Ending::TakenOver, R::SessionTakenOver),
            (Ending::Shutdown, R::ServerInitiatedDisconnect),
            (Ending::Crashed, R::ServerError),
        ] {
            assert_eq!(R::for_ending(&e), want, "{e}");
            assert_eq!(serde_json::to_string(&want).unwrap(), format!("\"{}\"", want.as_str()));
        }
    }

    #[test]
    fn events_are_json_lines_with_shared_sequence_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let p = Principal {
            client_name: "c1".into(),
            authentication_name: "Sensor1".into(),
            attributes: Default::default(),
            groups: vec![],
        };
        {
            let mut l = Lifecycle::open(&path, "ns1", "src").unwrap();
            l.connected(1, "s1", Some(&p));
            l.disconnected(1, &Ending::Network(CloseReason::PeerClosed));
            l.disconnected(1, &Ending::Shutdown); // already ended: nothing
            l.connected(2, "s1", Some(&p));
            l.disconnected(2, &Ending::ClientDisconnect { reason: 0 });
            l.connected(3, "anon", None);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 5, "{text}");
        let seq: Vec<u64> = lines.iter().map(|v| v["data"]["sequenceNumber"].as_u64().unwrap()).collect();
        assert_eq!(seq, [1, 1, 2, 2, 1]);
        assert_eq!(lines[0]["type"], CONNECTED);
        assert_eq!(lines[0]["specversion"], "1.0");
        assert_eq!(lines[0]["source"], "src");
        assert_eq!(lines[0]["subject"], "clients/Sensor1/sessions/s1");
        assert_eq!(lines[0]["datacontenttype"], "application/json");
        assert_eq!(lines[0]["data"]["namespaceName"], "ns1");
        assert_eq!(lines[0]["data"]["clientAuthenticationName"], "Sensor1");
        assert!(lines[0]["data"].get("disconnectionReason").is_none());
        assert_eq!(lines[1]["type"], DISCONNECTED);
        assert_eq!(lines[1]["data"]["disconnectionReason"], "ConnectionLost");
        assert_eq!(lines[3]["data"]["disconnectionReason"], "ClientInitiatedDisconnect");
        assert_eq!(lines[4]["subject"], "clients/anon/sessions/anon");
        assert_ne!(lines[0]["id"], lines[1]["id"]);
    }

    #[test]
    fn an_unwritable_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Lifecycle::open(&dir.path().join("missing/dir/e.jsonl"), "ns", "s").unwrap_err().to_string();
        assert!(err.contains("life-cycle events file") && err.contains("missing/dir/e.jsonl"), "{err}");
    }
}
