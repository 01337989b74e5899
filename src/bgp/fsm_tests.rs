//! One test per implemented transition of RFC 4271 §8.2.2, named `state_event_…`:
//! each drives the FSM to a state, feeds one input, and checks the actions, the new state
//! and the timers.

use super::*;

const LOCAL_ID: u32 = 0x0a00_0001;
const PEER_ID: u32 = 0x0a00_0002;
const PEER_AS: u32 = 65002;

fn t(secs: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(secs)
}

fn open(hold_time: u16) -> Event {
    Event::BgpOpen(OpenInfo {
        hold_time,
        peer_as: PEER_AS,
        bgp_id: PEER_ID,
    })
}

fn drain(fsm: &mut Fsm) -> Vec<Action> {
    std::iter::from_fn(|| fsm.poll_action()).collect()
}

/// An FSM driven to `state` at time 0 (actions drained).
fn fsm_in(state: State) -> Fsm {
    let mut fsm = Fsm::new(Config::new(LOCAL_ID, Some(PEER_AS)));
    let steps: &[Event] = match state {
        State::Idle => &[],
        State::Connect => &[Event::ManualStart { passive: false }],
        State::Active => &[Event::ManualStart { passive: true }],
        State::OpenSent => &[
            Event::ManualStart { passive: false },
            Event::TcpConnectionConfirmed,
        ],
        State::OpenConfirm => &[
            Event::ManualStart { passive: false },
            Event::TcpConnectionConfirmed,
            open(90),
        ],
        State::Established => &[
            Event::ManualStart { passive: false },
            Event::TcpConnectionConfirmed,
            open(90),
            Event::KeepAliveMsg,
        ],
    };
    for ev in steps {
        fsm.handle_event(t(0), *ev);
    }
    assert_eq!(fsm.state(), state);
    drain(&mut fsm);
    fsm
}

fn notification(code: u8, subcode: u8) -> Action {
    Action::SendNotification { code, subcode }
}

fn assert_idle_no_timers(fsm: &Fsm) {
    assert_eq!(fsm.state(), State::Idle);
    assert_eq!(fsm.poll_timeout(), None);
    assert_eq!(fsm.peer_open(), None);
}

// ---- Idle ----

#[test]
fn idle_manual_start_connects() {
    let mut fsm = fsm_in(State::Idle);
    fsm.handle_event(t(0), Event::ManualStart { passive: false });
    assert_eq!(drain(&mut fsm), [Action::Connect]);
    assert_eq!(fsm.state(), State::Connect);
    assert_eq!(fsm.deadline(Timer::ConnectRetry), Some(t(120)));
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn idle_manual_start_passive_listens_in_active() {
    let mut fsm = fsm_in(State::Idle);
    fsm.handle_event(t(0), Event::ManualStart { passive: true });
    assert_eq!(drain(&mut fsm), []);
    assert_eq!(fsm.state(), State::Active);
    assert_eq!(fsm.deadline(Timer::ConnectRetry), Some(t(120)));
}

#[test]
fn idle_other_events_are_ignored() {
    let mut fsm = fsm_in(State::Idle);
    for ev in [
        Event::ManualStop,
        Event::TcpConnectionConfirmed,
        open(90),
        Event::KeepAliveMsg,
    ] {
        fsm.handle_event(t(0), ev);
    }
    assert_eq!(drain(&mut fsm), []);
    assert_idle_no_timers(&fsm);
}

// ---- Connect ----

#[test]
fn connect_manual_stop_closes_to_idle() {
    let mut fsm = fsm_in(State::Connect);
    fsm.handle_event(t(1), Event::ManualStop);
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn connect_connect_retry_expires_reconnects() {
    let mut fsm = fsm_in(State::Connect);
    assert_eq!(fsm.poll_timeout(), Some(t(120)));
    fsm.handle_timeout(t(119));
    assert_eq!(drain(&mut fsm), []);
    fsm.handle_timeout(t(120));
    assert_eq!(drain(&mut fsm), [Action::Close, Action::Connect]);
    assert_eq!(fsm.state(), State::Connect);
    assert_eq!(fsm.deadline(Timer::ConnectRetry), Some(t(240)));
}

#[test]
fn connect_tcp_connection_confirmed_sends_open() {
    let mut fsm = fsm_in(State::Connect);
    fsm.handle_event(t(5), Event::TcpConnectionConfirmed);
    assert_eq!(drain(&mut fsm), [Action::SendOpen]);
    assert_eq!(fsm.state(), State::OpenSent);
    assert_eq!(fsm.deadline(Timer::ConnectRetry), None);
    assert_eq!(fsm.deadline(Timer::Hold), Some(t(245)));
}

#[test]
fn connect_tcp_connection_fails_to_idle() {
    let mut fsm = fsm_in(State::Connect);
    fsm.handle_event(t(5), Event::TcpConnectionFails);
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn connect_other_event_is_fsm_error_to_idle() {
    let mut fsm = fsm_in(State::Connect);
    fsm.handle_event(t(5), Event::KeepAliveMsg);
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

// ---- Active ----

#[test]
fn active_manual_stop_to_idle() {
    let mut fsm = fsm_in(State::Active);
    fsm.handle_event(t(1), Event::ManualStop);
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_idle_no_timers(&fsm);
}

#[test]
fn active_connect_retry_expires_connects() {
    let mut fsm = fsm_in(State::Active);
    fsm.handle_timeout(t(120));
    assert_eq!(drain(&mut fsm), [Action::Connect]);
    assert_eq!(fsm.state(), State::Connect);
    assert_eq!(fsm.deadline(Timer::ConnectRetry), Some(t(240)));
}

#[test]
fn active_tcp_connection_confirmed_sends_open() {
    let mut fsm = fsm_in(State::Active);
    fsm.handle_event(t(3), Event::TcpConnectionConfirmed);
    assert_eq!(drain(&mut fsm), [Action::SendOpen]);
    assert_eq!(fsm.state(), State::OpenSent);
    assert_eq!(fsm.deadline(Timer::Hold), Some(t(243)));
    assert_eq!(fsm.deadline(Timer::ConnectRetry), None);
}

#[test]
fn active_tcp_connection_fails_to_idle_counted() {
    let mut fsm = fsm_in(State::Active);
    fsm.handle_event(t(3), Event::TcpConnectionFails);
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn active_other_event_is_fsm_error_to_idle() {
    let mut fsm = fsm_in(State::Active);
    fsm.handle_event(t(3), open(90));
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

// ---- OpenSent ----

#[test]
fn opensent_manual_stop_sends_cease() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(t(1), Event::ManualStop);
    assert_eq!(
        drain(&mut fsm),
        [
            notification(notif::CEASE, notif::ADMINISTRATIVE_SHUTDOWN),
            Action::Close
        ]
    );
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn opensent_hold_timer_expires_sends_4_0() {
    let mut fsm = fsm_in(State::OpenSent);
    assert_eq!(fsm.poll_timeout(), Some(t(240)));
    fsm.handle_timeout(t(240));
    assert_eq!(drain(&mut fsm), [notification(4, 0), Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn opensent_tcp_connection_fails_to_active() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(t(2), Event::TcpConnectionFails);
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_eq!(fsm.state(), State::Active);
    assert_eq!(fsm.deadline(Timer::ConnectRetry), Some(t(122)));
    assert_eq!(fsm.deadline(Timer::Hold), None);
}

#[test]
fn opensent_bgp_open_sends_keepalive_to_openconfirm() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(t(10), open(30));
    assert_eq!(drain(&mut fsm), [Action::SendKeepalive]);
    assert_eq!(fsm.state(), State::OpenConfirm);
    // min(90, 30) = 30 s, keepalive a third of it.
    assert_eq!(
        fsm.negotiated(),
        (Duration::from_secs(30), Duration::from_secs(10))
    );
    assert_eq!(fsm.deadline(Timer::Hold), Some(t(40)));
    assert_eq!(fsm.deadline(Timer::Keepalive), Some(t(20)));
    assert_eq!(fsm.deadline(Timer::ConnectRetry), None);
    assert_eq!(fsm.peer_open().map(|o| o.bgp_id), Some(PEER_ID));
}

#[test]
fn opensent_bgp_open_hold_time_uses_minimum() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(t(0), open(180));
    assert_eq!(
        fsm.negotiated(),
        (Duration::from_secs(90), Duration::from_secs(30))
    );
}

#[test]
fn opensent_configured_keepalive_is_used_up_to_a_third_of_the_hold_time() {
    let run = |keepalive: u64, peer_hold: u16| {
        let mut c = Config::new(LOCAL_ID, Some(PEER_AS));
        c.keepalive = Some(Duration::from_secs(keepalive));
        let mut fsm = Fsm::new(c);
        fsm.handle_event(t(0), Event::ManualStart { passive: false });
        fsm.handle_event(t(0), Event::TcpConnectionConfirmed);
        drain(&mut fsm);
        fsm.handle_event(t(0), open(peer_hold));
        fsm.negotiated()
    };
    // Shorter than a third of the hold time: as configured.
    assert_eq!(
        run(5, 90),
        (Duration::from_secs(90), Duration::from_secs(5))
    );
    // Longer: capped at the third, or the peer's hold timer would expire.
    assert_eq!(
        run(60, 30),
        (Duration::from_secs(30), Duration::from_secs(10))
    );
}

#[test]
fn opensent_bgp_open_hold_time_zero_runs_no_timers() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(t(0), open(0));
    assert_eq!(drain(&mut fsm), [Action::SendKeepalive]);
    assert_eq!(fsm.state(), State::OpenConfirm);
    assert_eq!(fsm.negotiated(), (Duration::ZERO, Duration::ZERO));
    assert_eq!(fsm.poll_timeout(), None);
    fsm.handle_event(t(1000), Event::KeepAliveMsg);
    assert_eq!(fsm.state(), State::Established);
    assert_eq!(fsm.poll_timeout(), None);
}

#[test]
fn opensent_bgp_open_hold_time_1_or_2_is_refused_2_6() {
    for hold in [1, 2] {
        let mut fsm = fsm_in(State::OpenSent);
        fsm.handle_event(t(0), open(hold));
        assert_eq!(drain(&mut fsm), [notification(2, 6), Action::Close]);
        assert_idle_no_timers(&fsm);
    }
}

#[test]
fn opensent_bgp_open_hold_time_3_is_accepted() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(t(0), open(3));
    assert_eq!(fsm.state(), State::OpenConfirm);
    assert_eq!(
        fsm.negotiated(),
        (Duration::from_secs(3), Duration::from_secs(1))
    );
}

#[test]
fn opensent_bgp_open_bad_peer_as_2_2() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(
        t(0),
        Event::BgpOpen(OpenInfo {
            hold_time: 90,
            peer_as: 65099,
            bgp_id: PEER_ID,
        }),
    );
    assert_eq!(drain(&mut fsm), [notification(2, 2), Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn opensent_bgp_open_bad_bgp_identifier_2_3() {
    for bgp_id in [0, LOCAL_ID] {
        let mut fsm = fsm_in(State::OpenSent);
        fsm.handle_event(
            t(0),
            Event::BgpOpen(OpenInfo {
                hold_time: 90,
                peer_as: PEER_AS,
                bgp_id,
            }),
        );
        assert_eq!(drain(&mut fsm), [notification(2, 3), Action::Close]);
        assert_idle_no_timers(&fsm);
    }
}

#[test]
fn opensent_bgp_open_msg_err_sends_notification() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(
        t(0),
        Event::BgpMessageErr {
            code: 2,
            subcode: 4,
        },
    );
    assert_eq!(drain(&mut fsm), [notification(2, 4), Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn opensent_open_collision_dump_sends_cease() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(t(0), Event::OpenCollisionDump);
    assert_eq!(
        drain(&mut fsm),
        [
            notification(notif::CEASE, notif::CONNECTION_COLLISION_RESOLUTION),
            Action::Close
        ]
    );
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn opensent_notif_msg_closes_silently() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(t(0), Event::NotifMsg);
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_idle_no_timers(&fsm);
}

#[test]
fn opensent_notif_msg_ver_err_closes_uncounted() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(t(0), Event::NotifMsgVerErr);
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn opensent_other_event_is_fsm_error_5_1() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle_event(t(0), Event::KeepAliveMsg);
    assert_eq!(drain(&mut fsm), [notification(5, 1), Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

// ---- OpenConfirm ----

#[test]
fn openconfirm_manual_stop_sends_cease() {
    let mut fsm = fsm_in(State::OpenConfirm);
    fsm.handle_event(t(1), Event::ManualStop);
    assert_eq!(
        drain(&mut fsm),
        [
            notification(notif::CEASE, notif::ADMINISTRATIVE_SHUTDOWN),
            Action::Close
        ]
    );
    assert_idle_no_timers(&fsm);
}

#[test]
fn openconfirm_hold_timer_expires_sends_4_0() {
    let mut fsm = fsm_in(State::OpenConfirm);
    // Keepalives at 30 and 60 s keep our side talking, but the peer says nothing.
    for secs in [30, 60, 90] {
        fsm.handle_timeout(t(secs));
    }
    assert_eq!(
        drain(&mut fsm),
        [
            Action::SendKeepalive,
            Action::SendKeepalive,
            notification(4, 0),
            Action::Close
        ]
    );
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn openconfirm_keepalive_timer_expires_sends_keepalive() {
    let mut fsm = fsm_in(State::OpenConfirm);
    assert_eq!(fsm.poll_timeout(), Some(t(30)));
    fsm.handle_timeout(t(30));
    assert_eq!(drain(&mut fsm), [Action::SendKeepalive]);
    assert_eq!(fsm.state(), State::OpenConfirm);
    assert_eq!(fsm.deadline(Timer::Keepalive), Some(t(60)));
    assert_eq!(fsm.deadline(Timer::Hold), Some(t(90)));
}

#[test]
fn openconfirm_tcp_connection_fails_to_idle() {
    let mut fsm = fsm_in(State::OpenConfirm);
    fsm.handle_event(t(1), Event::TcpConnectionFails);
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn openconfirm_notif_msg_to_idle() {
    let mut fsm = fsm_in(State::OpenConfirm);
    fsm.handle_event(t(1), Event::NotifMsg);
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn openconfirm_notif_msg_ver_err_closes_uncounted() {
    let mut fsm = fsm_in(State::OpenConfirm);
    fsm.handle_event(t(1), Event::NotifMsgVerErr);
    assert_eq!(drain(&mut fsm), [Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn openconfirm_open_collision_dump_sends_cease() {
    let mut fsm = fsm_in(State::OpenConfirm);
    fsm.handle_event(t(1), Event::OpenCollisionDump);
    assert_eq!(
        drain(&mut fsm),
        [
            notification(notif::CEASE, notif::CONNECTION_COLLISION_RESOLUTION),
            Action::Close
        ]
    );
    assert_idle_no_timers(&fsm);
}

#[test]
fn openconfirm_keepalive_msg_session_up() {
    let mut fsm = fsm_in(State::OpenConfirm);
    fsm.handle_event(t(7), Event::KeepAliveMsg);
    assert_eq!(
        drain(&mut fsm),
        [Action::SessionUp {
            hold_time: Duration::from_secs(90),
            keepalive: Duration::from_secs(30),
        }]
    );
    assert_eq!(fsm.state(), State::Established);
    assert_eq!(fsm.deadline(Timer::Hold), Some(t(97)));
}

#[test]
fn openconfirm_other_event_is_fsm_error_5_2() {
    let mut fsm = fsm_in(State::OpenConfirm);
    fsm.handle_event(t(1), Event::UpdateMsg);
    assert_eq!(drain(&mut fsm), [notification(5, 2), Action::Close]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

// ---- Established ----

#[test]
fn established_manual_stop_sends_cease_and_session_down() {
    let mut fsm = fsm_in(State::Established);
    fsm.handle_event(t(1), Event::ManualStop);
    assert_eq!(
        drain(&mut fsm),
        [
            notification(notif::CEASE, notif::ADMINISTRATIVE_SHUTDOWN),
            Action::Close,
            Action::SessionDown
        ]
    );
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn established_hold_timer_expires_sends_4_0() {
    let mut fsm = fsm_in(State::Established);
    fsm.handle_event(t(50), Event::KeepAliveMsg);
    assert_eq!(fsm.deadline(Timer::Hold), Some(t(140)));
    // A late driver: the keepalive due at 30 s fires once, at 139 s, rearmed from then.
    fsm.handle_timeout(t(139));
    assert_eq!(drain(&mut fsm), [Action::SendKeepalive]);
    assert_eq!(fsm.deadline(Timer::Keepalive), Some(t(169)));
    assert_eq!(fsm.state(), State::Established);
    fsm.handle_timeout(t(140));
    assert_eq!(
        drain(&mut fsm),
        [notification(4, 0), Action::Close, Action::SessionDown]
    );
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn established_keepalive_timer_expires_sends_keepalive() {
    let mut fsm = fsm_in(State::Established);
    fsm.handle_timeout(t(30));
    assert_eq!(drain(&mut fsm), [Action::SendKeepalive]);
    assert_eq!(fsm.deadline(Timer::Keepalive), Some(t(60)));
}

#[test]
fn established_update_sent_restarts_keepalive_timer() {
    let mut fsm = fsm_in(State::Established);
    fsm.update_sent(t(20));
    assert_eq!(fsm.deadline(Timer::Keepalive), Some(t(50)));
    fsm.handle_timeout(t(30));
    assert_eq!(drain(&mut fsm), []);
}

#[test]
fn established_keepalive_msg_restarts_hold_timer() {
    let mut fsm = fsm_in(State::Established);
    fsm.handle_event(t(20), Event::KeepAliveMsg);
    assert_eq!(drain(&mut fsm), []);
    assert_eq!(fsm.deadline(Timer::Hold), Some(t(110)));
}

#[test]
fn established_update_msg_restarts_hold_timer() {
    let mut fsm = fsm_in(State::Established);
    fsm.handle_event(t(25), Event::UpdateMsg);
    assert_eq!(drain(&mut fsm), []);
    assert_eq!(fsm.state(), State::Established);
    assert_eq!(fsm.deadline(Timer::Hold), Some(t(115)));
}

#[test]
fn established_update_msg_err_sends_3_x() {
    let mut fsm = fsm_in(State::Established);
    fsm.handle_event(t(1), Event::UpdateMsgErr { subcode: 1 });
    assert_eq!(
        drain(&mut fsm),
        [notification(3, 1), Action::Close, Action::SessionDown]
    );
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn established_notif_msg_session_down() {
    let mut fsm = fsm_in(State::Established);
    fsm.handle_event(t(1), Event::NotifMsg);
    assert_eq!(drain(&mut fsm), [Action::Close, Action::SessionDown]);
    assert_idle_no_timers(&fsm);
}

#[test]
fn established_notif_msg_ver_err_session_down_counted() {
    let mut fsm = fsm_in(State::Established);
    fsm.handle_event(t(1), Event::NotifMsgVerErr);
    assert_eq!(drain(&mut fsm), [Action::Close, Action::SessionDown]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn established_tcp_connection_fails_session_down() {
    let mut fsm = fsm_in(State::Established);
    fsm.handle_event(t(1), Event::TcpConnectionFails);
    assert_eq!(drain(&mut fsm), [Action::Close, Action::SessionDown]);
    assert_idle_no_timers(&fsm);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn established_open_collision_dump_sends_cease() {
    let mut fsm = fsm_in(State::Established);
    fsm.handle_event(t(1), Event::OpenCollisionDump);
    assert_eq!(
        drain(&mut fsm),
        [
            notification(notif::CEASE, notif::CONNECTION_COLLISION_RESOLUTION),
            Action::Close,
            Action::SessionDown
        ]
    );
}

#[test]
fn established_other_event_is_fsm_error_5_3() {
    let mut fsm = fsm_in(State::Established);
    fsm.handle_event(t(1), open(90));
    assert_eq!(
        drain(&mut fsm),
        [notification(5, 3), Action::Close, Action::SessionDown]
    );
    assert_idle_no_timers(&fsm);
}

#[test]
fn zero_connect_retry_time_does_not_spin() {
    let mut config = Config::new(LOCAL_ID, Some(PEER_AS));
    config.connect_retry = Duration::ZERO;
    let mut fsm = Fsm::new(config);
    fsm.handle_event(t(0), Event::ManualStart { passive: false });
    fsm.handle_timeout(t(0));
    assert_eq!(
        drain(&mut fsm),
        [Action::Connect, Action::Close, Action::Connect]
    );
}

// ---- Collision detection (§6.8) ----

#[test]
fn collision_keeps_connection_of_higher_identifier() {
    assert_eq!(collision_keeps((2, 65001), (1, 65002)), Initiator::Local);
    assert_eq!(collision_keeps((1, 65001), (2, 65002)), Initiator::Remote);
    // Unsigned comparison: 0x80000000 (128.0.0.0) beats 0x7fffffff.
    assert_eq!(
        collision_keeps((0x8000_0000, 1), (0x7fff_ffff, 1)),
        Initiator::Local
    );
}

#[test]
fn collision_equal_identifiers_keep_higher_as() {
    assert_eq!(collision_keeps((7, 65002), (7, 65001)), Initiator::Local);
    assert_eq!(collision_keeps((7, 65001), (7, 65002)), Initiator::Remote);
}

// ---- Whole sessions ----

/// Runs the driver loop: fires timers up to `until`, returning every action with its time.
fn run_until(fsm: &mut Fsm, until: Instant) -> Vec<(u64, Action)> {
    let mut out = Vec::new();
    while let Some(deadline) = fsm.poll_timeout().filter(|d| *d <= until) {
        fsm.handle_timeout(deadline);
        let secs = deadline.as_nanos() / 1_000_000_000;
        out.extend(drain(fsm).into_iter().map(|a| (secs, a)));
    }
    out
}

#[test]
fn passive_session_comes_up_keeps_alive_and_expires() {
    let mut fsm = fsm_in(State::Idle);
    fsm.handle_event(t(0), Event::ManualStart { passive: true });
    fsm.handle_event(t(1), Event::TcpConnectionConfirmed);
    fsm.handle_event(t(1), open(9));
    fsm.handle_event(t(2), Event::KeepAliveMsg);
    assert_eq!(
        drain(&mut fsm),
        [
            Action::SendOpen,
            Action::SendKeepalive,
            Action::SessionUp {
                hold_time: Duration::from_secs(9),
                keepalive: Duration::from_secs(3),
            }
        ]
    );
    // Keepalives every 3 s from the OPEN at 1 s; the peer goes quiet after 2 s: hold at 11 s.
    assert_eq!(
        run_until(&mut fsm, t(60)),
        [
            (4, Action::SendKeepalive),
            (7, Action::SendKeepalive),
            (10, Action::SendKeepalive),
            (11, notification(4, 0)),
            (11, Action::Close),
            (11, Action::SessionDown),
        ]
    );
    assert_idle_no_timers(&fsm);
}

/// A small seeded generator (no dependency) for the invariant test below.
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn random_inputs_keep_timer_invariants() {
    let events = [
        Event::ManualStart { passive: false },
        Event::ManualStart { passive: true },
        Event::ManualStop,
        Event::TcpConnectionConfirmed,
        Event::TcpConnectionFails,
        open(0),
        open(2),
        open(30),
        Event::BgpMessageErr {
            code: 1,
            subcode: 2,
        },
        Event::OpenCollisionDump,
        Event::NotifMsgVerErr,
        Event::NotifMsg,
        Event::KeepAliveMsg,
        Event::UpdateMsg,
        Event::UpdateMsgErr { subcode: 3 },
    ];
    for run in 0..200u64 {
        let mut seed = run;
        let mut fsm = fsm_in(State::Idle);
        let mut now = t(0);
        let mut up = false;
        for _ in 0..100 {
            now += Duration::from_millis(lcg(&mut seed) % 20_000);
            let fired = lcg(&mut seed).is_multiple_of(3);
            if fired {
                fsm.handle_timeout(now);
            } else {
                let ev = events[(lcg(&mut seed) as usize) % events.len()];
                fsm.handle_event(now, ev);
            }
            for action in drain(&mut fsm) {
                match action {
                    Action::SessionUp { .. } => {
                        assert!(!up, "run {run}: up twice");
                        up = true;
                    }
                    Action::SessionDown => {
                        assert!(up, "run {run}: down while down");
                        up = false;
                    }
                    _ => {}
                }
            }
            let state = fsm.state();
            assert_eq!(up, state == State::Established, "run {run}");
            let running = |timer| fsm.deadline(timer).is_some();
            match state {
                State::Idle => assert_eq!(fsm.poll_timeout(), None, "run {run}"),
                State::Connect | State::Active => {
                    assert!(running(Timer::ConnectRetry), "run {run}");
                    assert!(!running(Timer::Hold) && !running(Timer::Keepalive));
                }
                State::OpenSent => {
                    assert!(running(Timer::Hold) && !running(Timer::ConnectRetry));
                }
                State::OpenConfirm | State::Established => {
                    assert!(!running(Timer::ConnectRetry), "run {run}");
                    assert_eq!(running(Timer::Hold), !fsm.negotiated().0.is_zero());
                }
            }
            if fired {
                assert!(
                    fsm.poll_timeout().is_none_or(|d| d > now),
                    "run {run}: overdue"
                );
            }
        }
    }
}
