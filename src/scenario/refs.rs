//! References to compiled facts inside scenario strings, and endpoint resolution.
//!
//! `${h2.ipv4}` / `${h2.ipv6}`: the node's first address of that family (interfaces in
//! order, then loopbacks); `${r1.eth1.ipv6}`: an interface's; `${seed}`: the scenario's
//! seed (or the topology's). Endpoints (`to:`) are a node, `node:iface`, an address, or
//! any of those produced by a reference.

use std::net::IpAddr;

use crate::compile::{NodePlan, Plan};

use super::model::Family;

/// Replaces every `${…}` in `s`.
pub fn expand(s: &str, plan: &Plan, seed: u64) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let j = after
            .find('}')
            .ok_or_else(|| format!("unclosed reference in `{s}`"))?;
        out.push_str(&resolve_ref(&after[..j], plan, seed)?);
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve_ref(r: &str, plan: &Plan, seed: u64) -> Result<String, String> {
    if r == "seed" {
        return Ok(seed.to_string());
    }
    let parts: Vec<&str> = r.split('.').collect();
    let (node, iface, fam) = match parts.as_slice() {
        [n, f] => (*n, None, *f),
        [n, i, f] => (*n, Some(*i), *f),
        _ => {
            return Err(format!(
                "`${{{r}}}`: write ${{node.ipv4}}, ${{node.iface.ipv6}} or ${{seed}}"
            ));
        }
    };
    let family = match fam {
        "ipv4" => Family::Ipv4,
        "ipv6" => Family::Ipv6,
        _ => return Err(format!("`${{{r}}}`: `{fam}` is not ipv4 or ipv6")),
    };
    let n = node_of(plan, node)?;
    address(n, iface, family)
        .map(|a| a.to_string())
        .ok_or_else(|| format!("`${{{r}}}`: {node} has no such address"))
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

fn address(n: &NodePlan, iface: Option<&str>, family: Family) -> Option<IpAddr> {
    let want_v6 = family == Family::Ipv6;
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
    address(n, iface, family).ok_or_else(|| {
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
