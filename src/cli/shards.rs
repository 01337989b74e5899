//! `topolab up FILE --shards N`: the coordinator of a lab split across shards.
//!
//! Compiles and splits the lab, brings it up through the launcher
//! ([`topolab::lab::coordinator`]), prints each shard as it becomes ready, then serves the
//! lab's control socket until `down`, Ctrl-C or SIGTERM — the same life as a lab on one
//! machine (`-d` detaches it the same way, through the hidden `supervise` command).

use crate::cli::out::{errln, out, outln};
use std::io::Write as _;
use std::os::fd::AsFd;
use std::sync::Arc;

use miette::{WrapErr, miette};

use topolab::lab::coordinator::{self, Coordinator, CoordinatorOptions, Launcher};
use topolab::lab::{RUN_BASE, supervisor};
use topolab::topology::Topology;

use super::up::{READY, UpArgs, interrupt_flag, redirect_output};

/// Brings the split lab up and supervises it; `detached`: this is the background
/// supervisor of `up -d` (its stdout is the pipe to the waiting `up`).
pub async fn up(args: UpArgs, topology: Topology, detached: bool) -> miette::Result<()> {
    let cancel = interrupt_flag()?;
    let name = args
        .name
        .as_ref()
        .map(|n| n.to_string())
        .unwrap_or_else(|| topology.name.clone());
    if args.machines.is_some() {
        return Err(miette!(
            help = "the local launcher makes its machines itself, the slurm launcher takes \
                    them from the allocation; drop --machines",
            "--machines is for `topolab plan`; `up` finds its machines through its launcher"
        ));
    }
    let (n, launcher, machines) = match args.launcher.as_str() {
        "local" => {
            let n = args.shards.unwrap_or(1);
            (n, Launcher::Local, coordinator::local_machines(n))
        }
        "slurm" => {
            let alloc = topolab::lab::slurm::Allocation::from_env().map_err(|e| miette!("{e}"))?;
            let n = args.shards.unwrap_or(alloc.nodes.len());
            alloc.check(n).map_err(|e| miette!("{e}"))?;
            let one_host = alloc.one_host(n);
            let machines = if one_host {
                // Several slurmd of one host: machine namespaces there, named after the nodes.
                let mut m = coordinator::local_machines(n);
                for (m, node) in m.iter_mut().zip(&alloc.nodes) {
                    m.name = node.name.clone();
                }
                m
            } else {
                alloc.nodes[..n]
                    .iter()
                    .map(|node| topolab::compile::shard::Machine {
                        name: node.name.clone(),
                        underlay: node.addr,
                        mtu: topolab::compile::machines::DEFAULT_MTU,
                        weight: 1,
                    })
                    .collect()
            };
            errln!(
                "slurm job {}: {n} shard(s) on {}{}",
                alloc.job_id,
                alloc.nodes[..n]
                    .iter()
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if one_host {
                    " (one host: machine namespaces)"
                } else {
                    ""
                }
            );
            (n, Launcher::Slurm { one_host }, machines)
        }
        other => return Err(miette!("unknown launcher `{other}`")),
    };
    if n > coordinator::MAX_LOCAL_SHARDS {
        return Err(miette!(
            "the local launcher runs at most {} shards",
            coordinator::MAX_LOCAL_SHARDS
        ));
    }
    let sharded = topolab::compile::shard::plan_shards(&topology, &name, &machines)?;
    let opts = CoordinatorOptions {
        launcher,
        run_base: RUN_BASE.into(),
        exe: None,
        ready_timeout: args.ready_timeout,
        progress: Some(Arc::new(|_k, ready, total, nodes| {
            errln!("shard {ready}/{total} ready ({nodes} nodes)");
        })),
        cancel: Some(cancel.clone()),
    };
    let source = topology.source.name.clone();
    let started = std::time::Instant::now();
    let coord = tokio::task::spawn_blocking(move || Coordinator::up(sharded, &source, &opts))
        .await
        .map_err(|e| miette!("{e}"))?
        .wrap_err_with(|| format!("bringing up lab `{name}` on {n} shards"))?;
    let nodes = coord.plan().user_nodes().count();
    let summary = format!(
        "lab `{name}` up: {nodes} nodes on {n} shards ({} launcher) in {:.2} s\n",
        launcher.label(),
        started.elapsed().as_secs_f64()
    );
    if detached {
        let relay = std::io::stdout().as_fd().try_clone_to_owned().ok();
        redirect_output(&supervisor::Served::run_dir(&coord).join("supervisor.log"));
        supervisor::serve_then(coord, Some(cancel), move || {
            if let Some(relay) = relay {
                let _ =
                    std::fs::File::from(relay).write_all(format!("{summary}{READY}\n").as_bytes());
            }
        })
        .await?;
        return Ok(());
    }
    supervisor::serve_then(coord, Some(cancel), move || {
        out!("{summary}");
        outln!("Press Ctrl-C to tear the lab down.");
    })
    .await?;
    outln!("lab `{name}` is down");
    Ok(())
}
