//! Fuzzing the BGP-4 codec in `cargo test` (issue 11): arbitrary bytes, bytes with a
//! plausible header, and mutated valid messages go through `parse` and `parse_update`,
//! which must give a message, an outcome or a NOTIFICATION — never a panic; whatever
//! parses must emit and re-parse to the same message. Generated valid messages must
//! round-trip exactly (`parse(emit(m)) == m` and `emit(parse(b)) == b`), in 2- and 4-octet
//! sessions, with and without ADD-PATH. `TOPOLAB_FUZZ_CASES=100000` runs longer locally.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use topolab::bgp::codec::*;

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

fn params() -> impl Strategy<Value = SessionParams> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(f, a4, a6, x)| {
        let mut add_path = BTreeSet::new();
        if a4 {
            add_path.insert(Family::IPV4_UNICAST);
        }
        if a6 {
            add_path.insert(Family::IPV6_UNICAST);
        }
        SessionParams {
            four_octet_as: f,
            add_path_rx: add_path,
            extended_messages: x,
        }
    })
}

/// Parses; when that succeeds, emit and parse again must agree (no panic either way).
fn parse_is_stable(b: &[u8], p: &SessionParams) {
    let _ = frame_len(b, p);
    if b.len() >= HEADER_LEN {
        let _ = parse_update(&b[HEADER_LEN..], p);
    }
    if let Ok(m) = parse(b, p) {
        let again = to_bytes(&m, p);
        assert_eq!(
            parse(&again, p).as_ref(),
            Ok(&m),
            "re-parse of {again:02x?}"
        );
    }
}

#[test]
fn arbitrary_bytes_do_not_panic() {
    runner()
        .run(&(vec(any::<u8>(), 0..300), params()), |(b, p)| {
            parse_is_stable(&b, &p);
            Ok(())
        })
        .unwrap();
}

#[test]
fn bytes_with_a_plausible_header_do_not_panic() {
    let s = (1u8..7, vec(any::<u8>(), 0..400), params());
    runner()
        .run(&s, |(kind, body, p)| {
            let mut b = vec![0xff; 16];
            b.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_be_bytes());
            b.push(kind);
            b.extend_from_slice(&body);
            parse_is_stable(&b, &p);
            Ok(())
        })
        .unwrap();
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![
        Just(Family::IPV4_UNICAST),
        Just(Family::IPV6_UNICAST),
        (any::<u16>(), any::<u8>()).prop_map(|(afi, safi)| Family { afi, safi }),
    ]
}

fn capability() -> impl Strategy<Value = Capability> {
    prop_oneof![
        family().prop_map(Capability::Multiprotocol),
        Just(Capability::RouteRefresh),
        Just(Capability::EnhancedRouteRefresh),
        Just(Capability::ExtendedMessage),
        any::<u32>().prop_map(Capability::FourOctetAs),
        (0u8..16, 0u16..4096, vec((family(), any::<u8>()), 0..4)).prop_map(
            |(flags, restart_time, families)| Capability::GracefulRestart(GracefulRestart {
                flags,
                restart_time,
                families,
            })
        ),
        vec(
            (
                family(),
                prop_oneof![
                    Just(AddPathMode::Receive),
                    Just(AddPathMode::Send),
                    Just(AddPathMode::Both)
                ]
            ),
            0..4
        )
        .prop_map(Capability::AddPath),
        (100u8..=255, vec(any::<u8>(), 0..8))
            .prop_map(|(code, data)| Capability::Unknown { code, data }),
    ]
}

fn open() -> impl Strategy<Value = Message> {
    (any::<u16>(), any::<u16>(), 1u32.., vec(capability(), 0..8)).prop_map(
        |(my_as, hold, id, capabilities)| {
            Message::Open(Open {
                my_as,
                hold_time: if hold == 1 || hold == 2 { 0 } else { hold },
                bgp_id: Ipv4Addr::from(id),
                capabilities,
            })
        },
    )
}

fn v4_prefix() -> impl Strategy<Value = IpNet> {
    (any::<u32>(), 0u8..=32)
        .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc()))
}

fn v6_prefix() -> impl Strategy<Value = IpNet> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc()))
}

/// NLRI of a family, with path ids exactly when `p` negotiated them.
fn nlri(v6: bool, add_path: bool) -> impl Strategy<Value = Vec<Nlri>> {
    let prefix = if v6 {
        v6_prefix().boxed()
    } else {
        v4_prefix().boxed()
    };
    vec((any::<u32>(), prefix), 0..6).prop_map(move |v| {
        v.into_iter()
            .map(|(id, prefix)| Nlri {
                path_id: add_path.then_some(id),
                prefix,
            })
            .collect()
    })
}

fn asn(four: bool) -> BoxedStrategy<u32> {
    if four {
        any::<u32>().boxed()
    } else {
        (0u32..=65535).boxed()
    }
}

/// AS_PATH segments (`confed`: confederation segments too; AS4_PATH has none).
fn segments(four: bool, confed: bool) -> impl Strategy<Value = Vec<Segment>> {
    let kinds: usize = if confed { 4 } else { 2 };
    vec(
        (
            (0..kinds).prop_map(|k| {
                [
                    SegmentKind::Set,
                    SegmentKind::Sequence,
                    SegmentKind::ConfedSequence,
                    SegmentKind::ConfedSet,
                ][k]
            }),
            vec(asn(four), 1..6),
        )
            .prop_map(|(kind, asns)| Segment { kind, asns }),
        0..4,
    )
}

fn aggregator(four: bool) -> impl Strategy<Value = Aggregator> {
    (asn(four), any::<u32>()).prop_map(|(asn, a)| Aggregator {
        asn,
        addr: Ipv4Addr::from(a),
    })
}

/// Attributes with distinct codes (a duplicate would be discarded on parse).
fn attrs(p: &SessionParams) -> impl Strategy<Value = Vec<Attr>> + use<> {
    let four = p.four_octet_as;
    let ap4 = p.add_path_rx.contains(&Family::IPV4_UNICAST);
    let ap6 = p.add_path_rx.contains(&Family::IPV6_UNICAST);
    let reach = prop_oneof![
        (any::<u32>(), nlri(false, ap4)).prop_map(|(a, nlri)| MpReach {
            family: Family::IPV4_UNICAST,
            next_hop: MpNextHop {
                addr: IpAddr::V4(Ipv4Addr::from(a)),
                link_local: None,
            },
            nlri,
        }),
        (
            any::<u128>(),
            proptest::option::of(any::<u128>()),
            nlri(true, ap6)
        )
            .prop_map(|(a, ll, nlri)| MpReach {
                family: Family::IPV6_UNICAST,
                next_hop: MpNextHop {
                    addr: IpAddr::V6(Ipv6Addr::from(a)),
                    link_local: ll.map(Ipv6Addr::from),
                },
                nlri,
            }),
    ];
    let unreach = prop_oneof![
        nlri(false, ap4).prop_map(|withdrawn| MpUnreach {
            family: Family::IPV4_UNICAST,
            withdrawn
        }),
        nlri(true, ap6).prop_map(|withdrawn| MpUnreach {
            family: Family::IPV6_UNICAST,
            withdrawn
        }),
    ];
    let all = vec![
        prop_oneof![
            Just(Origin::Igp),
            Just(Origin::Egp),
            Just(Origin::Incomplete)
        ]
        .prop_map(Attr::Origin)
        .boxed(),
        segments(four, true).prop_map(Attr::AsPath).boxed(),
        any::<u32>()
            .prop_map(|a| Attr::NextHop(Ipv4Addr::from(a)))
            .boxed(),
        any::<u32>().prop_map(Attr::Med).boxed(),
        any::<u32>().prop_map(Attr::LocalPref).boxed(),
        Just(Attr::AtomicAggregate).boxed(),
        aggregator(four).prop_map(Attr::Aggregator).boxed(),
        vec(any::<u32>(), 1..80).prop_map(Attr::Communities).boxed(),
        any::<u32>()
            .prop_map(|a| Attr::OriginatorId(Ipv4Addr::from(a)))
            .boxed(),
        vec(any::<u32>().prop_map(Ipv4Addr::from), 1..5)
            .prop_map(Attr::ClusterList)
            .boxed(),
        reach.prop_map(Attr::MpReach).boxed(),
        unreach.prop_map(Attr::MpUnreach).boxed(),
        vec(any::<[u8; 8]>(), 1..5)
            .prop_map(Attr::ExtendedCommunities)
            .boxed(),
        segments(true, false).prop_map(Attr::As4Path).boxed(),
        aggregator(true).prop_map(Attr::As4Aggregator).boxed(),
        vec(any::<[u32; 3]>(), 1..5)
            .prop_map(Attr::LargeCommunities)
            .boxed(),
        (100u8..=200, vec(any::<u8>(), 0..300))
            .prop_map(|(code, data)| Attr::Unknown {
                flags: 0xe0,
                code,
                data,
            })
            .boxed(),
    ];
    // A subset, in a shuffled order.
    (vec(any::<bool>(), all.len()), all, any::<u64>()).prop_map(|(keep, all, seed)| {
        let mut v: Vec<Attr> = all
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(a, _)| a)
            .collect();
        let n = v.len();
        for i in 0..n {
            let j = (seed.wrapping_mul(i as u64 + 7) as usize) % n;
            v.swap(i, j);
        }
        v
    })
}

/// A valid UPDATE for `p`: the mandatory attributes are there when it announces.
fn update(p: SessionParams) -> impl Strategy<Value = Message> {
    let ap4 = p.add_path_rx.contains(&Family::IPV4_UNICAST);
    (nlri(false, ap4), attrs(&p), nlri(false, ap4)).prop_map(|(withdrawn, mut attrs, nlri)| {
        let has = |attrs: &Vec<Attr>, c: u8| attrs.iter().any(|a| a.code() == c);
        let announces = !nlri.is_empty() || has(&attrs, attr::MP_REACH_NLRI);
        if announces && !has(&attrs, attr::ORIGIN) {
            attrs.push(Attr::Origin(Origin::Igp));
        }
        if announces && !has(&attrs, attr::AS_PATH) {
            attrs.push(Attr::AsPath(vec![]));
        }
        if !nlri.is_empty() && !has(&attrs, attr::NEXT_HOP) {
            attrs.push(Attr::NextHop(Ipv4Addr::new(192, 0, 2, 1)));
        }
        Message::Update(Update {
            withdrawn,
            attrs,
            nlri,
        })
    })
}

fn message() -> impl Strategy<Value = (Message, SessionParams)> {
    params().prop_flat_map(|p| {
        let m = prop_oneof![
            open(),
            update(p.clone()),
            update(p.clone()),
            update(p.clone()),
            (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..20))
                .prop_map(|(c, s, d)| Message::Notification(Notification::new(c, s, d))),
            Just(Message::Keepalive),
            (family(), any::<u8>()).prop_map(|(family, subtype)| {
                Message::RouteRefresh(RouteRefresh { family, subtype })
            }),
        ];
        (m, Just(p))
    })
}

#[test]
fn generated_messages_round_trip() {
    runner()
        .run(&message(), |(m, p)| {
            let b = to_bytes(&m, &p);
            assert_eq!(parse(&b, &p).as_ref(), Ok(&m), "parse of {b:02x?}");
            if let Message::Update(u) = &m {
                assert_eq!(
                    parse_update(&b[HEADER_LEN..], &p),
                    UpdateOutcome::Ok(u.clone())
                );
            }
            assert_eq!(to_bytes(&parse(&b, &p).unwrap(), &p), b);
            Ok(())
        })
        .unwrap();
}

#[test]
fn mutated_valid_messages_do_not_panic() {
    let s = (
        message(),
        vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        any::<prop::sample::Index>(),
    );
    runner()
        .run(&s, |((m, p), edits, cut)| {
            let mut b = to_bytes(&m, &p);
            for (at, v) in edits {
                let i = at.index(b.len());
                b[i] = v;
            }
            parse_is_stable(&b, &p);
            // Truncated, with the header's length left alone or fixed up.
            let n = cut.index(b.len() + 1);
            b.truncate(n);
            parse_is_stable(&b, &p);
            if b.len() >= HEADER_LEN {
                let len = (b.len() as u16).to_be_bytes();
                b[16..18].copy_from_slice(&len);
                parse_is_stable(&b, &p);
            }
            Ok(())
        })
        .unwrap();
}
