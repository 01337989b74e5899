//! UDP probes: one-way delay and loss (sender in one node, receiver in another), and
//! round-trip time (an echo responder in the far node).
//!
//! Each probe carries `[seq: u64][sent_ns: u64]` (big-endian) and is padded to `size`.
//! Senders pace on CLOCK_MONOTONIC with 1 ns timer slack; receivers timestamp on arrival.

use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{now_ns, precise_timers, sleep_until, socket_in};

#[derive(Debug, Clone, Copy)]
pub struct ProbeConfig {
    pub count: u64,
    pub interval: Duration,
    /// Payload bytes (at least 16).
    pub size: usize,
    /// How long to wait for stragglers after the last probe.
    pub linger: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OneWay {
    pub sent: u64,
    pub received: u64,
    /// One-way delay of every received probe, in sequence order.
    pub delays_ns: Vec<u64>,
    /// Probes that arrived after a later-sent one.
    pub reordered: u64,
    pub duplicates: u64,
    /// Received sequence numbers (for replay comparisons).
    pub seqs: Vec<u64>,
    /// When probe 0 was due (CLOCK_MONOTONIC ns); probe k was due `k × interval` later.
    pub start_ns: u64,
}

impl OneWay {
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        1.0 - self.received.min(self.sent) as f64 / self.sent as f64
    }
}

/// A UDP socket bound inside `ns`, with a large receive buffer: a probe receiver that
/// falls behind for a few milliseconds on a busy machine must not count its own overflow
/// as link loss.
fn bind_in(ns: &str, addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = socket_in(ns, move || UdpSocket::bind(addr))?;
    let size: libc::c_int = 16 << 20;
    // SAFETY: passes a valid int of the stated size.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&s),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        );
    }
    Ok(s)
}

fn unspecified(dst: SocketAddr) -> SocketAddr {
    match dst {
        SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("literal"),
        SocketAddr::V6(_) => "[::]:0".parse().expect("literal"),
    }
}

/// Sends `cfg.count` probes from namespace `src_ns` to `dst` (an address of a node whose
/// namespace is `dst_ns`) and reports what arrived.
pub fn one_way(
    src_ns: &str,
    dst_ns: &str,
    dst: SocketAddr,
    cfg: ProbeConfig,
) -> io::Result<OneWay> {
    let rx = bind_in(dst_ns, SocketAddr::new(dst.ip(), 0))?;
    let port = rx.local_addr()?.port();
    let target = SocketAddr::new(dst.ip(), port);
    let tx = bind_in(src_ns, unspecified(dst))?;
    tx.connect(target)?;
    rx.set_read_timeout(Some(Duration::from_millis(50)))?;
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let receiver = std::thread::spawn(move || {
        let mut got: BTreeMap<u64, u64> = BTreeMap::new();
        let mut order = Vec::new();
        let (mut highest, mut reordered, mut dup) = (None::<u64>, 0u64, 0u64);
        let mut buf = [0u8; 65536];
        loop {
            match rx.recv(&mut buf) {
                Ok(n) if n >= 16 => {
                    let now = now_ns();
                    let seq = u64::from_be_bytes(buf[0..8].try_into().expect("8 bytes"));
                    let sent = u64::from_be_bytes(buf[8..16].try_into().expect("8 bytes"));
                    if got.insert(seq, now.saturating_sub(sent)).is_some() {
                        dup += 1;
                        continue;
                    }
                    order.push(seq);
                    match highest {
                        Some(h) if seq < h => reordered += 1,
                        _ => highest = Some(seq),
                    }
                }
                Ok(_) => {}
                Err(_) if d.load(Ordering::Relaxed) => break,
                Err(_) => {}
            }
        }
        (got, order, reordered, dup)
    });
    precise_timers();
    let mut buf = vec![0u8; cfg.size.max(16)];
    let start = now_ns();
    let step = cfg.interval.as_nanos() as u64;
    let sent = (|| {
        for seq in 0..cfg.count {
            sleep_until(start + seq * step);
            buf[0..8].copy_from_slice(&seq.to_be_bytes());
            buf[8..16].copy_from_slice(&now_ns().to_be_bytes());
            // A full socket buffer drops locally; that is not link loss, so retry briefly.
            while let Err(e) = tx.send(&buf) {
                if e.kind() != io::ErrorKind::WouldBlock && e.raw_os_error() != Some(libc::ENOBUFS)
                {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        std::thread::sleep(cfg.linger);
        Ok(())
    })();
    // On every path, error or not: the receiver ends before this returns.
    done.store(true, Ordering::Relaxed);
    let joined = receiver.join();
    sent?;
    let (got, order, reordered, duplicates) =
        joined.map_err(|_| io::Error::other("receiver panicked"))?;
    Ok(OneWay {
        sent: cfg.count,
        received: got.len() as u64,
        delays_ns: got.values().copied().collect(),
        reordered,
        duplicates,
        seqs: order,
        start_ns: start,
    })
}

/// Round-trip times of `cfg.count` probes from `src_ns` to an echo responder at `dst`
/// (in `dst_ns`); `None` for probes never answered.
pub fn rtt(
    src_ns: &str,
    dst_ns: &str,
    dst: SocketAddr,
    cfg: ProbeConfig,
) -> io::Result<Vec<Option<u64>>> {
    let echo = bind_in(dst_ns, SocketAddr::new(dst.ip(), 0))?;
    let port = echo.local_addr()?.port();
    echo.set_read_timeout(Some(Duration::from_millis(50)))?;
    let sock = bind_in(src_ns, unspecified(dst))?;
    sock.connect(SocketAddr::new(dst.ip(), port))?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let rx = sock.try_clone()?;
    // No early return from here on: both threads are joined on every path.
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let responder = std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while !s.load(Ordering::Relaxed) {
            if let Ok((n, from)) = echo.recv_from(&mut buf) {
                let _ = echo.send_to(&buf[..n], from);
            }
        }
    });
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let count = cfg.count as usize;
    let receiver = std::thread::spawn(move || {
        let mut rtts = vec![None; count];
        let mut buf = [0u8; 65536];
        loop {
            match rx.recv(&mut buf) {
                Ok(n) if n >= 16 => {
                    let now = now_ns();
                    let seq = u64::from_be_bytes(buf[0..8].try_into().expect("8 bytes")) as usize;
                    let sent = u64::from_be_bytes(buf[8..16].try_into().expect("8 bytes"));
                    if let Some(slot) = rtts.get_mut(seq) {
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
    let mut buf = vec![0u8; cfg.size.max(16)];
    let start = now_ns();
    let step = cfg.interval.as_nanos() as u64;
    let sent = (|| {
        for seq in 0..cfg.count {
            sleep_until(start + seq * step);
            buf[0..8].copy_from_slice(&seq.to_be_bytes());
            buf[8..16].copy_from_slice(&now_ns().to_be_bytes());
            sock.send(&buf)?;
        }
        std::thread::sleep(cfg.linger);
        Ok::<_, io::Error>(())
    })();
    // On every path, error or not: the receiver and the responder end before this returns.
    done.store(true, Ordering::Relaxed);
    let joined = receiver.join();
    stop.store(true, Ordering::Relaxed);
    let _ = responder.join();
    sent?;
    joined.map_err(|_| io::Error::other("receiver panicked"))
}
