//! Path attributes as the speaker keeps them: one decoded set per distinct combination,
//! shared (interned) between every prefix that carries it, so a full table costs one
//! `Arc` per route plus one `PathAttrs` per distinct path.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use super::codec::{Aggregator, Origin, Segment};

/// The attributes of one path, decoded. MP_REACH/MP_UNREACH are not here (they carry
/// prefixes); AS4_PATH and AS4_AGGREGATOR are already reconciled into `as_path` and
/// `aggregator` (RFC 6793 §4.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathAttrs {
    pub origin: Origin,
    pub as_path: Vec<Segment>,
    /// NEXT_HOP, or MP_REACH's next hop (global address).
    pub next_hop: IpAddr,
    /// RFC 2545: an IPv6 link-local next hop beside the global one.
    pub next_hop_link_local: Option<std::net::Ipv6Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    /// RFC 1997, in received order.
    pub communities: Vec<u32>,
    /// RFC 8092.
    pub large_communities: Vec<[u32; 3]>,
    /// RFC 4360, as received.
    pub ext_communities: Vec<[u8; 8]>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    /// Optional transitive attributes we do not know: (flags, code, data), passed on with
    /// the PARTIAL bit.
    pub unknown: Vec<(u8, u8, Vec<u8>)>,
}

/// Well-known communities (RFC 1997, RFC 3765, RFC 7999).
pub mod community {
    pub const NO_EXPORT: u32 = 0xFFFF_FF01;
    pub const NO_ADVERTISE: u32 = 0xFFFF_FF02;
    pub const NO_EXPORT_SUBCONFED: u32 = 0xFFFF_FF03;
    pub const NO_PEER: u32 = 0xFFFF_FF04;
    pub const BLACKHOLE: u32 = 0xFFFF_029A;
}

/// What views print for an origin.
pub fn origin_name(o: Origin) -> &'static str {
    match o {
        Origin::Igp => "igp",
        Origin::Egp => "egp",
        Origin::Incomplete => "incomplete",
    }
}

/// A route as views and the JSON control protocol show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteView {
    pub prefix: String,
    pub next_hop: String,
    /// ASes in order, sets as `{a,b}`.
    pub as_path: String,
    pub origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    /// `65000:100`, and the well-known names (`no-export` …).
    pub communities: Vec<String>,
    /// `65000:1:2`.
    pub large_communities: Vec<String>,
    /// The peer it came from (its name), or `local`.
    pub source: String,
    /// Best path in the Loc-RIB.
    pub best: bool,
    /// Seconds since it was received or last changed.
    pub age_s: f64,
}

// ---- conversions between the codec's attribute list and `PathAttrs` ----

use super::codec::{AS_TRANS, Attr, Family, MpReach, MpUnreach, SegmentKind};

/// What [`PathAttrs::from_attrs`] found in one UPDATE's attribute list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The path; `next_hop` is the NEXT_HOP attribute's (unspecified when absent): MP
    /// prefixes take their MP_REACH next hop instead.
    pub attrs: PathAttrs,
    pub reach: Vec<MpReach>,
    pub unreach: Vec<MpUnreach>,
}

/// How many ASes a path counts for RFC 6793 §4.2.3 and the decision process: an AS_SET
/// counts one, confederation segments none.
pub fn as_path_len(path: &[Segment]) -> u32 {
    path.iter()
        .map(|s| match s.kind {
            SegmentKind::Sequence => s.asns.len() as u32,
            SegmentKind::Set => 1,
            SegmentKind::ConfedSequence | SegmentKind::ConfedSet => 0,
        })
        .sum()
}

/// RFC 6793 §4.2.3: the AS path of an UPDATE from a 2-octet speaker, rebuilt from AS_PATH
/// and AS4_PATH. When AS_PATH counts fewer ASes than AS4_PATH, AS4_PATH is ignored;
/// otherwise the leading ASes of AS_PATH that AS4_PATH does not cover are kept in front
/// of AS4_PATH.
pub fn merge_as4_path(as_path: &[Segment], as4_path: &[Segment]) -> Vec<Segment> {
    let n = as_path_len(as_path);
    let n4 = as_path_len(as4_path);
    if n < n4 {
        return as_path.to_vec();
    }
    let mut lead = n - n4;
    let mut out: Vec<Segment> = Vec::new();
    for s in as_path {
        if lead == 0 {
            break;
        }
        match s.kind {
            SegmentKind::Sequence => {
                let take = (lead as usize).min(s.asns.len());
                out.push(Segment {
                    kind: s.kind,
                    asns: s.asns[..take].to_vec(),
                });
                lead -= take as u32;
            }
            SegmentKind::Set => {
                out.push(s.clone());
                lead -= 1;
            }
            SegmentKind::ConfedSequence | SegmentKind::ConfedSet => out.push(s.clone()),
        }
    }
    // Join a trailing leading SEQUENCE with a leading AS4_PATH SEQUENCE.
    let mut rest = as4_path.iter().cloned();
    if let (Some(last), Some(first)) = (out.last_mut(), as4_path.first())
        && last.kind == SegmentKind::Sequence
        && first.kind == SegmentKind::Sequence
    {
        last.asns.extend_from_slice(&first.asns);
        rest.next();
    }
    out.extend(rest);
    out
}

impl PathAttrs {
    /// A path with only the mandatory attributes: ORIGIN, an empty AS_PATH, `next_hop`.
    pub fn new(origin: Origin, next_hop: IpAddr) -> PathAttrs {
        PathAttrs {
            origin,
            as_path: Vec::new(),
            next_hop,
            next_hop_link_local: None,
            med: None,
            local_pref: None,
            atomic_aggregate: false,
            aggregator: None,
            communities: Vec::new(),
            large_communities: Vec::new(),
            ext_communities: Vec::new(),
            originator_id: None,
            cluster_list: Vec::new(),
            unknown: Vec::new(),
        }
    }

    /// Decodes an UPDATE's attribute list (as the codec parsed it). `four_octet_as`: the
    /// session negotiated 4-octet ASes; when it did not, AS4_PATH and AS4_AGGREGATOR are
    /// reconciled into the path (RFC 6793 §4.2.3), and when it did they are ignored (a NEW
    /// speaker never sends them to another).
    pub fn from_attrs(attrs: Vec<Attr>, four_octet_as: bool) -> Decoded {
        let mut p = PathAttrs::new(Origin::Igp, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let (mut as4_path, mut as4_agg) = (None, None);
        let mut reach = Vec::new();
        let mut unreach = Vec::new();
        for a in attrs {
            match a {
                Attr::Origin(o) => p.origin = o,
                Attr::AsPath(s) => p.as_path = s,
                Attr::NextHop(a) => p.next_hop = IpAddr::V4(a),
                Attr::Med(m) => p.med = Some(m),
                Attr::LocalPref(l) => p.local_pref = Some(l),
                Attr::AtomicAggregate => p.atomic_aggregate = true,
                Attr::Aggregator(g) => p.aggregator = Some(g),
                Attr::Communities(c) => p.communities = c,
                Attr::OriginatorId(o) => p.originator_id = Some(o),
                Attr::ClusterList(c) => p.cluster_list = c,
                Attr::MpReach(m) => reach.push(m),
                Attr::MpUnreach(m) => unreach.push(m),
                Attr::ExtendedCommunities(c) => p.ext_communities = c,
                Attr::As4Path(s) => as4_path = Some(s),
                Attr::As4Aggregator(g) => as4_agg = Some(g),
                Attr::LargeCommunities(c) => p.large_communities = c,
                Attr::Unknown { flags, code, data } => p.unknown.push((flags, code, data)),
            }
        }
        if !four_octet_as {
            // §4.2.3: an AGGREGATOR with a real 2-octet AS means a 2-octet speaker
            // aggregated after the path left 4-octet land: AS4_* are stale, ignore both.
            let stale = p.aggregator.is_some_and(|g| g.asn != u32::from(AS_TRANS));
            if !stale {
                if let (Some(g4), Some(g)) = (as4_agg, p.aggregator.as_mut()) {
                    *g = g4;
                }
                if let Some(s4) = as4_path {
                    p.as_path = merge_as4_path(&p.as_path, &s4);
                }
            }
        }
        Decoded {
            attrs: p,
            reach,
            unreach,
        }
    }

    /// The attribute list for an UPDATE of `family` carrying this path, in type-code order,
    /// without MP_REACH_NLRI (which carries the prefixes; the caller adds it with
    /// [`PathAttrs::mp_next_hop`]). IPv4 unicast gets NEXT_HOP when the next hop is IPv4.
    /// Toward a 2-octet peer (`four_octet_as` false), a path or aggregator with an AS that
    /// does not fit 16 bits also gets AS4_PATH / AS4_AGGREGATOR (the codec writes AS_TRANS
    /// in the 2-octet fields).
    pub fn to_attrs(&self, four_octet_as: bool, family: Family) -> Vec<Attr> {
        let big = |a: u32| a > 0xffff;
        let mut v = vec![
            Attr::Origin(self.origin),
            Attr::AsPath(self.as_path.clone()),
        ];
        if family == Family::IPV4_UNICAST
            && let IpAddr::V4(a) = self.next_hop
        {
            v.push(Attr::NextHop(a));
        }
        if let Some(m) = self.med {
            v.push(Attr::Med(m));
        }
        if let Some(l) = self.local_pref {
            v.push(Attr::LocalPref(l));
        }
        if self.atomic_aggregate {
            v.push(Attr::AtomicAggregate);
        }
        if let Some(g) = self.aggregator {
            v.push(Attr::Aggregator(g));
        }
        if !self.communities.is_empty() {
            v.push(Attr::Communities(self.communities.clone()));
        }
        if let Some(o) = self.originator_id {
            v.push(Attr::OriginatorId(o));
        }
        if !self.cluster_list.is_empty() {
            v.push(Attr::ClusterList(self.cluster_list.clone()));
        }
        if !self.ext_communities.is_empty() {
            v.push(Attr::ExtendedCommunities(self.ext_communities.clone()));
        }
        if !four_octet_as {
            let as4: Vec<Segment> = self
                .as_path
                .iter()
                .filter(|s| matches!(s.kind, SegmentKind::Sequence | SegmentKind::Set))
                .cloned()
                .collect();
            if as4.iter().any(|s| s.asns.iter().any(|&a| big(a))) {
                v.push(Attr::As4Path(as4));
            }
            if let Some(g) = self.aggregator.filter(|g| big(g.asn)) {
                v.push(Attr::As4Aggregator(g));
            }
        }
        if !self.large_communities.is_empty() {
            v.push(Attr::LargeCommunities(self.large_communities.clone()));
        }
        let mut unknown: Vec<&(u8, u8, Vec<u8>)> = self.unknown.iter().collect();
        unknown.sort_by_key(|u| u.1);
        for (flags, code, data) in unknown {
            v.push(Attr::Unknown {
                flags: *flags,
                code: *code,
                data: data.clone(),
            });
        }
        v
    }

    /// The MP_REACH next hop for this path (global address and RFC 2545 link-local).
    pub fn mp_next_hop(&self) -> super::codec::MpNextHop {
        super::codec::MpNextHop {
            addr: self.next_hop,
            link_local: self.next_hop_link_local,
        }
    }

    /// Our AS prepended `times` times (to the first segment when it is a SEQUENCE with
    /// room, RFC 4271 §5.1.2).
    pub fn prepend(&mut self, asn: u32, times: usize) {
        match self.as_path.first_mut() {
            Some(s) if s.kind == SegmentKind::Sequence && s.asns.len() + times <= 255 => {
                s.asns.splice(0..0, std::iter::repeat_n(asn, times));
            }
            _ => self.as_path.insert(
                0,
                Segment {
                    kind: SegmentKind::Sequence,
                    asns: vec![asn; times],
                },
            ),
        }
    }

    /// Whether `asn` appears anywhere in the AS path (loop detection).
    pub fn path_contains(&self, asn: u32) -> bool {
        self.as_path.iter().any(|s| s.asns.contains(&asn))
    }

    /// The first AS of the path (the neighbour AS, for the MED rule).
    pub fn first_as(&self) -> Option<u32> {
        self.as_path
            .iter()
            .find(|s| matches!(s.kind, SegmentKind::Sequence | SegmentKind::Set))
            .and_then(|s| s.asns.first().copied())
    }
}

/// `65001 65002 {65003,65004}`; confederation segments in `( )` and `[ ]`.
pub fn as_path_string(path: &[Segment]) -> String {
    let mut out = String::new();
    for s in path {
        if !out.is_empty() {
            out.push(' ');
        }
        let list = |sep: &str| {
            s.asns
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(sep)
        };
        match s.kind {
            SegmentKind::Sequence => out.push_str(&list(" ")),
            SegmentKind::Set => out.push_str(&format!("{{{}}}", list(","))),
            SegmentKind::ConfedSequence => out.push_str(&format!("({})", list(" "))),
            SegmentKind::ConfedSet => out.push_str(&format!("[{}]", list(","))),
        }
    }
    out
}

/// A standard community as views print it: a well-known name or `ASN:VALUE`.
pub fn community_string(c: u32) -> String {
    match c {
        community::NO_EXPORT => "no-export".into(),
        community::NO_ADVERTISE => "no-advertise".into(),
        community::NO_EXPORT_SUBCONFED => "no-export-subconfed".into(),
        community::NO_PEER => "no-peer".into(),
        community::BLACKHOLE => "blackhole".into(),
        c => format!("{}:{}", c >> 16, c & 0xffff),
    }
}

/// `ASN:DATA1:DATA2`.
pub fn large_community_string(c: &[u32; 3]) -> String {
    format!("{}:{}:{}", c[0], c[1], c[2])
}

#[cfg(test)]
#[path = "attrs_tests.rs"]
mod tests;
