//! Unit parsing for link emulation values: durations, rates, byte sizes, percentages and
//! queue limits, as users write them in topology files (`10ms`, `100Mbit`, `32KB`, `1.5%`).
//!
//! Every function here is pure: `&str` in, a number in the model's base unit out (nanoseconds,
//! bits per second, bytes, a probability in `[0, 1]`, a [`QueueLimit`]), or a [`UnitError`]
//! whose message and hint are meant for the user. The caller (`check`) attaches the location.
//!
//! Grammar, shared by all of them:
//!
//! ```text
//!   value  = number [spaces] unit
//!   number = digits ["." digits]          (no sign, no exponent)
//!   unit   = one word from the function's table; nothing may follow it
//! ```
//!
//! Decimals are exact: `1.5ms` is 1 500 000 ns, computed in integers. A value that does not
//! come out as a whole number of the base unit (`1.5ns`, `0.5bit`) is an error, never
//! silently rounded. Rates use decimal multipliers (`1kbit` = 1000 bit/s) and are always
//! bits per second, `bps` included; sizes use `KB` = 1000 and `KiB` = 1024 bytes.

use std::time::Duration;

use super::model::QueueLimit;

/// Why a unit value was rejected: a message naming the value and a hint showing a fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    pub message: String,
    pub hint: String,
    /// The value parsed but lies outside the allowed range (`150%`, `0` rate), as opposed to
    /// a value that does not parse at all.
    pub out_of_range: bool,
}

impl UnitError {
    fn syntax(message: impl Into<String>, hint: impl Into<String>) -> Self {
        UnitError {
            message: message.into(),
            hint: hint.into(),
            out_of_range: false,
        }
    }

    fn range(message: impl Into<String>, hint: impl Into<String>) -> Self {
        UnitError {
            message: message.into(),
            hint: hint.into(),
            out_of_range: true,
        }
    }
}

/// Longest link delay or jitter: 60 s. Beyond this a link is not slow but broken, and
/// frames queued behind a huge delay keep the link dead after the delay is lowered.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// Fastest link rate: 1 Tbit/s.
pub const MAX_RATE_BPS: u64 = 1_000_000_000_000;
/// Largest size (burst, queue in bytes): 1 GiB.
pub const MAX_BYTES: u64 = 1 << 30;
/// Longest queue in packets: one million.
pub const MAX_QUEUE_PACKETS: u32 = 1_000_000;

/// A number split into its parts, plus the unit word that followed it.
struct Parsed<'a> {
    int: &'a str,
    frac: &'a str,
    unit: &'a str,
}

/// Splits `12.5 ms` into `12`, `5`, `ms`. `what` names the quantity for messages.
fn split<'a>(s: &'a str, what: &str, example: &str) -> Result<Parsed<'a>, UnitError> {
    let t = s.trim();
    let int_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let int = &t[..int_end];
    let mut rest = &t[int_end..];
    let mut frac = "";
    if let Some(after_dot) = rest.strip_prefix('.') {
        let frac_end = after_dot
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_dot.len());
        frac = &after_dot[..frac_end];
        rest = &after_dot[frac_end..];
        if frac.is_empty() {
            return Err(UnitError::syntax(
                format!("bad {what} `{s}`: no digits after the decimal point"),
                format!("write it like `{example}`"),
            ));
        }
    }
    if int.is_empty() {
        return Err(UnitError::syntax(
            format!("bad {what} `{s}`: it must start with a number"),
            format!("write it like `{example}` (no sign, no exponent)"),
        ));
    }
    Ok(Parsed {
        int,
        frac,
        unit: rest.trim_start(),
    })
}

/// `(int + frac) × mult`, exactly, as an integer; `None` when not whole or too large.
fn scale(p: &Parsed<'_>, mult: u128) -> Result<u128, &'static str> {
    let int: u128 = p.int.parse().map_err(|_| "too large")?;
    let mut value = int.checked_mul(mult).ok_or("too large")?;
    if !p.frac.is_empty() {
        if p.frac.len() > 30 {
            return Err("too many decimals");
        }
        let frac: u128 = p.frac.parse().map_err(|_| "too many decimals")?;
        let denom = 10u128.pow(p.frac.len() as u32);
        let scaled = frac.checked_mul(mult).ok_or("too large")?;
        if scaled % denom != 0 {
            return Err("not whole");
        }
        value = value.checked_add(scaled / denom).ok_or("too large")?;
    }
    Ok(value)
}

fn is_zero(p: &Parsed<'_>) -> bool {
    p.int.bytes().all(|b| b == b'0') && p.frac.bytes().all(|b| b == b'0')
}

/// A duration: `10ms`, `1.5ms`, `250us`, `250µs`, `2s`, `100ns`, or a bare `0`.
/// Units are case-insensitive (except that `µ` is the micro sign or Greek mu).
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    const HINT: &str = "use ns, us (or µs), ms or s, like `10ms` or `1.5ms`";
    let p = split(s, "duration", "10ms")?;
    let mult: u128 = match p.unit.to_ascii_lowercase().as_str() {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "" if is_zero(&p) => 1,
        "" => {
            return Err(UnitError::syntax(
                format!("bad duration `{s}`: missing unit"),
                format!("{HINT}; only 0 may be written without a unit"),
            ));
        }
        _ => {
            return Err(UnitError::syntax(
                format!("bad duration `{s}`: unknown unit `{}`", p.unit),
                HINT,
            ));
        }
    };
    let nanos = scale(&p, mult).map_err(|why| match why {
        "not whole" => UnitError::syntax(
            format!("bad duration `{s}`: finer than one nanosecond"),
            "durations are whole nanoseconds",
        ),
        _ => UnitError::range(format!("duration `{s}` is too large"), HINT),
    })?;
    let nanos = u64::try_from(nanos)
        .map_err(|_| UnitError::range(format!("duration `{s}` is too large"), HINT))?;
    Ok(Duration::from_nanos(nanos))
}

/// A link delay or jitter: a [`parse_duration`] of at most [`MAX_DELAY`].
pub fn parse_delay(s: &str) -> Result<Duration, UnitError> {
    let d = parse_duration(s)?;
    if d > MAX_DELAY {
        return Err(UnitError::range(
            format!(
                "duration `{s}` is over the limit of {}s",
                MAX_DELAY.as_secs()
            ),
            format!(
                "a link delay or jitter is at most {}s, like `100ms`",
                MAX_DELAY.as_secs()
            ),
        ));
    }
    Ok(d)
}

/// A rate in bits per second: `100Mbit`, `1.5gbit`, `10mbps`, `64k`, `9600bit`.
/// Must be above zero and at most [`MAX_RATE_BPS`]. `bps` suffixes mean bits (not bytes)
/// per second here.
pub fn parse_rate(s: &str) -> Result<u64, UnitError> {
    const HINT: &str = "rates are bits per second: use bit, kbit, mbit, gbit or tbit \
                        (k, m, g, t and kbps, mbps, … mean the same), like `100mbit`";
    let p = split(s, "rate", "100mbit")?;
    let mult: u128 = match p.unit.to_ascii_lowercase().as_str() {
        "bit" | "bps" => 1,
        "k" | "kbit" | "kbps" => 1_000,
        "m" | "mbit" | "mbps" => 1_000_000,
        "g" | "gbit" | "gbps" => 1_000_000_000,
        "t" | "tbit" | "tbps" => 1_000_000_000_000,
        "" => {
            return Err(UnitError::syntax(
                format!("bad rate `{s}`: missing unit"),
                HINT,
            ));
        }
        _ => {
            let unit = p.unit;
            return Err(UnitError::syntax(
                format!("bad rate `{s}`: unknown unit `{unit}`"),
                HINT,
            ));
        }
    };
    let bits = scale(&p, mult).map_err(|why| match why {
        "not whole" => UnitError::syntax(
            format!("bad rate `{s}`: finer than one bit per second"),
            HINT,
        ),
        _ => UnitError::range(format!("rate `{s}` is too large"), HINT),
    })?;
    let bits = u64::try_from(bits)
        .map_err(|_| UnitError::range(format!("rate `{s}` is too large"), HINT))?;
    if bits == 0 {
        return Err(UnitError::range(
            format!("rate `{s}` is zero"),
            "a rate must be above zero; remove `rate` for an unlimited link",
        ));
    }
    if bits > MAX_RATE_BPS {
        return Err(UnitError::range(
            format!("rate `{s}` is over the limit of 1tbit"),
            "a rate is at most 1tbit (1000gbit); remove `rate` for an unlimited link",
        ));
    }
    Ok(bits)
}

/// A size in bytes: `1500`, `1500B`, `32KB`, `1.5MB`, `64KiB`, `1MiB` (`K`/`k` both fine).
/// `B` must be uppercase: a lowercase `b` conventionally means bits. At most [`MAX_BYTES`].
pub fn parse_bytes(s: &str) -> Result<u64, UnitError> {
    const HINT: &str = "use B, KB, MB, GB (×1000) or KiB, MiB, GiB (×1024), like `32KB`";
    let p = split(s, "size", "32KB")?;
    let mult: u128 = match p.unit {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" | "kiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other if other.ends_with('b') || other.eq_ignore_ascii_case("kbit") => {
            return Err(UnitError::syntax(
                format!("bad size `{s}`: `{other}` is not a byte unit"),
                format!("sizes are bytes, written with an uppercase B; {HINT}"),
            ));
        }
        other => {
            return Err(UnitError::syntax(
                format!("bad size `{s}`: unknown unit `{other}`"),
                HINT,
            ));
        }
    };
    let bytes = scale(&p, mult).map_err(|why| match why {
        "not whole" => {
            UnitError::syntax(format!("bad size `{s}`: not a whole number of bytes"), HINT)
        }
        _ => UnitError::range(format!("size `{s}` is too large"), HINT),
    })?;
    if bytes > u128::from(MAX_BYTES) {
        return Err(UnitError::range(
            format!("size `{s}` is over the limit of 1GiB"),
            "a burst or queue is at most 1GiB, like `64KB`",
        ));
    }
    Ok(bytes as u64)
}

/// A memory size: like [`parse_bytes`] (`256MiB`, `1GB`, `1.5GiB`) plus `TB`/`TiB`, without
/// the 1 GiB cap of bursts and queues (a node's limit is checked by its caller).
pub fn parse_memory(s: &str) -> Result<u64, UnitError> {
    const HINT: &str = "use B, KB, MB, GB, TB (×1000) or KiB, MiB, GiB, TiB (×1024), like `256MiB`";
    let p = split(s, "memory size", "256MiB")?;
    let mult: u128 = match p.unit {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" | "kiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        other => {
            return Err(UnitError::syntax(
                format!("bad memory size `{s}`: unknown unit `{other}`"),
                HINT,
            ));
        }
    };
    let bytes = scale(&p, mult).map_err(|why| match why {
        "not whole" => UnitError::syntax(
            format!("bad memory size `{s}`: not a whole number of bytes"),
            HINT,
        ),
        _ => UnitError::range(format!("memory size `{s}` is too large"), HINT),
    })?;
    u64::try_from(bytes)
        .map_err(|_| UnitError::range(format!("memory size `{s}` is too large"), HINT))
}

/// A percentage `0%..=100%` (decimals allowed, `0` without `%` too) as a probability 0..=1.
pub fn parse_percent(s: &str) -> Result<f64, UnitError> {
    let p = split(s, "percentage", "1.5%")?;
    match p.unit {
        "%" => {}
        "" if is_zero(&p) => return Ok(0.0),
        "" => {
            return Err(UnitError::syntax(
                format!("bad percentage `{s}`: missing `%`"),
                format!("write `{s}%` for {s} percent"),
            ));
        }
        other => {
            return Err(UnitError::syntax(
                format!("bad percentage `{s}`: unexpected `{other}`"),
                "write a percentage like `1.5%`",
            ));
        }
    }
    let number = format!("{}.{}", p.int, if p.frac.is_empty() { "0" } else { p.frac });
    let percent: f64 = number.parse().map_err(|_| {
        UnitError::syntax(
            format!("bad percentage `{s}`"),
            "write a percentage like `1.5%`",
        )
    })?;
    if percent > 100.0 {
        return Err(UnitError::range(
            format!("percentage `{s}` is over 100%"),
            "a probability is between 0% and 100%",
        ));
    }
    Ok(percent / 100.0)
}

/// A queue limit: a bare integer, `100p` or `100 packets` is packets; a size (`64KB`) is
/// bytes. Must be above zero, at most [`MAX_QUEUE_PACKETS`] packets or [`MAX_BYTES`].
pub fn parse_queue(s: &str) -> Result<QueueLimit, UnitError> {
    const HINT: &str = "write packets as `100`, `100p` or `100 packets`, bytes as `64KB`";
    let p = split(s, "queue limit", "100p")?;
    let unit = p.unit.to_ascii_lowercase();
    let limit = if matches!(
        unit.as_str(),
        "" | "p" | "pkt" | "pkts" | "packet" | "packets"
    ) {
        if !p.frac.is_empty() {
            return Err(UnitError::syntax(
                format!("bad queue limit `{s}`: packets are counted in whole numbers"),
                HINT,
            ));
        }
        let too_large = || {
            UnitError::range(
                format!("queue limit `{s}` is over the limit of {MAX_QUEUE_PACKETS} packets"),
                format!("a queue holds at most {MAX_QUEUE_PACKETS} packets, like `1000`"),
            )
        };
        let packets: u32 = p.int.parse().map_err(|_| too_large())?;
        if packets > MAX_QUEUE_PACKETS {
            return Err(too_large());
        }
        QueueLimit::Packets(packets)
    } else {
        let bytes = parse_bytes(s).map_err(|e| UnitError {
            message: e.message.replace("bad size", "bad queue limit"),
            hint: HINT.into(),
            out_of_range: e.out_of_range,
        })?;
        QueueLimit::Bytes(bytes)
    };
    if matches!(limit, QueueLimit::Packets(0) | QueueLimit::Bytes(0)) {
        return Err(UnitError::range(
            format!("queue limit `{s}` is zero"),
            "a queue holds at least one packet",
        ));
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10ms"), Ok(ms(10)));
        assert_eq!(parse_duration("10 ms"), Ok(ms(10)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250μs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("2s"), Ok(ms(2000)));
        assert_eq!(parse_duration("0.001s"), Ok(ms(1)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("10MS"), Ok(ms(10)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0.0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration(" 5ms "), Ok(ms(5)));
    }

    #[test]
    fn durations_reject() {
        for bad in [
            "10 ms s",
            "10",
            "1.5",
            "ms",
            "",
            "-1ms",
            "1e3ms",
            "10 min",
            "1.ms",
            "1.5ns",
            "10msec",
            "99999999999999999999s",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.message.contains(&format!("`{bad}`")), "{bad}: {err:?}");
            assert!(!err.hint.is_empty());
        }
        assert!(
            parse_duration("10 ms s")
                .unwrap_err()
                .message
                .contains("unknown unit `ms s`")
        );
        assert!(
            parse_duration("10")
                .unwrap_err()
                .message
                .contains("missing unit")
        );
    }

    #[test]
    fn delays_are_bounded() {
        assert_eq!(parse_delay("60s"), Ok(ms(60_000)));
        assert_eq!(parse_delay("10ms"), Ok(ms(10)));
        for bad in ["60.000000001s", "61s", "99999999s", "18446744073s"] {
            let e = parse_delay(bad).expect_err(bad);
            assert!(e.out_of_range, "{bad}");
            assert!(e.message.contains("limit of 60s"), "{bad}: {e:?}");
        }
    }

    #[test]
    fn sizes_rates_and_queues_are_bounded() {
        assert_eq!(parse_rate("1tbit"), Ok(MAX_RATE_BPS));
        assert!(
            parse_rate("1001gbit")
                .unwrap_err()
                .message
                .contains("limit of 1tbit")
        );
        assert_eq!(parse_bytes("1GiB"), Ok(MAX_BYTES));
        assert!(
            parse_bytes("1.5GiB")
                .unwrap_err()
                .message
                .contains("limit of 1GiB")
        );
        assert!(parse_bytes("5GB").unwrap_err().out_of_range);
        assert_eq!(
            parse_queue("1000000"),
            Ok(QueueLimit::Packets(MAX_QUEUE_PACKETS))
        );
        let e = parse_queue("1000001").unwrap_err();
        assert!(
            e.out_of_range && e.message.contains("1000000 packets"),
            "{e:?}"
        );
        assert!(parse_queue("2GB").unwrap_err().out_of_range);
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("100Mbit"), Ok(100_000_000));
        assert_eq!(parse_rate("100mbit"), Ok(100_000_000));
        assert_eq!(parse_rate("100 mbps"), Ok(100_000_000));
        assert_eq!(parse_rate("1.5gbit"), Ok(1_500_000_000));
        assert_eq!(parse_rate("64k"), Ok(64_000));
        assert_eq!(parse_rate("64KBPS"), Ok(64_000));
        assert_eq!(parse_rate("9600bit"), Ok(9600));
        assert_eq!(parse_rate("9600bps"), Ok(9600));
        assert_eq!(parse_rate("1t"), Ok(1_000_000_000_000));
        assert_eq!(parse_rate("2M"), Ok(2_000_000));
    }

    #[test]
    fn rates_reject() {
        for bad in [
            "100 Mbits/s",
            "100",
            "100MB",
            "0mbit",
            "0.5bit",
            "fast",
            "100 mbit x",
        ] {
            let err = parse_rate(bad).expect_err(bad);
            assert!(err.message.contains(&format!("`{bad}`")), "{bad}: {err:?}");
        }
        assert!(parse_rate("0mbit").unwrap_err().out_of_range);
        assert!(!parse_rate("100 Mbits/s").unwrap_err().out_of_range);
        assert!(
            parse_rate("100 Mbits/s")
                .unwrap_err()
                .message
                .contains("unknown unit `Mbits/s`")
        );
        assert!(parse_rate("99999999999t").unwrap_err().out_of_range);
    }

    #[test]
    fn bytes_parse() {
        assert_eq!(parse_bytes("1500"), Ok(1500));
        assert_eq!(parse_bytes("1500B"), Ok(1500));
        assert_eq!(parse_bytes("32KB"), Ok(32_000));
        assert_eq!(parse_bytes("32kB"), Ok(32_000));
        assert_eq!(parse_bytes("1.5MB"), Ok(1_500_000));
        assert_eq!(parse_bytes("64KiB"), Ok(65_536));
        assert_eq!(parse_bytes("1MiB"), Ok(1_048_576));
        assert_eq!(parse_bytes("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("0"), Ok(0));
    }

    #[test]
    fn bytes_reject() {
        for bad in ["32kb", "32Kbit", "1.5B", "32 KB B", "KB", "32TB", "-1B"] {
            let err = parse_bytes(bad).expect_err(bad);
            assert!(err.message.contains(&format!("`{bad}`")), "{bad}: {err:?}");
        }
        assert!(
            parse_bytes("32kb")
                .unwrap_err()
                .hint
                .contains("uppercase B")
        );
    }

    #[test]
    fn percents_parse() {
        assert_eq!(parse_percent("1%"), Ok(0.01));
        assert_eq!(parse_percent("1.5%"), Ok(0.015));
        assert_eq!(parse_percent("100%"), Ok(1.0));
        assert_eq!(parse_percent("0%"), Ok(0.0));
        assert_eq!(parse_percent("0"), Ok(0.0));
        assert_eq!(parse_percent("25 %"), Ok(0.25));
    }

    #[test]
    fn percents_reject() {
        let over = parse_percent("150%").unwrap_err();
        assert!(over.out_of_range);
        assert!(over.message.contains("over 100%"));
        assert!(parse_percent("100.01%").unwrap_err().out_of_range);
        for bad in ["1", "0.5", "-1%", "1%%", "one%", "%", "1.%"] {
            let err = parse_percent(bad).expect_err(bad);
            assert!(!err.out_of_range, "{bad}");
            assert!(err.message.contains(&format!("`{bad}`")), "{bad}: {err:?}");
        }
        assert!(parse_percent("1").unwrap_err().hint.contains("1%"));
    }

    #[test]
    fn queues_parse() {
        assert_eq!(parse_queue("100"), Ok(QueueLimit::Packets(100)));
        assert_eq!(parse_queue("100p"), Ok(QueueLimit::Packets(100)));
        assert_eq!(parse_queue("100 packets"), Ok(QueueLimit::Packets(100)));
        assert_eq!(parse_queue("1 packet"), Ok(QueueLimit::Packets(1)));
        assert_eq!(parse_queue("64KB"), Ok(QueueLimit::Bytes(64_000)));
        assert_eq!(parse_queue("64KiB"), Ok(QueueLimit::Bytes(65_536)));
        assert_eq!(parse_queue("1500B"), Ok(QueueLimit::Bytes(1500)));
    }

    #[test]
    fn queues_reject() {
        for bad in ["0", "0p", "0KB", "1.5p", "100 frames", "99999999999", "p"] {
            let err = parse_queue(bad).expect_err(bad);
            assert!(err.message.contains(&format!("`{bad}`")), "{bad}: {err:?}");
        }
        assert!(parse_queue("0").unwrap_err().out_of_range);
        assert!(
            parse_queue("64kb")
                .unwrap_err()
                .message
                .contains("bad queue limit")
        );
    }
}
