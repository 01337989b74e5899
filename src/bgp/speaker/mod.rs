//! The BGP speaker (sans-IO): sessions, RIBs, decision, policy, update groups and FIB
//! changes as outputs. Contract for the driver (src/daemon/bgp.rs); implementation: helper S.

use std::net::IpAddr;

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
    /// Add or replace the route to `prefix` via `next_hop`.
    Replace {
        prefix: IpNet,
        next_hop: IpAddr,
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
    /// Distinct interned attribute sets.
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

/// The speaker.
pub struct Speaker {
    _todo: (),
}

impl Speaker {
    pub fn new(config: SpeakerConfig, now: Instant) -> Speaker {
        let _ = (config, now);
        todo!("helper S")
    }
    /// Starts every peer (ManualStart; passive peers only wait).
    pub fn start(&mut self, now: Instant) {
        let _ = now;
        todo!("helper S")
    }
    /// The configured peer with this address (for accepted connections).
    pub fn peer_by_addr(&self, addr: IpAddr) -> Option<PeerId> {
        let _ = addr;
        todo!("helper S")
    }
    /// An outbound connection asked for by `Output::Connect` is up (`outbound: true`), or
    /// the driver accepted one from the peer (`outbound: false`).
    pub fn handle_connected(&mut self, now: Instant, peer: PeerId, conn: ConnId, outbound: bool) {
        let _ = (now, peer, conn, outbound);
        todo!("helper S")
    }
    pub fn handle_connect_failed(&mut self, now: Instant, peer: PeerId) {
        let _ = (now, peer);
        todo!("helper S")
    }
    /// Bytes read from a connection (any split; the speaker frames them).
    pub fn handle_data(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        let _ = (now, conn, bytes);
        todo!("helper S")
    }
    /// The connection ended (EOF or error).
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        let _ = (now, conn);
        todo!("helper S")
    }
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!("helper S")
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!("helper S")
    }
    pub fn poll_output(&mut self) -> Option<Output> {
        todo!("helper S")
    }
    /// Originates routes (the `bgp` scenario step, route injection): each prefix with its
    /// attributes (the speaker sets the next hop per peer on export).
    pub fn announce(&mut self, now: Instant, routes: Vec<(IpNet, PathAttrs)>) {
        let _ = (now, routes);
        todo!("helper S")
    }
    /// Withdraws routes this speaker originated.
    pub fn withdraw(&mut self, now: Instant, prefixes: &[IpNet]) {
        let _ = (now, prefixes);
        todo!("helper S")
    }
    /// Sends ROUTE-REFRESH to the peer for each negotiated family.
    pub fn refresh(&mut self, now: Instant, peer: PeerId) {
        let _ = (now, peer);
        todo!("helper S")
    }
    pub fn summary(&self, now: Instant) -> Summary {
        let _ = now;
        todo!("helper S")
    }
    pub fn neighbors(&self, now: Instant) -> Vec<NeighborView> {
        let _ = now;
        todo!("helper S")
    }
    /// The Loc-RIB: every candidate path, best first per prefix, prefixes in order.
    pub fn routes(&self, now: Instant) -> Vec<RouteView> {
        let _ = now;
        todo!("helper S")
    }
    /// Best path to `prefix`, if any.
    pub fn lookup(&self, prefix: IpNet, now: Instant) -> Option<RouteView> {
        let _ = (prefix, now);
        todo!("helper S")
    }
    pub fn adj_in(&self, peer: PeerId, now: Instant) -> Vec<RouteView> {
        let _ = (peer, now);
        todo!("helper S")
    }
    pub fn adj_out(&self, peer: PeerId, now: Instant) -> Vec<RouteView> {
        let _ = (peer, now);
        todo!("helper S")
    }
    /// Prefixes in the Loc-RIB (cheap; the bench polls it).
    pub fn loc_rib_len(&self) -> usize {
        todo!("helper S")
    }
    /// The Loc-RIB's best paths with their attributes (MRT dumps).
    pub fn best_paths(&self) -> Vec<(IpNet, PeerId, std::sync::Arc<PathAttrs>)> {
        todo!("helper S")
    }
    pub fn config(&self) -> &SpeakerConfig {
        todo!("helper S")
    }
}
