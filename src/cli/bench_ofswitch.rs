//! `topolab bench openflow` parts (b) and (c): a switch's forwarding and flow set-up, for
//! topolab's built-in `ofswitch`, a Linux bridge and Open vSwitch's userspace datapath
//! (`datapath_type=netdev`, which runs without the kernel module) in the same run.
//!
//! Lab: `h1 ── s1 ── h2`. For the OpenFlow switches the bench itself is the controller: it
//! connects to the switch's passive port (127.0.0.1:6654 inside s1; Open vSwitch is told to
//! listen there too) and installs, with one BARRIER at the end, `--flows` exact-match flows
//! (`ip,in_port,eth_src,eth_dst,ipv4_src,ipv4_dst`): two carry h1↔h2, the rest match
//! addresses no packet has, plus ARP. The time from the first FLOW_MOD to the BARRIER reply
//! is the flow set-up rate (c). Then (b):
//! - packets/s at 64-byte frames: h1 sends UDP datagrams of 18 bytes (14 + 20 + 8 + 18 = 60
//!   bytes + FCS) to h2 as fast as one sending thread can for `--seconds`; h2 counts what
//!   arrives;
//! - one TCP stream h1 → h2 (the built-in probe, cubic) for `--seconds`.
//!
//! Open vSwitch's netdev datapath reads and writes frames through packet sockets without
//! checksum offload, so TCP through it needs TX checksum offload off on the hosts' veths:
//! its rows (and a second row of ours, for a like-for-like comparison) run with offloads
//! off; the bridge and ours also run with the default (offloads on).

use crate::cli::out::{errln, outln};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use miette::{IntoDiagnostic, miette};
use serde::Serialize;

use topolab::lab::{Lab, LabOptions};
use topolab::openflow::codec::{self, Body, Message, OFP_VERSION};
use topolab::openflow::flowspec::{FlowCommand, parse_flow};
use topolab::tools::{socket_in, tcp};
use topolab::topology::Topology;

/// The Open vSwitch starter shared with the interop tests.
const OVS_SCRIPT: &str = include_str!("../../tests/interop/ovs-netdev.sh");

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Debug, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Datapath {
    LinuxBridge,
    Topolab,
    OvsNetdev,
}

impl Datapath {
    fn label(self) -> &'static str {
        match self {
            Datapath::LinuxBridge => "Linux bridge",
            Datapath::Topolab => "topolab ofswitch",
            Datapath::OvsNetdev => "OVS userspace",
        }
    }
}

#[derive(Serialize, Debug, Clone)]
pub struct SwitchRow {
    pub datapath: Datapath,
    pub offloads: bool,
    /// Exact-match flows installed (0 for the bridge).
    pub flows: usize,
    /// FLOW_MODs per second, first FLOW_MOD to BARRIER reply.
    pub flow_mods_per_s: Option<f64>,
    pub udp64_sent_pps: f64,
    pub udp64_received_pps: f64,
    pub tcp_gbit_s: f64,
    pub tcp_retransmits: u64,
}

pub struct SwitchBenchArgs {
    pub flows: Vec<usize>,
    pub seconds: f64,
    pub datapaths: Vec<Datapath>,
    pub json: bool,
}

fn topology(dp: Datapath) -> miette::Result<Topology> {
    let s1 = match dp {
        Datapath::LinuxBridge => "{kind: switch}",
        Datapath::Topolab | Datapath::OvsNetdev => "{kind: ofswitch, fail_mode: secure}",
    };
    let yaml = format!(
        "name: ofbench\naddressing: {{ipv6: false}}\nnodes:\n  h1: {{}}\n  h2: {{}}\n  s1: {s1}\nlinks:\n  - [h1, s1]\n  - [h2, s1]\n"
    );
    Ok(Topology::from_str(&yaml, "<bench openflow>")?)
}

/// Runs every configuration, one lab at a time.
pub async fn run(a: &SwitchBenchArgs) -> miette::Result<Vec<SwitchRow>> {
    let mut rows = Vec::new();
    for &dp in &a.datapaths {
        let offload_settings: &[bool] = match dp {
            Datapath::LinuxBridge => &[true],
            Datapath::Topolab => &[true, false],
            Datapath::OvsNetdev => &[false],
        };
        let flow_counts: Vec<usize> = match dp {
            Datapath::LinuxBridge => vec![0],
            _ => a.flows.clone(),
        };
        for &offloads in offload_settings {
            for &flows in &flow_counts {
                if !a.json {
                    errln!(
                        "  {} (offloads {}), {} flows …",
                        dp.label(),
                        if offloads { "on" } else { "off" },
                        flows
                    );
                }
                let row = one(dp, offloads, flows, a.seconds).await?;
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

async fn one(
    dp: Datapath,
    offloads: bool,
    flows: usize,
    seconds: f64,
) -> miette::Result<SwitchRow> {
    let topo = topology(dp)?;
    let mut lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(super::bench::lab_name()),
            ..Default::default()
        },
    )
    .await?;
    let result = measure(&mut lab, dp, offloads, flows, seconds).await;
    lab.down().await?;
    result
}

struct Host {
    ns: String,
    mac: [u8; 6],
    ip: Ipv4Addr,
    iface: String,
}

fn host(lab: &Lab, name: &str) -> miette::Result<Host> {
    let n = lab
        .plan()
        .nodes
        .iter()
        .find(|n| n.name == name)
        .ok_or_else(|| miette!("no node {name}"))?;
    let i = n
        .ifaces
        .first()
        .ok_or_else(|| miette!("{name} has no interface"))?;
    let ip = i
        .addrs
        .iter()
        .find_map(|a| match a.addr() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| miette!("{name} has no IPv4 address"))?;
    Ok(Host {
        ns: n.netns.clone(),
        mac: i.mac.0,
        ip,
        iface: i.name.clone(),
    })
}

fn mac_str(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

async fn measure(
    lab: &mut Lab,
    dp: Datapath,
    offloads: bool,
    flows: usize,
    seconds: f64,
) -> miette::Result<SwitchRow> {
    let h1 = host(lab, "h1")?;
    let h2 = host(lab, "h2")?;
    let s1_ns = lab
        .plan()
        .nodes
        .iter()
        .find(|n| n.name == "s1")
        .map(|n| n.netns.clone())
        .ok_or_else(|| miette!("no s1"))?;
    if !offloads {
        for h in [&h1, &h2] {
            let iface = h.iface.clone();
            socket_in(&h.ns, move || {
                let sock = topolab::netns::ethtool::ioctl_socket()?;
                topolab::netns::ethtool::set_tx_offloads(
                    std::os::fd::AsFd::as_fd(&sock),
                    &iface,
                    false,
                )
            })
            .into_diagnostic()?;
        }
    }
    if dp == Datapath::OvsNetdev {
        start_ovs(lab, &s1_ns).await?;
    }
    let flow_mods_per_s = match dp {
        Datapath::LinuxBridge => None,
        _ => Some(install_flows(&s1_ns, &h1, &h2, flows)?),
    };
    let secs = Duration::from_secs_f64(seconds);
    let (sent, received) = {
        let (h1ns, h2ns, dst) = (h1.ns.clone(), h2.ns.clone(), h2.ip);
        tokio::task::spawn_blocking(move || udp_flood(&h1ns, &h2ns, dst, secs))
            .await
            .into_diagnostic()?
            .into_diagnostic()?
    };
    let tcp = {
        let (h1ns, h2ns, dst) = (h1.ns.clone(), h2.ns.clone(), h2.ip);
        tokio::task::spawn_blocking(move || {
            tcp::throughput(
                &h1ns,
                &h2ns,
                IpAddr::V4(dst),
                &tcp::TcpConfig {
                    duration: secs,
                    ..Default::default()
                },
            )
        })
        .await
        .into_diagnostic()?
        .into_diagnostic()?
    };
    Ok(SwitchRow {
        datapath: dp,
        offloads,
        flows,
        flow_mods_per_s,
        udp64_sent_pps: sent as f64 / seconds,
        udp64_received_pps: received as f64 / seconds,
        tcp_gbit_s: tcp.bits_per_s / 1e9,
        tcp_retransmits: tcp.retransmits,
    })
}

/// Stops s1's built-in switch and starts Open vSwitch (netdev) there, listening on
/// 127.0.0.1:6654 like ours.
async fn start_ovs(lab: &mut Lab, s1_ns: &str) -> miette::Result<()> {
    lab.stop_node("s1")?;
    let dir = lab.run_dir().join("ovs-s1");
    std::fs::create_dir_all(&dir).into_diagnostic()?;
    let ports: Vec<String> = lab
        .plan()
        .nodes
        .iter()
        .find(|n| n.name == "s1")
        .map(|n| n.ifaces.iter().map(|i| i.name.clone()).collect())
        .unwrap_or_default();
    let mut argv = vec![
        "sh".to_string(),
        "-c".into(),
        OVS_SCRIPT.into(),
        "ovs-netdev".into(),
        dir.display().to_string(),
        "0000000000000001".into(),
        "ptcp:6654:127.0.0.1".into(),
    ];
    argv.extend(ports);
    let out = lab.node("s1").exec(argv).await?;
    if !out.success() {
        return Err(miette!(
            help = "install Open vSwitch (Debian packages openvswitch-switch, openvswitch-common)",
            "starting Open vSwitch in {s1_ns}: {}",
            out.stderr_str()
        ));
    }
    Ok(())
}

/// A minimal synchronous OpenFlow 1.3 client (the bench is the controller).
pub struct OfClient {
    s: TcpStream,
    buf: Vec<u8>,
    xid: u32,
}

impl OfClient {
    /// Connects to `addr` from inside namespace `ns` (retrying for up to 10 s while the
    /// switch starts) and says HELLO.
    pub fn connect(ns: &str, addr: SocketAddr) -> io::Result<OfClient> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let s = loop {
            match socket_in(ns, move || {
                TcpStream::connect_timeout(&addr, Duration::from_secs(1))
            }) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        };
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut c = OfClient {
            s,
            buf: Vec::new(),
            xid: 1,
        };
        c.send(&Message::new(
            0,
            Body::Hello {
                versions: Some(1 << OFP_VERSION),
            },
        ))?;
        Ok(c)
    }

    pub fn send(&mut self, m: &Message) -> io::Result<()> {
        let mut out = Vec::new();
        codec::emit(m, &mut out);
        self.s.write_all(&out)
    }

    pub fn next_xid(&mut self) -> u32 {
        self.xid = self.xid.wrapping_add(1);
        self.xid
    }

    /// Reads messages until `want` accepts one (answering echo requests on the way).
    pub fn until(&mut self, mut want: impl FnMut(&Message) -> bool) -> io::Result<Message> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            while let Some(len) = codec::frame_len(&self.buf)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))?
            {
                if self.buf.len() < len {
                    break;
                }
                let frame: Vec<u8> = self.buf.drain(..len).collect();
                let m = codec::parse(&frame)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))?;
                if let Body::EchoRequest(d) = &m.body {
                    let reply = Message::new(m.xid, Body::EchoReply(d.clone()));
                    self.send(&reply)?;
                    continue;
                }
                if let Body::Error(e) = &m.body {
                    return Err(io::Error::other(format!("switch answered an ERROR: {e:?}")));
                }
                if want(&m) {
                    return Ok(m);
                }
            }
            let n = self.s.read(&mut chunk)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "switch closed",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a BARRIER and waits for its reply.
    pub fn barrier(&mut self) -> io::Result<()> {
        let xid = self.next_xid();
        self.send(&Message::new(xid, Body::BarrierRequest))?;
        self.until(|m| m.xid == xid && matches!(m.body, Body::BarrierReply))?;
        Ok(())
    }
}

/// Installs `n` exact-match flows (two of them carry h1↔h2) plus ARP, one BARRIER at the
/// end; returns FLOW_MODs per second.
fn install_flows(s1_ns: &str, h1: &Host, h2: &Host, n: usize) -> miette::Result<f64> {
    let addr: SocketAddr = "127.0.0.1:6654".parse().expect("literal");
    let mut c = OfClient::connect(s1_ns, addr).into_diagnostic()?;
    c.until(|m| matches!(m.body, Body::Hello { .. }))
        .into_diagnostic()?;
    let mut lines = vec![
        "priority=10,arp,in_port=1,actions=output:2".to_string(),
        "priority=10,arp,in_port=2,actions=output:1".to_string(),
        format!(
            "priority=100,ip,in_port=1,eth_src={},eth_dst={},nw_src={},nw_dst={},actions=output:2",
            mac_str(&h1.mac),
            mac_str(&h2.mac),
            h1.ip,
            h2.ip
        ),
        format!(
            "priority=100,ip,in_port=2,eth_src={},eth_dst={},nw_src={},nw_dst={},actions=output:1",
            mac_str(&h2.mac),
            mac_str(&h1.mac),
            h2.ip,
            h1.ip
        ),
    ];
    for k in 0..n.saturating_sub(2) {
        let k = k as u32;
        lines.push(format!(
            "priority=100,ip,in_port=1,eth_src={},eth_dst={},nw_src={},nw_dst={},actions=output:2",
            mac_str(&h1.mac),
            mac_str(&h2.mac),
            h1.ip,
            Ipv4Addr::from(0x0a80_0000u32 + k)
        ));
    }
    let mut msgs = Vec::with_capacity(lines.len());
    for l in &lines {
        let fm = parse_flow(l, FlowCommand::Add).map_err(|e| miette!("{l}: {e}"))?;
        msgs.push(fm);
    }
    let started = Instant::now();
    let mut out = Vec::with_capacity(256 * 1024);
    for fm in msgs {
        let xid = c.next_xid();
        codec::emit(&Message::new(xid, Body::FlowMod(fm)), &mut out);
        if out.len() > 128 * 1024 {
            c.s.write_all(&out).into_diagnostic()?;
            out.clear();
        }
    }
    c.s.write_all(&out).into_diagnostic()?;
    c.barrier().into_diagnostic()?;
    let secs = started.elapsed().as_secs_f64();
    Ok(lines.len() as f64 / secs)
}

/// UDP datagrams of 18 bytes (64-byte frames) from `src_ns` to `dst` for `secs`, as fast
/// as one thread sends; returns (sent, received).
fn udp_flood(src_ns: &str, dst_ns: &str, dst: Ipv4Addr, secs: Duration) -> io::Result<(u64, u64)> {
    let rx = socket_in(dst_ns, move || {
        UdpSocket::bind(SocketAddr::new(IpAddr::V4(dst), 0))
    })?;
    let port = rx.local_addr()?.port();
    rx.set_read_timeout(Some(Duration::from_millis(100)))?;
    let tx = socket_in(src_ns, || UdpSocket::bind("0.0.0.0:0"))?;
    tx.connect(SocketAddr::new(IpAddr::V4(dst), port))?;
    let stop = Arc::new(AtomicBool::new(false));
    let got = Arc::new(AtomicU64::new(0));
    let (stop2, got2) = (stop.clone(), got.clone());
    let receiver = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !stop2.load(Ordering::Relaxed) {
            if rx.recv(&mut buf).is_ok() {
                got2.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    // Warm-up: ARP and the switch's first packets.
    let payload = [0u8; 18];
    for _ in 0..100 {
        let _ = tx.send(&payload);
    }
    std::thread::sleep(Duration::from_millis(300));
    let base = got.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < secs {
        for _ in 0..64 {
            if tx.send(&payload).is_ok() {
                sent += 1;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let _ = receiver.join();
    Ok((sent, got.load(Ordering::Relaxed) - base))
}

pub fn print_rows(rows: &[SwitchRow], seconds: f64) {
    outln!(
        "switch forwarding, h1 ── s1 ── h2, {seconds} s per measurement (64-byte frames: UDP with 18-byte payloads from one sending thread):"
    );
    outln!(
        "  {:<18} {:>8} {:>7} {:>14} {:>12} {:>12} {:>10} {:>7}",
        "datapath",
        "offloads",
        "flows",
        "flow_mods/s",
        "sent pps",
        "recv pps",
        "TCP Gbit/s",
        "retx"
    );
    for r in rows {
        outln!(
            "  {:<18} {:>8} {:>7} {:>14} {:>12.0} {:>12.0} {:>10.2} {:>7}",
            r.datapath.label(),
            if r.offloads { "on" } else { "off" },
            r.flows,
            r.flow_mods_per_s
                .map(|x| format!("{x:.0}"))
                .unwrap_or_else(|| "-".into()),
            r.udp64_sent_pps,
            r.udp64_received_pps,
            r.tcp_gbit_s,
            r.tcp_retransmits
        );
    }
}
