//! The Kubernetes objects topolab writes, as pure functions of their inputs (golden-tested):
//! what `topolab k8s manifests` prints and what the operator creates for a [`Lab`].

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::{CustomResourceExt, Resource, ResourceExt};
use serde_json::{Value, json};

use super::crd::{Lab, LabSpec};

/// Label naming the Lab an object belongs to.
pub const LAB_LABEL: &str = "topolab.io/lab";
/// Label naming a pod's shard.
pub const SHARD_LABEL: &str = "topolab.io/shard";
/// Where the ConfigMap is mounted in shard pods.
pub const CONFIG_DIR: &str = "/etc/topolab";
/// ConfigMap keys: the ShardedPlan, and shard → pod IP once every pod has one.
pub const BUNDLE_KEY: &str = "bundle.json";
pub const PEERS_KEY: &str = "peers.json";
/// Secret key holding the lab secret (64 hex digits).
pub const SECRET_KEY: &str = "secret";
/// Name of the operator's ServiceAccount, ClusterRole, binding and Deployment.
pub const OPERATOR: &str = "topolab-operator";

/// The ConfigMap and the Secret of Lab `lab`.
pub fn config_name(lab: &str) -> String {
    format!("{lab}-topolab")
}

/// The pod of shard `k` of Lab `lab`.
pub fn pod_name(lab: &str, k: u32) -> String {
    format!("{lab}-shard-{k}")
}

/// A Lab's name must be a topolab lab name and a DNS-1123 label (lowercase letters,
/// digits and `-`, starting and ending with a letter or digit): it names pods and labels.
pub fn check_object_name(name: &str) -> Result<(), String> {
    crate::topology::check_lab_name(name)?;
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().next_back().is_some_and(|b| b != b'-')
        && name.bytes().next().is_some_and(|b| b != b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a Kubernetes name: lowercase letters, digits and `-`, \
             starting and ending with a letter or digit"
        ))
    }
}

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("a well-formed object literal (golden-tested)")
}

/// Metadata of an object the operator makes for `lab`: same namespace, labelled, owned
/// by the Lab (deleting the Lab deletes it).
fn owned_meta(lab: &Lab, name: String, extra_labels: &[(&str, String)]) -> Value {
    let mut labels = BTreeMap::new();
    labels.insert("app.kubernetes.io/name".to_string(), "topolab".to_string());
    labels.insert(LAB_LABEL.to_string(), lab.name_any());
    for (k, v) in extra_labels {
        labels.insert(k.to_string(), v.clone());
    }
    json!({
        "name": name,
        "namespace": lab.namespace(),
        "labels": labels,
        "ownerReferences": lab.controller_owner_ref(&()).into_iter().collect::<Vec<_>>(),
    })
}

/// The ConfigMap mounted at [`CONFIG_DIR`] in every shard pod.
pub fn config_map(lab: &Lab, bundle: &str, peers: Option<&str>) -> ConfigMap {
    let mut data = BTreeMap::new();
    data.insert(BUNDLE_KEY, bundle);
    if let Some(p) = peers {
        data.insert(PEERS_KEY, p);
    }
    typed(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": owned_meta(lab, config_name(&lab.name_any()), &[]),
        "data": data,
    }))
}

/// The Secret holding the lab secret (`secret_hex`: 64 hex digits).
pub fn secret(lab: &Lab, secret_hex: &str) -> Secret {
    let mut s: Secret = typed(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": owned_meta(lab, config_name(&lab.name_any()), &[]),
    }));
    s.data = Some(BTreeMap::from([(
        SECRET_KEY.to_string(),
        ByteString(secret_hex.as_bytes().to_vec()),
    )]));
    s
}

/// The privileged pod of shard `k`: an init container that waits for `peers.json`, then
/// `topolab agent` on the pod's IP and `port` (the bundle's control port).
pub fn shard_pod(lab: &Lab, k: u32, port: u16) -> Pod {
    let name = lab.name_any();
    let spec = &lab.spec;
    let mount = json!([{ "name": "topolab", "mountPath": CONFIG_DIR, "readOnly": true }]);
    let peers = format!("{CONFIG_DIR}/{PEERS_KEY}");
    let mut agent = json!({
        "name": "agent",
        "image": spec.image,
        "command": ["topolab"],
        "args": [
            "agent",
            "--plan", format!("{CONFIG_DIR}/{BUNDLE_KEY}"),
            "--shard", k.to_string(),
            "--listen", format!("$(POD_IP):{port}"),
            "--peers", peers,
        ],
        "env": [
            { "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
            {
                "name": crate::lab::remote::SECRET_ENV,
                "valueFrom": { "secretKeyRef": { "name": config_name(&name), "key": SECRET_KEY } },
            },
        ],
        "ports": [{ "name": "control", "containerPort": port, "protocol": "TCP" }],
        "readinessProbe": { "tcpSocket": { "port": port }, "periodSeconds": 2 },
        "securityContext": { "privileged": true },
        "volumeMounts": mount,
    });
    if let Some(r) = &spec.resources {
        let mut q = BTreeMap::new();
        if let Some(c) = &r.cpu {
            q.insert("cpu", c.clone());
        }
        if let Some(m) = &r.memory {
            q.insert("memory", m.clone());
        }
        agent["resources"] = json!({ "requests": q, "limits": q });
    }
    typed(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": owned_meta(lab, pod_name(&name, k), &[(SHARD_LABEL, k.to_string())]),
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "enableServiceLinks": false,
            "initContainers": [{
                "name": "wait-peers",
                "image": spec.image,
                "command": ["topolab"],
                "args": ["k8s", "wait-peers", peers, "--shards", spec.shards.to_string()],
                "volumeMounts": mount,
            }],
            "containers": [agent],
            "volumes": [{ "name": "topolab", "configMap": { "name": config_name(&name) } }],
        },
    }))
}

/// The Lab object for a topology file.
pub fn lab(name: &str, namespace: &str, spec: LabSpec) -> Lab {
    let mut l = Lab::new(name, spec);
    l.metadata.namespace = Some(namespace.to_string());
    l
}

/// The operator's identity.
pub fn service_account(namespace: &str) -> ServiceAccount {
    typed(json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": { "name": OPERATOR, "namespace": namespace },
    }))
}

/// What the operator may do, and nothing more: read and watch Labs and update their
/// status; create ConfigMaps (and add `peers.json` to them), Secrets and pods, read them
/// back, and watch pods. It never deletes: owner references do.
pub fn cluster_role() -> ClusterRole {
    typed(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": { "name": OPERATOR },
        "rules": [
            { "apiGroups": [Lab::group(&())], "resources": [Lab::plural(&())],
              "verbs": ["get", "list", "watch"] },
            { "apiGroups": [Lab::group(&())], "resources": [format!("{}/status", Lab::plural(&()))],
              "verbs": ["get", "patch"] },
            { "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "patch"] },
            { "apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create"] },
            { "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "create"] },
        ],
    }))
}

pub fn cluster_role_binding(namespace: &str) -> ClusterRoleBinding {
    typed(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": { "name": OPERATOR },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": OPERATOR },
        "subjects": [{ "kind": "ServiceAccount", "name": OPERATOR, "namespace": namespace }],
    }))
}

/// `topolab k8s operator` as a one-replica Deployment: unprivileged, read-only root.
pub fn operator_deployment(namespace: &str, image: &str) -> Deployment {
    let labels = json!({ "app.kubernetes.io/name": OPERATOR });
    typed(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": OPERATOR, "namespace": namespace, "labels": labels },
        "spec": {
            "replicas": 1,
            "strategy": { "type": "Recreate" },
            "selector": { "matchLabels": labels },
            "template": {
                "metadata": { "labels": labels },
                "spec": {
                    "serviceAccountName": OPERATOR,
                    "containers": [{
                        "name": "operator",
                        "image": image,
                        "command": ["topolab"],
                        "args": ["k8s", "operator"],
                        "securityContext": {
                            "runAsNonRoot": true,
                            "runAsUser": 65534,
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": { "drop": ["ALL"] },
                            "seccompProfile": { "type": "RuntimeDefault" },
                        },
                    }],
                },
            },
        },
    }))
}

/// Everything `topolab k8s manifests` prints, as one `v1` `List` (what `kubectl apply -f`
/// takes): the CRD, the operator's ServiceAccount, ClusterRole, ClusterRoleBinding and
/// Deployment, then the Lab.
pub fn manifests(namespace: &str, image: &str, lab: &Lab) -> Value {
    let items = vec![
        serde_json::to_value(Lab::crd()),
        serde_json::to_value(service_account(namespace)),
        serde_json::to_value(cluster_role()),
        serde_json::to_value(cluster_role_binding(namespace)),
        serde_json::to_value(operator_deployment(namespace, image)),
        serde_json::to_value(lab),
    ];
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": items.into_iter().map(|i| i.expect("k8s objects serialize")).collect::<Vec<_>>(),
    })
}
