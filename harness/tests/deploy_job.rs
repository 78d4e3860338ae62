//! The Kubernetes Job in deploy/k8s/load-shards.yaml runs as written: its scenario (the ConfigMap)
//! parses, and its container command line — every flag, the env variables it uses, the barrier —
//! runs here as two shard processes against a loopback broker, then merges. Only what cannot exist
//! here is swapped: `ulimit -n 65536` (the hard limit here may be lower), the mount paths (temporary
//! folders), the broker address, the shard count (2 instead of 8) and the fleet size (the scenario's
//! 100,000 clients become 200, and its fault comes sooner).

use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_lwt-harness");
const JOB: &str = include_str!("../../deploy/k8s/load-shards.yaml");

fn docs() -> Vec<serde_json::Value> {
    JOB.split("\n---\n").map(|d| serde_saphyr::from_str(d).expect("each document is YAML")).collect()
}

#[test]
fn the_containerfile_builds_both_binaries_the_job_runs() {
    let cf = include_str!("../../deploy/Containerfile");
    assert!(cf.contains("-p lwt-harness -p lwt-broker") && cf.contains("--locked"), "builds both binaries, locked");
    assert!(cf.contains("USER 10001"), "runs unprivileged");
    let job = docs().into_iter().find(|d| d["kind"] == "Job").expect("a Job");
    let image = job["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap();
    assert_eq!(image, "lwt-harness:latest", "the image deploy/k8s/README.md tells people to build");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_command_line_runs_as_two_shards() {
    let docs = docs();
    let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").expect("a ConfigMap");
    let scenario = cm["data"]["will-storm.yaml"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (sdir, rdir) = (dir.path().join("scenario"), dir.path().join("results"));
    std::fs::create_dir_all(&sdir).unwrap();
    std::fs::create_dir_all(&rdir).unwrap();
    // The scenario as shipped must parse.
    std::fs::write(sdir.join("will-storm.yaml"), scenario).unwrap();
    lwt_harness::load::scenario::Scenario::load(&sdir.join("will-storm.yaml")).expect("the Job's scenario parses");
    let small = scenario.replace("count: 100000", "count: 200").replace("at_ms: 2000", "at_ms: 300").replace("rate: 5000", "rate: 2000");
    assert_ne!(small, scenario, "the test shrinks the fleet it found");
    std::fs::write(sdir.join("will-storm.yaml"), small).unwrap();

    let job = docs.iter().find(|d| d["kind"] == "Job").unwrap();
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"], serde_json::json!(["/bin/sh", "-c"]));
    let script = c["args"][0].as_str().unwrap();
    let env_names: Vec<&str> = c["env"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    for v in ["$SHARDS", "$BROKER", "$BARRIER", "$JOB_COMPLETION_INDEX"] {
        assert!(script.contains(v), "the command uses {v}");
        assert!(v == "$JOB_COMPLETION_INDEX" || env_names.contains(&&v[1..]), "{v} is set in the Job's env");
    }
    let local = script
        .replace("ulimit -n 65536", "true")
        .replace("/scenario/", &format!("{}/", sdir.display()))
        .replace("/results/", &format!("{}/", rdir.display()));
    let broker = lwt_broker::start_embedded().await.unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut pods = Vec::new();
    for k in 0..2 {
        let child = Command::new("/bin/sh")
            .args(["-c", &local])
            .env("PATH", &path)
            .env("SHARDS", "2")
            .env("BROKER", broker.url())
            .env("BARRIER", format!("job{}", std::process::id()))
            .env("JOB_COMPLETION_INDEX", k.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        pods.push(child);
    }
    for (k, p) in pods.into_iter().enumerate() {
        let out = tokio::task::spawn_blocking(move || p.wait_with_output().unwrap()).await.unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "pod {k}: {text}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(&format!("shard {k} exit 0")), "{text}");
    }
    let out = Command::new(BIN)
        .arg("merge")
        .args([rdir.join("shard-0.json"), rdir.join("shard-1.json")])
        .args(["--json", rdir.join("merged.json").to_str().unwrap()])
        .args(["--report-dir", rdir.join("merged").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(rdir.join("merged.json")).unwrap()).unwrap();
    assert_eq!((m["wills_expected"].as_u64(), m["wills_received"].as_u64(), m["wills_lost"].as_u64()), (Some(200), Some(200), Some(0)));
    assert_eq!(m["fleet_sync"]["shards"], 2, "both pods met at the barrier");
    broker.shutdown().await;
}
