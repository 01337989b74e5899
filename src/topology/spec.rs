//! The topology file as written: serde types that mirror the YAML, one to one.
//!
//! These types say what *shape* a file may have and nothing more: every struct denies
//! unknown keys, and every value that a later error may need to point at is wrapped in
//! [`Spanned`], so `check` can report the exact line and column. Meaning (unit parsing,
//! name rules, references between nodes and links, generator expansion) lives in `check`.
//!
//! ```text
//!   YAML text ──serde-saphyr──▶ Spec ──check──▶ Topology (model.rs)
//! ```
//!
//! Values with two spellings (a link as `[a, b]` or as a mapping, a loss as `1%` or as a
//! mapping, a pool as a CIDR or as `{pool, prefix}`) have hand-written `Deserialize` impls
//! that switch on the YAML node type with a visitor. serde's `untagged` would buffer the
//! input and lose every span inside it; a visitor hands the long form straight to the
//! derived impl through [`MapAccessDeserializer`], so nested [`Spanned`] values keep theirs.
//! Maps whose order matters (nodes, sysctls, link addresses) are read into [`Entries`], a
//! vector of pairs in file order; duplicate keys are rejected by the YAML parser.
//!
//! The JSON schema (`json_schema()`) is derived from these same types: `Spanned<T>` fields
//! say `#[schemars(with = "T")]`, and the hand-deserialized types borrow the schema of a
//! small "forms" type that spells out their alternatives.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::model::{ControllerApp, FailMode, Span};
use super::service::{RestartPolicy, RoutesMode, StopSignal};

/// A whole topology file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "topolab topology")]
pub struct Spec {
    /// Lab name: `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 40 bytes.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Lab-wide defaults for links.
    #[serde(default)]
    pub defaults: Option<DefaultsSpec>,
    /// Automatic address pools.
    #[serde(default)]
    pub addressing: Option<AddressingSpec>,
    /// Node name → node; an empty value is a host.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, Option<NodeSpec>>>")]
    pub nodes: Option<Entries<Spanned<Option<NodeSpec>>>>,
    /// Links, as `[a, b]` or as a mapping with `endpoints:` and settings.
    #[serde(default)]
    #[schemars(with = "Option<Vec<LinkSpec>>")]
    pub links: Option<Vec<Spanned<LinkSpec>>>,
    /// Generated topologies (Mininet-style), each entry with exactly one generator key.
    #[serde(default)]
    #[schemars(with = "Option<Vec<GeneratorSpec>>")]
    pub generate: Option<Vec<Spanned<GeneratorSpec>>>,
    /// Management network: `true`, or `{ipv4: CIDR, ipv6: CIDR, host: true}` (default off).
    #[serde(default)]
    #[schemars(with = "Option<MgmtSpec>")]
    pub mgmt: Option<Spanned<MgmtSpec>>,
    /// Labs across machines: node name → shard (0-based), pinning the node to that shard;
    /// the planner places the other nodes (`topolab plan --shards N`).
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, u32>>")]
    pub placement: Option<Entries<Spanned<u64>>>,
}

/// `mgmt: true|false` or the long form.
#[derive(Debug)]
pub enum MgmtSpec {
    On(bool),
    Long(MgmtLong),
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MgmtLong {
    /// IPv4 pool of the management network (default 192.168.200.0/22).
    #[schemars(with = "Option<String>")]
    pub ipv4: Option<Spanned<String>>,
    /// IPv6 pool of the management network (default fd00:0:ee::/64).
    #[schemars(with = "Option<String>")]
    pub ipv6: Option<Spanned<String>>,
    /// A veth into the root namespace, so tools on the machine reach every node.
    pub host: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultsSpec {
    /// MTU of every link that does not set its own (68..=65535, default 1500).
    #[schemars(with = "Option<u32>")]
    pub mtu: Option<Spanned<u64>>,
    /// Engine for impaired links (default `auto`).
    pub engine: Option<EngineSpec>,
    /// Lab seed; per-link seeds derive from it (default 1).
    pub seed: Option<u64>,
    /// Routes of hosts and routers: `static` (default) or `connected`.
    #[schemars(with = "Option<RoutesMode>")]
    pub routes: Option<Spanned<RoutesMode>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EngineSpec {
    Auto,
    Kernel,
    Userspace,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressingSpec {
    /// Give L3 interfaces IPv4 addresses (default true).
    pub ipv4: Option<bool>,
    /// Give L3 interfaces IPv6 addresses (default true).
    pub ipv6: Option<bool>,
    /// Switch segments (default 10.0.0.0/8, carved into /24s).
    #[schemars(with = "Option<PoolSpec>")]
    pub lan4: Option<Spanned<PoolSpec>>,
    /// Switch segments (default fd00:0:1::/48, carved into /64s).
    #[schemars(with = "Option<PoolSpec>")]
    pub lan6: Option<Spanned<PoolSpec>>,
    /// Router-to-router links (default 172.16.0.0/12, carved into /30s).
    #[schemars(with = "Option<PoolSpec>")]
    pub p2p4: Option<Spanned<PoolSpec>>,
    /// Router-to-router links (default fd00:0:2::/48, carved into /64s).
    #[schemars(with = "Option<PoolSpec>")]
    pub p2p6: Option<Spanned<PoolSpec>>,
    /// Router loopbacks (default 192.168.255.0/24, one /32 each).
    #[schemars(with = "Option<PoolSpec>")]
    pub loopback4: Option<Spanned<PoolSpec>>,
    /// Router loopbacks (default fd00:0:ff::/64, one /128 each).
    #[schemars(with = "Option<PoolSpec>")]
    pub loopback6: Option<Spanned<PoolSpec>>,
}

/// An address pool: `10.0.0.0/8` (default carve prefix) or `{pool: 10.0.0.0/8, prefix: 24}`.
#[derive(Debug)]
pub enum PoolSpec {
    Short(String),
    Long(PoolLong),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolLong {
    /// The pool, in CIDR notation, without host bits.
    #[schemars(with = "String")]
    pub pool: Spanned<String>,
    /// Prefix length of each carved subnet.
    #[schemars(with = "Option<u8>")]
    pub prefix: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeKindSpec {
    Host,
    Router,
    Switch,
    /// An OpenFlow 1.3 switch (the built-in daemon).
    Ofswitch,
    /// An OpenFlow controller (the built-in daemon).
    Controller,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// host (default), router, switch, ofswitch or controller.
    #[schemars(with = "Option<NodeKindSpec>")]
    pub kind: Option<Spanned<NodeKindSpec>>,
    /// Switches only: run the kernel's spanning tree.
    #[schemars(with = "Option<bool>")]
    pub stp: Option<Spanned<bool>>,
    /// Loopback addresses (`10.255.0.1/32`, or a bare address for a host route).
    #[schemars(with = "Option<StrList>")]
    pub loopback: Option<Spanned<StrList>>,
    /// Sysctls set inside the node's namespace: key → string, number or bool.
    #[schemars(with = "Option<BTreeMap<String, Scalar>>")]
    pub sysctl: Option<Entries<Spanned<Scalar>>>,
    /// Services started inside the namespace: a shell command, or a mapping
    /// (`{name, cmd | daemon, port, ready, restart, stop_signal, grace}`), or a list of them.
    #[schemars(with = "Option<RunSpec>")]
    pub run: Option<Spanned<RunSpec>>,
    /// Routers and hosts: `static` (compiled routes) or `connected` (a daemon routes).
    #[schemars(with = "Option<RoutesMode>")]
    pub routes: Option<Spanned<RoutesMode>>,
    /// CPU share of one core, like `0.5` (0 < cpu ≤ 1024).
    #[schemars(with = "Option<Scalar>")]
    pub cpu: Option<Spanned<Scalar>>,
    /// Memory limit with a unit, like `256MiB` (at least 4MiB).
    #[schemars(with = "Option<Scalar>")]
    pub memory: Option<Spanned<Scalar>>,
    /// Directories the node gets its own copy of, like `[/etc/frr, /var/run/frr]`.
    #[schemars(with = "Option<StrList>")]
    pub private_dirs: Option<Spanned<StrList>>,
    /// Files placed in the private dirs: absolute path → `{content: …}` or `{path: …}`.
    #[schemars(with = "Option<BTreeMap<String, FileSpec>>")]
    pub files: Option<Entries<Spanned<FileSpec>>>,
    /// ofswitch: its controller(s): a `controller` node of the lab, or `tcp:IP:PORT`
    /// (`tcp:127.0.0.1:PORT` is the machine's own loopback), or a list of them.
    #[schemars(with = "Option<StrList>")]
    pub controller: Option<Spanned<StrList>>,
    /// ofswitch: datapath id, an integer or a hex string (`0x1a`, `00:00:00:00:00:00:00:1a`);
    /// default: its position among the lab's ofswitch nodes + 1.
    #[schemars(with = "Option<Scalar>")]
    pub dpid: Option<Spanned<Scalar>>,
    /// ofswitch: `secure` (default with a controller) or `standalone` (default without).
    #[schemars(with = "Option<FailMode>")]
    pub fail_mode: Option<Spanned<FailMode>>,
    /// controller: `hub`, `learning` (default) or `shortest-path`.
    #[schemars(with = "Option<ControllerApp>")]
    pub app: Option<Spanned<ControllerApp>>,
    /// controller: the TCP port it listens on (default 6653).
    #[schemars(with = "Option<u16>")]
    pub listen: Option<Spanned<u64>>,
    /// routers and hosts: the built-in BGP speaker (`{asn, router_id, neighbors, networks,
    /// import, export, timers, route_reflector, fib}`).
    #[schemars(with = "Option<BgpSpec>")]
    pub bgp: Option<Spanned<BgpSpec>>,
}

/// `bgp:` — the node runs the built-in BGP speaker (see `bgp_check`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BgpSpec {
    /// The node's AS: 1 ..= 4294967295, not 23456 (AS_TRANS).
    #[schemars(with = "u32")]
    pub asn: Spanned<u64>,
    /// An IPv4 address (default: the node's first IPv4 loopback, else its lowest IPv4
    /// interface address).
    #[schemars(with = "Option<String>")]
    pub router_id: Option<Spanned<String>>,
    /// `auto`, or a list of peers (`{address: IP, remote_as: N}`, `{node: r2}`,
    /// `{node: "r2:eth1"}`) in which the item `auto` adds the automatic sessions.
    #[schemars(with = "Option<forms::Neighbors>")]
    pub neighbors: Option<Spanned<NeighborsSpec>>,
    /// With `neighbors: auto`: this router reflects routes for the other routers of its AS.
    #[schemars(with = "Option<bool>")]
    pub route_reflector: Option<Spanned<bool>>,
    /// Prefixes to originate (default: the node's host-facing subnets and loopbacks).
    #[schemars(with = "Option<StrList>")]
    pub networks: Option<Spanned<StrList>>,
    /// Policy for routes from every peer (after the peer's own rules).
    #[schemars(with = "Option<Vec<forms::Rule>>")]
    pub import: Option<Spanned<Vec<Spanned<RuleSpec>>>>,
    /// Policy for routes to every peer (after the peer's own rules).
    #[schemars(with = "Option<Vec<forms::Rule>>")]
    pub export: Option<Spanned<Vec<Spanned<RuleSpec>>>>,
    /// Seconds: `{hold: 9, keepalive: 3, connect_retry: 2}` (the defaults).
    #[schemars(with = "Option<TimersSpec>")]
    pub timers: Option<Spanned<TimersSpec>>,
    /// Install best routes into the node's kernel table (default true).
    #[schemars(with = "Option<bool>")]
    pub fib: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimersSpec {
    /// Hold time (0, or 3 ..= 65535; default 9).
    #[schemars(with = "Option<u16>")]
    pub hold: Option<Spanned<u64>>,
    /// Keepalive interval (default a third of the hold time).
    #[schemars(with = "Option<u16>")]
    pub keepalive: Option<Spanned<u64>>,
    /// Seconds between connection attempts (default 2).
    #[schemars(with = "Option<u16>")]
    pub connect_retry: Option<Spanned<u64>>,
}

/// `neighbors: auto` or a list.
#[derive(Debug)]
pub enum NeighborsSpec {
    /// The scalar as written (only `auto` is valid; `check` says so).
    Word(String),
    List(Vec<Spanned<NeighborItem>>),
}

/// One `neighbors:` item: the word `auto`, or a peer.
#[derive(Debug)]
pub enum NeighborItem {
    Word(String),
    Peer(Box<NeighborSpec>),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NeighborSpec {
    /// The peer's address (then `remote_as` is required).
    #[schemars(with = "Option<String>")]
    pub address: Option<Spanned<String>>,
    /// A node of the lab with `bgp:`, or `node:iface` (that interface's address).
    #[schemars(with = "Option<String>")]
    pub node: Option<Spanned<String>>,
    /// The peer's AS (a node peer's is its `bgp.asn`).
    #[schemars(with = "Option<u32>")]
    pub remote_as: Option<Spanned<u64>>,
    /// Never connect; wait for the peer.
    #[schemars(with = "Option<bool>")]
    pub passive: Option<Spanned<bool>>,
    /// eBGP multihop: the TTL of our packets (1–255).
    #[schemars(with = "Option<u8>")]
    pub multihop: Option<Spanned<u64>>,
    /// GTSM: the peer is at most this many hops away (1–254).
    #[schemars(with = "Option<u8>")]
    pub ttl_security: Option<Spanned<u64>>,
    /// TCP MD5 signature key (1–80 bytes).
    #[schemars(with = "Option<String>")]
    pub password: Option<Spanned<String>>,
    /// The peer is our route-reflector client.
    #[schemars(with = "Option<bool>")]
    pub rr_client: Option<Spanned<bool>>,
    /// Announce ourselves as the next hop to this peer.
    #[schemars(with = "Option<bool>")]
    pub next_hop_self: Option<Spanned<bool>>,
    /// `[ipv4, ipv6]` (default: the families both ends have addresses of).
    #[schemars(with = "Option<Vec<String>>")]
    pub families: Option<Spanned<Vec<Spanned<String>>>>,
    #[schemars(with = "Option<Vec<forms::Rule>>")]
    pub import: Option<Spanned<Vec<Spanned<RuleSpec>>>>,
    #[schemars(with = "Option<Vec<forms::Rule>>")]
    pub export: Option<Spanned<Vec<Spanned<RuleSpec>>>>,
    /// Seconds (default: the speaker's).
    #[schemars(with = "Option<u16>")]
    pub hold_time: Option<Spanned<u64>>,
    /// The peer's TCP port (default 179).
    #[schemars(with = "Option<u16>")]
    pub port: Option<Spanned<u64>>,
    /// Our source address for this session.
    #[schemars(with = "Option<String>")]
    pub local_address: Option<Spanned<String>>,
}

/// One policy rule as written (`{match: {…}, set: {…}, action: accept|reject}`). The keys
/// inside `match` and `set` are kept as written so that an error in one points at it;
/// `bgp_check` turns them into a [`crate::bgp::policy::Rule`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default, rename = "match")]
    pub matches: Option<Spanned<Entries<Spanned<PolicyValue>>>>,
    #[serde(default)]
    pub set: Option<Spanned<Entries<Spanned<PolicyValue>>>>,
    #[serde(default)]
    pub action: Option<Spanned<String>>,
}

/// A value inside a rule's `match` or `set`: a scalar, or a list of scalars.
#[derive(Debug)]
pub enum PolicyValue {
    One(Scalar),
    Many(Vec<Spanned<Scalar>>),
}

/// A placed file: its text inline, or a file relative to the topology.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The file's text.
    #[schemars(with = "Option<String>")]
    pub content: Option<Spanned<String>>,
    /// A file to copy, relative to the topology file.
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
}

/// `run:` — one item or a list of items.
#[derive(Debug)]
pub enum RunSpec {
    One(RunItem),
    Many(Vec<Spanned<RunItem>>),
}

/// One `run:` item: a shell command, or the long form.
#[derive(Debug)]
pub enum RunItem {
    Short(String),
    Long(Box<ServiceSpec>),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// 1–32 characters of `[A-Za-z0-9_-]` (default: the program's name).
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// A shell command (exactly one of `cmd` and `daemon`).
    #[schemars(with = "Option<String>")]
    pub cmd: Option<Spanned<String>>,
    /// A built-in daemon kind, like `echo`.
    #[schemars(with = "Option<String>")]
    pub daemon: Option<Spanned<String>>,
    /// The built-in daemon's port.
    #[schemars(with = "Option<u16>")]
    pub port: Option<Spanned<u64>>,
    /// Readiness: exactly one of `tcp_port`, `udp_port`, `command`, `file`, `log`.
    #[schemars(with = "Option<ReadySpec>")]
    pub ready: Option<Spanned<ReadySpec>>,
    #[schemars(with = "Option<RestartPolicy>")]
    pub restart: Option<Spanned<RestartPolicy>>,
    #[schemars(with = "Option<StopSignal>")]
    pub stop_signal: Option<Spanned<StopSignal>>,
    /// SIGKILL after this long (default 2s, at most 60s).
    #[schemars(with = "Option<Scalar>")]
    pub grace: Option<Spanned<Scalar>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadySpec {
    #[schemars(with = "Option<u16>")]
    pub tcp_port: Option<Spanned<u64>>,
    #[schemars(with = "Option<u16>")]
    pub udp_port: Option<Spanned<u64>>,
    /// A shell command that exits 0 once the service is ready.
    #[schemars(with = "Option<String>")]
    pub command: Option<Spanned<String>>,
    /// A path that exists once the service is ready.
    #[schemars(with = "Option<String>")]
    pub file: Option<Spanned<String>>,
    /// A regular expression matching a line of the service's output.
    #[schemars(with = "Option<String>")]
    pub log: Option<Spanned<String>>,
}

/// A link: `[a, b]` or a mapping (see [`LinkLong`]).
#[derive(Debug)]
pub enum LinkSpec {
    Short(Vec<Spanned<String>>),
    Long(Box<LinkLong>),
}

/// The long form of a link: endpoints plus settings. The impairment keys at this level
/// apply to both directions; `a_to_b` / `b_to_a` override them key by key.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkLong {
    /// Exactly two endpoints, `node` or `node:iface`.
    #[schemars(with = "[String; 2]")]
    pub endpoints: Spanned<Vec<Spanned<String>>>,
    /// This link's MTU (68..=65535).
    #[schemars(with = "Option<u32>")]
    pub mtu: Option<Spanned<u64>>,
    /// Explicit addresses per endpoint node: at most one per address family.
    #[schemars(with = "Option<BTreeMap<String, StrList>>")]
    pub addresses: Option<Entries<Spanned<StrList>>>,
    #[schemars(with = "Option<EngineSpec>")]
    pub engine: Option<Spanned<EngineSpec>>,
    /// Seed of this link's random choices (default: derived from the lab seed).
    pub seed: Option<u64>,
    /// Overrides for the direction from the first endpoint to the second.
    #[schemars(with = "Option<ImpairmentSpec>")]
    pub a_to_b: Option<Spanned<ImpairmentSpec>>,
    /// Overrides for the direction from the second endpoint to the first.
    #[schemars(with = "Option<ImpairmentSpec>")]
    pub b_to_a: Option<Spanned<ImpairmentSpec>>,
    /// Rate in bits per second: `100mbit`, `1gbit`, `64kbit` (`bps` means bits too).
    #[schemars(with = "Option<Scalar>")]
    pub rate: Option<Spanned<Scalar>>,
    /// Token bucket size in bytes: `32KB`, `64KiB`.
    #[schemars(with = "Option<Scalar>")]
    pub burst: Option<Spanned<Scalar>>,
    /// Queue limit: packets (`100`, `100p`) or bytes (`64KB`).
    #[schemars(with = "Option<Scalar>")]
    pub queue: Option<Spanned<Scalar>>,
    /// One-way delay: `10ms`, `1.5ms`, `250us`.
    #[schemars(with = "Option<Scalar>")]
    pub delay: Option<Spanned<Scalar>>,
    /// Delay variation; needs `delay`.
    #[schemars(with = "Option<Scalar>")]
    pub jitter: Option<Spanned<Scalar>>,
    #[schemars(with = "Option<DistributionSpec>")]
    pub distribution: Option<Spanned<DistributionSpec>>,
    #[schemars(with = "Option<LossSpec>")]
    pub loss: Option<Spanned<LossSpec>>,
    /// Percentage of packets duplicated.
    #[schemars(with = "Option<Scalar>")]
    pub duplicate: Option<Spanned<Scalar>>,
    /// Percentage of packets with a flipped bit.
    #[schemars(with = "Option<Scalar>")]
    pub corrupt: Option<Spanned<Scalar>>,
    #[schemars(with = "Option<ReorderSpec>")]
    pub reorder: Option<Spanned<ReorderSpec>>,
    /// Mahimahi delivery trace, relative to the topology file's directory.
    #[schemars(with = "Option<String>")]
    pub trace: Option<Spanned<String>>,
}

impl LinkLong {
    /// The impairment keys written at link level (they apply to both directions).
    pub fn both(&self) -> ImpairmentSpec {
        ImpairmentSpec {
            rate: self.rate.clone(),
            burst: self.burst.clone(),
            queue: self.queue.clone(),
            delay: self.delay.clone(),
            jitter: self.jitter.clone(),
            distribution: self.distribution.clone(),
            loss: self.loss.clone(),
            duplicate: self.duplicate.clone(),
            corrupt: self.corrupt.clone(),
            reorder: self.reorder.clone(),
            trace: self.trace.clone(),
        }
    }
}

/// One direction's impairments (`a_to_b`, `b_to_a`); same keys and units as on the link.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpairmentSpec {
    #[schemars(with = "Option<Scalar>")]
    pub rate: Option<Spanned<Scalar>>,
    #[schemars(with = "Option<Scalar>")]
    pub burst: Option<Spanned<Scalar>>,
    #[schemars(with = "Option<Scalar>")]
    pub queue: Option<Spanned<Scalar>>,
    #[schemars(with = "Option<Scalar>")]
    pub delay: Option<Spanned<Scalar>>,
    #[schemars(with = "Option<Scalar>")]
    pub jitter: Option<Spanned<Scalar>>,
    #[schemars(with = "Option<DistributionSpec>")]
    pub distribution: Option<Spanned<DistributionSpec>>,
    #[schemars(with = "Option<LossSpec>")]
    pub loss: Option<Spanned<LossSpec>>,
    #[schemars(with = "Option<Scalar>")]
    pub duplicate: Option<Spanned<Scalar>>,
    #[schemars(with = "Option<Scalar>")]
    pub corrupt: Option<Spanned<Scalar>>,
    #[schemars(with = "Option<ReorderSpec>")]
    pub reorder: Option<Spanned<ReorderSpec>>,
    #[schemars(with = "Option<String>")]
    pub trace: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DistributionSpec {
    Uniform,
    Normal,
    Pareto,
    Paretonormal,
}

/// Loss: `1%`, `{percent: 1%, correlation: 25%}` or `{gilbert_elliott: {p, r, …}}`.
#[derive(Debug, Clone)]
pub enum LossSpec {
    Short(Scalar),
    Long(Box<LossLong>),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LossLong {
    /// Random loss percentage.
    #[schemars(with = "Option<Scalar>")]
    pub percent: Option<Spanned<Scalar>>,
    /// netem-style correlation of successive drops.
    #[schemars(with = "Option<Scalar>")]
    pub correlation: Option<Spanned<Scalar>>,
    /// Two-state loss model instead of `percent`.
    #[schemars(with = "Option<GilbertElliottSpec>")]
    pub gilbert_elliott: Option<Spanned<GilbertElliottSpec>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GilbertElliottSpec {
    /// Probability of moving from the good to the bad state.
    #[schemars(with = "Scalar")]
    pub p: Spanned<Scalar>,
    /// Probability of moving from the bad to the good state.
    #[schemars(with = "Scalar")]
    pub r: Spanned<Scalar>,
    /// Loss in the bad state (default 100%).
    #[schemars(with = "Option<Scalar>")]
    pub bad_loss: Option<Spanned<Scalar>>,
    /// Loss in the good state (default 0%).
    #[schemars(with = "Option<Scalar>")]
    pub good_loss: Option<Spanned<Scalar>>,
}

/// Reordering: `5%` or `{percent: 5%, gap: 3}`.
#[derive(Debug, Clone)]
pub enum ReorderSpec {
    Short(Scalar),
    Long(ReorderLong),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderLong {
    #[schemars(with = "Scalar")]
    pub percent: Spanned<Scalar>,
    /// Every `gap`-th packet is eligible.
    #[schemars(with = "Option<u32>")]
    pub gap: Option<Spanned<u64>>,
}

/// One `generate:` entry: a mapping that should hold exactly one generator key. Every key
/// is kept (known ones parsed, unknown ones as `None`) so that `check` can point at an
/// unknown or extra key itself.
#[derive(Debug)]
pub struct GeneratorSpec {
    pub entries: Vec<(Spanned<String>, Option<GeneratorKind>)>,
}

/// The generator keys `GeneratorSpec` understands.
pub const GENERATORS: &[&str] = &["star", "linear", "tree", "ring", "torus", "fattree", "ases"];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GeneratorKind {
    /// Mininet SingleSwitchTopo: `s1` and hosts `h1..hN`.
    Star(StarSpec),
    /// Mininet LinearTopo: a chain of switches with hosts on each.
    Linear(ChainSpec),
    /// Mininet TreeTopo.
    Tree(TreeSpec),
    /// A linear topology closed into a ring (at least 3 switches).
    Ring(ChainSpec),
    /// Mininet TorusTopo: an x × y grid of switches closed into a torus, hosts on each.
    Torus(TorusSpec),
    /// A k-ary fat tree (k even).
    Fattree(FatTreeSpec),
    /// BGP routers in several ASes (`neighbors: auto`), each AS a ring with a host or more.
    Ases(AsesSpec),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AsesSpec {
    /// How many ASes.
    #[schemars(with = "u32")]
    pub ases: Spanned<u64>,
    /// Routers per AS (default 5), joined in a ring (a line for 2).
    #[schemars(with = "Option<u32>")]
    pub routers_per_as: Option<Spanned<u64>>,
    /// Hosts per AS (default 1).
    #[schemars(with = "Option<u32>")]
    pub hosts_per_as: Option<Spanned<u64>>,
    /// The first AS's number (default 65001); the others count on.
    #[schemars(with = "Option<u32>")]
    pub first_asn: Option<Spanned<u64>>,
    /// The first router of each AS reflects routes for the others (default true; false:
    /// iBGP full mesh).
    #[schemars(with = "Option<bool>")]
    pub route_reflector: Option<Spanned<bool>>,
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StarSpec {
    #[schemars(with = "u32")]
    pub hosts: Spanned<u64>,
    /// Prepended to every generated name.
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
    /// `ofswitch`: the generated switches are OpenFlow switches (default `switch`).
    #[schemars(with = "Option<SwitchKindSpec>")]
    pub switch_kind: Option<Spanned<SwitchKindSpec>>,
    /// With `switch_kind: ofswitch`: the switches' `controller:`.
    #[schemars(with = "Option<StrList>")]
    pub controller: Option<Spanned<StrList>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    #[schemars(with = "u32")]
    pub switches: Spanned<u64>,
    /// Default 1.
    #[schemars(with = "Option<u32>")]
    pub hosts_per_switch: Option<Spanned<u64>>,
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
    /// `ofswitch`: the generated switches are OpenFlow switches (default `switch`).
    #[schemars(with = "Option<SwitchKindSpec>")]
    pub switch_kind: Option<Spanned<SwitchKindSpec>>,
    /// With `switch_kind: ofswitch`: the switches' `controller:`.
    #[schemars(with = "Option<StrList>")]
    pub controller: Option<Spanned<StrList>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TreeSpec {
    #[schemars(with = "u32")]
    pub depth: Spanned<u64>,
    #[schemars(with = "u32")]
    pub fanout: Spanned<u64>,
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
    /// `ofswitch`: the generated switches are OpenFlow switches (default `switch`).
    #[schemars(with = "Option<SwitchKindSpec>")]
    pub switch_kind: Option<Spanned<SwitchKindSpec>>,
    /// With `switch_kind: ofswitch`: the switches' `controller:`.
    #[schemars(with = "Option<StrList>")]
    pub controller: Option<Spanned<StrList>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TorusSpec {
    /// Switches along the first dimension (at least 3).
    #[schemars(with = "u32")]
    pub x: Spanned<u64>,
    /// Switches along the second dimension (at least 3).
    #[schemars(with = "u32")]
    pub y: Spanned<u64>,
    /// Default 1.
    #[schemars(with = "Option<u32>")]
    pub hosts_per_switch: Option<Spanned<u64>>,
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
    /// `ofswitch`: the generated switches are OpenFlow switches (default `switch`).
    #[schemars(with = "Option<SwitchKindSpec>")]
    pub switch_kind: Option<Spanned<SwitchKindSpec>>,
    /// With `switch_kind: ofswitch`: the switches' `controller:`.
    #[schemars(with = "Option<StrList>")]
    pub controller: Option<Spanned<StrList>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FatTreeSpec {
    #[schemars(with = "u32")]
    pub k: Spanned<u64>,
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
    /// `ofswitch`: the generated switches are OpenFlow switches (default `switch`).
    #[schemars(with = "Option<SwitchKindSpec>")]
    pub switch_kind: Option<Spanned<SwitchKindSpec>>,
    /// With `switch_kind: ofswitch`: the switches' `controller:`.
    #[schemars(with = "Option<StrList>")]
    pub controller: Option<Spanned<StrList>>,
}

/// The kind of a generator's switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SwitchKindSpec {
    Switch,
    Ofswitch,
}

/// A scalar kept as text: a string, or a number or bool written without quotes (`0`,
/// `1500`, `true`). Units and meaning are `check`'s business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

/// One string or a list of strings.
#[derive(Debug, Clone)]
pub enum StrList {
    /// Its span is the enclosing `Spanned`'s.
    One(String),
    Many(Vec<Spanned<String>>),
}

/// A mapping read as `(key, value)` pairs in file order. A null value reads as empty.
#[derive(Debug)]
pub struct Entries<V>(pub Vec<(Spanned<String>, V)>);

/// The [`Span`] of a location, or `Span::default()` when the parser did not know it.
pub fn loc_span(loc: &Location) -> Span {
    if *loc == Location::UNKNOWN {
        return Span::default();
    }
    let s = loc.span();
    Span {
        offset: s.byte_offset().unwrap_or(0) as usize,
        len: s.byte_len().unwrap_or(0) as usize,
        line: loc.line() as u32,
        column: loc.column() as u32,
    }
}

/// Where a spanned value is used (its alias, if it came through one), else where defined.
pub fn span<T>(s: &Spanned<T>) -> Span {
    if s.referenced != Location::UNKNOWN {
        loc_span(&s.referenced)
    } else {
        loc_span(&s.defined)
    }
}

// ---- hand-written Deserialize impls for the either-or forms --------------------------------

/// Implements `Deserialize` with a visitor: `$scalar` handles strings/numbers (given a
/// [`Scalar`]), `$map` handles mappings (given a `MapAccessDeserializer`).
macro_rules! either_form {
    ($ty:ident, $expecting:literal, scalar: $scalar:expr, map: $map:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        let scalar: fn(Scalar) -> Result<$ty, E> = $scalar;
                        scalar(Scalar(v.to_owned()))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        self.visit_str(&v.to_string())
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        self.visit_str(&v.to_string())
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
                        self.visit_str(&v.to_string())
                    }
                    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<$ty, A::Error> {
                        $map(MapAccessDeserializer::new(m))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

either_form!(PoolSpec, "a CIDR like 10.0.0.0/8, or {pool: 10.0.0.0/8, prefix: 24}",
    scalar: |s| Ok(PoolSpec::Short(s.0)),
    map: |m| PoolLong::deserialize(m).map(PoolSpec::Long));

either_form!(LossSpec, "a percentage like 1%, or {percent: 1%, correlation: 25%}, \
    or {gilbert_elliott: {p: 1%, r: 20%}}",
    scalar: |s| Ok(LossSpec::Short(s)),
    map: |m| LossLong::deserialize(m).map(|l| LossSpec::Long(Box::new(l))));

either_form!(ReorderSpec, "a percentage like 5%, or {percent: 5%, gap: 3}",
    scalar: |s| Ok(ReorderSpec::Short(s)),
    map: |m| ReorderLong::deserialize(m).map(ReorderSpec::Long));

impl<'de> Deserialize<'de> for MgmtSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MgmtSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false, or {ipv4: CIDR, ipv6: CIDR, host: true}")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<MgmtSpec, E> {
                Ok(MgmtSpec::On(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<MgmtSpec, A::Error> {
                MgmtLong::deserialize(MapAccessDeserializer::new(m)).map(MgmtSpec::Long)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RunItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RunItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a shell command, or {name, cmd, ready, restart, …}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RunItem, E> {
                Ok(RunItem::Short(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<RunItem, A::Error> {
                ServiceSpec::deserialize(MapAccessDeserializer::new(m))
                    .map(|s| RunItem::Long(Box::new(s)))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RunSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RunSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a shell command, a service mapping, or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RunSpec, E> {
                Ok(RunSpec::One(RunItem::Short(v.to_owned())))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<RunSpec, A::Error> {
                ServiceSpec::deserialize(MapAccessDeserializer::new(m))
                    .map(|s| RunSpec::One(RunItem::Long(Box::new(s))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RunSpec, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<RunItem>>()? {
                    items.push(item);
                }
                Ok(RunSpec::Many(items))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for LinkSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LinkSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a link: [a, b] or {endpoints: [a, b], …}")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LinkSpec, A::Error> {
                let mut ends = Vec::new();
                while let Some(end) = seq.next_element::<Spanned<String>>()? {
                    ends.push(end);
                }
                Ok(LinkSpec::Short(ends))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<LinkSpec, A::Error> {
                LinkLong::deserialize(MapAccessDeserializer::new(m))
                    .map(|long| LinkSpec::Long(Box::new(long)))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for GeneratorSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GeneratorSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a generator like {star: {hosts: 4}}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<GeneratorSpec, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = m.next_key::<Spanned<String>>()? {
                    let kind = match key.value.as_str() {
                        "star" => Some(GeneratorKind::Star(m.next_value()?)),
                        "linear" => Some(GeneratorKind::Linear(m.next_value()?)),
                        "tree" => Some(GeneratorKind::Tree(m.next_value()?)),
                        "ring" => Some(GeneratorKind::Ring(m.next_value()?)),
                        "torus" => Some(GeneratorKind::Torus(m.next_value()?)),
                        "fattree" => Some(GeneratorKind::Fattree(m.next_value()?)),
                        "ases" => Some(GeneratorKind::Ases(m.next_value()?)),
                        _ => {
                            m.next_value::<de::IgnoredAny>()?;
                            None
                        }
                    };
                    entries.push((key, kind));
                }
                Ok(GeneratorSpec { entries })
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for NeighborsSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NeighborsSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "`auto`, or a list of peers like {node: r2} or {address: IP, remote_as: N}",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NeighborsSpec, E> {
                Ok(NeighborsSpec::Word(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NeighborsSpec, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<NeighborItem>>()? {
                    items.push(item);
                }
                Ok(NeighborsSpec::List(items))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for NeighborItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NeighborItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a peer like {node: r2} or {address: IP, remote_as: N}, or `auto`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NeighborItem, E> {
                Ok(NeighborItem::Word(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<NeighborItem, A::Error> {
                NeighborSpec::deserialize(MapAccessDeserializer::new(m))
                    .map(|n| NeighborItem::Peer(Box::new(n)))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for PolicyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PolicyValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, a number, or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PolicyValue, E> {
                Ok(PolicyValue::One(Scalar(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PolicyValue, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PolicyValue, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PolicyValue, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<PolicyValue, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PolicyValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<Scalar>>()? {
                    items.push(item);
                }
                Ok(PolicyValue::Many(items))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrList, E> {
                Ok(StrList::One(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    items.push(item);
                }
                Ok(StrList::Many(items))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Vis<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Entries<V>, E> {
                Ok(Entries(Vec::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Entries<V>, E> {
                Ok(Entries(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries<V>, A::Error> {
                let mut pairs = Vec::new();
                while let Some(key) = m.next_key::<Spanned<String>>()? {
                    pairs.push((key, m.next_value::<V>()?));
                }
                Ok(Entries(pairs))
            }
        }
        d.deserialize_any(Vis(PhantomData))
    }
}

// ---- schemas of the hand-deserialized types ----------------------------------------------

/// Gives `$ty` the schema of `$forms` (a type that only exists to describe the forms).
macro_rules! schema_from {
    ($ty:ident, $forms:ty) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                <$forms>::json_schema(generator)
            }
        }
    };
}

mod forms {
    //! Schema-only types: each spells out the alternatives one hand-written impl accepts.
    #![allow(dead_code, clippy::large_enum_variant)]

    use schemars::JsonSchema;

    use super::{
        GeneratorKind, LinkLong, LossLong, MgmtLong, NeighborSpec, PoolLong, ReorderLong, Scalar,
        ServiceSpec,
    };

    #[derive(JsonSchema)]
    #[serde(untagged)]
    pub enum Mgmt {
        On(bool),
        Long(MgmtLong),
    }

    #[derive(JsonSchema)]
    #[serde(untagged)]
    pub enum RunItem {
        Short(String),
        Long(ServiceSpec),
    }

    #[derive(JsonSchema)]
    #[serde(untagged)]
    pub enum Run {
        One(RunItem),
        Many(Vec<RunItem>),
    }

    #[derive(JsonSchema)]
    #[serde(untagged)]
    pub enum Pool {
        Short(String),
        Long(PoolLong),
    }

    #[derive(JsonSchema)]
    #[serde(untagged)]
    pub enum Loss {
        Short(Scalar),
        Long(LossLong),
    }

    #[derive(JsonSchema)]
    #[serde(untagged)]
    pub enum Reorder {
        Short(Scalar),
        Long(ReorderLong),
    }

    #[derive(JsonSchema)]
    #[serde(untagged)]
    pub enum Link {
        Short([String; 2]),
        Long(LinkLong),
    }

    #[derive(JsonSchema)]
    #[serde(untagged)]
    pub enum StrList {
        One(String),
        Many(Vec<String>),
    }

    #[derive(JsonSchema)]
    #[serde(transparent)]
    pub struct Generator(GeneratorKind);

    #[derive(JsonSchema)]
    #[serde(untagged)]
    pub enum NeighborItem {
        /// `auto`
        Auto(String),
        Peer(NeighborSpec),
    }

    #[derive(JsonSchema)]
    #[serde(untagged)]
    pub enum Neighbors {
        /// `auto`
        Auto(String),
        List(Vec<NeighborItem>),
    }

    #[derive(JsonSchema)]
    #[serde(untagged)]
    pub enum PolicyValue {
        One(Scalar),
        Many(Vec<Scalar>),
    }

    /// A policy rule: `{match: {prefix: [...], ...}, set: {local_pref: 200, ...},
    /// action: accept|reject}`.
    #[derive(JsonSchema)]
    pub struct Rule {
        #[serde(rename = "match")]
        pub matches: Option<std::collections::BTreeMap<String, PolicyValue>>,
        pub set: Option<std::collections::BTreeMap<String, PolicyValue>>,
        pub action: Option<String>,
    }
}

schema_from!(PoolSpec, forms::Pool);
schema_from!(LossSpec, forms::Loss);
schema_from!(ReorderSpec, forms::Reorder);
schema_from!(LinkSpec, forms::Link);
schema_from!(StrList, forms::StrList);
schema_from!(GeneratorSpec, forms::Generator);
schema_from!(MgmtSpec, forms::Mgmt);
schema_from!(RunSpec, forms::Run);

impl JsonSchema for Scalar {
    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
