//! The BGP speaker (sans-IO): sessions, RIBs, decision, policy, update groups and FIB
//! changes as outputs. The driver (src/daemon/bgp.rs) owns the sockets and the clock.
//!
//! ```text
//!  driver ──handle_connected / handle_data / handle_closed / handle_timeout──▶ Speaker
//!     peer.rs   one fsm::Fsm per connection (two while a collision is resolved, §6.8),
//!               framing, OPEN and capabilities, NOTIFICATION logging
//!     rib.rs    UPDATE ─▶ Adj-RIB-In + import policy ─▶ Loc-RIB candidates ─▶ decision::best
//!     export.rs changed prefixes (once per batch) ─▶ FIB changes, and per update group:
//!               outbound attributes computed once, diffed against each member's
//!               Adj-RIB-Out, encoded once per distinct set of changes, packed full
//!  driver ◀──poll_output: Connect / Send / Close / Fib / Log ── poll_timeout ─▶ deadline
//! ```
//!
//! Invariants: attributes are interned (identical sets share one `Arc`); a batch (one
//! `handle_*`, `announce` or `withdraw` call) emits at most one FIB change per prefix and
//! one set of UPDATEs per peer; NOTIFICATIONs are queued before the `Close` they cause;
//! our own networks never reach the FIB. Routes are never sent back to the peer they came
//! from.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::attrs::{PathAttrs, RouteView};
use super::config::SpeakerConfig;
use crate::time::Instant;

/// A peer: its index in `SpeakerConfig::peers`.
pub type PeerId = usize;

/// A TCP connection, numbered by the driver (unique for the daemon's life).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// A change of the node's kernel routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibChange {
    /// Add or replace the route to `prefix` via `next_hop`; `new`: the speaker had no
    /// route to it in the FIB before (an addition, not a replacement).
    Replace {
        prefix: IpNet,
        next_hop: IpAddr,
        new: bool,
    },
    Remove {
        prefix: IpNet,
    },
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a TCP connection to the peer (its address and port, our local address, TTL,
    /// MD5 password as configured); answer with `handle_connected` or `handle_connect_failed`.
    Connect {
        peer: PeerId,
    },
    Send {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    /// Close after sending what was queued for it.
    Close {
        conn: ConnId,
    },
    Fib(FibChange),
    /// A line for the daemon's log (session up/down, NOTIFICATIONs sent and received).
    Log(String),
}

/// `summary` view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub asn: u32,
    pub router_id: String,
    pub peers: usize,
    pub established: usize,
    /// Prefixes in the Loc-RIB.
    pub loc_rib: usize,
    /// Distinct interned attribute sets held (sets no route uses any more are dropped
    /// at the next sweep, when the table has grown).
    pub attr_sets: usize,
    pub fib_installed: usize,
    pub neighbors: Vec<NeighborView>,
}

/// `neighbors` view (one peer), close to GoBGP's `neighbor` JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeighborView {
    pub name: String,
    pub address: String,
    pub remote_as: u32,
    /// `idle`, `connect`, `active`, `opensent`, `openconfirm`, `established`.
    pub state: String,
    pub uptime_s: f64,
    pub received: usize,
    pub accepted: usize,
    pub advertised: usize,
    pub messages_in: u64,
    pub messages_out: u64,
    /// The last NOTIFICATION sent or received, as `sent 6/2 …` / `received 2/2 …`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub hold_time: u16,
    pub families: Vec<String>,
}

mod export;
mod peer;
mod rib;
mod views;

#[cfg(test)]
mod tests;

use super::policy::{Policy, Rule};
use peer::Peer;
use rib::{Change, Interner, LocRib};

/// A compiled policy (the peer's rules, then the speaker's) and whether it looks at the
/// prefix (when it does not, its result is computed once per attribute set).
pub(crate) struct Compiled {
    /// `None`: the rules did not compile (config validation should have caught it);
    /// every route is rejected.
    policy: Option<Policy>,
    empty: bool,
    by_prefix: bool,
    /// No route gets through (`export none`: a route collector, a bench receiver).
    rejects_all: bool,
    /// The rules, to compare policies between peers (update groups).
    key: String,
}

impl Compiled {
    fn new(rules: Vec<Rule>, what: &str, log: &mut VecDeque<Output>) -> Compiled {
        let by_prefix = rules.iter().any(|r| r.matches.prefix.is_some());
        let rejects_all = Policy::rejects_all(&rules);
        let key = serde_json::to_string(&rules).unwrap_or_default();
        let policy = match Policy::compile(&rules) {
            Ok(p) => Some(p),
            Err(e) => {
                log.push_back(Output::Log(format!("{what}: {e}; every route is rejected")));
                None
            }
        };
        Compiled {
            rejects_all: rejects_all || policy.is_none(),
            policy,
            empty: rules.is_empty(),
            by_prefix,
            key,
        }
    }
}

/// The speaker.
pub struct Speaker {
    config: SpeakerConfig,
    /// When `new` ran: ages are counted from here.
    epoch: Instant,
    cluster_id: std::net::Ipv4Addr,
    peers: Vec<Peer>,
    conns: HashMap<ConnId, PeerId>,
    rib: LocRib,
    interner: Interner,
    /// Prefixes changed in the current batch, in order of first change.
    changes: Vec<Change>,
    /// The current batch's number (see `Dest::epoch`); never 0.
    batch: u16,
    /// A prefix changed twice in this batch: its `Change::after` is stale.
    retouched: bool,
    fib_installed: usize,
    /// UPDATE encodings done by update groups (a test hook: identical peers share one).
    encodes: u64,
    out: VecDeque<Output>,
}

impl Speaker {
    pub fn new(config: SpeakerConfig, now: Instant) -> Speaker {
        let mut out = VecDeque::new();
        let peers = config
            .peers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let import = Compiled::new(
                    p.import.iter().chain(&config.import).cloned().collect(),
                    &format!("peer {}: import policy", p.name),
                    &mut out,
                );
                let export = Compiled::new(
                    p.export.iter().chain(&config.export).cloned().collect(),
                    &format!("peer {}: export policy", p.name),
                    &mut out,
                );
                Peer::new(i, &config, import, export)
            })
            .collect();
        Speaker {
            cluster_id: config.cluster_id.unwrap_or(config.router_id),
            config,
            epoch: now,
            peers,
            conns: HashMap::new(),
            rib: LocRib::default(),
            interner: Interner::default(),
            changes: Vec::new(),
            batch: 1,
            retouched: false,
            fib_installed: 0,
            encodes: 0,
            out,
        }
    }
    /// Starts every peer (ManualStart; passive peers only wait) and originates
    /// `config.networks`.
    pub fn start(&mut self, now: Instant) {
        let nets: Vec<(IpNet, PathAttrs)> = self
            .config
            .networks
            .iter()
            .map(|n| (*n, local_attrs(*n)))
            .collect();
        self.originate(now, nets);
        for pid in 0..self.peers.len() {
            self.start_peer(now, pid);
        }
        self.flush(now);
    }
    /// The configured peer with this address (for accepted connections).
    pub fn peer_by_addr(&self, addr: IpAddr) -> Option<PeerId> {
        let canon = |a: IpAddr| a.to_canonical();
        self.config
            .peers
            .iter()
            .position(|p| canon(p.address) == canon(addr))
    }
    /// An outbound connection asked for by `Output::Connect` is up (`outbound: true`), or
    /// the driver accepted one from the peer (`outbound: false`).
    pub fn handle_connected(&mut self, now: Instant, peer: PeerId, conn: ConnId, outbound: bool) {
        if peer >= self.peers.len() {
            self.out.push_back(Output::Close { conn });
            return;
        }
        self.connected(now, peer, conn, outbound);
        self.flush(now);
    }
    /// The addresses of a connection (ours and the peer's), as the driver knows them once
    /// it is up: our address is the next hop we announce on this session (eBGP,
    /// next-hop-self, our own routes). Call it right after `handle_connected`. Without it
    /// the peer's configured `local_address` is used.
    pub fn set_conn_addrs(&mut self, conn: ConnId, local: SocketAddr, remote: SocketAddr) {
        if let Some(&pid) = self.conns.get(&conn)
            && let Some(s) = self.peers[pid].slot_mut(conn)
        {
            s.addrs = Some((local, remote));
        }
    }
    pub fn handle_connect_failed(&mut self, now: Instant, peer: PeerId) {
        if peer < self.peers.len() {
            self.connect_failed(now, peer);
            self.flush(now);
        }
    }
    /// Bytes read from a connection (any split; the speaker frames them).
    pub fn handle_data(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        self.data(now, conn, bytes);
        self.flush(now);
    }
    /// The connection ended (EOF or error).
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.closed(now, conn);
        self.flush(now);
    }
    pub fn handle_timeout(&mut self, now: Instant) {
        self.timeout(now);
        self.flush(now);
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.peers.iter().filter_map(|p| p.poll_timeout()).min()
    }
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
    /// Originates routes (the `bgp` scenario step, route injection): each prefix with its
    /// attributes (the speaker sets the next hop per peer on export).
    pub fn announce(&mut self, now: Instant, routes: Vec<(IpNet, PathAttrs)>) {
        self.originate(now, routes);
        self.flush(now);
    }
    /// Withdraws routes this speaker originated.
    pub fn withdraw(&mut self, now: Instant, prefixes: &[IpNet]) {
        for p in prefixes {
            self.rib_remove(rib::LOCAL, 0, p.trunc());
        }
        self.flush(now);
    }
    /// Sends ROUTE-REFRESH to the peer for each negotiated family.
    pub fn refresh(&mut self, now: Instant, peer: PeerId) {
        if peer < self.peers.len() {
            self.send_refresh_request(now, peer);
        }
    }
    pub fn summary(&self, now: Instant) -> Summary {
        self.summary_view(now)
    }
    pub fn neighbors(&self, now: Instant) -> Vec<NeighborView> {
        (0..self.peers.len())
            .map(|p| self.neighbor_view(p, now))
            .collect()
    }
    /// The Loc-RIB: every candidate path, best first per prefix, prefixes in order.
    pub fn routes(&self, now: Instant) -> Vec<RouteView> {
        self.routes_view(now)
    }
    /// Best path to `prefix`, if any.
    pub fn lookup(&self, prefix: IpNet, now: Instant) -> Option<RouteView> {
        self.lookup_view(prefix, now)
    }
    pub fn adj_in(&self, peer: PeerId, now: Instant) -> Vec<RouteView> {
        self.adj_in_view(peer, now)
    }
    pub fn adj_out(&self, peer: PeerId, now: Instant) -> Vec<RouteView> {
        self.adj_out_view(peer, now)
    }
    /// Prefixes in the Loc-RIB (cheap; the bench polls it).
    pub fn loc_rib_len(&self) -> usize {
        self.rib.best_count
    }
    /// Peer `peer`'s BGP identifier, from its OPEN, while its session is up.
    pub fn peer_bgp_id(&self, peer: PeerId) -> Option<std::net::Ipv4Addr> {
        let up = self.peers.get(peer)?.up.as_ref()?;
        Some(std::net::Ipv4Addr::from(up.bgp_id))
    }

    /// The Loc-RIB's best paths with their attributes (MRT dumps).
    pub fn best_paths(&self) -> Vec<(IpNet, PeerId, std::sync::Arc<PathAttrs>)> {
        self.rib
            .map
            .iter()
            .filter_map(|(p, d)| {
                let b = d.best()?;
                let src = if b.src == rib::LOCAL {
                    usize::MAX
                } else {
                    b.src as usize
                };
                Some((p, src, b.attrs.clone()))
            })
            .collect()
    }
    pub fn config(&self) -> &SpeakerConfig {
        &self.config
    }
    /// How many UPDATE encodings export has done (update groups encode once for all the
    /// members that get the same changes).
    pub fn update_encodes(&self) -> u64 {
        self.encodes
    }

    /// Seconds since `new`, for route ages.
    fn secs(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.epoch).as_secs() as u32
    }

    fn originate(&mut self, now: Instant, routes: Vec<(IpNet, PathAttrs)>) {
        let since = self.secs(now);
        for (prefix, attrs) in routes {
            let attrs = self.interner.intern(attrs);
            self.rib_insert(
                rib::Cand::new(rib::LOCAL, 0, attrs, false, since),
                None,
                prefix.trunc(),
            );
        }
    }
}

/// The attributes of a network we originate: ORIGIN IGP, empty AS_PATH, next hop set on
/// export.
fn local_attrs(n: IpNet) -> PathAttrs {
    let nh = match n {
        IpNet::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpNet::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    };
    PathAttrs::new(super::codec::Origin::Igp, nh)
}
