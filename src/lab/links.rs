//! Links of a running lab: the relays of userspace links, the shapers of kernel links, and
//! the live operations (`down`, `up`, `set`) that `topolab link` and the library perform.
//!
//! A `set` overlays the given parameters on the link's current ones, direction by
//! direction, so a change never loses the link's other settings (Mininet #1127). The
//! engine stays the one chosen at `up`: a userspace link takes any change in place (its
//! queue, RNG streams and counters survive); a kernel link takes rate, burst and queue
//! changes (the tbf is changed in place); a plain veth has nothing to change — give it an
//! engine in the topology to shape it live.

use std::collections::BTreeMap;
use std::io;

use serde::{Deserialize, Serialize};

use crate::compile::{EngineChoice, IfaceRef, LinkPlan, Plan, ShaperPlan, emulation};
use crate::link::kernel;
use crate::link::port::{PacketPort, PortOptions};
use crate::link::relay::{DirectionConfig, Relay};
use crate::link::{Counters, Trace};
use crate::netlink::{Netlink, Op};
use crate::netns;
use crate::topology::Impairment;
use crate::topology::changes::LinkChange;

use super::LabError;

/// What to do to a link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkAction {
    Down,
    Up,
    /// Changes to each direction's current parameters (what they do not name stays).
    Set {
        a_to_b: Box<LinkChange>,
        b_to_a: Box<LinkChange>,
    },
}

impl LinkAction {
    /// `Set` from per-direction overlays, as [`parse_changes`] returns them.
    ///
    /// [`parse_changes`]: crate::topology::changes::parse_changes
    pub fn set((a_to_b, b_to_a): (LinkChange, LinkChange)) -> LinkAction {
        LinkAction::Set {
            a_to_b: Box::new(a_to_b),
            b_to_a: Box::new(b_to_a),
        }
    }

    /// `Set` with the same overlay on both directions (each setting replaced whole).
    pub fn set_both(imp: Impairment) -> LinkAction {
        LinkAction::set((imp.clone().into(), imp.into()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkStatus {
    pub link: usize,
    /// "node:iface" of each end.
    pub a: String,
    pub b: String,
    pub engine: EngineChoice,
    pub reason: String,
    pub up: bool,
    pub a_to_b: Impairment,
    pub b_to_a: Impairment,
    /// What each direction's engine did: the relay's counters (userspace), or the tbf's
    /// passed and queue-dropped counts (kernel).
    pub counters_a_to_b: Option<Counters>,
    pub counters_b_to_a: Option<Counters>,
}

struct LinkState {
    a_to_b: Impairment,
    b_to_a: Impairment,
    up: bool,
    /// Kernel links: the shaper of each direction (0: at b for a→b, 1: at a for b→a),
    /// and whether its IFB device exists.
    shapers: [Option<ShaperPlan>; 2],
    ifb_made: [bool; 2],
    /// Kernel links: how many times each direction's tbf was replaced (which picks the
    /// handle of the next replacement).
    replaced: [u16; 2],
    per_packet: bool,
}

pub struct Links {
    states: Vec<LinkState>,
    relays: BTreeMap<usize, Relay>,
}

/// An end of a link as `node:iface` (what `find` and the control socket's `Link` take).
pub fn label(plan: &Plan, r: IfaceRef) -> String {
    format!("{}:{}", plan.nodes[r.node].name, plan.iface(r).name)
}

/// End `a` (else `b`) of link `l` as (node, iface): in a shard's sub-plan, the far end of
/// a cross-shard link is named after the node on the other shard.
fn end_names<'p>(plan: &'p Plan, l: &LinkPlan, a: bool) -> (&'p str, &'p str) {
    match plan.vxlan_of(l.link) {
        Some(v) if v.remote_is_a == a => (&v.peer_node, &v.peer_iface),
        _ => {
            let r = if a { l.a } else { l.b };
            (&plan.nodes[r.node].name, &plan.iface(r).name)
        }
    }
}

fn end_label(plan: &Plan, l: &LinkPlan, a: bool) -> String {
    let (n, i) = end_names(plan, l, a);
    format!("{n}:{i}")
}

/// Whether direction `dir` (0: a→b, 1: b→a) of link `l` is emulated on this shard (always,
/// in a whole lab): the kernel engine shapes at the receiving end, the userspace relay
/// impairs before encapsulation, on the sending end's shard.
fn applied_here(plan: &Plan, l: &LinkPlan, dir: usize) -> bool {
    let sender_is_a = dir == 0;
    match l.engine {
        EngineChoice::Userspace => plan.end_is_local(l.link, sender_is_a),
        EngineChoice::Plain | EngineChoice::Kernel => plan.end_is_local(l.link, !sender_is_a),
    }
}

fn load_trace(imp: &Impairment) -> Result<Option<Trace>, LabError> {
    let Some(path) = &imp.trace else {
        return Ok(None);
    };
    let text = crate::topology::input::read_text_file(path).map_err(|e| LabError::Kernel {
        what: format!("read trace {}", path.display()),
        source: io::Error::other(e.reason()),
    })?;
    Trace::parse(&text).map(Some).map_err(|e| LabError::Kernel {
        what: format!("trace {}", path.display()),
        source: io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
    })
}

impl Links {
    /// Starts the relays of userspace links (after apply made the fabric namespace).
    pub fn start(plan: &Plan) -> Result<Links, LabError> {
        let mut states = Vec::with_capacity(plan.links.len());
        for l in &plan.links {
            let shaper = |to: IfaceRef| {
                plan.nodes[to.node]
                    .shapers
                    .iter()
                    .find(|s| s.link == l.link && s.ifindex == plan.iface(to).ifindex)
                    .cloned()
            };
            // On a shard, only the shaper of traffic arriving at a local end.
            let shapers = [
                shaper(l.b).filter(|_| applied_here(plan, l, 0)),
                shaper(l.a).filter(|_| applied_here(plan, l, 1)),
            ];
            states.push(LinkState {
                a_to_b: l.a_to_b.clone(),
                b_to_a: l.b_to_a.clone(),
                up: true,
                ifb_made: [shapers[0].is_some(), shapers[1].is_some()],
                replaced: [0; 2],
                shapers,
                per_packet: l.relay.is_some_and(|r| r.per_packet),
            });
        }
        let mut relays = BTreeMap::new();
        let relayed: Vec<&LinkPlan> = plan.links.iter().filter(|l| l.relay.is_some()).collect();
        if let Some(first) = relayed.first() {
            let fabric = &plan.nodes[first.relay.expect("filtered").a.node];
            let ns = netns::open(&fabric.netns).map_err(|e| LabError::Kernel {
                what: format!("open namespace {}", fabric.netns),
                source: e,
            })?;
            // Sockets are made inside the fabric namespace, on a thread made for that.
            let ends: Vec<(u32, u32)> = relayed
                .iter()
                .map(|l| {
                    let r = l.relay.expect("filtered");
                    (plan.iface(r.a).ifindex, plan.iface(r.b).ifindex)
                })
                .collect();
            let sockets = netns::run_in(ns, move || {
                ends.into_iter()
                    .map(|(a, b)| {
                        let o = PortOptions::default();
                        Ok((PacketPort::open(a, &o)?, PacketPort::open(b, &o)?))
                    })
                    .collect::<io::Result<Vec<_>>>()
            })
            .map_err(|e| LabError::Kernel {
                what: "open relay sockets in the fabric namespace".into(),
                source: e,
            })?;
            for (l, (sa, sb)) in relayed.into_iter().zip(sockets) {
                // A direction the other shard impairs is not relayed here: the kernel
                // passes it (a tc redirect that apply set up on the VXLAN port).
                let cfg = |dir, imp: &Impairment, seed| -> Result<_, LabError> {
                    if !applied_here(plan, l, dir) {
                        return Ok(None);
                    }
                    Ok(Some(DirectionConfig {
                        impairment: imp.clone(),
                        trace: load_trace(imp)?,
                        seed,
                    }))
                };
                let relay = Relay::start_dirs(
                    &format!("relay{}", l.link),
                    sa,
                    sb,
                    plan.iface(l.relay.expect("filtered").a).mtu,
                    [
                        cfg(0, &l.a_to_b, l.seed_a_to_b)?,
                        cfg(1, &l.b_to_a, l.seed_b_to_a)?,
                    ],
                )
                .map_err(|e| LabError::Kernel {
                    what: format!("start relay of link {}", l.link),
                    source: e,
                })?;
                relays.insert(l.link, relay);
            }
        }
        Ok(Links { states, relays })
    }

    /// Finds the link between `a` and `b` ("node" or "node:iface", either order).
    pub fn find(plan: &Plan, a: &str, b: &str) -> Result<usize, LabError> {
        let matches = |l: &LinkPlan, end_a: bool, sel: &str| {
            let (node, iface) = match sel.split_once(':') {
                Some((n, i)) => (n, Some(i)),
                None => (sel, None),
            };
            let (n, i) = end_names(plan, l, end_a);
            n == node && iface.is_none_or(|x| x == i)
        };
        let found: Vec<usize> = plan
            .links
            .iter()
            .filter(|l| {
                (matches(l, true, a) && matches(l, false, b))
                    || (matches(l, true, b) && matches(l, false, a))
            })
            .map(|l| l.link)
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(LabError::NoSuchLink {
                a: a.into(),
                b: b.into(),
            }),
            many => Err(LabError::AmbiguousLink {
                a: a.into(),
                b: b.into(),
                choices: many
                    .iter()
                    .map(|&i| {
                        let l = &plan.links[i];
                        format!("{} {}", end_label(plan, l, true), end_label(plan, l, false))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    pub fn status(&self, plan: &Plan) -> Vec<LinkStatus> {
        plan.links
            .iter()
            .map(|l| {
                let s = &self.states[l.link];
                let relay = self.relays.get(&l.link);
                let shaped = |dir: usize, at: IfaceRef| {
                    s.shapers[dir]
                        .as_ref()
                        .and_then(|sh| kernel_counters(plan, at.node, sh.ifb_ifindex))
                };
                LinkStatus {
                    link: l.link,
                    a: end_label(plan, l, true),
                    b: end_label(plan, l, false),
                    engine: l.engine,
                    reason: l.reason.clone(),
                    up: s.up,
                    a_to_b: s.a_to_b.clone(),
                    b_to_a: s.b_to_a.clone(),
                    counters_a_to_b: relay.map(|r| r.counters(0)).or_else(|| shaped(0, l.b)),
                    counters_b_to_a: relay.map(|r| r.counters(1)).or_else(|| shaped(1, l.a)),
                }
            })
            .collect()
    }

    /// Performs `action` on link `idx`.
    pub fn act(&mut self, plan: &Plan, idx: usize, action: &LinkAction) -> Result<(), LabError> {
        let l = &plan.links[idx];
        match action {
            LinkAction::Down | LinkAction::Up => {
                // Both ends, like pulling the cable. The kernel drops routes through an
                // interface that goes down, so `up` puts the Plan's routes back.
                let up = *action == LinkAction::Up;
                // A cross-shard link's far end is this shard's VXLAN device: the node's
                // own interface (once), or the fabric's relay port.
                let ends = if l.a == l.b {
                    vec![l.a]
                } else {
                    vec![l.a, l.b]
                };
                for end in ends {
                    let ifindex = plan.iface(end).ifindex;
                    let ops = if up {
                        std::iter::once(Op::SetUp { ifindex })
                            .chain(
                                plan.nodes[end.node]
                                    .routes
                                    .iter()
                                    .filter(|r| r.dev == ifindex)
                                    .map(|r| Op::AddRoute {
                                        dst: r.dst,
                                        via: r.via,
                                        dev: r.dev,
                                    }),
                            )
                            .collect()
                    } else {
                        vec![Op::SetDown { ifindex }]
                    };
                    run_ops(plan, end.node, ops)?;
                }
                self.states[idx].up = up;
                Ok(())
            }
            LinkAction::Set { a_to_b, b_to_a } => self.set(plan, idx, a_to_b, b_to_a),
        }
    }

    fn set(
        &mut self,
        plan: &Plan,
        idx: usize,
        a_to_b: &LinkChange,
        b_to_a: &LinkChange,
    ) -> Result<(), LabError> {
        let l = &plan.links[idx];
        let state = &self.states[idx];
        let refuse = |why: String| LabError::LinkChange {
            link: format!(
                "{} — {}",
                end_label(plan, l, true),
                end_label(plan, l, false)
            ),
            why,
        };
        let new = [
            a_to_b.apply(&state.a_to_b).map_err(refuse)?,
            b_to_a.apply(&state.b_to_a).map_err(refuse)?,
        ];
        match l.engine {
            EngineChoice::Plain => Err(refuse(
                "it is a plain veth (no engine); give it an impairment or `engine: userspace` \
                 in the topology to change it live"
                    .into(),
            )),
            EngineChoice::Kernel => {
                if let Some(p) = new[0].beyond_rate().or(new[1].beyond_rate()) {
                    return Err(refuse(format!(
                        "it runs on the kernel engine (rate only here); `{p}` needs \
                         `engine: userspace` in the topology"
                    )));
                }
                for (dir, (imp, to)) in [(&new[0], l.b), (&new[1], l.a)].into_iter().enumerate() {
                    if applied_here(plan, l, dir) {
                        self.reshape(plan, idx, dir, imp, to)?;
                    }
                }
                let s = &mut self.states[idx];
                [s.a_to_b, s.b_to_a] = new;
                Ok(())
            }
            EngineChoice::Userspace => {
                let relay = self
                    .relays
                    .get(&idx)
                    .ok_or_else(|| refuse("its relay is not running".into()))?;
                let per_packet = new[0].per_packet() || new[1].per_packet();
                if per_packet && !state.per_packet {
                    for end in [l.a, l.b] {
                        set_offloads(plan, end, false)?;
                    }
                }
                for (dir, imp) in new.iter().enumerate() {
                    if applied_here(plan, l, dir) {
                        relay.reconfigure(dir, imp.clone(), load_trace(imp)?);
                    }
                }
                let s = &mut self.states[idx];
                s.per_packet |= per_packet;
                [s.a_to_b, s.b_to_a] = new;
                Ok(())
            }
        }
    }

    /// Brings direction `dir`'s shaper (at node end `to`) in line with `imp`.
    fn reshape(
        &mut self,
        plan: &Plan,
        idx: usize,
        dir: usize,
        imp: &Impairment,
        to: IfaceRef,
    ) -> Result<(), LabError> {
        let s = &mut self.states[idx];
        let iface = plan.iface(to);
        let wanted = imp.rate.map(|rate| {
            let burst = imp
                .burst
                .map(|b| b.min(u64::from(u32::MAX)) as u32)
                .unwrap_or_else(|| emulation::default_burst(rate, iface.mtu));
            ShaperPlan {
                ifindex: iface.ifindex,
                ifb: format!("ifb{}", iface.ifindex),
                ifb_ifindex: iface.ifindex + emulation::IFB_IFINDEX_OFFSET,
                rate_bps: rate,
                burst,
                limit: match imp.queue {
                    Some(crate::topology::QueueLimit::Bytes(n)) => {
                        n.min(u64::from(u32::MAX)) as u32
                    }
                    Some(crate::topology::QueueLimit::Packets(n)) => n.saturating_mul(iface.mtu),
                    None => emulation::default_limit(rate, iface.mtu, burst),
                },
                link: idx,
            }
        });
        let ops = match (&s.shapers[dir], &wanted) {
            (None, None) => vec![],
            (Some(old), Some(w)) => kernel::change_ops(old, w, &mut s.replaced[dir]),
            (Some(old), None) => kernel::remove_ops(old),
            (None, Some(w)) if s.ifb_made[dir] => {
                // The IFB and redirect exist; only the tbf was removed.
                kernel::shaper_ops(w).split_off(4)
            }
            (None, Some(w)) => kernel::shaper_ops(w),
        };
        if !ops.is_empty() {
            run_ops(plan, to.node, ops)?;
        }
        s.ifb_made[dir] |= wanted.is_some();
        s.shapers[dir] = wanted;
        Ok(())
    }
}

/// A kernel shaper's counters, read from its tbf: what it passed, and what its queue
/// dropped (the kernel engine has no other stage that drops).
fn kernel_counters(plan: &Plan, node: usize, ifb_ifindex: u32) -> Option<Counters> {
    let ns = netns::open(&plan.nodes[node].netns).ok()?;
    let st = netns::run_in(ns, move || Netlink::open()?.root_qdisc_stats(ifb_ifindex))
        .ok()
        .flatten()?;
    Some(Counters {
        passed_packets: st.packets,
        passed_bytes: st.bytes,
        dropped_queue: st.drops,
        ..Counters::default()
    })
}

/// Runs netlink ops inside node `node`'s namespace (on a thread made for it).
fn run_ops(plan: &Plan, node: usize, ops: Vec<Op>) -> Result<(), LabError> {
    let n = &plan.nodes[node];
    let ns = netns::open(&n.netns).map_err(|e| LabError::Kernel {
        what: format!("open namespace {}", n.netns),
        source: e,
    })?;
    let name = n.name.clone();
    netns::run_in(ns, move || {
        Netlink::open()?
            .run_all(&ops)
            .map_err(|e| io::Error::new(e.source.kind(), e.to_string()))
    })
    .map_err(|e| LabError::Kernel {
        what: name,
        source: e,
    })
}

fn set_offloads(plan: &Plan, end: IfaceRef, on: bool) -> Result<(), LabError> {
    let n = &plan.nodes[end.node];
    let ifname = plan.iface(end).name.clone();
    let ns = netns::open(&n.netns).map_err(|e| LabError::Kernel {
        what: format!("open namespace {}", n.netns),
        source: e,
    })?;
    netns::run_in(ns, move || {
        let sock = netns::ethtool::ioctl_socket()?;
        netns::ethtool::set_tx_offloads(std::os::fd::AsFd::as_fd(&sock), &ifname, on)
    })
    .map_err(|e| LabError::Kernel {
        what: format!("{}: offloads", n.name),
        source: e,
    })
}
