//! All-pairs reachability, IPv4 and IPv6, on every topology in `topologies/`, with real
//! ICMP traffic between real namespaces.

mod common;

use topolab::lab::{Lab, LabOptions};
use topolab::topology::{NodeKind, Topology};

/// Pings every other host's every address from each host; returns the failures.
async fn unreachable_pairs(lab: &Lab) -> Vec<String> {
    let plan = lab.plan();
    let hosts: Vec<_> = plan
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Host)
        .collect();
    let mut failures = Vec::new();
    for src in &hosts {
        let targets: Vec<String> = hosts
            .iter()
            .filter(|d| d.name != src.name)
            .flat_map(|d| d.ifaces.iter().flat_map(|i| i.addrs.iter()))
            .map(|a| a.addr().to_string())
            .collect();
        if targets.is_empty() {
            continue;
        }
        // One exec per source: a loop over targets, printing only failures.
        let script = format!(
            "for ip in {}; do ping -n -c 1 -W 2 -q $ip >/dev/null 2>&1 || \
             ping -n -c 1 -W 3 -q $ip >/dev/null 2>&1 || echo $ip; done",
            targets.join(" ")
        );
        let out = lab
            .node(&src.name)
            .exec(["sh", "-c", &script])
            .await
            .unwrap();
        assert!(out.success(), "{}: {}", src.name, out.stderr_str());
        for ip in out.stdout_str().lines() {
            failures.push(format!("{} -> {ip}", src.name));
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_topology_reaches_all_pairs() {
    need_root!();
    let mut files: Vec<_> = std::fs::read_dir(common::repo_path("topologies"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "expected example topologies, found {files:?}"
    );
    let mut report = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let topo = Topology::load(f).unwrap();
        let name = common::lab_name(&format!("r{i}"));
        // A node with `routes: connected` leaves its routing to a daemon it runs (FRR, BIRD,
        // our BGP): without one, pairs across it are unreachable by design. Such examples
        // prove reachability in their own scenarios.
        let plan = topolab::compile::compile(&topo, &name).unwrap();
        if plan
            .nodes
            .iter()
            .any(|n| n.routes_mode == topolab::compile::RoutesMode::Connected)
        {
            report.push(format!("{}: skipped (routes: connected)", f.display()));
            continue;
        }
        // OpenFlow switches forward what their controller tells them: the OpenFlow examples
        // prove all-pairs reachability in their scenarios (pingall under each app), where
        // the wait for switches to connect is part of the test.
        if plan.nodes.iter().any(|n| n.kind == NodeKind::OfSwitch) {
            report.push(format!("{}: skipped (OpenFlow)", f.display()));
            continue;
        }
        // Likewise BGP: routes exist once the sessions are up and the speakers converged;
        // the BGP examples' scenarios wait for that, then run pingall over IPv4 and IPv6.
        if plan.nodes.iter().any(|n| n.bgp.is_some()) {
            report.push(format!("{}: skipped (BGP)", f.display()));
            continue;
        }
        let lab = Lab::up_with(
            &topo,
            LabOptions {
                name: Some(name.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{}: {e:?}", f.display()));
        let hosts = lab
            .plan()
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Host)
            .count();
        let v4 = lab
            .plan()
            .nodes
            .iter()
            .flat_map(|n| n.ifaces.iter())
            .flat_map(|i| &i.addrs)
            .any(|a| a.addr().is_ipv4());
        let v6 = lab
            .plan()
            .nodes
            .iter()
            .flat_map(|n| n.ifaces.iter())
            .flat_map(|i| &i.addrs)
            .any(|a| a.addr().is_ipv6());
        assert!(v4 && v6, "{}: expected dual-stack addressing", f.display());
        let failures = unreachable_pairs(&lab).await;
        lab.down().await.unwrap();
        assert!(
            common::namespaces_of(&name).is_empty(),
            "{name} left namespaces"
        );
        report.push(format!(
            "{}: {hosts} hosts, {} failures",
            f.display(),
            failures.len()
        ));
        assert!(
            failures.is_empty(),
            "{}: unreachable pairs: {failures:?}",
            f.display()
        );
    }
    eprintln!("{}", report.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_is_reachable_and_two_labs_coexist() {
    need_root!();
    let topo = Topology::quickstart();
    let a = common::lab_name("qa");
    let b = common::lab_name("qb");
    let opts = |n: &str| LabOptions {
        name: Some(n.to_string()),
        ..Default::default()
    };
    let lab_a = Lab::up_with(&topo, opts(&a)).await.unwrap();
    let lab_b = Lab::up_with(&topo, opts(&b)).await.unwrap();
    assert!(!common::namespaces_of(&a).is_empty());
    assert!(!common::namespaces_of(&b).is_empty());
    // Same addresses in both labs: each is a closed world.
    assert!(unreachable_pairs(&lab_a).await.is_empty());
    assert!(unreachable_pairs(&lab_b).await.is_empty());
    lab_a.down().await.unwrap();
    // Lab b is untouched by a's teardown.
    assert!(unreachable_pairs(&lab_b).await.is_empty());
    lab_b.down().await.unwrap();
    assert!(common::namespaces_of(&a).is_empty());
    assert!(common::namespaces_of(&b).is_empty());
}
