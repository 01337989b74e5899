//! Which I/O should the userspace link engine use? Measures one TCP stream (cubic) between
//! two namespaces over
//!   1. a plain veth (the reference),
//!   2. a TAP relay: each namespace's interface is a TAP device (IFF_VNET_HDR, TSO/CSUM
//!      offloads on, so super-frames cross like on a veth) and two threads copy frames
//!      between the two TAP file descriptors,
//!   3. topolab's relay: veth ends parked in a fabric namespace, AF_PACKET with
//!      PACKET_VNET_HDR, recvmmsg/sendmmsg batches (an unimpaired `engine: userspace` link),
//!   4. and 5. the same two with every frame one wire packet (TAP: offloads off; topolab: a
//!      link with a per-packet impairment, which turns the nodes' offloads off).
//!
//! The cases alternate, and the medians are printed. Run as root:
//!
//! ```text
//! cargo run --release --example relay_io -- [ROUNDS] [SECONDS]
//! ```
//! The namespaces are named `rio<pid>a` / `rio<pid>b` and deleted on exit.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use topolab::lab::{Lab, LabOptions};
use topolab::tools::tcp;
use topolab::topology::Topology;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const TUN_F_CSUM: libc::c_uint = 1;
const TUN_F_TSO4: libc::c_uint = 2;
const TUN_F_TSO6: libc::c_uint = 4;

#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip");
    assert!(st.success(), "ip {args:?} failed");
}

/// Opens a TAP device named `tap0` in namespace `ns` (the device lives as long as the fd).
fn open_tap(ns: &str, offloads: bool) -> std::io::Result<OwnedFd> {
    topolab::tools::socket_in(ns, move || {
        // SAFETY: plain open(2) of a device node.
        let fd = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut req = IfReq {
            name: [0; 16],
            flags: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
            _pad: [0; 22],
        };
        req.name[..4].copy_from_slice(b"tap0");
        // SAFETY: TUNSETIFF takes a struct ifreq; TUNSETOFFLOAD an unsigned int by value.
        unsafe {
            if libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let off = if offloads {
                TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6
            } else {
                0
            };
            if libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD, off as libc::c_ulong) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(fd)
    })
}

/// Copies frames from `rx` to `tx` until `stop`.
fn pump(rx: Arc<OwnedFd>, tx: Arc<OwnedFd>, stop: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 10 + 65_536 + 64];
    while !stop.load(Ordering::Relaxed) {
        let mut pfd = libc::pollfd {
            fd: rx.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
            continue;
        }
        loop {
            // SAFETY: buf is valid for its length.
            let n = unsafe { libc::read(rx.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            // SAFETY: the first n bytes of buf were just read.
            unsafe { libc::write(tx.as_raw_fd(), buf.as_ptr().cast(), n as usize) };
        }
    }
}

struct Namespaces(String, String);
impl Drop for Namespaces {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.1]).status();
    }
}

fn tap_round(secs: f64, offloads: bool) -> f64 {
    let pid = std::process::id();
    let ns = Namespaces(format!("rio{pid}a"), format!("rio{pid}b"));
    ip(&["netns", "add", &ns.0]);
    ip(&["netns", "add", &ns.1]);
    let a = Arc::new(open_tap(&ns.0, offloads).expect("tap a"));
    let b = Arc::new(open_tap(&ns.1, offloads).expect("tap b"));
    for (n, addr) in [(&ns.0, "10.99.0.1/24"), (&ns.1, "10.99.0.2/24")] {
        ip(&["-n", n, "link", "set", "lo", "up"]);
        ip(&["-n", n, "addr", "add", addr, "dev", "tap0"]);
        ip(&["-n", n, "link", "set", "tap0", "up"]);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let t1 = {
        let (a, b, s) = (a.clone(), b.clone(), stop.clone());
        std::thread::spawn(move || pump(a, b, s))
    };
    let t2 = {
        let (a, b, s) = (a.clone(), b.clone(), stop.clone());
        std::thread::spawn(move || pump(b, a, s))
    };
    // Resolve neighbours before timing.
    let _ = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            "10.99.0.2",
        ])
        .output();
    let cfg = tcp::TcpConfig {
        duration: Duration::from_secs_f64(secs),
        ..Default::default()
    };
    let r = tcp::throughput(&ns.0, &ns.1, IpAddr::V4(Ipv4Addr::new(10, 99, 0, 2)), &cfg)
        .expect("tcp over tap");
    stop.store(true, Ordering::Relaxed);
    let _ = t1.join();
    let _ = t2.join();
    r.bits_per_s
}

async fn lab_round(rt_secs: f64, settings: &str) -> f64 {
    let yaml = format!(
        "name: rio\naddressing: {{ipv6: false}}\nnodes:\n  h1: {{}}\n  h2: {{}}\n\
         links:\n  - endpoints: [h1, h2]\n{settings}"
    );
    let topo = Topology::from_str(&yaml, "<relay_io>").expect("topology");
    let lab = Lab::up_with(
        &topo,
        LabOptions {
            name: Some(format!("rio{}", std::process::id())),
            ..Default::default()
        },
    )
    .await
    .expect("lab up");
    let h1 = lab.plan().node("h1").expect("h1").clone();
    let h2 = lab.plan().node("h2").expect("h2").clone();
    let addr = h2.ifaces[0].addrs[0].addr();
    let (src, dst) = (h1.netns.clone(), h2.netns.clone());
    let _ = lab
        .node("h1")
        .exec(["ping", "-c", "1", "-W", "1", &addr.to_string()])
        .await;
    let cfg = tcp::TcpConfig {
        duration: Duration::from_secs_f64(rt_secs),
        ..Default::default()
    };
    let bps =
        tokio::task::spawn_blocking(move || tcp::throughput(&src, &dst, addr, &cfg).expect("tcp"))
            .await
            .expect("join")
            .bits_per_s;
    lab.down().await.expect("down");
    bps
}

async fn tap(secs: f64, offloads: bool) -> f64 {
    tokio::task::spawn_blocking(move || tap_round(secs, offloads))
        .await
        .expect("tap round")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let secs: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let cases = [
        "plain veth",
        "TAP relay, offloads on",
        "AF_PACKET relay (topolab), offloads on",
        "TAP relay, offloads off",
        "AF_PACKET relay (topolab), per-packet",
    ];
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for round in 1..=rounds {
        runs[0].push(lab_round(secs, "").await);
        runs[1].push(tap(secs, true).await);
        runs[2].push(lab_round(secs, "    engine: userspace\n").await);
        runs[3].push(tap(secs, false).await);
        // Declaring a loss (of 0%) makes the link per-packet: offloads off on the nodes'
        // ends, every frame through the loss stage.
        runs[4].push(lab_round(secs, "    loss: 0%\n").await);
        let now: Vec<String> = runs
            .iter()
            .map(|r| format!("{:.2}", r[round - 1] / 1e9))
            .collect();
        eprintln!("  round {round}: {} Gbit/s", now.join(" / "));
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let plain = median(&runs[0]);
    println!("one TCP stream (cubic), {secs} s per run, median of {rounds} alternating rounds");
    for (name, r) in cases.iter().zip(&runs) {
        let m = median(r);
        println!(
            "  {name:<40} {:>7.2} Gbit/s  {:>4.0}% of plain",
            m / 1e9,
            100.0 * m / plain
        );
    }
}
