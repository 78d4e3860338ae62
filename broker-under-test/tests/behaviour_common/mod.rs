//! Helpers shared by the general broker-behaviour tests (`behaviour_*.rs`): CONNECT and PUBLISH
//! builders with properties, a subscribed client, and the expectations those tests repeat.
#![allow(dead_code)]

use crate::common::*;
use lwt_broker::codec::*;
use std::net::SocketAddr;
use std::time::Duration;

/// MQTT 3.1.1, spelled short for the test tables.
pub const V311: ProtocolVersion = ProtocolVersion::V311;
/// MQTT 5.0, spelled short for the test tables.
pub const V5: ProtocolVersion = ProtocolVersion::V5;
/// How long silence must last before a test calls something absent.
pub const QUIET: Duration = Duration::from_millis(300);

/// A CONNECT with `props` (5.0).
pub fn connect_props(v: ProtocolVersion, id: &str, props: Vec<Property>) -> Connect {
    let mut c = connect(v, id);
    c.properties = Properties(props);
    c
}

/// A CONNECT that keeps its session: clean session 0 (3.1.1) or Clean Start 0 with a 300 s Session
/// Expiry Interval (5.0).
pub fn persistent(v: ProtocolVersion, id: &str) -> Connect {
    let mut c = connect(v, id);
    c.clean_start = false;
    if v.is_v5() {
        c.properties.push(Property::SessionExpiryInterval(300));
    }
    c
}

/// A connected client subscribed to `filter` at `qos`.
pub async fn subscriber(addr: SocketAddr, v: ProtocolVersion, id: &str, filter: &str, qos: QoS) -> TestClient {
    let mut s = TestClient::connected(addr, connect(v, id)).await;
    s.subscribe(filter, qos).await;
    s
}

/// A PUBLISH with properties.
pub fn publish_props(topic: &str, payload: &str, qos: QoS, props: Vec<Property>) -> Publish {
    let mut p = publish(topic, payload, qos, false);
    p.properties = Properties(props);
    p
}

/// The next packet, which must be a PUBLISH; it is not acknowledged.
pub async fn next_publish(t: &mut TestClient) -> Publish {
    match t.next().await {
        Packet::Publish(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

/// Asserts that the broker closes `t` after sending DISCONNECT with `code` (5.0).
pub async fn expect_disconnect(t: &mut TestClient, code: u8) {
    match t.expect_closed().await {
        Some(d) => assert_eq!(d.reason, code, "server DISCONNECT reason: {d:?}"),
        None => panic!("expected DISCONNECT {code:#04x} before the close, got a bare close"),
    }
}

/// Sends UNSUBSCRIBE for `filters` and returns the UNSUBACK.
pub async fn unsubscribe(t: &mut TestClient, filters: &[&str]) -> UnsubAck {
    let packet_id = t.pid();
    let filters = filters.iter().map(|f| f.to_string()).collect();
    t.send(Packet::Unsubscribe(Unsubscribe { packet_id, properties: Properties::new(), filters })).await;
    match t.next().await {
        Packet::UnsubAck(a) => {
            assert_eq!(a.packet_id, packet_id);
            a
        }
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
}
