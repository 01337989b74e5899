//! `topolab node LAB NODE OP [SERVICE]` (fault injection on a node's services) and
//! `topolab logs LAB NODE [SERVICE] [-f] [-n N]` (their log files, read from the run dir).

use crate::cli::labs::{node_dir, read_plan, run_dir, unreachable};
use crate::cli::out::{me, out, outln};
use std::io::{Read, Seek};
use std::time::Duration;

use miette::{IntoDiagnostic, miette};

use topolab::lab::LabName;
use topolab::lab::control::{self, Request, Response};
use topolab::lab::service::{NodeOp, ServiceStatus, tail};

pub async fn node(
    lab: &LabName,
    node: &str,
    op: NodeOp,
    service: Option<String>,
    json: bool,
) -> miette::Result<()> {
    let plan = read_plan(lab)?;
    if plan.node(node).is_none() {
        return Err(miette!(
            help = format!("`{} inspect {lab}` lists the nodes", me()),
            "no node `{node}` in lab `{lab}`"
        ));
    }
    let dir = run_dir(lab);
    let req = Request::Node {
        node: node.to_string(),
        service,
        action: op,
    };
    // A stop waits up to the services' grace periods (≤ 60 s each).
    let resp =
        tokio::task::spawn_blocking(move || control::call(&dir, &req, Duration::from_secs(300)))
            .await
            .into_diagnostic()?
            .map_err(|e| unreachable(lab, e))?;
    match resp {
        Response::Services { services } => {
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&services).into_diagnostic()?
                );
            } else if services.is_empty() {
                outln!("node `{node}` has no services");
            } else {
                for s in &services {
                    print_service(s, false);
                }
            }
            Ok(())
        }
        Response::Error { message } => Err(miette!("{message}")),
        other => Err(miette!("unexpected answer: {other:?}")),
    }
}

/// One service as a line (and its log tail when `tail`).
pub fn print_service(s: &ServiceStatus, with_tail: bool) {
    let mut line = format!("  service {}/{} [{}]", s.node, s.name, s.state.label());
    if let Some(p) = s.pid {
        line.push_str(&format!(" pid {p}"));
    }
    if let Some(u) = s.uptime_s {
        line.push_str(&format!(" up {u:.1}s"));
    }
    if s.restarts > 0 {
        line.push_str(&format!(" restarts {}", s.restarts));
    }
    if let Some(e) = s.exit {
        line.push_str(&format!(" last exit {e}"));
    }
    outln!("{line}: {}", s.what);
    if with_tail {
        for l in &s.log_tail {
            outln!("    | {l}");
        }
    }
}

pub async fn logs(
    lab: &LabName,
    node: &str,
    service: Option<&str>,
    follow: bool,
    lines: usize,
) -> miette::Result<()> {
    let plan = read_plan(lab)?;
    let n = plan.node(node).ok_or_else(|| {
        miette!(
            help = format!("`{} inspect {lab}` lists the nodes", me()),
            "no node `{node}` in lab `{lab}`"
        )
    })?;
    let names: Vec<&str> = match service {
        Some(s) => vec![s],
        None => n.services.iter().map(|s| s.name.as_str()).collect(),
    };
    let dir = node_dir(lab, node)?;
    let mut files = Vec::new();
    for s in &names {
        let path = topolab::lab::service::log_path(&dir, n, s).ok_or_else(|| {
            miette!(
                help = format!("`{} inspect {lab}` lists each node's services", me()),
                "node `{node}` has no service `{s}`"
            )
        })?;
        files.push((s.to_string(), path));
    }
    if files.is_empty() {
        outln!("node `{node}` has no services");
        return Ok(());
    }
    let many = files.len() > 1;
    let mut offsets = Vec::new();
    for (name, path) in &files {
        for l in tail(path, lines) {
            if many {
                outln!("[{name}] {l}");
            } else {
                outln!("{l}");
            }
        }
        offsets.push(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
    }
    if !follow {
        return Ok(());
    }
    // Follow until Ctrl-C or the lab goes (its run directory disappears).
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        if !dir.exists() {
            return Ok(());
        }
        for ((name, path), off) in files.iter().zip(offsets.iter_mut()) {
            let Ok(mut f) = std::fs::File::open(path) else {
                continue;
            };
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            if len < *off {
                *off = 0;
            }
            if len == *off {
                continue;
            }
            let _ = f.seek(std::io::SeekFrom::Start(*off));
            let mut buf = Vec::new();
            let _ = f.take(len - *off).read_to_end(&mut buf);
            *off = len;
            let text = String::from_utf8_lossy(&buf);
            for l in text.split_inclusive('\n') {
                if many {
                    out!("[{name}] {l}");
                } else {
                    out!("{l}");
                }
            }
        }
    }
}
