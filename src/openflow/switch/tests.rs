//! Behaviour tests: inputs (codec messages, hand-built frames, `now`) → expected outputs.

use std::net::Ipv4Addr;

use super::*;
use crate::openflow::codec::{
    Action, Bucket, FlowMod, FlowModCommand, GroupMod, GroupModCommand, GroupType, Instruction,
    Match, MeterBand, MeterMod, MeterModCommand, MpReply, MpRequest, OxmField,
};

const T0: Instant = Instant::from_nanos(1_000_000_000);
const C: ConnId = 1;

fn at(secs: f64) -> Instant {
    T0 + Duration::from_secs_f64(secs)
}

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

fn switch(fail_mode: FailMode) -> Switch {
    let ports = (1..=3)
        .map(|n| PortInfo {
            port_no: n,
            name: format!("eth{}", n - 1),
            hw_addr: mac(0x10 + n as u8),
            up: true,
        })
        .collect();
    Switch::new(
        SwitchConfig {
            dpid: 0x42,
            n_buffers: 4,
            n_tables: 8,
            fail_mode,
            ports,
            miss_send_len: 128,
        },
        T0,
    )
}

/// A switch with controller connection `C` open (HELLO done), outputs drained.
fn connected() -> Switch {
    let mut s = switch(FailMode::Secure);
    s.connection_up(T0, C);
    s.handle_message(
        T0,
        C,
        msg(
            0,
            Body::Hello {
                versions: Some(1 << 4),
            },
        ),
    );
    drain(&mut s);
    s
}

fn msg(xid: u32, body: Body) -> Message {
    Message { xid, body }
}

fn drain(s: &mut Switch) -> Vec<Transmit> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

fn messages(s: &mut Switch) -> Vec<(ConnId, Message)> {
    drain(s)
        .into_iter()
        .filter_map(|t| match t {
            Transmit::Message { conn, msg } => Some((conn, msg)),
            _ => None,
        })
        .collect()
}

fn frames(out: &[Transmit]) -> Vec<(u32, Vec<u8>)> {
    out.iter()
        .filter_map(|t| match t {
            Transmit::Frame { port, data } => Some((*port, data.clone())),
            _ => None,
        })
        .collect()
}

fn ports_of(out: &[Transmit]) -> Vec<u32> {
    frames(out).into_iter().map(|(p, _)| p).collect()
}

/// An Ethernet + IPv4 + UDP frame (checksums zero: UDP allows it; the IPv4 one is right).
fn udp(src: u8, dst: u8, dport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&mac(dst));
    f.extend_from_slice(&mac(src));
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![
        0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, src, 10, 0, 0, dst,
    ];
    let sum = crate::openflow::packet::fold(crate::openflow::packet::sum16(0, &ip));
    ip[10..12].copy_from_slice(&(!sum).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&1000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 8, 0, 0]);
    f
}

fn out(port: u32) -> Action {
    Action::Output { port, max_len: 0 }
}

fn apply(actions: Vec<Action>) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(actions)]
}

fn flow(priority: u16, fields: Vec<OxmField>, instructions: Vec<Instruction>) -> FlowMod {
    let mut fm = FlowMod::add(Match::new(fields));
    fm.priority = priority;
    fm.instructions = instructions;
    fm
}

fn add(s: &mut Switch, fm: FlowMod) {
    s.handle_message(T0, C, msg(9, Body::FlowMod(fm)));
    let m = messages(s);
    assert!(m.is_empty(), "flow mod answered {m:?}");
}

/// The controller says something (so the inactivity probe leaves it alone).
fn alive(s: &mut Switch, now: Instant) {
    s.handle_message(now, C, msg(0, Body::EchoReply(Vec::new())));
}

fn error_of(m: &[(ConnId, Message)]) -> Option<(of::ErrorType, u16)> {
    m.iter().find_map(|(_, m)| match &m.body {
        Body::Error(e) => Some((e.kind, e.code)),
        _ => None,
    })
}

fn flow_stats(s: &mut Switch) -> Vec<of::FlowStats> {
    let req = of::MultipartRequest {
        flags: 0,
        body: MpRequest::Flow(of::FlowStatsRequest::all()),
    };
    s.handle_message(T0, C, msg(5, Body::MultipartRequest(req)));
    messages(s)
        .into_iter()
        .flat_map(|(_, m)| match m.body {
            Body::MultipartReply(of::MultipartReply {
                body: MpReply::Flow(v),
                ..
            }) => v,
            other => panic!("not flow stats: {other:?}"),
        })
        .collect()
}

// ------------------------------------------------------------------ connection

#[test]
fn hello_opens_and_an_incompatible_one_closes() {
    let mut s = switch(FailMode::Secure);
    s.connection_up(T0, C);
    let m = messages(&mut s);
    assert_eq!(
        m[0].1.body,
        Body::Hello {
            versions: Some(1 << 4)
        }
    );
    // Before HELLO: BAD_REQUEST.
    s.handle_message(T0, C, msg(3, Body::FeaturesRequest));
    let m = messages(&mut s);
    assert_eq!(
        error_of(&m),
        Some((of::ErrorType::BAD_REQUEST, of::bad_request::BAD_TYPE))
    );
    // A bitmap with 1.0 only: HELLO_FAILED/INCOMPATIBLE, then close.
    s.handle_message(
        T0,
        C,
        msg(
            4,
            Body::Hello {
                versions: Some(1 << 1),
            },
        ),
    );
    let o = drain(&mut s);
    assert!(matches!(&o[0], Transmit::Message { msg, .. }
        if matches!(&msg.body, Body::Error(e) if e.kind == of::ErrorType::HELLO_FAILED && e.code == of::hello_failed::INCOMPATIBLE)));
    assert_eq!(o[1], Transmit::Close { conn: C });
    // A bitmap with 1.0 and 1.3, or none at all: open.
    for v in [Some((1 << 1) | (1 << 4)), None] {
        s.connection_up(T0, 2);
        s.handle_message(T0, 2, msg(1, Body::Hello { versions: v }));
        drain(&mut s);
        assert_eq!(s.open_connections(), 1);
        s.connection_down(T0, 2);
    }
}

#[test]
fn echo_features_config_barrier() {
    let mut s = connected();
    s.handle_message(T0, C, msg(1, Body::EchoRequest(b"abc".to_vec())));
    s.handle_message(T0, C, msg(2, Body::FeaturesRequest));
    s.handle_message(
        T0,
        C,
        msg(
            3,
            Body::SetConfig(of::SwitchConfig {
                flags: 0,
                miss_send_len: 200,
            }),
        ),
    );
    s.handle_message(T0, C, msg(4, Body::GetConfigRequest));
    s.handle_message(T0, C, msg(5, Body::BarrierRequest));
    let m: Vec<Message> = messages(&mut s).into_iter().map(|(_, m)| m).collect();
    assert_eq!(m[0], msg(1, Body::EchoReply(b"abc".to_vec())));
    let Body::FeaturesReply(f) = &m[1].body else {
        panic!()
    };
    assert_eq!((f.datapath_id, f.n_tables, f.n_buffers), (0x42, 8, 4));
    assert_eq!(
        m[2],
        msg(
            4,
            Body::GetConfigReply(of::SwitchConfig {
                flags: 0,
                miss_send_len: 200
            })
        )
    );
    assert_eq!(m[3], msg(5, Body::BarrierReply));
}

// ------------------------------------------------------------------ flows and forwarding

#[test]
fn a_flow_forwards_and_counts() {
    let mut s = connected();
    add(
        &mut s,
        flow(10, vec![OxmField::InPort(1)], apply(vec![out(2)])),
    );
    let f = udp(1, 2, 53);
    s.handle_frame(T0, 1, &f);
    let o = drain(&mut s);
    assert_eq!(frames(&o), vec![(2, f.clone())]);
    // No match from port 3 and no table-miss entry: dropped.
    s.handle_frame(T0, 3, &f);
    assert!(drain(&mut s).is_empty());
    let st = flow_stats(&mut s);
    assert_eq!((st[0].packet_count, st[0].byte_count), (1, f.len() as u64));
    let req = of::MultipartRequest {
        flags: 0,
        body: MpRequest::PortStats {
            port_no: of::port_no::ANY,
        },
    };
    s.handle_message(T0, C, msg(6, Body::MultipartRequest(req)));
    let Body::MultipartReply(of::MultipartReply {
        body: MpReply::PortStats(ps),
        ..
    }) = &messages(&mut s)[0].1.body
    else {
        panic!()
    };
    assert_eq!(
        (ps[0].rx_packets, ps[1].tx_packets, ps[2].rx_packets),
        (1, 1, 1)
    );
}

#[test]
fn priorities_flood_and_in_port() {
    let mut s = connected();
    add(
        &mut s,
        flow(1, vec![], apply(vec![out(of::port_no::FLOOD)])),
    );
    add(
        &mut s,
        flow(
            20,
            vec![
                OxmField::EthType(0x0800),
                OxmField::IpProto(17),
                OxmField::UdpDst(7),
            ],
            apply(vec![out(of::port_no::IN_PORT)]),
        ),
    );
    s.handle_frame(T0, 2, &udp(1, 2, 53));
    assert_eq!(ports_of(&drain(&mut s)), vec![1, 3]);
    s.handle_frame(T0, 2, &udp(1, 2, 7));
    assert_eq!(ports_of(&drain(&mut s)), vec![2]);
    // A NO_FWD port is skipped by flood.
    let pm = of::PortMod {
        port_no: 3,
        hw_addr: mac(0x13),
        config: port_config::NO_FWD,
        mask: port_config::NO_FWD,
        advertise: 0,
    };
    s.handle_message(T0, C, msg(1, Body::PortMod(pm)));
    assert!(
        matches!(&messages(&mut s)[0].1.body, Body::PortStatus(p) if p.desc.config == port_config::NO_FWD)
    );
    s.handle_frame(T0, 2, &udp(1, 2, 53));
    assert_eq!(ports_of(&drain(&mut s)), vec![1]);
}

#[test]
fn modify_and_delete_select_by_match_cookie_and_out_port() {
    let mut s = connected();
    let mut a = flow(10, vec![OxmField::InPort(1)], apply(vec![out(2)]));
    a.cookie = 0x100;
    add(&mut s, a);
    let mut b = flow(
        20,
        vec![OxmField::InPort(1), OxmField::EthType(0x0800)],
        apply(vec![out(3)]),
    );
    b.cookie = 0x200;
    add(&mut s, b);
    // Modify (non-strict) by cookie 0x200: only b changes.
    let mut m = flow(0, vec![], apply(vec![out(1)]));
    m.command = FlowModCommand::Modify;
    m.cookie = 0x200;
    m.cookie_mask = 0xf00;
    add(&mut s, m);
    let st = flow_stats(&mut s);
    assert_eq!(
        st.iter().find(|f| f.cookie == 0x200).unwrap().instructions,
        apply(vec![out(1)])
    );
    assert_eq!(
        st.iter().find(|f| f.cookie == 0x100).unwrap().instructions,
        apply(vec![out(2)])
    );
    // Modify-strict needs the same match and priority.
    let mut m = flow(11, vec![OxmField::InPort(1)], apply(vec![out(3)]));
    m.command = FlowModCommand::ModifyStrict;
    add(&mut s, m);
    assert!(
        flow_stats(&mut s)
            .iter()
            .all(|f| f.instructions != apply(vec![out(3)]))
    );
    // Delete with out_port 2 removes only a; delete-strict of b's match at its priority removes b.
    let mut d = flow(0, vec![], vec![]);
    d.command = FlowModCommand::Delete;
    d.table_id = of::table::ALL;
    d.out_port = 2;
    add(&mut s, d);
    assert_eq!(flow_stats(&mut s).len(), 1);
    let mut d = flow(
        20,
        vec![OxmField::InPort(1), OxmField::EthType(0x0800)],
        vec![],
    );
    d.command = FlowModCommand::DeleteStrict;
    add(&mut s, d);
    assert!(flow_stats(&mut s).is_empty());
}

#[test]
fn add_replaces_identical_and_check_overlap_refuses() {
    let mut s = connected();
    add(
        &mut s,
        flow(10, vec![OxmField::InPort(1)], apply(vec![out(2)])),
    );
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    drain(&mut s);
    // Same match and priority: replaced, counters kept (no RESET_COUNTS).
    add(
        &mut s,
        flow(10, vec![OxmField::InPort(1)], apply(vec![out(3)])),
    );
    let st = flow_stats(&mut s);
    assert_eq!((st.len(), st[0].packet_count), (1, 1));
    let mut o = flow(10, vec![OxmField::EthType(0x0800)], apply(vec![out(3)]));
    o.flags = of::flow_mod_flags::CHECK_OVERLAP;
    s.handle_message(T0, C, msg(7, Body::FlowMod(o.clone())));
    assert_eq!(
        error_of(&messages(&mut s)),
        Some((of::ErrorType::FLOW_MOD_FAILED, of::flow_mod_failed::OVERLAP))
    );
    // At another priority there is no overlap.
    o.priority = 11;
    add(&mut s, o);
}

#[test]
fn bad_flow_mods_get_errors() {
    let mut s = connected();
    let cases: Vec<(FlowMod, (of::ErrorType, u16))> = vec![
        (
            flow(1, vec![OxmField::TcpDst(80)], vec![]),
            (of::ErrorType::BAD_MATCH, of::bad_match::BAD_PREREQ),
        ),
        (
            flow(1, vec![OxmField::InPort(1), OxmField::InPort(2)], vec![]),
            (of::ErrorType::BAD_MATCH, of::bad_match::DUP_FIELD),
        ),
        (
            flow(1, vec![], apply(vec![out(9)])),
            (of::ErrorType::BAD_ACTION, of::bad_action::BAD_OUT_PORT),
        ),
        (
            flow(1, vec![], apply(vec![Action::Group(5)])),
            (of::ErrorType::BAD_ACTION, of::bad_action::BAD_OUT_GROUP),
        ),
        (
            flow(1, vec![], vec![Instruction::Meter(3)]),
            (
                of::ErrorType::METER_MOD_FAILED,
                of::meter_mod_failed::UNKNOWN_METER,
            ),
        ),
        (
            flow(1, vec![], vec![Instruction::GotoTable(0)]),
            (
                of::ErrorType::BAD_INSTRUCTION,
                of::bad_instruction::BAD_TABLE_ID,
            ),
        ),
        (
            {
                let mut f = flow(1, vec![], vec![]);
                f.table_id = 8;
                f
            },
            (
                of::ErrorType::FLOW_MOD_FAILED,
                of::flow_mod_failed::BAD_TABLE_ID,
            ),
        ),
    ];
    for (fm, want) in cases {
        s.handle_message(T0, C, msg(1, Body::FlowMod(fm.clone())));
        assert_eq!(error_of(&messages(&mut s)), Some(want), "{fm:?}");
    }
    assert!(flow_stats(&mut s).is_empty());
}

#[test]
fn timeouts_remove_flows_and_say_so() {
    let mut s = connected();
    let mut idle = flow(10, vec![OxmField::InPort(1)], apply(vec![out(2)]));
    idle.idle_timeout = 10;
    idle.flags = of::flow_mod_flags::SEND_FLOW_REM;
    add(&mut s, idle);
    let mut hard = flow(10, vec![OxmField::InPort(2)], apply(vec![out(1)]));
    hard.hard_timeout = 15;
    hard.flags = of::flow_mod_flags::SEND_FLOW_REM;
    add(&mut s, hard);
    assert_eq!(s.next_flow_deadline(), Some(at(10.0)));
    // Traffic at 8 s keeps the idle one alive until 18 s.
    s.handle_frame(at(8.0), 1, &udp(1, 2, 1));
    drain(&mut s);
    alive(&mut s, at(10.0));
    s.handle_timeout(at(10.0));
    assert!(messages(&mut s).is_empty());
    assert_eq!(s.next_flow_deadline(), Some(at(15.0)));
    alive(&mut s, at(15.0));
    s.handle_timeout(at(15.0));
    let m = messages(&mut s);
    let Body::FlowRemoved(r) = &m[0].1.body else {
        panic!("{m:?}")
    };
    assert_eq!(
        (r.reason, r.duration_sec),
        (of::flow_removed_reason::HARD_TIMEOUT, 15)
    );
    alive(&mut s, at(18.0));
    s.handle_timeout(at(18.0));
    let m = messages(&mut s);
    let Body::FlowRemoved(r) = &m[0].1.body else {
        panic!("{m:?}")
    };
    assert_eq!(
        (r.reason, r.packet_count),
        (of::flow_removed_reason::IDLE_TIMEOUT, 1)
    );
    assert_eq!(s.next_flow_deadline(), None);
}

#[test]
fn goto_metadata_and_action_set() {
    let mut s = connected();
    add(
        &mut s,
        flow(
            1,
            vec![OxmField::InPort(1)],
            vec![
                Instruction::GotoTable(2),
                Instruction::WriteActions(vec![out(3)]),
                Instruction::WriteMetadata {
                    metadata: 0xab,
                    mask: 0xff,
                },
            ],
        ),
    );
    let mut t2 = flow(
        1,
        vec![OxmField::Metadata(0xab, None)],
        vec![Instruction::WriteActions(vec![out(2)])],
    );
    t2.table_id = 2;
    add(&mut s, t2);
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    // Table 2's write-actions replaced the output in the set.
    assert_eq!(ports_of(&drain(&mut s)), vec![2]);
    // Clear-actions empties it.
    let mut t2 = flow(
        1,
        vec![OxmField::Metadata(0xab, None)],
        vec![Instruction::ClearActions],
    );
    t2.table_id = 2;
    add(&mut s, t2);
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    assert!(drain(&mut s).is_empty());
}

#[test]
fn set_field_push_vlan_and_dec_ttl_change_the_frame() {
    let mut s = connected();
    add(
        &mut s,
        flow(
            1,
            vec![OxmField::InPort(1)],
            apply(vec![
                Action::SetField(OxmField::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 9), None)),
                Action::DecNwTtl,
                Action::PushVlan(0x8100),
                Action::SetField(OxmField::VlanVid(0x1000 | 5, None)),
                out(2),
            ]),
        ),
    );
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    let f = frames(&drain(&mut s));
    let d = &f[0].1;
    assert_eq!(&d[12..16], &[0x81, 0x00, 0x00, 0x05]);
    assert_eq!(d[18 + 8], 63, "ttl");
    assert_eq!(&d[18 + 16..18 + 20], &[10, 0, 0, 9]);
    let p = crate::openflow::packet::parse(d, 2);
    assert_eq!(p.key.vlan_vid, 0x1005);
    // The IPv4 header checksum still verifies.
    assert_eq!(
        crate::openflow::packet::fold(crate::openflow::packet::sum16(0, &d[18..38])),
        0xffff
    );
}

// ------------------------------------------------------------------ packet-in / packet-out

#[test]
fn table_miss_packet_in_buffered_then_packet_out() {
    let mut s = connected();
    add(
        &mut s,
        flow(
            0,
            vec![],
            apply(vec![Action::Output {
                port: of::port_no::CONTROLLER,
                max_len: 32,
            }]),
        ),
    );
    let f = udp(1, 2, 1);
    s.handle_frame(T0, 1, &f);
    let m = messages(&mut s);
    let Body::PacketIn(pi) = &m[0].1.body else {
        panic!("{m:?}")
    };
    assert_eq!(
        (pi.reason, pi.table_id, pi.total_len as usize),
        (of::packet_in_reason::NO_MATCH, 0, f.len())
    );
    assert_eq!(pi.data, f[..32].to_vec());
    assert_eq!(pi.r#match.fields, vec![OxmField::InPort(1)]);
    assert_ne!(pi.buffer_id, of::NO_BUFFER);
    let po = of::PacketOut {
        buffer_id: pi.buffer_id,
        in_port: 1,
        actions: vec![out(3)],
        data: vec![],
    };
    s.handle_message(T0, C, msg(2, Body::PacketOut(po.clone())));
    assert_eq!(frames(&drain(&mut s)), vec![(3, f.clone())]);
    // The buffer is gone now.
    s.handle_message(T0, C, msg(3, Body::PacketOut(po)));
    assert_eq!(
        error_of(&messages(&mut s)),
        Some((of::ErrorType::BAD_REQUEST, of::bad_request::BUFFER_UNKNOWN))
    );
}

#[test]
fn packet_in_without_buffer_carries_the_whole_frame_and_buffers_expire() {
    let mut s = connected();
    add(
        &mut s,
        flow(
            5,
            vec![OxmField::InPort(2)],
            apply(vec![Action::Output {
                port: of::port_no::CONTROLLER,
                max_len: of::controller_max_len::NO_BUFFER,
            }]),
        ),
    );
    add(
        &mut s,
        flow(
            5,
            vec![OxmField::InPort(1)],
            apply(vec![Action::Output {
                port: of::port_no::CONTROLLER,
                max_len: 16,
            }]),
        ),
    );
    let f = udp(1, 2, 1);
    s.handle_frame(T0, 2, &f);
    let Body::PacketIn(pi) = &messages(&mut s)[0].1.body.clone() else {
        panic!()
    };
    assert_eq!(
        (pi.buffer_id, pi.data.clone(), pi.reason),
        (of::NO_BUFFER, f.clone(), of::packet_in_reason::ACTION)
    );
    // Buffered, then left unclaimed past its lifetime: a FLOW_MOD naming it gets an error.
    s.handle_frame(T0, 1, &f);
    let Body::PacketIn(pi) = &messages(&mut s)[0].1.body.clone() else {
        panic!()
    };
    s.handle_timeout(T0 + BUFFER_LIFETIME);
    let mut fm = flow(9, vec![OxmField::InPort(1)], apply(vec![out(3)]));
    fm.buffer_id = pi.buffer_id;
    s.handle_message(T0, C, msg(4, Body::FlowMod(fm)));
    assert_eq!(
        error_of(&messages(&mut s)),
        Some((of::ErrorType::BAD_REQUEST, of::bad_request::BUFFER_UNKNOWN))
    );
}

#[test]
fn flow_mod_with_buffer_id_forwards_the_buffered_frame() {
    let mut s = connected();
    add(
        &mut s,
        flow(
            0,
            vec![],
            apply(vec![Action::Output {
                port: of::port_no::CONTROLLER,
                max_len: 64,
            }]),
        ),
    );
    let f = udp(1, 2, 1);
    s.handle_frame(T0, 1, &f);
    let Body::PacketIn(pi) = &messages(&mut s)[0].1.body.clone() else {
        panic!()
    };
    let mut fm = flow(9, vec![OxmField::InPort(1)], apply(vec![out(3)]));
    fm.buffer_id = pi.buffer_id;
    s.handle_message(T0, C, msg(4, Body::FlowMod(fm)));
    assert_eq!(frames(&drain(&mut s)), vec![(3, f)]);
}

#[test]
fn packet_out_with_data_to_table_and_flood() {
    let mut s = connected();
    add(
        &mut s,
        flow(1, vec![OxmField::InPort(3)], apply(vec![out(1)])),
    );
    let f = udp(5, 6, 1);
    let po = of::PacketOut {
        buffer_id: of::NO_BUFFER,
        in_port: 3,
        actions: vec![out(of::port_no::TABLE)],
        data: f.clone(),
    };
    s.handle_message(T0, C, msg(2, Body::PacketOut(po)));
    assert_eq!(frames(&drain(&mut s)), vec![(1, f.clone())]);
    let po = of::PacketOut {
        buffer_id: of::NO_BUFFER,
        in_port: of::port_no::CONTROLLER,
        actions: vec![out(of::port_no::ALL)],
        data: f.clone(),
    };
    s.handle_message(T0, C, msg(3, Body::PacketOut(po)));
    assert_eq!(ports_of(&drain(&mut s)), vec![1, 2, 3]);
    let po = of::PacketOut {
        buffer_id: of::NO_BUFFER,
        in_port: 77,
        actions: vec![],
        data: f,
    };
    s.handle_message(T0, C, msg(4, Body::PacketOut(po)));
    assert_eq!(
        error_of(&messages(&mut s)),
        Some((of::ErrorType::BAD_REQUEST, of::bad_request::BAD_PORT))
    );
}

// ------------------------------------------------------------------ roles, several connections

#[test]
fn slaves_cannot_modify_and_get_no_packet_ins() {
    let mut s = connected();
    s.passive_connection_up(T0, 2);
    s.handle_message(T0, 2, msg(0, Body::Hello { versions: None }));
    drain(&mut s);
    s.handle_message(
        T0,
        2,
        msg(
            1,
            Body::RoleRequest(of::Role {
                role: role::SLAVE,
                generation_id: 5,
            }),
        ),
    );
    assert_eq!(
        messages(&mut s)[0].1.body,
        Body::RoleReply(of::Role {
            role: role::SLAVE,
            generation_id: 5
        })
    );
    s.handle_message(T0, 2, msg(2, Body::FlowMod(flow(1, vec![], vec![]))));
    assert_eq!(
        error_of(&messages(&mut s)),
        Some((of::ErrorType::BAD_REQUEST, of::bad_request::IS_SLAVE))
    );
    add(
        &mut s,
        flow(
            0,
            vec![],
            apply(vec![Action::Output {
                port: of::port_no::CONTROLLER,
                max_len: 0xffff,
            }]),
        ),
    );
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    let m = messages(&mut s);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].0, C);
    // A stale generation id is refused.
    s.handle_message(
        T0,
        C,
        msg(
            3,
            Body::RoleRequest(of::Role {
                role: role::MASTER,
                generation_id: 4,
            }),
        ),
    );
    assert_eq!(
        error_of(&messages(&mut s)),
        Some((
            of::ErrorType::ROLE_REQUEST_FAILED,
            of::role_request_failed::STALE
        ))
    );
    // A new master demotes the old one.
    s.handle_message(
        T0,
        C,
        msg(
            4,
            Body::RoleRequest(of::Role {
                role: role::MASTER,
                generation_id: 6,
            }),
        ),
    );
    s.handle_message(
        T0,
        2,
        msg(
            5,
            Body::RoleRequest(of::Role {
                role: role::MASTER,
                generation_id: 7,
            }),
        ),
    );
    drain(&mut s);
    s.handle_message(T0, C, msg(6, Body::FlowMod(flow(1, vec![], vec![]))));
    assert_eq!(
        error_of(&messages(&mut s)),
        Some((of::ErrorType::BAD_REQUEST, of::bad_request::IS_SLAVE))
    );
}

// ------------------------------------------------------------------ fail modes

#[test]
fn standalone_learns_until_a_controller_connects() {
    let mut s = switch(FailMode::Standalone);
    // Unknown destination: flood; then the reply goes straight back.
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    assert_eq!(ports_of(&drain(&mut s)), vec![2, 3]);
    s.handle_frame(T0, 2, &udp(2, 1, 1));
    assert_eq!(ports_of(&drain(&mut s)), vec![1]);
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    assert_eq!(ports_of(&drain(&mut s)), vec![2]);
    // The passive service port does not count as a controller.
    s.passive_connection_up(T0, 7);
    s.handle_message(T0, 7, msg(0, Body::Hello { versions: None }));
    drain(&mut s);
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    assert_eq!(ports_of(&drain(&mut s)), vec![2]);
    // A controller: the (empty) flow tables rule, so nothing is forwarded.
    s.connection_up(T0, C);
    s.handle_message(T0, C, msg(0, Body::Hello { versions: None }));
    drain(&mut s);
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    assert!(drain(&mut s).is_empty());
    // It goes away: learning again.
    s.connection_down(T0, C);
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    assert_eq!(ports_of(&drain(&mut s)), vec![2, 3]);
}

#[test]
fn secure_without_controller_keeps_flows_only() {
    let mut s = connected();
    add(
        &mut s,
        flow(1, vec![OxmField::InPort(1)], apply(vec![out(2)])),
    );
    add(
        &mut s,
        flow(
            0,
            vec![],
            apply(vec![Action::Output {
                port: of::port_no::CONTROLLER,
                max_len: 0xffff,
            }]),
        ),
    );
    s.connection_down(T0, C);
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    assert_eq!(ports_of(&drain(&mut s)), vec![2]);
    s.handle_frame(T0, 2, &udp(2, 1, 1));
    assert!(drain(&mut s).is_empty());
}

// ------------------------------------------------------------------ ports

#[test]
fn link_changes_send_port_status_and_stop_output() {
    let mut s = connected();
    add(
        &mut s,
        flow(1, vec![OxmField::InPort(1)], apply(vec![out(2)])),
    );
    s.port_status(T0, 2, false);
    let m = messages(&mut s);
    let Body::PortStatus(ps) = &m[0].1.body else {
        panic!()
    };
    assert_eq!(
        (ps.reason, ps.desc.port_no, ps.desc.state),
        (of::port_reason::MODIFY, 2, port_state::LINK_DOWN)
    );
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    assert!(drain(&mut s).is_empty());
    s.port_status(T0, 2, true);
    let Body::PortStatus(ps) = &messages(&mut s)[0].1.body.clone() else {
        panic!()
    };
    assert_eq!(ps.desc.state, port_state::LIVE);
    // PORT_DOWN by PORT_MOD also stops output.
    let pm = of::PortMod {
        port_no: 2,
        hw_addr: mac(0x12),
        config: port_config::PORT_DOWN,
        mask: port_config::PORT_DOWN,
        advertise: 0,
    };
    s.handle_message(T0, C, msg(1, Body::PortMod(pm)));
    drain(&mut s);
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    assert!(drain(&mut s).is_empty());
}

// ------------------------------------------------------------------ groups

fn group(
    s: &mut Switch,
    command: GroupModCommand,
    group_type: GroupType,
    group_id: u32,
    buckets: Vec<Bucket>,
) -> Option<(of::ErrorType, u16)> {
    s.handle_message(
        T0,
        C,
        msg(
            1,
            Body::GroupMod(GroupMod {
                command,
                group_type,
                group_id,
                buckets,
            }),
        ),
    );
    error_of(&messages(s))
}

fn bucket(weight: u16, watch_port: u32, actions: Vec<Action>) -> Bucket {
    Bucket {
        weight,
        watch_port,
        watch_group: of::group::ANY,
        actions,
    }
}

#[test]
fn group_all_indirect_and_fast_failover() {
    let mut s = connected();
    let any = of::port_no::ANY;
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Add,
            GroupType::All,
            1,
            vec![bucket(0, any, vec![out(2)]), bucket(0, any, vec![out(3)])]
        ),
        None
    );
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Add,
            GroupType::FastFailover,
            2,
            vec![bucket(0, 2, vec![out(2)]), bucket(0, 3, vec![out(3)])]
        ),
        None
    );
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Add,
            GroupType::Indirect,
            3,
            vec![bucket(0, any, vec![Action::Group(2)])]
        ),
        None
    );
    add(
        &mut s,
        flow(
            1,
            vec![OxmField::InPort(1), OxmField::EthType(0x0800)],
            apply(vec![Action::Group(1)]),
        ),
    );
    add(
        &mut s,
        flow(
            1,
            vec![OxmField::InPort(1), OxmField::EthType(0x0806)],
            apply(vec![Action::Group(3)]),
        ),
    );
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    assert_eq!(ports_of(&drain(&mut s)), vec![2, 3]);
    let mut arp = udp(1, 2, 1);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    s.handle_frame(T0, 1, &arp);
    assert_eq!(ports_of(&drain(&mut s)), vec![2]);
    s.port_status(T0, 2, false);
    drain(&mut s);
    s.handle_frame(T0, 1, &arp);
    assert_eq!(ports_of(&drain(&mut s)), vec![3]);
    // Group stats count packets and buckets.
    let req = of::MultipartRequest {
        flags: 0,
        body: MpRequest::Group {
            group_id: of::group::ALL,
        },
    };
    s.handle_message(T0, C, msg(1, Body::MultipartRequest(req)));
    let Body::MultipartReply(of::MultipartReply {
        body: MpReply::Group(g),
        ..
    }) = &messages(&mut s)[0].1.body.clone()
    else {
        panic!()
    };
    assert_eq!((g[0].packet_count, g[0].ref_count), (1, 1));
    assert_eq!(
        g[1].bucket_stats
            .iter()
            .map(|b| b.packet_count)
            .collect::<Vec<_>>(),
        vec![1, 1]
    );
}

#[test]
fn group_mod_errors_and_delete_removes_flows() {
    let mut s = connected();
    let any = of::port_no::ANY;
    use of::group_mod_failed as E;
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Add,
            GroupType::All,
            1,
            vec![bucket(0, any, vec![out(2)])]
        ),
        None
    );
    assert_eq!(
        group(&mut s, GroupModCommand::Add, GroupType::All, 1, vec![]),
        Some((of::ErrorType::GROUP_MOD_FAILED, E::GROUP_EXISTS))
    );
    assert_eq!(
        group(&mut s, GroupModCommand::Modify, GroupType::All, 9, vec![]),
        Some((of::ErrorType::GROUP_MOD_FAILED, E::UNKNOWN_GROUP))
    );
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Add,
            GroupType::All,
            2,
            vec![bucket(0, any, vec![Action::Group(8)])]
        ),
        Some((of::ErrorType::GROUP_MOD_FAILED, E::CHAINING_UNSUPPORTED))
    );
    assert_eq!(
        group(&mut s, GroupModCommand::Add, GroupType::Indirect, 2, vec![]),
        Some((of::ErrorType::GROUP_MOD_FAILED, E::BAD_BUCKET))
    );
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Add,
            GroupType::All,
            of::group::ALL,
            vec![]
        ),
        Some((of::ErrorType::GROUP_MOD_FAILED, E::INVALID_GROUP))
    );
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Add,
            GroupType::All,
            2,
            vec![bucket(0, any, vec![Action::Group(1)])]
        ),
        None
    );
    // 1 is chained from 2: not deletable alone; 1 modified to chain to 2 would loop.
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Modify,
            GroupType::All,
            1,
            vec![bucket(0, any, vec![Action::Group(2)])]
        ),
        Some((of::ErrorType::GROUP_MOD_FAILED, E::LOOP))
    );
    assert_eq!(
        group(&mut s, GroupModCommand::Delete, GroupType::All, 1, vec![]),
        Some((of::ErrorType::GROUP_MOD_FAILED, E::CHAINED_GROUP))
    );
    add(&mut s, flow(1, vec![], apply(vec![Action::Group(2)])));
    assert_eq!(
        group(&mut s, GroupModCommand::Delete, GroupType::All, 2, vec![]),
        None
    );
    assert!(flow_stats(&mut s).is_empty());
}

#[test]
fn select_group_is_deterministic_and_weighted() {
    let mut s = connected();
    let any = of::port_no::ANY;
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Add,
            GroupType::Select,
            1,
            vec![bucket(1, any, vec![out(2)]), bucket(3, any, vec![out(3)])]
        ),
        None
    );
    add(
        &mut s,
        flow(1, vec![OxmField::InPort(1)], apply(vec![Action::Group(1)])),
    );
    let mut count = [0u32; 4];
    for dport in 0..400u16 {
        s.handle_frame(T0, 1, &udp(1, 2, dport));
        let p = ports_of(&drain(&mut s));
        assert_eq!(p.len(), 1);
        count[p[0] as usize] += 1;
        // The same flow always takes the same bucket.
        s.handle_frame(T0, 1, &udp(1, 2, dport));
        assert_eq!(ports_of(&drain(&mut s)), p);
    }
    assert!(count[3] > count[2] * 2 && count[2] > 40, "{count:?}");
    // A dead bucket is skipped.
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Modify,
            GroupType::Select,
            1,
            vec![bucket(1, 2, vec![out(2)]), bucket(1, 3, vec![out(3)])]
        ),
        None
    );
    s.port_status(T0, 3, false);
    drain(&mut s);
    for dport in 0..20u16 {
        s.handle_frame(T0, 1, &udp(1, 2, dport));
        assert_eq!(ports_of(&drain(&mut s)), vec![2]);
    }
}

// ------------------------------------------------------------------ meters

fn meter(
    s: &mut Switch,
    command: MeterModCommand,
    flags: u16,
    meter_id: u32,
    bands: Vec<MeterBand>,
) -> Option<(of::ErrorType, u16)> {
    s.handle_message(
        T0,
        C,
        msg(
            1,
            Body::MeterMod(MeterMod {
                command,
                flags,
                meter_id,
                bands,
            }),
        ),
    );
    error_of(&messages(s))
}

#[test]
fn meter_drops_above_rate_and_refills_with_time() {
    let mut s = connected();
    let flags = of::meter_flags::PKTPS | of::meter_flags::BURST | of::meter_flags::STATS;
    assert_eq!(
        meter(
            &mut s,
            MeterModCommand::Add,
            flags,
            1,
            vec![MeterBand::Drop { rate: 10, burst: 5 }]
        ),
        None
    );
    add(
        &mut s,
        flow(
            1,
            vec![OxmField::InPort(1)],
            vec![
                Instruction::Meter(1),
                Instruction::ApplyActions(vec![out(2)]),
            ],
        ),
    );
    let mut sent = 0;
    for _ in 0..20 {
        s.handle_frame(T0, 1, &udp(1, 2, 1));
        sent += frames(&drain(&mut s)).len();
    }
    assert_eq!(sent, 5, "the burst passes, the rest is dropped");
    // Half a second later: 5 more tokens.
    let mut sent = 0;
    for _ in 0..20 {
        s.handle_frame(at(0.5), 1, &udp(1, 2, 1));
        sent += frames(&drain(&mut s)).len();
    }
    assert_eq!(sent, 5);
    let req = of::MultipartRequest {
        flags: 0,
        body: MpRequest::Meter {
            meter_id: of::meter::ALL,
        },
    };
    s.handle_message(T0, C, msg(1, Body::MultipartRequest(req)));
    let Body::MultipartReply(of::MultipartReply {
        body: MpReply::Meter(m),
        ..
    }) = &messages(&mut s)[0].1.body.clone()
    else {
        panic!()
    };
    assert_eq!(
        (
            m[0].packet_in_count,
            m[0].band_stats[0].packet_band_count,
            m[0].flow_count
        ),
        (40, 30, 1)
    );
    use of::meter_mod_failed as E;
    assert_eq!(
        meter(
            &mut s,
            MeterModCommand::Add,
            flags,
            1,
            vec![MeterBand::Drop { rate: 1, burst: 1 }]
        ),
        Some((of::ErrorType::METER_MOD_FAILED, E::METER_EXISTS))
    );
    assert_eq!(
        meter(
            &mut s,
            MeterModCommand::Modify,
            flags,
            2,
            vec![MeterBand::Drop { rate: 1, burst: 1 }]
        ),
        Some((of::ErrorType::METER_MOD_FAILED, E::UNKNOWN_METER))
    );
    assert_eq!(
        meter(
            &mut s,
            MeterModCommand::Add,
            flags,
            3,
            vec![MeterBand::Drop { rate: 0, burst: 1 }]
        ),
        Some((of::ErrorType::METER_MOD_FAILED, E::BAD_RATE))
    );
    // Deleting the meter deletes its flows.
    assert_eq!(meter(&mut s, MeterModCommand::Delete, 0, 1, vec![]), None);
    assert!(flow_stats(&mut s).is_empty());
}

#[test]
fn dscp_remark_raises_drop_precedence() {
    let mut s = connected();
    let flags = of::meter_flags::PKTPS | of::meter_flags::BURST;
    assert_eq!(
        meter(
            &mut s,
            MeterModCommand::Add,
            flags,
            1,
            vec![MeterBand::DscpRemark {
                rate: 1,
                burst: 1,
                prec_level: 1
            }]
        ),
        None
    );
    add(
        &mut s,
        flow(
            1,
            vec![OxmField::InPort(1)],
            vec![
                Instruction::Meter(1),
                Instruction::ApplyActions(vec![out(2)]),
            ],
        ),
    );
    let mut f = udp(1, 2, 1);
    f[15] = 10 << 2; // AF11
    let sum = crate::openflow::packet::fold(crate::openflow::packet::sum16(0, &{
        let mut h = f[14..34].to_vec();
        h[10] = 0;
        h[11] = 0;
        h
    }));
    f[24..26].copy_from_slice(&(!sum).to_be_bytes());
    s.handle_frame(T0, 1, &f);
    assert_eq!(
        frames(&drain(&mut s))[0].1[15] >> 2,
        10,
        "within rate: unchanged"
    );
    s.handle_frame(T0, 1, &f);
    assert_eq!(frames(&drain(&mut s))[0].1[15] >> 2, 12, "above rate: AF12");
}

// ------------------------------------------------------------------ multipart

#[test]
fn big_replies_are_split_with_reply_more() {
    let mut s = connected();
    for i in 0..100u16 {
        add(&mut s, flow(i, vec![OxmField::InPort(1)], vec![]));
    }
    let req = of::MultipartRequest {
        flags: 0,
        body: MpRequest::Flow(of::FlowStatsRequest::all()),
    };
    s.handle_message(T0, C, msg(5, Body::MultipartRequest(req)));
    let m = messages(&mut s);
    let flags: Vec<u16> = m
        .iter()
        .map(|(_, m)| match &m.body {
            Body::MultipartReply(r) => r.flags,
            _ => 9,
        })
        .collect();
    assert_eq!(flags, vec![of::multipart_flags::MORE, 0]);
    assert_eq!(flow_stats(&mut s).len(), 100);
    let req = of::MultipartRequest {
        flags: 0,
        body: MpRequest::Aggregate(of::FlowStatsRequest::all()),
    };
    s.handle_message(T0, C, msg(6, Body::MultipartRequest(req)));
    assert!(
        matches!(&messages(&mut s)[0].1.body, Body::MultipartReply(of::MultipartReply { body: MpReply::Aggregate(a), .. }) if a.flow_count == 100)
    );
    let req = of::MultipartRequest {
        flags: 0,
        body: MpRequest::PortDesc,
    };
    s.handle_message(T0, C, msg(7, Body::MultipartRequest(req)));
    assert!(
        matches!(&messages(&mut s)[0].1.body, Body::MultipartReply(of::MultipartReply { body: MpReply::PortDesc(p), .. }) if p.len() == 3 && p[0].name == "eth0")
    );
}

// ------------------------------------------------------------------ never panics

/// A switch whose flows exercise every action on whatever frame arrives.
fn busy_switch() -> Switch {
    let mut s = connected();
    let any = of::port_no::ANY;
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Add,
            GroupType::Select,
            1,
            vec![
                bucket(1, any, vec![Action::PopVlan, out(2)]),
                bucket(2, 3, vec![out(3)])
            ]
        ),
        None
    );
    assert_eq!(
        group(
            &mut s,
            GroupModCommand::Add,
            GroupType::FastFailover,
            2,
            vec![
                bucket(0, 2, vec![Action::Group(1)]),
                bucket(0, 3, vec![out(of::port_no::CONTROLLER)])
            ]
        ),
        None
    );
    assert_eq!(
        meter(
            &mut s,
            MeterModCommand::Add,
            of::meter_flags::KBPS,
            1,
            vec![MeterBand::DscpRemark {
                rate: 10,
                burst: 0,
                prec_level: 2
            }]
        ),
        None
    );
    add(
        &mut s,
        flow(
            9,
            vec![OxmField::InPort(1)],
            vec![
                Instruction::Meter(1),
                Instruction::ApplyActions(vec![
                    Action::PushVlan(0x88a8),
                    Action::SetField(OxmField::VlanVid(0x1007, None)),
                    Action::DecNwTtl,
                    Action::SetNwTtl(1),
                    Action::DecNwTtl,
                    Action::PushMpls(0x8847),
                    Action::DecMplsTtl,
                    Action::PopMpls(0x0800),
                    Action::SetField(OxmField::EthSrc(mac(9), None)),
                    Action::SetField(OxmField::TcpDst(80)),
                    Action::SetField(OxmField::Ipv6Src("fe80::1".parse().unwrap(), None)),
                    out(of::port_no::IN_PORT),
                ]),
                Instruction::WriteActions(vec![Action::Group(2), Action::PopVlan]),
                Instruction::GotoTable(3),
            ],
        ),
    );
    let mut t3 = flow(
        0,
        vec![],
        apply(vec![
            Action::Output {
                port: of::port_no::CONTROLLER,
                max_len: 20,
            },
            out(of::port_no::NORMAL),
        ]),
    );
    t3.table_id = 3;
    add(&mut s, t3);
    add(
        &mut s,
        flow(
            1,
            vec![],
            apply(vec![out(of::port_no::FLOOD), Action::Group(1)]),
        ),
    );
    s
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

    /// Any frame on any port: outputs or nothing, never a panic.
    #[test]
    fn any_frame_never_panics(
        frame in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..160),
        port in 0u32..5,
        ipv4 in proptest::prelude::any::<bool>(),
    ) {
        let mut s = busy_switch();
        let mut f = frame;
        // Half the cases look like IPv4 so that the deeper headers get exercised.
        if ipv4 && f.len() > 14 {
            f[12] = 0x08;
            f[13] = 0x00;
            f[14] = 0x45;
        }
        s.handle_frame(T0, port, &f);
        s.handle_timeout(at(100.0));
        drain(&mut s);
    }

    /// Any decodable message on an open connection: an answer or nothing, never a panic.
    #[test]
    fn any_message_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 8..300), kind in 0u8..30) {
        let mut s = busy_switch();
        let mut b = bytes;
        b[0] = 4;
        b[1] = kind;
        let len = b.len() as u16;
        b[2..4].copy_from_slice(&len.to_be_bytes());
        if let Ok(m) = of::parse(&b) {
            s.handle_message(T0, C, m);
        }
        s.handle_frame(T0, 1, &udp(1, 2, 3));
        drain(&mut s);
    }
}

#[test]
fn limits_refuse_more_groups_buckets_and_bands() {
    let mut s = connected();
    let any = of::port_no::ANY;
    let many: Vec<Bucket> = (0..=MAX_BUCKETS)
        .map(|_| bucket(0, any, vec![out(2)]))
        .collect();
    assert_eq!(
        group(&mut s, GroupModCommand::Add, GroupType::All, 1, many),
        Some((
            of::ErrorType::GROUP_MOD_FAILED,
            of::group_mod_failed::OUT_OF_BUCKETS
        ))
    );
    let bands: Vec<MeterBand> = (0..=MAX_BANDS as u32)
        .map(|i| MeterBand::Drop {
            rate: i + 1,
            burst: 0,
        })
        .collect();
    assert_eq!(
        meter(
            &mut s,
            MeterModCommand::Add,
            of::meter_flags::KBPS,
            1,
            bands
        ),
        Some((
            of::ErrorType::METER_MOD_FAILED,
            of::meter_mod_failed::OUT_OF_BANDS
        ))
    );
}

/// Strict modify/delete and identical adds find their entry through the classifier, and
/// timeouts stay right when entries come and go (the deadline bound is rescanned).
#[test]
fn strict_ops_and_deadline_bound_with_many_flows() {
    let mut s = connected();
    for i in 0..2000u32 {
        let mut f = flow(
            7,
            vec![OxmField::InPort(1), OxmField::Metadata(u64::from(i), None)],
            vec![],
        );
        f.hard_timeout = if i == 1000 { 5 } else { 0 };
        add(&mut s, f);
    }
    assert_eq!(s.next_flow_deadline(), Some(at(5.0)));
    let mut d = flow(
        7,
        vec![OxmField::InPort(1), OxmField::Metadata(1000, None)],
        vec![],
    );
    d.command = FlowModCommand::DeleteStrict;
    add(&mut s, d);
    // No timed entry is left: no deadline.
    alive(&mut s, at(5.0));
    s.handle_timeout(at(5.0));
    assert_eq!(s.next_flow_deadline(), None);
    assert_eq!(flow_stats(&mut s).len(), 1999);
}

#[test]
fn set_async_filters_packet_ins_and_table_mod_checks_the_table() {
    let mut s = connected();
    add(
        &mut s,
        flow(
            0,
            vec![],
            apply(vec![Action::Output {
                port: of::port_no::CONTROLLER,
                max_len: 0xffff,
            }]),
        ),
    );
    // Only ACTION packet-ins wanted: the table-miss one (NO_MATCH) is not sent.
    let cfg = of::AsyncConfig {
        packet_in_mask: [1 << of::packet_in_reason::ACTION, 0],
        port_status_mask: [0, 0],
        flow_removed_mask: [0, 0],
    };
    s.handle_message(T0, C, msg(1, Body::SetAsync(cfg)));
    s.handle_frame(T0, 1, &udp(1, 2, 1));
    assert!(messages(&mut s).is_empty());
    s.handle_message(T0, C, msg(2, Body::GetAsyncRequest));
    assert_eq!(messages(&mut s)[0].1.body, Body::GetAsyncReply(cfg));
    s.port_status(T0, 2, false);
    assert!(messages(&mut s).is_empty(), "port status masked too");
    s.handle_message(
        T0,
        C,
        msg(
            3,
            Body::TableMod {
                table_id: 200,
                config: 0,
            },
        ),
    );
    assert_eq!(
        error_of(&messages(&mut s)),
        Some((
            of::ErrorType::TABLE_MOD_FAILED,
            of::table_mod_failed::BAD_TABLE
        ))
    );
}

#[test]
fn a_silent_connection_is_probed_then_closed() {
    let mut s = connected();
    assert_eq!(s.poll_timeout(), Some(T0 + PROBE_IDLE));
    s.handle_timeout(T0 + PROBE_IDLE);
    let m = messages(&mut s);
    assert!(matches!(m[0].1.body, Body::EchoRequest(_)), "{m:?}");
    // An answer resets the clock.
    s.handle_message(at(6.0), C, msg(0, Body::EchoReply(Vec::new())));
    s.handle_timeout(at(10.0));
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(at(11.0));
    assert!(matches!(messages(&mut s)[0].1.body, Body::EchoRequest(_)));
    // Silent on: closed, and no longer a controller.
    s.handle_timeout(at(16.0));
    assert_eq!(drain(&mut s), vec![Transmit::Close { conn: C }]);
    assert!(!s.controller_connected());
}

#[test]
fn table_features_are_reported_and_cannot_be_set() {
    let mut s = connected();
    let req = of::MultipartRequest {
        flags: 0,
        body: MpRequest::TableFeatures(Vec::new()),
    };
    s.handle_message(T0, C, msg(1, Body::MultipartRequest(req)));
    let m = messages(&mut s);
    assert_eq!(m.len(), 1);
    let Body::MultipartReply(of::MultipartReply {
        flags: 0,
        body: MpReply::TableFeatures(b),
    }) = &m[0].1.body
    else {
        panic!("{m:?}")
    };
    // Eight entries (walked by their lengths), for tables 0 to 7.
    let mut ids = Vec::new();
    let mut at = 0;
    while at < b.len() {
        ids.push(b[at + 2]);
        at += u16::from_be_bytes([b[at], b[at + 1]]) as usize;
    }
    assert_eq!(ids, (0..8).collect::<Vec<u8>>());
    let req = of::MultipartRequest {
        flags: 0,
        body: MpRequest::TableFeatures(vec![0; 64]),
    };
    s.handle_message(T0, C, msg(2, Body::MultipartRequest(req)));
    assert_eq!(
        error_of(&messages(&mut s)),
        Some((
            of::ErrorType::TABLE_FEATURES_FAILED,
            of::table_features_failed::EPERM
        ))
    );
}
