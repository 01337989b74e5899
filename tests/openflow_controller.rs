//! The controller daemon in a lab: `topolab openflow LAB CONTROLLER switches` asks it on its
//! control socket (JSON and text), and a node without an OpenFlow daemon is an error.

mod common;

use topolab::lab::{Lab, LabOptions};
use topolab::topology::Topology;

const TOPO: &str = "
name: ofc
nodes:
  c0: {kind: controller, app: shortest-path}
  s1: {kind: ofswitch, controller: c0}
  h1: {}
links:
  - [h1, s1]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switches_view_answers_from_the_controller() {
    need_root!();
    let name = common::lab_name("ofc");
    let topo = Topology::from_str(TOPO, "<openflow controller test>").unwrap();
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(name.clone()),
            exe: Some(env!("CARGO_BIN_EXE_topolab").into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let _down = common::DownOnDrop(name.clone());

    let out = common::topolab()
        .args(["openflow", &name, "c0", "switches", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.is_array(), "{v}");

    let out = common::topolab()
        .args(["openflow", &name, "c0", "switches"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A switch view asked of the controller, and a host, are errors.
    let out = common::topolab()
        .args(["openflow", &name, "c0", "flows"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no OpenFlow view"));
    let out = common::topolab()
        .args(["openflow", &name, "h1", "switches"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("runs no OpenFlow"));

    lab.down().await.unwrap();
    assert!(common::namespaces_of(&name).is_empty());
}

/// The control channel is a real TCP connection over the management network: a capture of
/// the switch's `mgmt0` holds OpenFlow 1.3 messages (version byte 4) to or from port 6653,
/// PACKET_INs among them once a host pings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_of_mgmt0_holds_the_openflow_control_channel() {
    need_root!();
    let name = common::lab_name("ofcap");
    let topo = Topology::from_str(
        "name: ofcap\nnodes:\n  c0: {kind: controller, app: learning}\n  \
         s1: {kind: ofswitch, controller: c0}\n  h1: {}\n  h2: {}\n\
         links:\n  - [h1, s1]\n  - [h2, s1]\n",
        "<openflow capture test>",
    )
    .unwrap();
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(name.clone()),
            exe: Some(env!("CARGO_BIN_EXE_topolab").into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let _down = common::DownOnDrop(name.clone());
    let ns = lab.plan().node("s1").unwrap().netns.clone();
    let path = std::env::temp_dir().join(format!("{name}.pcap"));
    let cap = topolab::tools::capture::Capture::start(&ns, "mgmt0", &path).unwrap();
    // Pings until one answers: the learning controller sees their PACKET_INs.
    let mut answered = false;
    for _ in 0..20 {
        let out = lab
            .node("h1")
            .exec(["ping", "-c", "1", "-W", "1", "10.0.0.2"])
            .await
            .unwrap();
        if out.success() {
            answered = true;
            break;
        }
    }
    assert!(
        answered,
        "h1 never reached h2 under the learning controller"
    );
    let (path, _) = cap.stop().unwrap();
    let pcap = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    // Walk the pcap records: Ethernet / IPv4 or IPv6 / TCP with port 6653, payload v1.3.
    let (mut of_segments, mut packet_ins) = (0, 0);
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let frame = &pcap[at + 16..(at + 16 + caplen).min(pcap.len())];
        at += 16 + caplen;
        if frame.len() < 14 {
            continue;
        }
        let (l4, proto) = match u16::from_be_bytes([frame[12], frame[13]]) {
            0x0800 if frame.len() >= 34 => (14 + usize::from(frame[14] & 0x0f) * 4, frame[23]),
            0x86dd if frame.len() >= 54 => (54, frame[20]),
            _ => continue,
        };
        if proto != 6 || frame.len() < l4 + 20 {
            continue;
        }
        let sport = u16::from_be_bytes([frame[l4], frame[l4 + 1]]);
        let dport = u16::from_be_bytes([frame[l4 + 2], frame[l4 + 3]]);
        let payload = &frame[l4 + usize::from(frame[l4 + 12] >> 4) * 4..];
        if (sport == 6653 || dport == 6653) && payload.len() >= 8 && payload[0] == 4 {
            of_segments += 1;
            // OFPT_PACKET_IN is type 10 (the first message of the segment).
            if payload[1] == 10 {
                packet_ins += 1;
            }
        }
    }
    assert!(of_segments > 0, "no OpenFlow 1.3 segment on s1's mgmt0");
    assert!(
        packet_ins > 0,
        "no PACKET_IN among {of_segments} OpenFlow segments"
    );
    lab.down().await.unwrap();
}
