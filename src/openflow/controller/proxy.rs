//! ARP and IPv6 neighbour discovery answered by the controller (`shortest-path`): the
//! switches send every ARP packet and every neighbour solicitation to us, and we reply
//! for the hosts we know, so that a broadcast or a multicast solicitation never has to be
//! flooded around a loop.
//!
//! Pure byte work: [`arp_reply`] and [`neighbor_advert`] read a request frame (untagged
//! Ethernet) and build the answer frame, given the owner's MAC. Requests we must not
//! answer (gratuitous ARP, duplicate address detection) yield `None`.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const ETH_TYPE_ARP: u16 = 0x0806;
pub const ETH_TYPE_IPV6: u16 = 0x86dd;
pub const IP_PROTO_ICMPV6: u8 = 58;
pub const ICMPV6_NS: u8 = 135;
pub const ICMPV6_NA: u8 = 136;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    Arp(Ipv4Addr),
    Nd(Ipv6Addr),
}

/// The address an ARP request or neighbour solicitation asks about.
pub fn ask(frame: &[u8]) -> Option<Ask> {
    let eth_type = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    match eth_type {
        ETH_TYPE_ARP => {
            let arp = frame.get(14..42)?;
            // Ethernet/IPv4, request.
            if arp[..8] != [0, 1, 8, 0, 6, 4, 0, 1] {
                return None;
            }
            let spa = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
            let tpa = Ipv4Addr::new(arp[24], arp[25], arp[26], arp[27]);
            // Gratuitous ARP announces, it does not ask.
            (spa != tpa && !spa.is_unspecified()).then_some(Ask::Arp(tpa))
        }
        ETH_TYPE_IPV6 => {
            let ip = frame.get(14..54)?;
            let icmp = frame.get(54..78)?;
            if ip[0] >> 4 != 6 || ip[6] != IP_PROTO_ICMPV6 || icmp[0] != ICMPV6_NS || icmp[1] != 0 {
                return None;
            }
            let src: [u8; 16] = ip[8..24].try_into().ok()?;
            // Duplicate address detection (from ::): an answer would say "duplicate".
            if Ipv6Addr::from(src).is_unspecified() {
                return None;
            }
            let target: [u8; 16] = icmp[8..24].try_into().ok()?;
            Some(Ask::Nd(Ipv6Addr::from(target)))
        }
        _ => None,
    }
}

/// The ARP reply to request `frame` saying `ip` is at `mac`.
pub fn arp_reply(frame: &[u8], ip: Ipv4Addr, mac: [u8; 6]) -> Option<Vec<u8>> {
    let req = frame.get(..42)?;
    let sha = &req[22..28];
    let spa = &req[28..32];
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(sha); // eth dst
    f.extend_from_slice(&mac); // eth src
    f.extend_from_slice(&ETH_TYPE_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(sha);
    f.extend_from_slice(spa);
    Some(f)
}

/// The solicited neighbour advertisement answering solicitation `frame`: `target` is at
/// `mac` (flags Solicited and Override; we answer for hosts, never routers).
pub fn neighbor_advert(frame: &[u8], target: Ipv6Addr, mac: [u8; 6]) -> Option<Vec<u8>> {
    let req = frame.get(..54)?;
    let req_mac = &req[6..12];
    let req_ip: [u8; 16] = req[22..38].try_into().ok()?;
    const ICMP_LEN: u16 = 32; // header 4, flags 4, target 16, option TLL 8
    let mut f = Vec::with_capacity(14 + 40 + ICMP_LEN as usize);
    f.extend_from_slice(req_mac);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_TYPE_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&ICMP_LEN.to_be_bytes());
    f.extend_from_slice(&[IP_PROTO_ICMPV6, 255]);
    f.extend_from_slice(&target.octets());
    f.extend_from_slice(&req_ip);
    let icmp_at = f.len();
    f.extend_from_slice(&[ICMPV6_NA, 0, 0, 0, 0x60, 0, 0, 0]);
    f.extend_from_slice(&target.octets());
    f.extend_from_slice(&[2, 1]); // option: target link-layer address, 8 bytes
    f.extend_from_slice(&mac);
    let sum = icmpv6_checksum(&target.octets(), &req_ip, &f[icmp_at..]);
    f[icmp_at + 2..icmp_at + 4].copy_from_slice(&sum.to_be_bytes());
    Some(f)
}

/// The ICMPv6 checksum (RFC 4443 §2.3: over the IPv6 pseudo-header and the message).
fn icmpv6_checksum(src: &[u8; 16], dst: &[u8; 16], msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            sum += w as u32;
        }
    };
    add(src);
    add(dst);
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, IP_PROTO_ICMPV6]);
    add(msg);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arp_request(sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&sha);
        f.extend_from_slice(&[8, 6, 0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&sha);
        f.extend_from_slice(&spa);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&tpa);
        f
    }

    #[test]
    fn answers_an_arp_request_and_ignores_gratuitous_arp() {
        let a = [2, 0, 0, 0, 0, 1];
        let b = [2, 0, 0, 0, 0, 2];
        let req = arp_request(a, [10, 0, 0, 1], [10, 0, 0, 2]);
        assert_eq!(ask(&req), Some(Ask::Arp(Ipv4Addr::new(10, 0, 0, 2))));
        let rep = arp_reply(&req, Ipv4Addr::new(10, 0, 0, 2), b).unwrap();
        let mut want = a.to_vec();
        want.extend_from_slice(&b);
        want.extend_from_slice(&[8, 6, 0, 1, 8, 0, 6, 4, 0, 2]);
        want.extend_from_slice(&b);
        want.extend_from_slice(&[10, 0, 0, 2]);
        want.extend_from_slice(&a);
        want.extend_from_slice(&[10, 0, 0, 1]);
        assert_eq!(rep, want);
        assert_eq!(ask(&arp_request(a, [10, 0, 0, 1], [10, 0, 0, 1])), None);
        assert_eq!(ask(&req[..30]), None);
    }

    #[test]
    fn answers_a_solicitation_with_a_valid_checksum_and_ignores_dad() {
        let a = [2, 0, 0, 0, 0, 1];
        let b = [2, 0, 0, 0, 0, 2];
        let src: Ipv6Addr = "fd00::1".parse().unwrap();
        let target: Ipv6Addr = "fd00::2".parse().unwrap();
        let ns = |src: Ipv6Addr| {
            let mut f = vec![0x33, 0x33, 0xff, 0, 0, 2];
            f.extend_from_slice(&a);
            f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 32, 58, 255]);
            f.extend_from_slice(&src.octets());
            f.extend_from_slice(&"ff02::1:ff00:2".parse::<Ipv6Addr>().unwrap().octets());
            f.extend_from_slice(&[135, 0, 0, 0, 0, 0, 0, 0]);
            f.extend_from_slice(&target.octets());
            f.extend_from_slice(&[1, 1]);
            f.extend_from_slice(&a);
            f
        };
        assert_eq!(ask(&ns(src)), Some(Ask::Nd(target)));
        assert_eq!(ask(&ns(Ipv6Addr::UNSPECIFIED)), None);
        let na = neighbor_advert(&ns(src), target, b).unwrap();
        assert_eq!(&na[..6], &a);
        assert_eq!(&na[6..12], &b);
        assert_eq!(&na[22..38], &target.octets());
        assert_eq!(&na[38..54], &src.octets());
        assert_eq!(na[54], ICMPV6_NA);
        assert_eq!(&na[na.len() - 6..], &b);
        // A correct checksum makes the sum over pseudo-header + message come out as zero.
        assert_eq!(
            icmpv6_checksum(&target.octets(), &src.octets(), &na[54..]),
            0
        );
    }
}
