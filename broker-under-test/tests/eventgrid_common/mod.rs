//! Helpers shared by the Event Grid model tests (`eventgrid_*.rs`): generated CAs and client
//! certificates, SAN builders, authentication as the broker does it, and a namespace with one client
//! per validation scheme.
#![allow(dead_code)]

use lwt_broker::eventgrid::{AuthFailure, AuthRequest, Namespace, Principal};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::CertificateDer;
use std::time::SystemTime;
use time::OffsetDateTime;

/// A test certificate authority (root or intermediate) that signs the leaves under test.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    /// A self-signed root CA named `cn`.
    pub fn new(cn: &str) -> Ca {
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

    /// An intermediate CA named `cn`, signed by this one.
    pub fn intermediate(&self, cn: &str) -> Ca {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        p.use_authority_key_identifier_extension = true;
        Ca {
            issuer: CertifiedIssuer::signed_by(p, KeyPair::generate().unwrap(), &self.issuer).unwrap(),
        }
    }

    /// The CA certificate as PEM, for a namespace file.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA certificate as DER, for a presented chain.
    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }
}

/// A client certificate to generate: subject CN, SANs and validity, signed later by a [`Ca`] or itself.
#[derive(Clone)]
pub struct Leaf {
    /// Subject Common Name, if any.
    pub cn: Option<&'static str>,
    /// Subject Alternative Names.
    pub sans: Vec<SanType>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl Leaf {
    /// A leaf with subject CN `cn` and no SANs, valid from yesterday for 30 days.
    pub fn cn(cn: &'static str) -> Leaf {
        Leaf {
            cn: Some(cn),
            ..Leaf::sans(vec![])
        }
    }
    /// A leaf without a CN carrying `sans`, valid from yesterday for 30 days.
    pub fn sans(sans: Vec<SanType>) -> Leaf {
        let now = OffsetDateTime::now_utc();
        Leaf {
            cn: None,
            sans,
            not_before: now - time::Duration::days(1),
            not_after: now + time::Duration::days(30),
        }
    }
    /// The same leaf valid from `from_days` to `to_days` from now (negative: in the past).
    pub fn valid(mut self, from_days: i64, to_days: i64) -> Leaf {
        let now = OffsetDateTime::now_utc();
        self.not_before = now + time::Duration::days(from_days);
        self.not_after = now + time::Duration::days(to_days);
        self
    }
    /// The rcgen parameters for this leaf (client-auth key usage).
    pub fn params(&self) -> CertificateParams {
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
    /// The leaf signed by `ca`, as DER.
    pub fn signed_by(&self, ca: &Ca) -> CertificateDer<'static> {
        let issuer: &Issuer<'_, KeyPair> = &ca.issuer;
        self.params()
            .signed_by(&KeyPair::generate().unwrap(), issuer)
            .unwrap()
            .der()
            .clone()
    }
    /// The leaf signed by its own key, as DER.
    pub fn self_signed(&self) -> CertificateDer<'static> {
        self.params()
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .clone()
    }
}

/// A DNS-name SAN, for the DNS validation scheme.
pub fn dns(s: &str) -> SanType {
    SanType::DnsName(s.try_into().unwrap())
}
/// A URI SAN, for the URI validation scheme.
pub fn uri(s: &str) -> SanType {
    SanType::URI(s.try_into().unwrap())
}
/// An e-mail (RFC 822) SAN, for the e-mail validation scheme.
pub fn email(s: &str) -> SanType {
    SanType::Rfc822Name(s.try_into().unwrap())
}
/// An IP-address SAN, for the IP validation scheme.
pub fn ip(s: &str) -> SanType {
    SanType::IpAddress(s.parse().unwrap())
}

/// The certificate thumbprint the namespace file names (as the broker computes it).
pub fn thumbprint(der: &CertificateDer<'_>) -> String {
    lwt_broker::eventgrid::authn::thumbprint(der.as_ref())
}

/// `pem` indented by `by` spaces, to embed it in a YAML block scalar.
pub fn indent(pem: &str, by: usize) -> String {
    pem.lines().map(|l| format!("{}{l}\n", " ".repeat(by))).collect()
}

/// Authenticates a connection presenting `username` and `certs` now, as the broker would at CONNECT.
pub fn auth(ns: &Namespace, username: Option<&str>, certs: &[CertificateDer<'static>]) -> Result<Principal, AuthFailure> {
    ns.authenticate(&AuthRequest {
        username,
        client_id: "session-1",
        peer_certs: certs,
        now: SystemTime::now(),
        auth_method: None,
        auth_data: None,
    })
}

/// A namespace with one client per validation scheme, trusting `ca`.
pub fn scheme_namespace(ca: &Ca, thumbs: &[String], extra_settings: &str) -> Namespace {
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
