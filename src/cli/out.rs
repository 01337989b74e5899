//! Printing that never panics: `out!`/`outln!` (stdout) and `errln!` (stderr).
//!
//! `println!` panics when stdout is a closed pipe (`topolab ls | head -0`). These macros
//! do not. What happens when stdout closes depends on the command's [`Mode`], chosen
//! once in `main`:
//! - [`Mode::Exit`]: a command that only prints exits at once, quietly, with status 0,
//!   as `ls | head` does;
//! - [`Mode::Continue`]: a command that holds a lab (`up`, `test`, `bench`) stops writing
//!   to stdout and carries on, so its lab is torn down normally and its exit status and
//!   report files stay right.
//!
//! A failed write to stderr is ignored in both modes. [`me`] names this binary as it was
//! invoked, for hints (`topolab …`, `./target/release/topolab …`).

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// What a closed stdout does to the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Exit quietly with status 0.
    Exit = 0,
    /// Stop writing to stdout and carry on.
    Continue = 1,
}

static MODE: AtomicU8 = AtomicU8::new(Mode::Exit as u8);
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

pub fn set_mode(mode: Mode) {
    MODE.store(mode as u8, Ordering::Relaxed);
}

/// Writes to stdout (flushing, so a closed pipe shows at once); see the module doc.
pub fn write_out(args: fmt::Arguments) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if out.write_fmt(args).and_then(|()| out.flush()).is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if MODE.load(Ordering::Relaxed) == Mode::Exit as u8 {
            drop(out);
            // Nothing more can be said on stdout, and a closed pipe is not an error.
            std::process::exit(0);
        }
    }
}

/// Whether a write to stdout has failed (a closed pipe): a [`Mode::Continue`] command that
/// only reports (the console's `--script`) stops there.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Writes to stderr, ignoring failure.
pub fn write_err(args: fmt::Arguments) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Prints to stdout without panicking; see [`write_out`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::out::write_out(format_args!($($arg)*)) };
}

/// Prints a line to stdout without panicking; see [`write_out`].
macro_rules! outln {
    () => { $crate::cli::out::write_out(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::cli::out::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints a line to stderr, ignoring failure.
macro_rules! errln {
    () => { $crate::cli::out::write_err(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::cli::out::write_err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};

/// This binary as the user invoked it, for hints: `topolab` when found on `PATH`, the
/// path they typed otherwise (`./target/release/topolab`), shell-quoted if it needs it.
pub fn me() -> &'static str {
    static ME: OnceLock<String> = OnceLock::new();
    ME.get_or_init(|| {
        let arg0 = std::env::args_os()
            .next()
            .map(|a| a.to_string_lossy().into_owned())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "topolab".into());
        shell_word(&arg0)
    })
}

/// `s` as one shell word: as is when it is plain, single-quoted otherwise.
fn shell_word(s: &str) -> String {
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%,=".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn hint_names_are_one_shell_word() {
        assert_eq!(shell_word("topolab"), "topolab");
        assert_eq!(
            shell_word("./target/release/topolab"),
            "./target/release/topolab"
        );
        assert_eq!(shell_word("/a b/top'lab"), r"'/a b/top'\''lab'");
        assert_eq!(shell_word("x;rm -rf /"), "'x;rm -rf /'");
    }
}
