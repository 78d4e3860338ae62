//! The webhook's answer → a [`Verdict`]: `{"decision":"allow","clientAuthenticationName":…,
//! "attributes":{…},"expiration":…}` or `{"decision":"deny","errorReason":…}`. Anything else is
//! an error naming what is wrong (the caller refuses the CONNECT as "server unavailable").
//!
//! Reading (choices where the docs leave room, listed in `fixtures/namespaces/README.md`):
//! - `decision` is `allow` or `deny`, ASCII case ignored; other fields the docs do not name are
//!   ignored, so are `attributes`/`expiration` on a deny.
//! - `clientAuthenticationName` must be a string of 1–128 characters (the registry's rule).
//! - `attributes`: values the docs list are kept — an integer that fits int32, a string, an array
//!   of strings; any other value (bool, float, larger integer, object, mixed array) and any key
//!   outside `[A-Za-z0-9_]` is left out and named in the log, as the docs say only "correct data
//!   types" become attributes.
//! - `expiration`: Unix seconds as an integer (the field table) or a string of digits (the sample
//!   shows `"<unix time format>"` in quotes); `null` or absent = no expiry.

use crate::eventgrid::AttrValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What the webhook decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// `"decision": "allow"`.
    Allow(Grant),
    /// `"decision": "deny"`, with its `errorReason` if it gave one.
    Deny(Option<String>),
}

/// An allow: who the client is from now on, and until when.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    /// `clientAuthenticationName`: the name templates and group queries see.
    pub authentication_name: String,
    /// The usable `attributes`.
    pub attributes: BTreeMap<String, AttrValue>,
    /// Attributes left out, each with why (for the log).
    pub ignored: Vec<String>,
    /// `expiration` in Unix seconds, if any.
    pub expiration: Option<i64>,
}

/// Parses the body of a 2xx answer.
pub fn parse(body: &[u8]) -> Result<Verdict, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        format!("the answer is not JSON ({e}): {shown:?}")
    })?;
    let Value::Object(obj) = value else {
        return Err(format!("the answer is not a JSON object but {}", kind(&value)));
    };
    let decision = match obj.get("decision") {
        Some(Value::String(d)) => d,
        Some(other) => return Err(format!("\"decision\" is {}, not \"allow\" or \"deny\"", kind(other))),
        None => return Err("the answer has no \"decision\"".into()),
    };
    if decision.eq_ignore_ascii_case("deny") {
        return Ok(Verdict::Deny(obj.get("errorReason").and_then(Value::as_str).map(str::to_owned)));
    }
    if !decision.eq_ignore_ascii_case("allow") {
        return Err(format!("\"decision\" is {decision:?}, not \"allow\" or \"deny\""));
    }
    let authentication_name = match obj.get("clientAuthenticationName") {
        Some(Value::String(n)) if (1..=128).contains(&n.chars().count()) => n.clone(),
        Some(Value::String(n)) => {
            return Err(format!("\"clientAuthenticationName\" must be 1-128 characters (got {})", n.chars().count()))
        }
        Some(other) => return Err(format!("\"clientAuthenticationName\" is {}, not a string", kind(other))),
        None => return Err("an allow without \"clientAuthenticationName\"".into()),
    };
    let (attributes, ignored) = match obj.get("attributes") {
        None | Some(Value::Null) => (BTreeMap::new(), Vec::new()),
        Some(Value::Object(m)) => attributes(m),
        Some(other) => return Err(format!("\"attributes\" is {}, not an object", kind(other))),
    };
    let expiration = match obj.get("expiration") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_i64().ok_or_else(|| format!("\"expiration\" {n} is not whole Unix seconds"))?),
        Some(Value::String(s)) => Some(s.trim().parse::<i64>().map_err(|_| format!("\"expiration\" {s:?} is not Unix seconds"))?),
        Some(other) => return Err(format!("\"expiration\" is {}, not Unix seconds", kind(other))),
    };
    Ok(Verdict::Allow(Grant { authentication_name, attributes, ignored, expiration }))
}

/// The usable attributes and the left-out ones with why.
fn attributes(m: &Map<String, Value>) -> (BTreeMap<String, AttrValue>, Vec<String>) {
    let mut kept = BTreeMap::new();
    let mut ignored = Vec::new();
    for (k, v) in m {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            ignored.push(format!("{k:?} (key not [A-Za-z0-9_])"));
            continue;
        }
        let value = match v {
            Value::String(s) => Some(AttrValue::Str(s.clone())),
            Value::Number(n) => n.as_i64().filter(|i| i32::try_from(*i).is_ok()).map(AttrValue::Int),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(AttrValue::List),
            _ => None,
        };
        match value {
            Some(a) => {
                kept.insert(k.clone(), a);
            }
            None => ignored.push(format!("{k:?} ({} is not an int32, a string or an array of strings)", kind(v))),
        }
    }
    (kept, ignored)
}

/// How a JSON value is named in messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(json: &str) -> Grant {
        match parse(json.as_bytes()) {
            Ok(Verdict::Allow(g)) => g,
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn allow_with_documented_attribute_types() {
        let g = allow(
            r#"{"decision":"allow","clientAuthenticationName":"sensor1","expiration":1713782400,
                "attributes":{"num_attr_pos":1,"num_attr_neg":-1,"str_attr":"v","str_list_attr":["a","b"],
                "flag":true,"big":4294967296,"f":1.5,"mixed":["a",1],"bad-key":"x","o":{}},"extra":1}"#,
        );
        assert_eq!(g.authentication_name, "sensor1");
        assert_eq!(g.expiration, Some(1_713_782_400));
        assert_eq!(g.attributes["num_attr_pos"], AttrValue::Int(1));
        assert_eq!(g.attributes["num_attr_neg"], AttrValue::Int(-1));
        assert_eq!(g.attributes["str_attr"], AttrValue::Str("v".into()));
        assert_eq!(g.attributes["str_list_attr"], AttrValue::List(vec!["a".into(), "b".into()]));
        assert_eq!(g.attributes.len(), 4);
        assert_eq!(g.ignored.len(), 6, "{:?}", g.ignored);
        assert!(g.ignored.iter().any(|i| i.contains("\"bad-key\"")));
    }

    #[test]
    fn expiration_as_string_and_case_of_decision() {
        assert_eq!(allow(r#"{"decision":"Allow","clientAuthenticationName":"a","expiration":"1713782400"}"#).expiration, Some(1_713_782_400));
        assert_eq!(allow(r#"{"decision":"allow","clientAuthenticationName":"a","expiration":null}"#).expiration, None);
    }

    #[test]
    fn deny_with_and_without_reason() {
        assert_eq!(parse(br#"{"decision":"deny","errorReason":"bad token"}"#), Ok(Verdict::Deny(Some("bad token".into()))));
        assert_eq!(parse(br#"{"decision":"DENY"}"#), Ok(Verdict::Deny(None)));
    }

    #[test]
    fn malformed_answers_say_what_is_wrong() {
        for (body, says) in [
            ("", "not JSON"),
            ("{\"decision\":", "not JSON"),
            ("[1]", "not a JSON object but an array"),
            ("{}", "no \"decision\""),
            (r#"{"decision":true}"#, "a boolean"),
            (r#"{"decision":"maybe"}"#, "\"maybe\""),
            (r#"{"decision":"allow"}"#, "without \"clientAuthenticationName\""),
            (r#"{"decision":"allow","clientAuthenticationName":""}"#, "1-128"),
            (r#"{"decision":"allow","clientAuthenticationName":7}"#, "a number, not a string"),
            (r#"{"decision":"allow","clientAuthenticationName":"a","attributes":[]}"#, "not an object"),
            (r#"{"decision":"allow","clientAuthenticationName":"a","expiration":"soon"}"#, "\"soon\" is not Unix seconds"),
            (r#"{"decision":"allow","clientAuthenticationName":"a","expiration":1.5}"#, "not whole Unix seconds"),
        ] {
            let e = parse(body.as_bytes()).unwrap_err();
            assert!(e.contains(says), "{body}: {e}");
        }
    }
}
