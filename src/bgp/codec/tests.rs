//! Byte-literal fixtures, built by hand from the RFC layouts, checked both ways
//! (`parse(bytes) == model`, `emit(model) == bytes`, hex-diffed), and the RFC 7606 outcomes.
//! Fixtures marked "exabgp" were also decoded by `exabgp decode` (5.0.15) to the same
//! values. (`exabgp decode` assumes a 4-octet-AS session, so it cannot check the 2-octet
//! fixtures: it reads their AS_PATH as malformed, treat-as-withdraw, as we would.)

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Header (marker, the literal length `len`, type) + body; checks `len` is right.
fn m(len: u16, kind: u8, body: &[u8]) -> Vec<u8> {
    assert_eq!(usize::from(len), HEADER_LEN + body.len(), "fixture length");
    let mut v = vec![0xff; 16];
    v.extend_from_slice(&len.to_be_bytes());
    v.push(kind);
    v.extend_from_slice(body);
    v
}

fn two() -> SessionParams {
    SessionParams::default()
}

fn four() -> SessionParams {
    SessionParams {
        four_octet_as: true,
        ..SessionParams::default()
    }
}

fn both_ways(bytes: &[u8], msg: &Message, p: &SessionParams) {
    assert_eq!(hex(&to_bytes(msg, p)), hex(bytes), "emit");
    assert_eq!(parse(bytes, p).as_ref(), Ok(msg), "parse of {}", hex(bytes));
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn n(s: &str) -> Nlri {
    Nlri {
        path_id: None,
        prefix: s.parse().unwrap(),
    }
}

fn np(id: u32, s: &str) -> Nlri {
    Nlri {
        path_id: Some(id),
        prefix: s.parse().unwrap(),
    }
}

fn seq(asns: &[u32]) -> Segment {
    Segment {
        kind: SegmentKind::Sequence,
        asns: asns.to_vec(),
    }
}

fn outcome(body: &[u8], p: &SessionParams) -> UpdateOutcome {
    parse_update(body, p)
}

#[test]
fn keepalive() {
    both_ways(&m(19, 4, &[]), &Message::Keepalive, &two());
}

#[test]
fn notification_cease_admin_shutdown() {
    let b = m(21, 3, &[0x06, 0x02]);
    let n = Notification::new(err::CEASE, err::cease::ADMINISTRATIVE_SHUTDOWN, vec![]);
    both_ways(&b, &Message::Notification(n), &two());
    let b = m(23, 3, &[0x03, 0x01, 0xab, 0xcd]);
    let n = Notification::new(3, 1, vec![0xab, 0xcd]);
    both_ways(&b, &Message::Notification(n), &two());
}

#[test]
fn route_refresh_with_enhanced_subtype() {
    let b = m(23, 5, &[0x00, 0x02, 0x01, 0x01]);
    let r = RouteRefresh {
        family: Family::IPV6_UNICAST,
        subtype: 1,
    };
    both_ways(&b, &Message::RouteRefresh(r), &two());
}

// exabgp
#[test]
fn open_with_every_capability() {
    #[rustfmt::skip]
    let body = [
        0x04, 0xfd, 0xe9, 0x00, 0x5a, 0x0a, 0x00, 0x00, 0x01, // v4, AS 65001, hold 90, id
        0x2c, 0x02, 0x2a, // 44 bytes of parameters: one Capabilities parameter of 42
        0x01, 0x04, 0x00, 0x01, 0x00, 0x01, // MP IPv4 unicast
        0x01, 0x04, 0x00, 0x02, 0x00, 0x01, // MP IPv6 unicast
        0x02, 0x00, // route refresh
        0x46, 0x00, // enhanced route refresh
        0x41, 0x04, 0x00, 0x00, 0xfd, 0xe9, // 4-octet AS 65001
        0x40, 0x06, 0x80, 0x78, 0x00, 0x01, 0x01, 0x80, // GR: R, 120 s, IPv4 unicast F
        0x06, 0x00, // extended message
        0x45, 0x04, 0x00, 0x01, 0x01, 0x03, // ADD-PATH IPv4 unicast send+receive
        0xdc, 0x02, 0x61, 0x62, // unknown (220, unassigned) kept raw
    ];
    let o = Open {
        my_as: 65001,
        hold_time: 90,
        bgp_id: v4("10.0.0.1"),
        capabilities: vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(65001),
            Capability::GracefulRestart(GracefulRestart {
                flags: 0x8,
                restart_time: 120,
                families: vec![(Family::IPV4_UNICAST, 0x80)],
            }),
            Capability::ExtendedMessage,
            Capability::AddPath(vec![(Family::IPV4_UNICAST, AddPathMode::Both)]),
            Capability::Unknown {
                code: 220,
                data: b"ab".to_vec(),
            },
        ],
    };
    both_ways(&m(73, 1, &body), &Message::Open(o.clone()), &two());
    assert_eq!(o.asn(), 65001);
}

// exabgp (the first)
#[test]
fn open_without_parameters_and_split_parameters() {
    let body = [0x04, 0x5b, 0xa0, 0x00, 0xb4, 0xc0, 0x00, 0x02, 0x01, 0x00];
    let o = Open {
        my_as: AS_TRANS,
        hold_time: 180,
        bgp_id: v4("192.0.2.1"),
        capabilities: vec![],
    };
    both_ways(&m(29, 1, &body), &Message::Open(o), &two());
    // Two Capabilities parameters parse as one list (emit would use one parameter).
    #[rustfmt::skip]
    let body = [
        0x04, 0x5b, 0xa0, 0x00, 0xb4, 0xc0, 0x00, 0x02, 0x01,
        0x0c, 0x02, 0x06, 0x41, 0x04, 0xfa, 0x56, 0xea, 0x00, 0x02, 0x02, 0x02, 0x00,
    ];
    let Ok(Message::Open(o)) = parse(&m(41, 1, &body), &two()) else {
        panic!()
    };
    assert_eq!(
        o.capabilities,
        vec![
            Capability::FourOctetAs(4_200_000_000),
            Capability::RouteRefresh
        ]
    );
    assert_eq!(o.asn(), 4_200_000_000);
}

#[test]
fn open_errors() {
    let ok = [0x04, 0xfd, 0xe9, 0x00, 0x5a, 0x0a, 0x00, 0x00, 0x01, 0x00];
    let err_of = |body: &[u8]| parse(&m(19 + body.len() as u16, 1, body), &two()).unwrap_err();
    let mut b = ok;
    b[0] = 3;
    assert_eq!(err_of(&b), Notification::new(2, 1, vec![0, 4]));
    let mut b = ok;
    b[4] = 1;
    assert_eq!(err_of(&b).subcode, err::open::UNACCEPTABLE_HOLD_TIME);
    let mut b = ok;
    b[5..9].copy_from_slice(&[0; 4]);
    assert_eq!(err_of(&b).subcode, err::open::BAD_BGP_IDENTIFIER);
    let b = [
        0x04, 0xfd, 0xe9, 0x00, 0x5a, 0x0a, 0x00, 0x00, 0x01, 0x02, 0x01, 0x00,
    ];
    assert_eq!(
        err_of(&b).subcode,
        err::open::UNSUPPORTED_OPTIONAL_PARAMETER
    );
    // Parameter length past the end; a capability overrunning its parameter.
    let b = [
        0x04, 0xfd, 0xe9, 0x00, 0x5a, 0x0a, 0x00, 0x00, 0x01, 0x05, 0x02, 0x00,
    ];
    assert_eq!(err_of(&b).code, err::OPEN_MESSAGE);
    let b = [
        0x04, 0xfd, 0xe9, 0x00, 0x5a, 0x0a, 0x00, 0x00, 0x01, 0x04, 0x02, 0x02, 0x41, 0x04,
    ];
    assert_eq!(err_of(&b).code, err::OPEN_MESSAGE);
}

#[test]
fn header_errors() {
    let mut b = m(19, 4, &[]);
    b[3] = 0;
    assert_eq!(parse(&b, &two()).unwrap_err().subcode, 1);
    assert_eq!(
        parse(&m(20, 4, &[0]), &two()).unwrap_err(),
        Notification::new(1, 2, vec![0, 20])
    );
    assert_eq!(
        parse(&m(19, 9, &[]), &two()).unwrap_err(),
        Notification::new(1, 3, vec![9])
    );
    let mut b = m(19, 4, &[]);
    b[17] = 18;
    assert_eq!(
        frame_len(&b, &two()).unwrap_err(),
        Notification::new(1, 2, vec![0, 18])
    );
    assert_eq!(frame_len(&b[..18], &two()), Ok(None));
    b[16] = 0x13;
    b[17] = 0x88; // 5000
    assert_eq!(frame_len(&b, &two()).unwrap_err().subcode, 2);
    let ext = SessionParams {
        extended_messages: true,
        ..two()
    };
    assert_eq!(frame_len(&b, &ext), Ok(Some(5000)));
    assert_eq!(parse(&m(22, 3, &[6, 0, 0]), &two()).map(|_| ()), Ok(()));
    assert_eq!(
        parse(&m(20, 3, &[6]), &two()).unwrap_err(),
        Notification::new(1, 2, vec![0, 20])
    );
    assert_eq!(
        parse(&m(24, 5, &[0, 1, 0, 1, 0]), &two()).unwrap_err().code,
        err::ROUTE_REFRESH
    );
}

#[test]
fn update_ipv4_two_octet_session() {
    #[rustfmt::skip]
    let body = [
        0x00, 0x03, 0x10, 0x0a, 0x01, // withdrawn 10.1.0.0/16
        0x00, 0x35,
        0x40, 0x01, 0x01, 0x00, // ORIGIN IGP
        0x40, 0x02, 0x06, 0x02, 0x02, 0xfd, 0xe9, 0xfd, 0xea, // AS_PATH SEQ 65001 65002
        0x40, 0x03, 0x04, 0xc0, 0x00, 0x02, 0x01, // NEXT_HOP
        0x80, 0x04, 0x04, 0x00, 0x00, 0x00, 0x64, // MED 100
        0x40, 0x05, 0x04, 0x00, 0x00, 0x00, 0xc8, // LOCAL_PREF 200
        0x40, 0x06, 0x00, // ATOMIC_AGGREGATE
        0xc0, 0x07, 0x06, 0xfd, 0xe9, 0x0a, 0x00, 0x00, 0x01, // AGGREGATOR 65001 10.0.0.1
        0xc0, 0x08, 0x04, 0xfd, 0xe9, 0x00, 0x64, // COMMUNITIES 65001:100
        0x18, 0xc0, 0x00, 0x02, 0x08, 0x0a, // NLRI 192.0.2.0/24 10.0.0.0/8
    ];
    let u = Update {
        withdrawn: vec![n("10.1.0.0/16")],
        attrs: vec![
            Attr::Origin(Origin::Igp),
            Attr::AsPath(vec![seq(&[65001, 65002])]),
            Attr::NextHop(v4("192.0.2.1")),
            Attr::Med(100),
            Attr::LocalPref(200),
            Attr::AtomicAggregate,
            Attr::Aggregator(Aggregator {
                asn: 65001,
                addr: v4("10.0.0.1"),
            }),
            Attr::Communities(vec![0xfde9_0064]),
        ],
        nlri: vec![n("192.0.2.0/24"), n("10.0.0.0/8")],
    };
    both_ways(&m(85, 2, &body), &Message::Update(u), &two());
}

// exabgp
#[test]
fn update_four_octet_session_with_ipv6_and_reflection() {
    #[rustfmt::skip]
    let body = [
        0x00, 0x00, 0x00, 0x81,
        0x40, 0x01, 0x01, 0x02, // ORIGIN INCOMPLETE
        0x40, 0x02, 0x14, // AS_PATH: SEQ 4200000000 65001, SET 1 2
        0x02, 0x02, 0xfa, 0x56, 0xea, 0x00, 0x00, 0x00, 0xfd, 0xe9,
        0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
        0xc0, 0x07, 0x08, 0xfa, 0x56, 0xea, 0x00, 0x0a, 0x00, 0x00, 0x01, // AGGREGATOR
        0xc0, 0x20, 0x0c, 0xfa, 0x56, 0xea, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
        0xc0, 0x10, 0x08, 0x00, 0x02, 0xfd, 0xe9, 0x00, 0x00, 0x00, 0x64, // RT 65001:100
        0x80, 0x09, 0x04, 0x0a, 0x00, 0x00, 0x09, // ORIGINATOR_ID
        0x80, 0x0a, 0x08, 0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, // CLUSTER_LIST
        0x80, 0x0e, 0x2c, 0x00, 0x02, 0x01, 0x20, // MP_REACH IPv6 unicast, 32-byte next hop
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
        0x00, 0x30, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, // 2001:db8:1::/48
    ];
    let u = Update {
        withdrawn: vec![],
        attrs: vec![
            Attr::Origin(Origin::Incomplete),
            Attr::AsPath(vec![
                seq(&[4_200_000_000, 65001]),
                Segment {
                    kind: SegmentKind::Set,
                    asns: vec![1, 2],
                },
            ]),
            Attr::Aggregator(Aggregator {
                asn: 4_200_000_000,
                addr: v4("10.0.0.1"),
            }),
            Attr::LargeCommunities(vec![[4_200_000_000, 1, 2]]),
            Attr::ExtendedCommunities(vec![[0x00, 0x02, 0xfd, 0xe9, 0, 0, 0, 0x64]]),
            Attr::OriginatorId(v4("10.0.0.9")),
            Attr::ClusterList(vec![v4("10.0.0.1"), v4("10.0.0.2")]),
            Attr::MpReach(MpReach {
                family: Family::IPV6_UNICAST,
                next_hop: MpNextHop {
                    addr: v6("2001:db8::1").into(),
                    link_local: Some(v6("fe80::1")),
                },
                nlri: vec![n("2001:db8:1::/48")],
            }),
        ],
        nlri: vec![],
    };
    both_ways(&m(152, 2, &body), &Message::Update(u), &four());
}

#[test]
fn update_two_octet_session_with_as4_attributes() {
    #[rustfmt::skip]
    let body = [
        0x00, 0x00, 0x00, 0x2c,
        0x40, 0x01, 0x01, 0x00,
        0x40, 0x02, 0x06, 0x02, 0x02, 0x5b, 0xa0, 0xfd, 0xe9, // SEQ AS_TRANS 65001
        0x40, 0x03, 0x04, 0xc0, 0x00, 0x02, 0x01,
        0xc0, 0x11, 0x0a, 0x02, 0x02, 0xfa, 0x56, 0xea, 0x00, 0x00, 0x00, 0xfd, 0xe9,
        0xc0, 0x12, 0x08, 0xfa, 0x56, 0xea, 0x00, 0x0a, 0x00, 0x00, 0x01,
        0x18, 0xc6, 0x33, 0x64, // 198.51.100.0/24
    ];
    let u = Update {
        withdrawn: vec![],
        attrs: vec![
            Attr::Origin(Origin::Igp),
            Attr::AsPath(vec![seq(&[u32::from(AS_TRANS), 65001])]),
            Attr::NextHop(v4("192.0.2.1")),
            Attr::As4Path(vec![seq(&[4_200_000_000, 65001])]),
            Attr::As4Aggregator(Aggregator {
                asn: 4_200_000_000,
                addr: v4("10.0.0.1"),
            }),
        ],
        nlri: vec![n("198.51.100.0/24")],
    };
    both_ways(&m(71, 2, &body), &Message::Update(u.clone()), &two());
    // A 4-octet AS in a 2-octet session's AS_PATH is written as AS_TRANS.
    let mut big = u;
    big.attrs[1] = Attr::AsPath(vec![seq(&[4_200_000_000, 65001])]);
    assert_eq!(
        hex(&to_bytes(&Message::Update(big), &two())),
        hex(&m(71, 2, &body))
    );
}

#[test]
fn update_withdrawals_with_add_path() {
    #[rustfmt::skip]
    let body = [
        0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x18, 0xc0, 0x00, 0x02, // path 1 192.0.2.0/24
        0x00, 0x13,
        0x80, 0x0f, 0x10, 0x00, 0x02, 0x01, // MP_UNREACH IPv6 unicast
        0x00, 0x00, 0x00, 0x07, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
    ];
    let p = SessionParams {
        add_path_rx: BTreeSet::from([Family::IPV4_UNICAST, Family::IPV6_UNICAST]),
        ..four()
    };
    let u = Update {
        withdrawn: vec![np(1, "192.0.2.0/24")],
        attrs: vec![Attr::MpUnreach(MpUnreach {
            family: Family::IPV6_UNICAST,
            withdrawn: vec![np(7, "2001:db8::/64")],
        })],
        nlri: vec![],
    };
    both_ways(&m(50, 2, &body), &Message::Update(u), &p);
    // Without ADD-PATH negotiated for IPv4 those bytes are a bad withdrawn field.
    assert!(matches!(
        outcome(&body, &four()),
        UpdateOutcome::SessionReset(_)
    ));
}

#[test]
fn announcements_with_add_path() {
    #[rustfmt::skip]
    let body = [
        0x00, 0x00, 0x00, 0x2f,
        0x40, 0x01, 0x01, 0x00,
        0x40, 0x02, 0x00,
        0x40, 0x03, 0x04, 0xc0, 0x00, 0x02, 0x01,
        0x80, 0x0e, 0x1e, 0x00, 0x02, 0x01, 0x10, // MP_REACH IPv6, 16-byte next hop
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x20, 0x20, 0x01, 0x0d, 0xb8, // path 2 2001:db8::/32
        0x00, 0x00, 0x00, 0x05, 0x18, 0xc0, 0x00, 0x02, // path 5 192.0.2.0/24
    ];
    let p = SessionParams {
        add_path_rx: BTreeSet::from([Family::IPV4_UNICAST, Family::IPV6_UNICAST]),
        ..four()
    };
    let u = Update {
        withdrawn: vec![],
        attrs: vec![
            Attr::Origin(Origin::Igp),
            Attr::AsPath(vec![]),
            Attr::NextHop(v4("192.0.2.1")),
            Attr::MpReach(MpReach {
                family: Family::IPV6_UNICAST,
                next_hop: MpNextHop {
                    addr: v6("2001:db8::1").into(),
                    link_local: None,
                },
                nlri: vec![np(2, "2001:db8::/32")],
            }),
        ],
        nlri: vec![np(5, "192.0.2.0/24")],
    };
    both_ways(&m(78, 2, &body), &Message::Update(u), &p);
}

#[test]
fn end_of_rib_and_ipv4_mp_reach() {
    both_ways(
        &m(23, 2, &[0, 0, 0, 0]),
        &Message::Update(Update::default()),
        &two(),
    );
    #[rustfmt::skip]
    let body = [
        0x00, 0x00, 0x00, 0x16,
        0x40, 0x01, 0x01, 0x00,
        0x40, 0x02, 0x00, // empty AS_PATH (iBGP)
        0x80, 0x0e, 0x0c, 0x00, 0x01, 0x01, 0x04, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x10, 0xac, 0x10,
    ];
    let u = Update {
        withdrawn: vec![],
        attrs: vec![
            Attr::Origin(Origin::Igp),
            Attr::AsPath(vec![]),
            Attr::MpReach(MpReach {
                family: Family::IPV4_UNICAST,
                next_hop: MpNextHop {
                    addr: v4("10.0.0.1").into(),
                    link_local: None,
                },
                nlri: vec![n("172.16.0.0/16")],
            }),
        ],
        nlri: vec![],
    };
    both_ways(&m(45, 2, &body), &Message::Update(u), &two());
}

#[test]
fn unknown_transitive_attribute_gets_partial_on_reemit() {
    let body = [0x00, 0x00, 0x00, 0x05, 0xc0, 0x63, 0x02, 0xaa, 0xbb];
    let Ok(Message::Update(u)) = parse(&m(28, 2, &body), &two()) else {
        panic!()
    };
    assert_eq!(
        u.attrs,
        vec![Attr::Unknown {
            flags: 0xe0,
            code: 99,
            data: vec![0xaa, 0xbb]
        }]
    );
    let again = [0x00, 0x00, 0x00, 0x05, 0xe0, 0x63, 0x02, 0xaa, 0xbb];
    assert_eq!(
        hex(&to_bytes(&Message::Update(u), &two())),
        hex(&m(28, 2, &again))
    );
    // Optional non-transitive unknowns are quietly ignored.
    let body = [0x00, 0x00, 0x00, 0x04, 0x80, 0x63, 0x01, 0xaa];
    assert_eq!(outcome(&body, &two()), UpdateOutcome::Ok(Update::default()));
    // MP_REACH of a family we do not decode is kept raw.
    let body = [
        0x00, 0x00, 0x00, 0x07, 0x80, 0x0e, 0x04, 0x00, 0x01, 0x80, 0x00,
    ];
    let UpdateOutcome::TreatAsWithdraw { reasons, .. } = outcome(&body, &two()) else {
        panic!("no ORIGIN/AS_PATH with a reachable family")
    };
    assert_eq!(reasons.len(), 2);
}

#[test]
fn extended_length_attribute() {
    let cs: Vec<u32> = (0..70).collect();
    let mut body = vec![0x00, 0x00, 0x01, 0x1c, 0xd0, 0x08, 0x01, 0x18];
    for c in &cs {
        body.extend_from_slice(&c.to_be_bytes());
    }
    let u = Update {
        attrs: vec![Attr::Communities(cs)],
        ..Update::default()
    };
    both_ways(&m(19 + 288, 2, &body), &Message::Update(u), &two());
}

/// An UPDATE body: no withdrawals, these attributes, NLRI 192.0.2.0/24.
fn with_attrs(attrs: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0];
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(&[0x18, 0xc0, 0x00, 0x02]);
    b
}

const ORIGIN: [u8; 4] = [0x40, 0x01, 0x01, 0x00];
const AS_PATH: [u8; 7] = [0x40, 0x02, 0x04, 0x02, 0x01, 0xfd, 0xe9];
const NEXT_HOP: [u8; 7] = [0x40, 0x03, 0x04, 0xc0, 0x00, 0x02, 0x01];

fn base_plus(extra: &[u8]) -> Vec<u8> {
    let mut a = [ORIGIN.as_slice(), &AS_PATH, &NEXT_HOP].concat();
    a.extend_from_slice(extra);
    with_attrs(&a)
}

fn withdrawal_of_nlri() -> Update {
    Update {
        withdrawn: vec![n("192.0.2.0/24")],
        ..Update::default()
    }
}

fn reason(code: u8, what: Malformation) -> Reason {
    Reason { code, what }
}

#[test]
fn rfc7606_treat_as_withdraw() {
    let cases: Vec<(Vec<u8>, Reason)> = vec![
        (
            with_attrs(&[[0x40, 0x01, 0x01, 0x03].as_slice(), &AS_PATH, &NEXT_HOP].concat()),
            reason(attr::ORIGIN, Malformation::Value),
        ),
        (
            with_attrs(&[ORIGIN.as_slice(), &AS_PATH].concat()),
            reason(attr::NEXT_HOP, Malformation::Missing),
        ),
        (
            base_plus(&[0xc0, 0x04, 0x04, 0, 0, 0, 1]),
            reason(attr::MED, Malformation::Flags),
        ),
        (
            base_plus(&[0xc0, 0x08, 0x03, 0, 0, 1]),
            reason(attr::COMMUNITIES, Malformation::Length),
        ),
        (
            base_plus(&[0x40, 0x05, 0x02, 0, 1]),
            reason(attr::LOCAL_PREF, Malformation::Length),
        ),
        (
            base_plus(&[0xc0, 0x20, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            reason(attr::LARGE_COMMUNITIES, Malformation::Length),
        ),
        (
            base_plus(&[0x80, 0x0a, 0x00]),
            reason(attr::CLUSTER_LIST, Malformation::Length),
        ),
        (
            base_plus(&[0x40, 0x02, 0x02, 0x02, 0x00]).split_off(0),
            reason(attr::AS_PATH, Malformation::Duplicate),
        ),
        (
            with_attrs(
                &[
                    ORIGIN.as_slice(),
                    &[0x40, 0x02, 0x02, 0x05, 0x01],
                    &NEXT_HOP,
                ]
                .concat(),
            ),
            reason(attr::AS_PATH, Malformation::Value),
        ),
        (
            base_plus(&[0xc0, 0x08, 0x08, 0, 0, 0, 1]),
            reason(attr::COMMUNITIES, Malformation::Overrun),
        ),
    ];
    for (i, (body, want)) in cases.into_iter().enumerate() {
        match outcome(&body, &two()) {
            UpdateOutcome::TreatAsWithdraw { update, reasons } => {
                assert_eq!(update, withdrawal_of_nlri(), "case {i}");
                assert_eq!(reasons, vec![want], "case {i}");
                // parse gives the withdrawal itself.
                let msg = m(19 + body.len() as u16, 2, &body);
                assert_eq!(parse(&msg, &two()), Ok(Message::Update(update)), "case {i}");
            }
            UpdateOutcome::AttributeDiscard { reasons, .. } if i == 7 => {
                assert_eq!(reasons, vec![want], "case {i}");
            }
            o => panic!("case {i}: {o:?}"),
        }
    }
}

#[test]
fn rfc7606_treat_as_withdraw_covers_mp_reach() {
    #[rustfmt::skip]
    let attrs = [
        0x40, 0x01, 0x01, 0x09, // bad ORIGIN
        0x40, 0x02, 0x00,
        0x80, 0x0f, 0x06, 0x00, 0x02, 0x01, 0x10, 0x20, 0x01, // unreach 2001::/16
        0x80, 0x0e, 0x1a, 0x00, 0x02, 0x01, 0x10, // reach 2001:db8::/32
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
        0x00, 0x20, 0x20, 0x01, 0x0d, 0xb8,
    ];
    let body = [vec![0, 0, 0, attrs.len() as u8], attrs.to_vec()].concat();
    let UpdateOutcome::TreatAsWithdraw { update, reasons } = outcome(&body, &two()) else {
        panic!()
    };
    assert_eq!(reasons, vec![reason(attr::ORIGIN, Malformation::Value)]);
    assert_eq!(
        update.attrs,
        vec![Attr::MpUnreach(MpUnreach {
            family: Family::IPV6_UNICAST,
            withdrawn: vec![n("2001::/16"), n("2001:db8::/32")],
        })]
    );
}

#[test]
fn rfc7606_attribute_discard() {
    let cases: Vec<(Vec<u8>, Reason)> = vec![
        (
            base_plus(&[0x40, 0x06, 0x01, 0x00]),
            reason(attr::ATOMIC_AGGREGATE, Malformation::Length),
        ),
        (
            base_plus(&[0xc0, 0x07, 0x08, 0, 0, 0, 1, 10, 0, 0, 1]),
            reason(attr::AGGREGATOR, Malformation::Length),
        ),
        (
            base_plus(&[0xc0, 0x11, 0x02, 0x02, 0x00]),
            reason(attr::AS4_PATH, Malformation::Value),
        ),
        (
            base_plus(&[0xc0, 0x11, 0x06, 0x03, 0x01, 0, 0, 0xfd, 0xe9]),
            reason(attr::AS4_PATH, Malformation::Value),
        ),
        (
            base_plus(&[0x40, 0x12, 0x08, 0, 0, 0, 1, 10, 0, 0, 1]),
            reason(attr::AS4_AGGREGATOR, Malformation::Flags),
        ),
        (
            base_plus(&[0x80, 0x04, 0x04, 0, 0, 0, 1, 0x80, 0x04, 0x04, 0, 0, 0, 2]),
            reason(attr::MED, Malformation::Duplicate),
        ),
    ];
    for (i, (body, want)) in cases.into_iter().enumerate() {
        let UpdateOutcome::AttributeDiscard { update, reasons } = outcome(&body, &two()) else {
            panic!("case {i}: {:?}", outcome(&body, &two()))
        };
        assert_eq!(reasons, vec![want], "case {i}");
        let kept: Vec<u8> = update.attrs.iter().map(Attr::code).collect();
        let expect_med = usize::from(i == 5);
        assert_eq!(kept.len(), 3 + expect_med, "case {i}");
        if i == 5 {
            assert_eq!(update.attrs[3], Attr::Med(1), "the first MED stays");
        }
        assert_eq!(update.nlri, vec![n("192.0.2.0/24")]);
    }
}

#[test]
fn rfc7606_session_reset() {
    let reset = |body: &[u8]| match outcome(body, &two()) {
        UpdateOutcome::SessionReset(n) => (n.code, n.subcode),
        o => panic!("{o:?}"),
    };
    // Withdrawn length past the end; attribute length past the end.
    assert_eq!(reset(&[0x00, 0x05, 0x18]), (3, 1));
    assert_eq!(reset(&[0x00, 0x00, 0x00, 0x09, 0x40]), (3, 1));
    // A prefix longer than 32 bits; a prefix overrunning the NLRI field.
    assert_eq!(
        reset(&[0x00, 0x00, 0x00, 0x00, 0x21, 1, 2, 3, 4, 5]),
        (3, 10)
    );
    assert_eq!(reset(&[0x00, 0x00, 0x00, 0x00, 0x18, 1, 2]), (3, 10));
    // MP_REACH with a 5-byte next hop; MP_UNREACH twice; an unknown well-known attribute.
    assert_eq!(
        reset(&base_plus(&[
            0x80, 0x0e, 0x0a, 0x00, 0x01, 0x01, 0x05, 1, 2, 3, 4, 5, 0
        ])),
        (3, 9)
    );
    let un = [0x80, 0x0f, 0x03, 0x00, 0x01, 0x01];
    assert_eq!(reset(&base_plus(&[un, un].concat())), (3, 1));
    let UpdateOutcome::SessionReset(n) = outcome(&base_plus(&[0x40, 0x63, 0x01, 0x07]), &two())
    else {
        panic!()
    };
    assert_eq!(
        (n.code, n.subcode, n.data),
        (3, 2, vec![0x40, 0x63, 0x01, 0x07])
    );
    // Through parse, a reset is the NOTIFICATION.
    let body = [0x00, 0x05, 0x18, 0x00];
    assert_eq!(
        parse(&m(23, 2, &body), &two()).unwrap_err(),
        Notification::new(3, 1, vec![])
    );
}
