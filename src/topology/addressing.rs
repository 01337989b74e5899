//! Address pools (`addressing:`) and explicit address parsing.
//!
//! Six pools, two per use (LAN segments, point-to-point links, router loopbacks) times two
//! families. Each unset pool takes its default; each set one must be a network of the
//! right family without host bits, and its carve prefix must fit inside it. Pools of one
//! family must be disjoint (compile carves them independently, so an overlap would hand
//! out one address twice). Running out of room in a pool is compile's to report.

use ipnet::IpNet;

use super::check::Ctx;
use super::error::{ErrorKind, TopologyError};
use super::model::{Addressing, Pool, Span};
use super::spec::{AddressingSpec, PoolSpec, span};
use serde_saphyr::Spanned;

/// The defaults: (key, pool, carve prefix).
const DEFAULTS: [(&str, &str, u8); 6] = [
    ("lan4", "10.0.0.0/8", 24),
    ("p2p4", "172.16.0.0/12", 30),
    ("loopback4", "192.168.255.0/24", 32),
    ("lan6", "fd00:0:1::/48", 64),
    ("p2p6", "fd00:0:2::/48", 64),
    ("loopback6", "fd00:0:ff::/64", 128),
];

/// Checks `addressing:` (absent means all defaults).
pub fn check(spec: Option<&AddressingSpec>, ctx: &Ctx<'_>) -> Result<Addressing, TopologyError> {
    let empty = AddressingSpec::default();
    let spec = spec.unwrap_or(&empty);
    let written = [
        &spec.lan4,
        &spec.p2p4,
        &spec.loopback4,
        &spec.lan6,
        &spec.p2p6,
        &spec.loopback6,
    ];
    let mut pools = Vec::with_capacity(6);
    for ((key, default, prefix), given) in DEFAULTS.iter().zip(written) {
        let pool = match given {
            Some(given) => pool(key, given, *prefix, ctx)?,
            None => Pool {
                net: default.parse().expect("default pool"),
                prefix: *prefix,
                span: Span::default(),
            },
        };
        pools.push((*key, pool));
    }
    for family in [&pools[..3], &pools[3..]] {
        check_disjoint(family, ctx)?;
    }
    let mut take = pools.into_iter().map(|(_, p)| p);
    let mut next = || take.next().expect("six pools");
    let (lan4, p2p4, loopback4, lan6, p2p6, loopback6) =
        (next(), next(), next(), next(), next(), next());
    Ok(Addressing {
        ipv4: spec.ipv4.unwrap_or(true),
        ipv6: spec.ipv6.unwrap_or(true),
        lan4,
        lan6,
        p2p4,
        p2p6,
        loopback4,
        loopback6,
    })
}

fn pool(
    key: &str,
    given: &Spanned<PoolSpec>,
    default_prefix: u8,
    ctx: &Ctx<'_>,
) -> Result<Pool, TopologyError> {
    let (text, at, prefix) = match &given.value {
        PoolSpec::Short(text) => (text.as_str(), span(given), None),
        PoolSpec::Long(long) => (
            long.pool.value.as_str(),
            span(&long.pool),
            long.prefix.as_ref(),
        ),
    };
    let v4 = key.ends_with('4');
    let family = if v4 { "IPv4" } else { "IPv6" };
    let net: IpNet = text.trim().parse().map_err(|_| {
        ctx.error(
            ErrorKind::BadAddress,
            at,
            format!("bad CIDR `{text}` for `{key}`"),
        )
        .with_help(format!(
            "write a network in CIDR notation, like `{}`",
            example(key)
        ))
    })?;
    if matches!(net, IpNet::V4(_)) != v4 {
        return Err(ctx
            .error(
                ErrorKind::BadAddress,
                at,
                format!("`{key}` must be an {family} pool, not `{net}`"),
            )
            .with_help(format!("like `{}`", example(key))));
    }
    if net.trunc() != net {
        return Err(ctx
            .error(
                ErrorKind::BadAddress,
                at,
                format!("pool `{net}` has host bits set"),
            )
            .with_help(format!("did you mean `{}`?", net.trunc())));
    }
    let max = net.max_prefix_len();
    let carve = match prefix {
        Some(p) => {
            let value = u8::try_from(p.value)
                .ok()
                .filter(|v| *v <= max && *v >= net.prefix_len());
            value.ok_or_else(|| {
                ctx.error(
                    ErrorKind::BadValue,
                    span(p),
                    format!("prefix /{} does not fit pool `{net}`", p.value),
                )
                .with_help(format!(
                    "use a prefix between /{} and /{max}",
                    net.prefix_len()
                ))
            })?
        }
        None if default_prefix < net.prefix_len() => {
            return Err(ctx
                .error(
                    ErrorKind::BadValue,
                    at,
                    format!("pool `{net}` is smaller than one /{default_prefix} subnet of `{key}`"),
                )
                .with_help(format!(
                    "use a pool of /{default_prefix} or larger, or set a prefix: `{{pool: {net}, prefix: {}}}`",
                    net.prefix_len()
                )));
        }
        None => default_prefix,
    };
    Ok(Pool {
        net,
        prefix: carve,
        span: at,
    })
}

fn example(key: &str) -> &'static str {
    DEFAULTS
        .iter()
        .find(|d| d.0 == key)
        .map_or("10.0.0.0/8", |d| d.1)
}

fn check_disjoint(pools: &[(&str, Pool)], ctx: &Ctx<'_>) -> Result<(), TopologyError> {
    for (j, (key_b, b)) in pools.iter().enumerate() {
        for (key_a, a) in &pools[..j] {
            if !(a.net.contains(&b.net.network()) || b.net.contains(&a.net.network())) {
                continue;
            }
            // Point at one the user wrote: the later one when both were.
            let (this_key, this, other_key, other) = if b.span.line > 0 {
                (key_b, b, key_a, a)
            } else {
                (key_a, a, key_b, b)
            };
            let default_note = if other.span.line == 0 {
                " (its default)"
            } else {
                ""
            };
            return Err(ctx
                .error(
                    ErrorKind::OverlappingSubnets,
                    this.span,
                    format!(
                        "pool `{this_key}` ({}) overlaps `{other_key}` ({}){default_note}",
                        this.net, other.net
                    ),
                )
                .with_help("pools of one family must not overlap; move one of them"));
        }
    }
    Ok(())
}

/// An explicit interface address: CIDR notation with a prefix length, not the network
/// or broadcast address of an IPv4 subnet shorter than /31. The error is the hint.
pub fn parse_iface_addr(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    let net: IpNet = match text.parse() {
        Ok(net) => net,
        Err(_) if text.parse::<std::net::IpAddr>().is_ok() => {
            return Err(format!(
                "add a prefix length, like `{text}/24` or `{text}/64`"
            ));
        }
        Err(_) => {
            return Err(
                "write an address with a prefix length, like `10.0.0.1/24` or `fd00::1/64`".into(),
            );
        }
    };
    if let IpNet::V4(v4) = net
        && v4.prefix_len() < 31
    {
        if v4.addr() == v4.network() {
            return Err(format!(
                "`{text}` is the subnet's network address; use a host address"
            ));
        }
        if v4.addr() == v4.broadcast() {
            return Err(format!(
                "`{text}` is the subnet's broadcast address; use a host address"
            ));
        }
    }
    Ok(net)
}

/// A loopback address: CIDR, or a bare address meaning a host route (/32 or /128).
pub fn parse_host_or_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net);
    }
    match text.parse::<std::net::IpAddr>() {
        Ok(addr) => Ok(IpNet::from(addr)),
        Err(_) => Err("write an address like `10.255.0.1/32` or `fd00:ff::1/128`".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iface_addresses() {
        assert_eq!(
            parse_iface_addr("10.9.9.1/30").unwrap().to_string(),
            "10.9.9.1/30"
        );
        assert!(parse_iface_addr("10.9.9.0/31").is_ok());
        assert!(parse_iface_addr("fd00:9::1/64").is_ok());
        assert!(
            parse_iface_addr("10.9.9.1")
                .unwrap_err()
                .contains("prefix length")
        );
        assert!(
            parse_iface_addr("10.9.9.0/30")
                .unwrap_err()
                .contains("network address")
        );
        assert!(
            parse_iface_addr("10.9.9.3/30")
                .unwrap_err()
                .contains("broadcast")
        );
        assert!(parse_iface_addr("10.0.0.300/24").is_err());
    }

    #[test]
    fn loopback_addresses() {
        assert_eq!(
            parse_host_or_net("10.255.0.1").unwrap().to_string(),
            "10.255.0.1/32"
        );
        assert_eq!(
            parse_host_or_net("fd00:ff::1").unwrap().to_string(),
            "fd00:ff::1/128"
        );
        assert!(parse_host_or_net("10.255.0.1/32").is_ok());
        assert!(parse_host_or_net("nope").is_err());
    }

    #[test]
    fn defaults_are_disjoint_and_valid() {
        for (_, net, prefix) in DEFAULTS {
            let net: IpNet = net.parse().unwrap();
            assert_eq!(net, net.trunc());
            assert!(prefix >= net.prefix_len() && prefix <= net.max_prefix_len());
        }
    }
}
