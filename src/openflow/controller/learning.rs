//! `learning`: reactive L2 switching, the behaviour of Ryu's `simple_switch_13`.
//!
//! On connect: a table-miss flow (priority 0) sending whole packets to the controller
//! (max_len NO_BUFFER). On PACKET_IN: learn `eth_src → in_port` for that datapath; if the
//! destination is known, install `(in_port, eth_dst, eth_src) → output` at priority 1 (with
//! the switch's buffer_id when it buffered the packet: the FLOW_MOD then releases it and no
//! PACKET_OUT is sent); otherwise flood. LLDP is ignored.
//!
//! This is the hot path of `topolab bench openflow`: the packet's bytes move from the
//! PACKET_IN into the PACKET_OUT (no copy), the MAC tables are hash maps, and a switch's
//! table is capped at [`MAX_MACS`] entries so that a flood of random source addresses
//! cannot grow us without bound (beyond the cap, new addresses are not learned).

use std::collections::HashMap;

use super::{ConnId, Counters, MAX_LEN_NO_BUFFER, Out, flow_add};
use crate::openflow::codec::{Action, Body, NO_BUFFER, OxmField, PacketIn, PacketOut, port_no};

/// Learned addresses kept per datapath.
pub const MAX_MACS: usize = 1 << 16;

const ETH_TYPE_LLDP: u16 = 0x88cc;

#[derive(Debug, Default)]
pub struct Learning {
    tables: HashMap<u64, HashMap<[u8; 6], u32>>,
}

impl Learning {
    pub(super) fn switch_ready(
        &mut self,
        dpid: u64,
        conn: ConnId,
        out: &mut Out,
        counters: &mut Counters,
    ) {
        self.tables.entry(dpid).or_default();
        let to_controller = Action::Output {
            port: port_no::CONTROLLER,
            max_len: MAX_LEN_NO_BUFFER,
        };
        out.send(
            conn,
            Body::FlowMod(flow_add(0, 0, Vec::new(), vec![to_controller], NO_BUFFER)),
        );
        counters.flow_mods += 1;
    }

    pub(super) fn switch_gone(&mut self, dpid: u64) {
        self.tables.remove(&dpid);
    }

    /// The MAC table of a datapath (tests, views).
    pub fn table(&self, dpid: u64) -> Option<&HashMap<[u8; 6], u32>> {
        self.tables.get(&dpid)
    }

    pub(super) fn packet_in(
        &mut self,
        dpid: u64,
        conn: ConnId,
        pi: PacketIn,
        out: &mut Out,
        counters: &mut Counters,
    ) {
        let Some(in_port) = pi.r#match.fields.iter().find_map(|f| match f {
            OxmField::InPort(p) => Some(*p),
            _ => None,
        }) else {
            return;
        };
        let Some(eth) = pi.data.get(..14) else {
            return;
        };
        if u16::from_be_bytes([eth[12], eth[13]]) == ETH_TYPE_LLDP {
            return;
        }
        let mut dst = [0u8; 6];
        let mut src = [0u8; 6];
        dst.copy_from_slice(&eth[..6]);
        src.copy_from_slice(&eth[6..12]);

        let table = self.tables.entry(dpid).or_default();
        if table.len() < MAX_MACS {
            table.insert(src, in_port);
        } else if let Some(p) = table.get_mut(&src) {
            *p = in_port;
        }
        let out_port = table.get(&dst).copied().unwrap_or(port_no::FLOOD);
        let action = Action::Output {
            port: out_port,
            max_len: 0,
        };
        if out_port != port_no::FLOOD {
            let fields = vec![
                OxmField::InPort(in_port),
                OxmField::EthDst(dst, None),
                OxmField::EthSrc(src, None),
            ];
            counters.flow_mods += 1;
            out.send(
                conn,
                Body::FlowMod(flow_add(1, 0, fields, vec![action.clone()], pi.buffer_id)),
            );
            if pi.buffer_id != NO_BUFFER {
                return;
            }
        }
        let data = if pi.buffer_id == NO_BUFFER {
            pi.data
        } else {
            Vec::new()
        };
        counters.packet_outs += 1;
        out.send(
            conn,
            Body::PacketOut(PacketOut {
                buffer_id: pi.buffer_id,
                in_port,
                actions: vec![action],
                data,
            }),
        );
    }
}
