//! `topolab openflow LAB NODE VIEW [--json]`: what an OpenFlow daemon says about itself,
//! asked on its private control socket (`daemons/<node>.<service>.sock` in the run
//! directory). A switch has `flows`, `ports`, `tables`, `groups` and `meters`; a
//! controller has `switches`. The node name is looked up in the lab's plan, never used as
//! a path.

use crate::cli::labs::{read_plan, run_dir};
use crate::cli::out::{me, outln};
use std::time::Duration;

use clap::ValueEnum;
use miette::{IntoDiagnostic, miette};
use serde_json::Value;

use topolab::compile::ServiceWhat;
use topolab::daemon::{DaemonKind, Request, Response};
use topolab::lab::LabName;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum View {
    Flows,
    Ports,
    Tables,
    Groups,
    Meters,
    Switches,
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
        }
    }
}

pub async fn openflow(lab: &LabName, node: &str, view: View, json: bool) -> miette::Result<()> {
    let plan = read_plan(lab)?;
    let n = plan.node(node).ok_or_else(|| {
        miette!(
            help = format!("`{} inspect {lab}` lists the nodes", me()),
            "no node `{node}` in lab `{lab}`"
        )
    })?;
    let svc = n
        .services
        .iter()
        .find(|s| {
            matches!(
                s.what,
                ServiceWhat::Daemon {
                    kind: DaemonKind::OfSwitch | DaemonKind::Controller,
                    ..
                }
            )
        })
        .ok_or_else(|| miette!("node `{node}` runs no OpenFlow switch or controller"))?;
    let socket = run_dir(lab)
        .join("daemons")
        .join(format!("{}.{}.sock", n.name, svc.name));
    let req = Request::Openflow {
        view: view.name().to_string(),
    };
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
    if view == View::Switches {
        switches(&data);
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

/// A value as text: strings without quotes, the rest as compact JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}
