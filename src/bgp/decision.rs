//! The BGP decision process (RFC 4271 §9.1.2.2, with RFC 4456's route-reflection rules):
//! among the candidate paths to one prefix, which is best.
//!
//! [`best`] works as the RFC describes it — not as a pairwise comparison — by eliminating
//! candidates step after step until one remains:
//!
//! ```text
//!  highest LOCAL_PREF → shortest AS_PATH → lowest ORIGIN → lowest MED among paths from the same neighbour AS → eBGP over iBGP → lowest IGP cost
//!  → lowest BGP Identifier (ORIGINATOR_ID if present) → shortest CLUSTER_LIST
//!  → lowest peer address
//! ```
//!
//! Because the MED step removes a path only when another path *from the same neighbour AS*
//! has a lower MED, the result does not depend on the order of the candidates
//! ("deterministic MED"); the last step compares unique addresses, so there is always
//! exactly one winner. A missing MED is 0 (§9.1.2.2 c), which the caller fills in.
//!
//! The caller passes only feasible paths whose NEXT_HOP resolves (§9.1.2.1: the others are
//! excluded before this phase, and AS_PATH loops are dropped on receipt).

use std::net::IpAddr;

/// ORIGIN, in preference order (lower is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

/// What the decision process needs of one candidate path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    /// The degree of preference: LOCAL_PREF, or for eBGP paths what policy computed.
    pub local_pref: u32,
    /// AS_PATH length (an AS_SET counts as one, confederation segments as none).
    pub as_path_len: u32,
    /// The neighbour AS: the first AS of the AS_PATH; `None` for a path with an empty
    /// AS_PATH (originated in the local AS), which all share one "neighbour".
    pub first_as: Option<u32>,
    pub origin: Origin,
    /// MULTI_EXIT_DISC, 0 when absent.
    pub med: u32,
    /// Learnt from an external peer.
    pub ebgp: bool,
    /// IGP cost to the NEXT_HOP; `None` when the next hop is reachable but no cost can be
    /// determined, in which case the IGP-cost step is skipped for all (§9.1.2.2 e).
    pub igp_cost: Option<u32>,
    /// The BGP Identifier of the peer that sent the path.
    pub router_id: u32,
    /// ORIGINATOR_ID (RFC 4456), used instead of `router_id` when present.
    pub originator_id: Option<u32>,
    pub cluster_list_len: u32,
    /// The address of the peer that sent the path.
    pub peer_addr: IpAddr,
}

/// The steps of the decision process, in order, for explaining a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// There was only one candidate.
    Only,
    LocalPref,
    AsPathLen,
    Origin,
    Med,
    EbgpOverIbgp,
    IgpCost,
    RouterId,
    ClusterListLen,
    PeerAddr,
}

/// The index of the best path in `paths`, or `None` when there is none.
pub fn best(paths: &[Path]) -> Option<usize> {
    explain(paths).map(|(i, _)| i)
}

/// The best path's index and the step that left it alone (the step that decided), or
/// `None` when there is none.
pub fn explain(paths: &[Path]) -> Option<(usize, Step)> {
    let mut left: Vec<usize> = (0..paths.len()).collect();
    match left.len() {
        0 => return None,
        1 => return Some((0, Step::Only)),
        _ => {}
    }
    let steps: [(Step, Eliminate); 9] = [
        (Step::LocalPref, |p, l| {
            keep_min_by(p, l, |x| u32::MAX - x.local_pref)
        }),
        (Step::AsPathLen, |p, l| keep_min_by(p, l, |x| x.as_path_len)),
        (Step::Origin, |p, l| keep_min_by(p, l, |x| x.origin)),
        (Step::Med, keep_lowest_med_per_neighbour),
        (Step::EbgpOverIbgp, |p, l| keep_min_by(p, l, |x| !x.ebgp)),
        (Step::IgpCost, keep_lowest_igp_cost),
        (Step::RouterId, |p, l| {
            keep_min_by(p, l, |x| x.originator_id.unwrap_or(x.router_id))
        }),
        (Step::ClusterListLen, |p, l| {
            keep_min_by(p, l, |x| x.cluster_list_len)
        }),
        (Step::PeerAddr, |p, l| keep_min_by(p, l, |x| x.peer_addr)),
    ];
    for (step, eliminate) in steps {
        eliminate(paths, &mut left);
        if left.len() == 1 {
            return Some((left[0], step));
        }
    }
    // Equal peer addresses: two paths from one peer, which the RIB never holds; keep the first.
    Some((left[0], Step::PeerAddr))
}

/// One step: removes candidates from the indices still `left`.
type Eliminate = fn(&[Path], &mut Vec<usize>);

/// Keeps the candidates whose `key` is the smallest.
fn keep_min_by<K: Ord>(paths: &[Path], left: &mut Vec<usize>, key: impl Fn(&Path) -> K) {
    if let Some(min) = left.iter().map(|&i| key(&paths[i])).min() {
        left.retain(|&i| key(&paths[i]) == min);
    }
}

/// §9.1.2.2 e: the lowest IGP cost, unless some cost is unknown (then all count as equal).
fn keep_lowest_igp_cost(paths: &[Path], left: &mut Vec<usize>) {
    if left.iter().all(|&i| paths[i].igp_cost.is_some()) {
        keep_min_by(paths, left, |x| x.igp_cost);
    }
}

/// §9.1.2.2 c: removes a path when another one from the same neighbour AS has a lower MED.
fn keep_lowest_med_per_neighbour(paths: &[Path], left: &mut Vec<usize>) {
    let before = left.clone();
    left.retain(|&i| {
        !before
            .iter()
            .any(|&j| paths[j].first_as == paths[i].first_as && paths[j].med < paths[i].med)
    });
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
