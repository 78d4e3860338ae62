//! Steps about shared subscriptions (`$share/{group}/{filter}`, MQTT 5.0 4.8.2): actuators and
//! sensors joining a group, a group receiving a will once ([`crate::group`]), the Subscription
//! Identifier of a shared subscription, no retained message on a shared subscribe, and No Local
//! on a shared subscription. Filters are written as in the other steps (the scenario's namespace
//! goes in front of the filter, after `$share/{group}/`).

use super::clients::{ensure_connected, parse_qos};
use super::expectations::simple;
use super::LwtWorld;
use crate::actuator::ActuatorSpec;
use crate::group::{expect_once_in_group, Group};
use crate::verdict::{self, expect_no_will};
use cucumber::{given, then, when};
use lwt_codec::{Packet, Properties, Property, SubOptions, Subscribe};
use std::time::Duration;
use tokio::time::Instant;

/// The shared filter `$share/{group}/{filter}` on the wire.
fn share(w: &LwtWorld, group: &str, filter: &str) -> String {
    format!("$share/{group}/{}", w.topic(filter))
}

/// Connects actuator `name`, subscribes it to `$share/{group}/{filter}` (with `properties`), arms
/// its probe and records it as a member of `group`. A refused subscription is a set-up error.
async fn join(w: &mut LwtWorld, name: &str, group: &str, filter: &str, qos: i32, properties: Properties) {
    let spec = ActuatorSpec::new(w.client_id(name), w.default_version);
    let a = match w.connect_actuator(name, spec).await {
        Ok(a) => a,
        Err(e) => w.setup_error(&format!("actuator {name} connected"), format!("{e:#}")),
    };
    let f = share(w, group, filter);
    match a.subscribe_with_properties(&f, SubOptions::qos(parse_qos(qos)), properties).await {
        Ok(codes) if codes.first().is_some_and(|c| *c < 0x80) => {}
        Ok(codes) => w.setup_error(&format!("{name} subscribed to {f}"), format!("refused with SUBACK {codes:02x?}")),
        Err(e) => w.setup_error(&format!("{name} subscribed to {f}"), format!("{e:#}")),
    }
    if let Err(e) = verdict::arm_probe(&a).await {
        w.setup_error(&format!("{name}'s liveness probe"), format!("{e:#}"));
    }
    w.actuators.insert(name.to_owned(), a);
    w.groups.entry(group.to_owned()).or_default().push(name.to_owned());
}

#[given(expr = "actuator {string} in shared group {string} subscribed to {string} at QoS {int}")]
async fn actuator_in_group(w: &mut LwtWorld, name: String, group: String, filter: String, qos: i32) {
    join(w, &name, &group, &filter, qos, Properties::new()).await;
}

#[given(expr = "actuator {string} in shared group {string} subscribed to {string} at QoS {int} with subscription identifier {int}")]
async fn actuator_in_group_with_id(w: &mut LwtWorld, name: String, group: String, filter: String, qos: i32, id: u32) {
    join(w, &name, &group, &filter, qos, Properties(vec![Property::SubscriptionIdentifier(id)])).await;
}

/// Sensor `name` (connected now if it is not yet) also joins `group`: the disconnecting client is
/// itself a member.
#[given(expr = "{string} is also in shared group {string} subscribed to {string} at QoS {int}")]
async fn sensor_in_group(w: &mut LwtWorld, name: String, group: String, filter: String, qos: i32) {
    ensure_connected(w, &name).await;
    let f = share(w, &group, &filter);
    let s = w.sensor(&name).live.as_mut().expect("connected");
    match s.subscribe(&f, SubOptions::qos(parse_qos(qos))).await {
        Ok(codes) if codes.first().is_some_and(|c| *c < 0x80) => {}
        Ok(codes) => w.setup_error(&format!("{name} subscribed to {f}"), format!("refused with SUBACK {codes:02x?}")),
        Err(e) => w.setup_error(&format!("{name} subscribed to {f}"), format!("{e:#}")),
    }
}

/// Sensor `name` subscribes to `$share/{group}/{filter}` with No Local 1 (a Protocol Error,
/// MQTT-3.8.3-4); expectations count from this SUBSCRIBE.
#[when(expr = "{string} subscribes in shared group {string} to {string} with No Local")]
async fn no_local_on_shared(w: &mut LwtWorld, name: String, group: String, filter: String) {
    ensure_connected(w, &name).await;
    let f = share(w, &group, &filter);
    let mut options = SubOptions::qos(lwt_codec::QoS::AtLeastOnce);
    options.no_local = true;
    let packet = Packet::Subscribe(Subscribe { packet_id: 1, properties: Properties::new(), filters: vec![(f, options)] });
    let s = w.sensor(&name).live.as_mut().expect("connected");
    let at = Instant::now();
    if let Err(e) = s.send(&packet).await {
        w.setup_error(&format!("{name}'s SUBSCRIBE sent"), format!("{e:#}"));
    }
    w.last_fault = Some((name, at, at));
}

/// The will (or any message) reached one member of `group` within 5 s of the fault, and no second
/// member got it (proven by a later probe on the same topic; see [`crate::group`]).
#[then(expr = "the group {string} receives {string} on {string} exactly once")]
async fn group_receives_once(w: &mut LwtWorld, group: String, payload: String, topic: String) {
    let t = w.topic(&topic);
    let names = w.groups.get(&group).cloned().unwrap_or_else(|| panic!("no shared group {group:?} in this scenario"));
    let within = Duration::from_secs(5) + w.profile().late_tolerance();
    let (since, rule, level) = (w.fault_at(), w.rule(), w.level);
    let members = names.iter().filter_map(|n| w.actuators.get(n).map(|a| (n.as_str(), a))).collect();
    let g = Group { name: &group, members };
    let (reached, once, first) = expect_once_in_group(&g, &t, payload.as_bytes(), since, within, &rule, level).await;
    w.last_observation = first;
    w.judge(reached);
    w.judge(once);
}

#[then(expr = "{string} receives it with subscription identifier {int}")]
fn receives_with_sub_id(w: &mut LwtWorld, who: String, id: u32) {
    let (by, o) = w.last_observation.clone().expect("a previous step matched a delivery");
    assert_eq!(by, who, "the last delivery was matched at {by}, not {who}");
    let got = o.properties.subscription_identifiers();
    let v = simple(w, format!("Subscription Identifier {id}"), got == vec![id], format!("Subscription Identifiers {got:?}"));
    w.judge(v);
}

/// A new member joins `group` after the will was retained: no retained message may come (4.8.2),
/// proven by the member's own probe after 500 ms.
#[then(expr = "a new actuator {string} in shared group {string} subscribing to {string} receives no retained message")]
async fn late_member_gets_nothing(w: &mut LwtWorld, name: String, group: String, filter: String) {
    let at = Instant::now();
    join(w, &name, &group, &filter, 1, Properties::new()).await;
    let (topic, rule, level) = (w.topic(&filter), w.rule(), w.level);
    let v = expect_no_will(w.actuator(&name), &topic, at, Duration::from_millis(500), &rule, level).await;
    w.judge(v);
}
