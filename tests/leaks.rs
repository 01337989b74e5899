//! Nothing of ours survives: up/down cycles, a SIGKILLed supervisor followed by `clean`, a
//! panicking test, and bad topology files. "Ours" is checked three ways: namespaces with
//! the lab's prefix, root-namespace links, and processes carrying a unique marker.

mod common;

use std::time::Duration;

use topolab::lab::{Lab, LabOptions};
use topolab::topology::Topology;

/// A marker that appears in the command line of every process a test starts: GNU sleep
/// sums its arguments, so `sleep 1000 0.<digits>` carries a unique number.
fn marker(tag: u32) -> String {
    format!("0.{tag}{:07}", std::process::id())
}

/// h1 runs a shell with two background sleeps (a process group of three), r1 one sleep.
fn topo_with_daemon(m: &str) -> Topology {
    let yaml = format!(
        "name: leak\nnodes:\n  h1:\n    run: [\"sleep 1000 {m} & sleep 1001 {m}; wait\"]\n  h2: {{}}\n  r1:\n    kind: router\n    run: [\"exec sleep 1002 {m}\"]\nlinks:\n  - [h1, r1]\n  - [h2, r1]\n"
    );
    Topology::from_str(&yaml, "leak.yaml").unwrap()
}

/// Waits (bounded) until the lab's four marked processes exist.
fn wait_for_processes(m: &str) {
    for _ in 0..100 {
        if common::processes_with(m).len() >= 4 {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "run: processes did not start: {:?}",
        common::processes_with(m)
    );
}

fn assert_clean(name: &str, marker: &str, root_before: &std::collections::BTreeSet<String>) {
    assert_eq!(
        common::namespaces_of(name),
        Default::default(),
        "namespaces left"
    );
    assert_eq!(
        &common::root_links(),
        root_before,
        "root-namespace links changed"
    );
    // Processes may take a moment to be reaped by init after SIGKILL.
    for _ in 0..50 {
        if common::processes_with(marker).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        common::processes_with(marker),
        Vec::<u32>::new(),
        "processes left"
    );
    assert!(
        !std::path::Path::new("/run/topolab").join(name).exists(),
        "run dir left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_down_cycles_leave_nothing() {
    need_root!();
    let name = common::lab_name("cyc");
    let marker = marker(1);
    let before = common::root_links();
    for _ in 0..3 {
        let lab = Lab::up_with(
            &topo_with_daemon(&marker),
            LabOptions {
                name: Some(name.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        wait_for_processes(&marker);
        lab.down().await.unwrap();
        assert_clean(&name, &marker, &before);
    }
}

#[test]
fn panicking_test_leaves_nothing() {
    need_root!();
    let name = common::lab_name("pan");
    let marker = marker(2);
    let before = common::root_links();
    let (n, m) = (name.clone(), marker.clone());
    let r = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let _lab = Lab::up_with(
                &topo_with_daemon(&m),
                LabOptions {
                    name: Some(n.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert!(!common::namespaces_of(&n).is_empty());
            wait_for_processes(&m);
            panic!("deliberate panic with a lab up");
        })
    })
    .join();
    assert!(r.is_err(), "the thread should have panicked");
    assert_clean(&name, &marker, &before);
}

#[test]
fn sigkill_supervisor_then_clean() {
    need_root!();
    let name = common::lab_name("kil");
    let marker = marker(3);
    let dir = std::env::temp_dir().join(format!("tl-kil-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("leak.yaml");
    std::fs::write(&file, topo_with_daemon(&marker).source.text.as_bytes()).unwrap();
    let _guard = common::DownOnDrop(name.clone());
    let before = common::root_links();

    let up = common::topolab()
        .args(["up", "-d", "--name", &name])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    wait_for_processes(&marker);
    common::sigkill_supervisor(&name);
    // The lab is orphaned: still there, reported as such.
    assert!(!common::namespaces_of(&name).is_empty());
    let ls = common::topolab().args(["ls", "--json"]).output().unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name.as_str())
        .unwrap();
    assert_eq!(row["state"], "orphaned");

    let clean = common::topolab().arg("clean").output().unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(String::from_utf8_lossy(&clean.stdout).contains(&name));
    assert_clean(&name, &marker, &before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_files_touch_nothing() {
    need_root!();
    let before_ns = common::all_namespaces();
    let before_links = common::root_links();
    let mut files: Vec<_> = std::fs::read_dir(common::repo_path("tests/bad"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(files.len() >= 25);
    for f in &files {
        let name = common::lab_name("bad");
        let out = common::topolab()
            .args(["up", "--name", &name])
            .arg(f)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} was accepted", f.display());
        assert!(common::namespaces_of(&name).is_empty(), "{}", f.display());
        assert!(!std::path::Path::new("/run/topolab").join(&name).exists());
    }
    // Other tests of this file run concurrently with their own labs: apart from those, no
    // namespace may have appeared (a bad file under its own `name:` included), and nothing
    // may have disappeared from the root namespace.
    let concurrent: Vec<String> = CONCURRENT.iter().map(|t| common::lab_name(t)).collect();
    let appeared: Vec<String> = common::all_namespaces()
        .difference(&before_ns)
        .filter(|n| !concurrent.iter().any(|c| n.starts_with(&format!("{c}-"))))
        .cloned()
        .collect();
    assert!(appeared.is_empty(), "namespaces leaked: {appeared:?}");
    assert_eq!(
        before_links,
        common::root_links(),
        "root-namespace links changed"
    );
}

/// Tags of this file's tests that bring labs up (they may run beside `bad_files_touch_nothing`).
const CONCURRENT: &[&str] = &["cyc", "pan", "kil"];
