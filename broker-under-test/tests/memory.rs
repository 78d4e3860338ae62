//! Memory per idle connection is a target of the broker (≤ 2 KB, measured by the `will_bench`
//! example). Its largest part is the connection task's own state; this pins it, so a change that
//! bloats every connection fails here rather than in a benchmark nobody runs.

use std::sync::Arc;

#[tokio::test]
async fn connection_task_state_stays_small() {
    let cfg = Arc::new(lwt_broker::Config::default());
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let task = lwt_broker::client::serve_tcp(s, addr, 1, cfg, tx);
    let size = std::mem::size_of_val(&task);
    eprintln!("connection task state: {size} bytes");
    // tokio puts a task's state in one 128-byte-aligned block with ~104 bytes of its own (tokio
    // 1.54, x86_64): up to 152 bytes of state make a 256-byte task, more a 384-byte one. 280 bytes before issue 13; an
    // `async fn` version of the same loop was 1,120.
    assert!(size <= 152, "connection task state is {size} bytes (limit 152: a 256-byte tokio task)");
}
