//! Steps about Azure Event Grid namespaces: the walkthrough's set-up, per-scenario certificates
//! and namespaces (each started as its own reference broker with TLS), which certificate and
//! username a client presents, and what the namespace lets it do: CONNECT accepted or refused,
//! PUBLISH acknowledged / refused / dropped / closed, SUBSCRIBE granted or refused per filter.
//!
//! Authorization is judged on the harness's own codec client ([`RawClient`]) so every reason code
//! is read off the wire, never interpreted by a client library.

use super::clients::{parse_code, parse_qos};
use super::expectations::simple;
use super::LwtWorld;
use crate::init::Identities;
use crate::pki::{self, Authority, Issued, LeafSpec, San, Validity};
use crate::sensor::{ConnectOutcome, REPLY_TIMEOUT};
use crate::target::{Target, TargetSpec};
use crate::transport::ClientStream;
use crate::verdict::{self, Status};
use anyhow::{bail, Context};
use bytes::Bytes;
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use lwt_codec::{Packet, Properties, Property, ProtocolVersion, Publish, QoS, SubOptions};
use crate::client::{Client, Ended, Hello};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

mod attacks;
mod http_publish;
mod jwt;
mod lifecycle;
mod routing;
mod webhook;
pub use http_publish::HttpPublishState;
pub use lifecycle::{with_lifecycle_events, LIFECYCLE_FILE};

/// A scenario's own certificates in a temporary identities folder: `ca.pem` (the namespace's
/// trusted CA), `untrusted-ca.pem` (a CA the namespace does not know), `server.pem`/`.key`, and
/// `clients/<name>.pem`/`.key` for every certificate the scenario declares.
pub struct ScenarioPki {
    dir: tempfile::TempDir,
    ca: Option<Authority>,
    untrusted: Option<Authority>,
    issued: BTreeMap<String, Issued>,
}

impl std::fmt::Debug for ScenarioPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScenarioPki").field("dir", &self.dir.path()).field("certificates", &self.issued.keys()).finish()
    }
}

impl ScenarioPki {
    /// A trusted CA, an untrusted CA and a localhost server certificate in a fresh folder.
    pub fn new() -> anyhow::Result<ScenarioPki> {
        let dir = tempfile::tempdir()?;
        let ca = Authority::root("ca", "lwt-harness namespace CA", 2)?;
        ca.cert.write_pair(dir.path())?;
        let untrusted = Authority::root("untrusted-ca", "lwt-harness untrusted CA", 2)?;
        untrusted.cert.write_pair(dir.path())?;
        ca.issue_server("server", 2)?.write_pair(dir.path())?;
        Ok(ScenarioPki { dir, ca: Some(ca), untrusted: Some(untrusted), issued: BTreeMap::new() })
    }

    /// The walkthrough (`lwt-harness init eventgrid-lwt`) written into a fresh folder.
    pub fn walkthrough() -> anyhow::Result<ScenarioPki> {
        let dir = tempfile::tempdir()?;
        let w = crate::init::eventgrid_lwt(dir.path(), 2)?;
        let issued = w.clients.into_iter().map(|(c, _)| (c.name.clone(), c)).collect();
        Ok(ScenarioPki { dir, ca: None, untrusted: None, issued })
    }

    /// The folder as an identities folder (client X presents `clients/X.pem`).
    pub fn identities(&self) -> Identities {
        Identities::new(self.dir.path())
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Issues and writes certificate `leaf`, signed by `issuer`: `ca` (trusted by the namespace),
    /// `untrusted` (another CA) or `self` (self-signed).
    pub fn issue(&mut self, leaf: &LeafSpec, issuer: &str) -> anyhow::Result<&Issued> {
        let c = match issuer {
            "ca" | "" => self.ca.as_ref().context("this folder has no CA")?.issue(leaf)?,
            "untrusted" => self.untrusted.as_ref().context("this folder has no untrusted CA")?.issue(leaf)?,
            "self" => pki::self_signed(leaf)?,
            other => bail!("issuer {other:?}: use ca, untrusted or self"),
        };
        c.write_pair(&self.dir.path().join("clients"))?;
        self.issued.insert(leaf.name.clone(), c);
        Ok(&self.issued[&leaf.name])
    }

    /// Replaces every `<thumbprint of NAME>` in `text` with certificate NAME's SHA-256 thumbprint.
    pub fn expand(&self, text: &str) -> anyhow::Result<String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("<thumbprint of ") {
            out.push_str(&rest[..i]);
            let after = &rest[i + "<thumbprint of ".len()..];
            let end = after.find('>').context("unclosed <thumbprint of NAME>")?;
            let name = after[..end].trim();
            let c = self.issued.get(name).with_context(|| format!("no certificate {name:?} declared before the namespace"))?;
            out.push_str(&c.thumbprint);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Writes `namespace.yaml` (placeholders expanded) and returns the embedded broker serving it
    /// over TLS with the Event Grid limits.
    pub fn namespace_target(&self, yaml: &str) -> anyhow::Result<TargetSpec> {
        let text = self.expand(yaml)?;
        std::fs::write(self.dir.path().join("namespace.yaml"), text)?;
        Ok(lifecycle::with_lifecycle_events(crate::init::embedded_target(self.dir.path(), false)?, self.dir.path()))
    }
}

/// How a PUBLISH attempt was answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublishOutcome {
    /// QoS 1: PUBACK with this reason code (3.1.1: always 0).
    Acknowledged(u8),
    /// QoS 0: no answer, and the connection still answered PINGREQ afterwards.
    StillOpen,
    /// The broker sent DISCONNECT with this reason code (5.0).
    Disconnected(u8),
    /// The broker closed the connection without DISCONNECT.
    Closed(String),
    /// Nothing came back in time.
    Silent,
}

impl From<Ended> for PublishOutcome {
    fn from(e: Ended) -> PublishOutcome {
        match e {
            Ended::Silent => PublishOutcome::Silent,
            Ended::Disconnected(code) => PublishOutcome::Disconnected(code),
            Ended::Closed(why) => PublishOutcome::Closed(why),
        }
    }
}

/// How SUBSCRIBE attempts were answered: each SUBACK's codes in order, or the close.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubscribeOutcome {
    /// Reason codes (5.0) / return codes (3.1.1), one per filter, over every attempt.
    pub codes: Vec<u8>,
    /// How the connection ended, if it did.
    pub closed: Option<String>,
}

/// A codec-level client for authorization checks: it sends exactly what the step says and reports
/// exactly what the broker answered.
pub struct RawClient {
    /// The shared client, acknowledging deliveries it meets (named `conn` for the step files
    /// that write packets on it by hand).
    conn: Client,
    version: ProtocolVersion,
}

impl RawClient {
    /// Sends `connect` over `stream`; the client if CONNACK is 0, else the refusal.
    pub async fn connect(stream: ClientStream, connect: lwt_codec::Connect) -> anyhow::Result<RawClient> {
        let version = connect.protocol;
        let hello = Hello { clean_start: connect.clean_start, keep_alive: connect.keep_alive, ..Hello::new(&connect.client_id, version) };
        let bytes = Packet::Connect(connect.clone()).to_bytes(version);
        let conn = Client::connect_raw(stream, &hello, &bytes, REPLY_TIMEOUT).await?.accepted()?.acknowledging();
        Ok(RawClient { conn, version })
    }

    /// Reads until `want` picks a packet, the broker disconnects or closes, or `within` passes.
    /// Deliveries to this client are acknowledged and otherwise ignored.
    async fn read_until<T>(&mut self, within: Duration, want: impl Fn(&Packet) -> Option<T>) -> Result<T, PublishOutcome> {
        self.conn.read_until(within, want).await.map_err(PublishOutcome::from)
    }

    /// Publishes `payload` on `topic` at `qos` and reports the broker's answer: the PUBACK code
    /// (QoS 1), or for QoS 0 whether a PINGREQ sent after it is still answered.
    pub async fn publish(&mut self, topic: &str, payload: &[u8], qos: QoS, properties: Properties) -> PublishOutcome {
        let mut p = Publish::new(topic.to_owned(), Bytes::copy_from_slice(payload));
        p.qos = qos;
        p.properties = properties;
        let r = match self.conn.publish(p).await {
            Ok(_) if qos == QoS::AtMostOnce => self.conn.ping().await.map(|_| PublishOutcome::StillOpen),
            Ok(reason) => Ok(PublishOutcome::Acknowledged(reason)),
            Err(e) => Err(e),
        };
        r.unwrap_or_else(PublishOutcome::from)
    }

    /// Sends one SUBSCRIBE with `filters` at `qos` (and `properties`, 5.0) and returns the SUBACK
    /// codes, or how it ended.
    pub async fn subscribe(&mut self, filters: &[String], qos: QoS, properties: Properties) -> Result<Vec<u8>, String> {
        let filters = filters.iter().map(|f| (f.clone(), SubOptions::qos(qos))).collect();
        self.conn.subscribe(filters, properties).await.map_err(|e| format!("{:?}", PublishOutcome::from(e)))
    }

    /// The protocol version it speaks.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }
}

/// The raw client `name` (connected now, with its spec, username and certificate, if needed).
async fn raw_client<'w>(w: &'w mut LwtWorld, name: &str) -> &'w mut RawClient {
    if !w.raw.contains_key(name) {
        assert!(
            w.sensors.get(name).is_none_or(|s| s.live.is_none()),
            "{name} is already connected as a sensor: authorization steps need a client of their own"
        );
        let extra = w.connect_properties.get(name).cloned().unwrap_or_default();
        let mut connect = w.spec_mut(name).to_connect();
        for p in extra {
            connect.properties.push(p);
        }
        let stream = w.endpoint().dial(w.identity(name).as_ref()).await.unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let c = RawClient::connect(stream, connect).await.unwrap_or_else(|e| panic!("{name}: {e:#}"));
        w.raw.insert(name.to_owned(), c);
    }
    w.raw.get_mut(name).expect("inserted")
}

/// Makes sure the scenario has its own certificate folder.
fn scenario_pki(w: &mut LwtWorld) -> &mut ScenarioPki {
    if w.pki.is_none() {
        w.pki = Some(ScenarioPki::new().expect("scenario certificates"));
    }
    w.pki.as_mut().expect("created")
}

async fn own_target(w: &mut LwtWorld, spec: TargetSpec) {
    assert!(w.actuators.is_empty() && w.proxy.is_none() && w.raw.is_empty(), "set up the namespace before any client connects");
    let t = Target::start(&spec).await.unwrap_or_else(|e| panic!("reference broker with the namespace: {e:#}"));
    w.own_broker = Some(t);
}

/// The blog's set-up (`lwt-harness init eventgrid-lwt`): against a target with an identities
/// folder (a real namespace, or `check --eventgrid DIR`) it is the target itself; otherwise a fresh
/// folder is generated and a reference broker with TLS and that namespace serves this scenario.
#[given("the Event Grid walkthrough namespace")]
async fn walkthrough(w: &mut LwtWorld) {
    if w.run_env().identities.is_some() {
        return;
    }
    let pki = ScenarioPki::walkthrough().expect("walkthrough files");
    let spec = crate::init::embedded_target(pki.path(), false).unwrap_or_else(|e| panic!("{e:#}"));
    let spec = lifecycle::with_lifecycle_events(spec, pki.path());
    w.pki = Some(pki);
    own_target(w, spec).await;
}

/// Certificates for this scenario. Columns: `name` (file stem; the client of that name presents
/// it), `issuer` (`ca` = the namespace's CA, `untrusted`, `self`), `cn` (default: the name), `san`
/// (`dns:…, uri:…, ip:…, email:…`), `validity` (`current`, `expired`, `not yet valid`).
#[given("the certificates:")]
fn certificates(w: &mut LwtWorld, step: &Step) {
    let table = step.table.as_ref().expect("a table of certificates");
    let header = &table.rows[0];
    let col = |row: &Vec<String>, name: &str| -> String {
        header.iter().position(|h| h.trim() == name).map(|i| row[i].trim().to_owned()).unwrap_or_default()
    };
    for row in &table.rows[1..] {
        let name = col(row, "name");
        let mut leaf = LeafSpec::new(&name);
        let cn = col(row, "cn");
        if !cn.is_empty() {
            leaf = leaf.cn(cn);
        }
        for s in col(row, "san").split(',').map(str::trim).filter(|s| !s.is_empty()) {
            leaf = leaf.san(s.parse::<San>().unwrap_or_else(|e| panic!("{name}: {e:#}")));
        }
        leaf = leaf.validity(match col(row, "validity").as_str() {
            "" | "current" => Validity::Current,
            "expired" => Validity::Expired,
            "not yet valid" => Validity::NotYetValid,
            other => panic!("{name}: validity {other:?} (current, expired, not yet valid)"),
        });
        let issuer = col(row, "issuer");
        scenario_pki(w).issue(&leaf, &issuer).unwrap_or_else(|e| panic!("certificate {name}: {e:#}"));
    }
}

/// The namespace file (format: `fixtures/namespaces/README.md`) for a reference broker with TLS and
/// the Event Grid limits that serves this scenario alone. `<thumbprint of NAME>` stands for the
/// thumbprint of certificate NAME; `file: ca.pem` is the scenario's trusted CA. Observers need
/// the `harnessProbe` topic space (see features/README.md) to prove absence.
#[given("an Event Grid namespace with:")]
async fn namespace(w: &mut LwtWorld, step: &Step) {
    let yaml = step.docstring.as_ref().expect("the namespace YAML as a docstring").clone();
    let spec = scenario_pki(w).namespace_target(&yaml).unwrap_or_else(|e| panic!("namespace: {e:#}"));
    own_target(w, spec).await;
}

#[given(expr = "{string} presents certificate {string}")]
fn presents(w: &mut LwtWorld, name: String, cert: String) {
    let id = w.identity(&cert).unwrap_or_else(|| panic!("no certificate {cert:?} in this scenario"));
    w.certs.insert(name, Some(id));
}

#[given(expr = "{string} presents no certificate")]
fn presents_none(w: &mut LwtWorld, name: String) {
    w.certs.insert(name, None);
}

#[given(expr = "{string} uses username {string}")]
fn username(w: &mut LwtWorld, name: String, user: String) {
    w.spec_mut(&name).username = Some(user);
}

#[given(expr = "{string} sends no username")]
fn no_username(w: &mut LwtWorld, name: String) {
    w.spec_mut(&name).username = None;
}

#[given(expr = "{string} sends user property {string} = {string} on CONNECT")]
fn connect_user_property(w: &mut LwtWorld, name: String, k: String, v: String) {
    w.connect_properties.entry(name).or_default().push(Property::UserProperty(k, v));
}

#[then(expr = "{string} is accepted")]
fn accepted(w: &mut LwtWorld, name: String) {
    judge_admission(w, &name, true, "CONNACK 0x00");
}

/// `name` was not let in: a refusing CONNACK (any code), a close without CONNACK, or a failed TLS
/// handshake (Event Grid documents that such clients are refused, not always with which code).
#[then(expr = "{string} is not accepted")]
fn not_accepted(w: &mut LwtWorld, name: String) {
    judge_admission(w, &name, false, "refused (any failure code) or closed without CONNACK");
}

fn judge_admission(w: &mut LwtWorld, name: &str, want_accepted: bool, expected: &str) {
    let slot = w.sensor(name);
    let observed = match (&slot.live, &slot.refused) {
        (Some(_), _) => "CONNACK 0x00".to_owned(),
        (None, Some(ConnectOutcome::Refused(a))) => format!("CONNACK {:#04x}", a.code),
        (None, Some(ConnectOutcome::Closed(why))) => format!("closed without CONNACK ({why})"),
        (None, Some(ConnectOutcome::Silent(t))) => format!("no CONNACK and no close within {t:?}"),
        _ => panic!("{name} has not tried to connect"),
    };
    let ok = slot.live.is_some() == want_accepted;
    let v = simple(w, expected.into(), ok, observed);
    w.judge(v);
}

#[then(expr = "{string} is told to keep alive every {int} second(s)")]
fn server_keep_alive(w: &mut LwtWorld, name: String, secs: u16) {
    let live = w.sensor(&name).live.as_ref().unwrap_or_else(|| panic!("{name} is not connected"));
    let got = live.connack.properties.server_keep_alive();
    let v = simple(w, format!("Server Keep Alive {secs}"), got == Some(secs), format!("Server Keep Alive {got:?}"));
    w.judge(v);
}

/// A property of the CONNACK `name` got (5.0): `server-keep-alive`, `maximum-qos`,
/// `maximum-packet-size`, `topic-alias-maximum`, `session-expiry-interval`, `retain-available`.
#[then(expr = "the CONNACK of {string} carries {word} {int}")]
fn connack_carries(w: &mut LwtWorld, name: String, which: String, value: u64) {
    let live = w.sensor(&name).live.as_ref().unwrap_or_else(|| panic!("{name} is not connected"));
    let p = &live.connack.properties;
    let got: Option<u64> = match which.as_str() {
        "server-keep-alive" => p.server_keep_alive().map(u64::from),
        "maximum-qos" => p.maximum_qos().map(u64::from),
        "maximum-packet-size" => p.maximum_packet_size().map(u64::from),
        "topic-alias-maximum" => p.topic_alias_maximum().map(u64::from),
        "session-expiry-interval" => p.session_expiry_interval().map(u64::from),
        "retain-available" => p.retain_available().map(u64::from),
        other => panic!("unknown CONNACK property {other:?}"),
    };
    let v = simple(w, format!("CONNACK {which} {value}"), got == Some(value), format!("{which} {got:?}"));
    w.judge(v);
}

/// Publishes on `name`'s own codec client and records the answer; expectations about deliveries
/// count from this moment.
#[when(expr = "{string} tries to publish {string} on {string} at QoS {int}")]
async fn tries_to_publish(w: &mut LwtWorld, name: String, payload: String, topic: String, qos: i32) {
    publish_attempt(w, name, payload, topic, qos, Properties::new()).await;
}

/// The same with a user property on the PUBLISH (Event Grid allows them there).
#[when(expr = "{string} tries to publish {string} on {string} at QoS {int} with user property {string} = {string}")]
async fn tries_to_publish_with_property(w: &mut LwtWorld, name: String, payload: String, topic: String, qos: i32, k: String, v: String) {
    publish_attempt(w, name, payload, topic, qos, Properties::new().with(Property::UserProperty(k, v))).await;
}

/// A PUBLISH whose payload is `size` bytes (packet-size limits).
#[when(expr = "{string} tries to publish {int} bytes on {string} at QoS {int}")]
async fn tries_to_publish_size(w: &mut LwtWorld, name: String, size: usize, topic: String, qos: i32) {
    publish_attempt(w, name, "x".repeat(size), topic, qos, Properties::new()).await;
}

async fn publish_attempt(w: &mut LwtWorld, name: String, payload: String, topic: String, qos: i32, properties: Properties) {
    let topic = w.topic(&topic);
    let at = Instant::now();
    w.last_fault = Some((name.clone(), at, at));
    let outcome = raw_client(w, &name).await.publish(&topic, payload.as_bytes(), parse_qos(qos), properties).await;
    w.publish_outcomes.insert(name, outcome);
}

fn publish_outcome(w: &LwtWorld, name: &str) -> PublishOutcome {
    w.publish_outcomes.get(name).cloned().unwrap_or_else(|| panic!("{name} has not tried to publish"))
}

#[then(expr = "the publish of {string} is acknowledged with reason code {word}")]
fn publish_acked(w: &mut LwtWorld, name: String, code: String) {
    let want = parse_code(&code);
    let got = publish_outcome(w, &name);
    let v = simple(w, format!("PUBACK {want:#04x}"), got == PublishOutcome::Acknowledged(want), format!("{got:?}"));
    w.judge(v);
}

#[then(expr = "the publish of {string} is dropped and the connection stays open")]
fn publish_dropped_open(w: &mut LwtWorld, name: String) {
    let got = publish_outcome(w, &name);
    let v = simple(w, "no answer to the QoS 0 PUBLISH, connection still open".into(), got == PublishOutcome::StillOpen, format!("{got:?}"));
    w.judge(v);
}

#[then(expr = "the publish of {string} makes the broker close the connection")]
fn publish_closed(w: &mut LwtWorld, name: String) {
    let got = publish_outcome(w, &name);
    let ok = matches!(got, PublishOutcome::Closed(_) | PublishOutcome::Disconnected(_));
    let v = simple(w, "the broker closes the connection".into(), ok, format!("{got:?}"));
    w.judge(v);
}

#[then(expr = "the publish of {string} makes the broker send DISCONNECT {word}")]
fn publish_disconnected(w: &mut LwtWorld, name: String, code: String) {
    let want = parse_code(&code);
    let got = publish_outcome(w, &name);
    let v = simple(w, format!("DISCONNECT {want:#04x}, then the close"), got == PublishOutcome::Disconnected(want), format!("{got:?}"));
    w.judge(v);
}

/// One SUBSCRIBE carrying every filter of the comma-separated list.
#[when(expr = "{string} tries to subscribe to {string} at QoS {int}")]
async fn tries_to_subscribe(w: &mut LwtWorld, name: String, filters: String, qos: i32) {
    let filters: Vec<String> = filters.split(',').map(|f| w.topic(f.trim())).collect();
    let r = raw_client(w, &name).await.subscribe(&filters, parse_qos(qos), Properties::new()).await;
    record_subscribe(w, &name, r);
}

/// One SUBSCRIBE with a user property (the Event Grid profile refuses every filter of it).
#[when(expr = "{string} tries to subscribe to {string} at QoS {int} with user property {string} = {string}")]
async fn tries_to_subscribe_with_property(w: &mut LwtWorld, name: String, filters: String, qos: i32, k: String, v: String) {
    let filters: Vec<String> = filters.split(',').map(|f| w.topic(f.trim())).collect();
    let props = Properties::new().with(Property::UserProperty(k, v));
    let r = raw_client(w, &name).await.subscribe(&filters, parse_qos(qos), props).await;
    record_subscribe(w, &name, r);
}

/// `n` SUBSCRIBE packets, one filter each (`<n>` in the filter replaced by 1..=n).
#[when(expr = "{string} subscribes to {int} filters {string} one at a time at QoS {int}")]
async fn subscribes_one_at_a_time(w: &mut LwtWorld, name: String, n: usize, filter: String, qos: i32) {
    for i in 1..=n {
        let f = w.topic(&filter.replace("<n>", &i.to_string()));
        let r = raw_client(w, &name).await.subscribe(&[f], parse_qos(qos), Properties::new()).await;
        let stop = r.is_err();
        record_subscribe(w, &name, r);
        if stop {
            break;
        }
    }
}

fn record_subscribe(w: &mut LwtWorld, name: &str, r: Result<Vec<u8>, String>) {
    let o = w.subscribe_outcomes.entry(name.to_owned()).or_default();
    match r {
        Ok(codes) => o.codes.extend(codes),
        Err(why) => o.closed = Some(why),
    }
}

/// The codes of every SUBACK `name` got, in order (`0x01, 0x87`; `50 × 0x01, 0x97` for repeats).
#[then(expr = "the subscriptions of {string} are answered with {string}")]
fn subscriptions_answered(w: &mut LwtWorld, name: String, codes: String) {
    let want: Vec<u8> = codes
        .split(',')
        .flat_map(|c| {
            let c = c.trim();
            match c.split_once('×').or_else(|| c.split_once(" x ")) {
                Some((n, code)) => vec![parse_code(code.trim()); n.trim().parse::<usize>().expect("a repeat count")],
                None => vec![parse_code(c)],
            }
        })
        .collect();
    let got = w.subscribe_outcomes.get(&name).cloned().unwrap_or_else(|| panic!("{name} has not tried to subscribe"));
    let observed = format!("{} {}", hex_list(&got.codes), got.closed.as_deref().map(|c| format!("then closed: {c}")).unwrap_or_default());
    let v = simple(w, format!("SUBACK codes {}", hex_list(&want)), got.codes == want && got.closed.is_none(), observed);
    w.judge(v);
}

fn hex_list(codes: &[u8]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < codes.len() {
        let run = codes[i..].iter().take_while(|c| **c == codes[i]).count();
        out.push(if run > 1 { format!("{run} × {:#04x}", codes[i]) } else { format!("{:#04x}", codes[i]) });
        i += run;
    }
    format!("[{}]", out.join(", "))
}

/// Every message on `filter` the observer got in this scenario, counted after a liveness probe
/// it published through the broker came back (so late ones are counted too).
#[then(expr = "{string} has received exactly {int} message(s) on {string}")]
async fn exactly_n(w: &mut LwtWorld, who: String, n: usize, filter: String) {
    let f = w.topic(&filter);
    let a = w.actuator(&who);
    tokio::time::sleep(verdict::DUPLICATE_GRACE).await;
    let payload = verdict::probe_nonce();
    let pt = verdict::probe_topic(a);
    let sent = a.publish(Publish::new(pt.clone(), payload.clone().into_bytes())).await.is_ok();
    let probe = if sent { a.wait_for(|o| o.topic == pt && o.payload == payload.as_bytes(), Instant::now() + REPLY_TIMEOUT).await } else { None };
    let seen: Vec<String> = a
        .observations()
        .iter()
        .filter(|o| lwt_codec::topic::matches(&f, &o.topic))
        .map(|o| format!("{} {:?}", o.topic, String::from_utf8_lossy(&o.payload)))
        .collect();
    let broken = a.broken();
    let mut v = simple(w, format!("exactly {n} message(s) on {filter}"), seen.len() == n, format!("{} message(s): {seen:?}", seen.len()));
    if v.passed() && probe.is_none() {
        v.status = Status::Error(broken.unwrap_or_else(|| "liveness probe not received".into()));
        v.observed = format!("{}; not proven: the observer's probe did not come back", v.observed);
    }
    w.judge(v);
}
