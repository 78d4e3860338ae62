//! Stateful fuzzing through real connection handling: the input is a script that opens up to three
//! client connections (in-memory duplex streams served by the broker's own connection task,
//! `client::serve_stream`), writes slices of the input to them in any interleaving, half-closes or
//! drops them, reads what the broker sends, and lets (paused) time pass so keep-alive, will-delay
//! and session-expiry timers fire. After the script the core must still answer and shut down
//! cleanly; any panic, in the core or in a connection task, aborts the process (a crash).
//!
//! Script: pairs of bytes `(op, arg)`; `op % 3` picks the client, `op / 3 % 6` the action:
//! 0 open, 1 write the next `arg` input bytes, 2 drop, 3 FIN (shutdown of our write side),
//! 4 advance time by `arg` × 100 ms, 5 read what is there.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lwt_broker::core::{Core, Event};
use lwt_broker::store::MemoryStore;
use lwt_broker::Config;
use std::sync::{Arc, Once};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

static HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        // A panic in a spawned task is caught by tokio; make every panic a crash libFuzzer sees.
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            prev(info);
            std::process::abort();
        }));
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    rt.block_on(run(data));
});

async fn run(data: &[u8]) {
    let cfg = Arc::new(Config { max_packet_size: 4096, connect_timeout_secs: 5, ..Config::default() });
    let (tx, rx) = mpsc::channel(1024);
    let core = tokio::spawn(Core::new(cfg.clone(), Box::new(MemoryStore::new())).run(rx));
    let mut clients: [Option<DuplexStream>; 3] = [None, None, None];
    let mut next_id = 1u64;
    let mut i = 0;
    let mut buf = [0u8; 4096];
    while i + 2 <= data.len() {
        let (op, arg) = (data[i], data[i + 1] as usize);
        i += 2;
        let c = (op % 3) as usize;
        match op / 3 % 6 {
            0 => {
                let (ours, theirs) = tokio::io::duplex(8192);
                let peer = "127.0.0.1:1".parse().unwrap();
                tokio::spawn(lwt_broker::client::serve_stream(theirs, peer, next_id, cfg.clone(), tx.clone(), Vec::new()));
                next_id += 1;
                clients[c] = Some(ours);
            }
            1 => {
                let n = arg.min(data.len() - i);
                if let Some(s) = clients[c].as_mut() {
                    let _ = timeout(Duration::from_millis(10), s.write_all(&data[i..i + n])).await;
                }
                i += n;
            }
            2 => clients[c] = None,
            3 => {
                if let Some(s) = clients[c].as_mut() {
                    let _ = s.shutdown().await;
                }
            }
            4 => tokio::time::advance(Duration::from_millis(arg as u64 * 100)).await,
            _ => {
                if let Some(s) = clients[c].as_mut() {
                    let _ = timeout(Duration::from_millis(1), s.read(&mut buf)).await;
                }
            }
        }
        tokio::task::yield_now().await;
    }
    drop(clients);
    let (stx, srx) = oneshot::channel();
    tx.send(Event::Stats(stx)).await.expect("the core is running");
    srx.await.expect("the core answers after the script");
    let (dtx, drx) = oneshot::channel();
    tx.send(Event::Shutdown(dtx)).await.expect("the core is running");
    drx.await.expect("the core shuts down");
    core.await.expect("the core task ends without a panic");
}
