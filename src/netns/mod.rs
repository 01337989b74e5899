//! Named network namespaces: create, enter, delete — the way iproute2 does it, so that
//! `ip netns exec LAB-NODE …`, tcpdump and Wireshark see our namespaces.
//!
//! A namespace is named by a bind mount of its `nsfs` inode on `/run/netns/<name>`;
//! `/run/netns` itself is made a shared mount (as `ip netns add` does) so the names
//! propagate into mount namespaces created later.
//!
//! Threads, not processes, own namespaces: `unshare(CLONE_NEWNET)` and `setns` act on the
//! calling thread only. The rule of this crate is that only threads we spawn for the
//! purpose ever switch namespace — never a tokio worker or blocking-pool thread — and that
//! such a thread either exits when done or switches back through [`NsGuard`].
//!
//! Deleting a namespace is unmount + unlink; the kernel destroys it (and every link in it)
//! in the background once the last reference (mount, open fd, socket, process) is gone.

pub mod ethtool;
pub mod exec;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Where named namespaces live.
pub const NETNS_DIR: &str = "/run/netns";

pub fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

pub fn exists(name: &str) -> bool {
    path(name).exists()
}

/// Makes `/run/netns` exist and be a shared mount point (idempotent), like iproute2.
pub fn ensure_dir() -> io::Result<()> {
    std::fs::create_dir_all(NETNS_DIR)?;
    let shared = |p: &str| {
        mount(
            None::<&str>,
            p,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match shared(NETNS_DIR) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EINVAL) => {
            // Not a mount point yet: bind it onto itself, then make it shared.
            mount(
                Some(NETNS_DIR),
                NETNS_DIR,
                Some("none"),
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(io::Error::from)?;
            shared(NETNS_DIR).map_err(io::Error::from)
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates a new named namespace and **leaves the calling thread inside it**.
///
/// Only call this on a thread spawned for namespace work (see the module docs). Returns
/// an fd of the new namespace. On error nothing is left behind.
pub fn create_and_enter(name: &str) -> io::Result<OwnedFd> {
    let p = path(name);
    // O_EXCL: never take over a namespace that someone else named.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| with_path(e, &p))?;
    let made = (|| -> io::Result<OwnedFd> {
        unshare(CloneFlags::CLONE_NEWNET)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &p,
            Some("none"),
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
        Ok(File::open("/proc/thread-self/ns/net")?.into())
    })();
    if made.is_err() {
        let _ = umount2(&p, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_file(&p);
    }
    made.map_err(|e| with_path(e, &p))
}

/// Opens a named namespace (an fd usable with `setns` and `IFLA_NET_NS_FD`).
pub fn open(name: &str) -> io::Result<OwnedFd> {
    let p = path(name);
    File::open(&p)
        .map(OwnedFd::from)
        .map_err(|e| with_path(e, &p))
}

/// Removes the name; the kernel tears the namespace down once nothing else holds it.
/// A missing name is not an error (deletion is idempotent).
pub fn delete(name: &str) -> io::Result<()> {
    let p = path(name);
    match umount2(&p, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(with_path(e.into(), &p)),
    }
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(with_path(e, &p)),
    }
}

/// Switches the calling thread into a namespace and back again on drop.
///
/// Use only on threads we own (see module docs); the switch back is best effort and a
/// failure to switch back aborts, because a thread in the wrong namespace would silently
/// configure the wrong network.
pub struct NsGuard {
    home: OwnedFd,
}

impl NsGuard {
    pub fn enter(ns: impl AsFd) -> io::Result<NsGuard> {
        let home: OwnedFd = File::open("/proc/thread-self/ns/net")?.into();
        setns(ns, CloneFlags::CLONE_NEWNET)?;
        Ok(NsGuard { home })
    }
}

impl Drop for NsGuard {
    fn drop(&mut self) {
        if let Err(e) = setns(&self.home, CloneFlags::CLONE_NEWNET) {
            eprintln!("topolab: cannot return to the original network namespace: {e}");
            std::process::abort();
        }
    }
}

/// Runs `f` on a fresh thread inside namespace `ns`; the thread exits afterwards, so no
/// other code ever runs in the wrong namespace.
pub fn run_in<T: Send + 'static>(
    ns: OwnedFd,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    std::thread::Builder::new()
        .name("netns".into())
        .spawn(move || {
            setns(&ns, CloneFlags::CLONE_NEWNET)?;
            f()
        })?
        .join()
        .map_err(|_| io::Error::other("namespace worker panicked"))?
}

/// Writes a sysctl of the calling thread's current namespace (`net.ipv4.ip_forward` →
/// `/proc/sys/net/ipv4/ip_forward`). `/proc/sys/net` resolves against the namespace of the
/// thread that opens the file.
pub fn write_sysctl(key: &str, value: &str) -> io::Result<()> {
    let rel = key.replace('.', "/");
    let p = Path::new("/proc/sys").join(rel);
    std::fs::write(&p, value).map_err(|e| with_path(e, &p))
}

fn with_path(e: io::Error, p: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

/// The raw fd, for netlink attributes that take one.
pub fn raw(fd: &OwnedFd) -> std::os::fd::RawFd {
    fd.as_raw_fd()
}
