//! `lwt-harness webhook`: the configurable Event Grid authentication webhook as a process — it
//! prints its URL, answers allow / deny as its flags say, prints each request, and refuses bad
//! flags with exit 2 naming the flag.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_lwt-harness");

fn post(url: &str, body: &str) -> serde_json::Value {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).build().into();
    let text = agent.post(url).header("Content-Type", "application/json").send(body).unwrap().body_mut().read_to_string().unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Ends the webhook process however the test ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn answers_by_its_flags_and_prints_each_request() {
    let mut child = Running(Command::new(BIN)
        .args(["webhook", "--listen", "127.0.0.1:0", "--allow", "dev-7=sensor7:type=sensor,floor=3", "--deny", "mallory:revoked"])
        .args(["--expires-in", "60"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap());
    let (tx, rx) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(10)).expect("a line from lwt-harness webhook");
    let first = next();
    let url = first.split_whitespace().find(|w| w.starts_with("http://127.0.0.1:")).unwrap_or_else(|| panic!("{first}")).to_owned();

    let a = post(&url, r#"{"clientId":"dev-7","userName":"u"}"#);
    assert_eq!((a["decision"].as_str(), a["clientAuthenticationName"].as_str()), (Some("allow"), Some("sensor7")));
    assert_eq!(a["attributes"], serde_json::json!({"type": "sensor", "floor": 3}));
    assert!(a["expiration"].as_u64().is_some_and(|e| e > 1_700_000_000), "{a}");
    assert_eq!(post(&url, r#"{"clientId":"mallory"}"#), serde_json::json!({"decision": "deny", "errorReason": "revoked"}));
    assert_eq!(post(&url, r#"{"clientId":"eve"}"#)["decision"], "deny");
    assert_eq!(next(), r#"request: {"clientId":"dev-7","userName":"u"}"#);
    assert_eq!(next(), r#"request: {"clientId":"mallory"}"#);
}

#[test]
fn bad_flags_exit_2_and_name_the_problem() {
    for (args, says) in [
        (vec!["webhook", "--allow", "=x"], "--allow"),
        (vec!["webhook", "--fail", "sometimes"], "--fail"),
        (vec!["webhook", "--listen", "nowhere"], "--listen"),
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
