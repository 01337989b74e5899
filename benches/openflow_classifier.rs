//! One OpenFlow table's lookup (`src/openflow/classifier.rs`) with 1k and 100k
//! exact-match flows (in_port, eth_type, ipv4 src/dst, ip_proto, udp src/dst), plus a
//! table-miss entry: parse a 64-byte UDP frame, then look its key up. Three cases per
//! size: the same few flows again and again (microflow cache warm), every flow in turn
//! (cache cold past its capacity: tuple-space search), and packets no flow matches.
//!
//! Run with `cargo bench --bench openflow_classifier`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use topolab::openflow::classifier::{Classifier, FlowMatch};
use topolab::openflow::packet::{self, FlowKey, field};

/// A 64-byte UDP/IPv4 frame from 10.x.y.z (n in the low 24 bits) to 10.255.0.1.
fn frame(n: u32) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&(0x0a00_0000 | (n & 0x00ff_ffff)).to_be_bytes());
    f.extend_from_slice(&[10, 255, 0, 1]);
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 26, 0, 0]);
    f.resize(64, 0);
    f
}

fn exact_mask() -> FlowKey {
    let mut m = FlowKey {
        in_port: !0,
        eth_type: !0,
        ip_proto: !0,
        ipv4_src: !0,
        ipv4_dst: !0,
        tp_src: !0,
        tp_dst: !0,
        ..FlowKey::default()
    };
    for f in [
        field::IN_PORT,
        field::ETH_TYPE,
        field::IP_PROTO,
        field::IPV4_SRC,
        field::IPV4_DST,
        field::UDP_SRC,
        field::UDP_DST,
    ] {
        m.set_present(f);
    }
    m
}

fn table(flows: u32) -> Classifier<u32> {
    let mut c = Classifier::new();
    c.insert(0, FlowMatch::any(), u32::MAX);
    let mask = exact_mask();
    for n in 0..flows {
        let key = packet::parse(&frame(n), 1).key;
        c.insert(100, FlowMatch::new(key, mask), n);
    }
    c
}

fn bench(c: &mut Criterion) {
    for flows in [1_000u32, 100_000] {
        let mut t = table(flows);
        let frames: Vec<Vec<u8>> = (0..flows).map(frame).collect();
        let misses: Vec<Vec<u8>> = (0..1000).map(|n| frame(flows + n)).collect();
        let mut g = c.benchmark_group(format!("classifier_{flows}_flows"));
        g.throughput(Throughput::Elements(1));
        let mut i = 0usize;
        g.bench_function("parse_lookup_warm", |b| {
            b.iter(|| {
                i = (i + 1) % 16;
                let k = packet::parse(black_box(&frames[i]), 1).key;
                black_box(t.lookup(&k).copied())
            })
        });
        let mut i = 0usize;
        g.bench_function("parse_lookup_all_flows", |b| {
            b.iter(|| {
                i = (i + 1) % frames.len();
                let k = packet::parse(black_box(&frames[i]), 1).key;
                black_box(t.lookup(&k).copied())
            })
        });
        let mut i = 0usize;
        g.bench_function("parse_search_no_cache", |b| {
            b.iter(|| {
                i = (i + 1) % frames.len();
                let k = packet::parse(black_box(&frames[i]), 1).key;
                black_box(t.search(&k))
            })
        });
        let mut i = 0usize;
        g.bench_function("parse_lookup_miss", |b| {
            b.iter(|| {
                i = (i + 1) % misses.len();
                let k = packet::parse(black_box(&misses[i]), 1).key;
                black_box(t.lookup(&k).copied())
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
