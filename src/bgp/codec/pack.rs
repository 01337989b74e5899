//! Packing many prefixes into as few UPDATEs as the session's message size allows
//! (4096 bytes, or 65535 with extended messages): the attributes are encoded once and each
//! message is filled with prefixes until the next one would not fit.
//!
//! IPv4 unicast prefixes go in the NLRI and Withdrawn Routes fields; IPv6 unicast ones in
//! MP_REACH_NLRI / MP_UNREACH_NLRI, whose length grows with the prefixes (always written
//! with the extended length flag).

use std::net::IpAddr;

use super::attrs;
use super::model::*;
use super::wire::patch_u16;

/// The encoded size of one prefix (with its path id when `add_path`).
fn nlri_len(n: &Nlri, add_path: bool) -> usize {
    1 + usize::from(n.prefix.prefix_len()).div_ceil(8) + if add_path { 4 } else { 0 }
}

fn put_nlri(n: &Nlri, add_path: bool, out: &mut Vec<u8>) {
    if add_path {
        out.extend_from_slice(&n.path_id.unwrap_or(0).to_be_bytes());
    }
    let len = n.prefix.prefix_len();
    out.push(len);
    let k = usize::from(len).div_ceil(8);
    match n.prefix.addr() {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()[..k]),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()[..k]),
    }
}

fn header(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&[0, 0, kind::UPDATE]);
    start
}

fn finish(out: &mut [u8], start: usize) {
    let len = out.len() - start;
    patch_u16(out, start + 16, len);
}

/// Appends UPDATEs announcing `nlri` of `family` with the attributes `attrs` (which must
/// not contain MP_REACH_NLRI; for IPv4 they carry NEXT_HOP), `next_hop` being the
/// MP_REACH next hop for other families. Returns how many messages were written.
pub fn pack_announce(
    family: Family,
    attrs: &[Attr],
    next_hop: &MpNextHop,
    nlri: &[Nlri],
    params: &SessionParams,
    out: &mut Vec<u8>,
) -> usize {
    let max = params.max_len();
    let add_path = params.add_path_rx.contains(&family);
    let mut enc = Vec::new();
    for a in attrs {
        attrs::emit(a, params, &mut enc);
    }
    let mut messages = 0;
    let mut i = 0;
    while i < nlri.len() {
        let start = header(out);
        out.extend_from_slice(&[0, 0]); // no withdrawn routes
        let attr_len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&enc);
        if family == Family::IPV4_UNICAST {
            let alen = out.len() - attr_len_at - 2;
            patch_u16(out, attr_len_at, alen);
            let mut used = out.len() - start;
            // At least one prefix per message (attributes that leave no room are the
            // caller's problem; a 4096-byte message always fits the usual ones).
            loop {
                put_nlri(&nlri[i], add_path, out);
                used += nlri_len(&nlri[i], add_path);
                i += 1;
                if i == nlri.len() || used + nlri_len(&nlri[i], add_path) > max {
                    break;
                }
            }
        } else {
            out.push(flag::OPTIONAL | flag::EXTENDED_LENGTH);
            out.push(attr::MP_REACH_NLRI);
            let mp_len_at = out.len();
            out.extend_from_slice(&[0, 0]);
            let mp_start = out.len();
            out.extend_from_slice(&family.afi.to_be_bytes());
            out.push(family.safi);
            let mut nh = Vec::with_capacity(32);
            match next_hop.addr {
                IpAddr::V4(a) => nh.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => nh.extend_from_slice(&a.octets()),
            }
            if let Some(ll) = next_hop.link_local {
                nh.extend_from_slice(&ll.octets());
            }
            out.push(nh.len() as u8);
            out.extend_from_slice(&nh);
            out.push(0);
            let mut used = out.len() - start;
            loop {
                put_nlri(&nlri[i], add_path, out);
                used += nlri_len(&nlri[i], add_path);
                i += 1;
                if i == nlri.len() || used + nlri_len(&nlri[i], add_path) > max {
                    break;
                }
            }
            let mp_len = out.len() - mp_start;
            patch_u16(out, mp_len_at, mp_len);
            let alen = out.len() - attr_len_at - 2;
            patch_u16(out, attr_len_at, alen);
        }
        finish(out, start);
        messages += 1;
    }
    messages
}

/// Appends UPDATEs withdrawing `nlri` of `family`. Returns how many messages were written.
pub fn pack_withdraw(
    family: Family,
    nlri: &[Nlri],
    params: &SessionParams,
    out: &mut Vec<u8>,
) -> usize {
    let max = params.max_len();
    let add_path = params.add_path_rx.contains(&family);
    let mut messages = 0;
    let mut i = 0;
    while i < nlri.len() {
        let start = header(out);
        if family == Family::IPV4_UNICAST {
            let wl_at = out.len();
            out.extend_from_slice(&[0, 0]);
            let mut used = out.len() - start + 2;
            loop {
                put_nlri(&nlri[i], add_path, out);
                used += nlri_len(&nlri[i], add_path);
                i += 1;
                if i == nlri.len() || used + nlri_len(&nlri[i], add_path) > max {
                    break;
                }
            }
            let wl = out.len() - wl_at - 2;
            patch_u16(out, wl_at, wl);
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(&[0, 0]);
            let attr_len_at = out.len();
            out.extend_from_slice(&[0, 0]);
            out.push(flag::OPTIONAL | flag::EXTENDED_LENGTH);
            out.push(attr::MP_UNREACH_NLRI);
            let mp_len_at = out.len();
            out.extend_from_slice(&[0, 0]);
            let mp_start = out.len();
            out.extend_from_slice(&family.afi.to_be_bytes());
            out.push(family.safi);
            let mut used = out.len() - start;
            loop {
                put_nlri(&nlri[i], add_path, out);
                used += nlri_len(&nlri[i], add_path);
                i += 1;
                if i == nlri.len() || used + nlri_len(&nlri[i], add_path) > max {
                    break;
                }
            }
            let mp_len = out.len() - mp_start;
            patch_u16(out, mp_len_at, mp_len);
            let alen = out.len() - attr_len_at - 2;
            patch_u16(out, attr_len_at, alen);
        }
        finish(out, start);
        messages += 1;
    }
    messages
}

/// The End-of-RIB marker of `family` (RFC 4724 §2): an empty UPDATE for IPv4 unicast, an
/// UPDATE with an empty MP_UNREACH_NLRI otherwise.
pub fn end_of_rib(family: Family, params: &SessionParams) -> Vec<u8> {
    let u = if family == Family::IPV4_UNICAST {
        Update::default()
    } else {
        Update {
            withdrawn: Vec::new(),
            attrs: vec![Attr::MpUnreach(MpUnreach {
                family,
                withdrawn: Vec::new(),
            })],
            nlri: Vec::new(),
        }
    };
    super::to_bytes(&Message::Update(u), params)
}

/// Whether a parsed UPDATE is an End-of-RIB marker, and of which family.
pub fn is_end_of_rib(u: &Update) -> Option<Family> {
    if !u.withdrawn.is_empty() || !u.nlri.is_empty() {
        return None;
    }
    match u.attrs.as_slice() {
        [] => Some(Family::IPV4_UNICAST),
        [Attr::MpUnreach(m)] if m.withdrawn.is_empty() => Some(m.family),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::codec::{frame_len, parse};

    fn v4(i: u32, len: u8) -> Nlri {
        Nlri {
            path_id: None,
            prefix: ipnet::IpNet::V4(
                ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(i << 8), len).unwrap(),
            ),
        }
    }

    fn split(mut b: &[u8], params: &SessionParams) -> Vec<Message> {
        let mut v = Vec::new();
        while !b.is_empty() {
            let n = frame_len(b, params).unwrap().unwrap();
            assert!(n <= params.max_len());
            v.push(parse(&b[..n], params).unwrap());
            b = &b[n..];
        }
        v
    }

    fn base_attrs() -> Vec<Attr> {
        vec![
            Attr::Origin(Origin::Igp),
            Attr::AsPath(vec![Segment {
                kind: SegmentKind::Sequence,
                asns: vec![65001],
            }]),
            Attr::NextHop("192.0.2.1".parse().unwrap()),
        ]
    }

    #[test]
    fn ipv4_announce_fills_messages_to_the_limit() {
        let nlri: Vec<Nlri> = (0..5000).map(|i| v4(0x0a0000 + i, 24)).collect();
        let nh = MpNextHop {
            addr: "192.0.2.1".parse().unwrap(),
            link_local: None,
        };
        for params in [
            SessionParams::default(),
            SessionParams {
                extended_messages: true,
                ..Default::default()
            },
        ] {
            let mut out = Vec::new();
            let n = pack_announce(
                Family::IPV4_UNICAST,
                &base_attrs(),
                &nh,
                &nlri,
                &params,
                &mut out,
            );
            let msgs = split(&out, &params);
            assert_eq!(msgs.len(), n);
            let mut got = Vec::new();
            for m in &msgs {
                let Message::Update(u) = m else { panic!() };
                assert_eq!(u.attrs, base_attrs());
                got.extend(u.nlri.iter().copied());
            }
            assert_eq!(got, nlri);
            // Every message but the last is full: another /24 (4 bytes) would not fit.
            let mut b = &out[..];
            for _ in 0..n - 1 {
                let len = frame_len(b, &params).unwrap().unwrap();
                assert!(len + 4 > params.max_len(), "{len}");
                b = &b[len..];
            }
        }
    }

    #[test]
    fn ipv6_announce_and_withdraw_round_trip() {
        let nlri: Vec<Nlri> = (0..3000u32)
            .map(|i| Nlri {
                path_id: None,
                prefix: ipnet::IpNet::V6(
                    ipnet::Ipv6Net::new(
                        std::net::Ipv6Addr::from((0x2001_0db8u128 << 96) | (u128::from(i) << 64)),
                        64,
                    )
                    .unwrap(),
                ),
            })
            .collect();
        let params = SessionParams {
            four_octet_as: true,
            ..Default::default()
        };
        let nh = MpNextHop {
            addr: "2001:db8::1".parse().unwrap(),
            link_local: None,
        };
        let attrs = &base_attrs()[..2];
        let mut out = Vec::new();
        pack_announce(Family::IPV6_UNICAST, attrs, &nh, &nlri, &params, &mut out);
        let mut got = Vec::new();
        for m in split(&out, &params) {
            let Message::Update(u) = m else { panic!() };
            for a in u.attrs {
                if let Attr::MpReach(r) = a {
                    assert_eq!(r.next_hop, nh);
                    got.extend(r.nlri);
                }
            }
        }
        assert_eq!(got, nlri);
        let mut out = Vec::new();
        pack_withdraw(Family::IPV6_UNICAST, &nlri, &params, &mut out);
        let mut got = Vec::new();
        for m in split(&out, &params) {
            let Message::Update(u) = m else { panic!() };
            for a in u.attrs {
                if let Attr::MpUnreach(r) = a {
                    got.extend(r.withdrawn);
                }
            }
        }
        assert_eq!(got, nlri);
        let mut out = Vec::new();
        let v4s: Vec<Nlri> = (0..2000).map(|i| v4(i, 24)).collect();
        pack_withdraw(Family::IPV4_UNICAST, &v4s, &params, &mut out);
        let got: Vec<Nlri> = split(&out, &params)
            .into_iter()
            .flat_map(|m| match m {
                Message::Update(u) => u.withdrawn,
                _ => panic!(),
            })
            .collect();
        assert_eq!(got, v4s);
    }

    #[test]
    fn end_of_rib_markers() {
        let params = SessionParams::default();
        for f in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
            let Ok(Message::Update(u)) = parse(&end_of_rib(f, &params), &params) else {
                panic!()
            };
            assert_eq!(is_end_of_rib(&u), Some(f));
        }
    }
}
