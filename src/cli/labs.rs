//! Commands on labs that exist: `ls`, `down`, `inspect`, `clean`, `exec`, `shell`.

use crate::cli::out::{errln, me, outln};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use miette::{IntoDiagnostic, miette};
use serde::Serialize;

use topolab::compile::Plan;
use topolab::lab::control::{self, Request, Response};
use topolab::lab::inspect::LabStatus;
use topolab::lab::teardown::{self, State};
use topolab::lab::{LabName, RUN_BASE, journal, name};

fn base() -> &'static Path {
    Path::new(RUN_BASE)
}

pub(crate) fn run_dir(lab: &LabName) -> PathBuf {
    name::run_dir(base(), lab)
}

/// The error for an I/O error on the run directories: permission denied says what
/// topolab needs instead of pretending there is no lab.
fn run_dir_error(e: io::Error) -> miette::Report {
    if e.kind() == io::ErrorKind::PermissionDenied {
        miette!(
            help = "topolab needs root, or CAP_SYS_ADMIN and CAP_NET_ADMIN: run it with sudo",
            "permission denied reading {RUN_BASE}"
        )
    } else {
        miette!("{RUN_BASE}: {e}")
    }
}

/// All labs with a run directory, sorted.
fn lab_names() -> miette::Result<Vec<LabName>> {
    name::list(base()).map_err(run_dir_error)
}

fn no_such_lab(lab: &LabName) -> miette::Report {
    let known = lab_names().unwrap_or_default();
    miette!(
        help = if known.is_empty() {
            format!("no lab is running; start one with `{} up`", me())
        } else {
            format!("running labs: {}", join(&known))
        },
        "no lab named `{lab}`"
    )
}

fn join(labs: &[LabName]) -> String {
    labs.iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fails unless `lab` has a run directory.
fn must_exist(lab: &LabName) -> miette::Result<()> {
    match name::run_dir_exists(base(), lab) {
        Ok(true) => Ok(()),
        Ok(false) => Err(no_such_lab(lab)),
        Err(e) => Err(run_dir_error(e)),
    }
}

pub fn read_plan(lab: &LabName) -> miette::Result<Plan> {
    must_exist(lab)?;
    let text = std::fs::read_to_string(run_dir(lab).join("plan.json")).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            miette!(
                help = format!("wait for `{0} up` to finish, or see `{0} ls`", me()),
                "lab `{lab}` is not up yet (it has no plan)"
            )
        } else {
            run_dir_error(e)
        }
    })?;
    serde_json::from_str(&text).into_diagnostic()
}

/// A control-socket call that failed, in words: a lab still coming up has no socket yet.
pub(crate) fn unreachable(lab: &LabName, e: io::Error) -> miette::Report {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => miette!(
            help = format!("try again when `{} up` has finished", me()),
            "lab `{lab}` is still coming up: its supervisor is not answering yet"
        ),
        io::ErrorKind::PermissionDenied => run_dir_error(e),
        _ => miette!(
            help = format!(
                "if its supervisor was killed, `{} clean` removes the lab",
                me()
            ),
            "cannot reach the supervisor of `{lab}`: {e}"
        ),
    }
}

fn node_netns(lab: &LabName, node: &str) -> miette::Result<String> {
    let plan = read_plan(lab)?;
    match plan.user_node(node) {
        Some(n) => Ok(n.netns.clone()),
        None => Err(miette!(
            help = format!(
                "nodes of `{lab}`: {}",
                plan.user_nodes()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "lab `{lab}` has no node `{node}`"
        )),
    }
}

/// The run directory holding `node`'s daemon sockets, logs and private directories: the
/// lab's, or its shard's when the lab is split across shards (an error naming the machine
/// if that shard runs elsewhere). Every command that reaches a node's files goes here.
pub(crate) fn node_dir(lab: &LabName, node: &str) -> miette::Result<PathBuf> {
    topolab::lab::coordinator::node_run_dir(&run_dir(lab), node).map_err(|e| miette!("{e}"))
}

/// The shards of `lab` on this machine (issue 13) that have a Plan: run directory, Plan.
fn shards_here(lab: &LabName) -> impl Iterator<Item = (PathBuf, Plan)> {
    name::shard_dirs(&run_dir(lab))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(_, dir)| {
            let text = std::fs::read_to_string(dir.join("plan.json")).ok()?;
            let plan: Plan = serde_json::from_str(&text).ok()?;
            Some((dir, plan))
        })
}

fn shard_plans(lab: &LabName) -> impl Iterator<Item = Plan> {
    shards_here(lab).map(|(_, p)| p)
}

/// The shard of `lab` on this machine that holds user node `node`: its run directory
/// (where the node's mount-namespace pins are) and its Plan.
fn shard_holding(lab: &LabName, node: &str) -> Option<(PathBuf, Plan)> {
    shards_here(lab).find(|(_, plan)| plan.user_node(node).is_some())
}

/// What a process of `node` joins (namespaces, cgroup), from the lab's Plan — or, for a
/// lab split across machines, from the Plan of the shard here that holds the node.
fn node_env(lab: &LabName, node: &str) -> miette::Result<topolab::lab::node_env::NodeEnv> {
    if let Some((dir, plan)) = shard_holding(lab, node) {
        let n = plan.user_node(node).expect("found by shard_holding");
        return topolab::lab::node_env::NodeEnv::open(lab, &dir, n)
            .map_err(|e| miette!("cannot enter node `{node}` of `{lab}`: {e}"));
    }
    let plan = read_plan(lab)?;
    node_netns(lab, node)?;
    let n = plan.user_node(node).expect("checked by node_netns");
    let dir = node_dir(lab, node)?;
    topolab::lab::node_env::NodeEnv::open(lab, &dir, n)
        .map_err(|e| miette!("cannot enter node `{node}` of `{lab}`: {e}"))
}

pub fn exec(lab: &LabName, node: &str, cmd: &[String]) -> miette::Result<()> {
    let env = node_env(lab, node)?;
    let err = env.exec_replace(cmd);
    Err(miette!("{}: {err}", cmd[0]))
}

pub fn shell(lab: &LabName, node: &str) -> miette::Result<()> {
    let env = node_env(lab, node)?;
    // SAFETY: single-threaded here (no runtime yet).
    unsafe {
        std::env::set_var("TOPOLAB_LAB", lab.as_str());
        std::env::set_var("TOPOLAB_NODE", node);
        std::env::set_var("PS1", format!("[{lab}:{node}] \\w# "));
    }
    let argv: Vec<String> = if Path::new("/bin/bash").exists() {
        vec!["/bin/bash".into(), "--norc".into(), "-i".into()]
    } else {
        vec!["/bin/sh".into(), "-i".into()]
    };
    let err = env.exec_replace(&argv);
    Err(miette!("{}: {err}", argv[0]))
}

#[derive(Serialize)]
struct LabRow {
    name: String,
    state: &'static str,
    pid: Option<u32>,
    nodes: usize,
    topology: String,
}

pub async fn ls(json: bool) -> miette::Result<()> {
    let mut rows = Vec::new();
    for lab in lab_names()? {
        let Ok(state) = teardown::state(base(), &lab) else {
            continue;
        };
        let entries = journal::Journal::read(&run_dir(&lab)).unwrap_or_default();
        let (pid, topology) = journal::Journal::owner(&entries)
            .map(|(_, pid, _, t)| (pid, t.to_string()))
            .unwrap_or((0, String::new()));
        // A machine that runs shards of the lab but not its coordinator: their nodes.
        let nodes = read_plan(&lab)
            .map(|p| p.user_nodes().count())
            .unwrap_or_else(|_| shard_plans(&lab).map(|p| p.user_nodes().count()).sum());
        rows.push(LabRow {
            name: lab.to_string(),
            state: state.label(),
            pid: (state == State::Running && pid != 0).then_some(pid),
            nodes,
            topology,
        });
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(&rows).into_diagnostic()?);
        return Ok(());
    }
    if rows.is_empty() {
        outln!("no labs (start one with `{} up`)", me());
        return Ok(());
    }
    outln!(
        "{:<20} {:<10} {:>7} {:>6}  TOPOLOGY",
        "LAB",
        "STATE",
        "PID",
        "NODES"
    );
    for r in &rows {
        outln!(
            "{:<20} {:<10} {:>7} {:>6}  {}",
            r.name,
            r.state,
            r.pid.map(|p| p.to_string()).unwrap_or("-".into()),
            r.nodes,
            r.topology
        );
    }
    if rows.iter().any(|r| r.state != "running") {
        outln!(
            "\norphaned and incomplete labs have no supervisor: `{} clean` removes them",
            me()
        );
    }
    Ok(())
}

/// How long `down` waits for a supervisor to exit after it answered.
const SUPERVISOR_EXIT: Duration = Duration::from_secs(30);

pub async fn down(lab: Option<LabName>) -> miette::Result<()> {
    let lab = match lab {
        Some(l) => l,
        None => {
            let names = lab_names()?;
            match names.as_slice() {
                [one] => one.clone(),
                [] => return Err(miette!("no lab is running")),
                many => {
                    return Err(miette!(
                        help = format!("running labs: {}", join(many)),
                        "several labs exist: name the one to stop"
                    ));
                }
            }
        }
    };
    must_exist(&lab)?;
    let dir = run_dir(&lab);
    match teardown::state(base(), &lab).map_err(run_dir_error)? {
        // No coordinator on this machine, only shards of the lab (`topolab agent`): each
        // goes down through its own control socket.
        State::Running if !matches!(teardown::try_lock(&dir), Ok(None)) => {
            let shards = teardown::live_shards(&dir).map_err(run_dir_error)?;
            for k in shards {
                down_dir(&lab, name::shard_dir(base(), &lab, k)).await?;
                outln!("lab `{lab}` shard {k} is down");
            }
        }
        State::Running => {
            down_dir(&lab, dir).await?;
            outln!("lab `{lab}` is down");
        }
        _ => {
            let removed = teardown::teardown_dir(base(), &lab).into_diagnostic()?;
            outln!(
                "lab `{lab}` had no supervisor; removed its leftovers ({} namespaces, {} processes)",
                removed.namespaces,
                removed.processes
            );
        }
    }
    Ok(())
}

/// Asks the supervisor of run directory `dir` (the lab's, or a shard's) to go down, and
/// waits for it to exit.
async fn down_dir(lab: &LabName, dir: PathBuf) -> miette::Result<()> {
    // Who the supervisor is, read before it is asked to go (its journal goes too).
    let entries = journal::Journal::read(&dir).unwrap_or_default();
    let owner = journal::Journal::owner(&entries).map(|(_, pid, start, _)| (pid, start));
    let resp = tokio::task::spawn_blocking(move || {
        control::call(&dir, &Request::Down, Duration::from_secs(300))
    })
    .await
    .into_diagnostic()?
    .map_err(|e| unreachable(lab, e))?;
    match resp {
        Response::Done => {}
        Response::Error { message } => return Err(miette!("{message}")),
        other => return Err(miette!("unexpected answer: {other:?}")),
    }
    if let Some((pid, start)) = owner {
        wait_exit(pid, start, SUPERVISOR_EXIT).await.map_err(|_| {
            miette!(
                "lab `{lab}` is down, but its supervisor (pid {pid}) has not exited after {} s",
                SUPERVISOR_EXIT.as_secs()
            )
        })?;
    }
    Ok(())
}

/// Waits until process `pid` (started at `start`) has exited, up to `limit`.
async fn wait_exit(pid: u32, start: u64, limit: Duration) -> Result<(), ()> {
    let deadline = Instant::now() + limit;
    while teardown::is_running(pid, start) {
        if Instant::now() >= deadline {
            return Err(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// The lab's state as its supervisor sees it (nodes, links with counters, services).
pub async fn status(lab: &LabName) -> miette::Result<Box<LabStatus>> {
    read_plan(lab)?;
    let dir = run_dir(lab);
    let resp = tokio::task::spawn_blocking(move || {
        control::call(&dir, &Request::Inspect, Duration::from_secs(60))
    })
    .await
    .into_diagnostic()?
    .map_err(|e| unreachable(lab, e))?;
    match resp {
        Response::Status { status } => Ok(status),
        Response::Error { message } => Err(miette!("{message}")),
        other => Err(miette!("unexpected answer: {other:?}")),
    }
}

pub async fn inspect(lab: &LabName, json: bool) -> miette::Result<()> {
    let status = status(lab).await?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&status).into_diagnostic()?
        );
    } else {
        print_status(&status);
    }
    Ok(())
}

fn print_status(s: &LabStatus) {
    outln!(
        "lab {}  (supervisor pid {}, topology {})",
        s.name,
        s.supervisor_pid,
        s.topology
    );
    let emulated: Vec<_> = s
        .links
        .iter()
        .filter(|l| l.engine != topolab::compile::EngineChoice::Plain)
        .collect();
    if !emulated.is_empty() {
        outln!("");
        emulated.into_iter().for_each(print_link);
    }
    for n in &s.nodes {
        if n.missing {
            outln!(
                "\n{} [{}] netns {}: MISSING (the namespace is gone)",
                n.name,
                format!("{:?}", n.kind).to_lowercase(),
                n.netns
            );
            continue;
        }
        outln!(
            "\n{} [{}] netns {}",
            n.name,
            format!("{:?}", n.kind).to_lowercase(),
            n.netns
        );
        if n.cpu_ns.is_some() || n.memory_bytes.is_some() {
            let cpu = n
                .cpu_ns
                .map_or("?".into(), |ns| format!("{:.2} s", ns as f64 / 1e9));
            let mem = n.memory_bytes.map_or("?".into(), |b| {
                format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20))
            });
            outln!("  cgroup: cpu time {cpu}, memory {mem}");
        }
        for l in n.links.iter().filter(|l| {
            l.name != "lo"
                || n.addrs
                    .iter()
                    .any(|a| a.ifindex == l.ifindex && !a.addr.addr().is_loopback())
        }) {
            let addrs: Vec<String> = n
                .addrs
                .iter()
                .filter(|a| a.ifindex == l.ifindex && !a.addr.addr().is_loopback())
                .map(|a| a.addr.to_string())
                .collect();
            let master = l
                .master
                .and_then(|m| n.links.iter().find(|x| x.ifindex == m))
                .map(|m| format!(" port of {}", m.name))
                .unwrap_or_default();
            outln!(
                "  {:<8} {:<5} {} mtu {}{}  {}",
                l.name,
                if l.up { &l.oper } else { "down" },
                l.mac.as_deref().unwrap_or("-"),
                l.mtu.unwrap_or(0),
                master,
                addrs.join(" ")
            );
        }
        for r in n.routes.iter().filter(|r| r.proto != "kernel") {
            let dev = r
                .dev
                .and_then(|d| n.links.iter().find(|l| l.ifindex == d))
                .map(|l| l.name.as_str())
                .unwrap_or("?");
            match r.via {
                Some(v) => outln!("  route {} via {v} dev {dev}", r.dst),
                None => outln!("  route {} dev {dev}", r.dst),
            }
        }
        for sv in s.services.iter().filter(|sv| sv.node == n.name) {
            crate::cli::node::print_service(sv, true);
        }
    }
}

pub async fn clean() -> miette::Result<()> {
    let orphans = teardown::orphans(base()).map_err(run_dir_error)?;
    teardown::remove_stale_claims(base());
    if orphans.is_empty() {
        outln!("nothing to clean: every lab on this machine has a live supervisor");
        return Ok(());
    }
    let mut failed = 0;
    for o in orphans {
        let (r, what) = match o.shard {
            None => (teardown::teardown_dir(base(), &o.name), String::new()),
            Some(k) => (
                teardown::teardown_shard_dir(base(), &o.name, k),
                format!(" shard {k}"),
            ),
        };
        match r {
            Ok(removed) => outln!(
                "removed {} lab `{}`{what}: {} namespaces, {} processes",
                o.state.label(),
                o.name,
                removed.namespaces,
                removed.processes
            ),
            Err(e) => {
                failed += 1;
                errln!("lab `{}`{what}: {e}", o.name);
            }
        }
    }
    if failed > 0 {
        return Err(miette!("{failed} lab(s) could not be fully removed"));
    }
    Ok(())
}

pub async fn link(
    lab: &LabName,
    a: &str,
    b: &str,
    words: &[String],
    json: bool,
) -> miette::Result<()> {
    use topolab::lab::links::LinkAction;
    read_plan(lab)?;
    let action = match words[0].as_str() {
        "down" => Some(LinkAction::Down),
        "up" => Some(LinkAction::Up),
        "show" => None,
        "set" => {
            if words.len() < 2 {
                return Err(miette!(
                    help = format!("example: {} link LAB A B set delay=20ms loss=1%", me()),
                    "`set` needs at least one KEY=VALUE"
                ));
            }
            let changes = topolab::topology::changes::parse_changes(&words[1..])
                .map_err(|e| miette!("{e}"))?;
            Some(LinkAction::set(changes))
        }
        other => {
            return Err(miette!(
                help = format!("{} link LAB A B down|up|show|set KEY=VALUE…", me()),
                "unknown link action `{other}`"
            ));
        }
    };
    let dir = run_dir(lab);
    let request = match action {
        Some(action) => Request::Link {
            a: a.into(),
            b: b.into(),
            action,
        },
        None => Request::Inspect,
    };
    let resp =
        tokio::task::spawn_blocking(move || control::call(&dir, &request, Duration::from_secs(30)))
            .await
            .into_diagnostic()?
            .map_err(|e| unreachable(lab, e))?;
    let status = match resp {
        Response::Link { status } => *status,
        Response::Status { status } => {
            let plan = read_plan(lab)?;
            let idx = topolab::lab::links::Links::find(&plan, a, b)?;
            status
                .links
                .into_iter()
                .find(|l| l.link == idx)
                .ok_or_else(|| miette!("link not reported"))?
        }
        Response::Error { message } => return Err(miette!("{message}")),
        other => return Err(miette!("unexpected answer: {other:?}")),
    };
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&status).into_diagnostic()?
        );
    } else {
        print_link(&status);
    }
    Ok(())
}

fn print_link(l: &topolab::lab::links::LinkStatus) {
    outln!(
        "link {}: {} — {}  [{}] {}",
        l.link,
        l.a,
        l.b,
        if l.up { "up" } else { "down" },
        format!("{:?}", l.engine).to_lowercase()
    );
    outln!("  {}", l.reason);
    for (dir, imp, c) in [
        ("a→b", &l.a_to_b, &l.counters_a_to_b),
        ("b→a", &l.b_to_a, &l.counters_b_to_a),
    ] {
        outln!("  {dir} {}", topolab::topology::describe_impairment(imp));
        if let Some(c) = c {
            outln!(
                "      passed {} pkts {} B, lost {}, queue drops {}, duplicated {}, reordered {}, corrupted {}, refused by the kernel {}",
                c.passed_packets,
                c.passed_bytes,
                c.dropped_loss,
                c.dropped_queue,
                c.duplicated,
                c.reordered,
                c.corrupted,
                c.dropped_tx
            );
            if let Some(e) = &c.relay_error {
                outln!("      relay stopped: {e}");
            }
        }
    }
}
