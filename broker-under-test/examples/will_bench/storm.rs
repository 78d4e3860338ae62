//! The two phases of issue 13 that load the accept and CONNECT path and the close path at once:
//! the connect rate, and a will storm (every client killed at one instant).
use super::*;

/// What one connect-rate run measured.
#[derive(Default, Clone)]
pub(crate) struct ConnectResult {
    /// Accepted connections per second: CONNECTs answered with CONNACK 0, over the wall time from
    /// the first connect call to the last CONNACK.
    pub(crate) per_sec: f64,
}

/// Phase 4: `--connects` clients CONNECT with a will from `CONNECT_THREADS` threads at once, each
/// pipelining batches (open and CONNECT a batch, then read its CONNACKs) so that at most
/// `--connect-inflight` handshakes are under way; gives the rate. The bound keeps the test about
/// the broker's accept and CONNECT path: mosquitto listens with a backlog of 100, and a client
/// flood beyond it measures SYN retransmission timeouts (about 700 connections/s with 800 in
/// flight) instead.
pub(crate) fn phase_connect(kind: Kind, bins: &Binaries, a: &Args) -> Res<ConnectResult> {
    let broker = spawn(kind, bins)?;
    let n = a.connects;
    let ids: Vec<String> = (0..n).map(|i| format!("wb-c{i}")).collect();
    let per = n.div_ceil(CONNECT_THREADS).max(1);
    let batch = a.connect_inflight.div_ceil(CONNECT_THREADS);
    let t0 = Instant::now();
    let held: Vec<Res<Vec<TcpStream>>> = thread::scope(|s| {
        let workers: Vec<_> = ids
            .chunks(per)
            .map(|chunk| s.spawn(move || connect_batched(broker.addr, chunk, LONG_KA, QoS::AtLeastOnce, batch)))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|_| err("connect thread panicked"))).collect()
    });
    let elapsed = t0.elapsed();
    let mut connected = 0;
    for h in held {
        connected += h?.len();
    }
    Ok(ConnectResult { per_sec: connected as f64 / elapsed.as_secs_f64() })
}

/// Client threads in the connect phase: more than the machine's cores, so the clients are never
/// the ones waiting (each thread mostly blocks on its batch's CONNACKs).
const CONNECT_THREADS: usize = 4;

/// What one storm run measured: arrival of each will after the planned kill instant, in ms.
#[derive(Default, Clone)]
pub(crate) struct StormResult {
    /// Receipt − planned kill instant, ms, sorted.
    pub(crate) after_kill_ms: Vec<f64>,
    pub(crate) lost: usize,
    pub(crate) dup: usize,
    /// How long the bench took to close every victim, ms (all brokers see the same injector).
    pub(crate) kill_ms: f64,
}

impl StormResult {
    /// The `q` quantile (0 = first will, 0.5 = median, 1 = last), ms.
    pub(crate) fn at(&self, q: f64) -> Option<f64> {
        let v = &self.after_kill_ms;
        (!v.is_empty()).then(|| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)])
    }
}

/// Phase 5: `--storm` clients with QoS 1 wills on `clients/<id>/status`, one QoS 1 observer, and
/// every client closed with FIN at one planned instant (as `scenarios/will-storm.yaml`): when do
/// the first, the median and the last will arrive after it.
pub(crate) fn phase_storm(kind: Kind, bins: &Binaries, a: &Args) -> Res<StormResult> {
    let broker = spawn(kind, bins)?;
    let obs = Observer::start(broker.addr, QoS::AtLeastOnce)?;
    let ids: Vec<String> = (0..a.storm).map(|i| format!("wb-s{i}")).collect();
    let victims = connect_many(broker.addr, &ids, LONG_KA, QoS::AtLeastOnce)?;
    let wanted: HashMap<String, usize> = ids.iter().enumerate().map(|(i, id)| (format!("clients/{id}/status"), i)).collect();
    thread::sleep(Duration::from_millis(300));
    let kill = Instant::now() + Duration::from_millis(20);
    sleep_until(kill);
    for s in victims {
        let _ = s.shutdown(Shutdown::Write);
        drop(s);
    }
    let killed = Instant::now();
    let (got, dup) = obs.collect(&wanted, killed + Duration::from_secs(30));
    let mut after_kill_ms: Vec<f64> =
        got.iter().flatten().map(|t| t.saturating_duration_since(kill).as_secs_f64() * 1000.0).collect();
    after_kill_ms.sort_by(f64::total_cmp);
    let lost = got.iter().filter(|g| g.is_none()).count();
    Ok(StormResult { after_kill_ms, lost, dup, kill_ms: (killed - kill).as_secs_f64() * 1000.0 })
}

/// The median of `xs` (None when empty).
pub(crate) fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    (!xs.is_empty()).then(|| xs[xs.len() / 2])
}
