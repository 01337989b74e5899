//! `topolab console LAB`: a Mininet-style console on a running lab (issue 12).

use clap::Args;
use std::path::PathBuf;
use topolab::lab::LabName;

#[derive(Args, Clone)]
pub struct ConsoleArgs {
    /// The lab (`topolab ls` lists them).
    pub lab: LabName,
    /// Run the console commands in FILE (one per line, `#` comments), then exit.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
}

pub async fn console(args: ConsoleArgs) -> miette::Result<()> {
    Err(miette::miette!(
        "console on lab `{}`: not built yet",
        args.lab
    ))
}
