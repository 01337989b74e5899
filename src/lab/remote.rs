//! The agents' control channel between machines (issue 13).
//!
//! CONTRACT — helper A2 implements the bodies; helper A1's `topolab agent` calls [`serve`].
//! An agent serves its shard supervisor's control protocol (JSON lines, [`Request`] /
//! [`Response`]) on a TCP address of its underlay, only to clients that prove they hold the
//! lab's secret (challenge–response both ways, HMAC-SHA256 over fresh nonces; the secret
//! never crosses the wire). The secret is 32 random bytes, handed to agents by the
//! launcher in the environment variable [`SECRET_ENV`] (64 hex digits) or a file.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::control::{Request, Response};

/// Environment variable carrying the lab's secret (64 hex digits) to an agent.
pub const SECRET_ENV: &str = "TOPOLAB_LAB_SECRET";

/// A lab's shared secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub [u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// 32 bytes from the kernel's random source.
    pub fn generate() -> io::Result<Secret> {
        Err(io::Error::other("not yet implemented"))
    }

    /// From 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Secret, String> {
        let _ = s;
        Err("not yet implemented".into())
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// From [`SECRET_ENV`].
    pub fn from_env() -> Result<Secret, String> {
        let v = std::env::var(SECRET_ENV).map_err(|_| format!("{SECRET_ENV} is not set"))?;
        Secret::from_hex(v.trim())
    }
}

/// Serves the control protocol of the supervisor listening on `control_socket` on TCP
/// `listen`, the listening socket created inside network namespace `netns` (a name under
/// /run/netns; `None`: the caller's). Returns once the socket is bound; serving goes on in
/// the background for the life of the process.
pub fn serve(
    listen: SocketAddr,
    netns: Option<&str>,
    secret: Secret,
    control_socket: PathBuf,
) -> io::Result<()> {
    let _ = (listen, netns, secret, control_socket);
    Err(io::Error::other("not yet implemented"))
}

/// One request to the agent at `addr` (connecting from inside `netns` when given).
pub fn call(
    addr: SocketAddr,
    netns: Option<&str>,
    secret: &Secret,
    req: &Request,
) -> io::Result<Response> {
    let _ = (addr, netns, secret, req);
    Err(io::Error::other("not yet implemented"))
}
