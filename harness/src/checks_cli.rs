//! `lwt-harness checks`: the engine's built-in checks against a target, one line per verdict.

use super::TargetArgs;
use lwt_codec::ProtocolVersion;
use lwt_harness::checks::{self, Ctx};
use lwt_harness::latency::LatencyBook;
use lwt_harness::profile::Profile;
use lwt_harness::target::Target;
use lwt_harness::verdict::{Level, Status};
use std::process::ExitCode;

/// `checks`: the engine's built-in checks, one line per verdict. Exit 1 when a MUST failed, 3 when a
/// check errored (could not set itself up) and no MUST failed, 0 otherwise.
pub(crate) async fn run_checks(target: TargetArgs, only: Vec<String>, protocol: Vec<String>) -> anyhow::Result<ExitCode> {
    let spec = target.spec()?;
    let profile = match &target.profile {
        Some(p) => Profile::load(p)?,
        None => Profile::default(),
    };
    let versions = protocol
        .iter()
        .map(|p| match p.as_str() {
            "3.1.1" | "311" | "4" => Ok(ProtocolVersion::V311),
            "5.0" | "5" => Ok(ProtocolVersion::V5),
            other => anyhow::bail!("unknown protocol {other:?} (use 3.1.1 or 5.0)"),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let names: Vec<String> = if only.is_empty() { checks::ALL.iter().map(|s| s.to_string()).collect() } else { only };
    for n in &names {
        anyhow::ensure!(checks::ALL.contains(&n.as_str()), "unknown check {n:?}; known: {}", checks::ALL.join(", "));
    }
    let t = Target::start(&spec).await?;
    println!("target: {} ({})", t.name(), t.addr());
    let ctx = Ctx::for_target(&t, profile);
    let mut book = LatencyBook::default();
    let (mut pass, mut fail, mut skip, mut error) = (0, 0, 0, 0);
    let mut must_failed = false;
    for v in &versions {
        for n in &names {
            // A check that cannot set itself up (no CONNACK, no SUBACK) is an error, not a failure.
            let r = match checks::run(&ctx, n, *v, &mut book).await {
                Ok(r) => r,
                Err(e) => checks::CheckResult {
                    name: n.clone(),
                    protocol: *v,
                    verdicts: vec![lwt_harness::verdict::Verdict::error(n, Level::Must, "the check's set-up", &format!("{e:#}"))],
                },
            };
            for verdict in &r.verdicts {
                let timing = verdict.timings.first().map(|t| format!(" [{:.1} ms]", t.ms)).unwrap_or_default();
                println!("{:<22} {:<6} {verdict}{timing}", r.name, checks::protocol_label(r.protocol));
                match &verdict.status {
                    Status::Pass => pass += 1,
                    Status::Fail => {
                        fail += 1;
                        must_failed |= verdict.level == Level::Must;
                    }
                    Status::Skip(_) | Status::NotDone => skip += 1,
                    Status::Error(_) => error += 1,
                }
            }
        }
    }
    for (k, s) in &book.series {
        let p = s.from_actual.percentiles();
        println!("latency {} qos{} v{}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (n={})", k.fault, k.qos, k.protocol, p.p50, p.p99, p.max, p.count);
    }
    println!("{pass} passed, {fail} failed, {skip} skipped, {error} errors");
    t.stop().await;
    Ok(ExitCode::from(if must_failed {
        1
    } else if error > 0 {
        3
    } else {
        0
    }))
}
