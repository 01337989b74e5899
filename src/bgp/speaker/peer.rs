//! Sessions: one [`Fsm`] per TCP connection to a peer (a second one only while a
//! connection collision is being resolved, RFC 4271 §6.8), message framing, our OPEN and
//! what both OPENs negotiate, and the FSM's actions turned into outputs.
//!
//! Slot 0 of a peer is its main connection, which also runs the connect-retry cycle; a
//! second connection gets slot 1. When the main one ends while the other lives, the other
//! becomes main. The FSM does not restart itself from Idle: after a session fails the peer
//! is started again after the connect-retry time (at once when passive, to keep listening).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use crate::bgp::codec::{
    self, AddPathMode, Capability, Family, GracefulRestart, Message, Notification, Open,
    SessionParams,
};
use crate::bgp::config::{Afi, PeerConfig, SpeakerConfig};
use crate::bgp::fsm::{self, Action, Event, Fsm, OpenInfo, State};
use crate::time::{Duration, Instant};

use super::{Compiled, ConnId, Output, PeerId, Speaker};

/// The restart time we advertise in the graceful restart capability (we keep no
/// forwarding state across restarts, so no family is listed: helper mode only).
const GR_RESTART_TIME: u16 = 120;

/// One TCP connection and its FSM.
pub(crate) struct Slot {
    pub fsm: Fsm,
    pub conn: Option<ConnId>,
    pub outbound: bool,
    pub buf: Vec<u8>,
    /// The peer's OPEN, once received.
    pub open: Option<Open>,
    /// What both OPENs negotiated (default until then).
    pub rx: SessionParams,
    pub tx: SessionParams,
    /// Our address and the peer's (`Speaker::set_conn_addrs`).
    pub addrs: Option<(SocketAddr, SocketAddr)>,
}

/// An established session.
#[derive(Debug, Clone)]
pub(crate) struct Up {
    pub conn: ConnId,
    pub since: Instant,
    pub tx: SessionParams,
    pub families: Vec<Family>,
    pub bgp_id: u32,
    pub refresh: bool,
    pub enhanced_refresh: bool,
    /// Our next hops on this session, per family.
    pub nh4: Option<IpAddr>,
    pub nh6: Option<IpAddr>,
}

pub(crate) struct Peer {
    pub cfg: PeerConfig,
    pub ebgp: bool,
    pub slots: Vec<Slot>,
    pub restart_at: Option<Instant>,
    pub up: Option<Up>,
    pub import: Compiled,
    pub export: Compiled,
    pub adj_out: crate::bgp::prefix_map::PrefixMap<std::sync::Arc<crate::bgp::attrs::PathAttrs>>,
    /// Adj-RIB-In size before and after import policy.
    pub received: usize,
    pub accepted: usize,
    pub messages_in: u64,
    pub messages_out: u64,
    pub last_error: Option<String>,
    fsm_config: fsm::Config,
}

impl Peer {
    pub fn new(id: PeerId, sc: &SpeakerConfig, import: Compiled, export: Compiled) -> Peer {
        let cfg = sc.peers[id].clone();
        let mut fc = fsm::Config::new(u32::from(sc.router_id), Some(cfg.remote_as));
        fc.hold_time = Duration::from_secs(cfg.hold_time.unwrap_or(sc.hold_time).into());
        fc.connect_retry = Duration::from_secs(sc.connect_retry.max(1).into());
        fc.keepalive = sc.keepalive.map(|k| Duration::from_secs(k.into()));
        Peer {
            ebgp: cfg.remote_as != sc.asn,
            cfg,
            slots: Vec::new(),
            restart_at: None,
            up: None,
            import,
            export,
            adj_out: Default::default(),
            received: 0,
            accepted: 0,
            messages_in: 0,
            messages_out: 0,
            last_error: None,
            fsm_config: fc,
        }
    }

    fn new_slot(&self) -> Slot {
        Slot {
            fsm: Fsm::new(self.fsm_config),
            conn: None,
            outbound: false,
            buf: Vec::new(),
            open: None,
            rx: SessionParams::default(),
            tx: SessionParams::default(),
            addrs: None,
        }
    }

    pub fn slot_mut(&mut self, conn: ConnId) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.conn == Some(conn))
    }

    fn slot_of(&self, conn: ConnId) -> Option<usize> {
        self.slots.iter().position(|s| s.conn == Some(conn))
    }

    /// The most advanced state among its connections.
    pub fn state(&self) -> State {
        let rank = |s: State| match s {
            State::Idle => 0,
            State::Connect => 1,
            State::Active => 2,
            State::OpenSent => 3,
            State::OpenConfirm => 4,
            State::Established => 5,
        };
        self.slots
            .iter()
            .map(|s| s.fsm.state())
            .max_by_key(|s| rank(*s))
            .unwrap_or(State::Idle)
    }

    pub fn name(&self) -> String {
        if self.cfg.name == self.cfg.address.to_string() {
            self.cfg.name.clone()
        } else {
            format!("{} ({})", self.cfg.name, self.cfg.address)
        }
    }
}

/// The families configured for a peer, as codec families.
pub(crate) fn families_of(cfg: &PeerConfig) -> Vec<Family> {
    cfg.families
        .iter()
        .map(|a| match a {
            Afi::Ipv4 => Family::IPV4_UNICAST,
            Afi::Ipv6 => Family::IPV6_UNICAST,
        })
        .collect()
}

pub(crate) fn family_name(f: Family) -> String {
    match f {
        Family::IPV4_UNICAST => "ipv4-unicast".into(),
        Family::IPV6_UNICAST => "ipv6-unicast".into(),
        f => format!("afi{}-safi{}", f.afi, f.safi),
    }
}

/// A NOTIFICATION's code and subcode with their names.
pub(crate) fn notification_text(code: u8, subcode: u8) -> String {
    use codec::err;
    let what = match (code, subcode) {
        (err::MESSAGE_HEADER, _) => "message header error",
        (err::OPEN_MESSAGE, err::open::BAD_PEER_AS) => "bad peer AS",
        (err::OPEN_MESSAGE, err::open::BAD_BGP_IDENTIFIER) => "bad BGP identifier",
        (err::OPEN_MESSAGE, err::open::UNACCEPTABLE_HOLD_TIME) => "unacceptable hold time",
        (err::OPEN_MESSAGE, err::open::UNSUPPORTED_VERSION) => "unsupported version",
        (err::OPEN_MESSAGE, _) => "OPEN message error",
        (err::UPDATE_MESSAGE, _) => "UPDATE message error",
        (err::HOLD_TIMER_EXPIRED, _) => "hold timer expired",
        (err::FSM, _) => "finite state machine error",
        (err::CEASE, err::cease::ADMINISTRATIVE_SHUTDOWN) => "cease: administrative shutdown",
        (err::CEASE, err::cease::CONNECTION_COLLISION) => "cease: connection collision resolution",
        (err::CEASE, err::cease::ADMINISTRATIVE_RESET) => "cease: administrative reset",
        (err::CEASE, _) => "cease",
        (err::ROUTE_REFRESH, _) => "ROUTE-REFRESH message error",
        _ => "unknown error",
    };
    format!("{code}/{subcode} ({what})")
}

impl Speaker {
    fn log(&mut self, line: String) {
        self.out.push_back(Output::Log(line));
    }

    pub(super) fn start_peer(&mut self, now: Instant, pid: PeerId) {
        let p = &mut self.peers[pid];
        p.restart_at = None;
        if p.slots.is_empty() {
            let s = p.new_slot();
            p.slots.push(s);
        }
        let passive = p.cfg.passive;
        p.slots[0]
            .fsm
            .handle_event(now, Event::ManualStart { passive });
        self.drain(now, pid, 0);
        self.cleanup(now, pid);
    }

    pub(super) fn connected(&mut self, now: Instant, pid: PeerId, conn: ConnId, outbound: bool) {
        self.conns.insert(conn, pid);
        let p = &mut self.peers[pid];
        if p.slots.is_empty() {
            let s = p.new_slot();
            p.slots.push(s);
        }
        let main = &p.slots[0];
        let idx = if main.conn.is_none()
            && matches!(
                main.fsm.state(),
                State::Connect | State::Active | State::Idle
            ) {
            if main.fsm.state() == State::Idle {
                p.restart_at = None;
                p.slots[0]
                    .fsm
                    .handle_event(now, Event::ManualStart { passive: true });
                // Discard a Connect the start may ask for: this connection is the one.
                while p.slots[0].fsm.poll_action().is_some() {}
            }
            0
        } else if p.slots.len() < 2 {
            let mut s = p.new_slot();
            s.fsm
                .handle_event(now, Event::ManualStart { passive: true });
            while s.fsm.poll_action().is_some() {}
            p.slots.push(s);
            1
        } else {
            self.conns.remove(&conn);
            self.out.push_back(Output::Close { conn });
            return;
        };
        let s = &mut p.slots[idx];
        s.conn = Some(conn);
        s.outbound = outbound;
        s.buf.clear();
        s.open = None;
        s.rx = SessionParams::default();
        s.tx = SessionParams::default();
        s.addrs = None;
        s.fsm.handle_event(now, Event::TcpConnectionConfirmed);
        self.drain(now, pid, idx);
        self.cleanup(now, pid);
    }

    pub(super) fn connect_failed(&mut self, now: Instant, pid: PeerId) {
        let p = &mut self.peers[pid];
        if let Some(main) = p.slots.first_mut()
            && main.conn.is_none()
            && main.fsm.state() == State::Connect
        {
            main.fsm.handle_event(now, Event::TcpConnectionFails);
            self.drain(now, pid, 0);
            self.cleanup(now, pid);
        }
    }

    pub(super) fn closed(&mut self, now: Instant, conn: ConnId) {
        let Some(pid) = self.conns.remove(&conn) else {
            return;
        };
        let Some(idx) = self.peers[pid].slot_of(conn) else {
            return;
        };
        let s = &mut self.peers[pid].slots[idx];
        s.fsm.handle_event(now, Event::TcpConnectionFails);
        self.drain(now, pid, idx);
        // The connection is gone whatever the FSM said.
        if let Some(s) = self.peers[pid].slots.get_mut(idx)
            && s.conn == Some(conn)
        {
            s.conn = None;
        }
        self.cleanup(now, pid);
    }

    pub(super) fn timeout(&mut self, now: Instant) {
        for pid in 0..self.peers.len() {
            if self.peers[pid].restart_at.is_some_and(|t| t <= now) {
                self.start_peer(now, pid);
            }
            for idx in 0..self.peers[pid].slots.len() {
                if let Some(s) = self.peers[pid].slots.get_mut(idx) {
                    s.fsm.handle_timeout(now);
                    self.drain(now, pid, idx);
                }
            }
            self.cleanup(now, pid);
        }
    }

    /// Feeds bytes to a connection's framer and its messages to the FSM and the RIB.
    pub(super) fn data(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        let Some(&pid) = self.conns.get(&conn) else {
            return;
        };
        let Some(s) = self.peers[pid].slot_mut(conn) else {
            return;
        };
        let mut held = std::mem::take(&mut s.buf);
        let data: &[u8] = if held.is_empty() {
            bytes
        } else {
            held.extend_from_slice(bytes);
            &held
        };
        let mut pos = 0;
        let mut alive = true;
        while alive {
            let Some(s) = self.peers[pid].slot_mut(conn) else {
                alive = false;
                break;
            };
            let rx = s.rx.clone();
            let len = match codec::frame_len(&data[pos..], &rx) {
                Ok(Some(n)) if data.len() - pos >= n => n,
                Ok(_) => break,
                Err(n) => {
                    self.message_error(now, pid, conn, n);
                    alive = false;
                    break;
                }
            };
            let msg = &data[pos..pos + len];
            pos += len;
            self.peers[pid].messages_in += 1;
            alive = self.message(now, pid, conn, msg, &rx);
        }
        if alive && let Some(s) = self.peers[pid].slot_mut(conn) {
            let rest = &data[pos..];
            if !held.is_empty() {
                held.drain(..pos);
                s.buf = held;
            } else {
                s.buf = rest.to_vec();
            }
        }
    }

    /// A framing or parse error on a connection: the FSM answers with the NOTIFICATION.
    fn message_error(&mut self, now: Instant, pid: PeerId, conn: ConnId, n: Notification) {
        let Some(idx) = self.peers[pid].slot_of(conn) else {
            return;
        };
        let ev = if n.code == codec::err::UPDATE_MESSAGE {
            Event::UpdateMsgErr { subcode: n.subcode }
        } else {
            Event::BgpMessageErr {
                code: n.code,
                subcode: n.subcode,
            }
        };
        self.peers[pid].slots[idx].fsm.handle_event(now, ev);
        self.drain(now, pid, idx);
        self.cleanup(now, pid);
    }

    /// One whole message; false when the connection is gone afterwards.
    fn message(
        &mut self,
        now: Instant,
        pid: PeerId,
        conn: ConnId,
        msg: &[u8],
        rx: &SessionParams,
    ) -> bool {
        let Some(idx) = self.peers[pid].slot_of(conn) else {
            return false;
        };
        if msg[18] == codec::kind::UPDATE && msg.len() >= 23 {
            let established = self.peers[pid].slots[idx].fsm.state() == State::Established;
            self.peers[pid].slots[idx]
                .fsm
                .handle_event(now, Event::UpdateMsg);
            if established && let Err(n) = self.update(now, pid, &msg[19..], rx) {
                self.log(format!(
                    "peer {}: malformed UPDATE: {}",
                    self.peers[pid].name(),
                    notification_text(n.code, n.subcode)
                ));
                self.peers[pid].slots[idx]
                    .fsm
                    .handle_event(now, Event::UpdateMsgErr { subcode: n.subcode });
            }
        } else {
            match codec::parse(msg, rx) {
                Err(n) => {
                    self.message_error(now, pid, conn, n);
                    return self.conns.contains_key(&conn);
                }
                Ok(Message::Open(o)) => self.open_received(now, pid, idx, o),
                Ok(Message::Keepalive) => self.peers[pid].slots[idx]
                    .fsm
                    .handle_event(now, Event::KeepAliveMsg),
                Ok(Message::Notification(n)) => {
                    let text = notification_text(n.code, n.subcode);
                    let name = self.peers[pid].name();
                    self.log(format!("peer {name}: NOTIFICATION received {text}"));
                    self.peers[pid].last_error = Some(format!("received {text}"));
                    let ev = if n.code == codec::err::OPEN_MESSAGE
                        && n.subcode == codec::err::open::UNSUPPORTED_VERSION
                    {
                        Event::NotifMsgVerErr
                    } else {
                        Event::NotifMsg
                    };
                    self.peers[pid].slots[idx].fsm.handle_event(now, ev);
                }
                Ok(Message::RouteRefresh(r)) => {
                    if self.peers[pid].up.as_ref().is_some_and(|u| u.conn == conn) {
                        self.refresh_received(now, pid, r);
                    }
                }
                Ok(Message::Update(_)) => {}
            }
        }
        self.drain(now, pid, idx);
        self.cleanup(now, pid);
        self.conns.contains_key(&conn)
    }

    /// An OPEN on slot `idx`: collision detection (§6.8), then the FSM.
    fn open_received(&mut self, now: Instant, pid: PeerId, idx: usize, o: Open) {
        let local = (u32::from(self.config.router_id), self.config.asn);
        let remote = (u32::from(o.bgp_id), o.asn());
        let info = OpenInfo {
            hold_time: o.hold_time,
            peer_as: o.asn(),
            bgp_id: u32::from(o.bgp_id),
        };
        let (rx, tx) = negotiate(&self.peers[pid].cfg, &o);
        let p = &mut self.peers[pid];
        let other = 1 - idx.min(1);
        if let Some(os) = p.slots.get(other)
            && os.conn.is_some()
            && matches!(os.fsm.state(), State::OpenConfirm | State::Established)
        {
            let keep_this = os.fsm.state() != State::Established && {
                let winner_outbound = fsm::collision_keeps(local, remote) == fsm::Initiator::Local;
                p.slots[idx].outbound == winner_outbound
            };
            let loser = if keep_this { other } else { idx };
            p.slots[loser]
                .fsm
                .handle_event(now, Event::OpenCollisionDump);
            self.drain(now, pid, loser);
            if !keep_this {
                return;
            }
        }
        let s = &mut self.peers[pid].slots[idx];
        s.open = Some(o);
        s.rx = rx;
        s.tx = tx;
        s.fsm.handle_event(now, Event::BgpOpen(info));
    }

    /// Turns slot `idx`'s FSM actions into outputs.
    pub(super) fn drain(&mut self, now: Instant, pid: PeerId, idx: usize) {
        loop {
            let Some(s) = self.peers[pid].slots.get_mut(idx) else {
                return;
            };
            let Some(action) = s.fsm.poll_action() else {
                return;
            };
            let conn = s.conn;
            match action {
                Action::Connect => {
                    if idx == 0 && conn.is_none() && !self.peers[pid].cfg.passive {
                        self.out.push_back(Output::Connect { peer: pid });
                    }
                }
                Action::Close => {
                    if let Some(c) = conn {
                        let s = &mut self.peers[pid].slots[idx];
                        s.conn = None;
                        s.buf = Vec::new();
                        s.open = None;
                        self.conns.remove(&c);
                        self.out.push_back(Output::Close { conn: c });
                    }
                }
                Action::SendOpen => {
                    let o = self.our_open(pid);
                    self.send_msg(pid, conn, &Message::Open(o), &SessionParams::default());
                }
                Action::SendKeepalive => {
                    self.send_msg(pid, conn, &Message::Keepalive, &SessionParams::default());
                }
                Action::SendNotification { code, subcode } => {
                    let text = notification_text(code, subcode);
                    let name = self.peers[pid].name();
                    self.log(format!("peer {name}: NOTIFICATION sent {text}"));
                    self.peers[pid].last_error = Some(format!("sent {text}"));
                    let n = Notification::new(code, subcode, Vec::new());
                    self.send_msg(
                        pid,
                        conn,
                        &Message::Notification(n),
                        &SessionParams::default(),
                    );
                }
                Action::SessionUp { .. } => self.session_up(now, pid, idx),
                Action::SessionDown => self.session_down(now, pid),
            }
        }
    }

    fn send_msg(&mut self, pid: PeerId, conn: Option<ConnId>, m: &Message, p: &SessionParams) {
        if let Some(conn) = conn {
            self.peers[pid].messages_out += 1;
            self.out.push_back(Output::Send {
                conn,
                bytes: codec::to_bytes(m, p),
            });
        }
    }

    /// After a peer's FSMs acted: a dead second connection goes, a dead main one is
    /// replaced by the second, and a peer left with nothing is started again later.
    pub(super) fn cleanup(&mut self, now: Instant, pid: PeerId) {
        let p = &mut self.peers[pid];
        if p.slots.len() == 2 && p.slots[1].fsm.state() == State::Idle && p.slots[1].conn.is_none()
        {
            p.slots.pop();
        }
        if p.slots.len() == 2 && p.slots[0].fsm.state() == State::Idle && p.slots[0].conn.is_none()
        {
            p.slots.swap_remove(0);
        }
        if p.slots.len() == 1
            && p.slots[0].fsm.state() == State::Idle
            && p.slots[0].conn.is_none()
            && p.restart_at.is_none()
        {
            let delay = if p.cfg.passive {
                Duration::ZERO
            } else {
                p.fsm_config.connect_retry
            };
            p.restart_at = Some(now + delay);
        }
    }

    /// Our OPEN toward a peer.
    fn our_open(&self, pid: PeerId) -> Open {
        let p = &self.peers[pid];
        let asn = self.config.asn;
        let families = families_of(&p.cfg);
        let mut caps: Vec<Capability> = families
            .iter()
            .map(|f| Capability::Multiprotocol(*f))
            .collect();
        caps.push(Capability::RouteRefresh);
        caps.push(Capability::EnhancedRouteRefresh);
        caps.push(Capability::FourOctetAs(asn));
        caps.push(Capability::GracefulRestart(GracefulRestart {
            flags: 0,
            restart_time: GR_RESTART_TIME,
            families: Vec::new(),
        }));
        caps.push(Capability::ExtendedMessage);
        caps.push(Capability::AddPath(
            families
                .iter()
                .map(|f| (*f, AddPathMode::Receive))
                .collect(),
        ));
        Open {
            my_as: u16::try_from(asn).unwrap_or(codec::AS_TRANS),
            hold_time: p.fsm_config.hold_time.as_secs() as u16,
            bgp_id: self.config.router_id,
            capabilities: caps,
        }
    }

    fn session_up(&mut self, now: Instant, pid: PeerId, idx: usize) {
        let p = &mut self.peers[pid];
        let s = &p.slots[idx];
        let (Some(conn), Some(o)) = (s.conn, s.open.as_ref()) else {
            return;
        };
        let peer_mp: Vec<Family> = o
            .capabilities
            .iter()
            .filter_map(|c| match c {
                Capability::Multiprotocol(f) => Some(*f),
                _ => None,
            })
            .collect();
        let ours = families_of(&p.cfg);
        // RFC 4760 §8: a peer without the capability speaks IPv4 unicast only.
        let families: Vec<Family> = ours
            .into_iter()
            .filter(|f| {
                if peer_mp.is_empty() {
                    *f == Family::IPV4_UNICAST
                } else {
                    peer_mp.contains(f)
                }
            })
            .collect();
        let has = |c: &Capability| o.capabilities.contains(c);
        let local = s
            .addrs
            .map(|(l, _)| l.ip().to_canonical())
            .or(p.cfg.local_address);
        let nh = |v6: bool| {
            local
                .filter(|a| a.is_ipv6() == v6)
                .or(p.cfg.local_address.filter(|a| a.is_ipv6() == v6))
                .or(p.cfg.next_hops.iter().copied().find(|a| a.is_ipv6() == v6))
        };
        let up = super::peer::Up {
            conn,
            since: now,
            tx: s.tx.clone(),
            families,
            bgp_id: u32::from(o.bgp_id),
            refresh: has(&Capability::RouteRefresh),
            enhanced_refresh: has(&Capability::EnhancedRouteRefresh),
            nh4: nh(false),
            nh6: nh(true),
        };
        let fams = up
            .families
            .iter()
            .map(|f| family_name(*f))
            .collect::<Vec<_>>()
            .join(", ");
        p.up = Some(up);
        p.last_error = None;
        let name = p.name();
        self.log(format!("peer {name}: session established ({fams})"));
        self.initial_dump(now, pid);
    }

    fn session_down(&mut self, now: Instant, pid: PeerId) {
        let name = self.peers[pid].name();
        self.peers[pid].up = None;
        self.peers[pid].adj_out.clear();
        self.log(format!("peer {name}: session down"));
        self.drop_peer_routes(now, pid);
    }

    pub(super) fn send_refresh_request(&mut self, now: Instant, pid: PeerId) {
        let Some(up) = self.peers[pid].up.clone() else {
            return;
        };
        if !up.refresh && !up.enhanced_refresh {
            return;
        }
        for f in &up.families {
            let m = Message::RouteRefresh(codec::RouteRefresh {
                family: *f,
                subtype: 0,
            });
            self.send_msg(pid, Some(up.conn), &m, &up.tx);
        }
        if let Some(idx) = self.peers[pid].slot_of(up.conn) {
            self.peers[pid].slots[idx].fsm.update_sent(now);
        }
    }
}

/// What the peer's OPEN and ours negotiate: (params for parsing what the peer sends,
/// params for emitting toward it).
fn negotiate(cfg: &PeerConfig, o: &Open) -> (SessionParams, SessionParams) {
    let four = o
        .capabilities
        .iter()
        .any(|c| matches!(c, Capability::FourOctetAs(_)));
    let ext = o.capabilities.contains(&Capability::ExtendedMessage);
    let ours = families_of(cfg);
    let mut rx_ap = BTreeSet::new();
    for c in &o.capabilities {
        if let Capability::AddPath(v) = c {
            for (f, m) in v {
                // We advertised Receive for our families; the peer sends path ids when it
                // advertised Send.
                if ours.contains(f) && matches!(m, AddPathMode::Send | AddPathMode::Both) {
                    rx_ap.insert(*f);
                }
            }
        }
    }
    let rx = SessionParams {
        four_octet_as: four,
        add_path_rx: rx_ap,
        extended_messages: ext,
    };
    let tx = SessionParams {
        four_octet_as: four,
        add_path_rx: BTreeSet::new(),
        extended_messages: ext,
    };
    (rx, tx)
}

impl Peer {
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| s.fsm.poll_timeout())
            .chain(self.restart_at)
            .min()
    }
}
