use super::*;
use crate::bgp::codec::{self, Aggregator, Attr, Family, Message, SessionParams, Update};

fn seq(a: &[u32]) -> Segment {
    Segment {
        kind: SegmentKind::Sequence,
        asns: a.to_vec(),
    }
}

fn set(a: &[u32]) -> Segment {
    Segment {
        kind: SegmentKind::Set,
        asns: a.to_vec(),
    }
}

#[test]
fn as4_path_fills_in_the_trans_ases() {
    // A 2-octet speaker 65001 prepended itself in front of a path from 4-octet land.
    let as_path = vec![seq(&[65001, 23456, 23456])];
    let as4 = vec![seq(&[4_200_000_001, 4_200_000_002])];
    assert_eq!(
        merge_as4_path(&as_path, &as4),
        vec![seq(&[65001, 4_200_000_001, 4_200_000_002])]
    );
}

#[test]
fn as4_path_longer_than_as_path_is_ignored() {
    let as_path = vec![seq(&[23456])];
    let as4 = vec![seq(&[4_200_000_001, 4_200_000_002])];
    assert_eq!(merge_as4_path(&as_path, &as4), as_path);
}

#[test]
fn as4_path_with_a_set_counts_it_as_one() {
    let as_path = vec![seq(&[65001, 23456]), set(&[1, 2])];
    let as4 = vec![seq(&[4_200_000_001]), set(&[1, 2])];
    assert_eq!(
        merge_as4_path(&as_path, &as4),
        vec![seq(&[65001, 4_200_000_001]), set(&[1, 2])]
    );
}

fn two_octet_attrs(agg: Option<Aggregator>, agg4: Option<Aggregator>) -> Vec<Attr> {
    let mut v = vec![
        Attr::Origin(codec::Origin::Igp),
        Attr::AsPath(vec![seq(&[65001, 23456])]),
        Attr::NextHop("192.0.2.1".parse().unwrap()),
    ];
    v.extend(agg.map(Attr::Aggregator));
    v.push(Attr::As4Path(vec![seq(&[4_200_000_001])]));
    v.extend(agg4.map(Attr::As4Aggregator));
    v
}

#[test]
fn from_a_two_octet_peer_as4_attributes_are_reconciled() {
    let trans = Aggregator {
        asn: 23456,
        addr: "10.0.0.1".parse().unwrap(),
    };
    let real = Aggregator {
        asn: 4_200_000_001,
        addr: "10.0.0.1".parse().unwrap(),
    };
    let d = PathAttrs::from_attrs(two_octet_attrs(Some(trans), Some(real)), false);
    assert_eq!(d.attrs.as_path, vec![seq(&[65001, 4_200_000_001])]);
    assert_eq!(d.attrs.aggregator, Some(real));
    assert_eq!(d.attrs.next_hop, "192.0.2.1".parse::<IpAddr>().unwrap());
}

#[test]
fn an_aggregator_with_a_real_two_octet_as_voids_as4_attributes() {
    let agg = Aggregator {
        asn: 65002,
        addr: "10.0.0.1".parse().unwrap(),
    };
    let real = Aggregator {
        asn: 4_200_000_001,
        addr: "10.0.0.1".parse().unwrap(),
    };
    let d = PathAttrs::from_attrs(two_octet_attrs(Some(agg), Some(real)), false);
    assert_eq!(d.attrs.as_path, vec![seq(&[65001, 23456])]);
    assert_eq!(d.attrs.aggregator, Some(agg));
}

#[test]
fn on_a_four_octet_session_as4_attributes_are_ignored() {
    let d = PathAttrs::from_attrs(two_octet_attrs(None, None), true);
    assert_eq!(d.attrs.as_path, vec![seq(&[65001, 23456])]);
}

#[test]
fn two_octet_round_trip_through_the_wire() {
    let mut p = PathAttrs::new(codec::Origin::Igp, "192.0.2.1".parse().unwrap());
    p.as_path = vec![seq(&[65001, 4_200_000_001, 65002])];
    p.aggregator = Some(Aggregator {
        asn: 4_200_000_009,
        addr: "10.0.0.9".parse().unwrap(),
    });
    p.communities = vec![community::NO_EXPORT, (65000 << 16) | 100];
    p.large_communities = vec![[4_200_000_001, 1, 2]];
    p.med = Some(5);
    let attrs = p.to_attrs(false, Family::IPV4_UNICAST);
    assert!(attrs.iter().any(|a| matches!(a, Attr::As4Path(_))));
    let params = SessionParams::default();
    let msg = Message::Update(Update {
        withdrawn: vec![],
        attrs,
        nlri: vec![codec::Nlri {
            path_id: None,
            prefix: "10.1.0.0/16".parse().unwrap(),
        }],
    });
    let bytes = codec::to_bytes(&msg, &params);
    let Ok(Message::Update(u)) = codec::parse(&bytes, &params) else {
        panic!("not an update");
    };
    // On the wire the 2-octet AS_PATH carries AS_TRANS.
    assert!(
        u.attrs
            .contains(&Attr::AsPath(vec![seq(&[65001, 23456, 65002])]))
    );
    let back = PathAttrs::from_attrs(u.attrs, false).attrs;
    assert_eq!(back, p);
}

#[test]
fn to_a_four_octet_peer_no_as4_path() {
    let mut p = PathAttrs::new(codec::Origin::Igp, "192.0.2.1".parse().unwrap());
    p.as_path = vec![seq(&[4_200_000_001])];
    let attrs = p.to_attrs(true, Family::IPV4_UNICAST);
    assert!(!attrs.iter().any(|a| matches!(a, Attr::As4Path(_))));
    // IPv6: no NEXT_HOP attribute.
    let v6 = PathAttrs::new(codec::Origin::Igp, "2001:db8::1".parse().unwrap());
    assert!(
        !v6.to_attrs(true, Family::IPV6_UNICAST)
            .iter()
            .any(|a| matches!(a, Attr::NextHop(_)))
    );
}

#[test]
fn prepend_and_strings() {
    let mut p = PathAttrs::new(codec::Origin::Igp, "192.0.2.1".parse().unwrap());
    p.prepend(65000, 1);
    p.as_path.push(set(&[1, 2]));
    p.prepend(65001, 2);
    assert_eq!(as_path_string(&p.as_path), "65001 65001 65000 {1,2}");
    assert_eq!(as_path_len(&p.as_path), 4);
    assert_eq!(community_string(community::NO_EXPORT), "no-export");
    assert_eq!(community_string((65000 << 16) | 100), "65000:100");
    assert_eq!(large_community_string(&[1, 2, 3]), "1:2:3");
}
