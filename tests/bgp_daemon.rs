//! The built-in BGP speaker in a real lab: two routers in two ASes with a host behind
//! each. The sessions come up, each router installs the other's host subnet in its kernel
//! table (`proto bgp`), the hosts ping each other across BGP-learned routes, `topolab bgp`
//! shows sessions and routes in text and JSON, an announcement from the CLI reaches the
//! peer's kernel and a withdrawal removes it, and when the link between the routers goes
//! down the session ends on hold-timer expiry and the routes go with it. A scenario runs
//! the `bgp` step and `wait: {bgp: …}` conditions against the same kind of lab.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{DownOnDrop, topolab};
use serde_json::Value;

const TOPO: &str = "name: NAME
nodes:
  r1:
    kind: router
    bgp: {asn: 65001, neighbors: auto, timers: {hold: 3, keepalive: 1, connect_retry: 1}}
  r2:
    kind: router
    bgp: {asn: 65002, neighbors: auto, timers: {hold: 3, keepalive: 1, connect_retry: 1}}
  h1: {}
  h2: {}
links:
  - [h1, r1]
  - [r1, r2]
  - [r2, h2]
";

fn up(name: &str, yaml: &str) -> DownOnDrop {
    let path = std::env::temp_dir().join(format!("{name}.yaml"));
    std::fs::write(&path, yaml.replace("NAME", name)).unwrap();
    let out = topolab().args(["up", "-d"]).arg(&path).output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "up: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    DownOnDrop(name.to_string())
}

fn run(args: &[&str]) -> Output {
    topolab().args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        text(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    text(&o)
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = ok(&a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
}

/// Polls `f` until it returns `Some` (the limits are generous: they bound a failing
/// test, the assertions are on what is seen, not on when).
fn eventually<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn exec(lab: &str, node: &str, argv: &[&str]) -> Output {
    topolab()
        .args(["exec", lab, node, "--"])
        .args(argv)
        .output()
        .unwrap()
}

/// The node's kernel routes of protocol bgp, as `ip route` prints them.
fn bgp_routes(lab: &str, node: &str, family: &str) -> String {
    text(&exec(
        lab,
        node,
        &["ip", family, "route", "show", "proto", "bgp"],
    ))
}

/// The subnet and address of a host's first interface (`ip -o addr`).
fn host_net(lab: &str, host: &str, family: &str) -> (String, String) {
    let out = text(&exec(
        lab,
        host,
        &["ip", "-o", family, "addr", "show", "scope", "global"],
    ));
    let cidr = out
        .split_whitespace()
        .skip_while(|w| *w != "inet" && *w != "inet6")
        .nth(1)
        .unwrap_or_else(|| panic!("no address on {host}: {out}"))
        .to_string();
    let net: ipnet::IpNet = cidr.parse().unwrap();
    (net.trunc().to_string(), net.addr().to_string())
}

#[test]
fn two_ases_exchange_routes_ping_and_converge_on_link_loss() {
    need_root!();
    let name = common::lab_name("bgpd");
    let _lab = up(&name, TOPO);
    let lab = name.as_str();
    let summary = eventually(
        "r1's session is established",
        Duration::from_secs(60),
        || {
            let s = json(&["bgp", lab, "r1", "summary"]);
            (s["established"].as_u64() >= Some(1)).then_some(s)
        },
    );
    assert_eq!(summary["asn"], 65001, "{summary}");
    assert_eq!(summary["neighbors"][0]["remote_as"], 65002, "{summary}");

    // Each router learns the other's host subnet and installs it in the kernel.
    let (h2_net, h2_addr) = host_net(lab, "h2", "-4");
    let (h1_net, _) = host_net(lab, "h1", "-4");
    eventually(
        "r1 has h2's subnet in its kernel table",
        Duration::from_secs(30),
        || bgp_routes(lab, "r1", "-4").contains(&h2_net).then_some(()),
    );
    eventually(
        "r2 has h1's subnet in its kernel table",
        Duration::from_secs(30),
        || bgp_routes(lab, "r2", "-4").contains(&h1_net).then_some(()),
    );
    let line = bgp_routes(lab, "r1", "-4");
    assert!(line.contains("metric 20"), "{line}");
    let ping = exec(lab, "h1", &["ping", "-c", "2", "-W", "2", &h2_addr]);
    assert!(ping.status.success(), "{}", text(&ping));

    // IPv6 too, when the lab's hosts have IPv6 subnets announced.
    let (h2_net6, h2_addr6) = host_net(lab, "h2", "-6");
    if json(&["bgp", lab, "r1", "routes"]).get(&h2_net6).is_some() {
        eventually("r1 has h2's IPv6 subnet", Duration::from_secs(30), || {
            bgp_routes(lab, "r1", "-6").contains(&h2_net6).then_some(())
        });
        let ping = exec(lab, "h1", &["ping", "-6", "-c", "2", "-W", "2", &h2_addr6]);
        assert!(ping.status.success(), "{}", text(&ping));
    }

    // Views, text and JSON.
    let s = ok(&["bgp", lab, "r1", "summary"]);
    assert!(
        s.contains("local AS 65001") && s.contains("established"),
        "{s}"
    );
    let n = ok(&["bgp", lab, "r1", "neighbors"]);
    assert!(
        n.contains("BGP neighbor is") && n.contains("remote AS 65002"),
        "{n}"
    );
    let peer = summary["neighbors"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let routes = json(&["bgp", lab, "r1", "routes", &h2_net]);
    let best = &routes[&h2_net][0];
    assert_eq!(best["best"], true, "{routes}");
    assert_eq!(best["as_path"], "65002", "{routes}");
    let r = ok(&["bgp", lab, "r1", "routes"]);
    assert!(r.contains("*>") && r.contains(&h2_net), "{r}");
    let adj_in = json(&["bgp", lab, "r1", "adj-in", &peer]);
    assert!(adj_in.get(&h2_net).is_some(), "{adj_in}");
    let adj_out = json(&["bgp", lab, "r1", "adj-out", &peer]);
    assert!(adj_out.get(&h1_net).is_some(), "{adj_out}");
    let o = run(&["bgp", lab, "r1", "adj-in", "no-such-peer"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no peer"));
    let o = run(&["bgp", lab, "h1", "summary"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("runs no BGP speaker"));

    // An announcement from the CLI reaches r2's kernel; a withdrawal takes it away.
    ok(&[
        "bgp",
        lab,
        "r1",
        "announce",
        "192.0.2.0/24",
        "--community",
        "65001:7",
    ]);
    let seen = eventually("r2 learns 192.0.2.0/24", Duration::from_secs(30), || {
        let v = json(&["bgp", lab, "r2", "routes", "192.0.2.0/24"]);
        v.get("192.0.2.0/24").cloned()
    });
    assert_eq!(seen[0]["communities"][0], "65001:7", "{seen}");
    eventually(
        "r2's kernel has 192.0.2.0/24",
        Duration::from_secs(30),
        || {
            bgp_routes(lab, "r2", "-4")
                .contains("192.0.2.0/24")
                .then_some(())
        },
    );
    ok(&["bgp", lab, "r1", "withdraw", "192.0.2.0/24"]);
    eventually(
        "r2's kernel loses 192.0.2.0/24",
        Duration::from_secs(30),
        || (!bgp_routes(lab, "r2", "-4").contains("192.0.2.0/24")).then_some(()),
    );

    // The Loc-RIB as an MRT table dump, written by the CLI.
    let mrt = std::env::temp_dir().join(format!("{name}.mrt"));
    let d = json(&["bgp", lab, "r1", "dump", "--mrt", mrt.to_str().unwrap()]);
    let bytes = std::fs::read(&mrt).unwrap();
    let _ = std::fs::remove_file(&mrt);
    assert_eq!(d["bytes"].as_u64(), Some(bytes.len() as u64), "{d}");
    let table = topolab::bgp::mrt::read(&bytes).unwrap();
    assert_eq!(
        table.routes.len() as u64,
        d["entries"].as_u64().unwrap(),
        "{d}"
    );
    let h2: ipnet::IpNet = h2_net.parse().unwrap();
    assert!(table.routes.iter().any(|r| r.prefix == h2), "{table:?}");
    // The peer table names r2 by the BGP identifier of its OPEN.
    let r2_id = json(&["bgp", lab, "r2", "summary"])["router_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        table.peers.iter().any(|p| p.bgp_id.to_string() == r2_id),
        "{r2_id}: {:?}",
        table.peers
    );

    // The link goes down: no NOTIFICATION can cross, so the session ends on hold-timer
    // expiry, and the learned routes leave the kernel.
    ok(&["link", lab, "r1", "r2", "down"]);
    eventually("r1's session goes down", Duration::from_secs(30), || {
        let s = json(&["bgp", lab, "r1", "summary"]);
        (s["established"] == 0).then_some(())
    });
    eventually(
        "r1's kernel loses h2's subnet",
        Duration::from_secs(30),
        || (!bgp_routes(lab, "r1", "-4").contains(&h2_net)).then_some(()),
    );
    let n = json(&["bgp", lab, "r1", "neighbors"]);
    let err = n[0]["last_error"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("4/"), "hold timer expired (4/0) expected: {n}");
    let ping = exec(lab, "h1", &["ping", "-c", "1", "-W", "1", &h2_addr]);
    assert!(!ping.status.success());
    // And back.
    ok(&["link", lab, "r1", "r2", "up"]);
    eventually(
        "r1's kernel has h2's subnet again",
        Duration::from_secs(60),
        || bgp_routes(lab, "r1", "-4").contains(&h2_net).then_some(()),
    );
    // Routes go through nexthop objects of protocol bgp; when the daemon stops (SIGTERM),
    // its routes and objects go with it.
    let objects = || {
        text(&exec(lab, "r1", &["ip", "nexthop", "show"]))
            .lines()
            .filter(|l| l.contains("proto bgp"))
            .count()
    };
    assert!(objects() > 0);
    assert!(bgp_routes(lab, "r1", "-4").contains("nhid"));
    ok(&["node", lab, "r1", "stop"]);
    assert_eq!(bgp_routes(lab, "r1", "-4").trim(), "");
    assert_eq!(bgp_routes(lab, "r1", "-6").trim(), "");
    assert_eq!(objects(), 0);
}

#[test]
fn cli_checks_before_asking() {
    let o = run(&["bgp", "no-such-lab", "r1", "announce", "10.0.0.1/8"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("host bits"));
    let o = run(&[
        "bgp",
        "no-such-lab",
        "r1",
        "announce",
        "10.0.0.0/8",
        "--community",
        "x",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not ASN:VALUE"));
    let o = run(&["bgp", "no-such-lab", "r1", "summary"]);
    assert!(!o.status.success());
    let o = run(&["bgp", "../etc", "r1", "summary"]);
    assert!(!o.status.success());
    let o = run(&["bgp", "--help"]);
    assert!(text(&o).contains("adj-in"), "{}", text(&o));
}
