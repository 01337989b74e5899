//! The graph model of a topology: who is wired to whom, which broadcast domain each L3
//! interface sits in, and which switch links must be cut to keep a bridged segment loop-free.
//!
//! ```text
//!   Topology ──resolve names──▶ Graph<NodeIdx, LinkIdx> (one vertex per node, one edge per link)
//!            ──switch BFS─────▶ L2 (LAN) domains + spanning tree (blocked links)
//!            ──L3–L3 links────▶ point-to-point domains
//! ```
//!
//! Definitions (the rest of compile builds on them):
//! - An **L3 node** is a host, a router or a controller; a **switch** is a Linux bridge or
//!   an OpenFlow switch (`ofswitch`).
//! - A **LAN domain** is a connected component of switches joined by switch–switch links.
//!   Every L3 end of a switch–L3 link whose switch is in the component is a member.
//!   LAN domains are ordered by the node index of their first switch; a switch with no
//!   links is still a (memberless) domain.
//! - A **point-to-point domain** is one direct L3–L3 link; its members are the `a` then the
//!   `b` end. They follow the LAN domains, in link order.
//! - Members of a domain are listed in link order.
//!
//! Loops: in a LAN domain where no switch runs STP, a breadth-first spanning tree over the
//! switches (starting at the domain's first switch in node order, neighbours visited in link
//! order) keeps the tree links; every other switch–switch link in the domain is *blocked*
//! (its veth exists but is no bridge port). If any switch of the domain has `stp: true`, the
//! whole domain runs kernel STP instead and nothing is blocked. Only links between two
//! Linux bridges are ever blocked (every loop of bridges alone still has a blocked link):
//! a loop through an OpenFlow switch is its controller's to handle (`shortest-path`).
//!
//! petgraph's own neighbour iteration runs in reverse insertion order, so wherever order
//! matters this module sorts incident edges by link index instead of trusting it.

use std::collections::{BTreeMap, VecDeque};

use petgraph::graph::{NodeIndex, UnGraph};

use crate::topology::{ErrorKind, Link, NodeKind, Topology, TopologyError};

/// Index of a node in `Topology::nodes` (and in `Plan::nodes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeIdx(pub usize);

/// Index of a link in `Topology::links` (and the `link` field of the Plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkIdx(pub usize);

/// Which end of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::A, Side::B];

    pub fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// One end of one link: the unit that becomes an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndRef {
    pub link: usize,
    pub side: Side,
}

impl EndRef {
    pub fn endpoint(self, t: &Topology) -> &crate::topology::Endpoint {
        let link = &t.links[self.link];
        match self.side {
            Side::A => &link.a,
            Side::B => &link.b,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainKind {
    /// A bridged segment: its switches in node order, and whether it runs kernel STP.
    Lan { switches: Vec<usize>, stp: bool },
    /// One direct L3–L3 link.
    P2p { link: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub kind: DomainKind,
    /// L3 ends in this domain, in link order.
    pub members: Vec<EndRef>,
}

impl Domain {
    pub fn is_lan(&self) -> bool {
        matches!(self.kind, DomainKind::Lan { .. })
    }
}

/// The resolved topology graph plus its domains. Built once; everything after reads it.
#[derive(Debug)]
pub struct Model<'t> {
    pub topology: &'t Topology,
    /// Vertex `i` is node `i`; edge weights are link indexes.
    pub graph: UnGraph<NodeIdx, LinkIdx>,
    /// Per link: the node index of its `a` and `b` end.
    pub ends: Vec<[usize; 2]>,
    /// LAN domains (by first switch) then point-to-point domains (by link).
    pub domains: Vec<Domain>,
    /// Per link: the domain it belongs to (switch–switch links: their switches' domain).
    pub link_domain: Vec<usize>,
    /// Per link: cut to break an L2 loop (switch–switch links only).
    pub blocked: Vec<bool>,
}

impl<'t> Model<'t> {
    pub fn new(topology: &'t Topology) -> Result<Self, TopologyError> {
        let by_name: BTreeMap<&str, usize> = topology
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut graph = UnGraph::with_capacity(topology.nodes.len(), topology.links.len());
        for i in 0..topology.nodes.len() {
            graph.add_node(NodeIdx(i));
        }
        let mut ends = Vec::with_capacity(topology.links.len());
        for (li, link) in topology.links.iter().enumerate() {
            let a = resolve(topology, &by_name, link, Side::A)?;
            let b = resolve(topology, &by_name, link, Side::B)?;
            graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), LinkIdx(li));
            ends.push([a, b]);
        }
        let mut model = Model {
            topology,
            graph,
            ends,
            domains: Vec::new(),
            link_domain: vec![usize::MAX; topology.links.len()],
            blocked: vec![false; topology.links.len()],
        };
        model.find_lans();
        model.find_p2p();
        Ok(model)
    }

    pub fn kind(&self, node: usize) -> NodeKind {
        self.topology.nodes[node].kind
    }

    /// The node is a Linux bridge (see [`NodeKind::has_bridge`]).
    pub fn has_bridge(&self, node: usize) -> bool {
        self.kind(node).has_bridge()
    }

    /// The node is an L2 switch: its links join LAN domains (see [`NodeKind::is_l2`]).
    pub fn is_l2(&self, node: usize) -> bool {
        self.kind(node).is_l2()
    }

    /// The node at one end of a link.
    pub fn node_of(&self, end: EndRef) -> usize {
        self.ends[end.link][end.side.index()]
    }

    /// Links incident to `node`, in link order (a self-loop appears once).
    pub fn incident(&self, node: usize) -> Vec<usize> {
        let mut links: Vec<usize> = self
            .graph
            .edges(NodeIndex::new(node))
            .map(|e| e.weight().0)
            .collect();
        links.sort_unstable();
        links.dedup();
        links
    }

    /// The ends that sit on `node`, in link order (`a` before `b` on a self-loop).
    pub fn ends_of(&self, node: usize) -> Vec<EndRef> {
        let mut out = Vec::new();
        for link in self.incident(node) {
            for side in Side::BOTH {
                if self.ends[link][side.index()] == node {
                    out.push(EndRef { link, side });
                }
            }
        }
        out
    }

    /// Switch components by BFS, which also yields the spanning tree.
    fn find_lans(&mut self) {
        let n = self.topology.nodes.len();
        let mut lan_of: Vec<Option<usize>> = vec![None; n];
        for start in 0..n {
            if !self.is_l2(start) || lan_of[start].is_some() {
                continue;
            }
            let domain = self.domains.len();
            let mut switches = vec![start];
            let mut in_tree = vec![false; self.topology.links.len()];
            let mut switch_links = Vec::new();
            lan_of[start] = Some(domain);
            let mut queue = VecDeque::from([start]);
            while let Some(s) = queue.pop_front() {
                for link in self.incident(s) {
                    let [a, b] = self.ends[link];
                    let other = if a == s { b } else { a };
                    if !self.is_l2(other) {
                        continue;
                    }
                    switch_links.push(link);
                    if lan_of[other].is_none() {
                        lan_of[other] = Some(domain);
                        switches.push(other);
                        in_tree[link] = true;
                        queue.push_back(other);
                    }
                }
            }
            switches.sort_unstable();
            let stp = switches.iter().any(|&s| self.topology.nodes[s].stp);
            for &link in &switch_links {
                self.link_domain[link] = domain;
                let [a, b] = self.ends[link];
                if !stp && !in_tree[link] && self.has_bridge(a) && self.has_bridge(b) {
                    self.blocked[link] = true;
                }
            }
            self.domains.push(Domain {
                kind: DomainKind::Lan { switches, stp },
                members: Vec::new(),
            });
        }
        // Members: L3 ends of switch–L3 links, in link order.
        for (link, &[a, b]) in self.ends.iter().enumerate() {
            let (sa, sb) = (self.is_l2(a), self.is_l2(b));
            let (switch, l3_side) = match (sa, sb) {
                (true, false) => (a, Side::B),
                (false, true) => (b, Side::A),
                _ => continue,
            };
            let domain = lan_of[switch].expect("every switch has a LAN domain");
            self.link_domain[link] = domain;
            self.domains[domain].members.push(EndRef {
                link,
                side: l3_side,
            });
        }
    }

    fn find_p2p(&mut self) {
        for (link, &[a, b]) in self.ends.iter().enumerate() {
            if self.is_l2(a) || self.is_l2(b) {
                continue;
            }
            self.link_domain[link] = self.domains.len();
            self.domains.push(Domain {
                kind: DomainKind::P2p { link },
                members: vec![
                    EndRef {
                        link,
                        side: Side::A,
                    },
                    EndRef {
                        link,
                        side: Side::B,
                    },
                ],
            });
        }
    }
}

fn resolve(
    t: &Topology,
    by_name: &BTreeMap<&str, usize>,
    link: &Link,
    side: Side,
) -> Result<usize, TopologyError> {
    let end = match side {
        Side::A => &link.a,
        Side::B => &link.b,
    };
    by_name.get(end.node.as_str()).copied().ok_or_else(|| {
        TopologyError::new(
            ErrorKind::UnknownNode,
            &t.source,
            end.span,
            format!("link endpoint names unknown node `{}`", end.node),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::testutil::TopoBuilder;

    #[test]
    fn lan_domains_group_switch_components_and_their_l3_ends() {
        let t = TopoBuilder::new("d")
            .host("h1")
            .switch("s1")
            .switch("s2")
            .host("h2")
            .router("r1")
            .switch("s3")
            .host("h3")
            .link("h1", "s1")
            .link("s1", "s2")
            .link("s2", "h2")
            .link("r1", "s2")
            .link("r1", "s3")
            .link("s3", "h3")
            .link("r1", "h1")
            .build();
        let m = Model::new(&t).unwrap();
        assert_eq!(m.domains.len(), 3);
        assert_eq!(
            m.domains[0].kind,
            DomainKind::Lan {
                switches: vec![1, 2],
                stp: false
            }
        );
        let members = |d: usize| -> Vec<(usize, Side)> {
            m.domains[d]
                .members
                .iter()
                .map(|e| (e.link, e.side))
                .collect()
        };
        assert_eq!(members(0), [(0, Side::A), (2, Side::B), (3, Side::A)]);
        assert_eq!(members(1), [(4, Side::A), (5, Side::B)]);
        assert_eq!(m.domains[2].kind, DomainKind::P2p { link: 6 });
        assert_eq!(members(2), [(6, Side::A), (6, Side::B)]);
        assert_eq!(m.link_domain, [0, 0, 0, 0, 1, 1, 2]);
        assert!(m.blocked.iter().all(|b| !b));
    }

    #[test]
    fn ring_of_four_switches_blocks_the_closing_link_on_bfs_order() {
        // s1-s2, s2-s3, s3-s4, s4-s1: BFS from s1 takes s1-s2 and s4-s1 (link order at
        // s1), then s2-s3; s3-s4 closes the loop.
        let mut b = TopoBuilder::new("ring");
        for s in ["s1", "s2", "s3", "s4"] {
            b = b.switch(s);
        }
        let t = b
            .link("s1", "s2")
            .link("s2", "s3")
            .link("s3", "s4")
            .link("s4", "s1")
            .build();
        let m = Model::new(&t).unwrap();
        assert_eq!(m.blocked, [false, false, true, false]);
        assert_eq!(m.domains.len(), 1);
    }

    #[test]
    fn parallel_switch_links_keep_only_the_first() {
        let t = TopoBuilder::new("par")
            .switch("s1")
            .switch("s2")
            .link("s1", "s2")
            .link("s2", "s1")
            .build();
        let m = Model::new(&t).unwrap();
        assert_eq!(m.blocked, [false, true]);
    }

    #[test]
    fn any_stp_switch_turns_the_domain_to_kernel_stp_and_blocks_nothing() {
        let t = TopoBuilder::new("stp")
            .switch("s1")
            .stp_switch("s2")
            .switch("s3")
            .link("s1", "s2")
            .link("s2", "s3")
            .link("s3", "s1")
            .build();
        let m = Model::new(&t).unwrap();
        assert!(m.blocked.iter().all(|b| !b));
        assert_eq!(
            m.domains[0].kind,
            DomainKind::Lan {
                switches: vec![0, 1, 2],
                stp: true
            }
        );
    }

    #[test]
    fn unknown_endpoint_is_an_error_with_its_span() {
        let mut t = TopoBuilder::new("u")
            .host("h1")
            .host("h2")
            .link("h1", "h2")
            .build();
        t.links[0].b.node = "nope".into();
        let e = Model::new(&t).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownNode);
        assert_eq!(e.line, t.links[0].b.span.line);
    }
}
