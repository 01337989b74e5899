//! Fuzzing the agents' control channel (issue 13, `lab::remote`) in `cargo test`: random
//! bytes at the server's handshake, random bytes after a good handshake, and frames with a
//! valid tag but random or request-shaped payloads. The server must refuse or answer and
//! end the connection — never panic, never hang (every case's server returns once the
//! client is gone). `TOPOLAB_FUZZ_CASES=100000` runs longer locally.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use topolab::lab::remote::{self, MAGIC, Secret};

fn cases() -> u32 {
    std::env::var("TOPOLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// No supervisor listens here: relayed requests get an error answer.
fn no_supervisor() -> PathBuf {
    std::env::temp_dir().join(format!(
        "topolab-fuzz-remote-{}/control.sock",
        std::process::id()
    ))
}

/// A stream that reads `input` then end-of-file, and swallows writes.
struct Scripted(io::Cursor<Vec<u8>>);

impl Read for Scripted {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        self.0.read(b)
    }
}
impl Write for Scripted {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn serve(bytes: Vec<u8>, sock: &Path) {
    let _ = remote::serve_conn(Scripted(io::Cursor::new(bytes)), &Secret([7; 32]), sock);
}

#[test]
fn random_bytes_at_the_handshake_never_panic() {
    let sock = no_supervisor();
    runner()
        .run(&vec(any::<u8>(), 0..200), |bytes| {
            serve(bytes, &sock);
            Ok(())
        })
        .unwrap();
    // With the magic in front, the nonce and proof are random: always refused.
    runner()
        .run(&vec(any::<u8>(), 0..200), |bytes| {
            let mut b = MAGIC.to_vec();
            b.extend_from_slice(&bytes);
            let r = remote::serve_conn(Scripted(io::Cursor::new(b)), &Secret([7; 32]), &sock);
            prop_assert!(r.is_err());
            Ok(())
        })
        .unwrap();
}

/// What a client sends after a good handshake.
#[derive(Debug, Clone)]
enum After {
    /// Raw bytes on the wire (bad lengths, bad tags, torn frames).
    Raw(Vec<u8>),
    /// Frames with a valid tag and a random payload.
    Frames(Vec<Vec<u8>>),
    /// Frames with a valid tag and a JSON payload shaped like a request.
    Json(Vec<String>),
}

fn after() -> impl Strategy<Value = After> {
    let json = prop_oneof![
        Just(r#"{"op":"ping"}"#.to_string()),
        Just(r#"{"op":"inspect"}"#.to_string()),
        Just(r#"{"op":"link","a":"h1","b":"h2","action":"down"}"#.to_string()),
        Just(r#"{"op":"wait_ready","timeout_ms":18446744073709551615}"#.to_string()),
        "[a-z{}\":,0-9 ]{0,60}",
    ];
    prop_oneof![
        vec(any::<u8>(), 0..300).prop_map(After::Raw),
        vec(vec(any::<u8>(), 0..100), 0..4).prop_map(After::Frames),
        vec(json, 0..4).prop_map(After::Json),
    ]
}

#[test]
fn random_frames_after_a_good_handshake_never_panic() {
    let sock = no_supervisor();
    runner()
        .run(&after(), |what| {
            let (a, b) = UnixStream::pair().unwrap();
            let s = sock.clone();
            let server =
                std::thread::spawn(move || remote::serve_conn(b, &Secret([7; 32]), &s).is_ok());
            let mut ch = remote::connect(a, &Secret([7; 32])).unwrap();
            match what {
                After::Raw(bytes) => {
                    let mut w: &UnixStream = ch.get_ref();
                    let _ = w.write_all(&bytes);
                }
                After::Frames(frames) => {
                    for f in frames {
                        if ch.send(&f).is_err() {
                            break;
                        }
                    }
                }
                After::Json(lines) => {
                    for l in lines {
                        if ch.send(l.as_bytes()).is_err() {
                            break;
                        }
                        // A request the server understood is answered.
                        if ch.recv(remote::MAX_RESPONSE).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = ch.get_ref().shutdown(std::net::Shutdown::Both);
            drop(ch);
            prop_assert!(server.join().is_ok(), "the server panicked");
            Ok(())
        })
        .unwrap();
}
