//! Pins the shape of the Markdown report for the embedded reference broker (the seed feature), with
//! measured timings and per-run names redacted.

use lwt_harness::bdd::{self, RunOptions};
use lwt_harness::profile::Profile;
use lwt_harness::target::{Target, TargetSpec};
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_report_shape() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let profile = Profile::load(&root.join("fixtures/profiles/lwt-broker.yaml")).unwrap();
    let target = Target::start(&TargetSpec::Embedded(Default::default())).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        paths: vec![root.join("features/seed")],
        tags: None,
        report_dir: Some(dir.path().to_path_buf()),
        concurrency: 8,
        rerun_failures: 0,
        observer: Default::default(),
    };
    let (summary, _) = bdd::run(target, profile, opts).await.unwrap();
    assert_eq!(summary.failed, 0);
    for f in ["junit.xml", "cucumber.json", "report.html", "verdicts.json", "latency.hlog", "latency.svg"] {
        assert!(dir.path().join(f).is_file(), "{f} written");
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<details><summary>Passed (6)</summary>"), "passes collapsed");
    assert!(html.contains("<h2>By feature family</h2>") && html.contains("<svg"), "family table and latency plot inline");
    let hlog = std::fs::read_to_string(dir.path().join("latency.hlog")).unwrap();
    assert!(hlog.contains("Tag=FIN") && hlog.contains("Tag=RST"), "one histogram per close type the seed uses: {hlog}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    // Measured times and latency percentiles vary from run to run; the shape does not.
    insta::with_settings!({filters => vec![(r"\d+\.\d+ ms", "[ms]"), (r"\| (FIN|RST) \| (\d+) \|.*", "| $1 | $2 | [ms] |")]}, {
        insta::assert_snapshot!("seed_report_md", md);
    });
}
