//! The one AF_PACKET port type: a raw socket bound to one interface, moving frames in
//! batches (`recvmmsg`/`sendmmsg`, up to [`BATCH`] per call, no allocation). Used by the
//! link relay (`relay.rs`) and by the OpenFlow switch daemon.
//!
//! With [`PortOptions::vnet_hdr`] (the default) every frame read or written starts with a
//! 10-byte `virtio_net_hdr` ([`VnetHdr`]), so that what the kernel's offloads produced
//! crosses unchanged: a TSO/GSO super-frame (`gso_type != NONE`, up to 64 KB, segmented by
//! whoever finally transmits it) and a CHECKSUM_PARTIAL frame (`VIRTIO_NET_HDR_F_NEEDS_CSUM`:
//! the L4 checksum field holds only the pseudo-header sum, to be completed over
//! `csum_start..` and stored at `csum_start + csum_offset`). Frames from a host's veth
//! carry these whenever its offloads are on.
//!
//! What a user that rewrites headers (the switch) does with such frames:
//! - forwarding without touching L3/L4 (output, VLAN push/pop, MAC rewrites): write the
//!   buffer back out with its header unchanged — valid for super-frames and partial
//!   checksums alike; a VLAN push/pop moves the L3/L4 headers, so call
//!   [`VnetHdr::shift`] with the inserted (+4) or removed (−4) byte count;
//! - rewriting L3/L4 fields of a plain-sized frame: call [`make_plain`] first — it completes
//!   a partial checksum in software and clears the flag, after which the frame is an
//!   ordinary wire frame whose checksums `openflow::packet` keeps right incrementally;
//!   the same when the frame leaves without a header (PACKET_IN to a controller);
//! - rewriting L3/L4 fields of a super-frame (which cannot be completed: it is not one
//!   packet): keep the header and tell `openflow::packet` the checksum is partial
//!   (`Offsets::l4_csum_partial = true`, see [`VnetHdr::needs_csum`]); it then keeps the
//!   pseudo-header sum consistent for the segmentation that follows ([`make_plain`]
//!   returns `false` for a super-frame: it is not one packet).
//!
//! `PACKET_IGNORE_OUTGOING` (default on) keeps a socket from reading back the frames
//! written to its interface by any socket (the relay's other direction, the switch's own
//! output).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::openflow::packet::complete_partial_checksum;

/// Length of the `virtio_net_hdr` that `PACKET_VNET_HDR` puts before every frame.
pub const VNET_HDR_LEN: usize = 10;
/// Frames moved per `recvmmsg` / `sendmmsg` call.
pub const BATCH: usize = 32;
/// A receive buffer's useful capacity: a whole 64 KB super-frame plus its header.
pub const BUF_LEN: usize = VNET_HDR_LEN + 65_536 + 64;

const SOL_PACKET: libc::c_int = 263;
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// `virtio_net_hdr` flags and GSO types (include/uapi/linux/virtio_net.h).
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
pub const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;
pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;

/// The `virtio_net_hdr` in front of each frame (fields little-endian on the wire, as
/// the kernel writes them on little-endian hosts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHdr {
    /// The header of an ordinary frame (complete checksums, not a super-frame).
    pub const PLAIN: VnetHdr = VnetHdr {
        flags: 0,
        gso_type: VIRTIO_NET_HDR_GSO_NONE,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    /// Reads the header at the start of `buf` (`None`: shorter than a header).
    pub fn parse(buf: &[u8]) -> Option<VnetHdr> {
        let b = buf.get(..VNET_HDR_LEN)?;
        let le = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: le(2),
            gso_size: le(4),
            csum_start: le(6),
            csum_offset: le(8),
        })
    }

    /// Writes the header into the first [`VNET_HDR_LEN`] bytes of `out`.
    pub fn write(&self, out: &mut [u8]) {
        out[0] = self.flags;
        out[1] = self.gso_type;
        out[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        out[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        out[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        out[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
    }

    /// The L4 checksum is partial (CHECKSUM_PARTIAL): see the module docs.
    pub fn needs_csum(&self) -> bool {
        self.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0
    }

    /// A TSO/GSO super-frame (more than one wire packet).
    pub fn is_gso(&self) -> bool {
        self.gso_type != VIRTIO_NET_HDR_GSO_NONE
    }

    /// Accounts for `delta` bytes inserted (> 0) or removed (< 0) before the L3 header
    /// (a VLAN tag or MPLS label pushed or popped): the offsets that point past it move.
    pub fn shift(&mut self, delta: i32) {
        let mv = |v: u16| (i32::from(v) + delta).clamp(0, i32::from(u16::MAX)) as u16;
        if self.needs_csum() {
            self.csum_start = mv(self.csum_start);
        }
        if self.hdr_len != 0 {
            self.hdr_len = mv(self.hdr_len);
        }
    }

    /// How many wire packets the frame of `frame_len` bytes (without this header) stands
    /// for, and the bytes they occupy on the wire.
    pub fn wire_size(&self, frame_len: usize) -> (u32, u64) {
        let payload = frame_len as u64;
        if !self.is_gso() || self.gso_size == 0 {
            return (1, payload);
        }
        let hdr_len = u64::from(self.hdr_len).min(payload);
        let segs = (payload - hdr_len)
            .div_ceil(u64::from(self.gso_size))
            .max(1);
        (segs as u32, payload + (segs - 1) * hdr_len)
    }
}

/// Makes the frame in `buf` (a `virtio_net_hdr` then the frame) an ordinary one: a partial
/// checksum is completed in software and the flag cleared. Returns `false` (buffer
/// unchanged) for a super-frame, which only segmentation can make plain, and for a
/// header whose checksum offsets lie outside the frame.
pub fn make_plain(buf: &mut [u8]) -> bool {
    let Some(mut h) = VnetHdr::parse(buf) else {
        return false;
    };
    if h.is_gso() {
        return false;
    }
    if h.needs_csum() {
        let frame = &mut buf[VNET_HDR_LEN..];
        if !complete_partial_checksum(frame, usize::from(h.csum_start), usize::from(h.csum_offset))
        {
            return false;
        }
        h.flags &= !VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.csum_start = 0;
        h.csum_offset = 0;
        h.write(buf);
    }
    true
}

/// Socket options of a [`PacketPort`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortOptions {
    /// Every frame carries a `virtio_net_hdr` (`PACKET_VNET_HDR`).
    pub vnet_hdr: bool,
    /// Do not read back frames sent on the interface (`PACKET_IGNORE_OUTGOING`).
    pub ignore_outgoing: bool,
    /// `SO_RCVBUFFORCE` / `SO_SNDBUFFORCE` (bytes; best effort).
    pub rcvbuf: usize,
    pub sndbuf: usize,
}

impl Default for PortOptions {
    /// What the relay uses: headers on, own output ignored, room for 10 Gbit/s bursts.
    fn default() -> Self {
        PortOptions {
            vnet_hdr: true,
            ignore_outgoing: true,
            rcvbuf: 64 << 20,
            sndbuf: 16 << 20,
        }
    }
}

/// An AF_PACKET socket bound to one interface (of the namespace it was opened in).
#[derive(Debug)]
pub struct PacketPort {
    fd: OwnedFd,
    opts: PortOptions,
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

impl PacketPort {
    /// Opens a socket bound to `ifindex` in the calling thread's namespace.
    pub fn open(ifindex: u32, opts: &PortOptions) -> io::Result<PacketPort> {
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
        if opts.vnet_hdr {
            setsockopt(fd.as_fd(), SOL_PACKET, PACKET_VNET_HDR, 1)?;
        }
        if opts.ignore_outgoing {
            setsockopt(fd.as_fd(), SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)?;
        }
        // The kernel's receive time of each frame (CLOCK_REALTIME), so that a relay woken
        // late still schedules a frame from when it arrived ([`Self::recv_batch_stamped`]).
        setsockopt(fd.as_fd(), libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)?;
        // FORCE works for root regardless of rmem_max.
        let size = |b: usize| b.min(i32::MAX as usize) as libc::c_int;
        let _ = setsockopt(
            fd.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            size(opts.rcvbuf),
        );
        let _ = setsockopt(
            fd.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            size(opts.sndbuf),
        );
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
        Ok(PacketPort { fd, opts: *opts })
    }

    /// Makes the socket non-blocking (for an async reactor, e.g. tokio's `AsyncFd`);
    /// [`recv_batch`](Self::recv_batch) never blocks either way.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Whether every frame starts with a [`VnetHdr`].
    pub fn has_vnet_hdr(&self) -> bool {
        self.opts.vnet_hdr
    }

    /// Reads up to `bufs.len()` (at most [`BATCH`]) frames without blocking, each into a
    /// buffer's capacity (reserved up to [`BUF_LEN`] first; the contents are replaced and
    /// the length set). Returns how many buffers were filled (0: nothing to read, or an
    /// error). No allocation once the buffers have their capacity.
    pub fn recv_batch(&self, bufs: &mut [Vec<u8>]) -> usize {
        recv_frames(self.fd.as_raw_fd(), bufs, None)
    }

    /// [`Self::recv_batch`], also giving each frame's kernel receive time in `stamps`
    /// (nanoseconds of CLOCK_REALTIME; 0 when the kernel gave none).
    pub fn recv_batch_stamped(&self, bufs: &mut [Vec<u8>], stamps: &mut [u64; BATCH]) -> usize {
        recv_frames(self.fd.as_raw_fd(), bufs, Some(stamps))
    }

    /// Makes the socket take no frames in at all (a classic BPF filter `ret #0`): for a
    /// port that only sends (one direction of a link relayed on this machine only, the
    /// other passed by the kernel), so that frames arriving there are never queued to it.
    pub fn drop_all_input(&self) -> io::Result<()> {
        // BPF_RET | BPF_K with k = 0: accept zero bytes of every frame.
        let mut prog = [libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0,
        }];
        let fprog = libc::sock_fprog {
            len: 1,
            filter: prog.as_mut_ptr(),
        };
        // SAFETY: fprog points at one valid instruction for the duration of the call (the
        // kernel copies it).
        let r = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&fprog as *const libc::sock_fprog).cast(),
                std::mem::size_of::<libc::sock_fprog>() as u32,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Sends `frames` (each with its header when the port has them), [`BATCH`] per call.
    /// When the kernel refuses (ENOBUFS: the receiver's backlog is full) it yields and
    /// retries; a frame refused 8 times in a row is dropped. Returns how many were.
    pub fn send_batch<'a>(&self, frames: impl IntoIterator<Item = &'a [u8]>) -> u64 {
        send_frames(self.fd.as_raw_fd(), frames)
    }
}

impl AsFd for PacketPort {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Room for one `SCM_TIMESTAMPNS` control message (a `timespec`), 8-byte aligned.
const CMSG_SPACE: usize = 64;

fn recv_frames(fd: RawFd, bufs: &mut [Vec<u8>], stamps: Option<&mut [u64; BATCH]>) -> usize {
    let n = bufs.len().min(BATCH);
    let mut control = [[0u64; CMSG_SPACE / 8]; BATCH];
    // SAFETY: iovec and mmsghdr are plain data; zeroed entries are valid "empty" ones.
    let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    // The kernel writes into each buffer's spare capacity; no zero-filling of 64 KB per
    // frame (that alone cost a third of the relay's throughput).
    for (i, b) in bufs[..n].iter_mut().enumerate() {
        b.clear();
        b.reserve(BUF_LEN);
        iov[i] = libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.capacity(),
        };
        msgs[i].msg_hdr.msg_iov = &mut iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        if stamps.is_some() {
            msgs[i].msg_hdr.msg_control = control[i].as_mut_ptr().cast();
            msgs[i].msg_hdr.msg_controllen = CMSG_SPACE as _;
        }
    }
    if n == 0 {
        return 0;
    }
    // SAFETY: msgs/iov/bufs stay alive and unmoved for the call; n ≤ BATCH entries.
    let got = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            n as u32,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    let got = got.max(0) as usize;
    for (m, b) in msgs[..got].iter().zip(bufs.iter_mut()) {
        let len = (m.msg_len as usize).min(b.capacity());
        // SAFETY: recvmmsg initialized the first `msg_len` bytes of the spare capacity.
        unsafe { b.set_len(len) };
    }
    if let Some(stamps) = stamps {
        for (m, s) in msgs[..got].iter().zip(stamps.iter_mut()) {
            *s = timestamp_of(&m.msg_hdr);
        }
    }
    got
}

/// The `SCM_TIMESTAMPNS` of a received message, in ns (0: none).
pub fn timestamp_of(h: &libc::msghdr) -> u64 {
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, within
    // `msg_controllen`; the data of an SCM_TIMESTAMPNS message is one timespec.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                return (ts.tv_sec as u64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(ts.tv_nsec as u64);
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    0
}

fn send_frames<'a>(fd: RawFd, frames: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut frames = frames.into_iter().peekable();
    let mut dropped = 0;
    while frames.peek().is_some() {
        // SAFETY: as in recv_frames.
        let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let mut n = 0;
        for f in frames.by_ref().take(BATCH) {
            iov[n] = libc::iovec {
                iov_base: f.as_ptr() as *mut libc::c_void,
                iov_len: f.len(),
            };
            msgs[n].msg_hdr.msg_iov = &mut iov[n];
            msgs[n].msg_hdr.msg_iovlen = 1;
            n += 1;
        }
        let (mut sent, mut refused) = (0, 0);
        while sent < n {
            // SAFETY: msgs/iov and the frames they point at stay alive for the call.
            let r = unsafe { libc::sendmmsg(fd, msgs[sent..n].as_mut_ptr(), (n - sent) as u32, 0) };
            if r > 0 {
                sent += r as usize;
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
        let f = [0u8; 64];
        assert_eq!(send_frames(-1, [&f[..]; 3]), 3);
        assert_eq!(
            send_frames(-1, std::iter::repeat_n(&f[..], BATCH + 5)),
            BATCH as u64 + 5
        );
        assert_eq!(send_frames(-1, []), 0);
        let mut bufs = vec![Vec::new(); 4];
        assert_eq!(recv_frames(-1, &mut bufs, None), 0);
        assert_eq!(recv_frames(-1, &mut bufs, Some(&mut [0; BATCH])), 0);
    }

    #[test]
    fn wire_size_of_plain_and_gso_frames() {
        assert_eq!(VnetHdr::PLAIN.wire_size(1514), (1, 1514));
        // TCPv4 GSO: 66 bytes of headers, 1448-byte segments, 10 segments of payload.
        let mut f = vec![0u8; VNET_HDR_LEN + 66 + 14_480];
        f[1] = 1; // VIRTIO_NET_HDR_GSO_TCPV4
        f[2..4].copy_from_slice(&66u16.to_le_bytes());
        f[4..6].copy_from_slice(&1448u16.to_le_bytes());
        let h = VnetHdr::parse(&f).unwrap();
        assert!(h.is_gso() && !h.needs_csum());
        assert_eq!(h.wire_size(f.len() - VNET_HDR_LEN), (10, 10 * 1514));
        let mut back = [0u8; VNET_HDR_LEN];
        h.write(&mut back);
        assert_eq!(back, f[..VNET_HDR_LEN]);
        assert!(!make_plain(&mut f), "a super-frame cannot be made plain");
        assert_eq!(VnetHdr::parse(&f), Some(h));
    }

    #[test]
    fn make_plain_completes_a_partial_checksum() {
        use crate::openflow::packet::{fold, sum16};
        // UDP/IPv4 10.0.0.1:1000 → 10.0.0.2:2000, payload "abc", checksum partial.
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
        frame.extend_from_slice(&[0x45, 0, 0, 31, 0, 0, 0x40, 0, 64, 17, 0, 0]);
        frame.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        frame.extend_from_slice(&[0x03, 0xe8, 0x07, 0xd0, 0, 11, 0, 0, b'a', b'b', b'c']);
        let pseudo = fold(sum16(17 + 11, &frame[26..34]));
        frame[40..42].copy_from_slice(&pseudo.to_be_bytes());
        let hdr = VnetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 6,
            ..VnetHdr::PLAIN
        };
        let mut buf = vec![0u8; VNET_HDR_LEN];
        hdr.write(&mut buf);
        buf.extend_from_slice(&frame);
        assert!(make_plain(&mut buf));
        assert_eq!(VnetHdr::parse(&buf), Some(VnetHdr::PLAIN));
        let f = &buf[VNET_HDR_LEN..];
        // Verify: pseudo-header + UDP segment sums to 0xffff.
        let s = sum16(17 + 11, &f[26..34]);
        assert_eq!(fold(sum16(s, &f[34..])), 0xffff);
        // Offsets outside the frame: refused, unchanged.
        let mut bad = vec![0u8; VNET_HDR_LEN];
        VnetHdr {
            csum_start: 200,
            ..hdr
        }
        .write(&mut bad);
        bad.extend_from_slice(&frame);
        let before = bad.clone();
        assert!(!make_plain(&mut bad));
        assert_eq!(bad, before);
        assert!(!make_plain(&mut [0u8; 4]));
    }

    #[test]
    fn frames_cross_between_two_ports_on_a_private_loopback() {
        if crate::skip_without_root() {
            return;
        }
        // A thread of its own in a new network namespace (gone with the thread): nothing
        // else sees this loopback.
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let up = std::process::Command::new("ip")
                .args(["link", "set", "lo", "up"])
                .status()
                .unwrap();
            assert!(up.success());
            let opts = PortOptions::default();
            let (a, b) = (
                PacketPort::open(1, &opts).unwrap(),
                PacketPort::open(1, &opts).unwrap(),
            );
            assert!(a.has_vnet_hdr());
            b.set_nonblocking(true).unwrap();
            let mut out = vec![0u8; VNET_HDR_LEN];
            VnetHdr::PLAIN.write(&mut out);
            out.extend_from_slice(&[0xff; 6]);
            out.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x88, 0xb5]); // local experimental type
            out.extend((0..50u8).map(|i| i.wrapping_mul(7)));
            assert_eq!(a.send_batch([&out[..], &out[..]]), 0);
            let mut bufs = vec![Vec::new(); 4];
            let mut got = Vec::new();
            while got.len() < 2 {
                let mut fds = [nix::poll::PollFd::new(
                    b.as_fd(),
                    nix::poll::PollFlags::POLLIN,
                )];
                let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(10_000u16)).unwrap();
                assert!(n > 0, "no frame within 10 s");
                let k = b.recv_batch(&mut bufs);
                got.extend(bufs[..k].iter().cloned());
            }
            for g in got {
                let h = VnetHdr::parse(&g).unwrap();
                assert!(!h.is_gso() && !h.needs_csum());
                assert_eq!(g[VNET_HDR_LEN..], out[VNET_HDR_LEN..]);
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn shifting_moves_offsets_only_when_set() {
        let mut h = VnetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 16,
            hdr_len: 66,
            gso_type: 1,
            gso_size: 1448,
        };
        h.shift(4);
        assert_eq!((h.csum_start, h.hdr_len, h.csum_offset), (38, 70, 16));
        h.shift(-4);
        assert_eq!((h.csum_start, h.hdr_len), (34, 66));
        let mut p = VnetHdr::PLAIN;
        p.shift(4);
        assert_eq!(p, VnetHdr::PLAIN);
    }
}
