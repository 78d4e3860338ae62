//! Strict decoding: framing, then one function per packet type. Every way the specs make a packet
//! Malformed or a Protocol Error returns the matching [`DecodeError`].

use super::error::{malformed, protocol as protocol_error, DecodeError};
use super::packet::*;
use super::property::{id, Properties, Property, PropertyContext};
use super::reason::{self, ReasonContext};
use super::topic;
use bytes::{Buf, Bytes, BytesMut};

/// One complete packet's bytes, split at the fixed header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The first byte: packet type and flags.
    pub header: u8,
    /// Everything after the Remaining Length.
    pub body: Bytes,
}

/// Takes one complete frame off the front of `buf`, or returns `Ok(None)` when more bytes are needed.
/// Rejects a bad Remaining Length and anything larger than `max_size` bytes as soon as the header shows it.
pub fn read_frame(buf: &mut BytesMut, max_size: usize) -> Result<Option<Frame>, DecodeError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let mut len: usize = 0;
    let mut shift = 0;
    let mut i = 1;
    loop {
        if i > 4 {
            return malformed("remaining length longer than 4 bytes");
        }
        if i >= buf.len() {
            return Ok(None);
        }
        let b = buf[i];
        len |= ((b & 0x7F) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            if b == 0 && i > 2 {
                return malformed("remaining length not minimally encoded");
            }
            break;
        }
        shift += 7;
    }
    let total = i + len;
    if total > max_size {
        return Err(DecodeError::TooLarge { size: total, max: max_size });
    }
    if buf.len() < total {
        // Grow towards the declared size in bounded steps: a header alone must not make us
        // allocate its whole declared length.
        buf.reserve((total - buf.len()).min(64 * 1024));
        return Ok(None);
    }
    let header = buf[0];
    let mut whole = buf.split_to(total);
    whole.advance(i);
    Ok(Some(Frame { header, body: whole.freeze() }))
}

/// Decodes one whole packet (fixed header included) from `bytes`; trailing bytes are an error.
pub fn decode(bytes: &[u8], version: ProtocolVersion) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    match read_frame(&mut buf, usize::MAX)? {
        None => malformed("incomplete packet"),
        Some(_) if !buf.is_empty() => malformed("bytes after the packet"),
        Some(frame) => decode_frame(&frame, version),
    }
}

/// Decodes a frame. `version` is the connection's protocol; CONNECT carries its own.
pub fn decode_frame(frame: &Frame, version: ProtocolVersion) -> Result<Packet, DecodeError> {
    let kind = frame.header >> 4;
    let flags = frame.header & 0x0F;
    let v5 = version.is_v5();
    let mut r = Reader::new(frame.body.clone());
    let expect_flags = |want: u8| -> Result<(), DecodeError> {
        if flags != want {
            return malformed(format!(
                "{} with fixed-header flags {flags:#06b}, must be {want:#06b}",
                packet_name(kind)
            ));
        }
        Ok(())
    };
    let packet = match kind {
        1 => {
            expect_flags(0)?;
            Packet::Connect(connect(&mut r)?)
        }
        2 => {
            expect_flags(0)?;
            Packet::ConnAck(connack(&mut r, v5)?)
        }
        3 => Packet::Publish(publish(&mut r, flags, v5)?),
        4 | 5 | 6 | 7 => {
            expect_flags(if kind == 6 { 0b0010 } else { 0 })?;
            let ctx = if kind <= 5 { ReasonContext::PubAckRec } else { ReasonContext::PubRelComp };
            let resp = pub_resp(&mut r, v5, ctx)?;
            match kind {
                4 => Packet::PubAck(resp),
                5 => Packet::PubRec(resp),
                6 => Packet::PubRel(resp),
                _ => Packet::PubComp(resp),
            }
        }
        8 => {
            expect_flags(0b0010)?;
            Packet::Subscribe(subscribe(&mut r, v5)?)
        }
        9 => {
            expect_flags(0)?;
            Packet::SubAck(suback(&mut r, v5)?)
        }
        10 => {
            expect_flags(0b0010)?;
            Packet::Unsubscribe(unsubscribe(&mut r, v5)?)
        }
        11 => {
            expect_flags(0)?;
            Packet::UnsubAck(unsuback(&mut r, v5)?)
        }
        12 | 13 => {
            expect_flags(0)?;
            if kind == 12 {
                Packet::PingReq
            } else {
                Packet::PingResp
            }
        }
        14 => {
            expect_flags(0)?;
            if v5 {
                let (reason, properties) = reason_and_props(&mut r, ReasonContext::Disconnect, PropertyContext::Disconnect)?;
                Packet::Disconnect(Disconnect { reason, properties })
            } else {
                Packet::Disconnect(Disconnect::default())
            }
        }
        15 if v5 => {
            expect_flags(0)?;
            let (reason, properties) = reason_and_props(&mut r, ReasonContext::Auth, PropertyContext::Auth)?;
            // 3.15.2.2.2: "It is a Protocol Error to omit the Authentication Method"; only the
            // Remaining Length 0 short form (3.15.2.1) carries no property list at all.
            if !frame.body.is_empty() && properties.authentication_method().is_none() {
                return protocol_error("AUTH without Authentication Method (5.0 section 3.15.2.2.2)");
            }
            Packet::Auth(Auth { reason, properties })
        }
        _ => return malformed(format!("reserved packet type {kind}")),
    };
    if r.remaining() != 0 {
        return malformed(format!("{} has {} unexpected trailing bytes", packet_name(kind), r.remaining()));
    }
    Ok(packet)
}

fn connect(r: &mut Reader) -> Result<Connect, DecodeError> {
    let name = r.string("protocol name")?;
    let level = r.u8("protocol level")?;
    let protocol = match (name.as_str(), level) {
        ("MQTT", 4) => ProtocolVersion::V311,
        ("MQTT", 5) => ProtocolVersion::V5,
        _ => return Err(DecodeError::UnsupportedProtocol { name, level }),
    };
    let v5 = protocol.is_v5();
    let flags = r.u8("connect flags")?;
    if flags & 0x01 != 0 {
        return malformed("CONNECT reserved flag is set (MQTT-3.1.2-3)");
    }
    let clean_start = flags & 0x02 != 0;
    let will_flag = flags & 0x04 != 0;
    let will_qos = (flags >> 3) & 0x03;
    let will_retain = flags & 0x20 != 0;
    let password_flag = flags & 0x40 != 0;
    let username_flag = flags & 0x80 != 0;
    if !will_flag && (will_qos != 0 || will_retain) {
        return malformed("Will Flag is 0 but Will QoS or Will Retain is set (MQTT-3.1.2-11/-13/-15)");
    }
    let will_qos = match QoS::from_u8(will_qos) {
        Some(q) => q,
        None => return malformed("Will QoS 3 (MQTT-3.1.2-14 / 5.0 MQTT-3.1.2-12)"),
    };
    if !v5 && password_flag && !username_flag {
        return malformed("password flag without user name flag (MQTT-3.1.2-22)");
    }
    let keep_alive = r.u16("keep alive")?;
    let props = if v5 { properties(r, PropertyContext::Connect)? } else { Properties::new() };
    if props.0.iter().any(|p| matches!(p, Property::AuthenticationData(_))) && props.authentication_method().is_none() {
        return protocol_error("Authentication Data without Authentication Method (5.0 section 3.1.2.11.10)");
    }
    let client_id = r.string("client identifier")?;
    let will = if will_flag {
        let will_props = if v5 { properties(r, PropertyContext::Will)? } else { Properties::new() };
        let topic = r.string("will topic")?;
        let payload = r.binary("will payload")?;
        if topic.is_empty() {
            return protocol_error("empty Will Topic (MQTT-4.7.3-1)");
        }
        if let Some(problem) = topic::topic_name_problem(&topic) {
            return Err(DecodeError::TopicName(format!("Will Topic {topic:?}: {problem}")));
        }
        Some(Will { topic, payload, qos: will_qos, retain: will_retain, properties: will_props })
    } else {
        None
    };
    let username = if username_flag { Some(r.string("user name")?) } else { None };
    let password = if password_flag { Some(r.binary("password")?) } else { None };
    Ok(Connect { protocol, clean_start, keep_alive, properties: props, client_id, will, username, password })
}

fn connack(r: &mut Reader, v5: bool) -> Result<ConnAck, DecodeError> {
    let ack_flags = r.u8("connack flags")?;
    if ack_flags & 0xFE != 0 {
        return malformed("CONNACK reserved flags set");
    }
    let code = r.u8("connack code")?;
    let properties = if v5 {
        if !reason::is_valid(ReasonContext::ConnAck, code) {
            return malformed(format!("CONNACK reason code {code:#04x} is not in the table"));
        }
        properties(r, PropertyContext::ConnAck)?
    } else {
        if code > 5 {
            return malformed(format!("CONNACK return code {code} is reserved"));
        }
        Properties::new()
    };
    Ok(ConnAck { session_present: ack_flags & 1 != 0, code, properties })
}

fn publish(r: &mut Reader, flags: u8, v5: bool) -> Result<Publish, DecodeError> {
    let dup = flags & 0x08 != 0;
    let retain = flags & 0x01 != 0;
    let qos = match QoS::from_u8((flags >> 1) & 0x03) {
        Some(q) => q,
        None => return malformed("PUBLISH with QoS 3 (MQTT-3.3.1-4)"),
    };
    if dup && qos == QoS::AtMostOnce {
        return malformed("DUP set on a QoS 0 PUBLISH (MQTT-3.3.1-2)");
    }
    let topic = r.string("topic name")?;
    if topic.contains(['+', '#']) {
        return Err(DecodeError::TopicName(format!("wildcard in PUBLISH topic {topic:?} (MQTT-3.3.2-2)")));
    }
    let packet_id = if qos != QoS::AtMostOnce { Some(r.packet_id()?) } else { None };
    let properties = if v5 { properties(r, PropertyContext::Publish)? } else { Properties::new() };
    if topic.is_empty() && properties.topic_alias().is_none() {
        return protocol_error("empty Topic Name without Topic Alias");
    }
    let payload = r.rest();
    Ok(Publish { dup, qos, retain, topic, packet_id, properties, payload })
}

fn pub_resp(r: &mut Reader, v5: bool, ctx: ReasonContext) -> Result<PubResp, DecodeError> {
    let packet_id = r.packet_id()?;
    let (reason, properties) = if v5 {
        reason_and_props(r, ctx, PropertyContext::PubResp)?
    } else {
        (0, Properties::new())
    };
    Ok(PubResp { packet_id, reason, properties })
}

fn subscribe(r: &mut Reader, v5: bool) -> Result<Subscribe, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = if v5 { properties(r, PropertyContext::Subscribe)? } else { Properties::new() };
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        let filter = r.string("topic filter")?;
        let o = r.u8("subscription options")?;
        let reserved = if v5 { o & 0xC0 } else { o & 0xFC };
        if reserved != 0 {
            return malformed(format!("reserved bits set in subscription options {o:#04x} (MQTT-3.8.3-5)"));
        }
        let qos = match QoS::from_u8(o & 0x03) {
            Some(q) => q,
            // 5.0 section 3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3";
            // 3.1.1 treats it as malformed (MQTT-3-8.3-4).
            None if v5 => return protocol_error("subscription Maximum QoS 3 (5.0 section 3.8.3.1)"),
            None => return malformed("subscription QoS 3 (MQTT-3-8.3-4)"),
        };
        let retain_handling = (o >> 4) & 0x03;
        if retain_handling == 3 {
            return protocol_error("Retain Handling 3");
        }
        let options = SubOptions { qos, no_local: o & 0x04 != 0, retain_as_published: o & 0x08 != 0, retain_handling };
        if options.no_local && topic::shared_subscription(&filter).is_some() {
            return protocol_error("No Local on a shared subscription (MQTT-3.8.3-4)");
        }
        filters.push((filter, options));
    }
    if filters.is_empty() {
        return protocol_error("SUBSCRIBE without a topic filter (MQTT-3.8.3-3)");
    }
    Ok(Subscribe { packet_id, properties, filters })
}

fn suback(r: &mut Reader, v5: bool) -> Result<SubAck, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = if v5 { properties(r, PropertyContext::SubUnsubAck)? } else { Properties::new() };
    let codes = r.rest().to_vec();
    for &c in &codes {
        let ok = if v5 { reason::is_valid(ReasonContext::SubAck, c) } else { matches!(c, 0 | 1 | 2 | 0x80) };
        if !ok {
            return malformed(format!("SUBACK code {c:#04x} is not in the table"));
        }
    }
    Ok(SubAck { packet_id, properties, codes })
}

fn unsubscribe(r: &mut Reader, v5: bool) -> Result<Unsubscribe, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = if v5 { properties(r, PropertyContext::Unsubscribe)? } else { Properties::new() };
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        filters.push(r.string("topic filter")?);
    }
    if filters.is_empty() {
        return protocol_error("UNSUBSCRIBE without a topic filter (MQTT-3.10.3-2)");
    }
    Ok(Unsubscribe { packet_id, properties, filters })
}

fn unsuback(r: &mut Reader, v5: bool) -> Result<UnsubAck, DecodeError> {
    let packet_id = r.packet_id()?;
    if !v5 {
        return Ok(UnsubAck { packet_id, properties: Properties::new(), codes: Vec::new() });
    }
    let properties = properties(r, PropertyContext::SubUnsubAck)?;
    let codes = r.rest().to_vec();
    if let Some(c) = codes.iter().find(|&&c| !reason::is_valid(ReasonContext::UnsubAck, c)) {
        return malformed(format!("UNSUBACK code {c:#04x} is not in the table"));
    }
    Ok(UnsubAck { packet_id, properties, codes })
}

/// The 5.0 short forms: no bytes means reason 0 and no properties; one byte is the reason alone.
fn reason_and_props(
    r: &mut Reader,
    rctx: ReasonContext,
    pctx: PropertyContext,
) -> Result<(u8, Properties), DecodeError> {
    if r.remaining() == 0 {
        return Ok((0, Properties::new()));
    }
    let code = r.u8("reason code")?;
    if !reason::is_valid(rctx, code) {
        return malformed(format!("reason code {code:#04x} is not allowed in {rctx:?}"));
    }
    let props = if r.remaining() == 0 { Properties::new() } else { properties(r, pctx)? };
    Ok((code, props))
}

/// Reads a property list and checks identifiers, duplicates and values for `ctx`.
pub(crate) fn properties(r: &mut Reader, ctx: PropertyContext) -> Result<Properties, DecodeError> {
    let len = r.varint("property length")? as usize;
    if len > r.remaining() {
        return malformed(format!("property length {len} exceeds the {} bytes left", r.remaining()));
    }
    let mut p = Reader::new(r.take(len));
    let mut out: Vec<Property> = Vec::new();
    while p.remaining() > 0 {
        let pid = p.varint("property identifier")?;
        let pid = match u8::try_from(pid) {
            Ok(v) => v,
            Err(_) => return malformed(format!("unknown property identifier {pid:#x}")),
        };
        let prop = match pid {
            id::PAYLOAD_FORMAT_INDICATOR => Property::PayloadFormatIndicator(p.u8("payload format indicator")?),
            id::MESSAGE_EXPIRY_INTERVAL => Property::MessageExpiryInterval(p.u32("message expiry")?),
            id::CONTENT_TYPE => Property::ContentType(p.string("content type")?),
            id::RESPONSE_TOPIC => Property::ResponseTopic(p.string("response topic")?),
            id::CORRELATION_DATA => Property::CorrelationData(p.binary("correlation data")?),
            id::SUBSCRIPTION_IDENTIFIER => Property::SubscriptionIdentifier(p.varint("subscription identifier")?),
            id::SESSION_EXPIRY_INTERVAL => Property::SessionExpiryInterval(p.u32("session expiry")?),
            id::ASSIGNED_CLIENT_IDENTIFIER => Property::AssignedClientIdentifier(p.string("assigned client id")?),
            id::SERVER_KEEP_ALIVE => Property::ServerKeepAlive(p.u16("server keep alive")?),
            id::AUTHENTICATION_METHOD => Property::AuthenticationMethod(p.string("authentication method")?),
            id::AUTHENTICATION_DATA => Property::AuthenticationData(p.binary("authentication data")?),
            id::REQUEST_PROBLEM_INFORMATION => Property::RequestProblemInformation(p.u8("request problem info")?),
            id::WILL_DELAY_INTERVAL => Property::WillDelayInterval(p.u32("will delay interval")?),
            id::REQUEST_RESPONSE_INFORMATION => Property::RequestResponseInformation(p.u8("request response info")?),
            id::RESPONSE_INFORMATION => Property::ResponseInformation(p.string("response information")?),
            id::SERVER_REFERENCE => Property::ServerReference(p.string("server reference")?),
            id::REASON_STRING => Property::ReasonString(p.string("reason string")?),
            id::RECEIVE_MAXIMUM => Property::ReceiveMaximum(p.u16("receive maximum")?),
            id::TOPIC_ALIAS_MAXIMUM => Property::TopicAliasMaximum(p.u16("topic alias maximum")?),
            id::TOPIC_ALIAS => Property::TopicAlias(p.u16("topic alias")?),
            id::MAXIMUM_QOS => Property::MaximumQos(p.u8("maximum qos")?),
            id::RETAIN_AVAILABLE => Property::RetainAvailable(p.u8("retain available")?),
            id::USER_PROPERTY => Property::UserProperty(p.string("user property name")?, p.string("user property value")?),
            id::MAXIMUM_PACKET_SIZE => Property::MaximumPacketSize(p.u32("maximum packet size")?),
            id::WILDCARD_SUBSCRIPTION_AVAILABLE => Property::WildcardSubscriptionAvailable(p.u8("wildcard available")?),
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => Property::SubscriptionIdentifierAvailable(p.u8("sub id available")?),
            id::SHARED_SUBSCRIPTION_AVAILABLE => Property::SharedSubscriptionAvailable(p.u8("shared available")?),
            other => return malformed(format!("unknown property identifier {other:#04x}")),
        };
        if !ctx.allows(pid) {
            return malformed(format!("property {pid:#04x} is not allowed in {ctx:?}"));
        }
        if !ctx.repeatable(pid) && out.iter().any(|q| q.id() == pid) {
            return protocol_error(format!("property {pid:#04x} appears twice in {ctx:?}"));
        }
        check_value(&prop)?;
        out.push(prop);
    }
    Ok(Properties(out))
}

fn check_value(p: &Property) -> Result<(), DecodeError> {
    use Property::*;
    match p {
        PayloadFormatIndicator(v) if *v > 1 => protocol_error(format!("Payload Format Indicator {v}")),
        RequestProblemInformation(v) | RequestResponseInformation(v) if *v > 1 => {
            protocol_error(format!("request flag {v} is not 0 or 1"))
        }
        MaximumQos(v) if *v > 1 => protocol_error(format!("Maximum QoS {v}")),
        RetainAvailable(v) | WildcardSubscriptionAvailable(v) | SubscriptionIdentifierAvailable(v)
        | SharedSubscriptionAvailable(v)
            if *v > 1 =>
        {
            protocol_error(format!("availability flag {v} is not 0 or 1"))
        }
        ReceiveMaximum(0) => protocol_error("Receive Maximum 0"),
        MaximumPacketSize(0) => protocol_error("Maximum Packet Size 0"),
        SubscriptionIdentifier(0) => protocol_error("Subscription Identifier 0"),
        _ => Ok(()),
    }
}

/// A bounds-checked cursor over a packet body; running out of bytes is a malformed packet.
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Reader { buf }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }
    fn need(&self, n: usize, what: &str) -> Result<(), DecodeError> {
        if self.buf.len() < n {
            return malformed(format!("packet ends inside {what}"));
        }
        Ok(())
    }
    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        self.need(1, what)?;
        Ok(self.buf.get_u8())
    }
    pub(crate) fn u16(&mut self, what: &str) -> Result<u16, DecodeError> {
        self.need(2, what)?;
        Ok(self.buf.get_u16())
    }
    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        self.need(4, what)?;
        Ok(self.buf.get_u32())
    }
    fn packet_id(&mut self) -> Result<u16, DecodeError> {
        let id = self.u16("packet identifier")?;
        if id == 0 {
            return protocol_error("packet identifier 0 (MQTT-2.2.1-3)");
        }
        Ok(id)
    }
    pub(crate) fn varint(&mut self, what: &str) -> Result<u32, DecodeError> {
        let mut value: u32 = 0;
        for i in 0..4 {
            let b = self.u8(what)?;
            value |= ((b & 0x7F) as u32) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return malformed(format!("{what}: variable byte integer not minimally encoded"));
                }
                return Ok(value);
            }
        }
        malformed(format!("{what}: variable byte integer longer than 4 bytes"))
    }
    pub(crate) fn take(&mut self, n: usize) -> Bytes {
        self.buf.split_to(n)
    }
    pub(crate) fn binary(&mut self, what: &str) -> Result<Bytes, DecodeError> {
        let n = self.u16(what)? as usize;
        self.need(n, what)?;
        Ok(self.take(n))
    }
    /// A UTF-8 Encoded String: well-formed, no U+0000 (MQTT-1.5.3-1/-2, 1.5.4-1/-2).
    pub(crate) fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        let raw = self.binary(what)?;
        match std::str::from_utf8(&raw) {
            Ok(s) if s.contains('\0') => malformed(format!("{what} contains U+0000")),
            Ok(s) => Ok(s.to_owned()),
            Err(_) => malformed(format!("{what} is not well-formed UTF-8")),
        }
    }
    fn rest(&mut self) -> Bytes {
        let n = self.buf.len();
        self.buf.split_to(n)
    }
}
