//! Packet capture into a pcap file, written by topolab itself (no tcpdump): an AF_PACKET
//! socket bound to one interface inside a node's namespace, both directions, full frames.
//!
//! The file is classic pcap with nanosecond timestamps (magic `a1b23c4d`), link type
//! Ethernet, which Wireshark and tcpdump read. Frames are what the interface sees: with
//! offloads on, TCP may appear as 64 KB super-frames, exactly as tcpdump would show them.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::socket_in;

const SNAPLEN: u32 = 262_144;

/// A running capture; `stop` (or drop) ends it and flushes the file.
pub struct Capture {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

fn pcap_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes()); // nanosecond pcap
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    h
}

fn record_header(ts_ns: u128, len: usize) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&((ts_ns / 1_000_000_000) as u32).to_le_bytes());
    h[4..8].copy_from_slice(&((ts_ns % 1_000_000_000) as u32).to_le_bytes());
    h[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    h[12..16].copy_from_slice(&(len as u32).to_le_bytes());
    h
}

impl Capture {
    /// Starts capturing on `ifname` in namespace `ns` into `path`.
    pub fn start(ns: &str, ifname: &str, path: &Path) -> io::Result<Capture> {
        let name = ifname.to_string();
        let sock = socket_in(ns, move || {
            let ifindex = nix::net::if_::if_nametoindex(name.as_str()).map_err(|e| {
                io::Error::new(
                    io::Error::from(e).kind(),
                    format!("capture on `{name}`: {e}"),
                )
            })?;
            let proto = (libc::ETH_P_ALL as u16).to_be();
            let s = Socket::new(
                Domain::PACKET,
                Type::RAW,
                Some(Protocol::from(i32::from(proto))),
            )?;
            // SAFETY: sockaddr_ll is plain data, zeroed then filled.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = ifindex as i32;
            // SAFETY: the storage holds a valid sockaddr_ll of the stated length.
            let addr = unsafe {
                SockAddr::try_init(|storage, len| {
                    std::ptr::copy_nonoverlapping(
                        (&sll as *const libc::sockaddr_ll).cast::<u8>(),
                        storage.cast::<u8>(),
                        std::mem::size_of::<libc::sockaddr_ll>(),
                    );
                    *len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                    Ok(())
                })?
                .1
            };
            s.bind(&addr)?;
            Ok(s)
        })?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let _ = sock.set_recv_buffer_size(8 << 20);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(&pcap_header())?;
        let stop = Arc::new(AtomicBool::new(false));
        let frames = Arc::new(AtomicU64::new(0));
        let (st, fr) = (stop.clone(), frames.clone());
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let mut buf = vec![MaybeUninit::<u8>::uninit(); SNAPLEN as usize];
                while !st.load(Ordering::Relaxed) {
                    match sock.recv(&mut buf) {
                        Ok(n) => {
                            let ts = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map(|d| d.as_nanos())
                                .unwrap_or(0);
                            // SAFETY: recv initialized the first n bytes.
                            let frame: &[u8] =
                                unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) };
                            out.write_all(&record_header(ts, n))?;
                            out.write_all(frame)?;
                            fr.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e)
                            if e.kind() == io::ErrorKind::WouldBlock
                                || e.kind() == io::ErrorKind::TimedOut => {}
                        Err(e) => return Err(e),
                    }
                }
                out.flush()
            })?;
        Ok(Capture {
            path: path.to_path_buf(),
            stop,
            frames,
            thread: Some(thread),
        })
    }

    /// Ends the capture; returns the file and how many frames it holds.
    pub fn stop(mut self) -> io::Result<(PathBuf, u64)> {
        self.finish()?;
        Ok((self.path.clone(), self.frames.load(Ordering::Relaxed)))
    }

    fn finish(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("capture thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_headers() {
        let h = pcap_header();
        assert_eq!(&h[0..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(h[20..24].try_into().unwrap()), 1);
        let r = record_header(1_500_000_000_123, 60);
        assert_eq!(u32::from_le_bytes(r[0..4].try_into().unwrap()), 1500);
        assert_eq!(u32::from_le_bytes(r[4..8].try_into().unwrap()), 123);
        assert_eq!(u32::from_le_bytes(r[8..12].try_into().unwrap()), 60);
    }
}
