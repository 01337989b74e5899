//! `topolab openflow LAB NODE VIEW [--json]`: what an OpenFlow daemon says about itself,
//! asked on its private control socket (`daemons/<node>.<service>.sock` in the run
//! directory). A switch has `flows`, `ports`, `tables`, `groups` and `meters`; a
//! controller has `switches`. `add-flow`, `mod-flows` and `del-flows` edit a switch's
//! flows (ovs-ofctl syntax, parsed here first so that a syntax error points at its token).
//! The node name is looked up in the lab's plan, never used as a path.

use crate::cli::labs::{node_dir, read_plan};
use crate::cli::out::{me, outln};
use std::time::Duration;

use clap::ValueEnum;
use miette::{IntoDiagnostic, miette};
use serde_json::Value;

use topolab::daemon::{DaemonKind, FlowOp, Request, Response};
use topolab::lab::LabName;
use topolab::openflow::flowspec;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum View {
    Flows,
    Ports,
    Tables,
    Groups,
    Meters,
    Switches,
    /// Add a flow (FLOW: match fields and `actions=`).
    AddFlow,
    /// Modify the actions of the flows FLOW's match selects.
    ModFlows,
    /// Delete the flows FLOW's match selects (no FLOW: all).
    DelFlows,
}

impl View {
    fn name(self) -> &'static str {
        match self {
            View::Flows => "flows",
            View::Ports => "ports",
            View::Tables => "tables",
            View::Groups => "groups",
            View::Meters => "meters",
            View::Switches => "switches",
            View::AddFlow => "add-flow",
            View::ModFlows => "mod-flows",
            View::DelFlows => "del-flows",
        }
    }

    /// The flow edit this verb asks for (`None`: a view).
    fn flow_op(self, strict: bool) -> Option<FlowOp> {
        Some(match (self, strict) {
            (View::AddFlow, _) => FlowOp::Add,
            (View::ModFlows, false) => FlowOp::Modify,
            (View::ModFlows, true) => FlowOp::ModifyStrict,
            (View::DelFlows, false) => FlowOp::Delete,
            (View::DelFlows, true) => FlowOp::DeleteStrict,
            _ => return None,
        })
    }
}

/// Builds the daemon request, checking the flow's syntax first: the error shows the flow
/// with a caret under the bad token.
fn request(view: View, flow: Option<String>, strict: bool) -> miette::Result<Request> {
    let Some(op) = view.flow_op(strict) else {
        if flow.is_some() {
            return Err(miette!(
                "`{}` is a view: it takes no flow (add-flow, mod-flows and del-flows do)",
                view.name()
            ));
        }
        if strict {
            return Err(miette!("--strict goes with mod-flows and del-flows"));
        }
        return Ok(Request::Openflow {
            view: view.name().to_string(),
        });
    };
    if strict && view == View::AddFlow {
        return Err(miette!("--strict goes with mod-flows and del-flows"));
    }
    let flow = match flow {
        Some(f) => f,
        None if view == View::DelFlows => String::new(),
        None => {
            return Err(miette!(
                help = "e.g. 'priority=100,ip,nw_dst=10.0.0.2,actions=output:2'",
                "`{}` needs a FLOW",
                view.name()
            ));
        }
    };
    if let Err(e) = flowspec::parse_flow(&flow, op.command()) {
        return Err(miette!("{}", syntax_error(&flow, &e)));
    }
    Ok(Request::OpenflowFlow { command: op, flow })
}

/// `message`, then the flow with a caret under the bad token.
fn syntax_error(flow: &str, e: &flowspec::FlowSyntaxError) -> String {
    let at = e.offset.min(flow.len());
    let col = flow.get(..at).map_or(at, |s| s.chars().count());
    let width = e.token.chars().count().max(1);
    format!(
        "bad flow: {}\n  {flow}\n  {}{}",
        e.message,
        " ".repeat(col),
        "^".repeat(width)
    )
}

pub async fn openflow(
    lab: &LabName,
    node: &str,
    view: View,
    flow: Option<String>,
    strict: bool,
    json: bool,
) -> miette::Result<()> {
    let req = request(view, flow, strict)?;
    let plan = read_plan(lab)?;
    let n = plan.node(node).ok_or_else(|| {
        miette!(
            help = format!("`{} inspect {lab}` lists the nodes", me()),
            "no node `{node}` in lab `{lab}`"
        )
    })?;
    let socket = topolab::lab::service::daemon_socket(
        &node_dir(lab, node)?,
        n,
        &[DaemonKind::OfSwitch, DaemonKind::Controller],
    )
    .ok_or_else(|| miette!("node `{node}` runs no OpenFlow switch or controller"))?;
    let resp = tokio::task::spawn_blocking(move || {
        topolab::daemon::call(&socket, &req, Duration::from_secs(5))
    })
    .await
    .into_diagnostic()?
    .map_err(|e| miette!("node `{node}`: its OpenFlow daemon does not answer: {e}"))?;
    let data = match resp {
        Response::Openflow { data, .. } => data,
        Response::Error { message } => return Err(miette!("node `{node}`: {message}")),
        other => return Err(miette!("node `{node}`: unexpected answer {other:?}")),
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&data).into_diagnostic()?);
        return Ok(());
    }
    if view.flow_op(strict).is_some() {
        return Ok(());
    }
    if view == View::Switches {
        switches(&data);
    } else if view == View::Flows {
        flows(&data);
    } else {
        generic(&data);
    }
    Ok(())
}

/// A controller's switches, one line each.
fn switches(data: &Value) {
    let list = data.as_array().map(Vec::as_slice).unwrap_or_default();
    if list.is_empty() {
        outln!("no switch connected");
        return;
    }
    outln!(
        "{:<18} {:<9} {:<28} {:>6} {:>9} {:>10} {:>7}",
        "dpid",
        "state",
        "peer",
        "ports",
        "flow_mods",
        "packet_ins",
        "errors"
    );
    for s in list {
        let ports = s["ports"].as_array().map(Vec::as_slice).unwrap_or_default();
        let up = ports.iter().filter(|p| p["up"] == true).count();
        outln!(
            "{:<18} {:<9} {:<28} {:>6} {:>9} {:>10} {:>7}",
            s["dpid"].as_str().unwrap_or("-"),
            s["state"].as_str().unwrap_or("-"),
            s["peer"].as_str().unwrap_or("-"),
            format!("{up}/{}", ports.len()),
            s["flow_mods"].to_string(),
            s["packet_ins"].to_string(),
            s["errors"].to_string()
        );
    }
}

/// Any other view: its scalar fields as `key: value`, then one line per entry of its
/// list (`key=value` pairs).
fn generic(data: &Value) {
    let (scalars, list): (Vec<(&String, &Value)>, Option<&Vec<Value>>) = match data {
        Value::Array(a) => (Vec::new(), Some(a)),
        Value::Object(o) => (
            o.iter().filter(|(_, v)| !v.is_array()).collect(),
            o.values().find_map(Value::as_array),
        ),
        _ => (Vec::new(), None),
    };
    for (k, v) in scalars {
        outln!("{k}: {}", plain(v));
    }
    for e in list.map(Vec::as_slice).unwrap_or_default() {
        match e {
            Value::Object(o) => {
                let line: Vec<String> =
                    o.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect();
                outln!("{}", line.join(" "));
            }
            v => outln!("{}", plain(v)),
        }
    }
}

/// A switch's flows, one per line as `ovs-ofctl dump-flows` prints them.
fn flows(data: &Value) {
    let list = data["flows"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for f in list {
        let mut line = format!(
            "cookie={}, duration={:.3}s, table={}, n_packets={}, n_bytes={}, ",
            plain(&f["cookie"]),
            f["duration_s"].as_f64().unwrap_or(0.0),
            plain(&f["table"]),
            plain(&f["packets"]),
            plain(&f["bytes"]),
        );
        for key in ["idle_timeout", "hard_timeout"] {
            if f[key].as_u64().is_some_and(|t| t > 0) {
                line.push_str(&format!("{key}={}, ", plain(&f[key])));
            }
        }
        line.push_str(&format!("priority={}", plain(&f["priority"])));
        let m = f["match_text"].as_str().unwrap_or("");
        if !m.is_empty() {
            line.push(',');
            line.push_str(m);
        }
        line.push_str(&format!(
            " actions={}",
            f["actions_text"].as_str().unwrap_or("?")
        ));
        outln!("{line}");
    }
}

/// A value as text: strings without quotes, the rest as compact JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}
