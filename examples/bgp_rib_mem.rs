//! Feeds a synthetic full table (bgp::inject, as `topolab bench bgp` sends it) through the
//! speaker in 64 KiB reads, draining outputs after every read as the daemon does, and
//! prints the time and the heap the RIB holds (RSS after minus before).
//!
//! cargo run --release --example bgp_rib_mem -- 1000000

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant as StdInstant;

use topolab::bgp::codec::{self, *};
use topolab::bgp::config::{Afi, PeerConfig, SpeakerConfig};
use topolab::bgp::inject;
use topolab::bgp::speaker::{ConnId, Output, Speaker};
use topolab::time::Instant;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Live heap bytes (requested sizes; malloc's own overhead not counted).
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let n = LIVE.fetch_add(l.size() as isize, Ordering::Relaxed) + l.size() as isize;
        PEAK.fetch_max(n, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let n = LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed) + new as isize
            - l.size() as isize;
        PEAK.fetch_max(n, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn rss_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let t = inject::table(n, inject::Mix::V4, 2, 65002);
    let nh = Ipv4Addr::new(10, 0, 0, 2);
    let p = SessionParams {
        four_octet_as: true,
        ..Default::default()
    };
    let mut by_path: Vec<Vec<Nlri>> = vec![Vec::new(); t.paths.len()];
    for (prefix, i) in &t.routes {
        by_path[*i as usize].push(Nlri {
            path_id: None,
            prefix: *prefix,
        });
    }
    let mut bytes = Vec::new();
    for (path, nlri) in t.paths.iter().zip(&by_path) {
        let mut pa = path.clone();
        pa.prepend(65002, 1);
        pa.next_hop = IpAddr::V4(nh);
        let attrs = pa.to_attrs(true, Family::IPV4_UNICAST);
        for chunk in nlri.chunks(500) {
            codec::pack_announce(
                Family::IPV4_UNICAST,
                &attrs,
                &pa.mp_next_hop(),
                chunk,
                &p,
                &mut bytes,
            );
        }
    }
    let distinct = t.paths.len();
    drop(t);
    drop(by_path);
    let cfg = SpeakerConfig {
        asn: 65001,
        router_id: Ipv4Addr::new(1, 1, 1, 1),
        cluster_id: None,
        hold_time: 90,
        keepalive: None,
        connect_retry: 5,
        networks: vec![],
        import: vec![],
        export: vec![],
        peers: vec![PeerConfig {
            name: "sender".into(),
            address: IpAddr::V4(nh),
            local_address: None,
            port: 179,
            remote_as: 65002,
            passive: true,
            multihop: None,
            ttl_security: None,
            password: None,
            rr_client: false,
            next_hop_self: false,
            families: vec![Afi::Ipv4],
            import: vec![],
            export: vec![],
            hold_time: None,
            next_hops: vec![],
        }],
        fib: true,
        listen_port: 179,
    };
    let now = Instant::from_nanos(1);
    let mut s = Speaker::new(cfg, now);
    s.start(now);
    s.handle_connected(now, 0, ConnId(1), false);
    let open = Open {
        my_as: 65002,
        hold_time: 90,
        bgp_id: Ipv4Addr::new(2, 2, 2, 2),
        capabilities: vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::FourOctetAs(65002),
        ],
    };
    let mut hello = codec::to_bytes(&Message::Open(open), &SessionParams::default());
    hello.extend(codec::to_bytes(
        &Message::Keepalive,
        &SessionParams::default(),
    ));
    s.handle_data(now, ConnId(1), &hello);
    while s.poll_output().is_some() {}
    let before = rss_kib("VmRSS:");
    let heap0 = LIVE.load(Ordering::Relaxed);
    PEAK.store(heap0, Ordering::Relaxed);
    let start = StdInstant::now();
    let mut fib = 0usize;
    let mut sent = 0usize;
    for chunk in bytes.chunks(64 * 1024) {
        s.handle_data(now, ConnId(1), chunk);
        while let Some(o) = s.poll_output() {
            match o {
                Output::Fib(_) => fib += 1,
                Output::Send { bytes, .. } => sent += bytes.len(),
                _ => {}
            }
        }
    }
    let took = start.elapsed();
    let after = rss_kib("VmRSS:");
    let heap = (LIVE.load(Ordering::Relaxed) - heap0) as f64;
    let peak = (PEAK.load(Ordering::Relaxed) - heap0) as f64;
    println!(
        "heap held {:.1} MiB = {:.0} B/route; peak {:.1} MiB = {:.0} B/route",
        heap / 1048576.0,
        heap / n as f64,
        peak / 1048576.0,
        peak / n as f64
    );
    let hwm = rss_kib("VmHWM:");
    println!(
        "{} prefixes, {} attribute sets: {:.3} s, {} FIB changes, {} bytes sent back; RIB heap {:.1} MiB = {:.0} B/route (RSS {} → {} KiB, HWM {} KiB)",
        s.loc_rib_len(),
        distinct,
        took.as_secs_f64(),
        fib,
        sent,
        (after - before) as f64 / 1024.0,
        (after - before) as f64 * 1024.0 / n as f64,
        before,
        after,
        hwm
    );
}
