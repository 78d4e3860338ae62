//! Packets over a byte stream: framing, strict decoding and encoding on any `AsyncRead`/`AsyncWrite`.
//! The broker uses it per connection; the harness and tests use it as their raw MQTT client.

use crate::{decode_frame, read_frame, DecodeError, Frame, Packet, ProtocolVersion};
use bytes::BytesMut;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Why a packet could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The socket failed (RST, timeout, ...).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a valid packet.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The peer closed the stream in the middle of a packet.
    #[error("connection closed inside a packet ({0} bytes buffered)")]
    EofInPacket(usize),
}

/// A stream carrying MQTT packets of one protocol version.
#[derive(Debug)]
pub struct Connection<S> {
    stream: S,
    buf: BytesMut,
    version: ProtocolVersion,
    max_packet_size: usize,
}

impl<S> Connection<S> {
    /// Wraps `stream`; the version starts as 5.0 (CONNECT decodes whatever it declares).
    pub fn new(stream: S) -> Self {
        Connection { stream, buf: BytesMut::new(), version: ProtocolVersion::V5, max_packet_size: usize::MAX }
    }
    /// The protocol version used to decode and encode.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }
    /// Sets the protocol version (after CONNECT).
    pub fn set_version(&mut self, v: ProtocolVersion) {
        self.version = v;
    }
    /// Largest packet accepted from the peer, in bytes (including the fixed header).
    pub fn set_max_packet_size(&mut self, max: usize) {
        self.max_packet_size = max;
    }
    /// The underlying stream (e.g. to set `SO_LINGER` before a reset).
    pub fn get_ref(&self) -> &S {
        &self.stream
    }
    /// The underlying stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }
    /// Gives back the stream.
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S: AsyncRead + Unpin> Connection<S> {
    /// Reads the next packet. `Ok(None)` is a clean end of stream between packets.
    /// Cancel-safe: no bytes are lost if the future is dropped.
    pub async fn read_packet(&mut self) -> Result<Option<Packet>, ReadError> {
        match self.read_frame().await? {
            Some(frame) => Ok(Some(decode_frame(&frame, self.version)?)),
            None => Ok(None),
        }
    }

    /// Reads the next frame without decoding its body. Cancel-safe like [`Connection::read_packet`].
    pub async fn read_frame(&mut self) -> Result<Option<Frame>, ReadError> {
        std::future::poll_fn(|cx| self.poll_read_frame(cx)).await
    }

    /// Polls for the next frame: the building block of [`Connection::read_frame`] for callers that
    /// are futures themselves. Bytes read stay buffered across `Pending`.
    pub fn poll_read_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, ReadError>> {
        loop {
            if let Some(frame) = read_frame(&mut self.buf, self.max_packet_size)? {
                if self.buf.is_empty() {
                    // Let go of the allocation the frame came from: an idle connection holds no buffer.
                    self.buf = BytesMut::new();
                }
                return Poll::Ready(Ok(Some(frame)));
            }
            // Read into the stack and keep only the bytes that arrived.
            let mut tmp = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
            let mut rb = ReadBuf::uninit(&mut tmp);
            ready!(Pin::new(&mut self.stream).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                return Poll::Ready(if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(ReadError::EofInPacket(self.buf.len()))
                });
            }
            self.buf.extend_from_slice(rb.filled());
        }
    }
}

impl<S: AsyncWrite + Unpin> Connection<S> {
    /// Encodes and writes one packet, then flushes.
    pub async fn write_packet(&mut self, packet: &Packet) -> std::io::Result<()> {
        let bytes = packet.to_bytes(self.version);
        self.stream.write_all(&bytes).await?;
        self.stream.flush().await
    }
    /// Writes bytes as they are (fault injection).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }
    /// Closes the write side (sends FIN on TCP).
    pub async fn shutdown(&mut self) -> std::io::Result<()> {
        self.stream.shutdown().await
    }
}
