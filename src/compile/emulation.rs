//! Link emulation in the Plan: which engine carries each link, and the plumbing it needs.
//!
//! Rules (deterministic; the kernel's abilities come in as data, never probed here):
//! - A link with no impairment in either direction is a plain veth — unless it asks for
//!   `engine: userspace`, which relays it unchanged (useful to measure the relay itself).
//! - **kernel**: only rate, burst and queue (a token bucket, tbf), applied where traffic
//!   *arrives*: the receiving end's ingress is redirected to an IFB device whose root qdisc
//!   is the tbf (burst max(2×MTU, rate × 4 ms), see [`default_burst`]). (KERNEL.md:
//!   shaping on the receiver or a forwarding hop reaches the TCP
//!   payload ceiling; shaping on a sender's own egress interacts badly with its TCP stack.)
//!   `ifbN` is named after the ifindex N of the interface it shapes, at ifindex N + 1000.
//! - **userspace**: everything else (delay, jitter, loss, duplication, corruption,
//!   reordering, traces). The link becomes two veths into a hidden `_fabric` namespace
//!   (node kind `fabric`, appended after all nodes): `A:eth ═ lLa` and `B:eth ═ lLb` for
//!   topology link L, relayed by the supervisor. If either direction acts on single
//!   packets, the nodes' two ends get TX offloads off so that every frame is one packet.
//! - **auto** (the default) picks kernel when the kernel engine can express both
//!   directions, userspace otherwise, and says why.
//! - An impaired direction that arrives at an OpenFlow switch (`ofswitch`) always takes the
//!   userspace engine (`engine: kernel` there is an error): the switch reads its ports with
//!   packet sockets, which see every frame before the ingress hook that feeds the IFB.
//! - Seeds: a link's `seed`, or one derived from the lab seed (`defaults.seed`) and the
//!   link's index; each direction gets its own stream derived from it.

use crate::topology::{
    Engine, ErrorKind, Impairment, NodeKind, QueueLimit, Topology, TopologyError,
};

use super::ifaces;
use super::plan::*;

/// tbf's bucket when none is configured: max(2×MTU, rate × 4 ms).
///
/// KERNEL.md found rate × 1 ms enough to reach the TCP payload ceiling (a 1-MTU bucket
/// gives 82% at 100 Mbit/s). On this machine kind under load it was not: tbf refills its
/// bucket from a timer, a timer that fires late wastes the link time beyond the bucket,
/// and 1 ms buckets measured 91–97% of the ceiling at 100 Mbit/s and 1 Gbit/s where 4 ms
/// buckets measured 99–100% (single TCP stream, cubic, same run).
pub fn default_burst(rate_bps: u64, mtu: u32) -> u32 {
    (rate_bps / 8 / 250)
        .max(2 * u64::from(mtu))
        .min(u64::from(u32::MAX)) as u32
}

/// tbf's queue when none is configured: 50 ms at the rate, at least 10 frames and the
/// burst (an unset limit adds over a second of delay at 10 Mbit/s).
pub fn default_limit(rate_bps: u64, mtu: u32, burst: u32) -> u32 {
    (rate_bps / 8 / 20)
        .max(10 * u64::from(mtu))
        .max(u64::from(burst))
        .min(u64::from(u32::MAX)) as u32
}

pub const FABRIC_NODE: &str = "_fabric";
pub const IFB_IFINDEX_OFFSET: u32 = 1000;

/// SplitMix64: turns seeds into well-mixed, independent seeds.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Adds `links`, the fabric namespace, shapers and offload settings to a Plan whose
/// `veths` hold exactly one veth per topology link, in link order.
pub fn plan_links(t: &Topology, lab: &str, plan: &mut Plan) -> Result<(), TopologyError> {
    let mut links = Vec::with_capacity(t.links.len());
    for (li, link) in t.links.iter().enumerate() {
        let v = plan.veths[li].clone();
        let (a_to_b, b_to_a) = (link.emulation.a_to_b(), link.emulation.b_to_a());
        let requested = link.emulation.engine.unwrap_or(t.defaults.engine);
        // A shaped direction that arrives at an OpenFlow switch (see `choose`).
        let ofswitch_end = |n: usize, imp: &Impairment| {
            plan.nodes[n].kind == NodeKind::OfSwitch && !imp.is_empty()
        };
        let to_ofswitch = ofswitch_end(v.b.node, &a_to_b) || ofswitch_end(v.a.node, &b_to_a);
        let (engine, reason) = choose(requested, &a_to_b, &b_to_a, to_ofswitch).map_err(|msg| {
            TopologyError::new(ErrorKind::BadValue, &t.source, link.emulation.span, msg)
                .with_help("use `engine: userspace`, or `auto` to let topolab pick")
        })?;
        let base = link
            .emulation
            .seed
            .unwrap_or_else(|| mix(t.defaults.seed ^ mix(li as u64)));
        links.push(LinkPlan {
            link: li,
            a: v.a,
            b: v.b,
            engine,
            reason,
            a_to_b,
            b_to_a,
            seed_a_to_b: mix(base ^ 1),
            seed_b_to_a: mix(base ^ 2),
            relay: None,
        });
    }
    add_shapers(plan, &links);
    add_fabric(t, lab, plan, &mut links);
    plan.links = links;
    Ok(())
}

/// `to_ofswitch`: an impaired direction arrives at an OpenFlow switch, whose packet
/// sockets see each frame before the ingress hook that would redirect it to the shaper (the
/// kernel engine would shape nothing there), so only the userspace engine can carry it.
fn choose(
    requested: Engine,
    ab: &Impairment,
    ba: &Impairment,
    to_ofswitch: bool,
) -> Result<(EngineChoice, String), String> {
    let beyond = ab.beyond_rate().or(ba.beyond_rate());
    if ab.is_empty() && ba.is_empty() {
        return Ok(match requested {
            Engine::Userspace => (
                EngineChoice::Userspace,
                "engine: userspace on a link without impairments: relayed unchanged".into(),
            ),
            _ => (EngineChoice::Plain, "no impairments: a plain veth".into()),
        });
    }
    if to_ofswitch {
        return match requested {
            Engine::Kernel => Err(
                "the kernel engine cannot shape traffic arriving at an OpenFlow switch \
                 (its packet sockets see frames before the ingress shaper)"
                    .into(),
            ),
            Engine::Auto | Engine::Userspace => Ok((
                EngineChoice::Userspace,
                format!(
                    "{}: traffic arrives at an OpenFlow switch, which the kernel engine \
                     cannot shape, so userspace",
                    if requested == Engine::Auto {
                        "auto"
                    } else {
                        "engine: userspace"
                    }
                ),
            )),
        };
    }
    match (requested, beyond) {
        (Engine::Userspace, _) => Ok((EngineChoice::Userspace, "engine: userspace".into())),
        (Engine::Kernel, Some(p)) => Err(format!(
            "the kernel engine only shapes rate (tbf), it cannot do `{p}`"
        )),
        (Engine::Kernel, None) => Ok((
            EngineChoice::Kernel,
            "engine: kernel — tbf on an IFB at the receiving end".into(),
        )),
        (Engine::Auto, Some(p)) => Ok((
            EngineChoice::Userspace,
            format!("auto: `{p}` is beyond the kernel engine (tbf only), so userspace"),
        )),
        (Engine::Auto, None) => Ok((
            EngineChoice::Kernel,
            "auto: rate only — tbf on an IFB at the receiving end".into(),
        )),
    }
}

fn add_shapers(plan: &mut Plan, links: &[LinkPlan]) {
    for l in links.iter().filter(|l| l.engine == EngineChoice::Kernel) {
        for (imp, to) in [(&l.a_to_b, l.b), (&l.b_to_a, l.a)] {
            let Some(rate) = imp.rate else { continue };
            let iface = plan.iface(to);
            let mtu = iface.mtu;
            let burst = imp
                .burst
                .map(|b| b.min(u64::from(u32::MAX)) as u32)
                .unwrap_or_else(|| default_burst(rate, mtu));
            let limit = match imp.queue {
                Some(QueueLimit::Bytes(n)) => n.min(u64::from(u32::MAX)) as u32,
                Some(QueueLimit::Packets(n)) => n.saturating_mul(mtu),
                None => default_limit(rate, mtu, burst),
            };
            let shaper = ShaperPlan {
                ifindex: iface.ifindex,
                ifb: format!("ifb{}", iface.ifindex),
                ifb_ifindex: iface.ifindex + IFB_IFINDEX_OFFSET,
                rate_bps: rate,
                burst,
                limit,
                link: l.link,
            };
            plan.nodes[to.node].shapers.push(shaper);
        }
    }
}

fn add_fabric(t: &Topology, lab: &str, plan: &mut Plan, links: &mut [LinkPlan]) {
    if !links.iter().any(|l| l.engine == EngineChoice::Userspace) {
        return;
    }
    let f = plan.nodes.len();
    let mut fabric = NodePlan {
        name: FABRIC_NODE.into(),
        kind: NodeKind::Fabric,
        netns: format!("{lab}-{FABRIC_NODE}"),
        sysctls: vec![
            ("net.ipv6.conf.all.disable_ipv6".into(), "1".into()),
            ("net.ipv6.conf.default.disable_ipv6".into(), "1".into()),
        ],
        loopback: vec![],
        bridge: None,
        ifaces: vec![],
        routes: vec![],
        shapers: vec![],
        services: vec![],
        limits: Default::default(),
        routes_mode: Default::default(),
        private_dirs: vec![],
        files: vec![],
        openflow: None,
        bgp: None,
    };
    let mut veths = Vec::with_capacity(plan.veths.len() + links.len());
    for (li, v) in plan.veths.iter().enumerate() {
        let l = &mut links[li];
        if l.engine != EngineChoice::Userspace {
            veths.push(v.clone());
            continue;
        }
        let per_packet = l.a_to_b.per_packet() || l.b_to_a.per_packet();
        let mut ends = [IfaceRef { node: 0, iface: 0 }; 2];
        for (k, (side, end)) in [("a", v.a), ("b", v.b)].into_iter().enumerate() {
            let name = format!("l{li}{side}");
            let idx = fabric.ifaces.len();
            let node_iface = &mut plan.nodes[end.node].ifaces[end.iface];
            fabric.ifaces.push(IfacePlan {
                mac: ifaces::mac_of(&format!("{}/{FABRIC_NODE}/{name}", t.name)),
                name,
                ifindex: ifaces::FIRST_IFINDEX + idx as u32,
                mtu: node_iface.mtu,
                addrs: vec![],
                port: None,
                peer: end,
                link: li,
                offloads: true,
            });
            ends[k] = IfaceRef {
                node: f,
                iface: idx,
            };
            node_iface.peer = ends[k];
            node_iface.offloads = !per_packet;
            veths.push(VethPlan {
                a: end,
                b: ends[k],
                link: li,
            });
        }
        l.relay = Some(RelayPlan {
            a: ends[0],
            b: ends[1],
            per_packet,
        });
    }
    plan.veths = veths;
    plan.nodes.push(fabric);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tbf_defaults_follow_kernel_md() {
        assert_eq!(default_burst(100_000_000, 1500), 50_000);
        assert_eq!(default_burst(1_000_000, 1500), 3000);
        assert_eq!(default_burst(1_000_000_000, 1500), 500_000);
        assert_eq!(default_limit(10_000_000, 1500, 3000), 62_500);
        assert_eq!(default_limit(1_000_000, 1500, 3000), 15_000);
    }

    fn imp(f: impl FnOnce(&mut Impairment)) -> Impairment {
        let mut i = Impairment::default();
        f(&mut i);
        i
    }

    #[test]
    fn engine_choice() {
        let none = Impairment::default();
        let rate = imp(|i| i.rate = Some(10_000_000));
        let delay = imp(|i| i.delay = Some(std::time::Duration::from_millis(5)));
        let pick = |r, a: &Impairment, b: &Impairment| choose(r, a, b, false).map(|x| x.0);
        assert_eq!(pick(Engine::Auto, &none, &none), Ok(EngineChoice::Plain));
        assert_eq!(pick(Engine::Kernel, &none, &none), Ok(EngineChoice::Plain));
        assert_eq!(
            pick(Engine::Userspace, &none, &none),
            Ok(EngineChoice::Userspace)
        );
        assert_eq!(pick(Engine::Auto, &rate, &none), Ok(EngineChoice::Kernel));
        assert_eq!(
            pick(Engine::Auto, &rate, &delay),
            Ok(EngineChoice::Userspace)
        );
        assert_eq!(
            pick(Engine::Userspace, &rate, &none),
            Ok(EngineChoice::Userspace)
        );
        let err = choose(Engine::Kernel, &none, &delay, false).unwrap_err();
        assert!(err.contains("`delay`"), "{err}");
        // Rate-only traffic into an OpenFlow switch: the kernel engine would shape nothing.
        let into_of = |r| choose(r, &rate, &none, true).map(|x| x.0);
        assert_eq!(into_of(Engine::Auto), Ok(EngineChoice::Userspace));
        assert_eq!(into_of(Engine::Userspace), Ok(EngineChoice::Userspace));
        assert!(
            into_of(Engine::Kernel)
                .unwrap_err()
                .contains("OpenFlow switch")
        );
        assert_eq!(
            choose(Engine::Auto, &none, &none, false).map(|x| x.0),
            Ok(EngineChoice::Plain)
        );
    }

    #[test]
    fn seeds_are_mixed_and_distinct() {
        assert_ne!(mix(1), mix(2));
        assert_ne!(mix(1 ^ 1), mix(1 ^ 2));
    }
}
