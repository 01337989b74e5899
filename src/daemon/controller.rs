//! The `controller` daemon: the OpenFlow controller of a node, driven by its compiled config (`--config`).
//!
//! A stub until the real driver lands: it reads its config, reports ready and idles.

use std::io;
use std::sync::Arc;

use serde_json::json;

use super::{DaemonArgs, DaemonKind, Describe, Status};
use crate::compile::ControllerPlan;

struct Stub {
    config: ControllerPlan,
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
    let config: ControllerPlan = super::read_config(args)?;
    super::serve_control(&args.control, Arc::new(Stub { config })).await
}
