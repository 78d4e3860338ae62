//! `clients:`: the client registry (names, authentication names, attributes) and how each
//! client's certificate is validated.

use super::error::{Ctx, NamespaceError};
use super::file::{RawAttr, RawCertAuth, RawClient, RawScheme, RawState};
use super::rules::is_client_name;
use crate::eventgrid::AttrValue;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, HashMap};

/// Attributes must be smaller than this, measured as compact JSON (reference tag CLI).
pub const MAX_ATTRIBUTES_BYTES: usize = 4096;

/// A client's certificate validation scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Subject CN must equal the authentication name; leaf must chain to a namespace CA.
    Subject,
    /// Some SAN dNSName must equal it; chain required.
    Dns,
    /// Some SAN URI must equal it; chain required.
    Uri,
    /// Some SAN iPAddress must equal it (compared as addresses); chain required.
    Ip,
    /// Some SAN rfc822Name must equal it; chain required.
    Email,
    /// SHA-256 of the leaf DER must be one of these (lower-case hex); self-signed is fine.
    Thumbprint(Vec<String>),
}

impl Scheme {
    /// The ARM name of the scheme.
    pub fn arm_name(&self) -> &'static str {
        match self {
            Scheme::Subject => "SubjectMatchesAuthenticationName",
            Scheme::Dns => "DnsMatchesAuthenticationName",
            Scheme::Uri => "UriMatchesAuthenticationName",
            Scheme::Ip => "IpMatchesAuthenticationName",
            Scheme::Email => "EmailMatchesAuthenticationName",
            Scheme::Thumbprint(_) => "ThumbprintMatch",
        }
    }
}

/// A registered client resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Client {
    /// Resource name.
    pub name: String,
    /// Authentication name, registered case.
    pub authentication_name: String,
    /// `state: Enabled` (a disabled client cannot authenticate).
    pub enabled: bool,
    /// Attributes.
    pub attributes: BTreeMap<String, AttrValue>,
    /// Certificate validation scheme.
    pub scheme: Scheme,
}

/// Registers every client in file order; returns them and the index by lower-cased
/// authentication name (authentication names are unique ignoring case).
pub(super) fn register(
    cx: &Ctx<'_>,
    raw: Vec<RawClient>,
) -> Result<(Vec<Client>, HashMap<String, usize>), NamespaceError> {
    let mut clients: Vec<Client> = Vec::new();
    let mut by_auth: HashMap<String, usize> = HashMap::new();
    for (i, c) in raw.into_iter().enumerate() {
        let f = format!("clients[{i}]");
        if !is_client_name(&c.name.value) {
            return Err(cx.at(
                &c.name,
                format!("{f}.name"),
                format!(
                    "client name {:?} must be 1-128 characters of A-Z, a-z, 0-9, '-', ':', '.' and '_'",
                    c.name.value
                ),
            ));
        }
        if clients.iter().any(|o| o.name == c.name.value) {
            return Err(cx.at(
                &c.name,
                format!("{f}.name"),
                format!("duplicate client name {:?}", c.name.value),
            ));
        }
        let auth = c.authentication_name.as_ref().unwrap_or(&c.name);
        if !(1..=128).contains(&auth.value.chars().count()) {
            return Err(cx.at(auth, format!("{f}.authenticationName"), "must be 1-128 characters"));
        }
        let key = auth.value.to_lowercase();
        if let Some(&other) = by_auth.get(&key) {
            return Err(cx.at(
                auth,
                format!("{f}.authenticationName"),
                format!(
                    "authentication name {:?} is already used by client {:?} (names are unique ignoring case)",
                    auth.value, clients[other].name
                ),
            ));
        }
        let attributes = attributes(cx, &c.attributes, &f)?;
        let scheme = scheme(cx, &c.client_certificate_authentication, auth, &f)?;
        by_auth.insert(key, clients.len());
        clients.push(Client {
            name: c.name.value.clone(),
            authentication_name: auth.value.clone(),
            enabled: c.state != Some(RawState::Disabled),
            attributes,
            scheme,
        });
    }
    Ok((clients, by_auth))
}

/// A client's attributes as model values: keys limited to `[A-Za-z0-9_]`, the whole map under
/// [`MAX_ATTRIBUTES_BYTES`] as JSON (what group queries and templates read).
fn attributes(
    cx: &Ctx<'_>,
    raw: &Option<Spanned<BTreeMap<String, RawAttr>>>,
    f: &str,
) -> Result<BTreeMap<String, AttrValue>, NamespaceError> {
    let mut attributes = BTreeMap::new();
    if let Some(a) = raw {
        for (k, v) in &a.value {
            if k.is_empty() || !k.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                return Err(cx.at(
                    a,
                    format!("{f}.attributes.{k}"),
                    format!("attribute key {k:?} must use only A-Z, a-z, 0-9 and '_'"),
                ));
            }
            let v = match v {
                RawAttr::Bool(b) => AttrValue::Bool(*b),
                RawAttr::Int(n) => AttrValue::Int(*n),
                RawAttr::Str(s) => AttrValue::Str(s.clone()),
                RawAttr::List(l) => AttrValue::List(l.clone()),
            };
            attributes.insert(k.clone(), v);
        }
        let n = attrs_json_len(&attributes);
        if n >= MAX_ATTRIBUTES_BYTES {
            return Err(cx.at(
                a,
                format!("{f}.attributes"),
                format!("attributes are {n} bytes as JSON; they must be under {MAX_ATTRIBUTES_BYTES}"),
            ));
        }
    }
    Ok(attributes)
}

/// The certificate validation scheme (default: subject CN); `allowedThumbprints` goes with
/// ThumbprintMatch only, and an IP scheme needs an IP address as authentication name.
fn scheme(
    cx: &Ctx<'_>,
    raw: &Option<Spanned<RawCertAuth>>,
    auth: &Spanned<String>,
    f: &str,
) -> Result<Scheme, NamespaceError> {
    let Some(cca) = raw else { return Ok(Scheme::Subject) };
    let thumbs = &cca.value.allowed_thumbprints;
    let tf = format!("{f}.clientCertificateAuthentication.allowedThumbprints");
    Ok(match (cca.value.validation_scheme, thumbs) {
        (RawScheme::ThumbprintMatch, None) => {
            return Err(cx.at(cca, tf, "ThumbprintMatch requires 1 or 2 allowedThumbprints"))
        }
        (RawScheme::ThumbprintMatch, Some(t)) => Scheme::Thumbprint(thumbprints(cx, t, &tf)?),
        (other, Some(t)) => {
            let name = match other {
                RawScheme::SubjectMatchesAuthenticationName => "SubjectMatchesAuthenticationName",
                RawScheme::DnsMatchesAuthenticationName => "DnsMatchesAuthenticationName",
                RawScheme::UriMatchesAuthenticationName => "UriMatchesAuthenticationName",
                RawScheme::IpMatchesAuthenticationName => "IpMatchesAuthenticationName",
                _ => "EmailMatchesAuthenticationName",
            };
            return Err(cx.at(
                t,
                tf,
                format!("allowedThumbprints is only allowed with ThumbprintMatch, not {name}"),
            ));
        }
        (RawScheme::SubjectMatchesAuthenticationName, None) => Scheme::Subject,
        (RawScheme::DnsMatchesAuthenticationName, None) => Scheme::Dns,
        (RawScheme::UriMatchesAuthenticationName, None) => Scheme::Uri,
        (RawScheme::IpMatchesAuthenticationName, None) => {
            if auth.value.parse::<std::net::IpAddr>().is_err() {
                return Err(cx.at(
                    auth,
                    format!("{f}.authenticationName"),
                    format!(
                        "IpMatchesAuthenticationName needs an IP address as authentication name, not {:?}",
                        auth.value
                    ),
                ));
            }
            Scheme::Ip
        }
        (RawScheme::EmailMatchesAuthenticationName, None) => Scheme::Email,
    })
}

/// ThumbprintMatch's 1 or 2 thumbprints, normalized (see [`normalize_thumbprint`]).
fn thumbprints(cx: &Ctx<'_>, t: &Spanned<Vec<String>>, tf: &str) -> Result<Vec<String>, NamespaceError> {
    if t.value.is_empty() || t.value.len() > 2 {
        return Err(cx.at(
            t,
            tf,
            format!("ThumbprintMatch takes 1 or 2 thumbprints (got {})", t.value.len()),
        ));
    }
    let mut v = Vec::new();
    for raw in &t.value {
        let n = normalize_thumbprint(raw)
            .ok_or_else(|| cx.at(t, tf, format!("{raw:?} is not a SHA-256 thumbprint (64 hex digits)")))?;
        v.push(n);
    }
    Ok(v)
}

fn json_len(s: &str) -> usize {
    // Quotes plus the string; escapes are rare in attribute values and only make it longer.
    s.len() + 2 + s.chars().filter(|c| matches!(c, '"' | '\\') || c.is_control()).count()
}

pub(super) fn attrs_json_len(attrs: &BTreeMap<String, AttrValue>) -> usize {
    let mut n = 2 + attrs.len().saturating_sub(1);
    for (k, v) in attrs {
        n += json_len(k) + 1;
        n += match v {
            AttrValue::Str(s) => json_len(s),
            AttrValue::Int(i) => i.to_string().len(),
            AttrValue::Bool(b) => b.to_string().len(),
            AttrValue::List(l) => 2 + l.len().saturating_sub(1) + l.iter().map(|s| json_len(s)).sum::<usize>(),
        };
    }
    n
}

/// Normalizes a thumbprint to lower-case hex without `:` separators; `None` if not SHA-256 hex.
pub(crate) fn normalize_thumbprint(t: &str) -> Option<String> {
    let hex: String = t.chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}
