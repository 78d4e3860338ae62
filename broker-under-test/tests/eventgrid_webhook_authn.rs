//! Event Grid webhook authentication through real sockets: the seeds' namespace with
//! `webHookAuthentication` pointing at a loopback hyper endpoint whose answer each test chooses.
//! Covered: allow (authentication name and attributes drive authorization, the will reaches
//! `clients/+/status`), the documented request fields, deny, a webhook that is down, slow,
//! malformed, answering 500 or closing without an answer, an expiration in the past, and an
//! expiration that ends the connection (DISCONNECT 0xA0, will published, life-cycle
//! `ClientAuthenticationError`); registered clients still authenticate by certificate.

mod tls_common;

use bytes::Bytes;
use lwt_broker::codec::*;
use lwt_broker::eventgrid::Namespace;
use lwt_broker::{BrokerHandle, Config};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tls_common::*;

/// What the test webhook does with a request.
#[derive(Clone)]
enum Answer {
    /// This status and body.
    Reply(u16, String),
    /// The same after a delay.
    Slow(Duration, String),
    /// Close the connection without an answer.
    Close,
}

/// A loopback HTTP endpoint (hyper, HTTP/1.1) answering as `answer` says, keeping every request body.
struct Hook {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    async fn start(answer: impl Fn(&Value) -> Answer + Send + Sync + 'static) -> Hook {
        Hook::serve(None, answer).await
    }

    /// The same over TLS with the test PKI's server certificate (for 127.0.0.1).
    async fn start_tls(pki: &Pki, answer: impl Fn(&Value) -> Answer + Send + Sync + 'static) -> Hook {
        let certs = CertificateDer::pem_slice_iter(pki.server.pem.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(pki.server.key.as_bytes()).unwrap();
        let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        Hook::serve(Some(tokio_rustls::TlsAcceptor::from(Arc::new(cfg))), answer).await
    }

    async fn serve(tls: Option<tokio_rustls::TlsAcceptor>, answer: impl Fn(&Value) -> Answer + Send + Sync + 'static) -> Hook {
        use http_body_util::BodyExt;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let requests: Arc<Mutex<Vec<Value>>> = Default::default();
        let (keep, answer) = (requests.clone(), Arc::new(answer));
        tokio::spawn(async move {
            while let Ok((stream, _)) = l.accept().await {
                let (keep, answer) = (keep.clone(), answer.clone());
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (keep, answer) = (keep.clone(), answer.clone());
                    async move {
                        let body = req.into_body().collect().await.map_err(std::io::Error::other)?.to_bytes();
                        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        keep.lock().unwrap().push(v.clone());
                        let (status, text) = match answer(&v) {
                            Answer::Reply(s, t) => (s, t),
                            Answer::Slow(d, t) => {
                                tokio::time::sleep(d).await;
                                (200, t)
                            }
                            Answer::Close => return Err(std::io::Error::other("close without an answer")),
                        };
                        let mut r = hyper::Response::new(http_body_util::Full::new(Bytes::from(text)));
                        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, std::io::Error>(r)
                    }
                });
                let tls = tls.clone();
                tokio::spawn(async move {
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => http.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await,
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(s) => http.serve_connection(hyper_util::rt::TokioIo::new(s), service).await,
                            Err(_) => Ok(()), // the broker refused our certificate
                        },
                    }
                });
            }
        });
        Hook { addr, requests }
    }

    fn url(&self) -> String {
        format!("http://{}/auth", self.addr)
    }

    fn https_url(&self) -> String {
        format!("https://{}/auth", self.addr)
    }

    fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

fn allow(name: &str, attributes: Value) -> Answer {
    Answer::Reply(200, json!({"decision": "allow", "clientAuthenticationName": name, "attributes": attributes}).to_string())
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The seeds' namespace (X.509 sensors, actuators, prober) with the webhook at `url`, `timeoutMs`
/// 400, diagnostics on (so CONNACK reason strings carry the log's reason), plus `extra` settings.
async fn broker(w: &Walkthrough, url: &str, extra: &str) -> BrokerHandle {
    let mut cfg = Config::eventgrid();
    cfg.user_properties_on_connect_and_subscribe = true;
    let settings = format!("settings: {{ diagnostics: true }}\nwebHookAuthentication:\n  endpointUrl: {url}\n  timeoutMs: 400\n{extra}");
    let ns = Namespace::parse(&w.namespace_yaml(&settings), "seeds.yaml").expect("namespace parses");
    cfg.apply_namespace(ns);
    w.pki.broker(cfg, false).await
}

/// CONNECT over TLS without a client certificate.
async fn hooked(w: &Walkthrough, b: &BrokerHandle, c: Connect) -> (Client, ConnAck) {
    Client::connect(&w.pki, b.tls_addrs()[0], None, c).await
}

/// The refusal of `c` by `b`: (code, Reason String).
async fn refused(w: &Walkthrough, b: &BrokerHandle, c: Connect) -> (u8, String) {
    let (mut client, ack) = hooked(w, b, c).await;
    assert_ne!(ack.code, 0, "expected a refusal: {ack:?}");
    assert_eq!(client.expect_closed().await, None, "the refused connection closes");
    (ack.code, ack.properties.reason_string().unwrap_or_default())
}

#[tokio::test]
async fn an_allowed_client_gets_the_webhooks_name_and_attributes_and_its_will_follows_them() {
    let hook = Hook::start(|r| match r["clientId"].as_str() {
        Some("dev-7") => allow("sensor7", json!({"type": "sensor", "floor": 3, "ignored": true})),
        _ => allow("nobody", json!({})),
    })
    .await;
    let w = Walkthrough::new();
    let b = broker(&w, &hook.url(), "").await;
    let mut a1 = w.actuator(&b, "actuator1").await;
    let mut prober = w.connected(&b, "prober", ProtocolVersion::V5).await;
    assert!(hook.requests().is_empty(), "registered clients authenticate by certificate, not by the webhook");

    let c = with_will(connect(ProtocolVersion::V5, "dev-7", Some("dev-7-user")), "clients/sensor7/status", "offline");
    let (mut s, ack) = hooked(&w, &b, c).await;
    assert_eq!(ack.code, 0, "{ack:?}");
    // Its own status topic is allowed (authentication name "sensor7", group sensors) …
    assert_eq!(s.publish("clients/sensor7/status", "online", QoS::AtLeastOnce).await, Some(0));
    let p = a1.next_publish(WAIT).await.expect("the publish reaches actuator1");
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("clients/sensor7/status", &b"online"[..]));
    // … another's is not: the webhook's name, not the client id or username, is the identity.
    assert_eq!(s.publish("clients/dev-7/status", "x", QoS::AtLeastOnce).await, Some(reason::NOT_AUTHORIZED));
    // A client the webhook gives no type is in no group: nothing allowed.
    let (mut other, ack) = hooked(&w, &b, connect(ProtocolVersion::V5, "dev-8", None)).await;
    assert_eq!(ack.code, 0);
    assert_eq!(other.publish("clients/nobody/status", "x", QoS::AtLeastOnce).await, Some(reason::NOT_AUTHORIZED));
    a1.expect_only_probe(&mut prober, "probe/1").await;

    // Cut with RST, its will reaches clients/+/status as its owner's publish.
    let tcp = s.conn.into_inner().into_inner().0;
    tcp.set_zero_linger().expect("SO_LINGER 0");
    drop(tcp);
    let will = a1.next_publish(WAIT).await.expect("the will after the RST");
    assert_eq!((will.topic.as_str(), &will.payload[..]), ("clients/sensor7/status", &b"offline"[..]));
    b.shutdown().await;
}

#[tokio::test]
async fn the_request_carries_the_documented_fields() {
    // Each client its own authentication name: one session per name is the namespace's default.
    let hook = Hook::start(|r| allow(r["clientId"].as_str().unwrap_or("?"), json!({}))).await;
    let w = Walkthrough::new();
    let b = broker(&w, &hook.url(), "").await;
    let mut c = connect(ProtocolVersion::V5, "dev-1", Some("dev-1-user"));
    c.password = Some(Bytes::from_static(b"s3cret"));
    c.properties = Properties::new()
        .with(Property::AuthenticationMethod("SAS".into()))
        .with(Property::AuthenticationData(Bytes::from_static(b"\x00token")))
        .with(Property::UserProperty("site".into(), "north".into()));
    let stranger = Pki::self_signed("stranger");
    let (_s, ack) = Client::connect(&w.pki, b.tls_addrs()[0], Some(&stranger), c).await;
    assert_eq!(ack.code, 0, "{ack:?}");
    let r = hook.requests().pop().expect("one request");
    assert_eq!(r["clientId"], "dev-1");
    assert_eq!(r["userName"], "dev-1-user");
    assert_eq!(r["password"], "czNjcmV0");
    assert_eq!(r["authenticationMethod"], "SAS");
    assert_eq!(r["authenticationData"], "AHRva2Vu");
    assert_eq!(r["userProperties"], json!([{"site": "north"}]));
    let pem = r["clientCertificate"].as_str().expect("the certificate, PEM");
    assert_eq!(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap().as_ref(), &stranger.der[..]);
    assert!(r.get("clientCertificateChain").is_none(), "a lone self-signed certificate has no chain: {r}");

    // MQTT 3.1.1 without credentials: only the client id.
    let (_s, ack) = hooked(&w, &b, connect(ProtocolVersion::V311, "dev-2", None)).await;
    assert_eq!(ack.code, 0);
    assert_eq!(hook.requests().pop().unwrap(), json!({"clientId": "dev-2"}));
    b.shutdown().await;
}

#[tokio::test]
async fn a_deny_is_not_authorized() {
    let hook = Hook::start(|_| Answer::Reply(200, r#"{"decision":"deny","errorReason":"token revoked"}"#.into())).await;
    let w = Walkthrough::new();
    let b = broker(&w, &hook.url(), "").await;
    let (code, why) = refused(&w, &b, connect(ProtocolVersion::V5, "dev-1", Some("dev-1"))).await;
    assert_eq!(code, reason::NOT_AUTHORIZED);
    assert!(why.contains("webhook denied the client: token revoked"), "{why}");
    let (code, _) = refused(&w, &b, connect(ProtocolVersion::V311, "dev-1", Some("dev-1"))).await;
    assert_eq!(code, reason::v311::NOT_AUTHORIZED);
    b.shutdown().await;
}

#[tokio::test]
async fn a_webhook_that_is_down_slow_malformed_or_failing_makes_the_server_unavailable() {
    // Down: a loopback port nothing listens on any more.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let w = Walkthrough::new();
    let b = broker(&w, &format!("http://{gone}/auth"), "").await;
    let (code, why) = refused(&w, &b, connect(ProtocolVersion::V5, "dev-1", None)).await;
    assert_eq!(code, reason::SERVER_UNAVAILABLE);
    assert!(why.contains(&format!("webhook http://{gone}/auth failed")), "{why}");
    let (code, _) = refused(&w, &b, connect(ProtocolVersion::V311, "dev-1", None)).await;
    assert_eq!(code, reason::v311::SERVER_UNAVAILABLE);
    b.shutdown().await;

    let cases: [(Answer, &str); 5] = [
        (Answer::Slow(Duration::from_secs(3), String::new()), "did not answer within 400 ms"),
        (Answer::Reply(200, "{\"decision\": allow".into()), "answered malformed: the answer is not JSON"),
        (Answer::Reply(200, r#"{"decision":"allow"}"#.into()), "without \"clientAuthenticationName\""),
        (Answer::Reply(500, "oops".into()), "answered HTTP 500"),
        (Answer::Close, "failed"),
    ];
    for (answer, says) in cases {
        let hook = Hook::start(move |_| answer.clone()).await;
        let b = broker(&w, &hook.url(), "").await;
        let started = tokio::time::Instant::now();
        let (code, why) = refused(&w, &b, connect(ProtocolVersion::V5, "dev-1", None)).await;
        assert_eq!(code, reason::SERVER_UNAVAILABLE, "{says}: {why}");
        assert!(why.contains(says), "expected {says:?} in {why:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "the refusal waited {:?}", started.elapsed());
        assert_eq!(hook.requests().len(), 1, "{says}: asked once, no retries");
        b.shutdown().await;
    }
}

#[tokio::test]
async fn an_expiration_in_the_past_is_not_authorized() {
    let past = unix_now() - 10;
    let hook = Hook::start(move |_| {
        Answer::Reply(200, json!({"decision": "allow", "clientAuthenticationName": "late", "expiration": past}).to_string())
    })
    .await;
    let w = Walkthrough::new();
    let b = broker(&w, &hook.url(), "").await;
    let (code, why) = refused(&w, &b, connect(ProtocolVersion::V5, "dev-1", None)).await;
    assert_eq!(code, reason::NOT_AUTHORIZED);
    assert!(why.contains("which has passed"), "{why}");
    b.shutdown().await;
}

#[tokio::test]
async fn expiration_ends_the_connection_and_the_will_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let hook = Hook::start(|_| {
        let at = unix_now() + 2;
        Answer::Reply(
            200,
            json!({"decision": "allow", "clientAuthenticationName": "sensor9", "attributes": {"type": "sensor"}, "expiration": at.to_string()})
                .to_string(),
        )
    })
    .await;
    let w = Walkthrough::new();
    let b = broker(&w, &hook.url(), &format!("lifecycleEvents:\n  file: {}\n", events.display())).await;
    let mut a1 = w.actuator(&b, "actuator1").await;
    let c = with_will(connect(ProtocolVersion::V5, "dev-9", None), "clients/sensor9/status", "expired");
    let (mut s, ack) = hooked(&w, &b, c).await;
    assert_eq!(ack.code, 0, "{ack:?}");
    let connected = tokio::time::Instant::now();
    // Still live before the expiry: a publish is acknowledged.
    assert_eq!(s.publish("clients/sensor9/status", "online", QoS::AtLeastOnce).await, Some(0));
    assert!(a1.next_publish(WAIT).await.is_some());
    // Expiry is 1-2 s away (whole Unix seconds); the broker ends the connection then.
    let code = loop {
        match s.recv(Duration::from_secs(4)).await {
            Recv::Packet(Packet::Disconnect(d)) => break Some(d.reason),
            Recv::Packet(Packet::PingResp) => continue,
            Recv::Closed => break None,
            other => panic!("expected the expiry's DISCONNECT, got {other:?}"),
        }
    };
    let after = connected.elapsed();
    assert_eq!(code, Some(reason::MAXIMUM_CONNECT_TIME));
    assert!(after > Duration::from_millis(500) && after < Duration::from_secs(3), "ended after {after:?}");
    let will = a1.next_publish(WAIT).await.expect("the will after the expiry");
    assert_eq!((will.topic.as_str(), &will.payload[..]), ("clients/sensor9/status", &b"expired"[..]));
    let deadline = tokio::time::Instant::now() + WAIT;
    let reason = loop {
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        let found = text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find_map(|e| {
            (e["data"]["clientSessionName"] == "dev-9").then(|| e["data"]["disconnectionReason"].as_str().map(str::to_owned)).flatten()
        });
        if found.is_some() || tokio::time::Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(reason.as_deref(), Some("ClientAuthenticationError"));
    b.shutdown().await;
}

#[tokio::test]
async fn a_bad_endpoint_stops_the_namespace_with_a_clear_error() {
    let e = Namespace::parse("name: hooked\nwebHookAuthentication:\n  endpointUrl: ftp://127.0.0.1/x\n", "ns.yaml").unwrap_err();
    let e = e.to_string();
    assert!(e.contains("ns.yaml:3") && e.contains("webHookAuthentication.endpointUrl"), "{e}");
}

#[tokio::test]
async fn an_https_webhook_is_called_over_tls_and_its_certificate_checked() {
    let w = Walkthrough::new();
    let hook = Hook::start_tls(&w.pki, |r| allow(r["clientId"].as_str().unwrap_or("?"), json!({}))).await;
    let ca = w.pki.write("webhook-ca.pem", &w.pki.ca_pem);
    let b = broker(&w, &hook.https_url(), &format!("  caCertificateFile: {}\n", ca.display())).await;
    let (_s, ack) = hooked(&w, &b, connect(ProtocolVersion::V5, "dev-1", None)).await;
    assert_eq!(ack.code, 0, "{ack:?}");
    assert_eq!(hook.requests().len(), 1);
    b.shutdown().await;

    // Without the namespace naming its CA, the webhook's certificate is not trusted (Mozilla's roots).
    let b = broker(&w, &hook.https_url(), "").await;
    let (code, why) = refused(&w, &b, connect(ProtocolVersion::V5, "dev-2", None)).await;
    assert_eq!(code, reason::SERVER_UNAVAILABLE);
    assert!(why.contains("failed") && why.to_lowercase().contains("certificate"), "{why}");
    assert_eq!(hook.requests().len(), 1, "no request reaches an untrusted webhook");
    b.shutdown().await;
}
