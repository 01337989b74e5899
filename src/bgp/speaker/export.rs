//! Export: at the end of each batch, the changed prefixes become FIB changes and UPDATEs.
//!
//! Peers whose outbound attributes are computed the same way (same kind, route-reflector
//! role, next-hop rule and address, export policy, negotiated encoding and families) form
//! an update group. A group computes each changed prefix's outbound attributes once (once
//! per attribute set when its policy does not look at prefixes), then each member's
//! changes are its diff against its own Adj-RIB-Out (a route is never sent back to the
//! peer it came from); members with the same diff share one encoding.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::bgp::attrs::{PathAttrs, community};
use crate::bgp::codec::{self, Family, Nlri, SessionParams};
use crate::bgp::policy::{RouteCtx, Verdict};
use crate::time::Instant;

use super::rib::{Best, LOCAL};
use super::{FibChange, Output, PeerId, Speaker};

/// One prefix's new state toward a peer: the attributes to announce, or withdraw.
type OutRoute = (IpNet, Option<Arc<PathAttrs>>);

pub(crate) fn family_of(p: &IpNet) -> Family {
    match p {
        IpNet::V4(_) => Family::IPV4_UNICAST,
        IpNet::V6(_) => Family::IPV6_UNICAST,
    }
}

/// The UPDATE bytes for a list of changes (withdrawals first, then announcements grouped
/// by attribute set, every message packed full); and how many messages.
pub(crate) fn encode(list: &[OutRoute], tx: &SessionParams) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut count = 0u64;
    for family in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
        let mut withdrawn: Vec<Nlri> = Vec::new();
        let mut groups: Vec<(Arc<PathAttrs>, Vec<Nlri>)> = Vec::new();
        let mut index: HashMap<*const PathAttrs, usize> = HashMap::new();
        for (prefix, a) in list {
            if family_of(prefix) != family {
                continue;
            }
            let n = Nlri {
                path_id: None,
                prefix: *prefix,
            };
            match a {
                None => withdrawn.push(n),
                Some(a) => {
                    let i = *index.entry(Arc::as_ptr(a)).or_insert_with(|| {
                        groups.push((a.clone(), Vec::new()));
                        groups.len() - 1
                    });
                    groups[i].1.push(n);
                }
            }
        }
        count += codec::pack_withdraw(family, &withdrawn, tx, &mut out) as u64;
        for (a, nlri) in groups {
            let attrs = a.to_attrs(tx.four_octet_as, family);
            count +=
                codec::pack_announce(family, &attrs, &a.mp_next_hop(), &nlri, tx, &mut out) as u64;
        }
    }
    (out, count)
}

/// What makes two peers' outbound updates identical.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    ebgp: bool,
    rr_client: bool,
    next_hop_self: bool,
    nh4: Option<IpAddr>,
    nh6: Option<IpAddr>,
    policy: String,
    four_octet_as: bool,
    extended: bool,
    families: Vec<Family>,
    /// Set when the export policy names neighbors: then the peer is alone.
    alone: Option<PeerId>,
}

impl Speaker {
    /// The end of a batch: FIB changes and UPDATEs for every prefix changed in it.
    pub(super) fn flush(&mut self, now: Instant) {
        if self.changes.is_empty() {
            return;
        }
        let mut changes = std::mem::take(&mut self.changes);
        let retouched = std::mem::take(&mut self.retouched);
        self.next_epoch();
        let fib = self.config.fib;
        // Each changed prefix's best path after the batch, for the FIB and every group:
        // recorded by its change, or looked up again when the batch changed a prefix twice.
        let mut bests: Vec<Best> = Vec::with_capacity(changes.len());
        for c in &mut changes {
            if retouched || c.empty {
                let d = self.rib.map.get(&c.prefix);
                c.after = d.and_then(super::rib::best_of);
                if d.is_some_and(|d| d.is_empty()) {
                    self.rib.map.remove(&c.prefix);
                }
            }
            let after = c
                .after
                .as_ref()
                .filter(|(src, _)| *src != LOCAL)
                .map(|(_, a)| a.next_hop);
            bests.push(c.after.take());
            if after != c.fib_before {
                match after {
                    Some(next_hop) => {
                        if c.fib_before.is_none() {
                            self.fib_installed += 1;
                        }
                        if fib {
                            self.out.push_back(Output::Fib(FibChange::Replace {
                                prefix: c.prefix,
                                next_hop,
                                new: c.fib_before.is_none(),
                            }));
                        }
                    }
                    None => {
                        self.fib_installed -= 1;
                        if fib {
                            self.out
                                .push_back(Output::Fib(FibChange::Remove { prefix: c.prefix }));
                        }
                    }
                }
            }
        }
        // Update groups.
        let mut groups: HashMap<GroupKey, Vec<PeerId>> = HashMap::new();
        for (pid, p) in self.peers.iter().enumerate() {
            if let Some(key) = self.group_key(pid)
                && p.up.is_some()
            {
                groups.entry(key).or_default().push(pid);
            }
        }
        let mut groups: Vec<Vec<PeerId>> = groups.into_values().collect();
        groups.sort();
        for members in groups {
            self.export_group(now, &members, &changes, &bests);
        }
        self.interner.maybe_gc();
    }

    fn group_key(&self, pid: PeerId) -> Option<GroupKey> {
        let p = &self.peers[pid];
        let up = p.up.as_ref()?;
        let names_neighbor = self
            .config
            .export
            .iter()
            .chain(&p.cfg.export)
            .any(|r| r.matches.neighbor.is_some());
        Some(GroupKey {
            ebgp: p.ebgp,
            rr_client: p.cfg.rr_client,
            next_hop_self: p.cfg.next_hop_self,
            nh4: up.nh4,
            nh6: up.nh6,
            policy: p.export.key.clone(),
            four_octet_as: up.tx.four_octet_as,
            extended: up.tx.extended_messages,
            families: up.families.clone(),
            alone: names_neighbor.then_some(pid),
        })
    }

    fn export_group(
        &mut self,
        now: Instant,
        members: &[PeerId],
        changes: &[super::rib::Change],
        bests: &[Best],
    ) {
        let rep = members[0];
        // Export policy lets nothing out and nothing was sent before: nothing to do
        // (a full table into a route collector costs no export work).
        if self.peers[rep].export.rejects_all
            && members.iter().all(|&m| self.peers[m].adj_out.len() == 0)
        {
            return;
        }
        let by_prefix = self.peers[rep].export.by_prefix;
        let mut memo: HashMap<(*const PathAttrs, u32), Option<Arc<PathAttrs>>> = HashMap::new();
        // (prefix, outbound attributes, source) once for the group.
        let mut list: Vec<(IpNet, Option<Arc<PathAttrs>>, u32)> = Vec::with_capacity(changes.len());
        for (c, best) in changes.iter().zip(bests) {
            let (a, src) = match best {
                None => (None, LOCAL),
                // Alone in its group, the source gets nothing back: skip the work.
                Some((src, _)) if members.len() == 1 && *src == rep as u32 => (None, *src),
                Some((src, attrs)) => {
                    let key = (Arc::as_ptr(attrs), *src);
                    let a = if by_prefix {
                        self.export_attrs(rep, *src, attrs, c.prefix)
                    } else if let Some(a) = memo.get(&key) {
                        a.clone()
                    } else {
                        let a = self.export_attrs(rep, *src, attrs, c.prefix);
                        memo.insert(key, a.clone());
                        a
                    };
                    (a, *src)
                }
            };
            list.push((c.prefix, a, src));
        }
        let mut encoded: Vec<(Vec<OutRoute>, Vec<u8>, u64)> = Vec::new();
        for &m in members {
            let p = &self.peers[m];
            let mine: Vec<OutRoute> = list
                .iter()
                .filter_map(|(prefix, a, src)| {
                    let a = if *src == m as u32 { None } else { a.clone() };
                    let same = match (p.adj_out.get(prefix), &a) {
                        (None, None) => true,
                        (Some(x), Some(y)) => Arc::ptr_eq(x, y),
                        _ => false,
                    };
                    (!same).then_some((*prefix, a))
                })
                .collect();
            if mine.is_empty() {
                continue;
            }
            let up = p.up.as_ref().expect("members are established");
            let (conn, tx) = (up.conn, up.tx.clone());
            let i = match encoded.iter().position(|(l, _, _)| same_routes(l, &mine)) {
                Some(i) => i,
                None => {
                    let (bytes, n) = encode(&mine, &tx);
                    self.encodes += 1;
                    encoded.push((Vec::new(), bytes, n));
                    let i = encoded.len() - 1;
                    encoded[i].0 = mine.clone();
                    i
                }
            };
            let p = &mut self.peers[m];
            for (prefix, a) in &mine {
                match a {
                    Some(a) => p.adj_out.insert(*prefix, a.clone()),
                    None => p.adj_out.remove(prefix),
                };
            }
            let (_, bytes, n) = &encoded[i];
            p.messages_out += n;
            if let Some(s) = p.slot_mut(conn) {
                s.fsm.update_sent(now);
            }
            self.out.push_back(Output::Send {
                conn,
                bytes: bytes.clone(),
            });
        }
    }

    /// The attributes `cand` (the best path to `prefix`) gets toward peer `to`, or None
    /// when it is not advertised there.
    pub(super) fn export_attrs(
        &mut self,
        to: PeerId,
        from: u32,
        a: &Arc<PathAttrs>,
        prefix: IpNet,
    ) -> Option<Arc<PathAttrs>> {
        let t = &self.peers[to];
        let up = t.up.as_ref()?;
        let family = family_of(&prefix);
        if !up.families.contains(&family) {
            return None;
        }
        let has = |c: u32| a.communities.contains(&c);
        if has(community::NO_ADVERTISE) {
            return None;
        }
        if t.ebgp
            && (has(community::NO_EXPORT)
                || has(community::NO_EXPORT_SUBCONFED)
                || has(community::NO_PEER))
        {
            return None;
        }
        let src = (from != LOCAL).then(|| &self.peers[from as usize]);
        let from_ibgp = src.is_some_and(|s| !s.ebgp);
        let reflector = self.peers.iter().any(|p| p.cfg.rr_client);
        if !t.ebgp && from_ibgp {
            // Split horizon, unless we reflect: client routes to everyone, non-client
            // routes to clients.
            let src_client = src.is_some_and(|s| s.cfg.rr_client);
            if !reflector || !(src_client || t.cfg.rr_client) {
                return None;
            }
        }
        let own = match family {
            Family::IPV4_UNICAST => up.nh4,
            _ => up.nh6,
        };
        let mut p = (**a).clone();
        if t.ebgp {
            p.prepend(self.config.asn, 1);
            p.local_pref = None;
            if src.is_some_and(|s| s.ebgp) {
                p.med = None;
            }
            p.originator_id = None;
            p.cluster_list.clear();
            p.next_hop = own?;
            p.next_hop_link_local = None;
        } else {
            p.local_pref.get_or_insert(100);
            if from_ibgp {
                let s = src.expect("from a peer");
                p.originator_id.get_or_insert(std::net::Ipv4Addr::from(
                    s.up.as_ref().map_or(0, |u| u.bgp_id),
                ));
                p.cluster_list.insert(0, self.cluster_id);
            } else if src.is_none() || t.cfg.next_hop_self {
                p.next_hop = own?;
                p.next_hop_link_local = None;
            }
        }
        if p.next_hop.is_unspecified() {
            p.next_hop = own?;
        }
        if !t.export.empty {
            let policy = t.export.policy.as_ref()?;
            let ctx = RouteCtx {
                prefix,
                peer_addr: Some(t.cfg.address),
                peer_name: &t.cfg.name,
                local_as: self.config.asn,
                local_addr: own,
            };
            if policy.apply(&ctx, &mut p) == Verdict::Reject {
                return None;
            }
        }
        Some(self.interner.intern(p))
    }

    /// A peer's session came up: its whole table, then End-of-RIB per family.
    pub(super) fn initial_dump(&mut self, now: Instant, pid: PeerId) {
        let Some(up) = self.peers[pid].up.clone() else {
            return;
        };
        let bests: Vec<(IpNet, super::rib::Cand)> = self
            .rib
            .map
            .iter()
            .filter_map(|(p, d)| Some((p, d.best()?.clone())))
            .collect();
        let by_prefix = self.peers[pid].export.by_prefix;
        let mut memo: HashMap<(*const PathAttrs, u32), Option<Arc<PathAttrs>>> = HashMap::new();
        let mut list: Vec<OutRoute> = Vec::new();
        for (prefix, b) in bests {
            if b.src == pid as u32 {
                continue;
            }
            let key = (Arc::as_ptr(&b.attrs), b.src);
            let a = if by_prefix {
                self.export_attrs(pid, b.src, &b.attrs, prefix)
            } else if let Some(a) = memo.get(&key) {
                a.clone()
            } else {
                let a = self.export_attrs(pid, b.src, &b.attrs, prefix);
                memo.insert(key, a.clone());
                a
            };
            if let Some(a) = a {
                list.push((prefix, Some(a)));
            }
        }
        let (mut bytes, mut n) = encode(&list, &up.tx);
        self.encodes += 1;
        let p = &mut self.peers[pid];
        for (prefix, a) in list {
            if let Some(a) = a {
                p.adj_out.insert(prefix, a);
            }
        }
        for f in &up.families {
            bytes.extend_from_slice(&codec::end_of_rib(*f, &up.tx));
            n += 1;
        }
        p.messages_out += n;
        if let Some(s) = p.slot_mut(up.conn) {
            s.fsm.update_sent(now);
        }
        self.out.push_back(Output::Send {
            conn: up.conn,
            bytes,
        });
    }

    /// ROUTE-REFRESH from a peer: its Adj-RIB-Out for the family again (between BoRR and
    /// EoRR when enhanced route refresh was negotiated, RFC 7313).
    pub(super) fn refresh_received(&mut self, now: Instant, pid: PeerId, r: codec::RouteRefresh) {
        let Some(up) = self.peers[pid].up.clone() else {
            return;
        };
        if r.subtype != 0 || !up.families.contains(&r.family) {
            return;
        }
        let p = &self.peers[pid];
        let list: Vec<OutRoute> = p
            .adj_out
            .iter()
            .filter(|(k, _)| family_of(k) == r.family)
            .map(|(k, v)| (k, Some(v.clone())))
            .collect();
        let rr = |subtype| {
            codec::to_bytes(
                &codec::Message::RouteRefresh(codec::RouteRefresh {
                    family: r.family,
                    subtype,
                }),
                &up.tx,
            )
        };
        let mut bytes = Vec::new();
        let mut n = 0;
        if up.enhanced_refresh {
            bytes.extend(rr(1));
            n += 1;
        }
        let (b, k) = encode(&list, &up.tx);
        bytes.extend(b);
        n += k;
        if up.enhanced_refresh {
            bytes.extend(rr(2));
            n += 1;
        }
        let p = &mut self.peers[pid];
        p.messages_out += n;
        if let Some(s) = p.slot_mut(up.conn) {
            s.fsm.update_sent(now);
        }
        self.out.push_back(Output::Send {
            conn: up.conn,
            bytes,
        });
    }
}

fn same_routes(a: &[OutRoute], b: &[OutRoute]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.0 == y.0
                && match (&x.1, &y.1) {
                    (None, None) => true,
                    (Some(p), Some(q)) => Arc::ptr_eq(p, q),
                    _ => false,
                }
        })
}
