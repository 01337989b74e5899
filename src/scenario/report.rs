//! Reports over finished runs: a human summary, JUnit XML for CI, and JSON with everything.
//!
//! All three read the same [`ScenarioResult`] slices and count the same way. Test cases are
//! the *leaves* of the step tree: a `parallel`/`repeat` step contributes its children, named
//! `parent / child`, not itself — unless it went wrong on its own (it failed or errored while
//! none of its children did, say a timeout), then it is a case too. A scenario that errored
//! outside any step (the lab did not come up, the scenario timed out) adds one case:
//! `setup` when no step ran, `scenario` otherwise. So "M steps" in the human summary is the
//! number of JUnit `<testcase>`s.
//!
//! ```text
//!   ScenarioResult ─┬─ cases() ─▶ [Case{name, outcome, time, step?}] ─┬─▶ human(): tree + tally
//!                   │                                                  └─▶ junit(): XML
//!                   └─ serde ─────────────────────────────────────────────▶ json()
//! ```
//!
//! JUnit follows the de-facto schema GitLab, GitHub (test-reporter actions) and Jenkins read:
//! `<testsuites>` ▸ one `<testsuite>` per scenario ▸ one `<testcase>` per case, with
//! `classname` = scenario name, `<failure message type="failed">` (body: the message and the
//! measured and expected values as JSON), `<error>`, `<skipped/>`, `during:` events in the
//! case's `<system-out>`, and artifacts as `[[ATTACHMENT|path]]` lines in the suite's
//! `<system-out>` (GitLab and Jenkins show them). Everything is escaped; characters XML 1.0
//! cannot carry (most control characters) are written as `\u{…}` text.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::model::{EventResult, Outcome, ScenarioResult, StepResult};

/// One reported test case.
struct Case<'r> {
    name: String,
    outcome: Outcome,
    seconds: f64,
    message: Option<&'r str>,
    /// None for the scenario-level case.
    step: Option<&'r StepResult>,
}

/// Counts of cases by outcome.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub cases: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        self.cases += 1;
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Error => self.errors += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.cases += other.cases;
        self.passed += other.passed;
        self.failed += other.failed;
        self.errors += other.errors;
        self.skipped += other.skipped;
    }
}

/// The cases of one scenario, in order, with unique names.
fn cases(result: &ScenarioResult) -> Vec<Case<'_>> {
    let mut out = Vec::new();
    for step in &result.steps {
        flatten(step, "", &mut out);
    }
    if let Some(message) = result.message.as_deref()
        && matches!(result.outcome, Outcome::Error | Outcome::Failed)
        && !out.iter().any(|c| c.outcome == result.outcome)
    {
        let ran = out.iter().any(|c| c.outcome != Outcome::Skipped);
        out.push(Case {
            name: if ran { "scenario" } else { "setup" }.into(),
            outcome: result.outcome,
            seconds: if ran { 0.0 } else { result.seconds },
            message: Some(message),
            step: None,
        });
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for case in &mut out {
        let n = seen.entry(case.name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            case.name = format!("{} ({n})", case.name);
        }
    }
    out
}

fn flatten<'r>(step: &'r StepResult, prefix: &str, out: &mut Vec<Case<'r>>) {
    let name = if prefix.is_empty() {
        step.name.clone()
    } else {
        format!("{prefix} / {}", step.name)
    };
    let first_child = out.len();
    for child in &step.children {
        flatten(child, &name, out);
    }
    let bad = matches!(step.outcome, Outcome::Failed | Outcome::Error);
    let explained = out[first_child..].iter().any(|c| c.outcome == step.outcome);
    if step.children.is_empty() || (bad && !explained) {
        out.push(Case {
            name,
            outcome: step.outcome,
            seconds: step.seconds,
            message: step.message.as_deref(),
            step: Some(step),
        });
    }
}

/// Counts over every scenario.
pub fn tally(results: &[ScenarioResult]) -> Tally {
    let mut total = Tally::default();
    for r in results {
        total.merge(scenario_tally(&cases(r)));
    }
    total
}

fn scenario_tally(cases: &[Case<'_>]) -> Tally {
    let mut t = Tally::default();
    for c in cases {
        t.add(c.outcome);
    }
    t
}

fn summary_line(scenarios: usize, t: Tally) -> String {
    format!(
        "{}, {}: {} passed, {} failed, {} errors, {} skipped",
        plural(scenarios, "scenario"),
        plural(t.cases, "step"),
        t.passed,
        t.failed,
        t.errors,
        t.skipped
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Seconds for display and XML: finite, not negative.
fn secs(s: f64) -> f64 {
    if s.is_finite() && s > 0.0 { s } else { 0.0 }
}

// ---- human ------------------------------------------------------------------------------

/// Width of the name column in the human report.
const NAME_WIDTH: usize = 56;

/// A terminal report: each scenario's steps as a tree with ✓ ✗ ! - marks and times,
/// failures with their message and the measured and expected values, `during:` events with
/// their times, then one summary line over everything.
pub fn human(results: &[ScenarioResult]) -> String {
    let mut out = String::new();
    for r in results {
        let seed = r.seed.map(|s| format!(", seed {s}")).unwrap_or_default();
        let _ = writeln!(out, "{} ({}, lab {}{seed})", r.name, r.file, r.lab);
        for step in &r.steps {
            human_step(&mut out, step, 1);
        }
        let cases = cases(r);
        if let Some(setup) = cases.iter().find(|c| c.step.is_none()) {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                mark(setup.outcome),
                setup.name,
                one_line(setup.message.unwrap_or(""))
            );
        } else if let Some(message) = &r.message {
            let _ = writeln!(out, "  note: {}", one_line(message));
        }
        for artifact in &r.artifacts {
            let _ = writeln!(out, "  kept {artifact}");
        }
        let t = scenario_tally(&cases);
        let _ = writeln!(
            out,
            "{} {} in {:.1}s: {} passed, {} failed, {} errors, {} skipped\n",
            word(r.outcome),
            r.name,
            secs(r.seconds),
            t.passed,
            t.failed,
            t.errors,
            t.skipped
        );
    }
    out.push_str(&summary_line(results.len(), tally(results)));
    out.push('\n');
    out
}

fn human_step(out: &mut String, step: &StepResult, depth: usize) {
    let indent = "  ".repeat(depth);
    let width = NAME_WIDTH.saturating_sub(indent.len());
    let name = one_line(&step.name);
    let time = match step.outcome {
        Outcome::Skipped => "skipped".to_string(),
        _ => format!("{:.2}s", secs(step.seconds)),
    };
    let _ = writeln!(
        out,
        "{indent}{} {name:<width$} {time:>8}",
        mark(step.outcome)
    );
    let detail = format!("{indent}    ");
    if matches!(step.outcome, Outcome::Failed | Outcome::Error) {
        if let Some(m) = &step.message {
            let _ = writeln!(out, "{detail}{}", one_line(m));
        }
        if step.outcome == Outcome::Failed && !is_empty(&step.measured) {
            let mut line = format!("{detail}measured {}", compact(&step.measured));
            if !is_empty(&step.expected) {
                line.push_str("  expected ");
                line.push_str(&compact(&step.expected));
            }
            let _ = writeln!(out, "{line}");
        }
    } else if step.outcome == Outcome::Skipped
        && let Some(m) = &step.message
    {
        let _ = writeln!(out, "{detail}{}", one_line(m));
    }
    if let Some(k) = key_figures(step) {
        let _ = writeln!(out, "{detail}{k}");
    }
    for e in &step.events {
        let _ = writeln!(out, "{detail}{}", event_line(e));
    }
    for child in &step.children {
        human_step(out, child, depth + 1);
    }
}

/// The figures a reader looks for first, for steps that measure something.
fn key_figures(step: &StepResult) -> Option<String> {
    let m = &step.measured;
    let f = |v: &serde_json::Value| v.as_f64();
    match step.kind.as_str() {
        "throughput" if m["protocol"] == "tcp" => {
            let mut s = format!(
                "goodput {:.2} Mbit/s, {} retransmits",
                f(&m["bits_per_s"])? / 1e6,
                m["retransmits"].as_u64().unwrap_or(0)
            );
            let windows = m["outage_windows"].as_array().filter(|w| !w.is_empty());
            if let Some(w) = windows {
                let list: Vec<String> = w
                    .iter()
                    .filter_map(|x| Some(format!("{:.1}–{:.1} s", f(&x[0])?, f(&x[1])?)))
                    .collect();
                s.push_str(&format!(
                    ", outage {:.1} s ({})",
                    f(&m["outage_s"]).unwrap_or(0.0),
                    list.join(", ")
                ));
            }
            Some(s)
        }
        "throughput" => Some(format!(
            "goodput {:.2} Mbit/s of {:.2} offered, loss {:.2}%, jitter σ {:.3} ms",
            f(&m["bits_per_s"])? / 1e6,
            f(&m["offered_bits_per_s"])? / 1e6,
            f(&m["loss"])? * 100.0,
            f(&m["one_way_delay"]["std_ms"]).unwrap_or(0.0)
        )),
        "ping" => {
            let (sent, received) = (m["sent"].as_u64()?, m["received"].as_u64()?);
            let rtt = &m["rtt"];
            Some(match f(&rtt["min_ms"]) {
                Some(min) => format!(
                    "{received}/{sent} answered, rtt min/avg/max {:.3}/{:.3}/{:.3} ms",
                    min,
                    f(&rtt["mean_ms"])?,
                    f(&rtt["max_ms"])?
                ),
                None => format!("{received}/{sent} answered"),
            })
        }
        "pingall" => Some(format!(
            "{}/{} pairs reachable",
            m["reachable"].as_u64()?,
            m["total"].as_u64()?
        )),
        _ => None,
    }
}

fn event_line(e: &EventResult) -> String {
    let mut line = format!("at {:>6.2}s  {}", secs(e.at_s), one_line(&e.what));
    if !e.ok {
        line.push_str(" ✗");
        if let Some(m) = &e.message {
            line.push_str(": ");
            line.push_str(&one_line(m));
        }
    }
    line
}

fn mark(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "✓",
        Outcome::Failed => "✗",
        Outcome::Error => "!",
        Outcome::Skipped => "-",
    }
}

fn word(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "PASSED",
        Outcome::Failed => "FAILED",
        Outcome::Error => "ERROR",
        Outcome::Skipped => "SKIPPED",
    }
}

/// Control characters (newlines in messages, escapes in command output) as spaces.
fn one_line(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

// ---- JUnit ------------------------------------------------------------------------------

/// JUnit XML: one `<testsuite>` per scenario, one `<testcase>` per case (see the module
/// documentation for what a case is).
pub fn junit(results: &[ScenarioResult]) -> String {
    let mut suites = String::new();
    let mut total = Tally::default();
    let mut total_time = 0.0;
    for r in results {
        let cases = cases(r);
        let t = scenario_tally(&cases);
        total.merge(t);
        total_time += secs(r.seconds);
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            attr(&r.name),
            t.cases,
            t.failed,
            t.errors,
            t.skipped,
            secs(r.seconds)
        );
        suites.push_str("    <properties>\n");
        let mut props = vec![("file", r.file.clone()), ("lab", r.lab.clone())];
        if let Some(seed) = r.seed {
            props.push(("seed", seed.to_string()));
        }
        for (k, v) in props {
            let _ = writeln!(
                suites,
                "      <property name=\"{k}\" value=\"{}\"/>",
                attr(&v)
            );
        }
        suites.push_str("    </properties>\n");
        for case in &cases {
            junit_case(&mut suites, case, &r.name);
        }
        let mut suite_out = Vec::new();
        if let (Some(m), true) = (&r.message, cases.iter().all(|c| c.step.is_some())) {
            suite_out.push(m.clone());
        }
        suite_out.extend(r.artifacts.iter().map(|a| format!("[[ATTACHMENT|{a}]]")));
        if !suite_out.is_empty() {
            let _ = writeln!(
                suites,
                "    <system-out>{}</system-out>",
                text(&suite_out.join("\n"))
            );
        }
        suites.push_str("  </testsuite>\n");
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"topolab\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        total.cases, total.failed, total.errors, total.skipped, total_time
    );
    out.push_str(&suites);
    out.push_str("</testsuites>\n");
    out
}

fn junit_case(out: &mut String, case: &Case<'_>, classname: &str) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
        attr(&case.name),
        attr(classname),
        secs(case.seconds)
    );
    let events: Vec<String> = case
        .step
        .map(|s| s.events.iter().map(event_line).collect())
        .unwrap_or_default();
    if case.outcome == Outcome::Passed && events.is_empty() {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    let message = case.message.unwrap_or(match case.outcome {
        Outcome::Failed => "failed",
        Outcome::Error => "error",
        _ => "",
    });
    match case.outcome {
        Outcome::Failed | Outcome::Error => {
            let (tag, kind) = if case.outcome == Outcome::Failed {
                ("failure", "failed")
            } else {
                ("error", "error")
            };
            let mut body = message.to_string();
            if let Some(step) = case.step {
                if !is_empty(&step.measured) {
                    let _ = write!(body, "\nmeasured: {}", pretty(&step.measured));
                }
                if !is_empty(&step.expected) {
                    let _ = write!(body, "\nexpected: {}", pretty(&step.expected));
                }
            }
            let _ = writeln!(
                out,
                "      <{tag} message=\"{}\" type=\"{kind}\">{}</{tag}>",
                attr(message),
                text(&body)
            );
        }
        Outcome::Skipped if message.is_empty() => out.push_str("      <skipped/>\n"),
        Outcome::Skipped => {
            let _ = writeln!(out, "      <skipped message=\"{}\"/>", attr(message));
        }
        Outcome::Passed => {}
    }
    if !events.is_empty() {
        let _ = writeln!(
            out,
            "      <system-out>{}</system-out>",
            text(&events.join("\n"))
        );
    }
    out.push_str("    </testcase>\n");
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Escaped for an attribute value (quotes and line breaks too).
fn attr(s: &str) -> String {
    escape(s, true)
}

/// Escaped for element content.
fn text(s: &str) -> String {
    escape(s, false)
}

fn escape(s: &str, in_attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attr => out.push_str("&quot;"),
            '\'' if in_attr => out.push_str("&apos;"),
            '\n' if in_attr => out.push_str("&#10;"),
            '\r' if in_attr => out.push_str("&#13;"),
            '\t' if in_attr => out.push_str("&#9;"),
            '\n' | '\r' | '\t' => out.push(c),
            c if xml_char(c) => out.push(c),
            c => out.push_str(&c.escape_unicode().to_string()),
        }
    }
    out
}

/// XML 1.0's `Char` production (tab, newline and carriage return handled by the caller).
fn xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..=char::MAX)
}

// ---- JSON -------------------------------------------------------------------------------

/// Everything: each scenario result as recorded (every step, child, event, measured and
/// expected value), with per-scenario and overall counts of cases.
pub fn json(results: &[ScenarioResult]) -> Value {
    let scenarios: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("counts".into(), counts(scenario_tally(&cases(r))));
            }
            v
        })
        .collect();
    json!({
        "format": "topolab-scenario-results",
        "version": 1,
        "summary": {
            "scenarios": results.len(),
            "seconds": results.iter().map(|r| secs(r.seconds)).sum::<f64>(),
            "counts": counts(tally(results)),
        },
        "scenarios": scenarios,
    })
}

fn counts(t: Tally) -> Value {
    json!({
        "steps": t.cases,
        "passed": t.passed,
        "failed": t.failed,
        "errors": t.errors,
        "skipped": t.skipped,
    })
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
