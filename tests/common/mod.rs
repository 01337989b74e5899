//! Helpers shared by the integration tests: the topology builder, example topologies, a
//! forwarding simulator over Plans, and helpers for tests that need root and real
//! namespaces (every such test uses a lab name unique to its process and purpose, and
//! relies on `Lab`'s `Drop` or a guard here for teardown).
#![allow(dead_code)]

pub mod builder;
pub mod corpus;
pub mod mutate;
pub mod pty;
pub mod shards;
pub mod sim;
pub mod split_lab;
pub mod topologies;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

/// Skips the test (loudly) when not root: namespaces need CAP_SYS_ADMIN. With
/// `TOPOLAB_REQUIRE_ROOT=1` (set by `.ci/run` and `scripts/test` as root) it fails instead,
/// so a CI that lost root can never be green by skipping.
#[macro_export]
macro_rules! need_root {
    () => {
        if !nix::unistd::geteuid().is_root() {
            if std::env::var_os("TOPOLAB_REQUIRE_ROOT").is_some_and(|v| v == "1") {
                panic!(
                    "{}: needs root (namespaces), and TOPOLAB_REQUIRE_ROOT=1 says every \
                     root-only test must run",
                    module_path!()
                );
            }
            eprintln!("SKIPPED {}: needs root (namespaces)", module_path!());
            return;
        }
    };
}

/// A lab name unique to this test process and `tag` (≤ 40 bytes).
pub fn lab_name(tag: &str) -> String {
    format!("t{}{}", tag, std::process::id())
}

/// Named namespaces whose name starts with `prefix-` (a lab's namespaces).
pub fn namespaces_of(prefix: &str) -> BTreeSet<String> {
    assert!(!prefix.is_empty(), "namespaces_of needs a lab name");
    all_namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .collect()
}

/// Every named namespace on the machine.
pub fn all_namespaces() -> BTreeSet<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(out.status.success(), "ip netns list failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

/// Links of the root namespace (names only).
pub fn root_links() -> BTreeSet<String> {
    let out = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|s| s.trim().split('@').next().unwrap_or("").to_string())
        .collect()
}

/// PIDs of processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(marker) && pid != std::process::id() {
                v.push(pid);
            }
        }
    }
    v
}

/// Kills lab `lab`'s supervisor with SIGKILL (a crash: no teardown) and waits, bounded,
/// until its lock is free, i.e. the lab is orphaned. Returns the supervisor's PID.
pub fn sigkill_supervisor(lab: &str) -> u32 {
    let dir = std::path::Path::new(topolab::lab::RUN_BASE).join(lab);
    let pid: u32 = std::fs::read_to_string(dir.join("lock"))
        .expect("the lab's lock file names its supervisor")
        .trim()
        .parse()
        .expect("a PID in the lock file");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    for _ in 0..500 {
        if topolab::lab::teardown::try_lock(&dir).is_ok_and(|l| l.is_some()) {
            return pid;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the supervisor of {lab} (pid {pid}) still holds its lock after SIGKILL");
}

/// The built `topolab` binary.
pub fn topolab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_topolab"))
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs `topolab down LAB` (best effort) when dropped: for tests that start detached labs.
pub struct DownOnDrop(pub String);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        let _ = topolab().args(["down", &self.0]).output();
        // If the supervisor is gone, `down` removes leftovers from the journal; `clean`
        // handles anything still orphaned.
        if !namespaces_of(&self.0).is_empty() {
            let _ = topolab().arg("clean").output();
        }
    }
}

/// Whether a third-party peer (`ovs-ofctl`, os-ken's Python …) is installed. CI installs
/// every peer (scripts/deps), so under TOPOLAB_REQUIRE_ROOT its absence is a failure, never
/// a skip.
pub fn have_peer(program: &str) -> bool {
    let ok = Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("TOPOLAB_REQUIRE_ROOT").is_none(),
            "{program} is not installed (scripts/deps installs it)"
        );
        eprintln!("SKIPPED: {program} is not installed");
    }
    ok
}

/// A peer process the test started (a controller on the machine's loopback), killed by
/// its PID when dropped.
pub struct Peer(pub std::process::Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Compares `actual` with `tests/golden/<name>` byte for byte; `TOPOLAB_BLESS=1` writes
/// it instead (then review the diff; never edit a golden file by hand).
pub fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("TOPOLAB_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with TOPOLAB_BLESS=1 and review it",
            path.display()
        )
    });
    if expected != actual {
        let (i, (e, a)) = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .find(|(_, (e, a))| e != a)
            .unwrap_or((
                expected.lines().count().min(actual.lines().count()),
                ("<end>", "<end>"),
            ));
        panic!(
            "{} differs at line {}:\n  expected: {e}\n  actual:   {a}\n\
             (if the change is intended: TOPOLAB_BLESS=1 cargo test --test {})",
            path.display(),
            i + 1,
            env!("CARGO_CRATE_NAME")
        );
    }
}
