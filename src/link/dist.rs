//! Jitter distributions: one uniform draw in, one signed delay offset out.
//!
//! Every distribution is a quantile function applied to a single value `u` in (0, 1), so the
//! jitter stream advances by exactly one word per frame whatever the distribution, and a
//! sample is `jitter × z(u)` where `z` is the standardized shape:
//!
//! ```text
//!   u ─▶ uniform       z = 2u − 1                      U(−jitter, +jitter), std jitter/√3
//!   u ─▶ normal        z = Φ⁻¹(u)                      N(0, jitter)
//!   u ─▶ pareto        z = (4/3)·((1−u)^(−1/3) − 1.5)  netem's pareto table: shape 3,
//!                                                      shifted to mean 0, right-skewed
//!   u ─▶ paretonormal  z = (Φ⁻¹(u) + 3·pareto(u)) / 4  netem's paretonormal table
//!   then z is clamped to [−4, +4], as netem's 16-bit tables are (±32767 / 8192)
//! ```
//!
//! `uniform` is U(−jitter, +jitter) exactly as netem and the brief define it, so its
//! standard deviation is jitter/√3, not jitter. `paretonormal` follows netem's table
//! generator (iproute2 `netem/paretonormal.c`): it adds a quarter of the normal quantile to
//! three quarters of the pareto quantile *at the same u*, a comonotone blend rather than a
//! coin-flip mixture, so that the kernel and userspace engines draw the same shape. Its
//! mean is close to zero and its standard deviation close to (but not exactly) jitter.
//!
//! The quantiles use only `+ − × ÷` and `sqrt`, which IEEE 754 rounds exactly, plus the
//! small [`ln`] and [`exp`] written here instead of the platform's libm (whose last bit may
//! differ between C libraries): a seed gives bit-identical delays on every machine.

use crate::topology::Distribution;

/// netem's tables hold values up to ±32767 at a scale of 8192: samples are at most 4 σ.
const CLAMP: f64 = 4.0;

/// The standardized sample z(u) of `dist` for u in (0, 1), clamped to [−4, 4].
pub(crate) fn standard_sample(dist: Distribution, u: f64) -> f64 {
    let z = match dist {
        Distribution::Uniform => 2.0 * u - 1.0,
        Distribution::Normal => inverse_normal(u),
        Distribution::Pareto => pareto(u),
        Distribution::ParetoNormal => (inverse_normal(u) + 3.0 * pareto(u)) / 4.0,
    };
    // (A NaN, impossible for u in (0, 1), would pass through and become a 0 ns offset.)
    z.clamp(-CLAMP, CLAMP)
}

/// netem's pareto table value for quantile u: a Pareto variable of shape 3 and scale 1
/// (mean 1.5), shifted to mean 0 and scaled by 4/3; increasing in u, at least −2/3.
fn pareto(u: f64) -> f64 {
    let x = exp(-ln(1.0 - u) / 3.0);
    ((x - 1.5) * (4.0 / 3.0)).min(CLAMP)
}

/// Φ⁻¹(u), the standard normal quantile, by Acklam's rational approximation (relative
/// error below 1.2e-9, far below the nanosecond at any sensible jitter).
pub(crate) fn inverse_normal(u: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.02425;

    if u.is_nan() || u <= 0.0 {
        return -CLAMP;
    }
    if u >= 1.0 {
        return CLAMP;
    }
    let tail = |p: f64| {
        let q = (-2.0 * ln(p)).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if u < LOW {
        tail(u)
    } else if u > 1.0 - LOW {
        -tail(1.0 - u)
    } else {
        let q = u - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// ln 2 split Cody-Waite style (fdlibm's constants): `LN2_HI` has 32 significant bits, so
/// k × LN2_HI is exact for the exponents we meet and the reduction loses nothing.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
const LN2: f64 = std::f64::consts::LN_2;

/// Natural logarithm from basic operations only (deterministic across platforms).
/// x = m·2^e with m in [√½, √2); ln m = 2·atanh(s), s = (m−1)/(m+1), |s| < 0.172.
/// Non-positive or non-finite input returns −∞ / NaN / +∞ like `f64::ln`.
pub(crate) fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    // Scale subnormals into the normal range first.
    let (x, bias) = if x < f64::MIN_POSITIVE {
        (x * (1u64 << 54) as f64, -54)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023 + bias;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // 2s·(1 + s²/3 + s⁴/5 + …); s²⁴/25 < 1e-38, far past double precision.
    let mut sum = 0.0;
    for k in (0..12).rev() {
        sum = sum * s2 + 1.0 / (2 * k + 1) as f64;
    }
    let e = e as f64;
    e * LN2_HI + (e * LN2_LO + 2.0 * s * sum)
}

/// e^x from basic operations only: x = k·ln 2 + r with |r| ≤ ln2/2, a Taylor series for
/// e^r, then the exponent bits. Saturates to +∞ / 0 outside the double range.
pub(crate) fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    if x < -708.0 {
        return 0.0;
    }
    let k = (x / LN2).round();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Σ r^n/n! up to n = 17: (ln2/2)^18/18! < 1e-24.
    let mut sum = 1.0;
    for n in (1..=17).rev() {
        sum = 1.0 + sum * r / n as f64;
    }
    // 2^k in two factors, each a normal double, so results down to the subnormal range
    // come out right.
    let k = k as i64;
    let pow2 = |k: i64| f64::from_bits(((k + 1023) as u64) << 52);
    sum * pow2(k / 2) * pow2(k - k / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn ln_and_exp_agree_with_std() {
        let mut x = 1e-300;
        while x < 1e300 {
            assert!(
                close(ln(x), x.ln(), 1e-14),
                "ln({x}) = {} vs {}",
                ln(x),
                x.ln()
            );
            x *= 1.37;
        }
        for x in [1.0, 2.0, 0.5, 1.5, 0.999999, 1.000001, 5e-324, f64::MAX] {
            assert!(close(ln(x), x.ln(), 1e-14), "ln({x})");
        }
        let mut x = -700.0;
        while x < 700.0 {
            assert!(close(exp(x), x.exp(), 1e-14), "exp({x})");
            x += 0.731;
        }
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert!(ln(-1.0).is_nan() && ln(0.0) == f64::NEG_INFINITY);
        assert_eq!(exp(1000.0), f64::INFINITY);
        assert_eq!(exp(-1000.0), 0.0);
    }

    #[test]
    fn inverse_normal_matches_known_quantiles() {
        for (u, z) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.841_344_746_068_543, 1.0),
            (0.001, -3.090_232_306_167_813),
            (0.02425, -1.972_961_051_311_884_5),
            (1e-9, -5.997_807_015_007_686),
        ] {
            let got = inverse_normal(u);
            assert!((got - z).abs() < 1e-8, "Φ⁻¹({u}) = {got}, want {z}");
            assert!(
                (inverse_normal(1.0 - u) + z).abs() < 1e-8,
                "symmetry at {u}"
            );
        }
        // Monotone across the region boundaries.
        let mut prev = f64::NEG_INFINITY;
        for i in 1..100_000 {
            let z = inverse_normal(i as f64 / 100_000.0);
            assert!(z > prev);
            prev = z;
        }
    }

    #[test]
    fn shapes_are_standardized_and_clamped() {
        use Distribution::*;
        for d in [Uniform, Normal, Pareto, ParetoNormal] {
            for u in [1e-16, 0.3, 0.5, 0.9, 1.0 - 1e-16] {
                let z = standard_sample(d, u);
                assert!((-4.0..=4.0).contains(&z), "{d:?} {u} {z}");
            }
        }
        // Pareto: at least −2/3, median below the mean (right skew), increasing.
        assert!((standard_sample(Pareto, 1e-16) + 2.0 / 3.0).abs() < 1e-9);
        assert!(standard_sample(Pareto, 0.5) < 0.0);
        assert!(standard_sample(Pareto, 0.99) > 2.0);
        // Means by numerical integration over u.
        let n = 1_000_000;
        let mean = |d| {
            (0..n)
                .map(|i| standard_sample(d, (i as f64 + 0.5) / n as f64))
                .sum::<f64>()
                / n as f64
        };
        assert!(mean(Uniform).abs() < 1e-9);
        assert!(mean(Normal).abs() < 1e-9);
        assert!(mean(Pareto).abs() < 0.05, "{}", mean(Pareto));
        assert!(mean(ParetoNormal).abs() < 0.05, "{}", mean(ParetoNormal));
    }
}
