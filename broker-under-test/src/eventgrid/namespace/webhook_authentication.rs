//! `webHookAuthentication:`: the namespace's custom webhook authentication (ARM
//! `topicSpacesConfiguration.clientAuthentication.webHookAuthentication`), as the file writes it
//! and as checked: the endpoint URL and how long the broker waits for its answer.
//!
//! Choices (Event Grid documents an `https://` endpoint called with a Microsoft Entra token and
//! recommends answering "within approximately 5 seconds"; the emulator runs offline):
//! - `endpointUrl` must be `http://HOST[:PORT][/PATH]` (the life-cycle webhook's rule, shared with
//!   [`crate::eventgrid::webhook::Endpoint`]): the emulator calls local endpoints only, sends no
//!   `Authorization` header, and the Entra keys of ARM (`identity`,
//!   `azureActiveDirectoryApplicationIdOrUri`, `azureActiveDirectoryTenantId`) are not accepted.
//! - `timeoutMs` (emulator key, default [`DEFAULT_TIMEOUT_MS`], 1..=[`MAX_TIMEOUT_MS`]) bounds the
//!   whole call: connect, request, answer.

use super::error::{Ctx, NamespaceError};
use crate::eventgrid::webhook::Endpoint;
use serde::Deserialize;
use serde_saphyr::Spanned;
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
}

/// Where and how the broker asks the webhook about a CONNECT (checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookAuthentication {
    /// The endpoint, as written (`http://…`).
    pub endpoint_url: String,
    /// The whole call's time limit.
    pub timeout: Duration,
}

/// Checks `webHookAuthentication:`; errors name the line and the field.
pub(super) fn check(
    cx: &Ctx<'_>,
    raw: Option<RawWebhookAuthentication>,
) -> Result<Option<WebhookAuthentication>, NamespaceError> {
    let Some(raw) = raw else { return Ok(None) };
    let url = &raw.endpoint_url;
    Endpoint::parse(&url.value).map_err(|e| cx.at(url, "webHookAuthentication.endpointUrl", e))?;
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
    }))
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
        assert!(Namespace::parse("name: plain\n", "ns.yaml").unwrap().webhook_authentication().is_none());
    }

    #[test]
    fn bad_values_name_line_and_field() {
        let e = parse("  endpointUrl: https://example.com/auth\n").unwrap_err();
        assert!(e.contains("ns.yaml:3") && e.contains("webHookAuthentication.endpointUrl") && e.contains("only http://"), "{e}");
        let e = parse("  endpointUrl: http://127.0.0.1:1/\n  timeoutMs: 0\n").unwrap_err();
        assert!(e.contains("ns.yaml:4") && e.contains("timeoutMs") && e.contains("1..=60000"), "{e}");
        let e = parse("  endpointUrl: http://127.0.0.1:1/\n  azureActiveDirectoryTenantId: x\n").unwrap_err();
        assert!(e.contains("azureActiveDirectoryTenantId"), "{e}");
        assert!(parse("  timeoutMs: 5\n").unwrap_err().contains("endpointUrl"));
    }
}
