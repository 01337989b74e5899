//! Groups: all (every bucket, a copy each), select (one bucket by a hash of the flow key,
//! weighted, among live buckets), indirect (the one bucket), fast-failover (the first live
//! bucket: its watch_port is up and not PORT_DOWN, or its watch_group has a live bucket).
//! GROUP_MOD add/modify/delete with the spec's errors; deleting a group removes the flows
//! that forward to it, and a group that other groups chain to cannot be deleted
//! (CHAINED_GROUP) unless it is deleted with them (OFPG_ALL).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::openflow::codec::{self as of, Action, Body, Bucket, GroupType, Message};
use crate::time::Instant;

use super::pipeline::{Ctx, Pkt};
use super::{ConnId, Switch};

#[derive(Debug, Clone)]
pub struct Group {
    pub group_type: GroupType,
    pub buckets: Arc<Vec<Bucket>>,
    pub packets: u64,
    pub bytes: u64,
    pub bucket_counters: Vec<(u64, u64)>,
    pub created: Instant,
}

#[derive(Debug, Default)]
pub struct Groups {
    pub map: BTreeMap<u32, Group>,
}

impl Groups {
    pub fn exists(&self, id: u32) -> bool {
        self.map.contains_key(&id)
    }

    /// Groups whose buckets name `id`.
    fn chained_to(&self, id: u32) -> bool {
        self.map
            .values()
            .any(|g| g.buckets.iter().any(|b| names_group(&b.actions, id)))
    }

    /// Would `id` with `buckets` reach itself through chained groups?
    fn loops(&self, id: u32, buckets: &[Bucket]) -> bool {
        let mut stack: Vec<u32> = buckets.iter().flat_map(|b| groups_of(&b.actions)).collect();
        let mut seen = Vec::new();
        while let Some(g) = stack.pop() {
            if g == id {
                return true;
            }
            if seen.contains(&g) {
                continue;
            }
            seen.push(g);
            if let Some(grp) = self.map.get(&g) {
                stack.extend(grp.buckets.iter().flat_map(|b| groups_of(&b.actions)));
            }
        }
        false
    }
}

fn groups_of(actions: &[Action]) -> impl Iterator<Item = u32> + '_ {
    actions.iter().filter_map(|a| match a {
        Action::Group(g) => Some(*g),
        _ => None,
    })
}

fn names_group(actions: &[Action], id: u32) -> bool {
    groups_of(actions).any(|g| g == id)
}

impl Switch {
    pub(super) fn group_mod(&mut self, now: Instant, conn: ConnId, xid: u32, gm: of::GroupMod) {
        if let Err(code) = self.apply_group_mod(now, &gm) {
            let m = Message {
                xid,
                body: Body::GroupMod(gm),
            };
            let kind = if code == u16::MAX {
                // An action in a bucket names an unknown port.
                self.error(
                    conn,
                    xid,
                    of::ErrorType::BAD_ACTION,
                    of::bad_action::BAD_OUT_PORT,
                    &m,
                );
                return;
            } else {
                of::ErrorType::GROUP_MOD_FAILED
            };
            self.error(conn, xid, kind, code, &m);
        }
    }

    /// Applies a GROUP_MOD; the GROUP_MOD_FAILED code otherwise (u16::MAX: a bad out port).
    pub(super) fn apply_group_mod(&mut self, now: Instant, gm: &of::GroupMod) -> Result<(), u16> {
        use of::group_mod_failed as E;
        match gm.command {
            of::GroupModCommand::Delete => {
                if gm.group_id == of::group::ALL {
                    let ids: Vec<u32> = self.groups.map.keys().copied().collect();
                    for id in ids {
                        self.delete_group(now, id);
                    }
                } else if self.groups.exists(gm.group_id) {
                    if self.groups.chained_to(gm.group_id) {
                        return Err(E::CHAINED_GROUP);
                    }
                    self.delete_group(now, gm.group_id);
                }
                Ok(())
            }
            cmd @ (of::GroupModCommand::Add | of::GroupModCommand::Modify) => {
                if gm.group_id > of::group::MAX {
                    return Err(E::INVALID_GROUP);
                }
                let exists = self.groups.exists(gm.group_id);
                if cmd == of::GroupModCommand::Add && exists {
                    return Err(E::GROUP_EXISTS);
                }
                if !exists && self.groups.map.len() >= super::MAX_GROUPS {
                    return Err(E::OUT_OF_GROUPS);
                }
                if gm.buckets.len() > super::MAX_BUCKETS {
                    return Err(E::OUT_OF_BUCKETS);
                }
                if cmd == of::GroupModCommand::Modify && !exists {
                    return Err(E::UNKNOWN_GROUP);
                }
                self.check_buckets(gm)?;
                let g = Group {
                    group_type: gm.group_type,
                    buckets: Arc::new(gm.buckets.clone()),
                    packets: 0,
                    bytes: 0,
                    bucket_counters: vec![(0, 0); gm.buckets.len()],
                    created: now,
                };
                match self.groups.map.get_mut(&gm.group_id) {
                    // Modify keeps the group's own counters (bucket counters restart).
                    Some(old) => {
                        old.group_type = g.group_type;
                        old.buckets = g.buckets;
                        old.bucket_counters = g.bucket_counters;
                    }
                    None => {
                        self.groups.map.insert(gm.group_id, g);
                    }
                }
                Ok(())
            }
        }
    }

    fn check_buckets(&self, gm: &of::GroupMod) -> Result<(), u16> {
        use of::group_mod_failed as E;
        let n = gm.buckets.len();
        match gm.group_type {
            GroupType::Indirect if n != 1 => return Err(E::BAD_BUCKET),
            _ => {}
        }
        for b in &gm.buckets {
            if gm.group_type != GroupType::Select && b.weight != 0 {
                return Err(E::WEIGHT_UNSUPPORTED);
            }
            if gm.group_type == GroupType::FastFailover
                && b.watch_port == of::port_no::ANY
                && b.watch_group == of::group::ANY
            {
                return Err(E::BAD_WATCH);
            }
            for g in groups_of(&b.actions) {
                if g == gm.group_id || !self.groups.exists(g) {
                    return Err(if g == gm.group_id {
                        E::LOOP
                    } else {
                        E::CHAINING_UNSUPPORTED
                    });
                }
            }
            if self.check_actions(&b.actions).is_err() {
                return Err(u16::MAX);
            }
        }
        if self.groups.loops(gm.group_id, &gm.buckets) {
            return Err(E::LOOP);
        }
        Ok(())
    }

    fn delete_group(&mut self, now: Instant, id: u32) {
        self.groups.map.remove(&id);
        for t in 0..self.tables.len() {
            let ids: Vec<u64> = self.tables[t]
                .flows
                .values()
                .filter(|f| f.groups().any(|g| g == id))
                .map(|f| f.id)
                .collect();
            for fid in ids {
                self.remove_flow(now, t, fid, of::flow_removed_reason::GROUP_DELETE);
            }
        }
    }

    /// Is this bucket usable (fast-failover liveness)?
    fn bucket_live(&self, b: &Bucket, depth: u8) -> bool {
        if b.watch_port != of::port_no::ANY
            && !self.ports.get(&b.watch_port).is_some_and(|p| p.live())
        {
            return false;
        }
        if b.watch_group != of::group::ANY {
            if depth > 8 {
                return false;
            }
            let Some(g) = self.groups.map.get(&b.watch_group) else {
                return false;
            };
            return g.buckets.iter().any(|b| self.bucket_live(b, depth + 1));
        }
        true
    }

    pub(super) fn apply_group(&mut self, now: Instant, pkt: &Pkt, id: u32, ctx: Ctx, depth: u8) {
        let Some(g) = self.groups.map.get(&id) else {
            return;
        };
        let buckets = g.buckets.clone();
        let chosen: Vec<usize> = match g.group_type {
            GroupType::All => (0..buckets.len()).collect(),
            GroupType::Indirect => (0..buckets.len().min(1)).collect(),
            GroupType::FastFailover => buckets
                .iter()
                .position(|b| self.bucket_live(b, 0))
                .into_iter()
                .collect(),
            GroupType::Select => {
                let live: Vec<usize> = (0..buckets.len())
                    .filter(|i| buckets[*i].weight > 0 && self.bucket_live(&buckets[*i], 0))
                    .collect();
                let total: u64 = live.iter().map(|i| u64::from(buckets[*i].weight)).sum();
                if total == 0 {
                    Vec::new()
                } else {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    pkt.p.key.hash(&mut h);
                    let mut pick = h.finish() % total;
                    let mut out = None;
                    for i in live {
                        let w = u64::from(buckets[i].weight);
                        if pick < w {
                            out = Some(i);
                            break;
                        }
                        pick -= w;
                    }
                    out.into_iter().collect()
                }
            }
        };
        let len = pkt.frame.len() as u64;
        if let Some(g) = self.groups.map.get_mut(&id) {
            g.packets += 1;
            g.bytes += len;
            for i in &chosen {
                if let Some(c) = g.bucket_counters.get_mut(*i) {
                    c.0 += 1;
                    c.1 += len;
                }
            }
        }
        for i in chosen {
            let mut copy = Pkt {
                frame: self.take_buf(&pkt.frame),
                p: pkt.p,
                in_port: pkt.in_port,
            };
            self.apply_actions(now, &mut copy, &buckets[i].actions, ctx, depth);
            self.recycle(copy.frame);
        }
    }
}
