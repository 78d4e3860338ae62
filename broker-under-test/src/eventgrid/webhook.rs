//! The optional webhook of the life-cycle events (`lifecycleEvents.webhook: http://HOST:PORT/PATH`):
//! each event is POSTed on its own connection as one CloudEvent in structured mode
//! (`Content-Type: application/cloudevents+json`), by a thread of its own so a slow endpoint never
//! holds up the file. Plain `http://` only, no retries, no Event Grid validation handshake: the
//! emulator's push is for local consumers (see `fixtures/namespaces/README.md`).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;
use tracing::warn;

/// Connect, write and read timeout of one delivery.
const TIMEOUT: Duration = Duration::from_secs(2);

/// An `http://host:port/path` endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` (port 80 when the URL has none).
    pub authority: String,
    /// The request target, starting with `/`.
    pub path: String,
}

impl Endpoint {
    /// Parses `http://host[:port][/path]`; anything else is an error saying what is accepted.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?}: only http://HOST[:PORT][/PATH] webhooks are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let bad = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '@' | '?' | '#');
        if authority.is_empty() || authority.chars().any(bad) || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{url:?} is not a usable http:// URL"));
        }
        let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']'));
        let authority = if has_port { authority.to_owned() } else { format!("{authority}:80") };
        Ok(Endpoint { authority, path: path.to_owned() })
    }
}

/// Starts the delivery thread; send it serialized events (one JSON object each).
pub fn start(endpoint: Endpoint) -> std::io::Result<mpsc::Sender<String>> {
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::Builder::new().name("lwt-lifecycle-webhook".into()).spawn(move || {
        let mut failing = false;
        while let Ok(body) = rx.recv() {
            match post(&endpoint, &body) {
                Ok(()) => failing = false,
                Err(e) => {
                    if !failing {
                        warn!(webhook = %format!("http://{}{}", endpoint.authority, endpoint.path), "life-cycle event not delivered: {e}");
                    }
                    failing = true;
                }
            }
        }
    })?;
    Ok(tx)
}

/// One POST; `Ok` on a 2xx answer.
fn post(endpoint: &Endpoint, body: &str) -> Result<(), String> {
    let addr = endpoint
        .authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", endpoint.authority))?
        .next()
        .ok_or_else(|| format!("{} has no address", endpoint.authority))?;
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    s.set_write_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/cloudevents+json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        endpoint.path,
        endpoint.authority,
        body.len()
    );
    s.write_all(head.as_bytes()).and_then(|_| s.write_all(body.as_bytes())).map_err(|e| format!("write: {e}"))?;
    let mut status = [0u8; 12];
    s.read_exact(&mut status).map_err(|e| format!("no answer: {e}"))?;
    match &status[..] {
        [b'H', b'T', b'T', b'P', b'/', _, _, _, b' ', b'2', _, _] => Ok(()),
        other => Err(format!("answered {:?}", String::from_utf8_lossy(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let e = Endpoint::parse("http://127.0.0.1:8080/events").unwrap();
        assert_eq!((e.authority.as_str(), e.path.as_str()), ("127.0.0.1:8080", "/events"));
        assert_eq!(Endpoint::parse("http://localhost").unwrap(), Endpoint { authority: "localhost:80".into(), path: "/".into() });
        assert_eq!(Endpoint::parse("http://[::1]/x").unwrap().authority, "[::1]:80");
        assert_eq!(Endpoint::parse("http://[::1]:9/x").unwrap().authority, "[::1]:9");
        for bad in ["https://x/", "ftp://x", "http://", "http://a b/", "http://u@h/", "http://h/a\r\nX: y"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?}");
        }
    }
}
