//! Proof that the engine tells the truth: for each known will bug installed in the reference broker
//! through its will hook (tests/mutant/mod.rs), the check that targets it reports a failure of the right rule. The unmutated
//! broker passes every check (tests/engine_checks.rs).

mod mutant;

use lwt_codec::ProtocolVersion;
use mutant::{Mutant, ALL};
use lwt_broker::Config;
use lwt_harness::checks::{self, Ctx};
use lwt_harness::latency::LatencyBook;
use lwt_harness::profile::Profile;
use lwt_harness::target::{Target, TargetSpec};
use lwt_harness::verdict::Status;

/// The check that must catch `m`, the protocol it runs with, and the rule it must report as failed.
fn catcher(m: Mutant) -> (&'static str, ProtocolVersion, &'static str) {
    use ProtocolVersion::*;
    match m {
        Mutant::WillAfterNormalDisconnect => ("disconnect-normal", V311, "MQTT-3.14.4-3"),
        Mutant::NoWillOnReset => ("rst", V5, "MQTT-3.1.2-8"),
        Mutant::KeepAliveMultiplier1 => ("keepalive", V311, "MQTT-3.1.2-24"),
        Mutant::KeepAliveMultiplier25 => ("keepalive", V5, "MQTT-3.1.2-22"),
        Mutant::WillDelayIgnored => ("will-delay", V5, "MQTT-3.1.2-8"),
        Mutant::ReconnectKeepsDelayedWill => ("will-delay-reconnect", V5, "MQTT-3.1.3-9"),
        Mutant::WillRetainIgnored => ("retained-will", V311, "MQTT-3.1.2-17"),
        Mutant::WillPropertyDropped => ("will-properties", V5, "MQTT-3.3.2-20"),
        Mutant::UserPropertyOrderChanged => ("will-properties", V5, "MQTT-3.1.3-10"),
        Mutant::WillTwice => ("fin", V311, "MQTT-3.1.2-10"),
        Mutant::WillQosNotDowngraded => ("will-qos", V5, "MQTT-3.8.4-8"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutant_is_caught_by_the_right_rule() {
    let mut set = tokio::task::JoinSet::new();
    for m in ALL {
        set.spawn(async move {
            let cfg = m.config();
            let t = Target::start(&TargetSpec::Embedded(cfg)).await.unwrap();
            let ctx = Ctx::new(t.addr(), Profile::default());
            let (check, version, rule) = catcher(m);
            let r = checks::run(&ctx, check, version, &mut LatencyBook::default()).await.unwrap();
            t.stop().await;
            (m, rule, r)
        });
    }
    let mut caught = 0;
    while let Some(res) = set.join_next().await {
        let (m, rule, r) = res.unwrap();
        for v in &r.verdicts {
            println!("{m:?}: {v}");
        }
        assert!(
            r.verdicts.iter().any(|v| v.rule == rule && v.status == Status::Fail),
            "mutant {m:?} was not caught as a failure of {rule} by check {}: {:#?}",
            r.name,
            r.verdicts
        );
        assert!(r.verdicts.iter().all(|v| !matches!(v.status, Status::Error(_))), "{m:?}: harness error");
        caught += 1;
    }
    assert_eq!(caught, ALL.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unmutated_broker_passes_every_catching_check() {
    let t = Target::start(&TargetSpec::Embedded(Config::default())).await.unwrap();
    let ctx = Ctx::new(t.addr(), Profile::default());
    let mut seen = std::collections::BTreeSet::new();
    for m in ALL {
        let (check, version, _) = catcher(m);
        if !seen.insert((check, version)) {
            continue;
        }
        let r = checks::run(&ctx, check, version, &mut LatencyBook::default()).await.unwrap();
        for v in &r.verdicts {
            assert_eq!(v.status, Status::Pass, "unmutated broker, {check} {version:?}: {v}");
        }
    }
    t.stop().await;
}
