//! MQTT over WebSockets through the harness's own clients (`ws://` targets): a sensor and an
//! observer both speak MQTT over a WebSocket, and every abrupt end a WebSocket adds fires the will —
//! a close frame without DISCONNECT, a TCP FIN or RST under the WebSocket, silence past 1.5 ×
//! keep-alive — while DISCONNECT 0x00 followed by a close frame discards it (proven with a probe).
//! Against the reference broker (Debian's mosquitto 2.0.11 binds its websockets listener on every
//! interface whatever address it is given, so it is not launched here: load and fault tests stay on
//! loopback).

use lwt_codec::{ProtocolVersion, QoS};
use lwt_harness::actuator::{Actuator, ActuatorSpec};
use lwt_harness::fault::Fault;
use lwt_harness::sensor::{Sensor, SensorSpec};
use lwt_harness::target::{Target, TargetSpec};
use lwt_harness::transport::Endpoint;
use lwt_harness::verdict::{arm_probe, prove_live};
use std::time::Duration;
use tokio::time::Instant;

/// Connects an observer and a sensor over `ep`, injects `fault`, and returns whether the will came
/// within `window`; `false` only once a probe proved the observer was live.
async fn will_after(ep: &Endpoint, v: ProtocolVersion, tag: &str, fault: Fault, keep_alive: u16, window: Duration) -> bool {
    let topic = format!("ws-engine/{tag}/{v:?}/{}", std::process::id());
    let obs = Actuator::connect_over(ep.dial(None).await.unwrap(), ActuatorSpec::new(format!("wso-{tag}-{v:?}"), v)).await.unwrap();
    obs.subscribe(&format!("{topic}/#"), QoS::AtLeastOnce).await.unwrap();
    arm_probe(&obs).await.unwrap();
    let mut spec = SensorSpec::new(format!("wss-{tag}-{v:?}"), v).with_will(&format!("{topic}/will"), "gone", QoS::AtLeastOnce, false);
    spec.keep_alive = keep_alive;
    let sensor = Sensor::connect_over(ep.dial(None).await.unwrap(), spec).await.unwrap().accepted().unwrap();
    assert!(sensor.is_ws(), "the sensor speaks MQTT over a WebSocket");
    let rec = sensor.inject(&fault).await.unwrap();
    let got = obs.wait_for(|o| o.topic == format!("{topic}/will"), Instant::now() + window).await;
    drop(rec);
    match got {
        Some(_) => true,
        None => {
            let live = prove_live(&obs).await;
            assert!(live.is_ok(), "{tag}: the observer must prove it was live: {live:?}");
            false
        }
    }
}

async fn every_abrupt_end(target: &Target) {
    let ep = target.endpoint();
    assert!(ep.ws.is_some(), "{} is a WebSocket target", target.name());
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        for (tag, fault) in [("close-frame", Fault::WsClose), ("fin", Fault::Fin), ("rst", Fault::Rst)] {
            assert!(will_after(&ep, v, tag, fault, 0, Duration::from_secs(3)).await, "{}: {tag} {v:?} fires the will", target.name());
        }
        // Silence: keep-alive 1 s; the will by 1.5 s (+ whole-second timers and margin).
        assert!(will_after(&ep, v, "silence", Fault::Silence, 1, Duration::from_secs(6)).await, "{}: silence {v:?}", target.name());
        let graceful = Fault::Disconnect { reason: 0, session_expiry: None };
        assert!(!will_after(&ep, v, "graceful", graceful, 0, Duration::from_millis(500)).await, "{}: DISCONNECT 0x00 then close frame: no will", target.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_ends_on_the_reference_broker() {
    let t = Target::start(&TargetSpec::EmbeddedWs(Default::default())).await.unwrap();
    every_abrupt_end(&t).await;
    t.stop().await;
}
