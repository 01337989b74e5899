//! `hub`: every switch floods everything. One table-miss flow (priority 0, empty match)
//! with output FLOOD, installed when the switch connects; no packet ever reaches us
//! (POX's `hub` does the same).

use super::{ConnId, Counters, Out, flow_add};
use crate::openflow::codec::{Action, Body, NO_BUFFER, port_no};

pub(super) fn switch_ready(conn: ConnId, out: &mut Out, counters: &mut Counters) {
    let flood = Action::Output {
        port: port_no::FLOOD,
        max_len: 0,
    };
    out.send(
        conn,
        Body::FlowMod(flow_add(0, 0, Vec::new(), vec![flood], NO_BUFFER)),
    );
    counters.flow_mods += 1;
}
