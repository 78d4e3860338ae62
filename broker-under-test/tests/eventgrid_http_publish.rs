//! Event Grid HTTP Publish through real sockets: `POST /mqtt/messages` on the broker's loopback
//! HTTP listener (ureq as the caller), authenticated by a test double of [`BearerAuth`] that maps
//! fixed tokens to the seeds' registered clients, authorized like their MQTT PUBLISH, and delivered
//! to actuators subscribed over TLS — QoS 0 and 1, retain, headers → properties, routing as a
//! CloudEvent, and the refusals 400, 401, 403 and 413 with nothing delivered.

mod tls_common;

use lwt_broker::codec::*;
use lwt_broker::eventgrid::http_publish::{BearerAuth, BearerAuthRef};
use lwt_broker::eventgrid::{Namespace, Principal};
use lwt_broker::{BrokerHandle, Config, Listeners};
use std::sync::Arc;
use tls_common::*;

const API: &str = "api-version=2025-02-15-preview";

/// The test double: token `token-NAME` is the registered client NAME; anything else is refused.
struct FixedTokens(Arc<Namespace>);

impl BearerAuth for FixedTokens {
    fn principal(&self, token: &str) -> Result<Principal, String> {
        let name = token.strip_prefix("token-").ok_or("unknown token")?;
        self.0.registered_principal(name).ok_or_else(|| format!("no client {name}"))
    }
}

/// The seeds' namespace (with `extra` YAML) on TLS and an HTTP Publish listener; with `tokens`,
/// the [`FixedTokens`] validator is wired in.
async fn broker(w: &Walkthrough, extra: &str, tokens: bool) -> BrokerHandle {
    broker_over(w, extra, tokens, Config::eventgrid()).await
}

/// [`broker`] with `cfg` (e.g. a data directory).
async fn broker_over(w: &Walkthrough, extra: &str, tokens: bool, cfg: Config) -> BrokerHandle {
    try_broker(w, extra, tokens, cfg).await.expect("broker starts")
}

async fn try_broker(w: &Walkthrough, extra: &str, tokens: bool, mut cfg: Config) -> anyhow::Result<BrokerHandle> {
    let ns = Namespace::parse(&w.namespace_yaml(extra), "seeds.yaml").expect("namespace parses");
    cfg.apply_namespace(ns);
    if tokens {
        let ns = cfg.namespace.0.clone().expect("namespace");
        cfg.bearer_auth = BearerAuthRef(Some(Arc::new(FixedTokens(ns))));
    }
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listeners = Listeners { tls: vec![any], tls_options: Some(w.pki.tls_options(false)), http_publish: vec![any], ..Listeners::default() };
    lwt_broker::start_with(cfg, listeners).await
}

/// One POST to `b`'s HTTP Publish: (status, body).
async fn post(b: &BrokerHandle, query: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String) {
    let url = format!("http://{}/mqtt/messages?{query}", b.http_publish_addrs()[0]);
    let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(WAIT))
            .build()
            .into();
        let mut req = agent.post(&url);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let mut resp = req.send(&body[..]).expect("the HTTP exchange completes");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().unwrap_or_default())
    })
    .await
    .unwrap()
}

fn q(topic: &str) -> String {
    format!("topic={}&{API}", topic.replace('/', "%2F"))
}

const SENSOR1: (&str, &str) = ("Authorization", "Bearer token-sensor1");

#[tokio::test]
async fn qos_0_and_1_reach_a_subscriber_with_their_properties() {
    let w = Walkthrough::new();
    let b = broker(&w, "", true).await;
    let mut a1 = w.actuator(&b, "actuator1").await;
    let (status, body) = post(&b, &q("clients/sensor1/status"), &[SENSOR1, ("mqtt-qos", "0")], b"online".to_vec()).await;
    assert_eq!((status, body.as_str()), (204, ""));
    let p = a1.next_publish(WAIT).await.expect("the QoS 0 message");
    assert_eq!((p.topic.as_str(), &p.payload[..], p.qos, p.retain), ("clients/sensor1/status", &b"online"[..], QoS::AtMostOnce, false));

    let headers = [
        SENSOR1,
        ("mqtt-qos", "1"),
        ("mqtt-retain", "0"),
        ("mqtt-response-topic", "clients%2Fsensor1%2Freply"),
        ("mqtt-correlation-data", "AQID"),
        ("mqtt-user-properties", r#"[{"Urgency":"alert"},{"RequestId":"r-1"}]"#),
        ("Content-Type", "text/plain;charset=UTF-8"),
    ];
    let (status, _) = post(&b, &q("clients/sensor1/status"), &headers, b"Please accept".to_vec()).await;
    assert_eq!(status, 204);
    let p = a1.next_publish(WAIT).await.expect("the QoS 1 message");
    assert_eq!((&p.payload[..], p.qos), (&b"Please accept"[..], QoS::AtLeastOnce));
    assert_eq!(p.properties.response_topic().as_deref(), Some("clients/sensor1/reply"));
    assert_eq!(p.properties.correlation_data().as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(p.properties.content_type().as_deref(), Some("text/plain;charset=UTF-8"));
    assert_eq!(p.properties.user_properties(), [("Urgency".into(), "alert".into()), ("RequestId".into(), "r-1".into())]);
    b.shutdown().await;
}

#[tokio::test]
async fn a_retained_http_publish_reaches_later_subscribers() {
    let w = Walkthrough::new();
    let b = broker(&w, "", true).await;
    let (status, _) = post(&b, &q("clients/sensor1/status"), &[SENSOR1, ("mqtt-retain", "1")], b"offline".to_vec()).await;
    assert_eq!(status, 204);
    let mut a2 = w.connected(&b, "actuator2", ProtocolVersion::V5).await;
    assert_eq!(a2.subscribe("clients/+/status").await, 1);
    let p = a2.next_publish(WAIT).await.expect("the retained message");
    assert_eq!((&p.payload[..], p.retain, p.qos), (&b"offline"[..], true, QoS::AtLeastOnce), "default QoS is 1");
    b.shutdown().await;
}

#[tokio::test]
async fn refusals_deliver_nothing() {
    let w = Walkthrough::new();
    let b = broker(&w, "", true).await;
    let mut a1 = w.actuator(&b, "actuator1").await;
    let mut prober = w.connected(&b, "prober", ProtocolVersion::V5).await;
    let own = q("clients/sensor1/status");
    for (query, headers, want_status, want_text) in [
        (own.clone(), vec![], 401, "missing Authorization"),
        (own.clone(), vec![("Authorization", "Bearer nope")], 401, "bearer token refused"),
        (own.clone(), vec![("Authorization", "Basic dXNlcjpwYXNz")], 401, "Bearer <token>"),
        (q("clients/sensor2/status"), vec![SENSOR1], 403, "not authorized"),
        (q("clients/+/status"), vec![SENSOR1], 403, "not authorized"),
        (own.clone(), vec![SENSOR1, ("mqtt-qos", "2")], 400, "mqtt-qos must be 0 or 1"),
        (own.clone(), vec![SENSOR1, ("mqtt-correlation-data", "%%%")], 400, "not valid base64"),
        (own.clone(), vec![SENSOR1, ("mqtt-user-properties", "{\"a\":\"b\"}")], 400, "mqtt-user-properties"),
        ("topic=clients%2Fsensor1%2Fstatus".to_string(), vec![SENSOR1], 400, "api-version"),
    ] {
        let (status, body) = post(&b, &query, &headers, b"forged".to_vec()).await;
        assert_eq!(status, want_status, "{query} {headers:?}: {body}");
        assert!(body.contains(want_text) && body.contains("\"error\""), "{query} {headers:?}: {body}");
    }
    // Over the Maximum Packet Size (the eventgrid profile's 512 KiB): 413.
    let (status, body) = post(&b, &own, &[SENSOR1], vec![b'x'; 600 * 1024]).await;
    assert_eq!(status, 413, "{body}");
    // None of them reached actuator1, which is live: the probe is the next thing it gets.
    a1.expect_only_probe(&mut prober, "probe/http").await;
    b.shutdown().await;
}

#[tokio::test]
async fn without_a_validator_every_request_is_refused() {
    let w = Walkthrough::new();
    let b = broker(&w, "", false).await;
    let mut a1 = w.actuator(&b, "actuator1").await;
    let mut prober = w.connected(&b, "prober", ProtocolVersion::V5).await;
    let (status, body) = post(&b, &q("clients/sensor1/status"), &[SENSOR1], b"x".to_vec()).await;
    assert_eq!(status, 401);
    assert!(body.contains("no bearer-token validator"), "{body}");
    a1.expect_only_probe(&mut prober, "probe/http").await;
    b.shutdown().await;
}

#[tokio::test]
async fn an_http_publish_is_routed_like_an_mqtt_one() {
    let w = Walkthrough::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routed.jsonl");
    let routing = format!("routing:\n  file: {}\n  enrichments:\n    dynamic:\n      - key: who\n        value: ${{client.authenticationName}}\n", path.display());
    let b = broker(&w, &routing, true).await;
    let headers = [SENSOR1, ("Content-Type", "application/json")];
    assert_eq!(post(&b, &q("clients/sensor1/status"), &headers, br#"{"on":true}"#.to_vec()).await.0, 204);
    let ev = wait_for_events(&path, 1).await;
    assert_eq!(ev.len(), 1, "{ev:#?}");
    assert_eq!((&ev[0]["subject"], &ev[0]["data"], &ev[0]["who"]), (&serde_json::json!("clients/sensor1/status"), &serde_json::json!({"on": true}), &serde_json::json!("sensor1")));
    b.shutdown().await;
}

#[tokio::test]
async fn only_loopback_with_a_namespace_and_only_post_to_the_path() {
    let w = Walkthrough::new();
    let b = broker(&w, "", true).await;
    let base = format!("http://{}", b.http_publish_addrs()[0]);
    let statuses = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(WAIT)).build().into();
        let get = agent.get(&format!("{base}/mqtt/messages?{API}")).call().unwrap().status().as_u16();
        let other = agent.post(&format!("{base}/other")).send("x").unwrap().status().as_u16();
        (get, other)
    })
    .await
    .unwrap();
    assert_eq!(statuses, (405, 404));
    b.shutdown().await;

    let ns = Namespace::parse(&w.namespace_yaml(""), "seeds.yaml").unwrap();
    let mut cfg = Config::eventgrid();
    cfg.apply_namespace(ns);
    let wide = Listeners { http_publish: vec!["0.0.0.0:0".parse().unwrap()], tls: vec!["127.0.0.1:0".parse().unwrap()], tls_options: Some(w.pki.tls_options(false)), ..Listeners::default() };
    let err = lwt_broker::start_with(cfg, wide).await.err().expect("refused").to_string();
    assert!(err.contains("loopback"), "{err}");
    let bare = Listeners { tcp: vec!["127.0.0.1:0".parse().unwrap()], http_publish: vec!["127.0.0.1:0".parse().unwrap()], ..Listeners::default() };
    let err = lwt_broker::start_with(Config::default(), bare).await.err().expect("refused").to_string();
    assert!(err.contains("namespace"), "{err}");
}

#[tokio::test]
async fn over_a_data_directory_the_204_follows_the_commit() {
    let w = Walkthrough::new();
    let dir = tempfile::tempdir().unwrap();
    let cfg = || Config { data_dir: Some(dir.path().to_path_buf()), ..Config::eventgrid() };
    let b = broker_over(&w, "", true, cfg()).await;
    let (status, _) = post(&b, &q("clients/sensor1/status"), &[SENSOR1, ("mqtt-retain", "1")], b"offline".to_vec()).await;
    assert_eq!(status, 204);
    // A crash right after the answer: the retained message was committed before it.
    b.abort();
    // The aborted core lets go of the database shortly after: retry the start for a while.
    let deadline = tokio::time::Instant::now() + WAIT;
    let b = loop {
        match try_broker(&w, "", true, cfg()).await {
            Ok(b) => break b,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("restart: {e:#}"),
        }
    };
    let mut a2 = w.connected(&b, "actuator2", ProtocolVersion::V5).await;
    assert_eq!(a2.subscribe("clients/+/status").await, 1);
    let p = a2.next_publish(WAIT).await.expect("the retained message survived the crash");
    assert_eq!((&p.payload[..], p.retain), (&b"offline"[..], true));
    b.shutdown().await;
}

/// With no validator wired in, HTTP Publish trusts the namespace's JWT issuer: a bearer token it
/// signed authenticates the caller exactly as at CONNECT (`sub` = authentication name, claims =
/// attributes, so `type: sensor` may publish its own status), a token from another key is 401 and
/// another client's topic 403; only the authorized message is delivered.
#[tokio::test]
async fn a_token_from_the_namespaces_jwt_issuer_authorizes_an_http_publish() {
    use jsonwebtoken::jwk::{Jwk, JwkSet};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let key = |pem: &str| EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    let pem = || rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap().serialize_pem();
    let (trusted, stranger) = (key(&pem()), key(&pem()));
    let dir = tempfile::tempdir().unwrap();
    let mut jwk = Jwk::from_encoding_key(&trusted, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some("k1".into());
    let jwks = dir.path().join("issuer.jwks.json");
    std::fs::write(&jwks, serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap()).unwrap();
    let (iss, aud) = ("https://issuer.lwt.test", "seeds.westus2-1.ts.eventgrid.azure.net");
    let extra = format!(
        "customJwtAuthentication:\n  tokenIssuer: {iss}\n  audiences: [\"https://{aud}/\"]\n  issuerCertificates:\n    - file: {}\n",
        jwks.display()
    );
    let w = Walkthrough::new();
    let b = broker(&w, &extra, false).await;
    let mut a1 = w.actuator(&b, "actuator1").await;
    let mut prober = w.connected(&b, "prober", ProtocolVersion::V5).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({"iss": iss, "sub": "jwt-sensor1", "aud": format!("https://{aud}/"), "nbf": now - 60, "exp": now + 600, "type": "sensor"});
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    let sign = |k: &EncodingKey| format!("Bearer {}", jsonwebtoken::encode(&header, &claims, k).unwrap());
    let (good, forged) = (sign(&trusted), sign(&stranger));
    let (status, body) = post(&b, &q("clients/jwt-sensor1/status"), &[("Authorization", &forged)], b"forged".to_vec()).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(&b, &q("clients/sensor1/status"), &[("Authorization", &good)], b"other".to_vec()).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post(&b, &q("clients/jwt-sensor1/status"), &[("Authorization", &good)], b"online".to_vec()).await;
    assert_eq!(status, 204, "{body}");
    let p = a1.next_publish(WAIT).await.expect("the authorized HTTP publish");
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("clients/jwt-sensor1/status", &b"online"[..]));
    a1.expect_only_probe(&mut prober, "probe/jwt-http").await;
    b.shutdown().await;
}
