//! A program on a pseudo-terminal, driven as a person would: keys in, the screen out (a
//! vt100 parser keeps the screen as the terminal would show it). The program gets its own
//! session with the pty as controlling terminal, so Ctrl-C (`\x03`) becomes SIGINT for
//! its foreground process group, as in a real terminal.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROWS: u16 = 200;
const COLS: u16 = 160;

pub struct Pty {
    master: File,
    child: Child,
    screen: Arc<Mutex<vt100::Parser>>,
}

impl Pty {
    /// Starts `cmd` on a new pty (its stdin, stdout and stderr).
    pub fn spawn(cmd: &mut Command) -> Pty {
        let size = nix::pty::Winsize {
            ws_row: ROWS,
            ws_col: COLS,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(&size, None).expect("openpty");
        let slave: OwnedFd = pty.slave;
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on the pty");
        let master = File::from(pty.master);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            ROWS.try_into().unwrap(),
            COLS.try_into().unwrap(),
            0,
        )));
        let mut reader = master.try_clone().unwrap();
        let s = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once every slave fd is closed (the program and its children are gone).
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock().unwrap().process(&buf[..n]);
            }
        });
        Pty {
            master,
            child,
            screen,
        }
    }

    /// Types `keys` (`\r` is Enter, `\t` Tab, `\x03` Ctrl-C, `\x04` Ctrl-D).
    pub fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits until `pred` holds for the screen; panics with the screen after `limit`.
    pub fn wait_until(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) {
        let end = Instant::now() + limit;
        loop {
            let s = self.screen();
            if pred(&s) {
                return;
            }
            if Instant::now() > end {
                panic!("waited {limit:?} for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `text` is on the screen `times` times or more.
    pub fn wait_for_n(&self, text: &str, times: usize, limit: Duration) {
        self.wait_until(&format!("{times}× `{text}`"), limit, |s| {
            s.matches(text).count() >= times
        });
    }

    pub fn wait_for(&self, text: &str, limit: Duration) {
        self.wait_for_n(text, 1, limit);
    }

    /// How many times `text` is on the screen now.
    pub fn count(&self, text: &str) -> usize {
        self.screen().matches(text).count()
    }

    /// The row the cursor is on.
    pub fn cursor_row(&self) -> String {
        let p = self.screen.lock().unwrap();
        let (row, _) = p.screen().cursor_position();
        p.screen()
            .rows(0, COLS)
            .nth(usize::from(row))
            .unwrap_or_default()
    }

    /// The terminal's modes now (the line discipline's, shared by both sides).
    pub fn termios(&self) -> nix::sys::termios::Termios {
        nix::sys::termios::tcgetattr(&self.master).expect("tcgetattr")
    }

    /// Waits for the program to exit (it is killed after `limit`, and the test fails).
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the program did not exit within {limit:?}; the screen:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // Only the program this test started, by its PID: SIGTERM first (a foreground `up`
        // tears its lab down on it), SIGKILL if it is still there 30 s later.
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
