//! Debian's mosquitto, launched on loopback, judged by the `@quick` features (what `lwt-harness
//! checks` runs) with its profile, over plain TCP and over TLS with per-client certificates
//! (`require_certificate true`). It must get the verdicts it earns: no harness errors, every
//! behaviour every mosquitto 2.x gets right passes, and the known bug of 2.0.11–2.0.14 (#2554: a
//! second CONNECT closes the connection without the will) is reported as a failure of its rule.
//! Its other failures (keep-alive closes later than 1.5 × keep-alive, reserved DISCONNECT codes,
//! the 3.1.1 persistent-session takeover) are printed, not asserted: they differ by version.

use lwt_harness::bdd::report::{ScenarioOutcome, ScenarioRecord};
use lwt_harness::bdd::{self, RunOptions};
use lwt_harness::profile::Profile;
use lwt_harness::target::{Target, TargetSpec};
use std::path::PathBuf;

/// One feature run at a time in this binary (`bdd::run` keeps its environment process-wide).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Scenario names (prefixes) every mosquitto 2.x passes: closes by FIN, RST and network cuts, a
/// malformed packet, DISCONNECT 0x00 in every encoding and 0x04, takeovers of clean sessions, the
/// retained will, will QoS downgrades, a slow but live link, will delay and its cancel, properties.
const EARNED: &[&str] = &[
    "The will is published exactly once when the connection ends by a close without DISCONNECT (FIN)",
    "The will is published exactly once when the connection ends by a network cut (FIN on both sides)",
    "The will is published exactly once when the connection ends by a reset of the socket (RST)",
    "The will is published exactly once when the connection ends by a network cut (RST on both sides)",
    "The will is published exactly once when the connection ends by a broker close for a malformed PUBLISH",
    "DISCONNECT then close: no will",
    "DISCONNECT 0x00 encoded as",
    "DISCONNECT 0x04 (Disconnect with Will Message) publishes the will",
    "The will of a taken-over clean session is published once",
    "The taken-over connection's will (no delay) is published once",
    "Will Retain 1:",
    "A will at QoS",
    "Control: a slow but live sensor",
    "The will waits for its delay (2 s)",
    "Reconnecting to the session within the delay cancels the will",
    "Every will property at once",
    "The will's User Properties are forwarded in their order",
];

async fn quick(launch: &str) -> (String, Vec<ScenarioRecord>) {
    let _turn = SERIAL.lock().await;
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let profile = Profile::load(&root.join("fixtures/profiles/mosquitto.yaml")).expect("mosquitto profile");
    let target = Target::start(&TargetSpec::Launch(launch.into()))
        .await
        .expect("mosquitto is not installed: apt-get install mosquitto (CI installs it)");
    let name = target.name().to_string();
    let opts = RunOptions {
        paths: vec![root.join("features")],
        tags: Some("@quick".into()),
        report_dir: None,
        concurrency: 16,
        rerun_failures: 0,
        observer: Default::default(),
    };
    let (summary, records) = bdd::run(target, profile, opts).await.expect("feature run");
    println!("{name}: {summary}");
    assert_eq!(summary.parse_errors, 0);
    (name, records)
}

fn judge(name: &str, records: &[ScenarioRecord]) {
    assert!(records.len() >= 50, "{name}: only {} quick scenarios ran", records.len());
    for r in records.iter().filter(|r| !matches!(r.outcome, ScenarioOutcome::Passed)) {
        println!("{name}: {:?}: {} (line {})", r.outcome, r.scenario, r.line);
        assert!(!matches!(r.outcome, ScenarioOutcome::Errored(_)), "{name}: the harness could not judge {:?}: {:?}", r.scenario, r.outcome);
    }
    for earned in EARNED {
        let runs: Vec<&ScenarioRecord> = records.iter().filter(|r| r.scenario.starts_with(earned)).collect();
        assert!(!runs.is_empty(), "no quick scenario is named {earned:?}");
        for r in runs {
            assert!(matches!(r.outcome, ScenarioOutcome::Passed), "{name}: {:?} (line {}): {:?}\n{:#?}", r.scenario, r.line, r.outcome, r.verdicts);
        }
    }
    // mosquitto #2554: 2.0.11 to 2.0.14 close on a second CONNECT without publishing the will.
    if ["2.0.11", "2.0.12", "2.0.13", "2.0.14"].iter().any(|v| name.contains(v)) {
        let second = records.iter().filter(|r| r.scenario.ends_with("by a broker close for a second CONNECT"));
        for r in second {
            let failed = r.verdicts.iter().any(|v| v.rule == "MQTT-3.1.2-8" && v.status == lwt_harness::verdict::Status::Fail);
            assert!(failed, "{name}: bug #2554 not reported as a failure of MQTT-3.1.2-8: {:?}", r.verdicts);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_gets_the_verdicts_it_earns() {
    let (name, records) = quick("mosquitto").await;
    judge(&name, &records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_over_tls_with_client_certificates_gets_the_same_verdicts() {
    let (name, records) = quick("mosquitto-tls").await;
    judge(&name, &records);
}
