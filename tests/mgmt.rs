//! The management network with `host: true`: the root namespace reaches every node's
//! `mgmt0` and no data-plane address; the root-namespace veth goes with `down`, and with
//! `clean` after the supervisor was SIGKILLed.

mod common;

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use topolab::lab::{Lab, LabOptions};
use topolab::topology::Topology;

/// A small routed lab with a management network whose pools are unique to this process
/// (labs of other tests may have their own host veths at the same time).
fn topo_text() -> String {
    let k = std::process::id() % 250;
    format!(
        "name: mgmt\n\
         mgmt: {{host: true, ipv4: 192.168.{k}.0/24, ipv6: 'fd00:0:e1:{k:x}::/64'}}\n\
         nodes:\n  h1:\n  h2:\n  r1: {{kind: router}}\n  s1: {{kind: switch}}\n\
         links:\n  - [h1, s1]\n  - [s1, r1]\n  - [r1, h2]\n"
    )
}

/// Whether `addr` answers an ICMP echo from the root namespace (the system's `ping`), sent
/// only through `dev` (SO_BINDTODEVICE): a probe of an address that is not in the
/// management network can never leave through the machine's uplink.
fn answers(addr: IpAddr, dev: &str) -> bool {
    std::process::Command::new("ping")
        .args([
            "-n",
            "-q",
            "-c",
            "1",
            "-W",
            "2",
            "-I",
            dev,
            &addr.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Whether a TCP connection from the root namespace to `addr` gets an answer: a refused
/// connection (RST) means the packet arrived and the answer came back.
fn tcp_answers(addr: IpAddr) -> bool {
    match TcpStream::connect_timeout(&SocketAddr::new(addr, 9), Duration::from_secs(2)) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}

/// The device the root namespace would send to `addr` through (`ip route get`).
fn route_dev(addr: IpAddr) -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "route", "get", &addr.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "dev" {
            return words.next().map(String::from);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_reaches_every_mgmt0_and_no_data_plane_address() {
    need_root!();
    let name = common::lab_name("mg");
    let topo = Topology::from_str(&topo_text(), "<mgmt test>").unwrap();
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(name.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let plan = lab.plan().clone();
    let m = plan.mgmt.as_ref().expect("mgmt plan");
    let host = m.host.as_ref().expect("host link");
    assert!(
        common::root_links().contains(&host.ifname),
        "{} is missing from the root namespace",
        host.ifname
    );
    assert!(common::namespaces_of(&name).contains(&m.netns));

    // Every node's mgmt0 address answers from the root namespace, through the host veth.
    assert_eq!(m.nodes.len(), 3, "h1, h2 and r1 join; s1 does not");
    for i in &m.nodes {
        let node = &plan.nodes[i.node].name;
        let out = lab
            .node(node)
            .exec(["ip", "-o", "addr", "show", "mgmt0"])
            .await
            .unwrap();
        for a in &i.addrs {
            assert!(
                out.stdout_str().contains(&a.to_string()),
                "{node}: {}",
                out.stdout_str()
            );
            if a.addr().is_ipv4() {
                assert_eq!(route_dev(a.addr()).as_deref(), Some(host.ifname.as_str()));
                assert!(
                    answers(a.addr(), &host.ifname),
                    "{node}'s mgmt0 {a} does not answer ICMP"
                );
                assert!(
                    tcp_answers(a.addr()),
                    "{node}'s mgmt0 {a} does not answer TCP"
                );
            }
        }
    }

    // No data-plane address is reachable: none is routed towards the lab, and none answers
    // even when sent into the management network on purpose. (Never probed along the
    // root namespace's own routes: those lead to the machine's uplink, not to a lab.)
    for node in &plan.nodes {
        for iface in &node.ifaces {
            for a in iface.addrs.iter().filter(|a| a.addr().is_ipv4()) {
                let dev = route_dev(a.addr());
                assert_ne!(
                    dev.as_deref(),
                    Some(host.ifname.as_str()),
                    "{}:{} {a} is routed into the lab",
                    node.name,
                    iface.name
                );
                assert!(
                    !answers(a.addr(), &host.ifname),
                    "{}:{} {a} answers",
                    node.name,
                    iface.name
                );
            }
        }
    }
    // Nor from the management side: nodes do not forward from mgmt0 to the data plane,
    // since the root namespace has no route there, and the mgmt namespace forwards nothing.
    let fwd = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &m.netns,
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&fwd.stdout).trim(), "0");

    let ifname = host.ifname.clone();
    lab.down().await.unwrap();
    assert!(
        !common::root_links().contains(&ifname),
        "{ifname} survived down"
    );
    assert!(common::namespaces_of(&name).is_empty());
}

#[test]
fn sigkill_supervisor_then_clean_removes_the_host_link() {
    need_root!();
    let name = common::lab_name("mk");
    let dir = std::env::temp_dir().join(format!("tl-mgmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mgmt.yaml");
    std::fs::write(&file, topo_text()).unwrap();
    let _guard = common::DownOnDrop(name.clone());
    let ifname = topolab::compile::mgmt::host_ifname(&name);

    let up = common::topolab()
        .args(["up", "-d", "--name", &name])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(common::root_links().contains(&ifname));
    common::sigkill_supervisor(&name);
    // The supervisor is gone, its host veth is not (its mgmt namespace is still named).
    assert!(common::root_links().contains(&ifname));
    let clean = common::topolab().arg("clean").output().unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(
        !common::root_links().contains(&ifname),
        "{ifname} survived clean"
    );
    assert!(common::namespaces_of(&name).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
