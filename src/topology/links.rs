//! Link checks: endpoints (`node` or `node:iface`), interface names, explicit addresses,
//! MTU, and (through `emulation.rs`) impairments.
//!
//! A [`LinkChecker`] is built once all nodes are known (written and generated), then fed
//! the written links in file order. It remembers every explicit `(node, interface)` pair
//! so that a second use of one is reported at the second place, with the first's line.
//! Generated links need no checks: their endpoints are fresh names from one generator.

use std::collections::HashMap;

use ipnet::IpNet;
use serde_saphyr::Spanned;

use super::addressing::parse_iface_addr;
use super::check::{Ctx, check_mtu, str_items};
use super::emulation;
use super::error::{ErrorKind, TopologyError};
use super::model::{Endpoint, Link, LinkEmulation, Node, Span};
use super::names::{IfaceProblem, check_iface_name, did_you_mean};
use super::spec::{LinkLong, LinkSpec, span};

/// A generated link: plain, automatic interfaces and addresses.
pub fn generated(a: String, b: String, at: Span) -> Link {
    let end = |node| Endpoint {
        node,
        iface: None,
        addrs: Vec::new(),
        span: at,
    };
    Link {
        a: end(a),
        b: end(b),
        mtu: None,
        emulation: LinkEmulation {
            span: at,
            ..LinkEmulation::default()
        },
        span: at,
    }
}

pub struct LinkChecker<'c> {
    ctx: &'c Ctx<'c>,
    nodes: &'c [Node],
    index: HashMap<&'c str, usize>,
    /// Explicit interfaces seen so far: (node, iface) → where.
    ifaces: HashMap<(String, String), Span>,
}

impl<'c> LinkChecker<'c> {
    pub fn new(ctx: &'c Ctx<'c>, nodes: &'c [Node]) -> Self {
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        LinkChecker {
            ctx,
            nodes,
            index,
            ifaces: HashMap::new(),
        }
    }

    /// Checks one written link (short or long form).
    pub fn written(&mut self, link: &Spanned<LinkSpec>) -> Result<Link, TopologyError> {
        let at = span(link);
        let (ends, long, ends_at) = match &link.value {
            LinkSpec::Short(ends) => (ends.as_slice(), None, at),
            LinkSpec::Long(long) => (
                long.endpoints.value.as_slice(),
                Some(&**long),
                span(&long.endpoints),
            ),
        };
        if ends.len() != 2 {
            return Err(self
                .ctx
                .error(
                    ErrorKind::BadLink,
                    ends_at,
                    format!("a link has two endpoints, not {}", ends.len()),
                )
                .with_help("write `[h1, s1]`, or `endpoints: [h1, s1]` in the long form"));
        }
        let mut a = self.endpoint(&ends[0])?;
        let mut b = self.endpoint(&ends[1])?;
        if a.node == b.node {
            return Err(self
                .ctx
                .error(
                    ErrorKind::BadLink,
                    b.span,
                    format!("link from `{}` to itself", a.node),
                )
                .with_help("a link joins two different nodes"));
        }
        for (end, raw) in [(&a, &ends[0]), (&b, &ends[1])] {
            self.claim_iface(end, raw)?;
        }
        let mut mtu = None;
        let mut emulation = LinkEmulation {
            span: at,
            ..LinkEmulation::default()
        };
        if let Some(long) = long {
            if let Some(value) = &long.mtu {
                mtu = Some(check_mtu(value, self.ctx)?);
            }
            self.addresses(long, &mut a, &mut b)?;
            emulation = emulation::check(long, at, self.ctx)?;
        }
        Ok(Link {
            a,
            b,
            mtu,
            emulation,
            span: at,
        })
    }

    fn node(&self, name: &str) -> Option<&'c Node> {
        self.index.get(name).map(|i| &self.nodes[*i])
    }

    fn endpoint(&self, raw: &Spanned<String>) -> Result<Endpoint, TopologyError> {
        let at = span(raw);
        let text = raw.value.as_str();
        let (node, iface) = match text.split_once(':') {
            Some((node, iface)) => (node, Some(iface)),
            None => (text, None),
        };
        if node.is_empty() {
            return Err(self
                .ctx
                .error(
                    ErrorKind::BadName,
                    at,
                    format!("endpoint `{text}` has no node name"),
                )
                .with_help("write an endpoint as `node` or `node:iface`, like `r1:eth1`"));
        }
        if self.node(node).is_none() {
            let names = self.nodes.iter().map(|n| n.name.as_str());
            let help = match did_you_mean(node, names) {
                Some(close) => format!("did you mean `{close}`?"),
                None if self.nodes.is_empty() => {
                    "define nodes under `nodes:` or `generate:`".into()
                }
                None => {
                    let known: Vec<&str> =
                        self.nodes.iter().take(8).map(|n| n.name.as_str()).collect();
                    let more = if self.nodes.len() > 8 { ", …" } else { "" };
                    format!(
                        "define it under `nodes:`; known nodes: {}{more}",
                        known.join(", ")
                    )
                }
            };
            let node_at = self.ctx.sub_span(at, text, 0, node.len());
            return Err(self
                .ctx
                .error(
                    ErrorKind::UnknownNode,
                    node_at,
                    format!("unknown node `{node}`"),
                )
                .with_help(help));
        }
        if let Some(iface) = iface {
            let iface_at = self.ctx.sub_span(at, text, node.len() + 1, iface.len());
            check_iface_name(iface).map_err(|problem| match problem {
                IfaceProblem::TooLong(msg) => self
                    .ctx
                    .error(ErrorKind::IfaceNameTooLong, iface_at, msg)
                    .with_help("shorten it, like `eth1` or `to-r2`"),
                IfaceProblem::Invalid(msg) => self
                    .ctx
                    .error(ErrorKind::BadName, iface_at, msg)
                    .with_help("interface names are up to 15 bytes without `/`, `:`, `%` or spaces, and not a reserved name (`lo`, `all`, `default`, `ifb<N>`), like `eth1`"),
            })?;
        }
        Ok(Endpoint {
            node: node.to_string(),
            iface: iface.map(str::to_string),
            addrs: Vec::new(),
            span: at,
        })
    }

    fn claim_iface(&mut self, end: &Endpoint, raw: &Spanned<String>) -> Result<(), TopologyError> {
        let Some(iface) = &end.iface else {
            return Ok(());
        };
        let key = (end.node.clone(), iface.clone());
        if let Some(first) = self.ifaces.get(&key) {
            let at = self
                .ctx
                .sub_span(end.span, &raw.value, end.node.len() + 1, iface.len());
            return Err(self
                .ctx
                .error(ErrorKind::DuplicateIface, at, format!("interface `{iface}` of `{}` is used twice", end.node))
                .with_help(format!(
                    "it is first used on line {}; name this end differently, or leave the name out to get the next free ethN",
                    first.line
                )));
        }
        self.ifaces.insert(key, end.span);
        Ok(())
    }

    /// `addresses:` of a long-form link, onto its two endpoints.
    fn addresses(
        &self,
        long: &LinkLong,
        a: &mut Endpoint,
        b: &mut Endpoint,
    ) -> Result<(), TopologyError> {
        let Some(entries) = &long.addresses else {
            return Ok(());
        };
        let mut spans: Vec<(bool, IpNet, Span)> = Vec::new(); // (is_a, address, where)
        for (key, list) in &entries.0 {
            let is_a = key.value == a.node;
            if !is_a && key.value != b.node {
                return Err(self
                    .ctx
                    .error(
                        ErrorKind::BadAddress,
                        span(key),
                        format!("`{}` is not an endpoint of this link", key.value),
                    )
                    .with_help(format!(
                        "addresses are keyed by this link's endpoints: `{}` or `{}`",
                        a.node, b.node
                    )));
            }
            if self.node(&key.value).is_some_and(|n| !n.kind.is_l3()) {
                return Err(self
                    .ctx
                    .error(ErrorKind::BadAddress, span(key), format!("switch `{}` cannot have an address", key.value))
                    .with_help("switch ports are bridged and carry no addresses; address the host or router end"));
            }
            let end = if is_a { &mut *a } else { &mut *b };
            for (text, at) in str_items(list) {
                let net = parse_iface_addr(&text).map_err(|help| {
                    self.ctx
                        .error(ErrorKind::BadAddress, at, format!("bad address `{text}`"))
                        .with_help(help)
                })?;
                if let Some(same) = end
                    .addrs
                    .iter()
                    .find(|x| x.addr().is_ipv4() == net.addr().is_ipv4())
                {
                    let family = if net.addr().is_ipv4() { "IPv4" } else { "IPv6" };
                    return Err(self
                        .ctx
                        .error(
                            ErrorKind::BadAddress,
                            at,
                            format!(
                                "`{}` already has an {family} address on this link (`{same}`)",
                                end.node
                            ),
                        )
                        .with_help("give each endpoint at most one address per family"));
                }
                end.addrs.push(net);
                spans.push((is_a, net, at));
            }
        }
        // Both ends of one family share a subnet; report at whichever was written later.
        for (x_is_a, x, x_at) in &spans {
            for (y_is_a, y, y_at) in &spans {
                if !x_is_a || *y_is_a || x.addr().is_ipv4() != y.addr().is_ipv4() {
                    continue;
                }
                let (first, second, at) = if y_at.offset > x_at.offset {
                    (x, y, *y_at)
                } else {
                    (y, x, *x_at)
                };
                if x.addr() == y.addr() {
                    return Err(self
                        .ctx
                        .error(
                            ErrorKind::BadAddress,
                            at,
                            format!("both ends of the link have address `{}`", x.addr()),
                        )
                        .with_help("give each end its own address in the shared subnet"));
                }
                if x.trunc() != y.trunc() {
                    return Err(self
                        .ctx
                        .error(
                            ErrorKind::BadAddress,
                            at,
                            format!("`{second}` is not in the same subnet as `{first}`"),
                        )
                        .with_help(format!(
                            "both ends of a link share one subnet, here `{}`",
                            first.trunc()
                        )));
                }
            }
        }
        Ok(())
    }
}
