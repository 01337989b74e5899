//! Fuzzing of the OpenFlow data plane (`src/openflow/packet.rs`, `classifier.rs`) in
//! `cargo test`: random and mutated frames are parsed, then modified by random actions;
//! nothing may panic, and after every applied modification the key must equal a fresh
//! parse of the modified frame (the switch matches later tables on it).
//! `TOPOLAB_FUZZ_CASES=100000` runs longer locally.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use topolab::openflow::classifier::{Classifier, FlowMatch};
use topolab::openflow::packet::{self, FlowKey, Parsed, SetField};

fn cases() -> u32 {
    std::env::var("TOPOLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Seeds: the headers the parser knows, so that mutations reach deep into them.
fn seeds() -> Vec<Vec<u8>> {
    let eth = |ty: &[u8], rest: &[u8]| {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        f.extend_from_slice(ty);
        f.extend_from_slice(rest);
        f
    };
    let ip4 = |proto: u8, l4: &[u8]| {
        let mut h = vec![
            0x46, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        h.extend_from_slice(&[1, 1, 1, 0]);
        let len = (h.len() + l4.len()) as u16;
        h[2..4].copy_from_slice(&len.to_be_bytes());
        h.extend_from_slice(l4);
        h
    };
    let ip6 = |next: u8, rest: &[u8]| {
        let mut h = vec![0x60, 0, 0, 1, 0, rest.len() as u8, next, 64];
        h.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2]);
        h.extend_from_slice(rest);
        h
    };
    let tcp = [
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 2, 0, 0, 0x12, 0x34, 0, 0,
    ];
    let udp = [0, 53, 0, 53, 0, 12, 0x12, 0x34, 1, 2, 3, 4];
    let sctp = [0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 4];
    let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
    ns.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    ns.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 0xa]);
    let mut ext = vec![44, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 1, 0, 0, 0, 0];
    ext.extend_from_slice(&udp);
    let arp = [
        0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
    ];
    vec![
        eth(&[8, 0], &ip4(6, &tcp)),
        eth(&[8, 0], &ip4(17, &udp)),
        eth(&[8, 0], &ip4(132, &sctp)),
        eth(&[8, 0], &ip4(1, &[8, 0, 0, 0, 0, 1, 0, 1])),
        eth(
            &[0x81, 0, 0x20, 10, 0x88, 0xa8, 0, 20, 0x86, 0xdd],
            &ip6(58, &ns),
        ),
        eth(&[0x86, 0xdd], &ip6(0, &ext)),
        eth(&[8, 6], &arp),
        eth(&[0x88, 0x47, 0, 1, 0x01, 64], &ip4(6, &tcp)),
        eth(&[0x88, 0xe7, 0, 0, 0, 1], &[]),
    ]
}

fn action() -> impl Strategy<Value = (u8, u128)> {
    (0u8..40, any::<u128>())
}

/// Applies action `a` with argument `v`; errors are fine, panics are not.
fn apply(f: &mut Vec<u8>, p: &mut Parsed, a: u8, v: u128) -> bool {
    let mac = |v: u128| -> [u8; 6] { std::array::from_fn(|i| (v >> (8 * i)) as u8) };
    let s = match a {
        0 => SetField::EthDst(mac(v)),
        1 => SetField::EthSrc(mac(v)),
        2 => SetField::EthType(v as u16),
        3 => SetField::VlanVid(v as u16),
        4 => SetField::VlanPcp(v as u8 % 9),
        5 => SetField::IpDscp(v as u8 % 70),
        6 => SetField::IpEcn(v as u8 % 5),
        7 => SetField::IpProto(v as u8),
        8 => SetField::Ipv4Src(v as u32),
        9 => SetField::Ipv4Dst(v as u32),
        10 => SetField::TpSrc(v as u16),
        11 => SetField::TpDst(v as u16),
        12 => SetField::IcmpType(v as u8),
        13 => SetField::IcmpCode(v as u8),
        14 => SetField::ArpOp(v as u16),
        15 => SetField::ArpSpa(v as u32),
        16 => SetField::ArpTpa(v as u32),
        17 => SetField::ArpSha(mac(v)),
        18 => SetField::ArpTha(mac(v)),
        19 => SetField::Ipv6Src(v),
        20 => SetField::Ipv6Dst(v),
        21 => SetField::Ipv6Flabel(v as u32 % 0x20_0000),
        22 => SetField::Ipv6NdTarget(v),
        23 => SetField::Ipv6NdSll(mac(v)),
        24 => SetField::Ipv6NdTll(mac(v)),
        25 => SetField::MplsLabel(v as u32 % 0x20_0000),
        26 => SetField::MplsTc(v as u8 % 9),
        27 => SetField::MplsBos(v as u8 % 3),
        28 => return packet::push_vlan(f, p, [0x8100, 0x88a8, 0x0800][v as usize % 3]).is_ok(),
        29 => return packet::pop_vlan(f, p).is_ok(),
        30 => return packet::push_mpls(f, p, [0x8847, 0x8848, 0x0800][v as usize % 3]).is_ok(),
        31 => return packet::pop_mpls(f, p, v as u16).is_ok(),
        32 => return packet::dec_nw_ttl(f, p).is_ok(),
        33 => return packet::set_nw_ttl(f, p, v as u8).is_ok(),
        34 => return packet::dec_mpls_ttl(f, p).is_ok(),
        35 => return packet::set_mpls_ttl(f, p, v as u8).is_ok(),
        36 => {
            p.off.l4_csum_partial = v & 1 == 1;
            return false;
        }
        37 => {
            // Writes a checksum anywhere: the frame may now mean something else.
            packet::complete_partial_checksum(f, v as usize % 128, (v >> 8) as usize % 32);
            *p = packet::parse(f, 5);
            return false;
        }
        _ => SetField::TpDst(v as u16),
    };
    packet::set_field(f, p, s).is_ok()
}

#[test]
fn frames_and_modifications_never_panic_and_keys_stay_exact() {
    let seeds = seeds();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0..seeds.len() + 1,
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        0usize..100,
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(action(), 0..8),
    );
    runner
        .run(&strategy, |(seed, flips, cut, random, actions)| {
            let mut f = match seeds.get(seed) {
                Some(s) => s.clone(),
                None => random,
            };
            for (at, x) in flips {
                if !f.is_empty() {
                    let i = at % f.len();
                    f[i] ^= x;
                }
            }
            if cut < f.len() && cut % 3 == 0 {
                f.truncate(cut);
            }
            let mut p = packet::parse(&f, 5);
            for (a, v) in actions {
                if apply(&mut f, &mut p, a, v) {
                    let mut again = packet::parse(&f, 5);
                    again.off.l4_csum_partial = p.off.l4_csum_partial;
                    prop_assert_eq!(again, p, "after action {} {:#x}", a, v);
                }
            }
            // A table holding the frame's own exact key finds it.
            let mut c = Classifier::new();
            let ones = FlowKey {
                present: !0,
                in_port: !0,
                in_phy_port: !0,
                metadata: !0,
                tunnel_id: !0,
                eth_dst: [0xff; 6],
                eth_src: [0xff; 6],
                eth_type: !0,
                vlan_vid: !0,
                vlan_pcp: !0,
                ip_dscp: !0,
                ip_ecn: !0,
                ip_proto: !0,
                ipv4_src: !0,
                ipv4_dst: !0,
                tp_src: !0,
                tp_dst: !0,
                icmp_type: !0,
                icmp_code: !0,
                arp_op: !0,
                arp_spa: !0,
                arp_tpa: !0,
                arp_sha: [0xff; 6],
                arp_tha: [0xff; 6],
                ipv6_src: !0,
                ipv6_dst: !0,
                ipv6_flabel: !0,
                ipv6_nd_target: !0,
                ipv6_nd_sll: [0xff; 6],
                ipv6_nd_tll: [0xff; 6],
                ipv6_exthdr: !0,
                mpls_label: !0,
                mpls_tc: !0,
                mpls_bos: !0,
                pbb_isid: !0,
            };
            c.insert(1, FlowMatch::new(p.key, ones), ());
            prop_assert!(c.lookup(&p.key).is_some());
            Ok(())
        })
        .unwrap();
}
