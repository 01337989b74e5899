//! The `Lab` custom resource (`topolab.io/v1alpha1`, namespaced): a topology to run as one
//! lab split over `shards` pods, and what the operator reports back.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Default MTU of the pod network the cross-shard VXLAN links ride on. A lab link needs
/// an underlay MTU of its own MTU + 50 (`compile::shard::VXLAN_OVERHEAD`): with 1500 here,
/// cross-shard links need `mtu: 1450` or less in the topology.
pub const DEFAULT_UNDERLAY_MTU: u32 = 1500;

/// Most shards one Lab may ask for (one privileged pod each).
pub const MAX_SHARDS: u32 = 256;

/// A network lab run across `shards` pods.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "topolab.io",
    version = "v1alpha1",
    kind = "Lab",
    namespaced,
    status = "LabStatus",
    shortname = "tlab",
    derive = "PartialEq",
    printcolumn(name = "Shards", type_ = "integer", json_path = ".spec.shards"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct LabSpec {
    /// The topology file's text (YAML, as `topolab validate` reads it).
    pub topology: String,
    /// How many pods (machines) the lab is split over.
    #[schemars(range(min = 1, max = 256))]
    pub shards: u32,
    /// The container image holding the `topolab` binary (on PATH).
    pub image: String,
    /// CPU and memory of each shard pod (requests = limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ShardResources>,
    /// TCP port of each agent's control channel (default: the planner's, derived from
    /// the lab's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub control_port: Option<u16>,
    /// MTU of the pod network (cross-shard links need their MTU + 50).
    #[serde(default = "default_underlay_mtu")]
    #[schemars(range(min = 576, max = 65535))]
    pub underlay_mtu: u32,
}

fn default_underlay_mtu() -> u32 {
    DEFAULT_UNDERLAY_MTU
}

/// Per-shard pod resources, as Kubernetes quantities (`"2"`, `"500m"`, `"1Gi"`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShardResources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// Where a Lab is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Accepted; shard pods are being created or scheduled (not every pod has an IP).
    Pending,
    /// Every pod has an IP and the peers are published; not every agent is ready.
    Starting,
    /// Every shard's agent is ready.
    Running,
    /// The topology does not compile, a pod failed, or the spec changed under a running lab.
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Starting => "Starting",
            Phase::Running => "Running",
            Phase::Failed => "Failed",
        }
    }
}

/// What the operator saw, written back on every change.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Why the lab failed, or what it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// One per shard, shard `k` at index `k`.
    #[serde(default)]
    pub shards: Vec<ShardStatus>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (every agent ready) and `Failed`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// One shard pod.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShardStatus {
    pub shard: u32,
    pub pod: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    pub ready: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
