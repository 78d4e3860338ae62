//! Test certificates with rcgen: root CA → intermediate CA → a localhost server certificate and one
//! client certificate per name, plus SHA-256 thumbprints in lowercase hex as Event Grid and
//! `step certificate fingerprint` show them.
//!
//! For the Event Grid access model there is more: an [`Authority`] that keeps its key and issues
//! leaves on demand ([`LeafSpec`]: any common name, DNS / URI / IP / email SANs, expired or not yet
//! valid), several unrelated authorities (a trusted one and an untrusted one), and self-signed leaves
//! for `ThumbprintMatch` clients ([`self_signed`]).

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rcgen::Issuer;
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::path::Path;
use time::{Duration, OffsetDateTime};

/// One certificate with its key, as PEM, and its thumbprint.
#[derive(Clone, Debug)]
pub struct Issued {
    /// File stem and common name.
    pub name: String,
    /// Certificate (PEM).
    pub cert_pem: String,
    /// Private key (PKCS#8 PEM). Never commit it.
    pub key_pem: String,
    /// Certificate (DER).
    pub der: Vec<u8>,
    /// SHA-256 of the DER, lowercase hex.
    pub thumbprint: String,
}

/// A complete test PKI.
#[derive(Clone, Debug)]
pub struct Pki {
    /// Root CA.
    pub root: Issued,
    /// Intermediate CA (signed by the root, signs the leaves).
    pub intermediate: Issued,
    /// Server certificate for localhost, 127.0.0.1 and ::1.
    pub server: Issued,
    /// Client certificates, by name.
    pub clients: Vec<Issued>,
}

/// SHA-256 thumbprint of a DER certificate in lowercase hex.
pub fn thumbprint(der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    d.as_ref().iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn params(cn: &str, days: i64) -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "lwt-harness test PKI");
    p.distinguished_name = dn;
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(days);
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

/// A server certificate's parameters: localhost, 127.0.0.1 and ::1, for server authentication.
fn server_params(days: i64) -> anyhow::Result<CertificateParams> {
    let mut sp = params("localhost", days)?;
    sp.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress([127, 0, 0, 1].into()),
        SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
    ];
    sp.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(sp)
}

fn issued(name: &str, cert_pem: String, der: &[u8], key: &KeyPair) -> Issued {
    Issued { name: name.into(), cert_pem, key_pem: key.serialize_pem(), der: der.to_vec(), thumbprint: thumbprint(der) }
}

/// Generates root → intermediate → server + one client certificate per name, valid for `days`.
pub fn generate(clients: &[String], days: i64) -> anyhow::Result<Pki> {
    for c in clients {
        anyhow::ensure!(
            !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch)),
            "client name {c:?} must be non-empty ASCII letters, digits, '-', '_' or '.'"
        );
    }
    let mut rp = params("lwt-harness Root CA", days)?;
    rp.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    rp.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let root_key = KeyPair::generate()?;
    let root_key_pem = root_key.serialize_pem();
    let root = CertifiedIssuer::self_signed(rp, root_key)?;
    let root_issued = Issued {
        name: "root-ca".into(),
        cert_pem: root.pem(),
        key_pem: root_key_pem,
        der: root.der().to_vec(),
        thumbprint: thumbprint(root.der()),
    };

    let mut ip = params("lwt-harness Intermediate CA", days)?;
    ip.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ip.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let int_key = KeyPair::generate()?;
    let int_key_pem = int_key.serialize_pem();
    let inter = CertifiedIssuer::signed_by(ip, int_key, &*root)?;
    let inter_issued = Issued {
        name: "intermediate-ca".into(),
        cert_pem: inter.pem(),
        key_pem: int_key_pem,
        der: inter.der().to_vec(),
        thumbprint: thumbprint(inter.der()),
    };

    let server_key = KeyPair::generate()?;
    let server_cert = server_params(days)?.signed_by(&server_key, &*inter)?;
    let server = issued("server", server_cert.pem(), server_cert.der(), &server_key);

    let mut out = Vec::new();
    for name in clients {
        let mut cp = params(name, days)?;
        cp.subject_alt_names = vec![SanType::DnsName(name.as_str().try_into().with_context(|| format!("client name {name:?}"))?)];
        cp.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate()?;
        let cert = cp.signed_by(&key, &*inter)?;
        out.push(issued(name, cert.pem(), cert.der(), &key));
    }
    Ok(Pki { root: root_issued, intermediate: inter_issued, server, clients: out })
}

/// A subject alternative name of a leaf certificate: each one is what one Event Grid validation
/// scheme compares with the authentication name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum San {
    /// dNSName (`DnsMatchesAuthenticationName`).
    Dns(String),
    /// uniformResourceIdentifier (`UriMatchesAuthenticationName`).
    Uri(String),
    /// iPAddress (`IpMatchesAuthenticationName`).
    Ip(IpAddr),
    /// rfc822Name (`EmailMatchesAuthenticationName`).
    Email(String),
}

impl std::str::FromStr for San {
    type Err = anyhow::Error;
    /// `dns:host`, `uri:urn:x`, `ip:127.0.0.1`, `email:a@b`: how feature tables write SANs.
    fn from_str(s: &str) -> anyhow::Result<San> {
        let (kind, value) = s.split_once(':').with_context(|| format!("SAN {s:?} must be dns:, uri:, ip: or email:"))?;
        let value = value.trim();
        Ok(match kind.trim().to_ascii_lowercase().as_str() {
            "dns" => San::Dns(value.into()),
            "uri" => San::Uri(value.into()),
            "ip" => San::Ip(value.parse().with_context(|| format!("bad IP address {value:?}"))?),
            "email" => San::Email(value.into()),
            other => anyhow::bail!("unknown SAN kind {other:?} (dns, uri, ip, email)"),
        })
    }
}

impl San {
    fn to_rcgen(&self) -> anyhow::Result<SanType> {
        Ok(match self {
            San::Dns(v) => SanType::DnsName(v.as_str().try_into().with_context(|| format!("DNS SAN {v:?}"))?),
            San::Uri(v) => SanType::URI(v.as_str().try_into().with_context(|| format!("URI SAN {v:?}"))?),
            San::Ip(v) => SanType::IpAddress(*v),
            San::Email(v) => SanType::Rfc822Name(v.as_str().try_into().with_context(|| format!("email SAN {v:?}"))?),
        })
    }
}

/// When a leaf is valid, relative to now: authentication must refuse the last two.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Validity {
    /// From yesterday for the leaf's `days`.
    #[default]
    Current,
    /// Ended yesterday (valid from 30 days ago).
    Expired,
    /// Starts tomorrow.
    NotYetValid,
}

/// What a client (leaf) certificate says. Built with [`LeafSpec::new`] and the chainable setters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafSpec {
    /// File stem (`<name>.pem`, `<name>.key`) and the name scenarios use for it.
    pub name: String,
    /// Subject common name; `None` = the file stem.
    pub common_name: Option<String>,
    /// Subject alternative names.
    pub sans: Vec<San>,
    /// Validity period.
    pub validity: Validity,
    /// Length of a current validity, in days.
    pub days: i64,
}

impl LeafSpec {
    /// A current leaf named (and with CN) `name`, no SAN, valid for 30 days.
    pub fn new(name: impl Into<String>) -> Self {
        LeafSpec { name: name.into(), common_name: None, sans: Vec::new(), validity: Validity::Current, days: 30 }
    }
    /// Sets the subject common name.
    pub fn cn(mut self, cn: impl Into<String>) -> Self {
        self.common_name = Some(cn.into());
        self
    }
    /// Adds a subject alternative name.
    pub fn san(mut self, san: San) -> Self {
        self.sans.push(san);
        self
    }
    /// Sets the validity.
    pub fn validity(mut self, v: Validity) -> Self {
        self.validity = v;
        self
    }

    fn params(&self) -> anyhow::Result<CertificateParams> {
        anyhow::ensure!(
            !self.name.is_empty() && self.name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch)),
            "certificate name {:?} must be non-empty ASCII letters, digits, '-', '_' or '.' (it is a file stem; \
             set any common name with cn)",
            self.name
        );
        let cn = self.common_name.as_deref().unwrap_or(&self.name);
        let mut p = params(cn, self.days)?;
        let now = OffsetDateTime::now_utc();
        match self.validity {
            Validity::Current => {}
            Validity::Expired => {
                p.not_before = now - Duration::days(30);
                p.not_after = now - Duration::days(1);
            }
            Validity::NotYetValid => {
                p.not_before = now + Duration::days(1);
                p.not_after = now + Duration::days(30);
            }
        }
        p.subject_alt_names = self.sans.iter().map(San::to_rcgen).collect::<anyhow::Result<_>>()?;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        Ok(p)
    }
}

/// A certificate authority that keeps its key, so scenarios can issue leaves when they need them.
pub struct Authority {
    /// Its own (self-signed) certificate; `key_pem` is its key.
    pub cert: Issued,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority").field("name", &self.cert.name).field("thumbprint", &self.cert.thumbprint).finish()
    }
}

impl Authority {
    /// A new self-signed root CA named `name` (file stem) with common name `cn`, valid for `days`.
    pub fn root(name: &str, cn: &str, days: i64) -> anyhow::Result<Authority> {
        let mut p = params(cn, days)?;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate()?;
        let key_pem = key.serialize_pem();
        let cert = p.self_signed(&key)?;
        let issued = Issued {
            name: name.into(),
            cert_pem: cert.pem(),
            key_pem,
            der: cert.der().to_vec(),
            thumbprint: thumbprint(cert.der()),
        };
        Ok(Authority { cert: issued, issuer: Issuer::new(p, key) })
    }

    /// An existing CA from its certificate and key (PEM files), to issue more leaves from.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Authority> {
        let cert_pem = std::fs::read_to_string(cert).with_context(|| format!("cannot read CA certificate {}", cert.display()))?;
        let key_pem = std::fs::read_to_string(key).with_context(|| format!("cannot read CA key {}", key.display()))?;
        let key_pair = KeyPair::from_pem(&key_pem).with_context(|| format!("bad CA key in {}", key.display()))?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key_pair).with_context(|| format!("bad CA certificate in {}", cert.display()))?;
        use rustls::pki_types::pem::PemObject;
        let der = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .with_context(|| format!("no certificate in {}", cert.display()))?;
        let name = cert.file_stem().and_then(|s| s.to_str()).unwrap_or("ca").to_string();
        let issued = Issued { name, cert_pem, key_pem, der: der.to_vec(), thumbprint: thumbprint(&der) };
        Ok(Authority { cert: issued, issuer })
    }

    /// Issues a client certificate.
    pub fn issue(&self, leaf: &LeafSpec) -> anyhow::Result<Issued> {
        let p = leaf.params()?;
        let key = KeyPair::generate()?;
        let cert = p.signed_by(&key, &self.issuer)?;
        Ok(issued(&leaf.name, cert.pem(), cert.der(), &key))
    }

    /// Issues a server certificate for localhost, 127.0.0.1 and ::1 (file stem `name`).
    pub fn issue_server(&self, name: &str, days: i64) -> anyhow::Result<Issued> {
        let key = KeyPair::generate()?;
        let cert = server_params(days)?.signed_by(&key, &self.issuer)?;
        Ok(issued(name, cert.pem(), cert.der(), &key))
    }
}

/// A self-signed client certificate (Event Grid's `ThumbprintMatch` needs no CA).
pub fn self_signed(leaf: &LeafSpec) -> anyhow::Result<Issued> {
    let p = leaf.params()?;
    let key = KeyPair::generate()?;
    let cert = p.self_signed(&key)?;
    Ok(issued(&leaf.name, cert.pem(), cert.der(), &key))
}

impl Issued {
    /// Writes `<dir>/<name>.pem` (certificate) and `<dir>/<name>.key` (private key); returns both paths.
    pub fn write_pair(&self, dir: &Path) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let (cert, key) = (dir.join(format!("{}.pem", self.name)), dir.join(format!("{}.key", self.name)));
        std::fs::write(&cert, &self.cert_pem).with_context(|| format!("cannot write {}", cert.display()))?;
        std::fs::write(&key, &self.key_pem).with_context(|| format!("cannot write {}", key.display()))?;
        Ok((cert, key))
    }
}

impl Pki {
    /// Writes `<name>.pem`, `<name>-key.pem` (keys: git-ignored), `<name>-chain.pem` (leaf +
    /// intermediate) for server and clients, `ca-chain.pem` (intermediate + root) and a thumbprint
    /// table `thumbprints.md` / `thumbprints.csv`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let put = |file: &str, text: &str| -> anyhow::Result<()> {
            std::fs::write(dir.join(file), text).with_context(|| format!("cannot write {}", dir.join(file).display()))
        };
        for c in [&self.root, &self.intermediate] {
            put(&format!("{}.pem", c.name), &c.cert_pem)?;
            put(&format!("{}-key.pem", c.name), &c.key_pem)?;
        }
        put("ca-chain.pem", &format!("{}{}", self.intermediate.cert_pem, self.root.cert_pem))?;
        for c in std::iter::once(&self.server).chain(&self.clients) {
            put(&format!("{}.pem", c.name), &c.cert_pem)?;
            put(&format!("{}-key.pem", c.name), &c.key_pem)?;
            put(&format!("{}-chain.pem", c.name), &format!("{}{}", c.cert_pem, self.intermediate.cert_pem))?;
        }
        let mut md = String::from("| name | SHA-256 thumbprint |\n|---|---|\n");
        let mut csv = String::from("name,thumbprint\n");
        for c in [&self.root, &self.intermediate, &self.server].into_iter().chain(&self.clients) {
            let _ = writeln!(md, "| {} | {} |", c.name, c.thumbprint);
            let _ = writeln!(csv, "{},{}", c.name, c.thumbprint);
        }
        put("thumbprints.md", &md)?;
        put("thumbprints.csv", &csv)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_is_lowercase_sha256_hex() {
        // SHA-256 of the empty input.
        assert_eq!(thumbprint(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn chain_is_generated_and_written() {
        let pki = generate(&["sensor1".into(), "actuator1".into()], 30).unwrap();
        assert_eq!(pki.clients.len(), 2);
        assert_ne!(pki.clients[0].thumbprint, pki.clients[1].thumbprint);
        assert_eq!(pki.clients[0].thumbprint, thumbprint(&pki.clients[0].der));
        assert!(pki.clients[0].cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pki.clients[0].key_pem.contains("PRIVATE KEY"));
        let dir = tempfile::tempdir().unwrap();
        pki.write(dir.path()).unwrap();
        for f in ["root-ca.pem", "ca-chain.pem", "server.pem", "server-key.pem", "sensor1.pem", "sensor1-key.pem", "actuator1-chain.pem", "thumbprints.md"] {
            assert!(dir.path().join(f).is_file(), "{f}");
        }
        let table = std::fs::read_to_string(dir.path().join("thumbprints.csv")).unwrap();
        assert!(table.contains(&format!("sensor1,{}", pki.clients[0].thumbprint)));
        assert!(generate(&["bad name".into()], 1).unwrap_err().to_string().contains("bad name"));
    }

    #[test]
    fn leaves_carry_names_sans_and_validity() {
        let ca = Authority::root("ca", "test CA", 2).unwrap();
        let leaf = LeafSpec::new("dev")
            .cn("device-1")
            .san("dns:dev.example.com".parse().unwrap())
            .san("uri:urn:dev:1".parse().unwrap())
            .san("ip:10.0.0.1".parse().unwrap())
            .san("email:dev@example.com".parse().unwrap());
        let c = ca.issue(&leaf).unwrap();
        let (_, x) = x509_parser::parse_x509_certificate(&c.der).unwrap();
        assert_eq!(x.subject().iter_common_name().next().unwrap().as_str().unwrap(), "device-1");
        let sans = format!("{:?}", x.subject_alternative_name().unwrap().unwrap().value.general_names);
        for want in ["dev.example.com", "urn:dev:1", "dev@example.com"] {
            assert!(sans.contains(want), "{sans}");
        }
        assert_eq!(x.issuer(), x509_parser::parse_x509_certificate(&ca.cert.der).unwrap().1.subject());
        let old = ca.issue(&LeafSpec::new("old").validity(Validity::Expired)).unwrap();
        let (_, x) = x509_parser::parse_x509_certificate(&old.der).unwrap();
        assert!(x.validity().not_after.timestamp() < OffsetDateTime::now_utc().unix_timestamp());
        let early = ca.issue(&LeafSpec::new("early").validity(Validity::NotYetValid)).unwrap();
        let (_, x) = x509_parser::parse_x509_certificate(&early.der).unwrap();
        assert!(x.validity().not_before.timestamp() > OffsetDateTime::now_utc().unix_timestamp());
        let me = self_signed(&LeafSpec::new("me")).unwrap();
        let (_, x) = x509_parser::parse_x509_certificate(&me.der).unwrap();
        assert_eq!(x.issuer(), x.subject());
        assert!("fax:1".parse::<San>().is_err());
        assert!(ca.issue(&LeafSpec::new("a/b")).is_err());
    }
}
