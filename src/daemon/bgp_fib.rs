//! Next-hop resolution for kernel routes. A BGP next hop need not be on a connected
//! network: an iBGP peer announces its loopback (next-hop-self), reachable through the
//! routes the lab compiled inside the AS (or a real IGP's). Linux does not resolve IPv4
//! gateways recursively, so before installing `prefix via NH` the daemon looks NH up in
//! the node's other routes (never its own BGP routes) and installs the route via that
//! route's gateway instead — one level, as routers do when they flatten recursive routes.
//!
//! ```text
//!   10.9.0.0/24 via 192.168.255.4 (BGP)      192.168.255.4 via 172.16.0.6 dev eth1 (static)
//!        └──────────── installed as: 10.9.0.0/24 via 172.16.0.6 ────────────┘
//! ```

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::netlink::dump::RouteRow;

/// The node's non-BGP routes and what each next hop resolved to.
#[derive(Default)]
pub struct Resolver {
    routes: Vec<RouteRow>,
    cache: HashMap<IpAddr, IpAddr>,
    loaded: bool,
}

impl Resolver {
    /// Forgets what it knows (after the kernel refused routes: the node's routes changed).
    pub fn invalidate(&mut self) {
        self.routes.clear();
        self.cache.clear();
        self.loaded = false;
    }

    /// A new batch: a next hop not seen before may list the routes again (once), so that
    /// routes added since are found; known next hops keep their answer and cost nothing —
    /// listing the table is what a full table makes expensive.
    pub fn new_batch(&mut self) {
        self.loaded = false;
    }

    /// The gateway to install for `next_hop`; `load` lists the node's routes and is called
    /// at most once until the next [`Resolver::invalidate`].
    pub fn resolve(
        &mut self,
        next_hop: IpAddr,
        load: impl FnOnce() -> std::io::Result<Vec<RouteRow>>,
    ) -> IpAddr {
        if let Some(gw) = self.cache.get(&next_hop) {
            return *gw;
        }
        if !self.loaded {
            self.loaded = true;
            self.routes = load()
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.proto != "bgp")
                .collect();
        }
        let gw = lookup(&self.routes, next_hop).unwrap_or(next_hop);
        self.cache.insert(next_hop, gw);
        gw
    }
}

/// Longest-prefix match of `addr` among `routes`: its gateway, or `addr` itself when the
/// best match is a connected network; `None` when nothing matches.
pub fn lookup(routes: &[RouteRow], addr: IpAddr) -> Option<IpAddr> {
    let best = routes
        .iter()
        .filter(|r| r.dst.contains(&addr) && !is_default(&r.dst))
        .max_by_key(|r| r.dst.prefix_len())?;
    Some(best.via.unwrap_or(addr))
}

fn is_default(n: &IpNet) -> bool {
    n.prefix_len() == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(dst: &str, via: Option<&str>, proto: &str) -> RouteRow {
        RouteRow {
            dst: dst.parse().unwrap(),
            via: via.map(|v| v.parse().unwrap()),
            dev: Some(2),
            proto: proto.to_string(),
        }
    }

    #[test]
    fn loopback_next_hops_resolve_through_the_static_route() {
        let routes = vec![
            row("172.16.0.4/30", None, "kernel"),
            row("192.168.255.2/32", Some("172.16.0.6"), "static"),
            row("192.168.255.0/24", Some("172.16.0.5"), "static"),
            row("10.9.0.0/24", Some("192.168.255.2"), "bgp"),
        ];
        let mut r = Resolver::default();
        let mut loads = 0;
        let mut get = |nh: &str| {
            r.resolve(nh.parse().unwrap(), || {
                loads += 1;
                Ok(routes.clone())
            })
        };
        assert_eq!(
            get("192.168.255.2"),
            "172.16.0.6".parse::<IpAddr>().unwrap()
        );
        // The longest match wins.
        assert_eq!(
            get("192.168.255.3"),
            "172.16.0.5".parse::<IpAddr>().unwrap()
        );
        // On-link next hops stay as they are.
        assert_eq!(get("172.16.0.6"), "172.16.0.6".parse::<IpAddr>().unwrap());
        // BGP's own routes never resolve a next hop; unknown ones stay too.
        assert_eq!(get("10.9.0.1"), "10.9.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(loads, 1, "the routes are listed once");
    }

    #[test]
    fn ipv6_and_default_routes() {
        let routes = vec![
            row("0.0.0.0/0", Some("172.16.0.1"), "static"),
            row("fd00:0:ff::2/128", Some("fd00:0:2:1::2"), "static"),
        ];
        assert_eq!(
            lookup(&routes, "fd00:0:ff::2".parse().unwrap()),
            Some("fd00:0:2:1::2".parse().unwrap())
        );
        assert_eq!(
            lookup(&routes, "8.8.8.8".parse().unwrap()),
            None,
            "a default route does not resolve a next hop"
        );
    }
}
