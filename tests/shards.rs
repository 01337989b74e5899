//! One lab split across three shards on this machine (`up --shards 3 --launcher local`,
//! issue 13): every agent in its own "machine" namespace joined by the underlay bridge,
//! cross-shard links carried by VXLAN. Root; unique lab names; `DownOnDrop` cleans up.
//! The lab and the checks of a running split are tests/common/split_lab.rs's (shared with
//! the Slurm launcher's test); here, in addition, one agent is killed and `clean` must
//! remove its shard only.

mod common;

use std::time::Duration;

use common::split_lab::{self, inspect, run, run_dir};
use common::{DownOnDrop, lab_name, namespaces_of};
use topolab::lab::coordinator::shard_dir;
use topolab::lab::journal::{Entry, Journal};

/// The PID of shard `k`'s agent, from the coordinator's journal.
fn agent_pid(lab: &str, k: u32) -> u32 {
    Journal::read(&run_dir(lab))
        .unwrap()
        .into_iter()
        .rev()
        .find_map(|e| match e {
            Entry::Process { node, pid, .. } if node == format!("_shard{k}") && pid != 0 => {
                Some(pid)
            }
            _ => None,
        })
        .expect("the agent's PID is journaled")
}

#[test]
fn three_shards_on_one_machine() {
    need_root!();
    let lab = lab_name("sh3");
    let _down = DownOnDrop(lab.clone());
    let dir = split_lab::write_topology(&lab);
    let out = run(&[
        "up",
        dir.to_str().unwrap(),
        "--shards",
        "3",
        "--launcher",
        "local",
        "-d",
    ]);
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("shard 3/3 ready"), "{said}");

    let s = split_lab::check_running(&lab);
    let on = |n: &str| s.on(n);
    let all = &s.all;

    // One agent killed: `clean` removes its shard's leftovers only.
    let k = on("c0");
    let pid = agent_pid(&lab, k);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let sdir = shard_dir(&run_dir(&lab), k);
    for _ in 0..500 {
        if topolab::lab::teardown::try_lock(&sdir).is_ok_and(|l| l.is_some()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    run(&["clean"]);
    let left = namespaces_of(&lab);
    for n in all {
        let ns = format!("{lab}-{n}");
        assert_eq!(
            left.contains(&ns),
            on(n) != k,
            "{ns}: after clean, only shard {k}'s nodes must be gone"
        );
    }
    assert!(!sdir.exists(), "shard {k}'s run directory is left");
    let st = inspect(&lab);
    let dead: Vec<_> = st.shards.iter().filter(|s| s.state != "up").collect();
    assert_eq!(dead.len(), 1, "{:?}", st.shards);
    assert_eq!(dead[0].shard, k);

    // `down` leaves nothing on any shard.
    run(&["down", &lab]);
    assert!(
        namespaces_of(&lab).is_empty(),
        "left: {:?}",
        namespaces_of(&lab)
    );
    assert!(!run_dir(&lab).exists());
    let _ = std::fs::remove_file(&dir);
}
