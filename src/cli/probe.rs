//! `topolab probe`: the built-in probes on the command line, between nodes of a running
//! lab. Runs in this process (as root): sockets are opened inside the nodes' namespaces.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Args, Subcommand};
use miette::{IntoDiagnostic, miette};

use topolab::compile::Plan;
use topolab::tools::{Stats, tcp, udp, wilson};

#[derive(Subcommand)]
pub enum ProbeCmd {
    /// TCP goodput from FROM to TO (iperf-like), with per-interval figures and retransmits.
    Throughput(ThroughputArgs),
    /// One-way delay, jitter and loss of UDP probes from FROM to TO.
    Udp(UdpArgs),
    /// ICMP echo from FROM to TO (IPv4, or IPv6 with -6), like ping.
    Ping(PingArgs),
}

#[derive(Args)]
pub struct PingArgs {
    #[command(flatten)]
    pub ends: Ends,
    #[arg(short = 'c', long, default_value_t = 5)]
    pub count: u32,
    /// Seconds between requests.
    #[arg(short = 'i', long, default_value_t = 0.2)]
    pub interval: f64,
    /// Payload bytes.
    #[arg(short = 's', long, default_value_t = 56)]
    pub size: usize,
}

#[derive(Args)]
pub struct Ends {
    pub lab: topolab::lab::LabName,
    /// Sending node.
    pub from: String,
    /// Receiving node, or `node:iface`, or an address of it.
    pub to: String,
    /// Use IPv6 addresses.
    #[arg(short = '6', long)]
    pub ipv6: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ThroughputArgs {
    #[command(flatten)]
    pub ends: Ends,
    /// Seconds to send.
    #[arg(short = 't', long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Parallel TCP streams.
    #[arg(short = 'P', long, default_value_t = 1)]
    pub streams: usize,
    /// Seconds per reported interval.
    #[arg(short = 'i', long, default_value_t = 1.0)]
    pub interval: f64,
    /// Congestion control (set explicitly; the machine default may be BBR).
    #[arg(long, default_value = "cubic")]
    pub congestion: String,
}

#[derive(Args)]
pub struct UdpArgs {
    #[command(flatten)]
    pub ends: Ends,
    /// Probes to send.
    #[arg(short = 'c', long, default_value_t = 1000)]
    pub count: u64,
    /// Milliseconds between probes.
    #[arg(short = 'i', long, default_value_t = 10.0)]
    pub interval_ms: f64,
    /// Payload bytes.
    #[arg(short = 's', long, default_value_t = 64)]
    pub size: usize,
}

/// Namespaces of the two ends and the destination address.
pub fn resolve(
    plan: &Plan,
    from: &str,
    to: &str,
    v6: bool,
) -> miette::Result<(String, String, IpAddr)> {
    let node = |n: &str| {
        plan.node(n).ok_or_else(|| {
            miette!(
                help = format!(
                    "nodes: {}",
                    plan.nodes
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "no node `{n}` in lab `{}`",
                plan.lab
            )
        })
    };
    let src = node(from)?.netns.clone();
    if let Ok(ip) = to.parse::<IpAddr>() {
        let owner = plan
            .node_owning(ip)
            .ok_or_else(|| miette!("no node of `{}` has address {ip}", plan.lab))?;
        return Ok((src, owner.netns.clone(), ip));
    }
    let (name, iface) = to.split_once(':').map_or((to, None), |(n, i)| (n, Some(i)));
    let dst = node(name)?;
    let ip = dst
        .ifaces
        .iter()
        .filter(|i| iface.is_none_or(|f| i.name == f))
        .flat_map(|i| &i.addrs)
        .chain(dst.loopback.iter())
        .map(|a| a.addr())
        .find(|a| a.is_ipv6() == v6)
        .ok_or_else(|| miette!("`{to}` has no IPv{} address", if v6 { 6 } else { 4 }))?;
    Ok((src, dst.netns.clone(), ip))
}

pub async fn run(cmd: ProbeCmd) -> miette::Result<()> {
    match cmd {
        ProbeCmd::Ping(a) => {
            let plan = super::labs::read_plan(&a.ends.lab)?;
            let (src, _, ip) = resolve(&plan, &a.ends.from, &a.ends.to, a.ends.ipv6)?;
            let cfg = topolab::tools::ping::PingConfig {
                count: a.count,
                interval: Duration::from_secs_f64(a.interval),
                size: a.size,
                wait: Duration::from_secs(1),
            };
            let r = tokio::task::spawn_blocking(move || topolab::tools::ping::ping(&src, ip, cfg))
                .await
                .into_diagnostic()?
                .into_diagnostic()?;
            if a.ends.json {
                println!("{}", serde_json::to_string_pretty(&r).into_diagnostic()?);
            } else {
                for (i, rtt) in r.rtts_ns.iter().enumerate() {
                    match rtt {
                        Some(ns) => println!("{ip}: seq={i} time={:.3} ms", *ns as f64 / 1e6),
                        None => println!("{ip}: seq={i} no reply"),
                    }
                }
                print!(
                    "{} sent, {} received, {:.1}% loss",
                    r.sent,
                    r.received,
                    r.loss * 100.0
                );
                match &r.rtt {
                    Some(s) => println!(
                        ", rtt min/avg/max/σ {:.3}/{:.3}/{:.3}/{:.3} ms",
                        s.min_ms, s.mean_ms, s.max_ms, s.std_ms
                    ),
                    None => println!(),
                }
            }
            if r.received == 0 {
                std::process::exit(1);
            }
        }
        ProbeCmd::Throughput(a) => {
            let plan = super::labs::read_plan(&a.ends.lab)?;
            let (src, dst, ip) = resolve(&plan, &a.ends.from, &a.ends.to, a.ends.ipv6)?;
            let cfg = tcp::TcpConfig {
                duration: Duration::from_secs_f64(a.seconds),
                streams: a.streams,
                interval: Duration::from_secs_f64(a.interval),
                congestion: a.congestion.clone(),
                ..Default::default()
            };
            let r = tokio::task::spawn_blocking(move || tcp::throughput(&src, &dst, ip, &cfg))
                .await
                .into_diagnostic()?
                .into_diagnostic()?;
            if a.ends.json {
                println!("{}", serde_json::to_string_pretty(&r).into_diagnostic()?);
            } else {
                for i in &r.intervals {
                    println!(
                        "{:>6.2}-{:<6.2} s  {:>10.3} Mbit/s",
                        i.start_s,
                        i.end_s,
                        i.bits_per_s / 1e6
                    );
                }
                println!(
                    "total {:.3} Mbit/s over {:.2} s ({} bytes), {} retransmits, {} stream(s), {}",
                    r.bits_per_s / 1e6,
                    r.seconds,
                    r.bytes,
                    r.retransmits,
                    a.streams,
                    a.congestion
                );
            }
        }
        ProbeCmd::Udp(a) => {
            let plan = super::labs::read_plan(&a.ends.lab)?;
            let (src, dst, ip) = resolve(&plan, &a.ends.from, &a.ends.to, a.ends.ipv6)?;
            let cfg = udp::ProbeConfig {
                count: a.count,
                interval: Duration::from_secs_f64(a.interval_ms / 1e3),
                size: a.size,
                linger: Duration::from_secs(1),
            };
            let r = tokio::task::spawn_blocking(move || {
                udp::one_way(&src, &dst, SocketAddr::new(ip, 0), cfg)
            })
            .await
            .into_diagnostic()?
            .into_diagnostic()?;
            if a.ends.json {
                println!("{}", serde_json::to_string_pretty(&r).into_diagnostic()?);
            } else {
                let lost = r.sent - r.received.min(r.sent);
                let (lo, hi) = wilson(lost, r.sent, 2.576);
                println!(
                    "{} sent, {} received, {:.3}% lost (99% interval {:.3}–{:.3}%), {} reordered, {} duplicates",
                    r.sent,
                    r.received,
                    r.loss() * 100.0,
                    lo * 100.0,
                    hi * 100.0,
                    r.reordered,
                    r.duplicates
                );
                if let Some(s) = Stats::of(&r.delays_ns) {
                    println!(
                        "one-way delay ms: min {:.3} mean {:.3} p50 {:.3} p99 {:.3} max {:.3}, σ (jitter) {:.3}",
                        s.min_ms, s.mean_ms, s.p50_ms, s.p99_ms, s.max_ms, s.std_ms
                    );
                }
            }
        }
    }
    Ok(())
}
