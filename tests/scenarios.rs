//! The example scenarios: every file in `scenarios/` loads (with its topology), and
//! together they use every step type, every expectation and every optional field, so the
//! examples double as a tour of the format.

use std::collections::BTreeSet;
use std::path::PathBuf;

use topolab::scenario::{
    self, Action, Capture, Condition, LinkOp, NodeOp, Protocol, Step, TopologyRef,
};

mod common;

fn files() -> Vec<PathBuf> {
    common::corpus::yaml_files("scenarios")
}

#[test]
fn every_example_loads_with_its_topology() {
    let files = files();
    assert!(files.len() >= 6, "only {} example scenarios", files.len());
    for path in &files {
        let s = scenario::load(path).unwrap_or_else(|e| panic!("{}", e.one_line()));
        let t = scenario::topology(&s).unwrap_or_else(|e| panic!("{}", e.one_line()));
        assert!(!t.nodes.is_empty(), "{}", path.display());
    }
}

/// What a scenario uses, as words like `ping.expect.rtt_min` or `during.link`.
fn features(steps: &[Step], out: &mut BTreeSet<String>) {
    for step in steps {
        out.extend(words(step));
        for event in &step.during {
            let as_step = Step {
                name: event.action.summary(),
                timeout: None,
                continue_on_failure: false,
                during: Vec::new(),
                action: event.action.clone(),
                span: event.span,
            };
            out.extend(words(&as_step));
        }
        match &step.action {
            Action::Parallel(children) => features(children, out),
            Action::Repeat { steps, .. } => features(steps, out),
            _ => {}
        }
    }
}

/// The features one step uses (not its children's).
fn words(step: &Step) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |s: &str| out.push(s.to_string());
    {
        let kind = step.action.kind();
        add(kind);
        if step.timeout.is_some() {
            add("step.timeout");
        }
        if step.continue_on_failure {
            add("step.continue_on_failure");
        }
        if step.name != step.action.summary() {
            add("step.name");
        }
        for e in &step.during {
            add(&format!("during.{}", e.action.kind()));
            add(&format!("{kind}.during"));
        }
        match &step.action {
            Action::Ping(p) => {
                let e = &p.expect;
                for (key, set) in [
                    ("loss_max", e.loss_max.is_some()),
                    ("loss_min", e.loss_min.is_some()),
                    ("rtt_max", e.rtt_max.is_some()),
                    ("rtt_min", e.rtt_min.is_some()),
                    ("rtt_avg_max", e.rtt_avg_max.is_some()),
                ] {
                    if set {
                        add(&format!("ping.expect.{key}"));
                    }
                }
                add(&format!("ping.{:?}", p.family));
                if p.to.contains("${") {
                    add("reference");
                }
            }
            Action::Pingall(p) => {
                add(&format!("pingall.{:?}", p.family));
                add(if p.all_nodes {
                    "pingall.all"
                } else {
                    "pingall.hosts"
                });
                match &p.matrix {
                    None => add("pingall.full"),
                    Some(m) => {
                        add("pingall.matrix");
                        if m.iter().any(|p| !p.reachable) {
                            add("pingall.unreachable");
                        }
                    }
                }
            }
            Action::Throughput(t) => {
                add(&format!("throughput.{:?}", t.protocol));
                let e = &t.expect;
                for (key, set) in [
                    ("min", e.min.is_some()),
                    ("max", e.max.is_some()),
                    ("loss_max", e.loss_max.is_some()),
                    ("jitter_max", e.jitter_max.is_some()),
                    ("outage_min", e.outage_min.is_some()),
                    ("outage_max", e.outage_max.is_some()),
                    ("retransmits_max", e.retransmits_max.is_some()),
                ] {
                    if set {
                        add(&format!("throughput.expect.{key}"));
                    }
                }
                if t.protocol == Protocol::Udp && t.offered.is_some() {
                    add("throughput.rate");
                }
                if t.streams > 1 {
                    add("throughput.streams");
                }
            }
            Action::Exec(x) => {
                let e = &x.expect;
                for (key, set) in [
                    ("status", e.status != Some(0)),
                    ("stdout_contains", e.stdout_contains.is_some()),
                    ("stdout_matches", e.stdout_matches.is_some()),
                    ("stderr_contains", e.stderr_contains.is_some()),
                    ("stderr_matches", e.stderr_matches.is_some()),
                ] {
                    if set {
                        add(&format!("exec.expect.{key}"));
                    }
                }
            }
            Action::Link(l) => {
                add(match &l.op {
                    LinkOp::Down => "link.down",
                    LinkOp::Up => "link.up",
                    LinkOp::Set { a_to_b, b_to_a } if a_to_b != b_to_a => "link.set.one-way",
                    LinkOp::Set { .. } => "link.set",
                });
                if l.a.contains(':') {
                    add("link.iface");
                }
            }
            Action::Node(n) => {
                add(match n.op {
                    NodeOp::Stop => "node.stop",
                    NodeOp::Start => "node.start",
                    NodeOp::Restart => "node.restart",
                    NodeOp::Kill => "node.kill",
                    NodeOp::Pause => "node.pause",
                    NodeOp::Resume => "node.resume",
                });
                if n.service.is_some() {
                    add("node.service");
                }
            }
            Action::Wait(w) => {
                add(match &w.until {
                    Condition::Reachable { .. } => "wait.reachable",
                    Condition::TcpPort { .. } => "wait.tcp_port",
                    Condition::Command { .. } => "wait.command",
                    Condition::Ready { .. } => "wait.ready",
                    Condition::OpenflowConnected { .. } => "wait.openflow.connected",
                    Condition::OpenflowSwitches { .. } => "wait.openflow.switches",
                    Condition::OpenflowFlow { .. } => "wait.openflow.flow",
                    Condition::BgpEstablished { .. } => "wait.bgp.established",
                    Condition::BgpRoute { present: true, .. } => "wait.bgp.route",
                    Condition::BgpRoute { present: false, .. } => "wait.bgp.route.absent",
                });
            }
            Action::Capture(Capture::Start { .. }) => {
                add("capture.start");
            }
            Action::Capture(Capture::Stop { .. }) => {
                add("capture.stop");
            }
            Action::Openflow(o) => {
                add(&format!("openflow.{:?}", o.command));
            }
            Action::Bgp(b) => {
                if !b.announce.is_empty() {
                    add("bgp.announce");
                }
                if !b.withdraw.is_empty() {
                    add("bgp.withdraw");
                }
            }
            Action::Sleep(_) | Action::Parallel(_) | Action::Repeat { .. } => {}
        }
    }
    out
}

#[test]
fn the_examples_use_every_feature() {
    let mut used = BTreeSet::new();
    for path in files() {
        let s = scenario::load(&path).unwrap();
        used.insert(
            match s.topology {
                TopologyRef::File(_) => "topology.file",
                TopologyRef::Inline(_) => "topology.inline",
                TopologyRef::Quickstart => "topology.quickstart",
            }
            .to_string(),
        );
        if s.seed.is_some() {
            used.insert("seed".into());
        }
        features(&s.steps, &mut used);
    }
    let mut wanted: Vec<String> = [
        "ping",
        "pingall",
        "throughput",
        "exec",
        "link",
        "node",
        "wait",
        "capture",
        "sleep",
        "parallel",
        "repeat",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for key in ["loss_max", "loss_min", "rtt_max", "rtt_min", "rtt_avg_max"] {
        wanted.push(format!("ping.expect.{key}"));
    }
    for key in [
        "min",
        "max",
        "loss_max",
        "jitter_max",
        "outage_min",
        "outage_max",
        "retransmits_max",
    ] {
        wanted.push(format!("throughput.expect.{key}"));
    }
    for key in [
        "status",
        "stdout_contains",
        "stdout_matches",
        "stderr_contains",
        "stderr_matches",
    ] {
        wanted.push(format!("exec.expect.{key}"));
    }
    wanted.extend(
        [
            "topology.file",
            "topology.inline",
            "topology.quickstart",
            "seed",
            "step.name",
            "step.timeout",
            "step.continue_on_failure",
            "during.link",
            "during.node",
            "during.exec",
            "during.capture",
            "during.sleep",
            "throughput.during",
            "ping.during",
            "sleep.during",
            "wait.during",
            "ping.Ipv4",
            "ping.Ipv6",
            "pingall.Ipv4",
            "pingall.Ipv6",
            "pingall.all",
            "pingall.hosts",
            "pingall.full",
            "pingall.matrix",
            "pingall.unreachable",
            "throughput.Tcp",
            "throughput.Udp",
            "throughput.rate",
            "throughput.streams",
            "link.down",
            "link.up",
            "link.set",
            "link.set.one-way",
            "link.iface",
            "node.start",
            "node.stop",
            "node.restart",
            "node.kill",
            "node.pause",
            "node.resume",
            "node.service",
            "wait.reachable",
            "wait.tcp_port",
            "wait.command",
            "wait.ready",
            "wait.openflow.connected",
            "wait.openflow.switches",
            "wait.openflow.flow",
            "openflow",
            "openflow.Add",
            "openflow.DeleteStrict",
            "bgp",
            "bgp.announce",
            "bgp.withdraw",
            "during.bgp",
            "wait.bgp.established",
            "wait.bgp.route",
            "wait.bgp.route.absent",
            "capture.start",
            "capture.stop",
            "reference",
        ]
        .map(String::from),
    );
    let missing: Vec<&String> = wanted.iter().filter(|w| !used.contains(*w)).collect();
    assert!(
        missing.is_empty(),
        "no example scenario uses {missing:?}\nused: {used:?}"
    );
}
