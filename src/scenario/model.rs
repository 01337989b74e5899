//! The checked scenario and the results of running it: plain data shared by the parser
//! (`spec.rs`, `check.rs`), the runner (`run.rs`) and the reports (`report.rs`).
//!
//! A scenario names a topology (a file, relative to the scenario's directory, or inline),
//! a seed, and a list of steps. Every step has the common fields in [`Step`] and exactly
//! one [`Action`]. Strings may hold references to compiled facts, `${h2.ipv4}`,
//! `${r1.eth1.ipv6}`, `${seed}`, which the runner resolves against the lab's Plan.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::topology::{Source, Span};

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub topology: TopologyRef,
    /// Overrides the topology's `defaults.seed` (every link seed derives from it).
    pub seed: Option<u64>,
    /// Upper bound for the whole scenario (default 10 minutes).
    pub timeout: Duration,
    pub steps: Vec<Step>,
    pub source: Source,
}

#[derive(Debug, Clone)]
pub enum TopologyRef {
    /// A path as written, resolved against the scenario file's directory.
    File(PathBuf),
    /// The topology written inline under `topology:` (its YAML text).
    Inline(String),
    /// No `topology:` key: the embedded quickstart lab.
    Quickstart,
}

#[derive(Debug, Clone)]
pub struct Step {
    /// Shown in reports; default: a summary of the action ("ping h1 → h3").
    pub name: String,
    /// Upper bound for this step (default depends on the action, see `Action::default_timeout`).
    pub timeout: Option<Duration>,
    /// A failure of this step does not stop the scenario (it still fails it).
    pub continue_on_failure: bool,
    /// Events run while this step runs, at offsets from its start (long-running steps).
    pub during: Vec<Timed>,
    pub action: Action,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Timed {
    pub at: Duration,
    pub action: Action,
    pub span: Span,
}

/// An endpoint as written: a node name, `node:iface`, an address, or a `${…}` reference.
pub type Target = String;

#[derive(Debug, Clone)]
pub enum Action {
    Ping(Ping),
    Pingall(Pingall),
    Throughput(Throughput),
    Exec(Exec),
    Link(LinkStep),
    Node(NodeStep),
    Wait(Wait),
    Capture(Capture),
    Openflow(OpenflowStep),
    Bgp(BgpStep),
    Sleep(Duration),
    Parallel(Vec<Step>),
    Repeat { times: u32, steps: Vec<Step> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone)]
pub struct Ping {
    pub from: String,
    pub to: Target,
    pub family: Family,
    pub count: u32,
    pub interval: Duration,
    /// ICMP payload bytes.
    pub size: usize,
    pub expect: PingExpect,
}

/// Bounds on a ping's outcome; unset fields are not checked. Loss is a fraction in [0, 1].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PingExpect {
    pub loss_max: Option<f64>,
    pub loss_min: Option<f64>,
    pub rtt_max: Option<Duration>,
    pub rtt_min: Option<Duration>,
    pub rtt_avg_max: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Pingall {
    pub family: Family,
    /// Hosts only (default) or every node with an address.
    pub all_nodes: bool,
    /// None: every pair must answer. Some: the pairs listed must (or must not) answer;
    /// pairs not listed are not checked.
    pub matrix: Option<Vec<PairExpect>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairExpect {
    pub from: String,
    pub to: String,
    pub reachable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

#[derive(Debug, Clone)]
pub struct Throughput {
    pub from: String,
    pub to: Target,
    pub family: Family,
    pub protocol: Protocol,
    pub duration: Duration,
    pub streams: u32,
    /// Report interval (default 1 s; outage detection is as fine as this).
    pub interval: Duration,
    /// UDP: offered rate in bit/s.
    pub offered: Option<u64>,
    /// UDP: datagram payload bytes.
    pub size: usize,
    /// TCP congestion control (default cubic).
    pub congestion: String,
    pub expect: ThroughputExpect,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThroughputExpect {
    /// bit/s.
    pub min: Option<u64>,
    pub max: Option<u64>,
    /// UDP: loss fraction bounds; jitter (σ of one-way delay) bound.
    pub loss_max: Option<f64>,
    pub jitter_max: Option<Duration>,
    /// Total time of intervals with no goodput (a link outage), bounds.
    pub outage_min: Option<Duration>,
    pub outage_max: Option<Duration>,
    pub retransmits_max: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Exec {
    pub node: String,
    /// Run with `sh -c`.
    pub cmd: String,
    pub expect: ExecExpect,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecExpect {
    /// Default 0.
    pub status: Option<i32>,
    pub stdout_contains: Option<String>,
    /// A regular expression.
    pub stdout_matches: Option<String>,
    pub stderr_contains: Option<String>,
    pub stderr_matches: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LinkStep {
    pub a: String,
    pub b: String,
    pub op: LinkOp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LinkOp {
    Down,
    Up,
    Set {
        a_to_b: Box<crate::topology::changes::LinkChange>,
        b_to_a: Box<crate::topology::changes::LinkChange>,
    },
}

#[derive(Debug, Clone)]
pub struct NodeStep {
    pub node: String,
    /// One service of the node, or all of them.
    pub service: Option<String>,
    pub op: NodeOp,
}

/// What a `node` step does to a node's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeOp {
    /// Stop signal, SIGKILL after the grace period; no restart.
    Stop,
    /// Start what is not running.
    Start,
    Restart,
    /// SIGKILL: a crash (the restart policy decides what happens next).
    Kill,
    /// Freeze every process of the node (cgroup freezer, or SIGSTOP).
    Pause,
    Resume,
}

impl NodeOp {
    pub fn word(self) -> &'static str {
        match self {
            NodeOp::Stop => "stop",
            NodeOp::Start => "start",
            NodeOp::Restart => "restart",
            NodeOp::Kill => "kill",
            NodeOp::Pause => "pause",
            NodeOp::Resume => "resume",
        }
    }
}

/// An `openflow` step: a flow edit on a switch, applied by its daemon as a controller's
/// FLOW_MOD would be.
#[derive(Debug, Clone)]
pub struct OpenflowStep {
    pub node: String,
    pub command: crate::daemon::FlowOp,
    /// ovs-ofctl syntax (checked to parse).
    pub flow: String,
}

/// A `bgp` step: prefixes a speaker originates or withdraws (checked to parse).
#[derive(Debug, Clone)]
pub struct BgpStep {
    pub node: String,
    pub announce: Vec<String>,
    pub withdraw: Vec<String>,
}

/// Which sessions a `wait: {bgp: {established: …}}` waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum BgpSessions {
    /// Every configured peer (and at least one).
    All,
    AtLeast(u32),
    /// These peers (by name or address).
    Peers(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Wait {
    pub until: Condition,
    /// How often to test the condition (default 200 ms).
    pub every: Duration,
}

/// Conditions `wait` can wait for. New protocol nodes add variants here (BGP session
/// established, route present, OpenFlow switch connected) and a test for them in
/// `run.rs`'s `Condition::holds`.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// An ICMP echo from `from` to `to` is answered.
    Reachable {
        from: String,
        to: Target,
        family: Family,
    },
    /// A TCP connection from `from` to `to`:`port` is accepted.
    TcpPort {
        from: String,
        to: Target,
        port: u16,
        family: Family,
    },
    /// `cmd` (sh -c) in `node` exits 0.
    Command { node: String, cmd: String },
    /// Every service of `node` (or just `service`) that has a readiness condition is ready.
    Ready {
        node: String,
        service: Option<String>,
    },
    /// An OpenFlow switch has a controller connection (`connected`), or has none.
    OpenflowConnected { node: String, connected: bool },
    /// An OpenFlow controller has at least `at_least` switches connected.
    OpenflowSwitches { node: String, at_least: u32 },
    /// A switch has a flow (in `table`, or any) whose match includes every field of
    /// `fields` (canonical `name=value` text, `flowspec::format_field`); with `present`
    /// false, it has none. `flow` is the text as written (for messages).
    OpenflowFlow {
        node: String,
        flow: String,
        fields: Vec<String>,
        table: Option<u8>,
        present: bool,
    },
    /// A BGP speaker's sessions are established.
    BgpEstablished { node: String, sessions: BgpSessions },
    /// A BGP speaker has a best path to `prefix` (via `via` when given); with `present`
    /// false, it has none (or none via `via`).
    BgpRoute {
        node: String,
        prefix: String,
        via: Option<std::net::IpAddr>,
        present: bool,
    },
}

#[derive(Debug, Clone)]
pub enum Capture {
    /// Start capturing on `node:iface` (or both ends of the link `a`–`b`: the `a` end) into
    /// `<artifacts>/<name>.pcap`.
    Start {
        name: String,
        node: String,
        iface: String,
    },
    Stop {
        name: String,
    },
}

// ---- results -------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    /// An expectation did not hold.
    Failed,
    /// The step could not run (bad reference, timeout, kernel error).
    Error,
    /// Not run because an earlier step failed.
    Skipped,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepResult {
    pub name: String,
    /// "ping", "throughput", … (a JUnit classname suffix).
    pub kind: String,
    pub outcome: Outcome,
    pub seconds: f64,
    /// Why it failed, naming measured and expected values.
    pub message: Option<String>,
    /// Every measured value (the JSON report's payload).
    pub measured: serde_json::Value,
    /// The expectations as written, for the report.
    pub expected: serde_json::Value,
    /// `during:` events, with when they actually happened (seconds from the step's start).
    pub events: Vec<EventResult>,
    /// Steps inside `parallel`/`repeat`.
    pub children: Vec<StepResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventResult {
    pub at_s: f64,
    pub what: String,
    pub ok: bool,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    pub file: String,
    pub lab: String,
    pub seed: Option<u64>,
    pub outcome: Outcome,
    pub seconds: f64,
    /// Setup or teardown problems (the lab did not come up, …).
    pub message: Option<String>,
    pub steps: Vec<StepResult>,
    /// Files kept from the run (captures).
    pub artifacts: Vec<String>,
}
