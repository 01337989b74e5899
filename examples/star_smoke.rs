//! Temporary: hand-built star of N hosts to time apply before the compiler lands.
use topolab::compile::*;
use topolab::lab::{Lab, LabOptions};
use topolab::topology::NodeKind;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .unwrap_or("100".into())
        .parse()
        .unwrap();
    let workers: usize = std::env::args()
        .nth(2)
        .unwrap_or("2".into())
        .parse()
        .unwrap();
    let lab = format!("st{}", std::process::id());
    let mut nodes = vec![];
    let mut veths = vec![];
    let mut sw_ifaces = vec![];
    for i in 0..n {
        let a4: ipnet::IpNet = format!("10.0.{}.{}/16", (i + 1) / 256, (i + 1) % 256)
            .parse()
            .unwrap();
        nodes.push(NodePlan {
            name: format!("h{}", i + 1),
            kind: NodeKind::Host,
            netns: format!("{lab}-h{}", i + 1),
            sysctls: vec![],
            loopback: vec![],
            bridge: None,
            ifaces: vec![IfacePlan {
                name: "eth0".into(),
                ifindex: 101,
                mac: Mac([2, 0, 0, 0, (i >> 8) as u8, i as u8]),
                mtu: 1500,
                addrs: vec![a4],
                port: None,
                peer: IfaceRef { node: n, iface: i },
                link: i,
            }],
            routes: vec![],
            run: vec![],
        });
        sw_ifaces.push(IfacePlan {
            name: format!("eth{}", i + 1),
            ifindex: 101 + i as u32,
            mac: Mac([2, 1, 0, 0, (i >> 8) as u8, i as u8]),
            mtu: 1500,
            addrs: vec![],
            port: Some(PortRole::Forwarding),
            peer: IfaceRef { node: i, iface: 0 },
            link: i,
        });
        veths.push(VethPlan {
            a: IfaceRef { node: n, iface: i },
            b: IfaceRef { node: i, iface: 0 },
            link: i,
        });
    }
    nodes.push(NodePlan {
        name: "s1".into(),
        kind: NodeKind::Switch,
        netns: format!("{lab}-s1"),
        sysctls: vec![],
        loopback: vec![],
        bridge: Some(BridgePlan {
            name: "br0".into(),
            ifindex: 100,
            mac: Mac([2, 2, 0, 0, 0, 0]),
            stp: false,
        }),
        ifaces: sw_ifaces,
        routes: vec![],
        run: vec![],
    });
    let plan = Plan { lab, nodes, veths };
    let t = std::time::Instant::now();
    let l = Lab::up_plan(
        plan,
        "star",
        &LabOptions {
            workers,
            ..Default::default()
        },
    )
    .unwrap();
    println!("up {:.3}s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    l.down_blocking().unwrap();
    println!("down {:.3}s", t.elapsed().as_secs_f64());
}
