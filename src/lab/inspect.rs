//! Live state of a lab for `inspect`: what the kernel says, node by node, next to what
//! the Plan intended.

use std::io;
use std::os::fd::AsFd;

use nix::sched::{CloneFlags, setns};
use serde::{Deserialize, Serialize};

use crate::compile::Plan;
use crate::netlink::Netlink;
use crate::netlink::dump::{AddrRow, LinkRow, RouteRow};
use crate::netns;
use crate::topology::NodeKind;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabStatus {
    pub name: String,
    pub topology: String,
    pub supervisor_pid: u32,
    pub nodes: Vec<NodeStatus>,
    /// Every link with its engine, parameters and counters.
    pub links: Vec<super::links::LinkStatus>,
    /// What the kernel's traffic control offers (probed, never assumed).
    pub kernel: crate::link::caps::Capabilities,
    /// Every service: state, PID, restarts, uptime, last log lines.
    #[serde(default)]
    pub services: Vec<super::service::ServiceStatus>,
    /// A lab split across shards: each shard's state (empty for a lab on one machine).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<super::coordinator::ShardStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    pub name: String,
    pub kind: NodeKind,
    pub netns: String,
    pub links: Vec<LinkRow>,
    pub addrs: Vec<AddrRow>,
    pub routes: Vec<RouteRow>,
    pub processes: Vec<ProcessStatus>,
    /// The node's namespace is gone (deleted behind the lab's back): nothing else is known.
    #[serde(default)]
    pub missing: bool,
    /// CPU time used by the node's processes (nodes with limits: they have a cgroup).
    #[serde(default)]
    pub cpu_ns: Option<u64>,
    /// Memory in use by the node's processes (nodes with limits).
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessStatus {
    pub cmd: String,
    pub pid: u32,
    /// Exit status once it has ended.
    pub exit: Option<i32>,
}

/// Reads links, addresses and routes of every node, on one thread made for it that visits
/// each namespace in turn and then exits.
pub fn kernel_state(plan: &Plan) -> io::Result<Vec<NodeStatus>> {
    let nodes: Vec<(String, NodeKind, String)> = plan
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.kind, n.netns.clone()))
        .collect();
    let ctl = super::cgroup::Controllers::detect();
    let usage: Vec<(Option<u64>, Option<u64>)> = plan
        .nodes
        .iter()
        .map(|n| {
            if n.limits.cpu.is_none() && n.limits.memory.is_none() {
                return (None, None);
            }
            match super::cgroup::NodeCgroup::locate(&ctl, &plan.lab, &n.name) {
                Ok(g) => (g.cpu_ns(), g.memory_bytes()),
                Err(_) => (None, None),
            }
        })
        .collect();
    std::thread::Builder::new()
        .name("inspect".into())
        .spawn(move || {
            let mut out = Vec::with_capacity(nodes.len());
            for ((name, kind, ns), (cpu_ns, memory_bytes)) in nodes.into_iter().zip(usage) {
                let fd = match netns::open(&ns) {
                    Ok(fd) => fd,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        out.push(NodeStatus {
                            name,
                            kind,
                            netns: ns,
                            links: Vec::new(),
                            addrs: Vec::new(),
                            routes: Vec::new(),
                            processes: Vec::new(),
                            missing: true,
                            cpu_ns,
                            memory_bytes,
                        });
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                setns(fd.as_fd(), CloneFlags::CLONE_NEWNET)?;
                let mut nl = Netlink::open()?;
                out.push(NodeStatus {
                    name,
                    kind,
                    netns: ns,
                    links: nl.links()?,
                    addrs: nl.addrs()?,
                    routes: nl.routes()?,
                    processes: Vec::new(),
                    missing: false,
                    cpu_ns,
                    memory_bytes,
                });
            }
            Ok(out)
        })?
        .join()
        .map_err(|_| io::Error::other("inspect thread panicked"))?
}
