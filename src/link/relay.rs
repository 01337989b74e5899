//! The userspace engine's I/O driver: moves frames between the two fabric-side ends of a
//! relayed link through one [`Pipeline`] per direction.
//!
//! ```text
//!   node A                 fabric namespace (hidden)                     node B
//!   eth0 ══ veth ══ lNa ──AF_PACKET──▶ [a→b Pipeline] ──AF_PACKET──▶ lNb ══ veth ══ eth0
//!                   lNa ◀──AF_PACKET── [b→a Pipeline] ◀──AF_PACKET── lNb
//!                                   (one thread per direction)
//! ```
//! Sockets are opened inside the fabric namespace (on a thread made for it) and keep that
//! namespace; the relay threads themselves never switch namespace. Each socket is bound to
//! one fabric end and carries a `virtio_net_hdr` on every frame (`PACKET_VNET_HDR`), so
//! super-frames and partial checksums cross unchanged when offloads are on (fast
//! pass-through), while links with per-packet impairments have offloads turned off on the
//! nodes' ends so that every frame is one wire packet. `PACKET_IGNORE_OUTGOING` keeps a
//! socket from reading back the frames the other direction wrote to it.
//!
//! Timing: each direction's thread sleeps in `ppoll` until its socket is readable, a
//! control message arrives (eventfd) or 100 µs before the pipeline's next departure, with a
//! timer slack of 1 ns, then spins to the departure: a timer wakeup on a virtual machine is
//! late by tens of microseconds, a spin is not. Frames move in batches of up to 32 per
//! `recvmmsg`/`sendmmsg`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use nix::poll::{PollFd, PollFlags};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::time::TimeSpec;

use super::{Counters, Packet, Pipeline, Trace};
use crate::time::Instant;
use crate::topology::Impairment;

/// Length of the `virtio_net_hdr` that `PACKET_VNET_HDR` puts before every frame.
pub const VNET_HDR_LEN: usize = 10;
const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
const SOL_PACKET: libc::c_int = 263;
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// One direction's settings.
#[derive(Debug, Clone)]
pub struct DirectionConfig {
    pub impairment: Impairment,
    pub trace: Option<Trace>,
    pub seed: u64,
}

enum Ctl {
    Reconfigure(Box<(Impairment, Option<Trace>)>),
    Stop,
}

struct Direction {
    ctl: Sender<Ctl>,
    wake: Arc<EventFd>,
    counters: Arc<Mutex<Counters>>,
    thread: Option<JoinHandle<()>>,
}

/// A running relay: a thread per direction, stopped when dropped.
pub struct Relay {
    dirs: [Direction; 2],
}

/// Opens an AF_PACKET socket bound to `ifindex` in the calling thread's namespace.
pub fn open_socket(ifindex: u32) -> io::Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(proto),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    setsockopt(fd.as_fd(), SOL_PACKET, PACKET_VNET_HDR, 1)?;
    setsockopt(fd.as_fd(), SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)?;
    // Room for bursts at 10 Gbit/s; FORCE works for root regardless of rmem_max.
    let _ = setsockopt(fd.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 64 << 20);
    let _ = setsockopt(fd.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, 16 << 20);
    // SAFETY: sockaddr_ll is plain data; zeroed then filled.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: sll is a valid sockaddr_ll of the size we pass.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

fn setsockopt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    opt: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a valid int of the stated size.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl Relay {
    /// Starts relaying between `a` and `b` (sockets from [`open_socket`]).
    pub fn start(
        name: &str,
        a: OwnedFd,
        b: OwnedFd,
        mtu: u32,
        a_to_b: DirectionConfig,
        b_to_a: DirectionConfig,
    ) -> io::Result<Relay> {
        let a = Arc::new(a);
        let b = Arc::new(b);
        let d0 = spawn(format!("{name}>"), a.clone(), b.clone(), mtu, a_to_b)?;
        let d1 = spawn(format!("{name}<"), b, a, mtu, b_to_a)?;
        Ok(Relay { dirs: [d0, d1] })
    }

    /// Changes one direction's impairments (0: a→b, 1: b→a) without losing queued frames.
    pub fn reconfigure(&self, dir: usize, imp: Impairment, trace: Option<Trace>) {
        let d = &self.dirs[dir];
        let _ = d.ctl.send(Ctl::Reconfigure(Box::new((imp, trace))));
        let _ = d.wake.write(1);
    }

    /// Counters of direction `dir` (refreshed by the relay thread at least every 50 ms).
    pub fn counters(&self, dir: usize) -> Counters {
        self.dirs[dir]
            .counters
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for d in &self.dirs {
            let _ = d.ctl.send(Ctl::Stop);
            let _ = d.wake.write(1);
        }
        for d in &mut self.dirs {
            if let Some(t) = d.thread.take() {
                let _ = t.join();
            }
        }
    }
}

fn spawn(
    name: String,
    rx: Arc<OwnedFd>,
    tx: Arc<OwnedFd>,
    mtu: u32,
    cfg: DirectionConfig,
) -> io::Result<Direction> {
    let (ctl_tx, ctl_rx) = channel();
    let wake = Arc::new(EventFd::from_value_and_flags(
        0,
        EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK,
    )?);
    let counters = Arc::new(Mutex::new(Counters::default()));
    let pipeline = Pipeline::new(&cfg.impairment, mtu, cfg.seed, cfg.trace);
    let (w, c) = (wake.clone(), counters.clone());
    let thread = std::thread::Builder::new()
        .name(name)
        .spawn(move || run(rx, tx, pipeline, ctl_rx, w, c))?;
    Ok(Direction {
        ctl: ctl_tx,
        wake,
        counters,
        thread: Some(thread),
    })
}

/// How many frames a super-frame stands for, and the bytes it occupies on the wire.
fn wire_size(frame: &[u8]) -> (u32, u64) {
    let payload = frame.len().saturating_sub(VNET_HDR_LEN) as u64;
    if frame.len() < VNET_HDR_LEN || frame[1] == VIRTIO_NET_HDR_GSO_NONE {
        return (1, payload);
    }
    let hdr_len = u64::from(u16::from_le_bytes([frame[2], frame[3]])).min(payload);
    let gso = u64::from(u16::from_le_bytes([frame[4], frame[5]]));
    if gso == 0 {
        return (1, payload);
    }
    let segs = (payload - hdr_len).div_ceil(gso).max(1);
    (segs as u32, payload + (segs - 1) * hdr_len)
}

/// The relay wakes this long before a departure and spins the rest: a timer wakeup on a
/// virtual machine is late by tens of microseconds, a spin is not.
const SPIN: std::time::Duration = std::time::Duration::from_micros(100);
/// While frames are in flight the relay also wakes at least this often: on this machine
/// kind it lowered the median one-way delay of a 10 ms link by about 0.1 ms (a long timer
/// sleep lets the virtual CPU go idle, and waking it is slow).
const TICK: std::time::Duration = std::time::Duration::from_micros(200);
/// Frame buffers: a whole 64 KB super-frame plus its virtio header.
const BUF_LEN: usize = VNET_HDR_LEN + 65_536 + 64;
/// Frames moved per recvmmsg / sendmmsg call.
const BATCH: usize = 32;

/// One direction: frames read from `rx` go through `pipe` and out of `tx`, in batches.
/// Frame buffers are recycled through a pool, so the steady state allocates nothing.
fn run(
    rx: Arc<OwnedFd>,
    tx: Arc<OwnedFd>,
    mut pipe: Pipeline,
    ctl: Receiver<Ctl>,
    wake: Arc<EventFd>,
    counters: Arc<Mutex<Counters>>,
) {
    // SAFETY: prctl with an integer argument.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
    let mut pool: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0u8; BUF_LEN]).collect();
    let mut out: Vec<Packet> = Vec::with_capacity(BATCH);
    let mut published = Instant::monotonic();
    // Frames the kernel refused (counted here: the pipeline counted them as passed).
    let mut dropped_tx = 0u64;
    let publish = |pipe: &Pipeline, dropped_tx: u64, error: Option<String>| {
        if let Ok(mut c) = counters.lock() {
            *c = pipe.counters().clone();
            c.dropped_tx = dropped_tx;
            c.relay_error = error;
        }
    };
    loop {
        // Everything due goes out, in batches.
        loop {
            let now = Instant::monotonic();
            while out.len() < BATCH {
                match pipe.poll_transmit(now) {
                    Some(p) => out.push(p),
                    None => break,
                }
            }
            if out.is_empty() {
                break;
            }
            dropped_tx += send_batch(tx.as_raw_fd(), &out);
            pool.extend(out.drain(..).map(|p| p.data));
        }
        let now = Instant::monotonic();
        if now.saturating_duration_since(published).as_millis() >= 50 {
            publish(&pipe, dropped_tx, None);
            published = now;
        }
        let wait = pipe
            .poll_timeout()
            .map(|t| t.saturating_duration_since(now));
        let readable = if wait.is_some_and(|w| w <= SPIN) {
            true // spinning: look at the socket without blocking
        } else {
            // Sleep until the socket is readable, a control message arrives, SPIN before
            // the next departure, or 50 ms pass (to publish counters).
            let cap = std::time::Duration::from_millis(50);
            let t = wait.map_or(cap, |w| (w - SPIN).min(TICK));
            let mut fds = [
                PollFd::new(rx.as_fd(), PollFlags::POLLIN),
                PollFd::new(wake.as_fd(), PollFlags::POLLIN),
            ];
            if let Err(e) = nix::poll::ppoll(&mut fds, Some(TimeSpec::from_duration(t)), None) {
                let thread = std::thread::current();
                let name = thread.name().unwrap_or("relay");
                if poll_error_is_transient(e) {
                    if e != nix::errno::Errno::EINTR {
                        tracing::error!("relay {name}: ppoll: {e}; retrying");
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    continue;
                }
                tracing::error!("relay {name}: ppoll: {e}; this direction stops");
                publish(&pipe, dropped_tx, Some(format!("ppoll: {e}")));
                return;
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
            if ready(&fds[1]) {
                let _ = wake.read();
                while let Ok(c) = ctl.try_recv() {
                    match c {
                        Ctl::Reconfigure(c) => {
                            let (imp, trace) = *c;
                            pipe.reconfigure(Instant::monotonic(), &imp, trace);
                        }
                        Ctl::Stop => return,
                    }
                }
            }
            ready(&fds[0])
        };
        if readable {
            recv_batch(rx.as_raw_fd(), &mut pool, &mut pipe);
        }
    }
}

/// Reads up to BATCH frames without blocking and hands them to the pipeline.
fn recv_batch(fd: std::os::fd::RawFd, pool: &mut Vec<Vec<u8>>, pipe: &mut Pipeline) {
    while pool.len() < BATCH {
        pool.push(Vec::with_capacity(BUF_LEN));
    }
    let mut bufs: Vec<Vec<u8>> = pool.drain(pool.len() - BATCH..).collect();
    // The kernel writes into each buffer's spare capacity; no zero-filling of 64 KB per
    // frame (that alone cost a third of the relay's throughput).
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| {
            b.clear();
            b.reserve(BUF_LEN);
            libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.capacity(),
            }
        })
        .collect();
    // SAFETY: mmsghdr is plain data; each points at one iovec above.
    let mut msgs: Vec<libc::mmsghdr> = iov
        .iter_mut()
        .map(|v| {
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect();
    // SAFETY: msgs/iov/bufs stay alive and unmoved for the call.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            BATCH as u32,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    let n = n.max(0) as usize;
    let now = Instant::monotonic();
    for (i, mut buf) in bufs.into_iter().enumerate() {
        if i >= n {
            pool.push(buf);
            continue;
        }
        let len = (msgs[i].msg_len as usize).min(buf.capacity());
        // SAFETY: recvmmsg initialized the first `msg_len` bytes of the spare capacity.
        unsafe { buf.set_len(len) };
        let (segments, wire_bytes) = wire_size(&buf);
        pipe.handle(
            now,
            Packet {
                data: buf,
                segments,
                wire_bytes,
            },
        );
    }
}

/// Errors of `ppoll` that a retry can outlive (a signal, a moment without memory); any
/// other (a bad descriptor, a bad argument) would repeat forever.
fn poll_error_is_transient(e: nix::errno::Errno) -> bool {
    use nix::errno::Errno;
    matches!(e, Errno::EINTR | Errno::EAGAIN | Errno::ENOMEM)
}

/// Sends frames with one sendmmsg (retrying the rest if the kernel took only some). When
/// the receiving side's backlog is full (ENOBUFS) the relay yields and retries: the relay
/// being momentarily slower than the traffic is not part of the emulated link, so it
/// pushes back instead of dropping. A frame refused several times in a row is dropped, and
/// counted: returns how many were.
fn send_batch(fd: std::os::fd::RawFd, out: &[Packet]) -> u64 {
    let mut iov: Vec<libc::iovec> = out
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.data.as_ptr() as *mut libc::c_void,
            iov_len: p.data.len(),
        })
        .collect();
    // SAFETY: as in recv_batch.
    let mut msgs: Vec<libc::mmsghdr> = iov
        .iter_mut()
        .map(|v| {
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect();
    let (mut sent, mut refused, mut dropped) = (0, 0, 0);
    while sent < msgs.len() {
        // SAFETY: msgs/iov/out stay alive for the call.
        let n =
            unsafe { libc::sendmmsg(fd, msgs[sent..].as_mut_ptr(), (msgs.len() - sent) as u32, 0) };
        if n > 0 {
            sent += n as usize;
            refused = 0;
        } else if refused < 8 {
            refused += 1;
            std::thread::yield_now();
        } else {
            sent += 1;
            refused = 0;
            dropped += 1;
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_frames_are_counted() {
        // A descriptor that refuses everything: each frame is dropped after its retries,
        // and counted (it used to vanish).
        let out = vec![Packet::new(vec![0u8; 64]); 3];
        assert_eq!(send_batch(-1, &out), 3);
        assert_eq!(send_batch(-1, &[]), 0);
    }

    #[test]
    fn only_transient_poll_errors_are_retried() {
        use nix::errno::Errno;
        for e in [Errno::EINTR, Errno::EAGAIN, Errno::ENOMEM] {
            assert!(poll_error_is_transient(e), "{e}");
        }
        for e in [Errno::EBADF, Errno::EFAULT, Errno::EINVAL] {
            assert!(!poll_error_is_transient(e), "{e}");
        }
    }

    #[test]
    fn wire_size_of_plain_and_gso_frames() {
        let mut f = vec![0u8; VNET_HDR_LEN + 1514];
        assert_eq!(wire_size(&f), (1, 1514));
        // TCPv4 GSO: 66 bytes of headers, 1448-byte segments, 10 segments of payload.
        f = vec![0u8; VNET_HDR_LEN + 66 + 14_480];
        f[1] = 1; // VIRTIO_NET_HDR_GSO_TCPV4
        f[2..4].copy_from_slice(&66u16.to_le_bytes());
        f[4..6].copy_from_slice(&1448u16.to_le_bytes());
        assert_eq!(wire_size(&f), (10, 10 * 1514));
    }
}
