//! The Event Grid access model end to end: namespace files, X.509 authentication with generated
//! certificates, and publish/subscribe authorization (the seeds' walkthrough).

use lwt_broker::eventgrid::{AuthFailure, AuthRequest, Namespace, NamespaceError, Principal};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::CertificateDer;
use std::path::Path;
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;

// ---------------------------------------------------------------- certificates

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(cn: &str) -> Ca {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        Ca {
            issuer: CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn intermediate(&self, cn: &str) -> Ca {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        p.use_authority_key_identifier_extension = true;
        Ca {
            issuer: CertifiedIssuer::signed_by(p, KeyPair::generate().unwrap(), &self.issuer).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }
}

#[derive(Clone)]
struct Leaf {
    cn: Option<&'static str>,
    sans: Vec<SanType>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Leaf {
    fn cn(cn: &'static str) -> Leaf {
        Leaf {
            cn: Some(cn),
            ..Leaf::sans(vec![])
        }
    }
    fn sans(sans: Vec<SanType>) -> Leaf {
        let now = OffsetDateTime::now_utc();
        Leaf {
            cn: None,
            sans,
            not_before: now - time::Duration::days(1),
            not_after: now + time::Duration::days(30),
        }
    }
    fn valid(mut self, from_days: i64, to_days: i64) -> Leaf {
        let now = OffsetDateTime::now_utc();
        self.not_before = now + time::Duration::days(from_days);
        self.not_after = now + time::Duration::days(to_days);
        self
    }
    fn params(&self) -> CertificateParams {
        let mut p = CertificateParams::default();
        p.distinguished_name = DistinguishedName::new(); // rcgen's default has a CN of its own
        if let Some(cn) = self.cn {
            p.distinguished_name.push(DnType::CommonName, cn);
        }
        p.subject_alt_names = self.sans.clone();
        p.not_before = self.not_before;
        p.not_after = self.not_after;
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.use_authority_key_identifier_extension = true;
        p
    }
    fn signed_by(&self, ca: &Ca) -> CertificateDer<'static> {
        let issuer: &Issuer<'_, KeyPair> = &ca.issuer;
        self.params()
            .signed_by(&KeyPair::generate().unwrap(), issuer)
            .unwrap()
            .der()
            .clone()
    }
    fn self_signed(&self) -> CertificateDer<'static> {
        self.params()
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .clone()
    }
}

fn dns(s: &str) -> SanType {
    SanType::DnsName(s.try_into().unwrap())
}
fn uri(s: &str) -> SanType {
    SanType::URI(s.try_into().unwrap())
}
fn email(s: &str) -> SanType {
    SanType::Rfc822Name(s.try_into().unwrap())
}
fn ip(s: &str) -> SanType {
    SanType::IpAddress(s.parse().unwrap())
}

fn thumbprint(der: &CertificateDer<'_>) -> String {
    lwt_broker::eventgrid::authn::thumbprint(der.as_ref())
}

fn indent(pem: &str, by: usize) -> String {
    pem.lines().map(|l| format!("{}{l}\n", " ".repeat(by))).collect()
}

// ---------------------------------------------------------------- helpers

fn auth(ns: &Namespace, username: Option<&str>, certs: &[CertificateDer<'static>]) -> Result<Principal, AuthFailure> {
    ns.authenticate(&AuthRequest {
        username,
        client_id: "session-1",
        peer_certs: certs,
        now: SystemTime::now(),
        auth_method: None,
    })
}

fn parse_err(yaml: &str) -> String {
    match Namespace::parse(yaml, "fixtures/namespaces/bad.yaml") {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

/// A namespace with one client per validation scheme, trusting `ca`.
fn scheme_namespace(ca: &Ca, thumbs: &[String], extra_settings: &str) -> Namespace {
    let yaml = format!(
        r#"name: schemes
settings:
  maximumSessionExpiryInHours: 2
{extra_settings}
caCertificates:
  - name: test-root
    encodedCertificate: |
{pem}
clients:
  - name: subj1
    clientCertificateAuthentication: {{ validationScheme: SubjectMatchesAuthenticationName }}
  - name: default1
  - name: dns1
    authenticationName: dev.example.com
    clientCertificateAuthentication: {{ validationScheme: DnsMatchesAuthenticationName }}
  - name: uri1
    authenticationName: spiffe://lwt/dev1
    clientCertificateAuthentication: {{ validationScheme: UriMatchesAuthenticationName }}
  - name: ip1
    authenticationName: "10.0.0.7"
    clientCertificateAuthentication: {{ validationScheme: IpMatchesAuthenticationName }}
  - name: ip6
    authenticationName: "2001:db8::1"
    clientCertificateAuthentication: {{ validationScheme: IpMatchesAuthenticationName }}
  - name: mail1
    authenticationName: dev@example.com
    clientCertificateAuthentication: {{ validationScheme: EmailMatchesAuthenticationName }}
  - name: thumb1
    clientCertificateAuthentication:
      validationScheme: ThumbprintMatch
      allowedThumbprints: [{t0}, {t1}]
  - name: off1
    state: Disabled
    clientCertificateAuthentication: {{ validationScheme: SubjectMatchesAuthenticationName }}
"#,
        pem = indent(&ca.pem(), 6),
        t0 = thumbs[0],
        t1 = thumbs.get(1).cloned().unwrap_or_else(|| "00".repeat(32)),
    );
    Namespace::parse(&yaml, "schemes.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

// ---------------------------------------------------------------- authentication

#[test]
fn every_validation_scheme_accepts_the_right_certificate_and_refuses_the_wrong_one() {
    let ca = Ca::new("test-root");
    let self_signed = Leaf::cn("thumb1").self_signed();
    let ns = scheme_namespace(&ca, &[thumbprint(&self_signed).to_uppercase()], "");

    // (username, accepted leaf, refused leaf)
    let cases: Vec<(&str, Leaf, Leaf)> = vec![
        ("subj1", Leaf::cn("subj1"), Leaf::cn("subj2")),
        ("default1", Leaf::cn("default1"), Leaf::sans(vec![dns("default1")])),
        (
            "dev.example.com",
            Leaf::sans(vec![dns("other.example.com"), dns("DEV.example.com")]),
            Leaf::cn("dev.example.com"),
        ),
        (
            "spiffe://lwt/dev1",
            Leaf::sans(vec![uri("spiffe://lwt/dev1")]),
            Leaf::sans(vec![uri("spiffe://lwt/dev2")]),
        ),
        (
            "10.0.0.7",
            Leaf::sans(vec![ip("10.0.0.7")]),
            Leaf::sans(vec![ip("10.0.0.8"), dns("10.0.0.7")]),
        ),
        (
            "2001:db8::1",
            Leaf::sans(vec![ip("2001:0db8:0:0:0:0:0:1")]),
            Leaf::sans(vec![ip("2001:db8::2")]),
        ),
        (
            "dev@example.com",
            Leaf::sans(vec![email("dev@example.com")]),
            Leaf::sans(vec![email("other@example.com")]),
        ),
    ];
    for (name, good, bad) in cases {
        let p = auth(&ns, Some(name), &[good.signed_by(&ca)]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.authentication_name, name);
        let e = auth(&ns, Some(name), &[bad.signed_by(&ca)]).expect_err(name);
        assert!(matches!(e, AuthFailure::NameMismatch { .. }), "{name}: {e:?}");
        assert_eq!((e.v5_code(), e.v311_code()), (0x86, 0x04));
        assert!(e.to_string().contains("requires"), "{e}");
    }

    // ThumbprintMatch: the self-signed leaf is accepted (thumbprint configured in upper case).
    let p = auth(&ns, Some("thumb1"), std::slice::from_ref(&self_signed)).unwrap();
    assert_eq!(p.client_name, "thumb1");
    let other = Leaf::cn("thumb1").self_signed();
    let e = auth(&ns, Some("thumb1"), std::slice::from_ref(&other)).unwrap_err();
    assert_eq!(
        e,
        AuthFailure::ThumbprintMismatch {
            client: "thumb1".into(),
            thumbprint: thumbprint(&other)
        }
    );
    assert!(
        e.to_string().contains(&thumbprint(&other)) && e.to_string().contains("client thumb1"),
        "{e}"
    );
    assert_eq!(e.v5_code(), 0x86);
    // A CA-signed cert with the right CN is still refused by thumbprint.
    assert!(matches!(
        auth(&ns, Some("thumb1"), &[Leaf::cn("thumb1").signed_by(&ca)]),
        Err(AuthFailure::ThumbprintMismatch { .. })
    ));
}

#[test]
fn second_thumbprint_allows_rotation() {
    let ca = Ca::new("root");
    let a = Leaf::cn("x").self_signed();
    let b = Leaf::cn("y").self_signed();
    let ns = scheme_namespace(&ca, &[thumbprint(&a), thumbprint(&b)], "");
    assert!(auth(&ns, Some("thumb1"), &[a]).is_ok());
    assert!(auth(&ns, Some("thumb1"), &[b]).is_ok());
}

#[test]
fn validity_period_is_checked_for_every_scheme() {
    let ca = Ca::new("root");
    let expired_ss = Leaf::cn("thumb1").valid(-30, -1).self_signed();
    let future_ss = Leaf::cn("thumb1").valid(2, 30).self_signed();
    let ns = scheme_namespace(&ca, &[thumbprint(&expired_ss), thumbprint(&future_ss)], "");

    let e = auth(&ns, Some("subj1"), &[Leaf::cn("subj1").valid(-30, -1).signed_by(&ca)]).unwrap_err();
    assert!(matches!(e, AuthFailure::CertificateExpired { .. }), "{e:?}");
    assert!(e.to_string().contains("expired"), "{e}");
    let e = auth(&ns, Some("subj1"), &[Leaf::cn("subj1").valid(2, 30).signed_by(&ca)]).unwrap_err();
    assert!(matches!(e, AuthFailure::CertificateNotYetValid { .. }), "{e:?}");
    assert!(e.to_string().contains("not valid before"), "{e}");
    let e = auth(&ns, Some("thumb1"), &[expired_ss]).unwrap_err();
    assert!(matches!(e, AuthFailure::CertificateExpired { .. }), "{e:?}");
    let e = auth(&ns, Some("thumb1"), std::slice::from_ref(&future_ss)).unwrap_err();
    assert!(matches!(e, AuthFailure::CertificateNotYetValid { .. }), "{e:?}");
    // `now` is the request's clock, not the wall clock.
    let later = SystemTime::now() + Duration::from_secs(5 * 86_400);
    let req = AuthRequest {
        username: Some("thumb1"),
        client_id: "c",
        peer_certs: &[future_ss],
        now: later,
        auth_method: None,
    };
    assert!(ns.authenticate(&req).is_ok());
}

#[test]
fn untrusted_ca_and_intermediate_chains() {
    let root = Ca::new("root");
    let rogue = Ca::new("root");
    let ns = scheme_namespace(&root, &["00".repeat(32)], "");
    let e = auth(&ns, Some("subj1"), &[Leaf::cn("subj1").signed_by(&rogue)]).unwrap_err();
    assert!(matches!(e, AuthFailure::UntrustedCertificate { .. }), "{e:?}");
    assert!(e.to_string().contains("does not chain"), "{e}");
    assert_eq!(e.v5_code(), 0x86);
    // A self-signed leaf with the right CN is not enough for a chain scheme.
    assert!(matches!(
        auth(&ns, Some("subj1"), &[Leaf::cn("subj1").self_signed()]),
        Err(AuthFailure::UntrustedCertificate { .. })
    ));

    // root → intermediate → leaf: the client presents the intermediate.
    let inter = root.intermediate("inter");
    let leaf = Leaf::cn("subj1").signed_by(&inter);
    assert!(auth(&ns, Some("subj1"), &[leaf.clone(), inter.der()]).is_ok());
    assert!(matches!(
        auth(&ns, Some("subj1"), std::slice::from_ref(&leaf)),
        Err(AuthFailure::UntrustedCertificate { .. })
    ));
    // Uploading just the intermediate to the namespace is enough [AUTH, CHAIN].
    let ns_inter = scheme_namespace(&inter, &["00".repeat(32)], "");
    assert!(auth(&ns_inter, Some("subj1"), &[leaf]).is_ok());
}

#[test]
fn refusals_before_the_certificate_is_looked_at() {
    let ca = Ca::new("root");
    let ns = scheme_namespace(&ca, &["00".repeat(32)], "");
    let good = Leaf::cn("subj1").signed_by(&ca);

    // Disabled client: known and identified, but not authorized.
    let e = auth(&ns, Some("off1"), &[Leaf::cn("off1").signed_by(&ca)]).unwrap_err();
    assert_eq!(e, AuthFailure::ClientDisabled { client: "off1".into() });
    assert_eq!((e.v5_code(), e.v311_code()), (0x87, 0x05));
    assert_eq!(e.to_string(), "client off1 is disabled");

    // No certificate (plain TCP).
    let e = auth(&ns, Some("subj1"), &[]).unwrap_err();
    assert!(
        matches!(e, AuthFailure::NoCertificate { .. }) && e.v5_code() == 0x86 && e.v311_code() == 0x04,
        "{e:?}"
    );

    // Unknown authentication name.
    let e = auth(&ns, Some("nobody"), std::slice::from_ref(&good)).unwrap_err();
    assert_eq!(
        e,
        AuthFailure::UnknownClient {
            authentication_name: "nobody".into()
        }
    );
    assert_eq!(e.v311_code(), 0x04);

    // No username and no alternative sources configured.
    let e = auth(&ns, None, std::slice::from_ref(&good)).unwrap_err();
    assert!(matches!(e, AuthFailure::NoAuthenticationName { .. }), "{e:?}");

    // Username that does not match the certificate.
    let e = auth(&ns, Some("subj1"), &[Leaf::cn("default1").signed_by(&ca)]).unwrap_err();
    assert!(matches!(e, AuthFailure::NameMismatch { .. }), "{e:?}");
    assert!(
        e.to_string().contains("default1") && e.to_string().contains("subj1"),
        "{e}"
    );

    // Lookup ignores case; the principal keeps the registered case.
    let p = auth(&ns, Some("SUBJ1"), std::slice::from_ref(&good)).unwrap();
    assert_eq!(
        (p.client_name.as_str(), p.authentication_name.as_str()),
        ("subj1", "subj1")
    );
    assert_eq!(p.groups, vec!["$all".to_string()]);

    // v5 Authentication Method → 0x8C.
    let req = AuthRequest {
        username: Some("subj1"),
        client_id: "c",
        peer_certs: std::slice::from_ref(&good),
        now: SystemTime::now(),
        auth_method: Some("OAUTH2-JWT"),
    };
    let e = ns.authenticate(&req).unwrap_err();
    assert_eq!(e.v5_code(), 0x8C);
    assert!(e.to_string().contains("OAUTH2-JWT"));

    // Garbage instead of a certificate: an error, not a panic.
    let junk = CertificateDer::from(vec![0x30, 0x03, 0x01, 0x02]);
    assert!(matches!(
        auth(&ns, Some("subj1"), std::slice::from_ref(&junk)),
        Err(AuthFailure::BadCertificate { .. })
    ));
    assert!(auth(&ns, None, &[junk]).is_err());
}

#[test]
fn alternative_authentication_name_sources_are_tried_in_order() {
    let ca = Ca::new("root");
    let ns = scheme_namespace(
        &ca,
        &["00".repeat(32)],
        "  alternativeAuthenticationNameSources: [ClientCertificateDns, ClientCertificateSubject]",
    );
    // No DNS SAN → the subject CN names the client.
    let p = auth(&ns, None, &[Leaf::cn("subj1").signed_by(&ca)]).unwrap();
    assert_eq!(p.client_name, "subj1");
    // DNS SAN comes first.
    let leaf = Leaf {
        cn: Some("subj1"),
        ..Leaf::sans(vec![dns("dev.example.com")])
    }
    .signed_by(&ca);
    assert_eq!(auth(&ns, None, &[leaf]).unwrap().client_name, "dns1");
    // Neither field present.
    let e = auth(&ns, None, &[Leaf::sans(vec![email("a@b.c")]).signed_by(&ca)]).unwrap_err();
    assert!(
        e.to_string().contains("ClientCertificateDns, ClientCertificateSubject"),
        "{e}"
    );
    // A username still wins.
    assert_eq!(
        auth(&ns, Some("subj1"), &[Leaf::cn("subj1").signed_by(&ca)])
            .unwrap()
            .client_name,
        "subj1"
    );
}

#[test]
fn ca_certificate_from_a_relative_file() {
    let ca = Ca::new("root");
    let dir = std::env::temp_dir().join(format!("eg-model-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    std::fs::write(dir.join("certs/root.pem"), ca.pem()).unwrap();
    let yaml = "name: files\ncaCertificates:\n  - name: root-ca\n    file: certs/root.pem\nclients:\n  - name: dev1\n";
    std::fs::write(dir.join("ns.yaml"), yaml).unwrap();
    let ns = Namespace::load(&dir.join("ns.yaml")).unwrap();
    assert!(auth(&ns, Some("dev1"), &[Leaf::cn("dev1").signed_by(&ca)]).is_ok());
    std::fs::write(dir.join("ns2.yaml"), yaml.replace("root.pem", "missing.pem")).unwrap();
    let e = Namespace::load(&dir.join("ns2.yaml")).unwrap_err().to_string();
    assert!(
        e.contains("ns2.yaml:4:") && e.contains("caCertificates[0].file") && e.contains("missing.pem"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- authorization: the walkthrough

fn example() -> Namespace {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/namespaces/example.yaml");
    Namespace::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The principal the broker would build at CONNECT (the example's thumbprints are placeholders).
fn principal(ns: &Namespace, name: &str) -> Principal {
    let c = ns.client_by_authentication_name(name).unwrap();
    Principal {
        client_name: c.name.clone(),
        authentication_name: c.authentication_name.clone(),
        attributes: c.attributes.clone(),
        groups: ns.groups_for(&c.authentication_name, &c.attributes),
    }
}

#[test]
fn example_namespace_loads_with_documented_settings() {
    let ns = example();
    assert_eq!(ns.name(), "lwt-demo");
    let s = ns.settings();
    assert_eq!(s.profile.as_deref(), Some("eventgrid"));
    assert_eq!(
        (
            s.max_session_expiry_hours,
            s.max_client_sessions_per_authentication_name,
            s.max_will_delay_secs
        ),
        (1, 1, 300)
    );
    assert_eq!(ns.clients().len(), 4);
    // The placeholder thumbprints never match a real certificate.
    let leaf = Leaf::cn("sensor1").self_signed();
    assert!(matches!(
        auth(&ns, Some("sensor1"), &[leaf]),
        Err(AuthFailure::ThumbprintMismatch { .. })
    ));
}

#[test]
fn walkthrough_sensors_publish_own_status_actuators_subscribe() {
    let ns = example();
    let s1 = principal(&ns, "sensor1");
    let s2 = principal(&ns, "sensor2");
    let a1 = principal(&ns, "actuator1");
    assert_eq!(s1.groups, vec!["sensors", "$all"]);
    assert_eq!(a1.groups, vec!["actuators", "$all"]);

    // (who, topic, publish allowed)
    let publish: &[(&Principal, &str, bool)] = &[
        (&s1, "clients/sensor1/status", true),
        (&s2, "clients/sensor2/status", true),
        (&s2, "clients/sensor1/status", false),
        (&s1, "clients/sensor2/status", false),
        (&s1, "clients/sensor1/status/extra", false),
        (&s1, "clients/SENSOR1/status", false),
        (&s1, "clients/sensor1", false),
        (&a1, "clients/actuator1/status", false),
        (&a1, "clients/sensor1/status", false),
        (&s1, "$SYS/clients/sensor1/status", false),
    ];
    for (who, topic, want) in publish {
        assert_eq!(
            ns.may_publish(who, topic).is_ok(),
            *want,
            "{} publish {topic}",
            who.client_name
        );
    }
    // (who, filter, subscribe allowed)
    let subscribe: &[(&Principal, &str, bool)] = &[
        (&a1, "clients/+/status", true),
        (&a1, "clients/sensor1/status", true),
        (&a1, "clients/#", false),
        (&a1, "#", false),
        (&a1, "clients/+/+", false),
        (&a1, "$share/g/clients/+/status", false),
        (&s1, "clients/sensor1/status", false), // Publisher does not imply Subscriber
        (&s1, "clients/+/status", false),
    ];
    for (who, filter, want) in subscribe {
        assert_eq!(
            ns.may_subscribe(who, filter).is_ok(),
            *want,
            "{} subscribe {filter}",
            who.client_name
        );
    }

    let d = ns.may_publish(&s2, "clients/sensor1/status").unwrap_err();
    assert!(
        d.reason.contains("Publisher")
            && d.reason.contains("[sensors, $all]")
            && d.reason.contains("clients/sensor1/status"),
        "{d}"
    );
    let d = ns.may_publish(&a1, "clients/actuator1/status").unwrap_err();
    assert!(
        d.to_string()
            .contains("no Publisher binding for groups [actuators, $all]"),
        "{d}"
    );
    let d = ns.may_subscribe(&s1, "clients/+/status").unwrap_err();
    assert!(d.reason.contains("Subscriber"), "{d}");
}

#[test]
fn injected_names_and_attribute_values_never_widen_access() {
    let yaml = r##"name: inject
clients:
  - { name: ok1, attributes: { area: a1 } }
  - { name: n1, authenticationName: "a+" }
  - { name: n2, authenticationName: "a/#" }
  - { name: n3, authenticationName: "x/y" }
  - { name: n4, authenticationName: "#" }
  - { name: n5, authenticationName: "+" }
  - { name: v1, attributes: { area: "a/b" } }
  - { name: v2, attributes: { area: "+" } }
  - { name: v3, attributes: { area: "#" } }
  - { name: v4, attributes: { area: "" } }
  - { name: v5 }
topicSpaces:
  - { name: own, topicTemplates: ["c/${client.authenticationName}/s", "area/${client.attributes.area}/#"] }
permissionBindings:
  - { name: pub, clientGroupName: $all, topicSpaceName: own, permission: Publisher }
  - { name: sub, clientGroupName: $all, topicSpaceName: own, permission: Subscriber }
"##;
    let ns = Namespace::parse(yaml, "inject.yaml").unwrap_or_else(|e| panic!("{e}"));
    let ok = principal(&ns, "ok1");
    assert!(ns.may_publish(&ok, "c/ok1/s").is_ok());
    assert!(ns.may_publish(&ok, "area/a1/x/y").is_ok());
    assert!(ns.may_subscribe(&ok, "area/a1/#").is_ok());
    let topics = [
        "c/a+/s",
        "c/a/s",
        "c/x/y/s",
        "c/x/s",
        "c/anything/s",
        "c/a/#/s",
        "area/a/b/c",
        "area/x",
        "area//x",
        "area/a1/x",
    ];
    let filters = ["c/+/s", "c/#", "#", "area/#", "area/+/#", "c/a/#", "area/a/#"];
    for name in ["a+", "a/#", "x/y", "#", "+"] {
        let p = principal(&ns, name);
        for t in topics {
            assert!(ns.may_publish(&p, t).is_err(), "{name} publish {t}");
        }
        for f in filters {
            assert!(ns.may_subscribe(&p, f).is_err(), "{name} subscribe {f}");
        }
        let d = ns.may_publish(&p, "c/x/s").unwrap_err();
        assert!(d.reason.contains("cannot be substituted"), "{d}");
    }
    for name in ["v1", "v2", "v3", "v4", "v5"] {
        let p = principal(&ns, name);
        for t in topics {
            if t.starts_with("area/") {
                assert!(ns.may_publish(&p, t).is_err(), "{name} publish {t}");
            }
        }
        for f in filters {
            if f.starts_with("area/") || f == "#" {
                assert!(ns.may_subscribe(&p, f).is_err(), "{name} subscribe {f}");
            }
        }
    }
    let d = ns.may_publish(&principal(&ns, "v5"), "area/x/y").unwrap_err();
    assert!(d.reason.contains("no attribute 'area'"), "{d}");
}

#[test]
fn group_queries_select_bindings() {
    let yaml = r#"name: groups
clients:
  - { name: hi, attributes: { floor: 7, sensors: [motion, noise] } }
  - { name: lo, attributes: { floor: 2, sensors: [humidity] } }
  - { name: none }
clientGroups:
  - { name: upper, query: "attributes.floor >= 5 AND attributes.sensors IN ['motion', 'x']" }
  - { name: not-upper, query: "NOT attributes.floor >= 5" }
topicSpaces:
  - { name: up-space, topicTemplates: ["up/#"] }
  - { name: down-space, topicTemplates: ["down/#"] }
permissionBindings:
  - { name: b-up, clientGroupName: upper, topicSpaceName: up-space, permission: Publisher }
  - { name: b-down, clientGroupName: not-upper, topicSpaceName: down-space, permission: Publisher }
"#;
    let ns = Namespace::parse(yaml, "groups.yaml").unwrap_or_else(|e| panic!("{e}"));
    let hi = principal(&ns, "hi");
    let lo = principal(&ns, "lo");
    let none = principal(&ns, "none");
    assert_eq!(hi.groups, vec!["upper", "$all"]);
    assert_eq!(lo.groups, vec!["not-upper", "$all"]);
    // Missing attribute: the comparison is false, so NOT makes it true.
    assert_eq!(none.groups, vec!["not-upper", "$all"]);
    assert!(ns.may_publish(&hi, "up/1").is_ok() && ns.may_publish(&hi, "down/1").is_err());
    assert!(ns.may_publish(&lo, "down/1").is_ok() && ns.may_publish(&lo, "up/1").is_err());
}

// ---------------------------------------------------------------- namespace file errors

const GOOD: &str = r#"name: lwt-demo
clients:
  - name: sensor1
    attributes: { type: sensor }
clientGroups:
  - name: sensors
    query: attributes.type = "sensor"
topicSpaces:
  - name: status
    topicTemplates:
      - "clients/${client.authenticationName}/status"
permissionBindings:
  - name: sensors-pub
    clientGroupName: sensors
    topicSpaceName: status
    permission: Publisher
"#;

#[test]
fn the_good_file_parses() {
    let ns = Namespace::parse(GOOD, "good.yaml").unwrap();
    assert_eq!(ns.settings(), &lwt_broker::eventgrid::Settings::default());
}

#[test]
fn errors_name_file_line_and_field() {
    // (replace this, with that, expected pieces of the message)
    let cases: &[(&str, &str, &[&str])] = &[
        // unknown key
        (
            "    attributes: { type: sensor }",
            "    atributes: { type: sensor }",
            &["bad.yaml:4", "atributes"],
        ),
        // bad enum value
        (
            "    permission: Publisher",
            "    permission: Publish",
            &["bad.yaml:16", "permission", "Publish"],
        ),
        // query that does not parse: YAML line + column inside the query
        (
            "attributes.type = \"sensor\"",
            "attributes.type == \"sensor\"",
            &["bad.yaml:7:", "clientGroups[0].query", "column 18"],
        ),
        // template that does not parse
        (
            "clients/${client.authenticationName}/status",
            "clients/${client.name}/status",
            &[
                "bad.yaml:11:",
                "topicSpaces[0].topicTemplates[0]",
                "column 11",
                "unknown variable",
            ],
        ),
        // unknown group in a binding
        (
            "    clientGroupName: sensors",
            "    clientGroupName: sensorz",
            &[
                "bad.yaml:14:",
                "permissionBindings[0].clientGroupName",
                "unknown client group \"sensorz\"",
            ],
        ),
        // unknown topic space in a binding
        (
            "    topicSpaceName: status",
            "    topicSpaceName: statos",
            &["bad.yaml:15:", "permissionBindings[0].topicSpaceName", "statos"],
        ),
        // bad client name
        (
            "  - name: sensor1",
            "  - name: sensor 1",
            &["bad.yaml:3:", "clients[0].name", "1-128"],
        ),
        // bad group name
        (
            "  - name: sensors\n    query",
            "  - name: s\n    query",
            &["bad.yaml:6:", "clientGroups[0].name", "3-50"],
        ),
        // $all is built in
        (
            "  - name: sensors\n    query",
            "  - name: $all\n    query",
            &["bad.yaml:6:", "$all is built in"],
        ),
        // attribute key
        (
            "{ type: sensor }",
            "{ ty-pe: sensor }",
            &["bad.yaml:4:", "clients[0].attributes.ty-pe"],
        ),
        // $ topic template
        (
            "\"clients/${client.authenticationName}/status\"",
            "\"$SYS/x\"",
            &["bad.yaml:11:", "column 1", "reserved"],
        ),
    ];
    for (from, to, want) in cases {
        assert!(GOOD.contains(from), "fixture lacks {from:?}");
        let yaml = GOOD.replacen(from, to, 1);
        let e = parse_err(&yaml);
        assert!(e.starts_with("fixtures/namespaces/bad.yaml:"), "{e}");
        for w in *want {
            assert!(e.contains(w), "missing {w:?} in: {e}");
        }
    }
    // duplicate name
    let dup = GOOD.replace(
        "permissionBindings:",
        "  - name: status\n    topicTemplates: [\"x\"]\npermissionBindings:",
    );
    let e = parse_err(&dup);
    assert!(
        e.contains("bad.yaml:12:") && e.contains("topicSpaces[1].name") && e.contains("duplicate topic space"),
        "{e}"
    );
}

#[test]
fn client_rules_are_enforced() {
    let base = "name: rules\nclients:\n";
    let cases: &[(&str, &[&str])] = &[
        ("  - name: a\n  - name: a\n", &[":4:", "clients[1].name", "duplicate client name"]),
        ("  - name: a\n  - name: b\n    authenticationName: A\n", &[":5:", "clients[1].authenticationName", "ignoring case"]),
        ("  - name: a\n    clientCertificateAuthentication: { validationScheme: ThumbprintMatch }\n", &[":4:", "allowedThumbprints", "requires 1 or 2"]),
        ("  - name: a\n    clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: [] }\n", &["1 or 2"]),
        ("  - name: a\n    clientCertificateAuthentication:\n      validationScheme: ThumbprintMatch\n      allowedThumbprints: [aa, bb, cc]\n", &[":6:", "got 3"]),
        ("  - name: a\n    clientCertificateAuthentication:\n      validationScheme: ThumbprintMatch\n      allowedThumbprints: [abc]\n", &[":6:", "not a SHA-256 thumbprint"]),
        ("  - name: a\n    clientCertificateAuthentication:\n      validationScheme: SubjectMatchesAuthenticationName\n      allowedThumbprints: [\"0000000000000000000000000000000000000000000000000000000000000000\"]\n", &[":6:", "only allowed with ThumbprintMatch"]),
        ("  - name: a\n    clientCertificateAuthentication: { validationScheme: Thumbprint }\n", &[":4:", "Thumbprint"]),
        ("  - name: a\n    clientCertificateAuthentication: { validationScheme: IpMatchesAuthenticationName }\n", &[":3:", "IP address"]),
        ("  - name: a\n    state: Paused\n", &[":4:", "state", "Paused"]),
    ];
    for (clients, want) in cases {
        let e = parse_err(&format!("{base}{clients}"));
        for w in *want {
            assert!(e.contains(w), "missing {w:?} in: {e}\n{clients}");
        }
    }
    let big: String = (0..300).map(|i| format!("k{i}: value{i}, ")).collect();
    let e = parse_err(&format!("{base}  - name: a\n    attributes: {{ {big} }}\n"));
    assert!(e.contains(":4:") && e.contains("under 4096"), "{e}");
}

#[test]
fn limits_and_settings_ranges() {
    let groups: String = (0..11)
        .map(|i| format!("  - {{ name: group{i}, query: \"attributes.a = 1\" }}\n"))
        .collect();
    let e = parse_err(&format!("name: lim\nclientGroups:\n{groups}"));
    assert!(e.contains("at most 10 client groups") && e.contains(":13:"), "{e}");
    let tpls: Vec<String> = (0..11).map(|i| format!("\"t/{i}\"")).collect();
    let e = parse_err(&format!(
        "name: lim\ntopicSpaces:\n  - name: many\n    topicTemplates: [{}]\n",
        tpls.join(", ")
    ));
    assert!(e.contains("topicTemplates") && e.contains("got 11"), "{e}");
    let spaces: String = (0..11)
        .map(|i| format!("  - {{ name: space{i}, topicTemplates: [a] }}\n"))
        .collect();
    assert!(parse_err(&format!("name: lim\ntopicSpaces:\n{spaces}")).contains("at most 10 topic spaces"));
    let binds: String = (0..101)
        .map(|i| {
            format!("  - {{ name: bind{i}, clientGroupName: $all, topicSpaceName: sp1, permission: Publisher }}\n")
        })
        .collect();
    assert!(parse_err(&format!(
        "name: lim\ntopicSpaces:\n  - {{ name: sp1, topicTemplates: [a] }}\npermissionBindings:\n{binds}"
    ))
    .contains("at most 100 permission bindings"));

    let e = parse_err("name: lim\nsettings:\n  retain: preview\n  maximumSessionExpiryInHours: 9\n");
    assert!(
        e.contains("bad.yaml:4:") && e.contains("settings.maximumSessionExpiryInHours") && e.contains("1..=8"),
        "{e}"
    );
    let e = parse_err("name: lim\nsettings:\n  maximumClientSessionsPerAuthenticationName: 0\n");
    assert!(e.contains("bad.yaml:3:") && e.contains("1..=100"), "{e}");
    let e = parse_err("name: lim\nsettings:\n  willAuthorization: atPublish\n");
    assert!(
        e.contains("bad.yaml:3") && e.contains("willAuthorization") && e.contains("atPublish"),
        "{e}"
    );
    let e = parse_err(
        "name: lim\nsettings:\n  alternativeAuthenticationNameSources: [ClientCertificateDns, ClientCertificateDns]\n",
    );
    assert!(e.contains("listed twice"), "{e}");
    let e = parse_err("name: x\n");
    assert!(e.contains("bad.yaml:1:") && e.contains("namespace name"), "{e}");
    let e = parse_err("name: lim\ncaCertificates:\n  - name: root\n    encodedCertificate: not a pem\n");
    assert!(
        e.contains("bad.yaml:4:") && e.contains("caCertificates[0].encodedCertificate"),
        "{e}"
    );
    let e = parse_err("name: lim\ncaCertificates:\n  - name: root\n");
    assert!(e.contains("exactly one of encodedCertificate or file"), "{e}");
    // Not even YAML.
    let e = parse_err("name: [unclosed\n");
    assert!(e.starts_with("fixtures/namespaces/bad.yaml:"), "{e}");

    let ok = Namespace::parse(
        "name: lim\nsettings: { willAuthorization: atConnect, qos0Denied: disconnect, retain: unsupported, willDelayOverMax: reject, legacyNoWill: true, maximumSessionExpiryInHours: 8, maximumClientSessionsPerAuthenticationName: 100, subscribeCoverage: overlap, v311PublishDenied: ackAndDrop, websocketCloseIsGraceful: false }\n",
        "ok.yaml",
    )
    .unwrap();
    use lwt_broker::eventgrid::{
        Qos0Denied, RetainMode, SubscribeCoverage, V311PublishDenied, WillAuthorization, WillDelayOverMax,
    };
    let s = ok.settings();
    assert_eq!(s.will_authorization, WillAuthorization::AtConnect);
    assert_eq!(s.qos0_denied, Qos0Denied::Disconnect);
    assert_eq!(s.retain, RetainMode::Unsupported);
    assert_eq!(s.will_delay_over_max, WillDelayOverMax::Reject);
    assert_eq!(s.subscribe_coverage, SubscribeCoverage::Overlap);
    assert_eq!(s.v311_publish_denied, V311PublishDenied::AckAndDrop);
    assert!(s.legacy_no_will && !s.websocket_close_is_graceful);
    assert_eq!(
        (
            s.max_session_expiry_hours,
            s.max_client_sessions_per_authentication_name
        ),
        (8, 100)
    );
}

#[test]
fn namespace_error_is_an_error_type() {
    let e: Box<dyn std::error::Error> = Box::new(Namespace::parse("name: x", "f.yaml").unwrap_err());
    assert!(e.to_string().starts_with("f.yaml:1:"));
    assert!(matches!(
        Namespace::load(Path::new("/nonexistent/ns.yaml")),
        Err(NamespaceError::Io { .. })
    ));
}

#[test]
fn yaml_messages_are_clean_and_attribute_types_are_named() {
    let e = parse_err("name: lim\nclients:\n  - name: a\n    attributes: { x: 1.5 }\n");
    assert!(
        e.starts_with("fixtures/namespaces/bad.yaml:4:")
            && e.contains("attributes")
            && e.contains("an attribute value"),
        "{e}"
    );
    assert!(!e.contains(" at line "), "location is not repeated: {e}");
    let ns = Namespace::parse(
        "name: types\nclients:\n  - { name: a, attributes: { s: x, i: -3, b: true, l: [p, q], q: \"7\" } }\n",
        "t.yaml",
    )
    .unwrap();
    use lwt_broker::eventgrid::AttrValue;
    let a = &ns.clients()[0].attributes;
    assert_eq!(a["s"], AttrValue::Str("x".into()));
    assert_eq!(a["i"], AttrValue::Int(-3));
    assert_eq!(a["b"], AttrValue::Bool(true));
    assert_eq!(a["l"], AttrValue::List(vec!["p".into(), "q".into()]));
    assert_eq!(a["q"], AttrValue::Str("7".into()));
}
