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

/// Gives every node with `private_dirs` its own mount namespace, pinned on
/// `<run_dir>/mnt/<node>` (a private mount point, so the pin never propagates), in which
/// each private directory is a bind of `<run_dir>/private/<node>/<k>`: a copy of the
/// machine's directory (made if the machine has none) with the node's `files:` written in.
/// The machine's directories are never written to.
pub fn setup_private_dirs(plan: &Plan, run_dir: &Path) -> Result<(), LabError> {
    let nodes: Vec<&NodePlan> = plan
        .nodes
        .iter()
        .filter(|n| !n.private_dirs.is_empty())
        .collect();
    if nodes.is_empty() {
        return Ok(());
    }
    let kernel = |what: String| move |e: io::Error| LabError::Kernel { what, source: e };
    let mnt = run_dir.join("mnt");
    std::fs::create_dir_all(&mnt).map_err(kernel(format!("{}", mnt.display())))?;
    private_mount_point(&mnt).map_err(kernel(format!("{}", mnt.display())))?;
    for node in nodes {
        let what = format!("{}: private directories", node.name);
        let mut backing = Vec::new();
        for (k, d) in node.private_dirs.iter().enumerate() {
            let b = run_dir.join("private").join(&node.name).join(k.to_string());
            std::fs::create_dir_all(&b).map_err(kernel(what.clone()))?;
            if d.is_dir() {
                copy_owner_mode(d, &b).map_err(kernel(what.clone()))?;
                copy_tree(d, &b).map_err(kernel(format!("{what}: copy {}", d.display())))?;
            } else {
                std::fs::create_dir_all(d).map_err(kernel(format!("{what}: {}", d.display())))?;
            }
            backing.push((d.clone(), b));
        }
        for f in &node.files {
            let Some((dir, b)) = backing.iter().find(|(d, _)| f.path.starts_with(d)) else {
                continue;
            };
            let rel = f.path.strip_prefix(dir).unwrap_or(&f.path);
            if !rel
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
            {
                continue;
            }
            let p = b.join(rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(kernel(what.clone()))?;
            }
            std::fs::write(&p, &f.content)
                .map_err(kernel(format!("{what}: {}", f.path.display())))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode))
                .map_err(kernel(what.clone()))?;
        }
        let pin = mnt_pin(run_dir, &node.name).map_err(kernel(what.clone()))?;
        make_mount_ns(&backing, &pin).map_err(kernel(what))?;
    }
    Ok(())
}

/// Binds `dir` on itself (if it is not a mount point yet) and makes it private.
fn private_mount_point(dir: &Path) -> io::Result<()> {
    use nix::mount::{MsFlags, mount};
    let private = || {
        mount(
            None::<&str>,
            dir,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
    };
    match private() {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EINVAL) => {
            mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND, None::<&str>)?;
            private().map_err(io::Error::from)
        }
        Err(e) => Err(e.into()),
    }
}

/// A thread unshares its mount namespace, binds each `(dir, backing)` there, and waits
/// while this thread pins that namespace on `pin`; then it exits.
fn make_mount_ns(binds: &[(std::path::PathBuf, std::path::PathBuf)], pin: &Path) -> io::Result<()> {
    use nix::mount::{MsFlags, mount};
    let (tx, rx) = std::sync::mpsc::channel::<io::Result<i32>>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let binds = binds.to_vec();
    let t = std::thread::Builder::new()
        .name("mountns".into())
        .spawn(move || {
            let r = (|| -> io::Result<i32> {
                nix::sched::unshare(CloneFlags::CLONE_NEWNS)?;
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_SLAVE | MsFlags::MS_REC,
                    None::<&str>,
                )?;
                for (dir, backing) in &binds {
                    mount(
                        Some(backing.as_path()),
                        dir.as_path(),
                        None::<&str>,
                        MsFlags::MS_BIND,
                        None::<&str>,
                    )?;
                }
                Ok(nix::unistd::gettid().as_raw())
            })();
            let _ = tx.send(r);
            let _ = done_rx.recv();
        })?;
    let r = rx
        .recv()
        .map_err(|_| io::Error::other("mount namespace thread died"))
        .and_then(|r| r)
        .and_then(|tid| {
            File::options()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(pin)?;
            let src = format!("/proc/{}/task/{tid}/ns/mnt", std::process::id());
            nix::mount::mount(
                Some(src.as_str()),
                pin,
                None::<&str>,
                nix::mount::MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(io::Error::from)
        });
    let _ = done_tx.send(());
    let _ = t.join();
    r
}

/// Gives `to` the owner, group and mode of `from` (daemons such as FRR's drop privileges
/// and must still write their private run directory).
fn copy_owner_mode(from: &Path, to: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(from)?;
    std::os::unix::fs::chown(to, Some(m.uid()), Some(m.gid()))?;
    std::fs::set_permissions(to, m.permissions())
}

/// Copies the tree `from` into the directory `to`: directories, regular files (with their
/// modes) and symlinks (as links); anything else is skipped.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let t = e.file_type()?;
        let dst = to.join(e.file_name());
        if t.is_dir() {
            std::fs::create_dir_all(&dst)?;
            copy_owner_mode(&e.path(), &dst)?;
            copy_tree(&e.path(), &dst)?;
        } else if t.is_file() {
            std::fs::copy(e.path(), &dst)?;
            copy_owner_mode(&e.path(), &dst)?;
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &dst)?;
        }
    }
    Ok(())
}

/// Unmounts the mount-namespace pins under `run_dir` and the private mount point that
/// holds them, so the run directory can be removed (and the namespaces go).
pub fn unmount_pins(run_dir: &Path) -> io::Result<()> {
    use nix::mount::{MntFlags, umount2};
    let mnt = run_dir.join("mnt");
    let rd = match std::fs::read_dir(&mnt) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let flags = MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW;
    for e in rd.flatten() {
        match umount2(&e.path(), flags) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
            Err(err) => return Err(err.into()),
        }
    }
    match umount2(&mnt, flags) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
