//! `topolab import`: topologies from elsewhere as topolab YAML (issue 12).
//!
//! The conversion is the library's (`topology::import`); this prints its YAML after
//! checking it exactly as `validate` would, so what it prints always loads, and a mistake
//! is reported at the foreign file's line and column.

use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

use topolab::topology::import::{self, Format, Options};
use topolab::topology::{Limits, Source};

use crate::cli::out::out;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ImportFormat {
    /// containerlab (`.clab.yml`, `.clab.yaml`).
    Clab,
    /// GraphML, as the Internet Topology Zoo publishes it.
    Graphml,
    /// A Mininet topology string: `single,4`, `linear,3`, `tree,2,3`, `torus,3,3`.
    Mininet,
}

impl From<ImportFormat> for Format {
    fn from(f: ImportFormat) -> Format {
        match f {
            ImportFormat::Clab => Format::Clab,
            ImportFormat::Graphml => Format::Graphml,
            ImportFormat::Mininet => Format::Mininet,
        }
    }
}

#[derive(Args, Clone)]
pub struct ImportArgs {
    /// The file to convert (for `--format mininet`: the topology string).
    pub file: PathBuf,
    /// The input's format (default: from the file name; a Mininet string is recognised
    /// by its topology name: `minimal`, `single`, `linear`, `tree`, `torus`).
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    /// GraphML: give every router a host (`<router>-h`), for traffic between sites.
    #[arg(long)]
    pub hosts: bool,
}

pub fn import(args: ImportArgs) -> miette::Result<()> {
    let format = match args.format {
        Some(f) => f.into(),
        None => guess(&args.file)?,
    };
    let options = Options { hosts: args.hosts };
    let limits = Limits::default();
    let (source, base) = match format {
        Format::Mininet => {
            let text = args.file.to_string_lossy().into_owned();
            let source = Source {
                name: format!("`{text}`"),
                text: text.as_str().into(),
            };
            (source, None)
        }
        Format::Clab | Format::Graphml => (
            Source::read(&args.file)?,
            Some(args.file.parent().unwrap_or(Path::new(""))),
        ),
    };
    let imported = import::import(&source, format, options, base, limits)?;
    // What `validate` does: check, then compile.
    let t = imported.topology(base, limits)?;
    topolab::compile::compile(&t, &t.name).map_err(|e| imported.remap(e))?;
    out!("{}", imported.yaml);
    Ok(())
}

/// The format of `file` from its name, or a Mininet string by its first word.
fn guess(file: &Path) -> miette::Result<Format> {
    if let Some(f) = Format::detect(file) {
        return Ok(f);
    }
    let text = file.to_string_lossy();
    let word = text.split(',').next().unwrap_or("");
    if !file.exists() && import::MININET_TOPOLOGIES.contains(&word) {
        return Ok(Format::Mininet);
    }
    Err(miette::miette!(
        help = "name the format: `--format clab`, `--format graphml` or `--format mininet`",
        "cannot tell the format of `{}` from its name (`.clab.yml`, `.clab.yaml`, `.graphml`)",
        file.display()
    ))
}
