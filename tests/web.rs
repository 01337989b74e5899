//! The web view (`topolab web`, `up --web`): the JSON it sends (unit tests on Plans, no
//! root), the server of a running lab over HTTP, and the page in a real headless Chromium
//! (driven over the DevTools pipe): every node and link drawn with its shape, a link taken
//! down turning red, link and node panels, and a screenshot written as a CI artifact.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use topolab::compile::{Plan, compile};
use topolab::lab::links::LinkStatus;
use topolab::lab::service::{ServiceStatus, State};
use topolab::netlink::dump::LinkCounters;
use topolab::topology::Topology;
use topolab::web::model::{Counters, Graph, Shape, TickInput, tick};
use topolab::web::server::{LinkRequest, link_action_of, page};

use common::{DownOnDrop, lab_name, topolab};

/// Every kind of node: an OpenFlow controller and switch, a bridge, two BGP routers (a
/// session between them over a link with a delay), hosts.
const TOPO: &str = "\
name: web
nodes:
  c0: {kind: controller, app: learning}
  o1: {kind: ofswitch, controller: c0}
  s1: {kind: switch}
  r1: {kind: router, bgp: {asn: 65001, neighbors: auto}}
  r2: {kind: router, bgp: {asn: 65002, neighbors: auto}}
  r3: {kind: router}
  h1: {}
  h2: {}
  h3: {}
links:
  - [h1, o1]
  - [o1, r1]
  - {endpoints: [r1, r2], delay: 5ms}
  - [r2, s1]
  - [s1, h2]
  - [s1, r3]
  - [r3, h3]
";

fn plan() -> Plan {
    compile(&Topology::from_str(TOPO, "web.yaml").unwrap(), "webunit").unwrap()
}

fn link_id(plan: &Plan, a: &str, b: &str) -> usize {
    plan.links
        .iter()
        .find(|l| plan.nodes[l.a.node].name == a && plan.nodes[l.b.node].name == b)
        .unwrap()
        .link
}

// ---- the JSON state ------------------------------------------------------------------

#[test]
fn the_graph_has_every_user_node_and_link_with_its_shape() {
    let p = plan();
    let g = Graph::from_plan(&p, 1000);
    let names: BTreeSet<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
    let want: BTreeSet<&str> = p.user_nodes().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names, want,
        "internal nodes (fabric, management) are not drawn"
    );
    let shape = |n: &str| g.nodes.iter().find(|x| x.name == n).unwrap().shape;
    assert_eq!(shape("c0"), Shape::Controller);
    assert_eq!(shape("o1"), Shape::OfSwitch);
    assert_eq!(shape("s1"), Shape::Switch);
    assert_eq!(shape("r1"), Shape::Bgp);
    assert_eq!(shape("r3"), Shape::Router);
    assert_eq!(shape("h1"), Shape::Host);
    assert_eq!(g.links.len(), 7);
    let l = &g.links[link_id(&p, "r1", "r2")];
    assert_eq!((l.a.as_str(), l.b.as_str()), ("r1", "r2"));
    assert!(l.a_iface.starts_with("eth"));
    let v = serde_json::to_value(&g).unwrap();
    assert!(v["nodes"][0]["shape"].as_str().is_some());
    assert_eq!(v["interval_ms"], 1000);
    assert_eq!(
        serde_json::to_value(Shape::OfSwitch).unwrap(),
        json!("of_switch")
    );
}

/// Counters of every node with one interface entry each for the ends of `link`.
fn counters(p: &Plan, link: usize, a: LinkCounters, b: LinkCounters) -> Counters {
    let l = &p.links[link];
    let mut c: Counters = p
        .nodes
        .iter()
        .map(|n| (!n.kind.is_internal()).then(HashMap::new))
        .collect();
    let ia = p.iface(l.a).ifindex;
    let ib = p.iface(l.b).ifindex;
    c[l.a.node]
        .as_mut()
        .unwrap()
        .insert(ia, LinkCounters { ifindex: ia, ..a });
    c[l.b.node]
        .as_mut()
        .unwrap()
        .insert(ib, LinkCounters { ifindex: ib, ..b });
    c
}

fn input<'a>(
    prev: Option<&'a Counters>,
    now: &'a Counters,
    links: Option<&'a [LinkStatus]>,
    services: &'a [ServiceStatus],
) -> TickInput<'a> {
    TickInput {
        t: 5.0,
        dt: 2.0,
        prev,
        now,
        links,
        services,
        bgp: &[],
        openflow: &[],
        errors: Vec::new(),
    }
}

fn up(tx_bytes: u64, tx_packets: u64) -> LinkCounters {
    LinkCounters {
        up: true,
        tx_bytes,
        tx_packets,
        ..LinkCounters::default()
    }
}

#[test]
fn a_tick_has_rates_packets_and_drops_per_direction() {
    let p = plan();
    let id = link_id(&p, "r1", "r2");
    let prev = counters(&p, id, up(1_000, 10), up(500, 5));
    let mut a = up(251_000, 210);
    a.tx_dropped = 2;
    let mut b = up(10_500, 25);
    b.rx_dropped = 3;
    let now = counters(&p, id, a, b);
    let mut st = LinkStatus {
        link: id,
        a: "r1:eth1".into(),
        b: "r2:eth0".into(),
        engine: p.links[id].engine,
        reason: String::new(),
        up: true,
        a_to_b: p.links[id].a_to_b.clone(),
        b_to_a: p.links[id].b_to_a.clone(),
        counters_a_to_b: None,
        counters_b_to_a: None,
    };
    st.counters_a_to_b = Some(topolab::link::Counters {
        dropped_loss: 4,
        dropped_queue: 1,
        ..Default::default()
    });
    let statuses = [st];
    let t = tick(&p, input(Some(&prev), &now, Some(&statuses), &[]));
    let l = &t.links[id];
    assert!(l.up);
    // 250 000 bytes in 2 s = 1 Mbit/s; 200 packets in 2 s.
    assert_eq!(l.a_to_b.bps, 1_000_000.0);
    assert_eq!(l.a_to_b.pps, 100.0);
    assert_eq!((l.a_to_b.packets, l.a_to_b.bytes), (210, 251_000));
    // The engine's 4 + 1, r1's tx drops 2, r2's rx drops 3.
    assert_eq!(l.a_to_b.drops, 10);
    assert_eq!(l.b_to_a.bps, 40_000.0);
    assert_eq!(l.b_to_a.drops, 0);
    assert_eq!(l.a_to_b.impair, "delay 5ms");
    // Without a previous sample there is no rate, only totals.
    let t = tick(&p, input(None, &now, Some(&statuses), &[]));
    assert_eq!(t.links[id].a_to_b.bps, 0.0);
    assert_eq!(t.links[id].a_to_b.packets, 210);
    let v = serde_json::to_value(&t).unwrap();
    for k in ["bps", "pps", "packets", "bytes", "drops", "impair"] {
        assert!(v["links"][id]["b_to_a"].get(k).is_some(), "{k} in {v}");
    }
}

#[test]
fn a_link_is_down_when_the_supervisor_or_either_interface_says_so() {
    let p = plan();
    let id = link_id(&p, "s1", "h2");
    let mut down = up(0, 0);
    down.up = false;
    let now = counters(&p, id, up(0, 0), down);
    let t = tick(&p, input(None, &now, None, &[]));
    assert!(!t.links[id].up, "an interface down is a link down");
    assert!(t.links.iter().filter(|l| l.id != id).all(|l| l.up));
    let now = counters(&p, id, up(0, 0), up(0, 0));
    let st = LinkStatus {
        link: id,
        a: "s1:eth2".into(),
        b: "h2:eth0".into(),
        engine: p.links[id].engine,
        reason: String::new(),
        up: false,
        a_to_b: Default::default(),
        b_to_a: Default::default(),
        counters_a_to_b: None,
        counters_b_to_a: None,
    };
    let t = tick(&p, input(None, &now, Some(std::slice::from_ref(&st)), &[]));
    assert!(!t.links[id].up, "the supervisor's `down` is a link down");
}

fn service(node: &str, state: State) -> ServiceStatus {
    ServiceStatus {
        node: node.into(),
        name: "svc".into(),
        what: "daemon".into(),
        state,
        pid: None,
        restarts: 0,
        uptime_s: None,
        exit: None,
        log_tail: Vec::new(),
    }
}

#[test]
fn node_state_says_missing_failed_paused_or_ok() {
    let p = plan();
    let mut now: Counters = p
        .nodes
        .iter()
        .map(|n| (!n.kind.is_internal()).then(HashMap::new))
        .collect();
    let h1 = p.nodes.iter().position(|n| n.name == "h1").unwrap();
    now[h1] = None;
    let svcs = [
        service("r1", State::Failed),
        service("r2", State::Paused),
        service("r3", State::Starting),
        service("c0", State::Ready),
    ];
    let t = tick(&p, input(None, &now, None, &svcs));
    let state = |n: &str| t.nodes.iter().find(|x| x.name == n).unwrap().state.clone();
    assert_eq!(state("h1"), "missing");
    assert_eq!(state("r1"), "failed");
    assert_eq!(state("r2"), "paused");
    assert_eq!(state("r3"), "starting");
    assert_eq!(state("c0"), "ok");
    assert_eq!(state("h2"), "ok");
    assert_eq!(t.nodes.len(), p.user_nodes().count());
}

#[test]
fn sessions_name_the_peer_node_by_its_address() {
    let p = plan();
    let r2 = p.node("r2").unwrap();
    let r2_addr = r2.ifaces[0].addrs[0].addr().to_string();
    let bgp = vec![(
        "r1".to_string(),
        json!({"neighbors": [
            {"name": "x", "address": r2_addr, "state": "established"},
            {"name": "y", "address": "192.0.2.99", "state": "active"},
        ]}),
    )];
    let o1 = p.mgmt_addrs("o1")[0].addr();
    let of = vec![(
        "c0".to_string(),
        json!([{"dpid": "1", "state": "ready", "peer": format!("{o1}:40000")}]),
    )];
    let now: Counters = Vec::new();
    let mut i = input(None, &now, None, &[]);
    i.bgp = &bgp;
    i.openflow = &of;
    let t = tick(&p, i);
    assert_eq!(t.bgp.len(), 2);
    assert_eq!(
        (t.bgp[0].to.as_str(), t.bgp[0].to_is_node, t.bgp[0].up),
        ("r2", true, true)
    );
    assert_eq!(
        (t.bgp[1].to.as_str(), t.bgp[1].to_is_node, t.bgp[1].up),
        ("192.0.2.99", false, false)
    );
    assert_eq!(t.openflow.len(), 1);
    assert_eq!(
        (t.openflow[0].from.as_str(), t.openflow[0].to.as_str()),
        ("c0", "o1")
    );
    assert!(t.openflow[0].up);
}

#[test]
fn the_page_carries_the_graph_and_nothing_in_it_ends_the_script() {
    let mut g = Graph::from_plan(&plan(), 1000);
    g.lab = "</script><script>alert(1)</script>&".into();
    let html = page(&g);
    assert!(!html.contains("{{GRAPH}}"));
    assert!(!html.contains("</script><script>alert"));
    assert_eq!(html.matches("</script>").count(), 2, "only the page's own");
    let start = html.find("application/json\">").unwrap() + "application/json\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let back: Graph = serde_json::from_str(&html[start..end]).unwrap();
    assert_eq!(back, g, "the escaped JSON reads back the same");
    assert!(topolab::web::asset_bytes() > 0);
}

#[test]
fn link_requests_are_checked_before_the_lab_sees_them() {
    let req = |action: &str, set: &[&str]| LinkRequest {
        action: action.into(),
        set: set.iter().map(|s| s.to_string()).collect(),
    };
    assert!(link_action_of(&req("down", &[])).is_ok());
    assert!(link_action_of(&req("up", &[])).is_ok());
    assert!(link_action_of(&req("set", &["delay=20ms", "a_to_b.loss=1%"])).is_ok());
    assert!(link_action_of(&req("set", &[])).is_err());
    assert!(link_action_of(&req("down", &["delay=1ms"])).is_err());
    assert!(link_action_of(&req("set", &["nonsense=1"])).is_err());
    assert!(link_action_of(&req("set", &["delay=banana"])).is_err());
    assert!(link_action_of(&req("rm -rf", &[])).is_err());
    let long = "delay=".to_string() + &"1".repeat(500);
    assert!(link_action_of(&req("set", &[&long])).is_err());
    let many: Vec<&str> = std::iter::repeat_n("delay=1ms", 100).collect();
    assert!(link_action_of(&req("set", &many)).is_err());
    let bad: Result<LinkRequest, _> =
        serde_json::from_str(r#"{"action": "down", "path": "/etc/passwd"}"#);
    assert!(bad.is_err(), "unknown fields are refused");
}

#[test]
fn requests_must_name_the_server_by_address() {
    use topolab::web::server::host_is_address;
    for ok in [
        "127.0.0.1:8080",
        "[::1]:8080",
        "localhost:8080",
        "10.0.0.1:8080",
    ] {
        assert!(host_is_address(ok, 8080), "{ok}");
    }
    for bad in [
        "evil.example:8080",
        "127.0.0.1.nip.io:8080",
        "127.0.0.1:9",
        "localhost",
        "localhost:80800",
        "",
    ] {
        assert!(!host_is_address(bad, 8080), "{bad}");
    }
}

#[test]
fn every_interface_needs_asking_for() {
    use topolab::web::check_listen;
    let any4 = "0.0.0.0:8080".parse().unwrap();
    let any6 = "[::]:8080".parse().unwrap();
    assert!(check_listen(any4, false).is_err());
    assert!(check_listen(any6, false).is_err());
    assert!(
        check_listen(any4, true).unwrap().is_some(),
        "explicit: warned"
    );
    assert!(
        check_listen("127.0.0.1:8080".parse().unwrap(), true)
            .unwrap()
            .is_none()
    );
    assert!(
        check_listen("[::1]:0".parse().unwrap(), false)
            .unwrap()
            .is_none()
    );
    assert!(
        check_listen("10.0.0.1:80".parse().unwrap(), true)
            .unwrap()
            .is_some()
    );
}

// ---- a running lab -------------------------------------------------------------------

/// A lab of [`TOPO`] brought up with `up -d --web 127.0.0.1:0`; down on drop.
struct WebLab {
    name: String,
    url: String,
    plan: Plan,
    _down: DownOnDrop,
    _dir: PathBuf,
}

fn web_lab(tag: &str) -> WebLab {
    let name = lab_name(tag);
    let dir = std::env::temp_dir().join(format!("topolab-web-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("web.yaml");
    std::fs::write(&file, TOPO).unwrap();
    let down = DownOnDrop(name.clone());
    let out = topolab()
        .args(["up", "-d", "--name", &name, "--web", "127.0.0.1:0"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "up -d: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = stdout
        .lines()
        .find_map(|l| l.split("web view of lab").nth(1)?.split(": ").nth(1))
        .unwrap_or_else(|| panic!("no web view address in: {stdout}"))
        .trim()
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let plan = compile(&Topology::from_str(TOPO, "web.yaml").unwrap(), &name).unwrap();
    WebLab {
        name,
        url,
        plan,
        _down: down,
        _dir: dir,
    }
}

impl Drop for WebLab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

/// One HTTP/1.0 exchange: status code and body.
fn http(url: &str, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\n");
    if !headers.iter().any(|h| h.starts_with("Host:")) {
        req.push_str(&format!("Host: {host}\r\n"));
    }
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let code = resp[9..12].parse().unwrap();
    let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (code, body.to_string())
}

#[test]
fn up_web_serves_the_page_the_state_and_the_panels() {
    need_root!();
    let lab = web_lab("wup");
    let (code, html) = http(&lab.url, "GET", "/", &[], "");
    assert_eq!(code, 200);
    // Named by a host name (DNS rebinding): refused.
    let port = lab.url.rsplit(':').next().unwrap().trim_end_matches('/');
    let rebound = format!("Host: evil.example:{port}");
    assert_eq!(http(&lab.url, "GET", "/api/graph", &[&rebound], "").0, 403);
    let local = format!("Host: localhost:{port}");
    assert_eq!(http(&lab.url, "GET", "/api/graph", &[&local], "").0, 200);
    assert!(html.contains("\"lab\":\"") && html.contains("/app.js"));
    let (code, js) = http(&lab.url, "GET", "/app.js", &[], "");
    assert_eq!((code, js.len()), (200, topolab::web::APP_JS.len()));
    let (_, g) = http(&lab.url, "GET", "/api/graph", &[], "");
    let g: Graph = serde_json::from_str(&g).unwrap();
    assert_eq!(g, Graph::from_plan(&lab.plan, 1000));
    let (code, st) = http(&lab.url, "GET", "/api/state", &[], "");
    assert_eq!(code, 200);
    let st: Value = serde_json::from_str(&st).unwrap();
    assert_eq!(st["links"].as_array().unwrap().len(), 7);
    assert!(
        st["links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["up"] == true)
    );
    assert_eq!(st["errors"], json!([]));
    // Node panel: the kernel's view of r3 and its (no) services.
    let (code, n) = http(&lab.url, "GET", "/api/node/r3", &[], "");
    assert_eq!(code, 200);
    let n: Value = serde_json::from_str(&n).unwrap();
    let addr = lab.plan.node("r3").unwrap().ifaces[0].addrs[0].to_string();
    assert!(
        n["kernel"]["addrs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["addr"] == addr.as_str()),
        "{n}"
    );
    assert!(!n["kernel"]["routes"].as_array().unwrap().is_empty());
    // Names are compared with the plan's, never used as paths.
    for bad in ["nope", "..%2F..%2Fetc", "r3%00"] {
        let (code, _) = http(&lab.url, "GET", &format!("/api/node/{bad}"), &[], "");
        assert_eq!(code, 404, "{bad}");
    }
    // Link actions: JSON from the page's origin only, on links of the plan.
    let json_ct = "Content-Type: application/json";
    let down = r#"{"action":"down"}"#;
    let id = link_id(&lab.plan, "r3", "h3");
    let path = format!("/api/link/{id}");
    let evil = "Origin: http://evil.example";
    assert_eq!(http(&lab.url, "POST", &path, &[json_ct, evil], down).0, 403);
    assert_eq!(http(&lab.url, "POST", &path, &[], down).0, 400);
    assert_eq!(
        http(&lab.url, "POST", "/api/link/99", &[json_ct], down).0,
        404
    );
    let bad = r#"{"action":"set","set":["delay=banana"]}"#;
    assert_eq!(http(&lab.url, "POST", &path, &[json_ct], bad).0, 400);
    let (code, body) = http(&lab.url, "POST", &path, &[json_ct], down);
    assert_eq!(code, 200, "{body}");
    let show = topolab()
        .args(["link", &lab.name, "r3", "h3", "show", "--json"])
        .output()
        .unwrap();
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(show["up"], false, "the POST took the link down");
    let (_, st) = http(&lab.url, "GET", "/api/state", &[], "");
    let st: Value = serde_json::from_str(&st).unwrap();
    assert_eq!(st["links"][id]["up"], false);
    // A namespace deleted behind the lab's back: its node is missing (and the view does
    // not keep the namespace alive).
    let ns = &lab.plan.node("h3").unwrap().netns;
    let del = std::process::Command::new("ip")
        .args(["netns", "delete", ns])
        .status()
        .unwrap();
    assert!(del.success());
    let (_, st) = http(&lab.url, "GET", "/api/state", &[], "");
    let st: Value = serde_json::from_str(&st).unwrap();
    let h3 = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "h3")
        .unwrap();
    assert_eq!(h3["state"], "missing", "{st}");
}

/// `topolab web LAB` as its own process, killed (by its PID) on drop.
struct WebServer(Child);

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn topolab_web_serves_a_running_lab_and_ends_with_it() {
    need_root!();
    let lab = web_lab("wsrv");
    let mut child = WebServer(
        topolab()
            .args(["web", &lab.name, "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.split(": ").nth(1).unwrap().trim().to_string();
    let (code, g) = http(&url, "GET", "/api/graph", &[], "");
    assert_eq!(code, 200);
    let g: Graph = serde_json::from_str(&g).unwrap();
    assert_eq!(g.nodes.len(), 9);
    let out = topolab().args(["down", &lab.name]).output().unwrap();
    assert!(out.status.success());
    let end = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < end,
            "topolab web still runs after the lab is down"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
}

// ---- the page in a browser -----------------------------------------------------------

/// Chromium, or a loud skip (a failure under CI or TOPOLAB_REQUIRE_ROOT=1: scripts/deps
/// installs it).
fn chromium() -> Option<PathBuf> {
    let found = topolab::web::cdp::find_chromium();
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true")
                && std::env::var("TOPOLAB_REQUIRE_ROOT").as_deref() != Ok("1"),
            "chromium is not installed (scripts/deps installs it)"
        );
        eprintln!("SKIPPED: chromium is not installed (scripts/deps installs it)");
    }
    found
}

/// Where CI collects artifacts: $TOPOLAB_ARTIFACTS, else target/artifacts.
fn artifacts() -> PathBuf {
    let dir = std::env::var_os("TOPOLAB_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| common::repo_path("target"))
                .join("artifacts")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn chromium_draws_the_lab_and_follows_a_link_going_down() {
    need_root!();
    let Some(chromium) = chromium() else { return };
    let lab = web_lab("wcr");
    let mut b =
        topolab::web::cdp::Browser::launch(&chromium, &std::env::temp_dir(), 1280, 800).unwrap();
    let page = b.open(&lab.url).unwrap();
    let wait = Duration::from_secs(30);
    b.wait_for(
        &page,
        "document.body && document.body.dataset.firstDrawMs",
        wait,
    )
    .unwrap();
    b.wait_for(&page, "Number(document.body.dataset.ticks || 0) >= 1", wait)
        .unwrap();

    // Every node, with its shape; every link, between its nodes.
    let nodes = b
        .eval(
            &page,
            "Array.from(document.querySelectorAll('#nodes [data-node]'))\
             .map(e => [e.dataset.node, e.dataset.shape, e.getBBox().width > 0])",
        )
        .unwrap();
    let drawn: BTreeSet<String> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[0].as_str().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = lab.plan.user_nodes().map(|n| n.name.clone()).collect();
    assert_eq!(drawn, want);
    let g = Graph::from_plan(&lab.plan, 1000);
    for n in nodes.as_array().unwrap() {
        let gn = g.nodes.iter().find(|x| x.name == n[0]).unwrap();
        assert_eq!(n[1], serde_json::to_value(gn.shape).unwrap(), "{n}");
        assert_eq!(n[2], true, "{n} has a size");
    }
    let links = b
        .eval(
            &page,
            "Array.from(document.querySelectorAll('#links [data-link]'))\
             .map(e => [Number(e.dataset.link), e.querySelectorAll('line.dir').length])",
        )
        .unwrap();
    let ids: BTreeSet<u64> = links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l[1], 2, "a line per direction: {l}");
            l[0].as_u64().unwrap()
        })
        .collect();
    assert_eq!(ids, (0..lab.plan.links.len() as u64).collect());

    // BGP sessions and the OpenFlow connection, once they are up.
    b.wait_for(
        &page,
        "document.querySelectorAll('.session.bgp.up').length >= 2 && \
         document.querySelectorAll('.session.openflow.up').length >= 1",
        Duration::from_secs(60),
    )
    .unwrap();

    // A link taken down with `topolab link` turns red on the open page.
    let id = link_id(&lab.plan, "r1", "r2");
    let sel = format!("document.querySelector('[data-link=\"{id}\"]')");
    let colour = format!("getComputedStyle({sel}.querySelector('line.dir')).stroke");
    let before = b.eval(&page, &colour).unwrap();
    let out = topolab()
        .args(["link", &lab.name, "r1", "r2", "down"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let went_down = Instant::now();
    b.wait_for(&page, &format!("{sel}.dataset.state === 'down'"), wait)
        .unwrap();
    eprintln!(
        "the page showed the link down {} ms after `topolab link … down` returned",
        went_down.elapsed().as_millis()
    );
    let after = b.eval(&page, &colour).unwrap();
    assert_ne!(before, after);
    assert_eq!(after, "rgb(229, 57, 53)", "down links are red");

    // The link panel: its state, then actions from the page's buttons.
    b.eval(
        &page,
        &format!("{sel}.dispatchEvent(new MouseEvent('click', {{bubbles: true}})), true"),
    )
    .unwrap();
    b.wait_for(
        &page,
        "document.getElementById('panel').textContent.includes('state: DOWN')",
        wait,
    )
    .unwrap();
    let click = |b: &mut topolab::web::cdp::Browser, text: &str| {
        b.eval(
            &page,
            &format!(
                "Array.from(document.querySelectorAll('#panel button'))\
                 .find(x => x.textContent === '{text}').click(), true"
            ),
        )
        .unwrap();
    };
    click(&mut b, "Bring up");
    b.wait_for(&page, &format!("{sel}.dataset.state !== 'down'"), wait)
        .unwrap();
    b.eval(
        &page,
        "document.getElementById('link-set').value = 'delay=30ms loss=1%', true",
    )
    .unwrap();
    click(&mut b, "Set");
    b.wait_for(
        &page,
        "document.getElementById('panel').textContent.includes('delay 30ms')",
        wait,
    )
    .unwrap();
    let show = topolab()
        .args(["link", &lab.name, "r1", "r2", "show", "--json"])
        .output()
        .unwrap();
    let show: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(show["up"], true);
    assert_eq!(show["a_to_b"]["delay"]["nanos"], 30_000_000);
    assert!(!show["b_to_a"]["loss"].is_null(), "loss set: {show}");

    // The node panel: interfaces, addresses, routes, the BGP service and its log.
    b.eval(
        &page,
        "document.querySelector('[data-node=\"r1\"]')\
         .dispatchEvent(new MouseEvent('click', {bubbles: true})), true",
    )
    .unwrap();
    let addr = lab.plan.node("r1").unwrap().ifaces[0].addrs[0].to_string();
    b.wait_for(
        &page,
        &format!(
            "(t => t.includes('Interfaces') && t.includes('Routes') && t.includes('{addr}') \
             && t.includes('bgp [') && t.includes('AS 65001'))\
             (document.getElementById('panel').textContent)"
        ),
        wait,
    )
    .unwrap();
    let logs = b
        .eval(&page, "document.querySelectorAll('#panel pre').length")
        .unwrap();
    assert!(logs.as_u64().unwrap() >= 1, "the BGP service's log lines");

    let png = b.screenshot(&page).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let path = artifacts().join("web.png");
    std::fs::write(&path, &png).unwrap();
    eprintln!("screenshot: {}", path.display());
}
