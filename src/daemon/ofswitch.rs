//! The `ofswitch` daemon: hosts the sans-IO OpenFlow switch core
//! ([`crate::openflow::switch::Switch`]) in a node, from its compiled config (`--config`,
//! the plan's `OfSwitchPlan` as JSON).
//!
//! ```text
//!   data-plane thread                          tokio (current thread)
//!   poll(ports) ──────── recvmmsg ─┐        ┌─ controller conns (active, reconnect 0.1→5 s)
//!   operstate every 200 ms ────────┤        ├─ ptcp 127.0.0.1:6654 (ovs-ofctl)
//!   timeouts (poll_timeout) ───────┼▶ Mutex<Core> ◀─ read → frame_len → parse
//!                                  │   Switch + writers per connection
//!            sendmmsg per port ◀───┘        └─ control socket: status, openflow views
//! ```
//! One lock around the core: the data-plane thread takes it once per batch of frames (up
//! to 32), a control connection once per message. Outputs are flushed under the lock:
//! frames to their ports (one `sendmmsg` per port per flush), messages to the connection's
//! writer task, closes by dropping that writer.
//!
//! Frames carry a `virtio_net_hdr` (the shared [`PacketPort`]): an ordinary frame with a
//! partial checksum is completed first ([`make_plain`](crate::link::port::make_plain)); a GSO super-frame keeps its header
//! and every frame the core makes of it leaves with that header (shifted by a VLAN
//! push/pop). L3/L4 rewrites of a super-frame are not supported (its checksum would be
//! wrong); a controller that needs them should turn offloads off on the hosts.
//!
//! A controller target on the machine's loopback (`machine_loopback`, Mininet's
//! `tcp:127.0.0.1:6653`) is connected from the supervisor's network namespace: the daemon
//! opens `/proc/<parent>/ns/net` at start (its parent is the supervisor) and creates those
//! sockets on a thread that entered it.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::{DaemonArgs, DaemonKind, Describe, FlowOp, Status};
use crate::link::port::{self, PacketPort, PortOptions, VNET_HDR_LEN, VnetHdr};
use crate::openflow::codec;
use crate::openflow::flowspec;
use crate::openflow::switch::{ConnId, FailMode, PortInfo, Switch, SwitchConfig, Transmit};
use crate::time::Instant;

/// The compiled config, as the supervisor writes it (the plan's `OfSwitchPlan`; read here
/// field by field so that the daemon does not depend on `compile`).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub dpid: u64,
    pub fail_mode: FailMode,
    pub controllers: Vec<Target>,
    pub ports: Vec<PortConfig>,
    pub passive_port: u16,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Target {
    pub addr: SocketAddr,
    #[serde(default)]
    pub machine_loopback: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortConfig {
    pub port_no: u32,
    pub iface: String,
    pub mac: String,
}

fn parse_mac(s: &str) -> [u8; 6] {
    let mut m = [0u8; 6];
    for (b, p) in m.iter_mut().zip(s.split(':')) {
        *b = u8::from_str_radix(p, 16).unwrap_or(0);
    }
    m
}

/// How often link state is polled.
const OPERSTATE_EVERY: Duration = Duration::from_millis(200);
/// Reconnect backoff to a controller.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// The largest OpenFlow message we accept (the header's length field is 16 bits).
const MAX_MSG: usize = 0xffff;

struct Port {
    port_no: u32,
    iface: String,
    sock: PacketPort,
    /// Frames to send at the next flush (each with its virtio_net_hdr).
    pending: Vec<Vec<u8>>,
}

struct Core {
    switch: Switch,
    ports: Vec<Port>,
    by_no: HashMap<u32, usize>,
    /// Each connection's writer, and the signal that ends its reader (Transmit::Close).
    writers: HashMap<ConnId, (UnboundedSender<Vec<u8>>, Arc<Notify>)>,
    next_conn: ConnId,
    /// The header for frames the core makes of the frame being handled.
    hdr: VnetHdr,
    in_len: usize,
    /// Spare frame buffers, reused.
    spare: Vec<Vec<u8>>,
}

impl Core {
    /// Moves the core's outputs to ports and connections, and sends the frames.
    fn flush(&mut self) {
        self.drain();
        self.send_pending();
    }

    /// Moves the core's outputs to the ports' send queues and the connections; frames
    /// wait in the queues for [`Core::send_pending`], so that a batch of received frames
    /// goes out with one `sendmmsg` per port, not one per frame.
    fn drain(&mut self) {
        while let Some(t) = self.switch.poll_transmit() {
            match t {
                Transmit::Frame { port, data } => {
                    let Some(&i) = self.by_no.get(&port) else {
                        continue;
                    };
                    let mut h = self.hdr;
                    if h.is_gso() || h.needs_csum() {
                        h.shift(data.len() as i32 - self.in_len as i32);
                    }
                    let mut buf = self.spare.pop().unwrap_or_default();
                    buf.clear();
                    buf.resize(VNET_HDR_LEN, 0);
                    h.write(&mut buf);
                    buf.extend_from_slice(&data);
                    self.switch.recycle(data);
                    self.ports[i].pending.push(buf);
                }
                Transmit::Message { conn, msg } => {
                    if let Some((w, _)) = self.writers.get(&conn) {
                        let mut out = Vec::new();
                        codec::emit(&msg, &mut out);
                        let _ = w.send(out);
                    }
                }
                Transmit::Close { conn } => {
                    if let Some((_, closed)) = self.writers.remove(&conn) {
                        closed.notify_one();
                    }
                }
            }
        }
        // Frames made outside a frame's handling (packet-out) are plain.
        self.hdr = VnetHdr::PLAIN;
    }

    fn send_pending(&mut self) {
        for p in &mut self.ports {
            if p.pending.is_empty() {
                continue;
            }
            p.sock.send_batch(p.pending.iter().map(|b| b.as_slice()));
            self.spare.append(&mut p.pending);
        }
        self.spare.truncate(256);
    }
}

struct Daemon {
    core: Mutex<Core>,
    ready: AtomicBool,
}

impl Daemon {
    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Describe for Daemon {
    fn status(&self) -> Status {
        let detail = self.lock().switch.summary_json(Instant::monotonic());
        Status {
            kind: DaemonKind::OfSwitch,
            pid: std::process::id(),
            ready: self.ready.load(Ordering::Relaxed),
            detail,
        }
    }

    fn openflow(&self, view: &str) -> Option<Value> {
        let core = self.lock();
        let s = &core.switch;
        Some(match view {
            "flows" => s.flows_json(Instant::monotonic()),
            "ports" => s.ports_json(),
            "tables" => s.tables_json(),
            "groups" => s.groups_json(),
            "meters" => s.meters_json(),
            "summary" => s.summary_json(Instant::monotonic()),
            _ => return None,
        })
    }

    fn openflow_flow(&self, command: FlowOp, flow: &str) -> Result<Value, String> {
        let fm = flowspec::parse_flow(flow, command.command()).map_err(|e| e.to_string())?;
        let mut core = self.lock();
        let res = core.switch.apply_flow_mod(Instant::monotonic(), &fm);
        // A delete may have queued FLOW_REMOVED messages.
        core.flush();
        match res {
            Ok(()) => Ok(serde_json::json!({ "applied": true })),
            Err((kind, code)) => Err(error_text(kind, code)),
        }
    }
}

/// An OpenFlow error as `ovs-ofctl` would name it: `OFPET_BAD_MATCH/BAD_PREREQ`.
fn error_text(kind: codec::ErrorType, code: u16) -> String {
    const BAD_REQUEST: &[&str] = &[
        "BAD_VERSION",
        "BAD_TYPE",
        "BAD_MULTIPART",
        "BAD_EXPERIMENTER",
        "BAD_EXP_TYPE",
        "EPERM",
        "BAD_LEN",
        "BUFFER_EMPTY",
        "BUFFER_UNKNOWN",
        "BAD_TABLE_ID",
        "IS_SLAVE",
        "BAD_PORT",
        "BAD_PACKET",
        "MULTIPART_BUFFER_OVERFLOW",
    ];
    const BAD_ACTION: &[&str] = &[
        "BAD_TYPE",
        "BAD_LEN",
        "BAD_EXPERIMENTER",
        "BAD_EXP_TYPE",
        "BAD_OUT_PORT",
        "BAD_ARGUMENT",
        "EPERM",
        "TOO_MANY",
        "BAD_QUEUE",
        "BAD_OUT_GROUP",
        "MATCH_INCONSISTENT",
        "UNSUPPORTED_ORDER",
        "BAD_TAG",
        "BAD_SET_TYPE",
        "BAD_SET_LEN",
        "BAD_SET_ARGUMENT",
    ];
    const BAD_INSTRUCTION: &[&str] = &[
        "UNKNOWN_INST",
        "UNSUP_INST",
        "BAD_TABLE_ID",
        "UNSUP_METADATA",
        "UNSUP_METADATA_MASK",
        "BAD_EXPERIMENTER",
        "BAD_EXP_TYPE",
        "BAD_LEN",
        "EPERM",
    ];
    const BAD_MATCH: &[&str] = &[
        "BAD_TYPE",
        "BAD_LEN",
        "BAD_TAG",
        "BAD_DL_ADDR_MASK",
        "BAD_NW_ADDR_MASK",
        "BAD_WILDCARDS",
        "BAD_FIELD",
        "BAD_VALUE",
        "BAD_MASK",
        "BAD_PREREQ",
        "DUP_FIELD",
        "EPERM",
    ];
    const FLOW_MOD_FAILED: &[&str] = &[
        "UNKNOWN",
        "TABLE_FULL",
        "BAD_TABLE_ID",
        "OVERLAP",
        "EPERM",
        "BAD_TIMEOUT",
        "BAD_COMMAND",
        "BAD_FLAGS",
    ];
    let (name, codes): (&str, &[&str]) = match kind {
        codec::ErrorType::BAD_REQUEST => ("BAD_REQUEST", BAD_REQUEST),
        codec::ErrorType::BAD_ACTION => ("BAD_ACTION", BAD_ACTION),
        codec::ErrorType::BAD_INSTRUCTION => ("BAD_INSTRUCTION", BAD_INSTRUCTION),
        codec::ErrorType::BAD_MATCH => ("BAD_MATCH", BAD_MATCH),
        codec::ErrorType::FLOW_MOD_FAILED => ("FLOW_MOD_FAILED", FLOW_MOD_FAILED),
        codec::ErrorType::METER_MOD_FAILED => ("METER_MOD_FAILED", &[]),
        codec::ErrorType::GROUP_MOD_FAILED => ("GROUP_MOD_FAILED", &[]),
        other => return format!("OpenFlow error type {} code {code}", other.0),
    };
    match codes.get(code as usize) {
        Some(c) => format!("OFPET_{name}/{c}"),
        None => format!("OFPET_{name}/{code}"),
    }
}

/// Is the interface up with carrier (IFF_UP and IFF_RUNNING)?
fn link_up(sock: &OwnedFd, iface: &str) -> bool {
    // SAFETY: ifreq is plain data; the name fits (checked) and is NUL-terminated.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = iface.as_bytes();
    if name.len() >= req.ifr_name.len() {
        return false;
    }
    for (d, s) in req.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes ifr_flags of `req`, which outlives it.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) };
    if r < 0 {
        return false;
    }
    // SAFETY: after SIOCGIFFLAGS the union holds the flags.
    let flags = i32::from(unsafe { req.ifr_ifru.ifru_flags });
    flags & libc::IFF_UP != 0 && flags & libc::IFF_RUNNING != 0
}

fn ioctl_socket() -> io::Result<OwnedFd> {
    crate::netns::ethtool::ioctl_socket()
}

/// The data-plane thread: reads every port, feeds the core, keeps its timers and watches
/// link state.
fn data_plane(d: Arc<Daemon>) {
    let ioctl = ioctl_socket().ok();
    let mut bufs: Vec<Vec<u8>> = (0..port::BATCH).map(|_| Vec::new()).collect();
    let mut next_operstate = std::time::Instant::now();
    let fds: Vec<(std::os::fd::RawFd, usize)> = {
        let core = d.lock();
        core.ports
            .iter()
            .enumerate()
            .map(|(i, p)| (p.sock.as_fd().as_raw_fd(), i))
            .collect()
    };
    loop {
        let timeout = {
            let core = d.lock();
            let now = Instant::monotonic();
            let t = core
                .switch
                .poll_timeout()
                .map(|t| t.saturating_duration_since(now))
                .unwrap_or(OPERSTATE_EVERY);
            t.min(OPERSTATE_EVERY)
        };
        let mut pfds: Vec<PollFd> = fds
            .iter()
            .map(|(fd, _)| {
                // SAFETY: the ports live as long as the daemon (never removed).
                PollFd::new(
                    unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) },
                    PollFlags::POLLIN,
                )
            })
            .collect();
        let ms = timeout.as_millis().min(1000) as u16;
        let _ = nix::poll::poll(&mut pfds, nix::poll::PollTimeout::from(ms));
        let readable: Vec<usize> = pfds
            .iter()
            .zip(&fds)
            .filter(|(p, _)| p.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)))
            .map(|(_, (_, i))| *i)
            .collect();
        drop(pfds);
        for i in readable {
            // Drain the port, a batch at a time.
            loop {
                let n = {
                    let core = d.lock();
                    core.ports[i].sock.recv_batch(&mut bufs)
                };
                if n == 0 {
                    break;
                }
                let mut core = d.lock();
                let now = Instant::monotonic();
                let port_no = core.ports[i].port_no;
                for buf in &mut bufs[..n] {
                    let Some(h) = VnetHdr::parse(buf) else {
                        continue;
                    };
                    let h = if port::make_plain(buf) {
                        VnetHdr::PLAIN
                    } else if h.is_gso() {
                        h
                    } else {
                        continue; // bad checksum offsets: not a frame we can forward
                    };
                    core.hdr = h;
                    core.in_len = buf.len() - VNET_HDR_LEN;
                    core.switch.handle_frame(now, port_no, &buf[VNET_HDR_LEN..]);
                    core.drain();
                }
                core.send_pending();
                if n < port::BATCH {
                    break;
                }
            }
        }
        let mut core = d.lock();
        let now = Instant::monotonic();
        if core.switch.poll_timeout().is_some_and(|t| t <= now) {
            core.switch.handle_timeout(now);
            core.flush();
        }
        if std::time::Instant::now() >= next_operstate {
            next_operstate = std::time::Instant::now() + OPERSTATE_EVERY;
            core.switch.handle_timeout(now);
            if let Some(s) = &ioctl {
                let states: Vec<(u32, bool)> = core
                    .ports
                    .iter()
                    .map(|p| (p.port_no, link_up(s, &p.iface)))
                    .collect();
                for (no, up) in states {
                    core.switch.port_status(now, no, up);
                }
            }
            core.flush();
        }
    }
}

/// Serves one control connection (either direction) until it closes.
async fn serve_conn(d: Arc<Daemon>, stream: TcpStream, controller: bool) {
    let _ = stream.set_nodelay(true);
    let (mut r, mut w) = stream.into_split();
    let (tx, mut rx) = unbounded_channel::<Vec<u8>>();
    let closed = Arc::new(Notify::new());
    let conn = {
        let mut core = d.lock();
        core.next_conn += 1;
        let conn = core.next_conn;
        core.writers.insert(conn, (tx, closed.clone()));
        let now = Instant::monotonic();
        if controller {
            core.switch.connection_up(now, conn);
        } else {
            core.switch.passive_connection_up(now, conn);
        }
        core.flush();
        conn
    };
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if w.write_all(&b).await.is_err() {
                break;
            }
        }
        let _ = w.shutdown().await;
    });
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    'read: loop {
        let n = tokio::select! {
            r = r.read(&mut chunk) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            // The core closed it (HELLO failed, or the peer stopped answering probes).
            _ = closed.notified() => break,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let len = match codec::frame_len(&buf) {
                Ok(Some(len)) if len <= MAX_MSG => len,
                Ok(Some(_)) => break 'read,
                Ok(None) => break,
                Err(e) => {
                    // A length below the header: the stream cannot be resynced.
                    let mut core = d.lock();
                    let xid = e.xid.unwrap_or(0);
                    core.switch.handle_decode_error(
                        Instant::monotonic(),
                        conn,
                        xid,
                        e.to_error_msg(&buf[..buf.len().min(64)]),
                    );
                    core.flush();
                    break 'read;
                }
            };
            if buf.len() < len {
                break;
            }
            let now = Instant::monotonic();
            let mut core = d.lock();
            match codec::parse(&buf[..len]) {
                Ok(msg) => core.switch.handle_message(now, conn, msg),
                Err(e) => {
                    let xid = e
                        .xid
                        .unwrap_or_else(|| u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]));
                    core.switch
                        .handle_decode_error(now, conn, xid, e.to_error_msg(&buf[..len]));
                }
            }
            core.flush();
            let closed = !core.writers.contains_key(&conn);
            drop(core);
            buf.drain(..len);
            if closed {
                break 'read;
            }
        }
    }
    {
        let mut core = d.lock();
        core.switch.connection_down(Instant::monotonic(), conn);
        core.writers.remove(&conn);
        core.flush();
    }
    let _ = writer.await;
}

/// A TCP socket created in the supervisor's (root) namespace, for a machine-loopback target.
fn root_socket(root: &OwnedFd, addr: SocketAddr) -> io::Result<std::net::TcpStream> {
    let ns = root.try_clone()?;
    crate::netns::run_in(ns, move || {
        let domain = socket2::Domain::for_address(addr);
        let s = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
        s.set_nonblocking(true)?;
        Ok(std::net::TcpStream::from(s))
    })
}

/// Keeps one controller connection up: connect, serve, and on failure retry with backoff.
async fn controller_loop(d: Arc<Daemon>, target: Target, root: Option<Arc<OwnedFd>>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let stream = match (&root, target.machine_loopback) {
            (Some(root), true) => match root_socket(root, target.addr) {
                Ok(s) => {
                    let sock = tokio::net::TcpSocket::from_std_stream(s);
                    sock.connect(target.addr).await
                }
                Err(e) => Err(e),
            },
            _ => TcpStream::connect(target.addr).await,
        };
        match stream {
            Ok(s) => {
                backoff = BACKOFF_MIN;
                serve_conn(d.clone(), s, true).await;
            }
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

fn open_ports(cfg: &Config) -> io::Result<Vec<Port>> {
    cfg.ports
        .iter()
        .map(|p| {
            let ifindex = nix::net::if_::if_nametoindex(p.iface.as_str())
                .map_err(|e| io::Error::other(format!("{}: {e}", p.iface)))?;
            let sock = PacketPort::open(ifindex, &PortOptions::default())
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.iface)))?;
            Ok(Port {
                port_no: p.port_no,
                iface: p.iface.clone(),
                sock,
                pending: Vec::new(),
            })
        })
        .collect()
}

pub async fn run(args: &DaemonArgs) -> io::Result<()> {
    let cfg: Config = super::read_config(args)?;
    // The supervisor's namespace, for machine-loopback controllers (before anything else:
    // the parent may go away later).
    let root = if cfg.controllers.iter().any(|c| c.machine_loopback) {
        let ppid = nix::unistd::getppid();
        Some(Arc::new(OwnedFd::from(std::fs::File::open(format!(
            "/proc/{ppid}/ns/net"
        ))?)))
    } else {
        None
    };
    let ports = open_ports(&cfg)?;
    let ioctl = ioctl_socket().ok();
    let infos = cfg
        .ports
        .iter()
        .map(|p| PortInfo {
            port_no: p.port_no,
            name: p.iface.clone(),
            hw_addr: parse_mac(&p.mac),
            up: ioctl.as_ref().is_none_or(|s| link_up(s, &p.iface)),
        })
        .collect();
    let switch = Switch::new(
        SwitchConfig {
            dpid: cfg.dpid,
            fail_mode: cfg.fail_mode,
            ports: infos,
            ..SwitchConfig::default()
        },
        Instant::monotonic(),
    );
    let by_no = ports
        .iter()
        .enumerate()
        .map(|(i, p)| (p.port_no, i))
        .collect();
    let d = Arc::new(Daemon {
        core: Mutex::new(Core {
            switch,
            ports,
            by_no,
            writers: HashMap::new(),
            next_conn: 0,
            hdr: VnetHdr::PLAIN,
            in_len: 0,
            spare: Vec::new(),
        }),
        ready: AtomicBool::new(false),
    });
    let listener = TcpListener::bind(("127.0.0.1", cfg.passive_port)).await?;
    {
        let d = d.clone();
        std::thread::Builder::new()
            .name("ofswitch-dp".into())
            .spawn(move || data_plane(d))?;
    }
    for t in &cfg.controllers {
        tokio::spawn(controller_loop(d.clone(), *t, root.clone()));
    }
    d.ready.store(true, Ordering::Relaxed);
    let control = super::serve_control(&args.control, d.clone());
    let passive = async {
        loop {
            let (s, _) = listener.accept().await?;
            tokio::spawn(serve_conn(d.clone(), s, false));
        }
        #[allow(unreachable_code)]
        Ok::<(), io::Error>(())
    };
    tokio::select! {
        r = control => r,
        r = passive => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::{FlowOp, Request, Response, call};
    use crate::openflow::codec::{Body, Message};
    use std::io::{Read, Write};

    fn read_msg(s: &mut std::net::TcpStream) -> Message {
        let mut hdr = [0u8; 8];
        s.read_exact(&mut hdr).unwrap();
        let len = u16::from_be_bytes([hdr[2], hdr[3]]) as usize;
        let mut buf = hdr.to_vec();
        buf.resize(len, 0);
        s.read_exact(&mut buf[8..]).unwrap();
        codec::parse(&buf).unwrap()
    }

    fn send(s: &mut std::net::TcpStream, m: &Message) {
        let mut out = Vec::new();
        codec::emit(m, &mut out);
        s.write_all(&out).unwrap();
    }

    /// The driver on loopback with no ports (no namespace needed): the passive port speaks
    /// OpenFlow (HELLO, FEATURES, a bad message gets an ERROR, FLOW_MOD shows in the
    /// control socket's `flows` view).
    #[test]
    fn passive_port_and_views() {
        let dir = std::env::temp_dir().join(format!("tl-ofsw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let control = dir.join("s1.sock");
        let config = dir.join("s1.json");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            &config,
            format!(
                r#"{{"dpid": 7, "fail_mode": "secure", "controllers": [], "ports": [], "passive_port": {port}}}"#
            ),
        )
        .unwrap();
        let args = DaemonArgs {
            control: control.clone(),
            port,
            config: Some(config),
        };
        std::thread::spawn(move || crate::daemon::run(DaemonKind::OfSwitch, args));
        let status = (0..300)
            .find_map(|_| {
                std::thread::sleep(Duration::from_millis(10));
                match call(&control, &Request::Status, Duration::from_secs(2)) {
                    Ok(Response::Status(s)) if s.ready => Some(s),
                    _ => None,
                }
            })
            .expect("the daemon became ready");
        assert_eq!(status.detail["dpid"], "0000000000000007");

        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(matches!(read_msg(&mut s).body, Body::Hello { .. }));
        send(
            &mut s,
            &Message::new(
                1,
                Body::Hello {
                    versions: Some(1 << 4),
                },
            ),
        );
        send(&mut s, &Message::new(2, Body::FeaturesRequest));
        let Body::FeaturesReply(f) = read_msg(&mut s).body else {
            panic!("no features reply")
        };
        assert_eq!(f.datapath_id, 7);
        // An unknown message type: an ERROR with the same xid, and the connection lives on.
        s.write_all(&[4, 99, 0, 8, 0, 0, 0, 3]).unwrap();
        let m = read_msg(&mut s);
        assert_eq!(m.xid, 3);
        assert!(matches!(m.body, Body::Error(_)), "{m:?}");
        let mut fm = codec::FlowMod::add(codec::Match::any());
        fm.priority = 5;
        send(&mut s, &Message::new(4, Body::FlowMod(fm)));
        send(&mut s, &Message::new(5, Body::BarrierRequest));
        assert_eq!(read_msg(&mut s), Message::new(5, Body::BarrierReply));

        let req = Request::Openflow {
            view: "flows".into(),
        };
        let Ok(Response::Openflow { data, .. }) = call(&control, &req, Duration::from_secs(2))
        else {
            panic!("no flows view")
        };
        assert_eq!(data["flows"][0]["priority"], 5, "{data}");
        assert_eq!(data["flows"][0]["match_text"], "", "{data}");
        assert_eq!(data["flows"][0]["actions_text"], "drop", "{data}");

        // Flow edits on the control socket: applied as a FLOW_MOD, errors as text.
        let edit = |command: FlowOp, flow: &str| {
            let req = Request::OpenflowFlow {
                command,
                flow: flow.into(),
            };
            call(&control, &req, Duration::from_secs(2)).unwrap()
        };
        let r = edit(FlowOp::Add, "priority=9,ip,nw_dst=10.0.0.2,actions=dec_ttl");
        assert!(matches!(r, Response::Openflow { .. }), "{r:?}");
        let r = edit(FlowOp::Add, "priority=9,tcp_dst=80,actions=drop");
        assert_eq!(
            r,
            Response::Error {
                message: "OFPET_BAD_MATCH/BAD_PREREQ".into()
            }
        );
        let r = edit(FlowOp::Add, "priority=9,nw_dst=10.0.0.x,actions=drop");
        assert!(
            matches!(&r, Response::Error { message } if message.contains("10.0.0.x")),
            "{r:?}"
        );
        let flows = |v: &str| {
            let req = Request::Openflow { view: v.into() };
            let Ok(Response::Openflow { data, .. }) = call(&control, &req, Duration::from_secs(2))
            else {
                panic!("no flows view")
            };
            data
        };
        let data = flows("flows");
        assert_eq!(data["flows"].as_array().unwrap().len(), 2, "{data}");
        assert_eq!(data["flows"][0]["priority"], 9, "{data}");
        assert_eq!(
            data["flows"][0]["match_text"], "eth_type=0x0800,ipv4_dst=10.0.0.2",
            "{data}"
        );
        assert_eq!(data["flows"][0]["actions_text"], "dec_ttl", "{data}");
        let r = edit(FlowOp::DeleteStrict, "priority=9,ip,nw_dst=10.0.0.2");
        assert!(matches!(r, Response::Openflow { .. }), "{r:?}");
        assert_eq!(flows("flows")["flows"].as_array().unwrap().len(), 1);

        let req = Request::Openflow {
            view: "nonsense".into(),
        };
        assert!(matches!(
            call(&control, &req, Duration::from_secs(2)),
            Ok(Response::Error { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
