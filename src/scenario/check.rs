//! [`ScenarioSpec`] → [`Scenario`]: defaults, units, the one-action rule, and every check
//! that needs no lab.
//!
//! ```text
//!   name ─▶ topology (path: exists and loads; inline: cut out, parsed, checked)
//!   ─▶ seed ─▶ timeout ─▶ steps, in file order, depth first:
//!        one action? ─▶ action (actions.rs) + its expectations (expect.rs)
//!        ─▶ `expect`/`during` allowed here? ─▶ events (`at` inside the step) ─▶ name
//! ```
//!
//! The first mistake stops the check, as for topologies, and every error points at the
//! offending value (a step with no action or two points at the step). What is *not*
//! checked here, because only a running lab knows: node names exist, `${…}` references
//! resolve, interfaces exist. Their syntax is checked (`refs.rs`, topology name rules).
//!
//! Captures are followed in file order: `stop` must name a capture started earlier and
//! not yet stopped, and a capture cannot be started twice without a stop between. That
//! is a static approximation (branches of `parallel` are read in order), good enough to
//! catch typos in names.
//!
//! Durations here also accept minutes and hours (`5m`, `1.5h`): scenario time limits are
//! long, link delays are not, so the topology's units stay as they are.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::Spanned;

use super::inline::blank_outside;
use super::model::{Action, Exec, ExecExpect, Scenario, Step, Timed, TopologyRef};
use super::refs::parse_template;
use super::spec::{ACTIONS, EVENT_ACTIONS, ScenarioSpec, StepSpec, TimedSpec, TopologySpec};
use crate::topology::NodeKind;
use crate::topology::check::Ctx;
use crate::topology::spec::{Scalar, loc_span, span};
use crate::topology::units::{UnitError, parse_duration, parse_percent, parse_rate};
use crate::topology::{ErrorKind, Limits, Source, Span, Topology, TopologyError};

/// Default limit of a whole scenario.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Actions that may carry `expect:` / `during:`.
const EXPECTING: &[&str] = &["ping", "pingall", "throughput", "exec"];
const TIMELINE: &[&str] = &["throughput", "ping", "sleep", "exec", "wait"];

/// Checking state: the file, and the captures running at this point of the file.
pub struct Checker<'a> {
    pub(super) ctx: Ctx<'a>,
    /// Capture name → line of its `start`.
    captures: HashMap<String, u32>,
    limits: Limits,
    /// The topology's nodes and their kinds, when it is known here (a file found through
    /// the scenario's directory, inline, or the quickstart): `openflow` keys are checked
    /// against them.
    pub(super) kinds: Option<HashMap<String, NodeKind>>,
}

/// Checks a parsed scenario. `base_dir` is the scenario file's directory (`None` when it
/// came from text: then a topology path is not opened here).
/// Its topology is checked within `limits`.
pub fn check(
    spec: ScenarioSpec,
    source: Source,
    base_dir: Option<&Path>,
    limits: Limits,
) -> Result<Scenario, TopologyError> {
    let mut c = Checker {
        ctx: Ctx {
            source: &source,
            base_dir,
        },
        captures: HashMap::new(),
        limits,
        kinds: None,
    };
    let name = spec.name.value.trim().to_string();
    if name.is_empty() {
        return Err(c
            .err(ErrorKind::BadName, span(&spec.name), "empty scenario name")
            .with_help("name the scenario, like `name: failover`; reports show it"));
    }
    let topology = match &spec.topology {
        None => {
            c.kinds = Some(node_kinds(&Topology::quickstart()));
            TopologyRef::Quickstart
        }
        Some(t) => {
            let (r, topo) = c.topology(t)?;
            c.kinds = topo.as_ref().map(node_kinds);
            r
        }
    };
    let timeout = match &spec.timeout {
        Some(t) => c.positive_duration(t, "the scenario's timeout")?,
        None => DEFAULT_TIMEOUT,
    };
    let steps = c.step_list(&spec.steps, "steps")?;
    Ok(Scenario {
        name,
        topology,
        seed: spec.seed,
        timeout,
        steps,
        source: source.clone(),
    })
}

impl Checker<'_> {
    pub(super) fn err(
        &self,
        kind: ErrorKind,
        at: Span,
        message: impl Into<String>,
    ) -> TopologyError {
        self.ctx.error(kind, at, message)
    }

    fn topology(
        &self,
        t: &Spanned<TopologySpec>,
    ) -> Result<(TopologyRef, Option<Topology>), TopologyError> {
        let at = span(t);
        match &t.value {
            TopologySpec::Path(p) if p.trim().is_empty() => Err(self
                .err(ErrorKind::BadValue, at, "empty topology path")
                .with_help("give a path like `../topologies/quickstart.yaml`, or remove `topology:` for the quickstart lab")),
            TopologySpec::Path(p) => {
                let path = PathBuf::from(p);
                let mut topo = None;
                if let Some(dir) = self.ctx.base_dir {
                    let full = dir.join(&path);
                    if !full.exists() {
                        return Err(self
                            .err(
                                ErrorKind::MissingFile,
                                at,
                                format!("topology file `{}` not found", full.display()),
                            )
                            .with_help(
                                "the path is relative to the scenario file's directory",
                            ));
                    }
                    topo = Some(Topology::load_with(&full, self.limits)?);
                }
                Ok((TopologyRef::File(path), topo))
            }
            TopologySpec::Inline => {
                // Where the mapping is written (through an alias: the anchored original).
                let start = loc_span(&t.defined).offset;
                let text = blank_outside(&self.ctx.source.text, start).ok_or_else(|| {
                    self.err(
                        ErrorKind::Syntax,
                        at,
                        "cannot tell where this inline topology ends",
                    )
                    .with_help(
                        "write it as an indented block under `topology:`, or as one `{…}` mapping",
                    )
                })?;
                let source = Source {
                    name: self.ctx.source.name.clone(),
                    text: text.as_str().into(),
                };
                let spec = crate::topology::parse::parse_with(&source, self.limits)?;
                let topo = crate::topology::check::check_with(
                    spec,
                    source,
                    self.ctx.base_dir,
                    self.limits,
                )?;
                Ok((TopologyRef::Inline(text), Some(topo)))
            }
        }
    }

    /// A non-empty list of steps (`steps:`, `parallel:`, `repeat.steps`).
    pub(super) fn step_list(
        &mut self,
        list: &Spanned<Vec<Spanned<StepSpec>>>,
        key: &str,
    ) -> Result<Vec<Step>, TopologyError> {
        if list.value.is_empty() {
            return Err(self
                .err(ErrorKind::BadValue, span(list), format!("`{key}` is empty"))
                .with_help(format!(
                    "list at least one step under `{key}:`, like `- sleep: 1s`"
                )));
        }
        list.value.iter().map(|s| self.step(s)).collect()
    }

    fn step(&mut self, s: &Spanned<StepSpec>) -> Result<Step, TopologyError> {
        let at = span(s);
        let spec = &s.value;
        let key = self.one_action(at, &step_actions(spec), ACTIONS, "step")?;
        let timeout = spec
            .timeout
            .as_ref()
            .map(|t| self.positive_duration(t, "a step's timeout"))
            .transpose()?;
        if let Some(expect) = &spec.expect
            && !EXPECTING.contains(&key)
        {
            return Err(self
                .err(
                    ErrorKind::BadStep,
                    span(expect),
                    format!("`expect` is not valid on a `{key}` step"),
                )
                .with_help("expectations go on ping, pingall, throughput and exec steps"));
        }
        if let Some(during) = &spec.during
            && !TIMELINE.contains(&key)
        {
            return Err(self
                .err(
                    ErrorKind::BadStep,
                    span(during),
                    format!("`during` is not valid on a `{key}` step"),
                )
                .with_help(
                    "timeline events run inside throughput, ping, sleep, exec and wait steps; \
                     make this a separate step, or put it in a `sleep` step's `during`",
                ));
        }
        let action = self.action(spec, key, at)?;
        let mut during = Vec::new();
        for event in spec.during.iter().flat_map(|d| &d.value) {
            during.push(self.event(event, timeout, &action)?);
        }
        let name = match &spec.name {
            Some(n) if n.value.trim().is_empty() => {
                return Err(self
                    .err(ErrorKind::BadName, span(n), "empty step name")
                    .with_help("remove `name:` to get a summary of the action as the name"));
            }
            Some(n) => n.value.clone(),
            None => action.summary(),
        };
        Ok(Step {
            name,
            timeout,
            continue_on_failure: spec.continue_on_failure.unwrap_or(false),
            during,
            action,
            span: at,
        })
    }

    /// The one action key present, or an error at `at` (zero or several).
    fn one_action(
        &self,
        at: Span,
        present: &[&'static str],
        all: &[&str],
        what: &str,
    ) -> Result<&'static str, TopologyError> {
        match present {
            [one] => Ok(one),
            [] => Err(self
                .err(ErrorKind::BadStep, at, format!("this {what} has no action"))
                .with_help(format!("give it exactly one of: {}", all.join(", ")))),
            [first, second, ..] => Err(self
                .err(
                    ErrorKind::BadStep,
                    at,
                    format!(
                        "a {what} has exactly one action; this one has `{first}` and `{second}`"
                    ),
                )
                .with_help(format!(
                    "split it into one {what} per action (a new `- ` list item each); \
                     actions: {}",
                    all.join(", ")
                ))),
        }
    }

    fn action(&mut self, spec: &StepSpec, key: &str, at: Span) -> Result<Action, TopologyError> {
        let expect = spec.expect.as_ref();
        Ok(match key {
            "ping" => Action::Ping(self.ping(self.req(&spec.ping, at)?, expect)?),
            "pingall" => {
                let p = self.req(&spec.pingall, at)?;
                Action::Pingall(self.pingall(p.value.as_ref(), expect)?)
            }
            "throughput" => {
                Action::Throughput(self.throughput(self.req(&spec.throughput, at)?, expect)?)
            }
            "exec" => {
                let mut exec = self.exec(self.req(&spec.exec, at)?)?;
                exec.expect = self.exec_expect(expect)?;
                Action::Exec(exec)
            }
            "link" => Action::Link(self.link(self.req(&spec.link, at)?)?),
            "node" => Action::Node(self.node(self.req(&spec.node, at)?)?),
            "wait" => Action::Wait(self.wait(self.req(&spec.wait, at)?)?),
            "capture" => Action::Capture(self.capture(self.req(&spec.capture, at)?)?),
            "openflow" => Action::Openflow(self.openflow(self.req(&spec.openflow, at)?)?),
            "bgp" => Action::Bgp(self.bgp(self.req(&spec.bgp, at)?)?),
            "sleep" => Action::Sleep(self.duration(self.req(&spec.sleep, at)?)?),
            "parallel" => {
                Action::Parallel(self.step_list(self.req(&spec.parallel, at)?, "parallel")?)
            }
            _ => {
                let r = self.req(&spec.repeat, at)?;
                let times = self.count(&r.value.times, "times", 1, 1_000_000)? as u32;
                let steps = self.step_list(&r.value.steps, "steps")?;
                Action::Repeat { times, steps }
            }
        })
    }

    fn event(
        &mut self,
        e: &Spanned<TimedSpec>,
        step_timeout: Option<Duration>,
        step: &Action,
    ) -> Result<Timed, TopologyError> {
        let spec = &e.value;
        let present: Vec<&'static str> = [
            ("link", spec.link.is_some()),
            ("node", spec.node.is_some()),
            ("exec", spec.exec.is_some()),
            ("capture", spec.capture.is_some()),
            ("openflow", spec.openflow.is_some()),
            ("bgp", spec.bgp.is_some()),
            ("sleep", spec.sleep.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        let at = span(e);
        let key = self.one_action(at, &present, EVENT_ACTIONS, "`during` event")?;
        let offset = self.duration(&spec.at)?;
        let at_span = span(&spec.at);
        if let Some(limit) = step_timeout
            && offset > limit
        {
            return Err(self
                .err(
                    ErrorKind::BadValue,
                    at_span,
                    format!(
                        "`at: {}` is after this step's timeout ({})",
                        spec.at.value.0,
                        super::summary::fmt_duration(limit)
                    ),
                )
                .with_help("events run while their step runs: move it earlier or raise the step's `timeout`"));
        }
        if let Some((length, what)) = step_length(step)
            && offset > length
        {
            return Err(self
                .err(
                    ErrorKind::BadValue,
                    at_span,
                    format!(
                        "`at: {}` is after the step ends ({what} lasts {})",
                        spec.at.value.0,
                        super::summary::fmt_duration(length)
                    ),
                )
                .with_help(
                    "events run while their step runs: move it earlier or make the step longer",
                ));
        }
        let action = match key {
            "link" => Action::Link(self.link(self.req(&spec.link, at)?)?),
            "node" => Action::Node(self.node(self.req(&spec.node, at)?)?),
            "exec" => {
                // An event's command runs for its effect; its outcome is not checked.
                let exec = self.exec(self.req(&spec.exec, at)?)?;
                Action::Exec(Exec {
                    expect: ExecExpect::default(),
                    ..exec
                })
            }
            "capture" => Action::Capture(self.capture(self.req(&spec.capture, at)?)?),
            "openflow" => Action::Openflow(self.openflow(self.req(&spec.openflow, at)?)?),
            "bgp" => Action::Bgp(self.bgp(self.req(&spec.bgp, at)?)?),
            _ => Action::Sleep(self.duration(self.req(&spec.sleep, at)?)?),
        };
        Ok(Timed {
            at: offset,
            action,
            span: at,
        })
    }

    /// The value of an action key `one_action` found present. `None` cannot happen; it
    /// is reported like a step without an action rather than with a panic.
    fn req<'v, T>(&self, v: &'v Option<T>, at: Span) -> Result<&'v T, TopologyError> {
        v.as_ref().ok_or_else(|| {
            self.err(ErrorKind::BadStep, at, "this step has no action")
                .with_help(format!("give it exactly one of: {}", ACTIONS.join(", ")))
        })
    }

    // ---- values shared by the actions -------------------------------------------------

    fn unit_error(&self, e: UnitError, at: Span) -> TopologyError {
        let kind = if e.out_of_range {
            ErrorKind::BadValue
        } else {
            ErrorKind::BadUnit
        };
        self.err(kind, at, e.message).with_help(e.hint)
    }

    /// A duration, with minutes and hours allowed (`20s`, `500ms`, `5m`, `1h`).
    pub(super) fn duration(&self, s: &Spanned<Scalar>) -> Result<Duration, TopologyError> {
        parse_long_duration(&s.value.0).map_err(|e| self.unit_error(e, span(s)))
    }

    /// A duration above zero; `what` names it for the message.
    pub(super) fn positive_duration(
        &self,
        s: &Spanned<Scalar>,
        what: &str,
    ) -> Result<Duration, TopologyError> {
        let d = self.duration(s)?;
        if d.is_zero() {
            return Err(self
                .err(ErrorKind::BadValue, span(s), format!("{what} is zero"))
                .with_help("give a duration above zero, like `500ms` or `20s`"));
        }
        Ok(d)
    }

    pub(super) fn rate(&self, s: &Spanned<Scalar>) -> Result<u64, TopologyError> {
        parse_rate(&s.value.0).map_err(|e| self.unit_error(e, span(s)))
    }

    pub(super) fn percent(&self, s: &Spanned<Scalar>) -> Result<f64, TopologyError> {
        parse_percent(&s.value.0).map_err(|e| self.unit_error(e, span(s)))
    }

    /// A whole number in `min..=max`; `key` names it for the message.
    pub(super) fn count(
        &self,
        n: &Spanned<u64>,
        key: &str,
        min: u64,
        max: u64,
    ) -> Result<u64, TopologyError> {
        if (min..=max).contains(&n.value) {
            return Ok(n.value);
        }
        Err(self
            .err(
                ErrorKind::BadValue,
                span(n),
                format!("`{key}: {}` is out of range", n.value),
            )
            .with_help(format!("`{key}` is between {min} and {max}")))
    }

    /// A string that may hold `${…}` references: their syntax is checked, not resolved.
    pub(super) fn template(&self, value: &str, at: Span) -> Result<String, TopologyError> {
        parse_template(value).map_err(|e| {
            let sub = self.ctx.sub_span(at, value, e.offset, e.len);
            self.err(ErrorKind::BadReference, sub, e.message)
                .with_help(e.hint)
        })?;
        Ok(value.to_string())
    }

    /// Records a capture start (error if it is already running).
    pub(super) fn capture_started(&mut self, name: &str, at: Span) -> Result<(), TopologyError> {
        if let Some(line) = self.captures.get(name) {
            return Err(self
                .err(
                    ErrorKind::DuplicateName,
                    at,
                    format!("capture `{name}` is already running (started on line {line})"),
                )
                .with_help(format!(
                    "stop it first (`capture: {{stop: {name}}}`) or give this one another name"
                )));
        }
        self.captures.insert(name.to_string(), at.line);
        Ok(())
    }

    /// Records a capture stop (error if it is not running).
    pub(super) fn capture_stopped(&mut self, name: &str, at: Span) -> Result<(), TopologyError> {
        if self.captures.remove(name).is_none() {
            let running: Vec<&str> = self.captures.keys().map(String::as_str).collect();
            let help = match crate::topology::names::did_you_mean(name, running.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!(
                    "start it in an earlier step: `capture: {{start: {name}, iface: h1:eth0}}`"
                ),
            };
            return Err(self
                .err(
                    ErrorKind::BadValue,
                    at,
                    format!("capture `{name}` is not running here"),
                )
                .with_help(help));
        }
        Ok(())
    }
}

fn node_kinds(t: &Topology) -> HashMap<String, NodeKind> {
    t.nodes.iter().map(|n| (n.name.clone(), n.kind)).collect()
}

/// The action keys written in a step, in [`ACTIONS`] order.
fn step_actions(s: &StepSpec) -> Vec<&'static str> {
    [
        s.ping.is_some(),
        s.pingall.is_some(),
        s.throughput.is_some(),
        s.exec.is_some(),
        s.link.is_some(),
        s.node.is_some(),
        s.wait.is_some(),
        s.capture.is_some(),
        s.openflow.is_some(),
        s.bgp.is_some(),
        s.sleep.is_some(),
        s.parallel.is_some(),
        s.repeat.is_some(),
    ]
    .into_iter()
    .zip(ACTIONS)
    .filter_map(|(on, key)| on.then_some(*key))
    .collect()
}

/// How long a step runs when that is known from its action alone.
fn step_length(action: &Action) -> Option<(Duration, &'static str)> {
    match action {
        Action::Throughput(t) => Some((t.duration, "the transfer")),
        Action::Sleep(d) => Some((*d, "the sleep")),
        Action::Ping(p) => Some((p.interval.saturating_mul(p.count), "the ping")),
        _ => None,
    }
}

const LONG_DURATION_HINT: &str =
    "use ns, us (or µs), ms, s, m (minutes) or h, like `500ms`, `20s` or `5m`";

/// [`parse_duration`] plus `m`/`min` (minutes) and `h` (hours).
pub fn parse_long_duration(s: &str) -> Result<Duration, UnitError> {
    let t = s.trim();
    for (suffix, secs) in [("min", 60u32), ("m", 60), ("h", 3600)] {
        let Some(number) = t.strip_suffix(suffix) else {
            continue;
        };
        if !number.trim_end().ends_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let base = parse_duration(&format!("{}s", number.trim_end())).map_err(|e| UnitError {
            message: e.message.replace(&format!("{}s", number.trim_end()), s),
            ..e
        })?;
        return base.checked_mul(secs).ok_or_else(|| UnitError {
            message: format!("duration `{s}` is too large"),
            hint: LONG_DURATION_HINT.into(),
            out_of_range: true,
        });
    }
    parse_duration(t).map_err(|e| {
        if e.out_of_range {
            e
        } else {
            UnitError {
                hint: LONG_DURATION_HINT.into(),
                ..e
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_durations() {
        assert_eq!(parse_long_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_long_duration("1.5min").unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            parse_long_duration("2 h").unwrap(),
            Duration::from_secs(7200)
        );
        assert_eq!(
            parse_long_duration("5ms").unwrap(),
            Duration::from_millis(5)
        );
        assert_eq!(parse_long_duration("20s").unwrap(), Duration::from_secs(20));
        let e = parse_long_duration("5mm").unwrap_err();
        assert!(e.message.contains("unknown unit"), "{}", e.message);
        assert!(e.hint.contains("m (minutes)"));
        let e = parse_long_duration("20").unwrap_err();
        assert!(e.message.contains("missing unit"));
        assert!(
            parse_long_duration("99999999999999h")
                .unwrap_err()
                .out_of_range
        );
        assert!(parse_long_duration("m").is_err());
    }
}
