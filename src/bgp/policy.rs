//! Import and export policy: an ordered list of rules, evaluated on one route at a time.
//!
//! ```text
//!  for rule in rules:            (peer rules first, then the speaker's)
//!    if every `match` condition holds:
//!      apply `set`, then: accept → done (route passes) | reject → done (dropped) | none → next rule
//!  no verdict after the last rule: accept
//! ```
//!
//! The YAML form (the `import:`/`export:` keys of `bgp:` and of a neighbor):
//! ```yaml
//! import:
//!   - match: {prefix: ["10.0.0.0/8 le 24", "192.0.2.0/24"], community: ["65000:666"]}
//!     action: reject
//!   - match: {as_path_contains: 65010}
//!     set: {local_pref: 200, community_add: ["65000:1"], as_path_prepend: 2}
//!     action: accept
//! ```

use serde::{Deserialize, Serialize};

/// One rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, rename = "match")]
    pub matches: Match,
    #[serde(default)]
    pub set: Set,
    /// `None`: apply `set` and go on to the next rule.
    #[serde(default)]
    pub action: Option<Verdict>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Accept,
    Reject,
}

/// Conditions; every one present must hold (an empty `Match` matches everything). A list
/// matches when any element does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// `PREFIX[/LEN] [ge N] [le M]`, e.g. `10.0.0.0/8 le 24`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_contains: Option<u32>,
    /// A regular expression over the AS path written as `65001 65002 {65003,65004}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_regex: Option<String>,
    /// `ASN:VALUE` or a well-known name (`no-export`, `no-advertise`, `no-export-subconfed`,
    /// `no-peer`, `blackhole`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<Vec<String>>,
    /// `ASN:DATA1:DATA2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_community: Option<Vec<String>>,
    /// An address or a prefix containing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<Vec<String>>,
    /// The peer's address or name (as in views).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbor: Option<Vec<String>>,
}

/// Changes applied when a rule matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Set {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_add: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_remove: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_replace: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_community_add: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_community_remove: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_community_replace: Option<Vec<String>>,
    /// Prepend our own AS this many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_prepend: Option<u8>,
    /// An address, or `self`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<String>,
}

// ---- compiled form (contract; implementation: helper P) ----

use std::net::IpAddr;

use ipnet::IpNet;

use super::attrs::PathAttrs;

/// Rules checked and parsed (prefix lists, communities, regexes), ready to apply.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    _todo: (),
}

/// Why a rule is wrong: which rule, which field (`match.prefix`, `set.community_add` …),
/// which list item, and what is wrong — `validate` turns it into a line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub rule: usize,
    pub field: &'static str,
    pub item: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rule {}: {}: {}",
            self.rule + 1,
            self.field,
            self.message
        )
    }
}

impl std::error::Error for PolicyError {}

/// What a rule may look at besides the attributes.
#[derive(Debug, Clone, Copy)]
pub struct RouteCtx<'a> {
    pub prefix: IpNet,
    /// The peer the route came from (import) or goes to (export); `None`: local origin.
    pub peer_addr: Option<IpAddr>,
    pub peer_name: &'a str,
    /// Our AS (for `as_path_prepend`).
    pub local_as: u32,
    /// Our address toward the peer (for `next_hop: self`).
    pub local_addr: Option<IpAddr>,
}

impl Policy {
    /// Checks and compiles `rules` (an empty list accepts everything).
    pub fn compile(rules: &[Rule]) -> Result<Policy, PolicyError> {
        if rules.is_empty() {
            return Ok(Policy::default());
        }
        todo!("helper P")
    }

    /// Evaluates the rules on one route, changing `attrs` as `set` says.
    pub fn apply(&self, route: &RouteCtx<'_>, attrs: &mut PathAttrs) -> Verdict {
        let _ = (route, attrs);
        Verdict::Accept // placeholder until helper P lands: every route passes
    }
}
