//! Resolving references and endpoints against the running lab's Plan.
//!
//! `${h2.ipv4}` / `${h2.ipv6}`: the node's primary address of that family — a router's
//! loopback, otherwise its first interface address; `${r1.eth1.ipv6}`: an interface's;
//! `${h2.mgmt4}` / `${h2.mgmt6}` (and `h2:mgmt0` as an endpoint): its management address;
//! `${seed}`: the scenario's seed (or the topology's). Endpoints (`to:`) are a node,
//! `node:iface`, an address, or any of those produced by a reference.

use std::net::IpAddr;

use crate::compile::{NodePlan, Plan};

use super::model::Family;
use super::refs::{Piece, Reference, parse_template};

/// Replaces every `${…}` in `s` (parsed by [`super::refs::parse_template`]).
pub fn expand(s: &str, plan: &Plan, seed: u64) -> Result<String, String> {
    let pieces = parse_template(s).map_err(|e| format!("{} ({})", e.message, e.hint))?;
    let mut out = String::with_capacity(s.len());
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Ref(Reference::Seed) => out.push_str(&seed.to_string()),
            Piece::Ref(Reference::Addr {
                node,
                iface,
                family,
            }) => {
                let n = node_of(plan, &node)?;
                let a = address(plan, n, iface.as_deref(), family).ok_or_else(|| {
                    format!(
                        "`{s}`: {node}{} has no {} address",
                        iface.map(|i| format!(":{i}")).unwrap_or_default(),
                        if family == Family::Ipv6 {
                            "IPv6"
                        } else {
                            "IPv4"
                        }
                    )
                })?;
                out.push_str(&a.to_string());
            }
        }
    }
    Ok(out)
}

fn node_of<'a>(plan: &'a Plan, name: &str) -> Result<&'a NodePlan, String> {
    plan.node(name).ok_or_else(|| {
        format!(
            "no node `{name}` (nodes: {})",
            plan.nodes
                .iter()
                .map(|n| n.name.as_str())
                .filter(|n| !n.starts_with('_'))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn address(plan: &Plan, n: &NodePlan, iface: Option<&str>, family: Family) -> Option<IpAddr> {
    let want_v6 = family == Family::Ipv6;
    if iface == Some(crate::compile::mgmt::MGMT_IFNAME) {
        return plan
            .mgmt_addrs(&n.name)
            .iter()
            .map(|a| a.addr())
            .find(|a| a.is_ipv6() == want_v6);
    }
    if iface.is_none()
        && let Some(lo) = n
            .loopback
            .iter()
            .map(|a| a.addr())
            .find(|a| a.is_ipv6() == want_v6)
    {
        return Some(lo);
    }
    n.ifaces
        .iter()
        .filter(|i| iface.is_none_or(|f| i.name == f))
        .flat_map(|i| &i.addrs)
        .chain(n.loopback.iter().filter(|_| iface.is_none()))
        .map(|a| a.addr())
        .find(|a| a.is_ipv6() == want_v6)
}

/// The namespace of node `name`.
pub fn netns(plan: &Plan, name: &str) -> Result<String, String> {
    node_of(plan, name).map(|n| n.netns.clone())
}

/// Resolves an endpoint (after expansion) to an address of the wanted family.
pub fn target(plan: &Plan, t: &str, family: Family) -> Result<IpAddr, String> {
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(ip);
    }
    let (node, iface) = t.split_once(':').map_or((t, None), |(n, i)| (n, Some(i)));
    let n = node_of(plan, node)?;
    address(plan, n, iface, family).ok_or_else(|| {
        format!(
            "`{t}` has no {} address",
            if family == Family::Ipv6 {
                "IPv6"
            } else {
                "IPv4"
            }
        )
    })
}
