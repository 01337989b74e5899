//! Addressing: one subnet per domain and family, one address per L3 interface, one loopback
//! per router, with explicit addresses always winning.
//!
//! ```text
//!   explicit addresses ──validate──▶ per-domain explicit subnets ──overlap check──┐
//!                                                                                 ▼
//!   LAN domains (by first switch) ──carve lan4/lan6──▶ subnets ──number members──▶ ends
//!   P2P domains (by link)         ──carve p2p4/p2p6──▶ subnets ──number a, b─────▶ ends
//!   routers (node order)          ──carve loopback4/6 from block 1──────────────▶ loopbacks
//! ```
//!
//! Rules, per family (IPv4 and IPv6 alike):
//! - Explicit endpoint and loopback addresses are kept as written, for any family, even one
//!   whose automatic addressing is off. An address used twice, an IPv4 interface address
//!   that is its subnet's network or broadcast address, or an address on a switch is
//!   [`ErrorKind::BadAddress`].
//! - A domain with explicit addresses of a family takes their subnet; all of them must
//!   share it (a different but overlapping subnet is [`ErrorKind::OverlappingSubnets`], a
//!   disjoint one [`ErrorKind::BadAddress`]). Explicit subnets of different domains, and
//!   explicit loopbacks, must not overlap ([`ErrorKind::OverlappingSubnets`]). Errors
//!   point at the later endpoint (or node).
//! - Only for families switched on in `addressing`: every other domain with members gets
//!   the smallest aligned subnet of at least the pool's `prefix` that holds its interfaces
//!   (+2 for IPv4 network and broadcast; IPv6 skips `::0`, the subnet-router anycast
//!   address), first fit, in domain order, never overlapping anything explicit or already
//!   carved. Then members without an explicit address of the family are numbered 1, 2, …
//!   inside the subnet, skipping explicit addresses: LAN routers first then hosts (each in
//!   link order); a point-to-point link's `a` end before its `b` end (`.1`, `.2` on a /30).
//! - Routers without an explicit loopback of the family get the first free block of the
//!   loopback pool from block index 1 (so `192.168.255.0/24` gives `192.168.255.1/32`
//!   first); the address is the block's first usable one, as a host route (/32, /128).
//! - A pool with no room left is [`ErrorKind::PoolExhausted`], pointing at the pool if the
//!   user wrote it, else at the switch, link or router that needed the room.
//!
//! Output order per interface: explicit addresses as written, then automatic IPv4, then
//! automatic IPv6. Loopbacks likewise.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::model::{DomainKind, EndRef, Model, Side};
use super::space::{Family, Range, Space, block_size, fit, from_u128, net, to_u128};
use crate::topology::{ErrorKind, Pool, Span, TopologyError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses {
    /// Per link, per side: the interface's addresses.
    pub ends: Vec<[Vec<IpNet>; 2]>,
    /// Per node: addresses on `lo`.
    pub loopbacks: Vec<Vec<IpNet>>,
    /// Per domain, per family (`Family::index`): the domain's subnet, if it has one.
    pub subnets: Vec<[Option<IpNet>; 2]>,
}

impl Addresses {
    pub fn of(&self, end: EndRef) -> &[IpNet] {
        &self.ends[end.link][end.side.index()]
    }
}

/// Which pool, for messages: the `addressing.<key>` the user would enlarge.
#[derive(Debug, Clone, Copy)]
enum PoolUse {
    Lan,
    P2p,
    Loopback,
}

fn pool<'t>(m: &Model<'t>, family: Family, use_: PoolUse) -> (&'static str, &'t Pool) {
    let a = &m.topology.addressing;
    match (use_, family) {
        (PoolUse::Lan, Family::V4) => ("lan4", &a.lan4),
        (PoolUse::Lan, Family::V6) => ("lan6", &a.lan6),
        (PoolUse::P2p, Family::V4) => ("p2p4", &a.p2p4),
        (PoolUse::P2p, Family::V6) => ("p2p6", &a.p2p6),
        (PoolUse::Loopback, Family::V4) => ("loopback4", &a.loopback4),
        (PoolUse::Loopback, Family::V6) => ("loopback6", &a.loopback6),
    }
}

fn enabled(m: &Model, family: Family) -> bool {
    match family {
        Family::V4 => m.topology.addressing.ipv4,
        Family::V6 => m.topology.addressing.ipv6,
    }
}

/// An explicit subnet claim, for overlap checks.
struct Claim {
    range: Range,
    net: IpNet,
    span: Span,
}

pub fn assign(m: &Model) -> Result<Addresses, TopologyError> {
    let t = m.topology;
    let mut out = Addresses {
        ends: t
            .links
            .iter()
            .map(|l| [l.a.addrs.clone(), l.b.addrs.clone()])
            .collect(),
        loopbacks: t.nodes.iter().map(|n| n.loopback.clone()).collect(),
        subnets: vec![[None, None]; m.domains.len()],
    };
    let explicit = validate_explicit(m)?;
    for family in Family::ALL {
        let claims = explicit_subnets(m, family, &mut out)?;
        if !enabled(m, family) {
            continue;
        }
        let mut space = Space::default();
        for c in &claims {
            space.reserve(c.range);
        }
        carve_domains(m, family, &mut space, &mut out)?;
        number_domains(m, family, &explicit, &mut out)?;
        carve_loopbacks(m, family, &mut space, &mut out)?;
    }
    Ok(out)
}

fn bad(m: &Model, kind: ErrorKind, span: Span, msg: String) -> TopologyError {
    TopologyError::new(kind, &m.topology.source, span, msg)
}

/// Checks every explicit address on its own and for duplicates; returns them all.
fn validate_explicit(m: &Model) -> Result<BTreeSet<IpAddr>, TopologyError> {
    let t = m.topology;
    let mut seen: BTreeMap<IpAddr, Span> = BTreeMap::new();
    let mut items: Vec<(IpNet, Span, bool, &str)> = Vec::new();
    for li in 0..t.links.len() {
        for side in Side::BOTH {
            let ep = EndRef { link: li, side }.endpoint(t);
            let is_switch = m.is_l2(m.ends[li][side.index()]);
            for a in &ep.addrs {
                items.push((*a, ep.span, is_switch, &ep.node));
            }
        }
    }
    for node in &t.nodes {
        for a in &node.loopback {
            items.push((*a, node.span, !node.kind.is_l3(), &node.name));
        }
    }
    for (a, span, on_switch, node) in items {
        if on_switch {
            return Err(bad(
                m,
                ErrorKind::BadAddress,
                span,
                format!("switch `{node}` cannot have address {a}"),
            )
            .with_help("a switch is a bridge; put addresses on the hosts and routers it joins"));
        }
        if let IpNet::V4(v4) = a
            && v4.prefix_len() <= 30
            && (v4.addr() == v4.network() || v4.addr() == v4.broadcast())
        {
            return Err(bad(
                m,
                ErrorKind::BadAddress,
                span,
                format!("{a} is the network or broadcast address of its subnet"),
            )
            .with_help("pick a host address inside the subnet"));
        }
        if let Some(first) = seen.insert(a.addr(), span) {
            return Err(bad(
                m,
                ErrorKind::BadAddress,
                span,
                format!("address {} is assigned twice", a.addr()),
            )
            .with_help(format!(
                "it is also assigned at line {}:{}",
                first.line, first.column
            )));
        }
    }
    Ok(seen.into_keys().collect())
}

/// Domain subnets implied by explicit addresses of `family`, checked for agreement within a
/// domain and for overlap across domains and loopbacks.
fn explicit_subnets(
    m: &Model,
    family: Family,
    out: &mut Addresses,
) -> Result<Vec<Claim>, TopologyError> {
    let t = m.topology;
    let mut claims: Vec<Claim> = Vec::new();
    for (di, domain) in m.domains.iter().enumerate() {
        let mut first: Option<(IpNet, Span)> = None;
        for &end in &domain.members {
            let ep = end.endpoint(t);
            for a in ep.addrs.iter().filter(|a| Family::of_net(a) == family) {
                let subnet = a.trunc();
                match first {
                    None => first = Some((subnet, ep.span)),
                    Some((s, _)) if s == subnet => {}
                    Some((s, at)) => {
                        let kind = if Range::of(&s).overlaps(&Range::of(&subnet)) {
                            ErrorKind::OverlappingSubnets
                        } else {
                            ErrorKind::BadAddress
                        };
                        return Err(bad(
                            m,
                            kind,
                            ep.span,
                            format!("{a} is not in this segment's subnet {s}"),
                        )
                        .with_help(format!(
                            "the subnet was set by the address at line {}:{}; every \
                             interface of one segment uses one subnet",
                            at.line, at.column
                        )));
                    }
                }
            }
        }
        if let Some((subnet, span)) = first {
            out.subnets[di][family.index()] = Some(subnet);
            claims.push(Claim {
                range: Range::of(&subnet),
                net: subnet,
                span,
            });
        }
    }
    for node in &t.nodes {
        for lo in node.loopback.iter().filter(|a| Family::of_net(a) == family) {
            claims.push(Claim {
                range: Range::of(&lo.trunc()),
                net: lo.trunc(),
                span: node.span,
            });
        }
    }
    for (j, later) in claims.iter().enumerate() {
        if let Some(earlier) = claims[..j].iter().find(|c| c.range.overlaps(&later.range)) {
            return Err(bad(
                m,
                ErrorKind::OverlappingSubnets,
                later.span,
                format!("subnet {} overlaps subnet {}", later.net, earlier.net),
            )
            .with_help(format!(
                "{} comes from line {}:{}; give each segment and loopback its own subnet",
                earlier.net, earlier.span.line, earlier.span.column
            )));
        }
    }
    Ok(claims)
}

fn exhausted(m: &Model, family: Family, use_: PoolUse, at: Span, need: String) -> TopologyError {
    let (key, p) = pool(m, family, use_);
    let span = if p.span.line > 0 { p.span } else { at };
    bad(
        m,
        ErrorKind::PoolExhausted,
        span,
        format!("address pool {key} ({}) has no room for {need}", p.net),
    )
    .with_help(format!(
        "enlarge `addressing.{key}` (a shorter prefix than /{}), or set addresses explicitly",
        p.net.prefix_len()
    ))
}

fn carve_domains(
    m: &Model,
    family: Family,
    space: &mut Space,
    out: &mut Addresses,
) -> Result<(), TopologyError> {
    let t = m.topology;
    for (di, domain) in m.domains.iter().enumerate() {
        if domain.members.is_empty() || out.subnets[di][family.index()].is_some() {
            continue;
        }
        let (use_, at, what) = match &domain.kind {
            DomainKind::Lan { switches, .. } => {
                let node = &t.nodes[switches[0]];
                (
                    PoolUse::Lan,
                    node.span,
                    format!("the segment of `{}`", node.name),
                )
            }
            DomainKind::P2p { link } => {
                let l = &t.links[*link];
                (
                    PoolUse::P2p,
                    l.span,
                    format!("the link {} – {}", l.a.node, l.b.node),
                )
            }
        };
        let extra = if family == Family::V4 { 2 } else { 1 };
        let need = domain.members.len() as u128 + extra;
        let (_, p) = pool(m, family, use_);
        let plen = fit(family, need, p.prefix);
        let start = space
            .carve(family, &p.net, plen, 0)
            .ok_or_else(|| exhausted(m, family, use_, at, format!("a /{plen} for {what}")))?;
        out.subnets[di][family.index()] = Some(net(family, start, plen));
    }
    Ok(())
}

fn number_domains(
    m: &Model,
    family: Family,
    explicit: &BTreeSet<IpAddr>,
    out: &mut Addresses,
) -> Result<(), TopologyError> {
    let t = m.topology;
    for (di, domain) in m.domains.iter().enumerate() {
        let Some(subnet) = out.subnets[di][family.index()] else {
            continue;
        };
        let needs = |e: &&EndRef| {
            !e.endpoint(t)
                .addrs
                .iter()
                .any(|a| Family::of_net(a) == family)
        };
        let mut order: Vec<EndRef> = domain.members.iter().filter(needs).copied().collect();
        if domain.is_lan() {
            // Stable: routers first, each group in link order.
            order.sort_by_key(|&e| !m.kind(m.node_of(e)).forwards_ip());
        }
        let base = to_u128(subnet.network());
        let size = block_size(family, subnet.prefix_len());
        let last = if family == Family::V4 && size > 2 {
            size - 2
        } else {
            size - 1
        };
        let mut n: u128 = 1;
        for end in order {
            while n <= last && explicit.contains(&from_u128(family, base + n)) {
                n += 1;
            }
            if n > last {
                let span = domain
                    .members
                    .iter()
                    .map(|e| e.endpoint(t))
                    .find(|ep| ep.addrs.iter().any(|a| a.trunc() == subnet))
                    .map_or(end.endpoint(t).span, |ep| ep.span);
                return Err(bad(
                    m,
                    ErrorKind::BadAddress,
                    span,
                    format!(
                        "subnet {subnet} has no room for all {} interfaces of this segment",
                        domain.members.len()
                    ),
                )
                .with_help("use a shorter prefix on the explicit address"));
            }
            let addr = net(family, base + n, subnet.prefix_len());
            out.ends[end.link][end.side.index()].push(addr);
            n += 1;
        }
    }
    Ok(())
}

fn carve_loopbacks(
    m: &Model,
    family: Family,
    space: &mut Space,
    out: &mut Addresses,
) -> Result<(), TopologyError> {
    let (_, p) = pool(m, family, PoolUse::Loopback);
    let plen = p.prefix.min(family.bits());
    let size = block_size(family, plen);
    for (ni, node) in m.topology.nodes.iter().enumerate() {
        if !node.kind.forwards_ip() || node.loopback.iter().any(|a| Family::of_net(a) == family) {
            continue;
        }
        let start = space.carve(family, &p.net, plen, 1).ok_or_else(|| {
            exhausted(
                m,
                family,
                PoolUse::Loopback,
                node.span,
                format!("the loopback of router `{}`", node.name),
            )
        })?;
        let addr = if size > 2 { start + 1 } else { start };
        out.loopbacks[ni].push(net(family, addr, family.bits()));
    }
    Ok(())
}

#[cfg(test)]
#[path = "address_tests.rs"]
mod tests;
