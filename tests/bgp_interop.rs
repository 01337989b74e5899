//! BGP interop with third-party speakers (installed by `scripts/deps`): BIRD 2, FRR's bgpd
//! and GoBGP run as `run:` services inside lab routers, each with its config written by
//! `files:` into its own private directories (so its control socket is private too), and
//! their RIBs are read back through their own CLIs (`birdc`, `vtysh`, `gobgp -j`) into one
//! shape ([`Route`]) so that tests can compare their views. Our own speaker is a node's
//! `bgp:` key, read back with `topolab bgp LAB NODE routes|neighbors --json`.
//!
//! The peers first show the harness works among themselves (`peers_*`); then one test per
//! interop item of issue 11: eBGP over IPv4 and IPv6 with each peer, our route reflector
//! with BIRD and FRR clients, attributes both ways with the same best paths (and MED
//! between two routers of one neighbour AS chosen alike by us and FRR), route
//! refresh, hold-timer expiry and reconvergence after a silent link failure, Bad Peer AS
//! in the peers' own logs, and TCP MD5.
//!
//! Under `TOPOLAB_REQUIRE_ROOT=1` (CI) a missing peer fails the test instead of skipping it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use topolab::lab::{Lab, LabOptions};
use topolab::topology::Topology;

/// A third-party BGP speaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Daemon {
    Bird,
    Frr,
    Gobgp,
    /// Our built-in speaker (the node's `bgp:` key).
    Ours,
}

impl Daemon {
    /// Programs the tests run for it that answer `--version` (`birdc` and `vtysh` come in
    /// the same packages as `bird` and FRR's daemons).
    fn programs(self) -> &'static [&'static str] {
        match self {
            Daemon::Bird => &["bird"],
            Daemon::Frr => &["/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"],
            Daemon::Gobgp => &["gobgpd", "gobgp"],
            Daemon::Ours => &[],
        }
    }

    /// Whether it is installed (under CI its absence is a failure: `have_peer`).
    fn installed(self) -> bool {
        self.programs().iter().all(|p| common::have_peer(p))
    }
}

/// One neighbor of a peer's config.
#[derive(Debug, Clone)]
struct Nbr {
    /// The neighbor's address and our own on that link.
    addr: IpAddr,
    local: IpAddr,
    asn: u32,
    /// TCP MD5 (RFC 2385) password.
    password: Option<String>,
    /// Route-reflector client (iBGP only).
    rr_client: bool,
}

impl Nbr {
    fn new(local: &str, addr: &str, asn: u32) -> Nbr {
        Nbr {
            addr: addr.parse().unwrap(),
            local: local.parse().unwrap(),
            asn,
            password: None,
            rr_client: false,
        }
    }
}

/// A prefix a peer originates, with the attributes it gives it.
#[derive(Debug, Clone, Default)]
struct Network {
    prefix: String,
    med: Option<u32>,
    local_pref: Option<u32>,
    communities: Vec<(u16, u16)>,
    large: Vec<(u32, u32, u32)>,
    /// Prepend the originator's AS this many times.
    prepend: u8,
}

impl Network {
    fn has_attrs(&self) -> bool {
        self.med.is_some()
            || self.local_pref.is_some()
            || !self.communities.is_empty()
            || !self.large.is_empty()
            || self.prepend > 0
    }
}

fn net(prefix: &str) -> Network {
    Network {
        prefix: prefix.into(),
        ..Default::default()
    }
}

/// One speaker in a lab node: a third-party daemon's config, or our `bgp:` key.
#[derive(Debug, Clone)]
struct Speaker {
    daemon: Daemon,
    asn: u32,
    router_id: Ipv4Addr,
    neighbors: Vec<Nbr>,
    networks: Vec<Network>,
    /// Hold time offered (keepalive a third of it); None: the daemon's default.
    hold: Option<u16>,
}

/// Where each daemon's control socket lives (inside the node's private dirs).
const BIRD_CTL: &str = "/etc/bird/bird.ctl";
const GOBGP_API: &str = "127.0.0.1:50051";

/// Indents every line of `text` by `n` spaces (for a YAML block scalar).
fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

fn is_v6(s: &str) -> bool {
    s.contains(':')
}

impl Speaker {
    fn bird_conf(&self) -> String {
        let mut c = format!(
            "router id {};\nlog stderr all;\nprotocol device {{}}\n\
             protocol kernel {{ ipv4 {{ export all; }}; }}\n\
             protocol kernel {{ ipv6 {{ export all; }}; }}\n",
            self.router_id
        );
        for (fam, v6) in [("ipv4", false), ("ipv6", true)] {
            let nets: Vec<&Network> = self
                .networks
                .iter()
                .filter(|n| is_v6(&n.prefix) == v6)
                .collect();
            if nets.is_empty() {
                continue;
            }
            let _ = writeln!(c, "protocol static {{ {fam};");
            for n in nets {
                let mut set = String::new();
                if let Some(m) = n.med {
                    let _ = write!(set, " bgp_med = {m};");
                }
                if let Some(l) = n.local_pref {
                    let _ = write!(set, " bgp_local_pref = {l};");
                }
                for (a, b) in &n.communities {
                    let _ = write!(set, " bgp_community.add(({a},{b}));");
                }
                for (a, b, d) in &n.large {
                    let _ = write!(set, " bgp_large_community.add(({a},{b},{d}));");
                }
                for _ in 0..n.prepend {
                    let _ = write!(set, " bgp_path.prepend({});", self.asn);
                }
                if set.is_empty() {
                    let _ = writeln!(c, "  route {} blackhole;", n.prefix);
                } else {
                    let _ = writeln!(c, "  route {} blackhole {{{set} }};", n.prefix);
                }
            }
            c.push_str("}\n");
        }
        for (k, n) in self.neighbors.iter().enumerate() {
            let fam = if n.addr.is_ipv6() { "ipv6" } else { "ipv4" };
            let _ = writeln!(
                c,
                "protocol bgp p{k} {{\n  local {} as {};\n  neighbor {} as {};",
                n.local, self.asn, n.addr, n.asn
            );
            if let Some(h) = self.hold {
                let _ = writeln!(
                    c,
                    "  hold time {h};\n  keepalive time {};\n  connect retry time 1;",
                    (h / 3).max(1)
                );
            } else {
                c.push_str("  connect retry time 1;\n");
            }
            // After an error BIRD waits 60 s by default before it tries again.
            c.push_str("  error wait time 1, 5;\n");
            if let Some(p) = &n.password {
                let _ = writeln!(c, "  password \"{p}\";");
            }
            if n.rr_client {
                c.push_str("  rr client;\n");
            }
            if n.asn == self.asn {
                c.push_str("  direct;\n");
            }
            // BIRD drops MED when exporting to eBGP unless the export filter sets it.
            let mut export = String::new();
            for nw in self
                .networks
                .iter()
                .filter(|nw| is_v6(&nw.prefix) == n.addr.is_ipv6())
            {
                if let Some(m) = nw.med {
                    let _ = write!(export, " if net = {} then bgp_med = {m};", nw.prefix);
                }
            }
            let _ = writeln!(
                c,
                "  {fam} {{ import all; export filter {{{export} accept; }}; }};\n}}"
            );
        }
        c
    }

    fn frr_conf(&self, host: &str) -> String {
        let mut c = format!(
            "frr defaults traditional\nhostname {host}\nlog stdout\n\
             router bgp {}\n bgp router-id {}\n bgp log-neighbor-changes\n no bgp ebgp-requires-policy\n\
             no bgp network import-check\n no bgp default ipv4-unicast\n",
            self.asn, self.router_id
        );
        if let Some(h) = self.hold {
            let _ = writeln!(c, " timers bgp {} {h}", (h / 3).max(1));
        }
        for n in &self.neighbors {
            let _ = writeln!(c, " neighbor {} remote-as {}", n.addr, n.asn);
            let _ = writeln!(c, " neighbor {} timers connect 1", n.addr);
            if let Some(p) = &n.password {
                let _ = writeln!(c, " neighbor {} password {p}", n.addr);
            }
        }
        for (fam, v6) in [("ipv4", false), ("ipv6", true)] {
            let _ = writeln!(c, " address-family {fam} unicast");
            for n in self.neighbors.iter().filter(|n| n.addr.is_ipv6() == v6) {
                let _ = writeln!(c, "  neighbor {} activate", n.addr);
                if n.rr_client {
                    let _ = writeln!(c, "  neighbor {} route-reflector-client", n.addr);
                }
            }
            for (k, n) in self.networks.iter().enumerate() {
                if is_v6(&n.prefix) == v6 {
                    let _ = writeln!(c, "  network {} route-map NET{k}", n.prefix);
                }
            }
            c.push_str(" exit-address-family\n");
        }
        for (k, n) in self.networks.iter().enumerate() {
            let _ = writeln!(c, "route-map NET{k} permit 10");
            if let Some(m) = n.med {
                let _ = writeln!(c, " set metric {m}");
            }
            if let Some(l) = n.local_pref {
                let _ = writeln!(c, " set local-preference {l}");
            }
            if !n.communities.is_empty() {
                let list: Vec<String> = n
                    .communities
                    .iter()
                    .map(|(a, b)| format!("{a}:{b}"))
                    .collect();
                let _ = writeln!(c, " set community {}", list.join(" "));
            }
            if !n.large.is_empty() {
                let list: Vec<String> = n
                    .large
                    .iter()
                    .map(|(a, b, d)| format!("{a}:{b}:{d}"))
                    .collect();
                let _ = writeln!(c, " set large-community {}", list.join(" "));
            }
            if n.prepend > 0 {
                let list = vec![self.asn.to_string(); usize::from(n.prepend)];
                let _ = writeln!(c, " set as-path prepend {}", list.join(" "));
            }
        }
        c
    }

    fn gobgp_conf(&self) -> String {
        let mut c = format!(
            "[global.config]\n  as = {}\n  router-id = \"{}\"\n",
            self.asn, self.router_id
        );
        for n in &self.neighbors {
            let _ = write!(
                c,
                "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {}\n",
                n.addr, n.asn
            );
            if let Some(p) = &n.password {
                let _ = writeln!(c, "    auth-password = \"{p}\"");
            }
            if let Some(h) = self.hold {
                let _ = write!(
                    c,
                    "  [neighbors.timers.config]\n    hold-time = {h}\n    keepalive-interval = {}\n    connect-retry = 1\n",
                    (h / 3).max(1)
                );
            } else {
                c.push_str("  [neighbors.timers.config]\n    connect-retry = 1\n");
            }
            let _ = write!(
                c,
                "  [neighbors.transport.config]\n    local-address = \"{}\"\n",
                n.local
            );
            let fam = if n.addr.is_ipv6() {
                "ipv6-unicast"
            } else {
                "ipv4-unicast"
            };
            let _ = write!(
                c,
                "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{fam}\"\n"
            );
            if n.rr_client {
                let _ = write!(
                    c,
                    "  [neighbors.route-reflector.config]\n    route-reflector-client = true\n    route-reflector-cluster-id = \"{}\"\n",
                    self.router_id
                );
            }
        }
        c
    }

    /// Our speaker's `bgp:` key (networks with attributes are announced after `up`, with
    /// `topolab bgp … announce`).
    fn ours_yaml(&self, name: &str) -> String {
        let mut y = format!(
            "  {name}:\n    kind: router\n    bgp:\n      asn: {}\n      router_id: {}\n",
            self.asn, self.router_id
        );
        let plain: Vec<&str> = self
            .networks
            .iter()
            .filter(|n| !n.has_attrs())
            .map(|n| n.prefix.as_str())
            .collect();
        let _ = writeln!(y, "      networks: [{}]", plain.join(", "));
        if let Some(h) = self.hold {
            let _ = writeln!(
                y,
                "      timers: {{hold: {h}, keepalive: {}, connect_retry: 1}}",
                (h / 3).max(1)
            );
        } else {
            y.push_str("      timers: {connect_retry: 1}\n");
        }
        y.push_str("      neighbors:\n");
        for n in &self.neighbors {
            let fam = if n.addr.is_ipv6() { "ipv6" } else { "ipv4" };
            let _ = write!(
                y,
                "        - {{address: \"{}\", remote_as: {}, local_address: \"{}\", families: [{fam}]",
                n.addr, n.asn, n.local
            );
            if let Some(p) = &n.password {
                let _ = write!(y, ", password: \"{p}\"");
            }
            if n.rr_client {
                y.push_str(", rr_client: true");
            }
            y.push_str("}\n");
        }
        y
    }

    /// The YAML of node `name` (a router with `routes: connected`) running this speaker.
    fn node_yaml(&self, name: &str) -> String {
        let (dirs, files, run) = match self.daemon {
            Daemon::Ours => return self.ours_yaml(name),
            Daemon::Bird => (
                "[/etc/bird]",
                vec![("/etc/bird/bird.conf", self.bird_conf())],
                format!(
                    "      - name: bird\n        cmd: exec bird -f -c /etc/bird/bird.conf -s {BIRD_CTL}\n        ready: {{tcp_port: 179}}\n"
                ),
            ),
            Daemon::Frr => (
                "[/etc/frr, /var/run/frr]",
                vec![("/etc/frr/frr.conf", self.frr_conf(name))],
                "      - name: zebra\n        cmd: exec /usr/lib/frr/zebra -u frr -g frr -f /etc/frr/frr.conf -i /var/run/frr/zebra.pid\n\
                 \x20     - name: bgpd\n        cmd: sleep 1; exec /usr/lib/frr/bgpd -u frr -g frr -f /etc/frr/frr.conf -i /var/run/frr/bgpd.pid\n        ready: {tcp_port: 179}\n"
                    .to_string(),
            ),
            Daemon::Gobgp => (
                "[/etc/gobgp]",
                vec![("/etc/gobgp/gobgpd.toml", self.gobgp_conf())],
                format!(
                    "      - name: gobgpd\n        cmd: exec gobgpd -f /etc/gobgp/gobgpd.toml -p --api-hosts {GOBGP_API} --pprof-disable\n        ready: {{tcp_port: 179}}\n"
                ),
            ),
        };
        let mut y = format!(
            "  {name}:\n    kind: router\n    routes: connected\n    private_dirs: {dirs}\n    files:\n"
        );
        for (path, content) in files {
            let _ = write!(
                y,
                "      {path}:\n        content: |\n{}",
                indent(&content, 10)
            );
        }
        y.push_str("    run:\n");
        y.push_str(&run);
        y
    }
}

/// One route of a speaker's RIB, in the same shape whichever speaker it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    prefix: IpNet,
    next_hop: Option<IpAddr>,
    as_path: Vec<u32>,
    med: Option<u32>,
    local_pref: Option<u32>,
    communities: BTreeSet<String>,
    large: BTreeSet<String>,
    /// RFC 4456 (None / empty where the speaker's view does not show them).
    originator_id: Option<Ipv4Addr>,
    cluster_list: Vec<Ipv4Addr>,
    best: bool,
}

impl Route {
    fn empty(prefix: IpNet) -> Route {
        Route {
            prefix,
            next_hop: None,
            as_path: Vec::new(),
            med: None,
            local_pref: None,
            communities: BTreeSet::new(),
            large: BTreeSet::new(),
            originator_id: None,
            cluster_list: Vec::new(),
            best: false,
        }
    }
}

/// The routes of a speaker's RIB by prefix (every path; `best` marks the chosen one).
type Rib = BTreeMap<IpNet, Vec<Route>>;

/// Parses `birdc show route all` (BIRD 2).
fn parse_bird(text: &str) -> Rib {
    let mut rib = Rib::new();
    let mut cur: Option<(Route, bool)> = None;
    let mut prefix: Option<IpNet> = None;
    // Only BGP routes (`Type: BGP …`) are kept.
    let flush = |cur: &mut Option<(Route, bool)>, rib: &mut Rib| {
        if let Some((r, true)) = cur.take() {
            rib.entry(r.prefix).or_default().push(r);
        }
    };
    for line in text.lines() {
        if line.starts_with('\t') {
            let Some((r, bgp)) = cur.as_mut() else {
                continue;
            };
            let l = line.trim();
            if l.starts_with("Type: BGP") {
                *bgp = true;
            }
            if let Some(v) = l.strip_prefix("BGP.as_path:") {
                r.as_path = v
                    .split_whitespace()
                    .filter_map(|a| a.trim_matches(|c| c == '{' || c == '}').parse().ok())
                    .collect();
            } else if let Some(v) = l.strip_prefix("BGP.next_hop:") {
                r.next_hop = v.split_whitespace().next().and_then(|a| a.parse().ok());
            } else if let Some(v) = l.strip_prefix("BGP.med:") {
                r.med = v.trim().parse().ok();
            } else if let Some(v) = l.strip_prefix("BGP.local_pref:") {
                r.local_pref = v.trim().parse().ok();
            } else if let Some(v) = l.strip_prefix("BGP.community:") {
                r.communities = v
                    .split(')')
                    .filter_map(|t| {
                        let t = t.trim().trim_start_matches('(');
                        let (a, b) = t.split_once(',')?;
                        Some(format!("{}:{}", a.trim(), b.trim()))
                    })
                    .collect();
            } else if let Some(v) = l.strip_prefix("BGP.originator_id:") {
                r.originator_id = v.trim().parse().ok();
            } else if let Some(v) = l.strip_prefix("BGP.cluster_list:") {
                r.cluster_list = v
                    .split_whitespace()
                    .filter_map(|a| a.parse().ok())
                    .collect();
            } else if let Some(v) = l.strip_prefix("BGP.large_community:") {
                r.large = v
                    .split(')')
                    .filter_map(|t| {
                        let t = t.trim().trim_start_matches('(');
                        let p: Vec<&str> = t.split(',').map(str::trim).collect();
                        (p.len() == 3).then(|| p.join(":"))
                    })
                    .collect();
            }
            continue;
        }
        let trimmed = line.trim_start();
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let (p, rest) = if line.starts_with(' ') {
            (prefix, &words[..])
        } else if let Ok(p) = words[0].parse::<IpNet>() {
            prefix = Some(p);
            (Some(p), &words[1..])
        } else {
            continue;
        };
        flush(&mut cur, &mut rib);
        let Some(p) = p else { continue };
        // `unicast [proto time] * (pref) [ASnnni]`.
        let mut r = Route::empty(p);
        r.best = rest.contains(&"*");
        cur = Some((r, false));
    }
    flush(&mut cur, &mut rib);
    rib
}

/// Parses `vtysh -c 'show bgp <afi> unicast <prefix> json'` (FRR) into `rib`.
fn parse_frr_prefix(v: &serde_json::Value, rib: &mut Rib) {
    let Some(prefix) = v["prefix"].as_str().and_then(|p| p.parse::<IpNet>().ok()) else {
        return;
    };
    for p in v["paths"].as_array().into_iter().flatten() {
        let mut r = Route::empty(prefix);
        r.best = p["bestpath"]["overall"].as_bool().unwrap_or(false);
        r.as_path = p["aspath"]["segments"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["list"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a.as_u64().map(|a| a as u32))
            .collect();
        r.next_hop = p["nexthops"][0]["ip"].as_str().and_then(|a| a.parse().ok());
        r.med = p["metric"].as_u64().map(|m| m as u32);
        r.local_pref = p["locPrf"]
            .as_u64()
            .or_else(|| p["localpref"].as_u64())
            .map(|m| m as u32);
        r.communities = p["community"]["string"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .map(String::from)
            .collect();
        r.large = p["largeCommunity"]["string"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .map(String::from)
            .collect();
        r.originator_id = p["originatorId"].as_str().and_then(|a| a.parse().ok());
        r.cluster_list = p["clusterList"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().and_then(|a| a.parse().ok()))
            .collect();
        // A locally originated route (next hop 0.0.0.0 / ::) has no BGP next hop.
        if r.next_hop.is_some_and(|a| a.is_unspecified()) {
            r.next_hop = None;
        }
        rib.entry(prefix).or_default().push(r);
    }
}

/// Parses `gobgp -j global rib -a <afi>` (GoBGP).
fn parse_gobgp(v: &serde_json::Value) -> Rib {
    let mut rib = Rib::new();
    for (prefix, paths) in v.as_object().into_iter().flatten() {
        let Ok(prefix) = prefix.parse::<IpNet>() else {
            continue;
        };
        for p in paths.as_array().into_iter().flatten() {
            let mut r = Route::empty(prefix);
            r.best = p["best"].as_bool().unwrap_or(false);
            for a in p["attrs"].as_array().into_iter().flatten() {
                match a["type"].as_u64() {
                    Some(2) => {
                        r.as_path = a["as_paths"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .flat_map(|s| s["asns"].as_array().cloned().unwrap_or_default())
                            .filter_map(|a| a.as_u64().map(|a| a as u32))
                            .collect()
                    }
                    Some(3) | Some(14) => {
                        r.next_hop = a["nexthop"].as_str().and_then(|a| a.parse().ok())
                    }
                    Some(4) => r.med = a["metric"].as_u64().map(|m| m as u32),
                    Some(9) => r.originator_id = a["value"].as_str().and_then(|a| a.parse().ok()),
                    Some(10) => {
                        r.cluster_list = a["value"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|a| a.as_str().and_then(|a| a.parse().ok()))
                            .collect()
                    }
                    Some(5) => r.local_pref = a["value"].as_u64().map(|m| m as u32),
                    Some(8) => {
                        r.communities = a["communities"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|c| c.as_u64())
                            .map(|c| format!("{}:{}", c >> 16, c & 0xffff))
                            .collect()
                    }
                    Some(32) => {
                        r.large = a["value"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|c| {
                                format!("{}:{}:{}", c["ASN"], c["LocalData1"], c["LocalData2"])
                            })
                            .collect()
                    }
                    _ => {}
                }
            }
            if r.next_hop.is_some_and(|a| a.is_unspecified()) {
                r.next_hop = None;
            }
            rib.entry(prefix).or_default().push(r);
        }
    }
    rib
}

/// Parses our speaker's `routes --json` (GoBGP's `global rib -j` shape: prefix → paths,
/// each a flat route view).
fn parse_ours(v: &serde_json::Value) -> Rib {
    let mut rib = Rib::new();
    for (prefix, paths) in v.as_object().into_iter().flatten() {
        let Ok(prefix) = prefix.parse::<IpNet>() else {
            continue;
        };
        for p in paths.as_array().into_iter().flatten() {
            let mut r = Route::empty(prefix);
            r.best = p["best"].as_bool().unwrap_or(false);
            r.next_hop = p["next_hop"].as_str().and_then(|a| a.parse().ok());
            if r.next_hop.is_some_and(|a| a.is_unspecified()) {
                r.next_hop = None;
            }
            r.as_path = p["as_path"]
                .as_str()
                .unwrap_or("")
                .split(|c: char| c.is_whitespace() || c == ',' || c == '{' || c == '}')
                .filter_map(|a| a.parse().ok())
                .collect();
            r.med = p["med"].as_u64().map(|m| m as u32);
            r.local_pref = p["local_pref"].as_u64().map(|m| m as u32);
            let strings = |k: &str| -> BTreeSet<String> {
                p[k].as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str().map(String::from))
                    .collect()
            };
            r.communities = strings("communities");
            r.large = strings("large_communities");
            rib.entry(prefix).or_default().push(r);
        }
    }
    rib
}

/// A running lab of BGP speakers.
struct BgpLab {
    lab: Lab,
    _down: common::DownOnDrop,
    speakers: BTreeMap<String, Speaker>,
}

/// `links`: (a, b, a's addresses, b's addresses).
type LinkSpec<'a> = (&'a str, &'a str, &'a [&'a str], &'a [&'a str]);

async fn up(
    tag: &str,
    speakers: &[(&str, Speaker)],
    extra_nodes: &str,
    links: &[LinkSpec<'_>],
) -> BgpLab {
    up_ext(tag, speakers, extra_nodes, links, &[]).await
}

/// [`up`], with YAML keys added to some links: (a, b, `key: value`).
async fn up_ext(
    tag: &str,
    speakers: &[(&str, Speaker)],
    extra_nodes: &str,
    links: &[LinkSpec<'_>],
    link_keys: &[(&str, &str, &str)],
) -> BgpLab {
    let name = common::lab_name(tag);
    let mut y = format!("name: {tag}\nnodes:\n");
    for (n, s) in speakers {
        y.push_str(&s.node_yaml(n));
    }
    y.push_str(extra_nodes);
    y.push_str("links:\n");
    for (a, b, aa, ba) in links {
        let list = |v: &[&str]| {
            format!(
                "[{}]",
                v.iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let mut addrs = Vec::new();
        if !aa.is_empty() {
            addrs.push(format!("{a}: {}", list(aa)));
        }
        if !ba.is_empty() {
            addrs.push(format!("{b}: {}", list(ba)));
        }
        let _ = writeln!(
            y,
            "  - endpoints: [{a}, {b}]\n    addresses: {{{}}}",
            addrs.join(", ")
        );
        for (x, z, kv) in link_keys {
            if (x, z) == (a, b) {
                let _ = writeln!(y, "    {kv}");
            }
        }
    }
    let topo = Topology::from_str(&y, "<bgp interop test>")
        .unwrap_or_else(|e| panic!("bad test topology: {e:?}\n{y}"));
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(name.clone()),
            exe: Some(env!("CARGO_BIN_EXE_topolab").into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("lab {name} did not come up: {e}"));
    let down = common::DownOnDrop(name);
    let lab = BgpLab {
        lab,
        _down: down,
        speakers: speakers
            .iter()
            .map(|(n, s)| (n.to_string(), s.clone()))
            .collect(),
    };
    // GoBGP's config has no originated networks: add them through its API; ours takes
    // those with attributes through `topolab bgp … announce`.
    for (n, s) in speakers {
        match s.daemon {
            Daemon::Gobgp => {
                for nw in &s.networks {
                    lab.gobgp_add(n, nw).await;
                }
            }
            Daemon::Ours => {
                for nw in s.networks.iter().filter(|nw| nw.has_attrs()) {
                    lab.ours_announce(n, nw);
                }
            }
            _ => {}
        }
    }
    lab
}

impl BgpLab {
    async fn exec(&self, node: &str, argv: &[&str]) -> (bool, String, String) {
        let out = self.lab.node(node).exec(argv).await.unwrap();
        (out.success(), out.stdout_str(), out.stderr_str())
    }

    /// `topolab bgp LAB NODE ARGS… --json` on our speaker, parsed.
    fn ours_json(&self, node: &str, args: &[&str]) -> serde_json::Value {
        let out = tokio::task::block_in_place(|| {
            common::topolab()
                .args(["bgp", self.lab.name(), node])
                .args(args)
                .arg("--json")
                .output()
                .unwrap()
        });
        assert!(
            out.status.success(),
            "{node}: topolab bgp {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{node}: topolab bgp {args:?} --json: {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Our speaker's sessions: peer address → (state, last error).
    fn ours_neighbors(&self, node: &str) -> BTreeMap<String, (String, String)> {
        let v = self.ours_json(node, &["neighbors"]);
        v.as_array()
            .into_iter()
            .flatten()
            .map(|n| {
                (
                    n["address"].as_str().unwrap_or("").to_string(),
                    (
                        n["state"].as_str().unwrap_or("").to_string(),
                        n["last_error"].as_str().unwrap_or("").to_string(),
                    ),
                )
            })
            .collect()
    }

    /// Originates `n` from our speaker on `node`, with its attributes.
    fn ours_announce(&self, node: &str, n: &Network) {
        let mut argv: Vec<String> = vec!["bgp".into(), self.lab.name().into(), node.into()];
        argv.extend(["announce".into(), n.prefix.clone()]);
        for (a, b) in &n.communities {
            argv.extend(["--community".into(), format!("{a}:{b}")]);
        }
        for (a, b, c) in &n.large {
            argv.extend(["--large-community".into(), format!("{a}:{b}:{c}")]);
        }
        if let Some(m) = n.med {
            argv.extend(["--med".into(), m.to_string()]);
        }
        if let Some(l) = n.local_pref {
            argv.extend(["--local-pref".into(), l.to_string()]);
        }
        if n.prepend > 0 {
            let asn = self.speakers[node].asn.to_string();
            argv.extend([
                "--as-path".into(),
                vec![asn; usize::from(n.prepend)].join(","),
            ]);
        }
        let out = tokio::task::block_in_place(|| common::topolab().args(&argv).output().unwrap());
        assert!(
            out.status.success(),
            "{node}: topolab {argv:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn gobgp_add(&self, node: &str, n: &Network) {
        assert_eq!(n.prepend, 0, "{node}: the tests prepend no GoBGP network");
        let fam = if is_v6(&n.prefix) { "ipv6" } else { "ipv4" };
        // ORIGIN IGP, as BIRD's and FRR's originated routes (GoBGP's default is INCOMPLETE).
        let mut argv: Vec<String> = [
            "gobgp", "global", "rib", "-a", fam, "add", &n.prefix, "origin", "igp",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(m) = n.med {
            argv.extend(["med".into(), m.to_string()]);
        }
        if let Some(l) = n.local_pref {
            argv.extend(["local-pref".into(), l.to_string()]);
        }
        if !n.communities.is_empty() {
            let l: Vec<String> = n
                .communities
                .iter()
                .map(|(a, b)| format!("{a}:{b}"))
                .collect();
            argv.extend(["community".into(), l.join(",")]);
        }
        if !n.large.is_empty() {
            let l: Vec<String> = n
                .large
                .iter()
                .map(|(a, b, c)| format!("{a}:{b}:{c}"))
                .collect();
            argv.extend(["large-community".into(), l.join(",")]);
        }
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        // The API may answer a moment after the BGP port listens.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (ok, out, err) = self.exec(node, &argv).await;
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{node}: {argv:?} failed: {out}{err}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The RIB of a third-party speaker for one address family (`v6`).
    async fn rib(&self, node: &str, v6: bool) -> Rib {
        let daemon = self.speakers[node].daemon;
        let fam = if v6 { "ipv6" } else { "ipv4" };
        match daemon {
            Daemon::Bird => {
                let table = if v6 { "master6" } else { "master4" };
                let (ok, out, err) = self
                    .exec(
                        node,
                        &[
                            "birdc", "-s", BIRD_CTL, "show", "route", "all", "table", table,
                        ],
                    )
                    .await;
                assert!(ok, "{node}: birdc: {out}{err}");
                parse_bird(&out)
            }
            Daemon::Frr => {
                let (ok, out, err) = self
                    .exec(
                        node,
                        &["vtysh", "-c", &format!("show bgp {fam} unicast json")],
                    )
                    .await;
                assert!(ok, "{node}: vtysh: {out}{err}");
                let v: serde_json::Value = serde_json::from_str(&out)
                    .unwrap_or_else(|e| panic!("{node}: vtysh json: {e}: {out}"));
                let mut rib = Rib::new();
                for p in v["routes"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(p, _)| p)
                {
                    let (ok, out, err) = self
                        .exec(
                            node,
                            &["vtysh", "-c", &format!("show bgp {fam} unicast {p} json")],
                        )
                        .await;
                    assert!(ok, "{node}: vtysh: {out}{err}");
                    let v: serde_json::Value = serde_json::from_str(&out)
                        .unwrap_or_else(|e| panic!("{node}: vtysh json: {e}: {out}"));
                    parse_frr_prefix(&v, &mut rib);
                }
                rib
            }
            Daemon::Ours => {
                let v = self.ours_json(node, &["routes"]);
                let mut rib = parse_ours(&v);
                rib.retain(|p, _| matches!(p, IpNet::V6(_)) == v6);
                rib
            }
            Daemon::Gobgp => {
                let (ok, out, err) = self
                    .exec(node, &["gobgp", "-j", "global", "rib", "-a", fam])
                    .await;
                assert!(ok, "{node}: gobgp: {out}{err}");
                let v: serde_json::Value = serde_json::from_str(out.trim())
                    .unwrap_or_else(|e| panic!("{node}: gobgp json: {e}: {out}"));
                parse_gobgp(&v)
            }
        }
    }

    /// Polls `node`'s RIB until `ok` holds for it (at most `secs` seconds); returns that RIB.
    async fn wait_rib(
        &self,
        node: &str,
        v6: bool,
        secs: u64,
        what: &str,
        ok: impl Fn(&Rib) -> bool,
    ) -> Rib {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let rib = self.rib(node, v6).await;
            if ok(&rib) {
                return rib;
            }
            if Instant::now() >= deadline {
                let logs = self.logs(node).await;
                let status = self.status(node).await;
                panic!(
                    "{node}: never {what}; its RIB: {rib:#?}\nits sessions:\n{status}\nits logs:\n{logs}"
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// What a speaker says about its sessions (for failure messages).
    async fn status(&self, node: &str) -> String {
        let argv: Vec<&str> = match self.speakers[node].daemon {
            Daemon::Bird => vec!["birdc", "-s", BIRD_CTL, "show", "protocols", "all"],
            Daemon::Frr => vec!["vtysh", "-c", "show bgp neighbors"],
            Daemon::Gobgp => vec!["gobgp", "neighbor"],
            Daemon::Ours => {
                return self.ours_json(node, &["neighbors"]).to_string();
            }
        };
        let (_, out, err) = self.exec(node, &argv).await;
        format!("{out}{err}")
    }

    /// The best route of `prefix` in `rib`.
    fn best(rib: &Rib, prefix: &str) -> Option<Route> {
        let p: IpNet = prefix.parse().unwrap();
        rib.get(&p)?.iter().find(|r| r.best).cloned()
    }

    /// The logs of every service of `node` (the lab's log files).
    async fn logs(&self, node: &str) -> String {
        let dir = self.lab.run_dir().join("logs");
        let mut s = String::new();
        if let Ok(rd) = std::fs::read_dir(&dir) {
            let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            files.sort();
            for f in files {
                let fname = f.file_name().unwrap().to_string_lossy().to_string();
                if fname.starts_with(&format!("{node}.")) {
                    let text = std::fs::read_to_string(&f).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(40).collect();
                    let _ = writeln!(s, "== {fname}");
                    for l in tail.into_iter().rev() {
                        let _ = writeln!(s, "{l}");
                    }
                }
            }
        }
        s
    }
}

/// BIRD (AS 65001) ↔ FRR (AS 65002) ↔ GoBGP (AS 65003) in a triangle of eBGP sessions over
/// IPv4 and IPv6, each originating one prefix per family: every speaker learns the other
/// two's prefixes, with the direct path (one AS) as its best.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_talk_to_each_other() {
    need_root!();
    if ![Daemon::Bird, Daemon::Frr, Daemon::Gobgp]
        .iter()
        .all(|d| d.installed())
    {
        return;
    }
    let sp = |daemon, asn: u32, id: &str, nbrs: Vec<Nbr>, nets: &[&str]| Speaker {
        daemon,
        asn,
        router_id: id.parse().unwrap(),
        neighbors: nbrs,
        networks: nets.iter().map(|p| net(p)).collect(),
        hold: None,
    };
    let r1 = sp(
        Daemon::Bird,
        65001,
        "10.0.0.1",
        vec![
            Nbr::new("172.30.12.1", "172.30.12.2", 65002),
            Nbr::new("172.30.13.1", "172.30.13.2", 65003),
            Nbr::new("fd00:12::1", "fd00:12::2", 65002),
            Nbr::new("fd00:13::1", "fd00:13::2", 65003),
        ],
        &["10.1.0.0/24", "fd01:1::/48"],
    );
    let r2 = sp(
        Daemon::Frr,
        65002,
        "10.0.0.2",
        vec![
            Nbr::new("172.30.12.2", "172.30.12.1", 65001),
            Nbr::new("172.30.23.1", "172.30.23.2", 65003),
            Nbr::new("fd00:12::2", "fd00:12::1", 65001),
            Nbr::new("fd00:23::1", "fd00:23::2", 65003),
        ],
        &["10.2.0.0/24", "fd01:2::/48"],
    );
    let r3 = sp(
        Daemon::Gobgp,
        65003,
        "10.0.0.3",
        vec![
            Nbr::new("172.30.13.2", "172.30.13.1", 65001),
            Nbr::new("172.30.23.2", "172.30.23.1", 65002),
            Nbr::new("fd00:13::2", "fd00:13::1", 65001),
            Nbr::new("fd00:23::2", "fd00:23::1", 65002),
        ],
        &["10.3.0.0/24", "fd01:3::/48"],
    );
    let lab = up(
        "bgpx3",
        &[("r1", r1), ("r2", r2), ("r3", r3)],
        "",
        &[
            (
                "r1",
                "r2",
                &["172.30.12.1/30", "fd00:12::1/64"],
                &["172.30.12.2/30", "fd00:12::2/64"],
            ),
            (
                "r1",
                "r3",
                &["172.30.13.1/30", "fd00:13::1/64"],
                &["172.30.13.2/30", "fd00:13::2/64"],
            ),
            (
                "r2",
                "r3",
                &["172.30.23.1/30", "fd00:23::1/64"],
                &["172.30.23.2/30", "fd00:23::2/64"],
            ),
        ],
    )
    .await;
    // node → (its AS, its prefixes, its address toward each other node per family).
    let origin: [(&str, u32, [&str; 2]); 3] = [
        ("r1", 65001, ["10.1.0.0/24", "fd01:1::/48"]),
        ("r2", 65002, ["10.2.0.0/24", "fd01:2::/48"]),
        ("r3", 65003, ["10.3.0.0/24", "fd01:3::/48"]),
    ];
    let addr = |from: &str, to: &str, v6: bool| -> IpAddr {
        let (a, b) = if from < to { (from, to) } else { (to, from) };
        let pair = format!("{}{}", &a[1..], &b[1..]);
        let host = if from == a { 1 } else { 2 };
        if v6 {
            format!("fd00:{pair}::{host}").parse().unwrap()
        } else {
            format!("172.30.{pair}.{host}").parse().unwrap()
        }
    };
    for (node, _, _) in origin {
        for v6 in [false, true] {
            let want: Vec<(&str, u32, IpAddr)> = origin
                .iter()
                .filter(|o| o.0 != node)
                .map(|o| (o.2[v6 as usize], o.1, addr(o.0, node, v6)))
                .collect();
            let rib = lab
                .wait_rib(node, v6, 60, "learned its neighbors' prefixes", |rib| {
                    want.iter().all(|(p, asn, _)| {
                        BgpLab::best(rib, p).is_some_and(|r| r.as_path == [*asn])
                    })
                })
                .await;
            for (p, asn, via) in &want {
                let best = BgpLab::best(&rib, p).unwrap();
                assert_eq!(best.as_path, vec![*asn], "{node}: {p}: {best:?}");
                if !v6 {
                    assert_eq!(best.next_hop, Some(*via), "{node}: {p}: {best:?}");
                } else {
                    // IPv6 next hops are the peer's global address (a link-local may follow).
                    assert_eq!(best.next_hop, Some(*via), "{node}: {p}: {best:?}");
                }
                // The other path (through the third AS) is there too, not best.
                let all = &rib[&p.parse::<IpNet>().unwrap()];
                assert!(
                    all.iter()
                        .any(|r| !r.best && r.as_path.len() == 2 && r.as_path[1] == *asn),
                    "{node}: {p}: no path through the third AS: {all:?}"
                );
            }
        }
    }
    lab.lab.down().await.unwrap();
}

fn speaker(
    daemon: Daemon,
    asn: u32,
    id: &str,
    neighbors: Vec<Nbr>,
    networks: Vec<Network>,
) -> Speaker {
    Speaker {
        daemon,
        asn,
        router_id: id.parse().unwrap(),
        neighbors,
        networks,
        hold: None,
    }
}

/// Our speaker r0 (AS 65000, router ID 10.0.0.100) with an eBGP session to each peer rK
/// (AS 65000+K, router ID 10.0.0.K) over the link r0–rK (172.30.K.0/30 and, with `v6`,
/// fd00:K::/64 with a second session): r0 originates 10.0.0.0/24 (and fd01::/48), rK
/// 10.K.0.0/24 (and fd01:K::/48).
struct Star {
    hub: Speaker,
    spokes: Vec<(String, Speaker)>,
    v6: bool,
}

fn star(peers: &[Daemon], v6: bool) -> Star {
    let mut hub_nbrs = Vec::new();
    let mut spokes = Vec::new();
    for (i, d) in peers.iter().enumerate() {
        let k = i + 1;
        let asn = 65000 + k as u32;
        hub_nbrs.push(Nbr::new(
            &format!("172.30.{k}.1"),
            &format!("172.30.{k}.2"),
            asn,
        ));
        let mut nbrs = vec![Nbr::new(
            &format!("172.30.{k}.2"),
            &format!("172.30.{k}.1"),
            65000,
        )];
        let mut nets = vec![net(&format!("10.{k}.0.0/24"))];
        if v6 {
            hub_nbrs.push(Nbr::new(
                &format!("fd00:{k}::1"),
                &format!("fd00:{k}::2"),
                asn,
            ));
            nbrs.push(Nbr::new(
                &format!("fd00:{k}::2"),
                &format!("fd00:{k}::1"),
                65000,
            ));
            nets.push(net(&format!("fd01:{k}::/48")));
        }
        spokes.push((
            format!("r{k}"),
            speaker(*d, asn, &format!("10.0.0.{k}"), nbrs, nets),
        ));
    }
    let mut nets = vec![net("10.0.0.0/24")];
    if v6 {
        nets.push(net("fd01::/48"));
    }
    Star {
        hub: speaker(Daemon::Ours, 65000, "10.0.0.100", hub_nbrs, nets),
        spokes,
        v6,
    }
}

impl Star {
    async fn up(self, tag: &str) -> BgpLab {
        let mut members: Vec<(&str, Speaker)> = vec![("r0", self.hub.clone())];
        for (n, s) in &self.spokes {
            members.push((n.as_str(), s.clone()));
        }
        let addrs: Vec<(String, Vec<String>, Vec<String>)> = (1..=self.spokes.len())
            .map(|k| {
                let mut a = vec![format!("172.30.{k}.1/30")];
                let mut b = vec![format!("172.30.{k}.2/30")];
                if self.v6 {
                    a.push(format!("fd00:{k}::1/64"));
                    b.push(format!("fd00:{k}::2/64"));
                }
                (format!("r{k}"), a, b)
            })
            .collect();
        let a_refs: Vec<Vec<&str>> = addrs
            .iter()
            .map(|x| x.1.iter().map(String::as_str).collect())
            .collect();
        let b_refs: Vec<Vec<&str>> = addrs
            .iter()
            .map(|x| x.2.iter().map(String::as_str).collect())
            .collect();
        let links: Vec<LinkSpec<'_>> = addrs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                (
                    "r0",
                    x.0.as_str(),
                    a_refs[i].as_slice(),
                    b_refs[i].as_slice(),
                )
            })
            .collect();
        up(tag, &members, "", &links).await
    }
}

/// Whether every daemon is installed (under CI a missing one fails: `have_peer`).
fn have(daemons: &[Daemon]) -> bool {
    daemons.iter().all(|d| d.installed())
}

impl BgpLab {
    /// Waits until our speaker on `node` has every session in `peers` (addresses) in state
    /// `established`.
    async fn wait_ours_established(&self, node: &str, peers: &[&str], secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let n = self.ours_neighbors(node);
            if peers
                .iter()
                .all(|p| n.get(*p).is_some_and(|s| s.0 == "established"))
            {
                return;
            }
            if Instant::now() >= deadline {
                let logs = self.logs(node).await;
                panic!("{node}: sessions never all established: {n:?}\n{logs}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Changes link `a`–`b` (`loss=100%` …), both directions.
    async fn set_link(&mut self, a: &str, b: &str, change: &str) {
        let c = topolab::topology::changes::parse_changes(&[change]).unwrap();
        self.lab
            .link(a, b, topolab::lab::links::LinkAction::set(c))
            .await
            .unwrap_or_else(|e| panic!("link {a}–{b} {change}: {e}"));
    }

    /// Polls `node`'s kernel table (read with `ip`, as tests may) until `prefix` is routed
    /// via `via`.
    async fn wait_kernel_route(&self, node: &str, prefix: &str, via: IpAddr) {
        let fam = if via.is_ipv6() { "-6" } else { "-4" };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, out, err) = self.exec(node, &["ip", fam, "route", "show", prefix]).await;
            if out.contains(&format!("via {via} ")) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{node}: the kernel never routed {prefix} via {via}: {out}{err}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Runs `topolab ARGS…`, asserting success.
    fn topolab(&self, args: &[&str]) -> String {
        let out = tokio::task::block_in_place(|| common::topolab().args(args).output().unwrap());
        assert!(
            out.status.success(),
            "topolab {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The harness's attribute views, checked between the peers alone: FRR reflects routes
/// between its iBGP clients BIRD and GoBGP (AS 65000, one LAN), and each client sees the
/// other's route with its communities, large communities, MED and LOCAL_PREF, with
/// ORIGINATOR_ID the originator's router ID and CLUSTER_LIST FRR's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_reflect_routes_with_their_attributes() {
    need_root!();
    if !have(&[Daemon::Bird, Daemon::Frr, Daemon::Gobgp]) {
        return;
    }
    let lan = |k: u8| format!("10.20.0.{k}");
    let rr = {
        let mut b = Nbr::new(&lan(1), &lan(2), 65000);
        b.rr_client = true;
        let mut g = Nbr::new(&lan(1), &lan(3), 65000);
        g.rr_client = true;
        speaker(Daemon::Frr, 65000, "10.0.0.1", vec![b, g], vec![])
    };
    let bird = speaker(
        Daemon::Bird,
        65000,
        "10.0.0.2",
        vec![Nbr::new(&lan(2), &lan(1), 65000)],
        vec![Network {
            prefix: "10.2.0.0/24".into(),
            med: Some(12),
            local_pref: Some(150),
            communities: vec![(65000, 2)],
            large: vec![(65000, 2, 3)],
            prepend: 0,
        }],
    );
    let gobgp = speaker(
        Daemon::Gobgp,
        65000,
        "10.0.0.3",
        vec![Nbr::new(&lan(3), &lan(1), 65000)],
        vec![Network {
            prefix: "10.3.0.0/24".into(),
            med: Some(13),
            local_pref: Some(130),
            communities: vec![(65000, 3)],
            large: vec![(65000, 3, 4)],
            prepend: 0,
        }],
    );
    let lab = up(
        "bgprr",
        &[("r1", rr), ("r2", bird), ("r3", gobgp)],
        "  s1: {kind: switch}\n",
        &[
            ("r1", "s1", &["10.20.0.1/24"], &[]),
            ("r2", "s1", &["10.20.0.2/24"], &[]),
            ("r3", "s1", &["10.20.0.3/24"], &[]),
        ],
    )
    .await;
    for (node, prefix, origin_id, via, med, lp, comm, large) in [
        (
            "r3",
            "10.2.0.0/24",
            "10.0.0.2",
            "10.20.0.2",
            12,
            150,
            "65000:2",
            "65000:2:3",
        ),
        (
            "r2",
            "10.3.0.0/24",
            "10.0.0.3",
            "10.20.0.3",
            13,
            130,
            "65000:3",
            "65000:3:4",
        ),
    ] {
        let rib = lab
            .wait_rib(node, false, 60, &format!("learned {prefix}"), |rib| {
                BgpLab::best(rib, prefix).is_some()
            })
            .await;
        let r = BgpLab::best(&rib, prefix).unwrap();
        assert_eq!(r.as_path, Vec::<u32>::new(), "{node}: {r:?}");
        assert_eq!(r.next_hop, Some(via.parse().unwrap()), "{node}: {r:?}");
        assert_eq!(r.med, Some(med), "{node}: {r:?}");
        assert_eq!(r.local_pref, Some(lp), "{node}: {r:?}");
        assert!(r.communities.contains(comm), "{node}: {r:?}");
        assert!(r.large.contains(large), "{node}: {r:?}");
        assert_eq!(
            r.originator_id,
            Some(origin_id.parse().unwrap()),
            "{node}: {r:?}"
        );
        assert_eq!(
            r.cluster_list,
            vec!["10.0.0.1".parse::<Ipv4Addr>().unwrap()],
            "{node}: {r:?}"
        );
    }
    // FRR, the reflector, sees both with their attributes too.
    let rib = lab
        .wait_rib("r1", false, 30, "learned both", |rib| {
            BgpLab::best(rib, "10.2.0.0/24").is_some() && BgpLab::best(rib, "10.3.0.0/24").is_some()
        })
        .await;
    let r = BgpLab::best(&rib, "10.2.0.0/24").unwrap();
    assert_eq!((r.med, r.local_pref), (Some(12), Some(150)), "{r:?}");
    lab.lab.down().await.unwrap();
}

// ---- our speaker with each peer (one test per "done when" item of issue 11) ----

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// eBGP over IPv4 and IPv6 between our speaker and BIRD, FRR and GoBGP (a star: each peer
/// has one session per family, with us only): we learn each peer's prefixes with the
/// peer's AS as the path and its address as the next hop; each peer learns ours with our
/// AS, and the other peers' through us (our AS prepended, our address as the next hop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ebgp_ipv4_and_ipv6_with_each_peer() {
    need_root!();
    let peers = [Daemon::Bird, Daemon::Frr, Daemon::Gobgp];
    if !have(&peers) {
        return;
    }
    let lab = star(&peers, true).up("bgpeb").await;
    let addrs: Vec<String> = (1..=3)
        .flat_map(|k| [format!("172.30.{k}.2"), format!("fd00:{k}::2")])
        .collect();
    let addr_refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    lab.wait_ours_established("r0", &addr_refs, 60).await;
    for v6 in [false, true] {
        let pfx = |k: usize| {
            if v6 {
                if k == 0 {
                    "fd01::/48".to_string()
                } else {
                    format!("fd01:{k}::/48")
                }
            } else {
                format!("10.{k}.0.0/24")
            }
        };
        let addr = |k: usize, side: u8| {
            if v6 {
                ip(&format!("fd00:{k}::{side}"))
            } else {
                ip(&format!("172.30.{k}.{side}"))
            }
        };
        // Ours: each peer's prefix, direct.
        let rib = lab
            .wait_rib("r0", v6, 60, "learned every peer's prefix", |rib| {
                (1..=3).all(|k| BgpLab::best(rib, &pfx(k)).is_some())
            })
            .await;
        for k in 1..=3 {
            let r = BgpLab::best(&rib, &pfx(k)).unwrap();
            assert_eq!(r.as_path, vec![65000 + k as u32], "r0: {r:?}");
            assert_eq!(r.next_hop, Some(addr(k, 2)), "r0: {r:?}");
            // And in r0's kernel table, so that traffic follows it.
            lab.wait_kernel_route("r0", &pfx(k), addr(k, 2)).await;
        }
        // Each peer: ours direct, the others through us.
        for k in 1..=3 {
            let node = format!("r{k}");
            let rib = lab
                .wait_rib(
                    &node,
                    v6,
                    60,
                    "learned ours and the other peers' prefixes",
                    |rib| {
                        (0..=3)
                            .filter(|j| *j != k)
                            .all(|j| BgpLab::best(rib, &pfx(j)).is_some())
                    },
                )
                .await;
            for j in (0..=3).filter(|j| *j != k) {
                let r = BgpLab::best(&rib, &pfx(j)).unwrap();
                let want: Vec<u32> = if j == 0 {
                    vec![65000]
                } else {
                    vec![65000, 65000 + j as u32]
                };
                assert_eq!(r.as_path, want, "{node}: {r:?}");
                assert_eq!(r.next_hop, Some(addr(k, 1)), "{node}: {r:?}");
            }
        }
    }
    lab.lab.down().await.unwrap();
}

/// iBGP with our speaker as route reflector (AS 65000, one LAN): BIRD and FRR are its
/// clients. Each client's route reaches the other with ORIGINATOR_ID the originator's
/// router ID, CLUSTER_LIST our cluster ID (our router ID), the originator's next hop, and
/// its MED, LOCAL_PREF, communities and large communities; our own route reaches both with
/// the LOCAL_PREF and MED we gave it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ibgp_our_route_reflector_with_bird_and_frr_clients() {
    need_root!();
    if !have(&[Daemon::Bird, Daemon::Frr]) {
        return;
    }
    let lan = |k: u8| format!("10.20.0.{k}");
    let client = |k: u8| {
        let mut n = Nbr::new(&lan(1), &lan(k), 65000);
        n.rr_client = true;
        n
    };
    let attrs = |prefix: &str, med, lp, c: u16| Network {
        prefix: prefix.into(),
        med: Some(med),
        local_pref: Some(lp),
        communities: vec![(65000, c)],
        large: vec![(65000, u32::from(c), 7)],
        prepend: 0,
    };
    let ours = speaker(
        Daemon::Ours,
        65000,
        "10.0.0.100",
        vec![client(2), client(3)],
        vec![attrs("10.9.0.0/24", 9, 300, 9)],
    );
    let bird = speaker(
        Daemon::Bird,
        65000,
        "10.0.0.1",
        vec![Nbr::new(&lan(2), &lan(1), 65000)],
        vec![attrs("10.1.0.0/24", 11, 150, 1)],
    );
    let frr = speaker(
        Daemon::Frr,
        65000,
        "10.0.0.2",
        vec![Nbr::new(&lan(3), &lan(1), 65000)],
        vec![attrs("10.2.0.0/24", 12, 120, 2)],
    );
    let lab = up(
        "bgprrours",
        &[("r0", ours), ("r1", bird), ("r2", frr)],
        "  s1: {kind: switch}\n",
        &[
            ("r0", "s1", &["10.20.0.1/24"], &[]),
            ("r1", "s1", &["10.20.0.2/24"], &[]),
            ("r2", "s1", &["10.20.0.3/24"], &[]),
        ],
    )
    .await;
    lab.wait_ours_established("r0", &["10.20.0.2", "10.20.0.3"], 60)
        .await;
    // (node, prefix, originator, next hop, med, local-pref, community).
    for (node, prefix, originator, via, med, lp, c) in [
        ("r2", "10.1.0.0/24", "10.0.0.1", "10.20.0.2", 11, 150, 1),
        ("r1", "10.2.0.0/24", "10.0.0.2", "10.20.0.3", 12, 120, 2),
    ] {
        let rib = lab
            .wait_rib(
                node,
                false,
                60,
                &format!("learned the reflected {prefix}"),
                |rib| BgpLab::best(rib, prefix).is_some(),
            )
            .await;
        let r = BgpLab::best(&rib, prefix).unwrap();
        assert_eq!(r.as_path, Vec::<u32>::new(), "{node}: {r:?}");
        assert_eq!(r.next_hop, Some(ip(via)), "{node}: {r:?}");
        assert_eq!(
            (r.med, r.local_pref),
            (Some(med), Some(lp)),
            "{node}: {r:?}"
        );
        assert!(
            r.communities.contains(&format!("65000:{c}")),
            "{node}: {r:?}"
        );
        assert!(r.large.contains(&format!("65000:{c}:7")), "{node}: {r:?}");
        assert_eq!(
            r.originator_id,
            Some(originator.parse().unwrap()),
            "{node}: {r:?}"
        );
        assert_eq!(
            r.cluster_list,
            vec!["10.0.0.100".parse::<Ipv4Addr>().unwrap()],
            "{node}: {r:?}"
        );
    }
    for node in ["r1", "r2"] {
        let rib = lab
            .wait_rib(node, false, 60, "learned our 10.9.0.0/24", |rib| {
                BgpLab::best(rib, "10.9.0.0/24").is_some()
            })
            .await;
        let r = BgpLab::best(&rib, "10.9.0.0/24").unwrap();
        assert_eq!(r.next_hop, Some(ip("10.20.0.1")), "{node}: {r:?}");
        assert_eq!((r.med, r.local_pref), (Some(9), Some(300)), "{node}: {r:?}");
        assert!(r.communities.contains("65000:9"), "{node}: {r:?}");
        assert_eq!(
            r.originator_id, None,
            "{node}: our own route is not reflected: {r:?}"
        );
    }
    // Ours: both clients' routes with their LOCAL_PREF.
    let rib = lab
        .wait_rib("r0", false, 30, "learned both clients' routes", |rib| {
            BgpLab::best(rib, "10.1.0.0/24").is_some() && BgpLab::best(rib, "10.2.0.0/24").is_some()
        })
        .await;
    assert_eq!(
        BgpLab::best(&rib, "10.1.0.0/24").unwrap().local_pref,
        Some(150)
    );
    assert_eq!(
        BgpLab::best(&rib, "10.2.0.0/24").unwrap().local_pref,
        Some(120)
    );
    lab.lab.down().await.unwrap();
}

/// A full mesh of eBGP sessions between our speaker (AS 65000) and BIRD (65001), FRR
/// (65002) and GoBGP (65003), each originating a prefix with a community, a large
/// community and a MED: every speaker sees every other's prefix with those attributes
/// (they cross both ways), communities pass through our speaker to the others, and for
/// four prefixes originated twice (one origin prepending its AS twice) both speakers that
/// did not originate one choose the same best path — our view is compared with each
/// peer's, and the peers' with each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_cross_both_ways_and_best_paths_agree() {
    need_root!();
    let daemons = [Daemon::Ours, Daemon::Bird, Daemon::Frr, Daemon::Gobgp];
    if !have(&daemons) {
        return;
    }
    let asn = |k: usize| 65000 + k as u32;
    // The link between a and b (a < b): 172.30.(10a+b).0/30, a takes .1.
    let addr = |me: usize, other: usize| -> String {
        let (a, b) = (me.min(other), me.max(other));
        format!("172.30.{}.{}", 10 * a + b, if me == a { 1 } else { 2 })
    };
    // Prefixes originated twice: (prefix, origin announcing it plainly, origin prepending
    // its AS twice). The other two speakers must both choose the plain origin's path, so
    // that our speaker is compared with each peer and the peers with each other.
    let shared: [(&str, usize, usize); 4] = [
        ("10.99.0.0/24", 3, 1), // chosen by ours and FRR
        ("10.97.0.0/24", 3, 2), // by ours and BIRD
        ("10.96.0.0/24", 1, 2), // by ours and GoBGP
        ("10.98.0.0/24", 0, 2), // by BIRD and GoBGP
    ];
    let mut members = Vec::new();
    for (k, d) in daemons.iter().enumerate() {
        let nbrs = (0..4)
            .filter(|j| *j != k)
            .map(|j| Nbr::new(&addr(k, j), &addr(j, k), asn(j)))
            .collect();
        let mut nets = vec![Network {
            prefix: format!("10.{k}.0.0/24"),
            med: Some(10 + k as u32),
            communities: vec![(asn(k) as u16, 1)],
            large: vec![(asn(k), 1, 2)],
            ..Default::default()
        }];
        for (prefix, plain, prepended) in shared {
            if k == plain {
                nets.push(net(prefix));
            } else if k == prepended {
                nets.push(Network {
                    prefix: prefix.into(),
                    prepend: 2,
                    ..Default::default()
                });
            }
        }
        let id = if k == 0 {
            "10.0.0.100".to_string()
        } else {
            format!("10.0.0.{k}")
        };
        members.push((format!("r{k}"), speaker(*d, asn(k), &id, nbrs, nets)));
    }
    let mut link_addrs = Vec::new();
    for a in 0..4 {
        for b in a + 1..4 {
            link_addrs.push((
                a,
                b,
                vec![format!("{}/30", addr(a, b))],
                vec![format!("{}/30", addr(b, a))],
            ));
        }
    }
    let names: Vec<String> = (0..4).map(|k| format!("r{k}")).collect();
    let a_refs: Vec<Vec<&str>> = link_addrs
        .iter()
        .map(|l| l.2.iter().map(String::as_str).collect())
        .collect();
    let b_refs: Vec<Vec<&str>> = link_addrs
        .iter()
        .map(|l| l.3.iter().map(String::as_str).collect())
        .collect();
    let links: Vec<LinkSpec<'_>> = link_addrs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                names[l.0].as_str(),
                names[l.1].as_str(),
                a_refs[i].as_slice(),
                b_refs[i].as_slice(),
            )
        })
        .collect();
    let member_refs: Vec<(&str, Speaker)> = members
        .iter()
        .map(|(n, s)| (n.as_str(), s.clone()))
        .collect();
    let lab = up("bgpattr", &member_refs, "", &links).await;
    let peer_addrs: Vec<String> = (1..4).map(|j| addr(j, 0)).collect();
    let peer_refs: Vec<&str> = peer_addrs.iter().map(String::as_str).collect();
    lab.wait_ours_established("r0", &peer_refs, 60).await;

    let mut ribs = BTreeMap::new();
    for k in 0..4 {
        let node = format!("r{k}");
        let rib = lab
            .wait_rib(&node, false, 60, "learned every prefix", |rib| {
                // Every other origin's prefix with its direct path as best, and the shared
                // prefixes it does not originate with a best path.
                (0..4).filter(|j| *j != k).all(|j| {
                    BgpLab::best(rib, &format!("10.{j}.0.0/24"))
                        .is_some_and(|r| r.as_path == [asn(j)])
                }) && shared
                    .iter()
                    .filter(|(_, a, b)| *a != k && *b != k)
                    .all(|(p, _, _)| BgpLab::best(rib, p).is_some())
            })
            .await;
        for j in (0..4).filter(|j| *j != k) {
            let r = BgpLab::best(&rib, &format!("10.{j}.0.0/24")).unwrap();
            assert_eq!(r.next_hop, Some(ip(&addr(j, k))), "{node}: {r:?}");
            assert_eq!(r.med, Some(10 + j as u32), "{node}: MED from r{j}: {r:?}");
            assert!(
                r.communities.contains(&format!("{}:1", asn(j))),
                "{node}: {r:?}"
            );
            assert!(
                r.large.contains(&format!("{}:1:2", asn(j))),
                "{node}: {r:?}"
            );
        }
        ribs.insert(k, rib);
    }
    // Communities pass through our speaker: FRR's path to BIRD's prefix via us, and ours
    // to GoBGP's via FRR, keep the originator's communities.
    for (k, prefix, via_path) in [
        (2, "10.1.0.0/24", vec![65000, 65001]),
        (0, "10.3.0.0/24", vec![65002, 65003]),
    ] {
        let paths = &ribs[&k][&prefix.parse::<IpNet>().unwrap()];
        let r = paths
            .iter()
            .find(|r| r.as_path == via_path)
            .unwrap_or_else(|| panic!("r{k}: no path {via_path:?} for {prefix}: {paths:?}"));
        let origin = via_path[1];
        assert!(
            r.communities.contains(&format!("{origin}:1")),
            "r{k}: {r:?}"
        );
        assert!(r.large.contains(&format!("{origin}:1:2")), "r{k}: {r:?}");
    }
    // The same best path at both speakers that did not originate a shared prefix: the
    // plain origin's, one AS long.
    for (prefix, plain, prepended) in shared {
        let bests: Vec<(usize, Option<Route>)> = (0..4)
            .filter(|k| *k != plain && *k != prepended)
            .map(|k| (k, BgpLab::best(&ribs[&k], prefix)))
            .collect();
        for (k, best) in &bests {
            let best = best.as_ref().map(|r| (r.as_path.clone(), r.next_hop));
            assert_eq!(
                best,
                Some((vec![asn(plain)], Some(ip(&addr(plain, *k))))),
                "r{k}: best path for {prefix}: {bests:?}"
            );
        }
    }
    lab.lab.down().await.unwrap();
}

impl BgpLab {
    /// FRR's message counters for one neighbor (`messageStats` of `show bgp neighbors`).
    async fn frr_stats(&self, node: &str, peer: &str) -> BTreeMap<String, u64> {
        let (ok, out, err) = self
            .exec(
                node,
                &["vtysh", "-c", &format!("show bgp neighbors {peer} json")],
            )
            .await;
        assert!(ok, "{node}: vtysh: {out}{err}");
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        v[peer]["messageStats"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, n)| Some((k.clone(), n.as_u64()?)))
            .collect()
    }

    /// Polls FRR's counters for `peer` until `ok` holds (at most `secs` seconds).
    async fn wait_frr_stats(
        &self,
        node: &str,
        peer: &str,
        secs: u64,
        what: &str,
        ok: impl Fn(&BTreeMap<String, u64>) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.frr_stats(node, peer).await;
            if ok(&s) {
                return;
            }
            assert!(Instant::now() < deadline, "{node}: never {what}: {s:?}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Polls the logs of `node` until one line matches `pattern` (case-insensitive).
    async fn wait_log(&self, node: &str, pattern: &str, secs: u64) -> String {
        let re = regex::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let logs = self.logs(node).await;
            if let Some(l) = logs.lines().find(|l| re.is_match(l)) {
                return l.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "{node}: no log line matches /{pattern}/:\n{logs}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// Route refresh (RFC 2918) both ways with FRR: FRR's `clear … soft in` sends a
/// ROUTE-REFRESH and our speaker answers with its routes again; `topolab bgp … refresh`
/// sends one to FRR, which answers with its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_refresh_both_ways_with_frr() {
    need_root!();
    if !have(&[Daemon::Frr]) {
        return;
    }
    let lab = star(&[Daemon::Frr], false).up("bgprefresh").await;
    lab.wait_ours_established("r0", &["172.30.1.2"], 60).await;
    lab.wait_rib("r1", false, 60, "learned 10.0.0.0/24", |rib| {
        BgpLab::best(rib, "10.0.0.0/24").is_some()
    })
    .await;
    lab.wait_rib("r0", false, 60, "learned 10.1.0.0/24", |rib| {
        BgpLab::best(rib, "10.1.0.0/24").is_some()
    })
    .await;
    // FRR asks us.
    let before = lab.frr_stats("r1", "172.30.1.1").await;
    let (ok, out, err) = lab
        .exec(
            "r1",
            &["vtysh", "-c", "clear bgp ipv4 unicast 172.30.1.1 soft in"],
        )
        .await;
    assert!(ok, "{out}{err}");
    let (sent, recv) = (before["routeRefreshSent"], before["updatesRecv"]);
    lab.wait_frr_stats(
        "r1",
        "172.30.1.1",
        30,
        "got our routes again after its ROUTE-REFRESH",
        |s| s["routeRefreshSent"] > sent && s["updatesRecv"] > recv,
    )
    .await;
    // We ask FRR.
    let before = lab.frr_stats("r1", "172.30.1.1").await;
    let (rrecv, usent) = (before["routeRefreshRecv"], before["updatesSent"]);
    let ours_in = lab.ours_json("r0", &["neighbors"])[0]["messages_in"]
        .as_u64()
        .unwrap_or(0);
    lab.topolab(&["bgp", lab.lab.name(), "r0", "refresh", "172.30.1.2"]);
    lab.wait_frr_stats("r1", "172.30.1.1", 30, "answered our ROUTE-REFRESH", |s| {
        s["routeRefreshRecv"] > rrecv && s["updatesSent"] > usent
    })
    .await;
    let now_in = lab.ours_json("r0", &["neighbors"])[0]["messages_in"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        now_in > ours_in,
        "our speaker counted no message from FRR after the refresh"
    );
    let rib = lab.rib("r0", false).await;
    assert!(BgpLab::best(&rib, "10.1.0.0/24").is_some(), "{rib:?}");
    lab.lab.down().await.unwrap();
}

/// A link that silently drops everything (100 % loss: no carrier change, so nothing but
/// the hold timer can notice) ends our session with BIRD on hold-timer expiry (hold time
/// 3 s, both sides): our speaker records the NOTIFICATION it sent (4/0), BIRD logs the
/// expiry, and BIRD's prefix reconverges through FRR; when the link heals the session
/// comes back and the direct path wins again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_failure_ends_session_on_hold_timer_and_routes_reconverge() {
    need_root!();
    if !have(&[Daemon::Bird, Daemon::Frr]) {
        return;
    }
    let mut s = star(&[Daemon::Bird, Daemon::Frr], false);
    // BIRD and FRR also peer with each other (172.30.12.0/30).
    s.spokes[0]
        .1
        .neighbors
        .push(Nbr::new("172.30.12.1", "172.30.12.2", 65002));
    s.spokes[1]
        .1
        .neighbors
        .push(Nbr::new("172.30.12.2", "172.30.12.1", 65001));
    s.hub.hold = Some(3);
    for (_, sp) in &mut s.spokes {
        sp.hold = Some(3);
    }
    let mut members: Vec<(&str, Speaker)> = vec![("r0", s.hub.clone())];
    for (n, sp) in &s.spokes {
        members.push((n.as_str(), sp.clone()));
    }
    let mut lab = up_ext(
        "bgphold",
        &members,
        "",
        &[
            ("r0", "r1", &["172.30.1.1/30"], &["172.30.1.2/30"]),
            ("r0", "r2", &["172.30.2.1/30"], &["172.30.2.2/30"]),
            ("r1", "r2", &["172.30.12.1/30"], &["172.30.12.2/30"]),
        ],
        // A link whose loss can be changed live (the userspace engine).
        &[("r0", "r1", "engine: userspace")],
    )
    .await;
    lab.wait_ours_established("r0", &["172.30.1.2", "172.30.2.2"], 60)
        .await;
    let direct = |rib: &Rib| {
        BgpLab::best(rib, "10.1.0.0/24")
            .is_some_and(|r| r.as_path == [65001] && r.next_hop == Some(ip("172.30.1.2")))
    };
    lab.wait_rib(
        "r0",
        false,
        60,
        "chose BIRD's direct path and learned the one through FRR",
        |rib| {
            direct(rib)
                && rib[&"10.1.0.0/24".parse::<IpNet>().unwrap()]
                    .iter()
                    .any(|r| r.as_path == [65002, 65001])
        },
    )
    .await;
    lab.set_link("r0", "r1", "loss=100%").await;
    // Our session with BIRD ends on hold-timer expiry.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = lab.ours_neighbors("r0");
        let (state, err) = n.get("172.30.1.2").cloned().unwrap_or_default();
        if state != "established" && err.contains("4/0") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "our session with BIRD did not end on its hold timer: {n:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let line = lab.wait_log("r1", "hold timer expired", 30).await;
    eprintln!("BIRD: {line}");
    let rib = lab
        .wait_rib("r0", false, 30, "reconverged through FRR", |rib| {
            BgpLab::best(rib, "10.1.0.0/24").is_some_and(|r| {
                r.as_path == [65002, 65001] && r.next_hop == Some(ip("172.30.2.2"))
            })
        })
        .await;
    assert_eq!(
        rib[&"10.1.0.0/24".parse::<IpNet>().unwrap()].len(),
        1,
        "{rib:?}"
    );
    // Healed: the session and the direct path come back.
    lab.set_link("r0", "r1", "loss=0%").await;
    lab.wait_ours_established("r0", &["172.30.1.2"], 60).await;
    lab.wait_rib("r0", false, 60, "chose BIRD's direct path again", direct)
        .await;
    lab.lab.down().await.unwrap();
}

/// A wrong peer AS gets the right NOTIFICATION (OPEN Message Error / Bad Peer AS, 2/2),
/// as the peer's own log shows: our speaker expects AS 65009 from BIRD (which is 65001)
/// and BIRD logs that it received Bad Peer AS; FRR expects AS 65008 from us and logs the
/// 2/2 it sent, which our speaker records as received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_peer_as_gets_bad_peer_as_notification() {
    need_root!();
    if !have(&[Daemon::Bird, Daemon::Frr]) {
        return;
    }
    let mut s = star(&[Daemon::Bird, Daemon::Frr], false);
    s.hub.neighbors[0].asn = 65009;
    s.spokes[1].1.neighbors[0].asn = 65008;
    let lab = s.up("bgpbadas").await;
    let line = lab.wait_log("r1", r"received: bad peer as", 60).await;
    eprintln!("BIRD: {line}");
    let line = lab
        .wait_log(
            "r2",
            r"notification: sent to neighbor 172\.30\.2\.1 2/2 \(OPEN Message Error/Bad Peer AS\)",
            60,
        )
        .await;
    eprintln!("FRR: {line}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = lab.ours_neighbors("r0");
        let bird = n.get("172.30.1.2").cloned().unwrap_or_default();
        let frr = n.get("172.30.2.2").cloned().unwrap_or_default();
        if bird.1.contains("sent 2/2") && frr.1.contains("received 2/2") {
            assert_ne!(bird.0, "established");
            assert_ne!(frr.0, "established");
            break;
        }
        assert!(Instant::now() < deadline, "our speaker's sessions: {n:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    lab.lab.down().await.unwrap();
}

/// TCP MD5 signatures (RFC 2385) with BIRD and FRR: sessions with a shared password come
/// up and carry routes, while GoBGP, configured with a different password than ours, gets
/// no session in the same time (the kernel drops its unsigned-for-us segments).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_md5_sessions_with_bird_and_frr() {
    need_root!();
    if !have(&[Daemon::Bird, Daemon::Frr, Daemon::Gobgp]) {
        return;
    }
    let mut s = star(&[Daemon::Bird, Daemon::Frr, Daemon::Gobgp], false);
    for n in &mut s.hub.neighbors {
        n.password = Some("topolab-md5".into());
    }
    for (_, sp) in &mut s.spokes {
        sp.neighbors[0].password = Some(if sp.daemon == Daemon::Gobgp {
            "not-the-same".into()
        } else {
            "topolab-md5".into()
        });
    }
    let lab = s.up("bgpmd5").await;
    lab.wait_ours_established("r0", &["172.30.1.2", "172.30.2.2"], 60)
        .await;
    for (node, prefix) in [
        ("r0", "10.1.0.0/24"),
        ("r0", "10.2.0.0/24"),
        ("r1", "10.0.0.0/24"),
        ("r2", "10.0.0.0/24"),
    ] {
        lab.wait_rib(
            node,
            false,
            60,
            &format!("learned {prefix} over MD5"),
            |rib| BgpLab::best(rib, prefix).is_some(),
        )
        .await;
    }
    let n = lab.ours_neighbors("r0");
    assert_ne!(
        n.get("172.30.3.2").map(|s| s.0.as_str()),
        Some("established"),
        "a session with the wrong MD5 password came up: {n:?}"
    );
    let rib = lab.rib("r3", false).await;
    assert!(BgpLab::best(&rib, "10.0.0.0/24").is_none(), "{rib:?}");
    lab.lab.down().await.unwrap();
}

/// MED with the same-neighbour-AS rule (RFC 4271 §9.1.2.2 c): BIRD and GoBGP are two
/// routers of AS 65001 announcing one prefix with MED 50 and 20 (same LOCAL_PREF, AS-path
/// length and ORIGIN), each peering with our speaker and with FRR. Both receivers choose
/// GoBGP's path (the lower MED), each through its own link to GoBGP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn med_decides_between_two_routers_of_one_neighbor_as() {
    need_root!();
    if !have(&[Daemon::Bird, Daemon::Frr, Daemon::Gobgp]) {
        return;
    }
    let with_med = |m| Network {
        prefix: "10.50.0.0/24".into(),
        med: Some(m),
        ..Default::default()
    };
    // Links: r0–r1 172.30.1.0/30, r0–r3 172.30.3.0/30, r2–r1 172.30.21.0/30,
    // r2–r3 172.30.23.0/30 (the first node named takes .1).
    let ours = speaker(
        Daemon::Ours,
        65000,
        "10.0.0.100",
        vec![
            Nbr::new("172.30.1.1", "172.30.1.2", 65001),
            Nbr::new("172.30.3.1", "172.30.3.2", 65001),
        ],
        vec![],
    );
    let frr = speaker(
        Daemon::Frr,
        65002,
        "10.0.0.2",
        vec![
            Nbr::new("172.30.21.1", "172.30.21.2", 65001),
            Nbr::new("172.30.23.1", "172.30.23.2", 65001),
        ],
        vec![],
    );
    let bird = speaker(
        Daemon::Bird,
        65001,
        "10.0.0.1",
        vec![
            Nbr::new("172.30.1.2", "172.30.1.1", 65000),
            Nbr::new("172.30.21.2", "172.30.21.1", 65002),
        ],
        vec![with_med(50)],
    );
    let gobgp = speaker(
        Daemon::Gobgp,
        65001,
        "10.0.0.3",
        vec![
            Nbr::new("172.30.3.2", "172.30.3.1", 65000),
            Nbr::new("172.30.23.2", "172.30.23.1", 65002),
        ],
        vec![with_med(20)],
    );
    let lab = up(
        "bgpmed",
        &[("r0", ours), ("r1", bird), ("r2", frr), ("r3", gobgp)],
        "",
        &[
            ("r0", "r1", &["172.30.1.1/30"], &["172.30.1.2/30"]),
            ("r0", "r3", &["172.30.3.1/30"], &["172.30.3.2/30"]),
            ("r2", "r1", &["172.30.21.1/30"], &["172.30.21.2/30"]),
            ("r2", "r3", &["172.30.23.1/30"], &["172.30.23.2/30"]),
        ],
    )
    .await;
    lab.wait_ours_established("r0", &["172.30.1.2", "172.30.3.2"], 60)
        .await;
    for (node, bird_addr, gobgp_addr) in [
        ("r0", "172.30.1.2", "172.30.3.2"),
        ("r2", "172.30.21.2", "172.30.23.2"),
    ] {
        let p: IpNet = "10.50.0.0/24".parse().unwrap();
        let rib = lab
            .wait_rib(
                node,
                false,
                60,
                "learned both paths of 10.50.0.0/24",
                |rib| {
                    rib.get(&p).is_some_and(|v| {
                        v.iter().any(|r| r.med == Some(50)) && v.iter().any(|r| r.med == Some(20))
                    })
                },
            )
            .await;
        let best = BgpLab::best(&rib, "10.50.0.0/24").unwrap();
        assert_eq!(
            (best.as_path.clone(), best.med, best.next_hop),
            (vec![65001], Some(20), Some(ip(gobgp_addr))),
            "{node}: {:?}",
            rib[&p]
        );
        let other = rib[&p].iter().find(|r| !r.best).unwrap();
        assert_eq!(
            (other.med, other.next_hop),
            (Some(50), Some(ip(bird_addr))),
            "{node}: {other:?}"
        );
    }
    lab.lab.down().await.unwrap();
}

impl BgpLab {
    /// GoBGP's message counters for one neighbor: `(direction, kind)` → count
    /// (`gobgp -j neighbor ADDR`: `state.messages.{received,sent}.{update,refresh,…}`).
    async fn gobgp_counts(&self, node: &str, peer: &str) -> BTreeMap<(String, String), u64> {
        let (ok, out, err) = self.exec(node, &["gobgp", "-j", "neighbor", peer]).await;
        assert!(ok, "{node}: gobgp neighbor: {out}{err}");
        let v: serde_json::Value =
            serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
        let mut m = BTreeMap::new();
        for dir in ["received", "sent"] {
            for (k, n) in v["state"]["messages"][dir]
                .as_object()
                .into_iter()
                .flatten()
            {
                if let Some(n) = n.as_u64() {
                    m.insert((dir.to_string(), k.clone()), n);
                }
            }
        }
        m
    }

    /// BIRD's route counters of protocol `proto`: the "received" column of its import and
    /// export update rows (`show protocols all`).
    async fn bird_updates(&self, node: &str, proto: &str) -> (u64, u64) {
        let (ok, out, err) = self
            .exec(
                node,
                &["birdc", "-s", BIRD_CTL, "show", "protocols", "all", proto],
            )
            .await;
        assert!(ok, "{node}: birdc: {out}{err}");
        let col = |row: &str| -> u64 {
            out.lines()
                .find_map(|l| l.trim().strip_prefix(row))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .unwrap_or_else(|| panic!("{node}: no `{row}` in {out}"))
        };
        (col("Import updates:"), col("Export updates:"))
    }

    /// Our speaker's message count from one neighbor.
    fn ours_messages_in(&self, node: &str, peer: &str) -> u64 {
        self.ours_json(node, &["neighbors"])
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["address"] == peer)
            .and_then(|n| n["messages_in"].as_u64())
            .unwrap_or_else(|| panic!("{node}: no neighbor {peer}"))
    }
}

/// Route refresh (RFC 2918) with BIRD both ways and toward GoBGP: `birdc reload in` sends
/// a ROUTE-REFRESH and our speaker sends its routes again; `topolab bgp … refresh` sends
/// one to each, and each sends its routes again. (GoBGP's `softresetin` re-applies its
/// policy to the Adj-RIB-In it keeps and sends no ROUTE-REFRESH, so it never asks us.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_refresh_both_ways_with_bird_and_gobgp() {
    need_root!();
    if !have(&[Daemon::Bird, Daemon::Gobgp]) {
        return;
    }
    let lab = star(&[Daemon::Bird, Daemon::Gobgp], false)
        .up("bgprefresh2")
        .await;
    lab.wait_ours_established("r0", &["172.30.1.2", "172.30.2.2"], 60)
        .await;
    for node in ["r1", "r2"] {
        lab.wait_rib(node, false, 60, "learned 10.0.0.0/24", |rib| {
            BgpLab::best(rib, "10.0.0.0/24").is_some()
        })
        .await;
    }
    lab.wait_rib("r0", false, 60, "learned both peers' prefixes", |rib| {
        BgpLab::best(rib, "10.1.0.0/24").is_some() && BgpLab::best(rib, "10.2.0.0/24").is_some()
    })
    .await;
    let poll = |what: &str| (Instant::now() + Duration::from_secs(30), what.to_string());

    // BIRD asks us: its import counter grows with the routes we send again.
    let (imported, _) = lab.bird_updates("r1", "p0").await;
    let (ok, out, err) = lab
        .exec("r1", &["birdc", "-s", BIRD_CTL, "reload", "in", "p0"])
        .await;
    assert!(ok, "{out}{err}");
    let (deadline, what) = poll("BIRD got our routes again after its ROUTE-REFRESH");
    while lab.bird_updates("r1", "p0").await.0 <= imported {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // We ask each of them: each sends its routes again (GoBGP counts our request).
    let gobgp_before = lab.gobgp_counts("r2", "172.30.2.1").await;
    let refreshes = |m: &BTreeMap<(String, String), u64>| {
        m.get(&("received".to_string(), "refresh".to_string()))
            .copied()
            .unwrap_or(0)
    };
    for (node, peer) in [("r1", "172.30.1.2"), ("r2", "172.30.2.2")] {
        let before = lab.ours_messages_in("r0", peer);
        lab.topolab(&["bgp", lab.lab.name(), "r0", "refresh", peer]);
        let (deadline, what) = poll(&format!("{node} answered our ROUTE-REFRESH"));
        while lab.ours_messages_in("r0", peer) <= before {
            assert!(Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let now = lab.gobgp_counts("r2", "172.30.2.1").await;
    assert!(
        refreshes(&now) > refreshes(&gobgp_before),
        "GoBGP counted no ROUTE-REFRESH from us: {gobgp_before:?} → {now:?}"
    );
    let rib = lab.rib("r0", false).await;
    assert!(BgpLab::best(&rib, "10.1.0.0/24").is_some(), "{rib:?}");
    assert!(BgpLab::best(&rib, "10.2.0.0/24").is_some(), "{rib:?}");
    lab.lab.down().await.unwrap();
}
