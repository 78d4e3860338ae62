//! Helpers shared by the MQTT 5.0 Will tests (`v5_will_*.rs`): W (the client with the Will), S (a
//! watcher subscribed before the fault), raw CONNECTs to patch, and the Will assertions.
#![allow(dead_code)]

use crate::common::*;
use lwt_broker::codec::raw::RawPacket;
use lwt_broker::codec::*;
use std::net::SocketAddr;
use std::time::Duration;

/// MQTT 5.0, spelled short for the tests.
pub const V5: ProtocolVersion = ProtocolVersion::V5;
/// Will topic used everywhere (each test has its own broker).
pub const TOPIC: &str = "clients/w/status";
/// Absence window for Wills that, if they were wrongly sent, would be sent at once (no delay in play).
pub const SLACK: Duration = Duration::from_millis(400);

/// S: a 5.0 client subscribed to `filter` at `qos`.
pub async fn watcher(addr: SocketAddr, id: &str, filter: &str, qos: QoS) -> TestClient {
    let mut s = TestClient::connected(addr, connect(V5, id)).await;
    s.subscribe(filter, qos).await;
    s
}

/// A 5.0 Will on [`TOPIC`] with `props`.
pub fn will5(payload: &str, qos: QoS, retain: bool, props: Vec<Property>) -> Will {
    let mut w = will(TOPIC, payload, qos, retain);
    w.properties = Properties(props);
    w
}

/// A 5.0 CONNECT for `id` carrying `w`.
pub fn with_will(id: &str, w: Will) -> Connect {
    connect_with_will(V5, id, w)
}

/// W: connected (CONNACK 0) with `w`.
pub async fn will_client(addr: SocketAddr, id: &str, w: Will) -> TestClient {
    TestClient::connected(addr, with_will(id, w)).await
}

/// Asserts `p` is the Will `payload` on [`TOPIC`].
pub fn assert_will(p: &Publish, payload: &[u8]) {
    assert_eq!(p.topic, TOPIC, "will topic: {p:?}");
    assert_eq!(&p.payload[..], payload, "will payload: {p:?}");
}

/// Sends raw CONNECT bytes and returns the client and the CONNACK code (`None`: closed without one).
pub async fn connect_raw(addr: SocketAddr, bytes: &[u8]) -> (TestClient, Option<ConnAck>) {
    let mut t = TestClient::open(addr, V5).await;
    t.send_raw(bytes).await;
    match t.recv(WAIT).await {
        Recv::Packet(Packet::ConnAck(a)) => (t, Some(a)),
        Recv::Closed(_) => (t, None),
        other => panic!("expected CONNACK or close, got {other:?}"),
    }
}

/// A refused CONNECT: CONNACK with `code` and Session Present 0 (MQTT-3.2.2-6), then the broker closes
/// without sending anything else (MQTT-3.2.2-7, MQTT-3.1.4-6).
pub async fn expect_refused(mut t: TestClient, ack: Option<ConnAck>, code: u8) {
    let ack = ack.unwrap_or_else(|| panic!("expected CONNACK {code:#04x}, the broker closed without one"));
    assert_eq!(ack.code, code, "CONNACK code: {ack:?}");
    assert!(!ack.session_present, "a refusing CONNACK has Session Present 0 (MQTT-3.2.2-6)");
    match t.recv(WAIT).await {
        Recv::Closed(_) => {}
        other => panic!("after CONNACK {code:#04x} the broker must close, got {other:?}"),
    }
}

/// CONNECT bytes for `c`, as a raw packet to patch.
pub fn raw_connect(c: &Connect) -> RawPacket {
    RawPacket::from_packet(&Packet::Connect(c.clone()), V5)
}

/// Offset of `needle` in `body` (it must occur exactly once).
pub fn find(body: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = body.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect();
    assert_eq!(hits.len(), 1, "marker {needle:?} must occur once in the packet");
    hits[0]
}

/// A rejected CONNECT's Will must never reach S: S stays silent past the window, proved by a ping barrier.
pub async fn assert_no_will(s: &mut TestClient) {
    s.assert_nothing_for(SLACK).await;
}
