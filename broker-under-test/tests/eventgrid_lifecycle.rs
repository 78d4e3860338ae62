//! Event Grid client life-cycle events through real TLS sockets: the seeds' namespace with
//! `lifecycleEvents.file`, X.509 clients that are cut with RST, DISCONNECT 0x00, taken over and
//! shut down, and the JSON Lines file they leave (types, sequence numbers, reasons).

mod tls_common;

use lwt_broker::codec::*;
use lwt_broker::eventgrid::Namespace;
use lwt_broker::{Config, Listeners};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tls_common::*;

const CONNECTED: &str = "Microsoft.EventGrid.MQTTClientSessionConnected";
const DISCONNECTED: &str = "Microsoft.EventGrid.MQTTClientSessionDisconnected";

/// (type, sequence number, reason) of every event of session `who`, in file order.
fn of(events: &[Value], who: &str) -> Vec<(String, u64, String)> {
    events
        .iter()
        .filter(|e| e["data"]["clientSessionName"] == who)
        .map(|e| {
            let ty = if e["type"] == CONNECTED { "connected" } else if e["type"] == DISCONNECTED { "disconnected" } else { "?" };
            let reason = e["data"]["disconnectionReason"].as_str().unwrap_or("").to_owned();
            (ty.to_owned(), e["data"]["sequenceNumber"].as_u64().unwrap_or(0), reason)
        })
        .collect()
}

fn ev(ty: &str, seq: u64, reason: &str) -> (String, u64, String) {
    (ty.to_owned(), seq, reason.to_owned())
}

#[tokio::test]
async fn rst_disconnect_takeover_and_shutdown_leave_documented_events() {
    let w = Walkthrough::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let b = w.broker(&format!("lifecycleEvents:\n  file: {}\n", path.display())).await;
    let mut a1 = w.actuator(&b, "actuator1").await;
    let mut prober = w.connected(&b, "prober", ProtocolVersion::V5).await;

    // sensor1 is cut with RST: its will reaches actuator1 and its session says ConnectionLost.
    let c = with_will(connect(ProtocolVersion::V5, "sensor1", Some("sensor1")), "clients/sensor1/status", "offline");
    let (s1, ack) = w.client(&b, "sensor1", c).await;
    assert_eq!(ack.code, 0);
    let tcp = s1.conn.into_inner().into_inner().0;
    tcp.set_zero_linger().expect("SO_LINGER 0");
    drop(tcp);
    let will = a1.next_publish(WAIT).await.expect("sensor1's will after the RST");
    assert_eq!((will.topic.as_str(), &will.payload[..]), ("clients/sensor1/status", &b"offline"[..]));

    // sensor2 leaves with DISCONNECT 0x00: no will, ClientInitiatedDisconnect.
    let c = with_will(connect(ProtocolVersion::V5, "sensor2", Some("sensor2")), "clients/sensor2/status", "offline");
    let (mut s2, ack) = w.client(&b, "sensor2", c).await;
    assert_eq!(ack.code, 0);
    s2.send(Packet::Disconnect(Disconnect::new(0))).await;
    s2.expect_closed().await;
    a1.expect_only_probe(&mut prober, "probe/1").await;

    // sensor1 comes back, and is taken over by a second connection of its own.
    let mut first = w.connected(&b, "sensor1", ProtocolVersion::V5).await;
    let _second = w.connected(&b, "sensor1", ProtocolVersion::V5).await;
    assert_eq!(first.expect_closed().await, Some(reason::SESSION_TAKEN_OVER));

    let events = wait_for_events(&path, 9).await;
    assert_eq!(
        of(&events, "sensor1"),
        [
            ev("connected", 1, ""),
            ev("disconnected", 1, "ConnectionLost"),
            ev("connected", 2, ""),
            ev("disconnected", 2, "SessionTakenOver"),
            ev("connected", 3, ""),
        ],
        "{events:#?}"
    );
    assert_eq!(of(&events, "sensor2"), [ev("connected", 1, ""), ev("disconnected", 1, "ClientInitiatedDisconnect")]);
    assert_eq!(of(&events, "actuator1"), [ev("connected", 1, "")]);

    // Every event is a structured-mode CloudEvent naming the namespace and the client.
    let mut ids = std::collections::HashSet::new();
    for e in &events {
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["datacontenttype"], "application/json");
        assert!(e["source"].as_str().unwrap().ends_with("/providers/Microsoft.EventGrid/namespaces/seeds"), "{e}");
        assert_eq!(e["data"]["namespaceName"], "seeds");
        let who = e["data"]["clientSessionName"].as_str().unwrap();
        assert_eq!(e["data"]["clientAuthenticationName"], who);
        assert_eq!(e["subject"], format!("clients/{who}/sessions/{who}"));
        let t = e["time"].as_str().unwrap();
        assert!(t.len() == 27 && t.ends_with('Z') && &t[10..11] == "T", "{t}");
        assert!(ids.insert(e["id"].as_str().unwrap().to_owned()), "duplicate id {e}");
    }

    // A shutdown ends the live sessions as ServerInitiatedDisconnect.
    b.shutdown().await;
    let events = read_events(&path);
    assert_eq!(of(&events, "actuator1"), [ev("connected", 1, ""), ev("disconnected", 1, "ServerInitiatedDisconnect")]);
    assert_eq!(of(&events, "sensor1").last(), Some(&ev("disconnected", 3, "ServerInitiatedDisconnect")));
}

#[tokio::test]
async fn a_keep_alive_expiry_is_connection_lost() {
    let w = Walkthrough::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let b = w.broker(&format!("lifecycleEvents:\n  file: {}\n", path.display())).await;
    let mut c = connect(ProtocolVersion::V311, "sensor1", Some("sensor1"));
    c.keep_alive = 1;
    let (mut s1, ack) = w.client(&b, "sensor1", c).await;
    assert_eq!(ack.code, 0);
    s1.expect_closed().await; // silent for 1.5 s
    let events = wait_for_events(&path, 2).await;
    assert_eq!(of(&events, "sensor1"), [ev("connected", 1, ""), ev("disconnected", 1, "ConnectionLost")]);
    b.shutdown().await;
}

#[tokio::test]
async fn an_unauthorized_publish_is_a_client_authorization_error_and_a_bad_packet_a_client_error() {
    let w = Walkthrough::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let b = w.broker(&format!("lifecycleEvents:\n  file: {}\n", path.display())).await;
    // 3.1.1 (v311PublishDenied: close): sensor1 may not publish on sensor2's topic.
    let mut s1 = w.connected(&b, "sensor1", ProtocolVersion::V311).await;
    s1.send(Packet::Publish(Publish::new("clients/sensor2/status", bytes::Bytes::from_static(b"forged")))).await;
    s1.expect_closed().await;
    // A second CONNECT is a protocol error.
    let mut s2 = w.connected(&b, "sensor2", ProtocolVersion::V5).await;
    s2.send(Packet::Connect(connect(ProtocolVersion::V5, "sensor2", Some("sensor2")))).await;
    s2.expect_closed().await;
    let events = wait_for_events(&path, 4).await;
    assert_eq!(of(&events, "sensor1"), [ev("connected", 1, ""), ev("disconnected", 1, "ClientAuthorizationError")]);
    assert_eq!(of(&events, "sensor2"), [ev("connected", 1, ""), ev("disconnected", 1, "ClientError")]);
    b.shutdown().await;
}

#[tokio::test]
async fn a_refused_connect_leaves_no_event() {
    let w = Walkthrough::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let b = w.broker(&format!("lifecycleEvents:\n  file: {}\n", path.display())).await;
    // actuator1's certificate under sensor1's name: refused, so no session and no event.
    let (_c, ack) = Client::connect(&w.pki, b.tls_addrs()[0], Some(&w.actuator1), connect(ProtocolVersion::V5, "sensor1", Some("sensor1"))).await;
    assert_ne!(ack.code, 0);
    b.shutdown().await;
    assert!(read_events(&path).is_empty(), "{:?}", read_events(&path));
}

#[tokio::test]
async fn an_unwritable_file_stops_the_start_with_a_clear_error() {
    let w = Walkthrough::new();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("no-such-dir").join("events.jsonl");
    let ns = Namespace::parse(&w.namespace_yaml(&format!("lifecycleEvents:\n  file: {}\n", bad.display())), "seeds.yaml").unwrap();
    let mut cfg = Config::eventgrid();
    cfg.apply_namespace(ns);
    let listeners = Listeners {
        tls: vec!["127.0.0.1:0".parse().unwrap()],
        tls_options: Some(w.pki.tls_options(false)),
        ..Listeners::default()
    };
    let err = lwt_broker::start_with(cfg, listeners).await.err().expect("the start fails").to_string();
    assert!(err.contains("life-cycle events file") && err.contains("no-such-dir"), "{err}");

    // The flag's file without a namespace is refused too.
    let cfg = Config { lifecycle_events: Some(dir.path().join("e.jsonl")), ..Config::default() };
    let err = lwt_broker::start(cfg, &["127.0.0.1:0".parse().unwrap()]).await.err().expect("refused").to_string();
    assert!(err.contains("namespace"), "{err}");
}

#[test]
fn lifecycle_events_keys_are_checked() {
    let w = Walkthrough::new();
    let err = Namespace::parse(&w.namespace_yaml("lifecycleEvents:\n  fiel: x.jsonl\n"), "ns.yaml").unwrap_err().to_string();
    assert!(err.contains("fiel"), "{err}");
    let ns = Namespace::parse(&w.namespace_yaml("lifecycleEvents:\n  file: e.jsonl\n  source: /my/ns\n"), "/etc/lwt/ns.yaml").unwrap();
    assert_eq!(ns.lifecycle_events().file.as_deref(), Some(Path::new("/etc/lwt/e.jsonl")));
    assert_eq!(ns.lifecycle_events().source.as_deref(), Some("/my/ns"));
}

#[tokio::test]
async fn a_webhook_gets_each_event_as_a_structured_cloudevent() {
    let (addr, got) = webhook_sink().await;
    let w = Walkthrough::new();
    let b = w.broker(&format!("lifecycleEvents:\n  webhook: http://{addr}/events\n")).await;
    let s1 = w.connected(&b, "sensor1", ProtocolVersion::V5).await;
    let tcp = s1.conn.into_inner().into_inner().0;
    tcp.set_zero_linger().expect("SO_LINGER 0");
    drop(tcp);
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.lock().unwrap().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    let events: Vec<Value> = got.iter().map(|(_, body)| serde_json::from_str(body).unwrap()).collect();
    assert!(got.iter().all(|(ty, _)| ty.starts_with("application/cloudevents+json")), "{got:?}");
    assert_eq!(of(&events, "sensor1"), [ev("connected", 1, ""), ev("disconnected", 1, "ConnectionLost")]);
    b.shutdown().await;

    // Only http:// is supported: anything else stops the start.
    let ns = Namespace::parse(&w.namespace_yaml("lifecycleEvents:\n  webhook: https://example.invalid/\n"), "seeds.yaml").unwrap();
    let mut cfg = Config::eventgrid();
    cfg.apply_namespace(ns);
    let listeners = Listeners { tls: vec!["127.0.0.1:0".parse().unwrap()], tls_options: Some(w.pki.tls_options(false)), ..Listeners::default() };
    let err = lwt_broker::start_with(cfg, listeners).await.err().expect("refused").to_string();
    assert!(err.contains("webhook") && err.contains("http://"), "{err}");
}
