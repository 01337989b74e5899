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
//!
//! Matching: a prefix item `P/L [ge N] [le M]` takes routes inside `P/L` whose length is
//! in `N..=M` (neither: exactly `/L`; `ge` alone: up to the family's width; `le` alone:
//! from `L`); the AS-path regex is unanchored over [`as_path_text`]; a community or next
//! hop list holds when any item is present / contains the next hop; `neighbor` compares
//! the peer's address or name. `set` applies in the order local_pref, med, communities
//! (replace, remove, add — an add never duplicates), large communities (the same),
//! prepend (our AS, into the leading AS_SEQUENCE), next hop (`self`: our address toward
//! the peer, unchanged when unknown; a new next hop drops the link-local one).
//! [`Policy::compile`] checks everything once; [`Policy::apply`] cannot fail.

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

// ---- compiled form ----

use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;

use super::attrs::{PathAttrs, community};
use super::codec::{Segment, SegmentKind};

/// Rules checked and parsed (prefix lists, communities, regexes), ready to apply.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<Compiled>,
}

#[derive(Debug, Clone)]
struct Compiled {
    when: Cond,
    set: Change,
    action: Option<Verdict>,
}

/// A compiled [`Match`]: `None` is "any".
#[derive(Debug, Clone, Default)]
struct Cond {
    prefix: Option<Vec<PrefixItem>>,
    as_path_contains: Option<u32>,
    as_path_regex: Option<Regex>,
    community: Option<Vec<u32>>,
    large_community: Option<Vec<[u32; 3]>>,
    next_hop: Option<Vec<IpNet>>,
    neighbor: Option<Vec<Neighbor>>,
}

/// A compiled [`Set`].
#[derive(Debug, Clone, Default)]
struct Change {
    local_pref: Option<u32>,
    med: Option<u32>,
    community_add: Vec<u32>,
    community_remove: Vec<u32>,
    community_replace: Option<Vec<u32>>,
    large_add: Vec<[u32; 3]>,
    large_remove: Vec<[u32; 3]>,
    large_replace: Option<Vec<[u32; 3]>>,
    prepend: u8,
    next_hop: Option<NextHop>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NextHop {
    Addr(IpAddr),
    /// Our address toward the peer.
    Local,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Neighbor {
    Addr(IpAddr),
    Name(String),
}

/// One prefix-list entry: routes inside `net` whose length is in `ge..=le`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixItem {
    pub net: IpNet,
    pub ge: u8,
    pub le: u8,
}

impl PrefixItem {
    /// Parses `PREFIX[/LEN] [ge N] [le M]` (`ge` and `le` at most once each, either order).
    /// Without `ge`/`le` only `PREFIX/LEN` itself matches; `ge` alone means up to the
    /// family's width, `le` alone from LEN on. Host bits past LEN are an error.
    pub fn parse(s: &str) -> Result<PrefixItem, String> {
        let mut words = s.split_whitespace();
        let first = words.next().ok_or("empty prefix")?;
        let net: IpNet = match first.parse::<IpNet>() {
            Ok(n) => n,
            Err(_) => match first.parse::<IpAddr>() {
                Ok(a) => IpNet::from(a),
                Err(_) => return Err(format!("`{first}` is not PREFIX/LEN")),
            },
        };
        if net.trunc() != net {
            return Err(format!(
                "`{first}` has host bits set past /{} (did you mean {}?)",
                net.prefix_len(),
                net.trunc()
            ));
        }
        let max = net.max_prefix_len();
        let (mut ge, mut le) = (None, None);
        while let Some(w) = words.next() {
            let slot = match w {
                "ge" => &mut ge,
                "le" => &mut le,
                other => return Err(format!("unexpected `{other}` (expected `ge N` or `le M`)")),
            };
            if slot.is_some() {
                return Err(format!("`{w}` given twice"));
            }
            let v = words
                .next()
                .ok_or_else(|| format!("`{w}` needs a length"))?;
            let n: u8 = v
                .parse()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("`{w} {v}`: a length is 0..={max} for this family"))?;
            *slot = Some(n);
        }
        let len = net.prefix_len();
        let ge_v = ge.unwrap_or(len);
        let le_v = le.unwrap_or(if ge.is_some() { max } else { len });
        if ge_v < len {
            return Err(format!("`ge {ge_v}` is shorter than the prefix's /{len}"));
        }
        if le_v < ge_v {
            return Err(format!("`le {le_v}` is below `ge {ge_v}`"));
        }
        Ok(PrefixItem {
            net,
            ge: ge_v,
            le: le_v,
        })
    }

    /// Does `p` fall under this entry?
    pub fn matches(&self, p: &IpNet) -> bool {
        let len = p.prefix_len();
        len >= self.ge
            && len <= self.le
            && match (self.net, p) {
                (IpNet::V4(n), IpNet::V4(q)) => n.contains(q),
                (IpNet::V6(n), IpNet::V6(q)) => n.contains(q),
                _ => false,
            }
    }
}

/// Parses a standard community: `ASN:VALUE` (16 bits each) or a well-known name.
pub fn parse_community(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let named = match s.to_ascii_lowercase().as_str() {
        "no-export" => Some(community::NO_EXPORT),
        "no-advertise" => Some(community::NO_ADVERTISE),
        "no-export-subconfed" => Some(community::NO_EXPORT_SUBCONFED),
        "no-peer" => Some(community::NO_PEER),
        "blackhole" => Some(community::BLACKHOLE),
        _ => None,
    };
    if let Some(c) = named {
        return Ok(c);
    }
    let bad = || {
        format!(
            "`{s}` is not ASN:VALUE (0..=65535 each) or a well-known name \
             (no-export, no-advertise, no-export-subconfed, no-peer, blackhole)"
        )
    };
    let (a, v) = s.split_once(':').ok_or_else(bad)?;
    let a: u16 = a.parse().map_err(|_| bad())?;
    let v: u16 = v.parse().map_err(|_| bad())?;
    Ok((u32::from(a) << 16) | u32::from(v))
}

/// Parses a large community `ASN:DATA1:DATA2` (32 bits each).
pub fn parse_large_community(s: &str) -> Result<[u32; 3], String> {
    let s = s.trim();
    let bad = || format!("`{s}` is not ASN:DATA1:DATA2 (0..=4294967295 each)");
    let mut it = s.split(':');
    let mut out = [0u32; 3];
    for slot in &mut out {
        *slot = it.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    }
    if it.next().is_some() {
        return Err(bad());
    }
    Ok(out)
}

/// The AS path as the regex sees it (and views print it): ASes separated by spaces,
/// a SET as `{a,b}`, a confederation sequence as `(a b)`, a confederation set as `[a,b]`.
pub fn as_path_text(path: &[Segment]) -> String {
    let mut out = String::new();
    for s in path {
        if !out.is_empty() {
            out.push(' ');
        }
        let join = |sep: &str| {
            s.asns
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(sep)
        };
        match s.kind {
            SegmentKind::Sequence => out.push_str(&join(" ")),
            SegmentKind::Set => out.push_str(&format!("{{{}}}", join(","))),
            SegmentKind::ConfedSequence => out.push_str(&format!("({})", join(" "))),
            SegmentKind::ConfedSet => out.push_str(&format!("[{}]", join(","))),
        }
    }
    out
}

/// Compiles one list field item by item; an empty list is an error for a `match` field
/// (it could never match).
fn list<T>(
    rule: usize,
    field: &'static str,
    items: &Option<Vec<String>>,
    must_be_nonempty: bool,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<Vec<T>>, PolicyError> {
    let Some(items) = items else {
        return Ok(None);
    };
    if must_be_nonempty && items.is_empty() {
        return Err(PolicyError {
            rule,
            field,
            item: None,
            message: "an empty list matches nothing".into(),
        });
    }
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            parse(s).map_err(|message| PolicyError {
                rule,
                field,
                item: Some(i),
                message,
            })
        })
        .collect::<Result<Vec<T>, _>>()
        .map(Some)
}

fn parse_addr_or_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(a));
    }
    match s.parse::<IpNet>() {
        Ok(n) if n.trunc() == n => Ok(n),
        Ok(n) => Err(format!(
            "`{s}` has host bits set (did you mean {}?)",
            n.trunc()
        )),
        Err(_) => Err(format!("`{s}` is neither an address nor a prefix")),
    }
}

fn parse_neighbor(s: &str) -> Result<Neighbor, String> {
    let s = s.trim();
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok(Neighbor::Addr(a));
    }
    if s.is_empty() || s.chars().any(char::is_whitespace) {
        return Err(format!("`{s}` is neither an address nor a peer name"));
    }
    Ok(Neighbor::Name(s.to_string()))
}

fn compile_rule(i: usize, r: &Rule) -> Result<Compiled, PolicyError> {
    let m = &r.matches;
    let as_path_regex = match &m.as_path_regex {
        None => None,
        Some(re) => Some(Regex::new(re).map_err(|e| PolicyError {
            rule: i,
            field: "match.as_path_regex",
            item: None,
            message: format!("bad regular expression: {e}"),
        })?),
    };
    let when = Cond {
        prefix: list(i, "match.prefix", &m.prefix, true, PrefixItem::parse)?,
        as_path_contains: m.as_path_contains,
        as_path_regex,
        community: list(i, "match.community", &m.community, true, parse_community)?,
        large_community: list(
            i,
            "match.large_community",
            &m.large_community,
            true,
            parse_large_community,
        )?,
        next_hop: list(i, "match.next_hop", &m.next_hop, true, parse_addr_or_net)?,
        neighbor: list(i, "match.neighbor", &m.neighbor, true, parse_neighbor)?,
    };
    let s = &r.set;
    let comms = |field, v| list(i, field, v, false, parse_community);
    let large = |field, v| list(i, field, v, false, parse_large_community);
    let next_hop = match s.next_hop.as_deref().map(str::trim) {
        None => None,
        Some("self") => Some(NextHop::Local),
        Some(a) => Some(NextHop::Addr(a.parse().map_err(|_| PolicyError {
            rule: i,
            field: "set.next_hop",
            item: None,
            message: format!("`{a}` is neither an address nor `self`"),
        })?)),
    };
    let set = Change {
        local_pref: s.local_pref,
        med: s.med,
        community_add: comms("set.community_add", &s.community_add)?.unwrap_or_default(),
        community_remove: comms("set.community_remove", &s.community_remove)?.unwrap_or_default(),
        community_replace: comms("set.community_replace", &s.community_replace)?,
        large_add: large("set.large_community_add", &s.large_community_add)?.unwrap_or_default(),
        large_remove: large("set.large_community_remove", &s.large_community_remove)?
            .unwrap_or_default(),
        large_replace: large("set.large_community_replace", &s.large_community_replace)?,
        prepend: s.as_path_prepend.unwrap_or(0),
        next_hop,
    };
    Ok(Compiled {
        when,
        set,
        action: r.action,
    })
}

impl Cond {
    fn holds(&self, route: &RouteCtx<'_>, attrs: &PathAttrs) -> bool {
        if let Some(items) = &self.prefix
            && !items.iter().any(|p| p.matches(&route.prefix))
        {
            return false;
        }
        if let Some(asn) = self.as_path_contains
            && !attrs.as_path.iter().any(|s| s.asns.contains(&asn))
        {
            return false;
        }
        if let Some(re) = &self.as_path_regex
            && !re.is_match(&as_path_text(&attrs.as_path))
        {
            return false;
        }
        if let Some(cs) = &self.community
            && !cs.iter().any(|c| attrs.communities.contains(c))
        {
            return false;
        }
        if let Some(cs) = &self.large_community
            && !cs.iter().any(|c| attrs.large_communities.contains(c))
        {
            return false;
        }
        if let Some(nets) = &self.next_hop
            && !nets.iter().any(|n| n.contains(&attrs.next_hop))
        {
            return false;
        }
        if let Some(ns) = &self.neighbor {
            let hit = |n: &Neighbor| match n {
                Neighbor::Addr(a) => route.peer_addr == Some(*a),
                Neighbor::Name(s) => !route.peer_name.is_empty() && route.peer_name == s,
            };
            if !ns.iter().any(hit) {
                return false;
            }
        }
        true
    }
}

/// `replace` (when given) becomes the list, then every element of `gone` goes, then each
/// of `add` not already present is appended.
fn edit<T: PartialEq + Copy>(v: &mut Vec<T>, replace: &Option<Vec<T>>, gone: &[T], add: &[T]) {
    if let Some(r) = replace {
        v.clear();
        for x in r {
            if !v.contains(x) {
                v.push(*x);
            }
        }
    }
    if !gone.is_empty() {
        v.retain(|x| !gone.contains(x));
    }
    for x in add {
        if !v.contains(x) {
            v.push(*x);
        }
    }
}

impl Change {
    /// In this order: local_pref, med, communities (replace, remove, add), large
    /// communities (the same), AS-path prepend, next hop.
    fn apply(&self, route: &RouteCtx<'_>, attrs: &mut PathAttrs) {
        if let Some(v) = self.local_pref {
            attrs.local_pref = Some(v);
        }
        if let Some(v) = self.med {
            attrs.med = Some(v);
        }
        edit(
            &mut attrs.communities,
            &self.community_replace,
            &self.community_remove,
            &self.community_add,
        );
        edit(
            &mut attrs.large_communities,
            &self.large_replace,
            &self.large_remove,
            &self.large_add,
        );
        if self.prepend > 0 {
            prepend(&mut attrs.as_path, route.local_as, self.prepend);
        }
        let nh = match self.next_hop {
            Some(NextHop::Addr(a)) => Some(a),
            Some(NextHop::Local) => route.local_addr,
            None => None,
        };
        if let Some(a) = nh {
            attrs.next_hop = a;
            // A link-local next hop beside another router's global one would be wrong.
            attrs.next_hop_link_local = None;
        }
    }
}

/// Prepends `asn` `n` times: into the leading AS_SEQUENCE, or a new one in front.
pub fn prepend(path: &mut Vec<Segment>, asn: u32, n: u8) {
    let add = std::iter::repeat_n(asn, usize::from(n));
    match path.first_mut() {
        Some(s) if s.kind == SegmentKind::Sequence => {
            s.asns.splice(0..0, add);
        }
        _ => path.insert(
            0,
            Segment {
                kind: SegmentKind::Sequence,
                asns: add.collect(),
            },
        ),
    }
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
        let rules = rules
            .iter()
            .enumerate()
            .map(|(i, r)| compile_rule(i, r))
            .collect::<Result<_, _>>()?;
        Ok(Policy { rules })
    }

    /// No rules: every route passes unchanged.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Evaluates the rules on one route, changing `attrs` as `set` says.
    /// Whether `rules` reject every route: a rule that matches everything rejects,
    /// and no rule before it can accept (rules without a verdict only set attributes;
    /// rejecting rules with conditions reject some and pass the rest on).
    pub fn rejects_all(rules: &[Rule]) -> bool {
        for r in rules {
            match r.action {
                None => {}
                Some(Verdict::Accept) => return false,
                Some(Verdict::Reject) if r.matches == Match::default() => return true,
                Some(Verdict::Reject) => {}
            }
        }
        false
    }

    pub fn apply(&self, route: &RouteCtx<'_>, attrs: &mut PathAttrs) -> Verdict {
        for r in &self.rules {
            if !r.when.holds(route, attrs) {
                continue;
            }
            r.set.apply(route, attrs);
            if let Some(v) = r.action {
                return v;
            }
        }
        Verdict::Accept
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
