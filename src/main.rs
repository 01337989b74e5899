//! The `topolab` command: parses arguments, calls the library, renders results.
//!
//! Commands that replace the process (`exec`, `shell`) run before any thread exists,
//! because joining a namespace's mount view needs a single-threaded process. Everything
//! else runs on one tokio runtime.

mod cli;

use cli::out::errln;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use topolab::lab::LabName;

/// Network labs from YAML: namespaces, veths and bridges, with hosts, routers and switches.
///
/// Start with `topolab up` (a small built-in lab), then `topolab exec quickstart h1 -- ip addr`
/// in another terminal. `topolab <command> --help` explains each command.
#[derive(Parser)]
#[command(name = "topolab", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bring a lab up from a topology file (no FILE: the built-in quickstart lab).
    ///
    /// In the foreground, Ctrl-C tears the lab down. With -d the supervisor detaches and the
    /// lab runs until `topolab down LAB`.
    Up(cli::up::UpArgs),
    /// Tear a lab down (no LAB: the only running lab).
    Down { lab: Option<LabName> },
    /// List labs on this machine, running or orphaned.
    Ls {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a running lab: nodes, interfaces, addresses, routes, processes.
    Inspect {
        lab: LabName,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a command inside a node; its stdin, stdout, stderr and exit status are yours.
    ///
    /// Example: topolab exec quickstart h1 -- ping -c 3 10.0.1.2
    Exec {
        lab: LabName,
        node: String,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// Change a link of a running lab: `down`, `up`, `set KEY=VALUE…`, or `show`.
    ///
    /// Ends are `node` or `node:iface`, in either order. `set` keeps every parameter it does
    /// not name; prefix a key with `a_to_b.` or `b_to_a.` for one direction. Keys: rate,
    /// burst, queue, delay, jitter, distribution, loss, loss_correlation, duplicate,
    /// corrupt, reorder, reorder_gap.
    ///
    /// Example: topolab link demo h1 r1 set delay=20ms loss=1%
    Link {
        lab: LabName,
        a: String,
        b: String,
        /// down | up | show | set KEY=VALUE…
        #[arg(required = true, num_args = 1..)]
        action: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run scenario files: bring each lab up, run its steps, report, tear down.
    ///
    /// Exits 1 if any step failed. `--junit` and `--json` write reports for CI; `--jobs N`
    /// runs N scenarios at once, each in its own lab.
    Test(cli::test::TestArgs),
    /// Measure between two nodes of a running lab with the built-in probes (no iperf or
    /// ping needed): `ping` (ICMP echo), `throughput` (TCP, iperf-like), `udp` (one-way delay, jitter, loss).
    #[command(subcommand)]
    Probe(cli::probe::ProbeCmd),
    /// Open an interactive shell inside a node.
    Shell { lab: LabName, node: String },
    /// Check a topology or scenario file and report every problem with its line and column.
    Validate {
        file: PathBuf,
        #[command(flatten)]
        limits: cli::up::LimitArgs,
    },
    /// Print the Plan of a topology as the equivalent `ip` commands (a dry run), or split
    /// it over machines (`--shards N`, `--machines FILE`).
    ///
    /// A split prints each shard's machine, nodes and weight, and every cross-shard link
    /// with its VXLAN VNI and port; `--out` writes the bundle `topolab agent --plan` reads.
    /// Pins (`placement: {node: shard}` in the topology) win; METIS places the rest,
    /// minimising the cut link weight (rates) within 3 % of the machines' weights.
    ///
    /// Examples:
    ///   topolab plan lab.yaml --shards 3 --out bundle.json
    ///   topolab plan lab.yaml --machines machines.yaml --json
    #[command(verbatim_doc_comment)]
    Plan {
        file: Option<PathBuf>,
        /// Lab name to plan for (default: the topology's name).
        #[arg(long)]
        name: Option<LabName>,
        /// Print the Plan as JSON instead (with a split: the split as JSON).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: cli::up::LimitArgs,
        #[command(flatten)]
        shards: cli::shard_plan::ShardArgs,
    },
    /// Draw a topology as Graphviz dot or Mermaid.
    Graph {
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = cli::files::GraphFormat::Dot)]
        format: cli::files::GraphFormat,
    },
    /// Print the JSON Schema of topology files (for editor completion).
    Schema,
    /// Remove what crashed labs left behind, using their journals only.
    Clean,
    /// Run one shard of a lab split across machines, in the foreground (issue 13).
    ///
    /// Reads the bundle `topolab plan FILE --shards N --out FILE` wrote, brings shard K up
    /// (its nodes, links, services, and a VXLAN device per cross-shard link end), prints
    /// one JSON line `{"ready":true,"shard":K,"control":PATH}`, and supervises it until
    /// SIGTERM, SIGINT or `down`; then tears it down.
    Agent(cli::agent::AgentArgs),
    /// Measure topolab: lab build/teardown speed (`up`), link fidelity (`links`).
    #[command(subcommand)]
    Bench(cli::bench::BenchCmd),
    /// Fault injection on a node's services: stop, start, restart, kill (a crash: the
    /// restart policy decides), pause, resume (freeze/thaw), status.
    ///
    /// Example: topolab node demo r1 kill bird
    Node {
        lab: LabName,
        node: String,
        #[arg(value_enum)]
        op: topolab::lab::service::NodeOp,
        /// One service of the node (default: all of them).
        service: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// An OpenFlow node's own view: a switch's flows, ports, tables, groups or meters; a
    /// controller's switches. Or edit a switch's flows (ovs-ofctl syntax): add-flow,
    /// mod-flows, del-flows.
    ///
    /// Examples:
    ///   topolab openflow demo s1 flows
    ///   topolab openflow demo s1 add-flow 'priority=100,ip,nw_dst=10.0.0.2,actions=output:2'
    ///   topolab openflow demo s1 mod-flows 'ip,nw_dst=10.0.0.2,actions=drop'
    ///   topolab openflow demo s1 del-flows --strict 'priority=100,ip,nw_dst=10.0.0.2'
    ///   topolab openflow demo c0 switches
    #[command(verbatim_doc_comment)]
    Openflow {
        /// The lab (`topolab ls` lists them).
        lab: LabName,
        /// An `ofswitch` or `controller` node of the lab.
        node: String,
        /// A view (flows, ports, tables, groups, meters; switches on a controller) or a
        /// flow edit (add-flow, mod-flows, del-flows: FLOW follows).
        #[arg(value_enum)]
        view: cli::openflow::View,
        /// The flow, for add-flow/mod-flows/del-flows, as ovs-ofctl writes it: match
        /// fields, then `actions=` (adds and modifies). del-flows takes a match only (none:
        /// every flow).
        flow: Option<String>,
        /// mod-flows/del-flows: only the flow with exactly this match and priority.
        #[arg(long)]
        strict: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A node's BGP speaker: sessions, routes, a peer's Adj-RIB-In/Out; announce or
    /// withdraw prefixes, ask a peer for a route refresh, dump the table as MRT.
    ///
    /// Examples:
    ///   topolab bgp demo r1 summary
    ///   topolab bgp demo r1 neighbors r2
    ///   topolab bgp demo r1 routes 10.2.0.0/24 --json
    ///   topolab bgp demo r1 adj-in r2
    ///   topolab bgp demo r1 announce 192.0.2.0/24 --community 65000:100 --med 10
    ///   topolab bgp demo r1 withdraw 192.0.2.0/24
    ///   topolab bgp demo r1 dump --mrt r1.mrt
    #[command(verbatim_doc_comment)]
    Bgp {
        /// The lab (`topolab ls` lists them).
        lab: LabName,
        /// A node of the lab with a `bgp:` key.
        node: String,
        #[command(subcommand)]
        cmd: cli::bgp::BgpCmd,
        /// Print JSON instead of text (GoBGP's shapes).
        #[arg(long, global = true)]
        json: bool,
    },
    /// Show the output of a node's services (from the lab's run directory).
    Logs {
        lab: LabName,
        node: String,
        /// One service (default: every service of the node).
        service: Option<String>,
        /// Keep printing new output until Ctrl-C or the lab goes.
        #[arg(short, long)]
        follow: bool,
        /// Lines of each log to print first.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
    },
    /// A Mininet-style console on a running lab: `pingall`, `h1 ping -c1 h2`, `link s1 s2
    /// down`, `iperf h1 h2`, `bgp r1 summary`… (`help` lists the verbs).
    ///
    /// Ctrl-D or `exit` leaves the console (the lab keeps running; a foreground `up`
    /// tears it down). `--script FILE` runs FILE's lines and exits, as Mininet's does.
    Console(cli::console::ConsoleArgs),
    /// Serve a live view of a running lab in the browser: the graph, per-link counters,
    /// node and service state, BGP sessions and OpenFlow connections.
    ///
    /// Listens on 127.0.0.1:8080 by default; it never listens on every address unless
    /// told to.
    Web(cli::web::WebArgs),
    /// Convert a topology from elsewhere to topolab YAML on stdout: a containerlab file
    /// (`.clab.yml`), a GraphML file (Internet Topology Zoo), or a Mininet topology string.
    ///
    /// Examples:
    ///   topolab import lab.clab.yml > lab.yaml
    ///   topolab import Abilene.graphml --hosts > abilene.yaml
    ///   topolab import --format mininet tree,2,3 > tree.yaml
    #[command(verbatim_doc_comment)]
    Import(cli::import::ImportArgs),
    /// Kubernetes: the manifests of a lab (`manifests`) and the operator that runs Labs
    /// as one privileged pod per shard (`operator`).
    #[command(subcommand)]
    K8s(cli::k8s::K8sCmd),
    /// Internal: one built-in daemon, started by the supervisor inside a node.
    #[command(hide = true)]
    Daemon {
        #[arg(value_enum)]
        kind: topolab::daemon::DaemonKind,
        #[command(flatten)]
        args: topolab::daemon::DaemonArgs,
    },
    /// Internal: the detached supervisor.
    #[command(hide = true)]
    Supervise(cli::up::UpArgs),
}

fn main() -> std::process::ExitCode {
    // clap prints help and usage errors itself; a closed stdout must not panic there either.
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        let _ = e.print();
        std::process::exit(e.exit_code())
    });
    cli::out::set_mode(out_mode(&cli.cmd));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TOPOLAB_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli.cmd) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            errln!("Error: {e:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// What a closed stdout does: commands that hold a lab, or change the machine while they
/// report (`clean`), stop writing and finish their work; the others exit quietly.
fn out_mode(cmd: &Command) -> cli::out::Mode {
    use cli::out::Mode;
    match cmd {
        Command::Up(_)
        | Command::Supervise(_)
        | Command::Test(_)
        | Command::Bench(_)
        | Command::Clean
        | Command::Agent(_)
        | Command::Node { .. }
        | Command::Daemon { .. } => Mode::Continue,
        Command::Down { .. }
        | Command::Ls { .. }
        | Command::Inspect { .. }
        | Command::Exec { .. }
        | Command::Link { .. }
        | Command::Probe(_)
        | Command::Shell { .. }
        | Command::Validate { .. }
        | Command::Plan { .. }
        | Command::Graph { .. }
        | Command::Schema
        | Command::Logs { .. }
        | Command::Openflow { .. }
        | Command::Import(_)
        | Command::K8s(_)
        | Command::Bgp { .. } => Mode::Exit,
        Command::Console(_) | Command::Web(_) => Mode::Continue,
    }
}

fn run(cmd: Command) -> miette::Result<()> {
    match cmd {
        // Process-replacing commands: no threads yet.
        Command::Exec { lab, node, cmd } => cli::labs::exec(&lab, &node, &cmd),
        Command::Shell { lab, node } => cli::labs::shell(&lab, &node),
        Command::Validate { file, limits } => cli::files::validate(&file, limits),
        Command::Plan {
            file,
            name,
            json,
            limits,
            shards,
        } => cli::files::plan(
            file.as_deref(),
            name.map(String::from),
            json,
            limits,
            &shards,
        ),
        Command::Graph { file, format } => cli::files::graph(file.as_deref(), format),
        Command::Schema => cli::files::schema(),
        Command::Import(args) => cli::import::import(args),
        // Its own current-thread runtime: an idle daemon has no worker threads.
        Command::Daemon { kind, args } => topolab::daemon::run(kind, args)
            .map_err(|e| miette::miette!("daemon {}: {e}", kind.name())),
        cmd => runtime()?.block_on(async move {
            match cmd {
                Command::Up(args) => cli::up::up(args).await,
                Command::Supervise(args) => cli::up::supervise(args).await,
                Command::Down { lab } => cli::labs::down(lab).await,
                Command::Ls { json } => cli::labs::ls(json).await,
                Command::Inspect { lab, json } => cli::labs::inspect(&lab, json).await,
                Command::Link {
                    lab,
                    a,
                    b,
                    action,
                    json,
                } => cli::labs::link(&lab, &a, &b, &action, json).await,
                Command::Clean => cli::labs::clean().await,
                Command::Agent(args) => cli::agent::agent(args).await,
                Command::Node {
                    lab,
                    node,
                    op,
                    service,
                    json,
                } => cli::node::node(&lab, &node, op, service, json).await,
                Command::Openflow {
                    lab,
                    node,
                    view,
                    flow,
                    strict,
                    json,
                } => cli::openflow::openflow(&lab, &node, view, flow, strict, json).await,
                Command::Bgp {
                    lab,
                    node,
                    cmd,
                    json,
                } => cli::bgp::bgp(&lab, &node, cmd, json).await,
                Command::Logs {
                    lab,
                    node,
                    service,
                    follow,
                    lines,
                } => cli::node::logs(&lab, &node, service.as_deref(), follow, lines).await,
                Command::Probe(p) => cli::probe::run(p).await,
                Command::Test(t) => cli::test::test(t).await,
                Command::Bench(b) => cli::bench::run(b).await,
                Command::Console(args) => cli::console::console(args).await,
                Command::Web(args) => cli::web::web(args).await,
                Command::K8s(k) => cli::k8s::run(k).await,
                _ => unreachable!("handled above"),
            }
        }),
    }
}

fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the runtime: {e}"))
}
