//! MQTT over WebSockets (`--bind-ws`): the upgrade (subprotocol, path), frames that split and join
//! packets, and the will on every abrupt end a WebSocket adds — a close frame without DISCONNECT, a
//! text frame (MQTT-6.0.0-1), a TCP reset under the WebSocket — and none after DISCONNECT 0x00
//! followed by a close frame. Observers listen over plain TCP; every absence ends with a probe that
//! came back through the broker.

mod common;
mod tls_common;

use bytes::Bytes;
use common::*;
use futures_util::{SinkExt, StreamExt};
use lwt_broker::codec::*;
use lwt_broker::connection::Connection;
use lwt_broker::ws::WsStream;
use lwt_broker::{BrokerHandle, Config, Listeners};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A broker with one TCP and one WebSocket listener.
async fn ws_broker() -> (BrokerHandle, SocketAddr, SocketAddr) {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let l = Listeners { tcp: vec![any], ws: vec![any], ..Listeners::default() };
    let b = lwt_broker::start_with(Config::default(), l).await.expect("broker starts");
    let (tcp, ws) = (b.local_addr(), b.ws_addrs()[0]);
    (b, tcp, ws)
}

/// Upgrades a TCP connection to `ws://addr/path` offering `protocol`.
async fn upgrade(addr: SocketAddr, path: &str, protocol: &str) -> Result<WebSocketStream<TcpStream>, String> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_str(protocol).unwrap());
    match tokio_tungstenite::client_async(req, tcp).await {
        Ok((ws, resp)) => {
            assert_eq!(resp.headers().get("Sec-WebSocket-Protocol").unwrap(), protocol, "the server selects the offered subprotocol");
            Ok(ws)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// A sensor with a will, connected over the WebSocket, as raw frames.
async fn ws_sensor(addr: SocketAddr, v: ProtocolVersion, id: &str, topic: &str) -> WebSocketStream<TcpStream> {
    let mut ws = upgrade(addr, "/mqtt", "mqtt").await.unwrap();
    let c = connect_with_will(v, id, will(topic, "gone", QoS::AtLeastOnce, false));
    ws.send(Message::Binary(Packet::Connect(c).to_bytes(v))).await.unwrap();
    match ws.next().await {
        Some(Ok(Message::Binary(b))) => assert_eq!(b[0] >> 4, 2, "CONNACK first"),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    ws
}

/// An observer over plain TCP subscribed to `topic`.
async fn observer(tcp: SocketAddr, v: ProtocolVersion, id: &str, topic: &str) -> TestClient {
    let mut o = TestClient::connected(tcp, connect(v, id)).await;
    o.subscribe(topic, QoS::AtLeastOnce).await;
    o
}

/// The will arrives within the wait.
async fn expect_will(o: &mut TestClient, topic: &str) {
    let p = o.expect_publish().await;
    assert_eq!((p.topic.as_str(), &p.payload[..]), (topic, &b"gone"[..]));
    o.ack(&p).await;
}

/// No will for `window`, then a probe published through the broker comes back first.
async fn expect_no_will(o: &mut TestClient, topic: &str, window: Duration) {
    tokio::time::sleep(window).await;
    let probe = format!("{topic}/probe");
    o.subscribe(&probe, QoS::AtMostOnce).await;
    o.publish(publish(&probe, "live", QoS::AtMostOnce, false)).await;
    let p = o.expect_publish().await;
    assert_eq!(p.topic, probe, "no will may arrive: the probe must be first");
}

#[tokio::test]
async fn close_frame_without_disconnect_fires_the_will() {
    let (b, tcp, ws_addr) = ws_broker().await;
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let topic = format!("ws/close/{v:?}");
        let mut o = observer(tcp, v, &format!("obs-close-{v:?}"), &topic).await;
        let mut s = ws_sensor(ws_addr, v, &format!("s-close-{v:?}"), &topic).await;
        s.close(None).await.unwrap();
        expect_will(&mut o, &topic).await;
    }
    b.shutdown().await;
}

#[tokio::test]
async fn disconnect_then_close_frame_discards_the_will() {
    let (b, tcp, ws_addr) = ws_broker().await;
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let topic = format!("ws/graceful/{v:?}");
        let mut o = observer(tcp, v, &format!("obs-graceful-{v:?}"), &topic).await;
        let mut s = ws_sensor(ws_addr, v, &format!("s-graceful-{v:?}"), &topic).await;
        s.send(Message::Binary(Packet::Disconnect(Disconnect::new(0x00)).to_bytes(v))).await.unwrap();
        s.close(None).await.unwrap();
        expect_no_will(&mut o, &topic, Duration::from_millis(300)).await;
    }
    b.shutdown().await;
}

#[tokio::test]
async fn tcp_reset_under_the_websocket_fires_the_will() {
    let (b, tcp, ws_addr) = ws_broker().await;
    let v = ProtocolVersion::V5;
    let topic = "ws/rst";
    let mut o = observer(tcp, v, "obs-rst", topic).await;
    let s = ws_sensor(ws_addr, v, "s-rst", topic).await;
    s.get_ref().set_zero_linger().unwrap();
    drop(s);
    expect_will(&mut o, topic).await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_text_frame_ends_the_connection_and_fires_the_will() {
    let (b, tcp, ws_addr) = ws_broker().await;
    let v = ProtocolVersion::V311;
    let topic = "ws/text";
    let mut o = observer(tcp, v, "obs-text", topic).await;
    let mut s = ws_sensor(ws_addr, v, "s-text", topic).await;
    s.send(Message::text("PINGREQ as text")).await.unwrap();
    expect_will(&mut o, topic).await;
    // The broker closed the WebSocket (MQTT-6.0.0-1).
    let end = tokio::time::timeout(WAIT, async {
        while let Some(Ok(m)) = s.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the broker must close the connection after a text frame");
    b.shutdown().await;
}

#[tokio::test]
async fn packets_split_across_frames_and_joined_in_one_frame() {
    let (b, tcp, ws_addr) = ws_broker().await;
    let v = ProtocolVersion::V5;
    let mut o = observer(tcp, v, "obs-frames", "ws/frames/#").await;
    let mut ws = upgrade(ws_addr, "/mqtt", "mqtt").await.unwrap();
    // CONNECT in three frames (one of them a single byte).
    let connect = Packet::Connect(connect(v, "s-frames")).to_bytes(v);
    for part in [&connect[..1], &connect[1..5], &connect[5..]] {
        ws.send(Message::Binary(Bytes::copy_from_slice(part))).await.unwrap();
    }
    match ws.next().await {
        Some(Ok(Message::Binary(b))) => assert_eq!(b[0] >> 4, 2, "CONNACK"),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    // Two PUBLISHes and a PINGREQ in one frame.
    let mut joined = Vec::new();
    for (k, p) in ["a", "b"].iter().enumerate() {
        joined.extend_from_slice(&Packet::Publish(publish(&format!("ws/frames/{k}"), p, QoS::AtMostOnce, false)).to_bytes(v));
    }
    joined.extend_from_slice(&Packet::PingReq.to_bytes(v));
    ws.send(Message::Binary(joined.into())).await.unwrap();
    assert_eq!(o.expect_publish().await.payload, Bytes::from_static(b"a"));
    assert_eq!(o.expect_publish().await.payload, Bytes::from_static(b"b"));
    match ws.next().await {
        Some(Ok(Message::Binary(b))) => assert_eq!(&b[..], &[0xD0, 0x00], "PINGRESP"),
        other => panic!("expected PINGRESP, got {other:?}"),
    }
    b.shutdown().await;
}

#[tokio::test]
async fn the_upgrade_needs_the_mqtt_subprotocol_and_path() {
    let (b, _tcp, ws_addr) = ws_broker().await;
    let e = upgrade(ws_addr, "/mqtt", "chat").await.unwrap_err();
    assert!(e.contains("400"), "no MQTT subprotocol is refused with 400: {e}");
    let e = upgrade(ws_addr, "/other", "mqtt").await.unwrap_err();
    assert!(e.contains("404"), "another path is refused with 404: {e}");
    assert!(upgrade(ws_addr, "/mqtt", "mqttv3.1").await.is_ok(), "old clients' mqttv3.1 is accepted");
    b.shutdown().await;
}

#[tokio::test]
async fn a_codec_client_over_wsstream_round_trips() {
    // The byte-stream adapter both sides use: our Connection over WsStream.
    let (b, _tcp, ws_addr) = ws_broker().await;
    let v = ProtocolVersion::V5;
    let mut c = Connection::new(WsStream::new(upgrade(ws_addr, "/mqtt", "mqtt").await.unwrap()));
    c.set_version(v);
    c.write_packet(&Packet::Connect(connect(v, "s-codec"))).await.unwrap();
    assert!(matches!(c.read_packet().await.unwrap(), Some(Packet::ConnAck(a)) if a.code == 0));
    b.shutdown().await;
}

#[tokio::test]
async fn wss_close_frame_fires_the_will() {
    use rustls::pki_types::ServerName;
    // The shared test PKI: a CA and a server certificate for 127.0.0.1.
    let pki = tls_common::Pki::new();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let l = Listeners { tcp: vec![any], wss: vec![any], tls_options: Some(pki.tls_options(false)), ..Listeners::default() };
    let b = lwt_broker::start_with(Config::default(), l).await.expect("broker starts");
    let (tcp, wss) = (b.local_addr(), b.wss_addrs()[0]);

    let v = ProtocolVersion::V5;
    let topic = "wss/close";
    let mut o = observer(tcp, v, "obs-wss", topic).await;
    let tls = tokio_rustls::TlsConnector::from(pki.client_config(None))
        .connect(ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()), TcpStream::connect(wss).await.unwrap())
        .await
        .unwrap();
    let mut req = format!("wss://{wss}/mqtt").into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    let (mut s, _) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    let c = connect_with_will(v, "s-wss", will(topic, "gone", QoS::AtLeastOnce, false));
    s.send(Message::Binary(Packet::Connect(c).to_bytes(v))).await.unwrap();
    assert!(matches!(s.next().await, Some(Ok(Message::Binary(b))) if b[0] >> 4 == 2), "CONNACK over wss");
    s.close(None).await.unwrap();
    expect_will(&mut o, topic).await;
    b.shutdown().await;
}
