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
use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Where named namespaces live.
pub const NETNS_DIR: &str = "/run/netns";

/// Whether `name` is a plain namespace name: one path component, not `.` or `..`, no NUL,
/// at most 255 bytes. Every function here refuses other names, so no name (from a file,
/// a flag or a journal) ever reaches outside `/run/netns`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.contains(['/', '\0'])
}

pub fn path(name: &str) -> io::Result<PathBuf> {
    if !valid_name(name) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{}` is not a namespace name", name.escape_debug()),
        ));
    }
    Ok(Path::new(NETNS_DIR).join(name))
}

pub fn exists(name: &str) -> bool {
    path(name).is_ok_and(|p| std::fs::symlink_metadata(p).is_ok())
}

/// Who a namespace this process made is: the nsfs device and inode of the namespace, and
/// the inode of the placeholder file under `/run/netns` it is mounted on. A namespace is
/// deleted only when what its name points to still is this ([`delete_owned`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsIdent {
    pub dev: u64,
    pub ino: u64,
    pub placeholder: u64,
}

/// `name` is taken: another namespace (or file) has it.
pub fn is_taken(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::AlreadyExists
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
/// Only call this on a thread spawned for namespace work (see the module docs). `record`
/// is called with the new namespace's identity after the name is claimed (exclusively)
/// and before the namespace is mounted on it, so a journal written there names everything
/// that can exist; if it fails, nothing is mounted. Returns an fd of the new namespace.
/// On error nothing is left behind. A name that exists fails with
/// [`io::ErrorKind::AlreadyExists`] ([`is_taken`]) and touches nothing.
pub fn create_and_enter(
    name: &str,
    record: impl FnOnce(NsIdent) -> io::Result<()>,
) -> io::Result<OwnedFd> {
    use std::os::unix::fs::MetadataExt;
    let p = path(name)?;
    // O_EXCL: never take over a namespace that someone else named.
    let placeholder = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| with_path(e, &p))?;
    let made = (|| -> io::Result<OwnedFd> {
        let placeholder = placeholder.metadata()?.ino();
        unshare(CloneFlags::CLONE_NEWNET)?;
        let ns = File::open("/proc/thread-self/ns/net")?;
        let m = ns.metadata()?;
        record(NsIdent {
            dev: m.dev(),
            ino: m.ino(),
            placeholder,
        })?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &p,
            Some("none"),
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
        Ok(ns.into())
    })();
    if made.is_err() {
        let _ = umount2(&p, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW);
        let _ = std::fs::remove_file(&p);
    }
    made.map_err(|e| with_path(e, &p))
}

/// Opens a named namespace (an fd usable with `setns` and `IFLA_NET_NS_FD`).
pub fn open(name: &str) -> io::Result<OwnedFd> {
    let p = path(name)?;
    File::open(&p)
        .map(OwnedFd::from)
        .map_err(|e| with_path(e, &p))
}

/// What [`delete_owned`] found under the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// Our namespace: unmounted and its name removed.
    Namespace,
    /// Only our placeholder file (the namespace was never mounted): removed.
    Placeholder,
    /// Nothing there.
    Absent,
    /// Something that is not ours: left alone.
    NotOurs,
}

/// (device, inode) of `path` itself, never following a symlink.
pub fn ident(path: &Path) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).map(|m| (m.dev(), m.ino()))
}

/// Whether `name` still names the namespace `id` (never following a symlink).
pub fn is_ours(name: &str, id: NsIdent) -> io::Result<bool> {
    let p = path(name)?;
    match ident(&p) {
        Ok((dev, ino)) => Ok(dev == id.dev && ino == id.ino),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes namespace `name` only if it still is `id`: unmount (without following a
/// symlink) and unlink. The kernel tears the namespace down once nothing else holds it.
pub fn delete_owned(name: &str, id: NsIdent) -> io::Result<Deleted> {
    use std::os::unix::fs::MetadataExt;
    let p = path(name)?;
    let m = match std::fs::symlink_metadata(&p) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Deleted::Absent),
        Err(e) => return Err(with_path(e, &p)),
    };
    let unlink = |p: &Path| match std::fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(with_path(e, p)),
        _ => Ok(()),
    };
    if m.dev() == id.dev && m.ino() == id.ino {
        match umount2(&p, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(with_path(e.into(), &p)),
        }
        unlink(&p)?;
        return Ok(Deleted::Namespace);
    }
    let dir_dev = std::fs::symlink_metadata(NETNS_DIR).map(|d| d.dev()).ok();
    if m.file_type().is_file() && m.ino() == id.placeholder && Some(m.dev()) == dir_dev {
        unlink(&p)?;
        return Ok(Deleted::Placeholder);
    }
    Ok(Deleted::NotOurs)
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
            let _ = writeln!(
                std::io::stderr(),
                "topolab: cannot return to the original network namespace: {e}"
            );
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
