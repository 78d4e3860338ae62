//! Requests of a [`Client`] that owns its connection: publish at QoS 0/1/2, subscribe, unsubscribe
//! and ping, each awaiting its acknowledgement for at most [`REPLY_TIMEOUT`], with packet ids from
//! one allocator. Everything else the broker sends meanwhile is read past (deliveries acknowledged
//! when the client is [`Client::acknowledging`]); a DISCONNECT or a close ends the wait with why.

use super::Client;
use crate::client_settings::REPLY_TIMEOUT;
use lwt_codec::connection::ReadError;
use lwt_codec::{Packet, Properties, PubResp, Publish, QoS, SubOptions, Subscribe, Unsubscribe};
use std::time::Duration;
use tokio::time::Instant;

/// Why a wait ended without the awaited packet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ended {
    /// Nothing awaited came back in time.
    #[error("no reply in time")]
    Silent,
    /// The broker sent DISCONNECT with this reason code (5.0).
    #[error("the broker sent DISCONNECT {0:#04x}")]
    Disconnected(u8),
    /// The connection ended without DISCONNECT (or a write failed).
    #[error("connection closed: {0}")]
    Closed(String),
}

impl Client {
    /// The next packet identifier of this connection.
    pub fn next_id(&mut self) -> u16 {
        self.pids.next_id()
    }

    /// Sends a packet as it is.
    pub async fn send(&mut self, p: &Packet) -> std::io::Result<()> {
        self.last_sent = Instant::now();
        self.conn.write_packet(p).await
    }

    /// [`Client::send`] under the codec connection's name, for code written against a `Connection`.
    pub async fn write_packet(&mut self, p: &Packet) -> std::io::Result<()> {
        self.send(p).await
    }

    /// Sends bytes as they are (malformed packets, fault injection).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.last_sent = Instant::now();
        self.conn.write_raw(bytes).await
    }

    /// Sends `p`; a failed write is answered by what the broker said before it closed (a
    /// DISCONNECT with its reason code, read for up to 500 ms) or by the write error.
    async fn request(&mut self, p: &Packet) -> Result<(), Ended> {
        if let Err(e) = self.send(p).await {
            return match self.read_until(Duration::from_millis(500), |_| None::<()>).await {
                Err(Ended::Disconnected(code)) => Err(Ended::Disconnected(code)),
                _ => Err(Ended::Closed(format!("write failed: {e}"))),
            };
        }
        Ok(())
    }

    /// Reads until `want` picks a packet, the broker disconnects or closes, or `within` passes.
    pub async fn read_until<T>(&mut self, within: Duration, mut want: impl FnMut(&Packet) -> Option<T>) -> Result<T, Ended> {
        if let Some(why) = &self.closed {
            return Err(Ended::Closed(format!("already closed: {why}")));
        }
        let deadline = Instant::now() + within;
        loop {
            let p = match tokio::time::timeout_at(deadline, self.conn.read_packet()).await {
                Err(_) => return Err(Ended::Silent),
                Ok(Ok(Some(p))) => p,
                Ok(Ok(None)) => return Err(self.ended("end of stream".into())),
                Ok(Err(ReadError::Io(e))) => return Err(self.ended(e.to_string())),
                Ok(Err(e)) => return Err(self.ended(format!("undecodable packet: {e}"))),
            };
            if let Some(t) = want(&p) {
                return Ok(t);
            }
            let ack = match p {
                Packet::Disconnect(d) => {
                    self.closed = Some(format!("DISCONNECT {:#04x}", d.reason));
                    return Err(Ended::Disconnected(d.reason));
                }
                Packet::Publish(Publish { qos: QoS::AtLeastOnce, packet_id: Some(id), .. }) => Packet::PubAck(PubResp::new(id)),
                Packet::Publish(Publish { qos: QoS::ExactlyOnce, packet_id: Some(id), .. }) => Packet::PubRec(PubResp::new(id)),
                Packet::PubRel(r) => Packet::PubComp(PubResp::new(r.packet_id)),
                _ => continue,
            };
            if self.ack_deliveries {
                let _ = self.conn.write_packet(&ack).await;
            }
        }
    }

    fn ended(&mut self, why: String) -> Ended {
        self.closed = Some(why.clone());
        Ended::Closed(why)
    }

    /// Publishes and completes the QoS flow: the reason code of the PUBACK (QoS 1) or PUBCOMP
    /// (QoS 2), 0 for QoS 0. A missing packet id is allocated.
    pub async fn publish(&mut self, p: Publish) -> Result<u8, Ended> {
        let (qos, id) = self.publish_no_wait(p).await?;
        match qos {
            QoS::AtMostOnce => Ok(0),
            QoS::AtLeastOnce => self.read_until(REPLY_TIMEOUT, |p| matches!(p, Packet::PubAck(r) if r.packet_id == id).then(|| reason(p))).await,
            QoS::ExactlyOnce => {
                let rec = self.read_until(REPLY_TIMEOUT, |p| matches!(p, Packet::PubRec(r) if r.packet_id == id).then(|| reason(p))).await?;
                if rec >= 0x80 {
                    return Ok(rec);
                }
                self.request(&Packet::PubRel(PubResp::new(id))).await?;
                self.read_until(REPLY_TIMEOUT, |p| matches!(p, Packet::PubComp(r) if r.packet_id == id).then(|| reason(p))).await
            }
        }
    }

    /// Publishes without waiting for the acknowledgement (the flow is left unfinished, so a fault
    /// can follow the PUBLISH on the wire at once). Returns the QoS and packet id used.
    pub async fn publish_no_wait(&mut self, mut p: Publish) -> Result<(QoS, u16), Ended> {
        if p.qos != QoS::AtMostOnce && p.packet_id.is_none() {
            p.packet_id = Some(self.next_id());
        }
        let (qos, id) = (p.qos, p.packet_id.unwrap_or(0));
        self.request(&Packet::Publish(p)).await?;
        Ok((qos, id))
    }

    /// One SUBSCRIBE with `filters`; the SUBACK's codes.
    pub async fn subscribe(&mut self, filters: Vec<(String, SubOptions)>, properties: Properties) -> Result<Vec<u8>, Ended> {
        let packet_id = self.next_id();
        self.request(&Packet::Subscribe(Subscribe { packet_id, properties, filters })).await?;
        self.read_until(REPLY_TIMEOUT, |p| match p {
            Packet::SubAck(a) if a.packet_id == packet_id => Some(a.codes.clone()),
            _ => None,
        })
        .await
    }

    /// One UNSUBSCRIBE with `filters`; the UNSUBACK's codes (empty for 3.1.1).
    pub async fn unsubscribe(&mut self, filters: Vec<String>, properties: Properties) -> Result<Vec<u8>, Ended> {
        let packet_id = self.next_id();
        self.request(&Packet::Unsubscribe(Unsubscribe { packet_id, properties, filters })).await?;
        self.read_until(REPLY_TIMEOUT, |p| match p {
            Packet::UnsubAck(a) if a.packet_id == packet_id => Some(a.codes.clone()),
            _ => None,
        })
        .await
    }

    /// PINGREQ, then the instant PINGRESP arrived: proof the connection is live now.
    pub async fn ping(&mut self) -> Result<Instant, Ended> {
        self.request(&Packet::PingReq).await?;
        self.read_until(REPLY_TIMEOUT, |p| matches!(p, Packet::PingResp).then(Instant::now)).await
    }
}

fn reason(p: &Packet) -> u8 {
    match p {
        Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubComp(r) => r.reason,
        _ => 0,
    }
}
