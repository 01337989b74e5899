//! Fuzzing the OpenFlow controller core in `cargo test`: whatever a switch sends — random
//! frames in PACKET_INs (the ARP/ND proxy parses them), random bytes that happen to decode
//! as messages, in any order — the core never panics, with every app.
//! `TOPOLAB_FUZZ_CASES` runs longer locally, as in tests/fuzz.rs.

use std::net::Ipv4Addr;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use topolab::compile::{Mac, Neighbour, SwitchView, TopologyView};
use topolab::openflow::codec::{self, Body, Match, Message, OxmField, PacketIn, SwitchFeatures};
use topolab::openflow::controller::{App, Controller, proxy};
use topolab::time::Instant;

fn cases() -> u32 {
    std::env::var("TOPOLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn ring() -> TopologyView {
    let switches = (1..=3u64)
        .map(|i| SwitchView {
            name: format!("s{i}"),
            dpid: i,
            ports: vec![
                (
                    1,
                    Neighbour::Host {
                        name: format!("h{i}"),
                        mac: Mac([2, 0, 0, 0, 0, i as u8]),
                        ipv4: vec![Ipv4Addr::new(10, 0, 0, i as u8)],
                        ipv6: vec![format!("fd00::{i}").parse().unwrap()],
                    },
                ),
                (
                    2,
                    Neighbour::Switch {
                        dpid: i % 3 + 1,
                        port_no: 3,
                    },
                ),
                (
                    3,
                    Neighbour::Switch {
                        dpid: (i + 1) % 3 + 1,
                        port_no: 2,
                    },
                ),
            ],
        })
        .collect();
    TopologyView { switches }
}

/// A frame that often looks like ARP or a neighbour solicitation, then mutated.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let arp = {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 8, 6, 0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        f
    };
    let ns = {
        let mut f = vec![0x33, 0x33, 0xff, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
        f.extend_from_slice(&[0x60, 0, 0, 0, 0, 32, 58, 255]);
        f.extend_from_slice(&"fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        f.extend_from_slice(&[0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2]);
        f.extend_from_slice(&[135, 0, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(&"fd00::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
        f
    };
    (
        prop_oneof![
            Just(arp),
            Just(ns),
            proptest::collection::vec(any::<u8>(), 0..100)
        ],
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        any::<usize>(),
    )
        .prop_map(|(mut f, flips, cut)| {
            for (i, b) in flips {
                if !f.is_empty() {
                    let n = f.len();
                    f[i % n] = b;
                }
            }
            let keep = if f.is_empty() { 0 } else { cut % (f.len() + 1) };
            if cut % 3 == 0 {
                f.truncate(keep);
            }
            f
        })
}

#[test]
fn proxy_never_panics() {
    let mut runner = TestRunner::new(Config::with_cases(cases()));
    runner
        .run(&frame(), |f| {
            let _ = proxy::ask(&f);
            let _ = proxy::arp_reply(&f, Ipv4Addr::new(10, 0, 0, 2), [2; 6]);
            let _ = proxy::neighbor_advert(&f, "fd00::2".parse().unwrap(), [2; 6]);
            Ok(())
        })
        .unwrap();
}

/// An event a switch can cause.
#[derive(Debug, Clone)]
enum Ev {
    Up(u64),
    Down(u64),
    Bytes(u64, Vec<u8>),
    PacketIn(u64, u32, Vec<u8>),
    Features(u64, u64),
    Timeout(u64),
}

fn event() -> impl Strategy<Value = Ev> {
    let conn = 0..4u64;
    prop_oneof![
        conn.clone().prop_map(Ev::Up),
        conn.clone().prop_map(Ev::Down),
        (conn.clone(), proptest::collection::vec(any::<u8>(), 0..80)).prop_map(|(c, mut b)| {
            // A plausible header so that parse gets past it now and then.
            if b.len() >= 8 {
                b[0] = 4;
                let n = b.len() as u16;
                b[2..4].copy_from_slice(&n.to_be_bytes());
            }
            Ev::Bytes(c, b)
        }),
        (conn.clone(), 0..5u32, frame()).prop_map(|(c, p, f)| Ev::PacketIn(c, p, f)),
        (conn.clone(), 0..4u64).prop_map(|(c, d)| Ev::Features(c, d)),
        (0..40u64).prop_map(Ev::Timeout),
    ]
}

#[test]
fn controller_never_panics_on_any_sequence() {
    let mut runner = TestRunner::new(Config::with_cases(cases() / 4));
    let apps = proptest::collection::vec(event(), 0..40);
    runner
        .run(&(0..3u8, apps), |(app, events)| {
            let app = match app {
                0 => App::Hub,
                1 => App::Learning,
                _ => App::ShortestPath(ring()),
            };
            let t0 = Instant::from_nanos(1);
            let mut c = Controller::new(app, t0);
            let mut now = t0;
            for e in events {
                match e {
                    Ev::Up(conn) => c.connection_up(now, conn, None),
                    Ev::Down(conn) => c.connection_down(now, conn),
                    Ev::Bytes(conn, b) => match codec::parse(&b) {
                        Ok(m) => c.handle_message(now, conn, m),
                        Err(e) => c.handle_decode_error(now, conn, &e, &b),
                    },
                    Ev::PacketIn(conn, port, data) => {
                        let body = Body::PacketIn(PacketIn {
                            buffer_id: codec::NO_BUFFER,
                            total_len: data.len() as u16,
                            reason: 0,
                            table_id: 0,
                            cookie: 0,
                            r#match: Match {
                                fields: vec![OxmField::InPort(port)],
                            },
                            data,
                        });
                        c.handle_message(now, conn, Message::new(1, body));
                    }
                    Ev::Features(conn, dpid) => {
                        c.handle_message(
                            now,
                            conn,
                            Message::new(1, Body::Hello { versions: None }),
                        );
                        let f = SwitchFeatures {
                            datapath_id: dpid,
                            n_buffers: 0,
                            n_tables: 1,
                            auxiliary_id: 0,
                            capabilities: 0,
                        };
                        c.handle_message(now, conn, Message::new(2, Body::FeaturesReply(f)));
                    }
                    Ev::Timeout(s) => {
                        now += std::time::Duration::from_secs(s);
                        c.handle_timeout(now);
                    }
                }
                // Whatever the core sends is a valid message.
                while let Some(t) = c.poll_transmit() {
                    if let topolab::openflow::controller::Transmit::Message { msg, .. } = t {
                        let mut out = Vec::new();
                        codec::emit(&msg, &mut out);
                        prop_assert_eq!(codec::parse(&out), Ok(msg));
                    }
                }
                let _ = c.switches_json(now);
            }
            Ok(())
        })
        .unwrap();
}
