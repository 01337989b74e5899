//! Frames per second through one direction's impairment pipeline (`src/link`), on a
//! synthetic clock: each iteration hands a batch of 1500-byte frames to `handle` and takes
//! back everything `poll_transmit` says is due. Buffers are recycled, so the numbers are the
//! pipeline's own cost, not the allocator's.
//!
//! Run with `cargo bench --bench pipeline`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use topolab::link::{Packet, Pipeline};
use topolab::time::Instant;
use topolab::topology::{Distribution, Impairment, Loss};

const BATCH: u64 = 10_000;
const FRAME: usize = 1500;

/// A pipeline and its synthetic clock, fed one frame every `spacing`.
struct Feed {
    pipeline: Pipeline,
    now: Instant,
    spacing: Duration,
    pool: Vec<Vec<u8>>,
}

impl Feed {
    fn new(cfg: &Impairment, spacing: Duration) -> Feed {
        Feed {
            pipeline: Pipeline::new(cfg, 1500, 1, None),
            now: Instant::from_nanos(1_000_000_000),
            spacing,
            pool: Vec::new(),
        }
    }

    fn batch(&mut self) -> u64 {
        let mut out = 0;
        for _ in 0..BATCH {
            self.now += self.spacing;
            let data = self.pool.pop().unwrap_or_else(|| vec![0x5a; FRAME]);
            self.pipeline.handle(self.now, Packet::new(data));
            while let Some(pkt) = self.pipeline.poll_transmit(self.now) {
                out += black_box(pkt.data.len()) as u64;
                self.pool.push(pkt.data);
            }
        }
        out
    }
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(BATCH));

    let cases = [
        // (a) a plain link: straight through.
        (
            "no_impairment",
            Impairment::default(),
            Duration::from_micros(1),
        ),
        // (b) 10 ms ± 2 ms normal jitter, 1% random loss: ~10k frames in flight.
        (
            "delay_jitter_loss",
            Impairment {
                delay: Some(Duration::from_millis(10)),
                jitter: Some(Duration::from_millis(2)),
                distribution: Some(Distribution::Normal),
                loss: Some(Loss::Random {
                    p: 0.01,
                    correlation: 0.0,
                }),
                ..Default::default()
            },
            Duration::from_micros(1),
        ),
        // (c) 1 Gbit/s with the default queue, offered 1.2 Gbit/s: the queue stays full
        // and drops the excess.
        (
            "rate_queue",
            Impairment {
                rate: Some(1_000_000_000),
                ..Default::default()
            },
            Duration::from_micros(10),
        ),
    ];
    for (name, cfg, spacing) in cases {
        let mut feed = Feed::new(&cfg, spacing);
        group.bench_function(name, |b| b.iter(|| feed.batch()));
    }
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
