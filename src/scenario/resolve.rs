//! Resolving references and endpoints against the running lab's Plan.
//!
//! `${h2.ipv4}` / `${h2.ipv6}`: the node's primary address of that family — a router's
//! loopback, otherwise its first interface address; `${r1.eth1.ipv6}`: an interface's;
//! `${h2.mgmt4}` / `${h2.mgmt6}` (and `h2:mgmt0` as an endpoint): its management address;
//! `${seed}`: the scenario's seed (or the topology's). Endpoints (`to:`) are a node,
//! `node:iface`, an address, or any of those produced by a reference. [`endpoint`] is the
//! one rule, for scenarios and `topolab probe` alike: `probe LAB h1 r1` and `${r1.ipv4}`
//! name the same address.

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
    plan.user_node(name).ok_or_else(|| {
        format!(
            "no node `{name}` (nodes: {})",
            plan.user_nodes()
                .map(|n| n.name.as_str())
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
    endpoint(plan, t, family).map(|(_, ip)| ip)
}

/// An endpoint — a node (its primary address: a router's loopback, otherwise its first
/// interface address), `node:iface`, or an address — as (the node that has the address,
/// if one of the lab's does; the address).
pub fn endpoint<'a>(
    plan: &'a Plan,
    t: &str,
    family: Family,
) -> Result<(Option<&'a NodePlan>, IpAddr), String> {
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok((plan.node_owning(ip), ip));
    }
    let (node, iface) = t.split_once(':').map_or((t, None), |(n, i)| (n, Some(i)));
    let n = node_of(plan, node)?;
    let ip = address(plan, n, iface, family).ok_or_else(|| {
        format!(
            "`{t}` has no {} address",
            if family == Family::Ipv6 {
                "IPv6"
            } else {
                "IPv4"
            }
        )
    })?;
    Ok((Some(n), ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/topologies/quickstart.yaml"
        ))
        .unwrap();
        let topo = crate::topology::Topology::from_str(&text, "quickstart.yaml").unwrap();
        crate::compile::compile(&topo, "res").unwrap()
    }

    #[test]
    fn a_node_a_reference_and_an_address_agree() {
        let plan = plan();
        for family in [Family::Ipv4, Family::Ipv6] {
            for node in ["r1", "h3"] {
                let (owner, ip) = endpoint(&plan, node, family).unwrap();
                assert_eq!(owner.map(|n| n.name.as_str()), Some(node));
                let v = if family == Family::Ipv6 {
                    "ipv6"
                } else {
                    "ipv4"
                };
                let reference = expand(&format!("${{{node}.{v}}}"), &plan, 0).unwrap();
                assert_eq!(reference, ip.to_string(), "{node} {v}");
                // The address names the same node back.
                let (back, same) = endpoint(&plan, &reference, family).unwrap();
                assert_eq!((back.map(|n| n.name.as_str()), same), (Some(node), ip));
            }
        }
        // A router's primary address is its loopback; `node:iface` is that interface's.
        let r1 = plan.node("r1").unwrap();
        let lo = r1.loopback.iter().map(|a| a.addr()).find(|a| a.is_ipv4());
        assert_eq!(Some(endpoint(&plan, "r1", Family::Ipv4).unwrap().1), lo);
        let eth = &r1.ifaces[0];
        let want = eth.addrs.iter().map(|a| a.addr()).find(|a| a.is_ipv4());
        let got = endpoint(&plan, &format!("r1:{}", eth.name), Family::Ipv4)
            .unwrap()
            .1;
        assert_eq!(Some(got), want);
        // An address no node has resolves, with no owner.
        let (owner, _) = endpoint(&plan, "192.0.2.1", Family::Ipv4).unwrap();
        assert!(owner.is_none());
        assert!(
            endpoint(&plan, "r9", Family::Ipv4)
                .unwrap_err()
                .contains("no node `r9`")
        );
    }
}
