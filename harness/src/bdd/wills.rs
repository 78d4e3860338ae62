//! Steps about a sensor's will: its 5.0 properties.

use super::LwtWorld;
use bytes::Bytes;
use cucumber::given;
use lwt_broker::codec::Property;

fn add(w: &mut LwtWorld, name: &str, p: Property) {
    let will = w.spec_mut(name).will.as_mut().unwrap_or_else(|| panic!("{name} has no will to add {p:?} to"));
    will.properties.push(p);
}

#[given(expr = "the will of {string} has delay {int} second(s)")]
fn delay(w: &mut LwtWorld, name: String, secs: u32) {
    add(w, &name, Property::WillDelayInterval(secs));
}

#[given(expr = "the will of {string} has message expiry {int} second(s)")]
fn message_expiry(w: &mut LwtWorld, name: String, secs: u32) {
    add(w, &name, Property::MessageExpiryInterval(secs));
}

#[given(expr = "the will of {string} has content type {string}")]
fn content_type(w: &mut LwtWorld, name: String, v: String) {
    add(w, &name, Property::ContentType(v));
}

#[given(expr = "the will of {string} has response topic {string}")]
fn response_topic(w: &mut LwtWorld, name: String, v: String) {
    let t = w.topic(&v);
    add(w, &name, Property::ResponseTopic(t));
}

#[given(expr = "the will of {string} has correlation data {string}")]
fn correlation_data(w: &mut LwtWorld, name: String, v: String) {
    add(w, &name, Property::CorrelationData(Bytes::from(v.into_bytes())));
}

#[given(expr = "the will of {string} has payload format indicator {int}")]
fn payload_format(w: &mut LwtWorld, name: String, v: u8) {
    add(w, &name, Property::PayloadFormatIndicator(v));
}

#[given(expr = "the will of {string} has user property {string} = {string}")]
fn user_property(w: &mut LwtWorld, name: String, k: String, v: String) {
    add(w, &name, Property::UserProperty(k, v));
}

#[given(expr = "the will of {string} has an empty payload")]
fn empty_payload(w: &mut LwtWorld, name: String) {
    let will = w.spec_mut(&name).will.as_mut().unwrap_or_else(|| panic!("{name} has no will"));
    will.payload = Bytes::new();
}
