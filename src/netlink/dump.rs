//! Dumps of a namespace's links, addresses and routes, as small serializable rows
//! (what `inspect` shows and what tests compare against the Plan).

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkInfo, LinkMessage, State};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteType,
};
use serde::{Deserialize, Serialize};

use super::{Netlink, emit};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LinkRow {
    pub ifindex: u32,
    pub name: String,
    pub kind: Option<String>,
    pub mac: Option<String>,
    pub mtu: Option<u32>,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Operational state as the kernel reports it ("up", "down", "lowerlayerdown", …).
    pub oper: String,
    /// Bridge this link is a port of.
    pub master: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AddrRow {
    pub ifindex: u32,
    pub addr: IpNet,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RouteRow {
    pub dst: IpNet,
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    /// "kernel" for connected routes, "static" for ours (RTPROT_BOOT, as `ip route add`).
    pub proto: String,
}

/// The kernel's route to one address (`ip route get`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteTo {
    /// Its gateway; `None` when the address is on a link.
    pub gateway: Option<IpAddr>,
    /// The interface it leaves by.
    pub oif: Option<u32>,
}

/// An interface's counters (IFLA_STATS64) and whether it is up, as one dump returns them
/// for every interface of a namespace (what the web view samples each second).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LinkCounters {
    pub ifindex: u32,
    /// Administratively up (IFF_UP).
    pub up: bool,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

/// Counters of a root qdisc.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct QdiscStats {
    pub bytes: u64,
    pub packets: u64,
    pub drops: u64,
}

impl Netlink {
    /// Counters of the root qdisc of `ifindex`, if it has one.
    pub fn root_qdisc_stats(&mut self, ifindex: u32) -> io::Result<Option<QdiscStats>> {
        use netlink_packet_route::tc::{TcAttribute, TcMessage, TcStats2};
        let msgs = self.dump(RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default()))?;
        for m in msgs {
            let RouteNetlinkMessage::NewQueueDiscipline(q) = m else {
                continue;
            };
            if q.header.index != ifindex as i32 || u32::from(q.header.parent) != 0xffff_ffff {
                continue;
            }
            let mut st = QdiscStats::default();
            for a in &q.attributes {
                if let TcAttribute::Stats2(v) = a {
                    for x in v {
                        match x {
                            TcStats2::Basic(b) => {
                                st.bytes = b.bytes;
                                st.packets = u64::from(b.packets);
                            }
                            TcStats2::Queue(qs) => st.drops = u64::from(qs.drops),
                            _ => {}
                        }
                    }
                }
            }
            return Ok(Some(st));
        }
        Ok(None)
    }

    pub fn links(&mut self) -> io::Result<Vec<LinkRow>> {
        let msgs = self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_row(&l)),
                _ => None,
            })
            .collect())
    }

    /// Every interface's counters, in one dump.
    pub fn link_counters(&mut self) -> io::Result<Vec<LinkCounters>> {
        let msgs = self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_counters(&l)),
                _ => None,
            })
            .collect())
    }

    pub fn addrs(&mut self) -> io::Result<Vec<AddrRow>> {
        let msgs = self.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => addr_row(&a),
                _ => None,
            })
            .collect())
    }

    /// Unicast routes of the main table, both families.
    pub fn routes(&mut self) -> io::Result<Vec<RouteRow>> {
        let mut rows = Vec::new();
        for family in [
            netlink_packet_route::AddressFamily::Inet,
            netlink_packet_route::AddressFamily::Inet6,
        ] {
            let mut req = RouteMessage::default();
            req.header.address_family = family;
            for m in self.dump(RouteNetlinkMessage::GetRoute(req))? {
                if let RouteNetlinkMessage::NewRoute(r) = m
                    && let Some(row) = route_row(&r)
                {
                    rows.push(row);
                }
            }
        }
        Ok(rows)
    }

    /// The kernel's route to `dst` (as `ip route get`): its gateway, if any, and its
    /// interface. For resolving a next hop that is not on a link (an iBGP peer's
    /// loopback).
    pub fn route_get(&mut self, dst: IpAddr) -> io::Result<RouteTo> {
        let req = match dst {
            IpAddr::V4(a) => rtnetlink::RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                .destination_prefix(a, 32)
                .build(),
            IpAddr::V6(a) => rtnetlink::RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                .destination_prefix(a, 128)
                .build(),
        };
        let seq = self.next_seq();
        let mut buf = Vec::new();
        emit(
            &mut buf,
            RouteNetlinkMessage::GetRoute(req),
            NLM_F_REQUEST,
            seq,
        );
        self.socket().send(&buf, 0)?;
        let mut rx = vec![0u8; 1 << 16];
        loop {
            let n = self.socket().recv(&mut &mut rx[..], 0)?;
            let mut off = 0;
            while off < n {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[off..n])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r)) => {
                        let mut to = RouteTo::default();
                        for a in &r.attributes {
                            match a {
                                RouteAttribute::Gateway(g) => to.gateway = route_ip(g),
                                RouteAttribute::Oif(i) => to.oif = Some(*i),
                                _ => {}
                            }
                        }
                        return Ok(to);
                    }
                    _ => {}
                }
            }
        }
    }

    fn dump(&mut self, req: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        let seq = self.next_seq();
        let mut buf = Vec::new();
        emit(&mut buf, req, NLM_F_REQUEST | NLM_F_DUMP, seq);
        self.socket().send(&buf, 0)?;
        let mut out = Vec::new();
        let mut rx = vec![0u8; 1 << 16];
        loop {
            let n = self.socket().recv(&mut &mut rx[..], 0)?;
            let mut off = 0;
            while off < n {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[off..n])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    return Ok(out);
                }
                off += (len + 3) & !3;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
            }
        }
    }
}

fn link_row(l: &LinkMessage) -> LinkRow {
    let mut row = LinkRow {
        ifindex: l.header.index,
        name: String::new(),
        kind: None,
        mac: None,
        mtu: None,
        up: l.header.flags.contains(LinkFlags::Up),
        oper: "unknown".into(),
        master: None,
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => row.name = n.clone(),
            LinkAttribute::Mtu(m) => row.mtu = Some(*m),
            LinkAttribute::Controller(m) => row.master = Some(*m),
            LinkAttribute::Address(mac) if mac.len() == 6 => {
                row.mac = Some(
                    mac.iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(":"),
                )
            }
            LinkAttribute::OperState(s) => row.oper = oper_name(*s).into(),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        row.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    row
}

fn link_counters(l: &LinkMessage) -> LinkCounters {
    let mut c = LinkCounters {
        ifindex: l.header.index,
        up: l.header.flags.contains(LinkFlags::Up),
        ..LinkCounters::default()
    };
    if let Some(s) = l.attributes.iter().find_map(|a| match a {
        LinkAttribute::Stats64(s) => Some(s),
        _ => None,
    }) {
        c.rx_bytes = s.rx_bytes;
        c.tx_bytes = s.tx_bytes;
        c.rx_packets = s.rx_packets;
        c.tx_packets = s.tx_packets;
        c.rx_dropped = s.rx_dropped;
        c.tx_dropped = s.tx_dropped;
    }
    c
}

fn oper_name(s: State) -> &'static str {
    match s {
        State::Up => "up",
        State::Down => "down",
        State::LowerLayerDown => "lowerlayerdown",
        State::Dormant => "dormant",
        State::NotPresent => "notpresent",
        State::Testing => "testing",
        _ => "unknown",
    }
}

fn addr_row(a: &AddressMessage) -> Option<AddrRow> {
    let ip = a.attributes.iter().find_map(|x| match x {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    let ip = ip.or_else(|| {
        a.attributes.iter().find_map(|x| match x {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })?;
    Some(AddrRow {
        ifindex: a.header.index,
        addr: IpNet::new(ip, a.header.prefix_len).ok()?,
    })
}

fn route_row(r: &RouteMessage) -> Option<RouteRow> {
    if r.header.kind != RouteType::Unicast || r.header.table != 254 {
        return None;
    }
    let mut dst = None;
    let mut via = None;
    let mut dev = None;
    for a in &r.attributes {
        match a {
            RouteAttribute::Destination(d) => dst = route_ip(d),
            RouteAttribute::Gateway(g) => via = route_ip(g),
            RouteAttribute::Oif(i) => dev = Some(*i),
            _ => {}
        }
    }
    let plen = r.header.destination_prefix_length;
    let dst = match dst {
        Some(ip) => IpNet::new(ip, plen).ok()?,
        None if r.header.address_family == netlink_packet_route::AddressFamily::Inet6 => {
            IpNet::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0).ok()?
        }
        None => IpNet::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0).ok()?,
    };
    let proto = match r.header.protocol {
        RouteProtocol::Kernel => "kernel".to_string(),
        RouteProtocol::Boot | RouteProtocol::Static => "static".to_string(),
        p => format!("{p:?}").to_lowercase(),
    };
    Some(RouteRow {
        dst,
        via,
        dev,
        proto,
    })
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}
