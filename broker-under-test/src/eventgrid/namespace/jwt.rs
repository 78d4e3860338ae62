//! `customJwtAuthentication:` and `entraJwtAuthentication:`: who may issue the JSON Web Tokens
//! that MQTT 5 clients present with Authentication Method `CUSTOM-JWT` / `OAUTH2-JWT`, the public
//! keys their signatures are checked with, the accepted audiences and (Entra ID) the RBAC role
//! assignments that authorize them.
//!
//! The ARM shape is `topicSpacesConfiguration.clientAuthentication.customJwtAuthentication`
//! (`tokenIssuer`, `issuerCertificates[]` from Key Vault, at most 2 for rotation). Offline, each
//! `issuerCertificates` entry is a file next to the namespace file (or inline PEM): a JWKS
//! (`{"keys": [...]}`, RSA or EC P-256 keys, matched by `kid` when the token names one), a PEM
//! certificate or a PEM public key. Choices where Event Grid is silent are listed in
//! `fixtures/namespaces/README.md` ("JWT authentication").

use super::bindings::{Permission, PermissionBinding};
use super::error::{Ctx, NamespaceError};
use super::topic_spaces::TopicSpace;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;
use std::path::Path;

/// Issuer certificates per method: Event Grid allows two (the second for key rotation).
pub const MAX_ISSUER_CERTIFICATES: usize = 2;

/// Default clock-skew allowance for `exp` and `nbf`, in seconds (Event Grid documents none).
pub const DEFAULT_LEEWAY_SECS: u64 = 5;

/// The audience Microsoft Entra ID tokens for Event Grid carry (documented, fixed).
pub const ENTRA_AUDIENCE: &str = "https://eventgrid.azure.net/";

/// The documented RBAC role that lets an Entra identity publish.
pub const ROLE_PUBLISHER: &str = "EventGrid TopicSpaces Publisher";
/// The documented RBAC role that lets an Entra identity subscribe.
pub const ROLE_SUBSCRIBER: &str = "EventGrid TopicSpaces Subscriber";

/// The two documented JWT Authentication Methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtMethod {
    /// `CUSTOM-JWT`: any identity provider; `sub` is the authentication name, claims are attributes.
    Custom,
    /// `OAUTH2-JWT`: Microsoft Entra ID; authorization by RBAC role assignments.
    Entra,
}

impl JwtMethod {
    /// The method name as it travels in CONNECT / AUTH.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtMethod::Custom => "CUSTOM-JWT",
            JwtMethod::Entra => "OAUTH2-JWT",
        }
    }

    /// The method a CONNECT's Authentication Method names, if it is one of the two (exact case:
    /// the docs give no other spelling).
    pub fn from_name(name: &str) -> Option<JwtMethod> {
        match name {
            "CUSTOM-JWT" => Some(JwtMethod::Custom),
            "OAUTH2-JWT" => Some(JwtMethod::Entra),
            _ => None,
        }
    }

    /// The YAML section that configures it.
    pub fn section(self) -> &'static str {
        match self {
            JwtMethod::Custom => "customJwtAuthentication",
            JwtMethod::Entra => "entraJwtAuthentication",
        }
    }
}

impl fmt::Display for JwtMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One public key a token's signature may be checked with.
#[derive(Clone)]
pub struct IssuerKey {
    /// Where it came from, for messages (`issuerCertificates[0] keys[1] (kid "k1")`).
    pub origin: String,
    /// The JWKS `kid`, if any (PEM keys have none).
    pub kid: Option<String>,
    /// The one algorithm this key verifies (RS256 for RSA, ES256 for EC P-256).
    pub algorithm: Algorithm,
    /// The key.
    pub key: DecodingKey,
}

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerKey").field("origin", &self.origin).field("kid", &self.kid).field("algorithm", &self.algorithm).finish()
    }
}

/// One method's trusted issuer: the `iss` tokens must carry, the audiences, keys and leeway.
#[derive(Clone, Debug)]
pub struct JwtIssuer {
    /// Which method this configures.
    pub method: JwtMethod,
    /// The exact `iss` value accepted.
    pub token_issuer: String,
    /// Accepted `aud` values (one of the token's must match; see [`audience_matches`]).
    pub audiences: Vec<String>,
    /// Verification keys, in file order.
    pub keys: Vec<IssuerKey>,
    /// Seconds `exp` and `nbf` may be off by.
    pub leeway_secs: u64,
}

/// Both methods' issuers, as the namespace configures them (`None` = method not enabled).
#[derive(Clone, Debug, Default)]
pub struct JwtAuthentication {
    /// `customJwtAuthentication:`.
    pub custom: Option<JwtIssuer>,
    /// `entraJwtAuthentication:`.
    pub entra: Option<JwtIssuer>,
}

impl JwtAuthentication {
    /// The issuer configured for `method`.
    pub fn issuer(&self, method: JwtMethod) -> Option<&JwtIssuer> {
        match method {
            JwtMethod::Custom => self.custom.as_ref(),
            JwtMethod::Entra => self.entra.as_ref(),
        }
    }
}

/// Whether token audience `aud` names configured audience `want`: equal ignoring ASCII case, an
/// `https://` prefix and a trailing `/` (the docs write the namespace host name all three ways).
pub fn audience_matches(aud: &str, want: &str) -> bool {
    fn bare(s: &str) -> &str {
        let s = s.strip_prefix("https://").unwrap_or(s);
        s.strip_suffix('/').unwrap_or(s)
    }
    bare(aud).eq_ignore_ascii_case(bare(want))
}

/// The client group an Entra identity with object id `id` is put in (it has no attributes, so no
/// query can match it): its role assignments become permission bindings of this group.
pub fn rbac_group(id: &str) -> String {
    format!("$rbac:{}", id.to_ascii_lowercase())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawIssuerCert {
    #[serde(default)]
    file: Option<Spanned<String>>,
    #[serde(default)]
    encoded_certificate: Option<Spanned<String>>,
    /// ARM's Key Vault fields, accepted and ignored offline so a real configuration can be pasted.
    #[serde(default)]
    #[allow(dead_code)]
    certificate_url: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    identity: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawJwtAuth {
    token_issuer: Spanned<String>,
    #[serde(default)]
    audiences: Option<Spanned<Vec<String>>>,
    issuer_certificates: Spanned<Vec<RawIssuerCert>>,
    #[serde(default)]
    leeway_seconds: Option<u64>,
    #[serde(default)]
    role_assignments: Vec<RawRoleAssignment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawRoleAssignment {
    principal_id: Spanned<String>,
    role: Spanned<String>,
    #[serde(default)]
    topic_space_name: Option<Spanned<String>>,
}

/// Resolves one section: issuer, audiences (custom: required; Entra: the documented one), keys.
pub(super) fn load_issuer(
    cx: &Ctx<'_>,
    method: JwtMethod,
    raw: &RawJwtAuth,
    base_dir: &Path,
) -> Result<JwtIssuer, NamespaceError> {
    let sec = method.section();
    if raw.token_issuer.value.trim().is_empty() {
        return Err(cx.at(&raw.token_issuer, format!("{sec}.tokenIssuer"), "must not be empty"));
    }
    let audiences = match (method, &raw.audiences) {
        (JwtMethod::Entra, None) => vec![ENTRA_AUDIENCE.to_string()],
        (JwtMethod::Entra, Some(a)) => {
            return Err(cx.at(a, format!("{sec}.audiences"), format!("Entra ID tokens always carry aud {ENTRA_AUDIENCE:?}: leave audiences out")))
        }
        (JwtMethod::Custom, Some(a)) if !a.value.is_empty() && a.value.iter().all(|s| !s.trim().is_empty()) => a.value.clone(),
        (JwtMethod::Custom, Some(a)) => return Err(cx.at(a, format!("{sec}.audiences"), "needs at least one non-empty audience")),
        (JwtMethod::Custom, None) => {
            return Err(cx.at(
                &raw.token_issuer,
                format!("{sec}.audiences"),
                "is required: the namespace host name tokens must name in aud (e.g. ns1.westus2-1.ts.eventgrid.azure.net)",
            ))
        }
    };
    if method == JwtMethod::Custom && !raw.role_assignments.is_empty() {
        return Err(cx.at(
            &raw.role_assignments[0].principal_id,
            format!("{sec}.roleAssignments"),
            "only entraJwtAuthentication has RBAC role assignments (custom JWT clients are authorized by permission bindings)",
        ));
    }
    let certs = &raw.issuer_certificates;
    if certs.value.is_empty() || certs.value.len() > MAX_ISSUER_CERTIFICATES {
        return Err(cx.at(
            certs,
            format!("{sec}.issuerCertificates"),
            format!("needs 1 to {MAX_ISSUER_CERTIFICATES} entries (got {})", certs.value.len()),
        ));
    }
    let mut keys = Vec::new();
    for (i, c) in certs.value.iter().enumerate() {
        keys.extend(load_keys(cx, c, &format!("{sec}.issuerCertificates[{i}]"), certs.referenced.line(), base_dir)?);
    }
    Ok(JwtIssuer {
        method,
        token_issuer: raw.token_issuer.value.clone(),
        audiences,
        keys,
        leeway_secs: raw.leeway_seconds.unwrap_or(DEFAULT_LEEWAY_SECS),
    })
}

/// The keys of one `issuerCertificates` entry (a JWKS may hold several).
fn load_keys(cx: &Ctx<'_>, c: &RawIssuerCert, f: &str, list_line: u64, base_dir: &Path) -> Result<Vec<IssuerKey>, NamespaceError> {
    let (text, line, field) = match (&c.encoded_certificate, &c.file) {
        (Some(p), None) => (p.value.clone(), p.referenced.line(), format!("{f}.encodedCertificate")),
        (None, Some(file)) => {
            let path = base_dir.join(&file.value);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| cx.at(file, format!("{f}.file"), format!("cannot read {}: {e}", path.display())))?;
            (text, file.referenced.line(), format!("{f}.file"))
        }
        _ => return Err(cx.invalid(list_line, f, "exactly one of file or encodedCertificate is required (Key Vault certificateUrl cannot be read offline)")),
    };
    if text.trim_start().starts_with('{') {
        return jwks_keys(&text, f).map_err(|m| cx.invalid(line, &field, m));
    }
    let key = if let Ok(k) = DecodingKey::from_rsa_pem(text.as_bytes()) {
        (Algorithm::RS256, k)
    } else if let Ok(k) = DecodingKey::from_ec_pem(text.as_bytes()) {
        (Algorithm::ES256, k)
    } else {
        return Err(cx.invalid(line, &field, "neither a JWKS nor a PEM RSA / EC P-256 certificate or public key"));
    };
    Ok(vec![IssuerKey { origin: f.to_string(), kid: None, algorithm: key.0, key: key.1 }])
}

/// The keys of a JWKS document; any key that is not RSA or EC P-256 is an error naming it.
fn jwks_keys(text: &str, f: &str) -> Result<Vec<IssuerKey>, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| format!("not a JWKS ({{\"keys\": [...]}}): {e}"))?;
    if set.keys.is_empty() {
        return Err("the JWKS has no keys".into());
    }
    let mut out = Vec::new();
    for (i, jwk) in set.keys.iter().enumerate() {
        let kid = jwk.common.key_id.clone();
        let origin = match &kid {
            Some(k) => format!("{f} keys[{i}] (kid {k:?})"),
            None => format!("{f} keys[{i}]"),
        };
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
            _ => return Err(format!("keys[{i}]: only RSA (RS256) and EC P-256 (ES256) keys are supported")),
        };
        if let Some(alg) = jwk.common.key_algorithm {
            if alg.to_string() != format!("{algorithm:?}") {
                return Err(format!("keys[{i}]: \"alg\" {alg} does not fit the key type (expected {algorithm:?})"));
            }
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("keys[{i}]: unusable key: {e}"))?;
        out.push(IssuerKey { origin, kid, algorithm, key });
    }
    Ok(out)
}

/// Entra role assignments as permission bindings of each identity's [`rbac_group`]: a role
/// without `topicSpaceName` is namespace scope (every topic space).
pub(super) fn role_bindings(cx: &Ctx<'_>, raw: &RawJwtAuth, spaces: &[TopicSpace]) -> Result<Vec<PermissionBinding>, NamespaceError> {
    let mut out = Vec::new();
    for (i, r) in raw.role_assignments.iter().enumerate() {
        let f = format!("entraJwtAuthentication.roleAssignments[{i}]");
        if r.principal_id.value.trim().is_empty() {
            return Err(cx.at(&r.principal_id, format!("{f}.principalId"), "must not be empty"));
        }
        let permission = match r.role.value.as_str() {
            ROLE_PUBLISHER => Permission::Publisher,
            ROLE_SUBSCRIBER => Permission::Subscriber,
            other => {
                return Err(cx.at(&r.role, format!("{f}.role"), format!("{other:?}: use {ROLE_PUBLISHER:?} or {ROLE_SUBSCRIBER:?}")))
            }
        };
        let scope: Vec<&TopicSpace> = match &r.topic_space_name {
            None => spaces.iter().collect(),
            Some(n) => match spaces.iter().find(|s| s.name.eq_ignore_ascii_case(&n.value)) {
                Some(s) => vec![s],
                None => return Err(cx.at(n, format!("{f}.topicSpaceName"), format!("no topic space {:?}", n.value))),
            },
        };
        for s in scope {
            out.push(PermissionBinding {
                name: format!("rbac-{i}-{}", s.name),
                client_group_name: rbac_group(&r.principal_id.value),
                topic_space_name: s.name.clone(),
                permission,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_compare_as_host_names() {
        assert!(audience_matches("https://ns1.westus2-1.ts.eventgrid.azure.net/", "ns1.westus2-1.ts.eventgrid.azure.net"));
        assert!(audience_matches("NS1.example", "ns1.example/"));
        assert!(!audience_matches("ns2.example", "ns1.example"));
        assert!(!audience_matches("http://ns1.example", "ns1.example"));
    }

    #[test]
    fn methods_by_name() {
        assert_eq!(JwtMethod::from_name("CUSTOM-JWT"), Some(JwtMethod::Custom));
        assert_eq!(JwtMethod::from_name("OAUTH2-JWT"), Some(JwtMethod::Entra));
        assert_eq!(JwtMethod::from_name("custom-jwt"), None);
        assert_eq!(rbac_group("ABC"), "$rbac:abc");
    }

    #[test]
    fn bad_jwks_documents_are_named() {
        assert!(jwks_keys("{}", "x").unwrap_err().contains("not a JWKS"));
        assert!(jwks_keys(r#"{"keys": []}"#, "x").unwrap_err().contains("no keys"));
        let oct = r#"{"keys": [{"kty": "oct", "k": "AAAA"}]}"#;
        assert!(jwks_keys(oct, "x").unwrap_err().contains("only RSA"));
    }
}
