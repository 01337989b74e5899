//! OXM TLVs and `ofp_match`: parse, emit, and the spec's match checks (prerequisites,
//! duplicates, masks, value ranges).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::model::*;
use super::wire::{Rd, pad8, patch_len, put_u16, put_u32};

/// `ofp_match.type` for OXM matches.
const OFPMT_OXM: u16 = 1;

/// Why an OXM TLV did not decode; the caller maps it to its context's error code (a
/// match answers BAD_MATCH, a set-field BAD_ACTION).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OxmError {
    /// Truncated, or a length that does not fit the field.
    Len,
    /// A class or field this codec does not know.
    Field,
    /// A mask on a field that cannot be masked.
    Mask,
}

/// (payload width in bytes, maskable) of a basic-class field.
fn width(field: u8) -> Option<(usize, bool)> {
    use oxm_field::*;
    Some(match field {
        IN_PORT | IN_PHY_PORT => (4, false),
        METADATA | TUNNEL_ID => (8, true),
        ETH_DST | ETH_SRC | ARP_SHA | ARP_THA => (6, true),
        ETH_TYPE | TCP_SRC | TCP_DST | UDP_SRC | UDP_DST | SCTP_SRC | SCTP_DST | ARP_OP => {
            (2, false)
        }
        VLAN_VID | IPV6_EXTHDR => (2, true),
        VLAN_PCP | IP_DSCP | IP_ECN | IP_PROTO | ICMPV4_TYPE | ICMPV4_CODE | ICMPV6_TYPE
        | ICMPV6_CODE | MPLS_TC | MPLS_BOS => (1, false),
        IPV4_SRC | IPV4_DST | ARP_SPA | ARP_TPA | IPV6_FLABEL => (4, true),
        IPV6_SRC | IPV6_DST => (16, true),
        IPV6_ND_TARGET => (16, false),
        IPV6_ND_SLL | IPV6_ND_TLL => (6, false),
        MPLS_LABEL => (4, false),
        PBB_ISID => (3, true),
        _ => return None,
    })
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

fn mac(b: &[u8]) -> [u8; 6] {
    let mut a = [0u8; 6];
    a.copy_from_slice(b);
    a
}

fn v4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn v6(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    Ipv6Addr::from(a)
}

/// Reads one OXM TLV. `Ok(None)`: a TLV of another class, skipped (only when `lenient`).
pub(crate) fn parse_oxm(rd: &mut Rd<'_>, lenient: bool) -> Result<Option<OxmField>, OxmError> {
    let hdr = rd.u32().map_err(|_| OxmError::Len)?;
    let class = (hdr >> 16) as u16;
    let field = ((hdr >> 9) & 0x7f) as u8;
    let has_mask = hdr & 0x100 != 0;
    let len = (hdr & 0xff) as usize;
    let payload = rd.bytes(len).map_err(|_| OxmError::Len)?;
    let known = if class == OXM_CLASS_OPENFLOW_BASIC {
        width(field)
    } else {
        None
    };
    let Some((w, maskable)) = known else {
        return if lenient {
            Ok(None)
        } else {
            Err(OxmError::Field)
        };
    };
    if has_mask && !maskable {
        return Err(OxmError::Mask);
    }
    if len != if has_mask { 2 * w } else { w } {
        return Err(OxmError::Len);
    }
    let (v, m) = payload.split_at(w);
    let m = has_mask.then_some(m);
    use oxm_field as f;
    let n = be(v);
    let nm = m.map(be);
    Ok(Some(match field {
        f::IN_PORT => OxmField::InPort(n as u32),
        f::IN_PHY_PORT => OxmField::InPhyPort(n as u32),
        f::METADATA => OxmField::Metadata(n, nm),
        f::ETH_DST => OxmField::EthDst(mac(v), m.map(mac)),
        f::ETH_SRC => OxmField::EthSrc(mac(v), m.map(mac)),
        f::ETH_TYPE => OxmField::EthType(n as u16),
        f::VLAN_VID => OxmField::VlanVid(n as u16, nm.map(|x| x as u16)),
        f::VLAN_PCP => OxmField::VlanPcp(n as u8),
        f::IP_DSCP => OxmField::IpDscp(n as u8),
        f::IP_ECN => OxmField::IpEcn(n as u8),
        f::IP_PROTO => OxmField::IpProto(n as u8),
        f::IPV4_SRC => OxmField::Ipv4Src(v4(v), m.map(v4)),
        f::IPV4_DST => OxmField::Ipv4Dst(v4(v), m.map(v4)),
        f::TCP_SRC => OxmField::TcpSrc(n as u16),
        f::TCP_DST => OxmField::TcpDst(n as u16),
        f::UDP_SRC => OxmField::UdpSrc(n as u16),
        f::UDP_DST => OxmField::UdpDst(n as u16),
        f::SCTP_SRC => OxmField::SctpSrc(n as u16),
        f::SCTP_DST => OxmField::SctpDst(n as u16),
        f::ICMPV4_TYPE => OxmField::Icmpv4Type(n as u8),
        f::ICMPV4_CODE => OxmField::Icmpv4Code(n as u8),
        f::ARP_OP => OxmField::ArpOp(n as u16),
        f::ARP_SPA => OxmField::ArpSpa(v4(v), m.map(v4)),
        f::ARP_TPA => OxmField::ArpTpa(v4(v), m.map(v4)),
        f::ARP_SHA => OxmField::ArpSha(mac(v), m.map(mac)),
        f::ARP_THA => OxmField::ArpTha(mac(v), m.map(mac)),
        f::IPV6_SRC => OxmField::Ipv6Src(v6(v), m.map(v6)),
        f::IPV6_DST => OxmField::Ipv6Dst(v6(v), m.map(v6)),
        f::IPV6_FLABEL => OxmField::Ipv6Flabel(n as u32, nm.map(|x| x as u32)),
        f::ICMPV6_TYPE => OxmField::Icmpv6Type(n as u8),
        f::ICMPV6_CODE => OxmField::Icmpv6Code(n as u8),
        f::IPV6_ND_TARGET => OxmField::Ipv6NdTarget(v6(v)),
        f::IPV6_ND_SLL => OxmField::Ipv6NdSll(mac(v)),
        f::IPV6_ND_TLL => OxmField::Ipv6NdTll(mac(v)),
        f::MPLS_LABEL => OxmField::MplsLabel(n as u32),
        f::MPLS_TC => OxmField::MplsTc(n as u8),
        f::MPLS_BOS => OxmField::MplsBos(n as u8),
        f::PBB_ISID => OxmField::PbbIsid(n as u32, nm.map(|x| x as u32)),
        f::TUNNEL_ID => OxmField::TunnelId(n, nm),
        f::IPV6_EXTHDR => OxmField::Ipv6Exthdr(n as u16, nm.map(|x| x as u16)),
        _ => return Err(OxmError::Field),
    }))
}

impl OxmField {
    /// The OXM field number (`oxm_field::*`).
    pub fn field(&self) -> u8 {
        use oxm_field as f;
        match self {
            OxmField::InPort(_) => f::IN_PORT,
            OxmField::InPhyPort(_) => f::IN_PHY_PORT,
            OxmField::Metadata(..) => f::METADATA,
            OxmField::EthDst(..) => f::ETH_DST,
            OxmField::EthSrc(..) => f::ETH_SRC,
            OxmField::EthType(_) => f::ETH_TYPE,
            OxmField::VlanVid(..) => f::VLAN_VID,
            OxmField::VlanPcp(_) => f::VLAN_PCP,
            OxmField::IpDscp(_) => f::IP_DSCP,
            OxmField::IpEcn(_) => f::IP_ECN,
            OxmField::IpProto(_) => f::IP_PROTO,
            OxmField::Ipv4Src(..) => f::IPV4_SRC,
            OxmField::Ipv4Dst(..) => f::IPV4_DST,
            OxmField::TcpSrc(_) => f::TCP_SRC,
            OxmField::TcpDst(_) => f::TCP_DST,
            OxmField::UdpSrc(_) => f::UDP_SRC,
            OxmField::UdpDst(_) => f::UDP_DST,
            OxmField::SctpSrc(_) => f::SCTP_SRC,
            OxmField::SctpDst(_) => f::SCTP_DST,
            OxmField::Icmpv4Type(_) => f::ICMPV4_TYPE,
            OxmField::Icmpv4Code(_) => f::ICMPV4_CODE,
            OxmField::ArpOp(_) => f::ARP_OP,
            OxmField::ArpSpa(..) => f::ARP_SPA,
            OxmField::ArpTpa(..) => f::ARP_TPA,
            OxmField::ArpSha(..) => f::ARP_SHA,
            OxmField::ArpTha(..) => f::ARP_THA,
            OxmField::Ipv6Src(..) => f::IPV6_SRC,
            OxmField::Ipv6Dst(..) => f::IPV6_DST,
            OxmField::Ipv6Flabel(..) => f::IPV6_FLABEL,
            OxmField::Icmpv6Type(_) => f::ICMPV6_TYPE,
            OxmField::Icmpv6Code(_) => f::ICMPV6_CODE,
            OxmField::Ipv6NdTarget(_) => f::IPV6_ND_TARGET,
            OxmField::Ipv6NdSll(_) => f::IPV6_ND_SLL,
            OxmField::Ipv6NdTll(_) => f::IPV6_ND_TLL,
            OxmField::MplsLabel(_) => f::MPLS_LABEL,
            OxmField::MplsTc(_) => f::MPLS_TC,
            OxmField::MplsBos(_) => f::MPLS_BOS,
            OxmField::PbbIsid(..) => f::PBB_ISID,
            OxmField::TunnelId(..) => f::TUNNEL_ID,
            OxmField::Ipv6Exthdr(..) => f::IPV6_EXTHDR,
        }
    }

    /// True when the field carries a mask.
    pub fn is_masked(&self) -> bool {
        self.value_mask().1.is_some()
    }

    /// The value and mask as integers (addresses big-endian), for range and mask checks.
    pub fn value_mask(&self) -> (u128, Option<u128>) {
        fn m6(a: &[u8; 6]) -> u128 {
            be(a) as u128
        }
        match *self {
            OxmField::InPort(v) | OxmField::InPhyPort(v) | OxmField::MplsLabel(v) => {
                (v as u128, None)
            }
            OxmField::Metadata(v, m) | OxmField::TunnelId(v, m) => {
                (v as u128, m.map(|m| m as u128))
            }
            OxmField::EthDst(v, m)
            | OxmField::EthSrc(v, m)
            | OxmField::ArpSha(v, m)
            | OxmField::ArpTha(v, m) => (m6(&v), m.as_ref().map(m6)),
            OxmField::EthType(v)
            | OxmField::TcpSrc(v)
            | OxmField::TcpDst(v)
            | OxmField::UdpSrc(v)
            | OxmField::UdpDst(v)
            | OxmField::SctpSrc(v)
            | OxmField::SctpDst(v)
            | OxmField::ArpOp(v) => (v as u128, None),
            OxmField::VlanVid(v, m) | OxmField::Ipv6Exthdr(v, m) => {
                (v as u128, m.map(|m| m as u128))
            }
            OxmField::VlanPcp(v)
            | OxmField::IpDscp(v)
            | OxmField::IpEcn(v)
            | OxmField::IpProto(v)
            | OxmField::Icmpv4Type(v)
            | OxmField::Icmpv4Code(v)
            | OxmField::Icmpv6Type(v)
            | OxmField::Icmpv6Code(v)
            | OxmField::MplsTc(v)
            | OxmField::MplsBos(v) => (v as u128, None),
            OxmField::Ipv4Src(v, m)
            | OxmField::Ipv4Dst(v, m)
            | OxmField::ArpSpa(v, m)
            | OxmField::ArpTpa(v, m) => (u32::from(v) as u128, m.map(|m| u32::from(m) as u128)),
            OxmField::Ipv6Src(v, m) | OxmField::Ipv6Dst(v, m) => (u128::from(v), m.map(u128::from)),
            OxmField::Ipv6NdTarget(v) => (u128::from(v), None),
            OxmField::Ipv6NdSll(v) | OxmField::Ipv6NdTll(v) => (m6(&v), None),
            OxmField::Ipv6Flabel(v, m) | OxmField::PbbIsid(v, m) => {
                (v as u128, m.map(|m| m as u128))
            }
        }
    }

    /// The largest value the field's wire bits allow beyond its byte width (VLAN VID 13
    /// bits incl. PRESENT, DSCP 6, ECN 2, PCP 3, MPLS label 20, …); None: the whole width.
    fn max_value(&self) -> Option<u128> {
        Some(match self {
            OxmField::VlanVid(..) => 0x1fff,
            OxmField::VlanPcp(_) | OxmField::MplsTc(_) => 7,
            OxmField::IpDscp(_) => 63,
            OxmField::IpEcn(_) => 3,
            OxmField::MplsBos(_) => 1,
            OxmField::MplsLabel(_) | OxmField::Ipv6Flabel(..) => 0xf_ffff,
            OxmField::PbbIsid(..) => 0xff_ffff,
            OxmField::Ipv6Exthdr(..) => 0x1ff,
            _ => return None,
        })
    }
}

/// Appends one OXM TLV.
pub(crate) fn emit_oxm(f: &OxmField, out: &mut Vec<u8>) {
    let field = f.field();
    let (w, _) = width(field).unwrap_or((0, false));
    let (v, m) = f.value_mask();
    let len = if m.is_some() { 2 * w } else { w };
    let hdr = ((OXM_CLASS_OPENFLOW_BASIC as u32) << 16)
        | ((field as u32) << 9)
        | ((m.is_some() as u32) << 8)
        | len as u32;
    put_u32(out, hdr);
    out.extend_from_slice(&v.to_be_bytes()[16 - w..]);
    if let Some(m) = m {
        out.extend_from_slice(&m.to_be_bytes()[16 - w..]);
    }
}

/// The wire length of one OXM TLV (header included).
pub(crate) fn oxm_len(f: &OxmField) -> usize {
    let (w, _) = width(f.field()).unwrap_or((0, false));
    4 + if f.is_masked() { 2 * w } else { w }
}

/// Reads an `ofp_match` (with its padding). `lenient`: skip TLVs of other classes and
/// unknown fields (in messages from a switch, which may carry more than we model).
pub(crate) fn parse_match(rd: &mut Rd<'_>, lenient: bool) -> Result<Match, DecodeError> {
    let bad = |code, what| DecodeError::new(ErrorType::BAD_MATCH, code, what);
    let short = |_| bad(bad_match::BAD_LEN, "match length");
    let kind = rd.u16().map_err(short)?;
    let len = rd.u16().map_err(short)? as usize;
    if kind != OFPMT_OXM {
        return Err(bad(bad_match::BAD_TYPE, "match type"));
    }
    if len < 4 {
        return Err(bad(bad_match::BAD_LEN, "match length"));
    }
    let body = rd.bytes(len - 4).map_err(short)?;
    rd.skip(len.next_multiple_of(8) - len).map_err(short)?;
    let mut fields = Vec::with_capacity(body.len() / 8 + 1);
    let mut fr = Rd::new(body, ErrorType::BAD_MATCH, bad_match::BAD_LEN, "oxm length");
    while !fr.is_empty() {
        match parse_oxm(&mut fr, lenient) {
            Ok(Some(f)) => fields.push(f),
            Ok(None) => {}
            Err(OxmError::Len) => return Err(bad(bad_match::BAD_LEN, "oxm length")),
            Err(OxmError::Field) => return Err(bad(bad_match::BAD_FIELD, "oxm field")),
            Err(OxmError::Mask) => return Err(bad(bad_match::BAD_MASK, "oxm mask")),
        }
    }
    Ok(Match { fields })
}

/// Appends an `ofp_match` with its padding.
pub(crate) fn emit_match(m: &Match, out: &mut Vec<u8>) {
    let start = out.len();
    put_u16(out, OFPMT_OXM);
    put_u16(out, 0);
    for f in &m.fields {
        emit_oxm(f, out);
    }
    patch_len(out, start + 2, start);
    pad8(out, start);
}

impl Match {
    /// The field with this number (`oxm_field::*`), if present.
    pub fn get(&self, field: u8) -> Option<&OxmField> {
        self.fields.iter().find(|f| f.field() == field)
    }

    /// The spec's checks a switch makes before accepting a match (1.3.5 §7.2.3.6–8): no
    /// field twice (DUP_FIELD), values within the field's bits (BAD_VALUE), no value bit
    /// outside its mask (BAD_WILDCARDS), and every field's prerequisites present
    /// (BAD_PREREQ): eth_type for L3 fields, ip_proto for L4, the ICMPv6 type for ND,
    /// a present VLAN for the PCP, in_port for in_phy_port.
    pub fn check_prerequisites(&self) -> Result<(), ErrorMsg> {
        let err = |code| Err(ErrorMsg::new(ErrorType::BAD_MATCH, code));
        let mut seen: u64 = 0;
        for f in &self.fields {
            let bit = 1u64 << f.field();
            if seen & bit != 0 {
                return err(bad_match::DUP_FIELD);
            }
            seen |= bit;
            let (v, m) = f.value_mask();
            if let Some(max) = f.max_value()
                && (v > max || m.is_some_and(|m| m > max))
            {
                return err(bad_match::BAD_VALUE);
            }
            if let Some(m) = m
                && v & !m != 0
            {
                return err(bad_match::BAD_WILDCARDS);
            }
        }
        let eth_type = match self.get(oxm_field::ETH_TYPE) {
            Some(OxmField::EthType(t)) => Some(*t),
            _ => None,
        };
        let ip_proto = match self.get(oxm_field::IP_PROTO) {
            Some(OxmField::IpProto(p)) => Some(*p),
            _ => None,
        };
        let icmpv6_type = match self.get(oxm_field::ICMPV6_TYPE) {
            Some(OxmField::Icmpv6Type(t)) => Some(*t),
            _ => None,
        };
        let is_v4 = eth_type == Some(0x0800);
        let is_v6 = eth_type == Some(0x86dd);
        let is_ip = is_v4 || is_v6;
        for f in &self.fields {
            use OxmField as F;
            let ok = match f {
                F::InPhyPort(_) => self.get(oxm_field::IN_PORT).is_some(),
                F::VlanPcp(_) => matches!(
                    self.get(oxm_field::VLAN_VID),
                    Some(F::VlanVid(v, m)) if v & VID_PRESENT != 0
                        && m.is_none_or(|m| m & VID_PRESENT != 0)
                ),
                F::IpDscp(_) | F::IpEcn(_) | F::IpProto(_) => is_ip,
                F::Ipv4Src(..) | F::Ipv4Dst(..) => is_v4,
                F::TcpSrc(_) | F::TcpDst(_) => is_ip && ip_proto == Some(6),
                F::UdpSrc(_) | F::UdpDst(_) => is_ip && ip_proto == Some(17),
                F::SctpSrc(_) | F::SctpDst(_) => is_ip && ip_proto == Some(132),
                F::Icmpv4Type(_) | F::Icmpv4Code(_) => is_v4 && ip_proto == Some(1),
                F::ArpOp(_) | F::ArpSpa(..) | F::ArpTpa(..) | F::ArpSha(..) | F::ArpTha(..) => {
                    eth_type == Some(0x0806)
                }
                F::Ipv6Src(..) | F::Ipv6Dst(..) | F::Ipv6Flabel(..) | F::Ipv6Exthdr(..) => is_v6,
                F::Icmpv6Type(_) | F::Icmpv6Code(_) => is_v6 && ip_proto == Some(58),
                F::Ipv6NdTarget(_) => {
                    is_v6 && ip_proto == Some(58) && matches!(icmpv6_type, Some(135 | 136))
                }
                F::Ipv6NdSll(_) => is_v6 && ip_proto == Some(58) && icmpv6_type == Some(135),
                F::Ipv6NdTll(_) => is_v6 && ip_proto == Some(58) && icmpv6_type == Some(136),
                F::MplsLabel(_) | F::MplsTc(_) | F::MplsBos(_) => {
                    matches!(eth_type, Some(0x8847 | 0x8848))
                }
                F::PbbIsid(..) => eth_type == Some(0x88e7),
                _ => true,
            };
            if !ok {
                return err(bad_match::BAD_PREREQ);
            }
        }
        Ok(())
    }
}
