//! Actions, instructions, group buckets and meter bands: parse and emit.

use super::model::*;
use super::oxm::{OxmError, emit_oxm, oxm_len, parse_oxm};
use super::wire::{Rd, pad8, patch_len, put_u8, put_u16, put_u32, put_u64, put_zeros};

fn bad_action(code: u16, what: &'static str) -> DecodeError {
    DecodeError::new(ErrorType::BAD_ACTION, code, what)
}

fn bad_inst(code: u16, what: &'static str) -> DecodeError {
    DecodeError::new(ErrorType::BAD_INSTRUCTION, code, what)
}

/// Parses an action list filling all of `buf`.
pub(crate) fn parse_actions(buf: &[u8]) -> Result<Vec<Action>, DecodeError> {
    let mut out = Vec::with_capacity(buf.len() / 8);
    let mut rd = Rd::new(
        buf,
        ErrorType::BAD_ACTION,
        bad_action::BAD_LEN,
        "action length",
    );
    while !rd.is_empty() {
        out.push(parse_action(&mut rd)?);
    }
    Ok(out)
}

fn parse_action(rd: &mut Rd<'_>) -> Result<Action, DecodeError> {
    let kind = rd.u16()?;
    let len = rd.u16()? as usize;
    if len < 8 || !len.is_multiple_of(8) || len - 4 > rd.remaining() {
        return Err(bad_action(bad_action::BAD_LEN, "action length"));
    }
    let body = rd.bytes(len - 4)?;
    let mut b = Rd::new(
        body,
        ErrorType::BAD_ACTION,
        bad_action::BAD_LEN,
        "action length",
    );
    use action_type as t;
    let fixed = |want: usize| {
        if len == want {
            Ok(())
        } else {
            Err(bad_action(bad_action::BAD_LEN, "action length"))
        }
    };
    let a = match kind {
        t::OUTPUT => {
            fixed(16)?;
            let port = b.u32()?;
            let max_len = b.u16()?;
            Action::Output { port, max_len }
        }
        t::COPY_TTL_OUT => fixed(8).map(|_| Action::CopyTtlOut)?,
        t::COPY_TTL_IN => fixed(8).map(|_| Action::CopyTtlIn)?,
        t::SET_MPLS_TTL => fixed(8).and_then(|_| b.u8().map(Action::SetMplsTtl))?,
        t::DEC_MPLS_TTL => fixed(8).map(|_| Action::DecMplsTtl)?,
        t::PUSH_VLAN => fixed(8).and_then(|_| b.u16().map(Action::PushVlan))?,
        t::POP_VLAN => fixed(8).map(|_| Action::PopVlan)?,
        t::PUSH_MPLS => fixed(8).and_then(|_| b.u16().map(Action::PushMpls))?,
        t::POP_MPLS => fixed(8).and_then(|_| b.u16().map(Action::PopMpls))?,
        t::SET_QUEUE => fixed(8).and_then(|_| b.u32().map(Action::SetQueue))?,
        t::GROUP => fixed(8).and_then(|_| b.u32().map(Action::Group))?,
        t::SET_NW_TTL => fixed(8).and_then(|_| b.u8().map(Action::SetNwTtl))?,
        t::DEC_NW_TTL => fixed(8).map(|_| Action::DecNwTtl)?,
        t::PUSH_PBB => fixed(8).and_then(|_| b.u16().map(Action::PushPbb))?,
        t::POP_PBB => fixed(8).map(|_| Action::PopPbb)?,
        t::SET_FIELD => {
            let f = match parse_oxm(&mut b, false) {
                Ok(Some(f)) => f,
                Ok(None) | Err(OxmError::Field) => {
                    return Err(bad_action(bad_action::BAD_SET_TYPE, "set-field type"));
                }
                Err(OxmError::Len) => {
                    return Err(bad_action(bad_action::BAD_SET_LEN, "set-field length"));
                }
                Err(OxmError::Mask) => {
                    return Err(bad_action(bad_action::BAD_SET_ARGUMENT, "set-field mask"));
                }
            };
            if f.is_masked() {
                return Err(bad_action(bad_action::BAD_SET_ARGUMENT, "set-field mask"));
            }
            // The TLV and its padding fill the action exactly (padding below 8 bytes).
            if (4 + oxm_len(&f)).next_multiple_of(8) != len {
                return Err(bad_action(bad_action::BAD_SET_LEN, "set-field length"));
            }
            Action::SetField(f)
        }
        t::EXPERIMENTER => {
            let experimenter = b.u32()?;
            Action::Experimenter {
                experimenter,
                data: b.rest().to_vec(),
            }
        }
        _ => return Err(bad_action(bad_action::BAD_TYPE, "action type")),
    };
    Ok(a)
}

/// Appends an action list.
pub(crate) fn emit_actions(actions: &[Action], out: &mut Vec<u8>) {
    for a in actions {
        emit_action(a, out);
    }
}

fn emit_action(a: &Action, out: &mut Vec<u8>) {
    use action_type as t;
    let start = out.len();
    let short = |out: &mut Vec<u8>, kind: u16| {
        put_u16(out, kind);
        put_u16(out, 8);
    };
    match a {
        Action::Output { port, max_len } => {
            put_u16(out, t::OUTPUT);
            put_u16(out, 16);
            put_u32(out, *port);
            put_u16(out, *max_len);
            put_zeros(out, 6);
        }
        Action::CopyTtlOut => (short(out, t::COPY_TTL_OUT), put_zeros(out, 4)).1,
        Action::CopyTtlIn => (short(out, t::COPY_TTL_IN), put_zeros(out, 4)).1,
        Action::SetMplsTtl(ttl) => {
            short(out, t::SET_MPLS_TTL);
            put_u8(out, *ttl);
            put_zeros(out, 3);
        }
        Action::DecMplsTtl => (short(out, t::DEC_MPLS_TTL), put_zeros(out, 4)).1,
        Action::PushVlan(e) | Action::PushMpls(e) | Action::PopMpls(e) | Action::PushPbb(e) => {
            let kind = match a {
                Action::PushVlan(_) => t::PUSH_VLAN,
                Action::PushMpls(_) => t::PUSH_MPLS,
                Action::PopMpls(_) => t::POP_MPLS,
                _ => t::PUSH_PBB,
            };
            short(out, kind);
            put_u16(out, *e);
            put_zeros(out, 2);
        }
        Action::PopVlan => (short(out, t::POP_VLAN), put_zeros(out, 4)).1,
        Action::SetQueue(q) => (short(out, t::SET_QUEUE), put_u32(out, *q)).1,
        Action::Group(g) => (short(out, t::GROUP), put_u32(out, *g)).1,
        Action::SetNwTtl(ttl) => {
            short(out, t::SET_NW_TTL);
            put_u8(out, *ttl);
            put_zeros(out, 3);
        }
        Action::DecNwTtl => (short(out, t::DEC_NW_TTL), put_zeros(out, 4)).1,
        Action::PopPbb => (short(out, t::POP_PBB), put_zeros(out, 4)).1,
        Action::SetField(f) => {
            put_u16(out, t::SET_FIELD);
            put_u16(out, 0);
            emit_oxm(f, out);
            pad8(out, start);
            patch_len(out, start + 2, start);
        }
        Action::Experimenter { experimenter, data } => {
            put_u16(out, t::EXPERIMENTER);
            put_u16(out, 0);
            put_u32(out, *experimenter);
            out.extend_from_slice(data);
            pad8(out, start);
            patch_len(out, start + 2, start);
        }
    }
}

/// Parses an instruction list filling all of `buf`.
pub(crate) fn parse_instructions(buf: &[u8]) -> Result<Vec<Instruction>, DecodeError> {
    let mut out = Vec::with_capacity(2);
    let mut rd = Rd::new(
        buf,
        ErrorType::BAD_INSTRUCTION,
        bad_instruction::BAD_LEN,
        "instruction length",
    );
    while !rd.is_empty() {
        let kind = rd.u16()?;
        let len = rd.u16()? as usize;
        if len < 8 || !len.is_multiple_of(8) || len - 4 > rd.remaining() {
            return Err(bad_inst(bad_instruction::BAD_LEN, "instruction length"));
        }
        let body = rd.bytes(len - 4)?;
        let mut b = Rd::new(
            body,
            ErrorType::BAD_INSTRUCTION,
            bad_instruction::BAD_LEN,
            "instruction length",
        );
        let fixed = |want: usize| {
            if len == want {
                Ok(())
            } else {
                Err(bad_inst(bad_instruction::BAD_LEN, "instruction length"))
            }
        };
        use instruction_type as t;
        let i = match kind {
            t::GOTO_TABLE => {
                fixed(8)?;
                Instruction::GotoTable(b.u8()?)
            }
            t::WRITE_METADATA => {
                fixed(24)?;
                b.skip(4)?;
                let metadata = b.u64()?;
                let mask = b.u64()?;
                Instruction::WriteMetadata { metadata, mask }
            }
            t::WRITE_ACTIONS | t::APPLY_ACTIONS => {
                b.skip(4)?;
                let actions = parse_actions(b.rest())?;
                if kind == t::WRITE_ACTIONS {
                    Instruction::WriteActions(actions)
                } else {
                    Instruction::ApplyActions(actions)
                }
            }
            t::CLEAR_ACTIONS => fixed(8).map(|_| Instruction::ClearActions)?,
            t::METER => {
                fixed(8)?;
                Instruction::Meter(b.u32()?)
            }
            t::EXPERIMENTER => {
                let experimenter = b.u32()?;
                Instruction::Experimenter {
                    experimenter,
                    data: b.rest().to_vec(),
                }
            }
            _ => return Err(bad_inst(bad_instruction::UNKNOWN_INST, "instruction type")),
        };
        out.push(i);
    }
    Ok(out)
}

/// Appends an instruction list.
pub(crate) fn emit_instructions(insts: &[Instruction], out: &mut Vec<u8>) {
    use instruction_type as t;
    for i in insts {
        let start = out.len();
        match i {
            Instruction::GotoTable(table) => {
                put_u16(out, t::GOTO_TABLE);
                put_u16(out, 8);
                put_u8(out, *table);
                put_zeros(out, 3);
            }
            Instruction::WriteMetadata { metadata, mask } => {
                put_u16(out, t::WRITE_METADATA);
                put_u16(out, 24);
                put_zeros(out, 4);
                put_u64(out, *metadata);
                put_u64(out, *mask);
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                let kind = if matches!(i, Instruction::WriteActions(_)) {
                    t::WRITE_ACTIONS
                } else {
                    t::APPLY_ACTIONS
                };
                put_u16(out, kind);
                put_u16(out, 0);
                put_zeros(out, 4);
                emit_actions(a, out);
                patch_len(out, start + 2, start);
            }
            Instruction::ClearActions => {
                put_u16(out, t::CLEAR_ACTIONS);
                put_u16(out, 8);
                put_zeros(out, 4);
            }
            Instruction::Meter(id) => {
                put_u16(out, t::METER);
                put_u16(out, 8);
                put_u32(out, *id);
            }
            Instruction::Experimenter { experimenter, data } => {
                put_u16(out, t::EXPERIMENTER);
                put_u16(out, 0);
                put_u32(out, *experimenter);
                out.extend_from_slice(data);
                pad8(out, start);
                patch_len(out, start + 2, start);
            }
        }
    }
}

fn bad_group(code: u16, what: &'static str) -> DecodeError {
    DecodeError::new(ErrorType::GROUP_MOD_FAILED, code, what)
}

pub(crate) fn group_type(v: u8) -> Result<GroupType, DecodeError> {
    Ok(match v {
        0 => GroupType::All,
        1 => GroupType::Select,
        2 => GroupType::Indirect,
        3 => GroupType::FastFailover,
        _ => return Err(bad_group(group_mod_failed::BAD_TYPE, "group type")),
    })
}

/// Parses a bucket list filling all of `buf` (`ofp_bucket`: len, weight, watch_port,
/// watch_group, pad 4, actions).
pub(crate) fn parse_buckets(buf: &[u8]) -> Result<Vec<Bucket>, DecodeError> {
    let mut out = Vec::with_capacity(buf.len() / 32);
    let mut rd = Rd::new(
        buf,
        ErrorType::GROUP_MOD_FAILED,
        group_mod_failed::BAD_BUCKET,
        "bucket length",
    );
    while !rd.is_empty() {
        let len = rd.u16()? as usize;
        if len < 16 || !len.is_multiple_of(8) || len - 2 > rd.remaining() {
            return Err(bad_group(group_mod_failed::BAD_BUCKET, "bucket length"));
        }
        let mut b = Rd::new(
            rd.bytes(len - 2)?,
            ErrorType::GROUP_MOD_FAILED,
            group_mod_failed::BAD_BUCKET,
            "bucket length",
        );
        let weight = b.u16()?;
        let watch_port = b.u32()?;
        let watch_group = b.u32()?;
        b.skip(4)?;
        let actions = parse_actions(b.rest())?;
        out.push(Bucket {
            weight,
            watch_port,
            watch_group,
            actions,
        });
    }
    Ok(out)
}

pub(crate) fn emit_buckets(buckets: &[Bucket], out: &mut Vec<u8>) {
    for b in buckets {
        let start = out.len();
        put_u16(out, 0);
        put_u16(out, b.weight);
        put_u32(out, b.watch_port);
        put_u32(out, b.watch_group);
        put_zeros(out, 4);
        emit_actions(&b.actions, out);
        patch_len(out, start, start);
    }
}

fn bad_meter(code: u16, what: &'static str) -> DecodeError {
    DecodeError::new(ErrorType::METER_MOD_FAILED, code, what)
}

/// Parses a meter band list filling all of `buf`.
pub(crate) fn parse_bands(buf: &[u8]) -> Result<Vec<MeterBand>, DecodeError> {
    let mut out = Vec::with_capacity(buf.len() / 16);
    let mut rd = Rd::new(
        buf,
        ErrorType::METER_MOD_FAILED,
        meter_mod_failed::BAD_BAND,
        "band length",
    );
    while !rd.is_empty() {
        let kind = rd.u16()?;
        let len = rd.u16()? as usize;
        if len < 16 || !len.is_multiple_of(8) || len - 4 > rd.remaining() {
            return Err(bad_meter(meter_mod_failed::BAD_BAND, "band length"));
        }
        let mut b = Rd::new(
            rd.bytes(len - 4)?,
            ErrorType::METER_MOD_FAILED,
            meter_mod_failed::BAD_BAND,
            "band length",
        );
        let rate = b.u32()?;
        let burst = b.u32()?;
        let band = match kind {
            meter_band_type::DROP if len == 16 => MeterBand::Drop { rate, burst },
            meter_band_type::DSCP_REMARK if len == 16 => MeterBand::DscpRemark {
                rate,
                burst,
                prec_level: b.u8()?,
            },
            meter_band_type::EXPERIMENTER => {
                let experimenter = b.u32()?;
                MeterBand::Experimenter {
                    rate,
                    burst,
                    experimenter,
                    data: b.rest().to_vec(),
                }
            }
            _ => return Err(bad_meter(meter_mod_failed::BAD_BAND, "band type")),
        };
        out.push(band);
    }
    Ok(out)
}

pub(crate) fn emit_bands(bands: &[MeterBand], out: &mut Vec<u8>) {
    for band in bands {
        let start = out.len();
        match band {
            MeterBand::Drop { rate, burst } => {
                put_u16(out, meter_band_type::DROP);
                put_u16(out, 16);
                put_u32(out, *rate);
                put_u32(out, *burst);
                put_zeros(out, 4);
            }
            MeterBand::DscpRemark {
                rate,
                burst,
                prec_level,
            } => {
                put_u16(out, meter_band_type::DSCP_REMARK);
                put_u16(out, 16);
                put_u32(out, *rate);
                put_u32(out, *burst);
                put_u8(out, *prec_level);
                put_zeros(out, 3);
            }
            MeterBand::Experimenter {
                rate,
                burst,
                experimenter,
                data,
            } => {
                put_u16(out, meter_band_type::EXPERIMENTER);
                put_u16(out, 0);
                put_u32(out, *rate);
                put_u32(out, *burst);
                put_u32(out, *experimenter);
                out.extend_from_slice(data);
                pad8(out, start);
                patch_len(out, start + 2, start);
            }
        }
    }
}
