//! Every example in topologies/ loads, and the generated ones have the documented size.

use std::path::Path;

use topolab::topology::{NodeKind, Topology};

fn load(name: &str) -> Topology {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("topologies")
        .join(name);
    Topology::load(&path).unwrap_or_else(|e| panic!("{}", e.one_line()))
}

fn count(t: &Topology, kind: NodeKind) -> usize {
    t.nodes.iter().filter(|n| n.kind == kind).count()
}

#[test]
fn every_example_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let t = Topology::load(&path).unwrap_or_else(|e| panic!("{}", e.one_line()));
            assert!(!t.nodes.is_empty(), "{}", path.display());
            loaded += 1;
        }
    }
    assert!(loaded >= 8, "only {loaded} examples found");
}

#[test]
fn example_sizes() {
    let sizes = [
        ("quickstart.yaml", 2, 2, 4, 7),
        ("linear.yaml", 4, 0, 4, 7),
        ("tree.yaml", 3, 0, 4, 6),
        ("ring.yaml", 4, 0, 4, 8),
        ("fattree.yaml", 20, 0, 16, 48),
        ("star.yaml", 1, 0, 8, 8),
        ("routers.yaml", 0, 3, 3, 6),
        ("mixed.yaml", 3, 2, 6, 10),
    ];
    for (file, switches, routers, hosts, links) in sizes {
        let t = load(file);
        let got = (
            count(&t, NodeKind::Switch),
            count(&t, NodeKind::Router),
            count(&t, NodeKind::Host),
            t.links.len(),
        );
        assert_eq!(
            got,
            (switches, routers, hosts, links),
            "{file}: (switches, routers, hosts, links)"
        );
    }
}

#[test]
fn quickstart_is_the_embedded_file() {
    let embedded = Topology::quickstart();
    let file = load("quickstart.yaml");
    assert_eq!(embedded.name, file.name);
    let names = |t: &Topology| t.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&embedded), names(&file));
}

#[test]
fn routers_example_has_explicit_settings() {
    let t = load("routers.yaml");
    let link = &t.links[0];
    assert_eq!(link.mtu, Some(9000));
    assert_eq!(link.a.iface.as_deref(), Some("to-r2"));
    assert_eq!(link.a.addrs.len(), 2);
    assert_eq!(t.node("r1").unwrap().loopback.len(), 1);
}

/// The OpenFlow examples: (ofswitches, controllers, hosts, links); their switches name c0.
#[test]
fn openflow_example_sizes() {
    for (file, ofswitches, hosts, links) in [
        ("openflow.yaml", 2, 4, 5),
        ("openflow-ring.yaml", 4, 4, 8),
        ("openflow-fattree.yaml", 20, 16, 48),
    ] {
        let t = load(file);
        let got = (
            count(&t, NodeKind::OfSwitch),
            count(&t, NodeKind::Controller),
            count(&t, NodeKind::Host),
            count(&t, NodeKind::Switch),
            t.links.len(),
        );
        assert_eq!(got, (ofswitches, 1, hosts, 0, links), "{file}");
        assert!(t.mgmt.is_some(), "{file}: the management network is on");
    }
}

/// The BGP examples compile: every router runs a speaker, and every session between two
/// lab speakers is configured on both ends (the other end's AS, the addresses swapped).
#[test]
fn bgp_examples_compile_with_both_ends_of_every_session() {
    for file in ["bgp.yaml"] {
        let t = load(file);
        let plan =
            topolab::compile::compile(&t, &t.name).unwrap_or_else(|e| panic!("{}", e.one_line()));
        let mut sessions = 0;
        for n in plan.nodes.iter().filter(|n| n.kind == NodeKind::Router) {
            let b = n
                .bgp
                .as_ref()
                .unwrap_or_else(|| panic!("{file}: {} has no speaker", n.name));
            assert_eq!(n.services[0].name, "bgp", "{file}: {}", n.name);
            for s in &b.peers {
                let local = s.local_address.expect("lab sessions have a local address");
                let other = plan
                    .nodes
                    .iter()
                    .find(|o| {
                        o.loopback.iter().any(|l| l.addr() == s.address)
                            || o.ifaces
                                .iter()
                                .any(|i| i.addrs.iter().any(|a| a.addr() == s.address))
                    })
                    .unwrap_or_else(|| panic!("{file}: no node has {}", s.address));
                let ob = other.bgp.as_ref().expect("peers are speakers");
                assert_eq!(s.remote_as, ob.asn);
                assert!(
                    ob.peers
                        .iter()
                        .any(|x| x.address == local && x.remote_as == b.asn),
                    "{file}: {} does not answer {}",
                    other.name,
                    n.name
                );
                sessions += 1;
            }
        }
        assert!(sessions > 0, "{file}");
    }
}
