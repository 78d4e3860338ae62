//! Bad input over TLS, bounded (issue 12): garbage, truncated and oversized CONNECTs, TLS
//! handshakes abandoned mid-way, and 1,500 connect/reset cycles whose wills the namespace
//! denies. Afterwards the broker still serves (a real will still arrives), holds no leftover
//! connection or session, its memory is back near the level after a warm-up round, and nothing
//! panicked anywhere in the process.

mod tls_common;

use lwt_broker::codec::*;
use lwt_broker::BrokerHandle;
use rustls::pki_types::ServerName;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tls_common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Resident set size of this process (the broker runs in it), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Makes dropping `s` send RST (no FIN, no TLS close_notify): the abrupt end a stress needs. The
/// zero linger never blocks, which is why tokio's deprecation does not apply here.
#[allow(deprecated)]
fn rst_on_drop(s: &TcpStream) {
    let _ = s.set_linger(Some(Duration::ZERO));
}

/// Connection-level abuse, one of each kind per call.
async fn abuse_once(w: &Walkthrough, addr: std::net::SocketAddr, hello: &[u8]) {
    // Not TLS at all.
    if let Ok(mut s) = TcpStream::connect(addr).await {
        let _ = s.write_all(b"\x10\xff\xff\xff\x7fGARBAGE-NOT-TLS\x00\x01\x02").await;
    }
    // A ClientHello cut in half, then RST.
    if let Ok(mut s) = TcpStream::connect(addr).await {
        let _ = s.write_all(&hello[..hello.len() / 2]).await;
        rst_on_drop(&s);
    }
    // A TCP connection that never says anything, dropped.
    drop(TcpStream::connect(addr).await);
    // Over TLS: garbage, a truncated CONNECT, an oversized CONNECT, a CONNECT with a bad protocol.
    let full = Packet::Connect(connect(ProtocolVersion::V5, "sensor1", Some("sensor1"))).to_bytes(ProtocolVersion::V5);
    let bodies: [Vec<u8>; 4] = [
        b"\xf0\x00garbage\xff\xff\xff".to_vec(),
        full[..full.len() - 3].to_vec(),
        [&[0x10u8, 0xff, 0xff, 0xff, 0x7f][..], &[0u8; 4096][..]].concat(),
        b"\x10\x0c\x00\x04MQTT\x07\x02\x00\x3c\x00\x00".to_vec(),
    ];
    for body in bodies {
        if let Ok(mut c) = Client::open(&w.pki, addr, Some(&w.sensor1), ProtocolVersion::V5).await {
            rst_on_drop(c.conn.get_mut().get_mut().0);
            let _ = c.conn.get_mut().write_all(&body).await;
            let _ = c.conn.get_mut().flush().await;
        }
    }
}

/// sensor1 connects with a will on sensor2's topic (denied when it fires) and resets.
async fn forged_will_and_reset(w: &Walkthrough, b: &BrokerHandle) {
    let c = with_will(connect(ProtocolVersion::V5, "", Some("sensor1")), "clients/sensor2/status", "forged");
    let (c, ack) = w.client(b, "sensor1", c).await;
    assert_eq!(ack.code, 0);
    let tcp = c.conn.into_inner().into_inner().0;
    rst_on_drop(&tcp);
}

async fn round(w: &Arc<Walkthrough>, b: &Arc<BrokerHandle>, cycles: usize, hello: &Arc<Vec<u8>>) {
    let workers = 8;
    let mut tasks = Vec::new();
    for k in 0..workers {
        let (w, b, hello) = (w.clone(), b.clone(), hello.clone());
        tasks.push(tokio::spawn(async move {
            for i in (k..cycles).step_by(workers) {
                if i % 10 == 0 {
                    abuse_once(&w, b.tls_addrs()[0], &hello).await;
                }
                forged_will_and_reset(&w, &b).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("a stress worker");
    }
}

/// Waits until the broker has let go of every stress connection and session.
async fn settled(b: &BrokerHandle, live: usize) -> lwt_broker::core::Stats {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let s = b.stats().await;
        if (s.connections == live && s.sessions == live) || Instant::now() > end {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn client_hello(w: &Walkthrough) -> Vec<u8> {
    let mut conn = rustls::ClientConnection::new(w.pki.client_config(None), ServerName::try_from("127.0.0.1").unwrap()).unwrap();
    let mut out = Vec::new();
    conn.write_tls(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_over_tls_leaves_the_broker_serving_with_baseline_memory() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let w = Arc::new(Walkthrough::new());
    // Eight workers connect as sensor1 at once, each with an assigned id.
    let b = Arc::new(w.broker("settings:\n  maximumClientSessionsPerAuthenticationName: 100\n").await);
    let hello = Arc::new(client_hello(&w));
    let mut a = w.actuator(&b, "actuator1").await;
    let mut prober = w.connected(&b, "prober", ProtocolVersion::V5).await;

    let t0 = Instant::now();
    round(&w, &b, 200, &hello).await;
    let warm = settled(&b, 2).await;
    assert_eq!((warm.connections, warm.sessions), (2, 2), "after warm-up: {warm:?}");
    let baseline = rss_kib();

    let cycles = 1300;
    round(&w, &b, cycles, &hello).await;
    let after = settled(&b, 2).await;
    let rss = rss_kib();
    let took = t0.elapsed();
    assert_eq!((after.connections, after.sessions, after.pending_wills), (2, 2, 0), "leftover state: {after:?}");
    assert_eq!(after.wills_denied, 200 + cycles as u64, "every forged will was denied, none published");
    assert_eq!(after.wills_published, 0);
    assert!(rss <= baseline + 24 * 1024, "RSS {rss} KiB after {cycles} cycles, {baseline} KiB after the warm-up");
    println!("{} connect/reset cycles and {} abuse rounds in {took:?}; RSS {baseline} → {rss} KiB", 200 + cycles, (200 + cycles) / 10);

    // Still serving: no forged will reached the actuator, and a real one does.
    a.expect_only_probe(&mut prober, "probe/after-stress").await;
    forged_will_and_reset(&w, &b).await;
    let (c, ack) = w.client(&b, "sensor2", with_will(connect(ProtocolVersion::V5, "sensor2", Some("sensor2")), "clients/sensor2/status", "offline")).await;
    assert_eq!(ack.code, 0);
    drop(c.conn.into_inner().into_inner().0);
    let p = a.next_publish(WAIT).await.expect("sensor2's will after the stress");
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("clients/sensor2/status", &b"offline"[..]));
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a panic happened during the stress (see the output above)");
}
