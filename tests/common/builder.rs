//! A test-only builder of checked [`Topology`] values, so compile can be tested without the
//! YAML parser. It is shared: integration tests use it through `tests/common`, the crate's
//! unit tests through `crate::compile::testutil` (a `#[path]` include of this file).
//!
//! Endpoints are written compactly: `"node"`, `"node:iface"`, and optional addresses after
//! `@`, comma-separated: `"r1:ge0@10.0.0.1/30,fd00::1/64"`.
//!
//! `build()` also writes a small YAML-like text of the topology into `Source::text` and
//! gives every node, link, endpoint and user-set pool a real span into it (line, column,
//! offset), so error tests can check locations. That text is for diagnostics only; it
//! sketches how the same topology would be written once the parser exists.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use ipnet::IpNet;
use topolab::topology::service;
use topolab::topology::{
    Addressing, Defaults, Endpoint, Engine, Link, LinkEmulation, Node, NodeKind, Pool, Source,
    Span, Topology,
};

/// Default pools used by the builder (the parser chooses its own defaults).
pub const LAN4: &str = "10.0.0.0/16";
pub const LAN6: &str = "fd00:0:1::/48";
pub const P2P4: &str = "10.255.0.0/16";
pub const P2P6: &str = "fd00:0:2::/48";
pub const LOOPBACK4: &str = "192.168.255.0/24";
pub const LOOPBACK6: &str = "fd00:0:ff::/64";

#[derive(Debug, Clone)]
pub struct TopoBuilder {
    name: String,
    nodes: Vec<Node>,
    links: Vec<(String, String, Option<u32>)>,
    mtu: u32,
    ipv4: bool,
    ipv6: bool,
    /// Pools the test set explicitly: key → (net, prefix).
    pools: BTreeMap<&'static str, (IpNet, u8)>,
}

impl TopoBuilder {
    pub fn new(name: &str) -> Self {
        TopoBuilder {
            name: name.into(),
            nodes: Vec::new(),
            links: Vec::new(),
            mtu: 1500,
            ipv4: true,
            ipv6: true,
            pools: BTreeMap::new(),
        }
    }

    fn node(mut self, name: &str, kind: NodeKind, stp: bool) -> Self {
        self.nodes.push(Node {
            name: name.into(),
            kind,
            stp,
            services: Vec::new(),
            limits: Default::default(),
            routes: Default::default(),
            private_dirs: Vec::new(),
            files: Vec::new(),
            sysctl: BTreeMap::new(),
            loopback: Vec::new(),
            openflow: None,
            bgp: None,
            span: Span::default(),
        });
        self
    }

    pub fn host(self, name: &str) -> Self {
        self.node(name, NodeKind::Host, false)
    }

    pub fn router(self, name: &str) -> Self {
        self.node(name, NodeKind::Router, false)
    }

    pub fn switch(self, name: &str) -> Self {
        self.node(name, NodeKind::Switch, false)
    }

    pub fn stp_switch(self, name: &str) -> Self {
        self.node(name, NodeKind::Switch, true)
    }

    fn node_mut(&mut self, name: &str) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("builder: no node {name}"))
    }

    pub fn loopback(mut self, node: &str, addr: &str) -> Self {
        let net = addr.parse().expect("builder: bad loopback");
        self.node_mut(node).loopback.push(net);
        self
    }

    pub fn sysctl(mut self, node: &str, key: &str, value: &str) -> Self {
        self.node_mut(node).sysctl.insert(key.into(), value.into());
        self
    }

    pub fn run(mut self, node: &str, cmd: &str) -> Self {
        let n = self.node_mut(node);
        let taken: Vec<String> = n.services.iter().map(|s| s.name.clone()).collect();
        n.services.push(topolab::topology::Service {
            name: service::dedup_name(&service::short_name(cmd), &taken),
            what: topolab::topology::ServiceWhat::Command { cmd: cmd.into() },
            ready: None,
            restart: Default::default(),
            stop_signal: Default::default(),
            grace: service::DEFAULT_GRACE,
        });
        self
    }

    pub fn link(mut self, a: &str, b: &str) -> Self {
        self.links.push((a.into(), b.into(), None));
        self
    }

    /// Sets the MTU of the last link added.
    pub fn mtu(mut self, mtu: u32) -> Self {
        self.links
            .last_mut()
            .expect("builder: mtu before any link")
            .2 = Some(mtu);
        self
    }

    pub fn default_mtu(mut self, mtu: u32) -> Self {
        self.mtu = mtu;
        self
    }

    pub fn ipv4(mut self, on: bool) -> Self {
        self.ipv4 = on;
        self
    }

    pub fn ipv6(mut self, on: bool) -> Self {
        self.ipv6 = on;
        self
    }

    /// Sets a pool as if the user wrote it (`key` is `lan4`, `p2p6`, `loopback4`, …).
    pub fn pool(mut self, key: &'static str, net: &str, prefix: u8) -> Self {
        let net = net.parse().expect("builder: bad pool");
        self.pools.insert(key, (net, prefix));
        self
    }

    pub fn build(self) -> Topology {
        let mut text = Text::default();
        text.line(&format!("name: {}", self.name));
        text.line("nodes:");
        let mut nodes = self.nodes;
        for n in &mut nodes {
            let kind = match n.kind {
                NodeKind::Host => "host",
                NodeKind::Router => "router",
                NodeKind::Switch => "switch",
                NodeKind::Fabric => unreachable!("users never write fabric nodes"),
                NodeKind::OfSwitch | NodeKind::Controller => {
                    unreachable!("the builder makes no OpenFlow nodes")
                }
            };
            let mut extra = String::new();
            if n.stp {
                extra.push_str(", stp: true");
            }
            if !n.loopback.is_empty() {
                let list: Vec<String> = n.loopback.iter().map(|l| l.to_string()).collect();
                extra.push_str(&format!(", loopback: [{}]", list.join(", ")));
            }
            for (k, v) in &n.sysctl {
                extra.push_str(&format!(", sysctl: {{{k}: {v}}}"));
            }
            for s in &n.services {
                if let topolab::topology::ServiceWhat::Command { cmd } = &s.what {
                    extra.push_str(&format!(", run: [{cmd:?}]"));
                }
            }
            n.span = text.line(&format!("  {}: {{ kind: {kind}{extra} }}", n.name));
        }
        text.line("links:");
        let mut links = Vec::new();
        for (a, b, mtu) in &self.links {
            let mtu_text = mtu.map(|m| format!(", mtu: {m}")).unwrap_or_default();
            let line = format!("  - {{ endpoints: [{a}, {b}]{mtu_text} }}");
            let span = text.line(&line);
            let a_col = line.find(a.as_str()).expect("a in line");
            let b_col =
                line[a_col + a.len()..].find(b.as_str()).expect("b in line") + a_col + a.len();
            links.push(Link {
                a: endpoint(a, text.sub(span, a_col, a.len())),
                b: endpoint(b, text.sub(span, b_col, b.len())),
                mtu: *mtu,
                emulation: LinkEmulation::default(),
                span,
            });
        }
        let pool = |key: &'static str, default: &str, prefix: u8, text: &mut Text| match self
            .pools
            .get(key)
        {
            Some(&(net, prefix)) => {
                let span = text.line(&format!("  {key}: {{ net: {net}, prefix: {prefix} }}"));
                Pool { net, prefix, span }
            }
            None => Pool {
                net: default.parse().unwrap(),
                prefix,
                span: Span::default(),
            },
        };
        text.line("addressing:");
        text.line(&format!("  ipv4: {}", self.ipv4));
        text.line(&format!("  ipv6: {}", self.ipv6));
        let addressing = Addressing {
            ipv4: self.ipv4,
            ipv6: self.ipv6,
            lan4: pool("lan4", LAN4, 24, &mut text),
            lan6: pool("lan6", LAN6, 64, &mut text),
            p2p4: pool("p2p4", P2P4, 30, &mut text),
            p2p6: pool("p2p6", P2P6, 64, &mut text),
            loopback4: pool("loopback4", LOOPBACK4, 32, &mut text),
            loopback6: pool("loopback6", LOOPBACK6, 128, &mut text),
        };
        Topology {
            name: self.name.clone(),
            nodes,
            links,
            defaults: Defaults {
                mtu: self.mtu,
                engine: Engine::Auto,
                seed: 1,
                routes: Default::default(),
            },
            addressing,
            mgmt: None,
            placement: vec![],
            source: Source {
                name: format!("{}.yaml", self.name),
                text: Arc::from(text.buf.as_str()),
            },
        }
    }
}

fn endpoint(spec: &str, span: Span) -> Endpoint {
    let (head, addrs) = match spec.split_once('@') {
        Some((head, addrs)) => (
            head,
            addrs
                .split(',')
                .map(|a| a.parse().expect("builder: bad address"))
                .collect(),
        ),
        None => (spec, Vec::new()),
    };
    let (node, iface) = match head.split_once(':') {
        Some((node, iface)) => (node, Some(iface.to_string())),
        None => (head, None),
    };
    Endpoint {
        node: node.into(),
        iface,
        addrs,
        span,
    }
}

#[derive(Default)]
struct Text {
    buf: String,
    lines: u32,
}

impl Text {
    /// Appends one line and returns its span.
    fn line(&mut self, s: &str) -> Span {
        self.lines += 1;
        let span = Span {
            offset: self.buf.len(),
            len: s.len(),
            line: self.lines,
            column: 1,
        };
        self.buf.push_str(s);
        self.buf.push('\n');
        span
    }

    /// A span inside a line already written.
    fn sub(&self, line: Span, col0: usize, len: usize) -> Span {
        Span {
            offset: line.offset + col0,
            len,
            line: line.line,
            column: col0 as u32 + 1,
        }
    }
}
