//! Two independent observer stacks see the same wills: our codec's [`Actuator`] and rumqttc's
//! client ([`RumqttcObserver`]) subscribe side by side, a sensor with a will (5.0: with every will
//! property; a short payload and the largest one MQTT allows, 65,535 bytes) is cut off with RST, and
//! both must record the same will — topic, payload, QoS, RETAIN
//! and (5.0) properties. A codec bug shared by the reference broker and the harness would show here
//! as a disagreement. Each run ends with a probe both stacks must see, so "nothing else arrived" is
//! proven, not assumed.

use bytes::Bytes;
use lwt_codec::{Property, ProtocolVersion, Publish, QoS};
use lwt_harness::actuator::{Actuator, ActuatorSpec, Observation};
use lwt_harness::fault::Fault;
use lwt_harness::rumqttc_observer::{RumqttcObserver, RumqttcSpec};
use lwt_harness::sensor::{Sensor, SensorSpec};
use lwt_harness::target::{find_mosquitto, Target, TargetSpec};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// What both stacks must agree on; properties as a sorted multiset (rumqttc does not keep wire
/// order).
fn key(o: &Observation) -> (String, Bytes, QoS, bool, Vec<String>) {
    let mut props: Vec<String> = o.properties.0.iter().map(|p| format!("{p:?}")).collect();
    props.sort();
    (o.topic.clone(), o.payload.clone(), o.qos, o.retain, props)
}

async fn crosscheck(addr: SocketAddr, v: ProtocolVersion, tag: &str, payload: Bytes) {
    let base = format!("xcheck/{tag}/{}/{:?}/{}", std::process::id(), v, payload.len());
    let filter = format!("{base}/#");
    let ours = Actuator::connect(addr, ActuatorSpec::new(format!("xc-ours-{tag}-{v:?}-{}", payload.len()), v)).await.unwrap();
    ours.subscribe(&filter, QoS::AtLeastOnce).await.unwrap();
    let theirs = RumqttcObserver::connect(addr, RumqttcSpec::new(format!("xc-rq-{tag}-{v:?}-{}", payload.len()), v)).await.unwrap();
    assert_eq!(theirs.subscribe(&filter, QoS::AtLeastOnce).await.unwrap(), vec![1]);

    let will_topic = format!("{base}/sensor/status");
    let mut spec = SensorSpec::new(format!("xc-sensor-{tag}-{v:?}-{}", payload.len()), v).with_will(&will_topic, payload.clone(), QoS::AtLeastOnce, false);
    if v == ProtocolVersion::V5 {
        for p in [
            Property::PayloadFormatIndicator(1),
            Property::MessageExpiryInterval(300),
            Property::ContentType("text/plain".into()),
            Property::ResponseTopic(format!("{base}/reply")),
            Property::CorrelationData(Bytes::from_static(b"\x00\x01corr")),
            Property::UserProperty("site".into(), "north".into()),
            Property::UserProperty("site".into(), "south".into()),
        ] {
            spec = spec.will_property(p);
        }
    }
    let sensor: Sensor = Sensor::connect(addr, spec).await.unwrap().accepted().unwrap();
    sensor.inject(&Fault::Rst).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    let a = ours.wait_for(|o| o.topic == will_topic, deadline).await.expect("our observer saw the will");
    let b = theirs.wait_for(|o| o.topic == will_topic, deadline).await.expect("rumqttc saw the will");
    assert_eq!(key(&a), key(&b), "the two observer stacks disagree on the will");
    if v == ProtocolVersion::V5 {
        assert!(a.properties.0.iter().any(|p| matches!(p, Property::CorrelationData(_))), "will properties forwarded: {a:?}");
    }

    // Liveness and "only once": a probe published after the will reaches both, and by then each
    // has exactly one will.
    let probe = format!("{base}/probe");
    let nonce = Bytes::from(lwt_harness::verdict::probe_nonce());
    ours.publish(Publish::new(probe.as_str(), nonce.clone())).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    assert!(ours.wait_for(|o| o.topic == probe && o.payload == nonce, deadline).await.is_some(), "our probe came back");
    assert!(theirs.wait_for(|o| o.topic == probe && o.payload == nonce, deadline).await.is_some(), "rumqttc saw the probe");
    assert_eq!(ours.on_topic(&will_topic).len(), 1);
    assert_eq!(theirs.observations().iter().filter(|o| o.topic == will_topic).count(), 1);
    theirs.disconnect().await;
    ours.disconnect().await;
}

/// A short will, and the largest will payload MQTT allows (Binary Data: 65,535 bytes), which both
/// stacks must see byte for byte (ASCII: the 5.0 will is flagged UTF-8, and the reference broker checks).
fn payloads() -> [Bytes; 2] {
    [Bytes::from_static(b"offline"), Bytes::from((0..65_535u32).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stacks_see_the_same_will_on_the_reference_broker() {
    let t = Target::start(&TargetSpec::Embedded(Default::default())).await.unwrap();
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for payload in payloads() {
            crosscheck(t.addr(), v, "embedded", payload).await;
        }
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stacks_see_the_same_will_on_mosquitto() {
    assert!(find_mosquitto().is_some(), "mosquitto is not installed (apt-get install mosquitto); .ci/run installs it");
    let t = Target::start(&TargetSpec::Launch("mosquitto".into())).await.unwrap();
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for payload in payloads() {
            crosscheck(t.addr(), v, "mosquitto", payload).await;
        }
    }
    t.stop().await;
}
