//! CONNECT → CONNACK, once for every role: the CONNECT built from one [`Hello`], the reply read within
//! a timeout, and what the CONNACK settles read into a [`Session`].
//!
//! Verdict discipline: no CONNACK in time, or bytes that are not a CONNACK, is an *error* (`Err`):
//! we could not establish the client. A refusing CONNACK or a close without CONNACK is a [`Reply`]
//! the caller may judge (the will-validation rules expect exactly that). A failed CONNECT write is
//! not final: the broker may refuse (CONNACK, then close) before our write ends, so the reply is
//! read either way.

use super::{Client, Session};
use crate::transport::ClientStream;
use anyhow::bail;
use bytes::Bytes;
use lwt_codec::connection::{Connection, ReadError};
use lwt_codec::{ConnAck, Connect, Packet, Property, ProtocolVersion, Will};
use std::time::Duration;
use tokio::io::AsyncRead;
use tokio::time::Instant;

/// Everything a CONNECT says, for every role: one builder, so a login, a keep-alive or a 5.0
/// property is set the same way for sensors, observers and fleet members.
#[derive(Clone, Debug)]
pub struct Hello<'a> {
    /// Client identifier (may be empty: the broker assigns one, 5.0).
    pub client_id: &'a str,
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Clean Session / Clean Start.
    pub clean_start: bool,
    /// Keep Alive in seconds.
    pub keep_alive: u16,
    /// Session Expiry Interval (5.0; `None` = property absent).
    pub session_expiry: Option<u32>,
    /// Maximum Packet Size we accept (5.0; `None` = property absent).
    pub max_packet_size: Option<u32>,
    /// The will.
    pub will: Option<&'a Will>,
    /// User Name.
    pub username: Option<&'a str>,
    /// Password.
    pub password: Option<&'a Bytes>,
    /// Authentication Method and Data (5.0 enhanced authentication, e.g. `CUSTOM-JWT` and a token).
    pub authentication: Option<(&'a str, &'a Bytes)>,
}

impl<'a> Hello<'a> {
    /// Clean start, keep-alive 0, no will, no login.
    pub fn new(client_id: &'a str, version: ProtocolVersion) -> Hello<'a> {
        Hello {
            client_id,
            version,
            clean_start: true,
            keep_alive: 0,
            session_expiry: None,
            max_packet_size: None,
            will: None,
            username: None,
            password: None,
            authentication: None,
        }
    }

    /// The CONNECT packet (5.0-only properties are left out of a 3.1.1 CONNECT).
    pub fn to_connect(&self) -> Connect {
        let mut c = Connect::new(self.version, self.client_id.to_owned());
        c.clean_start = self.clean_start;
        c.keep_alive = self.keep_alive;
        if self.version.is_v5() {
            if let Some(s) = self.session_expiry {
                c.properties.push(Property::SessionExpiryInterval(s));
            }
            if let Some(m) = self.max_packet_size {
                c.properties.push(Property::MaximumPacketSize(m));
            }
            if let Some((method, data)) = self.authentication {
                c.properties.push(Property::AuthenticationMethod(method.to_owned()));
                c.properties.push(Property::AuthenticationData(data.clone()));
            }
        }
        c.will = self.will.cloned();
        c.username = self.username.map(str::to_owned);
        c.password = self.password.cloned();
        c
    }

    /// The CONNECT on the wire.
    pub fn to_bytes(&self) -> Bytes {
        Packet::Connect(self.to_connect()).to_bytes(self.version)
    }
}

/// How a CONNECT was answered (the cases a caller may judge).
#[derive(Debug)]
pub enum Reply {
    /// CONNACK with code 0.
    Accepted(ConnAck),
    /// CONNACK with a non-zero code.
    Refused(ConnAck),
    /// The broker closed the connection without CONNACK.
    Closed(String),
    /// Neither a CONNACK nor a close within this time: the connection is still open.
    Silent(Duration),
}

/// Reads the answer to a CONNECT written with result `written`, for at most `timeout`. `who` names
/// the client in errors.
pub async fn await_connack<R: AsyncRead + Unpin>(
    reader: &mut Connection<R>,
    written: std::io::Result<()>,
    who: &str,
    timeout: Duration,
) -> anyhow::Result<Reply> {
    match tokio::time::timeout(timeout, reader.read_packet()).await {
        Err(_) => Ok(Reply::Silent(timeout)),
        Ok(Ok(Some(Packet::ConnAck(ack)))) if ack.code == 0 => Ok(Reply::Accepted(ack)),
        Ok(Ok(Some(Packet::ConnAck(ack)))) => Ok(Reply::Refused(ack)),
        Ok(Ok(Some(other))) => bail!("{who}: expected CONNACK, got {}", other.name()),
        Ok(Ok(None)) => Ok(Reply::Closed(match written {
            Ok(()) => "end of stream".into(),
            Err(e) => format!("end of stream (the CONNECT write failed: {e})"),
        })),
        Ok(Err(ReadError::Io(e))) => Ok(Reply::Closed(e.to_string())),
        Ok(Err(e)) => bail!("{who}: undecodable reply to CONNECT: {e}"),
    }
}

/// A CONNECT attempt of a [`Client`]: accepted, refused (the connection is handed back so the
/// caller can watch the broker close it), or closed.
#[derive(Debug)]
pub enum Attempt {
    /// CONNACK 0: the client.
    Accepted(Client),
    /// CONNACK with a non-zero code, and the still-open connection.
    Refused(ConnAck, Connection<ClientStream>),
    /// Closed without CONNACK.
    Closed(String),
    /// Neither a CONNACK nor a close within this time.
    Silent(Duration),
}

impl Attempt {
    /// The client, or an error naming the refusal: for set-up clients, whose refusal is never a verdict.
    pub fn accepted(self) -> anyhow::Result<Client> {
        match self {
            Attempt::Accepted(c) => Ok(c),
            Attempt::Refused(a, _) => bail!("CONNECT refused with code {:#04x}", a.code),
            Attempt::Closed(why) => bail!("connection closed without CONNACK: {why}"),
            Attempt::Silent(t) => bail!("no CONNACK within {t:?}"),
        }
    }
}

impl Client {
    /// Sends `hello`'s CONNECT over `stream` and reads the reply within `timeout`.
    pub async fn connect(stream: ClientStream, hello: &Hello<'_>, timeout: Duration) -> anyhow::Result<Attempt> {
        Client::connect_raw(stream, hello, &hello.to_bytes(), timeout).await
    }

    /// Sends `bytes` as the CONNECT (a deliberately broken one, say) for a client described by
    /// `hello`, and reads the reply within `timeout`.
    pub async fn connect_raw(stream: ClientStream, hello: &Hello<'_>, bytes: &[u8], timeout: Duration) -> anyhow::Result<Attempt> {
        let mut conn = Connection::new(stream);
        conn.set_version(hello.version);
        // Taken before the write: the broker's keep-alive clock cannot start earlier than this.
        let sent = Instant::now();
        let written = conn.write_raw(bytes).await;
        Ok(match await_connack(&mut conn, written, hello.client_id, timeout).await? {
            Reply::Accepted(ack) => {
                let session = Session::negotiate(hello.version, hello.client_id, hello.keep_alive, &ack);
                Attempt::Accepted(Client::new(conn, session, ack, sent))
            }
            Reply::Refused(ack) => Attempt::Refused(ack, conn),
            Reply::Closed(why) => Attempt::Closed(why),
            Reply::Silent(t) => Attempt::Silent(t),
        })
    }
}

/// The lean form for load runs: the same handshake, then only the socket is kept (no buffer, no
/// task). Fit for clients nothing is delivered to before they send again (clean-start members,
/// publishers): bytes the broker sent after the CONNACK in the same read would be dropped.
pub async fn connect_lean(stream: ClientStream, hello: &Hello<'_>, timeout: Duration) -> anyhow::Result<(ClientStream, Session, Instant)> {
    let c = Client::connect(stream, hello, timeout)
        .await?
        .accepted()
        .map_err(|e| anyhow::anyhow!("{}: {e}", hello.client_id))?;
    let (session, sent) = (c.session.clone(), c.last_sent());
    Ok((c.into_connection().into_inner(), session, sent))
}
