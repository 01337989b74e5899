//! Address-space arithmetic for the allocator: both families as `u128` ranges, and an
//! aligned first-fit carver that never hands out anything overlapping what is taken.
//!
//! Invariants: a [`Space`] holds one family; every range in `taken` is inclusive and
//! non-empty; `carve` returns a block aligned to its own size inside the pool, or `None`.
//! Arithmetic is checked: pools that end at the top of the space (`255.255.255.255`,
//! `ffff:…`) carve without overflow.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    pub fn of_net(net: &IpNet) -> Family {
        Family::of(net.addr())
    }

    pub fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    pub fn index(self) -> usize {
        match self {
            Family::V4 => 0,
            Family::V6 => 1,
        }
    }

    /// `0.0.0.0/0` or `::/0`.
    pub fn default_route(self) -> IpNet {
        net(self, 0, 0)
    }
}

pub fn to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

pub fn from_u128(family: Family, v: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(v as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

/// The network `start/plen` (or a host address with prefix `plen`).
pub fn net(family: Family, start: u128, plen: u8) -> IpNet {
    IpNet::new(from_u128(family, start), plen).expect("prefix length within the family")
}

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub lo: u128,
    pub hi: u128,
}

impl Range {
    pub fn of(net: &IpNet) -> Range {
        Range {
            lo: to_u128(net.network()),
            hi: to_u128(net.broadcast()),
        }
    }

    pub fn overlaps(&self, other: &Range) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }
}

/// Number of addresses in a block of `plen` (saturating at `u128::MAX` for `::/0`).
pub fn block_size(family: Family, plen: u8) -> u128 {
    let host_bits = u32::from(family.bits() - plen.min(family.bits()));
    1u128.checked_shl(host_bits).unwrap_or(u128::MAX)
}

/// The longest prefix length, at most `max_plen`, whose block holds `need` addresses.
pub fn fit(family: Family, need: u128, max_plen: u8) -> u8 {
    let bits_needed = if need <= 1 {
        0
    } else {
        128 - (need - 1).leading_zeros()
    };
    let max_plen = max_plen.min(family.bits());
    let plen = u32::from(family.bits()).saturating_sub(bits_needed) as u8;
    plen.min(max_plen)
}

/// What one family's allocator has handed out or must avoid.
#[derive(Debug, Clone, Default)]
pub struct Space {
    pub taken: Vec<Range>,
}

impl Space {
    /// Marks a range as taken (explicit subnets, loopbacks).
    pub fn reserve(&mut self, r: Range) {
        self.taken.push(r);
    }

    /// First block of `plen` inside `pool`, at block index `skip` or later, that overlaps
    /// nothing taken; it becomes taken. `None` when the pool has no such block.
    pub fn carve(&mut self, family: Family, pool: &IpNet, plen: u8, skip: u128) -> Option<u128> {
        if plen < pool.prefix_len() || plen > family.bits() {
            return None;
        }
        let pool = Range::of(pool);
        let size = block_size(family, plen);
        let mut cand = pool.lo.checked_add(size.checked_mul(skip)?)?;
        loop {
            let end = cand.checked_add(size - 1)?;
            if end > pool.hi {
                return None;
            }
            let block = Range { lo: cand, hi: end };
            match self
                .taken
                .iter()
                .filter(|t| t.overlaps(&block))
                .map(|t| t.hi)
                .max()
            {
                None => {
                    self.taken.push(block);
                    return Some(cand);
                }
                // Jump to the first aligned block after the obstacle.
                Some(hi) => {
                    let next = hi.checked_add(1)?;
                    let rem = (next - pool.lo) % size;
                    cand = if rem == 0 {
                        next
                    } else {
                        next.checked_add(size - rem)?
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn fit_picks_the_smallest_block_of_at_least_the_pool_prefix() {
        assert_eq!(fit(Family::V4, 5, 24), 24);
        assert_eq!(fit(Family::V4, 256, 24), 24);
        assert_eq!(fit(Family::V4, 257, 24), 23);
        assert_eq!(fit(Family::V4, 4, 30), 30);
        assert_eq!(fit(Family::V4, 1, 32), 32);
        assert_eq!(fit(Family::V6, 3, 64), 64);
        assert_eq!(fit(Family::V6, 3, 128), 126);
    }

    #[test]
    fn carve_is_aligned_first_fit_and_skips_taken_ranges() {
        let pool = n("10.0.0.0/16");
        let mut s = Space::default();
        s.reserve(Range::of(&n("10.0.1.7/32")));
        let a = s.carve(Family::V4, &pool, 24, 0).unwrap();
        assert_eq!(net(Family::V4, a, 24), n("10.0.0.0/24"));
        // 10.0.1.0/24 holds the reserved address; a /23 must be aligned: 10.0.2.0/23.
        let b = s.carve(Family::V4, &pool, 23, 0).unwrap();
        assert_eq!(net(Family::V4, b, 23), n("10.0.2.0/23"));
        let c = s.carve(Family::V4, &pool, 24, 0).unwrap();
        assert_eq!(net(Family::V4, c, 24), n("10.0.4.0/24"));
    }

    #[test]
    fn carve_honours_skip_and_runs_out_cleanly() {
        let pool = n("192.168.255.0/30");
        let mut s = Space::default();
        let got: Vec<_> = std::iter::from_fn(|| s.carve(Family::V4, &pool, 32, 1)).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(from_u128(Family::V4, got[0]).to_string(), "192.168.255.1");
        assert!(s.carve(Family::V4, &n("10.0.0.0/24"), 23, 0).is_none());
    }

    #[test]
    fn carve_at_the_top_of_the_space_does_not_overflow() {
        let pool = n("ffff:ffff:ffff:ffff::/64");
        let mut s = Space::default();
        let got: Vec<_> = std::iter::from_fn(|| s.carve(Family::V6, &pool, 65, 0)).collect();
        assert_eq!(got.len(), 2);
        let mut s = Space::default();
        s.reserve(Range::of(&n("255.255.255.0/24")));
        assert!(s.carve(Family::V4, &n("255.255.255.0/24"), 30, 0).is_none());
    }
}
