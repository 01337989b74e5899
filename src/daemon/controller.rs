//! The `controller` daemon: the OpenFlow controller core under a tokio driver.
//!
//! ```text
//!  switch ──TCP──▶ connection task ──frames──▶ ┌──────────────────────┐
//!  switch ──TCP──▶ connection task ──frames──▶ │ Shared: Controller    │──emit──▶ per-connection
//!          timer (1 s) ──handle_timeout──────▶ │ + output buffers      │          output buffers
//!  control socket ──switches view────────────▶ └──────────────────────┘
//! ```
//! `topolab daemon controller --control SOCK --config PLAN.json`: the plan is the compiled
//! [`ControllerPlan`] (app, listen port, topology view) written by the supervisor. It
//! listens on every address of its namespace (`[::]`, IPv4 mapped) on the plan's port; it
//! is ready once listening. Its control socket answers `{"op":"openflow","view":"switches"}`
//! with the core's [`Controller::switches_json`].
//!
//! Throughput (`topolab bench openflow`): each connection task reads up to
//! [`READ_BUF`] bytes at once, feeds every complete message of that burst to the core under
//! one lock, emits everything the core queued straight into the connections' output
//! buffers, and writes its own buffer with one `write` — never one syscall per message.
//! Output for another connection (a shortest-path recompute) wakes that connection's task.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use socket2::{Protocol, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::{DaemonArgs, DaemonKind, Describe, Status};
use crate::openflow::codec;
use crate::openflow::controller::{App, ConnId, Controller, ControllerPlan, Transmit};
use crate::time::Instant;

/// Bytes read from a switch at once (an OpenFlow message is at most 64 KiB).
pub const READ_BUF: usize = 256 * 1024;
/// Output queued for a switch that does not read: beyond this it is disconnected.
pub const MAX_PENDING: usize = 64 << 20;

struct ConnOut {
    buf: Vec<u8>,
    close: bool,
    wake: Arc<Notify>,
}

struct Shared {
    core: Controller,
    outs: HashMap<ConnId, ConnOut>,
    connections: u64,
}

impl Shared {
    /// Moves everything the core queued into the connections' buffers; wakes the tasks
    /// of connections other than `me` (the caller flushes its own).
    fn dispatch(&mut self, me: Option<ConnId>) {
        while let Some(t) = self.core.poll_transmit() {
            let (conn, msg) = match t {
                Transmit::Message { conn, msg } => (conn, Some(msg)),
                Transmit::Close { conn } => (conn, None),
            };
            let Some(o) = self.outs.get_mut(&conn) else {
                continue;
            };
            match msg {
                Some(msg) => codec::emit(&msg, &mut o.buf),
                None => o.close = true,
            }
            if o.buf.len() > MAX_PENDING {
                o.close = true;
            }
            if Some(conn) != me {
                o.wake.notify_one();
            }
        }
    }
}

struct Daemon {
    ready: AtomicBool,
    shared: Mutex<Shared>,
}

impl Daemon {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Describe for Daemon {
    fn status(&self) -> Status {
        let s = self.lock();
        Status {
            kind: DaemonKind::Controller,
            pid: std::process::id(),
            ready: self.ready.load(Ordering::Relaxed),
            detail: json!({
                "switches": s.core.switches_ready(),
                "connections": s.connections,
            }),
        }
    }

    fn openflow(&self, view: &str) -> Option<Value> {
        (view == "switches").then(|| self.lock().core.switches_json(Instant::monotonic()))
    }
}

pub async fn run(args: &DaemonArgs) -> io::Result<()> {
    let plan: ControllerPlan = super::read_config(args)?;
    let me = Arc::new(Daemon {
        ready: AtomicBool::new(false),
        shared: Mutex::new(Shared {
            core: Controller::new(App::from_plan(&plan), Instant::monotonic()),
            outs: HashMap::new(),
            connections: 0,
        }),
    });
    let sock = match plan.bind {
        // One address only (the bench's controller on the machine's loopback).
        Some(ip) => {
            let s = socket2::Socket::new(
                socket2::Domain::for_address(SocketAddr::new(ip, plan.listen)),
                Type::STREAM,
                Some(Protocol::TCP),
            )?;
            s.set_reuse_address(true)?;
            s.bind(&SocketAddr::new(ip, plan.listen).into())?;
            s.set_nonblocking(true)?;
            s
        }
        None => super::echo::bind(plan.listen, Type::STREAM, Protocol::TCP)?,
    };
    sock.listen(1024)?;
    let listener = TcpListener::from_std(sock.into())?;
    me.ready.store(true, Ordering::Relaxed);

    let control = super::serve_control(&args.control, me.clone());
    let timer = {
        let me = me.clone();
        async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                let now = Instant::monotonic();
                let mut s = me.lock();
                if s.core.poll_timeout().is_some_and(|t| t <= now) {
                    s.core.handle_timeout(now);
                    s.dispatch(None);
                }
            }
        }
    };
    let accept = async {
        let mut next: ConnId = 0;
        loop {
            let (stream, peer) = listener.accept().await?;
            next += 1;
            tokio::spawn(serve_switch(me.clone(), next, stream, peer));
        }
        #[allow(unreachable_code)]
        Ok::<(), io::Error>(())
    };
    tokio::select! {
        r = control => r,
        r = accept => r,
        _ = timer => Ok(()),
    }
}

/// One switch connection, until either side closes it.
async fn serve_switch(me: Arc<Daemon>, id: ConnId, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let wake = Arc::new(Notify::new());
    {
        let mut s = me.lock();
        s.connections += 1;
        s.outs.insert(
            id,
            ConnOut {
                buf: Vec::new(),
                close: false,
                wake: wake.clone(),
            },
        );
        s.core.connection_up(Instant::monotonic(), id, Some(peer));
        s.dispatch(Some(id));
    }
    let _ = pump(&me, id, stream, &wake).await;
    let mut s = me.lock();
    s.outs.remove(&id);
    s.core.connection_down(Instant::monotonic(), id);
    s.dispatch(None);
}

async fn pump(me: &Daemon, id: ConnId, stream: TcpStream, wake: &Notify) -> io::Result<()> {
    let (mut r, mut w) = stream.into_split();
    let mut inbuf = vec![0u8; READ_BUF];
    let mut have = 0;
    let mut outbuf = Vec::new();
    loop {
        let close = {
            let mut s = me.lock();
            let Some(o) = s.outs.get_mut(&id) else {
                return Ok(());
            };
            std::mem::swap(&mut o.buf, &mut outbuf);
            o.close
        };
        if !outbuf.is_empty() {
            w.write_all(&outbuf).await?;
            outbuf.clear();
        }
        if close {
            return Ok(());
        }
        tokio::select! {
            n = r.read(&mut inbuf[have..]) => {
                let n = n?;
                if n == 0 {
                    return Ok(());
                }
                have += n;
                let used = feed(me, id, &inbuf[..have]);
                inbuf.copy_within(used..have, 0);
                have -= used;
            }
            _ = wake.notified() => {}
        }
    }
}

/// Hands every complete message in `buf` to the core; returns the bytes consumed.
fn feed(me: &Daemon, id: ConnId, buf: &[u8]) -> usize {
    let now = Instant::monotonic();
    let mut s = me.lock();
    let mut off = 0;
    loop {
        match codec::frame_len(&buf[off..]) {
            Ok(Some(len)) if off + len <= buf.len() => {
                let frame = &buf[off..off + len];
                match codec::parse(frame) {
                    Ok(msg) => s.core.handle_message(now, id, msg),
                    Err(e) => s.core.handle_decode_error(now, id, &e, frame),
                }
                off += len;
            }
            Ok(_) => break,
            Err(e) => {
                // A length below the header's: the stream cannot be resynchronized.
                s.core.handle_decode_error(now, id, &e, &buf[off..]);
                if let Some(o) = s.outs.get_mut(&id) {
                    o.close = true;
                }
                off = buf.len();
                break;
            }
        }
    }
    s.dispatch(Some(id));
    off
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::{Request, Response, call};
    use crate::openflow::codec::{
        Body, Match, Message, NO_BUFFER, OxmField, PacketIn, SwitchFeatures,
    };
    use std::io::{Read, Write};
    use std::time::Duration;

    fn send(s: &mut std::net::TcpStream, body: Body) {
        let mut b = Vec::new();
        codec::emit(&Message { xid: 1, body }, &mut b);
        s.write_all(&b).unwrap();
    }

    fn recv(s: &mut std::net::TcpStream, buf: &mut Vec<u8>) -> Body {
        loop {
            if let Ok(Some(n)) = codec::frame_len(buf)
                && buf.len() >= n
            {
                let m = codec::parse(&buf[..n]).unwrap();
                buf.drain(..n);
                return m.body;
            }
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "the controller closed the connection");
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn packet_in(in_port: u32, dst: u8, src: u8) -> Body {
        let mut data = vec![2, 0, 0, 0, 0, dst, 2, 0, 0, 0, 0, src, 8, 0];
        data.resize(60, 0);
        Body::PacketIn(PacketIn {
            buffer_id: NO_BUFFER,
            total_len: 60,
            reason: 0,
            table_id: 0,
            cookie: 0,
            r#match: Match {
                fields: vec![OxmField::InPort(in_port)],
            },
            data,
        })
    }

    /// The daemon on loopback with the learning app: a switch handshakes, its PACKET_INs
    /// (two in one write) are answered, and the switches view shows it.
    #[test]
    fn drives_a_switch_and_shows_it() {
        let dir = std::env::temp_dir().join(format!("tl-ofctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let control = dir.join("c.sock");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.join("plan.json");
        let plan = json!({"app": "learning", "listen": port, "topology": {"switches": []}});
        std::fs::write(&config, plan.to_string()).unwrap();
        let args = DaemonArgs {
            control: control.clone(),
            port: 0,
            config: Some(config),
        };
        std::thread::spawn(move || crate::daemon::run(DaemonKind::Controller, args));
        (0..200)
            .find(|_| {
                std::thread::sleep(Duration::from_millis(10));
                matches!(call(&control, &Request::Status, Duration::from_secs(2)),
                    Ok(Response::Status(s)) if s.ready)
            })
            .expect("the daemon became ready");

        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        assert!(matches!(recv(&mut s, &mut buf), Body::Hello { .. }));
        send(&mut s, Body::Hello { versions: None });
        assert_eq!(recv(&mut s, &mut buf), Body::FeaturesRequest);
        send(
            &mut s,
            Body::FeaturesReply(SwitchFeatures {
                datapath_id: 0x42,
                n_buffers: 0,
                n_tables: 1,
                auxiliary_id: 0,
                capabilities: 0,
            }),
        );
        assert!(matches!(recv(&mut s, &mut buf), Body::MultipartRequest(_)));
        assert!(matches!(recv(&mut s, &mut buf), Body::FlowMod(f) if f.priority == 0));

        let mut both = Vec::new();
        codec::emit(
            &Message {
                xid: 2,
                body: packet_in(1, 0xb, 0xa),
            },
            &mut both,
        );
        codec::emit(
            &Message {
                xid: 3,
                body: packet_in(2, 0xa, 0xb),
            },
            &mut both,
        );
        s.write_all(&both).unwrap();
        assert!(matches!(recv(&mut s, &mut buf), Body::PacketOut(_)));
        assert!(matches!(recv(&mut s, &mut buf), Body::FlowMod(f) if f.priority == 1));
        assert!(matches!(recv(&mut s, &mut buf), Body::PacketOut(_)));

        let view = Request::Openflow {
            view: "switches".into(),
        };
        let Ok(Response::Openflow { data, .. }) = call(&control, &view, Duration::from_secs(2))
        else {
            panic!("no view")
        };
        assert_eq!(data[0]["dpid"], "0000000000000042");
        assert_eq!(data[0]["packet_ins"], 2);
        assert!(data[0]["peer"].as_str().unwrap().contains("127.0.0.1"));
        let flows = Request::Openflow {
            view: "flows".into(),
        };
        assert!(matches!(
            call(&control, &flows, Duration::from_secs(2)),
            Ok(Response::Error { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
