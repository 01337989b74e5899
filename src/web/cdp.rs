//! A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe`, to drive a
//! headless Chromium against the web view: open a page, evaluate JavaScript in it, take
//! a screenshot. For the web view's tests and `topolab bench web`; nothing else uses it.
//!
//! The pipe is two file descriptors of the browser: it reads requests on fd 3 and writes
//! answers and events on fd 4, each a JSON message ended by a NUL byte. Requests carry an
//! `id` and their answer the same `id`; events (no `id`) are skipped. A page is a target
//! attached with `flatten`, so its requests name its `sessionId`.
//!
//! ```text
//!   Browser ──{id, method, params, sessionId}\0──▶ fd 3  chromium --headless
//!           ◀──{id, result | error}\0 / events ──── fd 4
//! ```

use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The Chromium binary on PATH (Debian's `chromium`, else `chromium-browser`), if any.
pub fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// A headless Chromium started by us; closed (and, failing that, killed by its PID) on drop.
pub struct Browser {
    child: Child,
    to: std::fs::File,
    from: BufReader<std::fs::File>,
    next: u64,
    profile: PathBuf,
}

/// A page (tab) of the browser.
pub struct Page {
    target: String,
    session: String,
}

/// A file descriptor duplicated to 10 or above, so that placing it at 3 or 4 in the child
/// never overwrites the other one.
fn high_fd(fd: &OwnedFd) -> io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we own (or -1).
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `n` is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

impl Browser {
    /// Starts `chromium` headless with a window of `width`×`height`, its profile in a fresh
    /// directory under `scratch` (removed on drop).
    pub fn launch(chromium: &Path, scratch: &Path, width: u32, height: u32) -> io::Result<Browser> {
        static LAUNCHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = LAUNCHED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let profile = scratch.join(format!("chromium-profile-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile)?;
        let (req_r, req_w) = std::io::pipe()?;
        let (resp_r, resp_w) = std::io::pipe()?;
        let (child_in, child_out) = (high_fd(&req_r.into())?, high_fd(&resp_w.into())?);
        let (fd_in, fd_out) = (child_in.as_raw_fd(), child_out.as_raw_fd());
        let mut cmd = Command::new(chromium);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--remote-debugging-pipe",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: dup2 is async-signal-safe; the targets 3 and 4 lose CLOEXEC, the
        // sources (≥ 10) keep it and close at exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(fd_in, 3) < 0 || libc::dup2(fd_out, 4) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        drop((child_in, child_out));
        Ok(Browser {
            child,
            to: std::fs::File::from(OwnedFd::from(req_w)),
            from: BufReader::new(std::fs::File::from(OwnedFd::from(resp_r))),
            next: 1,
            profile,
        })
    }

    /// Sends one request and waits for its answer (`result`), skipping events.
    pub fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> io::Result<Value> {
        let id = self.next;
        self.next += 1;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).map_err(io::Error::other)?;
        bytes.push(0);
        self.to.write_all(&bytes)?;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if self.from.read_until(0, &mut buf)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the browser closed its pipe",
                ));
            }
            if buf.last() == Some(&0) {
                buf.pop();
            }
            let v: Value = serde_json::from_slice(&buf)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if v["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(e) = v.get("error") {
                return Err(io::Error::other(format!("{method}: {e}")));
            }
            return Ok(v["result"].clone());
        }
    }

    /// Opens `url` in a new page.
    pub fn open(&mut self, url: &str) -> io::Result<Page> {
        let target = self.call(None, "Target.createTarget", json!({ "url": url }))?;
        let id = target["targetId"]
            .as_str()
            .ok_or_else(|| io::Error::other("no targetId"))?
            .to_string();
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": id, "flatten": true }),
        )?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| io::Error::other("no sessionId"))?
            .to_string();
        Ok(Page {
            target: id,
            session,
        })
    }

    /// Closes a page.
    pub fn close(&mut self, page: Page) -> io::Result<()> {
        self.call(
            None,
            "Target.closeTarget",
            json!({ "targetId": page.target }),
        )
        .map(drop)
    }

    /// The value of `expr` in `page` (JSON-serialisable values only).
    pub fn eval(&mut self, page: &Page, expr: &str) -> io::Result<Value> {
        let r = self.call(
            Some(&page.session),
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true }),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(io::Error::other(format!("{expr}: {e}")));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Evaluates `expr` every 20 ms until it is truthy (returns its value) or `limit` passes.
    /// An exception counts as not yet (the page may still be loading).
    pub fn wait_for(&mut self, page: &Page, expr: &str, limit: Duration) -> io::Result<Value> {
        let end = Instant::now() + limit;
        loop {
            let last = match self.call(
                Some(&page.session),
                "Runtime.evaluate",
                json!({ "expression": expr, "returnByValue": true }),
            )? {
                r if r.get("exceptionDetails").is_some() => format!("{}", r["exceptionDetails"]),
                r => {
                    let v = r["result"]["value"].clone();
                    let truthy = !matches!(&v, Value::Null | Value::Bool(false))
                        && v.as_str() != Some("")
                        && v.as_f64() != Some(0.0);
                    if truthy {
                        return Ok(v);
                    }
                    format!("{v}")
                }
            };
            if Instant::now() >= end {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("`{expr}` still false after {limit:?} (last: {last})"),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A PNG of what `page` shows.
    pub fn screenshot(&mut self, page: &Page) -> io::Result<Vec<u8>> {
        let r = self.call(
            Some(&page.session),
            "Page.captureScreenshot",
            json!({ "format": "png" }),
        )?;
        let b64 = r["data"]
            .as_str()
            .ok_or_else(|| io::Error::other("no screenshot data"))?;
        crate::daemon::bgp::base64_decode(b64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad base64"))
    }

    /// The browser's PID (for CPU accounting).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call(None, "Browser.close", json!({}));
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= end => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
