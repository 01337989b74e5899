//! The split lab that tests/shards.rs (local launcher) and tests/slurm.rs (slurm launcher)
//! bring up, and the checks both run on it (issue 13).
//!
//! Three clusters of a switch and ten hosts (33 nodes), the clusters chained switch to
//! switch, the first of those links delayed 10 ms each way:
//!
//! ```text
//!   a1..a10 ── a0 ══ 10 ms ══ b0 ── b1..b10
//!                              │
//!                  c1..c10 ── c0
//! ```
//! Any balanced 3-way split with a small cut puts each cluster on its own shard, so both
//! switch links cross shards (checked from shards.json before anything relies on it).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use topolab::compile::Plan;
use topolab::lab::coordinator::{ShardsFile, read_shards};
use topolab::lab::inspect::LabStatus;
use topolab::scenario::model::Family;
use topolab::scenario::pingall_pairs;
use topolab::tools::ping::{self, PingConfig};

use super::topolab;

pub fn topology(name: &str) -> String {
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

/// Writes the topology of lab `lab` to a file of its own in the temp dir.
pub fn write_topology(lab: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{lab}.yaml"));
    std::fs::write(&path, topology(lab)).unwrap();
    path
}

pub fn run_dir(lab: &str) -> PathBuf {
    Path::new(topolab::lab::RUN_BASE).join(lab)
}

pub fn run(args: &[&str]) -> std::process::Output {
    let out = topolab().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "topolab {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn inspect(lab: &str) -> LabStatus {
    let out = run(&["inspect", lab, "--json"]);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The address of `node` in `family` (its first).
pub fn addr(plan: &Plan, node: &str, family: Family) -> std::net::IpAddr {
    plan.node(node)
        .unwrap()
        .ifaces
        .iter()
        .flat_map(|i| &i.addrs)
        .map(|a| a.addr())
        .find(|a| a.is_ipv4() == (family == Family::Ipv4))
        .unwrap()
}

/// `count` echoes from `from` to `to` (IPv4): how many came back, and their RTTs in ms,
/// sorted.
pub fn rtts_ms(plan: &Plan, lab: &str, from: &str, to: &str, count: u32) -> (u32, Vec<f64>) {
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

pub fn link_ends(plan: &Plan, link: usize) -> BTreeSet<String> {
    let l = plan.links.iter().find(|l| l.link == link).unwrap();
    [&plan.nodes[l.a.node].name, &plan.nodes[l.b.node].name]
        .into_iter()
        .cloned()
        .collect()
}

/// What [`check_running`] read of the lab.
pub struct SplitLab {
    pub shards: ShardsFile,
    pub plan: Plan,
    /// Every user node.
    pub all: BTreeSet<String>,
}

impl SplitLab {
    /// The shard node `n` is on.
    pub fn on(&self, n: &str) -> u32 {
        self.shards.sharded.shards.assign[n]
    }
}

/// The checks of a running 3-shard split of [`topology`]: the split keeps each cluster on
/// one shard and cuts a0–b0; `inspect` lists every shard's nodes, every link once and
/// every shard up; `link … show` on both cross links; `exec` on a node of each shard;
/// pingall over IPv4 and IPv6 across shards; the 10 ms cross-shard link gives 20 ms RTT
/// within 0.3 ms (the least of 40: the link's own delay, without the scheduling noise of a
/// busy machine); a cross-shard link taken down and up live.
pub fn check_running(lab: &str) -> SplitLab {
    let shards: ShardsFile = read_shards(&run_dir(lab)).unwrap().unwrap();
    let plan = shards.sharded.plan.clone();
    let all: BTreeSet<String> = plan.user_nodes().map(|n| n.name.clone()).collect();
    let s = SplitLab { shards, plan, all };
    let plan = &s.plan;
    for c in ["a", "b", "c"] {
        assert!(
            (1..=10).all(|i| s.on(&format!("{c}{i}")) == s.on(&format!("{c}0"))),
            "cluster {c} is split: {:?}",
            s.shards.sharded.shards.assign
        );
    }
    let cross: Vec<BTreeSet<String>> = s
        .shards
        .sharded
        .shards
        .cross
        .iter()
        .map(|x| link_ends(plan, x.link))
        .collect();
    let ab: BTreeSet<String> = ["a0".to_string(), "b0".to_string()].into();
    assert!(cross.contains(&ab), "a0–b0 must cross shards: {cross:?}");

    // Every shard's nodes, from one `inspect`.
    let st = inspect(lab);
    let seen: BTreeSet<String> = st.nodes.iter().map(|n| n.name.clone()).collect();
    assert_eq!(s.all.len(), 33);
    assert!(
        s.all.is_subset(&seen),
        "inspect misses {:?}",
        &s.all - &seen
    );
    // Every link once, by the whole lab's number (a cross-shard link is reported by both
    // its shards, each numbering its own links).
    let mut numbers: Vec<usize> = st.links.iter().map(|l| l.link).collect();
    numbers.sort();
    let want: Vec<usize> = plan.links.iter().map(|l| l.link).collect();
    assert_eq!(numbers, want);
    for (a, b) in [("a0", "b0"), ("b0", "c0")] {
        let out = run(&["link", lab, a, b, "show"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            text.contains(&format!("{a}:")) && text.contains(&format!("{b}:")),
            "{text}"
        );
    }
    assert_eq!(st.shards.len(), 3);
    assert!(st.shards.iter().all(|x| x.state == "up"), "{:?}", st.shards);

    // `exec` enters a node of any shard (its environment comes from the shard's directory).
    for n in ["a1", "b1", "c1"] {
        let out = run(&["exec", lab, n, "--", "cat", "/proc/self/net/dev"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("eth"), "{n}");
    }

    // pingall across shards, both families.
    for family in [Family::Ipv4, Family::Ipv6] {
        let r = pingall_pairs(plan, family, false).unwrap();
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
    let (got, rtts) = rtts_ms(plan, lab, "a1", "b1", 40);
    assert!(got >= 38, "a1 → b1: {got}/40 answered");
    let min = rtts[0];
    assert!(
        (min - 20.0).abs() <= 0.3,
        "a1 → b1 across the 10 ms link: min RTT {min:.3} ms, want 20 ± 0.3 (all: {rtts:?})"
    );
    // The undelayed cross-shard link adds (almost) nothing.
    let (_, rtts) = rtts_ms(plan, lab, "b1", "c1", 10);
    assert!(rtts[rtts.len() / 2] < 5.0, "b1 → c1: {rtts:?}");

    // A cross-shard link down, then up, live.
    run(&["link", lab, "a0", "b0", "down"]);
    let (got, _) = rtts_ms(plan, lab, "a1", "b1", 5);
    assert_eq!(got, 0, "a0–b0 is down but a1 still reaches b1");
    run(&["link", lab, "a0", "b0", "up"]);
    let mut back = false;
    for _ in 0..50 {
        if rtts_ms(plan, lab, "a1", "b1", 1).0 == 1 {
            back = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(back, "a0–b0 is up again but a1 does not reach b1");
    s
}
