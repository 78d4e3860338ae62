//! CONNECT authentication (reference §1): authentication name (username, or certificate fields
//! per `alternativeAuthenticationNameSources`) → client resource → state → certificate validity →
//! validation scheme.
//!
//! A v5 CONNECT with an Authentication Method goes to JWT authentication instead
//! ([`super::jwt`]: `CUSTOM-JWT`, `OAUTH2-JWT`); no certificate is needed then.
//!
//! Choices for undocumented points:
//! - The username lookup ignores case (documented); the [`Principal`] keeps the registered case.
//!   An empty username counts as absent.
//! - The certificate field compared by the `*MatchesAuthenticationName` schemes must equal the
//!   authentication name **ignoring ASCII/Unicode case** (the docs say the authentication-time match
//!   ignores case; DNS names and e-mail domains are case-insensitive anyway). Subject means any
//!   Common Name of the subject. Ip compares addresses, so `::1` equals `0:0:0:0:0:0:0:1`.
//! - Thumbprints: SHA-256 over the leaf DER, hex, compared ignoring case; no chain validation
//!   (self-signed is fine), but the validity period is checked like for every scheme.
//! - Chain schemes: the leaf must chain (rustls-webpki, client-auth EKU if an EKU is present) to one
//!   of the namespace's `caCertificates`; the other presented certificates serve as intermediates.

use super::namespace::{Client, NameSource, Scheme};
use super::{Namespace, Principal};
use rustls_pki_types::{CertificateDer, UnixTime};
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// What CONNECT and the TLS handshake tell authentication.
#[derive(Clone, Copy, Debug)]
pub struct AuthRequest<'a> {
    /// CONNECT User Name (the authentication name), if present.
    pub username: Option<&'a str>,
    /// CONNECT ClientId (the session name; session ownership is the broker's business).
    pub client_id: &'a str,
    /// TLS peer certificates, leaf first; empty = no certificate (plain TCP).
    pub peer_certs: &'a [CertificateDer<'static>],
    /// The time certificate validity is checked against.
    pub now: SystemTime,
    /// v5 Authentication Method, if present.
    pub auth_method: Option<&'a str>,
    /// v5 Authentication Data (the JWT), if present.
    pub auth_data: Option<&'a [u8]>,
}

/// Why authentication refused a CONNECT. Display = the reason for the log.
///
/// Codes ([`AuthFailure::v5_code`] / [`AuthFailure::v311_code`]):
/// - credentials missing, unknown or not matching (no certificate, no authentication name, unknown
///   client, unreadable / expired / not-yet-valid / untrusted certificate, thumbprint or name
///   mismatch) → v5 0x86 Bad User Name or Password / v3.1.1 0x04;
/// - a known, correctly identified client that may not connect (disabled, session name owned by
///   another authentication name) → v5 0x87 Not authorized / v3.1.1 0x05;
/// - an Authentication Method other than `CUSTOM-JWT` / `OAUTH2-JWT`, or one the namespace does not
///   configure → v5 0x8C Bad authentication method (v3.1.1 has none; 0x05 if asked);
/// - a token that is missing, malformed, badly signed, from another issuer or for another audience,
///   expired or not yet valid → v5 0x86 Bad User Name or Password / v3.1.1 0x04, like a bad
///   certificate;
/// - too many sessions for one authentication name → v5 0x97 Quota exceeded / v3.1.1 0x05.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AuthFailure {
    /// v5 CONNECT carried an Authentication Method the namespace does not offer.
    #[error("authentication method {method:?} is not supported by this namespace (CUSTOM-JWT / OAUTH2-JWT when configured, else X.509 client certificates)")]
    AuthMethodNotSupported {
        /// The method named in CONNECT.
        method: String,
    },
    /// A JWT method: the token was not accepted.
    #[error("{method}: {problem}")]
    BadToken {
        /// `CUSTOM-JWT` or `OAUTH2-JWT`.
        method: String,
        /// What was wrong with the token.
        problem: super::TokenProblem,
    },
    /// No client certificate was presented (e.g. plain TCP).
    #[error("no client certificate presented{}", .authentication_name.as_ref().map(|n| format!(" (username {n:?})")).unwrap_or_default())]
    NoCertificate {
        /// The username, if any.
        authentication_name: Option<String>,
    },
    /// No username, and no alternative authentication name source yielded a name.
    #[error("no username, and no certificate field of alternativeAuthenticationNameSources [{}] holds a name", sources.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "))]
    NoAuthenticationName {
        /// The configured sources, in order (empty = a username is required).
        sources: Vec<NameSource>,
    },
    /// No client has this authentication name (ignoring case).
    #[error("no client with authentication name {authentication_name:?}")]
    UnknownClient {
        /// The name looked up.
        authentication_name: String,
    },
    /// The client resource is Disabled.
    #[error("client {client} is disabled")]
    ClientDisabled {
        /// Client resource name.
        client: String,
    },
    /// The leaf certificate could not be parsed.
    #[error("client {client}: certificate cannot be parsed: {reason}")]
    BadCertificate {
        /// Client resource name (or the looked-up name if no client was found yet).
        client: String,
        /// Parser message.
        reason: String,
    },
    /// The leaf certificate's notAfter is before now.
    #[error("client {client}: certificate expired at {not_after}")]
    CertificateExpired {
        /// Client resource name.
        client: String,
        /// The certificate's notAfter.
        not_after: String,
    },
    /// The leaf certificate's notBefore is after now.
    #[error("client {client}: certificate not valid before {not_before}")]
    CertificateNotYetValid {
        /// Client resource name.
        client: String,
        /// The certificate's notBefore.
        not_before: String,
    },
    /// ThumbprintMatch: the SHA-256 of the leaf is not allowed.
    #[error("thumbprint {thumbprint} not in allowed thumbprints of client {client}")]
    ThumbprintMismatch {
        /// Client resource name.
        client: String,
        /// Lower-case hex SHA-256 of the presented leaf.
        thumbprint: String,
    },
    /// A chain scheme: the leaf does not chain to a namespace CA.
    #[error("client {client}: certificate does not chain to a namespace CA certificate: {reason}")]
    UntrustedCertificate {
        /// Client resource name.
        client: String,
        /// Why (webpki's error).
        reason: String,
    },
    /// A chain scheme: the chosen certificate field does not hold the authentication name.
    #[error("client {client}: {scheme} requires {field} {authentication_name:?}, certificate has [{}]", found.join(", "))]
    NameMismatch {
        /// Client resource name.
        client: String,
        /// ARM scheme name.
        scheme: String,
        /// The certificate field compared (e.g. `subject CN`, `SAN dNSName`).
        field: String,
        /// The registered authentication name.
        authentication_name: String,
        /// The values of that field in the certificate.
        found: Vec<String>,
    },
    /// The session name (ClientId) belongs to another authentication name (raised by the broker).
    #[error("session {session:?} is owned by authentication name {owner:?}")]
    SessionOwnedElsewhere {
        /// The ClientId.
        session: String,
        /// Its owner's authentication name.
        owner: String,
    },
    /// `maximumClientSessionsPerAuthenticationName` reached (raised by the broker).
    #[error("authentication name {authentication_name:?} already has {limit} session(s), the namespace maximum")]
    SessionLimit {
        /// The authentication name.
        authentication_name: String,
        /// The limit.
        limit: u32,
    },
}

impl AuthFailure {
    /// The v5 CONNACK reason code.
    pub fn v5_code(&self) -> u8 {
        match self {
            AuthFailure::AuthMethodNotSupported { .. } => 0x8C,
            AuthFailure::ClientDisabled { .. } | AuthFailure::SessionOwnedElsewhere { .. } => 0x87,
            AuthFailure::SessionLimit { .. } => 0x97,
            _ => 0x86,
        }
    }

    /// The v3.1.1 CONNACK return code.
    pub fn v311_code(&self) -> u8 {
        match self {
            AuthFailure::AuthMethodNotSupported { .. }
            | AuthFailure::ClientDisabled { .. }
            | AuthFailure::SessionOwnedElsewhere { .. }
            | AuthFailure::SessionLimit { .. } => 0x05,
            _ => 0x04,
        }
    }
}

/// Lower-case hex SHA-256 of a DER certificate (the thumbprint `step certificate fingerprint` prints).
pub fn thumbprint(der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_leaf<'a>(der: &'a [u8], who: &str) -> Result<X509Certificate<'a>, AuthFailure> {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, c)) => Ok(c),
        Err(e) => Err(AuthFailure::BadCertificate {
            client: who.to_string(),
            reason: e.to_string(),
        }),
    }
}

/// The values a certificate holds for one name source, in certificate order.
fn field_values(cert: &X509Certificate<'_>, source: NameSource) -> Vec<String> {
    if source == NameSource::ClientCertificateSubject {
        return cert
            .subject()
            .iter_common_name()
            .filter_map(|a| a.as_str().ok().map(str::to_string))
            .collect();
    }
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|g| match (source, g) {
            (NameSource::ClientCertificateDns, GeneralName::DNSName(s))
            | (NameSource::ClientCertificateUri, GeneralName::URI(s))
            | (NameSource::ClientCertificateEmail, GeneralName::RFC822Name(s)) => Some(s.to_string()),
            (NameSource::ClientCertificateIp, GeneralName::IPAddress(b)) => ip_from_bytes(b).map(|ip| ip.to_string()),
            _ => None,
        })
        .collect()
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

fn scheme_source(s: &Scheme) -> Option<(NameSource, &'static str)> {
    Some(match s {
        Scheme::Subject => (NameSource::ClientCertificateSubject, "subject CN"),
        Scheme::Dns => (NameSource::ClientCertificateDns, "SAN dNSName"),
        Scheme::Uri => (NameSource::ClientCertificateUri, "SAN URI"),
        Scheme::Ip => (NameSource::ClientCertificateIp, "SAN iPAddress"),
        Scheme::Email => (NameSource::ClientCertificateEmail, "SAN rfc822Name"),
        Scheme::Thumbprint(_) => return None,
    })
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

impl Namespace {
    /// Authenticates a CONNECT; on success returns the client's [`Principal`] with its groups.
    /// Session ownership and session counts are the broker's part (it knows the sessions); it
    /// reports them with [`AuthFailure::SessionOwnedElsewhere`] / [`AuthFailure::SessionLimit`].
    pub fn authenticate(&self, req: &AuthRequest<'_>) -> Result<Principal, AuthFailure> {
        if let Some(m) = req.auth_method {
            return self.authenticate_jwt(m, req.auth_data, req.now).map(|id| id.principal);
        }
        let username = req.username.filter(|u| !u.is_empty());
        let Some(leaf_der) = req.peer_certs.first() else {
            return Err(AuthFailure::NoCertificate {
                authentication_name: username.map(str::to_string),
            });
        };
        let name = match username {
            Some(u) => u.to_string(),
            None => {
                let sources = &self.settings.alternative_authentication_name_sources;
                let leaf = parse_leaf(leaf_der.as_ref(), "(no username)")?;
                sources
                    .iter()
                    .find_map(|s| field_values(&leaf, *s).into_iter().find(|v| !v.is_empty()))
                    .ok_or_else(|| AuthFailure::NoAuthenticationName {
                        sources: sources.clone(),
                    })?
            }
        };
        let client = self
            .client_by_authentication_name(&name)
            .ok_or(AuthFailure::UnknownClient {
                authentication_name: name.clone(),
            })?;
        if !client.enabled {
            return Err(AuthFailure::ClientDisabled {
                client: client.name.clone(),
            });
        }
        self.check_certificate(client, req)?;
        Ok(Principal {
            client_name: client.name.clone(),
            authentication_name: client.authentication_name.clone(),
            attributes: client.attributes.clone(),
            groups: self.groups_for(&client.authentication_name, &client.attributes),
            valid_until: None,
        })
    }

    fn check_certificate(&self, client: &Client, req: &AuthRequest<'_>) -> Result<(), AuthFailure> {
        let Some(leaf_der) = req.peer_certs.first() else {
            return Err(AuthFailure::NoCertificate {
                authentication_name: Some(client.authentication_name.clone()),
            });
        };
        let leaf = parse_leaf(leaf_der.as_ref(), &client.name)?;
        let now = unix_seconds(req.now);
        let validity = leaf.validity();
        if now < validity.not_before.timestamp() {
            return Err(AuthFailure::CertificateNotYetValid {
                client: client.name.clone(),
                not_before: validity.not_before.to_string(),
            });
        }
        if now > validity.not_after.timestamp() {
            return Err(AuthFailure::CertificateExpired {
                client: client.name.clone(),
                not_after: validity.not_after.to_string(),
            });
        }
        let Some((source, field)) = scheme_source(&client.scheme) else {
            let t = thumbprint(leaf_der.as_ref());
            return match &client.scheme {
                Scheme::Thumbprint(allowed) if allowed.iter().any(|a| a.eq_ignore_ascii_case(&t)) => Ok(()),
                _ => Err(AuthFailure::ThumbprintMismatch {
                    client: client.name.clone(),
                    thumbprint: t,
                }),
            };
        };
        self.verify_chain(client, req)?;
        let found = field_values(&leaf, source);
        let want = &client.authentication_name;
        let ok = match client.scheme {
            Scheme::Ip => {
                let want_ip = want.parse::<IpAddr>().ok();
                found
                    .iter()
                    .any(|f| f.parse::<IpAddr>().ok().is_some_and(|ip| Some(ip) == want_ip))
            }
            _ => found
                .iter()
                .any(|f| f == want || f.to_lowercase() == want.to_lowercase()),
        };
        if ok {
            Ok(())
        } else {
            Err(AuthFailure::NameMismatch {
                client: client.name.clone(),
                scheme: client.scheme.arm_name().to_string(),
                field: field.to_string(),
                authentication_name: want.clone(),
                found,
            })
        }
    }

    fn verify_chain(&self, client: &Client, req: &AuthRequest<'_>) -> Result<(), AuthFailure> {
        let untrusted = |reason: String| AuthFailure::UntrustedCertificate {
            client: client.name.clone(),
            reason,
        };
        if self.anchors.is_empty() {
            return Err(untrusted("the namespace has no caCertificates".into()));
        }
        let Some((leaf, intermediates)) = req.peer_certs.split_first() else {
            return Err(AuthFailure::NoCertificate {
                authentication_name: Some(client.authentication_name.clone()),
            });
        };
        let ee = webpki::EndEntityCert::try_from(leaf).map_err(|e| untrusted(format!("leaf: {e}")))?;
        let secs = u64::try_from(unix_seconds(req.now)).unwrap_or(0);
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            intermediates,
            time,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| untrusted(e.to_string()))
    }
}
