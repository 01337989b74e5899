//! `topolab bench bgp`: full-table loading, bgperf-style. One or more senders announce N
//! prefixes to the receiver under test — topolab's own speaker, BIRD 2, FRR's bgpd, GoBGP —
//! side by side in one run, and the bench measures the time from session Established until
//! every prefix is in the receiver's Loc-RIB (and, for ours, in the kernel FIB), with the
//! receiver process's peak RSS (VmHWM) and CPU time (utime + stime).
//!
//! ```text
//!   s1 (10.0.1.2, AS 65001) ──┐
//!   s2 (10.0.2.2, AS 65002) ──┤  r (10.0.K.1, AS 65000): the receiver under test,
//!   …                         ├─ passive, import everything, export nothing,
//!   sK (10.0.K.2, AS 6500K) ──┘  no kernel routes (ours: routes into r's kernel table)
//! ```
//!
//! Senders (`--sender`):
//! - `topolab` (default): our speaker (`topolab daemon bgp`) on each sender node, loaded
//!   with its table by a `bgp_inject` control request before the receiver starts, so it
//!   sends everything the moment the session is up (no delayed tail); Established is when
//!   its session came up (its `uptime_s`, read at the end);
//! - `codec`: the bench itself speaks BGP from each sender's namespace through
//!   `topolab::bgp::codec`: OPEN, then every UPDATE pre-encoded and written as fast as TCP
//!   takes it, then End-of-RIB; Established is the instant the sender saw the receiver's
//!   KEEPALIVE after OPEN.
//!
//! The receiver's progress is read by polling its own CLI every `--poll-ms`: BIRD
//! `birdc show protocols all` (per-channel imported routes), FRR `vtysh -c 'show bgp
//! ipv4 unicast summary json'` (`tableVersion`), GoBGP `gobgp global rib summary -j`
//! (`num_destination`), ours the daemon's control socket (`loc_rib`, `fib_installed`).
//! The polling interval bounds the precision of the times; answering the polls costs the
//! receiver a little CPU, the same for every receiver.
//!
//! Routes: [`topolab::bgp::inject::table`] — IPv4 prefixes with a full table's length mix,
//! about one attribute set per six prefixes, AS paths of 1–8 hops after the sender's AS,
//! communities — seeded per sender, next hop the sender. With K > 1 senders each announces
//! its own table of `--per-sender` routes; the Loc-RIB is done at their union (counted by
//! the bench from the same tables).

use crate::cli::out::{errln, outln};
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use ipnet::IpNet;
use miette::{IntoDiagnostic, miette};
use serde::Serialize;

use topolab::bgp::codec::{
    self, Attr, Capability, Family, Message, Nlri, Open, Segment, SegmentKind, SessionParams,
    Update,
};
use topolab::bgp::inject;
use topolab::lab::{Lab, LabOptions};
use topolab::tools::socket_in;
use topolab::topology::Topology;

/// The receiver's AS; sender k (1-based) is AS 65000 + k.
const RECEIVER_AS: u32 = 65000;

#[derive(Args)]
pub struct BgpBench {
    /// Table sizes announced by one sender, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
    pub prefixes: Vec<usize>,
    /// Receivers under test, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "topolab,bird,frr,gobgp")]
    pub receivers: Vec<Receiver>,
    /// Sender counts, comma-separated: 1 runs every `--prefixes` size; K > 1 runs K senders
    /// of `--per-sender` prefixes each.
    #[arg(long, value_delimiter = ',', default_value = "1,10")]
    pub senders: Vec<usize>,
    /// Prefixes per sender when there are several.
    #[arg(long, default_value_t = 100_000)]
    pub per_sender: usize,
    /// Who announces.
    #[arg(long, value_enum, default_value = "topolab")]
    pub sender: SenderKind,
    /// Milliseconds between polls of the receiver (the precision of the times).
    #[arg(long, default_value_t = 50)]
    pub poll_ms: u64,
    /// Longest wait for one case, in seconds.
    #[arg(long, default_value_t = 600.0)]
    pub timeout: f64,
    /// Seed of the synthetic table.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Print every poll's counts (to stderr): where the receiver spends its time.
    #[arg(long)]
    pub trace: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Receiver {
    Topolab,
    Bird,
    /// BIRD 2 exporting every route to the kernel (`protocol kernel`): a receiver that
    /// installs its routes, as ours does.
    BirdKernel,
    Frr,
    Gobgp,
}

impl Receiver {
    /// Whether it installs its routes in the kernel (and so has a FIB time).
    fn installs(self) -> bool {
        matches!(self, Receiver::Topolab | Receiver::BirdKernel)
    }

    /// The protocol its kernel routes carry, as route dumps name it.
    fn kernel_proto(self) -> &'static str {
        match self {
            Receiver::BirdKernel => "bird",
            _ => "bgp",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Receiver::Topolab => "topolab",
            Receiver::Bird => "BIRD 2",
            Receiver::BirdKernel => "BIRD+kernel",
            Receiver::Frr => "FRR bgpd",
            Receiver::Gobgp => "GoBGP",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SenderKind {
    /// topolab's built-in speaker (`topolab daemon bgp`), loaded by a `bgp_inject` request.
    Topolab,
    /// The bench speaks BGP itself through topolab's codec (pre-encoded UPDATEs).
    Codec,
}

/// One measured case.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Row {
    pub receiver: Receiver,
    pub sender: SenderKind,
    pub senders: usize,
    /// Prefixes in the receiver's Loc-RIB when done (all senders together).
    pub prefixes: usize,
    /// Established (first session) → every prefix in the Loc-RIB, seconds.
    pub loc_rib_s: Option<f64>,
    /// Established → every prefix in the kernel FIB (receivers that install routes:
    /// ours, and BIRD with its kernel protocol), seconds.
    pub fib_s: Option<f64>,
    /// Routes of the receiver's in its namespace's kernel tables when done, counted by the
    /// bench itself (receivers that install routes): checks the receiver's own count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_routes: Option<usize>,
    /// Receiver's peak resident set (VmHWM), MiB.
    pub peak_rss_mib: f64,
    /// Receiver's CPU time (user + system) from just before the senders connected until done.
    pub cpu_s: f64,
    /// Peak RSS / prefixes.
    pub bytes_per_route: f64,
    /// Polling interval, ms (the precision of the times).
    pub poll_ms: u64,
    /// Why the case has no result (timeout, the receiver failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub async fn run(b: BgpBench) -> miette::Result<()> {
    let mut cases = Vec::new();
    for &k in &b.senders {
        if k <= 1 {
            cases.extend(b.prefixes.iter().map(|&n| (1usize, n)));
        } else {
            cases.push((k, b.per_sender));
        }
    }
    let mut rows = Vec::new();
    for &(k, per) in &cases {
        errln!("generating {k} × {per} prefixes …");
        let (tables, total) = build_tables(k, per, b.seed, b.sender == SenderKind::Codec);
        let tables = Arc::new(tables);
        for &rcv in &b.receivers {
            errln!("  {} ← {k} sender(s) × {per} …", rcv.label());
            let row = match one(&b, rcv, k, per, total, tables.clone()).await {
                Ok(r) => r,
                Err(e) => Row {
                    receiver: rcv,
                    sender: b.sender,
                    senders: k,
                    prefixes: total,
                    loc_rib_s: None,
                    fib_s: None,
                    kernel_routes: None,
                    peak_rss_mib: 0.0,
                    cpu_s: 0.0,
                    bytes_per_route: 0.0,
                    poll_ms: b.poll_ms,
                    error: Some(format!("{e}")),
                },
            };
            errln!("    {}", row_line(&row));
            rows.push(row);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    outln!("{}", table(&rows));
    if let Some(p) = &b.json {
        let json = serde_json::to_string_pretty(&rows).into_diagnostic()?;
        std::fs::write(p, json).into_diagnostic()?;
    }
    Ok(())
}

/// The table: one line per case.
pub fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<11} {:>8} {:>9} {:>12} {:>9} {:>10} {:>9} {:>8} {:>8}\n",
        "receiver",
        "senders",
        "prefixes",
        "→loc-rib s",
        "→fib s",
        "in kernel",
        "RSS MiB",
        "CPU s",
        "B/route"
    );
    for r in rows {
        s.push_str(&row_line(r));
        s.push('\n');
    }
    let poll = rows.first().map(|r| r.poll_ms).unwrap_or(0);
    s.push_str(&format!(
        "(times from session Established; receiver polled every {poll} ms; in kernel: the receiver's routes in its namespace when done, counted by the bench; RSS is the receiver's peak, VmHWM)"
    ));
    s
}

fn row_line(r: &Row) -> String {
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
    let mut s = format!(
        "{:<11} {:>8} {:>9} {:>12} {:>9} {:>10} {:>9.1} {:>8.2} {:>8.0}",
        r.receiver.label(),
        r.senders,
        r.prefixes,
        opt(r.loc_rib_s),
        opt(r.fib_s),
        r.kernel_routes
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into()),
        r.peak_rss_mib,
        r.cpu_s,
        r.bytes_per_route
    );
    if let Some(e) = &r.error {
        s.push_str(&format!("  ({e})"));
    }
    s
}

// ---------------------------------------------------------------------------------------
// The synthetic table.

/// The routes sender k announces: [`topolab::bgp::inject::table`] (IPv4, seed `seed + k`,
/// origin AS the sender's), the same table the built-in speaker originates on a
/// `bgp_inject` request.
fn sender_routes(k: usize, per: usize, seed: u64) -> inject::Table {
    inject::table(
        per,
        inject::Mix::V4,
        seed + k as u64,
        RECEIVER_AS + k as u32,
    )
}

/// Prefixes per UPDATE at most (5 bytes each at most: well inside 4096 bytes).
const PER_UPDATE: usize = 500;

/// One sender's UPDATEs, encoded (4-octet AS, no extended messages): one or more per
/// distinct path, with the sender's AS first and the sender as next hop; End-of-RIB last.
fn encode_table(t: &inject::Table, sender_as: u32, next_hop: Ipv4Addr) -> Vec<u8> {
    let params = SessionParams {
        four_octet_as: true,
        ..Default::default()
    };
    let mut by_path: Vec<Vec<IpNet>> = vec![Vec::new(); t.paths.len()];
    for (p, i) in &t.routes {
        if p.addr().is_ipv4() {
            by_path[*i as usize].push(*p);
        }
    }
    let mut out = Vec::with_capacity(t.routes.len() * 12);
    for (path, prefixes) in t.paths.iter().zip(&by_path) {
        let mut segments = path.as_path.clone();
        match segments.first_mut() {
            Some(s) if s.kind == SegmentKind::Sequence && s.asns.len() < 255 => {
                s.asns.insert(0, sender_as)
            }
            _ => segments.insert(
                0,
                Segment {
                    kind: SegmentKind::Sequence,
                    asns: vec![sender_as],
                },
            ),
        }
        let mut attrs = vec![
            Attr::Origin(path.origin),
            Attr::AsPath(segments),
            Attr::NextHop(next_hop),
        ];
        if let Some(m) = path.med {
            attrs.push(Attr::Med(m));
        }
        if !path.communities.is_empty() {
            attrs.push(Attr::Communities(path.communities.clone()));
        }
        if !path.large_communities.is_empty() {
            attrs.push(Attr::LargeCommunities(path.large_communities.clone()));
        }
        for chunk in prefixes.chunks(PER_UPDATE) {
            let u = Update {
                withdrawn: Vec::new(),
                attrs: attrs.clone(),
                nlri: chunk
                    .iter()
                    .map(|p| Nlri {
                        path_id: None,
                        prefix: *p,
                    })
                    .collect(),
            };
            codec::emit(&Message::Update(u), &params, &mut out);
        }
    }
    codec::emit(&Message::Update(Update::default()), &params, &mut out);
    out
}

/// Per sender k (1-based): its address, AS and encoded UPDATEs.
struct SenderTable {
    addr: Ipv4Addr,
    asn: u32,
    bytes: Vec<u8>,
}

fn sender_addr(k: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, k as u8, 2)
}

fn receiver_addr(k: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, k as u8, 1)
}

/// Every sender's table (encoded when the bench itself sends) and the number of distinct
/// prefixes among them all: what the receiver's Loc-RIB holds when done.
fn build_tables(k: usize, per: usize, seed: u64, encode: bool) -> (Vec<SenderTable>, usize) {
    let mut all: HashSet<IpNet> = HashSet::with_capacity(k * per);
    let tables = (1..=k)
        .map(|s| {
            let asn = RECEIVER_AS + s as u32;
            let addr = sender_addr(s);
            let t = sender_routes(s, per, seed);
            all.extend(t.routes.iter().map(|r| r.0));
            let bytes = if encode {
                encode_table(&t, asn, addr)
            } else {
                Vec::new()
            };
            SenderTable { addr, asn, bytes }
        })
        .collect();
    (tables, all.len())
}

// ---------------------------------------------------------------------------------------
// One case.

fn topology(k: usize) -> miette::Result<Topology> {
    let mut y =
        String::from("name: bgpbench\naddressing: {ipv6: false}\nnodes:\n  r: {kind: router}\n");
    for s in 1..=k {
        y.push_str(&format!("  s{s}: {{}}\n"));
    }
    y.push_str("links:\n");
    for s in 1..=k {
        y.push_str(&format!(
            "  - endpoints: [s{s}, r]\n    addresses: {{s{s}: [{}/24], r: [{}/24]}}\n",
            sender_addr(s),
            receiver_addr(s)
        ));
    }
    Ok(Topology::from_str(&y, "<bench bgp>")?)
}

async fn one(
    b: &BgpBench,
    rcv: Receiver,
    k: usize,
    per: usize,
    total: usize,
    tables: Arc<Vec<SenderTable>>,
) -> miette::Result<Row> {
    let topo = topology(k)?;
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(super::bench::lab_name()),
            ..Default::default()
        },
    )
    .await?;
    let result = measure(&lab, b, rcv, (k, per, total), tables).await;
    lab.down().await?;
    result
}

/// What a poll of the receiver found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub established: usize,
    pub loc_rib: usize,
    pub fib: Option<usize>,
    /// Prefixes received but not necessarily decided yet, where the receiver tells (FRR's
    /// `ribCount`).
    pub received: Option<usize>,
}

struct Running {
    child: tokio::process::Child,
    pid: u32,
    dir: PathBuf,
}

async fn measure(
    lab: &Lab,
    b: &BgpBench,
    rcv: Receiver,
    (k, per, total): (usize, usize, usize),
    tables: Arc<Vec<SenderTable>>,
) -> miette::Result<Row> {
    let dir = lab.run_dir().join("bench-bgp");
    std::fs::create_dir_all(&dir).into_diagnostic()?;
    let peers: Vec<(Ipv4Addr, u32, Ipv4Addr)> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.addr, t.asn, receiver_addr(i + 1)))
        .collect();
    // Our speakers as senders: started and loaded before the receiver exists, so that they
    // send the whole table the moment the session comes up (their connect-retry is 1 s).
    let mut speakers = Vec::new();
    if b.sender == SenderKind::Topolab {
        for (i, t) in tables.iter().enumerate() {
            speakers.push(start_speaker(lab, &dir, i + 1, t, per, b.seed).await?);
        }
    }
    let mut running = start_receiver(lab, rcv, &dir, &peers).await?;
    // Wait until the receiver answers its CLI.
    let ready_by = Instant::now() + Duration::from_secs(20);
    loop {
        if poll(lab, rcv, &running.dir).await.is_ok() {
            break;
        }
        if let Ok(Some(st)) = running.child.try_wait() {
            return Err(miette!(
                "{} exited ({st}) before answering: {}",
                rcv.label(),
                tail(&dir.join("receiver.log"))
            ));
        }
        if Instant::now() > ready_by {
            return Err(miette!(
                "{} did not answer its CLI within 20 s: {}",
                rcv.label(),
                tail(&dir.join("receiver.log"))
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu0 = cpu_ticks(running.pid).unwrap_or(0);

    // Senders.
    let stop = Arc::new(AtomicBool::new(false));
    let established: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let mut threads = Vec::new();
    let codec_senders = if b.sender == SenderKind::Codec { k } else { 0 };
    for i in 0..codec_senders {
        let ns = lab
            .plan()
            .node(&format!("s{}", i + 1))
            .map(|n| n.netns.clone())
            .ok_or_else(|| miette!("no sender node"))?;
        let (tables, stop, est) = (tables.clone(), stop.clone(), established.clone());
        threads.push(std::thread::spawn(move || {
            codec_sender(&ns, &tables[i], receiver_addr(i + 1), &stop, &est)
        }));
    }

    let poll_every = Duration::from_millis(b.poll_ms.max(1));
    let deadline = Instant::now() + Duration::from_secs_f64(b.timeout);
    let mut est_seen: Option<Instant> = None;
    let mut rib_at: Option<Instant> = None;
    let mut fib_at: Option<Instant> = None;
    let mut last = Progress::default();
    let mut error = None;
    loop {
        let t = Instant::now();
        match poll(lab, rcv, &running.dir).await {
            Ok(p) => {
                let now = Instant::now();
                if b.trace {
                    let t0 = established
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .or(est_seen);
                    let at = t0.map(|t| now.saturating_duration_since(t).as_secs_f64());
                    errln!(
                        "    {:>8} up {} loc-rib {} received {:?} fib {:?} cpu {:.2}",
                        at.map(|s| format!("{s:.3}")).unwrap_or_else(|| "-".into()),
                        p.established,
                        p.loc_rib,
                        p.received,
                        p.fib,
                        cpu_ticks(running.pid).unwrap_or(0).saturating_sub(cpu0) as f64
                            / clock_ticks()
                    );
                }
                if p.established > 0 && est_seen.is_none() {
                    est_seen = Some(now);
                }
                if p.loc_rib >= total && rib_at.is_none() {
                    rib_at = Some(now);
                }
                if p.fib.is_some_and(|f| f >= total) && fib_at.is_none() {
                    fib_at = Some(now);
                }
                last = p;
            }
            Err(e) => {
                if let Ok(Some(st)) = running.child.try_wait() {
                    error = Some(format!("{} exited ({st}): {e}", rcv.label()));
                    break;
                }
            }
        }
        let done = rib_at.is_some() && (!rcv.installs() || fib_at.is_some());
        if done {
            break;
        }
        if threads.iter().any(|t| t.is_finished()) && error.is_none() {
            // A sender stopped early: its error says why.
            let idx = threads.iter().position(|t| t.is_finished()).unwrap_or(0);
            let th = threads.remove(idx);
            match th.join() {
                Ok(Err(e)) => {
                    error = Some(format!("sender: {e}"));
                    break;
                }
                Ok(Ok(())) => {}
                Err(_) => {
                    error = Some("sender panicked".into());
                    break;
                }
            }
        }
        if Instant::now() > deadline {
            error = Some(format!(
                "timeout: {} of {total} in the Loc-RIB, {:?} in the FIB, {} sessions up",
                last.loc_rib, last.fib, last.established
            ));
            break;
        }
        let spent = t.elapsed();
        if spent < poll_every {
            tokio::time::sleep(poll_every - spent).await;
        }
    }
    let cpu1 = cpu_ticks(running.pid).unwrap_or(cpu0);
    let hwm = vm_hwm_kib(running.pid).unwrap_or(0);
    let kernel_routes = if rcv.installs() {
        let ns = lab
            .plan()
            .node("r")
            .map(|n| n.netns.clone())
            .ok_or_else(|| miette!("no receiver node"))?;
        let proto = rcv.kernel_proto();
        let rows =
            socket_in(&ns, || topolab::netlink::Netlink::open()?.routes()).into_diagnostic()?;
        Some(rows.iter().filter(|r| r.proto == proto).count())
    } else {
        None
    };
    // Our senders: each session's uptime says when it came up.
    for sp in &speakers {
        if let Some(at) = speaker_established(&sp.dir).await {
            let mut e = established.lock().unwrap_or_else(|p| p.into_inner());
            if e.is_none_or(|t| at < t) {
                *e = Some(at);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for mut sp in speakers {
        let _ = sp.child.start_kill();
        let _ = sp.child.wait().await;
    }
    let _ = running.child.start_kill();
    let _ = running.child.wait().await;
    for t in threads {
        let _ = t.join();
    }
    // Established: the sender's own instant, else the first poll that saw a session up.
    let t0 = established
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .or(est_seen);
    let since = |t: Option<Instant>| match (t0, t) {
        (Some(a), Some(b)) => Some(b.saturating_duration_since(a).as_secs_f64()),
        _ => None,
    };
    let rss_mib = hwm as f64 / 1024.0;
    Ok(Row {
        receiver: rcv,
        sender: b.sender,
        senders: k,
        prefixes: total,
        loc_rib_s: since(rib_at),
        fib_s: since(fib_at),
        kernel_routes,
        peak_rss_mib: rss_mib,
        cpu_s: cpu1.saturating_sub(cpu0) as f64 / clock_ticks(),
        bytes_per_route: hwm as f64 * 1024.0 / total.max(1) as f64,
        poll_ms: b.poll_ms,
        error,
    })
}

fn tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

// ---------------------------------------------------------------------------------------
// The senders.

/// Starts our speaker on sender node `k` (active toward the receiver, no FIB, no listening
/// port) and has it originate its table; returns once its Loc-RIB holds it.
async fn start_speaker(
    lab: &Lab,
    dir: &Path,
    k: usize,
    t: &SenderTable,
    per: usize,
    seed: u64,
) -> miette::Result<Running> {
    use topolab::bgp::config::{Afi, PeerConfig, SpeakerConfig};
    let cfg = SpeakerConfig {
        asn: t.asn,
        router_id: t.addr,
        cluster_id: None,
        hold_time: 90,
        keepalive: None,
        connect_retry: 1,
        networks: Vec::new(),
        import: Vec::new(),
        export: Vec::new(),
        peers: vec![PeerConfig {
            name: "r".into(),
            address: IpAddr::V4(receiver_addr(k)),
            local_address: Some(IpAddr::V4(t.addr)),
            port: 179,
            remote_as: RECEIVER_AS,
            passive: false,
            multihop: None,
            ttl_security: None,
            password: None,
            rr_client: false,
            next_hop_self: false,
            families: vec![Afi::Ipv4],
            import: Vec::new(),
            export: Vec::new(),
            hold_time: None,
            next_hops: vec![],
        }],
        fib: false,
        listen_port: 0,
    };
    let sdir = dir.join(format!("s{k}"));
    std::fs::create_dir_all(&sdir).into_diagnostic()?;
    std::fs::write(
        sdir.join("bgp.json"),
        serde_json::to_vec(&cfg).into_diagnostic()?,
    )
    .into_diagnostic()?;
    let log = std::fs::File::create(sdir.join("speaker.log")).into_diagnostic()?;
    let log2 = log.try_clone().into_diagnostic()?;
    let exe = std::env::current_exe().into_diagnostic()?;
    let mut c = lab.node(&format!("s{k}")).command(exe)?;
    let d = sdir.display().to_string();
    c.args([
        "daemon",
        "bgp",
        "--control",
        &format!("{d}/bgp.sock"),
        "--config",
        &format!("{d}/bgp.json"),
    ])
    .stdin(std::process::Stdio::null())
    .stdout(log)
    .stderr(log2);
    let child = c.spawn().into_diagnostic()?;
    let pid = child.id().ok_or_else(|| miette!("sender has no PID"))?;
    let sock = sdir.join("bgp.sock");
    let answer = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let req = topolab::daemon::Request::BgpInject {
                count: per,
                seed: seed + k as u64,
                family: None,
            };
            match topolab::daemon::call(&sock, &req, Duration::from_secs(300)) {
                Ok(r) => return Ok(r),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    })
    .await
    .into_diagnostic()?
    .map_err(|e| miette!("sender s{k}: {e}: {}", tail(&sdir.join("speaker.log"))))?;
    if let topolab::daemon::Response::Error { message } = answer {
        return Err(miette!("sender s{k} refused the inject: {message}"));
    }
    Ok(Running {
        child,
        pid,
        dir: sdir,
    })
}

/// When our speaker's session came up: now minus its `uptime_s`.
async fn speaker_established(dir: &Path) -> Option<Instant> {
    let sock = dir.join("bgp.sock");
    let (asked, resp) = tokio::task::spawn_blocking(move || {
        let req = topolab::daemon::Request::Bgp {
            view: "neighbors".into(),
            peer: None,
            prefix: None,
        };
        let r = topolab::daemon::call(&sock, &req, Duration::from_secs(5));
        (Instant::now(), r)
    })
    .await
    .ok()?;
    let topolab::daemon::Response::Bgp { data, .. } = resp.ok()? else {
        return None;
    };
    let n = data.as_array()?.first()?;
    if n.get("state")?.as_str()? != "established" {
        return None;
    }
    let up = n.get("uptime_s")?.as_f64()?;
    asked.checked_sub(Duration::from_secs_f64(up))
}

fn codec_sender(
    ns: &str,
    t: &SenderTable,
    receiver: Ipv4Addr,
    stop: &AtomicBool,
    established: &Mutex<Option<Instant>>,
) -> io::Result<()> {
    let addr = SocketAddr::new(IpAddr::V4(receiver), 179);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut s = loop {
        match socket_in(ns, move || {
            TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        }) {
            Ok(s) => break s,
            Err(e) if Instant::now() > deadline || stop.load(Ordering::Relaxed) => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let params = SessionParams {
        four_octet_as: true,
        ..Default::default()
    };
    let open = Message::Open(Open {
        my_as: u16::try_from(t.asn).unwrap_or(codec::AS_TRANS),
        hold_time: 90,
        bgp_id: t.addr,
        capabilities: vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(t.asn),
        ],
    });
    s.write_all(&codec::to_bytes(&open, &params))?;
    // Handshake: their OPEN (answer KEEPALIVE), then their KEEPALIVE.
    let mut buf = Vec::new();
    let mut got_open = false;
    loop {
        let m = read_message(&mut s, &mut buf, &params)?;
        match m {
            Message::Open(o) => {
                if !o
                    .capabilities
                    .iter()
                    .any(|c| matches!(c, Capability::FourOctetAs(_)))
                {
                    return Err(io::Error::other("the receiver lacks 4-octet AS numbers"));
                }
                got_open = true;
                s.write_all(&codec::to_bytes(&Message::Keepalive, &params))?;
            }
            Message::Keepalive if got_open => break,
            Message::Notification(n) => {
                return Err(io::Error::other(format!(
                    "the receiver sent NOTIFICATION {}/{}",
                    n.code, n.subcode
                )));
            }
            _ => {}
        }
    }
    {
        let mut e = established.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if e.is_none_or(|t| now < t) {
            *e = Some(now);
        }
    }
    // Drain whatever the receiver sends from now on (keepalives, End-of-RIB).
    let mut r = s.try_clone()?;
    r.set_read_timeout(Some(Duration::from_millis(200)))?;
    let drained = std::thread::spawn(move || {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut chunk) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    });
    s.write_all(&t.bytes)?;
    let keepalive = codec::to_bytes(&Message::Keepalive, &params);
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if last.elapsed() > Duration::from_secs(20) {
            s.write_all(&keepalive)?;
            last = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = drained.join();
    Ok(())
}

fn read_message(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    params: &SessionParams,
) -> io::Result<Message> {
    let mut chunk = [0u8; 4096];
    loop {
        let framed = codec::frame_len(buf, params)
            .map_err(|n| io::Error::other(format!("bad frame {}/{}", n.code, n.subcode)))?;
        if let Some(len) = framed
            && buf.len() >= len
        {
            let frame: Vec<u8> = buf.drain(..len).collect();
            return codec::parse(&frame, params)
                .map_err(|n| io::Error::other(format!("bad message {}/{}", n.code, n.subcode)));
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the receiver closed the session",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

// ---------------------------------------------------------------------------------------
// Receivers: start and poll.

async fn start_receiver(
    lab: &Lab,
    rcv: Receiver,
    dir: &Path,
    peers: &[(Ipv4Addr, u32, Ipv4Addr)],
) -> miette::Result<Running> {
    let router_id = receiver_addr(1);
    let log = std::fs::File::create(dir.join("receiver.log")).into_diagnostic()?;
    let log2 = log.try_clone().into_diagnostic()?;
    let node = lab.node("r");
    let d = dir.display().to_string();
    let mut cmd = match rcv {
        Receiver::Bird | Receiver::BirdKernel => {
            let conf = bird_conf(router_id, peers, rcv == Receiver::BirdKernel);
            std::fs::write(dir.join("bird.conf"), conf).into_diagnostic()?;
            let mut c = node.command("bird")?;
            c.args([
                "-f",
                "-c",
                &format!("{d}/bird.conf"),
                "-s",
                &format!("{d}/bird.ctl"),
            ]);
            c
        }
        Receiver::Frr => {
            std::fs::write(dir.join("bgpd.conf"), frr_conf(router_id, peers)).into_diagnostic()?;
            let mut c = node.command("/usr/lib/frr/bgpd")?;
            c.args([
                "-Z",
                "-S",
                "-P",
                "0",
                "-f",
                &format!("{d}/bgpd.conf"),
                "--vty_socket",
                &d,
                "-i",
                &format!("{d}/bgpd.pid"),
            ]);
            c
        }
        Receiver::Gobgp => {
            std::fs::write(dir.join("gobgpd.toml"), gobgp_conf(router_id, peers))
                .into_diagnostic()?;
            let mut c = node.command("gobgpd")?;
            c.args([
                "-f",
                &format!("{d}/gobgpd.toml"),
                "-t",
                "toml",
                "--api-hosts",
                "127.0.0.1:50051",
                "--pprof-disable",
                "-l",
                "warn",
            ]);
            c
        }
        Receiver::Topolab => {
            let cfg = topolab_conf(router_id, peers);
            std::fs::write(
                dir.join("bgp.json"),
                serde_json::to_vec(&cfg).into_diagnostic()?,
            )
            .into_diagnostic()?;
            let exe = std::env::current_exe().into_diagnostic()?;
            let mut c = node.command(exe)?;
            c.args([
                "daemon",
                "bgp",
                "--control",
                &format!("{d}/bgp.sock"),
                "--config",
                &format!("{d}/bgp.json"),
            ]);
            c
        }
    };
    cmd.stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2);
    let child = cmd.spawn().into_diagnostic()?;
    let pid = child.id().ok_or_else(|| miette!("receiver has no PID"))?;
    Ok(Running {
        child,
        pid,
        dir: dir.to_path_buf(),
    })
}

fn bird_conf(router_id: Ipv4Addr, peers: &[(Ipv4Addr, u32, Ipv4Addr)], kernel: bool) -> String {
    let mut c = format!("router id {router_id};\nprotocol device {{}}\n");
    if kernel {
        c.push_str("protocol kernel {\n  ipv4 { import none; export all; };\n}\n");
    }
    for (i, (addr, asn, local)) in peers.iter().enumerate() {
        c.push_str(&format!(
            "protocol bgp s{} {{\n  local {local} as {RECEIVER_AS};\n  neighbor {addr} as {asn};\n  passive on;\n  ipv4 {{ import all; export none; }};\n}}\n",
            i + 1
        ));
    }
    c
}

fn frr_conf(router_id: Ipv4Addr, peers: &[(Ipv4Addr, u32, Ipv4Addr)]) -> String {
    let mut c = format!(
        "frr defaults traditional\nrouter bgp {RECEIVER_AS}\n bgp router-id {router_id}\n no bgp ebgp-requires-policy\n"
    );
    for (addr, asn, _) in peers {
        c.push_str(&format!(
            " neighbor {addr} remote-as {asn}\n neighbor {addr} passive\n"
        ));
    }
    c.push_str(" address-family ipv4 unicast\n");
    for (addr, _, _) in peers {
        c.push_str(&format!("  neighbor {addr} route-map NONE out\n"));
    }
    c.push_str(" exit-address-family\n!\nroute-map NONE deny 10\n");
    c
}

fn gobgp_conf(router_id: Ipv4Addr, peers: &[(Ipv4Addr, u32, Ipv4Addr)]) -> String {
    let mut c = format!(
        "[global.config]\n  as = {RECEIVER_AS}\n  router-id = \"{router_id}\"\n[global.apply-policy.config]\n  default-export-policy = \"reject-route\"\n"
    );
    for (addr, asn, _) in peers {
        c.push_str(&format!(
            "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{addr}\"\n    peer-as = {asn}\n  [neighbors.transport.config]\n    passive-mode = true\n"
        ));
    }
    c
}

fn topolab_conf(
    router_id: Ipv4Addr,
    peers: &[(Ipv4Addr, u32, Ipv4Addr)],
) -> topolab::bgp::config::SpeakerConfig {
    use topolab::bgp::config::{Afi, PeerConfig, SpeakerConfig};
    use topolab::bgp::policy::{Rule, Verdict};
    SpeakerConfig {
        asn: RECEIVER_AS,
        router_id,
        cluster_id: None,
        hold_time: 90,
        keepalive: None,
        connect_retry: 5,
        networks: Vec::new(),
        import: Vec::new(),
        export: vec![Rule {
            action: Some(Verdict::Reject),
            ..Default::default()
        }],
        peers: peers
            .iter()
            .enumerate()
            .map(|(i, (addr, asn, local))| PeerConfig {
                next_hops: vec![],
                name: format!("s{}", i + 1),
                address: IpAddr::V4(*addr),
                local_address: Some(IpAddr::V4(*local)),
                port: 179,
                remote_as: *asn,
                passive: true,
                multihop: None,
                ttl_security: None,
                password: None,
                rr_client: false,
                next_hop_self: false,
                families: vec![Afi::Ipv4],
                import: Vec::new(),
                export: Vec::new(),
                hold_time: None,
            })
            .collect(),
        fib: true,
        listen_port: 179,
    }
}

async fn poll(lab: &Lab, rcv: Receiver, dir: &Path) -> io::Result<Progress> {
    let d = dir.display().to_string();
    match rcv {
        Receiver::Bird | Receiver::BirdKernel => {
            let out = run_host(
                "birdc",
                &["-s", &format!("{d}/bird.ctl"), "show", "protocols", "all"],
            )
            .await?;
            Ok(parse_bird(&out))
        }
        Receiver::Frr => {
            let out = run_host(
                "vtysh",
                &[
                    "--vty_socket",
                    &d,
                    "-d",
                    "bgpd",
                    "-c",
                    "show bgp ipv4 unicast summary json",
                ],
            )
            .await?;
            parse_frr(&out)
        }
        Receiver::Gobgp => {
            let n = run_in(lab, &["gobgp", "neighbor", "-j"]).await?;
            let r = run_in(
                lab,
                &["gobgp", "global", "rib", "summary", "-a", "ipv4", "-j"],
            )
            .await?;
            parse_gobgp(&n, &r)
        }
        Receiver::Topolab => {
            let sock = dir.join("bgp.sock");
            let resp = tokio::task::spawn_blocking(move || {
                topolab::daemon::call(
                    &sock,
                    &topolab::daemon::Request::Status,
                    Duration::from_secs(5),
                )
            })
            .await
            .map_err(io::Error::other)??;
            match resp {
                topolab::daemon::Response::Status(s) => parse_topolab(&s.detail),
                other => Err(io::Error::other(format!("unexpected answer {other:?}"))),
            }
        }
    }
}

async fn run_host(prog: &str, args: &[&str]) -> io::Result<String> {
    let out = tokio::process::Command::new(prog)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{prog}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn run_in(lab: &Lab, argv: &[&str]) -> io::Result<String> {
    let out = lab
        .node("r")
        .exec(argv)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    if !out.success() {
        return Err(io::Error::other(format!(
            "{}: {}",
            argv[0],
            out.stderr_str().trim()
        )));
    }
    Ok(out.stdout_str())
}

/// `birdc show protocols all`: BGP protocols in state Established, and the routes their
/// channels imported (BIRD's table holds exactly the imported routes); with a kernel
/// protocol, the routes it exported to the kernel (BIRD counts a route exported once its
/// netlink request has been answered: it waits for each).
pub fn parse_bird(out: &str) -> Progress {
    let mut p = Progress::default();
    let (mut in_bgp, mut in_kernel) = (false, false);
    for line in out.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if !line.starts_with(char::is_whitespace) && cols.len() >= 2 {
            in_bgp = cols[1] == "BGP";
            in_kernel = cols[1] == "Kernel";
            if in_bgp && cols.last() == Some(&"Established") {
                p.established += 1;
            }
            continue;
        }
        if cols.first() != Some(&"Routes:") {
            continue;
        }
        let count = |word: &str| {
            cols.windows(2)
                .find(|w| w[1].starts_with(word))
                .and_then(|w| w[0].parse::<usize>().ok())
        };
        if in_bgp && let Some(n) = count("imported") {
            p.loc_rib += n;
        }
        if in_kernel && let Some(n) = count("exported") {
            *p.fib.get_or_insert(0) += n;
        }
    }
    p
}

/// FRR `show bgp ipv4 unicast summary json`: peers Established; `tableVersion` as the
/// prefixes decided (bgpd bumps the table version once per prefix its route-processing
/// queue has run the decision on; `ribCount` is no prefix count: it counts the table's
/// tree nodes), and the peers' `pfxRcd` as received.
pub fn parse_frr(out: &str) -> io::Result<Progress> {
    let v: serde_json::Value = serde_json::from_str(out).map_err(io::Error::other)?;
    // Without `ipv4 unicast` in the command the summary is nested one level deeper.
    let v = v.get("ipv4Unicast").unwrap_or(&v);
    let peers: Vec<&serde_json::Value> = v
        .get("peers")
        .and_then(|p| p.as_object())
        .map(|p| p.values().collect())
        .unwrap_or_default();
    let established = peers
        .iter()
        .filter(|p| p.get("state").and_then(|s| s.as_str()) == Some("Established"))
        .count();
    let received = peers
        .iter()
        .filter_map(|p| p.get("pfxRcd").and_then(|n| n.as_u64()))
        .sum::<u64>() as usize;
    let loc_rib =
        v.get("tableVersion")
            .and_then(|n| n.as_u64())
            .ok_or_else(|| io::Error::other("FRR's summary has no tableVersion"))? as usize;
    Ok(Progress {
        established,
        loc_rib,
        fib: None,
        received: Some(received),
    })
}

/// GoBGP `gobgp neighbor -j` and `gobgp global rib summary -j`.
pub fn parse_gobgp(neighbors: &str, rib: &str) -> io::Result<Progress> {
    let n: serde_json::Value = serde_json::from_str(neighbors).map_err(io::Error::other)?;
    let established = n
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|p| {
                    let s = &p["state"]["session_state"];
                    s.as_u64() == Some(6) || s.as_str() == Some("established")
                })
                .count()
        })
        .unwrap_or(0);
    let r: serde_json::Value = serde_json::from_str(rib).map_err(io::Error::other)?;
    let loc_rib = r
        .get("num_destination")
        .and_then(|n| n.as_u64())
        .unwrap_or(0) as usize;
    Ok(Progress {
        established,
        loc_rib,
        fib: None,
        received: None,
    })
}

/// Our daemon's status detail: `established`, `loc_rib`, `fib_installed`.
pub fn parse_topolab(detail: &serde_json::Value) -> io::Result<Progress> {
    let get = |k: &str| detail.get(k).and_then(|v| v.as_u64());
    let loc_rib = get("loc_rib")
        .ok_or_else(|| io::Error::other("the bgp daemon's status has no loc_rib"))?
        as usize;
    Ok(Progress {
        established: get("established").unwrap_or(0) as usize,
        loc_rib,
        fib: Some(get("fib_installed").unwrap_or(0) as usize),
        received: None,
    })
}

// ---------------------------------------------------------------------------------------
// Process accounting.

/// utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
pub(super) fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu(&s)
}

fn parse_stat_cpu(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces: fields count from after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': field 3 is f[0], so utime (14) is f[11], stime (15) f[12].
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub(super) fn clock_ticks() -> f64 {
    // SAFETY: sysconf with a constant name.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Peak resident set (VmHWM) of a process, KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
#[path = "bench_bgp_tests.rs"]
mod tests;
