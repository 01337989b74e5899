//! The dependency rules of DESIGN.md, checked on the source: imports run one way, from the
//! face down to the kernel. A module listed here must not name the modules above it.

use std::path::Path;

/// (module directory, modules it must never use)
const RULES: &[(&str, &[&str])] = &[
    (
        "src/netlink",
        &["compile", "topology", "lab", "scenario", "link", "tools"],
    ),
    (
        "src/netns",
        &["compile", "topology", "lab", "scenario", "link", "tools"],
    ),
    (
        "src/topology",
        &["netns", "netlink", "lab", "scenario", "tools"],
    ),
    (
        "src/compile",
        &["netns", "netlink", "lab", "scenario", "tools"],
    ),
    ("src/link", &["scenario", "lab"]),
    ("src/tools", &["scenario", "lab"]),
    ("src/daemon", &["scenario", "lab", "compile", "topology"]),
    // The OpenFlow wire codec is pure: bytes in, model out (issue 10).
    (
        "src/openflow/codec",
        &[
            "netns", "netlink", "lab", "scenario", "link", "tools", "daemon", "compile", "topology",
        ],
    ),
    // OpenFlow cores are sans-IO (DESIGN.md): no lab, namespaces, netlink or sockets.
    (
        "src/openflow",
        &[
            "lab", "netns", "netlink", "link", "daemon", "scenario", "tools",
        ],
    ),
    // The Kubernetes operator compiles and splits labs and writes API objects; the shard
    // pods' agents touch the kernel, the operator never does (issue 13).
    (
        "src/k8s",
        &[
            "netns", "netlink", "link", "scenario", "tools", "daemon", "web",
        ],
    ),
    // The web view reads a running lab (lab, netlink, daemons); it runs no scenarios.
    ("src/web", &["scenario", "tools"]),
    // BGP is sans-IO (DESIGN.md, issue 11): codec, FSM, decision; FIB changes are outputs.
    (
        "src/bgp",
        &[
            "lab", "netns", "netlink", "link", "daemon", "scenario", "tools", "compile",
            "topology", "openflow",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The first segments named in `crate::{a, b::c}` on one line.
fn braced(code: &str) -> Vec<String> {
    let Some(i) = code.find("crate::{") else {
        return Vec::new();
    };
    let rest = &code[i + "crate::{".len()..];
    rest.split(['}', ','])
        .map(|s| s.trim().split("::").next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bad = Vec::new();
    for (dir, forbidden) in RULES {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files);
        assert!(!files.is_empty(), "{dir} has no sources");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for m in *forbidden {
                    if code.contains(&format!("crate::{m}::"))
                        || code.contains(&format!("crate::{m};"))
                        || braced(code).iter().any(|u| u == m)
                        || code.contains(&format!("topolab::{m}::"))
                    {
                        bad.push(format!(
                            "{}:{}: uses `{m}`: {}",
                            f.strip_prefix(root).unwrap().display(),
                            n + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
}

/// The BGP core is sans-IO (DESIGN.md): no async runtime, no sockets, no clock reads.
#[test]
fn bgp_core_has_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/bgp"), &mut files);
    assert!(!files.is_empty(), "src/bgp has no sources");
    let mut bad = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in [
                "tokio",
                "TcpStream",
                "TcpListener",
                "UdpSocket",
                "Instant::now",
                "monotonic(",
                "SystemTime",
            ] {
                if code.contains(word) {
                    bad.push(format!(
                        "{}:{}: uses `{word}`: {}",
                        f.strip_prefix(root).unwrap().display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "I/O in the BGP core:\n{}", bad.join("\n"));
}
