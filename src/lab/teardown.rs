//! Teardown and `clean`: remove exactly what a journal names, and only while it still is
//! what the lab made.
//!
//! Best effort, collecting every error (one stuck namespace must not keep the others
//! alive): stop processes — the process groups the lab started, and every other process
//! that lives in one of the lab's namespaces (one scan of `/proc/*/ns/net`; a daemon that
//! called `setsid` is found there) — with SIGTERM, then SIGKILL after a grace period, each
//! only if PID and start time still match; then delete the namespaces whose name still
//! points to the namespace the journal recorded (nsfs device + inode: a namespace another
//! lab made under the same name is never touched); then remove the run directory.
//!
//! Every path comes from a [`LabName`] or a namespace name that [`LabName::may_own_netns`]
//! accepted; nothing follows a symlink.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::journal::{Entry, Journal, proc_start_time};
use super::name::{self, LabName};
use crate::netns::{self, Deleted, NsIdent};

/// Everything that could not be removed, with what it was.
#[derive(Debug, thiserror::Error)]
#[error("teardown left {} problem(s): {}", .0.len(), summary(.0))]
pub struct TeardownError(pub Vec<(String, io::Error)>);

fn summary(v: &[(String, io::Error)]) -> String {
    v.iter()
        .map(|(w, e)| format!("{w}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a journal says a lab owns.
#[derive(Debug, Default)]
pub struct Owned {
    /// Namespaces the lab created, with their identity.
    pub namespaces: Vec<(String, NsIdent)>,
    /// pid → start time, for processes not yet reaped.
    pub processes: BTreeMap<u32, u64>,
    /// Root-namespace links (name, ifindex) the lab made.
    pub host_links: Vec<(String, u32)>,
    /// The lab's name and the nodes it made a cgroup for.
    pub cgroups: Option<(String, Vec<String>)>,
}

impl Owned {
    /// What `lab`'s journal `entries` say it owns. A namespace entry whose name is not a
    /// plain `<lab>-…` name is ignored, with a warning: a journal never leads outside the
    /// lab's own namespaces.
    pub fn from_entries(lab: &LabName, entries: &[Entry]) -> Owned {
        let mut o = Owned::default();
        for e in entries {
            match e {
                Entry::Namespace {
                    name,
                    dev,
                    ino,
                    placeholder,
                } => {
                    if lab.may_own_netns(name) {
                        let id = NsIdent {
                            dev: *dev,
                            ino: *ino,
                            placeholder: *placeholder,
                        };
                        o.namespaces.push((name.clone(), id));
                    } else {
                        tracing::warn!(
                            "lab `{lab}`: journal names namespace `{}`, which cannot be one of \
                             its namespaces; ignored",
                            name.escape_debug()
                        );
                    }
                }
                Entry::Process { pid, start, .. } if *pid != 0 => {
                    o.processes.insert(*pid, *start);
                }
                Entry::Reaped { pid } => {
                    o.processes.remove(pid);
                }
                Entry::Cgroup { node } => {
                    o.cgroups
                        .get_or_insert_with(|| (lab.to_string(), Vec::new()))
                        .1
                        .push(node.clone());
                }
                Entry::HostLink { name, ifindex } if *ifindex != 0 => {
                    o.host_links.push((name.clone(), *ifindex));
                }
                _ => {}
            }
        }
        o
    }
}

/// What a teardown actually removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub namespaces: usize,
    pub processes: usize,
}

/// Grace period between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// Stops the process groups; returns errors for those that could not be signalled.
pub fn stop_processes(procs: &BTreeMap<u32, u64>, errors: &mut Vec<(String, io::Error)>) {
    stop(procs, &BTreeMap::new(), &HashSet::new(), errors);
}

/// The network-namespace inode of process `pid`, from the `/proc/PID/ns/net` link.
fn net_ns_of(pid: u32) -> Option<u64> {
    let l = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    let l = l.to_str()?;
    l.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// Every process (but this one) whose network namespace is one of `inos`: pid → start
/// time. One pass over `/proc`.
pub fn processes_in(inos: &HashSet<u64>) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    if inos.is_empty() {
        return out;
    }
    let me = std::process::id();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || !net_ns_of(pid).is_some_and(|i| inos.contains(&i)) {
            continue;
        }
        if let Some(start) = proc_start_time(pid) {
            out.insert(pid, start);
        }
    }
    out
}

/// SIGTERM to the recorded process `groups` and to every process in `members` (found in
/// namespaces `inos`), one grace period for all, then SIGKILL to what is left — a member
/// only if it still is the same process and still in one of those namespaces.
fn stop(
    groups: &BTreeMap<u32, u64>,
    members: &BTreeMap<u32, u64>,
    inos: &HashSet<u64>,
    errors: &mut Vec<(String, io::Error)>,
) {
    let me = std::process::id();
    let same = |pid: u32, start: u64| proc_start_time(pid) == Some(start);
    let member = |pid: u32, start: u64| {
        same(pid, start) && net_ns_of(pid).is_some_and(|i| inos.contains(&i))
    };
    let mut alive_groups: Vec<(u32, u64)> = groups
        .iter()
        .filter(|(p, s)| **p != me && same(**p, **s))
        .map(|(p, s)| (*p, *s))
        .collect();
    for (pid, _) in &alive_groups {
        // We made each one a process-group leader: the group is its own children.
        if let Err(e) = killpg(Pid::from_raw(*pid as i32), Signal::SIGTERM) {
            errors.push((format!("stop process {pid}"), e.into()));
        }
    }
    let mut alive_members: Vec<(u32, u64)> = members
        .iter()
        .filter(|(p, _)| **p != me && !groups.contains_key(p))
        .map(|(p, s)| (*p, *s))
        .collect();
    for (pid, start) in &alive_members {
        if member(*pid, *start) {
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGTERM);
        }
    }
    let deadline = Instant::now() + GRACE;
    loop {
        alive_groups.retain(|(p, s)| same(*p, *s) && !is_zombie(*p));
        alive_members.retain(|(p, s)| member(*p, *s) && !is_zombie(*p));
        if (alive_groups.is_empty() && alive_members.is_empty()) || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for (pid, _) in &alive_groups {
        let _ = killpg(Pid::from_raw(*pid as i32), Signal::SIGKILL);
    }
    for (pid, start) in &alive_members {
        if member(*pid, *start) {
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
        }
    }
}

/// How many times [`sweep_late`] scans before giving up on a namespace that keeps
/// spawning.
const LATE_ROUNDS: usize = 50;

/// Kills what the first scan could not see: a process forked while `/proc` was being read
/// (a shell starting its daemon as the lab goes down) or by a member during its grace
/// period. Scans the namespaces again and SIGKILLs every process found — it was born after
/// the lab was told to stop — until a scan finds none. Returns how many it killed that
/// were not counted before.
fn sweep_late(
    inos: &HashSet<u64>,
    groups: &BTreeMap<u32, u64>,
    members: &BTreeMap<u32, u64>,
) -> usize {
    let mut killed = HashSet::new();
    for _ in 0..LATE_ROUNDS {
        let late: Vec<(u32, u64)> = processes_in(inos)
            .into_iter()
            .filter(|(p, _)| !is_zombie(*p))
            .collect();
        if late.is_empty() {
            break;
        }
        for (pid, start) in late {
            // Still the same process, still in the lab: only then.
            if proc_start_time(pid) == Some(start)
                && net_ns_of(pid).is_some_and(|i| inos.contains(&i))
            {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                if !groups.contains_key(&pid) && !members.contains_key(&pid) {
                    killed.insert(pid);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    killed.len()
}

/// Whether process `pid` that started at `start` still runs (a zombie does not).
pub fn is_running(pid: u32, start: u64) -> bool {
    proc_start_time(pid) == Some(start) && !is_zombie(pid)
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rfind(')').is_some_and(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true)
}

/// Stops every process of the lab (its groups and whatever lives in its namespaces), then
/// deletes the namespaces that still are the ones it made. Returns what went.
pub fn teardown_owned(owned: &Owned, errors: &mut Vec<(String, io::Error)>) -> Removed {
    let mut inos = HashSet::new();
    for (name, id) in &owned.namespaces {
        match netns::is_ours(name, *id) {
            Ok(true) => {
                inos.insert(id.ino);
            }
            Ok(false) => {}
            Err(e) => errors.push((format!("namespace {name}"), e)),
        }
    }
    let members = processes_in(&inos);
    let mut removed = Removed {
        processes: owned
            .processes
            .iter()
            .filter(|(p, s)| proc_start_time(**p) == Some(**s))
            .count()
            + members
                .keys()
                .filter(|p| !owned.processes.contains_key(p))
                .count(),
        ..Removed::default()
    };
    stop(&owned.processes, &members, &inos, errors);
    removed.processes += sweep_late(&inos, &owned.processes, &members);
    delete_host_links(&owned.host_links, errors);
    if let Some((lab, nodes)) = &owned.cgroups {
        remove_cgroups(lab, nodes, errors);
    }
    for (name, id) in &owned.namespaces {
        match netns::delete_owned(name, *id) {
            Ok(Deleted::Namespace) => removed.namespaces += 1,
            Ok(Deleted::NotOurs) => {
                tracing::warn!("namespace `{name}` is no longer the one this lab made; left alone")
            }
            Ok(_) => {}
            Err(e) => errors.push((format!("delete namespace {name}"), e)),
        }
    }
    removed
}

/// Deletes the root-namespace links the lab made: only a link whose name and ifindex both
/// still match the journal (an ifindex reused by someone else's link, or a name taken by
/// another link, is left alone). Runs in the caller's namespace: the root one.
fn delete_host_links(links: &[(String, u32)], errors: &mut Vec<(String, io::Error)>) {
    if links.is_empty() {
        return;
    }
    let mut nl = match crate::netlink::Netlink::open() {
        Ok(nl) => nl,
        Err(e) => return errors.push(("netlink socket".into(), e)),
    };
    let present = match nl.links() {
        Ok(rows) => rows,
        Err(e) => return errors.push(("list root-namespace links".into(), e)),
    };
    for (name, ifindex) in links {
        if !present
            .iter()
            .any(|l| l.ifindex == *ifindex && l.name == *name)
        {
            continue;
        }
        let op = crate::netlink::Op::DelLink { ifindex: *ifindex };
        if let Err(e) = nl.run_all(std::slice::from_ref(&op)) {
            // Gone meanwhile (its peer's namespace went first): fine.
            if e.errno() != Some(libc::ENODEV) {
                errors.push((
                    format!("delete link {name}"),
                    io::Error::other(e.to_string()),
                ));
            }
        }
    }
}

/// Removes the nodes' cgroups: what is still in one (a process that left the node's
/// namespace, or never entered it) is thawed and killed first — only our processes can be
/// in our groups — then the groups and the lab's directory go.
fn remove_cgroups(lab: &str, nodes: &[String], errors: &mut Vec<(String, io::Error)>) {
    use super::cgroup::{self, Controllers, NodeCgroup};
    let ctl = Controllers::detect();
    for node in nodes {
        let g = match NodeCgroup::locate(&ctl, lab, node) {
            Ok(g) => g,
            Err(e) => {
                errors.push((format!("cgroup of {node}"), e));
                continue;
            }
        };
        let _ = g.freeze(false);
        let deadline = Instant::now() + GRACE;
        loop {
            let pids = g.pids();
            if pids.is_empty() || Instant::now() >= deadline {
                break;
            }
            for pid in pids {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // A group empties a moment after its last process is reaped.
        let deadline = Instant::now() + GRACE;
        loop {
            match g.remove() {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    errors.push((format!("remove cgroup of {node}"), e));
                    break;
                }
            }
        }
    }
    if let Err(e) = cgroup::remove_lab(&ctl, lab)
        && e.raw_os_error() != Some(libc::ENOTEMPTY)
    {
        errors.push(("remove the lab's cgroup directory".into(), e));
    }
}

/// Removes a run directory (never following a symlink at its place).
fn remove_run_dir(dir: &Path, errors: &mut Vec<(String, io::Error)>) {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_dir() => {
            if let Err(e) = std::fs::remove_dir_all(dir)
                && e.kind() != io::ErrorKind::NotFound
            {
                errors.push((format!("remove {}", dir.display()), e));
            }
        }
        Ok(_) => errors.push((
            format!("remove {}", dir.display()),
            io::Error::new(io::ErrorKind::InvalidData, "not a directory; left alone"),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => errors.push((format!("remove {}", dir.display()), e)),
    }
}

/// Tears down lab `lab` from its run directory (under `base`) and removes the directory.
/// Its shard directories (issue 13) go first, each from its own journal; a shard whose
/// agent still runs is an error, and the lab's directory then stays.
pub fn teardown_dir(base: &Path, lab: &LabName) -> Result<Removed, TeardownError> {
    match name::run_dir_exists(base, lab) {
        Ok(true) => teardown_run_dir(&name::run_dir(base, lab), lab),
        Ok(false) => Ok(Removed::default()),
        Err(e) => Err(TeardownError(vec![(
            name::run_dir(base, lab).display().to_string(),
            e,
        )])),
    }
}

/// Tears down what the journal in `dir` (a run directory of `lab`, or of one of its
/// shards) names, then removes `dir`.
pub fn teardown_run_dir(dir: &Path, lab: &LabName) -> Result<Removed, TeardownError> {
    let mut errors = Vec::new();
    let mut removed = Removed::default();
    if name::shard_dirs(dir).is_ok_and(|s| !s.is_empty()) {
        // A coordinator's directory: the agents it started (its journaled processes) are
        // stopped first — each tears its shard down on SIGTERM — so that their shard
        // directories are free to remove below.
        if let Ok(entries) = Journal::read(dir) {
            let owned = Owned::from_entries(lab, &entries);
            let agents = Owned {
                processes: owned.processes,
                ..Owned::default()
            };
            add(&mut removed, teardown_owned(&agents, &mut errors));
        }
    }
    if !shards_first(lab, dir, &mut errors, &mut removed) {
        return Err(TeardownError(errors));
    }
    if errors.is_empty() {
        add(&mut removed, teardown_one(lab, dir, &mut errors));
    }
    if errors.is_empty() {
        Ok(removed)
    } else {
        Err(TeardownError(errors))
    }
}

/// Before a lab's run directory `dir` goes: its shard directories (issue 13), each torn
/// down from its own journal. Returns false, with the reason in `errors` and nothing
/// removed, if a shard's agent still runs (the lab's directory must then stay).
pub fn shards_first(
    lab: &LabName,
    dir: &Path,
    errors: &mut Vec<(String, io::Error)>,
    removed: &mut Removed,
) -> bool {
    match name::shard_dirs(dir) {
        Ok(shards) => {
            // A shard whose agent runs keeps the whole lab: nothing is removed.
            let live: Vec<u32> = shards
                .iter()
                .filter(|(_, d)| matches!(try_lock(d), Ok(None)))
                .map(|(k, _)| *k)
                .collect();
            if !live.is_empty() {
                errors.push((
                    format!("shard(s) {live:?} of lab `{lab}`"),
                    io::Error::other("their agents are running; stop them first"),
                ));
                return false;
            }
            for (k, sdir) in shards {
                // Held while its leftovers are removed, so no agent starts there meanwhile.
                match try_lock(&sdir) {
                    Ok(None) => errors.push((
                        format!("shard {k}"),
                        io::Error::other("its agent is running; stop it first"),
                    )),
                    Ok(Some(_lock)) => add(removed, teardown_one(lab, &sdir, errors)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        add(removed, teardown_one(lab, &sdir, errors))
                    }
                    Err(e) => errors.push((format!("shard {k}"), e)),
                }
            }
        }
        Err(e) => errors.push(("list shard directories".into(), e)),
    }
    errors.is_empty()
}

fn add(total: &mut Removed, r: Removed) {
    total.namespaces += r.namespaces;
    total.processes += r.processes;
}

/// Tears down what the journal in `dir` (a lab's or a shard's run directory) names, then
/// removes `dir` if nothing failed.
fn teardown_one(lab: &LabName, dir: &Path, errors: &mut Vec<(String, io::Error)>) -> Removed {
    let before = errors.len();
    let mut removed = Removed::default();
    match Journal::read(dir) {
        Ok(entries) => removed = teardown_owned(&Owned::from_entries(lab, &entries), errors),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => errors.push(("read journal".into(), e)),
    }
    if let Err(e) = super::node_env::unmount_pins(dir) {
        errors.push(("unmount mount namespaces".into(), e));
    }
    if errors.len() == before {
        remove_run_dir(dir, errors);
    }
    removed
}

/// Tears down shard `k` of `lab` from its run directory (`<base>/<lab>/shard-<k>`, whose
/// agent is gone) and removes it; then the lab's directory too if that is left empty.
pub fn teardown_shard_dir(base: &Path, lab: &LabName, k: u32) -> Result<Removed, TeardownError> {
    let dir = name::shard_dir(base, lab, k);
    let mut errors = Vec::new();
    let removed = match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.file_type().is_dir() => teardown_one(lab, &dir, &mut errors),
        Ok(_) => {
            errors.push((
                dir.display().to_string(),
                io::Error::new(io::ErrorKind::InvalidData, "not a directory; left alone"),
            ));
            Removed::default()
        }
        Err(_) => Removed::default(),
    };
    if errors.is_empty() {
        // Only if empty: a coordinator's files or another shard keep it.
        let _ = std::fs::remove_dir(name::run_dir(base, lab));
        Ok(removed)
    } else {
        Err(TeardownError(errors))
    }
}

/// After an interrupt: tears down each of `labs` (by name, under [`RUN_BASE`]) that still
/// has a run directory, reporting failures on stderr. Returns whether all went.
///
/// [`RUN_BASE`]: super::RUN_BASE
pub fn teardown_leftovers(labs: &[String]) -> bool {
    let mut ok = true;
    for lab in labs {
        let Ok(lab) = LabName::new(lab) else {
            continue;
        };
        if let Err(e) = teardown_dir(Path::new(super::RUN_BASE), &lab) {
            let _ = writeln!(std::io::stderr(), "lab `{lab}`: {e}");
            ok = false;
        }
    }
    ok
}

/// The state of a lab's run directory — one classifier for `ls`, `clean` and `up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Its supervisor holds the lock.
    Running,
    /// Its supervisor is gone; the journal says what it made.
    Orphaned,
    /// No supervisor and no journal owner line: `up` died right after making it, or it
    /// was not made by topolab. Nothing in it can be a namespace.
    Incomplete,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Orphaned => "orphaned",
            State::Incomplete => "incomplete",
        }
    }
}

/// Classifies `lab`'s run directory under `base` (which must exist). A lab with a
/// running shard (issue 13) is running, even with no coordinator on this machine.
pub fn state(base: &Path, lab: &LabName) -> io::Result<State> {
    let dir = name::run_dir(base, lab);
    if name::run_dir_exists(base, lab)?
        && (matches!(try_lock(&dir), Ok(None)) || !live_shards(&dir)?.is_empty())
    {
        return Ok(State::Running);
    }
    Ok(state_unlocked(&dir))
}

/// Classifies one run directory (a lab's or a shard's) by its own lock and journal only.
pub fn dir_state(dir: &Path) -> State {
    if matches!(try_lock(dir), Ok(None)) {
        State::Running
    } else {
        state_unlocked(dir)
    }
}

/// The shards in lab directory `dir` whose agent holds their lock.
pub fn live_shards(dir: &Path) -> io::Result<Vec<u32>> {
    Ok(name::shard_dirs(dir)?
        .into_iter()
        .filter(|(_, d)| matches!(try_lock(d), Ok(None)))
        .map(|(k, _)| k)
        .collect())
}

fn state_unlocked(dir: &Path) -> State {
    let entries = Journal::read(dir).unwrap_or_default();
    if Journal::owner(&entries).is_some() {
        State::Orphaned
    } else {
        State::Incomplete
    }
}

/// A lab whose supervisor is gone: its lock is held while it is cleaned. `shard`: only
/// that shard of the lab is orphaned (its agent is gone; the lab's coordinator or other
/// shards still run): clean it with [`teardown_shard_dir`].
pub struct Orphan {
    pub name: LabName,
    pub dir: PathBuf,
    pub state: State,
    pub shard: Option<u32>,
    _lock: Flock<File>,
}

fn open_lock(dir: &Path, create: bool) -> io::Result<File> {
    File::options()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join("lock"))
}

/// Tries to take a lab's lock: `Some` if no supervisor holds it (crashed or never ran).
pub fn try_lock(dir: &Path) -> io::Result<Option<Flock<File>>> {
    let f = open_lock(dir, false)?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(l)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(e.into()),
    }
}

/// Labs under `base` whose supervisor is not running (orphaned or incomplete), locked.
/// A lab whose coordinator or some shard still runs is not one; its shards whose agent
/// is gone are, one by one.
pub fn orphans(base: &Path) -> io::Result<Vec<Orphan>> {
    let mut out = Vec::new();
    for lab in name::list(base)? {
        let dir = name::run_dir(base, &lab);
        let shards = name::shard_dirs(&dir)?;
        let mut dead = Vec::new();
        let mut live = 0;
        for (k, sdir) in shards {
            match try_lock(&sdir) {
                Ok(Some(l)) => dead.push((k, sdir, l)),
                Ok(None) => live += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Being claimed right now, or a claim that died: leave it to its lab.
                }
                Err(e) => return Err(e),
            }
        }
        let coordinator_live = matches!(try_lock(&dir), Ok(None));
        if live > 0 || coordinator_live {
            for (k, sdir, l) in dead {
                out.push(Orphan {
                    name: lab.clone(),
                    state: state_unlocked(&sdir),
                    dir: sdir,
                    shard: Some(k),
                    _lock: l,
                });
            }
            continue;
        }
        drop(dead);
        let lock = match try_lock(&dir) {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            // No lock file: a directory topolab never finished (or never) made.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let f = match open_lock(&dir, true) {
                    Ok(f) => f,
                    // The directory itself went away since the listing (its lab went
                    // down meanwhile): nothing of it is left to clean.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                    Ok(l) => l,
                    Err(_) => continue,
                }
            }
            Err(e) => return Err(e),
        };
        out.push(Orphan {
            state: state_unlocked(&dir),
            name: lab,
            dir,
            shard: None,
            _lock: lock,
        });
    }
    Ok(out)
}

/// Prefix of the temporary directory `up` builds a run directory in before renaming it
/// into place (never a valid lab name).
pub const CLAIM_PREFIX: &str = ".claim-";

/// Removes claim directories under `base` left by an `up` killed while claiming (their
/// lock is free). Returns how many.
pub fn remove_stale_claims(base: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(base) else {
        return 0;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let is_claim = e
            .file_name()
            .to_str()
            .is_some_and(|f| f.starts_with(CLAIM_PREFIX) && netns::valid_name(f));
        if !is_claim || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = e.path();
        if matches!(try_lock(&dir), Ok(Some(_))) && std::fs::remove_dir_all(&dir).is_ok() {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod orphan_race_tests {
    use super::*;

    /// `clean` lists run directories, then locks each: a lab that goes down in between
    /// (its directory removed) is simply gone, not an error. Before the fix, `orphans`
    /// failed with "No such file or directory" when it lost this race (a CI run of
    /// tests/hostile.rs did, with other labs going down in parallel).
    #[test]
    fn a_run_directory_removed_while_listing_is_skipped() {
        let base = std::env::temp_dir().join(format!("tl-orphans-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churn = {
            let (base, stop) = (base.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut k = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // Lab directories without a lock file (as `up` leaves them while it
                    // claims), each removed again at once.
                    let d = base.join(format!("lab{}", k % 8));
                    let _ = std::fs::create_dir(&d);
                    let _ = std::fs::remove_dir_all(&d);
                    k += 1;
                }
            })
        };
        let started = std::time::Instant::now();
        let mut errors = Vec::new();
        while started.elapsed() < std::time::Duration::from_millis(1500) {
            if let Err(e) = orphans(&base) {
                errors.push(e.to_string());
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        churn.join().unwrap();
        let _ = std::fs::remove_dir_all(&base);
        assert!(
            errors.is_empty(),
            "orphans failed {} times: {:?}",
            errors.len(),
            &errors[..errors.len().min(3)]
        );
    }
}

#[cfg(test)]
mod shard_tests {
    use super::*;

    fn shard(dir: &Path, k: u32) -> PathBuf {
        let d = dir.join(format!("{}{k}", name::SHARD_PREFIX));
        std::fs::create_dir_all(&d).unwrap();
        Journal::create(&d).unwrap();
        drop(open_lock(&d, true).unwrap());
        d
    }

    /// `clean` on a machine running shards of a lab (issue 13): a shard whose agent is gone
    /// is an orphan by itself while another shard (or the coordinator) lives; once none
    /// lives, the lab's directory is the orphan, and removing it removes its shards first.
    #[test]
    fn dead_shards_are_orphans_and_live_ones_stay() {
        let base = std::env::temp_dir().join(format!("tl-shards-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let lab = LabName::new("split").unwrap();
        let dir = name::run_dir(&base, &lab);
        let live = shard(&dir, 0);
        let dead = shard(&dir, 1);
        // The agent of shard 0: its lock held (by this process, through its own open file).
        let agent = try_lock(&live).unwrap().expect("free");

        assert_eq!(state(&base, &lab).unwrap(), State::Running);
        assert_eq!(live_shards(&dir).unwrap(), vec![0]);
        let o = orphans(&base).unwrap();
        assert_eq!(o.len(), 1);
        assert_eq!((o[0].shard, &o[0].dir), (Some(1), &dead));
        drop(o);
        // Removing the lab's directory is refused while shard 0 runs, and removes nothing.
        assert!(teardown_dir(&base, &lab).is_err());
        assert!(live.exists() && dead.exists());
        teardown_shard_dir(&base, &lab, 1).unwrap();
        assert!(!dead.exists() && live.exists());

        // Shard 0's agent dies: the lab's directory (made by an agent, no coordinator) is
        // the orphan, and goes whole.
        shard(&dir, 2);
        drop(agent);
        let o = orphans(&base).unwrap();
        assert_eq!(o.len(), 1);
        assert_eq!((o[0].shard, &o[0].name), (None, &lab));
        drop(o);
        teardown_dir(&base, &lab).unwrap();
        assert!(!dir.exists());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
