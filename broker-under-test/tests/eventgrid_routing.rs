//! Event Grid routing through real TLS sockets: the seeds' namespace with `routing:` (a JSON Lines
//! file or an http webhook, static and dynamic enrichments), sensors that publish telemetry and
//! leave wills, and the `MQTT.EventPublished` CloudEvents the broker writes for them — payload in
//! `data` or `data_base64` as the message's format says, enrichments with missing values `""`, wills
//! routed when published, and nothing routed for a publish or a will the namespace refuses.

mod tls_common;

use bytes::Bytes;
use lwt_broker::codec::*;
use lwt_broker::eventgrid::Namespace;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use tls_common::*;

/// `routing:` with `file` and the enrichments the tests look for.
fn routing_yaml(destination: &str) -> String {
    format!(
        "routing:\n  {destination}\n  enrichments:\n    static:\n      - key: site\n        value: lab\n    dynamic:\n      \
         - key: clientname\n        value: ${{client.authenticationName}}\n      \
         - key: clienttype\n        value: ${{client.attributes.type}}\n      \
         - key: floor\n        value: ${{client.attributes.floor}}\n      \
         - key: urgency\n        value: ${{mqtt.message.userProperties.Urgency}}\n      \
         - key: pfi\n        value: ${{mqtt.message.pfi}}\n"
    )
}

/// A QoS 1 PUBLISH from `c` with `props`, acknowledged with `want` (0 = success).
async fn publish_with(c: &mut Client, topic: &str, payload: &[u8], props: Vec<Property>, want: u8) {
    let mut p = Publish::new(topic, Bytes::copy_from_slice(payload));
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(c.pid());
    p.properties = Properties(props);
    c.send(Packet::Publish(p)).await;
    match c.recv(WAIT).await {
        Recv::Packet(Packet::PubAck(a)) => assert!(a.reason == want || (want == 0 && a.reason == reason::NO_MATCHING_SUBSCRIBERS), "{a:?}"),
        other => panic!("expected PUBACK, got {other:?}"),
    }
}

/// The routed events in `path` once there are `n` (or what is there after the wait).
async fn routed(path: &Path, n: usize) -> Vec<Value> {
    let ev = wait_for_events(path, n).await;
    assert!(ev.iter().all(|e| e["type"] == "MQTT.EventPublished"), "{ev:#?}");
    ev
}

#[tokio::test]
async fn telemetry_and_a_will_are_routed_with_enrichments() {
    let w = Walkthrough::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routed.jsonl");
    let b = w.broker(&routing_yaml(&format!("file: {}", path.display()))).await;
    let mut a1 = w.actuator(&b, "actuator1").await;

    // sensor1's telemetry: JSON text (PFI 1) with a user property.
    let c = with_will(connect(ProtocolVersion::V5, "sensor1", Some("sensor1")), "clients/sensor1/status", "offline");
    let (s1, ack) = w.client(&b, "sensor1", c).await;
    assert_eq!(ack.code, 0);
    let mut s1 = s1;
    let props = vec![Property::PayloadFormatIndicator(1), Property::UserProperty("Urgency".into(), "high".into())];
    publish_with(&mut s1, "clients/sensor1/status", br#"{"temp":21.5}"#, props, 0).await;
    assert!(a1.next_publish(WAIT).await.is_some(), "the telemetry is delivered too");

    // Then sensor1 is cut: its will reaches actuator1 and is routed as well.
    let tcp = s1.conn.into_inner().into_inner().0;
    tcp.set_zero_linger().expect("SO_LINGER 0");
    drop(tcp);
    let will = a1.next_publish(WAIT).await.expect("sensor1's will");
    assert_eq!(&will.payload[..], b"offline");

    let ev = routed(&path, 2).await;
    assert_eq!(ev.len(), 2, "{ev:#?}");
    let (t, w1) = (&ev[0], &ev[1]);
    assert_eq!(t["specversion"], "1.0");
    assert_eq!(t["source"], "seeds");
    assert_eq!(t["subject"], "clients/sensor1/status");
    assert_eq!(t["data"], json!({"temp": 21.5}));
    assert!(t.get("data_base64").is_none(), "{t}");
    assert_eq!((&t["site"], &t["clientname"], &t["clienttype"]), (&json!("lab"), &json!("sensor1"), &json!("sensor")));
    assert_eq!((&t["urgency"], &t["pfi"], &t["floor"]), (&json!("high"), &json!("1"), &json!("")), "missing values are \"\"");
    // The will: no properties, so base64; enrichments from its owner.
    assert_eq!(w1["subject"], "clients/sensor1/status");
    assert_eq!(w1["data_base64"], "b2ZmbGluZQ==");
    assert!(w1.get("data").is_none(), "{w1}");
    assert_eq!((&w1["clientname"], &w1["urgency"], &w1["pfi"]), (&json!("sensor1"), &json!(""), &json!("")));
    assert_ne!(t["id"], w1["id"]);
    let time = w1["time"].as_str().unwrap();
    assert!(time.len() == 27 && time.ends_with('Z'), "{time}");
    b.shutdown().await;
}

#[tokio::test]
async fn the_payload_goes_to_data_or_data_base64_by_its_format() {
    let w = Walkthrough::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routed.jsonl");
    let b = w.broker(&format!("routing:\n  file: {}\n", path.display())).await;
    let topic = "clients/sensor1/status";
    // MQTT 3.1.1: no properties, always base64.
    let mut v3 = w.connected(&b, "sensor1", ProtocolVersion::V311).await;
    v3.publish(topic, "{\"a\":1}", QoS::AtLeastOnce).await;
    drop(v3);
    let mut s1 = w.connected(&b, "sensor1", ProtocolVersion::V5).await;
    publish_with(&mut s1, topic, b"{\"a\":1}", vec![Property::PayloadFormatIndicator(0)], 0).await;
    let json_ct = Property::ContentType("application/json; charset=utf-8".into());
    publish_with(&mut s1, topic, b"[1,2]", vec![json_ct.clone()], 0).await;
    publish_with(&mut s1, topic, b"not json", vec![Property::PayloadFormatIndicator(1)], 0).await;
    publish_with(&mut s1, topic, &[0xff, 0x00], vec![json_ct], 0).await;
    let ev = routed(&path, 5).await;
    let shapes: Vec<(Value, Value, Value)> =
        ev.iter().map(|e| (e["data"].clone(), e["data_base64"].clone(), e["datacontenttype"].clone())).collect();
    assert_eq!(
        shapes,
        [
            (Value::Null, json!("eyJhIjoxfQ=="), Value::Null),
            (Value::Null, json!("eyJhIjoxfQ=="), Value::Null),
            (json!([1, 2]), Value::Null, json!("application/json; charset=utf-8")),
            (json!("not json"), Value::Null, Value::Null),
            (Value::Null, json!("/wA="), json!("application/json; charset=utf-8")),
        ],
        "{ev:#?}"
    );
    // A CloudEvent of the client's own (structured mode) keeps its attributes.
    let ce = Property::ContentType("application/cloudevents+json".into());
    let own = br#"{"specversion":"1.0","id":"e1","source":"sensor1","type":"com.example.reading","data":21.5}"#;
    publish_with(&mut s1, topic, own, vec![ce], 0).await;
    let ev = wait_for_events(&path, 6).await;
    let last = ev.last().unwrap();
    assert_eq!((&last["id"], &last["source"], &last["type"], &last["data"]), (&json!("e1"), &json!("sensor1"), &json!("com.example.reading"), &json!(21.5)), "{last}");
    b.shutdown().await;
}

#[tokio::test]
async fn a_refused_publish_or_will_is_not_routed() {
    let w = Walkthrough::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routed.jsonl");
    let b = w.broker(&format!("routing:\n  file: {}\n", path.display())).await;
    // sensor1 may not publish on sensor2's topic (PUBACK 0x87), and its will there is dropped.
    let c = with_will(connect(ProtocolVersion::V5, "sensor1", Some("sensor1")), "clients/sensor2/status", "forged");
    let (mut s1, ack) = w.client(&b, "sensor1", c).await;
    assert_eq!(ack.code, 0);
    publish_with(&mut s1, "clients/sensor2/status", b"forged", vec![], reason::NOT_AUTHORIZED).await;
    let tcp = s1.conn.into_inner().into_inner().0;
    tcp.set_zero_linger().expect("SO_LINGER 0");
    drop(tcp);
    let deadline = tokio::time::Instant::now() + WAIT;
    while b.stats().await.wills_denied == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(b.stats().await.wills_denied, 1, "the will was refused");
    // A permitted publish afterwards is routed: the writer is live and in order, so the refused
    // ones would be before it.
    let mut prober = w.connected(&b, "prober", ProtocolVersion::V5).await;
    prober.publish("probe/routing", "live", QoS::AtLeastOnce).await;
    let ev = routed(&path, 1).await;
    let subjects: Vec<&str> = ev.iter().map(|e| e["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, ["probe/routing"], "{ev:#?}");
    b.shutdown().await;
}

#[tokio::test]
async fn a_webhook_gets_each_routed_message() {
    let (addr, got) = webhook_sink().await;
    let w = Walkthrough::new();
    let b = w.broker(&routing_yaml(&format!("webhook: http://{addr}/routed"))).await;
    let mut s1 = w.connected(&b, "sensor1", ProtocolVersion::V5).await;
    s1.publish("clients/sensor1/status", "online", QoS::AtLeastOnce).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.lock().unwrap().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].0.starts_with("application/cloudevents+json"), "{got:?}");
    let e: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!((&e["type"], &e["subject"], &e["data_base64"]), (&json!("MQTT.EventPublished"), &json!("clients/sensor1/status"), &json!("b25saW5l")));
    assert_eq!(e["clientname"], "sensor1");
    b.shutdown().await;
}

#[test]
fn routing_settings_are_checked_with_their_line() {
    let w = Walkthrough::new();
    let parse = |routing: &str| Namespace::parse(&w.namespace_yaml(routing), "ns.yaml").map(|_| ()).map_err(|e| e.to_string());
    let one = |kind: &str, key: &str, value: &str| format!("routing:\n  file: r.jsonl\n  enrichments:\n    {kind}:\n      - key: {key}\n        value: \"{value}\"\n");
    assert_eq!(parse(&one("static", "site", "lab")), Ok(()));
    assert_eq!(parse(&one("dynamic", "who", "${client.authenticationName}")), Ok(()));
    for (yaml, want) in [
        ("routing:\n  enrichments: {}\n".to_string(), "needs a destination"),
        ("routing:\n  webhook: https://x/\n".to_string(), "routing.webhook"),
        ("routing:\n  fiel: r.jsonl\n".to_string(), "fiel"),
        (one("static", "Site", "x"), "lower-case"),
        (one("static", "subject", "x"), "reserved"),
        (one("static", "azspx", "x"), "azsp"),
        (one("static", "abcdefghijklmnopqrstu", "x"), "longer than 20"),
        (one("static", "site", &"v".repeat(129)), "longer than 128"),
        (one("dynamic", "who", "${client.name}"), "not a supported dynamic value"),
        (one("dynamic", "who", "sensor"), "not a supported dynamic value"),
        (
            "routing:\n  file: r.jsonl\n  enrichments:\n    static:\n      - key: a\n        value: x\n    dynamic:\n      - key: a\n        value: ${mqtt.message.pfi}\n".to_string(),
            "used twice",
        ),
    ] {
        let err = parse(&yaml).unwrap_err();
        assert!(err.contains(want) && err.starts_with("ns.yaml:"), "{yaml}: {err}");
    }
    let mut many = "routing:\n  file: r.jsonl\n  enrichments:\n    static:\n".to_string();
    for i in 0..21 {
        many += &format!("      - key: k{i}\n        value: v\n");
    }
    assert!(parse(&many).unwrap_err().contains("at most 20"));
    // Field and line of a bad dynamic value.
    let err = parse(&one("dynamic", "who", "${client.name}")).unwrap_err();
    assert!(err.contains("routing.enrichments.dynamic[0].value"), "{err}");
}
