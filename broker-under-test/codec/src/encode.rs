//! Encoding. Writes exactly what the packet value says, so invalid values (reserved reason codes,
//! duplicate properties) go out unchanged; [`super::raw`] covers what a value cannot express.

use super::packet::*;
use super::property::{Properties, Property};
use bytes::{BufMut, BytesMut};

impl Packet {
    /// Appends the encoded packet to `out`. 5.0 fields are left out for 3.1.1.
    pub fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) {
        let v5 = version.is_v5();
        let mut body = BytesMut::with_capacity(64);
        let flags: u8 = match self {
            Packet::Connect(c) => {
                connect(c, &mut body);
                0
            }
            Packet::ConnAck(a) => {
                body.put_u8(a.session_present as u8);
                body.put_u8(a.code);
                if v5 {
                    properties(&a.properties, &mut body);
                }
                0
            }
            Packet::Publish(p) => {
                string(&p.topic, &mut body);
                if let Some(id) = p.packet_id {
                    body.put_u16(id);
                }
                if v5 {
                    properties(&p.properties, &mut body);
                }
                body.put_slice(&p.payload);
                ((p.dup as u8) << 3) | ((p.qos as u8) << 1) | p.retain as u8
            }
            Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
                body.put_u16(r.packet_id);
                if v5 {
                    reason_and_props(r.reason, &r.properties, &mut body);
                }
                if matches!(self, Packet::PubRel(_)) {
                    0b0010
                } else {
                    0
                }
            }
            Packet::Subscribe(s) => {
                body.put_u16(s.packet_id);
                if v5 {
                    properties(&s.properties, &mut body);
                }
                for (f, o) in &s.filters {
                    string(f, &mut body);
                    let mut b = o.qos as u8;
                    if v5 {
                        b |= (o.no_local as u8) << 2 | (o.retain_as_published as u8) << 3 | (o.retain_handling << 4);
                    }
                    body.put_u8(b);
                }
                0b0010
            }
            Packet::SubAck(s) => {
                body.put_u16(s.packet_id);
                if v5 {
                    properties(&s.properties, &mut body);
                }
                body.put_slice(&s.codes);
                0
            }
            Packet::Unsubscribe(u) => {
                body.put_u16(u.packet_id);
                if v5 {
                    properties(&u.properties, &mut body);
                }
                for f in &u.filters {
                    string(f, &mut body);
                }
                0b0010
            }
            Packet::UnsubAck(u) => {
                body.put_u16(u.packet_id);
                if v5 {
                    properties(&u.properties, &mut body);
                    body.put_slice(&u.codes);
                }
                0
            }
            Packet::PingReq | Packet::PingResp => 0,
            Packet::Disconnect(d) => {
                if v5 {
                    reason_and_props(d.reason, &d.properties, &mut body);
                }
                0
            }
            Packet::Auth(a) => {
                reason_and_props(a.reason, &a.properties, &mut body);
                0
            }
        };
        out.reserve(body.len() + 5);
        out.put_u8(self.packet_type() << 4 | flags);
        varint(body.len() as u32, out);
        out.put_slice(&body);
    }

    /// The encoded packet as a new buffer.
    pub fn to_bytes(&self, version: ProtocolVersion) -> bytes::Bytes {
        let mut out = BytesMut::new();
        self.encode(version, &mut out);
        out.freeze()
    }
}

fn connect(c: &Connect, body: &mut BytesMut) {
    let v5 = c.protocol.is_v5();
    string("MQTT", body);
    body.put_u8(c.protocol.level());
    let mut flags = (c.clean_start as u8) << 1;
    if let Some(w) = &c.will {
        flags |= 0x04 | (w.qos as u8) << 3 | (w.retain as u8) << 5;
    }
    if c.password.is_some() {
        flags |= 0x40;
    }
    if c.username.is_some() {
        flags |= 0x80;
    }
    body.put_u8(flags);
    body.put_u16(c.keep_alive);
    if v5 {
        properties(&c.properties, body);
    }
    string(&c.client_id, body);
    if let Some(w) = &c.will {
        if v5 {
            properties(&w.properties, body);
        }
        string(&w.topic, body);
        binary(&w.payload, body);
    }
    if let Some(u) = &c.username {
        string(u, body);
    }
    if let Some(p) = &c.password {
        binary(p, body);
    }
}

/// PUBACK family, DISCONNECT and AUTH: omit the reason when it is 0 with no properties; omit the property length when empty.
fn reason_and_props(reason: u8, props: &Properties, body: &mut BytesMut) {
    if reason == 0 && props.is_empty() {
        return;
    }
    body.put_u8(reason);
    if !props.is_empty() {
        properties(props, body);
    }
}

/// Writes a Variable Byte Integer (values above 268,435,455 are truncated to 4 bytes).
pub fn varint(mut v: u32, out: &mut BytesMut) {
    for _ in 0..4 {
        let mut b = (v & 0x7F) as u8;
        v >>= 7;
        if v > 0 {
            b |= 0x80;
        }
        out.put_u8(b);
        if v == 0 {
            return;
        }
    }
}

/// Writes a two-byte length and the bytes of `s`.
pub fn string(s: &str, out: &mut BytesMut) {
    binary(s.as_bytes(), out)
}

/// Writes Binary Data (two-byte length prefix). MQTT cannot carry more than 65,535 bytes here:
/// longer data is a bug in the caller (the broker only re-encodes what it decoded), so debug builds
/// (and every test) stop on it, and release builds write the first 65,535 bytes with a matching
/// length, never a length that disagrees with the bytes that follow.
pub fn binary(b: &[u8], out: &mut BytesMut) {
    debug_assert!(b.len() <= u16::MAX as usize, "Binary Data / UTF-8 string of {} bytes: MQTT allows at most 65,535", b.len());
    let b = &b[..b.len().min(u16::MAX as usize)];
    out.put_u16(b.len() as u16);
    out.put_slice(b);
}

/// Writes a property list with its length prefix.
pub fn properties(props: &Properties, out: &mut BytesMut) {
    let mut buf = BytesMut::new();
    for p in &props.0 {
        property(p, &mut buf);
    }
    varint(buf.len() as u32, out);
    out.put_slice(&buf);
}

fn property(p: &Property, out: &mut BytesMut) {
    use Property::*;
    out.put_u8(p.id());
    match p {
        PayloadFormatIndicator(v) | RequestProblemInformation(v) | RequestResponseInformation(v) | MaximumQos(v)
        | RetainAvailable(v) | WildcardSubscriptionAvailable(v) | SubscriptionIdentifierAvailable(v)
        | SharedSubscriptionAvailable(v) => out.put_u8(*v),
        MessageExpiryInterval(v) | SessionExpiryInterval(v) | WillDelayInterval(v) | MaximumPacketSize(v) => {
            out.put_u32(*v)
        }
        ServerKeepAlive(v) | ReceiveMaximum(v) | TopicAliasMaximum(v) | TopicAlias(v) => out.put_u16(*v),
        SubscriptionIdentifier(v) => varint(*v, out),
        ContentType(s) | ResponseTopic(s) | AssignedClientIdentifier(s) | AuthenticationMethod(s)
        | ResponseInformation(s) | ServerReference(s) | ReasonString(s) => string(s, out),
        CorrelationData(b) | AuthenticationData(b) => binary(b, out),
        UserProperty(k, v) => {
            string(k, out);
            string(v, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_data_carries_its_length() {
        let mut out = BytesMut::new();
        binary(&[7u8; 300], &mut out);
        assert_eq!(&out[..2], &300u16.to_be_bytes());
        assert_eq!(out.len(), 302);
    }

    /// More than MQTT can carry is the caller's bug: debug builds (every test) stop on it rather than
    /// write a length that disagrees with the bytes.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "MQTT allows at most 65,535")]
    fn oversized_binary_data_stops_debug_builds() {
        binary(&vec![0u8; 65_536], &mut BytesMut::new());
    }
}
