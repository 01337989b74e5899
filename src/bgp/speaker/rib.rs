//! The RIBs: interned attribute sets, the Loc-RIB (every candidate path per prefix, the
//! peers' Adj-RIBs-In folded in) and the per-prefix decision.
//!
//! Memory layout for a full table: one map entry per prefix holding its candidates inline
//! (no allocation for the common single path), each candidate one `Arc` to an interned
//! [`PathAttrs`]; the Adj-RIB-In of a peer is the set of candidates whose source is that
//! peer (with the pre-policy attributes when import policy changed or rejected them).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::bgp::attrs::PathAttrs;

/// Where a candidate came from: a peer index, or [`LOCAL`].
pub(crate) type Src = u32;
/// Routes this speaker originates.
pub(crate) const LOCAL: Src = u32::MAX;

/// One candidate path to a prefix.
#[derive(Debug, Clone)]
pub(crate) struct Cand {
    pub src: Src,
    /// ADD-PATH path identifier (0 without ADD-PATH).
    pub path_id: u32,
    /// After import policy (the pre-policy attributes when `rejected`).
    pub attrs: Arc<PathAttrs>,
    /// The attributes as received, when import policy changed them.
    pub pre: Option<Arc<PathAttrs>>,
    /// Import policy rejected it: kept for `adj_in`, not a candidate in the decision.
    pub rejected: bool,
    /// Seconds since the speaker started, when received or last changed.
    pub since: u32,
}

impl Cand {
    /// The attributes as the peer sent them.
    pub fn received(&self) -> &Arc<PathAttrs> {
        self.pre.as_ref().unwrap_or(&self.attrs)
    }
}

/// The candidates of one prefix: inline while there is one.
#[derive(Debug, Clone, Default)]
pub(crate) enum Cands {
    #[default]
    Empty,
    One(Cand),
    Many(Vec<Cand>),
}

impl Cands {
    pub fn as_slice(&self) -> &[Cand] {
        match self {
            Cands::Empty => &[],
            Cands::One(c) => std::slice::from_ref(c),
            Cands::Many(v) => v,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [Cand] {
        match self {
            Cands::Empty => &mut [],
            Cands::One(c) => std::slice::from_mut(c),
            Cands::Many(v) => v,
        }
    }

    pub fn push(&mut self, c: Cand) {
        *self = match std::mem::take(self) {
            Cands::Empty => Cands::One(c),
            Cands::One(a) => Cands::Many(vec![a, c]),
            Cands::Many(mut v) => {
                v.push(c);
                Cands::Many(v)
            }
        };
    }

    pub fn remove(&mut self, i: usize) -> Cand {
        match std::mem::take(self) {
            Cands::Empty => unreachable!("remove from no candidates"),
            Cands::One(a) => a,
            Cands::Many(mut v) => {
                let c = v.remove(i);
                *self = match v.len() {
                    1 => Cands::One(v.pop().expect("one left")),
                    _ => Cands::Many(v),
                };
                c
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Cands::Empty)
    }

    pub fn find(&self, src: Src, path_id: u32) -> Option<usize> {
        self.as_slice()
            .iter()
            .position(|c| c.src == src && c.path_id == path_id)
    }
}

/// One prefix in the Loc-RIB.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dest {
    pub cands: Cands,
    /// Index of the best candidate.
    pub best: Option<u16>,
    /// Changed in the batch being processed: `before` holds the state at its start.
    pub dirty: bool,
}

impl Dest {
    pub fn best(&self) -> Option<&Cand> {
        self.best.map(|i| &self.cands.as_slice()[usize::from(i)])
    }
}

/// What the FIB should hold for a best path: peers' routes only.
pub(crate) fn fib_of(c: Option<&Cand>) -> Option<IpAddr> {
    c.filter(|c| c.src != LOCAL).map(|c| c.attrs.next_hop)
}

/// A prefix changed in this batch, with what it looked like before.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub prefix: IpNet,
    pub fib_before: Option<IpAddr>,
}

/// Interned attribute sets: identical sets share one allocation.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    set: HashSet<Arc<PathAttrs>>,
    gc_at: usize,
}

impl Interner {
    pub fn intern(&mut self, p: PathAttrs) -> Arc<PathAttrs> {
        if let Some(a) = self.set.get(&p) {
            return a.clone();
        }
        let a = Arc::new(p);
        self.set.insert(a.clone());
        a
    }

    /// Drops sets nobody uses any more, when the table has grown since the last sweep.
    pub fn maybe_gc(&mut self) {
        if self.set.len() > self.gc_at {
            self.set.retain(|a| Arc::strong_count(a) > 1);
            self.gc_at = (self.set.len() * 2).max(1024);
        }
    }

    /// Sets in use.
    pub fn live(&self) -> usize {
        self.set.iter().filter(|a| Arc::strong_count(a) > 1).count()
    }
}

/// The Loc-RIB.
#[derive(Debug, Default)]
pub(crate) struct LocRib {
    pub map: HashMap<IpNet, Dest>,
    /// Prefixes with a best path.
    pub best_count: usize,
}

impl LocRib {
    /// Sorted prefixes (views).
    pub fn sorted_prefixes(&self) -> Vec<IpNet> {
        let mut v: Vec<IpNet> = self.map.keys().copied().collect();
        v.sort();
        v
    }
}

// ---- receiving routes ----

use crate::bgp::attrs::Decoded;
use crate::bgp::codec::{self, Nlri, Notification, SessionParams, UpdateOutcome};
use crate::bgp::decision;
use crate::bgp::policy::{RouteCtx, Verdict};

use super::{PeerId, Speaker};

/// What the decision process needs to know of a source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SrcInfo {
    pub ebgp: bool,
    pub bgp_id: u32,
    pub addr: IpAddr,
}

/// Picks the best candidate of `d`: our own route if any, else RFC 4271 §9.1.2.2.
fn decide(
    d: &Dest,
    info: &dyn Fn(Src) -> SrcInfo,
    scratch: &mut Vec<(usize, decision::Path)>,
) -> Option<u16> {
    let cands = d.cands.as_slice();
    let mut ok = cands.iter().enumerate().filter(|(_, c)| !c.rejected);
    let first = ok.next()?;
    let Some(second) = ok.next() else {
        return Some(first.0 as u16);
    };
    if let Some((i, _)) = cands
        .iter()
        .enumerate()
        .find(|(_, c)| c.src == LOCAL && !c.rejected)
    {
        return Some(i as u16);
    }
    scratch.clear();
    for (i, c) in [first, second].into_iter().chain(ok) {
        let s = info(c.src);
        let a = &c.attrs;
        scratch.push((
            i,
            decision::Path {
                local_pref: a.local_pref.unwrap_or(100),
                as_path_len: crate::bgp::attrs::as_path_len(&a.as_path),
                first_as: a.first_as(),
                origin: match a.origin {
                    codec::Origin::Igp => decision::Origin::Igp,
                    codec::Origin::Egp => decision::Origin::Egp,
                    codec::Origin::Incomplete => decision::Origin::Incomplete,
                },
                med: a.med.unwrap_or(0),
                ebgp: s.ebgp,
                igp_cost: None,
                router_id: s.bgp_id,
                originator_id: a.originator_id.map(u32::from),
                cluster_list_len: a.cluster_list.len() as u32,
                peer_addr: s.addr,
            },
        ));
    }
    let paths: Vec<decision::Path> = scratch.iter().map(|(_, p)| *p).collect();
    decision::best(&paths).map(|b| scratch[b].0 as u16)
}

/// The decision-relevant facts of a source.
fn src_info(peers: &[super::peer::Peer], router_id: std::net::Ipv4Addr, src: Src) -> SrcInfo {
    if src == LOCAL {
        return SrcInfo {
            ebgp: false,
            bgp_id: u32::from(router_id),
            addr: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        };
    }
    let p = &peers[src as usize];
    SrcInfo {
        ebgp: p.ebgp,
        bgp_id: p.up.as_ref().map_or(0, |u| u.bgp_id),
        addr: p.cfg.address,
    }
}

impl Speaker {
    /// Adds or replaces a candidate and re-runs the decision for its prefix.
    pub(super) fn rib_insert(&mut self, cand: Cand, prefix: IpNet) {
        let src = cand.src;
        let rejected = cand.rejected;
        let (peers, rid) = (&self.peers, self.config.router_id);
        let d = self.rib.map.entry(prefix).or_default();
        if !d.dirty {
            d.dirty = true;
            self.changes.push(Change {
                prefix,
                fib_before: fib_of(d.best()),
            });
        }
        let had_best = d.best.is_some();
        let counted = match d.cands.find(src, cand.path_id) {
            Some(i) => {
                let old = std::mem::replace(&mut d.cands.as_mut_slice()[i], cand);
                Some(old.rejected)
            }
            None => {
                d.cands.push(cand);
                None
            }
        };
        d.best = decide(d, &|s| src_info(peers, rid, s), &mut Vec::new());
        let has_best = d.best.is_some();
        self.count_best(had_best, has_best);
        if src != LOCAL {
            let p = &mut self.peers[src as usize];
            match counted {
                None => {
                    p.received += 1;
                    if !rejected {
                        p.accepted += 1;
                    }
                }
                Some(was_rejected) => {
                    if was_rejected && !rejected {
                        p.accepted += 1;
                    } else if !was_rejected && rejected {
                        p.accepted -= 1;
                    }
                }
            }
        }
    }

    /// Removes a candidate (a withdrawal) and re-runs the decision.
    pub(super) fn rib_remove(&mut self, src: Src, path_id: u32, prefix: IpNet) {
        let (peers, rid) = (&self.peers, self.config.router_id);
        let Some(d) = self.rib.map.get_mut(&prefix) else {
            return;
        };
        let Some(i) = d.cands.find(src, path_id) else {
            return;
        };
        if !d.dirty {
            d.dirty = true;
            self.changes.push(Change {
                prefix,
                fib_before: fib_of(d.best()),
            });
        }
        let had_best = d.best.is_some();
        let old = d.cands.remove(i);
        d.best = decide(d, &|s| src_info(peers, rid, s), &mut Vec::new());
        let has_best = d.best.is_some();
        self.count_best(had_best, has_best);
        if src != LOCAL {
            let p = &mut self.peers[src as usize];
            p.received -= 1;
            if !old.rejected {
                p.accepted -= 1;
            }
        }
    }

    fn count_best(&mut self, had: bool, has: bool) {
        match (had, has) {
            (false, true) => self.rib.best_count += 1,
            (true, false) => self.rib.best_count -= 1,
            _ => {}
        }
    }

    /// Every route of a peer whose session ended.
    pub(super) fn drop_peer_routes(&mut self, _now: crate::time::Instant, pid: PeerId) {
        let src = pid as Src;
        let mut gone = Vec::new();
        for (prefix, d) in &self.rib.map {
            for c in d.cands.as_slice() {
                if c.src == src {
                    gone.push((*prefix, c.path_id));
                }
            }
        }
        for (prefix, path_id) in gone {
            self.rib_remove(src, path_id, prefix);
        }
    }

    /// One UPDATE body from an established peer. Err: the session must be reset.
    pub(super) fn update(
        &mut self,
        now: crate::time::Instant,
        pid: PeerId,
        body: &[u8],
        rx: &SessionParams,
    ) -> Result<(), Notification> {
        let u = match codec::parse_update(body, rx) {
            UpdateOutcome::Ok(u) => u,
            UpdateOutcome::TreatAsWithdraw { update, reasons } => {
                let name = self.peers[pid].name();
                self.out.push_back(super::Output::Log(format!(
                    "peer {name}: malformed UPDATE treated as withdraw ({} finding(s), first: attribute {} {:?})",
                    reasons.len(),
                    reasons.first().map_or(0, |r| r.code),
                    reasons.first().map(|r| r.what)
                )));
                update
            }
            UpdateOutcome::AttributeDiscard { update, .. } => update,
            UpdateOutcome::SessionReset(n) => return Err(n),
        };
        let src = pid as Src;
        let v4_ap = rx.add_path_rx.contains(&codec::Family::IPV4_UNICAST);
        let _ = v4_ap;
        for n in &u.withdrawn {
            self.rib_remove(src, n.path_id.unwrap_or(0), n.prefix.trunc());
        }
        let nlri = u.nlri;
        let Decoded {
            attrs,
            reach,
            unreach,
        } = crate::bgp::attrs::PathAttrs::from_attrs(u.attrs, rx.four_octet_as);
        let families = self.peers[pid]
            .up
            .as_ref()
            .map(|u| u.families.clone())
            .unwrap_or_default();
        for m in unreach {
            if families.contains(&m.family) {
                for n in &m.withdrawn {
                    self.rib_remove(src, n.path_id.unwrap_or(0), n.prefix.trunc());
                }
            }
        }
        let since = self.secs(now);
        if !nlri.is_empty() && families.contains(&codec::Family::IPV4_UNICAST) {
            if attrs.next_hop.is_ipv4() {
                self.import(pid, attrs.clone(), &nlri, since);
            } else {
                for n in &nlri {
                    self.rib_remove(src, n.path_id.unwrap_or(0), n.prefix.trunc());
                }
            }
        }
        for m in reach {
            if !families.contains(&m.family) {
                continue;
            }
            let mut a = attrs.clone();
            a.next_hop = m.next_hop.addr;
            a.next_hop_link_local = m.next_hop.link_local;
            self.import(pid, a, &m.nlri, since);
        }
        Ok(())
    }

    /// Routes from a peer: loop checks, import policy, into the RIB.
    fn import(
        &mut self,
        pid: PeerId,
        mut attrs: crate::bgp::attrs::PathAttrs,
        nlri: &[Nlri],
        since: u32,
    ) {
        let src = pid as Src;
        let p = &self.peers[pid];
        let ebgp = p.ebgp;
        let looped = attrs.path_contains(self.config.asn)
            || (!ebgp
                && (attrs.originator_id == Some(self.config.router_id)
                    || attrs.cluster_list.contains(&self.cluster_id)));
        if looped {
            for n in nlri {
                self.rib_remove(src, n.path_id.unwrap_or(0), n.prefix.trunc());
            }
            return;
        }
        if ebgp {
            // RFC 4271 §5.1.5: LOCAL_PREF from another AS is ignored.
            attrs.local_pref = None;
        }
        let pre = self.interner.intern(attrs);
        let imp = &self.peers[pid].import;
        if imp.empty {
            for n in nlri {
                let cand = Cand {
                    src,
                    path_id: n.path_id.unwrap_or(0),
                    attrs: pre.clone(),
                    pre: None,
                    rejected: false,
                    since,
                };
                self.rib_insert(cand, n.prefix.trunc());
            }
            return;
        }
        let mut once: Option<(Arc<PathAttrs>, bool)> = None;
        for n in nlri {
            let prefix = n.prefix.trunc();
            let (post, rejected) = match (&once, self.peers[pid].import.by_prefix) {
                (Some(r), false) => r.clone(),
                _ => {
                    let r = self.apply_import(pid, prefix, &pre);
                    if !self.peers[pid].import.by_prefix {
                        once = Some(r.clone());
                    }
                    r
                }
            };
            let changed = !Arc::ptr_eq(&post, &pre);
            let cand = Cand {
                src,
                path_id: n.path_id.unwrap_or(0),
                attrs: if rejected { pre.clone() } else { post },
                pre: (changed && !rejected).then(|| pre.clone()),
                rejected,
                since,
            };
            self.rib_insert(cand, prefix);
        }
    }

    fn apply_import(
        &mut self,
        pid: PeerId,
        prefix: IpNet,
        pre: &Arc<PathAttrs>,
    ) -> (Arc<PathAttrs>, bool) {
        let p = &self.peers[pid];
        let Some(policy) = &p.import.policy else {
            return (pre.clone(), true);
        };
        let ctx = RouteCtx {
            prefix,
            peer_addr: Some(p.cfg.address),
            peer_name: &p.cfg.name,
            local_as: self.config.asn,
            local_addr: p.up.as_ref().and_then(|u| {
                if prefix.addr().is_ipv4() {
                    u.nh4
                } else {
                    u.nh6
                }
            }),
        };
        let mut a = (**pre).clone();
        match policy.apply(&ctx, &mut a) {
            Verdict::Reject => (pre.clone(), true),
            Verdict::Accept => {
                if a == **pre {
                    (pre.clone(), false)
                } else {
                    (self.interner.intern(a), false)
                }
            }
        }
    }
}
