//! MULTIPART requests: desc, flow, aggregate, table, port stats, port desc, group, group
//! desc, group features, meter, meter config, meter features. A reply with more than
//! [`MAX_REPLY_ITEMS`] entries is split into messages flagged REPLY_MORE but the last.

use crate::openflow::codec::{self as of, Body, Message, MpReply, MpRequest};
use crate::time::Instant;

use super::{ConnId, MAX_REPLY_ITEMS, Switch};

impl Switch {
    pub(super) fn multipart(
        &mut self,
        now: Instant,
        conn: ConnId,
        xid: u32,
        req: of::MultipartRequest,
    ) {
        match req.body {
            MpRequest::Desc => self.reply(
                conn,
                xid,
                MpReply::Desc(of::DescStats {
                    mfr_desc: "topolab".into(),
                    hw_desc: "topolab ofswitch (userspace)".into(),
                    sw_desc: env!("CARGO_PKG_VERSION").into(),
                    serial_num: "None".into(),
                    dp_desc: format!("dpid {:016x}", self.cfg.dpid),
                }),
            ),
            MpRequest::Flow(r) => {
                let items: Vec<of::FlowStats> = self
                    .select_flows(
                        r.table_id,
                        r.out_port,
                        r.out_group,
                        r.cookie,
                        r.cookie_mask,
                        &r.r#match,
                    )
                    .into_iter()
                    .map(|f| {
                        let (sec, nsec) = self.uptime(f.created, now);
                        of::FlowStats {
                            table_id: f.table_id,
                            duration_sec: sec,
                            duration_nsec: nsec,
                            priority: f.priority,
                            idle_timeout: f.idle_timeout,
                            hard_timeout: f.hard_timeout,
                            flags: f.flags,
                            cookie: f.cookie,
                            packet_count: f.packets,
                            byte_count: f.bytes,
                            r#match: f.r#match.clone(),
                            instructions: f.instructions.as_ref().clone(),
                        }
                    })
                    .collect();
                self.reply_split(conn, xid, items, MpReply::Flow);
            }
            MpRequest::Aggregate(r) => {
                let flows = self.select_flows(
                    r.table_id,
                    r.out_port,
                    r.out_group,
                    r.cookie,
                    r.cookie_mask,
                    &r.r#match,
                );
                let agg = of::AggregateStats {
                    packet_count: flows.iter().map(|f| f.packets).sum(),
                    byte_count: flows.iter().map(|f| f.bytes).sum(),
                    flow_count: flows.len() as u32,
                };
                self.reply(conn, xid, MpReply::Aggregate(agg));
            }
            MpRequest::Table => {
                let items = self
                    .tables
                    .iter()
                    .map(|t| of::TableStats {
                        table_id: t.id,
                        active_count: t.flows.len() as u32,
                        lookup_count: t.lookups,
                        matched_count: t.matched,
                    })
                    .collect();
                self.reply_split(conn, xid, items, MpReply::Table);
            }
            MpRequest::PortStats { port_no } => {
                if port_no != of::port_no::ANY && !self.ports.contains_key(&port_no) {
                    let m = Message {
                        xid,
                        body: Body::MultipartRequest(of::MultipartRequest {
                            flags: req.flags,
                            body: MpRequest::PortStats { port_no },
                        }),
                    };
                    self.error(
                        conn,
                        xid,
                        of::ErrorType::BAD_REQUEST,
                        of::bad_request::BAD_PORT,
                        &m,
                    );
                    return;
                }
                let items = self
                    .ports
                    .iter()
                    .filter(|(n, _)| port_no == of::port_no::ANY || **n == port_no)
                    .map(|(n, p)| {
                        let (sec, nsec) = self.uptime(p.since, now);
                        let c = &p.counters;
                        of::PortStats {
                            port_no: *n,
                            rx_packets: c.rx_packets,
                            tx_packets: c.tx_packets,
                            rx_bytes: c.rx_bytes,
                            tx_bytes: c.tx_bytes,
                            rx_dropped: c.rx_dropped,
                            tx_dropped: c.tx_dropped,
                            duration_sec: sec,
                            duration_nsec: nsec,
                            ..Default::default()
                        }
                    })
                    .collect();
                self.reply_split(conn, xid, items, MpReply::PortStats);
            }
            MpRequest::PortDesc => {
                let items = self
                    .ports
                    .keys()
                    .filter_map(|n| self.port_desc(*n))
                    .collect();
                self.reply_split(conn, xid, items, MpReply::PortDesc);
            }
            MpRequest::Group { group_id } => {
                let items = self
                    .groups
                    .map
                    .iter()
                    .filter(|(id, _)| group_id == of::group::ALL || **id == group_id)
                    .map(|(id, g)| {
                        let (sec, nsec) = self.uptime(g.created, now);
                        of::GroupStats {
                            group_id: *id,
                            ref_count: self.group_refs(*id),
                            packet_count: g.packets,
                            byte_count: g.bytes,
                            duration_sec: sec,
                            duration_nsec: nsec,
                            bucket_stats: g
                                .bucket_counters
                                .iter()
                                .map(|(p, b)| of::BucketCounter {
                                    packet_count: *p,
                                    byte_count: *b,
                                })
                                .collect(),
                        }
                    })
                    .collect();
                self.reply_split(conn, xid, items, MpReply::Group);
            }
            MpRequest::GroupDesc => {
                let items = self
                    .groups
                    .map
                    .iter()
                    .map(|(id, g)| of::GroupDesc {
                        group_type: g.group_type,
                        group_id: *id,
                        buckets: g.buckets.as_ref().clone(),
                    })
                    .collect();
                self.reply_split(conn, xid, items, MpReply::GroupDesc);
            }
            MpRequest::GroupFeatures => {
                use of::group_capabilities as C;
                // Actions: output, push/pop VLAN, push/pop MPLS, group, set/dec nw ttl,
                // set/dec MPLS ttl, set-field.
                let actions = (1 << of::action_type::OUTPUT)
                    | (1 << of::action_type::SET_MPLS_TTL)
                    | (1 << of::action_type::DEC_MPLS_TTL)
                    | (1 << of::action_type::PUSH_VLAN)
                    | (1 << of::action_type::POP_VLAN)
                    | (1 << of::action_type::PUSH_MPLS)
                    | (1 << of::action_type::POP_MPLS)
                    | (1 << of::action_type::GROUP)
                    | (1 << of::action_type::SET_NW_TTL)
                    | (1 << of::action_type::DEC_NW_TTL)
                    | (1 << of::action_type::SET_FIELD);
                let f = of::GroupFeatures {
                    types: 0b1111,
                    capabilities: C::SELECT_WEIGHT
                        | C::SELECT_LIVENESS
                        | C::CHAINING
                        | C::CHAINING_CHECKS,
                    max_groups: [super::MAX_GROUPS as u32; 4],
                    actions: [actions; 4],
                };
                self.reply(conn, xid, MpReply::GroupFeatures(f));
            }
            MpRequest::Meter { meter_id } => {
                let items = self
                    .meters
                    .map
                    .iter()
                    .filter(|(id, _)| meter_id == of::meter::ALL || **id == meter_id)
                    .map(|(id, m)| {
                        let (sec, nsec) = self.uptime(m.created, now);
                        of::MeterStats {
                            meter_id: *id,
                            flow_count: self.meter_refs(*id),
                            packet_in_count: m.packets,
                            byte_in_count: m.bytes,
                            duration_sec: sec,
                            duration_nsec: nsec,
                            band_stats: m
                                .bands
                                .iter()
                                .map(|b| of::MeterBandStats {
                                    packet_band_count: b.packets,
                                    byte_band_count: b.bytes,
                                })
                                .collect(),
                        }
                    })
                    .collect();
                self.reply_split(conn, xid, items, MpReply::Meter);
            }
            MpRequest::MeterConfig { meter_id } => {
                let items = self
                    .meters
                    .map
                    .iter()
                    .filter(|(id, _)| meter_id == of::meter::ALL || **id == meter_id)
                    .map(|(id, m)| of::MeterConfig {
                        flags: m.flags,
                        meter_id: *id,
                        bands: m.bands.iter().map(|b| b.band.clone()).collect(),
                    })
                    .collect();
                self.reply_split(conn, xid, items, MpReply::MeterConfig);
            }
            MpRequest::MeterFeatures => {
                let f = of::MeterFeatures {
                    max_meter: super::MAX_METERS as u32,
                    band_types: (1 << of::meter_band_type::DROP)
                        | (1 << of::meter_band_type::DSCP_REMARK),
                    capabilities: u32::from(
                        of::meter_flags::KBPS
                            | of::meter_flags::PKTPS
                            | of::meter_flags::BURST
                            | of::meter_flags::STATS,
                    ),
                    max_bands: super::MAX_BANDS as u8,
                    max_color: 0,
                };
                self.reply(conn, xid, MpReply::MeterFeatures(f));
            }
            MpRequest::TableFeatures(ref body) if body.is_empty() => {
                // Raw `ofp_table_features` entries, 16 tables per message.
                let n = self.tables.len() as u8;
                let per_table: Vec<Vec<u8>> = (0..n)
                    .map(|t| {
                        let mut b = Vec::new();
                        let max = super::MAX_FLOWS_PER_TABLE as u32;
                        of::emit_table_features(t, n, max, &mut b);
                        b
                    })
                    .collect();
                let chunks: Vec<Vec<u8>> = per_table.chunks(16).map(|c| c.concat()).collect();
                let n = chunks.len();
                for (i, body) in chunks.into_iter().enumerate() {
                    let flags = if i + 1 < n {
                        of::multipart_flags::MORE
                    } else {
                        0
                    };
                    self.send(
                        conn,
                        xid,
                        Body::MultipartReply(of::MultipartReply {
                            flags,
                            body: MpReply::TableFeatures(body),
                        }),
                    );
                }
            }
            MpRequest::TableFeatures(_) => {
                // Setting table features is not supported.
                let m = Message {
                    xid,
                    body: Body::MultipartRequest(of::MultipartRequest {
                        flags: req.flags,
                        body: req.body,
                    }),
                };
                self.error(
                    conn,
                    xid,
                    of::ErrorType::TABLE_FEATURES_FAILED,
                    of::table_features_failed::EPERM,
                    &m,
                );
            }
            MpRequest::Other { .. } => {
                let m = Message {
                    xid,
                    body: Body::MultipartRequest(of::MultipartRequest {
                        flags: req.flags,
                        body: req.body,
                    }),
                };
                self.error(
                    conn,
                    xid,
                    of::ErrorType::BAD_REQUEST,
                    of::bad_request::BAD_MULTIPART,
                    &m,
                );
            }
        }
    }

    fn reply(&mut self, conn: ConnId, xid: u32, body: MpReply) {
        self.send(
            conn,
            xid,
            Body::MultipartReply(of::MultipartReply { flags: 0, body }),
        );
    }

    /// Sends `items` in chunks of [`MAX_REPLY_ITEMS`], REPLY_MORE on all but the last.
    fn reply_split<T>(
        &mut self,
        conn: ConnId,
        xid: u32,
        mut items: Vec<T>,
        wrap: fn(Vec<T>) -> MpReply,
    ) {
        loop {
            let rest = if items.len() > MAX_REPLY_ITEMS {
                items.split_off(MAX_REPLY_ITEMS)
            } else {
                Vec::new()
            };
            let more = !rest.is_empty();
            self.send(
                conn,
                xid,
                Body::MultipartReply(of::MultipartReply {
                    flags: if more { of::multipart_flags::MORE } else { 0 },
                    body: wrap(items),
                }),
            );
            if !more {
                return;
            }
            items = rest;
        }
    }

    /// Flows whose actions name group `id`.
    pub(super) fn group_refs(&self, id: u32) -> u32 {
        self.tables
            .iter()
            .flat_map(|t| t.flows.values())
            .filter(|f| f.groups().any(|g| g == id))
            .count() as u32
    }

    /// Flows metered by meter `id`.
    pub(super) fn meter_refs(&self, id: u32) -> u32 {
        self.tables
            .iter()
            .flat_map(|t| t.flows.values())
            .filter(|f| {
                f.instructions
                    .iter()
                    .any(|i| matches!(i, of::Instruction::Meter(m) if *m == id))
            })
            .count() as u32
    }
}
