//! The Event Grid walkthrough end to end: `lwt-harness init eventgrid-lwt` writes certificates and a
//! namespace whose thumbprints are those of the certificates; `check --eventgrid DIR` runs the
//! walkthrough feature over TLS against the embedded broker; `check --broker mqtts://… --identities
//! DIR` runs it against a separately started broker serving the same folder (how a real namespace
//! is checked); and `@eventgrid` scenarios are skipped, not failed, on targets without the capability.

use lwt_harness::bdd::missing_capability;
use lwt_harness::profile::Profile;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lwt-harness");
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn init(dir: &Path) {
    let out = Command::new(BIN).current_dir(ROOT).args(["init", "eventgrid-lwt", "--out"]).arg(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("check features/seed/eventgrid-lwt.feature --eventgrid"), "{text}");
}

#[test]
fn init_writes_certificates_and_a_namespace_with_their_thumbprints() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let ns_text = std::fs::read_to_string(dir.path().join("namespace.yaml")).unwrap();
    for name in ["sensor1", "sensor2", "actuator1", "actuator2"] {
        let der = CertificateDer::from_pem_file(dir.path().join("clients").join(format!("{name}.pem"))).unwrap();
        let tp = lwt_harness::pki::thumbprint(&der);
        assert!(ns_text.contains(&tp), "{name}: thumbprint {tp} not in namespace.yaml");
        assert!(dir.path().join("clients").join(format!("{name}.key")).is_file());
    }
    for f in ["ca.pem", "server.pem", "server.key", "README.md"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    // The broker accepts the file as it is.
    lwt_broker::eventgrid::Namespace::load(&dir.path().join("namespace.yaml")).unwrap_or_else(|e| panic!("{e}"));
    for want in ["lwtPub", "lwtSub", "sensorsPub", "actuatorsSub", "clients/${client.authenticationName}/status", "clients/+/status"] {
        assert!(ns_text.contains(want), "{want} missing from namespace.yaml");
    }
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(readme.contains("az eventgrid namespace client create") && readme.contains("--identities"), "{readme}");
}

#[test]
fn the_walkthrough_runs_with_two_commands() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let out = Command::new(BIN)
        .current_dir(ROOT)
        .args(["check", "features/seed/eventgrid-lwt.feature", "--eventgrid"])
        .arg(dir.path())
        .arg("--report-dir")
        .arg(dir.path().join("report"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("3 scenarios: 3 passed, 0 failed (0 MUST), 0 skipped"), "{stdout}");
    assert!(stdout.contains("Event Grid namespace") && stdout.contains("profile: eventgrid"), "{stdout}");
}

#[test]
fn the_walkthrough_runs_over_websockets_over_tls_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let out = Command::new(BIN)
        .current_dir(ROOT)
        .args(["check", "features/seed/eventgrid-lwt.feature", "--wss", "--eventgrid"])
        .arg(dir.path())
        .arg("--report-dir")
        .arg(dir.path().join("report"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("3 scenarios: 3 passed, 0 failed (0 MUST), 0 skipped"), "{stdout}");
    assert!(stdout.contains("WebSocket over TLS, Event Grid namespace"), "{stdout}");
}

/// The JWT variant: `init`'s token clients run `jwt-authentication.feature` with the life-cycle
/// events observed, and `pki --jwt-issuer` mints more tokens with the same issuer.
#[test]
fn the_walkthrough_runs_with_jwt_clients_and_pki_mints_tokens_of_the_same_issuer() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let report = dir.path().join("report");
    let out = Command::new(BIN)
        .current_dir(ROOT)
        .args(["check", "features/eventgrid/jwt-authentication.feature", "--eventgrid"])
        .arg(dir.path())
        .arg("--report-dir")
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("7 scenarios: 6 passed, 0 failed (0 MUST), 0 skipped, 0 errors"), "{stdout}");
    let events = std::fs::read_to_string(report.join("lifecycle-events.jsonl")).unwrap();
    assert!(events.contains("\"clientAuthenticationName\":\"jwt-sensor1\"") && events.contains("ClientAuthenticationError"), "{events}");

    let key_before = std::fs::read_to_string(dir.path().join("jwt/issuer.key")).unwrap();
    let out = Command::new(BIN)
        .current_dir(ROOT)
        .args(["pki", "--jwt-issuer", "issuer", "--jwt-tokens", "jwt-sensor2", "--jwt-minutes", "5", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("jwt/issuer.key")).unwrap(), key_before, "the issuer is reused");
    let ns = lwt_broker::eventgrid::Namespace::load(&dir.path().join("namespace.yaml")).unwrap();
    let token = std::fs::read_to_string(dir.path().join("jwt/jwt-sensor2.jwt")).unwrap();
    let p = lwt_broker::eventgrid::bearer_principal(&ns, &token, std::time::SystemTime::now()).unwrap();
    assert_eq!(p.authentication_name, "jwt-sensor2");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(600);
    assert!(lwt_broker::eventgrid::bearer_principal(&ns, &token, later).is_err(), "a 5-minute token has expired 10 minutes on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_namespace_is_checked_through_an_identities_folder() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let ns = lwt_broker::eventgrid::Namespace::load(&dir.path().join("namespace.yaml")).unwrap();
    let mut cfg = lwt_broker::Config::eventgrid();
    cfg.apply_namespace(ns);
    let tls = lwt_broker::TlsOptions { cert_chain: dir.path().join("server.pem"), key: dir.path().join("server.key"), client_ca: None };
    let listeners = lwt_broker::Listeners { tls: vec!["127.0.0.1:0".parse().unwrap()], tls_options: Some(tls), ..Default::default() };
    let broker = lwt_broker::start_with(cfg, listeners).await.unwrap();
    let url = format!("mqtts://{}", broker.tls_addrs()[0]);
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .current_dir(ROOT)
            .args(["check", "features/seed/eventgrid-lwt.feature", "--broker", &url, "--profile", "fixtures/profiles/eventgrid.yaml"])
            .arg("--identities")
            .arg(&path)
            .arg("--report-dir")
            .arg(path.join("report"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("3 scenarios: 3 passed"), "{stdout}");
    broker.shutdown().await;
}

#[test]
fn eventgrid_scenarios_are_skipped_where_the_capability_is_missing() {
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mosquitto = Profile { name: "mosquitto".into(), ..Profile::default() };
    // An external or launched broker without the capability: skipped, with the reason.
    let why = missing_capability(&tags(&["eventgrid", "tls", "v5"]), &mosquitto, true, false).unwrap();
    assert!(why.contains("Event Grid") || why.contains("TLS"), "{why}");
    assert!(missing_capability(&tags(&["eventgrid", "tls", "reference-only"]), &mosquitto, true, false).is_some());
    // The embedded reference broker starts its own Event Grid broker per scenario.
    assert_eq!(missing_capability(&tags(&["eventgrid", "tls", "v5"]), &mosquitto, true, true), None);
    // A TLS scenario that is not an Event Grid one still needs a TLS target.
    assert!(missing_capability(&tags(&["tls"]), &mosquitto, true, true).is_some());
    // A real namespace (profile eventgrid + tls) runs the walkthrough but not the self-configured ones.
    let eg = Profile::load(&Path::new(ROOT).join("fixtures/profiles/eventgrid.yaml")).unwrap();
    assert!(eg.eventgrid && eg.tls && eg.max_qos == 1);
    assert_eq!(missing_capability(&tags(&["eventgrid", "tls", "v311"]), &eg, false, false), None);
    assert!(missing_capability(&tags(&["eventgrid", "tls", "reference-only"]), &eg, false, false).is_some());
}
