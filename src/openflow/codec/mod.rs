//! The OpenFlow 1.3 wire format: [`parse`] one message, [`emit`] one message, [`frame_len`]
//! for stream framing. The model is in [`model`]; parse is strict about lengths (every
//! structure's length is checked against its container, and a wrong one is the spec's
//! BAD_LEN of that structure), never panics, and `emit(parse(x)) == x` for every valid `x`
//! (padding is written as zeros). Matches in messages a switch sends (PACKET_IN,
//! FLOW_REMOVED, flow stats) skip OXM TLVs of other classes; matches a controller sends
//! must be all OPENFLOW_BASIC. `Match::check_prerequisites` is separate: a switch calls it
//! on the matches it accepts.
//!
//! Hot paths: parsing a PACKET_IN allocates its match's field Vec and its data; emitting
//! appends to the caller's buffer (reuse it) without other allocation.

mod action;
mod features;
pub mod model;
mod multipart;
mod oxm;
mod port;
mod wire;

#[cfg(test)]
mod tests;

pub use features::emit_table_features;
pub use model::*;

use action::{
    emit_actions, emit_bands, emit_buckets, emit_instructions, group_type, parse_actions,
    parse_bands, parse_buckets, parse_instructions,
};
use oxm::{emit_match, parse_match};
use port::{emit_port, parse_port};
use wire::{Rd, patch_len, put_u8, put_u16, put_u32, put_u64, put_zeros};

/// The length of the message at the start of `buf` (from its header), once 8 bytes are
/// there; an error when the header's length is below 8 (the stream cannot be resynced).
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    if buf.len() < OFP_HEADER_LEN {
        return Ok(None);
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    if len < OFP_HEADER_LEN {
        let mut e = DecodeError::new(
            ErrorType::BAD_REQUEST,
            bad_request::BAD_LEN,
            "message length",
        );
        e.xid = Some(u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]));
        return Err(e);
    }
    Ok(Some(len))
}

/// True when a peer's HELLO (its `versions`, as parsed) allows OpenFlow 1.3.
pub fn hello_compatible(versions: Option<u32>) -> bool {
    versions.is_none_or(|b| b & (1 << OFP_VERSION) != 0)
}

/// Decodes exactly one message: `buf` must be the whole message (its header's length).
/// HELLO (and ERROR, which may answer a failed HELLO) are accepted in any version; other
/// messages must be version 1.3 (BAD_REQUEST/BAD_VERSION). A HELLO without a version
/// bitmap parses as `versions: None` when its header version is 1.3 or later, and as the
/// bitmap of versions 1..=v when it is an earlier v (so [`hello_compatible`] decides).
pub fn parse(buf: &[u8]) -> Result<Message, DecodeError> {
    let mut r = Rd::new(
        buf,
        ErrorType::BAD_REQUEST,
        bad_request::BAD_LEN,
        "message length",
    );
    let version = r.u8()?;
    let kind = r.u8()?;
    let len = r.u16()? as usize;
    let xid = r.u32()?;
    let with_xid = |mut e: DecodeError| {
        e.xid = Some(xid);
        e
    };
    if len != buf.len() {
        return Err(with_xid(r.short()));
    }
    if version != OFP_VERSION && kind != msg_type::HELLO && kind != msg_type::ERROR {
        return Err(with_xid(DecodeError::new(
            ErrorType::BAD_REQUEST,
            bad_request::BAD_VERSION,
            "version",
        )));
    }
    let body = parse_body(kind, version, &mut r).map_err(with_xid)?;
    Ok(Message { xid, body })
}

fn bad_len(what: &'static str) -> DecodeError {
    DecodeError::new(ErrorType::BAD_REQUEST, bad_request::BAD_LEN, what)
}

fn end(r: &Rd<'_>) -> Result<(), DecodeError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(bad_len("message length"))
    }
}

fn parse_body(kind: u8, version: u8, r: &mut Rd<'_>) -> Result<Body, DecodeError> {
    use msg_type as t;
    let body = match kind {
        t::HELLO => {
            let mut versions = None;
            while !r.is_empty() {
                let etype = r.u16()?;
                let elen = r.u16()? as usize;
                if elen < 4 {
                    return Err(bad_len("hello element length"));
                }
                let e = r.bytes(elen - 4)?;
                // Elements are padded to 8 bytes; tolerate a last one without its padding.
                let pad = (elen.next_multiple_of(8) - elen).min(r.remaining());
                r.skip(pad)?;
                if etype == 1 && versions.is_none() && e.len() >= 4 {
                    versions = Some(u32::from_be_bytes([e[0], e[1], e[2], e[3]]));
                }
            }
            if versions.is_none() && version < OFP_VERSION {
                versions = Some((1u32 << (version + 1)) - 2);
            }
            Body::Hello { versions }
        }
        t::ERROR => {
            let kind = ErrorType(r.u16()?);
            let code = r.u16()?;
            Body::Error(ErrorMsg {
                kind,
                code,
                data: r.rest().to_vec(),
            })
        }
        t::ECHO_REQUEST => Body::EchoRequest(r.rest().to_vec()),
        t::ECHO_REPLY => Body::EchoReply(r.rest().to_vec()),
        t::EXPERIMENTER => {
            let experimenter = r.u32()?;
            let exp_type = r.u32()?;
            Body::Experimenter {
                experimenter,
                exp_type,
                data: r.rest().to_vec(),
            }
        }
        t::FEATURES_REQUEST => end(r).map(|_| Body::FeaturesRequest)?,
        t::FEATURES_REPLY => {
            let datapath_id = r.u64()?;
            let n_buffers = r.u32()?;
            let n_tables = r.u8()?;
            let auxiliary_id = r.u8()?;
            r.skip(2)?;
            let capabilities = r.u32()?;
            r.skip(4)?;
            end(r)?;
            Body::FeaturesReply(SwitchFeatures {
                datapath_id,
                n_buffers,
                n_tables,
                auxiliary_id,
                capabilities,
            })
        }
        t::GET_CONFIG_REQUEST => end(r).map(|_| Body::GetConfigRequest)?,
        t::GET_CONFIG_REPLY | t::SET_CONFIG => {
            let c = SwitchConfig {
                flags: r.u16()?,
                miss_send_len: r.u16()?,
            };
            end(r)?;
            if kind == t::SET_CONFIG {
                Body::SetConfig(c)
            } else {
                Body::GetConfigReply(c)
            }
        }
        t::PACKET_IN => {
            let buffer_id = r.u32()?;
            let total_len = r.u16()?;
            let reason = r.u8()?;
            let table_id = r.u8()?;
            let cookie = r.u64()?;
            let r#match = parse_match(r, true)?;
            r.skip(2)?;
            let data = r.rest().to_vec();
            Body::PacketIn(PacketIn {
                buffer_id,
                total_len,
                reason,
                table_id,
                cookie,
                r#match,
                data,
            })
        }
        t::FLOW_REMOVED => {
            let cookie = r.u64()?;
            let priority = r.u16()?;
            let reason = r.u8()?;
            let table_id = r.u8()?;
            let duration_sec = r.u32()?;
            let duration_nsec = r.u32()?;
            let idle_timeout = r.u16()?;
            let hard_timeout = r.u16()?;
            let packet_count = r.u64()?;
            let byte_count = r.u64()?;
            let r#match = parse_match(r, true)?;
            end(r)?;
            Body::FlowRemoved(FlowRemoved {
                cookie,
                priority,
                reason,
                table_id,
                duration_sec,
                duration_nsec,
                idle_timeout,
                hard_timeout,
                packet_count,
                byte_count,
                r#match,
            })
        }
        t::PORT_STATUS => {
            let reason = r.u8()?;
            r.skip(7)?;
            let desc = parse_port(r)?;
            end(r)?;
            Body::PortStatus(PortStatus { reason, desc })
        }
        t::PACKET_OUT => {
            let buffer_id = r.u32()?;
            let in_port = r.u32()?;
            let actions_len = r.u16()? as usize;
            r.skip(6)?;
            let actions = parse_actions(r.bytes(actions_len)?)?;
            let data = r.rest().to_vec();
            Body::PacketOut(PacketOut {
                buffer_id,
                in_port,
                actions,
                data,
            })
        }
        t::FLOW_MOD => {
            let cookie = r.u64()?;
            let cookie_mask = r.u64()?;
            let table_id = r.u8()?;
            let command = match r.u8()? {
                0 => FlowModCommand::Add,
                1 => FlowModCommand::Modify,
                2 => FlowModCommand::ModifyStrict,
                3 => FlowModCommand::Delete,
                4 => FlowModCommand::DeleteStrict,
                _ => {
                    return Err(DecodeError::new(
                        ErrorType::FLOW_MOD_FAILED,
                        flow_mod_failed::BAD_COMMAND,
                        "flow-mod command",
                    ));
                }
            };
            let idle_timeout = r.u16()?;
            let hard_timeout = r.u16()?;
            let priority = r.u16()?;
            let buffer_id = r.u32()?;
            let out_port = r.u32()?;
            let out_group = r.u32()?;
            let flags = r.u16()?;
            r.skip(2)?;
            let r#match = parse_match(r, false)?;
            let instructions = parse_instructions(r.rest())?;
            Body::FlowMod(FlowMod {
                cookie,
                cookie_mask,
                table_id,
                command,
                idle_timeout,
                hard_timeout,
                priority,
                buffer_id,
                out_port,
                out_group,
                flags,
                r#match,
                instructions,
            })
        }
        t::GROUP_MOD => {
            let command = match r.u16()? {
                0 => GroupModCommand::Add,
                1 => GroupModCommand::Modify,
                2 => GroupModCommand::Delete,
                _ => {
                    return Err(DecodeError::new(
                        ErrorType::GROUP_MOD_FAILED,
                        group_mod_failed::BAD_COMMAND,
                        "group-mod command",
                    ));
                }
            };
            let group_type = group_type(r.u8()?)?;
            r.skip(1)?;
            let group_id = r.u32()?;
            let buckets = parse_buckets(r.rest())?;
            Body::GroupMod(GroupMod {
                command,
                group_type,
                group_id,
                buckets,
            })
        }
        t::PORT_MOD => {
            let port_no = r.u32()?;
            r.skip(4)?;
            let hw_addr = r.arr()?;
            r.skip(2)?;
            let config = r.u32()?;
            let mask = r.u32()?;
            let advertise = r.u32()?;
            r.skip(4)?;
            end(r)?;
            Body::PortMod(PortMod {
                port_no,
                hw_addr,
                config,
                mask,
                advertise,
            })
        }
        t::TABLE_MOD => {
            let table_id = r.u8()?;
            r.skip(3)?;
            let config = r.u32()?;
            end(r)?;
            Body::TableMod { table_id, config }
        }
        t::MULTIPART_REQUEST => Body::MultipartRequest(multipart::parse_request(r)?),
        t::MULTIPART_REPLY => Body::MultipartReply(multipart::parse_reply(r)?),
        t::BARRIER_REQUEST => end(r).map(|_| Body::BarrierRequest)?,
        t::BARRIER_REPLY => end(r).map(|_| Body::BarrierReply)?,
        t::QUEUE_GET_CONFIG_REQUEST => {
            let port = r.u32()?;
            r.skip(4)?;
            end(r)?;
            Body::QueueGetConfigRequest { port }
        }
        t::QUEUE_GET_CONFIG_REPLY => {
            let port = r.u32()?;
            r.skip(4)?;
            Body::QueueGetConfigReply {
                port,
                queues: r.rest().to_vec(),
            }
        }
        t::ROLE_REQUEST | t::ROLE_REPLY => {
            let role = r.u32()?;
            r.skip(4)?;
            let generation_id = r.u64()?;
            end(r)?;
            let role = Role {
                role,
                generation_id,
            };
            if kind == t::ROLE_REQUEST {
                Body::RoleRequest(role)
            } else {
                Body::RoleReply(role)
            }
        }
        t::GET_ASYNC_REQUEST => end(r).map(|_| Body::GetAsyncRequest)?,
        t::GET_ASYNC_REPLY | t::SET_ASYNC => {
            let a = AsyncConfig {
                packet_in_mask: [r.u32()?, r.u32()?],
                port_status_mask: [r.u32()?, r.u32()?],
                flow_removed_mask: [r.u32()?, r.u32()?],
            };
            end(r)?;
            if kind == t::SET_ASYNC {
                Body::SetAsync(a)
            } else {
                Body::GetAsyncReply(a)
            }
        }
        t::METER_MOD => {
            let command = match r.u16()? {
                0 => MeterModCommand::Add,
                1 => MeterModCommand::Modify,
                2 => MeterModCommand::Delete,
                _ => {
                    return Err(DecodeError::new(
                        ErrorType::METER_MOD_FAILED,
                        meter_mod_failed::BAD_COMMAND,
                        "meter-mod command",
                    ));
                }
            };
            let flags = r.u16()?;
            let meter_id = r.u32()?;
            let bands = parse_bands(r.rest())?;
            Body::MeterMod(MeterMod {
                command,
                flags,
                meter_id,
                bands,
            })
        }
        _ => {
            return Err(DecodeError::new(
                ErrorType::BAD_REQUEST,
                bad_request::BAD_TYPE,
                "message type",
            ));
        }
    };
    Ok(body)
}

/// Appends one message to `out` (version 1.3, its length in the header). A list multipart
/// reply (flows, ports, groups, meters, tables) longer than the 16-bit length allows is
/// appended as several messages with the same xid, all but the last flagged
/// `multipart_flags::MORE` (the receiver concatenates the parts). Other messages must fit
/// in 65535 bytes (a PACKET_IN's data is cut to `max_len`/`miss_send_len` by the switch).
pub fn emit(msg: &Message, out: &mut Vec<u8>) {
    if let Body::MultipartReply(r) = &msg.body
        && let Some(n) = multipart::items(&r.body)
    {
        return emit_reply_parts(msg.xid, r, n, out);
    }
    let start = out.len();
    put_u8(out, OFP_VERSION);
    put_u8(out, msg.body.msg_type());
    put_u16(out, 0);
    put_u32(out, msg.xid);
    emit_body(&msg.body, out);
    patch_len(out, start + 2, start);
}

fn emit_reply_parts(xid: u32, r: &MultipartReply, n: usize, out: &mut Vec<u8>) {
    let mut i = 0;
    loop {
        let start = out.len();
        put_u8(out, OFP_VERSION);
        put_u8(out, msg_type::MULTIPART_REPLY);
        put_u16(out, 0);
        put_u32(out, xid);
        let flags_at = out.len() + 2;
        multipart::emit_reply(
            &MultipartReply {
                flags: r.flags,
                body: empty_like(&r.body),
            },
            out,
        );
        let first = i;
        while i < n {
            let mark = out.len();
            multipart::emit_item(&r.body, i, out);
            if out.len() - start > OFP_MAX_LEN && i > first {
                out.truncate(mark);
                break;
            }
            i += 1;
        }
        if i < n {
            let flags =
                u16::from_be_bytes([out[flags_at], out[flags_at + 1]]) | multipart_flags::MORE;
            out[flags_at..flags_at + 2].copy_from_slice(&flags.to_be_bytes());
        }
        patch_len(out, start + 2, start);
        if i >= n {
            return;
        }
    }
}

/// The same list reply kind with no entries (its multipart header is what we need).
fn empty_like(body: &MpReply) -> MpReply {
    match body {
        MpReply::Flow(_) => MpReply::Flow(Vec::new()),
        MpReply::Table(_) => MpReply::Table(Vec::new()),
        MpReply::PortStats(_) => MpReply::PortStats(Vec::new()),
        MpReply::PortDesc(_) => MpReply::PortDesc(Vec::new()),
        MpReply::Group(_) => MpReply::Group(Vec::new()),
        MpReply::GroupDesc(_) => MpReply::GroupDesc(Vec::new()),
        MpReply::Meter(_) => MpReply::Meter(Vec::new()),
        _ => MpReply::MeterConfig(Vec::new()),
    }
}

/// The message as a new Vec (convenience for tests and cold paths).
pub fn to_bytes(msg: &Message) -> Vec<u8> {
    let mut v = Vec::new();
    emit(msg, &mut v);
    v
}

fn emit_body(body: &Body, out: &mut Vec<u8>) {
    match body {
        Body::Hello { versions } => {
            if let Some(bitmap) = versions {
                put_u16(out, 1);
                put_u16(out, 8);
                put_u32(out, *bitmap);
            }
        }
        Body::Error(e) => {
            put_u16(out, e.kind.0);
            put_u16(out, e.code);
            out.extend_from_slice(&e.data);
        }
        Body::EchoRequest(d) | Body::EchoReply(d) => out.extend_from_slice(d),
        Body::Experimenter {
            experimenter,
            exp_type,
            data,
        } => {
            put_u32(out, *experimenter);
            put_u32(out, *exp_type);
            out.extend_from_slice(data);
        }
        Body::FeaturesRequest
        | Body::GetConfigRequest
        | Body::BarrierRequest
        | Body::BarrierReply
        | Body::GetAsyncRequest => {}
        Body::FeaturesReply(f) => {
            put_u64(out, f.datapath_id);
            put_u32(out, f.n_buffers);
            put_u8(out, f.n_tables);
            put_u8(out, f.auxiliary_id);
            put_zeros(out, 2);
            put_u32(out, f.capabilities);
            put_u32(out, 0);
        }
        Body::GetConfigReply(c) | Body::SetConfig(c) => {
            put_u16(out, c.flags);
            put_u16(out, c.miss_send_len);
        }
        Body::PacketIn(p) => {
            put_u32(out, p.buffer_id);
            put_u16(out, p.total_len);
            put_u8(out, p.reason);
            put_u8(out, p.table_id);
            put_u64(out, p.cookie);
            emit_match(&p.r#match, out);
            put_zeros(out, 2);
            out.extend_from_slice(&p.data);
        }
        Body::FlowRemoved(f) => {
            put_u64(out, f.cookie);
            put_u16(out, f.priority);
            put_u8(out, f.reason);
            put_u8(out, f.table_id);
            put_u32(out, f.duration_sec);
            put_u32(out, f.duration_nsec);
            put_u16(out, f.idle_timeout);
            put_u16(out, f.hard_timeout);
            put_u64(out, f.packet_count);
            put_u64(out, f.byte_count);
            emit_match(&f.r#match, out);
        }
        Body::PortStatus(s) => {
            put_u8(out, s.reason);
            put_zeros(out, 7);
            emit_port(&s.desc, out);
        }
        Body::PacketOut(p) => {
            put_u32(out, p.buffer_id);
            put_u32(out, p.in_port);
            let at = out.len();
            put_u16(out, 0);
            put_zeros(out, 6);
            let start = out.len();
            emit_actions(&p.actions, out);
            patch_len(out, at, start);
            out.extend_from_slice(&p.data);
        }
        Body::FlowMod(f) => {
            put_u64(out, f.cookie);
            put_u64(out, f.cookie_mask);
            put_u8(out, f.table_id);
            put_u8(out, f.command as u8);
            put_u16(out, f.idle_timeout);
            put_u16(out, f.hard_timeout);
            put_u16(out, f.priority);
            put_u32(out, f.buffer_id);
            put_u32(out, f.out_port);
            put_u32(out, f.out_group);
            put_u16(out, f.flags);
            put_zeros(out, 2);
            emit_match(&f.r#match, out);
            emit_instructions(&f.instructions, out);
        }
        Body::GroupMod(g) => {
            put_u16(out, g.command as u16);
            put_u8(out, g.group_type as u8);
            put_u8(out, 0);
            put_u32(out, g.group_id);
            emit_buckets(&g.buckets, out);
        }
        Body::PortMod(p) => {
            put_u32(out, p.port_no);
            put_zeros(out, 4);
            out.extend_from_slice(&p.hw_addr);
            put_zeros(out, 2);
            put_u32(out, p.config);
            put_u32(out, p.mask);
            put_u32(out, p.advertise);
            put_zeros(out, 4);
        }
        Body::TableMod { table_id, config } => {
            put_u8(out, *table_id);
            put_zeros(out, 3);
            put_u32(out, *config);
        }
        Body::MultipartRequest(m) => multipart::emit_request(m, out),
        Body::MultipartReply(m) => multipart::emit_reply(m, out),
        Body::QueueGetConfigRequest { port } => {
            put_u32(out, *port);
            put_zeros(out, 4);
        }
        Body::QueueGetConfigReply { port, queues } => {
            put_u32(out, *port);
            put_zeros(out, 4);
            out.extend_from_slice(queues);
        }
        Body::RoleRequest(r) | Body::RoleReply(r) => {
            put_u32(out, r.role);
            put_zeros(out, 4);
            put_u64(out, r.generation_id);
        }
        Body::GetAsyncReply(a) | Body::SetAsync(a) => {
            for v in a
                .packet_in_mask
                .iter()
                .chain(&a.port_status_mask)
                .chain(&a.flow_removed_mask)
            {
                put_u32(out, *v);
            }
        }
        Body::MeterMod(m) => {
            put_u16(out, m.command as u16);
            put_u16(out, m.flags);
            put_u32(out, m.meter_id);
            emit_bands(&m.bands, out);
        }
    }
}
