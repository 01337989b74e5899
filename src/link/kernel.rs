//! The kernel link engine: token-bucket shapers (tbf) on IFB devices at the receiving end
//! of a link, built and changed over netlink (see [`crate::netlink::tc`]).
//!
//! ```text
//!   sender ══ veth ══ eth0 (receiver) ─ingress qdisc─ u32 match-all ─mirred─▶ ifbN
//!                                                                       └─ root tbf
//! ```
//! A live change replaces the tbf's parameters in place (`change`), so packets already
//! queued and the link's TCP connections survive — except when the burst shrinks: tbf does
//! not re-check queued packets against the new bucket, and a queued GSO super-frame larger
//! than the new burst would wait forever (and everything behind it). Then a new tbf is
//! grafted in the old one's place (see [`change_ops`]); the queued bytes (at most the queue
//! limit) are dropped and TCP retransmits them.

use crate::compile::ShaperPlan;
use crate::netlink::tc::{self, Tbf};
use crate::netlink::{Op, TcKind};

fn tbf(s: &ShaperPlan) -> Tbf {
    Tbf {
        rate_bps: s.rate_bps,
        burst: s.burst,
        limit: s.limit,
    }
}

/// Everything a new shaper needs, in order.
pub fn shaper_ops(s: &ShaperPlan) -> Vec<Op> {
    vec![
        Op::AddIfb {
            name: s.ifb.clone(),
            ifindex: s.ifb_ifindex,
        },
        Op::SetUp {
            ifindex: s.ifb_ifindex,
        },
        Op::Tc {
            kind: TcKind::AddQdisc,
            msg: tc::ingress_qdisc(s.ifindex),
            what: format!("ingress qdisc on ifindex {}", s.ifindex),
        },
        Op::Tc {
            kind: TcKind::AddFilter,
            msg: tc::redirect_filter(s.ifindex, s.ifb_ifindex),
            what: format!("redirect ifindex {} to {}", s.ifindex, s.ifb),
        },
        Op::Tc {
            kind: TcKind::AddQdisc,
            msg: tc::tbf_qdisc(s.ifb_ifindex, &tbf(s)),
            what: format!("tbf {} bit/s on {}", s.rate_bps, s.ifb),
        },
    ]
}

/// Ops that turn shaper `old` into `new`: a change in place, keeping the queue — unless the
/// burst shrinks. tbf never re-checks what it has queued against a smaller bucket, so a
/// queued super-frame larger than the new burst would never be sent and would stall the
/// direction for good; then a fresh tbf is grafted in place of the old one (`tc qdisc
/// replace … root handle H: tbf …` with a handle the current qdisc does not have), and
/// what was queued (at most the queue limit) is dropped. `replaced` counts those
/// replacements and picks the handle, so consecutive ones never reuse the handle of the
/// qdisc they replace (the first tbf has a kernel-chosen `8xxx:` handle).
pub fn change_ops(old: &ShaperPlan, new: &ShaperPlan, replaced: &mut u16) -> Vec<Op> {
    if new.burst >= old.burst {
        return vec![Op::Tc {
            kind: TcKind::ChangeQdisc,
            msg: tc::tbf_qdisc(new.ifb_ifindex, &tbf(new)),
            what: format!("change tbf on {} to {} bit/s", new.ifb, new.rate_bps),
        }];
    }
    *replaced = replaced.wrapping_add(1);
    let major = 0x100 + u32::from(*replaced % 0x7000);
    vec![Op::Tc {
        kind: TcKind::ReplaceQdisc,
        msg: tc::tbf_qdisc_with_handle(new.ifb_ifindex, major << 16, &tbf(new)),
        what: format!(
            "replace tbf on {} with one at {} bit/s",
            new.ifb, new.rate_bps
        ),
    }]
}

/// Removes the shaping (the IFB stays, passing traffic unshaped).
pub fn remove_ops(s: &ShaperPlan) -> Vec<Op> {
    vec![Op::Tc {
        kind: TcKind::DelQdisc,
        msg: tc::tbf_qdisc(s.ifb_ifindex, &tbf(s)),
        what: format!("remove tbf from {}", s.ifb),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaper(rate_bps: u64, burst: u32) -> ShaperPlan {
        ShaperPlan {
            ifindex: 101,
            ifb: "ifb101".into(),
            ifb_ifindex: 1101,
            rate_bps,
            burst,
            limit: 64_000,
            link: 0,
        }
    }

    fn kind_and_handle(ops: &[Op]) -> (TcKind, u32) {
        match ops {
            [Op::Tc { kind, msg, .. }] => (*kind, u32::from(msg.header.handle)),
            other => panic!("want one tc op, got {other:?}"),
        }
    }

    #[test]
    fn a_change_keeps_the_tbf_unless_the_burst_shrinks() {
        let mut replaced = 0;
        let (fast, slow) = (shaper(100_000_000, 50_000), shaper(20_000_000, 10_000));
        let up = change_ops(&slow, &fast, &mut replaced);
        assert_eq!(kind_and_handle(&up), (TcKind::ChangeQdisc, 0));
        let same = change_ops(&fast, &shaper(50_000_000, 50_000), &mut replaced);
        assert_eq!(kind_and_handle(&same), (TcKind::ChangeQdisc, 0));
        assert_eq!(replaced, 0);
        // Shrinking: a fresh tbf, each time under a handle the previous one did not have.
        let down = change_ops(&fast, &slow, &mut replaced);
        assert_eq!(kind_and_handle(&down), (TcKind::ReplaceQdisc, 0x101 << 16));
        let again = change_ops(&fast, &slow, &mut replaced);
        assert_eq!(kind_and_handle(&again), (TcKind::ReplaceQdisc, 0x102 << 16));
    }
}
