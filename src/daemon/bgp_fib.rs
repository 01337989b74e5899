//! Next-hop resolution for kernel routes. A BGP next hop need not be on a connected
//! network: an iBGP peer announces its loopback (next-hop-self), reachable through the
//! routes the lab compiled inside the AS (or a real IGP's). Linux does not resolve IPv4
//! gateways recursively, so before installing `prefix via NH` the daemon asks the kernel
//! for its route to NH (`ip route get`) and installs the route via that route's gateway
//! instead — one level, as routers do when they flatten recursive routes.
//!
//! ```text
//!   10.9.0.0/24 via 192.168.255.4 (BGP)      192.168.255.4 via 172.16.0.6 dev eth1 (static)
//!        └──────────── installed as: 10.9.0.0/24 via 172.16.0.6 ────────────┘
//! ```
//!
//! Answers are cached per next hop (a full table has few next hops and many routes); the
//! cache is dropped whenever the kernel refuses a route, since the node's routes changed.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

/// What each next hop resolved to.
#[derive(Default)]
pub struct Resolver {
    cache: HashMap<IpAddr, IpAddr>,
}

impl Resolver {
    /// Forgets every answer (after the kernel refused routes).
    pub fn invalidate(&mut self) {
        self.cache.clear();
    }

    /// The gateway to install for `next_hop`. `route_get` is the kernel's route to an
    /// address: its gateway, or `None` when the address is on a link. A next hop the kernel
    /// cannot route stays as it is (the kernel then refuses the route, which is counted).
    pub fn resolve(
        &mut self,
        next_hop: IpAddr,
        route_get: impl FnOnce(IpAddr) -> io::Result<Option<IpAddr>>,
    ) -> IpAddr {
        *self
            .cache
            .entry(next_hop)
            .or_insert_with(|| match route_get(next_hop) {
                Ok(Some(gw)) => gw,
                Ok(None) | Err(_) => next_hop,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn next_hops_resolve_once_through_the_kernel_route() {
        let mut r = Resolver::default();
        let mut asked = Vec::new();
        let mut get = |nh: &str| {
            r.resolve(ip(nh), |a| {
                asked.push(a);
                Ok(match a.to_string().as_str() {
                    "192.168.255.2" => Some(ip("172.16.0.6")),
                    "fd00:0:ff::2" => Some(ip("fd00:0:2:1::2")),
                    "172.16.0.6" => None,
                    _ => return Err(io::Error::from_raw_os_error(libc::ENETUNREACH)),
                })
            })
        };
        assert_eq!(get("192.168.255.2"), ip("172.16.0.6"));
        assert_eq!(get("192.168.255.2"), ip("172.16.0.6"));
        assert_eq!(get("fd00:0:ff::2"), ip("fd00:0:2:1::2"));
        // On a link: as it is. Unroutable: as it is (the kernel refuses the route).
        assert_eq!(get("172.16.0.6"), ip("172.16.0.6"));
        assert_eq!(get("203.0.113.9"), ip("203.0.113.9"));
        assert_eq!(asked.len(), 4, "one question per next hop: {asked:?}");
    }

    #[test]
    fn invalidate_asks_again() {
        let mut r = Resolver::default();
        let mut n = 0;
        for _ in 0..3 {
            r.resolve(ip("192.168.255.2"), |_| {
                n += 1;
                Ok(Some(ip("172.16.0.6")))
            });
        }
        r.invalidate();
        r.resolve(ip("192.168.255.2"), |_| {
            n += 1;
            Ok(Some(ip("172.16.0.5")))
        });
        assert_eq!(n, 2);
    }
}
