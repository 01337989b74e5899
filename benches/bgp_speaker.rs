//! The speaker's receive path (issue 11: 1M prefixes into the Loc-RIB faster than BIRD):
//! a session is brought up with an OPEN and a KEEPALIVE, then a full table's UPDATE bytes
//! are fed through `handle_data` in 64 KiB reads and every output (FIB changes) drained.
//! Two tables: large UPDATEs (1000 prefixes per attribute set) and a realistic spread
//! (4 prefixes per attribute set, so 250k distinct sets).
//!
//! Run with `cargo bench --bench bgp_speaker`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net};
use topolab::bgp::codec::{self, *};
use topolab::bgp::config::{Afi, PeerConfig, SpeakerConfig};
use topolab::bgp::speaker::{ConnId, Speaker};
use topolab::time::Instant;

const N: u32 = 1_000_000;

fn config() -> SpeakerConfig {
    SpeakerConfig {
        asn: 65001,
        router_id: Ipv4Addr::new(1, 1, 1, 1),
        cluster_id: None,
        hold_time: 90,
        keepalive: None,
        connect_retry: 5,
        networks: vec![],
        import: vec![],
        export: vec![],
        peers: vec![PeerConfig {
            name: "sender".into(),
            address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            local_address: None,
            port: 179,
            remote_as: 65002,
            passive: true,
            multihop: None,
            ttl_security: None,
            password: None,
            rr_client: false,
            next_hop_self: false,
            families: vec![Afi::Ipv4],
            import: vec![],
            export: vec![],
            hold_time: None,
            next_hops: vec![],
        }],
        fib: true,
        listen_port: 179,
    }
}

fn params() -> SessionParams {
    SessionParams {
        four_octet_as: true,
        extended_messages: true,
        ..Default::default()
    }
}

/// The sender's OPEN and KEEPALIVE.
fn hello() -> Vec<u8> {
    let open = Open {
        my_as: 65002,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(2, 2, 2, 2),
        capabilities: vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::FourOctetAs(65002),
            Capability::ExtendedMessage,
        ],
    };
    let mut b = codec::to_bytes(&Message::Open(open), &SessionParams::default());
    b.extend(codec::to_bytes(
        &Message::Keepalive,
        &SessionParams::default(),
    ));
    b
}

/// `n` /24s, a new attribute set (AS path, MED) every `per_set` prefixes.
fn table(n: u32, per_set: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let p = params();
    let mut i = 0;
    while i < n {
        let set = i / per_set;
        let attrs = vec![
            Attr::Origin(Origin::Igp),
            Attr::AsPath(vec![Segment {
                kind: SegmentKind::Sequence,
                asns: vec![65002, 64512 + set % 400, 4_200_000_000 + set],
            }]),
            Attr::NextHop(Ipv4Addr::new(10, 0, 0, 2)),
            Attr::Med(set % 7),
            Attr::Communities(vec![(65002 << 16) | (set % 50)]),
        ];
        let nlri: Vec<Nlri> = (i..(i + per_set).min(n))
            .map(|k| Nlri {
                path_id: None,
                prefix: IpNet::V4(Ipv4Net::new(Ipv4Addr::from((k + (1 << 16)) << 8), 24).unwrap()),
            })
            .collect();
        codec::pack_announce(
            Family::IPV4_UNICAST,
            &attrs,
            &MpNextHop {
                addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
                link_local: None,
            },
            &nlri,
            &p,
            &mut out,
        );
        i += per_set;
    }
    out
}

fn established() -> Speaker {
    let now = Instant::from_nanos(1);
    let mut s = Speaker::new(config(), now);
    s.start(now);
    s.handle_connected(now, 0, ConnId(1), false);
    s.handle_data(now, ConnId(1), &hello());
    while s.poll_output().is_some() {}
    assert_eq!(s.summary(now).established, 1);
    s
}

fn feed(mut s: Speaker, bytes: &[u8]) -> (Speaker, usize) {
    let now = Instant::from_nanos(2);
    for chunk in bytes.chunks(64 * 1024) {
        s.handle_data(now, ConnId(1), chunk);
    }
    let mut outputs = 0;
    while s.poll_output().is_some() {
        outputs += 1;
    }
    assert_eq!(s.loc_rib_len(), N as usize);
    (s, outputs)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("bgp_speaker");
    g.sample_size(10);
    g.throughput(Throughput::Elements(u64::from(N)));
    for (name, per_set) in [
        ("1M_prefixes_1000_per_update", 1000),
        ("1M_prefixes_4_per_set", 4),
    ] {
        let bytes = table(N, per_set);
        g.bench_function(name, |b| {
            b.iter_batched(
                established,
                |s| black_box(feed(s, &bytes)),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
