//! Link changes written as `key=value` words (`topolab link LAB A B set delay=20ms
//! loss=1%`, and scenario `link` steps): parsed with the same unit rules as topology files.
//!
//! Keys: `rate burst queue delay jitter distribution loss loss_correlation duplicate
//! corrupt reorder reorder_gap`. A key applies to both directions unless prefixed with
//! `a_to_b.` or `b_to_a.`. A value of `0` clears nothing: it sets zero (`loss=0%` makes
//! the link lossless); the engine keeps every key not named — also half of a compound
//! setting: `loss=1%` keeps the link's loss correlation, `loss_correlation=25%` its loss
//! probability, and `reorder` / `reorder_gap` likewise ([`LinkChange::apply`]).

use serde::{Deserialize, Serialize};

use super::units::{parse_bytes, parse_delay, parse_percent, parse_queue, parse_rate};
use super::{Distribution, Impairment, Loss, Reorder};

/// One direction's live change: whole settings in `set`, and the halves of the compound
/// ones (random loss, reordering) named without the other half, which the link keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkChange {
    /// Settings replaced whole (loss and reorder only when both their halves are named).
    pub set: Impairment,
    /// `loss=P` alone: the probability of random loss; the correlation stays.
    pub loss: Option<f64>,
    /// `loss_correlation=C` alone: the correlation of the link's random loss.
    pub loss_correlation: Option<f64>,
    /// `reorder=P` alone: the gap stays.
    pub reorder: Option<f64>,
    /// `reorder_gap=N` alone: the probability stays.
    pub reorder_gap: Option<u32>,
}

impl From<Impairment> for LinkChange {
    /// Every setting of `set` replaced whole.
    fn from(set: Impairment) -> LinkChange {
        LinkChange {
            set,
            ..Default::default()
        }
    }
}

impl LinkChange {
    /// `cur` with this change applied; every setting it does not name is kept.
    pub fn apply(&self, cur: &Impairment) -> Result<Impairment, String> {
        let mut new = cur.overlay(&self.set);
        if self.loss.is_some() || self.loss_correlation.is_some() {
            let (p0, c0) = match new.loss {
                Some(Loss::Random { p, correlation }) => (Some(p), correlation),
                _ => (None, 0.0),
            };
            let p = match (self.loss, p0) {
                (Some(p), _) | (None, Some(p)) => p,
                (None, None) => {
                    return Err("the link has no random loss to correlate; give loss=P too".into());
                }
            };
            new.loss = Some(Loss::Random {
                p,
                correlation: self.loss_correlation.unwrap_or(c0),
            });
        }
        if self.reorder.is_some() || self.reorder_gap.is_some() {
            let cur = new.reorder.unwrap_or(Reorder { p: 0.0, gap: 0 });
            new.reorder = Some(Reorder {
                p: self.reorder.unwrap_or(cur.p),
                gap: self.reorder_gap.unwrap_or(cur.gap),
            });
        }
        Ok(new)
    }

    /// What the change sets, for people ("delay 20ms, loss correlation 25%").
    pub fn describe(&self) -> String {
        let pct = |p: f64| format!("{}%", (p * 1e6).round() / 1e4);
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            parts.push(super::describe_impairment(&self.set));
        }
        if let Some(p) = self.loss {
            parts.push(format!("loss {}", pct(p)));
        }
        if let Some(c) = self.loss_correlation {
            parts.push(format!("loss correlation {}", pct(c)));
        }
        if let Some(p) = self.reorder {
            parts.push(format!("reorder {}", pct(p)));
        }
        if let Some(g) = self.reorder_gap {
            parts.push(format!("reorder gap {g}"));
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }

    /// Halves named together become one whole setting.
    fn settle(&mut self) {
        if let (Some(p), Some(correlation)) = (self.loss, self.loss_correlation) {
            self.set.loss = Some(Loss::Random { p, correlation });
            (self.loss, self.loss_correlation) = (None, None);
        }
        if let (Some(p), Some(gap)) = (self.reorder, self.reorder_gap) {
            self.set.reorder = Some(Reorder { p, gap });
            (self.reorder, self.reorder_gap) = (None, None);
        }
    }
}

/// Every key `parse_changes` knows (each may be prefixed `a_to_b.` or `b_to_a.`).
pub const KEYS: [&str; 12] = [
    "rate",
    "burst",
    "queue",
    "delay",
    "jitter",
    "distribution",
    "loss",
    "loss_correlation",
    "duplicate",
    "corrupt",
    "reorder",
    "reorder_gap",
];

/// Both directions' changes: (a→b, b→a).
pub fn parse_changes<S: AsRef<str>>(words: &[S]) -> Result<(LinkChange, LinkChange), String> {
    let mut dirs = (LinkChange::default(), LinkChange::default());
    for w in words {
        let w = w.as_ref();
        let (key, value) = w
            .split_once('=')
            .ok_or_else(|| format!("`{w}`: write key=value, like delay=20ms"))?;
        let (targets, key): (&[usize], &str) = match key.split_once('.') {
            Some(("a_to_b", k)) => (&[0], k),
            Some(("b_to_a", k)) => (&[1], k),
            Some((d, _)) => return Err(format!("`{d}`: directions are a_to_b and b_to_a")),
            None => (&[0, 1], key),
        };
        for &t in targets {
            let c = if t == 0 { &mut dirs.0 } else { &mut dirs.1 };
            apply(c, key, value).map_err(|e| format!("`{w}`: {e}"))?;
        }
    }
    dirs.0.settle();
    dirs.1.settle();
    Ok(dirs)
}

fn apply(c: &mut LinkChange, key: &str, v: &str) -> Result<(), String> {
    let unit = |e: super::units::UnitError| format!("{} ({})", e.message, e.hint);
    let imp = &mut c.set;
    match key {
        "rate" => imp.rate = Some(parse_rate(v).map_err(unit)?),
        "burst" => imp.burst = Some(parse_bytes(v).map_err(unit)?),
        "queue" => imp.queue = Some(parse_queue(v).map_err(unit)?),
        "delay" => imp.delay = Some(parse_delay(v).map_err(unit)?),
        "jitter" => imp.jitter = Some(parse_delay(v).map_err(unit)?),
        "distribution" => {
            imp.distribution = Some(match v {
                "uniform" => Distribution::Uniform,
                "normal" => Distribution::Normal,
                "pareto" => Distribution::Pareto,
                "paretonormal" => Distribution::ParetoNormal,
                _ => return Err("one of uniform, normal, pareto, paretonormal".into()),
            })
        }
        "loss" => {
            // Replaces an earlier whole loss of the same change (its correlation stays).
            if let Some(Loss::Random { correlation, .. }) = imp.loss.take() {
                c.loss_correlation.get_or_insert(correlation);
            }
            c.loss = Some(parse_percent(v).map_err(unit)?);
        }
        "loss_correlation" => {
            if let Some(Loss::Random { p, .. }) = imp.loss.take() {
                c.loss.get_or_insert(p);
            }
            c.loss_correlation = Some(parse_percent(v).map_err(unit)?);
        }
        "duplicate" => imp.duplicate = Some(parse_percent(v).map_err(unit)?),
        "corrupt" => imp.corrupt = Some(parse_percent(v).map_err(unit)?),
        "reorder" => {
            if let Some(r) = imp.reorder.take() {
                c.reorder_gap.get_or_insert(r.gap);
            }
            c.reorder = Some(parse_percent(v).map_err(unit)?);
        }
        "reorder_gap" => {
            if let Some(r) = imp.reorder.take() {
                c.reorder.get_or_insert(r.p);
            }
            c.reorder_gap = Some(v.parse().map_err(|_| "a whole number".to_string())?);
        }
        _ => {
            return Err(
                "unknown key; use rate, burst, queue, delay, jitter, distribution, loss, \
                 loss_correlation, duplicate, corrupt, reorder, reorder_gap"
                    .into(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn both_directions_and_prefixes() {
        let (ab, ba) = parse_changes(&["delay=20ms", "b_to_a.loss=1%", "rate=10Mbit"]).unwrap();
        assert_eq!(ab.set.delay, Some(Duration::from_millis(20)));
        assert_eq!(ba.set.delay, Some(Duration::from_millis(20)));
        assert_eq!((ab.set.loss, ab.loss), (None, None));
        assert_eq!(ba.loss, Some(0.01));
        assert_eq!(ab.set.rate, Some(10_000_000));
    }

    /// The link of issue 8: `loss: {percent: 0.5%, correlation: 25%}`, 20 ms, reorder 1%
    /// every 5th.
    fn configured() -> Impairment {
        Impairment {
            delay: Some(Duration::from_millis(20)),
            loss: Some(Loss::Random {
                p: 0.005,
                correlation: 0.25,
            }),
            reorder: Some(Reorder { p: 0.01, gap: 5 }),
            ..Default::default()
        }
    }

    fn applied(words: &[&str]) -> Result<Impairment, String> {
        parse_changes(words).unwrap().0.apply(&configured())
    }

    #[test]
    fn a_change_keeps_the_half_it_does_not_name() {
        let loss = |p, correlation| Some(Loss::Random { p, correlation });
        // loss=1% keeps the correlation (it was dropped to 0).
        assert_eq!(applied(&["loss=1%"]).unwrap().loss, loss(0.01, 0.25));
        // loss_correlation alone is accepted and keeps the probability (it was refused).
        assert_eq!(
            applied(&["loss_correlation=50%"]).unwrap().loss,
            loss(0.005, 0.5)
        );
        // Both, in either order: both replaced.
        for w in [
            ["loss=2%", "loss_correlation=0%"],
            ["loss_correlation=0%", "loss=2%"],
        ] {
            assert_eq!(applied(&w).unwrap().loss, loss(0.02, 0.0), "{w:?}");
        }
        let r = applied(&["reorder=3%"]).unwrap().reorder.unwrap();
        assert_eq!((r.p, r.gap), (0.03, 5));
        let r = applied(&["reorder_gap=2"]).unwrap().reorder.unwrap();
        assert_eq!((r.p, r.gap), (0.01, 2));
        // Everything not named stays.
        let new = applied(&["rate=1Mbit"]).unwrap();
        assert_eq!(new.delay, Some(Duration::from_millis(20)));
        assert_eq!(new.loss, loss(0.005, 0.25));
        assert_eq!(new.rate, Some(1_000_000));
    }

    #[test]
    fn a_correlation_needs_a_loss_to_correlate() {
        let (c, _) = parse_changes(&["loss_correlation=25%"]).unwrap();
        let e = c.apply(&Impairment::default()).unwrap_err();
        assert!(e.contains("loss=P"), "{e}");
        let (c, _) = parse_changes(&["loss_correlation=25%", "loss=1%"]).unwrap();
        let new = c.apply(&Impairment::default()).unwrap();
        assert_eq!(
            new.loss,
            Some(Loss::Random {
                p: 0.01,
                correlation: 0.25
            })
        );
    }

    #[test]
    fn every_listed_key_is_known() {
        for k in KEYS {
            let e = parse_changes(&[format!("{k}=?")]).unwrap_err();
            assert!(!e.contains("unknown"), "{k}: {e}");
        }
    }

    #[test]
    fn errors_name_the_word() {
        for bad in [
            "delay",
            "delay=10 ms s",
            "colour=red",
            "x_to_y.delay=1ms",
            "loss=150%",
        ] {
            let e = parse_changes(&[bad]).unwrap_err();
            assert!(
                e.starts_with(&format!("`{bad}`")) || e.contains('`'),
                "{bad}: {e}"
            );
        }
    }
}
