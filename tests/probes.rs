//! The built-in probes against real namespaces: `pingall`'s sweep reports exactly the pairs
//! that do not answer, and credits every reply to the pair that earned it.

mod common;

use std::collections::BTreeSet;

use topolab::lab::{Lab, LabOptions};
use topolab::scenario::{Family, pingall_pairs};
use topolab::topology::Topology;

async fn up(yaml: &str, tag: &str) -> Lab {
    let topo = Topology::from_str(yaml, "probes-test.yaml").unwrap();
    Lab::up_with(
        &topo,
        LabOptions {
            name: Some(common::lab_name(tag)),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

fn sweep(lab: &Lab) -> Vec<topolab::scenario::PairResult> {
    let plan = lab.plan().clone();
    pingall_pairs(&plan, Family::Ipv4, false).unwrap().pairs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pingall_reports_exactly_the_silent_pairs() {
    need_root!();
    let lab = up(
        "name: pa\naddressing: {ipv6: false}\ngenerate:\n  - star: {hosts: 4}\n",
        "pgall",
    )
    .await;
    let names: Vec<String> = sweep(&lab).iter().map(|p| p.0.clone()).collect();
    let plan = lab.plan().clone();
    let hosts: BTreeSet<&String> = names.iter().collect();
    let hosts: Vec<&String> = hosts.into_iter().collect();
    let (a, b) = (hosts[0].clone(), hosts[2].clone());
    let a_ip = plan.node(&a).unwrap().ifaces[0].addrs[0].addr();
    // b can no longer answer a (nor reach it): exactly a → b and b → a go silent.
    let out = lab
        .node(&b)
        .exec(["ip", "route", "add", "unreachable", &format!("{a_ip}/32")])
        .await
        .unwrap();
    assert!(out.success(), "{}", out.stderr_str());
    let pairs = sweep(&lab);
    assert_eq!(pairs.len(), 12, "4 hosts make 12 ordered pairs: {pairs:?}");
    let silent: BTreeSet<(String, String)> = pairs
        .iter()
        .filter(|p| !p.2)
        .map(|p| (p.0.clone(), p.1.clone()))
        .collect();
    let want: BTreeSet<(String, String)> = [(a.clone(), b.clone()), (b.clone(), a.clone())].into();
    assert_eq!(silent, want, "{pairs:?}");
    for p in pairs.iter().filter(|p| p.2) {
        assert!(p.3.is_some(), "a reachable pair has an RTT: {p:?}");
    }
    lab.down().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pingall_credits_each_reply_to_its_pair() {
    need_root!();
    // Each host's link to the switch has its own delay (both ways), so a reply can only
    // come back after 2 × (delay of the source + delay of the target): checked from below,
    // a reply credited to the wrong (slower) pair would show too small an RTT.
    let lab = up(
        "name: pb\naddressing: {ipv6: false}\n\
         nodes: {h1: {}, h2: {}, h3: {}, s1: {kind: switch}}\n\
         links:\n  - [h1, s1]\n  - {endpoints: [h2, s1], delay: 15ms}\n  - {endpoints: [h3, s1], delay: 40ms}\n",
        "pgmatch",
    )
    .await;
    let delay = |h: &str| match h {
        "h1" => 0.0,
        "h2" => 15.0,
        _ => 40.0,
    };
    let pairs = sweep(&lab);
    assert_eq!(pairs.len(), 6, "{pairs:?}");
    for (from, to, ok, rtt) in &pairs {
        assert!(ok, "{from} → {to} unanswered: {pairs:?}");
        let rtt = rtt.unwrap();
        let floor = 2.0 * (delay(from) + delay(to));
        assert!(
            rtt >= floor,
            "{from} → {to}: RTT {rtt:.3} ms, below its path's {floor} ms: {pairs:?}"
        );
    }
    lab.down().await.unwrap();
}

/// `ping` returns when the replies are in, not after its whole `wait`: with an hour's wait
/// for the last reply, a reachable target still answers at once (the old code slept the
/// hour; the bound here is a liveness guard at a tenth of the hour, not a timing check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_returns_when_the_replies_are_in() {
    need_root!();
    let lab = up(
        "name: pc\naddressing: {ipv6: false}\nnodes: {h1: {}, h2: {}}\nlinks: [[h1, h2]]\n",
        "pgwait",
    )
    .await;
    let src = lab.plan().node("h1").unwrap().netns.clone();
    let dst = lab.plan().node("h2").unwrap().ifaces[0].addrs[0].addr();
    let cfg = topolab::tools::ping::PingConfig {
        count: 3,
        interval: std::time::Duration::from_millis(10),
        wait: std::time::Duration::from_secs(3600),
        ..Default::default()
    };
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(360),
        tokio::task::spawn_blocking(move || topolab::tools::ping::ping(&src, dst, cfg)),
    )
    .await
    .expect("ping slept its whole wait although every reply was in")
    .unwrap()
    .unwrap();
    assert_eq!(r.received, 3, "{r:?}");
    lab.down().await.unwrap();
}

/// Every probe parameter is bounded where it is parsed, and the refusal names the limit
/// (these once ran: an unbounded probe count, "NaN Mbit/s", 0 streams at 8.7 Gbit/s).
#[test]
fn probe_arguments_are_refused_outside_their_limits() {
    for (args, limit) in [
        ("udp -c 18446744073709551615", "1..=10000000"),
        ("udp -c 0", "1..=10000000"),
        ("udp -i 0", "at most 60000 ms"),
        ("udp -s 70000", "16..=65507"),
        ("throughput -t 0", "at most 3600 s"),
        ("throughput -t NaN", "at most 3600 s"),
        ("throughput -P 0", "1..=128"),
        ("throughput -P 129", "1..=128"),
        ("throughput -i inf", "at most 3600 s"),
        ("ping -c 0", "1..=100000"),
        ("ping -i 61", "at most 60 s"),
        ("ping -s 65508", "0..=65507"),
    ] {
        let mut words: Vec<&str> = args.split(' ').collect();
        words.splice(1..1, ["nolab", "h1", "h2"]);
        let out = common::topolab()
            .arg("probe")
            .args(&words)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args}: accepted");
        assert!(err.contains(limit), "{args}: {err}");
    }
}
