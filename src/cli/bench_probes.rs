//! `topolab bench probes`: the built-in TCP throughput probe next to iperf3 on the same
//! plain veth, in the same run, alternating (iperf3, built-in) `--repeat` times.
//! Both use one stream and the cubic congestion control.
//!
//! Then the `pingall` reachability sweep on N hosts on one switch (N × (N−1) pairs), for
//! each N of `--pingall-hosts`, beside Mininet's `pingAll()` on 20 hosts as issue 8 measured
//! it on the same machine (0.60 s; topolab then took 35.0 s).

use crate::cli::out::{errln, outln};
use std::time::Duration;

use clap::Args;
use miette::{IntoDiagnostic, miette};
use serde::Serialize;

use topolab::lab::{Lab, LabOptions};
use topolab::tools::tcp;
use topolab::topology::Topology;

#[derive(Args)]
pub struct ProbesBench {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Alternating rounds (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Host counts for the pingall rows (N hosts on one switch), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "20,200", value_parser = clap::value_parser!(u16).range(2..=1000))]
    pub pingall_hosts: Vec<u16>,
    /// Only the pingall rows (no iperf3 needed).
    #[arg(long)]
    pub pingall_only: bool,
    #[arg(long)]
    pub json: bool,
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// Mininet's `pingAll()` on 20 hosts on one switch, as issue 8 measured it beside topolab
/// on the same machine (not measured by this bench).
const MININET_PINGALL_20_S: f64 = 0.60;

#[derive(Serialize)]
struct PingallRow {
    hosts: usize,
    pairs: usize,
    reachable: usize,
    seconds: f64,
    /// Why pairs went unanswered, when the kernel said (a full neighbour table).
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

#[derive(Serialize)]
struct Row {
    round: usize,
    iperf3_gbit_s: f64,
    builtin_gbit_s: f64,
}

#[derive(Serialize)]
struct TcpReport {
    rounds: Vec<Row>,
    iperf3_median_gbit_s: f64,
    builtin_median_gbit_s: f64,
    ratio: f64,
    iperf3_version: String,
}

#[derive(Serialize)]
struct Report {
    tcp: Option<TcpReport>,
    pingall: Vec<PingallRow>,
    mininet_pingall_20_hosts_s: f64,
}

/// Times one pingall sweep over `n` hosts on one switch (the lab's bring-up not included).
async fn pingall_row(n: usize) -> miette::Result<PingallRow> {
    let yaml = format!(
        "name: pingall\naddressing: {{ipv6: false}}\ngenerate:\n  - star: {{hosts: {n}}}\n"
    );
    let topo = Topology::from_str(&yaml, "<bench probes>")?;
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(super::bench::lab_name()),
            ..Default::default()
        },
    )
    .await?;
    let plan = lab.plan().clone();
    let started = std::time::Instant::now();
    let pairs = tokio::task::spawn_blocking(move || {
        topolab::scenario::pingall_pairs(&plan, topolab::scenario::Family::Ipv4, false)
    })
    .await
    .into_diagnostic()?;
    let seconds = started.elapsed().as_secs_f64();
    lab.down().await?;
    let report = pairs.map_err(|e| miette!("pingall: {e}"))?;
    Ok(PingallRow {
        hosts: n,
        pairs: report.pairs.len(),
        reachable: report.pairs.iter().filter(|p| p.2).count(),
        seconds,
        hint: report.hint,
    })
}

pub async fn run(b: ProbesBench) -> miette::Result<()> {
    let tcp = if b.pingall_only {
        None
    } else {
        Some(tcp_rounds(&b).await?)
    };
    let mut pingall = Vec::new();
    for &n in &b.pingall_hosts {
        let row = pingall_row(usize::from(n)).await?;
        if !b.json {
            errln!("  pingall {} hosts: {:.3} s", row.hosts, row.seconds);
        }
        pingall.push(row);
    }
    let rep = Report {
        tcp,
        pingall,
        mininet_pingall_20_hosts_s: MININET_PINGALL_20_S,
    };
    let json = serde_json::to_string_pretty(&rep).into_diagnostic()?;
    if let Some(p) = &b.out {
        std::fs::write(p, &json).into_diagnostic()?;
    }
    if b.json {
        outln!("{json}");
        return Ok(());
    }
    if let Some(t) = &rep.tcp {
        outln!(
            "plain veth, one TCP stream, cubic, {} s per run, median of {}:",
            b.seconds,
            t.rounds.len()
        );
        outln!(
            "  iperf3 ({})  {:.2} Gbit/s",
            t.iperf3_version,
            t.iperf3_median_gbit_s
        );
        outln!(
            "  built-in probe       {:.2} Gbit/s  ({:.0}% of iperf3)",
            t.builtin_median_gbit_s,
            t.ratio * 100.0
        );
    }
    if !rep.pingall.is_empty() {
        outln!("pingall, N hosts on one switch, IPv4 (the sweep only, not bring-up):");
        for r in &rep.pingall {
            outln!(
                "  {:>4} hosts  {:>6} pairs  {:>6} reachable  {:.3} s",
                r.hosts,
                r.pairs,
                r.reachable,
                r.seconds
            );
        }
        outln!(
            "  Mininet pingAll(), 20 hosts: {MININET_PINGALL_20_S:.2} s (issue 8's measurement on its machine, not this run)"
        );
        for r in rep.pingall.iter().filter(|r| r.reachable < r.pairs) {
            outln!(
                "  note: {} hosts: {}",
                r.hosts,
                r.hint.as_deref().unwrap_or("some pairs did not answer")
            );
        }
    }
    Ok(())
}

async fn tcp_rounds(b: &ProbesBench) -> miette::Result<TcpReport> {
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    let version = std::process::Command::new("iperf3")
        .arg("--version")
        .output()
        .map_err(|e| {
            miette!(
                help = "install iperf3 (Debian package iperf3)",
                "iperf3: {e}"
            )
        })?;
    let version = String::from_utf8_lossy(&version.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let topo = Topology::from_str(
        "name: probes\naddressing: {ipv6: false}\nnodes: {h1: {}, h2: {}}\nlinks: [[h1, h2]]\n",
        "<bench probes>",
    )?;
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(super::bench::lab_name()),
            ..Default::default()
        },
    )
    .await?;
    let h2 = lab.plan().node("h2").expect("h2").clone();
    let h1ns = lab.plan().node("h1").expect("h1").netns.clone();
    let addr = h2.ifaces[0].addrs[0].addr();
    let mut rounds = Vec::new();
    for round in 0..b.repeat.max(1) {
        // iperf3: a one-shot server in h2, the client in h1, JSON out.
        let mut server = lab
            .node("h2")
            .command("iperf3")?
            .args(["-s", "-1", "-p", "5201"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .into_diagnostic()?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let out = lab
            .node("h1")
            .exec([
                "iperf3",
                "-c",
                &addr.to_string(),
                "-p",
                "5201",
                "-t",
                &format!("{}", b.seconds),
                "-C",
                "cubic",
                "-J",
            ])
            .await?;
        let _ = server.wait().await;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).into_diagnostic()?;
        let iperf = v["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .ok_or_else(|| miette!("iperf3 gave no result: {}", out.stderr_str()))?;
        let cfg = tcp::TcpConfig {
            duration: Duration::from_secs_f64(b.seconds),
            ..Default::default()
        };
        let (src, dst) = (h1ns.clone(), h2.netns.clone());
        let ours = tokio::task::spawn_blocking(move || tcp::throughput(&src, &dst, addr, &cfg))
            .await
            .into_diagnostic()?
            .into_diagnostic()?;
        if !b.json {
            errln!(
                "  round {}: iperf3 {:.2} Gbit/s, built-in {:.2} Gbit/s",
                round + 1,
                iperf / 1e9,
                ours.bits_per_s / 1e9
            );
        }
        rounds.push(Row {
            round: round + 1,
            iperf3_gbit_s: iperf / 1e9,
            builtin_gbit_s: ours.bits_per_s / 1e9,
        });
    }
    lab.down().await?;
    let i = median(rounds.iter().map(|r| r.iperf3_gbit_s).collect());
    let o = median(rounds.iter().map(|r| r.builtin_gbit_s).collect());
    Ok(TcpReport {
        rounds,
        iperf3_median_gbit_s: i,
        builtin_median_gbit_s: o,
        ratio: o / i,
        iperf3_version: version,
    })
}
