//! Event Grid JWT authentication through real TLS sockets: the seeds' namespace plus a custom
//! issuer (a JWKS with an ES256 key and a PEM certificate over an RS256 key), sensors that connect
//! with `CUSTOM-JWT` tokens instead of certificates, every kind of bad token, re-authentication
//! with AUTH 0x19, and the end of a connection whose token expires (with its will and life-cycle
//! event). Choices: `fixtures/namespaces/README.md`, "JWT authentication".

mod tls_common;

use bytes::Bytes;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lwt_broker::codec::*;
use lwt_broker::eventgrid::Namespace;
use lwt_broker::BrokerHandle;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tls_common::*;

const ISSUER: &str = "https://issuer.lwt.test";
const AUD: &str = "seeds.westus2-1.ts.eventgrid.azure.net";

/// A signing key: ES256 (rcgen P-256) or RS256 (rsa 2048).
struct Signer {
    alg: Algorithm,
    kid: Option<String>,
    pem: String,
    key: EncodingKey,
}

impl Signer {
    fn es256(kid: &str) -> Signer {
        let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap().serialize_pem();
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
        Signer { alg: Algorithm::ES256, kid: Some(kid.into()), pem, key }
    }
    fn rs256() -> Signer {
        let k = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap();
        let pem = k.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        Signer { alg: Algorithm::RS256, kid: None, pem, key }
    }
    fn jwks(&self) -> String {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).unwrap();
        jwk.common.key_id = self.kid.clone();
        serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap()
    }
    fn certificate(&self) -> String {
        let kp = rcgen::KeyPair::from_pem(&self.pem).unwrap();
        rcgen::CertificateParams::new(Vec::<String>::new()).unwrap().self_signed(&kp).unwrap().pem()
    }
    fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(self.alg);
        h.kid = self.kid.clone();
        jsonwebtoken::encode(&h, claims, &self.key).unwrap()
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Claims of a sensor token valid from a minute ago for `secs` seconds.
fn claims(sub: &str, secs: i64) -> Value {
    json!({"iss": ISSUER, "sub": sub, "aud": AUD, "nbf": now() - 60, "exp": now() + secs, "type": "sensor"})
}

/// The seeds' namespace with a custom issuer trusting `es` (JWKS file) and `rs` (certificate
/// file), no leeway, full reasons in refusals, and life-cycle events into `dir/events.jsonl`.
struct Setup {
    w: Walkthrough,
    es: Signer,
    rs: Signer,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup { w: Walkthrough::new(), es: Signer::es256("k1"), rs: Signer::rs256(), dir: tempfile::tempdir().unwrap() }
    }
    fn yaml(&self) -> String {
        let d = self.dir.path();
        std::fs::write(d.join("issuer.jwks.json"), self.es.jwks()).unwrap();
        std::fs::write(d.join("issuer.pem"), self.rs.certificate()).unwrap();
        format!(
            "settings:\n  diagnostics: true\nlifecycleEvents:\n  file: {ev}\ncustomJwtAuthentication:\n  tokenIssuer: {ISSUER}\n  \
             audiences: [\"https://{AUD}/\"]\n  leewaySeconds: 0\n  issuerCertificates:\n    - file: {jwks}\n    - file: {pem}\n",
            ev = d.join("events.jsonl").display(),
            jwks = d.join("issuer.jwks.json").display(),
            pem = d.join("issuer.pem").display(),
        )
    }
    async fn broker(&self) -> BrokerHandle {
        self.w.broker(&self.yaml()).await
    }
}

fn jwt_connect(id: &str, method: &str, token: Option<&str>) -> Connect {
    let mut c = with_will(Connect::new(ProtocolVersion::V5, id), &format!("clients/{id}/status"), "offline");
    c.properties.push(Property::AuthenticationMethod(method.into()));
    if let Some(t) = token {
        c.properties.push(Property::AuthenticationData(Bytes::from(t.to_owned())));
    }
    c
}

async fn jwt_client(s: &Setup, b: &BrokerHandle, c: Connect) -> (Client, ConnAck) {
    Client::connect(&s.w.pki, b.tls_addrs()[0], None, c).await
}

fn auth(reason: u8, method: &str, token: &str) -> Packet {
    let mut p = Properties::new();
    p.push(Property::AuthenticationMethod(method.into()));
    p.push(Property::AuthenticationData(Bytes::from(token.to_owned())));
    Packet::Auth(Auth { reason, properties: p })
}

fn cut(c: Client) {
    let tcp = c.conn.into_inner().into_inner().0;
    tcp.set_zero_linger().expect("SO_LINGER 0");
}

fn events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[tokio::test]
async fn a_token_client_is_authorized_by_its_claims_and_its_will_is_published() {
    let s = Setup::new();
    let b = s.broker().await;
    let mut a1 = s.w.actuator(&b, "actuator1").await;
    let mut prober = s.w.connected(&b, "prober", ProtocolVersion::V5).await;
    // ES256 through the JWKS (kid k1), and RS256 through the certificate (no kid).
    for (who, signer) in [("jwt-sensor1", &s.es), ("jwt-sensor2", &s.rs)] {
        let token = signer.sign(&claims(who, 3600));
        let (mut c, ack) = jwt_client(&s, &b, jwt_connect(who, "CUSTOM-JWT", Some(&token))).await;
        assert_eq!(ack.code, 0, "{who}: {ack:?}");
        // `type: sensor` made it a member of `sensors`: it may publish its own status, not another's.
        assert_eq!(c.publish(&format!("clients/{who}/status"), "online", QoS::AtLeastOnce).await, Some(0));
        assert_eq!(c.publish("clients/sensor1/status", "forged", QoS::AtLeastOnce).await, Some(0x87));
        let p = a1.next_publish(WAIT).await.expect("the online status");
        assert_eq!(&p.payload[..], b"online");
        cut(c);
        let will = a1.next_publish(WAIT).await.expect("the will after the reset");
        assert_eq!((will.topic.as_str(), &will.payload[..]), (format!("clients/{who}/status").as_str(), &b"offline"[..]));
    }
    a1.expect_only_probe(&mut prober, "probe/1").await;
    b.shutdown().await;
}

/// Every refusal is a CONNACK with the code and (diagnostics) the reason, and no will follows.
#[tokio::test]
async fn bad_tokens_are_refused_with_their_reason() {
    let s = Setup::new();
    let b = s.broker().await;
    let mut a1 = s.w.actuator(&b, "actuator1").await;
    let mut prober = s.w.connected(&b, "prober", ProtocolVersion::V5).await;
    let mut c = claims("jwt-sensor1", 3600);
    let good = s.es.sign(&c);
    let stranger = Signer::es256("k1"); // same kid, other key
    let mut wrong_aud = c.clone();
    wrong_aud["aud"] = json!("other.westus2-1.ts.eventgrid.azure.net");
    let mut wrong_iss = c.clone();
    wrong_iss["iss"] = json!("https://evil.test");
    let mut expired = c.clone();
    expired["exp"] = json!(now() - 3600);
    let mut early = c.clone();
    early["nbf"] = json!(now() + 3600);
    let mut string_nbf = c.clone();
    string_nbf["nbf"] = json!((now() + 3600).to_string());
    c.as_object_mut().unwrap().remove("sub");
    let no_sub = s.es.sign(&c);
    let cases: Vec<(&str, Connect, u8, &str)> = vec![
        ("bad signature", jwt_connect("x1", "CUSTOM-JWT", Some(&stranger.sign(&claims("x1", 60)))), 0x86, "signature"),
        ("wrong audience", jwt_connect("x2", "CUSTOM-JWT", Some(&s.es.sign(&wrong_aud))), 0x86, "audience"),
        ("wrong issuer", jwt_connect("x3", "CUSTOM-JWT", Some(&s.es.sign(&wrong_iss))), 0x86, "issuer \"https://evil.test\""),
        ("expired", jwt_connect("x4", "CUSTOM-JWT", Some(&s.es.sign(&expired))), 0x86, "expired"),
        ("not yet valid", jwt_connect("x5", "CUSTOM-JWT", Some(&s.es.sign(&early))), 0x86, "not valid yet"),
        ("nbf as a string", jwt_connect("x6", "CUSTOM-JWT", Some(&s.es.sign(&string_nbf))), 0x86, "nbf"),
        ("unknown kid", jwt_connect("x7", "CUSTOM-JWT", Some(&Signer::es256("k9").sign(&claims("x7", 60)))), 0x86, "kid \"k9\""),
        ("malformed", jwt_connect("x8", "CUSTOM-JWT", Some("not.a.jwt")), 0x86, "malformed"),
        ("no sub", jwt_connect("x9", "CUSTOM-JWT", Some(&no_sub)), 0x86, "sub"),
        ("no token", jwt_connect("x10", "CUSTOM-JWT", None), 0x86, "no token"),
        ("unknown method", jwt_connect("x11", "SCRAM-SHA-1", Some(&good)), 0x8C, "not supported"),
        ("method not configured", jwt_connect("x12", "OAUTH2-JWT", Some(&good)), 0x8C, "not supported"),
    ];
    for (what, connect, code, reason) in cases {
        let (mut c, ack) = jwt_client(&s, &b, connect).await;
        let told = ack.properties.reason_string().unwrap_or_default();
        assert_eq!(ack.code, code, "{what}: {told}");
        assert!(told.contains(reason), "{what}: reason {told:?} should name {reason:?}");
        assert_eq!(c.expect_closed().await, None, "{what}: closed after the CONNACK");
    }
    // The refused clients' wills were never armed: only the probe arrives.
    a1.expect_only_probe(&mut prober, "probe/1").await;
    // The good token still works.
    let (_ok, ack) = jwt_client(&s, &b, jwt_connect("jwt-sensor1", "CUSTOM-JWT", Some(&good))).await;
    assert_eq!(ack.code, 0);
    b.shutdown().await;
}

#[tokio::test]
async fn re_authentication_extends_the_connection_and_a_bad_one_ends_it_with_the_will() {
    let s = Setup::new();
    let b = s.broker().await;
    let mut a1 = s.w.actuator(&b, "actuator1").await;
    let mut prober = s.w.connected(&b, "prober", ProtocolVersion::V5).await;
    let short = s.es.sign(&claims("jwt-sensor1", 2));
    let (mut c, ack) = jwt_client(&s, &b, jwt_connect("jwt-sensor1", "CUSTOM-JWT", Some(&short))).await;
    assert_eq!(ack.code, 0);
    c.send(auth(0x19, "CUSTOM-JWT", &s.es.sign(&claims("jwt-sensor1", 3600)))).await;
    match c.recv(WAIT).await {
        Recv::Packet(Packet::Auth(a)) => {
            assert_eq!(a.reason, 0x00);
            assert_eq!(a.properties.authentication_method().as_deref(), Some("CUSTOM-JWT"));
        }
        other => panic!("expected AUTH 0x00, got {other:?}"),
    }
    // The first token's expiry passes: the connection is still served.
    tokio::time::sleep(Duration::from_secs(3)).await;
    c.send(Packet::PingReq).await;
    assert!(matches!(c.recv(WAIT).await, Recv::Packet(Packet::PingResp)), "still connected after the old token expired");
    // A re-authentication as someone else is refused: DISCONNECT 0x87, and the will goes out.
    c.send(auth(0x19, "CUSTOM-JWT", &s.es.sign(&claims("jwt-sensor2", 3600)))).await;
    assert_eq!(c.expect_closed().await, Some(0x87));
    let will = a1.next_publish(WAIT).await.expect("the will after the refused re-authentication");
    assert_eq!(will.topic, "clients/jwt-sensor1/status");

    // An expired token at re-authentication: DISCONNECT 0x87 too.
    let (mut c, _) = jwt_client(&s, &b, jwt_connect("jwt-sensor1", "CUSTOM-JWT", Some(&s.es.sign(&claims("jwt-sensor1", 3600))))).await;
    let mut old = claims("jwt-sensor1", 0);
    old["exp"] = json!(now() - 10);
    c.send(auth(0x19, "CUSTOM-JWT", &s.es.sign(&old))).await;
    assert_eq!(c.expect_closed().await, Some(0x87));
    assert!(a1.next_publish(WAIT).await.is_some(), "the will follows");

    // Another method, or a reason other than 0x19, is a protocol error.
    let (mut c, _) = jwt_client(&s, &b, jwt_connect("jwt-sensor1", "CUSTOM-JWT", Some(&s.es.sign(&claims("jwt-sensor1", 3600))))).await;
    c.send(auth(0x19, "OAUTH2-JWT", "x")).await;
    assert_eq!(c.expect_closed().await, Some(0x82));
    assert!(a1.next_publish(WAIT).await.is_some());
    let (mut c, _) = jwt_client(&s, &b, jwt_connect("jwt-sensor1", "CUSTOM-JWT", Some(&s.es.sign(&claims("jwt-sensor1", 3600))))).await;
    c.send(auth(0x18, "CUSTOM-JWT", "x")).await;
    assert_eq!(c.expect_closed().await, Some(0x82));
    assert!(a1.next_publish(WAIT).await.is_some());
    // AUTH on a certificate connection: protocol error as well.
    let mut s1 = s.w.connected(&b, "sensor1", ProtocolVersion::V5).await;
    s1.send(auth(0x19, "CUSTOM-JWT", "x")).await;
    assert_eq!(s1.expect_closed().await, Some(0x82));
    a1.expect_only_probe(&mut prober, "probe/1").await;
    b.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_ends_the_connection_with_0xa0_and_the_will() {
    let s = Setup::new();
    let b = s.broker().await;
    let mut a1 = s.w.actuator(&b, "actuator1").await;
    let token = s.es.sign(&claims("jwt-sensor1", 2));
    let (mut c, ack) = jwt_client(&s, &b, jwt_connect("jwt-sensor1", "CUSTOM-JWT", Some(&token))).await;
    assert_eq!(ack.code, 0);
    let started = std::time::Instant::now();
    let code = loop {
        match c.recv(Duration::from_secs(5)).await {
            Recv::Packet(Packet::Disconnect(d)) => break Some(d.reason),
            Recv::Closed => break None,
            Recv::Timeout => panic!("still connected 5 s after the token expired"),
            Recv::Packet(_) => continue,
        }
    };
    assert_eq!(code, Some(0xA0), "DISCONNECT Maximum connect time");
    assert!(started.elapsed() <= Duration::from_secs(4), "ended {:?} after CONNECT, token lived 2 s", started.elapsed());
    let will = a1.next_publish(WAIT).await.expect("the will of the expired connection");
    assert_eq!((will.topic.as_str(), &will.payload[..]), ("clients/jwt-sensor1/status", &b"offline"[..]));
    b.shutdown().await;
    let ev = events(&s.dir.path().join("events.jsonl"));
    let last = ev.iter().rev().find(|e| e["data"]["clientSessionName"] == "jwt-sensor1").expect("an event for jwt-sensor1");
    assert_eq!(last["data"]["disconnectionReason"], "ClientAuthenticationError");
    assert_eq!(last["data"]["clientAuthenticationName"], "jwt-sensor1");
}

/// OAUTH2-JWT (Entra ID): the audience is fixed, the identity is `oid`, and only its role
/// assignments authorize it.
#[tokio::test]
async fn entra_identities_are_authorized_by_their_role_assignments() {
    let s = Setup::new();
    let d = s.dir.path();
    std::fs::write(d.join("entra.jwks.json"), s.es.jwks()).unwrap();
    let tenant = "https://login.microsoftonline.com/t1/v2.0";
    let extra = format!(
        "entraJwtAuthentication:\n  tokenIssuer: {tenant}\n  issuerCertificates:\n    - file: {}\n  roleAssignments:\n    \
         - principalId: OID-1\n      role: EventGrid TopicSpaces Publisher\n      topicSpaceName: lwtSub\n",
        d.join("entra.jwks.json").display()
    );
    let b = s.w.broker(&(s.yaml() + &extra)).await;
    let mut a1 = s.w.actuator(&b, "actuator1").await;
    let t = s.es.sign(&json!({"iss": tenant, "sub": "app", "oid": "OID-1", "aud": "https://eventgrid.azure.net/", "nbf": now() - 5, "exp": now() + 600}));
    let (mut c, ack) = jwt_client(&s, &b, jwt_connect("entra-app", "OAUTH2-JWT", Some(&t))).await;
    assert_eq!(ack.code, 0, "{ack:?}");
    assert_eq!(c.publish("clients/any/status", "hi", QoS::AtLeastOnce).await, Some(0));
    assert_eq!(c.publish("probe/1", "x", QoS::AtLeastOnce).await, Some(0x87), "outside its role's topic space");
    assert_eq!(c.subscribe("clients/+/status").await, 0x87, "Publisher does not imply Subscriber");
    assert_eq!(&a1.next_publish(WAIT).await.expect("the published message").payload[..], b"hi");
    // A custom-issuer audience is not Entra's.
    let wrong = s.es.sign(&json!({"iss": tenant, "sub": "app", "oid": "OID-1", "aud": AUD, "nbf": now() - 5, "exp": now() + 600}));
    let (_, ack) = jwt_client(&s, &b, jwt_connect("entra-app2", "OAUTH2-JWT", Some(&wrong))).await;
    assert_eq!(ack.code, 0x86);
    b.shutdown().await;
}

#[test]
fn bad_issuer_configurations_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("k.json");
    std::fs::write(&jwks, Signer::es256("k").jwks()).unwrap();
    std::fs::write(dir.path().join("junk.pem"), "-----BEGIN NOTHING-----\n").unwrap();
    let origin = dir.path().join("ns.yaml");
    let origin = origin.to_str().unwrap();
    let base = "name: ns1\ncustomJwtAuthentication:\n  tokenIssuer: i\n";
    for (extra, want) in [
        ("  issuerCertificates:\n    - file: k.json\n", "customJwtAuthentication.audiences: is required"),
        ("  audiences: []\n  issuerCertificates:\n    - file: k.json\n", "at least one non-empty audience"),
        ("  audiences: [a]\n  issuerCertificates: []\n", "needs 1 to 2 entries"),
        ("  audiences: [a]\n  issuerCertificates:\n    - file: k.json\n    - file: k.json\n    - file: k.json\n", "needs 1 to 2 entries"),
        ("  audiences: [a]\n  issuerCertificates:\n    - file: missing.json\n", "cannot read"),
        ("  audiences: [a]\n  issuerCertificates:\n    - file: junk.pem\n", "neither a JWKS nor a PEM"),
        ("  audiences: [a]\n  issuerCertificates:\n    - encodedCertificate: '{\"keys\": 3}'\n", "not a JWKS"),
        ("  audiences: [a]\n  issuerCertificates:\n    - certificateUrl: https://kv/x\n", "exactly one of file or encodedCertificate"),
        ("  audiences: [a]\n  issuerCertificates:\n    - file: k.json\n  roleAssignments:\n    - principalId: p\n      role: Owner\n", "only entraJwtAuthentication"),
    ] {
        let e = Namespace::parse(&format!("{base}{extra}"), origin).expect_err(extra).to_string();
        assert!(e.contains(want), "{extra}: {e}");
    }
    let entra = format!(
        "name: ns1\ntopicSpaces:\n  - name: ts1\n    topicTemplates: [a]\nentraJwtAuthentication:\n  tokenIssuer: i\n  issuerCertificates:\n    - file: k.json\n  roleAssignments:\n    - principalId: p\n      role: {}\n"
    , "EventGrid TopicSpaces Owner");
    assert!(Namespace::parse(&entra, origin).unwrap_err().to_string().contains("use \"EventGrid TopicSpaces Publisher\""));
    let ok = Namespace::parse(&format!("{base}  audiences: [a]\n  issuerCertificates:\n    - file: k.json\n"), origin).unwrap();
    let issuer = ok.jwt_authentication().custom.as_ref().unwrap();
    assert_eq!((issuer.keys.len(), issuer.keys[0].kid.as_deref(), issuer.leeway_secs), (1, Some("k"), 5));
}
