//! Flow tables: entries, FLOW_MOD semantics (add, modify, modify-strict, delete,
//! delete-strict; cookies and masks; out_port/out_group filters; CHECK_OVERLAP;
//! RESET_COUNTS) and idle/hard timeouts with FLOW_REMOVED.
//!
//! Matches are compared as *bits*: every OXM field becomes (field code, value, mask) in
//! 128 bits, sorted by field code, so "identical", "more specific" and "overlapping" are
//! plain mask arithmetic. Packet lookups go through the table's classifier (see
//! `pipeline.rs`); the entries here are the truth it is built from.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::openflow::classifier::FlowMatch;
use crate::openflow::codec::{self as of, Body, FlowMod, Instruction, Message};
use crate::openflow::flowkey;
use crate::time::{Duration, Instant};

use super::{ConnId, Switch};

/// A flow entry.
#[derive(Debug, Clone)]
pub struct FlowEntry {
    pub id: u64,
    pub table_id: u8,
    pub priority: u16,
    pub r#match: of::Match,
    /// The match as (value, mask) over the data plane's flow key.
    pub rule: FlowMatch,
    /// In execution order (see `pipeline::instruction_rank`), shared with the data path.
    pub instructions: Arc<Vec<Instruction>>,
    pub cookie: u64,
    pub flags: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub created: Instant,
    pub last_used: Instant,
    pub packets: u64,
    pub bytes: u64,
}

impl FlowEntry {
    fn deadline(&self) -> Option<Instant> {
        let idle = (self.idle_timeout > 0)
            .then(|| self.last_used + Duration::from_secs(self.idle_timeout.into()));
        let hard = (self.hard_timeout > 0)
            .then(|| self.created + Duration::from_secs(self.hard_timeout.into()));
        [idle, hard].into_iter().flatten().min()
    }

    /// Does any action of this entry output to `port` / go to `group`?
    fn outputs_to(&self, port: u32, group: u32) -> bool {
        let port_ok = port == of::port_no::ANY
            || self
                .actions()
                .any(|a| matches!(a, of::Action::Output { port: p, .. } if *p == port));
        let group_ok = group == of::group::ANY
            || self
                .actions()
                .any(|a| matches!(a, of::Action::Group(g) if *g == group));
        port_ok && group_ok
    }

    fn actions(&self) -> impl Iterator<Item = &of::Action> {
        self.instructions.iter().flat_map(|i| match i {
            Instruction::ApplyActions(a) | Instruction::WriteActions(a) => a.as_slice(),
            _ => &[],
        })
    }

    /// The groups this entry's actions name.
    pub fn groups(&self) -> impl Iterator<Item = u32> + '_ {
        self.actions().filter_map(|a| match a {
            of::Action::Group(g) => Some(*g),
            _ => None,
        })
    }

    pub fn is_table_miss(&self) -> bool {
        self.priority == 0 && self.rule == FlowMatch::any()
    }
}

/// One flow table.
#[derive(Debug)]
pub struct Table {
    pub id: u8,
    pub flows: BTreeMap<u64, FlowEntry>,
    pub lookups: u64,
    pub matched: u64,
    pub index: super::pipeline::Index,
    /// Entries with a timeout, and a lower bound of their earliest deadline (idle
    /// deadlines only move later with traffic, so a bound kept without per-packet work is
    /// enough: at worst a timeout wakes the switch early, and a rescan sets it right).
    timed: usize,
    deadline: Option<Instant>,
}

impl Table {
    pub fn new(id: u8) -> Table {
        Table {
            id,
            flows: BTreeMap::new(),
            lookups: 0,
            matched: 0,
            index: Default::default(),
            timed: 0,
            deadline: None,
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        if self.timed == 0 { None } else { self.deadline }
    }

    fn insert(&mut self, f: FlowEntry) {
        if let Some(d) = f.deadline() {
            self.timed += 1;
            self.deadline = Some(self.deadline.map_or(d, |x| x.min(d)));
        }
        self.index.insert(&f);
        self.flows.insert(f.id, f);
    }

    fn remove(&mut self, id: u64) -> Option<FlowEntry> {
        let f = self.flows.remove(&id)?;
        if f.deadline().is_some() {
            self.timed -= 1;
        }
        self.index.remove(&f);
        Some(f)
    }

    /// The entry with exactly this priority and match.
    fn find_strict(&self, priority: u16, rule: &FlowMatch) -> Option<u64> {
        self.index.find_strict(priority, rule)
    }

    /// Recomputes the deadline bound (a scan of the entries: done only when it passed).
    fn rescan_deadline(&mut self) {
        self.deadline = self.flows.values().filter_map(|f| f.deadline()).min();
    }
}

use of::flow_mod_flags;
use of::flow_removed_reason as removed;

impl Switch {
    pub(super) fn flow_mod(&mut self, now: Instant, conn: ConnId, xid: u32, fm: FlowMod) {
        if let Err((kind, code)) = self.apply_flow_mod(now, &fm) {
            let m = Message {
                xid,
                body: Body::FlowMod(fm),
            };
            self.error(conn, xid, kind, code, &m);
            return;
        }
        let is_add_or_mod = !matches!(
            fm.command,
            of::FlowModCommand::Delete | of::FlowModCommand::DeleteStrict
        );
        if is_add_or_mod && fm.buffer_id != of::NO_BUFFER {
            self.release_buffer(now, conn, xid, fm.buffer_id);
        }
    }

    /// Applies a FLOW_MOD (a controller's, or a flow edit from `topolab openflow`, with the
    /// same validation); the error (type, code) a controller would be sent otherwise.
    pub fn apply_flow_mod(
        &mut self,
        now: Instant,
        fm: &FlowMod,
    ) -> Result<(), (of::ErrorType, u16)> {
        use of::FlowModCommand as C;
        let n = self.tables.len() as u8;
        let delete = matches!(fm.command, C::Delete | C::DeleteStrict);
        if !(fm.table_id < n || (delete && fm.table_id == of::table::ALL)) {
            return Err((
                of::ErrorType::FLOW_MOD_FAILED,
                of::flow_mod_failed::BAD_TABLE_ID,
            ));
        }
        if let Err(e) = fm.r#match.check_prerequisites() {
            return Err((e.kind, e.code));
        }
        let rule = flowkey::flow_match(&fm.r#match);
        if !delete {
            self.check_instructions(fm)?;
        }
        match fm.command {
            C::Add => self.flow_add(now, fm, rule),
            C::Modify | C::ModifyStrict => {
                let strict = matches!(fm.command, C::ModifyStrict);
                let table = &mut self.tables[fm.table_id as usize];
                let ids: Vec<u64> = if strict {
                    table
                        .find_strict(fm.priority, &rule)
                        .filter(|id| {
                            table
                                .flows
                                .get(id)
                                .is_some_and(|f| select(f, fm, &rule, true))
                        })
                        .into_iter()
                        .collect()
                } else {
                    table
                        .flows
                        .values()
                        .filter(|f| select(f, fm, &rule, false))
                        .map(|f| f.id)
                        .collect()
                };
                for id in ids {
                    let Some(mut f) = table.remove(id) else {
                        continue;
                    };
                    f.instructions = sorted(&fm.instructions);
                    if fm.flags & flow_mod_flags::RESET_COUNTS != 0 {
                        f.packets = 0;
                        f.bytes = 0;
                    }
                    table.insert(f);
                }
                Ok(())
            }
            C::Delete | C::DeleteStrict => {
                let strict = matches!(fm.command, C::DeleteStrict);
                let tables: Vec<usize> = if fm.table_id == of::table::ALL {
                    (0..self.tables.len()).collect()
                } else {
                    vec![fm.table_id as usize]
                };
                for t in tables {
                    let table = &self.tables[t];
                    let keep = |f: &FlowEntry| {
                        select(f, fm, &rule, strict) && f.outputs_to(fm.out_port, fm.out_group)
                    };
                    let ids: Vec<u64> = if strict {
                        table
                            .find_strict(fm.priority, &rule)
                            .filter(|id| table.flows.get(id).is_some_and(keep))
                            .into_iter()
                            .collect()
                    } else {
                        table
                            .flows
                            .values()
                            .filter(|f| keep(f))
                            .map(|f| f.id)
                            .collect()
                    };
                    for id in ids {
                        self.remove_flow(now, t, id, removed::DELETE);
                    }
                }
                Ok(())
            }
        }
    }

    fn flow_add(
        &mut self,
        now: Instant,
        fm: &FlowMod,
        rule: FlowMatch,
    ) -> Result<(), (of::ErrorType, u16)> {
        let table = &mut self.tables[fm.table_id as usize];
        if fm.flags & flow_mod_flags::CHECK_OVERLAP != 0
            && table
                .flows
                .values()
                .any(|f| f.priority == fm.priority && f.rule != rule && f.rule.overlaps(&rule))
        {
            return Err((of::ErrorType::FLOW_MOD_FAILED, of::flow_mod_failed::OVERLAP));
        }
        let same = table.find_strict(fm.priority, &rule);
        if same.is_none() && table.flows.len() >= super::MAX_FLOWS_PER_TABLE {
            return Err((
                of::ErrorType::FLOW_MOD_FAILED,
                of::flow_mod_failed::TABLE_FULL,
            ));
        }
        let (packets, bytes) = match same.and_then(|id| table.remove(id)) {
            Some(old) if fm.flags & flow_mod_flags::RESET_COUNTS == 0 => (old.packets, old.bytes),
            _ => (0, 0),
        };
        self.next_flow_id += 1;
        let f = FlowEntry {
            id: self.next_flow_id,
            table_id: fm.table_id,
            priority: fm.priority,
            r#match: fm.r#match.clone(),
            rule,
            instructions: sorted(&fm.instructions),
            cookie: fm.cookie,
            flags: fm.flags,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            created: now,
            last_used: now,
            packets,
            bytes,
        };
        table.insert(f);
        Ok(())
    }

    fn check_instructions(&self, fm: &FlowMod) -> Result<(), (of::ErrorType, u16)> {
        use of::ErrorType as E;
        let mut seen = 0u32;
        for i in &fm.instructions {
            let kind = match i {
                Instruction::GotoTable(t) => {
                    if *t <= fm.table_id || *t as usize >= self.tables.len() {
                        return Err((E::BAD_INSTRUCTION, of::bad_instruction::BAD_TABLE_ID));
                    }
                    1
                }
                Instruction::WriteMetadata { .. } => 2,
                Instruction::WriteActions(a) => {
                    self.check_actions(a)?;
                    3
                }
                Instruction::ApplyActions(a) => {
                    self.check_actions(a)?;
                    4
                }
                Instruction::ClearActions => 5,
                Instruction::Meter(m) => {
                    if !self.meters.exists(*m) {
                        return Err((E::METER_MOD_FAILED, of::meter_mod_failed::UNKNOWN_METER));
                    }
                    6
                }
                _ => return Err((E::BAD_INSTRUCTION, of::bad_instruction::UNKNOWN_INST)),
            };
            if seen & (1 << kind) != 0 {
                return Err((E::BAD_INSTRUCTION, of::bad_instruction::UNSUP_INST));
            }
            seen |= 1 << kind;
        }
        Ok(())
    }

    /// Output ports and groups named by actions exist.
    pub(super) fn check_actions(&self, actions: &[of::Action]) -> Result<(), (of::ErrorType, u16)> {
        use of::ErrorType as E;
        for a in actions {
            match a {
                of::Action::Output { port, .. }
                    if (*port <= of::port_no::MAX || *port == of::port_no::ANY)
                        && !self.ports.contains_key(port) =>
                {
                    return Err((E::BAD_ACTION, of::bad_action::BAD_OUT_PORT));
                }
                of::Action::Group(g) if !self.groups.exists(*g) => {
                    return Err((E::BAD_ACTION, of::bad_action::BAD_OUT_GROUP));
                }
                of::Action::Experimenter { .. } => {
                    return Err((E::BAD_ACTION, of::bad_action::BAD_EXPERIMENTER));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Removes a flow and, when it asked for it, tells the controllers why.
    pub(super) fn remove_flow(&mut self, now: Instant, table: usize, id: u64, reason: u8) {
        let Some(f) = self.tables[table].remove(id) else {
            return;
        };
        if f.flags & flow_mod_flags::SEND_FLOW_REM == 0 {
            return;
        }
        let (sec, nsec) = self.uptime(f.created, now);
        let body = of::FlowRemoved {
            cookie: f.cookie,
            priority: f.priority,
            reason,
            table_id: f.table_id,
            duration_sec: sec,
            duration_nsec: nsec,
            idle_timeout: f.idle_timeout,
            hard_timeout: f.hard_timeout,
            packet_count: f.packets,
            byte_count: f.bytes,
            r#match: f.r#match,
        };
        for conn in self.async_targets(super::Async::FlowRemoved, reason) {
            self.send(conn, 0, Body::FlowRemoved(body.clone()));
        }
    }

    pub(super) fn expire_flows(&mut self, now: Instant) {
        for t in 0..self.tables.len() {
            if self.tables[t].next_deadline().is_none_or(|d| d > now) {
                continue;
            }
            let expired: Vec<(u64, u8)> = self.tables[t]
                .flows
                .values()
                .filter_map(|f| {
                    let idle = f.idle_timeout > 0
                        && f.last_used + Duration::from_secs(f.idle_timeout.into()) <= now;
                    let hard = f.hard_timeout > 0
                        && f.created + Duration::from_secs(f.hard_timeout.into()) <= now;
                    if hard {
                        Some((f.id, removed::HARD_TIMEOUT))
                    } else if idle {
                        Some((f.id, removed::IDLE_TIMEOUT))
                    } else {
                        None
                    }
                })
                .collect();
            for (id, reason) in expired {
                self.remove_flow(now, t, id, reason);
            }
            self.tables[t].rescan_deadline();
        }
    }

    /// Flows (table, id) that a stats request or delete selects.
    pub(super) fn select_flows(
        &self,
        table_id: u8,
        out_port: u32,
        out_group: u32,
        cookie: u64,
        cookie_mask: u64,
        m: &of::Match,
    ) -> Vec<&FlowEntry> {
        let filter = flowkey::flow_match(m);
        self.tables
            .iter()
            .filter(|t| table_id == of::table::ALL || t.id == table_id)
            .flat_map(|t| t.flows.values())
            .filter(|f| {
                f.cookie & cookie_mask == cookie & cookie_mask
                    && f.rule.is_within(&filter)
                    && f.outputs_to(out_port, out_group)
            })
            .collect()
    }
}

/// Does a modify/delete select this entry?
fn select(f: &FlowEntry, fm: &FlowMod, rule: &FlowMatch, strict: bool) -> bool {
    if f.cookie & fm.cookie_mask != fm.cookie & fm.cookie_mask {
        return false;
    }
    if strict {
        f.priority == fm.priority && f.rule == *rule
    } else {
        f.rule.is_within(rule)
    }
}

fn sorted(instructions: &[Instruction]) -> Arc<Vec<Instruction>> {
    let mut v = instructions.to_vec();
    v.sort_by_key(super::pipeline::instruction_rank);
    Arc::new(v)
}
