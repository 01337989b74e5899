//! Reading the files a user names (topology, scenario, trace) with bounds: regular files
//! only, at most [`MAX_FILE_BYTES`], UTF-8.
//!
//! The file is opened with `O_NONBLOCK` and checked with `fstat` on the open descriptor,
//! so a FIFO or a device is refused without ever blocking or reading it (`/dev/zero`
//! would otherwise be read until memory runs out, a FIFO would block forever), and the
//! thing checked is the thing read. The read itself stops one byte past the limit, so a
//! file that grows after the check cannot grow the read.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Largest topology, scenario or trace file accepted: 16 MiB.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Why a file could not be read.
#[derive(Debug)]
pub enum FileProblem {
    NotFound,
    /// A directory, FIFO, socket or device.
    NotRegular(&'static str),
    TooLarge(u64),
    NotUtf8,
    Io(io::Error),
}

impl FileProblem {
    /// The reason, as the end of "cannot read `path`: …".
    pub fn reason(&self) -> String {
        match self {
            FileProblem::NotFound => "no such file".into(),
            FileProblem::NotRegular(kind) => format!("not a regular file (it is {kind})"),
            FileProblem::TooLarge(size) => format!(
                "the file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes ({} MiB)",
                MAX_FILE_BYTES >> 20
            ),
            FileProblem::NotUtf8 => "the file is not UTF-8 text".into(),
            FileProblem::Io(e) => e.to_string(),
        }
    }

    /// A hint for the user.
    pub fn hint(&self) -> &'static str {
        match self {
            FileProblem::NotFound | FileProblem::Io(_) => "check the path and its permissions",
            FileProblem::NotRegular(_) => {
                "name a regular file; devices, FIFOs and directories are not read"
            }
            FileProblem::TooLarge(_) => "split the file, or use generators for large labs",
            FileProblem::NotUtf8 => "save the file as UTF-8 text",
        }
    }
}

/// Reads `path` as text if it is a regular UTF-8 file of at most [`MAX_FILE_BYTES`].
pub fn read_text_file(path: &Path) -> Result<String, FileProblem> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FileProblem::NotFound,
            _ => FileProblem::Io(e),
        })?;
    let meta = file.metadata().map_err(FileProblem::Io)?;
    if !meta.is_file() {
        return Err(FileProblem::NotRegular(kind_of(&meta)));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(FileProblem::TooLarge(meta.len()));
    }
    read_bounded(file)
}

fn read_bounded(file: File) -> Result<String, FileProblem> {
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(FileProblem::Io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(FileProblem::TooLarge(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| FileProblem::NotUtf8)
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_refused() {
        for (path, kind) in [("/dev/zero", "character device"), ("/", "directory")] {
            let e = read_text_file(Path::new(path)).unwrap_err();
            assert!(e.reason().contains(kind), "{path}: {}", e.reason());
        }
        assert!(matches!(
            read_text_file(Path::new("/nonexistent/topolab")),
            Err(FileProblem::NotFound)
        ));
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("topolab-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("f");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = read_text_file(&fifo).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(e.reason().contains("FIFO"), "{}", e.reason());
    }

    #[test]
    fn large_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("topolab-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.yaml");
        let f = File::create(&big).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap(); // sparse
        let e = read_text_file(&big).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            e.reason().contains("limit is 16777216 bytes"),
            "{}",
            e.reason()
        );
    }
}
