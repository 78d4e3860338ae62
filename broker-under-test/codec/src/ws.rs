//! MQTT over a WebSocket as a byte stream (MQTT 5.0 §6, 3.1.1 §6), for the broker's `--bind-ws`
//! listeners and the harness's `ws://` targets alike: binary frames are concatenated into one
//! stream, so a packet may span frames and a frame may hold several packets (MQTT-6.0.0-2); a text
//! frame is an error (MQTT-6.0.0-1); a close frame reads as end-of-file, exactly like a TCP FIN.

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A WebSocket carrying MQTT, read and written as a byte stream.
#[derive(Debug)]
pub struct WsStream<S> {
    ws: WebSocketStream<S>,
    /// The unread rest of the last binary frame.
    pending: Bytes,
}

impl<S> WsStream<S> {
    /// Wraps an upgraded WebSocket (either side: the harness uses it as a client).
    pub fn new(ws: WebSocketStream<S>) -> Self {
        WsStream { ws, pending: Bytes::new() }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    /// The stream under the WebSocket (faults such as RST reach the TCP socket through it).
    pub fn get_ref(&self) -> &S {
        self.ws.get_ref()
    }
}

fn io_error(e: tokio_tungstenite::tungstenite::Error) -> io::Error {
    io::Error::other(e)
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                buf.put_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(b))) => self.pending = b,
                // tungstenite queues the Pong; push it out now rather than with the next write.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {
                    let _ = Pin::new(&mut self.ws).poll_flush(cx);
                }
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a text frame: MQTT over WebSockets uses binary frames only (MQTT-6.0.0-1)",
                    )))
                }
                // A close frame, or the TCP connection ended: end-of-file, like a FIN.
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(io_error)?;
        Pin::new(&mut self.ws).start_send(Message::Binary(Bytes::copy_from_slice(buf))).map_err(io_error)?;
        Poll::Ready(Ok(buf.len()))
    }

    /// A batch of packets goes out as one binary frame.
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(io_error)?;
        let frame: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        let n = frame.len();
        Pin::new(&mut self.ws).start_send(Message::Binary(frame.into())).map_err(io_error)?;
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(io_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_close(cx).map_err(io_error)
    }
}

