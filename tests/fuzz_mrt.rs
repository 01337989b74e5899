//! Fuzzing the MRT reader in `cargo test` (issue 11): arbitrary bytes, records with a
//! plausible header, and mutated valid dumps go through `mrt::read`, which must give a
//! table or an error — never a panic. Generated dumps must round-trip:
//! `read(write(peers, routes))` gives back the peers and the routes (grouped by prefix).
//! `TOPOLAB_FUZZ_CASES=100000` runs longer locally.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use topolab::bgp::attrs::PathAttrs;
use topolab::bgp::codec::{Aggregator, Origin, Segment, SegmentKind};
use topolab::bgp::inject;
use topolab::bgp::mrt::{self, MrtPeer, MrtRoute};

fn cases() -> u32 {
    std::env::var("TOPOLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn arbitrary_bytes_do_not_panic() {
    runner()
        .run(&vec(any::<u8>(), 0..600), |b| {
            let _ = mrt::read(&b);
            Ok(())
        })
        .unwrap();
}

#[test]
fn records_with_a_plausible_header_do_not_panic() {
    let record = (
        prop_oneof![Just(13u16), Just(16), Just(17), any::<u16>()],
        prop_oneof![0u16..12, any::<u16>()],
        vec(any::<u8>(), 0..300),
        any::<bool>(),
    );
    runner()
        .run(&vec(record, 1..5), |recs| {
            let mut b = Vec::new();
            for (ty, sub, body, honest_len) in recs {
                b.extend_from_slice(&[0, 0, 0, 1]);
                b.extend_from_slice(&ty.to_be_bytes());
                b.extend_from_slice(&sub.to_be_bytes());
                let len = if honest_len {
                    body.len() as u32
                } else {
                    body.len() as u32 ^ 0x5
                };
                b.extend_from_slice(&len.to_be_bytes());
                b.extend_from_slice(&body);
            }
            let _ = mrt::read(&b);
            Ok(())
        })
        .unwrap();
}

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

fn peer() -> impl Strategy<Value = MrtPeer> {
    (any::<u32>(), addr(), any::<u32>()).prop_map(|(id, addr, asn)| MrtPeer {
        bgp_id: Ipv4Addr::from(id),
        addr,
        asn,
    })
}

fn segments() -> impl Strategy<Value = Vec<Segment>> {
    let kind = prop_oneof![
        Just(SegmentKind::Sequence),
        Just(SegmentKind::Set),
        Just(SegmentKind::ConfedSequence),
        Just(SegmentKind::ConfedSet),
    ];
    vec(
        (kind, vec(any::<u32>(), 1..10)).prop_map(|(kind, asns)| Segment { kind, asns }),
        0..4,
    )
}

/// Everything a RIB entry can carry, in a shape that survives a round trip (unknown
/// attributes: distinct ascending codes the codec does not know, as the codec passes them
/// on: optional, transitive, partial).
fn attrs() -> impl Strategy<Value = PathAttrs> {
    let next_hop = (addr(), any::<Option<u128>>()).prop_map(|(a, ll)| match a {
        IpAddr::V6(_) => (a, ll.map(Ipv6Addr::from)),
        IpAddr::V4(_) => (a, None),
    });
    let unknown = prop::sample::subsequence(vec![19u8, 20, 21, 22, 40, 99, 200, 255], 0..3)
        .prop_flat_map(|codes| {
            let n = codes.len();
            (Just(codes), vec(vec(any::<u8>(), 0..300), n))
        })
        .prop_map(|(codes, datas)| {
            codes
                .into_iter()
                .zip(datas)
                .map(|(c, d)| (0xe0u8, c, d))
                .collect::<Vec<_>>()
        });
    (
        (
            prop_oneof![
                Just(Origin::Igp),
                Just(Origin::Egp),
                Just(Origin::Incomplete)
            ],
            segments(),
            next_hop,
            any::<Option<u32>>(),
            any::<Option<u32>>(),
            any::<bool>(),
            any::<Option<(u32, u32)>>(),
        ),
        (
            vec(any::<u32>(), 0..5),
            vec(any::<[u32; 3]>(), 0..3),
            vec(any::<[u8; 8]>(), 0..3),
            any::<Option<u32>>(),
            vec(any::<u32>(), 0..3),
            unknown,
        ),
    )
        .prop_map(
            |(
                (origin, as_path, (nh, ll), med, lp, atomic, agg),
                (c, lc, ec, orig, cl, unknown),
            )| {
                PathAttrs {
                    origin,
                    as_path,
                    next_hop: nh,
                    next_hop_link_local: ll,
                    med,
                    local_pref: lp,
                    atomic_aggregate: atomic,
                    aggregator: agg.map(|(asn, a)| Aggregator {
                        asn,
                        addr: Ipv4Addr::from(a),
                    }),
                    communities: c,
                    large_communities: lc,
                    ext_communities: ec,
                    originator_id: orig.map(Ipv4Addr::from),
                    cluster_list: cl.into_iter().map(Ipv4Addr::from).collect(),
                    unknown,
                }
            },
        )
}

/// Peers, and routes over synthetic prefixes (some repeated) with generated attributes.
fn dump() -> impl Strategy<Value = (Vec<MrtPeer>, Vec<MrtRoute>)> {
    (
        vec(peer(), 1..4),
        vec(attrs(), 1..4),
        any::<u64>(),
        0usize..40,
        vec(any::<(u16, u32, u8)>(), 40),
    )
        .prop_map(|(peers, attrs, seed, n, picks)| {
            let attrs: Vec<Arc<PathAttrs>> = attrs.into_iter().map(Arc::new).collect();
            let t = inject::table(n, inject::Mix::INTERNET, seed, 64512);
            let mut routes = Vec::new();
            for (k, &(prefix, _)) in t.routes.iter().enumerate() {
                let (p, originated, a) = picks[k];
                let copies = 1 + usize::from(a % 2);
                for c in 0..copies {
                    routes.push(MrtRoute {
                        prefix,
                        peer_index: (p as usize + c) as u16 % peers.len() as u16,
                        originated,
                        attrs: attrs[(usize::from(a) + c) % attrs.len()].clone(),
                    });
                }
            }
            (peers, routes)
        })
}

fn write(peers: &[MrtPeer], routes: &[MrtRoute]) -> Vec<u8> {
    let mut out = Vec::new();
    mrt::write_table_dump(
        &mut out,
        Ipv4Addr::new(192, 0, 2, 9),
        "fuzz",
        peers,
        routes,
        1,
    )
    .unwrap();
    out
}

#[test]
fn generated_dumps_round_trip() {
    runner()
        .run(&dump(), |(peers, routes)| {
            let t = mrt::read(&write(&peers, &routes)).unwrap();
            prop_assert_eq!(&t.peers, &peers);
            prop_assert_eq!(t.view.as_str(), "fuzz");
            let mut want = routes.clone();
            want.sort_by_key(|r| r.prefix);
            prop_assert_eq!(t.routes, want);
            Ok(())
        })
        .unwrap();
}

#[test]
fn mutated_valid_dumps_do_not_panic() {
    let s = (
        dump(),
        vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        any::<prop::sample::Index>(),
    );
    runner()
        .run(&s, |((peers, routes), edits, cut)| {
            let mut b = write(&peers, &routes);
            for (at, v) in edits {
                let i = at.index(b.len());
                b[i] = v;
            }
            let _ = mrt::read(&b);
            b.truncate(cut.index(b.len() + 1));
            let _ = mrt::read(&b);
            Ok(())
        })
        .unwrap();
}
