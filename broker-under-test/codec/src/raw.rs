//! Deliberately invalid packets for fault injection: start from a valid encoding, then change the
//! flags, the Remaining Length, or any body byte.

use super::encode::varint;
use super::packet::{Packet, ProtocolVersion};
use bytes::{BufMut, Bytes, BytesMut};

/// A packet as header byte, body and an optional forced Remaining Length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawPacket {
    /// First byte (type and flags).
    pub header: u8,
    /// The bytes after the Remaining Length.
    pub body: Vec<u8>,
    /// Remaining Length to write instead of `body.len()`.
    pub remaining_length: Option<u32>,
}

impl RawPacket {
    /// Starts from the valid encoding of `packet`.
    pub fn from_packet(packet: &Packet, version: ProtocolVersion) -> Self {
        let bytes = packet.to_bytes(version);
        let mut i = 1;
        while bytes[i] & 0x80 != 0 {
            i += 1;
        }
        RawPacket { header: bytes[0], body: bytes[i + 1..].to_vec(), remaining_length: None }
    }
    /// A packet of any type nibble (including reserved 0 and 15) with the given flags and body.
    pub fn new(packet_type: u8, flags: u8, body: impl Into<Vec<u8>>) -> Self {
        RawPacket { header: packet_type << 4 | (flags & 0x0F), body: body.into(), remaining_length: None }
    }
    /// Replaces the four fixed-header flag bits.
    pub fn flags(mut self, flags: u8) -> Self {
        self.header = (self.header & 0xF0) | (flags & 0x0F);
        self
    }
    /// Declares a Remaining Length different from the body's size.
    pub fn remaining_length(mut self, len: u32) -> Self {
        self.remaining_length = Some(len);
        self
    }
    /// Overwrites the body byte at `offset`.
    pub fn patch(mut self, offset: usize, byte: u8) -> Self {
        self.body[offset] = byte;
        self
    }
    /// Cuts the body to `len` bytes (and the Remaining Length with it, unless forced).
    pub fn truncate(mut self, len: usize) -> Self {
        self.body.truncate(len);
        self
    }
    /// Appends bytes to the body.
    pub fn append(mut self, extra: &[u8]) -> Self {
        self.body.extend_from_slice(extra);
        self
    }
    /// The bytes to write on the socket.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.body.len() + 5);
        out.put_u8(self.header);
        varint(self.remaining_length.unwrap_or(self.body.len() as u32), &mut out);
        out.put_slice(&self.body);
        out.freeze()
    }
}

/// Offset of the CONNECT flags byte in a CONNECT body (after "MQTT" and the level).
pub const CONNECT_FLAGS_OFFSET: usize = 7;
