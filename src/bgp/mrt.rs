//! MRT (RFC 6396) route dumps: write a TABLE_DUMP_V2 snapshot (PEER_INDEX_TABLE, then one
//! RIB_IPV4_UNICAST / RIB_IPV6_UNICAST record per prefix) and read one back, together with
//! BGP4MP(_ET) UPDATE messages, so a table can be replayed by us and by other tools.
//!
//! ```text
//!  record  = timestamp u32 · type u16 · subtype u16 · length u32 · [µs u32 (_ET)] · body
//!  PEER_INDEX_TABLE (13/1) = collector id · view name (u16 len) · count u16 ·
//!                            { type u8 (0x1 IPv6, 0x2 4-octet AS) · bgp id · addr · AS }
//!  RIB_IPVx_UNICAST (13/2, 13/4) = sequence u32 · prefix len u8 · prefix bytes · count u16 ·
//!                            { peer index u16 · originated u32 · attr len u16 · attrs }
//!  BGP4MP_MESSAGE(_AS4)(_LOCAL)(_ADDPATH) (16/1,4,6,7,8-11) = peer AS · local AS · ifindex ·
//!                            AFI · peer addr · local addr · a whole BGP message
//! ```
//!
//! Attributes are the codec's encoding ([`codec::emit`] of an UPDATE holding only the
//! attribute list) with AS numbers always 4 octets (§4.3.4). MP_REACH_NLRI in a RIB entry
//! is abbreviated (§4.3.4): only the next hop length and next hop; the reader also takes the
//! full RFC 4760 form that some writers emit. Reading interns attribute sets: entries whose
//! attribute bytes are equal share one `Arc<PathAttrs>`. Records of other types are
//! skipped and counted. The reader never panics (tests/fuzz_mrt.rs); a structural error
//! (truncation, a RIB entry naming a peer that is not in the table) stops it with the byte
//! offset of the record.
//!
//! The conversion between codec attributes and [`PathAttrs`] here is private to this module.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::attrs::PathAttrs;
use super::codec::{
    self, Attr, Family, HEADER_LEN, Message, MpNextHop, Origin, SessionParams, Update,
    UpdateOutcome,
};
use super::fxhash::FxBuild;

/// MRT types and subtypes used here.
pub mod kind {
    pub const TABLE_DUMP_V2: u16 = 13;
    pub const BGP4MP: u16 = 16;
    pub const BGP4MP_ET: u16 = 17;
    pub const PEER_INDEX_TABLE: u16 = 1;
    pub const RIB_IPV4_UNICAST: u16 = 2;
    pub const RIB_IPV6_UNICAST: u16 = 4;
    pub const BGP4MP_MESSAGE: u16 = 1;
    pub const BGP4MP_MESSAGE_AS4: u16 = 4;
    pub const BGP4MP_MESSAGE_LOCAL: u16 = 6;
    pub const BGP4MP_MESSAGE_AS4_LOCAL: u16 = 7;
    /// RFC 8050.
    pub const BGP4MP_MESSAGE_ADDPATH: u16 = 8;
    pub const BGP4MP_MESSAGE_AS4_ADDPATH: u16 = 9;
    pub const BGP4MP_MESSAGE_LOCAL_ADDPATH: u16 = 10;
    pub const BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH: u16 = 11;
}

/// One peer of the PEER_INDEX_TABLE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MrtPeer {
    pub bgp_id: Ipv4Addr,
    pub addr: IpAddr,
    pub asn: u32,
}

/// One RIB entry: a prefix as one peer announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrtRoute {
    pub prefix: IpNet,
    /// Index into the peer table.
    pub peer_index: u16,
    /// When the route was received (seconds since the epoch).
    pub originated: u32,
    pub attrs: Arc<PathAttrs>,
}

/// A BGP4MP UPDATE: what a peer announced and withdrew in one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrtUpdate {
    pub timestamp: u32,
    pub peer_as: u32,
    pub local_as: u32,
    pub peer_addr: IpAddr,
    pub local_addr: IpAddr,
    pub withdrawn: Vec<IpNet>,
    pub announced: Vec<IpNet>,
    /// `None` when the message announced nothing.
    pub attrs: Option<Arc<PathAttrs>>,
}

/// Everything read from a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrtTable {
    pub collector_id: Ipv4Addr,
    pub view: String,
    pub peers: Vec<MrtPeer>,
    /// RIB entries, in file order.
    pub routes: Vec<MrtRoute>,
    pub updates: Vec<MrtUpdate>,
    /// Records of other types, and BGP4MP messages that are not valid UPDATEs.
    pub skipped: usize,
}

impl Default for MrtTable {
    fn default() -> MrtTable {
        MrtTable {
            collector_id: Ipv4Addr::UNSPECIFIED,
            view: String::new(),
            peers: Vec::new(),
            routes: Vec::new(),
            updates: Vec::new(),
            skipped: 0,
        }
    }
}

/// Why a dump cannot be read or written. `at` is the byte offset of the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MrtError {
    #[error("MRT record at byte {at}: truncated {what}")]
    Truncated { at: usize, what: &'static str },
    #[error("MRT record at byte {at}: a second PEER_INDEX_TABLE")]
    SecondPeerTable { at: usize },
    #[error("MRT record at byte {at}: a RIB record before the PEER_INDEX_TABLE")]
    NoPeerTable { at: usize },
    #[error("MRT record at byte {at}: peer index {index}, but the table has {peers} peers")]
    UnknownPeer { at: usize, index: u16, peers: usize },
    #[error("MRT record at byte {at}: prefix length {len} is too long for the family")]
    BadPrefix { at: usize, len: u8 },
    #[error("MRT record at byte {at}: malformed path attribute (type {code})")]
    BadAttribute { at: usize, code: u8 },
    #[error("MRT record at byte {at}: unknown address family {afi}")]
    BadFamily { at: usize, afi: u16 },
    #[error("cannot write MRT: {what} exceeds its 16-bit length field")]
    TooLarge { what: &'static str },
    #[error("cannot write MRT: route for {prefix} names peer {index}, but there are {peers} peers")]
    NoSuchPeer {
        prefix: IpNet,
        index: u16,
        peers: usize,
    },
}

// ---- writing ----

fn header(out: &mut Vec<u8>, timestamp: u32, ty: u16, subtype: u16) -> usize {
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&subtype.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.len()
}

fn finish(out: &mut [u8], body_start: usize) {
    let len = (out.len() - body_start) as u32;
    out[body_start - 4..body_start].copy_from_slice(&len.to_be_bytes());
}

fn u16_len(n: usize, what: &'static str) -> Result<u16, MrtError> {
    u16::try_from(n).map_err(|_| MrtError::TooLarge { what })
}

/// Appends a TABLE_DUMP_V2 dump: the PEER_INDEX_TABLE, then one RIB record per prefix
/// (IPv4 before IPv6, prefixes in order; a prefix's entries in the order of `routes`).
/// Routes of other families than IPv4/IPv6 unicast do not exist in [`IpNet`]. On error
/// `out` is left as it was.
pub fn write_table_dump(
    out: &mut Vec<u8>,
    collector_id: Ipv4Addr,
    view: &str,
    peers: &[MrtPeer],
    routes: &[MrtRoute],
    timestamp: u32,
) -> Result<(), MrtError> {
    let start = out.len();
    let r = write_inner(out, collector_id, view, peers, routes, timestamp);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn write_inner(
    out: &mut Vec<u8>,
    collector_id: Ipv4Addr,
    view: &str,
    peers: &[MrtPeer],
    routes: &[MrtRoute],
    timestamp: u32,
) -> Result<(), MrtError> {
    let body = header(out, timestamp, kind::TABLE_DUMP_V2, kind::PEER_INDEX_TABLE);
    out.extend_from_slice(&collector_id.octets());
    out.extend_from_slice(&u16_len(view.len(), "the view name")?.to_be_bytes());
    out.extend_from_slice(view.as_bytes());
    out.extend_from_slice(&u16_len(peers.len(), "the peer count")?.to_be_bytes());
    for p in peers {
        let v6 = p.addr.is_ipv6();
        // Always 4-octet AS: simple, and every reader takes it.
        out.push(0x02 | u8::from(v6));
        out.extend_from_slice(&p.bgp_id.octets());
        match p.addr {
            IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
        }
        out.extend_from_slice(&p.asn.to_be_bytes());
    }
    finish(out, body);

    let mut keyed: Vec<(IpNet, usize)> = routes.iter().map(|r| r.prefix).zip(0..).collect();
    keyed.sort_unstable();
    let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    let mut cache: HashMap<(*const PathAttrs, bool), Vec<u8>, FxBuild> = HashMap::default();
    let mut seq: u32 = 0;
    let mut i = 0;
    while i < order.len() {
        let prefix = routes[order[i]].prefix;
        let mut j = i;
        while j < order.len() && routes[order[j]].prefix == prefix {
            j += 1;
        }
        let v6 = matches!(prefix, IpNet::V6(_));
        let subtype = if v6 {
            kind::RIB_IPV6_UNICAST
        } else {
            kind::RIB_IPV4_UNICAST
        };
        let body = header(out, timestamp, kind::TABLE_DUMP_V2, subtype);
        out.extend_from_slice(&seq.to_be_bytes());
        seq = seq.wrapping_add(1);
        emit_prefix(&prefix, out);
        out.extend_from_slice(&u16_len(j - i, "the entries of one prefix")?.to_be_bytes());
        for &k in &order[i..j] {
            let r = &routes[k];
            if usize::from(r.peer_index) >= peers.len() {
                return Err(MrtError::NoSuchPeer {
                    prefix,
                    index: r.peer_index,
                    peers: peers.len(),
                });
            }
            out.extend_from_slice(&r.peer_index.to_be_bytes());
            out.extend_from_slice(&r.originated.to_be_bytes());
            let attrs = cache
                .entry((Arc::as_ptr(&r.attrs), v6))
                .or_insert_with(|| encode_attrs(&r.attrs, v6));
            out.extend_from_slice(&u16_len(attrs.len(), "an attribute list")?.to_be_bytes());
            out.extend_from_slice(attrs);
        }
        finish(out, body);
        i = j;
    }
    Ok(())
}

fn emit_prefix(p: &IpNet, out: &mut Vec<u8>) {
    let len = p.prefix_len();
    out.push(len);
    let n = usize::from(len).div_ceil(8);
    match p.addr() {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()[..n]),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()[..n]),
    }
}

fn four_octet() -> SessionParams {
    SessionParams {
        four_octet_as: true,
        add_path_rx: BTreeSet::new(),
        extended_messages: true,
    }
}

/// The attribute list of a RIB entry, in type-code order: the codec's encoding with
/// 4-octet AS numbers, and the next hop as NEXT_HOP (IPv4 prefix, IPv4 next hop) or an
/// abbreviated MP_REACH_NLRI.
fn encode_attrs(a: &PathAttrs, v6_prefix: bool) -> Vec<u8> {
    let next_hop_attr = match a.next_hop {
        IpAddr::V4(nh) if !v6_prefix => Some(nh),
        _ => None,
    };
    let family = if v6_prefix {
        Family::IPV6_UNICAST
    } else {
        Family::IPV4_UNICAST
    };
    let mut list = a.to_attrs(true, family);
    list.sort_by_key(Attr::code);
    let after = list.partition_point(|x| x.code() < codec::attr::MP_REACH_NLRI);
    let tail = list.split_off(after);
    let mut out = emit_list(list);
    if next_hop_attr.is_none() {
        let mut nh = match a.next_hop {
            IpAddr::V4(x) => x.octets().to_vec(),
            IpAddr::V6(x) => x.octets().to_vec(),
        };
        if let Some(ll) = a.next_hop_link_local {
            nh.extend_from_slice(&ll.octets());
        }
        out.push(codec::flag::OPTIONAL);
        out.push(codec::attr::MP_REACH_NLRI);
        out.push(nh.len() as u8 + 1);
        out.push(nh.len() as u8);
        out.extend_from_slice(&nh);
    }
    out.extend_from_slice(&emit_list(tail));
    out
}

/// The codec's encoding of an attribute list (4-octet AS numbers).
fn emit_list(attrs: Vec<Attr>) -> Vec<u8> {
    if attrs.is_empty() {
        return Vec::new();
    }
    let mut msg = Vec::new();
    let update = Update {
        withdrawn: Vec::new(),
        attrs,
        nlri: Vec::new(),
    };
    codec::emit(&Message::Update(update), &four_octet(), &mut msg);
    // UPDATE body: withdrawn length (0) · attribute length · attributes · no NLRI.
    msg.split_off(HEADER_LEN + 4)
}

// ---- reading ----

/// A bounds-checked big-endian cursor.
struct Rd<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Rd<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.bytes(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.bytes(4)?.try_into().ok()?))
    }
    fn ipv4(&mut self) -> Option<Ipv4Addr> {
        Some(Ipv4Addr::from(self.u32()?))
    }
    fn ipv6(&mut self) -> Option<Ipv6Addr> {
        let b: [u8; 16] = self.bytes(16)?.try_into().ok()?;
        Some(Ipv6Addr::from(b))
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.at.min(self.buf.len())..];
        self.at = self.buf.len();
        s
    }
}

/// Reads a whole dump.
pub fn read(bytes: &[u8]) -> Result<MrtTable, MrtError> {
    let mut t = MrtTable::default();
    let mut have_peers = false;
    // The standard (keyed) hasher: these keys come from the file.
    let mut interned: HashMap<(&[u8], bool), Arc<PathAttrs>> = HashMap::new();
    let mut at = 0;
    while at < bytes.len() {
        let mut r = Rd { buf: bytes, at };
        let trunc = |what| MrtError::Truncated { at, what };
        let timestamp = r.u32().ok_or(trunc("header"))?;
        let ty = r.u16().ok_or(trunc("header"))?;
        let subtype = r.u16().ok_or(trunc("header"))?;
        let len = r.u32().ok_or(trunc("header"))? as usize;
        let body = r.bytes(len).ok_or(trunc("record"))?;
        let next = r.at;
        match (ty, subtype) {
            (kind::TABLE_DUMP_V2, kind::PEER_INDEX_TABLE) => {
                if have_peers {
                    return Err(MrtError::SecondPeerTable { at });
                }
                read_peer_table(body, at, &mut t)?;
                have_peers = true;
            }
            (kind::TABLE_DUMP_V2, kind::RIB_IPV4_UNICAST | kind::RIB_IPV6_UNICAST) => {
                if !have_peers {
                    return Err(MrtError::NoPeerTable { at });
                }
                let v6 = subtype == kind::RIB_IPV6_UNICAST;
                read_rib(body, at, v6, &mut t, &mut interned)?;
            }
            (kind::BGP4MP | kind::BGP4MP_ET, _) => {
                let body = if ty == kind::BGP4MP_ET {
                    body.get(4..).ok_or(trunc("microseconds"))?
                } else {
                    body
                };
                match read_bgp4mp(body, at, subtype, timestamp)? {
                    Some(u) => t.updates.push(u),
                    None => t.skipped += 1,
                }
            }
            _ => t.skipped += 1,
        }
        at = next;
    }
    Ok(t)
}

fn read_peer_table(body: &[u8], at: usize, t: &mut MrtTable) -> Result<(), MrtError> {
    let trunc = || MrtError::Truncated {
        at,
        what: "PEER_INDEX_TABLE",
    };
    let mut r = Rd { buf: body, at: 0 };
    t.collector_id = r.ipv4().ok_or_else(trunc)?;
    let n = r.u16().ok_or_else(trunc)?;
    t.view = String::from_utf8_lossy(r.bytes(usize::from(n)).ok_or_else(trunc)?).into_owned();
    let count = r.u16().ok_or_else(trunc)?;
    for _ in 0..count {
        let ty = r.u8().ok_or_else(trunc)?;
        let bgp_id = r.ipv4().ok_or_else(trunc)?;
        let addr = if ty & 0x01 != 0 {
            IpAddr::V6(r.ipv6().ok_or_else(trunc)?)
        } else {
            IpAddr::V4(r.ipv4().ok_or_else(trunc)?)
        };
        let asn = if ty & 0x02 != 0 {
            r.u32().ok_or_else(trunc)?
        } else {
            u32::from(r.u16().ok_or_else(trunc)?)
        };
        t.peers.push(MrtPeer { bgp_id, addr, asn });
    }
    Ok(())
}

fn read_prefix(r: &mut Rd<'_>, at: usize, v6: bool) -> Result<IpNet, MrtError> {
    let trunc = || MrtError::Truncated { at, what: "prefix" };
    let len = r.u8().ok_or_else(trunc)?;
    if len > if v6 { 128 } else { 32 } {
        return Err(MrtError::BadPrefix { at, len });
    }
    let b = r.bytes(usize::from(len).div_ceil(8)).ok_or_else(trunc)?;
    let bad = || MrtError::BadPrefix { at, len };
    Ok(if v6 {
        let mut a = [0u8; 16];
        a[..b.len()].copy_from_slice(b);
        IpNet::V6(
            Ipv6Net::new(Ipv6Addr::from(a), len)
                .map_err(|_| bad())?
                .trunc(),
        )
    } else {
        let mut a = [0u8; 4];
        a[..b.len()].copy_from_slice(b);
        IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from(a), len)
                .map_err(|_| bad())?
                .trunc(),
        )
    })
}

fn read_rib<'a>(
    body: &'a [u8],
    at: usize,
    v6: bool,
    t: &mut MrtTable,
    interned: &mut HashMap<(&'a [u8], bool), Arc<PathAttrs>>,
) -> Result<(), MrtError> {
    let trunc = || MrtError::Truncated {
        at,
        what: "RIB record",
    };
    let mut r = Rd { buf: body, at: 0 };
    r.u32().ok_or_else(trunc)?; // sequence number
    let prefix = read_prefix(&mut r, at, v6)?;
    let count = r.u16().ok_or_else(trunc)?;
    for _ in 0..count {
        let peer_index = r.u16().ok_or_else(trunc)?;
        if usize::from(peer_index) >= t.peers.len() {
            return Err(MrtError::UnknownPeer {
                at,
                index: peer_index,
                peers: t.peers.len(),
            });
        }
        let originated = r.u32().ok_or_else(trunc)?;
        let n = r.u16().ok_or_else(trunc)?;
        let raw = r.bytes(usize::from(n)).ok_or_else(trunc)?;
        let attrs = match interned.get(&(raw, v6)) {
            Some(a) => a.clone(),
            None => {
                let a = Arc::new(decode_rib_attrs(raw, at, v6)?);
                interned.insert((raw, v6), a.clone());
                a
            }
        };
        t.routes.push(MrtRoute {
            prefix,
            peer_index,
            originated,
            attrs,
        });
    }
    Ok(())
}

/// The next hop of an MP_REACH_NLRI in a RIB entry: abbreviated (length, next hop) or the
/// full RFC 4760 form.
fn mp_next_hop(data: &[u8]) -> Option<MpNextHop> {
    let nh = match data.first() {
        Some(&l) if usize::from(l) + 1 == data.len() => &data[1..],
        _ => {
            let l = usize::from(*data.get(3)?);
            data.get(4..4 + l)?
        }
    };
    let mut r = Rd { buf: nh, at: 0 };
    match nh.len() {
        4 => Some(MpNextHop {
            addr: IpAddr::V4(r.ipv4()?),
            link_local: None,
        }),
        16 => Some(MpNextHop {
            addr: IpAddr::V6(r.ipv6()?),
            link_local: None,
        }),
        32 => Some(MpNextHop {
            addr: IpAddr::V6(r.ipv6()?),
            link_local: Some(r.ipv6()?),
        }),
        _ => None,
    }
}

/// Decodes a RIB entry's attributes: MP_REACH_NLRI by hand (abbreviated), the rest by the
/// codec with 4-octet AS numbers.
fn decode_rib_attrs(raw: &[u8], at: usize, v6: bool) -> Result<PathAttrs, MrtError> {
    let mut rest = Vec::with_capacity(raw.len() + 4);
    rest.extend_from_slice(&[0, 0, 0, 0]);
    let mut mp = None;
    let mut r = Rd { buf: raw, at: 0 };
    while r.at < raw.len() {
        let start = r.at;
        let bad = |code| MrtError::BadAttribute { at, code };
        let flags = r.u8().ok_or(bad(0))?;
        let code = r.u8().ok_or(bad(0))?;
        let len = if flags & codec::flag::EXTENDED_LENGTH != 0 {
            usize::from(r.u16().ok_or(bad(code))?)
        } else {
            usize::from(r.u8().ok_or(bad(code))?)
        };
        let data = r.bytes(len).ok_or(bad(code))?;
        if code == codec::attr::MP_REACH_NLRI {
            mp = Some(mp_next_hop(data).ok_or(bad(code))?);
        } else if code != codec::attr::MP_UNREACH_NLRI {
            rest.extend_from_slice(&raw[start..r.at]);
        }
    }
    let n = rest.len() - 4;
    rest[2..4].copy_from_slice(&(n as u16).to_be_bytes());
    let list = match codec::parse_update(&rest, &four_octet()) {
        UpdateOutcome::Ok(u) | UpdateOutcome::AttributeDiscard { update: u, .. } => u.attrs,
        UpdateOutcome::TreatAsWithdraw { reasons, .. } => {
            let code = reasons.first().map_or(0, |x| x.code);
            return Err(MrtError::BadAttribute { at, code });
        }
        UpdateOutcome::SessionReset(_) => return Err(MrtError::BadAttribute { at, code: 0 }),
    };
    Ok(from_attrs(list, mp, v6))
}

/// Codec attributes → `PathAttrs`. Missing ORIGIN reads as IGP, a missing AS_PATH as empty,
/// a missing next hop as the unspecified address. AS4_PATH / AS4_AGGREGATOR replace
/// AS_PATH / AGGREGATOR as RFC 6793 §4.2.3 says (they occur only in 2-octet messages).
fn from_attrs(list: Vec<Attr>, mp: Option<MpNextHop>, v6: bool) -> PathAttrs {
    let mut a = PathAttrs {
        origin: Origin::Igp,
        as_path: Vec::new(),
        next_hop: if v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        },
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
    };
    let (mut as4_path, mut as4_agg) = (None, None);
    for x in list {
        match x {
            Attr::Origin(o) => a.origin = o,
            Attr::AsPath(p) => a.as_path = p,
            Attr::NextHop(nh) => a.next_hop = IpAddr::V4(nh),
            Attr::Med(v) => a.med = Some(v),
            Attr::LocalPref(v) => a.local_pref = Some(v),
            Attr::AtomicAggregate => a.atomic_aggregate = true,
            Attr::Aggregator(g) => a.aggregator = Some(g),
            Attr::Communities(c) => a.communities = c,
            Attr::OriginatorId(i) => a.originator_id = Some(i),
            Attr::ClusterList(c) => a.cluster_list = c,
            Attr::ExtendedCommunities(c) => a.ext_communities = c,
            Attr::LargeCommunities(c) => a.large_communities = c,
            Attr::As4Path(p) => as4_path = Some(p),
            Attr::As4Aggregator(g) => as4_agg = Some(g),
            Attr::MpReach(m) => {
                a.next_hop = m.next_hop.addr;
                a.next_hop_link_local = m.next_hop.link_local;
            }
            Attr::MpUnreach(_) => {}
            Attr::Unknown { flags, code, data } => a.unknown.push((flags, code, data)),
        }
    }
    if let Some(m) = mp {
        a.next_hop = m.addr;
        a.next_hop_link_local = m.link_local;
    }
    reconcile_as4(&mut a, as4_path, as4_agg);
    a
}

/// RFC 6793 §4.2.3, for 2-octet AS_PATHs that came with AS4_PATH / AS4_AGGREGATOR.
fn reconcile_as4(
    a: &mut PathAttrs,
    as4_path: Option<Vec<codec::Segment>>,
    as4_agg: Option<codec::Aggregator>,
) {
    let trans = u32::from(codec::AS_TRANS);
    if let (Some(g), Some(g4)) = (a.aggregator, as4_agg) {
        if g.asn != trans {
            return; // a 4-octet speaker aggregated: AS4_* are stale (§4.2.3)
        }
        a.aggregator = Some(g4);
    }
    let Some(p4) = as4_path else { return };
    // Path length counts a SET as one AS (RFC 4271 §9.1.2.2 a).
    let count = |p: &[codec::Segment]| -> usize {
        p.iter()
            .map(|s| match s.kind {
                codec::SegmentKind::Sequence => s.asns.len(),
                codec::SegmentKind::Set => 1,
                _ => 0,
            })
            .sum()
    };
    let (n, n4) = (count(&a.as_path), count(&p4));
    if n < n4 {
        return;
    }
    // Keep the leading n - n4 ASes of AS_PATH, then AS4_PATH.
    let mut keep = n - n4;
    let mut out = Vec::new();
    for s in &a.as_path {
        if keep == 0 {
            break;
        }
        match s.kind {
            codec::SegmentKind::Sequence => {
                let k = keep.min(s.asns.len());
                out.push(codec::Segment {
                    kind: s.kind,
                    asns: s.asns[..k].to_vec(),
                });
                keep -= k;
            }
            codec::SegmentKind::Set => {
                out.push(s.clone());
                keep -= 1;
            }
            _ => out.push(s.clone()),
        }
    }
    out.extend(p4);
    a.as_path = out;
}

fn read_bgp4mp(
    body: &[u8],
    at: usize,
    subtype: u16,
    timestamp: u32,
) -> Result<Option<MrtUpdate>, MrtError> {
    use kind::*;
    let (as4, add_path) = match subtype {
        BGP4MP_MESSAGE | BGP4MP_MESSAGE_LOCAL => (false, false),
        BGP4MP_MESSAGE_AS4 | BGP4MP_MESSAGE_AS4_LOCAL => (true, false),
        BGP4MP_MESSAGE_ADDPATH | BGP4MP_MESSAGE_LOCAL_ADDPATH => (false, true),
        BGP4MP_MESSAGE_AS4_ADDPATH | BGP4MP_MESSAGE_AS4_LOCAL_ADDPATH => (true, true),
        _ => return Ok(None), // state changes
    };
    let trunc = || MrtError::Truncated {
        at,
        what: "BGP4MP message",
    };
    let mut r = Rd { buf: body, at: 0 };
    let (peer_as, local_as) = if as4 {
        (r.u32().ok_or_else(trunc)?, r.u32().ok_or_else(trunc)?)
    } else {
        (
            u32::from(r.u16().ok_or_else(trunc)?),
            u32::from(r.u16().ok_or_else(trunc)?),
        )
    };
    r.u16().ok_or_else(trunc)?; // interface index
    let afi = r.u16().ok_or_else(trunc)?;
    let addr = |r: &mut Rd<'_>| -> Result<IpAddr, MrtError> {
        match afi {
            1 => Ok(IpAddr::V4(r.ipv4().ok_or_else(trunc)?)),
            2 => Ok(IpAddr::V6(r.ipv6().ok_or_else(trunc)?)),
            _ => Err(MrtError::BadFamily { at, afi }),
        }
    };
    let peer_addr = addr(&mut r)?;
    let local_addr = addr(&mut r)?;
    let mut params = SessionParams {
        four_octet_as: as4,
        add_path_rx: BTreeSet::new(),
        extended_messages: true,
    };
    if add_path {
        params.add_path_rx.insert(Family::IPV4_UNICAST);
        params.add_path_rx.insert(Family::IPV6_UNICAST);
    }
    let Ok(Message::Update(u)) = codec::parse(r.rest(), &params) else {
        return Ok(None);
    };
    let mut withdrawn: Vec<IpNet> = u.withdrawn.iter().map(|n| n.prefix).collect();
    let mut announced: Vec<IpNet> = u.nlri.iter().map(|n| n.prefix).collect();
    let mut mp_v6 = false;
    for a in &u.attrs {
        match a {
            Attr::MpReach(m) => {
                mp_v6 = m.family == Family::IPV6_UNICAST;
                announced.extend(m.nlri.iter().map(|n| n.prefix));
            }
            Attr::MpUnreach(m) => withdrawn.extend(m.withdrawn.iter().map(|n| n.prefix)),
            _ => {}
        }
    }
    let attrs = (!announced.is_empty()).then(|| Arc::new(from_attrs(u.attrs, None, mp_v6)));
    Ok(Some(MrtUpdate {
        timestamp,
        peer_as,
        local_as,
        peer_addr,
        local_addr,
        withdrawn,
        announced,
        attrs,
    }))
}

#[cfg(test)]
#[path = "mrt_tests.rs"]
mod tests;
