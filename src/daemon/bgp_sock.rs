//! Socket options of BGP sessions: the listening socket (dual stack, `SO_REUSEADDR`, one
//! TCP MD5 key per peer with a password), and each session's TTL, GTSM minimum TTL
//! (RFC 5082) and TCP MD5 signature (RFC 2385).
//!
//! ```text
//!   peer v4 on an AF_INET6 socket (v4-mapped) → IPPROTO_IP options (IP_TTL, IP_MINTTL),
//!                                               MD5 key as ::ffff:a.b.c.d
//!   peer v6                                   → IPPROTO_IPV6 (IPV6_UNICAST_HOPS,
//!                                               IPV6_MINHOPCOUNT)
//! ```
//! Linux hands `IPPROTO_IP` options on an IPv6 socket to the IPv4 code, and a v4-mapped
//! MD5 key on an IPv6 socket is stored as an IPv4 key, so one dual-stack listener serves
//! both families.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::bgp::config::PeerConfig;

/// What the session's packets carry and what it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl {
    /// TTL (hop limit) of our packets.
    pub ttl: u8,
    /// GTSM: drop packets that arrive with less (`None`: accept any).
    pub min_ttl: Option<u8>,
}

/// The TTL rules of a peer: GTSM sends 255 and accepts no less than 256 - hops; else the
/// multihop TTL, or 1 for eBGP and 64 for iBGP.
pub fn ttl_for(peer: &PeerConfig, local_as: u32) -> Ttl {
    if let Some(hops) = peer.ttl_security {
        let hops = hops.max(1);
        return Ttl {
            ttl: 255,
            min_ttl: Some((256 - u16::from(hops)) as u8),
        };
    }
    let ttl = match peer.multihop {
        Some(t) => t.max(1),
        None if peer.remote_as == local_as => 64,
        None => 1,
    };
    Ttl { ttl, min_ttl: None }
}

/// Sets TTL and minimum TTL on a session's socket, at the level of the peer's family.
pub fn set_ttl(fd: &impl AsFd, peer: IpAddr, t: Ttl) -> io::Result<()> {
    let s = SockRef::from(fd);
    match peer {
        IpAddr::V4(_) => s.set_ttl_v4(u32::from(t.ttl))?,
        IpAddr::V6(_) => s.set_unicast_hops_v6(u32::from(t.ttl))?,
    }
    if let Some(min) = t.min_ttl {
        let (level, name) = match peer {
            IpAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_MINTTL),
            IpAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT),
        };
        setsockopt_int(fd, level, name, i32::from(min))?;
    }
    Ok(())
}

/// The minimum TTL set on a socket (0: none), for tests and views.
pub fn min_ttl(fd: &impl AsFd, peer: IpAddr) -> io::Result<u8> {
    let (level, name) = match peer {
        IpAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_MINTTL),
        IpAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT),
    };
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v and len are valid for writes of the sizes given; the fd is open.
    let r = unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            (&raw mut v).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(v as u8)
}

fn setsockopt_int(fd: &impl AsFd, level: i32, name: i32, v: i32) -> io::Result<()> {
    // SAFETY: the value is a c_int of the size given; the fd is open.
    let r = unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            (&raw const v).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `struct tcp_md5sig` (linux/tcp.h).
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: libc::c_int,
    key: [u8; libc::TCP_MD5SIG_MAXKEYLEN],
}

/// Installs (or, with an empty key, removes) the TCP MD5 key for `peer` on a socket.
/// `v6_socket`: the socket is AF_INET6 (a v4 peer's key is then given v4-mapped).
pub fn set_md5(fd: &impl AsFd, v6_socket: bool, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    if key.len() > libc::TCP_MD5SIG_MAXKEYLEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a TCP MD5 password has at most {} bytes",
                libc::TCP_MD5SIG_MAXKEYLEN
            ),
        ));
    }
    // SAFETY: all-zero is a valid tcp_md5sig (plain data).
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    let addr: socket2::SockAddr = match (peer, v6_socket) {
        (IpAddr::V4(a), false) => SocketAddr::new(IpAddr::V4(a), 0).into(),
        (IpAddr::V4(a), true) => SocketAddrV6::new(a.to_ipv6_mapped(), 0, 0, 0).into(),
        (IpAddr::V6(a), _) => SocketAddrV6::new(a, 0, 0, 0).into(),
    };
    let len = (addr.len() as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
    // SAFETY: both are plain bytes; `len` fits both (checked above).
    unsafe {
        std::ptr::copy_nonoverlapping(
            addr.as_ptr().cast::<u8>(),
            (&raw mut sig.addr).cast::<u8>(),
            len,
        );
    }
    sig.keylen = key.len() as u16;
    sig.key[..key.len()].copy_from_slice(key);
    // SAFETY: sig is a complete tcp_md5sig of the size given; the fd is open.
    let r = unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            (&raw const sig).cast(),
            std::mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The listening socket: `[::]:port`, dual stack, `SO_REUSEADDR`, non-blocking, with the
/// MD5 key of every peer that has a password. Falls back to `0.0.0.0` where IPv6 is off.
pub fn listener(port: u16, peers: &[PeerConfig]) -> io::Result<std::net::TcpListener> {
    let (s, v6) = match Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP)) {
        Ok(s) => {
            s.set_only_v6(false)?;
            (s, true)
        }
        Err(_) => (
            Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?,
            false,
        ),
    };
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    for p in peers {
        if let Some(pw) = &p.password {
            if !v6 && p.address.is_ipv6() {
                continue;
            }
            set_md5(&s, v6, p.address, pw.as_bytes())
                .map_err(|e| io::Error::new(e.kind(), format!("MD5 key for {}: {e}", p.name)))?;
        }
    }
    let addr: SocketAddr = if v6 {
        (Ipv6Addr::UNSPECIFIED, port).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, port).into()
    };
    s.bind(&addr.into())?;
    s.listen(128)?;
    Ok(s.into())
}

/// A socket for an outbound session to `peer`: its family, bound to `local_address` when
/// set, with TTL, GTSM and MD5 as configured. Connect it with tokio.
pub fn connect_socket(peer: &PeerConfig, local_as: u32) -> io::Result<tokio::net::TcpSocket> {
    let s = match peer.address {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    s.set_reuseaddr(true)?;
    if let Some(local) = peer.local_address {
        s.bind(SocketAddr::new(local, 0))?;
    }
    set_ttl(&s, peer.address, ttl_for(peer, local_as))?;
    if let Some(pw) = &peer.password {
        set_md5(&s, peer.address.is_ipv6(), peer.address, pw.as_bytes())?;
    }
    let _ = SockRef::from(&s).set_tcp_nodelay(true);
    Ok(s)
}

/// Applies a peer's TTL rules to a connection we accepted.
pub fn accepted(
    stream: &tokio::net::TcpStream,
    peer: &PeerConfig,
    local_as: u32,
) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    set_ttl(stream, peer.address, ttl_for(peer, local_as))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::Ipv4Addr;
    use std::time::Duration;

    fn peer(address: IpAddr, password: Option<&str>) -> PeerConfig {
        PeerConfig {
            name: "p".into(),
            address,
            local_address: None,
            port: 179,
            remote_as: 65002,
            passive: false,
            multihop: None,
            ttl_security: None,
            password: password.map(String::from),
            rr_client: false,
            next_hop_self: false,
            families: vec![],
            import: vec![],
            export: vec![],
            hold_time: None,
            next_hops: vec![],
        }
    }

    #[test]
    fn ttl_rules() {
        let mut p = peer(Ipv4Addr::LOCALHOST.into(), None);
        assert_eq!(
            ttl_for(&p, 65001),
            Ttl {
                ttl: 1,
                min_ttl: None
            }
        );
        assert_eq!(
            ttl_for(&p, 65002),
            Ttl {
                ttl: 64,
                min_ttl: None
            }
        );
        p.multihop = Some(5);
        assert_eq!(
            ttl_for(&p, 65001),
            Ttl {
                ttl: 5,
                min_ttl: None
            }
        );
        p.ttl_security = Some(1);
        assert_eq!(
            ttl_for(&p, 65001),
            Ttl {
                ttl: 255,
                min_ttl: Some(255)
            }
        );
        p.ttl_security = Some(3);
        assert_eq!(ttl_for(&p, 65001).min_ttl, Some(253));
    }

    /// TTL and GTSM on a loopback socket of each family, read back from the kernel.
    #[test]
    fn ttl_and_min_ttl_on_loopback_sockets() {
        let mut p = peer(Ipv4Addr::LOCALHOST.into(), None);
        p.ttl_security = Some(2);
        let s = connect_socket(&p, 65001).unwrap();
        let r = SockRef::from(&s);
        assert_eq!(r.ttl_v4().unwrap(), 255);
        assert_eq!(min_ttl(&s, p.address).unwrap(), 254);

        let p6 = peer(Ipv6Addr::LOCALHOST.into(), None);
        if let Ok(s) = connect_socket(&p6, 65002) {
            assert_eq!(SockRef::from(&s).unicast_hops_v6().unwrap(), 64);
            assert_eq!(min_ttl(&s, p6.address).unwrap(), 0);
        }
    }

    /// An MD5 listener talks to a client with the same key, and drops SYNs without one or
    /// with another key (the connect never completes).
    #[test]
    fn md5_on_loopback() {
        let lo: IpAddr = Ipv4Addr::LOCALHOST.into();
        let l = listener(0, &[peer(lo, Some("s3cret"))]).unwrap();
        l.set_nonblocking(false).unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut b = [0u8; 5];
            c.read_exact(&mut b).unwrap();
            c.write_all(&b).unwrap();
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut p = peer(lo, Some("s3cret"));
            p.port = port;
            let to = SocketAddr::new(lo, port);
            let mut c = connect_socket(&p, 65001)
                .unwrap()
                .connect(to)
                .await
                .unwrap();
            c.write_all(b"hello").await.unwrap();
            let mut b = [0u8; 5];
            c.read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"hello");
            for pw in [None, Some("wrong")] {
                let q = peer(lo, pw);
                let s = connect_socket(&q, 65001).unwrap();
                let r = tokio::time::timeout(Duration::from_secs(2), s.connect(to)).await;
                assert!(!matches!(r, Ok(Ok(_))), "connected with password {pw:?}");
            }
        });
        server.join().unwrap();
    }

    #[test]
    fn password_too_long() {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let e = set_md5(&s, false, Ipv4Addr::LOCALHOST.into(), &[b'x'; 81]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
