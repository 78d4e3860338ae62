//! Event Grid **routing** of published MQTT messages: every message the broker accepts for
//! delivery (a client PUBLISH that passed authorization, a will when it is published, an HTTP
//! Publish) also becomes one `MQTT.EventPublished` CloudEvent 1.0 in structured JSON mode, written
//! to the namespace's `routing.file` (JSON Lines) and/or POSTed to `routing.webhook` by the
//! [`super::sink`] thread — the emulator's stand-in for the Event Grid custom topic of
//! `routeTopicResourceId`.
//!
//! The event follows Event Grid's "event schema for MQTT routed messages": `type`
//! `MQTT.EventPublished`, `source` the namespace name, `subject` the topic, `time` when the broker
//! took the message; the payload goes to `data_base64` unless the message says it is text
//! (Payload Format Indicator 1) or JSON (Content Type `application/json`), when it goes to `data`
//! as JSON, or as a JSON string when it is not JSON. Enrichments (static strings and the documented
//! `${client.…}` / `${mqtt.message.…}` values) become extension attributes; a missing value is `""`,
//! lists and repeated user properties are joined with commas.
//!
//! Choices where Event Grid is silent (all in `fixtures/namespaces/README.md`, "Routing"): wills
//! are routed like any PUBLISH, when they are published (a dropped or discarded will is not);
//! `datacontenttype` is the message's Content Type when it has one; `application/json` counts
//! with or without `charset=utf-8`; a text or JSON message whose payload is not UTF-8 goes to
//! `data_base64`; a message already shaped as a CloudEvent (MQTT binding) is forwarded with its
//! own attributes plus the enrichments; `${mqtt.message.pfi}` of a message without the property is `""`.
//!
//! The core only clones the message into a record and hands it over ([`Routing::route`]); building
//! and writing the JSON happen on the sink's thread.
//!
//! Serde structs rather than the `cloudevents-sdk` crate (0.9): like the life-cycle events, these
//! are a fixed envelope ([`super::sink::Envelope`]) plus string extension attributes, which a
//! flattened map serializes; the SDK would add `chrono`, `url` and its own builder and validation
//! for no gain, and calls its API unstable.

use super::namespace::{Enrichment, EnrichmentValue};
use super::sink::{to_json, Envelope, EventSink};
use super::{AttrValue, Principal};
use crate::codec::Properties;
use crate::store::Message;
use base64::Engine;
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::SystemTime;

/// CloudEvents `type` of every routed MQTT message.
pub const EVENT_TYPE: &str = "MQTT.EventPublished";

/// One message on its way to the writer thread.
#[derive(Debug)]
struct Routed {
    topic: String,
    payload: Bytes,
    properties: Properties,
    publisher: Option<Arc<Principal>>,
    at: SystemTime,
}

/// The core's side of routing: the sink that turns each handed-over message into its CloudEvent.
#[derive(Debug)]
pub struct Routing {
    sink: EventSink<Routed>,
}

impl Routing {
    /// The routing `cfg`'s namespace asks for (`routing:`), or `None`. A file that cannot be
    /// opened or a bad webhook URL is an error naming it.
    pub fn from_config(cfg: &crate::Config) -> anyhow::Result<Option<Routing>> {
        let Some(ns) = cfg.namespace.get() else { return Ok(None) };
        let Some(settings) = ns.routing() else { return Ok(None) };
        let source = settings.source.clone().unwrap_or_else(|| ns.name().to_owned());
        let enrichments = settings.enrichments.clone();
        let render = move |r: &Routed| match client_event(r, &enrichments) {
            Some(ev) => to_json("routed messages", &ev),
            None => to_json("routed messages", &event(r, &source, &enrichments)),
        };
        let sink = EventSink::start("routed messages", settings.file.as_deref(), settings.webhook.as_deref(), render)?;
        Ok(Some(Routing { sink }))
    }

    /// Routes `message`, published by `publisher` (`None`: no namespace client, e.g. a plain-TCP
    /// client of a broker with a namespace). Never blocks.
    pub fn route(&self, message: &Message, publisher: Option<&Arc<Principal>>) {
        self.sink.send(Routed {
            topic: message.topic.clone(),
            payload: message.payload.clone(),
            properties: message.properties.clone(),
            publisher: publisher.cloned(),
            at: SystemTime::now(),
        });
    }
}

/// A routed message as a CloudEvent 1.0 in structured JSON mode.
#[derive(Serialize)]
struct RoutedEvent<'a> {
    #[serde(flatten)]
    envelope: Envelope<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    datacontenttype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_base64: Option<String>,
    /// The enrichments, as extension attributes (keys never clash with the ones above: the
    /// namespace file refuses reserved names).
    #[serde(flatten)]
    enrichments: serde_json::Map<String, Value>,
}

/// The CloudEvent of `r` from `source`, with `enrichments`.
fn event<'a>(r: &'a Routed, source: &'a str, enrichments: &[Enrichment]) -> RoutedEvent<'a> {
    let (data, data_base64) = match payload_as_json(&r.payload, &r.properties) {
        Some(v) => (Some(v), None),
        None => (None, Some(base64::engine::general_purpose::STANDARD.encode(&r.payload))),
    };
    let who = r.publisher.as_deref();
    RoutedEvent {
        envelope: Envelope::new(EVENT_TYPE, source, r.topic.clone(), r.at),
        datacontenttype: r.properties.content_type(),
        data,
        data_base64,
        enrichments: enrichments
            .iter()
            .map(|e| (e.key.clone(), Value::String(enrichment_value(&e.value, &r.topic, &r.properties, who))))
            .collect(),
    }
}

/// The CloudEvents attributes a routed event needs; a client's own event lacking one is wrapped.
const REQUIRED: [&str; 4] = ["specversion", "id", "source", "type"];

/// A message the client already shaped as a CloudEvent (the CloudEvents MQTT protocol binding),
/// forwarded with its own attributes plus the enrichments: structured mode (Content Type
/// `application/cloudevents+json`, the payload a JSON object) as it is; binary mode (User
/// Properties named like CloudEvents attributes, `specversion` among them) with those attributes,
/// `datacontenttype` from the Content Type and the payload as [`payload_as_json`] says. `None`
/// when the message is not one, or lacks `specversion`, `id`, `source` or `type`.
fn client_event(r: &Routed, enrichments: &[Enrichment]) -> Option<Value> {
    let ct = r.properties.content_type();
    let structured = ct.as_deref().is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("application/cloudevents+json"));
    let mut ev = if structured {
        match serde_json::from_slice::<Value>(&r.payload) {
            Ok(Value::Object(o)) => o,
            _ => return None,
        }
    } else {
        let props = r.properties.user_properties();
        if !props.iter().any(|(k, _)| k == "specversion") {
            return None;
        }
        let mut o = serde_json::Map::new();
        for (k, v) in props {
            if super::namespace::attribute_name_ok(&k) {
                o.entry(k).or_insert(Value::String(v));
            }
        }
        if let Some(ct) = ct {
            o.insert("datacontenttype".into(), Value::String(ct));
        }
        match payload_as_json(&r.payload, &r.properties) {
            Some(v) => o.insert("data".into(), v),
            None => o.insert("data_base64".into(), Value::String(base64::engine::general_purpose::STANDARD.encode(&r.payload))),
        };
        o
    };
    if !REQUIRED.iter().all(|k| ev.get(*k).is_some_and(Value::is_string)) {
        return None;
    }
    let who = r.publisher.as_deref();
    for e in enrichments {
        ev.insert(e.key.clone(), Value::String(enrichment_value(&e.value, &r.topic, &r.properties, who)));
    }
    Some(Value::Object(ev))
}

/// The payload as the `data` member, when the message says it is text (Payload Format Indicator
/// 1) or JSON (Content Type `application/json`, with or without `charset=utf-8`) and it is UTF-8:
/// the JSON value it holds, else the text as a JSON string. `None` = it goes to `data_base64`.
pub fn payload_as_json(payload: &[u8], props: &Properties) -> Option<Value> {
    let text_like = props.payload_format_indicator() == Some(1) || props.content_type().is_some_and(|ct| is_json(&ct));
    if !text_like {
        return None;
    }
    let text = std::str::from_utf8(payload).ok()?;
    Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())))
}

/// The MQTT payload a routed event carries: `data_base64` decoded, or `data` as its text when it is a
/// JSON string, else as compact JSON. For consumers (the harness's routing steps); `None` when the
/// event has neither or its base64 is bad.
pub fn routed_payload(event: &Value) -> Option<Vec<u8>> {
    if let Some(b64) = event.get("data_base64").and_then(Value::as_str) {
        return base64::engine::general_purpose::STANDARD.decode(b64).ok();
    }
    match event.get("data")? {
        Value::String(s) => Some(s.clone().into_bytes()),
        other => Some(other.to_string().into_bytes()),
    }
}

/// Whether a Content Type is `application/json` (parameters other than `charset=utf-8` make it not).
fn is_json(content_type: &str) -> bool {
    let norm: String = content_type.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    matches!(norm.as_str(), "application/json" | "application/json;charset=utf-8" | "application/json;charset=\"utf-8\"")
}

/// What enrichment `v` holds for a message on `topic` with `props` from `who`; `""` when the
/// value is missing. Lists and repeated user properties are joined with commas.
pub fn enrichment_value(v: &EnrichmentValue, topic: &str, props: &Properties, who: Option<&Principal>) -> String {
    match v {
        EnrichmentValue::Static(s) => s.clone(),
        EnrichmentValue::AuthenticationName => who.map(|p| p.authentication_name.clone()).unwrap_or_default(),
        EnrichmentValue::Attribute(k) => match who.and_then(|p| p.attributes.get(k)) {
            Some(AttrValue::Str(s)) => s.clone(),
            Some(AttrValue::Int(i)) => i.to_string(),
            Some(AttrValue::Bool(b)) => b.to_string(),
            Some(AttrValue::List(l)) => l.join(","),
            None => String::new(),
        },
        EnrichmentValue::UserProperty(k) => {
            let values: Vec<String> = props.user_properties().into_iter().filter(|(key, _)| key == k).map(|(_, v)| v).collect();
            values.join(",")
        }
        EnrichmentValue::TopicName => topic.to_owned(),
        EnrichmentValue::ResponseTopic => props.response_topic().unwrap_or_default(),
        EnrichmentValue::CorrelationData => {
            props.correlation_data().map(|d| base64::engine::general_purpose::STANDARD.encode(d)).unwrap_or_default()
        }
        EnrichmentValue::Pfi => props.payload_format_indicator().map(|p| p.to_string()).unwrap_or_default(),
        EnrichmentValue::ContentType => props.content_type().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Property;
    use std::collections::BTreeMap;

    fn props(list: Vec<Property>) -> Properties {
        Properties(list)
    }

    #[test]
    fn payload_goes_to_data_only_for_text_or_json() {
        let none = props(vec![]);
        assert_eq!(payload_as_json(b"{\"a\":1}", &none), None);
        let pfi = props(vec![Property::PayloadFormatIndicator(1)]);
        assert_eq!(payload_as_json(b"{\"a\":1}", &pfi), Some(serde_json::json!({"a": 1})));
        assert_eq!(payload_as_json(b"offline", &pfi), Some(Value::String("offline".into())));
        assert_eq!(payload_as_json(&[0xff, 0xfe], &pfi), None, "not UTF-8: base64");
        let pfi0 = props(vec![Property::PayloadFormatIndicator(0)]);
        assert_eq!(payload_as_json(b"1", &pfi0), None);
        for ct in ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"] {
            let p = props(vec![Property::ContentType(ct.into())]);
            assert_eq!(payload_as_json(b"[1,2]", &p), Some(serde_json::json!([1, 2])), "{ct}");
        }
        for ct in ["text/plain", "application/json; charset=latin1", "application/jsonx"] {
            assert_eq!(payload_as_json(b"[1]", &props(vec![Property::ContentType(ct.into())])), None, "{ct}");
        }
    }

    #[test]
    fn enrichment_values_and_missing_ones() {
        let mut attributes = BTreeMap::new();
        attributes.insert("type".to_string(), AttrValue::Str("sensor".into()));
        attributes.insert("floor".to_string(), AttrValue::Int(3));
        attributes.insert("on".to_string(), AttrValue::Bool(true));
        attributes.insert("tags".to_string(), AttrValue::List(vec!["a".into(), "b".into()]));
        let who = Principal { client_name: "c".into(), authentication_name: "Sensor1".into(), attributes, groups: vec![], valid_until: None };
        let p = props(vec![
            Property::UserProperty("k".into(), "1".into()),
            Property::UserProperty("k".into(), "2".into()),
            Property::ResponseTopic("r/t".into()),
            Property::CorrelationData(Bytes::from_static(b"\x01\x02")),
            Property::PayloadFormatIndicator(1),
            Property::ContentType("text/plain".into()),
        ]);
        let v = |e: EnrichmentValue| enrichment_value(&e, "a/b", &p, Some(&who));
        use EnrichmentValue as E;
        assert_eq!(v(E::Static("lab".into())), "lab");
        assert_eq!(v(E::AuthenticationName), "Sensor1");
        assert_eq!(v(E::Attribute("type".into())), "sensor");
        assert_eq!(v(E::Attribute("floor".into())), "3");
        assert_eq!(v(E::Attribute("on".into())), "true");
        assert_eq!(v(E::Attribute("tags".into())), "a,b");
        assert_eq!(v(E::Attribute("none".into())), "");
        assert_eq!(v(E::UserProperty("k".into())), "1,2");
        assert_eq!(v(E::UserProperty("K".into())), "", "user property names are case-sensitive");
        assert_eq!(v(E::TopicName), "a/b");
        assert_eq!(v(E::ResponseTopic), "r/t");
        assert_eq!(v(E::CorrelationData), "AQI=");
        assert_eq!(v(E::Pfi), "1");
        assert_eq!(v(E::ContentType), "text/plain");
        let empty = props(vec![]);
        for e in [E::ResponseTopic, E::CorrelationData, E::Pfi, E::ContentType, E::UserProperty("k".into())] {
            assert_eq!(enrichment_value(&e, "t", &empty, None), "", "{e:?}");
        }
        assert_eq!(enrichment_value(&E::AuthenticationName, "t", &empty, None), "");
    }

    fn routed(payload: &'static [u8], list: Vec<Property>) -> Routed {
        Routed { topic: "t".into(), payload: Bytes::from_static(payload), properties: props(list), publisher: None, at: SystemTime::UNIX_EPOCH }
    }

    #[test]
    fn a_client_cloudevent_is_forwarded_with_its_attributes() {
        let enrich = [Enrichment { key: "site".into(), value: EnrichmentValue::Static("lab".into()) }];
        let ce = Property::ContentType("application/cloudevents+json; charset=utf-8".into());
        let structured = br#"{"specversion":"1.0","id":"1","source":"car","type":"t.x","data":{"a":1}}"#;
        let v = client_event(&routed(structured, vec![ce.clone()]), &enrich).unwrap();
        assert_eq!(v, serde_json::json!({"specversion":"1.0","id":"1","source":"car","type":"t.x","data":{"a":1},"site":"lab"}));
        assert_eq!(client_event(&routed(br#"{"specversion":"1.0"}"#, vec![ce.clone()]), &enrich), None, "no id, source, type");
        assert_eq!(client_event(&routed(b"[1]", vec![ce]), &enrich), None);
        let up = |k: &str, v: &str| Property::UserProperty(k.into(), v.into());
        let binary = vec![up("specversion", "1.0"), up("id", "2"), up("source", "car"), up("type", "t.y"), up("Not-An-Attribute", "x"),
            Property::ContentType("application/json".into())];
        let v = client_event(&routed(b"{\"b\":2}", binary), &[]).unwrap();
        assert_eq!(v, serde_json::json!({"specversion":"1.0","id":"2","source":"car","type":"t.y","datacontenttype":"application/json","data":{"b":2}}));
        let v = client_event(&routed(b"raw", vec![up("specversion", "1.0"), up("id", "3"), up("source", "s"), up("type", "t")]), &[]).unwrap();
        assert_eq!(v["data_base64"], "cmF3");
        assert_eq!(client_event(&routed(b"raw", vec![up("id", "3")]), &[]), None, "no specversion: an ordinary message");
    }

    #[test]
    fn consumers_get_the_payload_back() {
        assert_eq!(routed_payload(&serde_json::json!({"data_base64": "b2ZmbGluZQ=="})).as_deref(), Some(&b"offline"[..]));
        assert_eq!(routed_payload(&serde_json::json!({"data": "text"})).as_deref(), Some(&b"text"[..]));
        assert_eq!(routed_payload(&serde_json::json!({"data": {"a": 1}})).as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(routed_payload(&serde_json::json!({"data_base64": "***"})), None);
        assert_eq!(routed_payload(&serde_json::json!({})), None);
    }

    #[test]
    fn an_event_has_the_documented_envelope() {
        let r = Routed {
            topic: "clients/sensor1/status".into(),
            payload: Bytes::from_static(b"offline"),
            properties: props(vec![]),
            publisher: None,
            at: SystemTime::UNIX_EPOCH,
        };
        let enrich = [Enrichment { key: "site".into(), value: EnrichmentValue::Static("lab".into()) }];
        let v: Value = serde_json::from_str(&to_json("t", &event(&r, "seeds", &enrich)).unwrap()).unwrap();
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["type"], EVENT_TYPE);
        assert_eq!(v["source"], "seeds");
        assert_eq!(v["subject"], "clients/sensor1/status");
        assert_eq!(v["time"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(v["data_base64"], "b2ZmbGluZQ==");
        assert_eq!(v["site"], "lab");
        assert!(v.get("data").is_none() && v.get("datacontenttype").is_none(), "{v}");
    }
}
