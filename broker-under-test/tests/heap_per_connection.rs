//! Where an idle connection's memory goes (issue 13: ≤ 900 B RSS per idle connection with a will).
//! A counting allocator around the system one counts the broker's live heap before and after 2,000
//! clients connect with a will and go idle; the clients are blocking std sockets on one thread, so
//! their own heap is a few bytes each. Prints bytes and allocations per connection, and pins the
//! live heap so a change that bloats every connection fails here. tokio's per-socket
//! `ScheduledIo` (256 B with its alignment) and task (256 B) are part of the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static BYTES: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        BYTES.fetch_add(l.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        BYTES.fetch_sub(l.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        BYTES.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A 3.1.1 CONNECT with a QoS 1 will on `clients/<id>/status` and keep-alive 600 s.
fn connect_with_will(id: &str) -> Vec<u8> {
    fn s(b: &[u8]) -> Vec<u8> {
        let mut v = (b.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(b);
        v
    }
    let mut body = s(b"MQTT");
    body.extend_from_slice(&[4, 0x02 | 0x04 | 0x08, 0x02, 0x58]);
    body.extend(s(id.as_bytes()));
    body.extend(s(format!("clients/{id}/status").as_bytes()));
    body.extend(s(b"offline"));
    let mut p = vec![0x10, body.len() as u8];
    p.extend(body);
    p
}

#[test]
fn live_heap_per_idle_connection_with_a_will() {
    // Both ends of every connection live in this process.
    let n = (raise_open_files_limit().saturating_sub(300) / 2).min(2000);
    assert!(n >= 200, "too few open files for the measurement ({n} connections)");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let broker = rt.block_on(lwt_broker::start_embedded()).unwrap();
    let addr: std::net::SocketAddr = broker.url().trim_start_matches("mqtt://").parse().unwrap();
    // Warm up (first-connection allocations: maps grow, lazy statics), then settle.
    let warm: Vec<_> = (0..64).map(|i| open(addr, &format!("warm-{i}"))).collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (b0, n0) = (BYTES.load(Ordering::SeqCst), BLOCKS.load(Ordering::SeqCst));
    let socks: Vec<_> = (0..n).map(|i| open(addr, &format!("idle-{i:06}"))).collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (b1, n1) = (BYTES.load(Ordering::SeqCst), BLOCKS.load(Ordering::SeqCst));
    let stats = rt.block_on(broker.stats());
    let per = (b1 - b0) as f64 / n as f64;
    let blocks = (n1 - n0) as f64 / n as f64;
    eprintln!("live heap per idle connection with a will: {per:.0} B in {blocks:.1} allocations ({} connections)", stats.connections);
    assert!(stats.connections >= n, "{stats:?}");
    // 1,361-1,378 B in 12.0 allocations when this test was written (2026-12-06): tokio's task and
    // ScheduledIo 256 B each, the store's Session 320, the core's Conn and another record 112 and
    // 120, the outbox 96, the shared TcpStream 48, the client id three times, the will's topic and
    // payload. Issue 13's 900 B of RSS needs the two 256 B blocks gone (task-less idle connections).
    assert!(per <= 1450.0, "live heap per idle connection {per:.0} B (limit 1450)");
    drop((warm, socks));
    rt.block_on(broker.shutdown());
}

/// Raises the soft open-files limit towards 4,400 (2,000 connections, both ends in this process)
/// as far as the hard limit allows; the limit in force.
fn raise_open_files_limit() -> usize {
    let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
            return 1024;
        }
        if l.rlim_cur < 4400 {
            l.rlim_cur = l.rlim_max.min(4400);
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
        }
    }
    l.rlim_cur as usize
}

fn open(addr: std::net::SocketAddr, id: &str) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(&connect_with_will(id)).unwrap();
    let mut ack = [0u8; 4];
    s.read_exact(&mut ack).unwrap();
    assert_eq!(ack, [0x20, 0x02, 0x00, 0x00]);
    s
}
