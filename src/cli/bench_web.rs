//! `topolab bench web`: what the web view costs. A generated lab (default: 200 nodes of
//! BGP ASes) comes up detached with `--web 127.0.0.1:0`, so the web server runs inside its
//! supervisor; then:
//!
//! - **CPU**: the supervisor's and the lab's (supervisor plus the daemons it started) user +
//!   system time from `/proc/PID/stat` over `--seconds`, first with no page open (the
//!   ticker samples nothing), then with one headless Chromium page receiving a tick a
//!   second; the difference is what serving the view costs.
//! - **Page weight**: bytes of the page (with the lab's graph in it), its script and its
//!   style as the browser received them (Resource Timing), and of one tick.
//! - **Link down to red**: a link taken down over the control socket (as `topolab link`
//!   does), then the time until the open page draws it down (polled every 20 ms), over
//!   `--downs` downs (median and worst); the link comes back up between them.
//! - **Time to first draw**: `performance.now()` when the page has drawn every node and
//!   link (from the start of navigation; the page records it), over `--loads` fresh page
//!   loads (median), and the part of it spent laying the graph out.

use crate::cli::out::{errln, outln};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use miette::{IntoDiagnostic, miette};
use serde::Serialize;

use topolab::lab::control::{self, Request, Response};
use topolab::web::cdp::{Browser, find_chromium};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// `ases`: N/10 ASes of 9 BGP routers and a host.
    Ases,
    /// `fattree`: the smallest k whose fat tree has at least N nodes (switches and hosts).
    Fattree,
}

#[derive(Args)]
pub struct WebBench {
    /// Lab shapes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "ases")]
    pub shape: Vec<Shape>,
    /// Nodes in the lab (about).
    #[arg(long, default_value_t = 200)]
    pub nodes: usize,
    /// Seconds of each CPU measurement.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Page loads timed for the first draw (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub loads: usize,
    /// Links taken down (one at a time) to time the page's reaction.
    #[arg(long, default_value_t = 10)]
    pub downs: usize,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Serialize, Debug)]
struct Row {
    shape: Shape,
    nodes: usize,
    links: usize,
    page_bytes: u64,
    script_bytes: u64,
    style_bytes: u64,
    total_bytes: u64,
    tick_bytes: u64,
    first_draw_ms: f64,
    layout_ms: f64,
    down_to_red_median_ms: f64,
    down_to_red_max_ms: f64,
    seconds: u64,
    supervisor_cpu_idle_pct: f64,
    supervisor_cpu_served_pct: f64,
    lab_cpu_idle_pct: f64,
    lab_cpu_served_pct: f64,
}

fn topology(shape: Shape, nodes: usize) -> String {
    match shape {
        Shape::Ases => format!(
            "name: bweb\ngenerate:\n  - ases: {{ases: {}, routers_per_as: 9, hosts_per_as: 1}}\n",
            (nodes / 10).max(2)
        ),
        Shape::Fattree => {
            let mut k = 2;
            while k * k * 5 / 4 + k * k * k / 4 < nodes {
                k += 2;
            }
            format!("name: bweb\ngenerate:\n  - fattree: {{k: {k}}}\n")
        }
    }
}

/// The parent of process `pid` (`/proc/PID/stat` field 4).
fn ppid(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: fields count from after its ')'.
    s[s.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU time (clock ticks) of `pid` and, with `children`, of the processes
/// whose parent it is.
fn cpu_ticks(pid: u32, children: bool) -> u64 {
    use super::bench_bgp::cpu_ticks as own;
    let mut total = own(pid).unwrap_or(0);
    if !children {
        return total;
    }
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if ppid(p) == Some(pid) {
            total += own(p).unwrap_or(0);
        }
    }
    total
}

/// CPU use in percent of one CPU of the supervisor, and of it with its children, over
/// `secs` seconds.
fn cpu_over(pid: u32, secs: u64) -> (f64, f64) {
    let hz = super::bench_bgp::clock_ticks();
    let (s0, l0) = (cpu_ticks(pid, false), cpu_ticks(pid, true));
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let wall = t0.elapsed().as_secs_f64();
    let (s1, l1) = (cpu_ticks(pid, false), cpu_ticks(pid, true));
    let pct = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / hz / wall * 100.0;
    (pct(s0, s1), pct(l0, l1))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Tears the bench's lab down when dropped.
struct Down(String);

impl Drop for Down {
    fn drop(&mut self) {
        if let Ok(exe) = std::env::current_exe() {
            let _ = Command::new(exe).args(["down", &self.0]).output();
        }
    }
}

fn one(b: &WebBench, shape: Shape, chromium: &std::path::Path) -> miette::Result<Row> {
    let name = super::bench::lab_name();
    let file = std::env::temp_dir().join(format!("topolab-bench-web-{}.yaml", std::process::id()));
    let topo = topology(shape, b.nodes);
    std::fs::write(&file, &topo).into_diagnostic()?;
    let plan = topolab::compile::compile(
        &topolab::topology::Topology::from_str(&topo, "bench web").map_err(|e| miette!("{e}"))?,
        &name,
    )
    .map_err(|e| miette!("{e}"))?;
    errln!(
        "bench web: {shape:?}, {} nodes, {} links: bringing it up…",
        plan.user_nodes().count(),
        plan.links.len()
    );
    let exe = std::env::current_exe().into_diagnostic()?;
    let down = Down(name.clone());
    let out = Command::new(&exe)
        .args([
            "up",
            "-d",
            "--name",
            &name,
            "--web",
            "127.0.0.1:0",
            "--ready-timeout",
            "600",
        ])
        .arg(&file)
        .output()
        .into_diagnostic()?;
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(miette!(
            "up failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let url = stdout
        .lines()
        .find_map(|l| l.split("web view of lab").nth(1)?.split(": ").nth(1))
        .ok_or_else(|| miette!("no web view address in: {stdout}"))?
        .trim()
        .to_string();
    let dir = super::labs::run_dir(&topolab::lab::LabName::new(&name).map_err(|e| miette!(e))?);
    let pid =
        match control::call(&dir, &Request::Ping, Duration::from_secs(10)).into_diagnostic()? {
            Response::Pong { pid, .. } => pid,
            other => return Err(miette!("unexpected answer {other:?}")),
        };
    // Let sessions come up and start-up work finish before measuring.
    std::thread::sleep(Duration::from_secs(10));
    errln!("bench web: CPU for {} s without a page…", b.seconds);
    let idle = cpu_over(pid, b.seconds);

    let mut browser = Browser::launch(chromium, &std::env::temp_dir(), 1280, 800)
        .map_err(|e| miette!("chromium: {e}"))?;
    let cdp = |e: std::io::Error| miette!("chromium: {e}");
    let page = browser.open(&url).map_err(cdp)?;
    let long = Duration::from_secs(60);
    browser
        .wait_for(&page, "Number(document.body.dataset.ticks || 0) >= 2", long)
        .map_err(cdp)?;
    errln!("bench web: CPU for {} s with a page open…", b.seconds);
    let served = cpu_over(pid, b.seconds);
    let weights = browser
        .eval(
            &page,
            "(() => { const n = performance.getEntriesByType('navigation')[0]; \
             const r = performance.getEntriesByType('resource'); \
             const size = s => (r.find(e => e.name.endsWith(s)) || {}).encodedBodySize || 0; \
             return [n.encodedBodySize, size('/app.js'), size('/app.css'), \
             Number(document.body.dataset.tickBytes || 0)]; })()",
        )
        .map_err(cdp)?;
    let w = |i: usize| weights[i].as_u64().unwrap_or(0);
    let mut reds = Vec::new();
    for i in 0..b.downs {
        let l = &plan.links[i * 7 % plan.links.len()];
        use topolab::lab::links::label;
        let act = |action| Request::Link {
            a: label(&plan, l.a),
            b: label(&plan, l.b),
            action,
        };
        let state = format!(
            "document.querySelector('[data-link=\"{}\"]').dataset.state",
            l.link
        );
        use topolab::lab::links::LinkAction;
        control::call(&dir, &act(LinkAction::Down), long).into_diagnostic()?;
        let t0 = Instant::now();
        browser
            .wait_for(&page, &format!("{state} === 'down'"), long)
            .map_err(cdp)?;
        reds.push(t0.elapsed().as_secs_f64() * 1e3);
        control::call(&dir, &act(LinkAction::Up), long).into_diagnostic()?;
        browser
            .wait_for(&page, &format!("{state} !== 'down'"), long)
            .map_err(cdp)?;
    }
    let red_max = reds.iter().copied().fold(0.0, f64::max);
    let (mut draws, mut layouts) = (Vec::new(), Vec::new());
    for _ in 0..b.loads.max(1) {
        let p = browser.open(&url).map_err(cdp)?;
        let v = browser
            .wait_for(
                &p,
                "document.body && document.body.dataset.firstDrawMs && \
                 [Number(document.body.dataset.firstDrawMs), Number(document.body.dataset.layoutMs)]",
                long,
            )
            .map_err(cdp)?;
        draws.push(v[0].as_f64().unwrap_or(0.0));
        layouts.push(v[1].as_f64().unwrap_or(0.0));
        let _ = browser.close(p);
    }
    drop(browser);
    drop(down);
    Ok(Row {
        shape,
        nodes: plan.user_nodes().count(),
        links: plan.links.len(),
        page_bytes: w(0),
        script_bytes: w(1),
        style_bytes: w(2),
        total_bytes: w(0) + w(1) + w(2),
        tick_bytes: w(3),
        down_to_red_median_ms: median(reds),
        down_to_red_max_ms: red_max,
        first_draw_ms: median(draws),
        layout_ms: median(layouts),
        seconds: b.seconds,
        supervisor_cpu_idle_pct: idle.0,
        supervisor_cpu_served_pct: served.0,
        lab_cpu_idle_pct: idle.1,
        lab_cpu_served_pct: served.1,
    })
}

pub async fn run(b: WebBench) -> miette::Result<()> {
    let chromium = find_chromium()
        .ok_or_else(|| miette!("chromium is not installed (scripts/deps installs it)"))?;
    let rows = tokio::task::spawn_blocking(move || -> miette::Result<(WebBench, Vec<Row>)> {
        let mut rows = Vec::new();
        for &shape in &b.shape {
            rows.push(one(&b, shape, &chromium)?);
        }
        Ok((b, rows))
    })
    .await
    .into_diagnostic()??;
    let (b, rows) = rows;
    let json = serde_json::to_string_pretty(&rows).into_diagnostic()?;
    if let Some(out) = &b.out {
        std::fs::write(out, &json).into_diagnostic()?;
    }
    if b.json {
        outln!("{json}");
        return Ok(());
    }
    outln!(
        "| lab | nodes | links | page + script + style (bytes) | tick (bytes) | first draw (ms, median of {}) | of it layout (ms) | link down → drawn red (ms, median / worst of {}) | supervisor CPU, no page → 1 page | lab CPU (with daemons), no page → 1 page |",
        b.loads,
        b.downs
    );
    outln!("|---|---:|---:|---|---:|---:|---:|---|---|---|");
    for r in &rows {
        outln!(
            "| {:?} | {} | {} | {} + {} + {} = {} | {} | {:.0} | {:.0} | {:.0} / {:.0} | {:.2}% → {:.2}% | {:.2}% → {:.2}% |",
            r.shape,
            r.nodes,
            r.links,
            r.page_bytes,
            r.script_bytes,
            r.style_bytes,
            r.total_bytes,
            r.tick_bytes,
            r.first_draw_ms,
            r.layout_ms,
            r.down_to_red_median_ms,
            r.down_to_red_max_ms,
            r.supervisor_cpu_idle_pct,
            r.supervisor_cpu_served_pct,
            r.lab_cpu_idle_pct,
            r.lab_cpu_served_pct
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_labs_have_about_the_nodes_asked_for() {
        for (shape, want) in [(Shape::Ases, 200), (Shape::Fattree, 208)] {
            let t = topolab::topology::Topology::from_str(&topology(shape, 200), "t").unwrap();
            assert_eq!(t.nodes.len(), want, "{shape:?}");
        }
    }

    #[test]
    fn ticks_of_this_process_are_counted() {
        let me = std::process::id();
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {}
        // Own ticks first: they only grow, so the total read after them (own ticks then,
        // plus the children's) cannot be smaller.
        let own = cpu_ticks(me, false);
        let all = cpu_ticks(me, true);
        assert!(all >= own, "{all} < {own}");
        assert_eq!(ppid(me), Some(nix::unistd::getppid().as_raw() as u32));
    }
}
