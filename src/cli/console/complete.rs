//! Tab completion: verbs and node names first, then what each verb takes next — node
//! names, `node:iface`, a link's actions and keys, a node's services, OpenFlow views, BGP
//! commands — and, after `NODE`, other node names and NODE's interfaces. Built once from
//! the lab's Plan and clap's description of the verbs (nothing listed twice).

use std::collections::BTreeSet;

use clap::{Subcommand, ValueEnum};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use topolab::compile::{Plan, ServiceWhat};
use topolab::daemon::DaemonKind;

use super::verbs;

struct NodeInfo {
    name: String,
    ifaces: Vec<String>,
    services: Vec<String>,
    openflow: bool,
    bgp: bool,
}

pub struct Completion {
    verbs: Vec<String>,
    nodes: Vec<NodeInfo>,
    files: FilenameCompleter,
}

fn possible<T: ValueEnum>() -> Vec<String> {
    T::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value())
        .map(|p| p.get_name().to_string())
        .collect()
}

impl Completion {
    pub fn new(plan: &Plan) -> Completion {
        let nodes = plan
            .user_nodes()
            .map(|n| {
                let kind = |want: &dyn Fn(DaemonKind) -> bool| {
                    n.services
                        .iter()
                        .any(|s| matches!(s.what, ServiceWhat::Daemon { kind, .. } if want(kind)))
                };
                NodeInfo {
                    name: n.name.clone(),
                    ifaces: n.ifaces.iter().map(|i| i.name.clone()).collect(),
                    services: n.services.iter().map(|s| s.name.clone()).collect(),
                    openflow: kind(&|k| matches!(k, DaemonKind::OfSwitch | DaemonKind::Controller)),
                    bgp: kind(&|k| k == DaemonKind::Bgp),
                }
            })
            .collect();
        Completion {
            verbs: verbs::names(),
            nodes,
            files: FilenameCompleter::new(),
        }
    }

    fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.name == name)
    }

    fn node_names(&self, pick: impl Fn(&NodeInfo) -> bool) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| pick(n))
            .map(|n| n.name.clone())
            .collect()
    }

    /// Link ends: `node` and `node:iface`.
    fn ends(&self) -> Vec<String> {
        let mut v = self.node_names(|_| true);
        for n in &self.nodes {
            v.extend(n.ifaces.iter().map(|i| format!("{}:{i}", n.name)));
        }
        v
    }

    /// What may stand at word `idx` after `words` (the words before it).
    fn choices(&self, words: &[&str]) -> Vec<String> {
        let idx = words.len();
        let Some(first) = words.first() else {
            let mut v = self.verbs.clone();
            v.extend(self.node_names(|_| true));
            return v;
        };
        let sub = |cmd: clap::Command| -> Vec<String> {
            cmd.get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect()
        };
        match (*first, idx) {
            ("help", 1) => self.verbs.clone(),
            ("link", 1 | 2) => self.ends(),
            ("link", 3) => ["down", "up", "show", "set"].map(String::from).to_vec(),
            ("link", _) if words.get(3) == Some(&"set") => {
                let mut v = Vec::new();
                for k in topolab::topology::changes::KEYS {
                    v.push(format!("{k}="));
                    v.push(format!("a_to_b.{k}="));
                    v.push(format!("b_to_a.{k}="));
                }
                v
            }
            ("iperf" | "node", 1) => self.node_names(|_| true),
            ("iperf", 2) => self.node_names(|_| true),
            ("node", 2) => possible::<topolab::lab::service::NodeOp>(),
            ("node", 3) => words
                .get(1)
                .and_then(|n| self.node(n))
                .map(|n| n.services.clone())
                .unwrap_or_default(),
            ("openflow", 1) => self.node_names(|n| n.openflow),
            ("openflow", 2) => possible::<crate::cli::openflow::View>(),
            ("bgp", 1) => self.node_names(|n| n.bgp),
            ("bgp", 2) => sub(crate::cli::bgp::BgpCmd::augment_subcommands(
                clap::Command::new("bgp"),
            )),
            ("bgp", 3) => self.node_names(|n| n.bgp),
            ("capture", 1) => sub(verbs::CaptureCmd::augment_subcommands(clap::Command::new(
                "capture",
            ))),
            ("capture", 2) => self
                .ends()
                .into_iter()
                .filter(|e| e.contains(':'))
                .collect(),
            (node, _) if self.node(node).is_some() && !self.verbs.iter().any(|v| v == node) => {
                let mut v = self.node_names(|_| true);
                if let Some(n) = self.node(node) {
                    v.extend(n.ifaces.iter().cloned());
                }
                v
            }
            _ => Vec::new(),
        }
    }
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before.rfind(char::is_whitespace).map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        });
        let words: Vec<&str> = before[..start].split_whitespace().collect();
        if words.first() == Some(&"source") && words.len() == 1 {
            return self.files.complete(line, pos, ctx);
        }
        let partial = &before[start..];
        let found: BTreeSet<String> = self
            .choices(&words)
            .into_iter()
            .filter(|c| c.starts_with(partial))
            .collect();
        let pairs = found
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for Completion {
    type Hint = String;
}
impl Highlighter for Completion {}
impl Validator for Completion {}
impl Helper for Completion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let t = topolab::topology::Topology::quickstart();
        topolab::compile::compile(&t, "q").unwrap()
    }

    fn complete(c: &Completion, line: &str) -> Vec<String> {
        let h = rustyline::history::DefaultHistory::new();
        let ctx = Context::new(&h);
        c.complete(line, line.len(), &ctx)
            .unwrap()
            .1
            .into_iter()
            .map(|p| p.replacement)
            .collect()
    }

    #[test]
    fn verbs_nodes_ifaces_and_arguments() {
        let c = Completion::new(&plan());
        assert_eq!(complete(&c, "pinga"), ["pingall"]);
        assert!(complete(&c, "").contains(&"h1".to_string()));
        assert_eq!(complete(&c, "h1 ping -c1 h"), ["h1", "h2", "h3", "h4"]);
        assert!(complete(&c, "h1 ip link show e").contains(&"eth0".to_string()));
        assert_eq!(complete(&c, "link h1 s1 d"), ["down"]);
        assert!(complete(&c, "link h1 s1 set del").contains(&"delay=".to_string()));
        assert!(complete(&c, "link h1:").contains(&"h1:eth0".to_string()));
        assert_eq!(complete(&c, "node h1 pa"), ["pause"]);
        assert_eq!(complete(&c, "help pingp"), ["pingpair"]);
        assert_eq!(complete(&c, "capture st"), ["start", "stop"]);
        assert!(complete(&c, "nodes x").is_empty());
    }
}
