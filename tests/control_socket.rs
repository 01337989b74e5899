//! The control socket serves clients concurrently: an idle connection delays neither a
//! request nor a signal's teardown, and an endless request line is refused without
//! growing the supervisor.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{DownOnDrop, topolab};
use topolab::lab::RUN_BASE;
use topolab::lab::control::{self, Request, Response};

/// A detached quickstart lab called `name`; returns its run directory and supervisor pid.
fn up(name: &str) -> (PathBuf, u32) {
    let up = topolab()
        .args(["up", "-d", "--name", name])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let dir = Path::new(RUN_BASE).join(name);
    match control::call(&dir, &Request::Ping, Duration::from_secs(60)).unwrap() {
        Response::Pong { pid, .. } => (dir, pid),
        other => panic!("{other:?}"),
    }
}

/// A connection that never sends a thing.
fn idle(dir: &Path) -> UnixStream {
    UnixStream::connect(control::socket_path(dir)).unwrap()
}

/// True while the supervisor has not closed `s` (nothing to read yet).
fn still_open(s: &UnixStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let open = matches!((&*s).read(&mut b), Err(e) if e.kind() == ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();
    open
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn idle_connections_do_not_delay_inspect() {
    need_root!();
    let name = common::lab_name("idle");
    let _guard = DownOnDrop(name.clone());
    let (dir, _) = up(&name);
    // Served one at a time, the old supervisor answered `inspect` only after it had given
    // up on both idle connections (closing them).
    let (a, b) = (idle(&dir), idle(&dir));
    let inspect = topolab()
        .args(["inspect", &name, "--json"])
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    assert!(
        still_open(&a) && still_open(&b),
        "inspect waited for the idle connections"
    );
    let down = topolab().args(["down", &name]).output().unwrap();
    assert!(down.status.success());
    assert!(!dir.exists());
}

#[test]
fn sigterm_tears_down_while_idle_connections_are_open() {
    need_root!();
    let name = common::lab_name("idlesig");
    let _guard = DownOnDrop(name.clone());
    let (dir, pid) = up(&name);
    let (a, _b) = (idle(&dir), idle(&dir));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    // The connection ends when the supervisor exits. The old supervisor, busy waiting
    // for this idle client, closed it on its read timeout with the lab still up.
    a.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut b = [0u8; 1];
    let _ = (&a).read(&mut b);
    assert!(
        !dir.exists(),
        "the idle connection was dropped before the lab was torn down"
    );
    assert!(common::namespaces_of(&name).is_empty());
}

#[test]
fn an_endless_request_line_is_refused_without_growing_the_supervisor() {
    need_root!();
    let name = common::lab_name("long");
    let _guard = DownOnDrop(name.clone());
    let (dir, pid) = up(&name);
    let before = rss_kib(pid);
    let s = idle(&dir);
    let mut w = s.try_clone().unwrap();
    // 16 MiB without a newline; the supervisor stops reading long before the end, so the
    // write fails (broken pipe) once it has closed the connection.
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..16 {
            if w.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut reply = String::new();
    let _ = (&s).read_to_string(&mut reply);
    writer.join().unwrap();
    let resp: Response =
        serde_json::from_str(reply.trim()).unwrap_or_else(|e| panic!("no reply ({e}): {reply:?}"));
    match resp {
        Response::Error { message } => assert!(message.contains("longer than"), "{message}"),
        other => panic!("{other:?}"),
    }
    let after = rss_kib(pid);
    assert!(
        after < before + 4096,
        "supervisor grew from {before} KiB to {after} KiB"
    );
    // It still serves.
    assert!(matches!(
        control::call(&dir, &Request::Ping, Duration::from_secs(60)).unwrap(),
        Response::Pong { .. }
    ));
    let down = topolab().args(["down", &name]).output().unwrap();
    assert!(down.status.success());
}
