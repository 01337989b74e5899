//! `topolab console LAB`: a Mininet-style console on a running lab, and the console a
//! foreground `topolab up` opens when its stdin is a terminal.
//!
//! A line is split into words ([`topolab::topology::words`]); its first word picks what runs:
//!
//! ```text
//!   line ──split──▶ words ──┬─ a verb (clap, [`verbs::Verb`]) ──▶ the CLI's own functions,
//!                           │     in this process: link, node, bgp, openflow, inspect,
//!                           │     pingall (the scenarios' sweep), capture (tools::capture)
//!                           ├─ iperf ──▶ child `topolab probe throughput|udp LAB A B`
//!                           └─ a node ─▶ child `topolab exec LAB NODE -- CMD…`, argv
//!                                        only (never a shell), other node names in CMD
//!                                        replaced by their first address
//! ```
//!
//! Children inherit the terminal, so their output streams as it comes. Ctrl-C: at the
//! prompt the line editor reads it as a key (a fresh line); while a command runs the
//! terminal sends SIGINT to the whole foreground group — a child gets it and stops, and
//! this process catches it (a tokio handler, registered for the console's lifetime) and
//! drops the in-process verb it was running, then prompts again. Nothing here ends the
//! lab: `exit`/Ctrl-D returns, and the foreground `up` that called [`attached`] then tears
//! the lab down.
//!
//! History lives in the lab's run directory (`console_history`), so it goes with the lab;
//! nothing is written under `$HOME`. Script files (`--script`, `source`) are read with
//! [`topolab::topology::input::read_text_file`] (regular files, bounded), `#` starts a
//! comment, and `source` nests at most [`MAX_DEPTH`] deep.

mod complete;
mod verbs;

use crate::cli::labs::{read_plan, run_dir};
use crate::cli::out::{errln, me, outln};
use std::collections::BTreeMap;
use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, Parser};
use futures::FutureExt;
use miette::{IntoDiagnostic, miette};
use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use tokio::signal::unix::{Signal, SignalKind, signal};

use topolab::compile::Plan;
use topolab::lab::LabName;
use topolab::scenario::{Family, endpoint};
use topolab::tools::capture::Capture;
use topolab::topology::words;

use verbs::{CaptureCmd, Verb};

/// How deep `source` may nest (a file that sources itself stops here).
pub const MAX_DEPTH: usize = 8;

#[derive(Args, Clone)]
pub struct ConsoleArgs {
    /// The lab (`topolab ls` lists them).
    pub lab: LabName,
    /// Run the console commands in FILE (one per line, `#` comments), then exit.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
}

pub async fn console(args: ConsoleArgs) -> miette::Result<()> {
    let mut s = Session::open(&args.lab)?;
    match &args.script {
        Some(file) => {
            let failed = s.source(file).await?.failed;
            s.stop_captures();
            if failed > 0 {
                return Err(miette!("{failed} command(s) of {} failed", file.display()));
            }
            Ok(())
        }
        None => s.interactive(false).await,
    }
}

/// The console of a foreground `up` on the lab this process serves: returns when the user
/// leaves it (the caller then tears the lab down).
pub async fn attached(lab: LabName) -> miette::Result<()> {
    let mut s = Session::open(&lab)?;
    s.attach()?;
    s.interactive(true).await
}

/// What a line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Done,
    /// It failed; the error has been printed.
    Failed,
    /// `exit`: leave the console (or the script).
    Exit,
}

/// What a sourced file did.
struct Sourced {
    /// Lines that failed.
    failed: usize,
    /// It said `exit` (or stdout closed): the console stops too.
    exit: bool,
}

struct Session {
    lab: LabName,
    plan: Plan,
    sigint: Signal,
    /// In a foreground `up` (which serves the lab: it must never be stopped), Ctrl-Z and
    /// Ctrl-\\ are caught: [`Session::attach`].
    sigtstp: Option<Signal>,
    sigquit: Option<Signal>,
    captures: BTreeMap<String, Capture>,
    depth: usize,
}

impl Session {
    fn open(lab: &LabName) -> miette::Result<Session> {
        let plan = read_plan(lab)?;
        let sigint =
            signal(SignalKind::interrupt()).map_err(|e| miette!("cannot handle Ctrl-C: {e}"))?;
        Ok(Session {
            lab: lab.clone(),
            plan,
            sigint,
            sigtstp: None,
            sigquit: None,
            captures: BTreeMap::new(),
            depth: 0,
        })
    }

    /// This process serves the lab: Ctrl-Z (SIGTSTP) must not stop it, nor Ctrl-\\
    /// (SIGQUIT) kill it, while a command runs in the foreground group. Caught, not
    /// ignored, so that the commands we start get the default actions back.
    fn attach(&mut self) -> miette::Result<()> {
        let catch = |sig| {
            signal(SignalKind::from_raw(sig)).map_err(|e| miette!("cannot catch signal {sig}: {e}"))
        };
        self.sigtstp = Some(catch(libc::SIGTSTP)?);
        self.sigquit = Some(catch(libc::SIGQUIT)?);
        Ok(())
    }

    async fn interactive(&mut self, tears_down: bool) -> miette::Result<()> {
        let config = Config::builder()
            .completion_type(CompletionType::List)
            .max_history_size(1000)
            .into_diagnostic()?
            .history_ignore_dups(true)
            .into_diagnostic()?
            .build();
        let mut ed: rustyline::Editor<complete::Completion, DefaultHistory> =
            rustyline::Editor::with_config(config)
                .map_err(|e| miette!("cannot start the line editor: {e}"))?;
        ed.set_helper(Some(complete::Completion::new(&self.plan)));
        let history = run_dir(&self.lab).join("console_history");
        let _ = ed.load_history(&history);
        let names: Vec<&str> = self.plan.user_nodes().map(|n| n.name.as_str()).collect();
        outln!(
            "lab `{}`: {} nodes ({}). `help` lists the commands; Ctrl-D or `exit` {}.",
            self.lab,
            names.len(),
            shorten(&names, 12),
            if tears_down {
                "tears the lab down"
            } else {
                "leaves (the lab keeps running)"
            }
        );
        let prompt = format!("{}> ", self.lab);
        // Lines from a pipe are shown as they run, so that the output reads like a session.
        let echo = !std::io::stdin().is_terminal();
        loop {
            let line = tokio::task::block_in_place(|| ed.readline(&prompt));
            match line {
                Ok(line) => {
                    if echo {
                        outln!("{prompt}{line}");
                    }
                    if !line.trim().is_empty() {
                        let _ = ed.add_history_entry(line.as_str());
                    }
                    if self.line(&line).await == Flow::Exit {
                        break;
                    }
                    if !run_dir(&self.lab).is_dir() {
                        errln!("lab `{}` is gone", self.lab);
                        break;
                    }
                }
                // Ctrl-C at the prompt: drop the line, prompt again (as a shell does).
                Err(ReadlineError::Interrupted) => {}
                Err(ReadlineError::Eof) => {
                    outln!("exit");
                    break;
                }
                Err(e) => return Err(miette!("reading the console: {e}")),
            }
        }
        let _ = ed.save_history(&history);
        self.stop_captures();
        Ok(())
    }

    /// Runs the lines of `file`, echoing each.
    async fn source(&mut self, file: &Path) -> miette::Result<Sourced> {
        if self.depth >= MAX_DEPTH {
            return Err(miette!(
                "{}: `source` nested more than {MAX_DEPTH} deep",
                file.display()
            ));
        }
        let text = topolab::topology::input::read_text_file(file)
            .map_err(|e| miette!("cannot read {}: {}", file.display(), e.reason()))?;
        self.depth += 1;
        let mut done = Sourced {
            failed: 0,
            exit: false,
        };
        for (i, line) in text.lines().enumerate() {
            if words::split(line).is_ok_and(|w| w.is_empty()) {
                continue;
            }
            outln!("{}> {line}", self.lab);
            match Box::pin(self.line(line)).await {
                Flow::Done => {}
                Flow::Failed => {
                    errln!("  (at {}:{})", file.display(), i + 1);
                    done.failed += 1;
                }
                Flow::Exit => {
                    done.exit = true;
                    break;
                }
            }
        }
        self.depth -= 1;
        Ok(done)
    }

    /// Runs one line, printing its errors.
    async fn line(&mut self, line: &str) -> Flow {
        let words = match words::split(line) {
            Ok(w) => w,
            Err(e) => {
                errln!("{e}");
                return Flow::Failed;
            }
        };
        let Some(first) = words.first() else {
            return Flow::Done;
        };
        // Nobody reads our output any more (`--script F | head`): stop quietly, as a
        // printing command does, but through the normal exit (captures are flushed).
        if crate::cli::out::stdout_closed() {
            return Flow::Exit;
        }
        // Ctrl-C pressed while nothing ran must not stop the next command.
        while let Some(Some(())) = self.sigint.recv().now_or_never() {}
        let verbs = verbs::names();
        let result = if verbs.iter().any(|v| v == first) {
            match Verb::try_parse_from(&words) {
                Ok(v) => self.verb(v).await,
                Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
                    outln!("{}", e.render().to_string().trim_end());
                    return Flow::Done;
                }
                Err(e) => {
                    errln!("{}", e.render().to_string().trim_end());
                    return Flow::Failed;
                }
            }
        } else if self.plan.user_node(first).is_some() {
            self.in_node(&words).await.map(|()| Flow::Done)
        } else {
            let nodes = self.plan.user_nodes().map(|n| n.name.as_str());
            let candidates: Vec<&str> = verbs.iter().map(String::as_str).chain(nodes).collect();
            let hint = match topolab::topology::did_you_mean(first, candidates) {
                Some(c) => format!("did you mean `{c}`?"),
                None => "`help` lists the commands; a node's name runs a command in it".into(),
            };
            Err(miette!(help = hint, "unknown command `{first}`"))
        };
        match result {
            Ok(f) => f,
            Err(e) => {
                errln!("{e:?}");
                Flow::Failed
            }
        }
    }

    async fn verb(&mut self, v: Verb) -> miette::Result<Flow> {
        let lab = self.lab.clone();
        match v {
            Verb::Help { verb } => verbs::help(verb.as_deref()).map_err(|e| miette!("{e}"))?,
            Verb::Nodes => verbs::nodes(&self.plan),
            Verb::Net => verbs::net(&self.plan),
            Verb::Intfs => verbs::intfs(&self.plan),
            Verb::Dump => verbs::dump(&self.plan),
            Verb::Links => {
                let status = self.interruptible(crate::cli::labs::status(&lab)).await?;
                verbs::links(&status);
            }
            Verb::Pingall { ipv6, all } => {
                let plan = self.plan.clone();
                let family = verbs::family(ipv6);
                let r = self
                    .interruptible(blocking(move || {
                        topolab::scenario::pingall_pairs(&plan, family, all)
                    }))
                    .await?;
                verbs::print_pings(&r);
            }
            Verb::Pingpair { ipv6 } => {
                let plan = self.plan.clone();
                let family = verbs::family(ipv6);
                let pair = verbs::pair(&plan).map_err(|e| miette!("{e}"))?;
                let pair = pair.map(String::from);
                let r = self
                    .interruptible(blocking(move || {
                        let nodes = [pair[0].as_str(), pair[1].as_str()];
                        topolab::scenario::ping_pairs(&plan, family, &nodes)
                    }))
                    .await?;
                verbs::print_pings(&r);
            }
            Verb::Iperf {
                a,
                b,
                udp,
                seconds,
                ipv6,
            } => {
                let mut argv: Vec<String> = vec!["probe".into()];
                if udp {
                    argv.extend(["udp".into(), lab.to_string(), a, b]);
                } else {
                    argv.extend([
                        "throughput".into(),
                        lab.to_string(),
                        a,
                        b,
                        "-t".into(),
                        seconds,
                    ]);
                }
                if ipv6 {
                    argv.push("-6".into());
                }
                child(&argv, "iperf", self.sigtstp.as_mut()).await?;
            }
            Verb::Link { a, b, action } => {
                self.interruptible(crate::cli::labs::link(&lab, &a, &b, &action, false))
                    .await?
            }
            Verb::Node { node, op, service } => {
                self.interruptible(crate::cli::node::node(&lab, &node, op, service, false))
                    .await?
            }
            Verb::Openflow {
                node,
                view,
                flow,
                strict,
                json,
            } => {
                self.interruptible(crate::cli::openflow::openflow(
                    &lab, &node, view, flow, strict, json,
                ))
                .await?
            }
            Verb::Bgp { node, cmd, json } => {
                self.interruptible(crate::cli::bgp::bgp(&lab, &node, cmd, json))
                    .await?
            }
            Verb::Inspect => {
                self.interruptible(crate::cli::labs::inspect(&lab, false))
                    .await?
            }
            Verb::Capture { cmd } => self.capture(cmd).await?,
            Verb::Source { file } => {
                let done = Box::pin(self.source(&file)).await?;
                if done.failed > 0 {
                    return Err(miette!(
                        "{} command(s) of {} failed",
                        done.failed,
                        file.display()
                    ));
                }
                if done.exit {
                    return Ok(Flow::Exit);
                }
            }
            Verb::Exit => return Ok(Flow::Exit),
        }
        Ok(Flow::Done)
    }

    /// `f`, or an "interrupted" error if Ctrl-C comes first (`f` is dropped).
    async fn interruptible<T>(
        &mut self,
        f: impl Future<Output = miette::Result<T>>,
    ) -> miette::Result<T> {
        tokio::select! {
            r = f => r,
            _ = self.sigint.recv() => Err(miette!("interrupted")),
        }
    }

    /// `NODE CMD…`: CMD inside NODE, other node names replaced by their address.
    async fn in_node(&mut self, words: &[String]) -> miette::Result<()> {
        let node = &words[0];
        if words.len() == 1 {
            return Err(miette!(
                help = format!("`{node} ip addr`; `{node} bash` for a shell"),
                "`{node}` is a node: give a command to run in it"
            ));
        }
        let mut argv: Vec<String> = vec!["exec".into(), self.lab.to_string(), node.clone()];
        argv.push("--".into());
        argv.extend(words[1..].iter().map(|w| self.address_of(w)));
        child(&argv, &words[1], self.sigtstp.as_mut()).await
    }

    /// A node's name as its address (IPv4 first), as Mininet does; any other word as is.
    fn address_of(&self, word: &str) -> String {
        if self.plan.user_node(word).is_none() {
            return word.to_string();
        }
        [Family::Ipv4, Family::Ipv6]
            .into_iter()
            .find_map(|f| endpoint(&self.plan, word, f).ok())
            .map_or_else(|| word.to_string(), |(_, ip)| ip.to_string())
    }

    async fn capture(&mut self, cmd: Option<CaptureCmd>) -> miette::Result<()> {
        match cmd {
            None if self.captures.is_empty() => outln!("no capture is running"),
            None => {
                for at in self.captures.keys() {
                    outln!("capturing on {at}");
                }
            }
            Some(CaptureCmd::Start { at, file }) => {
                if self.captures.contains_key(&at) {
                    return Err(miette!("a capture on {at} is already running"));
                }
                let (node, iface) = at.split_once(':').ok_or_else(|| {
                    miette!(
                        help = "e.g. `capture start h1:eth0 h1.pcap`",
                        "write NODE:IFACE"
                    )
                })?;
                let n = self
                    .plan
                    .user_node(node)
                    .ok_or_else(|| miette!("no node `{node}` in lab `{}`", self.lab))?;
                if !n.ifaces.iter().any(|i| i.name == iface) {
                    let names: Vec<&str> = n.ifaces.iter().map(|i| i.name.as_str()).collect();
                    return Err(miette!(
                        help = format!("its interfaces: {}", names.join(", ")),
                        "node `{node}` has no interface `{iface}`"
                    ));
                }
                if std::fs::symlink_metadata(&file).is_ok() {
                    return Err(miette!("{} exists: name a new file", file.display()));
                }
                let (ns, i, p) = (n.netns.clone(), iface.to_string(), file.clone());
                let cap = blocking(move || Capture::start(&ns, &i, &p).map_err(|e| e.to_string()))
                    .await?;
                outln!("capturing on {at} into {}", file.display());
                self.captures.insert(at, cap);
            }
            Some(CaptureCmd::Stop { at: Some(at) }) => {
                let cap = self
                    .captures
                    .remove(&at)
                    .ok_or_else(|| miette!("no capture is running on {at}"))?;
                stop_one(&at, cap);
            }
            Some(CaptureCmd::Stop { at: None }) => {
                if self.captures.is_empty() {
                    outln!("no capture is running");
                }
                self.stop_captures();
            }
        }
        Ok(())
    }

    fn stop_captures(&mut self) {
        for (at, cap) in std::mem::take(&mut self.captures) {
            stop_one(&at, cap);
        }
    }
}

fn stop_one(at: &str, cap: Capture) {
    match cap.stop() {
        Ok((path, frames)) => outln!("{at}: {frames} frames in {}", path.display()),
        Err(e) => errln!("{at}: the capture failed: {e}"),
    }
}

/// A blocking library call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> miette::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .into_diagnostic()?
        .map_err(|e| miette!("{e}"))
}

/// Runs this binary with `argv` on the console's terminal and waits for it. Ctrl-C reaches
/// it from the terminal (it is in our process group); we only wait. `stop`: Ctrl-Z while
/// it runs (caught in a foreground `up`, which must never be stopped): the child, stopped
/// too, is continued, since the console has no job control to resume it.
async fn child(argv: &[String], what: &str, stop: Option<&mut Signal>) -> miette::Result<()> {
    use std::os::unix::process::ExitStatusExt;
    let exe = std::env::current_exe().map_err(|e| miette!("cannot find {}: {e}", me()))?;
    let mut c = tokio::process::Command::new(exe)
        .args(argv)
        .spawn()
        .map_err(|e| miette!("cannot run {what}: {e}"))?;
    let pid = c.id();
    let status = match stop {
        None => c.wait().await,
        Some(stop) => loop {
            tokio::select! {
                st = c.wait() => break st,
                _ = stop.recv() => {
                    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGCONT,
                        );
                    }
                    errln!("(no job control here: Ctrl-C stops the command)");
                }
            }
        },
    }
    .map_err(|e| miette!("cannot run {what}: {e}"))?;
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (_, Some(libc::SIGINT)) => Err(miette!("interrupted")),
        (Some(c), _) => Err(miette!("`{what}` exited with status {c}")),
        (None, sig) => Err(miette!(
            "`{what}` was killed by signal {}",
            sig.unwrap_or(0)
        )),
    }
}

/// The first `max` names, then how many more.
fn shorten(names: &[&str], max: usize) -> String {
    let mut s = names
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if names.len() > max {
        s.push_str(&format!(" … and {} more", names.len() - max));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn long_node_lists_are_shortened() {
        assert_eq!(shorten(&["a", "b"], 12), "a b");
        assert_eq!(shorten(&["a", "b", "c"], 2), "a b … and 1 more");
    }
}
