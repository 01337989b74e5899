//! `ofp_table_features` entries for the TABLE_FEATURES multipart reply. `ovs-ofctl
//! -O OpenFlow13 add-flow` (OVS 3.1) asks for them before it sends a FLOW_MOD and rejects a
//! reply without the eight required properties, so a switch answers with these.

use super::model::*;
use super::wire::{pad8, patch_len, put_str, put_u8, put_u16, put_u32, put_u64, put_zeros};

const INSTRUCTIONS: &[u16] = &[
    instruction_type::GOTO_TABLE,
    instruction_type::WRITE_METADATA,
    instruction_type::WRITE_ACTIONS,
    instruction_type::APPLY_ACTIONS,
    instruction_type::CLEAR_ACTIONS,
    instruction_type::METER,
];

const ACTIONS: &[u16] = &[
    action_type::OUTPUT,
    action_type::COPY_TTL_OUT,
    action_type::COPY_TTL_IN,
    action_type::SET_MPLS_TTL,
    action_type::DEC_MPLS_TTL,
    action_type::PUSH_VLAN,
    action_type::POP_VLAN,
    action_type::PUSH_MPLS,
    action_type::POP_MPLS,
    action_type::SET_QUEUE,
    action_type::GROUP,
    action_type::SET_NW_TTL,
    action_type::DEC_NW_TTL,
    action_type::SET_FIELD,
    action_type::PUSH_PBB,
    action_type::POP_PBB,
];

/// (field, payload width) of every field the codec models.
const FIELDS: &[(u8, u8)] = &[
    (oxm_field::IN_PORT, 4),
    (oxm_field::IN_PHY_PORT, 4),
    (oxm_field::METADATA, 8),
    (oxm_field::ETH_DST, 6),
    (oxm_field::ETH_SRC, 6),
    (oxm_field::ETH_TYPE, 2),
    (oxm_field::VLAN_VID, 2),
    (oxm_field::VLAN_PCP, 1),
    (oxm_field::IP_DSCP, 1),
    (oxm_field::IP_ECN, 1),
    (oxm_field::IP_PROTO, 1),
    (oxm_field::IPV4_SRC, 4),
    (oxm_field::IPV4_DST, 4),
    (oxm_field::TCP_SRC, 2),
    (oxm_field::TCP_DST, 2),
    (oxm_field::UDP_SRC, 2),
    (oxm_field::UDP_DST, 2),
    (oxm_field::SCTP_SRC, 2),
    (oxm_field::SCTP_DST, 2),
    (oxm_field::ICMPV4_TYPE, 1),
    (oxm_field::ICMPV4_CODE, 1),
    (oxm_field::ARP_OP, 2),
    (oxm_field::ARP_SPA, 4),
    (oxm_field::ARP_TPA, 4),
    (oxm_field::ARP_SHA, 6),
    (oxm_field::ARP_THA, 6),
    (oxm_field::IPV6_SRC, 16),
    (oxm_field::IPV6_DST, 16),
    (oxm_field::IPV6_FLABEL, 4),
    (oxm_field::ICMPV6_TYPE, 1),
    (oxm_field::ICMPV6_CODE, 1),
    (oxm_field::IPV6_ND_TARGET, 16),
    (oxm_field::IPV6_ND_SLL, 6),
    (oxm_field::IPV6_ND_TLL, 6),
    (oxm_field::MPLS_LABEL, 4),
    (oxm_field::MPLS_TC, 1),
    (oxm_field::MPLS_BOS, 1),
    (oxm_field::PBB_ISID, 3),
    (oxm_field::TUNNEL_ID, 8),
    (oxm_field::IPV6_EXTHDR, 2),
];

/// Property types (`ofp_table_feature_prop_type`), the eight OVS requires.
const PROP_INSTRUCTIONS: u16 = 0;
const PROP_NEXT_TABLES: u16 = 2;
const PROP_WRITE_ACTIONS: u16 = 4;
const PROP_APPLY_ACTIONS: u16 = 6;
const PROP_MATCH: u16 = 8;
const PROP_WILDCARDS: u16 = 10;
const PROP_WRITE_SETFIELD: u16 = 12;
const PROP_APPLY_SETFIELD: u16 = 14;

fn prop(out: &mut Vec<u8>, kind: u16, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    put_u16(out, kind);
    put_u16(out, 0);
    body(out);
    patch_len(out, start + 2, start);
    pad8(out, start);
}

fn oxm_headers(out: &mut Vec<u8>) {
    for &(field, w) in FIELDS {
        put_u32(
            out,
            ((OXM_CLASS_OPENFLOW_BASIC as u32) << 16) | ((field as u32) << 9) | w as u32,
        );
    }
}

/// Appends one `ofp_table_features` entry for table `table_id` of `n_tables` describing what
/// this codec supports: every instruction and action, every modelled OXM field (matchable,
/// wildcardable, settable), goto to any later table, and `max_entries` flows. The body of
/// a TABLE_FEATURES reply is these entries concatenated (each about 1.2 KB: split a reply
/// for many tables into parts with `multipart_flags::MORE` below 64 KB).
pub fn emit_table_features(table_id: u8, n_tables: u8, max_entries: u32, out: &mut Vec<u8>) {
    let start = out.len();
    put_u16(out, 0);
    put_u8(out, table_id);
    put_zeros(out, 5);
    put_str(out, &format!("table{table_id}"), 32);
    put_u64(out, u64::MAX);
    put_u64(out, u64::MAX);
    put_u32(out, 0);
    put_u32(out, max_entries);
    prop(out, PROP_INSTRUCTIONS, |out| {
        for &t in INSTRUCTIONS {
            put_u16(out, t);
            put_u16(out, 4);
        }
    });
    prop(out, PROP_NEXT_TABLES, |out| {
        for t in table_id.saturating_add(1)..n_tables {
            put_u8(out, t);
        }
    });
    for kind in [PROP_WRITE_ACTIONS, PROP_APPLY_ACTIONS] {
        prop(out, kind, |out| {
            for &t in ACTIONS {
                put_u16(out, t);
                put_u16(out, 4);
            }
        });
    }
    for kind in [
        PROP_MATCH,
        PROP_WILDCARDS,
        PROP_WRITE_SETFIELD,
        PROP_APPLY_SETFIELD,
    ] {
        prop(out, kind, oxm_headers);
    }
    patch_len(out, start, start);
}
