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
use std::os::fd::AsFd;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use nix::poll::{PollFd, PollFlags};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::time::TimeSpec;

use super::port::{BATCH, BUF_LEN, PacketPort, VNET_HDR_LEN, VnetHdr};
use super::{Counters, Packet, Pipeline, Trace};
use crate::time::Instant;
use crate::topology::Impairment;

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
    /// `None`: that direction is not relayed here (see [`Relay::start_dirs`]).
    dirs: [Option<Direction>; 2],
}

impl Relay {
    /// Starts relaying between `a` and `b` (ports opened with the default
    /// [`PortOptions`](super::port::PortOptions): virtio headers, own output ignored).
    pub fn start(
        name: &str,
        a: PacketPort,
        b: PacketPort,
        mtu: u32,
        a_to_b: DirectionConfig,
        b_to_a: DirectionConfig,
    ) -> io::Result<Relay> {
        Relay::start_dirs(name, a, b, mtu, [Some(a_to_b), Some(b_to_a)])
    }

    /// [`Relay::start`] with either direction left out (`None`): nothing reads the port
    /// that direction would read from (its socket takes no input at all), so the frames
    /// arriving there go where the kernel sends them — in a shard of a lab split across
    /// machines, the direction the other shard impairs is passed by a tc redirect.
    pub fn start_dirs(
        name: &str,
        a: PacketPort,
        b: PacketPort,
        mtu: u32,
        [a_to_b, b_to_a]: [Option<DirectionConfig>; 2],
    ) -> io::Result<Relay> {
        if a_to_b.is_none() {
            a.drop_all_input()?;
        }
        if b_to_a.is_none() {
            b.drop_all_input()?;
        }
        let a = Arc::new(a);
        let b = Arc::new(b);
        let d0 = a_to_b
            .map(|c| spawn(format!("{name}>"), a.clone(), b.clone(), mtu, c))
            .transpose()?;
        let d1 = b_to_a
            .map(|c| spawn(format!("{name}<"), b, a, mtu, c))
            .transpose()?;
        Ok(Relay { dirs: [d0, d1] })
    }

    /// Changes one direction's impairments (0: a→b, 1: b→a) without losing queued frames.
    pub fn reconfigure(&self, dir: usize, imp: Impairment, trace: Option<Trace>) {
        if let Some(d) = &self.dirs[dir] {
            let _ = d.ctl.send(Ctl::Reconfigure(Box::new((imp, trace))));
            let _ = d.wake.write(1);
        }
    }

    /// Counters of direction `dir` (refreshed by the relay thread at least every 50 ms);
    /// zero for a direction not relayed here.
    pub fn counters(&self, dir: usize) -> Counters {
        self.dirs[dir]
            .as_ref()
            .and_then(|d| d.counters.lock().ok().map(|c| c.clone()))
            .unwrap_or_default()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for d in self.dirs.iter().flatten() {
            let _ = d.ctl.send(Ctl::Stop);
            let _ = d.wake.write(1);
        }
        for d in self.dirs.iter_mut().flatten() {
            if let Some(t) = d.thread.take() {
                let _ = t.join();
            }
        }
    }
}

fn spawn(
    name: String,
    rx: Arc<PacketPort>,
    tx: Arc<PacketPort>,
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
fn wire_size(buf: &[u8]) -> (u32, u64) {
    VnetHdr::parse(buf).map_or((1, 0), |h| h.wire_size(buf.len() - VNET_HDR_LEN))
}

/// The relay wakes this long before a departure and spins the rest: a timer wakeup on a
/// virtual machine is late by tens of microseconds, a spin is not.
const SPIN: std::time::Duration = std::time::Duration::from_micros(100);
/// While frames are in flight the relay also wakes at least this often: on this machine
/// kind it lowered the median one-way delay of a 10 ms link by about 0.1 ms (a long timer
/// sleep lets the virtual CPU go idle, and waking it is slow).
const TICK: std::time::Duration = std::time::Duration::from_micros(200);

/// One direction: frames read from `rx` go through `pipe` and out of `tx`, in batches.
/// Frame buffers are recycled through a pool, so the steady state allocates nothing.
fn run(
    rx: Arc<PacketPort>,
    tx: Arc<PacketPort>,
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
            dropped_tx += tx.send_batch(out.iter().map(|p| p.data.as_slice()));
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
            recv_batch(&rx, &mut pool, &mut pipe);
        }
    }
}

/// Reads up to BATCH frames without blocking and hands them to the pipeline.
fn recv_batch(port: &PacketPort, pool: &mut Vec<Vec<u8>>, pipe: &mut Pipeline) {
    while pool.len() < BATCH {
        pool.push(Vec::with_capacity(BUF_LEN));
    }
    let at = pool.len() - BATCH;
    let mut stamps = [0u64; BATCH];
    let n = port.recv_batch_stamped(&mut pool[at..], &mut stamps);
    let (now, real) = clocks(Instant::monotonic);
    for (data, stamp) in pool.drain(at..at + n).zip(stamps) {
        let (segments, wire_bytes) = wire_size(&data);
        pipe.handle(
            arrival(now, real, stamp),
            Packet {
                data,
                segments,
                wire_bytes,
            },
        );
    }
}

/// CLOCK_REALTIME in ns (the clock of the kernel's receive timestamps).
pub(crate) fn realtime_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .map(|t| (t.tv_sec() as u64).saturating_mul(1_000_000_000) + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// The monotonic clock (read by `mono`) and the realtime clock read just before it, to
/// date kernel receive timestamps (realtime) on the monotonic clock. The realtime read
/// comes first so that a preemption between the two reads makes a stamp look younger,
/// never older: a frame is then held a little longer than its delay, never released
/// early (a 58 µs gap between the reads once released a 30 ms-delayed frame at 29.94 ms).
/// A pair whose reads lie over 20 µs apart (the thread was preempted) is read again, up
/// to 4 times.
pub(crate) fn clocks<T>(mono: impl Fn() -> T) -> (T, u64) {
    let mut tries = 0;
    loop {
        let real = realtime_ns();
        let m = mono();
        tries += 1;
        if tries == 4 || realtime_ns().saturating_sub(real) <= 20_000 {
            return (m, real);
        }
    }
}

/// When a frame arrived, on the monotonic clock: `now` less its age by the kernel's
/// receive timestamp (`stamp`, realtime ns, read against `real`, the realtime clock
/// read just before `now`, see [`clocks`]): a relay thread woken late (a busy CPU) still delays each frame from its
/// arrival. No stamp, or one from the future or over a second old (the realtime clock
/// was set meanwhile): `now`. The pipeline never lets time run backwards.
fn arrival(now: Instant, real: u64, stamp: u64) -> Instant {
    match stamp_age(real, stamp) {
        Some(age) => now - std::time::Duration::from_nanos(age),
        None => now,
    }
}

/// How long ago (ns) the kernel stamped a packet `stamp` (realtime ns), read against
/// `real`, the realtime clock now; `None` for no stamp, or one from the future or over a
/// second old (the realtime clock was set meanwhile). Shared by the relay and the ping
/// probe, which both date packets by their kernel receive time.
pub(crate) fn stamp_age(real: u64, stamp: u64) -> Option<u64> {
    real.checked_sub(stamp)
        .filter(|age| stamp != 0 && *age < 1_000_000_000)
}

/// Errors of `ppoll` that a retry can outlive (a signal, a moment without memory); any
/// other (a bad descriptor, a bad argument) would repeat forever.
fn poll_error_is_transient(e: nix::errno::Errno) -> bool {
    use nix::errno::Errno;
    matches!(e, Errno::EINTR | Errno::EAGAIN | Errno::ENOMEM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_is_the_kernels_receive_time_when_it_is_sane() {
        let now = Instant::monotonic();
        let real = 5_000_000_000;
        let us = std::time::Duration::from_micros;
        assert_eq!(arrival(now, real, real - 300_000), now - us(300));
        assert_eq!(arrival(now, real, real), now);
        assert_eq!(arrival(now, real, 0), now, "no stamp");
        assert_eq!(arrival(now, real, real + 1), now, "from the future");
        assert_eq!(
            arrival(now, real, real - 2_000_000_000),
            now,
            "clock was set"
        );
    }

    #[test]
    fn clocks_read_realtime_before_the_monotonic_clock_and_retry_a_loose_pair() {
        // `mono` here reads the realtime clock too: the pair's realtime read came first.
        for _ in 0..1000 {
            let (during, before) = clocks(realtime_ns);
            assert!(before <= during, "{before} > {during}");
        }
        // A read preempted for 1 ms each time is tried 4 times, then taken as it is.
        let calls = std::cell::Cell::new(0);
        let (m, _) = clocks(|| {
            calls.set(calls.get() + 1);
            std::thread::sleep(std::time::Duration::from_millis(1));
            calls.get()
        });
        assert_eq!((m, calls.get()), (4, 4));
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
        assert_eq!(wire_size(&[0u8; 4]), (1, 0));
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
