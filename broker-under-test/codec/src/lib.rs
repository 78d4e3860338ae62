//! One strict MQTT 3.1.1 + 5.0 codec, shared by the broker and the harness.
//!
//! - [`decode`]: framing ([`read_frame`]) and validation that names what is wrong ([`DecodeError`]).
//! - [`Packet::encode`]: exact encoding; [`raw`] for deliberately invalid bytes.
//! - [`topic`]: topic names, filters and matching.
//! - [`connection::Connection`]: packets over any tokio byte stream (the broker's per-connection
//!   framing and the harness's raw client).
//!
//! This crate depends on nothing else in the workspace: the broker uses it as `lwt_broker::codec`,
//! the harness as `lwt_codec`, so the harness needs the broker only for its embedded target.

mod decode;
mod encode;
mod error;
mod packet;
mod property;
pub mod connection;
pub mod raw;
pub mod reason;
pub mod topic;
pub mod ws;

pub use decode::{decode, decode_frame, read_frame, Frame};
pub use encode::{binary, properties as encode_properties, string, varint};
pub use error::DecodeError;
pub use packet::*;
pub use property::{id as property_id, Properties, Property, PropertyContext};
