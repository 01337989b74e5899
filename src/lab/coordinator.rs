//! The coordinator of a lab split across shards (issue 13): one lab, many agents.
//!
//! `topolab up FILE --shards N` compiles the whole lab, splits it ([`ShardedPlan`]), and
//! starts one `topolab agent` per shard through a [`Launcher`]. The coordinator then owns
//! the lab's name on this machine: its run directory `/run/topolab/<lab>/` holds its lock,
//! its journal (written before anything is made), `plan.json` (the whole Plan, so node
//! listings and `read_plan` work as for any lab), `shards.json` (the split and every
//! agent's control address; it is also the `--plan` file the agents read) and the control
//! socket. Requests on that socket are the normal [`Request`]s, fanned out to the agents
//! over the authenticated channel ([`remote::call`]):
//!
//! ```text
//!  topolab inspect/link/node/down ──▶ control.sock ──▶ Coordinator::respond
//!       Inspect, Live, WaitReady(all) ──▶ every shard, merged (a shard that does not
//!                                         answer is reported in `shards`)
//!       Link a b ──▶ the shard(s) holding a and b (a cross-shard link: both)
//!       Node, WaitReady(node) ──▶ the node's shard
//!       Down ──▶ every shard; then the dead shards' leftovers from their journals here,
//!                 the coordinator's own namespaces and processes, its run directory
//! ```
//!
//! The `local` launcher runs every agent on this machine, each in a "machine" namespace
//! `<lab>-_m<k>` (its underlay: VXLAN sockets and the control channel live there) joined
//! by a bridge in `<lab>-_underlay`. Addresses come from IPv4 link-local space,
//! [`LOCAL_UNDERLAY`] (169.254.100.0/24): machine k is .(k+1), the coordinator's bridge is
//! .254. Nothing is routed anywhere: the namespaces have no other link, so the underlay is
//! a closed world. Agents run in their own process groups, journaled with their start
//! time; their run directories are `/run/topolab/<lab>/shard-<k>/`.
//!
//! Other launchers (Slurm, Kubernetes) only differ in how agents start and where they are
//! reached: [`Launcher`] is the seam.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use nix::fcntl::Flock;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::control::{Request, Response};
use super::inspect::LabStatus;
use super::journal::{Entry, Journal, proc_start_time};
use super::links::LinkStatus;
use super::remote::{self, Secret};
use super::supervisor::Served;
use super::{LabError, LabName, name, teardown};
use crate::compile::Plan;
use crate::compile::shard::{Machine, ShardedPlan};
use crate::netlink::{BridgeOpts, Netlink, Op, VethEnd};
use crate::netns;

/// The local launcher's underlay: IPv4 link-local, /24 (machine k = .(k+1), bridge .254).
pub const LOCAL_UNDERLAY: [u8; 3] = [169, 254, 100];
/// MTU of the local underlay (VXLAN needs a lab link's MTU + 50).
pub const LOCAL_MTU: u32 = 9000;
/// The coordinator's state file in the run directory.
pub const SHARDS_FILE: &str = "shards.json";
/// Most shards the local launcher runs (one /24).
pub const MAX_LOCAL_SHARDS: usize = 200;
/// How long an agent may take to print its ready line.
const AGENT_READY: Duration = Duration::from_secs(600);

/// How agents are started and reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Launcher {
    /// Every agent on this machine, each in its own "machine" namespace.
    Local,
    /// One `srun` step inside a Slurm allocation, one agent per node ([`super::slurm`]).
    /// `one_host`: the allocation's nodes are one machine (several `slurmd -N`), so each
    /// shard gets a machine namespace there, as with `Local`.
    Slurm { one_host: bool },
}

impl Launcher {
    pub fn label(self) -> &'static str {
        match self {
            Launcher::Local => "local",
            Launcher::Slurm { .. } => "slurm",
        }
    }

    /// Whether the shards' machines are namespaces on this host (made by the coordinator).
    pub fn machine_namespaces(self) -> bool {
        match self {
            Launcher::Local => true,
            Launcher::Slurm { one_host } => one_host,
        }
    }
}

/// What the coordinator knows of one shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub shard: u32,
    /// The machine's label.
    pub machine: String,
    /// The agent's control channel.
    pub control: SocketAddr,
    /// The agent's PID on this machine (local launcher), 0 if elsewhere.
    pub pid: u32,
    /// Its run directory is on this machine (`/run/topolab/<lab>/shard-<k>`).
    pub local: bool,
    /// Nodes on the shard.
    pub nodes: usize,
}

/// `shards.json`: the split (readable as the [`ShardedPlan`] agents take with `--plan`),
/// the launcher, where agents are reached from, and each shard.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardsFile {
    #[serde(flatten)]
    pub sharded: ShardedPlan,
    pub launcher: Launcher,
    /// Namespace on this machine the agents are reached from (`None`: the root one).
    pub reach_netns: Option<String>,
    pub agents: Vec<ShardInfo>,
}

/// One shard's state in `inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardStatus {
    pub shard: u32,
    pub machine: String,
    pub nodes: usize,
    /// `up`, or why it did not answer.
    pub state: String,
}

/// Run directory of shard `k` inside the lab's run directory `lab_dir`.
pub fn shard_dir(lab_dir: &Path, k: u32) -> PathBuf {
    lab_dir.join(format!("{}{k}", name::SHARD_PREFIX))
}

/// Reads `shards.json` of the lab whose run directory is `dir`; `None` if the lab is not
/// split.
pub fn read_shards(dir: &Path) -> io::Result<Option<ShardsFile>> {
    match std::fs::read(dir.join(SHARDS_FILE)) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Why a node's run directory is not here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeDirError {
    #[error("no node `{0}` in this lab")]
    UnknownNode(String),
    #[error("node `{node}` is on shard {shard}, which runs on machine `{machine}`, not this one")]
    Elsewhere {
        node: String,
        shard: u32,
        machine: String,
    },
    #[error("{0}")]
    Io(String),
}

/// The run directory holding node `node`'s daemon sockets, logs and private directories:
/// the lab's own (`lab_dir`) for a lab on one machine, or its shard's
/// (`lab_dir/shard-<k>`) when the lab is split and that shard runs here. One helper for
/// every command that reaches a node's files.
pub fn node_run_dir(lab_dir: &Path, node: &str) -> Result<PathBuf, NodeDirError> {
    let shards = read_shards(lab_dir).map_err(|e| NodeDirError::Io(e.to_string()))?;
    let Some(s) = shards else {
        return Ok(lab_dir.to_path_buf());
    };
    let k = *s
        .sharded
        .shards
        .assign
        .get(node)
        .ok_or_else(|| NodeDirError::UnknownNode(node.to_string()))?;
    let dir = shard_dir(lab_dir, k);
    if dir.is_dir() {
        return Ok(dir);
    }
    let machine = s
        .sharded
        .shards
        .machines
        .get(k as usize)
        .map(|m| m.name.clone())
        .unwrap_or_default();
    Err(NodeDirError::Elsewhere {
        node: node.to_string(),
        shard: k,
        machine,
    })
}

/// The local launcher's machines: `n` shards on this machine's underlay bridge.
pub fn local_machines(n: usize) -> Vec<Machine> {
    (0..n)
        .map(|k| Machine {
            name: format!("m{k}"),
            underlay: local_addr(k as u32 + 1),
            mtu: LOCAL_MTU,
            weight: 1,
        })
        .collect()
}

fn local_addr(host: u32) -> IpAddr {
    let [a, b, c] = LOCAL_UNDERLAY;
    IpAddr::V4(Ipv4Addr::new(a, b, c, host as u8))
}

/// Called as shards come up: (shard, shards ready, total, nodes on it).
pub type ShardProgress = Arc<dyn Fn(u32, usize, usize, usize) + Send + Sync>;

/// How to bring a split lab up.
pub struct CoordinatorOptions {
    pub launcher: Launcher,
    /// Parent of run directories (default `/run/topolab`).
    pub run_base: PathBuf,
    /// The `topolab` binary the agents run (default: this executable).
    pub exe: Option<PathBuf>,
    /// Seconds each agent may wait for its services (its `--ready-timeout`).
    pub ready_timeout: u64,
    /// Called as shards come up: (shard, shards ready, total, nodes on it).
    pub progress: Option<ShardProgress>,
    /// Set by a signal handler to abandon bring-up.
    pub cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// A running split lab, seen from its coordinator. Dropping it tears it down.
pub struct Coordinator {
    name: LabName,
    /// The topology file, as `inspect` shows it.
    source: String,
    /// Parent of run directories; `dir` is `base/<lab>`.
    base: PathBuf,
    dir: PathBuf,
    file: Arc<ShardsFile>,
    secret: Arc<Secret>,
    journal: Arc<StdMutex<Journal>>,
    children: Vec<Child>,
    _lock: Flock<std::fs::File>,
    torn_down: bool,
}

impl Coordinator {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn shards(&self) -> &ShardsFile {
        &self.file
    }

    pub fn plan(&self) -> &Plan {
        &self.file.sharded.plan
    }

    /// Blocking: claims the run directory, makes the underlay, starts and awaits every
    /// agent. On error, what was made is torn down (the value drops).
    pub fn up(
        sharded: ShardedPlan,
        source: &str,
        opts: &CoordinatorOptions,
    ) -> Result<Coordinator, LabError> {
        if !nix::unistd::geteuid().is_root() {
            return Err(LabError::NotRoot);
        }
        let name = super::check_name(&sharded.plan.lab)?;
        let n = sharded.shards.machines.len();
        if n > MAX_LOCAL_SHARDS {
            return Err(LabError::Shard {
                shard: n as u32 - 1,
                msg: format!("the local launcher runs at most {MAX_LOCAL_SHARDS} shards"),
            });
        }
        let (dir, lock) = super::claim_run_dir(&opts.run_base, &name, None)?;
        let journal = super::open_journal(&dir, &name, source, &sharded.plan)?;
        let underlay = format!("{name}-_underlay");
        let agents = (0..n as u32)
            .map(|k| ShardInfo {
                shard: k,
                machine: sharded.shards.machines[k as usize].name.clone(),
                control: SocketAddr::new(
                    sharded.shards.machines[k as usize].underlay,
                    sharded.shards.control_port,
                ),
                pid: 0,
                local: opts.launcher.machine_namespaces(),
                nodes: sharded.shards.assign.values().filter(|s| **s == k).count(),
            })
            .collect();
        let mut c = Coordinator {
            name,
            source: source.to_string(),
            base: opts.run_base.clone(),
            dir,
            file: Arc::new(ShardsFile {
                sharded,
                launcher: opts.launcher,
                reach_netns: opts.launcher.machine_namespaces().then_some(underlay),
                agents,
            }),
            secret: Arc::new(Secret::generate().map_err(|e| LabError::Kernel {
                what: "generate the lab's secret".into(),
                source: e,
            })?),
            journal: Arc::new(StdMutex::new(journal)),
            children: Vec::new(),
            _lock: lock,
            torn_down: false,
        };
        c.write_file()?;
        match opts.launcher {
            Launcher::Local => {
                make_local_underlay(&c.name, n, &c.journal)?;
                c.start_local_agents(opts)?;
            }
            Launcher::Slurm { one_host } => {
                if one_host {
                    make_local_underlay(&c.name, n, &c.journal)?;
                }
                c.start_slurm_agents(opts, one_host)?;
            }
        }
        c.write_file()?;
        Ok(c)
    }

    fn write_file(&self) -> Result<(), LabError> {
        let path = self.dir.join(SHARDS_FILE);
        let tmp = self.dir.join(".shards.json.tmp");
        serde_json::to_vec(&*self.file)
            .map_err(io::Error::other)
            .and_then(|j| std::fs::write(&tmp, j))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| LabError::RunDir { path, source })
    }

    fn cancelled(opts: &CoordinatorOptions) -> bool {
        opts.cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// The `topolab` binary agents run: `opts.exe`, or this executable.
    fn agent_exe(opts: &CoordinatorOptions) -> Result<PathBuf, LabError> {
        match &opts.exe {
            Some(e) => Ok(e.clone()),
            None => std::env::current_exe().map_err(|e| LabError::Kernel {
                what: "locate the topolab binary".into(),
                source: e,
            }),
        }
    }

    /// Starts `cmd` (an agent, or the `srun` step of agents) with the lab's secret in its
    /// environment, stdout piped for its ready line(s), stderr appended to `log_name` in
    /// the run directory, in its own process group, journaled as a process of `node`
    /// (before it starts and with its PID after). Returns its PID, stdout and the log.
    fn spawn_journaled(
        &mut self,
        cmd: &mut Command,
        node: &str,
        what: String,
        log_name: &str,
        shard: u32,
    ) -> Result<(u32, Option<std::process::ChildStdout>, std::fs::File), LabError> {
        let path = self.dir.join(log_name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| LabError::RunDir { path, source })?;
        cmd.env(remote::SECRET_ENV, self.secret.to_hex())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.try_clone().map_err(LabError::Journal)?)
            .process_group(0);
        self.journal_append(&Entry::Process {
            node: node.to_string(),
            pid: 0,
            start: 0,
            cmd: what.clone(),
        })?;
        let mut child = cmd.spawn().map_err(|e| LabError::Shard {
            shard,
            msg: format!("cannot start `{what}`: {e}"),
        })?;
        let pid = child.id();
        self.journal_append(&Entry::Process {
            node: node.to_string(),
            pid,
            start: proc_start_time(pid).unwrap_or(0),
            cmd: what,
        })?;
        let stdout = child.stdout.take();
        self.children.push(child);
        Ok((pid, stdout, log))
    }

    /// Starts one agent per shard in its machine namespace and waits for every ready line.
    fn start_local_agents(&mut self, opts: &CoordinatorOptions) -> Result<(), LabError> {
        let exe = Self::agent_exe(opts)?;
        let (tx, rx) = std::sync::mpsc::channel::<(u32, Result<(), String>)>();
        let mut pids = Vec::new();
        for info in self.file.agents.clone() {
            let k = info.shard;
            let mut cmd = Command::new(&exe);
            cmd.arg("agent")
                .arg("--plan")
                .arg(self.dir.join(SHARDS_FILE))
                .arg("--shard")
                .arg(k.to_string())
                .arg("--underlay-netns")
                .arg(format!("{}-_m{k}", self.name))
                .arg("--listen")
                .arg(info.control.to_string())
                .arg("--ready-timeout")
                .arg(opts.ready_timeout.to_string());
            let (pid, stdout, log) = self.spawn_journaled(
                &mut cmd,
                &format!("_shard{k}"),
                format!("topolab agent --shard {k}"),
                &format!("agent-{k}.log"),
                k,
            )?;
            pids.push(pid);
            let tx = tx.clone();
            std::thread::Builder::new()
                .name(format!("agent-{k}"))
                .spawn(move || watch_agent(k, stdout, log, tx))
                .map_err(LabError::Journal)?;
        }
        drop(tx);
        let file = Arc::make_mut(&mut self.file);
        for (a, pid) in file.agents.iter_mut().zip(&pids) {
            a.pid = *pid;
        }
        self.await_ready(&rx, opts, |k| format!("agent-{k}.log"))
    }

    /// Waits for every shard's ready line (sent on `rx` by the threads reading the agents'
    /// stdout); an agent that fails is reported with the tail of its log (`log_of(k)`).
    fn await_ready(
        &self,
        rx: &std::sync::mpsc::Receiver<(u32, Result<(), String>)>,
        opts: &CoordinatorOptions,
        log_of: impl Fn(u32) -> String,
    ) -> Result<(), LabError> {
        let total = self.file.agents.len();
        let deadline = Instant::now() + AGENT_READY + Duration::from_secs(opts.ready_timeout);
        let mut ready = 0;
        while ready < total {
            if Self::cancelled(opts) {
                return Err(LabError::Interrupted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LabError::Shard {
                    shard: 0,
                    msg: "agents not ready in time".into(),
                });
            }
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok((k, Ok(()))) => {
                    ready += 1;
                    if let Some(p) = &opts.progress {
                        p(k, ready, total, self.file.agents[k as usize].nodes);
                    }
                }
                Ok((k, Err(msg))) => {
                    let log = self.dir.join(log_of(k));
                    let tail = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: Vec<&str> = tail.lines().rev().take(8).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    return Err(LabError::Shard {
                        shard: k,
                        msg: format!("{msg}\n  {}", tail.join("\n  ")),
                    });
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        Ok(())
    }

    /// Starts every agent through one `srun` step of the allocation this runs in (task k on
    /// the allocation's node k is shard k), and waits for every ready line on its stdout.
    fn start_slurm_agents(
        &mut self,
        opts: &CoordinatorOptions,
        one_host: bool,
    ) -> Result<(), LabError> {
        let exe = Self::agent_exe(opts)?;
        let n = self.file.agents.len();
        let mut args: Vec<std::ffi::OsString> = vec![
            "agent".into(),
            "--slurm".into(),
            "--plan".into(),
            self.dir.join(SHARDS_FILE).into(),
            "--ready-timeout".into(),
            opts.ready_timeout.to_string().into(),
        ];
        if one_host {
            args.push("--underlay-netns".into());
            args.push(format!("{}-_m{{shard}}", self.name).into());
        }
        let argv = super::slurm::srun_argv(n, &exe, &args);
        let log_name = "agents.log";
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        let (pid, stdout, log) = self.spawn_journaled(
            &mut cmd,
            "_srun",
            format!("srun topolab agent --slurm ({n} tasks)"),
            log_name,
            0,
        )?;
        let (tx, rx) = std::sync::mpsc::channel::<(u32, Result<(), String>)>();
        std::thread::Builder::new()
            .name("srun".into())
            .spawn(move || watch_srun(n as u32, stdout, log, tx))
            .map_err(LabError::Journal)?;
        let file = Arc::make_mut(&mut self.file);
        for a in &mut file.agents {
            a.pid = pid;
        }
        self.await_ready(&rx, opts, |_| log_name.to_string())
    }

    fn journal_append(&self, e: &Entry) -> Result<(), LabError> {
        self.journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .append(e)
            .map_err(LabError::Journal)
    }

    /// Blocking teardown: every agent asked to go down, dead shards removed from their
    /// journals, then the coordinator's own processes and namespaces, then its directory.
    fn teardown(&mut self) -> Result<(), teardown::TeardownError> {
        if self.torn_down {
            return Ok(());
        }
        self.torn_down = true;
        let mut errors = Vec::new();
        let answers = fan_out(&self.file, &self.secret, None, &Request::Down);
        for (info, r) in self.file.agents.iter().zip(answers) {
            if let Err(e) = r {
                tracing::warn!("shard {}: down: {e}", info.shard);
            }
        }
        // Agents exit once their shard is down.
        let deadline = Instant::now() + Duration::from_secs(60);
        for child in &mut self.children {
            while Instant::now() < deadline {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        // What any shard left here (its agent dead or killed): from its own journal.
        for info in self.file.agents.iter().filter(|a| a.local) {
            clean_shard_dir(&self.base, &self.name, info.shard, &mut errors);
        }
        let entries = Journal::read(&self.dir).unwrap_or_default();
        let owned = teardown::Owned::from_entries(&self.name, &entries);
        teardown::teardown_owned(&owned, &mut errors);
        for child in &mut self.children {
            let _ = child.try_wait();
        }
        if errors.is_empty()
            && let Err(e) = std::fs::remove_dir_all(&self.dir)
            && e.kind() != io::ErrorKind::NotFound
        {
            errors.push((format!("remove {}", self.dir.display()), e));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(teardown::TeardownError(errors))
        }
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            let _ = writeln!(
                std::io::stderr(),
                "topolab: teardown of lab `{}`: {e}",
                self.name
            );
        }
    }
}

/// Removes shard `k`'s run directory (`<base>/<lab>/shard-<k>`) from its journal if its
/// agent is gone (its lock is free); a live agent's directory is left alone. Returns
/// whether it removed one.
pub fn clean_shard_dir(
    base: &Path,
    lab: &LabName,
    k: u32,
    errors: &mut Vec<(String, io::Error)>,
) -> bool {
    let dir = name::shard_dir(base, lab, k);
    if !dir.is_dir() {
        return false;
    }
    let lock = match teardown::try_lock(&dir) {
        Ok(Some(lock)) => Some(lock),
        Ok(None) => return false,
        // No lock file: the agent died before claiming it; nothing can be in it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            errors.push((dir.display().to_string(), e));
            return false;
        }
    };
    let r = teardown::teardown_shard_dir(base, lab, k);
    drop(lock);
    match r {
        Ok(_) => true,
        Err(e) => {
            errors.extend(e.0);
            false
        }
    }
}

/// Reads an agent's stdout: reports its ready line (or its death) on `tx`, then copies
/// whatever else it prints to its log.
fn watch_agent(
    k: u32,
    stdout: Option<std::process::ChildStdout>,
    mut log: std::fs::File,
    tx: std::sync::mpsc::Sender<(u32, Result<(), String>)>,
) {
    let Some(stdout) = stdout else {
        let _ = tx.send((k, Err("no stdout".into())));
        return;
    };
    let mut lines = BufReader::new(stdout).lines();
    let mut ready = false;
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        if is_ready_line(&line, k) {
            ready = true;
            let _ = tx.send((k, Ok(())));
            break;
        }
        let _ = writeln!(log, "{line}");
    }
    if !ready {
        let _ = tx.send((k, Err("its agent exited before it was ready".into())));
        return;
    }
    for line in lines.map_while(Result::ok) {
        let _ = writeln!(log, "{line}");
    }
}

/// Reads the `srun` step's stdout (every task's lines): each shard's ready line is
/// reported once; other lines go to the log; at the end, a shard never ready is a failure.
fn watch_srun(
    n: u32,
    stdout: Option<std::process::ChildStdout>,
    mut log: std::fs::File,
    tx: std::sync::mpsc::Sender<(u32, Result<(), String>)>,
) {
    let mut ready = vec![false; n as usize];
    if let Some(stdout) = stdout {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            match (0..n).find(|k| !ready[*k as usize] && is_ready_line(&line, *k)) {
                Some(k) => {
                    ready[k as usize] = true;
                    let _ = tx.send((k, Ok(())));
                }
                None => {
                    let _ = writeln!(log, "{line}");
                }
            }
        }
    }
    for k in (0..n).filter(|k| !ready[*k as usize]) {
        let _ = tx.send((
            k,
            Err("its agent (an srun task) exited before it was ready".into()),
        ));
    }
}

/// `{"ready":true,"shard":K,…}`.
pub fn is_ready_line(line: &str, k: u32) -> bool {
    #[derive(Deserialize)]
    struct Ready {
        ready: bool,
        shard: u32,
    }
    serde_json::from_str::<Ready>(line).is_ok_and(|r| r.ready && r.shard == k)
}

/// Sends `req` to every shard (or those in `only`) at once; answers in shard order (or in
/// `only`'s order).
fn fan_out(
    file: &ShardsFile,
    secret: &Secret,
    only: Option<&[u32]>,
    req: &Request,
) -> Vec<io::Result<Response>> {
    let targets: Vec<&ShardInfo> = match only {
        Some(ks) => ks
            .iter()
            .filter_map(|k| file.agents.iter().find(|a| a.shard == *k))
            .collect(),
        None => file.agents.iter().collect(),
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .into_iter()
            .map(|a| {
                s.spawn(move || remote::call(a.control, file.reach_netns.as_deref(), secret, req))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("fan-out thread panicked")))
            })
            .collect()
    })
}

/// Makes the local underlay: `<lab>-_underlay` with a bridge (address .254), and per
/// shard `<lab>-_m<k>` with a veth to the bridge (address .(k+1), MTU [`LOCAL_MTU`]).
/// Every namespace is journaled before it exists.
fn make_local_underlay(
    lab: &LabName,
    n: usize,
    journal: &Arc<StdMutex<Journal>>,
) -> Result<(), LabError> {
    const BRIDGE: u32 = 2;
    const UPLINK: u32 = 2;
    let kernel = |what: String| move |source| LabError::Kernel { what, source };
    netns::ensure_dir().map_err(kernel("/run/netns".into()))?;
    let make = |name: String, setup: Vec<Op>| -> Result<OwnedFd, LabError> {
        let journal = journal.clone();
        let n2 = name.clone();
        std::thread::spawn(move || -> Result<OwnedFd, LabError> {
            let record = |id: netns::NsIdent| {
                journal
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .append(&Entry::Namespace {
                        name: n2.clone(),
                        dev: id.dev,
                        ino: id.ino,
                        placeholder: id.placeholder,
                    })
            };
            let fd = netns::create_and_enter(&n2, record).map_err(|e| {
                if netns::is_taken(&e) {
                    LabError::NamespaceExists(n2.clone())
                } else {
                    LabError::Kernel {
                        what: format!("create namespace {n2}"),
                        source: e,
                    }
                }
            })?;
            for key in ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"] {
                netns::write_sysctl(key, "0").map_err(|e| LabError::Kernel {
                    what: format!("{n2}: {key}"),
                    source: e,
                })?;
            }
            let mut nl = Netlink::open().map_err(|e| LabError::Kernel {
                what: format!("{n2}: netlink"),
                source: e,
            })?;
            nl.run_all(&setup).map_err(|e| LabError::Netlink {
                node: n2.clone(),
                source: e,
            })?;
            Ok(fd)
        })
        .join()
        .unwrap_or_else(|_| {
            Err(LabError::Kernel {
                what: format!("create namespace {name}"),
                source: io::Error::other("namespace worker panicked"),
            })
        })
    };
    let bridge_net = IpNet::new(local_addr(254), 24).expect("a /24 is a prefix");
    let ul = make(
        format!("{lab}-_underlay"),
        vec![
            Op::SetUp { ifindex: 1 },
            Op::AddBridge(BridgeOpts {
                name: "ul".into(),
                ifindex: BRIDGE,
                mac: [0x02, 0x54, 0x4c, 0xff, 0xff, 0xfe],
                stp: false,
            }),
            Op::AddAddr {
                ifindex: BRIDGE,
                net: bridge_net,
            },
        ],
    )?;
    let ul_raw = netns::raw(&ul);
    for k in 0..n as u32 {
        let m = make(format!("{lab}-_m{k}"), vec![Op::SetUp { ifindex: 1 }])?;
        let m_raw = netns::raw(&m);
        let addr = IpNet::new(local_addr(k + 1), 24).expect("a /24 is a prefix");
        let veth = Op::AddVeth {
            a: VethEnd {
                name: format!("m{k}"),
                ifindex: 10 + k,
                mac: [0x02, 0x54, 0x4c, 0xfe, (k >> 8) as u8, k as u8],
                mtu: LOCAL_MTU,
                netns: ul_raw,
                master: Some(BRIDGE),
                label: format!("underlay:m{k}"),
            },
            b: VethEnd {
                name: "ul0".into(),
                ifindex: UPLINK,
                mac: [0x02, 0x54, 0x4c, 0x00, (k >> 8) as u8, k as u8],
                mtu: LOCAL_MTU,
                netns: m_raw,
                master: None,
                label: format!("m{k}:ul0"),
            },
        };
        let run = |fd: &OwnedFd, ops: Vec<Op>, what: String| -> Result<(), LabError> {
            let fd = fd.try_clone().map_err(LabError::Journal)?;
            netns::run_in(fd, move || {
                let mut nl = Netlink::open()?;
                nl.run_all(&ops).map_err(io::Error::other)
            })
            .map_err(|e| LabError::Kernel { what, source: e })
        };
        run(&ul, vec![veth], format!("underlay veth of shard {k}"))?;
        run(
            &m,
            vec![
                Op::SetUp { ifindex: UPLINK },
                Op::AddAddr {
                    ifindex: UPLINK,
                    net: addr,
                },
            ],
            format!("underlay address of shard {k}"),
        )?;
    }
    Ok(())
}

/// Node name of a link end (`node` or `node:iface`).
fn end_node(end: &str) -> &str {
    end.split_once(':').map_or(end, |(n, _)| n)
}

fn error(message: impl Into<String>) -> Response {
    Response::Error {
        message: message.into(),
    }
}

/// The answer of shard `k`, as the client sees it.
fn shard_answer(k: u32, r: io::Result<Response>) -> Response {
    r.unwrap_or_else(|e| error(format!("shard {k} did not answer: {e}")))
}

/// A shard numbers its links among its own; the whole lab's number of a link is found by
/// its ends' names (`node:iface`, the same on every shard).
struct LinkIndex<'a> {
    by_ends: HashMap<(String, String), usize>,
    file: &'a ShardsFile,
}

impl<'a> LinkIndex<'a> {
    fn new(file: &'a ShardsFile) -> LinkIndex<'a> {
        let plan = &file.sharded.plan;
        let end = |r: crate::compile::IfaceRef| {
            format!("{}:{}", plan.nodes[r.node].name, plan.iface(r).name)
        };
        let by_ends = plan
            .links
            .iter()
            .map(|l| ((end(l.a), end(l.b)), l.link))
            .collect();
        LinkIndex { by_ends, file }
    }

    /// Shard of link `link`'s `b` end.
    fn b_shard(&self, link: usize) -> Option<u32> {
        let plan = &self.file.sharded.plan;
        let l = plan.links.iter().find(|l| l.link == link)?;
        self.file
            .sharded
            .shards
            .assign
            .get(&plan.nodes[l.b.node].name)
            .copied()
    }
}

/// Adds shard `k`'s link reports to `out`, keyed by the whole lab's link number. A
/// cross-shard link is reported by both its shards, each emulating the direction leaving
/// it: one entry, with `a→b` from the `a` end's shard and `b→a` from the `b` end's, up only
/// if both ends are.
fn merge_links(
    index: &LinkIndex<'_>,
    k: u32,
    links: Vec<LinkStatus>,
    out: &mut BTreeMap<usize, LinkStatus>,
) {
    for mut l in links {
        let Some(&g) = index.by_ends.get(&(l.a.clone(), l.b.clone())) else {
            tracing::warn!(
                "shard {k} reports a link {} — {} the lab does not have",
                l.a,
                l.b
            );
            continue;
        };
        l.link = g;
        match out.entry(g) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(l);
            }
            std::collections::btree_map::Entry::Occupied(mut e) => {
                let have = e.get_mut();
                if index.b_shard(g) == Some(k) {
                    have.counters_b_to_a = l.counters_b_to_a;
                } else {
                    have.counters_a_to_b = l.counters_a_to_b;
                }
                have.up &= l.up;
            }
        }
    }
}

impl Coordinator {
    fn shard_of(&self, node: &str) -> Option<u32> {
        self.file.sharded.shards.assign.get(node).copied()
    }

    /// Inspect or Live on every shard, merged; shards that do not answer are listed.
    fn merged(
        file: &ShardsFile,
        secret: &Secret,
        req: &Request,
        name: &str,
        topology: &str,
    ) -> Response {
        let answers = fan_out(file, secret, None, req);
        let index = LinkIndex::new(file);
        let mut shards = Vec::new();
        let mut status: Option<LabStatus> = None;
        let (mut links, mut services) = (BTreeMap::new(), Vec::new());
        for (info, r) in file.agents.iter().zip(answers) {
            let state = match r {
                Ok(Response::Status { status: mut s }) => {
                    merge_links(&index, info.shard, std::mem::take(&mut s.links), &mut links);
                    match &mut status {
                        None => status = Some(*s),
                        Some(all) => {
                            all.nodes.extend(s.nodes);
                            all.services.extend(s.services);
                        }
                    }
                    "up".to_string()
                }
                Ok(Response::Live {
                    links: l,
                    services: s,
                }) => {
                    merge_links(&index, info.shard, l, &mut links);
                    services.extend(s);
                    "up".to_string()
                }
                Ok(Response::Error { message }) => message,
                Ok(other) => format!("unexpected answer {other:?}"),
                Err(e) => format!("not answering: {e}"),
            };
            shards.push(ShardStatus {
                shard: info.shard,
                machine: info.machine.clone(),
                nodes: info.nodes,
                state,
            });
        }
        let links: Vec<LinkStatus> = links.into_values().collect();
        match req {
            Request::Live => Response::Live { links, services },
            _ => {
                let mut s = status.unwrap_or_else(|| LabStatus {
                    name: name.to_string(),
                    topology: String::new(),
                    supervisor_pid: 0,
                    nodes: Vec::new(),
                    links: Vec::new(),
                    kernel: crate::link::caps::capabilities(),
                    services: Vec::new(),
                    shards: Vec::new(),
                });
                s.name = name.to_string();
                s.topology = topology.to_string();
                s.supervisor_pid = std::process::id();
                s.links = links;
                s.shards = shards;
                Response::Status {
                    status: Box::new(s),
                }
            }
        }
    }
}

impl Served for Coordinator {
    fn run_dir(&self) -> &Path {
        &self.dir
    }

    async fn respond(lab: &Mutex<Option<Self>>, req: Request) -> (Response, bool) {
        let mut guard = lab.lock().await;
        let Some(c) = guard.as_mut() else {
            return match req {
                Request::Down => (Response::Done, true),
                _ => (error("lab is down"), false),
            };
        };
        if let Request::Ping = req {
            let pong = Response::Pong {
                name: c.name.to_string(),
                pid: std::process::id(),
            };
            return (pong, false);
        }
        if let Request::Down = req {
            let c = guard.take().expect("checked above");
            let r = Served::down(c).await;
            return (
                r.map_or_else(|e| error(e.to_string()), |()| Response::Done),
                true,
            );
        }
        let (file, secret, name) = (c.file.clone(), c.secret.clone(), c.name.to_string());
        let topology = c.source.clone();
        // Which shards to ask (`None`: all of them, merged).
        let targets: Option<Vec<u32>> = match &req {
            Request::Link { a, b, .. } => {
                let ends = [end_node(a), end_node(b)];
                let mut ks = Vec::new();
                for n in ends {
                    match c.shard_of(n) {
                        Some(k) if !ks.contains(&k) => ks.push(k),
                        Some(_) => {}
                        None => {
                            return (error(format!("no node `{n}` in this lab")), false);
                        }
                    }
                }
                Some(ks)
            }
            Request::Node { node, .. }
            | Request::WaitReady {
                node: Some(node), ..
            } => match c.shard_of(node) {
                Some(k) => Some(vec![k]),
                None => return (error(format!("no node `{node}` in this lab")), false),
            },
            _ => None,
        };
        // Not holding the lab while shards work (a wait may be long); `down` waits for
        // nobody but takes the lab first.
        drop(guard);
        let resp = tokio::task::spawn_blocking(move || match targets {
            None if matches!(req, Request::Inspect | Request::Live) => {
                Coordinator::merged(&file, &secret, &req, &name, &topology)
            }
            None => {
                // WaitReady of every node: every shard, services merged.
                let answers = fan_out(&file, &secret, None, &req);
                let mut services = Vec::new();
                for (info, r) in file.agents.iter().zip(answers) {
                    match shard_answer(info.shard, r) {
                        Response::Services { services: s } => services.extend(s),
                        other => return other,
                    }
                }
                Response::Services { services }
            }
            Some(ks) => {
                let answers = fan_out(&file, &secret, Some(&ks), &req);
                // A cross-shard link: both ends' answers, merged into the link's status.
                let index = LinkIndex::new(&file);
                let mut links = BTreeMap::new();
                let mut first = None;
                for (k, r) in ks.iter().zip(answers) {
                    match shard_answer(*k, r) {
                        e @ Response::Error { .. } => return e,
                        Response::Link { status } => {
                            merge_links(&index, *k, vec![*status], &mut links)
                        }
                        other => {
                            first.get_or_insert(other);
                        }
                    }
                }
                match links.into_values().next() {
                    Some(status) => Response::Link {
                        status: Box::new(status),
                    },
                    None => first.unwrap_or_else(|| error("no shard to ask")),
                }
            }
        })
        .await
        .unwrap_or_else(|e| error(e.to_string()));
        (resp, false)
    }

    async fn down(mut self) -> Result<(), LabError> {
        super::teardown_off_runtime(move || self.teardown()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line() {
        assert!(is_ready_line(
            r#"{"ready":true,"shard":2,"control":"x"}"#,
            2
        ));
        assert!(!is_ready_line(r#"{"ready":true,"shard":1}"#, 2));
        assert!(!is_ready_line(r#"{"ready":false,"shard":2}"#, 2));
        assert!(!is_ready_line("lab up", 2));
    }

    #[test]
    fn local_machines_are_link_local_and_distinct() {
        let m = local_machines(3);
        let addrs: Vec<String> = m.iter().map(|m| m.underlay.to_string()).collect();
        assert_eq!(addrs, ["169.254.100.1", "169.254.100.2", "169.254.100.3"]);
        assert!(m.iter().all(|m| m.mtu == LOCAL_MTU));
    }

    #[test]
    fn end_nodes() {
        assert_eq!(end_node("h1:eth0"), "h1");
        assert_eq!(end_node("h1"), "h1");
    }

    #[test]
    fn node_run_dir_of_a_plain_lab_is_its_own() {
        let d = std::env::temp_dir().join(format!("tl-coord-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(node_run_dir(&d, "h1").unwrap(), d);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
