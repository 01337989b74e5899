//! One OpenFlow table's lookup: entries (priority, masked [`FlowKey`], value `T`) found by
//! tuple-space search, in front of an exact-match microflow cache.
//!
//! ```text
//!   lookup(key) ──▶ cache: key → (generation, entry)  ── hit, same generation ──▶ entry
//!                      │ miss or stale
//!                      ▼
//!   subtables, by max priority:  [mask A: masked key → entries]  [mask B: …]  …
//!   each probed with one hash of key & mask; stop when no later subtable can beat the best
//! ```
//!
//! Tuple-space search: one hash map per distinct mask, so a lookup costs one probe per
//! mask (not per entry), and subtables are visited in decreasing order of their highest
//! priority so the search stops early. The microflow cache maps a whole key to the entry
//! it matched (or to "no entry"); every change to the table bumps a generation counter,
//! which makes every cached answer stale at once without clearing anything. So forwarding
//! cost does not grow with the number of flows: with the cache warm, one hash of the key.
//!
//! Semantics (OpenFlow 1.3 §6.4): the highest-priority matching entry wins; among equal
//! priorities the choice is unspecified (here: the first subtable probed). An entry with
//! the same priority and the same match as an inserted one is replaced.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::packet::FlowKey;

/// A match: `key` matches when `key & mask == value` (field-wise, including the presence
/// bits: a mask bit in `present` requires that field to be present).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FlowMatch {
    pub value: FlowKey,
    pub mask: FlowKey,
}

impl FlowMatch {
    /// The match `value`/`mask`, with `value` reduced to the mask.
    pub fn new(value: FlowKey, mask: FlowKey) -> FlowMatch {
        FlowMatch {
            value: value.masked(&mask),
            mask,
        }
    }

    /// Matches every packet (the table-miss match).
    pub fn any() -> FlowMatch {
        FlowMatch::default()
    }

    #[inline]
    pub fn matches(&self, key: &FlowKey) -> bool {
        key.masked(&self.mask) == self.value
    }

    /// Every packet `self` matches is also matched by `wider` (OpenFlow's non-strict
    /// delete/modify: the entry `self` is selected by the filter `wider`).
    pub fn is_within(&self, wider: &FlowMatch) -> bool {
        wider.mask.is_subset_of(&self.mask) && self.value.masked(&wider.mask) == wider.value
    }

    /// Some packet is matched by both (OFPFF_CHECK_OVERLAP).
    pub fn overlaps(&self, other: &FlowMatch) -> bool {
        let common = self.mask.masked(&other.mask);
        self.value.masked(&common) == other.value.masked(&common)
    }
}

/// One table entry.
#[derive(Clone, Debug)]
pub struct Entry<T> {
    pub priority: u16,
    pub rule: FlowMatch,
    pub data: T,
}

/// A stable handle on an entry, valid until that entry is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(u32);

/// FxHash (rustc's): fast, not DoS-resistant — the keys are packet headers, but an
/// attacker's collisions only cost CPU in a lab.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;

struct Subtable {
    mask: FlowKey,
    /// Masked value → entries with that match, highest priority first.
    map: HashMap<FlowKey, Vec<EntryId>, FxBuild>,
    /// Priority → number of entries (the highest is the subtable's max priority).
    priorities: BTreeMap<u16, usize>,
}

impl Subtable {
    fn max_priority(&self) -> u16 {
        self.priorities.last_key_value().map_or(0, |(p, _)| *p)
    }
}

/// Most keys the microflow cache holds by default; when full it starts afresh.
pub const CACHE_CAPACITY: usize = 1 << 16;

/// A classifier of entries carrying `T` (the switch's flow: instructions, counters,
/// timeouts, cookie …).
pub struct Classifier<T> {
    slots: Vec<Option<Entry<T>>>,
    free: Vec<u32>,
    len: usize,
    /// Sorted by decreasing max priority.
    subtables: Vec<Subtable>,
    generation: u64,
    cache: HashMap<FlowKey, (u64, Option<EntryId>), FxBuild>,
    cache_capacity: usize,
    /// The generation when the cache was last emptied: if it is still current, every
    /// cached answer is, and a full cache is kept rather than emptied.
    cache_emptied_at: u64,
}

impl<T> Default for Classifier<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Classifier<T> {
    pub fn new() -> Self {
        Classifier {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            subtables: Vec::new(),
            generation: 0,
            cache: HashMap::default(),
            cache_capacity: CACHE_CAPACITY,
            cache_emptied_at: 0,
        }
    }

    /// A classifier whose microflow cache holds at most `keys` keys (0: no cache).
    pub fn with_cache_capacity(keys: usize) -> Self {
        Classifier {
            cache_capacity: keys,
            ..Self::new()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of distinct masks (hash probes of an uncached lookup, at most).
    pub fn subtables(&self) -> usize {
        self.subtables.len()
    }

    /// Bumped by every change; cached answers of older generations are ignored.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn changed(&mut self) {
        self.generation += 1;
        self.subtables
            .sort_by_key(|s| std::cmp::Reverse(s.max_priority()));
    }

    pub fn get(&self, id: EntryId) -> Option<&Entry<T>> {
        self.slots.get(id.0 as usize)?.as_ref()
    }

    /// Mutable access to an entry's data (its match and priority cannot change).
    pub fn get_mut(&mut self, id: EntryId) -> Option<&mut T> {
        Some(&mut self.slots.get_mut(id.0 as usize)?.as_mut()?.data)
    }

    /// The entry with exactly this priority and match.
    pub fn find_strict(&self, priority: u16, rule: &FlowMatch) -> Option<EntryId> {
        let st = self.subtables.iter().find(|s| s.mask == rule.mask)?;
        st.map
            .get(&rule.value)?
            .iter()
            .copied()
            .find(|id| self.get(*id).is_some_and(|e| e.priority == priority))
    }

    /// Adds an entry, or replaces the data of the one with the same priority and match
    /// (returning the old data). `rule.value` is reduced to `rule.mask`.
    pub fn insert(&mut self, priority: u16, rule: FlowMatch, data: T) -> (EntryId, Option<T>) {
        let rule = FlowMatch::new(rule.value, rule.mask);
        if let Some(id) = self.find_strict(priority, &rule) {
            let old = self.get_mut(id).map(|d| std::mem::replace(d, data));
            self.generation += 1;
            return (id, old);
        }
        let entry = Entry {
            priority,
            rule,
            data,
        };
        let id = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(entry);
                EntryId(i)
            }
            None => {
                self.slots.push(Some(entry));
                EntryId((self.slots.len() - 1) as u32)
            }
        };
        self.len += 1;
        let st = match self.subtables.iter().position(|s| s.mask == rule.mask) {
            Some(i) => &mut self.subtables[i],
            None => {
                self.subtables.push(Subtable {
                    mask: rule.mask,
                    map: HashMap::default(),
                    priorities: BTreeMap::new(),
                });
                self.subtables.last_mut().unwrap_or_else(|| unreachable!())
            }
        };
        *st.priorities.entry(priority).or_default() += 1;
        let ids = st.map.entry(rule.value).or_default();
        let slots = &self.slots;
        let prio = |id: &EntryId| slots[id.0 as usize].as_ref().map_or(0, |e| e.priority);
        let at = ids.partition_point(|i| prio(i) >= priority);
        ids.insert(at, id);
        self.changed();
        (id, None)
    }

    /// Removes one entry, returning it.
    pub fn remove(&mut self, id: EntryId) -> Option<Entry<T>> {
        let entry = self.slots.get_mut(id.0 as usize)?.take()?;
        self.free.push(id.0);
        self.len -= 1;
        if let Some(si) = self
            .subtables
            .iter()
            .position(|s| s.mask == entry.rule.mask)
        {
            let st = &mut self.subtables[si];
            if let Some(ids) = st.map.get_mut(&entry.rule.value) {
                ids.retain(|i| *i != id);
                if ids.is_empty() {
                    st.map.remove(&entry.rule.value);
                }
            }
            if let Some(n) = st.priorities.get_mut(&entry.priority) {
                *n -= 1;
                if *n == 0 {
                    st.priorities.remove(&entry.priority);
                }
            }
            if st.map.is_empty() {
                self.subtables.remove(si);
            }
        }
        self.changed();
        Some(entry)
    }

    /// The entries a FLOW_MOD's filter selects: `strict` — the same match and the given
    /// priority; otherwise every entry whose match lies within `filter` (any priority).
    /// `also` adds the caller's conditions (out_port, out_group, cookie/mask).
    pub fn select(
        &self,
        filter: &FlowMatch,
        strict: Option<u16>,
        mut also: impl FnMut(&Entry<T>) -> bool,
    ) -> Vec<EntryId> {
        match strict {
            Some(priority) => self
                .find_strict(priority, &FlowMatch::new(filter.value, filter.mask))
                .filter(|id| self.get(*id).is_some_and(&mut also))
                .into_iter()
                .collect(),
            None => self
                .iter()
                .filter(|(_, e)| e.rule.is_within(filter) && also(e))
                .map(|(id, _)| id)
                .collect(),
        }
    }

    /// Removes what [`select`](Self::select) selects, returning the removed entries.
    pub fn remove_matching(
        &mut self,
        filter: &FlowMatch,
        strict: Option<u16>,
        also: impl FnMut(&Entry<T>) -> bool,
    ) -> Vec<Entry<T>> {
        let ids = self.select(filter, strict, also);
        ids.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    /// Whether an entry of this priority overlaps `rule` (OFPFF_CHECK_OVERLAP).
    pub fn overlaps(&self, priority: u16, rule: &FlowMatch) -> bool {
        self.iter()
            .any(|(_, e)| e.priority == priority && e.rule.overlaps(rule))
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (EntryId, &Entry<T>)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((EntryId(i as u32), e.as_ref()?)))
    }

    /// Every entry's data, mutable (counters, timeouts).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (EntryId, &mut Entry<T>)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, e)| Some((EntryId(i as u32), e.as_mut()?)))
    }

    /// The highest-priority entry matching `key`, by tuple-space search (no cache).
    pub fn search(&self, key: &FlowKey) -> Option<EntryId> {
        let mut best: Option<(u16, EntryId)> = None;
        for st in &self.subtables {
            let max = st.max_priority();
            if best.is_some_and(|(p, _)| p >= max) {
                break;
            }
            if let Some(ids) = st.map.get(&key.masked(&st.mask))
                && let Some(&id) = ids.first()
                && let Some(e) = self.get(id)
                && best.is_none_or(|(p, _)| e.priority > p)
            {
                best = Some((e.priority, id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// The highest-priority entry matching `key`, through the microflow cache.
    pub fn lookup_id(&mut self, key: &FlowKey) -> Option<EntryId> {
        if let Some(&(g, hit)) = self.cache.get(key)
            && g == self.generation
        {
            return hit;
        }
        let found = self.search(key);
        if self.cache_capacity == 0 {
            return found;
        }
        if self.cache.len() >= self.cache_capacity && !self.cache.contains_key(key) {
            // Full. Of current answers: keep them (more keys than room — emptying the
            // cache on every miss would cost more than searching). Else start afresh.
            if self.cache_emptied_at == self.generation {
                return found;
            }
            self.cache.clear();
            self.cache_emptied_at = self.generation;
        }
        self.cache.insert(*key, (self.generation, found));
        found
    }

    /// The data of the highest-priority entry matching `key`.
    pub fn lookup(&mut self, key: &FlowKey) -> Option<&T> {
        let id = self.lookup_id(key)?;
        self.get(id).map(|e| &e.data)
    }

    /// Mutable data of the highest-priority entry matching `key` (to count the hit).
    pub fn lookup_mut(&mut self, key: &FlowKey) -> Option<(EntryId, &mut T)> {
        let id = self.lookup_id(key)?;
        Some((id, self.get_mut(id)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openflow::packet::field;

    fn key(port: u32, dst: u16) -> FlowKey {
        FlowKey {
            present: (1 << field::IN_PORT) | (1 << field::TCP_DST),
            in_port: port,
            tp_dst: dst,
            ..FlowKey::default()
        }
    }

    fn m_port(port: u32) -> FlowMatch {
        let mask = FlowKey {
            present: 1 << field::IN_PORT,
            in_port: !0,
            ..FlowKey::default()
        };
        FlowMatch::new(
            FlowKey {
                in_port: port,
                ..mask
            },
            mask,
        )
    }

    fn m_dst(dst: u16) -> FlowMatch {
        let mask = FlowKey {
            present: 1 << field::TCP_DST,
            tp_dst: !0,
            ..FlowKey::default()
        };
        FlowMatch::new(
            FlowKey {
                tp_dst: dst,
                ..mask
            },
            mask,
        )
    }

    #[test]
    fn priorities_decide_across_subtables() {
        let mut c = Classifier::new();
        c.insert(0, FlowMatch::any(), "miss");
        c.insert(10, m_port(1), "port1");
        c.insert(20, m_dst(80), "http");
        assert_eq!(c.subtables(), 3);
        assert_eq!(c.lookup(&key(1, 80)), Some(&"http"));
        assert_eq!(c.lookup(&key(1, 22)), Some(&"port1"));
        assert_eq!(c.lookup(&key(2, 22)), Some(&"miss"));
        // Priorities swapped: the cache must not answer from before the change.
        c.insert(30, m_port(1), "port1-high");
        assert_eq!(c.lookup(&key(1, 80)), Some(&"port1-high"));
        let removed = c.remove_matching(&m_port(1), Some(30), |_| true);
        assert_eq!(removed.len(), 1);
        assert_eq!(c.lookup(&key(1, 80)), Some(&"http"));
        // A field the packet lacks never matches, even if its value would.
        let mut no_tcp = key(3, 0);
        no_tcp.present &= !(1 << field::TCP_DST);
        c.insert(40, m_dst(0), "dst0");
        assert_eq!(c.lookup(&no_tcp), Some(&"miss"));
        assert_eq!(c.lookup(&key(3, 0)), Some(&"dst0"));
    }

    #[test]
    fn same_match_same_priority_replaces() {
        let mut c = Classifier::new();
        let (a, old) = c.insert(5, m_dst(80), 1);
        assert_eq!(old, None);
        let (b, old) = c.insert(5, m_dst(80), 2);
        assert_eq!((a, old), (b, Some(1)));
        assert_eq!(c.len(), 1);
        // Same match, another priority: a second entry.
        c.insert(6, m_dst(80), 3);
        assert_eq!(c.len(), 2);
        assert_eq!(c.lookup(&key(0, 80)), Some(&3));
        assert_eq!(c.find_strict(5, &m_dst(80)), Some(a));
        c.remove(c.find_strict(6, &m_dst(80)).unwrap());
        assert_eq!(c.lookup(&key(0, 80)), Some(&2));
    }

    #[test]
    fn non_strict_selection_and_overlap() {
        let mut c = Classifier::new();
        let mask = FlowKey {
            present: m_port(1).mask.present | m_dst(80).mask.present,
            in_port: !0,
            tp_dst: !0,
            ..FlowKey::default()
        };
        let both = FlowMatch::new(
            FlowKey {
                in_port: 1,
                tp_dst: 80,
                ..mask
            },
            mask,
        );
        c.insert(1, both, "both");
        c.insert(1, m_port(1), "port");
        c.insert(1, m_port(2), "port2");
        let mut sel: Vec<_> = c
            .select(&m_port(1), None, |_| true)
            .into_iter()
            .map(|id| c.get(id).unwrap().data)
            .collect();
        sel.sort();
        assert_eq!(sel, ["both", "port"]);
        assert_eq!(c.select(&FlowMatch::any(), None, |_| true).len(), 3);
        assert_eq!(
            c.select(&FlowMatch::any(), None, |e| e.data == "port2")
                .len(),
            1
        );
        assert!(c.select(&m_dst(80), None, |_| true).len() == 1);
        assert!(c.overlaps(1, &m_dst(80)));
        assert!(!c.overlaps(2, &m_dst(80)));
        assert!(!m_port(1).overlaps(&m_port(2)));
        let gone = c.remove_matching(&FlowMatch::any(), None, |_| true);
        assert_eq!(gone.len(), 3);
        assert!(c.is_empty());
        assert_eq!(c.subtables(), 0);
        assert_eq!(c.lookup(&key(1, 80)), None);
    }

    #[test]
    fn masked_bits_and_ids_are_reused() {
        let mut c = Classifier::new();
        let mask = FlowKey {
            present: 1 << field::IPV4_DST,
            ipv4_dst: 0xffff_ff00,
            ..FlowKey::default()
        };
        let value = FlowKey {
            ipv4_dst: 0x0a00_01ff,
            ..mask
        };
        let (id, _) = c.insert(1, FlowMatch::new(value, mask), ());
        assert_eq!(c.get(id).unwrap().rule.value.ipv4_dst, 0x0a00_0100);
        let k = FlowKey {
            present: 1 << field::IPV4_DST,
            ipv4_dst: 0x0a00_0142,
            ..FlowKey::default()
        };
        assert_eq!(c.lookup_id(&k), Some(id));
        let k2 = FlowKey {
            ipv4_dst: 0x0a00_0242,
            ..k
        };
        assert_eq!(c.lookup_id(&k2), None);
        c.remove(id);
        assert_eq!(c.lookup_id(&k), None);
        let (id2, _) = c.insert(1, FlowMatch::any(), ());
        assert_eq!(id2, id, "slot reused");
        assert_eq!(c.lookup_id(&k2), Some(id2));
    }

    #[test]
    fn search_agrees_with_brute_force() {
        // Small pseudo-random tables over a few masks and priorities.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..50 {
            let mut c = Classifier::with_cache_capacity([0, 3, CACHE_CAPACITY][round % 3]);
            for i in 0..40 {
                let r = rnd();
                let rule = match r % 3 {
                    0 => m_port((r >> 8) as u32 % 4),
                    1 => m_dst((r >> 8) as u16 % 4),
                    _ => FlowMatch::any(),
                };
                c.insert((r >> 20) as u16 % 8, rule, i);
            }
            for _ in 0..20 {
                let r = rnd();
                c.remove_matching(&m_port(r as u32 % 4), Some((r >> 8) as u16 % 8), |_| true);
            }
            for port in 0..4 {
                for dst in 0..4 {
                    let k = key(port, dst);
                    let best = c
                        .iter()
                        .filter(|(_, e)| e.rule.matches(&k))
                        .map(|(_, e)| e.priority)
                        .max();
                    let got = c.lookup_id(&k).map(|id| c.get(id).unwrap().priority);
                    assert_eq!(got, best);
                    assert_eq!(
                        c.lookup_id(&k).map(|id| c.get(id).unwrap().priority),
                        best,
                        "cached"
                    );
                }
            }
        }
    }
}
