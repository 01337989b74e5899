//! Mahimahi delivery traces: a link whose capacity follows a recorded schedule.
//!
//! A trace file has one integer per line, a time in milliseconds at which the link can
//! deliver one packet of up to [`OPPORTUNITY_BYTES`] bytes (a *delivery opportunity*).
//! Several lines with the same time mean several opportunities in that millisecond, which
//! is how a trace expresses more than 12 Mbit/s. Timestamps never decrease; the trace
//! repeats with a period equal to its last timestamp:
//!
//! ```text
//!   file: 0 \n 5            opportunities at 0, 5 | 5, 10 | 10, 15 | …  (period 5 ms)
//!         ▲ anchor (the first frame to reach the rate stage once the trace is installed)
//! ```
//!
//! Like Mahimahi, loop k adds k × period to every line, so a trace starting at 0 has two
//! opportunities where loops meet. How frames use opportunities is the rate stage's
//! business (`shaper.rs`); this file parses traces and answers "when is opportunity j" and
//! "which is the first opportunity at or after t".

use std::time::Duration;

/// Bytes one delivery opportunity carries (Mahimahi's `PACKET_SIZE`: 1500 + 4 for its
/// own framing).
pub const OPPORTUNITY_BYTES: u64 = 1504;

const NS_PER_MS: u128 = 1_000_000;

/// A parsed delivery trace: opportunity times within one period, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    ms: Vec<u64>,
    period_ms: u64,
}

/// What is wrong with a trace file; line numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    #[error("line {line}: `{text}` is not a timestamp in milliseconds (a non-negative integer)")]
    NotATimestamp { line: usize, text: String },
    #[error(
        "line {line}: timestamp {ms} ms is earlier than the line before it ({previous} ms); \
         timestamps must not decrease"
    )]
    Decreasing { line: usize, ms: u64, previous: u64 },
    #[error("the trace has no timestamps, so the link could never deliver anything")]
    Empty,
    #[error(
        "line {line}: the last timestamp is 0, so the trace would repeat forever within one \
         instant; it must last at least 1 ms"
    )]
    ZeroPeriod { line: usize },
}

impl Trace {
    /// Parses Mahimahi's format: one millisecond timestamp per line. Blank lines and
    /// surrounding whitespace are ignored; anything else that is not a non-negative
    /// integer, or a timestamp smaller than its predecessor, is an error naming the line.
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        let mut ms = Vec::new();
        let mut last_line = 0;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let t = raw.trim();
            if t.is_empty() {
                continue;
            }
            let v: u64 = t.parse().map_err(|_| TraceError::NotATimestamp {
                line,
                text: t.chars().take(40).collect(),
            })?;
            if let Some(&previous) = ms.last()
                && v < previous
            {
                return Err(TraceError::Decreasing {
                    line,
                    ms: v,
                    previous,
                });
            }
            ms.push(v);
            last_line = line;
        }
        match ms.last() {
            None => Err(TraceError::Empty),
            Some(0) => Err(TraceError::ZeroPeriod { line: last_line }),
            Some(&period_ms) => Ok(Trace { ms, period_ms }),
        }
    }

    /// Opportunities in one period.
    pub fn len(&self) -> usize {
        self.ms.len()
    }

    /// Always false: a parsed trace has at least one opportunity.
    pub fn is_empty(&self) -> bool {
        self.ms.is_empty()
    }

    pub fn period(&self) -> Duration {
        Duration::from_millis(self.period_ms)
    }

    /// The trace's average capacity in bit/s.
    pub fn mean_rate_bps(&self) -> u64 {
        let bits = self.ms.len() as u128 * u128::from(OPPORTUNITY_BYTES) * 8 * 1000;
        (bits / u128::from(self.period_ms)).min(u128::from(u64::MAX)) as u64
    }

    fn period_ns(&self) -> u128 {
        u128::from(self.period_ms) * NS_PER_MS
    }

    /// Offset of opportunity `j` (counting across loops) from the anchor, in ns,
    /// saturating at u64::MAX.
    pub(crate) fn offset_ns(&self, j: u64) -> u64 {
        let n = self.ms.len() as u64;
        let (k, i) = (j / n, (j % n) as usize);
        let ns = u128::from(k) * self.period_ns() + u128::from(self.ms[i]) * NS_PER_MS;
        ns.min(u128::from(u64::MAX)) as u64
    }

    /// The index of the first opportunity whose offset is at least `offset_ns`.
    pub(crate) fn first_at_or_after(&self, offset_ns: u64) -> u64 {
        let n = self.ms.len() as u128;
        let (off, period) = (u128::from(offset_ns), self.period_ns());
        let mut k = off / period;
        // The last lines of loop k−1 sit exactly at k × period: look there first.
        if k > 0 && off % period == 0 {
            k -= 1;
        }
        let base = k * period;
        let i = self
            .ms
            .partition_point(|&m| base + u128::from(m) * NS_PER_MS < off) as u128;
        (k * n + i).min(u128::from(u64::MAX)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn parses_mahimahi_lines() {
        let t = Trace::parse("1\n1\n 3 \r\n\n8\n").unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.period(), Duration::from_millis(8));
        // 4 opportunities of 1504 bytes every 8 ms.
        assert_eq!(t.mean_rate_bps(), 4 * 1504 * 8 * 1000 / 8);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            Trace::parse("1\n2\nfast\n"),
            Err(TraceError::NotATimestamp {
                line: 3,
                text: "fast".into()
            })
        );
        assert_eq!(
            Trace::parse("5\n\n4\n"),
            Err(TraceError::Decreasing {
                line: 3,
                ms: 4,
                previous: 5
            })
        );
        assert_eq!(
            Trace::parse("-1"),
            Err(TraceError::NotATimestamp {
                line: 1,
                text: "-1".into()
            })
        );
        assert_eq!(Trace::parse("\n \n"), Err(TraceError::Empty));
        assert_eq!(
            Trace::parse("0\n0\n"),
            Err(TraceError::ZeroPeriod { line: 2 })
        );
        let msg = Trace::parse("1\nx").unwrap_err().to_string();
        assert!(msg.starts_with("line 2:"), "{msg}");
    }

    #[test]
    fn opportunities_loop_with_the_period() {
        let t = Trace::parse("0\n5\n").unwrap();
        let offsets: Vec<u64> = (0..6).map(|j| t.offset_ns(j) / MS).collect();
        assert_eq!(offsets, [0, 5, 5, 10, 10, 15]);
        assert_eq!(t.first_at_or_after(0), 0);
        assert_eq!(t.first_at_or_after(1), 1);
        assert_eq!(t.first_at_or_after(5 * MS), 1);
        assert_eq!(t.first_at_or_after(5 * MS + 1), 3);
        assert_eq!(t.first_at_or_after(10 * MS), 3);
        let t = Trace::parse("2\n3\n").unwrap();
        assert_eq!(t.first_at_or_after(3 * MS + 1), 2); // loop 1 starts at 3 + 2 = 5 ms
        assert_eq!(t.offset_ns(2), 5 * MS);
    }

    #[test]
    fn far_future_saturates() {
        let t = Trace::parse("1\n").unwrap();
        assert_eq!(t.offset_ns(u64::MAX), u64::MAX);
        assert!(t.first_at_or_after(u64::MAX) > 0);
    }
}
