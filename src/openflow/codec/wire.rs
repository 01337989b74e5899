//! Bounds-checked big-endian reading and the writing helpers every encoder uses.

use super::model::{DecodeError, ErrorType};

/// A cursor over bytes; a read past the end is the error given at construction (each
/// structure's own BAD_LEN).
pub(crate) struct Rd<'a> {
    buf: &'a [u8],
    pos: usize,
    kind: ErrorType,
    code: u16,
    what: &'static str,
}

impl<'a> Rd<'a> {
    pub(crate) fn new(buf: &'a [u8], kind: ErrorType, code: u16, what: &'static str) -> Rd<'a> {
        Rd {
            buf,
            pos: 0,
            kind,
            code,
            what,
        }
    }

    pub(crate) fn short(&self) -> DecodeError {
        DecodeError::new(self.kind, self.code, self.what)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.short());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.bytes(n).map(|_| ())
    }

    pub(crate) fn arr<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.arr::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.arr()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.arr()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.arr()?))
    }
}

pub(crate) fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_zeros(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, 0);
}

/// Pads with zeros so that `out.len() - start` is a multiple of 8.
pub(crate) fn pad8(out: &mut Vec<u8>, start: usize) {
    let n = (out.len() - start).next_multiple_of(8) - (out.len() - start);
    put_zeros(out, n);
}

/// Writes `out.len() - start` as the u16 at `at` (a length field written as 0 before).
pub(crate) fn patch_len(out: &mut [u8], at: usize, start: usize) {
    let len = out.len() - start;
    debug_assert!(len <= 0xffff, "OpenFlow structure longer than 65535 bytes");
    out[at..at + 2].copy_from_slice(&(len as u16).to_be_bytes());
}

/// A fixed-width NUL-padded string field (`name`, `mfr_desc`, …): at most `width - 1`
/// bytes are written, cut at a character boundary.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str, width: usize) {
    let mut n = s.len().min(width - 1);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out.extend_from_slice(&s.as_bytes()[..n]);
    put_zeros(out, width - n);
}

/// Reads a fixed-width NUL-padded string field (bytes up to the first NUL, at most
/// `width - 1`). Invalid UTF-8
/// becomes `?` byte for byte, so that the string still fits its field when emitted again.
pub(crate) fn get_str(rd: &mut Rd<'_>, width: usize) -> Result<String, DecodeError> {
    let b = rd.bytes(width)?;
    // The field is NUL-terminated: its last byte is never part of the string.
    let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(width - 1)];
    Ok(match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => b
            .iter()
            .map(|&c| if c.is_ascii() { c as char } else { '?' })
            .collect(),
    })
}
