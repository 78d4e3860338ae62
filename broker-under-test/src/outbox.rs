//! Each connection's writer queue: the core hands a connection its packets here, and the
//! connection's writer (in [`crate::client`]) drains them to the socket in batches. On plain TCP
//! the core may write straight to an idle subscriber's socket instead ([`Outbox::send`]): this is
//! the last step of a will's way to its subscriber.

use crate::codec::{Packet, ProtocolVersion};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// What the core sends to a connection's writer.
#[derive(Debug)]
pub enum Outbound {
    /// Encoded packet bytes to write.
    Bytes(Bytes),
    /// Flush, close the socket and stop the connection.
    Close,
}

/// The sending side of a connection's writer queue, with a count of queued items so a stalled
/// subscriber can be detected without blocking the core.
///
/// A plain locked queue plus the writer's waker rather than a tokio mpsc channel: an idle
/// connection then costs one small allocation instead of a channel with a preallocated 32-slot
/// block (about 1.5 KB per connection), and the writer needs no wait future in its state. On plain TCP it also holds the socket, so the core can write a
/// packet straight through while the writer is idle ([`Outbox::send`]): a will then reaches its
/// subscriber without waking the subscriber's task.
#[derive(Debug)]
pub struct Outbox {
    shared: Arc<OutboxShared>,
}

#[derive(Debug, Default)]
struct OutboxShared {
    queue: std::sync::Mutex<Queue>,
    /// Items queued and not yet written.
    queued: AtomicUsize,
    /// Live [`Outbox`] handles; the writer stops when it reaches 0 and the queue is drained.
    senders: AtomicUsize,
    /// The writer is gone: further items are dropped.
    rx_gone: AtomicBool,
    /// The socket, for writing through (plain TCP only; TLS state belongs to the writer).
    /// Weak: the connection task alone owns the socket, so its teardown never lands on the core.
    direct: Option<std::sync::Weak<tokio::net::TcpStream>>,
}

/// The queue and whether the writer holds bytes it has not finished writing. Writing through is
/// allowed only when both are empty, so bytes never overtake each other.
#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Outbound>,
    writer_busy: bool,
    /// The writer waiting for an item (or for the last [`Outbox`] to go).
    waker: Option<Waker>,
}

impl OutboxShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn push(&self, item: Outbound) {
        if self.rx_gone.load(Ordering::Acquire) {
            return;
        }
        let mut q = self.lock();
        q.items.push_back(item);
        let waker = q.waker.take();
        drop(q);
        wake(waker);
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Outbox { shared: self.shared.clone() }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            let waker = self.shared.lock().waker.take();
            wake(waker);
        }
    }
}

impl Outbox {
    /// A new outbox and the receiving end for the writer. With `direct`, [`Outbox::send`] may
    /// write to that socket itself.
    pub fn new(direct: Option<&Arc<tokio::net::TcpStream>>) -> (Outbox, OutboxReceiver) {
        let direct = direct.map(Arc::downgrade);
        let shared = Arc::new(OutboxShared { senders: AtomicUsize::new(1), direct, ..Default::default() });
        (Outbox { shared: shared.clone() }, OutboxReceiver { shared })
    }
    /// Encodes and queues `packet`.
    pub fn packet(&self, packet: &Packet, version: ProtocolVersion) {
        self.bytes(packet.to_bytes(version));
    }
    /// Queues encoded bytes.
    pub fn bytes(&self, bytes: Bytes) {
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        self.shared.push(Outbound::Bytes(bytes));
    }
    /// Sends encoded bytes: with `through` set, nothing queued and the writer idle, they go to the
    /// socket at once (a non-blocking write; whatever the socket does not take is queued);
    /// otherwise they are queued for the writer, which batches them.
    pub fn send(&self, bytes: Bytes, through: bool) {
        let Some(sock) = self.shared.direct.as_ref().filter(|_| through).and_then(|w| w.upgrade()) else {
            return self.bytes(bytes);
        };
        if self.shared.rx_gone.load(Ordering::Acquire) {
            return;
        }
        let mut q = self.shared.lock();
        let rest = if q.items.is_empty() && !q.writer_busy {
            match sock.try_write(&bytes) {
                Ok(n) if n == bytes.len() => return,
                Ok(n) => bytes.slice(n..),
                // Would block, or failed: the writer retries, and reports a failure as its own.
                Err(_) => bytes,
            }
        } else {
            bytes
        };
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        q.items.push_back(Outbound::Bytes(rest));
        let waker = q.waker.take();
        drop(q);
        wake(waker);
    }
    /// Asks the writer to close the connection.
    pub fn close(&self) {
        self.shared.push(Outbound::Close);
    }
    /// Items queued and not yet written.
    pub fn backlog(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}

/// The writer's end of an [`Outbox`].
#[derive(Debug)]
pub struct OutboxReceiver {
    shared: Arc<OutboxShared>,
}

impl OutboxReceiver {
    /// Moves every queued item into `into` (which must be empty) at once: `Ready(true)` when
    /// there were some, `Ready(false)` once every [`Outbox`] is dropped and the queue is drained.
    /// Taking marks the writer busy until [`OutboxReceiver::written`]; when pending, the task is
    /// woken by the next push.
    pub fn poll_take_all(&mut self, cx: &mut Context<'_>, into: &mut VecDeque<Outbound>) -> Poll<bool> {
        let mut q = self.shared.lock();
        if !q.items.is_empty() {
            std::mem::swap(&mut q.items, into);
            q.writer_busy = true;
            return Poll::Ready(true);
        }
        if self.shared.senders.load(Ordering::Acquire) == 0 {
            return Poll::Ready(false);
        }
        if !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            q.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
    /// Records that `n` queued items were written and the writer holds nothing more: the core
    /// may write through again.
    pub fn written(&self, n: usize) {
        self.shared.lock().writer_busy = false;
        self.shared.queued.fetch_sub(n, Ordering::Relaxed);
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        self.shared.rx_gone.store(true, Ordering::Release);
        self.shared.lock().items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    async fn pair() -> (Arc<tokio::net::TcpStream>, tokio::net::TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        (Arc::new(server), client)
    }

    /// What the writer would take now (the bytes of every queued item, in order).
    fn take_all(rx: &mut OutboxReceiver) -> Vec<u8> {
        let mut batch = VecDeque::new();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let _ = rx.poll_take_all(&mut cx, &mut batch);
        batch.iter().flat_map(|i| match i {
            Outbound::Bytes(b) => b.to_vec(),
            Outbound::Close => Vec::new(),
        }).collect()
    }

    async fn read_exactly(s: &mut tokio::net::TcpStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf)).await.unwrap().unwrap();
        buf
    }

    /// Write-through goes straight to the socket only while nothing is queued or held by the writer;
    /// otherwise it queues behind, so bytes never overtake each other.
    #[tokio::test]
    async fn write_through_never_overtakes_queued_bytes() {
        let (server, mut peer) = pair().await;
        let (outbox, mut rx) = Outbox::new(Some(&server));

        outbox.send(Bytes::from_static(b"a"), true);
        assert_eq!(outbox.backlog(), 0, "idle writer: written through");
        assert_eq!(read_exactly(&mut peer, 1).await, b"a");

        outbox.send(Bytes::from_static(b"b"), false);
        outbox.send(Bytes::from_static(b"c"), true);
        assert_eq!(outbox.backlog(), 2, "something queued: write-through queues behind it");

        // The writer takes "b" and "c": while it holds them, write-through still queues.
        let mut rest = take_all(&mut rx);
        assert_eq!(rest, b"bc");
        outbox.send(Bytes::from_static(b"d"), true);
        assert_eq!(outbox.backlog(), 3);
        rest.extend(take_all(&mut rx));
        assert_eq!(rest, b"bcd");
        rx.written(3);
        assert_eq!(outbox.backlog(), 0);

        // Writer idle again: write-through resumes.
        outbox.send(Bytes::from_static(b"e"), true);
        assert_eq!(outbox.backlog(), 0);
        assert_eq!(read_exactly(&mut peer, 1).await, b"e");
    }

    /// Without a socket (TLS) or without `through`, `send` always queues for the writer.
    #[tokio::test]
    async fn send_queues_without_a_direct_socket() {
        let (outbox, mut rx) = Outbox::new(None);
        outbox.send(Bytes::from_static(b"x"), true);
        assert_eq!(outbox.backlog(), 1);
        assert_eq!(take_all(&mut rx), b"x");
    }
}
