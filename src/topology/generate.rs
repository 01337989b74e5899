//! Generators: Mininet-style topologies (star, linear, tree, ring, fat tree) expanded into
//! plain node and link lists.
//!
//! ```text
//!   GeneratorKind (spec) ──shape()──▶ Shape (sizes checked) ──expand(prefix)──▶ Generated
//! ```
//!
//! Expansion is pure and its order is part of the contract (compile derives names,
//! addresses and MACs from it). Nodes and links come out in exactly this order:
//!
//! - **star** `{hosts: N}` (Mininet `SingleSwitchTopo`): nodes `s1, h1..hN`; links
//!   `h1–s1 … hN–s1` (host first).
//! - **linear** `{switches: K, hosts_per_switch: N}` (Mininet `LinearTopo`): for i in 1..=K:
//!   node `s{i}`, then its hosts `h{j}` … linked host→switch, then link `s{i}–s{i-1}` (i > 1).
//!   Hosts are named `h{i}` when N = 1, else `h{j}s{i}` (j in 1..=N).
//! - **ring**: exactly linear, plus a last link `s{K}–s1`. K ≥ 3.
//! - **tree** `{depth: D, fanout: F}` (Mininet `TreeTopo`): `add(d)` = if d > 0 { switch
//!   `s{n++}`; F times { child = add(d-1); link(switch, child) } } else { host `h{m++}` }.
//!   So nodes are in DFS preorder, a switch's link to a child comes after the child's
//!   whole subtree, and hosts are numbered left to right.
//! - **torus** `{x: X, y: Y, hosts_per_switch: N}` (Mininet `TorusTopo`, X, Y ≥ 3): for i
//!   in 1..=X, j in 1..=Y: switch `s{i}x{j}`, then its hosts (`h{i}x{j}` when N = 1, else
//!   `h{i}x{j}x{k}`), each linked host→switch; then for i, j again: links
//!   `s{i}x{j}–s{i}x{j+1}` and `s{i}x{j}–s{i+1}x{j}`, both wrapping (the torus's loops are
//!   cut like any L2 loop: compile-time spanning tree, or `stp`).
//! - **fattree** `{k: K}` (K even, h = K/2): nodes: core switches `s1..s{h²}`, then pod by
//!   pod: its h aggregation switches, its h edge switches, then its hosts (h per edge
//!   switch, edge by edge); switches and hosts are numbered on, across pods. Links, pod by
//!   pod: edge–host (edge by edge), edge–agg (every pair, edge-major), then aggregation
//!   switch j (0-based) to core switches `j·h … (j+1)·h − 1` (0-based).
//!
//! - **ases** `{ases: N, routers_per_as: R, hosts_per_as: H, first_asn: A,
//!   route_reflector: true}` (defaults R 5, H 1, A 65001): AS by AS (AS number A, A+1, …):
//!   routers `as{i}r1..as{i}rR` (every one with `bgp: {asn, neighbors: auto}`, `as{i}r1` a
//!   route reflector when R > 2 and `route_reflector` is on), hosts `as{i}h1..as{i}hH` (host
//!   j on router R − (j−1) mod R), then links: host–router, the routers' ring
//!   (`r1–r2 … r{R-1}–rR`, then `rR–r1` when R > 2). Then the inter-AS links: a ring of ASes
//!   (AS i's router 2 to AS i+1's router 3, router numbers wrapping within R; one link for
//!   N = 2), and for N ≥ 6 a chord from AS i (i = 1, 4, 7, … ≤ N/2) router 4 to AS i + N/2
//!   router 5. Every AS is reached, each over at most a few links.
//!
//! Every name gets the generator's `prefix` in front. Sizes are limited so that a typo
//! (`fanout: 100, depth: 10`) cannot exhaust memory: at most [`MAX_NODES`] per generator.

use super::check::Ctx;
use super::error::{ErrorKind, TopologyError};
use super::model::{NodeKind, Span};
use super::spec::{GeneratorKind, span};

/// Most nodes one generator may make.
pub const MAX_NODES: u64 = 100_000;

/// A generator with checked sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Star {
        hosts: u32,
    },
    Linear {
        switches: u32,
        hosts_per_switch: u32,
    },
    Ring {
        switches: u32,
        hosts_per_switch: u32,
    },
    Tree {
        depth: u32,
        fanout: u32,
    },
    Torus {
        x: u32,
        y: u32,
        hosts_per_switch: u32,
    },
    FatTree {
        k: u32,
    },
    Ases {
        ases: u32,
        routers: u32,
        hosts: u32,
        first_asn: u32,
        route_reflector: bool,
    },
}

/// A generator's output, in order: `(name, kind)` nodes and `(a, b)` links.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Generated {
    pub nodes: Vec<(String, NodeKind)>,
    pub links: Vec<(String, String)>,
    /// Generated BGP routers: name → (AS, route reflector).
    pub bgp: std::collections::BTreeMap<String, (u32, bool)>,
}

/// Reads and checks a generator's sizes; errors point at the offending number. Also
/// returns where its first size is written (for errors about its total).
pub fn shape(kind: &GeneratorKind, ctx: &Ctx<'_>) -> Result<(Shape, Span), TopologyError> {
    let size = |v: &serde_saphyr::Spanned<u64>, min: u64, what: &str| {
        if v.value < min {
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    span(v),
                    format!("{what} must be at least {min}"),
                )
                .with_help(format!("set {what} to {min} or more")));
        }
        u32::try_from(v.value).map_err(|_| {
            ctx.error(
                ErrorKind::BadValue,
                span(v),
                format!("{what} {} is too large", v.value),
            )
            .with_help(format!("a generator makes at most {MAX_NODES} nodes"))
        })
    };
    let per_switch = |v: &Option<serde_saphyr::Spanned<u64>>| match v {
        Some(v) => size(v, 1, "hosts_per_switch"),
        None => Ok(1),
    };
    let (shape, first) = match kind {
        GeneratorKind::Star(s) => (
            Shape::Star {
                hosts: size(&s.hosts, 1, "hosts")?,
            },
            &s.hosts,
        ),
        GeneratorKind::Linear(s) => {
            let switches = size(&s.switches, 1, "switches")?;
            (
                Shape::Linear {
                    switches,
                    hosts_per_switch: per_switch(&s.hosts_per_switch)?,
                },
                &s.switches,
            )
        }
        GeneratorKind::Ring(s) => {
            let switches = size(&s.switches, 3, "switches")?;
            (
                Shape::Ring {
                    switches,
                    hosts_per_switch: per_switch(&s.hosts_per_switch)?,
                },
                &s.switches,
            )
        }
        GeneratorKind::Tree(s) => {
            let depth = size(&s.depth, 1, "depth")?;
            (
                Shape::Tree {
                    depth,
                    fanout: size(&s.fanout, 1, "fanout")?,
                },
                &s.depth,
            )
        }
        GeneratorKind::Torus(s) => {
            let x = size(&s.x, 3, "x")?;
            (
                Shape::Torus {
                    x,
                    y: size(&s.y, 3, "y")?,
                    hosts_per_switch: per_switch(&s.hosts_per_switch)?,
                },
                &s.x,
            )
        }
        GeneratorKind::Fattree(s) => {
            let k = size(&s.k, 2, "k")?;
            if k % 2 != 0 {
                return Err(ctx
                    .error(
                        ErrorKind::BadValue,
                        span(&s.k),
                        format!("fattree k must be even, not {k}"),
                    )
                    .with_help(format!("use k: {} or k: {}", k - 1, k + 1)));
            }
            (Shape::FatTree { k }, &s.k)
        }
        GeneratorKind::Ases(s) => {
            let ases = size(&s.ases, 1, "ases")?;
            let routers = match &s.routers_per_as {
                Some(v) => size(v, 1, "routers_per_as")?,
                None => 5,
            };
            let hosts = match &s.hosts_per_as {
                Some(v) => size(v, 0, "hosts_per_as")?,
                None => 1,
            };
            let first_asn = match &s.first_asn {
                None => 65001,
                Some(v) => {
                    let last = v.value.saturating_add(u64::from(ases) - 1);
                    let bad = (v.value..=last).find(|&a| !super::bgp_check::asn_ok(a));
                    if let Some(a) = bad {
                        return Err(ctx
                            .error(
                                ErrorKind::BadValue,
                                span(v),
                                format!(
                                    "the ASes would be {} to {last}, and {a} is not a valid AS",
                                    v.value
                                ),
                            )
                            .with_help(
                                "AS numbers are 1 ..= 4294967295 and not 23456 (AS_TRANS); \
                                 the ASes count on from `first_asn`",
                            ));
                    }
                    v.value as u32
                }
            };
            (
                Shape::Ases {
                    ases,
                    routers,
                    hosts,
                    first_asn,
                    route_reflector: s.route_reflector.as_ref().is_none_or(|r| r.value),
                },
                &s.ases,
            )
        }
    };
    match shape.node_count() {
        Some(n) if n <= MAX_NODES => Ok((shape, span(first))),
        count => {
            let count = count.map_or("too many".to_string(), |n| n.to_string());
            Err(ctx
                .error(
                    ErrorKind::BadValue,
                    span(first),
                    format!("this generator would make {count} nodes"),
                )
                .with_help(format!("a generator makes at most {MAX_NODES} nodes")))
        }
    }
}

impl Shape {
    /// How many nodes `expand` makes; `None` when more than `u64::MAX`, or (for trees,
    /// whose count takes `depth` steps) more than [`MAX_NODES`], so that counting stays
    /// quick for any depth.
    pub fn node_count(&self) -> Option<u64> {
        match *self {
            Shape::Star { hosts } => u64::from(hosts).checked_add(1),
            Shape::Linear {
                switches,
                hosts_per_switch,
            }
            | Shape::Ring {
                switches,
                hosts_per_switch,
            } => u64::from(switches).checked_mul(u64::from(hosts_per_switch) + 1),
            Shape::Tree { depth, fanout } => {
                // switches: 1 + F + … + F^(D-1); hosts: F^D.
                let mut level = 1u64;
                let mut total = 0u64;
                for _ in 0..depth {
                    total = total.checked_add(level)?;
                    if total > MAX_NODES {
                        return None;
                    }
                    level = level.checked_mul(u64::from(fanout))?;
                }
                total.checked_add(level)
            }
            Shape::Torus {
                x,
                y,
                hosts_per_switch,
            } => u64::from(x)
                .checked_mul(u64::from(y))?
                .checked_mul(u64::from(hosts_per_switch) + 1),
            Shape::Ases {
                ases,
                routers,
                hosts,
                ..
            } => u64::from(ases).checked_mul(u64::from(routers) + u64::from(hosts)),
            Shape::FatTree { k } => {
                let (k, h) = (u64::from(k), u64::from(k / 2));
                // core h², k pods of k switches and h² hosts.
                let core = h.checked_mul(h)?;
                core.checked_add(k.checked_mul(k.checked_add(core)?)?)
            }
        }
    }

    /// The nodes and links of this shape, every name starting with `prefix`.
    pub fn expand(&self, prefix: &str) -> Generated {
        let mut g = Builder {
            prefix,
            out: Generated::default(),
            switches: 0,
            hosts: 0,
        };
        match *self {
            Shape::Star { hosts } => {
                let s1 = g.switch();
                for _ in 0..hosts {
                    let h = g.host();
                    g.link(&h, &s1);
                }
            }
            Shape::Linear {
                switches,
                hosts_per_switch,
            } => {
                g.linear(switches, hosts_per_switch);
            }
            Shape::Ring {
                switches,
                hosts_per_switch,
            } => {
                let (first, last) = g.linear(switches, hosts_per_switch);
                g.link(&last, &first);
            }
            Shape::Tree { depth, fanout } => {
                g.tree(depth, fanout);
            }
            Shape::Torus {
                x,
                y,
                hosts_per_switch,
            } => g.torus(x, y, hosts_per_switch),
            Shape::FatTree { k } => g.fattree(k / 2),
            Shape::Ases {
                ases,
                routers,
                hosts,
                first_asn,
                route_reflector,
            } => g.ases(ases, routers, hosts, first_asn, route_reflector),
        }
        g.out
    }
}

struct Builder<'a> {
    prefix: &'a str,
    out: Generated,
    switches: u32,
    hosts: u32,
}

impl Builder<'_> {
    fn add(&mut self, name: String, kind: NodeKind) -> String {
        self.out.nodes.push((name.clone(), kind));
        name
    }

    fn switch(&mut self) -> String {
        self.switches += 1;
        self.add(
            format!("{}s{}", self.prefix, self.switches),
            NodeKind::Switch,
        )
    }

    fn host(&mut self) -> String {
        self.hosts += 1;
        self.add(format!("{}h{}", self.prefix, self.hosts), NodeKind::Host)
    }

    fn link(&mut self, a: &str, b: &str) {
        self.out.links.push((a.to_string(), b.to_string()));
    }

    /// Mininet LinearTopo; returns the first and last switch.
    fn linear(&mut self, switches: u32, per_switch: u32) -> (String, String) {
        let mut first = String::new();
        let mut last: Option<String> = None;
        for i in 1..=switches {
            let switch = self.switch();
            for j in 1..=per_switch {
                let name = if per_switch == 1 {
                    format!("{}h{i}", self.prefix)
                } else {
                    format!("{}h{j}s{i}", self.prefix)
                };
                let host = self.add(name, NodeKind::Host);
                self.link(&host, &switch);
            }
            if let Some(prev) = &last {
                let prev = prev.clone();
                self.link(&switch, &prev);
            } else {
                first = switch.clone();
            }
            last = Some(switch);
        }
        (first, last.unwrap_or_default())
    }

    /// Mininet TreeTopo's addTree.
    fn tree(&mut self, depth: u32, fanout: u32) -> String {
        if depth == 0 {
            return self.host();
        }
        let switch = self.switch();
        for _ in 0..fanout {
            let child = self.tree(depth - 1, fanout);
            self.link(&switch, &child);
        }
        switch
    }

    /// BGP ASes (see the module doc).
    fn ases(&mut self, ases: u32, routers: u32, hosts: u32, first_asn: u32, rr: bool) {
        let p = self.prefix.to_string();
        let router = |a: u32, r: u32| format!("{p}as{a}r{r}");
        for a in 1..=ases {
            let asn = first_asn + (a - 1);
            for r in 1..=routers {
                let name = self.add(router(a, r), NodeKind::Router);
                self.out
                    .bgp
                    .insert(name, (asn, rr && r == 1 && routers > 2));
            }
            for h in 1..=hosts {
                let host = self.add(format!("{p}as{a}h{h}"), NodeKind::Host);
                // Hosts from the last router backwards: away from the inter-AS links.
                let r = routers - (h - 1) % routers;
                self.link(&host, &router(a, r));
            }
            // The AS's ring (a line of two, nothing for one).
            for r in 1..routers {
                self.link(&router(a, r), &router(a, r + 1));
            }
            if routers > 2 {
                self.link(&router(a, routers), &router(a, 1));
            }
        }
        // Between ASes: a ring (AS i's router 2 to AS i+1's router 3, wrapping within the
        // AS's routers), plus a chord from every third AS to the one halfway round.
        let pick = |k: u32| (k - 1) % routers + 1;
        if ases >= 2 {
            let ring = if ases == 2 { 1 } else { ases };
            for a in 1..=ring {
                let b = a % ases + 1;
                self.link(&router(a, pick(2)), &router(b, pick(3)));
            }
        }
        if ases >= 6 {
            for a in (1..=ases / 2).step_by(3) {
                let b = a + ases / 2;
                self.link(&router(a, pick(4)), &router(b, pick(5)));
            }
        }
    }

    /// Mininet TorusTopo (see the module doc).
    fn torus(&mut self, x: u32, y: u32, per_switch: u32) {
        let p = self.prefix.to_string();
        let switch = |i: u32, j: u32| format!("{p}s{i}x{j}");
        for i in 1..=x {
            for j in 1..=y {
                let s = self.add(switch(i, j), NodeKind::Switch);
                for k in 1..=per_switch {
                    let name = if per_switch == 1 {
                        format!("{p}h{i}x{j}")
                    } else {
                        format!("{p}h{i}x{j}x{k}")
                    };
                    let h = self.add(name, NodeKind::Host);
                    self.link(&h, &s);
                }
            }
        }
        for i in 1..=x {
            for j in 1..=y {
                self.link(&switch(i, j), &switch(i, j % y + 1));
                self.link(&switch(i, j), &switch(i % x + 1, j));
            }
        }
    }

    fn fattree(&mut self, h: u32) {
        let core: Vec<String> = (0..h * h).map(|_| self.switch()).collect();
        for _pod in 0..2 * h {
            let aggs: Vec<String> = (0..h).map(|_| self.switch()).collect();
            let edges: Vec<String> = (0..h).map(|_| self.switch()).collect();
            let hosts: Vec<Vec<String>> = edges
                .iter()
                .map(|_| (0..h).map(|_| self.host()).collect())
                .collect();
            for (edge, hosts) in edges.iter().zip(&hosts) {
                for host in hosts {
                    self.link(edge, host);
                }
            }
            for edge in &edges {
                for agg in &aggs {
                    self.link(edge, agg);
                }
            }
            for (j, agg) in aggs.iter().enumerate() {
                let j = j as u32;
                for c in j * h..(j + 1) * h {
                    self.link(agg, &core[c as usize]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(g: &Generated) -> Vec<&str> {
        g.nodes.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn links(g: &Generated) -> Vec<String> {
        g.links.iter().map(|(a, b)| format!("{a}-{b}")).collect()
    }

    fn check_count(shape: Shape) -> Generated {
        let g = shape.expand("");
        assert_eq!(Some(g.nodes.len() as u64), shape.node_count(), "{shape:?}");
        g
    }

    #[test]
    fn star() {
        let g = check_count(Shape::Star { hosts: 3 });
        assert_eq!(names(&g), ["s1", "h1", "h2", "h3"]);
        assert_eq!(links(&g), ["h1-s1", "h2-s1", "h3-s1"]);
        assert_eq!(g.nodes[0].1, NodeKind::Switch);
        assert_eq!(g.nodes[1].1, NodeKind::Host);
    }

    #[test]
    fn linear_one_host_per_switch() {
        let g = check_count(Shape::Linear {
            switches: 3,
            hosts_per_switch: 1,
        });
        assert_eq!(names(&g), ["s1", "h1", "s2", "h2", "s3", "h3"]);
        assert_eq!(links(&g), ["h1-s1", "h2-s2", "s2-s1", "h3-s3", "s3-s2"]);
    }

    #[test]
    fn linear_many_hosts_per_switch() {
        let g = check_count(Shape::Linear {
            switches: 2,
            hosts_per_switch: 2,
        });
        assert_eq!(names(&g), ["s1", "h1s1", "h2s1", "s2", "h1s2", "h2s2"]);
        assert_eq!(
            links(&g),
            ["h1s1-s1", "h2s1-s1", "h1s2-s2", "h2s2-s2", "s2-s1"]
        );
    }

    #[test]
    fn ring_closes_the_chain() {
        let g = check_count(Shape::Ring {
            switches: 3,
            hosts_per_switch: 1,
        });
        assert_eq!(links(&g).last().unwrap(), "s3-s1");
        assert_eq!(g.links.len(), 3 + 3);
    }

    #[test]
    fn tree_is_dfs_preorder() {
        let g = check_count(Shape::Tree {
            depth: 2,
            fanout: 2,
        });
        assert_eq!(names(&g), ["s1", "s2", "h1", "h2", "s3", "h3", "h4"]);
        assert_eq!(
            links(&g),
            ["s2-h1", "s2-h2", "s1-s2", "s3-h3", "s3-h4", "s1-s3"]
        );
    }

    #[test]
    fn fattree_k4() {
        let g = check_count(Shape::FatTree { k: 4 });
        let switches = g
            .nodes
            .iter()
            .filter(|(_, k)| *k == NodeKind::Switch)
            .count();
        assert_eq!((switches, g.nodes.len() - switches), (20, 16));
        // per pod: 4 edge-host + 4 edge-agg + 4 agg-core.
        assert_eq!(g.links.len(), 4 * 12);
        // pod 1: aggs s5 s6, edges s7 s8, hosts h1..h4.
        assert_eq!(
            &names(&g)[..12],
            [
                "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "h1", "h2", "h3", "h4"
            ]
        );
        assert_eq!(
            &links(&g)[..12],
            [
                "s7-h1", "s7-h2", "s8-h3", "s8-h4", "s7-s5", "s7-s6", "s8-s5", "s8-s6", "s5-s1",
                "s5-s2", "s6-s3", "s6-s4"
            ]
        );
        // Every core switch reaches every pod exactly once.
        for core in ["s1", "s2", "s3", "s4"] {
            assert_eq!(g.links.iter().filter(|(_, b)| b == core).count(), 4);
        }
    }

    #[test]
    fn torus_3x3() {
        let g = check_count(Shape::Torus {
            x: 3,
            y: 3,
            hosts_per_switch: 1,
        });
        assert_eq!(&names(&g)[..4], ["s1x1", "h1x1", "s1x2", "h1x2"]);
        assert_eq!(g.nodes.len(), 18);
        // 9 host links, then 2 per switch: right and down, wrapping.
        assert_eq!(g.links.len(), 9 + 18);
        assert_eq!(&links(&g)[..2], ["h1x1-s1x1", "h1x2-s1x2"]);
        assert_eq!(
            &links(&g)[9..13],
            ["s1x1-s1x2", "s1x1-s2x1", "s1x2-s1x3", "s1x2-s2x2"]
        );
        assert_eq!(&links(&g)[25..], ["s3x3-s3x1", "s3x3-s1x3"]);
        // Every switch has four switch neighbours and its host.
        for (name, kind) in &g.nodes {
            let degree = g
                .links
                .iter()
                .filter(|(a, b)| a == name || b == name)
                .count();
            let want = if *kind == NodeKind::Switch { 5 } else { 1 };
            assert_eq!(degree, want, "{name}");
        }
    }

    #[test]
    fn torus_many_hosts_per_switch() {
        let g = check_count(Shape::Torus {
            x: 3,
            y: 4,
            hosts_per_switch: 2,
        });
        assert_eq!(&names(&g)[..3], ["s1x1", "h1x1x1", "h1x1x2"]);
        assert_eq!(g.nodes.len(), 12 * 3);
    }

    #[test]
    fn fattree_k2() {
        let g = check_count(Shape::FatTree { k: 2 });
        assert_eq!(names(&g), ["s1", "s2", "s3", "h1", "s4", "s5", "h2"]);
    }

    #[test]
    fn prefix_applies_to_every_name() {
        let g = Shape::Linear {
            switches: 2,
            hosts_per_switch: 2,
        }
        .expand("a-");
        assert!(g.nodes.iter().all(|(n, _)| n.starts_with("a-")));
        assert!(
            g.links
                .iter()
                .all(|(a, b)| a.starts_with("a-") && b.starts_with("a-"))
        );
    }

    #[test]
    fn counts_overflow_to_none() {
        assert_eq!(
            Shape::Tree {
                depth: 100,
                fanout: 100
            }
            .node_count(),
            None
        );
        assert_eq!(
            Shape::Tree {
                depth: 3,
                fanout: 3
            }
            .node_count(),
            Some(1 + 3 + 9 + 27)
        );
    }

    #[test]
    fn ases_rings_reflectors_and_inter_as_links() {
        let g = check_count(Shape::Ases {
            ases: 3,
            routers: 3,
            hosts: 1,
            first_asn: 65001,
            route_reflector: true,
        });
        assert_eq!(
            &names(&g)[..5],
            ["as1r1", "as1r2", "as1r3", "as1h1", "as2r1"]
        );
        assert_eq!(
            &links(&g)[..4],
            ["as1h1-as1r3", "as1r1-as1r2", "as1r2-as1r3", "as1r3-as1r1"]
        );
        assert_eq!(
            &links(&g)[12..],
            ["as1r2-as2r3", "as2r2-as3r3", "as3r2-as1r3"]
        );
        assert_eq!(g.bgp["as1r1"], (65001, true));
        assert_eq!(g.bgp["as3r2"], (65003, false));
        assert_eq!(g.bgp.len(), 9, "routers only");
        // Two ASes: one link between them; one router each: no ring, no reflector.
        let g = check_count(Shape::Ases {
            ases: 2,
            routers: 1,
            hosts: 2,
            first_asn: 64512,
            route_reflector: true,
        });
        assert_eq!(
            links(&g),
            [
                "as1h1-as1r1",
                "as1h2-as1r1",
                "as2h1-as2r1",
                "as2h2-as2r1",
                "as1r1-as2r1"
            ]
        );
        assert_eq!(g.bgp["as2r1"], (64513, false));
        // Ten ASes: the ring plus chords from AS 1 and 4.
        let g = check_count(Shape::Ases {
            ases: 10,
            routers: 5,
            hosts: 1,
            first_asn: 65001,
            route_reflector: false,
        });
        assert_eq!(
            &links(&g)[g.links.len() - 2..],
            ["as1r4-as6r5", "as4r4-as9r5"]
        );
        assert!(g.bgp.values().all(|&(_, rr)| !rr));
    }
}
