//! An Event Grid **HTTP Publish** request, read into the MQTT message it stands for: the
//! percent-encoded `topic` and the `api-version` from the query, QoS, RETAIN, Response Topic,
//! Correlation Data and User Properties from the `mqtt-*` headers, Content Type from
//! `Content-Type`, the payload from the body. Every problem is a 400 whose text names the part of
//! the request that is wrong; the server ([`super::http_publish`]) does authentication,
//! authorization, size and delivery.

use crate::codec::{Properties, Property, QoS};
use base64::Engine;
use bytes::Bytes;
use hyper::http::HeaderMap;

/// The `api-version` values the emulator accepts (the two documented previews).
pub const API_VERSIONS: [&str; 2] = ["2025-02-15-preview", "2025-08-01-preview"];

/// The request headers the emulator reads; any other `mqtt-*` header is refused as unknown.
const MQTT_HEADERS: [&str; 5] = ["mqtt-qos", "mqtt-retain", "mqtt-response-topic", "mqtt-correlation-data", "mqtt-user-properties"];

/// What an HTTP Publish request asks to publish (before authorization).
#[derive(Clone, Debug, PartialEq)]
pub struct HttpMessage {
    /// The decoded topic name.
    pub topic: String,
    /// `mqtt-qos` (default 1).
    pub qos: QoS,
    /// `mqtt-retain` (default 0).
    pub retain: bool,
    /// Content Type, Response Topic, Correlation Data and User Properties, in that order.
    pub properties: Properties,
    /// The body.
    pub payload: Bytes,
}

/// Reads the query (`topic`, `api-version`) and the headers of a POST to `/mqtt/messages` whose
/// body is `payload`. The error is the text of a 400 answer.
pub fn read(query: Option<&str>, headers: &HeaderMap, payload: Bytes) -> Result<HttpMessage, String> {
    let (topic, api_version) = read_query(query.unwrap_or(""))?;
    let topic = topic.ok_or("the query has no `topic` parameter (POST /mqtt/messages?topic=…&api-version=…)")?;
    match api_version {
        None => return Err(format!("the query has no `api-version` parameter (supported: {})", API_VERSIONS.join(", "))),
        Some(v) if !API_VERSIONS.contains(&v.as_str()) => {
            return Err(format!("api-version {v:?} is not supported (supported: {})", API_VERSIONS.join(", ")))
        }
        Some(_) => {}
    }
    for name in headers.keys() {
        if name.as_str().starts_with("mqtt-") && !MQTT_HEADERS.contains(&name.as_str()) {
            return Err(format!("unknown header {name} (known: {})", MQTT_HEADERS.join(", ")));
        }
    }
    let qos = match header(headers, "mqtt-qos")?.as_deref() {
        None | Some("1") => QoS::AtLeastOnce,
        Some("0") => QoS::AtMostOnce,
        Some(other) => return Err(format!("mqtt-qos must be 0 or 1 (got {other:?})")),
    };
    let retain = match header(headers, "mqtt-retain")?.as_deref() {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => return Err(format!("mqtt-retain must be 0 or 1 (got {other:?})")),
    };
    let mut properties = Properties::new();
    if let Some(ct) = header(headers, "content-type")? {
        properties.push(Property::ContentType(ct));
    }
    if let Some(rt) = header(headers, "mqtt-response-topic")? {
        let rt = decode("mqtt-response-topic", &rt)?;
        if rt.is_empty() || rt.contains(['+', '#']) {
            return Err(format!("mqtt-response-topic {rt:?} must be a topic name without wildcards"));
        }
        properties.push(Property::ResponseTopic(rt));
    }
    if let Some(cd) = header(headers, "mqtt-correlation-data")? {
        let data = base64::engine::general_purpose::STANDARD
            .decode(cd.trim())
            .map_err(|e| format!("mqtt-correlation-data is not valid base64: {e}"))?;
        properties.push(Property::CorrelationData(Bytes::from(data)));
    }
    if let Some(up) = header(headers, "mqtt-user-properties")? {
        for (k, v) in user_properties(&up)? {
            properties.push(Property::UserProperty(k, v));
        }
    }
    Ok(HttpMessage { topic, qos, retain, properties, payload })
}

/// `topic` and `api-version` from a query string (each at most once, percent-decoded; `+` is a
/// literal plus, so a topic with one is a wildcard and refused later).
fn read_query(query: &str) -> Result<(Option<String>, Option<String>), String> {
    let (mut topic, mut version) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match k {
            "topic" => &mut topic,
            "api-version" => &mut version,
            _ => continue,
        };
        if slot.is_some() {
            return Err(format!("the query names `{k}` twice"));
        }
        *slot = Some(decode(k, v)?);
    }
    Ok((topic, version))
}

/// `s` percent-decoded, which must give UTF-8.
fn decode(what: &str, s: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("{what} is not UTF-8 once percent-decoded"))
}

/// A header's value as text, if present once; twice or not visible ASCII is an error.
fn header(headers: &HeaderMap, name: &str) -> Result<Option<String>, String> {
    let mut all = headers.get_all(name).iter();
    let Some(v) = all.next() else { return Ok(None) };
    if all.next().is_some() {
        return Err(format!("header {name} is given more than once"));
    }
    v.to_str().map(|s| Some(s.to_owned())).map_err(|_| format!("header {name} is not visible ASCII text"))
}

/// `mqtt-user-properties`: a JSON array of one-key objects with string values,
/// `[{"Urgency":"alert"},{"RequestId":"55f4…"}]`, in order (a name may repeat).
fn user_properties(text: &str) -> Result<Vec<(String, String)>, String> {
    let bad = |why: String| format!("mqtt-user-properties must be a JSON array of one-key objects with string values, like [{{\"Urgency\":\"alert\"}}]: {why}");
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let items = value.as_array().ok_or_else(|| bad("not an array".into()))?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let obj = item.as_object().filter(|o| o.len() == 1).ok_or_else(|| bad(format!("item {i} is not an object with one key")))?;
        let (k, v) = obj.iter().next().expect("one entry");
        let v = v.as_str().ok_or_else(|| bad(format!("the value of {k:?} is not a string")))?;
        out.push((k.clone(), v.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::http::HeaderValue;

    fn headers(list: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in list {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const Q: &str = "topic=devices%2FCXa-23112%2Fprompt&api-version=2025-02-15-preview";

    #[test]
    fn the_documented_request() {
        let h = headers(&[
            ("mqtt-qos", "1"),
            ("mqtt-retain", "0"),
            ("mqtt-response-topic", "devices%2FCXa-23112%2Freply"),
            ("mqtt-correlation-data", "PlXCsTE2NsK7Lw=="),
            ("mqtt-user-properties", r#"[{"Urgency":"alert"},{"RequestId":"55f4a7ee"}]"#),
            ("content-type", "text/plain;charset=UTF-8"),
        ]);
        let m = read(Some(Q), &h, Bytes::from_static(b"Please accept")).unwrap();
        assert_eq!(m.topic, "devices/CXa-23112/prompt");
        assert_eq!((m.qos, m.retain), (QoS::AtLeastOnce, false));
        assert_eq!(m.properties.content_type().as_deref(), Some("text/plain;charset=UTF-8"));
        assert_eq!(m.properties.response_topic().as_deref(), Some("devices/CXa-23112/reply"));
        assert_eq!(&m.properties.correlation_data().unwrap()[..], ">U±166»/".as_bytes());
        assert_eq!(m.properties.user_properties(), [("Urgency".into(), "alert".into()), ("RequestId".into(), "55f4a7ee".into())]);
        assert_eq!(&m.payload[..], b"Please accept");
        let m = read(Some(Q), &headers(&[("mqtt-qos", "0"), ("mqtt-retain", "1")]), Bytes::new()).unwrap();
        assert_eq!((m.qos, m.retain), (QoS::AtMostOnce, true));
        assert!(m.properties.is_empty());
    }

    #[test]
    fn bad_requests_name_the_problem() {
        let ok = headers(&[]);
        for (query, h, want) in [
            ("api-version=2025-02-15-preview", ok.clone(), "no `topic`"),
            ("topic=a", ok.clone(), "no `api-version`"),
            ("topic=a&api-version=2020-01-01", ok.clone(), "not supported"),
            ("topic=a&topic=b&api-version=2025-02-15-preview", ok.clone(), "twice"),
            ("topic=%FF&api-version=2025-02-15-preview", ok.clone(), "not UTF-8"),
            (Q, headers(&[("mqtt-qos", "2")]), "mqtt-qos must be 0 or 1"),
            (Q, headers(&[("mqtt-qos", "1"), ("mqtt-qos", "0")]), "more than once"),
            (Q, headers(&[("mqtt-retain", "yes")]), "mqtt-retain must be 0 or 1"),
            (Q, headers(&[("mqtt-correlation-data", "***")]), "not valid base64"),
            (Q, headers(&[("mqtt-user-properties", "{\"a\":\"b\"}")]), "not an array"),
            (Q, headers(&[("mqtt-user-properties", "[{\"a\":1}]")]), "not a string"),
            (Q, headers(&[("mqtt-user-properties", "[{\"a\":\"1\",\"b\":\"2\"}]")]), "one key"),
            (Q, headers(&[("mqtt-user-properties", "[")]), "JSON array"),
            (Q, headers(&[("mqtt-response-topic", "a%2F%2B")]), "without wildcards"),
            (Q, headers(&[("mqtt-expiry", "5")]), "unknown header mqtt-expiry"),
        ] {
            let e = read(Some(query), &h, Bytes::new()).unwrap_err();
            assert!(e.contains(want), "{query} {h:?}: {e}");
        }
    }
}
