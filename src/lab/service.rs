//! The service runtime: every `run:` command and built-in daemon of a lab, supervised.
//!
//! ```text
//!  Services ── one monitor thread per service ──▶ spawn (journaled, own process group,
//!     │            ▲        │                      log: logs/<node>.<service>.log)
//!     │            │        └─ wait for exit ─▶ restart policy, backoff 100 ms ×2 … 10 s
//!     │            └── wanted / closing (condvar)
//!     └─ probe thread per start (enters the node's namespace; polls every 100 ms)
//!            tcp_port/udp_port: /proc/thread-self/net/{tcp,udp}{,6}; command: sh -c;
//!            file: /proc/PID/root/PATH; log: regex on the log; builtin: daemon socket
//! ```
//! Monitors and probes are plain threads (never tokio workers: probes `setns`, monitors
//! block in `wait`). Callers that wait (stop's grace period, `wait_ready`) block too: async
//! code calls them through `spawn_blocking`, holding no lock of the lab meanwhile.
//!
//! Every spawn happens under the journal's lock after checking `closing`, and teardown
//! sets `closing` under that lock before it reads the journal: a process is either
//! journaled before teardown looks, or never started.

use std::io::{self, Read, Seek};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::journal::{Entry, Journal, proc_start_time};
use super::{LabError, cgroup};
use crate::compile::{NodePlan, Plan, Readiness, RestartPolicy, ServicePlan, ServiceWhat};
use crate::daemon::DaemonKind;
use crate::netns;

/// First restart delay; doubles per crash up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A service up this long has its backoff reset.
const BACKOFF_RESET: Duration = Duration::from_secs(10);
/// Readiness poll period.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// Lines of log shown by `inspect`.
pub const LOG_TAIL: usize = 5;

/// What a service is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not started yet, or stopped on request.
    Stopped,
    /// Started; its readiness condition is not met yet.
    Starting,
    /// Started and its readiness condition is met.
    Ready,
    /// Started; it has no readiness condition.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// Ended and will be started again after a backoff.
    Restarting,
    /// Ended with status 0 and stays down.
    Exited,
    /// Ended with a failure (or could not start) and stays down.
    Failed,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Starting => "starting",
            State::Ready => "ready",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Exited => "exited",
            State::Failed => "failed",
        }
    }
    /// Up and, where it has a condition, ready.
    fn is_ready(self) -> bool {
        matches!(self, State::Ready | State::Running)
    }
}

/// A service as `inspect` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub node: String,
    pub name: String,
    /// `sh -c` command, or `daemon KIND`.
    pub what: String,
    pub state: State,
    pub pid: Option<u32>,
    pub restarts: u32,
    /// Seconds since the current process started.
    pub uptime_s: Option<f64>,
    /// Exit status of the last process that ended (128 + signal if killed).
    pub exit: Option<i32>,
    pub log_tail: Vec<String>,
}

/// What `node_op` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum NodeOp {
    /// Stop signal, SIGKILL after the grace period; not restarted.
    Stop,
    /// Start what is not running.
    Start,
    /// Stop, then start.
    Restart,
    /// SIGKILL, a crash: the restart policy decides what follows.
    Kill,
    /// Freeze the processes (cgroup freezer, or SIGSTOP).
    Pause,
    /// Thaw them.
    Resume,
    /// Only report.
    Status,
}

#[derive(Debug)]
struct SvcState {
    state: State,
    /// Should a process run (start/stop requests; cleared when the policy gives up).
    wanted: bool,
    pid: Option<u32>,
    started: Option<Instant>,
    restarts: u32,
    exit: Option<i32>,
    /// Bumped per spawn: a probe of an older process stops.
    generation: u64,
    paused: bool,
    /// Set while a stop is in progress, so that the end is not a crash.
    stopping: bool,
}

struct Svc {
    node: String,
    netns: String,
    /// What [`super::node_env::NodeEnv`] needs to put a process into the node (namespaces,
    /// private mount namespace, cgroup).
    lab: String,
    run_dir: PathBuf,
    node_plan: Arc<NodePlan>,
    plan: ServicePlan,
    log: PathBuf,
    socket: PathBuf,
    st: Mutex<SvcState>,
}

struct Inner {
    lab: String,
    exe: PathBuf,
    journal: Arc<Mutex<Journal>>,
    /// Set by teardown (under the journal lock): nothing starts any more.
    closing: Mutex<bool>,
    svcs: Vec<Arc<Svc>>,
    /// Notified on every state change.
    cv: Condvar,
    /// The mutex `cv` waits with (state lives in each `Svc`; this only orders wake-ups).
    tick: Mutex<u64>,
    monitors: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// The services of a lab (cheap to clone; shared with the threads that wait on it).
#[derive(Clone)]
pub struct Services {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Services {
    /// Sets up (without starting) every service of `plan`; `dir` is the run directory.
    pub fn new(
        plan: &Plan,
        dir: &Path,
        journal: Arc<Mutex<Journal>>,
        exe: PathBuf,
    ) -> Result<Services, LabError> {
        let mut svcs = Vec::new();
        for node in &plan.nodes {
            let node_plan = Arc::new(node.clone());
            for s in &node.services {
                svcs.push(Arc::new(Svc {
                    node: node.name.clone(),
                    netns: node.netns.clone(),
                    lab: plan.lab.clone(),
                    run_dir: dir.to_path_buf(),
                    node_plan: node_plan.clone(),
                    plan: s.clone(),
                    log: dir
                        .join("logs")
                        .join(format!("{}.{}.log", node.name, s.name)),
                    socket: socket_path(dir, &node.name, &s.name),
                    st: Mutex::new(SvcState {
                        state: State::Stopped,
                        wanted: false,
                        pid: None,
                        started: None,
                        restarts: 0,
                        exit: None,
                        generation: 0,
                        paused: false,
                        stopping: false,
                    }),
                }));
            }
        }
        if !svcs.is_empty() {
            for sub in ["logs", "daemons"] {
                let p = dir.join(sub);
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&p)
                    .map_err(|source| LabError::RunDir { path: p, source })?;
            }
        }
        Ok(Services {
            inner: Arc::new(Inner {
                lab: plan.lab.clone(),
                exe,
                journal,
                closing: Mutex::new(false),
                svcs,
                cv: Condvar::new(),
                tick: Mutex::new(0),
                monitors: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Starts every service (each gets its monitor thread). Fails if one cannot be spawned.
    pub fn start_all(&self) -> Result<(), LabError> {
        for svc in &self.inner.svcs {
            lock(&svc.st).wanted = true;
            self.spawn_once(svc)?;
            let (inner, svc) = (self.inner.clone(), svc.clone());
            let h = std::thread::Builder::new()
                .name(format!("svc-{}", svc.plan.name))
                .stack_size(256 * 1024)
                .spawn(move || monitor(&inner, &svc))
                .map_err(|e| LabError::Kernel {
                    what: "start a service monitor".into(),
                    source: e,
                })?;
            lock(&self.inner.monitors).push(h);
        }
        Ok(())
    }

    /// Every service's status.
    pub fn status(&self) -> Vec<ServiceStatus> {
        self.inner.svcs.iter().map(|s| status_of(s, true)).collect()
    }

    /// Every service's state without its log tail (no file is read: cheap enough to ask
    /// every second, as the web view does).
    pub fn states(&self) -> Vec<ServiceStatus> {
        self.inner
            .svcs
            .iter()
            .map(|s| status_of(s, false))
            .collect()
    }

    fn select(&self, node: &str, service: Option<&str>) -> Result<Vec<Arc<Svc>>, LabError> {
        let v: Vec<Arc<Svc>> = self
            .inner
            .svcs
            .iter()
            .filter(|s| s.node == node && service.is_none_or(|n| s.plan.name == n))
            .cloned()
            .collect();
        if v.is_empty()
            && let Some(n) = service
        {
            return Err(LabError::UnknownService {
                node: node.into(),
                service: n.into(),
            });
        }
        Ok(v)
    }

    /// Applies `op` to `node`'s services (all, or the one named). Blocks for up to the
    /// grace period on stop/restart: call it off the runtime's workers. Returns the
    /// statuses of the services concerned, and how many processes it acted on.
    pub fn node_op(
        &self,
        node: &str,
        service: Option<&str>,
        op: NodeOp,
    ) -> Result<(Vec<ServiceStatus>, usize), LabError> {
        let svcs = self.select(node, service)?;
        let mut n = 0;
        match op {
            NodeOp::Status => {}
            NodeOp::Stop => n = self.stop(&svcs),
            NodeOp::Start => n = self.start(&svcs)?,
            NodeOp::Restart => {
                self.stop(&svcs);
                n = self.start(&svcs)?;
            }
            NodeOp::Kill => {
                for s in &svcs {
                    let pid = lock(&s.st).pid;
                    if let Some(pid) = pid {
                        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
                        n += 1;
                    }
                }
                // Until the monitor reaps it, the state still says running: wait for that.
                for s in &svcs {
                    self.wait_for(s, Duration::from_secs(5), |st| st.pid.is_none());
                }
            }
            NodeOp::Pause | NodeOp::Resume => n = self.freeze(node, &svcs, op == NodeOp::Pause)?,
        }
        Ok((svcs.iter().map(|s| status_of(s, true)).collect(), n))
    }

    fn start(&self, svcs: &[Arc<Svc>]) -> Result<usize, LabError> {
        let mut n = 0;
        for s in svcs {
            let mut st = lock(&s.st);
            if st.pid.is_none() {
                st.wanted = true;
                drop(st);
                self.spawn_once(s)?;
                n += 1;
            }
        }
        self.notify();
        Ok(n)
    }

    /// Stop signal to each group, SIGKILL after its grace; waits until reaped.
    fn stop(&self, svcs: &[Arc<Svc>]) -> usize {
        let mut n = 0;
        for s in svcs {
            let mut st = lock(&s.st);
            st.wanted = false;
            if let Some(pid) = st.pid {
                st.stopping = true;
                if st.paused {
                    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGCONT);
                }
                let sig = Signal::try_from(s.plan.stop_signal.number()).unwrap_or(Signal::SIGTERM);
                let _ = killpg(Pid::from_raw(pid as i32), sig);
                n += 1;
            } else if matches!(st.state, State::Restarting | State::Starting) {
                st.state = State::Stopped;
            }
        }
        self.notify();
        for s in svcs {
            if !self.wait_for(s, s.plan.grace, |st| st.pid.is_none()) {
                if let Some(pid) = lock(&s.st).pid {
                    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
                }
                self.wait_for(s, Duration::from_secs(5), |st| st.pid.is_none());
            }
        }
        n
    }

    /// Freezes or thaws: the node's cgroup freezer if the node has a group, else
    /// SIGSTOP/SIGCONT to each service's process group.
    fn freeze(&self, node: &str, svcs: &[Arc<Svc>], frozen: bool) -> Result<usize, LabError> {
        let ctl = cgroup::Controllers::detect();
        let group = cgroup::NodeCgroup::locate(&ctl, &self.inner.lab, node)
            .ok()
            .filter(|g| g.frozen().is_some() && !g.pids().is_empty());
        let mut n = 0;
        let mut by_freezer = false;
        if let Some(g) = &group {
            by_freezer = g.freeze(frozen).is_ok();
        }
        for s in svcs {
            let mut st = lock(&s.st);
            let Some(pid) = st.pid else { continue };
            if !by_freezer {
                let sig = if frozen {
                    Signal::SIGSTOP
                } else {
                    Signal::SIGCONT
                };
                killpg(Pid::from_raw(pid as i32), sig).map_err(|e| LabError::Kernel {
                    what: format!("{node}/{}: signal", s.plan.name),
                    source: e.into(),
                })?;
            }
            st.paused = frozen;
            n += 1;
        }
        self.notify();
        Ok(n)
    }

    /// Waits until every selected service is ready (or running, without a condition).
    /// Err lists the services that are not, with their log tails.
    pub fn wait_ready(
        &self,
        node: Option<&str>,
        service: Option<&str>,
        timeout: Duration,
        progress: &dyn Fn(usize, usize),
    ) -> Result<(), LabError> {
        let svcs: Vec<Arc<Svc>> = match node {
            Some(n) => self.select(n, service)?,
            None => self.inner.svcs.clone(),
        };
        if let Some(n) = node
            && svcs.is_empty()
            && !self.inner.svcs.iter().any(|s| s.node == n)
        {
            // A node without services is ready.
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let mut tick = lock(&self.inner.tick);
        loop {
            let states: Vec<(State, bool)> = svcs
                .iter()
                .map(|s| {
                    let st = lock(&s.st);
                    (st.state, st.wanted)
                })
                .collect();
            let ready = states.iter().filter(|(s, _)| s.is_ready()).count();
            progress(ready, svcs.len());
            if ready == svcs.len() {
                return Ok(());
            }
            let given_up = states
                .iter()
                .any(|(s, w)| !w && matches!(s, State::Exited | State::Failed | State::Stopped));
            let now = Instant::now();
            if given_up || now >= deadline || *lock(&self.inner.closing) {
                let not: Vec<String> = svcs
                    .iter()
                    .zip(&states)
                    .filter(|(_, (s, _))| !s.is_ready())
                    .map(|(s, (st, _))| {
                        let tail = tail(&s.log, LOG_TAIL);
                        let mut t = format!("{}/{} ({})", s.node, s.plan.name, st.label());
                        for l in tail {
                            t.push_str(&format!("\n    | {l}"));
                        }
                        t
                    })
                    .collect();
                return Err(LabError::NotReady {
                    secs: timeout.as_secs_f64(),
                    services: not.join("\n  "),
                });
            }
            let wait = (deadline - now).min(Duration::from_millis(500));
            tick = self
                .inner
                .cv
                .wait_timeout(tick, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Teardown: nothing starts from now on; wakes every monitor so it ends once its
    /// process is gone. Takes the journal lock, so no spawn is half done.
    pub fn close(&self) {
        let _j = lock(&self.inner.journal);
        *lock(&self.inner.closing) = true;
        drop(_j);
        self.notify();
    }

    /// Waits for the monitors (after teardown killed the processes).
    pub fn join(&self) {
        let hs = std::mem::take(&mut *lock(&self.inner.monitors));
        for h in hs {
            let _ = h.join();
        }
    }

    fn notify(&self) {
        notify(&self.inner);
    }

    /// Waits until `f(state)` holds or `timeout` passes; true if it holds.
    fn wait_for(&self, s: &Svc, timeout: Duration, f: impl Fn(&SvcState) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut tick = lock(&self.inner.tick);
        loop {
            if f(&lock(&s.st)) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            tick = self
                .inner
                .cv
                .wait_timeout(tick, (deadline - now).min(Duration::from_millis(100)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Spawns `svc` once (if wanted and not running) and hands the child to its monitor
    /// through the state (`pid`); the monitor reaps it by pid.
    fn spawn_once(&self, svc: &Arc<Svc>) -> Result<(), LabError> {
        spawn_once(&self.inner, svc)
    }
}

fn notify(inner: &Inner) {
    *lock(&inner.tick) += 1;
    inner.cv.notify_all();
}

fn status_of(s: &Svc, with_tail: bool) -> ServiceStatus {
    let st = lock(&s.st);
    ServiceStatus {
        node: s.node.clone(),
        name: s.plan.name.clone(),
        what: match &s.plan.what {
            ServiceWhat::Command { cmd } => cmd.clone(),
            ServiceWhat::Daemon { kind, port } => format!("daemon {} port {port}", kind.name()),
        },
        state: if st.paused && st.pid.is_some() {
            State::Paused
        } else {
            st.state
        },
        pid: st.pid,
        restarts: st.restarts,
        uptime_s: st
            .pid
            .and(st.started)
            .map(|t| (t.elapsed().as_millis() as f64) / 1000.0),
        exit: st.exit,
        log_tail: if with_tail {
            tail(&s.log, LOG_TAIL)
        } else {
            Vec::new()
        },
    }
}

/// The compiled config of an OpenFlow daemon, written as `daemons/<node>.<service>.json`
/// (0600; both names were validated, the path is built from nothing else); `None` for
/// daemons without one.
fn write_daemon_config(svc: &Svc, kind: DaemonKind) -> io::Result<Option<PathBuf>> {
    use crate::compile::NodeOpenflow;
    use std::io::Write;
    let json = match (kind, &svc.node_plan.openflow) {
        (DaemonKind::Echo, _) => return Ok(None),
        (DaemonKind::OfSwitch, Some(NodeOpenflow::Switch(c))) => serde_json::to_vec_pretty(c),
        (DaemonKind::Controller, Some(NodeOpenflow::Controller(c))) => serde_json::to_vec_pretty(c),
        (DaemonKind::Bgp, _) => match &svc.node_plan.bgp {
            Some(c) => serde_json::to_vec_pretty(c),
            None => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("node `{}` has no bgp config", svc.node),
                ));
            }
        },
        (DaemonKind::OfSwitch | DaemonKind::Controller, _) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("node `{}` has no {} config", svc.node, kind.name()),
            ));
        }
    }
    .map_err(std::io::Error::other)?;
    let path = svc
        .run_dir
        .join("daemons")
        .join(format!("{}.{}.json", svc.node, svc.plan.name));
    let tmp = path.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&json)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(Some(path))
}

/// The command that runs `svc` inside its node. The one place a service's process is
/// prepared: it joins the node's network namespace and gets its own process group.
fn spawn_in_node(svc: &Svc, c: &mut std::process::Command) -> io::Result<()> {
    super::node_env::NodeEnv::open(&svc.lab, &svc.run_dir, &svc.node_plan)?.prepare(c, true);
    Ok(())
}

fn spawn_once(inner: &Inner, svc: &Arc<Svc>) -> Result<(), LabError> {
    let label = match &svc.plan.what {
        ServiceWhat::Command { cmd } => cmd.clone(),
        ServiceWhat::Daemon { kind, .. } => format!("daemon {}", kind.name()),
    };
    let err = |source| LabError::Process {
        node: svc.node.clone(),
        cmd: label.clone(),
        source,
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&svc.log)
        .map_err(err)?;
    let mut c = match &svc.plan.what {
        ServiceWhat::Command { cmd } => {
            let mut c = std::process::Command::new("/bin/sh");
            c.arg("-c").arg(cmd);
            c
        }
        ServiceWhat::Daemon { kind, port } => {
            let mut c = std::process::Command::new(&inner.exe);
            c.arg("daemon")
                .arg(kind.name())
                .arg("--control")
                .arg(&svc.socket)
                .arg("--port")
                .arg(port.to_string());
            if let Some(path) = write_daemon_config(svc, *kind).map_err(err)? {
                c.arg("--config").arg(path);
            }
            c
        }
    };
    c.stdin(Stdio::null())
        .stdout(log.try_clone().map_err(err)?)
        .stderr(log);
    spawn_in_node(svc, &mut c).map_err(err)?;
    let mut journal = lock(&inner.journal);
    if *lock(&inner.closing) {
        return Ok(());
    }
    let mut st = lock(&svc.st);
    if st.pid.is_some() || !st.wanted {
        return Ok(());
    }
    // Intent first: a crash between spawn and the next entry leaves a pid-less entry,
    // which is harmless, never an unrecorded process.
    let entry = |pid, start| Entry::Process {
        node: svc.node.clone(),
        pid,
        start,
        cmd: label.clone(),
    };
    journal.append(&entry(0, 0)).map_err(LabError::Journal)?;
    let child = match c.spawn() {
        Ok(c) => c,
        Err(e) => {
            st.state = State::Failed;
            st.wanted = false;
            drop(st);
            notify(inner);
            return Err(err(e));
        }
    };
    let pid = child.id();
    // The monitor reaps by pid (waitpid); the Child handle is not needed.
    drop(child);
    journal
        .append(&entry(pid, proc_start_time(pid).unwrap_or(0)))
        .map_err(LabError::Journal)?;
    drop(journal);
    st.pid = Some(pid);
    st.started = Some(Instant::now());
    st.generation += 1;
    st.stopping = false;
    st.paused = false;
    st.state = if svc.plan.ready.is_some() {
        State::Starting
    } else {
        State::Running
    };
    let generation = st.generation;
    drop(st);
    if let Some(r) = svc.plan.ready.clone() {
        let svc = svc.clone();
        let _ = std::thread::Builder::new()
            .name("probe".into())
            .stack_size(256 * 1024)
            .spawn(move || probe(&svc, &r, generation, pid));
    }
    notify(inner);
    Ok(())
}

/// Reaps `svc`'s processes, applies its restart policy, until the lab closes.
fn monitor(inner: &Arc<Inner>, svc: &Arc<Svc>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let pid = lock(&svc.st).pid;
        match pid {
            Some(pid) => {
                let status = wait_pid(pid);
                if let Ok(mut j) = inner.journal.lock() {
                    let _ = j.append(&Entry::Reaped { pid });
                }
                // Teardown ends every service: that is no failure to report.
                let closing = *lock(&inner.closing);
                let mut st = lock(&svc.st);
                let up = st.started.map(|t| t.elapsed()).unwrap_or_default();
                st.pid = None;
                st.exit = Some(status);
                st.paused = false;
                if up >= BACKOFF_RESET {
                    backoff = BACKOFF_MIN;
                }
                let failed = status != 0;
                let again = st.wanted
                    && !st.stopping
                    && !closing
                    && match svc.plan.restart {
                        RestartPolicy::Never => false,
                        RestartPolicy::OnFailure => failed,
                        RestartPolicy::Always => true,
                    };
                if st.stopping || !st.wanted || closing {
                    st.state = State::Stopped;
                    st.wanted = false;
                } else if again {
                    st.state = State::Restarting;
                } else {
                    st.state = if failed { State::Failed } else { State::Exited };
                    st.wanted = false;
                    tracing::warn!(node = %svc.node, service = %svc.plan.name, status,
                        "service ended");
                }
                st.stopping = false;
                drop(st);
                notify(inner);
                if again {
                    // Sleep the backoff, woken early by a stop or teardown.
                    let until = Instant::now() + backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    let mut tick = lock(&inner.tick);
                    while Instant::now() < until && !*lock(&inner.closing) {
                        if !lock(&svc.st).wanted {
                            break;
                        }
                        tick = inner
                            .cv
                            .wait_timeout(tick, until - Instant::now())
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                    }
                    drop(tick);
                    let want = lock(&svc.st).wanted;
                    if want && !*lock(&inner.closing) {
                        lock(&svc.st).restarts += 1;
                        if spawn_once(inner, svc).is_err() {
                            let mut st = lock(&svc.st);
                            st.state = State::Failed;
                            st.wanted = false;
                        }
                    }
                }
            }
            None => {
                // Idle: wait for a start (which spawns in the caller) or teardown.
                if *lock(&inner.closing) {
                    return;
                }
                let tick = lock(&inner.tick);
                let _ = inner
                    .cv
                    .wait_timeout(tick, Duration::from_millis(500))
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
        if *lock(&inner.closing) && lock(&svc.st).pid.is_none() {
            return;
        }
    }
}

/// Blocks until child `pid` ends; its status as an exit code (128 + signal if killed).
fn wait_pid(pid: u32) -> i32 {
    use nix::sys::wait::{WaitStatus, waitpid};
    loop {
        match waitpid(Pid::from_raw(pid as i32), None) {
            Ok(WaitStatus::Exited(_, c)) => return c,
            Ok(WaitStatus::Signaled(_, s, _)) => return 128 + s as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return -1,
        }
    }
}

/// Polls `r` until met (state → Ready), or the process `generation` is gone.
fn probe(svc: &Svc, r: &Readiness, generation: u64, pid: u32) {
    // Port probes read /proc/thread-self/net from inside the node: enter it once (this
    // thread is ours and ends with the probe).
    if matches!(r, Readiness::TcpPort(_) | Readiness::UdpPort(_)) {
        let Ok(ns) = netns::open(&svc.netns) else {
            return;
        };
        if nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
            return;
        }
    }
    let regex = match r {
        Readiness::Log(re) => regex::Regex::new(re).ok(),
        _ => None,
    };
    loop {
        {
            let st = lock(&svc.st);
            if st.generation != generation || st.pid.is_none() || st.state != State::Starting {
                return;
            }
        }
        let met = match r {
            Readiness::TcpPort(p) => listening("tcp", *p, "0A"),
            Readiness::UdpPort(p) => listening("udp", *p, "07"),
            Readiness::Command(cmd) => {
                let mut c = std::process::Command::new("/bin/sh");
                c.arg("-c")
                    .arg(cmd)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                spawn_in_node(svc, &mut c).is_ok() && c.status().is_ok_and(|s| s.success())
            }
            Readiness::File(p) => {
                let rel = p.strip_prefix("/").unwrap_or(p);
                Path::new(&format!("/proc/{pid}/root")).join(rel).exists()
            }
            Readiness::Log(_) => regex
                .as_ref()
                .is_some_and(|re| tail(&svc.log, 1000).iter().any(|l| re.is_match(l))),
            Readiness::Builtin => matches!(
                crate::daemon::call(
                    &svc.socket,
                    &crate::daemon::Request::Status,
                    Duration::from_secs(1)
                ),
                Ok(crate::daemon::Response::Status(s)) if s.ready
            ),
        };
        if met {
            let mut st = lock(&svc.st);
            if st.generation == generation && st.state == State::Starting {
                st.state = State::Ready;
            }
            return;
        }
        std::thread::sleep(PROBE_EVERY);
    }
}

/// Whether `/proc/thread-self/net/{proto}{,6}` has a socket on local `port` in `state`
/// (hex: 0A = LISTEN for TCP, 07 = bound for UDP).
fn listening(proto: &str, port: u16, state: &str) -> bool {
    let want = format!("{port:04X}");
    [proto.to_string(), format!("{proto}6")].iter().any(|f| {
        std::fs::read_to_string(format!("/proc/thread-self/net/{f}")).is_ok_and(|t| {
            t.lines().skip(1).any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() > 3
                    && cols[1].rsplit(':').next() == Some(want.as_str())
                    && cols[3] == state
            })
        })
    })
}

/// The last `n` lines of a log file (reads at most its last 64 KiB).
pub fn tail(path: &Path, n: usize) -> Vec<String> {
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(io::SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.take(64 * 1024).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.chars().take(200).collect())
        .collect()
}

/// Control socket of `node`'s service `service` (names checked at compile time: file-name
/// safe).
fn socket_path(dir: &Path, node: &str, service: &str) -> PathBuf {
    dir.join("daemons").join(format!("{node}.{service}.sock"))
}

/// The control socket of `node`'s first built-in daemon of one of `kinds`
/// (`daemons/<node>.<service>.sock` in the run directory `dir`); `None` if it runs none.
/// The node comes from the plan, so no name from outside becomes a path.
pub fn daemon_socket(dir: &Path, node: &NodePlan, kinds: &[DaemonKind]) -> Option<PathBuf> {
    node.services
        .iter()
        .find(|s| matches!(s.what, ServiceWhat::Daemon { kind, .. } if kinds.contains(&kind)))
        .map(|s| socket_path(dir, &node.name, &s.name))
}

/// Log file of `node`'s service `service` (names were checked: they are file-name safe).
pub fn log_path(dir: &Path, node: &NodePlan, service: &str) -> Option<PathBuf> {
    node.services.iter().find(|s| s.name == service).map(|s| {
        dir.join("logs")
            .join(format!("{}.{}.log", node.name, s.name))
    })
}
