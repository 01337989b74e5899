//! The BGP-4 session state machine of RFC 4271 §8, sans-IO.
//!
//! One [`Fsm`] per configured peer. The driver feeds it [`Event`]s (named after the RFC's
//! event list, §8.1) through [`Fsm::handle_event`] and timer expiries through
//! [`Fsm::handle_timeout`], then drains [`Action`]s with [`Fsm::poll_action`] and turns them
//! into socket work (connect, close, write a message) or RIB work (session up / down). The
//! FSM never reads a clock: every call takes `now`, and [`Fsm::poll_timeout`] says when the
//! driver must call back.
//!
//! ```text
//!   driver ──Event──▶ Fsm::handle_event(now, ev) ──▶ queue of Action ──poll_action──▶ driver
//!   driver ──now────▶ Fsm::handle_timeout(now)    ─┘    poll_timeout() ─▶ next deadline
//! ```
//!
//! Invariants:
//! - one `match state { match event }` (`Fsm::step`); every state/event pair is decided
//!   there, and an event the RFC calls an FSM error in a state answers with the RFC's
//!   action (NOTIFICATION 5/x per RFC 6608 once an OPEN was sent, then Idle).
//! - timers are deadlines in a table indexed by [`Timer`]; a timer is running iff its entry
//!   is `Some`. Leaving a session (to Idle or Active) clears Hold and Keepalive.
//! - the negotiated hold time is `min(local, peer)`, which is 0 or ≥ 3 s (1 and 2 are
//!   refused with NOTIFICATION 2/6); the keepalive interval is a third of it; 0 disables both.
//!
//! Not modelled (optional session attributes of §8.1.1): DelayOpen, DampPeerOscillations,
//! automatic start/stop, CollisionDetectEstablishedState. Collision detection itself
//! (§6.8) needs two connections, so it lives outside one FSM: [`collision_keeps`] says which
//! connection survives and the driver feeds [`Event::OpenCollisionDump`] to the loser.
//!
//! One deliberate deviation: a NOTIFICATION received in OpenSent closes the session (and
//! counts the failure) without answering with NOTIFICATION 5/1, which the RFC's "any other
//! event" clause would send.

use std::collections::VecDeque;

use crate::time::{Duration, Instant};

/// The six states of RFC 4271 §8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

/// What the peer said in its OPEN, already parsed by the codec (only what the FSM needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenInfo {
    /// Hold Time, in seconds.
    pub hold_time: u16,
    /// The peer's AS (the 4-octet one of RFC 6793 when the capability is present).
    pub peer_as: u32,
    /// The peer's BGP Identifier.
    pub bgp_id: u32,
}

/// Inputs, named after RFC 4271 §8.1 (event numbers in the doc comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Event 1 (`passive: false`) or Event 4 (`passive: true`, wait for the peer to connect).
    ManualStart { passive: bool },
    /// Event 2.
    ManualStop,
    /// Events 16 and 17: our connection attempt succeeded, or we accepted the peer's.
    TcpConnectionConfirmed,
    /// Event 18.
    TcpConnectionFails,
    /// Event 19: a well-formed OPEN (the FSM still checks hold time, AS and identifier).
    BgpOpen(OpenInfo),
    /// Events 21 and 22: a malformed header (code 1) or OPEN (code 2) seen by the codec.
    BgpMessageErr { code: u8, subcode: u8 },
    /// Event 23: collision detection (§6.8) chose to close this connection.
    OpenCollisionDump,
    /// Event 24: a NOTIFICATION with an unsupported-version error (2/1), which ends the
    /// session without counting it as a failure in OpenSent and OpenConfirm.
    NotifMsgVerErr,
    /// Event 25: any other NOTIFICATION.
    NotifMsg,
    /// Event 26.
    KeepAliveMsg,
    /// Event 27.
    UpdateMsg,
    /// Event 28: a malformed UPDATE that RFC 7606 says must reset the session (code 3).
    UpdateMsgErr { subcode: u8 },
}

/// Outputs for the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer (port 179).
    Connect,
    /// Close the TCP connection (after sending anything queued before this action).
    Close,
    /// Send our OPEN, built from the configuration (hold time [`Config::hold_time`]).
    SendOpen,
    SendKeepalive,
    SendNotification {
        code: u8,
        subcode: u8,
    },
    /// The session reached Established; timers as negotiated (zero: none).
    SessionUp {
        hold_time: Duration,
        keepalive: Duration,
    },
    /// The session left Established: withdraw every route learnt from this peer.
    SessionDown,
}

/// The three timers of §8 the FSM runs, as indices into its deadline table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    ConnectRetry = 0,
    Hold = 1,
    Keepalive = 2,
}

const TIMERS: [Timer; 3] = [Timer::ConnectRetry, Timer::Hold, Timer::Keepalive];

/// NOTIFICATION error codes and subcodes used here (RFC 4271 §4.5, §6; RFC 6608).
pub mod notif {
    pub const OPEN_ERROR: u8 = 2;
    pub const BAD_PEER_AS: u8 = 2;
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    pub const UPDATE_ERROR: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    /// Finite State Machine Error; RFC 6608 subcodes name the state it happened in.
    pub const FSM_ERROR: u8 = 5;
    pub const FSM_IN_OPENSENT: u8 = 1;
    pub const FSM_IN_OPENCONFIRM: u8 = 2;
    pub const FSM_IN_ESTABLISHED: u8 = 3;
    pub const CEASE: u8 = 6;
    /// RFC 4486 Cease subcodes.
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
}

/// Per-peer settings (the session attributes of §8 that this FSM uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub local_id: u32,
    /// The AS the peer must announce; `None` accepts any.
    pub peer_as: Option<u32>,
    /// Our Hold Time (0, or ≥ 3 s); RFC 4271 suggests 90 s.
    pub hold_time: Duration,
    /// ConnectRetryTime; RFC 4271 suggests 120 s.
    pub connect_retry: Duration,
    /// The hold timer while waiting for the peer's OPEN; §8.2.2 suggests 4 minutes.
    pub large_hold: Duration,
    /// Our KeepaliveTime; `None`: a third of the negotiated hold time (§10). Never longer
    /// than that third, so that the peer's hold timer cannot expire between keepalives.
    pub keepalive: Option<Duration>,
}

impl Config {
    pub fn new(local_id: u32, peer_as: Option<u32>) -> Config {
        Config {
            local_id,
            peer_as,
            hold_time: Duration::from_secs(90),
            connect_retry: Duration::from_secs(120),
            large_hold: Duration::from_secs(240),
            keepalive: None,
        }
    }
}

/// One peer's session state machine.
#[derive(Debug)]
pub struct Fsm {
    config: Config,
    state: State,
    connect_retry_counter: u32,
    timers: [Option<Instant>; 3],
    /// Negotiated in OpenSent on the peer's OPEN; zero means no hold / keepalive timers.
    hold_time: Duration,
    keepalive: Duration,
    /// The peer's OPEN, from OpenConfirm on (collision detection compares its identifier).
    peer_open: Option<OpenInfo>,
    actions: VecDeque<Action>,
}

impl Fsm {
    pub fn new(config: Config) -> Fsm {
        Fsm {
            config,
            state: State::Idle,
            connect_retry_counter: 0,
            timers: [None; 3],
            hold_time: Duration::ZERO,
            keepalive: Duration::ZERO,
            peer_open: None,
            actions: VecDeque::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The ConnectRetryCounter of §8: how many sessions failed since the last manual start/stop.
    pub fn connect_retry_counter(&self) -> u32 {
        self.connect_retry_counter
    }

    /// The negotiated hold time and keepalive interval (zero before OpenConfirm, or disabled).
    pub fn negotiated(&self) -> (Duration, Duration) {
        (self.hold_time, self.keepalive)
    }

    /// The OPEN the peer sent, in OpenConfirm and Established: what [`collision_keeps`]
    /// needs when a second connection to the same peer delivers an OPEN (§6.8).
    pub fn peer_open(&self) -> Option<OpenInfo> {
        self.peer_open
    }

    /// When `timer` fires, if it is running.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.timers[timer as usize]
    }

    /// The earliest running timer's deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Fires, earliest first, every timer whose deadline is at or before `now`; each at most
    /// once per call (a late driver gets one KEEPALIVE, not a burst), and not if an earlier
    /// one stopped it.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due: Vec<(Instant, Timer)> = TIMERS
            .into_iter()
            .filter_map(|t| self.timers[t as usize].map(|d| (d, t)))
            .filter(|(d, _)| *d <= now)
            .collect();
        due.sort_by_key(|(d, t)| (*d, *t as usize));
        for (deadline, timer) in due {
            if self.timers[timer as usize] == Some(deadline) {
                self.timers[timer as usize] = None;
                self.step(now, Input::Expired(timer));
            }
        }
    }

    pub fn handle_event(&mut self, now: Instant, event: Event) {
        self.step(now, Input::Event(event));
    }

    /// The transition table: one `match state { match input }`.
    fn step(&mut self, now: Instant, input: Input) {
        use Event as E;
        use Input::{Event as Ev, Expired};
        use State as S;
        match self.state {
            S::Idle => match input {
                Ev(E::ManualStart { passive }) => {
                    self.connect_retry_counter = 0;
                    self.start(now, Timer::ConnectRetry, self.config.connect_retry);
                    if passive {
                        self.state = S::Active;
                    } else {
                        self.emit(Action::Connect);
                        self.state = S::Connect;
                    }
                }
                // Every other event is ignored in Idle (no automatic restart here).
                Ev(_) | Expired(_) => {}
            },
            S::Connect => match input {
                Ev(E::ManualStart { .. }) => {}
                Ev(E::ManualStop) => {
                    self.emit(Action::Close);
                    self.connect_retry_counter = 0;
                    self.enter_idle();
                }
                Expired(Timer::ConnectRetry) => {
                    self.emit(Action::Close);
                    self.start(now, Timer::ConnectRetry, self.config.connect_retry);
                    self.emit(Action::Connect);
                }
                Ev(E::TcpConnectionConfirmed) => self.send_open(now),
                // Without DelayOpen a failed attempt drops to Idle (§8.2.2, Connect, Event 18).
                Ev(E::TcpConnectionFails) => {
                    self.emit(Action::Close);
                    self.enter_idle();
                }
                // "Any other event": no OPEN was sent, so nobody to notify.
                _ => self.fail_silently(),
            },
            S::Active => match input {
                Ev(E::ManualStart { .. }) => {}
                Ev(E::ManualStop) => {
                    self.emit(Action::Close);
                    self.connect_retry_counter = 0;
                    self.enter_idle();
                }
                Expired(Timer::ConnectRetry) => {
                    self.start(now, Timer::ConnectRetry, self.config.connect_retry);
                    self.emit(Action::Connect);
                    self.state = S::Connect;
                }
                Ev(E::TcpConnectionConfirmed) => self.send_open(now),
                Ev(E::TcpConnectionFails) => {
                    self.emit(Action::Close);
                    self.connect_retry_counter += 1;
                    self.enter_idle();
                }
                // "Any other event": no OPEN was sent, so nobody to notify.
                _ => self.fail_silently(),
            },
            S::OpenSent => match input {
                Ev(E::ManualStart { .. }) => {}
                Ev(E::ManualStop) => self.manual_stop(),
                Expired(Timer::Hold) => self.hold_expired(),
                // §8.2.2 OpenSent, Event 18: back to Active, listening, ConnectRetry restarted.
                Ev(E::TcpConnectionFails) => {
                    self.emit(Action::Close);
                    self.timers = [None; 3];
                    self.start(now, Timer::ConnectRetry, self.config.connect_retry);
                    self.state = S::Active;
                }
                Ev(E::BgpOpen(open)) => self.open_received(now, open),
                Ev(E::BgpMessageErr { code, subcode }) => self.fail_with(code, subcode),
                Ev(E::OpenCollisionDump) => {
                    self.fail_with(notif::CEASE, notif::CONNECTION_COLLISION_RESOLUTION)
                }
                Ev(E::NotifMsgVerErr) => self.close_uncounted(),
                // Event 25 is among the RFC's "other events" here (NOTIFICATION 5/1), but a
                // NOTIFICATION is not answered with one: close and count, as in OpenConfirm.
                Ev(E::NotifMsg) => self.fail_silently(),
                _ => self.fail_with(notif::FSM_ERROR, notif::FSM_IN_OPENSENT),
            },
            S::OpenConfirm => match input {
                Ev(E::ManualStart { .. }) => {}
                Ev(E::ManualStop) => self.manual_stop(),
                Expired(Timer::Hold) => self.hold_expired(),
                Expired(Timer::Keepalive) => self.send_keepalive(now),
                Ev(E::TcpConnectionFails | E::NotifMsg) => self.fail_silently(),
                Ev(E::NotifMsgVerErr) => self.close_uncounted(),
                Ev(E::BgpMessageErr { code, subcode }) => self.fail_with(code, subcode),
                Ev(E::OpenCollisionDump) => {
                    self.fail_with(notif::CEASE, notif::CONNECTION_COLLISION_RESOLUTION)
                }
                Ev(E::KeepAliveMsg) => {
                    self.restart_hold(now);
                    self.state = S::Established;
                    self.emit(Action::SessionUp {
                        hold_time: self.hold_time,
                        keepalive: self.keepalive,
                    });
                }
                _ => self.fail_with(notif::FSM_ERROR, notif::FSM_IN_OPENCONFIRM),
            },
            S::Established => match input {
                Ev(E::ManualStart { .. }) => {}
                Ev(E::ManualStop) => self.manual_stop(),
                Expired(Timer::Hold) => self.hold_expired(),
                Expired(Timer::Keepalive) => self.send_keepalive(now),
                Ev(E::KeepAliveMsg | E::UpdateMsg) => self.restart_hold(now),
                Ev(E::UpdateMsgErr { subcode }) => self.fail_with(notif::UPDATE_ERROR, subcode),
                Ev(E::BgpMessageErr { code, subcode }) => self.fail_with(code, subcode),
                Ev(E::OpenCollisionDump) => {
                    self.fail_with(notif::CEASE, notif::CONNECTION_COLLISION_RESOLUTION)
                }
                Ev(E::TcpConnectionFails | E::NotifMsg | E::NotifMsgVerErr) => self.fail_silently(),
                _ => self.fail_with(notif::FSM_ERROR, notif::FSM_IN_ESTABLISHED),
            },
        }
    }

    /// The driver sent an UPDATE: like a KEEPALIVE, it restarts the keepalive timer (§8.2.2,
    /// Established).
    pub fn update_sent(&mut self, now: Instant) {
        if self.state == State::Established {
            self.restart_keepalive(now);
        }
    }

    fn emit(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    fn start(&mut self, now: Instant, timer: Timer, after: Duration) {
        self.timers[timer as usize] = Some(now + after);
    }

    /// Connect / Active, Events 16–17: the connection is up, send OPEN, wait with a large
    /// hold timer for the peer's.
    fn send_open(&mut self, now: Instant) {
        self.timers[Timer::ConnectRetry as usize] = None;
        self.emit(Action::SendOpen);
        self.start(now, Timer::Hold, self.config.large_hold);
        self.state = State::OpenSent;
    }

    /// OpenSent, Event 19: check what the FSM can check, negotiate, answer with KEEPALIVE.
    fn open_received(&mut self, now: Instant, open: OpenInfo) {
        if open.hold_time == 1 || open.hold_time == 2 {
            return self.fail_with(notif::OPEN_ERROR, notif::UNACCEPTABLE_HOLD_TIME);
        }
        if self.config.peer_as.is_some_and(|a| a != open.peer_as) {
            return self.fail_with(notif::OPEN_ERROR, notif::BAD_PEER_AS);
        }
        if open.bgp_id == 0 || open.bgp_id == self.config.local_id {
            return self.fail_with(notif::OPEN_ERROR, notif::BAD_BGP_IDENTIFIER);
        }
        self.hold_time = negotiate_hold_time(self.config.hold_time, open.hold_time);
        let third = self.hold_time / 3;
        self.keepalive = self.config.keepalive.map_or(third, |k| k.min(third));
        self.peer_open = Some(open);
        self.timers[Timer::ConnectRetry as usize] = None;
        self.emit(Action::SendKeepalive);
        self.restart_keepalive(now);
        self.restart_hold(now);
        self.state = State::OpenConfirm;
    }

    fn send_keepalive(&mut self, now: Instant) {
        self.emit(Action::SendKeepalive);
        self.restart_keepalive(now);
    }

    fn restart_hold(&mut self, now: Instant) {
        self.timers[Timer::Hold as usize] =
            (!self.hold_time.is_zero()).then(|| now + self.hold_time);
    }

    fn restart_keepalive(&mut self, now: Instant) {
        self.timers[Timer::Keepalive as usize] =
            (!self.keepalive.is_zero()).then(|| now + self.keepalive);
    }

    fn hold_expired(&mut self) {
        self.fail_with(notif::HOLD_TIMER_EXPIRED, 0);
    }

    /// ManualStop once an OPEN was sent: Cease, counter reset.
    fn manual_stop(&mut self) {
        self.emit(Action::SendNotification {
            code: notif::CEASE,
            subcode: notif::ADMINISTRATIVE_SHUTDOWN,
        });
        self.emit(Action::Close);
        self.connect_retry_counter = 0;
        self.enter_idle();
    }

    /// An error after OPEN was sent: NOTIFICATION, close, count, Idle.
    fn fail_with(&mut self, code: u8, subcode: u8) {
        self.emit(Action::SendNotification { code, subcode });
        self.fail_silently();
    }

    /// The peer went away (or said why in a NOTIFICATION): close, count, Idle.
    fn fail_silently(&mut self) {
        self.emit(Action::Close);
        self.connect_retry_counter += 1;
        self.enter_idle();
    }

    /// OpenSent / OpenConfirm, Event 24: close without counting a failure.
    fn close_uncounted(&mut self) {
        self.emit(Action::Close);
        self.enter_idle();
    }

    /// Every path to Idle: timers stopped, and routes withdrawn if the session was up.
    fn enter_idle(&mut self) {
        if self.state == State::Established {
            self.emit(Action::SessionDown);
        }
        self.timers = [None; 3];
        self.hold_time = Duration::ZERO;
        self.keepalive = Duration::ZERO;
        self.peer_open = None;
        self.state = State::Idle;
    }
}

/// What [`Fsm::step`] reacts to: an event from the driver or one of its own timers.
#[derive(Debug, Clone, Copy)]
enum Input {
    Event(Event),
    Expired(Timer),
}

/// The smaller of our hold time and the peer's (§4.2); the caller has refused 1 and 2 s.
pub fn negotiate_hold_time(local: Duration, peer_secs: u16) -> Duration {
    local.min(Duration::from_secs(peer_secs.into()))
}

/// Which side initiated the connection that survives a collision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    Local,
    Remote,
}

/// RFC 4271 §6.8: of two connections between the same pair of speakers, keep the one
/// initiated by the speaker with the higher BGP Identifier (compared as unsigned integers);
/// RFC 6286 §2.3 breaks a tie of identifiers by the higher AS number.
pub fn collision_keeps(local: (u32, u32), remote: (u32, u32)) -> Initiator {
    let ((local_id, local_as), (remote_id, remote_as)) = (local, remote);
    if (local_id, local_as) > (remote_id, remote_as) {
        Initiator::Local
    } else {
        Initiator::Remote
    }
}

#[cfg(test)]
#[path = "fsm_tests.rs"]
mod tests;
