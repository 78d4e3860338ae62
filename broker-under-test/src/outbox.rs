//! Each connection's writer queue and writer: the core hands a connection its packets here, and
//! the connection's [`Out`] (polled by its task in [`crate::client`]) drains them to the socket in
//! batches with vectored writes. On plain TCP the core may write straight to an idle subscriber's
//! socket instead ([`Outbox::send`]: when it has nothing else to do, and for the first packet of a
//! burst): this is the last step of a will's way to its subscriber.

use crate::codec::{Packet, ProtocolVersion};
use bytes::Bytes;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use crate::timers::Stamp;
use std::io::IoSlice;
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

/// One per connection, so kept within 96 bytes with its reference counts (a jemalloc size
/// class): 32-bit counters, and the writer-gone flag inside the locked queue.
#[derive(Debug, Default)]
struct OutboxShared {
    queue: std::sync::Mutex<Queue>,
    /// Items queued and not yet written.
    queued: AtomicU32,
    /// Live [`Outbox`] handles; the writer stops when it reaches 0 and the queue is drained.
    senders: AtomicU32,
    /// The socket, for writing through (plain TCP only; TLS state belongs to the writer).
    /// Weak: the connection task alone owns the socket, so its teardown never lands on the core.
    direct: Option<std::sync::Weak<tokio::net::TcpStream>>,
}

/// The queue: the writer writes straight from it and removes an item only once it is on the
/// socket, so "the queue is empty" is exactly when the core may write through (bytes never
/// overtake each other) and a connection's writer keeps no batch of its own.
#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Outbound>,
    /// The writer waiting for an item (or for the last [`Outbox`] to go).
    waker: Option<Waker>,
    /// Bytes of the first item already written.
    offset: u32,
    /// The writer is gone or reached a close: further items are dropped, nothing is written
    /// through. Checked under the lock, so no write-through can slip in after a close.
    rx_gone: bool,
    /// A packet went straight out while the core was busy: until the writer finds the queue empty
    /// again, busy-core packets queue ([`Outbox::send`]).
    burst: bool,
}

impl OutboxShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn push(&self, item: Outbound) {
        let mut q = self.lock();
        if q.rx_gone {
            return;
        }
        if matches!(item, Outbound::Bytes(_)) {
            self.queued.fetch_add(1, Ordering::Relaxed);
        }
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
        let shared = Arc::new(OutboxShared { senders: AtomicU32::new(1), direct, ..Default::default() });
        (Outbox { shared: shared.clone() }, OutboxReceiver { shared })
    }
    /// Encodes and queues `packet`.
    pub fn packet(&self, packet: &Packet, version: ProtocolVersion) {
        self.bytes(packet.to_bytes(version));
    }
    /// Queues encoded bytes.
    pub fn bytes(&self, bytes: Bytes) {
        let Some(bytes) = staging::hold(self, Outbound::Bytes(bytes)) else { return };
        self.shared.push(Outbound::Bytes(bytes));
    }
    /// Sends encoded bytes. When nothing is queued they go to the socket at once (a non-blocking
    /// write; whatever the socket does not take is queued), provided `through` (the core has no
    /// other event waiting) or this is the first packet of a burst: with the core busy, the first
    /// packet since the writer last found the queue empty goes straight out and the rest queue for
    /// the writer, which batches them. So in a will storm the first will does not wait for the
    /// subscriber's task to be scheduled, and the others still go out 64 to a write.
    pub fn send(&self, bytes: Bytes, through: bool) {
        let Some(bytes) = staging::hold(self, Outbound::Bytes(bytes)) else { return };
        let Some(sock) = self.shared.direct.as_ref().and_then(|w| w.upgrade()) else {
            return self.bytes(bytes);
        };
        let mut q = self.shared.lock();
        if q.rx_gone {
            return;
        }
        let rest = if q.items.is_empty() && (through || !q.burst) {
            q.burst |= !through;
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
        self.shared.queued.load(Ordering::Relaxed) as usize
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

/// What the writer should do next ([`OutboxReceiver::poll_next`]).
// `Write` is large (64 handles) on purpose: it lives on the stack for one write; a box would be
// an allocation per write.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Next {
    /// Write these bytes (at least one).
    Write(Slices),
    /// The core asked to close: nothing more is written.
    Close,
    /// Every [`Outbox`] is dropped and the queue is drained.
    Ended,
}

/// The unwritten bytes at the head of a queue: shared handles to up to [`MAX_SLICES`] packets, no
/// copy. Built only when there is something to write, so an idle connection's poll costs nothing.
pub(crate) struct Slices {
    bufs: [Option<Bytes>; MAX_SLICES],
    len: usize,
}

impl Slices {
    /// The slices for one vectored write.
    fn io_slices(&self) -> [IoSlice<'_>; MAX_SLICES] {
        std::array::from_fn(|i| IoSlice::new(self.bufs[i].as_deref().unwrap_or_default()))
    }
}

impl OutboxReceiver {
    /// The unwritten bytes at the head of the queue, left queued until
    /// [`OutboxReceiver::advance`] says they were written. Pending (and woken by the next push)
    /// while the queue is empty.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Next> {
        let mut q = self.shared.lock();
        loop {
            match q.items.front() {
                Some(Outbound::Close) => {
                    // Nothing after a close is written, nor written through.
                    q.rx_gone = true;
                    q.items.clear();
                    self.shared.queued.store(0, Ordering::Relaxed);
                    return Poll::Ready(Next::Close);
                }
                Some(Outbound::Bytes(b)) if b.len() == q.offset as usize => {
                    q.items.pop_front();
                    q.offset = 0;
                    self.shared.queued.fetch_sub(1, Ordering::Relaxed);
                }
                Some(Outbound::Bytes(_)) => break,
                None if self.shared.senders.load(Ordering::Acquire) == 0 => return Poll::Ready(Next::Ended),
                None => {
                    q.burst = false;
                    if !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        q.waker = Some(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
            }
        }
        let mut slices = Slices { bufs: std::array::from_fn(|_| None), len: 0 };
        for (slot, item) in slices.bufs.iter_mut().zip(q.items.iter()) {
            let Outbound::Bytes(b) = item else { break };
            *slot = Some(if slices.len == 0 { b.slice(q.offset as usize..) } else { b.clone() });
            slices.len += 1;
        }
        Poll::Ready(Next::Write(slices))
    }

    /// Records that `n` bytes from the head of the queue were written: whole items leave it.
    pub(crate) fn advance(&self, mut n: usize) {
        let mut q = self.shared.lock();
        while n > 0 {
            let Some(Outbound::Bytes(b)) = q.items.front() else { break };
            let left = b.len() - q.offset as usize;
            if n < left {
                // Less than the item's length, which fits the codec's 256 MiB packet limit.
                q.offset += n as u32;
                return;
            }
            n -= left;
            q.items.pop_front();
            q.offset = 0;
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        }
        if q.items.is_empty() && q.items.capacity() > 0 {
            // An idle connection holds no queue storage.
            q.items = VecDeque::new();
        }
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        let mut q = self.shared.lock();
        q.rx_gone = true;
        q.items.clear();
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

/// The writing side of a connection: the outbox's receiving end and the socket's write half.
/// Packets are written with vectored writes straight from the queue ([`OutboxReceiver::poll_next`]):
/// no copy into a large buffer, so nothing big is allocated and freed per batch (glibc coalesces its
/// heap on every free of 64 KiB or more, which cost a fifth of the broker's CPU in will storms), and
/// no batch storage of its own: this struct lives in every connection's task, so it is kept to the
/// socket, the receiver, and the stall clock.
pub struct Out<W> {
    w: W,
    rx: OutboxReceiver,
    /// Since when bytes have been waiting without any of them being written, for the stall limit
    /// (see [`crate::timers::Stamp`]).
    stalled_since: Option<Stamp>,
    closing: bool,
}

/// At most this many packets go into one vectored write.
const MAX_SLICES: usize = 64;

impl<W: AsyncWrite + Unpin> Out<W> {
    /// The writer of one connection: `w` is the socket's write half.
    pub(crate) fn new(w: W, rx: OutboxReceiver) -> Self {
        Out { w, rx, stalled_since: None, closing: false }
    }

    /// When unwritten bytes will have waited [`WRITE_TIMEOUT`] without progress.
    pub(crate) fn stall_deadline(&self) -> Option<Instant> {
        self.stalled_since.map(|t| t.instant() + WRITE_TIMEOUT)
    }

    /// One step: write some of what is queued, or wait for more. Polled next to reading, whose
    /// timer enforces [`Out::stall_deadline`].
    pub(crate) fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<Drive> {
        if !self.closing {
            match self.rx.poll_next(cx) {
                Poll::Pending => {
                    self.stalled_since = None;
                    return Poll::Pending;
                }
                Poll::Ready(Next::Close | Next::Ended) => self.closing = true,
                Poll::Ready(Next::Write(batch)) => {
                    self.stalled_since.get_or_insert_with(Stamp::now);
                    let slices = batch.io_slices();
                    return match ready!(Pin::new(&mut self.w).poll_write_vectored(cx, &slices[..batch.len])) {
                        Ok(0) => Poll::Ready(Drive::Failed(std::io::ErrorKind::WriteZero.into())),
                        Ok(n) => {
                            self.rx.advance(n);
                            self.stalled_since = Some(Stamp::now());
                            Poll::Ready(Drive::Progress)
                        }
                        Err(e) => Poll::Ready(Drive::Failed(e)),
                    };
                }
            }
        }
        let _ = ready!(Pin::new(&mut self.w).poll_shutdown(cx));
        Poll::Ready(Drive::Closed)
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

    /// What the writer would write now: the unwritten bytes at the head of the queue, in order.
    fn pending(rx: &mut OutboxReceiver) -> Vec<u8> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match rx.poll_next(&mut cx) {
            Poll::Ready(Next::Write(s)) => s.bufs[..s.len].iter().flatten().flat_map(|b| b.to_vec()).collect(),
            _ => Vec::new(),
        }
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

        outbox.bytes(Bytes::from_static(b"b"));
        outbox.send(Bytes::from_static(b"c"), true);
        assert_eq!(outbox.backlog(), 2, "something queued: write-through queues behind it");

        // The writer is about to write "b" and "c": until they are written, write-through queues.
        assert_eq!(pending(&mut rx), b"bc");
        outbox.send(Bytes::from_static(b"d"), true);
        assert_eq!(outbox.backlog(), 3);
        assert_eq!(pending(&mut rx), b"bcd");
        rx.advance(1);
        assert_eq!((outbox.backlog(), pending(&mut rx)), (2, b"cd".to_vec()), "only whole items leave");
        rx.advance(2);
        assert_eq!(outbox.backlog(), 0);
        assert_eq!(pending(&mut rx), b"");

        // Writer idle again: write-through resumes.
        outbox.send(Bytes::from_static(b"e"), true);
        assert_eq!(outbox.backlog(), 0);
        assert_eq!(read_exactly(&mut peer, 1).await, b"e");
    }

    /// The writer sends what was queued, in order, then closes at the close request; what came
    /// after the close never reaches the peer.
    #[tokio::test]
    async fn the_writer_drains_in_order_and_stops_at_the_close() {
        let (server, mut peer) = pair().await;
        let server = Arc::into_inner(server).expect("only handle");
        let (outbox, rx) = Outbox::new(None);
        for b in [&b"one"[..], b"two", b"three"] {
            outbox.bytes(Bytes::copy_from_slice(b));
        }
        outbox.close();
        outbox.bytes(Bytes::from_static(b"late"));
        let mut out = Out::new(server, rx);
        tokio::time::timeout(Duration::from_secs(5), out.finish()).await.expect("writer finished");
        assert_eq!(outbox.backlog(), 0);
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), peer.read_to_end(&mut got)).await.unwrap().unwrap();
        assert_eq!(got, b"onetwothree", "in order, then FIN; nothing after the close");
    }

    /// Every connection has one: it stays within a 96-byte allocation with its reference counts.
    #[test]
    fn the_shared_outbox_state_stays_small() {
        let size = std::mem::size_of::<OutboxShared>();
        assert!(size + 16 <= 96, "OutboxShared is {size} bytes (limit 80)");
    }

    /// With the core busy (`through` false), the first packet of a burst goes straight out and the
    /// next ones queue, until the writer has found the queue empty again.
    #[tokio::test]
    async fn a_busy_core_writes_through_only_the_first_packet_of_a_burst() {
        let (server, mut peer) = pair().await;
        let (outbox, mut rx) = Outbox::new(Some(&server));
        outbox.send(Bytes::from_static(b"1"), false);
        assert_eq!(outbox.backlog(), 0, "first of the burst: written through");
        assert_eq!(read_exactly(&mut peer, 1).await, b"1");
        outbox.send(Bytes::from_static(b"2"), false);
        outbox.send(Bytes::from_static(b"3"), false);
        assert_eq!(outbox.backlog(), 2, "the rest of the burst queues for the writer");
        assert_eq!(pending(&mut rx), b"23");
        rx.advance(2);
        assert_eq!(pending(&mut rx), b"", "the writer finds the queue empty: the burst is over");
        outbox.send(Bytes::from_static(b"4"), false);
        assert_eq!(outbox.backlog(), 0, "a new burst's first packet is written through");
        assert_eq!(read_exactly(&mut peer, 1).await, b"4");
    }

    /// Without a socket (TLS), `send` always queues for the writer.
    #[tokio::test]
    async fn send_queues_without_a_direct_socket() {
        let (outbox, mut rx) = Outbox::new(None);
        outbox.send(Bytes::from_static(b"x"), true);
        assert_eq!(outbox.backlog(), 1);
        assert_eq!(pending(&mut rx), b"x");
    }

    /// A close request is reached after what was queued before it; nothing queued or written
    /// through after it reaches the socket.
    #[tokio::test]
    async fn nothing_is_written_after_a_close() {
        let (server, mut peer) = pair().await;
        let (outbox, mut rx) = Outbox::new(Some(&server));
        outbox.bytes(Bytes::from_static(b"x"));
        outbox.close();
        outbox.bytes(Bytes::from_static(b"y"));
        assert_eq!(pending(&mut rx), b"x");
        rx.advance(1);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(matches!(rx.poll_next(&mut cx), Poll::Ready(Next::Close)));
        outbox.send(Bytes::from_static(b"z"), true);
        assert_eq!(outbox.backlog(), 0);
        drop(server);
        drop(rx);
        drop(outbox);
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_millis(200), peer.read_to_end(&mut rest)).await;
        assert_eq!(rest, b"", "nothing after the close");
    }
}
