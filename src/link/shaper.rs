//! The rate stage: when a frame leaves the link's bottleneck, and whether it fits the queue
//! in front of it.
//!
//! ```text
//!   arrival ─▶ [ queue: frames still waiting, limit in packets or bytes ] ─▶ exit time
//!                 admission: tail drop        served by a token bucket (rate, burst)
//!                                             or a Mahimahi trace (1504-byte opportunities)
//! ```
//!
//! The stage computes each frame's exit time when the frame arrives, from the state the
//! previous frame left: the queue is FIFO and nothing later can change an earlier frame's
//! turn, so there is nothing to re-evaluate when time passes. The queue is then just the
//! list of admitted frames whose exit time is still in the future; a frame that can leave
//! at once never counts against it.
//!
//! **Token bucket** (tbf): tokens accrue at `rate` bit/s up to `burst` bytes; the bucket
//! starts full. A frame leaves as soon as the bucket holds min(its size, burst) and then
//! takes its whole size, possibly leaving the bucket in debt that later frames wait out. So
//! a frame larger than the bucket (a GSO super-frame, or any frame when burst is 0) still
//! passes, and the long-run rate is exact; tbf would drop such a frame forever. Arithmetic
//! is exact in integers: one token is one bit-nanosecond, a rate of r bit/s adds r tokens per
//! nanosecond.
//!
//! **Trace** (Mahimahi's link queue): opportunity j at anchor + offset(j) carries 1504
//! bytes. Frames use opportunities in order, several small frames may share one, a frame
//! larger than what is left spills into the next ones and leaves with its last byte, and
//! whatever an opportunity does not carry is lost (it can serve a frame that arrived at or
//! before its instant, never a later one). The trace's time zero (its anchor) is the arrival
//! of the first frame that reaches this stage after the trace is installed; handing the same
//! trace to `reconfigure` again keeps the anchor and the position.
//!
//! **Queue**: a frame is admitted when the queue is empty, or when the frames waiting plus
//! this one stay within the limit (packets count `segments`, bytes count wire bytes).
//! Admitting into an empty queue regardless of size means a frame larger than the whole
//! limit is delayed rather than black-holed, and a limit of 0 behaves as one frame.
//!
//! A rate of 0 bit/s carries nothing: every frame is dropped at the queue rather than held
//! forever.

use std::collections::VecDeque;

use super::trace::{OPPORTUNITY_BYTES, Trace};
use crate::time::Instant;
use crate::topology::QueueLimit;

/// Tokens per byte: 8 bits × 1e9 ns.
const UNITS_PER_BYTE: i128 = 8_000_000_000;

/// Ethernet header bytes on top of the MTU, for the default sizes.
const ETH_HEADER: u64 = 14;

/// The queue limit in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    Packets(u64),
    Bytes(u64),
}

impl Limit {
    /// The configured limit, or the default: max(10 full frames, 50 ms at `rate_bps`) in
    /// bytes.
    pub(crate) fn resolve(cfg: Option<QueueLimit>, rate_bps: u64, mtu: u32) -> Limit {
        match cfg {
            Some(QueueLimit::Packets(n)) => Limit::Packets(u64::from(n)),
            Some(QueueLimit::Bytes(n)) => Limit::Bytes(n),
            None => {
                let ten_frames = 10 * (u64::from(mtu) + ETH_HEADER);
                Limit::Bytes(ten_frames.max(rate_bps / 8 / 20))
            }
        }
    }
}

/// The frames admitted to the rate stage that have not left it yet.
#[derive(Debug, Default)]
pub(crate) struct Backlog {
    waiting: VecDeque<(Instant, u64, u64)>,
    bytes: u64,
    packets: u64,
}

impl Backlog {
    /// Forgets the frames that have left by `now`.
    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(&(exit, bytes, packets)) = self.waiting.front() {
            if exit > now {
                break;
            }
            self.waiting.pop_front();
            self.bytes = self.bytes.saturating_sub(bytes);
            self.packets = self.packets.saturating_sub(packets);
        }
    }

    pub(crate) fn admits(&self, limit: Limit, bytes: u64, packets: u64) -> bool {
        self.waiting.is_empty()
            || match limit {
                Limit::Packets(max) => self.packets.saturating_add(packets) <= max,
                Limit::Bytes(max) => self.bytes.saturating_add(bytes) <= max,
            }
    }

    /// Records a frame that waits until `exit`.
    pub(crate) fn push(&mut self, exit: Instant, bytes: u64, packets: u64) {
        self.waiting.push_back((exit, bytes, packets));
        self.bytes = self.bytes.saturating_add(bytes);
        self.packets = self.packets.saturating_add(packets);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }
}

/// The service discipline of the rate stage.
#[derive(Debug)]
pub(crate) enum Shaper {
    /// No rate: frames leave as they arrive and never queue.
    Unlimited,
    /// A rate of 0: nothing leaves.
    Blocked,
    Bucket(TokenBucket),
    Trace(TraceCursor),
}

impl Shaper {
    pub(crate) fn new(
        rate: Option<u64>,
        burst: Option<u64>,
        trace: Option<Trace>,
        mtu: u32,
    ) -> Shaper {
        match (trace, rate) {
            (Some(trace), _) => Shaper::Trace(TraceCursor::new(trace)),
            (None, None) => Shaper::Unlimited,
            (None, Some(0)) => Shaper::Blocked,
            (None, Some(rate)) => Shaper::Bucket(TokenBucket::new(rate, burst, mtu)),
        }
    }

    /// New parameters: a bucket keeps its tokens (capped to the new burst) and a trace its
    /// position when the trace is the same; anything else starts afresh.
    pub(crate) fn reconfigure(
        &mut self,
        rate: Option<u64>,
        burst: Option<u64>,
        trace: Option<Trace>,
        mtu: u32,
    ) {
        let next = Shaper::new(rate, burst, trace, mtu);
        *self = match (next, std::mem::replace(self, Shaper::Unlimited)) {
            (Shaper::Bucket(mut new), Shaper::Bucket(old)) => {
                new.tokens = old.tokens.min(new.burst);
                new.at = old.at;
                Shaper::Bucket(new)
            }
            (Shaper::Trace(new), Shaper::Trace(old)) if new.trace == old.trace => {
                Shaper::Trace(old)
            }
            (next, _) => next,
        };
    }

    /// The rate the shaper sustains in bit/s (for the default queue limit).
    pub(crate) fn rate_bps(&self) -> u64 {
        match self {
            Shaper::Unlimited | Shaper::Blocked => 0,
            Shaper::Bucket(b) => b.rate,
            Shaper::Trace(t) => t.trace.mean_rate_bps(),
        }
    }

    /// When a frame of `bytes` that arrives at `arrival`, behind everything scheduled so far,
    /// leaves the stage (`None`: never).
    pub(crate) fn exit(&mut self, arrival: Instant, bytes: u64) -> Option<Instant> {
        match self {
            Shaper::Unlimited => Some(arrival),
            Shaper::Blocked => None,
            Shaper::Bucket(b) => Some(b.exit(arrival, bytes)),
            Shaper::Trace(t) => Some(t.exit(arrival, bytes)),
        }
    }
}

/// tbf's token bucket, in bit-nanoseconds.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: u64,
    burst: i128,
    /// Tokens at instant `at` (negative: debt).
    tokens: i128,
    at: Instant,
}

impl TokenBucket {
    /// Burst default: max(2 × MTU, 1 ms at `rate`) bytes.
    fn new(rate: u64, burst: Option<u64>, mtu: u32) -> TokenBucket {
        let burst = burst.unwrap_or_else(|| (2 * u64::from(mtu)).max(rate / 8 / 1000));
        let burst = i128::from(burst) * UNITS_PER_BYTE;
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            at: Instant::ZERO,
        }
    }

    fn tokens_at(&self, t: Instant) -> i128 {
        let elapsed = i128::from((t - self.at).as_nanos().min(u128::from(u64::MAX)) as u64);
        self.tokens
            .saturating_add(i128::from(self.rate).saturating_mul(elapsed))
            .min(self.burst)
    }

    fn exit(&mut self, arrival: Instant, bytes: u64) -> Instant {
        let start = arrival.max(self.at);
        let have = self.tokens_at(start);
        let cost = i128::from(bytes).saturating_mul(UNITS_PER_BYTE);
        let need = cost.min(self.burst);
        let (exit, have) = if have >= need {
            (start, have)
        } else {
            let rate = i128::from(self.rate.max(1));
            let wait = (need - have + rate - 1) / rate; // ceil, in ns
            let wait = wait.min(i128::from(u64::MAX)) as u64;
            let exit = start + std::time::Duration::from_nanos(wait);
            (
                exit,
                have.saturating_add(rate.saturating_mul(i128::from(wait)))
                    .min(self.burst),
            )
        };
        self.tokens = have.saturating_sub(cost);
        self.at = exit;
        exit
    }
}

/// Where a frame stands in a Mahimahi trace.
#[derive(Debug)]
pub(crate) struct TraceCursor {
    trace: Trace,
    anchor: Option<Instant>,
    /// The opportunity in use and the bytes it has left.
    cur: u64,
    left: u64,
}

impl TraceCursor {
    fn new(trace: Trace) -> TraceCursor {
        TraceCursor {
            trace,
            anchor: None,
            cur: 0,
            left: OPPORTUNITY_BYTES,
        }
    }

    fn exit(&mut self, arrival: Instant, bytes: u64) -> Instant {
        let anchor = *self.anchor.get_or_insert(arrival);
        let at = |j| anchor + std::time::Duration::from_nanos(self.trace.offset_ns(j));
        if self.left == 0 || at(self.cur) < arrival {
            // The current opportunity is used up or passed before this frame arrived.
            let first = self
                .trace
                .first_at_or_after((arrival - anchor).as_nanos() as u64);
            self.cur = first.max(self.cur.saturating_add(1));
            self.left = OPPORTUNITY_BYTES;
        }
        if bytes <= self.left {
            self.left -= bytes;
        } else {
            let rest = bytes - self.left;
            let more = rest.div_ceil(OPPORTUNITY_BYTES);
            self.cur = self.cur.saturating_add(more);
            self.left = (OPPORTUNITY_BYTES - rest % OPPORTUNITY_BYTES) % OPPORTUNITY_BYTES;
        }
        at(self.cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(ns: u64) -> Instant {
        Instant::from_nanos(ns)
    }

    #[test]
    fn bucket_passes_the_burst_then_paces() {
        // 8 Mbit/s = 1 byte/µs; burst 3000 bytes.
        let mut s = Shaper::new(Some(8_000_000), Some(3000), None, 1500);
        assert_eq!(s.exit(t(0), 1500), Some(t(0)));
        assert_eq!(s.exit(t(0), 1500), Some(t(0)));
        assert_eq!(s.exit(t(0), 1500), Some(t(1_500_000)));
        assert_eq!(s.exit(t(0), 1000), Some(t(2_500_000)));
        // Idle for long: the bucket refills to the burst, not beyond.
        assert_eq!(s.exit(t(1_000_000_000), 3000), Some(t(1_000_000_000)));
        assert_eq!(s.exit(t(1_000_000_000), 1), Some(t(1_000_001_000)));
    }

    #[test]
    fn frames_larger_than_the_bucket_pass_on_debt() {
        let mut s = Shaper::new(Some(8_000_000), Some(0), None, 1500);
        assert_eq!(s.exit(t(0), 64_000), Some(t(0)));
        assert_eq!(s.exit(t(0), 100), Some(t(64_000_000)));
        // Absurd sizes saturate instead of overflowing.
        let mut s = Shaper::new(Some(1), Some(0), None, 1500);
        assert_eq!(s.exit(t(0), u64::MAX), Some(t(0)));
        assert_eq!(s.exit(t(0), 1), Some(Instant::from_nanos(u64::MAX)));
        let mut s = Shaper::new(Some(u64::MAX), Some(u64::MAX), None, 1500);
        assert_eq!(s.exit(t(0), u64::MAX), Some(t(0)));
        assert_eq!(s.exit(t(0), 1), Some(t(1)));
    }

    #[test]
    fn zero_rate_blocks() {
        let mut s = Shaper::new(Some(0), None, None, 1500);
        assert_eq!(s.exit(t(5), 100), None);
    }

    #[test]
    fn trace_shares_and_spills_opportunities() {
        let ms = |m: u64| t(m * 1_000_000);
        let mut s = Shaper::new(None, None, Some(Trace::parse("1\n2\n").unwrap()), 1500);
        // Anchor at 10 ms: opportunities at 11, 12, 13, 14, …
        assert_eq!(s.exit(ms(10), 500), Some(ms(11)));
        assert_eq!(s.exit(ms(10), 1004), Some(ms(11))); // fills opportunity 11 exactly
        assert_eq!(s.exit(ms(10), 1504 + 10), Some(ms(13))); // 12 and 10 bytes of 13
        // Arriving after 13 wastes what 13 had left; 14 is the next opportunity.
        assert_eq!(s.exit(ms(13) + Duration::from_nanos(1), 10), Some(ms(14)));
        // Idle until 20.5 ms: next opportunity at 21.
        assert_eq!(
            s.exit(ms(20) + Duration::from_micros(500), 10),
            Some(ms(21))
        );
    }

    #[test]
    fn backlog_admission() {
        let mut b = Backlog::default();
        assert!(
            b.admits(Limit::Packets(0), 10_000, 1),
            "an empty queue takes anything"
        );
        b.push(t(10), 1000, 1);
        b.push(t(20), 1000, 1);
        assert!(b.admits(Limit::Packets(3), 1000, 1));
        assert!(!b.admits(Limit::Packets(2), 1000, 1));
        assert!(b.admits(Limit::Bytes(3000), 1000, 1));
        assert!(!b.admits(Limit::Bytes(2999), 1000, 1));
        b.expire(t(10));
        assert_eq!(b.len(), 1);
        assert!(b.admits(Limit::Packets(2), 1000, 1));
    }

    #[test]
    fn default_limits() {
        assert_eq!(Limit::resolve(None, 0, 1500), Limit::Bytes(15_140));
        assert_eq!(
            Limit::resolve(None, 100_000_000, 1500),
            Limit::Bytes(625_000)
        );
        assert_eq!(
            Limit::resolve(Some(QueueLimit::Packets(5)), 1, 1500),
            Limit::Packets(5)
        );
    }
}
