//! A raw MQTT test client over a real TCP socket, built on the shared codec, plus small builders.
//! Every broker test goes through this: exact packets in, exact packets out, and faults (FIN, RST,
//! silence) that no client library would produce.
#![allow(dead_code)]

use bytes::Bytes;
use lwt_broker::codec::*;
use lwt_broker::connection::{Connection, ReadError};
use lwt_broker::{BrokerHandle, Config};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// Default wait for a packet that must arrive.
pub const WAIT: Duration = Duration::from_secs(3);

/// Starts an embedded broker with default capabilities.
pub async fn broker() -> BrokerHandle {
    lwt_broker::start_embedded().await.expect("broker starts")
}

/// Starts an embedded broker with `cfg`.
pub async fn broker_with(cfg: Config) -> BrokerHandle {
    lwt_broker::start(cfg, &["127.0.0.1:0".parse().unwrap()]).await.expect("broker starts")
}

/// What a read produced.
#[derive(Debug)]
pub enum Recv {
    /// A packet.
    Packet(Packet),
    /// The broker closed the connection (EOF or reset).
    Closed(String),
    /// Nothing within the wait.
    Timeout,
}

/// A raw client.
pub struct TestClient {
    pub conn: Connection<TcpStream>,
    pub version: ProtocolVersion,
    next_pid: u16,
}

impl TestClient {
    /// Opens a TCP connection without sending anything.
    pub async fn open(addr: SocketAddr, version: ProtocolVersion) -> TestClient {
        let s = TcpStream::connect(addr).await.expect("tcp connect");
        s.set_nodelay(true).unwrap();
        let mut conn = Connection::new(s);
        conn.set_version(version);
        TestClient { conn, version, next_pid: 0 }
    }

    /// Connects with `c` and returns the client and the CONNACK (panics if none arrives).
    pub async fn connect(addr: SocketAddr, c: Connect) -> (TestClient, ConnAck) {
        let mut t = TestClient::open(addr, c.protocol).await;
        t.send(Packet::Connect(c)).await;
        match t.recv(WAIT).await {
            Recv::Packet(Packet::ConnAck(a)) => (t, a),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects and asserts the CONNACK accepted it.
    pub async fn connected(addr: SocketAddr, c: Connect) -> TestClient {
        let (t, ack) = TestClient::connect(addr, c).await;
        assert_eq!(ack.code, 0, "CONNACK refused: {ack:?}");
        t
    }

    /// Sends a packet.
    pub async fn send(&mut self, p: Packet) {
        self.conn.write_packet(&p).await.expect("write packet");
    }

    /// Sends bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.conn.write_raw(bytes).await.expect("write raw");
    }

    /// Reads one packet within `within`.
    pub async fn recv(&mut self, within: Duration) -> Recv {
        match timeout(within, self.conn.read_packet()).await {
            Err(_) => Recv::Timeout,
            Ok(Ok(Some(p))) => Recv::Packet(p),
            Ok(Ok(None)) => Recv::Closed("eof".into()),
            Ok(Err(ReadError::Io(e))) => Recv::Closed(e.to_string()),
            Ok(Err(e)) => panic!("broker sent an undecodable packet: {e}"),
        }
    }

    /// The next packet, which must arrive within [`WAIT`].
    pub async fn next(&mut self) -> Packet {
        match self.recv(WAIT).await {
            Recv::Packet(p) => p,
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    /// The next PUBLISH within `within` (acknowledging QoS 1/2 so flows complete); panics otherwise.
    pub async fn expect_publish_within(&mut self, within: Duration) -> Publish {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left).await {
                Recv::Packet(Packet::Publish(p)) => {
                    self.ack(&p).await;
                    return p;
                }
                Recv::Packet(Packet::PubRel(r)) => self.send(Packet::PubComp(PubResp::new(r.packet_id))).await,
                other => panic!("expected PUBLISH, got {other:?}"),
            }
        }
    }

    /// The next PUBLISH within [`WAIT`].
    pub async fn expect_publish(&mut self) -> Publish {
        self.expect_publish_within(WAIT).await
    }

    /// Completes the receiver side of a QoS 1/2 flow for `p`.
    pub async fn ack(&mut self, p: &Publish) {
        match (p.qos, p.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => self.send(Packet::PubAck(PubResp::new(id))).await,
            (QoS::ExactlyOnce, Some(id)) => {
                self.send(Packet::PubRec(PubResp::new(id))).await;
                match self.next().await {
                    Packet::PubRel(r) if r.packet_id == id => self.send(Packet::PubComp(PubResp::new(id))).await,
                    other => panic!("expected PUBREL {id}, got {other:?}"),
                }
            }
            _ => {}
        }
    }

    /// Absence check that can fail: waits `window`, then sends PINGREQ; the very next packet must be
    /// PINGRESP. A PUBLISH (or anything else) before it fails the test, and the PINGRESP proves the
    /// observer's connection was live throughout.
    pub async fn assert_nothing_for(&mut self, window: Duration) {
        match self.recv(window).await {
            Recv::Timeout => {}
            other => panic!("expected nothing for {window:?}, got {other:?}"),
        }
        self.send(Packet::PingReq).await;
        match self.recv(WAIT).await {
            Recv::Packet(Packet::PingResp) => {}
            other => panic!("ping barrier: expected PINGRESP, got {other:?}"),
        }
    }

    /// Subscribes to one filter and returns the SUBACK codes.
    pub async fn subscribe_with(&mut self, filter: &str, options: SubOptions, properties: Properties) -> Vec<u8> {
        let packet_id = self.pid();
        self.send(Packet::Subscribe(Subscribe { packet_id, properties, filters: vec![(filter.into(), options)] }))
            .await;
        match self.next().await {
            Packet::SubAck(a) => {
                assert_eq!(a.packet_id, packet_id);
                a.codes
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Subscribes at `qos` and asserts it was granted.
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) {
        let codes = self.subscribe_with(filter, SubOptions::qos(qos), Properties::new()).await;
        assert_eq!(codes, vec![qos as u8], "SUBACK for {filter}");
    }

    /// Publishes and completes the sender side of the QoS flow.
    pub async fn publish(&mut self, mut p: Publish) {
        if p.qos != QoS::AtMostOnce && p.packet_id.is_none() {
            p.packet_id = Some(self.pid());
        }
        let (qos, id) = (p.qos, p.packet_id);
        self.send(Packet::Publish(p)).await;
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => match self.next().await {
                Packet::PubAck(r) if Some(r.packet_id) == id => {}
                other => panic!("expected PUBACK, got {other:?}"),
            },
            QoS::ExactlyOnce => {
                match self.next().await {
                    Packet::PubRec(r) if Some(r.packet_id) == id => {}
                    other => panic!("expected PUBREC, got {other:?}"),
                }
                self.send(Packet::PubRel(PubResp::new(id.unwrap()))).await;
                match self.next().await {
                    Packet::PubComp(r) if Some(r.packet_id) == id => {}
                    other => panic!("expected PUBCOMP, got {other:?}"),
                }
            }
        }
    }

    /// A fresh packet id.
    pub fn pid(&mut self) -> u16 {
        self.next_pid = self.next_pid.wrapping_add(1).max(1);
        self.next_pid
    }

    /// Sends DISCONNECT with `reason` (and properties) and closes with FIN.
    pub async fn disconnect(mut self, reason: u8, properties: Properties) {
        self.send(Packet::Disconnect(Disconnect { reason, properties })).await;
        let _ = self.conn.shutdown().await;
        // Wait for the broker to close its side so the DISCONNECT is processed before we return.
        let _ = self.recv(WAIT).await;
    }

    /// Closes with FIN and no DISCONNECT.
    pub async fn close(mut self) {
        let _ = self.conn.shutdown().await;
        drop(self);
    }

    /// Closes with RST (SO_LINGER 0) and no DISCONNECT.
    pub fn reset(self) {
        self.conn.get_ref().set_zero_linger().expect("SO_LINGER 0");
        drop(self);
    }

    /// Waits until the broker closes the connection; returns the DISCONNECT it sent first, if any.
    pub async fn expect_closed(&mut self) -> Option<Disconnect> {
        let mut disconnect = None;
        loop {
            match self.recv(WAIT).await {
                Recv::Packet(Packet::Disconnect(d)) => disconnect = Some(d),
                Recv::Closed(_) => return disconnect,
                other => panic!("expected the broker to close the connection, got {other:?}"),
            }
        }
    }
}

/// A CONNECT with clean start, keep-alive 60.
pub fn connect(version: ProtocolVersion, id: &str) -> Connect {
    Connect::new(version, id)
}

/// A will without properties.
pub fn will(topic: &str, payload: &str, qos: QoS, retain: bool) -> Will {
    Will { topic: topic.into(), payload: Bytes::copy_from_slice(payload.as_bytes()), qos, retain, properties: Properties::new() }
}

/// A CONNECT carrying `w`.
pub fn connect_with_will(version: ProtocolVersion, id: &str, w: Will) -> Connect {
    let mut c = Connect::new(version, id);
    c.will = Some(w);
    c
}

/// A PUBLISH at `qos`.
pub fn publish(topic: &str, payload: &str, qos: QoS, retain: bool) -> Publish {
    let mut p = Publish::new(topic, Bytes::copy_from_slice(payload.as_bytes()));
    p.qos = qos;
    p.retain = retain;
    p
}

/// Both protocol versions, for tests that hold in each.
pub const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];
