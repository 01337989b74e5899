//! The controller core driven with codec messages: handshake, echo, learning, and the
//! shortest-path app on a 4-switch ring (install, fail over, switch loss).

use std::net::Ipv4Addr;

use super::*;
use crate::compile::{Mac, SwitchView};
use crate::openflow::codec::{PacketIn, PacketOut};

const T0: Instant = Instant::from_nanos(1_000_000_000);

fn msg(body: Body) -> Message {
    Message { xid: 7, body }
}

fn drain(c: &mut Controller) -> Vec<Transmit> {
    std::iter::from_fn(|| c.poll_transmit()).collect()
}

fn bodies(out: Vec<Transmit>) -> Vec<Body> {
    out.into_iter()
        .filter_map(|t| match t {
            Transmit::Message { msg, .. } => Some(msg.body),
            Transmit::Close { .. } => None,
        })
        .collect()
}

fn features(dpid: u64) -> Body {
    Body::FeaturesReply(SwitchFeatures {
        datapath_id: dpid,
        n_buffers: 0,
        n_tables: 254,
        auxiliary_id: 0,
        capabilities: 0,
    })
}

fn port(port_no: u32, up: bool) -> Port {
    Port {
        port_no,
        hw_addr: [2, 0, 0, 0, 0, port_no as u8],
        name: format!("eth{}", port_no - 1),
        config: 0,
        state: if up { 0 } else { port_state::LINK_DOWN },
        curr: 0,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 0,
        max_speed: 0,
    }
}

/// Connects `conn` as datapath `dpid` through HELLO and FEATURES; returns what followed
/// the FEATURES_REPLY.
fn connect(c: &mut Controller, conn: ConnId, dpid: u64) -> Vec<Body> {
    c.connection_up(T0, conn, None);
    assert_eq!(
        bodies(drain(c)),
        vec![Body::Hello {
            versions: Some(1 << 4)
        }]
    );
    c.handle_message(
        T0,
        conn,
        msg(Body::Hello {
            versions: Some(0x12),
        }),
    );
    assert_eq!(bodies(drain(c)), vec![Body::FeaturesRequest]);
    c.handle_message(T0, conn, msg(features(dpid)));
    let out = bodies(drain(c));
    assert_eq!(
        out[0],
        Body::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MpRequest::PortDesc
        })
    );
    out[1..].to_vec()
}

fn packet_in(in_port: u32, data: Vec<u8>, buffer_id: u32) -> Message {
    msg(Body::PacketIn(PacketIn {
        buffer_id,
        total_len: data.len() as u16,
        reason: 0,
        table_id: 0,
        cookie: 0,
        r#match: Match {
            fields: vec![OxmField::InPort(in_port)],
        },
        data,
    }))
}

fn eth(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[0u8; 46]);
    f
}

#[test]
fn handshake_echo_and_idle_drop() {
    let mut c = Controller::new(App::Hub, T0);
    let after = connect(&mut c, 1, 0xabc);
    // The hub's flood flow.
    let Body::FlowMod(f) = &after[0] else {
        panic!("{after:?}")
    };
    assert_eq!(f.priority, 0);
    assert_eq!(
        f.instructions,
        vec![Instruction::ApplyActions(vec![Action::Output {
            port: port_no::FLOOD,
            max_len: 0
        }])]
    );
    assert_eq!(c.switches_ready(), 1);

    // An echo request is answered with its xid and data.
    c.handle_message(
        T0,
        1,
        Message {
            xid: 99,
            body: Body::EchoRequest(b"hi".to_vec()),
        },
    );
    assert_eq!(
        drain(&mut c),
        vec![Transmit::Message {
            conn: 1,
            msg: Message {
                xid: 99,
                body: Body::EchoReply(b"hi".to_vec())
            }
        }]
    );
    // Idle: an echo request after ECHO_INTERVAL, the connection closed after IDLE_TIMEOUT.
    assert_eq!(c.poll_timeout(), Some(T0 + ECHO_INTERVAL));
    c.handle_timeout(T0 + ECHO_INTERVAL);
    assert!(matches!(&bodies(drain(&mut c))[..], [Body::EchoRequest(_)]));
    c.handle_timeout(T0 + ECHO_INTERVAL + Duration::from_secs(1));
    assert!(drain(&mut c).is_empty(), "one echo request per silence");
    assert_eq!(c.poll_timeout(), Some(T0 + IDLE_TIMEOUT));
    c.handle_timeout(T0 + IDLE_TIMEOUT);
    assert_eq!(drain(&mut c), vec![Transmit::Close { conn: 1 }]);
    assert_eq!(c.switches_ready(), 0);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn incompatible_hello_is_refused_and_errors_are_kept() {
    let mut c = Controller::new(App::Learning, T0);
    c.connection_up(T0, 1, None);
    drain(&mut c);
    c.handle_message(
        T0,
        1,
        msg(Body::Hello {
            versions: Some(0b10),
        }),
    );
    let out = drain(&mut c);
    assert!(matches!(
        &out[0],
        Transmit::Message { msg: Message { body: Body::Error(e), .. }, .. }
            if e.kind == ErrorType::HELLO_FAILED
    ));
    assert_eq!(out[1], Transmit::Close { conn: 1 });

    // A switch's ERROR is counted and shown.
    c.connection_up(T0, 2, None);
    connect_rest(&mut c, 2, 5);
    c.handle_message(
        T0,
        2,
        msg(Body::Error(ErrorMsg::new(ErrorType::BAD_MATCH, 9))),
    );
    let view = c.switches_json(T0);
    let s = view
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dpid"] == "0000000000000005")
        .unwrap();
    assert_eq!(s["errors"], 1);
    assert_eq!(s["last_errors"][0]["type"], 4);
}

fn connect_rest(c: &mut Controller, conn: ConnId, dpid: u64) {
    c.handle_message(T0, conn, msg(Body::Hello { versions: None }));
    c.handle_message(T0, conn, msg(features(dpid)));
    drain(c);
}

#[test]
fn a_reconnecting_datapath_replaces_its_old_connection() {
    let mut c = Controller::new(App::Learning, T0);
    connect(&mut c, 1, 9);
    c.connection_up(T0, 2, None);
    c.handle_message(T0, 2, msg(Body::Hello { versions: None }));
    c.handle_message(T0, 2, msg(features(9)));
    assert!(drain(&mut c).contains(&Transmit::Close { conn: 1 }));
    c.connection_down(T0, 1);
    assert_eq!(c.switches_ready(), 1);
}

#[test]
fn learning_floods_unknown_learns_and_installs() {
    let a = [2, 0, 0, 0, 0, 0xa];
    let b = [2, 0, 0, 0, 0, 0xb];
    let mut c = Controller::new(App::Learning, T0);
    let after = connect(&mut c, 1, 1);
    // Table-miss → controller, whole packets.
    let Body::FlowMod(f) = &after[0] else {
        panic!()
    };
    assert_eq!((f.priority, f.r#match.fields.len()), (0, 0));
    assert_eq!(
        f.instructions,
        vec![Instruction::ApplyActions(vec![Action::Output {
            port: port_no::CONTROLLER,
            max_len: 0xffff
        }])]
    );

    // a → b, b unknown: flooded, the packet's bytes in the PACKET_OUT.
    let frame = eth(b, a);
    c.handle_message(T0, 1, packet_in(1, frame.clone(), NO_BUFFER));
    assert_eq!(
        bodies(drain(&mut c)),
        vec![Body::PacketOut(PacketOut {
            buffer_id: NO_BUFFER,
            in_port: 1,
            actions: vec![Action::Output {
                port: port_no::FLOOD,
                max_len: 0
            }],
            data: frame,
        })]
    );
    // b → a: a was learned on port 1: a flow (in_port, eth_dst, eth_src) and the packet out.
    let frame = eth(a, b);
    c.handle_message(T0, 1, packet_in(2, frame.clone(), NO_BUFFER));
    let out = bodies(drain(&mut c));
    let Body::FlowMod(f) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(f.priority, 1);
    assert_eq!(
        f.r#match.fields,
        vec![
            OxmField::InPort(2),
            OxmField::EthDst(a, None),
            OxmField::EthSrc(b, None)
        ]
    );
    assert_eq!(
        f.instructions,
        vec![Instruction::ApplyActions(vec![Action::Output {
            port: 1,
            max_len: 0
        }])]
    );
    assert!(
        matches!(&out[1], Body::PacketOut(p) if p.data == frame && p.actions == vec![Action::Output { port: 1, max_len: 0 }])
    );
    assert_eq!(out.len(), 2);

    // Buffered at the switch: the FLOW_MOD carries the buffer id; no PACKET_OUT.
    c.handle_message(T0, 1, packet_in(2, eth(a, b), 77));
    let out = bodies(drain(&mut c));
    assert!(
        matches!(&out[..], [Body::FlowMod(f)] if f.buffer_id == 77),
        "{out:?}"
    );
    // … and a buffered flood is a PACKET_OUT of the buffer, without data.
    c.handle_message(T0, 1, packet_in(2, eth([2, 0, 0, 0, 0, 0xc], b), 78));
    let out = bodies(drain(&mut c));
    assert!(
        matches!(&out[..], [Body::PacketOut(p)] if p.buffer_id == 78 && p.data.is_empty()),
        "{out:?}"
    );
    let AppState::Learning(l) = &c.app else {
        panic!()
    };
    assert_eq!(l.table(1).unwrap().get(&b), Some(&2));
}

// --- shortest-path on a ring -----------------------------------------------------------

/// s1..s4 in a ring: port 1 → host hN, port 2 → the next switch's port 3.
fn ring() -> TopologyView {
    let n = 4u64;
    let switches = (1..=n)
        .map(|i| {
            let next = i % n + 1;
            let prev = (i + n - 2) % n + 1;
            SwitchView {
                name: format!("s{i}"),
                dpid: i,
                ports: vec![
                    (
                        1,
                        Neighbour::Host {
                            name: format!("h{i}"),
                            mac: Mac(host_mac(i)),
                            ipv4: vec![Ipv4Addr::new(10, 0, 0, i as u8)],
                            ipv6: vec![format!("fd00::{i}").parse().unwrap()],
                        },
                    ),
                    (
                        2,
                        Neighbour::Switch {
                            dpid: next,
                            port_no: 3,
                        },
                    ),
                    (
                        3,
                        Neighbour::Switch {
                            dpid: prev,
                            port_no: 2,
                        },
                    ),
                ],
            }
        })
        .collect();
    TopologyView { switches }
}

fn host_mac(i: u64) -> [u8; 6] {
    [2, 0, 0, 0, 1, i as u8]
}

/// The host flows in `out`, as (dst host number 1.., output port); deletes as port 0.
fn host_flows(out: &[Body]) -> Vec<(u64, u32)> {
    let mut v: Vec<(u64, u32)> = out
        .iter()
        .filter_map(|b| match b {
            Body::FlowMod(f) if f.priority == shortest_path::PRIO_HOST => {
                let OxmField::EthDst(mac, None) = f.r#match.fields[0] else {
                    panic!("{f:?}")
                };
                let Instruction::ApplyActions(a) = &f.instructions[0] else {
                    panic!()
                };
                let Action::Output { port, .. } = a[0] else {
                    panic!()
                };
                Some((mac[5] as u64, port))
            }
            Body::FlowMod(f)
                if f.command == FlowModCommand::Delete && f.cookie_mask == u64::MAX =>
            {
                Some((f.cookie & 0xffff, 0))
            }
            _ => None,
        })
        .collect();
    v.sort();
    v
}

/// Messages per connection.
fn per_conn(out: Vec<Transmit>) -> BTreeMap<ConnId, Vec<Body>> {
    let mut m: BTreeMap<ConnId, Vec<Body>> = BTreeMap::new();
    for t in out {
        if let Transmit::Message { conn, msg } = t {
            m.entry(conn).or_default().push(msg.body);
        }
    }
    m
}

fn ring_up() -> Controller {
    let mut c = Controller::new(App::ShortestPath(ring()), T0);
    for i in 1..=4 {
        c.connection_up(T0, i, None);
        c.handle_message(T0, i, msg(Body::Hello { versions: None }));
        c.handle_message(T0, i, msg(features(i)));
    }
    c
}

#[test]
fn shortest_path_installs_trees_on_a_ring() {
    let mut c = Controller::new(App::ShortestPath(ring()), T0);
    let first = connect(&mut c, 1, 1);
    // Our old flows deleted, a barrier, ARP and ND to the controller, then the own host.
    assert!(
        matches!(&first[0], Body::FlowMod(f) if f.command == FlowModCommand::Delete
        && f.cookie == shortest_path::COOKIE_TAG && f.cookie_mask == shortest_path::COOKIE_TAG_MASK)
    );
    assert_eq!(first[1], Body::BarrierRequest);
    assert!(
        matches!(&first[2], Body::FlowMod(f) if f.r#match.fields == vec![OxmField::EthType(0x806)]
        && f.priority == shortest_path::PRIO_PROXY)
    );
    assert!(matches!(&first[3], Body::FlowMod(f) if f.r#match.fields.len() == 3));
    // Alone, s1 reaches only h1.
    assert_eq!(host_flows(&first), vec![(1, 1)]);

    let mut c = ring_up();
    let AppState::ShortestPath(s) = &c.app else {
        panic!()
    };
    // Host numbers are 0-based in the app: h1 = 0.
    let want: BTreeMap<u64, BTreeMap<usize, u32>> = [
        (1, [(0, 1), (1, 2), (2, 2), (3, 3)]),
        (2, [(0, 3), (1, 1), (2, 2), (3, 2)]),
        (3, [(0, 2), (1, 3), (2, 1), (3, 2)]),
        (4, [(0, 2), (1, 2), (2, 3), (3, 1)]),
    ]
    .into_iter()
    .map(|(d, r)| (d, r.into_iter().collect()))
    .collect();
    assert_eq!(s.routes(), &want);
    drain(&mut c);
    let view = c.switches_json(T0);
    assert_eq!(view[0]["flows_installed"], 6);
}

#[test]
fn shortest_path_fails_over_on_port_status_and_switch_loss() {
    let mut c = ring_up();
    drain(&mut c);
    // s1's port 2 (to s2) goes down: only s1 reports it.
    c.handle_message(
        T0,
        1,
        msg(Body::PortStatus(PortStatus {
            reason: port_reason::MODIFY,
            desc: port(2, false),
        })),
    );
    let out = per_conn(drain(&mut c));
    // s1 now reaches h2 and h3 the other way round (port 3); s2 reaches h1 through s3
    // (port 2); s4 reaches h2 through s3 (port 3); s3's tree is unchanged.
    assert_eq!(host_flows(&out[&1]), vec![(2, 3), (3, 3)]);
    assert_eq!(host_flows(&out[&2]), vec![(1, 2)]);
    assert_eq!(host_flows(&out[&4]), vec![(2, 3)]);
    assert!(!out.contains_key(&3), "{out:?}");

    // Back up: the shortest trees again.
    c.handle_message(
        T0,
        1,
        msg(Body::PortStatus(PortStatus {
            reason: port_reason::MODIFY,
            desc: port(2, true),
        })),
    );
    let out = per_conn(drain(&mut c));
    assert_eq!(host_flows(&out[&1]), vec![(2, 2), (3, 2)]);
    assert_eq!(host_flows(&out[&2]), vec![(1, 3)]);
    assert_eq!(host_flows(&out[&4]), vec![(2, 2)]);

    // The other end (s2's port 3) reports the same link down: the same failover.
    c.handle_message(
        T0,
        2,
        msg(Body::MultipartReply(
            crate::openflow::codec::MultipartReply {
                flags: 0,
                body: MpReply::PortDesc(vec![port(1, true), port(2, true), port(3, false)]),
            },
        )),
    );
    let out = per_conn(drain(&mut c));
    assert_eq!(host_flows(&out[&1]), vec![(2, 3), (3, 3)]);

    // s3 disconnects: s2 is cut off (keeps only h2); s1 and s4 keep h1 and h4. The
    // unreachable hosts' flows are deleted by cookie.
    c.connection_down(T0, 3);
    let out = per_conn(drain(&mut c));
    assert_eq!(host_flows(&out[&1]), vec![(2, 0), (3, 0)]);
    assert_eq!(host_flows(&out[&2]), vec![(1, 0), (3, 0), (4, 0)]);
    assert_eq!(host_flows(&out[&4]), vec![(2, 0), (3, 0)]);
}

#[test]
fn shortest_path_answers_arp_and_nd_and_floods_nothing() {
    let mut c = ring_up();
    drain(&mut c);
    // h1 asks for 10.0.0.3 (at s3) on s1 port 1.
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&host_mac(1));
    arp.extend_from_slice(&[8, 6, 0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&host_mac(1));
    arp.extend_from_slice(&[10, 0, 0, 1]);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[10, 0, 0, 3]);
    c.handle_message(T0, 1, packet_in(1, arp.clone(), NO_BUFFER));
    let out = bodies(drain(&mut c));
    let [Body::PacketOut(p)] = &out[..] else {
        panic!("{out:?}")
    };
    assert_eq!(
        p.actions,
        vec![Action::Output {
            port: 1,
            max_len: 0
        }]
    );
    assert_eq!(&p.data[..6], &host_mac(1));
    assert_eq!(&p.data[6..12], &host_mac(3));
    // Unknown address, or any other packet: nothing (never a flood).
    arp[41] = 99;
    c.handle_message(T0, 1, packet_in(1, arp, NO_BUFFER));
    c.handle_message(T0, 1, packet_in(1, eth([0xff; 6], host_mac(1)), NO_BUFFER));
    assert!(drain(&mut c).is_empty());
}
