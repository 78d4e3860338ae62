//! JWT authentication (MQTT 5 enhanced authentication with Event Grid's two methods, and HTTP
//! bearer tokens): a token → signature checked with the issuer's keys (`jsonwebtoken`), `iss`,
//! `aud`, `exp`, `nbf` checked → the [`Principal`] that topic-space and will authorization use
//! unchanged, and the instant the token stops being valid (the broker ends the connection then
//! unless the client re-authenticated with AUTH 0x19).
//!
//! What Event Grid documents: method `CUSTOM-JWT` (any identity provider) or `OAUTH2-JWT`
//! (Microsoft Entra ID) in the CONNECT Authentication Method, the token in Authentication Data,
//! re-authentication with AUTH reason 0x19 and the same two fields; required claims `iss`, `sub`,
//! `aud`, `exp`, `nbf`; `sub` is the authentication name; every other claim of type int32, string
//! or array of strings becomes a client attribute; RS256. Choices where it is silent (all in
//! `fixtures/namespaces/README.md`, "JWT authentication"):
//! - ES256 (EC P-256) is accepted besides RS256; `none`, HMAC and every other algorithm are not.
//! - A token whose header names a `kid` is checked with that key only (unknown kid = refused);
//!   without `kid`, with each key of the token's algorithm in file order.
//! - `exp` and `nbf` must be numbers (a string is malformed, never skipped) and are compared with
//!   the caller's clock and the issuer's leeway (default [`DEFAULT_LEEWAY_SECS`] s): valid while
//!   `nbf - leeway <= now <= exp + leeway`.
//! - Claim names that are not `[A-Za-z0-9_]` (the attribute-name rule), booleans, floats and
//!   integers outside int32 do not become attributes.
//! - Entra (`OAUTH2-JWT`): the authentication name is the `oid` claim (else `sub`); the identity
//!   is authorized only by its RBAC role assignments, not by client groups.

use super::namespace::{audience_matches, rbac_group, IssuerKey, JwtIssuer, JwtMethod, DEFAULT_LEEWAY_SECS};
use super::{AttrValue, AuthFailure, Namespace, Principal};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The claims Event Grid requires and never turns into attributes.
const REQUIRED_CLAIMS: [&str; 5] = ["iss", "sub", "aud", "exp", "nbf"];

/// Who a valid token says the client is, and until when.
#[derive(Clone, Debug, PartialEq)]
pub struct JwtIdentity {
    /// The principal for authorization (authentication name, attributes, groups).
    pub principal: Principal,
    /// The method that authenticated it.
    pub method: JwtMethod,
    /// The token's `exp` plus the leeway: the connection must re-authenticate before then.
    pub valid_until: SystemTime,
}

/// Why a token was not accepted. Display = the reason for the log (and for `diagnostics: true`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenProblem {
    /// No Authentication Data, or it is not UTF-8.
    Missing,
    /// Not three base64url parts with JSON header and claims.
    Malformed(String),
    /// The header's `alg` is not one the issuer's keys verify.
    Algorithm(String),
    /// The header names a `kid` no key has.
    UnknownKey(String),
    /// No key of the issuer verifies the signature.
    BadSignature,
    /// `iss` is not the configured token issuer.
    WrongIssuer(String),
    /// No `aud` value names a configured audience.
    WrongAudience(String),
    /// A required claim is absent or has the wrong type.
    Claim(String),
    /// `exp` + leeway is before now.
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The time it was checked at.
        now: i64,
    },
    /// `nbf` - leeway is after now.
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The time it was checked at.
        now: i64,
    },
}

impl fmt::Display for TokenProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenProblem::Missing => f.write_str("no token in Authentication Data (or not UTF-8)"),
            TokenProblem::Malformed(e) => write!(f, "malformed token: {e}"),
            TokenProblem::Algorithm(a) => write!(f, "token algorithm {a} is not accepted (RS256 or ES256 with an issuer key of that type)"),
            TokenProblem::UnknownKey(k) => write!(f, "token kid {k:?} names no issuer key"),
            TokenProblem::BadSignature => f.write_str("token signature does not verify with any issuer key"),
            TokenProblem::WrongIssuer(i) => write!(f, "token issuer {i:?} is not the namespace's token issuer"),
            TokenProblem::WrongAudience(a) => write!(f, "token audience {a} names none of the namespace's audiences"),
            TokenProblem::Claim(c) => write!(f, "token claim {c}"),
            TokenProblem::Expired { exp, now } => write!(f, "token expired (exp {exp}, now {now})"),
            TokenProblem::NotYetValid { nbf, now } => write!(f, "token not valid yet (nbf {nbf}, now {now})"),
        }
    }
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn bad(method: JwtMethod, problem: TokenProblem) -> AuthFailure {
    AuthFailure::BadToken { method: method.as_str().to_string(), problem }
}

/// Authenticates an HTTP request's bearer token (`Authorization: Bearer <token>`) against the
/// namespace: the custom issuer when the token's (unverified) `iss` names it, else Entra ID.
/// Same checks and principal as an MQTT CONNECT.
pub fn bearer_principal(ns: &Namespace, token: &str, now: SystemTime) -> Result<Principal, AuthFailure> {
    let jwt = ns.jwt_authentication();
    let iss = jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(token)
        .ok()
        .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned));
    let method = match (&jwt.custom, &jwt.entra) {
        (Some(c), Some(_)) if iss.as_deref() == Some(c.token_issuer.as_str()) => JwtMethod::Custom,
        (_, Some(_)) => JwtMethod::Entra,
        _ => JwtMethod::Custom,
    };
    ns.authenticate_jwt(method.as_str(), Some(token.as_bytes()), now).map(|id| id.principal)
}

impl Namespace {
    /// Authenticates a CONNECT (or a re-authentication) whose Authentication Method is `method`:
    /// unknown methods and methods the namespace does not configure are [`AuthFailure::AuthMethodNotSupported`]
    /// (0x8C), every token problem [`AuthFailure::BadToken`] (0x86).
    pub fn authenticate_jwt(&self, method: &str, data: Option<&[u8]>, now: SystemTime) -> Result<JwtIdentity, AuthFailure> {
        let not_supported = || AuthFailure::AuthMethodNotSupported { method: method.to_string() };
        let m = JwtMethod::from_name(method).ok_or_else(not_supported)?;
        let issuer = self.jwt_authentication().issuer(m).ok_or_else(not_supported)?;
        let token = data.and_then(|d| std::str::from_utf8(d).ok()).filter(|t| !t.is_empty());
        let token = token.ok_or_else(|| bad(m, TokenProblem::Missing))?;
        let claims = verify(issuer, token).map_err(|p| bad(m, p))?;
        let (exp, nbf) = times(&claims).map_err(|p| bad(m, p))?;
        let now_s = unix(now);
        let leeway = i64::try_from(issuer.leeway_secs).unwrap_or(DEFAULT_LEEWAY_SECS as i64);
        if exp.saturating_add(leeway) < now_s {
            return Err(bad(m, TokenProblem::Expired { exp, now: now_s }));
        }
        if nbf.saturating_sub(leeway) > now_s {
            return Err(bad(m, TokenProblem::NotYetValid { nbf, now: now_s }));
        }
        let valid_until = UNIX_EPOCH + Duration::from_secs(u64::try_from(exp.saturating_add(leeway)).unwrap_or(0));
        let mut principal = match m {
            JwtMethod::Custom => self.custom_principal(&claims),
            JwtMethod::Entra => entra_principal(&claims),
        }
        .map_err(|p| bad(m, p))?;
        principal.valid_until = Some(valid_until);
        Ok(JwtIdentity { principal, method: m, valid_until })
    }

    /// `sub` is the authentication name (and the client name: there is no client resource);
    /// attributes from the other claims; groups by the namespace's queries.
    fn custom_principal(&self, claims: &Map<String, Value>) -> Result<Principal, TokenProblem> {
        let sub = string_claim(claims, "sub")?;
        let attributes = attributes(claims);
        let groups = self.groups_for(&sub, &attributes);
        Ok(Principal { client_name: sub.clone(), authentication_name: sub, attributes, groups, valid_until: None })
    }
}

/// Entra ID identities: `oid` (else `sub`) names them; their only group is their RBAC group.
fn entra_principal(claims: &Map<String, Value>) -> Result<Principal, TokenProblem> {
    let id = match claims.get("oid").and_then(Value::as_str) {
        Some(o) if !o.is_empty() => o.to_string(),
        _ => string_claim(claims, "sub")?,
    };
    Ok(Principal {
        client_name: id.clone(),
        groups: vec![rbac_group(&id)],
        authentication_name: id,
        attributes: BTreeMap::new(),
        valid_until: None,
    })
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Result<String, TokenProblem> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(TokenProblem::Claim(format!("{name} must be a non-empty string"))),
        None => Err(TokenProblem::Claim(format!("{name} is missing"))),
    }
}

/// `exp` and `nbf` as whole seconds; any other JSON type is malformed (never "absent").
fn times(claims: &Map<String, Value>) -> Result<(i64, i64), TokenProblem> {
    let num = |name: &str| match claims.get(name) {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f.floor() as i64))
            .ok_or_else(|| TokenProblem::Claim(format!("{name} is not a NumericDate"))),
        Some(_) => Err(TokenProblem::Claim(format!("{name} must be a number (NumericDate)"))),
        None => Err(TokenProblem::Claim(format!("{name} is missing"))),
    };
    Ok((num("exp")?, num("nbf")?))
}

/// Claims that become attributes: int32, string, array of strings, under an attribute-safe name.
fn attributes(claims: &Map<String, Value>) -> BTreeMap<String, AttrValue> {
    claims
        .iter()
        .filter(|(k, _)| !REQUIRED_CLAIMS.contains(&k.as_str()))
        .filter(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(|(k, v)| {
            let a = match v {
                Value::String(s) => AttrValue::Str(s.clone()),
                Value::Number(n) => AttrValue::Int(n.as_i64().filter(|i| i32::try_from(*i).is_ok())?),
                Value::Array(items) => {
                    AttrValue::List(items.iter().map(|i| i.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>()?)
                }
                _ => return None,
            };
            Some((k.clone(), a))
        })
        .collect()
}

/// Signature (the key named by `kid`, or each key of the token's algorithm), `iss` and the
/// presence of the required claims by `jsonwebtoken`; `aud` against the configured audiences.
fn verify(issuer: &JwtIssuer, token: &str) -> Result<Map<String, Value>, TokenProblem> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| TokenProblem::Malformed(e.to_string()))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err(TokenProblem::Algorithm(format!("{:?}", header.alg)));
    }
    let keys: Vec<&IssuerKey> = match &header.kid {
        Some(kid) => {
            let k: Vec<&IssuerKey> = issuer.keys.iter().filter(|k| k.kid.as_deref() == Some(kid.as_str())).collect();
            if k.is_empty() {
                return Err(TokenProblem::UnknownKey(kid.clone()));
            }
            k
        }
        None => issuer.keys.iter().collect(),
    };
    let keys: Vec<&IssuerKey> = keys.into_iter().filter(|k| k.algorithm == header.alg).collect();
    if keys.is_empty() {
        return Err(TokenProblem::Algorithm(format!("{:?}", header.alg)));
    }
    let mut v = Validation::new(header.alg);
    v.validate_exp = false; // checked with the caller's clock (see `times`)
    v.validate_nbf = false;
    v.validate_aud = false; // host-name comparison below
    v.set_required_spec_claims(&REQUIRED_CLAIMS);
    v.set_issuer(&[issuer.token_issuer.as_str()]);
    for key in keys {
        match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &v) {
            Ok(data) => return check_audience(issuer, data.claims),
            Err(e) => match e.kind() {
                ErrorKind::InvalidSignature => continue,
                ErrorKind::InvalidIssuer => {
                    let iss = jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(token)
                        .ok()
                        .and_then(|c| c.get("iss").cloned())
                        .unwrap_or(Value::Null);
                    return Err(TokenProblem::WrongIssuer(iss.as_str().map_or_else(|| iss.to_string(), str::to_owned)));
                }
                ErrorKind::MissingRequiredClaim(c) => return Err(TokenProblem::Claim(format!("{c} is missing"))),
                ErrorKind::InvalidClaimFormat(c) => return Err(TokenProblem::Claim(format!("{c} has the wrong type"))),
                _ => return Err(TokenProblem::Malformed(e.to_string())),
            },
        }
    }
    Err(TokenProblem::BadSignature)
}

fn check_audience(issuer: &JwtIssuer, claims: Map<String, Value>) -> Result<Map<String, Value>, TokenProblem> {
    let auds: Vec<&str> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => return Err(TokenProblem::Claim("aud must be a string or an array of strings".into())),
    };
    if auds.iter().any(|a| issuer.audiences.iter().any(|w| audience_matches(a, w))) {
        Ok(claims)
    } else {
        Err(TokenProblem::WrongAudience(format!("{auds:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_follow_the_documented_types() {
        let c = json!({"iss": "i", "sub": "d1", "aud": "a", "exp": 1, "nbf": 0, "num_attr": 1, "str_attr": "s",
            "str_list_attr": ["a", "b"], "incorrect_attr_1": 1.23, "incorrect_attr_2": [1, 2], "incorrect_attr_3": {"f": "v"},
            "big": 5_000_000_000_i64, "flag": true, "bad-name": "x"});
        let a = attributes(c.as_object().unwrap());
        let keys: Vec<&str> = a.keys().map(String::as_str).collect();
        assert_eq!(keys, ["num_attr", "str_attr", "str_list_attr"]);
        assert_eq!(a["num_attr"], AttrValue::Int(1));
        assert_eq!(a["str_list_attr"], AttrValue::List(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn times_must_be_numbers() {
        let ok = json!({"exp": 10, "nbf": 2.5});
        assert_eq!(times(ok.as_object().unwrap()), Ok((10, 2)));
        let s = json!({"exp": "99999999999", "nbf": 0});
        assert!(matches!(times(s.as_object().unwrap()), Err(TokenProblem::Claim(m)) if m.contains("exp must be a number")));
        let missing = json!({"exp": 1});
        assert!(matches!(times(missing.as_object().unwrap()), Err(TokenProblem::Claim(m)) if m.contains("nbf is missing")));
    }

    #[test]
    fn entra_identity_is_its_object_id() {
        let c = json!({"sub": "s", "oid": "OID-1"});
        let p = entra_principal(c.as_object().unwrap()).unwrap();
        assert_eq!((p.authentication_name.as_str(), p.groups.as_slice()), ("OID-1", &[rbac_group("OID-1")][..]));
        let c = json!({"sub": "s"});
        assert_eq!(entra_principal(c.as_object().unwrap()).unwrap().authentication_name, "s");
    }
}
