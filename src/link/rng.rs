//! Seeded randomness: one xoshiro256++ stream per impairment stage.
//!
//! Every random choice the pipeline makes comes from a [`Rng`] built here, never from the
//! operating system, so a link's behaviour is a function of its seed and its inputs.
//!
//! ```text
//!   link seed ──┬─ mix(seed ^ mix(tag Loss))      ─▶ SplitMix64 ─▶ 4 words ─▶ xoshiro256++ (loss)
//!               ├─ mix(seed ^ mix(tag Jitter))    ─▶ …                          (jitter)
//!               └─ … Reorder, Duplicate, Corrupt
//! ```
//!
//! Streams are keyed by a stage tag rather than drawn one after another from a single
//! generator, so adding a stage, or changing how many values one stage takes, never moves
//! the values another stage sees. Only integer operations are involved: the streams are
//! bit-identical on every platform.

/// The stages that own a stream. The discriminant is part of the stream's key: never
/// renumber (that would change every recorded scenario).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Loss = 1,
    Jitter = 2,
    Reorder = 3,
    Duplicate = 4,
    Corrupt = 5,
}

/// SplitMix64 (Steele, Lea, Flood 2014): the standard way to expand one 64-bit seed into
/// the 256-bit state of a xoshiro generator.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
}

/// SplitMix64's output function: a bijective 64-bit mixer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xoshiro256++ (Blackman, Vigna 2019): fast, 256 bits of state, passes BigCrush.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The stream of `stage` for a link seeded with `seed`.
    pub(crate) fn stream(seed: u64, stage: Stage) -> Rng {
        // The tag goes through the mixer so that streams of neighbouring seeds and tags do
        // not start from neighbouring SplitMix64 states.
        let mut sm = SplitMix64::new(seed ^ mix(0x746f_706f_6c61_6200 | stage as u64));
        Rng::from_state([sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()])
    }

    fn from_state(s: [u64; 4]) -> Rng {
        // The all-zero state is xoshiro's only fixed point; SplitMix64 cannot produce four
        // zeros in a row, but stay safe for any future caller.
        if s == [0; 4] {
            return Rng { s: [1, 0, 0, 0] };
        }
        Rng { s }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform value in [0, 1) with 53 random bits.
    pub(crate) fn next_f64(&mut self) -> f64 {
        unit(self.next_u64())
    }
}

/// Maps 64 random bits to [0, 1) (the top 53 bits, exactly representable). `unit(x) < p`
/// is then true with probability p for any p in [0, 1]: never for 0, always for 1.
pub(crate) fn unit(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Maps 64 random bits to the open interval (0, 1), for quantile functions that are
/// infinite at 0 and 1: the midpoints of 2^52 equal cells, all exactly representable.
pub(crate) fn open_unit(x: u64) -> f64 {
    ((x >> 12) as f64 + 0.5) * (1.0 / (1u64 << 52) as f64)
}

/// A uniform integer in [0, n) (Lemire's multiply-shift; the bias is below n / 2^64).
pub(crate) fn below(x: u64, n: u64) -> u64 {
    ((u128::from(x) * u128::from(n)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro256pp_matches_the_reference_vectors() {
        // Published outputs of xoshiro256plusplus.c from the state [1, 2, 3, 4].
        let mut rng = Rng::from_state([1, 2, 3, 4]);
        let expected: [u64; 10] = [
            41943041,
            58720359,
            3588806011781223,
            3591011842654386,
            9228616714210784205,
            9973669472204895162,
            14011001112246962877,
            12406186145184390807,
            15849039046786891736,
            10450023813501588000,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
    }

    #[test]
    fn splitmix64_matches_the_reference_vectors() {
        let mut sm = SplitMix64::new(1234567);
        for e in [
            6457827717110365317u64,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ] {
            assert_eq!(sm.next_u64(), e);
        }
    }

    #[test]
    fn streams_depend_on_seed_and_stage() {
        let first = |seed, stage| Rng::stream(seed, stage).next_u64();
        assert_eq!(first(7, Stage::Loss), first(7, Stage::Loss));
        assert_ne!(first(7, Stage::Loss), first(8, Stage::Loss));
        let stages = [
            Stage::Loss,
            Stage::Jitter,
            Stage::Reorder,
            Stage::Duplicate,
            Stage::Corrupt,
        ];
        for (i, a) in stages.iter().enumerate() {
            for b in &stages[i + 1..] {
                assert_ne!(first(7, *a), first(7, *b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn unit_intervals_and_below() {
        assert_eq!(unit(0), 0.0);
        assert!(unit(u64::MAX) < 1.0);
        assert!(open_unit(0) > 0.0);
        assert!(open_unit(u64::MAX) < 1.0);
        assert_eq!(below(u64::MAX, 10), 9);
        assert_eq!(below(0, 10), 0);
        assert_eq!(below(12345, 0), 0);
        let mut rng = Rng::stream(1, Stage::Loss);
        let mean = (0..100_000).map(|_| rng.next_f64()).sum::<f64>() / 100_000.0;
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
    }
}
