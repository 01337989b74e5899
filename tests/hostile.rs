//! Hostile and unlucky use: names that are paths, journals that lie, two labs racing for
//! one namespace name, signals during `up`, daemons that escape their process group,
//! run directories in odd states, and what the messages say when things are not as
//! expected. Each test fails on the code before issue 8 and passes after.
//!
//! Sections (issue 8 defect numbers): 1 names and journals, 2 racing labs, 4 signals in
//! `up`, 5 daemons, 9 run-directory states, 11 messages, 14 `down` waits.

mod common;

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::builder::TopoBuilder;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use topolab::lab::journal::{Entry, Journal};
use topolab::lab::{Lab, LabError, LabOptions, RUN_BASE};

fn run(args: &[&str]) -> Output {
    common::topolab()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run_dir(lab: &str) -> PathBuf {
    Path::new(RUN_BASE).join(lab)
}

/// Tests that run `clean` or leave a lab without supervisor for a while take this, so
/// that one test's `clean` does not remove another test's fixture.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn base_dir() {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(RUN_BASE)
        .unwrap();
}

/// A scratch directory under /tmp, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("tl-hostile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("x")).unwrap();
        std::fs::write(p.join("x/keep"), "precious").unwrap();
        Scratch(p)
    }
    fn intact(&self) -> bool {
        std::fs::read_to_string(self.0.join("x/keep")).is_ok_and(|s| s == "precious")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes a run directory the test made by hand.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        match std::fs::symlink_metadata(&self.0) {
            Ok(m) if m.file_type().is_symlink() => {
                let _ = std::fs::remove_file(&self.0);
            }
            Ok(_) => {
                let _ = std::fs::remove_dir_all(&self.0);
            }
            Err(_) => {}
        }
    }
}

// ---- 1: a lab name is never a path -------------------------------------------------------

#[test]
fn bad_lab_names_are_refused_by_every_command() {
    let scratch = Scratch::new("names");
    let target = scratch.0.join("x");
    let rel = format!("../..{}", target.display());
    let abs = target.display().to_string();
    let newline = "a\ntouch /tmp/p\n#".to_string();
    for bad in [rel.as_str(), abs.as_str(), "", ".", "..", newline.as_str()] {
        for args in [
            vec!["down", bad],
            vec!["inspect", bad],
            vec!["exec", bad, "h1", "--", "true"],
            vec!["shell", bad, "h1"],
            vec!["link", bad, "h1", "r1", "show"],
            vec!["plan", "--name", bad],
            vec!["up", "--name", bad],
            vec!["probe", "ping", bad, "h1", "h2"],
        ] {
            let o = run(&args);
            assert!(!o.status.success(), "{args:?} succeeded");
            let t = text(&o);
            assert!(t.contains("lab name"), "{args:?}: {t}");
            // Refused before anything runs: nothing (no script, no plan) on stdout.
            assert!(o.stdout.is_empty(), "{args:?}: {t}");
        }
    }
    assert!(scratch.intact(), "a command deleted {}", target.display());
}

/// A journal that names paths as namespaces: `down` and `clean` ignore those entries.
#[test]
fn journal_cannot_lead_outside_the_labs_namespaces() {
    need_root!();
    let _serial = serial();
    let scratch = Scratch::new("journal");
    let victim = scratch.0.join("x/keep");
    let lab = common::lab_name("jr");
    base_dir();
    let dir = run_dir(&lab);
    let _rm = RemoveDir(dir.clone());
    for cmd in ["down", "clean"] {
        std::fs::create_dir(&dir).unwrap();
        let evil = format!("../..{}", victim.display());
        let mut j = Journal::create(&dir).unwrap();
        let line = format!(
            "{{\"t\":\"lab\",\"name\":\"{lab}\",\"pid\":1,\"start\":1,\"topology\":\"x\"}}"
        );
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(j.path())
            .unwrap();
        writeln!(f, "{line}").unwrap();
        j.append(&Entry::Netns {
            names: vec![evil.clone(), format!("{lab}-{evil}")],
        })
        .unwrap();
        j.append(&Entry::Namespace {
            name: evil.clone(),
            dev: 0,
            ino: 0,
            placeholder: 0,
        })
        .unwrap();
        std::fs::write(dir.join("lock"), "").unwrap();
        let o = match cmd {
            "down" => run(&["down", &lab]),
            _ => run(&["clean"]),
        };
        assert!(o.status.success(), "{cmd}: {}", text(&o));
        assert!(scratch.intact(), "`{cmd}` deleted {}", victim.display());
        assert!(!dir.exists(), "{cmd} left the run directory");
    }
}

// ---- 2: two labs that want the same namespace name --------------------------------------

#[test]
fn colliding_labs_never_delete_each_others_namespaces() {
    need_root!();
    // Lab `X-b` node `c` and lab `X` node `b-c` both need namespace `X-b-c`.
    let x = common::lab_name("rc");
    // The shared name comes second, so both labs usually pass the "exists" check and make
    // a namespace of their own before they race for it: the loser then has something to
    // roll back, which before issue 8 included the winner's `X-b-c`.
    let one = TopoBuilder::new("one")
        .host("d")
        .host("c")
        .link("c", "d")
        .build();
    let two = TopoBuilder::new("two")
        .host("e")
        .host("b-c")
        .link("b-c", "e")
        .build();
    let plan_one = topolab::compile::compile(&one, &format!("{x}-b")).unwrap();
    let plan_two = topolab::compile::compile(&two, &x).unwrap();
    for round in 0..100 {
        let barrier = std::sync::Barrier::new(2);
        let up = |plan: &topolab::compile::Plan| {
            barrier.wait();
            Lab::up_plan(plan.clone(), "race", &LabOptions::default())
        };
        let (r1, r2) = std::thread::scope(|s| {
            let a = s.spawn(|| up(&plan_one));
            let b = s.spawn(|| up(&plan_two));
            (a.join().unwrap(), b.join().unwrap())
        });
        let (winner, loser) = match (r1, r2) {
            (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
            (Ok(_), Ok(_)) => panic!("round {round}: both labs came up"),
            (Err(a), Err(b)) => panic!("round {round}: both failed: {a}; {b}"),
        };
        assert!(
            matches!(&loser, LabError::NamespaceExists(n) if *n == format!("{x}-b-c")),
            "round {round}: {loser}"
        );
        for n in &winner.plan().nodes {
            assert!(
                topolab::netns::open(&n.netns).is_ok(),
                "round {round}: lab `{}` lost namespace {}",
                winner.name(),
                n.netns
            );
        }
        winner.down_blocking().unwrap();
        assert_eq!(
            common::namespaces_of(&x),
            Default::default(),
            "round {round}: namespaces left"
        );
    }
    assert!(!run_dir(&x).exists() && !run_dir(&format!("{x}-b")).exists());
}

// ---- 4: signals at any moment of `up` ----------------------------------------------------

#[test]
fn signal_during_up_leaves_nothing() {
    need_root!();
    let scratch = Scratch::new("sig");
    let file = scratch.0.join("big.yaml");
    std::fs::write(&file, "name: big\ngenerate:\n  - star: {hosts: 49}\n").unwrap();
    for (i, (delay_ms, sig)) in [
        (0, Signal::SIGTERM),
        (5, Signal::SIGINT),
        (20, Signal::SIGTERM),
        (50, Signal::SIGINT),
        (200, Signal::SIGTERM),
    ]
    .into_iter()
    .enumerate()
    {
        let lab = common::lab_name(&format!("sg{i}"));
        let _guard = common::DownOnDrop(lab.clone());
        let mut child = common::topolab()
            .args(["up", "--name", &lab])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        kill(Pid::from_raw(child.id() as i32), sig).unwrap();
        let _ = child.wait().unwrap();
        assert_eq!(
            common::namespaces_of(&lab),
            Default::default(),
            "{sig} after {delay_ms} ms left namespaces"
        );
        assert!(
            !run_dir(&lab).exists(),
            "{sig} after {delay_ms} ms left the run directory"
        );
    }
}

// ---- 5: daemons that leave their process group -------------------------------------------

fn daemon_lab(tag: &str, marker: &str) -> (String, Scratch) {
    lab_running(
        tag,
        &format!("setsid sh -c 'sleep 1000 {marker} &'"),
        marker,
        1,
    )
}

/// Lab `tag` (detached) whose h1 runs `run`; returns once `at_least` processes carry
/// `marker`.
fn lab_running(tag: &str, run: &str, marker: &str, at_least: usize) -> (String, Scratch) {
    let scratch = Scratch::new(tag);
    let file = scratch.0.join("daemon.yaml");
    std::fs::write(
        &file,
        format!("name: d\nnodes:\n  h1:\n    run: [\"{run}\"]\n  h2: {{}}\nlinks:\n  - [h1, h2]\n"),
    )
    .unwrap();
    let lab = common::lab_name(tag);
    let o = common::topolab()
        .args(["up", "-d", "--name", &lab])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "up -d: {}", text(&o));
    for _ in 0..500 {
        if common::processes_with(marker).len() >= at_least {
            return (lab, scratch);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the daemon did not start");
}

fn assert_gone(marker: &str) {
    for _ in 0..50 {
        if common::processes_with(marker).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("daemon survived: {:?}", common::processes_with(marker));
}

#[test]
fn setsid_daemon_is_stopped_by_down_and_by_clean() {
    need_root!();
    let _serial = serial();
    let m1 = format!("0.51{:07}", std::process::id());
    let (lab, _s) = daemon_lab("dm1", &m1);
    let _guard = common::DownOnDrop(lab.clone());
    let o = run(&["down", &lab]);
    assert!(o.status.success(), "{}", text(&o));
    assert_gone(&m1);

    let m2 = format!("0.52{:07}", std::process::id());
    let (lab, _s) = daemon_lab("dm2", &m2);
    let _guard = common::DownOnDrop(lab.clone());
    common::sigkill_supervisor(&lab);
    let o = run(&["clean"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_gone(&m2);
    assert_eq!(common::namespaces_of(&lab), Default::default());
}

/// Kills (by PID, ours only: they carry our marker) what a failing test left behind.
struct KillMarked(String);

impl Drop for KillMarked {
    fn drop(&mut self) {
        for pid in common::processes_with(&self.0) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// A node that keeps starting `setsid` daemons while the lab goes down: the ones born
/// after `down` read `/proc` must go too (a single scan missed them).
#[test]
fn daemons_started_during_down_are_stopped_too() {
    need_root!();
    let _serial = serial();
    let marker = format!("0.53{:07}", std::process::id());
    let _kill = KillMarked(marker.clone());
    // At most 3000 daemons, one after another, as fast as sh can fork.
    let spawner = format!(
        "sh -c 'i=0; while [ $i -lt 3000 ]; do setsid sleep 1000 {marker} & i=$((i+1)); done; wait'"
    );
    let (lab, _scratch) = lab_running("dm3", &spawner, &marker, 20);
    let _guard = common::DownOnDrop(lab.clone());
    let o = run(&["down", &lab]);
    assert!(o.status.success(), "{}", text(&o));
    assert_gone(&marker);
    assert_eq!(common::namespaces_of(&lab), Default::default());
}

fn supervisor_pid(lab: &str) -> u32 {
    let entries = Journal::read(&run_dir(lab)).unwrap();
    Journal::owner(&entries).unwrap().1
}

// ---- 9: one classifier for ls, clean and up ----------------------------------------------

#[test]
fn a_bare_run_directory_is_incomplete_everywhere_and_clean_removes_it() {
    need_root!();
    let _serial = serial();
    base_dir();
    let lab = common::lab_name("rd");
    let dir = run_dir(&lab);
    let _rm = RemoveDir(dir.clone());
    std::fs::create_dir(&dir).unwrap();

    let ls = run(&["ls"]);
    let line = text(&ls)
        .lines()
        .find(|l| l.starts_with(&lab))
        .map(String::from)
        .unwrap_or_default();
    assert!(line.contains("incomplete"), "ls: {}", text(&ls));
    let _guard = common::DownOnDrop(lab.clone());
    let up = run(&["up", "-d", "--name", &lab]);
    assert!(!up.status.success(), "up: {}", text(&up));
    assert!(text(&up).contains("topolab clean"), "up: {}", text(&up));
    let clean = run(&["clean"]);
    assert!(clean.status.success(), "{}", text(&clean));
    assert!(
        text(&clean).contains(&format!("`{lab}`")),
        "clean: {}",
        text(&clean)
    );
    assert!(!dir.exists(), "clean left {}", dir.display());
}

#[test]
fn a_symlinked_run_directory_is_never_followed() {
    need_root!();
    let _serial = serial();
    base_dir();
    let scratch = Scratch::new("link");
    let lab = common::lab_name("sl");
    let dir = run_dir(&lab);
    let _rm = RemoveDir(dir.clone());
    std::os::unix::fs::symlink(scratch.0.join("x"), &dir).unwrap();
    for args in [vec!["down", lab.as_str()], vec!["clean"], vec!["ls"]] {
        let _ = run(&args);
        assert!(scratch.intact(), "{args:?} followed the symlink");
    }
    assert!(std::fs::symlink_metadata(&dir).is_ok());
}

// ---- 11: messages -----------------------------------------------------------------------

fn as_nobody(args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_topolab"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn non_root_is_told_it_lacks_permission() {
    need_root!();
    if Command::new("setpriv").arg("--version").output().is_err() {
        panic!("setpriv (util-linux) is needed for this test");
    }
    base_dir();
    for args in [
        vec!["ls"],
        vec!["down", "quickstart"],
        vec!["down"],
        vec!["exec", "quickstart", "h1", "--", "true"],
        vec!["inspect", "quickstart"],
        vec!["clean"],
    ] {
        let o = as_nobody(&args);
        let t = text(&o);
        assert!(!o.status.success(), "{args:?}: {t}");
        assert!(t.contains("permission denied"), "{args:?}: {t}");
        assert!(t.contains("CAP_SYS_ADMIN"), "{args:?}: {t}");
        assert!(!t.contains("no lab"), "{args:?}: {t}");
    }
}

/// `down` while `up` is still coming up (lock held, no control socket yet).
#[test]
fn down_during_up_says_so() {
    need_root!();
    base_dir();
    let lab = common::lab_name("dd");
    let dir = run_dir(&lab);
    let _rm = RemoveDir(dir.clone());
    std::fs::create_dir(&dir).unwrap();
    let lock = std::fs::File::create(dir.join("lock")).unwrap();
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .unwrap();
    let o = run(&["down", &lab]);
    let t = text(&o);
    assert!(!o.status.success());
    assert!(t.contains("still coming up"), "{t}");
    assert!(!t.contains("os error 2"), "{t}");
    assert!(dir.exists(), "down removed a lab that is coming up");
}

#[test]
fn inspect_reports_a_missing_namespace_and_the_rest() {
    need_root!();
    let lab = common::lab_name("im");
    let _guard = common::DownOnDrop(lab.clone());
    let o = run(&["up", "-d", "--name", &lab]);
    assert!(o.status.success(), "{}", text(&o));
    let del = Command::new("ip")
        .args(["netns", "del", &format!("{lab}-h1")])
        .status()
        .unwrap();
    assert!(del.success());
    let o = run(&["inspect", &lab]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("MISSING"), "{t}");
    assert!(t.contains(&format!("netns {lab}-h2")), "{t}");
    let o = run(&["down", &lab]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn clean_counts_what_it_removed() {
    need_root!();
    let _serial = serial();
    let lab = common::lab_name("cc");
    let _guard = common::DownOnDrop(lab.clone());
    let o = run(&["up", "-d", "--name", &lab]);
    assert!(o.status.success(), "{}", text(&o));
    common::sigkill_supervisor(&lab);
    for node in ["h1", "h2", "r1"] {
        let _ = Command::new("ip")
            .args(["netns", "del", &format!("{lab}-{node}")])
            .status();
    }
    let left = common::namespaces_of(&lab).len();
    assert!(left > 0);
    let o = run(&["clean"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let line = t.lines().find(|l| l.contains(&format!("`{lab}`"))).unwrap();
    assert!(line.contains(&format!(" {left} namespaces")), "{line}");
    assert_eq!(common::namespaces_of(&lab), Default::default());
}

// ---- 14: `down` returns when the supervisor has exited ----------------------------------

fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rfind(')').is_some_and(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true)
}

#[test]
fn down_waits_for_the_supervisor_and_up_can_follow_at_once() {
    need_root!();
    let lab = common::lab_name("dw");
    let _guard = common::DownOnDrop(lab.clone());
    for _ in 0..2 {
        let o = run(&["up", "-d", "--name", &lab]);
        assert!(o.status.success(), "{}", text(&o));
        let pid = supervisor_pid(&lab);
        let o = run(&["down", &lab]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(gone(pid), "supervisor {pid} still runs after `down`");
    }
}
