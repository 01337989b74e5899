//! Compiled OpenFlow configs: what the built-in `ofswitch` and `controller` daemons run
//! with. Pure data, serialized in the Plan and handed to each daemon as a JSON file in the
//! lab's run dir (`--config PATH`); a daemon never builds anything from names.
//!
//! Rules (compile decides them):
//! - an `ofswitch`'s ports are its interfaces in interface order (link order), numbered
//!   1, 2, … (OpenFlow port numbers; the interface name is `ethN`, port `N + 1`);
//! - `dpid`: the node's own, or its position among the lab's `ofswitch` nodes + 1;
//! - a controller that is a lab node is reached at its `mgmt0` address (out of band, never
//!   over the data plane); `tcp:127.0.0.1:PORT` is the machine's own loopback
//!   (`machine_loopback: true`: the daemon connects from the root namespace);
//! - `fail_mode` defaults to `secure` with a controller and `standalone` without one;
//! - every switch also listens passively on its node's loopback, port [`PASSIVE_PORT`].

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::Mac;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// No controller connected: no new flows (table-miss drops).
    Secure,
    /// No controller connected: a learning switch.
    Standalone,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ControllerApp {
    Hub,
    Learning,
    ShortestPath,
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
