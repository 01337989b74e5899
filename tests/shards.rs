//! One lab split across three shards on this machine (`up --shards 3 --launcher local`,
//! issue 13): every agent in its own "machine" namespace joined by the underlay bridge,
//! cross-shard links carried by VXLAN. Root; unique lab names; `DownOnDrop` cleans up.
//!
//! The lab: three clusters of a switch and ten hosts (33 nodes), the clusters chained
//! switch to switch, the first of those links delayed 10 ms each way:
//!
//! ```text
//!   a1..a10 ── a0 ══ 10 ms ══ b0 ── b1..b10
//!                              │
//!                  c1..c10 ── c0
//! ```
//! Any balanced 3-way split with a small cut puts each cluster on its own shard, so both
//! switch links cross shards (checked from shards.json before anything relies on it).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{DownOnDrop, lab_name, namespaces_of, topolab};
use topolab::compile::Plan;
use topolab::lab::coordinator::{ShardsFile, read_shards, shard_dir};
use topolab::lab::inspect::LabStatus;
use topolab::lab::journal::{Entry, Journal};
use topolab::scenario::model::Family;
use topolab::scenario::pingall_pairs;
use topolab::tools::ping::{self, PingConfig};

fn topology(name: &str) -> String {
    let mut s = format!("name: {name}\nnodes:\n");
    let mut links = String::from("links:\n");
    for c in ["a", "b", "c"] {
        s.push_str(&format!("  {c}0: {{kind: switch}}\n"));
        for i in 1..=10 {
            s.push_str(&format!("  {c}{i}:\n"));
            links.push_str(&format!("  - [{c}{i}, {c}0]\n"));
        }
    }
    links.push_str("  - endpoints: [a0, b0]\n    delay: 10ms\n");
    links.push_str("  - [b0, c0]\n");
    s + &links
}

fn run_dir(lab: &str) -> PathBuf {
    Path::new(topolab::lab::RUN_BASE).join(lab)
}

fn run(args: &[&str]) -> std::process::Output {
    let out = topolab().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "topolab {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn inspect(lab: &str) -> LabStatus {
    let out = run(&["inspect", lab, "--json"]);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The address of `node` in `family` (its first).
fn addr(plan: &Plan, node: &str, family: Family) -> std::net::IpAddr {
    plan.node(node)
        .unwrap()
        .ifaces
        .iter()
        .flat_map(|i| &i.addrs)
        .map(|a| a.addr())
        .find(|a| a.is_ipv4() == (family == Family::Ipv4))
        .unwrap()
}

fn rtts_ms(plan: &Plan, lab: &str, from: &str, to: &str, count: u32) -> (u32, Vec<f64>) {
    let cfg = PingConfig {
        count,
        interval: Duration::from_millis(50),
        ..PingConfig::default()
    };
    let r = ping::ping(&format!("{lab}-{from}"), addr(plan, to, Family::Ipv4), cfg).unwrap();
    let mut v: Vec<f64> = r
        .rtts_ns
        .iter()
        .flatten()
        .map(|ns| *ns as f64 / 1e6)
        .collect();
    v.sort_by(f64::total_cmp);
    (r.received, v)
}

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

fn link_ends(plan: &Plan, link: usize) -> BTreeSet<String> {
    let l = plan.links.iter().find(|l| l.link == link).unwrap();
    [&plan.nodes[l.a.node].name, &plan.nodes[l.b.node].name]
        .into_iter()
        .cloned()
        .collect()
}

#[test]
fn three_shards_on_one_machine() {
    need_root!();
    let lab = lab_name("sh3");
    let _down = DownOnDrop(lab.clone());
    let dir = std::env::temp_dir().join(format!("{lab}.yaml"));
    std::fs::write(&dir, topology(&lab)).unwrap();
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

    let shards: ShardsFile = read_shards(&run_dir(&lab)).unwrap().unwrap();
    let plan = shards.sharded.plan.clone();
    let on = |n: &str| shards.sharded.shards.assign[n];
    for c in ["a", "b", "c"] {
        assert!(
            (1..=10).all(|i| on(&format!("{c}{i}")) == on(&format!("{c}0"))),
            "cluster {c} is split: {:?}",
            shards.sharded.shards.assign
        );
    }
    let cross: Vec<BTreeSet<String>> = shards
        .sharded
        .shards
        .cross
        .iter()
        .map(|x| link_ends(&plan, x.link))
        .collect();
    let ab: BTreeSet<String> = ["a0".to_string(), "b0".to_string()].into();
    assert!(cross.contains(&ab), "a0–b0 must cross shards: {cross:?}");

    // Every shard's nodes, from one `inspect`.
    let st = inspect(&lab);
    let seen: BTreeSet<String> = st.nodes.iter().map(|n| n.name.clone()).collect();
    let all: BTreeSet<String> = plan.user_nodes().map(|n| n.name.clone()).collect();
    assert_eq!(all.len(), 33);
    assert!(all.is_subset(&seen), "inspect misses {:?}", &all - &seen);
    // Every link once, by the whole lab's number (a cross-shard link is reported by both
    // its shards, each numbering its own links).
    let mut numbers: Vec<usize> = st.links.iter().map(|l| l.link).collect();
    numbers.sort();
    let want: Vec<usize> = plan.links.iter().map(|l| l.link).collect();
    assert_eq!(numbers, want);
    for (a, b) in [("a0", "b0"), ("b0", "c0")] {
        let out = run(&["link", &lab, a, b, "show"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            text.contains(&format!("{a}:")) && text.contains(&format!("{b}:")),
            "{text}"
        );
    }
    assert_eq!(st.shards.len(), 3);
    assert!(st.shards.iter().all(|s| s.state == "up"), "{:?}", st.shards);

    // `exec` enters a node of any shard (its environment comes from the shard's directory).
    for n in ["a1", "b1", "c1"] {
        let out = run(&["exec", &lab, n, "--", "cat", "/proc/self/net/dev"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("eth"), "{n}");
    }

    // pingall across shards, both families.
    for family in [Family::Ipv4, Family::Ipv6] {
        let r = pingall_pairs(&plan, family, false).unwrap();
        // Unanswered pairs by cluster pair (`a→c`: 100), to tell a broken link at once.
        let mut lost = std::collections::BTreeMap::<String, usize>::new();
        for p in r.pairs.iter().filter(|p| !p.2) {
            *lost
                .entry(format!("{}→{}", &p.0[..1], &p.1[..1]))
                .or_default() += 1;
        }
        assert!(lost.is_empty(), "{family:?}: unanswered pairs: {lost:?}");
        assert_eq!(r.pairs.len(), 30 * 29);
    }

    // 10 ms each way across shards: 20 ms RTT.
    let (got, rtts) = rtts_ms(&plan, &lab, "a1", "b1", 40);
    assert!(got >= 38, "a1 → b1: {got}/40 answered");
    // The least RTT: the link's own delay, without this busy machine's scheduling noise.
    let min = rtts[0];
    assert!(
        (min - 20.0).abs() <= 0.3,
        "a1 → b1 across the 10 ms link: min RTT {min:.3} ms, want 20 ± 0.3 (all: {rtts:?})"
    );
    // The undelayed cross-shard link adds (almost) nothing.
    let (_, rtts) = rtts_ms(&plan, &lab, "b1", "c1", 10);
    assert!(rtts[rtts.len() / 2] < 5.0, "b1 → c1: {rtts:?}");

    // A cross-shard link down, then up, live.
    run(&["link", &lab, "a0", "b0", "down"]);
    let (got, _) = rtts_ms(&plan, &lab, "a1", "b1", 5);
    assert_eq!(got, 0, "a0–b0 is down but a1 still reaches b1");
    run(&["link", &lab, "a0", "b0", "up"]);
    let mut back = false;
    for _ in 0..50 {
        if rtts_ms(&plan, &lab, "a1", "b1", 1).0 == 1 {
            back = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(back, "a0–b0 is up again but a1 does not reach b1");

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
    for n in &all {
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
