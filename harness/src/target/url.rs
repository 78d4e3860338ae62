//! Broker URLs: `mqtt://`, `mqtts://`, `ws://` and `wss://`, parsed and printed.

use anyhow::{bail, Context};
use std::fmt;
use std::str::FromStr;

/// A broker address given as a URL: `mqtt://`, `mqtts://`, or MQTT over WebSockets `ws://` /
/// `wss://` with a path (default `/mqtt`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerUrl {
    /// `mqtts` or `wss`.
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The WebSocket path, for `ws://` and `wss://`.
    pub ws: Option<String>,
}

impl FromStr for BrokerUrl {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let (tls, ws, rest) = if let Some(r) = s.strip_prefix("mqtt://") {
            (false, false, r)
        } else if let Some(r) = s.strip_prefix("mqtts://") {
            (true, false, r)
        } else if let Some(r) = s.strip_prefix("tcp://") {
            (false, false, r)
        } else if let Some(r) = s.strip_prefix("ws://") {
            (false, true, r)
        } else if let Some(r) = s.strip_prefix("wss://") {
            (true, true, r)
        } else {
            bail!("broker URL {s:?} must start with mqtt://, mqtts://, ws:// or wss://");
        };
        let (rest, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if !ws && !path.trim_matches('/').is_empty() {
            bail!("broker URL {s:?}: a path only makes sense for ws:// and wss://");
        }
        let ws = ws.then(|| if path.is_empty() || path == "/" { "/mqtt".to_owned() } else { path.to_owned() });
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = p.parse::<u16>().with_context(|| format!("bad port {p:?} in broker URL {s:?}"))?;
                (h.trim_start_matches('[').trim_end_matches(']').to_owned(), port)
            }
            _ => (rest.to_owned(), match (tls, ws.is_some()) {
                (false, false) => 1883,
                (true, false) => 8883,
                (false, true) => 80,
                (true, true) => 443,
            }),
        };
        if host.is_empty() {
            bail!("broker URL {s:?} has no host");
        }
        Ok(BrokerUrl { tls, host, port, ws })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.tls, self.ws.is_some()) {
            (false, false) => "mqtt",
            (true, false) => "mqtts",
            (false, true) => "ws",
            (true, true) => "wss",
        };
        let path = self.ws.as_deref().unwrap_or("");
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}{path}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}{path}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_bad_ones_are_named() {
        assert_eq!(
            "mqtt://127.0.0.1:1884".parse::<BrokerUrl>().unwrap(),
            BrokerUrl { tls: false, host: "127.0.0.1".into(), port: 1884, ws: None }
        );
        let ws = "ws://127.0.0.1:8080".parse::<BrokerUrl>().unwrap();
        assert_eq!((ws.tls, ws.port, ws.ws.as_deref()), (false, 8080, Some("/mqtt")));
        let wss = "wss://broker.example/custom/path".parse::<BrokerUrl>().unwrap();
        assert_eq!((wss.tls, wss.port, wss.ws.as_deref()), (true, 443, Some("/custom/path")));
        assert_eq!(wss.to_string(), "wss://broker.example:443/custom/path");
        assert!("mqtt://h:1883/path".parse::<BrokerUrl>().unwrap_err().to_string().contains("ws://"));
        assert_eq!("mqtts://localhost".parse::<BrokerUrl>().unwrap().port, 8883);
        assert_eq!("mqtt://[::1]:1883".parse::<BrokerUrl>().unwrap().host, "::1");
        let e = "http://x".parse::<BrokerUrl>().unwrap_err().to_string();
        assert!(e.contains("mqtt://"), "{e}");
        let e = "mqtt://h:99999".parse::<BrokerUrl>().unwrap_err().to_string();
        assert!(e.contains("bad port"), "{e}");
    }
}
