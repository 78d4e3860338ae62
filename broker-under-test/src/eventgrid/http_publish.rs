//! Event Grid **HTTP Publish** (preview): `POST /mqtt/messages?topic=…&api-version=…` on a loopback
//! address (`--bind-http-publish`, [`crate::Listeners::http_publish`]), served by hyper 1 (HTTP/1.1,
//! plain `http://`: the emulator's stand-in for the namespace's HTTPS host).
//!
//! A request's way: the caller is authenticated by its `Authorization: Bearer` token through a
//! [`BearerAuth`] (Event Grid takes a Microsoft Entra token; the emulator takes whatever validator
//! is wired into [`crate::Config::bearer_auth`], else the namespace's JWT issuers — with neither,
//! every request is refused 401, never let through); the request is read into an MQTT message ([`super::http_request`], 400 naming the
//! problem); it must fit the broker's Maximum Packet Size (413); the caller's principal must have a
//! Publisher binding whose topic space matches the topic, exactly as an MQTT PUBLISH by that client
//! ([`super::Namespace::may_publish`], 403); then [`crate::core::Event::HttpPublish`] hands it to the
//! core, which routes it as a CloudEvent (when `routing:` is set) and delivers it to subscribers.
//! The answer is 204 No Content once the core has taken the message (QoS 0 and QoS 1 alike: the
//! core has queued it for every matching session, the point at which an MQTT PUBLISH gets its
//! PUBACK; over a durable store, once the batch is committed, as a PUBACK); 500 if the core does
//! not answer. Error bodies are Azure-style JSON
//! `{"error":{"code":…,"message":…}}`. Choices: `fixtures/namespaces/README.md`, "HTTP Publish".

use super::http_request::{self, HttpMessage};
use super::Principal;
use crate::codec::{Packet, ProtocolVersion, Publish};
use crate::core::Event;
use crate::store::Message;
use crate::Config;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info};

/// The request path.
pub const PATH: &str = "/mqtt/messages";
/// How long a request may take to send its headers, and then its body.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the core may take to take a message.
const CORE_TIMEOUT: Duration = Duration::from_secs(5);

/// Validates an HTTP Publish caller's bearer token and says who it is. Event Grid validates a
/// Microsoft Entra token and checks the RBAC role; the emulator delegates to this trait so a JWT
/// validator (or a test's fixed tokens) can be wired in without the server knowing how.
pub trait BearerAuth: Send + Sync {
    /// The principal `token` stands for (with its groups, as authorization needs them), or why
    /// the token is refused (the 401's text).
    fn principal(&self, token: &str) -> Result<Principal, String>;
}

/// The bearer-token validator of [`Config::bearer_auth`] (compared by identity, so `Config` stays
/// `PartialEq`); `None` = the namespace's JWT issuers validate tokens, and without any HTTP Publish
/// refuses every request with 401.
#[derive(Clone, Default)]
pub struct BearerAuthRef(pub Option<Arc<dyn BearerAuth>>);

impl fmt::Debug for BearerAuthRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "BearerAuthRef(set)" } else { "BearerAuthRef(none)" })
    }
}

impl PartialEq for BearerAuthRef {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// What every request handler shares.
struct Server {
    cfg: Arc<Config>,
    core: mpsc::Sender<Event>,
}

/// Checks that `addr` may serve HTTP Publish: a loopback address (plain HTTP carries bearer
/// tokens, so the emulator never offers it beyond this machine) on a broker with a namespace.
pub fn check_bind(addr: SocketAddr, cfg: &Config) -> anyhow::Result<()> {
    anyhow::ensure!(cfg.namespace.get().is_some(), "HTTP Publish (--bind-http-publish) needs an Event Grid namespace (--namespace)");
    anyhow::ensure!(
        addr.ip().is_loopback(),
        "HTTP Publish serves plain http:// with bearer tokens, so it listens on loopback only (got {addr})"
    );
    Ok(())
}

/// Serves HTTP Publish on `listener` until `stop` turns true; each connection on a task of its own.
pub async fn run(listener: TcpListener, cfg: Arc<Config>, core: mpsc::Sender<Event>, mut stop: watch::Receiver<bool>) {
    let server = Arc::new(Server { cfg, core });
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    debug!("HTTP Publish accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let server = server.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let server = server.clone();
            async move { Ok::<_, Infallible>(server.handle(req, peer).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(READ_TIMEOUT)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(%peer, "HTTP Publish connection ended: {e}");
            }
        });
    }
}

/// An answer: 204, or an error with an Azure-style JSON body.
fn answer(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = if status == StatusCode::NO_CONTENT {
        Bytes::new()
    } else {
        let code = status.canonical_reason().unwrap_or("Error").replace(' ', "");
        Bytes::from(serde_json::json!({ "error": { "code": code, "message": message } }).to_string())
    };
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    if status != StatusCode::NO_CONTENT {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::http::HeaderValue::from_static("application/json"));
    }
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(hyper::header::WWW_AUTHENTICATE, hyper::http::HeaderValue::from_static("Bearer"));
    }
    r
}

impl Server {
    /// One request, answered; never panics on what the caller sent.
    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        match self.publish(req).await {
            Ok(topic) => {
                debug!(%peer, %topic, "HTTP Publish accepted");
                answer(StatusCode::NO_CONTENT, "")
            }
            Err((status, why)) => {
                info!(%peer, status = status.as_u16(), "HTTP Publish refused: {why}");
                answer(status, &why)
            }
        }
    }

    /// Authenticates, reads, checks, authorizes and hands over one request; gives its topic.
    async fn publish(&self, req: Request<Incoming>) -> Result<String, (StatusCode, String)> {
        if req.uri().path() != PATH {
            return Err((StatusCode::NOT_FOUND, format!("no such resource {:?}: HTTP Publish is POST {PATH}", req.uri().path())));
        }
        if req.method() != Method::POST {
            return Err((StatusCode::METHOD_NOT_ALLOWED, format!("{} {PATH}: only POST is supported", req.method())));
        }
        let who = Arc::new(self.authenticate(&req).map_err(|why| (StatusCode::UNAUTHORIZED, why))?);
        let (parts, body) = req.into_parts();
        let max = self.cfg.max_packet_size as usize;
        let payload = match tokio::time::timeout(READ_TIMEOUT, Limited::new(body, max).collect()).await {
            Err(_) => return Err((StatusCode::REQUEST_TIMEOUT, "the body did not arrive in time".into())),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return Err((StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than the Maximum Packet Size ({max} bytes)")))
            }
            Ok(Err(e)) => return Err((StatusCode::BAD_REQUEST, format!("cannot read the body: {e}"))),
            Ok(Ok(b)) => b.to_bytes(),
        };
        let m = http_request::read(parts.uri.query(), &parts.headers, payload).map_err(|why| (StatusCode::BAD_REQUEST, why))?;
        self.check(&m, &who)?;
        let topic = m.topic.clone();
        let message = Message {
            topic: m.topic,
            payload: m.payload,
            qos: m.qos,
            retain: m.retain,
            properties: m.properties,
            expires_at: None,
            publisher: None,
        };
        let (done, taken) = oneshot::channel();
        let unavailable = || (StatusCode::INTERNAL_SERVER_ERROR, "the broker did not take the message".to_owned());
        self.core.send(Event::HttpPublish { message, publisher: who, done }).await.map_err(|_| unavailable())?;
        match tokio::time::timeout(CORE_TIMEOUT, taken).await {
            Ok(Ok(_matched)) => Ok(topic),
            _ => Err(unavailable()),
        }
    }

    /// The caller's principal, from `Authorization: Bearer <token>` and the wired validator, else
    /// the namespace's JWT issuers (`customJwtAuthentication` / `entraJwtAuthentication`: the same
    /// checks and principal as an MQTT CONNECT with that token).
    fn authenticate(&self, req: &Request<Incoming>) -> Result<Principal, String> {
        let ns = self.cfg.namespace.get();
        let namespace_jwt = ns.filter(|ns| ns.jwt_authentication().custom.is_some() || ns.jwt_authentication().entra.is_some());
        if self.cfg.bearer_auth.0.is_none() && namespace_jwt.is_none() {
            return Err("HTTP Publish has no bearer-token validator (the namespace configures no JWT issuer), so every request is refused".into());
        }
        let value = req.headers().get(hyper::header::AUTHORIZATION).ok_or("missing Authorization: Bearer <token> header")?;
        let value = value.to_str().map_err(|_| "the Authorization header is not visible ASCII")?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => token.trim(),
            _ => return Err("the Authorization header must be `Bearer <token>`".into()),
        };
        let who = match (&self.cfg.bearer_auth.0, namespace_jwt) {
            (Some(auth), _) => auth.principal(token),
            (None, Some(ns)) => super::jwt::bearer_principal(ns, token, std::time::SystemTime::now()).map_err(|f| f.to_string()),
            (None, None) => unreachable!("checked above"),
        };
        who.map_err(|why| format!("bearer token refused: {why}"))
    }

    /// Size (413), QoS and retain against the broker's limits (400), and the topic like an MQTT
    /// PUBLISH's (403: invalid, reserved, over Event Grid's limits, or not allowed for `who`).
    fn check(&self, m: &HttpMessage, who: &Principal) -> Result<(), (StatusCode, String)> {
        let cfg = &self.cfg;
        let mut p = Publish::new(m.topic.clone(), m.payload.clone());
        (p.qos, p.retain, p.properties) = (m.qos, m.retain, m.properties.clone());
        p.packet_id = (m.qos != crate::codec::QoS::AtMostOnce).then_some(1);
        let size = Packet::Publish(p).to_bytes(ProtocolVersion::V5).len();
        if size > cfg.max_packet_size as usize {
            let msg = format!("the message would be a {size}-byte PUBLISH, over the Maximum Packet Size ({} bytes)", cfg.max_packet_size);
            return Err((StatusCode::PAYLOAD_TOO_LARGE, msg));
        }
        if m.qos > cfg.max_qos() {
            return Err((StatusCode::BAD_REQUEST, format!("mqtt-qos {} is above the broker's maximum QoS", m.qos as u8)));
        }
        if m.retain && !cfg.retain_available {
            return Err((StatusCode::BAD_REQUEST, "mqtt-retain 1 but retain is not available".into()));
        }
        let forbidden = |why: String| (StatusCode::FORBIDDEN, why);
        if !cfg.topic_within_limits(&m.topic) {
            return Err(forbidden(format!("topic {:?} is longer or deeper than allowed", m.topic)));
        }
        if m.topic.starts_with('$') && !cfg.allow_dollar_topic_publish {
            return Err(forbidden(format!("topic {:?} is reserved (topics starting with $)", m.topic)));
        }
        let ns = cfg.namespace.get().ok_or_else(|| forbidden("no namespace".into()))?;
        ns.may_publish(who, &m.topic).map_err(|denied| {
            info!(client = %who.client_name, topic = %m.topic, "HTTP Publish not authorized: {denied}");
            forbidden(super::client_reason(ns.settings(), crate::codec::reason::NOT_AUTHORIZED, &format!("publish not authorized: {denied}")))
        })
    }
}

impl super::Namespace {
    /// The principal of the enabled client registered under `authentication_name` (ignoring
    /// case), with its groups: for [`BearerAuth`] validators whose tokens name a namespace client.
    pub fn registered_principal(&self, authentication_name: &str) -> Option<Principal> {
        let c = self.client_by_authentication_name(authentication_name).filter(|c| c.enabled)?;
        Some(Principal {
            client_name: c.name.clone(),
            authentication_name: c.authentication_name.clone(),
            attributes: c.attributes.clone(),
            groups: self.groups_for(&c.authentication_name, &c.attributes),
            valid_until: None,
        })
    }
}
