use topolab::compile::*;
use topolab::lab::{Lab, LabOptions};
use topolab::topology::NodeKind;

fn mac(n: u8) -> Mac {
    Mac([2, 0, 0, 0, 0, n])
}

fn main() {
    let lab = std::env::args().nth(1).unwrap_or("smk".into());
    let iface = |name: &str,
                 idx: u32,
                 m: u8,
                 addrs: Vec<&str>,
                 port: Option<PortRole>,
                 peer: (usize, usize)| IfacePlan {
        name: name.into(),
        ifindex: idx,
        mac: mac(m),
        mtu: 1500,
        addrs: addrs.into_iter().map(|a| a.parse().unwrap()).collect(),
        port,
        peer: IfaceRef {
            node: peer.0,
            iface: peer.1,
        },
        link: 0,
    };
    let host = |n: &str, a4: &str, a6: &str, peer| NodePlan {
        name: n.into(),
        kind: NodeKind::Host,
        netns: format!("{lab}-{n}"),
        sysctls: vec![
            ("net.ipv6.conf.all.accept_dad".into(), "0".into()),
            ("net.ipv6.conf.default.accept_dad".into(), "0".into()),
        ],
        loopback: vec![],
        bridge: None,
        ifaces: vec![iface(
            "eth0",
            101,
            if n == "h1" { 1 } else { 2 },
            vec![a4, a6],
            None,
            peer,
        )],
        routes: vec![],
        run: vec!["sleep 300".into()],
    };
    let plan = Plan {
        lab: lab.clone(),
        nodes: vec![
            host("h1", "10.0.0.1/24", "fd00::1/64", (2, 0)),
            host("h2", "10.0.0.2/24", "fd00::2/64", (2, 1)),
            NodePlan {
                name: "s1".into(),
                kind: NodeKind::Switch,
                netns: format!("{lab}-s1"),
                sysctls: vec![
                    ("net.ipv6.conf.all.disable_ipv6".into(), "1".into()),
                    ("net.ipv6.conf.default.disable_ipv6".into(), "1".into()),
                ],
                loopback: vec![],
                bridge: Some(BridgePlan {
                    name: "br0".into(),
                    ifindex: 100,
                    mac: mac(9),
                    stp: false,
                }),
                ifaces: vec![
                    iface("eth1", 101, 3, vec![], Some(PortRole::Forwarding), (0, 0)),
                    iface("eth2", 102, 4, vec![], Some(PortRole::Forwarding), (1, 0)),
                ],
                routes: vec![],
                run: vec![],
            },
        ],
        veths: vec![
            VethPlan {
                a: IfaceRef { node: 0, iface: 0 },
                b: IfaceRef { node: 2, iface: 0 },
                link: 0,
            },
            VethPlan {
                a: IfaceRef { node: 1, iface: 0 },
                b: IfaceRef { node: 2, iface: 1 },
                link: 1,
            },
        ],
    };
    let t = std::time::Instant::now();
    let l = Lab::up_plan(plan, "smoke", &LabOptions::default()).unwrap();
    println!("up in {:?}", t.elapsed());
    let _ = std::process::Command::new("sh").arg("-c").arg(format!("for n in h1 h2 s1; do ip -n {lab}-$n -br link; ip -n {lab}-$n -br addr; done; ip netns list")).status();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let o = l.node("h1").exec(["python3", "-c", "import socket,sys; s=socket.socket(); s.settimeout(1)\ntry:\n s.connect(('10.0.0.2', 9))\nexcept Exception as e: print('connect:', e)"]).await.unwrap();
        println!("exec status {} out {:?} err {:?}", o.status, o.stdout_str(), o.stderr_str());
        let o = l.node("h1").exec(["cat", "/sys/class/net/eth0/address"]).await.unwrap();
        println!("sysfs {:?}", o.stdout_str());
    });
    let t = std::time::Instant::now();
    l.down_blocking().unwrap();
    println!("down in {:?}", t.elapsed());
    let _ = std::process::Command::new("ip")
        .args(["netns", "list"])
        .status();
}
