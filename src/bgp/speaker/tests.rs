//! Speakers wired to each other in memory: every `Output::Connect` becomes a pair of
//! connections, every `Send` is delivered to the other end, time advances by hand.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ipnet::IpNet;

use super::*;
use crate::bgp::attrs::community;
use crate::bgp::codec::{self, Origin};
use crate::bgp::config::{Afi, PeerConfig, SpeakerConfig};
use crate::time::Duration;

fn v4(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8 + 1))
}

fn v6(i: usize) -> IpAddr {
    format!("2001:db8::{}", i + 1).parse().unwrap()
}

fn pfx(s: &str) -> IpNet {
    s.parse().unwrap()
}

pub(crate) fn peer_cfg(to: usize, remote_as: u32, v6_session: bool) -> PeerConfig {
    PeerConfig {
        name: format!("s{to}"),
        address: if v6_session { v6(to) } else { v4(to) },
        local_address: None,
        port: 179,
        remote_as,
        passive: false,
        multihop: None,
        ttl_security: None,
        password: None,
        rr_client: false,
        next_hop_self: false,
        families: vec![Afi::Ipv4, Afi::Ipv6],
        import: vec![],
        export: vec![],
        hold_time: None,
        next_hops: vec![],
    }
}

pub(crate) fn speaker_cfg(i: usize, asn: u32, peers: Vec<PeerConfig>) -> SpeakerConfig {
    SpeakerConfig {
        asn,
        router_id: Ipv4Addr::new(1, 1, 1, i as u8 + 1),
        cluster_id: None,
        hold_time: 90,
        keepalive: None,
        connect_retry: 5,
        networks: vec![],
        import: vec![],
        export: vec![],
        peers,
        fib: true,
        listen_port: 179,
    }
}

/// Speakers and the connections between them.
pub(crate) struct Net {
    pub now: Instant,
    pub sp: Vec<Speaker>,
    /// (speaker, conn) → (other speaker, other conn).
    links: HashMap<(usize, ConnId), (usize, ConnId)>,
    /// Speakers whose traffic is dropped (a cut link), by pair.
    cut: HashSet<(usize, usize)>,
    next_conn: u64,
    pub fib: Vec<Vec<FibChange>>,
    pub logs: Vec<Vec<String>>,
    /// Every output, per speaker, in order (Send bytes elided to their length).
    pub trace: Vec<Vec<String>>,
    /// Bytes each speaker sent, per connection.
    pub sent: Vec<Vec<(ConnId, Vec<u8>)>>,
}

impl Net {
    pub fn new(cfgs: Vec<SpeakerConfig>) -> Net {
        let now = Instant::from_nanos(1_000_000_000);
        let n = cfgs.len();
        Net {
            now,
            sp: cfgs.into_iter().map(|c| Speaker::new(c, now)).collect(),
            links: HashMap::new(),
            cut: HashSet::new(),
            next_conn: 1,
            fib: vec![vec![]; n],
            logs: vec![vec![]; n],
            trace: vec![vec![]; n],
            sent: vec![vec![]; n],
        }
    }

    pub fn start(&mut self) {
        for i in 0..self.sp.len() {
            self.sp[i].start(self.now);
        }
        self.pump();
    }

    fn addr_of(&self, i: usize, v6_session: bool) -> IpAddr {
        if v6_session { v6(i) } else { v4(i) }
    }

    fn owner(&self, addr: IpAddr) -> Option<usize> {
        (0..self.sp.len()).find(|&i| v4(i) == addr || v6(i) == addr)
    }

    /// Delivers every output until nothing moves.
    pub fn pump(&mut self) {
        let mut work: VecDeque<(usize, Output)> = VecDeque::new();
        loop {
            for i in 0..self.sp.len() {
                while let Some(o) = self.sp[i].poll_output() {
                    work.push_back((i, o));
                }
            }
            let Some((i, o)) = work.pop_front() else {
                return;
            };
            self.trace[i].push(match &o {
                Output::Send { conn, bytes } => format!("send {} {}", conn.0, bytes.len()),
                o => format!("{o:?}"),
            });
            match o {
                Output::Connect { peer } => {
                    let addr = self.sp[i].config().peers[peer].address;
                    let Some(j) = self.owner(addr) else {
                        self.sp[i].handle_connect_failed(self.now, peer);
                        continue;
                    };
                    let me = self.addr_of(i, addr.is_ipv6());
                    let Some(q) = self.sp[j].peer_by_addr(me) else {
                        self.sp[i].handle_connect_failed(self.now, peer);
                        continue;
                    };
                    if self.cut.contains(&(i.min(j), i.max(j))) {
                        self.sp[i].handle_connect_failed(self.now, peer);
                        continue;
                    }
                    let (a, b) = (ConnId(self.next_conn), ConnId(self.next_conn + 1));
                    self.next_conn += 2;
                    self.links.insert((i, a), (j, b));
                    self.links.insert((j, b), (i, a));
                    let sa = SocketAddr::new(me, 40000 + a.0 as u16);
                    let sb = SocketAddr::new(addr, 179);
                    self.sp[i].handle_connected(self.now, peer, a, true);
                    self.sp[i].set_conn_addrs(a, sa, sb);
                    self.sp[j].handle_connected(self.now, q, b, false);
                    self.sp[j].set_conn_addrs(b, sb, sa);
                }
                Output::Send { conn, bytes } => {
                    self.sent[i].push((conn, bytes.clone()));
                    if let Some(&(j, c)) = self.links.get(&(i, conn))
                        && !self.cut.contains(&(i.min(j), i.max(j)))
                    {
                        self.sp[j].handle_data(self.now, c, &bytes);
                    }
                }
                Output::Close { conn } => {
                    if let Some((j, c)) = self.links.remove(&(i, conn)) {
                        self.links.remove(&(j, c));
                        if !self.cut.contains(&(i.min(j), i.max(j))) {
                            self.sp[j].handle_closed(self.now, c);
                        }
                    }
                }
                Output::Fib(f) => self.fib[i].push(f),
                Output::Log(l) => self.logs[i].push(l),
            }
        }
    }

    /// Advances the clock in one-second steps, firing timers.
    pub fn advance(&mut self, secs: u64) {
        for _ in 0..secs {
            self.now += Duration::from_secs(1);
            for i in 0..self.sp.len() {
                if self.sp[i].poll_timeout().is_some_and(|t| t <= self.now) {
                    self.sp[i].handle_timeout(self.now);
                }
            }
            self.pump();
        }
    }

    pub fn cut(&mut self, a: usize, b: usize) {
        self.cut.insert((a.min(b), a.max(b)));
    }

    pub fn established(&self, i: usize) -> usize {
        self.sp[i].summary(self.now).established
    }

    pub fn lookup(&self, i: usize, p: &str) -> Option<RouteView> {
        self.sp[i].lookup(pfx(p), self.now)
    }

    pub fn announce(&mut self, i: usize, prefixes: &[&str]) {
        let routes = prefixes.iter().map(|p| (pfx(p), local(pfx(p)))).collect();
        self.sp[i].announce(self.now, routes);
        self.pump();
    }

    pub fn announce_with(&mut self, i: usize, p: &str, f: impl Fn(&mut PathAttrs)) {
        let mut a = local(pfx(p));
        f(&mut a);
        self.sp[i].announce(self.now, vec![(pfx(p), a)]);
        self.pump();
    }
}

fn local(n: IpNet) -> PathAttrs {
    super::local_attrs(n)
}

/// A line of speakers 0 - 1 - 2 …, each in its own AS (65001, 65002, …) unless `asns` says.
fn line(asns: &[u32]) -> Net {
    let n = asns.len();
    let cfgs = (0..n)
        .map(|i| {
            let mut peers = vec![];
            if i > 0 {
                peers.push(peer_cfg(i - 1, asns[i - 1], false));
            }
            if i + 1 < n {
                peers.push(peer_cfg(i + 1, asns[i + 1], false));
            }
            speaker_cfg(i, asns[i], peers)
        })
        .collect();
    let mut net = Net::new(cfgs);
    net.start();
    net
}

#[test]
fn two_speakers_establish_one_session_despite_the_collision() {
    let net = line(&[65001, 65002]);
    assert_eq!(net.established(0), 1);
    assert_eq!(net.established(1), 1);
    // Both connected at once: one connection was dumped with Cease 6/7.
    let all: Vec<&String> = net.logs.iter().flatten().collect();
    assert!(
        all.iter().any(|l| l.contains("NOTIFICATION sent 6/7")),
        "{all:#?}"
    );
    assert!(all.iter().any(|l| l.contains("session established")));
    let n = &net.sp[0].neighbors(net.now)[0];
    assert_eq!(n.state, "established");
    assert_eq!(n.hold_time, 90);
    assert_eq!(n.families, vec!["ipv4-unicast", "ipv6-unicast"]);
}

#[test]
fn a_passive_peer_waits_and_keepalives_hold_the_session() {
    let mut a = speaker_cfg(0, 65001, vec![peer_cfg(1, 65002, false)]);
    a.peers[0].passive = true;
    let b = speaker_cfg(1, 65002, vec![peer_cfg(0, 65001, false)]);
    let mut net = Net::new(vec![a, b]);
    net.start();
    assert_eq!(net.established(0), 1);
    assert!(!net.trace[0].iter().any(|t| t.starts_with("Connect")));
    net.advance(300);
    assert_eq!(net.established(0), 1);
    assert_eq!(net.established(1), 1);
}

#[test]
fn wrong_peer_as_gets_notification_2_2_before_close() {
    let a = speaker_cfg(0, 65001, vec![peer_cfg(1, 65002, false)]);
    // b expects 65099 from a.
    let b = speaker_cfg(1, 65002, vec![peer_cfg(0, 65099, false)]);
    let mut net = Net::new(vec![a, b]);
    net.start();
    assert_eq!(net.established(1), 0);
    assert!(
        net.logs[1]
            .iter()
            .any(|l| l.contains("NOTIFICATION sent 2/2 (bad peer AS)"))
    );
    assert!(
        net.logs[0]
            .iter()
            .any(|l| l.contains("NOTIFICATION received 2/2"))
    );
    let t = &net.trace[1];
    let notif = t
        .iter()
        .position(|l| l.contains("NOTIFICATION sent 2/2"))
        .unwrap();
    let close = t.iter().skip(notif).position(|l| l.starts_with("Close"));
    assert!(close.is_some(), "{t:#?}");
    assert!(t[notif + 1].starts_with("send"), "{t:#?}");
    let n = &net.sp[1].neighbors(net.now)[0];
    assert_eq!(n.last_error.as_deref(), Some("sent 2/2 (bad peer AS)"));
}

#[test]
fn hold_timer_expiry_sends_4_0_and_withdraws() {
    let mut net = line(&[65001, 65002, 65003]);
    net.announce(0, &["192.0.2.0/24"]);
    assert!(net.lookup(2, "192.0.2.0/24").is_some());
    net.cut(0, 1);
    net.advance(91);
    assert!(
        net.logs[1]
            .iter()
            .any(|l| l.contains("NOTIFICATION sent 4/0 (hold timer expired)"))
    );
    assert!(net.logs[1].iter().any(|l| l.contains("session down")));
    assert!(net.lookup(1, "192.0.2.0/24").is_none());
    assert!(net.lookup(2, "192.0.2.0/24").is_none());
    assert_eq!(
        net.fib[1].last(),
        Some(&FibChange::Remove {
            prefix: pfx("192.0.2.0/24")
        })
    );
}

#[test]
fn ebgp_propagation_prepends_and_sets_next_hop() {
    let mut net = line(&[65001, 65002, 65003]);
    net.announce_with(0, "192.0.2.0/24", |a| {
        a.communities = vec![(65001 << 16) | 7];
        a.large_communities = vec![[65001, 1, 2]];
        a.med = Some(10);
    });
    let r1 = net.lookup(1, "192.0.2.0/24").unwrap();
    assert_eq!(r1.as_path, "65001");
    assert_eq!(r1.next_hop, "10.0.0.1");
    assert_eq!(r1.med, Some(10)); // set by the originator: sent to its neighbour AS
    assert_eq!(r1.communities, vec!["65001:7"]);
    assert_eq!(r1.large_communities, vec!["65001:1:2"]);
    assert_eq!(r1.source, "s0");
    let r2 = net.lookup(2, "192.0.2.0/24").unwrap();
    assert_eq!(r2.as_path, "65002 65001");
    assert_eq!(r2.next_hop, "10.0.0.2");
    assert_eq!(r2.med, None); // MED from one neighbour AS is not passed to another
    assert_eq!(r2.local_pref, None);
    // FIB: the peers' routes, never our own.
    assert!(net.fib[0].is_empty());
    assert_eq!(
        net.fib[2],
        vec![FibChange::Replace {
            prefix: pfx("192.0.2.0/24"),
            next_hop: v4(1),
            new: true
        }]
    );
    // Views.
    let s = net.sp[2].summary(net.now);
    assert_eq!((s.loc_rib, s.fib_installed), (1, 1));
    assert_eq!(net.sp[1].adj_out(1, net.now).len(), 1);
    assert_eq!(net.sp[1].adj_in(0, net.now).len(), 1);
    let n = &net.sp[1].neighbors(net.now)[0];
    assert_eq!((n.received, n.accepted, n.advertised), (1, 1, 0));
    // Withdraw: gone everywhere, FIB removal.
    net.sp[0].withdraw(net.now, &[pfx("192.0.2.0/24")]);
    net.pump();
    assert!(net.lookup(2, "192.0.2.0/24").is_none());
    assert_eq!(net.sp[2].loc_rib_len(), 0);
    assert_eq!(
        net.fib[2].last(),
        Some(&FibChange::Remove {
            prefix: pfx("192.0.2.0/24")
        })
    );
}

#[test]
fn ipv6_goes_over_mp_reach_on_an_ipv6_session() {
    let cfgs = vec![
        speaker_cfg(0, 65001, vec![peer_cfg(1, 65002, true)]),
        speaker_cfg(
            1,
            65002,
            vec![peer_cfg(0, 65001, true), peer_cfg(2, 65003, true)],
        ),
        speaker_cfg(2, 65003, vec![peer_cfg(1, 65002, true)]),
    ];
    let mut net = Net::new(cfgs);
    net.start();
    net.announce(0, &["2001:db8:100::/48", "192.0.2.0/24"]);
    let r = net.lookup(2, "2001:db8:100::/48").unwrap();
    assert_eq!(r.next_hop, "2001:db8::2");
    assert_eq!(r.as_path, "65002 65001");
    assert_eq!(
        net.fib[2],
        vec![FibChange::Replace {
            prefix: pfx("2001:db8:100::/48"),
            next_hop: v6(1),
            new: true
        }]
    );
    // IPv4 over an IPv6 session: no IPv4 next hop of ours, so not sent.
    assert!(net.lookup(1, "192.0.2.0/24").is_none());
    net.sp[0].withdraw(net.now, &[pfx("2001:db8:100::/48")]);
    net.pump();
    assert!(net.lookup(2, "2001:db8:100::/48").is_none());
}

#[test]
fn as_loop_is_dropped() {
    // 0 (65001) - 1 (65002) - 2 (65001): 2 must drop 0's route.
    let mut net = line(&[65001, 65002, 65001]);
    net.announce(0, &["192.0.2.0/24"]);
    assert!(net.lookup(1, "192.0.2.0/24").is_some());
    assert!(net.lookup(2, "192.0.2.0/24").is_none());
    assert!(net.fib[2].is_empty());
}

#[test]
fn networks_from_config_are_announced_at_start() {
    let mut a = speaker_cfg(0, 65001, vec![peer_cfg(1, 65002, false)]);
    a.networks = vec![pfx("198.51.100.0/24")];
    let b = speaker_cfg(1, 65002, vec![peer_cfg(0, 65001, false)]);
    let mut net = Net::new(vec![a, b]);
    net.start();
    let r = net.lookup(1, "198.51.100.0/24").unwrap();
    assert_eq!(r.origin, "igp");
    assert_eq!(r.as_path, "65001");
    let own = net.lookup(0, "198.51.100.0/24").unwrap();
    assert_eq!(own.source, "local");
    assert!(net.fib[0].is_empty());
}

#[test]
fn no_export_stays_in_the_as() {
    // 0 and 1 share AS 65001 (iBGP); 2 is outside.
    let mut net = line(&[65001, 65001, 65002]);
    net.announce_with(0, "192.0.2.0/24", |a| {
        a.communities = vec![community::NO_EXPORT]
    });
    let r = net.lookup(1, "192.0.2.0/24").unwrap();
    assert_eq!(r.communities, vec!["no-export"]);
    assert!(net.lookup(2, "192.0.2.0/24").is_none());
    net.announce_with(0, "192.0.2.128/25", |a| {
        a.communities = vec![community::NO_ADVERTISE]
    });
    assert!(net.lookup(1, "192.0.2.128/25").is_none());
}

#[test]
fn a_two_octet_as_path_crosses_as4() {
    // 0 (4-octet AS) → 1 → 2: the path keeps the 4-octet AS end to end.
    let mut net = line(&[4_200_000_001, 65002, 65003]);
    net.announce(0, &["192.0.2.0/24"]);
    assert_eq!(
        net.lookup(2, "192.0.2.0/24").unwrap().as_path,
        "65002 4200000001"
    );
}

#[test]
fn end_of_rib_follows_the_initial_dump() {
    let net = line(&[65001, 65002]);
    // Speaker 0's first UPDATEs on the session: End-of-RIB for both families.
    let params = codec::SessionParams {
        four_octet_as: true,
        extended_messages: true,
        ..Default::default()
    };
    let mut eor = vec![];
    for (_, bytes) in &net.sent[0] {
        let mut b = &bytes[..];
        while let Ok(Some(n)) = codec::frame_len(b, &params) {
            if let Ok(codec::Message::Update(u)) = codec::parse(&b[..n], &params) {
                eor.extend(codec::is_end_of_rib(&u));
            }
            b = &b[n..];
        }
    }
    assert_eq!(
        eor,
        vec![codec::Family::IPV4_UNICAST, codec::Family::IPV6_UNICAST]
    );
}

#[test]
fn origin_is_igp_for_announced_routes() {
    let mut net = line(&[65001, 65002]);
    net.announce_with(0, "192.0.2.0/24", |a| a.origin = Origin::Incomplete);
    assert_eq!(net.lookup(1, "192.0.2.0/24").unwrap().origin, "incomplete");
}

// ---- iBGP, route reflection, groups, refresh ----

/// Speakers by (AS, links) where each link is (a, b): sessions between a and b.
fn mesh(asns: &[u32], links: &[(usize, usize)], tweak: impl Fn(usize, &mut SpeakerConfig)) -> Net {
    let cfgs = (0..asns.len())
        .map(|i| {
            let peers = links
                .iter()
                .filter_map(|&(a, b)| {
                    if a == i {
                        Some(peer_cfg(b, asns[b], false))
                    } else if b == i {
                        Some(peer_cfg(a, asns[a], false))
                    } else {
                        None
                    }
                })
                .collect();
            let mut c = speaker_cfg(i, asns[i], peers);
            tweak(i, &mut c);
            c
        })
        .collect();
    let mut net = Net::new(cfgs);
    net.start();
    net
}

fn peer_named(c: &mut SpeakerConfig, to: usize) -> &mut PeerConfig {
    let name = format!("s{to}");
    c.peers.iter_mut().find(|p| p.name == name).unwrap()
}

fn best_attrs(net: &Net, i: usize, p: &str) -> Option<PathAttrs> {
    net.sp[i]
        .best_paths()
        .into_iter()
        .find(|(q, _, _)| *q == pfx(p))
        .map(|(_, _, a)| (*a).clone())
}

#[test]
fn ibgp_split_horizon_and_next_hop_unchanged() {
    // 0 (65001) = 1 (65002) - 2 (65002) - 3 (65002): 1-2 and 2-3 iBGP, no full mesh.
    let mut net = mesh(
        &[65001, 65002, 65002, 65002],
        &[(0, 1), (1, 2), (2, 3)],
        |_, _| {},
    );
    net.announce(0, &["192.0.2.0/24"]);
    let r2 = net.lookup(2, "192.0.2.0/24").unwrap();
    assert_eq!(r2.next_hop, "10.0.0.1"); // eBGP next hop kept inside the AS
    assert_eq!(r2.local_pref, Some(100));
    assert_eq!(r2.as_path, "65001");
    assert!(
        net.lookup(3, "192.0.2.0/24").is_none(),
        "iBGP-learned routes are not passed on"
    );
}

#[test]
fn next_hop_self_toward_ibgp() {
    let mut net = mesh(&[65001, 65002, 65002], &[(0, 1), (1, 2)], |i, c| {
        if i == 1 {
            peer_named(c, 2).next_hop_self = true;
        }
    });
    net.announce(0, &["192.0.2.0/24"]);
    assert_eq!(net.lookup(2, "192.0.2.0/24").unwrap().next_hop, "10.0.0.2");
}

#[test]
fn route_reflector_reflects_with_originator_and_cluster_list() {
    // 2 reflects for clients 1 and 3; 4 is a non-client.
    let mut net = mesh(
        &[65001, 65002, 65002, 65002, 65002],
        &[(0, 1), (1, 2), (2, 3), (2, 4)],
        |i, c| {
            if i == 2 {
                peer_named(c, 1).rr_client = true;
                peer_named(c, 3).rr_client = true;
            }
        },
    );
    net.announce(0, &["192.0.2.0/24"]);
    for i in [3, 4] {
        let a = best_attrs(&net, i, "192.0.2.0/24").unwrap();
        assert_eq!(
            a.originator_id,
            Some(Ipv4Addr::new(1, 1, 1, 2)),
            "speaker {i}"
        );
        assert_eq!(a.cluster_list, vec![Ipv4Addr::new(1, 1, 1, 3)]);
        assert_eq!(a.next_hop, v4(0));
    }
    // A non-client's route goes to clients only.
    net.announce(4, &["198.51.100.0/24"]);
    assert!(net.lookup(3, "198.51.100.0/24").is_some());
    assert!(net.lookup(1, "198.51.100.0/24").is_some());
}

#[test]
fn a_reflected_route_back_in_its_cluster_is_dropped() {
    // 1 and 2 reflect in one cluster (10.9.9.9) for client 0; 1 - 2 non-client.
    let mut net = mesh(&[65002, 65002, 65002], &[(0, 1), (0, 2), (1, 2)], |i, c| {
        if i > 0 {
            c.cluster_id = Some(Ipv4Addr::new(10, 9, 9, 9));
            peer_named(c, 0).rr_client = true;
        }
    });
    net.announce(0, &["192.0.2.0/24"]);
    // 1 reflects 0's route to 2 with CLUSTER_LIST [10.9.9.9]; 2 drops it (and vice versa).
    assert_eq!(net.sp[1].adj_out(1, net.now).len(), 1);
    assert!(net.sp[2].adj_in(1, net.now).is_empty());
    assert!(net.sp[1].adj_in(1, net.now).is_empty());
    assert_eq!(net.lookup(2, "192.0.2.0/24").unwrap().source, "s0");
}

#[test]
fn identical_ibgp_peers_share_one_encoding() {
    // 1 has three iBGP peers with the same settings: one update group.
    let mut net = mesh(
        &[65001, 65002, 65002, 65002, 65002],
        &[(0, 1), (1, 2), (1, 3), (1, 4)],
        |_, _| {},
    );
    let before = net.sp[1].update_encodes();
    net.announce(0, &["192.0.2.0/24", "192.0.2.128/25"]);
    assert_eq!(net.sp[1].update_encodes() - before, 1);
    for i in [2, 3, 4] {
        assert!(net.lookup(i, "192.0.2.128/25").is_some());
    }
    // A route from one member goes to the others, not back: that member differs.
    let before = net.sp[1].update_encodes();
    net.announce(2, &["203.0.113.0/24"]);
    assert!(net.lookup(0, "203.0.113.0/24").is_some());
    assert!(
        net.lookup(3, "203.0.113.0/24").is_none(),
        "iBGP split horizon"
    );
    assert_eq!(
        net.sp[1].update_encodes() - before,
        1,
        "only toward speaker 0"
    );
}

#[test]
fn session_close_withdraws_from_the_others() {
    let mut net = line(&[65001, 65002, 65003]);
    net.announce(0, &["192.0.2.0/24"]);
    assert!(net.lookup(2, "192.0.2.0/24").is_some());
    // Speaker 0's connection closes (EOF) under speaker 1.
    let conn = net.sp[1].peers[0].up.as_ref().unwrap().conn;
    net.sp[1].handle_closed(net.now, conn);
    net.pump();
    assert!(net.lookup(2, "192.0.2.0/24").is_none());
    assert!(net.logs[1].iter().any(|l| l.contains("session down")));
    // The peers come back after the connect-retry time.
    net.advance(10);
    assert_eq!(net.established(1), 2);
    assert!(net.lookup(2, "192.0.2.0/24").is_some());
}

fn messages(bytes: &[u8]) -> Vec<codec::Message> {
    let params = codec::SessionParams {
        four_octet_as: true,
        extended_messages: true,
        ..Default::default()
    };
    let mut v = vec![];
    let mut b = bytes;
    while let Ok(Some(n)) = codec::frame_len(b, &params) {
        v.extend(codec::parse(&b[..n], &params));
        b = &b[n..];
    }
    v
}

#[test]
fn route_refresh_resends_between_borr_and_eorr() {
    let mut net = line(&[65001, 65002]);
    net.announce(0, &["192.0.2.0/24"]);
    let sent_before = net.sent[0].len();
    net.sp[1].refresh(net.now, 0);
    net.pump();
    let out: Vec<codec::Message> = net.sent[0][sent_before..]
        .iter()
        .flat_map(|(_, b)| messages(b))
        .collect();
    let rr = |f, subtype| codec::Message::RouteRefresh(codec::RouteRefresh { family: f, subtype });
    let v4f = codec::Family::IPV4_UNICAST;
    let borr = out.iter().position(|m| *m == rr(v4f, 1)).expect("BoRR");
    let eorr = out.iter().position(|m| *m == rr(v4f, 2)).expect("EoRR");
    let upd = out
        .iter()
        .position(|m| matches!(m, codec::Message::Update(u) if u.nlri.iter().any(|n| n.prefix == pfx("192.0.2.0/24"))))
        .expect("the route again");
    assert!(borr < upd && upd < eorr);
    assert!(net.lookup(1, "192.0.2.0/24").is_some());
}

// ---- one speaker fed raw UPDATEs by hand-made peers ----

/// A speaker whose peers are all passive and brought up by hand: the OPEN and KEEPALIVE
/// of peer `i` come from BGP identifier 2.2.2.(i+2).
fn raw(cfg: SpeakerConfig) -> (Speaker, Instant) {
    raw_with(cfg, true)
}

/// [`raw`], the peers announcing the 4-octet AS capability or not.
fn raw_with(cfg: SpeakerConfig, four_octet: bool) -> (Speaker, Instant) {
    let now = Instant::from_nanos(1);
    let mut s = Speaker::new(cfg, now);
    s.start(now);
    for pid in 0..s.config().peers.len() {
        let asn = s.config().peers[pid].remote_as;
        let open = codec::Open {
            my_as: u16::try_from(asn).unwrap_or(codec::AS_TRANS),
            hold_time: 90,
            bgp_id: Ipv4Addr::new(2, 2, 2, pid as u8 + 2),
            capabilities: [
                codec::Capability::Multiprotocol(codec::Family::IPV4_UNICAST),
                codec::Capability::Multiprotocol(codec::Family::IPV6_UNICAST),
            ]
            .into_iter()
            .chain(four_octet.then_some(codec::Capability::FourOctetAs(asn)))
            .collect(),
        };
        let p = codec::SessionParams::default();
        let mut b = codec::to_bytes(&codec::Message::Open(open), &p);
        b.extend(codec::to_bytes(&codec::Message::Keepalive, &p));
        let conn = ConnId(pid as u64 + 1);
        s.handle_connected(now, pid, conn, false);
        s.handle_data(now, conn, &b);
    }
    assert_eq!(s.summary(now).established, s.config().peers.len());
    while s.poll_output().is_some() {}
    (s, now)
}

fn path(asns: &[u32]) -> codec::Attr {
    codec::Attr::AsPath(vec![codec::Segment {
        kind: codec::SegmentKind::Sequence,
        asns: asns.to_vec(),
    }])
}

fn feed(s: &mut Speaker, now: Instant, pid: usize, attrs: Vec<codec::Attr>, prefixes: &[&str]) {
    let u = codec::Update {
        withdrawn: vec![],
        attrs,
        nlri: prefixes
            .iter()
            .map(|p| codec::Nlri {
                path_id: None,
                prefix: pfx(p),
            })
            .collect(),
    };
    let params = codec::SessionParams {
        four_octet_as: true,
        ..Default::default()
    };
    s.handle_data(
        now,
        ConnId(pid as u64 + 1),
        &codec::to_bytes(&codec::Message::Update(u), &params),
    );
}

fn attrs(asns: &[u32], nh: usize, extra: Vec<codec::Attr>) -> Vec<codec::Attr> {
    let mut v = vec![
        codec::Attr::Origin(Origin::Igp),
        path(asns),
        codec::Attr::NextHop(Ipv4Addr::new(10, 0, 0, nh as u8 + 1)),
    ];
    v.extend(extra);
    v
}

#[test]
fn lower_med_wins_among_paths_from_one_neighbour_as() {
    let cfg = speaker_cfg(
        0,
        65001,
        vec![peer_cfg(1, 65002, false), peer_cfg(2, 65002, false)],
    );
    let (mut s, now) = raw(cfg);
    feed(
        &mut s,
        now,
        0,
        attrs(&[65002], 1, vec![codec::Attr::Med(50)]),
        &["192.0.2.0/24"],
    );
    feed(
        &mut s,
        now,
        1,
        attrs(&[65002], 2, vec![codec::Attr::Med(10)]),
        &["192.0.2.0/24"],
    );
    let r = s.lookup(pfx("192.0.2.0/24"), now).unwrap();
    assert_eq!((r.source.as_str(), r.med), ("s2", Some(10)));
    assert_eq!(s.routes(now).len(), 2);
    let fib: Vec<Output> = std::iter::from_fn(|| s.poll_output())
        .filter(|o| matches!(o, Output::Fib(_)))
        .collect();
    assert_eq!(
        fib,
        vec![
            Output::Fib(FibChange::Replace {
                prefix: pfx("192.0.2.0/24"),
                next_hop: v4(1),
                new: true
            }),
            Output::Fib(FibChange::Replace {
                prefix: pfx("192.0.2.0/24"),
                next_hop: v4(2),
                new: false
            })
        ]
    );
    // The better path goes: back to the other one, FIB follows.
    let w = codec::Update {
        withdrawn: vec![codec::Nlri {
            path_id: None,
            prefix: pfx("192.0.2.0/24"),
        }],
        ..Default::default()
    };
    let params = codec::SessionParams {
        four_octet_as: true,
        ..Default::default()
    };
    s.handle_data(
        now,
        ConnId(2),
        &codec::to_bytes(&codec::Message::Update(w), &params),
    );
    assert_eq!(s.lookup(pfx("192.0.2.0/24"), now).unwrap().source, "s1");
}

#[test]
fn higher_local_pref_wins_over_a_shorter_path() {
    let cfg = speaker_cfg(
        0,
        65001,
        vec![peer_cfg(1, 65001, false), peer_cfg(2, 65001, false)],
    );
    let (mut s, now) = raw(cfg);
    feed(
        &mut s,
        now,
        0,
        attrs(&[65010], 1, vec![codec::Attr::LocalPref(100)]),
        &["192.0.2.0/24"],
    );
    feed(
        &mut s,
        now,
        1,
        attrs(&[65020, 65021, 65022], 2, vec![codec::Attr::LocalPref(200)]),
        &["192.0.2.0/24"],
    );
    let r = s.lookup(pfx("192.0.2.0/24"), now).unwrap();
    assert_eq!((r.source.as_str(), r.local_pref), ("s2", Some(200)));
}

#[test]
fn fib_changes_are_coalesced_per_batch() {
    let cfg = speaker_cfg(0, 65001, vec![peer_cfg(1, 65002, false)]);
    let (mut s, now) = raw(cfg);
    let params = codec::SessionParams {
        four_octet_as: true,
        ..Default::default()
    };
    let one = |nh: usize| {
        codec::to_bytes(
            &codec::Message::Update(codec::Update {
                withdrawn: vec![],
                attrs: attrs(&[65002], nh, vec![]),
                nlri: vec![codec::Nlri {
                    path_id: None,
                    prefix: pfx("192.0.2.0/24"),
                }],
            }),
            &params,
        )
    };
    // Three UPDATEs in one read: one FIB change, to the last next hop.
    let mut b = one(5);
    b.extend(one(6));
    b.extend(one(7));
    s.handle_data(now, ConnId(1), &b);
    let fib: Vec<Output> = std::iter::from_fn(|| s.poll_output())
        .filter(|o| matches!(o, Output::Fib(_)))
        .collect();
    assert_eq!(
        fib,
        vec![Output::Fib(FibChange::Replace {
            prefix: pfx("192.0.2.0/24"),
            next_hop: v4(7),
            new: true
        })]
    );
}

#[test]
fn ibgp_loops_by_originator_id_are_dropped() {
    let cfg = speaker_cfg(0, 65001, vec![peer_cfg(1, 65001, false)]);
    let (mut s, now) = raw(cfg);
    let own = Ipv4Addr::new(1, 1, 1, 1);
    feed(
        &mut s,
        now,
        0,
        attrs(&[], 1, vec![codec::Attr::OriginatorId(own)]),
        &["192.0.2.0/24"],
    );
    assert!(s.lookup(pfx("192.0.2.0/24"), now).is_none());
    feed(
        &mut s,
        now,
        0,
        attrs(&[], 1, vec![codec::Attr::ClusterList(vec![own])]),
        &["192.0.2.0/24"],
    );
    assert!(s.lookup(pfx("192.0.2.0/24"), now).is_none());
    feed(&mut s, now, 0, attrs(&[], 1, vec![]), &["192.0.2.0/24"]);
    assert!(s.lookup(pfx("192.0.2.0/24"), now).is_some());
}

#[test]
fn interned_attributes_are_shared() {
    let cfg = speaker_cfg(0, 65001, vec![peer_cfg(1, 65002, false)]);
    let (mut s, now) = raw(cfg);
    let many: Vec<String> = (0..100).map(|i| format!("10.{i}.0.0/16")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    feed(&mut s, now, 0, attrs(&[65002], 1, vec![]), &many[..50]);
    feed(&mut s, now, 0, attrs(&[65002], 1, vec![]), &many[50..]);
    feed(
        &mut s,
        now,
        0,
        attrs(&[65002, 65003], 1, vec![]),
        &["192.0.2.0/24"],
    );
    let sum = s.summary(now);
    assert_eq!((sum.loc_rib, sum.attr_sets), (101, 2));
    let best = s.best_paths();
    assert!(std::sync::Arc::ptr_eq(&best[0].2, &best[1].2));
}

#[test]
fn a_malformed_attribute_withdraws_its_routes_and_keeps_the_session() {
    let cfg = speaker_cfg(0, 65001, vec![peer_cfg(1, 65002, false)]);
    let (mut s, now) = raw(cfg);
    feed(
        &mut s,
        now,
        0,
        attrs(&[65002], 1, vec![]),
        &["192.0.2.0/24"],
    );
    assert!(s.lookup(pfx("192.0.2.0/24"), now).is_some());
    // The same prefix again with an invalid ORIGIN (value 7): treat-as-withdraw.
    let mut b = codec::to_bytes(
        &codec::Message::Update(codec::Update {
            withdrawn: vec![],
            attrs: attrs(&[65002], 1, vec![]),
            nlri: vec![codec::Nlri {
                path_id: None,
                prefix: pfx("192.0.2.0/24"),
            }],
        }),
        &codec::SessionParams {
            four_octet_as: true,
            ..Default::default()
        },
    );
    // ORIGIN is the first attribute: flags, type 1, length 1, value.
    let at = b.windows(3).position(|w| w == [0x40, 1, 1]).unwrap() + 3;
    b[at] = 7;
    s.handle_data(now, ConnId(1), &b);
    assert!(s.lookup(pfx("192.0.2.0/24"), now).is_none());
    assert_eq!(s.summary(now).established, 1);
}

#[test]
fn two_octet_peers_get_as4_path_both_ways() {
    let mut cfg = speaker_cfg(
        0,
        65001,
        vec![peer_cfg(1, 65002, false), peer_cfg(2, 65003, false)],
    );
    cfg.peers[1].local_address = Some(v4(0));
    let (mut s, now) = raw_with(cfg, false);
    // From 2-octet peer 65002: AS_PATH with AS_TRANS, the real AS in AS4_PATH.
    let u = codec::Update {
        withdrawn: vec![],
        attrs: vec![
            codec::Attr::Origin(Origin::Igp),
            path(&[65002, 4_200_000_005]),
            codec::Attr::NextHop(Ipv4Addr::new(10, 0, 0, 2)),
            codec::Attr::As4Path(vec![codec::Segment {
                kind: codec::SegmentKind::Sequence,
                asns: vec![4_200_000_005],
            }]),
        ],
        nlri: vec![codec::Nlri {
            path_id: None,
            prefix: pfx("192.0.2.0/24"),
        }],
    };
    let two = codec::SessionParams::default();
    s.handle_data(
        now,
        ConnId(1),
        &codec::to_bytes(&codec::Message::Update(u), &two),
    );
    assert_eq!(
        s.lookup(pfx("192.0.2.0/24"), now).unwrap().as_path,
        "65002 4200000005"
    );
    // Toward 2-octet peer 65003: AS_TRANS on the wire, AS4_PATH with the whole path.
    let sent: Vec<u8> = std::iter::from_fn(|| s.poll_output())
        .filter_map(|o| match o {
            Output::Send {
                conn: ConnId(2),
                bytes,
            } => Some(bytes),
            _ => None,
        })
        .flatten()
        .collect();
    let mut b = &sent[..];
    let mut seen = false;
    while let Ok(Some(n)) = codec::frame_len(b, &two) {
        if let Ok(codec::Message::Update(u)) = codec::parse(&b[..n], &two)
            && !u.nlri.is_empty()
        {
            assert!(
                u.attrs
                    .contains(&path(&[65001, 65002, u32::from(codec::AS_TRANS)]))
            );
            assert!(u.attrs.contains(&codec::Attr::As4Path(vec![codec::Segment {
                kind: codec::SegmentKind::Sequence,
                asns: vec![65001, 65002, 4_200_000_005],
            }])));
            seen = true;
        }
        b = &b[n..];
    }
    assert!(seen);
}

#[test]
fn batch_numbers_wrap_and_a_prefix_changed_twice_in_one_batch_ends_right() {
    let mut net = line(&[65001, 65002]);
    for s in &mut net.sp {
        s.batch = u16::MAX - 3;
    }
    let p = pfx("192.0.2.0/24");
    let q = pfx("198.51.100.0/24");
    for round in 0..8u32 {
        let mut a = local(p);
        a.med = Some(round);
        let mut b = local(p);
        b.med = Some(round + 100);
        // One call is one batch: `p` changes twice in it, `q` once.
        net.sp[0].announce(net.now, vec![(p, a), (q, local(q)), (p, b)]);
        net.pump();
        assert_eq!(
            net.lookup(1, "192.0.2.0/24").unwrap().med,
            Some(round + 100)
        );
        assert!(net.lookup(1, "198.51.100.0/24").is_some());
        if round % 3 == 2 {
            net.sp[0].withdraw(net.now, &[p, q]);
            net.pump();
            assert!(net.lookup(1, "192.0.2.0/24").is_none());
            assert_eq!(net.sp[1].loc_rib_len(), 0);
            assert_eq!(
                net.sp[0].loc_rib_len(),
                0,
                "withdrawn prefixes leave the map"
            );
        }
    }
    assert!(
        net.sp.iter().all(|s| s.batch < 100),
        "the batch numbers wrapped"
    );
    let s = net.sp[1].summary(net.now);
    assert_eq!((s.loc_rib, s.fib_installed), (2, 2));
    // The FIB got every change, the last one the route via speaker 0.
    assert_eq!(
        net.fib[1]
            .iter()
            .filter(|c| matches!(c, FibChange::Remove { .. }))
            .count(),
        4
    );
}
