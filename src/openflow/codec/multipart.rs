//! MULTIPART_REQUEST / MULTIPART_REPLY bodies.

use super::action::{
    emit_bands, emit_buckets, emit_instructions, group_type, parse_bands, parse_buckets,
    parse_instructions,
};
use super::model::*;
use super::oxm::{emit_match, parse_match};
use super::port::{emit_port, parse_port};
use super::wire::{Rd, get_str, patch_len, put_str, put_u8, put_u16, put_u32, put_u64, put_zeros};

fn bad_len() -> DecodeError {
    DecodeError::new(
        ErrorType::BAD_REQUEST,
        bad_request::BAD_LEN,
        "multipart length",
    )
}

fn rd(buf: &[u8]) -> Rd<'_> {
    Rd::new(
        buf,
        ErrorType::BAD_REQUEST,
        bad_request::BAD_LEN,
        "multipart length",
    )
}

/// `ofp_multipart_request` after the header.
pub(crate) fn parse_request(r: &mut Rd<'_>) -> Result<MultipartRequest, DecodeError> {
    let kind = r.u16()?;
    let flags = r.u16()?;
    r.skip(4)?;
    let body = r.rest();
    let mut b = rd(body);
    use multipart_type as t;
    let exact = |b: &Rd<'_>| if b.is_empty() { Ok(()) } else { Err(bad_len()) };
    let req = match kind {
        t::DESC => exact(&b).map(|_| MpRequest::Desc)?,
        t::FLOW | t::AGGREGATE => {
            let table_id = b.u8()?;
            b.skip(3)?;
            let out_port = b.u32()?;
            let out_group = b.u32()?;
            b.skip(4)?;
            let cookie = b.u64()?;
            let cookie_mask = b.u64()?;
            let r#match = parse_match(&mut b, false)?;
            exact(&b)?;
            let f = FlowStatsRequest {
                table_id,
                out_port,
                out_group,
                cookie,
                cookie_mask,
                r#match,
            };
            if kind == t::FLOW {
                MpRequest::Flow(f)
            } else {
                MpRequest::Aggregate(f)
            }
        }
        t::TABLE => exact(&b).map(|_| MpRequest::Table)?,
        t::PORT_STATS | t::GROUP | t::METER | t::METER_CONFIG => {
            let id = b.u32()?;
            b.skip(4)?;
            exact(&b)?;
            match kind {
                t::PORT_STATS => MpRequest::PortStats { port_no: id },
                t::GROUP => MpRequest::Group { group_id: id },
                t::METER => MpRequest::Meter { meter_id: id },
                _ => MpRequest::MeterConfig { meter_id: id },
            }
        }
        t::PORT_DESC => exact(&b).map(|_| MpRequest::PortDesc)?,
        t::GROUP_DESC => exact(&b).map(|_| MpRequest::GroupDesc)?,
        t::GROUP_FEATURES => exact(&b).map(|_| MpRequest::GroupFeatures)?,
        t::METER_FEATURES => exact(&b).map(|_| MpRequest::MeterFeatures)?,
        t::TABLE_FEATURES => MpRequest::TableFeatures(body.to_vec()),
        t::QUEUE | t::EXPERIMENTER => MpRequest::Other {
            kind,
            body: body.to_vec(),
        },
        _ => {
            return Err(DecodeError::new(
                ErrorType::BAD_REQUEST,
                bad_request::BAD_MULTIPART,
                "multipart type",
            ));
        }
    };
    Ok(MultipartRequest { flags, body: req })
}

pub(crate) fn emit_request(m: &MultipartRequest, out: &mut Vec<u8>) {
    use multipart_type as t;
    let kind = match &m.body {
        MpRequest::Desc => t::DESC,
        MpRequest::Flow(_) => t::FLOW,
        MpRequest::Aggregate(_) => t::AGGREGATE,
        MpRequest::Table => t::TABLE,
        MpRequest::PortStats { .. } => t::PORT_STATS,
        MpRequest::PortDesc => t::PORT_DESC,
        MpRequest::Group { .. } => t::GROUP,
        MpRequest::GroupDesc => t::GROUP_DESC,
        MpRequest::GroupFeatures => t::GROUP_FEATURES,
        MpRequest::Meter { .. } => t::METER,
        MpRequest::MeterConfig { .. } => t::METER_CONFIG,
        MpRequest::MeterFeatures => t::METER_FEATURES,
        MpRequest::TableFeatures(_) => t::TABLE_FEATURES,
        MpRequest::Other { kind, .. } => *kind,
    };
    put_u16(out, kind);
    put_u16(out, m.flags);
    put_zeros(out, 4);
    match &m.body {
        MpRequest::Flow(f) | MpRequest::Aggregate(f) => {
            put_u8(out, f.table_id);
            put_zeros(out, 3);
            put_u32(out, f.out_port);
            put_u32(out, f.out_group);
            put_zeros(out, 4);
            put_u64(out, f.cookie);
            put_u64(out, f.cookie_mask);
            emit_match(&f.r#match, out);
        }
        MpRequest::PortStats { port_no: id }
        | MpRequest::Group { group_id: id }
        | MpRequest::Meter { meter_id: id }
        | MpRequest::MeterConfig { meter_id: id } => {
            put_u32(out, *id);
            put_zeros(out, 4);
        }
        MpRequest::TableFeatures(body) | MpRequest::Other { body, .. } => {
            out.extend_from_slice(body)
        }
        _ => {}
    }
}

/// Reads a list of length-prefixed entries (the u16 length at `len_at` bytes into each,
/// counting the whole entry) and hands each entry's bytes to `f`.
fn entries<T>(
    body: &[u8],
    len_at: usize,
    min: usize,
    mut f: impl FnMut(&mut Rd<'_>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut out = Vec::new();
    let mut r = rd(body);
    while !r.is_empty() {
        let mut peek = rd(body);
        peek.skip(body.len() - r.remaining() + len_at)?;
        let len = peek.u16()? as usize;
        if len < min || len > r.remaining() {
            return Err(bad_len());
        }
        let mut e = rd(r.bytes(len)?);
        out.push(f(&mut e)?);
    }
    Ok(out)
}

fn fixed_list<T>(
    body: &[u8],
    size: usize,
    mut f: impl FnMut(&mut Rd<'_>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    if !body.len().is_multiple_of(size) {
        return Err(bad_len());
    }
    let mut r = rd(body);
    let mut out = Vec::with_capacity(body.len() / size);
    while !r.is_empty() {
        let mut e = rd(r.bytes(size)?);
        out.push(f(&mut e)?);
    }
    Ok(out)
}

/// `ofp_multipart_reply` after the header.
pub(crate) fn parse_reply(r: &mut Rd<'_>) -> Result<MultipartReply, DecodeError> {
    let kind = r.u16()?;
    let flags = r.u16()?;
    r.skip(4)?;
    let body = r.rest();
    let mut b = rd(body);
    let exact = |b: &Rd<'_>| if b.is_empty() { Ok(()) } else { Err(bad_len()) };
    use multipart_type as t;
    let rep = match kind {
        t::DESC => {
            let d = DescStats {
                mfr_desc: get_str(&mut b, 256)?,
                hw_desc: get_str(&mut b, 256)?,
                sw_desc: get_str(&mut b, 256)?,
                serial_num: get_str(&mut b, 32)?,
                dp_desc: get_str(&mut b, 256)?,
            };
            exact(&b)?;
            MpReply::Desc(d)
        }
        t::FLOW => MpReply::Flow(entries(body, 0, 56, |e| {
            e.skip(2)?;
            let table_id = e.u8()?;
            e.skip(1)?;
            let duration_sec = e.u32()?;
            let duration_nsec = e.u32()?;
            let priority = e.u16()?;
            let idle_timeout = e.u16()?;
            let hard_timeout = e.u16()?;
            let flags = e.u16()?;
            e.skip(4)?;
            let cookie = e.u64()?;
            let packet_count = e.u64()?;
            let byte_count = e.u64()?;
            let r#match = parse_match(e, true)?;
            let instructions = parse_instructions(e.rest())?;
            Ok(FlowStats {
                table_id,
                duration_sec,
                duration_nsec,
                priority,
                idle_timeout,
                hard_timeout,
                flags,
                cookie,
                packet_count,
                byte_count,
                r#match,
                instructions,
            })
        })?),
        t::AGGREGATE => {
            let a = AggregateStats {
                packet_count: b.u64()?,
                byte_count: b.u64()?,
                flow_count: b.u32()?,
            };
            b.skip(4)?;
            exact(&b)?;
            MpReply::Aggregate(a)
        }
        t::TABLE => MpReply::Table(fixed_list(body, 24, |e| {
            let table_id = e.u8()?;
            e.skip(3)?;
            Ok(TableStats {
                table_id,
                active_count: e.u32()?,
                lookup_count: e.u64()?,
                matched_count: e.u64()?,
            })
        })?),
        t::PORT_STATS => MpReply::PortStats(fixed_list(body, 112, |e| {
            let port_no = e.u32()?;
            e.skip(4)?;
            Ok(PortStats {
                port_no,
                rx_packets: e.u64()?,
                tx_packets: e.u64()?,
                rx_bytes: e.u64()?,
                tx_bytes: e.u64()?,
                rx_dropped: e.u64()?,
                tx_dropped: e.u64()?,
                rx_errors: e.u64()?,
                tx_errors: e.u64()?,
                rx_frame_err: e.u64()?,
                rx_over_err: e.u64()?,
                rx_crc_err: e.u64()?,
                collisions: e.u64()?,
                duration_sec: e.u32()?,
                duration_nsec: e.u32()?,
            })
        })?),
        t::PORT_DESC => MpReply::PortDesc(fixed_list(body, 64, parse_port)?),
        t::GROUP => MpReply::Group(entries(body, 0, 40, |e| {
            e.skip(4)?;
            let group_id = e.u32()?;
            let ref_count = e.u32()?;
            e.skip(4)?;
            let packet_count = e.u64()?;
            let byte_count = e.u64()?;
            let duration_sec = e.u32()?;
            let duration_nsec = e.u32()?;
            let bucket_stats = fixed_list(e.rest(), 16, |c| {
                Ok(BucketCounter {
                    packet_count: c.u64()?,
                    byte_count: c.u64()?,
                })
            })?;
            Ok(GroupStats {
                group_id,
                ref_count,
                packet_count,
                byte_count,
                duration_sec,
                duration_nsec,
                bucket_stats,
            })
        })?),
        t::GROUP_DESC => MpReply::GroupDesc(entries(body, 0, 8, |e| {
            e.skip(2)?;
            let group_type = group_type(e.u8()?)?;
            e.skip(1)?;
            let group_id = e.u32()?;
            let buckets = parse_buckets(e.rest())?;
            Ok(GroupDesc {
                group_type,
                group_id,
                buckets,
            })
        })?),
        t::GROUP_FEATURES => {
            let mut g = GroupFeatures {
                types: b.u32()?,
                capabilities: b.u32()?,
                ..Default::default()
            };
            for v in &mut g.max_groups {
                *v = b.u32()?;
            }
            for v in &mut g.actions {
                *v = b.u32()?;
            }
            exact(&b)?;
            MpReply::GroupFeatures(g)
        }
        t::METER => MpReply::Meter(entries(body, 4, 40, |e| {
            let meter_id = e.u32()?;
            e.skip(8)?;
            let flow_count = e.u32()?;
            let packet_in_count = e.u64()?;
            let byte_in_count = e.u64()?;
            let duration_sec = e.u32()?;
            let duration_nsec = e.u32()?;
            let band_stats = fixed_list(e.rest(), 16, |c| {
                Ok(MeterBandStats {
                    packet_band_count: c.u64()?,
                    byte_band_count: c.u64()?,
                })
            })?;
            Ok(MeterStats {
                meter_id,
                flow_count,
                packet_in_count,
                byte_in_count,
                duration_sec,
                duration_nsec,
                band_stats,
            })
        })?),
        t::METER_CONFIG => MpReply::MeterConfig(entries(body, 0, 8, |e| {
            e.skip(2)?;
            let flags = e.u16()?;
            let meter_id = e.u32()?;
            let bands = parse_bands(e.rest())?;
            Ok(MeterConfig {
                flags,
                meter_id,
                bands,
            })
        })?),
        t::METER_FEATURES => {
            let m = MeterFeatures {
                max_meter: b.u32()?,
                band_types: b.u32()?,
                capabilities: b.u32()?,
                max_bands: b.u8()?,
                max_color: b.u8()?,
            };
            b.skip(2)?;
            exact(&b)?;
            MpReply::MeterFeatures(m)
        }
        t::TABLE_FEATURES => MpReply::TableFeatures(body.to_vec()),
        t::QUEUE | t::EXPERIMENTER => MpReply::Other {
            kind,
            body: body.to_vec(),
        },
        _ => {
            return Err(DecodeError::new(
                ErrorType::BAD_REQUEST,
                bad_request::BAD_MULTIPART,
                "multipart type",
            ));
        }
    };
    Ok(MultipartReply { flags, body: rep })
}

pub(crate) fn emit_reply(m: &MultipartReply, out: &mut Vec<u8>) {
    use multipart_type as t;
    let kind = match &m.body {
        MpReply::Desc(_) => t::DESC,
        MpReply::Flow(_) => t::FLOW,
        MpReply::Aggregate(_) => t::AGGREGATE,
        MpReply::Table(_) => t::TABLE,
        MpReply::PortStats(_) => t::PORT_STATS,
        MpReply::PortDesc(_) => t::PORT_DESC,
        MpReply::Group(_) => t::GROUP,
        MpReply::GroupDesc(_) => t::GROUP_DESC,
        MpReply::GroupFeatures(_) => t::GROUP_FEATURES,
        MpReply::Meter(_) => t::METER,
        MpReply::MeterConfig(_) => t::METER_CONFIG,
        MpReply::MeterFeatures(_) => t::METER_FEATURES,
        MpReply::TableFeatures(_) => t::TABLE_FEATURES,
        MpReply::Other { kind, .. } => *kind,
    };
    put_u16(out, kind);
    put_u16(out, m.flags);
    put_zeros(out, 4);
    match items(&m.body) {
        Some(n) => (0..n).for_each(|i| emit_item(&m.body, i, out)),
        None => emit_item(&m.body, 0, out),
    }
}

/// The number of entries of a list reply (flow, table, port stats, port desc, group,
/// group desc, meter, meter config), which may be split over several messages.
pub(crate) fn items(body: &MpReply) -> Option<usize> {
    Some(match body {
        MpReply::Flow(v) => v.len(),
        MpReply::Table(v) => v.len(),
        MpReply::PortStats(v) => v.len(),
        MpReply::PortDesc(v) => v.len(),
        MpReply::Group(v) => v.len(),
        MpReply::GroupDesc(v) => v.len(),
        MpReply::Meter(v) => v.len(),
        MpReply::MeterConfig(v) => v.len(),
        _ => return None,
    })
}

/// Appends entry `i` of a list reply, or the whole body of any other reply.
pub(crate) fn emit_item(body: &MpReply, i: usize, out: &mut Vec<u8>) {
    match body {
        MpReply::Desc(d) => {
            put_str(out, &d.mfr_desc, 256);
            put_str(out, &d.hw_desc, 256);
            put_str(out, &d.sw_desc, 256);
            put_str(out, &d.serial_num, 32);
            put_str(out, &d.dp_desc, 256);
        }
        MpReply::Flow(v) => {
            let f = &v[i];
            let start = out.len();
            put_u16(out, 0);
            put_u8(out, f.table_id);
            put_u8(out, 0);
            put_u32(out, f.duration_sec);
            put_u32(out, f.duration_nsec);
            put_u16(out, f.priority);
            put_u16(out, f.idle_timeout);
            put_u16(out, f.hard_timeout);
            put_u16(out, f.flags);
            put_zeros(out, 4);
            put_u64(out, f.cookie);
            put_u64(out, f.packet_count);
            put_u64(out, f.byte_count);
            emit_match(&f.r#match, out);
            emit_instructions(&f.instructions, out);
            patch_len(out, start, start);
        }
        MpReply::Aggregate(a) => {
            put_u64(out, a.packet_count);
            put_u64(out, a.byte_count);
            put_u32(out, a.flow_count);
            put_zeros(out, 4);
        }
        MpReply::Table(v) => {
            let s = &v[i];
            put_u8(out, s.table_id);
            put_zeros(out, 3);
            put_u32(out, s.active_count);
            put_u64(out, s.lookup_count);
            put_u64(out, s.matched_count);
        }
        MpReply::PortStats(v) => {
            let p = &v[i];
            put_u32(out, p.port_no);
            put_zeros(out, 4);
            for v in [
                p.rx_packets,
                p.tx_packets,
                p.rx_bytes,
                p.tx_bytes,
                p.rx_dropped,
                p.tx_dropped,
                p.rx_errors,
                p.tx_errors,
                p.rx_frame_err,
                p.rx_over_err,
                p.rx_crc_err,
                p.collisions,
            ] {
                put_u64(out, v);
            }
            put_u32(out, p.duration_sec);
            put_u32(out, p.duration_nsec);
        }
        MpReply::PortDesc(v) => {
            let p = &v[i];
            emit_port(p, out);
        }
        MpReply::Group(v) => {
            let g = &v[i];
            let start = out.len();
            put_u16(out, 0);
            put_zeros(out, 2);
            put_u32(out, g.group_id);
            put_u32(out, g.ref_count);
            put_zeros(out, 4);
            put_u64(out, g.packet_count);
            put_u64(out, g.byte_count);
            put_u32(out, g.duration_sec);
            put_u32(out, g.duration_nsec);
            for c in &g.bucket_stats {
                put_u64(out, c.packet_count);
                put_u64(out, c.byte_count);
            }
            patch_len(out, start, start);
        }
        MpReply::GroupDesc(v) => {
            let g = &v[i];
            let start = out.len();
            put_u16(out, 0);
            put_u8(out, g.group_type as u8);
            put_u8(out, 0);
            put_u32(out, g.group_id);
            emit_buckets(&g.buckets, out);
            patch_len(out, start, start);
        }
        MpReply::GroupFeatures(g) => {
            put_u32(out, g.types);
            put_u32(out, g.capabilities);
            for v in g.max_groups.iter().chain(&g.actions) {
                put_u32(out, *v);
            }
        }
        MpReply::Meter(v) => {
            let m = &v[i];
            let start = out.len();
            put_u32(out, m.meter_id);
            put_u16(out, 0);
            put_zeros(out, 6);
            put_u32(out, m.flow_count);
            put_u64(out, m.packet_in_count);
            put_u64(out, m.byte_in_count);
            put_u32(out, m.duration_sec);
            put_u32(out, m.duration_nsec);
            for c in &m.band_stats {
                put_u64(out, c.packet_band_count);
                put_u64(out, c.byte_band_count);
            }
            patch_len(out, start + 4, start);
        }
        MpReply::MeterConfig(v) => {
            let m = &v[i];
            let start = out.len();
            put_u16(out, 0);
            put_u16(out, m.flags);
            put_u32(out, m.meter_id);
            emit_bands(&m.bands, out);
            patch_len(out, start, start);
        }
        MpReply::MeterFeatures(m) => {
            put_u32(out, m.max_meter);
            put_u32(out, m.band_types);
            put_u32(out, m.capabilities);
            put_u8(out, m.max_bands);
            put_u8(out, m.max_color);
            put_zeros(out, 2);
        }
        MpReply::TableFeatures(body) | MpReply::Other { body, .. } => out.extend_from_slice(body),
    }
}
