//! The OpenFlow codec's hot paths (issue 10: a controller answers 500k PACKET_IN/s on one
//! core): parsing a PACKET_IN carrying a 64-byte frame, emitting the FLOW_MOD and the
//! PACKET_OUT a learning controller answers with. Emitting reuses one buffer, as the
//! drivers do.
//!
//! Run with `cargo bench --bench openflow_codec`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use topolab::openflow::codec::*;

fn packet_in() -> Vec<u8> {
    let msg = Message {
        xid: 0,
        body: Body::PacketIn(PacketIn {
            buffer_id: NO_BUFFER,
            total_len: 64,
            reason: packet_in_reason::NO_MATCH,
            table_id: 0,
            cookie: 0,
            r#match: Match::new(vec![OxmField::InPort(3)]),
            data: vec![0x42; 64],
        }),
    };
    to_bytes(&msg)
}

fn flow_mod() -> Message {
    let fm = FlowMod {
        idle_timeout: 60,
        priority: 1,
        buffer_id: NO_BUFFER,
        instructions: vec![Instruction::ApplyActions(vec![Action::Output {
            port: 2,
            max_len: 0,
        }])],
        ..FlowMod::add(Match::new(vec![
            OxmField::InPort(1),
            OxmField::EthDst([2, 0, 0, 0, 0, 2], None),
            OxmField::EthSrc([2, 0, 0, 0, 0, 1], None),
        ]))
    };
    Message {
        xid: 7,
        body: Body::FlowMod(fm),
    }
}

fn packet_out() -> Message {
    Message {
        xid: 8,
        body: Body::PacketOut(PacketOut {
            buffer_id: NO_BUFFER,
            in_port: 1,
            actions: vec![Action::Output {
                port: port_no::FLOOD,
                max_len: 0,
            }],
            data: vec![0x42; 64],
        }),
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("openflow_codec");
    g.throughput(Throughput::Elements(1));
    let pi = packet_in();
    g.bench_function("parse_packet_in", |b| {
        b.iter(|| parse(black_box(&pi)).unwrap())
    });
    let fm = flow_mod();
    let mut buf = Vec::with_capacity(256);
    g.bench_function("emit_flow_mod", |b| {
        b.iter(|| {
            buf.clear();
            emit(black_box(&fm), &mut buf);
            black_box(buf.len())
        })
    });
    let po = packet_out();
    g.bench_function("emit_packet_out", |b| {
        b.iter(|| {
            buf.clear();
            emit(black_box(&po), &mut buf);
            black_box(buf.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
