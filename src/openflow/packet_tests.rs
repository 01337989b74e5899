//! Frames built by hand; every checksum after a modification is compared with one
//! computed from scratch.

use super::*;

const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

fn eth(ty: u16, tags: &[(u16, u16)], payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&B);
    f.extend_from_slice(&A);
    for &(tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ty.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn csum(data: &[u8]) -> u16 {
    !fold(sum16(0, data))
}

/// IPv4 header (with `opts`, a multiple of 4 bytes) + payload, header checksum set.
fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], opts: &[u8], payload: &[u8]) -> Vec<u8> {
    let hl = 20 + opts.len();
    let mut h = vec![0x40 | (hl / 4) as u8, 0xb8 | 1]; // DSCP 46, ECN 1
    h.extend_from_slice(&((hl + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(opts);
    let c = csum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn ipv6(next: u8, src: u128, dst: u128, payload: &[u8]) -> Vec<u8> {
    // traffic class 0xb9 (DSCP 46, ECN 1), flow label 0x12345
    let w0: u32 = (6 << 28) | (0xb9 << 20) | 0x12345;
    let mut h = w0.to_be_bytes().to_vec();
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&src.to_be_bytes());
    h.extend_from_slice(&dst.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn tcp(sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(data);
    t
}

fn udp(sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    u
}

/// The L4 checksum of the frame's transport header computed from scratch (the field
/// zeroed), with the IPv4 or IPv6 pseudo-header when `pseudo`.
fn l4_from_scratch(f: &[u8], p: &Parsed, csum_at: usize, pseudo: bool) -> u16 {
    let l3 = usize::from(p.off.l3.unwrap());
    let l4 = usize::from(p.off.l4.unwrap());
    let mut seg = f[l4..].to_vec();
    seg[csum_at - l4..csum_at - l4 + 2].fill(0);
    let mut s = 0;
    if pseudo {
        let len = seg.len() as u32;
        if p.key.has(field::IPV4_SRC) {
            s = sum16(s, &f[l3 + 12..l3 + 20]);
            s += u32::from(p.key.ip_proto) + len;
        } else {
            s = sum16(s, &f[l3 + 8..l3 + 40]);
            s += u32::from(p.key.ip_proto) + (len >> 16) + (len & 0xffff);
        }
    }
    !fold(sum16(s, &seg))
}

fn set_l4_checksum(f: &mut [u8], p: &Parsed) -> usize {
    let (at, pseudo) = l4_csum_at(p).unwrap();
    let c = l4_from_scratch(f, p, at, pseudo);
    f[at..at + 2].copy_from_slice(&c.to_be_bytes());
    at
}

fn assert_checksums_ok(f: &[u8], p: &Parsed) {
    if p.key.has(field::IPV4_SRC) {
        let l3 = usize::from(p.off.l3.unwrap());
        let hl = usize::from(f[l3] & 0xf) * 4;
        assert_eq!(
            fold(sum16(0, &f[l3..l3 + hl])),
            0xffff,
            "IPv4 header checksum"
        );
    }
    if let Some((at, pseudo)) = l4_csum_at(p) {
        let stored = read16(f, at);
        if !(p.key.has(field::UDP_SRC) && p.key.has(field::IPV4_SRC) && stored == 0) {
            let want = l4_from_scratch(f, p, at, pseudo);
            // 0 and 0xffff are the same ones'-complement number.
            assert!(
                stored == want || (stored, want) == (0xffff, 0) || (stored, want) == (0, 0xffff),
                "L4 checksum {stored:#x}, from scratch {want:#x}"
            );
        }
    }
}

/// Every prefix of `f` parses without panicking; keys of prefixes never claim more.
fn prefixes_parse(f: &[u8]) {
    for n in 0..f.len() {
        let _ = parse(&f[..n], 1);
    }
}

fn tcp4_frame() -> (Vec<u8>, Parsed) {
    let opts = [1, 1, 1, 0]; // NOP NOP NOP EOL: IHL 6
    let payload = tcp(40000, 80, b"hello, world!");
    let mut f = eth(
        ETH_TYPE_IPV4,
        &[],
        &ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], &opts, &payload),
    );
    let p = parse(&f, 3);
    set_l4_checksum(&mut f, &p);
    (f, p)
}

#[test]
fn tcp_over_ipv4_with_options() {
    let (f, p) = tcp4_frame();
    let k = &p.key;
    assert_eq!(
        (k.in_port, k.eth_dst, k.eth_src, k.eth_type),
        (3, B, A, 0x0800)
    );
    assert_eq!(k.vlan_vid, 0);
    assert!(k.has(field::VLAN_VID) && !k.has(field::VLAN_PCP));
    assert_eq!((k.ip_dscp, k.ip_ecn, k.ip_proto), (46, 1, 6));
    assert_eq!((k.ipv4_src, k.ipv4_dst), (0x0a00_0001, 0x0a00_0002));
    assert_eq!((k.tp_src, k.tp_dst), (40000, 80));
    assert!(k.has(field::TCP_SRC) && k.has(field::TCP_DST) && !k.has(field::UDP_SRC));
    assert_eq!(p.off.l3, Some(14));
    assert_eq!(p.off.l4, Some(14 + 24));
    assert_checksums_ok(&f, &p);
    prefixes_parse(&f);
    // A truncated TCP header: IPv4 fields, no ports.
    let t = parse(&f[..14 + 24 + 10], 3);
    assert!(t.key.has(field::IPV4_SRC) && !t.key.has(field::TCP_SRC) && t.off.l4.is_none());
}

#[test]
fn ipv4_and_tcp_rewrites_keep_checksums() {
    let (mut f, mut p) = tcp4_frame();
    for v in [
        SetField::Ipv4Src(0xc0a8_0101),
        SetField::Ipv4Dst(0x0101_0101),
        SetField::TpSrc(1234),
        SetField::TpDst(8080),
        SetField::IpDscp(10),
        SetField::IpEcn(3),
        SetField::EthDst(A),
        SetField::EthSrc(B),
    ] {
        set_field(&mut f, &mut p, v).unwrap();
        assert_checksums_ok(&f, &p);
        // The key describes the modified frame.
        let mut again = parse(&f, 3);
        again.off.l4_csum_partial = p.off.l4_csum_partial;
        assert_eq!(again, p, "after {v:?}");
    }
    dec_nw_ttl(&mut f, &p).unwrap();
    assert_eq!(f[14 + 8], 63);
    assert_checksums_ok(&f, &p);
    set_nw_ttl(&mut f, &p, 1).unwrap();
    assert_eq!(dec_nw_ttl(&mut f, &p), Err(PacketError::TtlExpired));
    assert_eq!(f[14 + 8], 1, "an expired TTL is left alone");
    assert_checksums_ok(&f, &p);
    assert_eq!(
        set_field(&mut f, &mut p, SetField::IpDscp(64)),
        Err(PacketError::BadValue)
    );
    assert_eq!(
        set_field(&mut f, &mut p, SetField::ArpOp(1)),
        Err(PacketError::MissingHeader)
    );
    assert_eq!(
        set_field(&mut f, &mut p, SetField::Ipv6Src(1)),
        Err(PacketError::MissingHeader)
    );
}

#[test]
fn udp_checksum_zero_means_none_and_nonzero_is_updated() {
    let u = udp(5353, 53, b"query");
    let mut f = eth(
        ETH_TYPE_IPV4,
        &[],
        &ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], &[], &u),
    );
    let mut p = parse(&f, 1);
    assert!(p.key.has(field::UDP_SRC));
    set_field(&mut f, &mut p, SetField::Ipv4Src(0x0a00_0063)).unwrap();
    set_field(&mut f, &mut p, SetField::TpDst(5300)).unwrap();
    assert_eq!(read16(&f, 14 + 20 + 6), 0, "no checksum stays no checksum");
    assert_checksums_ok(&f, &p);

    let mut f = eth(
        ETH_TYPE_IPV4,
        &[],
        &ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], &[], &u),
    );
    let mut p = parse(&f, 1);
    set_l4_checksum(&mut f, &p);
    set_field(&mut f, &mut p, SetField::Ipv4Dst(0x0a00_0063)).unwrap();
    set_field(&mut f, &mut p, SetField::TpSrc(1)).unwrap();
    assert_ne!(read16(&f, 14 + 20 + 6), 0);
    assert_checksums_ok(&f, &p);
}

#[test]
fn qinq_outer_tag_and_push_pop() {
    let payload = ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], &[], &udp(1, 2, b"x"));
    let mut f = eth(
        ETH_TYPE_IPV4,
        &[
            (ETH_TYPE_QINQ, (5 << 13) | 100),
            (ETH_TYPE_VLAN, (3 << 13) | 200),
        ],
        &payload,
    );
    let mut p = parse(&f, 1);
    assert_eq!(p.key.vlan_vid, OFPVID_PRESENT | 100);
    assert_eq!(p.key.vlan_pcp, 5);
    assert_eq!(p.key.eth_type, ETH_TYPE_IPV4);
    assert_eq!(
        (p.off.vlan, p.off.eth_type, p.off.l3),
        (Some(12), Some(20), Some(22))
    );
    assert_eq!(p.key.tp_dst, 2);
    prefixes_parse(&f);

    set_field(&mut f, &mut p, SetField::VlanVid(OFPVID_PRESENT | 7)).unwrap();
    set_field(&mut f, &mut p, SetField::VlanPcp(1)).unwrap();
    assert_eq!(read16(&f, 14), (1 << 13) | 7);
    assert_eq!(parse(&f, 1), p);

    pop_vlan(&mut f, &mut p).unwrap();
    assert_eq!(p.key.vlan_vid, OFPVID_PRESENT | 200);
    assert_eq!(parse(&f, 1), p);
    pop_vlan(&mut f, &mut p).unwrap();
    assert_eq!(p.key.vlan_vid, 0);
    assert!(!p.key.has(field::VLAN_PCP));
    assert_eq!(parse(&f, 1), p);
    assert_eq!(f, eth(ETH_TYPE_IPV4, &[], &payload));
    assert_eq!(pop_vlan(&mut f, &mut p), Err(PacketError::MissingHeader));

    push_vlan(&mut f, &mut p, ETH_TYPE_VLAN).unwrap();
    assert_eq!(p.key.vlan_vid, OFPVID_PRESENT);
    set_field(&mut f, &mut p, SetField::VlanVid(42)).unwrap();
    assert_eq!(parse(&f, 1), p);
    push_vlan(&mut f, &mut p, ETH_TYPE_QINQ).unwrap();
    assert_eq!(
        p.key.vlan_vid,
        OFPVID_PRESENT | 42,
        "the new tag copies the old VID"
    );
    assert_eq!(parse(&f, 1), p);
    assert_eq!(
        f,
        eth(
            ETH_TYPE_IPV4,
            &[(ETH_TYPE_QINQ, 42), (ETH_TYPE_VLAN, 42)],
            &payload
        )
    );
    assert_eq!(
        push_vlan(&mut f, &mut p, 0x0800),
        Err(PacketError::BadValue)
    );
}

#[test]
fn arp_fields_parse_and_set() {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
    a.extend_from_slice(&A);
    a.extend_from_slice(&[10, 0, 0, 1]);
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&[10, 0, 0, 2]);
    let mut f = eth(ETH_TYPE_ARP, &[], &a);
    f.resize(60, 0); // padded to the Ethernet minimum
    let mut p = parse(&f, 2);
    let k = p.key;
    assert_eq!(
        (k.arp_op, k.arp_sha, k.arp_spa, k.arp_tha, k.arp_tpa),
        (1, A, 0x0a00_0001, [0; 6], 0x0a00_0002)
    );
    assert!(!k.has(field::IPV4_SRC));
    prefixes_parse(&f);
    for v in [
        SetField::ArpOp(2),
        SetField::ArpSha(B),
        SetField::ArpSpa(0x0a00_0002),
        SetField::ArpTha(A),
        SetField::ArpTpa(0x0a00_0001),
    ] {
        set_field(&mut f, &mut p, v).unwrap();
    }
    assert_eq!(parse(&f, 2), p);
    assert_eq!((p.key.arp_op, p.key.arp_sha, p.key.arp_tha), (2, B, A));
    assert_eq!(
        set_field(&mut f, &mut p, SetField::TpSrc(1)),
        Err(PacketError::MissingHeader)
    );
}

#[test]
fn ipv6_extension_headers_and_udp() {
    let u = udp(546, 547, b"dhcp");
    // hop-by-hop (8 bytes) → fragment (first fragment, offset 0) → UDP
    let mut ext = vec![44, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[17, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
    ext.extend_from_slice(&u);
    let (s, d) = (
        0xfe80_0000_0000_0000_0000_0000_0000_0001u128,
        0xff02_0000_0000_0000_0000_0000_0001_0002u128,
    );
    let mut f = eth(ETH_TYPE_IPV6, &[], &ipv6(0, s, d, &ext));
    let mut p = parse(&f, 1);
    let k = p.key;
    assert_eq!((k.ipv6_src, k.ipv6_dst, k.ipv6_flabel), (s, d, 0x12345));
    assert_eq!((k.ip_dscp, k.ip_ecn, k.ip_proto), (46, 1, 17));
    assert_eq!(k.ipv6_exthdr, ieh::HOP | ieh::FRAG);
    assert_eq!((k.tp_src, k.tp_dst), (546, 547));
    assert_eq!(p.off.l4, Some(14 + 40 + 16));
    prefixes_parse(&f);
    set_l4_checksum(&mut f, &p);
    for v in [
        SetField::Ipv6Src(s + 5),
        SetField::Ipv6Dst(d - 5),
        SetField::TpSrc(7),
        SetField::IpDscp(0),
        SetField::Ipv6Flabel(0xfffff),
    ] {
        set_field(&mut f, &mut p, v).unwrap();
        assert_checksums_ok(&f, &p);
        assert_eq!(parse(&f, 1), p, "after {v:?}");
    }
    dec_nw_ttl(&mut f, &p).unwrap();
    assert_eq!(f[14 + 7], 63);

    // A later fragment: no L4 fields.
    let mut later = ext.clone();
    later[10] = 0x05; // offset 0x0500 >> 3
    let f = eth(ETH_TYPE_IPV6, &[], &ipv6(0, s, d, &later));
    let p = parse(&f, 1);
    assert_eq!(p.key.ip_proto, 17);
    assert!(!p.key.has(field::UDP_SRC) && p.off.l4.is_none());
    // ESP stops the walk; a repeated hop-by-hop is UNREP.
    let f = eth(ETH_TYPE_IPV6, &[], &ipv6(50, s, d, &[0; 16]));
    assert_eq!(parse(&f, 1).key.ipv6_exthdr, ieh::ESP);
    let hop2 = [0, 0, 0, 0, 0, 0, 0, 0, 59, 0, 0, 0, 0, 0, 0, 0];
    let f = eth(ETH_TYPE_IPV6, &[], &ipv6(0, s, d, &hop2));
    let k = parse(&f, 1).key;
    assert_eq!(k.ipv6_exthdr, ieh::HOP | ieh::UNREP | ieh::NONEXT);
    assert_eq!(k.ip_proto, 59);
}

fn neighbour_solicitation() -> (Vec<u8>, Parsed) {
    let target = 0x2001_0db8_0000_0000_0000_0000_0000_0002u128;
    let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&target.to_be_bytes());
    icmp.extend_from_slice(&[1, 1]);
    icmp.extend_from_slice(&A);
    let src = 0x2001_0db8_0000_0000_0000_0000_0000_0001u128;
    let dst = 0xff02_0000_0000_0000_0000_0001_ff00_0002u128;
    let mut f = eth(ETH_TYPE_IPV6, &[], &ipv6(58, src, dst, &icmp));
    let p = parse(&f, 4);
    set_l4_checksum(&mut f, &p);
    (f, p)
}

#[test]
fn icmpv6_neighbour_discovery() {
    let (mut f, mut p) = neighbour_solicitation();
    let k = p.key;
    assert_eq!((k.icmp_type, k.icmp_code), (135, 0));
    assert!(k.has(field::ICMPV6_TYPE) && !k.has(field::ICMPV4_TYPE));
    assert_eq!(k.ipv6_nd_target, 0x2001_0db8_0000_0000_0000_0000_0000_0002);
    assert!(k.has(field::IPV6_ND_SLL) && !k.has(field::IPV6_ND_TLL));
    assert_eq!(k.ipv6_nd_sll, A);
    prefixes_parse(&f);
    for v in [
        SetField::Ipv6NdTarget(7),
        SetField::Ipv6NdSll(B),
        SetField::Ipv6Src(9),
        SetField::IcmpCode(0),
    ] {
        set_field(&mut f, &mut p, v).unwrap();
        assert_checksums_ok(&f, &p);
        assert_eq!(parse(&f, 4), p, "after {v:?}");
    }
    assert_eq!(
        set_field(&mut f, &mut p, SetField::Ipv6NdTll(A)),
        Err(PacketError::MissingHeader)
    );
    // An advertisement: TLL present even without the option (zero).
    let mut na = vec![136, 0, 0, 0, 0x60, 0, 0, 0];
    na.extend_from_slice(&[0; 16]);
    let f = eth(ETH_TYPE_IPV6, &[], &ipv6(58, 1, 2, &na));
    let k = parse(&f, 4).key;
    assert!(k.has(field::IPV6_ND_TLL) && !k.has(field::IPV6_ND_SLL));
    assert_eq!(k.ipv6_nd_tll, [0; 6]);
}

#[test]
fn icmpv4_echo() {
    let mut icmp = vec![8, 0, 0, 0, 0, 1, 0, 1];
    icmp.extend_from_slice(b"ping");
    let c = csum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = eth(
        ETH_TYPE_IPV4,
        &[],
        &ipv4(1, [10, 0, 0, 1], [10, 0, 0, 2], &[], &icmp),
    );
    let mut p = parse(&f, 1);
    assert_eq!((p.key.icmp_type, p.key.icmp_code), (8, 0));
    assert!(p.key.has(field::ICMPV4_TYPE));
    assert_checksums_ok(&f, &p);
    set_field(&mut f, &mut p, SetField::Ipv4Src(0x0b00_0001)).unwrap();
    set_field(&mut f, &mut p, SetField::IcmpType(0)).unwrap();
    assert_checksums_ok(&f, &p);
    assert_eq!(parse(&f, 1), p);
}

#[test]
fn mpls_push_set_pop() {
    let inner = ipv4(17, [10, 0, 0, 1], [10, 0, 0, 2], &[], &udp(1, 2, b"m"));
    let mut f = eth(ETH_TYPE_IPV4, &[(ETH_TYPE_VLAN, 10)], &inner);
    let mut p = parse(&f, 1);
    push_mpls(&mut f, &mut p, ETH_TYPE_MPLS).unwrap();
    assert_eq!(p.key.eth_type, ETH_TYPE_MPLS);
    assert_eq!((p.key.mpls_label, p.key.mpls_tc, p.key.mpls_bos), (0, 0, 1));
    assert_eq!(p.off.mpls, Some(18));
    assert_eq!(f[18 + 3], 64, "TTL copied from IPv4");
    assert!(
        !p.key.has(field::IPV4_SRC),
        "nothing is matched beyond MPLS"
    );
    set_field(&mut f, &mut p, SetField::MplsLabel(0xabcde)).unwrap();
    set_field(&mut f, &mut p, SetField::MplsTc(5)).unwrap();
    assert_eq!(parse(&f, 1), p);
    assert_eq!(
        set_field(&mut f, &mut p, SetField::MplsLabel(1 << 20)),
        Err(PacketError::BadValue)
    );
    dec_mpls_ttl(&mut f, &p).unwrap();
    assert_eq!(f[18 + 3], 63);
    push_mpls(&mut f, &mut p, ETH_TYPE_MPLS).unwrap();
    assert_eq!(
        (p.key.mpls_label, p.key.mpls_tc, p.key.mpls_bos),
        (0xabcde, 5, 0)
    );
    prefixes_parse(&f);
    pop_mpls(&mut f, &mut p, ETH_TYPE_MPLS).unwrap();
    assert_eq!(p.key.mpls_bos, 1);
    pop_mpls(&mut f, &mut p, ETH_TYPE_IPV4).unwrap();
    assert_eq!(f, eth(ETH_TYPE_IPV4, &[(ETH_TYPE_VLAN, 10)], &inner));
    assert_eq!(p.key.tp_dst, 2);
    set_mpls_ttl(&mut f, &p, 1).unwrap_err();
}

#[test]
fn sctp_port_rewrite_recomputes_crc32c() {
    assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    let mut s = vec![0x0b, 0xb8, 0x0b, 0xb9, 0, 0, 0, 1, 0, 0, 0, 0];
    s.extend_from_slice(&[1, 0, 0, 4]); // a chunk header
    let c = crc32c(&s);
    s[8..12].copy_from_slice(&c.to_le_bytes());
    let mut f = eth(
        ETH_TYPE_IPV4,
        &[],
        &ipv4(132, [10, 0, 0, 1], [10, 0, 0, 2], &[], &s),
    );
    f.resize(f.len() + 4, 0); // Ethernet padding is not part of the SCTP packet
    let mut p = parse(&f, 1);
    assert_eq!((p.key.tp_src, p.key.tp_dst), (3000, 3001));
    assert!(p.key.has(field::SCTP_SRC));
    set_field(&mut f, &mut p, SetField::TpDst(9)).unwrap();
    let l4 = 14 + 20;
    let mut seg = f[l4..l4 + 16].to_vec();
    let stored = u32::from_le_bytes(seg[8..12].try_into().unwrap());
    seg[8..12].fill(0);
    assert_eq!(stored, crc32c(&seg));
    assert_eq!(read16(&f, l4 + 2), 9);
}

#[test]
fn partial_checksum_is_kept_consistent_then_completed() {
    // A CHECKSUM_PARTIAL TCP frame: the field holds the folded pseudo-header sum.
    let (full, _) = tcp4_frame();
    let mut f = full.clone();
    let p0 = parse(&f, 3);
    let (at, _) = l4_csum_at(&p0).unwrap();
    let l3 = 14;
    let l4 = usize::from(p0.off.l4.unwrap());
    let partial_field = |f: &[u8]| {
        let len = (f.len() - l4) as u32;
        fold(sum16(0, &f[l3 + 12..l3 + 20]) + 6 + len)
    };
    let v = partial_field(&f);
    f[at..at + 2].copy_from_slice(&v.to_be_bytes());
    let mut p = p0;
    p.off.l4_csum_partial = true;
    set_field(&mut f, &mut p, SetField::Ipv4Src(0xc0a8_0001)).unwrap();
    set_field(&mut f, &mut p, SetField::TpDst(443)).unwrap();
    assert_eq!(
        read16(&f, at),
        partial_field(&f),
        "still the pseudo-header sum"
    );
    assert!(complete_partial_checksum(&mut f, l4, 16));
    p.off.l4_csum_partial = false;
    assert_checksums_ok(&f, &p);
    assert!(!complete_partial_checksum(&mut f, l4, 10_000));
    assert!(!complete_partial_checksum(&mut f, usize::MAX, 16));
}

#[test]
fn runts_and_8023_frames() {
    let p = parse(&[0; 13], 9);
    assert_eq!(p.key.in_port, 9);
    assert!(!p.key.has(field::ETH_TYPE));
    assert_eq!(p.off, Offsets::default());
    let f = eth(100, &[], &[0xaa, 0xaa, 3]);
    assert_eq!(parse(&f, 1).key.eth_type, ETH_TYPE_NOT_ETH);
    // More tags than we skip: the next TPID is the type.
    let tags = [(ETH_TYPE_VLAN, 1); MAX_VLAN_TAGS + 1];
    let f = eth(ETH_TYPE_IPV4, &tags, &[]);
    assert_eq!(parse(&f, 1).key.eth_type, ETH_TYPE_VLAN);
}

#[test]
fn masks() {
    let (_, p) = tcp4_frame();
    let mut m = FlowKey {
        present: 1 << field::TCP_DST,
        tp_dst: 0xffff,
        ..FlowKey::default()
    };
    let v = p.key.masked(&m);
    assert_eq!(v.tp_dst, 80);
    assert_eq!(v.present, 1 << field::TCP_DST);
    assert_eq!(v.tp_src, 0);
    m.eth_dst = [0xff, 0, 0, 0, 0, 0];
    assert_eq!(p.key.masked(&m).eth_dst, [0x02, 0, 0, 0, 0, 0]);
    assert!(v.is_subset_of(&m));
    assert!(!m.is_subset_of(&v));
}
