//! Reading a running lab for the web view: interface counters over netlink in each node's
//! namespace (one socket per namespace, opened once on a thread that visits them, so a
//! sample needs no `setns`), the supervisor's link and service state over the control
//! socket, and the BGP speakers' and OpenFlow controllers' views over theirs. All of it
//! blocks: callers run it on a blocking thread.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sched::{CloneFlags, setns};
use serde::Serialize;

use super::model::Counters;
use crate::compile::Plan;
use crate::daemon::{self, DaemonKind};
use crate::lab::control::{self, Request, Response};
use crate::lab::links::LinkStatus;
use crate::lab::service::{ServiceStatus, daemon_socket};
use crate::netlink::Netlink;
use crate::netlink::dump::{AddrRow, LinkCounters, LinkRow, RouteRow};
use crate::netns;

/// How long one control or daemon call may take before the tick goes without it.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A netlink socket in every user node's namespace (`None` where it could not be opened:
/// the namespace is gone). A socket keeps its namespace alive, so a namespace whose name
/// has gone (torn down, or deleted behind the lab's back) has its socket closed at the next
/// sample: the node shows as missing, and the namespace is not held.
pub struct Sampler {
    sockets: Vec<Option<Netlink>>,
    /// Each node's namespace file (`None`: internal node).
    paths: Vec<Option<PathBuf>>,
}

impl Sampler {
    /// Opens one socket per node of `plan` (internal nodes get `None`: they are not drawn).
    pub fn open(plan: &Plan) -> io::Result<Sampler> {
        let nets: Vec<Option<String>> = plan
            .nodes
            .iter()
            .map(|n| (!n.kind.is_internal()).then(|| n.netns.clone()))
            .collect();
        let paths = nets
            .iter()
            .map(|n| n.as_deref().and_then(|n| netns::path(n).ok()))
            .collect();
        let sockets = std::thread::Builder::new()
            .name("web-netns".into())
            .spawn(move || {
                nets.into_iter()
                    .map(|ns| {
                        let fd = netns::open(&ns?).ok()?;
                        setns(fd.as_fd(), CloneFlags::CLONE_NEWNET).ok()?;
                        Netlink::open().ok()
                    })
                    .collect::<Vec<_>>()
            })?
            .join()
            .map_err(|_| io::Error::other("namespace thread panicked"))?;
        Ok(Sampler { sockets, paths })
    }

    /// Every node's interface counters (a node whose dump fails is `None`).
    pub fn counters(&mut self) -> Counters {
        for (s, p) in self.sockets.iter_mut().zip(&self.paths) {
            if s.is_some() && !p.as_deref().is_some_and(Path::exists) {
                *s = None;
            }
        }
        self.sockets
            .iter_mut()
            .map(|s| {
                let rows = s.as_mut()?.link_counters().ok()?;
                Some(
                    rows.into_iter()
                        .map(|c| (c.ifindex, c))
                        .collect::<HashMap<u32, LinkCounters>>(),
                )
            })
            .collect()
    }

    /// Interfaces, addresses and routes of node `idx` (an index into the Plan's nodes).
    pub fn node_kernel(&mut self, idx: usize) -> io::Result<NodeKernel> {
        let nl = self
            .sockets
            .get_mut(idx)
            .and_then(Option::as_mut)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "namespace is gone"))?;
        Ok(NodeKernel {
            links: nl.links()?,
            counters: nl.link_counters()?,
            addrs: nl.addrs()?,
            routes: nl.routes()?,
        })
    }
}

/// A node's kernel state, for the node panel.
#[derive(Debug, Clone, Serialize)]
pub struct NodeKernel {
    pub links: Vec<LinkRow>,
    pub counters: Vec<LinkCounters>,
    pub addrs: Vec<AddrRow>,
    pub routes: Vec<RouteRow>,
}

/// The supervisor's link and service state (services without log tails).
pub fn live(run_dir: &Path) -> io::Result<(Vec<LinkStatus>, Vec<ServiceStatus>)> {
    match control::call(run_dir, &Request::Live, CALL_TIMEOUT)? {
        Response::Live { links, services } => Ok((links, services)),
        Response::Error { message } => Err(io::Error::other(message)),
        other => Err(io::Error::other(format!("unexpected answer {other:?}"))),
    }
}

/// The daemons the view asks each tick: BGP speakers (`summary`) and OpenFlow
/// controllers (`switches`), with their sockets, found once from the Plan.
pub struct Daemons {
    bgp: Vec<(String, PathBuf)>,
    controllers: Vec<(String, PathBuf)>,
}

impl Daemons {
    pub fn of(plan: &Plan, run_dir: &Path) -> Daemons {
        let find = |kinds: &[DaemonKind]| {
            plan.user_nodes()
                .filter_map(|n| Some((n.name.clone(), daemon_socket(run_dir, n, kinds)?)))
                .collect()
        };
        Daemons {
            bgp: find(&[DaemonKind::Bgp]),
            controllers: find(&[DaemonKind::Controller]),
        }
    }

    /// Each BGP speaker's summary (speakers that do not answer are left out).
    pub fn bgp(&self) -> Vec<(String, serde_json::Value)> {
        let req = daemon::Request::Bgp {
            view: "summary".into(),
            peer: None,
            prefix: None,
        };
        ask(&self.bgp, &req, |r| match r {
            daemon::Response::Bgp { data, .. } => Some(data),
            _ => None,
        })
    }

    /// Each OpenFlow controller's switches.
    pub fn openflow(&self) -> Vec<(String, serde_json::Value)> {
        let req = daemon::Request::Openflow {
            view: "switches".into(),
        };
        ask(&self.controllers, &req, |r| match r {
            daemon::Response::Openflow { data, .. } => Some(data),
            _ => None,
        })
    }
}

fn ask(
    daemons: &[(String, PathBuf)],
    req: &daemon::Request,
    pick: impl Fn(daemon::Response) -> Option<serde_json::Value>,
) -> Vec<(String, serde_json::Value)> {
    daemons
        .iter()
        .filter_map(|(node, sock)| {
            let r = daemon::call(sock, req, CALL_TIMEOUT).ok()?;
            Some((node.clone(), pick(r)?))
        })
        .collect()
}
