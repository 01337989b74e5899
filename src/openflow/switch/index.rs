//! A table's lookup structure, built from its entries.
//!
//! Interim: priority-ordered entries checked in turn, until the dataplane's classifier
//! (`openflow::classifier`, tuple space + exact-match cache) replaces it behind this API.

use crate::openflow::packet::{FlowKey, field};

use super::flows::{FieldBits, FlowEntry};

#[derive(Debug, Default)]
pub struct Index {
    /// (priority, id, match bits), highest priority first, then oldest.
    entries: Vec<(u16, u64, Vec<FieldBits>)>,
}

fn mac(m: [u8; 6]) -> u128 {
    m.iter().fold(0u128, |a, b| (a << 8) | u128::from(*b))
}

/// The value of OXM field `code` in `k`, if the packet has it.
pub fn key_field(k: &FlowKey, code: u8) -> Option<u128> {
    if !k.has(code) {
        return None;
    }
    Some(match code {
        field::IN_PORT => k.in_port.into(),
        field::IN_PHY_PORT => k.in_phy_port.into(),
        field::METADATA => k.metadata.into(),
        field::ETH_DST => mac(k.eth_dst),
        field::ETH_SRC => mac(k.eth_src),
        field::ETH_TYPE => k.eth_type.into(),
        field::VLAN_VID => k.vlan_vid.into(),
        field::VLAN_PCP => k.vlan_pcp.into(),
        field::IP_DSCP => k.ip_dscp.into(),
        field::IP_ECN => k.ip_ecn.into(),
        field::IP_PROTO => k.ip_proto.into(),
        field::IPV4_SRC => k.ipv4_src.into(),
        field::IPV4_DST => k.ipv4_dst.into(),
        field::TCP_SRC | field::UDP_SRC | field::SCTP_SRC => k.tp_src.into(),
        field::TCP_DST | field::UDP_DST | field::SCTP_DST => k.tp_dst.into(),
        field::ICMPV4_TYPE | field::ICMPV6_TYPE => k.icmp_type.into(),
        field::ICMPV4_CODE | field::ICMPV6_CODE => k.icmp_code.into(),
        field::ARP_OP => k.arp_op.into(),
        field::ARP_SPA => k.arp_spa.into(),
        field::ARP_TPA => k.arp_tpa.into(),
        field::ARP_SHA => mac(k.arp_sha),
        field::ARP_THA => mac(k.arp_tha),
        field::IPV6_SRC => k.ipv6_src,
        field::IPV6_DST => k.ipv6_dst,
        field::IPV6_FLABEL => k.ipv6_flabel.into(),
        field::IPV6_ND_TARGET => k.ipv6_nd_target,
        field::IPV6_ND_SLL => mac(k.ipv6_nd_sll),
        field::IPV6_ND_TLL => mac(k.ipv6_nd_tll),
        field::MPLS_LABEL => k.mpls_label.into(),
        field::MPLS_TC => k.mpls_tc.into(),
        field::MPLS_BOS => k.mpls_bos.into(),
        field::PBB_ISID => k.pbb_isid.into(),
        field::TUNNEL_ID => k.tunnel_id.into(),
        field::IPV6_EXTHDR => k.ipv6_exthdr.into(),
        _ => return None,
    })
}

/// Does the packet with key `k` match these bits?
pub fn key_matches(k: &FlowKey, bits: &[FieldBits]) -> bool {
    bits.iter()
        .all(|(c, v, m)| key_field(k, *c).is_some_and(|x| x & m == *v))
}

impl Index {
    pub fn insert(&mut self, f: &FlowEntry) {
        let at = self.entries.partition_point(|e| {
            (std::cmp::Reverse(e.0), e.1) < (std::cmp::Reverse(f.priority), f.id)
        });
        self.entries.insert(at, (f.priority, f.id, f.bits.clone()));
    }

    pub fn remove(&mut self, f: &FlowEntry) {
        self.entries.retain(|e| e.1 != f.id);
    }

    /// The id of the highest-priority entry matching `k`.
    pub fn lookup(&self, k: &FlowKey) -> Option<u64> {
        self.entries
            .iter()
            .find(|e| key_matches(k, &e.2))
            .map(|e| e.1)
    }
}
