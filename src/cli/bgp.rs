//! `topolab bgp LAB NODE …`: what a node's BGP speaker says about itself (summary,
//! neighbors, routes, a peer's Adj-RIB-In/Out), and changes to it (announce, withdraw,
//! route refresh), asked on its private control socket (`daemons/<node>.<service>.sock`
//! in the run directory). Text is laid out as `birdc show protocols` and `gobgp global
//! rib` do; `--json` prints the daemon's answer (GoBGP's shapes, see
//! [`topolab::daemon::bgp`]). `dump --mrt FILE` writes the Loc-RIB as an MRT table dump
//! here: the daemon sends the bytes, no path crosses the socket. The node name is looked
//! up in the lab's plan, never used as a path.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use miette::{IntoDiagnostic, miette};
use serde_json::Value;

use crate::cli::labs::{node_dir, read_plan};
use crate::cli::out::{me, outln};
use topolab::daemon::bgp::{base64_decode, check_change, parse_community, parse_large_community};
use topolab::daemon::{BgpChange, DaemonKind, Request, Response};
use topolab::lab::LabName;

#[derive(Debug, Clone, Subcommand)]
pub enum BgpCmd {
    /// Router ID, AS, table sizes and one line per session.
    Summary,
    /// Each session in detail (one peer: by name or address).
    Neighbors { peer: Option<String> },
    /// The Loc-RIB: every path, best first (`*>`); PREFIX: only its paths.
    Routes { prefix: Option<String> },
    /// The routes a peer sent us (after RFC 7606 handling, before import policy).
    AdjIn { peer: String },
    /// The routes we send a peer (after export policy).
    AdjOut { peer: String },
    /// Originate prefixes from this speaker (ORIGIN IGP; the next hop is set per peer).
    Announce {
        #[arg(required = true)]
        prefixes: Vec<String>,
        /// A community to attach (`65000:100`, `no-export` …); repeat for more.
        #[arg(long = "community")]
        communities: Vec<String>,
        /// A large community to attach (`65000:1:2`); repeat for more.
        #[arg(long = "large-community")]
        large_communities: Vec<String>,
        #[arg(long)]
        med: Option<u32>,
        #[arg(long)]
        local_pref: Option<u32>,
        /// ASes the path starts with, comma-separated (`65100,65101`).
        #[arg(long, value_delimiter = ',')]
        as_path: Vec<u32>,
    },
    /// Withdraw prefixes this speaker originated.
    Withdraw {
        #[arg(required = true)]
        prefixes: Vec<String>,
    },
    /// Ask a peer to send its routes again (ROUTE-REFRESH).
    Refresh { peer: String },
    /// Write the Loc-RIB as an MRT TABLE_DUMP_V2 file (RFC 6396).
    Dump {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        mrt: PathBuf,
    },
}

/// The longest answer read (a full table as JSON, an MRT dump).
const MAX_ANSWER: u64 = 2 << 30;

/// The daemon request for a command (checked here first, so that errors are local).
pub fn request(cmd: &BgpCmd) -> miette::Result<Request> {
    let view = |view: &str, peer: Option<&String>, prefix: Option<&String>| Request::Bgp {
        view: view.to_string(),
        peer: peer.cloned(),
        prefix: prefix.cloned(),
    };
    Ok(match cmd {
        BgpCmd::Summary => view("summary", None, None),
        BgpCmd::Neighbors { peer } => view("neighbors", peer.as_ref(), None),
        BgpCmd::Routes { prefix } => view("routes", None, prefix.as_ref()),
        BgpCmd::AdjIn { peer } => view("adj-in", Some(peer), None),
        BgpCmd::AdjOut { peer } => view("adj-out", Some(peer), None),
        BgpCmd::Announce {
            prefixes,
            communities,
            large_communities,
            med,
            local_pref,
            as_path,
        } => {
            for c in communities {
                parse_community(c).map_err(|e| miette!("{e}"))?;
            }
            for c in large_communities {
                parse_large_community(c).map_err(|e| miette!("{e}"))?;
            }
            let c = BgpChange {
                announce: prefixes.clone(),
                communities: communities.clone(),
                large_communities: large_communities.clone(),
                med: *med,
                local_pref: *local_pref,
                as_path: as_path.clone(),
                ..BgpChange::default()
            };
            check_change(&c).map_err(|e| miette!("{e}"))?;
            Request::BgpChange(c)
        }
        BgpCmd::Withdraw { prefixes } => {
            let c = BgpChange {
                withdraw: prefixes.clone(),
                ..BgpChange::default()
            };
            check_change(&c).map_err(|e| miette!("{e}"))?;
            Request::BgpChange(c)
        }
        BgpCmd::Refresh { peer } => Request::BgpRefresh { peer: peer.clone() },
        BgpCmd::Dump { .. } => Request::BgpDump,
    })
}

pub async fn bgp(lab: &LabName, node: &str, cmd: BgpCmd, json: bool) -> miette::Result<()> {
    let req = request(&cmd)?;
    let plan = read_plan(lab)?;
    let n = plan.node(node).ok_or_else(|| {
        miette!(
            help = format!("`{} inspect {lab}` lists the nodes", me()),
            "no node `{node}` in lab `{lab}`"
        )
    })?;
    let socket = topolab::lab::service::daemon_socket(&node_dir(lab, node)?, n, &[DaemonKind::Bgp])
        .ok_or_else(|| {
            miette!(
                help = "a node speaks BGP when its topology entry has a `bgp:` key",
                "node `{node}` runs no BGP speaker"
            )
        })?;
    let resp = tokio::task::spawn_blocking(move || {
        topolab::daemon::call_limit(&socket, &req, Duration::from_secs(60), MAX_ANSWER)
    })
    .await
    .into_diagnostic()?
    .map_err(|e| miette!("node `{node}`: its BGP speaker does not answer: {e}"))?;
    let data = match resp {
        Response::Bgp { data, .. } => data,
        Response::Error { message } => return Err(miette!("node `{node}`: {message}")),
        other => return Err(miette!("node `{node}`: unexpected answer {other:?}")),
    };
    if let BgpCmd::Dump { mrt } = &cmd {
        let b64 = data["mrt_base64"]
            .as_str()
            .ok_or_else(|| miette!("node `{node}`: the dump has no MRT data"))?;
        let bytes = base64_decode(b64).ok_or_else(|| miette!("node `{node}`: bad MRT data"))?;
        std::fs::write(mrt, &bytes).map_err(|e| miette!("cannot write {}: {e}", mrt.display()))?;
        if json {
            let mut d = data.clone();
            if let Value::Object(o) = &mut d {
                o.remove("mrt_base64");
                o.insert("file".into(), Value::String(mrt.display().to_string()));
            }
            outln!("{}", serde_json::to_string_pretty(&d).into_diagnostic()?);
        } else {
            outln!(
                "{}: {} bytes, {} entries",
                mrt.display(),
                bytes.len(),
                plain(&data["entries"])
            );
        }
        return Ok(());
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(&data).into_diagnostic()?);
        return Ok(());
    }
    match &cmd {
        BgpCmd::Summary => summary(&data),
        BgpCmd::Neighbors { .. } => neighbors(&data),
        BgpCmd::Routes { .. } | BgpCmd::AdjIn { .. } | BgpCmd::AdjOut { .. } => rib(&data),
        BgpCmd::Announce { .. } | BgpCmd::Withdraw { .. } => outln!(
            "announced {}, withdrawn {}",
            plain(&data["announced"]),
            plain(&data["withdrawn"])
        ),
        BgpCmd::Refresh { .. } => outln!("route refresh sent to {}", plain(&data["refreshed"])),
        BgpCmd::Dump { .. } => {}
    }
    Ok(())
}

/// `birdc show protocols` meets `gobgp neighbor`: one line per session.
fn summary(data: &Value) {
    outln!(
        "BGP router identifier {}, local AS {}",
        plain(&data["router_id"]),
        plain(&data["asn"])
    );
    outln!(
        "Loc-RIB: {} prefixes, {} attribute sets; kernel: {} routes{}",
        plain(&data["loc_rib"]),
        plain(&data["attr_sets"]),
        plain(&data["fib_installed"]),
        match data["fib_pending"].as_u64() {
            Some(n) if n > 0 => format!(" ({n} changes pending)"),
            _ => String::new(),
        }
    );
    outln!(
        "Sessions: {} of {} established",
        plain(&data["established"]),
        plain(&data["peers"])
    );
    outln!();
    let list = data["neighbors"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    outln!(
        "{:<16} {:<26} {:>10} {:<12} {:>10} {:>9} {:>9} {:>10}",
        "Peer",
        "Address",
        "AS",
        "State",
        "Up/Down",
        "Received",
        "Accepted",
        "Advertised"
    );
    for n in list {
        outln!(
            "{:<16} {:<26} {:>10} {:<12} {:>10} {:>9} {:>9} {:>10}",
            plain(&n["name"]),
            plain(&n["address"]),
            plain(&n["remote_as"]),
            plain(&n["state"]),
            duration(n["uptime_s"].as_f64().unwrap_or(0.0)),
            plain(&n["received"]),
            plain(&n["accepted"]),
            plain(&n["advertised"])
        );
    }
}

/// Each session as `key: value` lines (like `gobgp neighbor PEER`).
fn neighbors(data: &Value) {
    let list = data.as_array().map(Vec::as_slice).unwrap_or_default();
    if list.is_empty() {
        outln!("no neighbors");
    }
    for (i, n) in list.iter().enumerate() {
        if i > 0 {
            outln!();
        }
        outln!(
            "BGP neighbor is {} ({}), remote AS {}",
            plain(&n["address"]),
            plain(&n["name"]),
            plain(&n["remote_as"])
        );
        outln!(
            "  BGP state = {}, up for {}",
            plain(&n["state"]),
            duration(n["uptime_s"].as_f64().unwrap_or(0.0))
        );
        if n["local"].is_string() || n["remote"].is_string() {
            outln!(
                "  Connection: local {}, remote {}",
                plain(&n["local"]),
                plain(&n["remote"])
            );
        }
        outln!("  Hold time: {} s", plain(&n["hold_time"]));
        let fams: Vec<String> = n["families"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(plain)
            .collect();
        outln!("  Families: {}", fams.join(", "));
        outln!(
            "  Messages: {} received, {} sent",
            plain(&n["messages_in"]),
            plain(&n["messages_out"])
        );
        outln!(
            "  Prefixes: {} received, {} accepted, {} advertised",
            plain(&n["received"]),
            plain(&n["accepted"]),
            plain(&n["advertised"])
        );
        if let Some(e) = n["last_error"].as_str() {
            outln!("  Last error: {e}");
        }
    }
}

/// Routes as `gobgp global rib` prints them: `*>` marks the best path.
fn rib(data: &Value) {
    let Some(map) = data.as_object() else {
        return;
    };
    if map.is_empty() {
        outln!("no routes");
        return;
    }
    outln!(
        "   {:<24} {:<24} {:<24} {:<6} {:>10} {:>10} {:<10} {:>9}  Communities",
        "Network",
        "Next Hop",
        "AS_PATH",
        "Origin",
        "MED",
        "LocPrf",
        "From",
        "Age"
    );
    for paths in map.values() {
        for p in paths.as_array().map(Vec::as_slice).unwrap_or_default() {
            let mut comms: Vec<String> = Vec::new();
            for k in ["communities", "large_communities"] {
                comms.extend(
                    p[k].as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .map(plain),
                );
            }
            let opt = |v: &Value| if v.is_null() { "-".into() } else { plain(v) };
            outln!(
                "{:<2} {:<24} {:<24} {:<24} {:<6} {:>10} {:>10} {:<10} {:>9}  {}",
                if p["best"] == true { "*>" } else { "* " },
                plain(&p["prefix"]),
                plain(&p["next_hop"]),
                plain(&p["as_path"]),
                plain(&p["origin"]),
                opt(&p["med"]),
                opt(&p["local_pref"]),
                plain(&p["source"]),
                duration(p["age_s"].as_f64().unwrap_or(0.0)),
                comms.join(" ")
            );
        }
    }
}

/// `00:01:23`, or `3d04h` past a day.
fn duration(s: f64) -> String {
    let s = if s.is_finite() && s > 0.0 {
        s as u64
    } else {
        0
    };
    if s >= 86_400 {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    } else {
        format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
    }
}

/// A value as text: strings without quotes, null as `-`, the rest as compact JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: BgpCmd,
    }

    fn parse(args: &[&str]) -> Result<BgpCmd, clap::Error> {
        T::try_parse_from(std::iter::once("t").chain(args.iter().copied())).map(|t| t.cmd)
    }

    #[test]
    fn commands_parse_into_requests() {
        let r = request(&parse(&["adj-in", "r2"]).unwrap()).unwrap();
        assert!(
            matches!(r, Request::Bgp { view, peer: Some(p), .. } if view == "adj-in" && p == "r2")
        );
        let r = request(&parse(&["routes", "10.0.0.0/24"]).unwrap()).unwrap();
        assert!(matches!(r, Request::Bgp { prefix: Some(p), .. } if p == "10.0.0.0/24"));
        let cmd = parse(&[
            "announce",
            "10.9.0.0/16",
            "10.10.0.0/16",
            "--community",
            "65000:1",
            "--med",
            "7",
            "--as-path",
            "65100,65101",
        ])
        .unwrap();
        let Request::BgpChange(c) = request(&cmd).unwrap() else {
            panic!("not a change")
        };
        assert_eq!(c.announce.len(), 2);
        assert_eq!(c.med, Some(7));
        assert_eq!(c.as_path, vec![65100, 65101]);
        assert!(matches!(
            request(&parse(&["dump", "--mrt", "x.mrt"]).unwrap()).unwrap(),
            Request::BgpDump
        ));
    }

    #[test]
    fn bad_commands_are_refused_here() {
        assert!(parse(&["announce"]).is_err());
        assert!(parse(&["adj-in"]).is_err());
        assert!(parse(&["dump"]).is_err());
        for args in [
            &["announce", "10.0.0.1/8"][..],
            &["announce", "not-a-prefix"],
            &["announce", "10.0.0.0/8", "--community", "70000:1"],
            &["announce", "10.0.0.0/8", "--large-community", "1:2"],
            &["withdraw", "300.0.0.0/8"],
        ] {
            assert!(request(&parse(args).unwrap()).is_err(), "{args:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0.0), "00:00:00");
        assert_eq!(duration(83.9), "00:01:23");
        assert_eq!(duration(90_000.0), "1d01h");
        assert_eq!(duration(f64::NAN), "00:00:00");
    }
}
