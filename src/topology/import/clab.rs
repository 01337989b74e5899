//! containerlab files (`*.clab.yml`) as topolab labs.
//!
//! What maps, and how (a containerlab node is a container; a topolab node is a network
//! namespace running this machine's programs):
//!
//! - `name` → the lab name; `topology.nodes` → nodes, in file order. Kind `linux` becomes a
//!   `host`, or a `router` when the node has two links or more (it joins networks, so it
//!   forwards); the label `topolab.kind: host|router` overrides that. Kinds `bridge` and
//!   `ovs-bridge` become a `switch`. Every other kind (`nokia_srlinux`, `ceos`, `vr-*` …)
//!   is a network OS image topolab cannot run: refused at its line and column.
//! - `topology.defaults` and `topology.kinds.<kind>` fill a node's missing `kind`, `image`,
//!   `exec`, `binds` and `labels`, the node's own value first (no merging of lists).
//! - `links[].endpoints: ["n1:eth1", "n2:eth1"]` (or the extended form with `type: veth`
//!   and `{node, interface}` endpoints) → links, interface names kept; `mtu` kept.
//!   Endpoints on containerlab's special nodes (`host`, `mgmt-net`, `macvlan`, …) are
//!   refused.
//! - `exec` → one service `exec` that runs the commands in order once the lab is up; `up`
//!   waits for them and fails if one fails (as containerlab reports a failed exec).
//! - `binds: [SRC:DST[:ro|rw]]` where SRC is a regular file → DST's directory becomes a
//!   private dir of the node and DST a file placed there with SRC's content. A directory
//!   (or a missing) SRC is refused at its line: topolab places single files.
//! - `image`, `group`, `mgmt-ipv4`/`mgmt-ipv6`, `startup-delay`, `image-pull-policy`, the
//!   top-level `prefix`, `mgmt` and `settings`: ignored, with a comment in the output.
//!   Any other key is refused (unknown key) at its line.

use std::path::Path;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::{Doc, DocLink, DocNode, err};
use crate::topology::Limits;
use crate::topology::error::{ErrorKind, TopologyError};
use crate::topology::model::{NodeKind, Source, Span};
use crate::topology::names::{check_iface_name, check_lab_name, check_node_name, did_you_mean};
use crate::topology::parse::{self, FileKind};
use crate::topology::spec::{Entries, Scalar, span};

const CLAB: FileKind = FileKind {
    what: "containerlab file",
    needs_name: "a lab name, like `name: mylab`",
    example_file: "topologies/pair.clab.yml",
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClabFile {
    name: Spanned<String>,
    #[serde(default)]
    prefix: Option<IgnoredAny>,
    #[serde(default)]
    mgmt: Option<IgnoredAny>,
    #[serde(default)]
    settings: Option<IgnoredAny>,
    topology: ClabTopology,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the `IgnoredAny` keys are accepted and ignored
struct ClabTopology {
    #[serde(default)]
    defaults: Option<ClabNode>,
    #[serde(default)]
    kinds: Option<Entries<Option<ClabNode>>>,
    #[serde(default)]
    nodes: Option<Entries<Spanned<Option<ClabNode>>>>,
    #[serde(default)]
    links: Option<Vec<Spanned<ClabLink>>>,
    #[serde(default)]
    groups: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[allow(dead_code)] // the `IgnoredAny` keys are accepted and ignored
struct ClabNode {
    kind: Option<Spanned<String>>,
    image: Option<Spanned<String>>,
    exec: Option<Spanned<Vec<Spanned<String>>>>,
    binds: Option<Spanned<Vec<Spanned<String>>>>,
    labels: Option<Entries<Spanned<Scalar>>>,
    group: Option<IgnoredAny>,
    mgmt_ipv4: Option<IgnoredAny>,
    mgmt_ipv6: Option<IgnoredAny>,
    startup_delay: Option<IgnoredAny>,
    image_pull_policy: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the `IgnoredAny` keys are accepted and ignored
struct ClabLink {
    endpoints: Spanned<Vec<Spanned<Endpoint>>>,
    #[serde(rename = "type", default)]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    mtu: Option<Spanned<u64>>,
    #[serde(default)]
    labels: Option<IgnoredAny>,
    #[serde(default)]
    vars: Option<IgnoredAny>,
}

/// `"n1:eth1"`, or `{node: n1, interface: eth1}` (extended form).
#[derive(Debug)]
enum Endpoint {
    Short(String),
    Long(EndpointLong),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the `IgnoredAny` keys are accepted and ignored
struct EndpointLong {
    node: Spanned<String>,
    #[serde(default)]
    interface: Option<Spanned<String>>,
    #[serde(default)]
    mac: Option<IgnoredAny>,
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Endpoint;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an endpoint like \"n1:eth1\" or {node: n1, interface: eth1}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Endpoint, E> {
                Ok(Endpoint::Short(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Endpoint, A::Error> {
                EndpointLong::deserialize(MapAccessDeserializer::new(m)).map(Endpoint::Long)
            }
        }
        d.deserialize_any(V)
    }
}

/// containerlab's endpoints that are not nodes of the file.
const SPECIAL_NODES: &[&str] = &[
    "host",
    "mgmt-net",
    "macvlan",
    "vxlan",
    "vxlan-stitch",
    "dummy",
];

/// Reads a containerlab file; `base_dir` is where relative bind sources are.
pub(crate) fn read(
    source: &Source,
    base_dir: Option<&Path>,
    limits: Limits,
) -> Result<Doc, TopologyError> {
    let opts = parse::options(limits, parse::MAX_DEPTH);
    let file: ClabFile = serde_saphyr::from_str_with_options(&source.text, opts)
        .map_err(|e| parse::convert(&e, source, &CLAB, limits))?;
    let mut r = Reader {
        source,
        base_dir,
        images: Vec::new(),
        used: Vec::new(),
    };
    let mut doc = Doc {
        name: file.name.value.clone(),
        name_at: span(&file.name),
        ..Doc::default()
    };
    check_lab_name(&file.name.value).map_err(|m| {
        r.error(
            ErrorKind::BadName,
            span(&file.name),
            m,
            "lab names use letters, digits, `_`, `.` and `-`, at most 40 bytes",
        )
    })?;
    for (ignored, what) in [
        (file.prefix.is_some(), "`prefix`"),
        (file.mgmt.is_some(), "`mgmt`"),
        (file.settings.is_some(), "`settings`"),
    ] {
        if ignored {
            doc.notes.push(format!(
                "{what} ignored: topolab names namespaces `<lab>-<node>` and has its own \
                 management network (`mgmt: true`)"
            ));
        }
    }
    let topo = &file.topology;
    let empty = Entries(Vec::new());
    let nodes = topo.nodes.as_ref().unwrap_or(&empty);
    let links = topo.links.as_deref().unwrap_or(&[]);

    // Links first (a `linux` node's kind depends on how many it has).
    let names: Vec<&str> = nodes.0.iter().map(|(k, _)| k.value.as_str()).collect();
    for (key, _) in &nodes.0 {
        check_node_name(&key.value).map_err(|m| {
            r.error(
                ErrorKind::BadName,
                span(key),
                m,
                "node names become namespace names: letters, digits, `_`, `.` and `-`, \
                 at most 32 bytes; rename the node (and its endpoints)",
            )
        })?;
    }
    let mut degree = vec![0usize; names.len()];
    for link in links {
        let l = r.link(link, &names)?;
        for end in [&l.a, &l.b] {
            let node = end.split(':').next().unwrap_or("");
            if let Some(i) = names.iter().position(|n| *n == node) {
                degree[i] += 1;
            }
        }
        doc.links.push(l);
    }
    for (i, (key, node)) in nodes.0.iter().enumerate() {
        doc.nodes.push(r.node(key, node, topo, degree[i])?);
    }
    r.notes(&mut doc);
    Ok(doc)
}

struct Reader<'a> {
    source: &'a Source,
    base_dir: Option<&'a Path>,
    /// Images named by the nodes (ignored), each once, in file order.
    images: Vec<String>,
    /// `node:iface` endpoints seen so far, and where.
    used: Vec<(String, Span)>,
}

/// A node's settings, each from the node, its kind's entry, or the defaults.
struct Resolved<'a> {
    kind: Option<&'a Spanned<String>>,
    image: Option<&'a Spanned<String>>,
    exec: Option<&'a Spanned<Vec<Spanned<String>>>>,
    binds: Option<&'a Spanned<Vec<Spanned<String>>>>,
    labels: Option<&'a Entries<Spanned<Scalar>>>,
}

impl Reader<'_> {
    fn error(
        &self,
        kind: ErrorKind,
        at: Span,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> TopologyError {
        err(self.source, kind, at, message, help)
    }

    fn link(&mut self, link: &Spanned<ClabLink>, names: &[&str]) -> Result<DocLink, TopologyError> {
        let l = &link.value;
        if let Some(t) = &l.kind
            && t.value != "veth"
        {
            return Err(self.error(
                ErrorKind::BadLink,
                span(t),
                format!("containerlab link type `{}` is not supported", t.value),
                "topolab links are veth pairs between nodes of the lab: use `type: veth` \
                 (or the short form `endpoints: [\"n1:eth1\", \"n2:eth1\"]`)",
            ));
        }
        let ends = &l.endpoints.value;
        if ends.len() != 2 {
            return Err(self.error(
                ErrorKind::BadLink,
                span(&l.endpoints),
                format!("a link has exactly two endpoints, not {}", ends.len()),
                "write `endpoints: [\"n1:eth1\", \"n2:eth1\"]`",
            ));
        }
        let a = self.endpoint(&ends[0], names)?;
        let b = self.endpoint(&ends[1], names)?;
        let mut out = DocLink::new(a, b, span(link));
        out.mtu = l.mtu.as_ref().map(|m| m.value);
        Ok(out)
    }

    /// `node:iface` (or `node`), both checked.
    fn endpoint(
        &mut self,
        end: &Spanned<Endpoint>,
        names: &[&str],
    ) -> Result<String, TopologyError> {
        let at = span(end);
        let (node, iface, node_at, iface_at) = match &end.value {
            Endpoint::Short(s) => {
                let (node, iface) = match s.split_once(':') {
                    Some((n, i)) => (n.to_string(), Some(i.to_string())),
                    None => (s.clone(), None),
                };
                let ctx = crate::topology::check::Ctx {
                    source: self.source,
                    base_dir: None,
                };
                let node_at = ctx.sub_span(at, s, 0, node.len());
                let iface_at = match &iface {
                    Some(i) => ctx.sub_span(at, s, node.len() + 1, i.len()),
                    None => at,
                };
                (node, iface, node_at, iface_at)
            }
            Endpoint::Long(l) => (
                l.node.value.clone(),
                l.interface.as_ref().map(|i| i.value.clone()),
                span(&l.node),
                l.interface.as_ref().map_or(at, span),
            ),
        };
        if !names.contains(&node.as_str()) {
            let help = if SPECIAL_NODES.contains(&node.as_str()) {
                format!(
                    "containerlab's `{node}` endpoints reach outside the lab; topolab links \
                     join nodes of the lab (for the machine itself, see `mgmt: {{host: true}}`)"
                )
            } else {
                match did_you_mean(&node, names.iter().copied()) {
                    Some(n) => format!("did you mean `{n}`?"),
                    None => "every endpoint names a node of `topology.nodes`".into(),
                }
            };
            return Err(self.error(
                ErrorKind::UnknownNode,
                node_at,
                format!("unknown node `{node}`"),
                help,
            ));
        }
        match iface {
            None => Ok(node),
            Some(iface) => {
                check_iface_name(&iface).map_err(|p| {
                    let m = match p {
                        crate::topology::names::IfaceProblem::TooLong(m)
                        | crate::topology::names::IfaceProblem::Invalid(m) => m,
                    };
                    self.error(
                        ErrorKind::BadName,
                        iface_at,
                        m,
                        "interface names are at most 15 bytes, without `/`, `:` or spaces",
                    )
                })?;
                let full = format!("{node}:{iface}");
                if let Some((_, first)) = self.used.iter().find(|(u, _)| *u == full) {
                    return Err(self.error(
                        ErrorKind::DuplicateIface,
                        iface_at,
                        format!("interface `{iface}` of `{node}` is used twice"),
                        format!(
                            "it is first used on line {}, column {}; give this end another \
                             interface name",
                            first.line, first.column
                        ),
                    ));
                }
                self.used.push((full.clone(), iface_at));
                Ok(full)
            }
        }
    }

    fn resolve<'t>(&self, node: Option<&'t ClabNode>, topo: &'t ClabTopology) -> Resolved<'t> {
        let defaults = topo.defaults.as_ref();
        let kind = node
            .and_then(|n| n.kind.as_ref())
            .or(defaults.and_then(|d| d.kind.as_ref()));
        let of_kind = kind.and_then(|k| {
            topo.kinds.as_ref().and_then(|ks| {
                ks.0.iter()
                    .find(|(name, _)| name.value == k.value)
                    .and_then(|(_, v)| v.as_ref())
            })
        });
        let levels = [node, of_kind, defaults];
        let pick = |f: &dyn Fn(&'t ClabNode) -> bool| levels.into_iter().flatten().find(|n| f(n));
        Resolved {
            kind,
            image: pick(&|n| n.image.is_some()).and_then(|n| n.image.as_ref()),
            exec: pick(&|n| n.exec.is_some()).and_then(|n| n.exec.as_ref()),
            binds: pick(&|n| n.binds.is_some()).and_then(|n| n.binds.as_ref()),
            labels: pick(&|n| n.labels.is_some()).and_then(|n| n.labels.as_ref()),
        }
    }

    fn node(
        &mut self,
        key: &Spanned<String>,
        node: &Spanned<Option<ClabNode>>,
        topo: &ClabTopology,
        degree: usize,
    ) -> Result<DocNode, TopologyError> {
        let r = self.resolve(node.value.as_ref(), topo);
        let Some(kind) = r.kind else {
            return Err(self.error(
                ErrorKind::MissingField,
                span(key),
                format!("node `{}` has no `kind`", key.value),
                "give it `kind: linux` (or `bridge`), or set `topology.defaults.kind`",
            ));
        };
        let kind_word = kind.value.as_str();
        let topolab_kind = match kind_word {
            "linux" => self.linux_kind(r.labels, degree)?,
            "bridge" | "ovs-bridge" => NodeKind::Switch,
            other => {
                return Err(self.error(
                    ErrorKind::BadValue,
                    span(kind),
                    format!("containerlab kind `{other}` is not supported"),
                    "topolab nodes are network namespaces running this machine's programs, \
                     not containers or network OS images: it imports `linux` (a host, or a \
                     router with two links or more) and `bridge`/`ovs-bridge` (a switch); \
                     use a `linux` node that runs a routing daemon in `exec`, or topolab's \
                     built-in BGP",
                ));
            }
        };
        let mut out = DocNode::new(key.value.clone(), topolab_kind, span(key));
        if let Some(image) = r.image
            && topolab_kind.is_l3()
            && !self.images.contains(&image.value)
        {
            self.images.push(image.value.clone());
        }
        if let Some(exec) = r.exec {
            out.exec = exec.value.iter().map(|c| c.value.clone()).collect();
            out.exec_at = span(exec);
        }
        if let Some(binds) = r.binds {
            for b in &binds.value {
                self.bind(b, &mut out)?;
            }
        }
        Ok(out)
    }

    /// `linux`: a host, or a router with two links or more; the label `topolab.kind` wins.
    fn linux_kind(
        &self,
        labels: Option<&Entries<Spanned<Scalar>>>,
        degree: usize,
    ) -> Result<NodeKind, TopologyError> {
        let label = labels.and_then(|l| l.0.iter().find(|(k, _)| k.value == "topolab.kind"));
        match label {
            None if degree >= 2 => Ok(NodeKind::Router),
            None => Ok(NodeKind::Host),
            Some((_, v)) => match v.value.0.as_str() {
                "host" => Ok(NodeKind::Host),
                "router" => Ok(NodeKind::Router),
                other => Err(self.error(
                    ErrorKind::BadValue,
                    span(v),
                    format!("`topolab.kind: {other}` is not a kind for a `linux` node"),
                    "use `host` or `router`",
                )),
            },
        }
    }

    /// `SRC:DST[:MODE]` with SRC a regular file → a private dir and a placed file.
    fn bind(&self, b: &Spanned<String>, node: &mut DocNode) -> Result<(), TopologyError> {
        let at = span(b);
        let parts: Vec<&str> = b.value.split(':').collect();
        let (src, dst) = match parts.as_slice() {
            [src, dst] | [src, dst, _] if !src.is_empty() && !dst.is_empty() => (*src, *dst),
            _ => {
                return Err(self.error(
                    ErrorKind::BadValue,
                    at,
                    format!("bind `{}` is not `SOURCE:TARGET[:MODE]`", b.value),
                    "like `frr.conf:/etc/frr/frr.conf:ro`",
                ));
            }
        };
        let resolved = match self.base_dir {
            Some(d) => d.join(src),
            None => Path::new(src).to_path_buf(),
        };
        match std::fs::metadata(&resolved) {
            Ok(m) if m.is_file() => {}
            Ok(m) => {
                let what = if m.is_dir() {
                    "a directory"
                } else {
                    "not a regular file"
                };
                return Err(self.error(
                    ErrorKind::BadValue,
                    at,
                    format!("bind source `{src}` is {what}"),
                    "topolab places single files in a node's private dirs: bind each file \
                     (`dir/frr.conf:/etc/frr/frr.conf`)",
                ));
            }
            Err(e) => {
                return Err(self.error(
                    ErrorKind::MissingFile,
                    at,
                    format!("bind source `{src}` cannot be read: {e}"),
                    "bind sources are relative to the containerlab file",
                ));
            }
        }
        let dir = match Path::new(dst).parent().and_then(|p| p.to_str()) {
            Some(d) if !d.is_empty() => d.to_string(),
            _ => dst.to_string(),
        };
        if !node.private_dirs.iter().any(|(d, _)| *d == dir) {
            node.private_dirs.push((dir, at));
        }
        node.files.push((dst.to_string(), src.to_string(), at));
        Ok(())
    }

    /// Notes on what was read but has no meaning here.
    fn notes(&mut self, doc: &mut Doc) {
        if !self.images.is_empty() {
            doc.notes.push(format!(
                "Images ignored ({}): topolab nodes are network namespaces running this \
                 machine's programs, not containers.",
                self.images.join(", ")
            ));
        }
        if doc.nodes.iter().any(|n| !n.exec.is_empty()) {
            doc.notes.push(format!(
                "`exec` runs as the service `{}` once the lab is up; `up` waits for it.",
                super::EXEC_SERVICE
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str) -> Result<Doc, TopologyError> {
        read(
            &Source {
                name: "t.clab.yml".into(),
                text: text.into(),
            },
            None,
            Limits::default(),
        )
    }

    const PAIR: &str = "name: pair
topology:
  defaults:
    kind: linux
  nodes:
    a:
      image: alpine
    r:
      exec: [\"ip link set eth9 up\"]
    b:
    br1:
      kind: bridge
  links:
    - endpoints: [\"a:eth1\", \"r:eth1\"]
    - endpoints: [\"r:eth2\", \"br1:p1\"]
    - type: veth
      mtu: 9000
      endpoints:
        - node: b
          interface: eth1
        - {node: br1, interface: p2}
";

    #[test]
    fn kinds_interfaces_and_exec() {
        let d = read_str(PAIR).unwrap_or_else(|e| panic!("{}", e.one_line()));
        let kinds: Vec<(&str, NodeKind)> =
            d.nodes.iter().map(|n| (n.name.as_str(), n.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("a", NodeKind::Host),
                ("r", NodeKind::Router),
                ("b", NodeKind::Host),
                ("br1", NodeKind::Switch)
            ]
        );
        let links: Vec<(&str, &str)> = d.links.iter().map(|l| (&*l.a, &*l.b)).collect();
        assert_eq!(
            links,
            [
                ("a:eth1", "r:eth1"),
                ("r:eth2", "br1:p1"),
                ("b:eth1", "br1:p2")
            ]
        );
        assert_eq!(d.links[2].mtu, Some(9000));
        assert_eq!(d.nodes[1].exec, ["ip link set eth9 up"]);
        assert!(
            d.notes
                .iter()
                .any(|n| n.contains("Images ignored (alpine)"))
        );
    }

    #[test]
    fn unsupported_kinds_and_hostile_names_are_refused_where_written() {
        for (text, message, at) in [
            (
                "name: x\ntopology:\n  nodes:\n    srl:\n      kind: nokia_srlinux\n",
                "containerlab kind `nokia_srlinux` is not supported",
                (5, 13),
            ),
            (
                "name: x\ntopology:\n  defaults: {kind: ceos}\n  nodes:\n    r1:\n",
                "containerlab kind `ceos` is not supported",
                (3, 20),
            ),
            (
                "name: x\ntopology:\n  nodes:\n    \"../etc\": {kind: linux}\n",
                "must start with a letter or digit",
                (4, 5),
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a/b: {kind: linux}\n",
                "contains `/`",
                (4, 5),
            ),
            (
                "name: x\ntopology:\n  nodes:\n    \"a b\": {kind: linux}\n",
                "contains ` `",
                (4, 5),
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n  links:\n    - endpoints: [\"a:eth1\", \"host:veth0\"]\n",
                "unknown node `host`",
                (6, 30),
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n    b: {kind: linux}\n  links:\n    - endpoints: [\"a:eth1\", \"b:this-is-far-too-long\"]\n",
                "this-is-far-too-long",
                (7, 32),
            ),
            (
                "name: x\ntopology:\n  nodes:\n    a: {kind: linux, env: {A: b}}\n",
                "unknown key `env`",
                (4, 22),
            ),
        ] {
            let e = read_str(text)
                .err()
                .unwrap_or_else(|| panic!("{text}: should fail"));
            assert!(e.message().contains(message), "{}", e.one_line());
            assert_eq!((e.line, e.column), at, "{}", e.one_line());
            assert!(e.help_text().is_some());
        }
        // An endpoint without an interface name is fine (compile picks the next ethN).
        let d = read_str("name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n    b: {kind: linux}\n  links:\n    - endpoints: [a, \"b:eth1\"]\n").unwrap();
        assert_eq!(
            (d.links[0].a.as_str(), d.links[0].b.as_str()),
            ("a", "b:eth1")
        );
        let long = format!(
            "name: x\ntopology:\n  nodes:\n    {}: {{kind: linux}}\n",
            "n".repeat(40)
        );
        let e = read_str(&long).unwrap_err();
        assert!(e.message().contains("the limit is 32"), "{}", e.one_line());
        assert_eq!((e.line, e.column), (4, 5));
    }
}
