//! Test certificates with rcgen: root CA → intermediate CA → a localhost server certificate and one
//! client certificate per name, plus SHA-256 thumbprints in lowercase hex as Event Grid and
//! `step certificate fingerprint` show them.

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use std::fmt::Write as _;
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

    let mut sp = params("localhost", days)?;
    sp.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress([127, 0, 0, 1].into()),
        SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
    ];
    sp.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server_cert = sp.signed_by(&server_key, &*inter)?;
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
}
