//! The BGP daemon's kernel routes: a thread that follows the Loc-RIB's best paths into the
//! node's FIB as `proto bgp` routes of metric 20, over its own rtnetlink socket.
//!
//! **Next hops.** A BGP next hop need not be on a connected network: an iBGP peer
//! announces its loopback (next-hop-self), reachable through the routes the lab compiled
//! inside the AS (or a real IGP's). Linux does not resolve IPv4 gateways recursively, so
//! the thread asks the kernel for its route to each next hop (`ip route get`) once, and
//! installs routes via that route's gateway and interface instead — one level, as routers
//! do when they flatten recursive routes. Each (gateway, interface) becomes one nexthop
//! object, and routes name it by id (see [`crate::netlink::fib`]); where the kernel will
//! not make one, routes carry the gateway themselves.
//!
//! ```text
//!   10.9.0.0/24 via 192.168.255.4 (BGP)      192.168.255.4 via 172.16.0.6 dev eth1 (static)
//!        └──── installed as: 10.9.0.0/24 nhid 3120562177 via 172.16.0.6 dev eth1 ────┘
//! ```
//!
//! When the kernel refuses routes (a link went down and took its nexthop objects and
//! routes with it), every answer is forgotten and the refused routes are tried once more
//! through fresh ones. Routes and objects of protocol bgp found at start (an earlier run
//! killed) and ours at the end (SIGTERM) are removed.
//!
//! **The queue.** While a full table arrives the Loc-RIB runs ahead of the kernel, so the
//! changes waiting for this thread are packed ([`FibQueue`]: 12 bytes an IPv4 change, not
//! the 36 of a [`FibChange`]).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::bgp::speaker::FibChange;
use crate::netlink::Netlink;
use crate::netlink::dump::RouteTo;
use crate::netlink::fib::{RouteOp, Via};

use super::bgp::{FIB_METRIC, RTPROT_BGP};

/// Nexthop object ids are taken from here up (the protocol number in the top byte, so
/// they stand apart from other software's in `ip nexthop`).
const NH_ID_BASE: u32 = (RTPROT_BGP as u32) << 24;
/// Ids tried past ones another program already holds.
const NH_ID_TRIES: u32 = 1024;
/// The FIB thread's nice value (the speaker's own threads keep theirs).
const FIB_NICE: libc::c_int = 10;
/// Most changes sent to the kernel in one go: bounds the requests built before sending.
const FIB_CHUNK: usize = 8192;
/// Kernel route errors logged one by one before only counting.
const ERRORS_LOGGED: u64 = 10;

/// What the FIB thread reports.
#[derive(Default)]
pub(super) struct FibStats {
    pub installed: AtomicUsize,
    /// Changes sent to the FIB thread and not yet applied.
    pub pending: AtomicUsize,
    pub errors: AtomicU64,
}

/// A packed IPv4 change: `hop` indexes the queue's next hops, `u32::MAX` removes.
#[derive(Clone, Copy)]
struct V4 {
    addr: u32,
    hop: u32,
    len: u8,
    new: bool,
}

#[derive(Clone, Copy)]
struct V6 {
    addr: [u8; 16],
    hop: u32,
    len: u8,
    new: bool,
}

const REMOVE: u32 = u32::MAX;

/// FIB changes on their way to the FIB thread, packed. Changes to one prefix keep their
/// order (IPv4 and IPv6 changes are kept apart: they never touch the same route).
#[derive(Default)]
pub struct FibQueue {
    hops: Vec<IpAddr>,
    hop_index: HashMap<IpAddr, u32>,
    v4: Vec<V4>,
    v6: Vec<V6>,
}

impl FibQueue {
    pub fn push(&mut self, c: &FibChange) {
        let (prefix, hop, new) = match c {
            FibChange::Replace {
                prefix,
                next_hop,
                new,
            } => (prefix, self.hop(*next_hop), *new),
            FibChange::Remove { prefix } => (prefix, REMOVE, false),
        };
        match prefix {
            IpNet::V4(n) => self.v4.push(V4 {
                addr: u32::from(n.network()),
                hop,
                len: n.prefix_len(),
                new,
            }),
            IpNet::V6(n) => self.v6.push(V6 {
                addr: n.network().octets(),
                hop,
                len: n.prefix_len(),
                new,
            }),
        }
    }

    fn hop(&mut self, a: IpAddr) -> u32 {
        if let Some(&i) = self.hop_index.get(&a) {
            return i;
        }
        let i = self.hops.len() as u32;
        self.hops.push(a);
        self.hop_index.insert(a, i);
        i
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn change(&self, prefix: IpNet, hop: u32, new: bool) -> FibChange {
        match self.hops.get(hop as usize) {
            Some(&next_hop) => FibChange::Replace {
                prefix,
                next_hop,
                new,
            },
            None => FibChange::Remove { prefix },
        }
    }

    /// The changes, unpacked.
    pub fn iter(&self) -> impl Iterator<Item = FibChange> + '_ {
        let v4 = self.v4.iter().map(|c| {
            let net = Ipv4Net::new(Ipv4Addr::from(c.addr), c.len).expect("length checked");
            self.change(IpNet::V4(net), c.hop, c.new)
        });
        let v6 = self.v6.iter().map(|c| {
            let net = Ipv6Net::new(Ipv6Addr::from(c.addr), c.len).expect("length checked");
            self.change(IpNet::V6(net), c.hop, c.new)
        });
        v4.chain(v6)
    }
}

/// What the resolver asks the kernel.
pub trait Kernel {
    /// The kernel's route to an address.
    fn route_get(&mut self, a: IpAddr) -> io::Result<RouteTo>;
    /// Creates a nexthop object via `gw` on interface `oif`: its id, or `None` when the
    /// kernel will not.
    fn make_object(&mut self, gw: IpAddr, oif: u32) -> Option<u32>;
}

/// The FIB thread's socket, and the next nexthop id to try.
struct NlKernel<'a> {
    nl: &'a mut Netlink,
    next_id: &'a mut u32,
}

impl Kernel for NlKernel<'_> {
    fn route_get(&mut self, a: IpAddr) -> io::Result<RouteTo> {
        self.nl.route_get(a)
    }

    fn make_object(&mut self, gw: IpAddr, oif: u32) -> Option<u32> {
        for _ in 0..NH_ID_TRIES {
            let id = *self.next_id;
            *self.next_id = self.next_id.wrapping_add(1).max(1);
            match self.nl.add_nexthop(id, gw, oif, RTPROT_BGP) {
                Ok(()) => return Some(id),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
                Err(_) => return None,
            }
        }
        None
    }
}

/// How routes reach each BGP next hop: the kernel's answers, and the nexthop objects made
/// from them.
#[derive(Default)]
pub struct Resolver {
    hops: HashMap<IpAddr, Via>,
    /// (gateway, interface) → nexthop object id.
    objects: HashMap<(IpAddr, u32), u32>,
}

impl Resolver {
    /// Forgets every answer and object.
    pub fn invalidate(&mut self) {
        self.hops.clear();
        self.objects.clear();
    }

    /// Forgets how each next hop is reached (the objects stay known).
    pub fn forget_hops(&mut self) {
        self.hops.clear();
    }

    /// Forgets object `id` (the kernel deleted it, or would not use it).
    pub fn forget_object(&mut self, id: u32) {
        self.objects.retain(|_, v| *v != id);
    }

    /// The ids of the objects made so far.
    pub fn objects(&self) -> impl Iterator<Item = u32> + '_ {
        self.objects.values().copied()
    }

    /// How to route via `next_hop`, asking `kernel` what is not known yet. A next hop
    /// the kernel cannot route stays as it is (the kernel then refuses its routes, which
    /// is counted).
    pub fn resolve(&mut self, next_hop: IpAddr, kernel: &mut impl Kernel) -> Via {
        if let Some(v) = self.hops.get(&next_hop) {
            return *v;
        }
        let via = match kernel.route_get(next_hop) {
            Ok(to) => {
                let gw = to.gateway.unwrap_or(next_hop);
                match to.oif {
                    Some(oif) => match self.objects.get(&(gw, oif)) {
                        Some(id) => Via::Object(*id),
                        None => match kernel.make_object(gw, oif) {
                            Some(id) => {
                                self.objects.insert((gw, oif), id);
                                Via::Object(id)
                            }
                            None => Via::Gateway(gw),
                        },
                    },
                    None => Via::Gateway(gw),
                }
            }
            Err(_) => Via::Gateway(next_hop),
        };
        self.hops.insert(next_hop, via);
        via
    }
}

/// The FIB thread's state.
struct Fib {
    nl: Netlink,
    resolver: Resolver,
    next_id: u32,
    /// Routes the speaker has asked for (additions less removals).
    asked: usize,
    /// Of those, the ones the kernel refused (a later replacement or removal clears
    /// them): the kernel holds `asked - refused.len()` of our routes, counted without a
    /// set of every route.
    refused: crate::bgp::prefix_map::PrefixMap<()>,
    ops: Vec<RouteOp>,
    stats: Arc<FibStats>,
}

/// The daemon's handle on its FIB thread: dropping it (the daemon ends) stops the thread
/// without applying what is still queued, removes the routes it installed and waits.
pub(super) struct FibHandle {
    tx: Option<mpsc::Sender<FibQueue>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub stats: Arc<FibStats>,
}

impl FibHandle {
    pub fn start() -> io::Result<FibHandle> {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(FibStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (stats.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("bgp-fib".into())
            .spawn(move || fib_thread(rx, s, st))?;
        Ok(FibHandle {
            tx: Some(tx),
            stop,
            thread: Some(thread),
            stats,
        })
    }

    pub fn send(&self, q: FibQueue) {
        if let Some(tx) = &self.tx {
            self.stats.pending.fetch_add(q.len(), Ordering::Relaxed);
            let _ = tx.send(q);
        }
    }
}

impl Drop for FibHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Applies queued FIB changes in the node's namespace (the process's: the daemon was
/// started in it) until the queue closes; then removes its routes. `stop` skips what is
/// still queued.
fn fib_thread(rx: mpsc::Receiver<FibQueue>, stats: Arc<FibStats>, stop: Arc<AtomicBool>) {
    // Kernel routes follow the Loc-RIB: while a full table arrives, reading and deciding
    // come first and this thread takes the CPU they leave (nice 10, this thread only).
    // SAFETY: setpriority has no memory effects; on Linux, PRIO_PROCESS with a thread id
    // sets that thread's nice value.
    let tid = unsafe { libc::gettid() };
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, FIB_NICE) } != 0 {
        super::bgp::log(&format!(
            "cannot lower the FIB thread's priority: {}",
            io::Error::last_os_error()
        ));
    }
    let nl = match Netlink::open() {
        Ok(nl) => nl,
        Err(e) => {
            super::bgp::log(&format!("cannot open netlink, no kernel routes: {e}"));
            return;
        }
    };
    let mut fib = Fib {
        nl,
        resolver: Resolver::default(),
        next_id: NH_ID_BASE,
        asked: 0,
        refused: Default::default(),
        ops: Vec::new(),
        stats,
    };
    // Routes a previous run of the speaker left (a kill): nothing knows them any more,
    // so they go; the sessions bring back what is still true.
    let n = fib.remove_ours();
    if n > 0 {
        super::bgp::log(&format!(
            "removed {n} stale kernel routes of an earlier run"
        ));
    }
    let mut chunk = Vec::with_capacity(FIB_CHUNK);
    while let Ok(q) = rx.recv() {
        let mut changes = q.iter();
        loop {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            chunk.clear();
            chunk.extend(changes.by_ref().take(FIB_CHUNK));
            if chunk.is_empty() {
                break;
            }
            fib.apply(&chunk);
        }
        fib.stats.pending.fetch_sub(q.len(), Ordering::Relaxed);
    }
    fib.remove_ours();
}

impl Fib {
    /// Removes every nexthop object and route of protocol bgp (the kernel deletes the
    /// routes of an object with it); how many routes it deleted one by one (those that
    /// went with their objects are not counted).
    fn remove_ours(&mut self) -> usize {
        let mut gone = 0;
        match self.nl.nexthops_of(RTPROT_BGP) {
            Ok(ids) => {
                for id in ids {
                    let _ = self.nl.del_nexthop(id);
                }
            }
            Err(e) => super::bgp::log(&format!("cannot list nexthop objects: {e}")),
        }
        self.asked = 0;
        self.refused = Default::default();
        self.resolver.invalidate();
        match self.nl.routes() {
            Ok(rows) => {
                let stale: Vec<RouteOp> = rows
                    .iter()
                    .filter(|r| r.proto == "bgp")
                    .map(|r| RouteOp::Delete { dst: r.dst })
                    .collect();
                if !stale.is_empty() {
                    let (failed, _) = self.nl.run_routes(&stale, RTPROT_BGP, FIB_METRIC);
                    gone += stale.len() - failed.len();
                }
            }
            Err(e) => super::bgp::log(&format!("cannot list kernel routes: {e}")),
        }
        self.stats.installed.store(0, Ordering::Relaxed);
        gone
    }

    fn via(&mut self, next_hop: IpAddr) -> Via {
        let mut k = NlKernel {
            nl: &mut self.nl,
            next_id: &mut self.next_id,
        };
        self.resolver.resolve(next_hop, &mut k)
    }

    fn build(&mut self, changes: &[FibChange]) {
        let mut ops = std::mem::take(&mut self.ops);
        ops.clear();
        ops.extend(changes.iter().map(|c| match *c {
            FibChange::Replace {
                prefix, next_hop, ..
            } => RouteOp::Replace {
                dst: prefix,
                via: self.via(next_hop),
            },
            FibChange::Remove { prefix } => RouteOp::Delete { dst: prefix },
        }));
        self.ops = ops;
    }

    /// After the kernel refused requests `failed` (indexes into `self.ops`): forgets
    /// every answer about next hops, and the nexthop objects those requests used (the
    /// kernel may have deleted them).
    fn forget(&mut self, failed: impl Iterator<Item = usize>) {
        for i in failed {
            if let Some(RouteOp::Replace {
                via: Via::Object(id),
                ..
            }) = self.ops.get(i)
            {
                self.resolver.forget_object(*id);
            }
        }
        self.resolver.forget_hops();
    }

    /// Sends one chunk of changes to the kernel and counts what it accepted.
    fn apply(&mut self, changes: &[FibChange]) {
        self.build(changes);
        let (mut failed, mut fatal) = self.nl.run_routes(&self.ops, RTPROT_BGP, FIB_METRIC);
        let retry: Vec<usize> = failed
            .iter()
            .map(|(i, _)| *i)
            .filter(|&i| matches!(changes[i], FibChange::Replace { .. }))
            .collect();
        if !retry.is_empty() {
            // The kernel's routes changed under us (a link went down, taking its routes
            // and nexthop objects): ask again, and retry the refused additions once
            // through fresh answers.
            self.forget(retry.iter().copied());
            if fatal.is_none() {
                let again: Vec<FibChange> = retry.iter().map(|&i| changes[i].clone()).collect();
                self.build(&again);
                let (still, f) = self.nl.run_routes(&self.ops, RTPROT_BGP, FIB_METRIC);
                self.forget(still.iter().map(|(j, _)| *j));
                failed.retain(|(i, _)| !matches!(changes[*i], FibChange::Replace { .. }));
                failed.extend(still.into_iter().map(|(j, e)| (retry[j], e)));
                fatal = f.map(|(j, e)| (retry[j], e));
            }
        }
        let mut bad = vec![false; changes.len()];
        for (i, e) in &failed {
            bad[*i] = true;
            let missing = matches!(changes[*i], FibChange::Remove { .. })
                && e.raw_os_error() == Some(libc::ESRCH);
            if missing {
                continue;
            }
            let n = self.stats.errors.fetch_add(1, Ordering::Relaxed);
            if n < ERRORS_LOGGED {
                super::bgp::log(&format!("kernel route: {}: {e}", describe(&changes[*i])));
            } else if n == ERRORS_LOGGED {
                super::bgp::log("more kernel route errors: counted in the summary (fib_errors)");
            }
        }
        // Requests past a fatal error may or may not have run: additions among them
        // count as refused, removals as done.
        let ran = fatal.as_ref().map_or(changes.len(), |(i, _)| *i);
        for (i, (c, bad)) in changes.iter().zip(&bad).enumerate() {
            let bad = *bad || i >= ran;
            match *c {
                FibChange::Replace { prefix, new, .. } => {
                    if new {
                        self.asked += 1;
                    }
                    if !bad {
                        if self.refused.len() > 0 {
                            self.refused.remove(&prefix);
                        }
                    } else if new || self.refused.get(&prefix).is_some() {
                        // A refused replacement leaves the old route in place.
                        self.refused.insert(prefix, ());
                    }
                }
                // The speaker removes only routes it asked for.
                FibChange::Remove { prefix } => {
                    self.asked = self.asked.saturating_sub(1);
                    if self.refused.len() > 0 {
                        self.refused.remove(&prefix);
                    }
                }
            }
        }
        if let Some((_, e)) = fatal {
            super::bgp::log(&format!("netlink: {e}"));
        }
        self.stats.installed.store(
            self.asked.saturating_sub(self.refused.len()),
            Ordering::Relaxed,
        );
    }
}

fn describe(c: &FibChange) -> String {
    match c {
        FibChange::Replace {
            prefix, next_hop, ..
        } => format!("replace {prefix} via {next_hop}"),
        FibChange::Remove { prefix } => format!("delete {prefix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    /// A kernel of fixed answers that records the questions.
    #[derive(Default)]
    struct Fake {
        asked: Vec<IpAddr>,
        made: Vec<(IpAddr, u32)>,
    }

    impl Kernel for Fake {
        fn route_get(&mut self, a: IpAddr) -> io::Result<RouteTo> {
            self.asked.push(a);
            let (gateway, oif) = match a.to_string().as_str() {
                "192.168.255.2" | "192.168.255.3" => (Some(ip("172.16.0.6")), Some(3)),
                "fd00:0:ff::2" => (Some(ip("fd00:0:2:1::2")), Some(4)),
                "172.16.0.6" => (None, Some(3)),
                "172.16.9.9" => (None, None),
                _ => return Err(io::Error::from_raw_os_error(libc::ENETUNREACH)),
            };
            Ok(RouteTo { gateway, oif })
        }

        fn make_object(&mut self, gw: IpAddr, oif: u32) -> Option<u32> {
            self.made.push((gw, oif));
            (oif != 4).then_some(100 + self.made.len() as u32)
        }
    }

    #[test]
    fn next_hops_resolve_once_into_shared_objects() {
        let mut r = Resolver::default();
        let mut k = Fake::default();
        let mut get = |nh: &str| r.resolve(ip(nh), &mut k);
        assert_eq!(get("192.168.255.2"), Via::Object(101));
        assert_eq!(get("192.168.255.2"), Via::Object(101));
        // Another next hop through the same gateway shares its object.
        assert_eq!(get("192.168.255.3"), Via::Object(101));
        assert_eq!(get("172.16.0.6"), Via::Object(101));
        // The kernel would not make this one: routes carry the gateway.
        assert_eq!(get("fd00:0:ff::2"), Via::Gateway(ip("fd00:0:2:1::2")));
        // No interface known, or unroutable: as it is (the kernel judges the routes).
        assert_eq!(get("172.16.9.9"), Via::Gateway(ip("172.16.9.9")));
        assert_eq!(get("203.0.113.9"), Via::Gateway(ip("203.0.113.9")));
        assert_eq!(k.asked.len(), 6, "one question per next hop: {:?}", k.asked);
        assert_eq!(
            k.made.len(),
            2,
            "one object per gateway and interface: {:?}",
            k.made
        );
    }

    #[test]
    fn invalidate_asks_again_and_makes_new_objects() {
        let mut r = Resolver::default();
        let mut k = Fake::default();
        assert_eq!(r.resolve(ip("192.168.255.2"), &mut k), Via::Object(101));
        assert_eq!(r.resolve(ip("192.168.255.2"), &mut k), Via::Object(101));
        r.invalidate();
        assert_eq!(r.resolve(ip("192.168.255.2"), &mut k), Via::Object(102));
        assert_eq!((k.asked.len(), k.made.len()), (2, 2));
        // Forgetting the answers asks again but keeps the object; forgetting the
        // object makes a new one.
        r.forget_hops();
        assert_eq!(r.resolve(ip("192.168.255.2"), &mut k), Via::Object(102));
        assert_eq!((k.asked.len(), k.made.len()), (3, 2));
        r.forget_object(102);
        r.forget_hops();
        assert_eq!(r.resolve(ip("192.168.255.2"), &mut k), Via::Object(103));
        assert_eq!((k.asked.len(), k.made.len()), (4, 3));
    }

    #[test]
    fn the_queue_packs_changes_and_gives_them_back_in_order() {
        let changes = vec![
            FibChange::Replace {
                prefix: net("10.9.0.0/24"),
                next_hop: ip("172.16.0.6"),
                new: true,
            },
            FibChange::Replace {
                prefix: net("2001:db8::/32"),
                next_hop: ip("fd00::1"),
                new: true,
            },
            FibChange::Remove {
                prefix: net("10.9.0.0/24"),
            },
            FibChange::Replace {
                prefix: net("0.0.0.0/0"),
                next_hop: ip("172.16.0.6"),
                new: false,
            },
            FibChange::Replace {
                prefix: net("10.9.0.0/24"),
                next_hop: ip("fd00::2"),
                new: true,
            },
            FibChange::Remove {
                prefix: net("::/0"),
            },
        ];
        let mut q = FibQueue::default();
        for c in &changes {
            q.push(c);
        }
        assert_eq!(q.len(), 6);
        assert_eq!(q.hops.len(), 3);
        let v4: Vec<FibChange> = changes.iter().filter(|c| is_v4(c)).cloned().collect();
        let v6: Vec<FibChange> = changes.iter().filter(|c| !is_v4(c)).cloned().collect();
        assert_eq!(q.iter().collect::<Vec<_>>(), [v4, v6].concat());
        assert_eq!(std::mem::size_of::<V4>(), 12);
        assert!(FibQueue::default().is_empty());
    }

    fn is_v4(c: &FibChange) -> bool {
        match c {
            FibChange::Replace { prefix, .. } | FibChange::Remove { prefix } => {
                matches!(prefix, IpNet::V4(_))
            }
        }
    }

    /// The FIB thread in a private (unnamed) namespace: routes go in as `proto bgp`
    /// metric 20 through nexthop objects; a route the kernel refuses is counted as an
    /// error and not as installed; removals take routes out (a missing one is not an
    /// error); routes whose object the kernel deleted (a link went down) are retried
    /// through a new one; when the daemon ends, its routes and objects go.
    #[test]
    fn fib_thread_installs_retries_and_removes_routes() {
        if crate::skip_without_root() {
            return;
        }
        std::thread::spawn(|| {
            use crate::netlink::{Netlink, Op};
            // This thread's own namespace; it goes when the thread and its child end.
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let mut nl = Netlink::open().unwrap();
            nl.run_all(&[
                Op::SetUp { ifindex: 1 },
                Op::AddAddr {
                    ifindex: 1,
                    net: "10.99.0.1/24".parse().unwrap(),
                },
            ])
            .unwrap();
            let queue = |changes: &[FibChange]| {
                let mut q = FibQueue::default();
                changes.iter().for_each(|c| q.push(c));
                q
            };
            let settle = |h: &FibHandle| {
                while h.stats.pending.load(Ordering::Relaxed) > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            };
            let ours = |nl: &mut Netlink| -> Vec<crate::netlink::dump::RouteRow> {
                nl.routes()
                    .unwrap()
                    .into_iter()
                    .filter(|r| r.proto == "bgp")
                    .collect()
            };
            // What an earlier run left behind goes when the thread starts.
            nl.run_all(&[Op::ReplaceRoute {
                dst: net("203.0.113.0/24"),
                via: ip("10.99.0.9"),
                proto: RTPROT_BGP,
                metric: FIB_METRIC,
            }])
            .unwrap();
            let stale = NH_ID_BASE + 500;
            nl.add_nexthop(stale, ip("10.99.0.8"), 1, RTPROT_BGP)
                .unwrap();
            let h = FibHandle::start().unwrap();
            let mut first: Vec<FibChange> = (0..300u32)
                .map(|i| FibChange::Replace {
                    prefix: net(&format!("172.16.{}.{}/30", i / 64, (i % 64) * 4)),
                    next_hop: ip("10.99.0.2"),
                    new: true,
                })
                .collect();
            first.push(FibChange::Replace {
                prefix: net("198.51.100.0/24"),
                next_hop: ip("10.77.0.1"), // not on any link: refused
                new: true,
            });
            h.send(queue(&first));
            h.send(queue(&[
                // Replace in place, remove some (the refused one too).
                FibChange::Replace {
                    prefix: net("172.16.0.0/30"),
                    next_hop: ip("10.99.0.3"),
                    new: false,
                },
                FibChange::Remove {
                    prefix: net("172.16.0.4/30"),
                },
                FibChange::Remove {
                    prefix: net("198.51.100.0/24"),
                },
            ]));
            settle(&h);
            assert_eq!(h.stats.installed.load(Ordering::Relaxed), 299);
            assert_eq!(h.stats.errors.load(Ordering::Relaxed), 1);
            // Removing a route the kernel no longer has (it took it away) is not an
            // error.
            h.send(queue(&[FibChange::Replace {
                prefix: net("172.16.0.4/30"),
                next_hop: ip("10.99.0.2"),
                new: true,
            }]));
            settle(&h);
            assert_eq!(h.stats.installed.load(Ordering::Relaxed), 300);
            nl.run_all(&[Op::DelRoute {
                dst: net("172.16.0.4/30"),
                proto: RTPROT_BGP,
                metric: FIB_METRIC,
            }])
            .unwrap();
            h.send(queue(&[FibChange::Remove {
                prefix: net("172.16.0.4/30"),
            }]));
            settle(&h);
            assert_eq!(h.stats.errors.load(Ordering::Relaxed), 1);
            assert_eq!(h.stats.installed.load(Ordering::Relaxed), 299);
            let routes = ours(&mut nl);
            assert_eq!(routes.len(), 299);
            assert!(!routes.iter().any(|r| r.dst == net("203.0.113.0/24")));
            assert!(routes.iter().all(|r| r.via.is_some()));
            let r = routes
                .iter()
                .find(|r| r.dst == net("172.16.0.0/30"))
                .unwrap();
            assert_eq!(r.via, Some(ip("10.99.0.3")));
            assert!(!routes.iter().any(|r| r.dst == net("172.16.0.4/30")));
            // Two gateways, two objects; the stale one is gone.
            let objects = nl.nexthops_of(RTPROT_BGP).unwrap();
            assert_eq!(objects.len(), 2, "{objects:?}");
            assert!(!objects.contains(&stale));

            // The kernel drops the objects (as when their link goes down), and their
            // routes with them; new routes through the same gateway still go in.
            for id in &objects {
                nl.del_nexthop(*id).unwrap();
            }
            assert!(ours(&mut nl).is_empty());
            h.send(queue(&[FibChange::Replace {
                prefix: net("192.0.2.0/24"),
                next_hop: ip("10.99.0.2"),
                new: true,
            }]));
            settle(&h);
            assert_eq!(
                h.stats.errors.load(Ordering::Relaxed),
                1,
                "retried, not refused"
            );
            let routes = ours(&mut nl);
            assert_eq!(routes.len(), 1);
            assert_eq!(routes[0].via, Some(ip("10.99.0.2")));

            // The daemon ends: its routes and objects go.
            drop(h);
            assert!(ours(&mut nl).is_empty());
            assert!(nl.nexthops_of(RTPROT_BGP).unwrap().is_empty());
        })
        .join()
        .unwrap();
    }
}
