//! Name rules and "did you mean" suggestions, shared by the parser (unknown keys) and the
//! checker (lab, node, interface and sysctl names; unknown nodes).
//!
//! Lab and node names become parts of namespace names (`<lab>-<node>` under `/run/netns`),
//! so they are restricted to a portable character set and short lengths. Interface names
//! follow the kernel's `dev_valid_name` rules; `lo`, `all`, `default`, the kernel's fallback
//! tunnel devices and topolab's own `ifb<N>` shapers are reserved.

/// Longest lab name, in bytes.
pub const MAX_LAB_NAME: usize = 40;
/// Longest node name, in bytes.
pub const MAX_NODE_NAME: usize = 32;
/// Longest interface name, in bytes (`IFNAMSIZ` - 1).
pub const MAX_IFACE_NAME: usize = 15;

/// `[A-Za-z0-9][A-Za-z0-9_.-]*`; `what` names the thing for messages.
fn check_charset(name: &str, what: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err(format!("{what} is empty"));
    };
    if !first.is_ascii_alphanumeric() {
        return Err(format!("{what} `{name}` must start with a letter or digit"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c)))
    {
        return Err(format!(
            "{what} `{name}` contains `{}`; only letters, digits, `_`, `.` and `-` are allowed",
            bad.escape_default()
        ));
    }
    Ok(())
}

/// Checks a lab name (`name:` in the file, or `topolab up --name`): letters, digits, `_`,
/// `.`, `-`, starting with a letter or digit, at most 40 bytes.
pub fn check_lab_name(name: &str) -> Result<(), String> {
    check_charset(name, "lab name")?;
    if name.len() > MAX_LAB_NAME {
        return Err(format!(
            "lab name `{name}` is {} bytes long; the limit is {MAX_LAB_NAME}",
            name.len()
        ));
    }
    Ok(())
}

/// Checks a node name: the lab-name character set, at most 32 bytes.
pub fn check_node_name(name: &str) -> Result<(), String> {
    check_charset(name, "node name")?;
    if name.len() > MAX_NODE_NAME {
        return Err(format!(
            "node name `{name}` is {} bytes long; the limit is {MAX_NODE_NAME}",
            name.len()
        ));
    }
    Ok(())
}

/// Why an interface name is rejected.
#[derive(Debug, PartialEq, Eq)]
pub enum IfaceProblem {
    TooLong(String),
    Invalid(String),
}

/// Checks an interface name as the kernel would (`dev_valid_name`), and reserves `lo`.
pub fn check_iface_name(name: &str) -> Result<(), IfaceProblem> {
    if name.is_empty() {
        return Err(IfaceProblem::Invalid("interface name is empty".into()));
    }
    if name.len() > MAX_IFACE_NAME {
        return Err(IfaceProblem::TooLong(format!(
            "interface name `{name}` is {} bytes long; Linux allows at most {MAX_IFACE_NAME}",
            name.len()
        )));
    }
    if name == "." || name == ".." {
        return Err(IfaceProblem::Invalid(format!(
            "`{name}` is not a valid interface name"
        )));
    }
    if name == "lo" {
        return Err(IfaceProblem::Invalid(
            "`lo` is the loopback interface; links cannot use it".into(),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| *c == '/' || *c == ':' || *c == '%' || c.is_whitespace() || c.is_control())
    {
        return Err(IfaceProblem::Invalid(format!(
            "interface name `{name}` contains `{}`; `/`, `:`, `%`, whitespace and control \
             characters are not allowed",
            bad.escape_default()
        )));
    }
    if let Some(why) = reserved_iface(name) {
        return Err(IfaceProblem::Invalid(format!(
            "interface name `{name}` is reserved: {why}"
        )));
    }
    Ok(())
}

/// Names the kernel or topolab already uses inside a node's namespace.
fn reserved_iface(name: &str) -> Option<&'static str> {
    // `/proc/sys/net/ipv{4,6}/conf/{all,default}` exist in every namespace, so the kernel
    // cannot register an interface of either name.
    if name == "all" || name == "default" {
        return Some("the kernel's per-interface sysctls use it for every interface");
    }
    // Kernel engine shapers: `ifbN` for the interface at ifindex N (compile/emulation.rs).
    if let Some(digits) = name.strip_prefix("ifb")
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Some("topolab names its shaping devices `ifb<number>`");
    }
    // Fallback devices some kernels create in every new namespace (when their module is
    // loaded).
    const FALLBACK: [&str; 10] = [
        "tunl0",
        "sit0",
        "ip6tnl0",
        "gre0",
        "gretap0",
        "erspan0",
        "ip_vti0",
        "ip6_vti0",
        "ip6gre0",
        "ip6erspan0",
    ];
    if FALLBACK.contains(&name) {
        return Some("the kernel creates a tunnel device of that name in every namespace");
    }
    None
}

/// Checks a node's sysctl key: only keys under `net.` (those live in the node's network
/// namespace; anything else would change the host), written with dots, each component
/// non-empty and made of letters, digits, `_` and `-`. So the key, as a path under
/// `/proc/sys` (dots become `/`), always stays inside `/proc/sys/net`.
pub fn check_sysctl_key(key: &str) -> Result<(), String> {
    let mut parts = key.split('.');
    if parts.next() != Some("net") {
        return Err(format!(
            "sysctl `{key}` is not a network sysctl; only `net.` keys live in a node's namespace"
        ));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut parts = parts.peekable();
    if parts.peek().is_none() {
        return Err(format!("`{key}` is not a sysctl name"));
    }
    for part in parts {
        if part.is_empty() {
            return Err(format!("sysctl `{key}` has an empty component"));
        }
        if let Some(bad) = part.chars().find(|c| !ok_char(*c)) {
            return Err(format!(
                "sysctl `{key}` contains `{}`; components use letters, digits, `_` and `-`",
                bad.escape_default()
            ));
        }
    }
    Ok(())
}

/// The candidate closest to `word`, if it is close enough to be a likely typo: at most one
/// edit (a transposition counts as one) per three characters, and at least one allowed.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// `did you mean `x`?` when one is close, else a list of the valid choices.
pub fn suggestion(word: &str, candidates: &[&str], what: &str) -> String {
    match did_you_mean(word, candidates.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("{what}: {}", candidates.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_names() {
        assert!(check_lab_name("quickstart").is_ok());
        assert!(check_lab_name("lab_1.a-b").is_ok());
        assert!(check_lab_name(&"a".repeat(40)).is_ok());
        assert!(
            check_lab_name(&"a".repeat(41))
                .unwrap_err()
                .contains("limit is 40")
        );
        assert!(check_lab_name("").is_err());
        assert!(check_lab_name("-lab").unwrap_err().contains("must start"));
        assert!(
            check_lab_name("my lab")
                .unwrap_err()
                .contains("contains ` `")
        );
        assert!(check_lab_name("lab/x").is_err());
    }

    #[test]
    fn node_names() {
        assert!(check_node_name("h1").is_ok());
        assert!(check_node_name(&"n".repeat(32)).is_ok());
        assert!(check_node_name(&"n".repeat(33)).is_err());
        assert!(check_node_name("r1:eth0").unwrap_err().contains("`:`"));
        assert!(check_node_name("_x").is_err());
    }

    #[test]
    fn iface_names() {
        assert_eq!(check_iface_name("eth0"), Ok(()));
        assert_eq!(check_iface_name("averyverylong15"), Ok(()));
        assert!(matches!(
            check_iface_name("averyveryverylongname0"),
            Err(IfaceProblem::TooLong(_))
        ));
        assert_eq!(check_iface_name("ifb"), Ok(()));
        assert_eq!(check_iface_name("ifb-1"), Ok(()));
        assert_eq!(check_iface_name("defaults"), Ok(()));
        for bad in [
            "", "lo", ".", "..", "a/b", "a b", "a:b", "a\tb", "all", "default", "ifb101", "ifb0",
            "eth%d", "sit0", "a\u{1}",
        ] {
            assert!(
                matches!(check_iface_name(bad), Err(IfaceProblem::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn sysctl_keys() {
        assert!(check_sysctl_key("net.ipv4.ip_forward").is_ok());
        assert!(check_sysctl_key("net.ipv4.conf.eth-1.rp_filter").is_ok());
        for bad in [
            "",
            ".net",
            "/net",
            "net",
            "net.",
            "net..x",
            "net.ipv4 x",
            "net;rm",
            "net/ipv4/ip_forward",
            "net.ipv4.conf.eth0/../../../kernel/x",
            "kernel.printk_ratelimit_burst",
            "vm.swappiness",
            "fs.file-max",
            "network.x",
        ] {
            assert!(check_sysctl_key(bad).is_err(), "{bad}");
        }
        assert!(
            check_sysctl_key("kernel.printk_ratelimit_burst")
                .unwrap_err()
                .contains("not a network sysctl")
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("h9", ["h1", "s1"]), Some("h1"));
        assert_eq!(
            did_you_mean("nodez", ["name", "nodes", "links"]),
            Some("nodes")
        );
        assert_eq!(did_you_mean("zzz", ["name", "nodes"]), None);
        assert_eq!(
            suggestion("stra", &["star", "tree"], "generators"),
            "did you mean `star`?"
        );
        assert_eq!(
            suggestion("qq", &["star", "tree"], "generators"),
            "generators: star, tree"
        );
    }
}
