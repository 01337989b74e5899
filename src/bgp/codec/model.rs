//! The message model: what [`super::parse`] gives and [`super::emit`] takes.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The 19-byte header: marker (16 × 0xff), length, type.
pub const HEADER_LEN: usize = 19;
/// The largest message without the extended-message capability (RFC 4271).
pub const MAX_LEN: usize = 4096;
/// The largest message once extended messages are negotiated (RFC 8654).
pub const MAX_EXTENDED_LEN: usize = 65535;
/// AS_TRANS (RFC 6793): what a 2-octet field carries for a 4-octet AS.
pub const AS_TRANS: u16 = 23456;

/// Message type codes.
pub mod kind {
    pub const OPEN: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const NOTIFICATION: u8 = 3;
    pub const KEEPALIVE: u8 = 4;
    pub const ROUTE_REFRESH: u8 = 5;
}

/// An address family: AFI and SAFI (RFC 4760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Family {
    pub afi: u16,
    pub safi: u8,
}

impl Family {
    pub const IPV4_UNICAST: Family = Family { afi: 1, safi: 1 };
    pub const IPV6_UNICAST: Family = Family { afi: 2, safi: 1 };

    /// IPv4 or IPv6 unicast: the families whose NLRI this codec decodes.
    pub fn is_supported(self) -> bool {
        self == Family::IPV4_UNICAST || self == Family::IPV6_UNICAST
    }
}

/// How one direction of a session encodes messages (negotiated in OPEN): both `parse` and
/// `emit` take it. `add_path_rx` lists the families for which the receiver of these bytes
/// takes NLRI with a path identifier (RFC 7911): for parsing, the families we negotiated
/// to receive with path ids; for emitting, the ones the peer negotiated to receive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionParams {
    pub four_octet_as: bool,
    pub add_path_rx: BTreeSet<Family>,
    pub extended_messages: bool,
}

impl SessionParams {
    /// The largest message allowed on this session.
    pub fn max_len(&self) -> usize {
        if self.extended_messages {
            MAX_EXTENDED_LEN
        } else {
            MAX_LEN
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// OPEN (RFC 4271 §4.2). Capabilities are flattened from however many optional parameters
/// carried them; emit puts them all in one Capabilities parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The 2-octet My Autonomous System field (AS_TRANS when the real AS needs 4 octets).
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// The speaker's AS: the 4-octet AS capability when present, else `my_as`.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(a) => Some(*a),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }
}

/// Capability codes (RFC 5492 registry).
pub mod cap {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    pub const EXTENDED_MESSAGE: u8 = 6;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
    pub const ADD_PATH: u8 = 69;
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// RFC 4760.
    Multiprotocol(Family),
    /// RFC 2918.
    RouteRefresh,
    /// RFC 7313.
    EnhancedRouteRefresh,
    /// RFC 6793.
    FourOctetAs(u32),
    /// RFC 4724.
    GracefulRestart(GracefulRestart),
    /// RFC 8654.
    ExtendedMessage,
    /// RFC 7911.
    AddPath(Vec<(Family, AddPathMode)>),
    /// Any other code, kept as received.
    Unknown { code: u8, data: Vec<u8> },
}

/// Graceful restart (RFC 4724 §3): 4 flag bits (R = 0x8, N = 0x4), a 12-bit restart time,
/// and per family its flags byte (F = 0x80, forwarding state preserved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestart {
    pub flags: u8,
    pub restart_time: u16,
    pub families: Vec<(Family, u8)>,
}

/// ADD-PATH Send/Receive field (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddPathMode {
    Receive,
    Send,
    Both,
}

impl AddPathMode {
    pub fn from_u8(v: u8) -> Option<AddPathMode> {
        match v {
            1 => Some(AddPathMode::Receive),
            2 => Some(AddPathMode::Send),
            3 => Some(AddPathMode::Both),
            _ => None,
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            AddPathMode::Receive => 1,
            AddPathMode::Send => 2,
            AddPathMode::Both => 3,
        }
    }
}

/// One prefix, with its ADD-PATH path identifier when the family negotiated one. Bits past
/// the prefix length inside its last octet are kept as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nlri {
    pub path_id: Option<u32>,
    pub prefix: IpNet,
}

/// UPDATE (RFC 4271 §4.3): the IPv4 withdrawn routes and NLRI fields and the path
/// attributes in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    pub withdrawn: Vec<Nlri>,
    pub attrs: Vec<Attr>,
    pub nlri: Vec<Nlri>,
}

/// Attribute type codes.
pub mod attr {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MED: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const LARGE_COMMUNITIES: u8 = 32;
}

/// Attribute flag bits.
pub mod flag {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    Set,
    Sequence,
    ConfedSequence,
    ConfedSet,
}

impl SegmentKind {
    pub fn from_u8(v: u8) -> Option<SegmentKind> {
        match v {
            1 => Some(SegmentKind::Set),
            2 => Some(SegmentKind::Sequence),
            3 => Some(SegmentKind::ConfedSequence),
            4 => Some(SegmentKind::ConfedSet),
            _ => None,
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            SegmentKind::Set => 1,
            SegmentKind::Sequence => 2,
            SegmentKind::ConfedSequence => 3,
            SegmentKind::ConfedSet => 4,
        }
    }
}

/// One AS_PATH segment; emit splits one longer than 255 ASes into several.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Segment {
    pub kind: SegmentKind,
    pub asns: Vec<u32>,
}

/// An aggregator: AS and BGP identifier (AGGREGATOR, AS4_AGGREGATOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: u32,
    pub addr: Ipv4Addr,
}

/// The next hop of MP_REACH_NLRI: one address, and for IPv6 an optional link-local one
/// (RFC 2545). IPv4 unicast may carry an IPv6 next hop (RFC 8950).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MpNextHop {
    pub addr: IpAddr,
    pub link_local: Option<Ipv6Addr>,
}

/// MP_REACH_NLRI for IPv4/IPv6 unicast (others are kept as [`Attr::Unknown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpReach {
    pub family: Family,
    pub next_hop: MpNextHop,
    pub nlri: Vec<Nlri>,
}

/// MP_UNREACH_NLRI for IPv4/IPv6 unicast (others are kept as [`Attr::Unknown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpUnreach {
    pub family: Family,
    pub withdrawn: Vec<Nlri>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    Origin(Origin),
    AsPath(Vec<Segment>),
    NextHop(Ipv4Addr),
    Med(u32),
    LocalPref(u32),
    AtomicAggregate,
    Aggregator(Aggregator),
    Communities(Vec<u32>),
    OriginatorId(Ipv4Addr),
    ClusterList(Vec<Ipv4Addr>),
    MpReach(MpReach),
    MpUnreach(MpUnreach),
    ExtendedCommunities(Vec<[u8; 8]>),
    As4Path(Vec<Segment>),
    As4Aggregator(Aggregator),
    LargeCommunities(Vec<[u32; 3]>),
    /// An optional transitive attribute we do not know (or MP_REACH/UNREACH of a family we
    /// do not decode), kept as received. `flags` holds the top three bits; an optional
    /// transitive one gets PARTIAL, on parse and on emit (RFC 4271 §5: we pass it on
    /// without having recognized it).
    Unknown {
        flags: u8,
        code: u8,
        data: Vec<u8>,
    },
}

impl Attr {
    pub fn code(&self) -> u8 {
        match self {
            Attr::Origin(_) => attr::ORIGIN,
            Attr::AsPath(_) => attr::AS_PATH,
            Attr::NextHop(_) => attr::NEXT_HOP,
            Attr::Med(_) => attr::MED,
            Attr::LocalPref(_) => attr::LOCAL_PREF,
            Attr::AtomicAggregate => attr::ATOMIC_AGGREGATE,
            Attr::Aggregator(_) => attr::AGGREGATOR,
            Attr::Communities(_) => attr::COMMUNITIES,
            Attr::OriginatorId(_) => attr::ORIGINATOR_ID,
            Attr::ClusterList(_) => attr::CLUSTER_LIST,
            Attr::MpReach(_) => attr::MP_REACH_NLRI,
            Attr::MpUnreach(_) => attr::MP_UNREACH_NLRI,
            Attr::ExtendedCommunities(_) => attr::EXTENDED_COMMUNITIES,
            Attr::As4Path(_) => attr::AS4_PATH,
            Attr::As4Aggregator(_) => attr::AS4_AGGREGATOR,
            Attr::LargeCommunities(_) => attr::LARGE_COMMUNITIES,
            Attr::Unknown { code, .. } => *code,
        }
    }
}

/// The flags (optional, transitive) an attribute we know must carry; None for unknown codes.
pub fn expected_flags(code: u8) -> Option<u8> {
    use flag::{OPTIONAL, TRANSITIVE};
    Some(match code {
        attr::ORIGIN | attr::AS_PATH | attr::NEXT_HOP | attr::LOCAL_PREF => TRANSITIVE,
        attr::ATOMIC_AGGREGATE => TRANSITIVE,
        attr::MED | attr::ORIGINATOR_ID | attr::CLUSTER_LIST => OPTIONAL,
        attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI => OPTIONAL,
        attr::AGGREGATOR | attr::COMMUNITIES | attr::EXTENDED_COMMUNITIES => OPTIONAL | TRANSITIVE,
        attr::AS4_PATH | attr::AS4_AGGREGATOR | attr::LARGE_COMMUNITIES => OPTIONAL | TRANSITIVE,
        _ => return None,
    })
}

/// NOTIFICATION (RFC 4271 §4.5); also the error every failed parse returns, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl Notification {
    pub fn new(code: u8, subcode: u8, data: Vec<u8>) -> Notification {
        Notification {
            code,
            subcode,
            data,
        }
    }
}

impl std::fmt::Display for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BGP NOTIFICATION {}/{}", self.code, self.subcode)
    }
}

impl std::error::Error for Notification {}

/// NOTIFICATION error codes and subcodes (RFC 4271 §4.5, RFC 7313, RFC 4486).
pub mod err {
    pub const MESSAGE_HEADER: u8 = 1;
    pub const OPEN_MESSAGE: u8 = 2;
    pub const UPDATE_MESSAGE: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH: u8 = 7;

    pub mod header {
        pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
        pub const BAD_MESSAGE_LENGTH: u8 = 2;
        pub const BAD_MESSAGE_TYPE: u8 = 3;
    }
    pub mod open {
        pub const UNSPECIFIC: u8 = 0;
        pub const UNSUPPORTED_VERSION: u8 = 1;
        pub const BAD_PEER_AS: u8 = 2;
        pub const BAD_BGP_IDENTIFIER: u8 = 3;
        pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
        pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
        pub const UNSUPPORTED_CAPABILITY: u8 = 7;
    }
    pub mod update {
        pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
        pub const UNRECOGNIZED_WELL_KNOWN: u8 = 2;
        pub const MISSING_WELL_KNOWN: u8 = 3;
        pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
        pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
        pub const INVALID_ORIGIN: u8 = 6;
        pub const INVALID_NEXT_HOP: u8 = 8;
        pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
        pub const INVALID_NETWORK_FIELD: u8 = 10;
        pub const MALFORMED_AS_PATH: u8 = 11;
    }
    /// RFC 6608.
    pub mod fsm {
        pub const UNSPECIFIED: u8 = 0;
        pub const UNEXPECTED_IN_OPEN_SENT: u8 = 1;
        pub const UNEXPECTED_IN_OPEN_CONFIRM: u8 = 2;
        pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
    }
    /// RFC 4486, RFC 8538 (hard reset).
    pub mod cease {
        pub const MAX_PREFIXES: u8 = 1;
        pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
        pub const PEER_DECONFIGURED: u8 = 3;
        pub const ADMINISTRATIVE_RESET: u8 = 4;
        pub const CONNECTION_REJECTED: u8 = 5;
        pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
        pub const CONNECTION_COLLISION: u8 = 7;
        pub const OUT_OF_RESOURCES: u8 = 8;
        pub const HARD_RESET: u8 = 9;
    }
    pub mod route_refresh {
        pub const INVALID_MESSAGE_LENGTH: u8 = 1;
    }
}

/// ROUTE-REFRESH (RFC 2918) with the RFC 7313 subtype (0 request, 1 BoRR, 2 EoRR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefresh {
    pub family: Family,
    pub subtype: u8,
}
