//! Checks of a node's services and runtime settings: `run:`, `routes:`, `cpu:`, `memory:`,
//! `private_dirs:`, `files:`, and the lab's `mgmt:` (rules in `service.rs`).

use std::path::{Component, Path, PathBuf};

use clap::ValueEnum;
use ipnet::IpNet;
use serde_saphyr::Spanned;

use super::check::{Ctx, str_items};
use super::error::{ErrorKind, TopologyError};
use super::model::{Addressing, NodeKind, Span};
use super::service::{
    DEFAULT_GRACE, FILE_MODE, MAX_GRACE, Mgmt, NodeFile, Readiness, RestartPolicy, Service,
    ServiceWhat, StopSignal, check_service_name, dedup_name, short_name,
};
use super::spec::{
    FileSpec, MgmtLong, MgmtSpec, ReadySpec, RunItem, RunSpec, Scalar, ServiceSpec, StrList, span,
};
use super::units;
use crate::daemon::DaemonKind;

/// Most `cpu:` a node may ask for, in cores.
pub const MAX_CPU: f64 = 1024.0;
/// Least `memory:` a node may have: 4 MiB.
pub const MIN_MEMORY: u64 = 4 << 20;
/// Most `memory:` a node may have: 16 TiB.
pub const MAX_MEMORY: u64 = 16 << 40;
/// Default management pools.
pub const MGMT4_DEFAULT: &str = "192.168.200.0/22";
pub const MGMT6_DEFAULT: &str = "fd00:0:ee::/64";

/// Trees a private dir may not be in: the kernel's and topolab's own.
const FORBIDDEN_DIRS: &[&str] = &["/proc", "/sys", "/dev", "/run/netns", "/run/topolab"];

/// The services of `run:`, in file order.
pub fn services(run: &Spanned<RunSpec>, ctx: &Ctx<'_>) -> Result<Vec<Service>, TopologyError> {
    let items: Vec<(&RunItem, Span)> = match &run.value {
        RunSpec::One(item) => vec![(item, span(run))],
        RunSpec::Many(items) => items.iter().map(|i| (&i.value, span(i))).collect(),
    };
    let mut out: Vec<Service> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (item, at) in items {
        let service = match item {
            RunItem::Short(cmd) => {
                let cmd = command(cmd, at, ctx)?;
                let name = dedup_name(&short_name(&cmd), &names);
                Service {
                    name,
                    what: ServiceWhat::Command { cmd },
                    ready: None,
                    restart: RestartPolicy::Never,
                    stop_signal: StopSignal::Term,
                    grace: DEFAULT_GRACE,
                }
            }
            RunItem::Long(spec) => long(spec, at, &names, ctx)?,
        };
        names.push(service.name.clone());
        out.push(service);
    }
    Ok(out)
}

fn command(cmd: &str, at: Span, ctx: &Ctx<'_>) -> Result<String, TopologyError> {
    if cmd.trim().is_empty() {
        return Err(ctx
            .error(ErrorKind::BadValue, at, "empty command in `run`")
            .with_help("each `run` entry is a shell command, like `sleep 1000`"));
    }
    Ok(cmd.to_string())
}

fn long(
    spec: &ServiceSpec,
    at: Span,
    names: &[String],
    ctx: &Ctx<'_>,
) -> Result<Service, TopologyError> {
    let what = match (&spec.cmd, &spec.daemon) {
        (Some(cmd), None) => {
            if let Some(port) = &spec.port {
                return Err(ctx
                    .error(
                        ErrorKind::BadValue,
                        span(port),
                        "`port` is only valid with `daemon`",
                    )
                    .with_help("a command's port is in its own arguments; remove `port`"));
            }
            ServiceWhat::Command {
                cmd: command(&cmd.value, span(cmd), ctx)?,
            }
        }
        (None, Some(kind)) => {
            let found = DaemonKind::value_variants()
                .iter()
                .filter(|k| k.user_writable())
                .find(|k| k.name() == kind.value);
            let Some(&kind_value) = found else {
                let kinds: Vec<&str> = DaemonKind::value_variants()
                    .iter()
                    .filter(|k| k.user_writable())
                    .map(|k| k.name())
                    .collect();
                return Err(ctx
                    .error(
                        ErrorKind::BadValue,
                        span(kind),
                        format!("unknown built-in daemon `{}`", kind.value),
                    )
                    .with_help(format!("built-in daemons: {}", kinds.join(", "))));
            };
            let Some(port) = &spec.port else {
                return Err(ctx
                    .error(
                        ErrorKind::MissingField,
                        span(kind),
                        "a built-in daemon needs a `port`",
                    )
                    .with_help("add its port, like `{daemon: echo, port: 7}`"));
            };
            ServiceWhat::Daemon {
                kind: kind_value,
                port: port_number(port, ctx)?,
            }
        }
        (Some(_), Some(daemon)) => {
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    span(daemon),
                    "a service has either `cmd` or `daemon`, not both",
                )
                .with_help("split it into two services"));
        }
        (None, None) => {
            return Err(ctx
                .error(
                    ErrorKind::MissingField,
                    at,
                    "a service needs `cmd` (a shell command) or `daemon` (a built-in kind)",
                )
                .with_help("like `{name: web, cmd: \"python3 -m http.server 80\"}`"));
        }
    };
    let name = match &spec.name {
        Some(name) => {
            check_service_name(&name.value).map_err(|msg| {
                ctx.error(ErrorKind::BadName, span(name), msg).with_help(
                    "service names use letters, digits, `_` and `-`, at most 32 bytes \
                     (they name the service's log file)",
                )
            })?;
            if names.contains(&name.value) {
                return Err(ctx
                    .error(
                        ErrorKind::DuplicateName,
                        span(name),
                        format!("duplicate service name `{}` on this node", name.value),
                    )
                    .with_help("give each service of a node its own `name`"));
            }
            name.value.clone()
        }
        None => {
            let base = match &what {
                ServiceWhat::Command { cmd } => short_name(cmd),
                ServiceWhat::Daemon { kind, .. } => kind.name().to_string(),
            };
            dedup_name(&base, names)
        }
    };
    let ready = match &spec.ready {
        Some(r) => Some(readiness(r, ctx)?),
        None => match what {
            ServiceWhat::Daemon { .. } => Some(Readiness::Builtin),
            ServiceWhat::Command { .. } => None,
        },
    };
    let grace = match &spec.grace {
        None => DEFAULT_GRACE,
        Some(g) => {
            let d = units::parse_duration(&g.value.0).map_err(|e| {
                ctx.error(ErrorKind::BadUnit, span(g), e.message)
                    .with_help(e.hint)
            })?;
            if d > MAX_GRACE {
                return Err(ctx
                    .error(
                        ErrorKind::BadValue,
                        span(g),
                        format!("grace `{}` is over the limit of 60s", g.value.0),
                    )
                    .with_help("a stop grace period is at most 60s, like `2s`"));
            }
            d
        }
    };
    Ok(Service {
        name,
        what,
        ready,
        restart: spec
            .restart
            .as_ref()
            .map_or_else(Default::default, |r| r.value),
        stop_signal: spec
            .stop_signal
            .as_ref()
            .map_or_else(Default::default, |s| s.value),
        grace,
    })
}

fn port_number(port: &Spanned<u64>, ctx: &Ctx<'_>) -> Result<u16, TopologyError> {
    match u16::try_from(port.value) {
        Ok(p @ 1..) => Ok(p),
        _ => Err(ctx
            .error(
                ErrorKind::BadValue,
                span(port),
                format!("port {} is out of range", port.value),
            )
            .with_help("a port is between 1 and 65535")),
    }
}

fn readiness(r: &Spanned<ReadySpec>, ctx: &Ctx<'_>) -> Result<Readiness, TopologyError> {
    let s = &r.value;
    let mut found: Vec<(Span, Readiness)> = Vec::new();
    if let Some(p) = &s.tcp_port {
        found.push((span(p), Readiness::TcpPort(port_number(p, ctx)?)));
    }
    if let Some(p) = &s.udp_port {
        found.push((span(p), Readiness::UdpPort(port_number(p, ctx)?)));
    }
    if let Some(c) = &s.command {
        found.push((
            span(c),
            Readiness::Command(command(&c.value, span(c), ctx)?),
        ));
    }
    if let Some(f) = &s.file {
        if !Path::new(&f.value).is_absolute() {
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    span(f),
                    format!("readiness file `{}` is not an absolute path", f.value),
                )
                .with_help("write the path the node sees, like `/run/bird.ctl`"));
        }
        found.push((span(f), Readiness::File(PathBuf::from(&f.value))));
    }
    if let Some(l) = &s.log {
        regex::Regex::new(&l.value).map_err(|e| {
            ctx.error(
                ErrorKind::BadRegex,
                span(l),
                format!("bad regular expression `{}`", l.value),
            )
            .with_help(
                e.to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
            )
        })?;
        found.push((span(l), Readiness::Log(l.value.clone())));
    }
    match found.len() {
        1 => Ok(found.pop().expect("one").1),
        0 => Err(ctx
            .error(ErrorKind::BadValue, span(r), "empty readiness condition")
            .with_help("write one of `tcp_port`, `udp_port`, `command`, `file`, `log`")),
        _ => Err(ctx
            .error(
                ErrorKind::BadValue,
                found[1].0,
                "a readiness condition has exactly one kind",
            )
            .with_help("keep one of `tcp_port`, `udp_port`, `command`, `file`, `log`")),
    }
}

/// `cpu:` in (0, 1024] cores.
pub fn cpu(v: &Spanned<Scalar>, ctx: &Ctx<'_>) -> Result<f64, TopologyError> {
    let text = v.value.0.trim();
    let parsed = text
        .parse::<f64>()
        .ok()
        .filter(|c| c.is_finite() && !text.contains(['e', 'E', '+', '-']));
    match parsed {
        Some(c) if c > 0.0 && c <= MAX_CPU => Ok(c),
        Some(_) => Err(ctx
            .error(
                ErrorKind::BadValue,
                span(v),
                format!("cpu `{text}` is out of range"),
            )
            .with_help("a share of one core above 0 and at most 1024, like `0.5`")),
        None => Err(ctx
            .error(ErrorKind::BadUnit, span(v), format!("bad cpu `{text}`"))
            .with_help("a share of one core as a plain number, like `0.5` or `2`")),
    }
}

/// `memory:` in bytes, 4 MiB ..= 16 TiB.
pub fn memory(v: &Spanned<Scalar>, ctx: &Ctx<'_>) -> Result<u64, TopologyError> {
    let text = v.value.0.trim();
    let bytes = units::parse_memory(text).map_err(|e| {
        ctx.error(ErrorKind::BadUnit, span(v), e.message)
            .with_help(e.hint)
    })?;
    if !(MIN_MEMORY..=MAX_MEMORY).contains(&bytes) {
        return Err(ctx
            .error(
                ErrorKind::BadValue,
                span(v),
                format!("memory `{text}` is out of range"),
            )
            .with_help("a node's memory limit is between 4MiB and 16TiB, like `256MiB`"));
    }
    Ok(bytes)
}

/// `private_dirs:` — absolute, normal, not `/`, not in the kernel's or topolab's trees.
pub fn private_dirs(list: &Spanned<StrList>, ctx: &Ctx<'_>) -> Result<Vec<PathBuf>, TopologyError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for (text, at) in str_items(list) {
        let path = absolute_clean(&text).map_err(|why| {
            ctx.error(
                ErrorKind::BadValue,
                at,
                format!("private dir `{text}` {why}"),
            )
            .with_help("write an absolute directory without `..`, like `/etc/frr`")
        })?;
        if path == Path::new("/") {
            return Err(ctx
                .error(ErrorKind::BadValue, at, "`/` cannot be a private dir")
                .with_help(
                    "name the directories the node needs its own copy of, like `/etc/frr`",
                ));
        }
        if let Some(tree) = FORBIDDEN_DIRS.iter().find(|t| path.starts_with(t)) {
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    at,
                    format!("private dir `{text}` is under `{tree}`"),
                )
                .with_help(format!(
                    "{} are the kernel's and topolab's own; pick another directory",
                    FORBIDDEN_DIRS.join(", ")
                )));
        }
        if out.contains(&path) {
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    at,
                    format!("private dir `{text}` is listed twice"),
                )
                .with_help("remove the repeated directory"));
        }
        out.push(path);
    }
    Ok(out)
}

/// An absolute path with no `..`, `.` or empty parts removed: the error says what is wrong.
fn absolute_clean(text: &str) -> Result<PathBuf, &'static str> {
    let p = Path::new(text);
    if !p.is_absolute() {
        return Err("is not an absolute path");
    }
    if text.contains('\0') {
        return Err("contains a NUL byte");
    }
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => out.push(part),
            Component::ParentDir => return Err("contains `..`"),
            Component::Prefix(_) => return Err("is not a Linux path"),
        }
    }
    Ok(out)
}

/// `files:` — each target inside one of `dirs`, its text inline or read (bounded).
pub fn files(
    entries: &[(Spanned<String>, Spanned<FileSpec>)],
    dirs: &[PathBuf],
    ctx: &Ctx<'_>,
) -> Result<Vec<NodeFile>, TopologyError> {
    let mut out: Vec<NodeFile> = Vec::new();
    for (key, body) in entries {
        let at = span(key);
        let path = absolute_clean(&key.value).map_err(|why| {
            ctx.error(
                ErrorKind::BadValue,
                at,
                format!("file `{}` {why}", key.value),
            )
            .with_help("write the absolute path the node sees, like `/etc/frr/frr.conf`")
        })?;
        if !dirs.iter().any(|d| path.starts_with(d) && path != *d) {
            let help = if dirs.is_empty() {
                "list its directory in the node's `private_dirs` (files are only placed in \
                 the node's own copies, never in the machine's directories)"
                    .to_string()
            } else {
                format!(
                    "files are only placed in the node's private dirs ({}); add its \
                     directory to `private_dirs`",
                    dirs.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    at,
                    format!(
                        "file `{}` is not inside a private dir of this node",
                        key.value
                    ),
                )
                .with_help(help));
        }
        let content = match (&body.value.content, &body.value.path) {
            (Some(c), None) => c.value.clone(),
            (None, Some(p)) => read_file(p, ctx)?,
            (Some(_), Some(p)) => {
                return Err(ctx
                    .error(
                        ErrorKind::BadValue,
                        span(p),
                        "a file has either `content` or `path`, not both",
                    )
                    .with_help("keep one of them"));
            }
            (None, None) => {
                return Err(ctx
                    .error(
                        ErrorKind::MissingField,
                        span(body),
                        "a file needs `content` or `path`",
                    )
                    .with_help("like `{content: \"hostname r1\\n\"}` or `{path: frr/r1.conf}`"));
            }
        };
        out.push(NodeFile {
            path,
            content,
            mode: FILE_MODE,
        });
    }
    Ok(out)
}

fn read_file(p: &Spanned<String>, ctx: &Ctx<'_>) -> Result<String, TopologyError> {
    let written = p.value.as_str();
    let resolved = match ctx.base_dir {
        Some(dir) => dir.join(written),
        None => PathBuf::from(written),
    };
    super::input::read_text_file(&resolved).map_err(|problem| {
        let kind = match problem {
            super::input::FileProblem::NotFound => ErrorKind::MissingFile,
            _ => ErrorKind::Io,
        };
        let base = match ctx.base_dir {
            Some(dir) if !dir.as_os_str().is_empty() => format!("`{}`", dir.display()),
            _ => "the current directory".to_string(),
        };
        ctx.error(
            kind,
            span(p),
            format!("cannot read `{written}`: {}", problem.reason()),
        )
        .with_help(format!("{}; paths are relative to {base}", problem.hint()))
    })
}

/// `routes:` on a node of `kind`.
pub fn routes_allowed(
    kind: NodeKind,
    at: Span,
    name: &str,
    ctx: &Ctx<'_>,
) -> Result<(), TopologyError> {
    if kind.is_l3() {
        return Ok(());
    }
    Err(ctx
        .error(
            ErrorKind::BadValue,
            at,
            "`routes` is only valid on routers and hosts",
        )
        .with_help(format!(
            "`{name}` is a {}, which has no routes; remove `routes`",
            kind.word()
        )))
}

/// `mgmt:` — pools parsed and disjoint from the lab's other pools of their family.
pub fn mgmt(
    spec: Option<&Spanned<MgmtSpec>>,
    addressing: &Addressing,
    ctx: &Ctx<'_>,
) -> Result<Option<Mgmt>, TopologyError> {
    let Some(spec) = spec else { return Ok(None) };
    let empty = Default::default();
    let long = match &spec.value {
        MgmtSpec::On(false) => return Ok(None),
        MgmtSpec::On(true) => &empty,
        MgmtSpec::Long(long) => long,
    };
    mgmt_long(long, span(spec), addressing, ctx).map(Some)
}

/// The management network with its default pools, turned on because OpenFlow switches
/// reach their controller there (`at`: the first `controller:` naming a lab node).
pub fn mgmt_for_openflow(
    at: Span,
    addressing: &Addressing,
    ctx: &Ctx<'_>,
) -> Result<Mgmt, TopologyError> {
    mgmt_long(&Default::default(), at, addressing, ctx)
}

fn mgmt_long(
    long: &MgmtLong,
    whole: Span,
    addressing: &Addressing,
    ctx: &Ctx<'_>,
) -> Result<Mgmt, TopologyError> {
    let pool = |given: &Option<Spanned<String>>, v4: bool| -> Result<IpNet, TopologyError> {
        let (key, default) = if v4 {
            ("ipv4", MGMT4_DEFAULT)
        } else {
            ("ipv6", MGMT6_DEFAULT)
        };
        let Some(given) = given else {
            return Ok(default.parse().expect("default mgmt pool"));
        };
        let at = span(given);
        let bad = |msg: String| {
            ctx.error(ErrorKind::BadAddress, at, msg).with_help(format!(
                "write a network in CIDR notation, like `{default}`"
            ))
        };
        let net: IpNet = given
            .value
            .trim()
            .parse()
            .map_err(|_| bad(format!("bad CIDR `{}` for `mgmt.{key}`", given.value)))?;
        if matches!(net, IpNet::V4(_)) != v4 {
            return Err(bad(format!(
                "`mgmt.{key}` must be an {} pool, not `{net}`",
                if v4 { "IPv4" } else { "IPv6" }
            )));
        }
        if net.trunc() != net {
            return Err(bad(format!("pool `{net}` has host bits set")));
        }
        let max_prefix = if v4 { 30 } else { 126 };
        if net.prefix_len() > max_prefix {
            return Err(bad(format!(
                "pool `{net}` is too small for a management network"
            )));
        }
        Ok(net)
    };
    let ipv4 = addressing
        .ipv4
        .then(|| pool(&long.ipv4, true))
        .transpose()?;
    let ipv6 = addressing
        .ipv6
        .then(|| pool(&long.ipv6, false))
        .transpose()?;
    let a = addressing;
    for (net, given, others) in [
        (
            ipv4,
            &long.ipv4,
            [
                ("lan4", &a.lan4),
                ("p2p4", &a.p2p4),
                ("loopback4", &a.loopback4),
            ],
        ),
        (
            ipv6,
            &long.ipv6,
            [
                ("lan6", &a.lan6),
                ("p2p6", &a.p2p6),
                ("loopback6", &a.loopback6),
            ],
        ),
    ] {
        let Some(net) = net else { continue };
        for (key, other) in others {
            if net.contains(&other.net.network()) || other.net.contains(&net.network()) {
                let at = given.as_ref().map_or(whole, span);
                return Err(ctx
                    .error(
                        ErrorKind::OverlappingSubnets,
                        at,
                        format!(
                            "management pool {net} overlaps `addressing.{key}` ({})",
                            other.net
                        ),
                    )
                    .with_help(
                        "the management network is out of band: give it a pool of its own \
                         (`mgmt: {ipv4: …, ipv6: …}`)",
                    ));
            }
        }
    }
    Ok(Mgmt {
        ipv4,
        ipv6,
        host: long.host.unwrap_or(false),
        span: whole,
    })
}
