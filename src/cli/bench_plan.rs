//! `topolab bench plan`: the shard planner's time and cut, next to METIS's own `gpmetis`.
//!
//! Graphs: a fat tree k=16 (1,344 nodes, through the whole path: topology → compile →
//! planner graph) and a 10,000-node ISP-like graph generated here deterministically
//! (a meshed core, aggregation routers dual-homed to it, access switches, hosts; link
//! weights by rate as the planner gives them). For each shard count the planner
//! partitions the graph (timed: [`partition::partition`] on the graph); then the same
//! graph is written in METIS's format and `gpmetis` (Debian's `metis`) runs with the same
//! options (recursive bisection up to 8 parts, k-way above; `-ufactor=30 -seed=1`). Both
//! cuts are computed here from the part vectors, so they are counted the same way.
//! gpmetis is a bench-only tool: without it the table has only our columns.

use crate::cli::out::{errln, outln};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use miette::{IntoDiagnostic, miette};
use serde::Serialize;

use topolab::compile::partition::{self, Graph, RECURSIVE_UP_TO, SEED, UFACTOR};
use topolab::compile::shard::{self, UNLIMITED_LINK_WEIGHT};
use topolab::topology::Topology;

#[derive(Args)]
pub struct PlanBench {
    /// Shard counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "4,8,16")]
    pub shards: Vec<u32>,
    /// Nodes of the generated ISP-like graph.
    #[arg(long, default_value_t = 10_000)]
    pub isp_nodes: usize,
    /// Fat tree size k (even).
    #[arg(long, default_value_t = 16)]
    pub fattree_k: u32,
    /// Runs per configuration (the median time is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// The gpmetis binary.
    #[arg(long, default_value = "gpmetis")]
    pub gpmetis: PathBuf,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Serialize)]
struct Row {
    graph: String,
    nodes: usize,
    links: usize,
    shards: u32,
    /// Topology → Plan (fat tree only), once.
    compile_ms: Option<f64>,
    ours_ms: f64,
    ours_cut_links: usize,
    ours_cut_weight: u64,
    /// Heaviest shard over the mean shard weight.
    ours_imbalance: f64,
    gpmetis_ms: Option<f64>,
    gpmetis_cut_links: Option<usize>,
    gpmetis_cut_weight: Option<u64>,
    gpmetis_imbalance: Option<f64>,
}

pub async fn run(b: PlanBench) -> miette::Result<()> {
    tokio::task::spawn_blocking(move || bench(b))
        .await
        .into_diagnostic()?
}

fn bench(b: PlanBench) -> miette::Result<()> {
    let dir = std::env::temp_dir().join(format!("topolab-bench-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).into_diagnostic()?;
    let result = rows(&b, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let rows = result?;
    let json = serde_json::to_string_pretty(&rows).into_diagnostic()?;
    if let Some(out) = &b.out {
        std::fs::write(out, format!("{json}\n"))
            .map_err(|e| miette!("cannot write {}: {e}", out.display()))?;
    }
    if b.json {
        outln!("{json}");
        return Ok(());
    }
    outln!(
        "{:<14} {:>6} {:>6} {:>6} {:>9} {:>9} {:>12} {:>6} {:>9} {:>9} {:>12} {:>6}",
        "graph",
        "nodes",
        "links",
        "shards",
        "ours ms",
        "cut",
        "cut weight",
        "imb",
        "gpm ms",
        "gpm cut",
        "gpm weight",
        "imb"
    );
    let opt = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    for r in &rows {
        outln!(
            "{:<14} {:>6} {:>6} {:>6} {:>9.1} {:>9} {:>12} {:>6.3} {:>9} {:>9} {:>12} {:>6}",
            r.graph,
            r.nodes,
            r.links,
            r.shards,
            r.ours_ms,
            r.ours_cut_links,
            r.ours_cut_weight,
            r.ours_imbalance,
            opt(r.gpmetis_ms.map(|v| format!("{v:.1}"))),
            opt(r.gpmetis_cut_links.map(|v| v.to_string())),
            opt(r.gpmetis_cut_weight.map(|v| v.to_string())),
            opt(r.gpmetis_imbalance.map(|v| format!("{v:.3}"))),
        );
    }
    if let Some(ft) = rows.iter().find_map(|r| r.compile_ms) {
        outln!("fat tree compile (topology → Plan): {ft:.1} ms");
    }
    Ok(())
}

fn rows(b: &PlanBench, dir: &Path) -> miette::Result<Vec<Row>> {
    let mut graphs = Vec::new();
    // The fat tree, through the planner's own path.
    let yaml = format!(
        "name: bft\ngenerate:\n  - fattree: {{k: {}}}\n",
        b.fattree_k
    );
    let t = Topology::from_str(&yaml, "bench-fattree.yaml")?;
    let start = Instant::now();
    let plan = topolab::compile::compile(&t, "bft")?;
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;
    graphs.push((
        format!("fattree k={}", b.fattree_k),
        shard::lab_graph(&plan).graph,
        Some(compile_ms),
    ));
    graphs.push((format!("isp {}", b.isp_nodes), isp(b.isp_nodes), None));

    let have_gpmetis = std::process::Command::new(&b.gpmetis)
        .arg("-help")
        .output()
        .is_ok();
    if !have_gpmetis {
        errln!(
            "note: {} not found (Debian: apt-get install metis); gpmetis columns left empty",
            b.gpmetis.display()
        );
    }
    let mut rows = Vec::new();
    for (name, g, compile_ms) in graphs {
        let file = dir.join("graph.metis");
        write_metis(&g, &file)?;
        for &k in &b.shards {
            let targets = vec![1; k as usize];
            let pins = vec![None; g.vertex.len()];
            let mut times = Vec::new();
            let mut part = Vec::new();
            for _ in 0..b.repeat.max(1) {
                let start = Instant::now();
                part = partition::partition(&g, &targets, &pins)
                    .map_err(|e| miette!("{e}"))?
                    .part;
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
            let (gpm_ms, gpm_part) = if have_gpmetis {
                let mut times = Vec::new();
                let mut part = Vec::new();
                for _ in 0..b.repeat.max(1) {
                    let (ms, p) = gpmetis(&b.gpmetis, &file, k)?;
                    times.push(ms);
                    part = p;
                }
                (Some(median(times)), Some(part))
            } else {
                (None, None)
            };
            rows.push(Row {
                graph: name.clone(),
                nodes: g.vertex.len(),
                links: g.edges.len(),
                shards: k,
                compile_ms,
                ours_ms: median(times),
                ours_cut_links: cut_links(&g, &part),
                ours_cut_weight: g.cut(&part),
                ours_imbalance: imbalance(&g, &part, k),
                gpmetis_ms: gpm_ms,
                gpmetis_cut_links: gpm_part.as_ref().map(|p| cut_links(&g, p)),
                gpmetis_cut_weight: gpm_part.as_ref().map(|p| g.cut(p)),
                gpmetis_imbalance: gpm_part.as_ref().map(|p| imbalance(&g, p, k)),
            });
        }
    }
    Ok(rows)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn cut_links(g: &Graph, part: &[u32]) -> usize {
    g.edges
        .keys()
        .filter(|(u, v)| part[*u as usize] != part[*v as usize])
        .count()
}

fn imbalance(g: &Graph, part: &[u32], k: u32) -> f64 {
    let w = g.part_weights(part, k as usize);
    let total: u64 = w.iter().sum();
    let max = *w.iter().max().unwrap_or(&0);
    max as f64 * f64::from(k) / total.max(1) as f64
}

/// A 10,000-node ISP-like graph (for `n` = 10,000; other sizes scale): 0.4 % core routers
/// (a ring plus three chords each, 10 Gbit/s), 3.6 % aggregation routers (two core
/// uplinks, 10 Gbit/s), 16 % access switches (one or two aggregation uplinks, 1 Gbit/s),
/// the rest hosts (one access link, 100 Mbit/s). Routers weigh 4 (a BGP speaker), the rest
/// 1. Pseudo-random choices come from a fixed LCG: the same graph every run.
fn isp(n: usize) -> Graph {
    let core = (n / 250).max(3);
    let agg = (n * 36 / 1000).max(1);
    let access = (n * 16 / 100).max(1);
    let hosts = n.saturating_sub(core + agg + access);
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |m: usize| {
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((rng >> 33) % m as u64) as u32
    };
    let mut vertex = vec![4; core + agg];
    vertex.resize(core + agg + access + hosts, 1);
    let mut g = Graph::new(vertex);
    let w_core = UNLIMITED_LINK_WEIGHT;
    for c in 0..core {
        g.add_edge(c as u32, ((c + 1) % core) as u32, w_core);
        for _ in 0..3 {
            g.add_edge(c as u32, next(core), w_core);
        }
    }
    let agg0 = core;
    for a in 0..agg {
        let v = (agg0 + a) as u32;
        g.add_edge(v, next(core), w_core);
        g.add_edge(v, next(core), w_core);
    }
    let acc0 = core + agg;
    for s in 0..access {
        let v = (acc0 + s) as u32;
        // Access switches hang off nearby aggregation routers (a region).
        let home = (s * agg / access) as u32;
        g.add_edge(v, agg0 as u32 + home, 1000);
        if next(3) == 0 {
            g.add_edge(v, agg0 as u32 + (home + 1) % agg as u32, 1000);
        }
    }
    let host0 = core + agg + access;
    for h in 0..hosts {
        let s = (h * access / hosts.max(1)) as u32;
        g.add_edge((host0 + h) as u32, acc0 as u32 + s, 100);
    }
    g
}

/// Writes `g` in METIS's graph format (`fmt 011`: vertex and edge weights).
fn write_metis(g: &Graph, path: &Path) -> miette::Result<()> {
    use std::fmt::Write;
    let (xadj, adjncy, adjwgt) = g.csr();
    let mut s = String::new();
    let _ = writeln!(s, "{} {} 011", g.vertex.len(), g.edges.len());
    for v in 0..g.vertex.len() {
        let _ = write!(s, "{}", g.vertex[v]);
        for i in xadj[v] as usize..xadj[v + 1] as usize {
            let _ = write!(s, " {} {}", adjncy[i] + 1, adjwgt[i]);
        }
        s.push('\n');
    }
    std::fs::write(path, s).into_diagnostic()
}

/// Runs gpmetis on `file` for `k` parts with the planner's options; its wall time in ms
/// and the part vector it wrote.
fn gpmetis(bin: &Path, file: &Path, k: u32) -> miette::Result<(f64, Vec<u32>)> {
    let ptype = if k as usize <= RECURSIVE_UP_TO {
        "rb"
    } else {
        "kway"
    };
    let start = Instant::now();
    let out = std::process::Command::new(bin)
        .arg(format!("-ptype={ptype}"))
        .arg(format!("-ufactor={UFACTOR}"))
        .arg(format!("-seed={SEED}"))
        .arg(file)
        .arg(k.to_string())
        .output()
        .into_diagnostic()?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        return Err(miette!(
            "gpmetis failed: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    let mut part_file = file.as_os_str().to_owned();
    part_file.push(format!(".part.{k}"));
    let text = std::fs::read_to_string(&part_file).into_diagnostic()?;
    let part = text
        .lines()
        .map(|l| l.trim().parse::<u32>().into_diagnostic())
        .collect::<miette::Result<Vec<u32>>>()?;
    Ok((ms, part))
}
