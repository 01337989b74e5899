//! Teardown and `clean`: remove exactly what a journal names.
//!
//! Best effort, collecting every error (one stuck namespace must not keep the others
//! alive): stop recorded processes (SIGTERM to the process group we created, SIGKILL after
//! a grace period, each only if PID and start time still match), delete recorded
//! namespaces (unmount + unlink; the kernel frees their links in the background, which is
//! far faster than deleting links one by one), then remove the run directory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::journal::{Entry, Journal, proc_start_time};
use crate::netns;

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
    pub namespaces: Vec<String>,
    /// pid → start time, for processes not yet reaped.
    pub processes: BTreeMap<u32, u64>,
}

impl Owned {
    pub fn from_entries(entries: &[Entry]) -> Owned {
        let mut o = Owned::default();
        for e in entries {
            match e {
                Entry::Netns { names } => o.namespaces.extend(names.iter().cloned()),
                Entry::Process { pid, start, .. } if *pid != 0 => {
                    o.processes.insert(*pid, *start);
                }
                Entry::Reaped { pid } => {
                    o.processes.remove(pid);
                }
                _ => {}
            }
        }
        o
    }
}

/// Grace period between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// Stops the processes; returns errors for those that could not be signalled.
pub fn stop_processes(procs: &BTreeMap<u32, u64>, errors: &mut Vec<(String, io::Error)>) {
    let ours = |pid: u32, start: u64| proc_start_time(pid) == Some(start);
    let mut alive: Vec<(u32, u64)> = procs
        .iter()
        .filter(|(p, s)| ours(**p, **s))
        .map(|(p, s)| (*p, *s))
        .collect();
    for (pid, _) in &alive {
        // We made each one a process-group leader: the group is its own children.
        if let Err(e) = killpg(Pid::from_raw(*pid as i32), Signal::SIGTERM) {
            errors.push((format!("stop process {pid}"), e.into()));
        }
    }
    let deadline = Instant::now() + GRACE;
    while !alive.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        alive.retain(|(p, s)| ours(*p, *s) && !is_zombie(*p));
    }
    for (pid, _) in &alive {
        let _ = killpg(Pid::from_raw(*pid as i32), Signal::SIGKILL);
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rfind(')').is_some_and(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true)
}

pub fn delete_namespaces(names: &[String], errors: &mut Vec<(String, io::Error)>) {
    for n in names {
        if let Err(e) = netns::delete(n) {
            errors.push((format!("delete namespace {n}"), e));
        }
    }
}

/// Tears down a lab from its run directory's journal and removes the directory.
pub fn teardown_dir(dir: &Path) -> Result<(), TeardownError> {
    let mut errors = Vec::new();
    match Journal::read(dir) {
        Ok(entries) => {
            let owned = Owned::from_entries(&entries);
            stop_processes(&owned.processes, &mut errors);
            delete_namespaces(&owned.namespaces, &mut errors);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => errors.push(("read journal".into(), e)),
    }
    if errors.is_empty()
        && let Err(e) = std::fs::remove_dir_all(dir)
        && e.kind() != io::ErrorKind::NotFound
    {
        errors.push((format!("remove {}", dir.display()), e));
    }
    if errors.is_empty() {
        Ok(())
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
        let dir = Path::new(super::RUN_BASE).join(lab);
        if dir.exists()
            && let Err(e) = teardown_dir(&dir)
        {
            eprintln!("lab `{lab}`: {e}");
            ok = false;
        }
    }
    ok
}

/// A lab whose supervisor is gone: its lock can be taken.
pub struct Orphan {
    pub name: String,
    pub dir: PathBuf,
    _lock: Flock<File>,
}

/// Tries to take a lab's lock: `Some` if no supervisor holds it (crashed or never ran).
pub fn try_lock(dir: &Path) -> io::Result<Option<Flock<File>>> {
    let f = File::options()
        .read(true)
        .write(true)
        .open(dir.join("lock"))?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(l)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(e.into()),
    }
}

/// Labs under `base` whose supervisor is no longer running.
pub fn orphans(base: &Path) -> io::Result<Vec<Orphan>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(base) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    let mut dirs: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs {
        if !dir.join(Journal::FILE).exists() && !dir.join("lock").exists() {
            continue;
        }
        let lock = match try_lock(&dir) {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            // No lock file: a lab that died while being created.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let f = File::create(dir.join("lock"))?;
                Flock::lock(f, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| e)?
            }
            Err(e) => return Err(e),
        };
        out.push(Orphan {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            dir,
            _lock: lock,
        });
    }
    Ok(out)
}
