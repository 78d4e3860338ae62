//! The Event Grid access model end to end, X.509 authentication with generated certificates: every
//! validation scheme, thumbprint rotation, validity periods, chains, refusals and the order of
//! authentication name sources.
mod eventgrid_common;
use eventgrid_common::*;
use lwt_broker::eventgrid::{AuthFailure, AuthRequest, Namespace};
use rustls_pki_types::CertificateDer;
use std::time::{Duration, SystemTime};

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
        auth_data: None,
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
        auth_data: None,
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
