//! The optional webhook of the emulator's CloudEvents (`lifecycleEvents.webhook`, `routing.webhook`:
//! `http://HOST:PORT/PATH`): each event is POSTed on its own connection as one CloudEvent in
//! structured mode (`Content-Type: application/cloudevents+json`), by a thread of its own so a slow
//! endpoint never holds up the file ([`super::sink`]). Plain `http://` only, no retries, no Event Grid validation handshake: the
//! emulator's push is for local consumers (see `fixtures/namespaces/README.md`).

use std::sync::mpsc;
use std::time::Duration;
use tracing::warn;

/// The whole of one delivery (resolve, connect, send, answer).
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

/// Starts the delivery thread for events of kind `what` (named in its logs); send it serialized
/// events (one JSON object each).
pub fn start(endpoint: Endpoint, what: &'static str) -> std::io::Result<mpsc::Sender<String>> {
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::Builder::new().name(format!("lwt-webhook-{}", what.replace(' ', "-"))).spawn(move || {
        let mut failing = false;
        while let Ok(body) = rx.recv() {
            match post(&endpoint, &body) {
                Ok(()) => failing = false,
                Err(e) => {
                    if !failing {
                        warn!(webhook = %format!("http://{}{}", endpoint.authority, endpoint.path), "{what}: an event was not delivered: {e}");
                    }
                    failing = true;
                }
            }
        }
    })?;
    Ok(tx)
}

/// One POST (by `ureq`); `Ok` on a 2xx answer.
fn post(endpoint: &Endpoint, body: &str) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(TIMEOUT)).build().into();
    let url = format!("http://{}{}", endpoint.authority, endpoint.path);
    match agent.post(&url).header("Content-Type", "application/cloudevents+json; charset=utf-8").send(body) {
        Ok(_) => Ok(()),
        Err(ureq::Error::StatusCode(code)) => Err(format!("answered HTTP {code}")),
        Err(e) => Err(e.to_string()),
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
