//! `topolab agent`: one shard of a lab split across machines (issue 13).
//!
//! ```text
//!  bundle.json ──parse──▶ ShardedPlan ──shard_subplan(K, peers)──▶ Plan of shard K
//!     ──Lab::up_plan (run dir /run/topolab/<lab>/shard-K, VXLAN ends from the underlay)
//!     ──▶ `{"ready":true,...}` on stdout ──▶ the supervisor (control socket), until
//!         SIGTERM, SIGINT or a Down request ──▶ teardown
//! ```
//! With `--listen ADDR:PORT` the control protocol is also served on TCP to holders of the
//! lab's secret ([`remote::serve`]), the socket made in the underlay namespace.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::Args;
use miette::{IntoDiagnostic, WrapErr, miette};

use topolab::compile::Plan;
use topolab::compile::shard_split::{parse_bundle, parse_peers, shard_subplan};
use topolab::lab::remote::{self, Secret};
use topolab::lab::{Lab, LabName, LabOptions, ShardRun, control, name, supervisor, teardown};

use crate::cli::out::{errln, outln};

#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// The bundle `topolab plan FILE --shards N --out FILE` wrote.
    #[arg(long)]
    pub plan: PathBuf,
    /// Which shard to run (0 to N-1).
    #[arg(long, required_unless_present = "slurm", conflicts_with = "slurm")]
    pub shard: Option<u32>,
    /// Run as a task of the Slurm launcher's `srun` step: the shard is this task's node
    /// (SLURM_NODEID), and without --listen the channel listens on that shard's underlay
    /// address from the bundle.
    #[arg(long)]
    pub slurm: bool,
    /// The namespace (under /run/netns) whose network carries the VXLAN packets and the
    /// control channel (default: this process's). `{shard}` in NAME stands for the shard
    /// index (one `srun` step starts every shard).
    #[arg(long, value_name = "NAME")]
    pub underlay_netns: Option<String>,
    /// Serve the control protocol on this TCP address of the underlay, to holders of the
    /// lab's secret (from --secret-file, or the environment variable TOPOLAB_LAB_SECRET).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// A file holding the lab's secret (64 hex digits).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// A JSON file `{"0": "10.0.0.1", …}`: underlay addresses that override the bundle's.
    #[arg(long, value_name = "FILE")]
    pub peers: Option<PathBuf>,
    /// How long to wait for the shard's services to be ready, in seconds.
    #[arg(long, default_value_t = 60)]
    pub ready_timeout: u64,
}

impl AgentArgs {
    /// The shard index (after [`AgentArgs::resolve`]).
    fn k(&self) -> u32 {
        self.shard.expect("resolved")
    }

    /// Fills in what `--slurm` and `{shard}` leave to run time.
    fn resolve(mut self) -> miette::Result<AgentArgs> {
        if self.slurm {
            let id = std::env::var("SLURM_NODEID")
                .map_err(|_| miette!("--slurm: SLURM_NODEID is not set (run under srun)"))?;
            self.shard = Some(id.trim().parse().map_err(|_| {
                miette!(
                    "--slurm: SLURM_NODEID `{}` is not a number",
                    id.escape_debug()
                )
            })?);
        }
        let k = self.k();
        if let Some(ns) = &self.underlay_netns {
            self.underlay_netns = Some(ns.replace("{shard}", &k.to_string()));
        }
        Ok(self)
    }
}

fn read(path: &Path, what: &str) -> miette::Result<String> {
    topolab::topology::input::read_text_file(path)
        .map_err(|e| miette!("{what} {}: {}", path.display(), e.reason()))
}

/// Shard `shard`'s Plan from the bundle and peers files, with every name checked, and the
/// shard's control address in the bundle (its machine's underlay address and the lab's
/// control port).
pub fn load(args: &AgentArgs) -> miette::Result<(Plan, Option<SocketAddr>)> {
    let bundle = parse_bundle(&read(&args.plan, "bundle")?)
        .map_err(|e| miette!("bundle {}: {e}", args.plan.display()))?;
    let peers: BTreeMap<u32, IpAddr> = match &args.peers {
        Some(p) => parse_peers(&read(p, "peers file")?)
            .map_err(|e| miette!("peers file {}: {e}", p.display()))?,
        None => BTreeMap::new(),
    };
    let plan = shard_subplan(&bundle, args.k(), &peers)
        .map_err(|e| miette!("bundle {}: {e}", args.plan.display()))?;
    check_names(&plan).map_err(|e| miette!("bundle {}: {e}", args.plan.display()))?;
    let control = bundle.shards.machines.get(args.k() as usize).map(|m| {
        let underlay = peers.get(&args.k()).copied().unwrap_or(m.underlay);
        SocketAddr::new(underlay, bundle.shards.control_port)
    });
    Ok((plan, control))
}

/// A bundle is outside input: its lab, node and interface names become namespace and
/// device names only if they pass the same rules as a topology's.
fn check_names(plan: &Plan) -> Result<(), String> {
    let lab = LabName::new(&plan.lab).map_err(|e| format!("lab name: {e}"))?;
    for n in &plan.nodes {
        if n.netns != format!("{lab}-{}", n.name) || !lab.may_own_netns(&n.netns) {
            return Err(format!(
                "node `{}`: bad namespace name",
                n.name.escape_debug()
            ));
        }
        // Node names also name cgroups and private directories; the fabric's starts
        // with `_` (which no user node can), and is checked as a namespace name above.
        if !n.kind.is_internal() {
            topolab::topology::check_node_name(&n.name)
                .map_err(|e| format!("node `{}`: {e}", n.name.escape_debug()))?;
        }
    }
    if let Some(m) = &plan.mgmt
        && !lab.may_own_netns(&m.netns)
    {
        return Err("management network: bad namespace name".into());
    }
    Ok(())
}

fn secret(args: &AgentArgs) -> miette::Result<Secret> {
    match &args.secret_file {
        Some(f) => {
            let text = read(f, "secret file")?;
            Secret::from_hex(text.trim()).map_err(|e| miette!("secret file {}: {e}", f.display()))
        }
        None => Secret::from_env().map_err(|e| miette!("--listen needs the lab's secret: {e}")),
    }
}

pub async fn agent(args: AgentArgs) -> miette::Result<()> {
    let mut args = args.resolve()?;
    let (plan, control) = load(&args)?;
    if args.slurm && args.listen.is_none() {
        args.listen = control;
    }
    let lab = LabName::new(&plan.lab).map_err(|e| miette!("{e}"))?;
    if let Some(ns) = &args.underlay_netns
        && !topolab::netns::exists(ns)
    {
        return Err(miette!(
            "underlay namespace `{}` does not exist",
            ns.escape_debug()
        ));
    }
    let secret = match args.listen {
        Some(_) => Some(secret(&args)?),
        None => None,
    };
    // From here a signal tears down whatever was made.
    let cancel = crate::cli::up::interrupt_flag()?;
    let opts = LabOptions {
        cancel: Some(cancel.clone()),
        ready_timeout: Some(std::time::Duration::from_secs(args.ready_timeout)),
        shard: Some(ShardRun {
            index: args.k(),
            underlay_netns: args.underlay_netns.clone(),
        }),
        ..LabOptions::default()
    };
    let base = opts.run_base.clone();
    let source = format!("{} (shard {})", args.plan.display(), args.k());
    let started = std::time::Instant::now();
    let name = lab.clone();
    let lab = tokio::task::spawn_blocking(move || Lab::up_plan(plan, &source, &opts))
        .await
        .into_diagnostic()?
        .wrap_err_with(|| format!("bringing up shard {} of lab `{name}`", args.k()))?;
    // After the claim: the shard directory is ours (a panic before it must not touch
    // another agent's); a panic that unwinds through `lab` is covered by its Drop.
    install_panic_teardown(&base, name, args.k());
    errln!(
        "lab `{}` shard {} up: {} nodes, {} links ({} across shards) in {:.2} s",
        lab.name(),
        args.k(),
        lab.plan().user_nodes().count(),
        lab.plan().links.len(),
        lab.plan().vxlans.len(),
        started.elapsed().as_secs_f64()
    );
    let socket = control::socket_path(lab.run_dir());
    if let (Some(addr), Some(secret)) = (args.listen, secret) {
        // Fatal: a launcher that asked for the channel must not get an agent without one.
        remote::serve(addr, args.underlay_netns.as_deref(), secret, socket.clone())
            .map_err(|e| miette!("--listen {addr}: {e}"))?;
    }
    let ready = serde_json::json!({
        "ready": true,
        "shard": args.k(),
        "control": socket,
    });
    let name = lab.name().to_string();
    supervisor::serve_then(lab, Some(cancel), move || outln!("{ready}")).await?;
    errln!("lab `{name}` shard {} is down", args.k());
    Ok(())
}

/// A panic anywhere in the agent ends its shard: tear it down from its journal (only this
/// shard's directory), then let the default hook report the panic.
fn install_panic_teardown(base: &Path, lab: LabName, k: u32) {
    let base = base.to_path_buf();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if name::shard_dir(&base, &lab, k).exists() {
            let _ = teardown::teardown_shard_dir(&base, &lab, k);
        }
        default(info);
    }));
}
