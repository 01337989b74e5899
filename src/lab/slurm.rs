//! The Slurm launcher's view of an allocation (issue 13): which nodes the job holds, their
//! underlay addresses, and the one `srun` step that starts an agent on each.
//!
//! `topolab up FILE --launcher slurm` runs inside an allocation (`salloc -N 3 …`): the
//! job's nodes come from `SLURM_JOB_NODELIST`, expanded by `scontrol show hostnames`, and
//! each node's address from its `NodeAddr` (`scontrol show node -o NAME`), resolved. Slurm's
//! tools are run with argument vectors, never through a shell; node names from Slurm are
//! shown and passed as arguments, never made into paths.
//!
//! One machine can hold several of an allocation's nodes (a test cluster of several
//! `slurmd -N NAME` on one host): when two shards' nodes resolve to the same address, the
//! shards cannot share that address's VXLAN port space in one namespace, so the coordinator
//! gives each shard a "machine" namespace of its own on that host, as the local launcher
//! does ([`Allocation::one_host`]).

use std::ffi::OsString;
use std::io;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;
use std::process::Command;

/// A node of the allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmNode {
    /// Slurm's node name (`n1`).
    pub name: String,
    /// Its `NodeAddr`, resolved.
    pub addr: IpAddr,
}

/// The allocation this process runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub job_id: String,
    /// In Slurm's order: task `k` of a one-task-per-node step runs on `nodes[k]`
    /// (`SLURM_NODEID` = k).
    pub nodes: Vec<SlurmNode>,
}

/// Why the allocation could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error(
        "not inside a Slurm allocation (SLURM_JOB_ID is not set): run it as \
         `salloc -N 3 topolab up FILE --launcher slurm`"
    )]
    NoAllocation,
    #[error("`{cmd}` failed: {detail}")]
    Tool { cmd: String, detail: String },
    #[error("Slurm node `{node}`: {detail}")]
    Node { node: String, detail: String },
    #[error("{shards} shards asked for, but the allocation holds {nodes} node(s)")]
    TooFew { shards: usize, nodes: usize },
}

impl Allocation {
    /// Reads the allocation from the environment and `scontrol`.
    pub fn from_env() -> Result<Allocation, SlurmError> {
        let job_id = std::env::var("SLURM_JOB_ID").map_err(|_| SlurmError::NoAllocation)?;
        let list = std::env::var("SLURM_JOB_NODELIST")
            .or_else(|_| std::env::var("SLURM_NODELIST"))
            .map_err(|_| SlurmError::NoAllocation)?;
        let names = parse_hostnames(&scontrol(&["show", "hostnames", &list])?);
        let mut nodes = Vec::with_capacity(names.len());
        for name in names {
            let text = scontrol(&["show", "node", "-o", &name])?;
            let host = node_addr(&text).ok_or_else(|| SlurmError::Node {
                node: name.clone(),
                detail: "scontrol shows no NodeAddr".into(),
            })?;
            let addr = resolve(host).map_err(|detail| SlurmError::Node {
                node: name.clone(),
                detail,
            })?;
            nodes.push(SlurmNode { name, addr });
        }
        Ok(Allocation { job_id, nodes })
    }

    /// Whether every node of the first `n` is the same machine (one address).
    pub fn one_host(&self, n: usize) -> bool {
        let mut it = self.nodes.iter().take(n).map(|x| x.addr);
        match it.next() {
            Some(first) => it.all(|a| a == first),
            None => true,
        }
    }

    /// Checks that the allocation holds `shards` nodes at least.
    pub fn check(&self, shards: usize) -> Result<(), SlurmError> {
        if self.nodes.len() < shards {
            return Err(SlurmError::TooFew {
                shards,
                nodes: self.nodes.len(),
            });
        }
        Ok(())
    }
}

/// The `srun` step that runs `exe agent_args…` once on each of the first `shards` nodes
/// (task k on node k, `SLURM_NODEID` = k), with the caller's environment.
pub fn srun_argv(shards: usize, exe: &Path, agent_args: &[OsString]) -> Vec<OsString> {
    let mut v: Vec<OsString> = [
        "srun".to_string(),
        format!("--nodes={shards}"),
        format!("--ntasks={shards}"),
        "--ntasks-per-node=1".into(),
        "--kill-on-bad-exit=1".into(),
        "--export=ALL".into(),
        // Each task's own stdout line says its shard; Slurm's label is not needed.
        "--unbuffered".into(),
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    v.push(exe.as_os_str().to_owned());
    v.extend(agent_args.iter().cloned());
    v
}

/// Runs `scontrol ARGS…` and returns its stdout.
fn scontrol(args: &[&str]) -> Result<String, SlurmError> {
    let cmd = format!("scontrol {}", args.join(" "));
    let out = Command::new("scontrol")
        .args(args)
        .output()
        .map_err(|e: io::Error| SlurmError::Tool {
            cmd: cmd.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(SlurmError::Tool {
            cmd,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `scontrol show hostnames` output: one name per line.
pub fn parse_hostnames(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// The `NodeAddr=` value of a `scontrol show node -o` line.
pub fn node_addr(text: &str) -> Option<&str> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("NodeAddr="))
        .filter(|a| !a.is_empty() && *a != "(null)")
}

/// An address literal, or the first address a host name resolves to (IPv4 first).
fn resolve(host: &str) -> Result<IpAddr, String> {
    if let Ok(a) = host.parse::<IpAddr>() {
        return Ok(a);
    }
    let addrs: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .map(|s| s.ip())
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("`{host}` resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_and_node_addr_parse() {
        assert_eq!(parse_hostnames("n1\nn2\n\n n3 \n"), ["n1", "n2", "n3"]);
        let line = "NodeName=n1 Arch=x86_64 CoresPerSocket=1 NodeAddr=10.1.2.3 \
                    NodeHostName=c1 Port=16818";
        assert_eq!(node_addr(line), Some("10.1.2.3"));
        assert_eq!(node_addr("NodeName=n1 NodeAddr=(null)"), None);
        assert_eq!(node_addr("NodeName=n1"), None);
    }

    #[test]
    fn one_host_when_every_address_is_the_same() {
        let n = |name: &str, a: &str| SlurmNode {
            name: name.into(),
            addr: a.parse().unwrap(),
        };
        let mut al = Allocation {
            job_id: "7".into(),
            nodes: vec![
                n("n1", "127.0.0.1"),
                n("n2", "127.0.0.1"),
                n("n3", "10.0.0.3"),
            ],
        };
        assert!(al.one_host(2));
        assert!(!al.one_host(3));
        assert!(al.check(3).is_ok());
        assert!(al.check(4).is_err());
        al.nodes.truncate(1);
        assert!(al.one_host(1));
    }

    #[test]
    fn srun_runs_one_task_per_node_with_the_agent_args() {
        let v = srun_argv(
            3,
            Path::new("/usr/bin/topolab"),
            &["agent".into(), "--shard".into(), "slurm".into()],
        );
        let s: Vec<&str> = v.iter().map(|x| x.to_str().unwrap()).collect();
        assert_eq!(s[0], "srun");
        assert!(s.contains(&"--nodes=3") && s.contains(&"--ntasks-per-node=1"));
        assert_eq!(
            &s[s.len() - 4..],
            ["/usr/bin/topolab", "agent", "--shard", "slurm"]
        );
    }

    #[test]
    fn resolve_takes_literals_and_names() {
        assert_eq!(
            resolve("10.0.0.1").unwrap(),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert!(resolve("localhost").unwrap().is_loopback());
    }
}
