//! The file as written: serde's view of the YAML (mirroring the ARM resources), before any rule
//! beyond the schema is checked. Spans are kept so later checks can name the line.

use super::bindings::Permission;
use super::error::{key_on_line, strip_location, NamespaceError};
use super::settings::Settings;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;

/// Deserializes `text` into the raw shape; a syntax or schema error names line, column and key.
pub(super) fn read(text: &str, origin: &str) -> Result<RawNamespace, NamespaceError> {
    serde_saphyr::from_str(text).map_err(|e| {
        let inner = e.without_snippet();
        let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        NamespaceError::Yaml {
            origin: origin.to_string(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            field: key_on_line(text, line).unwrap_or_else(|| "?".into()),
            message: strip_location(&inner.to_string()),
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawNamespace {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) settings: Option<Spanned<Settings>>,
    #[serde(default)]
    pub(super) ca_certificates: Vec<RawCa>,
    #[serde(default)]
    pub(super) clients: Vec<RawClient>,
    #[serde(default)]
    pub(super) client_groups: Vec<RawGroup>,
    #[serde(default)]
    pub(super) topic_spaces: Vec<RawSpace>,
    #[serde(default)]
    pub(super) permission_bindings: Vec<RawBinding>,
    #[serde(default)]
    pub(super) lifecycle_events: Option<crate::eventgrid::lifecycle::LifecycleSettings>,
    #[serde(default)]
    pub(super) routing: Option<Spanned<super::routing::RawRouting>>,
    pub(super) custom_jwt_authentication: Option<super::jwt::RawJwtAuth>,
    #[serde(default)]
    pub(super) entra_jwt_authentication: Option<super::jwt::RawJwtAuth>,
    #[serde(default)]
    pub(super) web_hook_authentication: Option<super::webhook_authentication::RawWebhookAuthentication>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawCa {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) encoded_certificate: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) file: Option<Spanned<String>>,
}

#[derive(Clone, Copy, Deserialize, PartialEq)]
pub(super) enum RawState {
    Enabled,
    Disabled,
}

pub(super) enum RawAttr {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<String>),
}

/// Hand-written so a bad value gets a clear message (an untagged enum only says "no variant").
impl<'de> Deserialize<'de> for RawAttr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawAttr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute value: a string, an integer, a boolean or an array of strings")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawAttr, E> {
                Ok(RawAttr::Bool(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawAttr, E> {
                Ok(RawAttr::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawAttr, E> {
                i64::try_from(v)
                    .map(RawAttr::Int)
                    .map_err(|_| E::custom(format!("integer {v} does not fit a long")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawAttr, E> {
                Ok(RawAttr::Str(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawAttr, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(RawAttr::List(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Copy, Deserialize, PartialEq)]
pub(super) enum RawScheme {
    SubjectMatchesAuthenticationName,
    DnsMatchesAuthenticationName,
    UriMatchesAuthenticationName,
    IpMatchesAuthenticationName,
    EmailMatchesAuthenticationName,
    ThumbprintMatch,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawCertAuth {
    pub(super) validation_scheme: RawScheme,
    #[serde(default)]
    pub(super) allowed_thumbprints: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawClient {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) authentication_name: Option<Spanned<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) state: Option<RawState>,
    #[serde(default)]
    pub(super) attributes: Option<Spanned<BTreeMap<String, RawAttr>>>,
    #[serde(default)]
    pub(super) client_certificate_authentication: Option<Spanned<RawCertAuth>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawGroup {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) description: Option<String>,
    pub(super) query: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawSpace {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) description: Option<String>,
    pub(super) topic_templates: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawBinding {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) description: Option<String>,
    pub(super) client_group_name: Spanned<String>,
    pub(super) topic_space_name: Spanned<String>,
    pub(super) permission: Permission,
}
