//! Per-node limits in cgroups: a memory hog dies in the limited node only, the CPU share is
//! written into the node's group, every `exec` joins it, and `down` removes the groups.

mod common;

use topolab::lab::cgroup::{Controllers, NodeCgroup};
use topolab::lab::{Lab, LabOptions};
use topolab::topology::Topology;

/// A shell that holds about `mb` MB in one variable.
fn hog(mb: u32) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("x=$(head -c {mb}000000 /dev/zero | tr '\\0' a); echo ${{#x}}"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_kills_a_hog_in_that_node_only() {
    need_root!();
    let ctl = Controllers::detect();
    if ctl.memory.is_none() || ctl.cpu.is_none() {
        eprintln!("SKIPPED: no cgroup memory/cpu controller on this machine");
        return;
    }
    let name = common::lab_name("lim");
    let text = "name: limits\nnodes:\n  h1: {memory: 64MiB}\n  h2: {cpu: 0.2}\n  h3:\n\
                links:\n  - [h1, h2]\n  - [h2, h3]\n";
    let topo = Topology::from_str(text, "<limits test>").unwrap();
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(name.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // Every exec joins its node's group.
    let g1 = NodeCgroup::locate(&ctl, &name, "h1").unwrap();
    let g2 = NodeCgroup::locate(&ctl, &name, "h2").unwrap();
    let own = lab
        .node("h1")
        .exec(["cat", "/proc/self/cgroup"])
        .await
        .unwrap();
    assert!(
        own.stdout_str().contains(&format!("/topolab/{name}/h1")),
        "{}",
        own.stdout_str()
    );
    // The CPU share is in h2's group: 0.2 of a 100 ms period.
    let c = ctl.cpu.as_ref().unwrap();
    let cpu_dir = g2.dirs().iter().find(|d| d.starts_with(&c.root)).unwrap();
    if c.v2 {
        let max = std::fs::read_to_string(cpu_dir.join("cpu.max")).unwrap();
        assert_eq!(max.trim(), "20000 100000");
    } else {
        let q = std::fs::read_to_string(cpu_dir.join("cpu.cfs_quota_us")).unwrap();
        assert_eq!(q.trim(), "20000");
    }

    // 200 MB in h1 (64 MiB limit): killed. The same hog in h3 (no limit) completes.
    let out = lab.node("h1").exec(hog(200)).await.unwrap();
    assert!(
        !out.success(),
        "the hog survived in h1: {}",
        out.stdout_str()
    );
    assert!(g1.oom_kills().unwrap_or(1) >= 1);
    let out = lab.node("h3").exec(hog(200)).await.unwrap();
    assert!(out.success(), "{}", out.stderr_str());
    assert_eq!(out.stdout_str().trim(), "200000000");

    let dirs: Vec<_> = g1.dirs().iter().chain(g2.dirs()).cloned().collect();
    lab.down().await.unwrap();
    for d in dirs {
        assert!(!d.exists(), "{} survived down", d.display());
        assert!(
            !d.parent().unwrap().exists(),
            "the lab's cgroup dir survived down"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_dirs_give_each_node_its_own_copy() {
    need_root!();
    let name = common::lab_name("prv");
    let host_dir = format!("/etc/tl-test-{}", std::process::id());
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(format!("{host_dir}/seed"), "from the machine\n").unwrap();
    let text = format!(
        "name: private\nnodes:\n\
         \x20 h1:\n    private_dirs: [{host_dir}]\n    files: {{{host_dir}/conf: {{content: \"one\\n\"}}}}\n\
         \x20 h2:\n    private_dirs: [{host_dir}]\n    files: {{{host_dir}/conf: {{content: \"two\\n\"}}}}\n\
         links:\n  - [h1, h2]\n"
    );
    let topo = Topology::from_str(&text, "<private test>").unwrap();
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(name.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let conf = format!("{host_dir}/conf");
    let seed = format!("{host_dir}/seed");
    for (node, want) in [("h1", "one\n"), ("h2", "two\n")] {
        let out = lab.node(node).exec(["cat", &conf]).await.unwrap();
        assert_eq!(out.stdout_str(), want, "{node}: {}", out.stderr_str());
        // Seeded with the machine's contents.
        let out = lab.node(node).exec(["cat", &seed]).await.unwrap();
        assert_eq!(out.stdout_str(), "from the machine\n");
    }
    // A write in one node stays there.
    let out = lab
        .node("h1")
        .exec(["sh", "-c", &format!("echo mine > {host_dir}/pid")])
        .await
        .unwrap();
    assert!(out.success(), "{}", out.stderr_str());
    let out = lab
        .node("h2")
        .exec(["test", "-e", &format!("{host_dir}/pid")])
        .await
        .unwrap();
    assert!(!out.success(), "h1's file is visible in h2");
    // The machine's directory is untouched.
    let mut names: Vec<String> = std::fs::read_dir(&host_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["seed"]);
    let dir = lab.run_dir().to_path_buf();
    lab.down().await.unwrap();
    assert!(!dir.exists());
    std::fs::remove_dir_all(&host_dir).unwrap();
}
