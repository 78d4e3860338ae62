//! Model-based test of the will life-cycle: random sequences of operations (connect with any will
//! delay, session expiry, clean start and protocol; FIN; RST; DISCONNECT 0x00 / 0x04; takeover;
//! time passing; broker crash and restart over a data directory) run against the broker through
//! real sockets and against a small executable model of the decision table (`will.rs`, reference
//! 1.3). Any difference — a will missing, extra, early or late — fails with proptest's shrunk
//! sequence. Cases: `WILL_MODEL_CASES` (default 8; each takes a few seconds of real time).

mod common;

use common::*;
use lwt_broker::codec::*;
use lwt_broker::{BrokerHandle, Config, Listeners};
use proptest::prelude::*;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

const NEVER: u32 = u32::MAX;
/// A will may come this much after its due instant (scheduling, loopback, a commit).
const LATE: Duration = Duration::from_millis(700);
/// ... and this much before it (timer resolution of the two clocks).
const EARLY: Duration = Duration::from_millis(60);

#[derive(Clone, Debug)]
enum Op {
    Connect { c: usize, v5: bool, delay: u32, expiry: u32, clean: bool },
    Fin(usize),
    Rst(usize),
    Disconnect { c: usize, code: u8 },
    Wait(u64),
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, any::<bool>(), prop_oneof![Just(0u32), Just(1), Just(2)], prop_oneof![Just(0u32), Just(1), Just(3), Just(NEVER)], any::<bool>())
            .prop_map(|(c, v5, delay, expiry, clean)| Op::Connect { c, v5, delay, expiry, clean }),
        2 => (0..2usize).prop_map(Op::Fin),
        1 => (0..2usize).prop_map(Op::Rst),
        2 => (0..2usize, prop_oneof![Just(0u8), Just(4u8)]).prop_map(|(c, code)| Op::Disconnect { c, code }),
        2 => prop_oneof![Just(300u64), Just(1300), Just(2500)].prop_map(Op::Wait),
        1 => Just(Op::Crash),
    ]
}

// ---------------------------------------------------------------- the model

#[derive(Default, Debug)]
struct ClientM {
    /// The live connection's will: (payload, delay) and its protocol.
    live: Option<(Option<(String, u32)>, bool)>,
    /// The session: (expiry interval, when it ends while offline).
    session: Option<(u32, Option<Instant>)>,
    pending: Option<(String, Instant)>,
}

/// The decision table as a tiny state machine over instants.
#[derive(Default, Debug)]
struct Model {
    clients: [ClientM; 2],
    /// Wills published: payload → (not before, due base for the late bound).
    published: Vec<(String, Instant)>,
}

impl Model {
    fn tick(&mut self, now: Instant) {
        for c in &mut self.clients {
            if let Some((p, due)) = c.pending.clone() {
                if due <= now {
                    self.published.push((p, due));
                    c.pending = None;
                }
            }
            if let Some((_, Some(end))) = c.session {
                if end <= now {
                    c.session = None;
                    if let Some((p, _)) = c.pending.take() {
                        self.published.push((p, end));
                    }
                }
            }
        }
    }

    /// The connection of `c` ended at `now`; `discard` for a normal DISCONNECT.
    fn end(&mut self, c: usize, now: Instant, discard: bool) {
        self.tick(now);
        let cl = &mut self.clients[c];
        let Some((will, _)) = cl.live.take() else { return };
        let s = cl.session.map(|(s, _)| s).unwrap_or(0);
        if let (Some((p, w)), false) = (will, discard) {
            if w == 0 || s == 0 {
                self.published.push((p, now));
            } else {
                cl.pending = Some((p, now + Duration::from_secs(w.min(s) as u64)));
            }
        }
        if s == 0 {
            cl.session = None;
        } else if s != NEVER {
            cl.session = Some((s, Some(now + Duration::from_secs(s as u64))));
        } else {
            cl.session = Some((s, None));
        }
    }

    fn connect(&mut self, c: usize, now: Instant, will: Option<(String, u32)>, v5: bool, expiry: u32, clean: bool) {
        self.tick(now);
        if self.clients[c].live.is_some() {
            self.end(c, now, false); // takeover: an abrupt end of the old connection
        }
        let cl = &mut self.clients[c];
        if clean || cl.session.is_none() {
            if let Some((p, _)) = cl.pending.take() {
                self.published.push((p, now)); // the old session ends: its will is hastened
            }
        } else {
            cl.pending = None; // resumed within the delay: cancelled (MQTT-3.1.3-9)
        }
        cl.session = Some((expiry, None));
        cl.live = Some((will, v5));
    }

    /// A crash at `down` and a restart at `up`: live connections end abruptly at the restart.
    fn crash(&mut self, down: Instant, up: Instant) {
        self.tick(down);
        for c in 0..2 {
            if self.clients[c].live.is_some() {
                self.end(c, up, false);
            }
        }
    }
}

// ---------------------------------------------------------------- the broker side

struct Run {
    dir: tempfile::TempDir,
    broker: Option<BrokerHandle>,
    addr: SocketAddr,
    observer: TestClient,
    observer_since: Instant,
    clients: [Option<TestClient>; 2],
    seen: HashMap<String, Instant>,
    dup_or_extra: Vec<String>,
    case: u64,
}

async fn start(dir: &std::path::Path) -> BrokerHandle {
    let cfg = Config { data_dir: Some(dir.to_path_buf()), ..Config::default() };
    let l = Listeners { tcp: vec!["127.0.0.1:0".parse().unwrap()], ..Listeners::default() };
    lwt_broker::start_with(cfg, l).await.expect("broker starts")
}

/// Starts the broker again over `dir` once the aborted one has let go of its database.
async fn restart(dir: &std::path::Path) -> BrokerHandle {
    let cfg = Config { data_dir: Some(dir.to_path_buf()), ..Config::default() };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let l = Listeners { tcp: vec!["127.0.0.1:0".parse().unwrap()], ..Listeners::default() };
        match lwt_broker::start_with(cfg.clone(), l).await {
            Ok(b) => return b,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("restart over {}: {e:#}", dir.display()),
        }
    }
}

async fn observer(addr: SocketAddr, clean: bool) -> TestClient {
    let mut c = connect(ProtocolVersion::V5, "observer");
    c.clean_start = clean;
    c.properties.push(Property::SessionExpiryInterval(3600));
    let (mut o, ack) = TestClient::connect(addr, c).await;
    assert_eq!(ack.code, 0);
    if clean {
        o.subscribe("m/+", QoS::AtLeastOnce).await;
    } else {
        assert!(ack.session_present, "the observer's session survived the restart");
    }
    o
}

impl Run {
    /// Reads what the observer has (non-blocking beyond `window`), recording first receipts.
    async fn collect(&mut self, window: Duration) {
        let deadline = Instant::now() + window;
        loop {
            match self.observer.recv(deadline.saturating_duration_since(Instant::now())).await {
                Recv::Packet(Packet::Publish(p)) => {
                    self.observer.ack(&p).await;
                    let payload = String::from_utf8_lossy(&p.payload).into_owned();
                    if self.seen.contains_key(&payload) {
                        if !p.dup {
                            self.dup_or_extra.push(format!("{payload} again (DUP 0)"));
                        }
                    } else {
                        self.seen.insert(payload, Instant::now());
                    }
                }
                Recv::Timeout => return,
                other => panic!("observer: expected PUBLISH, got {other:?}"),
            }
        }
    }

    async fn apply(&mut self, op: &Op, model: &mut Model, n: &mut u32) {
        match *op {
            Op::Connect { c, v5, delay, expiry, clean } => {
                *n += 1;
                let payload = format!("{}-{c}-{n}", self.case);
                let version = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
                let mut w = will(&format!("m/{c}"), &payload, QoS::AtLeastOnce, false);
                let (delay, expiry) = if v5 { (delay, expiry) } else { (0, if clean { 0 } else { NEVER }) };
                if v5 && delay > 0 {
                    w.properties.push(Property::WillDelayInterval(delay));
                }
                let mut cn = connect_with_will(version, &format!("c{c}"), w);
                cn.clean_start = clean;
                if v5 && expiry > 0 {
                    cn.properties.push(Property::SessionExpiryInterval(expiry));
                }
                let t = TestClient::connected(self.addr, cn).await;
                model.connect(c, Instant::now(), Some((payload, delay)), v5, expiry, clean);
                self.clients[c] = Some(t); // a taken-over connection is dropped
            }
            Op::Fin(c) | Op::Rst(c) => {
                if let Some(t) = self.clients[c].take() {
                    if matches!(op, Op::Fin(_)) { t.close().await } else { t.reset() }
                    model.end(c, Instant::now(), false);
                }
            }
            Op::Disconnect { c, code } => {
                if let Some(t) = self.clients[c].take() {
                    let v5 = t.version == ProtocolVersion::V5;
                    t.disconnect(if v5 { code } else { 0 }, Properties::new()).await;
                    model.end(c, Instant::now(), !v5 || code == 0);
                }
            }
            Op::Wait(ms) => self.collect(Duration::from_millis(ms)).await,
            Op::Crash => {
                self.collect(Duration::from_millis(50)).await;
                let down = Instant::now();
                self.broker.take().expect("a running broker").abort();
                self.broker = Some(restart(self.dir.path()).await);
                let up = Instant::now();
                self.clients = [None, None];
                model.crash(down, up);
                self.addr = self.broker.as_ref().expect("restarted").local_addrs()[0];
                self.observer = observer(self.addr, false).await;
                self.observer_since = Instant::now();
            }
        }
        // Let the broker handle (and commit) what the operation caused.
        self.collect(Duration::from_millis(40)).await;
    }
}

async fn run_case(ops: Vec<Op>, case: u64) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let addr = broker.local_addrs()[0];
    let obs = observer(addr, true).await;
    let mut run = Run {
        dir,
        broker: Some(broker),
        addr,
        observer: obs,
        observer_since: Instant::now(),
        clients: [None, None],
        seen: HashMap::new(),
        dup_or_extra: Vec::new(),
        case,
    };
    let mut model = Model::default();
    let mut n = 0;
    for op in &ops {
        run.apply(op, &mut model, &mut n).await;
    }
    // Everything still pending comes due within the longest delay or expiry used (3 s).
    run.collect(Duration::from_millis(3300) + LATE).await;
    model.tick(Instant::now());
    let mut p = TestClient::connected(run.addr, connect(ProtocolVersion::V5, "prober")).await;
    let nonce = format!("{case}-probe");
    p.publish(publish("m/probe", &nonce, QoS::AtLeastOnce, false)).await;
    while !run.seen.contains_key(&nonce) {
        match run.observer.recv(Duration::from_secs(3)).await {
            Recv::Packet(Packet::Publish(pk)) => {
                run.observer.ack(&pk).await;
                let s = String::from_utf8_lossy(&pk.payload).into_owned();
                if !run.seen.contains_key(&s) {
                    run.seen.insert(s, Instant::now());
                } else if !pk.dup {
                    run.dup_or_extra.push(format!("{s} again (DUP 0)"));
                }
            }
            other => return Err(format!("liveness probe did not come back: {other:?}")),
        }
    }
    run.seen.remove(&nonce);
    compare(&model, &run)
}

fn compare(model: &Model, run: &Run) -> Result<(), String> {
    let mut errors = run.dup_or_extra.clone();
    for (payload, due) in &model.published {
        match run.seen.get(payload) {
            None => errors.push(format!("{payload}: expected (due at +{:?}), never came", due.duration_since(run.observer_since.min(*due)))),
            Some(at) if *at + EARLY < *due => errors.push(format!("{payload}: came {:?} early", *due - *at)),
            Some(at) if *at > (*due).max(run.observer_since) + LATE => {
                errors.push(format!("{payload}: came {:?} late", *at - (*due).max(run.observer_since)))
            }
            Some(_) => {}
        }
    }
    for payload in run.seen.keys() {
        if !model.published.iter().any(|(p, _)| p == payload) {
            errors.push(format!("{payload}: published, but the model discards or still holds it"));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

fn cases() -> u32 {
    std::env::var("WILL_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_broker_follows_the_will_decision_table(ops in proptest::collection::vec(op(), 1..8)) {
        static CASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let case = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let result = rt.block_on(run_case(ops.clone(), case));
        prop_assert!(result.is_ok(), "{:?}\n{}", ops, result.unwrap_err());
    }
}
