//! Short, human names for actions: a step's default name ("ping h1 → h3"), a `during:`
//! event's label in reports, and the `kind` word of a result ("ping", "throughput").
//!
//! Names are built from the checked [`Action`], so a step written with defaults and one
//! written with the same values spelled out get the same name. Durations print in the
//! largest unit that keeps them short and exact enough (`15s`, `500ms`, `1.5s`, `5m`).

use std::time::Duration;

use super::model::{Action, BgpSessions, Capture, Condition, Family, LinkOp, Protocol};

/// Longest `exec` summary, in characters (longer commands end in `…`).
pub const MAX_EXEC_SUMMARY: usize = 60;

impl Action {
    /// The action's key in the file: "ping", "throughput", … (a result's `kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Ping(_) => "ping",
            Action::Pingall(_) => "pingall",
            Action::Throughput(_) => "throughput",
            Action::Exec(_) => "exec",
            Action::Link(_) => "link",
            Action::Node(_) => "node",
            Action::Wait(_) => "wait",
            Action::Capture(_) => "capture",
            Action::Openflow(_) => "openflow",
            Action::Bgp(_) => "bgp",
            Action::Sleep(_) => "sleep",
            Action::Parallel(_) => "parallel",
            Action::Repeat { .. } => "repeat",
        }
    }

    /// A one-line summary: the default step name and the label of a `during:` event.
    pub fn summary(&self) -> String {
        match self {
            Action::Ping(p) => format!("ping {} → {}{}", p.from, p.to, v6(p.family)),
            Action::Pingall(p) => format!(
                "pingall {}{}",
                family(p.family),
                if p.all_nodes { " (all nodes)" } else { "" }
            ),
            Action::Throughput(t) => format!(
                "throughput {} → {} ({}, {}){}",
                t.from,
                t.to,
                match t.protocol {
                    Protocol::Tcp => "tcp",
                    Protocol::Udp => "udp",
                },
                fmt_duration(t.duration),
                v6(t.family)
            ),
            Action::Exec(e) => truncate(&format!("exec {}: {}", e.node, e.cmd)),
            Action::Link(l) => {
                let op = match &l.op {
                    LinkOp::Down => "down".to_string(),
                    LinkOp::Up => "up".to_string(),
                    LinkOp::Set { a_to_b, b_to_a } if a_to_b == b_to_a => {
                        format!("set {}", a_to_b.describe())
                    }
                    LinkOp::Set { a_to_b, b_to_a } => {
                        format!("set a→b {}; b→a {}", a_to_b.describe(), b_to_a.describe())
                    }
                };
                format!("link {} — {} {op}", l.a, l.b)
            }
            Action::Node(n) => match &n.service {
                Some(sv) => format!("node {}/{sv} {}", n.node, n.op.word()),
                None => format!("node {} {}", n.node, n.op.word()),
            },
            Action::Wait(w) => match &w.until {
                Condition::Reachable { from, to, family } => {
                    format!("wait until {from} reaches {to}{}", v6(*family))
                }
                Condition::TcpPort { from, to, port, .. } => {
                    format!("wait until {from} connects to {to} port {port}")
                }
                Condition::Command { node, cmd } => truncate(&format!("wait until {node}: {cmd}")),
                Condition::Ready { node, service } => match service {
                    Some(sv) => format!("wait until {node}/{sv} is ready"),
                    None => format!("wait until {node}'s services are ready"),
                },
                Condition::OpenflowConnected { node, connected } => {
                    if *connected {
                        format!("wait until {node} has a controller connection")
                    } else {
                        format!("wait until {node} has no controller connection")
                    }
                }
                Condition::OpenflowSwitches { node, at_least } => {
                    let s = if *at_least == 1 { "switch" } else { "switches" };
                    format!("wait until {node} has {at_least} {s} connected")
                }
                Condition::OpenflowFlow {
                    node,
                    flow,
                    present,
                    ..
                } => truncate(&format!(
                    "wait until {node} has {} flow {flow}",
                    if *present { "a" } else { "no" }
                )),
                Condition::BgpEstablished { node, sessions } => truncate(&match sessions {
                    BgpSessions::All => format!("wait until {node}'s BGP sessions are established"),
                    BgpSessions::AtLeast(n) => {
                        format!("wait until {node} has {n} BGP session(s) established")
                    }
                    BgpSessions::Peers(p) => format!(
                        "wait until {node}'s BGP sessions with {} are established",
                        p.join(", ")
                    ),
                }),
                Condition::BgpRoute {
                    node,
                    prefix,
                    via,
                    present,
                } => {
                    let via = via.map_or(String::new(), |v| format!(" via {v}"));
                    if *present {
                        format!("wait until {node} has a route to {prefix}{via}")
                    } else {
                        format!("wait until {node} has no route to {prefix}{via}")
                    }
                }
            },
            Action::Bgp(b) => {
                let mut parts = Vec::new();
                if !b.announce.is_empty() {
                    parts.push(format!("announce {}", b.announce.join(" ")));
                }
                if !b.withdraw.is_empty() {
                    parts.push(format!("withdraw {}", b.withdraw.join(" ")));
                }
                truncate(&format!("bgp {} {}", b.node, parts.join(", ")))
            }
            Action::Openflow(o) => {
                use crate::daemon::FlowOp as F;
                let op = match o.command {
                    F::Add => "add",
                    F::Modify => "modify",
                    F::ModifyStrict => "modify (strict)",
                    F::Delete => "delete",
                    F::DeleteStrict => "delete (strict)",
                };
                truncate(&format!("openflow {} {op} {}", o.node, o.flow))
            }
            Action::Capture(Capture::Start { name, node, iface }) => {
                format!("capture {name} on {node}:{iface}")
            }
            Action::Capture(Capture::Stop { name }) => format!("capture {name} stop"),
            Action::Sleep(d) => format!("sleep {}", fmt_duration(*d)),
            Action::Parallel(steps) => format!("parallel ({})", plural(steps.len(), "step")),
            Action::Repeat { times, steps } => {
                format!("repeat {times}× ({})", plural(steps.len(), "step"))
            }
        }
    }
}

fn family(f: Family) -> &'static str {
    match f {
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    }
}

fn v6(f: Family) -> &'static str {
    match f {
        Family::Ipv4 => "",
        Family::Ipv6 => " (ipv6)",
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// At most [`MAX_EXEC_SUMMARY`] characters, the last one `…` when cut; one line.
fn truncate(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= MAX_EXEC_SUMMARY {
        return one_line;
    }
    let mut out: String = one_line.chars().take(MAX_EXEC_SUMMARY - 1).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// `15s`, `500ms`, `1.5s`, `250us`, `5m`, `1h`: short, exact to three significant decimals.
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let trim = |value: f64, unit: &str| {
        let s = format!("{value:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        format!("{s}{unit}")
    };
    match ns {
        0 => "0s".into(),
        n if n >= 3_600_000_000_000 && n % 3_600_000_000_000 == 0 => {
            format!("{}h", n / 3_600_000_000_000)
        }
        n if n >= 60_000_000_000 && n % 60_000_000_000 == 0 => format!("{}m", n / 60_000_000_000),
        n if n >= 1_000_000_000 => trim(n as f64 / 1e9, "s"),
        n if n >= 1_000_000 => trim(n as f64 / 1e6, "ms"),
        n if n >= 1_000 => trim(n as f64 / 1e3, "us"),
        n => format!("{n}ns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        assert_eq!(fmt_duration(ms(15_000)), "15s");
        assert_eq!(fmt_duration(ms(500)), "500ms");
        assert_eq!(fmt_duration(ms(1_500)), "1.5s");
        assert_eq!(fmt_duration(ms(300_000)), "5m");
        assert_eq!(fmt_duration(ms(90_000)), "90s");
        assert_eq!(fmt_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(fmt_duration(Duration::from_micros(250)), "250us");
        assert_eq!(fmt_duration(Duration::from_nanos(7)), "7ns");
        assert_eq!(fmt_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn long_commands_are_cut() {
        let s = truncate(&format!("exec h1: {}", "x".repeat(100)));
        assert_eq!(s.chars().count(), MAX_EXEC_SUMMARY);
        assert!(s.ends_with('…'));
        assert_eq!(truncate("exec h1: a\nb"), "exec h1: a b");
    }
}
