//! The control socket protocol: one JSON request line, one JSON response line, over
//! `/run/topolab/<lab>/control.sock` (mode 0600, in a 0700 directory).

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::inspect::LabStatus;
use super::links::{LinkAction, LinkStatus};
use super::service::{NodeOp, ServiceStatus};

pub const SOCKET: &str = "control.sock";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Ping,
    Inspect,
    /// Every link's status and every service's state (no log tails, no kernel walk): what
    /// the web view asks each second.
    Live,
    Down,
    /// Link `a`–`b` (`node` or `node:iface`): down, up, or new parameters.
    Link {
        a: String,
        b: String,
        action: LinkAction,
    },
    /// A node's services (all, or `service`): stop, start, restart, kill, pause, resume,
    /// status.
    Node {
        node: String,
        #[serde(default)]
        service: Option<String>,
        action: NodeOp,
    },
    /// Wait until the services of `node` (or `service`) are ready; every service if
    /// `node` is absent.
    WaitReady {
        #[serde(default)]
        node: Option<String>,
        #[serde(default)]
        service: Option<String>,
        timeout_ms: u64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Response {
    Pong {
        name: String,
        pid: u32,
    },
    Status {
        status: Box<LabStatus>,
    },
    Link {
        status: Box<LinkStatus>,
    },
    Services {
        services: Vec<ServiceStatus>,
    },
    Live {
        links: Vec<LinkStatus>,
        services: Vec<ServiceStatus>,
    },
    Done,
    Error {
        message: String,
    },
}

pub fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join(SOCKET)
}

/// Sends one request to a lab's supervisor and waits (up to `timeout`) for the answer.
pub fn call(run_dir: &Path, req: &Request, timeout: Duration) -> io::Result<Response> {
    call_socket(&socket_path(run_dir), req, timeout)
}

/// [`call`] on the control socket at `socket` (the file itself, not its directory).
pub fn call_socket(socket: &Path, req: &Request, timeout: Duration) -> io::Result<Response> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut line = serde_json::to_vec(req).map_err(io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)?;
    let mut resp = String::new();
    BufReader::new(s).read_line(&mut resp)?;
    if resp.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the supervisor closed the connection",
        ));
    }
    serde_json::from_str(&resp).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
