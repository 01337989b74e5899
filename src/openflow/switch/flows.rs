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

use crate::openflow::codec::{self as of, Body, FlowMod, Instruction, Message};
use crate::time::{Duration, Instant};

use super::{ConnId, Switch};

/// One OXM field as (code, value, mask); an exact field has an all-ones mask of its width.
pub type FieldBits = (u8, u128, u128);

/// A flow entry.
#[derive(Debug, Clone)]
pub struct FlowEntry {
    pub id: u64,
    pub table_id: u8,
    pub priority: u16,
    pub r#match: of::Match,
    pub bits: Vec<FieldBits>,
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
        self.priority == 0 && self.bits.is_empty()
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
}

impl Table {
    pub fn new(id: u8) -> Table {
        Table {
            id,
            flows: BTreeMap::new(),
            lookups: 0,
            matched: 0,
            index: Default::default(),
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.flows.values().filter_map(|f| f.deadline()).min()
    }

    fn insert(&mut self, f: FlowEntry) {
        self.index.insert(&f);
        self.flows.insert(f.id, f);
    }

    fn remove(&mut self, id: u64) -> Option<FlowEntry> {
        let f = self.flows.remove(&id)?;
        self.index.remove(&f);
        Some(f)
    }
}

/// Field widths in bits, by OXM field code (0..=39).
const WIDTHS: [u8; 40] = [
    32, 32, 64, 48, 48, 16, 13, 3, 6, 2, 8, 32, 32, 16, 16, 16, 16, 16, 16, 8, 8, 16, 32, 32, 48,
    48, 128, 128, 20, 8, 8, 128, 48, 48, 20, 3, 1, 24, 64, 9,
];

fn ones(bits: u8) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

fn mac(m: [u8; 6]) -> u128 {
    m.iter().fold(0u128, |a, b| (a << 8) | u128::from(*b))
}

/// (code, value, optional mask) of one field.
pub fn field_bits(f: &of::OxmField) -> FieldBits {
    use of::OxmField as F;
    let (code, v, m): (u8, u128, Option<u128>) = match f {
        F::InPort(p) => (0, (*p).into(), None),
        F::InPhyPort(p) => (1, (*p).into(), None),
        F::Metadata(v, m) => (2, (*v).into(), m.map(u128::from)),
        F::EthDst(v, m) => (3, mac(*v), m.map(mac)),
        F::EthSrc(v, m) => (4, mac(*v), m.map(mac)),
        F::EthType(v) => (5, (*v).into(), None),
        F::VlanVid(v, m) => (6, (*v).into(), m.map(u128::from)),
        F::VlanPcp(v) => (7, (*v).into(), None),
        F::IpDscp(v) => (8, (*v).into(), None),
        F::IpEcn(v) => (9, (*v).into(), None),
        F::IpProto(v) => (10, (*v).into(), None),
        F::Ipv4Src(v, m) => (11, u32::from(*v).into(), m.map(|m| u32::from(m).into())),
        F::Ipv4Dst(v, m) => (12, u32::from(*v).into(), m.map(|m| u32::from(m).into())),
        F::TcpSrc(v) => (13, (*v).into(), None),
        F::TcpDst(v) => (14, (*v).into(), None),
        F::UdpSrc(v) => (15, (*v).into(), None),
        F::UdpDst(v) => (16, (*v).into(), None),
        F::SctpSrc(v) => (17, (*v).into(), None),
        F::SctpDst(v) => (18, (*v).into(), None),
        F::Icmpv4Type(v) => (19, (*v).into(), None),
        F::Icmpv4Code(v) => (20, (*v).into(), None),
        F::ArpOp(v) => (21, (*v).into(), None),
        F::ArpSpa(v, m) => (22, u32::from(*v).into(), m.map(|m| u32::from(m).into())),
        F::ArpTpa(v, m) => (23, u32::from(*v).into(), m.map(|m| u32::from(m).into())),
        F::ArpSha(v, m) => (24, mac(*v), m.map(mac)),
        F::ArpTha(v, m) => (25, mac(*v), m.map(mac)),
        F::Ipv6Src(v, m) => (26, u128::from(*v), m.map(u128::from)),
        F::Ipv6Dst(v, m) => (27, u128::from(*v), m.map(u128::from)),
        F::Ipv6Flabel(v, m) => (28, (*v).into(), m.map(u128::from)),
        F::Icmpv6Type(v) => (29, (*v).into(), None),
        F::Icmpv6Code(v) => (30, (*v).into(), None),
        F::Ipv6NdTarget(v) => (31, u128::from(*v), None),
        F::Ipv6NdSll(v) => (32, mac(*v), None),
        F::Ipv6NdTll(v) => (33, mac(*v), None),
        F::MplsLabel(v) => (34, (*v).into(), None),
        F::MplsTc(v) => (35, (*v).into(), None),
        F::MplsBos(v) => (36, (*v).into(), None),
        F::PbbIsid(v, m) => (37, (*v).into(), m.map(u128::from)),
        F::TunnelId(v, m) => (38, (*v).into(), m.map(u128::from)),
        F::Ipv6Exthdr(v, m) => (39, (*v).into(), m.map(u128::from)),
    };
    let full = ones(WIDTHS[code as usize]);
    let m = m.unwrap_or(full) & full;
    (code, v & m, m)
}

/// A match as sorted field bits.
pub fn match_bits(m: &of::Match) -> Vec<FieldBits> {
    let mut v: Vec<FieldBits> = m.fields.iter().map(field_bits).collect();
    v.sort_by_key(|f| f.0);
    v
}

/// Every packet matching `flow` also matches `req` (flow is equal or more specific).
pub fn covers(req: &[FieldBits], flow: &[FieldBits]) -> bool {
    req.iter().all(|(c, v, m)| {
        flow.iter()
            .find(|f| f.0 == *c)
            .is_some_and(|(_, fv, fm)| fm & m == *m && fv & m == *v)
    })
}

/// Some packet could match both.
pub fn overlaps(a: &[FieldBits], b: &[FieldBits]) -> bool {
    a.iter()
        .all(|(c, v, m)| match b.iter().find(|f| f.0 == *c) {
            Some((_, bv, bm)) => (v & bm) == (bv & m),
            None => true,
        })
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

    /// Applies a FLOW_MOD; the error (type, code) otherwise.
    pub(super) fn apply_flow_mod(
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
        let bits = match_bits(&fm.r#match);
        check_prerequisites(&bits)?;
        if !delete {
            self.check_instructions(fm)?;
        }
        match fm.command {
            C::Add => self.flow_add(now, fm, bits),
            C::Modify | C::ModifyStrict => {
                let strict = matches!(fm.command, C::ModifyStrict);
                let table = &mut self.tables[fm.table_id as usize];
                let ids: Vec<u64> = table
                    .flows
                    .values()
                    .filter(|f| select(f, fm, &bits, strict))
                    .map(|f| f.id)
                    .collect();
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
                    let ids: Vec<u64> = self.tables[t]
                        .flows
                        .values()
                        .filter(|f| {
                            select(f, fm, &bits, strict) && f.outputs_to(fm.out_port, fm.out_group)
                        })
                        .map(|f| f.id)
                        .collect();
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
        bits: Vec<FieldBits>,
    ) -> Result<(), (of::ErrorType, u16)> {
        let table = &mut self.tables[fm.table_id as usize];
        if fm.flags & flow_mod_flags::CHECK_OVERLAP != 0
            && table
                .flows
                .values()
                .any(|f| f.priority == fm.priority && f.bits != bits && overlaps(&f.bits, &bits))
        {
            return Err((of::ErrorType::FLOW_MOD_FAILED, of::flow_mod_failed::OVERLAP));
        }
        let same = table
            .flows
            .values()
            .find(|f| f.priority == fm.priority && f.bits == bits)
            .map(|f| f.id);
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
            bits,
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
                of::Action::Output { port, .. } => {
                    let reserved = *port > of::port_no::MAX && *port != of::port_no::ANY;
                    if !reserved && !self.ports.contains_key(port) {
                        return Err((E::BAD_ACTION, of::bad_action::BAD_OUT_PORT));
                    }
                }
                of::Action::Group(g) => {
                    if !self.groups.exists(*g) {
                        return Err((E::BAD_ACTION, of::bad_action::BAD_OUT_GROUP));
                    }
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
        for conn in self.packet_in_targets() {
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
        let bits = match_bits(m);
        self.tables
            .iter()
            .filter(|t| table_id == of::table::ALL || t.id == table_id)
            .flat_map(|t| t.flows.values())
            .filter(|f| {
                f.cookie & cookie_mask == cookie & cookie_mask
                    && covers(&bits, &f.bits)
                    && f.outputs_to(out_port, out_group)
            })
            .collect()
    }
}

/// Does a modify/delete select this entry?
fn select(f: &FlowEntry, fm: &FlowMod, bits: &[FieldBits], strict: bool) -> bool {
    if f.cookie & fm.cookie_mask != fm.cookie & fm.cookie_mask {
        return false;
    }
    if strict {
        f.priority == fm.priority && f.bits == bits
    } else {
        covers(bits, &f.bits)
    }
}

fn sorted(instructions: &[Instruction]) -> Arc<Vec<Instruction>> {
    let mut v = instructions.to_vec();
    v.sort_by_key(super::pipeline::instruction_rank);
    Arc::new(v)
}

/// OXM prerequisites (OFPBMC_BAD_PREREQ) and duplicate fields (OFPBMC_DUP_FIELD), on
/// sorted bits.
fn check_prerequisites(bits: &[FieldBits]) -> Result<(), (of::ErrorType, u16)> {
    use of::oxm_field as F;
    let bad = (of::ErrorType::BAD_MATCH, of::bad_match::BAD_PREREQ);
    if bits.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err((of::ErrorType::BAD_MATCH, of::bad_match::DUP_FIELD));
    }
    // The exact value of a field, if the match pins it.
    let exact = |code: u8| {
        bits.iter()
            .find(|b| b.0 == code)
            .filter(|b| b.2 == ones(WIDTHS[code as usize]))
            .map(|b| b.1)
    };
    let eth = exact(F::ETH_TYPE);
    let proto = exact(F::IP_PROTO);
    let is = |v: Option<u128>, want: &[u128]| v.is_some_and(|v| want.contains(&v));
    let ip = [0x0800, 0x86dd];
    for (code, _, _) in bits {
        let ok = match *code {
            F::VLAN_PCP => bits
                .iter()
                .find(|b| b.0 == F::VLAN_VID)
                .is_some_and(|b| b.1 & 0x1000 != 0),
            F::IP_DSCP | F::IP_ECN | F::IP_PROTO => is(eth, &ip),
            F::IPV4_SRC | F::IPV4_DST => is(eth, &[0x0800]),
            F::TCP_SRC | F::TCP_DST => is(eth, &ip) && is(proto, &[6]),
            F::UDP_SRC | F::UDP_DST => is(eth, &ip) && is(proto, &[17]),
            F::SCTP_SRC | F::SCTP_DST => is(eth, &ip) && is(proto, &[132]),
            F::ICMPV4_TYPE | F::ICMPV4_CODE => is(eth, &[0x0800]) && is(proto, &[1]),
            F::ARP_OP | F::ARP_SPA | F::ARP_TPA | F::ARP_SHA | F::ARP_THA => is(eth, &[0x0806]),
            F::IPV6_SRC | F::IPV6_DST | F::IPV6_FLABEL | F::IPV6_EXTHDR => is(eth, &[0x86dd]),
            F::ICMPV6_TYPE | F::ICMPV6_CODE => is(eth, &[0x86dd]) && is(proto, &[58]),
            F::IPV6_ND_TARGET => is(exact(F::ICMPV6_TYPE), &[135, 136]),
            F::IPV6_ND_SLL => is(exact(F::ICMPV6_TYPE), &[135]),
            F::IPV6_ND_TLL => is(exact(F::ICMPV6_TYPE), &[136]),
            F::MPLS_LABEL | F::MPLS_TC | F::MPLS_BOS => is(eth, &[0x8847, 0x8848]),
            F::PBB_ISID => is(eth, &[0x88e7]),
            _ => true,
        };
        if !ok {
            return Err(bad);
        }
    }
    Ok(())
}
