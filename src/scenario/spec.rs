//! The scenario file as written: serde types that mirror the YAML, one to one.
//!
//! Like the topology's `spec.rs`, these types say what *shape* a file may have and nothing
//! more. Every struct denies unknown keys (so a typo gets serde-saphyr's "unknown key" with a
//! "did you mean"), and every value an error may need to point at is [`Spanned`]. Meaning —
//! units, defaults, "exactly one action per step", which expectations fit which action,
//! `${…}` syntax, regexes — is `check.rs`'s business.
//!
//! ```text
//!   YAML text ──serde-saphyr──▶ ScenarioSpec ──check──▶ Scenario (model.rs)
//! ```
//!
//! A step is one flat mapping: the common keys plus one key per action, all optional here,
//! so that the checker can point at a step with no action or two. `expect:` has three
//! shapes (`full`, a list of pairs, a mapping) and a hand-written visitor, because which
//! keys an expectation may have depends on the step's action, which serde cannot see; the
//! mapping form is kept as spanned `(key, value)` pairs for the checker to judge.
//! `topology:` is a path or a whole inline topology; for the inline form only its position
//! is kept here, and the checker cuts its text out of the file.

use std::fmt;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::model::{Family, Protocol};
use crate::topology::spec::{Entries, Scalar};

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: Spanned<String>,
    /// A path (relative to the scenario file), an inline topology, or absent (quickstart).
    pub topology: Option<Spanned<TopologySpec>>,
    pub seed: Option<u64>,
    /// The whole scenario's time limit (default 10m).
    pub timeout: Option<Spanned<Scalar>>,
    pub steps: Spanned<Vec<Spanned<StepSpec>>>,
}

/// `topology:` as written. The inline form's text is cut from the file by the checker.
#[derive(Debug)]
pub enum TopologySpec {
    Path(String),
    Inline,
}

/// The keys that choose a step's action, in the order the hints list them.
pub const ACTIONS: &[&str] = &[
    "ping",
    "pingall",
    "throughput",
    "exec",
    "link",
    "node",
    "wait",
    "capture",
    "openflow",
    "bgp",
    "sleep",
    "parallel",
    "repeat",
];

/// The actions a `during:` event may have.
pub const EVENT_ACTIONS: &[&str] = &[
    "link", "node", "exec", "capture", "openflow", "bgp", "sleep",
];

/// One step: common keys plus (the checker insists) exactly one action key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub name: Option<Spanned<String>>,
    pub timeout: Option<Spanned<Scalar>>,
    pub continue_on_failure: Option<bool>,
    pub during: Option<Spanned<Vec<Spanned<TimedSpec>>>>,
    pub expect: Option<Spanned<ExpectSpec>>,
    pub ping: Option<Spanned<PingSpec>>,
    /// `pingall:` with nothing after it still counts (all defaults).
    #[serde(default, deserialize_with = "present")]
    pub pingall: Option<Spanned<Option<PingallSpec>>>,
    pub throughput: Option<Spanned<ThroughputSpec>>,
    pub exec: Option<Spanned<ExecSpec>>,
    pub link: Option<Spanned<LinkSpec>>,
    pub node: Option<Spanned<NodeSpec>>,
    pub wait: Option<Spanned<WaitSpec>>,
    pub capture: Option<Spanned<CaptureSpec>>,
    pub openflow: Option<Spanned<OpenflowSpec>>,
    pub bgp: Option<Spanned<BgpSpec>>,
    pub sleep: Option<Spanned<Scalar>>,
    pub parallel: Option<Spanned<Vec<Spanned<StepSpec>>>>,
    pub repeat: Option<Spanned<RepeatSpec>>,
}

/// A `during:` event: an offset and one of the event actions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedSpec {
    pub at: Spanned<Scalar>,
    pub link: Option<Spanned<LinkSpec>>,
    pub node: Option<Spanned<NodeSpec>>,
    pub exec: Option<Spanned<ExecSpec>>,
    pub capture: Option<Spanned<CaptureSpec>>,
    pub openflow: Option<Spanned<OpenflowSpec>>,
    pub bgp: Option<Spanned<BgpSpec>>,
    pub sleep: Option<Spanned<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingSpec {
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    pub family: Option<Family>,
    pub count: Option<Spanned<u64>>,
    pub interval: Option<Spanned<Scalar>>,
    pub size: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingallSpec {
    pub family: Option<Family>,
    pub nodes: Option<NodesSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodesSpec {
    Hosts,
    All,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThroughputSpec {
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    pub family: Option<Family>,
    pub protocol: Option<Protocol>,
    pub duration: Option<Spanned<Scalar>>,
    pub streams: Option<Spanned<u64>>,
    pub interval: Option<Spanned<Scalar>>,
    pub congestion: Option<Spanned<String>>,
    /// UDP offered rate.
    pub rate: Option<Spanned<Scalar>>,
    /// UDP datagram payload bytes.
    pub size: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecSpec {
    pub node: Spanned<String>,
    pub cmd: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub a: Spanned<String>,
    pub b: Spanned<String>,
    /// `key` or `a_to_b.key` / `b_to_a.key` → value, as `topolab link … set` words.
    pub set: Option<Spanned<Entries<Spanned<Scalar>>>>,
    pub down: Option<Spanned<bool>>,
    pub up: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub name: Spanned<String>,
    /// One service of the node (default: all of them).
    pub service: Option<Spanned<String>>,
    pub stop: Option<Spanned<bool>>,
    pub start: Option<Spanned<bool>>,
    pub restart: Option<Spanned<bool>>,
    pub kill: Option<Spanned<bool>>,
    pub pause: Option<Spanned<bool>>,
    pub resume: Option<Spanned<bool>>,
}

/// The operations of a `node` step, in the order hints list them.
pub const NODE_OPS: &[&str] = &["stop", "start", "restart", "kill", "pause", "resume"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitSpec {
    pub reachable: Option<Spanned<ReachSpec>>,
    pub tcp_port: Option<Spanned<TcpPortSpec>>,
    pub command: Option<Spanned<ExecSpec>>,
    /// `NODE` (every service of it) or `NODE/SERVICE` is ready.
    pub ready: Option<Spanned<String>>,
    /// An OpenFlow switch's controller connection, a controller's switches, or a flow.
    pub openflow: Option<Spanned<OpenflowWaitSpec>>,
    /// A BGP speaker's sessions established, or a route present or absent.
    pub bgp: Option<Spanned<BgpWaitSpec>>,
    pub every: Option<Spanned<Scalar>>,
}

/// The conditions `wait` knows, in the order hints list them.
pub const CONDITIONS: &[&str] = &[
    "reachable",
    "tcp_port",
    "command",
    "ready",
    "openflow",
    "bgp",
];

/// `wait: {bgp: …}`: `node` and one of `established` (`all`, a number, or peer names)
/// and `route` (a prefix; with `via` and `absent`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BgpWaitSpec {
    pub node: Spanned<String>,
    pub established: Option<Spanned<Established>>,
    pub route: Option<Spanned<String>>,
    /// With `route`: the best path's next hop.
    pub via: Option<Spanned<String>>,
    /// With `route`: wait until there is no such route (default false).
    pub absent: Option<Spanned<bool>>,
}

/// `established:` as written: `all`, a number of sessions, or a list of peers.
#[derive(Debug)]
pub enum Established {
    Word(String),
    Count(i64),
    Peers(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for Established {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Established;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`all`, a number of sessions, or a list of peers")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Established, E> {
                Ok(Established::Word(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Established, E> {
                Ok(Established::Count(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Established, E> {
                Ok(Established::Count(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Established, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    items.push(item);
                }
                Ok(Established::Peers(items))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `bgp` step: originate and/or withdraw prefixes on a running speaker.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BgpSpec {
    pub node: Spanned<String>,
    pub announce: Option<Spanned<Vec<Spanned<String>>>>,
    pub withdraw: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `wait: {openflow: …}`: `node` and one of `connected` (a switch), `switches` (a
/// controller), `flow` (a switch; with `table` and `present`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenflowWaitSpec {
    pub node: Spanned<String>,
    pub connected: Option<Spanned<bool>>,
    pub switches: Option<Spanned<u64>>,
    /// Match fields (ovs-ofctl syntax) a flow's match must include.
    pub flow: Option<Spanned<String>>,
    pub table: Option<Spanned<u64>>,
    /// With `flow`: wait until such a flow exists (default) or until none does.
    pub present: Option<Spanned<bool>>,
}

/// An `openflow` step: edit a switch's flows (ovs-ofctl syntax), one operation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenflowSpec {
    pub node: Spanned<String>,
    pub add: Option<Spanned<String>>,
    pub modify: Option<Spanned<String>>,
    pub delete: Option<Spanned<String>>,
    /// With `modify`/`delete`: only the flow of exactly this match and priority.
    pub strict: Option<Spanned<bool>>,
}

/// The operations of an `openflow` step, in the order hints list them.
pub const OPENFLOW_OPS: &[&str] = &["add", "modify", "delete"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReachSpec {
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    pub family: Option<Family>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpPortSpec {
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    pub port: Spanned<u64>,
    pub family: Option<Family>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSpec {
    pub start: Option<Spanned<String>>,
    pub stop: Option<Spanned<String>>,
    /// `node:iface`; with `start` only.
    pub iface: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatSpec {
    pub times: Spanned<u64>,
    pub steps: Spanned<Vec<Spanned<StepSpec>>>,
}

/// `expect:` in one of its three shapes; which one fits depends on the action.
#[derive(Debug)]
pub enum ExpectSpec {
    /// `expect: full` (pingall).
    Word(String),
    /// `expect: [{from, to, reachable}, …]` (pingall).
    Pairs(Vec<Spanned<PairSpec>>),
    /// `expect: {key: value, …}` (ping, throughput, exec); keys judged by the checker.
    Map(Entries<Spanned<Scalar>>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairSpec {
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    /// Default true.
    pub reachable: Option<bool>,
}

/// For keys whose empty value still means "present" (`pingall:`): always `Some`.
fn present<'de, D, T>(d: D) -> Result<Option<Spanned<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Spanned::<T>::deserialize(d).map(Some)
}

impl<'de> Deserialize<'de> for TopologySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TopologySpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a topology file path, or an inline topology mapping")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TopologySpec, E> {
                Ok(TopologySpec::Path(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<TopologySpec, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(TopologySpec::Inline)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for ExpectSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExpectSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("expectations: a mapping like {loss: 0%}, `full`, or a list of pairs")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExpectSpec, E> {
                Ok(ExpectSpec::Word(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ExpectSpec, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = seq.next_element::<Spanned<PairSpec>>()? {
                    pairs.push(pair);
                }
                Ok(ExpectSpec::Pairs(pairs))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<ExpectSpec, A::Error> {
                Entries::deserialize(MapAccessDeserializer::new(m)).map(ExpectSpec::Map)
            }
        }
        d.deserialize_any(V)
    }
}
