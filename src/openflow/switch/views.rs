//! JSON views of the switch for `topolab openflow LAB NODE flows|ports|tables|groups|meters`
//! (the daemon serves them on its control socket).

use serde_json::{Value, json};

use crate::openflow::codec as of;
use crate::openflow::flowspec;
use crate::time::Instant;

use super::Switch;

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Switch {
    /// A one-object summary (the daemon's status detail).
    pub fn summary_json(&self, now: Instant) -> Value {
        json!({
            "dpid": format!("{:016x}", self.cfg.dpid),
            "uptime_s": now.saturating_duration_since(self.started).as_secs(),
            "controller_connected": self.controller_connected(),
            "connections": self.open_connections(),
            "flows": self.tables.iter().map(|t| t.flows.len()).sum::<usize>(),
            "groups": self.groups.map.len(),
            "meters": self.meters.map.len(),
            "buffered": self.buffers.len(),
            "learned": self.learning.len(),
        })
    }

    pub fn flows_json(&self, now: Instant) -> Value {
        let flows: Vec<Value> = self
            .tables
            .iter()
            .flat_map(|t| {
                let mut v: Vec<_> = t.flows.values().collect();
                v.sort_by_key(|f| (std::cmp::Reverse(f.priority), f.id));
                v
            })
            .map(|f| {
                json!({
                    "table": f.table_id,
                    "priority": f.priority,
                    "cookie": format!("{:#x}", f.cookie),
                    "match": serde_json::to_value(&f.r#match.fields).unwrap_or(Value::Null),
                    "match_text": flowspec::format_match(&f.r#match),
                    "actions_text": flowspec::format_instructions(&f.instructions),
                    "instructions": serde_json::to_value(f.instructions.as_ref()).unwrap_or(Value::Null),
                    "packets": f.packets,
                    "bytes": f.bytes,
                    "duration_s": now.saturating_duration_since(f.created).as_secs_f64(),
                    "idle_timeout": f.idle_timeout,
                    "hard_timeout": f.hard_timeout,
                    "flags": f.flags,
                })
            })
            .collect();
        json!({
            "dpid": format!("{:016x}", self.cfg.dpid),
            "controller_connected": self.controller_connected(),
            "flows": flows,
            "learned": self.learning.entries().iter().map(|(m, p, _)| json!({"mac": mac(*m), "port": p})).collect::<Vec<_>>(),
        })
    }

    pub fn ports_json(&self) -> Value {
        let ports: Vec<Value> = self
            .ports
            .iter()
            .map(|(n, p)| {
                json!({
                    "port_no": n,
                    "name": p.info.name,
                    "hw_addr": mac(p.info.hw_addr),
                    "up": p.info.up,
                    "config": p.config,
                    "counters": p.counters,
                })
            })
            .collect();
        json!({ "ports": ports })
    }

    pub fn tables_json(&self) -> Value {
        let tables: Vec<Value> = self
            .tables
            .iter()
            .filter(|t| !t.flows.is_empty() || t.lookups > 0)
            .map(|t| {
                json!({
                    "table_id": t.id,
                    "active": t.flows.len(),
                    "lookups": t.lookups,
                    "matched": t.matched,
                })
            })
            .collect();
        json!({ "n_tables": self.tables.len(), "tables": tables })
    }

    pub fn groups_json(&self) -> Value {
        let groups: Vec<Value> = self
            .groups
            .map
            .iter()
            .map(|(id, g)| {
                json!({
                    "group_id": id,
                    "type": format!("{:?}", g.group_type),
                    "buckets": serde_json::to_value(g.buckets.as_ref()).unwrap_or(Value::Null),
                    "packets": g.packets,
                    "bytes": g.bytes,
                    "bucket_packets": g.bucket_counters.iter().map(|c| c.0).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({ "groups": groups })
    }

    pub fn meters_json(&self) -> Value {
        let meters: Vec<Value> = self
            .meters
            .map
            .iter()
            .map(|(id, m)| {
                json!({
                    "meter_id": id,
                    "flags": m.flags,
                    "unit": if m.flags & of::meter_flags::PKTPS != 0 { "pktps" } else { "kbps" },
                    "bands": m.bands.iter().map(|b| json!({
                        "band": serde_json::to_value(&b.band).unwrap_or(Value::Null),
                        "packets": b.packets,
                        "bytes": b.bytes,
                    })).collect::<Vec<_>>(),
                    "packets": m.packets,
                    "bytes": m.bytes,
                })
            })
            .collect();
        json!({ "meters": meters })
    }
}
