//! Issue 11 part 10: the seed walkthrough and the core will features run twice against the embedded
//! reference broker, once with our codec's observers and once with rumqttc's (`--observer
//! rumqttc`; sensors and faults stay on our codec), and the two runs must agree scenario by
//! scenario. A disagreement is a harness error: one of the two observer stacks mis-reads what the
//! broker sent, so a codec bug shared by broker and harness can no longer hide. On the reference
//! broker every scenario must also pass, the TLS walkthrough (`eventgrid-lwt.feature`, rumqttc over
//! rustls with each actuator's client certificate) included. What rumqttc cannot do (announce a
//! Maximum Packet Size and still read a larger delivery) must be an *error* naming the observer's
//! limit, never a failure.
//!
//! `bdd::run` keeps its run environment in a process-wide slot, so the runs take turns ([`SERIAL`]).

use lwt_harness::actuator::ObserverStack;
use lwt_harness::bdd::report::{ScenarioOutcome, ScenarioRecord};
use lwt_harness::bdd::{self, RunOptions};
use lwt_harness::profile::Profile;
use lwt_harness::target::{Target, TargetSpec};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One feature run at a time in this binary (the tests themselves run on parallel threads).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The features both stacks run: the seed walkthroughs (plain and TLS) and the core will features.
fn core_features() -> Vec<PathBuf> {
    ["seed/sensors-and-actuators.feature", "seed/eventgrid-lwt.feature", "v3.1.1/will-triggers.feature", "v5/will-triggers.feature", "v3.1.1/takeover.feature", "v5/takeover.feature"]
        .iter()
        .map(|f| root().join("features").join(f))
        .collect()
}

/// Runs `paths` on a fresh embedded reference broker with observers on `stack`.
async fn run(paths: Vec<PathBuf>, stack: ObserverStack) -> Vec<ScenarioRecord> {
    let _turn = SERIAL.lock().await;
    let profile = Profile::load(&root().join("fixtures/profiles/lwt-broker.yaml")).expect("reference profile");
    let target = Target::start(&TargetSpec::Embedded(Default::default())).await.expect("embedded broker");
    let opts = RunOptions { paths, tags: None, report_dir: None, concurrency: 8, rerun_failures: 0, observer: stack };
    let (summary, records) = bdd::run(target, profile, opts).await.expect("feature run");
    println!("observers {stack:?}: {summary}");
    assert_eq!(summary.parse_errors, 0);
    records
}

/// By scenario (feature / scenario / line): its outcome word, then each verdict's rule, level and
/// status word in order, so the two runs are compared verdict by verdict.
fn by_scenario(records: &[ScenarioRecord]) -> BTreeMap<String, String> {
    records
        .iter()
        .map(|r| {
            let verdicts: Vec<String> = r.verdicts.iter().map(|v| format!("{} {:?} {}", v.rule, v.level, word(&v.status))).collect();
            (format!("{} / {} (line {})", r.feature, r.scenario, r.line), format!("{} [{}]", word(&r.outcome), verdicts.join(", ")))
        })
        .collect()
}

/// An outcome or status without its text: observers on different stacks word evidence differently.
fn word(o: &impl std::fmt::Debug) -> String {
    let w = format!("{o:?}");
    w.split('(').next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_observer_stacks_give_the_same_verdicts_on_the_core_features() {
    let ours = run(core_features(), ObserverStack::Lwt).await;
    let theirs = run(core_features(), ObserverStack::Rumqttc).await;
    let (a, b) = (by_scenario(&ours), by_scenario(&theirs));
    for r in ours.iter().chain(&theirs).filter(|r| !matches!(r.outcome, ScenarioOutcome::Passed)) {
        println!("not passed: {} / {} (line {}): {:?}", r.feature, r.scenario, r.line, r.outcome);
    }
    assert!(a.len() >= 10, "the core features have at least 10 scenarios, ran {}", a.len());
    let disagreements: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}: ours {v}, rumqttc {}", b.get(k).map(String::as_str).unwrap_or("not run")))
        .collect();
    assert!(disagreements.is_empty(), "harness error: the observer stacks disagree:\n{}", disagreements.join("\n"));
    assert_eq!(a.len(), b.len(), "both runs ran the same scenarios");
    assert!(a.values().all(|w| w.starts_with("Passed [")), "every core scenario passes on the reference broker: {a:?}");
}

/// What rumqttc observers cannot do is an error naming the limit, never a failure: rumqttc cannot
/// announce a Maximum Packet Size and still read a larger delivery, so the two scenarios with such
/// a subscriber (a too-large will is not sent to it, MQTT-3.1.2-24; its connection goes on,
/// MQTT-3.1.2-25) error with rumqttc and pass with ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_rumqttc_cannot_do_is_an_error_naming_the_limit() {
    let limited = [
        "A will larger than a subscriber's Maximum Packet Size is not sent to it",
        "A will too large for one subscriber is discarded for it alone: its connection goes on",
    ];
    let sizes = vec![root().join("features/v5/will-size-and-fan-out.feature")];
    let ours = run(sizes.clone(), ObserverStack::Lwt).await;
    assert!(!ours.is_empty() && ours.iter().all(|r| matches!(r.outcome, ScenarioOutcome::Passed)), "{:?}", by_scenario(&ours));
    let theirs = run(sizes, ObserverStack::Rumqttc).await;
    for scenario in limited {
        let r = theirs.iter().find(|r| r.scenario == scenario).unwrap_or_else(|| panic!("{scenario:?} ran"));
        match &r.outcome {
            ScenarioOutcome::Errored(why) => assert!(why.contains("observer limit") && why.contains("Maximum Packet Size"), "{why}"),
            other => panic!("{scenario}: expected an error naming the observer's limit, got {other:?}"),
        }
    }
    for r in theirs.iter().filter(|r| !limited.contains(&r.scenario.as_str())) {
        assert!(matches!(r.outcome, ScenarioOutcome::Passed), "{}: {:?}", r.scenario, r.outcome);
    }
}

/// Every feature with both stacks (slow; `cargo test --test features_rumqttc -- --ignored`): every
/// scenario whose outcome differs must be a rumqttc error naming an observer limit (a Maximum
/// Packet Size it must exceed, Retain Handling, …); any other difference is a harness
/// error. Prints the differences, for judging where rumqttc observers fit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn every_feature_with_both_stacks() {
    let all = vec![root().join("features")];
    let ours = run(all.clone(), ObserverStack::Lwt).await;
    let theirs: BTreeMap<String, ScenarioOutcome> =
        run(all, ObserverStack::Rumqttc).await.into_iter().map(|r| (r.key.clone(), r.outcome)).collect();
    let (mut limits, mut disagreements) = (Vec::new(), Vec::new());
    for r in &ours {
        let other = theirs.get(&r.key);
        if other.map(|o| word(o)) == Some(word(&r.outcome)) {
            continue;
        }
        let line = format!("{} / {} (line {}): ours {:?}, rumqttc {other:?}", r.feature, r.scenario, r.line, r.outcome);
        match other {
            Some(ScenarioOutcome::Errored(why)) if why.contains("observer limit") => limits.push(line),
            _ => disagreements.push(line),
        }
    }
    println!("{} of {} scenarios meet a rumqttc observer limit:\n{}", limits.len(), ours.len(), limits.join("\n"));
    assert!(disagreements.is_empty(), "harness error: the observer stacks disagree:\n{}", disagreements.join("\n"));
}
