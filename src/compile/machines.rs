//! `machines.yaml`: the machines a lab is split over (`topolab plan --machines FILE`).
//!
//! ```yaml
//! machines:
//!   - name: node1          # a label: shown, never a path (any text but empty)
//!     underlay: 10.1.0.1   # IPv4 or IPv6: VXLAN endpoints and the agent's control channel
//!     mtu: 9000            # the underlay's MTU (default 1500, at least 1280)
//!     weight: 2            # capacity share (default 1, at least 1)
//!   - {name: node2, underlay: 10.1.0.2}
//! ```
//!
//! Shard `k` runs on the `k`-th machine; the number of machines is the number of shards.
//! Names are unique, and so are underlay addresses (two shards of one lab on one
//! underlay address would share one VXLAN port and VNIs, which the kernel refuses).
//! Every mistake is a [`TopologyError`] with line and column, like a topology file's
//! (the corpus: `tests/bad_machines/`).

use std::net::IpAddr;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::shard::Machine;
use crate::topology::parse::{self, FileKind};
use crate::topology::spec::span;
use crate::topology::{ErrorKind, Limits, Source, TopologyError};

/// Default underlay MTU of a machine that does not say (Ethernet's).
pub const DEFAULT_MTU: u32 = 1500;

/// Smallest underlay MTU accepted (IPv6's minimum: the underlay may be IPv6).
pub const MIN_MTU: u64 = 1280;

/// Most machines a file may list.
pub const MAX_MACHINES: usize = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MachinesSpec {
    machines: Spanned<Vec<Spanned<MachineSpec>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MachineSpec {
    name: Spanned<String>,
    underlay: Spanned<String>,
    #[serde(default)]
    mtu: Option<Spanned<u64>>,
    #[serde(default)]
    weight: Option<Spanned<u64>>,
}

const MACHINES: FileKind = FileKind {
    what: "machines",
    needs_name: "a `machines:` list, like `machines: [{name: m0, underlay: 10.0.0.1}]`",
    example_file: "README.md (Labs across machines)",
};

/// Reads a machines file (a regular UTF-8 file of bounded size).
pub fn load(path: &std::path::Path) -> Result<Vec<Machine>, TopologyError> {
    let source = Source::read(path)?;
    parse(&source)
}

/// Parses and checks a machines file's text.
pub fn parse(source: &Source) -> Result<Vec<Machine>, TopologyError> {
    let limits = Limits::default();
    let spec: MachinesSpec =
        serde_saphyr::from_str_with_options(&source.text, parse::options(limits, 8))
            .map_err(|e| parse::convert(&e, source, &MACHINES, limits))?;
    let err = |kind, at, msg: String| TopologyError::new(kind, source, at, msg);
    let list = &spec.machines.value;
    if list.is_empty() {
        return Err(err(
            ErrorKind::BadValue,
            span(&spec.machines),
            "no machines: list at least one".into(),
        )
        .with_help("each machine is `{name: NAME, underlay: ADDRESS}`"));
    }
    if list.len() > MAX_MACHINES {
        return Err(err(
            ErrorKind::BadValue,
            span(&spec.machines),
            format!("{} machines; at most {MAX_MACHINES}", list.len()),
        )
        .with_help("split the lab over fewer machines"));
    }
    let mut out: Vec<Machine> = Vec::with_capacity(list.len());
    for m in list {
        let m = &m.value;
        let name = m.name.value.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(err(
                ErrorKind::BadName,
                span(&m.name),
                format!("bad machine name {:?}", m.name.value),
            )
            .with_help("a machine name is a non-empty label without control characters"));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(err(
                ErrorKind::DuplicateName,
                span(&m.name),
                format!("duplicate machine name `{name}`"),
            )
            .with_help("every machine needs its own name"));
        }
        let underlay: IpAddr = m.underlay.value.trim().parse().map_err(|_| {
            err(
                ErrorKind::BadAddress,
                span(&m.underlay),
                format!("bad underlay address `{}`", m.underlay.value),
            )
            .with_help("an IPv4 or IPv6 address without a prefix, like `10.1.0.1`")
        })?;
        if underlay.is_unspecified() || underlay.is_multicast() {
            return Err(err(
                ErrorKind::BadAddress,
                span(&m.underlay),
                format!("underlay address `{underlay}` is not a unicast address"),
            )
            .with_help("the address the machine's agent is reached at, like `10.1.0.1`"));
        }
        if let Some(other) = out.iter().find(|o| o.underlay == underlay) {
            return Err(err(
                ErrorKind::BadAddress,
                span(&m.underlay),
                format!(
                    "underlay address `{underlay}` is already machine `{}`'s",
                    other.name
                ),
            )
            .with_help(
                "every shard needs its own underlay address (two would share one VXLAN port)",
            ));
        }
        let mtu = match &m.mtu {
            None => DEFAULT_MTU,
            Some(v) if (MIN_MTU..=65535).contains(&v.value) => v.value as u32,
            Some(v) => {
                return Err(err(
                    ErrorKind::BadValue,
                    span(v),
                    format!("underlay MTU {} is out of range (1280..=65535)", v.value),
                )
                .with_help("the MTU of the machine's underlay interface, like 1500 or 9000"));
            }
        };
        let weight = match &m.weight {
            None => 1,
            Some(v) if (1..=1_000_000).contains(&v.value) => v.value as u32,
            Some(v) => {
                return Err(err(
                    ErrorKind::BadValue,
                    span(v),
                    format!("machine weight {} is out of range (1..=1000000)", v.value),
                )
                .with_help("a relative capacity: a machine of weight 2 gets twice the nodes"));
            }
        };
        out.push(Machine {
            name: name.to_string(),
            underlay,
            mtu,
            weight,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source {
            name: "machines.yaml".into(),
            text: text.into(),
        }
    }

    #[test]
    fn defaults_and_explicit_values() {
        let m = parse(&src(
            "machines:\n  - {name: a, underlay: 10.1.0.1}\n  - name: b\n    underlay: fd00::2\n    mtu: 9000\n    weight: 3\n",
        ))
        .unwrap();
        assert_eq!(
            m,
            vec![
                Machine {
                    name: "a".into(),
                    underlay: "10.1.0.1".parse().unwrap(),
                    mtu: 1500,
                    weight: 1
                },
                Machine {
                    name: "b".into(),
                    underlay: "fd00::2".parse().unwrap(),
                    mtu: 9000,
                    weight: 3
                },
            ]
        );
    }
}
