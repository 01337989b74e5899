//! What a process of a node joins: the node's network namespace, its mount namespace (when
//! it has `private_dirs`) and its cgroup (when it has `cpu:`/`memory:` limits).
//!
//! ```text
//!  NodeEnv::open(lab, run_dir, node)   fds opened in the parent, before fork
//!  env.prepare(&mut cmd, own_group)    child, after fork and before exec:
//!                                        write "0" to each cgroup.procs (joins the group)
//!                                        setns(net), setns(mnt), fresh /sys view
//! ```
//! Every `run:` process, service, `exec` and `shell` of a node goes through here, so none
//! escapes the node's limits or sees the machine's copy of a private directory. The child
//! only makes raw syscalls on fds opened before the fork (nothing allocates after fork).
//! Also: [`setup`] makes the cgroups at `up` (journaled first); [`check`] refuses limits the
//! machine cannot enforce before anything is made.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::sched::{CloneFlags, setns};

use super::LabError;
use super::cgroup::{Controllers, Limits, NodeCgroup};
use super::journal::{Entry, Journal};
use crate::compile::{NodePlan, Plan};
use crate::netns;

/// The namespaces and cgroup of one node, open.
pub struct NodeEnv {
    net: OwnedFd,
    mnt: Option<OwnedFd>,
    /// `cgroup.procs` of the node's group in each hierarchy, open for writing.
    cgroup_procs: Vec<OwnedFd>,
}

/// The node's limits as the cgroup module takes them.
pub fn limits_of(node: &NodePlan) -> Limits {
    Limits {
        cpu: node.limits.cpu,
        memory: node.limits.memory,
    }
}

fn has_limits(node: &NodePlan) -> bool {
    node.limits.cpu.is_some() || node.limits.memory.is_some()
}

/// Where a node's mount namespace is pinned: `<run_dir>/mnt/<node>`.
pub fn mnt_pin(run_dir: &Path, node: &str) -> io::Result<std::path::PathBuf> {
    if !netns::valid_name(node) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{}` is not a node name", node.escape_debug()),
        ));
    }
    Ok(run_dir.join("mnt").join(node))
}

impl NodeEnv {
    /// Opens what node `node` of lab `lab` (run directory `run_dir`) has.
    pub fn open(lab: &str, run_dir: &Path, node: &NodePlan) -> io::Result<NodeEnv> {
        let net = netns::open(&node.netns)?;
        let mnt = if node.private_dirs.is_empty() {
            None
        } else {
            let p = mnt_pin(run_dir, &node.name)?;
            let f = File::options()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&p)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
            Some(f.into())
        };
        let mut cgroup_procs = Vec::new();
        if has_limits(node) {
            let g = NodeCgroup::locate(&Controllers::detect(), lab, &node.name)?;
            for d in g.dirs() {
                let p = d.join("cgroup.procs");
                let f = File::options()
                    .write(true)
                    .open(&p)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
                cgroup_procs.push(f.into());
            }
        }
        Ok(NodeEnv {
            net,
            mnt,
            cgroup_procs,
        })
    }

    /// What the child runs between fork and exec.
    fn join(&self) -> io::Result<()> {
        for fd in &self.cgroup_procs {
            // "0": the writing process itself (v1 and v2).
            // SAFETY: a valid fd and a 1-byte static buffer.
            if unsafe { libc::write(fd.as_raw_fd(), c"0".as_ptr().cast(), 1) } != 1 {
                return Err(io::Error::last_os_error());
            }
        }
        setns(self.net.as_fd(), CloneFlags::CLONE_NEWNET)?;
        if let Some(m) = &self.mnt {
            setns(m.as_fd(), CloneFlags::CLONE_NEWNS)?;
        }
        netns::exec::enter_sysfs_view();
        Ok(())
    }

    /// Makes `cmd`'s child join the node. With `own_group`, the child leads a new process
    /// group (so that it can be stopped with everything it starts).
    pub fn prepare(self, cmd: &mut std::process::Command, own_group: bool) {
        use std::os::unix::process::CommandExt;
        if own_group {
            cmd.process_group(0);
        }
        // SAFETY: `join` makes raw syscalls on fds opened before the fork.
        unsafe {
            cmd.pre_exec(move || self.join());
        }
    }

    /// [`NodeEnv::prepare`] for tokio's `Command`.
    pub fn prepare_tokio(self, cmd: &mut tokio::process::Command, own_group: bool) {
        if own_group {
            cmd.process_group(0);
        }
        // SAFETY: as in `prepare`.
        unsafe {
            cmd.pre_exec(move || self.join());
        }
    }

    /// Replaces the calling process with `argv` inside the node (the CLI's `exec` and
    /// `shell`; call it single-threaded). Only returns on error.
    pub fn exec_replace(self, argv: &[impl AsRef<std::ffi::OsStr>]) -> io::Error {
        use std::os::unix::process::CommandExt;
        if let Err(e) = self.join() {
            return e;
        }
        let mut cmd = std::process::Command::new(argv[0].as_ref());
        cmd.args(argv[1..].iter().map(|a| a.as_ref()));
        cmd.exec()
    }
}

/// Refuses, before anything is made, limits this machine cannot enforce.
pub fn check(plan: &Plan) -> Result<(), LabError> {
    let mut ctl = None;
    for node in plan.nodes.iter().filter(|n| has_limits(n)) {
        let ctl = ctl.get_or_insert_with(Controllers::detect);
        ctl.check(&limits_of(node))
            .map_err(|msg| LabError::Limits {
                node: node.name.clone(),
                msg,
            })?;
    }
    Ok(())
}

/// Makes the cgroup of every node with limits, each journaled before it is made.
pub fn setup(plan: &Plan, journal: &mut Journal) -> Result<(), LabError> {
    let mut ctl = None;
    for node in plan.nodes.iter().filter(|n| has_limits(n)) {
        let ctl = ctl.get_or_insert_with(Controllers::detect);
        journal
            .append(&Entry::Cgroup {
                node: node.name.clone(),
            })
            .map_err(LabError::Journal)?;
        NodeCgroup::create(ctl, &plan.lab, &node.name, &limits_of(node)).map_err(|e| {
            LabError::Kernel {
                what: format!("{}: cgroup", node.name),
                source: e,
            }
        })?;
    }
    Ok(())
}
