//! What each step type does and how its expectations are judged. Every failure message
//! names the measured value and the expected one ("loss 40.0% (expected ≤ 0.0%)").

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;

use crate::daemon::{DaemonKind, Request, Response};
use crate::lab::links::LinkAction;
use crate::lab::service::{self, State};
use crate::tools::capture::Capture;
use crate::tools::{Stats, ping, tcp, udp};

use super::model::*;
use super::resolve as refs;
use super::run::{Ctx, Found, run_step, run_steps};

pub fn kind(a: &Action) -> &'static str {
    a.kind()
}

pub fn summary(a: &Action) -> String {
    a.summary()
}

use super::model::Capture as Capture_;

/// A step's timeout when it sets none.
pub fn default_timeout(a: &Action) -> Duration {
    let s = Duration::from_secs;
    match a {
        Action::Ping(p) => p.interval * p.count + s(15),
        Action::Pingall(_) => s(120),
        Action::Throughput(t) => t.duration + s(30),
        Action::Exec(_) => s(60),
        Action::Wait(_) => s(30),
        Action::Sleep(d) => *d + s(5),
        Action::Parallel(_) | Action::Repeat { .. } => s(3600),
        Action::Link(_)
        | Action::Node(_)
        | Action::Capture(_)
        | Action::Openflow(_)
        | Action::Bgp(_) => s(30),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn mbit(bps: f64) -> String {
    format!("{:.3} Mbit/s", bps / 1e6)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Runs one action; `timeout` is the step's (wait uses it as its deadline).
pub async fn perform(ctx: &Ctx, a: &Action, timeout: Duration) -> Result<Found, String> {
    let plan = &ctx.plan;
    let x = |s: &str| refs::expand(s, plan, ctx.seed);
    match a {
        Action::Ping(p) => {
            let src = refs::netns(plan, &x(&p.from)?)?;
            let dst = refs::target(plan, &x(&p.to)?, p.family)?;
            let cfg = ping::PingConfig {
                count: p.count,
                interval: p.interval,
                size: p.size,
                wait: Duration::from_secs(1),
            };
            let r = blocking(move || ping::ping(&src, dst, cfg)).await?;
            let mut f = Found {
                expected: serde_json::to_value(&p.expect).unwrap_or_default(),
                ..Default::default()
            };
            judge_ping(&r, &p.expect, &mut f.failures);
            f.measured = serde_json::to_value(&r).unwrap_or_default();
            Ok(f)
        }
        Action::Pingall(p) => pingall(ctx, p).await,
        Action::Throughput(t) => throughput(ctx, t).await,
        Action::Exec(e) => exec(ctx, e, &x(&e.cmd)?).await,
        Action::Link(l) => {
            let action = match &l.op {
                LinkOp::Down => LinkAction::Down,
                LinkOp::Up => LinkAction::Up,
                LinkOp::Set { a_to_b, b_to_a } => LinkAction::Set {
                    a_to_b: a_to_b.clone(),
                    b_to_a: b_to_a.clone(),
                },
            };
            let status = ctx
                .lab
                .lock()
                .await
                .link(&l.a, &l.b, action)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Found {
                measured: serde_json::to_value(&status).unwrap_or_default(),
                ..Default::default()
            })
        }
        Action::Node(n) => {
            // The services handle is cloned out of the lab: a stop's grace period or a
            // restart's wait holds neither the lab nor the runtime.
            let (services, plan) = {
                let lab = ctx.lab.lock().await;
                (lab.services_handle(), lab.plan().clone())
            };
            let services = services.ok_or("the lab has no services runtime")?;
            let op = match n.op {
                NodeOp::Stop => service::NodeOp::Stop,
                NodeOp::Start => service::NodeOp::Start,
                NodeOp::Restart => service::NodeOp::Restart,
                NodeOp::Kill => service::NodeOp::Kill,
                NodeOp::Pause => service::NodeOp::Pause,
                NodeOp::Resume => service::NodeOp::Resume,
            };
            let (status, count) =
                crate::lab::node_op(services, &plan, &n.node, n.service.as_deref(), op)
                    .await
                    .map_err(|e| e.to_string())?;
            Ok(Found {
                measured: json!({ "processes": count, "services": status }),
                ..Default::default()
            })
        }
        Action::Wait(w) => wait(ctx, w, timeout).await,
        Action::Capture(c) => capture(ctx, c).await,
        Action::Openflow(o) => {
            let req = Request::OpenflowFlow {
                command: o.command,
                flow: o.flow.clone(),
            };
            let data = openflow_call(ctx, &o.node, req).await?;
            Ok(Found {
                measured: data,
                ..Default::default()
            })
        }
        Action::Bgp(b) => {
            let req = Request::BgpChange(crate::daemon::BgpChange {
                announce: b.announce.clone(),
                withdraw: b.withdraw.clone(),
                ..Default::default()
            });
            let data = bgp_call(ctx, &b.node, req).await?;
            Ok(Found {
                measured: data,
                ..Default::default()
            })
        }
        Action::Sleep(d) => {
            tokio::time::sleep(*d).await;
            Ok(Found::default())
        }
        Action::Parallel(steps) => {
            let children = futures::future::join_all(steps.iter().map(|s| run_step(ctx, s))).await;
            Ok(Found {
                children,
                ..Default::default()
            })
        }
        Action::Repeat { times, steps } => {
            let mut children = Vec::new();
            for i in 1..=*times {
                let mut round = run_steps(ctx, steps).await;
                let failed = round
                    .iter()
                    .any(|r| r.outcome != Outcome::Passed && r.outcome != Outcome::Skipped);
                for r in &mut round {
                    r.name = format!("#{i} {}", r.name);
                }
                children.extend(round);
                if failed && !steps.iter().all(|s| s.continue_on_failure) {
                    break;
                }
            }
            Ok(Found {
                children,
                ..Default::default()
            })
        }
    }
}

fn judge_ping(r: &ping::PingReport, e: &PingExpect, fails: &mut Vec<String>) {
    if let Some(max) = e.loss_max
        && r.loss > max + 1e-9
    {
        fails.push(format!(
            "loss {} ({}/{} answered; expected ≤ {})",
            pct(r.loss),
            r.received,
            r.sent,
            pct(max)
        ));
    }
    if let Some(min) = e.loss_min
        && r.loss < min - 1e-9
    {
        fails.push(format!("loss {} (expected ≥ {})", pct(r.loss), pct(min)));
    }
    let stat = |what: &str,
                bound: Option<Duration>,
                f: &mut Vec<String>,
                get: fn(&Stats) -> f64,
                above: bool| {
        let Some(b) = bound else { return };
        match &r.rtt {
            None => f.push(format!(
                "{what}: no reply (expected {} {:.3} ms)",
                if above { "≤" } else { "≥" },
                ms(b)
            )),
            Some(s) => {
                let v = get(s);
                if (above && v > ms(b)) || (!above && v < ms(b)) {
                    f.push(format!(
                        "{what} {v:.3} ms (expected {} {:.3} ms)",
                        if above { "≤" } else { "≥" },
                        ms(b)
                    ));
                }
            }
        }
    };
    stat("max RTT", e.rtt_max, fails, |s| s.max_ms, true);
    stat("min RTT", e.rtt_min, fails, |s| s.min_ms, false);
    stat("mean RTT", e.rtt_avg_max, fails, |s| s.mean_ms, true);
}

/// One pair of a pingall: `from` pinged `to`; the RTT in ms if it answered.
pub type PairResult = (String, String, bool, Option<f64>);

/// A pingall's pairs, and why some may have gone unanswered when the machine says why.
#[derive(Debug, Clone)]
pub struct PingallReport {
    pub pairs: Vec<PairResult>,
    pub hint: Option<String>,
}

/// Every ordered pair of the lab's hosts (and routers with `all_nodes`) pinged once, all at
/// once ([`ping::sweep`]): returns when the last reply is in; only silent pairs are retried
/// and waited for. Blocking.
pub fn pingall_pairs(
    plan: &crate::compile::Plan,
    family: Family,
    all_nodes: bool,
) -> Result<PingallReport, String> {
    let nodes: Vec<&str> = plan
        .nodes
        .iter()
        .filter(|n| n.kind.pingall(all_nodes))
        .map(|n| n.name.as_str())
        .collect();
    ping_pairs(plan, family, &nodes)
}

/// [`pingall_pairs`] among `nodes` only (the console's `pingpair`). Blocking.
pub fn ping_pairs(
    plan: &crate::compile::Plan,
    family: Family,
    nodes: &[&str],
) -> Result<PingallReport, String> {
    let mut sources = Vec::with_capacity(nodes.len());
    for a in nodes {
        let mut targets = Vec::with_capacity(nodes.len());
        for b in nodes.iter().filter(|b| *b != a) {
            targets.push(refs::target(plan, b, family)?);
        }
        sources.push((refs::netns(plan, a)?, targets));
    }
    let sweep = ping::sweep(&sources, ping::SweepConfig::default()).map_err(|e| e.to_string())?;
    let mut results = Vec::new();
    for (a, row) in nodes.iter().zip(sweep.rtts) {
        for (b, rtt) in nodes.iter().filter(|b| *b != a).zip(row) {
            results.push((
                a.to_string(),
                b.to_string(),
                rtt.is_some(),
                rtt.map(|ns| ns as f64 / 1e6),
            ));
        }
    }
    let hint = (sweep.no_buffers > 0).then(|| {
        let t3 = std::fs::read_to_string("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        format!(
            "the kernel refused {} requests for want of buffers: most likely its neighbour \
             table is full ({} nodes on one LAN need {} entries at once; the machine-wide \
             limit net.ipv4.neigh.default.gc_thresh3 is {t3})",
            sweep.no_buffers,
            nodes.len(),
            nodes.len() * nodes.len().saturating_sub(1)
        )
    });
    Ok(PingallReport {
        pairs: results,
        hint,
    })
}

async fn pingall(ctx: &Ctx, p: &Pingall) -> Result<Found, String> {
    let plan = ctx.plan.clone();
    let (family, all) = (p.family, p.all_nodes);
    let PingallReport {
        pairs: results,
        hint,
    } = blocking(move || pingall_pairs(&plan, family, all).map_err(std::io::Error::other)).await?;
    let mut f = Found::default();
    match &p.matrix {
        None => {
            let bad: Vec<String> = results
                .iter()
                .filter(|r| !r.2)
                .map(|r| format!("{} → {}", r.0, r.1))
                .collect();
            if !bad.is_empty() {
                f.failures.push(format!(
                    "{} of {} pairs unreachable (expected all reachable): {}{}",
                    bad.len(),
                    results.len(),
                    bad.join(", "),
                    hint.as_deref()
                        .map(|h| format!(" — {h}"))
                        .unwrap_or_default()
                ));
            }
            f.expected = json!("every pair reachable");
        }
        Some(matrix) => {
            for want in matrix {
                match results.iter().find(|r| r.0 == want.from && r.1 == want.to) {
                    Some(r) if r.2 != want.reachable => f.failures.push(format!(
                        "{} → {}: {} (expected {})",
                        want.from,
                        want.to,
                        if r.2 { "reachable" } else { "unreachable" },
                        if want.reachable {
                            "reachable"
                        } else {
                            "unreachable"
                        }
                    )),
                    Some(_) => {}
                    None => f.failures.push(format!(
                        "{} → {}: not a pair of {} (expected {})",
                        want.from,
                        want.to,
                        if p.all_nodes { "nodes" } else { "hosts" },
                        if want.reachable {
                            "reachable"
                        } else {
                            "unreachable"
                        }
                    )),
                }
            }
            f.expected = serde_json::to_value(matrix).unwrap_or_default();
        }
    }
    let reachable = results.iter().filter(|r| r.2).count();
    f.measured = json!({
        "pairs": results.iter().map(|r| json!({"from": r.0, "to": r.1, "reachable": r.2, "rtt_ms": r.3})).collect::<Vec<_>>(),
        "reachable": reachable,
        "total": results.len(),
    });
    Ok(f)
}

/// Intervals with no goodput: total seconds and the windows (merged when adjacent).
fn outages(intervals: &[tcp::Interval]) -> (f64, Vec<(f64, f64)>) {
    let mut windows: Vec<(f64, f64)> = Vec::new();
    for i in intervals.iter().filter(|i| i.bytes == 0) {
        match windows.last_mut() {
            Some(w) if (w.1 - i.start_s).abs() < 1e-6 => w.1 = i.end_s,
            _ => windows.push((i.start_s, i.end_s)),
        }
    }
    (windows.iter().map(|w| w.1 - w.0).sum(), windows)
}

async fn throughput(ctx: &Ctx, t: &Throughput) -> Result<Found, String> {
    let plan = &ctx.plan;
    let src = refs::netns(plan, &refs::expand(&t.from, plan, ctx.seed)?)?;
    let to = refs::expand(&t.to, plan, ctx.seed)?;
    let (owner, dst_ip) = refs::endpoint(plan, &to, t.family)?;
    let dst = owner
        .ok_or_else(|| format!("no node of the lab has address {dst_ip}"))?
        .netns
        .clone();
    let e = &t.expect;
    let mut f = Found {
        expected: serde_json::to_value(e).unwrap_or_default(),
        ..Default::default()
    };
    let goodput = match t.protocol {
        Protocol::Tcp => {
            let cfg = tcp::TcpConfig {
                duration: t.duration,
                streams: t.streams as usize,
                interval: t.interval,
                congestion: t.congestion.clone(),
                ..Default::default()
            };
            let r = blocking(move || tcp::throughput(&src, &dst, dst_ip, &cfg)).await?;
            let (outage, windows) = outages(&r.intervals);
            if let Some(max) = e.retransmits_max
                && r.retransmits > max
            {
                f.failures
                    .push(format!("{} retransmits (expected ≤ {max})", r.retransmits));
            }
            if let Some(min) = e.outage_min
                && outage < min.as_secs_f64() - 1e-9
            {
                f.failures.push(format!(
                    "outage {outage:.2} s {windows:?} (expected ≥ {:.2} s)",
                    min.as_secs_f64()
                ));
            }
            if let Some(max) = e.outage_max
                && outage > max.as_secs_f64() + 1e-9
            {
                f.failures.push(format!(
                    "outage {outage:.2} s {windows:?} (expected ≤ {:.2} s)",
                    max.as_secs_f64()
                ));
            }
            let bps = r.bits_per_s;
            f.measured = json!({
                "protocol": "tcp",
                "bits_per_s": bps,
                "bytes": r.bytes,
                "seconds": r.seconds,
                "retransmits": r.retransmits,
                "intervals": r.intervals,
                "outage_s": outage,
                "outage_windows": windows,
            });
            bps
        }
        Protocol::Udp => {
            let offered = t.offered.unwrap_or(10_000_000).max(1);
            let size = t.size.max(16);
            let interval = Duration::from_secs_f64(size as f64 * 8.0 / offered as f64);
            let count = (t.duration.as_secs_f64() / interval.as_secs_f64())
                .ceil()
                .max(1.0) as u64;
            let cfg = udp::ProbeConfig {
                count,
                interval,
                size,
                linger: Duration::from_millis(500),
            };
            let r =
                blocking(move || udp::one_way(&src, &dst, SocketAddr::new(dst_ip, 0), cfg)).await?;
            let loss = r.loss();
            let stats = Stats::of(&r.delays_ns);
            let bps = r.received as f64 * size as f64 * 8.0 / t.duration.as_secs_f64();
            if let Some(max) = e.loss_max
                && loss > max + 1e-9
            {
                f.failures.push(format!(
                    "UDP loss {} ({} of {} lost; expected ≤ {})",
                    pct(loss),
                    r.sent - r.received.min(r.sent),
                    r.sent,
                    pct(max)
                ));
            }
            if let (Some(max), Some(s)) = (e.jitter_max, &stats)
                && s.std_ms > ms(max)
            {
                f.failures.push(format!(
                    "jitter σ {:.3} ms (expected ≤ {:.3} ms)",
                    s.std_ms,
                    ms(max)
                ));
            }
            f.measured = json!({
                "protocol": "udp",
                "offered_bits_per_s": offered,
                "bits_per_s": bps,
                "sent": r.sent,
                "received": r.received,
                "loss": loss,
                "reordered": r.reordered,
                "duplicates": r.duplicates,
                "one_way_delay": stats,
            });
            bps
        }
    };
    if let Some(min) = e.min
        && goodput < min as f64
    {
        f.failures.push(format!(
            "throughput {} (expected ≥ {})",
            mbit(goodput),
            mbit(min as f64)
        ));
    }
    if let Some(max) = e.max
        && goodput > max as f64
    {
        f.failures.push(format!(
            "throughput {} (expected ≤ {})",
            mbit(goodput),
            mbit(max as f64)
        ));
    }
    Ok(f)
}

async fn exec(ctx: &Ctx, e: &Exec, cmd: &str) -> Result<Found, String> {
    let mut c = {
        let lab = ctx.lab.lock().await;
        lab.node(&e.node)
            .command("/bin/sh")
            .map_err(|err| err.to_string())?
    };
    c.arg("-c").arg(cmd).stdin(std::process::Stdio::null());
    let out = c
        .output()
        .await
        .map_err(|err| format!("{}: {err}", e.node))?;
    let status = {
        use std::os::unix::process::ExitStatusExt;
        out.status
            .code()
            .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0))
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let x = &e.expect;
    let mut f = Found {
        expected: serde_json::to_value(x).unwrap_or_default(),
        ..Default::default()
    };
    let want = x.status.unwrap_or(0);
    if status != want {
        f.failures.push(format!(
            "exit status {status} (expected {want}); stderr: {}",
            clip(&stderr)
        ));
    }
    let check = |name: &str,
                 text: &str,
                 contains: &Option<String>,
                 matches: &Option<String>,
                 f: &mut Vec<String>| {
        if let Some(c) = contains
            && !text.contains(c.as_str())
        {
            f.push(format!(
                "{name} {:?} (expected to contain {c:?})",
                clip(text)
            ));
        }
        if let Some(m) = matches {
            match regex::Regex::new(m) {
                Ok(re) if !re.is_match(text) => {
                    f.push(format!("{name} {:?} (expected to match /{m}/)", clip(text)))
                }
                Ok(_) => {}
                Err(err) => f.push(format!("bad regular expression /{m}/: {err}")),
            }
        }
    };
    check(
        "stdout",
        &stdout,
        &x.stdout_contains,
        &x.stdout_matches,
        &mut f.failures,
    );
    check(
        "stderr",
        &stderr,
        &x.stderr_contains,
        &x.stderr_matches,
        &mut f.failures,
    );
    f.measured = json!({ "status": status, "stdout": stdout, "stderr": stderr });
    Ok(f)
}

fn clip(s: &str) -> String {
    let s = s.trim_end();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}

async fn wait(ctx: &Ctx, w: &Wait, timeout: Duration) -> Result<Found, String> {
    // Leave a moment before the step's own timeout so that we report, not it.
    let deadline = tokio::time::Instant::now() + timeout.saturating_sub(Duration::from_millis(500));
    let started = tokio::time::Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let last = match holds(ctx, &w.until).await {
            Ok(()) => {
                return Ok(Found {
                    measured: json!({
                        "attempts": attempts,
                        "seconds": started.elapsed().as_secs_f64(),
                    }),
                    ..Default::default()
                });
            }
            Err(why) => why,
        };
        if tokio::time::Instant::now() + w.every >= deadline {
            return Ok(Found {
                failures: vec![format!(
                    "still not true after {:.1} s and {attempts} attempts (expected within {:.1} s): {last}",
                    started.elapsed().as_secs_f64(),
                    timeout.as_secs_f64()
                )],
                measured: json!({ "attempts": attempts, "last": last }),
                ..Default::default()
            });
        }
        tokio::time::sleep(w.every).await;
    }
}

/// Asks `node`'s OpenFlow daemon (switch or controller) on its control socket. The node is
/// looked up in the plan; its name never becomes a path by itself.
async fn openflow_call(ctx: &Ctx, node: &str, req: Request) -> Result<serde_json::Value, String> {
    let n = ctx
        .plan
        .node(node)
        .ok_or_else(|| format!("no node `{node}` in this lab"))?;
    let dir = ctx.lab.lock().await.run_dir().to_path_buf();
    let socket = service::daemon_socket(&dir, n, &[DaemonKind::OfSwitch, DaemonKind::Controller])
        .ok_or_else(|| format!("node `{node}` runs no OpenFlow switch or controller"))?;
    let resp = blocking(move || crate::daemon::call(&socket, &req, Duration::from_secs(5)))
        .await
        .map_err(|e| format!("node `{node}`: its OpenFlow daemon does not answer: {e}"))?;
    match resp {
        Response::Openflow { data, .. } => Ok(data),
        Response::Error { message } => Err(format!("node `{node}`: {message}")),
        other => Err(format!("node `{node}`: unexpected answer {other:?}")),
    }
}

/// Asks `node`'s BGP speaker on its control socket (the node is looked up in the plan).
async fn bgp_call(ctx: &Ctx, node: &str, req: Request) -> Result<serde_json::Value, String> {
    let n = ctx
        .plan
        .node(node)
        .ok_or_else(|| format!("no node `{node}` in this lab"))?;
    let dir = ctx.lab.lock().await.run_dir().to_path_buf();
    let socket = service::daemon_socket(&dir, n, &[DaemonKind::Bgp])
        .ok_or_else(|| format!("node `{node}` runs no BGP speaker (it has no `bgp:` key)"))?;
    let resp = blocking(move || crate::daemon::call(&socket, &req, Duration::from_secs(5)))
        .await
        .map_err(|e| format!("node `{node}`: its BGP speaker does not answer: {e}"))?;
    match resp {
        Response::Bgp { data, .. } => Ok(data),
        Response::Error { message } => Err(format!("node `{node}`: {message}")),
        other => Err(format!("node `{node}`: unexpected answer {other:?}")),
    }
}

/// Whether a speaker's `neighbors` view shows the sessions `want` asks for (else which
/// are not up).
pub(crate) fn sessions_hold(
    neighbors: &serde_json::Value,
    want: &BgpSessions,
) -> Result<(), String> {
    let list = neighbors.as_array().map(Vec::as_slice).unwrap_or_default();
    let up = |n: &serde_json::Value| n["state"] == "established";
    let count = list.iter().filter(|n| up(n)).count();
    let down = |ns: &mut dyn Iterator<Item = &serde_json::Value>| -> String {
        ns.filter(|n| !up(n))
            .map(|n| {
                format!(
                    "{} is {}",
                    n["name"].as_str().unwrap_or("?"),
                    n["state"].as_str().unwrap_or("?")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match want {
        BgpSessions::All if list.is_empty() => Err("the speaker has no peers".into()),
        BgpSessions::All if count == list.len() => Ok(()),
        BgpSessions::All => Err(format!(
            "{count} of {} sessions established ({})",
            list.len(),
            down(&mut list.iter())
        )),
        BgpSessions::AtLeast(n) if count >= *n as usize => Ok(()),
        BgpSessions::AtLeast(n) => Err(format!(
            "{count} session(s) established (expected ≥ {n}): {}",
            down(&mut list.iter())
        )),
        BgpSessions::Peers(names) => {
            let mut missing = Vec::new();
            for want in names {
                let addr: Option<std::net::IpAddr> = want.parse().ok();
                let found = list.iter().find(|n| {
                    n["name"] == want.as_str()
                        || (addr.is_some()
                            && n["address"].as_str().and_then(|a| a.parse().ok()) == addr)
                });
                match found {
                    None => missing.push(format!("{want} is not a peer")),
                    Some(n) if !up(n) => {
                        missing.push(format!("{want} is {}", n["state"].as_str().unwrap_or("?")))
                    }
                    Some(_) => {}
                }
            }
            if missing.is_empty() {
                Ok(())
            } else {
                Err(missing.join(", "))
            }
        }
    }
}

/// Whether a speaker's `best` view for `prefix` fits the condition (else why not).
pub(crate) fn route_holds(
    best: &serde_json::Value,
    prefix: &str,
    via: Option<std::net::IpAddr>,
    present: bool,
) -> Result<(), String> {
    let path = &best[prefix][0];
    let hop: Option<std::net::IpAddr> = path["next_hop"].as_str().and_then(|h| h.parse().ok());
    let there = !path.is_null() && via.is_none_or(|v| hop == Some(v));
    let how = |h: Option<std::net::IpAddr>| h.map_or("?".to_string(), |h| h.to_string());
    match (there, present) {
        (true, true) | (false, false) => Ok(()),
        (false, true) if path.is_null() => Err(format!("no route to {prefix}")),
        (false, true) => Err(format!(
            "the route to {prefix} is via {}, not {}",
            how(hop),
            how(via)
        )),
        (true, false) => Err(format!("still a route to {prefix} via {}", how(hop))),
    }
}

fn view(name: &str) -> Request {
    Request::Openflow {
        view: name.to_string(),
    }
}

/// Tests a condition once: Ok if it holds, else why not.
async fn holds(ctx: &Ctx, c: &Condition) -> Result<(), String> {
    let plan = ctx.plan.clone();
    let x = |s: &str| refs::expand(s, &plan, ctx.seed);
    match c {
        Condition::Reachable { from, to, family } => {
            let src = refs::netns(&plan, &x(from)?)?;
            let dst = refs::target(&plan, &x(to)?, *family)?;
            let cfg = ping::PingConfig {
                count: 1,
                wait: Duration::from_millis(500),
                ..Default::default()
            };
            let r = blocking(move || ping::ping(&src, dst, cfg)).await?;
            if r.received > 0 {
                Ok(())
            } else {
                Err(format!("no echo reply from {dst}"))
            }
        }
        Condition::TcpPort {
            from,
            to,
            port,
            family,
        } => {
            let src = refs::netns(&plan, &x(from)?)?;
            let dst = SocketAddr::new(refs::target(&plan, &x(to)?, *family)?, *port);
            blocking(move || {
                crate::tools::socket_in(&src, move || {
                    std::net::TcpStream::connect_timeout(&dst, Duration::from_secs(1))
                })
                .map(|_| ())
            })
            .await
            .map_err(|e| format!("connect {dst}: {e}"))
        }
        Condition::Ready { node, service } => {
            let services = ctx.lab.lock().await.services();
            let mine: Vec<_> = services
                .iter()
                .filter(|s| s.node == *node && service.as_ref().is_none_or(|n| s.name == *n))
                .collect();
            if mine.is_empty() {
                return Err(match service {
                    Some(sv) => format!("node `{node}` has no service `{sv}`"),
                    None => format!("node `{node}` runs no services"),
                });
            }
            let waiting: Vec<String> = mine
                .iter()
                .filter(|s| !matches!(s.state, State::Ready | State::Running))
                .map(|s| format!("{}/{} is {}", s.node, s.name, s.state.label()))
                .collect();
            if waiting.is_empty() {
                Ok(())
            } else {
                Err(waiting.join(", "))
            }
        }
        Condition::Command { node, cmd } => {
            let e = Exec {
                node: node.clone(),
                cmd: cmd.clone(),
                expect: ExecExpect::default(),
            };
            let f = exec(ctx, &e, &x(cmd)?).await?;
            if f.failures.is_empty() {
                Ok(())
            } else {
                Err(f.failures.join("; "))
            }
        }
        Condition::OpenflowConnected { node, connected } => {
            let data = openflow_call(ctx, node, view("summary")).await?;
            let now = data["controller_connected"] == true;
            match (now, *connected) {
                (true, true) | (false, false) => Ok(()),
                (false, true) => Err(format!("switch `{node}` has no controller connection")),
                (true, false) => Err(format!("switch `{node}` still has a controller connection")),
            }
        }
        Condition::OpenflowSwitches { node, at_least } => {
            let data = openflow_call(ctx, node, view("switches")).await?;
            let ready = data
                .as_array()
                .map_or(0, |l| l.iter().filter(|s| s["state"] == "ready").count());
            if ready >= *at_least as usize {
                Ok(())
            } else {
                Err(format!(
                    "controller `{node}` has {ready} switch(es) connected (expected ≥ {at_least})"
                ))
            }
        }
        Condition::OpenflowFlow {
            node,
            flow,
            fields,
            table,
            present,
        } => {
            let data = openflow_call(ctx, node, view("flows")).await?;
            let found = data["flows"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter(|f| flow_matches(f, fields, *table))
                .count();
            let where_ = table.map_or(String::new(), |t| format!(" in table {t}"));
            match (found, *present) {
                (0, true) => Err(format!("switch `{node}` has no flow `{flow}`{where_}")),
                (n, false) if n > 0 => Err(format!(
                    "switch `{node}` still has {n} flow(s) `{flow}`{where_}"
                )),
                _ => Ok(()),
            }
        }
        Condition::BgpEstablished { node, sessions } => {
            let req = Request::Bgp {
                view: "neighbors".into(),
                peer: None,
                prefix: None,
            };
            let data = bgp_call(ctx, node, req).await?;
            sessions_hold(&data, sessions).map_err(|e| format!("node `{node}`: {e}"))
        }
        Condition::BgpRoute {
            node,
            prefix,
            via,
            present,
        } => {
            let req = Request::Bgp {
                view: "best".into(),
                peer: None,
                prefix: Some(prefix.clone()),
            };
            let data = bgp_call(ctx, node, req).await?;
            route_holds(&data, prefix, *via, *present).map_err(|e| format!("node `{node}`: {e}"))
        }
    }
}

/// Whether a flow of a switch's `flows` view is in `table` (if given) and its match has
/// every field of `fields` (canonical `name=value` text).
fn flow_matches(f: &serde_json::Value, fields: &[String], table: Option<u8>) -> bool {
    if let Some(t) = table
        && f["table"].as_u64() != Some(u64::from(t))
    {
        return false;
    }
    let text = f["match_text"].as_str().unwrap_or("");
    let have: Vec<&str> = text.split(',').filter(|s| !s.is_empty()).collect();
    fields.iter().all(|w| have.contains(&w.as_str()))
}

async fn capture(ctx: &Ctx, c: &Capture_) -> Result<Found, String> {
    match c {
        Capture_::Start { name, node, iface } => {
            let ns = refs::netns(&ctx.plan, node)?;
            let path = ctx.artifacts.join(format!("{name}.pcap"));
            let (i, p) = (iface.clone(), path.clone());
            let cap = blocking(move || Capture::start(&ns, &i, &p)).await?;
            ctx.captures
                .lock()
                .map_err(|_| "capture table poisoned".to_string())?
                .insert(name.clone(), cap);
            Ok(Found {
                measured: json!({ "file": path.display().to_string() }),
                ..Default::default()
            })
        }
        Capture_::Stop { name } => {
            let cap = ctx
                .captures
                .lock()
                .map_err(|_| "capture table poisoned".to_string())?
                .remove(name)
                .ok_or_else(|| format!("no capture named `{name}` is running"))?;
            let (path, frames) = blocking(move || cap.stop()).await?;
            let file = path.display().to_string();
            ctx.kept
                .lock()
                .map_err(|_| "poisoned".to_string())?
                .push(file.clone());
            Ok(Found {
                measured: json!({ "file": file, "frames": frames }),
                ..Default::default()
            })
        }
    }
}

#[cfg(test)]
mod bgp_tests {
    use super::*;
    use serde_json::json;

    fn neighbors() -> serde_json::Value {
        json!([
            {"name": "r2", "address": "10.0.12.2", "state": "established"},
            {"name": "r3", "address": "10.0.13.3", "state": "active"},
        ])
    }

    #[test]
    fn sessions() {
        let n = neighbors();
        let e = sessions_hold(&n, &BgpSessions::All).unwrap_err();
        assert!(e.contains("1 of 2") && e.contains("r3 is active"), "{e}");
        assert!(sessions_hold(&n, &BgpSessions::AtLeast(1)).is_ok());
        assert!(sessions_hold(&n, &BgpSessions::AtLeast(2)).is_err());
        assert!(sessions_hold(&n, &BgpSessions::Peers(vec!["r2".into()])).is_ok());
        assert!(sessions_hold(&n, &BgpSessions::Peers(vec!["10.0.12.2".into()])).is_ok());
        let e = sessions_hold(
            &n,
            &BgpSessions::Peers(vec!["10.0.13.3".into(), "r9".into()]),
        )
        .unwrap_err();
        assert!(
            e.contains("10.0.13.3 is active") && e.contains("r9 is not a peer"),
            "{e}"
        );
        assert!(sessions_hold(&json!([]), &BgpSessions::All).is_err());
    }

    #[test]
    fn routes() {
        let best = json!({"10.2.0.0/24": [{"prefix": "10.2.0.0/24", "next_hop": "10.0.12.2", "best": true}]});
        let via = |s: &str| Some(s.parse().unwrap());
        assert!(route_holds(&best, "10.2.0.0/24", None, true).is_ok());
        assert!(route_holds(&best, "10.2.0.0/24", via("10.0.12.2"), true).is_ok());
        let e = route_holds(&best, "10.2.0.0/24", via("10.0.13.3"), true).unwrap_err();
        assert!(e.contains("via 10.0.12.2, not 10.0.13.3"), "{e}");
        assert!(route_holds(&best, "10.2.0.0/24", via("10.0.13.3"), false).is_ok());
        assert!(route_holds(&best, "10.2.0.0/24", None, false).is_err());
        assert!(route_holds(&json!({}), "10.2.0.0/24", None, false).is_ok());
        let e = route_holds(&json!({}), "10.2.0.0/24", None, true).unwrap_err();
        assert_eq!(e, "no route to 10.2.0.0/24");
    }
}
