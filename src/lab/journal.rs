//! The journal: an append-only record, under `/run/topolab/<lab>/`, of everything a lab
//! creates, written *before* it is created.
//!
//! It is what makes cleanup exact: `topolab clean` and teardown after a crash remove
//! what the journal names and nothing else — never objects found by matching names, which
//! could belong to the user. A namespace or process recorded but never created is harmless:
//! deletion is idempotent, and a process is only signalled when its PID *and* start time
//! (from `/proc/PID/stat`) still match, so a recycled PID is never hit.
//!
//! Format: JSON lines, one [`Entry`] each. The run directory also holds `lock` (flocked by
//! the live supervisor: a free lock means the supervisor is gone), `control.sock`,
//! `plan.json` and `logs/`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LabName;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Entry {
    /// First line: who owns this lab.
    Lab {
        name: LabName,
        pid: u32,
        /// The supervisor's start time in clock ticks since boot (`/proc/PID/stat` field 22).
        start: u64,
        topology: String,
    },
    /// Named namespaces about to be created (older journals). Informational only: a name
    /// alone never authorizes a deletion, see [`Entry::Namespace`].
    Netns { names: Vec<String> },
    /// A namespace this lab created, with its identity: written after its name was claimed
    /// exclusively and before it was mounted. Teardown deletes `name` only while it still
    /// is this namespace (nsfs `dev` + `ino`), or this `placeholder` file (its inode).
    Namespace {
        name: String,
        dev: u64,
        ino: u64,
        placeholder: u64,
    },
    /// A process about to be started (pid 0) or just started.
    Process {
        node: String,
        pid: u32,
        start: u64,
        cmd: String,
    },
    /// A link in the root namespace (`mgmt: {host: true}`): written with `ifindex` 0 before
    /// it is created, and again with the ifindex the kernel gave it. Teardown deletes a root
    /// link only while both its name and its ifindex match a record with a non-zero index.
    HostLink { name: String, ifindex: u32 },
    /// A node's cgroup (`topolab/<lab>/<node>` in each hierarchy), written before it is
    /// made. Teardown kills what is left in it and removes it.
    Cgroup { node: String },
    /// A process we started has been reaped (no longer ours to signal).
    Reaped { pid: u32 },
}

pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    pub const FILE: &'static str = "journal.jsonl";

    /// Creates the journal of a new lab (fails if one exists).
    pub fn create(dir: &Path) -> io::Result<Journal> {
        let path = dir.join(Self::FILE);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        Ok(Journal { file, path })
    }

    pub fn append(&mut self, e: &Entry) -> io::Result<()> {
        let mut line = serde_json::to_vec(e).map_err(io::Error::other)?;
        line.push(b'\n');
        // One write per entry: a crash leaves whole lines (append is atomic per write
        // on a local fs for lines this small).
        self.file.write_all(&line)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lab entry (first line): owner name, supervisor pid and start time.
    pub fn owner(entries: &[Entry]) -> Option<(&LabName, u32, u64, &str)> {
        entries.iter().find_map(|e| match e {
            Entry::Lab {
                name,
                pid,
                start,
                topology,
            } => Some((name, *pid, *start, topology.as_str())),
            _ => None,
        })
    }

    /// Reads a journal; a torn last line (crash mid-write) is ignored, and so is a line
    /// that does not validate (a lab name that is not one). The file is opened without
    /// following a symlink.
    pub fn read(dir: &Path) -> io::Result<Vec<Entry>> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(dir.join(Self::FILE))?;
        let mut out = Vec::new();
        for line in BufReader::new(f).lines() {
            let line = line?;
            if let Ok(e) = serde_json::from_str(&line) {
                out.push(e);
            }
        }
        Ok(out)
    }
}

/// Start time of a process in clock ticks since boot, or None if it does not exist.
pub fn proc_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 (comm) may contain spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    // rest starts at field 3; starttime is field 22 → index 19 here.
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_line() {
        let dir = std::env::temp_dir().join(format!("tl-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut j = Journal::create(&dir).unwrap();
        let e1 = Entry::Netns {
            names: vec!["a-h1".into(), "a-h2".into()],
        };
        let e2 = Entry::Process {
            node: "h1".into(),
            pid: 42,
            start: 7,
            cmd: "sleep 1".into(),
        };
        j.append(&e1).unwrap();
        j.append(&e2).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(j.path())
            .unwrap()
            .write_all(b"{\"t\":\"netns\",\"na")
            .unwrap();
        assert_eq!(Journal::read(&dir).unwrap(), vec![e1, e2]);
        assert!(
            Journal::create(&dir).is_err(),
            "a second journal must not overwrite"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn start_time_of_self() {
        let t = proc_start_time(std::process::id()).unwrap();
        assert!(t > 0);
        assert_eq!(proc_start_time(u32::MAX), None);
    }
}
