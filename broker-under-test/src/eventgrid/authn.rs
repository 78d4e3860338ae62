//! CONNECT authentication: username / certificate field → client resource → validation scheme.

use super::{Namespace, Principal};
use rustls_pki_types::CertificateDer;
use std::time::SystemTime;

/// What CONNECT and the TLS handshake tell authentication.
#[derive(Clone, Copy, Debug)]
pub struct AuthRequest<'a> {
    /// CONNECT User Name (the authentication name), if present.
    pub username: Option<&'a str>,
    /// CONNECT ClientId (the session name).
    pub client_id: &'a str,
    /// TLS peer certificates, leaf first; empty = no certificate (plain TCP).
    pub peer_certs: &'a [CertificateDer<'static>],
    /// The time certificate validity is checked against.
    pub now: SystemTime,
    /// v5 Authentication Method, if present.
    pub auth_method: Option<&'a str>,
}

/// Why authentication refused a CONNECT. Display = the reason for the log.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AuthFailure {
    /// Placeholder.
    #[error("todo")]
    Todo,
}

impl AuthFailure {
    /// The v5 CONNACK reason code.
    pub fn v5_code(&self) -> u8 {
        todo!()
    }
    /// The v3.1.1 CONNACK return code.
    pub fn v311_code(&self) -> u8 {
        todo!()
    }
}

impl Namespace {
    /// Authenticates a CONNECT; on success returns the client's [`Principal`] with its groups.
    pub fn authenticate(&self, req: &AuthRequest<'_>) -> Result<Principal, AuthFailure> {
        let _ = req;
        todo!()
    }
}
