//! `topolab probe`: the built-in probes on the command line, between nodes of a running
//! lab. Runs in this process (as root): sockets are opened inside the nodes' namespaces.

use crate::cli::out::{out, outln};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Args, Subcommand};
use miette::{IntoDiagnostic, miette};

use topolab::compile::Plan;
use topolab::scenario::{Family, endpoint};
use topolab::tools::{Stats, limits, tcp, udp, wilson};

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
    /// Echo requests (1 to 100000).
    #[arg(short = 'c', long, default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(limits::PING_COUNT)))]
    pub count: u32,
    /// Seconds between requests (above 0, at most 60).
    #[arg(short = 'i', long, default_value_t = 0.2, value_parser = interval_s)]
    pub interval: f64,
    /// Payload bytes (at most 65507).
    #[arg(short = 's', long, default_value_t = 56,
          value_parser = clap::value_parser!(u64).range(0..=limits::PAYLOAD))]
    pub size: u64,
}

/// A number of seconds (or ms) above 0 and at most `max` (a NaN or infinity is neither).
fn positive_at_most(s: &str, max: f64, unit: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v > 0.0 && v <= max {
        Ok(v)
    } else {
        Err(format!("must be above 0 and at most {max} {unit}"))
    }
}

fn interval_s(s: &str) -> Result<f64, String> {
    positive_at_most(s, limits::INTERVAL.as_secs_f64(), "s")
}

fn interval_ms(s: &str) -> Result<f64, String> {
    positive_at_most(s, limits::INTERVAL.as_secs_f64() * 1e3, "ms")
}

fn duration_s(s: &str) -> Result<f64, String> {
    positive_at_most(s, limits::DURATION.as_secs_f64(), "s")
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
    /// Seconds to send (above 0, at most 3600).
    #[arg(short = 't', long, default_value_t = 5.0, value_parser = duration_s)]
    pub seconds: f64,
    /// Parallel TCP streams (1 to 128).
    #[arg(short = 'P', long, default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(limits::STREAMS)))]
    pub streams: u32,
    /// Seconds per reported interval (above 0, at most 3600).
    #[arg(short = 'i', long, default_value_t = 1.0, value_parser = duration_s)]
    pub interval: f64,
    /// Congestion control (set explicitly; the machine default may be BBR).
    #[arg(long, default_value = "cubic")]
    pub congestion: String,
}

#[derive(Args)]
pub struct UdpArgs {
    #[command(flatten)]
    pub ends: Ends,
    /// Probes to send (1 to 10000000).
    #[arg(short = 'c', long, default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=limits::UDP_PROBES))]
    pub count: u64,
    /// Milliseconds between probes (above 0, at most 60000).
    #[arg(short = 'i', long, default_value_t = 10.0, value_parser = interval_ms)]
    pub interval_ms: f64,
    /// Payload bytes (16 to 65507).
    #[arg(short = 's', long, default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(16..=limits::PAYLOAD))]
    pub size: u64,
}

/// Namespaces of the two ends and the destination address, by the scenarios' rule
/// ([`topolab::scenario::endpoint`]).
pub fn resolve(
    plan: &Plan,
    from: &str,
    to: &str,
    v6: bool,
) -> miette::Result<(String, String, IpAddr)> {
    let family = if v6 { Family::Ipv6 } else { Family::Ipv4 };
    let nodes = || {
        plan.user_nodes()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let src = plan
        .user_node(from)
        .ok_or_else(|| {
            miette!(
                help = format!("nodes: {}", nodes()),
                "no node `{from}` in lab `{}`",
                plan.lab
            )
        })?
        .netns
        .clone();
    let (owner, ip) = endpoint(plan, to, family).map_err(|e| miette!("{e}"))?;
    let owner = owner.ok_or_else(|| miette!("no node of `{}` has address {ip}", plan.lab))?;
    Ok((src, owner.netns.clone(), ip))
}

pub async fn run(cmd: ProbeCmd) -> miette::Result<()> {
    match cmd {
        ProbeCmd::Ping(a) => {
            let plan = super::labs::read_plan(&a.ends.lab)?;
            let (src, _, ip) = resolve(&plan, &a.ends.from, &a.ends.to, a.ends.ipv6)?;
            let cfg = topolab::tools::ping::PingConfig {
                count: a.count,
                interval: Duration::from_secs_f64(a.interval),
                size: a.size as usize,
                wait: Duration::from_secs(1),
            };
            let r = tokio::task::spawn_blocking(move || topolab::tools::ping::ping(&src, ip, cfg))
                .await
                .into_diagnostic()?
                .into_diagnostic()?;
            if a.ends.json {
                outln!("{}", serde_json::to_string_pretty(&r).into_diagnostic()?);
            } else {
                for (i, rtt) in r.rtts_ns.iter().enumerate() {
                    match rtt {
                        Some(ns) => outln!("{ip}: seq={i} time={:.3} ms", *ns as f64 / 1e6),
                        None => outln!("{ip}: seq={i} no reply"),
                    }
                }
                out!(
                    "{} sent, {} received, {:.1}% loss",
                    r.sent,
                    r.received,
                    r.loss * 100.0
                );
                match &r.rtt {
                    Some(s) => outln!(
                        ", rtt min/avg/max/σ {:.3}/{:.3}/{:.3}/{:.3} ms",
                        s.min_ms,
                        s.mean_ms,
                        s.max_ms,
                        s.std_ms
                    ),
                    None => outln!(),
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
                streams: a.streams as usize,
                interval: Duration::from_secs_f64(a.interval),
                congestion: a.congestion.clone(),
                ..Default::default()
            };
            let r = tokio::task::spawn_blocking(move || tcp::throughput(&src, &dst, ip, &cfg))
                .await
                .into_diagnostic()?
                .into_diagnostic()?;
            if a.ends.json {
                outln!("{}", serde_json::to_string_pretty(&r).into_diagnostic()?);
            } else {
                for i in &r.intervals {
                    outln!(
                        "{:>6.2}-{:<6.2} s  {:>10.3} Mbit/s",
                        i.start_s,
                        i.end_s,
                        i.bits_per_s / 1e6
                    );
                }
                outln!(
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
                size: a.size as usize,
                linger: Duration::from_secs(1),
            };
            let r = tokio::task::spawn_blocking(move || {
                udp::one_way(&src, &dst, SocketAddr::new(ip, 0), cfg)
            })
            .await
            .into_diagnostic()?
            .into_diagnostic()?;
            if a.ends.json {
                outln!("{}", serde_json::to_string_pretty(&r).into_diagnostic()?);
            } else {
                let lost = r.sent - r.received.min(r.sent);
                let (lo, hi) = wilson(lost, r.sent, 2.576);
                outln!(
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
                    outln!(
                        "one-way delay ms: min {:.3} mean {:.3} p50 {:.3} p99 {:.3} max {:.3}, σ (jitter) {:.3}",
                        s.min_ms,
                        s.mean_ms,
                        s.p50_ms,
                        s.p99_ms,
                        s.max_ms,
                        s.std_ms
                    );
                }
            }
        }
    }
    Ok(())
}
