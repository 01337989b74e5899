//! `topolab import`: topologies from elsewhere as topolab YAML (issue 12).

use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ImportFormat {
    /// containerlab (`.clab.yml`, `.clab.yaml`).
    Clab,
    /// GraphML, as the Internet Topology Zoo publishes it.
    Graphml,
    /// A Mininet topology string: `single,4`, `linear,3`, `tree,2,3`, `torus,3,3`.
    Mininet,
}

#[derive(Args, Clone)]
pub struct ImportArgs {
    /// The file to convert (for `--format mininet`: the topology string).
    pub file: PathBuf,
    /// The input's format (default: from the file name).
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
}

pub fn import(args: ImportArgs) -> miette::Result<()> {
    Err(miette::miette!(
        "import of `{}` ({:?}): not built yet",
        args.file.display(),
        args.format
    ))
}
