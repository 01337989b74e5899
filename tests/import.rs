//! Topologies from elsewhere (`topolab import`, and `up`/`validate`/`plan` of a foreign
//! file): containerlab files, Mininet strings and GraphML, converted, checked, round-tripped
//! through the YAML `import` prints, refused at the right line and column when wrong, and
//! (as root) a GraphML backbone brought up as a real lab whose link delays are the
//! great-circle figures.

mod common;

use std::path::{Path, PathBuf};

use common::corpus;
use topolab::topology::{Limits, NodeKind, ServiceWhat, Source, Topology, import};

const BAD: &str = "tests/bad_import";
const ENDINGS: &[&str] = &[".clab.yml", ".graphml"];

/// What `validate` does with a foreign file: load it (import, parse, check) and compile.
fn validate(path: &Path) -> Result<(), topolab::topology::TopologyError> {
    let t = Topology::load(path)?;
    topolab::compile::compile(&t, &t.name).map(|_| ())
}

#[test]
fn every_bad_import_fails_where_its_header_says() {
    corpus::files_fail_where_headers_say(corpus::files_ending(BAD, ENDINGS), 30, validate);
}

#[test]
fn every_bad_import_error_has_a_hint() {
    for path in corpus::files_ending(BAD, ENDINGS) {
        let e = validate(&path).expect_err("bad file");
        assert!(
            e.help_text().is_some_and(|h| !h.is_empty()),
            "{}: no hint",
            e.one_line()
        );
    }
}

fn repo(rel: &str) -> PathBuf {
    common::repo_path(rel)
}

/// Converts a file as `topolab import` does.
fn import_file(rel: &str, hosts: bool) -> import::Imported {
    let path = repo(rel);
    let source = Source::read(&path).unwrap();
    import::import(
        &source,
        import::Format::detect(&path).unwrap(),
        import::Options { hosts },
        Some(path.parent().unwrap()),
        Limits::default(),
    )
    .unwrap_or_else(|e| panic!("{}", e.one_line()))
}

/// `topolab import`'s YAML, written to a directory of its own (with the files it refers
/// to), loads back as exactly the topology that `up` of the foreign file builds.
fn round_trip(rel: &str, imported: &import::Imported, hosts: bool, extra: &[&str]) -> Topology {
    let yaml = &imported.yaml;
    let dir = std::env::temp_dir().join(format!(
        "topolab-import-{}-{}",
        std::process::id(),
        rel.replace('/', "_")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for f in extra {
        let to = dir.join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo(&format!("topologies/{f}")), to).unwrap();
    }
    let out = dir.join("lab.yaml");
    std::fs::write(&out, yaml).unwrap();
    let from_yaml = Topology::load(&out);
    std::fs::remove_dir_all(&dir).unwrap();
    let from_yaml = from_yaml.unwrap_or_else(|e| panic!("{rel}: {}", e.one_line()));
    // What `up FILE` builds (for `--hosts`, the same through the library).
    let path = repo(rel);
    let format = import::Format::detect(&path).unwrap();
    let direct = import::load(&path, format, import::Options { hosts }, Limits::default())
        .unwrap_or_else(|e| panic!("{}", e.one_line()));
    if !hosts {
        let plain = Topology::load(&path).unwrap();
        assert!(
            serde_json::to_value(&plain).unwrap() == serde_json::to_value(&direct).unwrap(),
            "{rel}: Topology::load and import::load differ"
        );
    }
    assert!(
        serde_json::to_value(&from_yaml).unwrap() == serde_json::to_value(&direct).unwrap(),
        "{rel}: the printed YAML and the file itself give different labs"
    );
    // Both compile to the same plan.
    let (a, b) = (
        topolab::compile::compile(&from_yaml, "rt").unwrap(),
        topolab::compile::compile(&direct, "rt").unwrap(),
    );
    assert_eq!(a.to_ip_commands(), b.to_ip_commands());
    from_yaml
}

fn kinds(t: &Topology) -> Vec<(String, NodeKind)> {
    t.nodes.iter().map(|n| (n.name.clone(), n.kind)).collect()
}

fn ends(t: &Topology) -> Vec<(String, String)> {
    let end = |e: &topolab::topology::Endpoint| match &e.iface {
        Some(i) => format!("{}:{i}", e.node),
        None => e.node.clone(),
    };
    t.links.iter().map(|l| (end(&l.a), end(&l.b))).collect()
}

#[test]
fn containerlab_file_converts_and_round_trips() {
    let imported = import_file("topologies/pair.clab.yml", false);
    let t = round_trip(
        "topologies/pair.clab.yml",
        &imported,
        false,
        &["import/motd.txt"],
    );
    assert_eq!(t.name, "clab-pair");
    let want = [
        ("client1", NodeKind::Host),
        ("client2", NodeKind::Host),
        ("r1", NodeKind::Router),
        ("r2", NodeKind::Router),
        ("br1", NodeKind::Switch),
        ("br2", NodeKind::Switch),
    ];
    assert_eq!(
        kinds(&t),
        want.map(|(n, k)| (n.to_string(), k)).to_vec(),
        "linux nodes with two links are routers"
    );
    // Interface names are kept as written.
    let want = [
        ("client1:eth1", "br1:c1"),
        ("r1:eth1", "br1:r1"),
        ("r1:eth2", "r2:eth2"),
        ("r2:eth1", "br2:r2"),
        ("client2:eth1", "br2:c2"),
    ];
    assert_eq!(
        ends(&t),
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
    );
    // `exec` is a service whose readiness is the end of its commands.
    let client1 = t.node("client1").unwrap();
    assert_eq!(client1.services.len(), 1);
    let svc = &client1.services[0];
    assert_eq!(svc.name, import::EXEC_SERVICE);
    match &svc.what {
        ServiceWhat::Command { cmd } => {
            assert!(cmd.contains(" 'ip link set eth1 mtu 1400'; "), "{cmd}")
        }
        other => panic!("{other:?}"),
    }
    // A bind of a file: its directory is private, the file is placed with its content.
    let r1 = t.node("r1").unwrap();
    assert_eq!(r1.private_dirs, [PathBuf::from("/etc/topolab-demo")]);
    assert_eq!(r1.files.len(), 1);
    assert_eq!(r1.files[0].path, PathBuf::from("/etc/topolab-demo/motd"));
    assert_eq!(
        r1.files[0].content,
        std::fs::read_to_string(repo("topologies/import/motd.txt")).unwrap()
    );
    assert!(imported.yaml.contains("Images ignored (alpine:3.20)"));
}

#[test]
fn mininet_strings_convert_to_generators() {
    // (string, nodes, links) as Mininet builds them.
    for (s, nodes, links) in [
        ("minimal", 3, 2),
        ("single,4", 5, 4),
        ("linear,3", 6, 5),
        ("linear,3,2", 9, 8),
        ("tree,2,3", 13, 12),
        ("torus,3,3", 18, 27),
        ("torus,4,3,2", 36, 24 + 24),
    ] {
        let source = Source {
            name: format!("`{s}`"),
            text: s.into(),
        };
        let imported = import::import(
            &source,
            import::Format::Mininet,
            import::Options::default(),
            None,
            Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{}", e.one_line()));
        let t = Topology::from_str(&imported.yaml, "import")
            .unwrap_or_else(|e| panic!("{s}: {}", e.one_line()));
        assert_eq!((t.nodes.len(), t.links.len()), (nodes, links), "{s}");
        assert!(t.nodes.iter().any(|n| n.kind == NodeKind::Host), "{s}");
        topolab::compile::compile(&t, &t.name).unwrap();
    }
}

/// Great-circle distance by the spherical law of cosines (the product uses haversine).
fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let dl = (b.1 - a.1).to_radians();
    let c = p1.sin() * p2.sin() + p1.cos() * p2.cos() * dl.cos();
    6371.0088 * c.clamp(-1.0, 1.0).acos()
}

/// The Abilene sample's sites: (router name, latitude, longitude), as the file gives them.
const ABILENE: &[(&str, f64, f64)] = &[
    ("New-York", 40.7128, -74.0060),
    ("Chicago", 41.8781, -87.6298),
    ("Washington-DC", 38.9072, -77.0369),
    ("Seattle", 47.6062, -122.3321),
    ("Sunnyvale", 37.3688, -122.0363),
    ("Los-Angeles", 34.0522, -118.2437),
    ("Denver", 39.7392, -104.9903),
    ("Kansas-City", 39.0997, -94.5786),
    ("Houston", 29.7604, -95.3698),
    ("Atlanta", 33.7490, -84.3880),
    ("Indianapolis", 39.7684, -86.1581),
];

/// The delay light in fibre (2/3 c) takes between two Abilene routers, in seconds.
fn expected_delay(a: &str, b: &str) -> f64 {
    let site = |n: &str| {
        let s = ABILENE
            .iter()
            .find(|s| s.0 == n)
            .unwrap_or_else(|| panic!("{n} is not an Abilene site"));
        (s.1, s.2)
    };
    distance_km(site(a), site(b)) / (299_792.458 * 2.0 / 3.0)
}

fn within_one_percent(got: f64, want: f64) -> bool {
    (got - want).abs() <= want * 0.01
}

#[test]
fn graphml_converts_with_great_circle_delays_and_rates() {
    let imported = import_file("topologies/abilene.graphml", true);
    let t = round_trip("topologies/abilene.graphml", &imported, true, &[]);
    assert_eq!(t.name, "Abilene");
    let routers: Vec<&str> = t
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Router)
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(routers, ABILENE.iter().map(|s| s.0).collect::<Vec<_>>());
    assert_eq!(t.nodes.len(), 22, "a host per router");
    let backbone: Vec<_> = t
        .links
        .iter()
        .filter(|l| !l.a.node.ends_with("-h") && !l.b.node.ends_with("-h"))
        .collect();
    assert_eq!(backbone.len(), 14);
    for l in backbone {
        let e = &l.emulation.both;
        assert_eq!(e.rate, Some(10_000_000_000), "OC-192 is 10 Gbit/s");
        let got = e.delay.unwrap().as_secs_f64();
        let want = expected_delay(&l.a.node, &l.b.node);
        assert!(
            within_one_percent(got, want),
            "{}–{}: {got} s, great circle says {want} s",
            l.a.node,
            l.b.node
        );
    }
    // The GÉANT-like sample: both speed spellings, accented labels folded.
    let imported = import_file("topologies/geant-core.graphml", false);
    let t = round_trip("topologies/geant-core.graphml", &imported, false, &[]);
    assert!(t.node("Zurich").is_some() && t.node("Geneve").is_some());
    let rate = |a: &str, b: &str| {
        t.links
            .iter()
            .find(|l| l.a.node == a && l.b.node == b)
            .and_then(|l| l.emulation.both.rate)
    };
    assert_eq!(rate("Amsterdam", "London"), Some(100_000_000_000));
    assert_eq!(rate("Wien", "Milano"), Some(2_500_000_000));
}

fn topolab(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_topolab"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn cli_refuses_an_unsupported_containerlab_kind_with_file_line_and_column() {
    let out = topolab(&["import", "tests/bad_import/unsupported_kind.clab.yml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout when it fails");
    assert!(
        stderr.contains("containerlab kind `nokia_srlinux` is not supported"),
        "{stderr}"
    );
    assert!(
        stderr.contains("tests/bad_import/unsupported_kind.clab.yml:7:13"),
        "{stderr}"
    );
    // `up`, `validate` and `plan` of the file say the same.
    for cmd in ["validate", "plan"] {
        let out = topolab(&[cmd, "tests/bad_import/unsupported_kind.clab.yml"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {stderr}");
        assert!(
            stderr.contains("unsupported_kind.clab.yml:7:13"),
            "{cmd}: {stderr}"
        );
    }
}

#[test]
fn cli_import_prints_yaml_that_loads_and_foreign_files_validate_and_plan() {
    let out = topolab(&["import", "torus,3,3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    let t = Topology::from_str(&yaml, "stdout").unwrap_or_else(|e| panic!("{}", e.one_line()));
    assert_eq!(t.nodes.len(), 18);
    let out = topolab(&["import", "--hosts", "topologies/abilene.graphml"]);
    assert!(out.status.success());
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        yaml,
        import_file("topologies/abilene.graphml", true).yaml,
        "the CLI prints the library's conversion"
    );
    for (cmd, file, says) in [
        (
            "validate",
            "topologies/pair.clab.yml",
            "ok — 6 nodes, 5 links",
        ),
        (
            "validate",
            "topologies/abilene.graphml",
            "lab name `Abilene`",
        ),
        (
            "plan",
            "topologies/geant-core.graphml",
            "topolab plan for lab GEANT-core",
        ),
    ] {
        let out = topolab(&[cmd, file]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{cmd} {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(says), "{cmd} {file}: {stdout}");
    }
    let out = topolab(&["import", "no-such-format.txt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format"));
}

/// The delays (seconds) that `tc qdisc show` lists in namespace `ns`.
fn kernel_delays(ns: &str) -> Vec<f64> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "tc", "qdisc", "show"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0] == "delay")
        .filter_map(|w| {
            let v = w[1];
            let (num, scale) = if let Some(n) = v.strip_suffix("us") {
                (n, 1e-6)
            } else if let Some(n) = v.strip_suffix("ms") {
                (n, 1e-3)
            } else {
                (v.strip_suffix('s')?, 1.0)
            };
            num.parse::<f64>().ok().map(|x| x * scale)
        })
        .collect()
}

/// A GraphML backbone of eleven routers (a host each) comes up as a real lab, every host
/// reaches every other, and every backbone link carries the great-circle delay — in the
/// compiled plan, in the running lab (the kernel's qdiscs, or the userspace relay's
/// settings as `inspect` shows them), and as a floor under the measured round trips.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphml_backbone_comes_up_passes_pingall_with_great_circle_delays() {
    need_root!();
    use topolab::compile::EngineChoice;
    use topolab::lab::{Lab, LabOptions};
    use topolab::scenario::{Family, pingall_pairs};

    let path = repo("topologies/abilene.graphml");
    let t = import::load(
        &path,
        import::Format::Graphml,
        import::Options { hosts: true },
        Limits::default(),
    )
    .unwrap_or_else(|e| panic!("{}", e.one_line()));
    let routers = t
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Router)
        .count();
    assert!(routers >= 10, "{routers} routers");
    let name = common::lab_name("zoo");
    let lab = Lab::up_with(
        &t,
        LabOptions {
            name: Some(name.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:?}"));
    let plan = lab.plan().clone();
    let node = |i: usize| plan.nodes[i].name.clone();
    let is_router = |n: &str| ABILENE.iter().any(|s| s.0 == n);

    // Every backbone link, as compiled.
    let mut backbone = Vec::new();
    for l in &plan.links {
        let (a, b) = (node(l.a.node), node(l.b.node));
        if !(is_router(&a) && is_router(&b)) {
            continue;
        }
        let want = expected_delay(&a, &b);
        for (dir, imp) in [("a→b", &l.a_to_b), ("b→a", &l.b_to_a)] {
            let got = imp.delay.expect("a delayed link").as_secs_f64();
            assert!(
                within_one_percent(got, want),
                "plan {a}–{b} {dir}: {got} s, great circle {want} s"
            );
        }
        backbone.push((a, b, want, l.engine, l.link));
    }
    assert_eq!(backbone.len(), 14);

    // The running lab: what the engine of each link applies.
    let live = lab.links();
    for (a, b, want, engine, link) in &backbone {
        match engine {
            EngineChoice::Kernel => {
                for n in [a, b] {
                    let ns = format!("{name}-{n}");
                    assert!(
                        kernel_delays(&ns)
                            .iter()
                            .any(|d| within_one_percent(*d, *want)),
                        "{a}–{b}: no qdisc in {ns} delays by {want} s: {:?}",
                        kernel_delays(&ns)
                    );
                }
            }
            EngineChoice::Userspace => {
                let s = live.iter().find(|s| s.link == *link).expect("link status");
                for imp in [&s.a_to_b, &s.b_to_a] {
                    let got = imp.delay.expect("delay").as_secs_f64();
                    assert!(
                        within_one_percent(got, *want),
                        "live {a}–{b}: {got} s, great circle {want} s"
                    );
                }
            }
            other => panic!("{a}–{b}: a delayed link on the {other:?} engine"),
        }
    }

    // pingall: every host reaches every other.
    let p = plan.clone();
    let report = tokio::task::spawn_blocking(move || pingall_pairs(&p, Family::Ipv4, false))
        .await
        .unwrap()
        .unwrap();
    let silent: Vec<String> = report
        .pairs
        .iter()
        .filter(|r| !r.2)
        .map(|r| format!("{} → {}", r.0, r.1))
        .collect();
    assert_eq!(
        report.pairs.len(),
        11 * 10,
        "every ordered pair of the eleven hosts"
    );
    assert!(
        silent.is_empty(),
        "unreachable: {silent:?} ({:?})",
        report.hint
    );
    // Hosts of neighbouring routers talk over their one-hop link: the round trip crosses
    // it twice, so it can never be shorter than twice the great-circle delay.
    for (a, b, want, _, _) in &backbone {
        let rtt = report
            .pairs
            .iter()
            .find(|r| r.0 == format!("{a}-h") && r.1 == format!("{b}-h"))
            .and_then(|r| r.3)
            .expect("a measured round trip");
        assert!(
            rtt / 1e3 >= 2.0 * want * 0.99,
            "{a}-h → {b}-h: round trip {rtt} ms, under twice the {want} s delay"
        );
    }
    lab.down().await.unwrap();
    assert!(
        common::namespaces_of(&name).is_empty(),
        "{name} left namespaces"
    );
}

/// The containerlab sample comes up as it is: `exec` has run (and `up` waited for it),
/// the bound file is in the router's private dir, every host reaches every other; and a
/// Mininet string's lab passes pingall too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containerlab_file_and_mininet_string_come_up_and_pass_pingall() {
    need_root!();
    use topolab::lab::{Lab, LabOptions};
    use topolab::scenario::{Family, pingall_pairs};

    let clab = Topology::load(repo("topologies/pair.clab.yml"))
        .unwrap_or_else(|e| panic!("{}", e.one_line()));
    let mininet = {
        let source = Source {
            name: "`torus,3,3`".into(),
            text: "torus,3,3".into(),
        };
        let limits = Limits::default();
        import::import(
            &source,
            import::Format::Mininet,
            import::Options::default(),
            None,
            limits,
        )
        .and_then(|i| i.topology(None, limits))
        .unwrap_or_else(|e| panic!("{}", e.one_line()))
    };
    for (tag, t) in [("clab", clab), ("mn", mininet)] {
        let name = common::lab_name(tag);
        let lab = Lab::up_with(
            &t,
            LabOptions {
                name: Some(name.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{tag}: {e:?}"));
        if tag == "clab" {
            let mtu = lab
                .node("client1")
                .exec(["cat", "/sys/class/net/eth1/mtu"])
                .await
                .unwrap();
            assert_eq!(mtu.stdout_str().trim(), "1400", "the exec command ran");
            let motd = lab
                .node("r1")
                .exec(["cat", "/etc/topolab-demo/motd"])
                .await
                .unwrap();
            assert!(motd.success(), "{}", motd.stderr_str());
            assert_eq!(
                motd.stdout_str(),
                std::fs::read_to_string(repo("topologies/import/motd.txt")).unwrap()
            );
            let exec = lab
                .services()
                .into_iter()
                .find(|s| s.node == "client1" && s.name == import::EXEC_SERVICE)
                .expect("the exec service");
            assert_eq!(exec.state.label(), "ready", "{exec:?}");
        }
        let plan = lab.plan().clone();
        let report = tokio::task::spawn_blocking(move || pingall_pairs(&plan, Family::Ipv4, false))
            .await
            .unwrap()
            .unwrap();
        let silent: Vec<_> = report.pairs.iter().filter(|r| !r.2).collect();
        assert!(!report.pairs.is_empty(), "{tag}: no pairs");
        assert!(silent.is_empty(), "{tag}: unreachable {silent:?}");
        lab.down().await.unwrap();
        assert!(
            common::namespaces_of(&name).is_empty(),
            "{name} left namespaces"
        );
    }
}

/// A backbone larger than the default loopback pool (a Topology Zoo graph of hundreds of
/// sites) still converts and compiles: the import widens the pool and says so.
#[test]
fn a_graph_of_three_hundred_routers_gets_a_larger_loopback_pool() {
    let n = 300;
    let mut xml = String::from(
        "<graphml><key attr.name=\"Latitude\" for=\"node\" id=\"a\"/>\
         <key attr.name=\"Longitude\" for=\"node\" id=\"o\"/><graph>\n",
    );
    for i in 0..n {
        let (lat, lon) = (-60.0 + i as f64 * 0.4, -170.0 + i as f64 * 1.1);
        xml.push_str(&format!(
            "<node id=\"{i}\"><data key=\"a\">{lat}</data><data key=\"o\">{lon}</data></node>\n"
        ));
    }
    for i in 1..n {
        xml.push_str(&format!("<edge source=\"{}\" target=\"{i}\"/>\n", i / 2));
    }
    xml.push_str("</graph></graphml>\n");
    let source = Source {
        name: "big.graphml".into(),
        text: xml.as_str().into(),
    };
    let limits = Limits::default();
    let imported = import::import(
        &source,
        import::Format::Graphml,
        import::Options::default(),
        None,
        limits,
    )
    .unwrap_or_else(|e| panic!("{}", e.one_line()));
    assert!(
        imported.yaml.contains(import::LOOPBACK4_LARGE),
        "{}",
        &imported.yaml[..400]
    );
    let t = imported
        .topology(None, limits)
        .unwrap_or_else(|e| panic!("{}", e.one_line()));
    assert_eq!(t.nodes.len(), n);
    assert_eq!(t.name, "big");
    topolab::compile::compile(&t, "big")
        .unwrap_or_else(|e| panic!("{}", imported.remap(e).one_line()));
}

/// `topolab up --topo STRING` brings a Mininet topology string up as `mn --topo` does (here
/// detached); a bad string is refused at its column, before anything is made.
#[test]
fn up_takes_a_mininet_topology_string() {
    let bad = topolab(&["up", "--topo", "linear,x", "--no-console"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("linear,x"), "{err}");
    need_root!();
    let name = common::lab_name("topo");
    let _down = common::DownOnDrop(name.clone());
    let up = topolab(&[
        "up",
        "--topo",
        "linear,3",
        "--name",
        &name,
        "-d",
        "--no-console",
    ]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let inspect = topolab(&["inspect", &name, "--json"]);
    assert!(inspect.status.success());
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let text = json.to_string();
    for node in ["s1", "s2", "s3", "h1", "h2", "h3"] {
        assert!(text.contains(&format!("\"{node}\"")), "{node} in {text}");
    }
    let down = topolab(&["down", &name]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(common::namespaces_of(&name).is_empty());
}
