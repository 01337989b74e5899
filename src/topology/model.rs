//! The validated topology: what `check` hands to `compile`.
//!
//! Everything here is plain data with no kernel knowledge. Generators have already been
//! expanded into ordinary nodes and links, names are unique, every link endpoint names an
//! existing node, explicit interface names are at most 15 bytes, explicit addresses parse.
//! Each item keeps the [`Span`] of the YAML it came from so that later stages (compile's
//! address allocator, for example) can still point at the user's line and column.
//!
//! Order is meaningful and stable: nodes and links appear in declaration order, generated
//! items in place of the generator that made them. Compile relies on that order for
//! deterministic names, addresses and MACs.

use std::collections::BTreeMap;
use std::sync::Arc;

use ipnet::IpNet;
use serde::Serialize;

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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
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
    #[serde(skip)]
    pub source: Source,
}

#[derive(Debug, Clone, Serialize)]
pub struct Defaults {
    /// MTU of every link that does not set its own (default 1500).
    pub mtu: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// An end host: no forwarding, default routes toward a router.
    Host,
    /// IPv4 and IPv6 forwarding on, a loopback address, static routes to every prefix.
    Router,
    /// A Linux bridge in its own namespace; no addresses of its own.
    Switch,
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    /// Switches only: run the kernel's STP instead of compile-time loop blocking.
    pub stp: bool,
    /// Commands started inside the namespace (`sh -c`) once the lab is up.
    pub run: Vec<String>,
    /// Extra sysctls, applied inside the namespace before links are made (key → value).
    pub sysctl: BTreeMap<String, String>,
    /// Explicit loopback addresses (routers get automatic ones when empty).
    pub loopback: Vec<IpNet>,
    pub span: Span,
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
    pub span: Span,
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
