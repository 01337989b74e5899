//! Starting processes inside a namespace, as `ip netns exec` does.
//!
//! The child joins the namespace in `pre_exec` (after fork, before exec), so the parent's
//! threads never move. Like iproute2, the child also gets a private mount namespace with
//! `/sys` remounted, so `/sys/class/net` shows the lab node's interfaces. Stdout, stderr and
//! the exit status stay separate (Mininet's shell-sentinel `cmd()` is the cautionary tale).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Prepares `cmd` to run inside namespace `ns` (an open namespace fd, moved in).
/// With `own_group`, the child becomes a process-group leader so that everything it
/// starts can be stopped with it.
pub fn prepare(c: &mut std::process::Command, ns: OwnedFd, own_group: bool) {
    if own_group {
        c.process_group(0);
    }
    // SAFETY: the closure only makes raw syscalls (setns, unshare, mount); nix's path
    // arguments use stack buffers for short literals, so nothing allocates after fork.
    unsafe {
        c.pre_exec(move || {
            setns(ns.as_fd(), CloneFlags::CLONE_NEWNET)?;
            enter_sysfs_view();
            Ok(())
        });
    }
}

/// Same as [`prepare`] for tokio's `Command`.
pub fn prepare_tokio(cmd: &mut tokio::process::Command, ns: OwnedFd, own_group: bool) {
    if own_group {
        cmd.process_group(0);
    }
    // SAFETY: as in `prepare`.
    unsafe {
        cmd.pre_exec(move || {
            setns(ns.as_fd(), CloneFlags::CLONE_NEWNET)?;
            enter_sysfs_view();
            Ok(())
        });
    }
}

/// Replaces the current process with `argv` inside namespace `name` (the CLI's `exec` and
/// `shell`): stdin, stdout, stderr and the exit status are the command's own.
/// Only returns on error.
pub fn exec_replace(name: &str, argv: &[impl AsRef<OsStr>]) -> io::Error {
    let ns = match super::open(name) {
        Ok(ns) => ns,
        Err(e) => return e,
    };
    if let Err(e) = setns(ns.as_fd(), CloneFlags::CLONE_NEWNET) {
        return e.into();
    }
    enter_sysfs_view();
    let mut cmd = std::process::Command::new(argv[0].as_ref());
    cmd.args(argv[1..].iter().map(|a| a.as_ref()));
    cmd.exec()
}

/// Best effort: private mount namespace with a fresh sysfs of the current net namespace.
pub(crate) fn enter_sysfs_view() {
    if unshare(CloneFlags::CLONE_NEWNS).is_err() {
        return;
    }
    let _ = mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    );
    if umount2("/sys", MntFlags::MNT_DETACH).is_ok() {
        let _ = mount(
            Some("sysfs"),
            "/sys",
            Some("sysfs"),
            MsFlags::empty(),
            None::<&str>,
        );
    }
}
