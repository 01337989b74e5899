//! The OpenFlow keys of a scenario, checked: the `openflow` step (a flow edit on a
//! switch) and `wait: {openflow: …}` (a switch's controller connection, a controller's
//! switches, a flow present or absent).
//!
//! ```text
//!   - openflow: {node: s1, add: "priority=10,ip,nw_dst=10.0.0.2,actions=output:2"}
//!   - openflow: {node: s1, delete: "ip,nw_dst=10.0.0.2", strict: false}
//!   - wait: {openflow: {node: s1, connected: true}}
//!   - wait: {openflow: {node: c0, switches: 4}}
//!   - wait: {openflow: {node: s1, flow: "ip,nw_dst=10.0.0.2", table: 0, present: true}}
//! ```
//!
//! Flow text is ovs-ofctl's ([`crate::openflow::flowspec`]) and must parse here; an error
//! points at the token. When the topology is known at check time (a file next to the
//! scenario, inline, or the quickstart), the node must exist and be of the right kind.

use serde_saphyr::Spanned;

use super::check::Checker;
use super::model::{Condition, OpenflowStep};
use super::spec::{OPENFLOW_OPS, OpenflowSpec, OpenflowWaitSpec};
use crate::daemon::FlowOp;
use crate::openflow::flowspec::{self, FlowCommand};
use crate::topology::NodeKind;
use crate::topology::spec::span;
use crate::topology::{ErrorKind, Span, TopologyError};

/// The most switches a `switches:` wait may ask for.
const MAX_SWITCHES: u64 = 65_535;

impl Checker<'_> {
    pub(super) fn openflow(
        &mut self,
        o: &Spanned<OpenflowSpec>,
    ) -> Result<OpenflowStep, TopologyError> {
        let s = &o.value;
        let node = self.openflow_node(&s.node, NodeKind::OfSwitch, "an `openflow` step")?;
        let given: Vec<(&str, &Spanned<String>)> = [
            ("add", &s.add),
            ("modify", &s.modify),
            ("delete", &s.delete),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
        let (op, flow) = match given.as_slice() {
            [one] => *one,
            [] => {
                return Err(self
                    .err(
                        ErrorKind::MissingField,
                        span(o),
                        "an `openflow` step needs what to do to the switch's flows",
                    )
                    .with_help(format!(
                        "give one of: {} (e.g. `add: \"ip,nw_dst=10.0.0.2,actions=output:2\"`)",
                        OPENFLOW_OPS.join(", ")
                    )));
            }
            [(first, _), (second, v), ..] => {
                return Err(self
                    .err(
                        ErrorKind::BadStep,
                        span(*v),
                        format!("an `openflow` step does one thing; `{first}` is already given, so `{second}` is a second one"),
                    )
                    .with_help("use one step per operation"));
            }
        };
        let strict = s.strict.as_ref().is_some_and(|v| v.value);
        if let Some(st) = &s.strict
            && op == "add"
        {
            return Err(self
                .err(
                    ErrorKind::BadStep,
                    span(st),
                    "`strict` goes with `modify` and `delete`",
                )
                .with_help(
                    "an add always names one flow (its match and priority); remove `strict`",
                ));
        }
        let command = match (op, strict) {
            ("add", _) => FlowOp::Add,
            ("modify", false) => FlowOp::Modify,
            ("modify", true) => FlowOp::ModifyStrict,
            (_, false) => FlowOp::Delete,
            (_, true) => FlowOp::DeleteStrict,
        };
        self.flow_text(flow, command.command())?;
        Ok(OpenflowStep {
            node,
            command,
            flow: flow.value.clone(),
        })
    }

    pub(super) fn openflow_wait(
        &mut self,
        o: &Spanned<OpenflowWaitSpec>,
    ) -> Result<Condition, TopologyError> {
        let s = &o.value;
        let given: Vec<(&str, Span)> = [
            ("connected", s.connected.as_ref().map(span)),
            ("switches", s.switches.as_ref().map(span)),
            ("flow", s.flow.as_ref().map(span)),
        ]
        .into_iter()
        .filter_map(|(k, at)| at.map(|at| (k, at)))
        .collect();
        match given.as_slice() {
            [] => {
                return Err(self
                    .err(
                        ErrorKind::MissingField,
                        span(o),
                        "`wait: {openflow: …}` needs what to wait for",
                    )
                    .with_help(
                        "give one of: connected (a switch: `connected: true`), switches (a \
                         controller: `switches: 2`), flow (a switch: `flow: \"ip,nw_dst=10.0.0.2\"`)",
                    ));
            }
            [_] => {}
            [(first, _), (second, at), ..] => {
                return Err(self
                    .err(
                        ErrorKind::BadStep,
                        *at,
                        format!("an OpenFlow wait has one condition; `{first}` is already given, so `{second}` is a second one"),
                    )
                    .with_help("use one `wait` step per condition"));
            }
        }
        if s.flow.is_none()
            && let Some((k, at)) = [
                ("table", s.table.as_ref().map(span)),
                ("present", s.present.as_ref().map(span)),
            ]
            .into_iter()
            .find_map(|(k, at)| at.map(|at| (k, at)))
        {
            return Err(self
                .err(ErrorKind::BadStep, at, format!("`{k}` goes with `flow`"))
                .with_help("`{node: s1, flow: \"ip,nw_dst=10.0.0.2\", table: 0, present: true}`"));
        }
        if let Some(c) = &s.connected {
            let node = self.openflow_node(&s.node, NodeKind::OfSwitch, "`connected`")?;
            return Ok(Condition::OpenflowConnected {
                node,
                connected: c.value,
            });
        }
        if let Some(n) = &s.switches {
            let node = self.openflow_node(&s.node, NodeKind::Controller, "`switches`")?;
            let at_least = self.count(n, "switches", 1, MAX_SWITCHES)? as u32;
            return Ok(Condition::OpenflowSwitches { node, at_least });
        }
        let Some(flow) = &s.flow else {
            unreachable!("one of connected, switches, flow is given (checked above)");
        };
        let node = self.openflow_node(&s.node, NodeKind::OfSwitch, "`flow`")?;
        let fm = self.flow_text(flow, FlowCommand::Delete)?;
        let table = match &s.table {
            Some(t) => Some(self.count(t, "table", 0, 254)? as u8),
            None if fm.table_id != crate::openflow::codec::table::ALL => Some(fm.table_id),
            None => None,
        };
        let mut fields: Vec<String> = fm
            .r#match
            .fields
            .iter()
            .map(flowspec::format_field)
            .collect();
        fields.sort();
        fields.dedup();
        Ok(Condition::OpenflowFlow {
            node,
            flow: flow.value.clone(),
            fields,
            table,
            present: s.present.as_ref().is_none_or(|p| p.value),
        })
    }

    /// Flow text that must parse for `command`; the error points at its bad token.
    fn flow_text(
        &self,
        flow: &Spanned<String>,
        command: FlowCommand,
    ) -> Result<crate::openflow::codec::FlowMod, TopologyError> {
        flowspec::parse_flow(&flow.value, command).map_err(|e| {
            let v = &flow.value;
            let at = span(flow);
            let start = e.offset.min(v.len());
            let sub = if v.is_char_boundary(start) {
                let len = e.token.len().clamp(1, (v.len() - start).max(1));
                self.ctx.sub_span(at, v, start, len)
            } else {
                at
            };
            self.err(ErrorKind::BadValue, sub, format!("bad flow: {}", e.message))
                .with_help(
                    "flows are written as for ovs-ofctl: match fields, then `actions=` for \
                     add and modify (`priority=10,ip,nw_dst=10.0.0.2,actions=output:2`); \
                     delete and waits take match fields only",
                )
        })
    }

    /// A node an OpenFlow key names: the name rules, and, when the topology is known, a
    /// node of `kind`. `what` names the key for the message.
    fn openflow_node(
        &self,
        name: &Spanned<String>,
        kind: NodeKind,
        what: &str,
    ) -> Result<String, TopologyError> {
        let node = self.node_name(name)?;
        let Some(kinds) = &self.kinds else {
            return Ok(node);
        };
        let wanted = match kind {
            NodeKind::Controller => "an OpenFlow controller (`kind: controller`)",
            _ => "an OpenFlow switch (`kind: ofswitch`)",
        };
        match kinds.get(&node) {
            None => {
                let help = match crate::topology::names::did_you_mean(
                    &node,
                    kinds.keys().map(String::as_str),
                ) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("{what} names {wanted} of the topology"),
                };
                Err(self
                    .err(
                        ErrorKind::UnknownNode,
                        span(name),
                        format!("unknown node `{node}`"),
                    )
                    .with_help(help))
            }
            Some(k) if *k != kind => Err(self
                .err(
                    ErrorKind::BadValue,
                    span(name),
                    format!("`{node}` is a {}, not {wanted}", k.word()),
                )
                .with_help(format!("{what} names {wanted}"))),
            Some(_) => Ok(node),
        }
    }
}
