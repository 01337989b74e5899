//! The validated topology: what `check` hands to `compile`.
//!
//! Everything here is plain data with no kernel knowledge. Generators have already been
//! expanded into ordinary nodes and links, names are unique, every link endpoint names an
//! existing node, explicit interface names are at most 15 bytes, explicit addresses parse.
//! Each item keeps the [`Span`] of the YAML it came from so that later stages (compile's
//! address allocator, for example) can still point at the user's line and column.
//!
//! Order is meaningful and stable: written nodes and links in declaration order, then the
//! generated ones, generator by generator. Compile relies on that order for deterministic
//! names, addresses and MACs.

use std::collections::BTreeMap;
use std::sync::Arc;

use ipnet::IpNet;
use serde::Serialize;

use super::service::{Mgmt, NodeFile, NodeLimits, RoutesMode, Service};

/// A topology file's text and display name, kept for diagnostics.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// What the user called the file (a path, or `<embedded quickstart>`).
    pub name: String,
    #[serde(skip)]
    pub text: Arc<str>,
}

/// A location in the source: byte offset and length for snippets, 1-based line and column
/// for messages and tests. `Span::default()` means "not from the file" (generated).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Topology {
    /// The lab's default name (`name:` in the file). `topolab up --name` may override it.
    pub name: String,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    pub defaults: Defaults,
    pub addressing: Addressing,
    /// The management network (`mgmt:`), off by default.
    pub mgmt: Option<Mgmt>,
    /// `placement:` — nodes pinned to a shard, in file order (one entry per node). Shard
    /// numbers are checked against the number of shards when a split is planned.
    pub placement: Vec<Pin>,
    #[serde(skip)]
    pub source: Source,
}

/// One `placement:` entry: `node` runs on shard `shard` (0-based) when the lab is split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pin {
    /// Index into `Topology::nodes`.
    pub node: usize,
    /// As written; `topolab plan` refuses one that is not below the number of shards.
    pub shard: u64,
    /// Where the shard number was written.
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Defaults {
    /// MTU of every link that does not set its own (default 1500).
    pub mtu: u32,
    /// Engine for impaired links that do not choose one (default `auto`).
    pub engine: Engine,
    /// Lab seed: per-link seeds derive from it (default 1).
    pub seed: u64,
    /// Routes of hosts and routers that do not set `routes:` (default static).
    pub routes: RoutesMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// An end host: no forwarding, default routes toward a router.
    Host,
    /// IPv4 and IPv6 forwarding on, a loopback address, static routes to every prefix.
    Router,
    /// A Linux bridge in its own namespace; no addresses of its own.
    Switch,
    /// Internal, never written by users: the hidden namespace that holds the ends of links
    /// relayed by the userspace engine (shown by `inspect`).
    Fabric,
    /// An OpenFlow 1.3 switch: the built-in daemon owns its interfaces (no Linux bridge, no
    /// addresses); L2 like `switch` for addressing.
    OfSwitch,
    /// An OpenFlow controller: the built-in daemon listens on the management network.
    Controller,
}

/// What a node kind can do. Every predicate is an exhaustive `match`, and compile, the lab
/// and scenarios ask these instead of comparing kinds: a new kind is a list of compiler
/// errors here, each one a decision to make (see the table test in `model_tests`).
impl NodeKind {
    /// Every kind, for table tests.
    pub const ALL: [NodeKind; 6] = [
        NodeKind::Host,
        NodeKind::Router,
        NodeKind::Switch,
        NodeKind::Fabric,
        NodeKind::OfSwitch,
        NodeKind::Controller,
    ];

    /// topolab's own plumbing (the fabric), not a node the user wrote: never counted,
    /// listed or entered as a node.
    pub fn is_internal(self) -> bool {
        match self {
            NodeKind::Host
            | NodeKind::Router
            | NodeKind::Switch
            | NodeKind::OfSwitch
            | NodeKind::Controller => false,
            NodeKind::Fabric => true,
        }
    }

    /// An L2 switch: its links join one L2 (LAN) domain whose L3 ends share a subnet, it
    /// has no addresses on its ports (a Linux bridge or an OpenFlow switch).
    pub fn is_l2(self) -> bool {
        match self {
            NodeKind::Switch | NodeKind::OfSwitch => true,
            NodeKind::Host | NodeKind::Router | NodeKind::Fabric | NodeKind::Controller => false,
        }
    }

    /// A Linux bridge joins its ports: they are bridge ports, and loops among bridges are
    /// cut at compile time (an OpenFlow switch's ports belong to its daemon instead).
    pub fn has_bridge(self) -> bool {
        match self {
            NodeKind::Switch => true,
            NodeKind::Host
            | NodeKind::Router
            | NodeKind::Fabric
            | NodeKind::OfSwitch
            | NodeKind::Controller => false,
        }
    }

    /// Its interfaces carry addresses and it gets routes (an L3 end of a domain).
    pub fn is_l3(self) -> bool {
        match self {
            // A controller linked into the data plane is an end like a host.
            NodeKind::Host | NodeKind::Router | NodeKind::Controller => true,
            NodeKind::Switch | NodeKind::Fabric | NodeKind::OfSwitch => false,
        }
    }

    /// Forwards IP between its interfaces: a next hop for others, gets a loopback and
    /// routes to every prefix.
    pub fn forwards_ip(self) -> bool {
        match self {
            NodeKind::Router => true,
            NodeKind::Host
            | NodeKind::Switch
            | NodeKind::Fabric
            | NodeKind::OfSwitch
            | NodeKind::Controller => false,
        }
    }

    /// Runs `run:` services (and built-in daemons) in its namespace.
    pub fn runs_services(self) -> bool {
        match self {
            NodeKind::Host
            | NodeKind::Router
            | NodeKind::Switch
            | NodeKind::OfSwitch
            | NodeKind::Controller => true,
            NodeKind::Fabric => false,
        }
    }

    /// Gets a `mgmt0` interface on the management network (when the lab has one).
    /// OpenFlow switches and controllers do: the control channel runs there.
    pub fn joins_mgmt(self) -> bool {
        match self {
            NodeKind::Host | NodeKind::Router | NodeKind::OfSwitch | NodeKind::Controller => true,
            // A bridge has IPv6 turned off and no addresses of its own.
            NodeKind::Switch | NodeKind::Fabric => false,
        }
    }

    /// `pingall` targets it: always, or only with `all_nodes` (routers).
    pub fn pingall(self, all_nodes: bool) -> bool {
        match self {
            NodeKind::Host => true,
            NodeKind::Router => all_nodes,
            NodeKind::Switch | NodeKind::Fabric | NodeKind::OfSwitch | NodeKind::Controller => {
                false
            }
        }
    }

    /// The word users write in `kind:`.
    pub fn word(self) -> &'static str {
        match self {
            NodeKind::Host => "host",
            NodeKind::Router => "router",
            NodeKind::Switch => "switch",
            NodeKind::Fabric => "fabric",
            NodeKind::OfSwitch => "ofswitch",
            NodeKind::Controller => "controller",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    /// Switches only: run the kernel's STP instead of compile-time loop blocking.
    pub stp: bool,
    /// Supervised services (`run:`), in file order.
    pub services: Vec<Service>,
    /// `cpu:` and `memory:`.
    pub limits: NodeLimits,
    /// `routes:` (or `defaults.routes`); switches always `Static` (they have no routes).
    pub routes: RoutesMode,
    /// Directories the node gets its own copy of (a mount namespace per node).
    pub private_dirs: Vec<std::path::PathBuf>,
    /// Files placed into the private dirs, in file order.
    pub files: Vec<NodeFile>,
    /// Extra sysctls, applied inside the namespace before links are made (key → value).
    pub sysctl: BTreeMap<String, String>,
    /// Explicit loopback addresses (routers get automatic ones when empty).
    pub loopback: Vec<IpNet>,
    /// `ofswitch` and `controller` nodes: their OpenFlow keys.
    pub openflow: Option<Openflow>,
    /// Routers and hosts with `bgp:`: the speaker's keys.
    pub bgp: Option<Bgp>,
    pub span: Span,
}

/// The OpenFlow keys of an `ofswitch` or `controller` node, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Openflow {
    Switch {
        /// `controller:`, in the order written (lab nodes are known to be controllers).
        controllers: Vec<ControllerRef>,
        /// `dpid:`; `None`: compiled (see `openflow_check::dpids`, unique in the lab).
        dpid: Option<u64>,
        /// Where `dpid:` was written.
        dpid_span: Option<Span>,
        /// `fail_mode:`, or its default: secure with a controller, standalone without.
        fail_mode: FailMode,
    },
    Controller {
        app: ControllerApp,
        listen: u16,
    },
}

/// One `controller:` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ControllerRef {
    /// A `controller` node of the lab, reached over the management network.
    Node { name: String, span: Span },
    /// `tcp:IP:PORT`, an external controller.
    Tcp(std::net::SocketAddr),
}

/// What an OpenFlow switch does while no controller is connected.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// No new flows (table-miss drops).
    Secure,
    /// A learning switch.
    Standalone,
}

/// The built-in controller's application.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ControllerApp {
    /// Floods every packet.
    Hub,
    /// Reactive MAC learning (Ryu's simple_switch_13).
    Learning,
    /// Proactive shortest paths from the compiled topology; answers ARP/ND itself.
    ShortestPath,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub node: String,
    /// Explicit interface name (`h1:eth1`), else compile picks the next free `ethN`.
    pub iface: Option<String>,
    /// Explicit addresses for this end (they win over the allocator).
    pub addrs: Vec<IpNet>,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub a: Endpoint,
    pub b: Endpoint,
    pub mtu: Option<u32>,
    /// Link emulation (rate, delay, loss, …); `LinkEmulation::default()` is a plain veth.
    pub emulation: LinkEmulation,
    pub span: Span,
}

/// Which engine carries an impaired link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Kernel qdiscs where they can express the link, the userspace relay otherwise.
    #[default]
    Auto,
    Kernel,
    Userspace,
}

/// Emulation settings of one link: `both` applies to each direction, `a_to_b`/`b_to_a`
/// override it field by field (see [`Impairment::overlay`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct LinkEmulation {
    pub both: Impairment,
    pub a_to_b: Impairment,
    pub b_to_a: Impairment,
    /// `None`: the lab default (`defaults.engine`).
    pub engine: Option<Engine>,
    /// Seed of every random choice on this link; `None`: derived from the lab seed and link.
    pub seed: Option<u64>,
    /// Where `engine`, `seed` or the impairments were written (for errors compile finds).
    pub span: Span,
}

/// One direction's impairments. Every field is optional so that overrides compose.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Impairment {
    /// Bits per second.
    pub rate: Option<u64>,
    /// Bucket size in bytes (default: max(2×MTU, rate × 4 ms) on the kernel engine, whose
    /// timer-driven refills run late on a busy machine; rate × 1 ms on the userspace engine).
    pub burst: Option<u64>,
    pub queue: Option<QueueLimit>,
    pub delay: Option<std::time::Duration>,
    pub jitter: Option<std::time::Duration>,
    pub distribution: Option<Distribution>,
    pub loss: Option<Loss>,
    /// Probabilities in [0, 1].
    pub duplicate: Option<f64>,
    pub corrupt: Option<f64>,
    pub reorder: Option<Reorder>,
    /// Mahimahi-format delivery trace (one delivery opportunity per line, in ms).
    pub trace: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueLimit {
    Packets(u32),
    Bytes(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    Uniform,
    Normal,
    Pareto,
    ParetoNormal,
}

/// Loss models; probabilities in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Independent drops with probability `p`; `correlation` as netem's (0 = none).
    Random { p: f64, correlation: f64 },
    /// Gilbert-Elliott: p = good→bad, r = bad→good, h = 1 - loss in bad, k = 1 - loss in good
    /// (netem's `loss gemodel p r 1-h 1-k` convention: `bad_loss`, `good_loss` are loss
    /// probabilities in each state).
    GilbertElliott {
        p: f64,
        r: f64,
        bad_loss: f64,
        good_loss: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Reorder {
    /// Probability that a packet is sent ahead of the ones delayed before it.
    pub p: f64,
    /// Every `gap`-th packet is eligible (netem's gap; 0 or 1 = any).
    pub gap: u32,
}

impl Impairment {
    /// `self` with every field that `over` sets replaced by `over`'s value.
    pub fn overlay(&self, over: &Impairment) -> Impairment {
        Impairment {
            rate: over.rate.or(self.rate),
            burst: over.burst.or(self.burst),
            queue: over.queue.or(self.queue),
            delay: over.delay.or(self.delay),
            jitter: over.jitter.or(self.jitter),
            distribution: over.distribution.or(self.distribution),
            loss: over.loss.or(self.loss),
            duplicate: over.duplicate.or(self.duplicate),
            corrupt: over.corrupt.or(self.corrupt),
            reorder: over.reorder.or(self.reorder),
            trace: over.trace.clone().or_else(|| self.trace.clone()),
        }
    }

    /// True when this direction needs no emulation at all.
    pub fn is_empty(&self) -> bool {
        *self == Impairment::default()
    }

    /// True when some stage acts on individual packets (loss, duplication, corruption,
    /// reordering): the engine must then see one wire packet per frame.
    pub fn per_packet(&self) -> bool {
        self.loss.is_some()
            || self.duplicate.is_some()
            || self.corrupt.is_some()
            || self.reorder.is_some()
    }

    /// The first parameter a token-bucket shaper (tbf) cannot express, if any.
    pub fn beyond_rate(&self) -> Option<&'static str> {
        [
            (self.delay.is_some(), "delay"),
            (self.jitter.is_some(), "jitter"),
            (self.distribution.is_some(), "distribution"),
            (self.loss.is_some(), "loss"),
            (self.duplicate.is_some(), "duplicate"),
            (self.corrupt.is_some(), "corrupt"),
            (self.reorder.is_some(), "reorder"),
            (self.trace.is_some(), "trace"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }
}

impl LinkEmulation {
    /// The effective impairment from endpoint `a` toward `b`.
    pub fn a_to_b(&self) -> Impairment {
        self.both.overlay(&self.a_to_b)
    }

    pub fn b_to_a(&self) -> Impairment {
        self.both.overlay(&self.b_to_a)
    }

    pub fn is_plain(&self) -> bool {
        self.a_to_b().is_empty() && self.b_to_a().is_empty()
    }
}

/// Address pools. Each pool is carved into subnets of at least `prefix` length, in
/// order; a LAN that needs more room gets a larger (shorter-prefix) subnet.
#[derive(Debug, Clone, Serialize)]
pub struct Addressing {
    pub ipv4: bool,
    pub ipv6: bool,
    /// Switch segments (all L3 interfaces on one bridge domain share a subnet).
    pub lan4: Pool,
    pub lan6: Pool,
    /// Direct links between two L3 nodes.
    pub p2p4: Pool,
    pub p2p6: Pool,
    /// Router loopbacks (one host address each).
    pub loopback4: Pool,
    pub loopback6: Pool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pool {
    pub net: IpNet,
    /// Prefix length of each carved subnet (the smallest one for LANs).
    pub prefix: u8,
    /// Where the user wrote it (default pools have `Span::default()`).
    pub span: Span,
}

impl Topology {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

/// One line of text for an impairment ("rate 10 Mbit/s, delay 5 ms, loss 1%"), or "plain".
pub fn describe_impairment(i: &Impairment) -> String {
    let pct = |p: f64| format!("{}%", (p * 1e6).round() / 1e4);
    let mut parts = Vec::new();
    if let Some(r) = i.rate {
        parts.push(format!("rate {}", crate::topology::model::fmt_rate(r)));
    }
    if let Some(b) = i.burst {
        parts.push(format!("burst {b} B"));
    }
    match i.queue {
        Some(QueueLimit::Packets(n)) => parts.push(format!("queue {n} pkts")),
        Some(QueueLimit::Bytes(n)) => parts.push(format!("queue {n} B")),
        None => {}
    }
    if let Some(d) = i.delay {
        parts.push(format!("delay {d:?}"));
    }
    if let Some(j) = i.jitter {
        parts.push(format!("jitter {j:?}"));
    }
    if let Some(d) = i.distribution {
        parts.push(format!("{d:?}").to_lowercase());
    }
    match i.loss {
        Some(Loss::Random { p, correlation }) if correlation > 0.0 => parts.push(format!(
            "loss {} (correlation {})",
            pct(p),
            pct(correlation)
        )),
        Some(Loss::Random { p, .. }) => parts.push(format!("loss {}", pct(p))),
        Some(Loss::GilbertElliott {
            p,
            r,
            bad_loss,
            good_loss,
        }) => parts.push(format!(
            "loss gilbert-elliott p {} r {} bad {} good {}",
            pct(p),
            pct(r),
            pct(bad_loss),
            pct(good_loss)
        )),
        None => {}
    }
    if let Some(d) = i.duplicate {
        parts.push(format!("duplicate {}", pct(d)));
    }
    if let Some(c) = i.corrupt {
        parts.push(format!("corrupt {}", pct(c)));
    }
    if let Some(r) = i.reorder {
        parts.push(format!("reorder {} gap {}", pct(r.p), r.gap));
    }
    if let Some(t) = &i.trace {
        parts.push(format!("trace {}", t.display()));
    }
    if parts.is_empty() {
        "plain".into()
    } else {
        parts.join(", ")
    }
}

fn fmt_rate(bps: u64) -> String {
    match bps {
        b if b >= 1_000_000_000 && b % 1_000_000 == 0 => format!("{} Gbit/s", b as f64 / 1e9),
        b if b >= 1_000_000 => format!("{} Mbit/s", b as f64 / 1e6),
        b if b >= 1_000 => format!("{} kbit/s", b as f64 / 1e3),
        b => format!("{b} bit/s"),
    }
}

#[cfg(test)]
mod model_tests {
    use super::NodeKind;

    /// Every kind's capabilities, in one table: a new kind must be placed here.
    #[test]
    fn node_kind_capability_table() {
        // (kind, internal, l2, bridge, l3, forwards, services, mgmt, pingall, pingall all)
        #[rustfmt::skip]
        let table = [
            (NodeKind::Host,       false, false, false, true,  false, true,  true,  true,  true),
            (NodeKind::Router,     false, false, false, true,  true,  true,  true,  false, true),
            (NodeKind::Switch,     false, true,  true,  false, false, true,  false, false, false),
            (NodeKind::Fabric,     true,  false, false, false, false, false, false, false, false),
            (NodeKind::OfSwitch,   false, true,  false, false, false, true,  true,  false, false),
            (NodeKind::Controller, false, false, false, true,  false, true,  true,  false, false),
        ];
        assert_eq!(table.len(), NodeKind::ALL.len());
        for (k, internal, l2, bridge, l3, fwd, services, mgmt, ping, ping_all) in table {
            assert!(NodeKind::ALL.contains(&k));
            assert_eq!(k.is_internal(), internal, "{k:?}");
            assert_eq!(k.is_l2(), l2, "{k:?}");
            assert_eq!(k.has_bridge(), bridge, "{k:?}");
            assert_eq!(k.is_l3(), l3, "{k:?}");
            assert_eq!(k.forwards_ip(), fwd, "{k:?}");
            assert_eq!(k.runs_services(), services, "{k:?}");
            assert_eq!(k.joins_mgmt(), mgmt, "{k:?}");
            assert_eq!(k.pingall(false), ping, "{k:?}");
            assert_eq!(k.pingall(true), ping_all, "{k:?}");
            // A node is exactly one of: internal, an L2 switch, an L3 node.
            assert_eq!(
                [internal, l2, l3].iter().filter(|b| **b).count(),
                1,
                "{k:?}"
            );
            // Only an L2 switch can be a Linux bridge.
            assert!(!bridge || l2, "{k:?}");
        }
    }
}

/// A node's `bgp:` key, checked (see `bgp_check`). Peers named by node are known to exist
/// and to have `bgp:`; addresses, interfaces and router IDs are compile's to resolve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bgp {
    pub asn: u32,
    /// `router_id:` as written; `None`: compiled from the node's addresses.
    pub router_id: Option<std::net::Ipv4Addr>,
    pub router_id_span: Option<Span>,
    /// `neighbors: auto` (or the item `auto` in the list).
    pub auto: bool,
    pub route_reflector: bool,
    /// Explicit peers, in file order.
    pub neighbors: Vec<BgpNeighbor>,
    /// `networks:` as written; `None`: compiled (host-facing subnets and loopbacks).
    pub networks: Option<Vec<IpNet>>,
    pub import: Vec<crate::bgp::policy::Rule>,
    pub export: Vec<crate::bgp::policy::Rule>,
    /// Seconds.
    pub hold: u16,
    pub keepalive: Option<u16>,
    pub connect_retry: u16,
    pub fib: bool,
    /// The `bgp:` value.
    pub span: Span,
}

/// One explicit `neighbors:` item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BgpNeighbor {
    pub peer: BgpPeer,
    /// The `node:` or `address:` value.
    pub span: Span,
    pub remote_as: Option<u32>,
    pub remote_as_span: Option<Span>,
    pub passive: bool,
    pub multihop: Option<u8>,
    pub ttl_security: Option<u8>,
    pub password: Option<String>,
    pub rr_client: bool,
    pub next_hop_self: bool,
    /// `families:`; `None`: compiled.
    pub families: Option<Vec<crate::bgp::config::Afi>>,
    pub import: Vec<crate::bgp::policy::Rule>,
    pub export: Vec<crate::bgp::policy::Rule>,
    pub hold_time: Option<u16>,
    pub port: u16,
    pub local_address: Option<std::net::IpAddr>,
}

/// Who a neighbor is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum BgpPeer {
    Address(std::net::IpAddr),
    /// A lab node with `bgp:`; `iface`: that node's interface (`r2:eth1`) and its span.
    Node {
        name: String,
        iface: Option<(String, Span)>,
    },
}
