//! Human text for matches, actions and instructions, in the OXM field names and the
//! `ovs-ofctl` action spelling (`eth_dst=01:00:00:00:00:00/01:00:00:00:00:00`,
//! `output:2`, `goto_table:1`), for `topolab openflow … flows` and logs.

use std::fmt::{self, Display, Formatter};

use super::model::*;

struct Mac<'a>(&'a [u8; 6]);

impl Display for Mac<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// A reserved port by name (`CONTROLLER`, `FLOOD`, …), else its number.
pub fn port_name(port: u32) -> String {
    match port {
        port_no::IN_PORT => "IN_PORT".into(),
        port_no::TABLE => "TABLE".into(),
        port_no::NORMAL => "NORMAL".into(),
        port_no::FLOOD => "FLOOD".into(),
        port_no::ALL => "ALL".into(),
        port_no::CONTROLLER => "CONTROLLER".into(),
        port_no::LOCAL => "LOCAL".into(),
        port_no::ANY => "ANY".into(),
        n => n.to_string(),
    }
}

fn opt<T: Display>(f: &mut Formatter<'_>, name: &str, v: T, m: Option<T>) -> fmt::Result {
    write!(f, "{name}={v}")?;
    if let Some(m) = m {
        write!(f, "/{m}")?;
    }
    Ok(())
}

fn hex<T: fmt::LowerHex>(f: &mut Formatter<'_>, name: &str, v: T, m: Option<T>) -> fmt::Result {
    write!(f, "{name}={v:#x}")?;
    if let Some(m) = m {
        write!(f, "/{m:#x}")?;
    }
    Ok(())
}

fn mac(f: &mut Formatter<'_>, name: &str, v: &[u8; 6], m: &Option<[u8; 6]>) -> fmt::Result {
    write!(f, "{name}={}", Mac(v))?;
    if let Some(m) = m {
        write!(f, "/{}", Mac(m))?;
    }
    Ok(())
}

impl Display for OxmField {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use OxmField as F;
        match self {
            F::InPort(p) => write!(f, "in_port={}", port_name(*p)),
            F::InPhyPort(p) => write!(f, "in_phy_port={}", port_name(*p)),
            F::Metadata(v, m) => hex(f, "metadata", *v, *m),
            F::EthDst(v, m) => mac(f, "eth_dst", v, m),
            F::EthSrc(v, m) => mac(f, "eth_src", v, m),
            F::EthType(v) => write!(f, "eth_type={v:#06x}"),
            F::VlanVid(v, m) => hex(f, "vlan_vid", *v, *m),
            F::VlanPcp(v) => write!(f, "vlan_pcp={v}"),
            F::IpDscp(v) => write!(f, "ip_dscp={v}"),
            F::IpEcn(v) => write!(f, "ip_ecn={v}"),
            F::IpProto(v) => write!(f, "ip_proto={v}"),
            F::Ipv4Src(v, m) => opt(f, "ipv4_src", *v, *m),
            F::Ipv4Dst(v, m) => opt(f, "ipv4_dst", *v, *m),
            F::TcpSrc(v) => write!(f, "tcp_src={v}"),
            F::TcpDst(v) => write!(f, "tcp_dst={v}"),
            F::UdpSrc(v) => write!(f, "udp_src={v}"),
            F::UdpDst(v) => write!(f, "udp_dst={v}"),
            F::SctpSrc(v) => write!(f, "sctp_src={v}"),
            F::SctpDst(v) => write!(f, "sctp_dst={v}"),
            F::Icmpv4Type(v) => write!(f, "icmpv4_type={v}"),
            F::Icmpv4Code(v) => write!(f, "icmpv4_code={v}"),
            F::ArpOp(v) => write!(f, "arp_op={v}"),
            F::ArpSpa(v, m) => opt(f, "arp_spa", *v, *m),
            F::ArpTpa(v, m) => opt(f, "arp_tpa", *v, *m),
            F::ArpSha(v, m) => mac(f, "arp_sha", v, m),
            F::ArpTha(v, m) => mac(f, "arp_tha", v, m),
            F::Ipv6Src(v, m) => opt(f, "ipv6_src", *v, *m),
            F::Ipv6Dst(v, m) => opt(f, "ipv6_dst", *v, *m),
            F::Ipv6Flabel(v, m) => hex(f, "ipv6_flabel", *v, *m),
            F::Icmpv6Type(v) => write!(f, "icmpv6_type={v}"),
            F::Icmpv6Code(v) => write!(f, "icmpv6_code={v}"),
            F::Ipv6NdTarget(v) => write!(f, "ipv6_nd_target={v}"),
            F::Ipv6NdSll(v) => write!(f, "ipv6_nd_sll={}", Mac(v)),
            F::Ipv6NdTll(v) => write!(f, "ipv6_nd_tll={}", Mac(v)),
            F::MplsLabel(v) => write!(f, "mpls_label={v}"),
            F::MplsTc(v) => write!(f, "mpls_tc={v}"),
            F::MplsBos(v) => write!(f, "mpls_bos={v}"),
            F::PbbIsid(v, m) => hex(f, "pbb_isid", *v, *m),
            F::TunnelId(v, m) => hex(f, "tunnel_id", *v, *m),
            F::Ipv6Exthdr(v, m) => hex(f, "ipv6_exthdr", *v, *m),
        }
    }
}

/// Fields joined by commas; `any` for the empty match.
impl Display for Match {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.fields.is_empty() {
            return f.write_str("any");
        }
        for (i, x) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{x}")?;
        }
        Ok(())
    }
}

impl Display for Action {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Action::Output {
                port: port_no::CONTROLLER,
                max_len,
            } => write!(f, "CONTROLLER:{max_len}"),
            Action::Output { port, .. } => write!(f, "output:{}", port_name(*port)),
            Action::CopyTtlOut => f.write_str("copy_ttl_out"),
            Action::CopyTtlIn => f.write_str("copy_ttl_in"),
            Action::SetMplsTtl(t) => write!(f, "set_mpls_ttl:{t}"),
            Action::DecMplsTtl => f.write_str("dec_mpls_ttl"),
            Action::PushVlan(e) => write!(f, "push_vlan:{e:#06x}"),
            Action::PopVlan => f.write_str("pop_vlan"),
            Action::PushMpls(e) => write!(f, "push_mpls:{e:#06x}"),
            Action::PopMpls(e) => write!(f, "pop_mpls:{e:#06x}"),
            Action::SetQueue(q) => write!(f, "set_queue:{q}"),
            Action::Group(g) => write!(f, "group:{g}"),
            Action::SetNwTtl(t) => write!(f, "set_nw_ttl:{t}"),
            Action::DecNwTtl => f.write_str("dec_ttl"),
            Action::SetField(x) => {
                let s = x.to_string();
                let (name, value) = s.split_once('=').unwrap_or((&s, ""));
                write!(f, "set_field:{value}->{name}")
            }
            Action::PushPbb(e) => write!(f, "push_pbb:{e:#06x}"),
            Action::PopPbb => f.write_str("pop_pbb"),
            Action::Experimenter { experimenter, .. } => {
                write!(f, "experimenter:{experimenter:#x}")
            }
        }
    }
}

fn actions(f: &mut Formatter<'_>, a: &[Action]) -> fmt::Result {
    if a.is_empty() {
        return f.write_str("drop");
    }
    for (i, x) in a.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{x}")?;
    }
    Ok(())
}

impl Display for Instruction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Instruction::GotoTable(t) => write!(f, "goto_table:{t}"),
            Instruction::WriteMetadata { metadata, mask } => {
                write!(f, "write_metadata:{metadata:#x}/{mask:#x}")
            }
            Instruction::WriteActions(a) => {
                f.write_str("write_actions(")?;
                actions(f, a)?;
                f.write_str(")")
            }
            Instruction::ApplyActions(a) => actions(f, a),
            Instruction::ClearActions => f.write_str("clear_actions"),
            Instruction::Meter(m) => write!(f, "meter:{m}"),
            Instruction::Experimenter { experimenter, .. } => {
                write!(f, "experimenter:{experimenter:#x}")
            }
        }
    }
}

/// Instructions as `ovs-ofctl` prints a flow's `actions=` (`drop` when there are none).
pub fn instructions_text(insts: &[Instruction]) -> String {
    if insts.is_empty() {
        return "drop".into();
    }
    insts
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}
