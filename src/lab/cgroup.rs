//! Per-node control groups: a CPU share, a memory limit, freeze/thaw, usage figures.
//!
//! ```text
//!  cgroup v2 (controllers enabled)   /sys/fs/cgroup/<…>/topolab/<lab>/<node>/  cpu.max memory.max cgroup.freeze
//!  cgroup v1 (one mount each)        /sys/fs/cgroup/cpu/<…>/topolab/<lab>/<node>/  cpu.cfs_quota_us
//!                                    /sys/fs/cgroup/memory/<…>/topolab/<lab>/<node>/ memory.limit_in_bytes
//!                                    /sys/fs/cgroup/freezer/<…>/topolab/<lab>/<node>/ freezer.state
//!                                    /sys/fs/cgroup/cpuacct/…                     cpuacct.usage
//! ```
//! `<…>` is the caller's own group in that hierarchy (`/proc/self/cgroup`), so a lab stays
//! inside whatever limits its caller has. Not yet done for v2: enabling controllers in
//! `cgroup.subtree_control` of the caller's group (v2 forbids that while the group holds
//! processes); this machine kind runs v1 controllers.
//! Which hierarchy serves which controller is read from `/proc/self/mountinfo` (v1: one
//! mount per controller; v2: the controllers listed in the root's `cgroup.controllers`). A
//! controller the machine lacks is `None`, and asking for a limit it would enforce is a
//! clear error, never a silent no-op. Paths are built only from validated lab and node
//! names (no `/`, no `..`), under our own `topolab/` directory of each hierarchy.

use std::io;
use std::path::{Path, PathBuf};

/// What this machine offers, per controller: the directory under which we make groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Controllers {
    pub cpu: Option<Ctl>,
    pub memory: Option<Ctl>,
    pub freezer: Option<Ctl>,
    /// CPU time accounting (v1 `cpuacct`, or v2 `cpu.stat`).
    pub cpuacct: Option<Ctl>,
}

/// One controller in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctl {
    /// The hierarchy's mount point (the root cgroup).
    pub root: PathBuf,
    pub v2: bool,
}

/// Limits for one node.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Share of one CPU (0.5 = half a core).
    pub cpu: Option<f64>,
    /// Bytes.
    pub memory: Option<u64>,
}

/// The CFS period used for CPU quotas (100 ms, the kernel's default).
const PERIOD_US: u64 = 100_000;

impl Controllers {
    /// Reads the machine's cgroup mounts. Our groups nest under this process's own group
    /// of each hierarchy, so that a lab stays inside whatever limits its caller has.
    pub fn detect() -> Controllers {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        match std::fs::read_to_string("/proc/self/mountinfo") {
            Ok(text) => Controllers::from_mountinfo(&text, &own, |root| {
                std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default()
            }),
            Err(_) => Controllers::default(),
        }
    }

    /// Parses mountinfo and `/proc/self/cgroup` (`own`); `v2_controllers` reads a v2
    /// root's `cgroup.controllers`.
    pub fn from_mountinfo(
        text: &str,
        own: &str,
        v2_controllers: impl Fn(&Path) -> String,
    ) -> Controllers {
        // "4:memory:/a/b" → ("memory", "/a/b"); "0::/a" → ("", "/a") for v2.
        let own_path = |controller: &str| -> Option<String> {
            own.lines().find_map(|l| {
                let mut it = l.splitn(3, ':');
                let (_, names, path) = (it.next()?, it.next()?, it.next()?);
                names
                    .split(',')
                    .any(|n| n == controller)
                    .then(|| path.to_string())
            })
        };
        let mut c = Controllers::default();
        for line in text.lines() {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTS
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let fields: Vec<&str> = left.split(' ').collect();
            let rfields: Vec<&str> = right.split(' ').collect();
            let (Some(mountpoint), Some(fstype)) = (fields.get(4), rfields.first()) else {
                continue;
            };
            let mountpoint = PathBuf::from(unescape(mountpoint));
            let mount_root = fields.get(3).copied().unwrap_or("/");
            // This process's group in that hierarchy, as a path under the mount point.
            let nested = |controller: &str| -> PathBuf {
                let p = own_path(controller).unwrap_or_default();
                let rel = p.strip_prefix(mount_root).unwrap_or(&p);
                let rel = rel.trim_start_matches('/');
                if rel.split('/').any(|c| c == "..") {
                    mountpoint.clone()
                } else {
                    mountpoint.join(rel)
                }
            };
            match *fstype {
                "cgroup" => {
                    let opts = rfields.get(2).copied().unwrap_or("");
                    let ctl = |name: &str| {
                        Some(Ctl {
                            root: nested(name),
                            v2: false,
                        })
                    };
                    for o in opts.split(',') {
                        match o {
                            "cpu" if c.cpu.is_none() => c.cpu = ctl(o),
                            "memory" if c.memory.is_none() => c.memory = ctl(o),
                            "freezer" if c.freezer.is_none() => c.freezer = ctl(o),
                            "cpuacct" if c.cpuacct.is_none() => c.cpuacct = ctl(o),
                            _ => {}
                        }
                    }
                }
                "cgroup2" => {
                    let have = v2_controllers(&mountpoint);
                    let ctl = || {
                        Some(Ctl {
                            root: nested(""),
                            v2: true,
                        })
                    };
                    for w in have.split_whitespace() {
                        match w {
                            "cpu" if c.cpu.is_none() => {
                                c.cpu = ctl();
                                c.cpuacct = c.cpuacct.take().or_else(ctl);
                            }
                            "memory" if c.memory.is_none() => c.memory = ctl(),
                            _ => {}
                        }
                    }
                    // The v2 freezer is built into every v2 cgroup (`cgroup.freeze`); use
                    // it on a machine that runs v2 (controllers enabled there), else v1's.
                    if c.freezer.is_none() && !have.trim().is_empty() {
                        c.freezer = ctl();
                    }
                }
                _ => {}
            }
        }
        c
    }

    /// Refuses `limits` this machine cannot enforce, naming what is missing.
    pub fn check(&self, limits: &Limits) -> Result<(), String> {
        if limits.cpu.is_some() && self.cpu.is_none() {
            return Err(
                "this machine has no usable cgroup `cpu` controller (neither a cgroup v1 \
                        `cpu` mount nor `cpu` enabled in cgroup v2)"
                    .into(),
            );
        }
        if limits.memory.is_some() && self.memory.is_none() {
            return Err(
                "this machine has no usable cgroup `memory` controller (neither a cgroup \
                        v1 `memory` mount nor `memory` enabled in cgroup v2)"
                    .into(),
            );
        }
        Ok(())
    }
}

/// `\040` and friends in mountinfo paths.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A name that may be one path component: what lab and node names already are.
fn component(name: &str) -> io::Result<&str> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(name)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{name}` cannot name a cgroup"),
        ))
    }
}

/// One node's cgroup, in every hierarchy that serves a controller it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCgroup {
    /// Distinct directories (v1 may mount several controllers together, v2 has one).
    dirs: Vec<PathBuf>,
    ctl: Controllers,
    lab: String,
}

impl NodeCgroup {
    /// Directory of `lab`/`node` under a controller's hierarchy.
    fn dir(ctl: &Ctl, lab: &str, node: &str) -> PathBuf {
        ctl.root.join("topolab").join(lab).join(node)
    }

    /// Where the group of `lab`/`node` lives, without creating anything.
    pub fn locate(ctl: &Controllers, lab: &str, node: &str) -> io::Result<NodeCgroup> {
        let (lab, node) = (component(lab)?, component(node)?);
        let mut dirs: Vec<PathBuf> = Vec::new();
        for c in [&ctl.cpu, &ctl.memory, &ctl.freezer, &ctl.cpuacct]
            .into_iter()
            .flatten()
        {
            let d = Self::dir(c, lab, node);
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        Ok(NodeCgroup {
            dirs,
            ctl: ctl.clone(),
            lab: lab.to_string(),
        })
    }

    /// Creates the group (idempotent) and sets `limits`.
    pub fn create(ctl: &Controllers, lab: &str, node: &str, limits: &Limits) -> io::Result<Self> {
        ctl.check(limits)
            .map_err(|m| io::Error::new(io::ErrorKind::Unsupported, m))?;
        let g = Self::locate(ctl, lab, node)?;
        for d in &g.dirs {
            std::fs::create_dir_all(d).map_err(|e| at(d, e))?;
        }
        if let Some(cpu) = limits.cpu {
            let c = ctl.cpu.as_ref().expect("checked");
            let quota = ((cpu * PERIOD_US as f64).round() as u64).max(1000);
            let d = Self::dir(c, lab, node);
            if c.v2 {
                write(&d.join("cpu.max"), &format!("{quota} {PERIOD_US}"))?;
            } else {
                write(&d.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
                write(&d.join("cpu.cfs_quota_us"), &quota.to_string())?;
            }
        }
        if let Some(bytes) = limits.memory {
            let c = ctl.memory.as_ref().expect("checked");
            let d = Self::dir(c, lab, node);
            if c.v2 {
                write(&d.join("memory.max"), &bytes.to_string())?;
                // No swap: a limit means a limit.
                let _ = write(&d.join("memory.swap.max"), "0");
            } else {
                write(&d.join("memory.limit_in_bytes"), &bytes.to_string())?;
                let _ = write(&d.join("memory.memsw.limit_in_bytes"), &bytes.to_string());
            }
        }
        Ok(g)
    }

    /// The group's directory in each hierarchy (each has a `cgroup.procs`).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Moves process `pid` (all its threads) into the group, in every hierarchy.
    pub fn add(&self, pid: u32) -> io::Result<()> {
        for d in &self.dirs {
            write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Processes in the group (from the first hierarchy: they are the same everywhere).
    pub fn pids(&self) -> Vec<u32> {
        self.dirs
            .first()
            .and_then(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Freezes (true) or thaws (false) every process of the group. Errors if the machine
    /// has no freezer (callers fall back to SIGSTOP/SIGCONT).
    pub fn freeze(&self, frozen: bool) -> io::Result<()> {
        let Some(c) = &self.ctl.freezer else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no cgroup freezer on this machine",
            ));
        };
        let node = self.node_of(c)?;
        let d = Self::dir(c, &self.lab, &node);
        if c.v2 {
            write(&d.join("cgroup.freeze"), if frozen { "1" } else { "0" })
        } else {
            write(
                &d.join("freezer.state"),
                if frozen { "FROZEN" } else { "THAWED" },
            )
        }
    }

    /// Whether the group is frozen now.
    pub fn frozen(&self) -> Option<bool> {
        let c = self.ctl.freezer.as_ref()?;
        let d = Self::dir(c, &self.lab, &self.node_of(c).ok()?);
        if c.v2 {
            let events = std::fs::read_to_string(d.join("cgroup.events")).ok()?;
            Some(events.lines().any(|l| l.trim() == "frozen 1"))
        } else {
            let s = std::fs::read_to_string(d.join("freezer.state")).ok()?;
            Some(s.trim() == "FROZEN")
        }
    }

    /// CPU time used, in nanoseconds.
    pub fn cpu_ns(&self) -> Option<u64> {
        let c = self.ctl.cpuacct.as_ref()?;
        let d = Self::dir(c, &self.lab, &self.node_of(c).ok()?);
        if c.v2 {
            let stat = std::fs::read_to_string(d.join("cpu.stat")).ok()?;
            stat.lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|us| us * 1000)
        } else {
            std::fs::read_to_string(d.join("cpuacct.usage"))
                .ok()?
                .trim()
                .parse()
                .ok()
        }
    }

    /// Memory in use, in bytes.
    pub fn memory_bytes(&self) -> Option<u64> {
        let c = self.ctl.memory.as_ref()?;
        let d = Self::dir(c, &self.lab, &self.node_of(c).ok()?);
        let file = if c.v2 {
            "memory.current"
        } else {
            "memory.usage_in_bytes"
        };
        std::fs::read_to_string(d.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// How many times the memory limit killed a process (v2 `oom_kill`, v1 `oom_kill`).
    pub fn oom_kills(&self) -> Option<u64> {
        let c = self.ctl.memory.as_ref()?;
        let d = Self::dir(c, &self.lab, &self.node_of(c).ok()?);
        let file = if c.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        let text = std::fs::read_to_string(d.join(file)).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|v| v.trim().parse().ok())
    }

    /// The node's directory name (the last component of our dirs).
    fn node_of(&self, c: &Ctl) -> io::Result<String> {
        self.dirs
            .iter()
            .find(|d| d.starts_with(&c.root))
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| io::Error::other("cgroup not located"))
    }

    /// Removes the group (its processes must be gone: SIGKILL them first). Thaws first, so
    /// that frozen processes can die. Missing directories are fine.
    pub fn remove(&self) -> io::Result<()> {
        let _ = self.freeze(false);
        let mut first = None;
        for d in &self.dirs {
            match std::fs::remove_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    first.get_or_insert(at(d, e));
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Removes `topolab/<lab>` in every hierarchy (after its node groups are gone).
pub fn remove_lab(ctl: &Controllers, lab: &str) -> io::Result<()> {
    let lab = component(lab)?;
    for c in [&ctl.cpu, &ctl.memory, &ctl.freezer, &ctl.cpuacct]
        .into_iter()
        .flatten()
    {
        let d = c.root.join("topolab").join(lab);
        match std::fs::remove_dir(&d) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(at(&d, e)),
        }
    }
    Ok(())
}

fn write(p: &Path, v: &str) -> io::Result<()> {
    std::fs::write(p, v).map_err(|e| at(p, e))
}

fn at(p: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "\
30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
35 30 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn v1_controllers_each_in_their_mount() {
        let own = "4:memory:/process_api/abc\n1:cpu:/\n0::/\n";
        let c = Controllers::from_mountinfo(V1, own, |_| String::new());
        assert_eq!(c.cpu.unwrap().root, PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(
            c.memory.unwrap().root,
            PathBuf::from("/sys/fs/cgroup/memory/process_api/abc"),
            "nested under our own group"
        );
        assert_eq!(
            c.freezer.unwrap().root,
            PathBuf::from("/sys/fs/cgroup/freezer")
        );
        assert!(!c.cpuacct.unwrap().v2);
    }

    #[test]
    fn v2_with_controllers_enabled() {
        let text = "35 30 0:31 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let c = Controllers::from_mountinfo(text, "0::/user.slice/x\n", |_| {
            "cpuset cpu io memory pids".into()
        });
        let cpu = c.cpu.unwrap();
        assert!(cpu.v2);
        assert_eq!(cpu.root, PathBuf::from("/sys/fs/cgroup/user.slice/x"));
        assert!(c.memory.unwrap().v2);
        assert!(c.freezer.unwrap().v2);
    }

    #[test]
    fn no_controllers_refuse_limits_by_name() {
        let c = Controllers::from_mountinfo("", "", |_| String::new());
        let e = c
            .check(&Limits {
                memory: Some(1 << 20),
                cpu: None,
            })
            .unwrap_err();
        assert!(e.contains("memory"), "{e}");
        assert!(c.check(&Limits::default()).is_ok());
    }

    #[test]
    fn names_never_become_paths() {
        let c = Controllers::from_mountinfo(V1, "", |_| String::new());
        for bad in ["", ".", "..", "a/b", "../x", "a b"] {
            assert!(NodeCgroup::locate(&c, bad, "h1").is_err(), "{bad:?}");
            assert!(NodeCgroup::locate(&c, "lab", bad).is_err(), "{bad:?}");
        }
        let g = NodeCgroup::locate(&c, "lab", "h1").unwrap();
        assert!(
            g.dirs
                .iter()
                .all(|d| d.ends_with("topolab/lab/h1") && d.starts_with("/sys/fs/cgroup"))
        );
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
    }

    /// A real group on this machine: limits written, a process added, frozen and thawed,
    /// removed. Needs root and at least the v1 or v2 memory and freezer controllers.
    #[test]
    fn a_real_group_limits_freezes_and_goes() {
        if crate::skip_without_root() {
            return;
        }
        let ctl = Controllers::detect();
        if ctl.memory.is_none() || ctl.freezer.is_none() {
            eprintln!("SKIPPED: no memory or freezer controller here");
            return;
        }
        let lab = format!("tcg{}", std::process::id());
        let limits = Limits {
            cpu: ctl.cpu.as_ref().map(|_| 0.5),
            memory: Some(64 << 20),
        };
        let g = NodeCgroup::create(&ctl, &lab, "h1", &limits).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        g.add(child.id()).unwrap();
        assert_eq!(g.pids(), vec![child.id()]);
        g.freeze(true).unwrap();
        // The v1 freezer passes through FREEZING; wait (bounded) for FROZEN.
        for _ in 0..100 {
            if g.frozen() == Some(true) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(g.frozen(), Some(true));
        g.freeze(false).unwrap();
        assert_eq!(g.frozen(), Some(false));
        assert!(g.memory_bytes().is_some());
        child.kill().unwrap();
        child.wait().unwrap();
        g.remove().unwrap();
        remove_lab(&ctl, &lab).unwrap();
        let mem = ctl.memory.unwrap().root.join("topolab").join(&lab);
        assert!(!mem.exists());
    }
}
