//! The lab supervisor's event loop: serve the control socket until `down`, SIGINT or
//! SIGTERM, then tear down.
//!
//! ```text
//!   control.sock ──accept──▶ one request at a time ──▶ Inspect: kernel_state (own thread)
//!   SIGINT/SIGTERM ─┐                                  Down:    teardown, then reply Done
//!                   └──────▶ teardown ──▶ return
//! ```
//! Requests are served one after another: they are rare and short, and serial handling
//! means a `down` can never race an `inspect`.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{SignalKind, signal};

use super::control::{self, Request, Response};
use super::inspect::{self, LabStatus, ProcessStatus};
use super::{Lab, LabError};

/// Why the supervisor stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    DownRequested,
    Signal,
}

/// Serves `lab` until asked to stop; always tears the lab down before returning.
pub async fn serve(lab: Lab) -> Result<Stopped, LabError> {
    let path = control::socket_path(lab.run_dir());
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| LabError::RunDir {
        path: path.clone(),
        source: e,
    })?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        LabError::RunDir {
            path: path.clone(),
            source: e,
        }
    })?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(signal_err)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(signal_err)?;
    let mut lab = Some(lab);

    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            conn = listener.accept() => {
                let Ok((stream, _)) = conn else { continue };
                if handle(stream, &mut lab).await {
                    return Ok(Stopped::DownRequested);
                }
            }
        }
    }
    drop(listener);
    if let Some(lab) = lab.take() {
        lab.down().await?;
    }
    Ok(Stopped::Signal)
}

fn signal_err(e: io::Error) -> LabError {
    LabError::Kernel {
        what: "install signal handlers".into(),
        source: e,
    }
}

/// Serves one connection; returns true when the lab has been torn down.
async fn handle(stream: UnixStream, lab: &mut Option<Lab>) -> bool {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        BufReader::new(r).read_line(&mut line),
    )
    .await;
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        return false;
    }
    let mut stopped = false;
    let resp = match serde_json::from_str::<Request>(&line) {
        Err(e) => Response::Error {
            message: format!("bad request: {e}"),
        },
        Ok(Request::Ping) => match lab {
            Some(l) => Response::Pong {
                name: l.name().to_string(),
                pid: std::process::id(),
            },
            None => Response::Error {
                message: "lab is down".into(),
            },
        },
        Ok(Request::Inspect) => match lab {
            Some(l) => match status(l).await {
                Ok(s) => Response::Status {
                    status: Box::new(s),
                },
                Err(e) => Response::Error {
                    message: e.to_string(),
                },
            },
            None => Response::Error {
                message: "lab is down".into(),
            },
        },
        Ok(Request::Link { a, b, action }) => match lab {
            Some(l) => match l.link(&a, &b, action).await {
                Ok(status) => Response::Link {
                    status: Box::new(status),
                },
                Err(e) => Response::Error {
                    message: render(&e),
                },
            },
            None => Response::Error {
                message: "lab is down".into(),
            },
        },
        Ok(Request::Down) => {
            stopped = true;
            match lab.take() {
                Some(l) => match l.down().await {
                    Ok(()) => Response::Done,
                    Err(e) => Response::Error {
                        message: e.to_string(),
                    },
                },
                None => Response::Done,
            }
        }
    };
    let mut out = serde_json::to_vec(&resp).unwrap_or_default();
    out.push(b'\n');
    let _ = w.write_all(&out).await;
    stopped
}

/// Kernel state plus process state, gathered off the runtime's threads.
pub async fn status(lab: &mut Lab) -> io::Result<LabStatus> {
    let plan = lab.plan.clone();
    let mut nodes = tokio::task::spawn_blocking(move || inspect::kernel_state(&plan))
        .await
        .map_err(io::Error::other)??;
    for (node, cmd, pid, exit) in lab.processes() {
        if let Some(n) = nodes.iter_mut().find(|n| n.name == node) {
            n.processes.push(ProcessStatus { cmd, pid, exit });
        }
    }
    let topology = super::journal::Journal::read(lab.run_dir())
        .ok()
        .and_then(|es| {
            es.into_iter().find_map(|e| match e {
                super::journal::Entry::Lab { topology, .. } => Some(topology),
                _ => None,
            })
        })
        .unwrap_or_default();
    Ok(LabStatus {
        name: lab.name().to_string(),
        topology,
        supervisor_pid: std::process::id(),
        nodes,
        links: lab.links(),
        kernel: crate::link::caps::capabilities(),
    })
}

/// An error with its help text, for a client that only gets a string.
fn render(e: &LabError) -> String {
    use miette::Diagnostic;
    match e.help() {
        Some(h) => format!("{e}\n  help: {h}"),
        None => e.to_string(),
    }
}
