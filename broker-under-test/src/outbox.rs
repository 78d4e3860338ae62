//! Each connection's writer queue and writer: the core hands a connection its packets here, and
//! the connection's [`Out`] (polled by its task in [`crate::client`]) drains them to the socket in
//! batches with vectored writes. On plain TCP
//! the core may write straight to an idle subscriber's socket instead ([`Outbox::send`]): this is
//! the last step of a will's way to its subscriber.

use crate::codec::{Packet, ProtocolVersion};
use bytes::Bytes;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;
use tokio::io::AsyncWrite;
use tokio::time::Instant;

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
        let Some(bytes) = staging::hold(self, Outbound::Bytes(bytes)) else { return };
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        self.shared.push(Outbound::Bytes(bytes));
    }
    /// Sends encoded bytes: with `through` set, nothing queued and the writer idle, they go to the
    /// socket at once (a non-blocking write; whatever the socket does not take is queued);
    /// otherwise they are queued for the writer, which batches them.
    pub fn send(&self, bytes: Bytes, through: bool) {
        let Some(bytes) = staging::hold(self, Outbound::Bytes(bytes)) else { return };
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
        if staging::hold(self, Outbound::Close).is_none() {
            return;
        }
        self.shared.push(Outbound::Close);
    }
    /// Items queued and not yet written.
    pub fn backlog(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }
}

/// Holding back what the core sends until the batch that produced it is durable (only with a
/// durable store: see [`crate::durable`]). Between [`begin`](staging::begin) and
/// [`release`](staging::release) on the core's thread, every packet and close for any connection is
/// kept in order instead of queued or written; `release` then sends them all, in that order.
/// Thread-local because the core handles a batch synchronously on one thread, with no await in
/// between; connection tasks on other threads are never held.
pub mod staging {
    use super::{Outbound, Outbox};
    use bytes::Bytes;
    use std::cell::RefCell;

    thread_local! {
        static HELD: RefCell<Option<Vec<(Outbox, Outbound)>>> = const { RefCell::new(None) };
    }

    /// Starts holding on this thread.
    pub fn begin() {
        HELD.with(|h| *h.borrow_mut() = Some(Vec::new()));
    }

    /// Holds `item` for `outbox` if holding is on; otherwise gives back the bytes to send now
    /// (`Some(empty)` for a close).
    pub(super) fn hold(outbox: &Outbox, item: Outbound) -> Option<Bytes> {
        HELD.with(|h| match h.borrow_mut().as_mut() {
            Some(held) => {
                held.push((outbox.clone(), item));
                None
            }
            None => Some(match item {
                Outbound::Bytes(b) => b,
                Outbound::Close => Bytes::new(),
            }),
        })
    }

    /// Stops holding and sends everything held, in order (`through`: see [`Outbox::send`]).
    pub fn release(through: bool) {
        let held = HELD.with(|h| h.borrow_mut().take()).unwrap_or_default();
        for (outbox, item) in held {
            match item {
                Outbound::Bytes(b) => outbox.send(b, through),
                Outbound::Close => outbox.close(),
            }
        }
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

// ---------------------------------------------------------------- the connection's writer

/// How long one write may block before the peer is considered gone.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What one step of the writing side did.
pub(crate) enum Drive {
    /// Bytes were taken from the outbox or written.
    Progress,
    /// The core asked to close (or dropped every outbox); everything was flushed and shut down.
    Closed,
    /// The socket failed or stalled.
    Failed(std::io::Error),
}

/// The writing side of a connection: the outbox, the batch taken from it, and the socket's
/// write half. A batch is written with vectored writes straight from the encoded packets: no copy
/// into a large buffer, so nothing big is allocated and freed per batch (glibc coalesces its heap
/// on every free of 64 KiB or more, which cost a fifth of the broker's CPU in will storms).
pub struct Out<W> {
    w: W,
    rx: OutboxReceiver,
    /// The batch being written (released when written, so an idle connection holds no storage).
    batch: VecDeque<Outbound>,
    /// Bytes of the batch's first item already written.
    offset: usize,
    /// Packets in the batch, counted as written once the whole batch is.
    items: usize,
    closing: bool,
    /// Since when bytes have been waiting without any of them being written, for the stall limit.
    stalled_since: Option<Instant>,
}

/// At most this many packets go into one vectored write.
const MAX_SLICES: usize = 64;

impl<W: AsyncWrite + Unpin> Out<W> {
    /// The writer of one connection: `w` is the socket's write half.
    pub(crate) fn new(w: W, rx: OutboxReceiver) -> Self {
        Out { w, rx, batch: VecDeque::new(), offset: 0, items: 0, closing: false, stalled_since: None }
    }

    /// When unwritten bytes will have waited [`WRITE_TIMEOUT`] without progress.
    pub(crate) fn stall_deadline(&self) -> Option<Instant> {
        self.stalled_since.map(|t| t + WRITE_TIMEOUT)
    }

    /// Drops what leads the batch without bytes to write: empty packets, and a close request (after
    /// which nothing is written).
    fn skip_empty(&mut self) {
        loop {
            match self.batch.front() {
                Some(Outbound::Close) => {
                    self.closing = true;
                    self.batch.clear();
                }
                Some(Outbound::Bytes(b)) if b.len() == self.offset => {
                    self.batch.pop_front();
                    self.offset = 0;
                }
                _ => return,
            }
        }
    }

    /// One step: take the next batch from the outbox, or write some of it. Polled next to
    /// reading, whose timer enforces [`Out::stall_deadline`].
    pub(crate) fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<Drive> {
        self.skip_empty();
        if self.batch.is_empty() {
            if self.items > 0 || self.batch.capacity() > 0 {
                self.batch = VecDeque::new();
                self.stalled_since = None;
                self.rx.written(std::mem::take(&mut self.items));
            }
            if !self.closing {
                if !ready!(self.rx.poll_take_all(cx, &mut self.batch)) {
                    // Every outbox is gone: nothing more can come.
                    self.closing = true;
                }
                self.items = self.batch.iter().filter(|i| matches!(i, Outbound::Bytes(_))).count();
                self.stalled_since = Some(Instant::now());
                return Poll::Ready(Drive::Progress);
            }
            let _ = ready!(Pin::new(&mut self.w).poll_shutdown(cx));
            return Poll::Ready(Drive::Closed);
        }
        let mut slices = [std::io::IoSlice::new(&[]); MAX_SLICES];
        let mut k = 0;
        for item in self.batch.iter().take(MAX_SLICES) {
            let Outbound::Bytes(b) = item else { break };
            slices[k] = std::io::IoSlice::new(if k == 0 { &b[self.offset..] } else { &b[..] });
            k += 1;
        }
        match ready!(Pin::new(&mut self.w).poll_write_vectored(cx, &slices[..k])) {
            Ok(0) => Poll::Ready(Drive::Failed(std::io::ErrorKind::WriteZero.into())),
            Ok(mut n) => {
                self.stalled_since = Some(Instant::now());
                while n > 0 {
                    let Some(Outbound::Bytes(b)) = self.batch.front() else { break };
                    let left = b.len() - self.offset;
                    if n < left {
                        self.offset += n;
                        break;
                    }
                    n -= left;
                    self.batch.pop_front();
                    self.offset = 0;
                }
                Poll::Ready(Drive::Progress)
            }
            Err(e) => Poll::Ready(Drive::Failed(e)),
        }
    }

    /// Writes everything still queued until the core closes the connection or drops its outbox.
    pub(crate) async fn finish(&mut self) {
        loop {
            match std::future::poll_fn(|cx| self.poll_drive(cx)).await {
                Drive::Progress => {}
                Drive::Closed | Drive::Failed(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
