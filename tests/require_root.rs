//! Root-only tests never pass by skipping in CI: with `TOPOLAB_REQUIRE_ROOT=1` a root-only
//! test run without root fails. Checked by running this very test binary as `nobody`.

mod common;

use std::process::Command;

#[test]
fn a_root_only_test() {
    need_root!();
    assert!(nix::unistd::geteuid().is_root());
}

/// Runs `a_root_only_test` of this binary as uid/gid 65534.
fn as_nobody(require_root: bool) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(exe)
        .args(["a_root_only_test", "--exact", "--nocapture"])
        .env_remove("TOPOLAB_REQUIRE_ROOT");
    if require_root {
        c.env("TOPOLAB_REQUIRE_ROOT", "1");
    }
    c.output().expect("setpriv (util-linux) runs")
}

#[test]
fn without_root_a_required_run_fails_and_a_plain_run_skips_loudly() {
    need_root!();
    let required = as_nobody(true);
    let text = String::from_utf8_lossy(&required.stdout).into_owned()
        + &String::from_utf8_lossy(&required.stderr);
    assert!(!required.status.success(), "must fail without root: {text}");
    assert!(text.contains("TOPOLAB_REQUIRE_ROOT=1"), "{text}");

    let plain = as_nobody(false);
    let text = String::from_utf8_lossy(&plain.stdout).into_owned()
        + &String::from_utf8_lossy(&plain.stderr);
    assert!(plain.status.success(), "a developer's run skips: {text}");
    assert!(text.contains("SKIPPED"), "{text}");
}
