//! The lab supervisor's event loop: serve the control socket until `down`, SIGINT or
//! SIGTERM (or the caller's `until`: a foreground `up` whose console was left), then tear down.
//!
//! ```text
//!   control.sock ──accept──▶ a task per connection: one request line (≤ 64 KiB, read
//!                            within 10 s), then lock the lab ──▶ Inspect: kernel_state
//!                                                               Down: teardown, reply Done
//!   SIGINT/SIGTERM ─────────▶ lock the lab ──▶ teardown ──▶ return
//! ```
//! Connections are served concurrently, so an idle or slow client delays nobody, and
//! signals are served at once whatever connections are open. The lab sits behind a mutex
//! that every request holds while it acts, so a `down` can never race another request;
//! after `down`, requests get "lab is down".

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Mutex, Semaphore, mpsc};

use super::control::{self, Request, Response};
use super::inspect::{self, LabStatus, ProcessStatus};
use super::{Lab, LabError};

/// Longest request line accepted; a longer one gets an error reply and is closed.
pub const MAX_REQUEST: usize = 64 * 1024;
/// A client must send its request line, and read the reply, within this.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 64;

/// Why the supervisor stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    DownRequested,
    Signal,
    /// The caller's `until` future finished (the console of a foreground `up` was left).
    Finished,
}

/// What a control socket serves: one lab on this machine ([`Lab`]), or the coordinator of
/// a lab split across shards ([`super::coordinator::Coordinator`]).
pub trait Served: Send + Sized + 'static {
    fn run_dir(&self) -> &std::path::Path;
    /// Acts on one request; `lab` is `None` once it is down. True when it tore it down.
    fn respond(
        lab: &Mutex<Option<Self>>,
        req: Request,
    ) -> impl std::future::Future<Output = (Response, bool)> + Send;
    /// Tears it down.
    fn down(self) -> impl std::future::Future<Output = Result<(), LabError>> + Send;
}

impl Served for Lab {
    fn run_dir(&self) -> &std::path::Path {
        Lab::run_dir(self)
    }
    fn respond(
        lab: &Mutex<Option<Self>>,
        req: Request,
    ) -> impl std::future::Future<Output = (Response, bool)> + Send {
        respond(req, lab)
    }
    fn down(self) -> impl std::future::Future<Output = Result<(), LabError>> + Send {
        Lab::down(self)
    }
}

/// Serves `lab` until asked to stop; always tears the lab down before returning.
pub async fn serve<L: Served>(lab: L) -> Result<Stopped, LabError> {
    serve_then(lab, None, || {}).await
}

/// [`serve`], calling `ready` once the control socket accepts connections and signals are
/// handled: a caller that announces the lab (`up -d`) does it there, so that nobody is told
/// about a lab whose socket does not exist yet. `interrupted`: a flag that the caller's own
/// signal handling set during bring-up; if it is set once ours is in place, the lab goes
/// down at once (a signal between bring-up and here is never lost).
pub async fn serve_then<L: Served>(
    lab: L,
    interrupted: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ready: impl FnOnce(),
) -> Result<Stopped, LabError> {
    serve_until(lab, interrupted, ready, Until::default()).await
}

/// What else ends [`serve_until`], besides `down` and SIGTERM.
pub struct Until<F> {
    /// Stop when this finishes.
    pub done: F,
    /// Stop on SIGINT. Off while a console runs in this process: its Ctrl-C stops the
    /// console's command, not the lab (SIGINT is still caught, so it never kills us).
    pub sigint: bool,
}

impl Default for Until<std::future::Pending<()>> {
    fn default() -> Self {
        Until {
            done: std::future::pending(),
            sigint: true,
        }
    }
}

/// [`serve_then`], also stopping when `until.done` finishes, and on SIGINT only if
/// `until.sigint`.
pub async fn serve_until<L: Served>(
    lab: L,
    interrupted: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ready: impl FnOnce(),
    until: Until<impl std::future::Future<Output = ()>>,
) -> Result<Stopped, LabError> {
    let path = control::socket_path(Served::run_dir(&lab));
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
    if interrupted.is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst)) {
        Served::down(lab).await?;
        return Ok(Stopped::Signal);
    }
    ready();
    let done = until.done;
    tokio::pin!(done);
    let lab = Arc::new(Mutex::new(Some(lab)));
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (down_tx, mut down_rx) = mpsc::channel::<()>(1);
    let mut conns = tokio::task::JoinSet::new();

    let stopped = loop {
        tokio::select! {
            _ = sigint.recv(), if until.sigint => break Stopped::Signal,
            _ = sigterm.recv() => break Stopped::Signal,
            () = &mut done => break Stopped::Finished,
            _ = down_rx.recv() => break Stopped::DownRequested,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            conn = listener.accept() => {
                let Ok((stream, _)) = conn else { continue };
                // Over the limit: dropping the stream closes it.
                let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
                let (lab, down_tx) = (lab.clone(), down_tx.clone());
                conns.spawn(async move {
                    let _slot = slot;
                    if handle(stream, &lab).await {
                        let _ = down_tx.try_send(());
                    }
                });
            }
        }
    };
    // Waits for a request in progress (a `down` included) to finish. The listener stays
    // open until the lab is gone: closing it would reset connections the kernel queued but
    // we never accepted, telling their clients the supervisor is gone while it still tears
    // the lab down. They are closed when this process exits, after the teardown.
    let lab = lab.lock().await.take();
    if let Some(lab) = lab {
        Served::down(lab).await?;
    }
    drop(listener);
    Ok(stopped)
}

fn signal_err(e: io::Error) -> LabError {
    LabError::Kernel {
        what: "install signal handlers".into(),
        source: e,
    }
}

/// Serves one connection; returns true when it tore the lab down.
async fn handle<L: Served>(stream: UnixStream, lab: &Mutex<Option<L>>) -> bool {
    let (r, mut w) = stream.into_split();
    let mut line = Vec::new();
    let read = tokio::time::timeout(
        IO_TIMEOUT,
        BufReader::new(r.take(MAX_REQUEST as u64 + 1)).read_until(b'\n', &mut line),
    )
    .await;
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        return false;
    }
    let (resp, stopped) = if line.len() > MAX_REQUEST {
        let message = format!("bad request: longer than {} KiB", MAX_REQUEST / 1024);
        (Response::Error { message }, false)
    } else {
        match serde_json::from_slice::<Request>(&line) {
            Err(e) => {
                let message = format!("bad request: {e}");
                (Response::Error { message }, false)
            }
            Ok(req) => L::respond(lab, req).await,
        }
    };
    let mut out = serde_json::to_vec(&resp).unwrap_or_default();
    out.push(b'\n');
    let _ = tokio::time::timeout(IO_TIMEOUT, w.write_all(&out)).await;
    stopped
}

/// Acts on one request, holding the lab for the whole of it; true when it tore the lab
/// down.
async fn respond(req: Request, lab: &Mutex<Option<Lab>>) -> (Response, bool) {
    let mut guard = lab.lock().await;
    let down = || Response::Error {
        message: "lab is down".into(),
    };
    let Some(l) = guard.as_mut() else {
        return match req {
            Request::Down => (Response::Done, true),
            _ => (down(), false),
        };
    };
    let resp = match req {
        Request::Ping => Response::Pong {
            name: l.name().to_string(),
            pid: std::process::id(),
        },
        Request::Inspect => match status(l).await {
            Ok(s) => Response::Status {
                status: Box::new(s),
            },
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        },
        Request::Live => Response::Live {
            links: l.links(),
            services: l.services_handle().map(|s| s.states()).unwrap_or_default(),
        },
        Request::Link { a, b, action } => match l.link(&a, &b, action).await {
            Ok(status) => Response::Link {
                status: Box::new(status),
            },
            Err(e) => Response::Error {
                message: render(&e),
            },
        },
        Request::Node {
            node,
            service,
            action: op,
        } => {
            // Not holding the lab across a grace period: the services are shared.
            let (Some(svc), plan) = (l.services_handle(), l.plan.clone()) else {
                return (down(), false);
            };
            drop(guard);
            let r = super::node_op(svc, &plan, &node, service.as_deref(), op).await;
            return (
                match r {
                    Ok((services, _)) => Response::Services { services },
                    Err(e) => Response::Error {
                        message: render(&e),
                    },
                },
                false,
            );
        }
        Request::WaitReady {
            node,
            service,
            timeout_ms,
        } => {
            let Some(svc) = l.services_handle() else {
                return (down(), false);
            };
            if let Some(n) = &node
                && l.plan.node(n).is_none()
            {
                let e = LabError::UnknownNode(n.clone());
                return (
                    Response::Error {
                        message: render(&e),
                    },
                    false,
                );
            }
            drop(guard);
            let timeout = Duration::from_millis(timeout_ms.min(3_600_000));
            let r = tokio::task::spawn_blocking(move || {
                svc.wait_ready(node.as_deref(), service.as_deref(), timeout, &|_, _| {})
                    .map(|()| svc.status())
            })
            .await;
            return (
                match r {
                    Ok(Ok(services)) => Response::Services { services },
                    Ok(Err(e)) => Response::Error {
                        message: render(&e),
                    },
                    Err(e) => Response::Error {
                        message: e.to_string(),
                    },
                },
                false,
            );
        }
        Request::Down => {
            let l = guard.take().expect("checked above");
            let resp = match l.down().await {
                Ok(()) => Response::Done,
                Err(e) => Response::Error {
                    message: e.to_string(),
                },
            };
            return (resp, true);
        }
    };
    (resp, false)
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
        services: lab.services(),
        shards: Vec::new(),
    })
}

/// An error with its help text, for a client that only gets a string.
pub(crate) fn render(e: &LabError) -> String {
    use miette::Diagnostic;
    match e.help() {
        Some(h) => format!("{e}\n  help: {h}"),
        None => e.to_string(),
    }
}
