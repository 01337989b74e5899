//! Compiled OpenFlow configs: what the built-in `ofswitch` and `controller` daemons run
//! with. Pure data, serialized in the Plan and handed to each daemon as a JSON file in the
//! lab's run dir (`--config PATH`); a daemon never builds anything from names.
//!
//! Rules (compile decides them):
//! - an `ofswitch`'s ports are its interfaces in interface order (link order), numbered
//!   1, 2, … (its automatic interface names count from `eth1`, so `ethN` is port N);
//! - a node of either kind runs one built-in service ([`builtin_service`], before its own
//!   `run:` ones): `ofswitch` (daemon port [`PASSIVE_PORT`]) or `controller` (its `listen`);
//! - a controller's [`TopologyView`] holds the switches that name it, in node order; a port
//!   facing one of them is `Switch`, one facing a host, router or controller is `Host` (its
//!   interface's MAC and addresses), anything else `None`. A link is read from the
//!   topology's own ends (a relayed link's fabric is invisible here);
//! - `dpid`: the node's own, or its position among the lab's `ofswitch` nodes + 1;
//! - a controller that is a lab node is reached at its `mgmt0` address (out of band, never
//!   over the data plane); `tcp:127.0.0.1:PORT` is the machine's own loopback
//!   (`machine_loopback: true`: the daemon connects from the root namespace);
//! - `fail_mode` defaults to `secure` with a controller and `standalone` without one;
//! - every switch also listens passively on its node's loopback, port [`PASSIVE_PORT`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::{Mac, Plan, Readiness, RestartPolicy, ServicePlan, ServiceWhat, StopSignal};
use crate::daemon::DaemonKind;
use crate::topology::openflow_check::dpids;
pub use crate::topology::{ControllerApp, FailMode};
use crate::topology::{ControllerRef, Openflow, Topology};

/// The passive (`ptcp`) port every switch listens on, on its node's loopback.
pub const PASSIVE_PORT: u16 = 6654;
/// A controller's default listening port (the IANA OpenFlow port).
pub const DEFAULT_LISTEN: u16 = 6653;

/// A node's OpenFlow role: the config its built-in daemon reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeOpenflow {
    Switch(OfSwitchPlan),
    Controller(ControllerPlan),
}

/// An `ofswitch` node's compiled config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfSwitchPlan {
    pub dpid: u64,
    pub fail_mode: FailMode,
    /// Active connections, in the order written.
    pub controllers: Vec<ControllerTarget>,
    /// The node's interfaces, in port order.
    pub ports: Vec<OfPort>,
    /// `ptcp` on the node's loopback ([`PASSIVE_PORT`]).
    pub passive_port: u16,
}

/// One controller a switch connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerTarget {
    pub addr: SocketAddr,
    /// Connect from the machine's root namespace (`tcp:127.0.0.1:PORT`, Mininet's
    /// RemoteController habit), not from the node's namespace.
    pub machine_loopback: bool,
}

/// One switch port: an interface of the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfPort {
    pub port_no: u32,
    pub iface: String,
    pub mac: Mac,
}

/// A `controller` node's compiled config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerPlan {
    pub app: ControllerApp,
    /// TCP port it listens on (all addresses of its namespace).
    pub listen: u16,
    /// The switches that name this controller, with their wiring.
    pub topology: TopologyView,
}

/// The data plane as a controller sees it: switches by dpid, each port's neighbour.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TopologyView {
    /// In node order.
    pub switches: Vec<SwitchView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchView {
    pub name: String,
    pub dpid: u64,
    /// In port order.
    pub ports: Vec<(u32, Neighbour)>,
}

/// What sits at the other end of a switch port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Neighbour {
    /// Another OpenFlow switch's port.
    Switch { dpid: u64, port_no: u32 },
    /// An L3 node's interface (host or router).
    Host {
        name: String,
        mac: Mac,
        ipv4: Vec<Ipv4Addr>,
        ipv6: Vec<Ipv6Addr>,
    },
    /// Anything else (a Linux switch, a switch of another controller …).
    None,
}

/// The built-in service's name on an `ofswitch` node (reserved there).
pub const SWITCH_SERVICE: &str = "ofswitch";
/// The built-in service's name on a `controller` node (reserved there).
pub const CONTROLLER_SERVICE: &str = "controller";

/// The built-in service that runs a node's OpenFlow daemon, if it has one.
pub fn builtin_service(of: &Openflow) -> ServicePlan {
    let (name, kind, port) = match of {
        Openflow::Switch { .. } => (SWITCH_SERVICE, DaemonKind::OfSwitch, PASSIVE_PORT),
        Openflow::Controller { listen, .. } => {
            (CONTROLLER_SERVICE, DaemonKind::Controller, *listen)
        }
    };
    ServicePlan {
        name: name.into(),
        what: ServiceWhat::Daemon { kind, port },
        ready: Some(Readiness::Builtin),
        restart: RestartPolicy::Never,
        stop_signal: StopSignal::Term,
        grace: crate::topology::service::DEFAULT_GRACE,
    }
}

/// Fills `NodePlan::openflow` of every OpenFlow node, once the Plan has its interfaces,
/// links and management network.
pub(super) fn fill(t: &Topology, plan: &mut Plan) {
    let dpids = dpids(&t.nodes);
    let index: HashMap<&str, usize> = t
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut out: Vec<Option<NodeOpenflow>> = vec![None; t.nodes.len()];
    for (ni, node) in t.nodes.iter().enumerate() {
        let Some(Openflow::Switch {
            controllers,
            fail_mode,
            ..
        }) = &node.openflow
        else {
            continue;
        };
        let controllers = controllers
            .iter()
            .filter_map(|c| match c {
                ControllerRef::Tcp(addr) => Some(ControllerTarget {
                    addr: *addr,
                    machine_loopback: addr.ip().is_loopback(),
                }),
                ControllerRef::Node { name, .. } => {
                    let ci = index[name.as_str()];
                    let Some(Openflow::Controller { listen, .. }) = &t.nodes[ci].openflow else {
                        unreachable!("check resolved `{name}` to a controller node");
                    };
                    // IPv4 first: the management pools are in family order.
                    let ip = plan.mgmt_addrs(name).first()?.addr();
                    Some(ControllerTarget {
                        addr: SocketAddr::new(ip, *listen),
                        machine_loopback: false,
                    })
                }
            })
            .collect();
        let ports = plan.nodes[ni]
            .ifaces
            .iter()
            .enumerate()
            .map(|(k, i)| OfPort {
                port_no: k as u32 + 1,
                iface: i.name.clone(),
                mac: i.mac,
            })
            .collect();
        out[ni] = Some(NodeOpenflow::Switch(OfSwitchPlan {
            dpid: dpids[ni].expect("an ofswitch has a dpid"),
            fail_mode: *fail_mode,
            controllers,
            ports,
            passive_port: PASSIVE_PORT,
        }));
    }
    for (ci, node) in t.nodes.iter().enumerate() {
        let Some(Openflow::Controller { app, listen }) = &node.openflow else {
            continue;
        };
        let mine = |n: &crate::topology::Node| match &n.openflow {
            Some(Openflow::Switch { controllers, .. }) => controllers
                .iter()
                .any(|c| matches!(c, ControllerRef::Node { name, .. } if *name == node.name)),
            _ => false,
        };
        let switches: Vec<usize> = (0..t.nodes.len()).filter(|&s| mine(&t.nodes[s])).collect();
        let view = switches
            .iter()
            .map(|&s| SwitchView {
                name: t.nodes[s].name.clone(),
                dpid: dpids[s].expect("an ofswitch has a dpid"),
                ports: plan.nodes[s]
                    .ifaces
                    .iter()
                    .enumerate()
                    .map(|(k, i)| (k as u32 + 1, neighbour(plan, s, i.link, &switches, &dpids)))
                    .collect(),
            })
            .collect();
        out[ci] = Some(NodeOpenflow::Controller(ControllerPlan {
            app: *app,
            listen: *listen,
            topology: TopologyView { switches: view },
        }));
    }
    for (node, of) in plan.nodes.iter_mut().zip(out) {
        node.openflow = of;
    }
}

/// What is at the far end of link `link` from switch node `s`.
fn neighbour(
    plan: &Plan,
    s: usize,
    link: usize,
    switches: &[usize],
    dpids: &[Option<u64>],
) -> Neighbour {
    let l = &plan.links[link];
    let far = if l.a.node == s { l.b } else { l.a };
    let node = &plan.nodes[far.node];
    if switches.contains(&far.node) {
        return Neighbour::Switch {
            dpid: dpids[far.node].expect("an ofswitch has a dpid"),
            port_no: far.iface as u32 + 1,
        };
    }
    if !node.kind.is_l3() {
        return Neighbour::None;
    }
    let iface = plan.iface(far);
    Neighbour::Host {
        name: node.name.clone(),
        mac: iface.mac,
        ipv4: iface
            .addrs
            .iter()
            .filter_map(|a| match a.addr() {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
            .collect(),
        ipv6: iface
            .addrs
            .iter()
            .filter_map(|a| match a.addr() {
                IpAddr::V6(v6) => Some(v6),
                IpAddr::V4(_) => None,
            })
            .collect(),
    }
}
