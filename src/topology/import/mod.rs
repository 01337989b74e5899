//! Topologies from elsewhere: containerlab files, Mininet topology strings and GraphML (as
//! the Internet Topology Zoo publishes it), turned into topolab YAML.
//!
//! ```text
//!   .clab.yml ──clab.rs────┐
//!   tree,2,3 ───mininet.rs─┼──▶ Doc ──emit──▶ topolab YAML (+ origin of every line)
//!   .graphml ───graphml.rs─┘                      │
//!                                                 └─parse, check──▶ Topology
//! ```
//!
//! Every reader produces a [`Doc`]: the nodes, links and generators of a topolab file,
//! each with the [`Span`] of the foreign text it came from. [`Doc::emit`] writes it as
//! topolab YAML — the text `topolab import` prints — and remembers, line by line, where
//! in the foreign file each part came from. Loading an imported file (`topolab up
//! lab.clab.yml`) parses and checks exactly that text, so `import` and direct use can
//! never disagree. A mistake the topolab checker finds in the generated text (an interface
//! used twice, a link to itself, a rate over the limit) is reported at the foreign file's
//! line and column, through the origins; mistakes only a reader can see (an unsupported
//! containerlab kind, an edge to an unknown GraphML node, a hostile node name) are
//! reported by the reader itself, also with line and column.
//!
//! Invariants: a name read from a foreign file is checked against topolab's node-name rules
//! before it is written anywhere (it becomes a namespace name, never a path or a shell
//! word); every string is written as a double-quoted YAML scalar (JSON escapes), so no
//! foreign text can change the YAML's structure.

mod clab;
mod graphml;
mod mininet;

use std::path::Path;

use super::error::{ErrorKind, TopologyError};
use super::model::{NodeKind, Source, Span, Topology};
use super::{Limits, check, parse};

pub use graphml::{EARTH_RADIUS_KM, FIBRE_KM_PER_S, great_circle_km, propagation_delay_us};
pub use mininet::NAMES as MININET_TOPOLOGIES;

/// A foreign topology format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// containerlab (`.clab.yml`, `.clab.yaml`).
    Clab,
    /// GraphML (`.graphml`), Topology Zoo style.
    Graphml,
    /// A Mininet topology string (`tree,2,3`).
    Mininet,
}

impl Format {
    /// The format a file name says it holds: `*.clab.yml`, `*.clab.yaml`, `*.graphml`.
    pub fn detect(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".clab.yml") || name.ends_with(".clab.yaml") {
            Some(Format::Clab)
        } else if name.ends_with(".graphml") {
            Some(Format::Graphml)
        } else {
            None
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Format::Clab => "containerlab",
            Format::Graphml => "GraphML",
            Format::Mininet => "Mininet topology string",
        }
    }
}

/// Choices a format leaves open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// GraphML: a host on each router (`<router>-h`), for traffic between the routers'
    /// sites.
    pub hosts: bool,
}

/// A converted topology: the topolab YAML text and where each of its lines came from.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The topolab YAML, as `topolab import` prints it.
    pub yaml: String,
    /// For each line of `yaml` (index = line − 1): the foreign text it came from.
    origins: Vec<Span>,
    /// The foreign file.
    source: Source,
}

impl Imported {
    /// Parses and checks the YAML (relative file paths start at `base_dir`); an error is
    /// reported at the foreign file's line and column.
    pub fn topology(
        &self,
        base_dir: Option<&Path>,
        limits: Limits,
    ) -> Result<Topology, TopologyError> {
        let source = Source {
            name: format!("{} (as topolab YAML)", self.source.name),
            text: self.yaml.as_str().into(),
        };
        let spec = parse::parse_with(&source, limits).map_err(|e| self.remap(e))?;
        check::check_with(spec, source, base_dir, limits).map_err(|e| self.remap(e))
    }

    /// The same error (one about the YAML, from the checker or from compile), placed in
    /// the foreign file at the origin of the YAML line it names.
    pub fn remap(&self, e: TopologyError) -> TopologyError {
        let line = e.line as usize;
        let at = (1..=line.min(self.origins.len()))
            .rev()
            .map(|l| self.origins[l - 1])
            .find(|s| s.line > 0)
            .unwrap_or_default();
        let out = TopologyError::new(e.kind, &self.source, at, e.message());
        match e.help_text() {
            Some(h) => out.with_help(h),
            None => out,
        }
    }
}

/// Converts `source` (a file's text, or a Mininet string) from `format`. `base_dir` is
/// where a containerlab file's relative bind sources are (`None`: the current directory).
pub fn import(
    source: &Source,
    format: Format,
    options: Options,
    base_dir: Option<&Path>,
    limits: Limits,
) -> Result<Imported, TopologyError> {
    let doc = match format {
        Format::Clab => clab::read(source, base_dir, limits)?,
        Format::Graphml => graphml::read(source, options)?,
        Format::Mininet => mininet::read(source)?,
    };
    let (yaml, origins) = doc.emit(source, format);
    Ok(Imported {
        yaml,
        origins,
        source: source.clone(),
    })
}

/// A Mininet topology string (`tree,2,3`) as a checked topology (what `topolab up --topo`
/// brings up).
pub fn mininet_topology(text: &str, limits: Limits) -> Result<Topology, TopologyError> {
    let source = Source {
        name: format!("`{text}`"),
        text: text.into(),
    };
    import(&source, Format::Mininet, Options::default(), None, limits)?.topology(None, limits)
}

/// Reads, converts, parses and checks a foreign topology file (what `topolab up FILE`
/// does for a file [`Format::detect`] recognises).
pub fn load(
    path: &Path,
    format: Format,
    options: Options,
    limits: Limits,
) -> Result<Topology, TopologyError> {
    let source = Source::read(path)?;
    let base = path.parent().unwrap_or(Path::new(""));
    import(&source, format, options, Some(base), limits)?.topology(Some(base), limits)
}

/// A topolab file as the readers build it, every part with its foreign origin.
#[derive(Debug, Default)]
pub(crate) struct Doc {
    pub name: String,
    pub name_at: Span,
    /// Comment lines for the top of the file (what was ignored, and why).
    pub notes: Vec<String>,
    pub nodes: Vec<DocNode>,
    pub links: Vec<DocLink>,
    /// Generator entries as YAML flow mappings (`tree: {depth: 2, fanout: 3}`).
    pub generate: Vec<(String, Span)>,
}

#[derive(Debug)]
pub(crate) struct DocNode {
    pub name: String,
    pub kind: NodeKind,
    pub at: Span,
    /// A comment line above the node.
    pub comment: Option<String>,
    /// Commands run in order once the lab is up (containerlab `exec`), and where.
    pub exec: Vec<String>,
    pub exec_at: Span,
    pub private_dirs: Vec<(String, Span)>,
    /// `(target, source path, origin)`.
    pub files: Vec<(String, String, Span)>,
}

impl DocNode {
    pub fn new(name: String, kind: NodeKind, at: Span) -> DocNode {
        DocNode {
            name,
            kind,
            at,
            comment: None,
            exec: Vec::new(),
            exec_at: at,
            private_dirs: Vec::new(),
            files: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct DocLink {
    /// `node` or `node:iface`.
    pub a: String,
    pub b: String,
    pub at: Span,
    pub comment: Option<String>,
    pub mtu: Option<u64>,
    /// Bits per second.
    pub rate: Option<u64>,
    /// Microseconds.
    pub delay_us: Option<u64>,
}

impl DocLink {
    pub fn new(a: String, b: String, at: Span) -> DocLink {
        DocLink {
            a,
            b,
            at,
            comment: None,
            mtu: None,
            rate: None,
            delay_us: None,
        }
    }
}

/// Routers whose IPv4 loopbacks the default pool (`192.168.255.0/24`) is trusted to hold.
pub const LOOPBACK4_DEFAULT_FITS: usize = 250;
/// The IPv4 loopback pool of an imported lab with more routers than that: shared address
/// space (RFC 6598), which overlaps none of topolab's default pools.
pub const LOOPBACK4_LARGE: &str = "100.64.0.0/16";

/// The log line the `exec` service prints once its commands are done (its readiness).
pub const EXEC_DONE: &str = "topolab: exec done";
/// The name of the service that runs a node's containerlab `exec` commands.
pub const EXEC_SERVICE: &str = "exec";

/// Text lines with the origin of each.
struct Writer {
    text: String,
    origins: Vec<Span>,
}

impl Writer {
    fn line(&mut self, at: Span, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        self.origins.push(at);
    }

    fn comment(&mut self, indent: &str, text: &str) {
        // A comment never spans lines, whatever the foreign text holds.
        let clean: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        self.line(Span::default(), &format!("{indent}# {clean}"));
    }
}

/// A double-quoted YAML scalar (JSON's escapes are YAML's).
pub(crate) fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string is JSON")
}

impl Doc {
    /// The topolab YAML and the origin of each of its lines.
    fn emit(&self, source: &Source, format: Format) -> (String, Vec<Span>) {
        let mut w = Writer {
            text: String::new(),
            origins: Vec::new(),
        };
        w.comment(
            "",
            &format!(
                "Imported from {} ({}) by `topolab import`.",
                source.name.rsplit('/').next().unwrap_or(&source.name),
                format.word()
            ),
        );
        for note in &self.notes {
            w.comment("", note);
        }
        w.line(self.name_at, &format!("name: {}", q(&self.name)));
        let routers = self.nodes.iter().filter(|n| n.kind.forwards_ip()).count();
        if routers > LOOPBACK4_DEFAULT_FITS {
            w.comment(
                "",
                &format!(
                    "{routers} routers: their IPv4 loopbacks come from {LOOPBACK4_LARGE} \
                     (the default /24 is for labs of up to {LOOPBACK4_DEFAULT_FITS})."
                ),
            );
            w.line(Span::default(), "addressing:");
            w.line(
                Span::default(),
                &format!("  loopback4: {}", q(LOOPBACK4_LARGE)),
            );
        }
        if !self.nodes.is_empty() {
            w.line(Span::default(), "nodes:");
        }
        for n in &self.nodes {
            emit_node(&mut w, n);
        }
        if !self.links.is_empty() {
            w.line(Span::default(), "links:");
        }
        for l in &self.links {
            if let Some(c) = &l.comment {
                w.comment("  ", c);
            }
            w.line(l.at, &format!("  - endpoints: [{}, {}]", q(&l.a), q(&l.b)));
            if let Some(mtu) = l.mtu {
                w.line(l.at, &format!("    mtu: {mtu}"));
            }
            if let Some(rate) = l.rate {
                w.line(l.at, &format!("    rate: {rate}bit"));
            }
            if let Some(d) = l.delay_us {
                w.line(l.at, &format!("    delay: {d}us"));
            }
        }
        if !self.generate.is_empty() {
            w.line(Span::default(), "generate:");
        }
        for (g, at) in &self.generate {
            w.line(*at, &format!("  - {g}"));
        }
        (w.text, w.origins)
    }
}

fn emit_node(w: &mut Writer, n: &DocNode) {
    if let Some(c) = &n.comment {
        w.comment("  ", c);
    }
    w.line(n.at, &format!("  {}:", q(&n.name)));
    w.line(n.at, &format!("    kind: {}", n.kind.word()));
    if !n.exec.is_empty() {
        // One service runs the commands in order, says so, and stays (a service that
        // ends would count as failed); `up` waits for the line, and fails if a command does.
        // Each command is `eval`ed from its own single-quoted word, so that its `#`, `&`
        // or `;` stay its own, and the service's command stays one line.
        let words: Vec<String> = n.exec.iter().map(|c| sh_quote(c)).collect();
        let cmd = format!(
            "set -e; for c in {}; do eval \"$c\"; done; echo '{EXEC_DONE}'; exec sleep infinity",
            words.join(" ")
        );
        w.line(n.exec_at, "    run:");
        w.line(n.exec_at, &format!("      - name: {EXEC_SERVICE}"));
        w.line(n.exec_at, &format!("        cmd: {}", q(&cmd)));
        w.line(
            n.exec_at,
            &format!("        ready: {{log: {}}}", q(&format!("^{EXEC_DONE}$"))),
        );
    }
    if !n.private_dirs.is_empty() {
        w.line(Span::default(), "    private_dirs:");
        for (d, at) in &n.private_dirs {
            w.line(*at, &format!("      - {}", q(d)));
        }
    }
    if !n.files.is_empty() {
        w.line(Span::default(), "    files:");
        for (target, path, at) in &n.files {
            w.line(*at, &format!("      {}: {{path: {}}}", q(target), q(path)));
        }
    }
}

/// `s` as one single-quoted shell word.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A span of `len` bytes at byte `offset` of `text` (line and column computed).
pub(crate) fn span_at(text: &str, offset: usize, len: usize) -> Span {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Span {
        offset,
        len,
        line,
        column: before[line_start..].chars().count() as u32 + 1,
    }
}

/// An error of kind `kind` at `at` in `source`, with a hint.
pub(crate) fn err(
    source: &Source,
    kind: ErrorKind,
    at: Span,
    message: impl Into<String>,
    help: impl Into<String>,
) -> TopologyError {
    TopologyError::new(kind, source, at, message).with_help(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_file_names() {
        for (name, want) in [
            ("lab.clab.yml", Some(Format::Clab)),
            ("dir/LAB.CLAB.YAML", Some(Format::Clab)),
            ("Abilene.graphml", Some(Format::Graphml)),
            ("lab.yaml", None),
            ("clab.yml", None),
            ("graphml", None),
        ] {
            assert_eq!(Format::detect(Path::new(name)), want, "{name}");
        }
    }

    #[test]
    fn exec_commands_are_single_quoted_words() {
        assert_eq!(sh_quote("echo 'a b' # c"), r"'echo '\''a b'\'' # c'");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "for c in {} {}; do eval \"$c\"; done",
                sh_quote("echo 'x y' # not z"),
                sh_quote("echo $((1+1))")
            ))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "x y\n2\n");
        // A failing command stops the rest (`set -e` holds through `eval`).
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("set -e; for c in 'false' 'echo no'; do eval \"$c\"; done; echo done")
            .output()
            .unwrap();
        assert!(!out.status.success() && out.stdout.is_empty());
    }

    #[test]
    fn spans_count_lines_and_characters() {
        let s = span_at("ab\nçd\nef", 6, 1);
        assert_eq!((s.line, s.column), (2, 3));
        assert_eq!(span_at("x", 99, 0).line, 1);
    }

    #[test]
    fn comments_stay_on_one_line_and_strings_stay_scalars() {
        let doc = Doc {
            name: "x".into(),
            notes: vec!["a\nname: evil".into()],
            nodes: vec![DocNode::new(
                "h1\"\n".into(),
                NodeKind::Host,
                Span::default(),
            )],
            ..Doc::default()
        };
        let source = Source {
            name: "f".into(),
            text: "".into(),
        };
        let (yaml, origins) = doc.emit(&source, Format::Clab);
        assert_eq!(yaml.lines().count(), origins.len());
        assert!(!yaml.lines().any(|l| l.starts_with("name: evil")), "{yaml}");
        assert!(yaml.contains(r#""h1\"\n":"#), "{yaml}");
    }
}
