//! `tools::udp::one_way` and `rtt` end their receiver (and echo responder) threads on every
//! path, also when sending fails. Its own test binary: it counts this process's threads.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use topolab::lab::{Lab, LabOptions};
use topolab::tools::udp;
use topolab::topology::Topology;

/// Threads of this process, the runtime's own pool left out (it grows and shrinks alone).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            !comm.starts_with("tokio")
        })
        .count()
}

#[tokio::test]
async fn udp_probes_end_their_threads_when_sending_fails() {
    need_root!();
    let topo = Topology::from_str(
        "name: ut\naddressing: {ipv6: false}\nnodes: {h1: {}, h2: {}}\nlinks: [[h1, h2]]\n",
        "udp-threads-test.yaml",
    )
    .unwrap();
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(common::lab_name("udpthr")),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (h1, h2) = (
        lab.plan().node("h1").unwrap(),
        lab.plan().node("h2").unwrap(),
    );
    let dst = SocketAddr::new(h2.ifaces[0].addrs[0].addr(), 0);
    // A datagram larger than UDP allows: the first send fails (EMSGSIZE).
    let cfg = udp::ProbeConfig {
        count: 3,
        interval: Duration::from_millis(1),
        size: 70_000,
        linger: Duration::from_millis(10),
    };
    let before = threads();
    assert!(udp::one_way(&h1.netns, &h2.netns, dst, cfg).is_err());
    assert_eq!(
        threads(),
        before,
        "one_way left its receiver thread running"
    );
    assert!(udp::rtt(&h1.netns, &h2.netns, dst, cfg).is_err());
    assert_eq!(
        threads(),
        before,
        "rtt left its receiver or responder running"
    );
    lab.down().await.unwrap();
}
