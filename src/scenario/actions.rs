//! One checker per action: spec → model, defaults filled in, values in range.
//!
//! Defaults (also in `scenarios/README.md`):
//!
//! ```text
//!   ping        family ipv4, count 5, interval 200ms, size 56
//!   pingall     family ipv4, nodes hosts
//!   throughput  family ipv4, protocol tcp, duration 5s, streams 1, interval 1s,
//!               congestion cubic, size 1400 (udp); rate: none (the tool's default)
//!   wait        every 200ms
//! ```
//!
//! Node names are checked against the topology's name rules (`from`, `node`, link ends);
//! targets (`to`) may be a node, `node:iface`, an address or a `${…}` reference, so only
//! their references are checked. Expectations are `expect.rs`'s.

use serde_saphyr::Spanned;

use super::check::Checker;
use super::model::{
    Capture, Condition, Exec, ExecExpect, Family, LinkOp, LinkStep, NodeOp, NodeStep, Ping,
    Pingall, Protocol, Throughput, Wait,
};
use super::spec::{
    CONDITIONS, CaptureSpec, ExecSpec, ExpectSpec, LinkSpec, NODE_OPS, NodeSpec, NodesSpec,
    PingSpec, PingallSpec, ThroughputSpec, WaitSpec,
};
use crate::topology::changes::parse_changes;
use crate::topology::names::{IfaceProblem, check_iface_name, check_node_name, suggestion};
use crate::topology::spec::{Entries, Scalar, span};
use crate::topology::{ErrorKind, Span, TopologyError};

use std::time::Duration;

use crate::tools::limits;

const MAX_PAYLOAD: u64 = limits::PAYLOAD;

impl Checker<'_> {
    pub(super) fn ping(
        &mut self,
        p: &Spanned<PingSpec>,
        expect: Option<&Spanned<ExpectSpec>>,
    ) -> Result<Ping, TopologyError> {
        let s = &p.value;
        Ok(Ping {
            from: self.node_name(&s.from)?,
            to: self.target(&s.to)?,
            family: s.family.unwrap_or(Family::Ipv4),
            count: match &s.count {
                Some(n) => self.count(n, "count", 1, u64::from(limits::PING_COUNT))? as u32,
                None => 5,
            },
            interval: self.at_most(
                &s.interval,
                "interval",
                Duration::from_millis(200),
                limits::INTERVAL,
            )?,
            size: match &s.size {
                Some(n) => self.count(n, "size", 0, MAX_PAYLOAD)? as usize,
                None => 56,
            },
            expect: self.ping_expect(expect)?,
        })
    }

    pub(super) fn pingall(
        &mut self,
        p: Option<&PingallSpec>,
        expect: Option<&Spanned<ExpectSpec>>,
    ) -> Result<Pingall, TopologyError> {
        let default = PingallSpec::default();
        let s = p.unwrap_or(&default);
        Ok(Pingall {
            family: s.family.unwrap_or(Family::Ipv4),
            all_nodes: s.nodes == Some(NodesSpec::All),
            matrix: self.pingall_expect(expect)?,
        })
    }

    pub(super) fn throughput(
        &mut self,
        t: &Spanned<ThroughputSpec>,
        expect: Option<&Spanned<ExpectSpec>>,
    ) -> Result<Throughput, TopologyError> {
        let s = &t.value;
        let protocol = s.protocol.unwrap_or(Protocol::Tcp);
        let udp_only = |key: &str, at: Span| {
            self.err(
                ErrorKind::BadStep,
                at,
                format!("`{key}` applies to UDP throughput only"),
            )
            .with_help("add `protocol: udp`, or remove it")
        };
        if protocol == Protocol::Tcp {
            if let Some(rate) = &s.rate {
                return Err(udp_only("rate", span(rate)));
            }
            if let Some(size) = &s.size {
                return Err(udp_only("size", span(size)));
            }
        }
        if let (Protocol::Udp, Some(cc)) = (protocol, &s.congestion) {
            return Err(self
                .err(
                    ErrorKind::BadStep,
                    span(cc),
                    "`congestion` applies to TCP throughput only",
                )
                .with_help("UDP has no congestion control; remove it"));
        }
        let duration = self.at_most(
            &s.duration,
            "duration",
            Duration::from_secs(5),
            limits::DURATION,
        )?;
        let interval = self.opt_positive(&s.interval, "interval", Duration::from_secs(1))?;
        if let Some(i) = &s.interval
            && interval > duration
        {
            return Err(self
                .err(
                    ErrorKind::BadValue,
                    span(i),
                    "the report interval is longer than the transfer",
                )
                .with_help(
                    "make `interval` at most `duration` (outages are measured per interval)",
                ));
        }
        let congestion = match &s.congestion {
            Some(cc) => {
                let ok = !cc.value.is_empty()
                    && cc.value.len() <= 15
                    && cc
                        .value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return Err(self
                        .err(
                            ErrorKind::BadValue,
                            span(cc),
                            format!("`{}` is not a congestion control name", cc.value),
                        )
                        .with_help("kernel names like `cubic`, `reno` or `bbr`"));
                }
                cc.value.clone()
            }
            None => "cubic".into(),
        };
        let offered = s.rate.as_ref().map(|r| self.rate(r)).transpose()?;
        let size = match &s.size {
            Some(n) => self.count(n, "size", 1, MAX_PAYLOAD)? as usize,
            None => 1400,
        };
        // The default rate is the one `steps.rs` offers.
        let probes = udp_probes(duration, offered.unwrap_or(10_000_000), size);
        if protocol == Protocol::Udp && probes > limits::UDP_PROBES as f64 {
            let at = s
                .rate
                .as_ref()
                .or(s.duration.as_ref())
                .map_or(span(t), span);
            return Err(self
                .err(
                    ErrorKind::BadValue,
                    at,
                    format!(
                        "UDP at this rate for {} sends {probes:.0} probes, more than the limit of {}",
                        super::fmt_duration(duration),
                        limits::UDP_PROBES
                    ),
                )
                .with_help("lower the rate or the duration, or send larger probes (`size`)"));
        }
        Ok(Throughput {
            from: self.node_name(&s.from)?,
            to: self.target(&s.to)?,
            family: s.family.unwrap_or(Family::Ipv4),
            protocol,
            duration,
            streams: match &s.streams {
                Some(n) => self.count(n, "streams", 1, u64::from(limits::STREAMS))? as u32,
                None => 1,
            },
            interval,
            offered,
            size,
            congestion,
            expect: self.throughput_expect(expect, protocol)?,
        })
    }

    /// An `exec` (step or event) without expectations.
    pub(super) fn exec(&mut self, e: &Spanned<ExecSpec>) -> Result<Exec, TopologyError> {
        let (node, cmd) = self.command(&e.value)?;
        Ok(Exec {
            node,
            cmd,
            expect: ExecExpect::default(),
        })
    }

    fn command(&self, e: &ExecSpec) -> Result<(String, String), TopologyError> {
        let node = self.node_name(&e.node)?;
        if e.cmd.value.trim().is_empty() {
            return Err(self
                .err(ErrorKind::BadValue, span(&e.cmd), "empty command")
                .with_help("`cmd` is a shell command (run with `sh -c`), like `ip route`"));
        }
        let cmd = self.template(&e.cmd.value, span(&e.cmd))?;
        Ok((node, cmd))
    }

    pub(super) fn link(&mut self, l: &Spanned<LinkSpec>) -> Result<LinkStep, TopologyError> {
        let s = &l.value;
        let a = self.endpoint(&s.a)?;
        let b = self.endpoint(&s.b)?;
        if a.0 == b.0 {
            return Err(self
                .err(
                    ErrorKind::BadValue,
                    span(&s.b),
                    format!("a link joins two nodes; both ends here are `{}`", a.0),
                )
                .with_help("`a` and `b` are the two ends of the link, like `{a: r1, b: r2}`"));
        }
        let op = match (&s.set, &s.down, &s.up) {
            (Some(set), None, None) => self.link_set(set)?,
            (None, Some(on), None) | (None, None, Some(on)) if !on.value => {
                let (word, other) = if s.down.is_some() {
                    ("down", "up")
                } else {
                    ("up", "down")
                };
                return Err(self
                    .err(
                        ErrorKind::BadValue,
                        span(on),
                        format!("`{word}: false` does nothing"),
                    )
                    .with_help(format!(
                        "write `{word}: true`, or `{other}: true` for the opposite"
                    )));
            }
            (None, Some(_), None) => LinkOp::Down,
            (None, None, Some(_)) => LinkOp::Up,
            (None, None, None) => {
                return Err(self
                    .err(
                        ErrorKind::MissingField,
                        span(l),
                        "a link step needs `set`, `down: true` or `up: true`",
                    )
                    .with_help("add exactly one of them"));
            }
            _ => {
                let (second, at) = [
                    ("down", s.down.as_ref().map(span)),
                    ("up", s.up.as_ref().map(span)),
                ]
                .into_iter()
                .filter_map(|(k, at)| at.map(|at| (k, at)))
                .nth(if s.set.is_some() { 0 } else { 1 })
                .unwrap_or(("up", span(l)));
                return Err(self
                    .err(
                        ErrorKind::BadStep,
                        at,
                        format!("a link step does one thing; `{second}` is a second one"),
                    )
                    .with_help("use exactly one of `set`, `down: true`, `up: true` per step"));
            }
        };
        Ok(LinkStep {
            a: s.a.value.clone(),
            b: s.b.value.clone(),
            op,
        })
    }

    /// `set: {delay: 20ms, b_to_a.rate: 10Mbit}` through `parse_changes`; an error points
    /// at the first key or value it rejects.
    fn link_set(&self, set: &Spanned<Entries<Spanned<Scalar>>>) -> Result<LinkOp, TopologyError> {
        let entries = &set.value.0;
        if entries.is_empty() {
            return Err(self
                .err(ErrorKind::BadValue, span(set), "`set` changes nothing")
                .with_help("name what to change, like `set: {delay: 20ms, loss: 1%}`"));
        }
        let mut words = Vec::new();
        for (key, value) in entries {
            let bare = key
                .value
                .strip_prefix("a_to_b.")
                .or_else(|| key.value.strip_prefix("b_to_a."))
                .unwrap_or(&key.value);
            if !CHANGE_KEYS.contains(&bare) {
                return Err(self
                    .err(
                        ErrorKind::UnknownKey,
                        span(key),
                        format!("unknown link setting `{}`", key.value),
                    )
                    .with_help(suggestion(bare, CHANGE_KEYS, CHANGE_HELP)));
            }
            words.push(format!("{}={}", key.value, value.value.0));
            if let Err(e) = parse_changes(&words) {
                return Err(self
                    .err(
                        ErrorKind::BadValue,
                        span(value),
                        format!("bad link setting {e}"),
                    )
                    .with_help(
                        "values use the units of topology files, like `delay: 20ms`, \
                         `rate: 10Mbit`, `loss: 1%`, `loss_correlation: 25%`",
                    ));
            }
        }
        let (a_to_b, b_to_a) = parse_changes(&words).unwrap_or_default();
        Ok(LinkOp::Set {
            a_to_b: Box::new(a_to_b),
            b_to_a: Box::new(b_to_a),
        })
    }

    pub(super) fn node(&mut self, n: &Spanned<NodeSpec>) -> Result<NodeStep, TopologyError> {
        let s = &n.value;
        let node = self.node_name(&s.name)?;
        let service = s
            .service
            .as_ref()
            .map(|sv| self.service_name(sv))
            .transpose()?;
        let given: Vec<(NodeOp, &Spanned<bool>)> = [
            (NodeOp::Stop, &s.stop),
            (NodeOp::Start, &s.start),
            (NodeOp::Restart, &s.restart),
            (NodeOp::Kill, &s.kill),
            (NodeOp::Pause, &s.pause),
            (NodeOp::Resume, &s.resume),
        ]
        .into_iter()
        .filter_map(|(op, v)| v.as_ref().map(|v| (op, v)))
        .collect();
        if let Some((op, v)) = given.iter().find(|(_, v)| !v.value) {
            return Err(self
                .err(ErrorKind::BadValue, span(v), "`false` does nothing here")
                .with_help(format!("write `{}: true`", op.word())));
        }
        match given.as_slice() {
            [(op, _)] => Ok(NodeStep {
                node,
                service,
                op: *op,
            }),
            [] => Err(self
                .err(
                    ErrorKind::MissingField,
                    span(n),
                    "a node step needs what to do to the node",
                )
                .with_help(format!(
                    "give one of: {} (e.g. `kill: true`)",
                    NODE_OPS.join(", ")
                ))),
            [(first, _), (_, second), ..] => Err(self
                .err(
                    ErrorKind::BadStep,
                    span(second),
                    format!(
                        "a node step does one thing; `{}` is already given",
                        first.word()
                    ),
                )
                .with_help("use one step per operation (`restart: true` is stop then start)")),
        }
    }

    /// A service name: what `run:` entries are called (letters, digits, `-`, `_`).
    fn service_name(&self, name: &Spanned<String>) -> Result<String, TopologyError> {
        let v = &name.value;
        let ok = !v.is_empty()
            && v.len() <= 32
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(self
                .err(
                    ErrorKind::BadName,
                    span(name),
                    format!("service name `{v}` is not valid"),
                )
                .with_help("1 to 32 letters, digits, `-` or `_`, as the node's `run:` names it"));
        }
        Ok(v.clone())
    }

    pub(super) fn wait(&mut self, w: &Spanned<WaitSpec>) -> Result<Wait, TopologyError> {
        let s = &w.value;
        let given: Vec<(&str, Span)> = [
            ("ready", s.ready.as_ref().map(span)),
            ("reachable", s.reachable.as_ref().map(span)),
            ("tcp_port", s.tcp_port.as_ref().map(span)),
            ("command", s.command.as_ref().map(span)),
            ("openflow", s.openflow.as_ref().map(span)),
            ("bgp", s.bgp.as_ref().map(span)),
        ]
        .into_iter()
        .filter_map(|(k, at)| at.map(|at| (k, at)))
        .collect();
        if let Some((k, at)) = given.get(1) {
            return Err(self
                .err(
                    ErrorKind::BadStep,
                    *at,
                    format!("`wait` waits for one condition; `{k}` is a second one"),
                )
                .with_help("use one `wait` step per condition"));
        }
        if let Some(o) = &s.openflow {
            return Ok(Wait {
                until: self.openflow_wait(o)?,
                every: self.opt_positive(&s.every, "every", Duration::from_millis(200))?,
            });
        }
        if let Some(b) = &s.bgp {
            return Ok(Wait {
                until: self.bgp_wait(b)?,
                every: self.opt_positive(&s.every, "every", Duration::from_millis(200))?,
            });
        }
        if let Some(r) = &s.ready {
            if let Some((k, at)) = [
                ("reachable", s.reachable.as_ref().map(span)),
                ("tcp_port", s.tcp_port.as_ref().map(span)),
                ("command", s.command.as_ref().map(span)),
            ]
            .into_iter()
            .find_map(|(k, at)| at.map(|at| (k, at)))
            {
                return Err(self
                    .err(
                        ErrorKind::BadStep,
                        at,
                        format!("`wait` waits for one condition; `{k}` is a second one"),
                    )
                    .with_help("use one `wait` step per condition"));
            }
            let (node, service) = match r.value.split_once('/') {
                Some((n, sv)) => (n, Some(sv)),
                None => (r.value.as_str(), None),
            };
            let at = |v: &str| Spanned {
                value: v.to_string(),
                referenced: r.referenced,
                defined: r.defined,
            };
            let node = self.node_name(&at(node))?;
            let service = service.map(|sv| self.service_name(&at(sv))).transpose()?;
            return Ok(Wait {
                until: Condition::Ready { node, service },
                every: self.opt_positive(&s.every, "every", Duration::from_millis(200))?,
            });
        }
        let until = match (&s.reachable, &s.tcp_port, &s.command) {
            (Some(r), None, None) => Condition::Reachable {
                from: self.node_name(&r.value.from)?,
                to: self.target(&r.value.to)?,
                family: r.value.family.unwrap_or(Family::Ipv4),
            },
            (None, Some(t), None) => Condition::TcpPort {
                from: self.node_name(&t.value.from)?,
                to: self.target(&t.value.to)?,
                port: self.count(&t.value.port, "port", 1, 65_535)? as u16,
                family: t.value.family.unwrap_or(Family::Ipv4),
            },
            (None, None, Some(c)) => {
                let (node, cmd) = self.command(&c.value)?;
                Condition::Command { node, cmd }
            }
            (None, None, None) => {
                return Err(self
                    .err(ErrorKind::MissingField, span(w), "`wait` needs a condition")
                    .with_help(format!("give one of: {}", CONDITIONS.join(", "))));
            }
            _ => {
                let (second, at) = [
                    ("tcp_port", s.tcp_port.as_ref().map(span)),
                    ("command", s.command.as_ref().map(span)),
                ]
                .into_iter()
                .filter_map(|(k, at)| at.map(|at| (k, at)))
                .nth(if s.reachable.is_some() { 0 } else { 1 })
                .unwrap_or(("command", span(w)));
                return Err(self
                    .err(
                        ErrorKind::BadStep,
                        at,
                        format!("`wait` waits for one condition; `{second}` is a second one"),
                    )
                    .with_help("use one `wait` step per condition"));
            }
        };
        Ok(Wait {
            until,
            every: self.opt_positive(&s.every, "every", Duration::from_millis(200))?,
        })
    }

    pub(super) fn capture(&mut self, c: &Spanned<CaptureSpec>) -> Result<Capture, TopologyError> {
        let s = &c.value;
        match (&s.start, &s.stop) {
            (Some(written), None) => {
                let name = self.capture_name(written)?;
                let Some(iface) = &s.iface else {
                    return Err(self
                        .err(ErrorKind::MissingField, span(c), "missing key `iface`")
                        .with_help("say where to capture: `iface: h1:eth0`"));
                };
                let (node, Some(ifname)) = self.endpoint(iface)? else {
                    return Err(self
                        .err(
                            ErrorKind::BadValue,
                            span(iface),
                            format!("`{}` names no interface", iface.value),
                        )
                        .with_help("write `node:iface`, like `h1:eth0`"));
                };
                self.capture_started(&name, span(written))?;
                Ok(Capture::Start {
                    name,
                    node,
                    iface: ifname,
                })
            }
            (None, Some(written)) => {
                if let Some(iface) = &s.iface {
                    return Err(self
                        .err(ErrorKind::BadStep, span(iface), "`iface` goes with `start`")
                        .with_help("a stop names only the capture: `capture: {stop: cap1}`"));
                }
                let name = self.capture_name(written)?;
                self.capture_stopped(&name, span(written))?;
                Ok(Capture::Stop { name })
            }
            (Some(_), Some(stop)) => Err(self
                .err(
                    ErrorKind::BadStep,
                    span(stop),
                    "a capture step either starts or stops",
                )
                .with_help("use two steps: `{start: cap1, iface: h1:eth0}` … `{stop: cap1}`")),
            (None, None) => Err(self
                .err(
                    ErrorKind::MissingField,
                    span(c),
                    "a capture step needs `start` or `stop`",
                )
                .with_help("`capture: {start: cap1, iface: h1:eth0}` … `capture: {stop: cap1}`")),
        }
    }

    // ---- names and targets ------------------------------------------------------------

    fn capture_name(&self, name: &Spanned<String>) -> Result<String, TopologyError> {
        let n = &name.value;
        let ok = n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && n.len() <= 64
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Err(self
                .err(ErrorKind::BadName, span(name), format!("bad capture name `{n}`"))
                .with_help("a capture name becomes a file name (`<name>.pcap`): letters, digits, `_`, `.`, `-`, starting with a letter or digit"));
        }
        Ok(n.clone())
    }

    pub(super) fn node_name(&self, name: &Spanned<String>) -> Result<String, TopologyError> {
        check_node_name(&name.value).map_err(|msg| {
            self.err(ErrorKind::BadName, span(name), msg)
                .with_help("a node of the lab, by name, like `h1`")
        })?;
        Ok(name.value.clone())
    }

    /// A node, `node:iface`, an address or a `${…}` reference.
    fn target(&self, t: &Spanned<String>) -> Result<String, TopologyError> {
        if t.value.trim().is_empty() {
            return Err(self
                .err(ErrorKind::BadValue, span(t), "empty target")
                .with_help(
                    "a node (`h3`), `node:iface`, an address or a reference like `${h3.ipv4}`",
                ));
        }
        self.template(&t.value, span(t))
    }

    /// `node` or `node:iface`, each part checked by the topology's rules.
    fn endpoint(&self, e: &Spanned<String>) -> Result<(String, Option<String>), TopologyError> {
        let at = span(e);
        let (node, iface) = match e.value.split_once(':') {
            Some((n, i)) => (n, Some(i)),
            None => (e.value.as_str(), None),
        };
        check_node_name(node).map_err(|msg| {
            self.err(
                ErrorKind::BadName,
                self.ctx.sub_span(at, &e.value, 0, node.len()),
                msg,
            )
            .with_help("write `node` or `node:iface`, like `r1` or `r1:eth1`")
        })?;
        if let Some(iface) = iface {
            check_iface_name(iface).map_err(|p| {
                let (kind, msg) = match p {
                    IfaceProblem::TooLong(m) => (ErrorKind::IfaceNameTooLong, m),
                    IfaceProblem::Invalid(m) => (ErrorKind::BadName, m),
                };
                let sub = self.ctx.sub_span(at, &e.value, node.len() + 1, iface.len());
                self.err(kind, sub, msg)
                    .with_help("write `node` or `node:iface`, like `r1` or `r1:eth1`")
            })?;
        }
        Ok((node.to_string(), iface.map(str::to_string)))
    }

    /// `opt_positive`, and at most `max` (the limit is named when refused).
    fn at_most(
        &self,
        v: &Option<Spanned<Scalar>>,
        key: &str,
        default: Duration,
        max: Duration,
    ) -> Result<Duration, TopologyError> {
        let d = self.opt_positive(v, key, default)?;
        match v {
            Some(v) if d > max => Err(self
                .err(
                    ErrorKind::BadValue,
                    span(v),
                    format!("`{key}: {}` is longer than the limit", v.value.0),
                )
                .with_help(format!("`{key}` is at most {}", super::fmt_duration(max)))),
            _ => Ok(d),
        }
    }

    fn opt_positive(
        &self,
        v: &Option<Spanned<Scalar>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration, TopologyError> {
        match v {
            Some(v) => self.positive_duration(v, &format!("`{key}`")),
            None => Ok(default),
        }
    }
}

/// UDP probes a `throughput` step sends (as `steps.rs` paces them: at least 16 bytes each).
fn udp_probes(duration: Duration, bps: u64, size: usize) -> f64 {
    duration.as_secs_f64() * bps.max(1) as f64 / (size.max(16) as f64 * 8.0)
}

/// The keys `parse_changes` knows (without an `a_to_b.` / `b_to_a.` prefix).
const CHANGE_KEYS: &[&str] = &[
    "rate",
    "burst",
    "queue",
    "delay",
    "jitter",
    "distribution",
    "loss",
    "loss_correlation",
    "duplicate",
    "corrupt",
    "reorder",
    "reorder_gap",
];

const CHANGE_HELP: &str =
    "link settings (prefix one with `a_to_b.` or `b_to_a.` for one direction)";
