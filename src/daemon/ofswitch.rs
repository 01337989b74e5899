//! The `ofswitch` daemon: the OpenFlow switch of a node, driven by its compiled config (`--config`).
//!
//! A stub until the real driver lands: it reads its config, reports ready and idles.

use std::io;
use std::sync::Arc;

use serde_json::json;

use super::{DaemonArgs, DaemonKind, Describe, Status};
use crate::compile::OfSwitchPlan;

struct Stub {
    config: OfSwitchPlan,
}

impl Describe for Stub {
    fn status(&self) -> Status {
        Status {
            kind: DaemonKind::OfSwitch,
            pid: std::process::id(),
            ready: true,
            detail: json!({ "stub": true, "config": &self.config }),
        }
    }
}

pub async fn run(args: &DaemonArgs) -> io::Result<()> {
    let config: OfSwitchPlan = super::read_config(args)?;
    super::serve_control(&args.control, Arc::new(Stub { config })).await
}
