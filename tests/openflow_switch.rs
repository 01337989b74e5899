//! The built-in OpenFlow switch (`ofswitch` nodes) in real labs: standalone forwarding,
//! secure mode driven by `ovs-ofctl` on the passive port, and a controller on the machine's
//! loopback (`ovs-testcontroller`). Peers are skipped loudly when not installed (CI
//! installs them).

mod common;

use std::process::{Command, Output, Stdio};

use common::{DownOnDrop, topolab};

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

fn exec(lab: &str, node: &str, argv: &[&str]) -> Output {
    topolab()
        .args(["exec", lab, node, "--"])
        .args(argv)
        .output()
        .unwrap()
}

fn pings(lab: &str, from: &str, to: &str) -> bool {
    // A few tries: the first packets may go to a controller that is still connecting.
    (0..5).any(|_| {
        exec(lab, from, &["ping", "-c", "1", "-W", "1", to])
            .status
            .success()
    })
}

fn ofctl(lab: &str, args: &[&str]) -> String {
    let mut argv = vec!["ovs-ofctl", "-O", "OpenFlow13"];
    argv.extend_from_slice(&args[..1]);
    argv.push("tcp:127.0.0.1:6654");
    argv.extend_from_slice(&args[1..]);
    let out = exec(lab, "s1", &argv);
    assert!(
        out.status.success(),
        "ovs-ofctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const TWO_HOSTS: &str = "name: NAME\nnodes:\n  s1: {kind: ofswitch, fail_mode: FAIL}\n  h1: {}\n  h2: {}\nlinks:\n  - [h1, s1]\n  - [h2, s1]\n";

#[test]
fn standalone_switch_forwards_without_a_controller() {
    need_root!();
    let name = common::lab_name("ofsa");
    let _lab = up(&name, &TWO_HOSTS.replace("FAIL", "standalone"));
    assert!(pings(&name, "h1", "10.0.0.2"));
    assert!(pings(&name, "h2", "fd00:0:1::1"));
}

#[test]
fn secure_switch_forwards_what_ovs_ofctl_installs() {
    need_root!();
    if !common::have_peer("ovs-ofctl") {
        return;
    }
    let name = common::lab_name("ofse");
    let _lab = up(&name, &TWO_HOSTS.replace("FAIL", "secure"));
    assert!(
        !exec(&name, "h1", &["ping", "-c", "1", "-W", "1", "10.0.0.2"])
            .status
            .success()
    );
    ofctl(
        &name,
        &["add-flow", "priority=10,in_port=1,actions=output:2"],
    );
    ofctl(
        &name,
        &["add-flow", "priority=10,in_port=2,actions=output:1"],
    );
    assert!(pings(&name, "h1", "10.0.0.2"));
    let flows = ofctl(&name, &["dump-flows"]);
    assert!(
        flows.contains("priority=10,in_port=1 actions=output:2"),
        "{flows}"
    );
    assert!(!flows.contains("n_packets=0"), "{flows}");
    // Modify one direction to a group, then delete it: forwarding follows.
    ofctl(&name, &["add-group", "group_id=1,type=all,bucket=output:1"]);
    ofctl(&name, &["mod-flows", "in_port=2,actions=group:1"]);
    assert!(pings(&name, "h1", "10.0.0.2"));
    assert!(ofctl(&name, &["dump-group-stats"]).contains("group_id=1"));
    ofctl(&name, &["del-flows", "in_port=2"]);
    assert!(
        !exec(&name, "h1", &["ping", "-c", "1", "-W", "1", "10.0.0.2"])
            .status
            .success()
    );
    let ports = ofctl(&name, &["dump-ports"]);
    assert!(ports.contains("port  1"), "{ports}");
}

/// Loss (0.0–1.0) of `count` pings 100 ms apart from h1 to 10.0.0.2.
fn loss(lab: &str, count: u32) -> f64 {
    let out = exec(
        lab,
        "h1",
        &[
            "ping",
            "-q",
            "-c",
            &count.to_string(),
            "-i",
            "0.1",
            "-W",
            "1",
            "10.0.0.2",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let received = text
        .split(',')
        .find_map(|p| p.trim().strip_suffix(" received"))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or_else(|| panic!("ping output: {text}"));
    1.0 - f64::from(received) / f64::from(count)
}

#[test]
fn ovs_ofctl_manages_meters_and_select_and_fast_failover_groups() {
    need_root!();
    if !common::have_peer("ovs-ofctl") {
        return;
    }
    let name = common::lab_name("ofmt");
    let _lab = up(&name, &TWO_HOSTS.replace("FAIL", "secure"));
    ofctl(
        &name,
        &["add-flow", "priority=10,in_port=2,actions=output:1"],
    );
    ofctl(
        &name,
        &["add-flow", "priority=10,arp,in_port=1,actions=output:2"],
    );

    // A meter of 2 packets/s (burst 2) drops most of 20 pings at 10/s.
    ofctl(
        &name,
        &[
            "add-meter",
            "meter=1,pktps,burst,band=type=drop,rate=2,burst_size=2",
        ],
    );
    ofctl(
        &name,
        &[
            "add-flow",
            "priority=10,ip,in_port=1,actions=meter:1,output:2",
        ],
    );
    let meters = ofctl(&name, &["dump-meters"]);
    assert!(meters.contains("meter=1"), "{meters}");
    let l = loss(&name, 20);
    assert!(
        l >= 0.4,
        "a 2 pkt/s meter let {:.0}% through",
        (1.0 - l) * 100.0
    );
    let stats = ofctl(&name, &["meter-stats"]);
    assert!(stats.contains("meter:1"), "{stats}");
    // Modified to 1000 packets/s, the meter lets everything through.
    ofctl(
        &name,
        &[
            "mod-meter",
            "meter=1,pktps,burst,band=type=drop,rate=1000,burst_size=100",
        ],
    );
    assert_eq!(loss(&name, 10), 0.0);
    // Deleting the meter removes the flows that use it (OpenFlow 1.3 §5.8).
    ofctl(&name, &["del-meter", "meter=1"]);
    assert!(!ofctl(&name, &["dump-meters"]).contains("meter=1"));
    assert!(
        !ofctl(&name, &["dump-flows"]).contains("meter:1"),
        "a flow still uses the deleted meter"
    );

    // A select group with one live bucket, then a fast-failover group whose first bucket
    // (back out of h1's port) watches a port that is never live (there is no port 3), so
    // the second one forwards to h2.
    ofctl(
        &name,
        &[
            "add-group",
            "group_id=5,type=select,bucket=weight=1,output:2",
        ],
    );
    ofctl(
        &name,
        &["add-flow", "priority=20,ip,in_port=1,actions=group:5"],
    );
    assert_eq!(loss(&name, 5), 0.0);
    ofctl(
        &name,
        &[
            "mod-group",
            "group_id=5,type=ff,bucket=watch_port:3,output:1,bucket=watch_port:2,output:2",
        ],
    );
    assert_eq!(loss(&name, 5), 0.0);
    let groups = ofctl(&name, &["dump-groups"]);
    assert!(groups.contains("type=ff"), "{groups}");
    let gstats = ofctl(&name, &["dump-group-stats"]);
    assert!(gstats.contains("group_id=5"), "{gstats}");
    // Deleting the group removes the flow that uses it: h1's pings stop.
    ofctl(&name, &["del-groups", "group_id=5"]);
    assert!(!ofctl(&name, &["dump-flows"]).contains("group:5"));
    assert_eq!(loss(&name, 3), 1.0);
}

#[test]
fn ovs_testcontroller_on_the_machine_loopback_drives_the_switch() {
    need_root!();
    if !common::have_peer("ovs-testcontroller") {
        return;
    }
    // A port of our own: bind 0, read it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let name = common::lab_name("oftc");
    let ctl = std::env::temp_dir().join(format!("{name}.ctl"));
    let _peer = common::Peer(
        Command::new("ovs-testcontroller")
            .arg(format!("--unixctl={}", ctl.display()))
            .arg(format!("ptcp:{port}:127.0.0.1"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let yaml = format!(
        "name: NAME\nnodes:\n  s1: {{kind: ofswitch, controller: \"tcp:127.0.0.1:{port}\"}}\n  h1: {{}}\n  h2: {{}}\nlinks:\n  - [h1, s1]\n  - [h2, s1]\n"
    );
    let _lab = up(&name, &yaml);
    assert!(pings(&name, "h1", "10.0.0.2"));
    if common::have_peer("ovs-ofctl") {
        let flows = ofctl(&name, &["dump-flows"]);
        assert!(flows.contains("actions=output:2"), "{flows}");
    }
}

/// The daemon reads exactly what compile writes: an `OfSwitchPlan` serialized as the
/// supervisor does it deserializes into the daemon's config (they share no type: daemons sit
/// below compile).
#[test]
fn the_daemon_reads_the_compiled_switch_config() {
    use topolab::compile::{ControllerTarget, FailMode, Mac, OfPort, OfSwitchPlan};
    let plan = OfSwitchPlan {
        dpid: 0x1234,
        fail_mode: FailMode::Standalone,
        controllers: vec![ControllerTarget {
            addr: "127.0.0.1:6653".parse().unwrap(),
            machine_loopback: true,
        }],
        ports: vec![OfPort {
            port_no: 1,
            iface: "eth0".into(),
            mac: Mac([2, 0, 0, 0, 0, 9]),
        }],
        passive_port: 6654,
    };
    let json = serde_json::to_vec_pretty(&plan).unwrap();
    let cfg: topolab::daemon::ofswitch::Config = serde_json::from_slice(&json).unwrap();
    assert_eq!(cfg.dpid, 0x1234);
    assert_eq!(
        cfg.fail_mode,
        topolab::openflow::switch::FailMode::Standalone
    );
    assert!(cfg.controllers[0].machine_loopback);
    assert_eq!(cfg.ports[0].iface, "eth0");
    assert_eq!(cfg.ports[0].mac, "02:00:00:00:00:09");
    assert_eq!(cfg.passive_port, 6654);
}
