//! `ofp_port` (64 bytes), shared by PORT_STATUS and the PORT_DESC reply.

use super::model::{DecodeError, Port};
use super::wire::{Rd, get_str, put_str, put_u32, put_zeros};

pub(crate) fn parse_port(r: &mut Rd<'_>) -> Result<Port, DecodeError> {
    let port_no = r.u32()?;
    r.skip(4)?;
    let hw_addr = r.arr()?;
    r.skip(2)?;
    Ok(Port {
        port_no,
        hw_addr,
        name: get_str(r, 16)?,
        config: r.u32()?,
        state: r.u32()?,
        curr: r.u32()?,
        advertised: r.u32()?,
        supported: r.u32()?,
        peer: r.u32()?,
        curr_speed: r.u32()?,
        max_speed: r.u32()?,
    })
}

pub(crate) fn emit_port(p: &Port, out: &mut Vec<u8>) {
    put_u32(out, p.port_no);
    put_zeros(out, 4);
    out.extend_from_slice(&p.hw_addr);
    put_zeros(out, 2);
    put_str(out, &p.name, 16);
    for v in [
        p.config,
        p.state,
        p.curr,
        p.advertised,
        p.supported,
        p.peer,
        p.curr_speed,
        p.max_speed,
    ] {
        put_u32(out, v);
    }
}
