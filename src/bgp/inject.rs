//! Synthetic routes for benchmarks and labs: N unique prefixes with a realistic prefix-length
//! mix, AS paths of 1–8 hops and communities, deterministic from a seed.
//!
//! ```text
//!   seed ─▶ paths: ~n/6 distinct attribute sets (first hop: one of origin_as's neighbours)
//!        └▶ prefixes: length drawn from the table below, address drawn from public space,
//!           each pointing at a path (skewed: a few paths carry many prefixes)
//! ```
//!
//! The shape is an approximation of public routing-table reports — the prefix-length
//! histograms of RIPE NCC RIS ("Visibility of prefix lengths in IPv4 and IPv6", RIPE Labs)
//! and the daily BGP table reports at potaroo.net: IPv4 tables are dominated by /24 (more
//! than half of all entries), then /22, /23, /21, /20, /19, with a local peak at /16 and a
//! thin tail of shorter prefixes; IPv6 tables by /48, then /32, /44, /40, /36, /29. The
//! weights in [`V4_LENGTHS`] and [`V6_LENGTHS`] are our rounding of that shape, not
//! measured counts. AS path lengths (without the injecting speaker's own AS) peak at 3–4
//! hops, as the average path lengths in those reports suggest; distinct attribute sets
//! number about one per six prefixes.
//!
//! Address space: IPv4 from 1.0.0.0–223.255.255.255 minus every /8 that holds private,
//! shared, loopback, link-local or documentation space (0, 10, 100, 127, 169, 172, 192,
//! 198, 203) — so never a lab pool (10/8, 172.16/12, 192.168/16); IPv6 from
//! 2400::–2fff:ffff:… (global unicast, away from 2001:db8::/32, 2002::/16 and fd00::/8).
//! AS numbers are public ones (1–64495 minus 23456, 131072–399999), never private or
//! reserved, and never `origin_as`, so a lab speaker with a private AS accepts every path.
//! The next hop is unspecified (0.0.0.0 or ::): the announcing speaker sets its own.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::attrs::PathAttrs;
use super::codec::{Origin, Segment, SegmentKind};
use super::fxhash::FxBuild;

/// IPv4 prefix lengths and their weights (parts per million).
pub const V4_LENGTHS: [(u8, u32); 17] = [
    (24, 622_070),
    (22, 115_000),
    (23, 95_000),
    (21, 52_000),
    (20, 48_000),
    (19, 26_000),
    (16, 14_000),
    (18, 14_000),
    (17, 9_000),
    (15, 2_000),
    (14, 1_500),
    (13, 800),
    (12, 400),
    (11, 150),
    (10, 50),
    (9, 20),
    (8, 10),
];

/// IPv6 prefix lengths and their weights (parts per million).
pub const V6_LENGTHS: [(u8, u32); 18] = [
    (48, 520_000),
    (32, 130_000),
    (44, 80_000),
    (40, 70_000),
    (36, 40_000),
    (29, 30_000),
    (46, 25_000),
    (47, 20_000),
    (45, 15_000),
    (42, 15_000),
    (33, 10_000),
    (34, 10_000),
    (30, 8_000),
    (38, 8_000),
    (28, 7_000),
    (31, 5_000),
    (35, 4_000),
    (41, 3_000),
];

/// AS path lengths 1..=8 (weights in percent).
const PATH_LENGTHS: [u32; 8] = [5, 15, 30, 25, 13, 7, 3, 2];

/// First octets never used for IPv4 (see the module doc).
const V4_SKIP: [u8; 9] = [0, 10, 100, 127, 169, 172, 192, 198, 203];

/// How many routes of each family, as weights: `Mix { v4: 4, v6: 1 }` makes one IPv6 route
/// per four IPv4 ones (the exact split is `n * v6 / (v4 + v6)` IPv6 routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub v4: u32,
    pub v6: u32,
}

impl Mix {
    pub const V4: Mix = Mix { v4: 1, v6: 0 };
    pub const V6: Mix = Mix { v4: 0, v6: 1 };
    /// A few IPv4 routes per IPv6 route, as in today's full tables.
    pub const INTERNET: Mix = Mix { v4: 4, v6: 1 };
}

/// Routes and the distinct attribute sets they share.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Distinct by construction of their first AS, last AS and communities (duplicates can
    /// occur and only mean more sharing).
    pub paths: Vec<PathAttrs>,
    /// Prefix and the index of its path in `paths`: IPv4 routes first, then IPv6.
    pub routes: Vec<(IpNet, u32)>,
}

/// `n` routes as `(prefix, attributes)`; see [`table`], which is the faster form (one
/// `PathAttrs` per distinct set instead of a clone per route).
pub fn synthetic(n: usize, mix: Mix, seed: u64, origin_as: u32) -> Vec<(IpNet, PathAttrs)> {
    let t = table(n, mix, seed, origin_as);
    t.routes
        .into_iter()
        .map(|(p, i)| (p, t.paths[i as usize].clone()))
        .collect()
}

/// `n` unique routes (fewer only if the address space of a family runs out, which takes
/// far more than a full table), deterministic from `seed`.
pub fn table(n: usize, mix: Mix, seed: u64, origin_as: u32) -> Table {
    let mut rng = Rng(seed ^ 0x1b87_3593_9e37_79b9);
    let total = u64::from(mix.v4) + u64::from(mix.v6);
    let (n4, n6) = match (n as u64 * u64::from(mix.v6)).checked_div(total) {
        Some(n6) => (n - n6 as usize, n6 as usize),
        None => (0, 0),
    };
    let paths = make_paths(&mut rng, n.div_ceil(6).max(1), origin_as);
    let mut routes = Vec::with_capacity(n);
    let mut seen: HashSet<IpNet, FxBuild> =
        HashSet::with_capacity_and_hasher(n, FxBuild::default());
    let v4 = Sampler::new(&V4_LENGTHS);
    let v6 = Sampler::new(&V6_LENGTHS);
    for (count, v6fam) in [(n4, false), (n6, true)] {
        let mut made = 0;
        let mut misses = 0u32;
        while made < count {
            let len = if v6fam {
                v6.pick(&mut rng)
            } else {
                v4.pick(&mut rng)
            };
            let p = if v6fam {
                v6_prefix(&mut rng, len)
            } else {
                v4_prefix(&mut rng, len)
            };
            if !seen.insert(p) {
                // Short lengths fill up first (there are only so many /8s): after a run of
                // misses the length draw is what fails, so give up on this family.
                misses += 1;
                if misses > 1_000_000 {
                    break;
                }
                continue;
            }
            misses = 0;
            routes.push((p, path_index(&mut rng, paths.len())));
            made += 1;
        }
    }
    Table { paths, routes }
}

/// SplitMix64: small, fast, and good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Draws from a weight table by cumulative sums.
struct Sampler {
    cum: Vec<(u64, u8)>,
    total: u64,
}

impl Sampler {
    fn new(table: &[(u8, u32)]) -> Sampler {
        let mut total = 0;
        let cum = table
            .iter()
            .map(|&(len, w)| {
                total += u64::from(w);
                (total, len)
            })
            .collect();
        Sampler { cum, total }
    }

    fn pick(&self, rng: &mut Rng) -> u8 {
        let x = rng.below(self.total);
        self.cum
            .iter()
            .find(|&&(c, _)| x < c)
            .map_or(24, |&(_, l)| l)
    }
}

fn v4_prefix(rng: &mut Rng, len: u8) -> IpNet {
    let first = loop {
        let o = 1 + rng.below(223) as u8;
        if !V4_SKIP.contains(&o) {
            break o;
        }
    };
    let addr = (u32::from(first) << 24) | (rng.next() as u32 & 0x00ff_ffff);
    let net = Ipv4Net::new(Ipv4Addr::from(addr), len).expect("len <= 32");
    IpNet::V4(net.trunc())
}

fn v6_prefix(rng: &mut Rng, len: u8) -> IpNet {
    let top = 0x2400 + rng.below(0x0c00) as u128;
    let rest = u128::from(rng.next()) << 48;
    let addr = (top << 112) | (rest & ((1u128 << 112) - 1));
    let net = Ipv6Net::new(Ipv6Addr::from(addr), len).expect("len <= 128");
    IpNet::V6(net.trunc())
}

/// Skewed toward low indexes: path 0 carries the most prefixes, as a big transit's own
/// customers would.
fn path_index(rng: &mut Rng, n: usize) -> u32 {
    let u = rng.next() >> 32;
    let k = (u * u) >> 32; // u² / 2³²: density grows toward 0
    ((k * n as u64) >> 32) as u32
}

/// The `i`-th public AS number (1–64495 minus 23456, then 131072–399999), skipping `avoid`.
fn public_as(i: u64, avoid: u32) -> u32 {
    const TWO: u64 = 64_494; // 1..=64495 without 23456
    const FOUR: u64 = 399_999 - 131_072 + 1;
    let i = i % (TWO + FOUR);
    let a = if i < TWO {
        let a = (i + 1) as u32;
        if a >= 23_456 { a + 1 } else { a }
    } else {
        (131_072 + (i - TWO)) as u32
    };
    if a == avoid {
        public_as(i + 1, avoid)
    } else {
        a
    }
}

fn make_paths(rng: &mut Rng, count: usize, origin_as: u32) -> Vec<PathAttrs> {
    // origin_as's neighbours: a handful of transit providers, the same for every path.
    let neighbours: Vec<u32> = (0..8)
        .map(|_| public_as(rng.below(60_000), origin_as))
        .collect();
    let lengths = Sampler::new(
        &PATH_LENGTHS
            .iter()
            .enumerate()
            .map(|(i, &w)| (i as u8 + 1, w))
            .collect::<Vec<_>>(),
    );
    (0..count)
        .map(|i| {
            let len = lengths.pick(rng);
            let mut asns = Vec::with_capacity(usize::from(len));
            // Skewed: the first neighbours carry most paths.
            asns.push(neighbours[path_index(rng, neighbours.len()) as usize]);
            for _ in 1..len.saturating_sub(1) {
                // Transit ASes: a pool of a few thousand.
                asns.push(public_as(rng.below(5_000) * 13, origin_as));
            }
            if len > 1 {
                // The origin: one per path index, so paths differ.
                asns.push(public_as(100_000 + i as u64, origin_as));
            }
            attrs_for(rng, asns)
        })
        .collect()
}

fn attrs_for(rng: &mut Rng, asns: Vec<u32>) -> PathAttrs {
    let first = asns[0];
    let mut communities = Vec::new();
    let mut large_communities = Vec::new();
    if rng.chance(40) {
        for _ in 0..=rng.below(4) {
            let v = rng.below(1000) as u32 + 100;
            match u16::try_from(first) {
                Ok(a) => communities.push((u32::from(a) << 16) | v),
                Err(_) => large_communities.push([first, 1, v]),
            }
        }
        communities.sort_unstable();
        communities.dedup();
        large_communities.sort_unstable();
        large_communities.dedup();
    }
    if rng.chance(10) {
        large_communities.push([first, 2, rng.below(100) as u32]);
    }
    PathAttrs {
        origin: if rng.chance(5) {
            Origin::Incomplete
        } else {
            Origin::Igp
        },
        as_path: vec![Segment {
            kind: SegmentKind::Sequence,
            asns,
        }],
        next_hop: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        next_hop_link_local: None,
        med: rng.chance(20).then(|| rng.below(200) as u32),
        local_pref: None,
        atomic_aggregate: false,
        aggregator: None,
        communities,
        large_communities,
        ext_communities: Vec::new(),
        originator_id: None,
        cluster_list: Vec::new(),
        unknown: Vec::new(),
    }
}

#[cfg(test)]
#[path = "inject_tests.rs"]
mod tests;
