//! `topolab bench links`: link fidelity, configured vs measured, on a two-host lab.
//!
//! Every case brings up its own lab (h1 ═ h2, IPv4, IPv6 off so no background frames)
//! with the engine under test, measures with the built-in probes, and tears it down:
//! - throughput: one TCP stream (cubic) over a plain veth, an unimpaired relayed link, and a
//!   per-packet relayed link (offloads off, loss 0.01%);
//! - delay 1/10/50/100 ms: RTT over ≥1000 UDP probes at 100/s vs 2 × delay + the plain
//!   veth's RTT measured the same way;
//! - jitter: one-way delay standard deviation vs configured σ (normal);
//! - loss 0.1/1/10%: ≥100k one-way UDP probes, measured rate and its 99% Wilson interval;
//! - rate 1/10/100/1000 Mbit/s on each engine: TCP goodput vs the 1448/1514 payload
//!   ceiling (95.6% of the rate).

use crate::cli::out::{errln, outln};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Args;
use miette::{IntoDiagnostic, miette};
use serde::Serialize;

use topolab::compile::EngineChoice;
use topolab::lab::{Lab, LabOptions};
use topolab::tools::{Stats, tcp, udp, wilson};
use topolab::topology::Topology;

#[derive(Args)]
pub struct LinksBench {
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Seconds per TCP measurement.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Probes per delay/jitter case (at 100/s).
    #[arg(long, default_value_t = 1000)]
    pub rtt_probes: u64,
    /// Probes per loss case.
    #[arg(long, default_value_t = 100_000)]
    pub loss_probes: u64,
    /// Rounds of the throughput cases, run alternately (the median is reported): single
    /// TCP streams on a 2-core machine vary by tens of percent from run to run.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Only these sections, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = ["throughput", "delay", "jitter", "loss", "rate", "live"])]
    pub only: Vec<String>,
}

impl LinksBench {
    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

#[derive(Serialize, Default)]
struct Report {
    throughput: Vec<ThroughputRow>,
    delay: Vec<DelayRow>,
    jitter: Vec<JitterRow>,
    loss: Vec<LossRow>,
    rate: Vec<RateRow>,
    live: Vec<LiveRow>,
    notes: Vec<String>,
}

#[derive(Serialize)]
struct LiveRow {
    engine: EngineChoice,
    change: String,
    /// How long `link set` took to return (the change is in place when it returns).
    call_ms: f64,
    /// Userspace: from the call to the first probe that saw the new delay.
    effect_ms: Option<f64>,
}

#[derive(Serialize)]
struct ThroughputRow {
    case: String,
    engine: EngineChoice,
    /// Median over the rounds.
    gbit_s: f64,
    /// Median of this case / median of the plain veth.
    vs_plain: f64,
    /// Median retransmits per run.
    retransmits: u64,
    /// Every round, in order.
    rounds_gbit_s: Vec<f64>,
}

#[derive(Serialize)]
struct DelayRow {
    delay_ms: f64,
    expected_rtt_ms: f64,
    rtt: Stats,
    error_ms: f64,
    lost: usize,
}

#[derive(Serialize)]
struct JitterRow {
    delay_ms: f64,
    jitter_ms: f64,
    one_way: Stats,
}

#[derive(Serialize)]
struct LossRow {
    configured: f64,
    sent: u64,
    lost: u64,
    measured: f64,
    ci99: (f64, f64),
    within: bool,
}

#[derive(Serialize)]
struct RateRow {
    engine: EngineChoice,
    rate_mbit: f64,
    goodput_mbit: f64,
    vs_ceiling: f64,
    retransmits: u64,
}

const CEILING: f64 = 1448.0 / 1514.0;

struct Pair {
    lab: Lab,
    src: String,
    dst: String,
    addr: IpAddr,
}

async fn pair(settings: &str) -> miette::Result<Pair> {
    let yaml = format!(
        "name: bench\naddressing: {{ipv6: false}}\n\
         nodes:\n  h1: {{sysctl: {{net.ipv6.conf.all.disable_ipv6: 1, net.ipv6.conf.default.disable_ipv6: 1}}}}\n\
         \x20 h2: {{sysctl: {{net.ipv6.conf.all.disable_ipv6: 1, net.ipv6.conf.default.disable_ipv6: 1}}}}\n\
         links:\n  - endpoints: [h1, h2]\n{settings}"
    );
    let topo = Topology::from_str(&yaml, "<bench links>")?;
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(super::bench::lab_name()),
            ..Default::default()
        },
    )
    .await?;
    let node = |n: &str| lab.plan().node(n).expect("node").clone();
    let (h1, h2) = (node("h1"), node("h2"));
    // Resolve ARP first (lossy cases may need a few tries).
    let _ = lab
        .node("h1")
        .exec([
            "sh",
            "-c",
            &format!(
                "ping -n -c 1 -W 1 {0} >/dev/null || ping -n -c 3 -W 1 {0} >/dev/null",
                h2.ifaces[0].addrs[0].addr()
            ),
        ])
        .await;
    Ok(Pair {
        src: h1.netns.clone(),
        dst: h2.netns.clone(),
        addr: h2.ifaces[0].addrs[0].addr(),
        lab,
    })
}

fn engine_of(p: &Pair) -> EngineChoice {
    p.lab.links()[0].engine
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> miette::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .into_diagnostic()?
        .into_diagnostic()
}

async fn tcp_run(p: &Pair, seconds: f64) -> miette::Result<tcp::TcpReport> {
    let (src, dst, addr) = (p.src.clone(), p.dst.clone(), p.addr);
    let cfg = tcp::TcpConfig {
        duration: Duration::from_secs_f64(seconds),
        ..Default::default()
    };
    blocking(move || tcp::throughput(&src, &dst, addr, &cfg)).await
}

async fn rtt_run(p: &Pair, count: u64) -> miette::Result<Vec<Option<u64>>> {
    let (src, dst, addr) = (p.src.clone(), p.dst.clone(), p.addr);
    let cfg = udp::ProbeConfig {
        count,
        interval: Duration::from_millis(10),
        size: 64,
        linger: Duration::from_millis(500),
    };
    blocking(move || udp::rtt(&src, &dst, SocketAddr::new(addr, 0), cfg)).await
}

async fn one_way_run(p: &Pair, count: u64, interval: Duration) -> miette::Result<udp::OneWay> {
    let (src, dst, addr) = (p.src.clone(), p.dst.clone(), p.addr);
    let cfg = udp::ProbeConfig {
        count,
        interval,
        size: 64,
        linger: Duration::from_millis(800),
    };
    blocking(move || udp::one_way(&src, &dst, SocketAddr::new(addr, 0), cfg)).await
}

/// Applies `change` (`KEY=VALUE`) to the pair's link; returns when the call started and
/// ended (CLOCK_MONOTONIC ns).
async fn timed_set(p: &mut Pair, change: &str) -> miette::Result<(u64, u64)> {
    let changes =
        topolab::topology::changes::parse_changes(&[change]).map_err(|e| miette!("{e}"))?;
    let t0 = topolab::tools::now_ns();
    p.lab
        .link("h1", "h2", topolab::lab::links::LinkAction::set(changes))
        .await?;
    Ok((t0, topolab::tools::now_ns()))
}

fn progress(json: bool, msg: &str) {
    if !json {
        errln!("  {msg}");
    }
}

pub async fn run(b: LinksBench) -> miette::Result<()> {
    let mut r = Report::default();
    let caps = topolab::link::caps::capabilities();
    r.notes.push(format!(
        "kernel probe: sch_netem {}, tbf {}; topolab's kernel engine shapes rate only (tbf), so \
         the delay, jitter and loss rows are userspace-engine rows",
        if caps.netem { "present" } else { "absent" },
        if caps.tbf { "present" } else { "absent" }
    ));

    // Throughput: the cases alternate round by round, so that a slow spell of the machine
    // falls on all of them alike; medians are reported.
    if b.wants("throughput") {
        let cases = [
            ("plain veth", ""),
            ("relayed, unimpaired", "    engine: userspace\n"),
            ("relayed, per-packet (loss 0.01%)", "    loss: 0.01%\n"),
        ];
        let mut runs: Vec<Vec<(f64, u64)>> = vec![Vec::new(); cases.len()];
        let mut engines = vec![EngineChoice::Plain; cases.len()];
        for round in 1..=b.rounds.max(1) {
            for (i, (case, settings)) in cases.iter().enumerate() {
                progress(b.json, &format!("throughput round {round}: {case}"));
                let p = pair(settings).await?;
                let t = tcp_run(&p, b.seconds).await?;
                engines[i] = engine_of(&p);
                runs[i].push((t.bits_per_s, t.retransmits));
                p.lab.down().await?;
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let plain = median(&mut runs[0].iter().map(|r| r.0).collect());
        for (i, (case, _)) in cases.iter().enumerate() {
            let bps = median(&mut runs[i].iter().map(|r| r.0).collect());
            let mut re: Vec<u64> = runs[i].iter().map(|r| r.1).collect();
            re.sort_unstable();
            r.throughput.push(ThroughputRow {
                case: (*case).into(),
                engine: engines[i],
                gbit_s: bps / 1e9,
                vs_plain: bps / plain.max(1.0),
                retransmits: re[re.len() / 2],
                rounds_gbit_s: runs[i].iter().map(|r| r.0 / 1e9).collect(),
            });
        }
    }

    if b.wants("delay") {
        // Delay: the plain veth's RTT first, measured the same way.
        progress(b.json, "delay: plain veth baseline");
        let p = pair("").await?;
        let base: Vec<u64> = rtt_run(&p, b.rtt_probes)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let base = Stats::of(&base).ok_or_else(|| miette!("no RTT samples on the plain veth"))?;
        p.lab.down().await?;
        r.notes.push(format!(
            "plain veth RTT over {} probes: mean {:.3} ms, p50 {:.3}, p99 {:.3}",
            base.n, base.mean_ms, base.p50_ms, base.p99_ms
        ));
        for ms in [1.0, 10.0, 50.0, 100.0] {
            progress(b.json, &format!("delay {ms} ms"));
            let p = pair(&format!("    delay: {ms}ms\n")).await?;
            let rtts = rtt_run(&p, b.rtt_probes).await?;
            let lost = rtts.iter().filter(|x| x.is_none()).count();
            let got: Vec<u64> = rtts.into_iter().flatten().collect();
            let s = Stats::of(&got).ok_or_else(|| miette!("no RTT samples at delay {ms} ms"))?;
            let expected = 2.0 * ms + base.mean_ms;
            r.delay.push(DelayRow {
                delay_ms: ms,
                expected_rtt_ms: expected,
                error_ms: s.mean_ms - expected,
                rtt: s,
                lost,
            });
            p.lab.down().await?;
        }
    }

    if b.wants("jitter") {
        // Jitter.
        for (d, j) in [(10.0, 1.0), (50.0, 5.0)] {
            progress(b.json, &format!("jitter {j} ms on {d} ms"));
            let p = pair(&format!(
                "    delay: {d}ms\n    jitter: {j}ms\n    distribution: normal\n"
            ))
            .await?;
            let ow = one_way_run(&p, b.rtt_probes, Duration::from_millis(10)).await?;
            let s = Stats::of(&ow.delays_ns).ok_or_else(|| miette!("no samples"))?;
            r.jitter.push(JitterRow {
                delay_ms: d,
                jitter_ms: j,
                one_way: s,
            });
            p.lab.down().await?;
        }
    }

    if b.wants("loss") {
        // Loss.
        for pct in [0.1, 1.0, 10.0] {
            progress(b.json, &format!("loss {pct}%"));
            let p = pair(&format!("    loss: {pct}%\n")).await?;
            let ow = one_way_run(&p, b.loss_probes, Duration::from_micros(50)).await?;
            let lost = ow.sent - ow.received.min(ow.sent);
            let ci = wilson(lost, ow.sent, 2.576);
            let conf = pct / 100.0;
            r.loss.push(LossRow {
                configured: conf,
                sent: ow.sent,
                lost,
                measured: lost as f64 / ow.sent as f64,
                ci99: ci,
                within: ci.0 <= conf && conf <= ci.1,
            });
            p.lab.down().await?;
        }
    }

    if b.wants("rate") {
        // Rate, on each engine.
        for engine in ["kernel", "userspace"] {
            for mbit in [1.0, 10.0, 100.0, 1000.0] {
                progress(b.json, &format!("rate {mbit} Mbit/s, {engine}"));
                let p = pair(&format!("    rate: {mbit}Mbit\n    engine: {engine}\n")).await?;
                let secs = if mbit < 5.0 {
                    b.seconds * 2.0
                } else {
                    b.seconds
                };
                let t = tcp_run(&p, secs).await?;
                r.rate.push(RateRow {
                    engine: engine_of(&p),
                    rate_mbit: mbit,
                    goodput_mbit: t.bits_per_s / 1e6,
                    vs_ceiling: t.bits_per_s / (mbit * 1e6 * CEILING),
                    retransmits: t.retransmits,
                });
                p.lab.down().await?;
            }
        }
    }

    if b.wants("live") {
        // Live changes: how soon a `set` takes effect.
        progress(
            b.json,
            "live change, userspace: delay 10 ms → 30 ms under 1000 probes/s",
        );
        let mut p = pair("    delay: 10ms\n").await?;
        let (src, dst, addr) = (p.src.clone(), p.dst.clone(), p.addr);
        let probes = tokio::task::spawn_blocking(move || {
            udp::one_way(
                &src,
                &dst,
                SocketAddr::new(addr, 0),
                udp::ProbeConfig {
                    count: 3000,
                    interval: Duration::from_millis(1),
                    size: 64,
                    linger: Duration::from_millis(500),
                },
            )
        });
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let (t0, t1) = timed_set(&mut p, "delay=30ms").await?;
        let ow = probes.await.into_diagnostic()?.into_diagnostic()?;
        let mut sorted = ow.seqs.clone();
        sorted.sort_unstable();
        let first_new = sorted
            .iter()
            .zip(&ow.delays_ns)
            .filter(|(_, d)| **d >= 25_000_000)
            .map(|(s, _)| ow.start_ns + s * 1_000_000)
            .min();
        r.live.push(LiveRow {
            engine: engine_of(&p),
            change: "delay 10 ms → 30 ms".into(),
            call_ms: (t1 - t0) as f64 / 1e6,
            effect_ms: first_new.map(|t| (t.saturating_sub(t0)) as f64 / 1e6),
        });
        p.lab.down().await?;
        progress(b.json, "live change, kernel: rate 100 → 10 Mbit/s");
        let mut p = pair("    rate: 100Mbit\n").await?;
        let (t0, t1) = timed_set(&mut p, "rate=10Mbit").await?;
        r.live.push(LiveRow {
            engine: engine_of(&p),
            change: "rate 100 → 10 Mbit/s".into(),
            call_ms: (t1 - t0) as f64 / 1e6,
            effect_ms: None,
        });
        p.lab.down().await?;
    }

    let json = serde_json::to_string_pretty(&r).into_diagnostic()?;
    if let Some(o) = &b.out {
        std::fs::write(o, &json).into_diagnostic()?;
    }
    if b.json {
        outln!("{json}");
    } else {
        print(&r);
    }
    Ok(())
}

fn print(r: &Report) {
    if !r.throughput.is_empty() {
        outln!(
            "\nTCP throughput, one stream (cubic); median of {} alternating rounds",
            r.throughput[0].rounds_gbit_s.len()
        );
        outln!(
            "{:<34} {:>10} {:>8} {:>9} {:>8}  rounds Gbit/s",
            "case",
            "engine",
            "Gbit/s",
            "vs plain",
            "retrans"
        );
        for t in &r.throughput {
            let rounds: Vec<String> = t.rounds_gbit_s.iter().map(|g| format!("{g:.1}")).collect();
            outln!(
                "{:<34} {:>10} {:>8.2} {:>8.0}% {:>8}  {}",
                t.case,
                format!("{:?}", t.engine).to_lowercase(),
                t.gbit_s,
                t.vs_plain * 100.0,
                t.retransmits,
                rounds.join(" ")
            );
        }
    }
    if !r.delay.is_empty() {
        outln!("\nDelay (userspace engine): RTT over UDP probes at 100/s");
        outln!(
            "{:>9} {:>13} {:>9} {:>9} {:>9} {:>9} {:>6}",
            "delay ms",
            "expected ms",
            "mean",
            "p50",
            "p99",
            "error",
            "lost"
        );
        for d in &r.delay {
            outln!(
                "{:>9} {:>13.3} {:>9.3} {:>9.3} {:>9.3} {:>+9.3} {:>6}",
                d.delay_ms,
                d.expected_rtt_ms,
                d.rtt.mean_ms,
                d.rtt.p50_ms,
                d.rtt.p99_ms,
                d.error_ms,
                d.lost
            );
        }
    }
    if !r.jitter.is_empty() {
        outln!("\nJitter (userspace engine, normal): one-way delay");
        outln!(
            "{:>9} {:>10} {:>10} {:>12} {:>7}",
            "delay ms",
            "σ conf ms",
            "σ meas ms",
            "mean ms",
            "n"
        );
        for j in &r.jitter {
            outln!(
                "{:>9} {:>10} {:>10.3} {:>12.3} {:>7}",
                j.delay_ms,
                j.jitter_ms,
                j.one_way.std_ms,
                j.one_way.mean_ms,
                j.one_way.n
            );
        }
    }
    if !r.loss.is_empty() {
        outln!("\nLoss (userspace engine): one-way UDP probes");
        outln!(
            "{:>10} {:>8} {:>7} {:>10} {:>22} {:>7}",
            "configured",
            "sent",
            "lost",
            "measured",
            "99% interval",
            "within"
        );
        for l in &r.loss {
            outln!(
                "{:>9.2}% {:>8} {:>7} {:>9.3}% {:>10.3}% – {:>7.3}% {:>7}",
                l.configured * 100.0,
                l.sent,
                l.lost,
                l.measured * 100.0,
                l.ci99.0 * 100.0,
                l.ci99.1 * 100.0,
                if l.within { "yes" } else { "NO" }
            );
        }
    }
    if !r.rate.is_empty() {
        outln!("\nRate: TCP goodput vs the 1448/1514 ceiling (95.6% of the rate)");
        outln!(
            "{:>10} {:>10} {:>13} {:>11} {:>8}",
            "engine",
            "Mbit/s",
            "goodput Mbit",
            "vs ceiling",
            "retrans"
        );
        for x in &r.rate {
            outln!(
                "{:>10} {:>10} {:>13.2} {:>10.1}% {:>8}",
                format!("{:?}", x.engine).to_lowercase(),
                x.rate_mbit,
                x.goodput_mbit,
                x.vs_ceiling * 100.0,
                x.retransmits
            );
        }
    }
    if !r.live.is_empty() {
        outln!("\nLive changes (`link set` on a running link)");
        outln!(
            "{:>10} {:<24} {:>10} {:>12}",
            "engine",
            "change",
            "call ms",
            "effect ms"
        );
        for l in &r.live {
            outln!(
                "{:>10} {:<24} {:>10.2} {:>12}",
                format!("{:?}", l.engine).to_lowercase(),
                l.change,
                l.call_ms,
                l.effect_ms.map(|e| format!("{e:.2}")).unwrap_or("-".into())
            );
        }
    }
    for n in &r.notes {
        outln!("note: {n}");
    }
}
