//! Spec → [`Topology`]: the semantic checks, and generator expansion.
//!
//! `check` walks the spec once, in a fixed order, and stops at the first mistake:
//!
//! ```text
//!   lab name ─▶ defaults ─▶ addressing pools (addressing.rs)
//!   ─▶ written nodes (file order) ─▶ generators (generate.rs; their nodes appended)
//!   ─▶ OpenFlow references and dpids (openflow_check.rs; may turn the management network on)
//!   ─▶ BGP peers named by node (bgp_check.rs)
//!   ─▶ written links (links.rs, emulation.rs) ─▶ generated links (appended)
//! ```
//!
//! Invariants of the result (what `compile` may rely on): node names are unique and valid;
//! every link endpoint names an existing node, no link joins a node to itself; explicit
//! interface names are valid, at most 15 bytes and unique per node; explicit addresses
//! parse, sit on routers or hosts only, at most one per family per endpoint and, when both
//! ends have one, share a subnet; pools are well-formed and disjoint within a family;
//! impairment values are in range; trace files were regular, bounded and valid traces at
//! check time.
//!
//! Generated nodes and links carry the span of their `generate:` entry, so an error that
//! compile finds in them still points at the generator that made them. Every error
//! points at the offending value (a node's name, a link endpoint, the bad number), not
//! at the enclosing mapping.

use std::collections::HashMap;
use std::path::Path;

use serde_saphyr::Spanned;

use super::Limits;
use super::addressing;
use super::bgp_check;
use super::error::{ErrorKind, TopologyError};
use super::generate;
use super::links::{self, LinkChecker};
use super::model::{Defaults, Engine, Link, Node, NodeKind, Openflow, Pin, Source, Span, Topology};
use super::names::{check_lab_name, check_node_name, check_sysctl_key, did_you_mean, suggestion};
use super::node_check;
use super::openflow_check;
use super::service::RoutesMode;
use super::spec::{
    DefaultsSpec, EngineSpec, Entries, GENERATORS, GeneratorKind, GeneratorSpec, NodeKindSpec,
    NodeSpec, Spec, StrList, SwitchKindSpec, span,
};

/// What checks share: the file (for diagnostics) and where relative paths start.
pub struct Ctx<'a> {
    pub source: &'a Source,
    /// Directory of the topology file; `None` means the current directory.
    pub base_dir: Option<&'a Path>,
}

impl Ctx<'_> {
    pub fn error(&self, kind: ErrorKind, span: Span, message: impl Into<String>) -> TopologyError {
        TopologyError::new(kind, self.source, span, message)
    }

    /// The span of byte range `start..start+len` inside the scalar `value` written at
    /// `whole` (plain or quoted), for errors about part of a value (`r1:eth1` → `eth1`).
    /// Falls back to `whole` when the text there is not the value as written.
    pub fn sub_span(&self, whole: Span, value: &str, start: usize, len: usize) -> Span {
        let text = &self.source.text;
        let Some(at) = text.get(whole.offset..) else {
            return whole;
        };
        let skip = if at.starts_with(value) {
            0
        } else if at.starts_with(['"', '\'']) && at[1..].starts_with(value) {
            1
        } else {
            return whole;
        };
        let column = whole.column + skip as u32 + value[..start].chars().count() as u32;
        Span {
            offset: whole.offset + skip + start,
            len,
            line: whole.line,
            column,
        }
    }
}

/// Where a node name came from, for duplicate-name messages.
enum Origin {
    Written,
    Generated { generator: &'static str },
}

/// Checks a parsed spec and builds the validated topology (default [`Limits`]).
pub fn check(
    spec: Spec,
    source: Source,
    base_dir: Option<&Path>,
) -> Result<Topology, TopologyError> {
    check_with(spec, source, base_dir, Limits::default())
}

/// [`check`] within `limits`: the lab's node count is checked before each generator
/// expands, so an oversized lab is refused without being built.
pub fn check_with(
    spec: Spec,
    source: Source,
    base_dir: Option<&Path>,
    limits: Limits,
) -> Result<Topology, TopologyError> {
    let ctx = Ctx {
        source: &source,
        base_dir,
    };
    check_lab_name(&spec.name.value).map_err(|msg| {
        ctx.error(ErrorKind::BadName, span(&spec.name), msg)
            .with_help("lab names use letters, digits, `_`, `.` and `-`, at most 40 bytes")
    })?;
    let defaults = defaults(spec.defaults.as_ref(), &ctx)?;
    let addressing = addressing::check(spec.addressing.as_ref(), &ctx)?;
    let mut mgmt = node_check::mgmt(spec.mgmt.as_ref(), &addressing, &ctx)?;

    let mut nodes: Vec<Node> = Vec::new();
    let mut origins: HashMap<String, (usize, Origin)> = HashMap::new();
    for (name, body) in spec.nodes.iter().flat_map(|n| &n.0) {
        if nodes.len() >= limits.max_nodes {
            return Err(too_many_nodes(&ctx, span(name), nodes.len() + 1, limits));
        }
        let node = written_node(name, body, &defaults, &ctx)?;
        origins.insert(node.name.clone(), (nodes.len(), Origin::Written));
        nodes.push(node);
    }

    let mut generated_links: Vec<Link> = Vec::new();
    for entry in spec.generate.iter().flatten() {
        let (key, kind) = generator_entry(entry, &ctx)?;
        let (shape, size_at) = generate::shape(kind, &ctx)?;
        let total = shape
            .node_count()
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| n.checked_add(nodes.len()));
        if total.is_none_or(|t| t > limits.max_nodes) {
            return Err(too_many_nodes(
                &ctx,
                size_at,
                total.unwrap_or(usize::MAX),
                limits,
            ));
        }
        let (prefix, prefix_span) = generator_prefix(kind, &ctx)?;
        let switch_of = generator_openflow(kind, &ctx)?;
        let at = span(entry);
        let out = shape.expand(&prefix);
        for (name, node_kind) in out.nodes {
            check_node_name(&name).map_err(|msg| {
                ctx.error(ErrorKind::BadName, prefix_span.unwrap_or(at), msg)
                    .with_help(
                        "generated names are the prefix plus `s1`, `h1`, …: shorten the prefix",
                    )
            })?;
            if let Some((index, origin)) = origins.get(&name) {
                return Err(duplicate(
                    &ctx,
                    at,
                    key,
                    &name,
                    &nodes[*index],
                    origin,
                    &prefix,
                ));
            }
            origins.insert(
                name.clone(),
                (nodes.len(), Origin::Generated { generator: key }),
            );
            let bgp = out.bgp.get(&name).copied();
            let mut node = generated_node(name, node_kind, &defaults, at);
            if let Some((asn, rr)) = bgp {
                node.bgp = Some(bgp_check::generated(asn, rr, at));
            }
            if let (NodeKind::Switch, Some(of)) = (node_kind, &switch_of) {
                node.kind = NodeKind::OfSwitch;
                node.openflow = Some(of.clone());
            }
            nodes.push(node);
        }
        generated_links.extend(
            out.links
                .into_iter()
                .map(|(a, b)| links::generated(a, b, at)),
        );
    }

    openflow_check::resolve(&nodes, &ctx)?;
    bgp_check::resolve(&nodes, &ctx)?;
    if let Some(at) = openflow_check::needs_mgmt(&nodes) {
        match (&mgmt, &spec.mgmt) {
            (Some(_), _) => {}
            (None, Some(off)) => {
                return Err(ctx
                    .error(
                        ErrorKind::BadValue,
                        span(off),
                        "OpenFlow switches reach their controller node over the management network",
                    )
                    .with_help(
                        "remove `mgmt: false` (the management network turns on by itself), or \
                         name an external controller as `tcp:IP:PORT`",
                    ));
            }
            (None, None) => mgmt = Some(node_check::mgmt_for_openflow(at, &addressing, &ctx)?),
        }
    }

    let placement = placement(spec.placement.as_ref(), &origins, &nodes, &ctx)?;

    let mut checker = LinkChecker::new(&ctx, &nodes);
    let mut all_links = Vec::new();
    for link in spec.links.iter().flatten() {
        all_links.push(checker.written(link)?);
    }
    all_links.extend(generated_links);

    Ok(Topology {
        name: spec.name.value,
        nodes,
        links: all_links,
        defaults,
        addressing,
        mgmt,
        placement,
        source,
    })
}

/// `placement:` — every key names a node of the lab (written or generated). Shard numbers
/// are range-checked by the planner, which knows how many shards there are.
fn placement(
    spec: Option<&Entries<Spanned<u64>>>,
    origins: &HashMap<String, (usize, Origin)>,
    nodes: &[Node],
    ctx: &Ctx<'_>,
) -> Result<Vec<Pin>, TopologyError> {
    let mut out = Vec::new();
    for (name, shard) in spec.iter().flat_map(|p| &p.0) {
        let Some((node, _)) = origins.get(&name.value) else {
            let names = nodes.iter().map(|n| n.name.as_str());
            return Err(ctx
                .error(
                    ErrorKind::UnknownNode,
                    span(name),
                    format!("unknown node `{}` in `placement`", name.value),
                )
                .with_help(match did_you_mean(&name.value, names) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => "`placement:` keys are names of the lab's nodes, written or \
                             generated"
                        .into(),
                }));
        };
        out.push(Pin {
            node: *node,
            shard: shard.value,
            span: span(shard),
        });
    }
    Ok(out)
}

fn too_many_nodes(ctx: &Ctx<'_>, at: Span, total: usize, limits: Limits) -> TopologyError {
    let count = if total == usize::MAX {
        "more".to_string()
    } else {
        total.to_string()
    };
    ctx.error(
        ErrorKind::BadValue,
        at,
        format!(
            "the lab would have {count} nodes; the limit is {} nodes",
            limits.max_nodes
        ),
    )
    .with_help(format!(
        "make the lab smaller, or raise the limit with `--max-nodes N` \
         (validate, plan, up, test) if this machine can hold {count} namespaces"
    ))
}

fn duplicate(
    ctx: &Ctx<'_>,
    at: Span,
    generator: &str,
    name: &str,
    first: &Node,
    origin: &Origin,
    prefix: &str,
) -> TopologyError {
    let earlier = match origin {
        Origin::Written => format!("which is already defined on line {}", first.span.line),
        Origin::Generated { generator } => {
            format!(
                "which generator `{generator}` on line {} already made",
                first.span.line
            )
        }
    };
    let help = if prefix.is_empty() {
        "give the generator a prefix: `prefix: \"a-\"` makes a-s1, a-h1, …".to_string()
    } else {
        format!("prefix `{prefix}` is not enough here: give the generator another prefix:")
    };
    ctx.error(
        ErrorKind::DuplicateName,
        at,
        format!("duplicate node name: generator `{generator}` makes node `{name}`, {earlier}"),
    )
    .with_help(help)
}

fn defaults(spec: Option<&DefaultsSpec>, ctx: &Ctx<'_>) -> Result<Defaults, TopologyError> {
    let mut out = Defaults {
        mtu: 1500,
        engine: Engine::Auto,
        seed: 1,
        routes: RoutesMode::Static,
    };
    let Some(spec) = spec else { return Ok(out) };
    if let Some(mtu) = &spec.mtu {
        out.mtu = check_mtu(mtu, ctx)?;
    }
    out.engine = spec.engine.map_or(Engine::Auto, engine);
    out.seed = spec.seed.unwrap_or(1);
    out.routes = spec.routes.as_ref().map_or(RoutesMode::Static, |r| r.value);
    Ok(out)
}

pub fn engine(spec: EngineSpec) -> Engine {
    match spec {
        EngineSpec::Auto => Engine::Auto,
        EngineSpec::Kernel => Engine::Kernel,
        EngineSpec::Userspace => Engine::Userspace,
    }
}

/// An MTU in 68..=65535 (IPv4's minimum to the largest veth MTU).
pub fn check_mtu(mtu: &Spanned<u64>, ctx: &Ctx<'_>) -> Result<u32, TopologyError> {
    match u32::try_from(mtu.value) {
        Ok(value @ 68..=65535) => Ok(value),
        _ => Err(ctx
            .error(
                ErrorKind::BadValue,
                span(mtu),
                format!("mtu {} is out of range", mtu.value),
            )
            .with_help("an MTU is between 68 and 65535 bytes")),
    }
}

/// The items of a string-or-list value, each with its own span (a lone string has the
/// span of the whole value).
pub fn str_items(list: &Spanned<StrList>) -> Vec<(String, Span)> {
    match &list.value {
        StrList::One(s) => vec![(s.clone(), span(list))],
        StrList::Many(items) => items.iter().map(|s| (s.value.clone(), span(s))).collect(),
    }
}

fn written_node(
    name: &Spanned<String>,
    body: &Spanned<Option<NodeSpec>>,
    defaults: &Defaults,
    ctx: &Ctx<'_>,
) -> Result<Node, TopologyError> {
    check_node_name(&name.value).map_err(|msg| {
        let help = if name.value.contains(':') {
            "`:` separates node and interface in link endpoints (`r1:eth1`); it cannot be part of a node name"
        } else {
            "node names use letters, digits, `_`, `.` and `-`, start with a letter or digit, at most 32 bytes"
        };
        ctx.error(ErrorKind::BadName, span(name), msg).with_help(help)
    })?;
    let empty = NodeSpec::default();
    let spec = body.value.as_ref().unwrap_or(&empty);
    let kind = match spec.kind.as_ref().map(|k| k.value) {
        None | Some(NodeKindSpec::Host) => NodeKind::Host,
        Some(NodeKindSpec::Router) => NodeKind::Router,
        Some(NodeKindSpec::Switch) => NodeKind::Switch,
        Some(NodeKindSpec::Ofswitch) => NodeKind::OfSwitch,
        Some(NodeKindSpec::Controller) => NodeKind::Controller,
    };
    let kind_word = kind.word();
    let mut node = generated_node(name.value.clone(), kind, defaults, span(name));

    if let Some(stp) = &spec.stp {
        if !kind.has_bridge() {
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    span(stp),
                    "`stp` is only valid on switches",
                )
                .with_help(format!(
                    "`{}` is a {kind_word}; remove `stp` or set `kind: switch`",
                    name.value
                )));
        }
        node.stp = stp.value;
    }
    if let Some(loopback) = &spec.loopback {
        if !kind.is_l3() {
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    span(loopback),
                    "a switch has no loopback address",
                )
                .with_help(
                    "switches are bridges without addresses; put loopbacks on routers or hosts",
                ));
        }
        for (text, at) in str_items(loopback) {
            let net = addressing::parse_host_or_net(&text).map_err(|help| {
                ctx.error(
                    ErrorKind::BadAddress,
                    at,
                    format!("bad loopback address `{text}`"),
                )
                .with_help(help)
            })?;
            if node.loopback.contains(&net) {
                return Err(ctx
                    .error(
                        ErrorKind::BadAddress,
                        at,
                        format!("loopback address `{text}` is listed twice"),
                    )
                    .with_help("remove the repeated address"));
            }
            node.loopback.push(net);
        }
    }
    for (key, value) in spec.sysctl.iter().flat_map(|s| &s.0) {
        check_sysctl_key(&key.value).map_err(|msg| {
            ctx.error(ErrorKind::BadName, span(key), msg).with_help(
                "a node may set only its namespace's network sysctls, written with dots, \
                 like `net.ipv4.tcp_congestion_control`; host-wide ones (`kernel.`, `vm.`, \
                 `fs.`) are not the lab's to change",
            )
        })?;
        node.sysctl.insert(key.value.clone(), value.value.0.clone());
    }
    if let Some(run) = &spec.run {
        node.services = node_check::services(run, ctx)?;
        let reserved = match kind {
            NodeKind::OfSwitch => Some(crate::compile::SWITCH_SERVICE),
            NodeKind::Controller => Some(crate::compile::CONTROLLER_SERVICE),
            _ => None,
        };
        if let Some(r) = reserved
            && node.services.iter().any(|s| s.name == r)
        {
            return Err(ctx
                .error(
                    ErrorKind::DuplicateName,
                    span(run),
                    format!(
                        "service name `{r}` is taken by the node's built-in {kind_word} daemon"
                    ),
                )
                .with_help("give the service another `name:`"));
        }
    }
    if let Some(routes) = &spec.routes {
        node_check::routes_allowed(kind, span(routes), &name.value, ctx)?;
        node.routes = routes.value;
    }
    if let Some(cpu) = &spec.cpu {
        node.limits.cpu = Some(node_check::cpu(cpu, ctx)?);
    }
    if let Some(memory) = &spec.memory {
        node.limits.memory = Some(node_check::memory(memory, ctx)?);
    }
    if let Some(dirs) = &spec.private_dirs {
        node.private_dirs = node_check::private_dirs(dirs, ctx)?;
    }
    if let Some(files) = &spec.files {
        node.files = node_check::files(&files.0, &node.private_dirs, ctx)?;
    }
    node.openflow = openflow_check::node_keys(spec, kind, &name.value, ctx)?;
    node.bgp = bgp_check::node_key(spec.bgp.as_ref(), kind, &name.value, ctx)?;
    if let (Some(_), Some(run)) = (&node.bgp, &spec.run)
        && node
            .services
            .iter()
            .any(|s| s.name == crate::compile::BGP_SERVICE)
    {
        return Err(ctx
            .error(
                ErrorKind::DuplicateName,
                span(run),
                format!(
                    "service name `{}` is taken by the node's built-in BGP speaker",
                    crate::compile::BGP_SERVICE
                ),
            )
            .with_help("give the service another `name:`"));
    }
    Ok(node)
}

fn generated_node(name: String, kind: NodeKind, defaults: &Defaults, span: Span) -> Node {
    Node {
        name,
        kind,
        stp: false,
        services: Vec::new(),
        limits: Default::default(),
        // Switches have no routes; the default applies to the nodes that do.
        routes: if kind.is_l3() {
            defaults.routes
        } else {
            RoutesMode::Static
        },
        private_dirs: Vec::new(),
        files: Vec::new(),
        sysctl: Default::default(),
        loopback: Vec::new(),
        openflow: None,
        bgp: None,
        span,
    }
}

/// The one generator in an entry, after rejecting unknown and extra keys.
fn generator_entry<'s>(
    entry: &'s Spanned<GeneratorSpec>,
    ctx: &Ctx<'_>,
) -> Result<(&'static str, &'s GeneratorKind), TopologyError> {
    for (key, kind) in &entry.value.entries {
        if kind.is_none() {
            return Err(ctx
                .error(
                    ErrorKind::UnknownKey,
                    span(key),
                    format!("unknown generator `{}`", key.value),
                )
                .with_help(suggestion(&key.value, GENERATORS, "generators")));
        }
    }
    match entry.value.entries.as_slice() {
        [] => Err(ctx
            .error(ErrorKind::BadValue, span(entry), "empty generator entry")
            .with_help(format!(
                "write one generator, like `star: {{hosts: 4}}` ({})",
                GENERATORS.join(", ")
            ))),
        [(key, Some(kind))] => {
            let name = GENERATORS
                .iter()
                .find(|g| **g == key.value)
                .copied()
                .unwrap_or("generator");
            Ok((name, kind))
        }
        [_, (second, _), ..] => Err(ctx
            .error(
                ErrorKind::BadValue,
                span(second),
                format!(
                    "a `generate` entry holds exactly one generator; `{}` is a second one",
                    second.value
                ),
            )
            .with_help(format!(
                "start a new list item for it: `- {}: …`",
                second.value
            ))),
        [(_, None)] => unreachable!("unknown keys were rejected above"),
    }
}

/// `switch_kind: ofswitch` (with its `controller:`): the OpenFlow keys its switches get.
fn generator_openflow(
    kind: &GeneratorKind,
    ctx: &Ctx<'_>,
) -> Result<Option<Openflow>, TopologyError> {
    let (switch_kind, controller) = match kind {
        GeneratorKind::Star(s) => (&s.switch_kind, &s.controller),
        GeneratorKind::Linear(s) | GeneratorKind::Ring(s) => (&s.switch_kind, &s.controller),
        GeneratorKind::Tree(s) => (&s.switch_kind, &s.controller),
        GeneratorKind::Torus(s) => (&s.switch_kind, &s.controller),
        GeneratorKind::Fattree(s) => (&s.switch_kind, &s.controller),
        GeneratorKind::Ases(_) => return Ok(None),
    };
    match switch_kind.as_ref().map(|k| k.value) {
        Some(SwitchKindSpec::Ofswitch) => {
            Ok(Some(openflow_check::switch(controller.as_ref(), ctx)?))
        }
        None | Some(SwitchKindSpec::Switch) => match controller {
            Some(c) => Err(ctx
                .error(
                    ErrorKind::BadValue,
                    span(c),
                    "`controller` needs `switch_kind: ofswitch`",
                )
                .with_help(
                    "add `switch_kind: ofswitch` to make the generated switches OpenFlow                      switches, or remove `controller`",
                )),
            None => Ok(None),
        },
    }
}

/// The generator's name prefix (checked) and where it was written.
fn generator_prefix(
    kind: &GeneratorKind,
    ctx: &Ctx<'_>,
) -> Result<(String, Option<Span>), TopologyError> {
    let prefix = match kind {
        GeneratorKind::Star(s) => &s.prefix,
        GeneratorKind::Linear(s) | GeneratorKind::Ring(s) => &s.prefix,
        GeneratorKind::Tree(s) => &s.prefix,
        GeneratorKind::Torus(s) => &s.prefix,
        GeneratorKind::Fattree(s) => &s.prefix,
        GeneratorKind::Ases(s) => &s.prefix,
    };
    let Some(prefix) = prefix else {
        return Ok((String::new(), None));
    };
    if !prefix.value.is_empty() {
        // The prefix starts every name, so it must be a valid start of a node name.
        check_node_name(&prefix.value).map_err(|msg| {
            ctx.error(
                ErrorKind::BadName,
                span(prefix),
                msg.replace("node name", "prefix"),
            )
            .with_help("a prefix uses letters, digits, `_`, `.` and `-`, like `a-`")
        })?;
    }
    Ok((prefix.value.clone(), Some(span(prefix))))
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
