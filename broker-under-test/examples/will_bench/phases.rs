//! The three measured phases: will latency after an abrupt close, keep-alive will error, RSS.
use super::*;

// ------------------------------------------------------------------------------------------ phases

/// What the will-latency phase measured (histograms in µs).
#[derive(Default, Clone)]
pub(crate) struct WillResult {
    pub(crate) count: u64,
    pub(crate) lost: usize,
    pub(crate) dup: usize,
    /// Planned close → receipt, µs.
    pub(crate) planned: Option<Histogram<u64>>,
    /// Actual close call → receipt, µs.
    pub(crate) actual: Option<Histogram<u64>>,
    pub(crate) fin: Option<Histogram<u64>>,
    pub(crate) rst: Option<Histogram<u64>>,
    /// Actual − planned close instant, µs.
    pub(crate) lag: Option<Histogram<u64>>,
}

impl WillResult {
    /// Adds another round's measurements to these.
    pub(crate) fn merge(&mut self, o: WillResult) {
        fn add(a: &mut Option<Histogram<u64>>, b: Option<Histogram<u64>>) {
            match (a.as_mut(), b) {
                (Some(x), Some(y)) => x.add(y).expect("same bounds"),
                (None, Some(y)) => *a = Some(y),
                _ => {}
            }
        }
        self.count += o.count;
        self.lost += o.lost;
        self.dup += o.dup;
        add(&mut self.planned, o.planned);
        add(&mut self.actual, o.actual);
        add(&mut self.fin, o.fin);
        add(&mut self.rst, o.rst);
        add(&mut self.lag, o.lag);
    }
}

/// An empty histogram from 1 µs to 120 s, 3 significant digits.
fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds")
}

/// `d` in whole microseconds, at least 1 (histograms start at 1).
pub(crate) fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

/// Phase 1: `wills` abrupt closes on an open-loop schedule, each will timed by the observer.
pub(crate) fn phase_will_latency(kind: Kind, bins: &Binaries, a: &Args, wills: usize) -> Res<WillResult> {
    let broker = spawn(kind, bins)?;
    let qos = QoS::from_u8(a.qos).filter(|q| *q != QoS::ExactlyOnce).ok_or("--qos must be 0 or 1")?;
    let obs = Observer::start(broker.addr, qos)?;
    let total = a.warmup + wills;
    let ids: Vec<String> = (0..total).map(|i| format!("wb-v{i}")).collect();
    let mut victims: Vec<Option<TcpStream>> =
        connect_many(broker.addr, &ids, LONG_KA, qos)?.into_iter().map(Some).collect();
    let is_rst = |i: usize| match a.close {
        CloseMode::Fin => false,
        CloseMode::Rst => true,
        CloseMode::Both => i % 2 == 1,
    };
    for (i, v) in victims.iter().enumerate() {
        if is_rst(i) {
            set_zero_linger(v.as_ref().expect("open"))?;
        }
    }
    let wanted: HashMap<String, usize> = ids.iter().enumerate().map(|(i, id)| (format!("clients/{id}/status"), i)).collect();
    thread::sleep(Duration::from_millis(300));

    let interval = Duration::from_micros(a.interval_us);
    let start = Instant::now() + Duration::from_millis(20);
    let mut planned = Vec::with_capacity(total);
    let mut actual = Vec::with_capacity(total);
    for (i, slot) in victims.iter_mut().enumerate() {
        let plan = start + interval * i as u32;
        sleep_until(plan);
        let s = slot.take().expect("open");
        let t = Instant::now();
        if !is_rst(i) {
            let _ = s.shutdown(Shutdown::Write);
        }
        drop(s);
        planned.push(plan);
        actual.push(t);
    }
    let last = *actual.last().expect("at least one");
    let (got, dup) = obs.collect(&wanted, last + Duration::from_secs(5));

    let mut r = WillResult { dup, ..Default::default() };
    let (mut hp, mut ha, mut hf, mut hr, mut hl) = (hist(), hist(), hist(), hist(), hist());
    for i in a.warmup..total {
        hl.record(us(actual[i].saturating_duration_since(planned[i])))?;
        match got[i] {
            Some(t) => {
                let lp = us(t.saturating_duration_since(planned[i]));
                hp.record(lp)?;
                ha.record(us(t.saturating_duration_since(actual[i])))?;
                if is_rst(i) { hr.record(lp)? } else { hf.record(lp)? }
            }
            None => r.lost += 1,
        }
    }
    r.count = hp.len();
    r.planned = Some(hp);
    r.actual = Some(ha);
    r.fin = (!hf.is_empty()).then_some(hf);
    r.rst = (!hr.is_empty()).then_some(hr);
    r.lag = Some(hl);
    Ok(r)
}

/// What the keep-alive phase measured: will receipt minus 1.5 × keep-alive deadline, per client.
#[derive(Default, Clone)]
pub(crate) struct KaResult {
    /// Errors in µs, sorted.
    pub(crate) errors: Vec<i64>,
    pub(crate) lost: usize,
}

impl KaResult {
    /// The `q` quantile of the errors, in ms (None: nothing measured).
    pub(crate) fn pct(&self, q: f64) -> Option<f64> {
        if self.errors.is_empty() {
            return None;
        }
        let i = ((q * self.errors.len() as f64).ceil() as usize).clamp(1, self.errors.len()) - 1;
        Some(self.errors[i] as f64 / 1000.0)
    }
    /// Wills that came before their deadline (violations).
    pub(crate) fn negatives(&self) -> usize {
        self.errors.iter().filter(|e| **e < 0).count()
    }
}

/// Phase 2: silent clients with keep-alive 1, 2, 3 s; when does each will arrive.
pub(crate) fn phase_keep_alive(kind: Kind, bins: &Binaries, a: &Args) -> Res<KaResult> {
    let broker = spawn(kind, bins)?;
    let qos = QoS::from_u8(a.qos).filter(|q| *q != QoS::ExactlyOnce).ok_or("--qos must be 0 or 1")?;
    let obs = Observer::start(broker.addr, qos)?;
    let n = a.ka_clients;
    let ids: Vec<String> = (0..n).map(|i| format!("wb-ka{i}")).collect();
    let wanted: HashMap<String, usize> = ids.iter().enumerate().map(|(i, id)| (format!("clients/{id}/status"), i)).collect();
    let spread = Duration::from_secs(1);
    let start = Instant::now() + Duration::from_millis(20);
    let mut held = Vec::with_capacity(n);
    let mut deadlines = Vec::with_capacity(n);
    for (i, id) in ids.iter().enumerate() {
        sleep_until(start + spread * i as u32 / n.max(1) as u32);
        let ka = 1 + (i % 3) as u16;
        let mut s = TcpStream::connect(broker.addr)?;
        s.set_nodelay(true)?;
        write_packet(&mut s, &will_connect(id, ka, qos))?;
        // The last packet this client ever sends has just been handed to the kernel.
        let sent = Instant::now();
        expect_connack(&mut s, id)?;
        deadlines.push(sent + Duration::from_millis(1500 * ka as u64));
        held.push(s); // open and silent from here on
    }
    let last = *deadlines.iter().max().expect("at least one");
    let (got, _dup) = obs.collect(&wanted, last + Duration::from_secs(3));
    drop(held);
    let mut r = KaResult::default();
    for (i, g) in got.iter().enumerate() {
        match g {
            Some(t) => {
                let e = if *t >= deadlines[i] {
                    (*t - deadlines[i]).as_micros() as i64
                } else {
                    -((deadlines[i] - *t).as_micros() as i64)
                };
                r.errors.push(e);
            }
            None => r.lost += 1,
        }
    }
    r.errors.sort_unstable();
    Ok(r)
}

/// What the RSS phase measured: broker VmRSS before and after the idle connections.
#[derive(Default, Clone)]
pub(crate) struct RssResult {
    pub(crate) before_kb: u64,
    pub(crate) after_kb: u64,
    pub(crate) n: usize,
}

impl RssResult {
    /// RSS growth per idle connection, in KB.
    pub(crate) fn per_conn_kb(&self) -> f64 {
        (self.after_kb as f64 - self.before_kb as f64) / self.n.max(1) as f64
    }
}

/// VmRSS of `pid` once it changes by at most 64 KiB in 250 ms (or after 5 s).
fn settled_rss(pid: u32) -> Res<u64> {
    thread::sleep(Duration::from_millis(500));
    let mut prev = rss_kb(pid)?;
    let t0 = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(250));
        let now = rss_kb(pid)?;
        if now.abs_diff(prev) <= 64 || t0.elapsed() > Duration::from_secs(5) {
            return Ok(now);
        }
        prev = now;
    }
}

/// Phase 3: idle connections with a will; RSS per connection.
pub(crate) fn phase_rss(kind: Kind, bins: &Binaries, a: &Args) -> Res<RssResult> {
    let broker = spawn(kind, bins)?;
    let before_kb = settled_rss(broker.pid())?;
    let ids: Vec<String> = (0..a.idle).map(|i| format!("wb-idle{i}")).collect();
    let conns = connect_many(broker.addr, &ids, LONG_KA, QoS::AtLeastOnce)?;
    let after_kb = settled_rss(broker.pid())?;
    drop(conns);
    Ok(RssResult { before_kb, after_kb, n: a.idle })
}
