//! `topolab bench services`: what built-in daemons cost. For each N, a lab of N hosts on one
//! switch, every host running the built-in `echo` daemon: the time until the lab is up and
//! every daemon answers ready on its control socket, the time to tear it down, and memory as
//! PSS (proportional set size: shared pages, such as the binary's text, are split between
//! the processes that map them) of the supervisor (this process) and of the daemons.

use crate::cli::out::{errln, outln};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use miette::{IntoDiagnostic, miette};
use serde::Serialize;

use topolab::daemon::{Request, Response};
use topolab::lab::{Lab, LabOptions};
use topolab::topology::Topology;

#[derive(Args)]
pub struct ServicesBench {
    /// Lab sizes (hosts, each running one echo daemon), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,500")]
    pub nodes: Vec<usize>,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Longest wait for every daemon to be ready, in seconds.
    #[arg(long, default_value_t = 120.0)]
    pub ready_timeout: f64,
}

#[derive(Serialize)]
struct Row {
    hosts: usize,
    /// `Lab::up` returned.
    up_s: f64,
    /// Every daemon answered ready on its control socket (from the start of `up`).
    ready_s: f64,
    down_s: f64,
    daemons: usize,
    supervisor_pss_mib: f64,
    daemons_pss_mib: f64,
    daemon_pss_mean_mib: f64,
    daemon_pss_max_mib: f64,
}

fn topology(n: usize) -> String {
    let mut y = String::from("name: bsvc\nnodes:\n  s1: {kind: switch}\n");
    for i in 1..=n {
        y.push_str(&format!(
            "  h{i}: {{run: [{{name: echo, daemon: echo, port: 7}}]}}\n"
        ));
    }
    y.push_str("links:\n");
    for i in 1..=n {
        y.push_str(&format!("  - [h{i}, s1]\n"));
    }
    y
}

/// PSS of a process in MiB, from `/proc/PID/smaps_rollup`.
fn pss_mib(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kb: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Asks every daemon socket under `dir` until all answer ready; returns their PIDs.
fn wait_ready(dir: &Path, expected: usize, timeout: Duration) -> miette::Result<Vec<u32>> {
    let deadline = Instant::now() + timeout;
    let mut ready = std::collections::BTreeMap::new();
    loop {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if ready.contains_key(&p) {
                    continue;
                }
                if let Ok(Response::Status(s)) =
                    topolab::daemon::call(&p, &Request::Status, Duration::from_secs(2))
                    && s.ready
                {
                    ready.insert(p, s.pid);
                }
            }
        }
        if ready.len() >= expected {
            return Ok(ready.into_values().collect());
        }
        if Instant::now() > deadline {
            return Err(miette!(
                "only {} of {expected} daemons answered ready within {:.0} s",
                ready.len(),
                timeout.as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub async fn run(b: ServicesBench) -> miette::Result<()> {
    let mut rows = Vec::new();
    for &n in &b.nodes {
        let topo = Topology::from_str(&topology(n), "bench-services.yaml")?;
        let started = Instant::now();
        let lab = Lab::up_with(
            &topo,
            LabOptions {
                name: Some(super::bench::lab_name()),
                ..Default::default()
            },
        )
        .await?;
        let up_s = started.elapsed().as_secs_f64();
        let dir = lab.run_dir().join("daemons");
        let timeout = Duration::from_secs_f64(b.ready_timeout);
        let pids = tokio::task::spawn_blocking(move || wait_ready(&dir, n, timeout))
            .await
            .into_diagnostic()?;
        let pids = match pids {
            Ok(p) => p,
            Err(e) => {
                lab.down().await?;
                return Err(e);
            }
        };
        let ready_s = started.elapsed().as_secs_f64();
        // Let start-up allocations settle before measuring an idle daemon.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let pss: Vec<f64> = pids.iter().filter_map(|p| pss_mib(*p)).collect();
        let supervisor = pss_mib(std::process::id()).unwrap_or(0.0);
        let t = Instant::now();
        lab.down().await?;
        let down_s = t.elapsed().as_secs_f64();
        let total: f64 = pss.iter().sum();
        let row = Row {
            hosts: n,
            up_s,
            ready_s,
            down_s,
            daemons: pss.len(),
            supervisor_pss_mib: supervisor,
            daemons_pss_mib: total,
            daemon_pss_mean_mib: total / pss.len().max(1) as f64,
            daemon_pss_max_mib: pss.iter().copied().fold(0.0, f64::max),
        };
        if !b.json {
            errln!(
                "{n} hosts: ready in {:.2} s, {} daemons, {:.2} MiB PSS each",
                row.ready_s,
                row.daemons,
                row.daemon_pss_mean_mib
            );
        }
        rows.push(row);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let json = serde_json::to_string_pretty(&rows).into_diagnostic()?;
    if let Some(p) = &b.out {
        std::fs::write(p, &json).into_diagnostic()?;
    }
    if b.json {
        outln!("{json}");
        return Ok(());
    }
    outln!(
        "{:>6} {:>8} {:>9} {:>8} {:>8} {:>14} {:>13} {:>14} {:>13}",
        "hosts",
        "up s",
        "ready s",
        "down s",
        "daemons",
        "superv. MiB",
        "daemons MiB",
        "per daemon MiB",
        "max daemon"
    );
    for r in &rows {
        outln!(
            "{:>6} {:>8.2} {:>9.2} {:>8.2} {:>8} {:>14.2} {:>13.1} {:>14.2} {:>13.2}",
            r.hosts,
            r.up_s,
            r.ready_s,
            r.down_s,
            r.daemons,
            r.supervisor_pss_mib,
            r.daemons_pss_mib,
            r.daemon_pss_mean_mib,
            r.daemon_pss_max_mib
        );
    }
    outln!("memory is PSS (shared pages split between the processes that map them)");
    Ok(())
}
