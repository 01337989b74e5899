//! The loss stage: decides, for each arriving frame, whether the link loses it.
//!
//! Two models:
//!
//! ```text
//!   Random { p, ρ }   P(lost) = p                 for the first frame
//!                     P(lost | previous lost)     = p + ρ·(1 − p)
//!                     P(lost | previous kept)     = p·(1 − ρ)
//!
//!   Gilbert-Elliott   ┌──────┐  p = P(good→bad)  ┌─────┐
//!                     │ Good │ ────────────────▶ │ Bad │   lost with good_loss in Good,
//!                     │      │ ◀──────────────── │     │   with bad_loss in Bad
//!                     └──────┘  r = P(bad→good)  └─────┘
//! ```
//!
//! Random: with ρ = 0 every frame is lost independently with probability p. With ρ > 0 it
//! is a two-state Markov chain whose stationary loss rate is exactly p (solve
//! π = π(p + ρ(1−p)) + (1−π)p(1−ρ): π = p) and whose lag-1 correlation is ρ, so losses
//! cluster while `loss: {percent: 1%, correlation: 25%}` still loses 1%. This is *not*
//! netem's `get_crandom` formula (v = (1−ρ)·U + ρ·v_prev, lost when v < p): that one squeezes
//! v towards ½ and collapses the observed rate (measured over 10⁶ frames, p = 1% with
//! ρ = 25% lost 0.0004%), which nobody who writes "1% loss" wants.
//!
//! Gilbert-Elliott: the loss decision uses the state the frame finds, then the chain takes
//! one transition (netem's order). The long-run loss rate is
//! π_bad·bad_loss + (1 − π_bad)·good_loss with π_bad = p / (p + r). The chain starts in Good.
//!
//! Each configured model takes a fixed number of words per frame from the loss stream (one
//! for Random, two for Gilbert-Elliott), whatever it decides.

use super::rng::{Rng, unit};
use crate::topology::Loss;

/// A probability from the configuration: NaN counts as 0, anything else is clamped to
/// [0, 1] (so a typo never panics, and p = 1 means always).
pub(crate) fn prob(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}

#[derive(Debug, Clone)]
pub(crate) enum LossModel {
    None,
    Random {
        p: f64,
        rho: f64,
        /// Whether the previous frame was lost (None before the first frame).
        last: Option<bool>,
    },
    GilbertElliott {
        p: f64,
        r: f64,
        bad_loss: f64,
        good_loss: f64,
        bad: bool,
    },
}

impl LossModel {
    pub(crate) fn new(cfg: Option<Loss>) -> LossModel {
        match cfg {
            None => LossModel::None,
            Some(Loss::Random { p, correlation }) => LossModel::Random {
                p: prob(p),
                rho: prob(correlation),
                last: None,
            },
            Some(Loss::GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
            }) => LossModel::GilbertElliott {
                p: prob(p),
                r: prob(r),
                bad_loss: prob(bad_loss),
                good_loss: prob(good_loss),
                bad: false,
            },
        }
    }

    /// New parameters; the model's memory (previous value, chain state) carries over when
    /// the kind of model stays the same.
    pub(crate) fn reconfigure(&mut self, cfg: Option<Loss>) {
        let mut next = LossModel::new(cfg);
        match (&mut next, &*self) {
            (LossModel::Random { last, .. }, LossModel::Random { last: old, .. }) => *last = *old,
            (LossModel::GilbertElliott { bad, .. }, LossModel::GilbertElliott { bad: old, .. }) => {
                *bad = *old
            }
            _ => {}
        }
        *self = next;
    }

    /// True when the model can lose anything at all.
    pub(crate) fn is_active(cfg: Option<Loss>) -> bool {
        match cfg {
            None => false,
            Some(Loss::Random { p, .. }) => prob(p) > 0.0,
            Some(Loss::GilbertElliott {
                bad_loss,
                good_loss,
                ..
            }) => prob(bad_loss) > 0.0 || prob(good_loss) > 0.0,
        }
    }

    /// Decides the fate of one arriving frame: true means lost.
    pub(crate) fn lose(&mut self, rng: &mut Rng) -> bool {
        match self {
            LossModel::None => false,
            LossModel::Random { p, rho, last } => {
                let u = rng.next_f64();
                let threshold = match *last {
                    Some(true) => *p + *rho * (1.0 - *p),
                    Some(false) => *p * (1.0 - *rho),
                    None => *p,
                };
                let lost = u < threshold;
                *last = Some(lost);
                lost
            }
            LossModel::GilbertElliott {
                p,
                r,
                bad_loss,
                good_loss,
                bad,
            } => {
                let (decide, step) = (unit(rng.next_u64()), unit(rng.next_u64()));
                let lost = decide < if *bad { *bad_loss } else { *good_loss };
                *bad = if *bad { step >= *r } else { step < *p };
                lost
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rng::Stage;
    use super::*;

    fn run(cfg: Loss, n: usize, seed: u64) -> Vec<bool> {
        let mut model = LossModel::new(Some(cfg));
        let mut rng = Rng::stream(seed, Stage::Loss);
        (0..n).map(|_| model.lose(&mut rng)).collect()
    }

    /// Mean length of runs of consecutive losses.
    fn mean_burst(lost: &[bool]) -> f64 {
        let bursts = lost.split(|l| !l).filter(|run| !run.is_empty());
        let (count, total) = bursts.fold((0, 0), |(c, t), run| (c + 1, t + run.len()));
        total as f64 / count as f64
    }

    #[test]
    fn random_loss_is_within_the_binomial_bound() {
        let n = 1_000_000.0;
        for p in [0.001, 0.01, 0.1] {
            let lost = run(
                Loss::Random {
                    p,
                    correlation: 0.0,
                },
                n as usize,
                42,
            );
            let k = lost.iter().filter(|l| **l).count() as f64;
            // 99.9% two-sided normal approximation of Binomial(n, p): z = 3.29.
            let bound = 3.29 * (n * p * (1.0 - p)).sqrt();
            assert!(
                (k - n * p).abs() <= bound,
                "p={p}: {k} lost, want {} ± {bound}",
                n * p
            );
        }
    }

    #[test]
    fn correlation_lengthens_bursts() {
        let n = 1_000_000;
        let independent = run(
            Loss::Random {
                p: 0.3,
                correlation: 0.0,
            },
            n,
            7,
        );
        let correlated = run(
            Loss::Random {
                p: 0.3,
                correlation: 0.5,
            },
            n,
            7,
        );
        let rate = |l: &[bool]| l.iter().filter(|x| **x).count() as f64 / l.len() as f64;
        // Independent losses at rate q have geometric bursts of mean 1/(1−q).
        let (q0, q1) = (rate(&independent), rate(&correlated));
        assert!((mean_burst(&independent) - 1.0 / (1.0 - q0)).abs() < 0.02);
        assert!(
            mean_burst(&correlated) > 1.2 / (1.0 - q1),
            "correlated bursts {} vs independent {} at the same rate {q1}",
            mean_burst(&correlated),
            1.0 / (1.0 - q1)
        );
        // Unlike netem's formula, the chain keeps the configured average.
        assert!((q1 - 0.3).abs() < 0.005, "correlated loss rate {q1}");
        assert!((q0 - 0.3).abs() < 0.005, "independent loss rate {q0}");
    }

    #[test]
    fn gilbert_elliott_matches_the_stationary_loss_rate() {
        for (p, r, bad_loss, good_loss) in [(0.01, 0.3, 0.8, 0.001), (0.05, 0.5, 1.0, 0.0)] {
            let lost = run(
                Loss::GilbertElliott {
                    p,
                    r,
                    bad_loss,
                    good_loss,
                },
                1_000_000,
                3,
            );
            let observed = lost.iter().filter(|l| **l).count() as f64 / lost.len() as f64;
            let pi_bad = p / (p + r);
            let expected = pi_bad * bad_loss + (1.0 - pi_bad) * good_loss;
            assert!(
                (observed - expected).abs() < 0.05 * expected,
                "observed {observed}, stationary {expected}"
            );
            // Bad sojourns last 1/r frames on average: losses come in bursts.
            assert!(mean_burst(&lost) > 1.3);
        }
    }

    #[test]
    fn extreme_probabilities_never_panic() {
        let all = |cfg| run(cfg, 1000, 1);
        assert!(
            all(Loss::Random {
                p: 1.0,
                correlation: 1.0
            })
            .iter()
            .all(|l| *l)
        );
        assert!(
            !all(Loss::Random {
                p: 0.0,
                correlation: 0.0
            })
            .iter()
            .any(|l| *l)
        );
        assert!(
            !all(Loss::Random {
                p: f64::NAN,
                correlation: f64::NAN
            })
            .iter()
            .any(|l| *l)
        );
        assert!(
            all(Loss::Random {
                p: 7.0,
                correlation: -3.0
            })
            .iter()
            .all(|l| *l)
        );
        let stuck_good = Loss::GilbertElliott {
            p: 0.0,
            r: 0.0,
            bad_loss: 1.0,
            good_loss: 0.0,
        };
        assert!(!all(stuck_good).iter().any(|l| *l));
    }

    #[test]
    fn reconfigure_keeps_the_chain_state() {
        let ge = |p| Loss::GilbertElliott {
            p,
            r: 0.0,
            bad_loss: 1.0,
            good_loss: 0.0,
        };
        let mut model = LossModel::new(Some(ge(1.0)));
        let mut rng = Rng::stream(1, Stage::Loss);
        assert!(!model.lose(&mut rng)); // Good, then moves to Bad for good (r = 0)
        model.reconfigure(Some(ge(0.0)));
        assert!(model.lose(&mut rng), "still in Bad after reconfigure");
        model.reconfigure(Some(Loss::Random {
            p: 0.0,
            correlation: 0.0,
        }));
        assert!(!model.lose(&mut rng));
    }
}
