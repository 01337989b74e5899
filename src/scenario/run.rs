//! The scenario runner: bring the lab up under a unique name, run the steps (each with a
//! timeout and its `during:` timeline), tear the lab down whatever happened, and return
//! a [`ScenarioResult`] with every measured value.
//!
//! ```text
//!   run ─▶ load topology (seed override) ─▶ Lab::up (unique name)
//!       ─▶ for each step: timeout( action ∥ during-events at their offsets )
//!              failed and not continue_on_failure ─▶ the rest are Skipped
//!       ─▶ stop captures ─▶ Lab::down
//! ```
//! The lab is shared behind an async mutex, held only for the moment an operation needs
//! it (a link change, building a command); probes run on blocking threads with the
//! namespace names they need, so `parallel` steps and timelines really overlap.
//! Dropping the future (Ctrl-C) drops the last reference to the lab, whose `Drop` tears
//! it down; timeline tasks are aborted with their step.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::json;

use crate::compile::Plan;
use crate::lab::{Lab, LabOptions};
use crate::tools::capture::Capture;
use crate::topology::Topology;

use super::model::*;
use super::steps;

/// Where a run keeps its files, and what to call its lab.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Captures go to `<artifacts>/<lab>/`.
    pub artifacts: PathBuf,
    /// Default: derived from the scenario name, unique per process and run.
    pub lab_name: Option<String>,
    /// Bounds for the scenario's topology (`--max-nodes`).
    pub limits: crate::topology::Limits,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            artifacts: PathBuf::from("topolab-artifacts"),
            lab_name: None,
            limits: Default::default(),
        }
    }
}

/// What steps share while a scenario runs.
#[derive(Clone)]
pub struct Ctx {
    pub lab: Arc<tokio::sync::Mutex<Lab>>,
    pub plan: Arc<Plan>,
    pub seed: u64,
    pub artifacts: PathBuf,
    pub captures: Arc<std::sync::Mutex<HashMap<String, Capture>>>,
    pub kept: Arc<std::sync::Mutex<Vec<String>>>,
}

/// What an action found: failures (empty = passed), measured and expected values.
#[derive(Default)]
pub struct Found {
    pub failures: Vec<String>,
    pub measured: serde_json::Value,
    pub expected: serde_json::Value,
    pub children: Vec<StepResult>,
}

static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A lab name for this run: the scenario name tamed, plus pid and a counter (≤ 40 bytes).
pub fn lab_name_for(scenario: &str) -> String {
    let mut base: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    base.truncate(22);
    let base = base.trim_matches('-');
    let base = if base.is_empty() { "scenario" } else { base };
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{base}-{}-{n}", std::process::id() % 1_000_000)
}

fn load_topology(s: &Scenario, limits: crate::topology::Limits) -> Result<Topology, String> {
    super::topology_with(s, limits).map_err(|e| e.one_line())
}

/// Runs one scenario from start to teardown.
pub async fn run(s: &Scenario, opts: &RunOptions) -> ScenarioResult {
    let started = Instant::now();
    let lab_name = opts
        .lab_name
        .clone()
        .unwrap_or_else(|| lab_name_for(&s.name));
    let mut result = ScenarioResult {
        name: s.name.clone(),
        file: s.source.name.clone(),
        lab: lab_name.clone(),
        seed: s.seed,
        outcome: Outcome::Error,
        seconds: 0.0,
        message: None,
        steps: vec![],
        artifacts: vec![],
    };
    let mut topology = match load_topology(s, opts.limits) {
        Ok(t) => t,
        Err(e) => {
            result.message = Some(format!("topology: {e}"));
            return result;
        }
    };
    if let Some(seed) = s.seed {
        topology.defaults.seed = seed;
    }
    let seed = topology.defaults.seed;
    result.seed = Some(seed);
    let lab = match Lab::up_with(
        &topology,
        LabOptions {
            name: Some(lab_name.clone()),
            ..Default::default()
        },
    )
    .await
    {
        Ok(l) => l,
        Err(e) => {
            result.message = Some(format!("lab did not come up: {e}"));
            result.seconds = started.elapsed().as_secs_f64();
            return result;
        }
    };
    let ctx = Ctx {
        plan: Arc::new(lab.plan().clone()),
        lab: Arc::new(tokio::sync::Mutex::new(lab)),
        seed,
        artifacts: opts.artifacts.join(&lab_name),
        captures: Arc::default(),
        kept: Arc::default(),
    };
    let steps = tokio::time::timeout(s.timeout, run_steps(&ctx, &s.steps)).await;
    result.steps = match steps {
        Ok(steps) => steps,
        Err(_) => {
            result.message = Some(format!(
                "the scenario timed out after {:?} (its `timeout`)",
                s.timeout
            ));
            vec![]
        }
    };
    // Captures still running are stopped and kept.
    let open: Vec<Capture> = ctx
        .captures
        .lock()
        .map(|mut m| m.drain().map(|(_, c)| c).collect())
        .unwrap_or_default();
    for c in open {
        if let Ok((path, _)) = c.stop() {
            ctx.kept
                .lock()
                .expect("kept")
                .push(path.display().to_string());
        }
    }
    result.artifacts = ctx.kept.lock().map(|k| k.clone()).unwrap_or_default();
    let Ctx { lab, .. } = ctx;
    // If a timeline task still held the lab, dropping our reference lets its Drop tear
    // it down; normally we hold the last one and tear down here, reporting errors.
    if let Ok(lab) = Arc::try_unwrap(lab)
        && let Err(e) = lab.into_inner().down().await
    {
        result.message = Some(format!("teardown: {e}"));
    }
    let worst = worst(result.steps.iter().map(|s| s.outcome));
    result.outcome = if result.message.is_some() {
        Outcome::Error
    } else {
        worst
    };
    result.seconds = started.elapsed().as_secs_f64();
    result
}

/// The scenario's outcome from its steps': any error → error, else any failure → failed.
pub fn worst(outcomes: impl Iterator<Item = Outcome>) -> Outcome {
    let mut w = Outcome::Passed;
    for o in outcomes {
        w = match (w, o) {
            (Outcome::Error, _) | (_, Outcome::Error) => Outcome::Error,
            (Outcome::Failed, _) | (_, Outcome::Failed) => Outcome::Failed,
            _ => Outcome::Passed,
        };
    }
    w
}

/// Runs steps in order; after a failure (without `continue_on_failure`) the rest are skipped.
pub fn run_steps<'a>(ctx: &'a Ctx, steps: &'a [Step]) -> BoxFuture<'a, Vec<StepResult>> {
    Box::pin(async move {
        let mut out = Vec::with_capacity(steps.len());
        let mut stop = false;
        for step in steps {
            if stop {
                out.push(skipped(step));
                continue;
            }
            let r = run_step(ctx, step).await;
            if r.outcome != Outcome::Passed && !step.continue_on_failure {
                stop = true;
            }
            out.push(r);
        }
        out
    })
}

fn skipped(step: &Step) -> StepResult {
    StepResult {
        name: step.name.clone(),
        kind: steps::kind(&step.action).into(),
        outcome: Outcome::Skipped,
        seconds: 0.0,
        message: Some("skipped: an earlier step failed".into()),
        measured: serde_json::Value::Null,
        expected: serde_json::Value::Null,
        events: vec![],
        children: vec![],
    }
}

/// Aborts a spawned task when dropped (so a cancelled step cancels its timeline).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one step with its timeout and timeline.
pub fn run_step<'a>(ctx: &'a Ctx, step: &'a Step) -> BoxFuture<'a, StepResult> {
    Box::pin(async move {
        let start = Instant::now();
        let timeout = step
            .timeout
            .unwrap_or_else(|| steps::default_timeout(&step.action));
        let events: Vec<(String, Duration, AbortOnDrop<EventResult>)> = step
            .during
            .iter()
            .map(|ev| {
                let (c, action, at) = (ctx.clone(), ev.action.clone(), ev.at);
                let what = steps::summary(&ev.action);
                let w = what.clone();
                let task = tokio::spawn(async move {
                    tokio::time::sleep_until((start + at).into()).await;
                    let t = start.elapsed().as_secs_f64();
                    let r = steps::perform(&c, &action, Duration::from_secs(30)).await;
                    let (ok, message) = match r {
                        Ok(f) if f.failures.is_empty() => (true, None),
                        Ok(f) => (false, Some(f.failures.join("; "))),
                        Err(e) => (false, Some(e)),
                    };
                    EventResult {
                        at_s: t,
                        what: w,
                        ok,
                        message,
                    }
                });
                (what, at, AbortOnDrop(task))
            })
            .collect();
        let r = tokio::time::timeout(timeout, steps::perform(ctx, &step.action, timeout)).await;
        let seconds = start.elapsed().as_secs_f64();
        let mut res = StepResult {
            name: step.name.clone(),
            kind: steps::kind(&step.action).into(),
            outcome: Outcome::Passed,
            seconds,
            message: None,
            measured: serde_json::Value::Null,
            expected: serde_json::Value::Null,
            events: vec![],
            children: vec![],
        };
        match r {
            Ok(Ok(found)) => {
                res.measured = found.measured;
                res.expected = found.expected;
                res.children = found.children;
                let child = worst(res.children.iter().map(|c| c.outcome));
                if !found.failures.is_empty() {
                    res.outcome = Outcome::Failed;
                    res.message = Some(found.failures.join("; "));
                } else if child != Outcome::Passed {
                    res.outcome = child;
                    res.message = Some("a step inside failed".into());
                }
            }
            Ok(Err(e)) => {
                res.outcome = Outcome::Error;
                res.message = Some(e);
            }
            Err(_) => {
                res.outcome = Outcome::Error;
                res.message = Some(format!("timed out after {timeout:?}"));
            }
        }
        for (what, at, mut task) in events {
            if task.0.is_finished() {
                match (&mut task.0).await {
                    Ok(e) => {
                        if !e.ok && res.outcome == Outcome::Passed {
                            res.outcome = Outcome::Error;
                            res.message = Some(format!(
                                "timeline event `{}` at {:.1} s failed: {}",
                                e.what,
                                e.at_s,
                                e.message.clone().unwrap_or_default()
                            ));
                        }
                        res.events.push(e);
                    }
                    Err(_) => res.events.push(EventResult {
                        at_s: at.as_secs_f64(),
                        what,
                        ok: false,
                        message: Some("the event's task failed".into()),
                    }),
                }
            } else {
                res.events.push(EventResult {
                    at_s: at.as_secs_f64(),
                    what,
                    ok: false,
                    message: Some(format!(
                        "not run: the step ended after {seconds:.1} s, before {:.1} s",
                        at.as_secs_f64()
                    )),
                });
            }
        }
        if res.measured.is_null() {
            res.measured = json!({});
        }
        res
    })
}
