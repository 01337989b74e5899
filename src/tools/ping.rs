//! ICMP echo (IPv4 and IPv6) from inside a node, with no `ping` binary.
//!
//! Uses the kernel's "ping sockets" (`SOCK_DGRAM` + `IPPROTO_ICMP`/`IPPROTO_ICMPV6`): the
//! kernel fills in the identifier and checksum and hands each socket only the replies to
//! its own requests. They need `net.ipv4.ping_group_range` to cover the caller's group,
//! which compile sets in every host and router namespace (it governs both families).
//! Each request carries its send time (CLOCK_MONOTONIC) after the 8-byte ICMP header.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};

use super::{Stats, now_ns, precise_timers, sleep_until, socket_in};

#[derive(Debug, Clone, Copy)]
pub struct PingConfig {
    pub count: u32,
    pub interval: Duration,
    /// Payload bytes after the ICMP header (at least 8 for the timestamp).
    pub size: usize,
    /// How long to wait for the last reply.
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

/// Pings `dst` from namespace `src_ns`.
pub fn ping(src_ns: &str, dst: IpAddr, cfg: PingConfig) -> io::Result<PingReport> {
    let sock = socket_in(src_ns, move || {
        let (domain, proto) = match dst {
            IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
            IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
        };
        Socket::new(domain, Type::DGRAM, Some(proto)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("ICMP socket (is net.ipv4.ping_group_range set in this node?): {e}"),
            )
        })
    })?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let rx = sock.try_clone()?;
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let count = cfg.count as usize;
    let receiver = std::thread::spawn(move || {
        let mut rtts = vec![None; count];
        let mut buf = [MaybeUninit::<u8>::uninit(); 65536];
        loop {
            match rx.recv(&mut buf) {
                Ok(n) if n >= 16 => {
                    let now = now_ns();
                    // SAFETY: recv initialized the first n bytes.
                    let b: Vec<u8> = buf[..n]
                        .iter()
                        .map(|x| unsafe { x.assume_init() })
                        .collect();
                    let reply = matches!(b[0], 0 | 129);
                    let seq = u16::from_be_bytes([b[6], b[7]]) as usize;
                    let sent = u64::from_be_bytes(b[8..16].try_into().expect("8 bytes"));
                    if reply && let Some(slot) = rtts.get_mut(seq) {
                        slot.get_or_insert(now.saturating_sub(sent));
                    }
                }
                Ok(_) => {}
                Err(_) if d.load(Ordering::Relaxed) => break,
                Err(_) => {}
            }
        }
        rtts
    });
    precise_timers();
    let addr = socket2::SockAddr::from(SocketAddr::new(dst, 0));
    let request_type = if dst.is_ipv4() { 8u8 } else { 128u8 };
    let mut pkt = vec![0u8; 8 + cfg.size.max(8)];
    let start = now_ns();
    let step = cfg.interval.as_nanos() as u64;
    let mut send_err = None;
    for seq in 0..cfg.count {
        sleep_until(start + u64::from(seq) * step);
        pkt[0] = request_type;
        pkt[6..8].copy_from_slice(&(seq as u16).to_be_bytes());
        pkt[8..16].copy_from_slice(&now_ns().to_be_bytes());
        // "Network unreachable" (a link down, no route) is a lost probe, not a failure.
        if let Err(e) = sock.send_to(&pkt, &addr)
            && !matches!(
                e.raw_os_error(),
                Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) | Some(libc::ENOBUFS)
            )
        {
            send_err = Some(e);
            break;
        }
    }
    std::thread::sleep(cfg.wait);
    done.store(true, Ordering::Relaxed);
    let rtts = receiver
        .join()
        .map_err(|_| io::Error::other("ping receiver panicked"))?;
    if let Some(e) = send_err {
        return Err(e);
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
