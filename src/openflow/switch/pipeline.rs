//! The data path: a frame enters at a port, is matched table by table (goto-table only
//! forward), instructions run in the spec's order (meter, apply-actions, clear-actions,
//! write-actions, write-metadata, goto-table), and at the end of the pipeline the action
//! set runs (pop, push, dec-ttl, set-field, group, output).
//!
//! ```text
//!  frame ─▶ parse (FlowKey) ─▶ table 0 ─goto─▶ table n ─▶ … ─▶ action set ─▶ output/group
//!                                  │ miss without a table-miss entry: drop
//!                                  └ output CONTROLLER: PACKET_IN (buffered or whole frame)
//! ```
//! Every table lookup goes through the table's [`Index`] (a classifier), never a scan of
//! the entries. Output reserved ports: IN_PORT, FLOOD and ALL (every live port but the
//! ingress one, skipping NO_FWD ports), CONTROLLER, NORMAL (the standalone learning
//! switch), TABLE (packet-out only), LOCAL (we have no local port: a drop).

use std::collections::{BTreeMap, VecDeque};

use crate::openflow::codec::{self as of, Action, Body, Instruction, Message, OxmField};
use crate::openflow::flowkey;
use crate::openflow::packet::{self, Parsed};
use crate::time::Instant;

use super::{BUFFER_LIFETIME, ConnId, Switch, Transmit, port_config};

pub use super::index::Index;

/// A packet in flight: the frame, what it parses to (kept current by modifications).
#[derive(Clone)]
pub(super) struct Pkt {
    pub frame: Vec<u8>,
    pub p: Parsed,
    pub in_port: u32,
}

impl Pkt {
    pub fn new(frame: Vec<u8>, in_port: u32) -> Pkt {
        let p = packet::parse(&frame, in_port);
        Pkt { frame, p, in_port }
    }
}

/// Where a packet-in comes from.
#[derive(Clone, Copy)]
pub(super) struct Ctx {
    pub table_id: u8,
    pub cookie: u64,
    pub reason: u8,
    /// Packet-out: output to TABLE runs the pipeline.
    pub packet_out: bool,
}

/// The action set (one action of each kind; set-field one per field).
#[derive(Default)]
struct ActionSet {
    pop_vlan: bool,
    pop_mpls: Option<u16>,
    push_mpls: Option<u16>,
    push_vlan: Option<u16>,
    dec_mpls_ttl: bool,
    dec_nw_ttl: bool,
    set_mpls_ttl: Option<u8>,
    set_nw_ttl: Option<u8>,
    set_fields: Vec<OxmField>,
    group: Option<u32>,
    output: Option<(u32, u16)>,
}

impl ActionSet {
    fn write(&mut self, actions: &[Action]) {
        for a in actions {
            match a {
                Action::PopVlan => self.pop_vlan = true,
                Action::PopMpls(t) => self.pop_mpls = Some(*t),
                Action::PushMpls(t) => self.push_mpls = Some(*t),
                Action::PushVlan(t) => self.push_vlan = Some(*t),
                Action::DecMplsTtl => self.dec_mpls_ttl = true,
                Action::DecNwTtl => self.dec_nw_ttl = true,
                Action::SetMplsTtl(t) => self.set_mpls_ttl = Some(*t),
                Action::SetNwTtl(t) => self.set_nw_ttl = Some(*t),
                Action::SetField(f) => {
                    let kind = std::mem::discriminant(f);
                    self.set_fields
                        .retain(|g| std::mem::discriminant(g) != kind);
                    self.set_fields.push(*f);
                }
                Action::Group(g) => self.group = Some(*g),
                Action::Output { port, max_len } => self.output = Some((*port, *max_len)),
                _ => {}
            }
        }
    }

    /// The set as an action list, in the spec's execution order.
    fn into_actions(self) -> Vec<Action> {
        let mut v = Vec::new();
        if self.pop_vlan {
            v.push(Action::PopVlan);
        }
        if let Some(t) = self.pop_mpls {
            v.push(Action::PopMpls(t));
        }
        if let Some(t) = self.push_mpls {
            v.push(Action::PushMpls(t));
        }
        if let Some(t) = self.push_vlan {
            v.push(Action::PushVlan(t));
        }
        if self.dec_mpls_ttl {
            v.push(Action::DecMplsTtl);
        }
        if self.dec_nw_ttl {
            v.push(Action::DecNwTtl);
        }
        if let Some(t) = self.set_mpls_ttl {
            v.push(Action::SetMplsTtl(t));
        }
        if let Some(t) = self.set_nw_ttl {
            v.push(Action::SetNwTtl(t));
        }
        v.extend(self.set_fields.into_iter().map(Action::SetField));
        if let Some(g) = self.group {
            v.push(Action::Group(g));
        } else if let Some((port, max_len)) = self.output {
            v.push(Action::Output { port, max_len });
        }
        v
    }

    fn is_empty(&self) -> bool {
        self.output.is_none() && self.group.is_none()
    }
}

/// Packet-in buffers: frames kept for a later PACKET_OUT or FLOW_MOD by buffer_id.
#[derive(Debug, Default)]
pub(super) struct Buffers {
    cap: u32,
    next: u32,
    slots: BTreeMap<u32, (Instant, u32, Vec<u8>)>,
    order: VecDeque<(Instant, u32)>,
}

impl Buffers {
    pub fn new(cap: u32) -> Buffers {
        Buffers {
            cap,
            ..Default::default()
        }
    }

    /// Keeps `frame`; None when every buffer is taken (the caller sends the whole frame).
    fn store(&mut self, now: Instant, in_port: u32, frame: &[u8]) -> Option<u32> {
        if self.slots.len() as u32 >= self.cap {
            return None;
        }
        // Ids cycle through 0..2^31 so that a stale id is unlikely to name a new frame.
        let id = self.next;
        self.next = (self.next + 1) & 0x7fff_ffff;
        let deadline = now + BUFFER_LIFETIME;
        self.slots.insert(id, (deadline, in_port, frame.to_vec()));
        self.order.push_back((deadline, id));
        Some(id)
    }

    fn take(&mut self, id: u32) -> Option<(u32, Vec<u8>)> {
        self.slots.remove(&id).map(|(_, p, f)| (p, f))
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.order.front().map(|(d, _)| *d)
    }

    pub fn expire(&mut self, now: Instant) {
        while let Some((d, id)) = self.order.front().copied() {
            if d > now {
                break;
            }
            self.order.pop_front();
            if self.slots.get(&id).is_some_and(|s| s.0 == d) {
                self.slots.remove(&id);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }
}

/// The spec's instruction order, for sorting an entry's instructions once at install.
pub(super) fn instruction_rank(i: &Instruction) -> u8 {
    match i {
        Instruction::Meter(_) => 0,
        Instruction::ApplyActions(_) => 1,
        Instruction::ClearActions => 2,
        Instruction::WriteActions(_) => 3,
        Instruction::WriteMetadata { .. } => 4,
        Instruction::GotoTable(_) => 5,
        Instruction::Experimenter { .. } => 6,
    }
}

/// The most frame bytes a PACKET_IN carries (its header, match and padding must fit too).
const MAX_PACKET_IN_DATA: usize = 65_535 - 256;

/// Spare frame buffers kept for reuse.
const FRAME_POOL: usize = 256;

/// The most groups a packet may pass through (chains deeper than this are dropped).
const MAX_GROUP_DEPTH: u8 = 8;

impl Switch {
    /// A frame arrived on `in_port` (the hot path).
    pub fn handle_frame(&mut self, now: Instant, in_port: u32, frame: &[u8]) {
        let Some(port) = self.ports.get_mut(&in_port) else {
            return;
        };
        port.counters.rx_packets += 1;
        port.counters.rx_bytes += frame.len() as u64;
        if port.config & (port_config::NO_RECV | port_config::PORT_DOWN) != 0 || !port.info.up {
            port.counters.rx_dropped += 1;
            return;
        }
        if self.cfg.fail_mode == super::FailMode::Standalone && !self.controller_connected() {
            self.normal(now, in_port, frame);
            return;
        }
        let mut pkt = Pkt::new(self.take_buf(frame), in_port);
        self.run_pipeline(now, &mut pkt, 0);
        self.recycle(pkt.frame);
    }

    /// A frame buffer holding a copy of `data` (from the pool when one is there).
    pub(super) fn take_buf(&mut self, data: &[u8]) -> Vec<u8> {
        let mut b = self.pool.pop().unwrap_or_default();
        b.clear();
        b.extend_from_slice(data);
        b
    }

    /// Gives a frame buffer back (the driver returns the ones it sent), so that the hot
    /// path allocates nothing once warm.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if self.pool.len() < FRAME_POOL {
            self.pool.push(buf);
        }
    }

    /// Runs `pkt` through the tables from `table`, then its action set.
    pub(super) fn run_pipeline(&mut self, now: Instant, pkt: &mut Pkt, first: u8) {
        let mut set = ActionSet::default();
        let mut t = first as usize;
        let mut ctx;
        loop {
            let len = pkt.frame.len() as u64;
            let Some(table) = self.tables.get_mut(t) else {
                return;
            };
            table.lookups += 1;
            let Some(id) = table.index.lookup(&pkt.p.key) else {
                return; // table miss without a table-miss entry: drop (1.3)
            };
            let Some(f) = table.flows.get_mut(&id) else {
                return;
            };
            table.matched += 1;
            f.packets += 1;
            f.bytes += len;
            f.last_used = now;
            ctx = Ctx {
                table_id: t as u8,
                cookie: f.cookie,
                reason: if f.is_table_miss() {
                    of::packet_in_reason::NO_MATCH
                } else {
                    of::packet_in_reason::ACTION
                },
                packet_out: false,
            };
            let instructions = f.instructions.clone();
            let mut next = None;
            for i in instructions.iter() {
                match i {
                    Instruction::Meter(m) => {
                        if !self.meter(now, *m, pkt) {
                            return;
                        }
                    }
                    Instruction::ApplyActions(a) => {
                        if !self.apply_actions(now, pkt, a, ctx, 0) {
                            return;
                        }
                    }
                    Instruction::ClearActions => set = ActionSet::default(),
                    Instruction::WriteActions(a) => set.write(a),
                    Instruction::WriteMetadata { metadata, mask } => {
                        let k = &mut pkt.p.key;
                        k.metadata = (k.metadata & !mask) | (metadata & mask);
                    }
                    Instruction::GotoTable(n) => next = Some(*n as usize),
                    Instruction::Experimenter { .. } => {}
                }
            }
            match next {
                Some(n) if n > t => t = n,
                _ => break,
            }
        }
        if !set.is_empty() {
            let actions = set.into_actions();
            self.apply_actions(now, pkt, &actions, ctx, 0);
        }
    }

    /// Runs an action list on `pkt`; false when the packet is dropped on the way.
    pub(super) fn apply_actions(
        &mut self,
        now: Instant,
        pkt: &mut Pkt,
        actions: &[Action],
        ctx: Ctx,
        depth: u8,
    ) -> bool {
        for a in actions {
            let r = match a {
                Action::Output { port, max_len } => {
                    self.output(now, pkt, *port, *max_len, ctx);
                    Ok(())
                }
                Action::Group(g) => {
                    if depth < MAX_GROUP_DEPTH {
                        self.apply_group(now, pkt, *g, ctx, depth + 1);
                    }
                    Ok(())
                }
                Action::SetField(f) => match flowkey::set_field(f) {
                    Some(v) => packet::set_field(&mut pkt.frame, &mut pkt.p, v),
                    None => Ok(()),
                },
                Action::PushVlan(t) => packet::push_vlan(&mut pkt.frame, &mut pkt.p, *t),
                Action::PopVlan => packet::pop_vlan(&mut pkt.frame, &mut pkt.p),
                Action::PushMpls(t) => packet::push_mpls(&mut pkt.frame, &mut pkt.p, *t),
                Action::PopMpls(t) => packet::pop_mpls(&mut pkt.frame, &mut pkt.p, *t),
                Action::DecNwTtl => packet::dec_nw_ttl(&mut pkt.frame, &pkt.p),
                Action::SetNwTtl(t) => packet::set_nw_ttl(&mut pkt.frame, &pkt.p, *t),
                Action::DecMplsTtl => packet::dec_mpls_ttl(&mut pkt.frame, &pkt.p),
                Action::SetMplsTtl(t) => packet::set_mpls_ttl(&mut pkt.frame, &pkt.p, *t),
                _ => Ok(()),
            };
            match r {
                Ok(()) => {}
                // A TTL that runs out drops the packet; so does a modification whose header
                // the packet lacks (the controller asked for something impossible).
                Err(_) => return false,
            }
        }
        true
    }

    fn output(&mut self, now: Instant, pkt: &Pkt, port: u32, max_len: u16, ctx: Ctx) {
        use of::port_no as P;
        match port {
            P::IN_PORT => self.emit_frame(pkt.in_port, &pkt.frame),
            P::FLOOD | P::ALL => self.flood(pkt.in_port, &pkt.frame),
            P::CONTROLLER => self.packet_in(now, pkt, max_len, ctx),
            P::NORMAL => self.normal(now, pkt.in_port, &pkt.frame),
            P::TABLE if ctx.packet_out => self.run_pipeline(now, &mut pkt.clone(), 0),
            // No local port; ANY and TABLE (outside packet-out) are not output ports.
            P::LOCAL | P::ANY | P::TABLE => {}
            p if p == pkt.in_port => {} // the ingress port only by IN_PORT
            p => self.emit_frame(p, &pkt.frame),
        }
    }

    /// Every live port but `in_port` (and NO_FWD ports).
    pub(super) fn flood(&mut self, in_port: u32, frame: &[u8]) {
        for i in 0..self.port_nos.len() {
            let p = self.port_nos[i];
            if p != in_port {
                self.emit_frame(p, frame);
            }
        }
    }

    pub(super) fn emit_frame(&mut self, port: u32, frame: &[u8]) {
        let Some(p) = self.ports.get_mut(&port) else {
            return;
        };
        if !p.live() || p.config & port_config::NO_FWD != 0 {
            p.counters.tx_dropped += 1;
            return;
        }
        p.counters.tx_packets += 1;
        p.counters.tx_bytes += frame.len() as u64;
        let data = self.take_buf(frame);
        self.out.push_back(Transmit::Frame { port, data });
    }

    fn packet_in(&mut self, now: Instant, pkt: &Pkt, max_len: u16, ctx: Ctx) {
        if self
            .ports
            .get(&pkt.in_port)
            .is_some_and(|p| p.config & port_config::NO_PACKET_IN != 0)
        {
            return;
        }
        let targets = self.async_targets(super::Async::PacketIn, ctx.reason);
        if targets.is_empty() {
            return;
        }
        let total_len = pkt.frame.len().min(u16::MAX as usize) as u16;
        let buffered = if max_len == of::controller_max_len::NO_BUFFER {
            None
        } else {
            self.buffers.store(now, pkt.in_port, &pkt.frame)
        };
        let (buffer_id, data) = match buffered {
            Some(id) => (
                id,
                pkt.frame[..pkt.frame.len().min(max_len.into())].to_vec(),
            ),
            // A message is at most 64 KiB: a super-frame is cut to what fits.
            None => (
                of::NO_BUFFER,
                pkt.frame[..pkt.frame.len().min(MAX_PACKET_IN_DATA)].to_vec(),
            ),
        };
        let mut fields = vec![OxmField::InPort(pkt.in_port)];
        if pkt.p.key.metadata != 0 {
            fields.push(OxmField::Metadata(pkt.p.key.metadata, None));
        }
        if pkt.p.key.tunnel_id != 0 {
            fields.push(OxmField::TunnelId(pkt.p.key.tunnel_id, None));
        }
        let body = of::PacketIn {
            buffer_id,
            total_len,
            reason: ctx.reason,
            table_id: ctx.table_id,
            cookie: ctx.cookie,
            r#match: of::Match { fields },
            data,
        };
        for conn in targets {
            self.send(conn, 0, Body::PacketIn(body.clone()));
        }
    }

    pub(super) fn packet_out(&mut self, now: Instant, conn: ConnId, xid: u32, po: of::PacketOut) {
        let bad = |s: &mut Switch, kind: of::ErrorType, code: u16, po: of::PacketOut| {
            let m = Message {
                xid,
                body: Body::PacketOut(po),
            };
            s.error(conn, xid, kind, code, &m);
        };
        if let Err((kind, code)) = self.check_actions(&po.actions) {
            return bad(self, kind, code, po);
        }
        let in_port_ok = self.ports.contains_key(&po.in_port)
            || matches!(
                po.in_port,
                of::port_no::CONTROLLER | of::port_no::ANY | of::port_no::LOCAL
            );
        if !in_port_ok {
            return bad(
                self,
                of::ErrorType::BAD_REQUEST,
                of::bad_request::BAD_PORT,
                po,
            );
        }
        let frame = if po.buffer_id == of::NO_BUFFER {
            po.data.clone()
        } else {
            match self.buffers.take(po.buffer_id) {
                Some((_, f)) => f,
                None => {
                    return bad(
                        self,
                        of::ErrorType::BAD_REQUEST,
                        of::bad_request::BUFFER_UNKNOWN,
                        po,
                    );
                }
            }
        };
        let mut pkt = Pkt::new(frame, po.in_port);
        let ctx = Ctx {
            table_id: of::table::ALL,
            cookie: u64::MAX,
            reason: of::packet_in_reason::ACTION,
            packet_out: true,
        };
        self.apply_actions(now, &mut pkt, &po.actions, ctx, 0);
    }

    /// A FLOW_MOD named a buffer: run the buffered frame through the tables.
    pub(super) fn release_buffer(&mut self, now: Instant, conn: ConnId, xid: u32, id: u32) {
        match self.buffers.take(id) {
            Some((in_port, frame)) => self.run_pipeline(now, &mut Pkt::new(frame, in_port), 0),
            None => self.send(
                conn,
                xid,
                Body::Error(of::ErrorMsg::new(
                    of::ErrorType::BAD_REQUEST,
                    of::bad_request::BUFFER_UNKNOWN,
                )),
            ),
        }
    }
}
