//! A map from prefixes to values, laid out for full tables: a million IPv4 prefixes cost
//! their values plus 4 bytes each, with no hashing (so no collisions a peer could
//! provoke) and iteration in prefix order for free.
//!
//! IPv4: a directory of 65,536 slots, one per /16 (the address's top 16 bits), each a
//! sorted bucket of `(low 16 bits, prefix length)` keys (the network address is truncated,
//! so the pair names the prefix within its /16) with the values beside them. A bucket
//! grows by doubling while small and then in steps of a quarter, so that little capacity
//! stands empty; one that grows past
//! [`BIG`] entries (a /16 announced as thousands of small prefixes) becomes a B-tree, so
//! no insert costs more than a logarithm plus a bounded move. IPv6 prefixes (fewer, and
//! spread over a wider space) are in a B-tree.
//!
//! ```text
//!   10.1.2.0/24 ─▶ dir[0x0a01] ─▶ bucket: keys [0x0000_10, 0x0200_18, …]  vals [v, v, …]
//!                                       binary search on (0x0200 << 8 | 24)
//! ```

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// A bucket with more entries than this becomes a B-tree.
const BIG: usize = 1024;

/// No bucket yet for this /16.
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
enum Bucket<V> {
    /// Sorted `keys`, `vals[i]` belonging to `keys[i]`.
    Small {
        keys: Vec<u32>,
        vals: Vec<V>,
    },
    Big(BTreeMap<u32, V>),
}

impl<V> Default for Bucket<V> {
    fn default() -> Self {
        Bucket::Small {
            keys: Vec::new(),
            vals: Vec::new(),
        }
    }
}

/// Grows a full `v`: doubling while small (few reallocations), then by a quarter (little
/// capacity standing empty in the buckets that hold most of a table).
fn reserve_quarter<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        let n = v.len();
        v.reserve_exact(if n < 64 { n.max(4) } else { n / 4 });
    }
}

impl<V> Bucket<V> {
    #[cfg(test)]
    fn len(&self) -> usize {
        match self {
            Bucket::Small { keys, .. } => keys.len(),
            Bucket::Big(m) => m.len(),
        }
    }

    fn get(&self, k: u32) -> Option<&V> {
        match self {
            Bucket::Small { keys, vals } => keys.binary_search(&k).ok().map(|i| &vals[i]),
            Bucket::Big(m) => m.get(&k),
        }
    }

    fn get_mut(&mut self, k: u32) -> Option<&mut V> {
        match self {
            Bucket::Small { keys, vals } => keys.binary_search(&k).ok().map(|i| &mut vals[i]),
            Bucket::Big(m) => m.get_mut(&k),
        }
    }

    /// The value for `k`, inserted by `make` when absent; and whether it was inserted.
    fn get_or_insert_with(&mut self, k: u32, make: impl FnOnce() -> V) -> (&mut V, bool) {
        if let Bucket::Small { keys, vals } = self
            && keys.len() >= BIG
            && keys.binary_search(&k).is_err()
        {
            let m: BTreeMap<u32, V> = std::mem::take(keys)
                .into_iter()
                .zip(std::mem::take(vals))
                .collect();
            *self = Bucket::Big(m);
        }
        match self {
            Bucket::Small { keys, vals } => match keys.binary_search(&k) {
                Ok(i) => (&mut vals[i], false),
                Err(i) => {
                    reserve_quarter(keys);
                    reserve_quarter(vals);
                    keys.insert(i, k);
                    vals.insert(i, make());
                    (&mut vals[i], true)
                }
            },
            Bucket::Big(m) => {
                let mut inserted = false;
                let v = m.entry(k).or_insert_with(|| {
                    inserted = true;
                    make()
                });
                (v, inserted)
            }
        }
    }

    fn remove(&mut self, k: u32) -> Option<V> {
        match self {
            Bucket::Small { keys, vals } => {
                let i = keys.binary_search(&k).ok()?;
                keys.remove(i);
                let v = vals.remove(i);
                // Give memory back when a bucket has shrunk to well under its capacity.
                if keys.capacity() > 8 && keys.len() * 2 < keys.capacity() {
                    keys.shrink_to_fit();
                    vals.shrink_to_fit();
                }
                Some(v)
            }
            Bucket::Big(m) => m.remove(&k),
        }
    }
}

/// Prefix → value; see the module documentation.
#[derive(Debug, Clone)]
pub struct PrefixMap<V> {
    /// Per /16: an index into `buckets`, or [`NONE`]. Empty until the first IPv4 prefix.
    dir: Vec<u32>,
    buckets: Vec<Bucket<V>>,
    /// /16 of each bucket (for iteration in order).
    v6: BTreeMap<(u128, u8), V>,
    len: usize,
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        PrefixMap {
            dir: Vec::new(),
            buckets: Vec::new(),
            v6: BTreeMap::new(),
            len: 0,
        }
    }
}

/// Asks the CPU to load the cache line at `p` (a hint: it never faults, whatever `p`).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch instruction reads nothing into the program and cannot fault,
    // whatever the address; SSE is part of the x86_64 baseline.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// An IPv4 prefix's /16 and its key within it. The address must be truncated.
fn v4_key(n: &Ipv4Net) -> (usize, u32) {
    let a = u32::from(n.network());
    (
        (a >> 16) as usize,
        ((a & 0xffff) << 8) | u32::from(n.prefix_len()),
    )
}

fn v4_prefix(top: usize, key: u32) -> IpNet {
    let addr = ((top as u32) << 16) | (key >> 8);
    IpNet::V4(
        Ipv4Net::new(Ipv4Addr::from(addr), (key & 0xff) as u8).expect("stored lengths are valid"),
    )
}

fn v6_key(n: &Ipv6Net) -> (u128, u8) {
    (u128::from(n.network()), n.prefix_len())
}

fn v6_prefix(k: &(u128, u8)) -> IpNet {
    IpNet::V6(Ipv6Net::new(Ipv6Addr::from(k.0), k.1).expect("stored lengths are valid"))
}

impl<V> PrefixMap<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    fn bucket(&self, top: usize) -> Option<&Bucket<V>> {
        match self.dir.get(top) {
            Some(&i) if i != NONE => Some(&self.buckets[i as usize]),
            _ => None,
        }
    }

    fn bucket_mut(&mut self, top: usize) -> Option<&mut Bucket<V>> {
        match self.dir.get(top) {
            Some(&i) if i != NONE => Some(&mut self.buckets[i as usize]),
            _ => None,
        }
    }

    /// The value of `prefix` (which must be truncated to its network address).
    pub fn get(&self, prefix: &IpNet) -> Option<&V> {
        match prefix {
            IpNet::V4(n) => {
                let (top, k) = v4_key(n);
                self.bucket(top)?.get(k)
            }
            IpNet::V6(n) => self.v6.get(&v6_key(n)),
        }
    }

    pub fn get_mut(&mut self, prefix: &IpNet) -> Option<&mut V> {
        match prefix {
            IpNet::V4(n) => {
                let (top, k) = v4_key(n);
                self.bucket_mut(top)?.get_mut(k)
            }
            IpNet::V6(n) => self.v6.get_mut(&v6_key(n)),
        }
    }

    /// A hint, with no effect on the map: start loading the bucket header of `prefix`
    /// (which must be truncated). A loop over many random prefixes calls this a few
    /// prefixes ahead, then [`PrefixMap::prefetch_entries`] one or two ahead, so that its
    /// memory waits overlap the work on the prefixes before it.
    pub fn prefetch_bucket(&self, prefix: &IpNet) {
        if let IpNet::V4(n) = prefix
            && let Some(&i) = self.dir.get(v4_key(n).0)
            && i != NONE
        {
            prefetch(self.buckets.as_ptr().wrapping_add(i as usize));
        }
    }

    /// A hint, with no effect on the map: start loading the keys and values an insert or
    /// lookup of `prefix` will search.
    pub fn prefetch_entries(&self, prefix: &IpNet) {
        if let IpNet::V4(n) = prefix
            && let Some(Bucket::Small { keys, vals }) = self.bucket(v4_key(n).0)
        {
            prefetch(keys.as_ptr().wrapping_add(keys.len() / 2));
            prefetch(vals.as_ptr().wrapping_add(vals.len() / 2));
        }
    }

    /// The value of `prefix`, inserted by `make` when absent.
    pub fn get_or_insert_with(&mut self, prefix: IpNet, make: impl FnOnce() -> V) -> &mut V {
        match prefix {
            IpNet::V4(n) => {
                let (top, k) = v4_key(&n);
                if self.dir.is_empty() {
                    self.dir = vec![NONE; 1 << 16];
                }
                if self.dir[top] == NONE {
                    self.dir[top] = self.buckets.len() as u32;
                    self.buckets.push(Bucket::default());
                }
                let b = &mut self.buckets[self.dir[top] as usize];
                let (v, inserted) = b.get_or_insert_with(k, make);
                if inserted {
                    self.len += 1;
                }
                v
            }
            IpNet::V6(n) => {
                let len = &mut self.len;
                self.v6.entry(v6_key(&n)).or_insert_with(|| {
                    *len += 1;
                    make()
                })
            }
        }
    }

    /// Inserts or replaces; the old value.
    pub fn insert(&mut self, prefix: IpNet, v: V) -> Option<V> {
        let mut new = Some(v);
        let slot = self.get_or_insert_with(prefix, || new.take().expect("taken once"));
        new.map(|v| std::mem::replace(slot, v))
    }

    pub fn remove(&mut self, prefix: &IpNet) -> Option<V> {
        let v = match prefix {
            IpNet::V4(n) => {
                let (top, k) = v4_key(n);
                self.bucket_mut(top)?.remove(k)
            }
            IpNet::V6(n) => self.v6.remove(&v6_key(n)),
        }?;
        self.len -= 1;
        Some(v)
    }

    pub fn clear(&mut self) {
        *self = PrefixMap::default();
    }

    /// Calls `f` on every value.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut V)) {
        for b in &mut self.buckets {
            match b {
                Bucket::Small { vals, .. } => vals.iter_mut().for_each(&mut f),
                Bucket::Big(m) => m.values_mut().for_each(&mut f),
            }
        }
        self.v6.values_mut().for_each(f);
    }

    /// Every prefix and its value, in prefix order (IPv4 first, as `IpNet` orders them).
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &V)> + '_ {
        let v4 = self
            .dir
            .iter()
            .enumerate()
            .filter(|(_, i)| **i != NONE)
            .flat_map(move |(top, &i)| {
                let b = &self.buckets[i as usize];
                let (small, big) = match b {
                    Bucket::Small { keys, vals } => (Some(keys.iter().zip(vals.iter())), None),
                    Bucket::Big(m) => (None, Some(m.iter())),
                };
                small
                    .into_iter()
                    .flatten()
                    .chain(big.into_iter().flatten())
                    .map(move |(k, v)| (v4_prefix(top, *k), v))
            });
        v4.chain(self.v6.iter().map(|(k, v)| (v6_prefix(k), v)))
    }

    /// Entries in IPv4 buckets (for tests of the layout).
    #[cfg(test)]
    fn bucket_lens(&self) -> Vec<usize> {
        self.buckets.iter().map(Bucket::len).collect()
    }
}

impl<V> std::ops::Index<&IpNet> for PrefixMap<V> {
    type Output = V;
    fn index(&self, p: &IpNet) -> &V {
        self.get(p).expect("prefix in the map")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap as Model;

    fn p(s: &str) -> IpNet {
        s.parse::<IpNet>().unwrap().trunc()
    }

    #[test]
    fn prefetching_is_only_a_hint() {
        let mut m = PrefixMap::default();
        // An empty map, a map with buckets, present and absent prefixes, IPv6, a /0.
        for q in ["10.0.0.0/8", "::/0", "0.0.0.0/0"] {
            m.prefetch_bucket(&p(q));
            m.prefetch_entries(&p(q));
        }
        m.insert(p("10.1.2.0/24"), 1);
        m.insert(p("2001:db8::/32"), 2);
        let before: Vec<(IpNet, i32)> = m.iter().map(|(k, v)| (k, *v)).collect();
        for q in [
            "10.1.2.0/24",
            "10.1.3.0/24",
            "11.0.0.0/8",
            "2001:db8::/32",
            "0.0.0.0/0",
        ] {
            m.prefetch_bucket(&p(q));
            m.prefetch_entries(&p(q));
        }
        let after: Vec<(IpNet, i32)> = m.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(before, after);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn insert_get_remove_and_order() {
        let mut m = PrefixMap::default();
        for (i, s) in [
            "10.1.2.0/24",
            "10.1.0.0/16",
            "10.1.0.0/24",
            "0.0.0.0/0",
            "2001:db8::/32",
            "10.0.0.0/8",
            "192.0.2.128/25",
            "::/0",
        ]
        .iter()
        .enumerate()
        {
            assert_eq!(m.insert(p(s), i), None);
        }
        assert_eq!(m.len(), 8);
        assert_eq!(m.insert(p("10.1.0.0/24"), 20), Some(2));
        assert_eq!(m.get(&p("10.1.0.0/24")), Some(&20));
        assert_eq!(m.get(&p("10.1.0.0/23")), None);
        let keys: Vec<String> = m.iter().map(|(k, _)| k).map(|k| k.to_string()).collect();
        assert_eq!(
            keys,
            [
                "0.0.0.0/0",
                "10.0.0.0/8",
                "10.1.0.0/16",
                "10.1.0.0/24",
                "10.1.2.0/24",
                "192.0.2.128/25",
                "::/0",
                "2001:db8::/32"
            ]
        );
        assert_eq!(m.remove(&p("10.1.0.0/16")), Some(1));
        assert_eq!(m.remove(&p("10.1.0.0/16")), None);
        assert_eq!(m.remove(&p("::/0")), Some(7));
        assert_eq!(m.len(), 6);
    }

    #[test]
    fn a_dense_slash16_becomes_a_btree_and_keeps_working() {
        let mut m = PrefixMap::default();
        // 4096 /32s in one /16, in a scrambled order.
        for i in 0..4096u32 {
            let a = Ipv4Addr::from(0x0a01_0000 | (i.wrapping_mul(2654435761) & 0xfff));
            m.insert(IpNet::V4(Ipv4Net::new(a, 32).unwrap()), i);
        }
        assert_eq!(m.len(), 4096);
        assert_eq!(m.bucket_lens(), [4096]);
        assert!(matches!(m.buckets[0], Bucket::Big(_)));
        let keys: Vec<IpNet> = m.iter().map(|(k, _)| k).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    fn arb_prefix() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            // A few /16s, so that buckets fill up.
            (0u32..4, any::<u16>(), 0u8..=32).prop_map(|(hi, lo, len)| {
                let a = Ipv4Addr::from((0x0a00_0000 | (hi << 16)) | u32::from(lo));
                IpNet::V4(Ipv4Net::new(a, len).unwrap()).trunc()
            }),
            (any::<u32>(), 0u8..=32)
                .prop_map(
                    |(a, len)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), len).unwrap()).trunc()
                ),
            (any::<u128>(), 0u8..=128)
                .prop_map(
                    |(a, len)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), len).unwrap()).trunc()
                ),
        ]
    }

    proptest! {
        /// Behaves as an ordered map of prefixes under any mix of inserts and removes.
        #[test]
        fn agrees_with_an_ordered_map(ops in proptest::collection::vec((any::<bool>(), arb_prefix()), 0..600)) {
            let mut m = PrefixMap::default();
            let mut model = Model::new();
            for (i, (ins, pfx)) in ops.iter().enumerate() {
                if *ins {
                    prop_assert_eq!(m.insert(*pfx, i), model.insert(*pfx, i));
                } else {
                    prop_assert_eq!(m.remove(pfx), model.remove(pfx));
                }
                prop_assert_eq!(m.len(), model.len());
            }
            let got: Vec<(IpNet, usize)> = m.iter().map(|(k, v)| (k, *v)).collect();
            let want: Vec<(IpNet, usize)> = model.into_iter().collect();
            prop_assert_eq!(got, want);
        }
    }
}
