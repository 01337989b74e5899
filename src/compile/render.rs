//! A Plan as the equivalent iproute2 shell script: what `topolab plan` prints, what a user
//! can read, diff or run by hand (as root, with `sh -e`), and what golden tests compare.
//!
//! Lines come in apply order, one command each, grouped under `#` comments:
//!
//! ```text
//!   netns add ─▶ lo up + sysctls ─▶ bridges ─▶ veths (+ peer up) ─▶ bridge ports
//!            ─▶ addresses (lo, then interfaces) ─▶ routes ─▶ shapers
//!            ─▶ management network ─▶ node runtime (services, limits, files: comments)
//! ```
//!
//! Each veth is one `ip link add … netns A up type veth peer name … netns B` command, so
//! both ends are born inside their namespaces with their final name, ifindex, MAC and MTU
//! (names may then repeat across namespaces and never clash in the root namespace). Kernel
//! quirk: `up` on the *peer* half fails with ENOTCONN (the peer is configured before the
//! pair is joined), so the peer is brought up by a second command. IPv6 addresses get
//! `nodad` (usable at once). Bridge STP uses `forward_delay 200`: iproute2's man page
//! says seconds, but the value goes to the kernel as centiseconds (2 s, the minimum).
//!
//! Interface names always follow `name` or `dev`, so a name that is also an `ip` keyword
//! (`down`, `up`, `master`) stays a name. Words are shell-quoted only when they need it, so
//! typical output reads like hand-written commands.

use std::fmt::Write;

use super::plan::{IfaceRef, NodePlan, Plan, PortRole, Readiness, RoutesMode, ServiceWhat};

impl Plan {
    /// The equivalent `ip` commands, one per line, in apply order.
    pub fn to_ip_commands(&self) -> String {
        let mut s = String::new();
        let w = &mut s;
        line(w, "#!/bin/sh");
        line(
            w,
            &format!(
                "# topolab plan for lab {}: {} nodes, {} links",
                self.lab,
                self.nodes.len(),
                self.veths.len()
            ),
        );
        line(w, "# namespaces");
        for n in &self.nodes {
            line(w, &format!("ip netns add {}", q(&n.netns)));
        }
        line(w, "# loopback up, sysctls");
        for n in &self.nodes {
            line(w, &format!("ip -n {} link set dev lo up", q(&n.netns)));
            for (k, v) in &n.sysctls {
                line(
                    w,
                    &format!(
                        "ip netns exec {} sysctl -qw {}",
                        q(&n.netns),
                        q(&format!("{k}={v}"))
                    ),
                );
            }
        }
        if self.nodes.iter().any(|n| n.bridge.is_some()) {
            line(w, "# bridges");
        }
        for n in &self.nodes {
            if let Some(b) = &n.bridge {
                let stp = if b.stp {
                    "stp_state 1 forward_delay 200"
                } else {
                    "stp_state 0"
                };
                line(
                    w,
                    &format!(
                        "ip -n {} link add name {} index {} address {} type bridge {stp}",
                        q(&n.netns),
                        q(&b.name),
                        b.ifindex,
                        b.mac
                    ),
                );
                line(
                    w,
                    &format!("ip -n {} link set dev {} up", q(&n.netns), q(&b.name)),
                );
            }
        }
        if !self.veths.is_empty() {
            line(w, "# veths");
        }
        for v in &self.veths {
            line(
                w,
                &format!(
                    "ip link add name {} up type veth peer name {}",
                    self.veth_half(v.a),
                    self.veth_half(v.b)
                ),
            );
            let (bn, bi) = (&self.nodes[v.b.node], self.iface(v.b));
            line(
                w,
                &format!("ip -n {} link set dev {} up", q(&bn.netns), q(&bi.name)),
            );
        }
        let mut ports = Vec::new();
        for n in &self.nodes {
            if let Some(b) = &n.bridge {
                for i in n
                    .ifaces
                    .iter()
                    .filter(|i| i.port == Some(PortRole::Forwarding))
                {
                    ports.push(format!(
                        "ip -n {} link set dev {} master {}",
                        q(&n.netns),
                        q(&i.name),
                        q(&b.name)
                    ));
                }
            }
        }
        if !ports.is_empty() {
            line(w, "# bridge ports");
            ports.iter().for_each(|p| line(w, p));
        }
        let mut addrs = Vec::new();
        for n in &self.nodes {
            for a in &n.loopback {
                addrs.push(format!("ip -n {} addr add {a} dev lo", q(&n.netns)));
            }
            for i in &n.ifaces {
                for a in &i.addrs {
                    let nodad = if a.addr().is_ipv6() { " nodad" } else { "" };
                    addrs.push(format!(
                        "ip -n {} addr add {a} dev {}{nodad}",
                        q(&n.netns),
                        q(&i.name)
                    ));
                }
            }
        }
        if !addrs.is_empty() {
            line(w, "# addresses");
            addrs.iter().for_each(|a| line(w, a));
        }
        if self.nodes.iter().any(|n| !n.routes.is_empty()) {
            line(w, "# routes");
        }
        for n in &self.nodes {
            for r in &n.routes {
                line(
                    w,
                    &format!(
                        "ip -n {} route add {} via {} dev {}",
                        q(&n.netns),
                        r.dst,
                        r.via,
                        q(dev_name(n, r.dev))
                    ),
                );
            }
        }
        if self.nodes.iter().any(|n| !n.shapers.is_empty()) {
            line(
                w,
                "# kernel link engine: tbf on an IFB at the receiving end",
            );
        }
        for n in &self.nodes {
            let ns = q(&n.netns);
            for sh in &n.shapers {
                let dev = q(dev_name(n, sh.ifindex));
                let ifb = q(&sh.ifb);
                line(
                    w,
                    &format!(
                        "ip -n {ns} link add name {ifb} index {} type ifb",
                        sh.ifb_ifindex
                    ),
                );
                line(w, &format!("ip -n {ns} link set dev {ifb} up"));
                line(
                    w,
                    &format!("ip netns exec {ns} tc qdisc add dev {dev} ingress"),
                );
                line(
                    w,
                    &format!(
                        "ip netns exec {ns} tc filter add dev {dev} parent ffff: protocol all \
                         u32 match u32 0 0 action mirred egress redirect dev {ifb}"
                    ),
                );
                line(
                    w,
                    &format!(
                        "ip netns exec {ns} tc qdisc add dev {ifb} root tbf rate {}bit \
                         burst {} limit {}",
                        sh.rate_bps, sh.burst, sh.limit
                    ),
                );
            }
        }
        for l in self.links.iter().filter(|l| l.relay.is_some()) {
            let r = l.relay.expect("filtered");
            line(
                w,
                &format!(
                    "# link {}: userspace engine — the topolab supervisor relays {} ⇄ {} in {}{}",
                    l.link,
                    self.iface(r.a).name,
                    self.iface(r.b).name,
                    self.nodes[r.a.node].netns,
                    if r.per_packet {
                        " (offloads off on the nodes' ends: ethtool -K DEV tx off tso off gso off)"
                    } else {
                        ""
                    }
                ),
            );
        }
        self.render_mgmt(w);
        self.render_runtime(w);
        s
    }

    /// The management network: its namespace and bridge, each `mgmt0` veth, addresses.
    fn render_mgmt(&self, w: &mut String) {
        let Some(m) = &self.mgmt else { return };
        let ns = q(&m.netns);
        line(
            w,
            "# management network (out of band: an address per node, no routes into the data plane)",
        );
        line(w, &format!("ip netns add {ns}"));
        line(w, &format!("ip -n {ns} link set dev lo up"));
        line(
            w,
            &format!(
                "ip -n {ns} link add name {} index {} address {} type bridge stp_state 0",
                q(&m.bridge),
                m.bridge_ifindex,
                m.bridge_mac
            ),
        );
        line(w, &format!("ip -n {ns} link set dev {} up", q(&m.bridge)));
        let mut ports: Vec<MgmtPort<'_>> = Vec::new();
        if let Some(h) = &m.host {
            line(
                w,
                &format!(
                    "ip link add name {} address {} up type veth peer name {} index {} address {} netns {ns}",
                    q(&h.ifname),
                    h.mac,
                    q(&h.peer),
                    h.peer_ifindex,
                    h.peer_mac
                ),
            );
            ports.push((&h.peer, None, h.ifname.clone(), &h.addrs, false));
        }
        for i in &m.nodes {
            let node_ns = &self.nodes[i.node].netns;
            line(
                w,
                &format!(
                    "ip link add name {} index {} address {} netns {} up type veth peer name {} index {} address {} netns {ns}",
                    q(&i.ifname),
                    i.ifindex,
                    i.mac,
                    q(node_ns),
                    q(&i.peer),
                    i.peer_ifindex,
                    i.peer_mac
                ),
            );
            let v6_off = self.nodes[i.node]
                .sysctls
                .iter()
                .any(|(k, v)| k == "net.ipv6.conf.default.disable_ipv6" && v == "1");
            let v6_on = v6_off && i.addrs.iter().any(|a| a.addr().is_ipv6());
            ports.push((&i.peer, Some(node_ns), i.ifname.clone(), &i.addrs, v6_on));
        }
        for (peer, node_ns, ifname, addrs, v6_on) in ports {
            line(w, &format!("ip -n {ns} link set dev {} up", q(peer)));
            line(
                w,
                &format!(
                    "ip -n {ns} link set dev {} master {}",
                    q(peer),
                    q(&m.bridge)
                ),
            );
            let at = match node_ns {
                Some(n) => format!("ip -n {} ", q(n)),
                None => "ip ".to_string(),
            };
            if v6_on && let Some(n) = node_ns {
                line(
                    w,
                    &format!(
                        "ip netns exec {} sysctl -qw net.ipv6.conf.{}.disable_ipv6=0",
                        q(n),
                        q(&ifname)
                    ),
                );
            }
            for a in addrs {
                let nodad = if a.addr().is_ipv6() { " nodad" } else { "" };
                line(w, &format!("{at}addr add {a} dev {}{nodad}", q(&ifname)));
            }
        }
    }

    /// What the supervisor does after this script: services, limits, private dirs, files,
    /// routing left to daemons. Comments only; every value from the file is written as a
    /// quoted, escaped string (`{:?}`), so no text of the file ever becomes a line of shell.
    fn render_runtime(&self, w: &mut String) {
        let busy = |n: &&NodePlan| {
            !n.services.is_empty()
                || n.limits != Default::default()
                || !n.private_dirs.is_empty()
                || !n.files.is_empty()
                || n.routes_mode != RoutesMode::Static
                || n.bgp.is_some()
        };
        if !self.nodes.iter().any(|n| busy(&n)) {
            return;
        }
        line(
            w,
            "# node runtime (done by the topolab supervisor, not by this script)",
        );
        for n in self.nodes.iter().filter(busy) {
            let name = &n.name;
            match n.routes_mode {
                RoutesMode::Static => {}
                RoutesMode::Connected => line(
                    w,
                    &format!("# {name}: routes connected (a routing daemon installs the rest)"),
                ),
            }
            if let Some(cpu) = n.limits.cpu {
                line(w, &format!("# {name}: cpu {cpu} core"));
            }
            if let Some(mem) = n.limits.memory {
                line(w, &format!("# {name}: memory {mem} bytes"));
            }
            for d in &n.private_dirs {
                line(
                    w,
                    &format!("# {name}: private dir {:?}", d.display().to_string()),
                );
            }
            for f in &n.files {
                line(
                    w,
                    &format!(
                        "# {name}: file {:?} ({} bytes, mode {:o})",
                        f.path.display().to_string(),
                        f.content.len(),
                        f.mode
                    ),
                );
            }
            if let Some(b) = &n.bgp {
                render_bgp(w, name, b);
            }
            for sv in &n.services {
                let what = match &sv.what {
                    ServiceWhat::Command { cmd } => format!("sh -c {cmd:?}"),
                    ServiceWhat::Daemon { kind, port } => {
                        format!("built-in daemon {} on port {port}", kind.name())
                    }
                };
                let ready = match &sv.ready {
                    None => "started".to_string(),
                    Some(Readiness::TcpPort(p)) => format!("tcp port {p}"),
                    Some(Readiness::UdpPort(p)) => format!("udp port {p}"),
                    Some(Readiness::Command(c)) => format!("command {c:?} exits 0"),
                    Some(Readiness::File(f)) => format!("file {:?}", f.display().to_string()),
                    Some(Readiness::Log(r)) => format!("log matches {r:?}"),
                    Some(Readiness::Builtin) => "built-in".to_string(),
                };
                line(
                    w,
                    &format!(
                        "# {name}: service {:?}: {what}; ready: {ready}; restart {}; stop {} then KILL after {} ms",
                        sv.name,
                        serde_json::to_value(sv.restart)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default(),
                        serde_json::to_value(sv.stop_signal)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default(),
                        sv.grace.as_millis()
                    ),
                );
            }
        }
    }

    /// `NAME index N address MAC mtu M netns NS` of one veth end.
    fn veth_half(&self, r: IfaceRef) -> String {
        let (n, i) = (&self.nodes[r.node], self.iface(r));
        format!(
            "{} index {} address {} mtu {} netns {}",
            q(&i.name),
            i.ifindex,
            i.mac,
            i.mtu,
            q(&n.netns)
        )
    }
}

/// A speaker's config as comments: the speaker line, then one line per peer. Passwords are
/// never printed (only that there is one); names and policies are quoted.
fn render_bgp(w: &mut String, name: &str, b: &crate::bgp::config::SpeakerConfig) {
    let keepalive = b
        .keepalive
        .map_or_else(|| "hold/3".to_string(), |k| format!("{k} s"));
    let networks: Vec<String> = b.networks.iter().map(|n| n.to_string()).collect();
    line(
        w,
        &format!(
            "# {name}: bgp AS {} router-id {}; hold {} s, keepalive {keepalive}, connect-retry {} s; fib {}; networks {}",
            b.asn,
            b.router_id,
            b.hold_time,
            b.connect_retry,
            if b.fib { "on" } else { "off" },
            if networks.is_empty() {
                "none".to_string()
            } else {
                networks.join(" ")
            }
        ),
    );
    let rules = |what: &str, r: &[crate::bgp::policy::Rule]| {
        if r.is_empty() {
            String::new()
        } else {
            format!(
                "; {what} {:?}",
                serde_json::to_string(r).unwrap_or_default()
            )
        }
    };
    if !b.import.is_empty() || !b.export.is_empty() {
        line(
            w,
            &format!(
                "# {name}: bgp policy{}{}",
                rules("import", &b.import),
                rules("export", &b.export)
            ),
        );
    }
    for p in &b.peers {
        let mut extra = Vec::new();
        if p.remote_as == b.asn {
            extra.push("iBGP".to_string());
        } else {
            extra.push("eBGP".to_string());
        }
        if p.passive {
            extra.push("passive".into());
        }
        if let Some(t) = p.multihop {
            extra.push(format!("multihop {t}"));
        }
        if let Some(t) = p.ttl_security {
            extra.push(format!("ttl-security {t}"));
        }
        if p.password.is_some() {
            extra.push("md5".into());
        }
        if p.rr_client {
            extra.push("rr-client".into());
        }
        if p.next_hop_self {
            extra.push("next-hop-self".into());
        }
        if let Some(h) = p.hold_time {
            extra.push(format!("hold {h} s"));
        }
        let fams: Vec<&str> = p
            .families
            .iter()
            .map(|f| match f {
                crate::bgp::config::Afi::Ipv4 => "ipv4",
                crate::bgp::config::Afi::Ipv6 => "ipv6",
            })
            .collect();
        let from = p
            .local_address
            .map_or_else(String::new, |l| format!(" from {l}"));
        line(
            w,
            &format!(
                "# {name}: bgp peer {:?} {} port {} AS {}{from}; {}; {}{}{}",
                p.name,
                p.address,
                p.port,
                p.remote_as,
                fams.join("+"),
                extra.join(", "),
                rules("import", &p.import),
                rules("export", &p.export)
            ),
        );
    }
}

fn dev_name(n: &NodePlan, ifindex: u32) -> &str {
    if ifindex == super::ifaces::LO_IFINDEX {
        return "lo";
    }
    n.ifaces
        .iter()
        .find(|i| i.ifindex == ifindex)
        .map(|i| i.name.as_str())
        .expect("Plan invariant: route devices are interfaces of the node")
}

fn line(w: &mut String, s: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(w, "{s}");
}

/// Shell-quotes a word unless it is made of characters that need none.
fn q(word: &str) -> std::borrow::Cow<'_, str> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-.,:/=@%+".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.into()
    } else {
        format!("'{}'", word.replace('\'', r"'\''")).into()
    }
}

/// One management port to render: bridge port, node namespace (`None`: the root
/// namespace), interface, addresses, and whether IPv6 must be turned back on first.
type MgmtPort<'a> = (&'a str, Option<&'a str>, String, &'a [ipnet::IpNet], bool);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_leaves_plain_words_alone_and_quotes_the_rest() {
        assert_eq!(q("lab-h1"), "lab-h1");
        assert_eq!(q("net.ipv4.ip_forward=1"), "net.ipv4.ip_forward=1");
        assert_eq!(
            q("net.ipv4.ping_group_range=0 2147483647"),
            "'net.ipv4.ping_group_range=0 2147483647'"
        );
        assert_eq!(q("it's"), r"'it'\''s'");
        assert_eq!(q(""), "''");
    }
}
