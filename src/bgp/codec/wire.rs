//! A bounds-checked big-endian cursor (reads return None past the end) and NLRI prefixes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::model::Nlri;

pub(crate) struct Rd<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Rd<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Rd<'a> {
        Rd { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.remaining() {
            return None;
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Some(s)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    pub(crate) fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Some(a)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.arr::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.arr()?))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.arr()?))
    }

    pub(crate) fn ipv4(&mut self) -> Option<Ipv4Addr> {
        Some(Ipv4Addr::from(self.arr::<4>()?))
    }

    pub(crate) fn ipv6(&mut self) -> Option<Ipv6Addr> {
        Some(Ipv6Addr::from(self.arr::<16>()?))
    }
}

/// Patches the big-endian u16 at `at` to the length of `out` from `from`.
pub(crate) fn patch_u16(out: &mut [u8], at: usize, len: usize) {
    out[at..at + 2].copy_from_slice(&(len as u16).to_be_bytes());
}

/// Parses a run of prefixes (RFC 4271 §4.3 / RFC 4760 §5, with RFC 7911 path ids); None
/// when one overruns or has a length beyond the address size.
pub(crate) fn parse_prefixes(buf: &[u8], v6: bool, add_path: bool) -> Option<Vec<Nlri>> {
    let mut r = Rd::new(buf);
    let mut out = Vec::new();
    let max = if v6 { 128 } else { 32 };
    while !r.is_empty() {
        let path_id = if add_path { Some(r.u32()?) } else { None };
        let len = r.u8()?;
        if len > max {
            return None;
        }
        let bytes = r.bytes(usize::from(len).div_ceil(8))?;
        let prefix = if v6 {
            let mut a = [0u8; 16];
            a[..bytes.len()].copy_from_slice(bytes);
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), len).ok()?)
        } else {
            let mut a = [0u8; 4];
            a[..bytes.len()].copy_from_slice(bytes);
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), len).ok()?)
        };
        out.push(Nlri { path_id, prefix });
    }
    Some(out)
}

/// Writes prefixes; a path id (0 when the NLRI has none) when `add_path`.
pub(crate) fn emit_prefixes(nlri: &[Nlri], add_path: bool, out: &mut Vec<u8>) {
    for n in nlri {
        if add_path {
            out.extend_from_slice(&n.path_id.unwrap_or(0).to_be_bytes());
        }
        let len = n.prefix.prefix_len();
        out.push(len);
        let octets = match n.prefix.addr() {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        out.extend_from_slice(&octets[..usize::from(len).div_ceil(8)]);
    }
}
