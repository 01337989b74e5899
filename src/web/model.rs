//! What the page is sent, as plain data: the [`Graph`] once (nodes, links, from the Plan),
//! then a [`Tick`] a second (link state and counters, node and service state, BGP sessions,
//! OpenFlow connections). Built by pure functions from what was sampled, so that the JSON
//! is unit-tested without a lab.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::compile::{EngineChoice, Plan};
use crate::lab::links::LinkStatus;
use crate::lab::service::{ServiceStatus, State};
use crate::netlink::dump::LinkCounters;
use crate::topology::{NodeKind, describe_impairment};

/// How a node is drawn (the page maps each to an SVG shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A host: a circle.
    Host,
    /// A router: a diamond.
    Router,
    /// A node with a BGP speaker: a hexagon.
    Bgp,
    /// A Linux bridge: a square.
    Switch,
    /// An OpenFlow switch: a square with cut corners.
    OfSwitch,
    /// An OpenFlow controller: a triangle.
    Controller,
}

impl Shape {
    pub fn of(kind: NodeKind, bgp: bool) -> Shape {
        match kind {
            _ if bgp => Shape::Bgp,
            NodeKind::Host => Shape::Host,
            NodeKind::Router => Shape::Router,
            NodeKind::Switch | NodeKind::Fabric => Shape::Switch,
            NodeKind::OfSwitch => Shape::OfSwitch,
            NodeKind::Controller => Shape::Controller,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphNode {
    pub name: String,
    pub kind: String,
    pub shape: Shape,
    /// Addresses from the Plan (interfaces and loopback), for the tooltip.
    pub addrs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphLink {
    /// The link's index in the Plan (what actions name).
    pub id: usize,
    pub a: String,
    pub a_iface: String,
    pub b: String,
    pub b_iface: String,
    pub engine: EngineChoice,
}

/// The lab as drawn: sent once, inside the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    pub lab: String,
    pub nodes: Vec<GraphNode>,
    pub links: Vec<GraphLink>,
    /// Milliseconds between ticks.
    pub interval_ms: u64,
}

impl Graph {
    pub fn from_plan(plan: &Plan, interval_ms: u64) -> Graph {
        let nodes = plan
            .user_nodes()
            .map(|n| GraphNode {
                name: n.name.clone(),
                kind: format!("{:?}", n.kind).to_lowercase(),
                shape: Shape::of(n.kind, n.bgp.is_some()),
                addrs: n.addr_labels(),
            })
            .collect();
        let links = plan
            .links
            .iter()
            .map(|l| GraphLink {
                id: l.link,
                a: plan.nodes[l.a.node].name.clone(),
                a_iface: plan.iface(l.a).name.clone(),
                b: plan.nodes[l.b.node].name.clone(),
                b_iface: plan.iface(l.b).name.clone(),
                engine: l.engine,
            })
            .collect();
        Graph {
            lab: plan.lab.clone(),
            nodes,
            links,
            interval_ms,
        }
    }
}

/// One direction of a link over the last interval, and in total.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DirLive {
    /// Bits per second sent into the link over the last interval.
    pub bps: f64,
    /// Packets per second.
    pub pps: f64,
    /// Packets and bytes sent since the interface was made.
    pub packets: u64,
    pub bytes: u64,
    /// Packets lost on the way: the engine's losses and queue drops, and the two
    /// interfaces' drop counters.
    pub drops: u64,
    /// The direction's impairments in words ("" when none).
    pub impair: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkLive {
    pub id: usize,
    /// Up in the supervisor's books and both interfaces administratively up.
    pub up: bool,
    pub a_to_b: DirLive,
    pub b_to_a: DirLive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceLive {
    pub name: String,
    pub state: State,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeLive {
    pub name: String,
    /// `ok`, `starting`, `paused`, `failed` (a service is down), `missing` (its namespace
    /// is gone).
    pub state: String,
    pub services: Vec<ServiceLive>,
}

/// A session or connection between two nodes (BGP: a session; OpenFlow: a switch's
/// connection to its controller). `to` is a node of the lab when the peer's address is
/// one of the Plan's, else the address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub from: String,
    pub to: String,
    pub to_is_node: bool,
    /// `established`, `idle`, … (BGP); `hello`, `features`, `ready` (OpenFlow).
    pub state: String,
    pub up: bool,
}

/// What is pushed each interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// Seconds since the server started.
    pub t: f64,
    pub links: Vec<LinkLive>,
    pub nodes: Vec<NodeLive>,
    pub bgp: Vec<Session>,
    pub openflow: Vec<Session>,
    /// Why part of the state is missing (the supervisor did not answer, …).
    pub errors: Vec<String>,
}

/// Counters of every user node's interfaces, by node index in the Plan, then ifindex;
/// `None` for a node whose namespace could not be read.
pub type Counters = Vec<Option<HashMap<u32, LinkCounters>>>;

/// The inputs of a tick.
pub struct TickInput<'a> {
    pub t: f64,
    /// Seconds since the previous sample (its counters in `prev`).
    pub dt: f64,
    pub prev: Option<&'a Counters>,
    pub now: &'a Counters,
    /// The supervisor's link and service status (`None`: it did not answer).
    pub links: Option<&'a [LinkStatus]>,
    pub services: &'a [ServiceStatus],
    /// BGP summaries and OpenFlow controllers' switch lists, by node name.
    pub bgp: &'a [(String, serde_json::Value)],
    pub openflow: &'a [(String, serde_json::Value)],
    pub errors: Vec<String>,
}

/// Builds a tick from the samples.
pub fn tick(plan: &Plan, input: TickInput) -> Tick {
    let counter = |c: &Counters, node: usize, ifindex: u32| -> Option<LinkCounters> {
        c.get(node)?.as_ref()?.get(&ifindex).copied()
    };
    let links = plan
        .links
        .iter()
        .map(|l| {
            let ia = plan.iface(l.a).ifindex;
            let ib = plan.iface(l.b).ifindex;
            let (na, nb) = (
                counter(input.now, l.a.node, ia),
                counter(input.now, l.b.node, ib),
            );
            let prev = |node, ifindex| input.prev.and_then(|p| counter(p, node, ifindex));
            let (pa, pb) = (prev(l.a.node, ia), prev(l.b.node, ib));
            let status = input
                .links
                .and_then(|s| s.iter().find(|s| s.link == l.link));
            let engine_drops = |c: Option<&crate::link::Counters>| {
                c.map_or(0, |c| c.dropped_loss + c.dropped_queue + c.dropped_tx)
            };
            let dir = |from: Option<LinkCounters>,
                       from_prev: Option<LinkCounters>,
                       to: Option<LinkCounters>,
                       engine: u64,
                       imp: Option<&crate::topology::Impairment>| {
                let (packets, bytes) = from.map_or((0, 0), |c| (c.tx_packets, c.tx_bytes));
                let (bps, pps) = match (from, from_prev) {
                    (Some(c), Some(p)) if input.dt > 0.0 => (
                        c.tx_bytes.saturating_sub(p.tx_bytes) as f64 * 8.0 / input.dt,
                        c.tx_packets.saturating_sub(p.tx_packets) as f64 / input.dt,
                    ),
                    _ => (0.0, 0.0),
                };
                DirLive {
                    bps,
                    pps,
                    packets,
                    bytes,
                    drops: engine
                        + from.map_or(0, |c| c.tx_dropped)
                        + to.map_or(0, |c| c.rx_dropped),
                    impair: imp.map(describe_impairment).unwrap_or_default(),
                }
            };
            let kernel_up = na.is_none_or(|c| c.up) && nb.is_none_or(|c| c.up);
            LinkLive {
                id: l.link,
                up: status.is_none_or(|s| s.up) && kernel_up,
                a_to_b: dir(
                    na,
                    pa,
                    nb,
                    engine_drops(status.and_then(|s| s.counters_a_to_b.as_ref())),
                    Some(status.map_or(&l.a_to_b, |s| &s.a_to_b)),
                ),
                b_to_a: dir(
                    nb,
                    pb,
                    na,
                    engine_drops(status.and_then(|s| s.counters_b_to_a.as_ref())),
                    Some(status.map_or(&l.b_to_a, |s| &s.b_to_a)),
                ),
            }
        })
        .collect();
    let nodes = plan
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.kind.is_internal())
        .map(|(i, n)| {
            let services: Vec<ServiceLive> = input
                .services
                .iter()
                .filter(|s| s.node == n.name)
                .map(|s| ServiceLive {
                    name: s.name.clone(),
                    state: s.state,
                })
                .collect();
            let missing = input.now.get(i).is_some_and(|c| c.is_none());
            NodeLive {
                name: n.name.clone(),
                state: node_state(missing, &services).into(),
                services,
            }
        })
        .collect();
    let owners = address_owners(plan);
    Tick {
        t: input.t,
        links,
        nodes,
        bgp: bgp_sessions(input.bgp, &owners),
        openflow: openflow_sessions(input.openflow, &owners),
        errors: input.errors,
    }
}

fn node_state(missing: bool, services: &[ServiceLive]) -> &'static str {
    if missing {
        return "missing";
    }
    let any = |f: fn(State) -> bool| services.iter().any(|s| f(s.state));
    if any(|s| matches!(s, State::Failed | State::Stopped | State::Exited)) {
        "failed"
    } else if any(|s| s == State::Paused) {
        "paused"
    } else if any(|s| matches!(s, State::Starting | State::Restarting)) {
        "starting"
    } else {
        "ok"
    }
}

/// Every address of the Plan (interfaces, loopbacks, management) and its node.
pub fn address_owners(plan: &Plan) -> HashMap<IpAddr, String> {
    let mut m = HashMap::new();
    for n in plan.user_nodes() {
        let addrs = n
            .ifaces
            .iter()
            .flat_map(|i| &i.addrs)
            .chain(&n.loopback)
            .chain(plan.mgmt_addrs(&n.name));
        for a in addrs {
            m.entry(a.addr()).or_insert_with(|| n.name.clone());
        }
    }
    m
}

/// The node owning `addr` (an address, or `address:port`), or the text as given.
fn owner(owners: &HashMap<IpAddr, String>, addr: &str) -> (String, bool) {
    let ip = addr
        .parse::<IpAddr>()
        .ok()
        .or_else(|| addr.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()));
    match ip
        .map(|ip| ip.to_canonical())
        .and_then(|ip| owners.get(&ip))
    {
        Some(n) => (n.clone(), true),
        None => (addr.to_string(), false),
    }
}

/// Sessions from BGP `summary` answers (`neighbors`: name, address, state).
fn bgp_sessions(
    summaries: &[(String, serde_json::Value)],
    owners: &HashMap<IpAddr, String>,
) -> Vec<Session> {
    let mut out = Vec::new();
    for (node, s) in summaries {
        for n in s["neighbors"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let state = n["state"].as_str().unwrap_or("unknown").to_string();
            let (to, to_is_node) = owner(owners, n["address"].as_str().unwrap_or(""));
            out.push(Session {
                from: node.clone(),
                to,
                to_is_node,
                up: state == "established",
                state,
            });
        }
    }
    out
}

/// Connections from OpenFlow controllers' `switches` answers (dpid, state, peer).
fn openflow_sessions(
    lists: &[(String, serde_json::Value)],
    owners: &HashMap<IpAddr, String>,
) -> Vec<Session> {
    let mut out = Vec::new();
    for (node, list) in lists {
        for s in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            let state = s["state"].as_str().unwrap_or("unknown").to_string();
            let (to, to_is_node) = owner(owners, s["peer"].as_str().unwrap_or(""));
            out.push(Session {
                from: node.clone(),
                to,
                to_is_node,
                up: state == "ready",
                state,
            });
        }
    }
    out
}
