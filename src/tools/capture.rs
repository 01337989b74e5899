//! Packet capture into a pcap file, written by topolab itself (no tcpdump): an AF_PACKET
//! socket bound to one interface inside a node's namespace, both directions, full frames.
//!
//! The file is classic pcap with nanosecond timestamps (magic `a1b23c4d`), link type
//! Ethernet, which Wireshark and tcpdump read. Frames are what the interface sees: with
//! offloads on, TCP may appear as 64 KB super-frames, exactly as tcpdump would show them.
//! Each frame's timestamp is the kernel's, taken when the frame arrived (`SO_TIMESTAMPNS`),
//! not when this thread got round to reading it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::socket_in;

const SNAPLEN: u32 = 262_144;

/// A running capture; `stop` (or drop) ends it and flushes the file.
pub struct Capture {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

fn pcap_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes()); // nanosecond pcap
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    h
}

/// Asks the kernel to stamp every frame `fd` receives (CLOCK_REALTIME, nanoseconds).
fn enable_timestamps(fd: BorrowedFd<'_>) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: passes a valid int of the stated size.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Receives one frame into `buf`: its length (truncated to `buf`) and the kernel's receive
/// timestamp in ns since the epoch, if the kernel gave one.
fn recv_stamped(
    fd: BorrowedFd<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> io::Result<(usize, Option<u128>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for a few control messages; u64 keeps it aligned for cmsghdr.
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; zeroed then pointed at live buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg, iov, buf and control stay alive and unmoved for the call.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut ts = None;
    // SAFETY: walking the control messages the kernel wrote, with the libc macros, inside
    // msg_controllen; the timespec is read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                ts = Some(t.tv_sec as u128 * 1_000_000_000 + t.tv_nsec as u128);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, ts))
}

fn record_header(ts_ns: u128, len: usize) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&((ts_ns / 1_000_000_000) as u32).to_le_bytes());
    h[4..8].copy_from_slice(&((ts_ns % 1_000_000_000) as u32).to_le_bytes());
    h[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    h[12..16].copy_from_slice(&(len as u32).to_le_bytes());
    h
}

impl Capture {
    /// Starts capturing on `ifname` in namespace `ns` into `path`.
    pub fn start(ns: &str, ifname: &str, path: &Path) -> io::Result<Capture> {
        let name = ifname.to_string();
        let sock = socket_in(ns, move || {
            let ifindex = nix::net::if_::if_nametoindex(name.as_str()).map_err(|e| {
                io::Error::new(
                    io::Error::from(e).kind(),
                    format!("capture on `{name}`: {e}"),
                )
            })?;
            let proto = (libc::ETH_P_ALL as u16).to_be();
            let s = Socket::new(
                Domain::PACKET,
                Type::RAW,
                Some(Protocol::from(i32::from(proto))),
            )?;
            // SAFETY: sockaddr_ll is plain data, zeroed then filled.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = ifindex as i32;
            // SAFETY: the storage holds a valid sockaddr_ll of the stated length.
            let addr = unsafe {
                SockAddr::try_init(|storage, len| {
                    std::ptr::copy_nonoverlapping(
                        (&sll as *const libc::sockaddr_ll).cast::<u8>(),
                        storage.cast::<u8>(),
                        std::mem::size_of::<libc::sockaddr_ll>(),
                    );
                    *len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                    Ok(())
                })?
                .1
            };
            s.bind(&addr)?;
            Ok(s)
        })?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        enable_timestamps(sock.as_fd())?;
        let _ = sock.set_recv_buffer_size(8 << 20);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(&pcap_header())?;
        let stop = Arc::new(AtomicBool::new(false));
        let frames = Arc::new(AtomicU64::new(0));
        let (st, fr) = (stop.clone(), frames.clone());
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let mut buf = vec![MaybeUninit::<u8>::uninit(); SNAPLEN as usize];
                while !st.load(Ordering::Relaxed) {
                    match recv_stamped(sock.as_fd(), &mut buf) {
                        Ok((n, ts)) => {
                            // The kernel's receive time; the reading time only if it gave none.
                            let ts = ts.unwrap_or_else(|| {
                                std::time::SystemTime::now()
                                    .duration_since(std::time::UNIX_EPOCH)
                                    .map(|d| d.as_nanos())
                                    .unwrap_or(0)
                            });
                            // SAFETY: recv initialized the first n bytes.
                            let frame: &[u8] =
                                unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) };
                            out.write_all(&record_header(ts, n))?;
                            out.write_all(frame)?;
                            fr.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e)
                            if e.kind() == io::ErrorKind::WouldBlock
                                || e.kind() == io::ErrorKind::TimedOut => {}
                        Err(e) => return Err(e),
                    }
                }
                out.flush()
            })?;
        Ok(Capture {
            path: path.to_path_buf(),
            stop,
            frames,
            thread: Some(thread),
        })
    }

    /// Ends the capture; returns the file and how many frames it holds.
    pub fn stop(mut self) -> io::Result<(PathBuf, u64)> {
        self.finish()?;
        Ok((self.path.clone(), self.frames.load(Ordering::Relaxed)))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("capture thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_ns() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }

    /// The timestamp is the kernel's receive time: taken during the send (loopback stamps
    /// on enqueue), not when the frame is read later (the old code's clock reading, which
    /// can never fall inside the send). The kernel turns arrival stamping on a moment after
    /// the first socket asks (a deferred static key), so the first frames may be stamped
    /// when read: the test tries until one is stamped on arrival.
    #[test]
    fn frames_carry_the_kernels_receive_time() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        enable_timestamps(rx.as_fd()).unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut seen = Vec::new();
        for _ in 0..200 {
            let before = now_ns();
            tx.send_to(b"frame", rx.local_addr().unwrap()).unwrap();
            let after = now_ns();
            std::thread::sleep(Duration::from_millis(5));
            let mut buf = vec![MaybeUninit::<u8>::uninit(); 64];
            let (n, ts) = recv_stamped(rx.as_fd(), &mut buf).unwrap();
            assert_eq!(n, 5);
            let ts = ts.expect("a kernel timestamp");
            if before <= ts && ts <= after {
                return;
            }
            seen.push((before, ts, after));
        }
        panic!("no frame stamped on arrival: {:?}", &seen[seen.len() - 3..]);
    }

    #[test]
    fn pcap_headers() {
        let h = pcap_header();
        assert_eq!(&h[0..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(h[20..24].try_into().unwrap()), 1);
        let r = record_header(1_500_000_000_123, 60);
        assert_eq!(u32::from_le_bytes(r[0..4].try_into().unwrap()), 1500);
        assert_eq!(u32::from_le_bytes(r[4..8].try_into().unwrap()), 123);
        assert_eq!(u32::from_le_bytes(r[8..12].try_into().unwrap()), 60);
    }
}
