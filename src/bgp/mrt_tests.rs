//! Byte fixtures (laid out by hand from RFC 6396 §4.3 and RFC 4271 §4.3) both ways, the
//! reader's errors, BGP4MP messages, and a round trip of a synthetic table.

use std::collections::HashSet;

use super::*;
use crate::bgp::codec::{Segment, SegmentKind};
use crate::bgp::inject;

fn base(origin: Origin, asns: Vec<u32>, next_hop: IpAddr) -> PathAttrs {
    PathAttrs {
        origin,
        as_path: vec![Segment {
            kind: SegmentKind::Sequence,
            asns,
        }],
        next_hop,
        next_hop_link_local: None,
        med: None,
        local_pref: None,
        atomic_aggregate: false,
        aggregator: None,
        communities: vec![],
        large_communities: vec![],
        ext_communities: vec![],
        originator_id: None,
        cluster_list: vec![],
        unknown: vec![],
    }
}

fn peers() -> Vec<MrtPeer> {
    vec![
        MrtPeer {
            bgp_id: Ipv4Addr::new(192, 0, 2, 1),
            addr: "192.0.2.1".parse().unwrap(),
            asn: 65001,
        },
        MrtPeer {
            bgp_id: Ipv4Addr::new(192, 0, 2, 2),
            addr: "2001:db8::2".parse().unwrap(),
            asn: 4_200_000_000,
        },
    ]
}

fn routes() -> Vec<MrtRoute> {
    let mut v4 = base(
        Origin::Igp,
        vec![65001, 65002],
        "192.0.2.1".parse().unwrap(),
    );
    v4.communities = vec![(65001 << 16) | 100];
    let mut v6 = base(
        Origin::Incomplete,
        vec![4_200_000_000],
        "2001:db8::2".parse().unwrap(),
    );
    v6.next_hop_link_local = Some("fe80::2".parse().unwrap());
    v6.large_communities = vec![[4_200_000_000, 1, 2]];
    vec![
        // Given IPv6 first: the writer puts IPv4 records first.
        MrtRoute {
            prefix: "2001:db8:1::/48".parse().unwrap(),
            peer_index: 1,
            originated: 0x5f00_0000,
            attrs: Arc::new(v6),
        },
        MrtRoute {
            prefix: "203.0.113.0/24".parse().unwrap(),
            peer_index: 0,
            originated: 0x5f00_0000,
            attrs: Arc::new(v4),
        },
    ]
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// PEER_INDEX_TABLE, RIB_IPV4_UNICAST, RIB_IPV6_UNICAST for `peers()` and `routes()`.
fn fixture() -> Vec<u8> {
    hex("
        60000000 000d 0001 0000002f
          c00002ff 0001 76 0002
          02 c0000201 c0000201 0000fde9
          03 c0000202 20010db8000000000000000000000002 fa56ea00
        60000000 000d 0002 00000031
          00000000 18 cb0071 0001
          0000 5f000000 001f
            40 01 01 00
            40 02 0a 02 02 0000fde9 0000fdea
            40 03 04 c0000201
            c0 08 04 fde90064
        60000000 000d 0004 00000055
          00000001 30 20010db80001 0001
          0001 5f000000 0040
            40 01 01 02
            40 02 06 02 01 fa56ea00
            80 0e 21 20 20010db8000000000000000000000002 fe800000000000000000000000000002
            c0 20 0c fa56ea00 00000001 00000002
    ")
}

fn write(peers: &[MrtPeer], routes: &[MrtRoute]) -> Vec<u8> {
    let mut out = Vec::new();
    write_table_dump(
        &mut out,
        Ipv4Addr::new(192, 0, 2, 255),
        "v",
        peers,
        routes,
        0x6000_0000,
    )
    .unwrap();
    out
}

#[test]
fn writes_the_fixture() {
    let got = write(&peers(), &routes());
    let want = fixture();
    assert_eq!(got, want, "\n got {got:02x?}\nwant {want:02x?}");
}

#[test]
fn reads_the_fixture() {
    let t = read(&fixture()).unwrap();
    assert_eq!(t.collector_id, Ipv4Addr::new(192, 0, 2, 255));
    assert_eq!(t.view, "v");
    assert_eq!(t.peers, peers());
    let mut want = routes();
    want.reverse();
    assert_eq!(t.routes, want);
    assert!(t.updates.is_empty());
    assert_eq!(t.skipped, 0);
}

#[test]
fn reads_full_mp_reach_and_2_octet_peers() {
    let dump = hex("
        00000001 000d 0001 00000013
          01020304 0000 0001
          00 0a000001 0a000001 fde9
        00000001 000d 0004 00000032
          00000000 20 20010db8 0001
          0000 00000000 001f
            40 01 01 00
            40 02 00
            80 0e 15 0002 01 10 20010db8000000000000000000000009 00
    ");
    let t = read(&dump).unwrap();
    assert_eq!(t.peers[0].asn, 65001);
    assert_eq!(t.peers[0].addr, "10.0.0.1".parse::<IpAddr>().unwrap());
    let r = &t.routes[0];
    assert_eq!(r.prefix, "2001:db8::/32".parse::<IpNet>().unwrap());
    assert_eq!(r.attrs.next_hop, "2001:db8::9".parse::<IpAddr>().unwrap());
    assert!(r.attrs.as_path.is_empty());
}

#[test]
fn reader_errors_name_the_record() {
    let f = fixture();
    // Cut inside the second record (at byte 59).
    assert_eq!(
        read(&f[..80]),
        Err(MrtError::Truncated {
            at: 59,
            what: "record"
        })
    );
    assert_eq!(
        read(&f[..5]),
        Err(MrtError::Truncated {
            at: 0,
            what: "header"
        })
    );
    // The RIB records alone: no peer table.
    assert_eq!(read(&f[59..]), Err(MrtError::NoPeerTable { at: 0 }));
    // Two peer tables.
    let mut twice = f[..59].to_vec();
    twice.extend_from_slice(&f[..59]);
    assert_eq!(read(&twice), Err(MrtError::SecondPeerTable { at: 59 }));
    // Peer index 7 of 2.
    let mut bad = f.clone();
    bad[59 + 12 + 4 + 4 + 2] = 0;
    bad[59 + 12 + 4 + 4 + 2 + 1] = 7;
    assert_eq!(
        read(&bad),
        Err(MrtError::UnknownPeer {
            at: 59,
            index: 7,
            peers: 2
        })
    );
    // Prefix length 33 in an IPv4 RIB record.
    let mut bad = f.clone();
    bad[59 + 12 + 4] = 33;
    assert_eq!(read(&bad), Err(MrtError::BadPrefix { at: 59, len: 33 }));
    // ORIGIN value 3: malformed (RFC 7606 treat-as-withdraw → an error here).
    let mut bad = f.clone();
    bad[59 + 12 + 4 + 4 + 2 + 2 + 4 + 2 + 3] = 3;
    assert_eq!(read(&bad), Err(MrtError::BadAttribute { at: 59, code: 1 }));
}

#[test]
fn unknown_records_are_skipped() {
    let mut f = fixture();
    // A TABLE_DUMP (v1) record and a BGP4MP state change.
    f.extend_from_slice(&hex("00000000 000c 0001 00000002 abcd"));
    f.extend_from_slice(&hex("00000000 0010 0000 00000000"));
    let t = read(&f).unwrap();
    assert_eq!((t.routes.len(), t.skipped), (2, 2));
}

#[test]
fn writer_errors() {
    let mut out = vec![1, 2, 3];
    let mut r = routes();
    r[0].peer_index = 2;
    let e = write_table_dump(&mut out, Ipv4Addr::UNSPECIFIED, "", &peers(), &r, 0);
    assert!(
        matches!(e, Err(MrtError::NoSuchPeer { index: 2, .. })),
        "{e:?}"
    );
    assert_eq!(out, vec![1, 2, 3], "left as it was");
    let long = "x".repeat(70_000);
    let e = write_table_dump(&mut out, Ipv4Addr::UNSPECIFIED, &long, &[], &[], 0);
    assert!(matches!(e, Err(MrtError::TooLarge { .. })));
}

fn bgp4mp(subtype: u16, as4: bool, msg: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    if as4 {
        body.extend_from_slice(&hex("0000fde9 fa56ea00"));
    } else {
        body.extend_from_slice(&hex("fde9 5ba0"));
    }
    body.extend_from_slice(&hex("0000 0001 c0000201 c0000202"));
    body.extend_from_slice(msg);
    let mut rec = hex("00000007 0010");
    rec.extend_from_slice(&subtype.to_be_bytes());
    rec.extend_from_slice(&(body.len() as u32).to_be_bytes());
    rec.extend_from_slice(&body);
    rec
}

#[test]
fn reads_bgp4mp_updates() {
    let params = SessionParams {
        four_octet_as: true,
        ..SessionParams::default()
    };
    let a = base(
        Origin::Igp,
        vec![65001, 4_200_000_000],
        "192.0.2.1".parse().unwrap(),
    );
    let update = Update {
        withdrawn: vec![codec::Nlri {
            path_id: None,
            prefix: "198.51.100.0/24".parse().unwrap(),
        }],
        attrs: a.to_attrs(true, Family::IPV4_UNICAST),
        nlri: vec![codec::Nlri {
            path_id: None,
            prefix: "203.0.113.0/24".parse().unwrap(),
        }],
    };
    let msg = codec::to_bytes(&Message::Update(update), &params);
    let mut f = bgp4mp(kind::BGP4MP_MESSAGE_AS4, true, &msg);
    // A KEEPALIVE: skipped.
    f.extend_from_slice(&bgp4mp(
        kind::BGP4MP_MESSAGE_AS4,
        true,
        &codec::to_bytes(&Message::Keepalive, &params),
    ));
    let t = read(&f).unwrap();
    assert_eq!(t.skipped, 1);
    let u = &t.updates[0];
    assert_eq!(
        (u.peer_as, u.local_as, u.timestamp),
        (65001, 4_200_000_000, 7)
    );
    assert_eq!(u.peer_addr, "192.0.2.1".parse::<IpAddr>().unwrap());
    assert_eq!(u.local_addr, "192.0.2.2".parse::<IpAddr>().unwrap());
    assert_eq!(
        u.announced,
        vec!["203.0.113.0/24".parse::<IpNet>().unwrap()]
    );
    assert_eq!(
        u.withdrawn,
        vec!["198.51.100.0/24".parse::<IpNet>().unwrap()]
    );
    assert_eq!(u.attrs.as_deref(), Some(&a));
}

#[test]
fn bgp4mp_2_octet_reconciles_as4_path() {
    // AS_PATH 65001 23456 23456, AS4_PATH 4200000000 4200000001 (RFC 6793 §4.2.3).
    let msg = hex("
        ffffffffffffffffffffffffffffffff 003e 02
        0000 0023
          40 01 01 00
          40 02 08 02 03 fde9 5ba0 5ba0
          40 03 04 c0000201
          c0 11 0a 02 02 fa56ea00 fa56ea01
        18 cb0071
    ");
    let t = read(&bgp4mp(kind::BGP4MP_MESSAGE, false, &msg)).unwrap();
    let u = &t.updates[0];
    assert_eq!(u.local_as, 23456);
    let a = u.attrs.as_ref().unwrap();
    assert_eq!(a.as_path[0].asns, vec![65001]);
    assert_eq!(a.as_path[1].asns, vec![4_200_000_000, 4_200_000_001]);
}

#[test]
fn bgp4mp_et_and_bad_family() {
    let msg = codec::to_bytes(
        &Message::Update(Update::default()),
        &SessionParams::default(),
    );
    let mut rec = bgp4mp(kind::BGP4MP_MESSAGE, false, &msg);
    // As BGP4MP_ET: type 17, 4 more bytes (microseconds) in front of the body.
    rec[4..6].copy_from_slice(&17u16.to_be_bytes());
    let len = u32::from_be_bytes(rec[8..12].try_into().unwrap()) + 4;
    rec[8..12].copy_from_slice(&len.to_be_bytes());
    rec.splice(12..12, [0, 0, 0, 9]);
    let t = read(&rec).unwrap();
    assert_eq!(t.updates.len(), 1);
    assert!(t.updates[0].attrs.is_none());
    let mut bad = bgp4mp(kind::BGP4MP_MESSAGE, false, &msg);
    bad[12 + 6..12 + 8].copy_from_slice(&[0, 9]);
    assert_eq!(read(&bad), Err(MrtError::BadFamily { at: 0, afi: 9 }));
}

#[test]
fn synthetic_table_round_trips_and_interns() {
    let t = inject::table(20_000, inject::Mix::INTERNET, 11, 64512);
    let paths: Vec<Arc<PathAttrs>> = t
        .paths
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.next_hop = "2001:db8::1".parse().unwrap();
            Arc::new(p)
        })
        .collect();
    let mut routes = Vec::new();
    for (k, &(prefix, i)) in t.routes.iter().enumerate() {
        let mut attrs = paths[i as usize].clone();
        if prefix.addr().is_ipv4() {
            let mut a = (*attrs).clone();
            a.next_hop = "192.0.2.1".parse().unwrap();
            attrs = Arc::new(a);
        }
        routes.push(MrtRoute {
            prefix,
            peer_index: (k % 2) as u16,
            originated: k as u32,
            attrs,
        });
    }
    let dump = write(&peers(), &routes);
    let back = read(&dump).unwrap();
    let mut want = routes.clone();
    want.sort_by_key(|r| r.prefix);
    assert_eq!(back.routes, want);
    let distinct: HashSet<*const PathAttrs> =
        back.routes.iter().map(|r| Arc::as_ptr(&r.attrs)).collect();
    let values: HashSet<(bool, &PathAttrs)> = back
        .routes
        .iter()
        .map(|r| (r.prefix.addr().is_ipv6(), &*r.attrs))
        .collect();
    assert_eq!(
        distinct.len(),
        values.len(),
        "one Arc per distinct attribute set"
    );
}
