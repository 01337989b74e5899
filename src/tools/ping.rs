//! ICMP echo (IPv4 and IPv6) from inside a node, with no `ping` binary.
//!
//! Uses the kernel's "ping sockets" (`SOCK_DGRAM` + `IPPROTO_ICMP`/`IPPROTO_ICMPV6`): the
//! kernel fills in the identifier and checksum and hands each socket only the replies to
//! its own requests. They need `net.ipv4.ping_group_range` to cover the caller's group,
//! which compile sets in every host and router namespace (it governs both families).
//! Each request carries its send time (CLOCK_MONOTONIC) and a tag (the request's index, or
//! the target's in a [`sweep`]) after the 8-byte ICMP header; replies are matched by socket
//! and tag. [`ping`] is one target, `count` requests; [`sweep`] is `pingall`: one request
//! from every source to every target at once. Both end as soon as the replies are in.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};

use super::{Stats, now_ns, precise_timers, socket_in};

#[derive(Debug, Clone, Copy)]
pub struct PingConfig {
    pub count: u32,
    pub interval: Duration,
    /// Payload bytes after the ICMP header (at least 8 for the timestamp).
    pub size: usize,
    /// How long to wait for missing replies after the last request, at most: `ping`
    /// returns as soon as every request is answered.
    pub wait: Duration,
}

impl Default for PingConfig {
    fn default() -> Self {
        PingConfig {
            count: 5,
            interval: Duration::from_millis(200),
            size: 56,
            wait: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PingReport {
    pub target: IpAddr,
    pub sent: u32,
    pub received: u32,
    /// Fraction lost, in [0, 1].
    pub loss: f64,
    /// RTT of each request in order; `None` if never answered.
    pub rtts_ns: Vec<Option<u64>>,
    pub rtt: Option<Stats>,
}

/// A ping socket in namespace `ns` for the family of `dst`, non-blocking.
fn open(ns: &str, v6: bool) -> io::Result<Socket> {
    let sock = socket_in(ns, move || {
        let (domain, proto) = if v6 {
            (Domain::IPV6, Protocol::ICMPV6)
        } else {
            (Domain::IPV4, Protocol::ICMPV4)
        };
        Socket::new(domain, Type::DGRAM, Some(proto)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("ICMP socket (is net.ipv4.ping_group_range set in this node?): {e}"),
            )
        })
    })?;
    sock.set_nonblocking(true)?;
    // Replies carry the kernel's receive time, so an RTT does not include how late this
    // thread woke to read it (as iputils ping does with SO_TIMESTAMP).
    nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
        .map_err(io::Error::from)?;
    // Room for a reply from every target of a sweep (the kernel caps it at rmem_max).
    let _ = sock.set_recv_buffer_size(4 << 20);
    Ok(sock)
}

/// Sends one echo request: `seq`, then the send time and `tag` in the payload (which the
/// reply carries back). Ok(Some(errno)): the probe is lost at the sender (no route, link
/// down, no buffer — also what a full neighbour table gives).
fn send_echo(
    sock: &Socket,
    dst: IpAddr,
    pkt: &mut [u8],
    seq: u16,
    tag: u32,
) -> io::Result<Option<i32>> {
    pkt[0] = if dst.is_ipv4() { 8 } else { 128 };
    pkt[6..8].copy_from_slice(&seq.to_be_bytes());
    pkt[16..20].copy_from_slice(&tag.to_be_bytes());
    pkt[8..16].copy_from_slice(&now_ns().to_be_bytes());
    match sock.send_to(pkt, &socket2::SockAddr::from(SocketAddr::new(dst, 0))) {
        Ok(_) => Ok(None),
        Err(e) => match e.raw_os_error() {
            Some(
                errno @ (libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ENOBUFS | libc::EAGAIN),
            ) => Ok(Some(errno)),
            _ => Err(e),
        },
    }
}

/// Reads every reply queued on `sock`: `got(tag, seq, rtt_ns)` for each echo reply, the
/// RTT ending at the kernel's receive timestamp of the reply (when it has a sane one).
fn read_replies(sock: &Socket, mut got: impl FnMut(u32, u16, u64)) {
    use std::os::fd::AsRawFd;
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut control = [0u64; 8];
    loop {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data; a zeroed one is an empty message header.
        let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
        h.msg_iov = &mut iov;
        h.msg_iovlen = 1;
        h.msg_control = control.as_mut_ptr().cast();
        h.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: h points at live buffers (iov → buf, control) for the call.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut h, libc::MSG_DONTWAIT) };
        if n < 0 {
            break;
        }
        let n = n as usize;
        let (now, real) = crate::link::relay::clocks(now_ns);
        let now = received_at(now, real, crate::link::port::timestamp_of(&h));
        if n < 20 {
            continue;
        }
        // SAFETY: recvmsg initialized the first n bytes.
        let b: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
        if !matches!(b[0], 0 | 129) {
            continue;
        }
        let seq = u16::from_be_bytes([b[6], b[7]]);
        let sent = u64::from_be_bytes(b[8..16].try_into().expect("8 bytes"));
        let tag = u32::from_be_bytes(b[16..20].try_into().expect("4 bytes"));
        got(tag, seq, now.saturating_sub(sent));
    }
}

/// When a reply arrived, on the monotonic clock `now` read just after `real` on the
/// realtime clock (see `relay::clocks`): `now` less the age its kernel receive timestamp `stamp` gives it. No stamp, or
/// one from the future or over a second old (the realtime clock was set meanwhile): `now`.
fn received_at(now: u64, real: u64, stamp: u64) -> u64 {
    crate::link::relay::stamp_age(real, stamp).map_or(now, |age| now.saturating_sub(age))
}

/// Waits until one of `socks` is readable or CLOCK_MONOTONIC reaches `until_ns`.
fn wait_readable(socks: &[&Socket], until_ns: u64) {
    use std::os::fd::AsRawFd;
    let mut fds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let left = until_ns.saturating_sub(now_ns());
    let ts = libc::timespec {
        tv_sec: (left / 1_000_000_000) as libc::time_t,
        tv_nsec: (left % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: fds is a valid array of fds.len() pollfd; ts a valid timespec. EINTR is a
    // spurious wake-up: the callers re-check their deadline.
    unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        );
    }
}

/// Pings `dst` from namespace `src_ns`: `count` requests `interval` apart; returns as soon
/// as every request is answered, or `wait` after the last request at the latest.
pub fn ping(src_ns: &str, dst: IpAddr, cfg: PingConfig) -> io::Result<PingReport> {
    let sock = open(src_ns, dst.is_ipv6())?;
    precise_timers();
    let count = cfg.count as usize;
    let mut rtts: Vec<Option<u64>> = vec![None; count];
    let mut answered = 0usize;
    let mut pkt = vec![0u8; 8 + cfg.size.max(12)];
    let start = now_ns();
    let step = u64::try_from(cfg.interval.as_nanos()).unwrap_or(u64::MAX);
    let wait = u64::try_from(cfg.wait.as_nanos()).unwrap_or(u64::MAX);
    let mut sent = 0usize;
    // Set once the last request is out: `wait` after it.
    let mut deadline = u64::MAX;
    loop {
        read_replies(&sock, |tag, seq, rtt| {
            // The tag is the request's index; seq is that index modulo 65,536.
            let i = tag as usize;
            if i < sent
                && seq == tag as u16
                && let Some(slot) = rtts.get_mut(i)
                && slot.is_none()
            {
                *slot = Some(rtt);
                answered += 1;
            }
        });
        if sent == count && answered == count {
            break;
        }
        let now = now_ns();
        if now >= deadline {
            break;
        }
        let next_send = if sent < count {
            start.saturating_add((sent as u64).saturating_mul(step))
        } else {
            u64::MAX
        };
        if now >= next_send {
            // A request lost at the sender stays unanswered.
            send_echo(&sock, dst, &mut pkt, sent as u16, sent as u32)?;
            sent += 1;
            if sent == count {
                deadline = now_ns().saturating_add(wait);
            }
            continue;
        }
        wait_readable(&[&sock], next_send.min(deadline));
    }
    let got: Vec<u64> = rtts.iter().flatten().copied().collect();
    let received = got.len() as u32;
    Ok(PingReport {
        target: dst,
        sent: cfg.count,
        received,
        loss: if cfg.count == 0 {
            0.0
        } else {
            1.0 - f64::from(received) / f64::from(cfg.count)
        },
        rtt: Stats::of(&got),
        rtts_ns: rtts,
    })
}

/// Pings that ask one question each: does `to` answer `from`?
#[derive(Debug, Clone, Copy)]
pub struct SweepConfig {
    /// Rounds: each resends to the targets that have not answered yet (the first request
    /// to a neighbour may be lost waiting for ARP/ND).
    pub tries: u32,
    /// How long each round waits for its missing replies.
    pub wait: Duration,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            tries: 3,
            wait: Duration::from_millis(700),
        }
    }
}

/// Sources whose sockets (two at most each) are open at once: at most 256, and no more
/// than half the file descriptors this process has left (a lab run in-process holds a
/// socket per relayed link end).
fn sources_at_once() -> usize {
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    let mut lim = libc::rlimit {
        rlim_cur: 1024,
        rlim_max: 1024,
    };
    // SAFETY: getrlimit writes one rlimit into `lim`.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    let left = usize::try_from(lim.rlim_cur)
        .unwrap_or(usize::MAX)
        .saturating_sub(open);
    (left / 4).clamp(1, 256)
}

/// One echo from each source namespace to each of its targets, all sent at once (one ping
/// socket per source and family): `sweep(&[(ns, targets)])?.rtts[s][t]` is the RTT of source
/// `s`'s target `t`, or `None` if it never answered. Returns as soon as every target has
/// answered; only the missing ones are retried and waited for (`cfg.wait` per round).
/// Replies are matched by socket and by the target's index, carried in the payload.
pub fn sweep(sources: &[(String, Vec<IpAddr>)], cfg: SweepConfig) -> io::Result<SweepReport> {
    let mut no_buffers = 0u64;
    let mut out: Vec<Vec<Option<u64>>> = sources.iter().map(|(_, t)| vec![None; t.len()]).collect();
    let at_once = sources_at_once();
    for (chunk_no, chunk) in sources.chunks(at_once).enumerate() {
        let base = chunk_no * at_once;
        // (socket, source index in `sources`, IPv6?)
        let mut socks: Vec<(Socket, usize, bool)> = Vec::new();
        for (i, (ns, targets)) in chunk.iter().enumerate() {
            for v6 in [false, true] {
                if targets.iter().any(|t| t.is_ipv6() == v6) {
                    socks.push((open(ns, v6)?, base + i, v6));
                }
            }
        }
        let mut missing: usize = chunk.iter().map(|(_, t)| t.len()).sum();
        let mut pkt = vec![0u8; 8 + 56];
        let drain = |socks: &[(Socket, usize, bool)],
                     out: &mut Vec<Vec<Option<u64>>>,
                     missing: &mut usize| {
            for (sock, s, is_v6) in socks {
                let row = &mut out[*s];
                let targets = &sources[*s].1;
                read_replies(sock, |tag, _seq, rtt| {
                    if let Some(slot) = row.get_mut(tag as usize)
                        && targets[tag as usize].is_ipv6() == *is_v6
                        && slot.is_none()
                    {
                        *slot = Some(rtt);
                        *missing -= 1;
                    }
                });
            }
        };
        for round in 0..cfg.tries.max(1) {
            if missing == 0 {
                break;
            }
            for (sock, s, is_v6) in &socks {
                for (t, dst) in sources[*s].1.iter().enumerate() {
                    if dst.is_ipv6() == *is_v6
                        && out[*s][t].is_none()
                        && send_echo(sock, *dst, &mut pkt, round as u16, t as u32)?
                            == Some(libc::ENOBUFS)
                    {
                        no_buffers += 1;
                    }
                }
                // Keep the receive queues short while the rest is sent.
                drain(&socks, &mut out, &mut missing);
            }
            let deadline =
                now_ns().saturating_add(u64::try_from(cfg.wait.as_nanos()).unwrap_or(u64::MAX));
            let all: Vec<&Socket> = socks.iter().map(|(s, _, _)| s).collect();
            while missing > 0 && now_ns() < deadline {
                wait_readable(&all, deadline);
                drain(&socks, &mut out, &mut missing);
            }
        }
    }
    Ok(SweepReport {
        rtts: out,
        no_buffers,
    })
}

/// What [`sweep`] found.
#[derive(Debug, Clone)]
pub struct SweepReport {
    /// `rtts[s][t]`: the RTT of source `s`'s target `t` in ns, `None` if it never answered.
    pub rtts: Vec<Vec<Option<u64>>>,
    /// Requests the sender's kernel refused for want of buffers (ENOBUFS): typically a full
    /// neighbour table (`net.ipv4.neigh.default.gc_thresh3`, machine-wide): N hosts on one
    /// LAN pinging each other need N × (N − 1) entries at once.
    pub no_buffers: u64,
}

#[cfg(test)]
mod received_at_tests {
    use super::received_at;

    #[test]
    fn a_reply_is_dated_by_its_kernel_stamp_when_sane() {
        // Read 300 µs after it arrived: the RTT ends 300 µs earlier.
        assert_eq!(
            received_at(10_000_000, 5_000_000_000, 4_999_700_000),
            9_700_000
        );
        // No stamp, one from the future, one over a second old: the read time.
        assert_eq!(received_at(10_000_000, 5_000_000_000, 0), 10_000_000);
        assert_eq!(
            received_at(10_000_000, 5_000_000_000, 5_000_000_001),
            10_000_000
        );
        assert_eq!(
            received_at(10_000_000, 5_000_000_000, 3_000_000_000),
            10_000_000
        );
    }
}
