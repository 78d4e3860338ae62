//! Arbitrary bytes through `read_frame` + `decode_frame` for both protocol versions. The decoder must
//! never panic, and anything it accepts must re-encode to bytes that decode to the same packet, with
//! the re-encoding never longer than the input (the only non-canonical forms it accepts are the 5.0
//! long forms of the reason-code short forms).

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use lwt_broker::codec::{decode, decode_frame, read_frame, DecodeError, Packet, ProtocolVersion};

const MAX_PACKET: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        // A stream of packets: take frames off the front until more bytes are needed or one fails.
        let mut buf = BytesMut::from(data);
        loop {
            let before = buf.len();
            match read_frame(&mut buf, MAX_PACKET) {
                Ok(None) => {
                    assert_eq!(buf.len(), before, "read_frame consumed bytes without a frame");
                    break;
                }
                Err(e) => {
                    // Framing can only fail on the Remaining Length or the size limit.
                    assert!(
                        matches!(e, DecodeError::Malformed(_) | DecodeError::TooLarge { .. }),
                        "read_frame: unexpected {e:?}"
                    );
                    break;
                }
                Ok(Some(frame)) => {
                    let consumed = before - buf.len();
                    assert!(consumed >= 2 && consumed <= MAX_PACKET, "frame of {consumed} bytes");
                    let whole = &data[data.len() - before..data.len() - before + consumed];
                    match decode_frame(&frame, version) {
                        Ok(packet) => {
                            check(&packet, version, consumed);
                            // `decode` on exactly this packet's bytes agrees.
                            assert_eq!(decode(whole, version).as_ref(), Ok(&packet), "decode disagrees");
                        }
                        Err(e) => {
                            let code = e.reason_code();
                            assert!(matches!(code, 0x81 | 0x82 | 0x84 | 0x90 | 0x95), "reason code {code:#04x}");
                            assert_eq!(decode(whole, version), Err(e), "decode disagrees");
                        }
                    }
                }
            }
        }
        // `decode` on the whole input must not panic either.
        if let Ok(packet) = decode(data, version) {
            check(&packet, version, data.len());
        }
    }
});

fn check(packet: &Packet, version: ProtocolVersion, input_len: usize) {
    let bytes = packet.to_bytes(version);
    let again = decode(&bytes, version)
        .unwrap_or_else(|e| panic!("re-encoding does not decode: {e}\npacket: {packet:?}\nbytes: {bytes:02x?}"));
    assert_eq!(&again, packet, "re-encoding decodes to another packet\nbytes: {bytes:02x?}");
    assert_eq!(again.to_bytes(version), bytes, "encoding is not stable");
    assert!(bytes.len() <= input_len, "re-encoding is longer than the input: {} > {input_len}\npacket: {packet:?}", bytes.len());
}
