//! `topolab k8s operator`: a kube-runtime controller that runs each [`Lab`] as shard pods.
//!
//! One reconcile of a Lab, in order (every step reads first and writes only what is
//! missing or different, so reconciling an unchanged state makes no write):
//! 1. compile the topology and split it ([`bundle`]); an error (with the topology's line
//!    and column) makes the Lab `Failed` and nothing else is created;
//! 2. the ConfigMap `<lab>-topolab` with `bundle.json` (created once; a later spec that
//!    compiles to another bundle makes the Lab `Failed`: delete and re-create it);
//! 3. the Secret `<lab>-topolab` with the lab secret (created once, never rewritten);
//! 4. one privileged pod per shard (created only until the peers are published);
//! 5. when every pod has an IP: `peers.json` (shard → pod IP) added to the ConfigMap —
//!    the pods' init containers wait for it, then the agents start;
//! 6. the status (phase, per-shard pod/IP/readiness, conditions), patched when it changed.
//!
//! Everything is owned by the Lab, so deleting the Lab deletes it all: no finalizer.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret as KSecret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::crd::{Lab, LabStatus, MAX_SHARDS, Phase, ShardStatus};
use super::objects::{self, BUNDLE_KEY, LAB_LABEL, PEERS_KEY, SHARD_LABEL};
use super::placement;

/// Largest `bundle.json` the operator stores: a ConfigMap holds at most 1 MiB in all,
/// and `peers.json` joins it later.
pub const MAX_BUNDLE_BYTES: usize = 1000 * 1024;

/// A reconcile that could not finish (the API server refused or failed a request).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("the Lab has no namespace")]
    NoNamespace,
    #[error("cannot make the lab secret: {0}")]
    Secret(String),
}

/// What a reconcile needs besides the Lab: the client, and (replaceable in tests) the
/// source of lab secrets and of the time written into conditions.
pub struct Context {
    pub client: Client,
    pub new_secret: fn() -> Result<String, String>,
    pub now: fn() -> Timestamp,
}

impl Context {
    pub fn new(client: Client) -> Context {
        Context {
            client,
            new_secret: || {
                crate::lab::remote::Secret::generate()
                    .map(|s| s.to_hex())
                    .map_err(|e| e.to_string())
            },
            now: Timestamp::now,
        }
    }
}

/// What a Lab compiles to: `bundle.json`'s text, and the agents' control port.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub text: String,
    pub control_port: u16,
}

/// The `bundle.json` of a Lab: its topology checked, compiled under the Lab's name and
/// split over its shards (`spec.controlPort`, when set, replaces the planner's port). The
/// error is what the status shows (`FILE:LINE:COL: message` for a topology error, FILE
/// being `spec.topology`).
pub fn bundle(lab: &Lab) -> Result<Bundle, String> {
    let name = lab.name_any();
    objects::check_object_name(&name).map_err(|e| format!("Lab name: {e}"))?;
    let spec = &lab.spec;
    if spec.shards == 0 || spec.shards > MAX_SHARDS {
        return Err(format!(
            "spec.shards is {}: from 1 to {MAX_SHARDS}",
            spec.shards
        ));
    }
    let t = crate::topology::Topology::from_str(&spec.topology, "spec.topology")
        .map_err(|e| e.one_line())?;
    let machines = placement::pod_machines(spec.shards, spec.underlay_mtu);
    let mut split = placement::plan_shards(&t, &name, &machines)?;
    if let Some(port) = spec.control_port {
        split.shards.control_port = port;
    }
    let text = serde_json::to_string(&split).map_err(|e| e.to_string())?;
    if text.len() > MAX_BUNDLE_BYTES {
        return Err(format!(
            "the compiled lab is {} bytes; a ConfigMap holds at most {MAX_BUNDLE_BYTES}",
            text.len()
        ));
    }
    Ok(Bundle {
        text,
        control_port: split.shards.control_port,
    })
}

/// The Lab's shard pods among `listed`, by shard: only pods the Lab owns (its uid) with a
/// shard label below `spec.shards`; anything else is ignored.
pub fn shard_pods<'a>(lab: &Lab, listed: &'a [Pod]) -> BTreeMap<u32, &'a Pod> {
    let Some(uid) = lab.uid() else {
        return BTreeMap::new();
    };
    listed
        .iter()
        .filter(|p| p.owner_references().iter().any(|o| o.uid == uid))
        .filter_map(|p| Some((p.labels().get(SHARD_LABEL)?.parse().ok()?, p)))
        .filter(|(k, _)| *k < lab.spec.shards)
        .collect()
}

/// `peers.json`: shard → pod IP, when every shard's pod has one.
pub fn peers(shards: u32, pods: &BTreeMap<u32, &Pod>) -> Option<String> {
    let mut map = BTreeMap::new();
    for k in 0..shards {
        let ip = pod_ip(pods.get(&k)?)?;
        map.insert(k.to_string(), ip);
    }
    serde_json::to_string(&map).ok()
}

/// Reads `peers.json` (the agents' peers file, `{"0": "10.1.2.3", …}`): an IP address
/// for each of shards 0 … `shards - 1`, and nothing else.
pub fn parse_peers(text: &str, shards: u32) -> Result<BTreeMap<u32, IpAddr>, String> {
    let peers = crate::compile::shard_split::parse_peers(text).map_err(|e| e.to_string())?;
    if let Some(k) = peers.keys().find(|&&k| k >= shards) {
        return Err(format!("shard {k}, but the lab has {shards}"));
    }
    match (0..shards).find(|k| !peers.contains_key(k)) {
        Some(k) => Err(format!("no address for shard {k}")),
        None => Ok(peers),
    }
}

/// The pod's IP, if it has one that is an IP address.
fn pod_ip(p: &Pod) -> Option<String> {
    let ip: IpAddr = p.status.as_ref()?.pod_ip.as_deref()?.parse().ok()?;
    Some(ip.to_string())
}

fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Why a pod is no use any more (it failed, or it ended: the agent exited), if it is not.
fn pod_failure(p: &Pod) -> Option<String> {
    let s = p.status.as_ref()?;
    let phase = s.phase.as_deref()?;
    if phase != "Failed" && phase != "Succeeded" {
        return None;
    }
    let mut why = format!("pod {phase}");
    if let Some(m) = s.message.as_deref().or(s.reason.as_deref()) {
        why = format!("{why}: {m}");
    } else if let Some(t) = s
        .container_statuses
        .iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.terminated.as_ref())
    {
        why = format!(
            "{why}: container exited with {}{}",
            t.exit_code,
            t.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    Some(why)
}

/// Why a pod that has not failed is stuck, if the scheduler or a container says so
/// (unschedulable, image pull errors …).
fn pod_waiting(p: &Pod) -> Option<String> {
    let s = p.status.as_ref()?;
    if let Some(c) = s
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False" && c.reason.is_some())
    {
        let reason = c.reason.as_deref().unwrap_or_default();
        return Some(match &c.message {
            Some(m) => format!("{reason}: {m}"),
            None => reason.to_string(),
        });
    }
    s.init_container_statuses
        .iter()
        .flatten()
        .chain(s.container_statuses.iter().flatten())
        .find_map(|c| {
            let w = c.state.as_ref()?.waiting.as_ref()?;
            let reason = w.reason.as_deref()?;
            (reason != "PodInitializing" && reason != "ContainerCreating").then(|| {
                match &w.message {
                    Some(m) => format!("{}: {reason}: {m}", c.name),
                    None => format!("{}: {reason}", c.name),
                }
            })
        })
}

/// The status a Lab should show: `failure` (a compile error or a spec change) wins;
/// then a failed pod; then Pending until every pod has an IP, Starting until peers are
/// published and every agent is ready, Running. Conditions keep their
/// `lastTransitionTime` while their status stays.
pub fn status(
    lab: &Lab,
    failure: Option<String>,
    pods: &BTreeMap<u32, &Pod>,
    peers_published: bool,
    now: Timestamp,
) -> LabStatus {
    let name = lab.name_any();
    let shards: Vec<ShardStatus> = if failure.is_some() {
        Vec::new()
    } else {
        (0..lab.spec.shards)
            .map(|k| {
                let p = pods.get(&k);
                ShardStatus {
                    shard: k,
                    pod: objects::pod_name(&name, k),
                    ip: p.and_then(|p| pod_ip(p)),
                    ready: p.is_some_and(|p| pod_ready(p)),
                    message: match p {
                        None => Some("no pod".into()),
                        Some(p) => pod_failure(p).or_else(|| pod_waiting(p)),
                    },
                }
            })
            .collect()
    };
    let failed_pod = || {
        (0..lab.spec.shards).find_map(|k| {
            let p = pods.get(&k)?;
            pod_failure(p).map(|m| format!("shard {k} (pod {}): {m}", p.name_any()))
        })
    };
    let lost_pod = || {
        peers_published
            .then(|| (0..lab.spec.shards).find(|k| !pods.contains_key(k)))
            .flatten()
            .map(|k| {
                format!(
                    "shard {k}: pod {} is gone after the lab started",
                    objects::pod_name(&name, k)
                )
            })
    };
    let (phase, message) = if let Some(f) = failure.or_else(failed_pod).or_else(lost_pod) {
        (Phase::Failed, Some(f))
    } else if shards.iter().any(|s| s.ip.is_none()) {
        let waiting = shards.iter().filter(|s| s.ip.is_none()).count();
        (
            Phase::Pending,
            Some(format!("{waiting} of {} pods have no IP yet", shards.len())),
        )
    } else if !peers_published || shards.iter().any(|s| !s.ready) {
        let n = shards.iter().filter(|s| !s.ready).count();
        (
            Phase::Starting,
            Some(format!("{n} of {} agents not ready", shards.len())),
        )
    } else {
        (Phase::Running, None)
    };
    let old = lab.status.as_ref();
    let ready = if phase == Phase::Running {
        "True"
    } else {
        "False"
    };
    let since = old
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .filter(|c| c.status == ready)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    LabStatus {
        phase: Some(phase),
        message: message.clone(),
        shards,
        observed_generation: lab.meta().generation,
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: ready.into(),
            reason: phase.as_str().into(),
            message: message.unwrap_or_default(),
            last_transition_time: since,
            observed_generation: lab.meta().generation,
        }],
    }
}

/// One reconcile of `lab` (see the module doc).
pub async fn reconcile(lab: Arc<Lab>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = lab.namespace().ok_or(Error::NoNamespace)?;
    let name = lab.name_any();
    let labs: Api<Lab> = Api::namespaced(ctx.client.clone(), &ns);
    let want = match bundle(&lab) {
        Ok(b) => b,
        Err(why) => {
            let st = status(&lab, Some(why), &BTreeMap::new(), false, (ctx.now)());
            write_status(&labs, &lab, st).await?;
            return Ok(Action::await_change());
        }
    };

    let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ns);
    let cm_name = objects::config_name(&name);
    let cm = match cms.get_opt(&cm_name).await? {
        Some(cm) => cm,
        None => {
            cms.create(
                &PostParams::default(),
                &objects::config_map(&lab, &want.text, None),
            )
            .await?
        }
    };
    let data = cm.data.unwrap_or_default();
    if data.get(BUNDLE_KEY) != Some(&want.text) {
        let why = format!(
            "the spec changed after the lab was created (ConfigMap {cm_name} holds another \
             plan): delete the Lab and create it again"
        );
        let st = status(&lab, Some(why), &BTreeMap::new(), false, (ctx.now)());
        write_status(&labs, &lab, st).await?;
        return Ok(Action::await_change());
    }
    let published = data.contains_key(PEERS_KEY);

    let secrets: Api<KSecret> = Api::namespaced(ctx.client.clone(), &ns);
    if secrets.get_opt(&cm_name).await?.is_none() {
        let hex = match (ctx.new_secret)() {
            Ok(hex) => hex,
            Err(e) => {
                // Said in the status, and tried again (error_policy requeues).
                let why = format!("cannot make the lab secret: {e}");
                let st = status(&lab, Some(why), &BTreeMap::new(), false, (ctx.now)());
                write_status(&labs, &lab, st).await?;
                return Err(Error::Secret(e));
            }
        };
        secrets
            .create(&PostParams::default(), &objects::secret(&lab, &hex))
            .await?;
    }

    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let listed = pods_api
        .list(&ListParams::default().labels(&format!("{LAB_LABEL}={name}")))
        .await?;
    let mut created = Vec::new();
    let mut pods = shard_pods(&lab, &listed.items);
    if !published {
        for k in (0..lab.spec.shards).filter(|k| !pods.contains_key(k)) {
            match pods_api
                .create(
                    &PostParams::default(),
                    &objects::shard_pod(&lab, k, want.control_port),
                )
                .await
            {
                Ok(p) => created.push((k, p)),
                // Refused for good (an admission policy forbids privileged pods, a quota,
                // an invalid field): say so, instead of retrying forever.
                Err(kube::Error::Api(e)) if matches!(e.code, 400 | 403 | 422) => {
                    let why = format!(
                        "cannot create pod {}: {}",
                        objects::pod_name(&name, k),
                        e.message
                    );
                    let st = status(&lab, Some(why), &BTreeMap::new(), false, (ctx.now)());
                    write_status(&labs, &lab, st).await?;
                    return Ok(Action::await_change());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    for (k, p) in &created {
        pods.insert(*k, p);
    }

    let mut published = published;
    if !published && let Some(p) = peers(lab.spec.shards, &pods) {
        let patch = json!({ "data": { PEERS_KEY: p } });
        cms.patch(&cm_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        published = true;
    }

    let st = status(&lab, None, &pods, published, (ctx.now)());
    let settled = matches!(st.phase, Some(Phase::Running | Phase::Failed));
    write_status(&labs, &lab, st).await?;
    Ok(if settled {
        Action::await_change()
    } else {
        Action::requeue(Duration::from_secs(30))
    })
}

/// Patches the status when it differs from the Lab's (a JSON merge patch; keys the new
/// status lacks are set to null so that they go).
async fn write_status(labs: &Api<Lab>, lab: &Lab, st: LabStatus) -> Result<(), Error> {
    if lab.status.as_ref() == Some(&st) {
        return Ok(());
    }
    let mut v = serde_json::to_value(&st).expect("a status serializes");
    if let Some(o) = v.as_object_mut() {
        for k in ["phase", "message", "observedGeneration"] {
            o.entry(k).or_insert(serde_json::Value::Null);
        }
    }
    labs.patch_status(
        &lab.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": v })),
    )
    .await?;
    Ok(())
}

fn error_policy(lab: Arc<Lab>, e: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!("Lab {}: {e}", lab.name_any());
    Action::requeue(Duration::from_secs(5))
}

/// Runs the controller until SIGTERM / SIGINT: every Lab of `namespace` (`None`: all
/// namespaces), woken by changes of the Lab and of its pods.
pub async fn run(client: Client, namespace: Option<&str>) {
    run_with(Arc::new(Context::new(client)), namespace, true).await
}

/// [`run`] with a given context; `on_signal`: stop on SIGTERM / SIGINT (else: when the
/// future is dropped).
pub async fn run_with(ctx: Arc<Context>, namespace: Option<&str>, on_signal: bool) {
    let client = ctx.client.clone();
    let (labs, pods): (Api<Lab>, Api<Pod>) = match namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client, ns),
        ),
        None => (Api::all(client.clone()), Api::all(client)),
    };
    let mut c = Controller::new(labs, watcher::Config::default())
        .owns(pods, watcher::Config::default().labels(LAB_LABEL));
    if on_signal {
        c = c.shutdown_on_signal();
    }
    c.run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            match r {
                Ok((lab, _)) => tracing::info!("reconciled Lab {}", lab.name),
                Err(e) => tracing::warn!("{e}"),
            }
        })
        .await;
}
