//! Scenarios run for real: every example passes (two at a time, with JUnit and JSON
//! reports that parse), every step type fails for the right reason with measured and
//! expected values in its message, captures are real pcap files, and an interrupted run
//! leaves nothing behind.

mod common;

/// These tests measure real traffic; run them one at a time so they do not compete for the
/// two CPUs (the example suite still runs two scenarios at once, on purpose).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

use std::path::PathBuf;
use std::time::Duration;

use topolab::scenario::model::{Outcome, StepResult};
use topolab::scenario::{self, run};

fn leaves(steps: &[StepResult]) -> usize {
    steps
        .iter()
        .map(|s| {
            if s.children.is_empty() {
                1
            } else {
                leaves(&s.children)
            }
        })
        .sum()
}

/// The example that needs FRR (installed by `scripts/deps`).
const OSPF: &str = "ospf.yaml";

/// FRR OSPF on three routers: converges, reroutes around a cut link, and loses pings only
/// while r1's routing daemons are down (crash, then `node start`).
#[test]
fn the_ospf_example_reroutes_and_recovers() {
    need_root!();
    let _serial = serial();
    let out = common::topolab()
        .arg("test")
        .arg(common::repo_path("scenarios").join(OSPF))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_example_passes_two_at_a_time_with_reports() {
    need_root!();
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("tl-scen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (junit, json) = (dir.join("junit.xml"), dir.join("report.json"));
    // The OSPF example runs alone (its own test below): it is long (about 75 s of FRR
    // convergence, a crash and a recovery) and would share the two CPUs with every other
    // example, whose throughput bounds assume they get one each.
    let mut files: Vec<PathBuf> = std::fs::read_dir(common::repo_path("scenarios"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| !p.ends_with(OSPF))
        .collect();
    files.sort();
    assert!(files.len() >= 7);
    let out = common::topolab()
        .arg("test")
        .args(&files)
        .args(["--jobs", "2", "--artifacts"])
        .arg(dir.join("artifacts"))
        .arg("--junit")
        .arg(&junit)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // JSON: every scenario passed, every step carries its measurements.
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let results: Vec<topolab::scenario::model::ScenarioResult> =
        serde_json::from_value(report["scenarios"].clone()).unwrap();
    assert_eq!(results.len(), files.len());
    let steps: usize = results.iter().map(|r| leaves(&r.steps)).sum();
    for r in &results {
        assert_eq!(r.outcome, Outcome::Passed, "{}", r.name);
        assert!(r.steps.iter().all(|s| s.measured.is_object()), "{}", r.name);
    }
    // JUnit, read by a JUnit parser: one test case per step.
    let suites = junit_parser::from_reader(std::io::BufReader::new(
        std::fs::File::open(&junit).unwrap(),
    ))
    .unwrap();
    let cases: usize = suites.suites.iter().map(|s| s.cases.len()).sum();
    assert_eq!(cases, steps, "one JUnit case per step");
    assert_eq!(suites.suites.len(), files.len());
    // The labs ran side by side under distinct names and are gone.
    let labs: Vec<&str> = results.iter().map(|r| r.lab.as_str()).collect();
    for l in &labs {
        assert!(common::namespaces_of(l).is_empty(), "{l} left namespaces");
    }
    // The failover scenario's transfer reports its outage window.
    let fo = results.iter().find(|r| r.name == "failover").unwrap();
    let t = fo.steps.iter().find(|s| s.kind == "throughput").unwrap();
    let outage = t.measured["outage_s"].as_f64().unwrap();
    assert!((4.0..=9.0).contains(&outage), "outage {outage}");
    assert!(stdout.contains("outage"), "{stdout}");
    // Captures are pcap files with frames in them.
    let cap = results.iter().find(|r| r.name == "capture").unwrap();
    assert!(!cap.artifacts.is_empty());
    for a in &cap.artifacts {
        let bytes = std::fs::read(a).unwrap();
        assert_eq!(&bytes[0..4], &[0x4d, 0x3c, 0xb2, 0xa1], "{a}: pcap magic");
        assert!(bytes.len() > 24 + 16, "{a} holds no frame");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two hosts on a 10 Mbit/s kernel-shaped link, plus a plain link to a third host.
const FAILING: &str = r#"
name: failing on purpose
topology:
  name: fail
  nodes: {h1: {}, h2: {}, h3: {}, r1: {kind: router}}
  links:
    - endpoints: [h1, r1]
      rate: 10Mbit
    - [h2, r1]
    - [h3, r1]
steps:
  - wait: {reachable: {from: h1, to: h2}}
  - name: exec with the wrong output
    exec: {node: h1, cmd: "echo hello"}
    expect: {stdout_contains: goodbye}
    continue_on_failure: true
  - name: exec with the wrong status
    exec: {node: h1, cmd: "exit 3"}
    continue_on_failure: true
  - name: throughput under a rate limit
    throughput: {from: h2, to: h1, duration: 2s}
    expect: {min: 50Mbit}
    continue_on_failure: true
  - name: a wait that times out
    wait: {command: {node: h1, cmd: "false"}}
    timeout: 2s
    continue_on_failure: true
  - name: cut h3
    link: {a: h3, b: r1, down: true}
  - name: loss on a downed link
    ping: {from: h1, to: h3, count: 3, interval: 100ms}
    expect: {loss: 0%}
    continue_on_failure: true
  - name: pingall sees the cut
    pingall: {family: ipv4}
    continue_on_failure: true
  - name: a capture on an interface that does not exist
    capture: {start: nope, iface: "h1:eth9"}
    continue_on_failure: true
  - name: a plain link cannot be shaped live
    link: {a: h2, b: r1, set: {delay: 10ms}}
    continue_on_failure: true
  - name: a node that does not exist
    node: {name: h9, stop: true}
    continue_on_failure: true
  - name: a node with nothing running stops at once
    node: {name: h1, stop: true}
  - name: one branch of parallel fails
    parallel:
      - ping: {from: h1, to: h2, count: 2, interval: 100ms}
      - ping: {from: h1, to: h3, count: 2, interval: 100ms}
    continue_on_failure: true
  - name: a repeat stops at its first failure
    repeat:
      times: 3
      steps:
        - ping: {from: h2, to: h3, count: 1}
    continue_on_failure: true
  - name: an outage longer than allowed
    throughput: {from: h1, to: h2, duration: 4s, interval: 500ms}
    expect: {outage_max: 1s}
    during:
      - at: 1s
        link: {a: h1, b: r1, down: true}
      - at: 3s
        link: {a: h1, b: r1, up: true}
  - sleep: 1s
"#;

#[test]
fn every_step_type_fails_for_the_right_reason() {
    need_root!();
    let _serial = serial();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(every_step_type_fails());
}

async fn every_step_type_fails() {
    let s =
        scenario::from_str(FAILING, "failing.yaml").unwrap_or_else(|e| panic!("{}", e.one_line()));
    let dir = std::env::temp_dir().join(format!("tl-fail-{}", std::process::id()));
    let r = run::run(
        &s,
        &run::RunOptions {
            artifacts: dir.clone(),
            lab_name: Some(common::lab_name("fail")),
            ..Default::default()
        },
    )
    .await;
    let step = |name: &str| {
        r.steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no step {name}: {:#?}", r.steps))
    };
    let failed = |name: &str, parts: &[&str]| {
        let s = step(name);
        assert_ne!(s.outcome, Outcome::Passed, "{name} passed");
        let m = s.message.clone().unwrap_or_default();
        for p in parts {
            assert!(m.contains(p), "{name}: {m:?} lacks {p:?}");
        }
    };
    assert_eq!(step("wait until h1 reaches h2").outcome, Outcome::Passed);
    failed(
        "exec with the wrong output",
        &["\"hello\"", "expected to contain \"goodbye\""],
    );
    failed(
        "exec with the wrong status",
        &["exit status 3", "expected 0"],
    );
    failed(
        "throughput under a rate limit",
        &["throughput", "Mbit/s", "expected ≥ 50.000 Mbit/s"],
    );
    failed(
        "a wait that times out",
        &["still not true", "expected within"],
    );
    failed(
        "loss on a downed link",
        &["loss 100.0%", "0/3 answered", "expected ≤ 0.0%"],
    );
    failed(
        "pingall sees the cut",
        &["unreachable", "expected all reachable", "h1 → h3"],
    );
    failed("a plain link cannot be shaped live", &["plain veth"]);
    failed("a capture on an interface that does not exist", &["eth9"]);
    failed("one branch of parallel fails", &["inside failed"]);
    let par = step("one branch of parallel fails");
    assert_eq!(par.children.len(), 2);
    assert_eq!(par.children[0].outcome, Outcome::Passed);
    assert_eq!(par.children[1].outcome, Outcome::Failed);
    let rep = step("a repeat stops at its first failure");
    assert_eq!(rep.children.len(), 1, "stopped after round 1");
    failed(
        "an outage longer than allowed",
        &["outage", "expected ≤ 1.00 s"],
    );
    failed("a node that does not exist", &["no node `h9`"]);
    // The stop of h1's (absent) services succeeds: nothing was running.
    assert_eq!(
        step("a node with nothing running stops at once").outcome,
        Outcome::Passed
    );
    // The last failure did not continue: the sleep was skipped.
    assert_eq!(r.steps.last().unwrap().outcome, Outcome::Skipped);
    // Failures, and one error (the refused link change): the scenario is an error.
    assert_eq!(r.outcome, Outcome::Error);
    assert!(common::namespaces_of(&r.lab).is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_interrupted_run_leaves_nothing_behind() {
    need_root!();
    let _serial = serial();
    let mut child = common::topolab()
        .args(["test", "--artifacts"])
        .arg(std::env::temp_dir().join(format!("tl-int-{}", std::process::id())))
        .arg(common::repo_path("scenarios/failover.yaml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lab = format!("failover-{}-0", child.id() % 1_000_000);
    let _guard = common::DownOnDrop(lab.clone());
    // Wait until the lab exists, then interrupt in the middle of the transfer.
    for _ in 0..100 {
        if !common::namespaces_of(&lab).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !common::namespaces_of(&lab).is_empty(),
        "the lab never came up"
    );
    std::thread::sleep(Duration::from_secs(4));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(common::namespaces_of(&lab).is_empty(), "namespaces left");
    assert!(
        !std::path::Path::new("/run/topolab").join(&lab).exists(),
        "run dir left"
    );
}

/// h1 runs a process that ignores SIGTERM, so stopping h1 takes the whole grace period.
const SLOW_STOP: &str = r#"
name: a slow stop beside other steps
topology:
  name: slow
  nodes:
    h1: {run: ["trap '' TERM; while true; do sleep 0.05; done"]}
    h2: {}
    r1: {kind: router}
  links: [[h1, r1], [h2, r1]]
steps:
  - sleep: 300ms
  - parallel:
      - name: exec in h2
        exec: {node: h2, cmd: "sleep 0.2"}
      - name: change a link
        link: {a: h2, b: r1, down: true}
      - name: stop h1
        node: {name: h1, stop: true}
"#;

/// A node stop waits out its grace period without holding the lab: steps beside it (an
/// exec, a link change) finish first. Order only, no timing bound.
#[test]
fn a_node_stop_does_not_hold_up_other_steps() {
    need_root!();
    let _serial = serial();
    let s =
        scenario::from_str(SLOW_STOP, "slow.yaml").unwrap_or_else(|e| panic!("{}", e.one_line()));
    let dir = std::env::temp_dir().join(format!("tl-slow-{}", std::process::id()));
    let r = tokio::runtime::Runtime::new().unwrap().block_on(run::run(
        &s,
        &run::RunOptions {
            artifacts: dir.clone(),
            lab_name: Some(common::lab_name("slow")),
            ..Default::default()
        },
    ));
    let par = &r.steps[1];
    assert_eq!(par.outcome, Outcome::Passed, "{:#?}", r.steps);
    let secs = |name: &str| {
        par.children
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no step {name}"))
            .seconds
    };
    let stop = secs("stop h1");
    assert!(
        secs("exec in h2") < stop && secs("change a link") < stop,
        "steps waited for the stop: {:#?}",
        par.children
    );
    assert!(common::namespaces_of(&r.lab).is_empty());
    let _ = std::fs::remove_dir_all(dir);
}
