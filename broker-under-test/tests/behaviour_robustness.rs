//! General broker behaviour of `lwt-broker` under bad conditions: a stalled subscriber, and bad input
//! (random bytes, malformed and forbidden packets). Each test starts its own embedded broker and talks
//! to it over real TCP sockets with exact packets.
mod behaviour_common;
mod common;
use behaviour_common::*;
use bytes::{Bytes, BytesMut};
use common::*;
use lwt_broker::codec::*;
use lwt_broker::connection::Connection;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

// ------------------------------------------------------------------ robustness

/// A stalled subscriber (connects, subscribes, then never reads, with a 4 KiB receive buffer) does not
/// slow down another subscriber of the same topic, which gets all 5,000 QoS 0 messages in order.
#[tokio::test]
async fn stalled_subscriber_does_not_block_other_subscribers() {
    const N: usize = 5000;
    let b = broker().await;
    let addr = b.local_addr();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut stalled = Connection::new(sock.connect(addr).await.unwrap());
    stalled.set_version(V311);
    stalled.write_packet(&Packet::Connect(connect(V311, "stalled"))).await.unwrap();
    assert!(matches!(stalled.read_packet().await, Ok(Some(Packet::ConnAck(a))) if a.code == 0));
    let sub = Subscribe { packet_id: 1, properties: Properties::new(), filters: vec![("load/#".into(), SubOptions::qos(QoS::AtMostOnce))] };
    stalled.write_packet(&Packet::Subscribe(sub)).await.unwrap();
    assert!(matches!(stalled.read_packet().await, Ok(Some(Packet::SubAck(_)))));
    // From here on `stalled` is never read.

    let mut good = subscriber(addr, V311, "good", "load/#", QoS::AtMostOnce).await;
    let mut p = TestClient::connected(addr, connect(V311, "p")).await;
    let filler = "x".repeat(1000);
    let mut bytes = BytesMut::new();
    for i in 0..N {
        Packet::Publish(publish("load/t", &format!("{i:05}{filler}"), QoS::AtMostOnce, false)).encode(V311, &mut bytes);
    }
    let start = Instant::now();
    let sender = tokio::spawn(async move {
        p.send_raw(&bytes).await;
        p
    });
    for i in 0..N {
        let m = match good.recv(Duration::from_secs(5)).await {
            Recv::Packet(Packet::Publish(m)) => m,
            other => panic!("message {i} of {N}: {other:?}"),
        };
        assert_eq!(&m.payload[..5], format!("{i:05}").as_bytes(), "in order, none lost");
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "{N} messages took {took:?}");
    let _p = sender.await.unwrap();
    good.assert_nothing_for(Duration::from_millis(50)).await;
    drop(stalled);
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Deterministic xorshift64* for the fuzz cases (no extra dependency; fixed seed → reproducible).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Malformed or forbidden packets to send after a valid CONNECT (bytes on the wire).
fn malformed_packets() -> Vec<Vec<u8>> {
    vec![
        vec![0x36, 0x00],                                     // PUBLISH QoS 3
        vec![0x30, 0x02, 0x00, 0x05],                         // topic length beyond the packet
        vec![0x00, 0x00],                                     // reserved type 0
        vec![0x82, 0x00],                                     // SUBSCRIBE without packet id
        vec![0x80, 0x06, 0, 1, 0, 1, b'a', 0],                // SUBSCRIBE with flags 0
        vec![0x82, 0x06, 0, 1, 0, 1, b'a', 3],                // subscription QoS 3
        vec![0x82, 0x06, 0, 1, 0, 1, b'a', 0xC0],             // reserved subscription option bits
        vec![0x82, 0x02, 0, 1],                               // SUBSCRIBE without a filter
        vec![0xA2, 0x02, 0, 1],                               // UNSUBSCRIBE without a filter
        vec![0x60, 0x02, 0, 1],                               // PUBREL with flags 0
        vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],             // 5-byte Remaining Length
        vec![0x30, 0x80, 0x00],                               // non-minimal Remaining Length
        vec![0xC0, 0x01, 0x00],                               // PINGREQ with a body
        vec![0xE0, 0x01, 0xFF],                               // DISCONNECT reserved reason (v5)
        vec![0x20, 0x02, 0, 0],                               // CONNACK from a client
        vec![0x90, 0x03, 0, 1, 0],                            // SUBACK from a client
        vec![0x32, 0x05, 0, 1, b'a', 0, 0],                   // PUBLISH QoS 1 with packet id 0
        vec![0x30, 0x05, 0, 3, 0xFF, 0xFE, 0xFD],             // topic not UTF-8
        vec![0x30, 0x04, 0, 2, b'a', 0],                      // topic with U+0000
        vec![0x30, 0x05, 0, 3, b'a', b'/', b'#'],             // wildcard in a topic name
        vec![0x38, 0x03, 0, 1, b'a'],                         // DUP on QoS 0
        vec![0x30, 0x05, 0, 1, b'a', 0x10, 0x01],             // property length beyond the packet
        vec![0x30, 0x06, 0, 1, b'a', 0x02, 0x7F, 0x00],       // unknown property
        vec![0x30, 0x08, 0, 1, b'a', 0x04, 0x01, 0, 0x01, 0], // duplicate Payload Format Indicator
        vec![0x30, 0x06, 0, 1, b'a', 0x02, 0x0B, 0x01],       // Subscription Identifier from a client
        vec![0x30, 0x07, 0, 1, b'a', 0x03, 0x23, 0, 0],       // Topic Alias 0
        vec![0x30, 0x09, 0, 1, b'a', 0xFF, 0xFF, 0xFF, 0x7F, 0, 0], // huge property length
        vec![0x30, 0x06, 0, 1, b'a', 0x02, 0x01, 0x05],       // Payload Format Indicator 5
        vec![0xF0, 0x02, 0x18, 0x00],                         // AUTH without method (v3: reserved)
        vec![0x62, 0x02, 0, 1, 0x62, 0x02, 0, 1],             // PUBREL for unknown ids, twice
        vec![0x34, 0x05, 0, 1, b'a', 0, 1, 0x34, 0x05, 0, 1, b'a', 0, 1], // QoS 2 twice, no PUBREL
    ]
}

/// Bad input never panics the broker: ~200 connections each send random bytes, a garbage CONNECT,
/// a mutated valid CONNECT, or a valid CONNECT followed by a malformed packet or random frame; then
/// fresh 3.1.1 and 5.0 clients still connect, subscribe and get messages, and no broker task panicked
/// (panics on this test's runtime thread are counted by a panic hook).
#[tokio::test]
async fn garbage_input_never_panics_the_broker() {
    let me = std::thread::current().name().map(str::to_owned);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if me.is_some() && std::thread::current().name().map(str::to_owned) == me {
            PANICS.fetch_add(1, Ordering::SeqCst);
        }
        prev(info)
    }));
    let b = broker().await;
    let addr = b.local_addr();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let malformed = malformed_packets();
    let mut will_connect = connect_with_will(V5, "fz", will("fz/w", "bye", QoS::AtLeastOnce, true));
    will_connect.properties = Properties(vec![Property::SessionExpiryInterval(10), Property::ReceiveMaximum(5)]);
    will_connect.will.as_mut().unwrap().properties =
        Properties(vec![Property::WillDelayInterval(1), Property::UserProperty("a".into(), "b".into())]);
    will_connect.username = Some("u".into());
    will_connect.password = Some(Bytes::from_static(b"p"));
    let valid_v5 = Packet::Connect(will_connect).to_bytes(V5);
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for i in 0..200 {
        let v = if i % 2 == 0 { V311 } else { V5 };
        let mut bytes = match i % 5 {
            0 => {
                let n = 1 + rng.below(200);
                rng.bytes(n)
            }
            1 => {
                let n = rng.below(120);
                let mut b = vec![0x10, n as u8];
                b.extend(rng.bytes(n));
                b
            }
            2 => {
                let mut b = valid_v5.to_vec();
                for _ in 0..1 + rng.below(3) {
                    let at = rng.below(b.len());
                    b[at] = rng.next() as u8;
                }
                b
            }
            3 => {
                let mut b = Packet::Connect(connect(v, &format!("fz{i}"))).to_bytes(v).to_vec();
                b.extend(&malformed[rng.below(malformed.len())]);
                b
            }
            _ => {
                let mut b = Packet::Connect(connect(v, &format!("fz{i}"))).to_bytes(v).to_vec();
                let n = rng.below(60);
                b.push(rng.next() as u8);
                b.push(n as u8);
                b.extend(rng.bytes(n));
                b
            }
        };
        if i % 7 == 0 {
            // Sometimes cut the case short, to end inside a packet.
            let keep = 1 + rng.below(bytes.len());
            bytes.truncate(keep);
        }
        cases.push(bytes);
    }
    let mut tasks = Vec::new();
    for (i, bytes) in cases.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else { return };
            let _ = s.write_all(&bytes).await;
            let mut buf = [0u8; 1024];
            // Drain whatever the broker answers until it closes or goes quiet.
            let _ = tokio::time::timeout(Duration::from_millis(300), async {
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
            if i % 2 == 0 {
                let _ = s.set_zero_linger();
            }
        }));
    }
    for t in tasks {
        t.await.expect("fuzz connection task");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = b.stats().await;
    for v in VERSIONS {
        let mut s = subscriber(addr, v, "after-s", "after/t", QoS::AtLeastOnce).await;
        let mut p = TestClient::connected(addr, connect(v, "after-p")).await;
        p.publish(publish("after/t", "alive", QoS::AtLeastOnce, false)).await;
        assert_eq!(&s.expect_publish().await.payload[..], b"alive", "{v:?}: broker still works");
        s.disconnect(0, Properties::new()).await;
        p.disconnect(0, Properties::new()).await;
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a broker task panicked on bad input (see stderr)");
}

/// 5.0 MQTT-4.13.1-1 / MQTT-4.13.2-1: a malformed packet after CONNACK gets DISCONNECT 0x81 before
/// the close (a protocol error gets 0x82).
#[tokio::test]
async fn v5_malformed_packet_after_connack_gets_disconnect_0x81() {
    let b = broker().await;
    let cases: [(&[u8], u8); 5] = [
        (&[0x36, 0x00], reason::MALFORMED_PACKET),
        (&[0xC0, 0x01, 0x00], reason::MALFORMED_PACKET),
        (&[0x30, 0x06, 0, 1, b'a', 0x02, 0x7F, 0x00], reason::MALFORMED_PACKET),
        (&[0x30, 0x02, 0x00, 0x05], reason::MALFORMED_PACKET),
        (&[0x30, 0x08, 0, 1, b'a', 0x04, 0x01, 0, 0x01, 0], reason::PROTOCOL_ERROR),
    ];
    for (bytes, code) in cases {
        let mut t = TestClient::connected(b.local_addr(), connect(V5, "c")).await;
        t.send_raw(bytes).await;
        expect_disconnect(&mut t, code).await;
    }
}
