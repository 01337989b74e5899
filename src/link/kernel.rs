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
//! grafted in the old one's place ([`replace_ops`]); the queued bytes (at most the queue
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

/// New parameters for an existing shaper.
pub fn change_ops(s: &ShaperPlan) -> Vec<Op> {
    vec![Op::Tc {
        kind: TcKind::ChangeQdisc,
        msg: tc::tbf_qdisc(s.ifb_ifindex, &tbf(s)),
        what: format!("change tbf on {} to {} bit/s", s.ifb, s.rate_bps),
    }]
}

/// A new tbf in place of the existing one, atomically (`tc qdisc replace … root handle
/// H: tbf …` with a handle the current qdisc does not have): the old one and its queue go.
/// `generation` (1, 2, …) picks the handle, so consecutive replacements never reuse the
/// handle of the qdisc they replace (the first tbf has a kernel-chosen `8xxx:` handle).
pub fn replace_ops(s: &ShaperPlan, generation: u16) -> Vec<Op> {
    let major = 0x100 + u32::from(generation % 0x7000);
    vec![Op::Tc {
        kind: TcKind::ReplaceQdisc,
        msg: tc::tbf_qdisc_with_handle(s.ifb_ifindex, major << 16, &tbf(s)),
        what: format!("replace tbf on {} with one at {} bit/s", s.ifb, s.rate_bps),
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
