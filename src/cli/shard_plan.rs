//! `topolab plan FILE --shards N | --machines FILE`: split a lab over machines and print
//! the split; `--out` writes the bundle agents start from (a `ShardedPlan`, version 1).

use std::path::{Path, PathBuf};
use std::time::Instant;

use miette::IntoDiagnostic;
use topolab::compile::shard::{self, Machine, ShardPlan, ShardedPlan};

use crate::cli::out::outln;

/// The split-related flags of `topolab plan`.
#[derive(clap::Args, Default)]
pub struct ShardArgs {
    /// Split the lab over N shards (machines `m0`…, underlay 10.255.0.k+1, MTU 9000 unless
    /// --underlay-mtu says otherwise).
    #[arg(long, value_name = "N", conflicts_with = "machines")]
    pub shards: Option<u32>,
    /// Split the lab over the machines listed in this YAML file
    /// (`machines: [{name, underlay, mtu, weight}]`), shard k on the k-th machine.
    #[arg(long, value_name = "FILE")]
    pub machines: Option<PathBuf>,
    /// With --shards: the underlay MTU of the made-up machines (default 9000, what the
    /// local launcher builds). A cross-shard link needs its MTU + 50.
    #[arg(long, value_name = "BYTES", requires = "shards")]
    pub underlay_mtu: Option<u32>,
    /// Write the bundle (the whole Plan and the split) for `topolab agent --plan`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

impl ShardArgs {
    /// Whether a split was asked for (`--out` alone asks, and is told what it lacks).
    pub fn wanted(&self) -> bool {
        self.shards.is_some() || self.machines.is_some() || self.out.is_some()
    }

    /// The machines the flags describe.
    pub fn machines(&self) -> miette::Result<Vec<Machine>> {
        match (&self.machines, self.shards) {
            (Some(path), _) => Ok(topolab::compile::machines::load(path)?),
            (None, Some(n)) => {
                shard::default_machines(n, self.underlay_mtu.unwrap_or(shard::DEFAULT_UNDERLAY_MTU))
                    .map_err(|e| miette::miette!("{e}"))
            }
            (None, None) => Err(miette::miette!(
                "--out writes a split: give --shards N or --machines FILE"
            )),
        }
    }
}

/// Plans the split of `t` as lab `name`, prints it (text or JSON) and writes `--out`.
pub fn plan(
    t: &topolab::topology::Topology,
    name: &str,
    args: &ShardArgs,
    json: bool,
) -> miette::Result<()> {
    let machines = args.machines()?;
    let start = Instant::now();
    let sharded = shard::plan_shards(t, name, &machines)?;
    let took = start.elapsed();
    if let Some(out) = &args.out {
        write_bundle(out, &sharded)?;
    }
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&sharded.shards).into_diagnostic()?
        );
    } else {
        print_summary(&sharded, took.as_secs_f64() * 1e3);
        if let Some(out) = &args.out {
            outln!("bundle written to {}", out.display());
        }
    }
    Ok(())
}

fn write_bundle(path: &Path, sharded: &ShardedPlan) -> miette::Result<()> {
    let text = serde_json::to_string(sharded).into_diagnostic()?;
    std::fs::write(path, text + "\n")
        .map_err(|e| miette::miette!("cannot write {}: {e}", path.display()))
}

/// The human summary: per shard its machine, nodes and weight; the cut links.
fn summary(sharded: &ShardedPlan) -> String {
    use std::fmt::Write;
    let s: &ShardPlan = &sharded.shards;
    let plan = &sharded.plan;
    let mut w = String::new();
    let k = s.machines.len();
    let _ = writeln!(
        w,
        "lab {}: {} node{} over {k} shard{} — method {}, {} cross-shard link{}, cut weight {}",
        s.lab,
        s.assign.len(),
        plural(s.assign.len()),
        plural(k),
        s.method,
        s.cross.len(),
        plural(s.cross.len()),
        s.cut_weight,
    );
    let mut nodes: Vec<Vec<&str>> = vec![Vec::new(); k];
    let mut weight = vec![0u64; k];
    for n in plan.user_nodes() {
        if let Some(&sh) = s.assign.get(&n.name) {
            nodes[sh as usize].push(&n.name);
            weight[sh as usize] += u64::from(shard::node_weight(n));
        }
    }
    let _ = writeln!(
        w,
        "{:<6} {:<16} {:<26} {:>6} {:>7} {:>6} {:>12}",
        "shard", "machine", "underlay", "mtu", "weight", "nodes", "node weight"
    );
    for (i, m) in s.machines.iter().enumerate() {
        let _ = writeln!(
            w,
            "{:<6} {:<16} {:<26} {:>6} {:>7} {:>6} {:>12}",
            i,
            m.name,
            m.underlay,
            m.mtu,
            m.weight,
            nodes[i].len(),
            weight[i]
        );
    }
    for (i, list) in nodes.iter().enumerate() {
        let _ = writeln!(w, "shard {i}: {}", list.join(" "));
    }
    if !s.cross.is_empty() {
        let _ = writeln!(w, "cross-shard links (VXLAN):");
        for c in &s.cross {
            let l = &plan.links[c.link];
            let _ = writeln!(
                w,
                "  {} — {}  shards {} — {}  vni {}  port {}  mtu {}",
                end(plan, l.a),
                end(plan, l.b),
                c.a_shard,
                c.b_shard,
                c.vni,
                c.port,
                c.mtu
            );
        }
    }
    let _ = writeln!(w, "agents' control port: {}", s.control_port);
    w
}

fn end(plan: &topolab::compile::Plan, r: topolab::compile::IfaceRef) -> String {
    format!("{}:{}", plan.nodes[r.node].name, plan.iface(r).name)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn print_summary(sharded: &ShardedPlan, ms: f64) {
    crate::cli::out::out!("{}", summary(sharded));
    outln!("planned in {ms:.1} ms");
}
