//! Mininet topology strings (`mn --topo tree,2,3`) as topolab generators.
//!
//! The string is `NAME[,ARG…]`, each argument a whole number, positional or `key=value`
//! with Mininet's parameter names. Each one becomes one `generate:` entry:
//!
//! | Mininet string             | Mininet class      | topolab generator                  |
//! |----------------------------|--------------------|------------------------------------|
//! | `minimal`                  | `MinimalTopo`      | `star: {hosts: 2}`                 |
//! | `single[,k]` (2)           | `SingleSwitchTopo` | `star: {hosts: k}`                 |
//! | `linear[,k[,n]]` (2, 1)    | `LinearTopo`       | `linear: {switches: k, hosts_per_switch: n}` |
//! | `tree[,depth[,fanout]]` (1, 2) | `TreeTopo`     | `tree: {depth, fanout}`            |
//! | `torus,x,y[,n]` (n 1)      | `TorusTopo`        | `torus: {x, y, hosts_per_switch: n}` |
//!
//! Names and order are Mininet's (see `generate.rs`), so `h1`, `s1`… are where a Mininet
//! user expects them. Errors point at the offending part of the string (line 1).

use super::{Doc, err};
use crate::topology::error::{ErrorKind, TopologyError};
use crate::topology::model::{Source, Span};

/// One Mininet topology: its parameters (name, default, least value) in order.
struct Known {
    name: &'static str,
    generator: &'static str,
    params: &'static [(&'static str, Option<u64>, u64)],
    /// topolab's key for each parameter, in the same order.
    keys: &'static [&'static str],
}

const KNOWN: &[Known] = &[
    Known {
        name: "minimal",
        generator: "star",
        params: &[],
        keys: &[],
    },
    Known {
        name: "single",
        generator: "star",
        params: &[("k", Some(2), 1)],
        keys: &["hosts"],
    },
    Known {
        name: "linear",
        generator: "linear",
        params: &[("k", Some(2), 1), ("n", Some(1), 1)],
        keys: &["switches", "hosts_per_switch"],
    },
    Known {
        name: "tree",
        generator: "tree",
        params: &[("depth", Some(1), 1), ("fanout", Some(2), 1)],
        keys: &["depth", "fanout"],
    },
    Known {
        name: "torus",
        generator: "torus",
        params: &[("x", None, 3), ("y", None, 3), ("n", Some(1), 1)],
        keys: &["x", "y", "hosts_per_switch"],
    },
];

/// The Mininet topology names this reads.
pub const NAMES: &[&str] = &["minimal", "single", "linear", "tree", "torus"];

/// Largest argument accepted (a generator checks the total size itself).
const MAX_ARG: u64 = 1_000_000;

/// Reads a Mininet topology string (the whole of `source.text`).
pub(crate) fn read(source: &Source) -> Result<Doc, TopologyError> {
    let text: &str = &source.text;
    let at = |offset: usize, len: usize| super::span_at(text, offset, len);
    let whole = at(0, text.len());
    if text.contains('\n') || text.trim().is_empty() {
        return Err(err(
            source,
            ErrorKind::Syntax,
            whole,
            "a Mininet topology string is one line like `tree,2,3`",
            names_help(),
        ));
    }
    // (text, offset) of each comma-separated part.
    let mut parts = Vec::new();
    let mut offset = 0;
    for part in text.split(',') {
        parts.push((part, offset));
        offset += part.len() + 1;
    }
    let (name, name_off) = parts[0];
    let known = KNOWN
        .iter()
        .find(|k| k.name == name.trim())
        .ok_or_else(|| {
            err(
                source,
                ErrorKind::BadValue,
                at(name_off, name.len()),
                format!("unknown Mininet topology `{}`", name.trim()),
                names_help(),
            )
        })?;
    let mut values: Vec<Option<(u64, Span)>> = vec![None; known.params.len()];
    for (i, &(part, off)) in parts[1..].iter().enumerate() {
        let here = at(off, part.len());
        let (slot, value, value_off) = match part.split_once('=') {
            Some((key, value)) => {
                let slot = known
                    .params
                    .iter()
                    .position(|(p, _, _)| *p == key.trim())
                    .ok_or_else(|| {
                        err(
                            source,
                            ErrorKind::UnknownKey,
                            here,
                            format!("`{}` has no parameter `{}`", known.name, key.trim()),
                            params_help(known),
                        )
                    })?;
                (slot, value, off + key.len() + 1)
            }
            None if i < known.params.len() => (i, part, off),
            None => {
                return Err(err(
                    source,
                    ErrorKind::BadValue,
                    here,
                    format!(
                        "`{}` takes at most {} argument{}",
                        known.name,
                        known.params.len(),
                        if known.params.len() == 1 { "" } else { "s" }
                    ),
                    params_help(known),
                ));
            }
        };
        let (param, _, least) = known.params[slot];
        let vspan = at(value_off, value.len());
        let n: u64 = value.trim().parse().map_err(|_| {
            err(
                source,
                ErrorKind::BadValue,
                vspan,
                format!("`{param}` must be a whole number, not `{}`", value.trim()),
                params_help(known),
            )
        })?;
        if n < least || n > MAX_ARG {
            return Err(err(
                source,
                ErrorKind::BadValue,
                vspan,
                format!("`{param}` must be {least} to {MAX_ARG}, not {n}"),
                params_help(known),
            ));
        }
        if values[slot].is_some() {
            return Err(err(
                source,
                ErrorKind::DuplicateKey,
                here,
                format!("`{param}` is given twice"),
                params_help(known),
            ));
        }
        values[slot] = Some((n, vspan));
    }
    let mut fields = Vec::new();
    let mut label = vec![known.name.to_string()];
    for (slot, &(param, default, _)) in known.params.iter().enumerate() {
        let n = match (values[slot], default) {
            (Some((n, _)), _) => n,
            (None, Some(d)) => d,
            (None, None) => {
                return Err(err(
                    source,
                    ErrorKind::MissingField,
                    whole,
                    format!("`{}` needs `{param}`", known.name),
                    params_help(known),
                ));
            }
        };
        fields.push(format!("{}: {n}", known.keys[slot]));
        label.push(n.to_string());
    }
    if known.name == "minimal" {
        fields.push("hosts: 2".into());
    }
    Ok(Doc {
        name: label.join("-"),
        name_at: whole,
        generate: vec![(
            format!("{}: {{{}}}", known.generator, fields.join(", ")),
            whole,
        )],
        ..Doc::default()
    })
}

fn names_help() -> String {
    format!(
        "Mininet topologies: {} — like `single,4`, `linear,3`, `tree,2,3`, `torus,3,3`",
        KNOWN.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
    )
}

fn params_help(k: &Known) -> String {
    if k.params.is_empty() {
        return format!("`{}` takes no arguments", k.name);
    }
    let params: Vec<String> = k
        .params
        .iter()
        .map(|(p, d, least)| match d {
            Some(d) => format!("{p} (default {d}, at least {least})"),
            None => format!("{p} (at least {least})"),
        })
        .collect();
    format!(
        "`{}` takes {}, positional or as `name=value`",
        k.name,
        params.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Result<Doc, TopologyError> {
        read(&Source {
            name: "topo".into(),
            text: s.into(),
        })
    }

    fn entry(s: &str) -> (String, String) {
        let d = doc(s).unwrap_or_else(|e| panic!("{s}: {}", e.one_line()));
        (d.name, d.generate[0].0.clone())
    }

    #[test]
    fn names_are_the_known_topologies() {
        let known: Vec<&str> = KNOWN.iter().map(|k| k.name).collect();
        assert_eq!(known, NAMES);
    }

    #[test]
    fn mininet_strings_become_generators() {
        for (s, name, generator) in [
            ("minimal", "minimal", "star: {hosts: 2}"),
            ("single,4", "single-4", "star: {hosts: 4}"),
            ("single", "single-2", "star: {hosts: 2}"),
            (
                "linear,3",
                "linear-3-1",
                "linear: {switches: 3, hosts_per_switch: 1}",
            ),
            (
                "linear,3,2",
                "linear-3-2",
                "linear: {switches: 3, hosts_per_switch: 2}",
            ),
            ("tree,2,3", "tree-2-3", "tree: {depth: 2, fanout: 3}"),
            (
                "tree,fanout=3,depth=2",
                "tree-2-3",
                "tree: {depth: 2, fanout: 3}",
            ),
            ("tree", "tree-1-2", "tree: {depth: 1, fanout: 2}"),
            (
                "torus,3,4",
                "torus-3-4-1",
                "torus: {x: 3, y: 4, hosts_per_switch: 1}",
            ),
        ] {
            assert_eq!(entry(s), (name.to_string(), generator.to_string()), "{s}");
        }
    }

    #[test]
    fn mistakes_point_into_the_string() {
        for (s, message, column) in [
            ("trees,2", "unknown Mininet topology `trees`", 1),
            ("tree,2,x", "`fanout` must be a whole number, not `x`", 8),
            ("tree,2,3,4", "`tree` takes at most 2 arguments", 10),
            ("torus,3", "`torus` needs `y`", 1),
            ("torus,2,3", "`x` must be 3 to 1000000, not 2", 7),
            (
                "linear,k=2,width=3",
                "`linear` has no parameter `width`",
                12,
            ),
            ("linear,2,k=3", "`k` is given twice", 10),
            ("single,-1", "`k` must be a whole number, not `-1`", 8),
            ("", "a Mininet topology string is one line", 1),
        ] {
            let e = doc(s).err().unwrap_or_else(|| panic!("{s} should fail"));
            assert!(e.message().contains(message), "{s}: {}", e.one_line());
            assert_eq!((e.line, e.column), (1, column), "{s}: {}", e.one_line());
            assert!(e.help_text().is_some());
        }
    }
}
