//! Root-only: the script printed by `Plan::to_ip_commands` really builds the lab.
//!
//! Compiles a small two-family topology under a unique lab name (`tlplan<pid>`), runs the
//! script with `sh -e`, checks addresses, routes, ifindexes, bridge ports and end-to-end
//! reachability (a TCP connect to a closed port on a lab address must be *refused*, which
//! proves the SYN crossed the routers and the RST came back), then deletes the lab's
//! namespaces in a `Drop` guard so a failing assertion leaves nothing behind. Traffic goes
//! to lab addresses only. Without root the test prints a loud notice and passes.

mod common;

use std::process::{Command, Output};

use common::builder::TopoBuilder;
use topolab::compile::{Plan, compile};

/// Deletes the namespaces of the plan (only those: their names carry the unique lab name).
struct LabGuard {
    netns: Vec<String>,
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        for ns in &self.netns {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// stdout of a command that must succeed.
fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ns(plan: &Plan, node: &str) -> String {
    plan.node(node).unwrap().netns.clone()
}

fn addr_of(plan: &Plan, node: &str, v6: bool) -> String {
    plan.node(node).unwrap().ifaces[0]
        .addrs
        .iter()
        .find(|a| a.addr().is_ipv6() == v6)
        .unwrap()
        .addr()
        .to_string()
}

/// A TCP connect from `from` to a closed port on `to`: refused means reachable.
fn assert_reaches(plan: &Plan, from: &str, to: &str, v6: bool) {
    let target = addr_of(plan, to, v6);
    let script = format!("exec 3<>/dev/tcp/{target}/9");
    let out = run(&[
        "ip",
        "netns",
        "exec",
        &ns(plan, from),
        "timeout",
        "5",
        "bash",
        "-c",
        &script,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Connection refused"),
        "{from} → {to} ({target}): expected a refused connection, got: {err}"
    );
}

#[test]
fn script_builds_a_working_lab() {
    need_root!();
    // h1, h2 on a bridged segment of two switches joined twice (one link blocked) with r1;
    // r1 – r2 point-to-point (r2's end is named `down`, an ip keyword); h3 behind r2.
    let t = TopoBuilder::new("plan")
        .host("h1")
        .host("h2")
        .host("h3")
        .switch("s1")
        .switch("s2")
        .router("r1")
        .router("r2")
        .link("h1", "s1")
        .link("s1", "s2")
        .link("s2", "s1")
        .link("h2", "s2")
        .link("r1", "s1")
        .link("r1", "r2:down")
        .mtu(1400)
        .link("r2", "h3")
        .build();
    let lab = format!("tlplan{}", std::process::id());
    let plan = compile(&t, &lab).expect("compiles");
    let existing = ok(&["ip", "netns", "list"]);
    for n in &plan.nodes {
        assert!(
            !existing
                .lines()
                .any(|l| l.split_whitespace().next() == Some(&n.netns)),
            "namespace {} already exists; not touching it",
            n.netns
        );
    }
    let _guard = LabGuard {
        netns: plan.nodes.iter().map(|n| n.netns.clone()).collect(),
    };

    let script = plan.to_ip_commands();
    let out = run(&["sh", "-e", "-c", &script]);
    assert!(
        out.status.success(),
        "script failed: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Addresses, ifindexes, MACs.
    let h1 = ns(&plan, "h1");
    let link = ok(&["ip", "-n", &h1, "-o", "link", "show", "dev", "eth0"]);
    assert!(link.starts_with("101: eth0"), "{link}");
    let mac = plan.node("h1").unwrap().ifaces[0].mac.to_string();
    assert!(link.contains(&mac), "{link}");
    let addrs = ok(&["ip", "-n", &h1, "-o", "addr", "show", "dev", "eth0"]);
    assert!(addrs.contains(&addr_of(&plan, "h1", false)), "{addrs}");
    assert!(addrs.contains(&addr_of(&plan, "h1", true)), "{addrs}");
    let r2 = ns(&plan, "r2");
    let lo = ok(&["ip", "-n", &r2, "-o", "addr", "show", "dev", "lo"]);
    assert!(lo.contains("192.168.255.2/32"), "{lo}");
    let down = ok(&["ip", "-n", &r2, "-o", "link", "show", "dev", "down"]);
    assert!(
        down.contains("mtu 1400") && down.contains("state UP"),
        "{down}"
    );

    // Routes.
    let v4 = ok(&["ip", "-n", &h1, "route", "show"]);
    assert!(v4.contains("default via 10.0.0.1 dev eth0"), "{v4}");
    let v6 = ok(&["ip", "-n", &h1, "-6", "route", "show"]);
    assert!(v6.contains("default via fd00:0:1::1 dev eth0"), "{v6}");
    let r1 = ns(&plan, "r1");
    let r1v4 = ok(&["ip", "-n", &r1, "route", "show"]);
    assert!(
        r1v4.contains("192.168.255.2 via 10.255.0.2 dev eth1"),
        "{r1v4}"
    );

    // Bridge ports: the second s1–s2 link is blocked on both switches.
    let s1 = ns(&plan, "s1");
    let ports = ok(&["ip", "-n", &s1, "-o", "link", "show", "master", "br0"]);
    let names: Vec<&str> = ports
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap())
        .collect();
    assert_eq!(names, ["eth1", "eth2", "eth4"], "{ports}");

    // End to end, both families: same segment, across r1, across r1 and r2.
    for v6 in [false, true] {
        assert_reaches(&plan, "h1", "h2", v6);
        assert_reaches(&plan, "h1", "h3", v6);
        assert_reaches(&plan, "h3", "h2", v6);
    }
}
