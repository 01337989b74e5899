//! Mutation fuzzing for text inputs (topology, scenario, imported files): a case applies a
//! few mutations to one seed — byte flips, dropped and duplicated lines, a value replaced
//! by one of a list of stress scalars — and the check must not panic.
//! `TOPOLAB_FUZZ_CASES=100000` runs longer locally.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per fuzz run: `TOPOLAB_FUZZ_CASES`, default 1000.
pub fn cases() -> u32 {
    std::env::var("TOPOLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

#[derive(Debug, Clone)]
pub enum Mutation {
    FlipByte { at: usize, to: u8 },
    DropLine(usize),
    DuplicateLine(usize),
    ReplaceScalar { line: usize, scalar: usize },
}

fn mutation(scalars: usize) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, to)| Mutation::FlipByte { at, to }),
        any::<usize>().prop_map(Mutation::DropLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), 0..scalars)
            .prop_map(|(line, scalar)| Mutation::ReplaceScalar { line, scalar }),
    ]
}

pub fn apply(text: &str, m: &Mutation, scalars: &[&str]) -> String {
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
                    l.push_str(scalars[scalar]);
                }
                None => *l = scalars[scalar].to_string(),
            }
        }
    }
    lines.join("\n") + "\n"
}

/// Runs `check` on `cases()` mutants of the seeds (mutations may put one of `scalars` in
/// place of a value); a panic fails with the mutant's text.
pub fn fuzz(seeds: Vec<String>, scalars: &[&str], check: fn(&str)) {
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let strategy = (
        0..seeds.len(),
        prop::collection::vec(mutation(scalars.len()), 1..4),
    );
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |(seed, mutations)| {
        let text = mutations
            .iter()
            .fold(seeds[seed].clone(), |t, m| apply(&t, m, scalars));
        let outcome = std::panic::catch_unwind(|| check(&text));
        prop_assert!(outcome.is_ok(), "panicked on this input:\n{text}");
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}\nsave the input under tests/fuzz/ and fix the panic");
    }
}
