//! The engine's built-in checks against real brokers: every check passes on the reference broker,
//! and mosquitto (Debian's, launched on a loopback port) gets the verdicts it earns.

use lwt_codec::ProtocolVersion;
use lwt_harness::checks::{self, CheckResult, Ctx};
use lwt_harness::latency::LatencyBook;
use lwt_harness::profile::Profile;
use lwt_harness::target::{find_mosquitto, mosquitto_version, Target, TargetSpec};
use lwt_harness::verdict::Status;

/// Runs every check for both protocols concurrently.
async fn run_all(ctx: &Ctx) -> Vec<CheckResult> {
    let mut set = tokio::task::JoinSet::new();
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for name in checks::ALL {
            let ctx = ctx.clone();
            set.spawn(async move {
                let mut book = LatencyBook::default();
                checks::run(&ctx, name, v, &mut book).await.unwrap_or_else(|e| panic!("{name} {v:?}: {e:#}"))
            });
        }
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("check task"));
    }
    out.sort_by(|a, b| (a.name.clone(), a.protocol).cmp(&(b.name.clone(), b.protocol)));
    out
}

/// The status of a check's main verdict.
fn status_of<'a>(results: &'a [CheckResult], name: &str, v: ProtocolVersion) -> &'a Status {
    let r = results.iter().find(|r| r.name == name && r.protocol == v).expect("check ran");
    &r.verdicts[0].status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_on_the_reference_broker() {
    let t = Target::start(&TargetSpec::Embedded(Default::default())).await.unwrap();
    let ctx = Ctx::new(t.addr(), Profile::default());
    let results = run_all(&ctx).await;
    for r in &results {
        assert!(!r.verdicts.is_empty());
        for v in &r.verdicts {
            println!("{} {:?}: {v}", r.name, r.protocol);
            match &v.status {
                Status::Pass => {}
                Status::Skip(why) => assert!(
                    why.contains("5.0") && r.protocol == ProtocolVersion::V311,
                    "only 5.0-only checks may skip, and only on 3.1.1: {v}"
                ),
                _ => panic!("reference broker failed {} {:?}: {v}", r.name, r.protocol),
            }
        }
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_gets_the_verdicts_it_earns() {
    let bin = find_mosquitto().expect("mosquitto is not installed: apt-get install mosquitto (CI installs it)");
    let version = mosquitto_version(&bin).unwrap_or_default();
    let t = Target::start(&TargetSpec::Launch("mosquitto".into())).await.unwrap();
    let profile = Profile::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/profiles/mosquitto.yaml"))).unwrap();
    let ctx = Ctx::new(t.addr(), profile);
    let results = run_all(&ctx).await;
    for r in &results {
        for v in &r.verdicts {
            println!("{version} {} {:?}: {v}", r.name, r.protocol);
            assert!(!matches!(v.status, Status::Error(_)), "the harness itself failed on mosquitto: {v}");
        }
    }
    // What every mosquitto 2.x does right.
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for name in ["fin", "rst", "disconnect-normal", "takeover", "retained-will", "will-qos", "cut-fin", "cut-rst", "latency-keepalive"] {
            assert_eq!(status_of(&results, name, v), &Status::Pass, "{version} {name} {v:?}");
        }
    }
    for name in ["disconnect-with-will", "will-delay", "will-delay-reconnect", "will-properties"] {
        let r = results.iter().find(|r| r.name == name && r.protocol == ProtocolVersion::V5).unwrap();
        assert!(r.verdicts.iter().all(|v| v.status == Status::Pass), "{version} {name}: {:#?}", r.verdicts);
    }
    // mosquitto #2554: 2.0.11 to 2.0.14 close on a second CONNECT without publishing the will.
    if ["2.0.11", "2.0.12", "2.0.13", "2.0.14"].iter().any(|v| version.ends_with(v)) {
        assert_eq!(status_of(&results, "protocol-error", ProtocolVersion::V311), &Status::Fail, "{version}: bug #2554");
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_never_duplicates_the_will() {
    for kill in [false, true] {
        let mut t = Target::start(&TargetSpec::Embedded(Default::default())).await.unwrap();
        let ctx = Ctx::new(t.addr(), Profile::default());
        let v = checks::run_restart(&ctx, &mut t, kill).await.unwrap();
        println!("embedded kill={kill}: {v}");
        assert_eq!(v.status, Status::Pass, "{v}");
        // The reference broker publishes wills on an orderly stop and loses them on a crash (memory store).
        if kill {
            assert!(v.observed.contains("no will"), "{v}");
        } else {
            assert!(v.observed.contains("before the stop"), "{v}");
        }
        t.stop().await;
    }
    let mut t = Target::start(&TargetSpec::Launch("mosquitto".into())).await.unwrap();
    let ctx = Ctx::new(t.addr(), Profile::default());
    for kill in [false, true] {
        let v = checks::run_restart(&ctx, &mut t, kill).await.unwrap();
        println!("mosquitto kill={kill}: {v}");
        assert!(!matches!(v.status, Status::Error(_)), "{v}");
    }
    t.stop().await;
}
