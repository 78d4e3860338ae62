//! Token lifetime and re-authentication (MQTT 5 section 4.12.1) for connections that
//! authenticated with a JWT (Event Grid `CUSTOM-JWT` / `OAUTH2-JWT`): the core keeps each such
//! connection's deadline on its one timer set; an AUTH with reason 0x19 (Re-authenticate) and a
//! fresh token moves it; when it passes, the broker ends the connection.
//!
//! Choices (Event Grid documents only the AUTH fields; `fixtures/namespaces/README.md`, "JWT
//! authentication"):
//! - Accepted re-authentication → AUTH 0x00 (Success) with the same Authentication Method; the
//!   connection's principal becomes the new token's (attributes and groups re-evaluated); the will
//!   keeps the principal of CONNECT.
//! - Refused token, or one for another authentication name → DISCONNECT 0x87 Not authorized (the
//!   spec's "SHOULD send DISCONNECT with an appropriate Reason Code"; 0x86 is not a DISCONNECT code).
//!   A server DISCONNECT is not a normal disconnect: the will is published as for any other.
//! - AUTH with another method, a reason other than 0x19, or on a connection without an
//!   Authentication Method → DISCONNECT 0x82 Protocol Error (MQTT-4.12.1-1 / 3.15.2.1).
//! - Token expiry (`exp` + leeway) without re-authentication → DISCONNECT 0xA0 Maximum connect time
//!   ("the maximum connection time authorized for this connection has been exceeded"); the will is
//!   published; the life-cycle event says `ClientAuthenticationError`.

use crate::codec::{reason, Auth, Packet, Properties, Property};
use crate::core::{ConnId, Core};
use crate::timers::Timer;
use crate::will::{CloseReason, Ending};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::time::Instant;
use tracing::info;

/// A JWT connection's method and the instant its token stops being valid (also a webhook-authenticated
/// connection's `expiration`, with no method: it cannot re-authenticate).
#[derive(Clone, Debug)]
pub(crate) struct TokenAuth {
    /// The Authentication Method of CONNECT (re-authentication must use the same); `None` when the
    /// deadline came from an authentication webhook.
    pub(crate) method: Option<String>,
    /// When the connection ends unless re-authenticated.
    pub(crate) until: Instant,
}

/// The core's clock instant for a wall-clock deadline (already past = now).
fn instant_of(t: SystemTime) -> Instant {
    let now = Instant::now();
    match t.duration_since(SystemTime::now()) {
        Ok(d) => now + d,
        Err(_) => now,
    }
}

impl Core {
    /// The deadline of a connection accepted with `method` (if any) and a principal valid until
    /// `valid_until` (a JWT's `exp`, a webhook's `expiration`): armed on the timer set, keyed by
    /// the session name.
    pub(crate) fn arm_token(&mut self, client_id: &str, method: Option<String>, valid_until: Option<SystemTime>) -> Option<TokenAuth> {
        let t = valid_until?;
        let until = instant_of(t);
        self.timers.insert(until, Timer::TokenExpiry, client_id);
        Some(TokenAuth { method, until })
    }

    /// A token timer fired: ends the session's connection if that is still its deadline (a
    /// re-authentication or a newer connection leaves a stale timer behind, ignored here).
    pub(crate) fn token_expired(&mut self, client_id: &str, at: Instant) {
        let Some(conn) = self.store.session(client_id).and_then(|s| s.connection) else { return };
        let due = self.conns.get(&conn).and_then(|c| c.token.as_ref()).is_some_and(|t| t.until == at);
        if due {
            info!(conn, client = %client_id, "token expired without re-authentication: DISCONNECT 0xA0");
            let detail = "token expired without re-authentication".to_string();
            self.end_connection(conn, Ending::Network(CloseReason::BadPacket { code: reason::MAXIMUM_CONNECT_TIME, detail }));
        }
    }

    /// An AUTH after CONNACK: re-authentication with a fresh token, or the end of the connection.
    pub(crate) fn on_auth(&mut self, conn: ConnId, a: Auth) {
        let Some(c) = self.conns.get(&conn) else { return };
        let Some(TokenAuth { method: Some(token_method), until }) = c.token.clone() else {
            return self.protocol_error(conn, reason::PROTOCOL_ERROR, "AUTH on a connection that did not authenticate with an Authentication Method".into());
        };
        let method = a.properties.authentication_method().unwrap_or_default();
        if a.reason != reason::RE_AUTHENTICATE || method != token_method {
            let why = format!("AUTH {:#04x} with method {method:?}: only 0x19 (Re-authenticate) with {token_method:?} (MQTT-4.12.1-1)", a.reason);
            return self.protocol_error(conn, reason::PROTOCOL_ERROR, why);
        }
        let Some(ns) = self.cfg.namespace.get() else { return };
        let data = a.properties.authentication_data();
        let verdict = ns.authenticate_jwt(&method, data.as_deref(), SystemTime::now()).map_err(|f| f.to_string());
        let old = c.principal.as_ref().map(|p| p.authentication_name.clone()).unwrap_or_default();
        let verdict = verdict.and_then(|id| {
            if id.principal.authentication_name.eq_ignore_ascii_case(&old) {
                Ok(id)
            } else {
                Err(format!("re-authentication as {:?} on a connection of {old:?}", id.principal.authentication_name))
            }
        });
        let id = match verdict {
            Ok(id) => id,
            Err(why) => {
                info!(conn, client = %c.client_id, "re-authentication refused: {why}");
                let told = crate::eventgrid::client_reason(ns.settings(), reason::NOT_AUTHORIZED, &format!("re-authentication refused: {why}"));
                return self.protocol_error(conn, reason::NOT_AUTHORIZED, told);
            }
        };
        let client_id = c.client_id.clone();
        self.timers.cancel(until, Timer::TokenExpiry, &client_id);
        let fresh = self.arm_token(&client_id, Some(method.clone()), id.principal.valid_until);
        let Some(c) = self.conns.get_mut(&conn) else { return };
        c.token = fresh;
        c.principal = Some(Arc::new(id.principal));
        info!(conn, client = %client_id, "re-authenticated");
        let mut props = Properties::new();
        props.push(Property::AuthenticationMethod(method));
        c.outbox.packet(&Packet::Auth(Auth { reason: reason::SUCCESS, properties: props }), c.version);
    }
}
