//! Steps about Event Grid **custom JWT authentication** (`CUSTOM-JWT`): which token a client
//! presents (minted now by the identities folder's issuer, `jwt/issuer.key`, with the `iss` and
//! first audience of its `namespace.yaml`; or a foreign one), re-authentication with AUTH 0x19,
//! and the end of a connection whose token expires. Clients with a stored token (`jwt/NAME.jwt`)
//! present it without any step ([`crate::bdd::LwtWorld::sensor_connect_properties`]); a step's
//! token goes into the scenario's extra CONNECT properties.
//!
//! Every verdict reads the wire through the harness's own codec: the AUTH or DISCONNECT the broker
//! sent, and when.

use crate::bdd::clients::parse_code;
use crate::bdd::expectations::simple;
use crate::bdd::LwtWorld;
use crate::jwt::{unix_now, TestIssuer, TokenSpec, CUSTOM_JWT, JWT_DIR};
use crate::sensor::{ServerClose, REPLY_TIMEOUT};
use bytes::Bytes;
use cucumber::{given, then, when};
use lwt_codec::{Auth, Packet, Properties, Property};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// The identities folder whose issuer and namespace the tokens come from.
fn folder(w: &mut LwtWorld) -> PathBuf {
    let dir = match (&w.pki, &w.own_broker) {
        (Some(p), _) => Some(p.path().to_path_buf()),
        (None, None) => w.run_env().identities.as_ref().map(|i| i.dir.clone()),
        (None, Some(_)) => None,
    };
    dir.unwrap_or_else(|| w.setup_error("a JWT issuer", "no identities folder (use the walkthrough namespace or --identities DIR)"))
}

/// The folder's issuer and the token for client `name` valid from a minute ago until `exp`
/// (`type` claim from the name: actuator… or sensor).
fn mint(w: &mut LwtWorld, name: &str, exp: i64, issuer: Option<&TestIssuer>, audience: Option<&str>) -> String {
    let dir = folder(w);
    let ns = lwt_broker::eventgrid::Namespace::load(&dir.join("namespace.yaml"))
        .unwrap_or_else(|e| w.setup_error("the namespace's JWT issuer", e));
    let Some(cfg) = ns.jwt_authentication().custom.clone() else {
        w.setup_error("the namespace's JWT issuer", "namespace.yaml has no customJwtAuthentication")
    };
    let own = match issuer {
        Some(i) => i.clone(),
        None => TestIssuer::load(&dir.join(JWT_DIR), "issuer").unwrap_or_else(|e| w.setup_error("the JWT issuer's key", format!("{e:#}"))),
    };
    let kind = if name.contains("actuator") { "actuator" } else { "sensor" };
    let aud = audience.unwrap_or(cfg.audiences[0].as_str());
    let mut spec = TokenSpec::new(&cfg.token_issuer, name, aud, 0).claim("type", kind);
    spec.expires = exp;
    spec.not_before = spec.not_before.min(exp - 1);
    own.token(&spec).unwrap_or_else(|e| w.setup_error("a signed token", format!("{e:#}")))
}

/// Makes client `name` present `token` (replacing any token it had) at its next CONNECT.
fn present(w: &mut LwtWorld, name: &str, token: String) {
    let props = w.connect_properties.entry(name.to_owned()).or_default();
    props.retain(|p| !matches!(p, Property::AuthenticationMethod(_) | Property::AuthenticationData(_)));
    props.push(Property::AuthenticationMethod(CUSTOM_JWT.into()));
    props.push(Property::AuthenticationData(Bytes::from(token)));
}

#[given(expr = "{string} presents a token valid for {int} second(s)")]
fn token_valid_for(w: &mut LwtWorld, name: String, secs: i64) {
    let t = mint(w, &name, unix_now() + secs, None, None);
    present(w, &name, t);
}

#[given(expr = "{string} presents a token that expired {int} second(s) ago")]
fn token_expired(w: &mut LwtWorld, name: String, secs: i64) {
    let t = mint(w, &name, unix_now() - secs, None, None);
    present(w, &name, t);
}

/// Same `kid`, `iss` and audience as the namespace's issuer, but another key.
#[given(expr = "{string} presents a token signed by a key the namespace does not trust")]
fn token_foreign_key(w: &mut LwtWorld, name: String) {
    let stranger = TestIssuer::generate("issuer", jsonwebtoken::Algorithm::ES256).expect("an ES256 key");
    let t = mint(w, &name, unix_now() + 3600, Some(&stranger), None);
    present(w, &name, t);
}

#[given(expr = "{string} presents a token for audience {string}")]
fn token_audience(w: &mut LwtWorld, name: String, audience: String) {
    let t = mint(w, &name, unix_now() + 3600, None, Some(&audience));
    present(w, &name, t);
}

/// Sends AUTH 0x19 with a fresh token and records the answer (AUTH, DISCONNECT, close or silence).
#[when(expr = "{string} re-authenticates with a token valid for {int} second(s)")]
async fn re_authenticates(w: &mut LwtWorld, name: String, secs: i64) {
    let token = mint(w, &name, unix_now() + secs, None, None);
    let mut props = Properties::new();
    props.push(Property::AuthenticationMethod(CUSTOM_JWT.into()));
    props.push(Property::AuthenticationData(Bytes::from(token.clone())));
    let Some(live) = w.sensor(&name).live.as_mut() else { w.setup_error(&format!("{name} connected"), "it is not connected") };
    if let Err(e) = live.send(&Packet::Auth(Auth { reason: 0x19, properties: props })).await {
        w.setup_error("the AUTH packet sent", format!("{e:#}"));
    }
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let outcome = loop {
        match live.next_packet(deadline.saturating_duration_since(Instant::now())).await {
            Ok(Some(Packet::Auth(a))) => {
                break format!("AUTH {:#04x} ({})", a.reason, a.properties.authentication_method().unwrap_or_default())
            }
            Ok(Some(Packet::Disconnect(d))) => break format!("DISCONNECT {:#04x}", d.reason),
            Ok(Some(_)) => continue,
            Ok(None) => break format!("no answer within {REPLY_TIMEOUT:?}"),
            Err(e) => break format!("closed: {e:#}"),
        }
    };
    present(w, &name, token);
    w.reauth_outcomes.insert(name, outcome);
}

#[then(expr = "the re-authentication of {string} is accepted")]
fn re_auth_accepted(w: &mut LwtWorld, name: String) {
    let want = format!("AUTH 0x00 ({CUSTOM_JWT})");
    let got = w.reauth_outcomes.get(&name).cloned().unwrap_or_else(|| panic!("{name} has not re-authenticated"));
    let v = simple(w, want.clone(), got == want, got);
    w.judge(v);
}

/// The `exp` of the token client `name` presents now.
fn presented_exp(w: &mut LwtWorld, name: &str) -> i64 {
    let v = w.spec_mut(name).version;
    let token = w.sensor_connect_properties(name, v).into_iter().find_map(|p| match p {
        Property::AuthenticationData(d) => Some(d),
        _ => None,
    });
    let claims = token.and_then(|t| jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Value>(&t[..]).ok());
    claims.and_then(|c| c["exp"].as_i64()).unwrap_or_else(|| w.setup_error(&format!("{name}'s token"), "it presents no token with exp"))
}

/// Waits for the broker to end the connection after the token's `exp` (plus the leeway and the
/// profile's tolerance): it must not end before `exp`, and must send DISCONNECT `code`. The
/// expiry is recorded as the scenario's fault, so a following "receives … within" counts from it.
#[then(expr = "the broker ends the connection of {string} with DISCONNECT {word} when its token expires")]
async fn ends_at_expiry(w: &mut LwtWorld, name: String, code: String) {
    let want = parse_code(&code);
    let exp = presented_exp(w, &name);
    let exp_at = UNIX_EPOCH + Duration::from_secs(u64::try_from(exp).unwrap_or(0));
    let to_exp = exp_at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
    let planned = Instant::now() + to_exp;
    let within = to_exp + Duration::from_secs(3) + w.profile().late_tolerance();
    let Some(mut live) = w.sensor(&name).live.take() else { w.setup_error(&format!("{name} connected"), "it is not connected") };
    let got = live.await_server_close(within).await;
    let at = Instant::now();
    let early = at < planned;
    let after = if at >= planned { at.duration_since(planned).as_secs_f64() } else { -planned.duration_since(at).as_secs_f64() };
    let observed = format!("{got:?} {after:+.1} s from exp");
    // The fault is the token's expiry: the will may reach an observer before this sensor (behind
    // the fault proxy) reads its DISCONNECT, so "receives … within" counts from `exp`.
    w.last_fault = Some((name.clone(), planned, planned));
    let v = simple(w, format!("DISCONNECT {want:#04x} once the token expired, then the close"), got == ServerClose::Disconnect(want) && !early, observed);
    w.judge(v);
}
