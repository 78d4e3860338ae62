//! `lwt-harness webhook`: runs the configurable Event Grid authentication webhook
//! ([`lwt_harness::webhook_server`]) in the foreground and prints each request it answers.

use lwt_harness::webhook_server::{AllowRule, Failure, WebhookRules, WebhookServer};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// Flags of `webhook`.
#[derive(clap::Args, Debug)]
pub(crate) struct WebhookArgs {
    /// Where to listen (loopback; port 0 = a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Allow a client (matched by client id or username): `WHO[=NAME][:KEY=VALUE,…]`, NAME being
    /// the authentication name answered (default WHO); `a|b` values are arrays. Repeatable.
    #[arg(long, value_name = "RULE")]
    allow: Vec<AllowRule>,
    /// Deny a client explicitly: `WHO[:REASON]`. Repeatable. Clients on no list are denied too.
    #[arg(long, value_name = "WHO[:REASON]")]
    deny: Vec<String>,
    /// Answer allowed clients with an `expiration` this many seconds ahead.
    #[arg(long, value_name = "SECS")]
    expires_in: Option<u64>,
    /// Wait this long before every answer (to test the broker's timeout).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    delay_ms: u64,
    /// Fail instead of deciding: `500`, `malformed` (a body that is not JSON) or `close`.
    #[arg(long, value_name = "MODE")]
    fail: Option<Failure>,
}

/// Serves until Ctrl-C, printing one line per request.
pub(crate) async fn run_webhook(args: WebhookArgs) -> anyhow::Result<ExitCode> {
    let expires_in = args.expires_in.map(Duration::from_secs);
    let rules = WebhookRules {
        allow: args.allow.into_iter().map(|r| AllowRule { expires_in, ..r }).collect(),
        deny: args
            .deny
            .iter()
            .map(|d| {
                let (who, why) = d.split_once(':').unwrap_or((d, "denied by lwt-harness webhook"));
                (who.to_owned(), why.to_owned())
            })
            .collect(),
        delay: Duration::from_millis(args.delay_ms),
        failure: args.fail,
    };
    let server = WebhookServer::start(args.listen, rules).await?;
    println!("webhook listening on {} (set webHookAuthentication.endpointUrl to it)", server.url());
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let requests = server.requests();
        for r in &requests[seen..] {
            println!("request: {r}");
        }
        seen = requests.len();
    }
}
