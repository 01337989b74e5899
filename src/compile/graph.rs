//! Drawings of a topology for `topolab graph`: Graphviz DOT and Mermaid flowcharts.
//!
//! Shapes by kind: hosts are boxes, routers circles (ellipses in DOT), switches
//! 3-D boxes in DOT and hexagons in Mermaid. An edge shows interface names where the
//! topology sets them explicitly (auto names are a compile detail). Links that compile
//! blocks to cut an L2 loop are dashed grey and labelled `blocked`; links with emulation
//! are drawn bold. Nodes and edges follow topology order, so the text is deterministic and
//! diffable. A topology that does not resolve (an unknown endpoint) is drawn without
//! loop blocking rather than refused: drawing is for looking, `validate` is for errors.

use std::fmt::Write;

use super::model::Model;
use crate::topology::{Link, NodeKind, Topology};

/// Graphviz DOT (`graph { … }`, undirected).
pub fn to_dot(t: &Topology) -> String {
    let blocked = blocked_links(t);
    let mut s = String::new();
    let _ = writeln!(s, "graph {} {{", dot_id(&t.name));
    let _ = writeln!(s, "  node [fontname=\"Helvetica\"];");
    for n in &t.nodes {
        let shape = match n.kind {
            NodeKind::Host => "box",
            NodeKind::Router => "ellipse",
            NodeKind::Switch | NodeKind::OfSwitch => "box3d",
            NodeKind::Controller => "octagon",
            NodeKind::Fabric => "point",
        };
        let _ = writeln!(s, "  {} [shape={shape}];", dot_id(&n.name));
    }
    for (i, l) in t.links.iter().enumerate() {
        let mut attrs = Vec::new();
        if let Some(a) = &l.a.iface {
            attrs.push(format!("taillabel={}", dot_id(a)));
        }
        if let Some(b) = &l.b.iface {
            attrs.push(format!("headlabel={}", dot_id(b)));
        }
        if blocked[i] {
            attrs.push("style=dashed, color=gray, label=\"blocked\"".into());
        } else if !l.emulation.is_plain() {
            attrs.push("style=bold".into());
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        let _ = writeln!(
            s,
            "  {} -- {}{attrs};",
            dot_id(&l.a.node),
            dot_id(&l.b.node)
        );
    }
    s.push_str("}\n");
    s
}

/// Mermaid flowchart (`flowchart LR`). Node ids are `n0`, `n1`, … so any name is safe.
pub fn to_mermaid(t: &Topology) -> String {
    let blocked = blocked_links(t);
    let id = |name: &str| {
        t.nodes
            .iter()
            .position(|n| n.name == name)
            .map_or_else(|| format!("x_{}", mermaid_text(name)), |i| format!("n{i}"))
    };
    let mut s = String::from("flowchart LR\n");
    for (i, n) in t.nodes.iter().enumerate() {
        let label = mermaid_text(&n.name);
        let shape = match n.kind {
            NodeKind::Host => format!("[\"{label}\"]"),
            NodeKind::Router => format!("((\"{label}\"))"),
            NodeKind::Switch | NodeKind::OfSwitch => format!("{{{{\"{label}\"}}}}"),
            NodeKind::Controller => format!("[[\"{label}\"]]"),
            NodeKind::Fabric => format!("(\"{label}\")"),
        };
        let _ = writeln!(s, "  n{i}{shape}");
    }
    for (i, l) in t.links.iter().enumerate() {
        let edge = if blocked[i] {
            "-.-"
        } else if !l.emulation.is_plain() {
            "==="
        } else {
            "---"
        };
        let label = edge_label(l, blocked[i]);
        let label = if label.is_empty() {
            String::new()
        } else {
            format!("|\"{}\"|", mermaid_text(&label))
        };
        let _ = writeln!(s, "  {} {edge}{label} {}", id(&l.a.node), id(&l.b.node));
    }
    s
}

fn edge_label(l: &Link, blocked: bool) -> String {
    let mut parts = Vec::new();
    match (&l.a.iface, &l.b.iface) {
        (None, None) => {}
        (a, b) => parts.push(format!(
            "{} – {}",
            a.as_deref().unwrap_or("·"),
            b.as_deref().unwrap_or("·")
        )),
    }
    if blocked {
        parts.push("blocked".into());
    }
    parts.join(" ")
}

fn blocked_links(t: &Topology) -> Vec<bool> {
    Model::new(t).map_or_else(|_| vec![false; t.links.len()], |m| m.blocked)
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::testutil::TopoBuilder;

    fn sample() -> Topology {
        TopoBuilder::new("g")
            .host("h1")
            .router("r1")
            .switch("s1")
            .switch("s2")
            .link("h1:e0", "s1")
            .link("s1", "s2")
            .link("s2", "s1")
            .link("r1", "s2:p9")
            .build()
    }

    #[test]
    fn dot_has_shapes_labels_and_blocked_style() {
        let dot = to_dot(&sample());
        assert_eq!(
            dot,
            "graph \"g\" {\n  node [fontname=\"Helvetica\"];\n  \"h1\" [shape=box];\n  \
             \"r1\" [shape=ellipse];\n  \"s1\" [shape=box3d];\n  \"s2\" [shape=box3d];\n  \
             \"h1\" -- \"s1\" [taillabel=\"e0\"];\n  \"s1\" -- \"s2\";\n  \
             \"s2\" -- \"s1\" [style=dashed, color=gray, label=\"blocked\"];\n  \
             \"r1\" -- \"s2\" [headlabel=\"p9\"];\n}\n"
        );
    }

    #[test]
    fn mermaid_uses_safe_ids_and_styles() {
        let mm = to_mermaid(&sample());
        assert_eq!(
            mm,
            "flowchart LR\n  n0[\"h1\"]\n  n1((\"r1\"))\n  n2{{\"s1\"}}\n  n3{{\"s2\"}}\n  \
             n0 ---|\"e0 – ·\"| n2\n  n2 --- n3\n  n3 -.-|\"blocked\"| n2\n  \
             n1 ---|\"· – p9\"| n3\n"
        );
    }
}
