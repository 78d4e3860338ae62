//! Small will storms against the embedded reference broker: every will accounted for, per fault kind;
//! and a mutant broker that drops or doubles wills makes the counters fail.

mod mutant;

use lwt_broker::Config;
use lwt_harness::load::run::RunOptions;
use lwt_harness::load::scenario::Scenario;
use lwt_harness::load::run_scenario;
use lwt_harness::target::{Target, TargetSpec};

fn scenario(yaml: &str) -> Scenario {
    Scenario::from_yaml(yaml, "test").unwrap()
}

fn opts() -> RunOptions {
    RunOptions { progress: false, ..RunOptions::default() }
}

async fn run(cfg: Config, yaml: &str) -> lwt_harness::load::summary::Summary {
    let t = Target::start(&TargetSpec::Embedded(cfg)).await.unwrap();
    let s = run_scenario(&t, &scenario(yaml), &opts()).await.unwrap();
    t.stop().await;
    println!("{}", serde_json::to_string_pretty(&{ let mut c = s.clone(); c.histograms = Default::default(); c }).unwrap());
    s
}

const FIN: &str = r#"
name: small-fin
fleet:
  count: 200
  id: "storm-{i:04}"
  will: { topic: "storm/{id}/will", qos: 1 }
observers: { count: 1, qos: 1 }
fault: { kind: fin }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fin_storm_every_will_once() {
    let s = run(Config::default(), FIN).await;
    assert_eq!((s.wills_expected, s.wills_received, s.wills_lost, s.wills_duplicated, s.wills_unexpected), (200, 200, 0, 0, 0));
    assert!(s.observers_live);
    assert_eq!(s.latency_ms.count, 200);
    assert!(!s.failed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rst_storm_every_will_once() {
    let s = run(Config::default(), &FIN.replace("kind: fin", "kind: rst")).await;
    assert_eq!((s.wills_received, s.wills_lost, s.wills_duplicated, s.wills_unexpected), (200, 0, 0, 0));
    assert_eq!(s.fault, "rst");
    assert!(!s.failed());
}

/// Background publishers run through the storm; what they sent and got acknowledged is measured,
/// and every will still arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_with_background_traffic_measures_it() {
    let yaml = format!("{FIN}background: {{ publishers: 2, rate: 200, payload_size: 64, qos: 1 }}\n");
    let s = run(Config::default(), &yaml).await;
    assert_eq!((s.wills_received, s.wills_lost, s.wills_duplicated, s.wills_unexpected), (200, 0, 0, 0));
    let b = s.background.expect("background figures");
    assert_eq!(b.publishers, 2);
    assert_eq!(b.planned_rate_per_s, 400.0);
    // The run lasts at least the fault time plus the settle time: a few hundred messages at least.
    assert!(b.sent >= 100, "{b:?}");
    // Every acknowledgement but those still in flight at the stop came back.
    assert!(b.acknowledged * 100 >= b.sent * 95 && b.acknowledged <= b.sent, "{b:?}");
    assert!(b.achieved_rate_per_s > 200.0 && b.achieved_rate_per_s < 480.0, "{b:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_storm_keepalive_error_is_never_negative() {
    let yaml = FIN.replace("kind: fin", "kind: silence").replace("count: 200", "count: 200\n  keep_alive: 1");
    let s = run(Config::default(), &yaml).await;
    assert_eq!((s.wills_received, s.wills_lost, s.wills_duplicated, s.wills_unexpected), (200, 0, 0, 0));
    assert_eq!(s.keepalive_error_ms.count, 200);
    assert_eq!(s.keepalive_error_ms.violations, 0, "{:?}", s.keepalive_error_ms);
    // Keep-alive 1 s: the will is due 1.5 s after CONNECT; it must come within a second of that.
    assert!(s.keepalive_error_ms.max < 1000.0, "{:?}", s.keepalive_error_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_storm_one_will_per_old_connection() {
    let yaml = FIN.replace("kind: fin", "kind: takeover").replace("count: 200", "count: 200\n  protocol: \"5.0\"");
    let s = run(Config::default(), &yaml).await;
    assert_eq!((s.wills_received, s.wills_lost, s.wills_duplicated, s.wills_unexpected), (200, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_within_delay_cancels_half_the_wills() {
    let yaml = r#"
name: small-delay
fleet:
  count: 200
  id: "delay-{i:03}"
  protocol: "5.0"
  session_expiry: 60
  will: { topic: "delay/{id}/will", qos: 1, delay: 2 }
observers: { count: 1, qos: 1 }
fault: { kind: fin, at_ms: 100, reconnect: { share: 0.5, after_ms: 500 } }
limits: { settle_ms: 500 }
"#;
    let s = run(Config::default(), yaml).await;
    // Half reconnected inside the delay: no will may appear for them; the rest come ~2 s after the fault.
    assert_eq!((s.wills_expected, s.wills_received, s.wills_lost, s.wills_duplicated, s.wills_unexpected), (100, 100, 0, 0, 0));
    assert!(s.observers_live);
    assert!(s.time_to_first_will_ms >= 2000.0, "a delayed will came early: {}", s.time_to_first_will_ms);
    assert_eq!(s.keepalive_error_ms.violations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutant_brokers_make_the_counters_fail() {
    use crate::mutant::Mutant;
    // Wills published twice: duplicates.
    let fin = FIN.replace("fault: { kind: fin }", "fault: { kind: fin }\nlimits: { will_timeout_s: 2, settle_ms: 300 }");
    let s = run(Mutant::WillTwice.config(), &fin).await;
    assert!(s.wills_duplicated >= 200, "{}", s.wills_duplicated);
    assert!(s.failed());
    // No will on reset: every will lost.
    let s = run(Mutant::NoWillOnReset.config(), &fin.replace("kind: fin", "kind: rst")).await;
    assert_eq!(s.wills_lost, 200);
    assert!(s.failed());
}

/// `certificates: per-device`: every client presents its own certificate, issued before the ramp
/// by the target's CA with the client id as common name. The embedded TLS broker requires client
/// certificates chaining to that CA, takes them all, and every will arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_device_certificates_over_tls() {
    let spec = lwt_harness::load::cli::named_target("embedded-tls").unwrap();
    let t = Target::start(&spec).await.unwrap();
    let yaml = FIN.replace("count: 200", "count: 50\n  certificates: per-device");
    let s = run_scenario(&t, &scenario(&yaml), &opts()).await.unwrap();
    assert_eq!((s.wills_expected, s.wills_received, s.wills_lost, s.connect_failures), (50, 50, 0, 0));

    // The certificates: one per client, distinct, each named after its client.
    let tls = t.endpoint().tls.clone().unwrap();
    let ids: Vec<String> = (0..5).map(|i| format!("storm-{i:04}")).collect();
    let (_, certs) = lwt_harness::load::fleet::device_certificates(&tls, &ids).unwrap();
    let mut thumbprints = std::collections::HashSet::new();
    for (id, c) in ids.iter().zip(&certs) {
        let (_, x) = x509_parser::parse_x509_certificate(&c.der).unwrap();
        let cn = x.subject().iter_common_name().next().unwrap().as_str().unwrap().to_string();
        assert_eq!(&cn, id);
        assert!(thumbprints.insert(c.thumbprint.clone()), "{id}: certificate reused");
    }
    t.stop().await;

    // A plain-TCP target has no issuing CA: the run says so instead of connecting without one.
    let plain = Target::start(&TargetSpec::Embedded(Config::default())).await.unwrap();
    let err = run_scenario(&plain, &scenario(&yaml), &opts()).await.unwrap_err().to_string();
    assert!(err.contains("per-device") && err.contains("not TLS"), "{err}");
    plain.stop().await;
}
