//! `topolab bench openflow`: the controller, cbench-style. N emulated switches (in this
//! process, over loopback TCP) say HELLO, answer FEATURES and PORT_DESC, then send
//! PACKET_INs with distinct MACs (each switch cycles through `--macs` addresses, every
//! packet's destination is the next packet's source, so after one cycle every destination
//! is known and each PACKET_IN gets a FLOW_MOD and a PACKET_OUT). A response is a
//! PACKET_OUT (we send NO_BUFFER packets: exactly one each).
//!
//! - throughput mode: each switch keeps up to [`WINDOW`] PACKET_INs outstanding;
//! - latency mode: each switch keeps one outstanding.
//!
//! Controllers: ours (`topolab daemon controller`, app `learning`, its own process) and
//! os-ken (`--osken-python`, a small simple_switch_13 of our own: os-ken ships none), side
//! by side in the same run. The emulated switches run on one thread, so on a 2-core
//! machine the controller under test has the other core.

use crate::cli::out::{errln, outln};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use miette::{IntoDiagnostic, miette};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use topolab::openflow::codec::{
    self, Body, DescStats, Match, Message, MpReply, MpRequest, MultipartReply, NO_BUFFER, OxmField,
    PacketIn, SwitchConfig, SwitchFeatures, msg_type,
};

/// PACKET_INs outstanding per switch in throughput mode.
pub const WINDOW: u64 = 256;

#[derive(Args)]
pub struct OpenflowBench {
    /// Emulated switches.
    #[arg(long, default_value_t = 16)]
    pub switches: usize,
    /// Distinct MAC addresses per switch (after one cycle every destination is known).
    #[arg(long, default_value_t = 100)]
    pub macs: usize,
    /// Seconds measured per mode (after a one-second warm-up).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Modes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "throughput,latency")]
    pub modes: Vec<LoadMode>,
    /// Controllers, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "topolab,os-ken")]
    pub controllers: Vec<Which>,
    /// The Python with os-ken installed.
    #[arg(long, default_value = "/opt/topolab-peers/bin/python")]
    pub osken_python: PathBuf,
    /// What to measure, comma-separated: `controller` (cbench-style PACKET_IN responses),
    /// `switch` (forwarding and flow set-up of a switch in a lab).
    #[arg(long, value_delimiter = ',', default_value = "controller,switch")]
    pub parts: Vec<Part>,
    /// Switch part: exact-match flows installed before measuring, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,100000")]
    pub flows: Vec<usize>,
    /// Switch part: datapaths, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "linux-bridge,topolab,ovs-netdev"
    )]
    pub datapaths: Vec<super::bench_ofswitch::Datapath>,
    /// Switch part: seconds per measurement (packets/s, then TCP).
    #[arg(long, default_value_t = 5.0)]
    pub switch_seconds: f64,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Controller,
    Switch,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Debug)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    Throughput,
    Latency,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Debug)]
#[serde(rename_all = "kebab-case")]
pub enum Which {
    Topolab,
    OsKen,
}

#[derive(Serialize)]
struct Row {
    controller: Which,
    mode: LoadMode,
    switches: usize,
    /// PACKET_INs answered (PACKET_OUTs received) per second.
    responses_per_s: f64,
    flow_mods_per_s: f64,
    /// Latency mode: mean round trip, microseconds.
    mean_rtt_us: Option<f64>,
}

/// A controller process, killed when dropped.
struct Running {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

const OSKEN_LAUNCH: &str = r#"import sys
from os_ken.lib import hub
hub.patch(thread=False)
from os_ken import cfg
from os_ken.base.app_manager import AppManager
import os_ken.controller.controller  # registers the ofp_* options
cfg.CONF(args=sys.argv[2:], project='os_ken')
mgr = AppManager.get_instance()
mgr.load_apps([sys.argv[1]])
hub.joinall(mgr.instantiate_apps(**mgr.create_contexts()))
"#;

/// The behaviour of Ryu's simple_switch_13 (os-ken ships no learning app).
const OSKEN_L2: &str = r#"from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3


class L2(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.macs = {}

    def flow(self, dp, prio, match, actions, buffer_id=None):
        p = dp.ofproto_parser
        inst = [p.OFPInstructionActions(dp.ofproto.OFPIT_APPLY_ACTIONS, actions)]
        kw = {} if buffer_id is None else {'buffer_id': buffer_id}
        dp.send_msg(p.OFPFlowMod(datapath=dp, priority=prio, match=match,
                                 instructions=inst, **kw))

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        p, o = dp.ofproto_parser, dp.ofproto
        self.flow(dp, 0, p.OFPMatch(),
                  [p.OFPActionOutput(o.OFPP_CONTROLLER, o.OFPCML_NO_BUFFER)])

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        p, o = dp.ofproto_parser, dp.ofproto
        in_port = msg.match['in_port']
        data = msg.data
        if len(data) < 14 or data[12:14] == b'\x88\xcc':
            return
        dst, src = (':'.join('%02x' % b for b in data[i:i + 6]) for i in (0, 6))
        table = self.macs.setdefault(dp.id, {})
        table[src] = in_port
        out = table.get(dst, o.OFPP_FLOOD)
        actions = [p.OFPActionOutput(out)]
        if out != o.OFPP_FLOOD:
            match = p.OFPMatch(in_port=in_port, eth_dst=dst, eth_src=src)
            if msg.buffer_id != o.OFP_NO_BUFFER:
                self.flow(dp, 1, match, actions, msg.buffer_id)
                return
            self.flow(dp, 1, match, actions)
        body = data if msg.buffer_id == o.OFP_NO_BUFFER else None
        dp.send_msg(p.OFPPacketOut(datapath=dp, buffer_id=msg.buffer_id, in_port=in_port,
                                   actions=actions, data=body))
"#;

fn start(which: Which, b: &OpenflowBench) -> miette::Result<Running> {
    let dir =
        std::env::temp_dir().join(format!("topolab-bench-of-{}-{which:?}", std::process::id()));
    std::fs::create_dir_all(&dir).into_diagnostic()?;
    let dir = TempDir(dir);
    let port = free_port().into_diagnostic()?;
    let mut cmd = match which {
        Which::Topolab => {
            let plan = serde_json::json!({
                "app": "learning", "listen": port, "topology": {"switches": []}
            });
            let config = dir.0.join("plan.json");
            std::fs::write(&config, plan.to_string()).into_diagnostic()?;
            let mut c = Command::new(std::env::current_exe().into_diagnostic()?);
            c.arg("daemon")
                .arg("controller")
                .arg("--control")
                .arg(dir.0.join("c.sock"))
                .arg("--config")
                .arg(&config);
            c
        }
        Which::OsKen => {
            std::fs::write(dir.0.join("launch.py"), OSKEN_LAUNCH).into_diagnostic()?;
            std::fs::write(dir.0.join("l2.py"), OSKEN_L2).into_diagnostic()?;
            let mut c = Command::new(&b.osken_python);
            c.arg(dir.0.join("launch.py"))
                .arg(dir.0.join("l2.py"))
                .arg("--ofp-tcp-listen-port")
                .arg(port.to_string());
            c
        }
    };
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| miette!("cannot start {which:?}: {e}"))?;
    let mut running = Running {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(running);
        }
        if let Ok(Some(st)) = running.child.try_wait() {
            return Err(miette!("{which:?} exited before listening: {st}"));
        }
        if Instant::now() > deadline {
            return Err(miette!("{which:?} did not listen within 20 s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[derive(Default)]
struct Counts {
    packet_outs: AtomicU64,
    flow_mods: AtomicU64,
    ready: AtomicU64,
}

/// The PACKET_INs switch `sw` cycles through, emitted.
fn packet_ins(sw: usize, macs: usize) -> Vec<Vec<u8>> {
    let mac = |j: usize| [2, (sw >> 8) as u8, sw as u8, 0, (j >> 8) as u8, j as u8];
    (0..macs)
        .map(|k| {
            let mut data = Vec::with_capacity(60);
            data.extend_from_slice(&mac((k + 1) % macs));
            data.extend_from_slice(&mac(k));
            data.extend_from_slice(&[0x08, 0x00]);
            data.resize(60, 0);
            let body = Body::PacketIn(PacketIn {
                buffer_id: NO_BUFFER,
                total_len: 60,
                reason: 0,
                table_id: 0,
                cookie: 0,
                r#match: Match {
                    fields: vec![OxmField::InPort(1 + (k % 4) as u32)],
                },
                data,
            });
            let mut out = Vec::new();
            codec::emit(&Message::new(k as u32, body), &mut out);
            out
        })
        .collect()
}

/// The answer of an emulated switch to a controller's request, if it needs one.
fn answer(msg: Message, dpid: u64) -> Option<Message> {
    let body = match msg.body {
        Body::Hello { .. } => return None,
        Body::FeaturesRequest => Body::FeaturesReply(SwitchFeatures {
            datapath_id: dpid,
            n_buffers: 0,
            n_tables: 254,
            auxiliary_id: 0,
            capabilities: 0,
        }),
        Body::EchoRequest(d) => Body::EchoReply(d),
        Body::BarrierRequest => Body::BarrierReply,
        Body::GetConfigRequest => Body::GetConfigReply(SwitchConfig {
            flags: 0,
            miss_send_len: 0xffff,
        }),
        Body::MultipartRequest(r) => Body::MultipartReply(MultipartReply {
            flags: 0,
            body: match r.body {
                MpRequest::PortDesc => MpReply::PortDesc(Vec::new()),
                MpRequest::Desc => MpReply::Desc(DescStats::default()),
                _ => return None,
            },
        }),
        _ => return None,
    };
    Some(Message::new(msg.xid, body))
}

/// One emulated switch: handshake, then load until the task is dropped.
async fn switch(
    port: u16,
    dpid: u64,
    window: u64,
    pins: Vec<Vec<u8>>,
    counts: Arc<Counts>,
    go: Arc<AtomicBool>,
    go_wake: Arc<Notify>,
) -> std::io::Result<()> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (mut r, mut w) = stream.into_split();
    let mut hello = Vec::new();
    codec::emit(
        &Message::new(
            0,
            Body::Hello {
                versions: Some(1 << 4),
            },
        ),
        &mut hello,
    );
    w.write_all(&hello).await?;

    let answered = Arc::new(AtomicU64::new(0));
    let wake = Arc::new(Notify::new());
    let replies = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let reader = {
        let (answered, wake, replies, counts) = (
            answered.clone(),
            wake.clone(),
            replies.clone(),
            counts.clone(),
        );
        async move {
            let mut buf = vec![0u8; 256 * 1024];
            let mut have = 0;
            let mut ready = false;
            loop {
                let n = r.read(&mut buf[have..]).await?;
                if n == 0 {
                    return Ok::<(), std::io::Error>(());
                }
                have += n;
                let mut off = 0;
                let (mut pouts, mut fmods) = (0, 0);
                while let Ok(Some(len)) = codec::frame_len(&buf[off..have]) {
                    if off + len > have {
                        break;
                    }
                    let frame = &buf[off..off + len];
                    match frame[1] {
                        msg_type::PACKET_OUT => pouts += 1,
                        msg_type::FLOW_MOD => {
                            fmods += 1;
                            if !ready {
                                ready = true;
                                counts.ready.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        _ => {
                            if let Ok(m) = codec::parse(frame)
                                && let Some(a) = answer(m, dpid)
                            {
                                let mut q = replies.lock().unwrap_or_else(|p| p.into_inner());
                                codec::emit(&a, &mut q);
                                wake.notify_one();
                            }
                        }
                    }
                    off += len;
                }
                buf.copy_within(off..have, 0);
                have -= off;
                if pouts > 0 {
                    answered.fetch_add(pouts, Ordering::Relaxed);
                    counts.packet_outs.fetch_add(pouts, Ordering::Relaxed);
                    wake.notify_one();
                }
                if fmods > 0 {
                    counts.flow_mods.fetch_add(fmods, Ordering::Relaxed);
                }
            }
        }
    };
    let writer = async move {
        let mut sent: u64 = 0;
        let mut next = 0usize;
        let mut out = Vec::with_capacity(64 * 1024);
        loop {
            {
                let mut q = replies.lock().unwrap_or_else(|p| p.into_inner());
                out.append(&mut q);
            }
            if go.load(Ordering::Relaxed) {
                let outstanding = sent - answered.load(Ordering::Relaxed).min(sent);
                let room = window.saturating_sub(outstanding).min(64);
                for _ in 0..room {
                    out.extend_from_slice(&pins[next]);
                    next = (next + 1) % pins.len();
                }
                sent += room;
            }
            if out.is_empty() {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = go_wake.notified() => {}
                    // A start signal given between the check and the wait is not lost.
                    _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                }
                continue;
            }
            w.write_all(&out).await?;
            out.clear();
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    };
    tokio::select! {
        r = reader => r,
        r = writer => r,
    }
}

/// One mode against one controller, on its own single-threaded runtime.
fn measure(port: u16, mode: LoadMode, round: u64, b: &OpenflowBench) -> miette::Result<Row0> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .into_diagnostic()?;
    let window = match mode {
        LoadMode::Throughput => WINDOW,
        LoadMode::Latency => 1,
    };
    let (n, macs, seconds) = (b.switches, b.macs.max(2), b.seconds);
    rt.block_on(async move {
        let counts = Arc::new(Counts::default());
        let go = Arc::new(AtomicBool::new(false));
        let go_wake = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        for i in 0..n {
            tasks.push(tokio::spawn(switch(
                port,
                round * 1000 + i as u64 + 1,
                window,
                packet_ins(i, macs),
                counts.clone(),
                go.clone(),
                go_wake.clone(),
            )));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while counts.ready.load(Ordering::Relaxed) < n as u64 {
            if tokio::time::Instant::now() > deadline {
                return Err(miette!(
                    "only {} of {n} switches got their table-miss flow",
                    counts.ready.load(Ordering::Relaxed)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        go.store(true, Ordering::Relaxed);
        for _ in 0..n {
            go_wake.notify_waiters();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (p0, f0, t0) = (
            counts.packet_outs.load(Ordering::Relaxed),
            counts.flow_mods.load(Ordering::Relaxed),
            Instant::now(),
        );
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        let dt = t0.elapsed().as_secs_f64();
        let p = counts.packet_outs.load(Ordering::Relaxed) - p0;
        let f = counts.flow_mods.load(Ordering::Relaxed) - f0;
        for t in tasks {
            t.abort();
        }
        Ok(Row0 {
            responses_per_s: p as f64 / dt,
            flow_mods_per_s: f as f64 / dt,
        })
    })
}

struct Row0 {
    responses_per_s: f64,
    flow_mods_per_s: f64,
}

#[derive(Serialize)]
struct Report {
    controller: Vec<Row>,
    switch: Vec<super::bench_ofswitch::SwitchRow>,
}

pub async fn run(b: OpenflowBench) -> miette::Result<()> {
    let sw = super::bench_ofswitch::SwitchBenchArgs {
        flows: b.flows.clone(),
        seconds: b.switch_seconds,
        datapaths: b.datapaths.clone(),
        json: b.json,
    };
    let (json, out, parts, switch_seconds) =
        (b.json, b.out.clone(), b.parts.clone(), b.switch_seconds);
    let controller = if parts.contains(&Part::Controller) {
        tokio::task::spawn_blocking(move || controller_rows(b))
            .await
            .into_diagnostic()??
    } else {
        Vec::new()
    };
    let switch = if parts.contains(&Part::Switch) {
        super::bench_ofswitch::run(&sw).await?
    } else {
        Vec::new()
    };
    let report = Report { controller, switch };
    let text = serde_json::to_string_pretty(&report).into_diagnostic()?;
    if let Some(p) = &out {
        std::fs::write(p, &text).into_diagnostic()?;
    }
    if json {
        outln!("{text}");
        return Ok(());
    }
    if !report.controller.is_empty() {
        print_controller(&report.controller);
    }
    if !report.switch.is_empty() {
        super::bench_ofswitch::print_rows(&report.switch, switch_seconds);
    }
    Ok(())
}

fn controller_rows(b: OpenflowBench) -> miette::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &which in &b.controllers {
        let running = match start(which, &b) {
            Ok(r) => r,
            Err(e) if which == Which::OsKen => {
                errln!("os-ken skipped: {e}");
                continue;
            }
            Err(e) => return Err(e),
        };
        for (round, &mode) in b.modes.iter().enumerate() {
            let r = measure(running.port, mode, round as u64, &b)?;
            let mean_rtt_us = (mode == LoadMode::Latency && r.responses_per_s > 0.0)
                .then(|| b.switches as f64 / r.responses_per_s * 1e6);
            rows.push(Row {
                controller: which,
                mode,
                switches: b.switches,
                responses_per_s: r.responses_per_s,
                flow_mods_per_s: r.flow_mods_per_s,
                mean_rtt_us,
            });
        }
        drop(running);
    }
    Ok(rows)
}

fn print_controller(rows: &[Row]) {
    outln!(
        "{:<9} {:<11} {:>8} {:>14} {:>14} {:>10}",
        "ctrl",
        "mode",
        "switches",
        "responses/s",
        "flow_mods/s",
        "rtt µs"
    );
    for r in rows {
        outln!(
            "{:<9} {:<11} {:>8} {:>14.0} {:>14.0} {:>10}",
            format!("{:?}", r.controller).to_lowercase(),
            format!("{:?}", r.mode).to_lowercase(),
            r.switches,
            r.responses_per_s,
            r.flow_mods_per_s,
            r.mean_rtt_us.map_or("-".into(), |v| format!("{v:.0}"))
        );
    }
    for mode in [LoadMode::Throughput, LoadMode::Latency] {
        let get = |w: Which| {
            rows.iter()
                .find(|r| r.controller == w && r.mode == mode)
                .map(|r| r.responses_per_s)
        };
        if let (Some(a), Some(o)) = (get(Which::Topolab), get(Which::OsKen))
            && o > 0.0
        {
            outln!("{mode:?}: topolab / os-ken = {:.1}×", a / o);
        }
    }
}
