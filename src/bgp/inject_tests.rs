//! Determinism, uniqueness, the length and path-length shapes (counted), address space.

use std::collections::{HashMap, HashSet};

use super::*;

fn share(counts: &HashMap<u8, usize>, len: u8, total: usize) -> f64 {
    *counts.get(&len).unwrap_or(&0) as f64 / total as f64
}

#[test]
fn deterministic_from_the_seed() {
    let a = synthetic(5_000, Mix::INTERNET, 7, 65000);
    let b = synthetic(5_000, Mix::INTERNET, 7, 65000);
    assert_eq!(a, b);
    let c = synthetic(5_000, Mix::INTERNET, 8, 65000);
    assert_ne!(a, c);
}

#[test]
fn unique_prefixes_and_exact_family_split() {
    let t = table(100_000, Mix { v4: 3, v6: 1 }, 1, 65000);
    assert_eq!(t.routes.len(), 100_000);
    let set: HashSet<IpNet> = t.routes.iter().map(|r| r.0).collect();
    assert_eq!(set.len(), 100_000);
    let v6 = t
        .routes
        .iter()
        .filter(|r| matches!(r.0, IpNet::V6(_)))
        .count();
    assert_eq!(v6, 25_000);
    assert!(t.routes.iter().all(|r| r.0.trunc() == r.0), "no host bits");
    assert_eq!(table(10, Mix::V4, 1, 1).routes.len(), 10);
    assert!(table(10, Mix { v4: 0, v6: 0 }, 1, 1).routes.is_empty());
}

#[test]
fn v4_length_distribution_roughly_as_specified() {
    let t = table(200_000, Mix::V4, 3, 65000);
    let mut counts: HashMap<u8, usize> = HashMap::new();
    for (p, _) in &t.routes {
        *counts.entry(p.prefix_len()).or_default() += 1;
    }
    let n = t.routes.len();
    let s24 = share(&counts, 24, n);
    assert!((0.58..0.66).contains(&s24), "/24 share {s24}");
    // The order of the big classes is the table's.
    assert!(share(&counts, 22, n) > share(&counts, 23, n));
    assert!(share(&counts, 23, n) > share(&counts, 21, n));
    assert!(share(&counts, 20, n) > share(&counts, 19, n));
    assert!(
        share(&counts, 16, n) > share(&counts, 17, n),
        "local peak at /16"
    );
    for (len, w) in V4_LENGTHS {
        let expect = f64::from(w) / 1e6;
        let got = share(&counts, len, n);
        assert!(
            (got - expect).abs() < 0.01 + expect * 0.2,
            "/{len}: {got} vs {expect}"
        );
    }
    assert!(counts.keys().all(|&l| (8..=24).contains(&l)));
}

#[test]
fn v6_length_distribution_roughly_as_specified() {
    let t = table(100_000, Mix::V6, 3, 65000);
    let mut counts: HashMap<u8, usize> = HashMap::new();
    for (p, _) in &t.routes {
        *counts.entry(p.prefix_len()).or_default() += 1;
    }
    let n = t.routes.len();
    let s48 = share(&counts, 48, n);
    assert!((0.48..0.56).contains(&s48), "/48 share {s48}");
    assert!(share(&counts, 32, n) > share(&counts, 44, n));
    assert!(share(&counts, 44, n) > share(&counts, 36, n));
    assert!(counts.keys().all(|&l| (28..=48).contains(&l)));
}

#[test]
fn no_private_or_special_space() {
    let t = table(200_000, Mix::INTERNET, 9, 65000);
    for (p, _) in &t.routes {
        match p {
            IpNet::V4(n) => {
                let a = n.network();
                let o = a.octets()[0];
                assert!((1..=223).contains(&o), "{p}");
                assert!(!V4_SKIP.contains(&o), "{p}");
                assert!(
                    !a.is_private() && !a.is_loopback() && !a.is_link_local(),
                    "{p}"
                );
                assert!(!a.is_documentation() && !a.is_multicast(), "{p}");
            }
            IpNet::V6(n) => {
                let seg = n.network().segments()[0];
                assert!((0x2400..=0x2fff).contains(&seg), "{p}");
            }
        }
    }
}

#[test]
fn paths_are_realistic_and_shared() {
    let origin = 64512;
    let t = table(120_000, Mix::INTERNET, 5, origin);
    let mut lens = [0usize; 9];
    let mut used = HashSet::new();
    let mut firsts = HashSet::new();
    for &(_, i) in &t.routes {
        let a = &t.paths[i as usize];
        used.insert(a.clone());
        let asns = &a.as_path[0].asns;
        lens[asns.len()] += 1;
        firsts.insert(asns[0]);
        assert!(!asns.contains(&origin));
        for &x in asns {
            assert!(x != 0 && x != 23456 && !(64496..=131071).contains(&x) && x < 400_000);
        }
    }
    assert_eq!(lens[0], 0);
    let peak = (1..=8).max_by_key(|&l| lens[l]).unwrap();
    assert!(peak == 3 || peak == 4, "{lens:?}");
    assert!(firsts.len() <= 8, "first hops are origin_as's neighbours");
    let per_set = t.routes.len() as f64 / used.len() as f64;
    assert!(
        (3.0..=10.0).contains(&per_set),
        "{per_set} prefixes per attribute set"
    );
    let with_comm = used.iter().filter(|a| !a.communities.is_empty()).count();
    let frac = with_comm as f64 / used.len() as f64;
    assert!((0.2..0.6).contains(&frac), "{frac} with communities");
    assert!(used.iter().any(|a| !a.large_communities.is_empty()));
}
