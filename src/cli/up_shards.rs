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
    let n = args.shards.unwrap_or(1);
    if args.machines.is_some() {
        return Err(miette!(
            help = "the local launcher makes its machines itself; drop --machines",
            "--machines is for launchers that run agents on other machines"
        ));
    }
    let launcher = match args.launcher.as_str() {
        "local" => Launcher::Local,
        other => return Err(miette!("unknown launcher `{other}`")),
    };
    if n > coordinator::MAX_LOCAL_SHARDS {
        return Err(miette!(
            "the local launcher runs at most {} shards",
            coordinator::MAX_LOCAL_SHARDS
        ));
    }
    let machines = coordinator::local_machines(n);
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
