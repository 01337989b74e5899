//! `topolab test`: run scenarios (in parallel with `--jobs`), print a report, write JUnit
//! and JSON, exit non-zero if anything failed. Ctrl-C or SIGTERM tears every lab down
//! before exiting.

use crate::cli::out::{errln, out};
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use miette::IntoDiagnostic;
use tokio::signal::unix::{SignalKind, signal};

use topolab::scenario::model::{Outcome, Scenario, ScenarioResult};
use topolab::scenario::{self, report, run};

#[derive(Args)]
pub struct TestArgs {
    /// Scenario files (no file: the built-in quickstart scenario on the quickstart lab).
    pub scenarios: Vec<PathBuf>,
    /// Write a JUnit XML report here (one test case per step).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write a JSON report here (every measured value).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Scenarios run at the same time, each in its own lab.
    #[arg(short, long, default_value_t = 1)]
    pub jobs: usize,
    /// Where captures and other artifacts go (a folder per lab).
    #[arg(long, default_value = "topolab-artifacts")]
    pub artifacts: PathBuf,
    #[command(flatten)]
    pub limits: super::up::LimitArgs,
}

pub async fn test(a: TestArgs) -> miette::Result<()> {
    // Every file is checked before anything runs.
    let scenarios: Vec<Arc<Scenario>> = if a.scenarios.is_empty() {
        vec![Arc::new(scenario::default_scenario())]
    } else {
        let mut v = Vec::new();
        for f in &a.scenarios {
            v.push(Arc::new(scenario::load_with(f, a.limits.limits())?));
        }
        v
    };
    let sem = Arc::new(tokio::sync::Semaphore::new(a.jobs.max(1)));
    let opts = run::RunOptions {
        artifacts: a.artifacts.clone(),
        lab_name: None,
        limits: a.limits.limits(),
    };
    let mut handles = Vec::new();
    let mut labs = Vec::new();
    for s in &scenarios {
        let (s, sem, mut opts) = (s.clone(), sem.clone(), opts.clone());
        let lab = run::lab_name_for(&s.name);
        labs.push(lab.clone());
        opts.lab_name = Some(lab);
        handles.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore open");
            errln!("▶ {} ({})", s.name, s.source.name);
            let r = run::run(&s, &opts).await;
            errln!(
                "■ {}: {} in {:.1} s",
                r.name,
                format!("{:?}", r.outcome).to_lowercase(),
                r.seconds
            );
            r
        }));
    }
    let mut sigint = signal(SignalKind::interrupt()).into_diagnostic()?;
    let mut sigterm = signal(SignalKind::terminate()).into_diagnostic()?;
    let all = futures::future::join_all(handles.iter_mut());
    let results: Vec<ScenarioResult> = tokio::select! {
        r = all => r.into_iter().filter_map(|r| r.ok()).collect(),
        _ = sigint.recv() => return interrupted(handles, &labs).await,
        _ = sigterm.recv() => return interrupted(handles, &labs).await,
    };
    out!("{}", report::human(&results));
    if let Some(p) = &a.junit {
        std::fs::write(p, report::junit(&results)).into_diagnostic()?;
    }
    if let Some(p) = &a.json {
        let j = serde_json::to_string_pretty(&report::json(&results)).into_diagnostic()?;
        std::fs::write(p, j).into_diagnostic()?;
    }
    if results.len() != scenarios.len() || results.iter().any(|r| r.outcome != Outcome::Passed) {
        std::process::exit(1);
    }
    Ok(())
}

/// Cancels every running scenario, makes sure their labs are gone, then exits.
///
/// Cancelled scenarios drop their labs, and a dropped lab tears itself down; but a
/// timeline task may still hold a lab until the runtime gets to drop it, and we are about
/// to exit. So every lab that still has a run directory is torn down from its journal.
async fn interrupted(
    handles: Vec<tokio::task::JoinHandle<ScenarioResult>>,
    labs: &[String],
) -> miette::Result<()> {
    errln!("interrupted: tearing down running labs…");
    for h in &handles {
        h.abort();
    }
    for h in handles {
        let _ = h.await;
    }
    let ok = topolab::lab::teardown::teardown_leftovers(labs);
    std::process::exit(if ok { 130 } else { 1 });
}
