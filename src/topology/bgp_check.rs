//! The `bgp:` key of routers and hosts: the built-in BGP speaker's settings, checked.
//!
//! Rules (what `check` enforces; compile resolves addresses, see `compile::bgp`):
//! - `bgp:` only on `router` and `host` nodes;
//! - `asn` is 1 ..= 4294967295 and not 23456 (AS_TRANS, RFC 6793);
//! - `router_id` is an IPv4 address (default: compiled from the node's addresses);
//! - `neighbors` is `auto`, or a list of peers; the item `auto` in a list adds the
//!   automatic sessions to the explicit ones. A peer has exactly one of `address` (an IP;
//!   `remote_as` required) and `node` (`r2` or `r2:eth1`: a lab node with `bgp:`; its
//!   `remote_as` is the node's `asn`, and an explicit one that disagrees is an error);
//! - `multihop` 1–255, `ttl_security` 1–254 and not both, `password` 1–80 bytes, `port`
//!   1–65535, `families` a non-empty list of `ipv4`/`ipv6` without repeats;
//! - timers in seconds: `hold` 0 or 3–65535 (default 9), `keepalive` below the hold time
//!   (default a third of it), `connect_retry` 1–65535 (default 2); lab-friendly defaults,
//!   so that a failed link ends its session within seconds;
//! - `import` / `export` policies must compile ([`Policy::compile`]); an error points at
//!   the rule, key or list item it is about;
//! - `networks` are prefixes without host bits.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use crate::bgp::config::Afi;
use crate::bgp::policy::{Match, Policy, Rule, Set, Verdict};

use super::check::{Ctx, str_items};
use super::error::{ErrorKind, TopologyError};
use super::model::{Bgp, BgpNeighbor, BgpPeer, Node, NodeKind, Span};
use super::names::{check_node_name, suggestion};
use super::spec::{
    BgpSpec, Entries, NeighborItem, NeighborSpec, NeighborsSpec, PolicyValue, RuleSpec, span,
};

/// Default timers (seconds): fast enough that a lab sees a failed link within seconds.
pub const DEFAULT_HOLD: u16 = 9;
pub const DEFAULT_CONNECT_RETRY: u16 = 2;
/// The BGP port.
pub const BGP_PORT: u16 = 179;
/// AS_TRANS (RFC 6793): never a speaker's own AS.
const AS_TRANS: u64 = 23456;

const MATCH_KEYS: &[&str] = &[
    "prefix",
    "as_path_contains",
    "as_path_regex",
    "community",
    "large_community",
    "next_hop",
    "neighbor",
];
const SET_KEYS: &[&str] = &[
    "local_pref",
    "med",
    "community_add",
    "community_remove",
    "community_replace",
    "large_community_add",
    "large_community_remove",
    "large_community_replace",
    "as_path_prepend",
    "next_hop",
];

/// The `bgp:` key of one written node of `kind`.
pub fn node_key(
    spec: Option<&Spanned<BgpSpec>>,
    kind: NodeKind,
    name: &str,
    ctx: &Ctx<'_>,
) -> Result<Option<Bgp>, TopologyError> {
    let Some(spec) = spec else { return Ok(None) };
    let at = span(spec);
    if !matches!(kind, NodeKind::Router | NodeKind::Host) {
        return Err(ctx
            .error(
                ErrorKind::BadValue,
                at,
                "`bgp` is only valid on routers and hosts",
            )
            .with_help(format!(
                "`{name}` is a {}; remove `bgp` or set `kind: router`",
                kind.word()
            )));
    }
    let b = &spec.value;
    let asn = asn(&b.asn, ctx)?;
    let router_id = match &b.router_id {
        None => None,
        Some(r) => Some(r.value.trim().parse::<Ipv4Addr>().map_err(|_| {
            ctx.error(
                ErrorKind::BadAddress,
                span(r),
                format!("bad router_id `{}`", r.value),
            )
            .with_help("a router ID is an IPv4 address, like `10.255.0.1`")
        })?),
    };
    let (mut auto, mut neighbors) = (false, Vec::new());
    if let Some(n) = &b.neighbors {
        match &n.value {
            NeighborsSpec::Word(w) => {
                auto_word(w, span(n), ctx)?;
                auto = true;
            }
            NeighborsSpec::List(items) => {
                for item in items {
                    match &item.value {
                        NeighborItem::Word(w) => {
                            auto_word(w, span(item), ctx)?;
                            auto = true;
                        }
                        NeighborItem::Peer(p) => {
                            neighbors.push(neighbor(p, span(item), name, ctx)?)
                        }
                    }
                }
            }
        }
    }
    let networks = match &b.networks {
        None => None,
        Some(list) => {
            let mut out = Vec::new();
            for (text, at) in str_items(list) {
                let net = text.trim().parse::<IpNet>().map_err(|_| {
                    ctx.error(ErrorKind::BadAddress, at, format!("bad network `{text}`"))
                        .with_help("a network is a prefix like `10.1.0.0/24` or `fd00:1::/64`")
                })?;
                if net.trunc() != net {
                    return Err(ctx
                        .error(
                            ErrorKind::BadAddress,
                            at,
                            format!("network `{text}` has host bits set"),
                        )
                        .with_help(format!("write the prefix itself: `{}`", net.trunc())));
                }
                out.push(net);
            }
            Some(out)
        }
    };
    let (mut hold, mut keepalive, mut connect_retry) = (DEFAULT_HOLD, None, DEFAULT_CONNECT_RETRY);
    if let Some(t) = &b.timers {
        if let Some(h) = &t.value.hold {
            hold = hold_time(h, ctx)?;
        }
        if let Some(k) = &t.value.keepalive {
            let v = u16::try_from(k.value)
                .ok()
                .filter(|&v| v >= 1 && (hold == 0 || v < hold));
            keepalive = Some(v.ok_or_else(|| {
                ctx.error(
                    ErrorKind::BadValue,
                    span(k),
                    format!("keepalive {} is out of range", k.value),
                )
                .with_help(format!(
                    "the keepalive interval is at least 1 s and below the hold time ({hold} s); \
                     the usual choice is a third of it"
                ))
            })?);
        }
        if let Some(c) = &t.value.connect_retry {
            connect_retry =
                ranged(c, 1, 65535, "connect_retry", "1 and 65535 seconds", ctx)? as u16;
        }
    }
    Ok(Some(Bgp {
        asn,
        router_id,
        router_id_span: b.router_id.as_ref().map(span),
        auto,
        route_reflector: b.route_reflector.as_ref().is_some_and(|r| r.value),
        neighbors,
        networks,
        import: rules(b.import.as_ref(), ctx)?,
        export: rules(b.export.as_ref(), ctx)?,
        hold,
        keepalive,
        connect_retry,
        fib: b.fib.as_ref().is_none_or(|f| f.value),
        span: at,
    }))
}

fn auto_word(w: &str, at: Span, ctx: &Ctx<'_>) -> Result<(), TopologyError> {
    if w == "auto" {
        return Ok(());
    }
    Err(ctx
        .error(
            ErrorKind::BadValue,
            at,
            format!("bad neighbors value `{w}`"),
        )
        .with_help(
            "write `auto`, or a list of peers like `{node: r2}` or `{address: 192.0.2.1, \
             remote_as: 65010}` (the item `auto` adds the automatic sessions)",
        ))
}

fn asn(v: &Spanned<u64>, ctx: &Ctx<'_>) -> Result<u32, TopologyError> {
    match u32::try_from(v.value) {
        Ok(a) if a != 0 && u64::from(a) != AS_TRANS => Ok(a),
        _ => Err(ctx
            .error(
                ErrorKind::BadValue,
                span(v),
                format!("AS number {} is not valid here", v.value),
            )
            .with_help(
                "an AS number is 1 ..= 4294967295 and not 23456 (AS_TRANS); private ASes are \
                 64512–65534 and 4200000000–4294967294",
            )),
    }
}

fn hold_time(v: &Spanned<u64>, ctx: &Ctx<'_>) -> Result<u16, TopologyError> {
    match u16::try_from(v.value) {
        Ok(h) if h == 0 || h >= 3 => Ok(h),
        _ => Err(ctx
            .error(
                ErrorKind::BadValue,
                span(v),
                format!("hold time {} is out of range", v.value),
            )
            .with_help("a hold time is 0 (no keepalives) or 3 to 65535 seconds (RFC 4271 §4.2)")),
    }
}

fn ranged(
    v: &Spanned<u64>,
    lo: u64,
    hi: u64,
    what: &str,
    range: &str,
    ctx: &Ctx<'_>,
) -> Result<u64, TopologyError> {
    if (lo..=hi).contains(&v.value) {
        return Ok(v.value);
    }
    Err(ctx
        .error(
            ErrorKind::BadValue,
            span(v),
            format!("{what} {} is out of range", v.value),
        )
        .with_help(format!("{what} is between {range}")))
}

fn neighbor(
    p: &NeighborSpec,
    at: Span,
    me: &str,
    ctx: &Ctx<'_>,
) -> Result<BgpNeighbor, TopologyError> {
    let (peer, peer_span) = match (&p.address, &p.node) {
        (Some(a), None) => {
            let ip = a.value.trim().parse::<IpAddr>().map_err(|_| {
                ctx.error(
                    ErrorKind::BadAddress,
                    span(a),
                    format!("bad neighbor address `{}`", a.value),
                )
                .with_help("a neighbor address is an IP address, like `10.0.0.2` or `fd00::2`")
            })?;
            if p.remote_as.is_none() {
                return Err(ctx
                    .error(
                        ErrorKind::MissingField,
                        span(a),
                        format!("neighbor `{ip}` needs `remote_as`"),
                    )
                    .with_help("a peer named by address needs its AS: add `remote_as: N`"));
            }
            (BgpPeer::Address(ip), span(a))
        }
        (None, Some(n)) => {
            let whole = span(n);
            let (name, iface) = match n.value.split_once(':') {
                None => (n.value.as_str(), None),
                Some((name, iface)) => {
                    let start = name.len() + 1;
                    let iat = ctx.sub_span(whole, &n.value, start, iface.len());
                    if iface.is_empty() {
                        return Err(ctx
                            .error(ErrorKind::BadName, iat, "empty interface name")
                            .with_help("write `node:iface`, like `r2:eth1`, or just `r2`"));
                    }
                    (name, Some((iface.to_string(), iat)))
                }
            };
            check_node_name(name).map_err(|msg| {
                ctx.error(ErrorKind::BadName, whole, msg)
                    .with_help("name a node of the lab, like `r2` or `r2:eth1`")
            })?;
            if name == me {
                return Err(ctx
                    .error(
                        ErrorKind::BadValue,
                        whole,
                        format!("`{me}` cannot peer with itself"),
                    )
                    .with_help("name another node with `bgp:`"));
            }
            (
                BgpPeer::Node {
                    name: name.to_string(),
                    iface,
                },
                whole,
            )
        }
        (Some(a), Some(_)) => {
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    span(a),
                    "a neighbor has `address` or `node`, not both",
                )
                .with_help("keep `node` for a lab node, `address` for anything else"));
        }
        (None, None) => {
            return Err(ctx
                .error(
                    ErrorKind::MissingField,
                    at,
                    "a neighbor needs `address` or `node`",
                )
                .with_help("write `{node: r2}` or `{address: 192.0.2.1, remote_as: 65010}`"));
        }
    };
    let remote_as = match &p.remote_as {
        Some(r) => Some(asn(r, ctx)?),
        None => None,
    };
    let multihop = match &p.multihop {
        Some(v) => Some(ranged(v, 1, 255, "multihop", "1 and 255 (a TTL)", ctx)? as u8),
        None => None,
    };
    let ttl_security = match &p.ttl_security {
        Some(v) => Some(ranged(v, 1, 254, "ttl_security", "1 and 254 hops", ctx)? as u8),
        None => None,
    };
    if let (Some(_), Some(t)) = (&p.multihop, &p.ttl_security) {
        return Err(ctx
            .error(
                ErrorKind::BadValue,
                span(t),
                "`ttl_security` and `multihop` exclude each other",
            )
            .with_help("GTSM sends TTL 255 itself; keep one of the two"));
    }
    let password = match &p.password {
        Some(pw) if pw.value.is_empty() || pw.value.len() > 80 => {
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    span(pw),
                    "a TCP MD5 password is 1 to 80 bytes",
                )
                .with_help("the kernel's TCP_MD5SIG key holds at most 80 bytes"));
        }
        Some(pw) => Some(pw.value.clone()),
        None => None,
    };
    let families = match &p.families {
        None => None,
        Some(list) => {
            let mut out: Vec<Afi> = Vec::new();
            for f in &list.value {
                let afi = match f.value.as_str() {
                    "ipv4" => Afi::Ipv4,
                    "ipv6" => Afi::Ipv6,
                    other => {
                        return Err(ctx
                            .error(
                                ErrorKind::BadValue,
                                span(f),
                                format!("unknown address family `{other}`"),
                            )
                            .with_help(suggestion(other, &["ipv4", "ipv6"], "families")));
                    }
                };
                if out.contains(&afi) {
                    return Err(ctx
                        .error(
                            ErrorKind::BadValue,
                            span(f),
                            format!("family `{}` is listed twice", f.value),
                        )
                        .with_help("remove the repeated family"));
                }
                out.push(afi);
            }
            if out.is_empty() {
                return Err(ctx
                    .error(ErrorKind::BadValue, span(list), "no address family")
                    .with_help("write `[ipv4]`, `[ipv6]` or `[ipv4, ipv6]`"));
            }
            Some(out)
        }
    };
    let hold_time = match &p.hold_time {
        Some(h) => Some(hold_time(h, ctx)?),
        None => None,
    };
    let port = match &p.port {
        Some(v) => ranged(v, 1, 65535, "port", "1 and 65535", ctx)? as u16,
        None => BGP_PORT,
    };
    let local_address = match &p.local_address {
        None => None,
        Some(a) => Some(a.value.trim().parse::<IpAddr>().map_err(|_| {
            ctx.error(
                ErrorKind::BadAddress,
                span(a),
                format!("bad local_address `{}`", a.value),
            )
            .with_help("an IP address of this node, like `10.0.0.1`")
        })?),
    };
    Ok(BgpNeighbor {
        peer,
        span: peer_span,
        remote_as,
        remote_as_span: p.remote_as.as_ref().map(span),
        passive: p.passive.as_ref().is_some_and(|v| v.value),
        multihop,
        ttl_security,
        password,
        rr_client: p.rr_client.as_ref().is_some_and(|v| v.value),
        next_hop_self: p.next_hop_self.as_ref().is_some_and(|v| v.value),
        families,
        import: rules(p.import.as_ref(), ctx)?,
        export: rules(p.export.as_ref(), ctx)?,
        hold_time,
        port,
        local_address,
    })
}

/// A policy as written → rules, checked by [`Policy::compile`]; every error points at the
/// rule, key or list item it is about.
fn rules(
    spec: Option<&Spanned<Vec<Spanned<RuleSpec>>>>,
    ctx: &Ctx<'_>,
) -> Result<Vec<Rule>, TopologyError> {
    let Some(spec) = spec else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for r in &spec.value {
        let matches: Match = section(r.value.matches.as_ref(), MATCH_KEYS, "match", ctx)?;
        let set: Set = section(r.value.set.as_ref(), SET_KEYS, "set", ctx)?;
        let action = match &r.value.action {
            None => None,
            Some(a) => Some(match a.value.as_str() {
                "accept" => Verdict::Accept,
                "reject" => Verdict::Reject,
                other => {
                    return Err(ctx
                        .error(
                            ErrorKind::BadValue,
                            span(a),
                            format!("unknown action `{other}`"),
                        )
                        .with_help(suggestion(other, &["accept", "reject"], "actions")));
                }
            }),
        };
        out.push(Rule {
            matches,
            set,
            action,
        });
    }
    if let Err(e) = Policy::compile(&out) {
        let rule = spec.value.get(e.rule);
        let at = rule.map_or(span(spec), |r| policy_error_span(r, e.field, e.item));
        return Err(ctx.error(ErrorKind::BadValue, at, e.to_string()).with_help(
            "see the policy form in the docs: `{match: {prefix: [\"10.0.0.0/8 le 24\"]}, \
                 set: {local_pref: 200}, action: accept}`",
        ));
    }
    Ok(out)
}

/// Where a [`crate::bgp::policy::PolicyError`] points: the list item, else the key's value,
/// else the rule.
fn policy_error_span(rule: &Spanned<RuleSpec>, field: &str, item: Option<usize>) -> Span {
    let (section, key) = field.split_once('.').unwrap_or((field, ""));
    let entries = match section {
        "match" => rule.value.matches.as_ref(),
        "set" => rule.value.set.as_ref(),
        "action" => return rule.value.action.as_ref().map_or(span(rule), span),
        _ => None,
    };
    let Some(entries) = entries else {
        return span(rule);
    };
    let Some((_, value)) = entries.value.0.iter().find(|(k, _)| k.value == key) else {
        return span(entries);
    };
    match (&value.value, item) {
        (PolicyValue::Many(items), Some(i)) if i < items.len() => span(&items[i]),
        _ => span(value),
    }
}

/// One `match:` or `set:` mapping → its struct. Each key is read on its own (a string, then
/// a number, then a bool, for a scalar; a list of strings for a list), so a wrong key or
/// value is reported where it is written.
fn section<T: DeserializeOwned + Default>(
    entries: Option<&Spanned<Entries<Spanned<PolicyValue>>>>,
    keys: &[&str],
    what: &str,
    ctx: &Ctx<'_>,
) -> Result<T, TopologyError> {
    let Some(entries) = entries else {
        return Ok(T::default());
    };
    let mut all = Map::new();
    for (key, value) in &entries.value.0 {
        if !keys.contains(&key.value.as_str()) {
            return Err(ctx
                .error(
                    ErrorKind::UnknownKey,
                    span(key),
                    format!("unknown `{what}` key `{}`", key.value),
                )
                .with_help(suggestion(&key.value, keys, &format!("`{what}` keys"))));
        }
        let candidates: Vec<Value> = match &value.value {
            PolicyValue::One(s) => {
                let mut c = vec![Value::String(s.0.clone())];
                if let Ok(n) = s.0.parse::<u64>() {
                    c.push(Value::from(n));
                }
                if let Ok(b) = s.0.parse::<bool>() {
                    c.push(Value::Bool(b));
                }
                // A lone string where a list is expected: a one-item list.
                c.push(Value::Array(vec![Value::String(s.0.clone())]));
                c
            }
            PolicyValue::Many(items) => vec![Value::Array(
                items
                    .iter()
                    .map(|i| Value::String(i.value.0.clone()))
                    .collect(),
            )],
        };
        let mut last_err = String::new(); // the first candidate's: the value as written
        let mut found = None;
        for c in candidates {
            let one = Map::from_iter([(key.value.clone(), c.clone())]);
            match serde_json::from_value::<T>(Value::Object(one)) {
                Ok(_) => {
                    found = Some(c);
                    break;
                }
                Err(e) if last_err.is_empty() => last_err = e.to_string(),
                Err(_) => {}
            }
        }
        let Some(v) = found else {
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    span(value),
                    format!("bad value for `{what}.{}`: {last_err}", key.value),
                )
                .with_help(
                    "see the policy form: prefixes and communities are lists of strings, \
                            `local_pref`, `med` and `as_path_prepend` numbers",
                ));
        };
        all.insert(key.value.clone(), v);
    }
    serde_json::from_value::<T>(Value::Object(all)).map_err(|e| {
        ctx.error(
            ErrorKind::BadValue,
            span(entries),
            format!("bad `{what}`: {e}"),
        )
        .with_help("see the policy form in the docs")
    })
}

/// Lab-wide checks once every node is known: a peer named by node exists and has `bgp:`,
/// and an explicit `remote_as` agrees with that node's `asn`.
pub fn resolve(nodes: &[Node], ctx: &Ctx<'_>) -> Result<(), TopologyError> {
    let by_name: HashMap<&str, &Node> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    for node in nodes {
        let Some(bgp) = &node.bgp else { continue };
        for nb in &bgp.neighbors {
            let BgpPeer::Node { name, .. } = &nb.peer else {
                continue;
            };
            let Some(peer) = by_name.get(name.as_str()) else {
                return Err(ctx
                    .error(
                        ErrorKind::UnknownNode,
                        nb.span,
                        format!("unknown neighbor node `{name}`"),
                    )
                    .with_help(suggestion(name, &names, "nodes")));
            };
            let Some(pb) = &peer.bgp else {
                return Err(ctx
                    .error(
                        ErrorKind::BadValue,
                        nb.span,
                        format!("neighbor `{name}` has no `bgp:`"),
                    )
                    .with_help(format!(
                        "give `{name}` a `bgp: {{asn: N}}`, or peer with it by `address` and \
                         `remote_as` (a speaker you run yourself)"
                    )));
            };
            if let (Some(ras), Some(at)) = (nb.remote_as, nb.remote_as_span)
                && ras != pb.asn
            {
                return Err(ctx
                    .error(
                        ErrorKind::BadValue,
                        at,
                        format!("remote_as {ras} disagrees with `{name}`'s asn {}", pb.asn),
                    )
                    .with_help(format!(
                        "remove `remote_as` (a node peer's AS is its `bgp.asn`), or write {}",
                        pb.asn
                    )));
            }
        }
    }
    Ok(())
}
