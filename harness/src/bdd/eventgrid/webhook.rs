//! Steps about Event Grid **custom webhook authentication**: the scenario's authentication webhook
//! ([`crate::webhook_server`], on loopback) is configured by the steps (allow list with
//! authentication names and attributes, deny list, delay, failure mode, down, expiration), the
//! scenario's reference broker is given a namespace whose `webHookAuthentication.endpointUrl` is
//! that webhook, and the webhook's recorded requests are checked against what the client sent.
//! A real namespace calls the user's own webhook, so these scenarios are `@reference-only`.

use super::{own_target, scenario_pki};
use crate::bdd::expectations::simple;
use crate::bdd::LwtWorld;
use crate::sensor::ServerClose;
use crate::webhook_server::{AllowRule, Failure, WebhookRules, WebhookServer};
use base64::Engine;
use bytes::Bytes;
use cucumber::gherkin::Step;
use cucumber::{given, then};
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

/// The scenario's webhook, started (allowing no one) on first use.
async fn webhook(w: &mut LwtWorld) -> &WebhookServer {
    if w.webhook.is_none() {
        let any = "127.0.0.1:0".parse().expect("a socket address");
        let server = WebhookServer::start(any, WebhookRules::default()).await.unwrap_or_else(|e| panic!("webhook: {e:#}"));
        w.webhook = Some(server);
    }
    w.webhook.as_ref().expect("started")
}

/// Allow list. Columns: `client` (matched as client id or username), `name` (the
/// `clientAuthenticationName` answered; default the client), `attributes` (`key=value, …`; an
/// int32 is a number, `a|b` an array).
#[given("an authentication webhook that allows:")]
async fn webhook_allows(w: &mut LwtWorld, step: &Step) {
    let table = step.table.as_ref().expect("a table of allowed clients");
    let header = &table.rows[0];
    let col = |row: &Vec<String>, name: &str| -> String {
        header.iter().position(|h| h.trim() == name).map(|i| row[i].trim().to_owned()).unwrap_or_default()
    };
    let mut rules = Vec::new();
    for row in &table.rows[1..] {
        let client = col(row, "client");
        let name = Some(col(row, "name")).filter(|n| !n.is_empty()).unwrap_or_else(|| client.clone());
        let attrs: String = col(row, "attributes").split(',').map(str::trim).collect::<Vec<_>>().join(",");
        let spec = format!("{client}={name}:{attrs}");
        rules.push(spec.parse::<AllowRule>().unwrap_or_else(|e| panic!("allow row {row:?}: {e:#}")));
    }
    webhook(w).await.update(|r| r.allow.extend(rules));
}

#[given(expr = "the webhook denies {string} because {string}")]
async fn webhook_denies(w: &mut LwtWorld, who: String, why: String) {
    webhook(w).await.update(|r| r.deny.push((who, why)));
}

/// Its allow answer for `who` carries an `expiration` `secs` ahead of the answer (whole Unix
/// seconds, so the connection ends between `secs - 1` and `secs` seconds after CONNECT).
#[given(expr = "the webhook lets {string} in for {int} second(s)")]
async fn webhook_expires(w: &mut LwtWorld, who: String, secs: u64) {
    webhook(w).await.update(|r| {
        let rule = r.allow.iter_mut().find(|a| a.who == who).unwrap_or_else(|| panic!("{who:?} is not on the allow list"));
        rule.expires_in = Some(Duration::from_secs(secs));
    });
}

#[given(expr = "the webhook answers after {int} ms")]
async fn webhook_delay(w: &mut LwtWorld, ms: u64) {
    webhook(w).await.update(|r| r.delay = Duration::from_millis(ms));
}

/// `500` (HTTP 500), `malformed` (a 200 whose body is not JSON) or `close` (no answer).
#[given(expr = "the webhook fails with {word}")]
async fn webhook_fails(w: &mut LwtWorld, mode: String) {
    let failure: Failure = mode.parse().unwrap_or_else(|e| panic!("{e:#}"));
    webhook(w).await.update(|r| r.failure = Some(failure));
}

/// Stops the webhook: its port refuses connections from now on.
#[given("the webhook is down")]
fn webhook_down(w: &mut LwtWorld) {
    assert!(w.webhook.take().is_some(), "start the webhook and the namespace before taking it down");
}

/// The namespace file, with `<webhook>` standing for the scenario webhook's URL (otherwise as
/// `an Event Grid namespace with:`).
#[given("an Event Grid namespace using the webhook with:")]
async fn namespace_with_webhook(w: &mut LwtWorld, step: &Step) {
    let yaml = step.docstring.as_ref().expect("the namespace YAML as a docstring").clone();
    let url = webhook(w).await.url();
    let spec = scenario_pki(w).namespace_target(&yaml.replace("<webhook>", &url)).unwrap_or_else(|e| panic!("namespace: {e:#}"));
    own_target(w, spec).await;
}

#[given(expr = "{string} uses password {string}")]
fn uses_password(w: &mut LwtWorld, name: String, password: String) {
    w.spec_mut(&name).password = Some(Bytes::from(password.into_bytes()));
}

/// The webhook got a request for `name`'s CONNECT carrying its client id, its username (or none)
/// and its password in base64 (or none), as the documented request says.
#[then(expr = "the webhook was asked about {string} with its client id, username and password")]
async fn webhook_asked(w: &mut LwtWorld, name: String) {
    let id = w.client_id(&name);
    let spec = w.spec_mut(&name).clone();
    let b64 = |p: &Bytes| base64::engine::general_purpose::STANDARD.encode(p);
    let want_user = spec.username.clone().map_or(Value::Null, Value::String);
    let want_password = spec.password.as_ref().map_or(Value::Null, |p| Value::String(b64(p)));
    let expected = format!("a request with clientId {id:?}, userName {want_user}, password {want_password} (base64)");
    let Some(hook) = w.webhook.as_ref() else { w.setup_error("the scenario's webhook", "no webhook is running") };
    let requests = hook.requests();
    let mine = requests.iter().rev().find(|r| r["clientId"] == id.as_str());
    let field = |r: &Value, k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    let ok = mine.is_some_and(|r| field(r, "userName") == want_user && field(r, "password") == want_password);
    let observed = match mine {
        Some(r) => r.to_string(),
        None => format!("no request for {id:?} among {} request(s)", requests.len()),
    };
    let v = simple(w, expected, ok, observed);
    w.judge(v);
}

/// The broker ends `name`'s live connection when the webhook's expiration passes (within `secs`
/// seconds from now), with DISCONNECT `code`. That instant is the scenario's fault, so the will
/// expectations that follow count from it.
#[then(expr = "the broker ends the connection of {string} with DISCONNECT {word} within {int} second(s)")]
async fn ends_at_expiry(w: &mut LwtWorld, name: String, code: String, secs: u64) {
    let want = crate::bdd::clients::parse_code(&code);
    let start = Instant::now();
    w.last_fault = Some((name.clone(), start, start));
    let Some(live) = w.sensor(&name).live.as_mut() else { w.setup_error("a live connection", format!("{name} is not connected")) };
    let got = live.await_server_close(Duration::from_secs(secs)).await;
    let took = start.elapsed();
    let observed = format!("{got:?} after {:.3} s", took.as_secs_f64());
    let v = simple(w, format!("DISCONNECT {want:#04x}, then the close, within {secs} s"), got == ServerClose::Disconnect(want), observed);
    w.judge(v);
}
