//! UPDATE (RFC 4271 §4.3) with RFC 7606 error handling: a malformed attribute costs what
//! its RFC 7606 §7 rule says — the attribute (discard), the routes (treat-as-withdraw) or
//! the session (reset) — and the worst cost among an UPDATE's errors wins.

use super::attrs::{self, Fail};
use super::model::*;
use super::wire::{Rd, emit_prefixes, parse_prefixes, patch_u16};

/// What was wrong with an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformation {
    /// Its Optional/Transitive flags conflict with the attribute's definition (§3 c).
    Flags,
    /// Its length is wrong for its type.
    Length,
    /// Its value is invalid (an undefined ORIGIN, a malformed AS_PATH, bad NLRI…).
    Value,
    /// It appeared more than once; all but the first are discarded (§3 g).
    Duplicate,
    /// A well-known mandatory attribute is absent (§3 d).
    Missing,
    /// Its header or length overran the path attributes field (§4).
    Overrun,
}

/// One RFC 7606 finding: the attribute type code and what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    pub code: u8,
    pub what: Malformation,
}

/// The result of parsing an UPDATE body (RFC 7606 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    Ok(Update),
    /// Every prefix the UPDATE carried is to be withdrawn: `update` is that withdrawal
    /// (its NLRI moved to `withdrawn`, MP_REACH prefixes into MP_UNREACH, no other
    /// attributes). `reasons` lists every finding, discards included.
    TreatAsWithdraw {
        update: Update,
        reasons: Vec<Reason>,
    },
    /// The listed attributes were dropped from `update`; the rest stands.
    AttributeDiscard {
        update: Update,
        reasons: Vec<Reason>,
    },
    /// The session must be reset with this NOTIFICATION.
    SessionReset(Notification),
}

fn reset(subcode: u8) -> UpdateOutcome {
    UpdateOutcome::SessionReset(Notification::new(err::UPDATE_MESSAGE, subcode, Vec::new()))
}

/// Parses an UPDATE body (after the 19-byte header).
pub fn parse_update(body: &[u8], params: &SessionParams) -> UpdateOutcome {
    let mut r = Rd::new(body);
    let Some(wl) = r.u16() else {
        return reset(err::update::MALFORMED_ATTRIBUTE_LIST);
    };
    let Some(wbytes) = r.bytes(usize::from(wl)) else {
        return reset(err::update::MALFORMED_ATTRIBUTE_LIST);
    };
    let Some(al) = r.u16() else {
        return reset(err::update::MALFORMED_ATTRIBUTE_LIST);
    };
    let Some(abytes) = r.bytes(usize::from(al)) else {
        return reset(err::update::MALFORMED_ATTRIBUTE_LIST);
    };
    let nbytes = r.rest();
    let v4_add_path = params.add_path_rx.contains(&Family::IPV4_UNICAST);
    let Some(withdrawn) = parse_prefixes(wbytes, false, v4_add_path) else {
        return reset(err::update::INVALID_NETWORK_FIELD);
    };
    let Some(nlri) = parse_prefixes(nbytes, false, v4_add_path) else {
        return reset(err::update::INVALID_NETWORK_FIELD);
    };

    let mut attrs = Vec::new();
    let mut withdraw = Vec::new();
    let mut discard = Vec::new();
    let mut seen = [false; 256];
    let mut a = Rd::new(abytes);
    while !a.is_empty() {
        let start = abytes.len() - a.remaining();
        let header = (|| {
            let flags = a.u8()?;
            let code = a.u8()?;
            let len = if flags & flag::EXTENDED_LENGTH != 0 {
                usize::from(a.u16()?)
            } else {
                usize::from(a.u8()?)
            };
            Some((flags, code, len))
        })();
        let Some((flags, code, len)) = header else {
            withdraw.push(Reason {
                code: 0,
                what: Malformation::Overrun,
            });
            break;
        };
        let Some(data) = a.bytes(len) else {
            withdraw.push(Reason {
                code,
                what: Malformation::Overrun,
            });
            break;
        };
        let raw = &abytes[start..abytes.len() - a.remaining()];
        if seen[usize::from(code)] {
            if code == attr::MP_REACH_NLRI || code == attr::MP_UNREACH_NLRI {
                return reset(err::update::MALFORMED_ATTRIBUTE_LIST);
            }
            discard.push(Reason {
                code,
                what: Malformation::Duplicate,
            });
            continue;
        }
        seen[usize::from(code)] = true;
        match attrs::decode(flags, code, data, raw, params) {
            Ok(Some(x)) => attrs.push(x),
            Ok(None) => {}
            Err(Fail::Withdraw(what)) => withdraw.push(Reason { code, what }),
            Err(Fail::Discard(what)) => discard.push(Reason { code, what }),
            Err(Fail::Reset(n)) => return UpdateOutcome::SessionReset(n),
        }
    }

    // §3 d: missing well-known mandatory attributes, only when the UPDATE announces routes.
    if !nlri.is_empty() || seen[usize::from(attr::MP_REACH_NLRI)] {
        let mut need = vec![attr::ORIGIN, attr::AS_PATH];
        if !nlri.is_empty() {
            need.push(attr::NEXT_HOP);
        }
        for code in need {
            if !seen[usize::from(code)] {
                withdraw.push(Reason {
                    code,
                    what: Malformation::Missing,
                });
            }
        }
    }

    let update = Update {
        withdrawn,
        attrs,
        nlri,
    };
    if !withdraw.is_empty() {
        withdraw.extend(discard);
        return UpdateOutcome::TreatAsWithdraw {
            update: as_withdrawal(update),
            reasons: withdraw,
        };
    }
    if !discard.is_empty() {
        return UpdateOutcome::AttributeDiscard {
            update,
            reasons: discard,
        };
    }
    UpdateOutcome::Ok(update)
}

/// The UPDATE that withdraws every prefix `u` carries, reachable or not. IPv4 unicast
/// prefixes all go to the withdrawn routes field, so at most one MP_UNREACH remains
/// (IPv6 unicast): an UPDATE may carry only one.
fn as_withdrawal(u: Update) -> Update {
    let mut withdrawn = u.withdrawn;
    withdrawn.extend(u.nlri);
    let mut unreach: Vec<MpUnreach> = Vec::new();
    for a in u.attrs {
        let (family, prefixes) = match a {
            Attr::MpUnreach(m) => (m.family, m.withdrawn),
            Attr::MpReach(m) => (m.family, m.nlri),
            _ => continue,
        };
        if family == Family::IPV4_UNICAST {
            withdrawn.extend(prefixes);
            continue;
        }
        match unreach.iter_mut().find(|m| m.family == family) {
            Some(m) => m.withdrawn.extend(prefixes),
            None => unreach.push(MpUnreach {
                family,
                withdrawn: prefixes,
            }),
        }
    }
    Update {
        withdrawn,
        attrs: unreach.into_iter().map(Attr::MpUnreach).collect(),
        nlri: Vec::new(),
    }
}

/// Appends an UPDATE body.
pub(crate) fn emit_update(u: &Update, params: &SessionParams, out: &mut Vec<u8>) {
    let v4_add_path = params.add_path_rx.contains(&Family::IPV4_UNICAST);
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    emit_prefixes(&u.withdrawn, v4_add_path, out);
    let len = out.len() - at - 2;
    patch_u16(out, at, len);
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    for a in &u.attrs {
        attrs::emit(a, params, out);
    }
    let len = out.len() - at - 2;
    patch_u16(out, at, len);
    emit_prefixes(&u.nlri, v4_add_path, out);
}
