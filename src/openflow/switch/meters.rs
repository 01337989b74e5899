//! Meters: METER_MOD add/modify/delete, bands drop and dscp_remark, rates in kbit/s or
//! packets/s, token buckets refilled from `now` (no timer: a band refills when a packet
//! asks). A packet exceeds a band when the band's bucket lacks its cost; of the bands it
//! exceeds the one with the highest rate applies (drop: the packet is dropped; dscp_remark:
//! its drop precedence rises by prec_level). Buckets it does not exceed pay its cost.

use std::collections::BTreeMap;

use crate::openflow::codec::{self as of, Body, Message, MeterBand};
use crate::openflow::packet::{self, SetField};
use crate::time::Instant;

use super::pipeline::Pkt;
use super::{ConnId, Switch};

#[derive(Debug, Clone)]
pub struct Band {
    pub band: MeterBand,
    /// Tokens in milli-units (bits ×1000 / 1000 … see `cost`): bits for kbps, milli-packets
    /// for pktps.
    tokens: u64,
    capacity: u64,
    last: Instant,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Meter {
    pub flags: u16,
    pub bands: Vec<Band>,
    pub packets: u64,
    pub bytes: u64,
    pub created: Instant,
}

#[derive(Debug, Default)]
pub struct Meters {
    pub map: BTreeMap<u32, Meter>,
}

impl Meters {
    pub fn exists(&self, id: u32) -> bool {
        self.map.contains_key(&id)
    }
}

fn rate_burst(b: &MeterBand) -> (u32, u32) {
    match b {
        MeterBand::Drop { rate, burst }
        | MeterBand::DscpRemark { rate, burst, .. }
        | MeterBand::Experimenter { rate, burst, .. } => (*rate, *burst),
    }
}

fn pktps(flags: u16) -> bool {
    flags & of::meter_flags::PKTPS != 0
}

fn make_band(flags: u16, b: &MeterBand, now: Instant) -> Band {
    let (rate, burst) = rate_burst(b);
    // Units: bits for kbps (rate kbit/s = rate bits/ms), milli-packets for pktps.
    let capacity = if flags & of::meter_flags::BURST != 0 && burst > 0 {
        u64::from(burst) * 1000
    } else {
        // No burst given: a tenth of a second's worth, at least one full-size frame.
        (u64::from(rate) * 100).max(if pktps(flags) { 1000 } else { 1518 * 8 })
    };
    Band {
        band: b.clone(),
        tokens: capacity,
        capacity,
        last: now,
        packets: 0,
        bytes: 0,
    }
}

impl Switch {
    pub(super) fn meter_mod(&mut self, now: Instant, conn: ConnId, xid: u32, mm: of::MeterMod) {
        if let Err(code) = self.apply_meter_mod(now, &mm) {
            let m = Message {
                xid,
                body: Body::MeterMod(mm),
            };
            self.error(conn, xid, of::ErrorType::METER_MOD_FAILED, code, &m);
        }
    }

    pub(super) fn apply_meter_mod(&mut self, now: Instant, mm: &of::MeterMod) -> Result<(), u16> {
        use of::meter_mod_failed as E;
        match mm.command {
            of::MeterModCommand::Delete => {
                let ids: Vec<u32> = if mm.meter_id == of::meter::ALL {
                    self.meters.map.keys().copied().collect()
                } else {
                    vec![mm.meter_id]
                };
                for id in ids {
                    if self.meters.map.remove(&id).is_some() {
                        self.remove_flows_using_meter(now, id);
                    }
                }
                Ok(())
            }
            cmd @ (of::MeterModCommand::Add | of::MeterModCommand::Modify) => {
                if mm.meter_id == 0 || mm.meter_id > of::meter::MAX {
                    return Err(E::INVALID_METER);
                }
                let exists = self.meters.exists(mm.meter_id);
                if cmd == of::MeterModCommand::Add && exists {
                    return Err(E::METER_EXISTS);
                }
                if cmd == of::MeterModCommand::Modify && !exists {
                    return Err(E::UNKNOWN_METER);
                }
                if !exists && self.meters.map.len() >= super::MAX_METERS {
                    return Err(E::OUT_OF_METERS);
                }
                if mm.bands.len() > super::MAX_BANDS {
                    return Err(E::OUT_OF_BANDS);
                }
                let unit = mm.flags & (of::meter_flags::KBPS | of::meter_flags::PKTPS);
                if unit == (of::meter_flags::KBPS | of::meter_flags::PKTPS) || mm.flags & !0xf != 0
                {
                    return Err(E::BAD_FLAGS);
                }
                if mm.bands.is_empty() {
                    return Err(E::BAD_BAND);
                }
                for b in &mm.bands {
                    if matches!(b, MeterBand::Experimenter { .. }) {
                        return Err(E::BAD_BAND);
                    }
                    if rate_burst(b).0 == 0 {
                        return Err(E::BAD_RATE);
                    }
                    if let MeterBand::DscpRemark { prec_level, .. } = b
                        && *prec_level == 0
                    {
                        return Err(E::BAD_BAND_VALUE);
                    }
                }
                let bands = mm
                    .bands
                    .iter()
                    .map(|b| make_band(mm.flags, b, now))
                    .collect();
                match self.meters.map.get_mut(&mm.meter_id) {
                    Some(m) => {
                        m.flags = mm.flags;
                        m.bands = bands;
                    }
                    None => {
                        self.meters.map.insert(
                            mm.meter_id,
                            Meter {
                                flags: mm.flags,
                                bands,
                                packets: 0,
                                bytes: 0,
                                created: now,
                            },
                        );
                    }
                }
                Ok(())
            }
        }
    }

    fn remove_flows_using_meter(&mut self, now: Instant, id: u32) {
        for t in 0..self.tables.len() {
            let ids: Vec<u64> = self.tables[t]
                .flows
                .values()
                .filter(|f| {
                    f.instructions
                        .iter()
                        .any(|i| matches!(i, of::Instruction::Meter(m) if *m == id))
                })
                .map(|f| f.id)
                .collect();
            for fid in ids {
                self.remove_flow(now, t, fid, of::flow_removed_reason::METER_DELETE);
            }
        }
    }

    /// Meters `pkt`; false when a drop band drops it.
    pub(super) fn meter(&mut self, now: Instant, id: u32, pkt: &mut Pkt) -> bool {
        let Some(m) = self.meters.map.get_mut(&id) else {
            return true; // deleted meanwhile: the flows went with it
        };
        let len = pkt.frame.len() as u64;
        m.packets += 1;
        m.bytes += len;
        let cost = if pktps(m.flags) { 1000 } else { len * 8 };
        // Of the exceeded bands, the one with the highest rate applies.
        let mut best: Option<(usize, u32)> = None;
        for (i, b) in m.bands.iter_mut().enumerate() {
            let (rate, _) = rate_burst(&b.band);
            let dt = now.saturating_duration_since(b.last).as_nanos() as u64;
            // kbps: rate bits/ms = rate × dt_ns / 1e6 bits; pktps: rate × dt_ns / 1e6 milli-packets.
            let add = u128::from(rate) * u128::from(dt) / 1_000_000;
            b.tokens = (u128::from(b.tokens) + add).min(u128::from(b.capacity)) as u64;
            if add > 0 {
                // (Kept on a zero refill so that short gaps add up.)
                b.last = now;
            }
            if b.tokens < cost {
                if best.is_none_or(|(_, r)| rate > r) {
                    best = Some((i, rate));
                }
            } else {
                b.tokens -= cost;
            }
        }
        let Some((i, _)) = best else {
            return true;
        };
        let b = &mut m.bands[i];
        b.packets += 1;
        b.bytes += len;
        match b.band {
            MeterBand::Drop { .. } | MeterBand::Experimenter { .. } => false,
            MeterBand::DscpRemark { prec_level, .. } => {
                if pkt.p.key.has(packet::field::IP_DSCP) {
                    let dscp = pkt.p.key.ip_dscp;
                    // AFxy (x 1..4, y 1..3, DSCP = 8x + 2y): raise y.
                    let (x, y) = (dscp >> 3, (dscp >> 1) & 3);
                    if (1..=4).contains(&x) && (1..=3).contains(&y) && dscp & 1 == 0 {
                        let y = (y + prec_level).min(3);
                        let _ = packet::set_field(
                            &mut pkt.frame,
                            &mut pkt.p,
                            SetField::IpDscp((x << 3) | (y << 1)),
                        );
                    }
                }
                true
            }
        }
    }
}
