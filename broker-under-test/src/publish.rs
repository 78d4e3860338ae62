//! Inbound PUBLISH and the acknowledgements of both directions: checks (QoS, retain, aliases,
//! limits, namespace authorization), QoS 2 state, routing through [`crate::router`], and the
//! PUBACK / PUBREC / PUBREL / PUBCOMP flows.

use crate::codec::{reason, Packet, PubResp, Publish, QoS};
use crate::core::{ConnId, Core};
use crate::eventgrid::{Denied, Qos0Denied, Settings, V311PublishDenied};
use crate::store::{FlowState, Message};
use std::time::Duration;
use tokio::time::Instant;
use tracing::{debug, info};

impl Core {
    /// A client's PUBLISH: checked, routed, acknowledged.
    pub(crate) fn on_publish(&mut self, conn: ConnId, mut p: Publish) {
        let cfg = self.cfg.clone();
        let c = self.conns.get_mut(&conn).expect("checked");
        let v5 = c.version.is_v5();
        if p.qos > cfg.max_qos() {
            return self.protocol_error(conn, reason::QOS_NOT_SUPPORTED, format!("PUBLISH QoS {} above Maximum QoS", p.qos as u8));
        }
        if p.retain && !cfg.retain_available {
            return self.protocol_error(conn, reason::RETAIN_NOT_SUPPORTED, "retained PUBLISH but retain is not available".into());
        }
        if !p.properties.subscription_identifiers().is_empty() {
            return self.protocol_error(conn, reason::PROTOCOL_ERROR, "Subscription Identifier in a client PUBLISH (MQTT-3.3.4-6)".into());
        }
        if let Some(alias) = p.properties.topic_alias() {
            if alias == 0 || alias > cfg.topic_alias_maximum {
                return self.protocol_error(conn, reason::TOPIC_ALIAS_INVALID, format!("Topic Alias {alias} out of range"));
            }
            if p.topic.is_empty() {
                match c.aliases.get(&alias) {
                    Some(t) => p.topic = t.clone(),
                    None => return self.protocol_error(conn, reason::PROTOCOL_ERROR, format!("unknown Topic Alias {alias}")),
                }
            } else {
                c.aliases.insert(alias, p.topic.clone());
            }
        }
        let client_id = c.client_id.clone();
        let principal = c.principal.clone();
        let version = c.version;
        let outbox = c.outbox.clone();
        if !cfg.topic_within_limits(&p.topic) {
            return self.protocol_error(conn, reason::TOPIC_NAME_INVALID, "topic longer or deeper than allowed".into());
        }
        if let (Some(ns), Some(who)) = (cfg.namespace.get(), principal.clone()) {
            if let Err(denied) = ns.may_publish(&who, &p.topic) {
                return self.publish_denied(conn, &p, denied, ns.settings());
            }
        }
        if v5 && p.properties.response_topic().is_some_and(|t| t.contains(['+', '#'])) {
            return self.protocol_error(conn, reason::PROTOCOL_ERROR, "Response Topic contains a wildcard (MQTT-3.3.2-14)".into());
        }
        if p.topic.starts_with('$') && !cfg.allow_dollar_topic_publish {
            return self.dollar_topic_refused(conn, &p);
        }
        let bad_format = v5 && p.properties.payload_format_indicator() == Some(1) && std::str::from_utf8(&p.payload).is_err();
        if p.qos == QoS::ExactlyOnce {
            let pid = p.packet_id.unwrap_or(0);
            let session = self.store.session(&client_id).expect("connected session");
            if session.awaiting_rel.contains(&pid) {
                // A retransmission: acknowledge again, do not route twice.
                outbox.packet(&Packet::PubRec(PubResp::new(pid)), version);
                return;
            }
            if session.awaiting_rel.len() >= cfg.receive_maximum as usize {
                return self.protocol_error(conn, reason::RECEIVE_MAXIMUM_EXCEEDED, "Receive Maximum exceeded".into());
            }
        }
        if bad_format {
            if p.qos == QoS::AtMostOnce {
                return self.protocol_error(conn, reason::PAYLOAD_FORMAT_INVALID, "payload is not UTF-8 but Payload Format Indicator is 1".into());
            }
            let mut r = PubResp::new(p.packet_id.unwrap_or(0));
            r.reason = reason::PAYLOAD_FORMAT_INVALID;
            let pkt = if p.qos == QoS::AtLeastOnce { Packet::PubAck(r) } else { Packet::PubRec(r) };
            outbox.packet(&pkt, version);
            return;
        }
        let now = Instant::now();
        let mut props = p.properties;
        props.remove(crate::codec::property_id::TOPIC_ALIAS);
        let expires_at = props.message_expiry_interval().map(|s| now + Duration::from_secs(s as u64));
        props.remove(crate::codec::property_id::MESSAGE_EXPIRY_INTERVAL);
        let msg = Message {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            properties: props,
            expires_at,
            publisher: Some(client_id.clone()),
        };
        self.route_cloud_event(&msg, principal.as_ref());
        let matched = self.route(msg);
        let code = if matched == 0 && v5 { reason::NO_MATCHING_SUBSCRIBERS } else { 0 };
        if let Some(pid) = p.packet_id {
            let mut r = PubResp::new(pid);
            r.reason = code;
            match p.qos {
                QoS::AtLeastOnce => outbox.packet(&Packet::PubAck(r), version),
                QoS::ExactlyOnce => {
                    if let Some(s) = self.store.session(&client_id) {
                        s.awaiting_rel.insert(pid);
                    }
                    outbox.packet(&Packet::PubRec(r), version)
                }
                QoS::AtMostOnce => {}
            }
        }
    }

    /// A PUBLISH the namespace does not allow: v5 QoS 1/2 → PUBACK/PUBREC 0x87, QoS 0 → dropped
    /// (or DISCONNECT 0x87); 3.1.1 → the connection is closed (or acknowledged and dropped).
    fn publish_denied(&mut self, conn: ConnId, p: &Publish, denied: Denied, settings: &Settings) {
        let c = &self.conns[&conn];
        let (client_id, version, outbox) = (c.client_id.clone(), c.version, c.outbox.clone());
        info!(client = %client_id, topic = %p.topic, "PUBLISH not authorized: {denied}");
        self.publishes_denied += 1;
        let ack_and_drop = |code: u8| {
            if let Some(pid) = p.packet_id {
                let mut r = PubResp::new(pid);
                r.reason = code;
                match p.qos {
                    QoS::AtLeastOnce => outbox.packet(&Packet::PubAck(r), version),
                    QoS::ExactlyOnce => outbox.packet(&Packet::PubRec(r), version),
                    QoS::AtMostOnce => {}
                }
            }
        };
        if version.is_v5() {
            if p.qos == QoS::AtMostOnce && settings.qos0_denied == Qos0Denied::Disconnect {
                let told = crate::eventgrid::client_reason(settings, reason::NOT_AUTHORIZED, &format!("PUBLISH not authorized: {denied}"));
                return self.protocol_error(conn, reason::NOT_AUTHORIZED, told);
            }
            ack_and_drop(reason::NOT_AUTHORIZED);
        } else if settings.v311_publish_denied == V311PublishDenied::AckAndDrop {
            ack_and_drop(0);
        } else {
            self.protocol_error(conn, reason::NOT_AUTHORIZED, format!("PUBLISH not authorized: {denied}"));
        }
    }

    /// A client PUBLISH on a `$` topic (4.7.2: such topics are the server's; it SHOULD keep clients
    /// from exchanging messages on them): routed to nobody and not retained. 5.0 QoS 1/2 are
    /// answered 0x90 Topic Name invalid; QoS 0 and 3.1.1 are acknowledged as usual (MQTT-3.3.5-2:
    /// a positive acknowledgement or a close) and dropped. Logged either way.
    fn dollar_topic_refused(&mut self, conn: ConnId, p: &Publish) {
        let c = &self.conns[&conn];
        info!(client = %c.client_id, topic = %p.topic, "PUBLISH to a $ topic dropped (allow_dollar_topic_publish is off)");
        let Some(pid) = p.packet_id else { return };
        let mut r = PubResp::new(pid);
        if c.version.is_v5() {
            r.reason = reason::TOPIC_NAME_INVALID;
        }
        let pkt = match p.qos {
            QoS::AtLeastOnce => Packet::PubAck(r),
            _ => Packet::PubRec(r),
        };
        c.outbox.packet(&pkt, c.version);
    }

    pub(crate) fn on_pubrel(&mut self, conn: ConnId, r: PubResp) {
        let c = &self.conns[&conn];
        let (client_id, version, outbox) = (c.client_id.clone(), c.version, c.outbox.clone());
        let found = self.store.session(&client_id).map(|s| s.awaiting_rel.remove(&r.packet_id)).unwrap_or(false);
        let mut resp = PubResp::new(r.packet_id);
        if !found && version.is_v5() {
            resp.reason = reason::PACKET_IDENTIFIER_NOT_FOUND;
        }
        outbox.packet(&Packet::PubComp(resp), version);
    }

    /// PUBACK (kind 1), PUBREC (2) or PUBCOMP (3) for an outbound message.
    pub(crate) fn on_ack(&mut self, conn: ConnId, r: PubResp, kind: u8) {
        let c = &self.conns[&conn];
        let (client_id, version, outbox) = (c.client_id.clone(), c.version, c.outbox.clone());
        let Some(session) = self.store.session(&client_id) else { return };
        let entry = session.inflight.get(&r.packet_id).map(|i| (i.delivery.qos, i.state));
        match (kind, entry) {
            (1, Some((QoS::AtLeastOnce, FlowState::AwaitAck))) | (3, Some((QoS::ExactlyOnce, FlowState::AwaitComp))) => {
                session.inflight.remove(&r.packet_id);
            }
            (2, Some((QoS::ExactlyOnce, FlowState::AwaitAck))) => {
                if r.reason >= 0x80 {
                    session.inflight.remove(&r.packet_id);
                } else {
                    session.inflight.get_mut(&r.packet_id).expect("present").state = FlowState::AwaitComp;
                    outbox.packet(&Packet::PubRel(PubResp::new(r.packet_id)), version);
                }
            }
            (2, _) => {
                // PUBREC for an unknown id: answer PUBREL 0x92 so the client can finish its state.
                let mut rel = PubResp::new(r.packet_id);
                if version.is_v5() {
                    rel.reason = reason::PACKET_IDENTIFIER_NOT_FOUND;
                }
                outbox.packet(&Packet::PubRel(rel), version);
            }
            _ => debug!(client = %client_id, packet_id = r.packet_id, kind, "acknowledgement for no matching message ignored"),
        }
        self.pump(conn);
    }
}
