//! A running lab: apply a Plan, own what was made, run commands in nodes, tear down.
//!
//! ```text
//!  Lab::up(topology) ─compile─▶ Plan ─┬─ run dir /run/topolab/<lab>/ (lock, journal, plan)
//!                                     ├─ apply (netns, veths, bridges, addrs, routes)
//!                                     └─ services (`run:` commands, built-in daemons):
//!                                        journaled spawns, readiness, restart policy
//!                                        ([`service`]; `up` waits until they are ready)
//!  lab.node("h1").exec([..])  ──▶ child joins the node's namespace, output captured
//!  lab.down() / Drop / clean  ──▶ teardown from the journal (stop processes, delete ns)
//! ```
//! The process holding a [`Lab`] is its supervisor: it holds an exclusive `flock` on the
//! lab's `lock` file for its whole life, so a free lock means the lab is orphaned (its
//! supervisor was killed) and `clean` may remove it. Teardown runs on `down`, on `Drop`
//! (which covers panics that unwind) and, in the CLI, on SIGINT/SIGTERM.

mod apply;
pub mod cgroup;
pub mod control;
pub mod coordinator;
pub mod inspect;
pub mod journal;
pub mod links;
pub mod name;
pub mod node_env;
pub mod remote;
pub mod service;
pub mod slurm;
pub mod supervisor;
pub mod teardown;

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::fcntl::{Flock, FlockArg};

pub use apply::{Progress, Stage};
use journal::{Entry, Journal, proc_start_time};
pub use name::LabName;
pub use teardown::TeardownError;

use crate::compile::{NodePlan, Plan};
use crate::netlink::NetlinkError;
use crate::netns;
use crate::topology::{Topology, TopologyError};

/// Where run directories live.
pub const RUN_BASE: &str = "/run/topolab";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LabError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Topology(#[from] TopologyError),
    #[error("topolab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create namespaces")]
    #[diagnostic(help("run it with sudo, or as root"))]
    NotRoot,
    #[error("invalid lab name: {reason}")]
    BadName { reason: String },
    #[error("interrupted; the lab was not brought up and what was made is removed")]
    Interrupted,
    #[error("lab `{0}` is already running")]
    #[diagnostic(help(
        "see `topolab ls`; stop it with `topolab down {0}`, or pick another --name"
    ))]
    AlreadyRunning(String),
    #[error("lab `{0}` has leftovers from a supervisor that is gone")]
    #[diagnostic(help("run `topolab clean` to remove them"))]
    Stale(String),
    #[error("namespace `{0}` already exists and is not part of this lab")]
    #[diagnostic(help("choose another lab name with --name, or remove it if it is yours"))]
    NamespaceExists(String),
    #[error("{what}: {source}")]
    Kernel {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{node}: {source}")]
    Netlink {
        node: String,
        #[source]
        source: NetlinkError,
    },
    #[error("journal: {0}")]
    Journal(#[source] io::Error),
    #[error("run directory {}: {source}", path.display())]
    RunDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{node}: cannot start `{cmd}`: {source}")]
    Process {
        node: String,
        cmd: String,
        #[source]
        source: io::Error,
    },
    #[error("node `{node}` has no service `{service}`")]
    #[diagnostic(help("`topolab inspect` lists each node's services"))]
    UnknownService { node: String, service: String },
    #[error("services not ready after {secs} s:\n  {services}")]
    #[diagnostic(help("raise --ready-timeout, or check the services' logs with `topolab logs`"))]
    NotReady { secs: f64, services: String },
    #[error("{node}: {msg}")]
    #[diagnostic(help(
        "drop `cpu:`/`memory:` from the node, or run on a machine with that cgroup controller"
    ))]
    Limits { node: String, msg: String },
    #[error("no node `{0}` in this lab")]
    UnknownNode(String),
    #[error("no link between `{a}` and `{b}`")]
    #[diagnostic(help(
        "name the two ends as `node` or `node:iface`; `topolab inspect` lists links"
    ))]
    NoSuchLink { a: String, b: String },
    #[error("several links join `{a}` and `{b}`: {choices}")]
    #[diagnostic(help("name the interfaces, as `node:iface`"))]
    AmbiguousLink {
        a: String,
        b: String,
        choices: String,
    },
    #[error("link {link} cannot change that way: {why}")]
    LinkChange { link: String, why: String },
    #[error(transparent)]
    Teardown(#[from] TeardownError),
    /// A lab split across shards: planning, launching or reaching shard `shard`.
    #[error("shard {shard}: {msg}")]
    Shard { shard: u32, msg: String },
}

/// How long `up` waits for services to be ready, by default.
pub const DEFAULT_READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Threads that create namespaces by default: one per CPU, at most two. On this project's
/// 2-CPU machine kind two threads built a 1000-host star in 1.00–1.19× the kernel floor
/// against 1.39–1.60× for one thread (BENCHMARKS.md, issue 8); more than two is unmeasured.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().min(2))
        .unwrap_or(1)
}

/// How to bring a lab up.
#[derive(Clone)]
pub struct LabOptions {
    /// Lab name (namespace prefix); default: the topology's `name`.
    pub name: Option<String>,
    /// Threads creating namespaces (default [`default_workers`]: one per CPU, at most two).
    pub workers: usize,
    /// Parent of run directories (default `/run/topolab`).
    pub run_base: PathBuf,
    /// Called as apply progresses (for progress bars).
    pub progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
    /// Set (e.g. by a signal handler) to abandon bring-up: apply checks it between
    /// namespaces and between stages, fails with [`LabError::Interrupted`], and what was
    /// made is torn down.
    pub cancel: Option<Arc<AtomicBool>>,
    /// After starting the services, wait this long for every readiness condition
    /// ([`Lab::wait_ready`]); `None`: return at once.
    pub ready_timeout: Option<std::time::Duration>,
    /// Called while waiting for readiness: (ready, total).
    pub ready_progress: Option<Arc<dyn Fn(usize, usize) + Send + Sync>>,
    /// The `topolab` binary that runs built-in daemons (default: this executable).
    pub exe: Option<PathBuf>,
    /// Bring up one shard of a lab split across machines (`topolab agent`, issue 13):
    /// the Plan is the shard's sub-plan.
    pub shard: Option<ShardRun>,
}

/// Where and how a shard runs (see [`LabOptions::shard`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardRun {
    /// The shard's number: its run directory is `<run_base>/<lab>/shard-<k>` (the lab's
    /// directory is made if this machine has none).
    pub index: u32,
    /// The namespace (a name under /run/netns) whose network carries the VXLAN packets;
    /// `None`: this process's.
    pub underlay_netns: Option<String>,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            name: None,
            workers: default_workers(),
            run_base: PathBuf::from(RUN_BASE),
            progress: None,
            cancel: None,
            ready_timeout: Some(DEFAULT_READY_TIMEOUT),
            ready_progress: None,
            exe: None,
            shard: None,
        }
    }
}

impl std::fmt::Debug for LabOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabOptions")
            .field("name", &self.name)
            .field("workers", &self.workers)
            .field("run_base", &self.run_base)
            .finish_non_exhaustive()
    }
}

/// A running lab. Dropping it tears it down.
pub struct Lab {
    name: LabName,
    plan: Arc<Plan>,
    dir: PathBuf,
    journal: Arc<std::sync::Mutex<Journal>>,
    /// Every service (`run:` commands, built-in daemons); set once the network is applied.
    services: Option<service::Services>,
    /// Shared with a blocking thread while a live change runs on it (see [`Lab::link`]).
    links: Option<Arc<std::sync::Mutex<links::Links>>>,
    /// The shard this process runs, if the lab is split across machines.
    shard: Option<u32>,
    _lock: Flock<File>,
    torn_down: bool,
}

/// Output of a command run in a node.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// Exit code, or 128 + signal number if it was killed.
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == 0
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl Lab {
    /// Brings up `topology` under its own name.
    pub async fn up(topology: &Topology) -> Result<Lab, LabError> {
        Lab::up_with(topology, LabOptions::default()).await
    }

    pub async fn up_with(topology: &Topology, opts: LabOptions) -> Result<Lab, LabError> {
        let name = opts.name.clone().unwrap_or_else(|| topology.name.clone());
        let name = check_name(&name)?;
        let plan = crate::compile::compile(topology, &name)?;
        let source = topology.source.name.clone();
        tokio::task::spawn_blocking(move || Lab::up_plan(plan, &source, &opts))
            .await
            .map_err(|e| LabError::Kernel {
                what: "apply".into(),
                source: io::Error::other(e.to_string()),
            })?
    }

    /// Blocking core of `up`: creates the run directory, applies `plan`, starts `run:`.
    /// Call it from a thread that may block (not a tokio worker).
    pub fn up_plan(plan: Plan, source: &str, opts: &LabOptions) -> Result<Lab, LabError> {
        if !nix::unistd::geteuid().is_root() {
            return Err(LabError::NotRoot);
        }
        let name = check_name(&plan.lab)?;
        let cancelled = || {
            opts.cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
        };
        if cancelled() {
            return Err(LabError::Interrupted);
        }
        let (dir, lock) =
            claim_run_dir(&opts.run_base, &name, opts.shard.as_ref().map(|s| s.index))?;
        let mut namespaces = plan
            .nodes
            .iter()
            .map(|n| &n.netns)
            .chain(plan.mgmt.iter().map(|m| &m.netns));
        if let Some(n) = namespaces.find(|n| netns::exists(n)) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(LabError::NamespaceExists(n.clone()));
        }
        let journal = open_journal(&dir, &name, source, &plan)?;

        let mut lab = Lab {
            name,
            plan: Arc::new(plan),
            dir,
            journal: Arc::new(std::sync::Mutex::new(journal)),
            services: None,
            links: None,
            shard: opts.shard.as_ref().map(|s| s.index),
            _lock: lock,
            torn_down: false,
        };
        let noop = |_: Progress| {};
        let progress: &(dyn Fn(Progress) + Sync) = match &opts.progress {
            Some(p) => p.as_ref(),
            None => &noop,
        };
        // On any error `lab` drops here and tears down what the journal recorded.
        let plan = lab.plan.clone();
        let cancel = opts.cancel.as_deref();
        node_env::check(&plan)?;
        {
            let mut journal = lab.journal.lock().unwrap_or_else(|p| p.into_inner());
            let underlay = opts
                .shard
                .as_ref()
                .and_then(|s| s.underlay_netns.as_deref());
            apply::apply(
                &plan,
                &mut journal,
                opts.workers,
                progress,
                cancel,
                underlay,
            )?;
            node_env::setup(&plan, &mut journal)?;
        }
        node_env::setup_private_dirs(&plan, &lab.dir)?;
        if cancelled() {
            return Err(LabError::Interrupted);
        }
        lab.links = Some(Arc::new(std::sync::Mutex::new(links::Links::start(&plan)?)));
        let exe = match &opts.exe {
            Some(e) => e.clone(),
            None => std::env::current_exe().map_err(|e| LabError::Kernel {
                what: "locate the topolab binary".into(),
                source: e,
            })?,
        };
        let services = service::Services::new(&plan, &lab.dir, lab.journal.clone(), exe)?;
        lab.services = Some(services.clone());
        services.start_all()?;
        if cancelled() {
            return Err(LabError::Interrupted);
        }
        if let Some(t) = opts.ready_timeout {
            let noop = |_: usize, _: usize| {};
            let progress: &dyn Fn(usize, usize) = match &opts.ready_progress {
                Some(p) => p.as_ref(),
                None => &noop,
            };
            services.wait_ready(None, None, t, progress)?;
        }
        if cancelled() {
            return Err(LabError::Interrupted);
        }
        Ok(lab)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn lab_name(&self) -> &LabName {
        &self.name
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn run_dir(&self) -> &Path {
        &self.dir
    }

    /// The shard this lab process runs (`topolab agent`), if the lab is split.
    pub fn shard(&self) -> Option<u32> {
        self.shard
    }

    /// A node of this lab by name. Unknown names fail when used.
    pub fn node<'a>(&'a self, name: &'a str) -> Node<'a> {
        Node { lab: self, name }
    }

    /// Every link: engine, current parameters, state and (userspace) counters.
    pub fn links(&self) -> Vec<links::LinkStatus> {
        self.links
            .as_ref()
            .map(|l| lock(l).status(&self.plan))
            .unwrap_or_default()
    }

    /// Takes link `a`–`b` down or up, or changes its parameters (overlaid on the current
    /// ones). Ends are `node` or `node:iface`, in either order.
    pub async fn link(
        &mut self,
        a: &str,
        b: &str,
        action: links::LinkAction,
    ) -> Result<links::LinkStatus, LabError> {
        let idx = links::Links::find(&self.plan, a, b)?;
        let plan = self.plan.clone();
        let links = self.links.clone().ok_or(LabError::UnknownNode(a.into()))?;
        // Netlink requests on namespace threads: off the runtime's workers. If this future
        // is dropped, the change still completes and the links stay with the lab.
        tokio::task::spawn_blocking(move || {
            let mut links = lock(&links);
            links.act(&plan, idx, &action)?;
            Ok(links.status(&plan).swap_remove(idx))
        })
        .await
        .map_err(|e| LabError::Kernel {
            what: "link change".into(),
            source: io::Error::other(e.to_string()),
        })?
    }

    /// The lab's services (`None` only while it is being brought up).
    pub fn services_handle(&self) -> Option<service::Services> {
        self.services.clone()
    }

    fn svc(&self) -> Result<&service::Services, LabError> {
        self.services.as_ref().ok_or(LabError::Interrupted)
    }

    /// Every service's state.
    pub fn services(&self) -> Vec<service::ServiceStatus> {
        self.services
            .as_ref()
            .map(|s| s.status())
            .unwrap_or_default()
    }

    /// Applies `op` to node `node`'s services (all of them, or `service`), on a blocking
    /// thread: a stop's grace period holds neither the runtime nor (through a clone of
    /// [`Lab::services_handle`]) the lab.
    pub async fn node_op(
        &self,
        node: &str,
        service: Option<&str>,
        op: service::NodeOp,
    ) -> Result<Vec<service::ServiceStatus>, LabError> {
        node_op(self.svc()?.clone(), &self.plan, node, service, op)
            .await
            .map(|(s, _)| s)
    }

    /// Waits until the services of `node` (or the one named; every service if `node` is
    /// `None`) are ready. Blocks: async callers use `spawn_blocking` on a clone of
    /// [`Lab::services_handle`].
    pub fn wait_ready(
        &self,
        node: Option<&str>,
        service: Option<&str>,
        timeout: std::time::Duration,
    ) -> Result<(), LabError> {
        if let Some(n) = node {
            self.plan
                .node(n)
                .ok_or_else(|| LabError::UnknownNode(n.into()))?;
        }
        self.svc()?.wait_ready(node, service, timeout, &|_, _| {})
    }

    /// Stops node `name`'s services (their whole process groups): stop signal, then
    /// SIGKILL after the grace period. Returns how many were running. Blocks for up to the
    /// grace period: async callers that share the lab use [`Lab::take_node_processes`].
    pub fn stop_node(&mut self, name: &str) -> Result<usize, LabError> {
        self.plan
            .node(name)
            .ok_or_else(|| LabError::UnknownNode(name.into()))?;
        Ok(self.svc()?.node_op(name, None, service::NodeOp::Stop)?.1)
    }

    /// Node `name`'s services, to be stopped without holding the lab ([`Stopping::stop`]).
    pub fn take_node_processes(&mut self, name: &str) -> Result<Stopping, LabError> {
        self.plan
            .node(name)
            .ok_or_else(|| LabError::UnknownNode(name.into()))?;
        Ok(Stopping {
            services: self.svc()?.clone(),
            node: name.to_string(),
        })
    }

    /// Kept for callers of the older API: the service runtime journals reaping itself.
    pub fn record_stopped(&mut self, _stopping: Stopping) -> Result<(), LabError> {
        Ok(())
    }

    /// Starts node `name`'s services again (after [`Lab::stop_node`]). Services already
    /// running are left alone. Returns how many were started.
    pub fn start_node(&mut self, name: &str) -> Result<usize, LabError> {
        self.plan
            .node(name)
            .ok_or_else(|| LabError::UnknownNode(name.into()))?;
        Ok(self.svc()?.node_op(name, None, service::NodeOp::Start)?.1)
    }

    /// State of the services as processes: (node, command, pid, exit status if it ended).
    pub fn processes(&mut self) -> Vec<(String, String, u32, Option<i32>)> {
        self.services()
            .into_iter()
            .filter_map(|s| {
                let exit = if s.pid.is_some() { None } else { s.exit };
                Some((s.node, s.what, s.pid.or(s.exit.map(|_| 0))?, exit))
            })
            .collect()
    }

    /// Tears the lab down: stops `run:` processes, deletes namespaces, removes the run dir.
    pub async fn down(mut self) -> Result<(), LabError> {
        teardown_off_runtime(move || self.teardown()).await
    }

    /// Blocking teardown (also what `Drop` does).
    pub fn down_blocking(mut self) -> Result<(), TeardownError> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), TeardownError> {
        if self.torn_down {
            return Ok(());
        }
        self.torn_down = true;
        // Relay threads hold sockets in the fabric namespace: stop them first.
        self.links = None;
        let mut errors = Vec::new();
        if let Some(s) = &self.services {
            s.close();
        }
        let entries = Journal::read(&self.dir).unwrap_or_default();
        let owned = teardown::Owned::from_entries(&self.name, &entries);
        teardown::teardown_owned(&owned, &mut errors);
        if let Some(s) = self.services.take() {
            s.join();
        }
        if let Err(e) = node_env::unmount_pins(&self.dir) {
            errors.push(("unmount mount namespaces".into(), e));
        }
        // A lab's directory may hold shard directories (issue 13: a coordinator's): they
        // go first, from their own journals, and it stays while an agent still runs.
        if self.shard.is_none() && errors.is_empty() {
            let mut removed = teardown::Removed::default();
            teardown::shards_first(&self.name, &self.dir, &mut errors, &mut removed);
        }
        if errors.is_empty()
            && let Err(e) = std::fs::remove_dir_all(&self.dir)
            && e.kind() != io::ErrorKind::NotFound
        {
            errors.push((format!("remove {}", self.dir.display()), e));
        }
        if self.shard.is_some()
            && let Some(lab_dir) = self.dir.parent()
        {
            // The lab's directory, if this shard made it and nothing else is in it (a
            // coordinator's or another shard's leaves it non-empty: rmdir refuses).
            let _ = std::fs::remove_dir(lab_dir);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(TeardownError(errors))
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            let _ = writeln!(
                std::io::stderr(),
                "topolab: teardown of lab `{}`: {e}",
                self.plan.lab
            );
        }
    }
}

/// A node's services on their way down (see [`Lab::take_node_processes`]).
pub struct Stopping {
    services: service::Services,
    node: String,
}

impl Stopping {
    /// Stops the node's services on a blocking thread, so the runtime and the lab stay
    /// free meanwhile.
    pub async fn stop(self) -> (Stopping, Result<usize, LabError>) {
        let (svc, node) = (self.services.clone(), self.node.clone());
        let r =
            tokio::task::spawn_blocking(move || svc.node_op(&node, None, service::NodeOp::Stop))
                .await
                .map_err(|e| LabError::Kernel {
                    what: "stop processes".into(),
                    source: io::Error::other(e.to_string()),
                })
                .and_then(|r| r.map(|(_, n)| n));
        (self, r)
    }
}

/// [`service::Services::node_op`] on a blocking thread, after checking the node exists.
pub async fn node_op(
    services: service::Services,
    plan: &Plan,
    node: &str,
    service: Option<&str>,
    op: service::NodeOp,
) -> Result<(Vec<service::ServiceStatus>, usize), LabError> {
    plan.node(node)
        .ok_or_else(|| LabError::UnknownNode(node.into()))?;
    let (node, service) = (node.to_string(), service.map(String::from));
    tokio::task::spawn_blocking(move || services.node_op(&node, service.as_deref(), op))
        .await
        .map_err(|e| LabError::Kernel {
            what: "node operation".into(),
            source: io::Error::other(e.to_string()),
        })?
}

/// A node of a running lab.
pub struct Node<'a> {
    lab: &'a Lab,
    name: &'a str,
}

impl Node<'_> {
    pub fn plan(&self) -> Result<&NodePlan, LabError> {
        self.lab
            .plan
            .node(self.name)
            .ok_or_else(|| LabError::UnknownNode(self.name.to_string()))
    }

    /// A command that will run inside this node's namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Result<tokio::process::Command, LabError> {
        let plan = self.plan()?;
        let env = node_env::NodeEnv::open(&self.lab.name, &self.lab.dir, plan).map_err(|e| {
            LabError::Kernel {
                what: format!("{}: enter the node", plan.name),
                source: e,
            }
        })?;
        let mut c = tokio::process::Command::new(program);
        env.prepare_tokio(&mut c, false);
        c.kill_on_drop(true);
        Ok(c)
    }

    /// Runs `argv` in the node and collects exit status, stdout and stderr separately.
    pub async fn exec<I, S>(&self, argv: I) -> Result<ExecOutput, LabError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let argv: Vec<S> = argv.into_iter().collect();
        let Some((prog, args)) = argv.split_first() else {
            return Err(LabError::Process {
                node: self.name.to_string(),
                cmd: String::new(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "empty command"),
            });
        };
        let mut c = self.command(prog)?;
        c.args(args).stdin(Stdio::null());
        let out = c.output().await.map_err(|e| LabError::Process {
            node: self.name.to_string(),
            cmd: prog.as_ref().to_string_lossy().into_owned(),
            source: e,
        })?;
        Ok(ExecOutput {
            status: status_code(out.status),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// Locks the links; a panic while they were held leaves them usable (they hold no
/// invariant a half-done change could break beyond that one link).
fn lock(l: &std::sync::Mutex<links::Links>) -> std::sync::MutexGuard<'_, links::Links> {
    l.lock().unwrap_or_else(|p| p.into_inner())
}

fn status_code(s: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
}

/// Lab names become namespace and directory names: the one rule is [`LabName`]'s.
pub fn check_name(name: &str) -> Result<LabName, LabError> {
    LabName::new(name).map_err(|reason| LabError::BadName { reason })
}

/// Starts the journal of a run directory `dir` claimed by this process: the owner entry
/// (this process, its start time, the topology `source`) first, then `plan.json` beside it.
pub(crate) fn open_journal(
    dir: &Path,
    name: &LabName,
    source: &str,
    plan: &Plan,
) -> Result<Journal, LabError> {
    let rundir = |source| LabError::RunDir {
        path: dir.to_path_buf(),
        source,
    };
    let mut journal = Journal::create(dir).map_err(rundir)?;
    let me = std::process::id();
    journal
        .append(&Entry::Lab {
            name: name.clone(),
            pid: me,
            start: proc_start_time(me).unwrap_or(0),
            topology: source.to_string(),
        })
        .map_err(LabError::Journal)?;
    serde_json::to_vec_pretty(plan)
        .map_err(io::Error::other)
        .and_then(|j| std::fs::write(dir.join("plan.json"), j))
        .map_err(rundir)?;
    Ok(journal)
}

/// Makes `<base>/<lab>` with its lock taken, atomically: it is built under a temporary
/// name, locked, and renamed into place (never replacing anything), so a run directory
/// never exists without a lock a supervisor holds or held. Refuses a live or stale lab,
/// classified by [`teardown::state`] as `ls` and `clean` do.
///
/// A shard (`shard: Some(k)`) claims `<base>/<lab>/shard-<k>` the same way, making
/// `<base>/<lab>` first if this machine has no coordinator's directory.
pub(crate) fn claim_run_dir(
    base: &Path,
    lab: &LabName,
    shard: Option<u32>,
) -> Result<(PathBuf, Flock<File>), LabError> {
    use std::sync::atomic::AtomicU64;
    static CLAIMS: AtomicU64 = AtomicU64::new(0);
    let rundir = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LabError::RunDir { path, source }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(base)
        .map_err(rundir(base))?;
    let (parent, dir) = match shard {
        None => (base.to_path_buf(), name::run_dir(base, lab)),
        Some(k) => {
            let parent = name::run_dir(base, lab);
            if !name::run_dir_exists(base, lab).map_err(rundir(&parent))? {
                match std::fs::DirBuilder::new().mode(0o700).create(&parent) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                        return Err(rundir(&parent)(e));
                    }
                    _ => {}
                }
            }
            (parent, name::shard_dir(base, lab, k))
        }
    };
    let refuse = || {
        let what = match shard {
            None => lab.to_string(),
            Some(k) => format!("{lab} (shard {k})"),
        };
        let state = match shard {
            None => teardown::state(base, lab),
            Some(_) => Ok(teardown::dir_state(&dir)),
        };
        match state {
            Ok(teardown::State::Running) => LabError::AlreadyRunning(what),
            Ok(_) => LabError::Stale(what),
            Err(e) => rundir(&dir)(e),
        }
    };
    if std::fs::symlink_metadata(&dir).is_ok() {
        return Err(refuse());
    }
    let tmp = parent.join(format!(
        "{}{lab}-{}-{}",
        teardown::CLAIM_PREFIX,
        std::process::id(),
        CLAIMS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(rundir(&tmp))?;
    let locked = (|| -> io::Result<Flock<File>> {
        let f = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(tmp.join("lock"))?;
        let mut lock = Flock::lock(f, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| e)?;
        writeln!(&mut *lock, "{}", std::process::id())?;
        nix::fcntl::renameat2(
            nix::fcntl::AT_FDCWD,
            &tmp,
            nix::fcntl::AT_FDCWD,
            &dir,
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        )?;
        Ok(lock)
    })();
    match locked {
        Ok(lock) => Ok((dir, lock)),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            if e.kind() == io::ErrorKind::AlreadyExists {
                Err(refuse())
            } else {
                Err(rundir(&dir)(e))
            }
        }
    }
}

/// Runs a teardown (which waits on processes and the kernel) off the async runtime: a
/// lab's `down` and a split lab's coordinator share it.
pub(crate) async fn teardown_off_runtime(
    teardown: impl FnOnce() -> Result<(), TeardownError> + Send + 'static,
) -> Result<(), LabError> {
    tokio::task::spawn_blocking(teardown)
        .await
        .map_err(|e| LabError::Kernel {
            what: "teardown".into(),
            source: io::Error::other(e.to_string()),
        })?
        .map_err(LabError::from)
}
