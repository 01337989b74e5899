//! One test per step of §9.1.2.2: two paths that differ in exactly that attribute (and,
//! where the step needs it, a third), checked in both orders.

use super::*;
use std::net::Ipv4Addr;

fn base() -> Path {
    Path {
        local_pref: 100,
        as_path_len: 2,
        first_as: Some(65001),
        origin: Origin::Igp,
        med: 0,
        ebgp: true,
        igp_cost: Some(10),
        router_id: 0x0a00_0001,
        originator_id: None,
        cluster_list_len: 0,
        peer_addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
    }
}

/// `better` must win over `worse` in either order, decided at `step`.
fn assert_wins(better: Path, worse: Path, step: Step) {
    assert_eq!(explain(&[better, worse]), Some((0, step)));
    assert_eq!(explain(&[worse, better]), Some((1, step)));
}

#[test]
fn no_candidates_no_best() {
    assert_eq!(best(&[]), None);
}

#[test]
fn single_candidate_is_best() {
    assert_eq!(explain(&[base()]), Some((0, Step::Only)));
}

#[test]
fn higher_local_pref_wins() {
    assert_wins(
        Path {
            local_pref: 200,
            ..base()
        },
        base(),
        Step::LocalPref,
    );
}

#[test]
fn shorter_as_path_wins() {
    assert_wins(
        Path {
            as_path_len: 1,
            ..base()
        },
        base(),
        Step::AsPathLen,
    );
}

#[test]
fn lower_origin_wins() {
    assert_wins(
        base(),
        Path {
            origin: Origin::Egp,
            ..base()
        },
        Step::Origin,
    );
    assert_wins(
        Path {
            origin: Origin::Egp,
            ..base()
        },
        Path {
            origin: Origin::Incomplete,
            ..base()
        },
        Step::Origin,
    );
}

#[test]
fn lower_med_wins_from_same_neighbour_as() {
    assert_wins(base(), Path { med: 50, ..base() }, Step::Med);
}

#[test]
fn med_is_not_compared_across_neighbour_as() {
    // Different neighbour AS: MED is ignored, so the later router-id step decides,
    // even though the winner has the higher MED.
    let a = Path {
        first_as: Some(65002),
        med: 50,
        ..base()
    };
    let b = Path {
        first_as: Some(65003),
        router_id: 0x0a00_0009,
        ..base()
    };
    assert_wins(a, b, Step::RouterId);
}

#[test]
fn deterministic_med_is_order_independent() {
    // Classic MED non-transitivity: a (AS1, MED 10), b (AS2, MED 5), c (AS1, MED 0).
    // c removes a; b and c survive and the IGP cost picks b. Every order agrees.
    let a = Path {
        first_as: Some(1),
        med: 10,
        igp_cost: Some(1),
        ..base()
    };
    let b = Path {
        first_as: Some(2),
        med: 5,
        igp_cost: Some(5),
        ..base()
    };
    let c = Path {
        first_as: Some(1),
        med: 0,
        igp_cost: Some(9),
        ..base()
    };
    let orders = [
        [a, b, c],
        [a, c, b],
        [b, a, c],
        [b, c, a],
        [c, a, b],
        [c, b, a],
    ];
    for order in orders {
        let i = best(&order).unwrap();
        assert_eq!(order[i], b);
    }
}

#[test]
fn ebgp_wins_over_ibgp() {
    assert_wins(
        base(),
        Path {
            ebgp: false,
            ..base()
        },
        Step::EbgpOverIbgp,
    );
}

#[test]
fn lower_igp_cost_wins() {
    assert_wins(
        Path {
            igp_cost: Some(1),
            ..base()
        },
        base(),
        Step::IgpCost,
    );
}

#[test]
fn unknown_igp_cost_skips_the_igp_cost_step() {
    // One cost unknown: all count as equal, so the router id decides against the cheaper path.
    let cheap = Path {
        igp_cost: Some(1),
        router_id: 0x0a00_0009,
        ..base()
    };
    let unknown = Path {
        igp_cost: None,
        ..base()
    };
    assert_wins(unknown, cheap, Step::RouterId);
}

#[test]
fn lower_router_id_wins() {
    assert_wins(
        base(),
        Path {
            router_id: 0x0a00_0002,
            ..base()
        },
        Step::RouterId,
    );
}

#[test]
fn originator_id_replaces_router_id() {
    // Same peer router id; the ORIGINATOR_ID decides (RFC 4456 §9).
    assert_wins(
        Path {
            originator_id: Some(1),
            ..base()
        },
        Path {
            originator_id: Some(0x0b00_0000),
            ..base()
        },
        Step::RouterId,
    );
}

#[test]
fn shorter_cluster_list_wins() {
    assert_wins(
        base(),
        Path {
            cluster_list_len: 1,
            ..base()
        },
        Step::ClusterListLen,
    );
}

#[test]
fn lower_peer_address_wins() {
    assert_wins(
        base(),
        Path {
            peer_addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            ..base()
        },
        Step::PeerAddr,
    );
}

#[test]
fn earlier_step_outranks_later_ones() {
    // Higher LOCAL_PREF beats a path better in every later attribute.
    let good_rest = Path {
        as_path_len: 0,
        igp_cost: Some(0),
        router_id: 0,
        ..base()
    };
    assert_wins(
        Path {
            local_pref: 101,
            ..base()
        },
        good_rest,
        Step::LocalPref,
    );
}
