//! Replay: same seed, same outcomes; streams independent of each other and of polling;
//! reconfiguration that keeps what it should; the golden record of a busy scenario.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

/// Everything at once, to check replay: loss, rate, queue, jitter, reorder, dup, corrupt.
fn busy() -> Impairment {
    Impairment {
        rate: Some(10_000_000),
        queue: Some(QueueLimit::Packets(20)),
        delay: Some(Duration::from_millis(20)),
        jitter: Some(Duration::from_millis(4)),
        loss: Some(Loss::GilbertElliott {
            p: 0.02,
            r: 0.4,
            bad_loss: 0.7,
            good_loss: 0.01,
        }),
        duplicate: Some(0.02),
        corrupt: Some(0.02),
        reorder: Some(Reorder { p: 0.1, gap: 3 }),
        ..Default::default()
    }
}

/// Bursty traffic: 8 frames back to back every 3 ms, sizes varying.
fn bursty(n: u32) -> impl Iterator<Item = (Instant, Packet)> {
    (0..n).map(|i| {
        (
            at_ns(u64::from(i / 8) * 3 * MS + u64::from(i % 8)),
            frame(i, 64 + (i as usize * 97) % 1400),
        )
    })
}

#[test]
fn same_seed_same_outcomes_different_seed_different_drops() {
    let go = |seed| {
        let mut p = pipeline(&busy(), seed);
        let out = run(&mut p, bursty(20_000));
        (out, p.counters().clone())
    };
    let (a, ca) = go(11);
    let (b, cb) = go(11);
    assert_eq!(a, b);
    assert_eq!(ca, cb);
    assert!(
        ca.dropped_loss > 0 && ca.dropped_queue > 0 && ca.duplicated > 0,
        "{ca:?}"
    );
    assert!(ca.reordered > 0 && ca.corrupted > 0, "{ca:?}");
    let (c, _) = go(12);
    let ids =
        |out: &[(Instant, Packet)]| out.iter().map(|(_, p)| id_of(p)).collect::<BTreeSet<_>>();
    assert_ne!(ids(&a), ids(&c));
}

#[test]
fn polling_more_often_changes_nothing() {
    let mut p = pipeline(&busy(), 4);
    let exact = run(&mut p, bursty(5000));
    let mut p = pipeline(&busy(), 4);
    let mut out = Vec::new();
    for (t, pkt) in bursty(5000) {
        // Poll at every arrival and at a few instants nobody asked for.
        for probe in [t - Duration::from_micros(700), t] {
            while let Some(x) = p.poll_transmit(probe) {
                out.push(x);
            }
        }
        p.handle(t, pkt);
    }
    while let Some(x) = p.poll_transmit(at_ns(u64::MAX)) {
        out.push(x);
    }
    assert_eq!(out, exact.into_iter().map(|(_, p)| p).collect::<Vec<_>>());
}

#[test]
fn stages_draw_from_independent_streams() {
    let survivors = |cfg: &Impairment| {
        let mut p = pipeline(cfg, 77);
        run(&mut p, evenly(10_000, Duration::from_secs(1), 64))
            .into_iter()
            .map(|(t, pkt)| {
                (
                    id_of(&pkt),
                    t.as_nanos() - u64::from(id_of(&pkt)) * 1_000_000_000,
                )
            })
            .collect::<BTreeMap<u32, u64>>()
    };
    let lossy = |p: f64, jitter_ms: u64, dist| Impairment {
        loss: Some(Loss::Random {
            p,
            correlation: 0.0,
        }),
        delay: Some(Duration::from_millis(50)),
        jitter: Some(Duration::from_millis(jitter_ms)),
        distribution: Some(dist),
        ..Default::default()
    };
    let a = survivors(&lossy(0.1, 5, Distribution::Normal));
    let b = survivors(&lossy(0.1, 20, Distribution::Uniform));
    // Changing the jitter does not change which frames are lost…
    assert!(a.keys().eq(b.keys()));
    assert_ne!(a, b);
    // …and changing the loss does not change the delay of the frames that survive.
    let c = survivors(&lossy(0.3, 5, Distribution::Normal));
    assert!(c.len() < a.len());
    assert!(
        c.iter()
            .all(|(id, delay)| a.get(id).is_none_or(|d| d == delay))
    );
}

#[test]
fn reconfigure_keeps_queued_frames_and_counters() {
    let slow = Impairment {
        rate: Some(1_000_000),
        burst: Some(0),
        queue: Some(QueueLimit::Packets(100)),
        ..Default::default()
    };
    let mut p = pipeline(&slow, 1);
    p.handle(at_ms(0), Packet::new(vec![1; 10]));
    assert_eq!(p.poll_transmit(at_ms(0)).map(|p| p.data.len()), Some(10));
    let mut out = Vec::new();
    for i in 0..10 {
        p.handle(at_ms(0), frame(i, 1500)); // each takes 12 ms: leaves at 0.08, 12.08, …
    }
    let counters = p.counters().clone();
    // Smaller queue, no rate, some delay: the ten stay and keep their times.
    let fast = Impairment {
        delay: Some(Duration::from_millis(1)),
        queue: Some(QueueLimit::Packets(1)),
        ..Default::default()
    };
    p.reconfigure(at_ms(0), &fast, None);
    assert_eq!(p.counters(), &counters);
    assert_eq!(p.in_flight(), 10);
    // A frame handled now is not delayed past the queue but keeps FIFO order behind it.
    p.handle(at_ms(1), frame(10, 100));
    drain(&mut p, at_ns(u64::MAX), &mut out);
    let ids: Vec<u32> = out.iter().map(|(_, p)| id_of(p)).collect();
    assert_eq!(ids, (0..11).collect::<Vec<_>>());
    // Behind the 10-byte frame's 80 µs, then 12 ms each, as the old rate scheduled them.
    assert_eq!(out[0].0, at_ns(80_000));
    assert_eq!(out[9].0, out[0].0 + Duration::from_millis(108));
    assert_eq!(
        out[10].0, out[9].0,
        "the new frame follows the queue at once"
    );
    assert_eq!(p.counters().passed_packets, counters.passed_packets + 11);
    assert_eq!(p.counters().dropped_queue, 0);
}

#[test]
fn lowering_the_delay_re_times_queued_frames() {
    let delay = |d: Duration, jitter: Option<Duration>| Impairment {
        delay: Some(d),
        jitter,
        ..Default::default()
    };
    // What a live `set delay=99999999s` left behind: frames queued for three years.
    let mut p = pipeline(&delay(Duration::from_secs(99_999_999), None), 1);
    for i in 0..5 {
        p.handle(at_ms(u64::from(i)), frame(i, 100));
    }
    // Set to 1 ms at 10 ms: the queued frames leave by 11 ms, in order, and so do new ones.
    p.reconfigure(at_ms(10), &delay(Duration::from_millis(1), None), None);
    p.handle(at_ms(10), frame(5, 100));
    let mut out = Vec::new();
    drain(&mut p, at_ms(11), &mut out);
    let ids: Vec<u32> = out.iter().map(|(_, p)| id_of(p)).collect();
    assert_eq!(ids, (0..6).collect::<Vec<_>>());
    assert!(out.iter().all(|(t, _)| *t <= at_ms(11)), "{out:?}");
    assert_eq!(p.in_flight(), 0);
    p.handle(at_ms(20), frame(6, 100));
    drain(&mut p, at_ms(21), &mut out);
    assert_eq!(
        out.last().map(|(t, p)| (*t, id_of(p))),
        Some((at_ms(21), 6))
    );

    // A raised delay leaves queued frames where they were; a lowered one with jitter
    // leaves room for the largest jitter sample (4 × jitter) and keeps the order.
    let mut p = pipeline(&delay(Duration::from_millis(5), None), 1);
    p.handle(at_ms(0), frame(0, 100));
    p.reconfigure(at_ms(1), &delay(Duration::from_millis(50), None), None);
    assert_eq!(run(&mut p, [])[0].0, at_ms(5));
    let mut p = pipeline(&delay(Duration::from_secs(60), None), 1);
    for i in 0..3 {
        p.handle(at_ms(u64::from(i)), frame(i, 100));
    }
    let jittery = delay(Duration::from_millis(10), Some(Duration::from_millis(1)));
    p.reconfigure(at_ms(3), &jittery, None);
    let out = run(&mut p, []);
    let times: Vec<Instant> = out.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        times,
        vec![at_ms(17); 3],
        "now 3 ms + 10 ms + 4 × 1 ms, in order"
    );
}

#[test]
fn reconfigure_keeps_the_bucket_and_the_trace() {
    // A faster, deeper bucket keeps the level the old one had: empty here.
    let one = Impairment {
        rate: Some(1_000_000),
        burst: Some(1500),
        ..Default::default()
    };
    let mut p = pipeline(&one, 1);
    let out1 = run(&mut p, [(at_ms(0), frame(0, 1500))]);
    p.reconfigure(
        at_ms(0),
        &Impairment {
            rate: Some(2_000_000),
            burst: Some(3000),
            ..one
        },
        None,
    );
    let out2 = run(&mut p, [(at_ms(0), frame(1, 1500))]);
    assert_eq!((out1[0].0, out2[0].0), (at_ms(0), at_ms(6)));

    // Same trace handed in again: the schedule keeps going, it does not restart.
    let trace = Trace::parse("2\n4\n").unwrap();
    let cfg = Impairment::default();
    let mut p = Pipeline::new(&cfg, 1500, 1, Some(trace.clone()));
    let out1 = run(&mut p, [(at_ms(0), frame(0, 1504))]);
    p.reconfigure(
        at_ms(0),
        &Impairment {
            delay: Some(Duration::from_millis(1)),
            ..cfg
        },
        Some(trace),
    );
    let out2 = run(&mut p, [(at_ms(5), frame(1, 1504))]);
    assert_eq!((out1[0].0, out2[0].0), (at_ms(2), at_ms(7))); // opportunity at 6, +1 ms delay
}

/// FNV-1a, to fingerprint frame contents in the golden file.
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The replay contract, pinned: the first departures of the busy scenario, byte for byte.
/// A change here changes every recorded scenario; regenerate only on purpose with
/// `TOPOLAB_BLESS=1 cargo test --lib link::tests::replay::golden` and review the diff.
#[test]
fn golden_replay() {
    let mut p = pipeline(&busy(), 2024);
    let out = run(&mut p, bursty(400));
    let mut text = String::new();
    for (t, pkt) in &out {
        text += &format!(
            "{:>12} {:>4} {:>5} {:016x}\n",
            t.as_nanos(),
            id_of(pkt),
            pkt.data.len(),
            fnv(&pkt.data)
        );
    }
    text += &serde_json::to_string(p.counters()).unwrap();
    text.push('\n');
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/link-pipeline.txt");
    if std::env::var_os("TOPOLAB_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with TOPOLAB_BLESS=1 and review it",
            path.display()
        )
    });
    if let Some((i, (e, a))) = expected
        .lines()
        .zip(text.lines())
        .enumerate()
        .find(|(_, (e, a))| e != a)
    {
        panic!(
            "{} differs at line {}:\n  expected: {e}\n  actual:   {a}\n\
             (if the change is intended: TOPOLAB_BLESS=1, then review the diff)",
            path.display(),
            i + 1
        );
    }
    assert_eq!(
        expected.lines().count(),
        text.lines().count(),
        "{}: length differs",
        path.display()
    );
}
