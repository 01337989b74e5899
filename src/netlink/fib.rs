//! The bulk route path of a BGP speaker's FIB thread: a full table is a million routes
//! through a handful of next hops, and the kernel's time per route is what the table's
//! load time comes to.
//!
//! - **Nexthop objects** (RTM_NEWNEXTHOP, Linux 5.3+): each next hop is created once and
//!   every route names it by id (RTA_NH_ID). With a gateway in each route instead, the
//!   kernel builds a `fib_nh` (with its per-CPU route caches) for every request, finds the
//!   identical one it already has, and frees the new one through RCU.
//! - **One acknowledgement per datagram**: only the last request of each datagram asks
//!   for an ACK. The kernel answers a request that fails whether or not it asked
//!   (`netlink_rcv_skb`), in order, so the last ACK closes the datagram and every failure
//!   before it has been read with its sequence number.
//! - **Encoded by hand** into one reused buffer: fixed layouts, no allocation per route.
//!
//! ```text
//!   nexthop id 7 via 172.16.0.6 dev eth1 proto bgp            (once per next hop)
//!   [RTM_NEWROUTE 10.9.0.0/24 nhid 7 metric 20 proto bgp] × ~700 │ the last with NLM_F_ACK
//!                    ◀── NLMSG_ERROR only for failures, then the ACK of the last
//! ```

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;

use super::Netlink;

const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_NEWNEXTHOP: u16 = 104;
const RTM_DELNEXTHOP: u16 = 105;
const RTM_GETNEXTHOP: u16 = 106;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;

const RTA_DST: u16 = 1;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_VIA: u16 = 18;
const RTA_NH_ID: u16 = 30;

const NHA_ID: u16 = 1;
const NHA_OIF: u16 = 5;
const NHA_GATEWAY: u16 = 6;

const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;
const RT_TABLE_MAIN: u8 = 254;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_NOWHERE: u8 = 255;
const RTN_UNICAST: u8 = 1;

/// Largest datagram of requests we build: the kernel accepts up to the socket's send
/// buffer, 60 KiB keeps well under the default.
const DATAGRAM: usize = 60 * 1024;

/// How a route reaches its next hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Via {
    /// A nexthop object, by id.
    Object(u32),
    /// A gateway address (RTA_GATEWAY; RTA_VIA for an IPv4 route via an IPv6 gateway).
    Gateway(IpAddr),
}

/// One route request of a bulk run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteOp {
    /// Add the route to `dst`, or replace the one with the same metric.
    Replace { dst: IpNet, via: Via },
    /// Delete the route to `dst` (of the run's protocol and metric).
    Delete { dst: IpNet },
}

/// A failed request of a bulk run, by index; and the error that ended the run early (the
/// acknowledgements could not be read), with the index of the first request whose fate
/// is unknown.
pub type BulkOutcome = (Vec<(usize, io::Error)>, Option<(usize, io::Error)>);

fn put_u16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_ne_bytes());
}

fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_ne_bytes());
}

/// Appends a netlink attribute (payloads here are multiples of 4 bytes: no padding).
fn put_attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    put_u16(buf, 4 + payload.len() as u16);
    put_u16(buf, kind);
    buf.extend_from_slice(payload);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

fn ip_bytes(a: &IpAddr) -> ([u8; 16], usize) {
    let mut b = [0u8; 16];
    match a {
        IpAddr::V4(v) => {
            b[..4].copy_from_slice(&v.octets());
            (b, 4)
        }
        IpAddr::V6(v) => {
            b.copy_from_slice(&v.octets());
            (b, 16)
        }
    }
}

fn family_of(a: &IpAddr) -> u8 {
    if a.is_ipv4() { AF_INET } else { AF_INET6 }
}

/// Starts a message of type `kind`; `finish` fills in its length.
fn begin(buf: &mut Vec<u8>, kind: u16, flags: u16, seq: u32) -> usize {
    let at = buf.len();
    put_u32(buf, 0);
    put_u16(buf, kind);
    put_u16(buf, flags);
    put_u32(buf, seq);
    put_u32(buf, 0);
    at
}

fn finish(buf: &mut [u8], at: usize) {
    let len = (buf.len() - at) as u32;
    buf[at..at + 4].copy_from_slice(&len.to_ne_bytes());
}

/// Appends the request for `op` (protocol `proto`, metric `metric`, in the main table).
pub fn encode_route(buf: &mut Vec<u8>, op: &RouteOp, proto: u8, metric: u32, seq: u32, ack: bool) {
    let ack = if ack { NLM_F_ACK } else { 0 };
    let (kind, flags, dst, scope, rtype) = match op {
        RouteOp::Replace { dst, .. } => (
            RTM_NEWROUTE,
            NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | ack,
            dst,
            RT_SCOPE_UNIVERSE,
            RTN_UNICAST,
        ),
        RouteOp::Delete { dst } => (RTM_DELROUTE, NLM_F_REQUEST | ack, dst, RT_SCOPE_NOWHERE, 0),
    };
    let at = begin(buf, kind, flags, seq);
    let addr = dst.network();
    // struct rtmsg
    buf.extend_from_slice(&[
        family_of(&addr),
        dst.prefix_len(),
        0, // src_len
        0, // tos
        RT_TABLE_MAIN,
        proto,
        scope,
        rtype,
    ]);
    put_u32(buf, 0); // rtm_flags
    let (b, n) = ip_bytes(&addr);
    put_attr(buf, RTA_DST, &b[..n]);
    put_attr(buf, RTA_PRIORITY, &metric.to_ne_bytes());
    if let RouteOp::Replace { via, .. } = op {
        match via {
            Via::Object(id) => put_attr(buf, RTA_NH_ID, &id.to_ne_bytes()),
            Via::Gateway(g) if g.is_ipv4() == addr.is_ipv4() => {
                let (b, n) = ip_bytes(g);
                put_attr(buf, RTA_GATEWAY, &b[..n]);
            }
            // RFC 5549: an IPv4 prefix via an IPv6 next hop (struct rtvia).
            Via::Gateway(g) => {
                let (b, n) = ip_bytes(g);
                let mut via = Vec::with_capacity(2 + n);
                via.extend_from_slice(&u16::from(family_of(g)).to_ne_bytes());
                via.extend_from_slice(&b[..n]);
                put_attr(buf, RTA_VIA, &via);
            }
        }
    }
    finish(buf, at);
}

/// Appends the request that creates nexthop object `id` via `gateway` on `oif`.
pub fn encode_new_nexthop(
    buf: &mut Vec<u8>,
    id: u32,
    gateway: IpAddr,
    oif: u32,
    proto: u8,
    seq: u32,
) {
    let at = begin(
        buf,
        RTM_NEWNEXTHOP,
        NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
        seq,
    );
    // struct nhmsg: family, scope, protocol, reserved, flags
    buf.extend_from_slice(&[family_of(&gateway), RT_SCOPE_UNIVERSE, proto, 0]);
    put_u32(buf, 0);
    put_attr(buf, NHA_ID, &id.to_ne_bytes());
    let (b, n) = ip_bytes(&gateway);
    put_attr(buf, NHA_GATEWAY, &b[..n]);
    put_attr(buf, NHA_OIF, &oif.to_ne_bytes());
    finish(buf, at);
}

/// Appends the request that deletes nexthop object `id` (and, in the kernel, every route
/// that uses it).
pub fn encode_del_nexthop(buf: &mut Vec<u8>, id: u32, seq: u32) {
    let at = begin(buf, RTM_DELNEXTHOP, NLM_F_REQUEST | NLM_F_ACK, seq);
    buf.extend_from_slice(&[0, 0, 0, 0]);
    put_u32(buf, 0);
    put_attr(buf, NHA_ID, &id.to_ne_bytes());
    finish(buf, at);
}

/// One message of a kernel reply, as far as the bulk path reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// NLMSG_ERROR: `errno` 0 is an acknowledgement.
    Ack {
        seq: u32,
        errno: i32,
    },
    Done {
        seq: u32,
    },
    /// A nexthop object of a dump: its id and protocol.
    Nexthop {
        seq: u32,
        id: u32,
        proto: u8,
    },
    Other {
        seq: u32,
    },
}

/// The messages of one datagram from the kernel. Stops at the first message whose
/// length does not fit (a truncated or garbled datagram yields what came before it).
pub fn replies(data: &[u8]) -> Vec<Reply> {
    let mut out = Vec::new();
    let mut off = 0;
    while data.len() - off >= 16 {
        let h = &data[off..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if len < 16 || len > h.len() {
            break;
        }
        let kind = u16::from_ne_bytes([h[4], h[5]]);
        let seq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
        let body = &h[16..len];
        out.push(match kind {
            NLMSG_ERROR if body.len() >= 4 => Reply::Ack {
                seq,
                errno: -i32::from_ne_bytes([body[0], body[1], body[2], body[3]]),
            },
            NLMSG_DONE => Reply::Done { seq },
            RTM_NEWNEXTHOP if body.len() >= 8 => Reply::Nexthop {
                seq,
                id: nexthop_id(&body[8..]).unwrap_or(0),
                proto: body[2],
            },
            _ => Reply::Other { seq },
        });
        off += len.next_multiple_of(4).min(data.len() - off);
    }
    out
}

/// NHA_ID among a nexthop message's attributes.
fn nexthop_id(mut attrs: &[u8]) -> Option<u32> {
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == NHA_ID && len >= 8 {
            return Some(u32::from_ne_bytes([attrs[4], attrs[5], attrs[6], attrs[7]]));
        }
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    None
}

fn errno_error(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

impl Netlink {
    /// Runs route requests in order, a datagram at a time, with one acknowledgement per
    /// datagram (see the module doc).
    pub fn run_routes(&mut self, ops: &[RouteOp], proto: u8, metric: u32) -> BulkOutcome {
        self.run_batched(ops.len(), |buf, i, seq| {
            encode_route(buf, &ops[i], proto, metric, seq, false)
        })
    }

    /// Sends `n` requests in order, `encode(buf, i, seq)` appending request `i`, as many
    /// to a datagram as [`DATAGRAM`] bytes hold. The last request of each datagram asks
    /// for the ACK that closes it (others may ask too); failures come back by index, as
    /// [`BulkOutcome`] says.
    pub(crate) fn run_batched(
        &mut self,
        n: usize,
        mut encode: impl FnMut(&mut Vec<u8>, usize, u32),
    ) -> BulkOutcome {
        let mut errors = Vec::new();
        let mut start = 0;
        while start < n {
            self.tx.clear();
            let first_seq = self.seq.wrapping_add(1);
            let mut end = start;
            let mut last_at = 0;
            while end < n && (end == start || self.tx.len() < DATAGRAM) {
                self.seq = self.seq.wrapping_add(1);
                last_at = self.tx.len();
                encode(&mut self.tx, end, self.seq);
                end += 1;
            }
            let flags = u16::from_ne_bytes([self.tx[last_at + 6], self.tx[last_at + 7]]);
            self.tx[last_at + 6..last_at + 8].copy_from_slice(&(flags | NLM_F_ACK).to_ne_bytes());
            let last_seq = self.seq;
            if let Err(e) = self.sock.send(&self.tx, 0) {
                errors.extend((start..end).map(|i| (i, io::Error::new(e.kind(), e.to_string()))));
                start = end;
                continue;
            }
            if let Err(e) = self.read_until_ack(first_seq, last_seq, start, &mut errors) {
                return (errors, Some((start, e)));
            }
            start = end;
        }
        (errors, None)
    }

    /// Reads replies until the one to `last_seq`, recording the failures of requests
    /// `first_seq..=last_seq` (op indexes from `base`).
    fn read_until_ack(
        &mut self,
        first_seq: u32,
        last_seq: u32,
        base: usize,
        errors: &mut Vec<(usize, io::Error)>,
    ) -> io::Result<()> {
        let count = last_seq.wrapping_sub(first_seq) as usize + 1;
        loop {
            let n = self.sock.recv(&mut &mut self.rx[..], 0)?;
            for r in replies(&self.rx[..n]) {
                let Reply::Ack { seq, errno } = r else {
                    continue;
                };
                let idx = seq.wrapping_sub(first_seq) as usize;
                if idx >= count {
                    continue; // a stale reply from an earlier, failed datagram
                }
                if errno != 0 {
                    errors.push((base + idx, errno_error(errno)));
                }
                if seq == last_seq {
                    return Ok(());
                }
            }
        }
    }

    /// Sends one request that asks for an ACK and waits for it.
    fn request(&mut self, encode: impl FnOnce(&mut Vec<u8>, u32)) -> io::Result<()> {
        let seq = self.next_seq();
        self.tx.clear();
        encode(&mut self.tx, seq);
        self.sock.send(&self.tx, 0)?;
        loop {
            let n = self.sock.recv(&mut &mut self.rx[..], 0)?;
            for r in replies(&self.rx[..n]) {
                if let Reply::Ack { seq: s, errno } = r
                    && s == seq
                {
                    return if errno == 0 {
                        Ok(())
                    } else {
                        Err(errno_error(errno))
                    };
                }
            }
        }
    }

    /// Creates nexthop object `id` via `gateway` on interface `oif` (EEXIST when the id
    /// is taken).
    pub fn add_nexthop(&mut self, id: u32, gateway: IpAddr, oif: u32, proto: u8) -> io::Result<()> {
        self.request(|buf, seq| encode_new_nexthop(buf, id, gateway, oif, proto, seq))
    }

    /// Deletes nexthop object `id`; the kernel deletes the routes that use it.
    pub fn del_nexthop(&mut self, id: u32) -> io::Result<()> {
        self.request(|buf, seq| encode_del_nexthop(buf, id, seq))
    }

    /// The ids of the nexthop objects of protocol `proto`.
    pub fn nexthops_of(&mut self, proto: u8) -> io::Result<Vec<u32>> {
        let seq = self.next_seq();
        self.tx.clear();
        let at = begin(
            &mut self.tx,
            RTM_GETNEXTHOP,
            NLM_F_REQUEST | NLM_F_DUMP,
            seq,
        );
        self.tx.extend_from_slice(&[0; 8]);
        finish(&mut self.tx, at);
        self.sock.send(&self.tx, 0)?;
        let mut ids = Vec::new();
        loop {
            let n = self.sock.recv(&mut &mut self.rx[..], 0)?;
            for r in replies(&self.rx[..n]) {
                match r {
                    Reply::Nexthop {
                        seq: s,
                        id,
                        proto: p,
                    } if s == seq && p == proto => ids.push(id),
                    Reply::Done { seq: s } if s == seq => return Ok(ids),
                    // No nexthop support (an old kernel): none of ours either.
                    Reply::Ack { seq: s, errno } if s == seq && errno != 0 => {
                        return if errno == libc::EOPNOTSUPP || errno == libc::EINVAL {
                            Ok(ids)
                        } else {
                            Err(errno_error(errno))
                        };
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
    use netlink_packet_route::RouteNetlinkMessage;
    use netlink_packet_route::route::{RouteAttribute, RouteProtocol};

    /// `op` encoded (protocol bgp, metric 20) and decoded by netlink-packet-route.
    fn round_trip(op: RouteOp, ack: bool) -> (u16, RouteNetlinkMessage) {
        let mut buf = Vec::new();
        encode_route(&mut buf, &op, 186, 20, 5, ack);
        decode(&buf)
    }

    fn decode(buf: &[u8]) -> (u16, RouteNetlinkMessage) {
        let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(buf).unwrap();
        assert_eq!(m.header.length as usize, buf.len());
        match m.payload {
            NetlinkPayload::InnerMessage(r) => (m.header.flags, r),
            p => panic!("{p:?}"),
        }
    }

    fn new_route(op: RouteOp, ack: bool) -> (u16, netlink_packet_route::route::RouteMessage) {
        match round_trip(op, ack) {
            (flags, RouteNetlinkMessage::NewRoute(r)) => (flags, r),
            (_, m) => panic!("{m:?}"),
        }
    }

    #[test]
    fn route_requests_decode_as_the_kernel_reads_them() {
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        let gw: IpAddr = "fd00::1".parse().unwrap();
        let has = |r: &netlink_packet_route::route::RouteMessage,
                   f: fn(&RouteAttribute) -> bool| { r.attributes.iter().any(f) };
        let (flags, r) = new_route(
            RouteOp::Replace {
                dst: net("10.9.8.0/24"),
                via: Via::Object(7),
            },
            false,
        );
        assert_eq!(flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE);
        assert_eq!(r.header.destination_prefix_length, 24);
        assert_eq!(r.header.protocol, RouteProtocol::Bgp);
        assert!(r.attributes.contains(&RouteAttribute::Priority(20)));
        assert!(has(&r, |a| matches!(a, RouteAttribute::Destination(_))));
        assert_eq!(r.attributes.len(), 3, "{:?}", r.attributes);

        let (flags, r) = new_route(
            RouteOp::Replace {
                dst: net("2001:db8:1::/48"),
                via: Via::Gateway(gw),
            },
            true,
        );
        assert_ne!(flags & NLM_F_ACK, 0);
        assert_eq!(r.header.destination_prefix_length, 48);
        assert!(has(&r, |a| matches!(a, RouteAttribute::Gateway(_))));

        // RFC 5549: an IPv4 prefix via an IPv6 gateway.
        let (_, r) = new_route(
            RouteOp::Replace {
                dst: net("10.9.0.0/16"),
                via: Via::Gateway(gw),
            },
            false,
        );
        assert!(has(&r, |a| matches!(a, RouteAttribute::Via(_))));

        let RouteNetlinkMessage::DelRoute(r) = round_trip(
            RouteOp::Delete {
                dst: net("10.9.0.0/16"),
            },
            false,
        )
        .1
        else {
            panic!()
        };
        assert_eq!(r.header.protocol, RouteProtocol::Bgp);
        assert_eq!(r.attributes.len(), 2);
    }

    #[test]
    fn replies_read_acks_errors_and_stop_at_garbage() {
        let mut buf = Vec::new();
        for (seq, code) in [(1u32, 0i32), (2, -libc::ENETUNREACH)] {
            let at = begin(&mut buf, NLMSG_ERROR, 0, seq);
            buf.extend_from_slice(&code.to_ne_bytes());
            buf.extend_from_slice(&[0; 16]);
            finish(&mut buf, at);
        }
        let at = begin(&mut buf, RTM_NEWNEXTHOP, 0, 3);
        buf.extend_from_slice(&[2, 0, 186, 0, 0, 0, 0, 0]);
        put_attr(&mut buf, NHA_ID, &42u32.to_ne_bytes());
        finish(&mut buf, at);
        let good = buf.len();
        buf.extend_from_slice(&[200, 0, 0, 0, 2, 0]); // a header cut short
        assert_eq!(
            replies(&buf),
            vec![
                Reply::Ack { seq: 1, errno: 0 },
                Reply::Ack {
                    seq: 2,
                    errno: libc::ENETUNREACH
                },
                Reply::Nexthop {
                    seq: 3,
                    id: 42,
                    proto: 186
                },
            ]
        );
        assert_eq!(replies(&buf[..good - 1]).len(), 2);
        assert!(replies(&[]).is_empty());
    }
}
