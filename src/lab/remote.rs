//! The agents' control channel between machines (issue 13).
//!
//! An agent serves its shard supervisor's control protocol ([`Request`] / [`Response`]) on
//! a TCP address of its underlay, only to clients that prove they hold the lab's secret.
//! The secret is 32 random bytes, handed to agents by the launcher in the environment
//! variable [`SECRET_ENV`] (64 hex digits); it never crosses the wire.
//!
//! ```text
//!  client (coordinator)                         server (agent)
//!   MAGIC "TOPOLAB1" ‖ Nc (32 random bytes)  ──▶
//!                                            ◀──  Ns (32 random bytes) ‖ HMAC(k, "server" ‖ Nc ‖ Ns)
//!   check the server's proof; then
//!   HMAC(k, "client" ‖ Nc ‖ Ns)              ──▶  check the client's proof
//!   session key s = HMAC(k, "session" ‖ Nc ‖ Ns)
//!   frames both ways: len (u32 BE) ‖ JSON ‖ HMAC(s, direction ‖ seq (u64 BE) ‖ len ‖ JSON)
//! ```
//!
//! Each side's proof covers the other side's fresh nonce, so a recorded handshake replayed
//! later fails; the two roles use different labels, so a server's proof can never be
//! reflected back as a client's. Frames carry a MAC with a per-connection key, a direction
//! and a sequence number, so a frame cannot be forged, replayed, reordered or reflected
//! inside or across connections (the channel is authenticated, not encrypted: the lab's
//! control traffic is not secret, its secret is). Proofs and tags are compared in constant
//! time. Anything wrong — a bad magic, proof or tag, a frame over the limit, a read that
//! stalls past [`IO_TIMEOUT`] — closes the connection and is logged.
//!
//! The server relays each request to the shard supervisor's Unix control socket
//! ([`control::call_socket`]) and sends its answer back; a connection may carry several
//! requests. [`call`] is the client: one connection, one request, one answer.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::control::{self, Request, Response};
use super::supervisor::MAX_REQUEST;

/// Environment variable carrying the lab's secret (64 hex digits) to an agent.
pub const SECRET_ENV: &str = "TOPOLAB_LAB_SECRET";

/// The first bytes a client sends: protocol name and version.
pub const MAGIC: &[u8; 8] = b"TOPOLAB1";
/// Bytes of a nonce, a proof and a frame tag.
const NONCE: usize = 32;
const TAG: usize = 32;
/// Longest answer a client accepts (an `inspect` of thousands of nodes fits).
pub const MAX_RESPONSE: usize = 64 * 1024 * 1024;
/// The handshake, and every read and write of a frame's bytes once it started, must finish
/// within this; an idle connection between requests is closed after [`IDLE_TIMEOUT`].
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 64;

const SERVER_PROOF: &[u8] = b"topolab server proof";
const CLIENT_PROOF: &[u8] = b"topolab client proof";
const SESSION_KEY: &[u8] = b"topolab session key";
const TO_SERVER: &[u8] = b"c2s";
const TO_CLIENT: &[u8] = b"s2c";

/// A lab's shared secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub [u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// 32 bytes from the kernel's random source.
    pub fn generate() -> io::Result<Secret> {
        let mut b = [0u8; 32];
        fill_random(&mut b)?;
        Ok(Secret(b))
    }

    /// From 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Secret, String> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(format!(
                "a lab secret is 64 hex digits, this one has {} characters",
                s.chars().count()
            ));
        }
        let digit = |c: u8| -> Result<u8, String> {
            (c as char)
                .to_digit(16)
                .map(|d| d as u8)
                .ok_or_else(|| "a lab secret is 64 hex digits (0-9, a-f)".to_string())
        };
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Ok(Secret(out))
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// From [`SECRET_ENV`].
    pub fn from_env() -> Result<Secret, String> {
        let v = std::env::var(SECRET_ENV).map_err(|_| format!("{SECRET_ENV} is not set"))?;
        Secret::from_hex(v.trim())
    }
}

/// Fills `buf` from getrandom(2) (blocking until the pool is initialised, as at boot).
fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: the pointer and length describe `rest`, a live, writable slice.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

/// Why a connection was refused or closed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the peer does not speak the topolab channel protocol (bad magic)")]
    BadMagic,
    #[error("the peer's proof is wrong: it does not hold this lab's secret")]
    BadProof,
    #[error("a frame of {len} bytes is over the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("a frame's tag is wrong (forged, replayed or corrupted)")]
    BadTag,
    #[error("a frame is not a valid message: {0}")]
    BadMessage(String),
}

impl From<ChannelError> for io::Error {
    fn from(e: ChannelError) -> io::Error {
        match e {
            ChannelError::Io(e) => e,
            ChannelError::BadProof | ChannelError::BadTag => {
                io::Error::new(io::ErrorKind::PermissionDenied, e.to_string())
            }
            _ => io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
        }
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    for p in parts {
        m.update(p);
    }
    m
}

fn tag(key: &[u8], parts: &[&[u8]]) -> [u8; TAG] {
    mac(key, parts).finalize().into_bytes().into()
}

/// Constant-time check of `given` against the MAC of `parts`.
fn check(key: &[u8], parts: &[&[u8]], given: &[u8]) -> bool {
    mac(key, parts).verify_slice(given).is_ok()
}

/// An authenticated connection, after the handshake.
pub struct Channel<S> {
    stream: S,
    key: [u8; 32],
    send_dir: &'static [u8],
    recv_dir: &'static [u8],
    send_seq: u64,
    recv_seq: u64,
}

/// The server's side of the handshake on `stream`.
pub fn accept<S: Read + Write>(mut stream: S, secret: &Secret) -> Result<Channel<S>, ChannelError> {
    let mut magic = [0u8; MAGIC.len()];
    stream.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(ChannelError::BadMagic);
    }
    let mut nc = [0u8; NONCE];
    stream.read_exact(&mut nc)?;
    let nc = &nc[..];
    let mut ns = [0u8; NONCE];
    fill_random(&mut ns)?;
    let mut reply = [0u8; NONCE + TAG];
    reply[..NONCE].copy_from_slice(&ns);
    reply[NONCE..].copy_from_slice(&tag(&secret.0, &[SERVER_PROOF, nc, &ns]));
    stream.write_all(&reply)?;
    stream.flush()?;
    let mut proof = [0u8; TAG];
    stream.read_exact(&mut proof)?;
    if !check(&secret.0, &[CLIENT_PROOF, nc, &ns], &proof) {
        return Err(ChannelError::BadProof);
    }
    Ok(Channel {
        stream,
        key: tag(&secret.0, &[SESSION_KEY, nc, &ns]),
        send_dir: TO_CLIENT,
        recv_dir: TO_SERVER,
        send_seq: 0,
        recv_seq: 0,
    })
}

/// The client's side of the handshake on `stream`.
pub fn connect<S: Read + Write>(
    mut stream: S,
    secret: &Secret,
) -> Result<Channel<S>, ChannelError> {
    let mut hello = [0u8; MAGIC.len() + NONCE];
    hello[..MAGIC.len()].copy_from_slice(MAGIC);
    fill_random(&mut hello[MAGIC.len()..])?;
    let nc = hello[MAGIC.len()..].to_vec();
    stream.write_all(&hello)?;
    stream.flush()?;
    let mut reply = [0u8; NONCE + TAG];
    stream.read_exact(&mut reply)?;
    let (ns, proof) = reply.split_at(NONCE);
    if !check(&secret.0, &[SERVER_PROOF, &nc, ns], proof) {
        return Err(ChannelError::BadProof);
    }
    stream.write_all(&tag(&secret.0, &[CLIENT_PROOF, &nc, ns]))?;
    stream.flush()?;
    Ok(Channel {
        stream,
        key: tag(&secret.0, &[SESSION_KEY, &nc, ns]),
        send_dir: TO_SERVER,
        recv_dir: TO_CLIENT,
        send_seq: 0,
        recv_seq: 0,
    })
}

impl<S: Read + Write> Channel<S> {
    /// Sends one frame.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), ChannelError> {
        let len = u32::try_from(payload.len()).map_err(|_| ChannelError::TooLong {
            len: payload.len(),
            max: u32::MAX as usize,
        })?;
        let len = len.to_be_bytes();
        let seq = self.send_seq.to_be_bytes();
        let t = tag(&self.key, &[self.send_dir, &seq, &len, payload]);
        let mut frame = Vec::with_capacity(4 + payload.len() + TAG);
        frame.extend_from_slice(&len);
        frame.extend_from_slice(payload);
        frame.extend_from_slice(&t);
        self.stream.write_all(&frame)?;
        self.stream.flush()?;
        self.send_seq += 1;
        Ok(())
    }

    /// Receives one frame of at most `max` bytes; `None` when the peer closed the
    /// connection between frames.
    pub fn recv(&mut self, max: usize) -> Result<Option<Vec<u8>>, ChannelError> {
        let mut len = [0u8; 4];
        match self.stream.read(&mut len[..1]) {
            Ok(0) => return Ok(None),
            Ok(_) => self.stream.read_exact(&mut len[1..])?,
            Err(e) => return Err(e.into()),
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > max {
            return Err(ChannelError::TooLong { len: n, max });
        }
        let mut payload = vec![0u8; n];
        self.stream.read_exact(&mut payload)?;
        let mut t = [0u8; TAG];
        self.stream.read_exact(&mut t)?;
        let seq = self.recv_seq.to_be_bytes();
        if !check(&self.key, &[self.recv_dir, &seq, &len, &payload], &t) {
            return Err(ChannelError::BadTag);
        }
        self.recv_seq += 1;
        Ok(Some(payload))
    }

    pub fn get_ref(&self) -> &S {
        &self.stream
    }
}

/// How long the agent's supervisor may take to answer `req`.
pub fn patience(req: &Request) -> Duration {
    match req {
        Request::Ping | Request::Live | Request::Link { .. } => Duration::from_secs(30),
        Request::Inspect => Duration::from_secs(60),
        Request::Down | Request::Node { .. } => Duration::from_secs(300),
        Request::WaitReady { timeout_ms, .. } => {
            Duration::from_millis((*timeout_ms).min(3_600_000)) + Duration::from_secs(10)
        }
    }
}

/// Serves one accepted connection: handshake, then requests relayed to `control_socket`
/// until the client closes. Errors end the connection; the caller logs them.
pub fn serve_conn<S: Read + Write>(
    stream: S,
    secret: &Secret,
    control_socket: &Path,
) -> Result<(), ChannelError> {
    relay(accept(stream, secret)?, control_socket)
}

fn relay<S: Read + Write>(mut ch: Channel<S>, control_socket: &Path) -> Result<(), ChannelError> {
    while let Some(frame) = ch.recv(MAX_REQUEST)? {
        let req = serde_json::from_slice::<Request>(&frame)
            .map_err(|e| ChannelError::BadMessage(e.to_string()))?;
        let resp = control::call_socket(control_socket, &req, patience(&req)).unwrap_or_else(|e| {
            Response::Error {
                message: format!("the shard's supervisor did not answer: {e}"),
            }
        });
        let out = serde_json::to_vec(&resp).map_err(|e| ChannelError::BadMessage(e.to_string()))?;
        ch.send(&out)?;
    }
    Ok(())
}

/// A TCP listener bound to `listen`, created inside namespace `netns` (`None`: the
/// caller's) on a thread of its own that exits afterwards; the socket keeps its namespace.
pub fn bind(listen: SocketAddr, netns: Option<&str>) -> io::Result<TcpListener> {
    match netns {
        None => TcpListener::bind(listen),
        Some(ns) => {
            crate::netns::run_in(crate::netns::open(ns)?, move || TcpListener::bind(listen))
        }
    }
}

/// A TCP connection to `addr` made from inside namespace `netns` (`None`: the caller's).
fn dial(addr: SocketAddr, netns: Option<&str>) -> io::Result<TcpStream> {
    let go = move || TcpStream::connect_timeout(&addr, IO_TIMEOUT);
    match netns {
        None => go(),
        Some(ns) => crate::netns::run_in(crate::netns::open(ns)?, go),
    }
}

/// Serves the control protocol of the supervisor listening on `control_socket` on TCP
/// `listen`, the listening socket created inside network namespace `netns` (a name under
/// /run/netns; `None`: the caller's). Returns once the socket is bound; serving goes on in
/// the background for the life of the process.
pub fn serve(
    listen: SocketAddr,
    netns: Option<&str>,
    secret: Secret,
    control_socket: PathBuf,
) -> io::Result<()> {
    serve_listener(bind(listen, netns)?, secret, control_socket)
}

/// [`serve`] on a listener already bound.
pub fn serve_listener(
    listener: TcpListener,
    secret: Secret,
    control_socket: PathBuf,
) -> io::Result<()> {
    let secret = Arc::new(secret);
    let control_socket = Arc::new(control_socket);
    let open = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("remote-accept".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(stream) = conn else { continue };
                if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    open.fetch_sub(1, Ordering::SeqCst);
                    continue;
                }
                let (secret, sock, count) = (secret.clone(), control_socket.clone(), open.clone());
                let spawned = std::thread::Builder::new()
                    .name("remote-conn".into())
                    .spawn(move || {
                        let peer = stream.peer_addr().ok();
                        if let Err(e) = serve_tcp(stream, &secret, &sock) {
                            tracing::warn!(?peer, "control channel: connection closed: {e}");
                        }
                        count.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    open.fetch_sub(1, Ordering::SeqCst);
                }
            }
        })?;
    Ok(())
}

/// One TCP connection: the handshake within [`IO_TIMEOUT`], then requests, each awaited up
/// to [`IDLE_TIMEOUT`].
fn serve_tcp(
    stream: TcpStream,
    secret: &Secret,
    control_socket: &Path,
) -> Result<(), ChannelError> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let ch = accept(stream, secret)?;
    ch.get_ref().set_read_timeout(Some(IDLE_TIMEOUT))?;
    relay(ch, control_socket)
}

/// One request to the agent at `addr` (connecting from inside `netns` when given).
pub fn call(
    addr: SocketAddr,
    netns: Option<&str>,
    secret: &Secret,
    req: &Request,
) -> io::Result<Response> {
    let stream = dial(addr, netns)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut ch = connect(stream, secret)?;
    ch.send(&serde_json::to_vec(req).map_err(io::Error::other)?)?;
    ch.get_ref()
        .set_read_timeout(Some(patience(req) + IO_TIMEOUT))?;
    let frame = ch.recv(MAX_RESPONSE)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the agent closed the connection",
        )
    })?;
    serde_json::from_slice(&frame).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::{UnixListener, UnixStream};

    fn secret(b: u8) -> Secret {
        Secret([b; 32])
    }

    #[test]
    fn hex_round_trip_and_bad_hex() {
        let s = Secret::generate().unwrap();
        assert_eq!(Secret::from_hex(&s.to_hex()).unwrap(), s);
        assert_ne!(Secret::generate().unwrap(), s);
        assert!(Secret::from_hex("abc").is_err());
        assert!(Secret::from_hex(&"g".repeat(64)).is_err());
        assert!(Secret::from_hex(&"é".repeat(32)).is_err());
        assert_eq!(
            Secret::from_hex(&"A0".repeat(32)).unwrap(),
            Secret([0xa0; 32])
        );
        assert_eq!(format!("{s:?}"), "Secret(…)");
    }

    /// A fake supervisor answering Ping with Pong on a Unix socket, for `n` requests.
    fn fake_supervisor(dir: &Path, n: usize) -> PathBuf {
        let path = dir.join("control.sock");
        let l = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            for s in l.incoming().take(n) {
                let mut s = s.unwrap();
                let mut line = String::new();
                io::BufRead::read_line(&mut io::BufReader::new(&s), &mut line).unwrap();
                let req: Request = serde_json::from_str(&line).unwrap();
                let resp = match req {
                    Request::Ping => Response::Pong {
                        name: "fake".into(),
                        pid: 7,
                    },
                    _ => Response::Done,
                };
                let mut out = serde_json::to_vec(&resp).unwrap();
                out.push(b'\n');
                s.write_all(&out).unwrap();
            }
        });
        path
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("topolab-remote-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn good_secret_works_over_tcp() {
        let dir = tmpdir("good");
        let sock = fake_supervisor(&dir, 2);
        let l = bind("127.0.0.1:0".parse().unwrap(), None).unwrap();
        let addr = l.local_addr().unwrap();
        serve_listener(l, secret(1), sock).unwrap();
        for _ in 0..2 {
            match call(addr, None, &secret(1), &Request::Ping).unwrap() {
                Response::Pong { name, pid } => assert_eq!((name.as_str(), pid), ("fake", 7)),
                r => panic!("{r:?}"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn wrong_secret_refused_both_ways() {
        // Client with the wrong secret: the server's proof does not check.
        let dir = tmpdir("wrong");
        let sock = fake_supervisor(&dir, 1);
        let l = bind("127.0.0.1:0".parse().unwrap(), None).unwrap();
        let addr = l.local_addr().unwrap();
        serve_listener(l, secret(1), sock).unwrap();
        let e = call(addr, None, &secret(2), &Request::Ping).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        let _ = std::fs::remove_dir_all(&dir);

        // A server that does not hold the secret but answers a client holding it: the
        // client refuses it; a client whose proof is wrong is refused by the server.
        let (a, b) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || accept(b, &secret(3)).map(|_| ()));
        let r = connect(a, &secret(4));
        assert!(matches!(r, Err(ChannelError::BadProof)));
        drop(r);
        assert!(srv.join().unwrap().is_err());

        // A client that sends a made-up proof.
        let (mut a, b) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || accept(b, &secret(3)).map(|_| ()));
        a.write_all(MAGIC).unwrap();
        a.write_all(&[9u8; NONCE]).unwrap();
        let mut reply = [0u8; NONCE + TAG];
        a.read_exact(&mut reply).unwrap();
        a.write_all(&[0u8; TAG]).unwrap();
        assert!(matches!(srv.join().unwrap(), Err(ChannelError::BadProof)));
    }

    /// Records what a client wrote.
    struct Tap<S> {
        inner: S,
        sent: Vec<u8>,
    }

    /// `s`, recording what is written to it.
    fn tap<S>(s: S) -> Tap<S> {
        Tap {
            inner: s,
            sent: Vec::new(),
        }
    }
    impl<S: Read> Read for Tap<S> {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            self.inner.read(b)
        }
    }
    impl<S: Write> Write for Tap<S> {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let n = self.inner.write(b)?;
            self.sent.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.inner.flush()
        }
    }

    #[test]
    fn replayed_handshake_and_frames_refused() {
        let (a, b) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || {
            let mut ch = accept(b, &secret(5)).unwrap();
            ch.recv(1024).unwrap()
        });
        let mut ch = connect(tap(a), &secret(5)).unwrap();
        ch.send(b"{\"op\":\"ping\"}").unwrap();
        assert_eq!(srv.join().unwrap().unwrap(), b"{\"op\":\"ping\"}");
        let recorded = ch.stream.sent.clone();

        // Everything the good client sent, replayed to a fresh server: the server's new
        // nonce makes the recorded proof wrong.
        let (mut a, b) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || accept(b, &secret(5)).map(|_| ()));
        a.write_all(&recorded).unwrap();
        assert!(matches!(srv.join().unwrap(), Err(ChannelError::BadProof)));

        // A frame replayed within a connection (wrong sequence number) is refused.
        let (a, b) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || {
            let mut ch = accept(b, &secret(5)).unwrap();
            let first = ch.recv(1024).unwrap();
            (first, ch.recv(1024).map(|_| ()))
        });
        let mut ch = connect(tap(a), &secret(5)).unwrap();
        let before = ch.stream.sent.len();
        ch.send(b"x").unwrap();
        let frame = ch.stream.sent[before..].to_vec();
        ch.stream.inner.write_all(&frame).unwrap();
        let (first, second) = srv.join().unwrap();
        assert_eq!(first.unwrap(), b"x");
        assert!(matches!(second, Err(ChannelError::BadTag)));
    }

    #[test]
    fn garbage_and_oversized_frames_close() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || accept(b, &secret(1)).map(|_| ()));
        a.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n.........")
            .unwrap();
        assert!(matches!(srv.join().unwrap(), Err(ChannelError::BadMagic)));

        let (a, b) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || accept(b, &secret(1)).unwrap().recv(16).map(|_| ()));
        let mut ch = connect(a, &secret(1)).unwrap();
        ch.send(&[b'a'; 17]).unwrap();
        assert!(matches!(
            srv.join().unwrap(),
            Err(ChannelError::TooLong { len: 17, max: 16 })
        ));
    }
}
