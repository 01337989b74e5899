//! The OpenFlow keys: `controller:`, `dpid:` and `fail_mode:` on `ofswitch` nodes (and on
//! generators with `switch_kind: ofswitch`), `app:` and `listen:` on `controller` nodes.
//!
//! Rules:
//! - each key only on its kind (an error at the value otherwise);
//! - a `controller:` item is `tcp:IP:PORT` (IPv6 as `tcp:[::1]:6653`, port 1–65535) or the
//!   name of a `controller` node of the lab (checked once every node is known);
//! - `dpid` is 1 ..= 2^64−1: decimal, `0x` + up to 16 hex digits, or eight `:`-separated
//!   hex byte pairs; a switch without one gets its position among the lab's `ofswitch`
//!   nodes + 1 ([`dpids`]); two switches with one dpid are an error;
//! - `fail_mode` defaults to `secure` with a controller, `standalone` without;
//! - `app` defaults to `learning`, `listen` to 6653 (1–65535).

use std::collections::HashMap;
use std::net::SocketAddr;

use serde_saphyr::Spanned;

use super::check::{Ctx, str_items};
use super::error::{ErrorKind, TopologyError};
use super::model::{ControllerApp, ControllerRef, FailMode, Node, NodeKind, Openflow, Span};
use super::names::check_node_name;
use super::spec::{NodeSpec, StrList, span};

/// A controller's default port.
pub const DEFAULT_LISTEN: u16 = 6653;

/// The OpenFlow keys of one written node of `kind`.
pub fn node_keys(
    spec: &NodeSpec,
    kind: NodeKind,
    name: &str,
    ctx: &Ctx<'_>,
) -> Result<Option<Openflow>, TopologyError> {
    let only = |at: Span, key: &str, on: NodeKind| {
        ctx.error(
            ErrorKind::BadValue,
            at,
            format!("`{key}` is only valid on {} nodes", on.word()),
        )
        .with_help(format!(
            "`{name}` is a {}; remove `{key}` or set `kind: {}`",
            kind.word(),
            on.word()
        ))
    };
    if kind != NodeKind::OfSwitch {
        if let Some(v) = &spec.controller {
            return Err(only(span(v), "controller", NodeKind::OfSwitch));
        }
        if let Some(v) = &spec.dpid {
            return Err(only(span(v), "dpid", NodeKind::OfSwitch));
        }
        if let Some(v) = &spec.fail_mode {
            return Err(only(span(v), "fail_mode", NodeKind::OfSwitch));
        }
    }
    if kind != NodeKind::Controller {
        if let Some(v) = &spec.app {
            return Err(only(span(v), "app", NodeKind::Controller));
        }
        if let Some(v) = &spec.listen {
            return Err(only(span(v), "listen", NodeKind::Controller));
        }
    }
    match kind {
        NodeKind::OfSwitch => {
            let mut of = switch(spec.controller.as_ref(), ctx)?;
            if let Openflow::Switch {
                dpid,
                dpid_span,
                fail_mode,
                ..
            } = &mut of
            {
                if let Some(v) = &spec.dpid {
                    // As written: YAML reads a number beyond u64 as a float.
                    let at = span(v);
                    let written = ctx
                        .source
                        .text
                        .get(at.offset..at.offset + at.len)
                        .map(|t| t.trim().trim_matches(['"', '\'']))
                        .filter(|t| !t.is_empty())
                        .unwrap_or(&v.value.0);
                    *dpid = Some(parse_dpid(written, at, ctx)?);
                    *dpid_span = Some(span(v));
                }
                if let Some(v) = &spec.fail_mode {
                    *fail_mode = v.value;
                }
            }
            Ok(Some(of))
        }
        NodeKind::Controller => {
            let listen = match &spec.listen {
                None => DEFAULT_LISTEN,
                Some(v) => match u16::try_from(v.value) {
                    Ok(p) if p > 0 => p,
                    _ => {
                        return Err(ctx
                            .error(
                                ErrorKind::BadValue,
                                span(v),
                                format!("listen port {} is out of range", v.value),
                            )
                            .with_help("a TCP port is between 1 and 65535 (default 6653)"));
                    }
                },
            };
            Ok(Some(Openflow::Controller {
                app: spec
                    .app
                    .as_ref()
                    .map_or(ControllerApp::Learning, |a| a.value),
                listen,
            }))
        }
        NodeKind::Host | NodeKind::Router | NodeKind::Switch | NodeKind::Fabric => Ok(None),
    }
}

/// An `ofswitch`'s keys from its `controller:` list (generated switches have only that);
/// no dpid (compiled) and the default fail mode.
pub fn switch(
    controller: Option<&Spanned<StrList>>,
    ctx: &Ctx<'_>,
) -> Result<Openflow, TopologyError> {
    let mut controllers = Vec::new();
    for (text, at) in controller.map(str_items).unwrap_or_default() {
        controllers.push(controller_ref(&text, at, ctx)?);
    }
    let fail_mode = if controllers.is_empty() {
        FailMode::Standalone
    } else {
        FailMode::Secure
    };
    Ok(Openflow::Switch {
        controllers,
        dpid: None,
        dpid_span: None,
        fail_mode,
    })
}

fn controller_ref(text: &str, at: Span, ctx: &Ctx<'_>) -> Result<ControllerRef, TopologyError> {
    if let Some(addr) = text.strip_prefix("tcp:") {
        return match addr.parse::<SocketAddr>() {
            Ok(a) if a.port() != 0 => Ok(ControllerRef::Tcp(a)),
            _ => Err(ctx
                .error(
                    ErrorKind::BadValue,
                    at,
                    format!("bad controller target `{text}`"),
                )
                .with_help(
                    "write `tcp:IP:PORT`, like `tcp:127.0.0.1:6653` or `tcp:[::1]:6653` \
                     (port 1–65535)",
                )),
        };
    }
    check_node_name(text).map_err(|_| {
        ctx.error(
            ErrorKind::BadValue,
            at,
            format!("bad controller target `{text}`"),
        )
        .with_help("name a `controller` node of the lab, or write `tcp:IP:PORT`")
    })?;
    Ok(ControllerRef::Node {
        name: text.to_string(),
        span: at,
    })
}

fn parse_dpid(text: &str, at: Span, ctx: &Ctx<'_>) -> Result<u64, TopologyError> {
    let text = text.trim();
    let parsed = if let Some(hex) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
        if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            None
        } else {
            u64::from_str_radix(hex, 16).ok()
        }
    } else if text.contains(':') {
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() == 8
            && parts
                .iter()
                .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            u64::from_str_radix(&parts.concat(), 16).ok()
        } else {
            None
        }
    } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        match text.parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => return Err(dpid_range(text, at, ctx)),
        }
    } else {
        None
    };
    match parsed {
        Some(0) => Err(dpid_range(text, at, ctx)),
        Some(v) => Ok(v),
        None => Err(ctx
            .error(ErrorKind::BadValue, at, format!("bad dpid `{text}`"))
            .with_help(
                "a dpid is an integer, `0x` and up to 16 hex digits, or eight hex byte \
                 pairs like `00:00:00:00:00:00:00:0a`",
            )),
    }
}

fn dpid_range(text: &str, at: Span, ctx: &Ctx<'_>) -> TopologyError {
    ctx.error(
        ErrorKind::BadValue,
        at,
        format!("dpid `{text}` is out of range"),
    )
    .with_help("a dpid is between 1 and 2^64 − 1 (0xffffffffffffffff)")
}

/// Every node's dpid: `None` for nodes that are not OpenFlow switches; the written one, or
/// the switch's position among the lab's `ofswitch` nodes + 1.
pub fn dpids(nodes: &[Node]) -> Vec<Option<u64>> {
    let mut position = 0u64;
    nodes
        .iter()
        .map(|n| match &n.openflow {
            Some(Openflow::Switch { dpid, .. }) => {
                position += 1;
                Some(dpid.unwrap_or(position))
            }
            _ => None,
        })
        .collect()
}

/// Lab-wide checks once every node is known: controller names resolve to `controller`
/// nodes, dpids are unique.
pub fn resolve(nodes: &[Node], ctx: &Ctx<'_>) -> Result<(), TopologyError> {
    let by_name: HashMap<&str, &Node> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    for node in nodes {
        let Some(Openflow::Switch { controllers, .. }) = &node.openflow else {
            continue;
        };
        for c in controllers {
            let ControllerRef::Node { name, span } = c else {
                continue;
            };
            match by_name.get(name.as_str()) {
                None => {
                    return Err(ctx
                        .error(
                            ErrorKind::UnknownNode,
                            *span,
                            format!("unknown controller node `{name}`"),
                        )
                        .with_help(
                            "name a node of `kind: controller`, or an external controller \
                             as `tcp:IP:PORT`",
                        ));
                }
                Some(n) if n.kind != NodeKind::Controller => {
                    return Err(ctx
                        .error(
                            ErrorKind::BadValue,
                            *span,
                            format!("`{name}` is a {}, not a controller", n.kind.word()),
                        )
                        .with_help(format!(
                            "set `kind: controller` on `{name}`, or name a controller node"
                        )));
                }
                Some(_) => {}
            }
        }
    }
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (i, dpid) in dpids(nodes).into_iter().enumerate() {
        let Some(dpid) = dpid else { continue };
        let Some(first) = seen.insert(dpid, i) else {
            continue;
        };
        // Point at a written dpid: this node's, else the earlier one's.
        let written = |k: usize| match &nodes[k].openflow {
            Some(Openflow::Switch { dpid_span, .. }) => *dpid_span,
            _ => None,
        };
        let (at, other) = match (written(i), written(first)) {
            (Some(at), _) => (at, first),
            (None, Some(at)) => (at, i),
            (None, None) => unreachable!("compiled dpids are distinct positions"),
        };
        let at_node = if other == first { i } else { first };
        return Err(ctx
            .error(
                ErrorKind::DuplicateName,
                at,
                format!(
                    "dpid {dpid:#x} of `{}` is also the dpid of `{}`",
                    nodes[at_node].name, nodes[other].name
                ),
            )
            .with_help(
                "give each ofswitch its own dpid (a switch without `dpid` gets its position \
                 among the lab's ofswitch nodes + 1)",
            ));
    }
    Ok(())
}

/// Where the first `controller:` naming a lab node is, when there is one: the lab then needs
/// its management network (the control channel runs there, never over the data plane).
pub fn needs_mgmt(nodes: &[Node]) -> Option<Span> {
    nodes.iter().find_map(|n| match &n.openflow {
        Some(Openflow::Switch { controllers, .. }) => controllers.iter().find_map(|c| match c {
            ControllerRef::Node { span, .. } => Some(*span),
            ControllerRef::Tcp(_) => None,
        }),
        _ => None,
    })
}
