//! `topolab up`: bring a lab up and supervise it, in the foreground or detached.
//!
//! Detached mode re-executes this binary as a hidden `supervise` command in its own
//! session. The child's stdout/stderr are a pipe the parent relays (with the quiet
//! macros) until the child sends the ready marker. As soon as the lab is up (its run
//! directory exists) the child points stdout and stderr at `supervisor.log` there and
//! sends the parent only the summary and the ready marker, over its own copy of the pipe,
//! ignoring write errors: the supervisor never writes to the invoking terminal, and a
//! parent gone or a closed pipe cannot touch the lab. The parent then exits 0; if the
//! child dies first, the parent exits with its failure.

use crate::cli::out::{errln, me, out, outln};
use std::io::IsTerminal;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use miette::{IntoDiagnostic, WrapErr};

use std::sync::atomic::{AtomicBool, Ordering};

use topolab::lab::{Lab, LabName, LabOptions, Progress, supervisor};
use topolab::topology::{Limits, Topology};

pub(crate) const READY: &str = "\u{1}topolab-ready";

#[derive(Args, Clone)]
pub struct UpArgs {
    /// Topology file (YAML). Without it: the built-in quickstart lab.
    pub file: Option<PathBuf>,
    /// Lab name (default: the topology's `name`). Namespaces are called LAB-NODE.
    #[arg(long)]
    pub name: Option<LabName>,
    /// Detach: leave the lab running in the background; stop it with `topolab down LAB`.
    #[arg(short, long)]
    pub detach: bool,
    /// Threads creating namespaces (default: one per CPU, at most 2).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Seconds to wait for every service's readiness condition; the lab is torn down if
    /// one is not ready by then.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub ready_timeout: u64,
    /// A Mininet topology string instead of FILE, as `mn --topo` takes it: `single,4`,
    /// `linear,3`, `tree,2,3`, `torus,3,3` (what `topolab import --format mininet` prints).
    #[arg(long, value_name = "TOPO", conflicts_with = "file")]
    pub topo: Option<String>,
    /// Do not drop into the console once the lab is up (a foreground `up` whose stdin is
    /// a terminal opens `topolab console` on the lab; Ctrl-D or `exit` tears it down).
    #[arg(long)]
    pub no_console: bool,
    /// Also serve the live web view (`topolab web`) on ADDR (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR:PORT", num_args = 0..=1, default_missing_value = "127.0.0.1:8080")]
    pub web: Option<std::net::SocketAddr>,
    /// Split the lab over N shards, each run by a `topolab agent` and reached through this
    /// coordinator (`--shards 1` or none: the lab runs here as one).
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// How the agents start: `local` runs them on this machine, each in its own "machine"
    /// namespace joined by an underlay bridge; `slurm` runs one per node of the Slurm
    /// allocation this runs in (`salloc -N 3 topolab up FILE --launcher slurm`; --shards
    /// defaults to the allocation's node count).
    #[arg(long, value_name = "LAUNCHER", default_value = "local", value_parser = ["local", "slurm"])]
    pub launcher: String,
    /// Machines file for the planner (names, underlay addresses, MTUs, weights).
    #[arg(long, value_name = "FILE")]
    pub machines: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

impl UpArgs {
    /// Whether the lab is split across shards.
    pub fn sharded(&self) -> bool {
        self.shards.is_some_and(|n| n > 1) || self.launcher == "slurm"
    }
}

/// Bounds on topology files, shared by validate, plan, up and test.
#[derive(Args, Clone, Copy)]
pub struct LimitArgs {
    /// Most nodes a lab may have (written and generated).
    #[arg(long, value_name = "N", default_value_t = topolab::topology::DEFAULT_MAX_NODES)]
    pub max_nodes: usize,
}

impl Default for LimitArgs {
    fn default() -> Self {
        LimitArgs {
            max_nodes: topolab::topology::DEFAULT_MAX_NODES,
        }
    }
}

impl LimitArgs {
    pub fn limits(self) -> Limits {
        Limits {
            max_nodes: self.max_nodes,
        }
    }
}

pub fn load(file: Option<&std::path::Path>, limits: LimitArgs) -> miette::Result<Topology> {
    match file {
        Some(f) => Ok(Topology::load_with(f, limits.limits())?),
        None => Ok(Topology::quickstart()),
    }
}

/// The lab `up` brings up: FILE, a `--topo` Mininet string, or the quickstart.
pub(crate) fn load_args(args: &UpArgs) -> miette::Result<Topology> {
    match &args.topo {
        Some(t) => Ok(topolab::topology::import::mininet_topology(
            t,
            args.limits.limits(),
        )?),
        None => load(args.file.as_deref(), args.limits),
    }
}

/// From here on SIGINT and SIGTERM no longer kill the process: they set the returned flag,
/// which bring-up checks (and then tears down what it made). Call it before anything is
/// made (before the run directory is claimed).
pub fn interrupt_flag() -> miette::Result<Arc<AtomicBool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let flag = Arc::new(AtomicBool::new(false));
    for kind in [SignalKind::interrupt(), SignalKind::terminate()] {
        let mut s = signal(kind).into_diagnostic()?;
        let f = flag.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                f.store(true, Ordering::SeqCst);
            }
        });
    }
    Ok(flag)
}

pub async fn up(args: UpArgs) -> miette::Result<()> {
    let topology = load_args(&args)?;
    let name = args
        .name
        .as_ref()
        .map(|n| n.to_string())
        .unwrap_or_else(|| topology.name.clone());
    // Compile here so that mistakes are reported before anything starts.
    topolab::compile::compile(&topology, &name)?;
    if args.detach && args.launcher == "slurm" {
        // The allocation ends when the command `salloc` runs returns, and Slurm then ends
        // the agents' step: a detached lab would lose its shards.
        return Err(miette::miette!(
            help = "run `salloc -N 3 topolab up FILE --launcher slurm` in the foreground \
                    (Ctrl-C or `topolab down` ends it), or put it in an sbatch script",
            "-d cannot be used with --launcher slurm"
        ));
    }
    if args.sharded() && !args.detach {
        return crate::cli::shards::up(args, topology, false).await;
    }
    if args.detach {
        // The detached supervisor handles signals itself, from its first instruction.
        return detach(&args);
    }
    // Nothing exists yet (a signal until here just ends the process); from here on a
    // signal at any moment tears down what was made.
    let cancel = interrupt_flag()?;
    let web = bind_web(&args).await?;
    let lab = bring_up(&topology, &args, cancel.clone()).await?;
    let web_line = web.map(|listener| crate::cli::web::spawn_for(listener, &lab));
    if !args.no_console && foreground_terminal() {
        if let Some(line) = &web_line {
            out!("{line}");
        }
        return with_console(lab, cancel).await;
    }
    let mut summary = summary(&lab, args.file.is_none() && args.topo.is_none(), false);
    if let Some(line) = web_line {
        summary.push_str(&line);
    }
    supervisor::serve_then(lab, Some(cancel), move || {
        out!("{summary}");
        outln!("Press Ctrl-C to tear the lab down.");
    })
    .await?;
    outln!("lab `{name}` is down");
    Ok(())
}

/// Whether stdin is a terminal and we are its foreground job: `up lab.yaml &` must not
/// read the terminal (it would be stopped, and the lab with it).
fn foreground_terminal() -> bool {
    let stdin = std::io::stdin();
    stdin.is_terminal()
        && nix::unistd::tcgetpgrp(&stdin).is_ok_and(|fg| fg == nix::unistd::getpgrp())
}

/// The foreground `up` on a terminal: the console on the lab, which goes down when the
/// console is left (`exit`, Ctrl-D), as with `mn`. Ctrl-C belongs to the console's
/// commands then; SIGTERM and `topolab down` still end the lab.
async fn with_console(lab: Lab, cancel: Arc<AtomicBool>) -> miette::Result<()> {
    let name = LabName::new(lab.name()).map_err(|e| miette::miette!("{e}"))?;
    // The line editor puts the terminal in raw mode while it reads; if the lab ends under
    // it, the terminal is given back as it was.
    let saved = nix::sys::termios::tcgetattr(std::io::stdin()).ok();
    let table = node_table(&lab);
    let (left, leave) = tokio::sync::oneshot::channel::<()>();
    let until = supervisor::Until {
        done: async move {
            let _ = leave.await;
        },
        sigint: false,
    };
    let console_lab = name.clone();
    let stopped = supervisor::serve_until(
        lab,
        Some(cancel),
        move || {
            out!("{table}");
            tokio::spawn(async move {
                if let Err(e) = crate::cli::console::attached(console_lab).await {
                    errln!("{e:?}");
                }
                let _ = left.send(());
            });
        },
        until,
    )
    .await?;
    if stopped != supervisor::Stopped::Finished {
        // The lab ended while the console waited for a line: it cannot be woken, so
        // restore the terminal and end here.
        if let Some(t) = saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                &t,
            );
        }
        outln!("\nlab `{name}` is down");
        std::process::exit(0);
    }
    outln!("lab `{name}` is down");
    Ok(())
}

/// The detached supervisor (hidden command, started by `up -d`).
pub async fn supervise(args: UpArgs) -> miette::Result<()> {
    if args.sharded() {
        let topology = load_args(&args)?;
        return crate::cli::shards::up(args, topology, true).await;
    }
    let cancel = interrupt_flag()?;
    let topology = load_args(&args)?;
    let web = bind_web(&args).await?;
    let lab = bring_up(&topology, &args, cancel.clone()).await?;
    // Our stdout is the pipe to `up -d`: keep a copy for the summary, then write only to
    // the log.
    let relay = std::io::stdout().as_fd().try_clone_to_owned().ok();
    redirect_output(&lab.run_dir().join("supervisor.log"));
    let mut summary = summary(&lab, args.file.is_none() && args.topo.is_none(), true);
    if let Some(listener) = web {
        summary.push_str(&crate::cli::web::spawn_for(listener, &lab));
    }
    outln!(
        "supervisor pid {} serving lab `{}`",
        std::process::id(),
        lab.name()
    );
    out!("{summary}");
    supervisor::serve_then(lab, Some(cancel), move || {
        if let Some(relay) = relay {
            let _ = std::fs::File::from(relay).write_all(format!("{summary}{READY}\n").as_bytes());
        }
    })
    .await?;
    Ok(())
}

/// `--web ADDR`: the listening socket, bound before anything is made (a port in use fails
/// the command before the lab exists).
async fn bind_web(args: &UpArgs) -> miette::Result<Option<tokio::net::TcpListener>> {
    match args.web {
        Some(addr) => Ok(Some(crate::cli::web::bind(addr).await?)),
        None => Ok(None),
    }
}

async fn bring_up(
    topology: &Topology,
    args: &UpArgs,
    cancel: Arc<AtomicBool>,
) -> miette::Result<Lab> {
    let mut opts = LabOptions {
        name: args.name.as_ref().map(|n| n.to_string()),
        cancel: Some(cancel),
        ..LabOptions::default()
    };
    if let Some(w) = args.workers {
        opts.workers = w;
    }
    opts.ready_timeout = Some(std::time::Duration::from_secs(args.ready_timeout));
    let name = opts.name.clone().unwrap_or_else(|| topology.name.clone());
    let mut ready_bars = None;
    let bar = (topology.nodes.len() > 20).then(|| progress_bar(topology.nodes.len()));
    if let Some(bar) = &bar {
        let bar = bar.clone();
        opts.progress = Some(Arc::new(move |p: Progress| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            bar.set_message(p.stage.label());
        }));
    }
    let waiting = topology.nodes.iter().any(|n| !n.services.is_empty());
    if waiting {
        let ready_bar = progress_bar(0);
        ready_bar.set_message("services ready");
        let shown = ready_bar.clone();
        opts.ready_progress = Some(Arc::new(move |ready, total| {
            shown.set_length(total as u64);
            shown.set_position(ready as u64);
        }));
        ready_bars = Some(ready_bar);
    }
    if let Ok(lab) = LabName::new(&name) {
        install_panic_teardown(&opts.run_base, lab);
    }
    let started = std::time::Instant::now();
    let lab = Lab::up_with(topology, opts).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(bar) = ready_bars {
        bar.finish_and_clear();
    }
    let lab = lab.wrap_err_with(|| format!("bringing up lab `{name}`"))?;
    errln!(
        "lab `{}` up: {} nodes, {} links in {:.2} s",
        lab.name(),
        lab.plan().user_nodes().count(),
        lab.plan().links.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(lab)
}

fn progress_bar(n: usize) -> ProgressBar {
    let bar = ProgressBar::new(n as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:>22} [{bar:40}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// A panic anywhere in the supervisor ends the lab: tear it down from its journal, then
/// let the default hook report the panic.
fn install_panic_teardown(base: &std::path::Path, lab: LabName) {
    let base = base.to_path_buf();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = topolab::lab::teardown::teardown_dir(&base, &lab);
        default(info);
    }));
}

/// What to tell the user once the lab is up: its nodes and a few commands to try
/// (`detached`: the terminal is free, and `down` is how the lab ends).
fn summary(lab: &Lab, quickstart: bool, detached: bool) -> String {
    use std::fmt::Write as _;
    let plan = lab.plan();
    let name = lab.name();
    let me = me();
    let nodes: Vec<_> = plan.user_nodes().collect();
    let hosts: Vec<&str> = nodes
        .iter()
        .filter(|n| n.kind.pingall(false))
        .map(|n| n.name.as_str())
        .collect();
    let mut s = node_table(lab);
    if let (Some(a), Some(b)) = (hosts.first(), hosts.last()) {
        let target = plan
            .node(b)
            .and_then(|n| n.ifaces.iter().flat_map(|i| &i.addrs).next())
            .map(|a| a.addr().to_string())
            .unwrap_or_else(|| b.to_string());
        s.push_str(if detached {
            "Try:\n"
        } else {
            "Try, in another terminal:\n"
        });
        let _ = writeln!(
            s,
            "  {me} exec {name} {a} -- ping -c 3 {target}   (needs ping installed)"
        );
        let _ = writeln!(s, "  {me} shell {name} {a}");
        let _ = writeln!(s, "  {me} inspect {name}");
    }
    if quickstart || detached {
        let _ = writeln!(s, "  {me} down {name}");
    }
    s
}

/// The lab's nodes with their addresses (the first 12), then a blank line.
fn node_table(lab: &Lab) -> String {
    use std::fmt::Write as _;
    let nodes: Vec<_> = lab.plan().user_nodes().collect();
    let mut s = String::from("\n");
    for n in nodes.iter().take(12) {
        let addrs = n.addr_labels();
        let _ = writeln!(
            s,
            "  {:<10} {:<7} {}",
            n.name,
            format!("{:?}", n.kind).to_lowercase(),
            addrs.join("  ")
        );
    }
    if nodes.len() > 12 {
        let _ = writeln!(
            s,
            "  … and {} more ({} inspect {})",
            nodes.len() - 12,
            me(),
            lab.name()
        );
    }
    s.push('\n');
    s
}

fn detach(args: &UpArgs) -> miette::Result<()> {
    let exe = std::env::current_exe().into_diagnostic()?;
    let mut cmd = std::process::Command::new(exe);
    // The supervisor's hints name the binary as the user did.
    if let Some(arg0) = std::env::args_os().next() {
        cmd.arg0(arg0);
    }
    cmd.arg("supervise");
    if let Some(f) = &args.file {
        cmd.arg(std::fs::canonicalize(f).into_diagnostic()?);
    }
    if let Some(t) = &args.topo {
        cmd.arg("--topo").arg(t);
    }
    if let Some(n) = &args.name {
        cmd.arg("--name").arg(n);
    }
    cmd.arg("--max-nodes")
        .arg(args.limits.max_nodes.to_string());
    if let Some(w) = args.workers {
        cmd.arg("--workers").arg(w.to_string());
    }
    cmd.arg("--ready-timeout")
        .arg(args.ready_timeout.to_string());
    if let Some(addr) = args.web {
        cmd.arg(format!("--web={addr}"));
    }
    if let Some(n) = args.shards {
        cmd.arg("--shards").arg(n.to_string());
        cmd.arg("--launcher").arg(&args.launcher);
    }
    if let Some(m) = &args.machines {
        cmd.arg("--machines")
            .arg(std::fs::canonicalize(m).into_diagnostic()?);
    }
    let (r, w) = std::io::pipe().into_diagnostic()?;
    cmd.stdin(Stdio::null())
        .stdout(w.try_clone().into_diagnostic()?)
        .stderr(w);
    // SAFETY: setsid is async-signal-safe; the child leaves our session so that a Ctrl-C
    // in this terminal does not reach it.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()?;
            Ok(())
        });
    }
    let mut child = cmd.spawn().into_diagnostic()?;
    drop(cmd);
    for line in BufReader::new(r).lines() {
        let Ok(line) = line else { break };
        if line == READY {
            return Ok(());
        }
        outln!("{line}");
    }
    let status = child.wait().into_diagnostic()?;
    std::process::exit(status.code().unwrap_or(1).max(1));
}

/// Points stdout and stderr at the supervisor log (after detaching), or at /dev/null if
/// the log cannot be opened: never at the invoking terminal.
pub(crate) fn redirect_output(log: &std::path::Path) {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .or_else(|_| std::fs::OpenOptions::new().write(true).open("/dev/null"));
    if let Ok(f) = f {
        let _ = nix::unistd::dup2_stdout(f.as_fd());
        let _ = nix::unistd::dup2_stderr(f.as_fd());
    }
}
