//! A speaker's compiled configuration: what `compile` produces from a node's `bgp:` key and
//! what the `bgp` daemon reads (JSON, `--config PATH`). Everything is resolved: addresses,
//! ASes and policies; the daemon never looks anything up by name.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::policy::Rule;

/// An address family we carry (unicast only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Afi {
    Ipv4,
    Ipv6,
}

/// One speaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeakerConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// Route reflection: the CLUSTER_ID (defaults to the router ID when any peer is a
    /// route-reflector client).
    #[serde(default)]
    pub cluster_id: Option<Ipv4Addr>,
    /// Seconds; 0 disables keepalives and the hold timer (RFC 4271 §4.2).
    pub hold_time: u16,
    /// Seconds; `None`: a third of the negotiated hold time.
    #[serde(default)]
    pub keepalive: Option<u16>,
    /// Seconds between connection attempts.
    pub connect_retry: u16,
    /// Prefixes this speaker originates (ORIGIN IGP, empty AS_PATH).
    pub networks: Vec<IpNet>,
    /// Applied to every peer's routes after the peer's own rules.
    #[serde(default)]
    pub import: Vec<Rule>,
    #[serde(default)]
    pub export: Vec<Rule>,
    pub peers: Vec<PeerConfig>,
    /// Install best routes into the node's kernel table.
    pub fib: bool,
    /// TCP port to listen on (179); 0: do not listen.
    pub listen_port: u16,
}

/// One neighbor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// What views and logs call it: the node (`r2`, `r2:eth1`) or the address as written.
    pub name: String,
    pub address: IpAddr,
    /// The source address of our connections (and the next hop we announce when we set
    /// ourselves); `None`: the kernel's choice.
    #[serde(default)]
    pub local_address: Option<IpAddr>,
    /// The peer's TCP port (179).
    pub port: u16,
    pub remote_as: u32,
    /// Never connect; wait for the peer.
    #[serde(default)]
    pub passive: bool,
    /// eBGP multihop: the TTL of our packets (`None`: 1 for eBGP, 64 for iBGP).
    #[serde(default)]
    pub multihop: Option<u8>,
    /// GTSM (RFC 5082): the peer is at most this many hops away; we send TTL 255 and drop
    /// packets below 256 - hops (IP_MINTTL / IPV6_MINHOPCOUNT).
    #[serde(default)]
    pub ttl_security: Option<u8>,
    /// TCP MD5 signature (RFC 2385, TCP_MD5SIG).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub rr_client: bool,
    #[serde(default)]
    pub next_hop_self: bool,
    /// Families negotiated with this peer (multiprotocol capability).
    pub families: Vec<Afi>,
    /// Applied to routes from this peer (before the speaker-wide rules).
    #[serde(default)]
    pub import: Vec<Rule>,
    /// Applied to routes toward this peer (before the speaker-wide rules).
    #[serde(default)]
    pub export: Vec<Rule>,
    /// Seconds; `None`: the speaker's.
    #[serde(default)]
    pub hold_time: Option<u16>,
    /// Our addresses toward this peer, at most one per family: the next hop we announce
    /// for that family when we set ourselves (a session over IPv4 that carries IPv6 needs
    /// our IPv6 address on the same link, or our IPv6 loopback for iBGP).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_hops: Vec<IpAddr>,
}
