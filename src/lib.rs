//! topolab: YAML topologies become network labs of Linux namespaces, veths and bridges.
//!
//! The pipeline (see DESIGN.md): `topology` (parse, check) → `compile` (Plan) →
//! `lab` (apply, supervise, tear down). The library returns data and typed errors; the
//! binary renders them.

// Lets the test-only topology builder (tests/common/builder.rs) name this crate
// `topolab` both in integration tests and when included by the unit tests.
#[cfg(test)]
extern crate self as topolab;

pub mod bgp;
pub mod compile;
pub mod daemon;
pub mod k8s;
pub mod lab;
pub mod link;
pub mod netlink;
pub mod netns;
pub mod openflow;
pub mod scenario;
pub mod time;
pub mod tools;
pub mod topology;
pub mod web;

/// For unit tests that need root: true (after saying so) when they must be skipped; fails
/// instead under `TOPOLAB_REQUIRE_ROOT=1` (CI), so a run without root cannot pass by skipping.
/// The integration tests' `need_root!` does the same.
#[cfg(test)]
pub(crate) fn skip_without_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return false;
    }
    assert!(
        std::env::var_os("TOPOLAB_REQUIRE_ROOT").is_none_or(|v| v != "1"),
        "needs root, and TOPOLAB_REQUIRE_ROOT=1 says root-only tests must run"
    );
    eprintln!("SKIPPED: needs root");
    true
}
