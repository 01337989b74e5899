//! Node services and per-node settings as checked: what `run:`, `cpu:`, `memory:`,
//! `routes:`, `private_dirs:`, `files:` and `mgmt:` mean once `check` has accepted them.
//!
//! These types are plain data shared with the Plan (compile re-exports them as
//! `ServicePlan`, `FilePlan`, …): the runtime that spawns services reads them as they are.
//!
//! Rules `check` guarantees:
//! - service names are 1–32 bytes of `[A-Za-z0-9_-]` and unique per node (they become file
//!   names: `logs/<node>.<service>.log`, `daemons/<node>.<service>.sock`). A short-form
//!   `run:` entry is named after its program's basename, sanitized to that alphabet
//!   (`/usr/bin/iperf3 -s` → `iperf3`), deduplicated with `-2`, `-3`, …;
//! - a service is a shell command or a built-in daemon, never both; `port` only with a
//!   daemon; a daemon's readiness defaults to [`Readiness::Builtin`];
//! - `grace` is at most [`MAX_GRACE`]; a `log:` readiness regex compiles;
//! - private dirs are absolute, without `..`, not `/` and not under the kernel's or
//!   topolab's own trees; every `files:` target lies inside one of the node's private dirs.

use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::Span;
use crate::daemon::DaemonKind;

/// Longest stop grace period: 60 s.
pub const MAX_GRACE: Duration = Duration::from_secs(60);
/// Default stop grace period: 2 s.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);
/// Longest service name (it becomes part of file names).
pub const MAX_SERVICE_NAME: usize = 32;

/// One supervised process of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub what: ServiceWhat,
    /// When the service counts as ready; `None`: as soon as it is started.
    pub ready: Option<Readiness>,
    pub restart: RestartPolicy,
    pub stop_signal: StopSignal,
    /// SIGKILL after this long if the stop signal did not end it (serialized in ms).
    #[serde(with = "millis")]
    pub grace: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceWhat {
    /// A shell command, run as `sh -c CMD` inside the node.
    Command { cmd: String },
    /// A built-in daemon (`topolab daemon KIND`), listening on `port`.
    Daemon { kind: DaemonKind, port: u16 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// Something listens on this TCP port inside the node.
    TcpPort(u16),
    /// Something has bound this UDP port inside the node.
    UdpPort(u16),
    /// This shell command exits 0 inside the node.
    Command(String),
    /// This file exists (seen from inside the node).
    File(PathBuf),
    /// A line of the service's output matches this regex.
    Log(String),
    /// A built-in daemon's own readiness (its control socket says so).
    Builtin,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    Never,
    OnFailure,
    Always,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum StopSignal {
    #[default]
    Term,
    Int,
    Hup,
    Kill,
    Quit,
    Usr1,
    Usr2,
}

impl StopSignal {
    /// The signal's number on this platform.
    pub fn number(self) -> i32 {
        match self {
            StopSignal::Term => libc::SIGTERM,
            StopSignal::Int => libc::SIGINT,
            StopSignal::Hup => libc::SIGHUP,
            StopSignal::Kill => libc::SIGKILL,
            StopSignal::Quit => libc::SIGQUIT,
            StopSignal::Usr1 => libc::SIGUSR1,
            StopSignal::Usr2 => libc::SIGUSR2,
        }
    }
}

/// Which routes compile gives a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoutesMode {
    /// Compiled static routes to every prefix (routers) or a default route (hosts).
    #[default]
    Static,
    /// Connected networks only: a routing daemon on the node does the rest.
    Connected,
}

/// Per-node resource limits (a cgroup each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeLimits {
    /// Share of one core (0.5 = half a core).
    pub cpu: Option<f64>,
    /// Bytes.
    pub memory: Option<u64>,
}

/// A file placed into one of a node's private directories before its services start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFile {
    /// Absolute, inside one of the node's `private_dirs`.
    pub path: PathBuf,
    pub content: String,
    pub mode: u32,
}

/// Default mode of a placed file.
pub const FILE_MODE: u32 = 0o644;

/// The management network as written (`mgmt:`); compile turns it into a `MgmtPlan`.
#[derive(Debug, Clone, Serialize)]
pub struct Mgmt {
    pub ipv4: Option<IpNet>,
    pub ipv6: Option<IpNet>,
    /// A veth into the root namespace, so tools on the machine reach the nodes.
    pub host: bool,
    pub span: Span,
}

/// Durations as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// The name of a short-form `run:` command: its program's basename, reduced to
/// `[A-Za-z0-9_-]` and at most [`MAX_SERVICE_NAME`] bytes (`cmd` when nothing is left).
pub fn short_name(cmd: &str) -> String {
    let program = cmd.split_whitespace().next().unwrap_or("");
    let base = program.rsplit('/').next().unwrap_or("");
    let mut name: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(MAX_SERVICE_NAME - 4)
        .collect();
    if name.is_empty() {
        name = "cmd".into();
    }
    name
}

/// `base`, or `base-2`, `base-3`, … whichever `taken` does not hold yet.
pub fn dedup_name(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_string();
    }
    (2..)
        .map(|k| format!("{base}-{k}"))
        .find(|n| !taken.iter().any(|t| t == n))
        .expect("some suffix is free")
}

/// A service name: 1–32 bytes of `[A-Za-z0-9_-]`.
pub fn check_service_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_SERVICE_NAME {
        return Err(format!(
            "service name `{name}` must be 1 to {MAX_SERVICE_NAME} bytes long"
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        Some(c) => Err(format!("service name `{name}` contains `{c}`")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_program_basenames_in_the_name_alphabet() {
        assert_eq!(short_name("iperf3 -s"), "iperf3");
        assert_eq!(short_name("/usr/sbin/bird -f"), "bird");
        assert_eq!(short_name("  sh -c 'x'"), "sh");
        assert_eq!(short_name("python3.12 -m http.server"), "python312");
        assert_eq!(short_name("../../etc/passwd"), "passwd");
        assert_eq!(short_name("$(rm -rf /)"), "rm");
        assert_eq!(short_name("..."), "cmd");
        assert_eq!(short_name(&"x".repeat(100)).len(), MAX_SERVICE_NAME - 4);
        for n in ["iperf3", "cmd", "python312"] {
            check_service_name(n).unwrap();
        }
    }

    #[test]
    fn duplicate_names_get_numbered() {
        let taken = vec!["sh".to_string(), "sh-2".to_string()];
        assert_eq!(dedup_name("sh", &taken), "sh-3");
        assert_eq!(dedup_name("iperf3", &taken), "iperf3");
    }

    #[test]
    fn service_names_refuse_paths_and_empties() {
        assert!(check_service_name("").is_err());
        assert!(check_service_name("a/b").is_err());
        assert!(check_service_name("..").is_err());
        assert!(check_service_name(&"a".repeat(33)).is_err());
        check_service_name("bgp-d_1").unwrap();
    }

    #[test]
    fn stop_signals_serialize_by_name() {
        assert_eq!(
            serde_json::to_string(&StopSignal::Usr1).unwrap(),
            "\"USR1\""
        );
        assert_eq!(StopSignal::Kill.number(), 9);
        assert_eq!(
            serde_json::to_string(&RestartPolicy::OnFailure).unwrap(),
            "\"on-failure\""
        );
    }
}
