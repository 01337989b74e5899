//! Interfaces: every link end becomes one interface with a name, an ifindex and a MAC.
//!
//! Rules (all deterministic, all from topology order):
//! - **Order.** A node's interfaces are its link ends in link order (`a` before `b` on a
//!   self-loop). Plan `ifaces`, ifindexes and auto names follow this order.
//! - **Names.** An explicit endpoint name (`h1:eth3`) wins. The others take the lowest free
//!   `ethN`, in interface order: hosts and routers from `eth0`, switches from `eth1`
//!   (Mininet style: OpenFlow port numbers start at 1). `lo` is reserved everywhere and `br0`
//!   (the bridge) on switches; a clash is [`ErrorKind::DuplicateIface`].
//! - **ifindex.** `lo` is 1, the bridge 100, interfaces 101, 102, … in interface order, for
//!   every node kind. The high base stays clear of the fallback tunnel devices
//!   (`tunl0`, `sit0`, `ip6tnl0`, …) that some kernels create in every new namespace.
//! - **MAC.** `02:` (locally administered, unicast) followed by the low 40 bits of the
//!   64-bit FNV-1a hash of `"{topology}/{node}/{ifname}"`, where `topology` is the
//!   topology's own `name:` and not the lab name: the same file gives the same MACs under
//!   any `--name`, and two labs of one file never share a segment anyway. Bridges hash
//!   their `br0` the same way. On a collision inside the lab the later interface (nodes in
//!   order, bridge first, then interfaces) rehashes `"{…}/{ifname}#{k}"` for k = 1, 2, …

use std::collections::{BTreeMap, BTreeSet};

use super::model::{EndRef, Model};
use super::plan::Mac;
use crate::topology::{ErrorKind, TopologyError};

pub const LO_IFINDEX: u32 = 1;
pub const BRIDGE_IFINDEX: u32 = 100;
pub const FIRST_IFINDEX: u32 = 101;
pub const BRIDGE_NAME: &str = "br0";

/// One interface of one node (the Plan's `IfacePlan` without addresses and peer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    pub end: EndRef,
    pub name: String,
    pub ifindex: u32,
    pub mac: Mac,
    pub mtu: u32,
}

/// All interfaces of a lab, plus where each link end landed.
#[derive(Debug, Clone)]
pub struct Ifaces {
    /// Per node, in interface order.
    pub nodes: Vec<Vec<Iface>>,
    /// Per node: the bridge MAC (switches only).
    pub bridge_mac: Vec<Option<Mac>>,
    /// Per link end: its position in `nodes[node]`.
    pub slot: BTreeMap<EndRef, usize>,
}

impl Ifaces {
    pub fn new(m: &Model) -> Result<Self, TopologyError> {
        let t = m.topology;
        let mut nodes = Vec::with_capacity(t.nodes.len());
        let mut slot = BTreeMap::new();
        for ni in 0..t.nodes.len() {
            let ends = m.ends_of(ni);
            let names = names(m, ni, &ends)?;
            let mut ifaces = Vec::with_capacity(ends.len());
            for (i, (end, name)) in ends.into_iter().zip(names).enumerate() {
                slot.insert(end, i);
                ifaces.push(Iface {
                    end,
                    name,
                    ifindex: FIRST_IFINDEX + i as u32,
                    mac: Mac([0; 6]),
                    mtu: t.links[end.link].mtu.unwrap_or(t.defaults.mtu),
                });
            }
            nodes.push(ifaces);
        }
        let mut macs = Macs::default();
        let mut bridge_mac = Vec::with_capacity(t.nodes.len());
        for (ni, node) in t.nodes.iter().enumerate() {
            bridge_mac.push(
                node.kind
                    .has_bridge()
                    .then(|| macs.assign(&t.name, &node.name, BRIDGE_NAME)),
            );
            for iface in &mut nodes[ni] {
                iface.mac = macs.assign(&t.name, &node.name, &iface.name);
            }
        }
        Ok(Ifaces {
            nodes,
            bridge_mac,
            slot,
        })
    }

    pub fn of(&self, m: &Model, end: EndRef) -> &Iface {
        &self.nodes[m.node_of(end)][self.slot[&end]]
    }
}

/// Names for `ends` (one node's link ends, in order): explicit first, then lowest free ethN.
fn names(m: &Model, node: usize, ends: &[EndRef]) -> Result<Vec<String>, TopologyError> {
    let t = m.topology;
    let kind = t.nodes[node].kind;
    let mut taken: BTreeSet<String> = BTreeSet::from(["lo".to_string()]);
    if kind.has_bridge() {
        taken.insert(BRIDGE_NAME.into());
    }
    if t.mgmt.is_some() && kind.joins_mgmt() {
        taken.insert(super::mgmt::MGMT_IFNAME.into());
    }
    for &end in ends {
        let ep = end.endpoint(t);
        if let Some(name) = &ep.iface
            && !taken.insert(name.clone())
        {
            return Err(TopologyError::new(
                ErrorKind::DuplicateIface,
                &t.source,
                ep.span,
                format!("interface `{name}` is used twice on node `{}`", ep.node),
            )
            .with_help(match name.as_str() {
                "lo" | BRIDGE_NAME | super::mgmt::MGMT_IFNAME => {
                    format!("`{name}` is reserved; pick another name")
                }
                _ => "give each link end of a node its own interface name".into(),
            }));
        }
    }
    // Switch ports count from eth1 (Mininet's habit; an OpenFlow switch's `ethN` is port N).
    let mut next = if kind.is_l2() { 1u32 } else { 0 };
    let mut out = Vec::with_capacity(ends.len());
    for &end in ends {
        match &end.endpoint(t).iface {
            Some(name) => out.push(name.clone()),
            None => loop {
                let name = format!("eth{next}");
                next += 1;
                if !taken.contains(&name) {
                    out.push(name);
                    break;
                }
            },
        }
    }
    Ok(out)
}

/// MAC assignment with lab-wide collision handling.
#[derive(Default)]
struct Macs {
    used: BTreeSet<Mac>,
}

impl Macs {
    fn assign(&mut self, topology: &str, node: &str, ifname: &str) -> Mac {
        let base = format!("{topology}/{node}/{ifname}");
        let mut mac = mac_of(&base);
        let mut k = 0u32;
        while !self.used.insert(mac) {
            k += 1;
            mac = mac_of(&format!("{base}#{k}"));
        }
        mac
    }
}

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `02:` plus the low 40 bits of the hash of `key`.
pub fn mac_of(key: &str) -> Mac {
    let h = fnv1a(key.as_bytes()).to_be_bytes();
    Mac([0x02, h[3], h[4], h[5], h[6], h[7]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::testutil::TopoBuilder;

    fn names_of(i: &Ifaces, node: usize) -> Vec<(String, u32)> {
        i.nodes[node]
            .iter()
            .map(|f| (f.name.clone(), f.ifindex))
            .collect()
    }

    #[test]
    fn fnv1a_matches_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn auto_names_fill_lowest_free_eth_and_switches_start_at_eth1() {
        let t = TopoBuilder::new("n")
            .host("h1")
            .switch("s1")
            .router("r1")
            .link("h1", "s1")
            .link("h1:eth1", "r1:eth0")
            .link("h1", "r1")
            .link("r1", "s1:eth1")
            .link("s1", "h1")
            .build();
        let m = Model::new(&t).unwrap();
        let i = Ifaces::new(&m).unwrap();
        let h1: Vec<_> = names_of(&i, 0);
        assert_eq!(
            h1,
            [
                ("eth0".into(), 101),
                ("eth1".into(), 102),
                ("eth2".into(), 103),
                ("eth3".into(), 104)
            ]
        );
        assert_eq!(
            names_of(&i, 1),
            [
                ("eth2".into(), 101),
                ("eth1".into(), 102),
                ("eth3".into(), 103)
            ]
        );
        assert_eq!(
            names_of(&i, 2),
            [
                ("eth0".into(), 101),
                ("eth1".into(), 102),
                ("eth2".into(), 103)
            ]
        );
        assert!(i.bridge_mac[1].is_some() && i.bridge_mac[0].is_none());
    }

    #[test]
    fn duplicate_or_reserved_names_are_errors_at_the_endpoint() {
        let t = TopoBuilder::new("n")
            .host("h1")
            .host("h2")
            .link("h1:x", "h2")
            .link("h1:x", "h2")
            .build();
        let m = Model::new(&t).unwrap();
        let e = Ifaces::new(&m).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DuplicateIface);
        assert_eq!(
            (e.line, e.column),
            (t.links[1].a.span.line, t.links[1].a.span.column)
        );

        let t = TopoBuilder::new("n")
            .switch("s1")
            .host("h2")
            .link("s1:br0", "h2")
            .build();
        let e = Ifaces::new(&Model::new(&t).unwrap()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DuplicateIface);
    }

    #[test]
    fn macs_are_local_unicast_stable_across_labs_and_unique() {
        let t = TopoBuilder::new("m")
            .host("h1")
            .host("h2")
            .switch("s1")
            .link("h1", "s1")
            .link("h2", "s1")
            .link("h1", "h2")
            .build();
        let m = Model::new(&t).unwrap();
        let i = Ifaces::new(&m).unwrap();
        let mut all: Vec<Mac> = i.nodes.iter().flatten().map(|f| f.mac).collect();
        all.extend(i.bridge_mac.iter().flatten());
        assert!(all.iter().all(|m| m.0[0] == 0x02));
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
        assert_eq!(i.nodes[0][0].mac, mac_of("m/h1/eth0"));
        assert_eq!(mac_of("m/h1/eth0").to_string(), "02:17:65:d2:bf:2e");
    }

    #[test]
    fn mac_collision_rehashes_with_a_counter() {
        let mut macs = Macs::default();
        let first = macs.assign("t", "n", "eth0");
        let again = macs.assign("t", "n", "eth0");
        assert_ne!(first, again);
        assert_eq!(again, mac_of("t/n/eth0#1"));
    }

    #[test]
    fn mtu_is_the_link_mtu_or_the_default_on_both_ends() {
        let t = TopoBuilder::new("mtu")
            .default_mtu(9000)
            .host("h1")
            .host("h2")
            .link("h1", "h2")
            .mtu(1400)
            .link("h1", "h2")
            .build();
        let i = Ifaces::new(&Model::new(&t).unwrap()).unwrap();
        let mtus: Vec<u32> = i.nodes.iter().flatten().map(|f| f.mtu).collect();
        assert_eq!(mtus, [1400, 9000, 1400, 9000]);
    }
}
