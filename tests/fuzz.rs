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

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use common::corpus::yaml_files;
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

fn cases() -> u32 {
    std::env::var("TOPOLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
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

#[derive(Debug, Clone)]
enum Mutation {
    FlipByte { at: usize, to: u8 },
    DropLine(usize),
    DuplicateLine(usize),
    ReplaceScalar { line: usize, scalar: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, to)| Mutation::FlipByte { at, to }),
        any::<usize>().prop_map(Mutation::DropLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), 0..SCALARS.len())
            .prop_map(|(line, scalar)| Mutation::ReplaceScalar { line, scalar }),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match *m {
        Mutation::FlipByte { at, to } => {
            let mut bytes = text.as_bytes().to_vec();
            if bytes.is_empty() {
                bytes.push(to);
            } else {
                let i = at % bytes.len();
                bytes[i] = to;
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::DropLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::ReplaceScalar { line, scalar } => {
            let l = &mut lines[line % n];
            // The value after the last `: `, or a list item's value, or the whole line.
            let cut = l
                .rfind(": ")
                .map(|i| i + 2)
                .or_else(|| l.rfind("- ").map(|i| i + 2));
            match cut {
                Some(i) => {
                    l.truncate(i);
                    l.push_str(SCALARS[scalar]);
                }
                None => *l = SCALARS[scalar].to_string(),
            }
        }
    }
    lines.join("\n") + "\n"
}

/// Runs `check` on `cases()` mutants of the seeds; a panic fails with the mutant's text.
fn fuzz(seeds: Vec<String>, check: fn(&str)) {
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let strategy = (0..seeds.len(), prop::collection::vec(mutation(), 1..4));
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |(seed, mutations)| {
        let text = mutations
            .iter()
            .fold(seeds[seed].clone(), |t, m| apply(&t, m));
        let outcome = std::panic::catch_unwind(|| check(&text));
        prop_assert!(outcome.is_ok(), "panicked on this input:\n{text}");
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}\nsave the input as tests/fuzz/<name>.yaml and fix the panic");
    }
}

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
    fuzz(seeds(&["topologies", "tests/bad", "tests/fuzz"]), topology);
}

#[test]
fn scenario_parser_and_checker_never_panic() {
    fuzz(
        seeds(&["scenarios", "tests/bad_scenarios", "tests/fuzz"]),
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
