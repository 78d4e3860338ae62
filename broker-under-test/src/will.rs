//! The will decision table (MQTT 3.1.1 section 3.1.2.5, 5.0 sections 3.1.2.5, 3.1.3.2.2, 3.1.4, 3.14.4).
//! The core calls [`on_connection_end`] once per ended connection; reconnects and session ends
//! (which cancel or hasten a pending will) are applied by the core around it:
//!
//! | ending | will delay | session expiry | decision |
//! |---|---|---|---|
//! | client DISCONNECT 0x00 (any 3.1.1 DISCONNECT) | any | any | discard |
//! | anything else (FIN, RST, keep-alive, bad packet, 0x04 or other code, takeover, shutdown) | 0 | any | publish now |
//! | anything else | any | 0 | publish now: the session ends with the connection |
//! | anything else | w > 0 | s > 0 | publish after min(w, s), unless the session is resumed first |

use crate::core::CloseReason;
use crate::codec::reason;
use std::fmt;

/// How a connection ended, from the will's point of view.
#[derive(Clone, Debug)]
pub enum Ending {
    /// The client sent DISCONNECT with this reason code (3.1.1: always 0).
    ClientDisconnect {
        /// Reason code.
        reason: u8,
    },
    /// The network side ended or the broker closed it for a bad packet.
    Network(CloseReason),
    /// Another connection took over the client id (MQTT-3.1.4-2 / -3).
    TakenOver,
    /// The broker is shutting down.
    Shutdown,
}

impl Ending {
    /// The reason code of the DISCONNECT the server sends (5.0), if it sends one.
    pub fn server_disconnect_code(&self) -> Option<u8> {
        match self {
            Ending::Network(CloseReason::KeepAliveTimeout) => Some(reason::KEEP_ALIVE_TIMEOUT),
            Ending::Network(CloseReason::BadPacket { code, .. }) => Some(*code),
            Ending::TakenOver => Some(reason::SESSION_TAKEN_OVER),
            Ending::Shutdown => Some(reason::SERVER_SHUTTING_DOWN),
            _ => None,
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::ClientDisconnect { reason } => write!(f, "client DISCONNECT {reason:#04x}"),
            Ending::Network(CloseReason::PeerClosed) => write!(f, "peer closed the connection without DISCONNECT"),
            Ending::Network(CloseReason::Io(e)) => write!(f, "network error: {e}"),
            Ending::Network(CloseReason::KeepAliveTimeout) => write!(f, "keep-alive expired (1.5 x keep-alive)"),
            Ending::Network(CloseReason::BadPacket { code, detail }) => write!(f, "closed by the broker ({code:#04x}): {detail}"),
            Ending::TakenOver => write!(f, "session taken over by a new connection"),
            Ending::Shutdown => write!(f, "broker shutting down"),
        }
    }
}

/// What happens to the will of an ended connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Never published.
    Discard,
    /// Published at once.
    PublishNow,
    /// Published after this many seconds unless the session is resumed first.
    Delay(u32),
}

/// Applies the table above. `delay` is the Will Delay Interval, `session_expiry` the Session Expiry
/// Interval in force when the connection ended (a DISCONNECT may have changed it).
pub fn on_connection_end(ending: &Ending, delay: u32, session_expiry: u32) -> Decision {
    if let Ending::ClientDisconnect { reason: reason::SUCCESS } = ending {
        return Decision::Discard;
    }
    if delay == 0 || session_expiry == 0 {
        return Decision::PublishNow;
    }
    Decision::Delay(delay.min(session_expiry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NEVER;

    #[test]
    fn decision_table() {
        let fin = Ending::Network(CloseReason::PeerClosed);
        let normal = Ending::ClientDisconnect { reason: 0 };
        let with_will = Ending::ClientDisconnect { reason: 4 };
        let bad_code = Ending::ClientDisconnect { reason: 0x80 };
        // Row 1: no delay.
        assert_eq!(on_connection_end(&fin, 0, 100), Decision::PublishNow);
        // Row 2: delay, session ends at close.
        assert_eq!(on_connection_end(&fin, 30, 0), Decision::PublishNow);
        // Rows 3 and 4: the earlier of delay end and session end.
        assert_eq!(on_connection_end(&fin, 5, 60), Decision::Delay(5));
        assert_eq!(on_connection_end(&fin, 60, 5), Decision::Delay(5));
        assert_eq!(on_connection_end(&fin, 60, NEVER), Decision::Delay(60));
        // Row 8: normal disconnect discards.
        assert_eq!(on_connection_end(&normal, 0, 0), Decision::Discard);
        assert_eq!(on_connection_end(&normal, 10, 100), Decision::Discard);
        // Row 9: 0x04 and any other code publish, with the delay.
        assert_eq!(on_connection_end(&with_will, 10, 100), Decision::Delay(10));
        assert_eq!(on_connection_end(&with_will, 10, 0), Decision::PublishNow);
        assert_eq!(on_connection_end(&bad_code, 0, 0), Decision::PublishNow);
        // Rows 10-13: takeover ends the old connection like a close.
        assert_eq!(on_connection_end(&Ending::TakenOver, 0, 100), Decision::PublishNow);
        assert_eq!(on_connection_end(&Ending::TakenOver, 10, 100), Decision::Delay(10));
        assert_eq!(on_connection_end(&Ending::TakenOver, 10, 0), Decision::PublishNow);
    }
}
