//! A raw blocking MQTT 3.1.1 client and the observer thread that stamps every will it receives.
use super::*;

// ------------------------------------------------------------------------------------------ raw client

/// Writes one MQTT 3.1.1 packet on a blocking socket.
pub(crate) fn write_packet(s: &mut TcpStream, p: &Packet) -> std::io::Result<()> {
    s.write_all(&p.to_bytes(V))
}

/// Reads one packet (blocking, up to `within`).
fn read_packet(s: &mut TcpStream, buf: &mut BytesMut, within: Duration) -> Res<Packet> {
    let deadline = Instant::now() + within;
    let mut tmp = [0u8; 4096];
    loop {
        if let Some(frame) = read_frame(buf, 1 << 20)? {
            return Ok(decode_frame(&frame, V)?);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return err("timed out waiting for a packet");
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut tmp) {
            Ok(0) => return err("connection closed by the broker"),
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// A 3.1.1 CONNECT for `id` with a will on `clients/<id>/status`.
pub(crate) fn will_connect(id: &str, keep_alive: u16, qos: QoS) -> Packet {
    let mut c = Connect::new(V, id);
    c.keep_alive = keep_alive;
    c.will = Some(Will {
        topic: format!("clients/{id}/status"),
        payload: Bytes::from_static(b"offline"),
        qos,
        retain: false,
        properties: Properties::new(),
    });
    Packet::Connect(c)
}

/// Reads the CONNACK of `id` and fails unless it accepts.
pub(crate) fn expect_connack(s: &mut TcpStream, id: &str) -> Res<()> {
    let mut buf = BytesMut::new();
    match read_packet(s, &mut buf, Duration::from_secs(10))? {
        Packet::ConnAck(a) if a.code == 0 => Ok(()),
        other => err(format!("{id}: expected CONNACK 0, got {other:?}")),
    }
}

/// Connects `ids` with a will each, pipelined in batches of 200: open + CONNECT a batch, then read
/// the batch's CONNACKs. Returns the sockets in order.
pub(crate) fn connect_many(addr: SocketAddr, ids: &[String], keep_alive: u16, qos: QoS) -> Res<Vec<TcpStream>> {
    connect_batched(addr, ids, keep_alive, qos, 200)
}

/// [`connect_many`] with batches of `batch` connections in flight.
pub(crate) fn connect_batched(addr: SocketAddr, ids: &[String], keep_alive: u16, qos: QoS, batch: usize) -> Res<Vec<TcpStream>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(batch.max(1)) {
        let mut batch = Vec::with_capacity(chunk.len());
        for id in chunk {
            let mut s = TcpStream::connect(addr).map_err(|e| format!("connect #{} ({id}): {e}", out.len() + batch.len()))?;
            s.set_nodelay(true)?;
            write_packet(&mut s, &will_connect(id, keep_alive, qos))?;
            batch.push(s);
        }
        for (s, id) in batch.iter_mut().zip(chunk) {
            expect_connack(s, id)?;
        }
        out.extend(batch);
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------ observer

/// A subscriber on its own OS thread with a blocking socket: each received PUBLISH is stamped with
/// the instant the `read()` that delivered its last byte returned, before any decoding.
pub(crate) struct Observer {
    pub(crate) rx: mpsc::Receiver<(String, Instant)>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) handle: Option<thread::JoinHandle<()>>,
}

impl Observer {
    /// Connects, subscribes to the will filter at `qos` and starts the receiving thread.
    pub(crate) fn start(addr: SocketAddr, qos: QoS) -> Res<Observer> {
        let mut s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        let mut c = Connect::new(V, format!("will-bench-observer-{}", std::process::id()));
        c.keep_alive = LONG_KA;
        write_packet(&mut s, &Packet::Connect(c))?;
        expect_connack(&mut s, "observer")?;
        let sub = Subscribe {
            packet_id: 1,
            properties: Properties::new(),
            filters: vec![(WILL_FILTER.to_string(), SubOptions::qos(qos))],
        };
        write_packet(&mut s, &Packet::Subscribe(sub))?;
        let mut buf = BytesMut::new();
        match read_packet(&mut s, &mut buf, Duration::from_secs(5))? {
            Packet::SubAck(a) if a.codes == vec![qos as u8] => {}
            other => return err(format!("observer: expected SUBACK [{}], got {other:?}", qos as u8)),
        }
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = thread::Builder::new().name("observer".into()).spawn(move || {
            tight_timer_slack();
            if let Err(e) = observe(s, buf, tx, stop2) {
                eprintln!("observer stopped: {e}");
            }
        })?;
        Ok(Observer { rx, stop, handle: Some(handle) })
    }

    /// Collects receipts until `expected` distinct topics (from `wanted`) arrived or `until` passed.
    /// Returns first receipt per topic and the number of duplicate receipts.
    pub(crate) fn collect(&self, wanted: &HashMap<String, usize>, until: Instant) -> (Vec<Option<Instant>>, usize) {
        let mut got = vec![None; wanted.len()];
        let (mut n, mut dup) = (0, 0);
        while n < wanted.len() {
            let left = until.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((topic, t)) => {
                    if let Some(&i) = wanted.get(&topic) {
                        if got[i].is_none() {
                            got[i] = Some(t);
                            n += 1;
                        } else {
                            dup += 1;
                        }
                    }
                }
                Err(_) => break,
            }
        }
        // Late duplicates that are already queued.
        while let Ok((topic, _)) = self.rx.try_recv() {
            if let Some(&i) = wanted.get(&topic) {
                if got[i].is_some() {
                    dup += 1;
                }
            }
        }
        (got, dup)
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The observer thread: reads, stamps and acknowledges wills until `stop`.
fn observe(mut s: TcpStream, mut buf: BytesMut, tx: mpsc::Sender<(String, Instant)>, stop: Arc<AtomicBool>) -> Res<()> {
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut tmp = vec![0u8; 64 * 1024];
    let mut acks = BytesMut::new();
    while !stop.load(Ordering::Relaxed) {
        let n = match s.read(&mut tmp) {
            Ok(0) => return err("broker closed the observer connection"),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) => return Err(e.into()),
        };
        let t = Instant::now();
        buf.extend_from_slice(&tmp[..n]);
        while let Some(frame) = read_frame(&mut buf, 1 << 20)? {
            if let Packet::Publish(p) = decode_frame(&frame, V)? {
                if let Some(id) = p.packet_id {
                    Packet::PubAck(PubResp::new(id)).encode(V, &mut acks);
                }
                let _ = tx.send((p.topic, t));
            }
        }
        if !acks.is_empty() {
            s.write_all(&acks)?;
            acks.clear();
        }
    }
    Ok(())
}
