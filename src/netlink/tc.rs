//! Traffic-control messages the kernel link engine needs: an ingress qdisc, a u32 filter
//! that redirects everything to an IFB device (mirred), and a token-bucket shaper (tbf).
//!
//! netlink-packet-route has typed ingress/u32/mirred but no tbf, so the tbf options are
//! built here as raw attributes, laid out as `struct tc_tbf_qopt` in
//! `include/uapi/linux/pkt_sched.h`. The unit tests compare them with the bytes `tc`
//! (iproute2) sends for the same command, captured with strace on this machine kind.
//! We do not send `TCA_TBF_RTAB`: with `linklayer` set to Ethernet the kernel computes
//! transmit times itself and ignores the table (`tbf_change`).
//! The compiler chooses burst and limit (`compile::emulation`); this only encodes them.

use netlink_packet_core::DefaultNla;
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionGeneric, TcActionMirror, TcActionMirrorOption,
    TcActionOption, TcActionType, TcAttribute, TcFilterU32Option, TcHandle, TcMessage, TcMirror,
    TcMirrorActionType, TcOption, TcU32Key, TcU32Selector, TcU32SelectorFlags,
};

/// `TC_H_INGRESS`, the parent of an ingress qdisc.
const TC_H_INGRESS: u32 = 0xffff_fff1;
/// `TC_H_ROOT`.
const TC_H_ROOT: u32 = 0xffff_ffff;
/// The ingress qdisc's own handle, `ffff:`.
const INGRESS_HANDLE: u32 = 0xffff_0000;
const ETH_P_ALL: u16 = 0x0003;

/// Token bucket parameters, in the units people configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tbf {
    /// Bits per second.
    pub rate_bps: u64,
    /// Bucket size in bytes.
    pub burst: u32,
    /// Queue limit in bytes.
    pub limit: u32,
}

impl Tbf {
    /// `TCA_OPTIONS` content for tbf: PARMS, (RATE64,) BURST.
    pub fn options(&self) -> Vec<TcOption> {
        let bytes_per_s = self.rate_bps / 8;
        let rate32 = bytes_per_s.min(u64::from(u32::MAX)) as u32;
        // buffer: time to send `burst` bytes at the rate, in psched ticks (64 ns).
        let buffer_ns = u128::from(self.burst) * 1_000_000_000 / u128::from(bytes_per_s.max(1));
        let buffer = (buffer_ns / 64).min(u128::from(u32::MAX)) as u32;
        let mut parms = Vec::with_capacity(36);
        parms.extend(ratespec(rate32));
        parms.extend([0u8; 12]); // peakrate: none
        parms.extend(self.limit.to_ne_bytes());
        parms.extend(buffer.to_ne_bytes());
        parms.extend(0u32.to_ne_bytes()); // mtu (peakrate only)
        let mut v = vec![TcOption::Other(DefaultNla::new(TCA_TBF_PARMS, parms))];
        if bytes_per_s > u64::from(u32::MAX) {
            v.push(TcOption::Other(DefaultNla::new(
                TCA_TBF_RATE64,
                bytes_per_s.to_ne_bytes().to_vec(),
            )));
        }
        v.push(TcOption::Other(DefaultNla::new(
            TCA_TBF_BURST,
            self.burst.to_ne_bytes().to_vec(),
        )));
        v
    }
}

const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;

/// `struct tc_ratespec` as tc fills it for Ethernet: cell_log 3, linklayer 1 (ethernet),
/// overhead 0, cell_align -1, mpu 0, rate in bytes/s.
fn ratespec(rate: u32) -> [u8; 12] {
    let mut r = [0u8; 12];
    r[0] = 3;
    r[1] = 1;
    r[4..6].copy_from_slice(&(-1i16).to_ne_bytes());
    r[8..12].copy_from_slice(&rate.to_ne_bytes());
    r
}

fn message(ifindex: u32, handle: u32, parent: u32, info: u32) -> TcMessage {
    let mut m = TcMessage::default();
    m.header.index = ifindex as i32;
    m.header.handle = TcHandle::from(handle);
    m.header.parent = TcHandle::from(parent);
    m.header.info = info;
    m
}

/// `tc qdisc add dev IF root tbf …` (or `change`, with the same message and other flags).
pub fn tbf_qdisc(ifindex: u32, tbf: &Tbf) -> TcMessage {
    tbf_qdisc_with_handle(ifindex, 0, tbf)
}

/// `tc qdisc replace dev IF root handle H tbf …` (the flags make it a replace).
pub fn tbf_qdisc_with_handle(ifindex: u32, handle: u32, tbf: &Tbf) -> TcMessage {
    let mut m = message(ifindex, handle, TC_H_ROOT, 0);
    m.attributes.push(TcAttribute::Kind("tbf".into()));
    m.attributes.push(TcAttribute::Options(tbf.options()));
    m
}

/// `tc qdisc add dev IF root netem limit LIMIT`: netem with nothing configured. Its
/// `TCA_OPTIONS` is not nested attributes but a bare `struct tc_netem_qopt` (24 bytes).
/// Used to probe whether the kernel has `sch_netem`.
pub fn netem_qdisc_plain(ifindex: u32, limit: u32) -> TcMessage {
    let mut qopt = vec![0u8; 24];
    qopt[4..8].copy_from_slice(&limit.to_ne_bytes());
    let mut m = message(ifindex, 0, TC_H_ROOT, 0);
    m.attributes.push(TcAttribute::Kind("netem".into()));
    m.attributes
        .push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, qopt)));
    m
}

const TCA_OPTIONS: u16 = 2;

/// `tc qdisc add dev IF ingress`.
pub fn ingress_qdisc(ifindex: u32) -> TcMessage {
    let mut m = message(ifindex, INGRESS_HANDLE, TC_H_INGRESS, 0);
    m.attributes.push(TcAttribute::Kind("ingress".into()));
    m
}

/// `tc filter add dev IF parent ffff: protocol all u32 match u32 0 0
///  action mirred egress redirect dev TO`.
pub fn redirect_filter(ifindex: u32, to: u32) -> TcMessage {
    let info = u32::from(TcHandle {
        major: 0,
        minor: ETH_P_ALL.to_be(),
    });
    let mut m = message(ifindex, 0, INGRESS_HANDLE, info);
    let mut sel = TcU32Selector::default();
    sel.flags = TcU32SelectorFlags::Terminal;
    sel.nkeys = 1;
    sel.keys = vec![TcU32Key::default()];
    let mut mirror = TcMirror::default();
    mirror.generic = TcActionGeneric::default();
    mirror.generic.action = TcActionType::Stolen;
    mirror.eaction = TcMirrorActionType::EgressRedir;
    mirror.ifindex = to;
    let mut action = TcAction::default();
    action.tab = 1;
    action.attributes = vec![
        TcActionAttribute::Kind(TcActionMirror::KIND.to_string()),
        TcActionAttribute::Options(vec![TcActionOption::Mirror(TcActionMirrorOption::Parms(
            mirror,
        ))]),
    ];
    m.attributes.push(TcAttribute::Kind("u32".into()));
    // tc's order: the action, then the selector.
    m.attributes.push(TcAttribute::Options(vec![
        TcOption::U32(TcFilterU32Option::Action(vec![action])),
        TcOption::U32(TcFilterU32Option::Selector(sel)),
    ]));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Emitable;

    /// From `strace -xx tc qdisc add dev veth0 root tbf rate 100mbit burst 12500
    /// limit 125000` (iproute2 6.x, kernel 6.18): the TCA_TBF_PARMS attribute.
    const TC_TBF_PARMS_100M: [u8; 40] = [
        0x28, 0x00, 0x01, 0x00, // len 40, TCA_TBF_PARMS
        0x03, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x20, 0xbc, 0xbe, 0x00, // rate
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // peakrate
        0x48, 0xe8, 0x01, 0x00, // limit 125000
        0x09, 0x3d, 0x00, 0x00, // buffer 15625 ticks
        0x00, 0x00, 0x00, 0x00, // mtu
    ];
    /// The TCA_TBF_BURST attribute of the same message.
    const TC_TBF_BURST_12500: [u8; 8] = [0x08, 0x00, 0x06, 0x00, 0xd4, 0x30, 0x00, 0x00];

    fn emit_opt(o: &TcOption) -> Vec<u8> {
        let mut b = vec![0u8; o.buffer_len()];
        o.emit(&mut b);
        b
    }

    fn hex(b: &[u8]) -> String {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn tbf_matches_tc_bytes() {
        let t = Tbf {
            rate_bps: 100_000_000,
            burst: 12_500,
            limit: 125_000,
        };
        let opts = t.options();
        assert_eq!(opts.len(), 2);
        let parms = emit_opt(&opts[0]);
        assert_eq!(
            parms,
            TC_TBF_PARMS_100M,
            "\nours {}\ntc   {}",
            hex(&parms),
            hex(&TC_TBF_PARMS_100M)
        );
        let burst = emit_opt(&opts[1]);
        assert_eq!(
            burst,
            TC_TBF_BURST_12500,
            "\nours {}\ntc   {}",
            hex(&burst),
            hex(&TC_TBF_BURST_12500)
        );
    }

    /// `tc qdisc add dev veth1 ingress` (ifindex 2): the whole tcmsg payload.
    const TC_INGRESS: [u8; 32] = [
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xf1, 0xff, 0xff,
        0xff, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x01, 0x00, 0x69, 0x6e, 0x67, 0x72, 0x65, 0x73,
        0x73, 0x00,
    ];

    #[test]
    fn ingress_matches_tc_bytes() {
        let m = ingress_qdisc(2);
        let mut b = vec![0u8; m.buffer_len()];
        m.emit(&mut b);
        assert_eq!(
            b,
            TC_INGRESS,
            "\nours {}\ntc   {}",
            hex(&b),
            hex(&TC_INGRESS)
        );
    }

    /// `tc filter add dev veth1 parent ffff: protocol all u32 match u32 0 0 action mirred
    /// egress redirect dev ifb0` (veth1 = 2, ifb0 = 4): the whole tcmsg payload.
    const TC_REDIRECT: [u8; 124] = [
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff,
        0xff, 0x00, 0x03, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0x75, 0x33, 0x32, 0x00, 0x60, 0x00,
        0x02, 0x00, 0x38, 0x00, 0x07, 0x00, 0x34, 0x00, 0x01, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x6d,
        0x69, 0x72, 0x72, 0x65, 0x64, 0x00, 0x00, 0x24, 0x00, 0x02, 0x80, 0x20, 0x00, 0x02, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x24, 0x00,
        0x05, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn redirect_matches_tc_bytes() {
        let m = redirect_filter(2, 4);
        let mut b = vec![0u8; m.buffer_len()];
        m.emit(&mut b);
        assert_eq!(
            b,
            TC_REDIRECT,
            "\nours {}\ntc   {}",
            hex(&b),
            hex(&TC_REDIRECT)
        );
    }

    /// `tc qdisc add dev lo root netem limit 1000` (lo = 1): the whole tcmsg payload.
    const TC_NETEM_PLAIN: [u8; 60] = [
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
        0xff, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x01, 0x00, 0x6e, 0x65, 0x74, 0x65, 0x6d, 0x00,
        0x00, 0x00, 0x1c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn netem_probe_matches_tc_bytes() {
        let m = netem_qdisc_plain(1, 1000);
        let mut b = vec![0u8; m.buffer_len()];
        m.emit(&mut b);
        assert_eq!(
            b,
            TC_NETEM_PLAIN,
            "\nours {}\ntc   {}",
            hex(&b),
            hex(&TC_NETEM_PLAIN)
        );
    }

    #[test]
    fn rates_above_34_gbit_need_rate64() {
        let t = Tbf {
            rate_bps: 40_000_000_000,
            burst: 5_000_000,
            limit: 10_000_000,
        };
        assert_eq!(t.options().len(), 3);
    }
}
