//! `expect:` per action: which keys each action takes, their units, and bounds that
//! contradict each other.
//!
//! ```text
//!   ping        loss (= loss_max), loss_max, loss_min (%), rtt_max, rtt_min, rtt_avg_max
//!   pingall     `full` (every pair answers; also the default) or [{from, to, reachable}]
//!   throughput  min, max (rates), loss_max (%, udp), jitter_max (udp), outage_min,
//!               outage_max (tcp), retransmits_max (tcp)
//!   exec        status (default 0; `any` skips it), stdout_contains, stdout_matches,
//!               stderr_contains, stderr_matches
//! ```
//!
//! A ping step without `expect:` expects every echo answered (`loss: 0%`); a throughput
//! step without one only measures. A key that belongs to another action says so ("`min`
//! is a throughput expectation"). `*_contains` may hold `${…}` references; `*_matches` are
//! regular expressions, compiled here so that a bad one is reported at its line.

use std::collections::HashSet;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::check::Checker;
use super::model::{ExecExpect, PairExpect, PingExpect, Protocol, ThroughputExpect};
use super::spec::ExpectSpec;
use crate::topology::names::did_you_mean;
use crate::topology::spec::{Scalar, span};
use crate::topology::{ErrorKind, TopologyError};

const PING: &[&str] = &[
    "loss",
    "loss_max",
    "loss_min",
    "rtt_max",
    "rtt_min",
    "rtt_avg_max",
];
const THROUGHPUT: &[&str] = &[
    "min",
    "max",
    "loss_max",
    "jitter_max",
    "outage_min",
    "outage_max",
    "retransmits_max",
];
const EXEC: &[&str] = &[
    "status",
    "stdout_contains",
    "stdout_matches",
    "stderr_contains",
    "stderr_matches",
];

type Pairs<'s> = Vec<(&'s Spanned<String>, &'s Spanned<Scalar>)>;

impl Checker<'_> {
    pub(super) fn ping_expect(
        &self,
        expect: Option<&Spanned<ExpectSpec>>,
    ) -> Result<PingExpect, TopologyError> {
        let Some(expect) = expect else {
            return Ok(PingExpect {
                loss_max: Some(0.0),
                ..PingExpect::default()
            });
        };
        let map = self.map(expect, "ping", PING, "{loss: 0%, rtt_max: 50ms}")?;
        let mut out = PingExpect::default();
        let mut loss_written: Option<&str> = None;
        for (key, value) in &map {
            match key.value.as_str() {
                k @ ("loss" | "loss_max") => {
                    if let Some(first) = loss_written {
                        return Err(self
                            .err(
                                ErrorKind::DuplicateKey,
                                span(key),
                                format!("`{first}` and `{k}` mean the same"),
                            )
                            .with_help("keep one of them"));
                    }
                    loss_written = Some(if k == "loss" { "loss" } else { "loss_max" });
                    out.loss_max = Some(self.percent(value)?);
                }
                "loss_min" => out.loss_min = Some(self.percent(value)?),
                "rtt_max" => out.rtt_max = Some(self.duration(value)?),
                "rtt_min" => out.rtt_min = Some(self.duration(value)?),
                _ => out.rtt_avg_max = Some(self.duration(value)?),
            }
        }
        self.ordered(&map, "loss_min", out.loss_min, "loss_max", out.loss_max)?;
        self.ordered(&map, "loss_min", out.loss_min, "loss", out.loss_max)?;
        self.ordered(&map, "rtt_min", out.rtt_min, "rtt_max", out.rtt_max)?;
        self.ordered(&map, "rtt_min", out.rtt_min, "rtt_avg_max", out.rtt_avg_max)?;
        Ok(out)
    }

    /// `None`: every pair must answer.
    pub(super) fn pingall_expect(
        &self,
        expect: Option<&Spanned<ExpectSpec>>,
    ) -> Result<Option<Vec<PairExpect>>, TopologyError> {
        let Some(expect) = expect else {
            return Ok(None);
        };
        let shape = || {
            "pingall expects `full` (every pair answers) or a list like \
             `[{from: h1, to: h2, reachable: false}]`"
        };
        match &expect.value {
            ExpectSpec::Word(w) if w == "full" => Ok(None),
            ExpectSpec::Word(w) => Err(self
                .err(
                    ErrorKind::BadValue,
                    span(expect),
                    format!("unknown value `{w}`"),
                )
                .with_help(shape())),
            ExpectSpec::Map(_) => Err(self
                .err(
                    ErrorKind::BadStep,
                    span(expect),
                    "pingall takes no expectation keys",
                )
                .with_help(shape())),
            ExpectSpec::Pairs(pairs) if pairs.is_empty() => Err(self
                .err(ErrorKind::BadValue, span(expect), "empty list of pairs")
                .with_help(shape())),
            ExpectSpec::Pairs(pairs) => {
                let mut seen = HashSet::new();
                let mut out = Vec::new();
                for p in pairs {
                    let from = self.node_name(&p.value.from)?;
                    let to = self.node_name(&p.value.to)?;
                    if from == to {
                        return Err(self
                            .err(
                                ErrorKind::BadValue,
                                span(&p.value.to),
                                format!("`{from}` to itself is not a pair"),
                            )
                            .with_help("pingall tests pairs of different nodes"));
                    }
                    if !seen.insert((from.clone(), to.clone())) {
                        return Err(self
                            .err(
                                ErrorKind::DuplicateKey,
                                span(p),
                                format!("the pair {from} → {to} is listed twice"),
                            )
                            .with_help("list each pair once"));
                    }
                    out.push(PairExpect {
                        from,
                        to,
                        reachable: p.value.reachable.unwrap_or(true),
                    });
                }
                Ok(Some(out))
            }
        }
    }

    pub(super) fn throughput_expect(
        &self,
        expect: Option<&Spanned<ExpectSpec>>,
        protocol: Protocol,
    ) -> Result<ThroughputExpect, TopologyError> {
        let mut out = ThroughputExpect::default();
        let Some(expect) = expect else {
            return Ok(out);
        };
        let map = self.map(expect, "throughput", THROUGHPUT, "{min: 5Mbit}")?;
        for (key, value) in &map {
            let k = key.value.as_str();
            let wrong = match (k, protocol) {
                ("loss_max" | "jitter_max", Protocol::Tcp) => Some((
                    "UDP",
                    "add `protocol: udp`; TCP retransmits losses (bound `retransmits_max`)",
                )),
                ("retransmits_max", Protocol::Udp) => {
                    Some(("TCP", "UDP does not retransmit; bound `loss_max` instead"))
                }
                // Outages are windows of intervals with no goodput, which the UDP probe
                // does not report: accepting the key would check nothing.
                ("outage_min" | "outage_max", Protocol::Udp) => Some((
                    "TCP",
                    "measure outages with TCP throughput; bound a UDP run with `loss_max`",
                )),
                _ => None,
            };
            if let Some((proto, help)) = wrong {
                return Err(self
                    .err(
                        ErrorKind::BadStep,
                        span(key),
                        format!("`{k}` applies to {proto} throughput only"),
                    )
                    .with_help(help));
            }
            match k {
                "min" => out.min = Some(self.rate(value)?),
                "max" => out.max = Some(self.rate(value)?),
                "loss_max" => out.loss_max = Some(self.percent(value)?),
                "jitter_max" => out.jitter_max = Some(self.duration(value)?),
                "outage_min" => out.outage_min = Some(self.duration(value)?),
                "outage_max" => out.outage_max = Some(self.duration(value)?),
                _ => {
                    let n = value.value.0.parse::<u64>().map_err(|_| {
                        self.err(
                            ErrorKind::BadValue,
                            span(value),
                            format!("`{}` is not a whole number", value.value.0),
                        )
                        .with_help("`retransmits_max` counts segments, like `100`")
                    })?;
                    out.retransmits_max = Some(n);
                }
            }
        }
        self.ordered(&map, "min", out.min, "max", out.max)?;
        self.ordered(
            &map,
            "outage_min",
            out.outage_min,
            "outage_max",
            out.outage_max,
        )?;
        Ok(out)
    }

    /// A step's exec expectations (status 0 unless said otherwise).
    pub(super) fn exec_expect(
        &self,
        expect: Option<&Spanned<ExpectSpec>>,
    ) -> Result<ExecExpect, TopologyError> {
        let mut out = ExecExpect {
            status: Some(0),
            ..ExecExpect::default()
        };
        let Some(expect) = expect else {
            return Ok(out);
        };
        let map = self.map(
            expect,
            "exec",
            EXEC,
            "{status: 0, stdout_contains: default}",
        )?;
        for (key, value) in &map {
            let text = &value.value.0;
            match key.value.as_str() {
                "status" if text == "any" => out.status = None,
                "status" => {
                    let status = text.parse::<i32>().ok().filter(|s| (0..=255).contains(s));
                    out.status = Some(status.ok_or_else(|| {
                        self.err(
                            ErrorKind::BadValue,
                            span(value),
                            format!("`{text}` is not an exit status"),
                        )
                        .with_help("an exit status is 0 to 255, or `any` to not check it")
                    })?);
                }
                "stdout_contains" => {
                    out.stdout_contains = Some(self.template(text, span(value))?);
                }
                "stderr_contains" => {
                    out.stderr_contains = Some(self.template(text, span(value))?);
                }
                "stdout_matches" => out.stdout_matches = Some(self.regex(value)?),
                _ => out.stderr_matches = Some(self.regex(value)?),
            }
        }
        Ok(out)
    }

    /// The mapping form, every key one of `keys` (else an error naming the right action).
    fn map<'s>(
        &self,
        expect: &'s Spanned<ExpectSpec>,
        action: &str,
        keys: &[&str],
        example: &str,
    ) -> Result<Pairs<'s>, TopologyError> {
        let ExpectSpec::Map(entries) = &expect.value else {
            return Err(self
                .err(
                    ErrorKind::BadValue,
                    span(expect),
                    format!("{action} expectations are a mapping"),
                )
                .with_help(format!("write them like `expect: {example}`")));
        };
        for (key, _) in &entries.0 {
            let k = key.value.as_str();
            if keys.contains(&k) {
                continue;
            }
            let owner = [("ping", PING), ("throughput", THROUGHPUT), ("exec", EXEC)]
                .into_iter()
                .find(|(_, ks)| ks.contains(&k))
                .map(|(a, _)| a);
            let message = match owner {
                Some(owner) => format!("`{k}` is a {owner} expectation, not a {action} one"),
                None => format!("unknown key `{k}`"),
            };
            let help = match did_you_mean(k, keys.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("{action} expectations: {}", keys.join(", ")),
            };
            return Err(self
                .err(ErrorKind::UnknownKey, span(key), message)
                .with_help(help));
        }
        Ok(entries.0.iter().map(|(k, v)| (k, v)).collect())
    }

    /// Errors when both bounds are written and `low` is above `high`.
    fn ordered<T: PartialOrd + Copy + Shown>(
        &self,
        map: &Pairs<'_>,
        low_key: &str,
        low: Option<T>,
        high_key: &str,
        high: Option<T>,
    ) -> Result<(), TopologyError> {
        let (Some(lo), Some(hi)) = (low, high) else {
            return Ok(());
        };
        let written = |k: &str| map.iter().find(|(key, _)| key.value == k);
        let (Some((lo_key, _)), Some(_)) = (written(low_key), written(high_key)) else {
            return Ok(());
        };
        if lo > hi {
            return Err(self
                .err(
                    ErrorKind::BadValue,
                    span(*lo_key),
                    format!(
                        "`{low_key}` ({}) is above `{high_key}` ({}): nothing can pass",
                        lo.shown(),
                        hi.shown()
                    ),
                )
                .with_help("swap them, or fix one"));
        }
        Ok(())
    }

    fn regex(&self, value: &Spanned<Scalar>) -> Result<String, TopologyError> {
        let text = &value.value.0;
        regex::Regex::new(text).map_err(|e| {
            let detail = e.to_string();
            let why = detail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("does not compile")
                .trim()
                .trim_start_matches("error: ")
                .to_string();
            self.err(
                ErrorKind::BadRegex,
                span(value),
                format!("bad regular expression `{text}`: {why}"),
            )
            .with_help(
                "Rust regex syntax (like `via 10\\.`); in YAML, single-quote it or double \
                 every backslash inside double quotes",
            )
        })?;
        Ok(text.clone())
    }
}

/// How a bound prints in a message.
trait Shown {
    fn shown(&self) -> String;
}

impl Shown for f64 {
    fn shown(&self) -> String {
        format!("{}%", (self * 1e6).round() / 1e4)
    }
}

impl Shown for u64 {
    /// A rate: `50 Mbit/s`, `1.5 Gbit/s`, `9600 bit/s`.
    fn shown(&self) -> String {
        let (unit, scale) = match *self {
            r if r >= 1_000_000_000 => ("Gbit/s", 1e9),
            r if r >= 1_000_000 => ("Mbit/s", 1e6),
            r if r >= 1_000 => ("kbit/s", 1e3),
            _ => ("bit/s", 1.0),
        };
        let value = format!("{:.3}", *self as f64 / scale);
        format!(
            "{} {unit}",
            value.trim_end_matches('0').trim_end_matches('.')
        )
    }
}

impl Shown for Duration {
    fn shown(&self) -> String {
        super::summary::fmt_duration(*self)
    }
}
