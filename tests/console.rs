//! The console as a person uses it: `topolab console LAB` and a foreground `topolab up`
//! on a pseudo-terminal — keys in, the screen read back — checking tab completion, a
//! `pingall`, `link … down` then a failing ping, Ctrl-C of a running `ping` back to the
//! prompt, and `exit`; and `--script` files. Every lab has a name unique to the test
//! process and goes down in Drop.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::pty::Pty;

/// Generous: these are bounds for reading the screen, not measurements.
const T: Duration = Duration::from_secs(60);

const TOPOLOGY: &str = "name: console
nodes:
  alpha:
  beta:
  sw: {kind: switch}
links:
  - [alpha, sw]
  - [beta, sw]
";

/// A directory of this test's files, removed in Drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("topolab-console-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts lab `name` detached from the test topology.
fn up_detached(dir: &Dir, name: &str) -> common::DownOnDrop {
    let file = dir.write("lab.yaml", TOPOLOGY);
    let guard = common::DownOnDrop(name.to_string());
    let out = common::topolab()
        .args(["up", "-d", "--name", name])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "up -d failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    guard
}

fn run_dir(name: &str) -> PathBuf {
    std::path::Path::new(topolab::lab::RUN_BASE).join(name)
}

#[test]
fn console_in_a_terminal() {
    need_root!();
    let name = common::lab_name("con");
    let dir = Dir::new("con");
    let _lab = up_detached(&dir, &name);
    let prompt = format!("{name}> ");
    let mut pty = Pty::spawn(common::topolab().args(["console", &name]));
    pty.wait_for(&prompt, T);

    // Tab completes a verb…
    pty.send("pinga\t");
    pty.wait_until("`pinga` completed to `pingall`", T, |_| {
        pty.cursor_row().trim_end() == format!("{prompt}pingall")
    });
    pty.send("\r");
    pty.wait_for("*** Results: 0% dropped (2/2 received)", T);

    // … and a node name, after a node's command.
    pty.wait_for_n(&prompt, 2, T);
    pty.send("alpha ping -c1 -W5 be\t");
    pty.wait_until("`be` completed to `beta`", T, |_| {
        pty.cursor_row().trim_end() == format!("{prompt}alpha ping -c1 -W5 beta")
    });
    // `beta` became its address: the ping answered.
    pty.send("\r");
    pty.wait_for("1 packets transmitted, 1 received", T);

    // A link taken down: the same ping fails, and the console says so.
    pty.wait_for_n(&prompt, 3, T);
    pty.send("link alpha sw down\r");
    pty.wait_for("[down]", T);
    pty.wait_for_n(&prompt, 4, T);
    assert_eq!(pty.count("`ping` exited with status"), 0);
    pty.send("alpha ping -c1 -W1 beta\r");
    // (The node's own end is down: ping says the network is unreachable.)
    pty.wait_for("`ping` exited with status", T);
    pty.wait_for_n(&prompt, 5, T);
    pty.send("link alpha sw up\r");
    pty.wait_for("[up]", T);

    // Ctrl-C stops a running ping and the console prompts again.
    pty.wait_for_n(&prompt, 6, T);
    pty.send("alpha ping -i 0.2 beta\r");
    pty.wait_for("icmp_seq=3", T);
    pty.send("\x03");
    pty.wait_for("ping statistics", T);
    pty.wait_for_n(&prompt, 7, T);
    pty.send("nodes\r");
    pty.wait_for("available nodes are:", T);

    // Ctrl-C at the prompt only drops the line.
    pty.wait_for_n(&prompt, 8, T);
    pty.send("garbage\x03");
    pty.wait_for_n(&prompt, 9, T);

    // An unknown verb: an error with a suggestion.
    pty.send("pingal\r");
    pty.wait_for("did you mean `pingall`?", T);

    pty.wait_for_n(&prompt, 10, T);
    pty.send("exit\r");
    let st = pty.wait_exit(T);
    assert!(st.success(), "{st:?}\n{}", pty.screen());
    // Leaving `topolab console` leaves the lab running.
    assert!(run_dir(&name).is_dir(), "the lab went with the console");
    assert!(
        run_dir(&name).join("console_history").is_file(),
        "history is kept in the run directory"
    );
}

#[test]
fn up_on_a_terminal_opens_the_console_and_exit_tears_down() {
    need_root!();
    let name = common::lab_name("conup");
    let dir = Dir::new("conup");
    let file = dir.write("lab.yaml", TOPOLOGY);
    let _guard = common::DownOnDrop(name.clone());
    let prompt = format!("{name}> ");
    let mut pty = Pty::spawn(common::topolab().args(["up", "--name", &name]).arg(&file));
    pty.wait_for(&prompt, T);
    pty.wait_for("Ctrl-D or `exit` tears the lab down", T);

    // Ctrl-C belongs to the running command, not to the lab; Ctrl-Z stops neither the
    // lab's supervisor nor, for good, the command.
    pty.send("alpha ping -i 0.2 beta\r");
    pty.wait_for("icmp_seq=2", T);
    pty.send("\x1a");
    pty.wait_for("no job control here", T);
    pty.wait_for("icmp_seq=6", T);
    pty.send("\x03");
    pty.wait_for("ping statistics", T);
    pty.wait_for_n(&prompt, 2, T);
    // Ctrl-Z at the prompt does not suspend the supervisor either.
    pty.send("\x1a");
    pty.send("pingall\r");
    pty.wait_for("*** Results: 0% dropped (2/2 received)", T);

    pty.wait_for_n(&prompt, 3, T);
    pty.send("exit\r");
    let st = pty.wait_exit(T);
    assert!(st.success(), "{st:?}\n{}", pty.screen());
    pty.wait_for(&format!("lab `{name}` is down"), T);
    assert!(!run_dir(&name).exists(), "the run directory is gone");
    assert!(
        common::namespaces_of(&name).is_empty(),
        "namespaces left: {:?}",
        common::namespaces_of(&name)
    );
}

#[test]
fn up_on_a_terminal_ends_when_the_lab_is_taken_down_elsewhere() {
    need_root!();
    use nix::sys::termios::LocalFlags;
    let name = common::lab_name("condn");
    let dir = Dir::new("condn");
    let file = dir.write("lab.yaml", TOPOLOGY);
    let _guard = common::DownOnDrop(name.clone());
    let mut pty = Pty::spawn(common::topolab().args(["up", "--name", &name]).arg(&file));
    pty.wait_for(&format!("{name}> "), T);
    // The console waits for a line (the terminal in raw mode) when the lab goes.
    pty.wait_until("raw mode", T, |_| {
        !pty.termios().local_flags.contains(LocalFlags::ICANON)
    });
    let st = common::topolab().args(["down", &name]).status().unwrap();
    assert!(st.success());
    let st = pty.wait_exit(T);
    assert!(st.success(), "{st:?}\n{}", pty.screen());
    pty.wait_for(&format!("lab `{name}` is down"), T);
    let modes = pty.termios().local_flags;
    assert!(
        modes.contains(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG),
        "the terminal is given back as it was: {modes:?}"
    );
    assert!(common::namespaces_of(&name).is_empty());
}

#[test]
fn up_in_the_background_of_a_terminal_does_not_read_it() {
    // `up lab.yaml &` from an interactive shell: a terminal on stdin, but not ours to read
    // (reading would stop the process, and the lab with it). It serves as without one.
    need_root!();
    let name = common::lab_name("conbg");
    let dir = Dir::new("conbg");
    let file = dir.write("lab.yaml", TOPOLOGY);
    let _guard = common::DownOnDrop(name.clone());
    let up = format!(
        "{} up --name {name} {} & wait $!",
        env!("CARGO_BIN_EXE_topolab"),
        file.display()
    );
    // `sh -m`: job control, so the `&` job gets its own, background, process group.
    let mut pty = Pty::spawn(std::process::Command::new("sh").args(["-m", "-c", &up]));
    pty.wait_for("Press Ctrl-C to tear the lab down", T);
    assert_eq!(pty.count(&format!("{name}> ")), 0, "{}", pty.screen());
    let st = common::topolab().args(["down", &name]).status().unwrap();
    assert!(st.success());
    assert!(pty.wait_exit(T).success(), "{}", pty.screen());
}

#[test]
fn up_without_a_terminal_keeps_serving() {
    // Without a terminal on stdin, `up` serves as before (scripts and tests unchanged).
    need_root!();
    let name = common::lab_name("connt");
    let dir = Dir::new("connt");
    let file = dir.write("lab.yaml", TOPOLOGY);
    let _guard = common::DownOnDrop(name.clone());
    let mut child = common::topolab()
        .args(["up", "--name", &name])
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut l = String::new();
        let n = std::io::BufRead::read_line(&mut out, &mut l).unwrap();
        assert!(n > 0, "up ended early: {seen}");
        seen.push_str(&l);
        if l.contains("Press Ctrl-C to tear the lab down") {
            break;
        }
    }
    assert!(!seen.contains(&format!("{name}> ")), "{seen}");
    let st = common::topolab().args(["down", &name]).status().unwrap();
    assert!(st.success());
    assert!(child.wait().unwrap().success());
}

#[test]
fn script_runs_every_line_and_fails_if_one_did() {
    need_root!();
    let name = common::lab_name("consc");
    let dir = Dir::new("consc");
    let _lab = up_detached(&dir, &name);

    let pcap = dir.0.join("alpha.pcap");
    let good = dir.write(
        "good.txt",
        &format!(
            "# a comment, then commands\npingall\nlinks\ncapture start alpha:eth0 {}\n\
             alpha ping -c1 -W5 beta\ncapture stop\niperf alpha beta -t 1\nhelp\n",
            pcap.display()
        ),
    );
    let out = common::topolab()
        .args(["console", &name, "--script"])
        .arg(&good)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("*** Results: 0% dropped (2/2 received)"),
        "{text}"
    );
    assert!(text.contains("alpha:eth0<->sw:eth1 (up)"), "{text}");
    assert!(text.contains("1 received"), "{text}");
    assert!(text.contains("Mbit/s over 1.00 s"), "{text}");
    assert!(
        text.contains("pingpair  Ping between the first two hosts"),
        "{text}"
    );
    // The capture holds the echo request and its reply (and maybe ARP).
    let frames: u64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("alpha:eth0: ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no capture summary in {text}"));
    assert!(frames >= 2, "{text}");
    let bytes = std::fs::read(&pcap).unwrap();
    assert_eq!(&bytes[..4], &0xa1b2_3c4du32.to_le_bytes(), "a pcap file");

    // `source` from a script; a failing line is reported with its place, the rest runs.
    let bad = dir.write(
        "bad.txt",
        "link alpha sw down\nalpha ping -c1 -W1 beta\nlink alpha sw up\nnosuchverb\nalpha echo 'open\n",
    );
    let outer = dir.write("outer.txt", &format!("source {}\nnodes\n", bad.display()));
    let out = common::topolab()
        .args(["console", &name, "--script"])
        .arg(&outer)
        .output()
        .unwrap();
    let (text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{text}{err}");
    assert!(err.contains(&format!("(at {}:2)", bad.display())), "{err}");
    assert!(err.contains(&format!("(at {}:4)", bad.display())), "{err}");
    assert!(err.contains("unknown command `nosuchverb`"), "{err}");
    assert!(err.contains("the ' at column 12 is never closed"), "{err}");
    assert!(err.contains(&format!("(at {}:5)", bad.display())), "{err}");
    assert!(text.contains("available nodes are:"), "{text}");
    assert!(
        text.contains("[up]"),
        "the line after the failure ran: {text}"
    );

    // `--script F | head -c0`: a quiet exit, nothing on stderr.
    let (r, w) = std::io::pipe().unwrap();
    drop(r);
    let out = common::topolab()
        .args(["console", &name, "--script"])
        .arg(&good)
        .stdout(w)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Only regular files are read.
    let out = common::topolab()
        .args(["console", &name, "--script"])
        .arg(&dir.0)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a regular file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A file that sources itself stops at the nesting limit.
    let again = dir.0.join("again.txt");
    std::fs::write(&again, format!("source {}\n", again.display())).unwrap();
    let out = common::topolab()
        .args(["console", &name, "--script"])
        .arg(&again)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nested more than"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn script_shows_openflow_and_bgp_views_as_the_cli_does() {
    need_root!();
    let dir = Dir::new("conof");
    for (topology, tag, lines, want) in [
        (
            "topologies/openflow.yaml",
            "conof",
            "openflow c0 switches\nopenflow s1 ports --json\n",
            "dpid",
        ),
        (
            "topologies/bgp.yaml",
            "conbgp",
            "bgp r1 summary\nbgp r1 routes --json\n",
            "local AS 65001",
        ),
    ] {
        let name = common::lab_name(tag);
        let _guard = common::DownOnDrop(name.clone());
        let out = common::topolab()
            .args(["up", "-d", "--name", &name])
            .arg(common::repo_path(topology))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let script = dir.write(&format!("{tag}.txt"), lines);
        let out = common::topolab()
            .args(["console", &name, "--script"])
            .arg(&script)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(want), "{text}");
        // `--json` is the daemon's answer, as `topolab openflow|bgp … --json` prints it.
        let json_start = text.rfind(&format!("{name}> ")).unwrap();
        let json = text[json_start..].split_once('\n').unwrap().1;
        let v: serde_json::Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert!(!v.is_null());
    }
}

#[test]
fn console_on_a_missing_lab_says_so() {
    need_root!();
    let out = common::topolab()
        .args(["console", &common::lab_name("nolab")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no lab named"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
