//! The `echo` daemon: TCP and UDP echo (RFC 862) on one port, both families.
//!
//! Ready once both sockets are bound. Counters (connections, datagrams, bytes) are in its
//! status. It exists to prove the built-in daemon path end to end and to give scenarios a
//! target that needs no third-party program.

use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::json;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use super::{DaemonArgs, DaemonKind, Describe, Status};

#[derive(Default)]
struct Echo {
    ready: AtomicBool,
    connections: AtomicU64,
    datagrams: AtomicU64,
    bytes: AtomicU64,
}

impl Describe for Echo {
    fn status(&self) -> Status {
        Status {
            kind: DaemonKind::Echo,
            pid: std::process::id(),
            ready: self.ready.load(Ordering::Relaxed),
            detail: json!({
                "connections": self.connections.load(Ordering::Relaxed),
                "datagrams": self.datagrams.load(Ordering::Relaxed),
                "bytes": self.bytes.load(Ordering::Relaxed),
            }),
        }
    }
}

/// A dual-stack socket on `[::]:port` (IPv4 arrives as v4-mapped), falling back to IPv4
/// only where the namespace has IPv6 off.
fn bind(port: u16, ty: Type, proto: Protocol) -> io::Result<Socket> {
    let v6 = (|| {
        let s = Socket::new(Domain::IPV6, ty, Some(proto))?;
        s.set_only_v6(false)?;
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
        Ok::<_, io::Error>(s)
    })();
    let s = match v6 {
        Ok(s) => s,
        Err(_) => {
            let s = Socket::new(Domain::IPV4, ty, Some(proto))?;
            s.set_reuse_address(true)?;
            s.bind(&SocketAddr::from(([0, 0, 0, 0], port)).into())?;
            s
        }
    };
    s.set_nonblocking(true)?;
    Ok(s)
}

pub async fn run(args: &DaemonArgs) -> io::Result<()> {
    let me = Arc::new(Echo::default());
    let tcp = bind(args.port, Type::STREAM, Protocol::TCP)?;
    tcp.listen(128)?;
    let tcp = TcpListener::from_std(tcp.into())?;
    let udp = UdpSocket::from_std(bind(args.port, Type::DGRAM, Protocol::UDP)?.into())?;
    me.ready.store(true, Ordering::Relaxed);

    let control = super::serve_control(&args.control, me.clone());
    let stream = {
        let me = me.clone();
        async move {
            loop {
                let (mut conn, _) = tcp.accept().await?;
                me.connections.fetch_add(1, Ordering::Relaxed);
                let me = me.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                me.bytes.fetch_add(n as u64, Ordering::Relaxed);
                                if conn.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        }
    };
    let datagrams = async {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) = udp.recv_from(&mut buf).await?;
            me.datagrams.fetch_add(1, Ordering::Relaxed);
            me.bytes.fetch_add(n as u64, Ordering::Relaxed);
            let _ = udp.send_to(&buf[..n], from).await;
        }
        #[allow(unreachable_code)]
        Ok::<(), io::Error>(())
    };
    tokio::select! {
        r = control => r,
        r = stream => r,
        r = datagrams => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::{Request, Response, call};
    use std::time::Duration;

    /// The daemon on loopback (no namespace needed): echoes TCP and UDP, reports ready and
    /// its counters on the control socket, and refuses an oversized request line.
    #[test]
    fn echoes_and_reports() {
        let dir = std::env::temp_dir().join(format!("tl-echo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let control = dir.join("echo.sock");
        // A free port: bind 0, read it, release it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let args = DaemonArgs {
            control: control.clone(),
            port,
            config: None,
        };
        std::thread::spawn(move || crate::daemon::run(DaemonKind::Echo, args));
        let status = (0..200)
            .find_map(|_| {
                std::thread::sleep(Duration::from_millis(10));
                match call(&control, &Request::Status, Duration::from_secs(2)) {
                    Ok(Response::Status(s)) if s.ready => Some(s),
                    _ => None,
                }
            })
            .expect("the daemon became ready");
        assert_eq!(status.kind, DaemonKind::Echo);

        use std::io::{Read, Write};
        let mut t = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        t.write_all(b"hello").unwrap();
        let mut got = [0u8; 5];
        t.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");

        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        u.send_to(b"dgram", ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 16];
        let (n, _) = u.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"dgram");

        let Ok(Response::Status(s)) = call(&control, &Request::Status, Duration::from_secs(2))
        else {
            panic!("no status")
        };
        assert_eq!(s.detail["connections"], 1);
        assert_eq!(s.detail["datagrams"], 1);

        // An oversized line gets an error, not a daemon that grows.
        let mut c = std::os::unix::net::UnixStream::connect(&control).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = c.write_all(&vec![b'x'; crate::daemon::MAX_LINE + 10]);
        let mut resp = String::new();
        let _ = c.read_to_string(&mut resp);
        assert!(resp.contains("longer than"), "{resp}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
