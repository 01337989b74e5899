//! `exec`: exit status, stdout and stderr kept apart, the node's own network view — through
//! the library and through the CLI against a detached lab.

mod common;

use std::io::Write;
use std::process::Stdio;

use topolab::lab::{Lab, LabOptions};
use topolab::topology::Topology;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_exec_status_and_streams() {
    need_root!();
    let name = common::lab_name("ex");
    let lab = Lab::up_with(
        &Topology::quickstart(),
        LabOptions {
            name: Some(name.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let out = lab
        .node("h1")
        .exec(["sh", "-c", "echo out; echo err >&2; exit 3"])
        .await
        .unwrap();
    assert_eq!(out.status, 3);
    assert_eq!(out.stdout_str(), "out\n");
    assert_eq!(out.stderr_str(), "err\n");

    // The command sees the node's interfaces, not the machine's.
    let out = lab.node("h1").exec(["cat", "/proc/net/dev"]).await.unwrap();
    assert!(out.success());
    let text = out.stdout_str();
    assert!(text.contains("eth0:"), "{text}");
    assert!(
        !text.contains("docker0") && text.lines().count() <= 2 + 4,
        "{text}"
    );

    let out = lab.node("nope").exec(["true"]).await;
    assert!(out.is_err());
    lab.down().await.unwrap();
}

#[test]
fn cli_up_detached_exec_inspect_down() {
    need_root!();
    let name = common::lab_name("cli");
    let _guard = common::DownOnDrop(name.clone());
    let up = common::topolab()
        .args(["up", "-d", "--name", &name])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "up -d failed: {}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(!common::namespaces_of(&name).is_empty());

    // Exit status, separate streams, stdin passed through.
    let mut child = common::topolab()
        .args([
            "exec",
            &name,
            "h1",
            "--",
            "sh",
            "-c",
            "read x; echo got $x; echo e >&2; exit 7",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "e\n");

    let bad = common::topolab()
        .args(["exec", &name, "nosuch", "--", "true"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no node `nosuch`"));

    let ls = common::topolab().args(["ls", "--json"]).output().unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name.as_str())
        .unwrap();
    assert_eq!(row["state"], "running");

    let inspect = common::topolab()
        .args(["inspect", &name, "--json"])
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let h1 = status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "h1")
        .unwrap();
    assert!(h1["addrs"].as_array().unwrap().len() >= 2, "{h1}");
    assert!(
        h1["routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["proto"] == "static"),
        "{h1}"
    );

    let down = common::topolab().args(["down", &name]).output().unwrap();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(common::namespaces_of(&name).is_empty());
    assert!(!std::path::Path::new("/run/topolab").join(&name).exists());
}
