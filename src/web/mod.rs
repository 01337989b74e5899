//! The live web view of a running lab (`topolab web LAB`, `topolab up --web`).
//!
//! A small HTTP server (axum) serves one page, bundled into the binary with its script and
//! style (no network at run time). The page draws the lab from the [`model::Graph`] it
//! carries and lays it out itself; the server then pushes a [`model::Tick`] each second
//! over one server-sent-event stream: per-link and per-direction rates, packets, drops
//! and impairments, node and service state, BGP sessions and OpenFlow connections.
//! Clicking a link or a node asks the server, which asks the lab the way the CLI does
//! (the control socket's `Link`, `Node` and `Live` requests; the daemons' sockets).
//!
//! ```text
//!   browser ◀──SSE tick/s── ticker ──▶ sample: netlink (a socket per namespace, opened once)
//!      │                       │         ├──▶ control.sock  Live (links, services)
//!      │                       │         └──▶ daemons/*.sock of switches; bgp summary (1 in 5)
//!      └──POST /api/link/ID──▶ control.sock Link {a, b, action}
//! ```
//!
//! A watcher asks the supervisor for its links' and services' states five times a second
//! (one `Live` request) and wakes the ticker when they change, so a link taken down shows
//! at once rather than at the next whole second.
//!
//! Invariants: the server listens on loopback unless told otherwise (an unspecified
//! address is refused unless explicit, and warned about when it is); a name from a request
//! is only compared with the Plan's, never made into a path; nothing is sampled while no
//! page is open.

pub mod cdp;
pub mod model;
pub mod sample;
pub mod server;

use std::net::SocketAddr;

pub use server::{WebOptions, serve};

/// The page (the graph is put in place of `{{GRAPH}}`), its script and its style.
pub const INDEX_HTML: &str = include_str!("../../assets/web/index.html");
pub const APP_JS: &str = include_str!("../../assets/web/app.js");
pub const APP_CSS: &str = include_str!("../../assets/web/app.css");

/// Bytes of every bundled asset (the page before its graph is put in).
pub fn asset_bytes() -> usize {
    INDEX_HTML.len() + APP_JS.len() + APP_CSS.len()
}

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "refusing to listen on {0}: every interface, so anyone who can reach this machine \
         could change the lab's links (pass it explicitly with --listen to do it anyway)"
    )]
    Unspecified(SocketAddr),
    #[error("web view: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks where to listen: an unspecified address (`0.0.0.0`, `::`) only when `explicit`
/// (the user typed it). Returns a warning to print for any address that is not loopback.
pub fn check_listen(addr: SocketAddr, explicit: bool) -> Result<Option<String>, WebError> {
    let ip = addr.ip();
    if ip.is_unspecified() {
        if !explicit {
            return Err(WebError::Unspecified(addr));
        }
        return Ok(Some(format!(
            "warning: the web view listens on every interface ({addr}): anyone who can \
             reach this machine can see the lab and change its links"
        )));
    }
    if !ip.is_loopback() {
        return Ok(Some(format!(
            "warning: the web view listens on {addr}, not loopback: anyone who can reach \
             that address can see the lab and change its links"
        )));
    }
    Ok(None)
}
