//! What this kernel's traffic control can do, probed once per process, never assumed.
//!
//! Each probe runs on a thread that unshares a fresh, unnamed network namespace (it
//! vanishes with the thread, leaving nothing behind) and asks for the qdisc on `lo`; the
//! kernel answers "unknown qdisc" (ENOENT) when the module is absent and cannot be loaded.

use std::sync::OnceLock;

use netlink_packet_route::tc::{TcHandle, TcMessage};
use serde::{Deserialize, Serialize};

use crate::netlink::tc::{Tbf, tbf_qdisc};
use crate::netlink::{Netlink, Op, TcKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// `sch_netem` (delay, jitter, loss in the kernel).
    pub netem: bool,
    /// `sch_tbf` (the kernel engine's shaper).
    pub tbf: bool,
}

/// Probes once; later calls return the first answer.
pub fn capabilities() -> Capabilities {
    static CAPS: OnceLock<Capabilities> = OnceLock::new();
    *CAPS.get_or_init(|| {
        std::thread::spawn(probe).join().unwrap_or(Capabilities {
            netem: false,
            tbf: false,
        })
    })
}

fn probe() -> Capabilities {
    let none = Capabilities {
        netem: false,
        tbf: false,
    };
    if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
        return none;
    }
    let Ok(mut nl) = Netlink::open() else {
        return none;
    };
    let _ = nl.run_all(&[Op::SetUp { ifindex: 1 }]);
    let try_qdisc = |nl: &mut Netlink, msg: TcMessage| {
        nl.run_all(&[Op::Tc {
            kind: TcKind::AddQdisc,
            msg,
            what: "probe".into(),
        }])
        .is_ok()
    };
    let tbf = try_qdisc(
        &mut nl,
        tbf_qdisc(
            1,
            &Tbf {
                rate_bps: 1_000_000,
                burst: 3000,
                limit: 15000,
            },
        ),
    );
    // Remove the tbf so the netem probe can take the root.
    let mut del = TcMessage::default();
    del.header.index = 1;
    del.header.parent = TcHandle::from(0xffff_ffffu32);
    let _ = nl.run_all(&[Op::Tc {
        kind: TcKind::DelQdisc,
        msg: del,
        what: "probe".into(),
    }]);
    let netem = try_qdisc(&mut nl, crate::netlink::tc::netem_qdisc_plain(1, 1000));
    Capabilities { netem, tbf }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probing_twice_gives_one_answer() {
        if crate::skip_without_root() {
            return;
        }
        let a = capabilities();
        assert_eq!(a, capabilities());
        assert!(a.tbf, "tbf is present on every kernel this project targets");
    }
}
