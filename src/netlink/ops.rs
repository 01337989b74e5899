//! Typed requests: each [`Op`] knows its netlink message and how to describe itself.
//!
//! Kernel behaviour these rely on (checked on 6.x):
//! - `RTM_NEWLINK` honours `ifi_index` for both veth ends (the peer's index rides in the
//!   peer's own `ifinfomsg`), so apply fixes ifindexes up front and never asks for them.
//! - The main end may be brought up in its create request; the peer may not (`veth_open`
//!   returns ENOTCONN while the pair is not yet linked), so callers raise it afterwards.
//! - `IFLA_NET_NS_FD` on the main message and inside `VETH_INFO_PEER` place each end
//!   directly in its namespace; the link never exists in the caller's namespace.
//! - `IFLA_MASTER` in a create request is resolved in the new device's namespace, so the
//!   main end of a veth can join its bridge in the same request (the peer cannot).

use std::net::IpAddr;
use std::os::fd::RawFd;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressFlags};
use netlink_packet_route::link::{
    BridgeStpState, InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::RouteProtocol;
use netlink_packet_route::tc::TcMessage;
use rtnetlink::{
    AddressMessageBuilder, LinkBridge, LinkIfb, LinkMessageBuilder, LinkUnspec, LinkVeth,
    LinkVxlan, RouteMessageBuilder,
};

/// A MAC address (the netlink layer's own type: it knows nothing of the compiler).
pub type MacAddr = [u8; 6];

/// One end of a veth pair to create.
#[derive(Debug, Clone)]
pub struct VethEnd {
    pub name: String,
    pub ifindex: u32,
    pub mac: MacAddr,
    pub mtu: u32,
    /// Namespace to place this end in (an open `/run/netns/…` or `/proc/…/ns/net` fd).
    pub netns: RawFd,
    /// Bridge to join at creation (honoured on the main end `a` only).
    pub master: Option<u32>,
    /// Display name for errors ("h1:eth0").
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct BridgeOpts {
    pub name: String,
    pub ifindex: u32,
    pub mac: MacAddr,
    pub stp: bool,
}

/// A VXLAN device to create (one end of a link between machines, issue 13).
///
/// Sent on a netlink socket opened in the *underlay* namespace: the device's UDP socket
/// lives in the namespace the request was made in (the kernel keeps it as the device's
/// `link netns`), while `IFLA_NET_NS_FD` places the device itself in `netns` (a node's or
/// the fabric's). Deleting `netns` deletes the device; deleting the underlay namespace
/// deletes it too (the VXLAN driver removes every device whose socket lived there).
#[derive(Debug, Clone)]
pub struct VxlanOpts {
    pub name: String,
    pub ifindex: u32,
    pub mac: MacAddr,
    pub mtu: u32,
    /// VNI (24 bits).
    pub vni: u32,
    /// This machine's underlay address (source of the outer packets) and the peer's.
    pub local: IpAddr,
    pub remote: IpAddr,
    /// UDP destination port (both ends use the same).
    pub port: u16,
    /// TTL of the outer packets.
    pub ttl: u8,
    /// Namespace the device is placed in.
    pub netns: RawFd,
    /// Display name for errors ("h1:eth0").
    pub label: String,
}

#[derive(Debug, Clone)]
pub enum Op {
    /// Create a veth pair, each end in its namespace; `a` comes up, `b` stays down.
    AddVeth {
        a: VethEnd,
        b: VethEnd,
    },
    /// Create a Linux bridge (up). With STP, forward delay is the minimum (2 s).
    AddBridge(BridgeOpts),
    SetUp {
        ifindex: u32,
    },
    SetDown {
        ifindex: u32,
    },
    SetMaster {
        ifindex: u32,
        master: u32,
    },
    /// Delete a link (a veth takes its peer with it).
    DelLink {
        ifindex: u32,
    },
    AddAddr {
        ifindex: u32,
        net: IpNet,
    },
    AddRoute {
        dst: IpNet,
        via: IpAddr,
        dev: u32,
    },
    /// Add or replace a routing protocol's route (`proto`, e.g. 186 for BGP, shown as
    /// `proto bgp`; `metric`) via a gateway: the kernel finds the interface.
    ReplaceRoute {
        dst: IpNet,
        via: IpAddr,
        proto: u8,
        metric: u32,
    },
    /// Delete the route to `dst` of protocol `proto` with `metric`.
    DelRoute {
        dst: IpNet,
        proto: u8,
        metric: u32,
    },
    /// Create a VXLAN device (up), with learning off: every frame goes to `remote`.
    AddVxlan(VxlanOpts),
    /// Create an IFB device (down; bring it up with `SetUp`).
    AddIfb {
        name: String,
        ifindex: u32,
    },
    /// A traffic-control message (see [`super::tc`]); `what` describes it for errors.
    Tc {
        kind: TcKind,
        msg: TcMessage,
        what: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcKind {
    AddQdisc,
    /// Replace a qdisc's parameters in place (tc's `change`): queued packets survive.
    ChangeQdisc,
    /// Create-or-replace (tc's `replace`): with a handle the current qdisc does not have,
    /// a new qdisc is grafted in place of the old one, whose queue is dropped.
    ReplaceQdisc,
    DelQdisc,
    AddFilter,
}

impl Op {
    pub(super) fn message(&self) -> (RouteNetlinkMessage, u16) {
        let create = NLM_F_CREATE | NLM_F_EXCL;
        match self {
            Op::AddVeth { a, b } => {
                let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
                    .name(b.name.clone())
                    .index(b.ifindex)
                    .address(b.mac.to_vec())
                    .mtu(b.mtu)
                    .setns_by_fd(b.netns)
                    .build();
                // The builder's `index` only fills the header; keep it explicit.
                peer.header.index = b.ifindex;
                let mut builder = LinkVeth::new(&a.name, &b.name)
                    .index(a.ifindex)
                    .address(a.mac.to_vec())
                    .mtu(a.mtu)
                    .setns_by_fd(a.netns)
                    .up();
                if let Some(m) = a.master {
                    builder = builder.controller(m);
                }
                let mut msg = builder.build();
                replace_veth_peer(&mut msg, peer);
                (RouteNetlinkMessage::NewLink(msg), create)
            }
            Op::AddBridge(br) => {
                let state = if br.stp {
                    BridgeStpState::KernelStp
                } else {
                    BridgeStpState::Disabled
                };
                let mut b = LinkBridge::new(&br.name)
                    .index(br.ifindex)
                    .address(br.mac.to_vec())
                    .stp_state(state)
                    .up();
                if br.stp {
                    // Minimum the kernel accepts with STP on: 2 s, in centiseconds.
                    b = b.forward_delay(200).hello_time(100).max_age(600);
                }
                (RouteNetlinkMessage::NewLink(b.build()), create)
            }
            Op::SetUp { ifindex } => {
                let m = LinkUnspec::new_with_index(*ifindex).up().build();
                (RouteNetlinkMessage::SetLink(m), 0)
            }
            Op::SetDown { ifindex } => {
                let m = LinkUnspec::new_with_index(*ifindex).down().build();
                (RouteNetlinkMessage::SetLink(m), 0)
            }
            Op::SetMaster { ifindex, master } => {
                let m = LinkUnspec::new_with_index(*ifindex)
                    .controller(*master)
                    .build();
                (RouteNetlinkMessage::SetLink(m), 0)
            }
            Op::DelLink { ifindex } => {
                let m = LinkUnspec::new_with_index(*ifindex).build();
                (RouteNetlinkMessage::DelLink(m), 0)
            }
            Op::AddAddr { ifindex, net } => {
                let mut m = match net {
                    IpNet::V4(n) => AddressMessageBuilder::<std::net::Ipv4Addr>::new()
                        .index(*ifindex)
                        .address(n.addr(), n.prefix_len())
                        .build(),
                    IpNet::V6(n) => {
                        let mut m = AddressMessageBuilder::<std::net::Ipv6Addr>::new()
                            .index(*ifindex)
                            .address(n.addr(), n.prefix_len())
                            .build();
                        m.attributes
                            .push(AddressAttribute::Flags(AddressFlags::Nodad));
                        m
                    }
                };
                m.header.index = *ifindex;
                (RouteNetlinkMessage::NewAddress(m), create)
            }
            Op::AddRoute { dst, via, dev } => {
                let m = match (dst, via) {
                    (IpNet::V4(d), IpAddr::V4(g)) => {
                        RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                            .destination_prefix(d.network(), d.prefix_len())
                            .gateway(*g)
                            .output_interface(*dev)
                            .build()
                    }
                    (IpNet::V6(d), IpAddr::V6(g)) => {
                        RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                            .destination_prefix(d.network(), d.prefix_len())
                            .gateway(*g)
                            .output_interface(*dev)
                            .build()
                    }
                    // Mixed families never come out of compile; the kernel rejects them.
                    (IpNet::V4(d), IpAddr::V6(g)) => {
                        RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                            .destination_prefix(d.network(), d.prefix_len())
                            .via(*g)
                            .output_interface(*dev)
                            .build()
                    }
                    (IpNet::V6(d), IpAddr::V4(_)) => {
                        RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                            .destination_prefix(d.network(), d.prefix_len())
                            .output_interface(*dev)
                            .build()
                    }
                };
                (
                    RouteNetlinkMessage::NewRoute(m),
                    NLM_F_CREATE | NLM_F_REPLACE,
                )
            }
            Op::ReplaceRoute {
                dst,
                via,
                proto,
                metric,
            } => {
                let p = RouteProtocol::from(*proto);
                let m = match (dst, via) {
                    (IpNet::V4(d), IpAddr::V4(g)) => {
                        RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                            .destination_prefix(d.network(), d.prefix_len())
                            .gateway(*g)
                            .protocol(p)
                            .priority(*metric)
                            .build()
                    }
                    // RFC 5549: an IPv4 prefix via an IPv6 next hop.
                    (IpNet::V4(d), IpAddr::V6(g)) => {
                        RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                            .destination_prefix(d.network(), d.prefix_len())
                            .via(*g)
                            .protocol(p)
                            .priority(*metric)
                            .build()
                    }
                    (IpNet::V6(d), IpAddr::V6(g)) => {
                        RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                            .destination_prefix(d.network(), d.prefix_len())
                            .gateway(*g)
                            .protocol(p)
                            .priority(*metric)
                            .build()
                    }
                    // No such route exists; the kernel rejects a gatewayless one here.
                    (IpNet::V6(d), IpAddr::V4(_)) => {
                        RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                            .destination_prefix(d.network(), d.prefix_len())
                            .protocol(p)
                            .priority(*metric)
                            .build()
                    }
                };
                (
                    RouteNetlinkMessage::NewRoute(m),
                    NLM_F_CREATE | NLM_F_REPLACE,
                )
            }
            Op::DelRoute { dst, proto, metric } => {
                let p = RouteProtocol::from(*proto);
                let m = match dst {
                    IpNet::V4(d) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                        .destination_prefix(d.network(), d.prefix_len())
                        .protocol(p)
                        .priority(*metric)
                        .build(),
                    IpNet::V6(d) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                        .destination_prefix(d.network(), d.prefix_len())
                        .protocol(p)
                        .priority(*metric)
                        .build(),
                };
                (RouteNetlinkMessage::DelRoute(m), 0)
            }
            Op::AddVxlan(v) => {
                let mut b = LinkVxlan::new(&v.name, v.vni)
                    .port(v.port)
                    .learning(false)
                    .ttl(v.ttl);
                b = match (v.local, v.remote) {
                    (IpAddr::V4(l), IpAddr::V4(r)) => b.local(l).remote(r),
                    (IpAddr::V6(l), IpAddr::V6(r)) => b.local6(l).remote6(r),
                    // Mixed families: the kernel refuses the request (EINVAL).
                    (IpAddr::V4(l), IpAddr::V6(r)) => b.local(l).remote6(r),
                    (IpAddr::V6(l), IpAddr::V4(r)) => b.local6(l).remote(r),
                };
                let mut m = b
                    .index(v.ifindex)
                    .address(v.mac.to_vec())
                    .mtu(v.mtu)
                    .setns_by_fd(v.netns)
                    .up()
                    .build();
                m.header.index = v.ifindex;
                (RouteNetlinkMessage::NewLink(m), create)
            }
            Op::AddIfb { name, ifindex } => {
                let m = LinkIfb::new(name).index(*ifindex).build();
                (RouteNetlinkMessage::NewLink(m), create)
            }
            Op::Tc { kind, msg, .. } => {
                let m = msg.clone();
                match kind {
                    TcKind::AddQdisc => (RouteNetlinkMessage::NewQueueDiscipline(m), create),
                    TcKind::ChangeQdisc => (RouteNetlinkMessage::NewQueueDiscipline(m), 0),
                    TcKind::ReplaceQdisc => (
                        RouteNetlinkMessage::NewQueueDiscipline(m),
                        NLM_F_CREATE | NLM_F_REPLACE,
                    ),
                    TcKind::DelQdisc => (RouteNetlinkMessage::DelQueueDiscipline(m), 0),
                    TcKind::AddFilter => (RouteNetlinkMessage::NewTrafficFilter(m), create),
                }
            }
        }
    }

    /// What this op does, for error messages.
    pub fn describe(&self) -> String {
        match self {
            Op::AddVeth { a, b } => format!("add veth {} — {}", a.label, b.label),
            Op::AddBridge(b) => format!("add bridge {}", b.name),
            Op::SetUp { ifindex } => format!("set ifindex {ifindex} up"),
            Op::SetDown { ifindex } => format!("set ifindex {ifindex} down"),
            Op::SetMaster { ifindex, master } => {
                format!("attach ifindex {ifindex} to bridge ifindex {master}")
            }
            Op::DelLink { ifindex } => format!("delete ifindex {ifindex}"),
            Op::AddAddr { ifindex, net } => format!("add address {net} on ifindex {ifindex}"),
            Op::AddRoute { dst, via, dev } => {
                format!("add route {dst} via {via} (ifindex {dev})")
            }
            Op::ReplaceRoute { dst, via, .. } => format!("replace route {dst} via {via}"),
            Op::DelRoute { dst, .. } => format!("delete route {dst}"),
            Op::AddVxlan(v) => format!(
                "add vxlan {} (VNI {}, {} → {} port {})",
                v.label, v.vni, v.local, v.remote, v.port
            ),
            Op::AddIfb { name, .. } => format!("add ifb device {name}"),
            Op::Tc { what, .. } => what.clone(),
        }
    }
}

/// Swaps the veth peer message that rtnetlink's builder made (name only) for ours.
fn replace_veth_peer(msg: &mut LinkMessage, peer: LinkMessage) {
    for attr in msg.attributes.iter_mut() {
        if let LinkAttribute::LinkInfo(infos) = attr {
            for info in infos.iter_mut() {
                if let LinkInfo::Data(InfoData::Veth(v)) = info {
                    *v = InfoVeth::Peer(peer);
                    return;
                }
            }
            infos.push(LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))));
            return;
        }
    }
    msg.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
}
