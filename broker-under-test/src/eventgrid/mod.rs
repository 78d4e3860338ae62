//! Offline emulation of the Azure Event Grid namespace MQTT access model: client registry,
//! X.509 authentication, client groups, topic spaces and permission bindings.
//!
//! The model is pure (no I/O beyond loading the namespace file): the broker calls
//! [`Namespace::authenticate`] at CONNECT and [`Namespace::may_publish`] /
//! [`Namespace::may_subscribe`] per packet. The YAML format is documented in
//! `fixtures/namespaces/README.md`; the semantics follow
//! `shared/reference/eventgrid-model.md` §1–4 and §8.

pub mod authn;
pub mod authz;
pub mod http_publish;
pub mod http_request;
pub mod jwt;
pub mod lifecycle;
pub mod namespace;
pub mod query;
pub mod routing;
pub mod sink;
pub mod template;
pub mod webhook;
pub mod webhook_authn;

pub use authn::{AuthFailure, AuthRequest};
pub use jwt::{bearer_principal, JwtIdentity, TokenProblem};
pub use namespace::{
    NameSource, Namespace, NamespaceError, Permission, Qos0Denied, RetainMode, Settings, SubscribeCoverage,
    V311PublishDenied, WillAuthorization, WillDelayOverMax,
};

use std::collections::BTreeMap;
use std::fmt;

/// Who a connected client is, as authorization sees it (fixed at CONNECT).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Principal {
    /// The client resource's name (`clients[].name`).
    pub client_name: String,
    /// The authentication name in its registered case (what templates substitute).
    pub authentication_name: String,
    /// The client's attributes, used by group queries and template variables.
    pub attributes: BTreeMap<String, AttrValue>,
    /// Every group whose query matched at CONNECT, in namespace order, then `$all`.
    pub groups: Vec<String>,
    /// Until when the credentials hold (a JWT's `exp` plus leeway): the broker ends the connection
    /// then unless the client re-authenticates. `None` = no end (certificates). Not persisted.
    #[serde(skip)]
    pub valid_until: Option<std::time::SystemTime>,
}

/// One client attribute value (ARM allows string, integer, bool and string array).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum AttrValue {
    /// A string.
    Str(String),
    /// A (long) integer; the only type `<`, `>`, `<=`, `>=` compare.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// An array of strings; queries and templates treat it as "any element".
    List(Vec<String>),
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Str(s) => write!(f, "{s:?}"),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::List(l) => write!(f, "{l:?}"),
        }
    }
}

/// The Reason String a client is sent for a refusal with `code`: `full` when the namespace asks
/// for [`Settings::diagnostics`], otherwise a terse text that names no registry fact (whether a
/// name exists, a client is disabled, which subject or thumbprint was expected, the client's
/// groups or topic spaces). The caller logs `full` either way.
pub fn client_reason(settings: &Settings, code: u8, full: &str) -> String {
    if settings.diagnostics {
        return full.to_owned();
    }
    use crate::codec::reason;
    match code {
        reason::BAD_USERNAME_OR_PASSWORD => "bad user name or password",
        reason::NOT_AUTHORIZED => "not authorized",
        reason::BAD_AUTHENTICATION_METHOD => "bad authentication method",
        reason::QUOTA_EXCEEDED => "quota exceeded",
        reason::SERVER_UNAVAILABLE => "server unavailable",
        _ => "request refused",
    }
    .to_owned()
}

/// Why authorization said no (goes into the broker's log and v5 reason strings).
#[derive(Clone, Debug, PartialEq)]
pub struct Denied {
    /// Human-readable explanation naming what was tried.
    pub reason: String,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Denied {}
