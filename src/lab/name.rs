//! [`LabName`]: the one validated lab name, and the run directory built from it.
//!
//! A lab name becomes a directory under `/run/topolab` and the prefix of namespace names
//! under `/run/netns`, so every entry point (CLI arguments, [`LabOptions`], the journal
//! reader) turns a string into a `LabName` first, and run-directory paths are only ever
//! built from one ([`run_dir`]). The rule is [`check_lab_name`]: letters, digits, `_`, `.`,
//! `-`, starting with a letter or digit, at most 40 bytes — so never empty, `.`, `..`, a
//! `/` or a control character.
//!
//! [`LabOptions`]: super::LabOptions

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::topology::check_lab_name;

/// A lab name that passed [`check_lab_name`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LabName(String);

impl LabName {
    /// Validates `name`; the error says why it is refused.
    pub fn new(name: &str) -> Result<LabName, String> {
        check_lab_name(name)?;
        Ok(LabName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `ns` may be a namespace of this lab: `<lab>-<rest>` with a plain, non-empty
    /// `rest` (no `/`, no NUL, not `.` or `..`). Names from a journal pass this before any
    /// filesystem operation uses them.
    pub fn may_own_netns(&self, ns: &str) -> bool {
        ns.strip_prefix(self.as_str())
            .and_then(|r| r.strip_prefix('-'))
            .is_some_and(|rest| !rest.is_empty() && crate::netns::valid_name(ns))
    }
}

impl fmt::Display for LabName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for LabName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for LabName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<OsStr> for LabName {
    fn as_ref(&self) -> &OsStr {
        OsStr::new(&self.0)
    }
}

impl FromStr for LabName {
    type Err = String;
    fn from_str(s: &str) -> Result<LabName, String> {
        LabName::new(s)
    }
}

impl TryFrom<&str> for LabName {
    type Error = String;
    fn try_from(s: &str) -> Result<LabName, String> {
        LabName::new(s)
    }
}

impl TryFrom<String> for LabName {
    type Error = String;
    fn try_from(s: String) -> Result<LabName, String> {
        check_lab_name(&s)?;
        Ok(LabName(s))
    }
}

impl From<LabName> for String {
    fn from(n: LabName) -> String {
        n.0
    }
}

/// The run directory of `lab` under `base`: the only way run-directory paths are built.
pub fn run_dir(base: &Path, lab: &LabName) -> PathBuf {
    base.join(lab.as_str())
}

/// Prefix of a shard's run directory inside its lab's (`shard-<k>`, issue 13).
pub const SHARD_PREFIX: &str = "shard-";

/// The run directory of shard `k` of `lab` under `base`: `<base>/<lab>/shard-<k>`.
pub fn shard_dir(base: &Path, lab: &LabName, k: u32) -> PathBuf {
    run_dir(base, lab).join(format!("{SHARD_PREFIX}{k}"))
}

/// The shard directories in a lab's run directory `dir`, by shard number: entries named
/// `shard-<k>` (`k` a plain decimal number) that are real directories (not symlinks).
pub fn shard_dirs(dir: &Path) -> io::Result<Vec<(u32, PathBuf)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut v = Vec::new();
    for e in rd {
        let e = e?;
        let Some(k) = e
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix(SHARD_PREFIX))
            .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|k| k.parse::<u32>().ok())
        else {
            continue;
        };
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            v.push((k, e.path()));
        }
    }
    v.sort();
    Ok(v)
}

/// Whether `lab`'s run directory exists as a real directory (`Ok(false)` if it does not
/// exist). A symlink or any other kind of file there is refused: nothing follows it.
pub fn run_dir_exists(base: &Path, lab: &LabName) -> io::Result<bool> {
    let dir = run_dir(base, lab);
    match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.file_type().is_dir() => Ok(true),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a directory (a symlink or a file): refusing to use it",
                dir.display()
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Labs with a run directory under `base`: entries that are valid lab names and real
/// directories (not symlinks), sorted. Anything else there is skipped.
pub fn list(base: &Path) -> io::Result<Vec<LabName>> {
    let rd = match std::fs::read_dir(base) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut v = Vec::new();
    for e in rd {
        let e = e?;
        let Some(name) = e.file_name().to_str().and_then(|n| LabName::new(n).ok()) else {
            continue;
        };
        // DirEntry::file_type does not follow symlinks.
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            v.push(name);
        }
    }
    v.sort();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_dirs_are_plain_numbered_directories_only() {
        let base = std::env::temp_dir().join(format!("topolab-shards-{}", std::process::id()));
        let lab = LabName::new("l").unwrap();
        let dir = run_dir(&base, &lab);
        for d in [
            "shard-0", "shard-12", "shard-", "shard-x", "shard-+1", "other",
        ] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(dir.join("shard-3"), "").unwrap();
        std::os::unix::fs::symlink(dir.join("shard-0"), dir.join("shard-4")).unwrap();
        let found = shard_dirs(&dir).unwrap();
        assert_eq!(
            found,
            vec![
                (0, shard_dir(&base, &lab, 0)),
                (12, shard_dir(&base, &lab, 12))
            ]
        );
        std::fs::remove_dir_all(&base).unwrap();
        assert!(shard_dirs(&dir).unwrap().is_empty());
    }

    #[test]
    fn names() {
        for bad in [
            "",
            ".",
            "..",
            "../../tmp/x",
            "/tmp/x",
            "a/b",
            "a\nb",
            "-a",
            "a b",
        ] {
            assert!(LabName::new(bad).is_err(), "{bad:?}");
            assert!(serde_json::from_str::<LabName>(&format!("{bad:?}")).is_err());
        }
        let n: LabName = "lab_1.a-b".parse().unwrap();
        assert_eq!(n.to_string(), "lab_1.a-b");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"lab_1.a-b\"");
        assert_eq!(
            run_dir(Path::new("/run/topolab"), &n),
            Path::new("/run/topolab/lab_1.a-b")
        );
    }

    #[test]
    fn netns_of_lab() {
        let n = LabName::new("a").unwrap();
        assert!(n.may_own_netns("a-h1"));
        assert!(n.may_own_netns("a-b-c"));
        for bad in [
            "a",
            "a-",
            "b-h1",
            "a-../../tmp/f",
            "a-x/y",
            "ab-h1",
            "../a-h1",
            "a-x\0",
        ] {
            assert!(!n.may_own_netns(bad), "{bad:?}");
        }
    }
}
