//! Report tests over hand-made results: case flattening and counts, the human layout, JUnit
//! read back by a real JUnit parser (`junit-parser`), escaping, and JSON completeness.

use serde_json::json;

use super::*;

fn step(name: &str, kind: &str, outcome: Outcome, seconds: f64) -> StepResult {
    StepResult {
        name: name.into(),
        kind: kind.into(),
        outcome,
        seconds,
        message: None,
        measured: serde_json::Value::Null,
        expected: serde_json::Value::Null,
        events: Vec::new(),
        children: Vec::new(),
    }
}

fn scenario(name: &str, outcome: Outcome, steps: Vec<StepResult>) -> ScenarioResult {
    ScenarioResult {
        name: name.into(),
        file: format!("scenarios/{name}.yaml"),
        lab: name.into(),
        seed: Some(42),
        outcome,
        seconds: 21.5,
        message: None,
        steps,
        artifacts: Vec::new(),
    }
}

/// A failover run: a failed throughput step with events, a parallel step (one child
/// failed), a repeat with same-named children, a skipped step; and a scenario whose lab
/// did not come up.
fn sample() -> Vec<ScenarioResult> {
    let mut wait = step("wait until h1 reaches h3", "wait", Outcome::Passed, 0.4);
    wait.measured = json!({"attempts": 2});
    let mut tput = step(
        "throughput h1 → h3 (tcp, 15s)",
        "throughput",
        Outcome::Failed,
        15.2,
    );
    tput.message = Some("outage 3.0 s, expected at least 4 s".into());
    tput.measured =
        json!({"outage_s": 3.0, "bits_per_second": 93_000_000u64, "intervals": [1.0, 0.0]});
    tput.expected = json!({"outage_min": "4s", "outage_max": "8s"});
    tput.events = vec![
        EventResult {
            at_s: 5.001,
            what: "link r1 — r2 down".into(),
            ok: true,
            message: None,
        },
        EventResult {
            at_s: 10.002,
            what: "link r1 — r2 up".into(),
            ok: false,
            message: Some("no such link".into()),
        },
    ];
    let mut par = step("both pings", "parallel", Outcome::Failed, 1.1);
    let mut bad_ping = step("ping h1 → h3", "ping", Outcome::Failed, 1.0);
    bad_ping.message = Some("loss 40% <above> 0% & \"rtt\" n/a\u{1b}[0m".into());
    bad_ping.measured = json!({"loss": 0.4});
    par.children = vec![step("ping h1 → h2", "ping", Outcome::Passed, 1.0), bad_ping];
    let mut rep = step("repeat 2× (1 step)", "repeat", Outcome::Passed, 2.0);
    rep.children = vec![
        step("sleep 1s", "sleep", Outcome::Passed, 1.0),
        step("sleep 1s", "sleep", Outcome::Passed, 1.0),
    ];
    let mut skipped = step("exec h1: ip route", "exec", Outcome::Skipped, 0.0);
    skipped.message = Some("an earlier step failed".into());
    let mut failover = scenario(
        "failover",
        Outcome::Failed,
        vec![wait, tput, par, rep, skipped],
    );
    failover.artifacts = vec!["artifacts/cap1.pcap".into()];

    let mut broken = scenario("broken", Outcome::Error, vec![]);
    broken.message = Some("lab did not come up: cannot create namespace".into());
    broken.seed = None;
    vec![failover, broken]
}

#[test]
fn cases_flatten_children_and_add_setup() {
    let results = sample();
    let names: Vec<String> = cases(&results[0]).into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "wait until h1 reaches h3",
            "throughput h1 → h3 (tcp, 15s)",
            "both pings / ping h1 → h2",
            "both pings / ping h1 → h3",
            "repeat 2× (1 step) / sleep 1s",
            "repeat 2× (1 step) / sleep 1s (2)",
            "exec h1: ip route",
        ]
    );
    let setup = cases(&results[1]);
    assert_eq!(setup.len(), 1);
    assert_eq!(setup[0].name, "setup");
    assert_eq!(
        tally(&results),
        Tally {
            cases: 8,
            passed: 4,
            failed: 2,
            errors: 1,
            skipped: 1
        }
    );
}

#[test]
fn a_parent_that_fails_on_its_own_is_a_case() {
    let mut rep = step("repeat 3× (1 step)", "repeat", Outcome::Error, 30.0);
    rep.message = Some("timed out after 30s".into());
    rep.children = vec![step("sleep 20s", "sleep", Outcome::Passed, 20.0)];
    let r = scenario("t", Outcome::Error, vec![rep]);
    let c = cases(&r);
    assert_eq!(c.len(), 2);
    assert_eq!(c[1].name, "repeat 3× (1 step)");
    assert_eq!(c[1].outcome, Outcome::Error);
}

#[test]
fn human_report() {
    let text = human(&sample());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "failover (scenarios/failover.yaml, lab failover, seed 42)"
    );
    assert!(lines[1].starts_with("  ✓ wait until h1 reaches h3 "));
    assert!(lines[1].ends_with("0.40s"));
    assert!(lines[2].starts_with("  ✗ throughput h1 → h3 (tcp, 15s)"));
    assert_eq!(lines[3].trim(), "outage 3.0 s, expected at least 4 s");
    assert!(lines[4].trim().starts_with("measured {"), "{}", lines[4]);
    assert!(lines[4].contains("expected {\"outage_max\":\"8s\""));
    assert_eq!(lines[5].trim(), "at   5.00s  link r1 — r2 down");
    assert_eq!(
        lines[6].trim(),
        "at  10.00s  link r1 — r2 up ✗: no such link"
    );
    assert!(lines[8].starts_with("    ✓ ping h1 → h2"), "{}", lines[8]);
    assert_eq!(
        lines[11].trim(),
        "measured {\"loss\":0.4}",
        "no empty expected"
    );
    assert!(text.contains("  - exec h1: ip route"));
    assert!(text.contains("skipped\n      an earlier step failed"));
    assert!(text.contains("  kept artifacts/cap1.pcap"));
    assert!(text.contains("FAILED failover in 21.5s: 4 passed, 2 failed, 0 errors, 1 skipped"));
    assert!(text.contains("  ! setup: lab did not come up: cannot create namespace"));
    assert!(!text.contains('\u{1b}'));
    assert_eq!(
        lines.last().copied(),
        Some("2 scenarios, 8 steps: 4 passed, 2 failed, 1 errors, 1 skipped")
    );
}

#[test]
fn junit_reads_back_with_a_junit_parser() {
    let xml = junit(&sample());
    let suites = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes()))
        .unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(
        (suites.tests, suites.failures, suites.errors, suites.skipped),
        (8, 2, 1, 1)
    );
    assert_eq!(suites.suites.len(), 2);

    let failover = &suites.suites[0];
    assert_eq!(failover.name, "failover");
    assert_eq!(
        (
            failover.tests,
            failover.failures,
            failover.errors,
            failover.skipped
        ),
        (7, 2, 0, 1)
    );
    assert_eq!(failover.cases.len(), 7, "one testcase per (flattened) step");
    assert_eq!(
        failover.properties.hashmap.get("seed").map(String::as_str),
        Some("42")
    );
    assert!(
        failover
            .system_out
            .as_deref()
            .unwrap()
            .contains("[[ATTACHMENT|artifacts/cap1.pcap]]")
    );
    for case in &failover.cases {
        assert_eq!(case.classname.as_deref(), Some("failover"));
    }
    let tput = &failover.cases[1];
    assert_eq!(tput.original_name, "throughput h1 → h3 (tcp, 15s)");
    assert!((tput.time - 15.2).abs() < 1e-9);
    let f = tput.status.failure_as_ref();
    assert_eq!(f.message, "outage 3.0 s, expected at least 4 s");
    assert_eq!(f.failure_type, "failed");
    assert!(f.text.contains("\"outage_s\": 3.0"), "{}", f.text);
    assert!(f.text.contains("expected: {"));
    assert!(
        tput.system_out
            .as_deref()
            .unwrap()
            .contains("link r1 — r2 up ✗: no such link")
    );

    let ping = &failover.cases[3];
    assert_eq!(ping.original_name, "both pings / ping h1 → h3");
    let m = &ping.status.failure_as_ref().message;
    assert!(m.starts_with("loss 40% <above> 0% & \"rtt\" n/a"), "{m}");
    assert!(!m.contains('\u{1b}'));
    assert!(failover.cases[4].status.is_success());
    assert_eq!(
        failover.cases[5].original_name,
        "repeat 2× (1 step) / sleep 1s (2)"
    );
    assert!(failover.cases[6].status.is_skipped());

    let broken = &suites.suites[1];
    assert_eq!((broken.tests, broken.errors), (1, 1));
    assert_eq!(broken.cases[0].original_name, "setup");
    let e = broken.cases[0].status.error_as_ref();
    assert_eq!(e.message, "lab did not come up: cannot create namespace");
}

#[test]
fn xml_escaping_and_invalid_characters() {
    assert_eq!(
        attr("a<b>&\"c'\nd\u{0}"),
        "a&lt;b&gt;&amp;&quot;c&apos;&#10;d\\u{0}"
    );
    assert_eq!(text("x\ny\u{1b}[0m\u{FFFE}"), "x\ny\\u{1b}[0m\\u{fffe}");
    let xml = junit(&sample());
    assert!(
        xml.chars()
            .all(|c| matches!(c, '\t' | '\n' | '\r') || xml_char(c)),
        "only XML 1.0 characters"
    );
    let empty = junit(&[]);
    let suites = junit_parser::from_reader(std::io::Cursor::new(empty.as_bytes())).unwrap();
    assert_eq!((suites.tests, suites.suites.len()), (0, 0));
}

#[test]
fn json_has_everything() {
    let results = sample();
    let v = json(&results);
    assert_eq!(v["version"], 1);
    assert_eq!(v["summary"]["counts"]["steps"], 8);
    assert_eq!(v["summary"]["counts"]["errors"], 1);
    let s = &v["scenarios"][0];
    assert_eq!(s["counts"]["failed"], 2);
    assert_eq!(s["steps"][1]["measured"]["bits_per_second"], 93_000_000u64);
    assert_eq!(s["steps"][1]["measured"]["intervals"][1], 0.0);
    assert_eq!(s["steps"][1]["events"][1]["message"], "no such link");
    assert_eq!(s["steps"][2]["children"][1]["measured"]["loss"], 0.4);
    assert_eq!(s["steps"][1]["outcome"], "failed");
    assert_eq!(
        v["scenarios"][1]["message"],
        "lab did not come up: cannot create namespace"
    );
    // Non-finite numbers cannot break the report.
    let mut odd = results[0].clone();
    odd.seconds = f64::NAN;
    assert!(json(&[odd.clone()])["summary"]["seconds"].is_number());
    assert!(human(&[odd.clone()]).contains("in 0.0s"));
    assert!(junit(&[odd]).contains("time=\"0.000\""));
}

/// Compares with `tests/golden/<name>`; `TOPOLAB_BLESS=1` rewrites it (then review the diff;
/// never edit by hand).
fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("TOPOLAB_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with TOPOLAB_BLESS=1 and review it",
            path.display()
        )
    });
    if let Some((i, (e, a))) = expected
        .lines()
        .chain(["<end>"])
        .zip(actual.lines().chain(["<end>"]))
        .enumerate()
        .find(|(_, (e, a))| e != a)
    {
        panic!(
            "{} differs at line {}:\n  expected: {e}\n  actual:   {a}\n\
             (if intended: TOPOLAB_BLESS=1 cargo test --lib scenario::report)",
            path.display(),
            i + 1
        );
    }
}

#[test]
fn golden_reports() {
    let results = sample();
    golden("scenario-report.txt", &human(&results));
    golden("scenario-report.xml", &junit(&results));
    let json = serde_json::to_string_pretty(&json(&results)).unwrap() + "\n";
    golden("scenario-report.json", &json);
}
