//! The BGP keys of a scenario, checked: the `bgp` step (prefixes a running speaker
//! originates or withdraws) and `wait: {bgp: …}` (sessions established, a route present
//! via a next hop, a route absent).
//!
//! ```text
//!   - bgp: {node: r1, announce: [192.0.2.0/24], withdraw: [198.51.100.0/24]}
//!   - wait: {bgp: {node: r1, established: all}}
//!   - wait: {bgp: {node: r1, established: 2}}
//!   - wait: {bgp: {node: r1, established: [r2, 10.0.0.2]}}
//!   - wait: {bgp: {node: r1, route: 10.2.0.0/24, via: 10.0.12.2}}
//!   - wait: {bgp: {node: r1, route: 10.2.0.0/24, absent: true}}
//! ```
//!
//! Prefixes must parse here (network address, no host bits); an error points at the
//! item. When the topology is known at check time, the node must exist.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_saphyr::Spanned;

use super::check::Checker;
use super::model::{BgpSessions, BgpStep, Condition};
use super::spec::{BgpSpec, BgpWaitSpec, Established};
use crate::topology::spec::span;
use crate::topology::{ErrorKind, Span, TopologyError};

/// The most sessions an `established:` count may ask for.
const MAX_SESSIONS: i64 = 65_535;
/// The most prefixes one `bgp` step may list.
const MAX_PREFIXES: usize = 100_000;

impl Checker<'_> {
    pub(super) fn bgp(&mut self, b: &Spanned<BgpSpec>) -> Result<BgpStep, TopologyError> {
        let s = &b.value;
        let node = self.bgp_node(&s.node)?;
        if s.announce.is_none() && s.withdraw.is_none() {
            return Err(self
                .err(
                    ErrorKind::MissingField,
                    span(b),
                    "a `bgp` step needs prefixes to announce or withdraw",
                )
                .with_help("e.g. `bgp: {node: r1, announce: [192.0.2.0/24]}`"));
        }
        let announce = self.prefix_list(s.announce.as_ref(), "announce")?;
        let withdraw = self.prefix_list(s.withdraw.as_ref(), "withdraw")?;
        if announce.is_empty() && withdraw.is_empty() {
            let at = s
                .announce
                .as_ref()
                .map(span)
                .or(s.withdraw.as_ref().map(span))
                .unwrap_or_else(|| span(b));
            return Err(self
                .err(ErrorKind::BadValue, at, "an empty list of prefixes")
                .with_help("list at least one prefix, like `[192.0.2.0/24]`"));
        }
        Ok(BgpStep {
            node,
            announce,
            withdraw,
        })
    }

    pub(super) fn bgp_wait(
        &mut self,
        w: &Spanned<BgpWaitSpec>,
    ) -> Result<Condition, TopologyError> {
        let s = &w.value;
        let node = self.bgp_node(&s.node)?;
        match (&s.established, &s.route) {
            (None, None) => {
                return Err(self
                    .err(
                        ErrorKind::MissingField,
                        span(w),
                        "`wait: {bgp: …}` needs what to wait for",
                    )
                    .with_help(
                        "give one of: established (`all`, a number, or peers: \
                         `established: all`), route (`route: 10.2.0.0/24`, with `via` or \
                         `absent: true`)",
                    ));
            }
            (Some(_), Some(r)) => {
                return Err(self
                    .err(
                        ErrorKind::BadStep,
                        span(r),
                        "a BGP wait has one condition; `established` is already given, so `route` is a second one",
                    )
                    .with_help("use one `wait` step per condition"));
            }
            _ => {}
        }
        if let Some(e) = &s.established {
            if let Some((k, at)) = [
                ("via", s.via.as_ref().map(span)),
                ("absent", s.absent.as_ref().map(span)),
            ]
            .into_iter()
            .find_map(|(k, at)| at.map(|at| (k, at)))
            {
                return Err(self
                    .err(ErrorKind::BadStep, at, format!("`{k}` goes with `route`"))
                    .with_help("`{node: r1, route: 10.2.0.0/24, via: 10.0.12.2}`"));
            }
            let sessions = self.established(e)?;
            return Ok(Condition::BgpEstablished { node, sessions });
        }
        let Some(r) = &s.route else {
            unreachable!("one of established, route is given (checked above)");
        };
        let prefix = self.prefix(&r.value, span(r))?;
        let via = match &s.via {
            Some(v) => Some(v.value.trim().parse::<IpAddr>().map_err(|_| {
                self.err(
                    ErrorKind::BadValue,
                    span(v),
                    format!("`via: {}` is not an address", v.value),
                )
                .with_help("the next hop, like `10.0.12.2` or `2001:db8::2`")
            })?),
            None => None,
        };
        Ok(Condition::BgpRoute {
            node,
            prefix,
            via,
            present: !s.absent.as_ref().is_some_and(|a| a.value),
        })
    }

    fn established(&self, e: &Spanned<Established>) -> Result<BgpSessions, TopologyError> {
        let at = span(e);
        match &e.value {
            Established::Word(w) if w.trim() == "all" => Ok(BgpSessions::All),
            Established::Word(w) => match w.trim().parse::<i64>() {
                Ok(n) => self.session_count(n, at),
                Err(_) => Err(self
                    .err(
                        ErrorKind::BadValue,
                        at,
                        format!("`established: {w}` is not `all`, a number or a list of peers"),
                    )
                    .with_help("`established: all`, `established: 2` or `established: [r2, r3]`")),
            },
            Established::Count(n) => self.session_count(*n, at),
            Established::Peers(list) => {
                if list.is_empty() {
                    return Err(self
                        .err(ErrorKind::BadValue, at, "an empty list of peers")
                        .with_help(
                            "name at least one peer (its node or address), or write `all`",
                        ));
                }
                let mut peers = Vec::with_capacity(list.len());
                for p in list {
                    let v = p.value.trim();
                    let ok = v.parse::<IpAddr>().is_ok()
                        || (!v.is_empty()
                            && v.len() <= 64
                            && v.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c)));
                    if !ok {
                        return Err(self
                            .err(
                                ErrorKind::BadValue,
                                span(p),
                                format!("`{}` is not a peer name or address", p.value),
                            )
                            .with_help("a peer is its node (`r2`, `r2:eth1`) or its address"));
                    }
                    peers.push(v.to_string());
                }
                Ok(BgpSessions::Peers(peers))
            }
        }
    }

    fn session_count(&self, n: i64, at: Span) -> Result<BgpSessions, TopologyError> {
        if (1..=MAX_SESSIONS).contains(&n) {
            return Ok(BgpSessions::AtLeast(n as u32));
        }
        Err(self
            .err(
                ErrorKind::BadValue,
                at,
                format!("`established: {n}` is out of range"),
            )
            .with_help(format!(
                "`established` is between 1 and {MAX_SESSIONS} sessions, or `all`"
            )))
    }

    fn prefix_list(
        &self,
        list: Option<&Spanned<Vec<Spanned<String>>>>,
        key: &str,
    ) -> Result<Vec<String>, TopologyError> {
        let Some(list) = list else {
            return Ok(Vec::new());
        };
        if list.value.len() > MAX_PREFIXES {
            return Err(self
                .err(
                    ErrorKind::BadValue,
                    span(list),
                    format!("`{key}` lists {} prefixes", list.value.len()),
                )
                .with_help(format!(
                    "a `bgp` step lists at most {MAX_PREFIXES} prefixes"
                )));
        }
        list.value
            .iter()
            .map(|p| self.prefix(&p.value, span(p)))
            .collect()
    }

    /// A prefix as the speaker takes it (its canonical text).
    fn prefix(&self, v: &str, at: Span) -> Result<String, TopologyError> {
        let t = v.trim();
        let net = t.parse::<IpNet>().map_err(|_| {
            self.err(ErrorKind::BadValue, at, format!("`{v}` is not a prefix"))
                .with_help(
                    "a prefix is an address and a length, like `10.2.0.0/24` or `2001:db8::/32`",
                )
        })?;
        if net.trunc() != net {
            return Err(self
                .err(ErrorKind::BadValue, at, format!("`{v}` has host bits set"))
                .with_help(format!("the prefix is `{}`", net.trunc())));
        }
        Ok(net.to_string())
    }

    /// A node a BGP key names: the name rules, and, when the topology is known, a node of
    /// it.
    fn bgp_node(&self, name: &Spanned<String>) -> Result<String, TopologyError> {
        let node = self.node_name(name)?;
        let Some(kinds) = &self.kinds else {
            return Ok(node);
        };
        if kinds.contains_key(&node) {
            return Ok(node);
        }
        let help =
            match crate::topology::names::did_you_mean(&node, kinds.keys().map(String::as_str)) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "a BGP key names a node of the topology with a `bgp:` key".to_string(),
            };
        Err(self
            .err(
                ErrorKind::UnknownNode,
                span(name),
                format!("unknown node `{node}`"),
            )
            .with_help(help))
    }
}
