//! Pipeline-level tests: synthetic instants, fixed seeds, no sleeping. Stage-level tests
//! (PRNG vectors, loss statistics, quantiles, token bucket, trace parsing) sit next to each
//! stage.

use std::collections::BTreeSet;
use std::time::Duration;

use super::*;
use crate::time::Instant;
use crate::topology::{Distribution, Impairment, Loss, QueueLimit, Reorder};

mod replay;

const MS: u64 = 1_000_000;

fn at_ns(ns: u64) -> Instant {
    Instant::from_nanos(ns)
}

fn at_ms(ms: u64) -> Instant {
    at_ns(ms * MS)
}

/// A frame of `len` bytes (at least 18) carrying `id` right after the Ethernet header.
fn frame(id: u32, len: usize) -> Packet {
    let mut data = vec![0xaa; 14];
    data.extend_from_slice(&id.to_be_bytes());
    data.resize(len.max(18), (id % 251) as u8);
    Packet::new(data)
}

fn id_of(p: &Packet) -> u32 {
    u32::from_be_bytes(p.data[14..18].try_into().unwrap())
}

/// Hands out everything due up to `limit`, polling exactly at each timeout, and records
/// (departure, frame).
fn drain(p: &mut Pipeline, limit: Instant, out: &mut Vec<(Instant, Packet)>) {
    while let Some(due) = p.poll_timeout() {
        if due > limit {
            break;
        }
        let before = out.len();
        while let Some(pkt) = p.poll_transmit(due) {
            out.push((due, pkt));
        }
        assert!(
            out.len() > before,
            "poll_timeout promised a frame at {due:?}"
        );
    }
}

/// Feeds `arrivals` (in time order) and returns every departure.
fn run(
    p: &mut Pipeline,
    arrivals: impl IntoIterator<Item = (Instant, Packet)>,
) -> Vec<(Instant, Packet)> {
    let mut out = Vec::new();
    for (t, pkt) in arrivals {
        drain(p, t, &mut out);
        p.handle(t, pkt);
    }
    drain(p, at_ns(u64::MAX), &mut out);
    out
}

/// `n` frames of `len` bytes, one every `gap`.
fn evenly(n: u32, gap: Duration, len: usize) -> impl Iterator<Item = (Instant, Packet)> {
    (0..n).map(move |i| (Instant::ZERO + gap * i, frame(i, len)))
}

fn pipeline(cfg: &Impairment, seed: u64) -> Pipeline {
    Pipeline::new(cfg, 1500, seed, None)
}

fn std_dev(xs: &[f64]) -> (f64, f64) {
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
    (mean, var.sqrt())
}

#[test]
fn no_impairment_passes_everything_at_once_in_order() {
    let mut p = pipeline(&Impairment::default(), 1);
    let now = at_ms(7);
    for i in 0..100 {
        p.handle(now, frame(i, 60 + i as usize));
    }
    p.handle(now, Packet::new(Vec::new()));
    assert_eq!(p.poll_timeout(), Some(now));
    for i in 0..100 {
        let pkt = p.poll_transmit(now).expect("due at once");
        assert_eq!(pkt, frame(i, 60 + i as usize));
    }
    assert_eq!(p.poll_transmit(now), Some(Packet::new(Vec::new())));
    assert_eq!(p.poll_transmit(now), None);
    assert_eq!(p.poll_timeout(), None);
    let c = p.counters();
    assert_eq!((c.passed_packets, c.passed_bytes), (101, (60..160).sum()));
    assert_eq!(
        Counters {
            passed_packets: 0,
            passed_bytes: 0,
            ..c.clone()
        },
        Counters::default()
    );
}

#[test]
fn delay_is_exact() {
    let cfg = Impairment {
        delay: Some(Duration::from_millis(50)),
        ..Default::default()
    };
    let mut p = pipeline(&cfg, 1);
    p.handle(at_ms(3), frame(0, 100));
    assert_eq!(p.poll_timeout(), Some(at_ms(53)));
    assert_eq!(p.poll_transmit(at_ms(53) - Duration::from_nanos(1)), None);
    assert_eq!(p.poll_transmit(at_ms(53)).map(|p| id_of(&p)), Some(0));
    let mut p = pipeline(&cfg, 1);
    let out = run(&mut p, evenly(1000, Duration::from_micros(10), 100));
    assert!(
        out.iter()
            .enumerate()
            .all(|(i, (t, pkt))| id_of(pkt) == i as u32
                && *t == at_ns(i as u64 * 10_000) + Duration::from_millis(50))
    );
}

/// Jitter samples: frames 1 s apart so that FIFO never holds one back.
fn jitter_samples(dist: Option<Distribution>, n: u32) -> Vec<f64> {
    let cfg = Impairment {
        delay: Some(Duration::from_millis(100)),
        jitter: Some(Duration::from_millis(10)),
        distribution: dist,
        ..Default::default()
    };
    let mut p = pipeline(&cfg, 42);
    let out = run(&mut p, evenly(n, Duration::from_secs(1), 64));
    assert_eq!(out.len(), n as usize);
    out.iter()
        .map(|(t, pkt)| {
            let sent = u64::from(id_of(pkt)) * 1_000_000_000;
            (t.as_nanos() as f64 - sent as f64 - 100e6) / 1e6 // ms
        })
        .collect()
}

#[test]
fn jitter_has_the_configured_spread() {
    // Normal (the default): σ = jitter.
    let (mean, sd) = std_dev(&jitter_samples(None, 100_000));
    assert!(
        mean.abs() < 0.1 && (sd - 10.0).abs() < 0.3,
        "normal: mean {mean} sd {sd}"
    );
    // Uniform: U(−10, +10) ms, σ = 10/√3.
    let xs = jitter_samples(Some(Distribution::Uniform), 100_000);
    let (mean, sd) = std_dev(&xs);
    let want = 10.0 / 3f64.sqrt();
    assert!(
        mean.abs() < 0.1 && (sd - want).abs() < 0.03 * want,
        "uniform: mean {mean} sd {sd}"
    );
    assert!(xs.iter().all(|x| x.abs() <= 10.0));
    // Pareto and paretonormal: bounded by netem's ±4σ, roughly centred, right-skewed.
    for dist in [Distribution::Pareto, Distribution::ParetoNormal] {
        let xs = jitter_samples(Some(dist), 20_000);
        let (mean, sd) = std_dev(&xs);
        let median = {
            let mut s = xs.clone();
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        };
        assert!(xs.iter().all(|x| (-40.0..=40.0).contains(x)), "{dist:?}");
        assert!(
            mean.abs() < 1.0 && sd > 5.0 && sd < 12.0 && median < mean,
            "{dist:?}: {mean} {sd} {median}"
        );
    }
}

#[test]
fn jitter_never_reorders_and_never_goes_below_zero_delay() {
    let cfg = Impairment {
        delay: Some(Duration::from_millis(5)),
        jitter: Some(Duration::from_millis(20)),
        ..Default::default()
    };
    let mut p = pipeline(&cfg, 3);
    let out = run(&mut p, evenly(20_000, Duration::from_micros(300), 64));
    assert_eq!(out.len(), 20_000);
    for (i, w) in out.windows(2).enumerate() {
        assert_eq!(id_of(&w[0].1) + 1, id_of(&w[1].1), "order broken at {i}");
        assert!(w[0].0 <= w[1].0);
    }
    assert!(
        out.iter()
            .all(|(t, pkt)| t.as_nanos() >= u64::from(id_of(pkt)) * 300_000)
    );
}

#[test]
fn random_loss_through_the_pipeline() {
    let cfg = Impairment {
        loss: Some(Loss::Random {
            p: 0.1,
            correlation: 0.0,
        }),
        ..Default::default()
    };
    let mut p = pipeline(&cfg, 9);
    let n = 200_000u32;
    let out = run(&mut p, evenly(n, Duration::from_micros(1), 64));
    let c = p.counters();
    assert_eq!(c.passed_packets + c.dropped_loss, u64::from(n));
    assert_eq!(out.len() as u64, c.passed_packets);
    let bound = 3.29 * (f64::from(n) * 0.1 * 0.9).sqrt();
    assert!(
        (c.dropped_loss as f64 - f64::from(n) * 0.1).abs() < bound,
        "{c:?}"
    );
    // Loss never reorders survivors.
    assert!(out.windows(2).all(|w| id_of(&w[0].1) < id_of(&w[1].1)));
}

#[test]
fn rate_matches_over_ten_seconds() {
    // 10 Mbit/s, 1500-byte frames offered at 12 Mbit/s (one per ms) for 10 s.
    let cfg = Impairment {
        rate: Some(10_000_000),
        ..Default::default()
    };
    let mut p = pipeline(&cfg, 1);
    let out = run(&mut p, evenly(10_000, Duration::from_millis(1), 1500));
    let c = p.counters().clone();
    assert!(c.dropped_queue > 1000, "the excess is dropped: {c:?}");
    assert_eq!(c.passed_packets + c.dropped_queue, 10_000);
    let window = at_ms(10_000);
    let bytes: u64 = out
        .iter()
        .filter(|(t, _)| *t <= window)
        .map(|(_, p)| p.data.len() as u64)
        .sum();
    let measured = bytes as f64 * 8.0 / 10.0;
    assert!(
        (measured / 10e6 - 1.0).abs() < 0.005,
        "measured {measured} bit/s"
    );
    // Back-to-back frames leave exactly 1.2 ms apart once the burst is spent.
    let gaps: Vec<u64> = out
        .windows(2)
        .skip(10)
        .map(|w| (w[1].0 - w[0].0).as_nanos() as u64)
        .collect();
    assert!(gaps.iter().all(|g| *g == 1_200_000), "{:?}", &gaps[..5]);
}

#[test]
fn queue_limit_drops_the_excess() {
    // 1 Mbit/s, one frame of burst: of 20 frames offered at once, one leaves at once and the
    // queue holds the limit.
    let base = Impairment {
        rate: Some(1_000_000),
        burst: Some(1500),
        ..Default::default()
    };
    for (limit, passed) in [
        (QueueLimit::Packets(5), 6),
        (QueueLimit::Bytes(4500), 4),
        (QueueLimit::Packets(0), 2),
    ] {
        let cfg = Impairment {
            queue: Some(limit),
            ..base.clone()
        };
        let mut p = pipeline(&cfg, 1);
        let out = run(&mut p, (0..20).map(|i| (at_ms(1), frame(i, 1500))));
        let ids: Vec<u32> = out.iter().map(|(_, p)| id_of(p)).collect();
        assert_eq!(ids, (0..passed).collect::<Vec<_>>(), "{limit:?}");
        assert_eq!(p.counters().dropped_queue, 20 - u64::from(passed));
        // Each frame takes 12 ms at 1 Mbit/s.
        assert!(
            out.iter()
                .enumerate()
                .all(|(i, (t, _))| *t == at_ms(1 + 12 * i as u64))
        );
    }
}

#[test]
fn burst_goes_through_at_once() {
    let cfg = Impairment {
        rate: Some(1_000_000),
        burst: Some(15_000),
        ..Default::default()
    };
    let mut p = pipeline(&cfg, 1);
    let out = run(&mut p, (0..12).map(|i| (at_ms(2), frame(i, 1500))));
    let times: Vec<u64> = out.iter().map(|(t, _)| t.as_nanos() / MS).collect();
    assert_eq!(times, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 14, 26]);
}

#[test]
fn trace_delivers_at_its_instants_and_loops() {
    let trace = Trace::parse("1\n3\n").unwrap();
    let cfg = Impairment {
        trace: Some("two.trace".into()),
        rate: Some(1),
        ..Default::default()
    };
    let mut p = Pipeline::new(&cfg, 1500, 1, Some(trace));
    // Anchored at the first frame (10 ms): opportunities at 11, 13 | 14, 16 | 17, 19 ms.
    let out = run(&mut p, (0..6).map(|i| (at_ms(10), frame(i, 1504))));
    let times: Vec<u64> = out.iter().map(|(t, _)| t.as_nanos() / MS).collect();
    assert_eq!(times, [11, 13, 14, 16, 17, 19]);
    // Small frames share an opportunity; an idle link wastes its opportunities.
    let out = run(&mut p, (0..3).map(|i| (at_ms(30), frame(i, 500))));
    let times: Vec<u64> = out.iter().map(|(t, _)| t.as_nanos() / MS).collect();
    // 30 ms is offset 20; loop 6 spans offsets 18..=21, so the next opportunity is 21.
    assert_eq!(times, [31, 31, 31]);
}

#[test]
fn reorder_sends_every_gap_th_frame_ahead() {
    let cfg = Impairment {
        delay: Some(Duration::from_millis(10)),
        reorder: Some(Reorder { p: 1.0, gap: 5 }),
        ..Default::default()
    };
    let mut p = pipeline(&cfg, 1);
    let out = run(&mut p, evenly(20, Duration::from_millis(1), 64));
    for (t, pkt) in &out {
        let id = u64::from(id_of(pkt));
        let delay = if id % 5 == 4 { 0 } else { 10 };
        assert_eq!(*t, at_ms(id + delay), "frame {id}");
    }
    let order: Vec<u32> = out.iter().map(|(_, p)| id_of(p)).collect();
    assert_eq!(&order[..6], [4, 9, 0, 1, 2, 3]);
    assert_eq!(p.counters().reordered, 4);

    // Without delay nothing can be overtaken, so nothing counts as reordered.
    let cfg = Impairment {
        reorder: Some(Reorder { p: 1.0, gap: 0 }),
        ..Default::default()
    };
    let mut p = pipeline(&cfg, 1);
    let out = run(&mut p, evenly(20, Duration::from_millis(1), 64));
    assert!(out.windows(2).all(|w| id_of(&w[0].1) < id_of(&w[1].1)));
    assert_eq!(p.counters().reordered, 0);
}

#[test]
fn duplicate_sends_a_second_copy_right_after() {
    let cfg = Impairment {
        duplicate: Some(1.0),
        delay: Some(Duration::from_millis(1)),
        ..Default::default()
    };
    let mut p = pipeline(&cfg, 1);
    let out = run(&mut p, evenly(50, Duration::from_micros(10), 64));
    assert_eq!(out.len(), 100);
    for pair in out.chunks(2) {
        assert_eq!(pair[0], pair[1]);
    }
    let c = p.counters();
    assert_eq!((c.duplicated, c.passed_packets), (50, 100));

    let cfg = Impairment {
        duplicate: Some(0.25),
        ..Default::default()
    };
    let mut p = pipeline(&cfg, 1);
    run(&mut p, evenly(100_000, Duration::from_micros(10), 64));
    let dup = p.counters().duplicated as f64;
    assert!(
        (dup - 25_000.0).abs() < 3.29 * (100_000.0f64 * 0.25 * 0.75).sqrt(),
        "{dup}"
    );
}

#[test]
fn corrupt_flips_exactly_one_bit_past_the_header() {
    let cfg = Impairment {
        corrupt: Some(1.0),
        ..Default::default()
    };
    let mut p = pipeline(&cfg, 5);
    let mut seen_offsets = BTreeSet::new();
    for i in 0..2000 {
        let sent = frame(i, 64);
        p.handle(at_ms(1), sent.clone());
        let got = p.poll_transmit(at_ms(1)).unwrap();
        let diffs: Vec<(usize, u32)> = sent
            .data
            .iter()
            .zip(&got.data)
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(k, (a, b))| (k, (a ^ b).count_ones()))
            .collect();
        assert_eq!(diffs.len(), 1, "frame {i}");
        assert_eq!(diffs[0].1, 1, "one bit");
        assert!(diffs[0].0 >= 14, "header untouched");
        seen_offsets.insert(diffs[0].0);
    }
    assert_eq!(seen_offsets.len(), 50, "every payload byte can be hit");
    assert_eq!(p.counters().corrupted, 2000);
    // The shortest frame that can be corrupted has one byte to flip.
    let sent = Packet::new(vec![0; 15]);
    p.handle(at_ms(2), sent.clone());
    let got = p.poll_transmit(at_ms(2)).unwrap();
    assert_eq!(got.data[..14], sent.data[..14]);
    assert_eq!(got.data[14].count_ones(), 1);
    assert_eq!(p.counters().corrupted, 2001);
    // Frames with nothing past the header are left alone and not counted.
    for len in [0, 1, 14] {
        let sent = Packet::new(vec![7; len]);
        p.handle(at_ms(2), sent.clone());
        assert_eq!(p.poll_transmit(at_ms(2)), Some(sent));
    }
    assert_eq!(p.counters().corrupted, 2001);
}

#[test]
fn hostile_inputs_have_defined_outcomes() {
    let nan = f64::NAN;
    let weird = [
        Impairment {
            rate: Some(0),
            ..Default::default()
        },
        Impairment {
            rate: Some(u64::MAX),
            burst: Some(0),
            queue: Some(QueueLimit::Bytes(0)),
            ..Default::default()
        },
        Impairment {
            delay: Some(Duration::MAX),
            jitter: Some(Duration::MAX),
            ..Default::default()
        },
        Impairment {
            jitter: Some(Duration::from_nanos(1)),
            distribution: Some(Distribution::Pareto),
            ..Default::default()
        },
        Impairment {
            loss: Some(Loss::Random {
                p: 1.0,
                correlation: 1.0,
            }),
            ..Default::default()
        },
        Impairment {
            loss: Some(Loss::GilbertElliott {
                p: nan,
                r: 2.0,
                bad_loss: -1.0,
                good_loss: nan,
            }),
            duplicate: Some(nan),
            corrupt: Some(1.0),
            reorder: Some(Reorder {
                p: 1.0,
                gap: u32::MAX,
            }),
            ..Default::default()
        },
    ];
    for cfg in &weird {
        let mut p = pipeline(cfg, 0);
        for i in 0..50 {
            let len = [0, 1, 13, 14, 15, 1514, 70_000][i % 7];
            let mut pkt = Packet::new(vec![0; len]);
            pkt.segments = [0, 1, 40, u32::MAX][i % 4];
            pkt.wire_bytes = [0, 1, u64::MAX][i % 3];
            p.handle(at_ns(i as u64), pkt);
            while p.poll_transmit(at_ns(u64::MAX)).is_some() {}
        }
        let c = p.counters();
        assert!(
            c.passed_packets + c.dropped_loss + c.dropped_queue > 0,
            "{cfg:?}"
        );
    }
    let mut p = pipeline(&weird[0], 0);
    p.handle(at_ms(1), frame(1, 100));
    assert_eq!((p.counters().dropped_queue, p.poll_timeout()), (1, None));
    let mut p = pipeline(&weird[4], 0);
    p.handle(at_ms(1), frame(1, 100));
    assert_eq!(p.counters().dropped_loss, 1);
}

#[test]
fn segments_count_as_packets() {
    let mut p = pipeline(&Impairment::default(), 0);
    p.handle(
        at_ms(0),
        Packet {
            data: vec![0; 64_000],
            segments: 44,
            wire_bytes: 66_000,
        },
    );
    assert!(p.poll_transmit(at_ms(0)).is_some());
    assert_eq!(
        (p.counters().passed_packets, p.counters().passed_bytes),
        (44, 64_000)
    );
}

#[test]
fn needs_per_packet_only_for_per_packet_stages() {
    assert!(!Pipeline::needs_per_packet(&Impairment {
        rate: Some(1),
        delay: Some(Duration::from_millis(1)),
        jitter: Some(Duration::from_millis(1)),
        ..Default::default()
    }));
    assert!(!Pipeline::needs_per_packet(&Impairment {
        loss: Some(Loss::Random {
            p: 0.0,
            correlation: 0.5
        }),
        duplicate: Some(0.0),
        ..Default::default()
    }));
    assert!(Pipeline::needs_per_packet(&Impairment {
        loss: Some(Loss::Random {
            p: 0.01,
            correlation: 0.0
        }),
        ..Default::default()
    }));
    assert!(Pipeline::needs_per_packet(&Impairment {
        corrupt: Some(0.5),
        ..Default::default()
    }));
    assert!(Pipeline::needs_per_packet(&Impairment {
        duplicate: Some(0.5),
        ..Default::default()
    }));
    assert!(Pipeline::needs_per_packet(&Impairment {
        reorder: Some(Reorder { p: 0.5, gap: 0 }),
        ..Default::default()
    }));
}
