//! The scenario parser (every shipped scenario parses; unknown keys and bad values are errors naming
//! the key and the line) and the summary maths (percentiles, tallies, keep-alive violations, and a
//! merge of two shards that equals the whole).

use lwt_harness::load::run::{shard_range, share_selected};
use lwt_harness::load::scenario::{FaultKind, Scenario};
use lwt_harness::load::summary::{record, Hists, Summary, Tally};
use std::time::Duration;

fn scenarios_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

#[test]
fn every_shipped_scenario_parses() {
    let mut names = Vec::new();
    for e in std::fs::read_dir(scenarios_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let s = Scenario::load(&p).unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
            names.push(s.name.clone());
        }
    }
    names.sort();
    for want in ["will-storm", "will-storm-rst", "will-storm-silence", "keepalive-precision", "takeover-storm", "reconnect-within-delay", "seed-fleet", "will-storm-ws", "seed-fleet-ws"] {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
    let storm = Scenario::load(&scenarios_dir().join("will-storm.yaml")).unwrap();
    assert_eq!(storm.fleet.count, 10_000);
    assert_eq!(storm.fault.kind, FaultKind::Fin);
    let ws = Scenario::load(&scenarios_dir().join("will-storm-ws.yaml")).unwrap();
    assert_eq!((ws.fleet.count, ws.fault.kind), (10_000, FaultKind::Fin));
    let seed_ws = Scenario::load(&scenarios_dir().join("seed-fleet-ws.yaml")).unwrap();
    assert_eq!(seed_ws.target.launch.as_deref(), Some("embedded-ws"));
    let ka = Scenario::load(&scenarios_dir().join("keepalive-precision.yaml")).unwrap();
    assert_eq!((ka.keep_alive_of(0), ka.keep_alive_of(9), ka.keep_alive_of(10)), (1, 10, 1));
}

const GOOD: &str = "name: t\nfleet:\n  count: 10\n  will:\n    topic: \"x/{id}/will\"\n    qos: 1\nfault:\n  kind: fin\n";

#[test]
fn unknown_keys_are_named_with_their_line() {
    assert!(Scenario::from_yaml(GOOD, "t.yaml").is_ok());
    let bad = GOOD.replace("    qos: 1\n", "    qos: 1\n    qso: 2\n");
    let e = Scenario::from_yaml(&bad, "t.yaml").unwrap_err().to_string();
    assert!(e.contains("qso"), "{e}");
    assert!(e.contains("line 7") || e.contains(":7:") || e.contains("7:5"), "no line in: {e}");
    let bad = GOOD.replace("fault:\n", "faults: 1\nfault:\n");
    let e = Scenario::from_yaml(&bad, "t.yaml").unwrap_err().to_string();
    assert!(e.contains("faults") && e.contains('7'), "{e}");
}

#[test]
fn bad_values_are_named_with_their_line() {
    let e = Scenario::from_yaml(&GOOD.replace("kind: fin", "kind: explode"), "t.yaml").unwrap_err().to_string();
    assert!(e.contains("explode") && e.contains('8'), "{e}");
    let e = Scenario::from_yaml(&GOOD.replace("qos: 1", "qos: 3"), "t.yaml").unwrap_err().to_string();
    assert!(e.contains("fleet.will.qos") && e.contains("line 6"), "{e}");
    let e = Scenario::from_yaml(&GOOD.replace("count: 10", "count: lots"), "t.yaml").unwrap_err().to_string();
    assert!(e.contains("count") || e.contains("lots"), "{e}");
    assert!(e.contains('3'), "{e}");
    let e = Scenario::from_yaml(&GOOD.replace("x/{id}/will", "x/will"), "t.yaml").unwrap_err().to_string();
    assert!(e.contains("fleet.will.topic") && e.contains("line 5"), "{e}");
    let e = Scenario::from_yaml(&GOOD.replace("kind: fin", "kind: disconnect-0x04"), "t.yaml").unwrap_err().to_string();
    assert!(e.contains("fault.kind") && e.contains("5.0"), "{e}");
}

fn hists(lat_us: &[u64], ka_ms: &[i64]) -> Hists {
    let mut h = Hists::default();
    for &v in lat_us {
        record(&mut h.latency_planned, Duration::from_micros(v));
        record(&mut h.latency_actual, Duration::from_micros(v / 2));
        record(&mut h.arrivals, Duration::from_micros(v + 1000));
    }
    for &k in ka_ms {
        h.record_keepalive(if k >= 0 { Ok(Duration::from_millis(k as u64)) } else { Err(Duration::from_millis((-k) as u64)) });
    }
    h
}

#[test]
fn percentiles_violations_and_tallies() {
    let lat: Vec<u64> = (1..=1000).map(|i| i * 100).collect(); // 0.1 .. 100 ms
    let h = hists(&lat, &[5, 10, 20, -3, -7]);
    let mut t = Tally::default();
    t.observe(&[true; 4], &[1, 1, 0, 2], 0);
    let mut s = Summary { observers_live: true, ..Summary::default() };
    s.fill(&t, &h);
    assert!((s.latency_ms.p50 - 50.0).abs() < 0.1, "{:?}", s.latency_ms);
    assert!((s.latency_ms.p99 - 99.0).abs() < 0.1, "{:?}", s.latency_ms);
    assert!((s.latency_ms.max - 100.0).abs() < 0.1, "{:?}", s.latency_ms);
    assert_eq!(s.latency_ms.count, 1000);
    assert!((s.time_to_last_will_ms - 101.0).abs() < 0.1);
    assert_eq!(s.keepalive_error_ms.violations, 2);
    assert!((s.keepalive_error_ms.earliest_ms - 7.0).abs() < 0.01);
    assert!((s.keepalive_error_ms.max - 20.0).abs() < 0.05);
    assert_eq!(s.keepalive_error_ms.count, 5);
    assert_eq!((s.wills_expected, s.wills_received, s.wills_lost, s.wills_duplicated, s.wills_unexpected), (4, 3, 1, 1, 0));
    assert!(s.failed());
    let mut clean = Tally::default();
    clean.observe(&[true, true, false], &[1, 1, 0], 0);
    s.fill(&clean, &h);
    assert!(!s.failed());
    s.observers_live = false;
    assert!(s.failed(), "an observer that cannot prove it listened fails the run");
}

#[test]
fn merged_shards_equal_the_whole() {
    let all: Vec<u64> = (1..=2000).map(|i| (i * 37) % 50_000 + 1).collect();
    let (a, b) = all.split_at(700);
    let whole = {
        let mut t = Tally::default();
        t.observe(&vec![true; 2000], &vec![1; 2000], 0);
        let mut s = Summary { observers_live: true, clients: 2000, ..Summary::default() };
        s.fill(&t, &hists(&all, &[1, -2, 3]));
        s
    };
    let part = |v: &[u64], ka: &[i64], shard: &str| {
        let mut t = Tally::default();
        t.observe(&vec![true; v.len()], &vec![1; v.len()], 0);
        let mut s = Summary { observers_live: true, clients: v.len() as u64, shard: shard.into(), ..Summary::default() };
        s.fill(&t, &hists(v, ka));
        // Through JSON, as `merge` reads them.
        serde_json::from_str::<Summary>(&serde_json::to_string(&s).unwrap()).unwrap()
    };
    let m = Summary::merge(&[part(a, &[1, -2], "0/2"), part(b, &[3], "1/2")]).unwrap();
    assert_eq!(m.latency_ms, whole.latency_ms);
    assert_eq!(m.latency_from_actual_ms, whole.latency_from_actual_ms);
    assert_eq!(m.keepalive_error_ms, whole.keepalive_error_ms);
    assert_eq!(m.tally(), whole.tally());
    assert_eq!(m.clients, 2000);
    assert_eq!(m.time_to_last_will_ms, whole.time_to_last_will_ms);
}

#[test]
fn shards_cover_the_fleet_and_shares_are_seeded() {
    let mut covered = 0;
    for i in 0..3 {
        let (lo, hi) = shard_range(10_000, (i, 3));
        covered += hi - lo;
    }
    assert_eq!(covered, 10_000);
    assert_eq!(shard_range(10, (0, 1)), (0, 10));
    let a = share_selected(1000, 0.5, 7);
    assert_eq!(a.iter().filter(|x| **x).count(), 500);
    assert_eq!(a, share_selected(1000, 0.5, 7));
    assert_ne!(a, share_selected(1000, 0.5, 8));
}
