//! The standalone learning switch (fail_mode standalone with no controller, and output to
//! NORMAL): source MACs are learned per port with an expiry; a known unicast destination
//! goes out of its port (or nowhere, if that is the ingress port); anything else floods.

use std::collections::HashMap;

use crate::time::Instant;

use super::{LEARN_LIFETIME, Switch};

#[derive(Debug, Default)]
pub struct Learning {
    /// MAC → (port, expiry).
    table: HashMap<[u8; 6], (u32, Instant)>,
}

impl Learning {
    pub fn clear(&mut self) {
        self.table.clear();
    }

    pub fn forget_port(&mut self, port: u32) {
        self.table.retain(|_, (p, _)| *p != port);
    }

    pub fn expire(&mut self, now: Instant) {
        self.table.retain(|_, (_, exp)| *exp > now);
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// (mac, port, expires) for the views.
    pub fn entries(&self) -> Vec<([u8; 6], u32, Instant)> {
        let mut v: Vec<_> = self.table.iter().map(|(m, (p, e))| (*m, *p, *e)).collect();
        v.sort();
        v
    }
}

impl Switch {
    /// Forwards `frame` as a learning switch would.
    pub(super) fn normal(&mut self, now: Instant, in_port: u32, frame: &[u8]) {
        if frame.len() < 14 {
            return;
        }
        let dst: [u8; 6] = frame[0..6].try_into().unwrap_or_default();
        let src: [u8; 6] = frame[6..12].try_into().unwrap_or_default();
        let table = &self.learning.table;
        if src[0] & 1 == 0 && (table.len() < super::MAX_LEARNED || table.contains_key(&src)) {
            self.learning
                .table
                .insert(src, (in_port, now + LEARN_LIFETIME));
        }
        let out = if dst[0] & 1 == 0 {
            self.learning
                .table
                .get(&dst)
                .filter(|(_, exp)| *exp > now)
                .map(|(p, _)| *p)
        } else {
            None
        };
        match out {
            Some(p) if p == in_port => {}
            Some(p) => self.emit_frame(p, frame),
            None => self.flood(in_port, frame),
        }
    }
}
