//! The OpenFlow 1.3 wire format: [`parse`] one message, [`emit`] one message, [`frame_len`]
//! for stream framing. The model is in [`model`].

pub mod model;

pub use model::*;

/// The length of the message at the start of `buf` (from its header), once 8 bytes are
/// there; an error when the header's length is below 8 (the stream cannot be resynced).
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    if buf.len() < OFP_HEADER_LEN {
        return Ok(None);
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    if len < OFP_HEADER_LEN {
        let mut e = DecodeError::new(
            ErrorType::BAD_REQUEST,
            bad_request::BAD_LEN,
            "message length",
        );
        e.xid = Some(u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]));
        return Err(e);
    }
    Ok(Some(len))
}

/// Decodes exactly one message (`buf` must be the whole message: its header's length).
pub fn parse(_buf: &[u8]) -> Result<Message, DecodeError> {
    Err(DecodeError::new(
        ErrorType::BAD_REQUEST,
        bad_request::BAD_TYPE,
        "not yet implemented",
    ))
}

/// Appends one message to `out`.
pub fn emit(_msg: &Message, _out: &mut Vec<u8>) {}
