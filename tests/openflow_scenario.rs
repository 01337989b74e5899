//! OpenFlow in scenarios and from the CLI, for real: a secure switch with no controller
//! forwards only what `openflow` steps install; `wait: {openflow: …}` sees flows come and
//! go; a flow the switch refuses fails its step with the OpenFlow error; and
//! `topolab openflow … add-flow` points at a bad token before it asks anyone.

mod common;

use topolab::scenario;
use topolab::scenario::model::{Outcome, ScenarioResult, StepResult};

const SCENARIO: &str = r#"
name: openflow edits
topology:
  name: ofedit
  nodes:
    s1: {kind: ofswitch, fail_mode: secure}
    h1: {}
    h2: {}
  links:
    - [h1, s1]
    - [h2, s1]
steps:
  - wait: {openflow: {node: s1, connected: false}}
  - name: nothing forwards yet
    ping: {from: h1, to: h2, count: 2}
    expect: {loss_min: 100%}
  - openflow: {node: s1, add: "priority=10,in_port=1,actions=output:2"}
  - openflow: {node: s1, add: "priority=10,in_port=2,actions=output:1"}
  - pingall:
  - wait: {openflow: {node: s1, flow: "in_port=1", table: 0, present: true}}
  - openflow: {node: s1, delete: "in_port=2"}
  - name: a direction deleted
    ping: {from: h1, to: h2, count: 3}
    expect: {loss_min: 100%}
  - wait: {openflow: {node: s1, flow: "in_port=2", present: false}}
  - name: refused by the switch
    continue_on_failure: true
    openflow: {node: s1, add: "priority=5,in_port=1,actions=output:9"}
  - wait: {openflow: {node: s1, flow: "in_port=1", present: true}}
"#;

fn find<'a>(steps: &'a [StepResult], name: &str) -> &'a StepResult {
    steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name}: {steps:#?}"))
}

#[test]
fn openflow_steps_install_and_delete_flows_and_waits_see_them() {
    need_root!();
    let dir = std::env::temp_dir().join(format!("tl-ofw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (file, json) = (dir.join("openflow-edits.yaml"), dir.join("report.json"));
    let text = SCENARIO.replace("openflow edits", &common::lab_name("ofw"));
    // Checked as the runner will read it.
    scenario::from_str(&text, "openflow-edits.yaml").unwrap_or_else(|e| panic!("{}", e.one_line()));
    std::fs::write(&file, &text).unwrap();
    let out = common::topolab()
        .arg("test")
        .arg(&file)
        .arg("--artifacts")
        .arg(dir.join("artifacts"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&json).unwrap_or_else(|e| panic!("{e}\n{stdout}\n{stderr}")),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let results: Vec<ScenarioResult> = serde_json::from_value(report["scenarios"].clone()).unwrap();
    let r = &results[0];
    assert!(!r.steps.is_empty(), "{:?}\n{stdout}\n{stderr}", r.message);
    let refused = find(&r.steps, "refused by the switch");
    assert_ne!(refused.outcome, Outcome::Passed, "{refused:#?}");
    let m = refused.message.clone().unwrap_or_default();
    assert!(m.contains("OFPET_BAD_ACTION/BAD_OUT_PORT"), "{m}");
    for s in &r.steps {
        if s.name != "refused by the switch" {
            assert_eq!(s.outcome, Outcome::Passed, "{s:#?}");
        }
    }
    assert!(common::namespaces_of(&r.lab).is_empty());
}

#[test]
fn add_flow_points_at_a_bad_token_before_asking_the_daemon() {
    // No such lab: the flow is checked first.
    let out = common::topolab()
        .args([
            "openflow",
            "no-such-lab",
            "s1",
            "add-flow",
            "priority=10,nw_dst=10.0.0.x,actions=drop",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad flow"), "{err}");
    // The caret sits under the bad token.
    let lines: Vec<&str> = err.lines().collect();
    let flow_line = lines
        .iter()
        .position(|l| l.contains("priority=10,nw_dst=10.0.0.x,actions=drop"))
        .unwrap_or_else(|| panic!("{err}"));
    let caret = lines[flow_line + 1];
    let col = caret.find('^').unwrap_or_else(|| panic!("{err}"));
    let token_col = lines[flow_line].find("nw_dst").unwrap();
    assert_eq!(col, token_col, "{err}");
    // A view takes no flow; a verb needs one.
    let out = common::topolab()
        .args(["openflow", "no-such-lab", "s1", "flows", "in_port=1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("takes no flow"));
    let out = common::topolab()
        .args(["openflow", "no-such-lab", "s1", "add-flow"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a FLOW"));
}
