//! Built-in daemons: `topolab daemon KIND …` runs one inside a node's namespace.
//!
//! ```text
//!  supervisor ──journaled spawn (setns in pre_exec, own process group)──▶ topolab daemon echo
//!      ▲                                                                   │  core (no I/O)
//!      └── <run dir>/daemons/<node>.<service>.sock (0600, JSON lines) ◀────┘  tokio driver
//! ```
//! A daemon is a process, not a task in the supervisor: its sockets simply live in its
//! node's namespace, a crash stays inside one node, and `kill -9` of it is a real fault.
//! Each one runs a current-thread tokio runtime (no worker threads: an idle daemon costs
//! little beyond the binary's shared text) and answers on a private control socket:
//! `{"op":"status"}` → its kind, readiness, PID and counters; `{"op":"ping"}` → `pong`;
//! `{"op":"openflow","view":"flows"}` → an OpenFlow daemon's own view (`ofswitch`: flows,
//! ports, tables, groups, meters);
//! `{"op":"openflow_flow","command":"add","flow":"ip,nw_dst=10.0.0.2,actions=output:2"}` →
//! an `ofswitch` applies the flow (ovs-ofctl syntax) as a controller's FLOW_MOD would be.
//! The socket speaks the control socket's protocol (one JSON line each way), with a line
//! limit and a read timeout so that no client can hold a daemon up.

pub mod bgp;
pub mod bgp_fib;
pub mod bgp_sock;
pub mod controller;
pub mod echo;
pub mod ofswitch;

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

/// The built-in daemon kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DaemonKind {
    /// TCP and UDP echo (RFC 862): a scenario target and the proof of the daemon path.
    Echo,
    /// An OpenFlow 1.3 switch (`ofswitch` nodes; `--config` is its compiled config).
    #[serde(rename = "ofswitch")]
    #[value(name = "ofswitch")]
    OfSwitch,
    /// An OpenFlow controller (`controller` nodes; `--config` is its compiled config).
    Controller,
    /// A BGP-4 speaker (nodes with `bgp:`; `--config` is its compiled config).
    Bgp,
}

impl DaemonKind {
    pub fn name(self) -> &'static str {
        match self {
            DaemonKind::Echo => "echo",
            DaemonKind::OfSwitch => "ofswitch",
            DaemonKind::Controller => "controller",
            DaemonKind::Bgp => "bgp",
        }
    }

    /// Users may write it in `run: {daemon: …}` (the OpenFlow ones come with their node
    /// kind, with a compiled config).
    pub fn user_writable(self) -> bool {
        match self {
            DaemonKind::Echo => true,
            DaemonKind::OfSwitch | DaemonKind::Controller | DaemonKind::Bgp => false,
        }
    }
}

/// A request on a daemon's control socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Ping,
    Status,
    /// An OpenFlow daemon's own view: `flows`, `ports`, `tables`, `groups`, `meters` (switch).
    Openflow {
        view: String,
    },
    /// Add, modify or delete flows on an OpenFlow switch; `flow` in ovs-ofctl syntax
    /// ([`crate::openflow::flowspec`]).
    OpenflowFlow {
        command: FlowOp,
        flow: String,
    },
    /// A BGP speaker's view: `summary`, `neighbors` (one with `peer`), `routes` (the
    /// Loc-RIB; one prefix's paths with `prefix`), `best` (the best path to `prefix`),
    /// `adj-in` and `adj-out` (of `peer`). A peer is named by name or address.
    Bgp {
        view: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
    /// Originate or withdraw routes on a BGP speaker.
    BgpChange(BgpChange),
    /// Send ROUTE-REFRESH to a peer (by name or address).
    BgpRefresh {
        peer: String,
    },
    /// The speaker's Loc-RIB as an MRT TABLE_DUMP_V2 file (RFC 6396), base64 in the answer:
    /// the caller writes the file (no path crosses the socket).
    BgpDump,
    /// Originate `count` synthetic routes ([`crate::bgp::inject::synthetic`]: the speaker's
    /// AS as origin AS, deterministic from `seed`; IPv4 unless `family` says `ipv6`), as
    /// `topolab bench bgp` does on its senders. At most [`MAX_INJECT`].
    BgpInject {
        count: usize,
        seed: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        family: Option<crate::bgp::config::Afi>,
    },
}

/// The most routes one `bgp_inject` request may originate.
pub const MAX_INJECT: usize = 10_000_000;

/// Routes to originate (`announce`, with the optional attributes) and to withdraw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BgpChange {
    #[serde(default)]
    pub announce: Vec<String>,
    #[serde(default)]
    pub withdraw: Vec<String>,
    /// RFC 1997 communities: `65000:100` or a well-known name (`no-export` …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
    /// RFC 8092: `65000:1:2`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub large_communities: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    /// AS_PATH (a sequence) the routes start with, before ours is prepended on export.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub as_path: Vec<u32>,
}

/// What an `openflow_flow` request does (ovs-ofctl's add-flow, mod-flows [--strict],
/// del-flows [--strict]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowOp {
    Add,
    Modify,
    ModifyStrict,
    Delete,
    DeleteStrict,
}

impl FlowOp {
    pub fn command(self) -> crate::openflow::flowspec::FlowCommand {
        use crate::openflow::flowspec::FlowCommand as C;
        match self {
            FlowOp::Add => C::Add,
            FlowOp::Modify => C::Modify,
            FlowOp::ModifyStrict => C::ModifyStrict,
            FlowOp::Delete => C::Delete,
            FlowOp::DeleteStrict => C::DeleteStrict,
        }
    }
}

/// A daemon's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Response {
    Pong,
    Status(Status),
    Openflow {
        view: String,
        data: serde_json::Value,
    },
    Bgp {
        view: String,
        data: serde_json::Value,
    },
    Error {
        message: String,
    },
}

/// What a daemon says about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Status {
    pub kind: DaemonKind,
    pub pid: u32,
    /// Built-in readiness: the daemon serves what it is for.
    pub ready: bool,
    /// Kind-specific figures (counters, sessions …).
    pub detail: serde_json::Value,
}

/// The longest request line a daemon reads.
pub const MAX_LINE: usize = 64 * 1024;
/// How long a daemon waits for a client's request line.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Something that can describe itself on the control socket.
pub trait Describe: Send + Sync + 'static {
    fn status(&self) -> Status;
    /// An OpenFlow view (`None`: this daemon has no such view).
    fn openflow(&self, _view: &str) -> Option<serde_json::Value> {
        None
    }
    /// Applies a flow edit (`Err`: why not, as text — a syntax error or the OpenFlow
    /// error a controller would have been sent).
    fn openflow_flow(&self, _command: FlowOp, _flow: &str) -> Result<serde_json::Value, String> {
        Err("not an OpenFlow switch".to_string())
    }
    /// A BGP view (`Err`: why not — no such view, peer or prefix).
    fn bgp(
        &self,
        _view: &str,
        _peer: Option<&str>,
        _prefix: Option<&str>,
    ) -> Result<serde_json::Value, String> {
        Err("not a BGP speaker".to_string())
    }
    /// Originates or withdraws routes.
    fn bgp_change(&self, _change: &BgpChange) -> Result<serde_json::Value, String> {
        Err("not a BGP speaker".to_string())
    }
    /// Sends ROUTE-REFRESH to a peer.
    fn bgp_refresh(&self, _peer: &str) -> Result<serde_json::Value, String> {
        Err("not a BGP speaker".to_string())
    }
    /// The Loc-RIB as MRT (`{"mrt_base64": …, "bytes": n, "entries": n}`).
    fn bgp_dump(&self) -> Result<serde_json::Value, String> {
        Err("not a BGP speaker".to_string())
    }
    /// Originates synthetic routes (`{"announced": n}`).
    fn bgp_inject(
        &self,
        _count: usize,
        _seed: u64,
        _family: Option<crate::bgp::config::Afi>,
    ) -> Result<serde_json::Value, String> {
        Err("not a BGP speaker".to_string())
    }
}

/// Serves `path` (created 0600; an old socket file there is replaced) until the runtime
/// ends. Each connection is its own task: a slow or idle client holds up nobody.
pub async fn serve_control(path: &Path, me: Arc<dyn Describe>) -> io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    loop {
        let (stream, _) = listener.accept().await?;
        let me = me.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut line = Vec::new();
            let mut reader = BufReader::new(r.take(MAX_LINE as u64 + 1));
            let read = tokio::time::timeout(READ_TIMEOUT, reader.read_until(b'\n', &mut line));
            let resp = match read.await {
                Ok(Ok(n)) if n > MAX_LINE => Response::Error {
                    message: format!("request longer than {MAX_LINE} bytes"),
                },
                Ok(Ok(n)) if n > 0 => match serde_json::from_slice::<Request>(&line) {
                    Ok(Request::Ping) => Response::Pong,
                    Ok(Request::Status) => Response::Status(me.status()),
                    Ok(Request::Openflow { view }) => match me.openflow(&view) {
                        Some(data) => Response::Openflow { view, data },
                        None => Response::Error {
                            message: format!("no OpenFlow view `{view}` here"),
                        },
                    },
                    Ok(Request::OpenflowFlow { command, flow }) => {
                        match me.openflow_flow(command, &flow) {
                            Ok(data) => Response::Openflow {
                                view: "openflow_flow".to_string(),
                                data,
                            },
                            Err(message) => Response::Error { message },
                        }
                    }
                    Ok(Request::Bgp { view, peer, prefix }) => bgp_answer(
                        view.clone(),
                        me.bgp(&view, peer.as_deref(), prefix.as_deref()),
                    ),
                    Ok(Request::BgpChange(c)) => bgp_answer("change".into(), me.bgp_change(&c)),
                    Ok(Request::BgpRefresh { peer }) => {
                        bgp_answer("refresh".into(), me.bgp_refresh(&peer))
                    }
                    Ok(Request::BgpDump) => bgp_answer("dump".into(), me.bgp_dump()),
                    Ok(Request::BgpInject {
                        count,
                        seed,
                        family,
                    }) => bgp_answer("inject".into(), me.bgp_inject(count, seed, family)),
                    Err(e) => Response::Error {
                        message: format!("bad request: {e}"),
                    },
                },
                _ => return,
            };
            let mut out = serde_json::to_vec(&resp).unwrap_or_default();
            out.push(b'\n');
            let _ = w.write_all(&out).await;
        });
    }
}

fn bgp_answer(view: String, r: Result<serde_json::Value, String>) -> Response {
    match r {
        Ok(data) => Response::Bgp { view, data },
        Err(message) => Response::Error { message },
    }
}

/// The longest answer [`call`] reads.
pub const MAX_ANSWER: u64 = 16 << 20;

/// Asks a daemon (blocking; for the supervisor's threads and the CLI).
pub fn call(path: &Path, req: &Request, timeout: Duration) -> io::Result<Response> {
    call_limit(path, req, timeout, MAX_ANSWER)
}

/// [`call`] with another answer limit (a full BGP table, an MRT dump).
pub fn call_limit(path: &Path, req: &Request, timeout: Duration, max: u64) -> io::Result<Response> {
    use std::io::{BufRead, Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(path)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut line = serde_json::to_vec(req).map_err(io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)?;
    let mut resp = String::new();
    std::io::BufReader::new(s.take(max)).read_line(&mut resp)?;
    serde_json::from_str(&resp).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Arguments every daemon takes.
#[derive(Debug, Clone, clap::Args)]
pub struct DaemonArgs {
    /// The daemon's control socket (the supervisor chooses it, in the lab's run directory).
    #[arg(long)]
    pub control: PathBuf,
    /// TCP and UDP port (echo); the passive OpenFlow port (ofswitch); the listening port
    /// (controller).
    #[arg(long, default_value_t = 7)]
    pub port: u16,
    /// The compiled config, a JSON file the supervisor writes in the lab's run directory
    /// (ofswitch, controller).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Reads a daemon's `--config` JSON file.
pub fn read_config<T: serde::de::DeserializeOwned>(args: &DaemonArgs) -> io::Result<T> {
    let path = args.config.as_ref().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "this daemon needs --config PATH",
        )
    })?;
    let text = std::fs::read(path)?;
    serde_json::from_slice(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Runs daemon `kind` until it is killed (SIGTERM ends it cleanly).
pub fn run(kind: DaemonKind, args: DaemonArgs) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let control = args.control.clone();
    rt.block_on(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let work = async {
            match kind {
                DaemonKind::Echo => echo::run(&args).await,
                DaemonKind::OfSwitch => ofswitch::run(&args).await,
                DaemonKind::Controller => controller::run(&args).await,
                DaemonKind::Bgp => bgp::run(&args).await,
            }
        };
        tokio::select! {
            r = work => r,
            _ = term.recv() => Ok(()),
        }
    })?;
    let _ = std::fs::remove_file(&control);
    Ok(())
}
