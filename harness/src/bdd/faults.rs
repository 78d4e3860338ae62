//! Steps about faults: every fault of the engine, applied to a named sensor, its network link, or the
//! broker. Each records its planned and actual instant as the scenario's reference for expectations.
//! A fault that cannot be applied (the sensor never connected, the proxy or the restart failed) is a
//! set-up error of the scenario ([`LwtWorld::setup_error`]), never a failure of its rule.

use super::clients::{dial_sensor, ensure_connected, parse_code};
use super::LwtWorld;
use crate::fault::{Fault, FaultRecord, NetFault, ProtocolViolation};
use crate::sensor::{ConnectOutcome, Sensor};
use crate::target::StopKind;
use bytes::Bytes;
use cucumber::when;
use std::time::Duration;
use tokio::time::Instant;

async fn inject(w: &mut LwtWorld, name: &str, f: Fault) {
    ensure_connected(w, name).await;
    let Some(sensor) = w.sensor(name).live.take() else { w.setup_error(&format!("{name} connected before {f}"), "not connected") };
    match sensor.inject(&f).await {
        Ok(rec) => record(w, name, rec),
        Err(e) => w.setup_error(&format!("{name}: {f}"), format!("{e:#}")),
    }
}

fn record(w: &mut LwtWorld, name: &str, rec: FaultRecord) {
    w.last_fault = Some((name.to_owned(), rec.planned, rec.actual));
    w.sensor(name).held.push(rec);
}

#[when(expr = "{string} loses its connection without DISCONNECT")]
#[when(expr = "{string} closes its connection")]
async fn close(w: &mut LwtWorld, name: String) {
    inject(w, &name, Fault::Fin).await;
}

/// Closes `{stem}1` to `{stem}{n}` one after the other; expectations count from the first close.
#[when(expr = "the {int} sensors {string} close their connections")]
async fn many_close(w: &mut LwtWorld, n: usize, stem: String) {
    let mut first = None;
    for i in 1..=n {
        inject(w, &format!("{stem}{i}"), Fault::Fin).await;
        first = first.or(w.last_fault.clone());
    }
    w.last_fault = first;
}

/// MQTT over WebSockets: a close frame with no DISCONNECT before it.
#[when(expr = "{string} closes its WebSocket without DISCONNECT")]
async fn ws_close(w: &mut LwtWorld, name: String) {
    inject(w, &name, Fault::WsClose).await;
}

#[when(expr = "{string} resets its connection")]
async fn reset(w: &mut LwtWorld, name: String) {
    inject(w, &name, Fault::Rst).await;
}

#[when(expr = "{string} goes silent")]
async fn silent(w: &mut LwtWorld, name: String) {
    inject(w, &name, Fault::Silence).await;
}

#[when(expr = "{string} disconnects normally")]
async fn disconnects_normally(w: &mut LwtWorld, name: String) {
    inject(w, &name, Fault::Disconnect { reason: 0, session_expiry: None }).await;
}

#[when(expr = "{string} disconnects with reason code {word}")]
async fn disconnects_with(w: &mut LwtWorld, name: String, code: String) {
    inject(w, &name, Fault::Disconnect { reason: parse_code(&code), session_expiry: None }).await;
}

#[when(expr = "{string} disconnects with reason code {word} and session expiry {int}")]
async fn disconnects_with_expiry(w: &mut LwtWorld, name: String, code: String, expiry: u32) {
    inject(w, &name, Fault::Disconnect { reason: parse_code(&code), session_expiry: Some(expiry) }).await;
}

#[when(expr = "{string} sends the DISCONNECT bytes {string}")]
async fn disconnect_bytes(w: &mut LwtWorld, name: String, hex: String) {
    let bytes: Vec<u8> = hex
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|_| panic!("bad hex byte {b:?}")))
        .collect();
    inject(w, &name, Fault::DisconnectRaw(Bytes::from(bytes))).await;
}

#[when(expr = "{string} sends a second CONNECT")]
async fn second_connect(w: &mut LwtWorld, name: String) {
    inject(w, &name, Fault::Protocol(ProtocolViolation::SecondConnect)).await;
}

#[when(expr = "{string} sends a packet of reserved type 0")]
async fn reserved_type(w: &mut LwtWorld, name: String) {
    inject(w, &name, Fault::Protocol(ProtocolViolation::ReservedPacketType)).await;
}

#[when(expr = "{string} sends a malformed PUBLISH")]
async fn malformed_publish(w: &mut LwtWorld, name: String) {
    inject(w, &name, Fault::Protocol(ProtocolViolation::MalformedPublish)).await;
}

async fn take_over(w: &mut LwtWorld, name: &str, clean: bool, keep_will: bool) {
    ensure_connected(w, name).await;
    let mut spec = w.spec_mut(name).clone();
    if !keep_will {
        spec.will = None;
    }
    spec.clean_start = clean;
    // Through the fault proxy (which `ensure_connected` started), with the sensor's own certificate
    // over TLS: the same client reconnecting.
    let planned = Instant::now();
    let stream = match dial_sensor(w, name).await {
        Ok(s) => s,
        Err(e) => w.setup_error(&format!("{name}'s takeover connection"), e),
    };
    // The takeover happens when the broker reads the new CONNECT, which is sent next.
    let actual = Instant::now();
    let outcome = match Sensor::connect_over(stream, spec).await {
        Ok(o) => o,
        Err(e) => w.setup_error(&format!("{name}'s takeover CONNECT"), format!("{e:#}")),
    };
    let Some(old) = w.sensor(name).live.take() else { w.setup_error(&format!("{name} connected before the takeover"), "not connected") };
    w.sensor(name).replaced.push(old);
    match outcome {
        ConnectOutcome::Accepted(s) => w.sensor(name).live = Some(s),
        other => w.sensor(name).refused = Some(other),
    }
    w.last_fault = Some((name.to_owned(), planned, actual));
}

#[when(expr = "{string} is taken over by a new connection with clean start {int}")]
async fn taken_over(w: &mut LwtWorld, name: String, clean: u8) {
    take_over(w, &name, clean != 0, false).await;
}

#[when(expr = "{string} is taken over by a new connection with clean start {int} carrying the same will")]
async fn taken_over_same_will(w: &mut LwtWorld, name: String, clean: u8) {
    take_over(w, &name, clean != 0, true).await;
}

async fn net(w: &mut LwtWorld, name: &str, f: NetFault) {
    ensure_connected(w, name).await;
    let local = match w.sensor(name).live.as_ref().map(|s| s.local_addr()) {
        Some(Ok(a)) => a,
        _ => w.setup_error(&format!("{name}'s link through the fault proxy"), "no live connection"),
    };
    let id = w.client_id(name);
    let rec = match w.proxy.as_ref().map(|p| p.inject(local, &id, f)) {
        Some(Ok(rec)) => rec,
        Some(Err(e)) => w.setup_error(&format!("{name}'s link through the fault proxy"), format!("{e:#}")),
        None => w.setup_error(&format!("{name}'s link through the fault proxy"), "no fault proxy"),
    };
    if matches!(f, NetFault::Blackhole) {
        // Half-open: the broker's keep-alive deadline runs from the last packet the sensor sent.
        let last = w.sensor(name).live.as_ref().expect("connected").last_sent();
        w.last_fault = Some((name.to_owned(), rec.planned, last));
        w.sensor(name).held.push(rec);
    } else {
        record(w, name, rec);
    }
}

#[when(expr = "the network of {string} goes dark")]
async fn blackhole(w: &mut LwtWorld, name: String) {
    net(w, &name, NetFault::Blackhole).await;
}

#[when(expr = "the network of {string} adds {int} ms of latency")]
async fn latency(w: &mut LwtWorld, name: String, ms: u64) {
    net(w, &name, NetFault::Latency(Duration::from_millis(ms))).await;
}

#[when(expr = "the network of {string} is cut with {word}")]
async fn cut(w: &mut LwtWorld, name: String, how: String) {
    let f = match how.as_str() {
        "FIN" | "fin" => NetFault::CutFin,
        "RST" | "rst" => NetFault::CutRst,
        other => panic!("cut with FIN or RST, not {other:?}"),
    };
    net(w, &name, f).await;
}

async fn restart(w: &mut LwtWorld, how: StopKind) {
    // A broker that saves its state on a timer (mosquitto's autosave) is given that long first, so
    // the crash tests what it saved rather than the timer.
    let save = w.profile().save_interval_ms;
    if how == StopKind::Kill && save > 0 {
        tokio::time::sleep(Duration::from_millis(save)).await;
    }
    let env = w.run_env().clone();
    let mut guard = env.target.lock().await;
    let Some(target) = guard.as_mut() else {
        drop(guard);
        w.setup_error("a broker restart", "the run has no target to restart")
    };
    let at = match target.restart(how).await {
        Ok(at) => at,
        Err(e) => {
            drop(guard);
            w.setup_error("a broker restart", format!("{e:#}"))
        }
    };
    drop(guard);
    w.last_fault = Some(("broker".into(), at, at));
}

#[when("the broker restarts")]
async fn broker_restarts(w: &mut LwtWorld) {
    restart(w, StopKind::Graceful).await;
}

#[when("the broker crashes and restarts")]
async fn broker_crashes(w: &mut LwtWorld) {
    restart(w, StopKind::Kill).await;
}
