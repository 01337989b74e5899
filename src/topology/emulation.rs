//! Link emulation settings: spec impairments (text with units) → model [`Impairment`]s.
//!
//! The keys written on a long-form link apply to both directions; `a_to_b` and `b_to_a`
//! override them key by key (the model's [`Impairment::overlay`]). Checks that concern a
//! whole direction (jitter needs a delay) are made on the *effective* direction, and
//! reported at the jitter that made the direction invalid. Values are parsed by
//! `units.rs`; this module attaches locations and maps a value that parses but is out of
//! range (`150%`, `0mbit`) to [`ErrorKind::BadValue`], one that does not parse to
//! [`ErrorKind::BadUnit`]. A `trace` path is resolved against the topology file's
//! directory and must name a readable regular file that parses as a trace (with the
//! parser `up` uses); the model keeps the resolved path.

use serde_saphyr::Spanned;

use super::check::{Ctx, engine};
use super::error::{ErrorKind, TopologyError};
use super::model::{Distribution, Impairment, LinkEmulation, Loss, Reorder, Span};
use super::spec::{
    DistributionSpec, ImpairmentSpec, LinkLong, LossSpec, ReorderSpec, Scalar, span,
};
use super::units::{self, UnitError};

/// The emulation of one long-form link written at `at`.
pub fn check(long: &LinkLong, at: Span, ctx: &Ctx<'_>) -> Result<LinkEmulation, TopologyError> {
    let both_spec = long.both();
    let empty = ImpairmentSpec::default();
    let a_to_b_spec = long.a_to_b.as_ref().map_or(&empty, |s| &s.value);
    let b_to_a_spec = long.b_to_a.as_ref().map_or(&empty, |s| &s.value);
    let both = impairment(&both_spec, ctx)?;
    let a_to_b = impairment(a_to_b_spec, ctx)?;
    let b_to_a = impairment(b_to_a_spec, ctx)?;
    for (direction, spec, over) in [
        ("a_to_b", a_to_b_spec, &a_to_b),
        ("b_to_a", b_to_a_spec, &b_to_a),
    ] {
        let effective = both.overlay(over);
        if effective.jitter.is_some() && effective.delay.is_none() {
            let jitter = spec
                .jitter
                .as_ref()
                .or(both_spec.jitter.as_ref())
                .expect("jitter was written");
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    span(jitter),
                    format!("jitter without delay (direction {direction})"),
                )
                .with_help(
                    "jitter varies a delay: set `delay` too, on the link or on this direction",
                ));
        }
    }
    Ok(LinkEmulation {
        both,
        a_to_b,
        b_to_a,
        engine: long.engine.as_ref().map(|e| engine(e.value)),
        seed: long.seed,
        span: at,
    })
}

fn impairment(spec: &ImpairmentSpec, ctx: &Ctx<'_>) -> Result<Impairment, TopologyError> {
    let burst = unit(&spec.burst, units::parse_bytes, ctx)?;
    if let (Some(0), Some(b)) = (burst, &spec.burst) {
        return Err(ctx
            .error(
                ErrorKind::BadValue,
                span(b),
                format!("burst `{}` is zero", b.value.0),
            )
            .with_help(
                "a bucket holds at least one packet, like `32KB`; remove `burst` for the default",
            ));
    }
    Ok(Impairment {
        rate: unit(&spec.rate, units::parse_rate, ctx)?,
        burst,
        queue: unit(&spec.queue, units::parse_queue, ctx)?,
        delay: unit(&spec.delay, units::parse_delay, ctx)?,
        jitter: unit(&spec.jitter, units::parse_delay, ctx)?,
        distribution: spec.distribution.as_ref().map(|d| distribution(d.value)),
        loss: spec.loss.as_ref().map(|l| loss(l, ctx)).transpose()?,
        duplicate: unit(&spec.duplicate, units::parse_percent, ctx)?,
        corrupt: unit(&spec.corrupt, units::parse_percent, ctx)?,
        reorder: spec.reorder.as_ref().map(|r| reorder(r, ctx)).transpose()?,
        trace: spec.trace.as_ref().map(|t| trace(t, ctx)).transpose()?,
    })
}

fn unit_error(e: UnitError, at: Span, ctx: &Ctx<'_>) -> TopologyError {
    let kind = if e.out_of_range {
        ErrorKind::BadValue
    } else {
        ErrorKind::BadUnit
    };
    ctx.error(kind, at, e.message).with_help(e.hint)
}

fn unit<T>(
    value: &Option<Spanned<Scalar>>,
    parse: fn(&str) -> Result<T, UnitError>,
    ctx: &Ctx<'_>,
) -> Result<Option<T>, TopologyError> {
    value.as_ref().map(|v| required(v, parse, ctx)).transpose()
}

fn required<T>(
    value: &Spanned<Scalar>,
    parse: fn(&str) -> Result<T, UnitError>,
    ctx: &Ctx<'_>,
) -> Result<T, TopologyError> {
    parse(&value.value.0).map_err(|e| unit_error(e, span(value), ctx))
}

fn distribution(d: DistributionSpec) -> Distribution {
    match d {
        DistributionSpec::Uniform => Distribution::Uniform,
        DistributionSpec::Normal => Distribution::Normal,
        DistributionSpec::Pareto => Distribution::Pareto,
        DistributionSpec::Paretonormal => Distribution::ParetoNormal,
    }
}

fn loss(spec: &Spanned<LossSpec>, ctx: &Ctx<'_>) -> Result<Loss, TopologyError> {
    let long = match &spec.value {
        LossSpec::Short(text) => {
            let p = units::parse_percent(&text.0).map_err(|e| unit_error(e, span(spec), ctx))?;
            return Ok(Loss::Random {
                p,
                correlation: 0.0,
            });
        }
        LossSpec::Long(long) => long,
    };
    let percent = |v: &Option<Spanned<Scalar>>, default: f64| {
        Ok::<_, TopologyError>(unit(v, units::parse_percent, ctx)?.unwrap_or(default))
    };
    match (&long.percent, &long.gilbert_elliott) {
        (Some(p), None) => Ok(Loss::Random {
            p: required(p, units::parse_percent, ctx)?,
            correlation: percent(&long.correlation, 0.0)?,
        }),
        (None, Some(ge)) => {
            if let Some(c) = &long.correlation {
                return Err(ctx
                    .error(
                        ErrorKind::BadValue,
                        span(c),
                        "`correlation` does not apply to gilbert_elliott loss",
                    )
                    .with_help(
                        "correlation goes with `percent`; the two-state model has its own memory",
                    ));
            }
            let ge = &ge.value;
            Ok(Loss::GilbertElliott {
                p: required(&ge.p, units::parse_percent, ctx)?,
                r: required(&ge.r, units::parse_percent, ctx)?,
                bad_loss: percent(&ge.bad_loss, 1.0)?,
                good_loss: percent(&ge.good_loss, 0.0)?,
            })
        }
        (Some(_), Some(ge)) => Err(ctx
            .error(
                ErrorKind::BadValue,
                span(ge),
                "`loss` has both `percent` and `gilbert_elliott`",
            )
            .with_help("choose one loss model")),
        (None, None) => Err(ctx
            .error(
                ErrorKind::MissingField,
                span(spec),
                "`loss` needs `percent` or `gilbert_elliott`",
            )
            .with_help("like `loss: {percent: 1%, correlation: 25%}`, or just `loss: 1%`")),
    }
}

fn reorder(spec: &Spanned<ReorderSpec>, ctx: &Ctx<'_>) -> Result<Reorder, TopologyError> {
    match &spec.value {
        ReorderSpec::Short(text) => {
            let p = units::parse_percent(&text.0).map_err(|e| unit_error(e, span(spec), ctx))?;
            Ok(Reorder { p, gap: 0 })
        }
        ReorderSpec::Long(long) => {
            let gap = match &long.gap {
                None => 0,
                Some(g) => u32::try_from(g.value).map_err(|_| {
                    ctx.error(
                        ErrorKind::BadValue,
                        span(g),
                        format!("gap {} is too large", g.value),
                    )
                    .with_help("gap counts packets, like `gap: 3`")
                })?,
            };
            Ok(Reorder {
                p: required(&long.percent, units::parse_percent, ctx)?,
                gap,
            })
        }
    }
}

fn trace(path: &Spanned<String>, ctx: &Ctx<'_>) -> Result<std::path::PathBuf, TopologyError> {
    let written = path.value.trim();
    if written.is_empty() {
        return Err(ctx
            .error(ErrorKind::BadValue, span(path), "empty `trace` path")
            .with_help("name a Mahimahi trace file, relative to the topology file"));
    }
    let resolved = match ctx.base_dir {
        Some(dir) => dir.join(written),
        None => std::path::PathBuf::from(written),
    };
    let text = match super::input::read_text_file(&resolved) {
        Ok(text) => text,
        Err(super::input::FileProblem::NotFound) => {
            let base = match ctx.base_dir {
                Some(dir) if !dir.as_os_str().is_empty() => format!("`{}`", dir.display()),
                _ => "the current directory".to_string(),
            };
            return Err(ctx
                .error(
                    ErrorKind::MissingFile,
                    span(path),
                    format!("trace file `{written}` not found"),
                )
                .with_help(format!(
                    "looked for `{}`; trace paths are relative to {base}",
                    resolved.display()
                )));
        }
        Err(problem) => {
            return Err(ctx
                .error(
                    ErrorKind::Io,
                    span(path),
                    format!("cannot read trace file `{written}`: {}", problem.reason()),
                )
                .with_help(problem.hint()));
        }
    };
    // The same parser `up` uses: what passes here installs there.
    crate::link::trace::Trace::parse(&text).map_err(|e| {
        ctx.error(
            ErrorKind::BadValue,
            span(path),
            format!("trace file `{written}` is not a delivery trace: {e}"),
        )
        .with_help(
            "a Mahimahi trace has one millisecond timestamp per line, never decreasing, \
             the last one above 0",
        )
    })?;
    Ok(resolved)
}
