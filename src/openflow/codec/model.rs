//! The OpenFlow 1.3 message model (spec 1.3.5, `openflow-1.3.h` names without the `OFP`
//! prefix): what `parse` produces and `emit` consumes. Numeric fields the spec leaves open
//! (reasons, flags, config bits) stay integers with named consts beside them; closed sets
//! that decide behaviour (flow-mod/group-mod/meter-mod commands, group types) are enums,
//! and a value outside them is a decode error carrying the spec's error code.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// The only version this codec speaks (OpenFlow 1.3).
pub const OFP_VERSION: u8 = 0x04;
/// Length of the common header (version, type, length, xid).
pub const OFP_HEADER_LEN: usize = 8;
/// The largest message the 16-bit length field allows.
pub const OFP_MAX_LEN: usize = 0xffff;
/// `buffer_id` meaning "the packet is not buffered; the data is in the message".
pub const NO_BUFFER: u32 = 0xffff_ffff;
/// Default `miss_send_len` (bytes of a table-miss packet sent to the controller).
pub const DEFAULT_MISS_SEND_LEN: u16 = 128;
/// The TCP port controllers listen on (IANA).
pub const OFP_TCP_PORT: u16 = 6653;

/// Message type numbers (`ofp_type`).
pub mod msg_type {
    pub const HELLO: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const ECHO_REQUEST: u8 = 2;
    pub const ECHO_REPLY: u8 = 3;
    pub const EXPERIMENTER: u8 = 4;
    pub const FEATURES_REQUEST: u8 = 5;
    pub const FEATURES_REPLY: u8 = 6;
    pub const GET_CONFIG_REQUEST: u8 = 7;
    pub const GET_CONFIG_REPLY: u8 = 8;
    pub const SET_CONFIG: u8 = 9;
    pub const PACKET_IN: u8 = 10;
    pub const FLOW_REMOVED: u8 = 11;
    pub const PORT_STATUS: u8 = 12;
    pub const PACKET_OUT: u8 = 13;
    pub const FLOW_MOD: u8 = 14;
    pub const GROUP_MOD: u8 = 15;
    pub const PORT_MOD: u8 = 16;
    pub const TABLE_MOD: u8 = 17;
    pub const MULTIPART_REQUEST: u8 = 18;
    pub const MULTIPART_REPLY: u8 = 19;
    pub const BARRIER_REQUEST: u8 = 20;
    pub const BARRIER_REPLY: u8 = 21;
    pub const QUEUE_GET_CONFIG_REQUEST: u8 = 22;
    pub const QUEUE_GET_CONFIG_REPLY: u8 = 23;
    pub const ROLE_REQUEST: u8 = 24;
    pub const ROLE_REPLY: u8 = 25;
    pub const GET_ASYNC_REQUEST: u8 = 26;
    pub const GET_ASYNC_REPLY: u8 = 27;
    pub const SET_ASYNC: u8 = 28;
    pub const METER_MOD: u8 = 29;
}

/// One OpenFlow message: the header's xid and the typed body (version and length are
/// implied: parse checks them, emit writes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub xid: u32,
    pub body: Body,
}

impl Message {
    pub fn new(xid: u32, body: Body) -> Message {
        Message { xid, body }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Body {
    /// `versions`: the first version bitmap element (bit n = version n), None when the
    /// HELLO carries no bitmap.
    Hello {
        versions: Option<u32>,
    },
    Error(ErrorMsg),
    EchoRequest(Vec<u8>),
    EchoReply(Vec<u8>),
    Experimenter {
        experimenter: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
    FeaturesRequest,
    FeaturesReply(SwitchFeatures),
    GetConfigRequest,
    GetConfigReply(SwitchConfig),
    SetConfig(SwitchConfig),
    PacketIn(PacketIn),
    FlowRemoved(FlowRemoved),
    PortStatus(PortStatus),
    PacketOut(PacketOut),
    FlowMod(FlowMod),
    GroupMod(GroupMod),
    PortMod(PortMod),
    TableMod {
        table_id: u8,
        config: u32,
    },
    MultipartRequest(MultipartRequest),
    MultipartReply(MultipartReply),
    BarrierRequest,
    BarrierReply,
    QueueGetConfigRequest {
        port: u32,
    },
    /// `queues`: the raw `ofp_packet_queue` list.
    QueueGetConfigReply {
        port: u32,
        queues: Vec<u8>,
    },
    RoleRequest(Role),
    RoleReply(Role),
    GetAsyncRequest,
    GetAsyncReply(AsyncConfig),
    SetAsync(AsyncConfig),
    MeterMod(MeterMod),
}

impl Body {
    /// The `ofp_type` number of this body.
    pub fn msg_type(&self) -> u8 {
        use msg_type as t;
        match self {
            Body::Hello { .. } => t::HELLO,
            Body::Error(_) => t::ERROR,
            Body::EchoRequest(_) => t::ECHO_REQUEST,
            Body::EchoReply(_) => t::ECHO_REPLY,
            Body::Experimenter { .. } => t::EXPERIMENTER,
            Body::FeaturesRequest => t::FEATURES_REQUEST,
            Body::FeaturesReply(_) => t::FEATURES_REPLY,
            Body::GetConfigRequest => t::GET_CONFIG_REQUEST,
            Body::GetConfigReply(_) => t::GET_CONFIG_REPLY,
            Body::SetConfig(_) => t::SET_CONFIG,
            Body::PacketIn(_) => t::PACKET_IN,
            Body::FlowRemoved(_) => t::FLOW_REMOVED,
            Body::PortStatus(_) => t::PORT_STATUS,
            Body::PacketOut(_) => t::PACKET_OUT,
            Body::FlowMod(_) => t::FLOW_MOD,
            Body::GroupMod(_) => t::GROUP_MOD,
            Body::PortMod(_) => t::PORT_MOD,
            Body::TableMod { .. } => t::TABLE_MOD,
            Body::MultipartRequest(_) => t::MULTIPART_REQUEST,
            Body::MultipartReply(_) => t::MULTIPART_REPLY,
            Body::BarrierRequest => t::BARRIER_REQUEST,
            Body::BarrierReply => t::BARRIER_REPLY,
            Body::QueueGetConfigRequest { .. } => t::QUEUE_GET_CONFIG_REQUEST,
            Body::QueueGetConfigReply { .. } => t::QUEUE_GET_CONFIG_REPLY,
            Body::RoleRequest(_) => t::ROLE_REQUEST,
            Body::RoleReply(_) => t::ROLE_REPLY,
            Body::GetAsyncRequest => t::GET_ASYNC_REQUEST,
            Body::GetAsyncReply(_) => t::GET_ASYNC_REPLY,
            Body::SetAsync(_) => t::SET_ASYNC,
            Body::MeterMod(_) => t::METER_MOD,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Errors

/// `ofp_error_type`. The codes of each type are in the module of the same name
/// (`bad_request::BAD_LEN`, `bad_match::BAD_PREREQ`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ErrorType(pub u16);

impl ErrorType {
    pub const HELLO_FAILED: ErrorType = ErrorType(0);
    pub const BAD_REQUEST: ErrorType = ErrorType(1);
    pub const BAD_ACTION: ErrorType = ErrorType(2);
    pub const BAD_INSTRUCTION: ErrorType = ErrorType(3);
    pub const BAD_MATCH: ErrorType = ErrorType(4);
    pub const FLOW_MOD_FAILED: ErrorType = ErrorType(5);
    pub const GROUP_MOD_FAILED: ErrorType = ErrorType(6);
    pub const PORT_MOD_FAILED: ErrorType = ErrorType(7);
    pub const TABLE_MOD_FAILED: ErrorType = ErrorType(8);
    pub const QUEUE_OP_FAILED: ErrorType = ErrorType(9);
    pub const SWITCH_CONFIG_FAILED: ErrorType = ErrorType(10);
    pub const ROLE_REQUEST_FAILED: ErrorType = ErrorType(11);
    pub const METER_MOD_FAILED: ErrorType = ErrorType(12);
    pub const TABLE_FEATURES_FAILED: ErrorType = ErrorType(13);
    pub const EXPERIMENTER: ErrorType = ErrorType(0xffff);
}

pub mod hello_failed {
    pub const INCOMPATIBLE: u16 = 0;
    pub const EPERM: u16 = 1;
}
pub mod bad_request {
    pub const BAD_VERSION: u16 = 0;
    pub const BAD_TYPE: u16 = 1;
    pub const BAD_MULTIPART: u16 = 2;
    pub const BAD_EXPERIMENTER: u16 = 3;
    pub const BAD_EXP_TYPE: u16 = 4;
    pub const EPERM: u16 = 5;
    pub const BAD_LEN: u16 = 6;
    pub const BUFFER_EMPTY: u16 = 7;
    pub const BUFFER_UNKNOWN: u16 = 8;
    pub const BAD_TABLE_ID: u16 = 9;
    pub const IS_SLAVE: u16 = 10;
    pub const BAD_PORT: u16 = 11;
    pub const BAD_PACKET: u16 = 12;
    pub const MULTIPART_BUFFER_OVERFLOW: u16 = 13;
}
pub mod bad_action {
    pub const BAD_TYPE: u16 = 0;
    pub const BAD_LEN: u16 = 1;
    pub const BAD_EXPERIMENTER: u16 = 2;
    pub const BAD_EXP_TYPE: u16 = 3;
    pub const BAD_OUT_PORT: u16 = 4;
    pub const BAD_ARGUMENT: u16 = 5;
    pub const EPERM: u16 = 6;
    pub const TOO_MANY: u16 = 7;
    pub const BAD_QUEUE: u16 = 8;
    pub const BAD_OUT_GROUP: u16 = 9;
    pub const MATCH_INCONSISTENT: u16 = 10;
    pub const UNSUPPORTED_ORDER: u16 = 11;
    pub const BAD_TAG: u16 = 12;
    pub const BAD_SET_TYPE: u16 = 13;
    pub const BAD_SET_LEN: u16 = 14;
    pub const BAD_SET_ARGUMENT: u16 = 15;
}
pub mod bad_instruction {
    pub const UNKNOWN_INST: u16 = 0;
    pub const UNSUP_INST: u16 = 1;
    pub const BAD_TABLE_ID: u16 = 2;
    pub const UNSUP_METADATA: u16 = 3;
    pub const UNSUP_METADATA_MASK: u16 = 4;
    pub const BAD_EXPERIMENTER: u16 = 5;
    pub const BAD_EXP_TYPE: u16 = 6;
    pub const BAD_LEN: u16 = 7;
    pub const EPERM: u16 = 8;
}
pub mod bad_match {
    pub const BAD_TYPE: u16 = 0;
    pub const BAD_LEN: u16 = 1;
    pub const BAD_TAG: u16 = 2;
    pub const BAD_DL_ADDR_MASK: u16 = 3;
    pub const BAD_NW_ADDR_MASK: u16 = 4;
    pub const BAD_WILDCARDS: u16 = 5;
    pub const BAD_FIELD: u16 = 6;
    pub const BAD_VALUE: u16 = 7;
    pub const BAD_MASK: u16 = 8;
    pub const BAD_PREREQ: u16 = 9;
    pub const DUP_FIELD: u16 = 10;
    pub const EPERM: u16 = 11;
}
pub mod flow_mod_failed {
    pub const UNKNOWN: u16 = 0;
    pub const TABLE_FULL: u16 = 1;
    pub const BAD_TABLE_ID: u16 = 2;
    pub const OVERLAP: u16 = 3;
    pub const EPERM: u16 = 4;
    pub const BAD_TIMEOUT: u16 = 5;
    pub const BAD_COMMAND: u16 = 6;
    pub const BAD_FLAGS: u16 = 7;
}
pub mod group_mod_failed {
    pub const GROUP_EXISTS: u16 = 0;
    pub const INVALID_GROUP: u16 = 1;
    pub const WEIGHT_UNSUPPORTED: u16 = 2;
    pub const OUT_OF_GROUPS: u16 = 3;
    pub const OUT_OF_BUCKETS: u16 = 4;
    pub const CHAINING_UNSUPPORTED: u16 = 5;
    pub const WATCH_UNSUPPORTED: u16 = 6;
    pub const LOOP: u16 = 7;
    pub const UNKNOWN_GROUP: u16 = 8;
    pub const CHAINED_GROUP: u16 = 9;
    pub const BAD_TYPE: u16 = 10;
    pub const BAD_COMMAND: u16 = 11;
    pub const BAD_BUCKET: u16 = 12;
    pub const BAD_WATCH: u16 = 13;
    pub const EPERM: u16 = 14;
}
pub mod port_mod_failed {
    pub const BAD_PORT: u16 = 0;
    pub const BAD_HW_ADDR: u16 = 1;
    pub const BAD_CONFIG: u16 = 2;
    pub const BAD_ADVERTISE: u16 = 3;
    pub const EPERM: u16 = 4;
}
pub mod table_mod_failed {
    pub const BAD_TABLE: u16 = 0;
    pub const BAD_CONFIG: u16 = 1;
    pub const EPERM: u16 = 2;
}
pub mod queue_op_failed {
    pub const BAD_PORT: u16 = 0;
    pub const BAD_QUEUE: u16 = 1;
    pub const EPERM: u16 = 2;
}
pub mod switch_config_failed {
    pub const BAD_FLAGS: u16 = 0;
    pub const BAD_LEN: u16 = 1;
    pub const EPERM: u16 = 2;
}
pub mod role_request_failed {
    pub const STALE: u16 = 0;
    pub const UNSUP: u16 = 1;
    pub const BAD_ROLE: u16 = 2;
}
pub mod meter_mod_failed {
    pub const UNKNOWN: u16 = 0;
    pub const METER_EXISTS: u16 = 1;
    pub const INVALID_METER: u16 = 2;
    pub const UNKNOWN_METER: u16 = 3;
    pub const BAD_COMMAND: u16 = 4;
    pub const BAD_FLAGS: u16 = 5;
    pub const BAD_RATE: u16 = 6;
    pub const BAD_BURST: u16 = 7;
    pub const BAD_BAND: u16 = 8;
    pub const BAD_BAND_VALUE: u16 = 9;
    pub const OUT_OF_METERS: u16 = 10;
    pub const OUT_OF_BANDS: u16 = 11;
}
pub mod table_features_failed {
    pub const BAD_TABLE: u16 = 0;
    pub const BAD_METADATA: u16 = 1;
    pub const BAD_TYPE: u16 = 2;
    pub const BAD_LEN: u16 = 3;
    pub const BAD_ARGUMENT: u16 = 4;
    pub const EPERM: u16 = 5;
}

/// An ERROR message. `data`: at least the first 64 bytes of the offending request (or an
/// ASCII string for HELLO_FAILED). For `ErrorType::EXPERIMENTER`, `code` is the
/// `exp_type` and `data` starts with the 4-byte experimenter id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorMsg {
    pub kind: ErrorType,
    pub code: u16,
    pub data: Vec<u8>,
}

impl ErrorMsg {
    /// How much of the offending message an error echoes back (the spec's minimum).
    pub const ECHO_LEN: usize = 64;

    pub fn new(kind: ErrorType, code: u16) -> ErrorMsg {
        ErrorMsg {
            kind,
            code,
            data: Vec::new(),
        }
    }

    /// The error answering `request`: its first [`ErrorMsg::ECHO_LEN`] bytes as data.
    pub fn answering(kind: ErrorType, code: u16, request: &[u8]) -> ErrorMsg {
        let n = request.len().min(Self::ECHO_LEN);
        ErrorMsg {
            kind,
            code,
            data: request[..n].to_vec(),
        }
    }
}

/// Why bytes did not decode, as the (type, code) the receiver answers with, and the xid of
/// the message when its header was readable (the ERROR reply carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DecodeError {
    pub xid: Option<u32>,
    pub kind: ErrorType,
    pub code: u16,
    /// A short human reason, for logs ("oxm length", "action length", …).
    pub what: &'static str,
}

impl DecodeError {
    pub fn new(kind: ErrorType, code: u16, what: &'static str) -> DecodeError {
        DecodeError {
            xid: None,
            kind,
            code,
            what,
        }
    }

    /// The ERROR message a switch answers with: the offending bytes (`request`, the whole
    /// message as received) are echoed up to 64 bytes.
    pub fn to_error_msg(&self, request: &[u8]) -> ErrorMsg {
        ErrorMsg::answering(self.kind, self.code, request)
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bad OpenFlow message ({}): error type {} code {}",
            self.what, self.kind.0, self.code
        )?;
        if let Some(xid) = self.xid {
            write!(f, ", xid {xid}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

// ---------------------------------------------------------------------------------------
// Reserved numbers and flags

/// Reserved port numbers (`ofp_port_no`).
pub mod port_no {
    pub const MAX: u32 = 0xffff_ff00;
    pub const IN_PORT: u32 = 0xffff_fff8;
    pub const TABLE: u32 = 0xffff_fff9;
    pub const NORMAL: u32 = 0xffff_fffa;
    pub const FLOOD: u32 = 0xffff_fffb;
    pub const ALL: u32 = 0xffff_fffc;
    pub const CONTROLLER: u32 = 0xffff_fffd;
    pub const LOCAL: u32 = 0xffff_fffe;
    pub const ANY: u32 = 0xffff_ffff;
}

/// Table ids (`ofp_table`).
pub mod table {
    pub const MAX: u8 = 0xfe;
    pub const ALL: u8 = 0xff;
}

/// Group ids (`ofp_group`).
pub mod group {
    pub const MAX: u32 = 0xffff_ff00;
    pub const ALL: u32 = 0xffff_fffc;
    pub const ANY: u32 = 0xffff_ffff;
}

/// Meter ids (`ofp_meter`).
pub mod meter {
    pub const MAX: u32 = 0xffff_0000;
    pub const SLOWPATH: u32 = 0xffff_fffd;
    pub const CONTROLLER: u32 = 0xffff_fffe;
    pub const ALL: u32 = 0xffff_ffff;
}

/// `max_len` of an output-to-controller action (`ofp_controller_max_len`).
pub mod controller_max_len {
    pub const MAX: u16 = 0xffe5;
    /// Send the whole packet, do not buffer it.
    pub const NO_BUFFER: u16 = 0xffff;
}

/// `SwitchFeatures::capabilities` bits (`ofp_capabilities`).
pub mod capabilities {
    pub const FLOW_STATS: u32 = 1 << 0;
    pub const TABLE_STATS: u32 = 1 << 1;
    pub const PORT_STATS: u32 = 1 << 2;
    pub const GROUP_STATS: u32 = 1 << 3;
    pub const IP_REASM: u32 = 1 << 5;
    pub const QUEUE_STATS: u32 = 1 << 6;
    pub const PORT_BLOCKED: u32 = 1 << 8;
}

/// `SwitchConfig::flags` (`ofp_config_flags`).
pub mod config_flags {
    pub const FRAG_NORMAL: u16 = 0;
    pub const FRAG_DROP: u16 = 1;
    pub const FRAG_REASM: u16 = 2;
    pub const FRAG_MASK: u16 = 3;
}

/// `FlowMod::flags` / `FlowStats::flags` (`ofp_flow_mod_flags`).
pub mod flow_mod_flags {
    pub const SEND_FLOW_REM: u16 = 1 << 0;
    pub const CHECK_OVERLAP: u16 = 1 << 1;
    pub const RESET_COUNTS: u16 = 1 << 2;
    pub const NO_PKT_COUNTS: u16 = 1 << 3;
    pub const NO_BYT_COUNTS: u16 = 1 << 4;
}
/// Alias with the contract's spelling.
pub use flow_mod_flags as FlowModFlags;

/// `Port::config` and `PortMod::config/mask` bits (`ofp_port_config`).
pub mod port_config {
    pub const PORT_DOWN: u32 = 1 << 0;
    pub const NO_RECV: u32 = 1 << 2;
    pub const NO_FWD: u32 = 1 << 5;
    pub const NO_PACKET_IN: u32 = 1 << 6;
}

/// `Port::state` bits (`ofp_port_state`).
pub mod port_state {
    pub const LINK_DOWN: u32 = 1 << 0;
    pub const BLOCKED: u32 = 1 << 1;
    pub const LIVE: u32 = 1 << 2;
}

/// `Port::curr/advertised/supported/peer` bits (`ofp_port_features`).
pub mod port_features {
    pub const F_10MB_HD: u32 = 1 << 0;
    pub const F_10MB_FD: u32 = 1 << 1;
    pub const F_100MB_HD: u32 = 1 << 2;
    pub const F_100MB_FD: u32 = 1 << 3;
    pub const F_1GB_HD: u32 = 1 << 4;
    pub const F_1GB_FD: u32 = 1 << 5;
    pub const F_10GB_FD: u32 = 1 << 6;
    pub const F_40GB_FD: u32 = 1 << 7;
    pub const F_100GB_FD: u32 = 1 << 8;
    pub const F_1TB_FD: u32 = 1 << 9;
    pub const OTHER: u32 = 1 << 10;
    pub const COPPER: u32 = 1 << 11;
    pub const FIBER: u32 = 1 << 12;
    pub const AUTONEG: u32 = 1 << 13;
    pub const PAUSE: u32 = 1 << 14;
    pub const PAUSE_ASYM: u32 = 1 << 15;
}

/// `PacketIn::reason` (`ofp_packet_in_reason`).
pub mod packet_in_reason {
    pub const NO_MATCH: u8 = 0;
    pub const ACTION: u8 = 1;
    pub const INVALID_TTL: u8 = 2;
}

/// `FlowRemoved::reason` (`ofp_flow_removed_reason`).
pub mod flow_removed_reason {
    pub const IDLE_TIMEOUT: u8 = 0;
    pub const HARD_TIMEOUT: u8 = 1;
    pub const DELETE: u8 = 2;
    pub const GROUP_DELETE: u8 = 3;
    pub const METER_DELETE: u8 = 4;
}

/// `PortStatus::reason` (`ofp_port_reason`).
pub mod port_reason {
    pub const ADD: u8 = 0;
    pub const DELETE: u8 = 1;
    pub const MODIFY: u8 = 2;
}

/// `Role::role` (`ofp_controller_role`).
pub mod role {
    pub const NOCHANGE: u32 = 0;
    pub const EQUAL: u32 = 1;
    pub const MASTER: u32 = 2;
    pub const SLAVE: u32 = 3;
}

/// `MeterMod::flags` (`ofp_meter_flags`).
pub mod meter_flags {
    pub const KBPS: u16 = 1 << 0;
    pub const PKTPS: u16 = 1 << 1;
    pub const BURST: u16 = 1 << 2;
    pub const STATS: u16 = 1 << 3;
}

/// Multipart `flags` (`ofp_multipart_request_flags` / `_reply_flags`): more parts follow.
pub mod multipart_flags {
    pub const MORE: u16 = 1 << 0;
}

/// Multipart type numbers (`ofp_multipart_type`).
pub mod multipart_type {
    pub const DESC: u16 = 0;
    pub const FLOW: u16 = 1;
    pub const AGGREGATE: u16 = 2;
    pub const TABLE: u16 = 3;
    pub const PORT_STATS: u16 = 4;
    pub const QUEUE: u16 = 5;
    pub const GROUP: u16 = 6;
    pub const GROUP_DESC: u16 = 7;
    pub const GROUP_FEATURES: u16 = 8;
    pub const METER: u16 = 9;
    pub const METER_CONFIG: u16 = 10;
    pub const METER_FEATURES: u16 = 11;
    pub const TABLE_FEATURES: u16 = 12;
    pub const PORT_DESC: u16 = 13;
    pub const EXPERIMENTER: u16 = 0xffff;
}

// ---------------------------------------------------------------------------------------
// Switch handshake and config

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchFeatures {
    pub datapath_id: u64,
    pub n_buffers: u32,
    pub n_tables: u8,
    pub auxiliary_id: u8,
    /// `capabilities::*` bits.
    pub capabilities: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SwitchConfig {
    /// `config_flags::*`.
    pub flags: u16,
    pub miss_send_len: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Role {
    /// `role::*`.
    pub role: u32,
    pub generation_id: u64,
}

/// Asynchronous message filters; index 0 is for master/equal, 1 for slave. Each mask has
/// bit n set to receive reason n.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AsyncConfig {
    pub packet_in_mask: [u32; 2],
    pub port_status_mask: [u32; 2],
    pub flow_removed_mask: [u32; 2],
}

// ---------------------------------------------------------------------------------------
// Asynchronous messages

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PacketIn {
    /// `NO_BUFFER` when the whole packet is in `data`.
    pub buffer_id: u32,
    pub total_len: u16,
    /// `packet_in_reason::*`.
    pub reason: u8,
    pub table_id: u8,
    pub cookie: u64,
    pub r#match: Match,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    /// `flow_removed_reason::*`.
    pub reason: u8,
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub r#match: Match,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortStatus {
    /// `port_reason::*`.
    pub reason: u8,
    pub desc: Port,
}

/// `ofp_port`: a port's description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    /// At most 15 bytes (emit truncates; the wire field is 16 bytes NUL-terminated).
    pub name: String,
    /// `port_config::*`.
    pub config: u32,
    /// `port_state::*`.
    pub state: u32,
    /// `port_features::*`.
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    /// kbit/s.
    pub curr_speed: u32,
    pub max_speed: u32,
}

// ---------------------------------------------------------------------------------------
// Controller commands

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PacketOut {
    pub buffer_id: u32,
    pub in_port: u32,
    pub actions: Vec<Action>,
    /// Empty when `buffer_id` names a buffered packet.
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum FlowModCommand {
    Add = 0,
    Modify = 1,
    ModifyStrict = 2,
    Delete = 3,
    DeleteStrict = 4,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowMod {
    pub cookie: u64,
    pub cookie_mask: u64,
    pub table_id: u8,
    pub command: FlowModCommand,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub priority: u16,
    pub buffer_id: u32,
    /// Delete filters (`port_no::ANY` / `group::ANY` = no filter).
    pub out_port: u32,
    pub out_group: u32,
    /// `flow_mod_flags::*`.
    pub flags: u16,
    pub r#match: Match,
    pub instructions: Vec<Instruction>,
}

impl FlowMod {
    /// An ADD in table 0 with priority 0x8000 (the spec's default), no timeouts, no
    /// buffer, no filters and no instructions.
    pub fn add(r#match: Match) -> FlowMod {
        FlowMod {
            cookie: 0,
            cookie_mask: 0,
            table_id: 0,
            command: FlowModCommand::Add,
            idle_timeout: 0,
            hard_timeout: 0,
            priority: 0x8000,
            buffer_id: NO_BUFFER,
            out_port: port_no::ANY,
            out_group: group::ANY,
            flags: 0,
            r#match,
            instructions: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum GroupModCommand {
    Add = 0,
    Modify = 1,
    Delete = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum GroupType {
    All = 0,
    Select = 1,
    Indirect = 2,
    FastFailover = 3,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMod {
    pub command: GroupModCommand,
    pub group_type: GroupType,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// Only for select groups (0 otherwise).
    pub weight: u16,
    /// Only for fast-failover groups (`port_no::ANY` / `group::ANY` otherwise).
    pub watch_port: u32,
    pub watch_group: u32,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMod {
    pub port_no: u32,
    pub hw_addr: [u8; 6],
    pub config: u32,
    pub mask: u32,
    pub advertise: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MeterModCommand {
    Add = 0,
    Modify = 1,
    Delete = 2,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterMod {
    pub command: MeterModCommand,
    /// `meter_flags::*`.
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

/// `ofp_meter_band_*`. Rates in kbit/s or packets/s per the meter's flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MeterBand {
    Drop {
        rate: u32,
        burst: u32,
    },
    DscpRemark {
        rate: u32,
        burst: u32,
        prec_level: u8,
    },
    /// `data`: what follows the experimenter id (a multiple of 8 bytes minus 0 or 4; kept raw).
    Experimenter {
        rate: u32,
        burst: u32,
        experimenter: u32,
        data: Vec<u8>,
    },
}

pub mod meter_band_type {
    pub const DROP: u16 = 1;
    pub const DSCP_REMARK: u16 = 2;
    pub const EXPERIMENTER: u16 = 0xffff;
}

// ---------------------------------------------------------------------------------------
// Match

/// `ofp_match` of type OXM: the fields in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Match {
    pub fields: Vec<OxmField>,
}

impl Match {
    pub fn new(fields: Vec<OxmField>) -> Match {
        Match { fields }
    }

    /// The match-all (no fields).
    pub fn any() -> Match {
        Match::default()
    }
}

/// One OXM TLV of class OPENFLOW_BASIC. `Option` masks: `None` = exact (no mask on the wire).
/// `VlanVid` values include `VID_PRESENT` (0x1000); `Ipv6Flabel` and `MplsLabel` use the low
/// 20 bits, `PbbIsid` the low 24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum OxmField {
    InPort(u32),
    InPhyPort(u32),
    Metadata(u64, Option<u64>),
    EthDst([u8; 6], Option<[u8; 6]>),
    EthSrc([u8; 6], Option<[u8; 6]>),
    EthType(u16),
    VlanVid(u16, Option<u16>),
    VlanPcp(u8),
    IpDscp(u8),
    IpEcn(u8),
    IpProto(u8),
    Ipv4Src(Ipv4Addr, Option<Ipv4Addr>),
    Ipv4Dst(Ipv4Addr, Option<Ipv4Addr>),
    TcpSrc(u16),
    TcpDst(u16),
    UdpSrc(u16),
    UdpDst(u16),
    SctpSrc(u16),
    SctpDst(u16),
    Icmpv4Type(u8),
    Icmpv4Code(u8),
    ArpOp(u16),
    ArpSpa(Ipv4Addr, Option<Ipv4Addr>),
    ArpTpa(Ipv4Addr, Option<Ipv4Addr>),
    ArpSha([u8; 6], Option<[u8; 6]>),
    ArpTha([u8; 6], Option<[u8; 6]>),
    Ipv6Src(Ipv6Addr, Option<Ipv6Addr>),
    Ipv6Dst(Ipv6Addr, Option<Ipv6Addr>),
    Ipv6Flabel(u32, Option<u32>),
    Icmpv6Type(u8),
    Icmpv6Code(u8),
    Ipv6NdTarget(Ipv6Addr),
    Ipv6NdSll([u8; 6]),
    Ipv6NdTll([u8; 6]),
    MplsLabel(u32),
    MplsTc(u8),
    MplsBos(u8),
    PbbIsid(u32, Option<u32>),
    TunnelId(u64, Option<u64>),
    Ipv6Exthdr(u16, Option<u16>),
}

/// `VlanVid` bit meaning "a VLAN tag is present" (`OFPVID_PRESENT`); 0 = `OFPVID_NONE`.
pub const VID_PRESENT: u16 = 0x1000;
pub const VID_NONE: u16 = 0x0000;
/// The OXM class of all `OxmField`s.
pub const OXM_CLASS_OPENFLOW_BASIC: u16 = 0x8000;
pub const OXM_CLASS_EXPERIMENTER: u16 = 0xffff;

/// OXM field numbers of class OPENFLOW_BASIC (`oxm_ofb_match_fields`).
pub mod oxm_field {
    pub const IN_PORT: u8 = 0;
    pub const IN_PHY_PORT: u8 = 1;
    pub const METADATA: u8 = 2;
    pub const ETH_DST: u8 = 3;
    pub const ETH_SRC: u8 = 4;
    pub const ETH_TYPE: u8 = 5;
    pub const VLAN_VID: u8 = 6;
    pub const VLAN_PCP: u8 = 7;
    pub const IP_DSCP: u8 = 8;
    pub const IP_ECN: u8 = 9;
    pub const IP_PROTO: u8 = 10;
    pub const IPV4_SRC: u8 = 11;
    pub const IPV4_DST: u8 = 12;
    pub const TCP_SRC: u8 = 13;
    pub const TCP_DST: u8 = 14;
    pub const UDP_SRC: u8 = 15;
    pub const UDP_DST: u8 = 16;
    pub const SCTP_SRC: u8 = 17;
    pub const SCTP_DST: u8 = 18;
    pub const ICMPV4_TYPE: u8 = 19;
    pub const ICMPV4_CODE: u8 = 20;
    pub const ARP_OP: u8 = 21;
    pub const ARP_SPA: u8 = 22;
    pub const ARP_TPA: u8 = 23;
    pub const ARP_SHA: u8 = 24;
    pub const ARP_THA: u8 = 25;
    pub const IPV6_SRC: u8 = 26;
    pub const IPV6_DST: u8 = 27;
    pub const IPV6_FLABEL: u8 = 28;
    pub const ICMPV6_TYPE: u8 = 29;
    pub const ICMPV6_CODE: u8 = 30;
    pub const IPV6_ND_TARGET: u8 = 31;
    pub const IPV6_ND_SLL: u8 = 32;
    pub const IPV6_ND_TLL: u8 = 33;
    pub const MPLS_LABEL: u8 = 34;
    pub const MPLS_TC: u8 = 35;
    pub const MPLS_BOS: u8 = 36;
    pub const PBB_ISID: u8 = 37;
    pub const TUNNEL_ID: u8 = 38;
    pub const IPV6_EXTHDR: u8 = 39;
}

// ---------------------------------------------------------------------------------------
// Instructions and actions

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Instruction {
    GotoTable(u8),
    WriteMetadata {
        metadata: u64,
        mask: u64,
    },
    WriteActions(Vec<Action>),
    ApplyActions(Vec<Action>),
    ClearActions,
    Meter(u32),
    /// `data`: what follows the experimenter id, raw.
    Experimenter {
        experimenter: u32,
        data: Vec<u8>,
    },
}

pub mod instruction_type {
    pub const GOTO_TABLE: u16 = 1;
    pub const WRITE_METADATA: u16 = 2;
    pub const WRITE_ACTIONS: u16 = 3;
    pub const APPLY_ACTIONS: u16 = 4;
    pub const CLEAR_ACTIONS: u16 = 5;
    pub const METER: u16 = 6;
    pub const EXPERIMENTER: u16 = 0xffff;
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    /// `max_len`: bytes to send for `port_no::CONTROLLER` (`controller_max_len::NO_BUFFER`
    /// = whole packet, unbuffered).
    Output {
        port: u32,
        max_len: u16,
    },
    CopyTtlOut,
    CopyTtlIn,
    SetMplsTtl(u8),
    DecMplsTtl,
    /// The ethertype of the new tag (0x8100 or 0x88a8).
    PushVlan(u16),
    PopVlan,
    PushMpls(u16),
    /// The ethertype of the payload after the pop.
    PopMpls(u16),
    SetQueue(u32),
    Group(u32),
    SetNwTtl(u8),
    DecNwTtl,
    /// A set-field's OXM is never masked (parse rejects masks).
    SetField(OxmField),
    PushPbb(u16),
    PopPbb,
    /// `data`: what follows the experimenter id, raw (padding included).
    Experimenter {
        experimenter: u32,
        data: Vec<u8>,
    },
}

pub mod action_type {
    pub const OUTPUT: u16 = 0;
    pub const COPY_TTL_OUT: u16 = 11;
    pub const COPY_TTL_IN: u16 = 12;
    pub const SET_MPLS_TTL: u16 = 15;
    pub const DEC_MPLS_TTL: u16 = 16;
    pub const PUSH_VLAN: u16 = 17;
    pub const POP_VLAN: u16 = 18;
    pub const PUSH_MPLS: u16 = 19;
    pub const POP_MPLS: u16 = 20;
    pub const SET_QUEUE: u16 = 21;
    pub const GROUP: u16 = 22;
    pub const SET_NW_TTL: u16 = 23;
    pub const DEC_NW_TTL: u16 = 24;
    pub const SET_FIELD: u16 = 25;
    pub const PUSH_PBB: u16 = 26;
    pub const POP_PBB: u16 = 27;
    pub const EXPERIMENTER: u16 = 0xffff;
}

// ---------------------------------------------------------------------------------------
// Multipart

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MultipartRequest {
    /// `multipart_flags::MORE`.
    pub flags: u16,
    pub body: MpRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MpRequest {
    Desc,
    Flow(FlowStatsRequest),
    Aggregate(FlowStatsRequest),
    Table,
    PortStats {
        port_no: u32,
    },
    PortDesc,
    Group {
        group_id: u32,
    },
    GroupDesc,
    GroupFeatures,
    Meter {
        meter_id: u32,
    },
    MeterConfig {
        meter_id: u32,
    },
    MeterFeatures,
    /// The raw `ofp_table_features` list (empty = query).
    TableFeatures(Vec<u8>),
    /// QUEUE, EXPERIMENTER: the type and the raw body.
    Other {
        kind: u16,
        body: Vec<u8>,
    },
}

/// The body of a FLOW or AGGREGATE request (`ofp_flow_stats_request`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowStatsRequest {
    /// `table::ALL` for all tables.
    pub table_id: u8,
    pub out_port: u32,
    pub out_group: u32,
    pub cookie: u64,
    pub cookie_mask: u64,
    pub r#match: Match,
}

impl FlowStatsRequest {
    /// Every flow of every table.
    pub fn all() -> FlowStatsRequest {
        FlowStatsRequest {
            table_id: table::ALL,
            out_port: port_no::ANY,
            out_group: group::ANY,
            cookie: 0,
            cookie_mask: 0,
            r#match: Match::any(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MultipartReply {
    /// `multipart_flags::MORE`.
    pub flags: u16,
    pub body: MpReply,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MpReply {
    Desc(DescStats),
    Flow(Vec<FlowStats>),
    Aggregate(AggregateStats),
    Table(Vec<TableStats>),
    PortStats(Vec<PortStats>),
    PortDesc(Vec<Port>),
    Group(Vec<GroupStats>),
    GroupDesc(Vec<GroupDesc>),
    GroupFeatures(GroupFeatures),
    Meter(Vec<MeterStats>),
    MeterConfig(Vec<MeterConfig>),
    MeterFeatures(MeterFeatures),
    /// The raw `ofp_table_features` list.
    TableFeatures(Vec<u8>),
    Other {
        kind: u16,
        body: Vec<u8>,
    },
}

/// `ofp_desc`: strings of at most 255 bytes (dp_desc too; serial_num at most 31).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DescStats {
    pub mfr_desc: String,
    pub hw_desc: String,
    pub sw_desc: String,
    pub serial_num: String,
    pub dp_desc: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowStats {
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: u16,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub r#match: Match,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AggregateStats {
    pub packet_count: u64,
    pub byte_count: u64,
    pub flow_count: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TableStats {
    pub table_id: u8,
    pub active_count: u32,
    pub lookup_count: u64,
    pub matched_count: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PortStats {
    pub port_no: u32,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BucketCounter {
    pub packet_count: u64,
    pub byte_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupStats {
    pub group_id: u32,
    pub ref_count: u32,
    pub packet_count: u64,
    pub byte_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub bucket_stats: Vec<BucketCounter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupDesc {
    pub group_type: GroupType,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

/// `ofp_group_features`: arrays indexed by `GroupType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GroupFeatures {
    /// Bit n = group type n supported.
    pub types: u32,
    /// `group_capabilities::*`.
    pub capabilities: u32,
    pub max_groups: [u32; 4],
    /// Bit n = action type n supported, per group type.
    pub actions: [u32; 4],
}

pub mod group_capabilities {
    pub const SELECT_WEIGHT: u32 = 1 << 0;
    pub const SELECT_LIVENESS: u32 = 1 << 1;
    pub const CHAINING: u32 = 1 << 2;
    pub const CHAINING_CHECKS: u32 = 1 << 3;
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MeterBandStats {
    pub packet_band_count: u64,
    pub byte_band_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterStats {
    pub meter_id: u32,
    pub flow_count: u32,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub band_stats: Vec<MeterBandStats>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterConfig {
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MeterFeatures {
    pub max_meter: u32,
    /// Bit n = band type n supported.
    pub band_types: u32,
    /// `meter_flags::*` supported.
    pub capabilities: u32,
    pub max_bands: u8,
    pub max_color: u8,
}
