//! One test per match, per action and per error; a proptest that `apply` never panics.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::bgp::codec::Origin;

fn attrs() -> PathAttrs {
    PathAttrs {
        origin: Origin::Igp,
        as_path: vec![
            Segment {
                kind: SegmentKind::Sequence,
                asns: vec![65001, 65002],
            },
            Segment {
                kind: SegmentKind::Set,
                asns: vec![65003, 65004],
            },
        ],
        next_hop: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        next_hop_link_local: None,
        med: None,
        local_pref: None,
        atomic_aggregate: false,
        aggregator: None,
        communities: vec![(65000 << 16) | 1],
        large_communities: vec![[65000, 1, 2]],
        ext_communities: vec![],
        originator_id: None,
        cluster_list: vec![],
        unknown: vec![],
    }
}

fn ctx(prefix: &str) -> RouteCtx<'static> {
    RouteCtx {
        prefix: prefix.parse().unwrap(),
        peer_addr: Some("192.0.2.1".parse().unwrap()),
        peer_name: "r2",
        local_as: 64999,
        local_addr: Some("192.0.2.2".parse().unwrap()),
    }
}

/// A policy of one rule `m` → reject; the verdict for `prefix` with `a`.
fn rejects(m: Match, prefix: &str, a: &PathAttrs) -> bool {
    let p = Policy::compile(&[Rule {
        matches: m,
        set: Set::default(),
        action: Some(Verdict::Reject),
    }])
    .unwrap();
    p.apply(&ctx(prefix), &mut a.clone()) == Verdict::Reject
}

fn strs(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

fn compile_err(r: Rule) -> PolicyError {
    Policy::compile(&[Rule::default(), r]).unwrap_err()
}

fn set_rule(set: Set) -> Policy {
    Policy::compile(&[Rule {
        matches: Match::default(),
        set,
        action: None,
    }])
    .unwrap()
}

#[test]
fn empty_policy_accepts_unchanged() {
    let p = Policy::compile(&[]).unwrap();
    assert!(p.is_empty());
    let mut a = attrs();
    assert_eq!(p.apply(&ctx("203.0.113.0/24"), &mut a), Verdict::Accept);
    assert_eq!(a, attrs());
}

#[test]
fn first_verdict_wins_and_no_verdict_accepts() {
    let rules = [
        Rule {
            set: Set {
                local_pref: Some(50),
                ..Set::default()
            },
            ..Rule::default()
        },
        Rule {
            matches: Match {
                prefix: strs(&["203.0.113.0/24"]),
                ..Match::default()
            },
            action: Some(Verdict::Accept),
            ..Rule::default()
        },
        Rule {
            action: Some(Verdict::Reject),
            ..Rule::default()
        },
    ];
    let p = Policy::compile(&rules).unwrap();
    let mut a = attrs();
    assert_eq!(p.apply(&ctx("203.0.113.0/24"), &mut a), Verdict::Accept);
    assert_eq!(
        a.local_pref,
        Some(50),
        "a rule without verdict still applies set"
    );
    assert_eq!(
        p.apply(&ctx("198.51.100.0/24"), &mut attrs()),
        Verdict::Reject
    );
    let only_set = Policy::compile(&rules[..1]).unwrap();
    assert_eq!(
        only_set.apply(&ctx("198.51.100.0/24"), &mut attrs()),
        Verdict::Accept
    );
}

#[test]
fn prefix_exact_ge_le() {
    let a = attrs();
    let m = |items: &[&str]| Match {
        prefix: strs(items),
        ..Match::default()
    };
    assert!(rejects(m(&["10.0.0.0/8"]), "10.0.0.0/8", &a));
    assert!(!rejects(m(&["10.0.0.0/8"]), "10.1.0.0/16", &a));
    assert!(rejects(m(&["10.0.0.0/8 le 24"]), "10.1.0.0/16", &a));
    assert!(rejects(m(&["10.0.0.0/8 le 24"]), "10.0.0.0/8", &a));
    assert!(!rejects(m(&["10.0.0.0/8 le 24"]), "10.1.2.128/25", &a));
    assert!(!rejects(m(&["10.0.0.0/8 le 24"]), "11.0.0.0/16", &a));
    assert!(rejects(m(&["10.0.0.0/8 ge 16"]), "10.1.2.3/32", &a));
    assert!(!rejects(m(&["10.0.0.0/8 ge 16"]), "10.0.0.0/15", &a));
    assert!(rejects(m(&["10.0.0.0/8 ge 16 le 20"]), "10.1.0.0/20", &a));
    assert!(rejects(m(&["10.0.0.0/8 le 20 ge 16"]), "10.1.0.0/16", &a));
    assert!(!rejects(m(&["10.0.0.0/8 ge 16 le 20"]), "10.1.0.0/21", &a));
    // A bare address is a host route; any element of the list may match.
    assert!(rejects(m(&["192.0.2.7", "10.0.0.0/8"]), "192.0.2.7/32", &a));
    assert!(rejects(m(&["0.0.0.0/0 le 32"]), "203.0.113.0/24", &a));
    assert!(!rejects(m(&["0.0.0.0/0 le 32"]), "2001:db8::/32", &a));
    assert!(rejects(m(&["2001:db8::/32 le 48"]), "2001:db8:1::/48", &a));
    assert!(!rejects(m(&["2001:db8::/32 le 48"]), "10.0.0.0/8", &a));
}

#[test]
fn prefix_errors_name_the_item() {
    for (item, bad) in [
        ("10.0.0.1/8", "host bits"),
        ("10.0.0.0/8 le 33", "0..=32"),
        ("2001:db8::/32 ge 129", "0..=128"),
        ("10.0.0.0/16 ge 8", "shorter"),
        ("10.0.0.0/8 ge 24 le 16", "below"),
        ("10.0.0.0/8 le 24 le 25", "twice"),
        ("10.0.0.0/8 ge", "needs a length"),
        ("10.0.0.0/8 eq 24", "unexpected"),
        ("ten/8", "not PREFIX/LEN"),
        ("", "empty"),
    ] {
        let e = compile_err(Rule {
            matches: Match {
                prefix: strs(&["192.0.2.0/24", item]),
                ..Match::default()
            },
            ..Rule::default()
        });
        assert_eq!(
            (e.rule, e.field, e.item),
            (1, "match.prefix", Some(1)),
            "{item}"
        );
        assert!(e.message.contains(bad), "{item}: {}", e.message);
    }
}

#[test]
fn prefix_ge_equal_to_len_is_fine() {
    let p = PrefixItem::parse("10.0.0.0/8 ge 8 le 8").unwrap();
    assert_eq!((p.ge, p.le), (8, 8));
}

#[test]
fn empty_match_list_is_an_error() {
    let e = compile_err(Rule {
        matches: Match {
            community: Some(vec![]),
            ..Match::default()
        },
        ..Rule::default()
    });
    assert_eq!((e.rule, e.field, e.item), (1, "match.community", None));
}

#[test]
fn as_path_contains() {
    let a = attrs();
    let m = |asn| Match {
        as_path_contains: Some(asn),
        ..Match::default()
    };
    assert!(rejects(m(65002), "192.0.2.0/24", &a));
    assert!(rejects(m(65004), "192.0.2.0/24", &a), "inside a SET too");
    assert!(!rejects(m(65005), "192.0.2.0/24", &a));
}

#[test]
fn as_path_regex_over_text() {
    assert_eq!(as_path_text(&attrs().as_path), "65001 65002 {65003,65004}");
    let a = attrs();
    let m = |re: &str| Match {
        as_path_regex: Some(re.into()),
        ..Match::default()
    };
    assert!(rejects(m("^65001 "), "192.0.2.0/24", &a));
    assert!(!rejects(m("^65002"), "192.0.2.0/24", &a));
    assert!(rejects(m(r"\{.*65004\}$"), "192.0.2.0/24", &a));
    assert!(rejects(
        m("^$"),
        "192.0.2.0/24",
        &PathAttrs {
            as_path: vec![],
            ..attrs()
        }
    ));
    let confed = vec![
        Segment {
            kind: SegmentKind::ConfedSequence,
            asns: vec![1, 2],
        },
        Segment {
            kind: SegmentKind::ConfedSet,
            asns: vec![3, 4],
        },
    ];
    assert_eq!(as_path_text(&confed), "(1 2) [3,4]");
}

#[test]
fn as_path_regex_error() {
    let e = compile_err(Rule {
        matches: Match {
            as_path_regex: Some("(65001".into()),
            ..Match::default()
        },
        ..Rule::default()
    });
    assert_eq!((e.rule, e.field, e.item), (1, "match.as_path_regex", None));
    assert!(e.message.contains("regular expression"), "{}", e.message);
}

#[test]
fn community_match_standard_and_well_known() {
    let a = attrs();
    let m = |c: &[&str]| Match {
        community: strs(c),
        ..Match::default()
    };
    assert!(rejects(m(&["65000:1"]), "192.0.2.0/24", &a));
    assert!(rejects(m(&["65000:2", "65000:1"]), "192.0.2.0/24", &a));
    assert!(!rejects(m(&["65000:2"]), "192.0.2.0/24", &a));
    let mut b = attrs();
    b.communities.push(community::NO_EXPORT);
    assert!(rejects(m(&["no-export"]), "192.0.2.0/24", &b));
    assert!(!rejects(m(&["no-export"]), "192.0.2.0/24", &a));
    for (name, v) in [
        ("no-export", community::NO_EXPORT),
        ("no-advertise", community::NO_ADVERTISE),
        ("no-export-subconfed", community::NO_EXPORT_SUBCONFED),
        ("no-peer", community::NO_PEER),
        ("blackhole", community::BLACKHOLE),
        ("65535:65281", community::NO_EXPORT),
        ("0:0", 0),
    ] {
        assert_eq!(parse_community(name), Ok(v), "{name}");
    }
}

#[test]
fn community_errors() {
    for bad in [
        "65536:1",
        "1:65536",
        "1",
        "1:2:3",
        "a:b",
        "no_export",
        "-1:0",
    ] {
        assert!(parse_community(bad).is_err(), "{bad}");
    }
    let e = compile_err(Rule {
        set: Set {
            community_remove: strs(&["65000:1", "65000:x"]),
            ..Set::default()
        },
        ..Rule::default()
    });
    assert_eq!(
        (e.rule, e.field, e.item),
        (1, "set.community_remove", Some(1))
    );
    let e = compile_err(Rule {
        matches: Match {
            community: strs(&["70000:1"]),
            ..Match::default()
        },
        ..Rule::default()
    });
    assert_eq!((e.field, e.item), ("match.community", Some(0)));
}

#[test]
fn large_community_match_and_errors() {
    let a = attrs();
    let m = |c: &[&str]| Match {
        large_community: strs(c),
        ..Match::default()
    };
    assert!(rejects(m(&["65000:1:2"]), "192.0.2.0/24", &a));
    assert!(!rejects(m(&["65000:2:1"]), "192.0.2.0/24", &a));
    assert_eq!(
        parse_large_community("4294967295:0:4294967295"),
        Ok([u32::MAX, 0, u32::MAX])
    );
    for bad in ["1:2", "1:2:3:4", "4294967296:0:0", "a:b:c", ""] {
        assert!(parse_large_community(bad).is_err(), "{bad}");
    }
    let e = compile_err(Rule {
        set: Set {
            large_community_add: strs(&["1:2"]),
            ..Set::default()
        },
        ..Rule::default()
    });
    assert_eq!((e.field, e.item), ("set.large_community_add", Some(0)));
}

#[test]
fn next_hop_match_address_or_prefix() {
    let a = attrs();
    let m = |c: &[&str]| Match {
        next_hop: strs(c),
        ..Match::default()
    };
    assert!(rejects(m(&["192.0.2.1"]), "203.0.113.0/24", &a));
    assert!(rejects(m(&["192.0.2.0/24"]), "203.0.113.0/24", &a));
    assert!(!rejects(
        m(&["192.0.2.2", "198.51.100.0/24"]),
        "203.0.113.0/24",
        &a
    ));
    assert!(!rejects(m(&["::/0"]), "203.0.113.0/24", &a));
    let e = compile_err(Rule {
        matches: m(&["192.0.2.1/24"]),
        ..Rule::default()
    });
    assert_eq!((e.field, e.item), ("match.next_hop", Some(0)));
    let e = compile_err(Rule {
        matches: m(&["r1"]),
        ..Rule::default()
    });
    assert!(e.message.contains("neither"), "{}", e.message);
}

#[test]
fn neighbor_match_address_or_name() {
    let a = attrs();
    let m = |c: &[&str]| Match {
        neighbor: strs(c),
        ..Match::default()
    };
    assert!(rejects(m(&["192.0.2.1"]), "203.0.113.0/24", &a));
    assert!(rejects(m(&["r9", "r2"]), "203.0.113.0/24", &a));
    assert!(!rejects(m(&["r3", "192.0.2.9"]), "203.0.113.0/24", &a));
    let local = RouteCtx {
        peer_addr: None,
        peer_name: "",
        ..ctx("203.0.113.0/24")
    };
    let p = Policy::compile(&[Rule {
        matches: m(&["192.0.2.1"]),
        action: Some(Verdict::Reject),
        ..Rule::default()
    }])
    .unwrap();
    assert_eq!(p.apply(&local, &mut attrs()), Verdict::Accept);
    let e = compile_err(Rule {
        matches: m(&["r1", "two words"]),
        ..Rule::default()
    });
    assert_eq!((e.field, e.item), ("match.neighbor", Some(1)));
}

#[test]
fn every_condition_must_hold() {
    let a = attrs();
    let both = Match {
        prefix: strs(&["192.0.2.0/24"]),
        community: strs(&["65000:1"]),
        ..Match::default()
    };
    assert!(rejects(both.clone(), "192.0.2.0/24", &a));
    assert!(!rejects(both.clone(), "198.51.100.0/24", &a));
    let mut no_comm = attrs();
    no_comm.communities.clear();
    assert!(!rejects(both, "192.0.2.0/24", &no_comm));
}

#[test]
fn set_local_pref_and_med() {
    let p = set_rule(Set {
        local_pref: Some(200),
        med: Some(7),
        ..Set::default()
    });
    let mut a = attrs();
    assert_eq!(p.apply(&ctx("192.0.2.0/24"), &mut a), Verdict::Accept);
    assert_eq!((a.local_pref, a.med), (Some(200), Some(7)));
}

#[test]
fn set_communities_add_remove_replace() {
    let c = |a: u32, v: u32| (a << 16) | v;
    let mut a = attrs();
    set_rule(Set {
        community_add: strs(&["65000:1", "65000:2", "no-export"]),
        ..Set::default()
    })
    .apply(&ctx("192.0.2.0/24"), &mut a);
    assert_eq!(
        a.communities,
        vec![c(65000, 1), c(65000, 2), community::NO_EXPORT],
        "added once, in order, existing kept"
    );
    set_rule(Set {
        community_remove: strs(&["65000:1", "1:1"]),
        ..Set::default()
    })
    .apply(&ctx("192.0.2.0/24"), &mut a);
    assert_eq!(a.communities, vec![c(65000, 2), community::NO_EXPORT]);
    set_rule(Set {
        community_replace: strs(&["1:1"]),
        community_remove: strs(&["1:1"]),
        community_add: strs(&["2:2"]),
        ..Set::default()
    })
    .apply(&ctx("192.0.2.0/24"), &mut a);
    assert_eq!(
        a.communities,
        vec![c(2, 2)],
        "replace, then remove, then add"
    );
    set_rule(Set {
        community_replace: Some(vec![]),
        ..Set::default()
    })
    .apply(&ctx("192.0.2.0/24"), &mut a);
    assert!(a.communities.is_empty());
}

#[test]
fn set_large_communities_add_remove_replace() {
    let mut a = attrs();
    set_rule(Set {
        large_community_add: strs(&["65000:1:2", "65000:3:4"]),
        ..Set::default()
    })
    .apply(&ctx("192.0.2.0/24"), &mut a);
    assert_eq!(a.large_communities, vec![[65000, 1, 2], [65000, 3, 4]]);
    set_rule(Set {
        large_community_remove: strs(&["65000:1:2"]),
        ..Set::default()
    })
    .apply(&ctx("192.0.2.0/24"), &mut a);
    assert_eq!(a.large_communities, vec![[65000, 3, 4]]);
    set_rule(Set {
        large_community_replace: strs(&["1:2:3", "1:2:3"]),
        ..Set::default()
    })
    .apply(&ctx("192.0.2.0/24"), &mut a);
    assert_eq!(a.large_communities, vec![[1, 2, 3]]);
}

#[test]
fn set_as_path_prepend() {
    let p = set_rule(Set {
        as_path_prepend: Some(2),
        ..Set::default()
    });
    let mut a = attrs();
    p.apply(&ctx("192.0.2.0/24"), &mut a);
    assert_eq!(
        as_path_text(&a.as_path),
        "64999 64999 65001 65002 {65003,65004}"
    );
    // Leading SET or empty path: a new SEQUENCE in front.
    let mut b = attrs();
    b.as_path.remove(0);
    p.apply(&ctx("192.0.2.0/24"), &mut b);
    assert_eq!(as_path_text(&b.as_path), "64999 64999 {65003,65004}");
    assert_eq!(b.as_path[0].kind, SegmentKind::Sequence);
    let mut c = PathAttrs {
        as_path: vec![],
        ..attrs()
    };
    p.apply(&ctx("192.0.2.0/24"), &mut c);
    assert_eq!(as_path_text(&c.as_path), "64999 64999");
    let zero = set_rule(Set {
        as_path_prepend: Some(0),
        ..Set::default()
    });
    let mut d = attrs();
    zero.apply(&ctx("192.0.2.0/24"), &mut d);
    assert_eq!(d, attrs());
}

#[test]
fn set_next_hop_address_and_self() {
    let mut a = attrs();
    a.next_hop_link_local = Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    set_rule(Set {
        next_hop: Some("2001:db8::1".into()),
        ..Set::default()
    })
    .apply(&ctx("2001:db8:1::/48"), &mut a);
    assert_eq!(a.next_hop, "2001:db8::1".parse::<IpAddr>().unwrap());
    assert_eq!(a.next_hop_link_local, None);
    let own = set_rule(Set {
        next_hop: Some("self".into()),
        ..Set::default()
    });
    own.apply(&ctx("192.0.2.0/24"), &mut a);
    assert_eq!(a.next_hop, "192.0.2.2".parse::<IpAddr>().unwrap());
    // No local address known: unchanged.
    let mut b = attrs();
    let unknown = RouteCtx {
        local_addr: None,
        ..ctx("192.0.2.0/24")
    };
    own.apply(&unknown, &mut b);
    assert_eq!(b, attrs());
    let e = compile_err(Rule {
        set: Set {
            next_hop: Some("me".into()),
            ..Set::default()
        },
        ..Rule::default()
    });
    assert_eq!((e.rule, e.field, e.item), (1, "set.next_hop", None));
}

#[test]
fn error_display_counts_rules_from_one() {
    let e = compile_err(Rule {
        matches: Match {
            prefix: strs(&["x"]),
            ..Match::default()
        },
        ..Rule::default()
    });
    assert!(e.to_string().starts_with("rule 2: match.prefix: "), "{e}");
}

#[test]
fn yaml_doc_example_compiles() {
    let rules: Vec<Rule> = serde_json::from_str(
        r#"[{"match": {"prefix": ["10.0.0.0/8 le 24", "192.0.2.0/24"], "community": ["65000:666"]},
             "action": "reject"},
            {"match": {"as_path_contains": 65010},
             "set": {"local_pref": 200, "community_add": ["65000:1"], "as_path_prepend": 2},
             "action": "accept"}]"#,
    )
    .unwrap();
    let p = Policy::compile(&rules).unwrap();
    let mut a = attrs();
    a.as_path[0].asns.push(65010);
    assert_eq!(p.apply(&ctx("203.0.113.0/24"), &mut a), Verdict::Accept);
    assert_eq!(a.local_pref, Some(200));
    assert_eq!(a.as_path[0].asns[..2], [64999, 64999]);
}

fn arb_segment() -> impl Strategy<Value = Segment> {
    (
        prop_oneof![
            Just(SegmentKind::Sequence),
            Just(SegmentKind::Set),
            Just(SegmentKind::ConfedSequence),
            Just(SegmentKind::ConfedSet),
        ],
        prop::collection::vec(any::<u32>(), 0..300),
    )
        .prop_map(|(kind, asns)| Segment { kind, asns })
}

fn arb_attrs() -> impl Strategy<Value = PathAttrs> {
    (
        prop::collection::vec(arb_segment(), 0..4),
        any::<[u8; 16]>(),
        any::<bool>(),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
        prop::collection::vec(any::<u32>(), 0..8),
        prop::collection::vec(any::<[u32; 3]>(), 0..4),
    )
        .prop_map(|(as_path, nh, v6, med, lp, communities, large)| PathAttrs {
            as_path,
            next_hop: if v6 {
                IpAddr::V6(Ipv6Addr::from(nh))
            } else {
                IpAddr::V4(Ipv4Addr::new(nh[0], nh[1], nh[2], nh[3]))
            },
            med,
            local_pref: lp,
            communities,
            large_communities: large,
            ..attrs()
        })
}

proptest! {
    #[test]
    fn apply_never_panics(mut a in arb_attrs(), len in 0u8..=32, addr in any::<u32>(), prepend in any::<u8>()) {
        let rules: Vec<Rule> = serde_json::from_str(r#"[
            {"match": {"prefix": ["0.0.0.0/0 ge 8 le 24", "::/0 le 128"]}, "set": {"med": 1}},
            {"match": {"as_path_regex": "^(\\d+ )*\\{", "community": ["no-export", "1:1"]},
             "set": {"community_remove": ["1:1"]}},
            {"match": {"large_community": ["1:2:3"], "next_hop": ["0.0.0.0/0", "::/0"],
                       "neighbor": ["r2", "192.0.2.1"], "as_path_contains": 7},
             "set": {"large_community_replace": ["4:5:6"], "next_hop": "self"}, "action": "reject"},
            {"set": {"community_add": ["blackhole"], "large_community_add": ["1:1:1"],
                     "local_pref": 5, "next_hop": "2001:db8::1"}}
        ]"#).unwrap();
        let mut rules = rules;
        rules[0].set.as_path_prepend = Some(prepend);
        let p = Policy::compile(&rules).unwrap();
        let prefix = IpNet::from(ipnet::Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap().trunc());
        let _ = p.apply(&ctx(&prefix.to_string()), &mut a);
    }
}

#[test]
fn rejects_all_only_when_no_route_can_get_through() {
    let rule = |m: Match, action: Option<Verdict>| Rule {
        matches: m,
        action,
        ..Default::default()
    };
    let some = || Match {
        prefix: Some(vec!["10.0.0.0/8 le 32".into()]),
        ..Default::default()
    };
    let all = Match::default;
    use Verdict::{Accept, Reject};
    assert!(Policy::rejects_all(&[rule(all(), Some(Reject))]));
    // Sets and partial rejections before it do not let anything through.
    assert!(Policy::rejects_all(&[
        rule(some(), None),
        rule(some(), Some(Reject)),
        rule(all(), Some(Reject)),
    ]));
    // Anything that may accept, or no final rejection, does.
    assert!(!Policy::rejects_all(&[]));
    assert!(!Policy::rejects_all(&[rule(some(), Some(Reject))]));
    assert!(!Policy::rejects_all(&[
        rule(some(), Some(Accept)),
        rule(all(), Some(Reject)),
    ]));
    assert!(!Policy::rejects_all(&[rule(all(), None)]));
}
