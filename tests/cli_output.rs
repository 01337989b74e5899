//! The binary's output: every command exits quietly when its stdout closes (as `ls | head`
//! does), the detached supervisor never writes to the invoking terminal (a closed pipe
//! cannot take its lab down), and the messages tell the truth (hints name the binary as
//! invoked, the hidden `_fabric` namespace is no node, `validate` knows scenario files).

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};

use common::{DownOnDrop, repo_path, topolab};

const EMULATION: &str = "topologies/emulation.yaml";

/// Runs `cmd` with stdout a pipe whose read end is already closed: its first write fails.
fn with_closed_stdout(mut cmd: Command) -> Output {
    let (r, w) = std::io::pipe().unwrap();
    drop(r);
    cmd.stdin(Stdio::null())
        .stdout(w)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// A quiet exit: status 0, no panic, nothing on stderr.
fn assert_quiet(what: &str, out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(
        out.status.success(),
        "{what}: status {:?}, stderr: {err}",
        out.status
    );
    assert!(err.is_empty(), "{what}: stderr: {err}");
}

fn args(a: &[&str]) -> Command {
    let mut c = topolab();
    c.args(a);
    c
}

#[test]
fn file_commands_exit_quietly_on_a_closed_stdout() {
    let f = repo_path(EMULATION);
    let f = f.to_str().unwrap();
    let (graphml, clab) = (
        repo_path("topologies/abilene.graphml"),
        repo_path("topologies/pair.clab.yml"),
    );
    let (graphml, clab) = (graphml.to_str().unwrap(), clab.to_str().unwrap());
    for a in [
        &["import", "--hosts", graphml][..],
        &["import", clab],
        &["import", "tree,2,3"],
        &["plan", graphml],
        &["validate", clab],
        &["plan", f],
        &["plan", f, "--json"],
        &["plan", f, "--shards", "2"],
        &["plan", f, "--shards", "2", "--json"],
        &["graph", f],
        &["graph", f, "--format", "mermaid"],
        &["schema"],
        &["validate", f],
        &["--help"],
        &["plan", "--help"],
        &["--version"],
    ] {
        assert_quiet(&a.join(" "), &with_closed_stdout(args(a)));
    }
}

#[test]
fn lab_commands_exit_quietly_on_a_closed_stdout_and_up_d_keeps_its_lab() {
    need_root!();
    let name = common::lab_name("pipe");
    let _guard = DownOnDrop(name.clone());
    let f = repo_path(EMULATION);
    // `up -d F | head -c0`: the old supervisor panicked on the closed pipe and its panic
    // handler tore the lab down.
    let up = with_closed_stdout(args(&["up", "-d", "--name", &name, f.to_str().unwrap()]));
    assert_quiet("up -d", &up);
    for a in [
        &["ls"][..],
        &["ls", "--json"],
        &["inspect", &name],
        &["inspect", &name, "--json"],
        &["link", &name, "ra:slow", "rb:slow", "show"],
        &["link", &name, "ra:slow", "rb:slow", "show", "--json"],
    ] {
        assert_quiet(&a.join(" "), &with_closed_stdout(args(a)));
    }
    // The lab outlived its closed pipe: its supervisor still answers.
    let inspect = args(&["inspect", &name, "--json"]).output().unwrap();
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(status["name"], name.as_str());
    let down = args(&["down", &name]).output().unwrap();
    assert!(down.status.success());
}

#[test]
fn up_d_hints_name_the_binary_as_invoked_and_hide_the_fabric() {
    need_root!();
    let name = common::lab_name("hint");
    let _guard = DownOnDrop(name.clone());
    let me = "./my-topolab";
    let f = repo_path(EMULATION);
    let up = topolab()
        .arg0(me)
        .args(["up", "-d", "--name", &name, f.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&up.stdout);
    assert!(
        up.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&up.stderr)
    );
    // The terminal is free after `up -d`; the hints name the binary as it was run.
    assert!(!text.contains("another terminal"), "{text}");
    assert!(text.contains(&format!("  {me} down {name}\n")), "{text}");
    assert!(text.contains(&format!("  {me} inspect {name}\n")), "{text}");
    assert!(!text.contains("  topolab "), "{text}");
    // The fabric namespace is plumbing: not listed, not counted, not a node to enter.
    assert!(!text.contains("_fabric"), "{text}");
    assert!(text.contains(": 6 nodes, 6 links"), "{text}");
    let exec = args(&["exec", &name, "_fabric", "--", "true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&exec.stderr);
    assert!(!exec.status.success(), "exec into _fabric ran");
    assert!(err.contains("no node `_fabric`"), "{err}");
    assert!(!err.contains("_fabric,"), "listed as a node: {err}");
    // Hints on errors name it too.
    let bad = topolab()
        .arg0(me)
        .args(["link", &name, "ra:slow", "rb:slow", "frob"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains(&format!("{me} link LAB A B")), "{err}");
    let down = args(&["down", &name]).output().unwrap();
    assert!(down.status.success());
}

#[test]
fn validate_counts_user_nodes_only() {
    let f = repo_path(EMULATION);
    let out = args(&["validate", f.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ok — 6 nodes, 6 links"), "{text}");
    // Topology files stay topology files.
    for f in common::corpus::yaml_files("topologies") {
        let out = args(&["validate", f.to_str().unwrap()]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(", lab name `"),
            "{text}"
        );
    }
}

#[test]
fn validate_checks_scenario_files_as_scenarios() {
    for f in common::corpus::yaml_files("scenarios") {
        let out = args(&["validate", f.to_str().unwrap()]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(": ok — scenario `"), "{text}");
    }
    // A broken scenario gets the scenario checker's diagnostic, with its position.
    let bad = repo_path("tests/bad_scenarios/at_after_timeout.yaml");
    let out = args(&["validate", bad.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is after this step's timeout"), "{err}");
    assert!(err.contains("at_after_timeout.yaml:11:13"), "{err}");
    assert!(!err.contains("unknown key"), "{err}");
}

#[test]
fn errors_on_closed_pipes_keep_their_status() {
    // An error rendered (by miette, or clap's usage error) into a closed stderr: the
    // command's own failure status, not a panic's 101.
    for (a, code) in [
        (&["validate", "/nonexistent/topolab.yaml"][..], 1),
        (&["--no-such-flag"], 2),
        (&["plan", "/nonexistent/topolab.yaml", "--json"], 1),
    ] {
        let (r, w) = std::io::pipe().unwrap();
        drop(r);
        let status = args(a)
            .stdin(Stdio::null())
            .stdout(w.try_clone().unwrap())
            .stderr(w)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(code), "{}", a.join(" "));
    }
}

/// `plan --shards N --out F` prints the split and writes a bundle that reads back; `--out`
/// without a split says what it lacks; a machines file's mistake points at its line.
#[test]
fn plan_shards_writes_a_bundle() {
    let dir = std::env::temp_dir().join(format!("topolab-plan-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = dir.join("bundle.json");
    let lab = repo_path("tests/data/shard-lab.yaml");
    let out = args(&[
        "plan",
        lab.to_str().unwrap(),
        "--shards",
        "3",
        "--out",
        bundle.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let written = std::fs::read_to_string(&bundle);
    let no_split = args(&[
        "plan",
        lab.to_str().unwrap(),
        "--out",
        bundle.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let bad = args(&[
        "plan",
        lab.to_str().unwrap(),
        "--machines",
        repo_path("tests/bad_machines/weight_zero.yaml")
            .to_str()
            .unwrap(),
    ])
    .output()
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("lab split: 12 nodes over 3 shards — method metis"),
        "{text}"
    );
    assert!(text.contains("shard 2: h5 h6 s3 r3"), "{text}");
    let sharded: topolab::compile::shard::ShardedPlan =
        serde_json::from_str(&written.unwrap()).unwrap();
    assert_eq!(sharded.version, 1);
    assert_eq!(sharded.shards.cross.len(), 3);
    assert_eq!(sharded.plan.lab, "split");
    assert!(!no_split.status.success());
    assert!(
        String::from_utf8_lossy(&no_split.stderr).contains("give --shards N or --machines FILE")
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("machine weight 0 is out of range") && err.contains(":6:13"),
        "{err}"
    );
}

/// A lab link whose MTU the underlay cannot carry is refused by `plan`, with the numbers:
/// 1500-byte links over a 1500-byte underlay (VXLAN needs 1550), nothing written; the
/// same lab over a 1550-byte underlay plans.
#[test]
fn plan_refuses_links_the_underlay_mtu_cannot_carry() {
    let lab = repo_path("tests/data/shard-lab.yaml");
    let bundle = std::env::temp_dir().join(format!("topolab-plan-mtu-{}.json", std::process::id()));
    let refused = args(&[
        "plan",
        lab.to_str().unwrap(),
        "--shards",
        "3",
        "--underlay-mtu",
        "1500",
        "--out",
        bundle.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let written = bundle.exists();
    let fits = args(&[
        "plan",
        lab.to_str().unwrap(),
        "--shards",
        "3",
        "--underlay-mtu",
        "1550",
    ])
    .output()
    .unwrap();
    let _ = std::fs::remove_file(&bundle);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("has MTU 1500, but the underlay of machine")
            && err.contains("VXLAN needs 1550 (link MTU + 50)"),
        "{err}"
    );
    assert!(!written, "a refused plan wrote its bundle");
    assert!(
        fits.status.success(),
        "{}",
        String::from_utf8_lossy(&fits.stderr)
    );
}
