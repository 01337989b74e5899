//! Compiled BGP: each `bgp:` node's [`SpeakerConfig`] (addresses, ASes, router IDs and
//! sessions resolved), its built-in `bgp` service, and the routes of BGP routers.
//!
//! Rules (compile decides them):
//! - **Sessions.** One session per peer, carrying every family both ends can use (MP-BGP):
//!   - `{address: IP}`: to that address; families default to the address's own family;
//!   - `{node: r2}`, r2 in another AS: over the first link the two share (LAN or
//!     point-to-point, in our link order); `{node: "r2:eth1"}`: over the link of r2's
//!     `eth1`. The session runs over IPv4 when both ends have IPv4 there, else IPv6;
//!     families default to those both ends have addresses of on that link;
//!   - `{node: r2}`, r2 in our AS (iBGP): between the loopbacks (IPv4 when both have one,
//!     else IPv6; families: those both have loopbacks of), else as for eBGP;
//!   - the peer's AS is its `bgp.asn`; `local_address` is our address on the session.
//! - **`neighbors: auto`** (or the list item `auto`): an eBGP session over every link
//!   (every shared domain) to every node with `bgp:` in another AS, and iBGP within the
//!   AS over loopbacks with `next_hop_self: true`: a full mesh, or, when some routers of
//!   the AS have `route_reflector: true`, reflectors meshed among themselves and with every
//!   other router (`rr_client` on the reflector's side), and the others peering only with
//!   the reflectors. An auto session to a peer already configured by address is skipped.
//! - **Symmetry.** A session from A to node B makes B peer back with A (same address pair,
//!   password, TTL settings, families) when B has no session to that address of A yet:
//!   naming a peer once is enough.
//! - **Names** (views, logs): the node (`r2`), or `r2:IFACE` when we have several sessions
//!   with r2; an address peer is its address.
//! - **Router ID**: `router_id`, else the first IPv4 loopback, else the lowest IPv4
//!   interface address; two speakers with one router ID are an error.
//! - **Networks** (when not written): the node's connected subnets of every domain with a
//!   host in it (not router-to-router links), then its loopbacks, IPv4 then IPv6.
//! - **Routes.** A router with `bgp:` (and `routes: static`) gets no compiled routes beyond
//!   its connected networks, except routes to the loopbacks of the other `bgp:` nodes of
//!   its AS along shortest paths through the AS's BGP routers: this stands in for an IGP,
//!   so that iBGP over loopbacks works without running one. Everything else is BGP's job.
//!   Hosts keep their compiled default routes; routers without `bgp:` keep theirs.
//! - **Service**: [`builtin_service`] (`bgp`, port 179, restarted on failure), before the
//!   node's own `run:` services.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use super::address::Addresses;
use super::ifaces::Ifaces;
use super::model::{EndRef, Model};
use super::plan::RoutePlan;
use super::space::Family;
use super::{Readiness, RestartPolicy, ServicePlan, ServiceWhat, StopSignal};
use crate::bgp::config::{Afi, PeerConfig, SpeakerConfig};
use crate::daemon::DaemonKind;
use crate::topology::bgp_check::BGP_PORT;
use crate::topology::{Bgp, BgpNeighbor, BgpPeer, ErrorKind, NodeKind, Span, TopologyError};

/// The built-in service's name on a node with `bgp:` (reserved there).
pub const BGP_SERVICE: &str = "bgp";

/// The built-in service that runs a node's BGP speaker.
pub fn bgp_service() -> ServicePlan {
    ServicePlan {
        name: BGP_SERVICE.into(),
        what: ServiceWhat::Daemon {
            kind: DaemonKind::Bgp,
            port: BGP_PORT,
        },
        ready: Some(Readiness::Builtin),
        restart: RestartPolicy::OnFailure,
        stop_signal: StopSignal::Term,
        grace: crate::topology::service::DEFAULT_GRACE,
    }
}

/// What compile adds for BGP, indexed like `Topology::nodes`.
pub(super) struct Compiled {
    pub configs: Vec<Option<SpeakerConfig>>,
    /// BGP routers: their routes (replacing the compiled static ones).
    pub routes: Vec<Option<Vec<RoutePlan>>>,
}

/// One session before symmetry and naming.
struct Session {
    peer_node: Option<usize>,
    /// The peer's interface name (link sessions), for names.
    peer_iface: Option<String>,
    cfg: PeerConfig,
}

struct Ctx<'a, 'm> {
    m: &'a Model<'m>,
    ifaces: &'a Ifaces,
    addrs: &'a Addresses,
}

impl Ctx<'_, '_> {
    fn err(&self, kind: ErrorKind, at: Span, msg: impl Into<String>) -> TopologyError {
        TopologyError::new(kind, &self.m.topology.source, at, msg)
    }

    fn bgp(&self, n: usize) -> Option<&Bgp> {
        self.m.topology.nodes[n].bgp.as_ref()
    }

    fn name(&self, n: usize) -> &str {
        &self.m.topology.nodes[n].name
    }

    fn addr(&self, end: EndRef, f: Family) -> Option<IpAddr> {
        self.addrs
            .of(end)
            .iter()
            .find(|a| Family::of_net(a) == f)
            .map(|a| a.addr())
    }

    fn loopback(&self, n: usize, f: Family) -> Option<IpAddr> {
        self.addrs.loopbacks[n]
            .iter()
            .find(|a| Family::of_net(a) == f)
            .map(|a| a.addr())
    }

    /// The domains `a` and `b` share: (a's end, b's end), by a's link order, one per domain.
    fn shared(&self, a: usize, b: usize) -> Vec<(EndRef, EndRef)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for ea in self.m.ends_of(a) {
            let d = self.m.link_domain[ea.link];
            if !self.m.domains[d].members.contains(&ea) || !seen.insert(d) {
                continue;
            }
            if let Some(&eb) = self.m.domains[d]
                .members
                .iter()
                .find(|&&e| self.m.node_of(e) == b)
            {
                out.push((ea, eb));
            }
        }
        out
    }

    /// A link session between `ea` (ours) and `eb`: IPv4 when both ends have IPv4, else
    /// IPv6; the families both ends have.
    fn link_session(&self, ea: EndRef, eb: EndRef) -> Option<(IpAddr, IpAddr, Vec<Afi>)> {
        self.link_session_in(ea, eb, None)
    }

    /// [`Self::link_session`], over `only`'s addresses when given.
    fn link_session_in(
        &self,
        ea: EndRef,
        eb: EndRef,
        only: Option<Family>,
    ) -> Option<(IpAddr, IpAddr, Vec<Afi>)> {
        session_over(only, |f| Some((self.addr(ea, f)?, self.addr(eb, f)?)))
    }

    /// A loopback session between nodes `a` and `b`.
    fn loopback_session(&self, a: usize, b: usize) -> Option<(IpAddr, IpAddr, Vec<Afi>)> {
        self.loopback_session_in(a, b, None)
    }

    /// [`Self::loopback_session`], over `only`'s addresses when given.
    fn loopback_session_in(
        &self,
        a: usize,
        b: usize,
        only: Option<Family>,
    ) -> Option<(IpAddr, IpAddr, Vec<Afi>)> {
        session_over(only, |f| Some((self.loopback(a, f)?, self.loopback(b, f)?)))
    }
}

fn afi(f: Family) -> Afi {
    match f {
        Family::V4 => Afi::Ipv4,
        Family::V6 => Afi::Ipv6,
    }
}

fn peer(name: String, address: IpAddr, local: Option<IpAddr>, remote_as: u32) -> PeerConfig {
    PeerConfig {
        name,
        address,
        local_address: local,
        port: BGP_PORT,
        remote_as,
        passive: false,
        multihop: None,
        ttl_security: None,
        password: None,
        rr_client: false,
        next_hop_self: false,
        families: vec![Afi::Ipv4, Afi::Ipv6],
        import: vec![],
        export: vec![],
        hold_time: None,
        next_hops: vec![],
    }
}

pub(super) fn compile(
    m: &Model,
    ifaces: &Ifaces,
    addrs: &Addresses,
) -> Result<Compiled, TopologyError> {
    let t = m.topology;
    let n = t.nodes.len();
    let cx = Ctx { m, ifaces, addrs };
    if t.nodes.iter().all(|x| x.bgp.is_none()) {
        return Ok(Compiled {
            configs: vec![None; n],
            routes: vec![None; n],
        });
    }

    // Router IDs, unique.
    let mut ids: Vec<Option<Ipv4Addr>> = vec![None; n];
    let mut by_id: HashMap<Ipv4Addr, usize> = HashMap::new();
    for (ni, node) in t.nodes.iter().enumerate() {
        let Some(b) = &node.bgp else { continue };
        let id = match b.router_id {
            Some(id) => id,
            None => default_router_id(&cx, ni).ok_or_else(|| {
                cx.err(
                    ErrorKind::BadValue,
                    b.span,
                    format!("`{}` has no IPv4 address for a BGP router ID", node.name),
                )
                .with_help("set `router_id: A.B.C.D` (any IPv4 address unique in the lab)")
            })?,
        };
        if let Some(&first) = by_id.get(&id) {
            let other = &t.nodes[first];
            let (at, here, there) = match (
                b.router_id_span,
                other.bgp.as_ref().and_then(|o| o.router_id_span),
            ) {
                (Some(at), _) => (at, &node.name, &other.name),
                (None, Some(at)) => (at, &other.name, &node.name),
                (None, None) => (b.span, &node.name, &other.name),
            };
            return Err(cx
                .err(
                    ErrorKind::DuplicateName,
                    at,
                    format!("router ID {id} of `{here}` is also the router ID of `{there}`"),
                )
                .with_help(
                    "give each speaker its own `router_id` (the default is the node's first \
                     IPv4 loopback, else its lowest IPv4 interface address)",
                ));
        }
        by_id.insert(id, ni);
        ids[ni] = Some(id);
    }

    // Sessions per node: explicit, then auto.
    let mut sessions: Vec<Vec<Session>> = (0..n).map(|_| Vec::new()).collect();
    for (ni, node) in t.nodes.iter().enumerate() {
        let Some(b) = &node.bgp else { continue };
        for nb in &b.neighbors {
            sessions[ni].push(explicit(&cx, ni, b, nb)?);
        }
        if b.auto {
            let auto = auto_sessions(&cx, ni, b)?;
            for s in auto {
                // Not where a written session already is: same address, or same peer
                // over the same link (or both over loopbacks).
                if !sessions[ni].iter().any(|x| {
                    x.cfg.address == s.cfg.address
                        || (x.peer_node.is_some()
                            && x.peer_node == s.peer_node
                            && x.peer_iface == s.peer_iface)
                }) {
                    sessions[ni].push(s);
                }
            }
        }
    }

    // Symmetry: every node session is answered.
    for a in 0..n {
        for k in 0..sessions[a].len() {
            let s = &sessions[a][k];
            let (Some(b), Some(local)) = (s.peer_node, s.cfg.local_address) else {
                continue;
            };
            if sessions[b].iter().any(|x| x.cfg.address == local) {
                continue;
            }
            let asn = cx.bgp(a).expect("a speaker").asn;
            let ibgp = cx.bgp(b).expect("node peers have bgp").asn == asn;
            let mut cfg = peer(cx.name(a).to_string(), local, Some(s.cfg.address), asn);
            cfg.multihop = s.cfg.multihop;
            cfg.ttl_security = s.cfg.ttl_security;
            cfg.password = s.cfg.password.clone();
            cfg.families = s.cfg.families.clone();
            cfg.next_hop_self = ibgp;
            // The local end's iface: the one that holds `local`, if any.
            let peer_iface = ifaces.nodes[a]
                .iter()
                .find(|f| addrs.of(f.end).iter().any(|x| x.addr() == local))
                .map(|f| f.name.clone());
            sessions[b].push(Session {
                peer_node: Some(a),
                peer_iface,
                cfg,
            });
        }
    }

    let mut configs = vec![None; n];
    for (ni, node) in t.nodes.iter().enumerate() {
        let Some(b) = &node.bgp else { continue };
        let mut list = std::mem::take(&mut sessions[ni]);
        // Names: the node, or node:iface when there are several sessions with it.
        let mut count: HashMap<String, usize> = HashMap::new();
        for s in &list {
            *count.entry(s.cfg.name.clone()).or_default() += 1;
        }
        for s in &mut list {
            if count[&s.cfg.name] > 1
                && s.peer_node.is_some()
                && !s.cfg.name.contains(':')
                && let Some(i) = &s.peer_iface
            {
                s.cfg.name = format!("{}:{i}", s.cfg.name);
            }
        }
        // Next hops per family: ours on the session's interface, or our loopbacks when the
        // session runs between loopbacks.
        for s in &mut list {
            let Some(local) = s.cfg.local_address else {
                continue;
            };
            let on_lo = Family::ALL
                .into_iter()
                .any(|f| cx.loopback(ni, f) == Some(local));
            s.cfg.next_hops = Family::ALL
                .into_iter()
                .filter_map(|f| {
                    if on_lo {
                        return cx.loopback(ni, f);
                    }
                    let end =
                        cx.m.ends_of(ni)
                            .into_iter()
                            .find(|&e| cx.addrs.of(e).iter().any(|x| x.addr() == local))?;
                    cx.addr(end, f)
                })
                .collect();
        }
        let peers: Vec<PeerConfig> = list.into_iter().map(|s| s.cfg).collect();
        configs[ni] = Some(SpeakerConfig {
            asn: b.asn,
            router_id: ids[ni].expect("every speaker has a router ID"),
            cluster_id: None,
            hold_time: b.hold,
            keepalive: b.keepalive,
            connect_retry: b.connect_retry,
            networks: b
                .networks
                .clone()
                .unwrap_or_else(|| default_networks(&cx, ni)),
            import: b.import.clone(),
            export: b.export.clone(),
            peers,
            fib: b.fib,
            listen_port: BGP_PORT,
        });
    }

    Ok(Compiled {
        configs,
        routes: as_routes(&cx),
    })
}

fn default_router_id(cx: &Ctx<'_, '_>, ni: usize) -> Option<Ipv4Addr> {
    let v4 = |a: &IpNet| match a.addr() {
        IpAddr::V4(v) => Some(v),
        IpAddr::V6(_) => None,
    };
    if let Some(id) = cx.addrs.loopbacks[ni].iter().find_map(v4) {
        return Some(id);
    }
    cx.m.ends_of(ni)
        .into_iter()
        .flat_map(|e| cx.addrs.of(e).iter().filter_map(v4).collect::<Vec<_>>())
        .min()
}

fn default_networks(cx: &Ctx<'_, '_>, ni: usize) -> Vec<IpNet> {
    let mut out = Vec::new();
    for f in Family::ALL {
        let mut seen = BTreeSet::new();
        for e in cx.m.ends_of(ni) {
            let d = cx.m.link_domain[e.link];
            let dom = &cx.m.domains[d];
            if !dom.members.contains(&e) || cx.addr(e, f).is_none() || !seen.insert(d) {
                continue;
            }
            let has_host = dom
                .members
                .iter()
                .any(|&x| cx.m.kind(cx.m.node_of(x)) == NodeKind::Host);
            if has_host && let Some(net) = cx.addrs.subnets[d][f.index()] {
                out.push(net);
            }
        }
        for lo in &cx.addrs.loopbacks[ni] {
            if Family::of_net(lo) == f && !out.contains(&lo.trunc()) {
                out.push(lo.trunc());
            }
        }
    }
    out
}

/// One written neighbor → its session.
fn explicit(
    cx: &Ctx<'_, '_>,
    ni: usize,
    b: &Bgp,
    nb: &BgpNeighbor,
) -> Result<Session, TopologyError> {
    let me = cx.name(ni);
    let (mut cfg, peer_node, peer_iface) = match &nb.peer {
        BgpPeer::Address(ip) => {
            let mut cfg = peer(
                ip.to_string(),
                *ip,
                nb.local_address,
                nb.remote_as
                    .expect("check requires remote_as for address peers"),
            );
            cfg.families = vec![afi(Family::of(*ip))];
            // An address of a lab speaker: that node is the peer (its AS must agree).
            let owner = owner_of(cx, *ip);
            if let Some(o) = owner {
                if o == ni {
                    return Err(cx
                        .err(
                            ErrorKind::BadValue,
                            nb.span,
                            format!("`{ip}` is `{me}`'s own address"),
                        )
                        .with_help("name another speaker's address"));
                }
                if let Some(ob) = cx.bgp(o)
                    && ob.asn != cfg.remote_as
                {
                    return Err(cx
                        .err(
                            ErrorKind::BadValue,
                            nb.remote_as_span.unwrap_or(nb.span),
                            format!(
                                "remote_as {} disagrees with `{}`'s asn {} (`{ip}` is its address)",
                                cfg.remote_as,
                                cx.name(o),
                                ob.asn
                            ),
                        )
                        .with_help(format!("write `remote_as: {}`", ob.asn)));
                }
            }
            let owner = owner.filter(|&o| cx.bgp(o).is_some());
            if owner.is_some() && cfg.local_address.is_none() {
                // Our address on a link to it, if the address is on one.
                cfg.local_address = cx.m.ends_of(ni).into_iter().find_map(|e| {
                    let d = cx.m.link_domain[e.link];
                    let on = cx.m.domains[d]
                        .members
                        .iter()
                        .any(|&x| cx.addrs.of(x).iter().any(|a| a.addr() == *ip));
                    if on {
                        cx.addr(e, Family::of(*ip))
                    } else {
                        None
                    }
                });
            }
            (cfg, owner, None)
        }
        BgpPeer::Node { name, iface } => {
            // `families: [ipv6]` (or `[ipv4]`): the session runs over that family.
            let only = match nb.families.as_deref() {
                Some([Afi::Ipv4]) => Some(Family::V4),
                Some([Afi::Ipv6]) => Some(Family::V6),
                _ => None,
            };
            let pi =
                cx.m.topology
                    .nodes
                    .iter()
                    .position(|x| &x.name == name)
                    .expect("check resolved neighbor nodes");
            let pb = cx.bgp(pi).expect("check: node peers have bgp");
            let mut found = None;
            let mut label = name.clone();
            let mut peer_iface = None;
            if let Some((ifname, iat)) = iface {
                let Some(f) = cx.ifaces.nodes[pi].iter().find(|f| &f.name == ifname) else {
                    let names: Vec<&str> = cx.ifaces.nodes[pi]
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect();
                    return Err(cx
                        .err(
                            ErrorKind::BadValue,
                            *iat,
                            format!("`{name}` has no interface `{ifname}`"),
                        )
                        .with_help(if names.is_empty() {
                            format!("`{name}` has no links")
                        } else {
                            format!("its interfaces: {}", names.join(", "))
                        }));
                };
                let Some((ea, eb)) = cx
                    .shared(ni, pi)
                    .into_iter()
                    .find(|(_, eb)| cx.m.link_domain[eb.link] == cx.m.link_domain[f.end.link])
                else {
                    return Err(cx
                        .err(
                            ErrorKind::BadLink,
                            *iat,
                            format!("`{me}` has no link to `{name}:{ifname}`"),
                        )
                        .with_help(format!(
                            "link `{me}` to that interface, or name the peer by `address` \
                             with `multihop`"
                        )));
                };
                found = cx.link_session_in(ea, eb, only);
                label = format!("{name}:{ifname}");
                peer_iface = Some(ifname.clone());
                if found.is_none() {
                    return Err(no_addresses(cx, nb.span, me, name));
                }
            } else if pb.asn == b.asn {
                found = cx.loopback_session_in(ni, pi, only);
            }
            if found.is_none() {
                let shared = cx.shared(ni, pi);
                if shared.is_empty() {
                    return Err(cx
                        .err(
                            ErrorKind::BadLink,
                            nb.span,
                            format!("`{me}` and `{name}` share no link"),
                        )
                        .with_help(
                            "link the two nodes (an eBGP peer is a neighbour), or peer by \
                             `address` with `multihop`; iBGP peers with loopbacks peer over them",
                        ));
                }
                let (ea, eb) = shared
                    .iter()
                    .copied()
                    .find(|&(ea, eb)| cx.link_session_in(ea, eb, only).is_some())
                    .unwrap_or(shared[0]);
                found = cx.link_session_in(ea, eb, only);
                peer_iface = Some(cx.ifaces.of(cx.m, eb).name.clone());
                if found.is_none() {
                    return Err(no_addresses(cx, nb.span, me, name));
                }
            }
            let (local, remote, fams) = found.expect("resolved above");
            let mut cfg = peer(label, remote, Some(local), pb.asn);
            cfg.families = fams;
            if let Some(l) = nb.local_address {
                cfg.local_address = Some(l);
            }
            (cfg, Some(pi), peer_iface)
        }
    };
    cfg.port = nb.port;
    cfg.passive = nb.passive;
    cfg.multihop = nb.multihop;
    cfg.ttl_security = nb.ttl_security;
    cfg.password = nb.password.clone();
    cfg.rr_client = nb.rr_client;
    cfg.next_hop_self = nb.next_hop_self;
    if let Some(f) = &nb.families {
        cfg.families = f.clone();
    }
    cfg.import = nb.import.clone();
    cfg.export = nb.export.clone();
    cfg.hold_time = nb.hold_time;
    Ok(Session {
        peer_node,
        peer_iface,
        cfg,
    })
}

/// The lab node holding address `ip` (on `lo` or an interface).
fn owner_of(cx: &Ctx<'_, '_>, ip: IpAddr) -> Option<usize> {
    (0..cx.m.topology.nodes.len()).find(|&n| {
        cx.addrs.loopbacks[n].iter().any(|a| a.addr() == ip)
            || cx
                .m
                .ends_of(n)
                .into_iter()
                .any(|e| cx.addrs.of(e).iter().any(|a| a.addr() == ip))
    })
}

fn no_addresses(cx: &Ctx<'_, '_>, at: Span, me: &str, name: &str) -> TopologyError {
    cx.err(
        ErrorKind::BadAddress,
        at,
        format!("`{me}` and `{name}` have no addresses of one family on their link"),
    )
    .with_help("give both ends an IPv4 or an IPv6 address on the link")
}

/// `neighbors: auto`: eBGP over every shared link, iBGP over loopbacks.
fn auto_sessions(cx: &Ctx<'_, '_>, ni: usize, b: &Bgp) -> Result<Vec<Session>, TopologyError> {
    let t = cx.m.topology;
    let mut out = Vec::new();
    // eBGP: every domain we are in, every member with bgp in another AS.
    let mut seen = BTreeSet::new();
    for ea in cx.m.ends_of(ni) {
        let d = cx.m.link_domain[ea.link];
        let dom = &cx.m.domains[d];
        if !dom.members.contains(&ea) {
            continue;
        }
        for &eb in &dom.members {
            let pi = cx.m.node_of(eb);
            let Some(pb) = cx.bgp(pi) else { continue };
            if pi == ni || pb.asn == b.asn || !seen.insert((d, pi)) {
                continue;
            }
            let Some((local, remote, fams)) = cx.link_session(ea, eb) else {
                continue;
            };
            let mut cfg = peer(cx.name(pi).to_string(), remote, Some(local), pb.asn);
            cfg.families = fams;
            out.push(Session {
                peer_node: Some(pi),
                peer_iface: Some(cx.ifaces.of(cx.m, eb).name.clone()),
                cfg,
            });
        }
    }
    // iBGP: full mesh, or with route reflectors.
    let group: Vec<usize> = (0..t.nodes.len())
        .filter(|&x| x != ni && cx.bgp(x).is_some_and(|o| o.asn == b.asn))
        .collect();
    let any_rr = b.route_reflector
        || group
            .iter()
            .any(|&x| cx.bgp(x).is_some_and(|o| o.route_reflector));
    for &pi in &group {
        let pb = cx.bgp(pi).expect("in the group");
        if any_rr && !b.route_reflector && !pb.route_reflector {
            continue;
        }
        let Some((local, remote, fams)) = cx.loopback_session(ni, pi) else {
            let who_i = if cx.addrs.loopbacks[ni].is_empty() {
                ni
            } else {
                pi
            };
            let who = cx.name(who_i);
            return Err(cx
                .err(
                    ErrorKind::BadValue,
                    cx.bgp(who_i).map_or(b.span, |x| x.span),
                    format!(
                        "automatic iBGP between `{}` and `{}` (AS {}) runs over loopbacks, and \
                         `{who}` has none of the other's family",
                        cx.name(ni),
                        cx.name(pi),
                        b.asn
                    ),
                )
                .with_help(format!(
                    "give `{who}` a `loopback:` address (routers get one unless addressing \
                     turns it off), or put it in an AS of its own"
                )));
        };
        let mut cfg = peer(cx.name(pi).to_string(), remote, Some(local), b.asn);
        cfg.families = fams;
        cfg.next_hop_self = true;
        cfg.rr_client = b.route_reflector && !pb.route_reflector;
        out.push(Session {
            peer_node: Some(pi),
            peer_iface: None,
            cfg,
        });
    }
    Ok(out)
}

/// How a node reaches one neighbour.
#[derive(Debug, Clone, Copy)]
struct Hop {
    via: IpAddr,
    dev: u32,
}

/// Routes of BGP routers: to the loopbacks of their AS's other speakers, along shortest
/// paths through the AS's BGP routers (see the module doc). `None` for every other node.
fn as_routes(cx: &Ctx<'_, '_>) -> Vec<Option<Vec<RoutePlan>>> {
    let t = cx.m.topology;
    let n = t.nodes.len();
    let asn = |x: usize| cx.bgp(x).map(|b| b.asn);
    let router = |x: usize| t.nodes[x].kind.forwards_ip() && t.nodes[x].bgp.is_some();
    let mut out: Vec<Option<Vec<RoutePlan>>> = (0..n)
        .map(|x| {
            (router(x) && t.nodes[x].routes == crate::topology::RoutesMode::Static).then(Vec::new)
        })
        .collect();
    for f in Family::ALL {
        // Same-AS neighbours over a shared domain with addresses of the family.
        let mut nbrs: Vec<BTreeMap<usize, Hop>> = vec![BTreeMap::new(); n];
        for (di, dom) in cx.m.domains.iter().enumerate() {
            let _ = di;
            let mut attached: Vec<(usize, EndRef, IpAddr)> = Vec::new();
            for &e in &dom.members {
                let x = cx.m.node_of(e);
                if asn(x).is_none() || attached.iter().any(|(y, _, _)| *y == x) {
                    continue;
                }
                if let Some(a) = cx.addr(e, f) {
                    attached.push((x, e, a));
                }
            }
            for &(x, ex, _) in &attached {
                for &(y, _, ya) in &attached {
                    if x != y && asn(x) == asn(y) {
                        nbrs[x].entry(y).or_insert(Hop {
                            via: ya,
                            dev: cx.ifaces.of(cx.m, ex).ifindex,
                        });
                    }
                }
            }
        }
        for o in 0..n {
            let los: Vec<IpNet> = cx.addrs.loopbacks[o]
                .iter()
                .filter(|l| Family::of_net(l) == f)
                .map(|l| l.trunc())
                .collect();
            if los.is_empty() || asn(o).is_none() {
                continue;
            }
            // BFS from the owner; only routers pass traffic on.
            let mut dist: Vec<Option<u32>> = vec![None; n];
            dist[o] = Some(0);
            let mut queue = VecDeque::from([o]);
            while let Some(u) = queue.pop_front() {
                let d = dist[u].expect("queued nodes have a distance");
                for &v in nbrs[u].keys() {
                    if dist[v].is_none() {
                        dist[v] = Some(d + 1);
                        if router(v) {
                            queue.push_back(v);
                        }
                    }
                }
            }
            for x in 0..n {
                if x == o || asn(x) != asn(o) {
                    continue;
                }
                let Some(routes) = out[x].as_mut() else {
                    continue;
                };
                let mut best: Option<(u32, usize)> = None;
                for &y in nbrs[x].keys() {
                    if y != o && !router(y) {
                        continue;
                    }
                    if let Some(d) = dist[y]
                        && best.is_none_or(|(bd, _)| d < bd)
                    {
                        best = Some((d, y));
                    }
                }
                if let Some((_, y)) = best {
                    let hop = nbrs[x][&y];
                    for lo in &los {
                        routes.push(RoutePlan {
                            dst: *lo,
                            via: hop.via,
                            dev: hop.dev,
                        });
                    }
                }
            }
        }
    }
    for r in out.iter_mut().flatten() {
        r.sort_by_key(|p| (Family::of_net(&p.dst).index(), p.dst));
    }
    out
}

#[cfg(test)]
#[path = "bgp_tests.rs"]
mod tests;

/// A session's addresses and families from `both` (the two ends' addresses in a family):
/// over `only` when given; else IPv4 when both ends have it, IPv6 otherwise, with every
/// family both ends have.
fn session_over(
    only: Option<Family>,
    both: impl Fn(Family) -> Option<(IpAddr, IpAddr)>,
) -> Option<(IpAddr, IpAddr, Vec<Afi>)> {
    if let Some(f) = only {
        let (local, remote) = both(f)?;
        return Some((local, remote, vec![afi(f)]));
    }
    let fams: Vec<Afi> = Family::ALL
        .into_iter()
        .filter(|&f| both(f).is_some())
        .map(afi)
        .collect();
    let (local, remote) = both(Family::V4).or_else(|| both(Family::V6))?;
    Some((local, remote, fams))
}
