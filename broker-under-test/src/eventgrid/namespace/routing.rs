//! `routing:`: where published MQTT messages are routed as CloudEvents (Event Grid's
//! `topicSpacesConfiguration.routeTopicResourceId`, which the emulator replaces by a local JSON
//! Lines file and/or `http://` webhook) and the `routingEnrichments` added to each event, checked
//! against the documented key and value rules so a bad file fails at load with its line.

use super::error::{Ctx, NamespaceError};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};

/// Most enrichments (static and dynamic together): the enrichment page says "up to 20".
pub const MAX_ENRICHMENTS: usize = 20;
/// Longest enrichment key.
pub const MAX_ENRICHMENT_KEY: usize = 20;
/// Longest enrichment value (as configured: a static string or a `${…}` variable).
pub const MAX_ENRICHMENT_VALUE: usize = 128;
/// CloudEvents attribute names an enrichment key must not take.
pub const RESERVED_KEYS: [&str; 10] =
    ["specversion", "id", "time", "type", "source", "subject", "datacontenttype", "dataschema", "data", "data_base64"];

/// `routing:` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawRouting {
    #[serde(default)]
    file: Option<PathBuf>,
    #[serde(default)]
    webhook: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    enrichments: Option<RawEnrichments>,
}

/// `routing.enrichments:` as written (ARM's `routingEnrichments`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEnrichments {
    #[serde(default, rename = "static")]
    statics: Vec<RawEnrichment>,
    #[serde(default)]
    dynamic: Vec<RawEnrichment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEnrichment {
    key: Spanned<String>,
    value: Spanned<String>,
    /// ARM's `valueType` of a static enrichment; only `String` exists.
    #[serde(default)]
    value_type: Option<ValueType>,
}

#[derive(Deserialize, PartialEq)]
enum ValueType {
    String,
}

/// The routing configuration, validated (file path resolved against the namespace file).
#[derive(Clone, Debug, PartialEq)]
pub struct RoutingSettings {
    /// JSON Lines file every routed message is appended to.
    pub file: Option<PathBuf>,
    /// `http://HOST[:PORT][/PATH]` every routed message is POSTed to.
    pub webhook: Option<String>,
    /// CloudEvents `source`; `None` = the namespace's name (what Event Grid sets).
    pub source: Option<String>,
    /// The enrichments, static ones first, each in file order.
    pub enrichments: Vec<Enrichment>,
}

/// One enrichment: a CloudEvents extension attribute added to every routed message.
#[derive(Clone, Debug, PartialEq)]
pub struct Enrichment {
    /// The attribute name (lower-case alphanumerics).
    pub key: String,
    /// What it holds.
    pub value: EnrichmentValue,
}

/// What an enrichment holds: a fixed string or one documented dynamic value.
#[derive(Clone, Debug, PartialEq)]
pub enum EnrichmentValue {
    /// A static string, as written.
    Static(String),
    /// `${client.authenticationName}`.
    AuthenticationName,
    /// `${client.attributes.x}`.
    Attribute(String),
    /// `${mqtt.message.userProperties.x}` or `${mqtt.message.userProperties['x']}`.
    UserProperty(String),
    /// `${mqtt.message.topicName}`.
    TopicName,
    /// `${mqtt.message.responseTopic}`.
    ResponseTopic,
    /// `${mqtt.message.correlationData}` (base64).
    CorrelationData,
    /// `${mqtt.message.pfi}` (Payload Format Indicator).
    Pfi,
    /// `${mqtt.message.contentType}`.
    ContentType,
}

/// The dynamic values a `routing.enrichments.dynamic[].value` may name.
const DYNAMIC_FORMS: &str = "${client.authenticationName}, ${client.attributes.<key>}, \
${mqtt.message.userProperties.<key>} (or ['<key>']), ${mqtt.message.topicName}, ${mqtt.message.responseTopic}, \
${mqtt.message.correlationData}, ${mqtt.message.pfi}, ${mqtt.message.contentType}";

impl EnrichmentValue {
    /// Parses a dynamic enrichment value; the error lists what is supported.
    pub fn parse_dynamic(v: &str) -> Result<EnrichmentValue, String> {
        let bad = || format!("{v:?} is not a supported dynamic value (one of {DYNAMIC_FORMS})");
        let inner = v.strip_prefix("${").and_then(|r| r.strip_suffix('}')).ok_or_else(bad)?;
        let attr_key = |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        Ok(match inner {
            "client.authenticationName" => EnrichmentValue::AuthenticationName,
            "mqtt.message.topicName" => EnrichmentValue::TopicName,
            "mqtt.message.responseTopic" => EnrichmentValue::ResponseTopic,
            "mqtt.message.correlationData" => EnrichmentValue::CorrelationData,
            "mqtt.message.pfi" => EnrichmentValue::Pfi,
            "mqtt.message.contentType" => EnrichmentValue::ContentType,
            _ => {
                if let Some(k) = inner.strip_prefix("client.attributes.").filter(|k| attr_key(k)) {
                    EnrichmentValue::Attribute(k.to_owned())
                } else if let Some(k) = inner.strip_prefix("mqtt.message.userProperties") {
                    let key = match k.strip_prefix('.') {
                        Some(k) if !k.is_empty() && !k.contains(['[', ']', '\'']) => k,
                        _ => k.strip_prefix("['").and_then(|k| k.strip_suffix("']")).filter(|k| !k.is_empty()).ok_or_else(bad)?,
                    };
                    EnrichmentValue::UserProperty(key.to_owned())
                } else {
                    return Err(bad());
                }
            }
        })
    }
}

/// Whether `name` may be a CloudEvents attribute name (lower-case letters and digits, at most 20).
pub fn attribute_name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_ENRICHMENT_KEY && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// Why `key` is not a usable enrichment key, if it is not.
pub fn key_problem(key: &str) -> Option<String> {
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return Some(format!("enrichment key {key:?} must be lower-case letters a-z and digits 0-9 only"));
    }
    if key.len() > MAX_ENRICHMENT_KEY {
        return Some(format!("enrichment key {key:?} is longer than {MAX_ENRICHMENT_KEY} characters"));
    }
    if RESERVED_KEYS.contains(&key) {
        return Some(format!("enrichment key {key:?} is a reserved CloudEvents attribute name"));
    }
    if key.starts_with("azsp") {
        return Some(format!("enrichment key {key:?} must not start with \"azsp\""));
    }
    None
}

/// Checks `routing:` (if present): a destination, the enrichment rules, the webhook URL.
pub(super) fn check(cx: &Ctx<'_>, raw: Option<Spanned<RawRouting>>, base_dir: &Path) -> Result<Option<RoutingSettings>, NamespaceError> {
    let Some(raw) = raw else { return Ok(None) };
    let line = raw.referenced.line();
    let raw = raw.value;
    if raw.file.is_none() && raw.webhook.is_none() {
        return Err(cx.invalid(line, "routing", "routing needs a destination: `file:` (JSON Lines) and/or `webhook:` (http://…)"));
    }
    if let Some(url) = &raw.webhook {
        super::super::webhook::Endpoint::parse(url).map_err(|e| cx.invalid(cx.key_line("webhook", line), "routing.webhook", e))?;
    }
    let mut enrichments: Vec<Enrichment> = Vec::new();
    let (statics, dynamic) = raw.enrichments.map(|e| (e.statics, e.dynamic)).unwrap_or_default();
    for (kind, list) in [("static", statics), ("dynamic", dynamic)] {
        for (i, e) in list.into_iter().enumerate() {
            let field = format!("routing.enrichments.{kind}[{i}]");
            if let Some(why) = key_problem(&e.key.value) {
                return Err(cx.at(&e.key, format!("{field}.key"), why));
            }
            if enrichments.iter().any(|x| x.key == e.key.value) {
                return Err(cx.at(&e.key, format!("{field}.key"), format!("enrichment key {:?} is used twice", e.key.value)));
            }
            if e.value.value.chars().count() > MAX_ENRICHMENT_VALUE {
                let msg = format!("enrichment value is longer than {MAX_ENRICHMENT_VALUE} characters");
                return Err(cx.at(&e.value, format!("{field}.value"), msg));
            }
            let value = if kind == "static" {
                EnrichmentValue::Static(e.value.value)
            } else {
                if e.value_type.is_some() {
                    return Err(cx.at(&e.key, format!("{field}.valueType"), "valueType applies to static enrichments only"));
                }
                EnrichmentValue::parse_dynamic(&e.value.value).map_err(|why| cx.at(&e.value, format!("{field}.value"), why))?
            };
            enrichments.push(Enrichment { key: e.key.value, value });
        }
    }
    if enrichments.len() > MAX_ENRICHMENTS {
        let msg = format!("{} enrichments; at most {MAX_ENRICHMENTS} are allowed", enrichments.len());
        return Err(cx.invalid(cx.key_line("enrichments", line), "routing.enrichments", msg));
    }
    Ok(Some(RoutingSettings { file: raw.file.map(|f| base_dir.join(f)), webhook: raw.webhook, source: raw.source, enrichments }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use EnrichmentValue as V;

    #[test]
    fn dynamic_values() {
        for (text, want) in [
            ("${client.authenticationName}", V::AuthenticationName),
            ("${client.attributes.type}", V::Attribute("type".into())),
            ("${mqtt.message.userProperties.Urgency}", V::UserProperty("Urgency".into())),
            ("${mqtt.message.userProperties['a.b c']}", V::UserProperty("a.b c".into())),
            ("${mqtt.message.topicName}", V::TopicName),
            ("${mqtt.message.responseTopic}", V::ResponseTopic),
            ("${mqtt.message.correlationData}", V::CorrelationData),
            ("${mqtt.message.pfi}", V::Pfi),
            ("${mqtt.message.contentType}", V::ContentType),
        ] {
            assert_eq!(V::parse_dynamic(text), Ok(want), "{text}");
        }
        for bad in ["client.authenticationName", "${client.name}", "${client.attributes.}", "${client.attributes.a-b}",
            "${mqtt.message.userProperties.}", "${mqtt.message.userProperties['']}", "${mqtt.message.qos}", "x${mqtt.message.pfi}"] {
            let e = V::parse_dynamic(bad).unwrap_err();
            assert!(e.contains("not a supported dynamic value") && e.contains("${client.authenticationName}"), "{bad}: {e}");
        }
    }

    #[test]
    fn keys() {
        assert_eq!(key_problem("clientname"), None);
        assert_eq!(key_problem("a1"), None);
        for (bad, why) in [("Client", "lower-case"), ("a_b", "lower-case"), ("", "lower-case"), ("subject", "reserved"),
            ("azspx", "azsp"), (&"a".repeat(21)[..], "longer than 20")] {
            assert!(key_problem(bad).is_some_and(|e| e.contains(why)), "{bad}: {:?}", key_problem(bad));
        }
    }
}
