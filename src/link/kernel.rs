//! The kernel link engine: token-bucket shapers (tbf) on IFB devices at the receiving end
//! of a link, built and changed over netlink (see [`crate::netlink::tc`]).
//!
//! ```text
//!   sender ══ veth ══ eth0 (receiver) ─ingress qdisc─ u32 match-all ─mirred─▶ ifbN
//!                                                                       └─ root tbf
//! ```
//! A live change replaces the tbf's parameters in place (`change`), so packets already
//! queued and the link's TCP connections survive.

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

/// Removes the shaping (the IFB stays, passing traffic unshaped).
pub fn remove_ops(s: &ShaperPlan) -> Vec<Op> {
    vec![Op::Tc {
        kind: TcKind::DelQdisc,
        msg: tc::tbf_qdisc(s.ifb_ifindex, &tbf(s)),
        what: format!("remove tbf from {}", s.ifb),
    }]
}
