//! `topolab k8s …`: Kubernetes manifests for a topology, the operator, and the shard
//! pods' wait for their peers.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Subcommand;
use miette::IntoDiagnostic;
use topolab::k8s::crd::{DEFAULT_UNDERLAY_MTU, LabSpec, ShardResources};
use topolab::k8s::{objects, operator};

use crate::cli::out::outln;

#[derive(Subcommand)]
pub enum K8sCmd {
    /// Print every object to apply for FILE as one JSON `List` (`kubectl apply -f -`):
    /// the Lab CRD, the operator's ServiceAccount, ClusterRole, ClusterRoleBinding and
    /// Deployment, and the Lab. FILE is checked first, as `validate` does.
    Manifests {
        file: PathBuf,
        /// Pods (machines) to split the lab over.
        #[arg(long)]
        shards: u32,
        /// Image with the topolab binary on PATH (operator and shard pods).
        #[arg(long, default_value = concat!("topolab:", env!("CARGO_PKG_VERSION")))]
        image: String,
        /// Namespace of the operator and the Lab.
        #[arg(long, default_value = "default")]
        namespace: String,
        /// The Lab's name (default: the topology's name).
        #[arg(long)]
        name: Option<String>,
        /// TCP port of each agent's control channel (default: the planner's).
        #[arg(long)]
        control_port: Option<u16>,
        /// MTU of the pod network (cross-shard links need their MTU + 50).
        #[arg(long, default_value_t = DEFAULT_UNDERLAY_MTU)]
        underlay_mtu: u32,
        /// CPU of each shard pod (a Kubernetes quantity: `2`, `500m`).
        #[arg(long)]
        cpu: Option<String>,
        /// Memory of each shard pod (a Kubernetes quantity: `1Gi`).
        #[arg(long)]
        memory: Option<String>,
    },
    /// Run the operator: reconcile every Lab (of NAMESPACE, or of all namespaces) until
    /// SIGTERM. Uses the in-cluster service account, or the kubeconfig outside a cluster.
    Operator {
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Internal (shard pods' init container): wait until FILE holds the pod IP of every
    /// one of SHARDS shards, as `{"0": "10.1.2.3", …}`.
    #[command(hide = true)]
    WaitPeers {
        file: PathBuf,
        #[arg(long)]
        shards: u32,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 900)]
        timeout: u64,
    },
}

pub async fn run(cmd: K8sCmd) -> miette::Result<()> {
    match cmd {
        K8sCmd::Manifests {
            file,
            shards,
            image,
            namespace,
            name,
            control_port,
            underlay_mtu,
            cpu,
            memory,
        } => {
            let resources =
                (cpu.is_some() || memory.is_some()).then_some(ShardResources { cpu, memory });
            manifests(
                &file,
                name,
                &namespace,
                LabSpec {
                    topology: String::new(),
                    shards,
                    image: image.clone(),
                    resources,
                    control_port,
                    underlay_mtu,
                },
            )
        }
        K8sCmd::Operator { namespace } => {
            let client = kube::Client::try_default()
                .await
                .map_err(|e| miette::miette!("cannot reach the Kubernetes API: {e}"))?;
            operator::run(client, namespace.as_deref()).await;
            Ok(())
        }
        K8sCmd::WaitPeers {
            file,
            shards,
            timeout,
        } => wait_peers(&file, shards, Duration::from_secs(timeout)).await,
    }
}

fn manifests(
    file: &Path,
    name: Option<String>,
    namespace: &str,
    mut spec: LabSpec,
) -> miette::Result<()> {
    if topolab::topology::import::Format::detect(file).is_some() {
        miette::bail!(
            "{}: convert it to topolab YAML first (`topolab import`): the Lab carries the \
             topology's text",
            file.display()
        );
    }
    let t = topolab::topology::Topology::load(file)?;
    topolab::compile::compile(&t, &t.name)?;
    let name = name.unwrap_or_else(|| t.name.clone());
    objects::check_object_name(&name).map_err(|e| miette::miette!("Lab name: {e}"))?;
    objects::check_object_name(namespace).map_err(|e| miette::miette!("namespace: {e}"))?;
    spec.topology = topolab::topology::Source::read(file)?.text.to_string();
    let image = spec.image.clone();
    let lab = objects::lab(&name, namespace, spec);
    operator::bundle(&lab).map_err(|e| miette::miette!("{}: {e}", file.display()))?;
    let list = objects::manifests(namespace, &image, &lab);
    outln!("{}", serde_json::to_string_pretty(&list).into_diagnostic()?);
    Ok(())
}

/// Polls `file` until it is a JSON object naming an IP address for each of shards 0 …
/// `shards - 1`.
async fn wait_peers(file: &Path, shards: u32, timeout: Duration) -> miette::Result<()> {
    let start = Instant::now();
    loop {
        let last = std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|text| operator::parse_peers(&text, shards));
        match last {
            Ok(_) => return Ok(()),
            Err(why) if start.elapsed() > timeout => miette::bail!(
                "{}: still no peers after {} s: {why}",
                file.display(),
                timeout.as_secs()
            ),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
