//! The `bgp` daemon: a tokio driver around the sans-IO [`Speaker`], from its compiled
//! config (`--config`, a [`SpeakerConfig`] as JSON). It runs inside its node's namespace
//! (the supervisor setns'd it), so its sockets and kernel routes are the node's.
//!
//! ```text
//!   [::]:179 (dual stack, MD5 keys) ─accept─▶ peer_by_addr ─▶ handle_connected(in)
//!   Output::Connect ─▶ TcpSocket (bind, TTL/GTSM, MD5) ─▶ handle_connected(out) | failed
//!   reader per connection ──handle_data──▶ Mutex<Core> ◀── timer task (poll_timeout)
//!                                           │ Speaker │ ◀── control socket (views, changes)
//!   writer per connection ◀── Output::Send ─┘         └── Output::Fib ─▶ FIB thread
//!                                                         (netlink batches, proto bgp)
//! ```
//! One lock around the core, on one current-thread runtime: never held across an await.
//! Outputs are drained under the lock after every input ([`Daemon::flush`]): bytes go to
//! the connection's writer task (which coalesces queued messages into large writes), a
//! close drops the writer (it sends what was queued, then shuts the socket down) and
//! stops the reader, FIB changes go in one batch per flush to the FIB thread. That thread
//! applies them over its own rtnetlink socket, a socket buffer's worth of requests in
//! flight at a time, as `proto bgp` (186) routes with metric 20, and counts what the
//! kernel accepted (`fib_installed`).
//!
//! Views on the control socket, shaped after GoBGP's JSON so that its users recognise
//! them: `neighbors` is a list of [`NeighborView`] (GoBGP `gobgp neighbor -j`:
//! `conf.neighbor_address` → `address`, `conf.peer_as` → `remote_as`,
//! `conf.description` → `name`, `state.session_state` → `state`, `state.messages.received
//! .total` → `messages_in`, `…sent.total` → `messages_out`, `timers.state.uptime` →
//! `uptime_s`, `afi_safis[].state.received/accepted/advertised` summed → `received`,
//! `accepted`, `advertised`); `routes`, `adj-in` and `adj-out` are GoBGP's `global rib -j`
//! shape, an object from prefix to its paths (best first), each path a [`RouteView`]
//! (`nexthop` → `next_hop`, `age` → `age_s`, `best`, `source-id` → `source`, the path
//! attributes flattened: `as_path`, `origin`, `med`, `local_pref`, `communities`,
//! `large_communities`).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use ipnet::IpNet;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::bgp_fib::{FibHandle, FibQueue};
use super::{BgpChange, DaemonArgs, DaemonKind, Describe, Status, bgp_sock};
use crate::bgp::attrs::{PathAttrs, RouteView};
use crate::bgp::codec::{Origin, Segment, SegmentKind};
use crate::bgp::config::SpeakerConfig;
use crate::bgp::speaker::{ConnId, NeighborView, Output, PeerId, Speaker};
use crate::time::Instant;

pub use crate::bgp::policy::{parse_community, parse_large_community};

/// `ip route` shows routes of this protocol number as `proto bgp` (RTPROT_BGP).
pub const RTPROT_BGP: u8 = 186;
/// The metric of our kernel routes.
pub const FIB_METRIC: u32 = 20;
/// The most bytes one read hands to the speaker.
const READ_CHUNK: usize = 256 * 1024;
/// The most bytes a writer gathers into one write.
const WRITE_GATHER: usize = 1 << 20;
/// Longest wait for an outbound connection.
const CONNECT_TIMEOUT_MAX: u64 = 30;

/// One TCP connection's I/O: its writer's queue, and the signal that stops its reader.
struct ConnIo {
    tx: UnboundedSender<Vec<u8>>,
    stop: Arc<Notify>,
    peer: PeerId,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
}

struct Core {
    speaker: Speaker,
    conns: HashMap<ConnId, ConnIo>,
    next_conn: u64,
    /// Outbound connection attempts under way, per peer.
    connecting: HashMap<PeerId, tokio::task::AbortHandle>,
    fib_batch: FibQueue,
}

struct Daemon {
    core: Mutex<Core>,
    config: SpeakerConfig,
    ready: AtomicBool,
    /// Wakes the timer task when the speaker's next deadline may have changed.
    timer: Notify,
    /// The FIB thread (none without `fib`); dropped last, it removes our routes.
    fib: Option<FibHandle>,
    me: Weak<Daemon>,
}

impl Daemon {
    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Carries out the speaker's outputs (see the module doc).
    fn flush(&self, core: &mut Core) {
        while let Some(o) = core.speaker.poll_output() {
            match o {
                Output::Connect { peer } => self.connect(core, peer),
                Output::Send { conn, bytes } => {
                    if let Some(c) = core.conns.get(&conn) {
                        let _ = c.tx.send(bytes);
                    }
                }
                Output::Close { conn } => {
                    if let Some(c) = core.conns.remove(&conn) {
                        c.stop.notify_one();
                    }
                }
                Output::Fib(ch) => core.fib_batch.push(&ch),
                Output::Log(line) => log(&line),
            }
        }
        if !core.fib_batch.is_empty() {
            let batch = std::mem::take(&mut core.fib_batch);
            if let Some(fib) = &self.fib {
                fib.send(batch);
            }
        }
        self.timer.notify_one();
    }

    /// Starts an outbound connection to `peer` (replacing one under way).
    fn connect(&self, core: &mut Core, peer: PeerId) {
        if let Some(old) = core.connecting.remove(&peer) {
            old.abort();
        }
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let task = tokio::spawn(async move {
            let r = me.dial(peer).await;
            let mut core = me.lock();
            core.connecting.remove(&peer);
            let now = Instant::monotonic();
            match r {
                Ok(stream) => {
                    let conn = me.register(&mut core, stream, peer);
                    core.speaker.handle_connected(now, peer, conn, true);
                    tell_addrs(&mut core, conn);
                }
                Err(e) => {
                    let p = &me.config.peers[peer];
                    log(&format!("connect to {} ({}): {e}", p.name, p.address));
                    core.speaker.handle_connect_failed(now, peer);
                }
            }
            me.flush(&mut core);
        });
        core.connecting.insert(peer, task.abort_handle());
    }

    async fn dial(&self, peer: PeerId) -> io::Result<TcpStream> {
        let p = &self.config.peers[peer];
        let sock = bgp_sock::connect_socket(p, self.config.asn)?;
        let wait = u64::from(self.config.connect_retry).clamp(1, CONNECT_TIMEOUT_MAX);
        match tokio::time::timeout(
            Duration::from_secs(wait),
            sock.connect(SocketAddr::new(p.address, p.port)),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out",
            )),
        }
    }

    /// Numbers a new connection and starts its reader and writer.
    fn register(&self, core: &mut Core, stream: TcpStream, peer: PeerId) -> ConnId {
        core.next_conn += 1;
        let conn = ConnId(core.next_conn);
        let (tx, rx) = unbounded_channel();
        let stop = Arc::new(Notify::new());
        core.conns.insert(
            conn,
            ConnIo {
                tx,
                stop: stop.clone(),
                peer,
                local: stream.local_addr().ok().map(canonical),
                remote: stream.peer_addr().ok().map(canonical),
            },
        );
        if let Some(me) = self.me.upgrade() {
            tokio::spawn(serve_conn(me, stream, conn, rx, stop));
        }
        conn
    }

    /// A peer named by its name or address.
    fn peer(&self, name: &str) -> Result<PeerId, String> {
        let addr: Option<IpAddr> = name.parse().ok();
        self.config
            .peers
            .iter()
            .position(|p| p.name == name || Some(p.address) == addr)
            .ok_or_else(|| {
                let names: Vec<&str> = self.config.peers.iter().map(|p| p.name.as_str()).collect();
                format!(
                    "no peer `{name}` (peers: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )
            })
    }

    /// The `neighbors` view, with each session's socket addresses.
    fn neighbors_json(&self, core: &Core, list: Vec<NeighborView>) -> Value {
        let mut out = Vec::with_capacity(list.len());
        for (i, n) in list.into_iter().enumerate() {
            let mut v = serde_json::to_value(&n).unwrap_or(Value::Null);
            let id = self
                .config
                .peers
                .iter()
                .position(|p| p.name == n.name)
                .unwrap_or(i);
            if let Some(c) = core
                .conns
                .values()
                .filter(|c| c.peer == id)
                .max_by_key(|c| c.remote)
                && let Value::Object(o) = &mut v
            {
                if let Some(l) = c.local {
                    o.insert("local".into(), json!(l.to_string()));
                }
                if let Some(r) = c.remote {
                    o.insert("remote".into(), json!(r.to_string()));
                }
            }
            out.push(v);
        }
        Value::Array(out)
    }

    fn summary_json(&self, core: &Core, now: Instant) -> Value {
        let mut s = core.speaker.summary(now);
        let load = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        let (pending, errors) = match &self.fib {
            Some(f) => {
                s.fib_installed = load(&f.stats.installed);
                (
                    load(&f.stats.pending),
                    f.stats.errors.load(Ordering::Relaxed),
                )
            }
            None => (0, 0),
        };
        let neighbors = self.neighbors_json(core, std::mem::take(&mut s.neighbors));
        let mut v = serde_json::to_value(&s).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            o.insert("neighbors".into(), neighbors);
            o.insert("fib_pending".into(), json!(pending));
            o.insert("fib_errors".into(), json!(errors));
        }
        v
    }
}

/// A v4-mapped IPv6 socket address (an IPv4 peer on the dual-stack listener) as IPv4.
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// Tells the speaker a new connection's addresses (our address is the next hop it
/// announces on the session).
fn tell_addrs(core: &mut Core, conn: ConnId) {
    if let Some(c) = core.conns.get(&conn)
        && let (Some(l), Some(r)) = (c.local, c.remote)
    {
        core.speaker.set_conn_addrs(conn, l, r);
    }
}

/// A line for the service log.
pub(super) fn log(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "bgp: {line}");
}

/// GoBGP's `global rib -j` shape: prefix → its paths.
fn rib_json(routes: Vec<RouteView>) -> Value {
    let mut m = serde_json::Map::new();
    for r in routes {
        let key = r.prefix.clone();
        let v = serde_json::to_value(&r).unwrap_or(Value::Null);
        match m.get_mut(&key) {
            Some(Value::Array(a)) => a.push(v),
            _ => {
                m.insert(key, Value::Array(vec![v]));
            }
        }
    }
    Value::Object(m)
}

fn parse_prefix(s: &str) -> Result<IpNet, String> {
    let net: IpNet = s
        .parse()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{s}` is not a prefix (e.g. 10.1.0.0/16 or 2001:db8::/32)"))?;
    if net.trunc() != net {
        return Err(format!(
            "`{s}` has host bits set (the prefix is {})",
            net.trunc()
        ));
    }
    Ok(net)
}

/// A checked change: the routes to originate and the prefixes to withdraw.
pub type CheckedChange = (Vec<(IpNet, PathAttrs)>, Vec<IpNet>);

/// Checks a change request and builds the attributes of the routes it announces.
pub fn check_change(c: &BgpChange) -> Result<CheckedChange, String> {
    let communities = c
        .communities
        .iter()
        .map(|s| parse_community(s))
        .collect::<Result<Vec<_>, _>>()?;
    let large_communities = c
        .large_communities
        .iter()
        .map(|s| parse_large_community(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut announce = Vec::with_capacity(c.announce.len());
    for p in &c.announce {
        let prefix = parse_prefix(p)?;
        let next_hop = match prefix {
            IpNet::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            IpNet::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        announce.push((
            prefix,
            PathAttrs {
                origin: Origin::Igp,
                as_path: if c.as_path.is_empty() {
                    Vec::new()
                } else {
                    vec![Segment {
                        kind: SegmentKind::Sequence,
                        asns: c.as_path.clone(),
                    }]
                },
                next_hop,
                next_hop_link_local: None,
                med: c.med,
                local_pref: c.local_pref,
                atomic_aggregate: false,
                aggregator: None,
                communities: communities.clone(),
                large_communities: large_communities.clone(),
                ext_communities: Vec::new(),
                originator_id: None,
                cluster_list: Vec::new(),
                unknown: Vec::new(),
            },
        ));
    }
    let withdraw = c
        .withdraw
        .iter()
        .map(|p| parse_prefix(p))
        .collect::<Result<Vec<_>, _>>()?;
    if announce.is_empty() && withdraw.is_empty() {
        return Err("nothing to announce or withdraw".into());
    }
    Ok((announce, withdraw))
}

/// Standard base64 (RFC 4648, with padding), for MRT dumps in JSON answers.
pub fn base64_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (RFC 4648, with padding); `None` on anything else.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.as_bytes();
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for (i, q) in s.chunks(4).enumerate() {
        let last = i == s.len() / 4 - 1;
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

impl Describe for Daemon {
    fn status(&self) -> Status {
        let core = self.lock();
        Status {
            kind: DaemonKind::Bgp,
            pid: std::process::id(),
            ready: self.ready.load(Ordering::Relaxed),
            detail: self.summary_json(&core, Instant::monotonic()),
        }
    }

    fn bgp(&self, view: &str, peer: Option<&str>, prefix: Option<&str>) -> Result<Value, String> {
        let core = self.lock();
        let now = Instant::monotonic();
        let sp = &core.speaker;
        let peer_id = peer.map(|p| self.peer(p)).transpose()?;
        let prefix = prefix.map(parse_prefix).transpose()?;
        let needs_peer = || format!("the `{view}` view needs a peer (by name or address)");
        Ok(match view {
            "summary" => self.summary_json(&core, now),
            "neighbors" => {
                let mut list = sp.neighbors(now);
                if let Some(id) = peer_id {
                    let name = &self.config.peers[id].name;
                    list.retain(|n| &n.name == name);
                }
                self.neighbors_json(&core, list)
            }
            "routes" => {
                let mut routes = sp.routes(now);
                if let Some(p) = prefix {
                    let p = p.to_string();
                    routes.retain(|r| r.prefix == p);
                }
                rib_json(routes)
            }
            "best" => {
                let p = prefix.ok_or("the `best` view needs a prefix")?;
                rib_json(sp.lookup(p, now).into_iter().collect())
            }
            "adj-in" => rib_json(sp.adj_in(peer_id.ok_or_else(needs_peer)?, now)),
            "adj-out" => rib_json(sp.adj_out(peer_id.ok_or_else(needs_peer)?, now)),
            _ => {
                return Err(format!(
                    "no BGP view `{view}` (summary, neighbors, routes, best, adj-in, adj-out)"
                ));
            }
        })
    }

    fn bgp_change(&self, change: &BgpChange) -> Result<Value, String> {
        let (announce, withdraw) = check_change(change)?;
        let (a, w) = (announce.len(), withdraw.len());
        let mut core = self.lock();
        let now = Instant::monotonic();
        if !withdraw.is_empty() {
            core.speaker.withdraw(now, &withdraw);
        }
        if !announce.is_empty() {
            core.speaker.announce(now, announce);
        }
        self.flush(&mut core);
        Ok(json!({ "announced": a, "withdrawn": w }))
    }

    fn bgp_refresh(&self, peer: &str) -> Result<Value, String> {
        let id = self.peer(peer)?;
        let mut core = self.lock();
        core.speaker.refresh(Instant::monotonic(), id);
        self.flush(&mut core);
        Ok(json!({ "refreshed": self.config.peers[id].name }))
    }

    /// The Loc-RIB's best paths as TABLE_DUMP_V2. The peer table lists the configured
    /// peers (with the BGP identifier of their OPEN; 0.0.0.0 for a peer whose session is
    /// down, which has no routes in the dump) and, last, this speaker itself (address
    /// 0.0.0.0, our AS and router ID) for the routes it originates.
    fn bgp_dump(&self) -> Result<Value, String> {
        use crate::bgp::mrt::{MrtPeer, MrtRoute, write_table_dump};
        let (paths, ids) = {
            let core = self.lock();
            let ids: Vec<Option<std::net::Ipv4Addr>> = (0..self.config.peers.len())
                .map(|p| core.speaker.peer_bgp_id(p))
                .collect();
            (core.speaker.best_paths(), ids)
        };
        let n = self.config.peers.len();
        let local = u16::try_from(n).map_err(|_| format!("{n} peers do not fit an MRT table"))?;
        let mut peers: Vec<MrtPeer> = self
            .config
            .peers
            .iter()
            .zip(&ids)
            .map(|(p, id)| MrtPeer {
                bgp_id: id.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
                addr: p.address,
                asn: p.remote_as,
            })
            .collect();
        peers.push(MrtPeer {
            bgp_id: self.config.router_id,
            addr: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            asn: self.config.asn,
        });
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        let routes: Vec<MrtRoute> = paths
            .into_iter()
            .map(|(prefix, src, attrs)| MrtRoute {
                prefix,
                peer_index: if src < n { src as u16 } else { local },
                originated: now,
                attrs,
            })
            .collect();
        let mut out = Vec::new();
        write_table_dump(
            &mut out,
            self.config.router_id,
            "topolab",
            &peers,
            &routes,
            now,
        )
        .map_err(|e| e.to_string())?;
        Ok(json!({
            "mrt_base64": base64_encode(&out),
            "bytes": out.len(),
            "entries": routes.len(),
        }))
    }

    fn bgp_inject(
        &self,
        count: usize,
        seed: u64,
        family: Option<crate::bgp::config::Afi>,
    ) -> Result<Value, String> {
        use crate::bgp::inject::{Mix, synthetic};
        if count > super::MAX_INJECT {
            return Err(format!("at most {} routes per inject", super::MAX_INJECT));
        }
        let mix = match family {
            Some(crate::bgp::config::Afi::Ipv6) => Mix::V6,
            _ => Mix::V4,
        };
        // Generated before taking the speaker: sessions keep running meanwhile.
        let routes = synthetic(count, mix, seed, self.config.asn);
        let n = routes.len();
        let mut core = self.lock();
        core.speaker.announce(Instant::monotonic(), routes);
        self.flush(&mut core);
        Ok(json!({ "announced": n }))
    }
}

/// Reads a connection into the speaker until it ends or the speaker closes it; the
/// writer sends what the speaker queued.
async fn serve_conn(
    d: Arc<Daemon>,
    stream: TcpStream,
    conn: ConnId,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    stop: Arc<Notify>,
) {
    let (mut r, mut w) = stream.into_split();
    let broken = stop.clone();
    let writer = tokio::spawn(async move {
        let mut buf = Vec::new();
        while let Some(first) = rx.recv().await {
            buf.clear();
            buf.extend_from_slice(&first);
            while buf.len() < WRITE_GATHER {
                match rx.try_recv() {
                    Ok(more) => buf.extend_from_slice(&more),
                    Err(_) => break,
                }
            }
            if w.write_all(&buf).await.is_err() {
                broken.notify_one();
                return;
            }
        }
        // The speaker closed the connection: what was queued is sent.
        let _ = w.shutdown().await;
    });
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let n = tokio::select! {
            r = r.read(&mut chunk) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = stop.notified() => break,
        };
        let mut core = d.lock();
        if !core.conns.contains_key(&conn) {
            break;
        }
        core.speaker
            .handle_data(Instant::monotonic(), conn, &chunk[..n]);
        d.flush(&mut core);
    }
    {
        let mut core = d.lock();
        if core.conns.remove(&conn).is_some() {
            core.speaker.handle_closed(Instant::monotonic(), conn);
            d.flush(&mut core);
        }
    }
    let _ = writer.await;
}

/// Runs the speaker's timers.
async fn timers(d: Arc<Daemon>) {
    loop {
        let deadline = d.lock().speaker.poll_timeout();
        let sleep = async {
            match deadline {
                Some(t) => {
                    let wait = t.saturating_duration_since(Instant::monotonic());
                    tokio::time::sleep(wait).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = sleep => {
                let mut core = d.lock();
                let now = Instant::monotonic();
                if core.speaker.poll_timeout().is_some_and(|t| t <= now) {
                    core.speaker.handle_timeout(now);
                }
                d.flush(&mut core);
            }
            _ = d.timer.notified() => {}
        }
    }
}

/// Accepts sessions: known peers only, each with its TTL rules.
async fn accept_loop(d: Arc<Daemon>, listener: tokio::net::TcpListener) -> io::Result<()> {
    loop {
        let (stream, from) = listener.accept().await?;
        let addr = from.ip().to_canonical();
        let mut core = d.lock();
        let Some(peer) = core.speaker.peer_by_addr(addr) else {
            drop(core);
            log(&format!(
                "refused a connection from {from}: not a configured peer"
            ));
            continue;
        };
        if let Err(e) = bgp_sock::accepted(&stream, &d.config.peers[peer], d.config.asn) {
            log(&format!("connection from {from}: socket options: {e}"));
            continue;
        }
        let conn = d.register(&mut core, stream, peer);
        core.speaker
            .handle_connected(Instant::monotonic(), peer, conn, false);
        tell_addrs(&mut core, conn);
        d.flush(&mut core);
    }
}

pub async fn run(args: &DaemonArgs) -> io::Result<()> {
    let config: SpeakerConfig = super::read_config(args)?;
    let now = Instant::monotonic();
    let speaker = Speaker::new(config.clone(), now);
    let fib = if config.fib {
        Some(FibHandle::start()?)
    } else {
        None
    };
    let listener = if config.listen_port != 0 {
        let l = bgp_sock::listener(config.listen_port, &config.peers)?;
        Some(tokio::net::TcpListener::from_std(l)?)
    } else {
        None
    };
    let d = Arc::new_cyclic(|me| Daemon {
        core: Mutex::new(Core {
            speaker,
            conns: HashMap::new(),
            next_conn: 0,
            connecting: HashMap::new(),
            fib_batch: FibQueue::default(),
        }),
        config,
        ready: AtomicBool::new(false),
        timer: Notify::new(),
        fib,
        me: me.clone(),
    });
    {
        let mut core = d.lock();
        core.speaker.start(Instant::monotonic());
        d.flush(&mut core);
    }
    tokio::spawn(timers(d.clone()));
    d.ready.store(true, Ordering::Relaxed);
    log(&format!(
        "AS {} router id {}: {} peers, listening on {}",
        d.config.asn,
        d.config.router_id,
        d.config.peers.len(),
        match d.config.listen_port {
            0 => "no port".to_string(),
            p => format!("port {p}"),
        }
    ));
    let control = super::serve_control(&args.control, d.clone());
    match listener {
        Some(l) => tokio::select! {
            r = control => r,
            r = accept_loop(d.clone(), l) => r,
        },
        None => control.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("TQ==").unwrap(), b"M");
        assert_eq!(base64_decode("TWE=").unwrap(), b"Ma");
        assert_eq!(base64_decode("TWFu").unwrap(), b"Man");
        assert_eq!(base64_decode("AP8A/w==").unwrap(), [0, 255, 0, 255]);
        assert!(base64_decode("TQ=").is_none());
        assert!(base64_decode("T===").is_none());
        assert!(base64_decode("TQ==TWFu").is_none());
        assert!(base64_decode("TW!u").is_none());
        for n in 0..70u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64_encode(&data)).unwrap(), data);
        }
        assert_eq!(base64_encode(b"Ma"), "TWE=");
    }

    #[test]
    fn changes_are_checked() {
        let c = BgpChange {
            announce: vec!["10.9.0.0/16".into(), "2001:db8::/32".into()],
            withdraw: vec!["10.8.0.0/16".into()],
            communities: vec!["65000:1".into()],
            med: Some(5),
            as_path: vec![65100, 65101],
            ..BgpChange::default()
        };
        let (a, w) = check_change(&c).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].1.med, Some(5));
        assert_eq!(a[0].1.communities, vec![(65000 << 16) | 1]);
        assert_eq!(a[1].1.next_hop, IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
        assert_eq!(a[0].1.as_path[0].asns, vec![65100, 65101]);
        assert_eq!(w, vec!["10.8.0.0/16".parse::<IpNet>().unwrap()]);
        for bad in ["10.9.0.1/16", "nonsense", "10.0.0.0/33"] {
            let c = BgpChange {
                announce: vec![bad.into()],
                ..BgpChange::default()
            };
            assert!(check_change(&c).is_err(), "{bad}");
        }
        assert!(check_change(&BgpChange::default()).is_err());
    }

    #[test]
    fn rib_json_groups_paths_by_prefix() {
        let r = |prefix: &str, best: bool| RouteView {
            prefix: prefix.into(),
            next_hop: "10.0.0.1".into(),
            as_path: "65002".into(),
            origin: "igp".into(),
            med: None,
            local_pref: Some(100),
            communities: vec![],
            large_communities: vec![],
            source: "r2".into(),
            best,
            age_s: 1.0,
        };
        let v = rib_json(vec![
            r("10.0.0.0/24", true),
            r("10.0.0.0/24", false),
            r("10.1.0.0/24", true),
        ]);
        assert_eq!(v["10.0.0.0/24"].as_array().unwrap().len(), 2);
        assert_eq!(v["10.0.0.0/24"][0]["best"], true);
        assert_eq!(v["10.1.0.0/24"][0]["local_pref"], 100);
    }

    /// The control protocol's BGP requests, as JSON lines.
    #[test]
    fn requests_round_trip() {
        use crate::daemon::Request;
        let reqs = [
            Request::Bgp {
                view: "adj-in".into(),
                peer: Some("r2".into()),
                prefix: None,
            },
            Request::BgpChange(BgpChange {
                announce: vec!["10.9.0.0/16".into()],
                ..BgpChange::default()
            }),
            Request::BgpRefresh { peer: "r2".into() },
            Request::BgpDump,
            Request::BgpInject {
                count: 1000,
                seed: 7,
                family: None,
            },
            Request::BgpInject {
                count: 1,
                seed: 0,
                family: Some(crate::bgp::config::Afi::Ipv6),
            },
        ];
        for r in reqs {
            let line = serde_json::to_string(&r).unwrap();
            let back: Request = serde_json::from_str(&line).unwrap();
            assert_eq!(format!("{back:?}"), format!("{r:?}"), "{line}");
        }
        let r: Request =
            serde_json::from_str(r#"{"op":"bgp_change","announce":["10.0.0.0/8"],"med":3}"#)
                .unwrap();
        assert!(matches!(r, Request::BgpChange(c) if c.med == Some(3)));
        assert!(serde_json::from_str::<Request>(r#"{"op":"bgp_change","bogus":1}"#).is_err());
        let r: Request =
            serde_json::from_str(r#"{"op":"bgp_inject","count":100000,"seed":1}"#).unwrap();
        assert!(matches!(
            r,
            Request::BgpInject {
                count: 100_000,
                seed: 1,
                family: None
            }
        ));
    }
}
