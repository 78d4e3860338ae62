//! `webHookAuthentication:`: the namespace's custom webhook authentication (ARM
//! `topicSpacesConfiguration.clientAuthentication.webHookAuthentication`), as the file writes it
//! and as checked: the endpoint URL and how long the broker waits for its answer.
//!
//! Choices (Event Grid documents an `https://` endpoint called with a Microsoft Entra token and
//! recommends answering "within approximately 5 seconds"; the emulator runs offline):
//! - `endpointUrl` is `https://HOST[:PORT][/PATH]` (rustls, ring) or, for local endpoints,
//!   `http://…` (both checked by the life-cycle webhook's rule,
//!   [`crate::eventgrid::webhook::Endpoint`]). The emulator sends no `Authorization` header, and
//!   the Entra keys of ARM (`identity`, `azureActiveDirectoryApplicationIdOrUri`,
//!   `azureActiveDirectoryTenantId`) are not accepted.
//! - `caCertificateFile` (emulator key, `https://` only): PEM file, relative to the namespace
//!   file, whose certificates are the only roots trusted for the webhook; without it, Mozilla's
//!   roots (webpki-roots).
//! - `timeoutMs` (emulator key, default [`DEFAULT_TIMEOUT_MS`], 1..=[`MAX_TIMEOUT_MS`]) bounds the
//!   whole call: connect, TLS, request, answer.

use super::error::{Ctx, NamespaceError};
use crate::eventgrid::webhook::Endpoint;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::Path;
use std::time::Duration;

/// The default wait for the webhook's answer: the 5 seconds the docs recommend answering within.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;

/// The longest wait the file may ask for (a CONNECT should not hang for minutes).
pub const MAX_TIMEOUT_MS: u64 = 60_000;

/// `webHookAuthentication:` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawWebhookAuthentication {
    endpoint_url: Spanned<String>,
    #[serde(default)]
    timeout_ms: Option<Spanned<u64>>,
    #[serde(default)]
    ca_certificate_file: Option<Spanned<String>>,
}

/// Where and how the broker asks the webhook about a CONNECT (checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookAuthentication {
    /// The endpoint, as written (`http://…`).
    pub endpoint_url: String,
    /// The whole call's time limit.
    pub timeout: Duration,
    /// `https://`: the roots trusted for the webhook (DER), from `caCertificateFile`; empty =
    /// Mozilla's roots.
    pub ca_certificates: Vec<CertificateDer<'static>>,
}

/// Checks `webHookAuthentication:`; errors name the line and the field.
pub(super) fn check(
    cx: &Ctx<'_>,
    raw: Option<RawWebhookAuthentication>,
    base_dir: &Path,
) -> Result<Option<WebhookAuthentication>, NamespaceError> {
    let Some(raw) = raw else { return Ok(None) };
    let url = &raw.endpoint_url;
    let https = url.value.strip_prefix("https://");
    let as_http = https.map_or_else(|| url.value.clone(), |rest| format!("http://{rest}"));
    Endpoint::parse(&as_http).map_err(|_| {
        let e = format!("{:?}: expected http(s)://HOST[:PORT][/PATH]", url.value);
        cx.at(url, "webHookAuthentication.endpointUrl", e)
    })?;
    let ca_certificates = match (&raw.ca_certificate_file, https) {
        (None, _) => Vec::new(),
        (Some(f), None) => {
            return Err(cx.at(f, "webHookAuthentication.caCertificateFile", "only for an https:// endpointUrl"))
        }
        (Some(f), Some(_)) => roots(cx, f, base_dir)?,
    };
    let timeout_ms = match &raw.timeout_ms {
        None => DEFAULT_TIMEOUT_MS,
        Some(t) if (1..=MAX_TIMEOUT_MS).contains(&t.value) => t.value,
        Some(t) => {
            return Err(cx.at(
                t,
                "webHookAuthentication.timeoutMs",
                format!("must be 1..={MAX_TIMEOUT_MS} milliseconds (got {})", t.value),
            ))
        }
    };
    Ok(Some(WebhookAuthentication {
        endpoint_url: url.value.clone(),
        timeout: Duration::from_millis(timeout_ms),
        ca_certificates,
    }))
}

/// Every CERTIFICATE block of `caCertificateFile` (at least one).
fn roots(cx: &Ctx<'_>, file: &Spanned<String>, base_dir: &Path) -> Result<Vec<CertificateDer<'static>>, NamespaceError> {
    let field = "webHookAuthentication.caCertificateFile";
    let path = base_dir.join(&file.value);
    let text = std::fs::read(&path).map_err(|e| cx.at(file, field, format!("cannot read {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cx.at(file, field, format!("{}: bad PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(cx.at(file, field, format!("{}: no PEM CERTIFICATE block found", path.display())));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use crate::eventgrid::Namespace;
    use std::time::Duration;

    fn parse(section: &str) -> Result<Namespace, String> {
        Namespace::parse(&format!("name: hooked\nwebHookAuthentication:\n{section}"), "ns.yaml").map_err(|e| e.to_string())
    }

    #[test]
    fn endpoint_and_timeout() {
        let ns = parse("  endpointUrl: http://127.0.0.1:9000/auth\n  timeoutMs: 250\n").unwrap();
        let w = ns.webhook_authentication().unwrap();
        assert_eq!((w.endpoint_url.as_str(), w.timeout), ("http://127.0.0.1:9000/auth", Duration::from_millis(250)));
        let ns = parse("  endpointUrl: http://localhost/auth\n").unwrap();
        assert_eq!(ns.webhook_authentication().unwrap().timeout, Duration::from_secs(5));
        let ns = parse("  endpointUrl: https://auth.example.com/mqtt\n").unwrap();
        assert!(ns.webhook_authentication().unwrap().ca_certificates.is_empty(), "Mozilla's roots");
        assert!(Namespace::parse("name: plain\n", "ns.yaml").unwrap().webhook_authentication().is_none());
    }

    #[test]
    fn the_fixture_loads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/namespaces/webhook.yaml");
        let ns = Namespace::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ns.webhook_authentication().unwrap().endpoint_url, "http://127.0.0.1:9000/authenticate");
        assert!(ns.clients().is_empty(), "every client comes from the webhook");
    }

    #[test]
    fn bad_values_name_line_and_field() {
        let e = parse("  endpointUrl: ftp://example.com/auth\n").unwrap_err();
        assert!(e.contains("ns.yaml:3") && e.contains("webHookAuthentication.endpointUrl") && e.contains("http(s)://"), "{e}");
        let e = parse("  endpointUrl: http://127.0.0.1:1/\n  caCertificateFile: ca.pem\n").unwrap_err();
        assert!(e.contains("ns.yaml:4") && e.contains("only for an https://"), "{e}");
        let e = parse("  endpointUrl: https://127.0.0.1:1/\n  caCertificateFile: /nonexistent/ca.pem\n").unwrap_err();
        assert!(e.contains("cannot read /nonexistent/ca.pem"), "{e}");
        let e = parse("  endpointUrl: http://127.0.0.1:1/\n  timeoutMs: 0\n").unwrap_err();
        assert!(e.contains("ns.yaml:4") && e.contains("timeoutMs") && e.contains("1..=60000"), "{e}");
        let e = parse("  endpointUrl: http://127.0.0.1:1/\n  azureActiveDirectoryTenantId: x\n").unwrap_err();
        assert!(e.contains("azureActiveDirectoryTenantId"), "{e}");
        assert!(parse("  timeoutMs: 5\n").unwrap_err().contains("endpointUrl"));
    }
}
