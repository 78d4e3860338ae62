//! TLS for the listener (rustls with the ring provider). Three client-certificate modes:
//! - no `--client-ca` and no namespace: server authentication only;
//! - `--client-ca` without a namespace: every client must present a certificate that chains to it
//!   (like mosquitto's `require_certificate`);
//! - with an Event Grid namespace: any client certificate is taken at the TLS layer (its handshake
//!   signature is still verified), and the namespace decides per client at CONNECT (thumbprints may
//!   be self-signed; chain schemes are checked against the namespace's CA certificates).

use anyhow::Context;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the server's certificate and key are, and whom to trust for client certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
    /// Server certificate chain (PEM, leaf first).
    pub cert_chain: PathBuf,
    /// The server certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates (PEM) client certificates must chain to; `None` = no client certificates
    /// required (a namespace may still ask for and judge them).
    pub client_ca: Option<PathBuf>,
}

/// The crypto provider every TLS part of the broker uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate in a PEM file; errors name the file.
pub fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read certificates from {}", path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad PEM certificate in {}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "no certificate found in {}", path.display());
    Ok(certs)
}

/// Builds the server configuration. `judge_clients_later` = a namespace authenticates clients at
/// CONNECT, so the TLS layer asks for any certificate and lets the handshake complete without one.
pub fn server_config(opts: &TlsOptions, judge_clients_later: bool) -> anyhow::Result<Arc<ServerConfig>> {
    let chain = read_certs(&opts.cert_chain)?;
    let key = PrivateKeyDer::from_pem_file(&opts.key)
        .with_context(|| format!("cannot read a private key from {}", opts.key.display()))?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match (&opts.client_ca, judge_clients_later) {
        (Some(_), true) => anyhow::bail!(
            "--client-ca cannot be combined with --namespace: put the CA into the namespace file's caCertificates \
             (thumbprint-authenticated clients may use self-signed certificates, so the TLS layer must accept any)"
        ),
        (Some(ca), false) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs(ca)? {
                roots.add(c).with_context(|| format!("unusable CA certificate in {}", ca.display()))?;
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .context("client certificate verifier")?;
            builder.with_client_cert_verifier(v)
        }
        (None, true) => builder.with_client_cert_verifier(Arc::new(AnyClientCert {
            algs: provider.signature_verification_algorithms,
        })),
        (None, false) => builder.with_no_client_auth(),
    };
    let cfg = builder
        .with_single_cert(chain, key)
        .with_context(|| format!("certificate {} does not match key {}", opts.cert_chain.display(), opts.key.display()))?;
    Ok(Arc::new(cfg))
}

/// Asks for a client certificate and accepts any (or none) at the TLS layer; the handshake
/// signature proves the client holds the certificate's key. Who the client is gets decided at
/// CONNECT by the namespace.
#[derive(Debug)]
struct AnyClientCert {
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
