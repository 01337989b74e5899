//! `topolab bench up`: how fast labs are built and torn down, next to the kernel floor.
//!
//! For each size N and shape, bring a generated lab up and down `--repeat` times inside this
//! process (which is then the supervisor, so its RSS is the supervisor's) and keep the
//! median. For `star`, the same run times `../shared/bench/kernel-floor.sh N` — the same
//! shape built the fastest simple way — and reports our times as multiples of it.

use crate::cli::out::{errln, outln};
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use miette::{IntoDiagnostic, miette};
use serde::Serialize;

use topolab::lab::{Lab, LabOptions};
use topolab::topology::Topology;

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Lab build and teardown speed, with the kernel floor for comparison.
    Up(UpBench),
    /// Link fidelity: configured vs measured throughput, delay, jitter, loss and rate.
    Links(super::bench_links::LinksBench),
    /// The built-in TCP throughput probe next to iperf3 on a plain veth.
    Probes(super::bench_probes::ProbesBench),
    /// Built-in daemons: up time and memory (PSS) for N hosts each running `echo`.
    Services(super::bench_services::ServicesBench),
    /// The OpenFlow controller, cbench-style: ours and os-ken's responses per second.
    Openflow(super::bench_openflow::OpenflowBench),
    /// BGP full-table loading, bgperf-style: ours, BIRD, FRR and GoBGP as receivers.
    Bgp(super::bench_bgp::BgpBench),
    /// The web view: page weight, time to first draw, the supervisor's CPU while serving.
    Web(super::bench_web::WebBench),
    /// The shard planner: plan time and cut for a fat tree and a 10,000-node graph over
    /// 4, 8 and 16 shards, next to METIS's own gpmetis on the same graph.
    Plan(super::bench_plan::PlanBench),
}

#[derive(Args)]
pub struct UpBench {
    /// Lab sizes (nodes), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,500,1000")]
    pub nodes: Vec<usize>,
    /// Shapes, comma-separated: star (N hosts on one switch), linear (N/2 switches in a
    /// chain, one host each), fattree (largest k whose fat tree has at most N nodes).
    #[arg(long, value_delimiter = ',', default_value = "star")]
    pub shape: Vec<Shape>,
    /// Runs per configuration (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The kernel-floor script (default: ../shared/bench/kernel-floor.sh, or
    /// $TOPOLAB_KERNEL_FLOOR). Skipped with a note if it cannot be found.
    #[arg(long)]
    pub floor: Option<PathBuf>,
    /// Threads creating namespaces (default: one per CPU, at most 2).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Seconds to wait before each timed run (then until the CPUs are idle), so that the
    /// kernel's background cleanup of the previous run's namespaces does not slow the next
    /// one down.
    #[arg(long, default_value_t = 3.0)]
    pub settle: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    Star,
    Linear,
    Fattree,
}

#[derive(Serialize)]
struct Row {
    shape: Shape,
    requested: usize,
    nodes: usize,
    links: usize,
    up_s: f64,
    down_s: f64,
    up_nodes_per_s: f64,
    down_nodes_per_s: f64,
    rss_mib: f64,
    floor_up_s: Option<f64>,
    floor_down_s: Option<f64>,
    up_vs_floor: Option<f64>,
    down_vs_floor: Option<f64>,
}

pub async fn run(cmd: BenchCmd) -> miette::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut sigint = signal(SignalKind::interrupt()).into_diagnostic()?;
    let mut sigterm = signal(SignalKind::terminate()).into_diagnostic()?;
    let mut bench = tokio::spawn(async move {
        match cmd {
            BenchCmd::Up(b) => up(b).await,
            BenchCmd::Links(b) => super::bench_links::run(b).await,
            BenchCmd::Probes(b) => super::bench_probes::run(b).await,
            BenchCmd::Services(b) => super::bench_services::run(b).await,
            BenchCmd::Openflow(b) => super::bench_openflow::run(b).await,
            BenchCmd::Bgp(b) => super::bench_bgp::run(b).await,
            BenchCmd::Web(b) => super::bench_web::run(b).await,
            BenchCmd::Plan(b) => super::bench_plan::run(b).await,
        }
    });
    tokio::select! {
        r = &mut bench => r.into_diagnostic()?,
        _ = sigint.recv() => interrupted(bench).await,
        _ = sigterm.recv() => interrupted(bench).await,
    }
}

/// The name of every lab a bench brings up (one at a time): `tlb<pid>`.
pub(super) fn lab_name() -> String {
    format!("tlb{}", std::process::id())
}

/// Ctrl-C during a bench: stop it and remove its lab from the journal, then exit 130.
async fn interrupted(bench: tokio::task::JoinHandle<miette::Result<()>>) -> ! {
    errln!("interrupted: tearing down the bench's lab…");
    bench.abort();
    let _ = bench.await;
    let ok = topolab::lab::teardown::teardown_leftovers(&[lab_name()]);
    std::process::exit(if ok { 130 } else { 1 });
}

fn generator(shape: Shape, n: usize) -> String {
    match shape {
        Shape::Star => format!("star: {{hosts: {n}}}"),
        Shape::Linear => format!("linear: {{switches: {}}}", (n / 2).max(1)),
        Shape::Fattree => {
            let mut k = 2;
            while fattree_nodes(k + 2) <= n {
                k += 2;
            }
            format!("fattree: {{k: {k}}}")
        }
    }
}

fn fattree_nodes(k: usize) -> usize {
    k * k * k / 4 + 5 * k * k / 4
}

async fn up(b: UpBench) -> miette::Result<()> {
    let floor = floor_script(b.floor.clone());
    if floor.is_none() && !b.json {
        errln!("note: kernel-floor.sh not found; floor columns stay empty (see --floor)");
    }
    let mut rows = Vec::new();
    for &n in &b.nodes {
        let floor_times = match (&floor, b.shape.contains(&Shape::Star)) {
            (Some(script), true) => Some(median_floor(script, n, b.repeat, b.settle)?),
            _ => None,
        };
        for &shape in &b.shape {
            let yaml = format!("name: bench{n}\ngenerate:\n  - {}\n", generator(shape, n));
            let topo = Topology::from_str(&yaml, "<bench>")?;
            let name = lab_name();
            let mut ups = Vec::new();
            let mut downs = Vec::new();
            let mut rss = 0.0f64;
            let (mut nodes, mut links) = (0, 0);
            for _ in 0..b.repeat.max(1) {
                settle(b.settle);
                let plan = topolab::compile::compile(&topo, &name)?;
                nodes = plan.nodes.len();
                links = plan.veths.len();
                let mut opts = LabOptions::default();
                if let Some(w) = b.workers {
                    opts.workers = w;
                }
                let (up_s, down_s, r) = tokio::task::spawn_blocking(move || {
                    let t = Instant::now();
                    let lab = Lab::up_plan(plan, "<bench>", &opts)?;
                    let up_s = t.elapsed().as_secs_f64();
                    let r = rss_mib();
                    let t = Instant::now();
                    lab.down_blocking().map_err(topolab::lab::LabError::from)?;
                    Ok::<_, miette::Report>((up_s, t.elapsed().as_secs_f64(), r))
                })
                .await
                .into_diagnostic()??;
                ups.push(up_s);
                downs.push(down_s);
                rss = rss.max(r);
            }
            let (up_s, down_s) = (median(&mut ups), median(&mut downs));
            let f = floor_times.filter(|_| shape == Shape::Star);
            rows.push(Row {
                shape,
                requested: n,
                nodes,
                links,
                up_s,
                down_s,
                up_nodes_per_s: nodes as f64 / up_s,
                down_nodes_per_s: nodes as f64 / down_s,
                rss_mib: rss,
                floor_up_s: f.map(|f| f.0),
                floor_down_s: f.map(|f| f.1),
                up_vs_floor: f.map(|f| up_s / f.0),
                down_vs_floor: f.map(|f| down_s / f.1),
            });
            if !b.json {
                errln!("  done: {shape:?} {n}", shape = shape_name(shape));
            }
        }
    }
    let json = serde_json::to_string_pretty(&rows).into_diagnostic()?;
    if let Some(p) = &b.out {
        std::fs::write(p, &json).into_diagnostic()?;
    }
    if b.json {
        outln!("{json}");
    } else {
        print_table(&rows, b.repeat);
    }
    Ok(())
}

fn shape_name(s: Shape) -> &'static str {
    match s {
        Shape::Star => "star",
        Shape::Linear => "linear",
        Shape::Fattree => "fattree",
    }
}

fn print_table(rows: &[Row], repeat: usize) {
    outln!(
        "{:<8} {:>6} {:>6} {:>8} {:>8} {:>9} {:>9} {:>8} {:>9} {:>9} {:>7} {:>7}",
        "shape",
        "nodes",
        "links",
        "up s",
        "down s",
        "up n/s",
        "down n/s",
        "RSS MiB",
        "floor up",
        "floor dn",
        "up ×",
        "down ×"
    );
    let opt = |v: Option<f64>, p: usize| v.map(|x| format!("{x:.p$}")).unwrap_or("-".into());
    for r in rows {
        outln!(
            "{:<8} {:>6} {:>6} {:>8.3} {:>8.3} {:>9.0} {:>9.0} {:>8.1} {:>9} {:>9} {:>7} {:>7}",
            shape_name(r.shape),
            r.nodes,
            r.links,
            r.up_s,
            r.down_s,
            r.up_nodes_per_s,
            r.down_nodes_per_s,
            r.rss_mib,
            opt(r.floor_up_s, 3),
            opt(r.floor_down_s, 3),
            opt(r.up_vs_floor, 2),
            opt(r.down_vs_floor, 2),
        );
    }
    outln!("(median of {repeat} runs; × = our time / kernel floor, same N, same run)");
}

fn floor_script(arg: Option<PathBuf>) -> Option<PathBuf> {
    arg.or_else(|| std::env::var_os("TOPOLAB_KERNEL_FLOOR").map(PathBuf::from))
        .or_else(|| Some(PathBuf::from("../shared/bench/kernel-floor.sh")))
        .filter(|p| p.exists())
}

/// Median (up, down) seconds of the floor script over `repeat` runs.
fn median_floor(
    script: &PathBuf,
    n: usize,
    repeat: usize,
    settle_s: f64,
) -> miette::Result<(f64, f64)> {
    let (mut ups, mut downs) = (Vec::new(), Vec::new());
    for _ in 0..repeat.max(1) {
        settle(settle_s);
        let out = std::process::Command::new("bash")
            .arg(script)
            .arg(n.to_string())
            .output()
            .into_diagnostic()?;
        if !out.status.success() {
            return Err(miette!(
                "{} {n} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).into_diagnostic()?;
        ups.push(v["up_s"].as_f64().unwrap_or(f64::NAN));
        downs.push(v["down_s"].as_f64().unwrap_or(f64::NAN));
    }
    Ok((median(&mut ups), median(&mut downs)))
}

/// Waits `s` seconds, then until the kernel has finished freeing earlier namespaces and the
/// machine is idle (at most 60 s more). The kernel destroys deleted namespaces in the
/// background, holding locks that new namespaces need; a timed run that overlaps that
/// work measures the previous run, not itself (seen here: 1000 namespaces in 0.9 s, or in
/// 6.8 s right after another lab of 1000 was deleted). The sign that the cleanup is over:
/// making a namespace is fast again.
fn settle(s: f64) {
    if s <= 0.0 {
        return;
    }
    std::thread::sleep(std::time::Duration::from_secs_f64(s));
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let mut fast = 0;
    while fast < 3 && Instant::now() < deadline {
        if netns_creation_time() < std::time::Duration::from_millis(5) {
            fast += 1;
        } else {
            fast = 0;
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    while Instant::now() < deadline {
        let a = cpu_jiffies();
        std::thread::sleep(std::time::Duration::from_millis(250));
        let b = cpu_jiffies();
        if let (Some((busy_a, all_a)), Some((busy_b, all_b))) = (a, b) {
            let all = all_b.saturating_sub(all_a).max(1);
            if (busy_b.saturating_sub(busy_a)) * 100 < all * 5 {
                return;
            }
        } else {
            return;
        }
    }
}

/// How long creating one (unnamed, throwaway) network namespace takes right now.
fn netns_creation_time() -> std::time::Duration {
    std::thread::spawn(|| {
        let t = Instant::now();
        let _ = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET);
        t.elapsed()
    })
    .join()
    .unwrap_or(std::time::Duration::MAX)
}

/// (busy, total) jiffies of all CPUs from /proc/stat.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Resident set of this process (the supervisor, holding the lab it just built), MiB.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
