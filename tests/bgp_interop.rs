//! BGP interop with third-party speakers (installed by `scripts/deps`): BIRD 2, FRR's bgpd
//! and GoBGP run as `run:` services inside lab routers, each with its config written by
//! `files:` into its own private directories (so its control socket is private too), and
//! their RIBs are read back through their own CLIs (`birdc`, `vtysh`, `gobgp -j`) into one
//! shape ([`Route`]) so that tests can compare their views.
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
}

impl Daemon {
    /// Programs the tests run for it that answer `--version` (`birdc` and `vtysh` come in
    /// the same packages as `bird` and FRR's daemons).
    fn programs(self) -> &'static [&'static str] {
        match self {
            Daemon::Bird => &["bird"],
            Daemon::Frr => &["/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"],
            Daemon::Gobgp => &["gobgpd", "gobgp"],
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
}

fn net(prefix: &str) -> Network {
    Network {
        prefix: prefix.into(),
        ..Default::default()
    }
}

/// One third-party speaker in a lab node.
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
            if let Some(p) = &n.password {
                let _ = writeln!(c, "  password \"{p}\";");
            }
            if n.rr_client {
                c.push_str("  rr client;\n");
            }
            if n.asn == self.asn {
                c.push_str("  direct;\n");
            }
            let _ = writeln!(c, "  {fam} {{ import all; export all; }};\n}}");
        }
        c
    }

    fn frr_conf(&self, host: &str) -> String {
        let mut c = format!(
            "frr defaults traditional\nhostname {host}\nlog stdout\n\
             router bgp {}\n bgp router-id {}\n no bgp ebgp-requires-policy\n\
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

    /// The YAML of node `name` (a router with `routes: connected`) running this speaker.
    fn node_yaml(&self, name: &str) -> String {
        let (dirs, files, run) = match self.daemon {
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
            best: false,
        }
    }
}

/// The routes of a speaker's RIB by prefix (every path; `best` marks the chosen one).
type Rib = BTreeMap<IpNet, Vec<Route>>;

/// Parses `birdc show route all` (BIRD 2).
fn parse_bird(text: &str) -> Rib {
    let mut rib = Rib::new();
    let mut cur: Option<Route> = None;
    let mut prefix: Option<IpNet> = None;
    let flush = |cur: &mut Option<Route>, rib: &mut Rib| {
        if let Some(r) = cur.take() {
            rib.entry(r.prefix).or_default().push(r);
        }
    };
    for line in text.lines() {
        if line.starts_with('\t') {
            let Some(r) = cur.as_mut() else { continue };
            let l = line.trim();
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
        // `unicast [proto time] * (pref) [ASnnni]`: only BGP routes ("[AS" at the end).
        if !rest.last().is_some_and(|w| w.starts_with("[AS")) {
            continue;
        }
        let mut r = Route::empty(p);
        r.best = rest.contains(&"*");
        cur = Some(r);
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
                                format!(
                                    "{}:{}:{}",
                                    c["global_admin"], c["local_data1"], c["local_data2"]
                                )
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
        let _ = writeln!(
            y,
            "  - endpoints: [{a}, {b}]\n    addresses: {{{a}: {}, {b}: {}}}",
            list(aa),
            list(ba)
        );
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
    // GoBGP's config has no originated networks: add them through its API.
    for (n, s) in speakers {
        if s.daemon == Daemon::Gobgp {
            for nw in &s.networks {
                lab.gobgp_add(n, nw).await;
            }
        }
    }
    lab
}

impl BgpLab {
    async fn exec(&self, node: &str, argv: &[&str]) -> (bool, String, String) {
        let out = self.lab.node(node).exec(argv).await.unwrap();
        (out.success(), out.stdout_str(), out.stderr_str())
    }

    async fn gobgp_add(&self, node: &str, n: &Network) {
        let fam = if is_v6(&n.prefix) { "ipv6" } else { "ipv4" };
        let mut argv: Vec<String> = ["gobgp", "global", "rib", "-a", fam, "add", &n.prefix]
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
                panic!("{node}: never {what}; its RIB: {rib:#?}\nits logs:\n{logs}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
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
