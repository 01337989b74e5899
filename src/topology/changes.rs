//! Link changes written as `key=value` words (`topolab link LAB A B set delay=20ms
//! loss=1%`, and scenario `link` steps): parsed with the same unit rules as topology files.
//!
//! Keys: `rate burst queue delay jitter distribution loss loss_correlation duplicate
//! corrupt reorder reorder_gap`. A key applies to both directions unless prefixed with
//! `a_to_b.` or `b_to_a.`. A value of `0` clears nothing: it sets zero (`loss=0%` makes
//! the link lossless); the engine keeps every key not named.

use super::units::{parse_bytes, parse_delay, parse_percent, parse_queue, parse_rate};
use super::{Distribution, Impairment, Loss, Reorder};

/// Both directions' changes: (a→b, b→a).
pub fn parse_changes<S: AsRef<str>>(words: &[S]) -> Result<(Impairment, Impairment), String> {
    let mut dirs = (Impairment::default(), Impairment::default());
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
            let imp = if t == 0 { &mut dirs.0 } else { &mut dirs.1 };
            apply(imp, key, value).map_err(|e| format!("`{w}`: {e}"))?;
        }
    }
    Ok(dirs)
}

fn apply(imp: &mut Impairment, key: &str, v: &str) -> Result<(), String> {
    let unit = |e: super::units::UnitError| format!("{} ({})", e.message, e.hint);
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
            let p = parse_percent(v).map_err(unit)?;
            let correlation = match imp.loss {
                Some(Loss::Random { correlation, .. }) => correlation,
                _ => 0.0,
            };
            imp.loss = Some(Loss::Random { p, correlation });
        }
        "loss_correlation" => {
            let c = parse_percent(v).map_err(unit)?;
            let p = match imp.loss {
                Some(Loss::Random { p, .. }) => p,
                _ => return Err("give loss=P before loss_correlation".into()),
            };
            imp.loss = Some(Loss::Random { p, correlation: c });
        }
        "duplicate" => imp.duplicate = Some(parse_percent(v).map_err(unit)?),
        "corrupt" => imp.corrupt = Some(parse_percent(v).map_err(unit)?),
        "reorder" => {
            let p = parse_percent(v).map_err(unit)?;
            let gap = imp.reorder.map(|r| r.gap).unwrap_or(0);
            imp.reorder = Some(Reorder { p, gap });
        }
        "reorder_gap" => {
            let gap = v.parse().map_err(|_| "a whole number".to_string())?;
            let p = imp.reorder.map(|r| r.p).unwrap_or(0.0);
            imp.reorder = Some(Reorder { p, gap });
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
        assert_eq!(ab.delay, Some(Duration::from_millis(20)));
        assert_eq!(ba.delay, Some(Duration::from_millis(20)));
        assert_eq!(ab.loss, None);
        assert_eq!(
            ba.loss,
            Some(Loss::Random {
                p: 0.01,
                correlation: 0.0
            })
        );
        assert_eq!(ab.rate, Some(10_000_000));
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
