//! TCP throughput between two nodes, iperf-style: a sink in the receiving node, one or
//! more streams from the sending node for a fixed time, goodput measured where it counts
//! (bytes the receiver's application got), per-interval figures, and the sender's
//! retransmissions from `TCP_INFO`.
//!
//! The congestion control is set explicitly on every stream (default `cubic`): this
//! machine's default is BBR, and results must not depend on a sysctl (KERNEL.md).

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{now_ns, socket_in};

#[derive(Debug, Clone)]
pub struct TcpConfig {
    pub duration: Duration,
    pub streams: usize,
    /// Length of each reported interval.
    pub interval: Duration,
    pub congestion: String,
    /// Bytes per write.
    pub write_size: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            duration: Duration::from_secs(5),
            streams: 1,
            interval: Duration::from_secs(1),
            congestion: "cubic".into(),
            write_size: 128 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interval {
    pub start_s: f64,
    pub end_s: f64,
    pub bytes: u64,
    pub bits_per_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TcpReport {
    pub bytes: u64,
    pub seconds: f64,
    pub bits_per_s: f64,
    pub retransmits: u64,
    pub intervals: Vec<Interval>,
}

fn set_congestion(s: &TcpStream, cc: &str) -> io::Result<()> {
    // SAFETY: passes a valid buffer of the stated length.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            cc.as_ptr().cast(),
            cc.len() as u32,
        )
    };
    if r < 0 {
        return Err(io::Error::new(
            io::Error::last_os_error().kind(),
            format!("congestion control `{cc}`: {}", io::Error::last_os_error()),
        ));
    }
    Ok(())
}

/// `tcpi_total_retrans` of a connected socket.
fn total_retrans(s: &TcpStream) -> u64 {
    // SAFETY: tcp_info is plain data; getsockopt fills at most `len` bytes.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as u32;
        if libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        ) == 0
        {
            u64::from(info.tcpi_total_retrans)
        } else {
            0
        }
    }
}

/// Measures TCP goodput from `src_ns` to `dst` (an address in `dst_ns`).
pub fn throughput(
    src_ns: &str,
    dst_ns: &str,
    dst: IpAddr,
    cfg: &TcpConfig,
) -> io::Result<TcpReport> {
    let listener = socket_in(dst_ns, move || TcpListener::bind(SocketAddr::new(dst, 0)))?;
    let target = SocketAddr::new(dst, listener.local_addr()?.port());
    let received = Arc::new(AtomicU64::new(0));
    let streams = cfg.streams.max(1);

    let sink_count = received.clone();
    // The receiving ends, so that the measurement can close them when its time is up
    // instead of waiting for a stalled connection's FIN.
    let accepted: Arc<std::sync::Mutex<Vec<TcpStream>>> = Arc::default();
    let acc = accepted.clone();
    let sink = std::thread::spawn(move || -> io::Result<()> {
        let mut readers = Vec::new();
        for _ in 0..streams {
            let (mut c, _) = listener.accept()?;
            if let (Ok(clone), Ok(mut list)) = (c.try_clone(), acc.lock()) {
                list.push(clone);
            }
            let n = sink_count.clone();
            readers.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                while let Ok(k) = c.read(&mut buf) {
                    if k == 0 {
                        break;
                    }
                    n.fetch_add(k as u64, Ordering::Relaxed);
                }
            }));
        }
        for r in readers {
            let _ = r.join();
        }
        Ok(())
    });

    let mut conns = Vec::new();
    for _ in 0..streams {
        let c = socket_in(src_ns, move || {
            TcpStream::connect_timeout(&target, Duration::from_secs(5))
        })?;
        set_congestion(&c, &cfg.congestion)?;
        conns.push(c);
    }
    let start = now_ns();
    let end = start + cfg.duration.as_nanos() as u64;
    let writers: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let size = cfg.write_size;
            std::thread::spawn(move || {
                let buf = vec![0x5au8; size];
                c.set_write_timeout(Some(Duration::from_millis(200))).ok();
                while now_ns() < end {
                    match c.write(&buf) {
                        Ok(_) => {}
                        Err(e)
                            if e.kind() == io::ErrorKind::WouldBlock
                                || e.kind() == io::ErrorKind::TimedOut => {}
                        Err(_) => break,
                    }
                }
                let r = total_retrans(&c);
                let _ = c.shutdown(std::net::Shutdown::Both);
                r
            })
        })
        .collect();

    // Sample the receiver's byte count at each interval boundary.
    let mut intervals = Vec::new();
    let step = cfg.interval.as_nanos().max(1) as u64;
    let (mut t0, mut b0) = (start, 0u64);
    while t0 < end {
        let t1 = (t0 + step).min(end);
        super::sleep_until(t1);
        let b1 = received.load(Ordering::Relaxed);
        let secs = (t1 - t0) as f64 / 1e9;
        intervals.push(Interval {
            start_s: (t0 - start) as f64 / 1e9,
            end_s: (t1 - start) as f64 / 1e9,
            bytes: b1 - b0,
            bits_per_s: (b1 - b0) as f64 * 8.0 / secs,
        });
        (t0, b0) = (t1, b1);
    }
    let bytes = received.load(Ordering::Relaxed);
    let seconds = (end - start) as f64 / 1e9;
    let retransmits = writers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
    if let Ok(list) = accepted.lock() {
        for c in list.iter() {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
    let _ = sink.join();
    Ok(TcpReport {
        bytes,
        seconds,
        bits_per_s: bytes as f64 * 8.0 / seconds,
        retransmits,
        intervals,
    })
}
