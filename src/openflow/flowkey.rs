//! Conversions between the codec's OXM fields and the data plane's [`FlowKey`]s:
//! a FLOW_MOD's [`Match`] becomes a [`FlowMatch`] (value, mask) and back (for flow stats
//! and FLOW_REMOVED), a set-field action's OXM becomes a [`SetField`].
//!
//! Every OXM field `n` sets bit `n` of both `present`s, so a match on a field the packet
//! lacks never matches (the prerequisites themselves are checked by
//! [`Match::check_prerequisites`] when the flow is added). An unmasked field gets the
//! all-ones mask of its width.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::classifier::FlowMatch;
use super::codec::{Match, OxmField};
use super::packet::{FlowKey, SetField, field};

const MAC_ONES: [u8; 6] = [0xff; 6];

/// The [`FlowMatch`] of a match (a field given twice: the last one wins; the codec's
/// prerequisite check rejects duplicates).
pub fn flow_match(m: &Match) -> FlowMatch {
    let mut v = FlowKey::default();
    let mut k = FlowKey::default();
    for f in &m.fields {
        use OxmField as O;
        let bit = match *f {
            O::InPort(p) => {
                (v.in_port, k.in_port) = (p, !0);
                field::IN_PORT
            }
            O::InPhyPort(p) => {
                (v.in_phy_port, k.in_phy_port) = (p, !0);
                field::IN_PHY_PORT
            }
            O::Metadata(x, mk) => {
                (v.metadata, k.metadata) = (x, mk.unwrap_or(!0));
                field::METADATA
            }
            O::EthDst(x, mk) => {
                (v.eth_dst, k.eth_dst) = (x, mk.unwrap_or(MAC_ONES));
                field::ETH_DST
            }
            O::EthSrc(x, mk) => {
                (v.eth_src, k.eth_src) = (x, mk.unwrap_or(MAC_ONES));
                field::ETH_SRC
            }
            O::EthType(x) => {
                (v.eth_type, k.eth_type) = (x, !0);
                field::ETH_TYPE
            }
            O::VlanVid(x, mk) => {
                (v.vlan_vid, k.vlan_vid) = (x, mk.unwrap_or(0x1fff) & 0x1fff);
                field::VLAN_VID
            }
            O::VlanPcp(x) => {
                (v.vlan_pcp, k.vlan_pcp) = (x, 0x07);
                field::VLAN_PCP
            }
            O::IpDscp(x) => {
                (v.ip_dscp, k.ip_dscp) = (x, 0x3f);
                field::IP_DSCP
            }
            O::IpEcn(x) => {
                (v.ip_ecn, k.ip_ecn) = (x, 0x03);
                field::IP_ECN
            }
            O::IpProto(x) => {
                (v.ip_proto, k.ip_proto) = (x, !0);
                field::IP_PROTO
            }
            O::Ipv4Src(a, mk) => {
                (v.ipv4_src, k.ipv4_src) = (a.into(), mk.map_or(!0, u32::from));
                field::IPV4_SRC
            }
            O::Ipv4Dst(a, mk) => {
                (v.ipv4_dst, k.ipv4_dst) = (a.into(), mk.map_or(!0, u32::from));
                field::IPV4_DST
            }
            O::TcpSrc(x) | O::UdpSrc(x) | O::SctpSrc(x) => {
                (v.tp_src, k.tp_src) = (x, !0);
                match f {
                    O::TcpSrc(_) => field::TCP_SRC,
                    O::UdpSrc(_) => field::UDP_SRC,
                    _ => field::SCTP_SRC,
                }
            }
            O::TcpDst(x) | O::UdpDst(x) | O::SctpDst(x) => {
                (v.tp_dst, k.tp_dst) = (x, !0);
                match f {
                    O::TcpDst(_) => field::TCP_DST,
                    O::UdpDst(_) => field::UDP_DST,
                    _ => field::SCTP_DST,
                }
            }
            O::Icmpv4Type(x) | O::Icmpv6Type(x) => {
                (v.icmp_type, k.icmp_type) = (x, !0);
                if matches!(f, O::Icmpv4Type(_)) {
                    field::ICMPV4_TYPE
                } else {
                    field::ICMPV6_TYPE
                }
            }
            O::Icmpv4Code(x) | O::Icmpv6Code(x) => {
                (v.icmp_code, k.icmp_code) = (x, !0);
                if matches!(f, O::Icmpv4Code(_)) {
                    field::ICMPV4_CODE
                } else {
                    field::ICMPV6_CODE
                }
            }
            O::ArpOp(x) => {
                (v.arp_op, k.arp_op) = (x, !0);
                field::ARP_OP
            }
            O::ArpSpa(a, mk) => {
                (v.arp_spa, k.arp_spa) = (a.into(), mk.map_or(!0, u32::from));
                field::ARP_SPA
            }
            O::ArpTpa(a, mk) => {
                (v.arp_tpa, k.arp_tpa) = (a.into(), mk.map_or(!0, u32::from));
                field::ARP_TPA
            }
            O::ArpSha(x, mk) => {
                (v.arp_sha, k.arp_sha) = (x, mk.unwrap_or(MAC_ONES));
                field::ARP_SHA
            }
            O::ArpTha(x, mk) => {
                (v.arp_tha, k.arp_tha) = (x, mk.unwrap_or(MAC_ONES));
                field::ARP_THA
            }
            O::Ipv6Src(a, mk) => {
                (v.ipv6_src, k.ipv6_src) = (a.into(), mk.map_or(!0, u128::from));
                field::IPV6_SRC
            }
            O::Ipv6Dst(a, mk) => {
                (v.ipv6_dst, k.ipv6_dst) = (a.into(), mk.map_or(!0, u128::from));
                field::IPV6_DST
            }
            O::Ipv6Flabel(x, mk) => {
                (v.ipv6_flabel, k.ipv6_flabel) = (x, mk.unwrap_or(0x000f_ffff) & 0x000f_ffff);
                field::IPV6_FLABEL
            }
            O::Ipv6NdTarget(a) => {
                (v.ipv6_nd_target, k.ipv6_nd_target) = (a.into(), !0);
                field::IPV6_ND_TARGET
            }
            O::Ipv6NdSll(x) => {
                (v.ipv6_nd_sll, k.ipv6_nd_sll) = (x, MAC_ONES);
                field::IPV6_ND_SLL
            }
            O::Ipv6NdTll(x) => {
                (v.ipv6_nd_tll, k.ipv6_nd_tll) = (x, MAC_ONES);
                field::IPV6_ND_TLL
            }
            O::MplsLabel(x) => {
                (v.mpls_label, k.mpls_label) = (x, 0x000f_ffff);
                field::MPLS_LABEL
            }
            O::MplsTc(x) => {
                (v.mpls_tc, k.mpls_tc) = (x, 0x07);
                field::MPLS_TC
            }
            O::MplsBos(x) => {
                (v.mpls_bos, k.mpls_bos) = (x, 0x01);
                field::MPLS_BOS
            }
            O::PbbIsid(x, mk) => {
                (v.pbb_isid, k.pbb_isid) = (x, mk.unwrap_or(0x00ff_ffff) & 0x00ff_ffff);
                field::PBB_ISID
            }
            O::TunnelId(x, mk) => {
                (v.tunnel_id, k.tunnel_id) = (x, mk.unwrap_or(!0));
                field::TUNNEL_ID
            }
            O::Ipv6Exthdr(x, mk) => {
                (v.ipv6_exthdr, k.ipv6_exthdr) = (x, mk.unwrap_or(0x01ff) & 0x01ff);
                field::IPV6_EXTHDR
            }
        };
        v.set_present(bit);
        k.set_present(bit);
    }
    FlowMatch::new(v, k)
}

/// `Some(mask)` unless it is all ones (`full`).
fn mask_of<M: PartialEq>(m: M, full: M) -> Option<M> {
    (m != full).then_some(m)
}

/// The OXM fields of a [`FlowMatch`], in field-number order (what flow stats and
/// FLOW_REMOVED report; `flow_match(&to_match(m)) == m` for any `m` made by [`flow_match`]).
pub fn to_match(fm: &FlowMatch) -> Match {
    use OxmField as O;
    let (v, k) = (&fm.value, &fm.mask);
    let mut out = Vec::new();
    for bit in 0..=field::IPV6_EXTHDR {
        if !k.has(bit) {
            continue;
        }
        let ip4 = |x: u32| Ipv4Addr::from(x);
        let ip6 = |x: u128| Ipv6Addr::from(x);
        out.push(match bit {
            field::IN_PORT => O::InPort(v.in_port),
            field::IN_PHY_PORT => O::InPhyPort(v.in_phy_port),
            field::METADATA => O::Metadata(v.metadata, mask_of(k.metadata, !0)),
            field::ETH_DST => O::EthDst(v.eth_dst, mask_of(k.eth_dst, MAC_ONES)),
            field::ETH_SRC => O::EthSrc(v.eth_src, mask_of(k.eth_src, MAC_ONES)),
            field::ETH_TYPE => O::EthType(v.eth_type),
            field::VLAN_VID => O::VlanVid(v.vlan_vid, mask_of(k.vlan_vid, 0x1fff)),
            field::VLAN_PCP => O::VlanPcp(v.vlan_pcp),
            field::IP_DSCP => O::IpDscp(v.ip_dscp),
            field::IP_ECN => O::IpEcn(v.ip_ecn),
            field::IP_PROTO => O::IpProto(v.ip_proto),
            field::IPV4_SRC => O::Ipv4Src(ip4(v.ipv4_src), mask_of(k.ipv4_src, !0).map(ip4)),
            field::IPV4_DST => O::Ipv4Dst(ip4(v.ipv4_dst), mask_of(k.ipv4_dst, !0).map(ip4)),
            field::TCP_SRC => O::TcpSrc(v.tp_src),
            field::TCP_DST => O::TcpDst(v.tp_dst),
            field::UDP_SRC => O::UdpSrc(v.tp_src),
            field::UDP_DST => O::UdpDst(v.tp_dst),
            field::SCTP_SRC => O::SctpSrc(v.tp_src),
            field::SCTP_DST => O::SctpDst(v.tp_dst),
            field::ICMPV4_TYPE => O::Icmpv4Type(v.icmp_type),
            field::ICMPV4_CODE => O::Icmpv4Code(v.icmp_code),
            field::ARP_OP => O::ArpOp(v.arp_op),
            field::ARP_SPA => O::ArpSpa(ip4(v.arp_spa), mask_of(k.arp_spa, !0).map(ip4)),
            field::ARP_TPA => O::ArpTpa(ip4(v.arp_tpa), mask_of(k.arp_tpa, !0).map(ip4)),
            field::ARP_SHA => O::ArpSha(v.arp_sha, mask_of(k.arp_sha, MAC_ONES)),
            field::ARP_THA => O::ArpTha(v.arp_tha, mask_of(k.arp_tha, MAC_ONES)),
            field::IPV6_SRC => O::Ipv6Src(ip6(v.ipv6_src), mask_of(k.ipv6_src, !0).map(ip6)),
            field::IPV6_DST => O::Ipv6Dst(ip6(v.ipv6_dst), mask_of(k.ipv6_dst, !0).map(ip6)),
            field::IPV6_FLABEL => O::Ipv6Flabel(v.ipv6_flabel, mask_of(k.ipv6_flabel, 0x000f_ffff)),
            field::ICMPV6_TYPE => O::Icmpv6Type(v.icmp_type),
            field::ICMPV6_CODE => O::Icmpv6Code(v.icmp_code),
            field::IPV6_ND_TARGET => O::Ipv6NdTarget(ip6(v.ipv6_nd_target)),
            field::IPV6_ND_SLL => O::Ipv6NdSll(v.ipv6_nd_sll),
            field::IPV6_ND_TLL => O::Ipv6NdTll(v.ipv6_nd_tll),
            field::MPLS_LABEL => O::MplsLabel(v.mpls_label),
            field::MPLS_TC => O::MplsTc(v.mpls_tc),
            field::MPLS_BOS => O::MplsBos(v.mpls_bos),
            field::PBB_ISID => O::PbbIsid(v.pbb_isid, mask_of(k.pbb_isid, 0x00ff_ffff)),
            field::TUNNEL_ID => O::TunnelId(v.tunnel_id, mask_of(k.tunnel_id, !0)),
            _ => O::Ipv6Exthdr(v.ipv6_exthdr, mask_of(k.ipv6_exthdr, 0x01ff)),
        });
    }
    Match::new(out)
}

/// The packet modification of a set-field action; `None` for fields that cannot be set
/// (in_port, in_phy_port, PBB I-SID, IPv6 extension-header pseudo-field).
pub fn set_field(f: &OxmField) -> Option<SetField> {
    use OxmField as O;
    use SetField as S;
    Some(match *f {
        O::Metadata(x, _) => S::Metadata(x),
        O::TunnelId(x, _) => S::TunnelId(x),
        O::EthDst(x, _) => S::EthDst(x),
        O::EthSrc(x, _) => S::EthSrc(x),
        O::EthType(x) => S::EthType(x),
        O::VlanVid(x, _) => S::VlanVid(x),
        O::VlanPcp(x) => S::VlanPcp(x),
        O::IpDscp(x) => S::IpDscp(x),
        O::IpEcn(x) => S::IpEcn(x),
        O::IpProto(x) => S::IpProto(x),
        O::Ipv4Src(a, _) => S::Ipv4Src(a.into()),
        O::Ipv4Dst(a, _) => S::Ipv4Dst(a.into()),
        O::TcpSrc(x) | O::UdpSrc(x) | O::SctpSrc(x) => S::TpSrc(x),
        O::TcpDst(x) | O::UdpDst(x) | O::SctpDst(x) => S::TpDst(x),
        O::Icmpv4Type(x) | O::Icmpv6Type(x) => S::IcmpType(x),
        O::Icmpv4Code(x) | O::Icmpv6Code(x) => S::IcmpCode(x),
        O::ArpOp(x) => S::ArpOp(x),
        O::ArpSpa(a, _) => S::ArpSpa(a.into()),
        O::ArpTpa(a, _) => S::ArpTpa(a.into()),
        O::ArpSha(x, _) => S::ArpSha(x),
        O::ArpTha(x, _) => S::ArpTha(x),
        O::Ipv6Src(a, _) => S::Ipv6Src(a.into()),
        O::Ipv6Dst(a, _) => S::Ipv6Dst(a.into()),
        O::Ipv6Flabel(x, _) => S::Ipv6Flabel(x),
        O::Ipv6NdTarget(a) => S::Ipv6NdTarget(a.into()),
        O::Ipv6NdSll(x) => S::Ipv6NdSll(x),
        O::Ipv6NdTll(x) => S::Ipv6NdTll(x),
        O::MplsLabel(x) => S::MplsLabel(x),
        O::MplsTc(x) => S::MplsTc(x),
        O::MplsBos(x) => S::MplsBos(x),
        O::InPort(_) | O::InPhyPort(_) | O::PbbIsid(..) | O::Ipv6Exthdr(..) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openflow::classifier::Classifier;
    use crate::openflow::packet;

    fn tcp_frame() -> Vec<u8> {
        let mut f = vec![
            2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x20, 0x0a, 0x08, 0x00,
        ];
        f.extend_from_slice(&[0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 1, 7]);
        f.extend_from_slice(&[
            0x9c, 0x40, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 2, 0, 0, 0, 0, 0, 0,
        ]);
        f
    }

    #[test]
    fn a_match_selects_the_packets_it_names() {
        use OxmField as O;
        let key = packet::parse(&tcp_frame(), 7).key;
        let yes = [
            vec![],
            vec![O::InPort(7)],
            vec![O::EthType(0x0800), O::IpProto(6), O::TcpDst(80)],
            vec![O::VlanVid(0x1000 | 10, None), O::VlanPcp(1)],
            vec![O::VlanVid(0x1000, Some(0x1000))],
            vec![
                O::EthType(0x0800),
                O::Ipv4Dst([10, 0, 1, 0].into(), Some([255, 255, 255, 0].into())),
            ],
            vec![O::EthDst([2, 0, 0, 0, 0, 0], Some([0xff, 0, 0, 0, 0, 0]))],
            vec![O::Metadata(0, None)],
        ];
        let no = [
            vec![O::InPort(8)],
            vec![O::EthType(0x0800), O::IpProto(17), O::UdpDst(80)],
            vec![O::VlanVid(0, None)],
            vec![
                O::EthType(0x0800),
                O::Ipv4Dst([10, 0, 2, 0].into(), Some([255, 255, 255, 0].into())),
            ],
            vec![
                O::EthType(0x86dd),
                O::Ipv6Src(Ipv6Addr::UNSPECIFIED, Some(Ipv6Addr::UNSPECIFIED)),
            ],
        ];
        for fields in yes {
            let fm = flow_match(&Match::new(fields.clone()));
            assert!(fm.matches(&key), "{fields:?}");
            assert_eq!(flow_match(&to_match(&fm)), fm, "{fields:?} round trip");
        }
        for fields in no {
            let fm = flow_match(&Match::new(fields.clone()));
            assert!(!fm.matches(&key), "{fields:?}");
            assert_eq!(flow_match(&to_match(&fm)), fm, "{fields:?} round trip");
        }
        // An untagged frame matches OFPVID_NONE.
        let mut f = tcp_frame();
        f.drain(12..16);
        let untagged = packet::parse(&f, 7).key;
        assert!(flow_match(&Match::new(vec![O::VlanVid(0, None)])).matches(&untagged));
        let mut c = Classifier::new();
        c.insert(1, flow_match(&Match::new(vec![O::TcpDst(80)])), "web");
        assert_eq!(c.lookup(&untagged), Some(&"web"));
    }

    #[test]
    fn to_match_reports_masks_only_when_partial() {
        use OxmField as O;
        let fields = vec![
            O::EthSrc([1, 2, 3, 4, 5, 6], None),
            O::EthType(0x0800),
            O::Ipv4Src([10, 0, 0, 0].into(), Some([255, 0, 0, 0].into())),
        ];
        assert_eq!(
            to_match(&flow_match(&Match::new(fields.clone()))),
            Match::new(fields)
        );
    }

    #[test]
    fn set_field_actions_rewrite_the_frame() {
        use OxmField as O;
        let mut f = tcp_frame();
        let mut p = packet::parse(&f, 7);
        for oxm in [
            O::Ipv4Dst([192, 168, 0, 1].into(), None),
            O::TcpDst(8080),
            O::VlanVid(0x1000 | 5, None),
        ] {
            packet::set_field(&mut f, &mut p, set_field(&oxm).unwrap()).unwrap();
        }
        let fm = flow_match(&Match::new(vec![
            O::Ipv4Dst([192, 168, 0, 1].into(), None),
            O::TcpDst(8080),
            O::VlanVid(0x1000 | 5, None),
        ]));
        assert!(fm.matches(&packet::parse(&f, 7).key));
        assert_eq!(set_field(&O::InPort(1)), None);
    }
}
