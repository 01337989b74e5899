//! Commands on topology files that never touch the kernel: validate, plan, graph, schema.

use crate::cli::out::{out, outln};
use std::path::Path;

use miette::IntoDiagnostic;

use super::up::{LimitArgs, load};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// Checks a topology file, or a scenario file (one with a top-level `steps:` or
/// `topology:` key) as `topolab test` would before running it, topology included.
pub fn validate(file: &Path, limits: LimitArgs) -> miette::Result<()> {
    let source = topolab::topology::Source::read(file)?;
    let imported = topolab::topology::import::Format::detect(file).is_some();
    if !imported && is_scenario(&source.text) {
        return validate_scenario(file, limits);
    }
    let t = load(Some(file), limits)?;
    let plan = topolab::compile::compile(&t, &t.name)?;
    outln!(
        "{}: ok — {} nodes, {} links, lab name `{}`",
        file.display(),
        plan.user_nodes().count(),
        plan.links.len(),
        t.name
    );
    Ok(())
}

/// A scenario file has a top-level `steps:` or `topology:` key; a topology file has
/// neither.
fn is_scenario(text: &str) -> bool {
    text.lines().any(|l| {
        ["steps", "topology"].iter().any(|k| {
            l.strip_prefix(k)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
    })
}

fn validate_scenario(file: &Path, limits: LimitArgs) -> miette::Result<()> {
    let s = topolab::scenario::load_with(file, limits.limits())?;
    let t = topolab::scenario::topology_with(&s, limits.limits())?;
    let plan = topolab::compile::compile(&t, &t.name)?;
    outln!(
        "{}: ok — scenario `{}`, {} steps, on lab `{}` ({} nodes, {} links)",
        file.display(),
        s.name,
        s.steps.len(),
        t.name,
        plan.user_nodes().count(),
        plan.links.len(),
    );
    Ok(())
}

pub fn plan(
    file: Option<&Path>,
    name: Option<String>,
    json: bool,
    limits: LimitArgs,
    shards: &super::shard_plan::ShardArgs,
) -> miette::Result<()> {
    let t = load(file, limits)?;
    let name = name.unwrap_or_else(|| t.name.clone());
    if shards.wanted() {
        return super::shard_plan::plan(&t, &name, shards, json);
    }
    let plan = topolab::compile::compile(&t, &name)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&plan).into_diagnostic()?);
    } else {
        out!("{}", plan.to_ip_commands());
    }
    Ok(())
}

pub fn graph(file: Option<&Path>, format: GraphFormat) -> miette::Result<()> {
    let t = load(file, LimitArgs::default())?;
    let out = match format {
        GraphFormat::Dot => topolab::compile::graph::to_dot(&t),
        GraphFormat::Mermaid => topolab::compile::graph::to_mermaid(&t),
    };
    out!("{out}");
    Ok(())
}

pub fn schema() -> miette::Result<()> {
    let s = topolab::topology::json_schema();
    outln!("{}", serde_json::to_string_pretty(&s).into_diagnostic()?);
    Ok(())
}
