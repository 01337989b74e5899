//! Route injection and MRT dumps at full-table scale (issue 11: a sender announces 1M
//! prefixes; `topolab bgp LAB NODE dump --mrt FILE`): building 1M synthetic routes, and
//! writing and reading a TABLE_DUMP_V2 dump of them.
//!
//! Run with `cargo bench --bench bgp_inject`.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use topolab::bgp::inject::{self, Mix};
use topolab::bgp::mrt::{self, MrtPeer, MrtRoute};

const N: usize = 1_000_000;

fn routes() -> (Vec<MrtPeer>, Vec<MrtRoute>) {
    let t = inject::table(N, Mix::INTERNET, 1, 64512);
    let paths: Vec<_> = t.paths.into_iter().map(Arc::new).collect();
    let routes = t
        .routes
        .into_iter()
        .map(|(prefix, i)| MrtRoute {
            prefix,
            peer_index: 0,
            originated: 0,
            attrs: paths[i as usize].clone(),
        })
        .collect();
    let peer = MrtPeer {
        bgp_id: Ipv4Addr::new(192, 0, 2, 1),
        addr: "192.0.2.1".parse().unwrap(),
        asn: 65001,
    };
    (vec![peer], routes)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("bgp_inject");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("table_1m", |b| {
        b.iter(|| black_box(inject::table(N, Mix::INTERNET, 1, 64512)))
    });
    g.bench_function("synthetic_1m", |b| {
        b.iter(|| black_box(inject::synthetic(N, Mix::INTERNET, 1, 64512)))
    });
    let (peers, routes) = routes();
    let mut dump = Vec::new();
    g.bench_function("mrt_write_1m", |b| {
        b.iter(|| {
            dump.clear();
            mrt::write_table_dump(&mut dump, Ipv4Addr::LOCALHOST, "", &peers, &routes, 0).unwrap();
            black_box(dump.len())
        })
    });
    g.bench_function("mrt_read_1m", |b| {
        b.iter(|| black_box(mrt::read(&dump).unwrap().routes.len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
