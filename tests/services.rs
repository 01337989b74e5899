//! The service runtime with real namespaces: readiness before `up` returns, restart
//! policies, node kill/start, pause/resume, the built-in echo daemon, and no leaks.

mod common;

use std::time::Duration;

use topolab::lab::service::{NodeOp, ServiceStatus, State};
use topolab::lab::{Lab, LabOptions};
use topolab::topology::Topology;

fn opts(name: &str) -> LabOptions {
    LabOptions {
        name: Some(name.to_string()),
        exe: Some(env!("CARGO_BIN_EXE_topolab").into()),
        ..LabOptions::default()
    }
}

async fn up(name: &str, yaml: &str) -> Lab {
    let topo = Topology::from_str(yaml, "svc.yaml").unwrap();
    Lab::up_with(&topo, opts(name)).await.unwrap()
}

fn svc(lab: &Lab, node: &str, name: &str) -> ServiceStatus {
    lab.services()
        .into_iter()
        .find(|s| s.node == node && s.name == name)
        .unwrap_or_else(|| panic!("no service {node}/{name}"))
}

/// Polls (bounded, 20 s) until `f` holds for the service.
async fn until(lab: &Lab, node: &str, name: &str, f: impl Fn(&ServiceStatus) -> bool) {
    for _ in 0..200 {
        if f(&svc(lab, node, name)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition never held: {:?}", svc(lab, node, name));
}

fn marker(tag: u32) -> String {
    format!("0.{tag}{:07}", std::process::id())
}

/// A process's state letter from /proc/PID/stat.
fn proc_state(pid: u32) -> char {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let i = s.rfind(')').unwrap();
    s[i + 2..].chars().next().unwrap()
}

#[tokio::test]
async fn tcp_readiness_holds_before_up_returns() {
    need_root!();
    let name = common::lab_name("svrdy");
    let yaml = "name: x\nnodes:\n  h1:\n    run: [{name: web, cmd: \"sleep 0.5; exec python3 -m http.server 8081 --bind 127.0.0.1\", ready: {tcp_port: 8081}}]\n";
    let lab = up(&name, yaml).await;
    let s = svc(&lab, "h1", "web");
    assert_eq!(s.state, State::Ready, "{s:?}");
    // Really listening right now, as seen from inside the node.
    let out = lab
        .node("h1")
        .exec([
            "python3",
            "-c",
            "import socket; socket.create_connection(('127.0.0.1', 8081), 2)",
        ])
        .await
        .unwrap();
    assert!(out.success(), "{}", out.stderr_str());
    lab.down().await.unwrap();
}

#[tokio::test]
async fn readiness_timeout_names_the_service_and_tears_down() {
    need_root!();
    let name = common::lab_name("svnrd");
    let yaml = "name: x\nnodes:\n  h1:\n    run: [{name: never, cmd: \"echo waiting-for-godot; exec sleep 100\", ready: {file: /nonexistent-topolab}}]\n";
    let topo = Topology::from_str(yaml, "svc.yaml").unwrap();
    let mut o = opts(&name);
    o.ready_timeout = Some(Duration::from_secs(1));
    let err = match Lab::up_with(&topo, o).await {
        Ok(_) => panic!("up succeeded"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("h1/never (starting)"), "{err}");
    assert!(err.contains("waiting-for-godot"), "{err}");
    assert!(common::namespaces_of(&name).is_empty());
}

#[tokio::test]
async fn crashing_service_restarts_per_policy() {
    need_root!();
    let name = common::lab_name("svcrash");
    let yaml = "name: x\nnodes:\n  h1:\n    run:\n      - {name: flaky, cmd: \"sleep 0.2; exit 3\", restart: on-failure}\n      - {name: once, cmd: \"sleep 0.2; exit 3\", restart: never}\n      - {name: steady, cmd: \"exec sleep 1000\"}\n";
    let lab = up(&name, yaml).await;
    let steady = svc(&lab, "h1", "steady").pid.unwrap();
    until(&lab, "h1", "flaky", |s| s.restarts >= 1).await;
    until(&lab, "h1", "once", |s| s.state == State::Failed).await;
    let once = svc(&lab, "h1", "once");
    assert_eq!((once.exit, once.restarts, once.pid), (Some(3), 0, None));
    // The crashes never touched the rest of the node.
    let st = svc(&lab, "h1", "steady");
    assert_eq!((st.state, st.pid), (State::Running, Some(steady)));
    // And inspect reports the restarts.
    let mut lab = lab;
    let status = topolab::lab::supervisor::status(&mut lab).await.unwrap();
    let flaky = status.services.iter().find(|s| s.name == "flaky").unwrap();
    assert!(flaky.restarts >= 1, "{flaky:?}");
    lab.down().await.unwrap();
}

#[tokio::test]
async fn node_kill_then_start() {
    need_root!();
    let name = common::lab_name("svkill");
    let yaml = "name: x\nnodes:\n  r1:\n    kind: router\n    run: [{name: d, cmd: \"exec sleep 1000\", restart: never}]\n";
    let lab = up(&name, yaml).await;
    let pid = svc(&lab, "r1", "d").pid.unwrap();
    let after = lab.node_op("r1", None, NodeOp::Kill).await.unwrap();
    assert_eq!(after[0].state, State::Failed, "{after:?}");
    assert_eq!(after[0].exit, Some(128 + 9));
    assert!(std::fs::metadata(format!("/proc/{pid}")).is_err() || proc_state(pid) == 'Z');
    let after = lab.node_op("r1", Some("d"), NodeOp::Start).await.unwrap();
    assert_eq!(after[0].state, State::Running, "{after:?}");
    assert_ne!(after[0].pid, Some(pid));
    // A stop is not a crash: stopped, and on-failure would not restart it either.
    let after = lab.node_op("r1", None, NodeOp::Stop).await.unwrap();
    assert_eq!(after[0].state, State::Stopped, "{after:?}");
    lab.down().await.unwrap();
}

#[tokio::test]
async fn kill_with_on_failure_restarts() {
    need_root!();
    let name = common::lab_name("svkre");
    let yaml = "name: x\nnodes:\n  h1:\n    run: [{name: d, cmd: \"exec sleep 1000\", restart: on-failure}]\n";
    let lab = up(&name, yaml).await;
    let pid = svc(&lab, "h1", "d").pid.unwrap();
    lab.node_op("h1", None, NodeOp::Kill).await.unwrap();
    until(&lab, "h1", "d", |s| {
        s.restarts == 1 && s.pid.is_some_and(|p| p != pid)
    })
    .await;
    lab.down().await.unwrap();
}

#[tokio::test]
async fn pause_and_resume() {
    need_root!();
    let name = common::lab_name("svpause");
    let yaml = "name: x\nnodes:\n  h1:\n    run: [{name: d, cmd: \"exec sleep 1000\"}]\n";
    let lab = up(&name, yaml).await;
    let pid = svc(&lab, "h1", "d").pid.unwrap();
    let s = lab.node_op("h1", None, NodeOp::Pause).await.unwrap();
    assert_eq!(s[0].state, State::Paused);
    for _ in 0..50 {
        if proc_state(pid) == 'T' {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(proc_state(pid), 'T');
    let s = lab.node_op("h1", None, NodeOp::Resume).await.unwrap();
    assert_eq!(s[0].state, State::Running);
    for _ in 0..50 {
        if proc_state(pid) != 'T' {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_ne!(proc_state(pid), 'T');
    lab.down().await.unwrap();
}

#[tokio::test]
async fn echo_daemon_answers_and_survives_a_neighbour_crash() {
    need_root!();
    let name = common::lab_name("svecho");
    let yaml = "name: x\nnodes:\n  h1:\n    run:\n      - {name: echo, daemon: echo, port: 7007}\n      - {name: other, cmd: \"exec sleep 1000\"}\n  h2: {}\nlinks:\n  - [h1, h2]\n";
    let lab = up(&name, yaml).await;
    assert_eq!(svc(&lab, "h1", "echo").state, State::Ready);
    let addr = lab.plan().node("h1").unwrap().ifaces[0].addrs[0]
        .addr()
        .to_string();
    let script = format!(
        "import socket; s = socket.create_connection(('{addr}', 7007), 5); s.sendall(b'hello'); print(s.recv(5).decode())"
    );
    let out = lab
        .node("h2")
        .exec(["python3", "-c", &script])
        .await
        .unwrap();
    assert_eq!(out.stdout_str().trim(), "hello", "{}", out.stderr_str());
    lab.node_op("h1", Some("other"), NodeOp::Kill)
        .await
        .unwrap();
    let out = lab
        .node("h2")
        .exec(["python3", "-c", &script])
        .await
        .unwrap();
    assert_eq!(out.stdout_str().trim(), "hello", "{}", out.stderr_str());
    assert_eq!(svc(&lab, "h1", "echo").state, State::Ready);
    assert_eq!(svc(&lab, "h1", "echo").restarts, 0);
    lab.down().await.unwrap();
}

#[tokio::test]
async fn no_leaks_after_down_or_crashing_daemons() {
    need_root!();
    let name = common::lab_name("svleak");
    let m = marker(41);
    let yaml = format!(
        "name: x\nnodes:\n  h1:\n    run:\n      - {{name: crash, cmd: \"sleep 0.1 {m}; exit 1\", restart: always}}\n      - {{name: group, cmd: \"sleep 1000 {m} & sleep 1001 {m}; wait\"}}\n      - {{name: echo, daemon: echo, port: 7008}}\n"
    );
    let lab = up(&name, &yaml).await;
    until(&lab, "h1", "crash", |s| s.restarts >= 2).await;
    let dir = lab.run_dir().to_path_buf();
    lab.down().await.unwrap();
    assert!(common::namespaces_of(&name).is_empty());
    assert!(!dir.exists());
    for _ in 0..50 {
        if common::processes_with(&m).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(common::processes_with(&m), Vec::<u32>::new());
}

#[test]
fn cli_node_ops_and_clean_after_supervisor_sigkill() {
    need_root!();
    let name = common::lab_name("svcli");
    let m = marker(42);
    // Everything a lab can leave outside its namespaces: a cgroup (memory limit), a private
    // mount namespace (private_dirs), a root-namespace link (mgmt host veth).
    let pd = std::env::temp_dir().join(format!("tl-pd-{}", std::process::id()));
    std::fs::create_dir_all(&pd).unwrap();
    let mgmt4 = format!("192.168.{}.0/24", 100 + std::process::id() % 100);
    let mgmt6 = format!("fd00:0:ee:{:x}::/64", std::process::id() % 0xffff);
    let ctl = topolab::lab::cgroup::Controllers::detect();
    let cgroup = ctl
        .memory
        .as_ref()
        .map(|c| c.root.join("topolab").join(&name));
    let f = std::env::temp_dir().join(format!("{name}.yaml"));
    std::fs::write(
        &f,
        format!(
            "name: x\nmgmt: {{host: true, ipv4: {mgmt4}, ipv6: \"{mgmt6}\"}}\nnodes:\n  h1:\n    memory: 64MiB\n    private_dirs: [{pd}]\n    files: {{{pd}/motd: {{content: hi}}}}\n    run:\n      - {{name: echo, daemon: echo, port: 7009}}\n      - {{name: sl, cmd: \"echo started-{m}; exec sleep 1000 {m}\", restart: never}}\n",
            pd = pd.display(),
        ),
    )
    .unwrap();
    let _down = common::DownOnDrop(name.clone());
    let up = common::topolab()
        .args(["up", "-d", "--name", &name, f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let node = |op: &str| {
        let out = common::topolab()
            .args(["node", &name, "h1", op, "sl", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Vec<ServiceStatus> = serde_json::from_slice(&out.stdout).unwrap();
        v.into_iter().next().unwrap()
    };
    assert_eq!(node("status").state, State::Running);
    // The service's own log, through the CLI.
    let logs = common::topolab()
        .args(["logs", &name, "h1", "sl", "-n", "5"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&logs.stdout).contains(&format!("started-{m}")),
        "{}{}",
        String::from_utf8_lossy(&logs.stdout),
        String::from_utf8_lossy(&logs.stderr)
    );
    if let Some(cg) = &cgroup {
        assert!(cg.exists(), "{} was not made", cg.display());
    }
    let host_links: Vec<String> = common::root_links()
        .into_iter()
        .filter(|l| l.starts_with("tl-"))
        .collect();
    let killed = node("kill");
    assert_eq!((killed.state, killed.exit), (State::Failed, Some(137)));
    assert!(common::processes_with(&m).is_empty());
    assert_eq!(node("start").state, State::Running);
    assert_eq!(common::processes_with(&m).len(), 1);
    // inspect shows services, with the daemon ready.
    let out = common::topolab().args(["inspect", &name]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("service h1/echo [ready]"), "{text}");
    // The supervisor dies without teardown: `clean` removes services and daemons too.
    common::sigkill_supervisor(&name);
    let clean = common::topolab().arg("clean").output().unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    for _ in 0..50 {
        if common::processes_with(&m).is_empty() && common::processes_with(&name).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(common::processes_with(&m), Vec::<u32>::new());
    assert_eq!(
        common::processes_with(&name),
        Vec::<u32>::new(),
        "daemons left"
    );
    assert!(common::namespaces_of(&name).is_empty());
    if let Some(cg) = &cgroup {
        assert!(!cg.exists(), "cgroup {} left", cg.display());
    }
    let links = common::root_links();
    let left: Vec<&String> = host_links.iter().filter(|l| links.contains(*l)).collect();
    assert!(left.is_empty(), "root-namespace links left: {left:?}");
    assert!(!std::path::Path::new("/run/topolab").join(&name).exists());
    // The machine's directory was never written: the file went into the node's copy.
    assert!(!pd.join("motd").exists());
    let _ = std::fs::remove_file(&f);
    let _ = std::fs::remove_dir_all(&pd);
}
