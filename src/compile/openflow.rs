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
/// A controller's default listening port (the IANA OpenFlow port).
pub use crate::topology::openflow_check::DEFAULT_LISTEN;
use crate::topology::openflow_check::dpids;
pub use crate::topology::{ControllerApp, FailMode};
use crate::topology::{ControllerRef, Openflow, Topology};

/// The passive (`ptcp`) port every switch listens on, on its node's loopback.
pub const PASSIVE_PORT: u16 = 6654;

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
    /// The one address to listen on instead of all of them: never set by compile (a lab
    /// controller listens in its own namespace); `topolab bench openflow` runs a controller
    /// in the machine's namespace and binds it to loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<std::net::IpAddr>,
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
            bind: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::tests::compile_ok;
    use std::collections::BTreeSet;

    use crate::compile::{NodePlan, model::Model};
    use crate::topology::NodeKind;

    fn compile_text(text: &str) -> (Topology, Plan) {
        let t =
            Topology::from_str(text, "test.yaml").unwrap_or_else(|e| panic!("{}", e.one_line()));
        let plan = compile_ok(&t, "oft");
        (t, plan)
    }

    fn switch_of(n: &NodePlan) -> &OfSwitchPlan {
        match &n.openflow {
            Some(NodeOpenflow::Switch(s)) => s,
            other => panic!("{}: {other:?}", n.name),
        }
    }

    fn controller_of(n: &NodePlan) -> &ControllerPlan {
        match &n.openflow {
            Some(NodeOpenflow::Controller(c)) => c,
            other => panic!("{}: {other:?}", n.name),
        }
    }

    const TWO_SWITCHES: &str = "
name: of
nodes:
  c0: {kind: controller}
  s1: {kind: ofswitch, controller: c0}
  s2: {kind: ofswitch, controller: [c0, 'tcp:127.0.0.1:6633'], dpid: '0x1a', fail_mode: standalone}
  h1: {}
  h2: {}
links:
  - [h1, s1]
  - [s1, s2]
  - [s2, h2]
";

    #[test]
    fn switches_are_l2_without_bridges_and_share_one_subnet() {
        let (_, plan) = compile_text(TWO_SWITCHES);
        let s1 = plan.node("s1").unwrap();
        assert!(s1.bridge.is_none());
        assert_eq!(s1.kind, NodeKind::OfSwitch);
        for i in &s1.ifaces {
            assert!(i.addrs.is_empty() && i.port.is_none(), "{i:?}");
        }
        assert!(
            s1.sysctls
                .contains(&("net.ipv6.conf.default.disable_ipv6".into(), "1".into()))
        );
        let net = |n: &str| plan.node(n).unwrap().ifaces[0].addrs[0].trunc();
        assert_eq!(
            net("h1"),
            net("h2"),
            "hosts across two ofswitches share a subnet"
        );
        // The built-in daemons come first, with built-in readiness.
        let svc = &s1.services[0];
        assert_eq!(svc.name, SWITCH_SERVICE);
        assert_eq!(
            svc.what,
            ServiceWhat::Daemon {
                kind: DaemonKind::OfSwitch,
                port: PASSIVE_PORT
            }
        );
        assert_eq!(svc.ready, Some(Readiness::Builtin));
        let c0 = plan.node("c0").unwrap();
        assert_eq!(
            c0.services[0].what,
            ServiceWhat::Daemon {
                kind: DaemonKind::Controller,
                port: DEFAULT_LISTEN
            }
        );
    }

    #[test]
    fn switch_configs_resolve_controllers_dpids_and_ports() {
        let (_, plan) = compile_text(TWO_SWITCHES);
        let c0_mgmt = plan.mgmt_addrs("c0")[0].addr();
        assert!(c0_mgmt.is_ipv4());
        let s1 = switch_of(plan.node("s1").unwrap());
        // s1 is the first ofswitch; s2's dpid is its own.
        assert_eq!(s1.dpid, 1);
        assert_eq!(s1.fail_mode, FailMode::Secure);
        assert_eq!(
            s1.controllers,
            vec![ControllerTarget {
                addr: SocketAddr::new(c0_mgmt, DEFAULT_LISTEN),
                machine_loopback: false
            }]
        );
        let names: Vec<(u32, &str)> = s1
            .ports
            .iter()
            .map(|p| (p.port_no, p.iface.as_str()))
            .collect();
        assert_eq!(names, vec![(1, "eth1"), (2, "eth2")]);
        assert_eq!(s1.ports[0].mac, plan.node("s1").unwrap().ifaces[0].mac);
        let s2 = switch_of(plan.node("s2").unwrap());
        assert_eq!(s2.dpid, 0x1a);
        assert_eq!(s2.fail_mode, FailMode::Standalone);
        assert_eq!(s2.controllers.len(), 2);
        assert_eq!(
            s2.controllers[1],
            ControllerTarget {
                addr: "127.0.0.1:6633".parse().unwrap(),
                machine_loopback: true
            }
        );
    }

    #[test]
    fn controller_sees_its_switches_and_hosts() {
        let (_, plan) = compile_text(TWO_SWITCHES);
        let c = controller_of(plan.node("c0").unwrap());
        assert_eq!(c.app, ControllerApp::Learning);
        assert_eq!(c.listen, DEFAULT_LISTEN);
        let v = &c.topology.switches;
        assert_eq!(
            v.iter()
                .map(|s| (s.name.as_str(), s.dpid))
                .collect::<Vec<_>>(),
            vec![("s1", 1), ("s2", 0x1a)]
        );
        let h1 = plan.node("h1").unwrap();
        assert_eq!(
            v[0].ports,
            vec![
                (
                    1,
                    Neighbour::Host {
                        name: "h1".into(),
                        mac: h1.ifaces[0].mac,
                        ipv4: vec!["10.0.0.1".parse().unwrap()],
                        ipv6: vec!["fd00:0:1::1".parse().unwrap()],
                    }
                ),
                (
                    2,
                    Neighbour::Switch {
                        dpid: 0x1a,
                        port_no: 1
                    }
                ),
            ]
        );
        assert_eq!(
            v[1].ports[0].1,
            Neighbour::Switch {
                dpid: 1,
                port_no: 2
            }
        );
    }

    #[test]
    fn external_controllers_only_need_no_management_network() {
        let (t, plan) = compile_text(
            "
name: of
nodes:
  s1: {kind: ofswitch, controller: 'tcp:[::1]:6653'}
  s2: {kind: ofswitch}
  h1: {}
links:
  - [h1, s1]
  - [s1, s2]
",
        );
        assert!(t.mgmt.is_none() && plan.mgmt.is_none());
        let s1 = switch_of(plan.node("s1").unwrap());
        assert!(s1.controllers[0].machine_loopback);
        assert_eq!(s1.fail_mode, FailMode::Secure);
        let s2 = switch_of(plan.node("s2").unwrap());
        assert!(s2.controllers.is_empty());
        assert_eq!(s2.fail_mode, FailMode::Standalone);
        assert_eq!(s2.dpid, 2);
    }

    /// A ring of OpenFlow switches is left whole (its controller handles the loop); a ring
    /// of Linux bridges still has a link cut.
    #[test]
    fn ofswitch_loops_are_not_blocked() {
        let ring = |kind: &str| {
            format!(
                "name: r\nnodes:\n  c0: {{kind: controller, app: shortest-path}}\n\
                 generate:\n  - ring: {{switches: 4, switch_kind: {kind}{}}}\n",
                if kind == "ofswitch" {
                    ", controller: c0"
                } else {
                    ""
                }
            )
        };
        let t = Topology::from_str(&ring("ofswitch"), "r.yaml").unwrap();
        assert!(!Model::new(&t).unwrap().blocked.iter().any(|b| *b));
        let plan = compile_ok(&t, "r");
        let c = controller_of(plan.node("c0").unwrap());
        assert_eq!(c.app, ControllerApp::ShortestPath);
        assert_eq!(c.topology.switches.len(), 4);
        let hosts: BTreeSet<_> = plan
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Host)
            .map(|n| n.ifaces[0].addrs[0].trunc())
            .collect();
        assert_eq!(hosts.len(), 1, "one subnet around the ring");
        let t = Topology::from_str(&ring("switch"), "r.yaml").unwrap();
        assert_eq!(
            Model::new(&t)
                .unwrap()
                .blocked
                .iter()
                .filter(|b| **b)
                .count(),
            1
        );
    }

    #[test]
    fn generated_fattree_of_ofswitches() {
        let (_, plan) = compile_text(
            "name: ft\nnodes:\n  c0: {kind: controller, app: shortest-path, listen: 6633}\n\
             generate:\n  - fattree: {k: 4, switch_kind: ofswitch, controller: c0}\n",
        );
        let switches: Vec<&NodePlan> = plan
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::OfSwitch)
            .collect();
        assert_eq!(switches.len(), 20);
        let dpids: Vec<u64> = switches.iter().map(|n| switch_of(n).dpid).collect();
        assert_eq!(dpids, (1..=20).collect::<Vec<u64>>());
        for s in &switches {
            assert_eq!(switch_of(s).controllers[0].addr.port(), 6633);
        }
        let c = controller_of(plan.node("c0").unwrap());
        let hosts = c
            .topology
            .switches
            .iter()
            .flat_map(|s| &s.ports)
            .filter(|(_, n)| matches!(n, Neighbour::Host { .. }))
            .count();
        assert_eq!(hosts, 16);
        // Every switch–switch port is seen from both ends.
        for s in &c.topology.switches {
            for (port, n) in &s.ports {
                if let Neighbour::Switch { dpid, port_no } = n {
                    let far = c
                        .topology
                        .switches
                        .iter()
                        .find(|x| x.dpid == *dpid)
                        .unwrap();
                    let back = &far.ports[*port_no as usize - 1];
                    assert_eq!(back.0, *port_no);
                    assert_eq!(
                        back.1,
                        Neighbour::Switch {
                            dpid: s.dpid,
                            port_no: *port
                        }
                    );
                }
            }
        }
    }

    #[test]
    fn configs_round_trip_through_json() {
        let (_, plan) = compile_text(TWO_SWITCHES);
        for n in &plan.nodes {
            let Some(of) = &n.openflow else { continue };
            let json = serde_json::to_string(of).unwrap();
            let back: NodeOpenflow = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, of);
        }
    }
}
