//! Event Grid **custom webhook authentication**: the namespace names an HTTP endpoint
//! (`webHookAuthentication.endpointUrl`), and for a CONNECT the registry does not authenticate the
//! broker POSTs the documented JSON and applies the answer: allow (with the authentication name,
//! attributes and expiration the webhook gives) or deny.
//!
//! Data flow: [`routes_to_webhook`] (which CONNECTs) → [`WebhookRequest::new`] (CONNECT and TLS
//! peer → JSON) → `post` (the HTTP call) → [`response::parse`] (JSON → [`Verdict`]) →
//! [`authenticate`] (→ [`Principal`] with its groups, plus the expiry). It runs in the
//! connection's own task, so a slow webhook holds up only that client, never the core.
//!
//! Documented (learn.microsoft.com "Authenticate with the MQTT broker by using custom webhook
//! authentication", 2026): the request fields and base64/PEM encodings; `decision` allow/deny,
//! `clientAuthenticationName` required on allow, `attributes` (int32, string, array of strings),
//! `expiration` (Unix seconds), `errorReason`; deny → "Not authorized"; timeout, crash, platform
//! or broker failure → "Server unavailable". Choices where the docs leave room:
//! - The endpoint: `https://` (rustls with ring; Mozilla's roots, or `caCertificateFile`'s) or
//!   `http://` for local webhooks.
//! - Routing: with `webHookAuthentication` set, a CONNECT goes to the webhook unless its v5
//!   Authentication Method is a JWT one ([`JWT_METHODS`], authenticated by the namespace itself),
//!   or its username names a registered client (ignoring case; X.509 as before), or it has no
//!   username but a certificate and the namespace has `alternativeAuthenticationNameSources`.
//! - Codes: deny and an `expiration` already past → v5 0x87 / v3.1.1 0x05; no answer within
//!   `timeoutMs`, connection refused, a non-2xx status, a body that is not the documented JSON
//!   (or over 64 KiB) → v5 0x88 Server unavailable / v3.1.1 0x03. The log line names the problem;
//!   the client's Reason String is terse unless the namespace sets `diagnostics: true`.
//! - The principal's `client_name` is the authentication name (no client resource exists).
//! - Expiration: the broker ends the connection at that instant with v5 DISCONNECT 0xA0 Maximum
//!   connect time (3.1.1: a plain close). It is not a normal DISCONNECT, so the will follows the
//!   usual rules (published, after its delay); life-cycle reason `ClientAuthenticationError`.
//! - The HTTP call: one process-wide `ureq` agent run on tokio's blocking pool, bounded by
//!   `timeoutMs` twice (ureq's global timeout, and a tokio timeout around the task); a fresh
//!   connection per call (no idle pool: a POST is not retried, so a pooled connection the webhook
//!   had closed would refuse a client for nothing); `Content-Type: application/json`; no
//!   `Authorization` header (no Entra ID offline); no retries; any 2xx status with the JSON body
//!   counts.
//! - User properties: the docs' request has no field for them; the emulator adds
//!   `userProperties` (array of one-key objects) when the CONNECT has some. With the `eventgrid`
//!   limits such a CONNECT is refused before authentication, as Event Grid documents.

mod request;
mod response;

pub use request::WebhookRequest;
pub use response::{parse as parse_response, Grant, Verdict};

use super::namespace::WebhookAuthentication;
use super::{Namespace, Principal};
use crate::codec::{reason, Connect};
use rustls_pki_types::CertificateDer;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::info;

/// Authentication Methods the namespace authenticates itself (JWT), never sent to the webhook.
pub const JWT_METHODS: [&str; 2] = ["OAUTH2-JWT", "CUSTOM-JWT"];

/// The largest answer read; a longer one is malformed (an answer is a few hundred bytes).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// The webhook that authenticates this CONNECT, if the namespace routes it there (see the module
/// documentation's routing rule).
pub fn routes_to_webhook<'a>(
    ns: &'a Namespace,
    connect: &Connect,
    certs: &[CertificateDer<'static>],
) -> Option<&'a WebhookAuthentication> {
    let hook = ns.webhook_authentication()?;
    let method = connect.properties.authentication_method();
    if method.is_some_and(|m| JWT_METHODS.contains(&m.as_str())) {
        return None;
    }
    let registered = match connect.username.as_deref().filter(|u| !u.is_empty()) {
        Some(name) => ns.client_by_authentication_name(name).is_some(),
        None => !certs.is_empty() && !ns.settings().alternative_authentication_name_sources.is_empty(),
    };
    (!registered).then_some(hook)
}

/// Why webhook authentication refused a CONNECT. Display = the log line's reason.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WebhookFailure {
    /// Connection refused, host not found, the connection closed without an answer, ….
    #[error("webhook {url} failed: {reason}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// No whole answer within `timeoutMs`.
    #[error("webhook {url} did not answer within {} ms", .after.as_millis())]
    Timeout {
        /// The endpoint.
        url: String,
        /// The limit.
        after: Duration,
    },
    /// A status other than 2xx.
    #[error("webhook {url} answered HTTP {status}")]
    Status {
        /// The endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// A 2xx answer that is not the documented JSON.
    #[error("webhook {url} answered malformed: {reason}")]
    Malformed {
        /// The endpoint.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `"decision": "deny"`.
    #[error("webhook denied the client{}", .reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Denied {
        /// Its `errorReason`, if any.
        reason: Option<String>,
    },
    /// An allow whose `expiration` is not in the future.
    #[error("webhook allowed {authentication_name:?} until {expiration} (Unix seconds), which has passed")]
    Expired {
        /// The authentication name it gave.
        authentication_name: String,
        /// Its `expiration`.
        expiration: i64,
    },
}

impl WebhookFailure {
    /// The v5 CONNACK reason code: 0x87 for a decision, 0x88 when the webhook could not give one.
    pub fn v5_code(&self) -> u8 {
        match self {
            WebhookFailure::Denied { .. } | WebhookFailure::Expired { .. } => reason::NOT_AUTHORIZED,
            _ => reason::SERVER_UNAVAILABLE,
        }
    }

    /// The v3.1.1 CONNACK return code: 0x05 / 0x03 likewise.
    pub fn v311_code(&self) -> u8 {
        match self {
            WebhookFailure::Denied { .. } | WebhookFailure::Expired { .. } => reason::v311::NOT_AUTHORIZED,
            _ => reason::v311::SERVER_UNAVAILABLE,
        }
    }
}

/// A client the webhook let in.
#[derive(Clone, Debug, PartialEq)]
pub struct Admission {
    /// Who it is for authorization (groups resolved from the webhook's attributes).
    pub principal: Principal,
    /// When the broker ends the connection, if the webhook set an `expiration`.
    pub expires_at: Option<SystemTime>,
}

/// Asks `hook` about `connect` (whose TLS peer presented `certs`) and applies the answer.
pub async fn authenticate(
    ns: &Namespace,
    hook: &WebhookAuthentication,
    connect: &Connect,
    certs: &[CertificateDer<'static>],
) -> Result<Admission, WebhookFailure> {
    let body = serde_json::to_vec(&WebhookRequest::new(connect, certs)).expect("a request always serializes");
    let answer = post(hook, body).await?;
    let malformed = |reason| WebhookFailure::Malformed { url: hook.endpoint_url.clone(), reason };
    let grant = match response::parse(&answer).map_err(malformed)? {
        Verdict::Deny(reason) => return Err(WebhookFailure::Denied { reason }),
        Verdict::Allow(g) => g,
    };
    if !grant.ignored.is_empty() {
        info!(client = %connect.client_id, "webhook attributes left out: {}", grant.ignored.join(", "));
    }
    let expires_at = match grant.expiration {
        None => None,
        Some(secs) => {
            let at = u64::try_from(secs).ok().map(|s| UNIX_EPOCH + Duration::from_secs(s));
            match at.filter(|at| *at > SystemTime::now()) {
                Some(at) => Some(at),
                None => {
                    return Err(WebhookFailure::Expired { authentication_name: grant.authentication_name, expiration: secs })
                }
            }
        }
    };
    let groups = ns.groups_for(&grant.authentication_name, &grant.attributes);
    let principal = Principal {
        client_name: grant.authentication_name.clone(),
        authentication_name: grant.authentication_name,
        attributes: grant.attributes,
        groups,
        // The core's token timer ends the connection then, as at a JWT's `exp`.
        valid_until: expires_at,
    };
    Ok(Admission { principal, expires_at })
}

/// The process's HTTP client for webhook calls (statuses are read, not turned into errors; no
/// idle connections kept, see the module documentation).
fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into()
    })
}

/// POSTs `body` to the hook on the blocking pool; the 2xx answer's body.
async fn post(hook: &WebhookAuthentication, body: Vec<u8>) -> Result<Vec<u8>, WebhookFailure> {
    let (url, timeout, roots) = (hook.endpoint_url.clone(), hook.timeout, hook.ca_certificates.clone());
    let task = tokio::task::spawn_blocking(move || post_blocking(&url, timeout, &roots, &body));
    // ureq's own limit ends the call; this one only guards against a call that overstays it.
    match tokio::time::timeout(timeout + Duration::from_millis(250), task).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(WebhookFailure::Unreachable { url: hook.endpoint_url.clone(), reason: format!("the call's task failed: {e}") }),
        Err(_) => Err(WebhookFailure::Timeout { url: hook.endpoint_url.clone(), after: timeout }),
    }
}

/// The call itself; `roots` (DER) replace Mozilla's roots for an `https://` endpoint when given.
fn post_blocking(
    url: &str,
    timeout: Duration,
    roots: &[CertificateDer<'static>],
    body: &[u8],
) -> Result<Vec<u8>, WebhookFailure> {
    let failed = |e: ureq::Error| match e {
        ureq::Error::Timeout(_) => WebhookFailure::Timeout { url: url.to_owned(), after: timeout },
        ureq::Error::BodyExceedsLimit(n) => {
            WebhookFailure::Malformed { url: url.to_owned(), reason: format!("the answer is longer than {n} bytes") }
        }
        other => WebhookFailure::Unreachable { url: url.to_owned(), reason: other.to_string() },
    };
    let mut config = agent().post(url).header("Content-Type", "application/json").config().timeout_global(Some(timeout));
    if !roots.is_empty() {
        let certs: Vec<_> = roots.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()).collect();
        config = config.tls_config(ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&certs)).build());
    }
    let mut answer = config.build().send(body).map_err(failed)?;
    let status = answer.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(WebhookFailure::Status { url: url.to_owned(), status });
    }
    answer.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_vec().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Properties, Property, ProtocolVersion};

    fn ns() -> Namespace {
        Namespace::parse(
            "name: hooked\nsettings: { diagnostics: true }\nwebHookAuthentication: { endpointUrl: 'http://127.0.0.1:9/' }\n\
             clients:\n  - name: registered\n    clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: ['{}'] }\n"
                .replace("{}", &"ab".repeat(32))
                .as_str(),
            "ns.yaml",
        )
        .unwrap()
    }

    #[test]
    fn routing_keeps_registered_clients_and_jwt_off_the_webhook() {
        let ns = ns();
        let mut c = Connect::new(ProtocolVersion::V5, "s1");
        assert!(routes_to_webhook(&ns, &c, &[]).is_some(), "no username, no certificate");
        c.username = Some("REGISTERED".into());
        assert!(routes_to_webhook(&ns, &c, &[]).is_none(), "a registered client (case ignored)");
        c.username = Some("sensor1".into());
        assert!(routes_to_webhook(&ns, &c, &[]).is_some());
        c.properties = Properties::new().with(Property::AuthenticationMethod("CUSTOM-JWT".into()));
        assert!(routes_to_webhook(&ns, &c, &[]).is_none(), "JWT is the namespace's own");
        c.properties = Properties::new().with(Property::AuthenticationMethod("SAS".into()));
        assert!(routes_to_webhook(&ns, &c, &[]).is_some(), "other methods are the webhook's");
        let plain = Namespace::parse("name: plain\n", "ns.yaml").unwrap();
        assert!(routes_to_webhook(&plain, &Connect::new(ProtocolVersion::V5, "x"), &[]).is_none());
    }

    #[test]
    fn codes_follow_the_docs_table() {
        let url = String::from("http://h/");
        let cases = [
            (WebhookFailure::Denied { reason: None }, 0x87, 0x05),
            (WebhookFailure::Expired { authentication_name: "a".into(), expiration: 1 }, 0x87, 0x05),
            (WebhookFailure::Timeout { url: url.clone(), after: Duration::from_secs(1) }, 0x88, 0x03),
            (WebhookFailure::Status { url: url.clone(), status: 500 }, 0x88, 0x03),
            (WebhookFailure::Malformed { url: url.clone(), reason: "x".into() }, 0x88, 0x03),
            (WebhookFailure::Unreachable { url, reason: "refused".into() }, 0x88, 0x03),
        ];
        for (f, v5, v311) in cases {
            assert_eq!((f.v5_code(), f.v311_code()), (v5, v311), "{f}");
        }
        assert_eq!(WebhookFailure::Denied { reason: Some("bad token".into()) }.to_string(), "webhook denied the client: bad token");
    }
}
