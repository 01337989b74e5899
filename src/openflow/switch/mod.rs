//! The OpenFlow 1.3 switch core: a sans-IO [`Switch`] that holds the flow tables, groups,
//! meters, counters and packet-in buffers of one datapath, and turns inputs into outputs.
//!
//! ```text
//!   driver (src/daemon/ofswitch.rs)                 Switch (this module, no I/O)
//!   TCP control channels ── Message ──▶ handle_message ─▶ connection FSM, FLOW_MOD, GROUP_MOD …
//!   AF_PACKET ports ─────── frame ────▶ handle_frame ───▶ classifier → instructions → actions
//!   operstate poll ──────── up/down ──▶ port_status ────▶ PORT_STATUS, fast-failover liveness
//!   timer ──────────────────── now ───▶ handle_timeout ─▶ idle/hard expiry, buffer expiry
//!            ◀── poll_transmit: Frame{port,data} | Message{conn,msg} | Close{conn}
//! ```
//! Time is an argument (`crate::time::Instant`), so every behaviour is a deterministic
//! function of its inputs. Invariants:
//! - A connection is *open* (may send anything but HELLO/ERROR) once its HELLO has been
//!   received with a common version (1.3); until then other messages are answered with
//!   BAD_REQUEST. A HELLO with no common version gets HELLO_FAILED/INCOMPATIBLE and a close.
//! - Forwarding never scans the flow table: each table is a classifier (tuple space) fronted
//!   by an exact-match cache; a flow-table change invalidates the cache.
//! - `fail_mode: standalone` makes the switch a MAC-learning switch while no *controller*
//!   connection (an active one, not the passive `ptcp` service port) has completed HELLO;
//!   `secure` keeps the installed flows and nothing else.
//! - A port without the LOCAL port: output to LOCAL is a drop (we have no local port).

mod flows;
mod groups;
mod index;
mod learning;
mod meters;
mod pipeline;
mod stats;
#[cfg(test)]
mod tests;
mod views;

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::openflow::codec::{self as of, Body, ErrorMsg, Message};
use crate::time::{Duration, Instant};

pub use flows::FlowEntry;

/// A control connection, named by the driver.
pub type ConnId = u64;

/// What the switch does while no controller is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Keep the installed flows, install nothing new.
    #[default]
    Secure,
    /// Act as a MAC-learning switch until a controller connects.
    Standalone,
}

/// One data-plane port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortInfo {
    pub port_no: u32,
    pub name: String,
    pub hw_addr: [u8; 6],
    pub up: bool,
}

/// The switch's configuration (the driver builds it from the compiled plan).
#[derive(Debug, Clone)]
pub struct SwitchConfig {
    pub dpid: u64,
    pub n_buffers: u32,
    pub n_tables: u8,
    pub fail_mode: FailMode,
    pub ports: Vec<PortInfo>,
    pub miss_send_len: u16,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            dpid: 1,
            n_buffers: 256,
            n_tables: 64,
            fail_mode: FailMode::Secure,
            ports: Vec::new(),
            miss_send_len: 128,
        }
    }
}

/// An output of the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Transmit {
    /// Send `data` out of data-plane port `port`.
    Frame { port: u32, data: Vec<u8> },
    /// Send `msg` on control connection `conn`.
    Message { conn: ConnId, msg: Message },
    /// Close control connection `conn` (after sending what is queued for it).
    Close { conn: ConnId },
}

/// Limits on what a controller can make the switch hold (FEATURES and the *_FEATURES
/// replies report them).
pub const MAX_FLOWS_PER_TABLE: usize = 1_000_000;
pub const MAX_GROUPS: usize = 65_535;
pub const MAX_BUCKETS: usize = 64;
pub const MAX_METERS: usize = 65_535;
pub const MAX_BANDS: usize = 16;
/// Learned MAC addresses kept in standalone mode (more are not learned: they flood).
pub const MAX_LEARNED: usize = 65_536;

/// A control connection silent this long is probed with ECHO_REQUEST, and closed when it
/// stays silent as long again.
pub const PROBE_IDLE: Duration = Duration::from_secs(5);

/// How long an unclaimed packet-in buffer is kept.
pub const BUFFER_LIFETIME: Duration = Duration::from_secs(5);
/// How long a learned MAC address is kept in standalone mode.
pub const LEARN_LIFETIME: Duration = Duration::from_secs(300);
/// The most entries in one multipart reply message (more go in further ones, REPLY_MORE):
/// 64 flow entries stay well under the 64 KiB message limit.
pub const MAX_REPLY_ITEMS: usize = 64;

use of::{port_config, port_state, role};

#[derive(Debug, Clone)]
struct Conn {
    /// HELLO received with a common version.
    open: bool,
    /// An active controller connection (not the passive service port).
    controller: bool,
    role: u32,
    /// SET_ASYNC masks ([master/equal, slave] per kind).
    async_cfg: of::AsyncConfig,
    /// When the peer last sent something, and whether our ECHO probe is out.
    last_rx: Instant,
    probing: bool,
}

/// The asynchronous messages SET_ASYNC filters.
#[derive(Clone, Copy)]
enum Async {
    PacketIn,
    PortStatus,
    FlowRemoved,
}

/// Per-port counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PortCounters {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

#[derive(Debug, Clone)]
struct PortState {
    info: PortInfo,
    /// OFPPC_* bits set by PORT_MOD.
    config: u32,
    counters: PortCounters,
    since: Instant,
}

impl PortState {
    /// Frames can leave (and count for fast-failover liveness).
    fn live(&self) -> bool {
        self.info.up && self.config & port_config::PORT_DOWN == 0
    }
    fn state_bits(&self) -> u32 {
        if self.info.up {
            port_state::LIVE
        } else {
            port_state::LINK_DOWN
        }
    }
}

/// The switch.
pub struct Switch {
    cfg: SwitchConfig,
    ports: BTreeMap<u32, PortState>,
    conns: BTreeMap<ConnId, Conn>,
    tables: Vec<flows::Table>,
    groups: groups::Groups,
    meters: meters::Meters,
    buffers: pipeline::Buffers,
    learning: learning::Learning,
    out: VecDeque<Transmit>,
    /// SET_CONFIG flags and miss_send_len.
    config_flags: u16,
    miss_send_len: u16,
    /// The largest generation_id seen in a master/slave ROLE_REQUEST.
    generation_id: Option<u64>,
    started: Instant,
    next_flow_id: u64,
    /// Spare frame buffers (see `recycle`).
    pool: Vec<Vec<u8>>,
    /// The port numbers in order (flooding walks them without allocating).
    port_nos: Vec<u32>,
}

impl Switch {
    pub fn new(cfg: SwitchConfig, now: Instant) -> Self {
        let ports: BTreeMap<u32, PortState> = cfg
            .ports
            .iter()
            .map(|p| {
                (
                    p.port_no,
                    PortState {
                        info: p.clone(),
                        config: 0,
                        counters: PortCounters::default(),
                        since: now,
                    },
                )
            })
            .collect();
        let n_tables = cfg.n_tables.max(1);
        Switch {
            tables: (0..n_tables).map(flows::Table::new).collect(),
            groups: groups::Groups::default(),
            meters: meters::Meters::default(),
            buffers: pipeline::Buffers::new(cfg.n_buffers),
            learning: learning::Learning::default(),
            out: VecDeque::new(),
            config_flags: 0,
            miss_send_len: cfg.miss_send_len,
            generation_id: None,
            started: now,
            next_flow_id: 0,
            pool: Vec::new(),
            port_nos: ports.keys().copied().collect(),
            ports,
            conns: BTreeMap::new(),
            cfg,
        }
    }

    pub fn dpid(&self) -> u64 {
        self.cfg.dpid
    }

    /// A controller connection is up: we send our HELLO.
    pub fn connection_up(&mut self, now: Instant, conn: ConnId) {
        self.add_conn(now, conn, true);
    }

    /// A connection on the passive service port (`ovs-ofctl`) is up. It never counts as a
    /// controller for the fail mode.
    pub fn passive_connection_up(&mut self, now: Instant, conn: ConnId) {
        self.add_conn(now, conn, false);
    }

    fn add_conn(&mut self, now: Instant, conn: ConnId, controller: bool) {
        self.conns.insert(
            conn,
            Conn {
                open: false,
                controller,
                role: role::EQUAL,
                async_cfg: default_async(),
                last_rx: now,
                probing: false,
            },
        );
        self.send(
            conn,
            0,
            Body::Hello {
                versions: Some(1 << of::OFP_VERSION),
            },
        );
    }

    pub fn connection_down(&mut self, _now: Instant, conn: ConnId) {
        self.conns.remove(&conn);
    }

    /// True while some controller connection has completed HELLO.
    pub fn controller_connected(&self) -> bool {
        self.conns.values().any(|c| c.open && c.controller)
    }

    /// Number of open control connections (controllers and service).
    pub fn open_connections(&self) -> usize {
        self.conns.values().filter(|c| c.open).count()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The earliest deadline: a flow timeout, a buffer or learned-address expiry, or the
    /// next meter refill that matters (none: meters refill lazily).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let flows = self.next_flow_deadline();
        let bufs = self.buffers.next_deadline();
        let probes = self
            .conns
            .values()
            .map(|c| {
                c.last_rx
                    + if c.probing {
                        PROBE_IDLE * 2
                    } else {
                        PROBE_IDLE
                    }
            })
            .min();
        [flows, bufs, probes].into_iter().flatten().min()
    }

    /// The earliest flow timeout (a lower bound: see `flows::Table`).
    pub fn next_flow_deadline(&self) -> Option<Instant> {
        self.tables.iter().filter_map(|t| t.next_deadline()).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.probe_connections(now);
        self.expire_flows(now);
        self.buffers.expire(now);
        self.learning.expire(now);
    }

    /// Inactivity probe: a connection silent for [`PROBE_IDLE`] gets an ECHO_REQUEST, and
    /// one still silent after as long again is closed (a controller whose host died sends
    /// no FIN; standalone mode must not wait for TCP to notice).
    fn probe_connections(&mut self, now: Instant) {
        let mut dead = Vec::new();
        let mut probe = Vec::new();
        for (id, c) in self.conns.iter_mut() {
            let idle = now.saturating_duration_since(c.last_rx);
            if idle >= PROBE_IDLE * 2 {
                dead.push(*id);
            } else if idle >= PROBE_IDLE && !c.probing {
                c.probing = true;
                probe.push(*id);
            }
        }
        for conn in probe {
            self.send(conn, 0, Body::EchoRequest(Vec::new()));
        }
        for conn in dead {
            self.conns.remove(&conn);
            self.out.push_back(Transmit::Close { conn });
        }
    }

    /// A decoder error on `conn`: answer with the ERROR it names.
    pub fn handle_decode_error(&mut self, _now: Instant, conn: ConnId, xid: u32, err: ErrorMsg) {
        self.send(conn, xid, Body::Error(err));
    }

    /// The port's link went down or came up: PORT_STATUS to every connection.
    pub fn port_status(&mut self, now: Instant, port_no: u32, up: bool) {
        let Some(p) = self.ports.get_mut(&port_no) else {
            return;
        };
        if p.info.up == up {
            return;
        }
        p.info.up = up;
        p.since = now;
        if !up {
            self.learning.forget_port(port_no);
        }
        self.send_port_status(port_no, of::port_reason::MODIFY);
    }

    fn send_port_status(&mut self, port_no: u32, reason: u8) {
        let Some(desc) = self.port_desc(port_no) else {
            return;
        };
        for conn in self.async_targets(Async::PortStatus, reason) {
            self.send(
                conn,
                0,
                Body::PortStatus(of::PortStatus {
                    reason,
                    desc: desc.clone(),
                }),
            );
        }
    }

    fn port_desc(&self, port_no: u32) -> Option<of::Port> {
        let p = self.ports.get(&port_no)?;
        Some(of::Port {
            port_no,
            hw_addr: p.info.hw_addr,
            name: p.info.name.clone(),
            config: p.config,
            state: p.state_bits(),
            // 10 Gb FD, copper.
            curr: (1 << 6) | (1 << 11),
            advertised: 0,
            supported: 0,
            peer: 0,
            curr_speed: 10_000_000,
            max_speed: 10_000_000,
        })
    }

    fn send(&mut self, conn: ConnId, xid: u32, body: Body) {
        self.out.push_back(Transmit::Message {
            conn,
            msg: Message { xid, body },
        });
    }

    fn error(
        &mut self,
        conn: ConnId,
        xid: u32,
        kind: of::ErrorType,
        code: u16,
        offending: &Message,
    ) {
        let mut data = Vec::new();
        of::emit(offending, &mut data);
        data.truncate(64);
        self.send(conn, xid, Body::Error(ErrorMsg { kind, code, data }));
    }

    /// A message from a control connection.
    pub fn handle_message(&mut self, now: Instant, conn: ConnId, msg: Message) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.last_rx = now;
        c.probing = false;
        let c = &*c;
        let xid = msg.xid;
        if !c.open {
            match &msg.body {
                Body::Hello { versions } => {
                    // No bitmap: the header version (ours, as decoded) is the peer's highest.
                    let ok = versions.is_none_or(|v| v & (1 << of::OFP_VERSION) != 0);
                    if ok {
                        let was = self.controller_connected();
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.open = true;
                        }
                        if !was && self.controller_connected() {
                            self.learning.clear();
                        }
                    } else {
                        self.send(
                            conn,
                            xid,
                            Body::Error(ErrorMsg {
                                kind: of::ErrorType::HELLO_FAILED,
                                code: of::hello_failed::INCOMPATIBLE,
                                data: b"we support OpenFlow 1.3 (0x04) only".to_vec(),
                            }),
                        );
                        self.out.push_back(Transmit::Close { conn });
                        self.conns.remove(&conn);
                    }
                }
                Body::Error(_) => {
                    self.out.push_back(Transmit::Close { conn });
                    self.conns.remove(&conn);
                }
                _ => self.error(
                    conn,
                    xid,
                    of::ErrorType::BAD_REQUEST,
                    of::bad_request::BAD_TYPE,
                    &msg,
                ),
            }
            return;
        }
        let slave = c.role == role::SLAVE;
        if slave && is_modifying(&msg.body) {
            self.error(
                conn,
                xid,
                of::ErrorType::BAD_REQUEST,
                of::bad_request::IS_SLAVE,
                &msg,
            );
            return;
        }
        match msg.body {
            Body::Hello { .. } | Body::EchoReply(_) | Body::Error(_) => {}
            Body::EchoRequest(data) => self.send(conn, xid, Body::EchoReply(data)),
            Body::FeaturesRequest => {
                let features = of::SwitchFeatures {
                    datapath_id: self.cfg.dpid,
                    n_buffers: self.cfg.n_buffers,
                    n_tables: self.tables.len() as u8,
                    auxiliary_id: 0,
                    // FLOW_STATS | TABLE_STATS | PORT_STATS | GROUP_STATS
                    capabilities: 1 | 2 | 4 | 8,
                };
                self.send(conn, xid, Body::FeaturesReply(features));
            }
            Body::GetConfigRequest => {
                let cfg = of::SwitchConfig {
                    flags: self.config_flags,
                    miss_send_len: self.miss_send_len,
                };
                self.send(conn, xid, Body::GetConfigReply(cfg));
            }
            Body::SetConfig(cfg) => {
                self.config_flags = cfg.flags;
                self.miss_send_len = cfg.miss_send_len;
            }
            Body::BarrierRequest => self.send(conn, xid, Body::BarrierReply),
            Body::RoleRequest(r) => self.role_request(conn, xid, r, &msg_stub(xid)),
            Body::GetAsyncRequest => {
                let cfg = self
                    .conns
                    .get(&conn)
                    .map_or_else(default_async, |c| c.async_cfg);
                self.send(conn, xid, Body::GetAsyncReply(cfg));
            }
            Body::SetAsync(cfg) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.async_cfg = cfg;
                }
            }
            Body::QueueGetConfigRequest { port } => self.send(
                conn,
                xid,
                Body::QueueGetConfigReply {
                    port,
                    queues: Vec::new(),
                },
            ),
            Body::PacketOut(po) => self.packet_out(now, conn, xid, po),
            Body::FlowMod(fm) => self.flow_mod(now, conn, xid, fm),
            Body::GroupMod(gm) => self.group_mod(now, conn, xid, gm),
            Body::MeterMod(mm) => self.meter_mod(now, conn, xid, mm),
            Body::PortMod(pm) => self.port_mod(now, conn, xid, pm),
            Body::TableMod { table_id, config } => {
                if table_id != of::table::ALL && table_id as usize >= self.tables.len() {
                    let m = Message {
                        xid,
                        body: Body::TableMod { table_id, config },
                    };
                    self.error(
                        conn,
                        xid,
                        of::ErrorType::TABLE_MOD_FAILED,
                        of::table_mod_failed::BAD_TABLE,
                        &m,
                    );
                }
                // The 1.3 table config bits are deprecated: nothing to change.
            }
            Body::MultipartRequest(req) => self.multipart(now, conn, xid, req),
            Body::Experimenter { .. } => self.send(
                conn,
                xid,
                Body::Error(ErrorMsg {
                    kind: of::ErrorType::BAD_REQUEST,
                    code: of::bad_request::BAD_EXPERIMENTER,
                    data: Vec::new(),
                }),
            ),
            other => {
                let m = Message { xid, body: other };
                self.error(
                    conn,
                    xid,
                    of::ErrorType::BAD_REQUEST,
                    of::bad_request::BAD_TYPE,
                    &m,
                );
            }
        }
    }

    fn role_request(&mut self, conn: ConnId, xid: u32, r: of::Role, offending: &Message) {
        if r.role > role::SLAVE {
            self.error(
                conn,
                xid,
                of::ErrorType::ROLE_REQUEST_FAILED,
                of::role_request_failed::BAD_ROLE,
                offending,
            );
            return;
        }
        if r.role == role::MASTER || r.role == role::SLAVE {
            if let Some(g) = self.generation_id
                && (r.generation_id.wrapping_sub(g) as i64) < 0
            {
                self.error(
                    conn,
                    xid,
                    of::ErrorType::ROLE_REQUEST_FAILED,
                    of::role_request_failed::STALE,
                    offending,
                );
                return;
            }
            self.generation_id = Some(r.generation_id);
        }
        if r.role == role::MASTER {
            for (id, c) in self.conns.iter_mut() {
                if *id != conn && c.role == role::MASTER {
                    c.role = role::SLAVE;
                }
            }
        }
        let current = if let Some(c) = self.conns.get_mut(&conn) {
            if r.role != role::NOCHANGE {
                c.role = r.role;
            }
            c.role
        } else {
            return;
        };
        self.send(
            conn,
            xid,
            Body::RoleReply(of::Role {
                role: current,
                generation_id: self.generation_id.unwrap_or(0),
            }),
        );
    }

    fn port_mod(&mut self, _now: Instant, conn: ConnId, xid: u32, pm: of::PortMod) {
        let Some(p) = self.ports.get_mut(&pm.port_no) else {
            let m = Message {
                xid,
                body: Body::PortMod(pm),
            };
            self.error(
                conn,
                xid,
                of::ErrorType::PORT_MOD_FAILED,
                of::port_mod_failed::BAD_PORT,
                &m,
            );
            return;
        };
        if p.info.hw_addr != pm.hw_addr {
            let m = Message {
                xid,
                body: Body::PortMod(pm),
            };
            self.error(
                conn,
                xid,
                of::ErrorType::PORT_MOD_FAILED,
                of::port_mod_failed::BAD_HW_ADDR,
                &m,
            );
            return;
        }
        let before = p.config;
        p.config = (p.config & !pm.mask) | (pm.config & pm.mask);
        if p.config != before {
            self.send_port_status(pm.port_no, of::port_reason::MODIFY);
        }
    }

    /// The open connections that want this asynchronous message (SET_ASYNC masks; by
    /// default a slave gets port status only).
    fn async_targets(&self, kind: Async, reason: u8) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| {
                let i = usize::from(c.role == role::SLAVE);
                let mask = match kind {
                    Async::PacketIn => c.async_cfg.packet_in_mask[i],
                    Async::PortStatus => c.async_cfg.port_status_mask[i],
                    Async::FlowRemoved => c.async_cfg.flow_removed_mask[i],
                };
                c.open && reason < 32 && mask & (1 << reason) != 0
            })
            .map(|(id, _)| *id)
            .collect()
    }

    fn uptime(&self, since: Instant, now: Instant) -> (u32, u32) {
        let d = now.saturating_duration_since(since);
        (d.as_secs() as u32, d.subsec_nanos())
    }
}

/// Messages a slave may not send (OFPBRC_IS_SLAVE).
fn is_modifying(body: &Body) -> bool {
    matches!(
        body,
        Body::PacketOut(_)
            | Body::FlowMod(_)
            | Body::GroupMod(_)
            | Body::PortMod(_)
            | Body::TableMod { .. }
            | Body::MeterMod(_)
    )
}

fn msg_stub(xid: u32) -> Message {
    Message {
        xid,
        body: Body::BarrierRequest,
    }
}

fn default_async() -> of::AsyncConfig {
    // [master/equal, slave]: packet-in NO_MATCH|ACTION, every port status, every removal.
    of::AsyncConfig {
        packet_in_mask: [0b11, 0],
        port_status_mask: [0b111, 0b111],
        flow_removed_mask: [0b11111, 0],
    }
}
