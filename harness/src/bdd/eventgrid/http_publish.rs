//! Steps about Event Grid **HTTP Publish**: a caller posts a message to the scenario's own
//! reference broker (`POST /mqtt/messages?topic=…&api-version=…`, with ureq) under the bearer token
//! of a registered client, and the answer's status is judged; what reaches the actuators is judged
//! by the usual steps ("receives … within", "receives nothing … for", proven with a live probe).
//!
//! Event Grid takes Microsoft Entra tokens. The scenario's broker takes [`ScenarioTokens`]
//! instead: one random 128-bit token per registered client, minted when the broker is set up and
//! known only to this scenario, so a request is authenticated as that client and then authorized
//! like its MQTT PUBLISH. A real namespace would need an Entra token, so these scenarios are
//! `@reference-only`.

use crate::bdd::expectations::simple;
use crate::bdd::LwtWorld;
use crate::sensor::REPLY_TIMEOUT;
use crate::target::TargetSpec;
use cucumber::{given, then, when};
use lwt_broker::eventgrid::http_publish::{BearerAuth, BearerAuthRef};
use lwt_broker::eventgrid::{Namespace, Principal};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The documented `api-version` the steps send.
const API_VERSION: &str = "2025-02-15-preview";

/// One scenario's bearer tokens: a random token per registered client of its namespace.
pub struct ScenarioTokens {
    ns: Arc<Namespace>,
    /// Token → authentication name.
    by_token: HashMap<String, String>,
    /// Authentication name → token.
    by_name: HashMap<String, String>,
}

impl ScenarioTokens {
    /// Mints a token for every registered client of `ns`.
    pub fn mint(ns: Arc<Namespace>) -> anyhow::Result<ScenarioTokens> {
        use ring::rand::SecureRandom;
        let rng = ring::rand::SystemRandom::new();
        let (mut by_token, mut by_name) = (HashMap::new(), HashMap::new());
        for c in ns.clients() {
            let mut bytes = [0u8; 16];
            rng.fill(&mut bytes).map_err(|_| anyhow::anyhow!("no random numbers for bearer tokens"))?;
            let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            by_token.insert(token.clone(), c.authentication_name.clone());
            by_name.insert(c.authentication_name.clone(), token);
        }
        Ok(ScenarioTokens { ns, by_token, by_name })
    }

    /// The token of the client registered as `name`.
    pub fn token(&self, name: &str) -> Option<&str> {
        self.by_name.get(name).map(String::as_str)
    }
}

impl BearerAuth for ScenarioTokens {
    fn principal(&self, token: &str) -> Result<Principal, String> {
        let name = self.by_token.get(token).ok_or("not a token of this namespace")?;
        self.ns.registered_principal(name).ok_or_else(|| format!("client {name} is not an enabled client"))
    }
}

/// Wires fresh [`ScenarioTokens`] into an embedded broker with a namespace.
pub fn with_scenario_tokens(mut spec: TargetSpec) -> anyhow::Result<(TargetSpec, Arc<ScenarioTokens>)> {
    let TargetSpec::EmbeddedTls { config, .. } = &mut spec else { anyhow::bail!("HTTP Publish needs the embedded TLS broker") };
    let ns = config.namespace.0.clone().ok_or_else(|| anyhow::anyhow!("HTTP Publish needs a namespace"))?;
    let tokens = Arc::new(ScenarioTokens::mint(ns)?);
    config.bearer_auth = BearerAuthRef(Some(tokens.clone()));
    Ok((spec, tokens))
}

/// A scenario's HTTP Publish state: its broker's tokens and each caller's last answer.
#[derive(Default)]
pub struct HttpPublishState {
    /// The tokens of the scenario's own broker.
    pub tokens: Option<Arc<ScenarioTokens>>,
    /// Caller name → (status, body) of its last request.
    pub answers: BTreeMap<String, (u16, String)>,
}

/// The walkthrough namespace with HTTP Publish, served by this scenario's own reference broker.
#[given("the Event Grid walkthrough namespace with HTTP Publish")]
async fn walkthrough_http_publish(w: &mut LwtWorld) {
    let built = super::routing::walkthrough_with(|_| String::new());
    super::routing::own_walkthrough(w, built).await;
}

/// `caller` posts `payload` to `topic` with `mqtt-qos: qos` under its own bearer token.
#[when(expr = "{string} posts {string} to {string} over HTTP at QoS {int}")]
async fn posts(w: &mut LwtWorld, caller: String, payload: String, topic: String, qos: i32) {
    let Some(addr) = w.own_broker.as_ref().and_then(|t| t.http_publish_addr()) else {
        w.setup_error("an HTTP Publish endpoint (the walkthrough namespace with HTTP Publish)", "none");
    };
    let token = w.http_publish.tokens.as_ref().and_then(|t| t.token(&caller)).map(str::to_owned);
    let Some(token) = token else { w.setup_error(&format!("a bearer token for {caller}"), "not a registered client") };
    let topic = w.topic(&topic);
    let url = format!("http://{addr}/mqtt/messages?topic={}&api-version={API_VERSION}", percent(&topic));
    // What the actuators receive is timed from the request, as from a fault.
    let at = tokio::time::Instant::now();
    w.last_fault = Some((caller.clone(), at, at));
    let answer = tokio::task::spawn_blocking(move || post(&url, &token, qos, payload.into_bytes())).await;
    match answer {
        Ok(Ok(a)) => {
            w.http_publish.answers.insert(caller, a);
        }
        Ok(Err(e)) => w.setup_error("an answer to the HTTP Publish request", e),
        Err(e) => w.setup_error("an answer to the HTTP Publish request", e),
    }
}

/// `s` percent-encoded for a query value (everything but ASCII letters and digits).
fn percent(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// One request: (status, body); `Err` only when no answer came.
fn post(url: &str, token: &str, qos: i32, body: Vec<u8>) -> Result<(u16, String), String> {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(REPLY_TIMEOUT)).build().into();
    let mut resp = agent
        .post(url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("mqtt-qos", &qos.to_string())
        .send(&body[..])
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    Ok((status, resp.body_mut().read_to_string().unwrap_or_default()))
}

/// The last HTTP Publish of `caller` was answered with status `status`.
#[then(expr = "the HTTP Publish of {string} is answered {int}")]
async fn answered(w: &mut LwtWorld, caller: String, status: u16) {
    let (got, body) = w.http_publish.answers.get(&caller).cloned().unwrap_or_else(|| panic!("{caller} has posted nothing"));
    let observed = if body.is_empty() { format!("HTTP {got}") } else { format!("HTTP {got}: {body}") };
    let v = simple(w, format!("HTTP {status}"), got == status, observed);
    w.judge(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_percent_encoded() {
        assert_eq!(percent("clients/sensor1/status"), "clients%2Fsensor1%2Fstatus");
        assert_eq!(percent("a-b"), "a%2Db");
        assert_eq!(percent("a b+#é"), "a%20b%2B%23%C3%A9");
    }
}
