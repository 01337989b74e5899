//! Parser and checker tests: defaults, every action's model, spans of errors. The error
//! corpus (`tests/bad_scenarios/`) covers one file per mistake; these cover the values.

use std::time::Duration;

use super::*;
use crate::topology::{ErrorKind, Loss};

fn parse(text: &str) -> Scenario {
    from_str(text, "t.yaml")
        .unwrap_or_else(|e| panic!("{}\nhelp: {:?}", e.one_line(), e.help_text()))
}

fn err(text: &str) -> TopologyError {
    from_str(text, "t.yaml").expect_err("should fail")
}

fn one_step(step: &str) -> Step {
    let s = parse(&format!("name: t\nsteps:\n  - {step}\n"));
    s.steps.into_iter().next().unwrap()
}

const MS: fn(u64) -> Duration = Duration::from_millis;

#[test]
fn embedded_default_parses() {
    let s = default_scenario();
    assert_eq!(s.name, "quickstart");
    assert!(matches!(s.topology, TopologyRef::Quickstart));
    assert!(s.steps.len() >= 4);
}

#[test]
fn scenario_defaults() {
    let s = parse("name: t\nsteps: [{sleep: 1s}]\n");
    assert_eq!(s.timeout, DEFAULT_TIMEOUT);
    assert_eq!(s.seed, None);
    assert!(matches!(s.topology, TopologyRef::Quickstart));
    let s = parse("name: t\nseed: 42\ntimeout: 5m\ntopology: ../x.yaml\nsteps: [{sleep: 1s}]\n");
    assert_eq!(s.timeout, Duration::from_secs(300));
    assert_eq!(s.seed, Some(42));
    assert!(matches!(&s.topology, TopologyRef::File(p) if p.to_str() == Some("../x.yaml")));
}

#[test]
fn ping_defaults_and_values() {
    let step = one_step("ping: {from: h1, to: h3}");
    assert_eq!(step.name, "ping h1 → h3");
    assert!(!step.continue_on_failure);
    let Action::Ping(p) = step.action else {
        panic!()
    };
    assert_eq!((p.count, p.interval, p.size), (5, MS(200), 56));
    assert_eq!(p.family, Family::Ipv4);
    assert_eq!(
        p.expect.loss_max,
        Some(0.0),
        "no expect: every echo answered"
    );

    let step = one_step(
        "ping: {from: h1, to: \"${h3.ipv6}\", family: ipv6, count: 10, interval: 1s, size: 1000}\n    \
         expect: {loss: 10%, loss_min: 1%, rtt_min: 10ms, rtt_max: 50ms, rtt_avg_max: 20ms}\n    \
         name: custom\n    timeout: 20s\n    continue_on_failure: true",
    );
    assert_eq!(step.name, "custom");
    assert_eq!(step.timeout, Some(Duration::from_secs(20)));
    assert!(step.continue_on_failure);
    let Action::Ping(p) = step.action else {
        panic!()
    };
    assert_eq!(p.to, "${h3.ipv6}");
    assert_eq!(
        (p.count, p.interval, p.size),
        (10, Duration::from_secs(1), 1000)
    );
    assert_eq!(
        p.expect,
        PingExpect {
            loss_max: Some(0.1),
            loss_min: Some(0.01),
            rtt_max: Some(MS(50)),
            rtt_min: Some(MS(10)),
            rtt_avg_max: Some(MS(20)),
        }
    );
}

#[test]
fn pingall_forms() {
    let step = one_step("pingall:");
    assert_eq!(step.name, "pingall ipv4");
    let Action::Pingall(p) = step.action else {
        panic!()
    };
    assert!(!p.all_nodes && p.matrix.is_none());
    let Action::Pingall(p) =
        one_step("pingall: {family: ipv6, nodes: all}\n    expect: full").action
    else {
        panic!()
    };
    assert!(p.all_nodes && p.matrix.is_none() && p.family == Family::Ipv6);
    let Action::Pingall(p) = one_step(
        "pingall: {}\n    expect: [{from: h1, to: h2, reachable: false}, {from: h2, to: h3}]",
    )
    .action
    else {
        panic!()
    };
    assert_eq!(
        p.matrix.unwrap(),
        vec![
            PairExpect {
                from: "h1".into(),
                to: "h2".into(),
                reachable: false
            },
            PairExpect {
                from: "h2".into(),
                to: "h3".into(),
                reachable: true
            },
        ]
    );
}

#[test]
fn throughput_tcp_and_udp() {
    let step = one_step("throughput: {from: h1, to: h3}");
    assert_eq!(step.name, "throughput h1 → h3 (tcp, 5s)");
    let Action::Throughput(t) = step.action else {
        panic!()
    };
    assert_eq!(t.protocol, Protocol::Tcp);
    assert_eq!(
        (t.duration, t.streams, t.interval),
        (Duration::from_secs(5), 1, Duration::from_secs(1))
    );
    assert_eq!(
        (t.congestion.as_str(), t.size, t.offered),
        ("cubic", 1400, None)
    );
    assert_eq!(t.expect, ThroughputExpect::default());

    let step = one_step(
        "throughput: {from: h1, to: \"${h3.ipv4}\", protocol: udp, rate: 50Mbit, size: 1200, duration: 15s, interval: 500ms}\n    \
         expect: {min: 40Mbit, max: 1Gbit, loss_max: 1%, jitter_max: 2ms}",
    );
    assert_eq!(step.name, "throughput h1 → ${h3.ipv4} (udp, 15s)");
    let Action::Throughput(t) = step.action else {
        panic!()
    };
    assert_eq!((t.offered, t.size), (Some(50_000_000), 1200));
    assert_eq!(t.expect.min, Some(40_000_000));
    assert_eq!(t.expect.max, Some(1_000_000_000));
    assert_eq!(t.expect.loss_max, Some(0.01));
    assert_eq!(t.expect.jitter_max, Some(MS(2)));
    let Action::Throughput(t) =
        one_step("throughput: {from: h1, to: h3, streams: 4, congestion: bbr}\n    expect: {retransmits_max: 100, outage_min: 0s, outage_max: 1s}").action
    else {
        panic!()
    };
    assert_eq!((t.streams, t.congestion.as_str()), (4, "bbr"));
    assert_eq!(t.expect.retransmits_max, Some(100));
    assert_eq!(t.expect.outage_min, Some(Duration::ZERO));
    assert_eq!(t.expect.outage_max, Some(Duration::from_secs(1)));
}

#[test]
fn exec_expectations() {
    let step = one_step("exec: {node: h1, cmd: ip route}");
    assert_eq!(step.name, "exec h1: ip route");
    let Action::Exec(e) = step.action else {
        panic!()
    };
    assert_eq!(e.expect.status, Some(0));
    let Action::Exec(e) = one_step(
        "exec: {node: h1, cmd: \"ping -c1 ${h3.ipv4}\"}\n    expect: {status: any, stdout_contains: \"${h3.ipv4}\", stdout_matches: 'via 10\\.', stderr_contains: x, stderr_matches: '^$'}",
    )
    .action
    else {
        panic!()
    };
    assert_eq!(e.expect.status, None);
    assert_eq!(e.expect.stdout_matches.as_deref(), Some("via 10\\."));
    assert_eq!(e.expect.stderr_matches.as_deref(), Some("^$"));
    let long = one_step(&format!("exec: {{node: h1, cmd: \"{}\"}}", "x".repeat(100)));
    assert_eq!(long.name.chars().count(), 60);
}

#[test]
fn link_steps() {
    let step = one_step("link: {a: r1, b: \"r2:eth0\", down: true}");
    assert_eq!(step.name, "link r1 — r2:eth0 down");
    let Action::Link(l) = step.action else {
        panic!()
    };
    assert_eq!(
        (l.a.as_str(), l.b.as_str(), &l.op),
        ("r1", "r2:eth0", &LinkOp::Down)
    );
    let Action::Link(l) = one_step("link: {a: r1, b: r2, up: true}").action else {
        panic!()
    };
    assert_eq!(l.op, LinkOp::Up);
    let Action::Link(l) = one_step(
        "link: {a: r1, b: r2, set: {delay: 20ms, loss: 1%, loss_correlation: 25%, b_to_a.rate: 10Mbit, queue: 100}}",
    )
    .action
    else {
        panic!()
    };
    let LinkOp::Set { a_to_b, b_to_a } = l.op else {
        panic!()
    };
    assert_eq!(a_to_b.set.delay, Some(MS(20)));
    assert_eq!(a_to_b.set.rate, None);
    assert_eq!(b_to_a.set.rate, Some(10_000_000));
    assert_eq!(
        b_to_a.set.loss,
        Some(Loss::Random {
            p: 0.01,
            correlation: 0.25
        })
    );
}

#[test]
fn node_wait_capture_sleep() {
    let step = one_step("node: {name: r1, stop: true}");
    assert_eq!(step.name, "node r1 stop");
    assert!(matches!(
        step.action,
        Action::Node(NodeStep {
            op: NodeOp::Stop,
            ..
        })
    ));
    assert!(matches!(
        one_step("node: {name: r1, start: true}").action,
        Action::Node(NodeStep {
            op: NodeOp::Start,
            ..
        })
    ));

    let Action::Wait(w) = one_step("wait: {reachable: {from: h1, to: h3, family: ipv6}}").action
    else {
        panic!()
    };
    assert_eq!(w.every, MS(200));
    assert_eq!(
        w.until,
        Condition::Reachable {
            from: "h1".into(),
            to: "h3".into(),
            family: Family::Ipv6
        }
    );
    let Action::Wait(w) =
        one_step("wait: {tcp_port: {from: h1, to: h3, port: 80}, every: 1s}").action
    else {
        panic!()
    };
    assert_eq!(w.every, Duration::from_secs(1));
    assert!(matches!(
        w.until,
        Condition::TcpPort {
            port: 80,
            family: Family::Ipv4,
            ..
        }
    ));
    let Action::Wait(w) = one_step("wait: {command: {node: h1, cmd: test -e /tmp/ready}}").action
    else {
        panic!()
    };
    assert!(matches!(w.until, Condition::Command { ref cmd, .. } if cmd == "test -e /tmp/ready"));

    let s = parse(
        "name: t\nsteps:\n  - capture: {start: cap1, iface: \"h1:eth0\"}\n  - sleep: 2s\n  - capture: {stop: cap1}\n",
    );
    assert!(
        matches!(&s.steps[0].action, Action::Capture(Capture::Start { name, node, iface })
        if name == "cap1" && node == "h1" && iface == "eth0")
    );
    assert_eq!(s.steps[0].name, "capture cap1 on h1:eth0");
    assert!(matches!(s.steps[1].action, Action::Sleep(d) if d == Duration::from_secs(2)));
    assert_eq!(s.steps[1].name, "sleep 2s");
    assert!(
        matches!(&s.steps[2].action, Action::Capture(Capture::Stop { name }) if name == "cap1")
    );
}

#[test]
fn parallel_repeat_and_during() {
    let s = parse(
        "name: t\nsteps:\n  - parallel:\n      - ping: {from: h1, to: h3}\n      - repeat: {times: 3, steps: [{sleep: 1s}]}\n  - throughput: {from: h1, to: h3, duration: 15s}\n    timeout: 30s\n    during:\n      - at: 5s\n        link: {a: r1, b: r2, down: true}\n      - at: 10s\n        exec: {node: r1, cmd: ip link}\n      - at: 11s\n        node: {name: r1, start: true}\n      - at: 12s\n        capture: {start: c, iface: \"r1:eth1\"}\n      - at: 13s\n        sleep: 1s\n",
    );
    let Action::Parallel(children) = &s.steps[0].action else {
        panic!()
    };
    assert_eq!(s.steps[0].name, "parallel (2 steps)");
    assert_eq!(children[1].name, "repeat 3× (1 step)");
    assert!(matches!(&children[1].action, Action::Repeat { times: 3, steps } if steps.len() == 1));
    let during = &s.steps[1].during;
    assert_eq!(during.len(), 5);
    assert_eq!(during[0].at, Duration::from_secs(5));
    assert_eq!(during[0].span.line, 9);
    assert!(matches!(&during[0].action, Action::Link(l) if l.op == LinkOp::Down));
    assert!(matches!(&during[1].action, Action::Exec(e) if e.expect == ExecExpect::default()));
    assert_eq!(during[0].action.summary(), "link r1 — r2 down");
}

#[test]
fn inline_topology_keeps_positions_and_is_checked() {
    let text = "name: t\ntopology:\n  name: lab\n  nodes:\n    h1:\n    h2:\n  links:\n    - [h1, h2]\nsteps: [{sleep: 1s}]\n";
    let s = parse(text);
    let TopologyRef::Inline(inline) = &s.topology else {
        panic!()
    };
    assert_eq!(inline.len(), text.len());
    assert!(inline.contains("  links:\n    - [h1, h2]\n"));
    assert!(!inline.contains("steps"));
    let t = topology(&s).unwrap();
    assert_eq!(t.name, "lab");
    assert_eq!(t.nodes.len(), 2);

    // An error inside the inline topology points at the scenario file's line and column.
    let e = err(
        "name: t\ntopology:\n  name: lab\n  nodes:\n    h1:\n  links:\n    - [h1, h9]\nsteps: [{sleep: 1s}]\n",
    );
    assert_eq!(e.kind, ErrorKind::UnknownNode);
    assert_eq!((e.line, e.column), (7, 12));

    let s = parse(
        "name: t\ntopology: {name: lab, nodes: {h1: , h2: }, links: [[h1, h2]]}\nsteps: [{sleep: 1s}]\n",
    );
    assert_eq!(topology(&s).unwrap().links.len(), 1);
}

#[test]
fn error_locations() {
    let e = err("name: t\nsteps:\n  - ping: {from: h1, to: h3}\n    exec: {node: h1, cmd: x}\n");
    assert_eq!(e.kind, ErrorKind::BadStep);
    assert_eq!((e.line, e.column), (3, 5));
    assert!(e.message().contains("`ping` and `exec`"), "{}", e.message());
    assert!(e.help_text().unwrap().contains("pingall, throughput"));

    let e = err("name: t\nsteps:\n  - name: nothing\n");
    assert_eq!(e.message(), "this step has no action");

    let e = err("name: t\nsteps:\n  - pnig: {from: h1, to: h3}\n");
    assert_eq!(e.kind, ErrorKind::UnknownKey);
    assert_eq!(e.help_text(), Some("did you mean `ping`?"));

    let e = err("name: t\nsteps:\n  - exec: {node: h1, cmd: \"echo ${h1.ipv5}\"}\n");
    assert_eq!(e.kind, ErrorKind::BadReference);
    assert_eq!((e.line, e.column), (3, 33));

    let e = err("name: t\nsteps:\n  - ping: {from: h1, to: h3}\n    expect: {min: 1Mbit}\n");
    assert_eq!(
        e.message(),
        "`min` is a throughput expectation, not a ping one"
    );
    assert_eq!((e.line, e.column), (4, 14));

    let e = err("name: t\nsteps:\n  - sleep: 1s\n    expect: {status: 0}\n");
    assert!(
        e.message()
            .contains("`expect` is not valid on a `sleep` step")
    );

    let e =
        err("name: t\nsteps:\n  - exec: {node: h1, cmd: x}\n    expect: {stdout_matches: 'a(b'}\n");
    assert_eq!(e.kind, ErrorKind::BadRegex);
    assert_eq!((e.line, e.column), (4, 30));

    let e = err(
        "name: t\nsteps:\n  - sleep: 5s\n    timeout: 3s\n    during:\n      - at: 4s\n        link: {a: r1, b: r2, down: true}\n",
    );
    assert!(
        e.message().contains("after this step's timeout"),
        "{}",
        e.message()
    );
    assert_eq!((e.line, e.column), (6, 13));

    let e = err("name: t\nsteps:\n  - link: {a: r1, b: r2, set: {delay: 20ms, losss: 1%}}\n");
    assert_eq!(e.kind, ErrorKind::UnknownKey);
    assert_eq!((e.line, e.column), (3, 45));
    let e = err("name: t\nsteps:\n  - link: {a: r1, b: r2, set: {delay: 20 parsecs}}\n");
    assert_eq!(e.kind, ErrorKind::BadValue);
    assert_eq!((e.line, e.column), (3, 39));
    assert!(
        e.message().contains("bad duration `20 parsecs`"),
        "{}",
        e.message()
    );
}

#[test]
fn missing_topology_file_points_at_the_path() {
    let dir = std::env::temp_dir().join(format!("topolab-scen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        "name: t\ntopology: nope.yaml\nsteps: [{sleep: 1s}]\n",
    )
    .unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!(e.kind, ErrorKind::MissingFile);
    assert_eq!((e.line, e.column), (2, 11));
    std::fs::write(dir.join("lab.yaml"), "name: lab\nnodes: {h1: }\n").unwrap();
    std::fs::write(&path, "name: t\ntopology: lab.yaml\nsteps: [{sleep: 1s}]\n").unwrap();
    let s = load(&path).unwrap();
    assert_eq!(topology(&s).unwrap().name, "lab");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_panics_on_odd_input() {
    for text in [
        "",
        "---",
        "[]",
        "name: t\nsteps: {}\n",
        "name: t\nsteps: [[]]\n",
        "name: t\nsteps: [~]\n",
        "name: t\ntopology: 3\nsteps: [{sleep: 1s}]\n",
        "name: t\ntopology: {}\nsteps: [{sleep: 1s}]\n",
        "name: t\ntopology: &a {name: x}\nsteps: [{sleep: 1s}]\n",
        "name: t\nsteps: [{sleep: 1s, during: [{at: 0s, sleep: 0s}]}]\n",
        "name: t\nsteps: [{repeat: {times: 0, steps: []}}]\n",
        "name: t\nsteps: [{parallel: []}]\n",
        "name: t\nsteps: [{ping: {from: h1, to: h2, count: 99999999999999999999}}]\n",
        "name: t\nsteps: [{exec: {node: h1, cmd: \"${\"}}]\n",
        "name: \"\"\nsteps: [{sleep: 1s}]\n",
        "name: t\nsteps: [{wait: {}}]\n",
        "name: t\nsteps: [{capture: {stop: x}}]\n",
        "name: t\nsteps: [{link: {a: \"r1:\", b: r2, up: true}}]\n",
    ] {
        let _ = from_str(text, "odd.yaml");
    }
    let deep = format!(
        "name: t\nsteps: [{}{{sleep: 1s}}{}]\n",
        "{parallel: [".repeat(100),
        "]}".repeat(100)
    );
    let e = from_str(&deep, "deep.yaml").unwrap_err();
    assert!(e.message().contains("nested too deeply"), "{}", e.message());
    // 20 levels of `parallel` (40 of YAML) parse, whatever the calling thread's stack.
    let nested = format!(
        "name: t\nsteps: [{}{{sleep: 1s}}{}]\n",
        "{parallel: [".repeat(20),
        "]}".repeat(20)
    );
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            from_str(&nested, "nested.yaml")
                .map(|_| ())
                .map_err(|e| e.one_line())
        })
        .unwrap()
        .join()
        .unwrap()
        .unwrap();
}

/// Every prefix and every one-line deletion of the example files is read without a panic
/// (a panic in the parse thread would surface as the "internal error" diagnostic).
#[test]
fn mangled_examples_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut variants: Vec<String> = text
            .char_indices()
            .map(|(i, _)| i)
            .step_by(13)
            .map(|i| text[..i].to_string())
            .collect();
        for skip in 0..lines.len() {
            let mut v: Vec<&str> = lines.clone();
            v.remove(skip);
            variants.push(v.join("\n"));
        }
        for v in variants {
            if let Err(e) = from_str(&v, "mangled.yaml") {
                assert!(
                    !e.message().starts_with("internal error"),
                    "{}: {}\n{v}",
                    path.display(),
                    e.one_line()
                );
            }
        }
    }
}

/// A scenario on an inline OpenFlow topology (c0 controls s1; h1 is a host) with `steps`.
fn of_scenario(steps: &str) -> String {
    format!(
        "name: of\ntopology:\n  name: of\n  nodes:\n    c0: {{kind: controller, app: learning}}\n    \
         s1: {{kind: ofswitch, controller: c0}}\n    h1: {{}}\n    h2: {{}}\n  links:\n    \
         - [h1, s1]\n    - [h2, s1]\nsteps:\n{steps}"
    )
}

#[test]
fn openflow_steps_and_waits() {
    let s = parse(&of_scenario(
        "  - openflow: {node: s1, add: \"priority=10,ip,nw_dst=10.0.0.2,actions=output:2\"}\n  \
         - openflow: {node: s1, modify: \"ip,actions=drop\", strict: false}\n  \
         - openflow: {node: s1, delete: \"priority=10,ip,nw_dst=10.0.0.2\", strict: true}\n  \
         - openflow: {node: s1, delete: \"\"}\n  \
         - wait: {openflow: {node: s1, connected: true}}\n  \
         - wait: {openflow: {node: c0, switches: 1}}\n  \
         - wait: {openflow: {node: s1, flow: \"nw_dst=10.0.0.2,ip\", table: 0, present: false}}\n  \
         - sleep: 1s\n    during:\n      - {at: 0s, openflow: {node: s1, add: \"actions=drop\"}}\n",
    ));
    use crate::daemon::FlowOp;
    let ops: Vec<FlowOp> = s.steps[..4]
        .iter()
        .map(|st| match &st.action {
            Action::Openflow(o) => o.command,
            a => panic!("{a:?}"),
        })
        .collect();
    assert_eq!(
        ops,
        [
            FlowOp::Add,
            FlowOp::Modify,
            FlowOp::DeleteStrict,
            FlowOp::Delete
        ]
    );
    assert!(
        s.steps[0]
            .name
            .starts_with("openflow s1 add priority=10,ip,nw_dst=10.0.0.2,"),
        "{}",
        s.steps[0].name
    );
    let until = |i: usize| match &s.steps[i].action {
        Action::Wait(w) => w.until.clone(),
        a => panic!("{a:?}"),
    };
    assert_eq!(
        until(4),
        Condition::OpenflowConnected {
            node: "s1".into(),
            connected: true
        }
    );
    assert_eq!(
        until(5),
        Condition::OpenflowSwitches {
            node: "c0".into(),
            at_least: 1
        }
    );
    let Condition::OpenflowFlow {
        fields,
        table,
        present,
        ..
    } = until(6)
    else {
        panic!()
    };
    // Canonical field text, order-insensitive: `ip` is eth_type.
    let f = |t: &str| {
        let fm = crate::openflow::flowspec::parse_flow(
            t,
            crate::openflow::flowspec::FlowCommand::Delete,
        )
        .unwrap();
        let mut v: Vec<String> = fm
            .r#match
            .fields
            .iter()
            .map(crate::openflow::flowspec::format_field)
            .collect();
        v.sort();
        v
    };
    assert_eq!(fields, f("ip,nw_dst=10.0.0.2"));
    assert_eq!(fields.len(), 2);
    assert_eq!((table, present), (Some(0), false));
    assert!(matches!(
        s.steps[7].during[0].action,
        Action::Openflow(ref o) if o.command == FlowOp::Add
    ));
}

#[test]
fn openflow_errors() {
    // (step, message, the text the error points at: its first occurrence in the step)
    let cases: &[(&str, &str, &str)] = &[
        (
            "  - openflow: {node: h1, add: \"actions=drop\"}\n",
            "`h1` is a host, not an OpenFlow switch",
            "h1",
        ),
        (
            "  - openflow: {node: s9, add: \"actions=drop\"}\n",
            "unknown node `s9`",
            "s9",
        ),
        (
            "  - openflow: {node: s1, add: \"ip,nw_dst=10.0.0.x,actions=drop\"}\n",
            "bad flow",
            "nw_dst",
        ),
        (
            "  - openflow: {node: s1, add: \"actions=drop\", delete: \"ip\"}\n",
            "`add` is already given",
            "\"ip\"",
        ),
        (
            "  - openflow: {node: s1}\n",
            "needs what to do",
            "{node: s1}",
        ),
        (
            "  - openflow: {node: s1, add: \"actions=drop\", strict: true}\n",
            "`strict` goes with",
            "true",
        ),
        (
            "  - wait: {openflow: {node: s1, switches: 2}}\n",
            "`s1` is a ofswitch, not an OpenFlow controller",
            "s1",
        ),
        (
            "  - wait: {openflow: {node: c0, connected: true}}\n",
            "`c0` is a controller, not an OpenFlow switch",
            "c0",
        ),
        (
            "  - wait: {openflow: {node: s1, connected: true, flow: ip}}\n",
            "`connected` is already given",
            "ip}",
        ),
        (
            "  - wait: {openflow: {node: s1, connected: true}, ready: s1}\n",
            "`openflow` is a second one",
            "{node",
        ),
        (
            "  - wait: {openflow: {node: s1, connected: true, table: 1}}\n",
            "`table` goes with `flow`",
            "1}",
        ),
        (
            "  - wait: {openflow: {node: s1, flow: \"ip,actions=drop\"}}\n",
            "bad flow",
            "drop",
        ),
        (
            "  - wait: {openflow: {node: c0, switches: 0}}\n",
            "`switches: 0` is out of range",
            "0}",
        ),
    ];
    for (step, message, needle) in cases {
        let e = err(&of_scenario(step));
        let at = (13, step.find(needle).unwrap() as u32 + 1);
        assert!(
            e.message().contains(message),
            "{step}: {} (want {message})",
            e.message()
        );
        assert_eq!((e.line, e.column), at, "{step}: {}", e.message());
        assert!(e.help_text().is_some(), "{step}: no help");
    }
    // Without a topology known here (a path, no directory): only names are checked.
    let s = parse(
        "name: t\ntopology: x.yaml\nsteps:\n  - openflow: {node: s1, add: \"actions=drop\"}\n",
    );
    assert!(matches!(s.steps[0].action, Action::Openflow(_)));
    // The quickstart topology has no OpenFlow switch.
    let e = err("name: t\nsteps:\n  - wait: {openflow: {node: r1, connected: true}}\n");
    assert!(
        e.message().contains("not an OpenFlow switch"),
        "{}",
        e.message()
    );
}

#[test]
fn bgp_steps_and_waits() {
    let s = parse(
        "name: t\nsteps:\n  \
         - bgp: {node: r1, announce: [192.0.2.0/24, \"2001:db8::/32\"], withdraw: [198.51.100.0/24]}\n  \
         - wait: {bgp: {node: r1, established: all}}\n  \
         - wait: {bgp: {node: r1, established: 2}}\n  \
         - wait: {bgp: {node: r1, established: [r2, 10.0.0.2]}}\n  \
         - wait: {bgp: {node: r1, route: 10.2.0.0/24, via: 10.0.12.2}, every: 50ms}\n  \
         - wait: {bgp: {node: r1, route: 10.2.0.0/24, absent: true}}\n  \
         - sleep: 1s\n    during:\n      - {at: 0s, bgp: {node: r2, withdraw: [192.0.2.0/24]}}\n",
    );
    let Action::Bgp(b) = &s.steps[0].action else {
        panic!("{:?}", s.steps[0].action)
    };
    assert_eq!(b.node, "r1");
    assert_eq!(b.announce, ["192.0.2.0/24", "2001:db8::/32"]);
    assert_eq!(b.withdraw, ["198.51.100.0/24"]);
    assert!(
        s.steps[0]
            .name
            .starts_with("bgp r1 announce 192.0.2.0/24 2001:db8::/32, withdraw 198.51"),
        "{}",
        s.steps[0].name
    );
    let wait = |i: usize| match &s.steps[i].action {
        Action::Wait(w) => w.clone(),
        a => panic!("{a:?}"),
    };
    let node = || "r1".to_string();
    assert_eq!(
        wait(1).until,
        Condition::BgpEstablished {
            node: node(),
            sessions: BgpSessions::All
        }
    );
    assert_eq!(
        wait(2).until,
        Condition::BgpEstablished {
            node: node(),
            sessions: BgpSessions::AtLeast(2)
        }
    );
    assert_eq!(
        wait(3).until,
        Condition::BgpEstablished {
            node: node(),
            sessions: BgpSessions::Peers(vec!["r2".into(), "10.0.0.2".into()])
        }
    );
    let w = wait(4);
    assert_eq!(
        w.until,
        Condition::BgpRoute {
            node: node(),
            prefix: "10.2.0.0/24".into(),
            via: Some("10.0.12.2".parse().unwrap()),
            present: true
        }
    );
    assert_eq!(w.every, MS(50));
    assert_eq!(
        wait(5).until,
        Condition::BgpRoute {
            node: node(),
            prefix: "10.2.0.0/24".into(),
            via: None,
            present: false
        }
    );
    assert!(matches!(
        &s.steps[6].during[0].action,
        Action::Bgp(b) if b.node == "r2" && b.withdraw == ["192.0.2.0/24"]
    ));
    // Without a topology known here, only names are checked.
    let s =
        parse("name: t\ntopology: x.yaml\nsteps:\n  - wait: {bgp: {node: r9, established: all}}\n");
    assert!(matches!(s.steps[0].action, Action::Wait(_)));
}
