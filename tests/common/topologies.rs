//! Example topologies for golden and root tests, built with the test builder. Each is
//! small enough to be written as YAML once the parser exists (see the builder's text).

use topolab::topology::Topology;

use super::builder::TopoBuilder;

/// Three hosts on one switch; no router, so no routes.
pub fn lan() -> Topology {
    TopoBuilder::new("lan")
        .host("h1")
        .host("h2")
        .host("h3")
        .switch("s1")
        .link("h1", "s1")
        .link("h2", "s1")
        .link("h3", "s1")
        .build()
}

/// h1 – s1 – r1 – r2 – r3 – s2 – h2, both families.
pub fn chain() -> Topology {
    TopoBuilder::new("chain")
        .host("h1")
        .switch("s1")
        .router("r1")
        .router("r2")
        .router("r3")
        .switch("s2")
        .host("h2")
        .link("h1", "s1")
        .link("r1", "s1")
        .link("r1", "r2")
        .link("r2", "r3")
        .link("r3", "s2")
        .link("h2", "s2")
        .build()
}

/// Four switches in a ring, a host on each, a router on s3; IPv4 only. s3–s4 is blocked.
pub fn ring() -> Topology {
    let mut b = TopoBuilder::new("ring").ipv6(false);
    for i in 1..=4 {
        b = b.switch(&format!("s{i}"));
    }
    for i in 1..=4 {
        b = b.host(&format!("h{i}"));
    }
    b = b.router("r1");
    for i in 1..=4 {
        b = b.link(&format!("h{i}"), &format!("s{i}"));
    }
    b.link("s1", "s2")
        .link("s2", "s3")
        .link("s3", "s4")
        .link("s4", "s1")
        .link("r1", "s3")
        .build()
}

/// Two LANs of two hosts, each behind a router; the routers share a point-to-point link.
pub fn quickstart() -> Topology {
    TopoBuilder::new("quickstart")
        .host("h1")
        .host("h2")
        .host("h3")
        .host("h4")
        .switch("s1")
        .switch("s2")
        .router("r1")
        .router("r2")
        .link("h1", "s1")
        .link("h2", "s1")
        .link("r1", "s1")
        .link("r1", "r2")
        .link("r2", "s2")
        .link("h3", "s2")
        .link("h4", "s2")
        .build()
}

/// Everything explicit a user can write: interface names, addresses, loopbacks, MTUs,
/// sysctls (one needing shell quotes), commands, a user pool, an STP switch.
pub fn explicit() -> Topology {
    TopoBuilder::new("explicit")
        .pool("lan4", "172.20.0.0/16", 26)
        .default_mtu(9000)
        .host("web")
        .host("db")
        .router("gw")
        .router("core")
        .stp_switch("sw")
        .switch("sw2")
        .loopback("core", "10.99.0.1/32")
        .loopback("core", "fd99::1/128")
        .sysctl("web", "net.ipv4.ping_group_range", "0 2147483647")
        .sysctl("gw", "net.ipv4.ip_forward", "1")
        .run("web", "python3 -m http.server 80")
        .link("web:uplink", "sw:port1")
        .link("db@172.20.0.10/26", "sw")
        .link("gw:lan", "sw")
        .link("sw", "sw2")
        .link("sw2", "sw")
        .link(
            "gw:wan@100.64.0.1/31,2001:db8::1/127",
            "core:down@100.64.0.0/31,2001:db8::/127",
        )
        .mtu(1500)
        .build()
}

/// Three routers in a triangle, each with a LAN; one host sits on two LANs, one LAN is a
/// ring of switches, and r3 also has a host on a point-to-point link.
pub fn campus() -> Topology {
    TopoBuilder::new("campus")
        .router("r1")
        .router("r2")
        .router("r3")
        .switch("a1")
        .switch("b1")
        .switch("b2")
        .switch("b3")
        .switch("c1")
        .host("ha")
        .host("hb1")
        .host("hb2")
        .host("hc")
        .host("multi")
        .host("stub")
        .link("r1", "r2")
        .link("r2", "r3")
        .link("r3", "r1")
        .link("r1", "a1")
        .link("ha", "a1")
        .link("r2", "b1")
        .link("b1", "b2")
        .link("b2", "b3")
        .link("b3", "b1")
        .link("hb1", "b2")
        .link("hb2", "b3")
        .link("r3", "c1")
        .link("hc", "c1")
        .link("multi", "a1")
        .link("multi", "c1")
        .link("r3", "stub")
        .build()
}

/// Six routers in a line, a host at each end; IPv6 only.
pub fn line6() -> Topology {
    let mut b = TopoBuilder::new("line6")
        .ipv4(false)
        .host("left")
        .host("right");
    for i in 1..=6 {
        b = b.router(&format!("r{i}"));
    }
    b = b.link("left", "r1");
    for i in 1..6 {
        b = b.link(&format!("r{i}"), &format!("r{}", i + 1));
    }
    b.link("r6", "right").build()
}
