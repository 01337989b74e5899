//! Path attribute values: decoding one attribute (with its RFC 7606 failure class) and
//! encoding one.

use std::net::{IpAddr, Ipv4Addr};

use super::model::*;
use super::update::Malformation;
use super::wire::{Rd, emit_prefixes, parse_prefixes};

/// How a malformed attribute is handled (RFC 7606 §7, per attribute).
pub(crate) enum Fail {
    /// §2 "treat-as-withdraw".
    Withdraw(Malformation),
    /// §2 "attribute discard".
    Discard(Malformation),
    /// §2 "session reset".
    Reset(Notification),
}

fn update_err(subcode: u8, raw: &[u8]) -> Notification {
    Notification::new(err::UPDATE_MESSAGE, subcode, raw.to_vec())
}

/// The RFC 7606 handling of a malformed attribute `code`.
fn fail(code: u8, m: Malformation, raw: &[u8]) -> Fail {
    match code {
        attr::ATOMIC_AGGREGATE | attr::AGGREGATOR | attr::AS4_PATH | attr::AS4_AGGREGATOR => {
            Fail::Discard(m)
        }
        attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI => {
            Fail::Reset(update_err(err::update::OPTIONAL_ATTRIBUTE_ERROR, raw))
        }
        _ => Fail::Withdraw(m),
    }
}

/// Decodes one attribute; `raw` is the whole attribute (header included) for a
/// NOTIFICATION's data. Ok(None): an unknown optional non-transitive attribute, ignored.
pub(crate) fn decode(
    flags: u8,
    code: u8,
    data: &[u8],
    raw: &[u8],
    params: &SessionParams,
) -> Result<Option<Attr>, Fail> {
    let Some(expected) = expected_flags(code) else {
        if flags & flag::OPTIONAL == 0 {
            return Err(Fail::Reset(update_err(
                err::update::UNRECOGNIZED_WELL_KNOWN,
                raw,
            )));
        }
        if flags & flag::TRANSITIVE == 0 {
            return Ok(None);
        }
        return Ok(Some(Attr::Unknown {
            flags: (flags & 0xe0) | flag::PARTIAL,
            code,
            data: data.to_vec(),
        }));
    };
    if flags & (flag::OPTIONAL | flag::TRANSITIVE) != expected {
        return Err(fail(code, Malformation::Flags, raw));
    }
    let bad = |m| fail(code, m, raw);
    let len = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(bad(Malformation::Length))
        }
    };
    let mut r = Rd::new(data);
    let a = match code {
        attr::ORIGIN => {
            len(data.len() == 1)?;
            Attr::Origin(match data[0] {
                0 => Origin::Igp,
                1 => Origin::Egp,
                2 => Origin::Incomplete,
                _ => return Err(bad(Malformation::Value)),
            })
        }
        attr::AS_PATH => Attr::AsPath(
            parse_segments(data, params.four_octet_as).ok_or_else(|| bad(Malformation::Value))?,
        ),
        attr::AS4_PATH => {
            let segs = parse_segments(data, true).ok_or_else(|| bad(Malformation::Value))?;
            // RFC 6793 §6: confederation segments have no place in AS4_PATH.
            let confed = |s: &Segment| {
                matches!(s.kind, SegmentKind::ConfedSequence | SegmentKind::ConfedSet)
            };
            if segs.iter().any(confed) {
                return Err(bad(Malformation::Value));
            }
            Attr::As4Path(segs)
        }
        attr::NEXT_HOP => {
            len(data.len() == 4)?;
            Attr::NextHop(Ipv4Addr::from([data[0], data[1], data[2], data[3]]))
        }
        attr::MED | attr::LOCAL_PREF => {
            len(data.len() == 4)?;
            let v = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
            if code == attr::MED {
                Attr::Med(v)
            } else {
                Attr::LocalPref(v)
            }
        }
        attr::ATOMIC_AGGREGATE => {
            len(data.is_empty())?;
            Attr::AtomicAggregate
        }
        attr::AGGREGATOR | attr::AS4_AGGREGATOR => {
            let four = code == attr::AS4_AGGREGATOR || params.four_octet_as;
            len(data.len() == if four { 8 } else { 6 })?;
            let asn = if four {
                r.u32().unwrap_or(0)
            } else {
                u32::from(r.u16().unwrap_or(0))
            };
            let addr = r.ipv4().unwrap_or(Ipv4Addr::UNSPECIFIED);
            let g = Aggregator { asn, addr };
            if code == attr::AGGREGATOR {
                Attr::Aggregator(g)
            } else {
                Attr::As4Aggregator(g)
            }
        }
        attr::COMMUNITIES => {
            len(!data.is_empty() && data.len().is_multiple_of(4))?;
            Attr::Communities(
                data.chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        }
        attr::ORIGINATOR_ID => {
            len(data.len() == 4)?;
            Attr::OriginatorId(Ipv4Addr::from([data[0], data[1], data[2], data[3]]))
        }
        attr::CLUSTER_LIST => {
            len(!data.is_empty() && data.len().is_multiple_of(4))?;
            Attr::ClusterList(
                data.chunks_exact(4)
                    .map(|c| Ipv4Addr::from([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        }
        attr::EXTENDED_COMMUNITIES => {
            len(!data.is_empty() && data.len().is_multiple_of(8))?;
            Attr::ExtendedCommunities(
                data.chunks_exact(8)
                    .map(|c| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(c);
                        a
                    })
                    .collect(),
            )
        }
        attr::LARGE_COMMUNITIES => {
            len(!data.is_empty() && data.len().is_multiple_of(12))?;
            Attr::LargeCommunities(
                data.chunks_exact(12)
                    .map(|c| {
                        let w = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                        [w(0), w(4), w(8)]
                    })
                    .collect(),
            )
        }
        attr::MP_REACH_NLRI => {
            let family = Family {
                afi: r.u16().ok_or_else(|| bad(Malformation::Length))?,
                safi: r.u8().ok_or_else(|| bad(Malformation::Length))?,
            };
            if !family.is_supported() {
                return Ok(Some(raw_attr(flags, code, data)));
            }
            let nh_len = r.u8().ok_or_else(|| bad(Malformation::Length))?;
            let nh = r
                .bytes(usize::from(nh_len))
                .ok_or_else(|| bad(Malformation::Length))?;
            let next_hop = next_hop(family, nh).ok_or_else(|| bad(Malformation::Value))?;
            r.u8().ok_or_else(|| bad(Malformation::Length))?;
            let nlri =
                prefixes(family, r.rest(), params).ok_or_else(|| bad(Malformation::Value))?;
            Attr::MpReach(MpReach {
                family,
                next_hop,
                nlri,
            })
        }
        attr::MP_UNREACH_NLRI => {
            let family = Family {
                afi: r.u16().ok_or_else(|| bad(Malformation::Length))?,
                safi: r.u8().ok_or_else(|| bad(Malformation::Length))?,
            };
            if !family.is_supported() {
                return Ok(Some(raw_attr(flags, code, data)));
            }
            let withdrawn =
                prefixes(family, r.rest(), params).ok_or_else(|| bad(Malformation::Value))?;
            Attr::MpUnreach(MpUnreach { family, withdrawn })
        }
        _ => unreachable!("expected_flags knows only the codes above"),
    };
    Ok(Some(a))
}

fn raw_attr(flags: u8, code: u8, data: &[u8]) -> Attr {
    Attr::Unknown {
        flags: flags & 0xe0,
        code,
        data: data.to_vec(),
    }
}

fn prefixes(family: Family, buf: &[u8], params: &SessionParams) -> Option<Vec<Nlri>> {
    parse_prefixes(
        buf,
        family.afi == Family::IPV6_UNICAST.afi,
        params.add_path_rx.contains(&family),
    )
}

fn next_hop(family: Family, nh: &[u8]) -> Option<MpNextHop> {
    let mut r = Rd::new(nh);
    let v4 = family == Family::IPV4_UNICAST;
    match nh.len() {
        4 if v4 => Some(MpNextHop {
            addr: IpAddr::V4(r.ipv4()?),
            link_local: None,
        }),
        16 => Some(MpNextHop {
            addr: IpAddr::V6(r.ipv6()?),
            link_local: None,
        }),
        32 => Some(MpNextHop {
            addr: IpAddr::V6(r.ipv6()?),
            link_local: Some(r.ipv6()?),
        }),
        _ => None,
    }
}

/// AS_PATH / AS4_PATH segments (RFC 4271 §4.3, RFC 6793); None when malformed in the
/// sense of RFC 7606 §7.2 (unknown segment type, zero-length segment, overrun).
fn parse_segments(buf: &[u8], four: bool) -> Option<Vec<Segment>> {
    let mut r = Rd::new(buf);
    let mut out = Vec::new();
    while !r.is_empty() {
        let kind = SegmentKind::from_u8(r.u8()?)?;
        let n = r.u8()?;
        if n == 0 {
            return None;
        }
        let mut asns = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            asns.push(if four { r.u32()? } else { u32::from(r.u16()?) });
        }
        out.push(Segment { kind, asns });
    }
    Some(out)
}

fn emit_segments(segs: &[Segment], four: bool, out: &mut Vec<u8>) {
    for s in segs {
        for chunk in s.asns.chunks(255) {
            out.push(s.kind.to_u8());
            out.push(chunk.len() as u8);
            for &a in chunk {
                if four {
                    out.extend_from_slice(&a.to_be_bytes());
                } else {
                    let a = u16::try_from(a).unwrap_or(AS_TRANS);
                    out.extend_from_slice(&a.to_be_bytes());
                }
            }
        }
    }
}

fn emit_aggregator(g: &Aggregator, four: bool, out: &mut Vec<u8>) {
    if four {
        out.extend_from_slice(&g.asn.to_be_bytes());
    } else {
        let a = u16::try_from(g.asn).unwrap_or(AS_TRANS);
        out.extend_from_slice(&a.to_be_bytes());
    }
    out.extend_from_slice(&g.addr.octets());
}

fn emit_next_hop(nh: &MpNextHop, out: &mut Vec<u8>) {
    let mut v = Vec::new();
    match nh.addr {
        IpAddr::V4(a) => v.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => v.extend_from_slice(&a.octets()),
    }
    if let Some(ll) = nh.link_local {
        v.extend_from_slice(&ll.octets());
    }
    out.push(v.len() as u8);
    out.extend_from_slice(&v);
}

/// Appends one attribute: flags (EXTENDED_LENGTH when the value exceeds 255 bytes), type,
/// length, value.
pub(crate) fn emit(a: &Attr, params: &SessionParams, out: &mut Vec<u8>) {
    let mut v = Vec::new();
    let four = params.four_octet_as;
    match a {
        Attr::Origin(o) => v.push(match o {
            Origin::Igp => 0,
            Origin::Egp => 1,
            Origin::Incomplete => 2,
        }),
        Attr::AsPath(s) => emit_segments(s, four, &mut v),
        Attr::As4Path(s) => emit_segments(s, true, &mut v),
        Attr::NextHop(a) | Attr::OriginatorId(a) => v.extend_from_slice(&a.octets()),
        Attr::Med(x) | Attr::LocalPref(x) => v.extend_from_slice(&x.to_be_bytes()),
        Attr::AtomicAggregate => {}
        Attr::Aggregator(g) => emit_aggregator(g, four, &mut v),
        Attr::As4Aggregator(g) => emit_aggregator(g, true, &mut v),
        Attr::Communities(cs) => cs
            .iter()
            .for_each(|c| v.extend_from_slice(&c.to_be_bytes())),
        Attr::ClusterList(cs) => cs.iter().for_each(|c| v.extend_from_slice(&c.octets())),
        Attr::ExtendedCommunities(cs) => cs.iter().for_each(|c| v.extend_from_slice(c)),
        Attr::LargeCommunities(cs) => {
            for c in cs {
                for w in c {
                    v.extend_from_slice(&w.to_be_bytes());
                }
            }
        }
        Attr::MpReach(m) => {
            v.extend_from_slice(&m.family.afi.to_be_bytes());
            v.push(m.family.safi);
            emit_next_hop(&m.next_hop, &mut v);
            v.push(0);
            emit_prefixes(&m.nlri, params.add_path_rx.contains(&m.family), &mut v);
        }
        Attr::MpUnreach(m) => {
            v.extend_from_slice(&m.family.afi.to_be_bytes());
            v.push(m.family.safi);
            emit_prefixes(&m.withdrawn, params.add_path_rx.contains(&m.family), &mut v);
        }
        Attr::Unknown { data, .. } => v.extend_from_slice(data),
    }
    let mut flags = match a {
        Attr::Unknown { flags, .. } => {
            let f = flags & 0xe0;
            if f & flag::OPTIONAL != 0 && f & flag::TRANSITIVE != 0 {
                f | flag::PARTIAL
            } else {
                f
            }
        }
        a => expected_flags(a.code()).unwrap_or(0),
    };
    if v.len() > 255 {
        flags |= flag::EXTENDED_LENGTH;
    }
    out.push(flags);
    out.push(a.code());
    if v.len() > 255 {
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
    } else {
        out.push(v.len() as u8);
    }
    out.extend_from_slice(&v);
}
