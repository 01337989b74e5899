//! Fuzzing the OpenFlow 1.3 codec in `cargo test` (issue 10): arbitrary bytes, bytes with a
//! plausible header, and mutated valid messages go through `parse`, which must give a
//! message or a `DecodeError` — never a panic; whatever parses must emit and re-parse to the
//! same message. Generated valid messages must round-trip exactly (`parse(emit(m)) == m`
//! and `emit(parse(b)) == b`). `TOPOLAB_FUZZ_CASES=100000` runs longer locally.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use topolab::openflow::codec::*;

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

/// Parses; when that succeeds, emit and parse again must agree (no panic either way).
fn parse_is_stable(b: &[u8]) {
    if let Ok(m) = parse(b) {
        let again = to_bytes(&m);
        assert_eq!(parse(&again).as_ref(), Ok(&m), "re-parse of {again:02x?}");
    }
    let _ = frame_len(b);
}

#[test]
fn arbitrary_bytes_do_not_panic() {
    runner()
        .run(&proptest::collection::vec(any::<u8>(), 0..300), |b| {
            parse_is_stable(&b);
            Ok(())
        })
        .unwrap();
}

#[test]
fn bytes_with_a_plausible_header_do_not_panic() {
    let s = (
        0u8..32,
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 0..400),
    );
    runner()
        .run(&s, |(kind, xid, body)| {
            let mut b = vec![OFP_VERSION, kind, 0, 0];
            b.extend_from_slice(&xid.to_be_bytes());
            b.extend_from_slice(&body);
            let len = b.len() as u16;
            b[2..4].copy_from_slice(&len.to_be_bytes());
            parse_is_stable(&b);
            Ok(())
        })
        .unwrap();
}

fn mac() -> impl Strategy<Value = [u8; 6]> {
    any::<[u8; 6]>()
}
fn v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}
fn v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

/// Any OXM field with values within its wire width.
fn oxm() -> impl Strategy<Value = OxmField> {
    use OxmField as F;
    prop_oneof![
        any::<u32>().prop_map(F::InPort),
        any::<u32>().prop_map(F::InPhyPort),
        (any::<u64>(), any::<Option<u64>>()).prop_map(|(v, m)| F::Metadata(v, m)),
        (mac(), proptest::option::of(mac())).prop_map(|(v, m)| F::EthDst(v, m)),
        (mac(), proptest::option::of(mac())).prop_map(|(v, m)| F::EthSrc(v, m)),
        any::<u16>().prop_map(F::EthType),
        (any::<u16>(), any::<Option<u16>>()).prop_map(|(v, m)| F::VlanVid(v, m)),
        any::<u8>().prop_map(F::VlanPcp),
        any::<u8>().prop_map(F::IpDscp),
        any::<u8>().prop_map(F::IpEcn),
        any::<u8>().prop_map(F::IpProto),
        (v4(), proptest::option::of(v4())).prop_map(|(v, m)| F::Ipv4Src(v, m)),
        (v4(), proptest::option::of(v4())).prop_map(|(v, m)| F::Ipv4Dst(v, m)),
        any::<u16>().prop_map(F::TcpSrc),
        any::<u16>().prop_map(F::TcpDst),
        any::<u16>().prop_map(F::UdpSrc),
        any::<u16>().prop_map(F::UdpDst),
        any::<u16>().prop_map(F::SctpSrc),
        any::<u16>().prop_map(F::SctpDst),
        any::<u8>().prop_map(F::Icmpv4Type),
        any::<u8>().prop_map(F::Icmpv4Code),
        any::<u16>().prop_map(F::ArpOp),
        (v4(), proptest::option::of(v4())).prop_map(|(v, m)| F::ArpSpa(v, m)),
        (v4(), proptest::option::of(v4())).prop_map(|(v, m)| F::ArpTpa(v, m)),
        (mac(), proptest::option::of(mac())).prop_map(|(v, m)| F::ArpSha(v, m)),
        (mac(), proptest::option::of(mac())).prop_map(|(v, m)| F::ArpTha(v, m)),
        (v6(), proptest::option::of(v6())).prop_map(|(v, m)| F::Ipv6Src(v, m)),
        (v6(), proptest::option::of(v6())).prop_map(|(v, m)| F::Ipv6Dst(v, m)),
        (any::<u32>(), any::<Option<u32>>()).prop_map(|(v, m)| F::Ipv6Flabel(v, m)),
        any::<u8>().prop_map(F::Icmpv6Type),
        any::<u8>().prop_map(F::Icmpv6Code),
        v6().prop_map(F::Ipv6NdTarget),
        mac().prop_map(F::Ipv6NdSll),
        mac().prop_map(F::Ipv6NdTll),
        any::<u32>().prop_map(F::MplsLabel),
        any::<u8>().prop_map(F::MplsTc),
        any::<u8>().prop_map(F::MplsBos),
        (0u32..1 << 24, proptest::option::of(0u32..1 << 24)).prop_map(|(v, m)| F::PbbIsid(v, m)),
        (any::<u64>(), any::<Option<u64>>()).prop_map(|(v, m)| F::TunnelId(v, m)),
        (any::<u16>(), any::<Option<u16>>()).prop_map(|(v, m)| F::Ipv6Exthdr(v, m)),
    ]
}

fn exact_oxm() -> impl Strategy<Value = OxmField> {
    oxm().prop_filter("set-field is never masked", |f| !f.is_masked())
}

fn padded() -> impl Strategy<Value = Vec<u8>> {
    (0usize..3).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n * 8))
}

fn action() -> impl Strategy<Value = Action> {
    use Action as A;
    prop_oneof![
        (any::<u32>(), any::<u16>()).prop_map(|(port, max_len)| A::Output { port, max_len }),
        Just(A::CopyTtlOut),
        Just(A::CopyTtlIn),
        any::<u8>().prop_map(A::SetMplsTtl),
        Just(A::DecMplsTtl),
        any::<u16>().prop_map(A::PushVlan),
        Just(A::PopVlan),
        any::<u16>().prop_map(A::PushMpls),
        any::<u16>().prop_map(A::PopMpls),
        any::<u32>().prop_map(A::SetQueue),
        any::<u32>().prop_map(A::Group),
        any::<u8>().prop_map(A::SetNwTtl),
        Just(A::DecNwTtl),
        exact_oxm().prop_map(A::SetField),
        any::<u16>().prop_map(A::PushPbb),
        Just(A::PopPbb),
        (any::<u32>(), padded())
            .prop_map(|(experimenter, data)| A::Experimenter { experimenter, data }),
    ]
}

fn actions() -> impl Strategy<Value = Vec<Action>> {
    proptest::collection::vec(action(), 0..5)
}

fn instruction() -> impl Strategy<Value = Instruction> {
    use Instruction as I;
    prop_oneof![
        any::<u8>().prop_map(I::GotoTable),
        (any::<u64>(), any::<u64>())
            .prop_map(|(metadata, mask)| I::WriteMetadata { metadata, mask }),
        actions().prop_map(I::WriteActions),
        actions().prop_map(I::ApplyActions),
        Just(I::ClearActions),
        any::<u32>().prop_map(I::Meter),
        (any::<u32>(), padded())
            .prop_map(|(experimenter, data)| I::Experimenter { experimenter, data }),
    ]
}

fn a_match() -> impl Strategy<Value = Match> {
    proptest::collection::vec(oxm(), 0..8).prop_map(Match::new)
}

fn flow_mod() -> impl Strategy<Value = FlowMod> {
    let cmd = prop_oneof![
        Just(FlowModCommand::Add),
        Just(FlowModCommand::Modify),
        Just(FlowModCommand::ModifyStrict),
        Just(FlowModCommand::Delete),
        Just(FlowModCommand::DeleteStrict),
    ];
    (
        (
            any::<u64>(),
            any::<u64>(),
            any::<u8>(),
            cmd,
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
        ),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u16>()),
        a_match(),
        proptest::collection::vec(instruction(), 0..4),
    )
        .prop_map(
            |(
                (cookie, cookie_mask, table_id, command, idle_timeout, hard_timeout, priority),
                (buffer_id, out_port, out_group, flags),
                r#match,
                instructions,
            )| FlowMod {
                cookie,
                cookie_mask,
                table_id,
                command,
                idle_timeout,
                hard_timeout,
                priority,
                buffer_id,
                out_port,
                out_group,
                flags,
                r#match,
                instructions,
            },
        )
}

fn group_type() -> impl Strategy<Value = GroupType> {
    prop_oneof![
        Just(GroupType::All),
        Just(GroupType::Select),
        Just(GroupType::Indirect),
        Just(GroupType::FastFailover)
    ]
}

fn buckets() -> impl Strategy<Value = Vec<Bucket>> {
    proptest::collection::vec(
        (any::<u16>(), any::<u32>(), any::<u32>(), actions()).prop_map(
            |(weight, watch_port, watch_group, actions)| Bucket {
                weight,
                watch_port,
                watch_group,
                actions,
            },
        ),
        0..4,
    )
}

fn bands() -> impl Strategy<Value = Vec<MeterBand>> {
    proptest::collection::vec(
        prop_oneof![
            (any::<u32>(), any::<u32>()).prop_map(|(rate, burst)| MeterBand::Drop { rate, burst }),
            (any::<u32>(), any::<u32>(), any::<u8>()).prop_map(|(rate, burst, prec_level)| {
                MeterBand::DscpRemark {
                    rate,
                    burst,
                    prec_level,
                }
            }),
            (any::<u32>(), any::<u32>(), any::<u32>(), padded()).prop_map(
                |(rate, burst, experimenter, data)| {
                    MeterBand::Experimenter {
                        rate,
                        burst,
                        experimenter,
                        data,
                    }
                }
            ),
        ],
        0..4,
    )
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        flow_mod().prop_map(Body::FlowMod),
        (
            any::<u32>(),
            any::<u32>(),
            actions(),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(
                |(buffer_id, in_port, actions, data)| Body::PacketOut(PacketOut {
                    buffer_id,
                    in_port,
                    actions,
                    data
                })
            ),
        (
            any::<u32>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u64>(),
            a_match(),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(
                |(buffer_id, total_len, reason, table_id, cookie, r#match, data)| {
                    Body::PacketIn(PacketIn {
                        buffer_id,
                        total_len,
                        reason,
                        table_id,
                        cookie,
                        r#match,
                        data,
                    })
                }
            ),
        (group_type(), any::<u32>(), buckets()).prop_map(|(group_type, group_id, buckets)| {
            Body::GroupMod(GroupMod {
                command: GroupModCommand::Modify,
                group_type,
                group_id,
                buckets,
            })
        }),
        (any::<u16>(), any::<u32>(), bands()).prop_map(|(flags, meter_id, bands)| {
            Body::MeterMod(MeterMod {
                command: MeterModCommand::Add,
                flags,
                meter_id,
                bands,
            })
        }),
        (
            any::<u64>(),
            any::<u16>(),
            any::<u32>(),
            a_match(),
            proptest::collection::vec(instruction(), 0..3)
        )
            .prop_map(|(cookie, priority, duration_sec, r#match, instructions)| {
                Body::MultipartReply(MultipartReply {
                    flags: 0,
                    body: MpReply::Flow(vec![FlowStats {
                        table_id: 0,
                        duration_sec,
                        duration_nsec: 0,
                        priority,
                        idle_timeout: 0,
                        hard_timeout: 0,
                        flags: 0,
                        cookie,
                        packet_count: 1,
                        byte_count: 2,
                        r#match,
                        instructions,
                    }]),
                })
            }),
        (group_type(), any::<u32>(), buckets()).prop_map(|(group_type, group_id, buckets)| {
            Body::MultipartReply(MultipartReply {
                flags: 1,
                body: MpReply::GroupDesc(vec![GroupDesc {
                    group_type,
                    group_id,
                    buckets,
                }]),
            })
        }),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Body::EchoRequest),
        any::<Option<u32>>().prop_map(|versions| Body::Hello { versions }),
    ]
}

#[test]
fn generated_messages_round_trip() {
    runner()
        .run(&(any::<u32>(), body()), |(xid, body)| {
            let msg = Message { xid, body };
            let b = to_bytes(&msg);
            prop_assert_eq!(frame_len(&b).unwrap(), Some(b.len()));
            let parsed = parse(&b);
            prop_assert_eq!(parsed.as_ref(), Ok(&msg));
            Ok(())
        })
        .unwrap();
}

#[test]
fn mutated_valid_messages_do_not_panic() {
    let s = (
        (any::<u32>(), body()),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        any::<prop::sample::Index>(),
        any::<bool>(),
        any::<bool>(),
    );
    runner()
        .run(&s, |((xid, body), flips, cut, truncate, fix_len)| {
            let mut b = to_bytes(&Message { xid, body });
            for (i, v) in flips {
                let i = i.index(b.len());
                b[i] = v;
            }
            if truncate {
                b.truncate(cut.index(b.len() + 1));
            }
            if fix_len && b.len() >= 4 {
                let len = b.len() as u16;
                b[2..4].copy_from_slice(&len.to_be_bytes());
            }
            parse_is_stable(&b);
            Ok(())
        })
        .unwrap();
}
