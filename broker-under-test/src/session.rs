//! Sessions: admitting a CONNECT (or refusing it) and assigning its client id, taking over,
//! resuming or starting the session, the CONNACK; DISCONNECT; detaching a connection that ended,
//! and the session's end (at once, or when its Session Expiry Interval elapses).

use crate::codec::{reason, ConnAck, Connect, Disconnect, Packet, Properties, Property};
use crate::config::Config;
use crate::core::{Conn, ConnId, ConnectReply, Core};
use crate::eventgrid::Principal;
use crate::outbox::Outbox;
use crate::store::{ArmedWill, Session, NEVER};
use crate::timers::Timer;
use crate::will::{CloseReason, Ending};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, info};

/// Why a CONNECT is refused: (5.0 reason code, 3.1.1 return code, reason).
pub(crate) type Refusal = (u8, u8, &'static str);

/// The Session Expiry Interval a CONNECT asks for (3.1.1: clean session 0 means never).
pub(crate) fn requested_expiry(c: &Connect) -> u32 {
    if c.protocol.is_v5() {
        c.properties.session_expiry_interval().unwrap_or(0)
    } else if c.clean_start {
        0
    } else {
        NEVER
    }
}

/// The keep-alive in force: the request, never above `keep_alive_max` (nor 0 when there is one), and
/// for 5.0 not below `keep_alive_min`. A 3.1.1 client is not told (3.1.1 has no Server Keep Alive);
/// the cap still bounds how late its will can come.
pub(crate) fn negotiate_keep_alive(cfg: &Config, requested: u16, v5: bool) -> u16 {
    let mut ka = requested;
    if cfg.keep_alive_max > 0 && (ka == 0 || ka > cfg.keep_alive_max) {
        ka = cfg.keep_alive_max;
    }
    if v5 && ka != 0 && ka < cfg.keep_alive_min {
        ka = cfg.keep_alive_min;
    }
    ka
}

/// Whether `id` is one MQTT-3.1.3-5 obliges every server to accept: 1 to 23 characters of
/// `0-9a-zA-Z` (the `strict_client_ids` option refuses any other).
pub(crate) fn v311_client_id(id: &str) -> bool {
    (1..=23).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Tells a 5.0 client why the server ends its connection (DISCONNECT with a reason code, when the
/// ending has one), then closes it.
pub(crate) fn say_goodbye(c: &Conn, ending: &Ending) {
    if let Some(code) = ending.server_disconnect_code() {
        if c.version.is_v5() {
            let mut d = Disconnect::new(code);
            if let Ending::Network(CloseReason::BadPacket { detail, .. }) = &ending {
                d.properties.push(Property::ReasonString(detail.clone()));
                // MQTT-3.14.2-3: no Reason String if it would exceed the client's Maximum Packet Size.
                let size = Packet::Disconnect(d.clone()).to_bytes(c.version).len();
                if c.max_packet_size.is_some_and(|max| size > max as usize) {
                    d.properties.remove(crate::codec::property_id::REASON_STRING);
                }
            }
            c.outbox.packet(&Packet::Disconnect(d), c.version);
        }
    }
    c.outbox.close();
}

impl Core {
    /// Checks a CONNECT against the broker's rules and capabilities and assigns the client id: gives
    /// the client id to use (and the assigned one for 5.0), or the refusal.
    pub(crate) fn admit(&mut self, c: &Connect, principal: Option<&Principal>) -> Result<(String, Option<String>), Refusal> {
        let v5 = c.protocol.is_v5();
        // The id actually used: ownership and the per-name quota are checked on it (issue 12).
        let (id, assigned) = self.session_name(c)?;
        if self.cfg.strict_client_ids && !c.client_id.is_empty() && !v311_client_id(&c.client_id) {
            return Err((
                reason::CLIENT_IDENTIFIER_NOT_VALID,
                reason::v311::IDENTIFIER_REJECTED,
                "client id is not 1 to 23 characters of 0-9a-zA-Z (strict_client_ids; MQTT-3.1.3-5)",
            ));
        }
        // With a namespace, its authentication already judged the method (webhook, JWT, refusal);
        // without one there is none.
        if v5 && principal.is_none() && c.properties.authentication_method().is_some() {
            return Err((reason::BAD_AUTHENTICATION_METHOD, 0, "enhanced authentication is not supported"));
        }
        if v5 && !self.cfg.user_properties_on_connect_and_subscribe && c.properties.has(crate::codec::property_id::USER_PROPERTY) {
            return Err((
                reason::IMPLEMENTATION_SPECIFIC_ERROR,
                0,
                "User Properties on CONNECT are not supported (Event Grid profile)",
            ));
        }
        if let (Some(ns), Some(w)) = (self.cfg.namespace.get(), &c.will) {
            let s = ns.settings();
            let delay = w.properties.will_delay_interval().unwrap_or(0);
            if s.will_delay_over_max == crate::eventgrid::WillDelayOverMax::Reject && delay > s.max_will_delay_secs {
                return Err((
                    reason::IMPLEMENTATION_SPECIFIC_ERROR,
                    reason::v311::NOT_AUTHORIZED,
                    "Will Delay Interval above the namespace maximum (will_delay_over_max: reject)",
                ));
            }
        }
        if let (Some(p), Some(ns)) = (principal, self.cfg.namespace.get()) {
            let limit = ns.settings().max_client_sessions_per_authentication_name as usize;
            let held = self.owned.get(&p.authentication_name.to_lowercase());
            if held.is_some_and(|h| !h.contains(&id) && h.len() >= limit) {
                return Err((
                    reason::QUOTA_EXCEEDED,
                    reason::v311::NOT_AUTHORIZED,
                    "maximumClientSessionsPerAuthenticationName reached (online and offline sessions count)",
                ));
            }
        }
        if let Some(p) = principal {
            // Event Grid: a session name held by another authentication name is not yours to take.
            let owner = self.store.session(&id).and_then(|s| s.owner.clone());
            if owner.is_some_and(|o| !o.eq_ignore_ascii_case(&p.authentication_name)) {
                return Err((
                    reason::NOT_AUTHORIZED,
                    reason::v311::NOT_AUTHORIZED,
                    "the session name is owned by another authentication name",
                ));
            }
        }
        if let Some(w) = &c.will {
            if !self.cfg.topic_within_limits(&w.topic) {
                return Err((reason::TOPIC_NAME_INVALID, reason::v311::NOT_AUTHORIZED, "Will Topic longer or deeper than allowed"));
            }
            if w.qos > self.cfg.max_qos() {
                return Err((reason::QOS_NOT_SUPPORTED, reason::v311::NOT_AUTHORIZED, "Will QoS above Maximum QoS (MQTT-3.2.2-12)"));
            }
            if w.retain && !self.cfg.retain_available {
                return Err((
                    reason::RETAIN_NOT_SUPPORTED,
                    reason::v311::NOT_AUTHORIZED,
                    "Will Retain but retain is not available (MQTT-3.2.2-13)",
                ));
            }
            if w.properties.response_topic().is_some_and(|t| t.contains(['+', '#'])) {
                return Err((
                    reason::PROTOCOL_ERROR,
                    reason::v311::NOT_AUTHORIZED,
                    "Will Response Topic contains a wildcard (MQTT-3.3.2-14)",
                ));
            }
            if w.properties.payload_format_indicator() == Some(1) && std::str::from_utf8(&w.payload).is_err() {
                return Err((
                    reason::PAYLOAD_FORMAT_INVALID,
                    reason::v311::NOT_AUTHORIZED,
                    "Will Payload Format Indicator is 1 but the payload is not UTF-8",
                ));
            }
        }
        Ok((id, assigned))
    }

    /// The CONNECT's client id, or for an empty one a fresh unguessable id that names no existing
    /// session (so an assigned id never resumes one; 5.0 also gets it back to announce).
    fn session_name(&mut self, c: &Connect) -> Result<(String, Option<String>), Refusal> {
        if !c.client_id.is_empty() {
            return Ok((c.client_id.clone(), None));
        }
        if !c.protocol.is_v5() && !c.clean_start {
            return Err((0, reason::v311::IDENTIFIER_REJECTED, "empty client id with clean session 0 (MQTT-3.1.3-8)"));
        }
        let store = &mut self.store;
        let id = crate::policy::assign_client_id(|id| store.session(id).is_some());
        Ok((id.clone(), c.protocol.is_v5().then_some(id)))
    }

    /// Answers a refused CONNECT with its CONNACK code and closes the connection; its will is dropped.
    pub(crate) fn refuse(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        c: &Connect,
        (code5, code311, why): Refusal,
        outbox: Outbox,
        reply: oneshot::Sender<ConnectReply>,
    ) {
        let v5 = c.protocol.is_v5();
        let code = if v5 { code5 } else { code311 };
        info!(conn, %peer, client = %c.client_id, code = format!("{code:#04x}"), "CONNECT refused: {why}");
        if let Some(w) = &c.will {
            debug!(target: "lwt_broker::will", client = %c.client_id, topic = %w.topic,
                "will dropped: CONNECT refused (MQTT-3.1.4-5/-6)");
        }
        let mut properties = Properties::new();
        if v5 && c.properties.request_problem_information() != Some(0) {
            properties.push(Property::ReasonString(why.to_owned()));
        }
        let mut ack = ConnAck { session_present: false, code, properties };
        // MQTT-3.2.2-19: no Reason String if it would exceed the client's Maximum Packet Size.
        let size = Packet::ConnAck(ack.clone()).to_bytes(c.protocol).len();
        if c.properties.maximum_packet_size().is_some_and(|max| size > max as usize) {
            ack.properties.remove(crate::codec::property_id::REASON_STRING);
        }
        outbox.packet(&Packet::ConnAck(ack), c.protocol);
        outbox.close();
        let _ = reply.send(ConnectReply { accepted: false, keep_alive: 0 });
    }

    /// Attaches connection `conn` to the session of `client_id`: an old connection is taken over
    /// first (it ends exactly as a network close would, will included), then clean start ends the
    /// session or a resumed one cancels its pending will. Returns whether a session was present.
    pub(crate) fn attach_session(&mut self, conn: ConnId, c: &Connect, client_id: &str, expiry: u32, principal: Option<&Principal>) -> bool {
        let old_conn = self.store.session(client_id).and_then(|s| s.connection);
        if let Some(old) = old_conn {
            debug!(conn, old_conn = old, client = %client_id, "session taken over");
            self.end_connection(old, Ending::TakenOver);
        }
        let session_present = if c.clean_start {
            self.end_session(client_id, "clean start on reconnect");
            false
        } else {
            let resumed = self.store.session(client_id).is_some();
            if resumed {
                self.wills().cancel(client_id);
            }
            resumed
        };
        if self.store.session(client_id).is_none() {
            self.store.insert_session(Session::new(client_id.to_owned(), c.protocol, expiry));
        }
        let session = self.store.session(client_id).expect("session exists");
        session.connection = Some(conn);
        // Its expiry timer, if any, is left to fire: `expire_session` then sees it resumed.
        session.expires_at = None;
        session.expiry_interval = expiry;
        session.version = c.protocol;
        session.owner = principal.map(|p| p.authentication_name.clone());
        if let Some(p) = principal {
            self.owned.entry(p.authentication_name.to_lowercase()).or_default().insert(client_id.to_owned());
        }
        session_present
    }

    /// The CONNACK properties of an accepted 5.0 CONNECT (none for 3.1.1).
    pub(crate) fn connack_properties(
        &self,
        c: &Connect,
        assigned: Option<String>,
        keep_alive: u16,
        requested_expiry: u32,
        expiry: u32,
    ) -> Properties {
        let mut props = Properties::new();
        if !c.protocol.is_v5() {
            return props;
        }
        if let Some(id) = assigned {
            props.push(Property::AssignedClientIdentifier(id));
        }
        if keep_alive != c.keep_alive {
            props.push(Property::ServerKeepAlive(keep_alive));
        }
        if expiry != requested_expiry {
            props.push(Property::SessionExpiryInterval(expiry));
        }
        props.push(Property::ReceiveMaximum(self.cfg.receive_maximum));
        if self.cfg.max_qos < 2 {
            props.push(Property::MaximumQos(self.cfg.max_qos));
        }
        if !self.cfg.retain_available {
            props.push(Property::RetainAvailable(0));
        }
        props.push(Property::MaximumPacketSize(self.cfg.max_packet_size));
        props.push(Property::TopicAliasMaximum(self.cfg.topic_alias_maximum));
        props.push(Property::SharedSubscriptionAvailable(u8::from(self.cfg.shared_subscriptions)));
        if !self.cfg.subscription_identifiers {
            props.push(Property::SubscriptionIdentifierAvailable(0));
        }
        props
    }

    pub(crate) fn on_disconnect(&mut self, conn: ConnId, d: Disconnect) {
        let c = &self.conns[&conn];
        let (client_id, v5, connect_expiry) = (c.client_id.clone(), c.version.is_v5(), c.connect_expiry);
        if v5 {
            if let Some(new_expiry) = d.properties.session_expiry_interval() {
                if connect_expiry == 0 && new_expiry != 0 {
                    // MQTT-3.14.2-2: the DISCONNECT is not valid, so the will is not deleted.
                    return self.protocol_error(
                        conn,
                        reason::PROTOCOL_ERROR,
                        "DISCONNECT sets a Session Expiry Interval but CONNECT had 0 (MQTT-3.14.2-2)".into(),
                    );
                }
                let capped = new_expiry.min(self.cfg.session_expiry_max);
                if let Some(s) = self.store.session(&client_id) {
                    s.expiry_interval = capped;
                }
            }
        }
        self.end_connection(conn, Ending::ClientDisconnect { reason: if v5 { d.reason } else { 0 } });
    }

    /// Detaches an ended connection from its session: gives the session's armed will and its
    /// expiry interval, or `None` when the session has moved on (taken over, ended).
    pub(crate) fn detach_session(&mut self, conn: ConnId, client_id: &str) -> Option<(Option<ArmedWill>, u32)> {
        let session = self.store.session(client_id)?;
        if session.connection != Some(conn) {
            return None;
        }
        session.connection = None;
        Some((session.will.take(), session.expiry_interval))
    }

    /// After a connection ended: the session ends now (expiry 0) or starts to expire.
    pub(crate) fn session_after_end(&mut self, client_id: &str, expiry: u32, now: Instant) {
        if expiry == 0 {
            self.end_session(client_id, "session expiry interval 0 at disconnect");
        } else if expiry != NEVER {
            let at = now + Duration::from_secs(expiry as u64);
            if let Some(s) = self.store.session(client_id) {
                s.expires_at = Some(at);
            }
            self.timers.insert(at, Timer::SessionExpiry, client_id);
        }
    }

    /// The expiry timer of `client_id`, due at `at`, fired: the session ends if it is still offline
    /// and still meant to expire then (not resumed, ended or replaced since).
    pub(crate) fn expire_session(&mut self, client_id: &str, at: Instant) {
        let still = self.store.session(client_id).is_some_and(|s| s.connection.is_none() && s.expires_at == Some(at));
        if still {
            self.end_session(client_id, "session expired");
        }
    }

    /// Ends a session: its subscriptions go (an expiry timer finds it gone), and a pending will is
    /// hastened.
    pub(crate) fn end_session(&mut self, client_id: &str, why: &str) {
        if let Some(s) = self.store.remove_session(client_id) {
            for f in s.subscriptions.keys() {
                match crate::shared::classify(f) {
                    crate::shared::ShareKind::Plain => self.tree.remove(f, client_id),
                    _ => self.shared.leave(f, client_id),
                }
            }
            if let Some(owner) = &s.owner {
                let key = owner.to_lowercase();
                if let Some(held) = self.owned.get_mut(&key) {
                    held.remove(client_id);
                    if held.is_empty() {
                        self.owned.remove(&key);
                    }
                }
            }
            debug!(client = %client_id, "session ended: {why}");
            self.redistribute(client_id, s.queue.into_iter().collect(), s.inflight.into_values().collect());
        }
        let will = self.wills().hasten(client_id, why);
        self.route_will(will);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_3_1_1_client_id_charset_is_1_to_23_alphanumerics() {
        for ok in ["a", "Sensor1", "ABCDEFGHIJKLMNOPQRSTUVW"] {
            assert!(v311_client_id(ok), "{ok}");
        }
        for bad in ["", "sensor-1", "a b", "ABCDEFGHIJKLMNOPQRSTUVWX", "é", "s/1"] {
            assert!(!v311_client_id(bad), "{bad}");
        }
    }

    #[test]
    fn v311_keep_alive_is_capped_only_with_a_maximum() {
        let mut cfg = Config::default();
        assert_eq!(negotiate_keep_alive(&cfg, 0, false), 0);
        assert_eq!(negotiate_keep_alive(&cfg, 5000, false), 5000);
        cfg.keep_alive_max = 1160;
        assert_eq!(negotiate_keep_alive(&cfg, 0, false), 1160);
        assert_eq!(negotiate_keep_alive(&cfg, 1161, false), 1160);
        assert_eq!(negotiate_keep_alive(&cfg, 60, false), 60);
    }
}
