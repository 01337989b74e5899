//! Path attributes as the speaker keeps them: one decoded set per distinct combination,
//! shared (interned) between every prefix that carries it, so a full table costs one
//! `Arc` per route plus one `PathAttrs` per distinct path.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use super::codec::{Aggregator, Origin, Segment};

/// The attributes of one path, decoded. MP_REACH/MP_UNREACH are not here (they carry
/// prefixes); AS4_PATH and AS4_AGGREGATOR are already reconciled into `as_path` and
/// `aggregator` (RFC 6793 §4.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathAttrs {
    pub origin: Origin,
    pub as_path: Vec<Segment>,
    /// NEXT_HOP, or MP_REACH's next hop (global address).
    pub next_hop: IpAddr,
    /// RFC 2545: an IPv6 link-local next hop beside the global one.
    pub next_hop_link_local: Option<std::net::Ipv6Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    /// RFC 1997, in received order.
    pub communities: Vec<u32>,
    /// RFC 8092.
    pub large_communities: Vec<[u32; 3]>,
    /// RFC 4360, as received.
    pub ext_communities: Vec<[u8; 8]>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    /// Optional transitive attributes we do not know: (flags, code, data), passed on with
    /// the PARTIAL bit.
    pub unknown: Vec<(u8, u8, Vec<u8>)>,
}

/// Well-known communities (RFC 1997, RFC 3765, RFC 7999).
pub mod community {
    pub const NO_EXPORT: u32 = 0xFFFF_FF01;
    pub const NO_ADVERTISE: u32 = 0xFFFF_FF02;
    pub const NO_EXPORT_SUBCONFED: u32 = 0xFFFF_FF03;
    pub const NO_PEER: u32 = 0xFFFF_FF04;
    pub const BLACKHOLE: u32 = 0xFFFF_029A;
}

/// What views print for an origin.
pub fn origin_name(o: Origin) -> &'static str {
    match o {
        Origin::Igp => "igp",
        Origin::Egp => "egp",
        Origin::Incomplete => "incomplete",
    }
}

/// A route as views and the JSON control protocol show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteView {
    pub prefix: String,
    pub next_hop: String,
    /// ASes in order, sets as `{a,b}`.
    pub as_path: String,
    pub origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    /// `65000:100`, and the well-known names (`no-export` …).
    pub communities: Vec<String>,
    /// `65000:1:2`.
    pub large_communities: Vec<String>,
    /// The peer it came from (its name), or `local`.
    pub source: String,
    /// Best path in the Loc-RIB.
    pub best: bool,
    /// Seconds since it was received or last changed.
    pub age_s: f64,
}
