//! A fault-injecting TCP proxy between clients and the broker. Each accepted client connection is a
//! link with its own control: pass, blackhole (both sockets stay open, nothing moves: a half-open
//! connection only keep-alive can detect), added latency, or a cut with FIN or RST.

use crate::fault::{Fault, FaultRecord, NetFault};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::debug;

/// What a link does right now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LinkState {
    /// Forward as fast as possible.
    Pass,
    /// Forward nothing; keep both sockets open.
    Blackhole,
    /// Delay each chunk.
    Latency(Duration),
    /// Close both sides with FIN.
    CutFin,
    /// Close both sides with RST.
    CutRst,
}

/// The running proxy.
pub struct Proxy {
    addr: SocketAddr,
    links: Arc<Mutex<HashMap<SocketAddr, watch::Sender<LinkState>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free 127.0.0.1 port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let links: Arc<Mutex<HashMap<SocketAddr, watch::Sender<LinkState>>>> = Arc::default();
        let l2 = links.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, peer)) = listener.accept().await {
                let _ = client.set_nodelay(true);
                let (tx, rx) = watch::channel(LinkState::Pass);
                l2.lock().unwrap().insert(peer, tx);
                tokio::spawn(link(client, upstream, rx));
            }
        });
        Ok(Proxy { addr, links, task })
    }

    /// Where clients connect instead of the broker.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the state of the link of the client whose local address is `client`.
    pub fn set(&self, client: SocketAddr, state: LinkState) -> anyhow::Result<()> {
        let links = self.links.lock().unwrap();
        let tx = links.get(&client).ok_or_else(|| anyhow::anyhow!("no proxy link for client {client}"))?;
        tx.send_replace(state);
        Ok(())
    }

    /// Applies a network fault to one client's link and records it.
    pub fn inject(&self, client: SocketAddr, client_id: &str, fault: NetFault) -> anyhow::Result<FaultRecord> {
        let planned = Instant::now();
        // Taken before the change: the pumps react at once, on other threads.
        let actual = Instant::now();
        self.set(
            client,
            match fault {
                NetFault::Blackhole => LinkState::Blackhole,
                NetFault::Latency(d) => LinkState::Latency(d),
                NetFault::CutFin => LinkState::CutFin,
                NetFault::CutRst => LinkState::CutRst,
            },
        )?;
        Ok(FaultRecord { fault: Fault::Net(fault), client_id: client_id.into(), planned, actual, held: None })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn link(client: TcpStream, upstream: SocketAddr, state: watch::Receiver<LinkState>) {
    let server = match TcpStream::connect(upstream).await {
        Ok(s) => s,
        Err(e) => {
            debug!("proxy cannot reach {upstream}: {e}");
            return;
        }
    };
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let client_reset = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let up = tokio::spawn(pump(cr, sw, state.clone(), Some(client_reset.clone())));
    let down = tokio::spawn(pump(sr, cw, state.clone(), None));
    let a = up.await;
    if client_reset.load(std::sync::atomic::Ordering::SeqCst) {
        // The client reset its socket: pass the reset on, so the broker sees an I/O error (RST), not a FIN.
        down.abort();
        let _ = down.await;
        if let Ok((_cr, sw)) = a {
            let _ = sw.as_ref().set_zero_linger();
            // Closing without the write half's shutdown (FIN): the last reference closes with RST.
            sw.forget();
        }
        return;
    }
    let b = down.await;
    // Both directions ended. On a cut, reunite the halves to close with FIN or RST.
    if let (Ok((r1, w1)), Ok((r2, w2))) = (a, b) {
        let st = *state.borrow();
        if let (Ok(s1), Ok(s2)) = (r1.reunite(w2), r2.reunite(w1)) {
            if st == LinkState::CutRst {
                let _ = s1.set_zero_linger();
                let _ = s2.set_zero_linger();
            }
            drop(s1);
            drop(s2);
        }
    }
}

/// Copies `from` → `to` following the link state; returns the halves when the link is cut or closed.
/// `reset`, if given, is set when `from` fails with a connection reset (the halves are then returned
/// without shutting `to` down, for the caller to pass the reset on).
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
    reset: Option<Arc<std::sync::atomic::AtomicBool>>,
) -> (OwnedReadHalf, OwnedWriteHalf) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let st = *state.borrow_and_update();
        match st {
            LinkState::CutFin | LinkState::CutRst => {
                if st == LinkState::CutFin {
                    let _ = to.shutdown().await;
                }
                return (from, to);
            }
            LinkState::Blackhole => {
                // Read nothing, write nothing, until the state changes.
                if state.changed().await.is_err() {
                    return (from, to);
                }
                continue;
            }
            _ => {}
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && reset.is_some() => {
                    if let Some(flag) = &reset {
                        flag.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    return (from, to);
                }
                Ok(0) | Err(_) => {
                    let _ = to.shutdown().await;
                    return (from, to);
                }
                Ok(n) => n,
            },
            _ = state.changed() => continue,
        };
        let now_state = *state.borrow();
        if let LinkState::Latency(d) = now_state {
            // A cut during the delay drops the chunk in flight, as a real link would.
            let deadline = Instant::now() + d;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    r = state.changed() => {
                        let st = *state.borrow_and_update();
                        if r.is_err() || matches!(st, LinkState::CutFin | LinkState::CutRst) {
                            if st == LinkState::CutFin {
                                let _ = to.shutdown().await;
                            }
                            return (from, to);
                        }
                    }
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return (from, to);
        }
    }
}
