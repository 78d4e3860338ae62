//! MQTT over WebSockets (MQTT 5.0 §6, 3.1.1 §6): the upgrade handshake with subprotocol `mqtt`
//! (or `mqttv3.1` for old clients) on one path, and [`WsStream`], which turns a WebSocket into the
//! byte stream the connection task reads (from the codec crate, which the harness shares), so
//! keep-alive, will triggers and limits are the TCP ones.
//!
//! - Packets travel in binary frames; a packet may span frames and a frame may hold several packets
//!   (MQTT-6.0.0-2): frames are concatenated into one byte stream.
//! - Any other data frame (text) ends the connection (MQTT-6.0.0-1) without a DISCONNECT, so the will
//!   fires.
//! - A close frame without an MQTT DISCONNECT is an abrupt end: the stream reports end-of-file,
//!   exactly like a TCP FIN, and the will fires.

pub use lwt_codec::ws::WsStream;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The path clients upgrade on by default (mosquitto, Event Grid and most clients use `/mqtt`).
pub const DEFAULT_PATH: &str = "/mqtt";

/// Subprotocols the server selects, in order of preference (MQTT-6.0.0-4: `mqtt`; `mqttv3.1` is what
/// MQTT 3.1 clients and some libraries still offer).
const SUBPROTOCOLS: [&str; 2] = ["mqtt", "mqttv3.1"];

/// Upgrades `stream` to a WebSocket on `path`, selecting an MQTT subprotocol; `max_packet` bounds a
/// frame and a message (a packet can be no larger, and the codec checks packets again).
pub async fn accept<S>(stream: S, path: &str, max_packet: usize) -> Result<WsStream<S>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(max_packet))
        .max_frame_size(Some(max_packet));
    let path = path.to_owned();
    let callback = move |req: &Request, resp: Response| negotiate(req, resp, &path);
    match tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await {
        Ok(ws) => Ok(WsStream::new(ws)),
        Err(e) => Err(format!("WebSocket handshake failed: {e}")),
    }
}

/// Checks the upgrade request's path and picks the subprotocol; refuses (400/404) with a body that
/// names the problem.
fn negotiate(req: &Request, mut resp: Response, path: &str) -> Result<Response, ErrorResponse> {
    let refuse = |status: StatusCode, why: String| -> ErrorResponse {
        let mut r = ErrorResponse::new(Some(why));
        *r.status_mut() = status;
        r
    };
    if req.uri().path() != path {
        return Err(refuse(StatusCode::NOT_FOUND, format!("MQTT is served on {path}, not {}", req.uri().path())));
    }
    let offered: Vec<&str> = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let Some(chosen) = SUBPROTOCOLS.iter().find(|p| offered.iter().any(|o| o.eq_ignore_ascii_case(p))) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            format!("no MQTT subprotocol offered (Sec-WebSocket-Protocol: {offered:?}; expected \"mqtt\")"),
        ));
    };
    resp.headers_mut().insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(chosen));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::http::Request as HttpRequest;

    fn req(path: &str, protocols: Option<&str>) -> Request {
        let mut b = HttpRequest::builder().uri(path);
        if let Some(p) = protocols {
            b = b.header(header::SEC_WEBSOCKET_PROTOCOL, p);
        }
        b.body(()).unwrap()
    }

    fn chosen(r: &Response) -> &str {
        r.headers().get(header::SEC_WEBSOCKET_PROTOCOL).unwrap().to_str().unwrap()
    }

    #[test]
    fn subprotocol_and_path_are_negotiated() {
        assert_eq!(chosen(&negotiate(&req("/mqtt", Some("mqtt")), Response::new(()), "/mqtt").unwrap()), "mqtt");
        assert_eq!(chosen(&negotiate(&req("/mqtt", Some("mqttv3.1")), Response::new(()), "/mqtt").unwrap()), "mqttv3.1");
        assert_eq!(chosen(&negotiate(&req("/mqtt", Some("mqttv3.1, mqtt")), Response::new(()), "/mqtt").unwrap()), "mqtt");
        let e = negotiate(&req("/other", Some("mqtt")), Response::new(()), "/mqtt").unwrap_err();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        let e = negotiate(&req("/mqtt", Some("chat")), Response::new(()), "/mqtt").unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(e.body().as_deref().unwrap().contains("expected \"mqtt\""));
        assert_eq!(negotiate(&req("/mqtt", None), Response::new(()), "/mqtt").unwrap_err().status(), StatusCode::BAD_REQUEST);
    }
}
