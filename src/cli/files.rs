//! Commands on topology files that never touch the kernel: validate, plan, graph, schema.

use std::path::Path;

use miette::IntoDiagnostic;

use super::up::{LimitArgs, load};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

pub fn validate(file: &Path, limits: LimitArgs) -> miette::Result<()> {
    let t = load(Some(file), limits)?;
    let plan = topolab::compile::compile(&t, &t.name)?;
    println!(
        "{}: ok — {} nodes, {} links, lab name `{}`",
        file.display(),
        plan.nodes.len(),
        plan.links.len(),
        t.name
    );
    Ok(())
}

pub fn plan(
    file: Option<&Path>,
    name: Option<String>,
    json: bool,
    limits: LimitArgs,
) -> miette::Result<()> {
    let t = load(file, limits)?;
    let name = name.unwrap_or_else(|| t.name.clone());
    let plan = topolab::compile::compile(&t, &name)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan).into_diagnostic()?);
    } else {
        print!("{}", plan.to_ip_commands());
    }
    Ok(())
}

pub fn graph(file: Option<&Path>, format: GraphFormat) -> miette::Result<()> {
    let t = load(file, LimitArgs::default())?;
    let out = match format {
        GraphFormat::Dot => topolab::compile::graph::to_dot(&t),
        GraphFormat::Mermaid => topolab::compile::graph::to_mermaid(&t),
    };
    print!("{out}");
    Ok(())
}

pub fn schema() -> miette::Result<()> {
    let s = topolab::topology::json_schema();
    println!("{}", serde_json::to_string_pretty(&s).into_diagnostic()?);
    Ok(())
}
