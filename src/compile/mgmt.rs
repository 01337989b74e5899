//! The management network: `mgmt:` → [`MgmtPlan`].
//!
//! Rules:
//! - namespace `<lab>-_mgmt`, bridge `br0` (ifindex 100), MAC hashed like every bridge
//!   (`"{topology}/_mgmt/br0"`);
//! - every node whose kind [joins it](crate::topology::NodeKind::joins_mgmt), in node order,
//!   gets `mgmt0` (ifindex [`MGMT_IFINDEX`], MAC from `"{topology}/{node}/mgmt0"`), whose peer
//!   is bridge port `m{k}` (ifindex 102 + k) in the management namespace, k = 0, 1, …;
//! - addresses, per family whose pool is set: the pool's first host address (`.1`, `::1`)
//!   is the root namespace's (whether or not `host:` asks for it, so turning it on renumbers
//!   nothing), node k gets the (k + 2)-th, with the pool's prefix length. No routes: the
//!   network is one connected prefix;
//! - `host: true`: veth `tl-<8 hex digits of the lab name's hash>` in the root namespace,
//!   peer `host` (ifindex 101) on the bridge.

use ipnet::IpNet;

use super::ifaces::{self, BRIDGE_IFINDEX, BRIDGE_NAME};
use super::plan::{MgmtHost, MgmtIface, MgmtPlan, NodePlan};
use super::space::{Family, from_u128, to_u128};
use crate::topology::{ErrorKind, Mgmt, Topology, TopologyError};

/// Name of the management namespace's node part (`<lab>-_mgmt`).
pub const MGMT_NODE: &str = "_mgmt";
/// `mgmt0` in every node: below the bridge (100) and the link ports (101…).
pub const MGMT_IFINDEX: u32 = 99;
pub const MGMT_IFNAME: &str = "mgmt0";
const HOST_PEER_IFINDEX: u32 = 101;
const FIRST_PORT_IFINDEX: u32 = 102;

pub fn plan(
    t: &Topology,
    m: &Mgmt,
    lab: &str,
    nodes: &[NodePlan],
) -> Result<MgmtPlan, TopologyError> {
    let members: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].kind.joins_mgmt())
        .collect();
    // Host addresses: index 1 for the root namespace, 2.. for the nodes.
    let addr = |pool: &IpNet, k: usize| -> Result<IpNet, TopologyError> {
        let family = if pool.addr().is_ipv4() {
            Family::V4
        } else {
            Family::V6
        };
        let size: u128 = 1u128
            .checked_shl(u32::from(pool.max_prefix_len() - pool.prefix_len()))
            .unwrap_or(u128::MAX);
        // IPv4 keeps the broadcast address free.
        let usable = size - 1 - u128::from(family == Family::V4);
        let k = k as u128;
        if k > usable || k == 0 {
            return Err(TopologyError::new(
                ErrorKind::PoolExhausted,
                &t.source,
                m.span,
                format!(
                    "management pool {pool} has no room for {} nodes and the host",
                    members.len()
                ),
            )
            .with_help(
                "give the management network a larger pool: `mgmt: {ipv4: 192.168.192.0/20}`",
            ));
        }
        let a = from_u128(family, to_u128(pool.network()) + k);
        Ok(IpNet::new(a, pool.prefix_len()).expect("pool prefix"))
    };
    let pools: Vec<IpNet> = m.ipv4.iter().chain(&m.ipv6).copied().collect();
    let addrs_of = |k: usize| -> Result<Vec<IpNet>, TopologyError> {
        pools.iter().map(|p| addr(p, k)).collect()
    };
    let mut ifs = Vec::with_capacity(members.len());
    for (k, &node) in members.iter().enumerate() {
        let peer = format!("m{k}");
        ifs.push(MgmtIface {
            node,
            ifname: MGMT_IFNAME.into(),
            ifindex: MGMT_IFINDEX,
            mac: ifaces::mac_of(&format!("{}/{}/{MGMT_IFNAME}", t.name, nodes[node].name)),
            peer_mac: ifaces::mac_of(&format!("{}/{MGMT_NODE}/{peer}", t.name)),
            peer,
            peer_ifindex: FIRST_PORT_IFINDEX + k as u32,
            addrs: addrs_of(k + 2)?,
        });
    }
    let host = if m.host {
        Some(MgmtHost {
            ifname: host_ifname(lab),
            mac: ifaces::mac_of(&format!("{lab}/host/mgmt")),
            peer: "host".into(),
            peer_ifindex: HOST_PEER_IFINDEX,
            peer_mac: ifaces::mac_of(&format!("{}/{MGMT_NODE}/host", t.name)),
            addrs: addrs_of(1)?,
        })
    } else {
        None
    };
    Ok(MgmtPlan {
        netns: format!("{lab}-{MGMT_NODE}"),
        bridge: BRIDGE_NAME.into(),
        bridge_ifindex: BRIDGE_IFINDEX,
        bridge_mac: ifaces::mac_of(&format!("{}/{MGMT_NODE}/{BRIDGE_NAME}", t.name)),
        ipv4: m.ipv4,
        ipv6: m.ipv6,
        nodes: ifs,
        host,
    })
}

/// The root-namespace interface of lab `lab`: `tl-` + 8 hex digits (11 bytes).
pub fn host_ifname(lab: &str) -> String {
    format!("tl-{:08x}", ifaces::fnv1a(lab.as_bytes()) as u32)
}
