//! Error corpora (`tests/bad/` for topologies, `tests/bad_scenarios/` for scenarios): every
//! file must fail to load with the error its header promises. Each file starts with
//!
//! ```yaml
//! # expect: unknown node `h9`     (a substring of the error message)
//! # at: 7:13                      (line:column the error points at)
//! ```
//!
//! All mismatches are collected and reported together, each with the full error.

use std::path::{Path, PathBuf};

use topolab::topology::TopologyError;

/// The `*.yaml` files of `dir` (relative to the crate root), sorted.
pub fn yaml_files(dir: &str) -> Vec<PathBuf> {
    files_ending(dir, &[".yaml"])
}

/// The files of `dir` (relative to the crate root) whose names end with one of `endings`,
/// sorted.
pub fn files_ending(dir: &str, endings: &[&str]) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            endings.iter().any(|e| name.ends_with(e))
        })
        .collect();
    files.sort();
    files
}

struct Expectation {
    message: String,
    at: (u32, u32),
}

fn header(path: &Path) -> Expectation {
    let text = std::fs::read_to_string(path).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("# {name}:")))
            .unwrap_or_else(|| panic!("{}: no `# {name}:` header", path.display()))
            .trim()
            .to_string()
    };
    let at = field("at");
    let (line, column) = at.split_once(':').expect("at: LINE:COLUMN");
    Expectation {
        message: field("expect"),
        at: (line.parse().expect("line"), column.parse().expect("column")),
    }
}

/// Every file of the corpus in `dir` (at least `min_files` of them) fails to `load` with
/// its header's message, at its header's line and column.
pub fn fails_where_headers_say<T>(
    dir: &str,
    min_files: usize,
    load: impl Fn(&Path) -> Result<T, TopologyError>,
) {
    files_fail_where_headers_say(yaml_files(dir), min_files, load)
}

/// [`fails_where_headers_say`] for a list of files (of any format: the header lines may
/// sit in the format's own comments, like `<!--` … `-->` in XML).
pub fn files_fail_where_headers_say<T>(
    files: Vec<PathBuf>,
    min_files: usize,
    load: impl Fn(&Path) -> Result<T, TopologyError>,
) {
    assert!(
        files.len() >= min_files,
        "the corpus has only {} files",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let want = header(path);
        let name = path.file_name().unwrap().to_string_lossy();
        match load(path) {
            Ok(_) => failures.push(format!(
                "{name}: loaded, but should fail with `{}`",
                want.message
            )),
            Err(e) => {
                let got = (e.line, e.column);
                if want.message.is_empty() || !e.message().contains(&want.message) || got != want.at
                {
                    failures.push(format!(
                        "{name}: want `{}` at {}:{}, got {:?} at {}:{}\n    {}\n    help: {}",
                        want.message,
                        want.at.0,
                        want.at.1,
                        e.kind,
                        got.0,
                        got.1,
                        e.one_line(),
                        e.help_text().unwrap_or("-"),
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad files misbehave:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// Every error of the corpus in `dir` carries a hint.
pub fn every_error_has_a_hint<T: std::fmt::Debug>(
    dir: &str,
    load: impl Fn(&Path) -> Result<T, TopologyError>,
) {
    for path in yaml_files(dir) {
        let e = load(&path).expect_err("bad file");
        assert!(
            e.help_text().is_some_and(|h| !h.is_empty()),
            "{}: no hint",
            e.one_line()
        );
    }
}
