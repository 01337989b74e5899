//! Flows as text, in the syntax network engineers already type into `ovs-ofctl`:
//!
//! ```text
//! table=0,priority=100,ip,nw_dst=10.0.0.0/24,actions=dec_ttl,output:2
//! in_port=1,dl_dst=00:00:00:00:00:02,actions=set_field:5->vlan_vid,group:7
//! priority=0,actions=controller:65535
//! ```
//!
//! [`parse_flow`] turns one such line into a [`FlowMod`] (add, or with [`FlowCommand`] a
//! modify / delete filter); [`format_match`] and [`format_instructions`] print them back
//! the same way, for `topolab openflow … flows`. Pure: no I/O.
//!
//! Supported: the match fields of OpenFlow 1.3 under their OXM names (`eth_dst`,
//! `ipv4_src`, `tcp_dst` …) and the classic `ovs-ofctl` aliases (`dl_dst`, `nw_src`,
//! `tp_dst` …), masks as `VALUE/MASK` or `/PREFIXLEN`, the protocol shorthands (`ip`, `ipv6`,
//! `arp`, `tcp`, `udp`, `sctp`, `icmp`, `icmp6`, `tcp6`, `udp6`, `sctp6`, `mpls`); the flow
//! keys `table`, `priority`, `cookie` (`VALUE/MASK` in filters), `idle_timeout`,
//! `hard_timeout`, `out_port`, `out_group`, `send_flow_rem`, `check_overlap`,
//! `reset_counts`; actions `output:P` (or a bare port), `in_port`, `flood`, `all`, `local`,
//! `normal`, `controller[:MAX_LEN]`, `drop`, `group:G`, `set_field:V->FIELD`,
//! `mod_dl_src:`, `mod_dl_dst:`, `mod_nw_src:`, `mod_nw_dst:`, `mod_tp_src:`, `mod_tp_dst:`,
//! `mod_vlan_vid:`, `mod_vlan_pcp:`, `push_vlan:ETHERTYPE`, `pop_vlan`/`strip_vlan`,
//! `push_mpls:`, `pop_mpls:`, `dec_ttl`, `set_nw_ttl:`, `dec_mpls_ttl`, `set_mpls_ttl:`,
//! `set_queue:`, and the instructions `goto_table:T`, `meter:M`, `write_metadata:V[/M]`,
//! `write_actions(…)`, `clear_actions`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::codec::{
    Action, FlowMod, FlowModCommand, Instruction, Match, NO_BUFFER, OxmField, VID_PRESENT,
    flow_mod_flags, group, port_no, table,
};

/// What a flow line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowCommand {
    Add,
    Modify,
    ModifyStrict,
    Delete,
    DeleteStrict,
}

/// A flow line that does not parse: what is wrong and where (byte offset into the line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at `{token}`)")]
pub struct FlowSyntaxError {
    pub message: String,
    pub token: String,
    pub offset: usize,
}

/// The longest flow line accepted.
pub const MAX_LINE: usize = 16 * 1024;

fn err(message: impl Into<String>, token: &str, offset: usize) -> FlowSyntaxError {
    FlowSyntaxError {
        message: message.into(),
        token: token.chars().take(64).collect(),
        offset,
    }
}

/// Parses one flow line into a FLOW_MOD for `command`. Adds need `actions=` (an empty
/// action list, `actions=drop`, is allowed); deletes must not have it.
pub fn parse_flow<'a>(line: &'a str, command: FlowCommand) -> Result<FlowMod, FlowSyntaxError> {
    if line.len() > MAX_LINE {
        return Err(err(
            format!("flow is longer than {MAX_LINE} bytes"),
            &line[..0],
            0,
        ));
    }
    let mut fm = FlowMod::add(Match::any());
    fm.command = match command {
        FlowCommand::Add => FlowModCommand::Add,
        FlowCommand::Modify => FlowModCommand::Modify,
        FlowCommand::ModifyStrict => FlowModCommand::ModifyStrict,
        FlowCommand::Delete => FlowModCommand::Delete,
        FlowCommand::DeleteStrict => FlowModCommand::DeleteStrict,
    };
    let deleting = matches!(command, FlowCommand::Delete | FlowCommand::DeleteStrict);
    if deleting {
        // A delete with no table touches every table, as ovs-ofctl's del-flows does.
        fm.table_id = table::ALL;
    }
    let (head, actions) = split_actions(line);
    let mut ctx = Ctx::default();
    for (offset, tok) in tokens(head) {
        let (key, value) = match tok.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (tok.trim(), None),
        };
        let key_l = key.to_ascii_lowercase();
        if let Some(()) = shorthand(&key_l, &mut ctx) {
            if value.is_some() {
                return Err(err(format!("`{key}` takes no value"), tok, offset));
            }
            continue;
        }
        let need = |v: Option<&'a str>| -> Result<&'a str, FlowSyntaxError> {
            v.ok_or_else(|| err(format!("`{key}` needs a value"), tok, offset))
        };
        match key_l.as_str() {
            "table" => fm.table_id = int(need(value)?, tok, offset)?,
            "priority" => fm.priority = int(need(value)?, tok, offset)?,
            "idle_timeout" => fm.idle_timeout = int(need(value)?, tok, offset)?,
            "hard_timeout" => fm.hard_timeout = int(need(value)?, tok, offset)?,
            "cookie" => {
                let v = need(value)?;
                match v.split_once('/') {
                    Some((c, m)) => {
                        fm.cookie = int(c, tok, offset)?;
                        fm.cookie_mask = int(m, tok, offset)?;
                    }
                    None => {
                        fm.cookie = int(v, tok, offset)?;
                        if deleting
                            || matches!(command, FlowCommand::Modify | FlowCommand::ModifyStrict)
                        {
                            fm.cookie_mask = u64::MAX;
                        }
                    }
                }
            }
            "out_port" => fm.out_port = port(need(value)?, tok, offset)?,
            "out_group" => fm.out_group = group_id(need(value)?, tok, offset)?,
            "send_flow_rem" => fm.flags |= flow_mod_flags::SEND_FLOW_REM,
            "check_overlap" => fm.flags |= flow_mod_flags::CHECK_OVERLAP,
            "reset_counts" => fm.flags |= flow_mod_flags::RESET_COUNTS,
            "no_packet_counts" => fm.flags |= flow_mod_flags::NO_PKT_COUNTS,
            "no_byte_counts" => fm.flags |= flow_mod_flags::NO_BYT_COUNTS,
            _ => {
                let v = need(value)?;
                let field = match_field(&key_l, v, &ctx).map_err(|m| err(m, tok, offset))?;
                ctx.note(&field);
                if ctx.fields.iter().any(|f| same_kind(f, &field)) {
                    return Err(err(format!("`{key}` is given twice"), tok, offset));
                }
                ctx.fields.push(field);
            }
        }
    }
    let mut fields = ctx.prereqs();
    fields.append(&mut ctx.fields);
    fm.r#match = Match::new(fields);
    match actions {
        Some((offset, text)) => {
            if deleting {
                return Err(err("a delete takes no actions", text, offset));
            }
            fm.instructions = parse_instructions(text, offset)?;
        }
        None if !deleting => {
            return Err(err(
                "a flow needs `actions=` (use `actions=drop` for none)",
                line,
                0,
            ));
        }
        None => {}
    }
    Ok(fm)
}

/// Splits `…,actions=REST` (ovs-ofctl: `actions` is always last and takes the rest).
fn split_actions(line: &str) -> (&str, Option<(usize, &str)>) {
    let lower = line.to_ascii_lowercase();
    let mut search = 0;
    while let Some(i) = lower[search..].find("actions=") {
        let at = search + i;
        let before = lower[..at].trim_end();
        // `actions=` must start a token (not `write_actions=`).
        if before.is_empty() || before.ends_with(',') || lower[..at].ends_with(' ') {
            return (&line[..at], Some((at + 8, &line[at + 8..])));
        }
        search = at + 8;
    }
    (line, None)
}

/// Comma- or space-separated tokens outside parentheses, with their byte offsets.
fn tokens(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' | ' ' | '\t' if depth == 0 => {
                if !s[start..i].trim().is_empty() {
                    out.push((start, &s[start..i]));
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if !s[start..].trim().is_empty() {
        out.push((start, &s[start..]));
    }
    out
}

#[derive(Default)]
struct Ctx {
    eth_type: Option<u16>,
    ip_proto: Option<u8>,
    fields: Vec<OxmField>,
    implied_eth: Option<u16>,
    implied_proto: Option<u8>,
}

impl Ctx {
    fn note(&mut self, f: &OxmField) {
        match f {
            OxmField::EthType(t) => self.eth_type = Some(*t),
            OxmField::IpProto(p) => self.ip_proto = Some(*p),
            _ => {}
        }
    }

    fn eth(&self) -> Option<u16> {
        self.eth_type.or(self.implied_eth)
    }

    fn proto(&self) -> Option<u8> {
        self.ip_proto.or(self.implied_proto)
    }

    /// The fields a shorthand implied, unless given explicitly too.
    fn prereqs(&self) -> Vec<OxmField> {
        let mut v = Vec::new();
        if let (Some(t), None) = (self.implied_eth, self.eth_type) {
            v.push(OxmField::EthType(t));
        }
        if let (Some(p), None) = (self.implied_proto, self.ip_proto) {
            v.push(OxmField::IpProto(p));
        }
        v
    }
}

const ETH_IP: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_ARP: u16 = 0x0806;
const ETH_MPLS: u16 = 0x8847;

fn shorthand(key: &str, ctx: &mut Ctx) -> Option<()> {
    let (eth, proto) = match key {
        "ip" | "ipv4" => (ETH_IP, None),
        "ipv6" => (ETH_IPV6, None),
        "arp" => (ETH_ARP, None),
        "mpls" => (ETH_MPLS, None),
        "icmp" => (ETH_IP, Some(1)),
        "tcp" => (ETH_IP, Some(6)),
        "udp" => (ETH_IP, Some(17)),
        "sctp" => (ETH_IP, Some(132)),
        "icmp6" => (ETH_IPV6, Some(58)),
        "tcp6" => (ETH_IPV6, Some(6)),
        "udp6" => (ETH_IPV6, Some(17)),
        "sctp6" => (ETH_IPV6, Some(132)),
        _ => return None,
    };
    ctx.implied_eth = Some(eth);
    if proto.is_some() {
        ctx.implied_proto = proto;
    }
    Some(())
}

fn same_kind(a: &OxmField, b: &OxmField) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn int<T: TryFrom<u64>>(s: &str, tok: &str, offset: usize) -> Result<T, FlowSyntaxError> {
    let v = parse_u64(s).ok_or_else(|| err(format!("`{s}` is not a number"), tok, offset))?;
    T::try_from(v).map_err(|_| err(format!("{s} is out of range"), tok, offset))
}

fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

fn num<T: TryFrom<u64>>(s: &str) -> Result<T, String> {
    let v = parse_u64(s).ok_or_else(|| format!("`{s}` is not a number"))?;
    T::try_from(v).map_err(|_| format!("{s} is out of range"))
}

fn port(s: &str, tok: &str, offset: usize) -> Result<u32, FlowSyntaxError> {
    port_name(s).map_err(|m| err(m, tok, offset))
}

fn port_name(s: &str) -> Result<u32, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "in_port" => port_no::IN_PORT,
        "table" => port_no::TABLE,
        "normal" => port_no::NORMAL,
        "flood" => port_no::FLOOD,
        "all" => port_no::ALL,
        "controller" => port_no::CONTROLLER,
        "local" => port_no::LOCAL,
        "any" | "none" => port_no::ANY,
        _ => {
            let p: u32 = num(s)?;
            if p == 0 || (p > port_no::MAX && p != port_no::ANY) {
                return Err(format!("{s} is not a valid port number"));
            }
            p
        }
    })
}

fn group_id(s: &str, tok: &str, offset: usize) -> Result<u32, FlowSyntaxError> {
    match s.to_ascii_lowercase().as_str() {
        "any" => Ok(group::ANY),
        "all" => Ok(group::ALL),
        _ => int(s, tok, offset),
    }
}

fn mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!("`{s}` is not a MAC address"));
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 {
            return Err(format!("`{s}` is not a MAC address"));
        }
        m[i] = u8::from_str_radix(p, 16).map_err(|_| format!("`{s}` is not a MAC address"))?;
    }
    Ok(m)
}

fn mac_masked(s: &str) -> Result<([u8; 6], Option<[u8; 6]>), String> {
    match s.split_once('/') {
        Some((v, m)) => Ok((mac(v)?, Some(mac(m)?))),
        None => Ok((mac(s)?, None)),
    }
}

fn v4_masked(s: &str) -> Result<(Ipv4Addr, Option<Ipv4Addr>), String> {
    let bad = || format!("`{s}` is not an IPv4 address or prefix");
    match s.split_once('/') {
        Some((a, m)) => {
            let a: Ipv4Addr = a.parse().map_err(|_| bad())?;
            let mask = if let Ok(len) = m.parse::<u32>() {
                if len > 32 {
                    return Err(bad());
                }
                Ipv4Addr::from(if len == 0 { 0 } else { u32::MAX << (32 - len) })
            } else {
                m.parse().map_err(|_| bad())?
            };
            let masked = Ipv4Addr::from(u32::from(a) & u32::from(mask));
            Ok((masked, (u32::from(mask) != u32::MAX).then_some(mask)))
        }
        None => Ok((s.parse().map_err(|_| bad())?, None)),
    }
}

fn v6_masked(s: &str) -> Result<(Ipv6Addr, Option<Ipv6Addr>), String> {
    let bad = || format!("`{s}` is not an IPv6 address or prefix");
    match s.split_once('/') {
        Some((a, m)) => {
            let a: Ipv6Addr = a.parse().map_err(|_| bad())?;
            let mask = if let Ok(len) = m.parse::<u32>() {
                if len > 128 {
                    return Err(bad());
                }
                Ipv6Addr::from(if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                })
            } else {
                m.parse().map_err(|_| bad())?
            };
            let masked = Ipv6Addr::from(u128::from(a) & u128::from(mask));
            Ok((masked, (u128::from(mask) != u128::MAX).then_some(mask)))
        }
        None => Ok((s.parse().map_err(|_| bad())?, None)),
    }
}

fn masked_num<T: TryFrom<u64> + Copy>(s: &str) -> Result<(T, Option<T>), String> {
    match s.split_once('/') {
        Some((v, m)) => Ok((num(v)?, Some(num(m)?))),
        None => Ok((num(s)?, None)),
    }
}

/// One match field by name (OXM or classic ovs-ofctl alias).
fn match_field(key: &str, v: &str, ctx: &Ctx) -> Result<OxmField, String> {
    use OxmField as F;
    let l4 = |tcp: fn(u16) -> F, udp: fn(u16) -> F, sctp: fn(u16) -> F| -> Result<F, String> {
        let p: u16 = num(v)?;
        match ctx.proto() {
            Some(6) => Ok(tcp(p)),
            Some(17) => Ok(udp(p)),
            Some(132) => Ok(sctp(p)),
            _ => Err(format!(
                "`{key}` needs tcp, udp or sctp first (e.g. `tcp,{key}={v}`)"
            )),
        }
    };
    Ok(match key {
        "in_port" => F::InPort(port_name(v)?),
        "in_phy_port" => F::InPhyPort(port_name(v)?),
        "metadata" => {
            let (a, m) = masked_num(v)?;
            F::Metadata(a, m)
        }
        "dl_dst" | "eth_dst" => {
            let (a, m) = mac_masked(v)?;
            F::EthDst(a, m)
        }
        "dl_src" | "eth_src" => {
            let (a, m) = mac_masked(v)?;
            F::EthSrc(a, m)
        }
        "dl_type" | "eth_type" => F::EthType(num(v)?),
        "dl_vlan" | "vlan_vid" => {
            if v.eq_ignore_ascii_case("none") || v == "0xffff" {
                F::VlanVid(0, None)
            } else {
                let (a, m): (u16, Option<u16>) = masked_num(v)?;
                if m.is_none() && a > 0x0fff {
                    return Err(format!("VLAN id {a} is over 4095"));
                }
                match m {
                    Some(m) => F::VlanVid(a, Some(m)),
                    None => F::VlanVid(a | VID_PRESENT, None),
                }
            }
        }
        "dl_vlan_pcp" | "vlan_pcp" => F::VlanPcp(bounded(v, 7)?),
        "ip_dscp" => F::IpDscp(bounded(v, 63)?),
        "nw_tos" => {
            let tos: u8 = num(v)?;
            F::IpDscp(tos >> 2)
        }
        "nw_ecn" | "ip_ecn" => F::IpEcn(bounded(v, 3)?),
        "nw_proto" | "ip_proto" => F::IpProto(num(v)?),
        "nw_src" | "ip_src" | "ipv4_src" => {
            let (a, m) = v4_masked(v)?;
            F::Ipv4Src(a, m)
        }
        "nw_dst" | "ip_dst" | "ipv4_dst" => {
            let (a, m) = v4_masked(v)?;
            F::Ipv4Dst(a, m)
        }
        "tcp_src" => F::TcpSrc(num(v)?),
        "tcp_dst" => F::TcpDst(num(v)?),
        "udp_src" => F::UdpSrc(num(v)?),
        "udp_dst" => F::UdpDst(num(v)?),
        "sctp_src" => F::SctpSrc(num(v)?),
        "sctp_dst" => F::SctpDst(num(v)?),
        "tp_src" => l4(F::TcpSrc, F::UdpSrc, F::SctpSrc)?,
        "tp_dst" => l4(F::TcpDst, F::UdpDst, F::SctpDst)?,
        "icmp_type" | "icmpv4_type" | "icmpv6_type" => {
            if key == "icmpv6_type" || ctx.eth() == Some(ETH_IPV6) {
                F::Icmpv6Type(num(v)?)
            } else {
                F::Icmpv4Type(num(v)?)
            }
        }
        "icmp_code" | "icmpv4_code" | "icmpv6_code" => {
            if key == "icmpv6_code" || ctx.eth() == Some(ETH_IPV6) {
                F::Icmpv6Code(num(v)?)
            } else {
                F::Icmpv4Code(num(v)?)
            }
        }
        "arp_op" => F::ArpOp(num(v)?),
        "arp_spa" => {
            let (a, m) = v4_masked(v)?;
            F::ArpSpa(a, m)
        }
        "arp_tpa" => {
            let (a, m) = v4_masked(v)?;
            F::ArpTpa(a, m)
        }
        "arp_sha" => {
            let (a, m) = mac_masked(v)?;
            F::ArpSha(a, m)
        }
        "arp_tha" => {
            let (a, m) = mac_masked(v)?;
            F::ArpTha(a, m)
        }
        "ipv6_src" => {
            let (a, m) = v6_masked(v)?;
            F::Ipv6Src(a, m)
        }
        "ipv6_dst" => {
            let (a, m) = v6_masked(v)?;
            F::Ipv6Dst(a, m)
        }
        "ipv6_label" | "ipv6_flabel" => {
            let (a, m): (u32, Option<u32>) = masked_num(v)?;
            if a > 0xfffff {
                return Err(format!("flow label {a} is over 20 bits"));
            }
            F::Ipv6Flabel(a, m)
        }
        "nd_target" | "ipv6_nd_target" => F::Ipv6NdTarget(
            v.parse()
                .map_err(|_| format!("`{v}` is not an IPv6 address"))?,
        ),
        "nd_sll" | "ipv6_nd_sll" => F::Ipv6NdSll(mac(v)?),
        "nd_tll" | "ipv6_nd_tll" => F::Ipv6NdTll(mac(v)?),
        "mpls_label" => {
            let l: u32 = num(v)?;
            if l > 0xfffff {
                return Err(format!("MPLS label {l} is over 20 bits"));
            }
            F::MplsLabel(l)
        }
        "mpls_tc" => F::MplsTc(bounded(v, 7)?),
        "mpls_bos" => F::MplsBos(bounded(v, 1)?),
        "pbb_isid" => {
            let (a, m) = masked_num(v)?;
            F::PbbIsid(a, m)
        }
        "tun_id" | "tunnel_id" => {
            let (a, m) = masked_num(v)?;
            F::TunnelId(a, m)
        }
        "ipv6_exthdr" => {
            let (a, m) = masked_num(v)?;
            F::Ipv6Exthdr(a, m)
        }
        _ => return Err(format!("unknown match field `{key}`")),
    })
}

fn bounded(v: &str, max: u8) -> Result<u8, String> {
    let x: u8 = num(v)?;
    if x > max {
        return Err(format!("{x} is over {max}"));
    }
    Ok(x)
}

/// The actions and instructions after `actions=`.
fn parse_instructions(text: &str, base: usize) -> Result<Vec<Instruction>, FlowSyntaxError> {
    let mut apply = Vec::new();
    let mut rest = Vec::new();
    let mut dropped = false;
    for (off, tok) in tokens(text) {
        let offset = base + off;
        let tok_t = tok.trim();
        let (name, arg) = match tok_t.split_once([':', '(']) {
            Some((n, a)) => (n.to_ascii_lowercase(), Some(a.trim_end_matches(')'))),
            None => (tok_t.to_ascii_lowercase(), None),
        };
        let need = || arg.ok_or_else(|| err(format!("`{name}` needs an argument"), tok, offset));
        let e = |m: String| err(m, tok, offset);
        match name.as_str() {
            "drop" => dropped = true,
            "goto_table" => rest.push(Instruction::GotoTable(int(need()?, tok, offset)?)),
            "meter" => rest.push(Instruction::Meter(int(need()?, tok, offset)?)),
            "write_metadata" => {
                let (v, m): (u64, Option<u64>) = masked_num(need()?).map_err(e)?;
                rest.push(Instruction::WriteMetadata {
                    metadata: v,
                    mask: m.unwrap_or(u64::MAX),
                });
            }
            "clear_actions" => rest.push(Instruction::ClearActions),
            "write_actions" => {
                let inner = tok_t
                    .strip_prefix(&tok_t[..name.len()])
                    .and_then(|s| s.strip_prefix('('))
                    .and_then(|s| s.strip_suffix(')'))
                    .ok_or_else(|| err("write_actions needs `(ACTIONS)`", tok, offset))?;
                let inner_off = offset + name.len() + 1;
                let mut acts = Vec::new();
                for (o, t) in tokens(inner) {
                    acts.push(action(t.trim(), inner_off + o)?);
                }
                rest.push(Instruction::WriteActions(acts));
            }
            _ => apply.push(action(tok_t, offset)?),
        }
    }
    if dropped && !apply.is_empty() {
        return Err(err(
            "`drop` cannot be combined with other actions",
            text,
            base,
        ));
    }
    let mut out = Vec::new();
    if !apply.is_empty() {
        out.push(Instruction::ApplyActions(apply));
    }
    // Instruction order on the wire follows the pipeline's own order.
    rest.sort_by_key(|i| match i {
        Instruction::Meter(_) => 0,
        Instruction::ClearActions => 2,
        Instruction::WriteActions(_) => 3,
        Instruction::WriteMetadata { .. } => 4,
        Instruction::GotoTable(_) => 5,
        _ => 6,
    });
    let (before, after): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|i| matches!(i, Instruction::Meter(_)));
    let mut all = before;
    all.append(&mut out);
    all.extend(after);
    Ok(all)
}

fn action(tok: &str, offset: usize) -> Result<Action, FlowSyntaxError> {
    let e = |m: String| err(m, tok, offset);
    let (name, arg) = match tok.split_once(':') {
        Some((n, a)) => (n.to_ascii_lowercase(), Some(a)),
        None => (tok.to_ascii_lowercase(), None),
    };
    let need = || arg.ok_or_else(|| err(format!("`{name}` needs an argument"), tok, offset));
    let out = |port: u32| Action::Output { port, max_len: 0 };
    Ok(match name.as_str() {
        "output" => out(port(need()?, tok, offset)?),
        "in_port" | "flood" | "all" | "local" | "normal" => out(port(&name, tok, offset)?),
        "controller" => Action::Output {
            port: port_no::CONTROLLER,
            max_len: match arg {
                Some(a) => {
                    let a = a.strip_prefix("max_len=").unwrap_or(a);
                    int(a, tok, offset)?
                }
                None => crate::openflow::codec::controller_max_len::NO_BUFFER,
            },
        },
        "group" => Action::Group(int(need()?, tok, offset)?),
        "set_queue" => Action::SetQueue(int(need()?, tok, offset)?),
        "dec_ttl" => Action::DecNwTtl,
        "set_nw_ttl" | "mod_nw_ttl" => Action::SetNwTtl(int(need()?, tok, offset)?),
        "dec_mpls_ttl" => Action::DecMplsTtl,
        "set_mpls_ttl" => Action::SetMplsTtl(int(need()?, tok, offset)?),
        "copy_ttl_out" => Action::CopyTtlOut,
        "copy_ttl_in" => Action::CopyTtlIn,
        "push_vlan" => Action::PushVlan(int(need()?, tok, offset)?),
        "pop_vlan" | "strip_vlan" => Action::PopVlan,
        "push_mpls" => Action::PushMpls(int(need()?, tok, offset)?),
        "pop_mpls" => Action::PopMpls(int(need()?, tok, offset)?),
        "push_pbb" => Action::PushPbb(int(need()?, tok, offset)?),
        "pop_pbb" => Action::PopPbb,
        "mod_dl_src" => Action::SetField(OxmField::EthSrc(mac(need()?).map_err(e)?, None)),
        "mod_dl_dst" => Action::SetField(OxmField::EthDst(mac(need()?).map_err(e)?, None)),
        "mod_nw_src" => Action::SetField(OxmField::Ipv4Src(
            need()?
                .parse()
                .map_err(|_| err("not an IPv4 address", tok, offset))?,
            None,
        )),
        "mod_nw_dst" => Action::SetField(OxmField::Ipv4Dst(
            need()?
                .parse()
                .map_err(|_| err("not an IPv4 address", tok, offset))?,
            None,
        )),
        "mod_vlan_vid" => {
            let v: u16 = int(need()?, tok, offset)?;
            if v > 0x0fff {
                return Err(err(format!("VLAN id {v} is over 4095"), tok, offset));
            }
            Action::SetField(OxmField::VlanVid(v | VID_PRESENT, None))
        }
        "mod_vlan_pcp" => Action::SetField(OxmField::VlanPcp(bounded(need()?, 7).map_err(e)?)),
        "mod_tp_src" | "mod_tp_dst" => {
            return Err(err(
                format!("`{name}` needs the protocol: use set_field:PORT->tcp_src (or udp_/sctp_)"),
                tok,
                offset,
            ));
        }
        "set_field" | "load" => {
            let a = need()?;
            let (value, field) = a
                .split_once("->")
                .ok_or_else(|| err("set_field needs `VALUE->FIELD`", tok, offset))?;
            if value.contains('/') {
                return Err(err("set_field takes no mask in OpenFlow 1.3", tok, offset));
            }
            let f = match_field(
                &field.trim().to_ascii_lowercase(),
                value.trim(),
                &Ctx::default(),
            )
            .map_err(e)?;
            let f = match f {
                // set_field:5->vlan_vid sets the VID; the present bit goes on the wire.
                OxmField::VlanVid(v, None) => OxmField::VlanVid(v | VID_PRESENT, None),
                f => f,
            };
            Action::SetField(f)
        }
        _ => {
            // A bare number is an output port, as in ovs-ofctl.
            if parse_u64(&name).is_some() && arg.is_none() {
                out(port(&name, tok, offset)?)
            } else {
                return Err(err(format!("unknown action `{name}`"), tok, offset));
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// Printing

fn fmt_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// A port number as ovs-ofctl prints it.
pub fn format_port(p: u32) -> String {
    match p {
        port_no::IN_PORT => "IN_PORT".into(),
        port_no::TABLE => "TABLE".into(),
        port_no::NORMAL => "NORMAL".into(),
        port_no::FLOOD => "FLOOD".into(),
        port_no::ALL => "ALL".into(),
        port_no::CONTROLLER => "CONTROLLER".into(),
        port_no::LOCAL => "LOCAL".into(),
        port_no::ANY => "ANY".into(),
        p => p.to_string(),
    }
}

/// One OXM field as `name=value[/mask]`.
pub fn format_field(f: &OxmField) -> String {
    use OxmField as F;
    fn m<T: std::fmt::Display>(name: &str, v: T, mask: Option<T>) -> String {
        match mask {
            Some(mask) => format!("{name}={v}/{mask}"),
            None => format!("{name}={v}"),
        }
    }
    fn hx<T: std::fmt::LowerHex>(name: &str, v: T, mask: Option<T>) -> String {
        match mask {
            Some(mask) => format!("{name}={v:#x}/{mask:#x}"),
            None => format!("{name}={v:#x}"),
        }
    }
    let mac_m = |name: &str, v: &[u8; 6], mask: &Option<[u8; 6]>| match mask {
        Some(mask) => format!("{name}={}/{}", fmt_mac(v), fmt_mac(mask)),
        None => format!("{name}={}", fmt_mac(v)),
    };
    match f {
        F::InPort(p) => format!("in_port={}", format_port(*p)),
        F::InPhyPort(p) => format!("in_phy_port={}", format_port(*p)),
        F::Metadata(v, mk) => hx("metadata", *v, *mk),
        F::EthDst(v, mk) => mac_m("eth_dst", v, mk),
        F::EthSrc(v, mk) => mac_m("eth_src", v, mk),
        F::EthType(t) => format!("eth_type={t:#06x}"),
        F::VlanVid(v, None) if *v & VID_PRESENT != 0 => format!("vlan_vid={}", v & 0x0fff),
        F::VlanVid(v, mk) => hx("vlan_vid", *v, *mk),
        F::VlanPcp(v) => format!("vlan_pcp={v}"),
        F::IpDscp(v) => format!("ip_dscp={v}"),
        F::IpEcn(v) => format!("ip_ecn={v}"),
        F::IpProto(v) => format!("ip_proto={v}"),
        F::Ipv4Src(v, mk) => m("ipv4_src", v, mk.as_ref()),
        F::Ipv4Dst(v, mk) => m("ipv4_dst", v, mk.as_ref()),
        F::TcpSrc(v) => format!("tcp_src={v}"),
        F::TcpDst(v) => format!("tcp_dst={v}"),
        F::UdpSrc(v) => format!("udp_src={v}"),
        F::UdpDst(v) => format!("udp_dst={v}"),
        F::SctpSrc(v) => format!("sctp_src={v}"),
        F::SctpDst(v) => format!("sctp_dst={v}"),
        F::Icmpv4Type(v) => format!("icmpv4_type={v}"),
        F::Icmpv4Code(v) => format!("icmpv4_code={v}"),
        F::ArpOp(v) => format!("arp_op={v}"),
        F::ArpSpa(v, mk) => m("arp_spa", v, mk.as_ref()),
        F::ArpTpa(v, mk) => m("arp_tpa", v, mk.as_ref()),
        F::ArpSha(v, mk) => mac_m("arp_sha", v, mk),
        F::ArpTha(v, mk) => mac_m("arp_tha", v, mk),
        F::Ipv6Src(v, mk) => m("ipv6_src", v, mk.as_ref()),
        F::Ipv6Dst(v, mk) => m("ipv6_dst", v, mk.as_ref()),
        F::Ipv6Flabel(v, mk) => hx("ipv6_flabel", *v, *mk),
        F::Icmpv6Type(v) => format!("icmpv6_type={v}"),
        F::Icmpv6Code(v) => format!("icmpv6_code={v}"),
        F::Ipv6NdTarget(v) => format!("ipv6_nd_target={v}"),
        F::Ipv6NdSll(v) => format!("ipv6_nd_sll={}", fmt_mac(v)),
        F::Ipv6NdTll(v) => format!("ipv6_nd_tll={}", fmt_mac(v)),
        F::MplsLabel(v) => format!("mpls_label={v}"),
        F::MplsTc(v) => format!("mpls_tc={v}"),
        F::MplsBos(v) => format!("mpls_bos={v}"),
        F::PbbIsid(v, mk) => hx("pbb_isid", *v, *mk),
        F::TunnelId(v, mk) => hx("tunnel_id", *v, *mk),
        F::Ipv6Exthdr(v, mk) => hx("ipv6_exthdr", *v, *mk),
    }
}

/// A match as `f1=v1,f2=v2` (empty for match-all).
pub fn format_match(m: &Match) -> String {
    m.fields
        .iter()
        .map(format_field)
        .collect::<Vec<_>>()
        .join(",")
}

/// One action as ovs-ofctl prints it.
pub fn format_action(a: &Action) -> String {
    match a {
        Action::Output { port, max_len } if *port == port_no::CONTROLLER => {
            format!("CONTROLLER:{max_len}")
        }
        Action::Output { port, .. } if *port > port_no::MAX => format_port(*port),
        Action::Output { port, .. } => format!("output:{port}"),
        Action::CopyTtlOut => "copy_ttl_out".into(),
        Action::CopyTtlIn => "copy_ttl_in".into(),
        Action::SetMplsTtl(t) => format!("set_mpls_ttl:{t}"),
        Action::DecMplsTtl => "dec_mpls_ttl".into(),
        Action::PushVlan(e) => format!("push_vlan:{e:#06x}"),
        Action::PopVlan => "pop_vlan".into(),
        Action::PushMpls(e) => format!("push_mpls:{e:#06x}"),
        Action::PopMpls(e) => format!("pop_mpls:{e:#06x}"),
        Action::SetQueue(q) => format!("set_queue:{q}"),
        Action::Group(g) => format!("group:{g}"),
        Action::SetNwTtl(t) => format!("set_nw_ttl:{t}"),
        Action::DecNwTtl => "dec_ttl".into(),
        Action::SetField(f) => {
            let s = format_field(f);
            let (name, value) = s.split_once('=').unwrap_or((&s, ""));
            format!("set_field:{value}->{name}")
        }
        Action::PushPbb(e) => format!("push_pbb:{e:#06x}"),
        Action::PopPbb => "pop_pbb".into(),
        Action::Experimenter { experimenter, .. } => format!("experimenter:{experimenter:#x}"),
    }
}

fn format_actions(a: &[Action]) -> String {
    a.iter().map(format_action).collect::<Vec<_>>().join(",")
}

/// Instructions as `actions=…` text (`drop` when there are none).
pub fn format_instructions(ins: &[Instruction]) -> String {
    let mut parts = Vec::new();
    for i in ins {
        match i {
            Instruction::ApplyActions(a) if !a.is_empty() => parts.push(format_actions(a)),
            Instruction::ApplyActions(_) => {}
            Instruction::WriteActions(a) => {
                parts.push(format!("write_actions({})", format_actions(a)))
            }
            Instruction::ClearActions => parts.push("clear_actions".into()),
            Instruction::WriteMetadata { metadata, mask } => {
                let mut s = format!("write_metadata:{metadata:#x}");
                if *mask != u64::MAX {
                    let _ = write!(s, "/{mask:#x}");
                }
                parts.push(s)
            }
            Instruction::GotoTable(t) => parts.push(format!("goto_table:{t}")),
            Instruction::Meter(m) => parts.push(format!("meter:{m}")),
            Instruction::Experimenter { experimenter, .. } => {
                parts.push(format!("experimenter:{experimenter:#x}"))
            }
        }
    }
    if parts.is_empty() {
        "drop".into()
    } else {
        parts.join(",")
    }
}

/// A whole flow-mod as one line that [`parse_flow`] reads back.
pub fn format_flow_mod(fm: &FlowMod) -> String {
    let mut s = String::new();
    if fm.table_id != table::ALL {
        let _ = write!(s, "table={},", fm.table_id);
    }
    let _ = write!(s, "priority={}", fm.priority);
    if fm.cookie != 0 {
        let _ = write!(s, ",cookie={:#x}", fm.cookie);
    }
    if fm.idle_timeout != 0 {
        let _ = write!(s, ",idle_timeout={}", fm.idle_timeout);
    }
    if fm.hard_timeout != 0 {
        let _ = write!(s, ",hard_timeout={}", fm.hard_timeout);
    }
    if fm.flags & flow_mod_flags::SEND_FLOW_REM != 0 {
        s.push_str(",send_flow_rem");
    }
    let m = format_match(&fm.r#match);
    if !m.is_empty() {
        s.push(',');
        s.push_str(&m);
    }
    let _ = write!(s, ",actions={}", format_instructions(&fm.instructions));
    s
}

/// Keeps `NO_BUFFER` in scope for callers building packet-outs from parsed flows.
pub const NO_BUFFER_ID: u32 = NO_BUFFER;

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &str) -> FlowMod {
        parse_flow(s, FlowCommand::Add).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_simple_flow() {
        let fm = add("table=1,priority=100,in_port=1,dl_dst=00:00:00:00:00:02,actions=output:2");
        assert_eq!(fm.table_id, 1);
        assert_eq!(fm.priority, 100);
        assert_eq!(
            fm.r#match.fields,
            vec![
                OxmField::InPort(1),
                OxmField::EthDst([0, 0, 0, 0, 0, 2], None)
            ]
        );
        assert_eq!(
            fm.instructions,
            vec![Instruction::ApplyActions(vec![Action::Output {
                port: 2,
                max_len: 0
            }])]
        );
    }

    #[test]
    fn shorthands_bring_their_prerequisites_first() {
        let fm = add("tcp,nw_dst=10.0.0.0/24,tp_dst=80,actions=drop");
        assert_eq!(
            fm.r#match.fields,
            vec![
                OxmField::EthType(0x0800),
                OxmField::IpProto(6),
                OxmField::Ipv4Dst(
                    Ipv4Addr::new(10, 0, 0, 0),
                    Some(Ipv4Addr::new(255, 255, 255, 0))
                ),
                OxmField::TcpDst(80),
            ]
        );
        assert!(fm.instructions.is_empty());
        let fm = add("icmp6,icmp_type=135,actions=controller");
        assert!(fm.r#match.fields.contains(&OxmField::Icmpv6Type(135)));
        assert_eq!(
            fm.instructions,
            vec![Instruction::ApplyActions(vec![Action::Output {
                port: port_no::CONTROLLER,
                max_len: 0xffff
            }])]
        );
    }

    #[test]
    fn instructions_and_actions() {
        let fm = add(
            "priority=5,actions=meter:3,set_field:5->vlan_vid,dec_ttl,group:7,write_actions(output:4),write_metadata:0x10/0xff,goto_table:2",
        );
        assert_eq!(
            fm.instructions,
            vec![
                Instruction::Meter(3),
                Instruction::ApplyActions(vec![
                    Action::SetField(OxmField::VlanVid(5 | VID_PRESENT, None)),
                    Action::DecNwTtl,
                    Action::Group(7),
                ]),
                Instruction::WriteActions(vec![Action::Output {
                    port: 4,
                    max_len: 0
                }]),
                Instruction::WriteMetadata {
                    metadata: 0x10,
                    mask: 0xff
                },
                Instruction::GotoTable(2),
            ]
        );
    }

    #[test]
    fn printing_reads_back() {
        for s in [
            "table=0,priority=100,in_port=1,eth_dst=00:00:00:00:00:02,actions=output:2",
            "table=3,priority=7,cookie=0x2a,idle_timeout=10,send_flow_rem,eth_type=0x0800,ipv4_dst=10.1.0.0/255.255.0.0,actions=dec_ttl,FLOOD",
            "table=0,priority=0,actions=CONTROLLER:65535",
            "table=0,priority=1,vlan_vid=10,actions=pop_vlan,set_field:00:00:00:00:00:09->eth_src,IN_PORT",
            "table=0,priority=1,actions=drop",
        ] {
            let fm = add(s);
            let printed = format_flow_mod(&fm);
            assert_eq!(add(&printed), fm, "{s} → {printed}");
        }
    }

    /// The text `topolab openflow … flows` shows (and flow waits compare), for the cases
    /// the codec's own text view covered before it was folded into this one.
    #[test]
    fn matches_and_instructions_as_text() {
        let mt = Match::new(vec![
            OxmField::InPort(1),
            OxmField::EthDst([1, 0, 0, 0, 0, 0], Some([1, 0, 0, 0, 0, 0])),
            OxmField::EthType(0x0800),
            OxmField::Ipv4Src(
                Ipv4Addr::new(10, 0, 0, 0),
                Some(Ipv4Addr::new(255, 0, 0, 0)),
            ),
        ]);
        assert_eq!(
            format_match(&mt),
            "in_port=1,eth_dst=01:00:00:00:00:00/01:00:00:00:00:00,eth_type=0x0800,ipv4_src=10.0.0.0/255.0.0.0"
        );
        assert_eq!(format_match(&Match::any()), "");
        let insts = vec![
            Instruction::ApplyActions(vec![
                Action::SetField(OxmField::VlanVid(VID_PRESENT | 5, None)),
                Action::Output {
                    port: port_no::FLOOD,
                    max_len: 0,
                },
                Action::Output {
                    port: port_no::CONTROLLER,
                    max_len: 128,
                },
            ]),
            Instruction::GotoTable(2),
        ];
        assert_eq!(
            format_instructions(&insts),
            "set_field:5->vlan_vid,FLOOD,CONTROLLER:128,goto_table:2"
        );
        assert_eq!(format_instructions(&[]), "drop");
    }

    #[test]
    fn deletes_are_filters() {
        let fm = parse_flow("cookie=0x5/0xff,out_port=3,in_port=1", FlowCommand::Delete).unwrap();
        assert_eq!(fm.command, FlowModCommand::Delete);
        assert_eq!(fm.table_id, table::ALL);
        assert_eq!((fm.cookie, fm.cookie_mask), (5, 0xff));
        assert_eq!(fm.out_port, 3);
        assert!(parse_flow("in_port=1,actions=drop", FlowCommand::Delete).is_err());
        let all = parse_flow("", FlowCommand::Delete).unwrap();
        assert!(all.r#match.fields.is_empty());
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        let cases = [
            ("in_port=1", "needs `actions=`"),
            ("in_port=x,actions=drop", "not a number"),
            ("tp_dst=80,actions=drop", "needs tcp, udp or sctp"),
            ("nw_dst=10.0.0.300,actions=drop", "not an IPv4"),
            ("dl_dst=00:11,actions=drop", "not a MAC"),
            ("bogus=1,actions=drop", "unknown match field"),
            ("actions=teleport:3", "unknown action"),
            ("in_port=1,in_port=2,actions=drop", "twice"),
            ("priority=70000,actions=drop", "out of range"),
            ("actions=drop,output:1", "cannot be combined"),
            ("dl_vlan=5000,actions=drop", "over 4095"),
            ("actions=output:0", "not a valid port"),
            ("ip,actions=set_field:1.2.3.4/8->ipv4_dst", "no mask"),
        ];
        for (line, want) in cases {
            let e = parse_flow(line, FlowCommand::Add).expect_err(line);
            assert!(e.to_string().contains(want), "{line}: {e}");
            assert!(e.offset <= line.len(), "{line}: offset {}", e.offset);
        }
        let e = parse_flow("priority=1,bogus=2,actions=drop", FlowCommand::Add).unwrap_err();
        assert_eq!(e.offset, 11);
    }

    #[test]
    fn hostile_lines_never_panic() {
        for line in [
            "actions=",
            "=,=,=",
            "actions=write_actions(",
            "actions=write_actions)",
            "set_field:->",
            "actions=set_field:->",
            "actions=set_field:1->",
            "in_port=\u{e9}\u{e9}\u{e9},actions=drop",
            ",,,, ,actions=drop",
            "cookie=/,actions=drop",
            "nw_dst=1.2.3.4/99,actions=drop",
            "ipv6_dst=::/200,actions=drop",
        ] {
            let _ = parse_flow(line, FlowCommand::Add);
            let _ = parse_flow(line, FlowCommand::Delete);
        }
        assert!(parse_flow(&"a".repeat(MAX_LINE + 1), FlowCommand::Add).is_err());
    }

    proptest::proptest! {
        /// Fuzz target: any text, and any mutation of a valid line, never panics.
        #[test]
        fn any_text_never_panics(line in "\\PC{0,200}") {
            let _ = parse_flow(&line, FlowCommand::Add);
            let _ = parse_flow(&line, FlowCommand::DeleteStrict);
        }

        #[test]
        fn mutated_lines_never_panic(cut in 0usize..120, junk in "[=,:/()>\\-a-z0-9. ]{0,12}") {
            let base = "table=1,priority=9,tcp,nw_src=10.0.0.0/8,tp_dst=22,actions=set_field:1->vlan_vid,write_actions(output:3),goto_table:2";
            let cut = base.char_indices().map(|(i, _)| i).rfind(|i| *i <= cut).unwrap_or(0);
            let line = format!("{}{}{}", &base[..cut], junk, &base[cut..]);
            if let Ok(fm) = parse_flow(&line, FlowCommand::Add) {
                // Whatever parses prints to a line that parses to the same flow.
                let printed = format_flow_mod(&fm);
                proptest::prop_assert_eq!(parse_flow(&printed, FlowCommand::Add).ok(), Some(fm));
            }
        }
    }
}
