//! The split lab of tests/shards.rs launched through a real Slurm controller and three
//! `slurmd` on this machine (issue 13): `salloc -N 3 topolab up FILE --launcher slurm`
//! runs the coordinator inside the allocation, which starts one agent per node with one
//! `srun` step. The cluster is scripts/slurm-local's (scripts/test starts it and exports
//! SLURM_CONF). Root; unique lab name; `DownOnDrop` and the salloc process's `Peer` clean up.

mod common;

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::split_lab;
use common::{DownOnDrop, Peer, have_peer, lab_name, namespaces_of};

/// Whether the Slurm cluster answers (`sinfo` shows n1..n3); under CI its absence fails.
fn slurm_up() -> bool {
    if !have_peer("salloc") {
        return false;
    }
    let ok = Command::new("sinfo")
        .args(["-h", "-N", "-o", "%N %t"])
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).lines().count() >= 3
        });
    if !ok {
        assert!(
            std::env::var_os("TOPOLAB_REQUIRE_ROOT").is_none(),
            "no Slurm cluster answers (SLURM_CONF={:?}): scripts/test starts one with \
             scripts/slurm-local start",
            std::env::var_os("SLURM_CONF")
        );
        eprintln!("SKIPPED: no Slurm cluster (scripts/slurm-local start)");
    }
    ok
}

#[test]
fn three_shards_through_slurm() {
    need_root!();
    if !slurm_up() {
        return;
    }
    let lab = lab_name("slu");
    let file = split_lab::write_topology(&lab);
    let mut child = Command::new("salloc")
        .args(["-N", "3", "--job-name", &lab])
        .arg(env!("CARGO_BIN_EXE_topolab"))
        .args([
            "up",
            file.to_str().unwrap(),
            "--launcher",
            "slurm",
            "--no-console",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("salloc starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    // Dropped last: `down` first ends the coordinator (and so the allocation).
    let mut salloc = Peer(child);
    let _down = DownOnDrop(lab.clone());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for r in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(r).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
    }
    let mut said = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    let up = format!("lab `{lab}` up");
    while !said.iter().any(|l: &String| l.contains(&up)) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "not up through slurm in time:\n{}",
            said.join("\n")
        );
        match rx.recv_timeout(left) {
            Ok(l) => said.push(l),
            Err(_) => panic!("salloc ended before the lab was up:\n{}", said.join("\n")),
        }
    }
    let all = said.join("\n");
    assert!(all.contains("Granted job allocation"), "{all}");
    assert!(all.contains("shard 3/3 ready"), "{all}");
    assert!(all.contains("(slurm launcher)"), "{all}");

    let s = split_lab::check_running(&lab);

    // `down` through the coordinator: the srun step ends, then salloc.
    split_lab::run(&["down", &lab]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = salloc.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "salloc still runs after down");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "salloc: {status}");
    assert_eq!(namespaces_of(&lab), Default::default());
    assert!(s.all.len() >= 30);
}
