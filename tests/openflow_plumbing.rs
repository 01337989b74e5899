//! The lab plumbing of OpenFlow nodes, with real namespaces: the built-in daemons start
//! with their compiled config (a 0600 JSON file in the run directory, `--config`), the
//! switch's ports have IPv6 off while its `mgmt0` reaches the controller over both
//! families, and `lo` is up. (Forwarding itself is the daemons' business: their own tests
//! and the OpenFlow scenarios.)

mod common;

use std::os::unix::fs::PermissionsExt;

use topolab::compile::NodeOpenflow;
use topolab::lab::service::State;
use topolab::lab::{Lab, LabOptions};
use topolab::topology::Topology;

const TOPO: &str = "
name: of
nodes:
  c0: {kind: controller, app: learning}
  s1: {kind: ofswitch, controller: c0}
  s2: {kind: ofswitch, controller: c0}
  h1: {}
  h2: {}
links:
  - [h1, s1]
  - [s1, s2]
  - [s2, h2]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemons_get_their_config_and_switches_reach_the_controller() {
    need_root!();
    let name = common::lab_name("ofp");
    let topo = Topology::from_str(TOPO, "<openflow test>").unwrap();
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(name.clone()),
            exe: Some(env!("CARGO_BIN_EXE_topolab").into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let plan = lab.plan().clone();
    let services = lab.services();
    for (node, svc) in [("c0", "controller"), ("s1", "ofswitch"), ("s2", "ofswitch")] {
        let s = services
            .iter()
            .find(|s| s.node == node && s.name == svc)
            .unwrap_or_else(|| panic!("{node}/{svc} missing: {services:?}"));
        assert_eq!(s.state, State::Ready, "{s:?}");
        let path = lab.run_dir().join(format!("daemons/{node}.{svc}.json"));
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{}",
            path.display()
        );
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let expected = match plan.node(node).unwrap().openflow.as_ref().unwrap() {
            NodeOpenflow::Switch(c) => serde_json::to_value(c).unwrap(),
            NodeOpenflow::Controller(c) => serde_json::to_value(c).unwrap(),
        };
        assert_eq!(written, expected, "{node}");
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", s.pid.unwrap())).unwrap();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let at = args
            .iter()
            .position(|a| *a == b"--config")
            .expect("--config");
        assert_eq!(args[at + 1], path.as_os_str().as_encoded_bytes());
    }

    let s1 = lab.node("s1");
    let sysctl = |iface: &str| format!("/proc/sys/net/ipv6/conf/{iface}/disable_ipv6");
    let out = s1
        .exec(["cat", &sysctl("eth1"), &sysctl("eth2"), &sysctl("mgmt0")])
        .await
        .unwrap();
    assert_eq!(out.stdout_str(), "1\n1\n0\n", "{}", out.stderr_str());
    let out = s1.exec(["ip", "-o", "link", "show", "lo"]).await.unwrap();
    assert!(out.stdout_str().contains(",UP"), "{}", out.stdout_str());
    for a in plan.mgmt_addrs("c0") {
        let out = s1
            .exec([
                "ping",
                "-n",
                "-q",
                "-c",
                "1",
                "-W",
                "3",
                &a.addr().to_string(),
            ])
            .await
            .unwrap();
        assert!(out.success(), "s1 -> c0 {a}: {}", out.stdout_str());
    }
    lab.down().await.unwrap();
    assert!(common::namespaces_of(&name).is_empty());
}
