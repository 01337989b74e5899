//! An independent MRT reader (`bgpdump`, Debian package `bgpdump`) reads our TABLE_DUMP_V2
//! dumps: every RIB entry, with its peer, prefix, AS path, origin, next hop, LOCAL_PREF,
//! MED and communities, as we wrote them. Skipped when bgpdump is absent, unless CI runs
//! and scripts/deps installs it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use topolab::bgp::attrs::PathAttrs;
use topolab::bgp::inject;
use topolab::bgp::mrt::{self, MrtPeer, MrtRoute};
use topolab::bgp::policy::as_path_text;

fn have_bgpdump() -> bool {
    // bgpdump has no --version; -T runs its self-test and exits 0.
    let ok = Command::new("bgpdump")
        .arg("-T")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true")
            || std::env::var_os("TOPOLAB_REQUIRE_ROOT").is_some();
        let installed_by_deps = include_str!("../scripts/deps").contains("bgpdump");
        assert!(
            !(ci && installed_by_deps),
            "bgpdump is not installed (scripts/deps installs it)"
        );
        eprintln!("SKIPPED: bgpdump is not installed");
    }
    ok
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The fields of `bgpdump -m` we check, as it prints them.
fn expected(peer: &MrtPeer, r: &MrtRoute) -> String {
    let a = &r.attrs;
    let origin = match a.origin {
        topolab::bgp::codec::Origin::Igp => "IGP",
        topolab::bgp::codec::Origin::Egp => "EGP",
        topolab::bgp::codec::Origin::Incomplete => "INCOMPLETE",
    };
    let comms: Vec<String> = a
        .communities
        .iter()
        .map(|c| format!("{}:{}", c >> 16, c & 0xffff))
        .collect();
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}",
        peer.addr,
        peer.asn,
        r.prefix,
        as_path_text(&a.as_path),
        origin,
        a.next_hop,
        a.local_pref.unwrap_or(0),
        a.med.unwrap_or(0),
        comms.join(" "),
    )
}

#[test]
fn bgpdump_reads_our_table_dump() {
    if !have_bgpdump() {
        return;
    }
    let peers = vec![
        MrtPeer {
            bgp_id: Ipv4Addr::new(192, 0, 2, 1),
            addr: "192.0.2.1".parse().unwrap(),
            asn: 65001,
        },
        MrtPeer {
            bgp_id: Ipv4Addr::new(192, 0, 2, 2),
            addr: "2001:db8::2".parse().unwrap(),
            asn: 4_200_000_000,
        },
    ];
    let t = inject::table(3_000, inject::Mix::INTERNET, 42, 64512);
    let with_nh = |p: &PathAttrs, nh: IpAddr, lp: Option<u32>| {
        let mut p = p.clone();
        p.next_hop = nh;
        p.local_pref = lp;
        Arc::new(p)
    };
    let v4: Vec<_> = t
        .paths
        .iter()
        .map(|p| with_nh(p, "192.0.2.1".parse().unwrap(), None))
        .collect();
    let v6: Vec<_> = t
        .paths
        .iter()
        .map(|p| with_nh(p, "2001:db8::2".parse().unwrap(), Some(150)))
        .collect();
    let mut routes = Vec::new();
    for (k, &(prefix, i)) in t.routes.iter().enumerate() {
        let six = prefix.addr().is_ipv6();
        routes.push(MrtRoute {
            prefix,
            peer_index: u16::from(six),
            originated: 1_700_000_000 + k as u32,
            attrs: if six { &v6 } else { &v4 }[i as usize].clone(),
        });
    }
    let mut dump = Vec::new();
    mrt::write_table_dump(
        &mut dump,
        Ipv4Addr::new(192, 0, 2, 255),
        "bgpdump-test",
        &peers,
        &routes,
        1_700_000_000,
    )
    .unwrap();
    let file = TempFile(std::env::temp_dir().join(format!("tl-mrt-{}.mrt", std::process::id())));
    std::fs::write(&file.0, &dump).unwrap();

    let out = Command::new("bgpdump")
        .arg("-m")
        .arg(&file.0)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut got: Vec<String> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            assert_eq!(f[0], "TABLE_DUMP2", "{l}");
            assert_eq!(f[1], "1700000000", "{l}");
            f[3..12].join("|")
        })
        .collect();
    let mut want: Vec<String> = routes
        .iter()
        .map(|r| expected(&peers[usize::from(r.peer_index)], r))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
}
