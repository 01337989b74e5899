//! Offload switches through the legacy ethtool ioctl (`SIOCETHTOOL`).
//!
//! The userspace link engine needs frames of at most one MTU when it applies per-packet
//! impairments (loss, duplication, corruption, reordering): with TX checksum offload and
//! TSO/GSO on, a veth hands over 64 KB super-frames with partial checksums, and "drop 1%
//! of packets" would drop 1% of super-frames. Turning TX checksumming, TSO and GSO off on
//! the sending interfaces makes the kernel segment and checksum every frame itself.
//!
//! The ioctl acts on the namespace of the socket it is issued on, so callers pass a
//! socket created inside the interface's namespace.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_STXCSUM: u32 = 0x0000_0017;
const ETHTOOL_STSO: u32 = 0x0000_001f;
const ETHTOOL_SGSO: u32 = 0x0000_0024;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

fn set(sock: BorrowedFd<'_>, ifname: &str, cmd: u32, on: bool) -> io::Result<()> {
    let mut v = EthtoolValue {
        cmd,
        data: u32::from(on),
    };
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: (&mut v as *mut EthtoolValue).cast(),
        _pad: [0; 16],
    };
    let n = ifname.len().min(libc::IFNAMSIZ - 1);
    req.name[..n].copy_from_slice(&ifname.as_bytes()[..n]);
    // SAFETY: `req` and `v` outlive the call; SIOCETHTOOL reads/writes only them.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL as _, &mut req) };
    if r < 0 {
        Err(io::Error::new(
            io::Error::last_os_error().kind(),
            format!("ethtool {ifname}: {}", io::Error::last_os_error()),
        ))
    } else {
        Ok(())
    }
}

/// Turns TX checksum offload, TSO and GSO on or off on `ifname`.
pub fn set_tx_offloads(sock: BorrowedFd<'_>, ifname: &str, on: bool) -> io::Result<()> {
    set(sock, ifname, ETHTOOL_STXCSUM, on)?;
    // TSO depends on checksum offload; the kernel already dropped it, this makes it explicit.
    set(sock, ifname, ETHTOOL_STSO, on)?;
    set(sock, ifname, ETHTOOL_SGSO, on)
}

/// A datagram socket in the calling thread's namespace, for ioctls.
pub fn ioctl_socket() -> io::Result<std::os::fd::OwnedFd> {
    let s = std::net::UdpSocket::bind(("127.0.0.1", 0)).or_else(|_| {
        // `lo` may still be down in a brand-new namespace: an unbound socket works too.
        nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Inet,
            nix::sys::socket::SockType::Datagram,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map(std::net::UdpSocket::from)
        .map_err(io::Error::from)
    })?;
    Ok(s.into())
}
