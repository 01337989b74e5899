//! The Kubernetes side (issue 13): golden JSON of every object topolab writes, and the
//! operator's reconcile against a mocked API server that records every request.
//!
//! Golden files are regenerated only on purpose: `TOPOLAB_BLESS=1 cargo test --test
//! k8s_operator`, then review the diff. No test here talks to a real cluster.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::golden;
use http::{Request, Response};
use k8s_openapi::jiff::Timestamp;
use kube::client::Body;
use kube::{Client, CustomResourceExt};
use serde_json::{Value, json};
use topolab::compile::shard_split;
use topolab::k8s::crd::{Lab, LabSpec, ShardResources};
use topolab::k8s::objects;
use topolab::k8s::operator::{self, Context};

const NS: &str = "labs";
const LAB_PATH: &str = "/apis/topolab.io/v1alpha1/namespaces/labs/labs/demo";
const CM_PATH: &str = "/api/v1/namespaces/labs/configmaps/demo-topolab";
const SECRET_PATH: &str = "/api/v1/namespaces/labs/secrets/demo-topolab";
const PODS: &str = "/api/v1/namespaces/labs/pods";
const LABS: &str = "/apis/topolab.io/v1alpha1/namespaces/labs/labs";

fn quickstart() -> String {
    std::fs::read_to_string(common::repo_path("topologies/quickstart.yaml")).unwrap()
}

fn spec(topology: String) -> LabSpec {
    LabSpec {
        topology,
        shards: 2,
        image: "topolab:test".into(),
        resources: Some(ShardResources {
            cpu: Some("1".into()),
            memory: Some("512Mi".into()),
        }),
        control_port: Some(7470),
        underlay_mtu: 9000,
    }
}

/// Lab `demo` as the API server returns it: with a uid and a generation.
fn lab(topology: String) -> Lab {
    let mut l = objects::lab("demo", NS, spec(topology));
    l.metadata.uid = Some("0d1c2b3a-0000-4000-8000-000000000001".into());
    l.metadata.generation = Some(1);
    l
}

fn pretty<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

const SECRET_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

#[test]
fn golden_manifests() {
    let l = objects::lab("demo", NS, spec(quickstart()));
    golden("k8s/crd.json", &pretty(&Lab::crd()));
    golden(
        "k8s/service-account.json",
        &pretty(&objects::service_account(NS)),
    );
    golden("k8s/cluster-role.json", &pretty(&objects::cluster_role()));
    golden(
        "k8s/cluster-role-binding.json",
        &pretty(&objects::cluster_role_binding(NS)),
    );
    golden(
        "k8s/deployment.json",
        &pretty(&objects::operator_deployment(NS, "topolab:test")),
    );
    golden("k8s/lab.json", &pretty(&l));
    // The List `manifests` prints is exactly these, in this order.
    let list = objects::manifests(NS, "topolab:test", &l);
    let items: Vec<Value> = [
        serde_json::to_value(Lab::crd()),
        serde_json::to_value(objects::service_account(NS)),
        serde_json::to_value(objects::cluster_role()),
        serde_json::to_value(objects::cluster_role_binding(NS)),
        serde_json::to_value(objects::operator_deployment(NS, "topolab:test")),
        serde_json::to_value(&l),
    ]
    .into_iter()
    .map(Result::unwrap)
    .collect();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"], Value::Array(items));
}

#[test]
fn golden_operator_objects() {
    let l = lab(quickstart());
    let bundle = operator::bundle(&l).unwrap();
    assert_eq!(bundle.control_port, 7470, "spec.controlPort wins");
    // Pretty-printed here for readable diffs; the ConfigMap holds it compact.
    let parsed: Value = serde_json::from_str(&bundle.text).unwrap();
    golden("k8s/bundle.json", &pretty(&parsed));
    golden(
        "k8s/configmap.json",
        &pretty(&objects::config_map(
            &l,
            &bundle.text,
            Some(r#"{"0":"10.244.1.7","1":"10.244.2.9"}"#),
        )),
    );
    golden("k8s/secret.json", &pretty(&objects::secret(&l, SECRET_HEX)));
    golden("k8s/pod-0.json", &pretty(&objects::shard_pod(&l, 0, 7470)));
    golden("k8s/pod-1.json", &pretty(&objects::shard_pod(&l, 1, 7470)));
}

/// The CRD's schema carries the spec's bounds, and its names are the ones the
/// ClusterRole grants.
#[test]
fn crd_names_and_bounds() {
    let crd = serde_json::to_value(Lab::crd()).unwrap();
    assert_eq!(crd["metadata"]["name"], "labs.topolab.io");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    let props = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    assert_eq!(props["shards"]["minimum"], 1.0);
    assert_eq!(props["shards"]["maximum"], 256.0);
    let role = serde_json::to_value(objects::cluster_role()).unwrap();
    assert_eq!(role["rules"][0]["resources"][0], "labs");
    assert_eq!(role["rules"][1]["resources"][0], "labs/status");
    // Least privilege: no rule deletes, and nothing is granted on every resource.
    for rule in role["rules"].as_array().unwrap() {
        for v in rule["verbs"].as_array().unwrap() {
            assert!(["get", "list", "watch", "create", "patch"].contains(&v.as_str().unwrap()));
        }
        assert!(!rule["resources"].as_array().unwrap().contains(&json!("*")));
    }
}

#[test]
fn names_must_be_kubernetes_names() {
    assert!(objects::check_object_name("demo-1").is_ok());
    for bad in [
        "Demo",
        "de_mo",
        "-demo",
        "demo-",
        "",
        "a.b",
        &"x".repeat(41),
    ] {
        assert!(objects::check_object_name(bad).is_err(), "{bad:?}");
    }
}

// ---------------------------------------------------------------------------------------
// A mocked API server: a store of objects by path that answers GET, LIST (by label),
// POST, and merge-PATCH, and records every request.

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: Option<Value>,
}

#[derive(Default)]
struct Store {
    objects: BTreeMap<String, Value>,
    log: Vec<Seen>,
    next_uid: u32,
    /// POSTs to this collection are refused with (code, message), as admission would.
    refuse: Option<(String, u16, String)>,
}

fn status_body(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": reason, "reason": reason, "code": code})
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

impl Store {
    fn answer(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.log.push(Seen {
            method: method.into(),
            path: path.into(),
            body: body.clone(),
        });
        match method {
            "GET" if path == PODS || path == LABS => {
                let sel = query
                    .split('&')
                    .find_map(|q| q.strip_prefix("labelSelector="))
                    .map(|s| s.replace("%2F", "/").replace("%3D", "="))
                    .unwrap_or_default();
                // `key=value`, or `key` (exists), or nothing.
                let matches = |o: &Value| match sel.split_once('=') {
                    Some((k, v)) => o["metadata"]["labels"][k] == v,
                    None => sel.is_empty() || !o["metadata"]["labels"][&sel].is_null(),
                };
                let items: Vec<Value> = self
                    .objects
                    .iter()
                    .filter(|(p, o)| p.starts_with(&format!("{path}/")) && matches(o))
                    .map(|(_, o)| o.clone())
                    .collect();
                let kind = if path == PODS { "PodList" } else { "LabList" };
                (
                    200,
                    json!({"apiVersion": "v1", "kind": kind,
                           "metadata": {"resourceVersion": "1"}, "items": items}),
                )
            }
            "GET" => match self.objects.get(path) {
                Some(o) => (200, o.clone()),
                None => (404, status_body(404, "NotFound")),
            },
            "POST" if self.refuse.as_ref().is_some_and(|r| r.0 == path) => {
                let (_, code, msg) = self.refuse.clone().unwrap();
                let mut b = status_body(code, "Forbidden");
                b["message"] = json!(msg);
                (code, b)
            }
            "POST" => {
                let mut o = body.unwrap();
                let full = format!("{path}/{}", o["metadata"]["name"].as_str().unwrap());
                if self.objects.contains_key(&full) {
                    return (409, status_body(409, "AlreadyExists"));
                }
                self.next_uid += 1;
                o["metadata"]["uid"] = json!(format!("uid-{}", self.next_uid));
                self.objects.insert(full, o.clone());
                (201, o)
            }
            "PATCH" => {
                let (target, sub) = match path.strip_suffix("/status") {
                    Some(p) => (p.to_string(), true),
                    None => (path.to_string(), false),
                };
                let Some(o) = self.objects.get_mut(&target) else {
                    return (404, status_body(404, "NotFound"));
                };
                let mut patch = body.unwrap();
                if sub {
                    patch = json!({"status": patch["status"]});
                }
                merge(o, &patch);
                (200, o.clone())
            }
            _ => (405, status_body(405, "MethodNotAllowed")),
        }
    }
}

struct Fake {
    store: Arc<Mutex<Store>>,
    ctx: Arc<Context>,
}

impl Fake {
    fn new(lab: Lab) -> Fake {
        let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let store = Arc::new(Mutex::new(Store::default()));
        store
            .lock()
            .unwrap()
            .objects
            .insert(LAB_PATH.into(), serde_json::to_value(&lab).unwrap());
        let s = store.clone();
        tokio::spawn(async move {
            // Watches are held open, never answered: nothing changes behind the test's back.
            let mut watches = Vec::new();
            while let Some((req, send)) = handle.next_request().await {
                let (parts, body) = req.into_parts();
                if parts.uri.query().is_some_and(|q| q.contains("watch=true")) {
                    s.lock().unwrap().log.push(Seen {
                        method: "WATCH".into(),
                        path: parts.uri.path().into(),
                        body: None,
                    });
                    watches.push(send);
                    continue;
                }
                let bytes = body.collect_bytes().await.unwrap();
                let body = (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes).unwrap());
                let (code, out) = s.lock().unwrap().answer(
                    parts.method.as_str(),
                    parts.uri.path(),
                    parts.uri.query().unwrap_or(""),
                    body,
                );
                send.send_response(
                    Response::builder()
                        .status(code)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&out).unwrap()))
                        .unwrap(),
                );
            }
        });
        let ctx = Arc::new(Context {
            client: Client::new(svc, "default"),
            new_secret: || Ok(SECRET_HEX.to_string()),
            now: || Timestamp::from_second(1_800_000_000).unwrap(),
        });
        Fake { store, ctx }
    }

    /// One reconcile of the stored Lab; the requests it made, as `METHOD path`.
    async fn reconcile(&self) -> Vec<Seen> {
        let lab: Lab = serde_json::from_value(self.get(LAB_PATH)).unwrap();
        let start = self.store.lock().unwrap().log.len();
        operator::reconcile(Arc::new(lab), self.ctx.clone())
            .await
            .unwrap();
        self.store.lock().unwrap().log[start..].to_vec()
    }

    fn get(&self, path: &str) -> Value {
        self.store.lock().unwrap().objects[path].clone()
    }

    /// What the kubelet would write into a pod's status.
    fn set_pod_status(&self, k: u32, status: Value) {
        let path = format!("{PODS}/demo-shard-{k}");
        self.store.lock().unwrap().objects.get_mut(&path).unwrap()["status"] = status;
    }

    fn lab_status(&self) -> Value {
        self.get(LAB_PATH)["status"].clone()
    }
}

fn lines(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect()
}

fn writes(seen: &[Seen]) -> Vec<String> {
    lines(seen)
        .into_iter()
        .filter(|l| !l.starts_with("GET "))
        .collect()
}

/// The reads every reconcile of a compilable Lab makes.
fn reads() -> Vec<String> {
    vec![
        format!("GET {CM_PATH}"),
        format!("GET {SECRET_PATH}"),
        format!("GET {PODS}"),
    ]
}

fn running_pod(ip: &str, ready: bool) -> Value {
    json!({
        "phase": "Running",
        "podIP": ip,
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
    })
}

#[tokio::test]
async fn new_lab_gets_configmap_secret_and_one_pod_per_shard() {
    let fake = Fake::new(lab(quickstart()));
    let seen = fake.reconcile().await;
    assert_eq!(
        lines(&seen),
        [
            format!("GET {CM_PATH}"),
            "POST /api/v1/namespaces/labs/configmaps".into(),
            format!("GET {SECRET_PATH}"),
            "POST /api/v1/namespaces/labs/secrets".into(),
            format!("GET {PODS}"),
            format!("POST {PODS}"),
            format!("POST {PODS}"),
            format!("PATCH {LAB_PATH}/status"),
        ]
    );
    // The ConfigMap holds the compiled, split lab and no peers yet.
    let cm = seen[1].body.as_ref().unwrap();
    assert_eq!(cm["metadata"]["name"], "demo-topolab");
    assert_eq!(cm["metadata"]["ownerReferences"][0]["kind"], "Lab");
    assert_eq!(cm["metadata"]["ownerReferences"][0]["controller"], true);
    let bundle: topolab::compile::shard::ShardedPlan =
        serde_json::from_str(cm["data"]["bundle.json"].as_str().unwrap()).unwrap();
    assert_eq!(bundle.shards.machines.len(), 2);
    assert_eq!(bundle.plan.lab, "demo");
    assert_eq!(bundle.shards.assign.len(), 8);
    assert!(cm["data"].get("peers.json").is_none());
    // The secret, as 64 hex digits, base64-encoded by the API.
    let secret = seen[3].body.as_ref().unwrap();
    let hex = secret["data"]["secret"].as_str().unwrap();
    assert_eq!(hex.len(), 88, "{hex}");
    // One pod per shard, each running its own shard's agent.
    for (k, s) in seen[5..7].iter().enumerate() {
        let pod = s.body.as_ref().unwrap();
        assert_eq!(pod["metadata"]["name"], format!("demo-shard-{k}"));
        assert_eq!(pod["metadata"]["labels"]["topolab.io/shard"], k.to_string());
        let args = &pod["spec"]["containers"][0]["args"];
        assert_eq!(args[4], k.to_string());
        assert_eq!(args[6], "$(POD_IP):7470");
        assert_eq!(
            pod["spec"]["containers"][0]["securityContext"]["privileged"],
            true
        );
    }
    let st = seen[7].body.as_ref().unwrap();
    assert_eq!(st["status"]["phase"], "Pending");
    assert_eq!(st["status"]["observedGeneration"], 1);
    assert_eq!(st["status"]["shards"][1]["pod"], "demo-shard-1");

    // Nothing changed: the second reconcile only reads.
    let again = fake.reconcile().await;
    assert_eq!(lines(&again), reads());
}

#[tokio::test]
async fn pods_with_ips_publish_peers_then_run() {
    let fake = Fake::new(lab(quickstart()));
    fake.reconcile().await;

    // One pod scheduled: still Pending, nothing published, the message changes.
    fake.set_pod_status(0, running_pod("10.244.1.7", false));
    let seen = fake.reconcile().await;
    assert_eq!(writes(&seen), [format!("PATCH {LAB_PATH}/status")]);
    assert_eq!(fake.lab_status()["phase"], "Pending");
    assert_eq!(fake.lab_status()["shards"][0]["ip"], "10.244.1.7");

    // Both have IPs: peers.json goes into the ConfigMap, the Lab is Starting.
    fake.set_pod_status(1, running_pod("10.244.2.9", false));
    let seen = fake.reconcile().await;
    assert_eq!(
        lines(&seen),
        [
            reads(),
            vec![
                format!("PATCH {CM_PATH}"),
                format!("PATCH {LAB_PATH}/status")
            ]
        ]
        .concat()
    );
    assert_eq!(
        seen[3].body.as_ref().unwrap()["data"]["peers.json"],
        r#"{"0":"10.244.1.7","1":"10.244.2.9"}"#
    );
    assert_eq!(fake.lab_status()["phase"], "Starting");
    assert_eq!(fake.reconcile().await.len(), 3, "unchanged: reads only");

    // What the pods mount is what the agent reads: every shard's Plan comes out of it.
    let data = fake.get(CM_PATH)["data"].clone();
    let bundle = shard_split::parse_bundle(data["bundle.json"].as_str().unwrap()).unwrap();
    let peers = shard_split::parse_peers(data["peers.json"].as_str().unwrap()).unwrap();
    for k in 0..2 {
        let plan = shard_split::shard_subplan(&bundle, k, &peers).unwrap();
        assert!(!plan.nodes.is_empty());
    }

    // Every agent ready: Running, condition Ready=True.
    fake.set_pod_status(0, running_pod("10.244.1.7", true));
    fake.set_pod_status(1, running_pod("10.244.2.9", true));
    let seen = fake.reconcile().await;
    assert_eq!(writes(&seen), [format!("PATCH {LAB_PATH}/status")]);
    let st = fake.lab_status();
    assert_eq!(st["phase"], "Running");
    assert!(st.get("message").is_none(), "{st}");
    assert_eq!(st["conditions"][0]["type"], "Ready");
    assert_eq!(st["conditions"][0]["status"], "True");
    assert_eq!(
        st["shards"][1],
        json!({"shard": 1, "pod": "demo-shard-1", "ip": "10.244.2.9", "ready": true})
    );
    golden("k8s/status-running.json", &pretty(&st));

    // Unchanged state: no writes.
    assert_eq!(lines(&fake.reconcile().await), reads());
}

#[tokio::test]
async fn failed_pod_fails_the_lab_with_its_message() {
    let fake = Fake::new(lab(quickstart()));
    fake.reconcile().await;
    fake.set_pod_status(0, running_pod("10.244.1.7", true));
    fake.set_pod_status(
        1,
        json!({
            "phase": "Failed",
            "podIP": "10.244.2.9",
            "containerStatuses": [{
                "name": "agent", "image": "topolab:test", "imageID": "", "ready": false,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
            }],
        }),
    );
    let seen = fake.reconcile().await;
    // The failed pod is not replaced.
    assert!(!lines(&seen).contains(&format!("POST {PODS}")));
    let st = fake.lab_status();
    assert_eq!(st["phase"], "Failed");
    assert_eq!(
        st["message"],
        "shard 1 (pod demo-shard-1): pod Failed: container exited with 1 (Error)"
    );
    assert_eq!(
        st["shards"][1]["message"],
        "pod Failed: container exited with 1 (Error)"
    );
    assert_eq!(st["conditions"][0]["status"], "False");
    assert_eq!(st["conditions"][0]["reason"], "Failed");
    assert_eq!(
        lines(&fake.reconcile().await),
        reads(),
        "unchanged: reads only"
    );
}

#[tokio::test]
async fn broken_topology_fails_with_line_and_column_and_makes_nothing() {
    let fake = Fake::new(lab("name: x\nnodes:\n  h1: {kind: hots}\n".into()));
    let seen = fake.reconcile().await;
    assert_eq!(lines(&seen), [format!("PATCH {LAB_PATH}/status")]);
    let st = fake.lab_status();
    assert_eq!(st["phase"], "Failed");
    let msg = st["message"].as_str().unwrap();
    assert!(msg.starts_with("spec.topology:3:"), "{msg}");
    assert!(msg.contains("hots"), "{msg}");
    assert_eq!(st["shards"], json!([]));
    assert!(
        fake.reconcile().await.is_empty(),
        "unchanged: no request at all"
    );
}

#[tokio::test]
async fn changed_spec_fails_instead_of_replanning() {
    let fake = Fake::new(lab(quickstart()));
    fake.reconcile().await;
    let mut l = fake.get(LAB_PATH);
    l["spec"]["topology"] = json!(quickstart().replace("delay: 5ms", "delay: 7ms"));
    l["metadata"]["generation"] = json!(2);
    fake.store
        .lock()
        .unwrap()
        .objects
        .insert(LAB_PATH.into(), l);
    let seen = fake.reconcile().await;
    assert_eq!(
        lines(&seen),
        [format!("GET {CM_PATH}"), format!("PATCH {LAB_PATH}/status")]
    );
    let st = fake.lab_status();
    assert_eq!(st["phase"], "Failed");
    assert_eq!(st["observedGeneration"], 2);
    assert!(st["message"].as_str().unwrap().contains("spec changed"));
}

#[tokio::test]
async fn refused_pods_fail_the_lab_with_the_reason() {
    let fake = Fake::new(lab(quickstart()));
    let why = "pods \"demo-shard-0\" is forbidden: violates PodSecurity \"baseline:latest\": \
               privileged (container \"agent\" must not set securityContext.privileged=true)";
    fake.store.lock().unwrap().refuse = Some((PODS.into(), 403, why.into()));
    let seen = fake.reconcile().await;
    assert_eq!(
        writes(&seen),
        [
            "POST /api/v1/namespaces/labs/configmaps".to_string(),
            "POST /api/v1/namespaces/labs/secrets".into(),
            format!("POST {PODS}"),
            format!("PATCH {LAB_PATH}/status"),
        ]
    );
    let st = fake.lab_status();
    assert_eq!(st["phase"], "Failed");
    assert_eq!(
        st["message"],
        format!("cannot create pod demo-shard-0: {why}")
    );
}

#[tokio::test]
async fn unschedulable_pod_says_why_while_pending() {
    let fake = Fake::new(lab(quickstart()));
    fake.reconcile().await;
    fake.set_pod_status(
        1,
        json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                            "message": "0/3 nodes are available: 3 Insufficient memory."}],
        }),
    );
    fake.reconcile().await;
    let st = fake.lab_status();
    assert_eq!(st["phase"], "Pending");
    assert_eq!(
        st["shards"][1]["message"],
        "Unschedulable: 0/3 nodes are available: 3 Insufficient memory."
    );
}

/// The shard pods' init container: waits until peers.json names every shard.
#[test]
fn wait_peers_returns_once_every_shard_has_an_address() {
    let dir = std::env::temp_dir().join(format!("topolab-k8s-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("peers.json");
    let run = |timeout: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_topolab"))
            .args(["k8s", "wait-peers"])
            .arg(&file)
            .args(["--shards", "2", "--timeout", timeout])
            .output()
            .unwrap()
    };
    std::fs::write(&file, r#"{"0":"10.244.1.7"}"#).unwrap();
    let out = run("0");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no address") && err.contains("shard 1"),
        "{err}"
    );
    std::fs::write(&file, r#"{"0":"10.244.1.7","1":"10.244.2.9"}"#).unwrap();
    let out = run("0");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `k8s manifests` checks its FILE as `validate` does: every file of the bad-topology
/// corpus fails at the line and column its header names, and nothing is printed.
#[test]
fn manifests_refuse_bad_topologies_with_line_and_column() {
    let files = common::corpus::yaml_files("tests/bad");
    assert!(files.len() >= 100);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let at = text
            .lines()
            .find_map(|l| l.strip_prefix("# at: "))
            .unwrap_or_else(|| panic!("{}: no `# at:` header", f.display()));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_topolab"))
            .args(["k8s", "manifests"])
            .arg(&f)
            .args(["--shards", "2"])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}", f.display());
        assert!(out.stdout.is_empty(), "{}", f.display());
        assert!(
            err.contains(&format!("{}:{at}", f.display())),
            "{}: expected {at} in:\n{err}",
            f.display()
        );
    }
}

/// The controller itself: it lists and watches Labs and their pods (by label) and
/// reconciles the Lab it finds.
#[tokio::test]
async fn controller_watches_labs_and_pods_and_reconciles() {
    let fake = Fake::new(lab(quickstart()));
    let run = tokio::spawn(operator::run_with(fake.ctx.clone(), Some(NS), false));
    // Bounded wait for the first reconcile's status (not a timing assertion).
    for _ in 0..600 {
        if fake.lab_status()["phase"] == "Pending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    run.abort();
    assert_eq!(fake.lab_status()["phase"], "Pending");
    let log = fake.store.lock().unwrap().log.clone();
    let seen = lines(&log);
    for want in [
        format!("GET {LABS}"),
        format!("GET {PODS}"),
        format!("WATCH {LABS}"),
        format!("WATCH {PODS}"),
        format!("POST {PODS}"),
    ] {
        assert!(seen.contains(&want), "{want} not in {seen:#?}");
    }
    assert_eq!(
        seen.iter()
            .filter(|l| *l == &format!("POST {PODS}"))
            .count(),
        2
    );
}

/// No secret, no pods: the status says why, and the next reconcile tries again.
#[tokio::test]
async fn secret_failure_is_reported_and_retried() {
    let mut fake = Fake::new(lab(quickstart()));
    let ctx = Context {
        client: fake.ctx.client.clone(),
        new_secret: || Err("no randomness".into()),
        now: fake.ctx.now,
    };
    fake.ctx = Arc::new(ctx);
    let l: Lab = serde_json::from_value(fake.get(LAB_PATH)).unwrap();
    let e = operator::reconcile(Arc::new(l), fake.ctx.clone())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no randomness"), "{e}");
    let log = fake.store.lock().unwrap().log.clone();
    assert!(!lines(&log).contains(&format!("POST {PODS}")));
    let st = fake.lab_status();
    assert_eq!(st["phase"], "Failed");
    assert_eq!(st["message"], "cannot make the lab secret: no randomness");
}
