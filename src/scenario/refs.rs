//! `${…}` references in scenario strings: the syntax, shared by the checker (which rejects
//! malformed ones with a location) and the runner (which substitutes compiled facts).
//!
//! ```text
//!   "ping -c1 ${h3.ipv4}"  ──parse_template──▶  [Text("ping -c1 "), Ref(Addr{h3, -, ipv4})]
//! ```
//!
//! Forms: `${node.ipv4}`, `${node.ipv6}` (the node's primary address: a router's loopback,
//! a host's first interface), `${node.iface.ipv4}`, `${node.iface.ipv6}` (that interface's
//! address), `${node.mgmt4}`, `${node.mgmt6}` (its management address, on `mgmt0`; the
//! same as `${node.mgmt0.ipv4}`), and `${seed}` (the scenario's seed). `$${` writes a literal `${`; a `$` not
//! followed by `{` is plain text, so shell variables like `$HOME` pass through untouched
//! (write `${HOME}` as `$${HOME}` or `$HOME`).
//!
//! A reference splits at its first and last `.`: `${r1.eth0.100.ipv4}` is node `r1`,
//! interface `eth0.100`. A node whose name contains a `.` therefore cannot be referenced.
//! Which strings are templates: `to:` targets, `cmd:` commands, and the `*_contains`
//! expectations; nothing is resolved here.

use super::model::Family;
use crate::compile::mgmt::MGMT_IFNAME;
use crate::topology::names::{IfaceProblem, check_iface_name, check_node_name};

/// One parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A node's address (`iface: None`: its primary one) in one family.
    Addr {
        node: String,
        iface: Option<String>,
        family: Family,
    },
    /// The scenario's seed.
    Seed,
}

/// A template: literal text and references, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Ref(Reference),
}

/// A malformed reference: where it is in the string (bytes), what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub hint: String,
}

const FORMS: &str = "references look like `${h1.ipv4}`, `${h1.ipv6}`, `${r1.eth1.ipv4}` or \
                     `${seed}`; write `$${` for a literal `${`";

/// Splits `text` into literal text and references (the first malformed one is an error).
pub fn parse_template(text: &str) -> Result<Vec<Piece>, RefError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        let offset = text.len() - rest.len() + dollar;
        literal.push_str(&rest[..dollar]);
        let after = &rest[dollar..];
        if let Some(tail) = after.strip_prefix("$${") {
            literal.push_str("${");
            rest = tail;
        } else if let Some(body) = after.strip_prefix("${") {
            let Some(close) = body.find('}') else {
                return Err(RefError {
                    offset,
                    len: after.len(),
                    message: format!("`{after}` has no closing `}}`"),
                    hint: FORMS.into(),
                });
            };
            let inner = &body[..close];
            let reference = parse_reference(inner).map_err(|(message, hint)| RefError {
                offset,
                len: close + 3,
                message,
                hint,
            })?;
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Ref(reference));
            rest = &body[close + 1..];
        } else {
            literal.push('$');
            rest = &after[1..];
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// The references in `text`, in order.
pub fn references(text: &str) -> Result<Vec<Reference>, RefError> {
    Ok(parse_template(text)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Ref(r) => Some(r),
            Piece::Text(_) => None,
        })
        .collect())
}

/// The inside of `${…}`; errors are (message, hint).
fn parse_reference(inner: &str) -> Result<Reference, (String, String)> {
    let bad = |why: String| (why, FORMS.to_string());
    if inner == "seed" {
        return Ok(Reference::Seed);
    }
    if inner.is_empty() {
        return Err(bad("empty reference `${}`".into()));
    }
    let Some((head, family)) = inner.rsplit_once('.') else {
        return Err(bad(format!(
            "`${{{inner}}}` is not a reference: it needs a node and an address family"
        )));
    };
    let family = match family {
        "ipv4" => Family::Ipv4,
        "ipv6" => Family::Ipv6,
        // `${h1.mgmt4}`: the node's management address (`mgmt0`).
        "mgmt4" | "mgmt6" if !head.contains('.') => {
            check_node_name(head).map_err(|m| bad(format!("`${{{inner}}}`: {m}")))?;
            return Ok(Reference::Addr {
                node: head.to_string(),
                iface: Some(MGMT_IFNAME.to_string()),
                family: if family == "mgmt4" {
                    Family::Ipv4
                } else {
                    Family::Ipv6
                },
            });
        }
        other => {
            return Err((
                format!("`${{{inner}}}`: `{other}` is not an address family"),
                "end a reference with `.ipv4` or `.ipv6`, like `${h1.ipv4}`".into(),
            ));
        }
    };
    let (node, iface) = match head.split_once('.') {
        Some((node, iface)) => (node, Some(iface)),
        None => (head, None),
    };
    check_node_name(node).map_err(|m| bad(format!("`${{{inner}}}`: {m}")))?;
    if let Some(iface) = iface
        && iface != "lo"
    {
        check_iface_name(iface).map_err(|p| match p {
            IfaceProblem::TooLong(m) | IfaceProblem::Invalid(m) => {
                bad(format!("`${{{inner}}}`: {m}"))
            }
        })?;
    }
    Ok(Reference::Addr {
        node: node.to_string(),
        iface: iface.map(str::to_string),
        family,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(node: &str, iface: Option<&str>, family: Family) -> Piece {
        Piece::Ref(Reference::Addr {
            node: node.into(),
            iface: iface.map(Into::into),
            family,
        })
    }

    #[test]
    fn management_addresses() {
        assert_eq!(
            parse_template("${h1.mgmt6}").unwrap(),
            [addr("h1", Some("mgmt0"), Family::Ipv6)]
        );
        assert_eq!(
            parse_template("${h1.mgmt4}").unwrap(),
            parse_template("${h1.mgmt0.ipv4}").unwrap()
        );
        assert!(parse_template("${h1.eth0.mgmt4}").is_err());
    }

    #[test]
    fn forms() {
        assert_eq!(
            parse_template("ping -c1 ${h3.ipv4} && x ${r1.eth1.ipv6}${seed}").unwrap(),
            vec![
                Piece::Text("ping -c1 ".into()),
                addr("h3", None, Family::Ipv4),
                Piece::Text(" && x ".into()),
                addr("r1", Some("eth1"), Family::Ipv6),
                Piece::Ref(Reference::Seed),
            ]
        );
        assert_eq!(
            parse_template("${r1.eth0.100.ipv4}").unwrap(),
            vec![addr("r1", Some("eth0.100"), Family::Ipv4)]
        );
        assert_eq!(
            parse_template("${r1.lo.ipv4}").unwrap(),
            vec![addr("r1", Some("lo"), Family::Ipv4)]
        );
    }

    #[test]
    fn dollars_that_are_not_references() {
        assert_eq!(
            parse_template("echo $HOME $$${x} $").unwrap(),
            vec![Piece::Text("echo $HOME $${x} $".into())]
        );
        assert_eq!(parse_template("").unwrap(), vec![]);
        assert_eq!(references("a $${h1.ipv9} b").unwrap(), vec![]);
    }

    #[test]
    fn malformed_references_say_where() {
        let e = parse_template("ping ${h1.ipv5} x").unwrap_err();
        assert_eq!((e.offset, e.len), (5, 10));
        assert!(e.message.contains("`ipv5` is not an address family"));
        let e = parse_template("a ${h1.ipv4").unwrap_err();
        assert_eq!((e.offset, e.len), (2, 9));
        assert!(e.message.contains("no closing"));
        for bad in [
            "${}",
            "${h1}",
            "${-x.ipv4}",
            "${h1.a/b.ipv4}",
            "${HOME}",
            "${é.ipv4}",
        ] {
            assert!(parse_template(bad).is_err(), "{bad}");
        }
    }
}
