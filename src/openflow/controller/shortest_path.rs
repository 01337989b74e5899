//! `shortest-path`: proactive forwarding from the compiled topology.
//!
//! The [`TopologyView`] says which switch port faces which other switch port and which
//! host. From it and the live state (connected switches; ports the switches report up) we
//! compute, for every host, a destination tree: a breadth-first search from the host's
//! switch gives each switch its distance, and each switch forwards `eth_dst = host` out of
//! its lowest-numbered port toward a neighbour one hop closer (deterministic ties; every
//! hop strictly closer, so no loop). One flow per host per switch, priority
//! [`PRIO_HOST`], cookie [`COOKIE_TAG`] | host number.
//!
//! Nothing is ever flooded: ARP and neighbour solicitations go to the controller (two flows
//! at [`PRIO_PROXY`]), which answers for known hosts itself ([`super::proxy`]); everything
//! else misses the table and is dropped. So rings and fat trees need no spanning tree.
//!
//! Every change — a switch connecting or leaving, a PORT_STATUS from either end of a link,
//! a PORT_DESC reply — recomputes all trees and sends only the difference: a changed
//! output port is an ADD of the same match and priority (which replaces the flow in place,
//! OpenFlow 1.3.5 §6.4), an unreachable host a DELETE by its cookie. When a switch
//! connects, flows of ours left from an earlier run are deleted first (cookie mask).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::proxy::{self, Ask};
use super::{ConnId, Counters, MAX_LEN_NO_BUFFER, Neighbour, Out, TopologyView};
use super::{flow_add, flow_delete_cookie};
use crate::openflow::codec::{Action, Body, NO_BUFFER, OxmField, PacketIn, PacketOut, port_no};

/// Our cookies: this tag in the top 16 bits, the host number + 1 below (0 for the proxy
/// flows).
pub const COOKIE_TAG: u64 = 0x7470_0000_0000_0000;
pub const COOKIE_TAG_MASK: u64 = 0xffff_0000_0000_0000;
/// Priority of the per-host forwarding flows.
pub const PRIO_HOST: u16 = 10;
/// Priority of the ARP / ND → controller flows.
pub const PRIO_PROXY: u16 = 100;

#[derive(Debug, Clone)]
struct Host {
    mac: [u8; 6],
    dpid: u64,
    port: u32,
}

/// A link between two switch ports, stored once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Link {
    a: (u64, u32),
    b: (u64, u32),
}

#[derive(Debug)]
pub struct ShortestPath {
    links: Vec<Link>,
    hosts: Vec<Host>,
    by_ipv4: HashMap<Ipv4Addr, usize>,
    by_ipv6: HashMap<Ipv6Addr, usize>,
    /// Per ready switch: host number → output port of the flow installed there.
    installed: BTreeMap<u64, BTreeMap<usize, u32>>,
}

impl ShortestPath {
    pub fn new(view: &TopologyView) -> Self {
        let mut links = Vec::new();
        let mut hosts: Vec<Host> = Vec::new();
        let mut by_ipv4 = HashMap::new();
        let mut by_ipv6 = HashMap::new();
        for s in &view.switches {
            for (port, n) in &s.ports {
                match n {
                    Neighbour::Switch { dpid, port_no } => {
                        let (x, y) = ((s.dpid, *port), (*dpid, *port_no));
                        let l = Link {
                            a: x.min(y),
                            b: x.max(y),
                        };
                        if !links.contains(&l) {
                            links.push(l);
                        }
                    }
                    Neighbour::Host {
                        mac, ipv4, ipv6, ..
                    } => {
                        if hosts.iter().any(|h| h.mac == mac.0) {
                            continue;
                        }
                        let i = hosts.len();
                        hosts.push(Host {
                            mac: mac.0,
                            dpid: s.dpid,
                            port: *port,
                        });
                        for a in ipv4 {
                            by_ipv4.entry(*a).or_insert(i);
                        }
                        for a in ipv6 {
                            by_ipv6.entry(*a).or_insert(i);
                        }
                    }
                    Neighbour::None => {}
                }
            }
        }
        links.sort();
        ShortestPath {
            links,
            hosts,
            by_ipv4,
            by_ipv6,
            installed: BTreeMap::new(),
        }
    }

    /// Flows of ours on a switch (the proxy flows and one per reachable host).
    pub fn installed(&self, dpid: u64) -> usize {
        self.installed.get(&dpid).map_or(0, |m| m.len() + 2)
    }

    /// The output port toward each host, per switch, as installed (tests, views).
    pub fn routes(&self) -> &BTreeMap<u64, BTreeMap<usize, u32>> {
        &self.installed
    }

    pub(super) fn switch_ready(
        &mut self,
        dpid: u64,
        conn: ConnId,
        out: &mut Out,
        counters: &mut Counters,
    ) {
        self.installed.insert(dpid, BTreeMap::new());
        out.send(
            conn,
            Body::FlowMod(flow_delete_cookie(COOKIE_TAG, COOKIE_TAG_MASK)),
        );
        out.send(conn, Body::BarrierRequest);
        let to_controller = || {
            vec![Action::Output {
                port: port_no::CONTROLLER,
                max_len: MAX_LEN_NO_BUFFER,
            }]
        };
        let arp = vec![OxmField::EthType(proxy::ETH_TYPE_ARP)];
        let nd = vec![
            OxmField::EthType(proxy::ETH_TYPE_IPV6),
            OxmField::IpProto(proxy::IP_PROTO_ICMPV6),
            OxmField::Icmpv6Type(proxy::ICMPV6_NS),
        ];
        for m in [arp, nd] {
            let f = flow_add(PRIO_PROXY, COOKIE_TAG, m, to_controller(), NO_BUFFER);
            out.send(conn, Body::FlowMod(f));
        }
        counters.flow_mods += 3;
    }

    pub(super) fn switch_gone(&mut self, dpid: u64) {
        self.installed.remove(&dpid);
    }

    /// Recomputes every tree over the ready switches (`conns`) and the links whose both
    /// ends are up; queues the differences. Returns the FLOW_MODs sent per connection.
    pub(super) fn recompute(
        &mut self,
        conns: &BTreeMap<u64, ConnId>,
        port_up: impl Fn(u64, u32) -> bool,
        out: &mut Out,
    ) -> Vec<(ConnId, u64)> {
        let want = self.compute(&port_up);
        let mut sent = Vec::new();
        for (dpid, have) in self.installed.iter_mut() {
            let Some(&conn) = conns.get(dpid) else {
                continue;
            };
            let empty = BTreeMap::new();
            let want = want.get(dpid).unwrap_or(&empty);
            let mut n = 0;
            for (&h, &port) in want {
                if have.get(&h) != Some(&port) {
                    let fields = vec![OxmField::EthDst(self.hosts[h].mac, None)];
                    let action = vec![Action::Output { port, max_len: 0 }];
                    let cookie = COOKIE_TAG | (h as u64 + 1);
                    let f = flow_add(PRIO_HOST, cookie, fields, action, NO_BUFFER);
                    out.send(conn, Body::FlowMod(f));
                    n += 1;
                }
            }
            for &h in have.keys() {
                if !want.contains_key(&h) {
                    let cookie = COOKIE_TAG | (h as u64 + 1);
                    out.send(conn, Body::FlowMod(flow_delete_cookie(cookie, u64::MAX)));
                    n += 1;
                }
            }
            *have = want.clone();
            if n > 0 {
                sent.push((conn, n));
            }
        }
        sent
    }

    /// Per ready switch: host number → output port.
    fn compute(&self, port_up: &impl Fn(u64, u32) -> bool) -> BTreeMap<u64, BTreeMap<usize, u32>> {
        let ready = |d: u64| self.installed.contains_key(&d);
        // Adjacency of ready switches over live links: (my port, neighbour), by port.
        let mut adj: BTreeMap<u64, Vec<(u32, u64)>> =
            self.installed.keys().map(|&d| (d, Vec::new())).collect();
        for l in &self.links {
            let (a, b) = (l.a, l.b);
            if ready(a.0) && ready(b.0) && port_up(a.0, a.1) && port_up(b.0, b.1) {
                adj.entry(a.0).or_default().push((a.1, b.0));
                adj.entry(b.0).or_default().push((b.1, a.0));
            }
        }
        for v in adj.values_mut() {
            v.sort();
        }
        let mut want: BTreeMap<u64, BTreeMap<usize, u32>> = BTreeMap::new();
        let mut dist: HashMap<u64, u32> = HashMap::new();
        let mut queue = VecDeque::new();
        for (h, host) in self.hosts.iter().enumerate() {
            if !ready(host.dpid) || !port_up(host.dpid, host.port) {
                continue;
            }
            dist.clear();
            dist.insert(host.dpid, 0);
            queue.push_back(host.dpid);
            while let Some(s) = queue.pop_front() {
                let d = dist[&s];
                for &(_, t) in adj.get(&s).into_iter().flatten() {
                    if let std::collections::hash_map::Entry::Vacant(e) = dist.entry(t) {
                        e.insert(d + 1);
                        queue.push_back(t);
                    }
                }
            }
            for (&s, &d) in &dist {
                let port = if d == 0 {
                    Some(host.port)
                } else {
                    adj[&s]
                        .iter()
                        .find(|(_, t)| dist.get(t) == Some(&(d - 1)))
                        .map(|&(p, _)| p)
                };
                if let Some(p) = port {
                    want.entry(s).or_default().insert(h, p);
                }
            }
        }
        want
    }

    /// ARP requests and neighbour solicitations for known hosts: answered out of the port
    /// they came in on. Anything else is dropped.
    pub(super) fn packet_in(
        &mut self,
        conn: ConnId,
        pi: &PacketIn,
        out: &mut Out,
        counters: &mut Counters,
    ) {
        let Some(in_port) = pi.r#match.fields.iter().find_map(|f| match f {
            OxmField::InPort(p) => Some(*p),
            _ => None,
        }) else {
            return;
        };
        let reply = match proxy::ask(&pi.data) {
            Some(Ask::Arp(ip)) => self
                .by_ipv4
                .get(&ip)
                .and_then(|&h| proxy::arp_reply(&pi.data, ip, self.hosts[h].mac)),
            Some(Ask::Nd(ip)) => self
                .by_ipv6
                .get(&ip)
                .and_then(|&h| proxy::neighbor_advert(&pi.data, ip, self.hosts[h].mac)),
            None => None,
        };
        let Some(data) = reply else {
            return;
        };
        counters.packet_outs += 1;
        out.send(
            conn,
            Body::PacketOut(PacketOut {
                buffer_id: NO_BUFFER,
                in_port: port_no::CONTROLLER,
                actions: vec![Action::Output {
                    port: in_port,
                    max_len: 0,
                }],
                data,
            }),
        );
    }
}
