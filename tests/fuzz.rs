//! Fuzzing in `cargo test`: mutated topology and scenario files go through the parser, the
//! checker and (for topologies that pass) compile, and must give a result or an error —
//! never a panic, never a hang.
//!
//! Seeds are every example and error-corpus file (`topologies/`, `scenarios/`, `tests/bad/`,
//! `tests/bad_scenarios/`, `tests/fuzz/`). A case applies a few mutations to one seed:
//! byte flips, dropped and duplicated lines, a YAML scalar replaced by a random one.
//! The number of cases is fixed (CI time is bounded); `TOPOLAB_FUZZ_CASES=100000` runs
//! longer locally. A crasher found becomes a file under `tests/fuzz/`, which
//! `regressions_do_not_panic` replays on every run (and which seeds later runs).

mod common;

use std::path::PathBuf;

use common::corpus::yaml_files;
use common::mutate::fuzz;
use topolab::topology::Topology;

fn seeds(dirs: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = dirs
        .iter()
        .flat_map(|d| yaml_files(d))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    out.sort();
    out
}

/// Scalars that stress the checks: limits, odd units, names, paths, YAML specials.
const SCALARS: &[&str] = &[
    "0",
    "1",
    "-1",
    "65535",
    "65536",
    "1279",
    "99999",
    "100001",
    "18446744073709551616",
    "4294967296",
    "1.5",
    "1e9",
    "0x10",
    "~",
    "null",
    "true",
    "''",
    "\"\"",
    "[]",
    "{}",
    "10ms",
    "61s",
    "99999999s",
    "0ms",
    "1.5ns",
    "100mbit",
    "2tbit",
    "0mbit",
    "64KB",
    "4GiB",
    "1000001",
    "150%",
    "0.5%",
    "1%",
    "lo",
    "all",
    "default",
    "ifb101",
    "eth0",
    "h1:eth%d",
    "h1:",
    ":eth0",
    "h1:h1",
    "../../etc/passwd",
    "/dev/zero",
    "/etc/passwd",
    "traces/x",
    "kernel.x",
    "net..x",
    "net.ipv4.ip_forward",
    "a-",
    "é",
    "\"\\u0000\"",
    "&a x",
    "*a",
    "!!binary aGVsbG8=",
    "<<: {}",
    "fd00::1/64",
    "10.0.0.1/33",
    "10.0.0.0/8",
    "${h1.ipv4}",
    "${",
    "star",
    "tree",
    "fattree",
    "switch",
    "router",
];

fn topology(text: &str) {
    if let Ok(t) = Topology::from_str(text, "fuzz.yaml") {
        let _ = topolab::compile::compile(&t, "fuzz");
        let _ = topolab::compile::graph::to_dot(&t);
    }
}

fn scenario(text: &str) {
    if let Ok(s) = topolab::scenario::from_str(text, "fuzz.yaml")
        && let Ok(t) = topolab::scenario::topology(&s)
    {
        let _ = topolab::compile::compile(&t, "fuzz");
    }
}

#[test]
fn topology_parser_checker_and_compile_never_panic() {
    fuzz(
        seeds(&["topologies", "tests/bad", "tests/fuzz"]),
        SCALARS,
        topology,
    );
}

#[test]
fn scenario_parser_and_checker_never_panic() {
    fuzz(
        seeds(&["scenarios", "tests/bad_scenarios", "tests/fuzz"]),
        SCALARS,
        scenario,
    );
}

/// Every crasher ever found, replayed as both kinds of file.
#[test]
fn regressions_do_not_panic() {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fuzz"]
        .iter()
        .collect();
    for path in yaml_files("tests/fuzz") {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        assert!(
            std::panic::catch_unwind(|| topology(&text)).is_ok(),
            "{name} panics as a topology"
        );
        assert!(
            std::panic::catch_unwind(|| scenario(&text)).is_ok(),
            "{name} panics as a scenario"
        );
    }
}
