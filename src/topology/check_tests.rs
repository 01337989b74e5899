//! Tests of `check` through `Topology::from_str`: good files give the expected model,
//! bad ones the expected kind, location and hint. (The file corpus in tests/bad/ covers
//! the same ground end to end, through `Topology::load`.)

use std::time::Duration;

use crate::topology::{ErrorKind, Loss, NodeKind, QueueLimit, Topology, TopologyError};

fn ok(text: &str) -> Topology {
    Topology::from_str(text, "t.yaml").unwrap_or_else(|e| panic!("{}", e.one_line()))
}

fn err(text: &str) -> TopologyError {
    match Topology::from_str(text, "t.yaml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_err(text: &str, kind: ErrorKind, at: (u32, u32), message: &str) -> TopologyError {
    let e = err(text);
    assert_eq!(e.kind, kind, "{}", e.one_line());
    assert_eq!((e.line, e.column), at, "{}", e.one_line());
    assert!(e.message().contains(message), "{}", e.one_line());
    e
}

#[test]
fn quickstart_parses() {
    let t = Topology::quickstart();
    assert_eq!(t.name, "quickstart");
    assert_eq!(t.nodes.len(), 8);
    assert_eq!(t.links.len(), 7);
    assert_eq!(t.defaults.mtu, 1500);
}

#[test]
fn written_then_generated_order() {
    let t = ok("name: x
nodes:
  r1: {kind: router}
generate:
  - star: {hosts: 2}
links:
  - [r1, s1]
");
    let names: Vec<_> = t.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["r1", "s1", "h1", "h2"]);
    let links: Vec<_> = t
        .links
        .iter()
        .map(|l| format!("{}-{}", l.a.node, l.b.node))
        .collect();
    assert_eq!(links, ["r1-s1", "h1-s1", "h2-s1"]);
    // Generated items carry the generator entry's span.
    assert_eq!((t.nodes[1].span.line, t.nodes[1].span.column), (5, 5));
    assert_eq!(t.links[1].span.line, 5);
}

#[test]
fn node_settings() {
    let t = ok(r#"name: x
nodes:
  r1:
    kind: router
    loopback: [10.255.0.1/32, "fd00:ff::1"]
    sysctl: {net.ipv4.tcp_congestion_control: cubic, net.ipv4.ip_forward: 1, net.core.x: true}
    run: sleep 1000
  s1: {kind: switch, stp: true}
"#);
    let r1 = t.node("r1").unwrap();
    assert_eq!(r1.kind, NodeKind::Router);
    assert_eq!(
        r1.loopback
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>(),
        ["10.255.0.1/32", "fd00:ff::1/128"]
    );
    assert_eq!(r1.sysctl["net.ipv4.ip_forward"], "1");
    assert_eq!(r1.sysctl["net.core.x"], "true");
    assert_eq!(r1.services.len(), 1);
    assert_eq!(r1.services[0].name, "sleep");
    assert_eq!(
        r1.services[0].what,
        crate::topology::ServiceWhat::Command {
            cmd: "sleep 1000".into()
        }
    );
    assert!(t.node("s1").unwrap().stp);
}

#[test]
fn long_link_settings() {
    let t = ok(r#"name: x
nodes: {r1: {kind: router}, r2: {kind: router}}
links:
  - endpoints: ["r1:eth1", r2]
    mtu: 9000
    addresses: {r1: [10.9.9.1/30, "fd00:9::1/64"], r2: 10.9.9.2/30}
    rate: 100Mbit
    burst: 32KB
    queue: 100
    delay: 10ms
    jitter: 1ms
    distribution: normal
    loss: {percent: 1%, correlation: 25%}
    duplicate: 0.1%
    corrupt: 0
    reorder: {percent: 5%, gap: 3}
    a_to_b: {delay: 20ms}
    b_to_a: {loss: {gilbert_elliott: {p: 1%, r: 20%}}}
    engine: userspace
    seed: 42
"#);
    let l = &t.links[0];
    assert_eq!(l.a.iface.as_deref(), Some("eth1"));
    assert_eq!(l.mtu, Some(9000));
    assert_eq!(l.a.addrs.len(), 2);
    assert_eq!(l.b.addrs[0].to_string(), "10.9.9.2/30");
    let e = &l.emulation;
    assert_eq!(e.both.rate, Some(100_000_000));
    assert_eq!(e.both.burst, Some(32_000));
    assert_eq!(e.both.queue, Some(QueueLimit::Packets(100)));
    assert_eq!(e.a_to_b().delay, Some(Duration::from_millis(20)));
    assert_eq!(e.b_to_a().delay, Some(Duration::from_millis(10)));
    assert_eq!(
        e.a_to_b().loss,
        Some(Loss::Random {
            p: 0.01,
            correlation: 0.25
        })
    );
    assert_eq!(
        e.b_to_a().loss,
        Some(Loss::GilbertElliott {
            p: 0.01,
            r: 0.2,
            bad_loss: 1.0,
            good_loss: 0.0
        })
    );
    assert_eq!(e.both.reorder.unwrap().gap, 3);
    assert_eq!(e.both.corrupt, Some(0.0));
    assert_eq!(e.engine, Some(crate::topology::Engine::Userspace));
    assert_eq!(e.seed, Some(42));
    assert!(!e.is_plain());
}

#[test]
fn defaults_and_pools() {
    let t = ok(r#"name: x
defaults: {mtu: 9000, engine: kernel, seed: 7}
addressing:
  ipv6: false
  lan4: 10.10.0.0/16
  lan6: {pool: "fd00:0:1::/48", prefix: 56}
"#);
    assert_eq!((t.defaults.mtu, t.defaults.seed), (9000, 7));
    assert!(!t.addressing.ipv6);
    assert_eq!(t.addressing.lan4.net.to_string(), "10.10.0.0/16");
    assert_eq!(t.addressing.lan4.prefix, 24);
    assert_eq!(t.addressing.lan6.prefix, 56);
    assert_eq!(t.addressing.p2p4.prefix, 30);
    assert_eq!(t.addressing.loopback6.prefix, 128);
    assert_eq!(t.addressing.lan4.span.line, 5);
}

#[test]
fn lab_and_node_names() {
    assert_err("name: my lab\n", ErrorKind::BadName, (1, 7), "lab name");
    let e = assert_err(
        "name: x\nnodes:\n  r1:eth0:\n",
        ErrorKind::BadName,
        (3, 3),
        "node name",
    );
    assert!(
        e.help_text()
            .unwrap()
            .contains("separates node and interface")
    );
}

#[test]
fn unknown_node_suggests() {
    let e = assert_err(
        "name: x\nnodes: {h1: , s1: {kind: switch}}\nlinks:\n  - [h9, s1]\n",
        ErrorKind::UnknownNode,
        (4, 6),
        "unknown node `h9`",
    );
    assert_eq!(e.help_text(), Some("did you mean `h1`?"));
}

#[test]
fn iface_errors_point_inside_the_endpoint() {
    let text = "name: x\nnodes: {h1: , s1: {kind: switch}}\nlinks:\n  - [h1, \"s1:averyveryverylongname0\"]\n";
    assert_err(text, ErrorKind::IfaceNameTooLong, (4, 14), "at most 15");
    let text = "name: x\nnodes: {h1: , h2: , s1: {kind: switch}}\nlinks:\n  - [h1, s1:p1]\n  - [h2, s1:p1]\n";
    let e = assert_err(text, ErrorKind::DuplicateIface, (5, 13), "used twice");
    assert!(e.help_text().unwrap().contains("line 4"));
    assert_err(
        "name: x\nnodes: {h1: , h2: }\nlinks:\n  - [h1, 'h2:lo']\n",
        ErrorKind::BadName,
        (4, 14),
        "loopback",
    );
}

#[test]
fn link_shape_errors() {
    assert_err(
        "name: x\nnodes: {h1: }\nlinks:\n  - [h1, h1]\n",
        ErrorKind::BadLink,
        (4, 10),
        "to itself",
    );
    assert_err(
        "name: x\nnodes: {h1: , h2: }\nlinks:\n  - [h1]\n",
        ErrorKind::BadLink,
        (4, 5),
        "two endpoints",
    );
}

#[test]
fn address_errors() {
    let base =
        "name: x\nnodes: {r1: {kind: router}, r2: {kind: router}, s1: {kind: switch}}\nlinks:\n";
    let link = |rest: &str| format!("{base}  - endpoints: [r1, r2]\n    addresses: {rest}\n");
    assert_err(
        &link("{r3: 10.0.0.1/24}"),
        ErrorKind::BadAddress,
        (5, 17),
        "not an endpoint",
    );
    assert_err(
        &link("{r1: [10.0.0.1/24, 10.0.0.2/24]}"),
        ErrorKind::BadAddress,
        (5, 35),
        "already has an IPv4",
    );
    assert_err(
        &link("{r1: 10.0.0.300/24}"),
        ErrorKind::BadAddress,
        (5, 21),
        "bad address",
    );
    assert_err(
        &link("{r1: 10.0.0.1/24, r2: 10.0.1.2/24}"),
        ErrorKind::BadAddress,
        (5, 38),
        "same subnet",
    );
    assert_err(
        &link("{r1: 10.0.0.1/24, r2: 10.0.0.1/24}"),
        ErrorKind::BadAddress,
        (5, 38),
        "both ends",
    );
    let switch = format!("{base}  - endpoints: [r1, s1]\n    addresses: {{s1: 10.0.0.1/24}}\n");
    assert_err(&switch, ErrorKind::BadAddress, (5, 17), "switch `s1`");
}

#[test]
fn node_kind_rules() {
    assert_err(
        "name: x\nnodes:\n  r1: {kind: router, stp: true}\n",
        ErrorKind::BadValue,
        (3, 27),
        "only valid on switches",
    );
    assert_err(
        "name: x\nnodes:\n  s1: {kind: switch, loopback: [10.0.0.1/32]}\n",
        ErrorKind::BadValue,
        (3, 32),
        "loopback",
    );
}

#[test]
fn pool_errors() {
    assert_err(
        "name: x\naddressing: {lan4: 10.0.0.1/8}\n",
        ErrorKind::BadAddress,
        (2, 20),
        "host bits",
    );
    let e = err("name: x\naddressing: {lan4: 10.0.0.1/8}\n");
    assert_eq!(e.help_text(), Some("did you mean `10.0.0.0/8`?"));
    assert_err(
        "name: x\naddressing: {lan4: \"fd00::/48\"}\n",
        ErrorKind::BadAddress,
        (2, 20),
        "IPv4 pool",
    );
    assert_err(
        "name: x\naddressing: {lan4: {pool: 10.0.0.0/16, prefix: 8}}\n",
        ErrorKind::BadValue,
        (2, 48),
        "does not fit",
    );
    assert_err(
        "name: x\naddressing: {p2p4: 10.1.0.0/16}\n",
        ErrorKind::OverlappingSubnets,
        (2, 20),
        "overlaps `lan4`",
    );
    assert_err(
        "name: x\naddressing: {loopback4: 10.0.0.0/31}\n",
        ErrorKind::OverlappingSubnets,
        (2, 25),
        "overlaps",
    );
    assert_err(
        "name: x\naddressing: {p2p4: 10.0.0.0/31}\n",
        ErrorKind::BadValue,
        (2, 20),
        "smaller than one /30",
    );
}

#[test]
fn emulation_errors() {
    let base = "name: x\nnodes: {h1: , h2: }\nlinks:\n  - endpoints: [h1, h2]\n";
    let with = |rest: &str| format!("{base}    {rest}\n");
    assert_err(
        &with("jitter: 1ms"),
        ErrorKind::BadValue,
        (5, 13),
        "jitter without delay",
    );
    assert_err(
        &with("b_to_a: {jitter: 1ms}"),
        ErrorKind::BadValue,
        (5, 22),
        "b_to_a",
    );
    ok(&with("delay: 5ms\n    a_to_b: {jitter: 1ms}"));
    assert_err(&with("rate: 0mbit"), ErrorKind::BadValue, (5, 11), "zero");
    assert_err(
        &with("rate: 100 Mbits/s"),
        ErrorKind::BadUnit,
        (5, 11),
        "bad rate",
    );
    assert_err(
        &with("loss: 150%"),
        ErrorKind::BadValue,
        (5, 11),
        "over 100%",
    );
    assert_err(
        &with("loss: {percent: 1%, gilbert_elliott: {p: 1%, r: 2%}}"),
        ErrorKind::BadValue,
        (5, 42),
        "both",
    );
    assert_err(
        &with("delay: 10 ms s"),
        ErrorKind::BadUnit,
        (5, 12),
        "10 ms s",
    );
    assert_err(&with("mtu: 40"), ErrorKind::BadValue, (5, 10), "mtu 40");
    assert_err(
        &with("trace: nowhere/trace.down"),
        ErrorKind::MissingFile,
        (5, 12),
        "not found",
    );
}

#[test]
fn trace_paths_resolve_against_the_file() {
    let dir = std::env::temp_dir().join(format!("topolab-trace-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("traces")).unwrap();
    std::fs::write(dir.join("traces/lte.down"), "1\n2\n").unwrap();
    let file = dir.join("lab.yaml");
    std::fs::write(
        &file,
        "name: x\nnodes: {h1: , h2: }\nlinks:\n  - {endpoints: [h1, h2], trace: traces/lte.down}\n",
    )
    .unwrap();
    let t = Topology::load(&file).unwrap_or_else(|e| panic!("{}", e.one_line()));
    assert_eq!(
        t.links[0].emulation.both.trace.as_deref(),
        Some(dir.join("traces/lte.down").as_path())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generator_errors() {
    assert_err(
        "name: x\ngenerate:\n  - stra: {hosts: 2}\n",
        ErrorKind::UnknownKey,
        (3, 5),
        "unknown generator",
    );
    let e = err("name: x\ngenerate:\n  - stra: {hosts: 2}\n");
    assert_eq!(e.help_text(), Some("did you mean `star`?"));
    assert_err(
        "name: x\ngenerate:\n  - star: {hosts: 2}\n    ring: {switches: 3}\n",
        ErrorKind::BadValue,
        (4, 5),
        "exactly one",
    );
    assert_err(
        "name: x\ngenerate:\n  - star: {hosts: 0}\n",
        ErrorKind::BadValue,
        (3, 19),
        "at least 1",
    );
    assert_err(
        "name: x\ngenerate:\n  - ring: {switches: 2}\n",
        ErrorKind::BadValue,
        (3, 22),
        "at least 3",
    );
    assert_err(
        "name: x\ngenerate:\n  - fattree: {k: 3}\n",
        ErrorKind::BadValue,
        (3, 18),
        "even",
    );
    assert_err(
        "name: x\ngenerate:\n  - tree: {depth: 10, fanout: 10}\n",
        ErrorKind::BadValue,
        (3, 19),
        "nodes",
    );
    assert_err(
        "name: x\ngenerate:\n  - star: {hosts: 1, prefix: -a}\n",
        ErrorKind::BadName,
        (3, 30),
        "prefix",
    );
}

#[test]
fn generated_duplicates() {
    let e = assert_err(
        "name: x\nnodes: {h1: }\ngenerate:\n  - star: {hosts: 2}\n",
        ErrorKind::DuplicateName,
        (4, 5),
        "`h1`",
    );
    assert!(
        e.help_text()
            .unwrap()
            .contains("give the generator a prefix:")
    );
    assert_err(
        "name: x\ngenerate:\n  - star: {hosts: 2}\n  - linear: {switches: 2}\n",
        ErrorKind::DuplicateName,
        (4, 5),
        "generator `star` on line 3",
    );
    let t = ok("name: x\ngenerate:\n  - star: {hosts: 2}\n  - linear: {switches: 2, prefix: b-}\n");
    assert!(t.node("b-h2").is_some());
}

#[test]
fn schema_mentions_every_top_level_key() {
    let schema = crate::topology::json_schema();
    let props = schema["properties"].as_object().unwrap();
    for key in [
        "name",
        "defaults",
        "addressing",
        "nodes",
        "links",
        "generate",
    ] {
        assert!(props.contains_key(key), "{key}");
    }
    assert_eq!(
        schema["additionalProperties"],
        serde_json::Value::Bool(false)
    );
}

#[test]
fn the_lab_node_limit_counts_written_and_generated_nodes_before_expanding() {
    use crate::topology::{Limits, check, parse};
    let load = |text: &str, max_nodes: usize| {
        let source = crate::topology::Source {
            name: "t.yaml".into(),
            text: text.into(),
        };
        let limits = Limits { max_nodes };
        let spec = parse::parse_with(&source, limits).unwrap();
        check::check_with(spec, source, None, limits)
    };
    let written = "name: x\nnodes: {a: , b: , c: }\n";
    assert!(load(written, 3).is_ok());
    let e = load(written, 2).unwrap_err();
    assert_eq!((e.line, e.column), (2, 19), "{}", e.one_line());
    assert!(
        e.message().contains("3 nodes; the limit is 2"),
        "{}",
        e.one_line()
    );
    assert!(e.help_text().unwrap().contains("--max-nodes"));

    let generated = "name: x\nnodes: {a: }\ngenerate:\n  - star: {hosts: 3}\n";
    assert!(load(generated, 5).is_ok());
    let e = load(generated, 4).unwrap_err();
    assert_eq!((e.line, e.column), (4, 19), "{}", e.one_line());
    assert!(
        e.message().contains("5 nodes; the limit is 4"),
        "{}",
        e.one_line()
    );

    // Twenty stars of 99,999 hosts are refused at the first one, before any expansion.
    let stars: String = (0..20)
        .map(|i| format!("  - star: {{hosts: 99999, prefix: p{i}-}}\n"))
        .collect();
    let e = load(&format!("name: x\ngenerate:\n{stars}"), 10_000).unwrap_err();
    assert_eq!(e.line, 3, "{}", e.one_line());
    // A deep tree of fanout 1 is counted without walking its depth.
    let e = err("name: x\ngenerate:\n  - tree: {depth: 4000000000, fanout: 1}\n");
    assert!(e.message().contains("would make"), "{}", e.one_line());
}
