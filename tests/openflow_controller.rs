//! The controller daemon in a lab: `topolab openflow LAB CONTROLLER switches` asks it on its
//! control socket (JSON and text), and a node without an OpenFlow daemon is an error.

mod common;

use topolab::lab::{Lab, LabOptions};
use topolab::topology::Topology;

const TOPO: &str = "
name: ofc
nodes:
  c0: {kind: controller, app: shortest-path}
  s1: {kind: ofswitch, controller: c0}
  h1: {}
links:
  - [h1, s1]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switches_view_answers_from_the_controller() {
    need_root!();
    let name = common::lab_name("ofc");
    let topo = Topology::from_str(TOPO, "<openflow controller test>").unwrap();
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
    let _down = common::DownOnDrop(name.clone());

    let out = common::topolab()
        .args(["openflow", &name, "c0", "switches", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.is_array(), "{v}");

    let out = common::topolab()
        .args(["openflow", &name, "c0", "switches"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A switch view asked of the controller, and a host, are errors.
    let out = common::topolab()
        .args(["openflow", &name, "c0", "flows"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no OpenFlow view"));
    let out = common::topolab()
        .args(["openflow", &name, "h1", "switches"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("runs no OpenFlow"));

    lab.down().await.unwrap();
    assert!(common::namespaces_of(&name).is_empty());
}
