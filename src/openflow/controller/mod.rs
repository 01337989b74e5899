//! The OpenFlow 1.3 controller core: many switch connections, one app.
//!
//! ```text
//!  driver (daemon/controller.rs)            Controller (this module: no I/O, no clock)
//!  TCP accept ──connection_up(now, conn)──▶ HELLO ─▶ (their HELLO) ─▶ FEATURES_REQUEST
//!  frame_len + parse ──handle_message────▶  FEATURES_REPLY ─▶ PORT_DESC request, app.switch_ready
//!                                           PACKET_IN / PORT_STATUS ─▶ the app
//!  write ◀──────── poll_transmit() ◀──────  queued messages (FLOW_MOD, PACKET_OUT, …), Close
//!  timer ──handle_timeout(now)──────────▶   ECHO_REQUEST when idle; Close when silent
//! ```
//!
//! A connection goes through three phases: `Hello` (our HELLO sent, theirs awaited),
//! `Features` (FEATURES_REQUEST sent) and `Ready` (datapath id known; the app is told).
//! A second connection that reports a datapath id already connected replaces the first
//! (the old one is closed), as Ryu does. Echo: every message received counts as life; after
//! [`ECHO_INTERVAL`] of silence we send an ECHO_REQUEST, after [`IDLE_TIMEOUT`] the
//! connection is closed. Errors received are counted and the last few kept for the
//! `switches` view (the core never prints).
//!
//! The apps react to typed events (switch ready, packet-in, port change, switch gone) and
//! queue messages; each is its own module: [`hub`], [`learning`], [`shortest_path`].

pub mod hub;
pub mod learning;
pub mod proxy;
pub mod shortest_path;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::openflow::codec::{
    Action, Body, DecodeError, ErrorMsg, ErrorType, FlowMod, FlowModCommand, Instruction, Match,
    Message, MpReply, MpRequest, MultipartRequest, NO_BUFFER, OFP_VERSION, OxmField, Port,
    PortStatus, SwitchFeatures, controller_max_len, group, hello_compatible, hello_failed,
    port_config, port_no, port_reason, port_state, table,
};
use crate::time::{Duration, Instant};

pub use crate::compile::{ControllerApp, ControllerPlan, Neighbour, SwitchView, TopologyView};

/// A connection, named by the driver.
pub type ConnId = u64;

/// Silence after which we send an ECHO_REQUEST.
pub const ECHO_INTERVAL: Duration = Duration::from_secs(5);
/// Silence after which a switch is dropped (also the limit for the handshake).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Errors kept per switch for the view.
const ERRORS_KEPT: usize = 8;

/// Which app runs.
#[derive(Debug, Clone)]
pub enum App {
    Hub,
    Learning,
    ShortestPath(TopologyView),
}

impl App {
    /// The app of a compiled plan.
    pub fn from_plan(plan: &ControllerPlan) -> App {
        match plan.app {
            ControllerApp::Hub => App::Hub,
            ControllerApp::Learning => App::Learning,
            ControllerApp::ShortestPath => App::ShortestPath(plan.topology.clone()),
        }
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Transmit {
    Message { conn: ConnId, msg: Message },
    Close { conn: ConnId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Hello,
    Features,
    Ready,
}

/// Per-switch counters, shown in the view.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub packet_ins: u64,
    pub flow_mods: u64,
    pub packet_outs: u64,
    pub errors: u64,
    pub echo_requests: u64,
}

struct Conn {
    phase: Phase,
    peer: Option<SocketAddr>,
    since: Instant,
    last_rx: Instant,
    echo_sent: bool,
    features: Option<SwitchFeatures>,
    ports: BTreeMap<u32, Port>,
    counters: Counters,
    errors: VecDeque<ErrorMsg>,
}

/// The apps' way out: queued messages plus the xid counter.
pub struct Out {
    queue: VecDeque<Transmit>,
    next_xid: u32,
}

impl Out {
    fn xid(&mut self) -> u32 {
        self.next_xid = self.next_xid.wrapping_add(1);
        self.next_xid
    }

    /// Queues `body` to `conn` with a fresh xid.
    pub fn send(&mut self, conn: ConnId, body: Body) {
        let xid = self.xid();
        self.queue.push_back(Transmit::Message {
            conn,
            msg: Message { xid, body },
        });
    }
}

enum AppState {
    Hub,
    Learning(learning::Learning),
    ShortestPath(Box<shortest_path::ShortestPath>),
}

/// Port liveness as the switch reports it (config PORT_DOWN or state LINK_DOWN: down).
pub fn port_is_up(p: &Port) -> bool {
    p.config & port_config::PORT_DOWN == 0 && p.state & port_state::LINK_DOWN == 0
}

pub struct Controller {
    app: AppState,
    conns: BTreeMap<ConnId, Conn>,
    by_dpid: BTreeMap<u64, ConnId>,
    out: Out,
}

impl Controller {
    pub fn new(app: App, _now: Instant) -> Self {
        let app = match app {
            App::Hub => AppState::Hub,
            App::Learning => AppState::Learning(learning::Learning::default()),
            App::ShortestPath(view) => {
                AppState::ShortestPath(Box::new(shortest_path::ShortestPath::new(&view)))
            }
        };
        Controller {
            app,
            conns: BTreeMap::new(),
            by_dpid: BTreeMap::new(),
            out: Out {
                queue: VecDeque::new(),
                next_xid: 0,
            },
        }
    }

    /// A switch connected (TCP accepted): we say HELLO.
    pub fn connection_up(&mut self, now: Instant, conn: ConnId, peer: Option<SocketAddr>) {
        self.conns.insert(
            conn,
            Conn {
                phase: Phase::Hello,
                peer,
                since: now,
                last_rx: now,
                echo_sent: false,
                features: None,
                ports: BTreeMap::new(),
                counters: Counters::default(),
                errors: VecDeque::new(),
            },
        );
        self.out.send(
            conn,
            Body::Hello {
                versions: Some(1 << OFP_VERSION),
            },
        );
    }

    /// The connection is gone (closed by either side); the app forgets the switch.
    pub fn connection_down(&mut self, _now: Instant, conn: ConnId) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(f) = c.features
            && self.by_dpid.get(&f.datapath_id) == Some(&conn)
        {
            self.by_dpid.remove(&f.datapath_id);
            self.app_switch_gone(f.datapath_id);
        }
        // Messages still queued for it are dropped by the driver (unknown conn).
    }

    /// A frame from `conn` did not decode: answer the ERROR the codec chose.
    pub fn handle_decode_error(
        &mut self,
        now: Instant,
        conn: ConnId,
        err: &DecodeError,
        frame: &[u8],
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.last_rx = now;
        c.echo_sent = false;
        c.counters.errors += 1;
        self.out.queue.push_back(Transmit::Message {
            conn,
            msg: Message {
                xid: err.xid.unwrap_or(0),
                body: Body::Error(err.to_error_msg(frame)),
            },
        });
    }

    pub fn handle_message(&mut self, now: Instant, conn: ConnId, msg: Message) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.last_rx = now;
        c.echo_sent = false;
        let dpid = c.features.as_ref().map(|f| f.datapath_id);
        match msg.body {
            Body::Hello { versions } => {
                if c.phase != Phase::Hello {
                    return;
                }
                if !hello_compatible(versions) {
                    self.out.queue.push_back(Transmit::Message {
                        conn,
                        msg: Message {
                            xid: msg.xid,
                            body: Body::Error(ErrorMsg {
                                kind: ErrorType::HELLO_FAILED,
                                code: hello_failed::INCOMPATIBLE,
                                data: b"OpenFlow 1.3 only".to_vec(),
                            }),
                        },
                    });
                    self.out.queue.push_back(Transmit::Close { conn });
                    return;
                }
                c.phase = Phase::Features;
                self.out.send(conn, Body::FeaturesRequest);
            }
            Body::EchoRequest(data) => {
                self.out.queue.push_back(Transmit::Message {
                    conn,
                    msg: Message {
                        xid: msg.xid,
                        body: Body::EchoReply(data),
                    },
                });
            }
            Body::EchoReply(_) => {}
            Body::Error(e) => {
                c.counters.errors += 1;
                if c.errors.len() == ERRORS_KEPT {
                    c.errors.pop_front();
                }
                c.errors.push_back(e);
            }
            Body::FeaturesReply(f) => {
                if c.phase == Phase::Ready {
                    return;
                }
                c.phase = Phase::Ready;
                let dpid = f.datapath_id;
                c.features = Some(f);
                self.out.send(
                    conn,
                    Body::MultipartRequest(MultipartRequest {
                        flags: 0,
                        body: MpRequest::PortDesc,
                    }),
                );
                if let Some(old) = self.by_dpid.insert(dpid, conn) {
                    // The same switch again (a reconnect): the old connection goes.
                    if let Some(o) = self.conns.get_mut(&old) {
                        o.features = None;
                    }
                    self.out.queue.push_back(Transmit::Close { conn: old });
                    self.app_switch_gone(dpid);
                }
                self.app_switch_ready(dpid, conn);
            }
            Body::MultipartReply(r) => {
                if let MpReply::PortDesc(ports) = r.body {
                    c.ports.extend(ports.into_iter().map(|p| (p.port_no, p)));
                    if let Some(dpid) = dpid {
                        self.app_ports_changed(dpid);
                    }
                }
            }
            Body::PortStatus(PortStatus { reason, desc }) => {
                if reason == port_reason::DELETE {
                    c.ports.remove(&desc.port_no);
                } else {
                    c.ports.insert(desc.port_no, desc);
                }
                if let Some(dpid) = dpid {
                    self.app_ports_changed(dpid);
                }
            }
            Body::PacketIn(pi) => {
                c.counters.packet_ins += 1;
                let Some(dpid) = dpid else { return };
                match &mut self.app {
                    AppState::Hub => {}
                    AppState::Learning(l) => {
                        l.packet_in(dpid, conn, pi, &mut self.out, &mut c.counters)
                    }
                    AppState::ShortestPath(s) => {
                        s.packet_in(conn, &pi, &mut self.out, &mut c.counters)
                    }
                }
            }
            _ => {}
        }
    }

    fn app_switch_ready(&mut self, dpid: u64, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match &mut self.app {
            AppState::Hub => hub::switch_ready(conn, &mut self.out, &mut c.counters),
            AppState::Learning(l) => l.switch_ready(dpid, conn, &mut self.out, &mut c.counters),
            AppState::ShortestPath(s) => {
                s.switch_ready(dpid, conn, &mut self.out, &mut c.counters);
                self.shortest_path_recompute();
            }
        }
    }

    fn app_switch_gone(&mut self, dpid: u64) {
        match &mut self.app {
            AppState::Hub => {}
            AppState::Learning(l) => l.switch_gone(dpid),
            AppState::ShortestPath(s) => {
                s.switch_gone(dpid);
                self.shortest_path_recompute();
            }
        }
    }

    fn app_ports_changed(&mut self, _dpid: u64) {
        if matches!(self.app, AppState::ShortestPath(_)) {
            self.shortest_path_recompute();
        }
    }

    /// Recomputes every path from the live view (connected switches, their ports' state)
    /// and queues the flow changes.
    fn shortest_path_recompute(&mut self) {
        let AppState::ShortestPath(s) = &mut self.app else {
            return;
        };
        let conns = &self.conns;
        let by_dpid = &self.by_dpid;
        let port_up = |dpid: u64, port_no: u32| -> bool {
            by_dpid
                .get(&dpid)
                .and_then(|c| conns.get(c))
                .is_some_and(|c| c.ports.get(&port_no).is_none_or(port_is_up))
        };
        let flow_mods = s.recompute(by_dpid, port_up, &mut self.out);
        for (conn, n) in flow_mods {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.counters.flow_mods += n;
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.queue.pop_front()
    }

    /// The next time [`handle_timeout`](Self::handle_timeout) has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .values()
            .map(|c| {
                if c.phase != Phase::Ready || c.echo_sent {
                    c.last_rx + IDLE_TIMEOUT
                } else {
                    c.last_rx + ECHO_INTERVAL
                }
            })
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let mut close = Vec::new();
        for (&conn, c) in &mut self.conns {
            let idle = now.saturating_duration_since(c.last_rx);
            if idle >= IDLE_TIMEOUT {
                close.push(conn);
            } else if idle >= ECHO_INTERVAL && c.phase == Phase::Ready && !c.echo_sent {
                c.echo_sent = true;
                c.counters.echo_requests += 1;
                self.out.send(conn, Body::EchoRequest(Vec::new()));
            }
        }
        for conn in close {
            self.out.queue.push_back(Transmit::Close { conn });
            self.connection_down(now, conn);
        }
    }

    /// The connected switches (`topolab openflow LAB CONTROLLER switches`).
    pub fn switches_json(&self, now: Instant) -> Value {
        let installed = |dpid: u64| match &self.app {
            AppState::ShortestPath(s) => Some(s.installed(dpid)),
            _ => None,
        };
        let list: Vec<Value> = self
            .conns
            .values()
            .map(|c| {
                let dpid = c.features.as_ref().map(|f| f.datapath_id);
                let ports: Vec<Value> = c
                    .ports
                    .values()
                    .map(|p| {
                        json!({
                            "port_no": p.port_no,
                            "name": p.name,
                            "hw_addr": mac_str(&p.hw_addr),
                            "up": port_is_up(p),
                        })
                    })
                    .collect();
                let errors: Vec<Value> = c
                    .errors
                    .iter()
                    .map(|e| json!({"type": e.kind.0, "code": e.code}))
                    .collect();
                json!({
                    "dpid": dpid.map(|d| format!("{d:016x}")),
                    "peer": c.peer.map(|p| p.to_string()),
                    "state": match c.phase { Phase::Hello => "hello", Phase::Features => "features", Phase::Ready => "ready" },
                    "connected_s": now.saturating_duration_since(c.since).as_secs_f64(),
                    "ports": ports,
                    "flow_mods": c.counters.flow_mods,
                    "flows_installed": dpid.and_then(installed),
                    "packet_ins": c.counters.packet_ins,
                    "packet_outs": c.counters.packet_outs,
                    "errors": c.counters.errors,
                    "last_errors": errors,
                })
            })
            .collect();
        Value::Array(list)
    }

    /// Connections that completed the handshake.
    pub fn switches_ready(&self) -> usize {
        self.by_dpid.len()
    }
}

pub(crate) fn mac_str(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// An ADD of one flow in table 0 applying `actions`.
pub(crate) fn flow_add(
    priority: u16,
    cookie: u64,
    fields: Vec<OxmField>,
    actions: Vec<Action>,
    buffer_id: u32,
) -> FlowMod {
    FlowMod {
        cookie,
        cookie_mask: 0,
        table_id: 0,
        command: FlowModCommand::Add,
        idle_timeout: 0,
        hard_timeout: 0,
        priority,
        buffer_id,
        out_port: port_no::ANY,
        out_group: group::ANY,
        flags: 0,
        r#match: Match { fields },
        instructions: vec![Instruction::ApplyActions(actions)],
    }
}

/// A DELETE (all tables) of the flows whose cookie matches `cookie` under `mask`.
pub(crate) fn flow_delete_cookie(cookie: u64, mask: u64) -> FlowMod {
    FlowMod {
        cookie,
        cookie_mask: mask,
        table_id: table::ALL,
        command: FlowModCommand::Delete,
        idle_timeout: 0,
        hard_timeout: 0,
        priority: 0,
        buffer_id: NO_BUFFER,
        out_port: port_no::ANY,
        out_group: group::ANY,
        flags: 0,
        r#match: Match { fields: Vec::new() },
        instructions: Vec::new(),
    }
}

/// OFPCML_NO_BUFFER: send the whole packet to the controller.
pub(crate) const MAX_LEN_NO_BUFFER: u16 = controller_max_len::NO_BUFFER;
