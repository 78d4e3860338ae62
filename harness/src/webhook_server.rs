//! A small configurable **Event Grid authentication webhook** (custom webhook authentication),
//! for the feature tests and for anyone who points a namespace's `webHookAuthentication` at it:
//! it answers the documented request (`clientId`, `userName`, …) from an allow list, a deny list
//! and a failure mode, and records every request so a test can check what the broker sent.
//!
//! Data flow: hyper (HTTP/1.1, loopback) → the request body parsed as JSON and recorded →
//! [`WebhookRules::decide`] → the reply (after the configured delay): the documented allow / deny
//! JSON, or the failure asked for (HTTP 500, a body that is not JSON, a close without answer).
//! Rules can change while it runs ([`WebhookServer::set_rules`]), so one server serves a scenario.

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One allow-list entry: a client (by client id or username) and who the webhook says it is.
#[derive(Clone, Debug, PartialEq)]
pub struct AllowRule {
    /// Matched against the request's `clientId` and `userName`.
    pub who: String,
    /// The `clientAuthenticationName` answered.
    pub authentication_name: String,
    /// The `attributes` answered.
    pub attributes: Map<String, Value>,
    /// `expiration` = the answer's time plus this, if set.
    pub expires_in: Option<Duration>,
}

impl std::str::FromStr for AllowRule {
    type Err = anyhow::Error;

    /// `WHO[=NAME][:KEY=VALUE[,KEY=VALUE…]]`: NAME defaults to WHO; a VALUE that is an int32 is
    /// answered as a number, `a|b` as an array of strings, anything else as a string.
    fn from_str(s: &str) -> anyhow::Result<AllowRule> {
        let (head, attrs) = s.split_once(':').unwrap_or((s, ""));
        let (who, name) = head.split_once('=').unwrap_or((head, head));
        if who.is_empty() || name.is_empty() {
            bail!("{s:?}: expected WHO[=NAME][:KEY=VALUE,…] with a non-empty client id / username and name");
        }
        let mut attributes = Map::new();
        for pair in attrs.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').with_context(|| format!("{s:?}: attribute {pair:?} is not KEY=VALUE"))?;
            let value = match v.parse::<i32>() {
                Ok(i) => json!(i),
                Err(_) if v.contains('|') => json!(v.split('|').collect::<Vec<_>>()),
                Err(_) => json!(v),
            };
            attributes.insert(k.to_owned(), value);
        }
        Ok(AllowRule { who: who.to_owned(), authentication_name: name.to_owned(), attributes, expires_in: None })
    }
}

/// A way for the webhook to fail instead of deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Answer HTTP 500.
    Http500,
    /// Answer 200 with a body that is not JSON.
    MalformedJson,
    /// Close the connection without an answer.
    Close,
}

impl std::str::FromStr for Failure {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Failure> {
        Ok(match s {
            "500" | "http-500" => Failure::Http500,
            "malformed" | "malformed-json" => Failure::MalformedJson,
            "close" => Failure::Close,
            other => bail!("unknown failure {other:?} (use 500, malformed or close)"),
        })
    }
}

/// What the webhook answers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookRules {
    /// Clients to allow, first match wins.
    pub allow: Vec<AllowRule>,
    /// Clients to deny explicitly, with the `errorReason` (checked before the allow list).
    pub deny: Vec<(String, String)>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Fail this way instead of deciding.
    pub failure: Option<Failure>,
}

/// The reply to one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// This status and body.
    Http(u16, String),
    /// No answer: the connection is closed.
    Close,
}

impl WebhookRules {
    /// The reply to `request` at `now`: failure mode, then deny list, then allow list; anyone
    /// else is denied as "not on the allow list".
    pub fn decide(&self, request: &Value, now: SystemTime) -> Reply {
        match self.failure {
            Some(Failure::Http500) => return Reply::Http(500, "webhook failure (configured)".into()),
            Some(Failure::MalformedJson) => return Reply::Http(200, "{\"decision\": allow".into()),
            Some(Failure::Close) => return Reply::Close,
            None => {}
        }
        let is = |who: &str| request["clientId"] == who || request["userName"] == who;
        if let Some((_, why)) = self.deny.iter().find(|(who, _)| is(who)) {
            return Reply::Http(200, json!({"decision": "deny", "errorReason": why}).to_string());
        }
        let Some(rule) = self.allow.iter().find(|r| is(&r.who)) else {
            return Reply::Http(200, json!({"decision": "deny", "errorReason": "not on the allow list"}).to_string());
        };
        let mut answer = json!({
            "decision": "allow",
            "clientAuthenticationName": rule.authentication_name,
            "attributes": rule.attributes,
        });
        if let Some(d) = rule.expires_in {
            let at = now + d;
            answer["expiration"] = json!(at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0));
        }
        Reply::Http(200, answer.to_string())
    }
}

/// A running webhook on a loopback port; stops when dropped.
pub struct WebhookServer {
    addr: SocketAddr,
    rules: Arc<Mutex<WebhookRules>>,
    requests: Arc<Mutex<Vec<Value>>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for WebhookServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookServer").field("addr", &self.addr).finish()
    }
}

impl WebhookServer {
    /// Listens on `listen` (port 0 = a free one) and answers by `rules`.
    pub async fn start(listen: SocketAddr, rules: WebhookRules) -> anyhow::Result<WebhookServer> {
        let listener = TcpListener::bind(listen).await.with_context(|| format!("webhook: cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let rules = Arc::new(Mutex::new(rules));
        let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
        let task = tokio::spawn(accept_loop(listener, rules.clone(), requests.clone()));
        Ok(WebhookServer { addr, rules, requests, task })
    }

    /// The endpoint URL for `webHookAuthentication.endpointUrl`.
    pub fn url(&self) -> String {
        format!("http://{}/authenticate", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request body received so far (JSON; `null` for a body that was not JSON), in order.
    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().expect("requests lock").clone()
    }

    /// Replaces the rules for the requests that come next.
    pub fn set_rules(&self, rules: WebhookRules) {
        *self.rules.lock().expect("rules lock") = rules;
    }

    /// Changes the rules in place.
    pub fn update(&self, change: impl FnOnce(&mut WebhookRules)) {
        change(&mut self.rules.lock().expect("rules lock"));
    }
}

impl Drop for WebhookServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared<T> = Arc<Mutex<T>>;

/// Accepts and serves connections; the connections live in a `JoinSet` owned by this task, so
/// stopping the server (aborting it) also ends kept-alive connections: a stopped webhook is down.
async fn accept_loop(listener: TcpListener, rules: Shared<WebhookRules>, requests: Shared<Vec<Value>>) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        let (rules, requests) = (rules.clone(), requests.clone());
        let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            answer(req, rules.clone(), requests.clone())
        });
        let io = hyper_util::rt::TokioIo::new(stream);
        connections.spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Records the request and replies as the rules say; an `Err` makes hyper close the connection
/// without an answer (the `close` failure).
async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    rules: Shared<WebhookRules>,
    requests: Shared<Vec<Value>>,
) -> Result<hyper::Response<Full<Bytes>>, BoxError> {
    let body = req.into_body().collect().await?.to_bytes();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    requests.lock().expect("requests lock").push(request.clone());
    let current = rules.lock().expect("rules lock").clone();
    if !current.delay.is_zero() {
        tokio::time::sleep(current.delay).await;
    }
    match current.decide(&request, SystemTime::now()) {
        Reply::Close => Err("closing without an answer (configured)".into()),
        Reply::Http(status, text) => {
            let mut r = hyper::Response::new(Full::new(Bytes::from(text)));
            *r.status_mut() = hyper::StatusCode::from_u16(status)?;
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> WebhookRules {
        let mut sensor: AllowRule = "dev-7=sensor7:type=sensor,floor=3,tags=a|b".parse().unwrap();
        sensor.expires_in = Some(Duration::from_secs(60));
        WebhookRules {
            allow: vec![sensor, "actuator1".parse().unwrap()],
            deny: vec![("mallory".into(), "revoked".into())],
            ..WebhookRules::default()
        }
    }

    fn decided(r: &WebhookRules, request: Value) -> Value {
        match r.decide(&request, UNIX_EPOCH + Duration::from_secs(1000)) {
            Reply::Http(200, body) => serde_json::from_str(&body).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn allow_list_by_client_id_or_username() {
        let r = rules();
        assert_eq!(
            decided(&r, json!({"clientId": "dev-7"})),
            json!({"decision": "allow", "clientAuthenticationName": "sensor7",
                   "attributes": {"type": "sensor", "floor": 3, "tags": ["a", "b"]}, "expiration": 1060})
        );
        let a = decided(&r, json!({"clientId": "x", "userName": "actuator1"}));
        assert_eq!((a["decision"].as_str(), a["clientAuthenticationName"].as_str()), (Some("allow"), Some("actuator1")));
        assert!(a.get("expiration").is_none());
        assert_eq!(decided(&r, json!({"clientId": "mallory"})), json!({"decision": "deny", "errorReason": "revoked"}));
        assert_eq!(decided(&r, json!({"clientId": "eve"}))["errorReason"], "not on the allow list");
    }

    #[test]
    fn failure_modes_win_over_decisions() {
        let mut r = rules();
        r.failure = Some("500".parse().unwrap());
        assert!(matches!(r.decide(&json!({"clientId": "dev-7"}), SystemTime::now()), Reply::Http(500, _)));
        r.failure = Some("malformed".parse().unwrap());
        let Reply::Http(200, body) = r.decide(&json!({}), SystemTime::now()) else { panic!() };
        assert!(serde_json::from_str::<Value>(&body).is_err());
        r.failure = Some("close".parse().unwrap());
        assert_eq!(r.decide(&json!({}), SystemTime::now()), Reply::Close);
        assert!("sometimes".parse::<Failure>().is_err());
    }

    #[test]
    fn bad_allow_specs_say_what_is_expected() {
        for bad in ["", "=x", "a=", "a:k"] {
            assert!(bad.parse::<AllowRule>().is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn serves_and_records_over_http() {
        let server = WebhookServer::start("127.0.0.1:0".parse().unwrap(), rules()).await.unwrap();
        let url = server.url();
        let post = move |body: &'static str| {
            let url = url.clone();
            tokio::task::spawn_blocking(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                agent.post(&url).header("Content-Type", "application/json").send(body).map(|mut r| {
                    (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
                })
            })
        };
        let (status, body) = post(r#"{"clientId":"actuator1"}"#).await.unwrap().unwrap();
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["clientAuthenticationName"], "actuator1");
        server.update(|r| r.failure = Some(Failure::Close));
        assert!(post(r#"{"clientId":"actuator1"}"#).await.unwrap().is_err(), "closed without an answer");
        server.set_rules(WebhookRules { failure: Some(Failure::Http500), ..WebhookRules::default() });
        assert_eq!(post("{}").await.unwrap().unwrap().0, 500);
        assert_eq!(server.requests(), vec![json!({"clientId": "actuator1"}), json!({"clientId": "actuator1"}), json!({})]);
    }

    #[tokio::test]
    async fn a_stopped_server_is_down_even_for_kept_alive_connections() {
        let server = WebhookServer::start("127.0.0.1:0".parse().unwrap(), rules()).await.unwrap();
        let url = server.url();
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let post = move || {
            let (agent, url) = (agent.clone(), url.clone());
            tokio::task::spawn_blocking(move || agent.post(&url).send(r#"{"clientId":"actuator1"}"#).map(|r| r.status().as_u16()))
        };
        assert_eq!(post().await.unwrap().unwrap(), 200, "served (and the connection pooled by the agent)");
        drop(server);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(post().await.unwrap().is_err(), "nothing answers once the server is dropped");
    }
}
