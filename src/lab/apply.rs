//! Apply: a [`Plan`] becomes kernel state, through netlink only.
//!
//! ```text
//!  phase 1, W worker threads         phase 2, one socket           phase 3, per namespace
//!  ┌──────────────────────────┐      ┌───────────────────────┐     ┌──────────────────────┐
//!  │ unshare + name namespace │      │ every veth, both ends │     │ addresses, routes,   │
//!  │ sysctls, lo up, bridge   │ ───▶ │ placed in their ns by │ ──▶ │ 2nd bridge port of   │
//!  │ open ns fd + nl socket   │      │ fd, up, port joined   │     │ switch–switch links  │
//!  └──────────────────────────┘      └───────────────────────┘     └──────────────────────┘
//! ```
//! Phase 1 threads are spawned for this call and exit after it: a thread that unshared a
//! namespace never runs anything else. Every request goes out in batches (see
//! [`crate::netlink`]); ifindexes come from the Plan, so no phase waits for an answer
//! before sending the next request. The journal records every namespace (with its identity)
//! after its name is claimed and before it is mounted, so teardown deletes exactly the
//! namespaces this lab made. A cancel flag is checked between namespaces and stages.

use std::collections::HashSet;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::compile::{IfaceRef, MgmtHost, MgmtPlan, Plan, PortRole};
use crate::netlink::{BridgeOpts, Netlink, NetlinkError, Op, VethEnd, VxlanOpts};
use crate::{link, netns};

use super::LabError;
use super::journal::{Entry, Journal};

/// Progress of a long apply, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub stage: Stage,
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Namespaces,
    Links,
    Addresses,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Namespaces => "namespaces",
            Stage::Links => "links",
            Stage::Addresses => "addresses and routes",
        }
    }
}

pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Sync);

/// A namespace made by phase 1: its fd and sockets opened inside it.
struct NsHandle {
    fd: OwnedFd,
    nl: Netlink,
    /// For ethtool ioctls, when some interface of the node needs its offloads changed.
    ioctl: Option<OwnedFd>,
}

pub fn apply(
    plan: &Plan,
    journal: &mut Journal,
    workers: usize,
    progress: ProgressFn<'_>,
    cancel: Option<&AtomicBool>,
    underlay: Option<&str>,
) -> Result<(), LabError> {
    let check = || match cancel {
        Some(c) if c.load(Ordering::Relaxed) => Err(LabError::Interrupted),
        _ => Ok(()),
    };
    netns::ensure_dir().map_err(|e| LabError::Kernel {
        what: "prepare /run/netns".into(),
        source: e,
    })?;

    let t = std::time::Instant::now();
    let journal = Mutex::new(journal);
    let handles = create_namespaces(plan, &journal, workers, progress, cancel)?;
    let mgmt = match &plan.mgmt {
        Some(m) => Some(create_mgmt_namespace(m, &journal)?),
        None => None,
    };
    tracing::debug!(elapsed = ?t.elapsed(), "namespaces");
    check()?;
    let t = std::time::Instant::now();
    create_links(plan, &handles, mgmt.as_ref(), progress)?;
    create_vxlans(plan, &handles, underlay)?;
    check()?;
    if let Some(m) = &plan.mgmt
        && let (Some(host), Some(ns)) = (&m.host, &mgmt)
    {
        create_host_link(m, host, ns, &mut journal.lock().unwrap())?;
    }
    tracing::debug!(elapsed = ?t.elapsed(), "links");
    let t = std::time::Instant::now();
    let r = configure(plan, handles, progress);
    tracing::debug!(elapsed = ?t.elapsed(), "addresses and routes");
    r
}

/// The management namespace with its bridge, on a thread made for it (which exits after).
/// Nothing forwards there: it is one L2 segment.
fn create_mgmt_namespace(
    m: &MgmtPlan,
    journal: &Mutex<&mut Journal>,
) -> Result<NsHandle, LabError> {
    let kernel = |what: String| move |e: std::io::Error| LabError::Kernel { what, source: e };
    std::thread::scope(|s| {
        s.spawn(|| {
            let record = |id: netns::NsIdent| {
                journal.lock().unwrap().append(&Entry::Namespace {
                    name: m.netns.clone(),
                    dev: id.dev,
                    ino: id.ino,
                    placeholder: id.placeholder,
                })
            };
            let fd = netns::create_and_enter(&m.netns, record).map_err(|e| {
                if netns::is_taken(&e) {
                    LabError::NamespaceExists(m.netns.clone())
                } else {
                    kernel(format!("create namespace {}", m.netns))(e)
                }
            })?;
            netns::write_sysctl("net.ipv4.ip_forward", "0")
                .map_err(kernel("management network: ip_forward".into()))?;
            netns::write_sysctl("net.ipv6.conf.all.forwarding", "0")
                .map_err(kernel("management network: ipv6 forwarding".into()))?;
            let mut nl = Netlink::open().map_err(kernel("management network: netlink".into()))?;
            let ops = [
                Op::SetUp { ifindex: 1 },
                Op::AddBridge(BridgeOpts {
                    name: m.bridge.clone(),
                    ifindex: m.bridge_ifindex,
                    mac: m.bridge_mac.0,
                    stp: false,
                }),
            ];
            nl.run_all(&ops)
                .map_err(|e| netlink_err("management network", e))?;
            Ok(NsHandle {
                fd,
                nl,
                ioctl: None,
            })
        })
        .join()
        .unwrap_or_else(|_| {
            Err(LabError::Kernel {
                what: "management network".into(),
                source: std::io::Error::other("worker panicked"),
            })
        })
    })
}

/// `mgmt: {host: true}`: the veth whose one end is a port of the management bridge and
/// whose other end is in the root namespace (this thread's), with the host address and
/// only its connected prefix. The kernel picks its ifindex there, so the journal records
/// the name before it exists and name + ifindex right after; teardown deletes it only
/// while both still match. (Should a crash fall between the two records, the veth still
/// goes with the management namespace: deleting one end of a veth deletes its peer.)
fn create_host_link(
    m: &MgmtPlan,
    host: &MgmtHost,
    mgmt: &NsHandle,
    journal: &mut Journal,
) -> Result<(), LabError> {
    let kernel = |what: &str| {
        let what = format!("management network: {what}");
        move |e: std::io::Error| LabError::Kernel { what, source: e }
    };
    let root = std::fs::File::open("/proc/thread-self/ns/net").map_err(kernel("root namespace"))?;
    let mut nl = Netlink::open().map_err(kernel("netlink socket"))?;
    let record = |journal: &mut Journal, ifindex| {
        journal
            .append(&Entry::HostLink {
                name: host.ifname.clone(),
                ifindex,
            })
            .map_err(LabError::Journal)
    };
    record(journal, 0)?;
    let op = Op::AddVeth {
        a: VethEnd {
            name: host.peer.clone(),
            ifindex: host.peer_ifindex,
            mac: host.peer_mac.0,
            mtu: 1500,
            netns: mgmt.fd.as_raw_fd(),
            master: Some(m.bridge_ifindex),
            label: format!("{}:{}", m.netns, host.peer),
        },
        b: VethEnd {
            name: host.ifname.clone(),
            ifindex: 0,
            mac: host.mac.0,
            mtu: 1500,
            netns: root.as_raw_fd(),
            master: None,
            label: format!("root namespace:{}", host.ifname),
        },
    };
    nl.run_all(std::slice::from_ref(&op))
        .map_err(|e| netlink_err("management network", e))?;
    let ifindex = nl
        .links()
        .map_err(kernel("list links"))?
        .into_iter()
        .find(|l| l.name == host.ifname)
        .map(|l| l.ifindex)
        .ok_or_else(|| {
            kernel("host link")(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} vanished after it was made", host.ifname),
            ))
        })?;
    record(journal, ifindex)?;
    let mut ops = vec![Op::SetUp { ifindex }];
    ops.extend(
        host.addrs
            .iter()
            .map(|net| Op::AddAddr { ifindex, net: *net }),
    );
    nl.run_all(&ops)
        .map_err(|e| netlink_err("management network", e))
}

fn create_namespaces(
    plan: &Plan,
    journal: &Mutex<&mut Journal>,
    workers: usize,
    progress: ProgressFn<'_>,
    cancel: Option<&AtomicBool>,
) -> Result<Vec<NsHandle>, LabError> {
    let total = plan.nodes.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<NsHandle>>> = (0..total).map(|_| Mutex::new(None)).collect();
    let first_error: Mutex<Option<LabError>> = Mutex::new(None);

    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, total.max(1)) {
            s.spawn(|| {
                // This thread moves from namespace to namespace and exits at the end.
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total || first_error.lock().unwrap().is_some() {
                        return;
                    }
                    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                        first_error
                            .lock()
                            .unwrap()
                            .get_or_insert(LabError::Interrupted);
                        return;
                    }
                    match setup_namespace(plan, i, journal) {
                        Ok(h) => *slots[i].lock().unwrap() = Some(h),
                        Err(e) => {
                            first_error.lock().unwrap().get_or_insert(e);
                            return;
                        }
                    }
                    let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if d.is_multiple_of(16) || d == total {
                        progress(Progress {
                            stage: Stage::Namespaces,
                            done: d,
                            total,
                        });
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap() {
        return Err(e);
    }
    Ok(slots
        .into_iter()
        .map(|m| m.into_inner().unwrap().expect("every namespace was made"))
        .collect())
}

/// Runs on a phase-1 worker thread, which is left inside the new namespace.
fn setup_namespace(
    plan: &Plan,
    i: usize,
    journal: &Mutex<&mut Journal>,
) -> Result<NsHandle, LabError> {
    let node = &plan.nodes[i];
    let kernel = |what: String| move |e: std::io::Error| LabError::Kernel { what, source: e };
    let record = |id: netns::NsIdent| {
        journal.lock().unwrap().append(&Entry::Namespace {
            name: node.netns.clone(),
            dev: id.dev,
            ino: id.ino,
            placeholder: id.placeholder,
        })
    };
    let fd = netns::create_and_enter(&node.netns, record).map_err(|e| {
        if netns::is_taken(&e) {
            LabError::NamespaceExists(node.netns.clone())
        } else {
            kernel(format!("create namespace {}", node.netns))(e)
        }
    })?;
    for (k, v) in &node.sysctls {
        // Checked at validate; checked again so no Plan can write outside /proc/sys/net.
        crate::topology::names::check_sysctl_key(k).map_err(|msg| LabError::Kernel {
            what: format!("{}: sysctl {k}", node.name),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, msg),
        })?;
        netns::write_sysctl(k, v).map_err(kernel(format!("{}: sysctl {k}={v}", node.name)))?;
    }
    let mut nl = Netlink::open().map_err(kernel(format!("{}: netlink socket", node.name)))?;
    let mut ops = vec![Op::SetUp { ifindex: 1 }];
    ops.extend(node.loopback.iter().map(|net| Op::AddAddr {
        ifindex: 1,
        net: *net,
    }));
    if let Some(b) = &node.bridge {
        ops.push(Op::AddBridge(BridgeOpts {
            name: b.name.clone(),
            ifindex: b.ifindex,
            mac: b.mac.0,
            stp: b.stp,
        }));
    }
    nl.run_all(&ops).map_err(|e| netlink_err(&node.name, e))?;
    let ioctl = if node.ifaces.iter().any(|i| !i.offloads) {
        Some(netns::ethtool::ioctl_socket().map_err(kernel(format!("{}: socket", node.name)))?)
    } else {
        None
    };
    Ok(NsHandle { fd, nl, ioctl })
}

/// Creates every veth, both ends up and in their namespaces.
fn create_links(
    plan: &Plan,
    ns: &[NsHandle],
    mgmt: Option<&NsHandle>,
    progress: ProgressFn<'_>,
) -> Result<(), LabError> {
    let mut nl = Netlink::open().map_err(|e| LabError::Kernel {
        what: "netlink socket".into(),
        source: e,
    })?;
    let ops: Vec<Op> = plan
        .veths
        .iter()
        .map(|v| {
            let (a, b) = main_end_first(plan, v.a, v.b);
            let mut main = veth_end(plan, ns, a);
            main.master = bridge_of(plan, a);
            Op::AddVeth {
                a: main,
                b: veth_end(plan, ns, b),
            }
        })
        .collect();
    let mut ops = ops;
    if let (Some(m), Some(mns)) = (&plan.mgmt, mgmt) {
        // The bridge port is the main end (it joins br0 in the create request); `mgmt0`
        // comes up in `configure` with the node's other interfaces.
        ops.extend(m.nodes.iter().map(|i| Op::AddVeth {
            a: VethEnd {
                name: i.peer.clone(),
                ifindex: i.peer_ifindex,
                mac: i.peer_mac.0,
                mtu: 1500,
                netns: mns.fd.as_raw_fd(),
                master: Some(m.bridge_ifindex),
                label: format!("{}:{}", m.netns, i.peer),
            },
            b: VethEnd {
                name: i.ifname.clone(),
                ifindex: i.ifindex,
                mac: i.mac.0,
                mtu: 1500,
                netns: ns[i.node].fd.as_raw_fd(),
                master: None,
                label: format!("{}:{}", plan.nodes[i.node].name, i.ifname),
            },
        }));
    }
    let total = ops.len();
    for (n, chunk) in ops.chunks(256).enumerate() {
        nl.run_all(chunk).map_err(|e| netlink_err("links", e))?;
        progress(Progress {
            stage: Stage::Links,
            done: (n * 256 + chunk.len()).min(total),
            total,
        });
    }
    Ok(())
}

/// A shard's VXLAN devices (issue 13), each in its node's (or the fabric's) namespace,
/// requested from a netlink socket opened in the underlay namespace (`underlay`, a name
/// under /run/netns; `None`: this process's namespace), where their UDP sockets stay.
///
/// No journal entry of their own: a device goes when the namespace it is in is deleted
/// (teardown deletes the lab's namespaces), and also when the underlay namespace is
/// deleted (the VXLAN driver removes the devices whose socket lived there). They are up
/// from creation; addresses come in `configure` with the node's other interfaces.
fn create_vxlans(plan: &Plan, ns: &[NsHandle], underlay: Option<&str>) -> Result<(), LabError> {
    if plan.vxlans.is_empty() {
        return Ok(());
    }
    let ops: Vec<Op> = plan
        .vxlans
        .iter()
        .map(|v| {
            let node = &plan.nodes[v.iface.node];
            let i = plan.iface(v.iface);
            Op::AddVxlan(VxlanOpts {
                name: i.name.clone(),
                ifindex: i.ifindex,
                mac: i.mac.0,
                mtu: i.mtu,
                vni: v.vni,
                local: v.local,
                remote: v.remote,
                port: v.port,
                ttl: VXLAN_TTL,
                netns: ns[v.iface.node].fd.as_raw_fd(),
                label: format!("{}:{}", node.name, i.name),
            })
        })
        .collect();
    let kernel = |what: String| move |e: std::io::Error| LabError::Kernel { what, source: e };
    let run = move || -> std::io::Result<Result<(), crate::netlink::NetlinkError>> {
        let mut nl = Netlink::open()?;
        for op in &ops {
            // EEXIST: the same VNI and port are still taken in the underlay namespace —
            // by a previous run of this shard whose namespaces the kernel is still
            // deleting (that runs in the background after `clean` or a teardown), or by
            // another lab. Wait a little for the first; then report it.
            let t = std::time::Instant::now();
            loop {
                match nl.run_all(std::slice::from_ref(op)) {
                    Err(e) if e.errno() == Some(libc::EEXIST) && t.elapsed() < VXLAN_BUSY_WAIT => {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    Err(e) => return Ok(Err(e)),
                    Ok(()) => break,
                }
            }
        }
        Ok(Ok(()))
    };
    let r = match underlay {
        Some(name) => {
            let fd =
                netns::open(name).map_err(kernel(format!("open underlay namespace {name}")))?;
            // The namespace fds in `ops` stay open: `ns` outlives this call.
            netns::run_in(fd, run)
        }
        None => run(),
    };
    r.map_err(kernel("netlink socket in the underlay namespace".into()))?
        .map_err(|e| netlink_err("vxlan", e))
}

/// In a shard's fabric: frames arriving on a VXLAN relay port were impaired by the other
/// shard, so the kernel passes them straight to the relay port facing the local node
/// (ingress redirect; the relay does not read that port, see `Relay::start_dirs`).
fn pass_through_ops(plan: &Plan, node: usize) -> Vec<Op> {
    let mut ops = Vec::new();
    for v in plan.vxlans.iter().filter(|v| v.iface.node == node) {
        let Some(r) = plan.links[v.link].relay else {
            continue;
        };
        let to = if v.iface == r.a { r.b } else { r.a };
        let (from, to) = (plan.iface(v.iface).ifindex, plan.iface(to).ifindex);
        ops.push(Op::Tc {
            kind: crate::netlink::TcKind::AddQdisc,
            msg: crate::netlink::tc::ingress_qdisc(from),
            what: format!("ingress qdisc on ifindex {from}"),
        });
        ops.push(Op::Tc {
            kind: crate::netlink::TcKind::AddFilter,
            msg: crate::netlink::tc::redirect_filter(from, to),
            what: format!("redirect ifindex {from} to {to}"),
        });
    }
    ops
}

/// How long a VXLAN end waits for its VNI and port to be freed in the underlay namespace.
const VXLAN_BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// TTL of VXLAN packets on the underlay.
const VXLAN_TTL: u8 = 64;

/// The end created as the veth's main device: a bridge port if there is one, so that it
/// joins its bridge in the create request.
fn main_end_first(plan: &Plan, a: IfaceRef, b: IfaceRef) -> (IfaceRef, IfaceRef) {
    if bridge_of(plan, a).is_none() && bridge_of(plan, b).is_some() {
        (b, a)
    } else {
        (a, b)
    }
}

/// The bridge ifindex an interface must join, if it is a forwarding switch port.
fn bridge_of(plan: &Plan, r: IfaceRef) -> Option<u32> {
    let node = &plan.nodes[r.node];
    match (node.ifaces[r.iface].port, &node.bridge) {
        (Some(PortRole::Forwarding), Some(b)) => Some(b.ifindex),
        _ => None,
    }
}

fn veth_end(plan: &Plan, ns: &[NsHandle], r: IfaceRef) -> VethEnd {
    let node = &plan.nodes[r.node];
    let i = &node.ifaces[r.iface];
    VethEnd {
        name: i.name.clone(),
        ifindex: i.ifindex,
        mac: i.mac.0,
        mtu: i.mtu,
        netns: ns[r.node].fd.as_raw_fd(),
        master: None,
        label: format!("{}:{}", node.name, i.name),
    }
}

fn configure(plan: &Plan, ns: Vec<NsHandle>, progress: ProgressFn<'_>) -> Result<(), LabError> {
    let total = plan.nodes.len();
    // Peer ends cannot come up inside the create request (the veth driver refuses to
    // open a peer before the pair is linked: ENOTCONN), so they come up here, and a
    // bridge port that was a peer joins its bridge here; so does a VXLAN end of a switch
    // (a cross-shard link, issue 13: created in the underlay's request, outside the
    // bridge's namespace).
    let peers: HashSet<IfaceRef> = plan
        .veths
        .iter()
        .map(|v| main_end_first(plan, v.a, v.b).1)
        .chain(plan.vxlans.iter().map(|v| v.iface))
        .collect();
    let mgmt: std::collections::HashMap<usize, &crate::compile::MgmtIface> = plan
        .mgmt
        .iter()
        .flat_map(|m| m.nodes.iter().map(|i| (i.node, i)))
        .collect();
    for (i, (node, mut h)) in plan.nodes.iter().zip(ns).enumerate() {
        let mut ops = Vec::new();
        if let Some(m) = mgmt.get(&i) {
            mgmt_ipv6_on(node, m, &h)?;
            ops.push(Op::SetUp { ifindex: m.ifindex });
            ops.extend(m.addrs.iter().map(|net| Op::AddAddr {
                ifindex: m.ifindex,
                net: *net,
            }));
        }
        for (k, iface) in node.ifaces.iter().enumerate() {
            let me = IfaceRef { node: i, iface: k };
            if peers.contains(&me) {
                if let Some(master) = bridge_of(plan, me) {
                    ops.push(Op::SetMaster {
                        ifindex: iface.ifindex,
                        master,
                    });
                }
                ops.push(Op::SetUp {
                    ifindex: iface.ifindex,
                });
            }
            ops.extend(iface.addrs.iter().map(|net| Op::AddAddr {
                ifindex: iface.ifindex,
                net: *net,
            }));
        }
        ops.extend(node.routes.iter().map(|r| Op::AddRoute {
            dst: r.dst,
            via: r.via,
            dev: r.dev,
        }));
        for shaper in &node.shapers {
            ops.extend(link::kernel::shaper_ops(shaper));
        }
        ops.extend(pass_through_ops(plan, i));
        if let Some(sock) = &h.ioctl {
            for iface in node.ifaces.iter().filter(|i| !i.offloads) {
                netns::ethtool::set_tx_offloads(sock.as_fd(), &iface.name, false).map_err(|e| {
                    LabError::Kernel {
                        what: format!("{}: offloads off on {}", node.name, iface.name),
                        source: e,
                    }
                })?;
            }
        }
        if !ops.is_empty() {
            h.nl.run_all(&ops).map_err(|e| netlink_err(&node.name, e))?;
        }
        if let Some(m) = mgmt.get(&i) {
            seal_mgmt(node, m, &h)?;
        }
        if (i + 1).is_multiple_of(64) || i + 1 == total {
            progress(Progress {
                stage: Stage::Addresses,
                done: i + 1,
                total,
            });
        }
    }
    Ok(())
}

/// A node whose interfaces are made with IPv6 off (`default.disable_ipv6=1`, an OpenFlow
/// switch's ports) gets it back on `mgmt0` when that has an IPv6 address.
fn mgmt_ipv6_on(
    node: &crate::compile::NodePlan,
    m: &crate::compile::MgmtIface,
    h: &NsHandle,
) -> Result<(), LabError> {
    let off = node
        .sysctls
        .iter()
        .any(|(k, v)| k == "net.ipv6.conf.default.disable_ipv6" && v == "1");
    if !off || !m.addrs.iter().any(|a| a.addr().is_ipv6()) {
        return Ok(());
    }
    let key = format!("net.ipv6.conf.{}.disable_ipv6", m.ifname);
    let fd = h.fd.try_clone().map_err(|e| LabError::Kernel {
        what: format!("{}: namespace fd", node.name),
        source: e,
    })?;
    netns::run_in(fd, move || netns::write_sysctl(&key, "0")).map_err(|e| LabError::Kernel {
        what: format!("{}: IPv6 on {}", node.name, m.ifname),
        source: e,
    })
}

/// `mgmt0` reaches its own address and nothing else: the node answers ARP there only for
/// the management address (`arp_ignore=1`: by default Linux answers for every address of the
/// node on every interface, which would let a host bound to the management network reach
/// data-plane addresses), and never forwards what arrives there (IPv4 forwarding is per
/// receiving interface). IPv6 needs nothing: neighbour discovery answers only for the
/// receiving interface's own addresses. Written from a thread inside the node's namespace
/// (sysctls resolve against the writer's namespace).
fn seal_mgmt(
    node: &crate::compile::NodePlan,
    m: &crate::compile::MgmtIface,
    h: &NsHandle,
) -> Result<(), LabError> {
    let ifname = m.ifname.clone();
    let fd = h.fd.try_clone().map_err(|e| LabError::Kernel {
        what: format!("{}: namespace fd", node.name),
        source: e,
    })?;
    netns::run_in(fd, move || {
        for (key, value) in [("arp_ignore", "1"), ("forwarding", "0")] {
            netns::write_sysctl(&format!("net.ipv4.conf.{ifname}.{key}"), value)?;
        }
        Ok(())
    })
    .map_err(|e| LabError::Kernel {
        what: format!("{}: seal {}", node.name, m.ifname),
        source: e,
    })
}

fn netlink_err(node: &str, e: NetlinkError) -> LabError {
    LabError::Netlink {
        node: node.to_string(),
        source: e,
    }
}
