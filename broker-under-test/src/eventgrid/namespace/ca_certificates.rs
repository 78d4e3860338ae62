//! `caCertificates:`: the namespace's trust anchors, inline PEM or a file next to the namespace file.

use super::error::{Ctx, NamespaceError};
use super::file::RawCa;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use std::path::Path;

/// Most CA certificates per namespace (reference tag LIM).
pub const MAX_CA_CERTIFICATES: usize = 10;

/// Turns every CA certificate into a trust anchor (names unique, at most
/// [`MAX_CA_CERTIFICATES`]); returns the names and the anchors, in file order.
pub(super) fn load_anchors(
    cx: &Ctx<'_>,
    raw: &[RawCa],
    base_dir: &Path,
) -> Result<(Vec<String>, Vec<TrustAnchor<'static>>), NamespaceError> {
    cx.check_at_most(raw.get(MAX_CA_CERTIFICATES).map(|x| &x.name), "caCertificates", || {
        format!("at most {MAX_CA_CERTIFICATES} CA certificates per namespace")
    })?;
    let mut ca_names: Vec<String> = Vec::new();
    let mut anchors = Vec::new();
    for (i, ca) in raw.iter().enumerate() {
        let f = format!("caCertificates[{i}]");
        cx.check_resource_name(&ca.name, format!("{f}.name"))?;
        if ca_names.iter().any(|n| n.eq_ignore_ascii_case(&ca.name.value)) {
            return Err(cx.at(
                &ca.name,
                format!("{f}.name"),
                format!("duplicate CA certificate name {:?}", ca.name.value),
            ));
        }
        anchors.push(anchor(cx, ca, &f, base_dir)?);
        ca_names.push(ca.name.value.clone());
    }
    Ok((ca_names, anchors))
}

/// One CA's PEM (from `encodedCertificate` or `file`, exactly one) as a trust anchor; errors point
/// at whichever of the two supplied it.
fn anchor(cx: &Ctx<'_>, ca: &RawCa, f: &str, base_dir: &Path) -> Result<TrustAnchor<'static>, NamespaceError> {
    let (pem, line, field) = match (&ca.encoded_certificate, &ca.file) {
        (Some(p), None) => (p.value.clone(), p.referenced.line(), format!("{f}.encodedCertificate")),
        (None, Some(file)) => {
            let path = base_dir.join(&file.value);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                cx.at(
                    file,
                    format!("{f}.file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            (text, file.referenced.line(), format!("{f}.file"))
        }
        _ => return Err(cx.at(&ca.name, f, "exactly one of encodedCertificate or file is required")),
    };
    let der = CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .ok_or_else(|| cx.invalid(line, &field, "no PEM CERTIFICATE block found"))?
        .map_err(|e| cx.invalid(line, &field, format!("bad PEM: {e}")))?;
    let anchor = webpki::anchor_from_trusted_cert(&der)
        .map_err(|e| cx.invalid(line, &field, format!("not a usable X.509 CA certificate: {e}")))?
        .to_owned();
    Ok(anchor)
}
