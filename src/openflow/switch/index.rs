//! A table's lookup structure: the data plane's classifier (tuple-space search behind an
//! exact-match cache, `openflow::classifier`) holding flow ids, so a lookup costs the same
//! with ten flows or a hundred thousand.

use std::collections::HashMap;

use crate::openflow::classifier::{Classifier, EntryId, FlowMatch};
use crate::openflow::packet::FlowKey;

use super::flows::FlowEntry;

#[derive(Default)]
pub struct Index {
    cls: Classifier<u64>,
    ids: HashMap<u64, EntryId>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Index({} entries)", self.ids.len())
    }
}

impl Index {
    pub fn insert(&mut self, f: &FlowEntry) {
        let (id, _) = self.cls.insert(f.priority, f.rule, f.id);
        self.ids.insert(f.id, id);
    }

    pub fn remove(&mut self, f: &FlowEntry) {
        if let Some(id) = self.ids.remove(&f.id) {
            self.cls.remove(id);
        }
    }

    /// The id of the entry with exactly this priority and match.
    pub fn find_strict(&self, priority: u16, rule: &FlowMatch) -> Option<u64> {
        let id = self.cls.find_strict(priority, rule)?;
        self.cls.get(id).map(|e| e.data)
    }

    /// The id of the highest-priority entry matching `k`.
    pub fn lookup(&mut self, k: &FlowKey) -> Option<u64> {
        self.cls.lookup(k).copied()
    }
}
