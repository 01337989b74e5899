//! A thin, typed, synchronous rtnetlink layer.
//!
//! Why synchronous: a netlink socket belongs to the namespace it was opened in, and apply
//! opens one per namespace on the thread that created that namespace. Requests are plain
//! data ([`Op`]); [`Netlink::run`] serializes a whole slice of them into as few `send`
//! calls as the socket buffer allows, then reads the ACKs. The kernel handles every
//! message of a datagram in order inside that one `send`, so a batch costs one syscall
//! pair instead of one round trip per request, and later requests may depend on earlier
//! ones (an address on a link made earlier in the same batch).
//!
//! ```text
//!   [Op, Op, Op …] ──emit──▶ one buffer (seq n, n+1, …) ──send──▶ kernel (in order)
//!                  ◀──recv── ACK/NACK per seq ◀──────────────────
//! ```
//!
//! Messages are built with rtnetlink's builders and netlink-packet-route types; errors
//! keep the operation they came from, so "File exists" becomes
//! "add veth h1:eth0 — s1:eth1: File exists (os error 17)". Dumps for `inspect` live in
//! [`dump`].

pub mod dump;
pub mod fib;
mod ops;
pub mod tc;

use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

pub use ops::{BridgeOpts, Op, TcKind, VethEnd, VxlanOpts};

/// A failed request: which operation, and what the kernel said.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {source}")]
pub struct NetlinkError {
    /// Human description of the request ("add address 10.0.0.1/24 on ifindex 101").
    pub op: String,
    #[source]
    pub source: io::Error,
}

impl NetlinkError {
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

/// An rtnetlink socket bound to the namespace of the thread that opened it.
pub struct Netlink {
    sock: Socket,
    seq: u32,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

impl Netlink {
    /// Opens a socket in the calling thread's current network namespace.
    pub fn open() -> io::Result<Netlink> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Keep ACKs small (no echo of the request) and ask for extended error strings.
        let _ = sock.set_cap_ack(true);
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_rx_buf_sz(1 << 20);
        Ok(Netlink {
            sock,
            seq: 0,
            rx: vec![0; 1 << 16],
            tx: Vec::with_capacity(64 * 1024),
        })
    }

    /// Runs every op in order; continues past failures and returns all of them.
    pub fn run(&mut self, ops: &[Op]) -> Result<(), Vec<NetlinkError>> {
        let (failed, fatal) = self.run_indexed(ops);
        let mut errors: Vec<NetlinkError> = failed
            .into_iter()
            .map(|(i, source)| NetlinkError {
                op: ops[i].describe(),
                source,
            })
            .collect();
        if let Some((_, e)) = fatal {
            errors.push(NetlinkError {
                op: "read netlink acknowledgements".into(),
                source: e,
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Runs every op in order, a socket buffer's worth in flight at a time, and returns
    /// the index and error of each op that failed, plus the error that stopped the run
    /// early (reading acknowledgements failed) with the index of the first op whose
    /// outcome is unknown (it and the ops after it may not have run). For large batches
    /// (a BGP speaker's routes) whose caller must know which ops took effect.
    pub fn run_indexed(&mut self, ops: &[Op]) -> fib::BulkOutcome {
        self.run_batched(ops.len(), |buf, i, seq| {
            let (msg, flags) = ops[i].message();
            emit(buf, msg, flags | NLM_F_REQUEST | NLM_F_ACK, seq);
        })
    }

    /// Runs ops and fails on the first error (after the whole batch ran).
    pub fn run_all(&mut self, ops: &[Op]) -> Result<(), NetlinkError> {
        self.run(ops).map_err(|mut errs| errs.swap_remove(0))
    }

    pub(crate) fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    pub(crate) fn socket(&self) -> &Socket {
        &self.sock
    }
}

/// Appends one serialized message to `buf`.
fn emit(buf: &mut Vec<u8>, msg: RouteNetlinkMessage, flags: u16, seq: u32) {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    nl.finalize();
    let len = nl.header.length as usize;
    let at = buf.len();
    buf.resize(at + ((len + 3) & !3), 0);
    nl.serialize(&mut buf[at..at + len]);
}
