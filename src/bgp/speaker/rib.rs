//! The RIBs: interned attribute sets, the Loc-RIB (every candidate path per prefix, the
//! peers' Adj-RIBs-In folded in) and the per-prefix decision.
//!
//! Memory layout for a full table: one map entry per prefix holding its candidates inline
//! (no allocation for the common single path), each candidate one `Arc` to an interned
//! [`PathAttrs`]; the Adj-RIB-In of a peer is the set of candidates whose source is that
//! peer (with the pre-policy attributes when import policy changed or rejected them).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::bgp::attrs::PathAttrs;

use crate::bgp::prefix_map::PrefixMap;

/// Where a candidate came from: a peer index, or [`LOCAL`].
pub(crate) type Src = u32;
/// Routes this speaker originates.
pub(crate) const LOCAL: Src = u32::MAX;

/// One candidate path to a prefix (24 bytes: a full table holds a million of them).
#[derive(Debug, Clone)]
pub(crate) struct Cand {
    /// After import policy (the pre-policy attributes when `rejected`).
    pub attrs: Arc<PathAttrs>,
    pub src: Src,
    /// ADD-PATH path identifier (0 without ADD-PATH).
    pub path_id: u32,
    /// Seconds since the speaker started, when received or last changed.
    pub since: u32,
    /// Import policy rejected it: kept for `adj_in`, not a candidate in the decision.
    pub rejected: bool,
    /// The batch that last changed the prefix (kept here, in the padding, for a prefix
    /// with one candidate; see [`Dest::epoch`]).
    epoch: u16,
}

impl Cand {
    pub fn new(src: Src, path_id: u32, attrs: Arc<PathAttrs>, rejected: bool, since: u32) -> Cand {
        Cand {
            attrs,
            src,
            path_id,
            since,
            rejected,
            epoch: 0,
        }
    }
}

/// One prefix in the Loc-RIB: its candidates (the peers' Adj-RIBs-In folded in) and which
/// is best. A single candidate whose attributes import policy left alone (a full table
/// from one peer: nearly every prefix) is stored inline; anything else is boxed.
#[derive(Debug, Clone)]
pub(crate) enum Dest {
    /// Its best path unless rejected.
    One(Cand),
    Many(Box<Many>),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Many {
    cands: Vec<Cand>,
    /// Per candidate: the attributes as received, when import policy changed them.
    pre: Vec<Option<Arc<PathAttrs>>>,
    best: Option<u16>,
    epoch: u16,
}

impl Dest {
    pub fn cands(&self) -> &[Cand] {
        match self {
            Dest::One(c) => std::slice::from_ref(c),
            Dest::Many(m) => &m.cands,
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Dest::Many(m) if m.cands.is_empty())
    }

    /// Index of the best candidate.
    pub fn best_index(&self) -> Option<usize> {
        match self {
            Dest::One(c) => (!c.rejected).then_some(0),
            Dest::Many(m) => m.best.map(usize::from),
        }
    }

    pub fn best(&self) -> Option<&Cand> {
        self.best_index().map(|i| &self.cands()[i])
    }

    /// Candidate `i`'s attributes as the peer sent them.
    pub fn received(&self, i: usize) -> &Arc<PathAttrs> {
        match self {
            Dest::One(c) => &c.attrs,
            Dest::Many(m) => m.pre[i].as_ref().unwrap_or(&m.cands[i].attrs),
        }
    }

    /// The number of the batch that last changed the prefix: it is in the current
    /// batch's change list when this is the current batch's number (0: none yet).
    pub fn epoch(&self) -> u16 {
        match self {
            Dest::One(c) => c.epoch,
            Dest::Many(m) => m.epoch,
        }
    }

    pub fn set_epoch(&mut self, e: u16) {
        match self {
            Dest::One(c) => c.epoch = e,
            Dest::Many(m) => m.epoch = e,
        }
    }

    pub fn find(&self, src: Src, path_id: u32) -> Option<usize> {
        self.cands()
            .iter()
            .position(|c| c.src == src && c.path_id == path_id)
    }

    fn make_many(&mut self) -> &mut Many {
        if let Dest::One(c) = self {
            let best = (!c.rejected).then_some(0);
            let epoch = c.epoch;
            let c = c.clone();
            *self = Dest::Many(Box::new(Many {
                cands: vec![c],
                pre: vec![None],
                best,
                epoch,
            }));
        }
        match self {
            Dest::Many(m) => m,
            Dest::One(_) => unreachable!("made many above"),
        }
    }

    /// Replaces the candidate from (`c.src`, `c.path_id`) or adds it; whether the one it
    /// replaced was rejected (None: it is new). The best is not recomputed.
    pub fn upsert(&mut self, mut c: Cand, pre: Option<Arc<PathAttrs>>) -> Option<bool> {
        let i = self.find(c.src, c.path_id);
        if let (Dest::One(old), Some(_), None) = (&mut *self, i, &pre) {
            c.epoch = old.epoch;
            let was = old.rejected;
            *old = c;
            return Some(was);
        }
        let m = self.make_many();
        match i {
            Some(i) => {
                let was = m.cands[i].rejected;
                m.cands[i] = c;
                m.pre[i] = pre;
                Some(was)
            }
            None => {
                m.cands.push(c);
                m.pre.push(pre);
                None
            }
        }
    }

    /// Removes candidate `i`. The best is not recomputed.
    pub fn remove(&mut self, i: usize) -> Cand {
        let m = self.make_many();
        m.pre.remove(i);
        let c = m.cands.remove(i);
        m.best = None;
        if m.cands.len() == 1 && m.pre[0].is_none() {
            let mut one = m.cands.pop().expect("one left");
            one.epoch = m.epoch;
            *self = Dest::One(one);
        }
        c
    }

    /// Records the decision's answer.
    pub fn set_best(&mut self, best: Option<u16>) {
        match self {
            Dest::One(c) => debug_assert_eq!(best.is_some(), !c.rejected),
            Dest::Many(m) => m.best = best,
        }
    }
}

/// What the FIB should hold for a best path: peers' routes only.
pub(crate) fn fib_of(c: Option<&Cand>) -> Option<IpAddr> {
    c.filter(|c| c.src != LOCAL).map(|c| c.attrs.next_hop)
}

/// A changed prefix's best path: its source and attributes.
pub(crate) type Best = Option<(Src, Arc<PathAttrs>)>;

pub(crate) fn best_of(d: &Dest) -> Best {
    d.best().map(|b| (b.src, b.attrs.clone()))
}

/// A prefix changed in this batch, with what it looked like before and, unless the batch
/// changed it again later (`Speaker::retouched`), after.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub prefix: IpNet,
    pub fib_before: Option<IpAddr>,
    pub after: Best,
    /// No candidate is left: the prefix leaves the map at the end of the batch.
    pub empty: bool,
}

/// Interned attribute sets: identical sets share one allocation.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    /// A fast hasher with a per-process random seed: attribute sets come from peers, so
    /// a fixed hash would let one pick sets that collide.
    set: HashSet<Arc<PathAttrs>, foldhash::fast::RandomState>,
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

    /// Sets held: those in use, and those no route uses any more until the next sweep.
    /// (Counting only the used ones means visiting every set, too slow for a summary
    /// polled while a full table loads.)
    pub fn len(&self) -> usize {
        self.set.len()
    }
}

/// The Loc-RIB.
#[derive(Debug, Default)]
pub(crate) struct LocRib {
    pub map: PrefixMap<Dest>,
    /// Prefixes with a best path.
    pub best_count: usize,
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
    cands: &[Cand],
    info: &dyn Fn(Src) -> SrcInfo,
    scratch: &mut Vec<(usize, decision::Path)>,
) -> Option<u16> {
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
    /// Adds or replaces a candidate; `pre` is the attributes as received when import
    /// policy changed them.
    pub(super) fn rib_insert(&mut self, cand: Cand, pre: Option<Arc<PathAttrs>>, prefix: IpNet) {
        let src = cand.src;
        let rejected = cand.rejected;
        let (peers, rid) = (&self.peers, self.config.router_id);
        // A new prefix with one plain candidate (most of a full table): stored as it is.
        let plain = pre.is_none();
        let mut fresh = Some(cand);
        let epoch = self.batch;
        let d = self.rib.map.get_or_insert_with(prefix, || {
            if plain {
                let mut c = fresh.take().expect("taken once");
                c.epoch = epoch;
                Dest::One(c)
            } else {
                Dest::Many(Box::default())
            }
        });
        let counted = match fresh {
            None => {
                self.changes.push(Change {
                    prefix,
                    fib_before: None,
                    after: best_of(d),
                    empty: false,
                });
                self.count_best(false, !rejected);
                None
            }
            Some(cand) => {
                let first = Self::mark(&mut self.changes, epoch, d, prefix);
                let had_best = d.best_index().is_some();
                let counted = d.upsert(cand, pre);
                let best = decide(d.cands(), &|s| src_info(peers, rid, s), &mut Vec::new());
                d.set_best(best);
                Self::settle(&mut self.changes, &mut self.retouched, first, d);
                self.count_best(had_best, best.is_some());
                counted
            }
        };
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

    /// Notes `prefix` as changed in this batch (once), with its FIB state before; whether
    /// this is its first change in the batch.
    fn mark(changes: &mut Vec<Change>, epoch: u16, d: &mut Dest, prefix: IpNet) -> bool {
        if d.epoch() == epoch {
            return false;
        }
        d.set_epoch(epoch);
        changes.push(Change {
            prefix,
            fib_before: fib_of(d.best()),
            after: None,
            empty: false,
        });
        true
    }

    /// After a change: its state is the batch's last entry's `after` when this was the
    /// prefix's first change in the batch; otherwise that entry, further back, is stale,
    /// and the end of the batch looks every prefix up again.
    fn settle(changes: &mut [Change], retouched: &mut bool, first: bool, d: &Dest) {
        if first {
            let c = changes.last_mut().expect("marked");
            c.after = best_of(d);
            c.empty = d.is_empty();
        } else {
            *retouched = true;
        }
    }

    /// Starts the next batch: every prefix's epoch is now a past one. After 65,535
    /// batches the numbers start again, once every prefix's is reset.
    pub(super) fn next_epoch(&mut self) {
        if self.batch == u16::MAX {
            self.rib.map.for_each_mut(|d| d.set_epoch(0));
            self.batch = 1;
        } else {
            self.batch += 1;
        }
    }

    pub(super) fn rib_remove(&mut self, src: Src, path_id: u32, prefix: IpNet) {
        let (peers, rid) = (&self.peers, self.config.router_id);
        let Some(d) = self.rib.map.get_mut(&prefix) else {
            return;
        };
        let Some(i) = d.find(src, path_id) else {
            return;
        };
        let first = Self::mark(&mut self.changes, self.batch, d, prefix);
        let had_best = d.best_index().is_some();
        let old = d.remove(i);
        let best = decide(d.cands(), &|s| src_info(peers, rid, s), &mut Vec::new());
        d.set_best(best);
        Self::settle(&mut self.changes, &mut self.retouched, first, d);
        self.count_best(had_best, best.is_some());
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
        for (prefix, d) in self.rib.map.iter() {
            for c in d.cands() {
                if c.src == src {
                    gone.push((prefix, c.path_id));
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
            for (i, n) in nlri.iter().enumerate() {
                // Full tables arrive in random order: load the Loc-RIB entries of the
                // next prefixes while this one goes in.
                if let Some(ahead) = nlri.get(i + 3) {
                    self.rib.map.prefetch_bucket(&ahead.prefix.trunc());
                }
                if let Some(ahead) = nlri.get(i + 1) {
                    self.rib.map.prefetch_entries(&ahead.prefix.trunc());
                }
                let cand = Cand::new(src, n.path_id.unwrap_or(0), pre.clone(), false, since);
                self.rib_insert(cand, None, n.prefix.trunc());
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
            let attrs = if rejected { pre.clone() } else { post };
            let cand = Cand::new(src, n.path_id.unwrap_or(0), attrs, rejected, since);
            self.rib_insert(cand, (changed && !rejected).then(|| pre.clone()), prefix);
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
