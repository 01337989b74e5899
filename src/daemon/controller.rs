//! The `controller` daemon: the OpenFlow controller of a node, driven by its compiled config (`--config`).
//!
//! A stub until the real driver lands: it reads its config (as plain JSON: daemons sit below
//! `compile` and do not name its types), reports ready and idles.

use std::io;
use std::sync::Arc;

use serde_json::json;

use super::{DaemonArgs, DaemonKind, Describe, Status};

struct Stub {
    config: serde_json::Value,
}

impl Describe for Stub {
    fn status(&self) -> Status {
        Status {
            kind: DaemonKind::Controller,
            pid: std::process::id(),
            ready: true,
            detail: json!({ "stub": true, "config": &self.config }),
        }
    }
}

pub async fn run(args: &DaemonArgs) -> io::Result<()> {
    let config: serde_json::Value = super::read_config(args)?;
    super::serve_control(&args.control, Arc::new(Stub { config })).await
}
