//! Built-in probes that run inside lab nodes with no external binary: UDP delay/loss
//! probes and a TCP throughput meter (iperf-like). Benches and scenarios use them.
//!
//! Sockets are *created* inside a node's namespace on a short-lived thread made for that
//! ([`socket_in`]) and then used from ordinary threads: a socket keeps the namespace it was
//! born in. Timing uses `CLOCK_MONOTONIC`, which all namespaces of one machine share, so a
//! receiver can subtract a sender's timestamp to get a one-way delay.

pub mod capture;
pub mod ping;
pub mod tcp;
pub mod udp;

use std::io;
use std::time::Duration;

use crate::netns;

/// Bounds of the probes' parameters, checked where they are given: `topolab probe`'s
/// arguments and scenario steps (which name the limit when they refuse a value).
pub mod limits {
    use super::Duration;

    /// Echo requests of one `ping`.
    pub const PING_COUNT: u32 = 100_000;
    /// Time between two echo requests, or two UDP probes.
    pub const INTERVAL: Duration = Duration::from_secs(60);
    /// Largest ICMP or UDP payload over IPv4 (65535 − 20 − 8).
    pub const PAYLOAD: u64 = 65_507;
    /// UDP probes of one measurement (each is remembered until the end).
    pub const UDP_PROBES: u64 = 10_000_000;
    /// Parallel TCP streams.
    pub const STREAMS: u32 = 128;
    /// Length of one throughput measurement.
    pub const DURATION: Duration = Duration::from_secs(3600);
}

/// Runs `make` inside namespace `ns` (by name) and returns what it built (sockets).
pub fn socket_in<T: Send + 'static>(
    ns: &str,
    make: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    netns::run_in(netns::open(ns)?, make)
}

/// Nanoseconds of CLOCK_MONOTONIC (shared by every namespace of the machine).
pub fn now_ns() -> u64 {
    crate::time::Instant::monotonic().as_nanos()
}

/// Sets this thread's timer slack to 1 ns, so sleeps end when asked.
pub fn precise_timers() {
    // SAFETY: prctl with an integer argument.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Sleeps until `deadline_ns` (CLOCK_MONOTONIC).
pub fn sleep_until(deadline_ns: u64) {
    let now = now_ns();
    if deadline_ns > now {
        std::thread::sleep(std::time::Duration::from_nanos(deadline_ns - now));
    }
}

/// Summary statistics of a sample of durations, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub n: usize,
    pub mean_ms: f64,
    pub std_ms: f64,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Stats {
    pub fn of(samples_ns: &[u64]) -> Option<Stats> {
        if samples_ns.is_empty() {
            return None;
        }
        let mut v: Vec<f64> = samples_ns.iter().map(|&x| x as f64 / 1e6).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var =
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n.max(2).saturating_sub(1) as f64;
        let pct = |p: f64| v[((p * (n - 1) as f64).round() as usize).min(n - 1)];
        Some(Stats {
            n,
            mean_ms: mean,
            std_ms: var.sqrt(),
            min_ms: v[0],
            p50_ms: pct(0.5),
            p99_ms: pct(0.99),
            max_ms: v[n - 1],
        })
    }
}

/// Wilson score interval for a binomial proportion at confidence z (2.576 for 99%).
pub fn wilson(successes: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_and_interval() {
        let s = Stats::of(&[1_000_000, 2_000_000, 3_000_000]).unwrap();
        assert_eq!(s.mean_ms, 2.0);
        assert_eq!(s.p50_ms, 2.0);
        assert!((s.std_ms - 1.0).abs() < 1e-9);
        assert!(Stats::of(&[]).is_none());
        let (lo, hi) = wilson(1000, 100_000, 2.576);
        assert!(lo < 0.01 && hi > 0.01 && hi - lo < 0.0017, "{lo} {hi}");
    }
}
