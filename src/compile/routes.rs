//! Static routes: what every host and router needs so that every address in the lab is
//! reachable from everywhere it can be, over IPv4 and IPv6 alike.
//!
//! ```text
//!   domains + addresses ──▶ L3 adjacency (per family) ──per prefix: BFS from its owners──▶
//!   distance of every router ──▶ per node: first hop = nearest neighbour ──▶ routes
//!                                                     hosts: collapse to a default route
//! ```
//!
//! Per family, independently:
//! - **Prefixes**: every domain subnet (LAN and point-to-point), then every loopback, in
//!   node order. A node is *attached* to a domain when one of its interfaces there has an
//!   address of the family; it *owns* its loopbacks.
//! - **Adjacency**: two L3 nodes are neighbours when they are attached to a common domain;
//!   the first such domain (domain order) and each node's first interface on it (link
//!   order) define the hop: `via` the neighbour's address there, `dev` our interface there.
//! - **Distances**: for prefix P, the *owners* are the routers attached to P's domain, or
//!   the node owning the loopback. A breadth-first search from the owners over routers
//!   only (hosts never forward) gives each router its hop count to P.
//! - **Choice**: a node neither attached to nor owning P routes it via the neighbour (a
//!   router, or the owner itself) with the fewest hops to P; ties go to the lowest node
//!   index. Every hop strictly decreases the distance, so the routes are loop-free.
//!   Unreachable prefixes get no route.
//! - **Hosts** keep the same next hops but collapse them: a default route (`0.0.0.0/0`,
//!   `::/0`) via the neighbour used most often (ties: lowest node index), plus specific
//!   routes only where the next hop differs. A host with no router neighbour has no routes.
//!
//! Output order per node: IPv4 then IPv6; within a family the default route (hosts) first,
//! then specific routes in prefix order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;

use ipnet::IpNet;

use super::address::Addresses;
use super::ifaces::Ifaces;
use super::model::Model;
use super::plan::RoutePlan;
use super::space::Family;

/// How a node reaches one neighbour.
#[derive(Debug, Clone, Copy)]
struct Hop {
    via: IpAddr,
    dev: u32,
}

/// One route before host collapse: destination and the neighbour it goes through.
struct Choice {
    dst: IpNet,
    next: usize,
}

struct Prefix {
    dst: IpNet,
    /// Nodes that deliver P themselves (distance 0).
    owners: Vec<usize>,
    /// Nodes that need no route to P (attached or owning).
    local: BTreeSet<usize>,
}

/// Routes of every node, indexed like `Topology::nodes`.
pub fn routes(m: &Model, ifaces: &Ifaces, addrs: &Addresses) -> Vec<Vec<RoutePlan>> {
    let mut out = vec![Vec::new(); m.topology.nodes.len()];
    for family in Family::ALL {
        for (node, routes) in family_routes(m, ifaces, addrs, family)
            .into_iter()
            .enumerate()
        {
            out[node].extend(routes);
        }
    }
    out
}

fn family_routes(
    m: &Model,
    ifaces: &Ifaces,
    addrs: &Addresses,
    family: Family,
) -> Vec<Vec<RoutePlan>> {
    let t = m.topology;
    let n = t.nodes.len();
    let is_router = |x: usize| t.nodes[x].kind.forwards_ip();
    let owns_loopback: Vec<bool> = addrs
        .loopbacks
        .iter()
        .map(|l| l.iter().any(|a| Family::of_net(a) == family))
        .collect();

    // Per domain: attached nodes with their first interface (ifindex) and address.
    let mut prefixes = Vec::new();
    let mut nbrs: Vec<BTreeMap<usize, Hop>> = vec![BTreeMap::new(); n];
    for (di, domain) in m.domains.iter().enumerate() {
        let Some(subnet) = addrs.subnets[di][family.index()] else {
            continue;
        };
        let mut attached: Vec<(usize, Hop)> = Vec::new();
        let mut seen = BTreeSet::new();
        for &end in &domain.members {
            let node = m.node_of(end);
            if seen.contains(&node) {
                continue;
            }
            if let Some(a) = addrs.of(end).iter().find(|a| Family::of_net(a) == family) {
                seen.insert(node);
                let dev = ifaces.of(m, end).ifindex;
                attached.push((node, Hop { via: a.addr(), dev }));
            }
        }
        // Only routers (and loopback owners, for their own loopback) can be next hops.
        let gateways: Vec<(usize, Hop)> = attached
            .iter()
            .copied()
            .filter(|&(y, _)| is_router(y) || owns_loopback[y])
            .collect();
        for &(x, x_hop) in &attached {
            for &(y, y_hop) in &gateways {
                if x != y {
                    nbrs[x].entry(y).or_insert(Hop {
                        via: y_hop.via,
                        dev: x_hop.dev,
                    });
                }
            }
        }
        prefixes.push(Prefix {
            dst: subnet,
            owners: attached
                .iter()
                .map(|(x, _)| *x)
                .filter(|&x| is_router(x))
                .collect(),
            local: attached.iter().map(|(x, _)| *x).collect(),
        });
    }
    for (x, los) in addrs.loopbacks.iter().enumerate() {
        for lo in los.iter().filter(|a| Family::of_net(a) == family) {
            prefixes.push(Prefix {
                dst: lo.trunc(),
                owners: vec![x],
                local: BTreeSet::from([x]),
            });
        }
    }

    let mut choices: Vec<Vec<Choice>> = (0..n).map(|_| Vec::new()).collect();
    for p in &prefixes {
        let dist = distances(&nbrs, &p.owners, &is_router);
        for (x, hops) in nbrs.iter().enumerate() {
            if p.local.contains(&x) || !t.nodes[x].kind.is_l3() {
                continue;
            }
            let mut best: Option<(u32, usize)> = None;
            for &y in hops.keys() {
                if let Some(d) = dist[y]
                    && best.is_none_or(|(bd, _)| d < bd)
                {
                    best = Some((d, y));
                }
            }
            if let Some((_, next)) = best {
                choices[x].push(Choice { dst: p.dst, next });
            }
        }
    }

    choices
        .into_iter()
        .enumerate()
        .map(|(x, cs)| {
            let hop = |next: usize| nbrs[x][&next];
            let plan = |dst: IpNet, next: usize| RoutePlan {
                dst,
                via: hop(next).via,
                dev: hop(next).dev,
            };
            if is_router(x) || cs.is_empty() {
                return cs.iter().map(|c| plan(c.dst, c.next)).collect();
            }
            let mut count: BTreeMap<usize, usize> = BTreeMap::new();
            for c in &cs {
                *count.entry(c.next).or_default() += 1;
            }
            let mut default = (0, usize::MAX);
            for (&next, &k) in &count {
                if k > default.0 {
                    default = (k, next);
                }
            }
            let default = default.1;
            std::iter::once(plan(family.default_route(), default))
                .chain(
                    cs.iter()
                        .filter(|c| c.next != default)
                        .map(|c| plan(c.dst, c.next)),
                )
                .collect()
        })
        .collect()
}

/// Hop counts to the owners: owners 0, routers by BFS, everything else `None`.
fn distances(
    nbrs: &[BTreeMap<usize, Hop>],
    owners: &[usize],
    is_router: &dyn Fn(usize) -> bool,
) -> Vec<Option<u32>> {
    let mut dist = vec![None; nbrs.len()];
    let mut queue = VecDeque::new();
    for &o in owners {
        dist[o] = Some(0);
        queue.push_back(o);
    }
    while let Some(u) = queue.pop_front() {
        let d = dist[u].expect("queued nodes have a distance");
        for &v in nbrs[u].keys() {
            if is_router(v) && dist[v].is_none() {
                dist[v] = Some(d + 1);
                queue.push_back(v);
            }
        }
    }
    dist
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
