//! Views for the control protocol and the CLI: summary, neighbors, routes, Adj-RIBs.

use std::sync::Arc;

use ipnet::IpNet;

use crate::bgp::attrs::{
    PathAttrs, RouteView, as_path_string, community_string, large_community_string, origin_name,
};
use crate::bgp::fsm::State;
use crate::time::Instant;

use super::peer::{families_of, family_name};
use super::rib::{Cand, LOCAL};
use super::{NeighborView, PeerId, Speaker, Summary};

fn state_name(s: State) -> &'static str {
    match s {
        State::Idle => "idle",
        State::Connect => "connect",
        State::Active => "active",
        State::OpenSent => "opensent",
        State::OpenConfirm => "openconfirm",
        State::Established => "established",
    }
}

impl Speaker {
    fn view(
        &self,
        prefix: IpNet,
        a: &Arc<PathAttrs>,
        source: String,
        best: bool,
        age_s: f64,
    ) -> RouteView {
        RouteView {
            prefix: prefix.to_string(),
            next_hop: a.next_hop.to_string(),
            as_path: as_path_string(&a.as_path),
            origin: origin_name(a.origin).into(),
            med: a.med,
            local_pref: a.local_pref,
            communities: a.communities.iter().map(|c| community_string(*c)).collect(),
            large_communities: a
                .large_communities
                .iter()
                .map(large_community_string)
                .collect(),
            source,
            best,
            age_s,
        }
    }

    fn source_name(&self, src: u32) -> String {
        if src == LOCAL {
            "local".into()
        } else {
            self.peers[src as usize].cfg.name.clone()
        }
    }

    fn age(&self, c: &Cand, now: Instant) -> f64 {
        f64::from(self.secs(now).saturating_sub(c.since))
    }

    fn cand_view(&self, prefix: IpNet, c: &Cand, best: bool, now: Instant) -> RouteView {
        self.view(
            prefix,
            &c.attrs,
            self.source_name(c.src),
            best,
            self.age(c, now),
        )
    }

    pub(super) fn summary_view(&self, now: Instant) -> Summary {
        Summary {
            asn: self.config.asn,
            router_id: self.config.router_id.to_string(),
            peers: self.peers.len(),
            established: self.peers.iter().filter(|p| p.up.is_some()).count(),
            loc_rib: self.rib.best_count,
            attr_sets: self.interner.len(),
            fib_installed: self.fib_installed,
            neighbors: (0..self.peers.len())
                .map(|p| self.neighbor_view(p, now))
                .collect(),
        }
    }

    pub(super) fn neighbor_view(&self, pid: PeerId, now: Instant) -> NeighborView {
        let p = &self.peers[pid];
        let main = p.slots.iter().find(|s| s.fsm.state() == State::Established);
        let hold = main
            .map(|s| s.fsm.negotiated().0.as_secs() as u16)
            .unwrap_or(p.cfg.hold_time.unwrap_or(self.config.hold_time));
        let families = match &p.up {
            Some(u) => u.families.iter().map(|f| family_name(*f)).collect(),
            None => families_of(&p.cfg).into_iter().map(family_name).collect(),
        };
        NeighborView {
            name: p.cfg.name.clone(),
            address: p.cfg.address.to_string(),
            remote_as: p.cfg.remote_as,
            state: state_name(p.state()).into(),
            uptime_s: p.up.as_ref().map_or(0.0, |u| {
                now.saturating_duration_since(u.since).as_secs_f64()
            }),
            received: p.received,
            accepted: p.accepted,
            advertised: p.adj_out.len(),
            messages_in: p.messages_in,
            messages_out: p.messages_out,
            last_error: p.last_error.clone(),
            hold_time: hold,
            families,
        }
    }

    pub(super) fn routes_view(&self, now: Instant) -> Vec<RouteView> {
        let mut out = Vec::new();
        for (prefix, d) in self.rib.map.iter() {
            let best = d.best_index();
            if let Some(b) = d.best() {
                out.push(self.cand_view(prefix, b, true, now));
            }
            for (i, c) in d.cands().iter().enumerate() {
                if Some(i) != best && !c.rejected {
                    out.push(self.cand_view(prefix, c, false, now));
                }
            }
        }
        out
    }

    pub(super) fn lookup_view(&self, prefix: IpNet, now: Instant) -> Option<RouteView> {
        let prefix = prefix.trunc();
        let b = self.rib.map.get(&prefix)?.best()?;
        Some(self.cand_view(prefix, b, true, now))
    }

    pub(super) fn adj_in_view(&self, pid: PeerId, now: Instant) -> Vec<RouteView> {
        let mut out = Vec::new();
        for (prefix, d) in self.rib.map.iter() {
            let best = d.best_index();
            for (i, c) in d.cands().iter().enumerate() {
                if c.src == pid as u32 {
                    out.push(self.view(
                        prefix,
                        d.received(i),
                        self.source_name(c.src),
                        Some(i) == best,
                        self.age(c, now),
                    ));
                }
            }
        }
        out
    }

    pub(super) fn adj_out_view(&self, pid: PeerId, _now: Instant) -> Vec<RouteView> {
        let Some(p) = self.peers.get(pid) else {
            return Vec::new();
        };
        p.adj_out
            .iter()
            .map(|(prefix, a)| self.view(prefix, a, p.cfg.name.clone(), true, 0.0))
            .collect()
    }
}
