//! Compile: a checked [`Topology`] → petgraph model → [`Plan`].
//!
//! Pure and deterministic: no kernel, no clock, no randomness, no hash-map iteration order
//! in the output. The same topology and lab name always give the same Plan (names,
//! ifindexes, MACs, addresses, routes), so Plans are golden-tested without root and
//! `topolab plan` can print one as `ip` commands ([`Plan::to_ip_commands`]).
//!
//! ```text
//!   Topology ─▶ model.rs   graph, LAN / point-to-point domains, loop blocking
//!            ─▶ ifaces.rs  names (ethN), ifindexes (lo 1, br0 100, ports 101…), MACs
//!            ─▶ address.rs subnets per domain, interface addresses, router loopbacks
//!            ─▶ routes.rs  static routes (routers: all prefixes; hosts: default + exceptions;
//!                          none for `routes: connected` nodes)
//!            ─▶ bgp.rs     speaker configs and sessions; BGP routers' routes (intra-AS only)
//!            ─▶ mod.rs     sysctls, bridges, ports, veths
//!            ─▶ emulation.rs engines per link, IFB shapers, the relay fabric
//!            ─▶ mgmt.rs    the management network (`mgmt:`) ─▶ Plan
//!   Plan     ─▶ render.rs  the equivalent iproute2 script
//!   Topology ─▶ graph.rs   Graphviz / Mermaid drawings
//! ```
//!
//! Each stage's rules are written at the top of its file. The ones decided here:
//! - namespace of node `n` is `"{lab}-{n}"`;
//! - sysctls, in order: hosts and routers `net.ipv6.conf.{all,default}.accept_dad=0`
//!   (addresses are usable at once; the lab's MACs are unique by construction) and
//!   `net.ipv6.conf.all.keep_addr_on_down=1` (a link taken down and up keeps its IPv6
//!   addresses, as IPv4 does) and `net.ipv4.ping_group_range=0 2147483647` (ICMP echo
//!   sockets for everyone: the built-in ping probe needs no raw socket), routers also
//!   `net.ipv4.ip_forward=1` and `net.ipv6.conf.all.forwarding=1`, switches
//!   `net.ipv6.conf.{all,default}.disable_ipv6=1` (a bridge needs no addresses). Then the
//!   node's own `sysctl:` entries in key order; one with the same key as a built-in replaces
//!   the built-in's value in place, so each key is written once;
//! - every link becomes one veth (the `a` end, then the `b` end); a switch's interfaces are
//!   bridge ports unless the link was blocked to cut a loop. Blocked ends are still created
//!   and brought up (a standby link, visible in `ip link`), just never enslaved.
//!
//! Errors are [`TopologyError`]s pointing at the YAML that caused them (an overlapping
//! explicit subnet, an exhausted pool, a clashing interface name).

mod address;
mod bgp;
pub mod emulation;
pub mod graph;
mod ifaces;
pub mod machines;
pub mod mgmt;
mod model;
mod openflow;
pub mod partition;
mod plan;
mod render;
mod routes;
pub mod shard;
pub mod shard_split;
mod space;

#[cfg(test)]
#[path = "../../tests/common/shards.rs"]
pub(crate) mod testshards;
#[cfg(test)]
#[path = "../../tests/common/builder.rs"]
pub(crate) mod testutil;

pub use bgp::{BGP_SERVICE, bgp_service};
pub use openflow::*;
pub use plan::*;

use crate::topology::{Node, NodeKind, Topology, TopologyError};
use model::Model;

/// Compiles a checked topology into the Plan of lab `lab` (the namespace prefix).
pub fn compile(topology: &Topology, lab: &str) -> Result<Plan, TopologyError> {
    let m = Model::new(topology)?;
    let ifaces = ifaces::Ifaces::new(&m)?;
    let addrs = address::assign(&m)?;
    let mut routes = routes::routes(&m, &ifaces, &addrs);
    let mut bgp = bgp::compile(&m, &ifaces, &addrs)?;

    let mut stp = vec![false; topology.nodes.len()];
    for d in &m.domains {
        if let model::DomainKind::Lan {
            switches,
            stp: true,
        } = &d.kind
        {
            switches.iter().for_each(|&s| stp[s] = true);
        }
    }

    let mut nodes = Vec::with_capacity(topology.nodes.len());
    for (ni, node) in topology.nodes.iter().enumerate() {
        let stp = stp[ni];
        let bridge = ifaces.bridge_mac[ni].map(|mac| BridgePlan {
            name: ifaces::BRIDGE_NAME.into(),
            ifindex: ifaces::BRIDGE_IFINDEX,
            mac,
            stp,
        });
        let ports = ifaces.nodes[ni]
            .iter()
            .map(|f| {
                let peer_end = model::EndRef {
                    link: f.end.link,
                    side: f.end.side.other(),
                };
                IfacePlan {
                    name: f.name.clone(),
                    ifindex: f.ifindex,
                    mac: f.mac,
                    mtu: f.mtu,
                    addrs: addrs.of(f.end).to_vec(),
                    port: node.kind.has_bridge().then_some(if m.blocked[f.end.link] {
                        PortRole::Blocked
                    } else {
                        PortRole::Forwarding
                    }),
                    peer: IfaceRef {
                        node: m.node_of(peer_end),
                        iface: ifaces.slot[&peer_end],
                    },
                    link: f.end.link,
                    offloads: true,
                }
            })
            .collect::<Vec<_>>();
        for port in &ports {
            ipv6_fits_mtu(topology, &node.name, port)?;
        }
        nodes.push(NodePlan {
            name: node.name.clone(),
            kind: node.kind,
            netns: format!("{lab}-{}", node.name),
            sysctls: sysctls(node),
            loopback: addrs.loopbacks[ni].clone(),
            bridge,
            ifaces: ports,
            routes: match node.routes {
                // A BGP router: connected and intra-AS loopback routes (bgp.rs).
                RoutesMode::Static => bgp.routes[ni]
                    .take()
                    .unwrap_or_else(|| std::mem::take(&mut routes[ni])),
                // The kernel's connected routes only: a routing daemon does the rest.
                RoutesMode::Connected => vec![],
            },
            shapers: vec![],
            services: node
                .openflow
                .as_ref()
                .map(openflow::builtin_service)
                .into_iter()
                .chain(node.bgp.as_ref().map(|_| bgp::bgp_service()))
                .chain(node.services.iter().cloned())
                .collect(),
            limits: node.limits,
            routes_mode: node.routes,
            private_dirs: node.private_dirs.clone(),
            files: node.files.clone(),
            openflow: None,
            bgp: bgp.configs[ni].take(),
        });
    }
    let veths = (0..topology.links.len())
        .map(|link| {
            let end = |side| {
                let e = model::EndRef { link, side };
                IfaceRef {
                    node: m.node_of(e),
                    iface: ifaces.slot[&e],
                }
            };
            VethPlan {
                a: end(model::Side::A),
                b: end(model::Side::B),
                link,
            }
        })
        .collect();
    let mgmt = match &topology.mgmt {
        Some(m) => Some(mgmt::plan(topology, m, lab, &nodes)?),
        None => None,
    };
    let mut plan = Plan {
        lab: lab.into(),
        nodes,
        veths,
        links: vec![],
        mgmt,
        vxlans: vec![],
    };
    emulation::plan_links(topology, lab, &mut plan)?;
    openflow::fill(topology, &mut plan);
    Ok(plan)
}

/// IPv6's minimum MTU: the kernel refuses an IPv6 address on a smaller link.
const IPV6_MIN_MTU: u32 = 1280;

/// An interface with an IPv6 address needs an MTU of at least 1280 (`up` would fail with
/// "Invalid argument").
fn ipv6_fits_mtu(t: &Topology, node: &str, port: &IfacePlan) -> Result<(), TopologyError> {
    let Some(v6) = port.addrs.iter().find(|a| a.addr().is_ipv6()) else {
        return Ok(());
    };
    if port.mtu >= IPV6_MIN_MTU {
        return Ok(());
    }
    let link = &t.links[port.link];
    let origin = if link.mtu.is_some() {
        "this link's"
    } else {
        "the default"
    };
    Err(TopologyError::new(
        crate::topology::ErrorKind::BadValue,
        &t.source,
        link.span,
        format!(
            "{origin} MTU {} is below IPv6's minimum of {IPV6_MIN_MTU}, and `{node}:{}` has \
             IPv6 address `{v6}`",
            port.mtu, port.name
        ),
    )
    .with_help(format!(
        "IPv6 needs an MTU of at least {IPV6_MIN_MTU}: raise the MTU, or turn IPv6 off \
         (`addressing: {{ipv6: false}}`) and give the link no IPv6 address"
    )))
}

fn sysctls(node: &Node) -> Vec<(String, String)> {
    let builtin: &[(&str, &str)] = match node.kind {
        NodeKind::Host => &[
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.keep_addr_on_down", "1"),
            ("net.ipv4.ping_group_range", "0 2147483647"),
        ],
        NodeKind::Router => &[
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.keep_addr_on_down", "1"),
            ("net.ipv4.ping_group_range", "0 2147483647"),
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv6.conf.all.forwarding", "1"),
        ],
        NodeKind::Switch | NodeKind::Fabric => &[
            ("net.ipv6.conf.all.disable_ipv6", "1"),
            ("net.ipv6.conf.default.disable_ipv6", "1"),
        ],
        // Its ports are created after this: they get IPv6 off (no DAD, RS or MLD from a
        // switch). `mgmt0` gets it back on when it has an IPv6 address (apply).
        NodeKind::OfSwitch => &[
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.default.disable_ipv6", "1"),
        ],
        NodeKind::Controller => &[
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.keep_addr_on_down", "1"),
            ("net.ipv4.ping_group_range", "0 2147483647"),
        ],
    };
    let mut out: Vec<(String, String)> = builtin
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in &node.sysctl {
        match out.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests;
