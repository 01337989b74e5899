//! Fuzzing the decoder of the kernel's netlink replies on the BGP FIB path
//! (`netlink::fib::replies`) in `cargo test`: random bytes, streams of plausible message
//! headers with random lengths, types and bodies, and our own requests cut at random
//! points. The decoder must return what it could read — never panic, never read past
//! the datagram, never return more messages than 16-byte headers fit.
//! `TOPOLAB_FUZZ_CASES=100000` runs longer locally.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use topolab::netlink::fib::{Reply, RouteOp, Via, encode_route, replies};

fn cases() -> u32 {
    std::env::var("TOPOLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

fn check(data: &[u8]) -> Result<(), TestCaseError> {
    let out = replies(data);
    prop_assert!(
        out.len() <= data.len() / 16,
        "{} from {} bytes",
        out.len(),
        data.len()
    );
    Ok(())
}

#[test]
fn random_bytes_never_panic() {
    runner()
        .run(&vec(any::<u8>(), 0..600), |data| check(&data))
        .unwrap();
}

/// One message: a header whose length field may lie, a type near the ones we read, and a
/// random body.
fn message() -> impl Strategy<Value = Vec<u8>> {
    (
        0u32..200,
        prop_oneof![Just(2u16), Just(3), Just(104), any::<u16>()],
        any::<u32>(),
        vec(any::<u8>(), 0..80),
    )
        .prop_map(|(len, kind, seq, body)| {
            let mut m = Vec::new();
            m.extend_from_slice(&len.to_ne_bytes());
            m.extend_from_slice(&kind.to_ne_bytes());
            m.extend_from_slice(&0u16.to_ne_bytes());
            m.extend_from_slice(&seq.to_ne_bytes());
            m.extend_from_slice(&0u32.to_ne_bytes());
            m.extend_from_slice(&body);
            m
        })
}

#[test]
fn streams_of_lying_headers_never_panic() {
    runner()
        .run(&vec(message(), 0..8), |msgs| check(&msgs.concat()))
        .unwrap();
}

#[test]
fn our_requests_cut_anywhere_never_panic() {
    let mut buf = Vec::new();
    for (i, op) in [
        RouteOp::Replace {
            dst: "10.9.8.0/24".parse().unwrap(),
            via: Via::Object(7),
        },
        RouteOp::Replace {
            dst: "2001:db8::/32".parse().unwrap(),
            via: Via::Gateway("fd00::1".parse().unwrap()),
        },
        RouteOp::Delete {
            dst: "10.0.0.0/8".parse().unwrap(),
        },
    ]
    .iter()
    .enumerate()
    {
        encode_route(&mut buf, op, 186, 20, i as u32, i == 2);
    }
    // Whole, they read as three messages of other kinds (requests, not replies).
    assert_eq!(replies(&buf).len(), 3);
    assert!(
        replies(&buf)
            .iter()
            .all(|r| matches!(r, Reply::Other { .. }))
    );
    for cut in 0..buf.len() {
        check(&buf[..cut]).unwrap();
    }
}
