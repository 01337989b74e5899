//! OPEN and its capabilities (RFC 4271 §4.2, RFC 5492).

use std::net::Ipv4Addr;

use super::model::*;
use super::wire::Rd;

/// Optional parameter type carrying capabilities (RFC 5492).
const PARAM_CAPABILITIES: u8 = 2;

fn open_err(subcode: u8, data: Vec<u8>) -> Notification {
    Notification::new(err::OPEN_MESSAGE, subcode, data)
}

/// The OPEN body (after the header); `body.len() >= 10` is checked by the caller.
pub(crate) fn parse_open(body: &[u8]) -> Result<Open, Notification> {
    let short = || open_err(err::open::UNSPECIFIC, Vec::new());
    let mut r = Rd::new(body);
    let version = r.u8().ok_or_else(short)?;
    if version != 4 {
        return Err(open_err(err::open::UNSUPPORTED_VERSION, vec![0, 4]));
    }
    let my_as = r.u16().ok_or_else(short)?;
    let hold_time = r.u16().ok_or_else(short)?;
    if hold_time == 1 || hold_time == 2 {
        return Err(open_err(err::open::UNACCEPTABLE_HOLD_TIME, Vec::new()));
    }
    let bgp_id = r.ipv4().ok_or_else(short)?;
    if bgp_id == Ipv4Addr::UNSPECIFIED {
        return Err(open_err(err::open::BAD_BGP_IDENTIFIER, Vec::new()));
    }
    let plen = r.u8().ok_or_else(short)?;
    if usize::from(plen) != r.remaining() {
        return Err(short());
    }
    let mut capabilities = Vec::new();
    while !r.is_empty() {
        let ptype = r.u8().ok_or_else(short)?;
        let len = r.u8().ok_or_else(short)?;
        let value = r.bytes(usize::from(len)).ok_or_else(short)?;
        if ptype != PARAM_CAPABILITIES {
            return Err(open_err(
                err::open::UNSUPPORTED_OPTIONAL_PARAMETER,
                Vec::new(),
            ));
        }
        parse_caps(value, &mut capabilities).ok_or_else(short)?;
    }
    Ok(Open {
        my_as,
        hold_time,
        bgp_id,
        capabilities,
    })
}

fn family(r: &mut Rd<'_>) -> Option<Family> {
    let afi = r.u16()?;
    let safi = r.u8()?;
    Some(Family { afi, safi })
}

fn parse_caps(buf: &[u8], out: &mut Vec<Capability>) -> Option<()> {
    let mut r = Rd::new(buf);
    while !r.is_empty() {
        let code = r.u8()?;
        let len = r.u8()?;
        let v = r.bytes(usize::from(len))?;
        let mut c = Rd::new(v);
        let fixed = |n: usize| (v.len() == n).then_some(());
        let cap = match code {
            cap::MULTIPROTOCOL => {
                fixed(4)?;
                let afi = c.u16()?;
                c.u8()?;
                let safi = c.u8()?;
                Capability::Multiprotocol(Family { afi, safi })
            }
            cap::ROUTE_REFRESH => fixed(0).map(|_| Capability::RouteRefresh)?,
            cap::ENHANCED_ROUTE_REFRESH => fixed(0).map(|_| Capability::EnhancedRouteRefresh)?,
            cap::EXTENDED_MESSAGE => fixed(0).map(|_| Capability::ExtendedMessage)?,
            cap::FOUR_OCTET_AS => {
                fixed(4)?;
                Capability::FourOctetAs(c.u32()?)
            }
            cap::GRACEFUL_RESTART => {
                let w = c.u16()?;
                if !c.remaining().is_multiple_of(4) {
                    return None;
                }
                let mut families = Vec::new();
                while !c.is_empty() {
                    let f = family(&mut c)?;
                    families.push((f, c.u8()?));
                }
                Capability::GracefulRestart(GracefulRestart {
                    flags: (w >> 12) as u8,
                    restart_time: w & 0x0fff,
                    families,
                })
            }
            cap::ADD_PATH => {
                if !v.len().is_multiple_of(4) {
                    return None;
                }
                let mut fams = Vec::new();
                while !c.is_empty() {
                    let f = family(&mut c)?;
                    fams.push((f, AddPathMode::from_u8(c.u8()?)?));
                }
                Capability::AddPath(fams)
            }
            code => Capability::Unknown {
                code,
                data: v.to_vec(),
            },
        };
        out.push(cap);
    }
    Some(())
}

pub(crate) fn emit_open(o: &Open, out: &mut Vec<u8>) {
    out.push(4);
    out.extend_from_slice(&o.my_as.to_be_bytes());
    out.extend_from_slice(&o.hold_time.to_be_bytes());
    out.extend_from_slice(&o.bgp_id.octets());
    let mut caps = Vec::new();
    for c in &o.capabilities {
        emit_cap(c, &mut caps);
    }
    if caps.is_empty() {
        out.push(0);
    } else {
        out.push((caps.len() + 2) as u8);
        out.push(PARAM_CAPABILITIES);
        out.push(caps.len() as u8);
        out.extend_from_slice(&caps);
    }
}

fn emit_cap(c: &Capability, out: &mut Vec<u8>) {
    let mut v = Vec::new();
    let code = match c {
        Capability::Multiprotocol(f) => {
            v.extend_from_slice(&f.afi.to_be_bytes());
            v.push(0);
            v.push(f.safi);
            cap::MULTIPROTOCOL
        }
        Capability::RouteRefresh => cap::ROUTE_REFRESH,
        Capability::EnhancedRouteRefresh => cap::ENHANCED_ROUTE_REFRESH,
        Capability::ExtendedMessage => cap::EXTENDED_MESSAGE,
        Capability::FourOctetAs(a) => {
            v.extend_from_slice(&a.to_be_bytes());
            cap::FOUR_OCTET_AS
        }
        Capability::GracefulRestart(g) => {
            let w = (u16::from(g.flags & 0x0f) << 12) | (g.restart_time & 0x0fff);
            v.extend_from_slice(&w.to_be_bytes());
            for (f, fl) in &g.families {
                v.extend_from_slice(&f.afi.to_be_bytes());
                v.push(f.safi);
                v.push(*fl);
            }
            cap::GRACEFUL_RESTART
        }
        Capability::AddPath(fams) => {
            for (f, m) in fams {
                v.extend_from_slice(&f.afi.to_be_bytes());
                v.push(f.safi);
                v.push(m.to_u8());
            }
            cap::ADD_PATH
        }
        Capability::Unknown { code, data } => {
            v.extend_from_slice(data);
            *code
        }
    };
    out.push(code);
    out.push(v.len() as u8);
    out.extend_from_slice(&v);
}
