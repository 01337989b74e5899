//! Graph partitioning for shards: a weighted graph of the lab's nodes, cut into `k` parts
//! by METIS (`METIS_PartGraphKway` through the `metis` crate, built from source), with
//! pinned vertices.
//!
//! ```text
//!   vertices (weights) + edges (summed weights)
//!     ─▶ METIS (recursive bisection up to 8 parts, k-way above; target part weights =
//!        machine weights; imbalance ≤ UFACTOR; fixed seed)
//!     ─▶ rename METIS's parts after the pins they hold ─▶ force every pin (pins win)
//! ```
//!
//! Pins: METIS has no fixed-vertex API. The graph is partitioned whole, then METIS's
//! arbitrary part numbers are renamed so that each part becomes the shard most of its
//! pinned weight asks for (greedy, heaviest agreement first, only between machines of the
//! same weight, so a part keeps the capacity it was sized for). Pins that still disagree
//! are forced: the node moves alone, at the price of a cut METIS did not choose. When the
//! pins follow the lab's structure (a site per shard), nothing moves; pins against it cost
//! what they must. Contracting each shard's pins into one vertex first was tried: METIS
//! then often puts two shards' super-vertices in one part (it cannot know they must be
//! apart), and anchoring them with heavy dummy weights left parts empty on small labs.
//! The cut and weights reported are always those of the final assignment.
//!
//! Determinism: vertices, edges and pins are fed in a fixed order, METIS's seed is fixed
//! ([`SEED`]) and one partition runs at a time (METIS's random state is global), so the
//! same graph always gives the same parts.

use std::collections::BTreeMap;

use metis::Idx;

/// METIS's allowed load imbalance, in thousandths above 1: a shard's vertex weight may be
/// at most (1 + UFACTOR/1000) × its target (30: 3 %, METIS's own k-way default).
pub const UFACTOR: Idx = 30;

/// METIS's random seed (fixed: the same lab always splits the same way).
pub const SEED: Idx = 1;

/// An undirected graph with vertex and edge weights.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// Weight of each vertex (at least 1).
    pub vertex: Vec<u32>,
    /// Edge `(u, v)` with `u < v` → summed weight of the parallel edges.
    pub edges: BTreeMap<(u32, u32), u64>,
}

impl Graph {
    pub fn new(vertex: Vec<u32>) -> Graph {
        Graph {
            vertex,
            edges: BTreeMap::new(),
        }
    }

    /// Adds weight `w` between `u` and `v` (parallel edges add up; self-loops are ignored).
    pub fn add_edge(&mut self, u: u32, v: u32, w: u64) {
        if u == v {
            return;
        }
        let key = (u.min(v), u.max(v));
        let e = self.edges.entry(key).or_insert(0);
        *e = e.saturating_add(w);
    }

    /// Sum of the weights of the edges whose ends are in different parts.
    pub fn cut(&self, part: &[u32]) -> u64 {
        self.edges
            .iter()
            .filter(|((u, v), _)| part[*u as usize] != part[*v as usize])
            .map(|(_, w)| *w)
            .fold(0u64, |a, w| a.saturating_add(w))
    }

    /// Vertex weight of each of `k` parts.
    pub fn part_weights(&self, part: &[u32], k: usize) -> Vec<u64> {
        let mut w = vec![0u64; k];
        for (v, p) in part.iter().enumerate() {
            w[*p as usize] += u64::from(self.vertex[v]);
        }
        w
    }

    /// The graph in METIS's compressed form: `(xadj, adjncy, adjwgt)`, each edge weight
    /// clamped to what an [`Idx`] holds.
    pub fn csr(&self) -> (Vec<Idx>, Vec<Idx>, Vec<Idx>) {
        let n = self.vertex.len();
        let mut adj: Vec<Vec<(Idx, Idx)>> = vec![Vec::new(); n];
        for (&(u, v), &w) in &self.edges {
            let w = Idx::try_from(w).unwrap_or(Idx::MAX).max(1);
            adj[u as usize].push((v as Idx, w));
            adj[v as usize].push((u as Idx, w));
        }
        let mut xadj = Vec::with_capacity(n + 1);
        let mut adjncy = Vec::with_capacity(self.edges.len() * 2);
        let mut adjwgt = Vec::with_capacity(self.edges.len() * 2);
        xadj.push(0);
        for list in adj {
            for (v, w) in list {
                adjncy.push(v);
                adjwgt.push(w);
            }
            xadj.push(adjncy.len() as Idx);
        }
        (xadj, adjncy, adjwgt)
    }
}

/// Why METIS could not partition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("METIS could not partition the lab's graph: {0}")]
pub struct MetisError(pub String);

/// What [`partition`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    /// Part of each vertex.
    pub part: Vec<u32>,
    /// True when METIS placed at least one vertex (false: one part, or every vertex
    /// pinned).
    pub metis: bool,
}

/// Splits `g` into `targets.len()` parts whose vertex weights are proportional to
/// `targets`, minimising the weight of the cut edges; `pins[v] = Some(s)` puts `v` in part
/// `s` whatever the cut (every `s < targets.len()`, checked by the caller).
pub fn partition(g: &Graph, targets: &[u32], pins: &[Option<u32>]) -> Result<Parts, MetisError> {
    let k = targets.len();
    let n = g.vertex.len();
    assert_eq!(pins.len(), n, "one pin slot per vertex");
    if k <= 1 || n == 0 {
        return Ok(Parts {
            part: vec![0; n],
            metis: false,
        });
    }
    if pins.iter().all(Option::is_some) {
        return Ok(Parts {
            part: pins.iter().map(|p| p.unwrap_or(0)).collect(),
            metis: false,
        });
    }
    let part = metis_part(g, targets)?;
    // Rename METIS's parts after the pins they hold: the (part, shard) pairs sharing the
    // most pinned weight first, between machines of the same weight only.
    let mut votes: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    for (v, pin) in pins.iter().enumerate() {
        if let Some(s) = pin {
            *votes.entry((part[v], *s)).or_insert(0) += u64::from(g.vertex[v]);
        }
    }
    let mut votes: Vec<((u32, u32), u64)> = votes.into_iter().collect();
    votes.sort_by_key(|&((p, s), w)| (std::cmp::Reverse(w), p, s));
    let mut rename: Vec<Option<u32>> = vec![None; k];
    let mut taken = vec![false; k];
    for ((p, s), _) in votes {
        let (p, s) = (p as usize, s as usize);
        if rename[p].is_none() && !taken[s] && targets[p] == targets[s] {
            rename[p] = Some(s as u32);
            taken[s] = true;
        }
    }
    let rename = rename_parts(&part, targets, targets, &mut rename, &mut taken);
    let part = (0..n)
        .map(|v| pins[v].unwrap_or_else(|| rename[part[v] as usize]))
        .collect();
    Ok(Parts { part, metis: true })
}

/// Completes a renaming of METIS's parts to shards: parts not yet renamed, in the order of
/// their first vertex (so that, without pins, the lab's first node is on shard 0), go to
/// the lowest free shard of the same size (renaming never changes which machine capacity
/// a part was sized for), then to any free shard.
fn rename_parts(
    part: &[u32],
    part_size: &[u32],
    shard_size: &[u32],
    rename: &mut [Option<u32>],
    taken: &mut [bool],
) -> Vec<u32> {
    let k = part_size.len();
    let mut first = vec![usize::MAX; k];
    for (v, &p) in part.iter().enumerate().rev() {
        first[p as usize] = v;
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by_key(|&p| (first[p], p));
    for exact in [true, false] {
        for &p in &order {
            if rename[p].is_some() {
                continue;
            }
            if let Some(s) =
                (0..k).find(|&s| !taken[s] && (!exact || shard_size[s] == part_size[p]))
            {
                rename[p] = Some(s as u32);
                taken[s] = true;
            }
        }
    }
    rename.iter().map(|r| r.unwrap_or(0)).collect()
}

/// METIS keeps its random state in globals (GKlib): two partitions at once in one process
/// would draw from the same stream and stop being reproducible. One at a time.
static METIS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Up to this many parts, METIS bisects recursively (`METIS_PartGraphRecursive`); above,
/// it cuts k ways at once (`METIS_PartGraphKway`), as METIS's manual advises.
pub const RECURSIVE_UP_TO: usize = 8;

/// METIS on `g` with target part weights proportional to `targets`.
fn metis_part(g: &Graph, targets: &[u32]) -> Result<Vec<u32>, MetisError> {
    let too_big = || MetisError("the graph is too large for METIS's 32-bit indices".into());
    let k = Idx::try_from(targets.len()).map_err(|_| too_big())?;
    let (xadj, adjncy, adjwgt) = g.csr();
    if Idx::try_from(adjncy.len()).is_err() {
        return Err(too_big());
    }
    // Vertex weights: their sum must fit an Idx too.
    let total: u64 = g.vertex.iter().map(|w| u64::from(*w)).sum();
    if total > Idx::MAX as u64 {
        return Err(too_big());
    }
    let vwgt: Vec<Idx> = g.vertex.iter().map(|w| *w as Idx).collect();
    let sum: u64 = targets.iter().map(|t| u64::from(*t)).sum();
    let mut tpwgts: Vec<metis::Real> = targets
        .iter()
        .map(|t| (f64::from(*t) / sum as f64) as metis::Real)
        .collect();
    // METIS wants them to sum to 1 within its tolerance: put rounding on the last one.
    let head: metis::Real = tpwgts[..tpwgts.len() - 1].iter().sum();
    if let Some(last) = tpwgts.last_mut() {
        *last = (1.0 - head).max(0.0);
    }
    let mut part = vec![0 as Idx; g.vertex.len()];
    let _one_at_a_time = METIS.lock().unwrap_or_else(|e| e.into_inner());
    let graph = metis::Graph::new(1, k, &xadj, &adjncy)
        .map_err(|e| MetisError(format!("{e:?}")))?
        .set_vwgt(&vwgt)
        .set_adjwgt(&adjwgt)
        .set_tpwgts(&tpwgts)
        .set_option(metis::option::Seed(SEED))
        .set_option(metis::option::UFactor(UFACTOR));
    if targets.len() <= RECURSIVE_UP_TO {
        graph.part_recursive(&mut part)
    } else {
        graph.part_kway(&mut part)
    }
    .map_err(|e| MetisError(e.to_string()))?;
    Ok(part.into_iter().map(|p| p.max(0) as u32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two triangles joined by one light edge: the cut is that edge.
    fn two_triangles() -> Graph {
        let mut g = Graph::new(vec![1; 6]);
        for (u, v) in [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)] {
            g.add_edge(u, v, 10);
        }
        g.add_edge(2, 3, 1);
        g
    }

    #[test]
    fn cuts_the_light_edge() {
        let g = two_triangles();
        let p = partition(&g, &[1, 1], &[None; 6]).unwrap();
        assert!(p.metis);
        assert_eq!(g.cut(&p.part), 1, "{:?}", p.part);
        assert_eq!(g.part_weights(&p.part, 2), vec![3, 3]);
    }

    #[test]
    fn same_input_same_parts() {
        let g = two_triangles();
        let a = partition(&g, &[1, 1], &[None; 6]).unwrap();
        for _ in 0..5 {
            assert_eq!(partition(&g, &[1, 1], &[None; 6]).unwrap(), a);
        }
    }

    #[test]
    fn pins_win_and_pull_their_neighbours() {
        let g = two_triangles();
        // Vertex 0 on shard 1, vertex 5 on shard 0: the triangles swap sides.
        let mut pins = vec![None; 6];
        pins[0] = Some(1);
        pins[5] = Some(0);
        let p = partition(&g, &[1, 1], &pins).unwrap();
        assert_eq!(p.part, vec![1, 1, 1, 0, 0, 0]);
        // Pins against the cut: they still win.
        let mut pins = vec![None; 6];
        pins[0] = Some(0);
        pins[1] = Some(1);
        let p = partition(&g, &[1, 1], &pins).unwrap();
        assert_eq!((p.part[0], p.part[1]), (0, 1));
    }

    #[test]
    fn all_pinned_or_one_part_needs_no_metis() {
        let g = two_triangles();
        let pins: Vec<Option<u32>> = (0..6).map(|v| Some(v % 2)).collect();
        let p = partition(&g, &[1, 1], &pins).unwrap();
        assert!(!p.metis);
        assert_eq!(p.part, vec![0, 1, 0, 1, 0, 1]);
        let p = partition(&g, &[1], &[None; 6]).unwrap();
        assert_eq!((p.part, p.metis), (vec![0; 6], false));
    }

    #[test]
    fn target_weights_are_followed() {
        // A path of 40 equal vertices, machine 1 three times machine 0.
        let mut g = Graph::new(vec![1; 40]);
        for v in 0..39 {
            g.add_edge(v, v + 1, 1);
        }
        let p = partition(&g, &[1, 3], &[None; 40]).unwrap();
        let w = g.part_weights(&p.part, 2);
        assert!((9..=11).contains(&w[0]), "{w:?}");
        assert_eq!(g.cut(&p.part), 1, "{:?}", p.part);
    }

    #[test]
    fn parallel_edges_add_up_and_self_loops_vanish() {
        let mut g = Graph::new(vec![1; 2]);
        g.add_edge(0, 1, 3);
        g.add_edge(1, 0, 4);
        g.add_edge(1, 1, 9);
        assert_eq!(g.edges.len(), 1);
        assert_eq!(g.edges[&(0, 1)], 7);
        let (xadj, adjncy, adjwgt) = g.csr();
        assert_eq!(
            (xadj, adjncy, adjwgt),
            (vec![0, 1, 2], vec![1, 0], vec![7, 7])
        );
    }
}
