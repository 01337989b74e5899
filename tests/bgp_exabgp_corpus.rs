//! The codec against ExaBGP (PyPI `exabgp`, pinned in `scripts/deps`) on ExaBGP's own corpus
//! of raw messages: the `qa/` folder of its repository (`qa/api/*.ci` and
//! `qa/encoding/*.ci`, lines `N:raw:MARKER:LEN:TYPE:BODY`, with the configuration each file
//! names under `etc/exabgp/`; `qa/decoding/*`, a family line, the hex and a stored JSON).
//! The messages are committed as bytes (tests/data/exabgp-qa-updates.txt, see [`EXTRACT`]);
//! the corpus itself is read instead when it is in `/opt/topolab-peers/exabgp-qa` (or `TOPOLAB_EXABGP_QA`).
//!
//! Every UPDATE is decoded twice under the same session parameters (4-octet AS unless the
//! file's configuration disables it, ADD-PATH when it enables it): by our
//! [`topolab::bgp::codec::parse_update`] and by ExaBGP (`tests/interop/exabgp_decode.py`:
//! what `exabgp decode` does, one process for the whole corpus). Compared field by field:
//! announced NLRI per family with next hop and path id, withdrawn NLRI per family,
//! End-of-RIB, ORIGIN, AS_PATH segments, MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR,
//! COMMUNITIES, LARGE_COMMUNITIES, EXTENDED_COMMUNITIES (raw), ORIGINATOR_ID,
//! CLUSTER_LIST, unknown attributes (code and value), and treat-as-withdraw. In messages
//! with NLRI of a family we do not decode (flowspec, VPN, EVPN, BGP-LS, MUP …) everything
//! but that NLRI is compared, and counted apart; End-of-RIB markers of those families and
//! messages ExaBGP itself cannot print are skipped with the reason; attributes ExaBGP
//! decodes and we keep raw (prefix-SID, IPv6 extended communities …) are not compared.
//! Any disagreement fails.
//!
//! Under `TOPOLAB_REQUIRE_ROOT=1` or `CI=true` a missing corpus or ExaBGP fails the test;
//! otherwise it is skipped with a message.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use topolab::bgp::codec::{
    Attr, Family, HEADER_LEN, Nlri, SegmentKind, SessionParams, Update, UpdateOutcome, parse_update,
};

const PYTHON: &str = "/opt/topolab-peers/bin/python";
const DEFAULT_QA: &str = "/opt/topolab-peers/exabgp-qa";
/// The corpus's UPDATEs as bytes, one per line: `SOURCE ASN4 ADDPATH HEX` (written from
/// the corpus with `TOPOLAB_EXABGP_QA_WRITE=FILE`; the machines CI runs on cannot reach
/// ExaBGP's repository, PyPI's ExaBGP has no `qa/`). Only the messages are kept: what
/// they decode to is asked of ExaBGP itself at every run.
const EXTRACT: &str = "tests/data/exabgp-qa-updates.txt";

fn write_extract(path: &Path, msgs: &[Msg]) {
    let mut out = String::from(
        "# UPDATE messages of ExaBGP's qa/ corpus (qa/api, qa/encoding, qa/decoding at commit\n\
         # 4460078e0019bdd3c632b189a18115d7c06419d9), with the session parameters their files\n\
         # name: SOURCE ASN4 ADDPATH HEX. Read by tests/bgp_exabgp_corpus.rs.\n",
    );
    for m in msgs {
        let hex: String = m.bytes.iter().map(|b| format!("{b:02X}")).collect();
        out += &format!(
            "{} {} {} {hex}\n",
            m.source,
            u8::from(m.asn4),
            u8::from(m.addpath)
        );
    }
    std::fs::write(path, out).unwrap();
}

fn read_extract(path: &Path) -> Vec<Msg> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 4, "bad extract line: {l}");
            Msg {
                source: f[0].to_string(),
                asn4: f[1] == "1",
                addpath: f[2] == "1",
                bytes: message(f[3]).unwrap_or_else(|| panic!("bad hex in: {l}")),
            }
        })
        .collect()
}

fn required() -> bool {
    std::env::var_os("TOPOLAB_REQUIRE_ROOT").is_some_and(|v| v == "1")
        || std::env::var_os("CI").is_some_and(|v| v == "true")
}

fn missing(what: &str) {
    assert!(!required(), "{what} (scripts/deps installs it)");
    eprintln!("SKIPPED: {what} (scripts/deps installs it)");
}

/// One UPDATE of the corpus.
struct Msg {
    /// `file:line`.
    source: String,
    /// The whole message, header included.
    bytes: Vec<u8>,
    asn4: bool,
    addpath: bool,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A whole message from corpus hex: with its marker and header, or an UPDATE body alone.
fn message(hex: &str) -> Option<Vec<u8>> {
    let b = unhex(hex)?;
    if b.len() >= HEADER_LEN && b[..16].iter().all(|&x| x == 0xff) {
        let len = usize::from(u16::from_be_bytes([b[16], b[17]]));
        return (len == b.len() && b[18] == 2).then_some(b);
    }
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((b.len() + HEADER_LEN) as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(&b);
    Some(m)
}

/// The UPDATEs of the corpus under `root` (a directory holding `qa/` and `etc/exabgp/`).
fn collect(root: &Path) -> Vec<Msg> {
    let mut out = Vec::new();
    for dir in ["qa/api", "qa/encoding"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{}: {e}", root.join(dir).display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "ci"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            // The configuration the file runs with: its capabilities decide the encoding.
            let conf = text
                .lines()
                .find_map(|l| l.strip_prefix("option:file:"))
                .filter(|c| {
                    c.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
                        && !c.starts_with('.')
                })
                .and_then(|c| std::fs::read_to_string(root.join("etc/exabgp").join(c)).ok())
                .unwrap_or_default();
            let asn4 = !conf.contains("asn4 disable");
            let addpath = conf.contains("add-path send") || conf.contains("add-path receive");
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            for (k, line) in text.lines().enumerate() {
                let Some((_, hex)) = line.split_once(":raw:") else {
                    continue;
                };
                let Some(bytes) = message(hex) else { continue };
                if !hex.replace(':', "").starts_with(&"F".repeat(32)) {
                    continue;
                }
                out.push(Msg {
                    source: format!("{dir}/{name}:{}", k + 1),
                    bytes,
                    asn4,
                    addpath,
                });
            }
        }
    }
    let dec = root.join("qa/decoding");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dec)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let mut lines = text.lines();
        let (Some(kind), Some(hex)) = (lines.next(), lines.next()) else {
            continue;
        };
        if !kind.starts_with("update") {
            continue;
        }
        if let Some(bytes) = message(hex) {
            out.push(Msg {
                source: format!("qa/decoding/{}:2", f.file_name().unwrap().to_string_lossy()),
                bytes,
                asn4: true,
                addpath: false,
            });
        }
    }
    out
}

/// ExaBGP's JSON for each message (None where it could not print one), from one run of
/// the driver.
fn exabgp_decode(msgs: &[Msg]) -> Vec<Option<Value>> {
    let mut child = Command::new(PYTHON)
        .arg(common::repo_path("tests/interop/exabgp_decode.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ExaBGP's python");
    let mut stdin = child.stdin.take().unwrap();
    let input: String = msgs
        .iter()
        .map(|m| {
            let hex: String = m.bytes.iter().map(|b| format!("{b:02X}")).collect();
            serde_json::json!({"hex": hex, "asn4": m.asn4, "addpath": m.addpath}).to_string() + "\n"
        })
        .collect();
    let writer = std::thread::spawn(move || {
        stdin.write_all(input.as_bytes()).unwrap();
    });
    let mut answers = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).expect("driver output is JSON");
        answers.push(if v["ok"] == Value::Bool(true) {
            Some(v["json"].clone())
        } else {
            None
        });
    }
    writer.join().unwrap();
    assert!(child.wait().unwrap().success(), "the ExaBGP driver failed");
    assert_eq!(answers.len(), msgs.len(), "one answer per message");
    answers
}

/// What both decoders are compared on.
#[derive(Debug, Default, PartialEq)]
struct View {
    /// family → (next hop, prefix with its path id).
    announce: BTreeMap<String, BTreeSet<(String, String)>>,
    /// family → prefixes.
    withdraw: BTreeMap<String, BTreeSet<String>>,
    eor: Option<String>,
    /// attribute name (ExaBGP's) → normalized value.
    attrs: BTreeMap<String, String>,
    treat_as_withdraw: bool,
    /// Families whose NLRI this side did not compare (not part of equality: ExaBGP names
    /// them, we only know an MP attribute of a family we do not decode).
    foreign: Foreign,
}

/// Families left out of a view; always equal, so that views compare on the rest.
#[derive(Debug, Default)]
struct Foreign(BTreeSet<String>);

impl PartialEq for Foreign {
    fn eq(&self, _: &Foreign) -> bool {
        true
    }
}

fn family_name(f: Family) -> String {
    let afi = match f.afi {
        1 => "ipv4".to_string(),
        2 => "ipv6".to_string(),
        a => format!("afi-{a}"),
    };
    let safi = match f.safi {
        1 => "unicast".to_string(),
        s => format!("safi-{s}"),
    };
    format!("{afi} {safi}")
}

fn nlri_text(n: &Nlri) -> String {
    match n.path_id {
        Some(id) => format!("{} path-id {}", n.prefix, Ipv4Addr::from(id)),
        None => n.prefix.to_string(),
    }
}

fn segs_text(segs: &[topolab::bgp::codec::Segment]) -> String {
    segs.iter()
        .map(|s| {
            let kind = match s.kind {
                SegmentKind::Sequence => "as-sequence",
                SegmentKind::Set => "as-set",
                SegmentKind::ConfedSequence => "confed-sequence",
                SegmentKind::ConfedSet => "confed-set",
            };
            let asns: Vec<String> = s.asns.iter().map(u32::to_string).collect();
            format!("{kind}[{}]", asns.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Our view of an UPDATE; Err: why it cannot be compared.
fn our_view(m: &Msg) -> Result<View, String> {
    let mut params = SessionParams {
        four_octet_as: m.asn4,
        extended_messages: true,
        ..Default::default()
    };
    if m.addpath {
        params.add_path_rx = [Family::IPV4_UNICAST, Family::IPV6_UNICAST].into();
    }
    let (u, taw): (Update, bool) = match parse_update(&m.bytes[HEADER_LEN..], &params) {
        UpdateOutcome::Ok(u) | UpdateOutcome::AttributeDiscard { update: u, .. } => (u, false),
        UpdateOutcome::TreatAsWithdraw { update, .. } => (update, true),
        UpdateOutcome::SessionReset(n) => return Err(format!("session reset: {n:?}")),
    };
    let mut v = View {
        treat_as_withdraw: taw,
        ..Default::default()
    };
    let v4 = family_name(Family::IPV4_UNICAST);
    let next_hop = u.attrs.iter().find_map(|a| match a {
        Attr::NextHop(h) => Some(h.to_string()),
        _ => None,
    });
    for n in &u.nlri {
        let nh = next_hop.clone().unwrap_or_default();
        v.announce
            .entry(v4.clone())
            .or_default()
            .insert((nh, nlri_text(n)));
    }
    for n in &u.withdrawn {
        v.withdraw
            .entry(v4.clone())
            .or_default()
            .insert(nlri_text(n));
    }
    for a in &u.attrs {
        let (k, val) = match a {
            Attr::Origin(o) => ("origin", topolab::bgp::attrs::origin_name(*o).to_string()),
            Attr::AsPath(s) => ("as-path", segs_text(s)),
            Attr::Med(x) => ("med", x.to_string()),
            Attr::LocalPref(x) => ("local-preference", x.to_string()),
            Attr::AtomicAggregate => ("atomic-aggregate", "true".into()),
            Attr::Aggregator(g) => ("aggregator", format!("{}:{}", g.asn, g.addr)),
            Attr::Communities(c) => (
                "community",
                c.iter()
                    .map(|c| format!("{}:{}", c >> 16, c & 0xffff))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Attr::LargeCommunities(c) => (
                "large-community",
                c.iter()
                    .map(|c| format!("{}:{}:{}", c[0], c[1], c[2]))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Attr::ExtendedCommunities(c) => (
                "extended-community",
                c.iter()
                    .map(|c| u64::from_be_bytes(*c).to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Attr::OriginatorId(x) => ("originator-id", x.to_string()),
            Attr::ClusterList(c) => (
                "cluster-list",
                c.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Attr::MpReach(r) => {
                let mut nh = r.next_hop.addr.to_string();
                if let Some(ll) = r.next_hop.link_local {
                    nh = format!("{nh} {ll}");
                }
                let fam = family_name(r.family);
                let set = v.announce.entry(fam).or_default();
                for n in &r.nlri {
                    set.insert((nh.clone(), nlri_text(n)));
                }
                continue;
            }
            Attr::MpUnreach(r) => {
                let fam = family_name(r.family);
                if r.withdrawn.is_empty() && u.attrs.len() == 1 && u.nlri.is_empty() {
                    v.eor = Some(fam);
                    continue;
                }
                let set = v.withdraw.entry(fam).or_default();
                for n in &r.withdrawn {
                    set.insert(nlri_text(n));
                }
                continue;
            }
            Attr::NextHop(_) => continue,
            Attr::As4Path(s) => ("as4-path", segs_text(s)),
            Attr::As4Aggregator(g) => ("as4-aggregator", format!("{}:{}", g.asn, g.addr)),
            Attr::Unknown { code, data, .. } => {
                if *code == 14 || *code == 15 {
                    // MP_REACH/MP_UNREACH of a family we do not decode.
                    let fam = match data.get(..3) {
                        Some(f) => {
                            format!("afi {} safi {}", u16::from_be_bytes([f[0], f[1]]), f[2])
                        }
                        None => "a short MP attribute".into(),
                    };
                    v.foreign.0.insert(fam);
                    continue;
                }
                let hex: String = data.iter().map(|b| format!("{b:02X}")).collect();
                v.attrs
                    .insert(format!("unknown-{code}"), format!("0x{hex}"));
                continue;
            }
        };
        v.attrs.insert(k.to_string(), val);
    }
    // ExaBGP prints no `as-path` for an empty AS_PATH (iBGP-originated routes).
    if v.attrs.get("as-path").is_some_and(|p| p.is_empty()) {
        v.attrs.remove("as-path");
    }
    if u.withdrawn.is_empty() && u.attrs.is_empty() && u.nlri.is_empty() {
        v.eor = Some(v4);
    }
    Ok(v)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// ExaBGP's view of an UPDATE; Err: why it cannot be compared. `uncompared` collects the
/// attributes ExaBGP decodes and we keep raw.
fn exabgp_view(j: &Value, uncompared: &mut BTreeMap<String, usize>) -> Result<View, String> {
    let msg = &j["neighbor"]["message"];
    let mut v = View::default();
    if let Some(eor) = msg.get("eor") {
        let fam = format!("{} {}", text(&eor["afi"]), text(&eor["safi"]));
        if fam != "ipv4 unicast" && fam != "ipv6 unicast" {
            return Err(format!("family {fam}"));
        }
        v.eor = Some(fam);
        return Ok(v);
    }
    let u = msg.get("update").ok_or("not an update")?;
    let attrs = u["attribute"].as_object().cloned().unwrap_or_default();
    for (fam, by_nh) in u["announce"].as_object().into_iter().flatten() {
        if fam != "ipv4 unicast" && fam != "ipv6 unicast" {
            v.foreign.0.insert(fam.clone());
            continue;
        }
        let set = v.announce.entry(fam.clone()).or_default();
        for (nh, list) in by_nh.as_object().into_iter().flatten() {
            for n in list.as_array().into_iter().flatten() {
                set.insert((nh.clone(), exa_nlri(n)));
            }
        }
    }
    // A 32-byte MP_REACH next hop (global and link-local, RFC 2545): ExaBGP lists the
    // prefixes once under each address; we keep one next hop with both.
    for set in v.announce.values_mut() {
        let lls: Vec<(String, String)> = set
            .iter()
            .filter(|(nh, _)| nh.to_ascii_lowercase().starts_with("fe80:"))
            .cloned()
            .collect();
        for (ll, p) in lls {
            let global = set
                .iter()
                .find(|(nh, q)| *q == p && *nh != ll && !nh.contains(' '))
                .cloned();
            if let Some((g, _)) = global {
                set.remove(&(ll.clone(), p.clone()));
                set.remove(&(g.clone(), p.clone()));
                set.insert((format!("{g} {ll}"), p));
            }
        }
    }
    for (fam, list) in u["withdraw"].as_object().into_iter().flatten() {
        if fam != "ipv4 unicast" && fam != "ipv6 unicast" {
            v.foreign.0.insert(fam.clone());
            continue;
        }
        let set = v.withdraw.entry(fam.clone()).or_default();
        for n in list.as_array().into_iter().flatten() {
            set.insert(exa_nlri(n));
        }
    }
    for (k, val) in &attrs {
        let norm = match k.as_str() {
            "error" => {
                if text(val).starts_with("treat-as-withdraw") {
                    v.treat_as_withdraw = true;
                }
                continue;
            }
            "origin" | "med" | "local-preference" | "aggregator" | "originator-id" => text(val),
            "atomic-aggregate" => text(val),
            "as-path" => {
                let obj = val.as_object().ok_or("as-path is not an object")?;
                let mut segs: Vec<(usize, String)> = obj
                    .iter()
                    .map(|(i, s)| {
                        let asns: Vec<String> = s["value"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(text)
                            .collect();
                        (
                            i.parse().unwrap_or(usize::MAX),
                            format!("{}[{}]", text(&s["element"]), asns.join(",")),
                        )
                    })
                    .collect();
                segs.sort();
                segs.into_iter().map(|s| s.1).collect::<Vec<_>>().join(" ")
            }
            "community" | "large-community" => val
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    c.as_array()
                        .into_iter()
                        .flatten()
                        .map(text)
                        .collect::<Vec<_>>()
                        .join(":")
                })
                .collect::<Vec<_>>()
                .join(" "),
            "extended-community" => val
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| text(&c["value"]))
                .collect::<Vec<_>>()
                .join(" "),
            "cluster-list" => val
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect::<Vec<_>>()
                .join(" "),
            other => {
                // `attribute-0xCC-0xFF`: an attribute ExaBGP does not know either, by code
                // and flags, its value as hex.
                if let Some(rest) = other.strip_prefix("attribute-0x") {
                    let code = rest.get(..2).and_then(|c| u8::from_str_radix(c, 16).ok());
                    if let Some(code) = code {
                        let hex = text(val).to_uppercase().replacen("0X", "0x", 1);
                        v.attrs.insert(format!("unknown-{code}"), hex);
                        continue;
                    }
                }
                *uncompared.entry(other.to_string()).or_default() += 1;
                v.attrs.insert(format!("uncompared-{other}"), String::new());
                continue;
            }
        };
        v.attrs.insert(k.clone(), norm);
    }
    Ok(v)
}

/// Whether the UPDATE carries a path attribute with the Optional bit clear whose type code
/// is not one of the well-known ones (RFC 4271 §5: ORIGIN, AS_PATH, NEXT_HOP, LOCAL_PREF,
/// ATOMIC_AGGREGATE): walked from the raw bytes, independently of the codec.
fn has_unknown_well_known(msg: &[u8]) -> bool {
    let body = &msg[HEADER_LEN..];
    let Some(wl) = body
        .get(..2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    else {
        return false;
    };
    let Some(al) = body
        .get(2 + wl..4 + wl)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    else {
        return false;
    };
    let Some(mut a) = body.get(4 + wl..4 + wl + al) else {
        return false;
    };
    while a.len() >= 3 {
        let (flags, code) = (a[0], a[1]);
        let (hl, len) = if flags & 0x10 != 0 {
            let Some(l) = a.get(2..4) else { return false };
            (4, usize::from(u16::from_be_bytes([l[0], l[1]])))
        } else {
            (3, usize::from(a[2]))
        };
        if flags & 0x80 == 0 && ![1, 2, 3, 5, 6].contains(&code) {
            return true;
        }
        let Some(rest) = a.get(hl + len..) else {
            return false;
        };
        a = rest;
    }
    false
}

fn exa_nlri(n: &Value) -> String {
    let p = text(&n["nlri"]);
    match n.get("path-information") {
        Some(id) => format!("{p} path-id {}", text(id)),
        None => p,
    }
}

/// Drops from `ours` what ExaBGP shows in a form we do not compare, and the reverse.
fn align(ours: &mut View, theirs: &mut View) {
    let uncompared: Vec<String> = theirs
        .attrs
        .keys()
        .filter(|k| k.starts_with("uncompared-"))
        .cloned()
        .collect();
    for k in &uncompared {
        theirs.attrs.remove(k);
    }
    if !uncompared.is_empty() {
        // ExaBGP decoded an attribute we keep raw (as `unknown-<code>`): not compared.
        ours.attrs.retain(|k, _| !k.starts_with("unknown-"));
        theirs.attrs.retain(|k, _| !k.starts_with("unknown-"));
    }
    // A treat-as-withdraw UPDATE: we turn its announcements into withdrawals and drop its
    // attributes; ExaBGP prints it as received, with the error. Compare the prefixes.
    if ours.treat_as_withdraw && theirs.treat_as_withdraw {
        let all = |v: &mut View| -> BTreeSet<String> {
            let mut s = BTreeSet::new();
            for (fam, set) in std::mem::take(&mut v.announce) {
                s.extend(set.into_iter().map(|(_, p)| format!("{fam} {p}")));
            }
            for (fam, set) in std::mem::take(&mut v.withdraw) {
                s.extend(set.into_iter().map(|p| format!("{fam} {p}")));
            }
            v.attrs.clear();
            s
        };
        let a = all(ours);
        let b = all(theirs);
        ours.withdraw.insert("all".into(), a);
        theirs.withdraw.insert("all".into(), b);
    }
}

#[test]
fn codec_agrees_with_exabgp_on_its_corpus() {
    let has_exabgp = Command::new(PYTHON)
        .args(["-c", "import exabgp"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_exabgp {
        return missing(&format!("exabgp is not installed for {PYTHON}"));
    }
    // The corpus itself when it is here (scripts/deps fetches it where the machine can
    // reach ExaBGP's repository), else the committed extract of its messages.
    let root = std::env::var_os("TOPOLAB_EXABGP_QA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_QA));
    let msgs = if root.join("qa/encoding").is_dir() {
        let msgs = collect(&root);
        if let Some(out) = std::env::var_os("TOPOLAB_EXABGP_QA_WRITE") {
            write_extract(Path::new(&out), &msgs);
        }
        msgs
    } else {
        read_extract(&common::repo_path(EXTRACT))
    };
    assert!(
        msgs.len() >= 300,
        "only {} UPDATEs in the corpus",
        msgs.len()
    );
    let answers = exabgp_decode(&msgs);
    let mut agreed = 0;
    let mut differed = Vec::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut uncompared: BTreeMap<String, usize> = BTreeMap::new();
    let mut rfc_departures = Vec::new();
    // Field → how many agreeing messages (or prefixes) carried it.
    let mut fields: BTreeMap<String, usize> = BTreeMap::new();
    // Messages with NLRI of a family we do not decode whose attributes agree, by family.
    let mut partial: BTreeMap<String, usize> = BTreeMap::new();
    let mut partial_fields: BTreeMap<String, usize> = BTreeMap::new();
    for (m, a) in msgs.iter().zip(&answers) {
        let Some(j) = a else {
            *skipped
                .entry(format!(
                    "ExaBGP prints no JSON for it ({})",
                    m.source.split(':').next().unwrap_or("")
                ))
                .or_default() += 1;
            continue;
        };
        let mut theirs = match exabgp_view(j, &mut uncompared) {
            Ok(v) => v,
            Err(why) => {
                *skipped.entry(why).or_default() += 1;
                continue;
            }
        };
        let mut ours = match our_view(m) {
            Ok(v) => v,
            Err(why) => {
                if why.contains("code: 3, subcode: 2,") && has_unknown_well_known(&m.bytes) {
                    // RFC 4271 §6.3: an attribute with the Optional bit clear that we do
                    // not know is an Unrecognized Well-known Attribute (NOTIFICATION 3/2);
                    // ExaBGP prints it as a generic attribute instead.
                    rfc_departures.push(m.source.clone());
                    continue;
                }
                differed.push(format!("{}: ours: {why}; ExaBGP: {theirs:?}", m.source));
                continue;
            }
        };
        align(&mut ours, &mut theirs);
        if ours.foreign.0.is_empty() && !theirs.foreign.0.is_empty() {
            differed.push(format!(
                "{}: one side sees a family the other does not decode:\n  ours:   {ours:?}\n  ExaBGP: {theirs:?}",
                m.source
            ));
            continue;
        }
        if ours == theirs && !ours.foreign.0.is_empty() {
            // Attributes (and any unicast NLRI) agree; the other family's NLRI is not ours
            // to compare.
            if theirs.foreign.0.is_empty() {
                for fam in &ours.foreign.0 {
                    *partial
                        .entry(format!("{fam}, of which ExaBGP shows no NLRI"))
                        .or_default() += 1;
                }
            }
            for fam in &theirs.foreign.0 {
                *partial.entry(fam.clone()).or_default() += 1;
            }
            for k in ours.attrs.keys() {
                *partial_fields.entry(k.clone()).or_default() += 1;
            }
        } else if ours == theirs {
            agreed += 1;
            for k in ours.attrs.keys() {
                *fields.entry(k.clone()).or_default() += 1;
            }
            for (fam, set) in &ours.announce {
                *fields.entry(format!("announce {fam}")).or_default() += set.len();
            }
            for (fam, set) in &ours.withdraw {
                *fields.entry(format!("withdraw {fam}")).or_default() += set.len();
            }
            if let Some(fam) = &ours.eor {
                *fields.entry(format!("end-of-rib {fam}")).or_default() += 1;
            }
            if ours.treat_as_withdraw {
                *fields.entry("treat-as-withdraw".into()).or_default() += 1;
            }
        } else {
            differed.push(format!(
                "{}:\n  ours:   {ours:?}\n  ExaBGP: {theirs:?}",
                m.source
            ));
        }
    }
    eprintln!(
        "ExaBGP corpus: {} UPDATEs: {agreed} agreed, {} agreed on attributes only (NLRI of \
         a family we do not decode), {} differed, {} skipped, {} where ExaBGP departs from \
         the RFC",
        msgs.len(),
        partial.values().sum::<usize>(),
        differed.len(),
        skipped.values().sum::<usize>(),
        rfc_departures.len()
    );
    for (fam, n) in &partial {
        eprintln!("  attributes agreed, NLRI not compared ({fam}): {n}");
    }
    for (what, n) in &partial_fields {
        eprintln!("  attributes agreed beside another family's NLRI: {what} in {n}");
    }
    for src in &rfc_departures {
        eprintln!(
            "  differs where ExaBGP departs from RFC 4271 §6.3 (it accepts an unrecognized \
             well-known attribute; we send NOTIFICATION 3/2): {src}"
        );
    }
    for (why, n) in &skipped {
        eprintln!("  skipped {n}: {why}");
    }
    for (what, n) in &fields {
        eprintln!("  compared and agreed: {what} in {n}");
    }
    for (what, n) in &uncompared {
        eprintln!("  attribute not compared (ExaBGP decodes it, we keep it raw) in {n}: {what}");
    }
    assert!(
        differed.is_empty(),
        "{} UPDATEs decoded differently:\n{}",
        differed.len(),
        differed.join("\n")
    );
    assert!(agreed >= 250, "only {agreed} UPDATEs compared");
}
