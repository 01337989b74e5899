//! Frames as an OpenFlow switch sees them: parse an Ethernet frame into a fixed-size
//! [`FlowKey`] (every OXM basic field, plus which are present) and the [`Offsets`] of its
//! headers, then modify it in place ([`set_field`], [`push_vlan`], [`pop_vlan`],
//! [`dec_nw_ttl`], [`push_mpls`], [`pop_mpls`], …) keeping the checksums right.
//!
//! Pure and allocation-free: parsing reads a `&[u8]`; modifications write a `&mut [u8]`
//! (or a `&mut Vec<u8>` when a header is inserted or removed) and update the `Parsed` that
//! describes the frame, so the key always describes the frame as it now is (later tables
//! match on the modified packet, as OpenFlow requires).
//!
//! Parsing (what is recognised, in order): Ethernet II (an 802.3 length field gives
//! `eth_type` 0x05ff, OFP_DL_TYPE_NOT_ETH_TYPE); up to [`MAX_VLAN_TAGS`] 802.1Q (0x8100)
//! or 802.1ad (0x88a8) tags, `vlan_vid`/`vlan_pcp` from the OUTERMOST tag, `eth_type` the
//! type after the last tag; MPLS (0x8847/0x8848): the top label stack entry only (OpenFlow
//! 1.3 matches nothing beyond it); PBB (0x88e7): the I-SID; ARP (Ethernet/IPv4 only);
//! IPv4 with options (later fragments have no L4 fields); IPv6 with extension headers
//! (hop-by-hop, routing, fragment, destination options, AH; ESP and no-next-header stop the
//! walk; `ipv6_exthdr` is the OFPIEH_* bitmap, UNSEQ is not computed); TCP, UDP, SCTP,
//! ICMPv4, ICMPv6 and Neighbour Solicitation/Advertisement (target, SLL, TLL options).
//! A truncated header leaves its fields absent; no input panics.
//!
//! Checksums: IPv4 header and TCP/UDP/ICMP checksums are updated incrementally (RFC 1624,
//! eqn. 3) when a covered field changes, the SCTP CRC32c is recomputed. A frame whose L4
//! checksum is not complete (a `virtio_net_hdr` with `VIRTIO_NET_HDR_F_NEEDS_CSUM`, i.e.
//! CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, the rest is summed on
//! output) is marked by the caller with `Offsets::l4_csum_partial = true`: then a port
//! change needs no update and a pseudo-header change (addresses) is applied to the partial
//! sum with the opposite sign, so the frame stays valid for whoever completes the sum
//! (kernel or [`complete_partial_checksum`]). A UDP-over-IPv4 checksum of 0 (none) stays 0.
//!
//! Not done: copy-ttl-in/out, PBB push/pop, set-field of PBB/tunnel fields inside the frame
//! (tunnel_id and metadata are pipeline state, they live only in the key).

use std::fmt;

/// OXM basic-class field numbers (OFPXMT_OFB_*): bit `n` of [`FlowKey::present`].
pub use super::codec::oxm_field as field;

/// `vlan_vid` bit meaning "a tag is present" (OFPVID_PRESENT); `vlan_vid == 0` is no tag.
pub const OFPVID_PRESENT: u16 = super::codec::VID_PRESENT;
/// `eth_type` of an 802.3 frame (length field, not a type).
pub const ETH_TYPE_NOT_ETH: u16 = 0x05ff;
/// Tags skipped before `eth_type` is read (more: the next TPID is the `eth_type`).
pub const MAX_VLAN_TAGS: usize = 4;

pub const ETH_TYPE_IPV4: u16 = 0x0800;
pub const ETH_TYPE_ARP: u16 = 0x0806;
pub const ETH_TYPE_VLAN: u16 = 0x8100;
pub const ETH_TYPE_QINQ: u16 = 0x88a8;
pub const ETH_TYPE_IPV6: u16 = 0x86dd;
pub const ETH_TYPE_MPLS: u16 = 0x8847;
pub const ETH_TYPE_MPLS_MCAST: u16 = 0x8848;
pub const ETH_TYPE_PBB: u16 = 0x88e7;

pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;
pub const IPPROTO_SCTP: u8 = 132;

/// OFPIEH_* bits of `ipv6_exthdr`.
pub mod ieh {
    pub const NONEXT: u16 = 1 << 0;
    pub const ESP: u16 = 1 << 1;
    pub const AUTH: u16 = 1 << 2;
    pub const DEST: u16 = 1 << 3;
    pub const FRAG: u16 = 1 << 4;
    pub const ROUTER: u16 = 1 << 5;
    pub const HOP: u16 = 1 << 6;
    pub const UNREP: u16 = 1 << 7;
    pub const UNSEQ: u16 = 1 << 8;
}

/// Every OXM basic field of a packet, fixed-size and hashable; a field's value is
/// meaningful only when its bit (`1 << field::X`) is set in `present`, and absent fields
/// are zero so that equal packets have equal keys. The same struct is used as a mask
/// (all-ones = exact; `present` bits = "this field must be present").
///
/// Numbers are host-order integers of the big-endian wire values (an IPv4 address
/// 10.0.0.1 is `0x0a000001`, an IPv6 address `u128::from(Ipv6Addr)`), MACs are bytes.
/// TCP/UDP/SCTP ports are in `tp_src`/`tp_dst` and ICMPv4/ICMPv6 type/code in
/// `icmp_type`/`icmp_code` (the presence bits say which protocol); everything else has a
/// slot of its own.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowKey {
    /// Bit `n` set: OXM field `n` is present in the packet (see [`field`]).
    pub present: u64,
    pub in_port: u32,
    pub in_phy_port: u32,
    pub metadata: u64,
    pub tunnel_id: u64,
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    pub eth_type: u16,
    /// `OFPVID_PRESENT | vid` when tagged, 0 when not (always present for Ethernet).
    pub vlan_vid: u16,
    pub vlan_pcp: u8,
    pub ip_dscp: u8,
    pub ip_ecn: u8,
    pub ip_proto: u8,
    pub ipv4_src: u32,
    pub ipv4_dst: u32,
    pub tp_src: u16,
    pub tp_dst: u16,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub arp_op: u16,
    pub arp_spa: u32,
    pub arp_tpa: u32,
    pub arp_sha: [u8; 6],
    pub arp_tha: [u8; 6],
    pub ipv6_src: u128,
    pub ipv6_dst: u128,
    pub ipv6_flabel: u32,
    pub ipv6_nd_target: u128,
    pub ipv6_nd_sll: [u8; 6],
    pub ipv6_nd_tll: [u8; 6],
    pub ipv6_exthdr: u16,
    pub mpls_label: u32,
    pub mpls_tc: u8,
    pub mpls_bos: u8,
    pub pbb_isid: u32,
}

impl FlowKey {
    /// Whether OXM field `f` (a [`field`] constant) is present.
    #[inline]
    pub fn has(&self, f: u8) -> bool {
        self.present & (1 << f) != 0
    }

    #[inline]
    pub fn set_present(&mut self, f: u8) {
        self.present |= 1 << f;
    }

    /// Field-wise AND: the key as seen through `mask`.
    #[inline]
    pub fn masked(&self, mask: &FlowKey) -> FlowKey {
        macro_rules! and {
            ($($f:ident),*) => { FlowKey { $($f: self.$f.and(mask.$f)),* } };
        }
        and!(
            present,
            in_port,
            in_phy_port,
            metadata,
            tunnel_id,
            eth_dst,
            eth_src,
            eth_type,
            vlan_vid,
            vlan_pcp,
            ip_dscp,
            ip_ecn,
            ip_proto,
            ipv4_src,
            ipv4_dst,
            tp_src,
            tp_dst,
            icmp_type,
            icmp_code,
            arp_op,
            arp_spa,
            arp_tpa,
            arp_sha,
            arp_tha,
            ipv6_src,
            ipv6_dst,
            ipv6_flabel,
            ipv6_nd_target,
            ipv6_nd_sll,
            ipv6_nd_tll,
            ipv6_exthdr,
            mpls_label,
            mpls_tc,
            mpls_bos,
            pbb_isid
        )
    }

    /// Whether every bit of `self` is also set in `other` (as masks: `self` is at most as
    /// specific as `other`).
    pub fn is_subset_of(&self, other: &FlowKey) -> bool {
        self.masked(other) == *self
    }
}

impl std::hash::Hash for FlowKey {
    /// Every field, packed into 64-bit words: a third of the hasher calls of a derived
    /// `Hash` (this is the classifier's per-packet cost).
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let mac = |m: [u8; 6], x: u16| {
            let [a, b] = x.to_le_bytes();
            u64::from_le_bytes([m[0], m[1], m[2], m[3], m[4], m[5], a, b])
        };
        let w = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
        h.write_u64(self.present);
        h.write_u64(w(self.in_port, self.in_phy_port));
        h.write_u64(self.metadata);
        h.write_u64(self.tunnel_id);
        h.write_u64(mac(self.eth_dst, self.eth_type));
        h.write_u64(mac(self.eth_src, self.vlan_vid));
        h.write_u64(u64::from_le_bytes([
            self.vlan_pcp,
            self.ip_dscp,
            self.ip_ecn,
            self.ip_proto,
            self.icmp_type,
            self.icmp_code,
            self.mpls_tc,
            self.mpls_bos,
        ]));
        h.write_u64(w(self.ipv4_src, self.ipv4_dst));
        h.write_u64(w(
            u32::from(self.tp_src) | (u32::from(self.tp_dst) << 16),
            u32::from(self.arp_op) | (u32::from(self.ipv6_exthdr) << 16),
        ));
        h.write_u64(w(self.arp_spa, self.arp_tpa));
        h.write_u64(mac(self.arp_sha, 0));
        h.write_u64(mac(self.arp_tha, 0));
        h.write_u128(self.ipv6_src);
        h.write_u128(self.ipv6_dst);
        h.write_u128(self.ipv6_nd_target);
        h.write_u64(w(self.ipv6_flabel, self.mpls_label));
        h.write_u64(mac(self.ipv6_nd_sll, 0));
        h.write_u64(mac(self.ipv6_nd_tll, 0));
        h.write_u32(self.pbb_isid);
    }
}

trait And: Copy {
    fn and(self, o: Self) -> Self;
}
macro_rules! and_int {
    ($($t:ty),*) => { $(impl And for $t { #[inline] fn and(self, o: Self) -> Self { self & o } })* };
}
and_int!(u8, u16, u32, u64, u128);
impl And for [u8; 6] {
    #[inline]
    fn and(self, o: Self) -> Self {
        std::array::from_fn(|i| self[i] & o[i])
    }
}

impl fmt::Debug for FlowKey {
    /// Only the present fields (and in_port), so test failures stay readable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("FlowKey");
        d.field("present", &format_args!("{:#x}", self.present));
        d.field("in_port", &self.in_port);
        macro_rules! show {
            ($($bit:ident => $f:ident),*) => { $(if self.has(field::$bit) { d.field(stringify!($f), &self.$f); })* };
        }
        show!(IN_PHY_PORT => in_phy_port, METADATA => metadata, TUNNEL_ID => tunnel_id,
            ETH_DST => eth_dst, ETH_SRC => eth_src, ETH_TYPE => eth_type, VLAN_VID => vlan_vid,
            VLAN_PCP => vlan_pcp, IP_DSCP => ip_dscp, IP_ECN => ip_ecn, IP_PROTO => ip_proto,
            IPV4_SRC => ipv4_src, IPV4_DST => ipv4_dst, ARP_OP => arp_op, ARP_SPA => arp_spa,
            ARP_TPA => arp_tpa, ARP_SHA => arp_sha, ARP_THA => arp_tha, IPV6_SRC => ipv6_src,
            IPV6_DST => ipv6_dst, IPV6_FLABEL => ipv6_flabel, IPV6_EXTHDR => ipv6_exthdr,
            IPV6_ND_TARGET => ipv6_nd_target, IPV6_ND_SLL => ipv6_nd_sll,
            IPV6_ND_TLL => ipv6_nd_tll, MPLS_LABEL => mpls_label, MPLS_TC => mpls_tc,
            MPLS_BOS => mpls_bos, PBB_ISID => pbb_isid);
        if self.present & (0x3f << field::TCP_SRC) != 0 {
            d.field("tp_src", &self.tp_src)
                .field("tp_dst", &self.tp_dst);
        }
        if self.has(field::ICMPV4_TYPE) || self.has(field::ICMPV6_TYPE) {
            d.field("icmp_type", &self.icmp_type)
                .field("icmp_code", &self.icmp_code);
        }
        d.finish()
    }
}

/// Where the headers of a parsed frame are (byte offsets from the start of the Ethernet
/// header; `None`: no such header, or truncated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Offsets {
    /// The outermost VLAN tag's TPID (always 12 when tagged).
    pub vlan: Option<u16>,
    /// The ethertype field after the tags (12 + 4 × tags); `None` for a runt frame.
    pub eth_type: Option<u16>,
    /// The top MPLS label stack entry.
    pub mpls: Option<u16>,
    /// The IPv4, IPv6 or ARP header.
    pub l3: Option<u16>,
    /// The TCP, UDP, SCTP, ICMPv4 or ICMPv6 header (whole minimum header in the frame).
    pub l4: Option<u16>,
    /// The caller's flag: the L4 checksum is CHECKSUM_PARTIAL (see the module docs).
    pub l4_csum_partial: bool,
}

/// A parsed frame: its key and where its headers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Parsed {
    pub key: FlowKey,
    pub off: Offsets,
}

/// Why a modification was not applied (the frame is then unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// The header the field lives in is absent (the action's prerequisite is not met).
    MissingHeader,
    /// A value out of the field's range (e.g. a VID above 4095).
    BadValue,
    /// TTL was 0 or 1: the packet must go to the controller (OFPR_INVALID_TTL) or be
    /// dropped; the frame is unchanged.
    TtlExpired,
    /// The frame would exceed 65535 bytes.
    TooLong,
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PacketError::MissingHeader => "the header of that field is absent",
            PacketError::BadValue => "value out of range for the field",
            PacketError::TtlExpired => "TTL expired",
            PacketError::TooLong => "frame too long",
        })
    }
}

impl std::error::Error for PacketError {}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
#[inline]
fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
#[inline]
fn be128(b: &[u8], at: usize) -> Option<u128> {
    Some(u128::from_be_bytes(b.get(at..at + 16)?.try_into().ok()?))
}
#[inline]
fn mac(b: &[u8], at: usize) -> Option<[u8; 6]> {
    b.get(at..at + 6)?.try_into().ok()
}

/// Parses `frame` received on `in_port` (`in_phy_port` = `in_port`, metadata and
/// tunnel_id 0). Never panics; what cannot be read is absent.
pub fn parse(frame: &[u8], in_port: u32) -> Parsed {
    let mut p = Parsed::default();
    let k = &mut p.key;
    k.in_port = in_port;
    k.in_phy_port = in_port;
    k.set_present(field::IN_PORT);
    k.set_present(field::IN_PHY_PORT);
    k.set_present(field::METADATA);
    k.set_present(field::TUNNEL_ID);
    let (Some(dst), Some(src), Some(mut ty)) = (mac(frame, 0), mac(frame, 6), be16(frame, 12))
    else {
        return p;
    };
    k.eth_dst = dst;
    k.eth_src = src;
    k.set_present(field::ETH_DST);
    k.set_present(field::ETH_SRC);
    k.set_present(field::ETH_TYPE);
    k.set_present(field::VLAN_VID);
    let mut at = 12usize;
    let mut tags = 0;
    while (ty == ETH_TYPE_VLAN || ty == ETH_TYPE_QINQ) && tags < MAX_VLAN_TAGS {
        let (Some(tci), Some(next)) = (be16(frame, at + 2), be16(frame, at + 4)) else {
            break;
        };
        if tags == 0 {
            p.off.vlan = Some(at as u16);
            k.vlan_vid = OFPVID_PRESENT | (tci & 0x0fff);
            k.vlan_pcp = (tci >> 13) as u8;
            k.set_present(field::VLAN_PCP);
        }
        tags += 1;
        at += 4;
        ty = next;
    }
    p.off.eth_type = Some(at as u16);
    let l3 = at + 2;
    k.eth_type = if ty < 0x0600 { ETH_TYPE_NOT_ETH } else { ty };
    match ty {
        ETH_TYPE_IPV4 => parse_ipv4(frame, l3, &mut p),
        ETH_TYPE_IPV6 => parse_ipv6(frame, l3, &mut p),
        ETH_TYPE_ARP => parse_arp(frame, l3, &mut p),
        ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST => {
            if let Some(lse) = be32(frame, l3) {
                p.off.mpls = Some(l3 as u16);
                k.mpls_label = lse >> 12;
                k.mpls_tc = ((lse >> 9) & 7) as u8;
                k.mpls_bos = ((lse >> 8) & 1) as u8;
                k.present |=
                    (1 << field::MPLS_LABEL) | (1 << field::MPLS_TC) | (1 << field::MPLS_BOS);
            }
        }
        ETH_TYPE_PBB => {
            if let Some(itag) = be32(frame, l3) {
                k.pbb_isid = itag & 0x00ff_ffff;
                k.set_present(field::PBB_ISID);
            }
        }
        _ => {}
    }
    p
}

fn parse_ipv4(frame: &[u8], l3: usize, p: &mut Parsed) {
    let Some(h) = frame.get(l3..l3 + 20) else {
        return;
    };
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if h[0] >> 4 != 4 || ihl < 20 || frame.len() < l3 + ihl {
        return;
    }
    let k = &mut p.key;
    p.off.l3 = Some(l3 as u16);
    k.ip_dscp = h[1] >> 2;
    k.ip_ecn = h[1] & 3;
    k.ip_proto = h[9];
    k.ipv4_src = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
    k.ipv4_dst = u32::from_be_bytes([h[16], h[17], h[18], h[19]]);
    k.present |= (1 << field::IP_DSCP)
        | (1 << field::IP_ECN)
        | (1 << field::IP_PROTO)
        | (1 << field::IPV4_SRC)
        | (1 << field::IPV4_DST);
    let frag_offset = u16::from_be_bytes([h[6], h[7]]) & 0x1fff;
    if frag_offset == 0 {
        parse_l4(frame, l3 + ihl, h[9], false, p);
    }
}

fn parse_ipv6(frame: &[u8], l3: usize, p: &mut Parsed) {
    let Some(h) = frame.get(l3..l3 + 40) else {
        return;
    };
    if h[0] >> 4 != 6 {
        return;
    }
    let k = &mut p.key;
    p.off.l3 = Some(l3 as u16);
    let w0 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let tc = (w0 >> 20) as u8;
    k.ip_dscp = tc >> 2;
    k.ip_ecn = tc & 3;
    k.ipv6_flabel = w0 & 0x000f_ffff;
    k.ipv6_src = u128::from_be_bytes(h[8..24].try_into().unwrap_or_default());
    k.ipv6_dst = u128::from_be_bytes(h[24..40].try_into().unwrap_or_default());
    k.present |= (1 << field::IP_DSCP)
        | (1 << field::IP_ECN)
        | (1 << field::IP_PROTO)
        | (1 << field::IPV6_SRC)
        | (1 << field::IPV6_DST)
        | (1 << field::IPV6_FLABEL)
        | (1 << field::IPV6_EXTHDR);
    let mut next = h[6];
    let mut at = l3 + 40;
    let mut bits = 0u16;
    let mut dest_seen = 0;
    let mut l4_ok = true;
    loop {
        let (bit, len) = match next {
            0 | 43 | 60 => {
                let Some(&l) = frame.get(at + 1) else {
                    l4_ok = false;
                    break;
                };
                let bit = match next {
                    0 => ieh::HOP,
                    43 => ieh::ROUTER,
                    _ => ieh::DEST,
                };
                (bit, (usize::from(l) + 1) * 8)
            }
            44 => {
                // A later fragment carries no L4 header.
                if be16(frame, at + 2).is_none_or(|o| o & 0xfff8 != 0) {
                    l4_ok = false;
                }
                (ieh::FRAG, 8)
            }
            51 => {
                let Some(&l) = frame.get(at + 1) else {
                    l4_ok = false;
                    break;
                };
                (ieh::AUTH, (usize::from(l) + 2) * 4)
            }
            50 => {
                bits |= ieh::ESP;
                break;
            }
            59 => {
                bits |= ieh::NONEXT;
                break;
            }
            _ => break,
        };
        if bit == ieh::DEST {
            dest_seen += 1;
            if dest_seen > 2 {
                bits |= ieh::UNREP;
            }
        } else if bits & bit != 0 {
            bits |= ieh::UNREP;
        }
        bits |= bit;
        let Some(&n) = frame.get(at) else {
            l4_ok = false;
            break;
        };
        if frame.len() < at + len {
            l4_ok = false;
            break;
        }
        next = n;
        at += len;
        if !l4_ok {
            break;
        }
    }
    let k = &mut p.key;
    k.ip_proto = next;
    k.ipv6_exthdr = bits;
    if l4_ok {
        parse_l4(frame, at, next, true, p);
    }
}

fn parse_l4(frame: &[u8], l4: usize, proto: u8, v6: bool, p: &mut Parsed) {
    let k = &mut p.key;
    let min = match proto {
        IPPROTO_TCP => 20,
        IPPROTO_UDP => 8,
        IPPROTO_SCTP => 12,
        IPPROTO_ICMP if !v6 => 4,
        IPPROTO_ICMPV6 if v6 => 4,
        _ => return,
    };
    let Some(h) = frame.get(l4..l4 + min) else {
        return;
    };
    p.off.l4 = Some(l4 as u16);
    match proto {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP => {
            k.tp_src = u16::from_be_bytes([h[0], h[1]]);
            k.tp_dst = u16::from_be_bytes([h[2], h[3]]);
            let (s, d) = match proto {
                IPPROTO_TCP => (field::TCP_SRC, field::TCP_DST),
                IPPROTO_UDP => (field::UDP_SRC, field::UDP_DST),
                _ => (field::SCTP_SRC, field::SCTP_DST),
            };
            k.present |= (1 << s) | (1 << d);
        }
        IPPROTO_ICMP => {
            k.icmp_type = h[0];
            k.icmp_code = h[1];
            k.present |= (1 << field::ICMPV4_TYPE) | (1 << field::ICMPV4_CODE);
        }
        _ => {
            k.icmp_type = h[0];
            k.icmp_code = h[1];
            k.present |= (1 << field::ICMPV6_TYPE) | (1 << field::ICMPV6_CODE);
            if (h[0] == 135 || h[0] == 136) && h[1] == 0 {
                parse_nd(frame, l4, h[0], k);
            }
        }
    }
}

/// Neighbour Solicitation (135) / Advertisement (136): target, then options.
fn parse_nd(frame: &[u8], l4: usize, ty: u8, k: &mut FlowKey) {
    let Some(target) = be128(frame, l4 + 8) else {
        return;
    };
    k.ipv6_nd_target = target;
    k.set_present(field::IPV6_ND_TARGET);
    let (want, bit) = if ty == 135 {
        (1, field::IPV6_ND_SLL)
    } else {
        (2, field::IPV6_ND_TLL)
    };
    k.set_present(bit);
    let mut at = l4 + 24;
    while let (Some(&t), Some(&l)) = (frame.get(at), frame.get(at + 1)) {
        let len = usize::from(l) * 8;
        if len == 0 || frame.len() < at + len {
            break;
        }
        if t == want && len >= 8 {
            let Some(m) = mac(frame, at + 2) else { break };
            if ty == 135 {
                k.ipv6_nd_sll = m;
            } else {
                k.ipv6_nd_tll = m;
            }
            break;
        }
        at += len;
    }
}

fn parse_arp(frame: &[u8], l3: usize, p: &mut Parsed) {
    let Some(h) = frame.get(l3..l3 + 28) else {
        return;
    };
    // Ethernet hardware, IPv4 protocol addresses.
    if h[0..2] != [0, 1] || h[2..4] != [8, 0] || h[4] != 6 || h[5] != 4 {
        return;
    }
    p.off.l3 = Some(l3 as u16);
    let k = &mut p.key;
    k.arp_op = u16::from_be_bytes([h[6], h[7]]);
    k.arp_sha = h[8..14].try_into().unwrap_or_default();
    k.arp_spa = u32::from_be_bytes([h[14], h[15], h[16], h[17]]);
    k.arp_tha = h[18..24].try_into().unwrap_or_default();
    k.arp_tpa = u32::from_be_bytes([h[24], h[25], h[26], h[27]]);
    k.present |= (1 << field::ARP_OP)
        | (1 << field::ARP_SHA)
        | (1 << field::ARP_SPA)
        | (1 << field::ARP_THA)
        | (1 << field::ARP_TPA);
}

// ---------------------------------------------------------------- checksums

/// Ones'-complement sum of `data` (big-endian 16-bit words, an odd last byte padded),
/// added to `sum`; not folded.
pub fn sum16(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        // keep headroom: fold whenever the top bits fill up
        if sum > 0xffff_0000 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    sum
}

/// Folds a 32-bit ones'-complement sum to 16 bits.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// RFC 1624 eqn. 3: the checksum `hc` after the 16-bit words `old` (even length, aligned
/// in the checksummed data) become `new`: HC' = ~(~HC + ~m + m').
fn csum_replace(hc: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut sum = u32::from(!hc);
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        sum += u32::from(!u16::from_be_bytes([o[0], o[1]]));
        sum += u32::from(u16::from_be_bytes([n[0], n[1]]));
    }
    !fold(sum)
}

fn read16(f: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([f[at], f[at + 1]])
}
fn write16(f: &mut [u8], at: usize, v: u16) {
    f[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Where the L4 checksum of the parsed frame is, and whether it is "pseudo-header +
/// data" (TCP, UDP, ICMPv6) or "data only" (ICMPv4). SCTP has none of these.
fn l4_csum_at(p: &Parsed) -> Option<(usize, bool)> {
    let l4 = usize::from(p.off.l4?);
    let k = &p.key;
    if k.has(field::TCP_SRC) {
        Some((l4 + 16, true))
    } else if k.has(field::UDP_SRC) {
        Some((l4 + 6, true))
    } else if k.has(field::ICMPV6_TYPE) {
        Some((l4 + 2, true))
    } else if k.has(field::ICMPV4_TYPE) {
        Some((l4 + 2, false))
    } else {
        None
    }
}

/// Replaces `frame[at..at+new.len()]` (an even-aligned run of L4-checksummed bytes) and
/// updates the L4 checksum; `pseudo`: the bytes are in the pseudo-header only (addresses).
fn l4_replace(frame: &mut [u8], p: &Parsed, old: &[u8], new: &[u8], pseudo: bool) {
    let Some((at, has_pseudo)) = l4_csum_at(p) else {
        return;
    };
    if pseudo && !has_pseudo {
        return;
    }
    let partial = p.off.l4_csum_partial;
    if partial && !pseudo {
        return; // data is summed on output
    }
    let cur = read16(frame, at);
    let udp4 = p.key.has(field::UDP_SRC) && p.key.has(field::IPV4_SRC);
    if udp4 && cur == 0 && !partial {
        return; // no checksum
    }
    let mut new_sum = if partial {
        !csum_replace(!cur, old, new)
    } else {
        csum_replace(cur, old, new)
    };
    if udp4 && !partial && new_sum == 0 {
        new_sum = 0xffff;
    }
    write16(frame, at, new_sum);
}

/// Writes `new` over `frame[at..]`, fixing the IPv4 header checksum when `ip_hdr`, and the
/// L4 checksum (data or pseudo-header) as said.
fn replace(frame: &mut [u8], p: &Parsed, at: usize, new: &[u8], ip_hdr: bool, l4: L4Sum) {
    let len = new.len();
    let mut old = [0u8; 16];
    old[..len].copy_from_slice(&frame[at..at + len]);
    if ip_hdr && let Some(l3) = p.off.l3 {
        let c = usize::from(l3) + 10;
        let v = csum_replace(read16(frame, c), &old[..len], new);
        write16(frame, c, v);
    }
    match l4 {
        L4Sum::None => {}
        L4Sum::Data => l4_replace(frame, p, &old[..len], new, false),
        L4Sum::Pseudo => l4_replace(frame, p, &old[..len], new, true),
    }
    frame[at..at + len].copy_from_slice(new);
}

#[derive(Clone, Copy)]
enum L4Sum {
    None,
    Data,
    Pseudo,
}

/// CRC32c (Castagnoli, reflected), as SCTP uses it.
fn crc32c(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut j = 0;
            while j < 8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82f6_3b78
                } else {
                    c >> 1
                };
                j += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in data {
        c = TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// The end of the IP payload (IPv4 total length / IPv6 payload length, capped at the frame).
fn l3_end(frame: &[u8], p: &Parsed) -> usize {
    let Some(l3) = p.off.l3.map(usize::from) else {
        return frame.len();
    };
    let end = if p.key.has(field::IPV4_SRC) {
        l3 + usize::from(read16(frame, l3 + 2))
    } else {
        l3 + 40 + usize::from(read16(frame, l3 + 4))
    };
    end.min(frame.len())
}

fn sctp_recompute(frame: &mut [u8], p: &Parsed) {
    let (Some(l4), false) = (p.off.l4.map(usize::from), p.off.l4_csum_partial) else {
        return;
    };
    let end = l3_end(frame, p);
    if end < l4 + 12 {
        return;
    }
    frame[l4 + 8..l4 + 12].fill(0);
    let c = crc32c(&frame[l4..end]);
    frame[l4 + 8..l4 + 12].copy_from_slice(&c.to_le_bytes());
}

/// Completes a CHECKSUM_PARTIAL frame in software (what a NIC does with
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`): the ones'-complement sum of `frame[csum_start..]`
/// (whose checksum field holds the pseudo-header sum) is complemented and stored at
/// `csum_start + csum_offset`. Returns false (frame unchanged) if the offsets are outside
/// the frame.
pub fn complete_partial_checksum(frame: &mut [u8], csum_start: usize, csum_offset: usize) -> bool {
    let at = csum_start.saturating_add(csum_offset);
    if csum_start > frame.len() || at.saturating_add(2) > frame.len() {
        return false;
    }
    let mut c = !fold(sum16(0, &frame[csum_start..]));
    // UDP cannot carry 0 (it means "no checksum"); the kernel writes 0xffff instead.
    if c == 0 {
        c = 0xffff;
    }
    write16(frame, at, c);
    true
}

// ---------------------------------------------------------------- modifications

/// A value for OFPAT_SET_FIELD (OpenFlow 1.3 set-field is never masked). `Metadata`,
/// `TunnelId`, `InPort` are pipeline state: they change only the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetField {
    EthDst([u8; 6]),
    EthSrc([u8; 6]),
    EthType(u16),
    /// The VID without OFPVID_PRESENT (the bit is ignored if given); needs a tag.
    VlanVid(u16),
    VlanPcp(u8),
    IpDscp(u8),
    IpEcn(u8),
    IpProto(u8),
    Ipv4Src(u32),
    Ipv4Dst(u32),
    /// TCP/UDP/SCTP source/destination port (whichever the packet has; the OXM says which).
    TpSrc(u16),
    TpDst(u16),
    IcmpType(u8),
    IcmpCode(u8),
    ArpOp(u16),
    ArpSpa(u32),
    ArpTpa(u32),
    ArpSha([u8; 6]),
    ArpTha([u8; 6]),
    Ipv6Src(u128),
    Ipv6Dst(u128),
    Ipv6Flabel(u32),
    Ipv6NdTarget(u128),
    Ipv6NdSll([u8; 6]),
    Ipv6NdTll([u8; 6]),
    MplsLabel(u32),
    MplsTc(u8),
    MplsBos(u8),
    Metadata(u64),
    TunnelId(u64),
}

fn need(o: Option<u16>) -> Result<usize, PacketError> {
    o.map(usize::from).ok_or(PacketError::MissingHeader)
}

/// Applies one set-field to `frame` (described by `p`, which is updated).
pub fn set_field(frame: &mut [u8], p: &mut Parsed, v: SetField) -> Result<(), PacketError> {
    use SetField as S;
    let is4 = p.key.has(field::IPV4_SRC);
    let is6 = p.key.has(field::IPV6_SRC);
    let isarp = p.key.has(field::ARP_OP);
    let eth = || {
        if frame.len() >= 14 {
            Ok(())
        } else {
            Err(PacketError::MissingHeader)
        }
    };
    match v {
        S::EthDst(m) => {
            eth()?;
            frame[0..6].copy_from_slice(&m);
            p.key.eth_dst = m;
        }
        S::EthSrc(m) => {
            eth()?;
            frame[6..12].copy_from_slice(&m);
            p.key.eth_src = m;
        }
        S::EthType(t) => {
            let at = need(p.off.eth_type)?;
            write16(frame, at, t);
            // The rest of the frame now means something else: describe it afresh.
            reparse(frame, p);
        }
        S::VlanVid(vid) => {
            let at = need(p.off.vlan)? + 2;
            let vid = vid & 0x0fff;
            let tci = (read16(frame, at) & 0xf000) | vid;
            write16(frame, at, tci);
            p.key.vlan_vid = OFPVID_PRESENT | vid;
        }
        S::VlanPcp(pcp) => {
            let at = need(p.off.vlan)? + 2;
            if pcp > 7 {
                return Err(PacketError::BadValue);
            }
            let tci = (read16(frame, at) & 0x1fff) | (u16::from(pcp) << 13);
            write16(frame, at, tci);
            p.key.vlan_pcp = pcp;
        }
        S::IpDscp(d) | S::IpEcn(d) => {
            let l3 = need(p.off.l3)?;
            let dscp_set = matches!(v, S::IpDscp(_));
            if (dscp_set && d > 63) || (!dscp_set && d > 3) {
                return Err(PacketError::BadValue);
            }
            let (dscp, ecn) = if dscp_set {
                (d, p.key.ip_ecn)
            } else {
                (p.key.ip_dscp, d)
            };
            let tos = (dscp << 2) | ecn;
            if is4 {
                let new = [frame[l3], tos];
                replace(frame, p, l3, &new, true, L4Sum::None);
            } else if is6 {
                let w = read16(frame, l3);
                let w = (w & 0xf00f) | (u16::from(tos) << 4);
                write16(frame, l3, w);
            } else {
                return Err(PacketError::MissingHeader);
            }
            p.key.ip_dscp = dscp;
            p.key.ip_ecn = ecn;
        }
        S::IpProto(proto) => {
            let l3 = need(p.off.l3)?;
            if !is4 {
                return Err(PacketError::MissingHeader); // IPv6: the chain's last next-header
            }
            let new = [frame[l3 + 8], proto];
            // The pseudo-header holds the protocol too, but the L4 header itself now means
            // something else; only the IP header checksum is kept right.
            replace(frame, p, l3 + 8, &new, true, L4Sum::None);
            reparse(frame, p);
        }
        S::Ipv4Src(a) | S::Ipv4Dst(a) => {
            let l3 = need(p.off.l3)?;
            if !is4 {
                return Err(PacketError::MissingHeader);
            }
            let src = matches!(v, S::Ipv4Src(_));
            let at = l3 + if src { 12 } else { 16 };
            replace(frame, p, at, &a.to_be_bytes(), true, L4Sum::Pseudo);
            if src {
                p.key.ipv4_src = a;
            } else {
                p.key.ipv4_dst = a;
            }
        }
        S::Ipv6Src(a) | S::Ipv6Dst(a) => {
            let l3 = need(p.off.l3)?;
            if !is6 {
                return Err(PacketError::MissingHeader);
            }
            let src = matches!(v, S::Ipv6Src(_));
            let at = l3 + if src { 8 } else { 24 };
            replace(frame, p, at, &a.to_be_bytes(), false, L4Sum::Pseudo);
            if src {
                p.key.ipv6_src = a;
            } else {
                p.key.ipv6_dst = a;
            }
        }
        S::Ipv6Flabel(fl) => {
            let l3 = need(p.off.l3)?;
            if !is6 {
                return Err(PacketError::MissingHeader);
            }
            if fl > 0x000f_ffff {
                return Err(PacketError::BadValue);
            }
            let w = u32::from_be_bytes(frame[l3..l3 + 4].try_into().unwrap_or_default());
            let w = (w & 0xfff0_0000) | fl;
            frame[l3..l3 + 4].copy_from_slice(&w.to_be_bytes());
            p.key.ipv6_flabel = fl;
        }
        S::TpSrc(port) | S::TpDst(port) => {
            let l4 = need(p.off.l4)?;
            let k = &p.key;
            let sctp = k.has(field::SCTP_SRC);
            if !(k.has(field::TCP_SRC) || k.has(field::UDP_SRC) || sctp) {
                return Err(PacketError::MissingHeader);
            }
            let src = matches!(v, S::TpSrc(_));
            let at = l4 + if src { 0 } else { 2 };
            replace(frame, p, at, &port.to_be_bytes(), false, L4Sum::Data);
            if sctp {
                sctp_recompute(frame, p);
            }
            if src {
                p.key.tp_src = port;
            } else {
                p.key.tp_dst = port;
            }
        }
        S::IcmpType(x) | S::IcmpCode(x) => {
            let l4 = need(p.off.l4)?;
            if !(p.key.has(field::ICMPV4_TYPE) || p.key.has(field::ICMPV6_TYPE)) {
                return Err(PacketError::MissingHeader);
            }
            let ty = matches!(v, S::IcmpType(_));
            let mut new = [frame[l4], frame[l4 + 1]];
            new[usize::from(!ty)] = x;
            replace(frame, p, l4, &new, false, L4Sum::Data);
            // An ICMPv6 type or code decides whether the ND fields exist.
            reparse(frame, p);
        }
        S::ArpOp(_) | S::ArpSpa(_) | S::ArpTpa(_) | S::ArpSha(_) | S::ArpTha(_) => {
            let l3 = need(p.off.l3)?;
            if !isarp {
                return Err(PacketError::MissingHeader);
            }
            let k = &mut p.key;
            match v {
                S::ArpOp(op) => {
                    write16(frame, l3 + 6, op);
                    k.arp_op = op;
                }
                S::ArpSha(m) => {
                    frame[l3 + 8..l3 + 14].copy_from_slice(&m);
                    k.arp_sha = m;
                }
                S::ArpSpa(a) => {
                    frame[l3 + 14..l3 + 18].copy_from_slice(&a.to_be_bytes());
                    k.arp_spa = a;
                }
                S::ArpTha(m) => {
                    frame[l3 + 18..l3 + 24].copy_from_slice(&m);
                    k.arp_tha = m;
                }
                S::ArpTpa(a) => {
                    frame[l3 + 24..l3 + 28].copy_from_slice(&a.to_be_bytes());
                    k.arp_tpa = a;
                }
                _ => unreachable!(),
            }
        }
        S::Ipv6NdTarget(t) => {
            let l4 = need(p.off.l4)?;
            if !p.key.has(field::IPV6_ND_TARGET) {
                return Err(PacketError::MissingHeader);
            }
            replace(frame, p, l4 + 8, &t.to_be_bytes(), false, L4Sum::Data);
            p.key.ipv6_nd_target = t;
        }
        S::Ipv6NdSll(m) | S::Ipv6NdTll(m) => {
            let sll = matches!(v, S::Ipv6NdSll(_));
            let l4 = need(p.off.l4)?;
            let bit = if sll {
                field::IPV6_ND_SLL
            } else {
                field::IPV6_ND_TLL
            };
            if !p.key.has(bit) {
                return Err(PacketError::MissingHeader);
            }
            let at =
                nd_option(frame, l4, if sll { 1 } else { 2 }).ok_or(PacketError::MissingHeader)?;
            // The option is at an even offset from the ICMPv6 header (8-byte units), and a
            // MAC is 3 words from its type byte + 2: aligned.
            replace(frame, p, at + 2, &m, false, L4Sum::Data);
            if sll {
                p.key.ipv6_nd_sll = m;
            } else {
                p.key.ipv6_nd_tll = m;
            }
        }
        S::MplsLabel(_) | S::MplsTc(_) | S::MplsBos(_) => {
            let at = need(p.off.mpls)?;
            let mut lse = u32::from_be_bytes(frame[at..at + 4].try_into().unwrap_or_default());
            match v {
                S::MplsLabel(l) if l <= 0x000f_ffff => {
                    lse = (lse & 0xfff) | (l << 12);
                    p.key.mpls_label = l;
                }
                S::MplsTc(tc) if tc <= 7 => {
                    lse = (lse & !(7 << 9)) | (u32::from(tc) << 9);
                    p.key.mpls_tc = tc;
                }
                S::MplsBos(b) if b <= 1 => {
                    lse = (lse & !(1 << 8)) | (u32::from(b) << 8);
                    p.key.mpls_bos = b;
                }
                _ => return Err(PacketError::BadValue),
            }
            frame[at..at + 4].copy_from_slice(&lse.to_be_bytes());
        }
        S::Metadata(m) => p.key.metadata = m,
        S::TunnelId(t) => p.key.tunnel_id = t,
    }
    Ok(())
}

/// Offset of the first ND option of type `want` (1 SLL, 2 TLL) after the target.
fn nd_option(frame: &[u8], l4: usize, want: u8) -> Option<usize> {
    let mut at = l4 + 24;
    while let (Some(&t), Some(&l)) = (frame.get(at), frame.get(at + 1)) {
        let len = usize::from(l) * 8;
        if len == 0 || frame.len() < at + len {
            return None;
        }
        if t == want && len >= 8 {
            return Some(at);
        }
        at += len;
    }
    None
}

/// OFPAT_DEC_NW_TTL: IPv4 TTL (header checksum updated) or IPv6 hop limit. A TTL of 0
/// or 1 is not decremented: `Err(TtlExpired)` (send to the controller as
/// OFPR_INVALID_TTL, or drop).
pub fn dec_nw_ttl(frame: &mut [u8], p: &Parsed) -> Result<(), PacketError> {
    let l3 = need(p.off.l3)?;
    if p.key.has(field::IPV4_SRC) {
        let ttl = frame[l3 + 8];
        if ttl <= 1 {
            return Err(PacketError::TtlExpired);
        }
        let new = [ttl - 1, frame[l3 + 9]];
        replace(frame, p, l3 + 8, &new, true, L4Sum::None);
        Ok(())
    } else if p.key.has(field::IPV6_SRC) {
        let hl = frame[l3 + 7];
        if hl <= 1 {
            return Err(PacketError::TtlExpired);
        }
        frame[l3 + 7] = hl - 1;
        Ok(())
    } else {
        Err(PacketError::MissingHeader)
    }
}

/// OFPAT_SET_NW_TTL.
pub fn set_nw_ttl(frame: &mut [u8], p: &Parsed, ttl: u8) -> Result<(), PacketError> {
    let l3 = need(p.off.l3)?;
    if p.key.has(field::IPV4_SRC) {
        let new = [ttl, frame[l3 + 9]];
        replace(frame, p, l3 + 8, &new, true, L4Sum::None);
        Ok(())
    } else if p.key.has(field::IPV6_SRC) {
        frame[l3 + 7] = ttl;
        Ok(())
    } else {
        Err(PacketError::MissingHeader)
    }
}

/// OFPAT_DEC_MPLS_TTL (top label); `Err(TtlExpired)` at 0 or 1.
pub fn dec_mpls_ttl(frame: &mut [u8], p: &Parsed) -> Result<(), PacketError> {
    let at = need(p.off.mpls)? + 3;
    if frame[at] <= 1 {
        return Err(PacketError::TtlExpired);
    }
    frame[at] -= 1;
    Ok(())
}

/// OFPAT_SET_MPLS_TTL (top label).
pub fn set_mpls_ttl(frame: &mut [u8], p: &Parsed, ttl: u8) -> Result<(), PacketError> {
    let at = need(p.off.mpls)? + 3;
    frame[at] = ttl;
    Ok(())
}

/// Parses `frame` again after a structural change, keeping the pipeline state (ports,
/// metadata, tunnel id) and the caller's checksum flag.
fn reparse(frame: &[u8], p: &mut Parsed) {
    let old = *p;
    *p = parse(frame, old.key.in_port);
    p.key.in_phy_port = old.key.in_phy_port;
    p.key.metadata = old.key.metadata;
    p.key.tunnel_id = old.key.tunnel_id;
    p.off.l4_csum_partial = old.off.l4_csum_partial;
}

fn insert(frame: &mut Vec<u8>, at: usize, bytes: &[u8]) -> Result<(), PacketError> {
    if frame.len() + bytes.len() > 65_535 {
        return Err(PacketError::TooLong);
    }
    frame.splice(at..at, bytes.iter().copied());
    Ok(())
}

/// OFPAT_PUSH_VLAN with TPID `ethertype` (0x8100 or 0x88a8): a new outermost tag,
/// VID and PCP copied from the old outermost tag if any, else 0 (OpenFlow 1.3 §7.2.5 —
/// the VID is then usually set by a following set-field).
pub fn push_vlan(frame: &mut Vec<u8>, p: &mut Parsed, ethertype: u16) -> Result<(), PacketError> {
    if ethertype != ETH_TYPE_VLAN && ethertype != ETH_TYPE_QINQ {
        return Err(PacketError::BadValue);
    }
    need(p.off.eth_type)?;
    let tci = match p.off.vlan {
        Some(at) => read16(frame, usize::from(at) + 2),
        None => 0,
    };
    let mut tag = [0u8; 4];
    tag[..2].copy_from_slice(&ethertype.to_be_bytes());
    tag[2..].copy_from_slice(&tci.to_be_bytes());
    insert(frame, 12, &tag)?;
    reparse(frame, p);
    Ok(())
}

/// OFPAT_POP_VLAN: removes the outermost tag; the next tag (if any) becomes outermost.
/// (Structural changes re-parse the frame: the key and offsets stay exact.)
pub fn pop_vlan(frame: &mut Vec<u8>, p: &mut Parsed) -> Result<(), PacketError> {
    need(p.off.vlan)?;
    frame.drain(12..16);
    reparse(frame, p);
    Ok(())
}

/// OFPAT_PUSH_MPLS with `ethertype` 0x8847/0x8848: a new top label stack entry after the
/// VLAN tags; label and TC from the old top entry, or 0 with BOS=1 and the TTL copied from
/// IPv4/IPv6 (else 0) when the packet had no MPLS.
pub fn push_mpls(frame: &mut Vec<u8>, p: &mut Parsed, ethertype: u16) -> Result<(), PacketError> {
    if ethertype != ETH_TYPE_MPLS && ethertype != ETH_TYPE_MPLS_MCAST {
        return Err(PacketError::BadValue);
    }
    let et = need(p.off.eth_type)?;
    let lse: u32 = match p.off.mpls {
        Some(at) => {
            let old = u32::from_be_bytes(
                frame[usize::from(at)..usize::from(at) + 4]
                    .try_into()
                    .unwrap_or_default(),
            );
            old & !(1 << 8)
        }
        None => {
            let ttl = match p.off.l3.map(usize::from) {
                Some(l3) if p.key.has(field::IPV4_SRC) => frame[l3 + 8],
                Some(l3) if p.key.has(field::IPV6_SRC) => frame[l3 + 7],
                _ => 0,
            };
            (1 << 8) | u32::from(ttl)
        }
    };
    insert(frame, et + 2, &lse.to_be_bytes())?;
    write16(frame, et, ethertype);
    reparse(frame, p);
    Ok(())
}

/// OFPAT_POP_MPLS: removes the top label stack entry, the ethertype becomes `ethertype`.
pub fn pop_mpls(frame: &mut Vec<u8>, p: &mut Parsed, ethertype: u16) -> Result<(), PacketError> {
    let at = need(p.off.mpls)?;
    let et = need(p.off.eth_type)?;
    frame.drain(at..at + 4);
    write16(frame, et, ethertype);
    reparse(frame, p);
    Ok(())
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
