//! The console's verbs, parsed by clap from a line's words (so `help VERB` and usage
//! errors come from the same place as the CLI's), and the verbs that only show the lab:
//! `nodes`, `net`, `links`, `dump`, `intfs`, `pingall`/`pingpair`. The verbs that change
//! the lab call the CLI's own functions (see the module above).

use crate::cli::out::outln;

use clap::{Parser, Subcommand};

use topolab::compile::Plan;
use topolab::lab::service::NodeOp;
use topolab::scenario::{Family, PingallReport};

/// A console command (a line whose first word is not a node of the lab).
#[derive(Parser, Debug)]
#[command(
    name = "console",
    no_binary_name = true,
    disable_help_subcommand = true,
    disable_help_flag = true,
    disable_version_flag = true
)]
pub enum Verb {
    /// List the verbs, or explain one: help VERB.
    Help { verb: Option<String> },
    /// List the lab's nodes.
    Nodes,
    /// Each node's interfaces and what is at their other end.
    Net,
    /// Every link, up or down, with its impairments.
    Links,
    /// Each node: kind, interfaces with addresses, namespace.
    Dump,
    /// Each node's interfaces.
    Intfs,
    /// Ping every host from every host, once each (the built-in probe).
    Pingall {
        /// IPv6 addresses.
        #[arg(short = '6')]
        ipv6: bool,
        /// Routers too, not only hosts.
        #[arg(long)]
        all: bool,
    },
    /// Ping between the first two hosts, both ways.
    Pingpair {
        /// IPv6 addresses.
        #[arg(short = '6')]
        ipv6: bool,
    },
    /// TCP throughput from A to B with the built-in probe (UDP delay and loss with -u).
    Iperf {
        /// The sending node.
        a: String,
        /// The receiving node (or `node:iface`, or an address).
        b: String,
        /// UDP probes: one-way delay, jitter, loss.
        #[arg(short = 'u')]
        udp: bool,
        /// Seconds to send (TCP).
        #[arg(short = 't', default_value = "5")]
        seconds: String,
        /// IPv6 addresses.
        #[arg(short = '6')]
        ipv6: bool,
    },
    /// Change a link: `link A B down|up|show|set KEY=VALUE…` (as `topolab link`).
    Link {
        /// One end: `node` or `node:iface`.
        a: String,
        /// The other end.
        b: String,
        /// down | up | show | set KEY=VALUE… (keys as `topolab link --help` lists them).
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        action: Vec<String>,
    },
    /// A node's services: `node N stop|start|restart|kill|pause|resume|status [SERVICE]`.
    Node {
        /// A node of the lab.
        node: String,
        #[arg(value_enum)]
        op: NodeOp,
        /// One service of the node (default: all of them).
        service: Option<String>,
    },
    /// Packet capture into a pcap file: `capture start NODE:IFACE FILE`, `capture stop
    /// [NODE:IFACE]`, `capture` lists the running ones.
    Capture {
        #[command(subcommand)]
        cmd: Option<CaptureCmd>,
    },
    /// An OpenFlow node's view or a flow edit (as `topolab openflow`).
    Openflow {
        /// An `ofswitch` or `controller` node.
        node: String,
        /// A view (flows, ports, tables, groups, meters; switches on a controller) or a
        /// flow edit (add-flow, mod-flows, del-flows: FLOW follows).
        #[arg(value_enum)]
        view: crate::cli::openflow::View,
        /// The flow, as ovs-ofctl writes it (quote it: one word).
        flow: Option<String>,
        /// mod-flows/del-flows: only the flow with exactly this match and priority.
        #[arg(long)]
        strict: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A node's BGP speaker (as `topolab bgp`): summary, neighbors, routes, announce…
    Bgp {
        /// A node with a `bgp:` key.
        node: String,
        #[command(subcommand)]
        cmd: crate::cli::bgp::BgpCmd,
        /// Print JSON (GoBGP's shapes).
        #[arg(long, global = true)]
        json: bool,
    },
    /// The lab in detail (as `topolab inspect`).
    Inspect,
    /// Run the console commands in FILE.
    Source { file: std::path::PathBuf },
    /// Leave the console (a foreground `up` then tears the lab down).
    #[command(alias = "quit")]
    Exit,
}

#[derive(Subcommand, Debug)]
pub enum CaptureCmd {
    /// Capture on NODE:IFACE into FILE (which must not exist yet).
    Start {
        at: String,
        file: std::path::PathBuf,
    },
    /// Stop one capture, or all of them.
    Stop { at: Option<String> },
}

/// Every verb's name (aliases included), for completion and suggestions.
pub fn names() -> Vec<String> {
    use clap::CommandFactory;
    let mut v = Vec::new();
    for c in Verb::command().get_subcommands() {
        v.push(c.get_name().to_string());
        v.extend(c.get_all_aliases().map(String::from));
    }
    v
}

/// `help`: one line per verb, then how to run a command in a node.
pub fn help(verb: Option<&str>) -> Result<(), String> {
    use clap::CommandFactory;
    let mut cmd = Verb::command();
    if let Some(v) = verb {
        let Some(sub) = cmd.find_subcommand_mut(v) else {
            return Err(format!("no verb `{v}`"));
        };
        let text = sub.render_long_help().to_string();
        outln!("{}", text.trim_end());
        return Ok(());
    }
    outln!("Commands (`help VERB` explains one):");
    for c in cmd.get_subcommands() {
        let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
        outln!("  {:<9} {about}", c.get_name());
    }
    outln!("  NODE CMD… runs CMD inside NODE; other node names in it become their addresses:");
    outln!("            h1 ping -c1 h2");
    outln!("Ctrl-C stops the running command; Ctrl-D or `exit` leaves.");
    Ok(())
}

pub fn nodes(plan: &Plan) {
    outln!("available nodes are:");
    let names: Vec<&str> = plan.user_nodes().map(|n| n.name.as_str()).collect();
    outln!("{}", names.join(" "));
}

/// `node:iface` of an interface.
fn at(plan: &Plan, r: topolab::compile::IfaceRef) -> String {
    format!("{}:{}", plan.nodes[r.node].name, plan.iface(r).name)
}

/// Mininet's `net`: each node, then `iface:peer` for each interface.
pub fn net(plan: &Plan) {
    for n in plan.user_nodes() {
        let ends: Vec<String> = n
            .ifaces
            .iter()
            .map(|i| {
                // A userspace-engine link ends in the hidden fabric: name the far node.
                let far = plan
                    .links
                    .iter()
                    .find(|l| l.link == i.link)
                    .map(|l| {
                        if plan.nodes[l.a.node].name == n.name && plan.iface(l.a).name == i.name {
                            at(plan, l.b)
                        } else {
                            at(plan, l.a)
                        }
                    })
                    .unwrap_or_else(|| at(plan, i.peer));
                format!("{}:{far}", i.name)
            })
            .collect();
        outln!("{} {}", n.name, ends.join(" "));
    }
}

pub fn intfs(plan: &Plan) {
    for n in plan.user_nodes() {
        let names: Vec<&str> = n.ifaces.iter().map(|i| i.name.as_str()).collect();
        outln!("{}: {}", n.name, names.join(","));
    }
}

pub fn dump(plan: &Plan) {
    for n in plan.user_nodes() {
        let addrs: Vec<String> = n
            .ifaces
            .iter()
            .map(|i| {
                let a: Vec<String> = i.addrs.iter().map(|a| a.to_string()).collect();
                if a.is_empty() {
                    i.name.clone()
                } else {
                    format!("{}:{}", i.name, a.join(","))
                }
            })
            .chain(n.loopback.iter().map(|a| format!("lo:{a}")))
            .collect();
        let services: Vec<&str> = n.services.iter().map(|s| s.name.as_str()).collect();
        let services = if services.is_empty() {
            String::new()
        } else {
            format!(" services={}", services.join(","))
        };
        outln!(
            "<{} {}: {} netns={}{services}>",
            n.kind.word(),
            n.name,
            addrs.join(" "),
            n.netns
        );
    }
}

pub fn links(status: &topolab::lab::inspect::LabStatus) {
    for l in &status.links {
        let state = if l.up { "up" } else { "DOWN" };
        let imp = [&l.a_to_b, &l.b_to_a]
            .map(topolab::topology::describe_impairment)
            .join(" / ");
        outln!("{}<->{} ({state}) {imp}", l.a, l.b);
    }
}

/// The hosts `pingpair` pings: the first two.
pub fn pair(plan: &Plan) -> Result<[&str; 2], String> {
    let hosts: Vec<&str> = plan
        .user_nodes()
        .filter(|n| n.kind.pingall(false))
        .map(|n| n.name.as_str())
        .take(2)
        .collect();
    match hosts[..] {
        [a, b] => Ok([a, b]),
        _ => Err("pingpair needs two hosts".into()),
    }
}

pub fn family(ipv6: bool) -> Family {
    if ipv6 { Family::Ipv6 } else { Family::Ipv4 }
}

/// Mininet's pingall report: a row per source (`X`: no answer), then the loss.
pub fn print_pings(r: &PingallReport) {
    outln!("*** Ping: testing ping reachability");
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    for (a, b, ok, _) in &r.pairs {
        if rows.last().is_none_or(|(s, _)| s != a) {
            rows.push((a.clone(), Vec::new()));
        }
        if let Some((_, row)) = rows.last_mut() {
            row.push(if *ok { b.clone() } else { "X".into() });
        }
    }
    for (a, row) in rows {
        outln!("{a} -> {}", row.join(" "));
    }
    let sent = r.pairs.len();
    let received = r.pairs.iter().filter(|p| p.2).count();
    let dropped = ((sent - received) * 100).checked_div(sent).unwrap_or(0);
    outln!("*** Results: {dropped}% dropped ({received}/{sent} received)");
    if let Some(h) = &r.hint {
        outln!("*** {h}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Verb, clap::Error> {
        Verb::try_parse_from(line.split_whitespace())
    }

    #[test]
    fn verbs_parse_as_written() {
        assert!(matches!(
            parse("pingall -6").unwrap(),
            Verb::Pingall { ipv6: true, .. }
        ));
        assert!(matches!(
            parse("link h1 s1 set delay=10ms loss=1%").unwrap(),
            Verb::Link { action, .. } if action == ["set", "delay=10ms", "loss=1%"]
        ));
        assert!(matches!(parse("quit").unwrap(), Verb::Exit));
        assert!(matches!(
            parse("node r1 kill bird").unwrap(),
            Verb::Node { op: NodeOp::Kill, service: Some(s), .. } if s == "bird"
        ));
        assert!(matches!(
            parse("bgp r1 routes 10.0.0.0/8 --json").unwrap(),
            Verb::Bgp { json: true, .. }
        ));
        assert!(matches!(
            parse("iperf h1 h2 -u").unwrap(),
            Verb::Iperf { udp: true, .. }
        ));
        assert!(parse("link h1").is_err());
        assert!(parse("node r1 explode").is_err());
    }

    #[test]
    fn names_cover_every_verb_and_alias() {
        let n = names();
        for v in ["help", "pingall", "link", "exit", "quit", "bgp", "source"] {
            assert!(n.iter().any(|x| x == v), "{v} in {n:?}");
        }
    }
}
