//! Steps about a sensor's will: its 5.0 properties.

use super::LwtWorld;
use bytes::Bytes;
use cucumber::given;
use lwt_codec::Property;

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

#[given(expr = "the will of {string} has an empty topic")]
fn empty_topic(w: &mut LwtWorld, name: String) {
    let will = w.spec_mut(&name).will.as_mut().unwrap_or_else(|| panic!("{name} has no will"));
    will.topic = String::new();
}

#[given(expr = "the will of {string} has a payload of {int} bytes")]
fn payload_size(w: &mut LwtWorld, name: String, size: usize) {
    let will = w.spec_mut(&name).will.as_mut().unwrap_or_else(|| panic!("{name} has no will"));
    will.payload = Bytes::from(vec![b'x'; size]);
}

#[given(expr = "the will of {string} has a payload that is not UTF-8")]
fn payload_not_utf8(w: &mut LwtWorld, name: String) {
    let will = w.spec_mut(&name).will.as_mut().unwrap_or_else(|| panic!("{name} has no will"));
    // 0xC3 starts a two-byte sequence that 0x28 does not continue.
    will.payload = Bytes::from_static(&[0xC3, 0x28]);
}
