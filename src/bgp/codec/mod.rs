//! The BGP-4 wire format (RFC 4271 and the extensions below): [`parse`] one message,
//! [`emit`] one message, [`frame_len`] for stream framing. Pure: bytes in, model out.
//!
//! ```text
//!   TCP bytes ──frame_len──▶ one message ──parse(params)──▶ Message ──emit(params)──▶ bytes
//!                                              │
//!                         UPDATE ──parse_update──▶ UpdateOutcome (RFC 7606)
//! ```
//!
//! Both directions take [`SessionParams`]: what OPEN negotiated changes the encoding
//! (2- or 4-octet AS numbers, ADD-PATH path ids per family, the 65535-byte message limit).
//! A parse error is the [`Notification`] to send. UPDATE errors follow RFC 7606:
//! [`parse_update`] returns an [`UpdateOutcome`] (ok, treat-as-withdraw, attribute
//! discard, session reset); [`parse`] maps it to a message (a treat-as-withdraw UPDATE
//! becomes one that withdraws every prefix it carried, discarded attributes are dropped)
//! or to the reset's NOTIFICATION.
//!
//! Invariants: parse never panics; `parse(emit(m)) == m` for every message built from the
//! model's valid values, and `emit(parse(b)) == b` for canonically encoded `b` (one
//! Capabilities parameter, extended attribute length only when needed, no PARTIAL bit on
//! attributes we know). Emit does not translate AS paths between 2- and 4-octet
//! sessions: a 4-octet AS in a 2-octet session is written as AS_TRANS, and building
//! AS4_PATH is the speaker's job. Unknown optional transitive attributes are kept, with
//! PARTIAL set (they will be passed on unrecognized); unknown optional non-transitive ones
//! are dropped. Semantic checks that need the session (eBGP LOCAL_PREF, the first AS of
//! an eBGP AS_PATH, NEXT_HOP sanity) belong to the speaker, not here.
//!
//! Extensions: RFC 4760 (multiprotocol), 6793 (4-octet AS), 2918/7313 (route refresh,
//! enhanced), 4724 (graceful restart), 8654 (extended messages), 7911 (ADD-PATH), 1997,
//! 4360, 8092 (communities), 4456 (route reflection), 7606 (error handling).

mod attrs;
pub mod model;
mod open;
mod pack;
mod update;
mod wire;

#[cfg(test)]
mod tests;

pub use model::*;
pub use pack::{end_of_rib, is_end_of_rib, pack_announce, pack_withdraw};
pub use update::{Malformation, Reason, UpdateOutcome, parse_update};

use wire::{Rd, patch_u16};

/// The length of the message at the start of `buf` once its 19-byte header is there; an
/// error when the marker is not all ones or the length is out of bounds for the session.
pub fn frame_len(buf: &[u8], params: &SessionParams) -> Result<Option<usize>, Notification> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    if buf[..16].iter().any(|&b| b != 0xff) {
        return Err(Notification::new(
            err::MESSAGE_HEADER,
            err::header::CONNECTION_NOT_SYNCHRONIZED,
            Vec::new(),
        ));
    }
    let len = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
    if len < HEADER_LEN || len > params.max_len() {
        return Err(bad_length(len));
    }
    Ok(Some(len))
}

fn bad_length(len: usize) -> Notification {
    Notification::new(
        err::MESSAGE_HEADER,
        err::header::BAD_MESSAGE_LENGTH,
        (len as u16).to_be_bytes().to_vec(),
    )
}

/// Decodes exactly one message: `buf` must be the whole message (its header's length).
pub fn parse(buf: &[u8], params: &SessionParams) -> Result<Message, Notification> {
    let len = frame_len(buf, params)?.ok_or_else(|| bad_length(buf.len()))?;
    if len != buf.len() {
        return Err(bad_length(len));
    }
    let kind = buf[18];
    let body = &buf[HEADER_LEN..];
    let fixed = |ok: bool| if ok { Ok(()) } else { Err(bad_length(len)) };
    match kind {
        kind::OPEN => {
            fixed(len >= 29)?;
            open::parse_open(body).map(Message::Open)
        }
        kind::UPDATE => {
            fixed(len >= 23)?;
            match parse_update(body, params) {
                UpdateOutcome::Ok(u)
                | UpdateOutcome::TreatAsWithdraw { update: u, .. }
                | UpdateOutcome::AttributeDiscard { update: u, .. } => Ok(Message::Update(u)),
                UpdateOutcome::SessionReset(n) => Err(n),
            }
        }
        kind::NOTIFICATION => {
            fixed(len >= 21)?;
            Ok(Message::Notification(Notification::new(
                body[0],
                body[1],
                body[2..].to_vec(),
            )))
        }
        kind::KEEPALIVE => {
            fixed(len == HEADER_LEN)?;
            Ok(Message::Keepalive)
        }
        kind::ROUTE_REFRESH => {
            if len != 23 {
                return Err(Notification::new(
                    err::ROUTE_REFRESH,
                    err::route_refresh::INVALID_MESSAGE_LENGTH,
                    buf.to_vec(),
                ));
            }
            let mut r = Rd::new(body);
            let afi = r.u16().unwrap_or(0);
            let subtype = r.u8().unwrap_or(0);
            let safi = r.u8().unwrap_or(0);
            Ok(Message::RouteRefresh(RouteRefresh {
                family: Family { afi, safi },
                subtype,
            }))
        }
        k => Err(Notification::new(
            err::MESSAGE_HEADER,
            err::header::BAD_MESSAGE_TYPE,
            vec![k],
        )),
    }
}

/// The message's type code.
pub fn kind_of(m: &Message) -> u8 {
    match m {
        Message::Open(_) => kind::OPEN,
        Message::Update(_) => kind::UPDATE,
        Message::Notification(_) => kind::NOTIFICATION,
        Message::Keepalive => kind::KEEPALIVE,
        Message::RouteRefresh(_) => kind::ROUTE_REFRESH,
    }
}

/// Appends one message to `out`. The caller keeps messages within
/// [`SessionParams::max_len`] (an UPDATE's prefixes are split across messages upstream).
pub fn emit(m: &Message, params: &SessionParams, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&[0, 0, kind_of(m)]);
    match m {
        Message::Open(o) => open::emit_open(o, out),
        Message::Update(u) => update::emit_update(u, params, out),
        Message::Notification(n) => {
            out.push(n.code);
            out.push(n.subcode);
            out.extend_from_slice(&n.data);
        }
        Message::Keepalive => {}
        Message::RouteRefresh(r) => {
            out.extend_from_slice(&r.family.afi.to_be_bytes());
            out.push(r.subtype);
            out.push(r.family.safi);
        }
    }
    let len = out.len() - start;
    patch_u16(out, start + 16, len);
}

/// [`emit`] into a fresh buffer.
pub fn to_bytes(m: &Message, params: &SessionParams) -> Vec<u8> {
    let mut v = Vec::new();
    emit(m, params, &mut v);
    v
}
