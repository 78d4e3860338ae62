//! Socket tests of the shared client against a scripted broker on loopback (what the client sends is
//! read with the codec, what it gets is chosen per test) and against the reference broker.

use super::handshake::{Attempt, Hello};
use super::reader::Watching;
use super::*;
use crate::actuator::{Actuator, ActuatorSpec};
use crate::client_settings::ClientSettings;
use crate::profile::Profile;
use crate::verdict::{self, Status};
use lwt_codec::{ConnAck, Connect, Packet, Properties, Property, QoS, SubAck};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How the scripted broker behaves.
#[derive(Clone, Default)]
struct Script {
    /// Never answer the CONNECT.
    silent: bool,
    /// CONNACK code.
    code: u8,
    /// CONNACK properties (5.0).
    props: Properties,
    /// Send a client's own PUBLISH back to it (a subscribed client sees its probes).
    echo: bool,
}

/// What the scripted broker saw.
#[derive(Default)]
struct Seen {
    connect: Option<Connect>,
    pings: Vec<tokio::time::Instant>,
}

struct Scripted {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    /// Packets to send to the client (a will, a duplicate).
    deliver: mpsc::UnboundedSender<Packet>,
}

/// A broker on 127.0.0.1 that serves one connection as `script` says.
async fn scripted(script: Script) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (deliver, mut rx) = mpsc::unbounded_channel::<Packet>();
    let s2 = seen.clone();
    tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let mut conn = lwt_codec::connection::Connection::new(sock);
        loop {
            let p = tokio::select! {
                p = conn.read_packet() => match p { Ok(Some(p)) => p, _ => return },
                Some(out) = rx.recv() => { let _ = conn.write_packet(&out).await; continue }
            };
            let reply = match p {
                Packet::Connect(c) => {
                    conn.set_version(c.protocol);
                    s2.lock().unwrap().connect = Some(c);
                    if script.silent {
                        continue;
                    }
                    Packet::ConnAck(ConnAck { session_present: false, code: script.code, properties: script.props.clone() })
                }
                Packet::Subscribe(s) => Packet::SubAck(SubAck { packet_id: s.packet_id, properties: Properties::new(), codes: vec![0; s.filters.len()] }),
                Packet::PingReq => {
                    s2.lock().unwrap().pings.push(tokio::time::Instant::now());
                    Packet::PingResp
                }
                Packet::Publish(p) if script.echo => Packet::Publish(p),
                _ => continue,
            };
            if conn.write_packet(&reply).await.is_err() {
                return;
            }
        }
    });
    Scripted { addr, seen, deliver }
}

async fn stream(addr: SocketAddr) -> crate::transport::ClientStream {
    crate::transport::ClientStream::connect_tcp(addr).await.unwrap()
}

/// No CONNACK in time is an error for a client the scenario needs (we could not establish it), and
/// an outcome the refusal steps judge (`Silent`: a malformed CONNECT the broker never closed).
#[tokio::test]
async fn a_handshake_timeout_is_an_error_and_a_refusal_an_outcome() {
    let b = scripted(Script { silent: true, ..Script::default() }).await;
    let hello = Hello::new("quiet", ProtocolVersion::V311);
    let attempt = Client::connect(stream(b.addr).await, &hello, Duration::from_millis(300)).await.unwrap();
    assert!(matches!(attempt, Attempt::Silent(t) if t == Duration::from_millis(300)), "{attempt:?}");
    let err = attempt.accepted().unwrap_err();
    assert!(err.to_string().contains("no CONNACK within 300ms"), "{err}");
    // The sensor's wait is bounded the same way (REPLY_TIMEOUT): an outcome, and an error to a
    // step that needs the sensor connected.
    let b = scripted(Script { silent: true, ..Script::default() }).await;
    let sensor = crate::sensor::Sensor::connect(b.addr, crate::sensor::SensorSpec::new("s", ProtocolVersion::V5));
    let outcome = tokio::time::timeout(Duration::from_secs(10), sensor).await.expect("bounded").unwrap();
    assert!(matches!(outcome, crate::sensor::ConnectOutcome::Silent(_)), "{outcome:?}");
    let err = outcome.accepted().unwrap_err();
    assert!(err.to_string().contains("no CONNACK within"), "{err}");

    let b = scripted(Script { code: 0x87, ..Script::default() }).await;
    match Client::connect(stream(b.addr).await, &Hello::new("refused", ProtocolVersion::V5), Duration::from_secs(5)).await.unwrap() {
        Attempt::Refused(ack, _) => assert_eq!(ack.code, 0x87),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The CONNACK is read once into the session: Server Keep Alive, Assigned Client Identifier,
/// Maximum Packet Size and Topic Alias Maximum.
#[tokio::test]
async fn the_connack_settles_the_session() {
    let props = Properties::new()
        .with(Property::ServerKeepAlive(7))
        .with(Property::AssignedClientIdentifier("given".into()))
        .with(Property::MaximumPacketSize(64))
        .with(Property::TopicAliasMaximum(2));
    let b = scripted(Script { props, ..Script::default() }).await;
    let hello = Hello { keep_alive: 60, ..Hello::new("", ProtocolVersion::V5) };
    let c = Client::connect(stream(b.addr).await, &hello, Duration::from_secs(5)).await.unwrap().accepted().unwrap();
    let s = &c.session;
    assert_eq!((s.client_id.as_str(), s.keep_alive, s.max_packet_size, s.topic_alias_max), ("given", 7, Some(64), 2));
    assert!(s.check_publish(&Publish::new("t", "small")).is_ok());
    let big = s.check_publish(&Publish::new("t", vec![b'x'; 100])).unwrap_err();
    assert!(big.to_string().contains("Maximum Packet Size 64"), "{big}");
    let mut aliased = Publish::new("t", "x");
    aliased.properties.push(Property::TopicAlias(3));
    assert!(s.check_publish(&aliased).is_err());
}

/// The login and keep-alive come from the profile: the CONNECT carries the profile's User Name and
/// Password, a keep-alive inside its bounds, and the observer pings inside that keep-alive.
#[tokio::test]
async fn observers_send_the_profile_login_and_ping_inside_its_keep_alive() {
    let profile = Profile { keep_alive_min: 1, keep_alive_max: 2, ..Profile::default() }.with_login(Some("u".into()), Some("pw".into()));
    let settings = ClientSettings::from_profile(&profile);
    let b = scripted(Script::default()).await;
    let mut spec = ActuatorSpec::new("watcher", ProtocolVersion::V311);
    settings.fill_observer("actuator1", &mut spec);
    let a = Actuator::connect(b.addr, spec).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let seen = b.seen.lock().unwrap();
    let c = seen.connect.as_ref().expect("CONNECT seen");
    assert_eq!((c.username.as_deref(), c.password.as_deref(), c.keep_alive), (Some("u"), Some(&b"pw"[..]), 2));
    // Keep-alive 2 s: a PINGREQ every second, so at least two in 2.3 s, never a gap over 2 s.
    assert!(seen.pings.len() >= 2, "{} pings", seen.pings.len());
    assert!(seen.pings.windows(2).all(|w| w[1] - w[0] < Duration::from_secs(2)));
    drop(seen);
    assert_eq!(a.broken(), None);
}

/// A Server Keep Alive shorter than ours is the one pinged for.
#[tokio::test]
async fn the_server_keep_alive_sets_the_ping_interval() {
    let b = scripted(Script { props: Properties::new().with(Property::ServerKeepAlive(1)), ..Script::default() }).await;
    let a = Actuator::connect(b.addr, ActuatorSpec::new("watcher", ProtocolVersion::V5)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(b.seen.lock().unwrap().pings.len() >= 2, "pinged every 500 ms for Server Keep Alive 1");
    a.disconnect().await;
}

/// Probes carry unique nonces and are awaitable: each comes back on its own; one that never comes
/// back (nobody echoes it) is an error naming why, within the bound.
#[tokio::test]
async fn probes_are_unique_and_awaitable() {
    let b = scripted(Script { echo: true, ..Script::default() }).await;
    let a = Actuator::connect(b.addr, ActuatorSpec::new("prober", ProtocolVersion::V311)).await.unwrap();
    a.subscribe("p", QoS::AtMostOnce).await.unwrap();
    let first = a.probe("p", Duration::from_secs(2)).await.unwrap();
    let second = a.probe("p", Duration::from_secs(2)).await.unwrap();
    assert!(second >= first);
    let payloads: Vec<_> = a.on_topic("p").into_iter().map(|o| o.payload).collect();
    assert_eq!(payloads.len(), 2);
    assert_ne!(payloads[0], payloads[1], "two probes share a nonce");

    let mute = scripted(Script::default()).await;
    let a = Actuator::connect(mute.addr, ActuatorSpec::new("unheard", ProtocolVersion::V311)).await.unwrap();
    let why = a.probe("p", Duration::from_millis(300)).await.unwrap_err();
    assert!(why.contains("not received within 300ms"), "{why}");
}

/// "Only once" is judged only with a live observer: one delivery and a probe that comes back is a
/// pass; the same delivery with a probe that never comes back is an error (a dead observer sees no
/// duplicate either); two deliveries fail whatever the probe does.
#[tokio::test]
async fn a_duplicate_check_ends_with_a_proven_live_observer() {
    async fn judge(echo: bool, copies: usize) -> Status {
        let b = scripted(Script { echo, ..Script::default() }).await;
        let a = Actuator::connect(b.addr, ActuatorSpec::new("dup", ProtocolVersion::V311)).await.unwrap();
        verdict::arm_probe(&a).await.unwrap();
        let since = tokio::time::Instant::now();
        for _ in 0..copies {
            b.deliver.send(Packet::Publish(Publish::new("will/t", "gone"))).unwrap();
        }
        verdict::expect_at_most_once(&a, "will/t", b"gone", since, "MQTT-3.1.2-10").await.status
    }
    assert_eq!(judge(true, 1).await, Status::Pass);
    assert!(matches!(judge(false, 1).await, Status::Error(_)));
    assert_eq!(judge(false, 2).await, Status::Fail);
}

/// Requests await their acknowledgements on the reference broker: QoS 1 and 2 flows complete,
/// SUBACK and UNSUBACK come back, PINGRESP proves the connection live.
#[tokio::test]
async fn requests_complete_their_flows_on_the_reference_broker() {
    let broker = lwt_broker::start_embedded().await.unwrap();
    let hello = Hello::new("requester", ProtocolVersion::V5);
    let mut c = Client::connect(stream(broker.local_addr()).await, &hello, Duration::from_secs(5)).await.unwrap().accepted().unwrap();
    assert_eq!(c.subscribe(vec![("r/#".into(), lwt_codec::SubOptions::qos(QoS::ExactlyOnce))], Properties::new()).await, Ok(vec![2]));
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut p = Publish::new("r/x", "m");
        p.qos = qos;
        assert_eq!(c.publish(p).await, Ok(0), "{qos:?}");
    }
    assert_eq!(c.unsubscribe(vec!["r/#".into()], Properties::new()).await, Ok(vec![0]));
    assert!(c.ping().await.is_ok());
    // Packet ids are never 0 and move on.
    let (a, b) = (c.next_id(), c.next_id());
    assert!(a > 0 && b == a + 1);
    let mut ids = PacketIds(u16::MAX);
    assert_eq!(ids.next_id(), 1);
    broker.shutdown().await;
}

/// A DISCONNECT while a request waits ends it with the reason code, not a timeout.
#[tokio::test]
async fn a_disconnect_ends_a_wait_with_its_reason() {
    let b = scripted(Script::default()).await;
    let hello = Hello::new("dropped", ProtocolVersion::V5);
    let mut c = Client::connect(stream(b.addr).await, &hello, Duration::from_secs(5)).await.unwrap().accepted().unwrap();
    b.deliver.send(Packet::Disconnect(lwt_codec::Disconnect::new(0x8E))).unwrap();
    let mut p = Publish::new("t", "x");
    p.qos = QoS::AtLeastOnce;
    assert_eq!(c.publish(p).await, Err(Ended::Disconnected(0x8E)));
    assert!(c.closed().is_some());
}
